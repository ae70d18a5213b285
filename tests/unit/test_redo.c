/* The metadata store's redo log (mds/redo.h): what a crash of the MDS
 * process or of the whole machine leaves is opened again with every
 * acknowledged commit in it.
 *
 * A machine crash is played on the files: a child process opens the
 * store, commits, and dies by SIGKILL; data.mdb as it was at the last
 * checkpoint was copied beside it. Each page of data.mdb written since
 * may or may not have reached the disk, so the test rebuilds data.mdb
 * page by page from either copy, at random (meta pages included), and
 * opens it with the log the child left (written O_DSYNC: on disk). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../mds/entry.h"
#include "../../mds/feed.h"
#include "../../mds/fsck.h"
#include "../../mds/namespace.h"
#include "../../mds/redo.h"

#include "check_main.h"

#define PAGE 4096

static char dir[64];
static const struct cfs_cred root = { .uid = 0 };

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cfs_redo_test_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void path(char *out, const char *name)
{
	snprintf(out, 128, "%s/%s", dir, name);
}

static void copy_file(const char *from, const char *to)
{
	char a[128], b[128], cmd[300];

	path(a, from);
	path(b, to);
	snprintf(cmd, sizeof(cmd), "cp %s %s", a, b);
	if (system(cmd) != 0)
		_exit(3);
}

/* Each file in its own transaction, as the MDS commits a lone create.
 * Returns 0 or the first error. */
static int create_files(struct cfs_ns *ns, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		struct cfs_inode in;
		char name[16];
		MDB_txn *txn;
		int rc;

		snprintf(name, sizeof(name), "f%05d", i);
		rc = cfs_ns_begin(ns, NULL, true, &txn);
		if (rc)
			return rc;
		rc = cfs_ns_mknod(ns, txn, &root, CFS_ROOT_INO, name,
				  strlen(name), S_IFREG | 0644, 0, true, &in);
		if (rc) {
			cfs_ns_abort(txn);
			return rc;
		}
		rc = cfs_ns_commit(txn);
		if (rc)
			return rc;
	}
	return 0;
}

static void nothing(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "fsck: %s\n", msg);
}

/* Open the store and check that files 0..n-1 are there, and no more,
 * and that fsck finds nothing wrong. */
static void check_files(const struct cfs_ns_opts *opts, int n)
{
	struct cfs_fsck_report rep;
	struct cfs_ns ns;
	struct cfs_inode in;
	uint64_t count;
	MDB_txn *txn;
	char name[16];

	ck_assert_int_eq(cfs_ns_open(&ns, dir, opts), 0);
	ck_assert_int_eq(cfs_ns_begin(&ns, NULL, false, &txn), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%05d", i);
		ck_assert_msg(cfs_ns_lookup(&ns, txn, &root, CFS_ROOT_INO, name,
					    strlen(name), &in) == 0,
			      "%s is lost", name);
	}
	ck_assert_int_eq(cfs_ns_count_inodes(&ns, txn, &count), 0);
	ck_assert_uint_eq(count, (uint64_t)n + 1);	/* and the root */
	ck_assert_int_eq(cfs_ns_fsck((struct cfs_ns *[]){ &ns }, &txn, 1, &rep, nothing, NULL), 0);
	ck_assert_uint_eq(rep.problems, 0);
	cfs_ns_abort(txn);
	cfs_ns_close(&ns);
}

/* Run fn in a child process that then dies by SIGKILL, as a crashed MDS
 * does (fn exits with a status of its own on a failure). */
static void crash_after(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fn();
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "the child failed before its crash: status %d", status);
}

static size_t file_size(const char *name)
{
	char p[128];
	struct stat st;

	path(p, name);
	ck_assert_int_eq(stat(p, &st), 0);
	return (size_t)st.st_size;
}

/* data.mdb as a machine crash may leave it: each page from the
 * checkpoint's copy ("data.ckpt", zeros past its end) or from what the
 * child wrote last ("data.final"), chosen by seed; seed 0 takes every
 * page from the last (a crash of the process alone). The log comes back
 * as the child left it ("redo.final"). Written into the same data.mdb
 * (the log knows its inode). */
static void tear(unsigned seed)
{
	size_t size = file_size("data.final"), old = file_size("data.ckpt");
	char pc[128], pf[128], pd[128];
	uint8_t page[PAGE];
	int c, f, d;

	copy_file("redo.final", "redo.log");
	path(pc, "data.ckpt");
	path(pf, "data.final");
	path(pd, "data.mdb");
	c = open(pc, O_RDONLY);
	f = open(pf, O_RDONLY);
	d = open(pd, O_WRONLY);
	ck_assert(c >= 0 && f >= 0 && d >= 0);
	srandom(seed);
	for (size_t off = 0; off < size; off += PAGE) {
		bool from_old = seed && random() % 2;

		memset(page, 0, sizeof(page));
		if (from_old && off < old)
			ck_assert_int_eq(pread(c, page, PAGE, (off_t)off), PAGE);
		else if (!from_old)
			ck_assert_int_eq(pread(f, page, PAGE, (off_t)off), PAGE);
		ck_assert_int_eq(pwrite(d, page, PAGE, (off_t)off), PAGE);
	}
	ck_assert_int_eq(ftruncate(d, (off_t)size), 0);
	close(c);
	close(f);
	close(d);
}

