/* Blobs (common/blob.c) and the directory object store
 * (common/objstore.c, file://): a blob filled to its limit reads back
 * segment by segment; any flipped byte, a wrong cluster or a cut blob is
 * refused; objects are whole or absent, ranged reads and deletes work,
 * and bad keys and URLs get clear errors. Seeded (CFS_SEED). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs/blob.h"
#include "cfs/crc.h"
#include "cfs/objstore.h"

#include "check_main.h"

static const char cluster[] = "0123456789abcdef0123456789abcdef";

static unsigned seed(void)
{
	const char *s = getenv("CFS_SEED");
	unsigned v = s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)getpid();
	printf("test_blob: CFS_SEED=%u\n", v);
	return v;
}

static void fill(uint8_t *p, size_t n, unsigned *r)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rand_r(r);
}

START_TEST(test_blob_filled_to_its_limit_parses_back)
{
	unsigned r = seed();
	struct cfs_blob b = { 0 };
	uint8_t *piece = malloc(CFS_BLOB_SEG_MAX);
	ck_assert_ptr_nonnull(piece);
	ck_assert_int_eq(cfs_blob_start(&b, cluster, 77), 0);
	size_t total = 0;
	for (uint64_t ino = 1;; ino++) {
		size_t room = cfs_blob_room(&b);
		if (!room)
			break;
		/* small pieces and whole 1 MiB ones, mixed */
		uint32_t len = (uint32_t)(rand_r(&r) % 3 ? 1u + (unsigned)rand_r(&r) % 9000 :
							   CFS_BLOB_SEG_MAX);
		if (len > room)
			len = (uint32_t)room;
		fill(piece, len, &r);
		ck_assert_int_eq(cfs_blob_add(&b, ino, (uint32_t)ino % 5, ino * 3,
					      ino * 4096, piece, len), 0);
		total += len;
	}
	ck_assert_int_eq(cfs_blob_add(&b, 1, 0, 0, 0, piece, 1), -E2BIG);
	size_t len = cfs_blob_finish(&b);
	ck_assert_uint_le(len, CFS_BLOB_MAX);
	ck_assert_uint_ge(len, CFS_BLOB_MAX - CFS_BLOB_ENTRY);
	uint64_t id;
	struct cfs_blob_seg *segs;
	size_t n;
	ck_assert_int_eq(cfs_blob_parse(b.buf, len, cluster, &id, &segs, &n), 0);
	ck_assert_uint_eq(id, 77);
	ck_assert_uint_eq(n, b.nsegs);
	size_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(segs[i].ino, i + 1);
		ck_assert_uint_eq(segs[i].chunk, (i + 1) % 5);
		ck_assert_uint_eq(segs[i].version, (i + 1) * 3);
		ck_assert_uint_eq(segs[i].chunk_off, (i + 1) * 4096);
		ck_assert_uint_eq(segs[i].crc,
				  cfs_crc32c(b.buf + segs[i].blob_off, segs[i].len));
		sum += segs[i].len;
	}
	ck_assert_uint_eq(sum, total);
	free(segs);
	cfs_blob_free(&b);
	free(piece);
}
END_TEST

