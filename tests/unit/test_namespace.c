/* Namespace operations on a real LMDB store in a temporary directory:
 * each test commits its operations as the MDS writer would and checks
 * what a user of the file system would see. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../mds/acl.h"

#include "../../mds/fsck.h"
#include "../../mds/namespace.h"
#include "cfs/layout.h"

#include "check_main.h"

#define STORE_DIR 32	/* a store's directory name, bytes */

static struct cfs_ns ns;
static char dir[STORE_DIR];
static const struct cfs_ns_opts opts = { .map_size = 64 << 20,
					 .log_size = 1 << 20 };
static const struct cfs_cred root = { .uid = 0 };
static const struct cfs_cred alice = { .uid = 1000, .gid = 1000,
				       .ngroups = 1, .groups = { 2000 } };
static const struct cfs_cred bob = { .uid = 1001, .gid = 1001 };

/* A store in a new directory of its own (d: STORE_DIR bytes), and its
 * end. */
static void store_open(struct cfs_ns *s, char *d)
{
	/* mkdtemp's template: it replaces the six Xs */
	snprintf(d, STORE_DIR, "/tmp/cfs_ns_test_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	ck_assert_int_eq(cfs_ns_open(s, d, &opts), 0);
}

static void store_close(struct cfs_ns *s, const char *d)
{
	char cmd[128];

	cfs_ns_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
	ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
	store_open(&ns, dir);
}

static void teardown(void)
{
	store_close(&ns, dir);
}

/* Run one operation in its own committed write transaction (of store
 * s for WS, of ns for W). */
#define W(expr) WS(&ns, expr)
#define WS(s, expr)                                                          \
	({                                                                   \
		MDB_txn *txn_;                                               \
		int rc_;                                                     \
		ck_assert_int_eq(cfs_ns_begin(s, NULL, true, &txn_), 0);     \
		rc_ = (expr);                                                \
		if (rc_ == 0)                                                \
			ck_assert_int_eq(cfs_ns_commit(txn_), 0);            \
		else                                                         \
			cfs_ns_abort(txn_);                                  \
		rc_;                                                         \
	})
#define txn txn_

static uint64_t mk(const struct cfs_cred *cr, uint64_t parent,
		   const char *name, uint32_t mode)
{
	struct cfs_inode in;

	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, cr, parent, name,
					strlen(name), mode, 0, true, &in)),
			 0);
	return in.ino;
}

static int look(const struct cfs_cred *cr, uint64_t parent, const char *name,
		struct cfs_inode *out)
{
	struct cfs_inode tmp;

	return W(cfs_ns_lookup(&ns, txn, cr, parent, name, strlen(name),
			       out ? out : &tmp));
}

static struct cfs_inode attr(uint64_t ino)
{
	struct cfs_inode in;

	ck_assert_int_eq(W(cfs_ns_getattr(&ns, txn, ino, &in)), 0);
	return in;
}

START_TEST(test_create_lookup_unlink_file)
{
	struct cfs_inode in;
	uint64_t f = mk(&root, CFS_ROOT_INO, "a", S_IFREG | 0644);

	ck_assert_int_eq(look(&root, CFS_ROOT_INO, "a", &in), 0);
	ck_assert_uint_eq(in.ino, f);
	ck_assert_uint_eq(in.nlink, 1);
	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, &root, CFS_ROOT_INO, "a", 1,
					S_IFREG | 0644, 0, true, &in)),
			 -EEXIST);
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, CFS_ROOT_INO, "a",
					 1)), 0);
	ck_assert_int_eq(look(&root, CFS_ROOT_INO, "a", NULL), -ENOENT);
	ck_assert_int_eq(W(cfs_ns_getattr(&ns, txn, f, &in)), -ENOENT);
}
END_TEST

START_TEST(test_names_are_checked)
{
	char longname[300];
	struct cfs_inode in;

	/* an empty name as protobuf-c unpacks one: no bytes, no pointer
	 * (found by fuzz_mds: a memcpy from NULL) */
	ck_assert_int_eq(W(cfs_ns_lookup(&ns, txn, &root, CFS_ROOT_INO, NULL, 0,
					 &in)), -ENOENT);

	memset(longname, 'x', sizeof(longname));
	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, &root, CFS_ROOT_INO, longname,
					256, S_IFREG, 0, true, &in)),
			 -ENAMETOOLONG);
	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, &root, CFS_ROOT_INO, longname,
					255, S_IFREG, 0, true, &in)),
			 0);
	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, &root, CFS_ROOT_INO, "a/b", 3,
					S_IFREG, 0, true, &in)),
			 -EINVAL);
	/* every byte but '/' and NUL is a valid name byte */
	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, &root, CFS_ROOT_INO,
					"\x01\xff\n ", 4, S_IFREG, 0, true,
					&in)), 0);
}
END_TEST

START_TEST(test_mkdir_rmdir_and_link_counts)
{
	uint64_t d = mk(&root, CFS_ROOT_INO, "d", S_IFDIR | 0755);
	uint64_t e;

	ck_assert_uint_eq(attr(CFS_ROOT_INO).nlink, 3);
	ck_assert_uint_eq(attr(d).nlink, 2);
	e = mk(&root, d, "e", S_IFDIR | 0755);
	ck_assert_uint_eq(attr(d).nlink, 3);
	mk(&root, e, "f", S_IFREG | 0644);
	ck_assert_int_eq(W(cfs_ns_rmdir(&ns, txn, &root, d, "e", 1)),
			 -ENOTEMPTY);
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, d, "e", 1)), -EISDIR);
	ck_assert_int_eq(W(cfs_ns_rmdir(&ns, txn, &root, e, "f", 1)), -ENOTDIR);
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, e, "f", 1)), 0);
	ck_assert_int_eq(W(cfs_ns_rmdir(&ns, txn, &root, d, "e", 1)), 0);
	ck_assert_uint_eq(attr(d).nlink, 2);
}
END_TEST

