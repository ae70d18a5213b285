/* libFuzzer: what a peer can send before it is let in, and the sealed
 * frames after. The first byte picks what the rest is:
 *   0  a HELLO, to a server (cfs_secure_welcome)
 *   1  a WELCOME, to a client that sent a real HELLO
 *   2  a FINISHED, to a server that answered a real HELLO
 *   3  a token or credential's text (cfs_token_parse)
 *   4  a sealed record on an established connection (tag last): a
 *      frame, one carrying a bulk key, or a bulk after its key (the
 *      byte's value / 5, modulo 3)
 * A real cluster, its tokens and one handshake are made once. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/secure.h"
#include "cfs/token.h"
#include "fuzz.h"

static struct cfs_token server, client;
static char server_cred[CFS_TOKEN_MAX], client_cred[CFS_TOKEN_MAX];
static struct cfs_secure_hs client_hs, server_hs;	/* after HELLO */
static struct cfs_secure server_s;

static void token(const char *dir, enum cfs_role role, struct cfs_token *t,
		  char *cred)
{
	char line[CFS_TOKEN_MAX], why[128];

	t->role = role;
	snprintf(t->subtree, sizeof(t->subtree), "/");
	if (cfs_token_issue(dir, t, line, sizeof(line)) ||
	    cfs_token_parse(line, t, why, sizeof(why)) ||
	    cfs_token_credential(line, cred, CFS_TOKEN_MAX))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_dir("hs");
	char why[160];
	uint8_t hello[CFS_SECURE_MSG_MAX], welcome[CFS_SECURE_MSG_MAX];
	struct cfs_token peer;
	size_t hlen, wlen;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || cfs_cluster_init(dir, "127.0.0.1:1"))
		abort();
	token(dir, CFS_ROLE_MDS, &server, server_cred);
	token(dir, CFS_ROLE_CLIENT, &client, client_cred);
	if (cfs_secure_hello(&client_hs, client_cred, true, hello, &hlen) ||
	    cfs_secure_welcome(&server_hs, &server, server_cred, true, hello,
			       hlen, &peer, welcome, &wlen, &server_s, why,
			       sizeof(why)))
		abort();
	return 0;
}

/* A sealed frame (how 0), one whose last 32 bytes are a bulk key (1),
 * or a bulk: a key, then the bulk (2); the tag after. */
static void open_sealed(struct cfs_secure *s, unsigned how, uint8_t *m,
			size_t len, const uint8_t *tag)
{
	uint8_t *plain;

	if (how == 0) {
		cfs_secure_open(s, m, len, 0, tag);
	} else if (how == 1) {
		cfs_secure_open(s, m, len,
				len < CFS_SECURE_KEY ? len : CFS_SECURE_KEY, tag);
	} else if (len >= CFS_SECURE_KEY) {
		plain = malloc(len - CFS_SECURE_KEY + 1);
		cfs_secure_open_bulk(s, m, m + CFS_SECURE_KEY,
				     len - CFS_SECURE_KEY, plain, tag);
		free(plain);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[CFS_SECURE_MSG_MAX], fin[CFS_SECURE_FINISHED];
	struct cfs_secure_hs hs;
	struct cfs_secure s;
	struct cfs_token peer;
	char why[160], *text;
	size_t len;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		cfs_secure_welcome(&hs, &server, server_cred, true, data + 1,
				   size - 1, &peer, out, &len, &s, why,
				   sizeof(why));
		break;
	case 1:
		hs = client_hs;
		cfs_secure_client_keys(&hs, &client, data + 1, size - 1, &peer,
				       &s, fin, why, sizeof(why));
		break;
	case 2:
		hs = server_hs;
		s = server_s;
		cfs_secure_finish(&hs, &s, data + 1, size - 1);
		break;
	case 3:
		text = malloc(size);
		memcpy(text, data + 1, size - 1);
		text[size - 1] = 0;
		cfs_token_parse(text, &peer, why, sizeof(why));
		free(text);
		break;
	case 4:
		if (size - 1 < CFS_SECURE_TAG)
			break;
		s = server_s;
		len = size - 1 - CFS_SECURE_TAG;
		text = malloc(len + 1);
		memcpy(text, data + 1, len);
		open_sealed(&s, data[0] / 5 % 3, (uint8_t *)text, len,
			    data + 1 + len);
		free(text);
		break;
	}
	return 0;
}
