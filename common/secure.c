/* A connection's handshake and its sealed frames; see
 * include/cfs/secure.h for the protocol.
 *
 * HELLO and WELCOME: "CFS1" | version (1) | flags (1) | ephemeral X25519
 * public key (32) | credential length (2, little-endian) | credential.
 * Flags: bit 0 encrypt (the server's word is final), bit 1 this end can
 * do AES-256-GCM (both must, for it to be used). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cfs/secure.h"

#define VERSION 1
#define HEAD 40		/* magic, version, flags, key, length */
#define F_ENCRYPT 1
#define F_AES 2

static void say(char *why, size_t len, const char *msg)
{
	if (why && len)
		snprintf(why, len, "%s", msg);
}

static bool can_aes(void)
{
	return crypto_aead_aes256gcm_is_available();
}

static int put_msg(const uint8_t *e_pk, const char *cred, uint8_t flags,
		   uint8_t *out, size_t *len)
{
	size_t clen = strlen(cred);

	if (HEAD + clen > CFS_SECURE_MSG_MAX)
		return -EINVAL;
	memcpy(out, "CFS1", 4);
	out[4] = VERSION;
	out[5] = flags;
	memcpy(out + 6, e_pk, 32);
	out[38] = (uint8_t)(clen & 0xff);
	out[39] = (uint8_t)(clen >> 8);
	memcpy(out + HEAD, cred, clen);
	*len = HEAD + clen;
	return 0;
}

/* Parse a HELLO or WELCOME: its flags and ephemeral key, and the peer's
 * credential checked against mine. */
static int get_msg(const struct cfs_token *mine, const uint8_t *m, size_t len,
		   uint8_t *flags, uint8_t *e_pk, struct cfs_token *peer,
		   char *why, size_t whylen)
{
	char cred[CFS_TOKEN_MAX];
	size_t clen;

	if (len < HEAD || memcmp(m, "CFS1", 4)) {
		say(why, whylen, "not a ClaudeFS handshake");
		return -EPROTO;
	}
	if (m[4] != VERSION) {
		say(why, whylen, "a handshake of another version");
		return -EPROTO;
	}
	clen = (size_t)m[38] | (size_t)m[39] << 8;
	if (HEAD + clen != len || clen >= sizeof(cred)) {
		say(why, whylen, "a handshake of the wrong length");
		return -EPROTO;
	}
	*flags = m[5];
	memcpy(e_pk, m + 6, 32);
	memcpy(cred, m + HEAD, clen);
	cred[clen] = '\0';
	if (cfs_token_parse(cred, peer, why, whylen))
		return -EACCES;
	if (peer->has_sk) {
		say(why, whylen, "a credential carrying its secret key");
		return -EPROTO;
	}
	return cfs_token_accepts(mine, peer, time(NULL), why, whylen);
}

/* The two keys from the three DH results and the transcript: client to
 * server first. -EACCES if a public key is a low-order point. */
static int derive(const uint8_t *ee_sk, const uint8_t *ee_pk,
		  const uint8_t *se_sk, const uint8_t *se_pk,
		  const uint8_t *es_sk, const uint8_t *es_pk,
		  const uint8_t *th, uint8_t c2s[32], uint8_t s2c[32])
{
	uint8_t dh[3][32], out[64];
	crypto_generichash_state st;
	int rc = 0;

	if (crypto_scalarmult(dh[0], ee_sk, ee_pk) ||
	    crypto_scalarmult(dh[1], se_sk, se_pk) ||
	    crypto_scalarmult(dh[2], es_sk, es_pk)) {
		rc = -EACCES;
		goto out;
	}
	crypto_generichash_init(&st, NULL, 0, sizeof(out));
	crypto_generichash_update(&st, (const uint8_t *)"cfs-session-1", 13);
	crypto_generichash_update(&st, (const uint8_t *)dh, sizeof(dh));
	crypto_generichash_update(&st, th, 32);
	crypto_generichash_final(&st, out, sizeof(out));
	memcpy(c2s, out, 32);
	memcpy(s2c, out + 32, 32);
out:
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(out, sizeof(out));
	return rc;
}