START_TEST(test_hard_links_and_symlinks)
{
	uint64_t f = mk(&root, CFS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t d = mk(&root, CFS_ROOT_INO, "d", S_IFDIR | 0755);
	struct cfs_inode in;
	char buf[64];
	size_t len;

	ck_assert_int_eq(W(cfs_ns_link(&ns, txn, &root, f, d, "g", 1, &in)), 0);
	ck_assert_uint_eq(attr(f).nlink, 2);
	ck_assert_int_eq(W(cfs_ns_link(&ns, txn, &root, d, CFS_ROOT_INO, "x",
				       1, &in)), -EPERM);
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, CFS_ROOT_INO, "f",
					 1)), 0);
	ck_assert_uint_eq(attr(f).nlink, 1);
	ck_assert_int_eq(W(cfs_ns_symlink(&ns, txn, &root, CFS_ROOT_INO, "s",
					  1, "d/g", 3, &in)), 0);
	ck_assert_int_eq(W(cfs_ns_readlink(&ns, txn, in.ino, buf, sizeof(buf),
					   &len)), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(buf, "d/g", 3);
	ck_assert_int_eq(W(cfs_ns_readlink(&ns, txn, f, buf, sizeof(buf),
					   &len)), -EINVAL);
}
END_TEST

/* Whether ino lies within dir (a subtree token's reach). */
static bool within(uint64_t ino, uint64_t dir)
{
	bool w = false;

	ck_assert_int_eq(W(cfs_ns_within(&ns, txn, ino, dir, &w)), 0);
	return w;
}

/* A file is within the directory of its first link, through renames;
 * once that link goes, within none (its other links may be anywhere). */
START_TEST(test_a_file_is_within_the_directory_of_its_first_link)
{
	uint64_t a = mk(&root, CFS_ROOT_INO, "wa", S_IFDIR | 0755);
	uint64_t b = mk(&root, CFS_ROOT_INO, "wb", S_IFDIR | 0755);
	uint64_t sub = mk(&root, a, "sub", S_IFDIR | 0755);
	uint64_t f = mk(&root, sub, "f", S_IFREG | 0644);
	uint64_t s;
	struct cfs_inode in;

	ck_assert_int_eq(W(cfs_ns_symlink(&ns, txn, &root, sub, "l", 1, "f",
					  1, &in)), 0);
	s = in.ino;
	ck_assert(within(f, a) && within(f, sub) && within(s, a));
	ck_assert(!within(f, b) && within(f, CFS_ROOT_INO));
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, sub, "f", 1, b, "f",
					 1, 0)), 0);
	ck_assert(within(f, b) && !within(f, a));
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, a, "sub", 3, b,
					 "sub", 3, 0)), 0);
	ck_assert(within(s, b) && !within(s, a));
	/* a second link elsewhere, then the first goes */
	ck_assert_int_eq(W(cfs_ns_link(&ns, txn, &root, f, a, "g", 1, &in)),
			 0);
	ck_assert(within(f, b) && !within(f, a));
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, b, "f", 1)), 0);
	ck_assert(!within(f, b) && !within(f, a) && !within(f, CFS_ROOT_INO));
}
END_TEST

START_TEST(test_rename_rules)
{
	uint64_t a = mk(&root, CFS_ROOT_INO, "a", S_IFDIR | 0755);
	uint64_t b = mk(&root, CFS_ROOT_INO, "b", S_IFDIR | 0755);
	uint64_t f = mk(&root, a, "f", S_IFREG | 0644);
	struct cfs_inode in;

	mk(&root, a, "sub", S_IFDIR | 0755);
	mk(&root, b, "g", S_IFREG | 0644);
	/* into its own subtree */
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, CFS_ROOT_INO, "a", 1,
					 a, "x", 1, 0)), -EINVAL);
	/* file over a directory and back */
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, a, "f", 1, a, "sub",
					 3, 0)), -EISDIR);
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, a, "sub", 3, a, "f",
					 1, 0)), -ENOTDIR);
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, a, "f", 1, b, "g", 1,
					 RENAME_NOREPLACE)), -EEXIST);
	/* replace: g's inode goes, f keeps its inode under the new name */
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, a, "f", 1, b, "g", 1,
					 0)), 0);
	ck_assert_int_eq(look(&root, b, "g", &in), 0);
	ck_assert_uint_eq(in.ino, f);
	ck_assert_int_eq(look(&root, a, "f", NULL), -ENOENT);
	/* a directory moves: parents' link counts follow */
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, a, "sub", 3, b, "sub",
					 3, 0)), 0);
	ck_assert_uint_eq(attr(a).nlink, 2);
	ck_assert_uint_eq(attr(b).nlink, 3);
	ck_assert_int_eq(look(&root, b, "sub", &in), 0);
	ck_assert_int_eq(look(&root, in.ino, "..", &in), 0);
	ck_assert_uint_eq(in.ino, b);
	/* exchange swaps */
	mk(&root, a, "h", S_IFREG | 0644);
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, a, "h", 1, b, "sub",
					 3, RENAME_EXCHANGE)), 0);
	ck_assert_int_eq(look(&root, a, "h", &in), 0);
	ck_assert(S_ISDIR(in.mode));
	ck_assert_uint_eq(attr(a).nlink, 3);
	ck_assert_uint_eq(attr(b).nlink, 2);
	/* over an empty directory works, over a full one does not */
	mk(&root, a, "empty", S_IFDIR | 0755);
	mk(&root, a, "full", S_IFDIR | 0755);
	mk(&root, a, "mover", S_IFDIR | 0755);
	ck_assert_int_eq(look(&root, a, "full", &in), 0);
	mk(&root, in.ino, "x", S_IFREG);
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, a, "mover", 5, a,
					 "full", 4, 0)), -ENOTEMPTY);
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, a, "mover", 5, a,
					 "empty", 5, 0)), 0);
}
END_TEST

