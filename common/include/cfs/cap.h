/* Capabilities: the MDS's word that a token holder may read (or write)
 * one file's chunks for a while (proto/osd.proto, Capability). The MAC is
 * HMAC-SHA-256 (libsodium crypto_auth_hmacsha256) under the cluster's
 * capability key, made by the MDS and handed to OSDs when they register
 * over their secured connection; a client never sees the key. */
#ifndef CFS_CAP_H
#define CFS_CAP_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>

#include "osd.pb-c.h"

#define CFS_CAP_KEY 32		/* bytes */
#define CFS_CAP_MAC 32
#define CFS_CAP_TTL 600		/* seconds a capability lasts */
#define CFS_CAP_RENEW 120	/* a client renews one this close to its end */

/* Whether an open with these flags may change the file: the MDS counts
 * it as a writer and grants it a capability to write (and the client
 * counts its opens the same way, to tell a new MDS). */
static inline bool cfs_open_writes(uint32_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* Fill cap (its mac pointing at mac[]) for ino, write, the holder's token
 * id, expiring at expires (unix seconds). */
void cfs_cap_sign(const uint8_t key[CFS_CAP_KEY], uint64_t ino, bool write,
		  const char *token, int64_t expires, Cfs__Capability *cap,
		  uint8_t mac[CFS_CAP_MAC]);

/* Whether cap lets token holder `token` do a read (or write) of ino at
 * time now: 0, -EKEYEXPIRED for one that expired (the client renews it),
 * or -EACCES (none, forged, another file's, another token's, read-only
 * for a write), with the reason in why. */
int cfs_cap_check(const uint8_t key[CFS_CAP_KEY], const Cfs__Capability *cap,
		  uint64_t ino, bool write, const char *token, int64_t now,
		  const char **why);

#endif
