/* The cluster's identity and its join tokens; see include/cfs/token.h.
 *
 * DIR/cluster.json is read and rewritten whole (to a temporary file,
 * fsync'd, renamed over) under an flock of DIR/cluster.lock, so that two
 * `cfs token` commands at once neither lose a token nor tear the file. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfs/token.h"

#define SECRET_LEN 32
#define KDF_CONTEXT "cfssign1"	/* crypto_kdf: 8 bytes */
#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

static const char *const role_names[CFS_ROLE_COUNT] = {
	"mds", "osd", "client", "tierd", "repld", "gateway", "admin",
};

int cfs_role_parse(const char *name)
{
	for (int r = 0; r < CFS_ROLE_COUNT; r++)
		if (!strcmp(name, role_names[r]))
			return r;
	return -1;
}

const char *cfs_role_name(enum cfs_role r)
{
	return r < CFS_ROLE_COUNT ? role_names[r] : "?";
}

static void say(char *why, size_t len, const char *msg)
{
	if (why && len)
		snprintf(why, len, "%s", msg);
}

/* ---- the cluster file ---- */

struct cluster {
	json_t *root;
	uint8_t secret[SECRET_LEN];
	int lock_fd;
};

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static int hex_field(json_t *o, const char *key, uint8_t *out, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));
	size_t got;

	if (!s || sodium_hex2bin(out, len, s, strlen(s), NULL, &got, NULL) ||
	    got != len)
		return -EINVAL;
	return 0;
}

static json_t *hex_string(const uint8_t *b, size_t len)
{
	char hex[2 * 64 + 1];

	sodium_bin2hex(hex, sizeof(hex), b, len);
	return json_string(hex);
}

static void cluster_close(struct cluster *c)
{
	sodium_memzero(c->secret, sizeof(c->secret));
	json_decref(c->root);
	if (c->lock_fd >= 0)
		close(c->lock_fd);	/* and the flock with it */
}

/* Lock and read DIR's cluster; -ENOENT when there is none (then, with
 * missing_ok, the lock is kept and c->root is NULL, for init). */
static int cluster_open(const char *dir, struct cluster *c, bool missing_ok)
{
	char path[4096];
	json_error_t err;

	if (sodium_init() < 0)
		return -EIO;
	c->root = NULL;
	path_in(path, sizeof(path), dir, "cluster.lock");
	c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lock_fd < 0)
		return -errno;
	if (flock(c->lock_fd, LOCK_EX)) {
		int rc = -errno;

		close(c->lock_fd);
		return rc;
	}
	path_in(path, sizeof(path), dir, "cluster.json");
	if (access(path, F_OK)) {
		int rc = -errno;

		if (!(rc == -ENOENT && missing_ok))
			cluster_close(c);
		return rc;
	}
	c->root = json_load_file(path, 0, &err);
	if (!json_is_object(c->root) ||
	    hex_field(c->root, "secret", c->secret, SECRET_LEN) ||
	    !json_string_value(json_object_get(c->root, "cluster"))) {
		fprintf(stderr, "%s: not a cluster file (%s)\n", path,
			c->root ? "a key is missing or wrong" : err.text);
		cluster_close(c);
		return -EINVAL;
	}
	return 0;
}

/* Write the cluster back: a temporary file, synced, renamed over. */
static int cluster_save(const char *dir, const struct cluster *c)
{
	char path[4096], tmp[4096];
	int fd, rc = 0;
	char *text = json_dumps(c->root, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (!text)
		return -ENOMEM;
	path_in(path, sizeof(path), dir, "cluster.json");
	path_in(tmp, sizeof(tmp), dir, "cluster.json.new");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    write(fd, "\n", 1) != 1 || fsync(fd))
		rc = errno ? -errno : -EIO;
	close(fd);
	free(text);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* The signing key pair that the secret gives. */
static void signing_keys(const uint8_t *secret, uint8_t *pk, uint8_t *sk)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	crypto_kdf_derive_from_key(seed, sizeof(seed), 1, KDF_CONTEXT,
				   secret);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
}