/* a map large enough that the pages the commits take do not call a
 * checkpoint: the test checkpoints itself */
static const struct cfs_ns_opts no_timed = { .map_size = 1 << 30,
					     .log_size = 1 << 20,
					     .checkpoint_ms = -1 };

/* The child: a checkpoint, its copy, then 150 logged commits (a small
 * part of the ring, and fewer new pages than call a checkpoint). */
static void commit_after_checkpoint(void)
{
	struct cfs_redo_stats before, after;
	struct cfs_ns ns;

	if (cfs_ns_open(&ns, dir, &no_timed))
		_exit(3);
	copy_file("data.mdb", "data.ckpt");
	cfs_redo_stats(ns.redo, &before);
	if (create_files(&ns, 0, 150))
		_exit(4);
	cfs_redo_stats(ns.redo, &after);
	if (after.checkpoints != before.checkpoints)
		_exit(5);	/* data.ckpt is not the last checkpoint */
	copy_file("data.mdb", "data.final");
	copy_file("redo.log", "redo.final");
}

START_TEST(test_a_machine_crash_loses_no_commit)
{
	crash_after(commit_after_checkpoint);
	for (unsigned seed = 0; seed <= 6; seed++) {
		tear(seed);
		check_files(&no_timed, 150);
	}
}
END_TEST

/* The child: commits until the ring's next record would be near its
 * end (checkpoints run as they fall due), a checkpoint and its copy,
 * then commits that go round the ring's end; it leaves their number in
 * DIR/count. */
static const struct cfs_ns_opts small_ring = { .map_size = 1 << 30,
					       .log_size = 64 << 10,
					       .checkpoint_ms = -1 };

static void commit_across_the_ring_end(void)
{
	struct cfs_redo_stats st;
	struct cfs_ns ns;
	uint64_t lap, cps;
	char p[128];
	FILE *f;
	int n = 0;

	if (cfs_ns_open(&ns, dir, &small_ring))
		_exit(3);
	do {
		if (create_files(&ns, n++, 1))
			_exit(4);
		cfs_redo_stats(ns.redo, &st);
	} while (st.head % st.ring < st.ring - 2048);
	if (cfs_redo_checkpoint(ns.redo))
		_exit(5);
	copy_file("data.mdb", "data.ckpt");
	cfs_redo_stats(ns.redo, &st);
	lap = st.head / st.ring;
	cps = st.checkpoints;
	/* well under a quarter of the ring: no checkpoint meanwhile */
	if (create_files(&ns, n, 20))
		_exit(6);
	cfs_redo_stats(ns.redo, &st);
	if (st.head / st.ring != lap + 1 || st.used < 2048 ||
	    st.checkpoints != cps)
		_exit(7);
	copy_file("data.mdb", "data.final");
	copy_file("redo.log", "redo.final");
	path(p, "count");
	f = fopen(p, "w");
	if (!f || fprintf(f, "%d\n", n + 20) < 0 || fclose(f))
		_exit(8);
}

START_TEST(test_records_across_the_ring_end_are_replayed)
{
	char p[128];
	FILE *f;
	int n;

	crash_after(commit_across_the_ring_end);
	path(p, "count");
	f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &n), 1);
	fclose(f);
	ck_assert_int_gt(n, 100);	/* the ring went round before */
	for (unsigned seed = 0; seed <= 4; seed++) {
		tear(seed);
		check_files(&small_ring, n);
	}
}
END_TEST

/* The child: one commit whose record is larger than the whole ring (two
 * 40 KiB xattrs in a 64 KiB ring). It is not logged: it returns once a
 * checkpoint holds it. */
static void commit_larger_than_the_ring(void)
{
	static char value[40 << 10];
	struct cfs_redo_stats before, after;
	struct cfs_inode in;
	struct cfs_ns ns;
	MDB_txn *txn;

	memset(value, 'x', sizeof(value));
	if (cfs_ns_open(&ns, dir, &small_ring) || create_files(&ns, 0, 1))
		_exit(3);
	cfs_redo_stats(ns.redo, &before);
	if (cfs_ns_begin(&ns, NULL, true, &txn) ||
	    cfs_ns_lookup(&ns, txn, &root, CFS_ROOT_INO, "f00000", 6, &in) ||
	    cfs_ns_setxattr(&ns, txn, &root, in.ino, "user.a", value,
			    sizeof(value), 0) ||
	    cfs_ns_setxattr(&ns, txn, &root, in.ino, "user.b", value,
			    sizeof(value), 0) ||
	    cfs_ns_commit(txn))
		_exit(4);
	cfs_redo_stats(ns.redo, &after);
	if (after.records != before.records ||
	    after.checkpoints != before.checkpoints + 1 || after.used != 0)
		_exit(5);
	/* the checkpoint is on disk: this is what a machine crash leaves */
	copy_file("data.mdb", "data.ckpt");
	copy_file("data.mdb", "data.final");
	copy_file("redo.log", "redo.final");
}