static void transcript(const uint8_t *hello, size_t hlen,
		       const uint8_t *welcome, size_t wlen, uint8_t th[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, hello, hlen);
	crypto_generichash_update(&st, welcome, wlen);
	crypto_generichash_final(&st, th, 32);
}

int cfs_secure_hello(struct cfs_secure_hs *hs, const char *cred,
		     bool encrypt, uint8_t *out, size_t *len)
{
	int rc;

	if (sodium_init() < 0)
		return -EIO;
	crypto_box_keypair(hs->e_pk, hs->e_sk);
	rc = put_msg(hs->e_pk, cred,
		     (uint8_t)((encrypt ? F_ENCRYPT : 0) |
			       (can_aes() ? F_AES : 0)),
		     out, len);
	if (rc)
		return rc;
	memcpy(hs->hello, out, *len);
	hs->hello_len = *len;
	return 0;
}

int cfs_secure_welcome(struct cfs_secure_hs *hs, const struct cfs_token *mine,
		       const char *cred, bool encrypt, const uint8_t *hello,
		       size_t hello_len, struct cfs_token *peer, uint8_t *out,
		       size_t *len, struct cfs_secure *s, char *why,
		       size_t whylen)
{
	uint8_t flags, e_c[32];
	int rc;

	if (sodium_init() < 0)
		return -EIO;
	memset(s, 0, sizeof(*s));
	if (!mine->has_sk) {
		say(why, whylen, "this end's token has no key");
		return -EINVAL;
	}
	rc = get_msg(mine, hello, hello_len, &flags, e_c, peer, why, whylen);
	if (rc)
		return rc;
	s->encrypt = encrypt;
	s->aes = (flags & F_AES) && can_aes();
	crypto_box_keypair(hs->e_pk, hs->e_sk);
	rc = put_msg(hs->e_pk, cred,
		     (uint8_t)((encrypt ? F_ENCRYPT : 0) |
			       (s->aes ? F_AES : 0)),
		     out, len);
	if (rc) {
		say(why, whylen, "this end's credential is too long");
		return rc;
	}
	transcript(hello, hello_len, out, *len, hs->th);
	/* server: ee = e_s.e_c, se = e_s.s_c, es = s_s.e_c */
	rc = derive(hs->e_sk, e_c, hs->e_sk, peer->kx_pk, mine->kx_sk, e_c,
		    hs->th, s->rx, s->tx);
	sodium_memzero(hs->e_sk, sizeof(hs->e_sk));
	if (rc)
		say(why, whylen, "a key that is a low-order point");
	return rc;
}

int cfs_secure_client_keys(struct cfs_secure_hs *hs,
			   const struct cfs_token *mine,
			   const uint8_t *welcome, size_t welcome_len,
			   struct cfs_token *peer, struct cfs_secure *s,
			   uint8_t *finished, char *why, size_t whylen)
{
	uint8_t flags, e_s[32], th[32];
	int rc;

	memset(s, 0, sizeof(*s));
	if (!mine->has_sk) {
		say(why, whylen, "this end's token has no key");
		return -EINVAL;
	}
	rc = get_msg(mine, welcome, welcome_len, &flags, e_s, peer, why,
		     whylen);
	if (rc)
		return rc;
	if ((flags & F_AES) && !can_aes()) {
		say(why, whylen, "the server chose AES-256-GCM, which this "
				 "CPU cannot do");
		return -EPROTO;
	}
	s->encrypt = flags & F_ENCRYPT;
	s->aes = flags & F_AES;
	transcript(hs->hello, hs->hello_len, welcome, welcome_len, th);
	/* client: ee = e_c.e_s, se = s_c.e_s, es = e_c.s_s */
	rc = derive(hs->e_sk, e_s, mine->kx_sk, e_s, hs->e_sk, peer->kx_pk,
		    th, s->tx, s->rx);
	sodium_memzero(hs->e_sk, sizeof(hs->e_sk));
	if (rc) {
		say(why, whylen, "a key that is a low-order point");
		return rc;
	}
	memcpy(finished, th, 32);
	cfs_secure_seal(s, finished, 32, 0, finished + 32);
	return 0;
}