int cfs_cluster_init(const char *dir, const char *mds)
{
	uint8_t id[16], secret[SECRET_LEN];
	struct cluster c;
	json_t *root;
	int rc;

	if (sodium_init() < 0)
		return -EIO;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	rc = cluster_open(dir, &c, true);
	if (rc == 0) {
		cluster_close(&c);
		return -EEXIST;
	}
	if (rc != -ENOENT)
		return rc;
	randombytes_buf(id, sizeof(id));
	randombytes_buf(secret, sizeof(secret));
	root = json_pack("{s:i, s:o, s:o, s:s, s:[], s:[]}", "version", 1,
			 "cluster", hex_string(id, sizeof(id)), "secret",
			 hex_string(secret, sizeof(secret)), "mds",
			 mds ? mds : "", "previous", "tokens");
	sodium_memzero(secret, sizeof(secret));
	if (!root) {
		cluster_close(&c);
		return -ENOMEM;
	}
	c.root = root;
	rc = cluster_save(dir, &c);
	cluster_close(&c);
	return rc;
}

/* ---- tokens ---- */

static json_t *claims_of(const struct cfs_token *t)
{
	json_t *acc = json_array(), *o;

	for (int i = 0; i < t->naccept; i++)
		json_array_append_new(acc, json_pack("{s:o, s:I}", "pk",
						     hex_string(t->accept_pk[i],
								32),
						     "until",
						     (json_int_t)t->accept_until[i]));
	o = json_pack("{s:i, s:s, s:s, s:s, s:b, s:b, s:s, s:I, s:I, s:s, "
		      "s:o, s:o, s:o}",
		      "v", 1, "c", t->cluster, "id", t->id, "role",
		      cfs_role_name(t->role), "ro", t->ro, "sq", t->squash,
		      "sub", t->subtree, "iat", (json_int_t)t->issued, "exp",
		      (json_int_t)t->expires, "mds", t->mds, "kx",
		      hex_string(t->kx_pk, 32), "ck",
		      hex_string(t->cluster_pk, 32), "acc", acc);
	return o;
}

/* Append the base64url of b to out at *pos, after a '.' unless first. */
static int put_b64(char *out, size_t outlen, size_t *pos, const uint8_t *b,
		   size_t len)
{
	size_t need = sodium_base64_ENCODED_LEN(len, B64);

	if (*pos + 1 + need > outlen)
		return -ENAMETOOLONG;
	out[(*pos)++] = '.';
	sodium_bin2base64(out + *pos, outlen - *pos, b, len, B64);
	*pos += strlen(out + *pos);
	return 0;
}

static json_t *register_entry(const struct cfs_token *t)
{
	return json_pack("{s:s, s:s, s:b, s:b, s:s, s:I, s:I, s:b}", "id",
			 t->id, "role", cfs_role_name(t->role), "ro", t->ro,
			 "squash", t->squash, "subtree", t->subtree, "issued",
			 (json_int_t)t->issued, "expires",
			 (json_int_t)t->expires, "revoked", 0);
}