START_TEST(test_readdir_cookies_survive_changes)
{
	struct cfs_dirent ents[4];
	size_t n, total = 0;
	uint64_t cookie = 0;
	bool eof = false, seen[100] = { false };
	int churn = 0;
	char name[32];

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		mk(&root, CFS_ROOT_INO, name, S_IFREG | 0644);
	}
	while (!eof) {
		ck_assert_int_eq(W(cfs_ns_readdir(&ns, txn, &root, CFS_ROOT_INO,
						  cookie, ents, 4, &n, &eof)),
				 0);
		for (size_t i = 0; i < n; i++) {
			int k = atoi(ents[i].name + 1);

			if (ents[i].name[0] != 'f')
				continue;	/* added during the walk */
			ck_assert(!seen[k]);	/* never twice */
			seen[k] = true;
			total++;
			cookie = ents[i].cookie;
		}
		if (n)
			cookie = ents[n - 1].cookie;
		/* churn while listing: add an entry and remove another */
		snprintf(name, sizeof(name), "g%d", ++churn);
		mk(&root, CFS_ROOT_INO, name, S_IFREG);
		if (churn > 4) {
			snprintf(name, sizeof(name), "g%d", churn - 4);
			W(cfs_ns_unlink(&ns, txn, &root, CFS_ROOT_INO, name,
					strlen(name)));
		}
	}
	/* everything present throughout was returned */
	ck_assert_uint_eq(total, 100);
}
END_TEST

START_TEST(test_permission_checks)
{
	struct cfs_inode in;
	struct cfs_setattr sa = { 0 };
	uint64_t pub = mk(&root, CFS_ROOT_INO, "pub", S_IFDIR | 01777);
	uint64_t priv = mk(&root, CFS_ROOT_INO, "priv", S_IFDIR | 0700);
	uint64_t f;

	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, &alice, CFS_ROOT_INO, "no",
					2, S_IFREG | 0644, 0, true, &in)),
			 -EACCES);
	ck_assert_int_eq(look(&alice, priv, "anything", NULL), -EACCES);
	f = mk(&alice, pub, "mine", S_IFREG | 0600);
	ck_assert_uint_eq(attr(f).uid, 1000);
	ck_assert_int_eq(W(cfs_ns_open_check(&ns, txn, &bob, f, O_RDONLY, &in)),
			 -EACCES);
	ck_assert_int_eq(W(cfs_ns_open_check(&ns, txn, &alice, f, O_RDWR, &in)),
			 0);
	/* sticky: bob cannot remove or rename alice's file */
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &bob, pub, "mine", 4)),
			 -EPERM);
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &bob, pub, "mine", 4, pub,
					 "b", 1, 0)), -EPERM);
	/* chmod by non-owner, chown to another user by non-root */
	sa.valid = CFS_SET_MODE;
	sa.mode = 0777;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, f, &sa, &in)), -EPERM);
	sa.valid = CFS_SET_UID;
	sa.uid = 1001;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &alice, f, &sa, &in)),
			 -EPERM);
	/* chgrp to a supplementary group of the owner is allowed */
	sa.valid = CFS_SET_GID;
	sa.gid = 2000;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &alice, f, &sa, &in)), 0);
	ck_assert_uint_eq(attr(f).gid, 2000);
	/* explicit times, or one of them set to now, need ownership (as
	 * Linux's utimensat); both set to now need write access */
	sa.valid = CFS_SET_MTIME;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, f, &sa, &in)), -EPERM);
	sa.valid = CFS_SET_MTIME_NOW;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, f, &sa, &in)), -EPERM);
	sa.valid = CFS_SET_ATIME | CFS_SET_MTIME | CFS_SET_ATIME_NOW |
		   CFS_SET_MTIME_NOW;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, f, &sa, &in)),
			 -EACCES);
}
END_TEST

/* Another user who may write a file may drop its set-ID bits (the kernel
 * asks that on their write or truncate) and set both times to now, and
 * nothing more; one who may not write, neither. */
START_TEST(test_a_writer_drops_set_id_bits_and_touches)
{
	struct cfs_inode in;
	struct cfs_setattr sa = { 0 };
	uint64_t pub = mk(&root, CFS_ROOT_INO, "pub2", S_IFDIR | 01777);
	uint64_t f = mk(&alice, pub, "setid", S_IFREG | 06777);
	uint64_t g = mk(&alice, pub, "ro", S_IFREG | 06755);

	sa.valid = CFS_SET_MODE;
	sa.mode = 0777;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, f, &sa, &in)), 0);
	ck_assert_uint_eq(attr(f).mode & 07777, 0777);
	sa.mode = 0755;		/* more than the set-ID bits */
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, f, &sa, &in)), -EPERM);
	sa.mode = 0755;		/* bob may not write g */
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, g, &sa, &in)),
			 -EACCES);
	ck_assert_uint_eq(attr(g).mode & 07777, 06755);
	sa.valid = CFS_SET_ATIME | CFS_SET_MTIME | CFS_SET_ATIME_NOW |
		   CFS_SET_MTIME_NOW;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, f, &sa, &in)), 0);
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, g, &sa, &in)),
			 -EACCES);
	/* through a handle open for writing (a punch): mtime to now */
	sa.valid = CFS_SET_MTIME_NOW | CFS_SET_HANDLE;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, f, &sa, &in)), 0);
	sa.valid = CFS_SET_MTIME | CFS_SET_HANDLE;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &bob, f, &sa, &in)), -EPERM);
}
END_TEST

START_TEST(test_setgid_directory_and_suid_clearing)
{
	struct cfs_inode in;
	struct cfs_setattr sa = { 0 };
	uint64_t d = mk(&root, CFS_ROOT_INO, "shared", S_IFDIR | 02777);
	uint64_t sub, f;

	sa.valid = CFS_SET_GID;
	sa.gid = 2000;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &root, d, &sa, &in)), 0);
	sub = mk(&bob, d, "sub", S_IFDIR | 0755);
	f = mk(&bob, d, "f", S_IFREG | 04755);
	ck_assert_uint_eq(attr(sub).gid, 2000);
	ck_assert(attr(sub).mode & S_ISGID);
	ck_assert_uint_eq(attr(f).gid, 2000);
	/* chown by root clears setuid */
	sa.valid = CFS_SET_UID;
	sa.uid = 1000;
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &root, f, &sa, &in)), 0);
	ck_assert(!(attr(f).mode & S_ISUID));
}
END_TEST