START_TEST(test_blob_damage_is_refused)
{
	unsigned r = seed();
	struct cfs_blob b = { 0 };
	uint8_t data[20000];
	fill(data, sizeof(data), &r);
	ck_assert_int_eq(cfs_blob_start(&b, cluster, 5), 0);
	ck_assert_int_eq(cfs_blob_add(&b, 9, 0, 1, 0, data, 12000), 0);
	ck_assert_int_eq(cfs_blob_add(&b, 10, 2, 1, 100, data + 12000, 8000), 0);
	size_t len = cfs_blob_finish(&b);
	uint64_t id;
	struct cfs_blob_seg *segs;
	size_t n;
	/* every byte flipped in turn (a sample of them, all regions) */
	for (size_t at = 0; at < len; at += 1 + rand_r(&r) % 97) {
		b.buf[at] ^= 0x20;
		ck_assert_msg(cfs_blob_parse(b.buf, len, cluster, &id, &segs,
					     &n) == -EBADMSG,
			      "a flip at %zu of %zu went unseen", at, len);
		b.buf[at] ^= 0x20;
	}
	ck_assert_int_eq(cfs_blob_parse(b.buf, len - 1, cluster, &id, &segs, &n),
			 -EBADMSG);
	ck_assert_int_eq(cfs_blob_parse(b.buf, len,
					"fedcba9876543210fedcba9876543210", &id,
					&segs, &n), -EBADMSG);
	ck_assert_int_eq(cfs_blob_parse(b.buf, len, NULL, &id, &segs, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(segs[1].ino, 10);
	ck_assert_int_eq(memcmp(b.buf + segs[1].blob_off, data + 12000, 8000), 0);
	free(segs);
	cfs_blob_free(&b);
}
END_TEST

START_TEST(test_file_store_put_get_delete)
{
	char dir[] = "/tmp/cfs-objstore-XXXXXX", url[64], err[256];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(url, sizeof(url), "file://%s", dir);
	struct cfs_objstore *s;
	ck_assert_int_eq(cfs_objstore_open(url, NULL, &s, err, sizeof(err)), 0);
	uint8_t data[100000], got[100000];
	unsigned r = seed();
	fill(data, sizeof(data), &r);
	ck_assert_int_eq(cfs_objstore_put(s, "b/0001", data, sizeof(data)), 0);
	ck_assert_int_eq(cfs_objstore_get(s, "b/0001", 0, got, sizeof(got)),
			 (ssize_t)sizeof(got));
	ck_assert_int_eq(memcmp(got, data, sizeof(got)), 0);
	ck_assert_int_eq(cfs_objstore_get(s, "b/0001", 99990, got, 50), 10);
	ck_assert_int_eq(memcmp(got, data + 99990, 10), 0);
	/* a PUT over an object replaces it whole */
	ck_assert_int_eq(cfs_objstore_put(s, "b/0001", data + 1, 7), 0);
	ck_assert_int_eq(cfs_objstore_get(s, "b/0001", 0, got, 100), 7);
	ck_assert_int_eq(cfs_objstore_get(s, "b/none", 0, got, 10), -ENOENT);
	ck_assert_int_eq(cfs_objstore_delete(s, "b/0001"), 0);
	ck_assert_int_eq(cfs_objstore_delete(s, "b/0001"), 0);
	ck_assert_int_eq(cfs_objstore_get(s, "b/0001", 0, got, 10), -ENOENT);
	ck_assert_int_eq(cfs_objstore_put(s, "../escape", data, 1), -EINVAL);
	ck_assert_int_eq(cfs_objstore_put(s, "sp ace", data, 1), -EINVAL);
	struct cfs_objstore_stats st;
	cfs_objstore_stats(s, &st);
	ck_assert_uint_eq(st.puts, 2);
	ck_assert_uint_eq(st.gets, 5);
	ck_assert_uint_eq(st.deletes, 2);
	cfs_objstore_close(s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_bad_urls_say_why)
{
	struct cfs_objstore *s;
	char err[256];
	ck_assert_int_eq(cfs_objstore_open("ftp://x", NULL, &s, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "s3://"));
	ck_assert_int_eq(cfs_objstore_open("file:///no/such/dir/here", NULL, &s,
					   err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no such directory"));
	ck_assert_int_eq(cfs_objstore_open("s3://b?color=red", NULL, &s, err,
					   sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "color"));
	ck_assert_int_eq(cfs_objstore_open("s3://b?endpoint=ftp://h", NULL, &s,
					   err, sizeof(err)), -EINVAL);
	unsetenv("AWS_ACCESS_KEY_ID");
	ck_assert_int_eq(cfs_objstore_open("s3://b/p", NULL, &s, err,
					   sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "AWS_ACCESS_KEY_ID"));
	struct cfs_objstore_opts o = { .access_key = "AK", .secret_key = "SK" };
	ck_assert_int_eq(cfs_objstore_open("s3://b/p?endpoint=http://127.0.0.1:1/",
					   &o, &s, err, sizeof(err)), 0);
	ck_assert_str_eq(cfs_objstore_name(s), "s3://b/p");
	cfs_objstore_close(s);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("blob", NULL, NULL, test_blob_filled_to_its_limit_parses_back,
		      test_blob_damage_is_refused, test_file_store_put_get_delete,
		      test_bad_urls_say_why);
}
