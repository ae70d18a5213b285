/* The MDS's change feed (mds/feed.h) over a real namespace: what each
 * kind of change tells other clients, what a watcher gets and when it
 * must start afresh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../mds/feed.h"
#include "../../mds/namespace.h"

#include "check_main.h"

static struct cfs_ns ns;
static struct feed feed;
static char dir[64];
static const struct cfs_cred root = { .uid = 0 };
static const struct cfs_ns_opts opts = { .map_size = 256 << 20,
					 .log_size = 1 << 20 };

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cfs_feed_test_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(cfs_ns_open(&ns, dir, &opts), 0);
	ck_assert_int_eq(feed_init(&feed), 0);
	ns.changed = feed_note;
	ns.changed_arg = &feed;
}

static void teardown(void)
{
	char cmd[128];

	feed_fini(&feed);
	cfs_ns_close(&ns);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* One committed mutation by client, as the MDS writer runs it. */
#define BY(who, expr)                                                     \
	({                                                                   \
		MDB_txn *txn;                                                \
		int rc_;                                                     \
		feed.client = (who);                                         \
		ck_assert_int_eq(cfs_ns_begin(&ns, NULL, true, &txn), 0);    \
		rc_ = (expr);                                                \
		if (rc_ == 0) {                                              \
			ck_assert_int_eq(cfs_ns_commit(txn), 0);             \
			feed_publish(&feed);                                 \
		} else {                                                     \
			cfs_ns_abort(txn);                                   \
			feed_rewind(&feed, 0);                               \
		}                                                            \
		rc_;                                                         \
	})

static struct feed_change got[64];

/* What client `who` gets after `after`, without waiting. */
static size_t watch(uint64_t who, uint64_t after, uint64_t *seq, bool *reset)
{
	size_t n;

	feed_watch(&feed, feed.id, after, who, 0, 64, got, &n, seq, reset);
	return n;
}

static bool has_inode(size_t n, uint64_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (got[i].parent == 0 && got[i].ino == ino)
			return true;
	return false;
}

static bool has_name(size_t n, uint64_t parent, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (got[i].parent == parent && got[i].len == strlen(name) &&
		    !memcmp(got[i].name, name, got[i].len))
			return true;
	return false;
}

START_TEST(test_each_change_names_what_it_made_stale)
{
	struct cfs_inode d, f, out;
	struct cfs_setattr sa = { .valid = CFS_SET_MODE, .mode = 0600 };
	uint64_t seq, at;
	bool reset;
	size_t n;

	ck_assert_int_eq(BY(7, cfs_ns_mknod(&ns, txn, &root, CFS_ROOT_INO, "d",
					    1, S_IFDIR | 0755, 0, true, &d)),
			 0);
	ck_assert_int_eq(BY(7, cfs_ns_mknod(&ns, txn, &root, d.ino, "f", 1,
					    S_IFREG | 0644, 0, true, &f)),
			 0);
	/* another client: the new names, the new inodes, their directories */
	n = watch(9, 0, &seq, &reset);
	ck_assert(!reset);
	ck_assert(has_name(n, CFS_ROOT_INO, "d"));
	ck_assert(has_name(n, d.ino, "f"));
	ck_assert(has_inode(n, d.ino));
	ck_assert(has_inode(n, f.ino));
	ck_assert(has_inode(n, CFS_ROOT_INO));
	ck_assert_uint_eq(seq, feed.seq);
	/* the client that made them: nothing, but the number moves on */
	ck_assert_uint_eq(watch(7, 0, &at, &reset), 0);
	ck_assert_uint_eq(at, seq);

	/* attributes, xattrs, rename, unlink */
	ck_assert_int_eq(BY(7, cfs_ns_setattr(&ns, txn, &root, f.ino, &sa,
					      &out)),
			 0);
	n = watch(9, seq, &seq, &reset);
	ck_assert(has_inode(n, f.ino) && !has_name(n, d.ino, "f"));
	ck_assert_int_eq(BY(7, cfs_ns_setxattr(&ns, txn, &root, f.ino,
					       "user.k", "v", 1, 0)),
			 0);
	n = watch(9, seq, &seq, &reset);
	ck_assert(has_inode(n, f.ino));
	ck_assert_int_eq(BY(7, cfs_ns_rename(&ns, txn, &root, d.ino, "f", 1,
					     CFS_ROOT_INO, "g", 1, 0)),
			 0);
	n = watch(9, seq, &seq, &reset);
	ck_assert(has_name(n, d.ino, "f") && has_name(n, CFS_ROOT_INO, "g"));
	ck_assert_int_eq(BY(7, cfs_ns_unlink(&ns, txn, &root, CFS_ROOT_INO,
					     "g", 1)),
			 0);
	n = watch(9, seq, &seq, &reset);
	ck_assert(has_name(n, CFS_ROOT_INO, "g") && has_inode(n, f.ino));

	/* a change that failed tells nothing */
	ck_assert_int_eq(BY(7, cfs_ns_mknod(&ns, txn, &root, d.ino, "f", 1,
					    S_IFREG | 0644, 0, true, &out) ?:
				       cfs_ns_mknod(&ns, txn, &root, d.ino, "f",
						    1, S_IFREG | 0644, 0, true,
						    &out)),
			 -EEXIST);
	ck_assert_uint_eq(watch(9, seq, &at, &reset), 0);
	ck_assert_uint_eq(at, seq);
}
END_TEST

