/* The handshake and sealed frames (common/secure.c): two ends with tokens
 * of one cluster agree on keys and exchange frames; a foreign, expired or
 * stolen credential, a captured handshake played again, and a frame
 * changed, replayed or reordered are all refused. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfs/secure.h"
#include "cfs/token.h"

#include "check_main.h"

static char dir[64], dir2[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cfs_secure_test_XXXXXX");
	snprintf(dir2, sizeof(dir2), "/tmp/cfs_secure_test_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir2));
	ck_assert_int_eq(cfs_cluster_init(dir, "127.0.0.1:1"), 0);
	ck_assert_int_eq(cfs_cluster_init(dir2, "127.0.0.1:1"), 0);
}

static void teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, dir2);
	ck_assert_int_eq(system(cmd), 0);
}

/* One end: its token parsed with its key, and its credential. */
struct end {
	struct cfs_token tok;
	char cred[CFS_TOKEN_MAX];
};

static struct end make_end(const char *d, enum cfs_role role, int64_t exp)
{
	struct cfs_token t = { .role = role, .expires = exp };
	char line[CFS_TOKEN_MAX];
	struct end e;

	snprintf(t.subtree, sizeof(t.subtree), "/");
	ck_assert_int_eq(cfs_token_issue(d, &t, line, sizeof(line)), 0);
	ck_assert_int_eq(cfs_token_parse(line, &e.tok, NULL, 0), 0);
	ck_assert_int_eq(cfs_token_credential(line, e.cred, sizeof(e.cred)),
			 0);
	return e;
}

struct session {
	struct cfs_secure c, s;
	struct cfs_token c_saw, s_saw;	/* the peer each end saw */
	uint8_t hello[CFS_SECURE_MSG_MAX], finished[CFS_SECURE_FINISHED];
	size_t hello_len;
};

/* A whole handshake; the first failing step's rc (0 if all passed). */
static int shake(const struct end *cl, const struct end *srv, bool encrypt,
		 struct session *x, char *why, size_t whylen)
{
	struct cfs_secure_hs hc, hsrv;
	uint8_t welcome[CFS_SECURE_MSG_MAX];
	size_t wlen;
	int rc;

	ck_assert_int_eq(cfs_secure_hello(&hc, cl->cred, encrypt, x->hello,
					  &x->hello_len),
			 0);
	rc = cfs_secure_welcome(&hsrv, &srv->tok, srv->cred, encrypt, x->hello,
				x->hello_len, &x->s_saw, welcome, &wlen, &x->s,
				why, whylen);
	if (rc)
		return rc;
	rc = cfs_secure_client_keys(&hc, &cl->tok, welcome, wlen, &x->c_saw,
				    &x->c, x->finished, why, whylen);
	if (rc)
		return rc;
	return cfs_secure_finish(&hsrv, &x->s, x->finished,
				 sizeof(x->finished));
}

START_TEST(test_two_ends_agree_and_frames_go_both_ways)
{
	struct end cl = make_end(dir, CFS_ROLE_CLIENT, 0);
	struct end srv = make_end(dir, CFS_ROLE_MDS, 0);
	struct session x;
	char why[128] = "";
	uint8_t buf[4096], tag[CFS_SECURE_TAG];
	const char *secret = "a file name: thesis-final-v3.tex";

	ck_assert_int_eq(shake(&cl, &srv, true, &x, why, sizeof(why)), 0);
	ck_assert_str_eq(x.s_saw.id, cl.tok.id);
	ck_assert_int_eq(x.s_saw.role, CFS_ROLE_CLIENT);
	ck_assert_str_eq(x.c_saw.id, srv.tok.id);
	ck_assert(x.c.encrypt && x.s.encrypt);
	for (int i = 0; i < 100; i++) {
		struct cfs_secure *from = i % 3 ? &x.c : &x.s;
		struct cfs_secure *to = i % 3 ? &x.s : &x.c;
		size_t len = strlen(secret) + (size_t)i;

		memset(buf, 'x', sizeof(buf));
		memcpy(buf, secret, strlen(secret));
		cfs_secure_seal(from, buf, len, 0, tag);
		ck_assert_ptr_null(memmem(buf, len, "thesis", 6));
		ck_assert_int_eq(cfs_secure_open(to, buf, len, 0, tag), 0);
		ck_assert_mem_eq(buf, secret, strlen(secret));
	}
}
END_TEST

