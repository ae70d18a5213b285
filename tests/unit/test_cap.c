/* Capabilities (common/cap.c): what the OSDs accept and refuse. */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "cfs/cap.h"
#include "check_main.h"

static uint8_t key[CFS_CAP_KEY];

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	randombytes_buf(key, sizeof(key));
}

START_TEST(test_a_signed_capability_opens_its_file_only)
{
	Cfs__Capability cap;
	uint8_t mac[CFS_CAP_MAC], other[CFS_CAP_KEY];
	const char *why = NULL;

	cfs_cap_sign(key, 42, false, "00112233aabbccdd", 1000, &cap, mac);
	ck_assert_int_eq(cfs_cap_check(key, &cap, 42, false, "00112233aabbccdd",
				       999, &why),
			 0);
	ck_assert_int_eq(cfs_cap_check(key, &cap, 43, false, "00112233aabbccdd",
				       999, &why),
			 -EACCES);
	ck_assert_str_eq(why, "a capability for another file");
	ck_assert_int_eq(cfs_cap_check(key, &cap, 42, false, "ffffffffffffffff",
				       999, &why),
			 -EACCES);
	ck_assert_str_eq(why, "another token's capability");
	ck_assert_int_eq(cfs_cap_check(key, &cap, 42, true, "00112233aabbccdd",
				       999, &why),
			 -EACCES);
	ck_assert_str_eq(why, "a read capability for a change");
	ck_assert_int_eq(cfs_cap_check(key, &cap, 42, false, "00112233aabbccdd",
				       1000, &why),
			 -EKEYEXPIRED);
	ck_assert_int_eq(cfs_cap_check(key, NULL, 42, false, "00112233aabbccdd",
				       999, &why),
			 -EACCES);
	ck_assert_str_eq(why, "no capability");
	/* another cluster's key */
	randombytes_buf(other, sizeof(other));
	ck_assert_int_eq(cfs_cap_check(other, &cap, 42, false,
				       "00112233aabbccdd", 999, &why),
			 -EACCES);
	ck_assert_str_eq(why, "a capability the MDS did not sign");
}
END_TEST

/* Every field is under the MAC: a change to any is a forgery. */
START_TEST(test_any_field_changed_is_refused)
{
	Cfs__Capability cap, bad;
	uint8_t mac[CFS_CAP_MAC];
	const char *why = NULL;
	char token[] = "00112233aabbccdd";

	cfs_cap_sign(key, 7, false, token, 5000, &cap, mac);
	bad = cap;
	bad.write = true;
	ck_assert_int_eq(cfs_cap_check(key, &bad, 7, true, token, 1, &why),
			 -EACCES);
	ck_assert_str_eq(why, "a capability the MDS did not sign");
	bad = cap;
	bad.expires = 9000;
	ck_assert_int_eq(cfs_cap_check(key, &bad, 7, false, token, 6000, &why),
			 -EACCES);
	bad = cap;
	bad.ino = 8;
	ck_assert_int_eq(cfs_cap_check(key, &bad, 8, false, token, 1, &why),
			 -EACCES);
	bad = cap;
	bad.mac.len = 31;
	ck_assert_int_eq(cfs_cap_check(key, &bad, 7, false, token, 1, &why),
			 -EACCES);
	ck_assert_str_eq(why, "a malformed capability");
	bad = cap;
	bad.token = NULL;
	ck_assert_int_eq(cfs_cap_check(key, &bad, 7, false, token, 1, &why),
			 -EACCES);
	ck_assert_int_eq(cfs_cap_check(key, &cap, 7, false, token, 1, &why), 0);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("cap", setup, NULL,
		      test_a_signed_capability_opens_its_file_only,
		      test_any_field_changed_is_refused);
}
