/* The client's lookup and attribute cache (clients/lib/dircache.c): what
 * it may answer without the MDS, and when it must not. No MDS here: the
 * answers are fed in as the MDS would give them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_priv.h"

#include "check_main.h"

#define LEASE_MS 200

static struct cfs_client cl;

static void setup(void)
{
	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(dc_start(&cl, LEASE_MS), 0);
}

static void teardown(void)
{
	dc_stop(&cl);
}

static struct cfs_attr attr(uint64_t ino, uint64_t size)
{
	return (struct cfs_attr){ .ino = ino, .size = size, .nlink = 1,
				  .mode = 0100644 };
}

START_TEST(test_answer_from_the_mds_is_kept_for_the_lease)
{
	struct cfs_attr a = attr(10, 5), out;
	int64_t asked = cfs_mono_ns(), asof;

	ck_assert_int_eq(dc_getattr(&cl, 10, &out, &asof), DC_UNKNOWN);
	dc_got_attr(&cl, &a, asked);
	ck_assert_int_eq(dc_getattr(&cl, 10, &out, &asof), 0);
	ck_assert_uint_eq(out.size, 5);
	ck_assert_int_eq(asof, asked);
	usleep((LEASE_MS + 50) * 1000);
	ck_assert_int_eq(dc_getattr(&cl, 10, &out, &asof), DC_UNKNOWN);
}
END_TEST

START_TEST(test_a_change_of_ours_hides_older_answers)
{
	struct cfs_attr a = attr(11, 5), out;
	int64_t asked = cfs_mono_ns(), asof;

	dc_got_attr(&cl, &a, asked);
	dc_touch(&cl, 11);	/* say, a setxattr: no attributes back */
	ck_assert_int_eq(dc_getattr(&cl, 11, &out, &asof), DC_UNKNOWN);
	/* an answer asked before the change, arriving after it */
	dc_got_attr(&cl, &a, asked);
	ck_assert_int_eq(dc_getattr(&cl, 11, &out, &asof), DC_UNKNOWN);
}
END_TEST

START_TEST(test_a_change_keeps_its_own_reply)
{
	struct cfs_attr a = attr(12, 5), b = attr(12, 9), out;
	int64_t asof, begun;

	dc_got_attr(&cl, &a, cfs_mono_ns());
	begun = dc_begin(&cl, 12);
	ck_assert_int_eq(dc_getattr(&cl, 12, &out, &asof), DC_UNKNOWN);
	dc_end(&cl, 12, begun, 0, &b);
	ck_assert_int_eq(dc_getattr(&cl, 12, &out, &asof), 0);
	ck_assert_uint_eq(out.size, 9);
	/* a failed change leaves nothing to answer from */
	begun = dc_begin(&cl, 12);
	dc_end(&cl, 12, begun, -EIO, &b);
	ck_assert_int_eq(dc_getattr(&cl, 12, &out, &asof), DC_UNKNOWN);
}
END_TEST

START_TEST(test_overlapping_changes_keep_neither_reply)
{
	struct cfs_attr r1 = attr(13, 1), r2 = attr(13, 2), out;
	int64_t asof, b1, b2;

	/* two threads change one file; the MDS may apply them in either
	 * order, so neither reply is known to be the last state */
	b1 = dc_begin(&cl, 13);
	b2 = dc_begin(&cl, 13);
	dc_end(&cl, 13, b1, 0, &r1);
	ck_assert_int_eq(dc_getattr(&cl, 13, &out, &asof), DC_UNKNOWN);
	dc_end(&cl, 13, b2, 0, &r2);
	ck_assert_int_eq(dc_getattr(&cl, 13, &out, &asof), DC_UNKNOWN);
}
END_TEST