int cfs_token_issue(const char *dir, struct cfs_token *t, char *out,
		    size_t outlen)
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
	uint8_t id[8];
	struct cluster c;
	json_t *claims, *prev;
	char *text = NULL;
	size_t pos, i;
	int64_t now = time(NULL);
	int rc = cluster_open(dir, &c, false);

	if (rc)
		return rc;
	if (t->role >= CFS_ROLE_COUNT || t->subtree[0] != '/') {
		rc = -EINVAL;
		goto out;
	}
	snprintf(t->cluster, sizeof(t->cluster), "%s",
		 json_string_value(json_object_get(c.root, "cluster")));
	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(t->id, sizeof(t->id), id, sizeof(id));
	t->issued = now;
	if (!t->mds[0])
		snprintf(t->mds, sizeof(t->mds), "%s",
			 json_string_value(json_object_get(c.root, "mds")) ?:
				 "");
	crypto_kx_keypair(t->kx_pk, t->kx_sk);
	t->has_sk = true;
	signing_keys(c.secret, t->cluster_pk, sk);
	t->naccept = 0;
	json_array_foreach(json_object_get(c.root, "previous"), i, prev) {
		int64_t until = json_integer_value(json_object_get(prev,
								   "until"));

		if (until > now && t->naccept < CFS_TOKEN_ACCEPT &&
		    !hex_field(prev, "pk", t->accept_pk[t->naccept], 32))
			t->accept_until[t->naccept++] = until;
	}
	claims = claims_of(t);
	text = claims ? json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS) :
			NULL;
	json_decref(claims);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	crypto_sign_detached(sig, NULL, (const uint8_t *)text, strlen(text),
			     sk);
	if (outlen < 5) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	memcpy(out, "cfs1", 4);
	pos = 4;
	rc = put_b64(out, outlen, &pos, (const uint8_t *)text, strlen(text));
	if (!rc)
		rc = put_b64(out, outlen, &pos, sig, sizeof(sig));
	if (!rc)
		rc = put_b64(out, outlen, &pos, t->kx_sk, sizeof(t->kx_sk));
	if (!rc && pos + 2 > outlen)
		rc = -ENAMETOOLONG;
	if (rc)
		goto out;
	out[pos++] = '\n';
	out[pos] = '\0';
	json_array_append_new(json_object_get(c.root, "tokens"),
			      register_entry(t));
	rc = cluster_save(dir, &c);
out:
	sodium_memzero(sk, sizeof(sk));
	free(text);
	cluster_close(&c);
	return rc;
}

/* Decode one base64url part of at most max bytes into a malloc'd buffer. */
static uint8_t *part(const char *s, size_t len, size_t max, size_t *got)
{
	uint8_t *b = malloc(max ? max : 1);

	if (b && sodium_base642bin(b, max, s, len, NULL, got, NULL, B64)) {
		free(b);
		return NULL;
	}
	return b;
}

static int claims_from(json_t *o, struct cfs_token *t, char *why,
		       size_t whylen)
{
	const char *c = json_string_value(json_object_get(o, "c"));
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *role = json_string_value(json_object_get(o, "role"));
	const char *sub = json_string_value(json_object_get(o, "sub"));
	const char *mds = json_string_value(json_object_get(o, "mds"));
	json_t *acc = json_object_get(o, "acc"), *a;
	size_t i;

	if (json_integer_value(json_object_get(o, "v")) != 1) {
		say(why, whylen, "a token of another version");
		return -EINVAL;
	}
	if (!c || strlen(c) != 32 || !id || strlen(id) != 16 || !role ||
	    cfs_role_parse(role) < 0 || !sub || sub[0] != '/' ||
	    strlen(sub) >= sizeof(t->subtree) || !mds ||
	    strlen(mds) >= sizeof(t->mds) ||
	    !json_is_boolean(json_object_get(o, "ro")) ||
	    !json_is_boolean(json_object_get(o, "sq")) ||
	    !json_is_integer(json_object_get(o, "iat")) ||
	    !json_is_integer(json_object_get(o, "exp")) ||
	    hex_field(o, "kx", t->kx_pk, 32) ||
	    hex_field(o, "ck", t->cluster_pk, 32) ||
	    (acc && !json_is_array(acc)) ||
	    json_array_size(acc) > CFS_TOKEN_ACCEPT) {
		say(why, whylen, "a claim is missing or malformed");
		return -EINVAL;
	}
	snprintf(t->cluster, sizeof(t->cluster), "%s", c);
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->role = (enum cfs_role)cfs_role_parse(role);
	t->ro = json_is_true(json_object_get(o, "ro"));
	t->squash = json_is_true(json_object_get(o, "sq"));
	snprintf(t->subtree, sizeof(t->subtree), "%s", sub);
	snprintf(t->mds, sizeof(t->mds), "%s", mds);
	t->issued = json_integer_value(json_object_get(o, "iat"));
	t->expires = json_integer_value(json_object_get(o, "exp"));
	t->naccept = 0;
	json_array_foreach(acc, i, a) {
		if (hex_field(a, "pk", t->accept_pk[i], 32) ||
		    !json_is_integer(json_object_get(a, "until"))) {
			say(why, whylen, "an accepted key is malformed");
			return -EINVAL;
		}
		t->accept_until[i] =
			json_integer_value(json_object_get(a, "until"));
		t->naccept++;
	}
	return 0;
}