START_TEST(test_xattr_flags_limits_and_namespaces)
{
	uint64_t f = mk(&root, CFS_ROOT_INO, "f", S_IFREG | 0644);
	char buf[128], big[CFS_XATTR_SIZE_MAX + 1] = { 0 };
	size_t len;

	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, "user.a", "1", 1,
					   XATTR_REPLACE)), -ENODATA);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, "user.a", "1", 1,
					   XATTR_CREATE)), 0);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, "user.a", "2", 1,
					   XATTR_CREATE)), -EEXIST);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, "user.a", "22",
					   2, XATTR_REPLACE)), 0);
	ck_assert_int_eq(W(cfs_ns_getxattr(&ns, txn, &root, f, "user.a", buf,
					   sizeof(buf), &len)), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(W(cfs_ns_getxattr(&ns, txn, &root, f, "user.a", buf, 1,
					   &len)), -ERANGE);
	ck_assert_int_eq(W(cfs_ns_getxattr(&ns, txn, &root, f, "user.zz", buf,
					   sizeof(buf), &len)), -ENODATA);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, "user.big", big,
					   sizeof(big), 0)), -E2BIG);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, "bogus.a", "1",
					   1, 0)), -EOPNOTSUPP);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &alice, f, "trusted.t",
					   "1", 1, 0)), -EPERM);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, "trusted.t", "1",
					   1, 0)), 0);
	/* trusted.* is listed for root only */
	ck_assert_int_eq(W(cfs_ns_listxattr(&ns, txn, &root, f, buf,
					    sizeof(buf), &len)), 0);
	ck_assert_uint_eq(len, strlen("trusted.t") + 1 + strlen("user.a") + 1);
	ck_assert_int_eq(W(cfs_ns_listxattr(&ns, txn, &alice, f, buf,
					    sizeof(buf), &len)), 0);
	ck_assert_uint_eq(len, strlen("user.a") + 1);
	ck_assert_int_eq(W(cfs_ns_removexattr(&ns, txn, &root, f, "user.a")), 0);
	ck_assert_int_eq(W(cfs_ns_removexattr(&ns, txn, &root, f, "user.a")),
			 -ENODATA);
}
END_TEST

static bool always_open(void *arg, uint64_t ino)
{
	(void)arg;
	(void)ino;
	return true;
}

static bool stays_if_g(void *arg, uint64_t ino)
{
	return ino == *(uint64_t *)arg;
}

START_TEST(test_unlinked_open_file_lives_until_release_and_restart)
{
	uint64_t f = mk(&root, CFS_ROOT_INO, "f", S_IFREG | 0644), ino, size;
	uint64_t g = mk(&root, CFS_ROOT_INO, "g", S_IFREG | 0644);
	uint32_t layout;
	unsigned reaped;
	struct cfs_inode in;

	ns.is_open = always_open;
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, CFS_ROOT_INO, "f",
					 1)), 0);
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, CFS_ROOT_INO, "g",
					 1)), 0);
	ns.is_open = NULL;
	ck_assert_int_eq(W(cfs_ns_getattr(&ns, txn, f, &in)), 0);
	ck_assert_uint_eq(in.nlink, 0);
	/* after a restart, the reaping frees those no one says are open
	 * (g is), and their data is queued for purge */
	cfs_ns_close(&ns);
	ck_assert_int_eq(cfs_ns_open(&ns, dir, &opts), 0);
	ck_assert_int_eq(W(cfs_ns_reap_orphans(&ns, txn, stays_if_g, &g,
					       &reaped)), 0);
	ck_assert_uint_eq(reaped, 1);
	ck_assert_int_eq(W(cfs_ns_getattr(&ns, txn, f, &in)), -ENOENT);
	ck_assert_int_eq(W(cfs_ns_getattr(&ns, txn, g, &in)), 0);
	ck_assert_int_eq(W(cfs_ns_purge_next(&ns, txn, 0, &ino, &size,
					     &layout)), 0);
	ck_assert_uint_eq(ino, f);
	ck_assert_uint_eq(layout, 0);
	/* and once no one has g open either, it goes too */
	ck_assert_int_eq(W(cfs_ns_reap_orphans(&ns, txn, NULL, NULL,
					       &reaped)), 0);
	ck_assert_uint_eq(reaped, 1);
	ck_assert_int_eq(W(cfs_ns_getattr(&ns, txn, g, &in)), -ENOENT);
}
END_TEST

/* A layout set on a directory is taken by what is made in it, read back
 * as text, kept for the purge of a file's data; a file with data keeps
 * its own; nonsense is refused. */
