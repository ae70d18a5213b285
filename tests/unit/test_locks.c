/* The MDS lock table: POSIX conflicts, split and merge of an owner's
 * ranges, flock as its own name space, release by owner. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "../../mds/locks.h"

#include "check_main.h"

static struct cfs_lock L(uint64_t client, uint64_t owner, int type,
			 uint64_t start, uint64_t end)
{
	struct cfs_lock l = { .client = client, .owner = owner, .pid = 1,
			      .type = type, .start = start, .end = end };

	return l;
}

START_TEST(test_conflicts_between_owners_only)
{
	struct cfs_lock_table t;
	struct cfs_lock a = L(1, 1, F_WRLCK, 0, 9), c;

	cfs_locks_init(&t);
	ck_assert_int_eq(cfs_locks_set(&t, 7, &a), 0);
	/* the same owner may relock; another client may not overlap */
	a.type = F_RDLCK;
	ck_assert_int_eq(cfs_locks_set(&t, 7, &a), 0);
	a = L(2, 1, F_WRLCK, 5, 20);
	ck_assert_int_eq(cfs_locks_set(&t, 7, &a), -EAGAIN);
	ck_assert(cfs_locks_test(&t, 7, &a, &c));
	ck_assert_int_eq(c.type, F_RDLCK);
	ck_assert_uint_eq(c.client, 1);
	/* readers share; disjoint ranges never conflict */
	a.type = F_RDLCK;
	ck_assert_int_eq(cfs_locks_set(&t, 7, &a), 0);
	a = L(3, 9, F_WRLCK, 21, CFS_LOCK_EOF);
	ck_assert_int_eq(cfs_locks_set(&t, 7, &a), 0);
	/* another file is independent */
	ck_assert_int_eq(cfs_locks_set(&t, 8, &a), 0);
	cfs_locks_destroy(&t);
}
END_TEST

START_TEST(test_unlock_splits_and_relock_merges)
{
	struct cfs_lock_table t;
	struct cfs_lock a = L(1, 1, F_WRLCK, 0, 99), u = L(1, 1, F_UNLCK, 40, 59);
	struct cfs_lock probe = L(2, 2, F_WRLCK, 45, 45), c;

	cfs_locks_init(&t);
	ck_assert_int_eq(cfs_locks_set(&t, 1, &a), 0);
	ck_assert_int_eq(cfs_locks_set(&t, 1, &u), 0);
	ck_assert_int_eq(cfs_locks_count(&t, 1), 2);
	ck_assert(!cfs_locks_test(&t, 1, &probe, &c));	/* the gap is free */
	probe.start = probe.end = 60;
	ck_assert(cfs_locks_test(&t, 1, &probe, &c));
	ck_assert_uint_eq(c.start, 60);
	ck_assert_uint_eq(c.end, 99);
	/* locking the gap again merges the three into one */
	u.type = F_WRLCK;
	ck_assert_int_eq(cfs_locks_set(&t, 1, &u), 0);
	ck_assert_int_eq(cfs_locks_count(&t, 1), 1);
	/* a read lock in the middle of a write lock splits it in three */
	u = L(1, 1, F_RDLCK, 10, 19);
	ck_assert_int_eq(cfs_locks_set(&t, 1, &u), 0);
	ck_assert_int_eq(cfs_locks_count(&t, 1), 3);
	cfs_locks_release(&t, 1, 1, 1, false);
	ck_assert_int_eq(cfs_locks_count(&t, 1), 0);
	cfs_locks_destroy(&t);
}
END_TEST

START_TEST(test_flock_is_separate_from_posix)
{
	struct cfs_lock_table t;
	struct cfs_lock p = L(1, 1, F_WRLCK, 0, CFS_LOCK_EOF);
	struct cfs_lock f = L(2, 2, F_WRLCK, 0, CFS_LOCK_EOF);

	cfs_locks_init(&t);
	f.flock = true;
	ck_assert_int_eq(cfs_locks_set(&t, 1, &p), 0);
	ck_assert_int_eq(cfs_locks_set(&t, 1, &f), 0);
	f.client = 3;
	ck_assert_int_eq(cfs_locks_set(&t, 1, &f), -EAGAIN);
	cfs_locks_release(&t, 1, 2, 2, true);
	ck_assert_int_eq(cfs_locks_set(&t, 1, &f), 0);
	cfs_locks_destroy(&t);
}
END_TEST

START_TEST(test_release_client_drops_all_its_locks)
{
	struct cfs_lock_table t;
	struct cfs_lock a = L(1, 1, F_WRLCK, 0, 9), b = L(2, 1, F_RDLCK, 20, 29);

	cfs_locks_init(&t);
	ck_assert_int_eq(cfs_locks_set(&t, 1, &a), 0);
	ck_assert_int_eq(cfs_locks_set(&t, 2, &a), 0);
	ck_assert_int_eq(cfs_locks_set(&t, 1, &b), 0);
	cfs_locks_release_client(&t, 1);
	ck_assert_int_eq(cfs_locks_count(&t, 1), 1);
	ck_assert_int_eq(cfs_locks_count(&t, 2), 0);
	b = L(3, 3, F_WRLCK, 0, 9);
	ck_assert_int_eq(cfs_locks_set(&t, 1, &b), 0);
	cfs_locks_destroy(&t);
}
END_TEST

/* A file's locks exported and imported into another table (a new
 * leader's) hold there as they did: conflicts and all. */
START_TEST(test_locks_carried_to_another_table_still_hold)
{
	struct cfs_lock_table t, u;
	struct cfs_lock a = L(1, 1, F_WRLCK, 0, 9), b = L(2, 1, F_RDLCK, 20, 29);
	struct cfs_lock w = L(3, 1, F_WRLCK, 25, 25), got;
	struct cfs_lock_rec *recs;
	uint64_t inos[4];
	size_t n;

	cfs_locks_init(&t);
	cfs_locks_init(&u);
	ck_assert_int_eq(cfs_locks_set(&t, 7, &a), 0);
	ck_assert_int_eq(cfs_locks_set(&t, 7, &b), 0);
	b.flock = true;
	ck_assert_int_eq(cfs_locks_set(&t, 8, &b), 0);
	ck_assert_uint_eq(cfs_locks_files(&t, inos, 4), 2);
	ck_assert_int_eq(cfs_locks_export(&t, 7, &recs, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(cfs_locks_import(&u, 7, recs, n), 0);
	free(recs);
	ck_assert(cfs_locks_test(&u, 7, &w, &got));
	ck_assert(got.client == 2 && got.type == F_RDLCK && got.start == 20);
	ck_assert_int_eq(cfs_locks_set(&u, 7, &w), -EAGAIN);
	ck_assert_int_eq(cfs_locks_count(&u, 8), 0);
	/* importing none drops the file's */
	ck_assert_int_eq(cfs_locks_export(&t, 9, &recs, &n), 0);
	ck_assert(recs == NULL && n == 0);
	ck_assert_int_eq(cfs_locks_import(&u, 7, NULL, 0), 0);
	ck_assert_int_eq(cfs_locks_count(&u, 7), 0);
	ck_assert_uint_eq(cfs_locks_files(&u, inos, 4), 0);
	cfs_locks_clear(&t);
	ck_assert_uint_eq(cfs_locks_files(&t, inos, 4), 0);
	cfs_locks_destroy(&t);
	cfs_locks_destroy(&u);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("locks", NULL, NULL, test_conflicts_between_owners_only,
		      test_unlock_splits_and_relock_merges,
		      test_flock_is_separate_from_posix,
		      test_release_client_drops_all_its_locks,
		      test_locks_carried_to_another_table_still_hold);
}