START_TEST(test_a_commit_larger_than_the_log_is_durable_at_once)
{
	char value[64];
	struct cfs_inode in;
	struct cfs_ns ns;
	MDB_txn *txn;
	size_t len;

	crash_after(commit_larger_than_the_ring);
	tear(1);
	ck_assert_int_eq(cfs_ns_open(&ns, dir, &small_ring), 0);
	ck_assert_int_eq(cfs_ns_begin(&ns, NULL, false, &txn), 0);
	ck_assert_int_eq(cfs_ns_lookup(&ns, txn, &root, CFS_ROOT_INO, "f00000",
				       6, &in),
			 0);
	ck_assert_int_eq(cfs_ns_getxattr(&ns, txn, &root, in.ino, "user.b",
					 NULL, 0, &len),
			 0);
	ck_assert_uint_eq(len, 40 << 10);
	ck_assert_int_eq(cfs_ns_getxattr(&ns, txn, &root, in.ino, "user.a",
					 value, sizeof(value), &len),
			 -ERANGE);
	cfs_ns_abort(txn);
	cfs_ns_close(&ns);
}
END_TEST

/* Two writers would corrupt the store: the second is refused. A log
 * whose data.mdb was replaced (a restored copy) is not applied to it. */
START_TEST(test_a_second_writer_and_a_foreign_data_file_are_refused)
{
	struct cfs_ns ns, other;
	char cmd[400];

	ck_assert_int_eq(cfs_ns_open(&ns, dir, &small_ring), 0);
	ck_assert_int_eq(create_files(&ns, 0, 3), 0);
	ck_assert_int_eq(cfs_ns_open(&other, dir, &small_ring), -EBUSY);
	cfs_ns_close(&ns);

	snprintf(cmd, sizeof(cmd), "cp %s/data.mdb %s/copy && mv %s/copy "
		 "%s/data.mdb", dir, dir, dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(cfs_ns_open(&ns, dir, &small_ring), -EINVAL);
	snprintf(cmd, sizeof(cmd), "mv %s/redo.log %s/redo.old", dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	check_files(&small_ring, 3);
}
END_TEST

/* A replica's log entry and snapshot (mds/entry.h) carry redo changes:
 * what is built parses back the same, and every cut of it is refused
 * or parses to parts inside what is left. */
START_TEST(test_replica_entries_parse_back_and_cuts_are_refused)
{
	static const uint8_t changes[] = "redo changes, 25 bytes..";
	uint8_t notes[1 + 26 + 3] = { 0 };	/* flags, one note "abc" */
	uint8_t entry[128], snap[128];
	size_t elen = mds_entry_size(sizeof(changes), sizeof(notes));
	size_t slen = mds_snapshot_size(sizeof(changes));
	struct mds_entry e;
	const void *dump;
	uint64_t index;
	size_t len;

	notes[25] = 3;	/* the note's name length (u16 at 24) */
	memcpy(notes + 27, "abc", 3);
	ck_assert_uint_le(elen, sizeof(entry));
	ck_assert_uint_eq(elen % 8, 0);
	mds_entry_fill(entry, changes, sizeof(changes), notes, sizeof(notes));
	ck_assert_int_eq(mds_entry_parse(entry, elen, &e), 0);
	ck_assert(e.len == sizeof(changes) &&
		  !memcmp(e.changes, changes, e.len) &&
		  e.flen == sizeof(notes) && !memcmp(e.feed, notes, e.flen));
	ck_assert_int_eq(feed_count(e.feed, e.flen), 1);
	ck_assert_int_eq(feed_count(e.feed, e.flen - 1), -EBADMSG);
	for (size_t cut = 0; cut < elen; cut++)
		ck_assert(mds_entry_parse(entry, cut, &e) == -EBADMSG ||
			  (const uint8_t *)e.feed + e.flen <= entry + cut);
	ck_assert_int_eq(mds_entry_parse(entry, 2 * 8 + sizeof(changes) +
						sizeof(notes) - 1, &e),
			 -EBADMSG);

	ck_assert_uint_le(slen, sizeof(snap));
	mds_snapshot_fill(snap, 77, changes, sizeof(changes));
	ck_assert_int_eq(mds_snapshot_parse(snap, slen, &index, &dump, &len),
			 0);
	ck_assert(index == 77 && len == sizeof(changes) &&
		  !memcmp(dump, changes, len));
	for (size_t cut = 0; cut < 3 * 8 + sizeof(changes); cut++)
		ck_assert_int_eq(mds_snapshot_parse(snap, cut, &index, &dump,
						    &len), -EBADMSG);
	snap[0] ^= 1;	/* not a snapshot's magic */
	ck_assert_int_eq(mds_snapshot_parse(snap, slen, &index, &dump, &len),
			 -EBADMSG);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("redo", setup, teardown,
		      test_a_machine_crash_loses_no_commit,
		      test_records_across_the_ring_end_are_replayed,
		      test_a_commit_larger_than_the_log_is_durable_at_once,
		      test_a_second_writer_and_a_foreign_data_file_are_refused,
		      test_replica_entries_parse_back_and_cuts_are_refused);
}