START_TEST(test_layouts_are_inherited_and_kept_for_purge)
{
	uint64_t d = mk(&root, CFS_ROOT_INO, "d", S_IFDIR | 0755), f, sub, g, ino, size;
	struct cfs_setattr sa = { .valid = CFS_SET_SIZE, .size = 1 };
	struct cfs_layout want;
	struct cfs_inode in;
	uint32_t layout;
	char buf[32];
	size_t len;

	ck_assert_int_eq(W(cfs_ns_getxattr(&ns, txn, &root, d, CFS_LAYOUT_XATTR,
					   buf, sizeof(buf), &len)), 0);
	ck_assert(len == 7 && !memcmp(buf, "default", 7));
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, d, CFS_LAYOUT_XATTR,
					   "ec:5+5", 6, 0)), -EINVAL);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, d, CFS_LAYOUT_XATTR,
					   "ec:4+2/256K\n", 12, 0)), 0);
	f = mk(&root, d, "f", S_IFREG | 0644);
	sub = mk(&root, d, "sub", S_IFDIR | 0755);
	g = mk(&root, sub, "g", S_IFREG | 0644);
	ck_assert_int_eq(cfs_layout_parse("ec:4+2/256K", &want), 0);
	for (int i = 0; i < 3; i++) {
		uint64_t x = i == 0 ? f : i == 1 ? sub : g;

		ck_assert_int_eq(W(cfs_ns_getattr(&ns, txn, x, &in)), 0);
		ck_assert_uint_eq(cfs_inode_layout(&in), cfs_layout_pack(&want));
	}
	ck_assert_int_eq(W(cfs_ns_getxattr(&ns, txn, &root, g, CFS_LAYOUT_XATTR,
					   buf, sizeof(buf), &len)), 0);
	ck_assert(len == 11 && !memcmp(buf, "ec:4+2/256K", 11));
	/* not listed: copying a file's xattrs does not try to set it */
	ck_assert_int_eq(W(cfs_ns_listxattr(&ns, txn, &root, g, buf,
					    sizeof(buf), &len)), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &root, g, &sa, &in)), 0);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, g, CFS_LAYOUT_XATTR,
					   "rep:2", 5, 0)), -EBUSY);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, CFS_LAYOUT_XATTR,
					   "rep:2", 5, 0)), 0);
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, sub, "g", 1)), 0);
	ck_assert_int_eq(W(cfs_ns_purge_next(&ns, txn, 0, &ino, &size,
					     &layout)), 0);
	ck_assert(ino == g && size == 1 && layout == cfs_layout_pack(&want));
	/* back to the default for what is made from now on */
	ck_assert_int_eq(W(cfs_ns_removexattr(&ns, txn, &root, d,
					      CFS_LAYOUT_XATTR)), 0);
	f = mk(&root, d, "h", S_IFREG | 0644);
	ck_assert_int_eq(W(cfs_ns_getattr(&ns, txn, f, &in)), 0);
	ck_assert_uint_eq(cfs_inode_layout(&in), 0);
}
END_TEST

/* What an OSD's garbage collection is told: a deleted inode is gone, a
 * live one has its size, and neither the root nor an inode the store
 * never made (it may have lost recent changes) is gone. */
START_TEST(test_gone_only_what_was_made_and_deleted)
{
	uint64_t f = mk(&root, CFS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t g = mk(&root, CFS_ROOT_INO, "g", S_IFREG | 0644), size;
	struct cfs_setattr sa = { .valid = CFS_SET_SIZE, .size = 12345 };
	struct cfs_inode in;
	bool gone;

	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &root, g, &sa, &in)), 0);
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, CFS_ROOT_INO, "f",
					 1)), 0);
	ck_assert_int_eq(W(cfs_ns_gone(&ns, txn, f, &gone, &size)), 0);
	ck_assert(gone && size == UINT64_MAX);
	ck_assert_int_eq(W(cfs_ns_gone(&ns, txn, g, &gone, &size)), 0);
	ck_assert(!gone && size == 12345);
	ck_assert_int_eq(W(cfs_ns_gone(&ns, txn, CFS_ROOT_INO, &gone, &size)),
			 0);
	ck_assert(!gone && size == UINT64_MAX);
	ck_assert_int_eq(W(cfs_ns_gone(&ns, txn, g + 1, &gone, &size)), 0);
	ck_assert(!gone && size == UINT64_MAX);
	ck_assert_int_eq(W(cfs_ns_gone(&ns, txn, g + 1000, &gone, &size)), 0);
	ck_assert(!gone && size == UINT64_MAX);
}
END_TEST

START_TEST(test_setattr_size_and_written)
{
	uint64_t f = mk(&root, CFS_ROOT_INO, "f", S_IFREG | 0644);
	struct cfs_setattr sa = { .valid = CFS_SET_SIZE, .size = 5ull << 32 };
	struct cfs_inode in;

	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &root, f, &sa, &in)), 0);
	ck_assert_uint_eq(attr(f).size, 5ull << 32);
	ck_assert_int_eq(W(cfs_ns_written(&ns, txn, f, 100, 1, &in)), 0);
	ck_assert_uint_eq(attr(f).size, 5ull << 32);	/* never shrinks */
	ck_assert_int_eq(W(cfs_ns_written(&ns, txn, f, 6ull << 32, 2, &in)), 0);
	ck_assert_uint_eq(attr(f).size, 6ull << 32);
}
END_TEST

/* An ACL {tag, perm, id}... in the Linux xattr format. */
static size_t make_acl(uint8_t *buf, const uint32_t (*e)[3], int n)
{
	memset(buf, 0, 4 + 8 * (size_t)n);
	buf[0] = 2;
	for (int i = 0; i < n; i++) {
		uint8_t *p = buf + 4 + 8 * i;

		p[0] = (uint8_t)e[i][0];
		p[2] = (uint8_t)e[i][1];
		memcpy(p + 4, &e[i][2], 4);
	}
	return 4 + 8 * (size_t)n;
}

