/* Reading an EC chunk's shards and rebuilding the ones that fail: shared
 * by the client's reads and the primary OSD's read-modify-write and
 * rebuilds, which differ only in how they fetch a shard range.
 *
 * Every change to an EC chunk gives all its shards the same new version
 * (a shard the change leaves alone gets the version alone), so shards
 * agree exactly when their versions do, and a rebuild only ever combines
 * shards of one version. */
#ifndef CFS_STRIPE_H
#define CFS_STRIPE_H

#include <stdint.h>

#include "cfs/ec.h"
#include "osd.pb-c.h"

/* Fetch bytes [offs[i], offs[i]+lens[i]) of shard shards[i] into bufs[i]
 * (zeros past what the shard holds), for i < n, side by side: rcs[i] 0
 * or an error, versions[i] the shard's version (0: no such shard),
 * sizes[i] how many bytes it holds. */
typedef void (*cfs_shard_reader)(void *ctx, int n, const int *shards,
				 const uint64_t *offs, const uint64_t *lens,
				 uint8_t *const *bufs, int *rcs,
				 uint64_t *versions, uint64_t *sizes);

struct cfs_stripe_read {
	const struct cfs_ec *ec;
	cfs_shard_reader read;
	void *ctx;
	uint32_t avail;		/* bit i: shard i may be asked */
	uint64_t version;	/* out: the version the bytes are of */
	uint64_t size;		/* out: the longest shard of that version */
};

/* Read [offs[i], offs[i]+lens[i]) of shard want[i] (data or parity)
 * into out[i], for i < nwant: straight from those shards when they all
 * answer at one version (not 0: a shard that is not there), else rebuilt
 * from K shards agreeing on the newest version any K agree on (zeros when
 * no shard is there: a hole). 0; -EAGAIN when no K agree (a change
 * under way: read again); -EIO when fewer than K answer. */
int cfs_stripe_read(struct cfs_stripe_read *r, const int *want, int nwant,
		    const uint64_t *offs, const uint64_t *lens,
		    uint8_t *const *out);

/* The RPC side of a cfs_shard_reader: OSD_READs of shard chunks of
 * chunk (ino, index), coded K+M, side by side; shard i's OSD at
 * addrs[i]. */
struct cfs_rpc_client;
struct cfs_shard_rpc {
	struct cfs_rpc_client *rpc;
	const char *addrs[CFS_EC_MAX_K + CFS_EC_MAX_M];
	uint64_t ino, index, map_epoch;
	uint32_t k, m;
	Cfs__Capability *cap;		/* a client's, for the file */
	int timeout_ms;
};
void cfs_shard_rpc_read(const struct cfs_shard_rpc *s, int n,
			const int *shards, const uint64_t *offs,
			const uint64_t *lens, uint8_t *const *bufs, int *rcs,
			uint64_t *versions, uint64_t *sizes);

/* Check an OSD_READ reply (rep NULL: no such chunk, all zeros) and copy
 * [off, off+len) of the chunk it is of into buf: 0 or -EBADMSG. */
int cfs_read_reply_take(const Cfs__OsdReadReply *rep, const uint8_t *bulk,
			size_t bulk_len, uint64_t off, uint64_t len,
			uint8_t *buf);

#endif