START_TEST(test_a_changed_replayed_or_reordered_frame_fails)
{
	struct end cl = make_end(dir, CFS_ROLE_CLIENT, 0);
	struct end srv = make_end(dir, CFS_ROLE_OSD, 0);
	uint8_t a[64], b[64], ta[CFS_SECURE_TAG], tb[CFS_SECURE_TAG], c[64];
	struct session x;

	for (int encrypt = 0; encrypt < 2; encrypt++) {
		ck_assert_int_eq(shake(&cl, &srv, encrypt, &x, NULL, 0), 0);
		memset(a, 1, sizeof(a));
		memset(b, 2, sizeof(b));
		cfs_secure_seal(&x.c, a, sizeof(a), 0, ta);
		cfs_secure_seal(&x.c, b, sizeof(b), 0, tb);
		if (!encrypt)	/* authenticated only: readable as sent */
			ck_assert_int_eq(a[0], 1);
		/* changed */
		memcpy(c, a, sizeof(c));
		c[10] ^= 1;
		ck_assert_int_eq(cfs_secure_open(&x.s, c, sizeof(c), 0, ta),
				 -EBADMSG);
		/* cut */
		memcpy(c, a, sizeof(c));
		ck_assert_int_eq(cfs_secure_open(&x.s, c, sizeof(c) - 1, 0, ta),
				 -EBADMSG);
		/* reordered: b before a */
		memcpy(c, b, sizeof(c));
		ck_assert_int_eq(cfs_secure_open(&x.s, c, sizeof(c), 0, tb),
				 -EBADMSG);
		ck_assert_int_eq(cfs_secure_open(&x.s, a, sizeof(a), 0, ta), 0);
		/* replayed: a again */
		memcpy(c, a, sizeof(c));
		ck_assert_int_eq(cfs_secure_open(&x.s, c, sizeof(c), 0, ta),
				 -EBADMSG);
		ck_assert_int_eq(cfs_secure_open(&x.s, b, sizeof(b), 0, tb), 0);
		/* a frame sealed one way does not open the other way */
		memset(a, 3, sizeof(a));
		cfs_secure_seal(&x.c, a, sizeof(a), 0, ta);
		ck_assert_int_eq(cfs_secure_open(&x.c, a, sizeof(a), 0, ta),
				 -EBADMSG);
	}
}
END_TEST

static int count_of(uint8_t c, const uint8_t *p, size_t len)
{
	int n = 0;

	for (size_t i = 0; i < len; i++)
		n += p[i] == c;
	return n;
}

START_TEST(test_a_bulk_key_is_secret_even_when_frames_are_only_signed)
{
	struct end cl = make_end(dir, CFS_ROLE_CLIENT, 0);
	struct end srv = make_end(dir, CFS_ROLE_OSD, 0);
	uint8_t buf[64 + CFS_SECURE_KEY], changed[sizeof(buf)];
	uint8_t tag[CFS_SECURE_TAG];
	struct session x;

	ck_assert_int_eq(shake(&cl, &srv, false, &x, NULL, 0), 0);
	memset(buf, 'h', 64);
	memset(buf + 64, 'k', CFS_SECURE_KEY);
	cfs_secure_seal(&x.c, buf, sizeof(buf), CFS_SECURE_KEY, tag);
	/* the frame readable as sent, its key not */
	ck_assert_int_eq(buf[0], 'h');
	ck_assert_int_eq(buf[63], 'h');
	ck_assert_int_lt(count_of('k', buf + 64, CFS_SECURE_KEY), 8);
	memcpy(changed, buf, sizeof(buf));
	changed[3] ^= 1;	/* the part sent in the clear */
	ck_assert_int_eq(cfs_secure_open(&x.s, changed, sizeof(changed),
					 CFS_SECURE_KEY, tag),
			 -EBADMSG);
	ck_assert_int_eq(cfs_secure_open(&x.s, buf, sizeof(buf),
					 CFS_SECURE_KEY, tag),
			 0);
	for (int i = 0; i < CFS_SECURE_KEY; i++)
		ck_assert_int_eq(buf[64 + i], 'k');
}
END_TEST

START_TEST(test_a_bulk_opens_only_with_its_key_and_unchanged)
{
	struct end cl = make_end(dir, CFS_ROLE_CLIENT, 0);
	struct end srv = make_end(dir, CFS_ROLE_OSD, 0);
	const char *secret = "file content: the thesis, chapter 3";
	size_t len = 4096;
	uint8_t *data = malloc(len), *ct = malloc(len), *back = malloc(len);
	uint8_t key[CFS_SECURE_KEY], other[CFS_SECURE_KEY];
	uint8_t tag[CFS_SECURE_TAG];
	struct session x;

	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	for (int encrypt = 0; encrypt < 2; encrypt++) {
		ck_assert_int_eq(shake(&cl, &srv, encrypt, &x, NULL, 0), 0);
		memset(data, 'x', len);
		memcpy(data + 100, secret, strlen(secret));
		cfs_secure_seal_bulk(&x.c, key, data, len,
				     encrypt ? ct : NULL, tag);
		/* what travels: the ciphertext, or the data as it is */
		const uint8_t *wire = encrypt ? ct : data;

		if (encrypt)
			ck_assert_ptr_null(memmem(ct, len, "thesis", 6));
		ck_assert_int_eq(cfs_secure_open_bulk(&x.s, key, wire, len,
						      back, tag),
				 0);
		if (encrypt)
			ck_assert_mem_eq(back, data, len);
		/* sealed the same way, it opens on another connection too
		 * (a bulk passed on as it came) */
		ck_assert_int_eq(cfs_secure_open_bulk(&x.c, key, wire, len,
						      back, tag),
				 0);
		ck_assert_int_eq(cfs_secure_open_bulk(&x.s, other, wire, len,
						      back, tag),
				 -EBADMSG);
		((uint8_t *)wire)[len - 1] ^= 1;
		ck_assert_int_eq(cfs_secure_open_bulk(&x.s, key, wire, len,
						      back, tag),
				 -EBADMSG);
		((uint8_t *)wire)[len - 1] ^= 1;
		ck_assert_int_eq(cfs_secure_open_bulk(&x.s, key, wire,
						      len - 1, back, tag),
				 -EBADMSG);
	}
	free(data);
	free(ct);
	free(back);
}
END_TEST