START_TEST(test_acl_enforced_by_the_mds_and_inherited)
{
	static const uint32_t ext[][3] = { { 1, 6, 0 },	   { 2, 6, 1001 },
					   { 4, 0, 0 },	   { 0x10, 6, 0 },
					   { 0x20, 0, 0 } };
	struct cfs_cred masked = { .uid = 1001, .gid = 1001, .umask = 077 };
	struct cfs_setattr sa = { .valid = CFS_SET_MODE, .mode = 0600 };
	uint64_t f = mk(&root, CFS_ROOT_INO, "f", S_IFREG | 0600), d;
	uint8_t acl[64];
	size_t n = make_acl(acl, ext, 5);
	struct cfs_inode in;

	ck_assert_int_eq(W(cfs_ns_open_check(&ns, txn, &bob, f, O_RDWR, &in)),
			 -EACCES);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, CFS_ACL_ACCESS,
					   acl, n, 0)), 0);
	ck_assert_uint_eq(attr(f).mode & 0777, 0660);	/* mask -> group bits */
	ck_assert_int_eq(W(cfs_ns_open_check(&ns, txn, &bob, f, O_RDWR, &in)), 0);
	ck_assert_int_eq(W(cfs_ns_open_check(&ns, txn, &alice, f, O_RDONLY,
					     &in)), -EACCES);
	/* chmod narrows the mask, and with it the named user */
	ck_assert_int_eq(W(cfs_ns_setattr(&ns, txn, &root, f, &sa, &in)), 0);
	ck_assert_int_eq(W(cfs_ns_open_check(&ns, txn, &bob, f, O_RDONLY, &in)),
			 -EACCES);
	/* a default ACL replaces the umask on create, and is inherited */
	d = mk(&root, CFS_ROOT_INO, "d", S_IFDIR | 0777);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, d, CFS_ACL_DEFAULT,
					   acl, n, 0)), 0);
	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, &root, d, "g", 1,
					S_IFREG | 0666, 0, true, &in)), 0);
	ck_assert_uint_eq(in.mode & 0777, 0660);
	ck_assert_int_eq(W(cfs_ns_open_check(&ns, txn, &bob, in.ino, O_RDWR,
					     &in)), 0);
	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, &masked, CFS_ROOT_INO, "h", 1,
					S_IFREG | 0666, 0, true, &in)), -EACCES);
	ck_assert_int_eq(W(cfs_ns_mknod(&ns, txn, &masked, d, "h", 1,
					S_IFREG | 0666, 0, true, &in)), 0);
	ck_assert_uint_eq(in.mode & 0777, 0660);	/* umask 077 ignored */
}
END_TEST

static int problems;

static void count_problem(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
	problems++;
}

static uint64_t fsck_problems(void)
{
	struct cfs_fsck_report rep;

	problems = 0;
	ck_assert_int_eq(W(cfs_ns_fsck((struct cfs_ns *[]){ &ns }, &txn, 1, &rep, count_problem, NULL)), 0);
	ck_assert_int_eq(problems, (int)rep.problems);
	return rep.problems;
}

START_TEST(test_fsck_clean_after_every_kind_of_change)
{
	uint64_t d = mk(&root, CFS_ROOT_INO, "d", S_IFDIR | 0755);
	uint64_t f = mk(&root, d, "f", S_IFREG | 0644);
	struct cfs_inode in;

	mk(&root, d, "sub", S_IFDIR | 0755);
	ck_assert_int_eq(W(cfs_ns_link(&ns, txn, &root, f, CFS_ROOT_INO, "h", 1,
				       &in)), 0);
	ck_assert_int_eq(W(cfs_ns_symlink(&ns, txn, &root, d, "s", 1, "f", 1,
					  &in)), 0);
	ck_assert_int_eq(W(cfs_ns_rename(&ns, txn, &root, d, "sub", 3,
					 CFS_ROOT_INO, "moved", 5, 0)), 0);
	ck_assert_int_eq(W(cfs_ns_setxattr(&ns, txn, &root, f, "user.x", "1", 1,
					   0)), 0);
	ck_assert_int_eq(W(cfs_ns_unlink(&ns, txn, &root, d, "f", 1)), 0);
	ck_assert_uint_eq(fsck_problems(), 0);
}
END_TEST

START_TEST(test_fsck_finds_damage)
{
	uint64_t f = mk(&root, CFS_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t g = mk(&root, CFS_ROOT_INO, "g", S_IFREG | 0644);
	struct cfs_inode in;
	uint8_t key[8];
	MDB_val k = { 8, key }, v;
	MDB_txn *t;

	/* a lost inode record: the entry dangles */
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(f >> (56 - 8 * i));
	ck_assert_int_eq(cfs_ns_begin(&ns, NULL, true, &t), 0);
	ck_assert_int_eq(mdb_del(t, ns.inodes, &k, NULL), 0);
	ck_assert_int_eq(cfs_ns_commit(t), 0);
	ck_assert_uint_eq(fsck_problems(), 1);
	/* a wrong link count */
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(g >> (56 - 8 * i));
	ck_assert_int_eq(W(cfs_ns_getattr(&ns, txn, g, &in)), 0);
	in.nlink = 5;
	v.mv_size = sizeof(in);
	v.mv_data = &in;
	ck_assert_int_eq(cfs_ns_begin(&ns, NULL, true, &t), 0);
	ck_assert_int_eq(mdb_put(t, ns.inodes, &k, &v, 0), 0);
	ck_assert_int_eq(cfs_ns_commit(t), 0);
	ck_assert_uint_eq(fsck_problems(), 2);
}
END_TEST

/* A store from before the readdir index held inodes (its records only
 * names) is converted when opened for writing, and refused read-only
 * until then; a record left without its entry goes. */
START_TEST(test_an_old_readdir_index_is_converted_on_open)
{
	uint64_t d = mk(&root, CFS_ROOT_INO, "d", S_IFDIR | 0755);
	uint64_t a = mk(&root, d, "a", S_IFREG | 0644);
	uint64_t b = mk(&root, d, "b", S_IFDIR | 0700);
	struct cfs_dirent ents[8];
	MDB_val k = { strlen("cookie_format"), "cookie_format" }, v;
	MDB_cursor *cur;
	struct {
		uint8_t key[16];
		char name[8];
		size_t len;
	} old[3];
	size_t nold = 0;
	uint8_t stale[16];
	struct cfs_ns ro;
	uint64_t format;
	MDB_txn *t;
	size_t n;
	bool eof;

	/* back to the old format: names only, no format key, and a record
	 * naming an entry that is not there */
	ck_assert_int_eq(cfs_ns_begin(&ns, NULL, true, &t), 0);
	ck_assert_int_eq(mdb_del(t, ns.meta, &k, NULL), 0);
	ck_assert_int_eq(mdb_cursor_open(t, ns.cookies, &cur), 0);
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		ck_assert_uint_lt(nold, 3);
		memcpy(old[nold].key, k.mv_data, 16);
		old[nold].len = v.mv_size - 8;
		memcpy(old[nold].name, (uint8_t *)v.mv_data + 8, v.mv_size - 8);
		nold++;
	}
	mdb_cursor_close(cur);
	ck_assert_uint_eq(nold, 3);	/* d, d/a, d/b */
	for (size_t i = 0; i < nold; i++) {
		k = (MDB_val){ 16, old[i].key };
		v = (MDB_val){ old[i].len, old[i].name };
		ck_assert_int_eq(mdb_put(t, ns.cookies, &k, &v, 0), 0);
	}
	memcpy(stale, old[2].key, 8);	/* a ghost in d */
	for (int i = 0; i < 8; i++)
		stale[8 + i] = (uint8_t)((uint64_t)999 >> (56 - 8 * i));
	k = (MDB_val){ 16, stale };
	v = (MDB_val){ 5, "ghost" };
	ck_assert_int_eq(mdb_put(t, ns.cookies, &k, &v, 0), 0);
	ck_assert_int_eq(cfs_ns_commit(t), 0);
	cfs_ns_close(&ns);

	ck_assert_int_eq(cfs_ns_open_readonly(&ro, dir), -EPROTO);
	ck_assert_int_eq(cfs_ns_open(&ns, dir, &opts), 0);
	ck_assert_int_eq(W(cfs_ns_meta_get(&ns, txn, "cookie_format", &format)),
			 0);
	ck_assert_uint_eq(format, 2);
	ck_assert_int_eq(W(cfs_ns_readdir(&ns, txn, &root, d, 0, ents, 8, &n,
					  &eof)),
			 0);
	ck_assert(eof);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ents[0].name, "a");
	ck_assert_uint_eq(ents[0].attr.ino, a);
	ck_assert_str_eq(ents[1].name, "b");
	ck_assert_uint_eq(ents[1].attr.ino, b);
	ck_assert(S_ISDIR(ents[1].attr.mode));
	ck_assert_uint_eq(fsck_problems(), 0);
	ck_assert_int_eq(cfs_ns_open_readonly(&ro, dir), 0);
	cfs_ns_close(&ro);
}
END_TEST

