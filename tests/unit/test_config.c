/* Config: defaults, a JSON file, flags over the file, and errors that
 * name the offending key. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs/config.h"

#include "check_main.h"

struct cfg {
	char listen[CFS_CONFIG_STR_MAX];
	long long workers;
	bool verbose;
};

static const struct cfs_config_key keys[] = {
	{ "listen", CFS_CFG_STR, "127.0.0.1:1", offsetof(struct cfg, listen), 0,
	  0, "address" },
	{ "workers", CFS_CFG_INT, "4", offsetof(struct cfg, workers), 1, 64,
	  "threads" },
	{ "verbose", CFS_CFG_BOOL, "false", offsetof(struct cfg, verbose), 0, 0,
	  "chatty" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int load(struct cfg *c, int argc, char **argv, char *err)
{
	char *rest[4];
	int nrest;

	return cfs_config_load(keys, NKEYS, c, argc, argv, rest, 4, &nrest,
			       err, 256);
}

static char *write_file(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/cfs_test_cfg_%d.json", getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(test_defaults_apply_without_file_or_flags)
{
	struct cfg c;
	char err[256], *argv[] = { "prog" };

	ck_assert_int_eq(load(&c, 1, argv, err), 0);
	ck_assert_str_eq(c.listen, "127.0.0.1:1");
	ck_assert_int_eq(c.workers, 4);
	ck_assert(!c.verbose);
}
END_TEST

START_TEST(test_flags_override_file)
{
	struct cfg c;
	char err[256];
	char *path = write_file("{\"workers\": 8, \"listen\": \"a:2\", "
				"\"verbose\": true}");
	char *argv[] = { "prog", "--workers", "16", "--config", path };

	ck_assert_int_eq(load(&c, 5, argv, err), 0);
	ck_assert_int_eq(c.workers, 16);
	ck_assert_str_eq(c.listen, "a:2");
	ck_assert(c.verbose);
	unlink(path);
}
END_TEST

START_TEST(test_unknown_key_in_file_is_named)
{
	struct cfg c;
	char err[256];
	char *path = write_file("{\"wrokers\": 8}");
	char *argv[] = { "prog", "--config", path };

	ck_assert_int_eq(load(&c, 3, argv, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "wrokers"));
	unlink(path);
}
END_TEST

START_TEST(test_bad_values_are_named)
{
	struct cfg c;
	char err[256];
	char *a1[] = { "prog", "--workers=lots" };
	char *a2[] = { "prog", "--workers=1000" };
	char *a3[] = { "prog", "--nope=1" };
	char *path = write_file("{\"workers\": \"8\"}");
	char *a4[] = { "prog", "--config", path };

	ck_assert_int_eq(load(&c, 2, a1, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "workers"));
	ck_assert_int_eq(load(&c, 2, a2, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "outside"));
	ck_assert_int_eq(load(&c, 2, a3, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "nope"));
	ck_assert_int_eq(load(&c, 3, a4, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "wrong type"));
	unlink(path);
}
END_TEST

START_TEST(test_malformed_json_is_reported_with_line)
{
	struct cfg c;
	char err[256];
	char *path = write_file("{\n\"workers\": 8,,\n}");
	char *argv[] = { "prog", "--config", path };

	ck_assert_int_eq(load(&c, 3, argv, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
	unlink(path);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("config", NULL, NULL,
		      test_defaults_apply_without_file_or_flags,
		      test_flags_override_file,
		      test_unknown_key_in_file_is_named,
		      test_bad_values_are_named,
		      test_malformed_json_is_reported_with_line);
}
