/* Capabilities: signing and checking. See include/cfs/cap.h. */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "cfs/cap.h"

/* The bytes the MAC covers: a label, then each field at a fixed place. */
static void cap_mac(const uint8_t key[CFS_CAP_KEY], uint64_t ino, bool write,
		    const char *token, int64_t expires,
		    uint8_t mac[CFS_CAP_MAC])
{
	uint8_t m[8 + 8 + 1 + 8 + 32] = "cfscap1";
	size_t tlen = strnlen(token, 32);

	for (int i = 0; i < 8; i++) {
		m[8 + i] = (uint8_t)(ino >> (8 * i));
		m[17 + i] = (uint8_t)((uint64_t)expires >> (8 * i));
	}
	m[16] = write;
	memcpy(m + 25, token, tlen);
	crypto_auth_hmacsha256(mac, m, sizeof(m), key);
}

void cfs_cap_sign(const uint8_t key[CFS_CAP_KEY], uint64_t ino, bool write,
		  const char *token, int64_t expires, Cfs__Capability *cap,
		  uint8_t mac[CFS_CAP_MAC])
{
	cfs__capability__init(cap);
	cap->ino = ino;
	cap->write = write;
	cap->expires = expires;
	cap->token = (char *)token;
	cap_mac(key, ino, write, token, expires, mac);
	cap->mac.data = mac;
	cap->mac.len = CFS_CAP_MAC;
}

int cfs_cap_check(const uint8_t key[CFS_CAP_KEY], const Cfs__Capability *cap,
		  uint64_t ino, bool write, const char *token, int64_t now,
		  const char **why)
{
	uint8_t mac[CFS_CAP_MAC];

	if (!cap) {
		*why = "no capability";
		return -EACCES;
	}
	if (cap->mac.len != CFS_CAP_MAC || !cap->token ||
	    strlen(cap->token) > 32) {
		*why = "a malformed capability";
		return -EACCES;
	}
	cap_mac(key, cap->ino, cap->write, cap->token, cap->expires, mac);
	if (sodium_memcmp(mac, cap->mac.data, CFS_CAP_MAC)) {
		*why = "a capability the MDS did not sign";
		return -EACCES;
	}
	if (cap->ino != ino) {
		*why = "a capability for another file";
		return -EACCES;
	}
	if (strcmp(cap->token, token)) {
		*why = "another token's capability";
		return -EACCES;
	}
	if (write && !cap->write) {
		*why = "a read capability for a change";
		return -EACCES;
	}
	if (cap->expires <= now) {
		*why = "an expired capability";
		return -EKEYEXPIRED;
	}
	return 0;
}