int cfs_token_parse(const char *text, struct cfs_token *t, char *why,
		    size_t whylen)
{
	const char *p[4], *end;
	size_t len[4], n = 0, clen = 0, slen = 0, klen = 0;
	uint8_t *claims = NULL, *sig = NULL, *key = NULL;
	json_t *o = NULL;
	int rc = -EINVAL;

	memset(t, 0, sizeof(*t));
	if (sodium_init() < 0)
		return -EIO;
	end = text + strcspn(text, "\r\n");
	for (const char *s = text; n < 4;) {
		const char *dot = memchr(s, '.', (size_t)(end - s));

		p[n] = s;
		len[n++] = (size_t)((dot ? dot : end) - s);
		if (!dot)
			break;
		s = dot + 1;
	}
	if (n < 3 || len[0] != 4 || memcmp(p[0], "cfs1", 4) ||
	    p[n - 1] + len[n - 1] != end) {
		say(why, whylen, "not a ClaudeFS token (cfs1.…)");
		return -EINVAL;
	}
	claims = part(p[1], len[1], len[1], &clen);
	sig = part(p[2], len[2], crypto_sign_BYTES, &slen);
	if (n == 4)
		key = part(p[3], len[3], 32, &klen);
	if (!claims || !sig || slen != crypto_sign_BYTES ||
	    (n == 4 && (!key || klen != 32))) {
		say(why, whylen, "a part of the token is not base64url of the "
				 "right length (truncated?)");
		goto out;
	}
	o = json_loadb((const char *)claims, clen, 0, NULL);
	if (!json_is_object(o)) {
		say(why, whylen, "its claims are not JSON");
		goto out;
	}
	rc = claims_from(o, t, why, whylen);
	if (rc)
		goto out;
	if (crypto_sign_verify_detached(sig, claims, clen, t->cluster_pk)) {
		say(why, whylen, "its signature does not match its claims");
		rc = -EINVAL;
		goto out;
	}
	if (key) {
		uint8_t pk[32];

		crypto_scalarmult_base(pk, key);
		if (memcmp(pk, t->kx_pk, 32)) {
			say(why, whylen, "its key is not the one its claims "
					 "name");
			rc = -EINVAL;
			goto out;
		}
		memcpy(t->kx_sk, key, 32);
		t->has_sk = true;
	}
	rc = 0;
out:
	if (key)
		sodium_memzero(key, 32);
	free(claims);
	free(sig);
	free(key);
	json_decref(o);
	return rc;
}

int cfs_token_credential(const char *text, char *out, size_t outlen)
{
	size_t len = strcspn(text, "\r\n");
	const char *last = memrchr(text, '.', len);
	int dots = 0;

	for (size_t i = 0; i < len; i++)
		dots += text[i] == '.';
	if (dots == 3)
		len = (size_t)(last - text);
	if (dots < 2 || len + 1 > outlen)
		return -EINVAL;
	memcpy(out, text, len);
	out[len] = '\0';
	return 0;
}

int cfs_token_accepts(const struct cfs_token *mine,
		      const struct cfs_token *peer, int64_t now, char *why,
		      size_t whylen)
{
	bool key_ok = !memcmp(peer->cluster_pk, mine->cluster_pk, 32);

	for (int i = 0; !key_ok && i < mine->naccept; i++)
		key_ok = !memcmp(peer->cluster_pk, mine->accept_pk[i], 32) &&
			 now < mine->accept_until[i];
	if (strcmp(peer->cluster, mine->cluster)) {
		say(why, whylen, "a token of another cluster");
		return -EACCES;
	}
	if (!key_ok) {
		say(why, whylen, "signed by a key this cluster no longer "
				 "accepts (rotated)");
		return -EACCES;
	}
	if (peer->expires && now >= peer->expires) {
		say(why, whylen, "an expired token");
		return -EACCES;
	}
	return 0;
}

/* ---- the register ---- */

