/* The client data cache (clients/lib/cache.c) against a model: files
 * whose bytes and versions the test holds, opened, read (the cache's
 * answer checked against the model; a miss "fetched" from the model and
 * filled in, as cfs_read does), written and cut by this client, changed
 * by others, their copies corrupted on disk, the cache closed and opened
 * again (a remount), all at random, in a cache small enough to evict. A
 * read the cache answers must be the model's bytes, every time. No
 * cluster here: what the OSDs and the MDS would say comes from the
 * model. CFS_SEED replays a run; CFS_STEPS operations (1500). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs/log.h"
#include "client_priv.h"

#include "check_main.h"

#define FILES 6
#define MAX_SIZE (300u << 10)
#define CAP (600u << 10)

static struct cfs_client cl;
static char dir[] = "/tmp/cfs-test-cache.XXXXXX";

/* The truth (what the OSDs hold), and what the last open saw: an open
 * file may be served either (close-to-open: another client's change
 * nobody told us of shows at our next open); after a change of ours or
 * one the feed told of, neither until the next open. */
static struct mfile {
	uint8_t *bytes, *seen;
	uint64_t size, seen_size;
	int64_t mtime;	/* the version: moves with every change */
	bool open;	/* opened since a change we know of */
	bool untold;	/* another's change not told of since the open */
} files[FILES + 1];

static void setup(void)
{
	memset(&cl, 0, sizeof(cl));
	cfs_log_init("test", CFS_LOG_ERROR);	/* bad blocks are expected */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(client_cache_open(&cl, dir, CAP), 0);
	for (int i = 1; i <= FILES; i++) {
		files[i].bytes = calloc(1, MAX_SIZE);
		files[i].seen = calloc(1, MAX_SIZE);
		files[i].size = 0;
		files[i].mtime = 1;
		files[i].open = false;
	}
}

static void teardown(void)
{
	char cmd[128];

	client_cache_close(&cl);
	for (int i = 1; i <= FILES; i++) {
		free(files[i].bytes);
		free(files[i].seen);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/cfs-test-cache.XXXXXX");
}

static struct cfs_attr attr_of(int i)
{
	return (struct cfs_attr){ .ino = (uint64_t)i, .size = files[i].size,
				  .mode = 0100644, .nlink = 1,
				  .mtime_ns = files[i].mtime,
				  .ctime_ns = files[i].mtime };
}

static void model_open(int i)
{
	struct cfs_attr a = attr_of(i);

	client_cache_opened(&cl, &a);
	files[i].open = true;
	files[i].untold = false;
	memcpy(files[i].seen, files[i].bytes, MAX_SIZE);
	files[i].seen_size = files[i].size;
}

/* A read as cfs_read does it: the cache, else the model and a fill. */
static void model_read(int i, uint64_t off, size_t len, uint64_t *served)
{
	uint8_t buf[MAX_SIZE];
	uint64_t gen;
	size_t got;

	if (off >= files[i].size)
		return;
	if (len > files[i].size - off)
		len = (size_t)(files[i].size - off);
	got = client_cache_read(&cl, (uint64_t)i, off, buf, len, &gen);
	if (got) {
		ck_assert_uint_eq(got, len);
		ck_assert_msg(files[i].open, "served a file not opened since "
					     "its change");
		for (size_t k = 0;
		     memcmp(buf, files[i].bytes + off, len) && k < len; k++)
			ck_assert_msg(buf[k] == files[i].bytes[off + k] ||
					      (off + k < files[i].seen_size &&
					       buf[k] == files[i].seen[off + k]),
				      "cache served wrong bytes: ino %d off %"
				      PRIu64 " len %zu at %zu", i, off, len,
				      k);
		*served += len;
		return;
	}
	client_cache_fill(&cl, (uint64_t)i, gen, off, files[i].bytes + off,
			  len);
}

static void model_write(int i, uint64_t off, size_t len)
{
	for (size_t k = 0; k < len; k++)
		files[i].bytes[off + k] = (uint8_t)random();
	client_cache_changed(&cl, (uint64_t)i, CACHE_WRITE, off,
			     files[i].bytes + off, len);
	if (off + len > files[i].size)
		files[i].size = off + len;
	files[i].mtime++;
	files[i].open = false;
}

static void corrupt_copy(int i)
{
	char name[PATH_MAX];
	uint8_t junk[16];
	int fd;

	snprintf(name, sizeof(name), "%s/%016" PRIx64 ".data", dir,
		 (uint64_t)i);
	fd = open(name, O_WRONLY);
	if (fd < 0)
		return;
	for (size_t k = 0; k < sizeof(junk); k++)
		junk[k] = (uint8_t)random();
	ck_assert_int_eq(pwrite(fd, junk, sizeof(junk),
				random() % (files[i].size + 1)),
			 (ssize_t)sizeof(junk));
	close(fd);
}

START_TEST(test_random_operations_never_serve_wrong_bytes)
{
	const char *env = getenv("CFS_SEED"), *steps = getenv("CFS_STEPS");
	unsigned seed = env ? (unsigned)atoi(env) : (unsigned)getpid();
	int nsteps = steps ? atoi(steps) : 1500;
	uint64_t served = 0, corrupt = 0, evicted = 0;
	struct cfs_cache_stats st;

	printf("test_cache: seed %u (CFS_SEED=%u replays it)\n", seed, seed);
	srandom(seed);
	for (int step = 0; step < nsteps; step++) {
		int i = 1 + (int)(random() % FILES), op = (int)(random() % 100);
		uint64_t off = files[i].size ? random() % files[i].size : 0;
		size_t len = 1 + (size_t)(random() % (160u << 10));

		if (op < 15) {
			model_open(i);
		} else if (op < 70) {	/* sequential reads fill whole blocks */
			if (random() % 2)
				off = off / (64u << 10) * (64u << 10);
			model_read(i, off, len, &served);
		} else if (op < 78) {
			if (off + len > MAX_SIZE)
				len = MAX_SIZE - off;
			model_write(i, off, len);
		} else if (op < 82) {	/* our truncate */
			files[i].size = off;
			memset(files[i].bytes + off, 0, MAX_SIZE - off);
			client_cache_changed(&cl, (uint64_t)i, CACHE_SIZE, off,
					     NULL, 0);
			files[i].mtime++;
			files[i].open = false;
		} else if (op < 88) {	/* another client's rewrite */
			for (uint64_t k = 0; k < files[i].size; k++)
				files[i].bytes[k] ^= (uint8_t)(1 + k % 7);
			files[i].mtime++;
			/* the feed told us (a second untold one would let
			 * an open file hold three versions' bytes) */
			if (files[i].untold || random() % 2) {
				client_cache_changed(&cl, (uint64_t)i,
						     CACHE_OTHERS, 0, NULL, 0);
				files[i].open = false;
			} else {
				files[i].untold = true;
			}
		} else if (op < 92) {
			corrupt_copy(i);
		} else if (op < 93) {	/* a remount: opens start again */
			ck_assert(cfs_cache_stats(&cl, 0, &st));
			corrupt += st.corrupt;
			evicted += st.evicted;
			client_cache_close(&cl);
			ck_assert_int_eq(client_cache_open(&cl, dir, CAP), 0);
			for (int k = 1; k <= FILES; k++)
				files[k].open = false;
		} else if (files[i].size < 1000) {
			model_write(i, 0, 1 + (size_t)(random() % MAX_SIZE));
		} else {
			client_cache_closed(&cl, (uint64_t)i);
		}
		ck_assert(cfs_cache_stats(&cl, 0, &st));
		ck_assert_uint_le(st.used, CAP);
		ck_assert_uint_le(st.entries, FILES);
	}
	/* and at the end, every file whole: more than the cache holds */
	for (int i = 1; i <= FILES; i++) {
		model_write(i, 0, 250u << 10);
		model_open(i);
		model_read(i, 0, 250u << 10, &served);
		model_read(i, 0, 250u << 10, &served);
	}
	/* the newest copy, bad on disk: caught, never served */
	{
		char name[PATH_MAX];
		uint8_t buf[4096];
		uint64_t gen;
		int fd;

		snprintf(name, sizeof(name), "%s/%016x.data", dir, FILES);
		fd = open(name, O_WRONLY);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pwrite(fd, "bad!", 4, 100), 4);
		close(fd);
		ck_assert_uint_eq(client_cache_read(&cl, FILES, 0, buf,
						    sizeof(buf), &gen), 0);
	}
	ck_assert(cfs_cache_stats(&cl, 0, &st));
	ck_assert_uint_le(st.used, CAP);
	corrupt += st.corrupt;
	evicted += st.evicted;
	printf("test_cache: %" PRIu64 " bytes served from the cache, %" PRIu64
	       " blocks caught bad, %" PRIu64 " entries evicted\n",
	       served, corrupt, evicted);
	/* a test that cannot fail is no test: the cache did serve reads,
	 * caught corruption and evicted */
	ck_assert_uint_gt(served, 0);
	ck_assert_uint_gt(corrupt, 0);
	ck_assert_uint_gt(evicted, 0);
}
END_TEST

