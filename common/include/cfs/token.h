/* The cluster's identity and its join tokens (DESIGN section 9).
 *
 * `cfs init --dir DIR` writes DIR/cluster.json (mode 0600): a cluster id,
 * a 32-byte secret (libsodium randombytes), the MDS addresses, and the
 * register of tokens issued. The secret never leaves that file: from it
 * crypto_kdf derives the seed of the cluster's Ed25519 signing key, and a
 * token is a set of claims signed with that key, so that whoever holds a
 * token can prove what it may do but cannot change it.
 *
 * A token is one line of text:
 *
 *     cfs1.<claims>.<signature>.<key>
 *
 * each part base64url without padding: the claims (compact JSON: version,
 * cluster id, token id, role, read-only, root squash, subtree, issued
 * and expiry times, MDS addresses, the token's X25519 public key and the
 * cluster's signing public key), the Ed25519 signature of the claims'
 * bytes, and the X25519 secret key that goes with the public one (for the
 * handshake's crypto_kx). The first three parts are the token's
 * credential, which a peer may be shown; the last is the holder's alone.
 *
 * Rotation (`cfs secret rotate`): a new secret, hence a new signing key;
 * the old public key stays accepted until a deadline, and tokens issued
 * from then on carry it in their claims (accept) so that their holders
 * verify peers still on old tokens. */
#ifndef CFS_TOKEN_H
#define CFS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFS_TOKEN_MAX 4096	/* a token's text, with its NUL */
#define CFS_TOKEN_ACCEPT 4	/* older signing keys a token may accept */
#define CFS_SUBTREE_MAX 1024

enum cfs_role {
	CFS_ROLE_MDS,
	CFS_ROLE_OSD,
	CFS_ROLE_CLIENT,
	CFS_ROLE_TIERD,
	CFS_ROLE_REPLD,
	CFS_ROLE_GATEWAY,
	CFS_ROLE_ADMIN,
	CFS_ROLE_COUNT
};

struct cfs_token {
	char cluster[33];		/* hex */
	char id[17];			/* hex */
	enum cfs_role role;
	bool ro, squash;
	char subtree[CFS_SUBTREE_MAX];	/* "/" for the whole tree */
	int64_t issued, expires;	/* unix seconds; expires 0: never */
	char mds[256];			/* comma-separated addresses */
	uint8_t kx_pk[32];		/* the token's own key pair */
	uint8_t kx_sk[32];		/* zero in a credential shown by a peer */
	bool has_sk;
	uint8_t cluster_pk[32];		/* the key that signed it */
	/* older signing keys still accepted, each until its deadline */
	uint8_t accept_pk[CFS_TOKEN_ACCEPT][32];
	int64_t accept_until[CFS_TOKEN_ACCEPT];
	int naccept;
};

/* "mds", "osd", "client", ...; -1 for an unknown name. */
int cfs_role_parse(const char *name);
const char *cfs_role_name(enum cfs_role r);

/* Create DIR (0700) and DIR/cluster.json (0600) with a new cluster id and
 * secret; mds: the MDS addresses tokens will carry. -EEXIST if the
 * cluster is there already (a second init must not orphan its tokens). */
int cfs_cluster_init(const char *dir, const char *mds);

/* Issue a token for t's role, ro, squash, subtree, expires (0: never)
 * and mds ("" for the cluster's): signs it, records it in the register
 * and writes its line (with a newline) to out. t's id, cluster, issued
 * and keys are filled in. */
int cfs_token_issue(const char *dir, struct cfs_token *t, char *out,
		    size_t outlen);

/* Parse a token line, or a credential (the line without its key), and
 * check its signature against the key it names. Says nothing of whether
 * that key is this cluster's: cfs_token_accepts() does. -EINVAL with a
 * reason in why (may be NULL) for anything malformed or badly signed. */
int cfs_token_parse(const char *text, struct cfs_token *t, char *why,
		    size_t whylen);

/* The credential of a token: its line without the holder's key. */
int cfs_token_credential(const char *text, char *out, size_t outlen);

/* Whether mine (a verified token of this cluster) accepts peer at time
 * now: same cluster, signed by mine's key or one it still accepts, not
 * expired. 0, or -EACCES with the reason in why. Revocation is checked
 * by who holds the register (cfs_token_revoked). */
int cfs_token_accepts(const struct cfs_token *mine,
		      const struct cfs_token *peer, int64_t now, char *why,
		      size_t whylen);

/* The register: list (one line per token to f), revoke by id, and
 * whether an id is revoked (1), not (0), or -errno: -ENOENT for no
 * cluster in dir, -ESRCH for no such token in it. */
int cfs_token_list(const char *dir, void *file);
int cfs_token_revoke(const char *dir, const char *id);
int cfs_token_revoked(const char *dir, const char *id);

/* A new secret; the old signing key is accepted until now + grace
 * seconds by tokens issued from now on. */
int cfs_secret_rotate(const char *dir, int64_t grace);

/* Read a token line from a file (its first line); 0 or -errno. */
int cfs_token_read_file(const char *path, char *out, size_t outlen);

#endif