START_TEST(test_a_captured_handshake_played_again_is_refused)
{
	struct end cl = make_end(dir, CFS_ROLE_CLIENT, 0);
	struct end srv = make_end(dir, CFS_ROLE_MDS, 0);
	struct session x, y;
	struct cfs_secure_hs h;
	struct cfs_token peer;
	uint8_t welcome[CFS_SECURE_MSG_MAX];
	size_t wlen;

	ck_assert_int_eq(shake(&cl, &srv, true, &x, NULL, 0), 0);
	/* the same HELLO and FINISHED, to a server that answers afresh */
	ck_assert_int_eq(cfs_secure_welcome(&h, &srv.tok, srv.cred, true,
					    x.hello, x.hello_len, &peer,
					    welcome, &wlen, &y.s, NULL, 0),
			 0);
	ck_assert_int_eq(cfs_secure_finish(&h, &y.s, x.finished,
					   sizeof(x.finished)),
			 -EACCES);
	/* nor a FINISHED cut or changed */
	ck_assert_int_eq(cfs_secure_finish(&h, &y.s, x.finished, 10), -EACCES);
}
END_TEST

START_TEST(test_foreign_expired_and_stolen_credentials_are_refused)
{
	struct end cl = make_end(dir, CFS_ROLE_CLIENT, 0);
	struct end srv = make_end(dir, CFS_ROLE_MDS, 0);
	struct end foreign = make_end(dir2, CFS_ROLE_CLIENT, 0);
	struct end expired = make_end(dir, CFS_ROLE_CLIENT, time(NULL) - 1);
	struct end thief = make_end(dir, CFS_ROLE_CLIENT, 0);
	struct session x;
	char why[128];

	ck_assert_int_eq(shake(&foreign, &srv, true, &x, why, sizeof(why)),
			 -EACCES);
	ck_assert_str_eq(why, "a token of another cluster");
	ck_assert_int_eq(shake(&expired, &srv, true, &x, why, sizeof(why)),
			 -EACCES);
	ck_assert_str_eq(why, "an expired token");
	/* the server's side too: a client does not talk to a foreign one */
	ck_assert_int_eq(shake(&cl, &foreign, true, &x, why, sizeof(why)),
			 -EACCES);
	/* someone showing cl's credential without cl's key */
	memcpy(thief.cred, cl.cred, sizeof(cl.cred));
	ck_assert_int_eq(shake(&thief, &srv, true, &x, why, sizeof(why)),
			 -EACCES);
}
END_TEST

START_TEST(test_malformed_handshakes_get_an_error)
{
	struct end srv = make_end(dir, CFS_ROLE_MDS, 0);
	struct end cl = make_end(dir, CFS_ROLE_CLIENT, 0);
	uint8_t hello[CFS_SECURE_MSG_MAX], out[CFS_SECURE_MSG_MAX], junk[300];
	struct cfs_secure_hs hc, h;
	struct cfs_token peer;
	struct cfs_secure s;
	size_t len, olen;
	char why[128];

	ck_assert_int_eq(cfs_secure_hello(&hc, cl.cred, true, hello, &len), 0);
	/* every cut of a good HELLO */
	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_lt(cfs_secure_welcome(&h, &srv.tok, srv.cred,
						    true, hello, cut, &peer,
						    out, &olen, &s, why,
						    sizeof(why)),
				 0);
	/* random bytes, with and without the magic */
	for (int i = 0; i < 1000; i++) {
		size_t n = (size_t)randombytes_uniform(sizeof(junk));

		randombytes_buf(junk, n);
		if (i % 2 && n >= 4)
			memcpy(junk, "CFS1", 4);
		ck_assert_int_lt(cfs_secure_welcome(&h, &srv.tok, srv.cred,
						    true, junk, n, &peer, out,
						    &olen, &s, why,
						    sizeof(why)),
				 0);
	}
	/* a version from the future */
	hello[4] = 2;
	ck_assert_int_eq(cfs_secure_welcome(&h, &srv.tok, srv.cred, true,
					    hello, len, &peer, out, &olen, &s,
					    why, sizeof(why)),
			 -EPROTO);
	ck_assert_str_eq(why, "a handshake of another version");
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("secure", setup, teardown,
		      test_two_ends_agree_and_frames_go_both_ways,
		      test_a_changed_replayed_or_reordered_frame_fails,
		      test_a_bulk_key_is_secret_even_when_frames_are_only_signed,
		      test_a_bulk_opens_only_with_its_key_and_unchanged,
		      test_a_captured_handshake_played_again_is_refused,
		      test_foreign_expired_and_stolen_credentials_are_refused,
		      test_malformed_handshakes_get_an_error);
}