START_TEST(test_a_second_mount_cannot_take_the_directory)
{
	struct cfs_client other;

	memset(&other, 0, sizeof(other));
	ck_assert_int_eq(client_cache_open(&other, dir, CAP), -EBUSY);
	ck_assert_ptr_null(other.cache);
}
END_TEST

START_TEST(test_a_copy_survives_a_remount_and_a_torn_meta_does_not)
{
	uint8_t buf[4096];
	uint64_t gen, s0 = 0;
	char name[PATH_MAX];

	files[1].size = 100000;
	memset(files[1].bytes, 'x', files[1].size);
	model_open(1);
	model_read(1, 0, (size_t)files[1].size, &s0);
	client_cache_closed(&cl, 1);	/* its meta written */
	client_cache_close(&cl);
	ck_assert_int_eq(client_cache_open(&cl, dir, CAP), 0);
	model_open(1);
	ck_assert_uint_eq(client_cache_read(&cl, 1, 5000, buf, 4096, &gen),
			  4096);
	ck_assert_int_eq(buf[0], 'x');
	/* a meta cut short: not loaded, and both files go */
	client_cache_close(&cl);
	snprintf(name, sizeof(name), "%s/%016" PRIx64 ".meta", dir,
		 (uint64_t)1);
	ck_assert_int_eq(truncate(name, 20), 0);
	ck_assert_int_eq(client_cache_open(&cl, dir, CAP), 0);
	model_open(1);
	ck_assert_uint_eq(client_cache_read(&cl, 1, 5000, buf, 4096, &gen),
			  0);
	snprintf(name, sizeof(name), "%s/%016" PRIx64 ".data", dir,
		 (uint64_t)1);
	ck_assert_int_ne(access(name, F_OK), 0);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("cache", setup, teardown,
		      test_random_operations_never_serve_wrong_bytes,
		      test_a_second_mount_cannot_take_the_directory,
		      test_a_copy_survives_a_remount_and_a_torn_meta_does_not);
}
