/* A connection's handshake and its sealed frames (DESIGN section 9).
 *
 * Both ends hold a join token (cfs/token.h). The handshake is three
 * messages, with an ephemeral X25519 key on each side:
 *
 *   client -> server  HELLO    "CFS1", version, flags, e_c, credential
 *   server -> client  WELCOME  "CFS1", version, flags, e_s, credential
 *   client -> server  FINISHED a sealed frame (the first, counter 0)
 *                              over the hash of HELLO and WELCOME
 *
 * Each end checks the other's credential (signature, cluster, expiry:
 * cfs_token_accepts; revocation and role are the caller's), then both
 * compute three Diffie-Hellman results, ee = DH(e_c, e_s), se = DH(s_c,
 * e_s), es = DH(e_c, s_s), where s_ are the tokens' own X25519 keys, and
 * hash them with the transcript into one key per direction. Only the
 * holder of the client token's key can compute se, only the server
 * token's can compute es; e_s is new on every connection, so a HELLO and
 * FINISHED captured from another connection do not verify, and nothing
 * recorded decrypts later from the tokens' keys alone.
 *
 * After it, every frame is sealed: AES-256-GCM where the CPU has AES-NI
 * on both ends, XChaCha20-Poly1305 otherwise, encrypted, or with
 * encryption off only authenticated (the frame as associated data). The
 * nonce is a per-direction counter never sent: a frame dropped, replayed
 * or reordered fails to open. A frame's bulk is sealed apart under a key
 * the frame carries (cfs_secure_seal_bulk). */
#ifndef CFS_SECURE_H
#define CFS_SECURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfs/token.h"

#define CFS_SECURE_TAG 16			/* bytes a sealed frame adds */
#define CFS_SECURE_MSG_MAX (40 + CFS_TOKEN_MAX)	/* HELLO, WELCOME */
#define CFS_SECURE_FINISHED (32 + CFS_SECURE_TAG)

/* One end of a secured connection. */
struct cfs_secure {
	uint8_t tx[32], rx[32];
	uint64_t txn, rxn;	/* frames sealed and opened so far */
	bool encrypt, aes;
};

/* A handshake under way. */
struct cfs_secure_hs {
	uint8_t e_sk[32], e_pk[32];
	uint8_t hello[CFS_SECURE_MSG_MAX];	/* client: HELLO as sent */
	size_t hello_len;
	uint8_t th[32];		/* server: the transcript FINISHED proves */
};

/* Client, first: HELLO into out (CFS_SECURE_MSG_MAX), its length in
 * *len; cred is this end's credential (cfs_token_credential). */
int cfs_secure_hello(struct cfs_secure_hs *hs, const char *cred,
		     bool encrypt, uint8_t *out, size_t *len);

/* Server: check HELLO, answer WELCOME (out, *len), set up s. peer gets
 * the client's token; mine is this end's parsed token (with its key),
 * cred its credential. encrypt: the cluster's choice, which the server
 * makes for both. 0, or -EPROTO (malformed) or -EACCES (refused), with
 * the reason in why. */
int cfs_secure_welcome(struct cfs_secure_hs *hs, const struct cfs_token *mine,
		       const char *cred, bool encrypt, const uint8_t *hello,
		       size_t hello_len, struct cfs_token *peer, uint8_t *out,
		       size_t *len, struct cfs_secure *s, char *why,
		       size_t whylen);

/* Client, second: check WELCOME, set up s, and write FINISHED
 * (CFS_SECURE_FINISHED bytes) to finished. Errors as for welcome. */
int cfs_secure_client_keys(struct cfs_secure_hs *hs,
			   const struct cfs_token *mine,
			   const uint8_t *welcome, size_t welcome_len,
			   struct cfs_token *peer, struct cfs_secure *s,
			   uint8_t *finished, char *why, size_t whylen);

/* Server, last: 0 if FINISHED proves the client holds its key and saw
 * this WELCOME; -EACCES otherwise. */
int cfs_secure_finish(struct cfs_secure_hs *hs, struct cfs_secure *s,
		      const uint8_t *finished, size_t len);

/* Seal buf[0..len) in place (encrypted unless s->encrypt is off, in
 * which case only its last `secret` bytes are) and write its tag; open
 * checks the tag and decrypts in place: 0, or -EBADMSG for a frame
 * changed, replayed, reordered or cut. */
void cfs_secure_seal(struct cfs_secure *s, uint8_t *buf, size_t len,
		     size_t secret, uint8_t tag[CFS_SECURE_TAG]);
int cfs_secure_open(struct cfs_secure *s, uint8_t *buf, size_t len,
		    size_t secret, const uint8_t tag[CFS_SECURE_TAG]);

/* A frame's bulk (file data) is sealed apart, once, under a key of its
 * own (random, CFS_SECURE_KEY bytes, sent as the secret of the sealed
 * frame it follows, so its nonce is always 0), so that a daemon passing
 * it on to another sends it as it came instead of opening and sealing
 * it again. Encrypted: len bytes from src into dst; authenticated only:
 * src goes on the wire as it is (dst unused) and only the tag is
 * written. open_bulk checks the tag and, encrypted, decrypts src into
 * dst: 0 or -EBADMSG. */
#define CFS_SECURE_KEY 32
void cfs_secure_seal_bulk(const struct cfs_secure *s,
			  const uint8_t key[CFS_SECURE_KEY], const void *src,
			  size_t len, uint8_t *dst,
			  uint8_t tag[CFS_SECURE_TAG]);
int cfs_secure_open_bulk(const struct cfs_secure *s,
			 const uint8_t key[CFS_SECURE_KEY], const uint8_t *src,
			 size_t len, uint8_t *dst,
			 const uint8_t tag[CFS_SECURE_TAG]);

/* Forget the keys. */
void cfs_secure_wipe(struct cfs_secure *s);

#endif