int cfs_secure_finish(struct cfs_secure_hs *hs, struct cfs_secure *s,
		      const uint8_t *finished, size_t len)
{
	uint8_t m[32];

	if (len != CFS_SECURE_FINISHED)
		return -EACCES;
	memcpy(m, finished, 32);
	if (cfs_secure_open(s, m, 32, 0, finished + 32) ||
	    sodium_memcmp(m, hs->th, 32))
		return -EACCES;
	return 0;
}

/* The nonce of frame n: n little-endian, then zeros. */
static void nonce_of(uint64_t n, uint8_t *nonce, size_t len)
{
	memset(nonce, 0, len);
	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(n >> (8 * i));
}

/* The AEAD of a connection: m (mlen bytes) encrypted into c, it and ad
 * authenticated by tag; open is the reverse, 0 or -EBADMSG. */
static void aead_seal(bool aes, const uint8_t *key, const uint8_t *nonce,
		      const uint8_t *m, size_t mlen, uint8_t *c,
		      const uint8_t *ad, size_t adlen, uint8_t *tag)
{
	if (aes)
		crypto_aead_aes256gcm_encrypt_detached(c, tag, NULL, m, mlen,
						       ad, adlen, NULL, nonce,
						       key);
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
			c, tag, NULL, m, mlen, ad, adlen, NULL, nonce, key);
}

static int aead_open(bool aes, const uint8_t *key, const uint8_t *nonce,
		     const uint8_t *c, size_t clen, uint8_t *m,
		     const uint8_t *ad, size_t adlen, const uint8_t *tag)
{
	int rc;

	if (aes)
		rc = crypto_aead_aes256gcm_decrypt_detached(
			m, NULL, c, clen, tag, ad, adlen, nonce, key);
	else
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
			m, NULL, c, clen, tag, ad, adlen, nonce, key);
	return rc ? -EBADMSG : 0;
}

void cfs_secure_seal(struct cfs_secure *s, uint8_t *buf, size_t len,
		     size_t secret, uint8_t tag[CFS_SECURE_TAG])
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	/* encrypted: all of it; not: the associated data but the secret */
	size_t adlen = s->encrypt ? 0 : len - secret;

	nonce_of(s->txn++, nonce, sizeof(nonce));
	aead_seal(s->aes, s->tx, nonce, buf + adlen, len - adlen, buf + adlen,
		  buf, adlen, tag);
}

int cfs_secure_open(struct cfs_secure *s, uint8_t *buf, size_t len,
		    size_t secret, const uint8_t tag[CFS_SECURE_TAG])
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	size_t adlen;

	if (secret > len)
		return -EBADMSG;
	adlen = s->encrypt ? 0 : len - secret;
	nonce_of(s->rxn, nonce, sizeof(nonce));
	if (aead_open(s->aes, s->rx, nonce, buf + adlen, len - adlen,
		      buf + adlen, buf, adlen, tag))
		return -EBADMSG;
	s->rxn++;
	return 0;
}

void cfs_secure_seal_bulk(const struct cfs_secure *s,
			  const uint8_t key[CFS_SECURE_KEY], const void *src,
			  size_t len, uint8_t *dst, uint8_t tag[CFS_SECURE_TAG])
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = { 0 };
	uint8_t none;

	if (s->encrypt)
		aead_seal(s->aes, key, nonce, src, len, dst, NULL, 0, tag);
	else
		aead_seal(s->aes, key, nonce, src, 0, &none, src, len, tag);
}

int cfs_secure_open_bulk(const struct cfs_secure *s,
			 const uint8_t key[CFS_SECURE_KEY], const uint8_t *src,
			 size_t len, uint8_t *dst,
			 const uint8_t tag[CFS_SECURE_TAG])
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = { 0 };
	uint8_t none;

	if (s->encrypt)
		return aead_open(s->aes, key, nonce, src, len, dst, NULL, 0,
				 tag);
	return aead_open(s->aes, key, nonce, src, 0, &none, src, len, tag);
}

void cfs_secure_wipe(struct cfs_secure *s)
{
	sodium_memzero(s, sizeof(*s));
}