int cfs_token_list(const char *dir, void *file)
{
	FILE *f = file;
	struct cluster c;
	json_t *e;
	size_t i;
	int64_t now = time(NULL);
	int rc = cluster_open(dir, &c, false);

	if (rc)
		return rc;
	fprintf(f, "%-16s  %-7s  %-20s  %-20s  %s\n", "ID", "ROLE", "ISSUED",
		"EXPIRES", "RESTRICTIONS");
	json_array_foreach(json_object_get(c.root, "tokens"), i, e) {
		char issued[32], expires[32];
		time_t t1 = (time_t)json_integer_value(json_object_get(e,
								       "issued"));
		time_t t2 = (time_t)json_integer_value(json_object_get(e,
								       "expires"));
		struct tm tm;

		strftime(issued, sizeof(issued), "%Y-%m-%d %H:%M:%S",
			 gmtime_r(&t1, &tm));
		if (t2)
			strftime(expires, sizeof(expires), "%Y-%m-%d %H:%M:%S",
				 gmtime_r(&t2, &tm));
		else
			snprintf(expires, sizeof(expires), "never");
		fprintf(f, "%-16s  %-7s  %-20s  %-20s  %s%s%s%s%s\n",
			json_string_value(json_object_get(e, "id")),
			json_string_value(json_object_get(e, "role")), issued,
			expires,
			json_is_true(json_object_get(e, "revoked")) ?
				"REVOKED " :
				(t2 && t2 <= now ? "expired " : ""),
			json_is_true(json_object_get(e, "ro")) ? "ro " : "",
			json_is_true(json_object_get(e, "squash")) ? "squash " :
								     "",
			"subtree=",
			json_string_value(json_object_get(e, "subtree")));
	}
	cluster_close(&c);
	return 0;
}

/* The register entry of id, or NULL. */
static json_t *entry_of(const struct cluster *c, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(c->root, "tokens"), i, e) {
		const char *s = json_string_value(json_object_get(e, "id"));

		if (s && !strcmp(s, id))
			return e;
	}
	return NULL;
}

/* Token id's revoked mark: set it (revoke) or read it. */
static int revoked_mark(const char *dir, const char *id, bool revoke)
{
	struct cluster c;
	json_t *e;
	int rc = cluster_open(dir, &c, false);

	if (rc)
		return rc;
	e = entry_of(&c, id);
	if (!e)
		rc = -ESRCH;
	else if (!revoke)
		rc = json_is_true(json_object_get(e, "revoked"));
	else if (json_object_set_new(e, "revoked", json_true()))
		rc = -ENOMEM;
	else
		rc = cluster_save(dir, &c);
	cluster_close(&c);
	return rc;
}

int cfs_token_revoke(const char *dir, const char *id)
{
	return revoked_mark(dir, id, true);
}

int cfs_token_revoked(const char *dir, const char *id)
{
	return revoked_mark(dir, id, false);
}

int cfs_secret_rotate(const char *dir, int64_t grace)
{
	uint8_t pk[32], sk[crypto_sign_SECRETKEYBYTES];
	struct cluster c;
	json_t *prev;
	int rc = cluster_open(dir, &c, false);

	if (rc)
		return rc;
	signing_keys(c.secret, pk, sk);
	sodium_memzero(sk, sizeof(sk));
	prev = json_object_get(c.root, "previous");
	if (!json_is_array(prev)) {
		prev = json_array();
		json_object_set_new(c.root, "previous", prev);
	}
	json_array_append_new(prev, json_pack("{s:o, s:I}", "pk",
					      hex_string(pk, 32), "until",
					      (json_int_t)(time(NULL) + grace)));
	randombytes_buf(c.secret, sizeof(c.secret));
	json_object_set_new(c.root, "secret", hex_string(c.secret,
							 sizeof(c.secret)));
	rc = cluster_save(dir, &c);
	cluster_close(&c);
	return rc;
}

int cfs_token_read_file(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return -errno;
	if (!fgets(out, (int)outlen, f))
		rc = ferror(f) ? -EIO : -ENODATA;
	else if (!strchr(out, '\n') && !feof(f))
		rc = -E2BIG;
	out[strcspn(out, "\r\n")] = '\0';
	fclose(f);
	return rc;
}