/* A store from before files recorded the directory of their first link:
 * opening it gives each the directory of the first entry naming it. */
START_TEST(test_an_old_store_gets_the_parents_of_its_files_on_open)
{
	uint64_t d = mk(&root, CFS_ROOT_INO, "pd", S_IFDIR | 0755);
	uint64_t f = mk(&root, d, "f", S_IFREG | 0644);
	uint64_t s = mk(&root, d, "fifo", S_IFIFO | 0644);
	MDB_val k = { strlen("parent_format"), "parent_format" }, v;
	uint64_t format, inos[2] = { f, s };
	MDB_txn *t;

	ck_assert_int_eq(cfs_ns_begin(&ns, NULL, true, &t), 0);
	ck_assert_int_eq(mdb_del(t, ns.meta, &k, NULL), 0);
	for (int i = 0; i < 2; i++) {
		uint8_t key[8];
		struct cfs_inode in;

		for (int b = 0; b < 8; b++)
			key[b] = (uint8_t)(inos[i] >> (56 - 8 * b));
		k = (MDB_val){ 8, key };
		ck_assert_int_eq(mdb_get(t, ns.inodes, &k, &v), 0);
		memcpy(&in, v.mv_data, sizeof(in));
		in.parent = 0;	/* as every file had it */
		v = (MDB_val){ sizeof(in), &in };
		ck_assert_int_eq(mdb_put(t, ns.inodes, &k, &v, 0), 0);
	}
	ck_assert_int_eq(cfs_ns_commit(t), 0);
	ck_assert(!within(f, d) && !within(s, d));
	cfs_ns_close(&ns);
	ck_assert_int_eq(cfs_ns_open(&ns, dir, &opts), 0);
	ck_assert(within(f, d) && within(s, d) && within(f, CFS_ROOT_INO));
	ck_assert_int_eq(W(cfs_ns_meta_get(&ns, txn, "parent_format", &format)),
			 0);
	ck_assert_uint_eq(format, 2);
	ck_assert_uint_eq(fsck_problems(), 0);
}
END_TEST

/* What a replica does (mds/replica.c): the changes of a leader's
 * transaction applied to another store give it the same files; a dump
 * loaded into a store holding something else leaves exactly the dump's
 * files, and fsck finds both consistent. */