START_TEST(test_a_created_name_is_answered_and_a_removed_one_is_not)
{
	struct cfs_attr f = attr(20, 0), out;
	int64_t asof;

	/* lookups in dir 1 go to the MDS until a listing exists */
	ck_assert_int_eq(dc_answer(&cl, 1, "f", 1, &out, &asof), DC_UNKNOWN);
	dc_added(&cl, 1, "f", 1, 0, &f, true, dc_begin(&cl, 1), NULL, 0);
	/* no listing of dir 1 yet: the name is not kept, only its attrs */
	ck_assert_int_eq(dc_answer(&cl, 1, "f", 1, &out, &asof), DC_UNKNOWN);
	ck_assert_int_eq(dc_getattr(&cl, 20, &out, &asof), 0);
	/* a removal whose victim no listing knows hides every attribute */
	dc_removed(&cl, 1, "f", 1, 0, dc_begin(&cl, 1), NULL);
	ck_assert_int_eq(dc_getattr(&cl, 20, &out, &asof), DC_UNKNOWN);
}
END_TEST

START_TEST(test_a_name_change_keeps_the_directory_from_its_reply)
{
	struct cfs_attr dir = attr(30, 0), older = attr(30, 0), f = attr(31, 0);
	struct cfs_attr out;
	int64_t asof, b1, b2;

	dir.mode = older.mode = 040755;
	dir.mtime_ns = 2;
	older.mtime_ns = 1;
	dc_got_attr(&cl, &older, cfs_mono_ns());
	b1 = dc_begin(&cl, 30);
	/* during the change the old attributes are not answered */
	ck_assert_int_eq(dc_getattr(&cl, 30, &out, &asof), DC_UNKNOWN);
	dc_added(&cl, 30, "f", 1, 0, &f, true, b1, &dir, 0);
	ck_assert_int_eq(dc_getattr(&cl, 30, &out, &asof), 0);
	ck_assert_int_eq(out.mtime_ns, 2);
	/* a removal, alone, likewise, even when it hides every attribute */
	dir.mtime_ns = 3;
	dc_removed(&cl, 30, "f", 1, 0, dc_begin(&cl, 30), &dir);
	ck_assert_int_eq(dc_getattr(&cl, 30, &out, &asof), 0);
	ck_assert_int_eq(out.mtime_ns, 3);
	ck_assert_int_eq(dc_getattr(&cl, 31, &out, &asof), DC_UNKNOWN);
	/* two changes of one directory at once: neither reply is the last */
	b1 = dc_begin(&cl, 30);
	b2 = dc_begin(&cl, 30);
	dc_added(&cl, 30, "g", 1, 0, &f, true, b1, &dir, 0);
	ck_assert_int_eq(dc_getattr(&cl, 30, &out, &asof), DC_UNKNOWN);
	dc_removed(&cl, 30, "g", 1, 0, b2, &dir);
	ck_assert_int_eq(dc_getattr(&cl, 30, &out, &asof), DC_UNKNOWN);
	/* a failed change, or a reply without the directory, keeps none */
	dc_added(&cl, 30, "h", 1, -EIO, NULL, true, dc_begin(&cl, 30), &dir, 0);
	ck_assert_int_eq(dc_getattr(&cl, 30, &out, &asof), DC_UNKNOWN);
	dir.ino = 0;
	dc_added(&cl, 30, "h", 1, 0, &f, true, dc_begin(&cl, 30), &dir, 0);
	ck_assert_int_eq(dc_getattr(&cl, 30, &out, &asof), DC_UNKNOWN);
}
END_TEST

START_TEST(test_many_lookups_of_one_directory_ask_for_a_listing)
{
	struct cfs_attr out;
	int64_t asof;
	int rc = DC_UNKNOWN, calls = 0;

	while (rc == DC_UNKNOWN && calls < 100) {
		rc = dc_answer(&cl, 2, "x", 1, &out, &asof);
		calls++;
	}
	ck_assert_int_eq(rc, DC_LIST);
	ck_assert_int_le(calls, 8);
	/* while one thread lists, the others ask the MDS */
	ck_assert_int_eq(dc_answer(&cl, 2, "x", 1, &out, &asof), DC_UNKNOWN);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("dircache", setup, teardown,
		      test_answer_from_the_mds_is_kept_for_the_lease,
		      test_a_change_of_ours_hides_older_answers,
		      test_a_change_keeps_its_own_reply,
		      test_overlapping_changes_keep_neither_reply,
		      test_a_created_name_is_answered_and_a_removed_one_is_not,
		      test_a_name_change_keeps_the_directory_from_its_reply,
		      test_many_lookups_of_one_directory_ask_for_a_listing);
}
