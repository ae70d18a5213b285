/* Join tokens: what cfs init and cfs token create write, that a token
 * reads back as issued, and that a changed, truncated, foreign, expired,
 * revoked or rotated-out token is told apart from a good one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfs/token.h"

#include "check_main.h"

static char dir[64], dir2[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cfs_token_test_XXXXXX");
	snprintf(dir2, sizeof(dir2), "/tmp/cfs_token_test_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir2));
	ck_assert_int_eq(cfs_cluster_init(dir, "127.0.0.1:7400"), 0);
	ck_assert_int_eq(cfs_cluster_init(dir2, "127.0.0.9:7400"), 0);
}

static void teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, dir2);
	ck_assert_int_eq(system(cmd), 0);
}

/* Issue a token of role r in d; its line in line. */
static struct cfs_token issue(const char *d, enum cfs_role r, int64_t expires,
			      char *line, size_t len)
{
	struct cfs_token t = { .role = r, .expires = expires };

	snprintf(t.subtree, sizeof(t.subtree), "/");
	ck_assert_int_eq(cfs_token_issue(d, &t, line, len), 0);
	return t;
}

START_TEST(test_init_writes_a_private_cluster_once)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/cluster.json", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* a second init would orphan every token issued */
	ck_assert_int_eq(cfs_cluster_init(dir, "x:1"), -EEXIST);
	ck_assert_int_eq(cfs_token_issue("/nonexistent/dir",
					 &(struct cfs_token){ .subtree = "/" },
					 path, sizeof(path)),
			 -ENOENT);
}
END_TEST

START_TEST(test_a_token_reads_back_as_issued)
{
	char line[CFS_TOKEN_MAX], cred[CFS_TOKEN_MAX], why[128];
	struct cfs_token t = { .role = CFS_ROLE_CLIENT, .ro = true,
			       .squash = true, .expires = time(NULL) + 3600 };
	struct cfs_token back, shown;

	snprintf(t.subtree, sizeof(t.subtree), "/projects/a");
	ck_assert_int_eq(cfs_token_issue(dir, &t, line, sizeof(line)), 0);
	ck_assert_ptr_nonnull(strchr(line, '\n'));
	ck_assert_int_eq(strncmp(line, "cfs1.", 5), 0);
	ck_assert_int_eq(cfs_token_parse(line, &back, why, sizeof(why)), 0);
	ck_assert_str_eq(back.id, t.id);
	ck_assert_str_eq(back.cluster, t.cluster);
	ck_assert_int_eq(back.role, CFS_ROLE_CLIENT);
	ck_assert(back.ro && back.squash);
	ck_assert_str_eq(back.subtree, "/projects/a");
	ck_assert_str_eq(back.mds, "127.0.0.1:7400");
	ck_assert_int_eq(back.expires, t.expires);
	ck_assert(back.has_sk);
	ck_assert_mem_eq(back.kx_sk, t.kx_sk, 32);
	/* the credential a peer is shown holds no key */
	ck_assert_int_eq(cfs_token_credential(line, cred, sizeof(cred)), 0);
	ck_assert_int_eq(cfs_token_parse(cred, &shown, why, sizeof(why)), 0);
	ck_assert(!shown.has_sk);
	ck_assert_str_eq(shown.id, t.id);
	ck_assert_ptr_null(strstr(line + strlen(cred) + 1, cred + 5));
}
END_TEST