START_TEST(test_changes_and_dumps_carry_a_store_to_another)
{
	struct cfs_ns a, b;
	char adir[STORE_DIR], bdir[STORE_DIR];
	struct cfs_inode in, got;
	const uint8_t *ch;
	uint8_t *copy, *dump;
	size_t len;
	MDB_txn *t;
	uint64_t d, f;
	char target[16];

	store_open(&a, adir);
	store_open(&b, bdir);
	ck_assert_int_eq(WS(&b, cfs_ns_mknod(&b, txn, &root, CFS_ROOT_INO, "stale",
					5, S_IFREG | 0644, 0, true, &in)),
			 0);
	/* the leader's transaction: made, its changes taken, aborted */
	ck_assert_int_eq(cfs_ns_begin(&ns, NULL, true, &t), 0);
	ck_assert_int_eq(cfs_ns_mknod(&ns, t, &root, CFS_ROOT_INO, "d", 1,
				      S_IFDIR | 0750, 0, true, &in), 0);
	d = in.ino;
	ck_assert_int_eq(cfs_ns_mknod(&ns, t, &alice, d, "f", 1,
				      S_IFREG | 0600, 0, true, &in), -EACCES);
	ck_assert_int_eq(cfs_ns_mknod(&ns, t, &root, d, "f", 1, S_IFREG | 0600,
				      0, true, &in), 0);
	f = in.ino;
	ck_assert_int_eq(cfs_ns_setxattr(&ns, t, &root, f, "user.k", "v", 1, 0),
			 0);
	ck_assert_int_eq(cfs_ns_symlink(&ns, t, &root, d, "l", 1, "f", 1, &in),
			 0);
	ch = cfs_ns_changes(&ns, &len);
	ck_assert(ch && len > 0);
	copy = malloc(len);
	memcpy(copy, ch, len);
	cfs_ns_abort(t);
	ck_assert_int_eq(look(&root, CFS_ROOT_INO, "d", NULL), -ENOENT);
	/* applied elsewhere: there, as made */
	ck_assert_int_eq(WS(&a, cfs_ns_apply(&a, txn, copy, len)), 0);
	ck_assert_int_eq(W(cfs_ns_apply(&ns, txn, copy, len)), 0);
	free(copy);
	ck_assert_int_eq(WS(&a, cfs_ns_lookup(&a, txn, &root, d, "f", 1, &got)), 0);
	ck_assert_uint_eq(got.ino, f);
	ck_assert_uint_eq(got.mode, S_IFREG | 0600);
	ck_assert_int_eq(WS(&a, cfs_ns_getxattr(&a, txn, &root, f, "user.k",
					   target, sizeof(target), &len)), 0);
	ck_assert(len == 1 && target[0] == 'v');
	ck_assert_int_eq(WS(&a, cfs_ns_readlink(&a, txn, in.ino, target,
					   sizeof(target), &len)), 0);
	ck_assert(len == 1 && target[0] == 'f');
	/* the next inode number came along: a create there takes a new one */
	ck_assert_int_eq(WS(&a, cfs_ns_mknod(&a, txn, &root, d, "g", 1,
					S_IFREG | 0600, 0, true, &got)), 0);
	ck_assert_uint_gt(got.ino, in.ino);
	/* a dump of a, loaded into b: b is a, its own file gone */
	ck_assert_int_eq(cfs_ns_begin(&a, NULL, false, &t), 0);
	ck_assert_int_eq(cfs_ns_dump(&a, t, &dump, &len), 0);
	cfs_ns_abort(t);
	ck_assert_int_eq(WS(&b, cfs_ns_load(&b, txn, dump, len)), 0);
	free(dump);
	ck_assert_int_eq(WS(&b, cfs_ns_lookup(&b, txn, &root, CFS_ROOT_INO, "stale",
					 5, &got)), -ENOENT);
	ck_assert_int_eq(WS(&b, cfs_ns_lookup(&b, txn, &root, d, "g", 1, &got)), 0);
	ck_assert_int_eq(WS(&b, cfs_ns_lookup(&b, txn, &root, d, "l", 1, &got)), 0);
	ck_assert_uint_eq(got.ino, in.ino);
	/* malformed changes are refused whole */
	ck_assert_int_eq(WS(&b, cfs_ns_apply(&b, txn, (const uint8_t *)"\7xyz", 4)),
			 -EBADMSG);
	store_close(&a, adir);
	store_close(&b, bdir);
	ck_assert_uint_eq(fsck_problems(), 0);
}
END_TEST

static bool odd_value(const MDB_val *v)
{
	return ((const uint8_t *)v->mv_data)[0] % 2;
}

/* Requests done: kept per client and request id, forgotten below what
 * the client acknowledged, or when old (every client's). */
START_TEST(test_requests_done_are_kept_until_forgotten)
{
	uint8_t v, got;

	for (uint64_t c = 1; c <= 2; c++)
		for (uint64_t r = 1; r <= 5; r++) {
			v = (uint8_t)(10 * c + r);
			ck_assert_int_eq(W(cfs_ns_done_put(&ns, txn, c, r, &v, 1)),
					 0);
		}
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 2, 3, &got, 1)), 0);
	ck_assert_uint_eq(got, 23);
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 3, 1, &got, 1)), -ENOENT);
	ck_assert_int_eq(W(cfs_ns_done_forget(&ns, txn, 1, 4, NULL)), 0);
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 1, 3, &got, 1)), -ENOENT);
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 1, 4, &got, 1)), 0);
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 2, 1, &got, 1)), 0);
	/* the odd values of both clients go: 15, 21, 23, 25 */
	ck_assert_int_eq(W(cfs_ns_done_forget(&ns, txn, 0, 0, odd_value)), 0);
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 1, 5, &got, 1)), -ENOENT);
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 2, 5, &got, 1)), -ENOENT);
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 1, 4, &got, 1)), 0);
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 2, 4, &got, 1)), 0);
	ck_assert_int_eq(W(cfs_ns_done_get(&ns, txn, 2, 2, &got, 1)), 0);
	ck_assert_uint_eq(got, 22);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("namespace", setup, teardown,
		      test_create_lookup_unlink_file,
		      test_names_are_checked,
		      test_mkdir_rmdir_and_link_counts,
		      test_hard_links_and_symlinks,
		      test_rename_rules,
		      test_readdir_cookies_survive_changes,
		      test_permission_checks,
		      test_a_writer_drops_set_id_bits_and_touches,
		      test_setgid_directory_and_suid_clearing,
		      test_xattr_flags_limits_and_namespaces,
		      test_unlinked_open_file_lives_until_release_and_restart,
		      test_setattr_size_and_written,
		      test_gone_only_what_was_made_and_deleted,
		      test_layouts_are_inherited_and_kept_for_purge,
		      test_fsck_clean_after_every_kind_of_change,
		      test_an_old_readdir_index_is_converted_on_open,
		      test_fsck_finds_damage,
		      test_acl_enforced_by_the_mds_and_inherited,
		      test_a_file_is_within_the_directory_of_its_first_link,
		      test_an_old_store_gets_the_parents_of_its_files_on_open,
		      test_changes_and_dumps_carry_a_store_to_another,
		      test_requests_done_are_kept_until_forgotten);
}