START_TEST(test_a_watcher_of_another_run_or_too_far_behind_resets)
{
	struct cfs_inode f;
	uint64_t seq;
	bool reset;
	size_t n;

	ck_assert_int_eq(BY(7, cfs_ns_mknod(&ns, txn, &root, CFS_ROOT_INO, "f",
					    1, S_IFREG | 0644, 0, true, &f)),
			 0);
	/* another run's numbers */
	feed_watch(&feed, feed.id + 2, 0, 9, 0, 64, got, &n, &seq, &reset);
	ck_assert(reset);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(seq, feed.seq);
	/* numbers from the future (the MDS restarted, same id by chance) */
	feed_watch(&feed, feed.id, feed.seq + 5, 9, 0, 64, got, &n, &seq,
		   &reset);
	ck_assert(reset);
	/* so many changes since that the ring lost some */
	for (int i = 0; i < FEED_RING / 100 + 1; i++) {
		MDB_txn *txn;

		ck_assert_int_eq(cfs_ns_begin(&ns, NULL, true, &txn), 0);
		for (int k = 0; k < 100; k++) {
			struct cfs_setattr sa = { .valid = CFS_SET_MODE,
						  .mode = 0600 | (k & 1) };
			struct cfs_inode out;

			ck_assert_int_eq(cfs_ns_setattr(&ns, txn, &root, f.ino,
							&sa, &out),
					 0);
		}
		ck_assert_int_eq(cfs_ns_commit(txn), 0);
		feed_publish(&feed);
	}
	ck_assert_uint_gt(feed.seq, FEED_RING);
	n = watch(9, 0, &seq, &reset);
	ck_assert(reset);
	ck_assert_uint_eq(seq, feed.seq);
	/* one that kept up gets the rest */
	n = watch(9, feed.seq - 3, &seq, &reset);
	ck_assert(!reset);
	ck_assert_uint_eq(n, 3);
}
END_TEST

/* Replicated: the leader's batch travels as bytes, and a replica that
 * applies them (here a second feed, as a follower's) numbers them as
 * the leader would, in the cluster's run; a watcher of the old leader
 * goes on at the new one without a reset, and one from before the
 * replica's start (its ring holds nothing earlier) resets. */
START_TEST(test_replicated_notes_number_the_same_on_every_replica)
{
	struct feed other;
	struct cfs_inode d, f;
	uint64_t seq;
	uint8_t *bytes;
	size_t len, n;
	bool reset;
	MDB_txn *txn;

	ck_assert_int_eq(feed_init(&other), 0);
	feed_replicated(&feed, 42, 100);
	feed_replicated(&other, 42, 100);
	feed.client = 7;
	ck_assert_int_eq(cfs_ns_begin(&ns, NULL, true, &txn), 0);
	ck_assert_int_eq(cfs_ns_mknod(&ns, txn, &root, CFS_ROOT_INO, "d", 1,
				      S_IFDIR | 0755, 0, true, &d), 0);
	ck_assert_int_eq(cfs_ns_mknod(&ns, txn, &root, d.ino, "f", 1,
				      S_IFREG | 0644, 0, true, &f), 0);
	ck_assert_int_eq(cfs_ns_commit(txn), 0);
	bytes = feed_encode(&feed, &len);
	ck_assert_ptr_nonnull(bytes);
	ck_assert_uint_eq(feed.nbatch, 0);
	ck_assert_int_gt(feed_count(bytes, len), 1);
	ck_assert_int_eq(feed_count(bytes, len - 1), -EBADMSG);
	feed_apply(&feed, bytes, len);
	feed_apply(&other, bytes, len);
	ck_assert_uint_eq(feed.seq, 100 + (uint64_t)feed_count(bytes, len));
	ck_assert_uint_eq(other.seq, feed.seq);
	ck_assert_uint_eq(other.id, feed.id);
	for (uint64_t s = 101; s <= feed.seq; s++) {
		const struct feed_change *a = &feed.ring[s % FEED_RING];
		const struct feed_change *b = &other.ring[s % FEED_RING];

		ck_assert_uint_eq(a->seq, b->seq);
		ck_assert_uint_eq(a->ino, b->ino);
		ck_assert_uint_eq(a->parent, b->parent);
		ck_assert_uint_eq(a->client, 7);
	}
	/* a watcher at 100 of the first goes on at the other */
	feed_watch(&other, feed.id, 100, 9, 0, 64, got, &n, &seq, &reset);
	ck_assert(!reset);
	ck_assert_uint_eq(n, (size_t)feed_count(bytes, len));
	/* one from before the count the replica started at resets */
	feed_watch(&other, feed.id, 99, 9, 0, 64, got, &n, &seq, &reset);
	ck_assert(reset);
	free(bytes);
	feed_fini(&other);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("feed", setup, teardown,
		      test_each_change_names_what_it_made_stale,
		      test_a_watcher_of_another_run_or_too_far_behind_resets,
		      test_replicated_notes_number_the_same_on_every_replica);
}