START_TEST(test_a_changed_or_truncated_token_is_refused)
{
	char line[CFS_TOKEN_MAX], other[CFS_TOKEN_MAX], bad[CFS_TOKEN_MAX];
	char why[128];
	struct cfs_token back;
	size_t n, sig_start, key_start;

	issue(dir, CFS_ROLE_CLIENT, 0, line, sizeof(line));
	issue(dir, CFS_ROLE_ADMIN, 0, other, sizeof(other));
	line[strcspn(line, "\n")] = '\0';
	other[strcspn(other, "\n")] = '\0';
	n = strlen(line);
	key_start = (size_t)(strrchr(line, '.') - line);
	sig_start = (size_t)((const char *)memrchr(line, '.', key_start) - line);
	/* every single character changed in the claims or the signature */
	for (size_t i = 5; i < key_start; i++) {
		if (line[i] == '.')
			continue;
		memcpy(bad, line, n + 1);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		ck_assert_msg(cfs_token_parse(bad, &back, why, sizeof(why)) ==
				      -EINVAL,
			      "a change at %zu was accepted", i);
	}
	/* cut anywhere short of the whole */
	for (size_t cut = 0; cut < n - 1; cut += 5) {
		memcpy(bad, line, cut);
		bad[cut] = '\0';
		ck_assert_msg(cfs_token_parse(bad, &back, why, sizeof(why)) ==
				      -EINVAL,
			      "cut at %zu was accepted", cut);
	}
	/* another token's key under this one's claims */
	snprintf(bad, sizeof(bad), "%.*s%s", (int)key_start, line,
		 strrchr(other, '.'));
	ck_assert_int_eq(cfs_token_parse(bad, &back, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(why, "its key is not the one its claims name");
	/* the admin token's signature under a client's claims */
	snprintf(bad, sizeof(bad), "%.*s%s", (int)sig_start, line,
		 (const char *)memrchr(other, '.', (size_t)(strrchr(other, '.') -
							     other)));
	ck_assert_int_eq(cfs_token_parse(bad, &back, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(why, "its signature does not match its claims");
	ck_assert_int_eq(cfs_token_parse("cfs1.e30.AAAA", &back, why,
					 sizeof(why)),
			 -EINVAL);
	ck_assert_int_eq(cfs_token_parse("", &back, why, sizeof(why)),
			 -EINVAL);
	ck_assert_int_eq(cfs_token_parse("garbage", &back, why, sizeof(why)),
			 -EINVAL);
}
END_TEST

START_TEST(test_peers_accept_their_cluster_only_until_expiry)
{
	char line[CFS_TOKEN_MAX], why[128];
	struct cfs_token mds = issue(dir, CFS_ROLE_MDS, 0, line, sizeof(line));
	struct cfs_token client = issue(dir, CFS_ROLE_CLIENT, time(NULL) + 60,
					line, sizeof(line));
	struct cfs_token other = issue(dir2, CFS_ROLE_CLIENT, 0, line,
				       sizeof(line));
	int64_t now = time(NULL);

	ck_assert_int_eq(cfs_token_accepts(&mds, &client, now, why,
					   sizeof(why)),
			 0);
	ck_assert_int_eq(cfs_token_accepts(&mds, &other, now, why,
					   sizeof(why)),
			 -EACCES);
	ck_assert_str_eq(why, "a token of another cluster");
	ck_assert_int_eq(cfs_token_accepts(&mds, &client, now + 61, why,
					   sizeof(why)),
			 -EACCES);
	ck_assert_str_eq(why, "an expired token");
}
END_TEST

START_TEST(test_revoked_tokens_are_known_by_the_register)
{
	char line[CFS_TOKEN_MAX], out[8192];
	struct cfs_token t = issue(dir, CFS_ROLE_CLIENT, 0, line, sizeof(line));
	struct cfs_token u = issue(dir, CFS_ROLE_OSD, 0, line, sizeof(line));
	FILE *f;

	ck_assert_int_eq(cfs_token_revoked(dir, t.id), 0);
	ck_assert_int_eq(cfs_token_revoke(dir, t.id), 0);
	ck_assert_int_eq(cfs_token_revoked(dir, t.id), 1);
	ck_assert_int_eq(cfs_token_revoked(dir, u.id), 0);
	ck_assert_int_eq(cfs_token_revoke(dir, "0123456789abcdef"), -ESRCH);
	ck_assert_int_eq(cfs_token_revoke("/nonexistent", t.id), -ENOENT);
	f = fmemopen(out, sizeof(out), "w");
	ck_assert_int_eq(cfs_token_list(dir, f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, t.id));
	ck_assert_ptr_nonnull(strstr(out, u.id));
	ck_assert_ptr_nonnull(strstr(out, "REVOKED"));
}
END_TEST

START_TEST(test_a_rotated_key_is_accepted_until_its_deadline)
{
	char line[CFS_TOKEN_MAX], why[128];
	struct cfs_token old = issue(dir, CFS_ROLE_CLIENT, 0, line,
				     sizeof(line));
	struct cfs_token fresh;
	int64_t now = time(NULL);

	ck_assert_int_eq(cfs_secret_rotate(dir, 100), 0);
	fresh = issue(dir, CFS_ROLE_MDS, 0, line, sizeof(line));
	ck_assert_mem_ne(fresh.cluster_pk, old.cluster_pk, 32);
	ck_assert_int_eq(cfs_token_accepts(&fresh, &old, now, why,
					   sizeof(why)),
			 0);
	ck_assert_int_eq(cfs_token_accepts(&fresh, &old, now + 200, why,
					   sizeof(why)),
			 -EACCES);
	ck_assert_str_eq(why, "signed by a key this cluster no longer "
			      "accepts (rotated)");
	/* the new token reads back with what it accepts */
	ck_assert_int_eq(cfs_token_parse(line, &fresh, why, sizeof(why)), 0);
	ck_assert_int_eq(fresh.naccept, 1);
	ck_assert_mem_eq(fresh.accept_pk[0], old.cluster_pk, 32);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("token", setup, teardown,
		      test_init_writes_a_private_cluster_once,
		      test_a_token_reads_back_as_issued,
		      test_a_changed_or_truncated_token_is_refused,
		      test_peers_accept_their_cluster_only_until_expiry,
		      test_revoked_tokens_are_known_by_the_register,
		      test_a_rotated_key_is_accepted_until_its_deadline);
}
