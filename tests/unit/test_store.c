/* The OSD chunk store on real files through io_uring: round trips with
 * CRCs, partial-block merges, holes, truncation, punching, whole-chunk
 * copies, corruption on disk detected on read, and reads racing
 * writes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../osd/store.h"
#include "cfs/blob.h"
#include "cfs/crc.h"
#include "cfs/objstore.h"
#include "cfs/layout.h"
#include "cfs/map.h"

#include "check_main.h"

static struct store st;
static char dir[64];
static const struct chunk_id C = { 0x1234, 2 };

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cfs_store_test_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(store_open(&st, dir), 0);
}

static void teardown(void)
{
	char cmd[128];

	store_close(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write like a client: one CRC per piece cut at block boundaries. */
static int put_to(struct chunk_id c, uint64_t off, const void *data,
		  size_t len, uint64_t version)
{
	struct store_extent e = { off, len };
	uint32_t crcs[300];

	cfs_crc_pieces(off, data, len, crcs);
	return store_write(&st, c, &e, 1, data, crcs, version, NULL);
}

static int put(uint64_t off, const void *data, size_t len, uint64_t version)
{
	return put_to(C, off, data, len, version);
}

/* Read [off, off+len) of chunk c back into out (zeros past its end). */
static int get_from(struct chunk_id c, uint64_t off, size_t len, void *out,
		    uint64_t *version)
{
	uint64_t boff, size;
	uint32_t *crcs;
	size_t nb;
	void *data;
	int rc = store_read(&st, c, off, len, false, &data, &boff, &crcs, &nb,
			    version, &size);

	memset(out, 0, len);
	if (rc)
		return rc;
	if (nb) {
		uint64_t have = boff + nb * CFS_BLOCK_SIZE - off;

		memcpy(out, (char *)data + (off - boff), have < len ? have : len);
	}
	free(data);
	free(crcs);
	return 0;
}

static int get(uint64_t off, size_t len, void *out, uint64_t *version)
{
	return get_from(C, off, len, out, version);
}

/* The inode of chunk c's file (0: none) and the files in the pool. */
static ino_t chunk_inode(struct chunk_id c)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/chunks/%02x/%016" PRIx64 ".%" PRIx64,
		 dir, (unsigned)(c.ino & 0xff), c.ino, c.index);
	return stat(path, &sb) ? 0 : sb.st_ino;
}

static int pooled(void)
{
	char cmd[128];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s/pool | wc -l", dir);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

/* Whether the pool has n empty files ready within 3 s (its emptier
 * works in the background). */
static bool pool_ready_within(size_t n)
{
	for (int i = 0; i < 300; i++) {
		if (pool_ready(&st.pool) == n)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* Chunk c filled with 'x' up to len, a MiB at a time. */
static void fill(struct chunk_id c, size_t len)
{
	static char mib[1 << 20];

	memset(mib, 'x', sizeof(mib));
	for (size_t off = 0; off < len; off += sizeof(mib))
		ck_assert_int_eq(put_to(c, off, mib,
					len - off < sizeof(mib) ? len - off :
								  sizeof(mib),
					1),
				 0);
}

START_TEST(test_write_read_round_trip_unaligned)
{
	size_t len = 300000;
	char *a = malloc(len), *b = malloc(len);
	uint64_t v;

	for (size_t i = 0; i < len; i++)
		a[i] = (char)(i * 31 + 7);
	ck_assert_int_eq(put(1000, a, len, 1), 0);
	ck_assert_int_eq(get(1000, len, b, &v), 0);
	ck_assert_mem_eq(a, b, len);
	ck_assert_uint_eq(v, 1);
	/* overwrite a few bytes inside a block: the rest of it survives */
	ck_assert_int_eq(put(5000, "XYZ", 3, 2), 0);
	memcpy(a + 4000, "XYZ", 3);
	ck_assert_int_eq(get(1000, len, b, &v), 0);
	ck_assert_mem_eq(a, b, len);
	ck_assert_uint_eq(v, 2);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_holes_read_as_zeros)
{
	char b[8192], zeros[8192] = { 0 };
	uint64_t v;

	ck_assert_int_eq(get(0, 100, b, &v), 0);	/* no chunk at all */
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(put(10 << 20, "end", 3, 1), 0);
	ck_assert_int_eq(get(4096 * 5, sizeof(b), b, &v), 0);
	ck_assert_mem_eq(b, zeros, sizeof(b));
	ck_assert_int_eq(get(10 << 20, 3, b, &v), 0);
	ck_assert_mem_eq(b, "end", 3);
}
END_TEST

START_TEST(test_truncate_then_extend_reads_zeros)
{
	char a[10000], b[10000];
	uint64_t v;

	memset(a, 'a', sizeof(a));
	ck_assert_int_eq(put(0, a, sizeof(a), 1), 0);
	ck_assert_int_eq(store_truncate(&st, C, 5000, 2, 0), 0);
	ck_assert_int_eq(put(9000, "z", 1, 3), 0);
	ck_assert_int_eq(get(0, 9001, b, &v), 0);
	memset(a + 5000, 0, 5000);
	a[9000] = 'z';
	ck_assert_mem_eq(a, b, 9001);
	ck_assert_uint_eq(v, 3);
}
END_TEST

START_TEST(test_shrink_to_block_then_write_beyond)
{
	char a[4 * 4096], b[4 * 4096];
	uint64_t v;

	memset(a, 'a', sizeof(a));
	ck_assert_int_eq(put(0, a, 3 * 4096, 1), 0);
	ck_assert_int_eq(store_truncate(&st, C, 4096, 2, 0), 0);
	/* blocks 1 and 2 are a hole now: the write past them must not
	 * find their old CRCs */
	ck_assert_int_eq(put(3 * 4096, a, 4096, 3), 0);
	ck_assert_int_eq(get(0, sizeof(b), b, &v), 0);
	memset(a + 4096, 0, 2 * 4096);
	ck_assert_mem_eq(a, b, sizeof(b));
	ck_assert_uint_eq(v, 3);
}
END_TEST

START_TEST(test_punch_hole_zeroes_range_only)
{
	char a[20000], b[20000];
	uint64_t v;

	memset(a, 'p', sizeof(a));
	ck_assert_int_eq(put(0, a, sizeof(a), 1), 0);
	ck_assert_int_eq(store_punch(&st, C, 3000, 9000, 2, 0), 0);
	memset(a + 3000, 0, 9000);
	ck_assert_int_eq(get(0, sizeof(b), b, &v), 0);
	ck_assert_mem_eq(a, b, sizeof(a));
}
END_TEST

START_TEST(test_corruption_on_disk_is_detected)
{
	char a[8192], b[8192], path[256];
	uint64_t v;
	int fd;

	memset(a, 'c', sizeof(a));
	ck_assert_int_eq(put(0, a, sizeof(a), 1), 0);
	snprintf(path, sizeof(path), "%s/chunks/%02x/%016" PRIx64 ".%" PRIx64,
		 dir, (unsigned)(C.ino & 0xff), C.ino, C.index);
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "X", 1, STORE_DATA_OFF + 5000), 1);
	close(fd);
	ck_assert_int_eq(get(4096, 100, b, &v), -EBADMSG);
	ck_assert_int_eq(get(0, 100, b, &v), 0);	/* block 0 is intact */
	/* a partial write into the bad block must not bless it */
	ck_assert_int_eq(put(4100, "q", 1, 2), -EIO);
}
END_TEST

START_TEST(test_put_replaces_whole_chunk_and_remove)
{
	char a[3 * 4096], b[3 * 4096];
	uint32_t crcs[3];
	uint64_t v;

	ck_assert_int_eq(put(0, "old data", 8, 1), 0);
	memset(a, 'n', sizeof(a));
	memset(a + 10000, 0, sizeof(a) - 10000);	/* zero padding */
	for (int i = 0; i < 3; i++)
		crcs[i] = cfs_crc32c(a + i * 4096, 4096);
	ck_assert_int_eq(store_put(&st, C, a, 10000, crcs, 7), 0);
	ck_assert_int_eq(get(0, 10000, b, &v), 0);
	ck_assert_mem_eq(a, b, 10000);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(store_version(&st, C, &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(store_remove(&st, C), 0);
	ck_assert_int_eq(store_version(&st, C, &v), 0);
	ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(test_seek_data_and_holes_in_whole_blocks)
{
	bool found;
	uint64_t at;

	ck_assert_int_eq(store_seek(&st, C, 0, false, &found, &at), 0);
	ck_assert(!found);	/* no chunk: no data */
	ck_assert_int_eq(put(1 << 20, "abc", 3, 1), 0);
	ck_assert_int_eq(store_seek(&st, C, 0, false, &found, &at), 0);
	ck_assert(found);
	ck_assert_uint_eq(at, 1 << 20);
	ck_assert_int_eq(store_seek(&st, C, 0, true, &found, &at), 0);
	ck_assert_uint_eq(at, 0);
	/* the last partial block is data to its end, then a hole */
	ck_assert_int_eq(store_seek(&st, C, (1 << 20) + 10, false, &found,
				    &at), 0);
	ck_assert(found);
	ck_assert_uint_eq(at, (1 << 20) + 10);
	ck_assert_int_eq(store_seek(&st, C, (1 << 20) + 1, true, &found, &at),
			 0);
	ck_assert_uint_eq(at, (1 << 20) + 4096);
	ck_assert_int_eq(store_seek(&st, C, 2 << 20, false, &found, &at), 0);
	ck_assert(!found);
}
END_TEST

/* Several extents as one change: applied in order (two share a block,
 * one extends the chunk), one version, bytes as written. */
START_TEST(test_write_extents_as_one_change)
{
	struct store_extent ex[] = {
		{ 8192, 4096 }, { 100, 50 }, { 120, 10 }, { 20000, 7000 },
	};
	static char want[27000], data[11156], got[27000];
	uint32_t crcs[16];
	size_t pos = 0, nc = 0;
	uint64_t v;

	ck_assert_int_eq(put(0, want, 9000, 1), 0);	/* zeros below */
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		for (size_t k = 0; k < ex[i].len; k++)
			data[pos + k] = (char)('a' + i + k % 7);
		memcpy(want + ex[i].off, data + pos, ex[i].len);
		nc += cfs_crc_pieces(ex[i].off, data + pos, ex[i].len,
				     crcs + nc);
		pos += ex[i].len;
	}
	ck_assert_uint_eq(pos, sizeof(data));
	ck_assert_int_eq(store_write(&st, C, ex, 4, data, crcs, 2, NULL), 0);
	ck_assert_int_eq(get(0, sizeof(got), got, &v), 0);
	ck_assert_mem_eq(got, want, sizeof(want));
	ck_assert_uint_eq(v, 2);
	/* an empty extent is refused whole */
	ex[1].len = 0;
	ck_assert_int_eq(store_write(&st, C, ex, 4, data, crcs, 3, NULL), -EINVAL);
	ck_assert_int_eq(store_version(&st, C, &v), 0);
	ck_assert_uint_eq(v, 2);
}
END_TEST

/* The primary's write in steps: written and versioned at begin (a
 * reader sees it), durable at finish, with or without a started sync;
 * a begin that fails leaves nothing to finish and the chunk as it was. */
START_TEST(test_deferred_sync_write)
{
	struct store_pending p;
	char a[8192], b[8192];
	uint32_t crcs[2];
	uint64_t v;

	memset(a, 'a', sizeof(a));
	crcs[0] = cfs_crc32c(a, 4096);
	crcs[1] = cfs_crc32c(a + 4096, 4096);
	ck_assert_int_eq(store_write_begin(&st, C,
					   &(struct store_extent){ 0, sizeof(a) },
					   1, a, crcs, 1, 0, &p), 0);
	ck_assert_int_eq(get(0, sizeof(b), b, &v), 0);
	ck_assert_mem_eq(a, b, sizeof(a));
	ck_assert_uint_eq(v, 1);
	store_sync_start(&p);
	ck_assert_int_eq(store_sync_finish(&p), 0);
	memset(a, 'b', 4096);
	crcs[0] = cfs_crc32c(a, 4096);
	ck_assert_int_eq(store_write_begin(&st, C,
					   &(struct store_extent){ 0, 4096 }, 1,
					   a, crcs, 2, 0, &p), 0);
	ck_assert_int_eq(store_sync_finish(&p), 0);	/* no start: runs it */
	ck_assert_int_eq(get(0, sizeof(b), b, &v), 0);
	ck_assert_mem_eq(a, b, sizeof(a));
	ck_assert_uint_eq(v, 2);
	/* past the chunk's end: refused, nothing left open */
	ck_assert_int_eq(store_write_begin(&st, C,
					   &(struct store_extent){
						   CFS_CHUNK_SIZE - 1, 2 },
					   1, a, crcs, 3, 0, &p), -EINVAL);
	ck_assert_int_eq(store_version(&st, C, &v), 0);
	ck_assert_uint_eq(v, 2);
}
END_TEST

START_TEST(test_a_removed_chunks_file_is_reused_empty)
{
	const struct chunk_id D = { 0x99, 0 }, E = { 0x99, 1 };
	char a[8192], b[8192];
	ino_t was;
	uint64_t v;

	memset(a, 'a', sizeof(a));
	ck_assert_int_eq(put(0, a, sizeof(a), 1), 0);
	was = chunk_inode(C);
	ck_assert_int_eq(store_remove(&st, C), 0);
	ck_assert_int_eq(chunk_inode(C), 0);
	ck_assert_int_eq(pooled(), 1);
	/* the next new chunk takes that file: nothing of the old is seen */
	ck_assert_int_eq(put_to(D, 100, "new", 3, 1), 0);
	ck_assert_int_eq(chunk_inode(D), was);
	ck_assert_int_eq(pooled(), 0);
	ck_assert_int_eq(get_from(D, 0, sizeof(b), b, &v), 0);
	ck_assert_uint_eq(v, 1);
	memset(a, 0, sizeof(a));
	memcpy(a + 100, "new", 3);
	ck_assert_mem_eq(a, b, sizeof(b));
	ck_assert_int_eq(get(0, 100, b, &v), 0);
	ck_assert_uint_eq(v, 0);	/* the removed chunk stays absent */
	/* kept files outlive a restart */
	ck_assert_int_eq(store_remove(&st, D), 0);
	store_close(&st);
	ck_assert_int_eq(store_open(&st, dir), 0);
	ck_assert_int_eq(pooled(), 1);
	ck_assert_int_eq(put_to(E, 0, "e", 1, 1), 0);
	ck_assert_int_eq(chunk_inode(E), was);
	/* removing what is not there is no error */
	ck_assert_int_eq(store_remove(&st, D), 0);
}
END_TEST

/* A large file is emptied by the pool's thread, a step at a time, and
 * then reused like a small one; so is one a stop left full. */
START_TEST(test_a_large_removed_file_is_emptied_in_the_background)
{
	const struct chunk_id D = { 0x99, 0 }, E = { 0x99, 1 };
	char b[8192], zero[8192] = { 0 };
	char path[200];
	ino_t was;
	uint64_t v;
	int fd;

	fill(C, 3 * POOL_STEP + 12345);
	was = chunk_inode(C);
	ck_assert_int_eq(store_remove(&st, C), 0);
	ck_assert_int_eq(chunk_inode(C), 0);
	ck_assert_int_eq(pooled(), 1);
	ck_assert(pool_ready_within(1));
	ck_assert_int_eq(put_to(D, 0, "new", 3, 1), 0);
	ck_assert_int_eq(chunk_inode(D), was);
	ck_assert_int_eq(get_from(D, 4096, sizeof(b), b, &v), 0);
	ck_assert_mem_eq(b, zero, sizeof(b));
	/* a pool file left holding data (a stop halfway) */
	store_close(&st);
	snprintf(path, sizeof(path), "%s/pool/00000000000000ff", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 2 * POOL_STEP), 0);
	ck_assert_int_eq(pwrite(fd, "old", 3, POOL_STEP), 3);
	close(fd);
	ck_assert_int_eq(store_open(&st, dir), 0);
	ck_assert(pool_ready_within(1));
	ck_assert_int_eq(put_to(E, 0, "e", 1, 1), 0);
	ck_assert_int_eq(get_from(E, POOL_STEP - 4096, sizeof(b), b, &v), 0);
	ck_assert_mem_eq(b, zero, sizeof(b));
}
END_TEST

/* Changes made as the OSD makes them: under the chunk's lock, each with
 * the next version, past the first block. */
static volatile int writer_stop;

static void *keep_writing(void *arg)
{
	static char b[3 * CFS_BLOCK_SIZE];
	uint64_t v = 2;

	(void)arg;
	while (!writer_stop) {
		memset(b, (int)('a' + v % 26), sizeof(b));
		store_lock(&st, C);
		ck_assert_int_eq(put(CFS_BLOCK_SIZE + v % 1000, b, sizeof(b), v),
				 0);
		store_unlock(&st, C);
		v++;
	}
	return NULL;
}

/* A read that races changes elsewhere in the chunk still returns the
 * bytes that stood still (it once came back empty, as if the chunk had
 * been removed, when the version moved between its two looks). */
START_TEST(test_reads_racing_writes_see_the_unchanged_block)
{
	char first[CFS_BLOCK_SIZE], b[CFS_BLOCK_SIZE];
	pthread_t t;
	uint64_t v;

	memset(first, 'F', sizeof(first));
	ck_assert_int_eq(put(0, first, sizeof(first), 1), 0);
	writer_stop = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, keep_writing, NULL), 0);
	for (int i = 0; i < 3000; i++) {
		ck_assert_int_eq(get(0, sizeof(b), b, &v), 0);
		ck_assert_mem_eq(b, first, sizeof(b));
	}
	writer_stop = 1;
	pthread_join(t, NULL);
}
END_TEST

/* Rollback records of EC shards, against a model: random writes (one
 * or several extents, partial blocks, past the end), truncations and
 * punches, each naming its takers; after each, half the time, the
 * change is rolled back: the shard must be byte for byte and in size
 * what it was before, renumbered past the undone version, and the
 * record (with its takers) used once. A first change rolls back to
 * nothing. Many seeds; a replicated chunk keeps no records. */
#define RB_SPAN (256u << 10)

static void rb_check(struct chunk_id s, const uint8_t *model, uint64_t size,
		     uint64_t version, unsigned seed, int step)
{
	static uint8_t got[RB_SPAN];
	uint64_t v, sz;

	ck_assert_int_eq(store_stat(&st, s, &v, &sz), 0);
	ck_assert_msg(v == version && sz == size,
		      "seed %u step %d: version %lu size %lu, want %lu %lu",
		      seed, step, (unsigned long)v, (unsigned long)sz,
		      (unsigned long)version, (unsigned long)size);
	ck_assert_int_eq(get_from(s, 0, RB_SPAN, got, &v), 0);
	ck_assert_msg(memcmp(got, model, RB_SPAN) == 0,
		      "seed %u step %d: bytes differ from the model", seed, step);
}

START_TEST(test_ec_shard_changes_roll_back_exactly)
{
	static uint8_t model[RB_SPAN], before[RB_SPAN], data[3][40000];
	static const struct store_takers T = { { 7, 0, 9, 3, 4, 12 }, 42 };
	const struct chunk_id rep = { 0x78, 3 };

	for (unsigned seed = 1; seed <= 12; seed++) {
		struct chunk_id s = { 0x77, CFS_SHARD_BIT | seed };
		uint64_t size = 0, version = 0, bsize;
		struct store_takers takers;

		srand(seed);
		memset(model, 0, sizeof(model));
		for (int step = 0; step < 40; step++) {
			int op = rand() % 6;
			uint64_t v = version + 1;

			memcpy(before, model, sizeof(model));
			bsize = size;
			if (op <= 3 || version == 0) {
				struct store_extent ex[3];
				uint32_t crcs[3 * 12];
				size_t n = 1 + (size_t)(rand() % 3), nc = 0;
				uint8_t all[3 * 40000];
				size_t at = 0;

				for (size_t i = 0; i < n; i++) {
					ex[i].len = 1 + (uint64_t)(rand() % 40000);
					ex[i].off = (uint64_t)rand() %
						    (RB_SPAN - ex[i].len);
					for (size_t b = 0; b < ex[i].len; b++)
						data[i][b] = (uint8_t)rand();
					cfs_crc_pieces(ex[i].off, data[i],
						       ex[i].len, crcs + nc);
					nc += cfs_crc_npieces(ex[i].off,
							      ex[i].len);
					memcpy(all + at, data[i], ex[i].len);
					at += ex[i].len;
					memcpy(model + ex[i].off, data[i],
					       ex[i].len);
					if (ex[i].off + ex[i].len > size)
						size = ex[i].off + ex[i].len;
				}
				struct store_pending pend;

				ck_assert_int_eq(store_write_begin(&st, s, ex, n,
								   all, crcs, v,
								   &T, &pend),
						 0);
				ck_assert_int_eq(store_sync_finish(&pend), 0);
			} else if (op == 4) {
				uint64_t to = (uint64_t)rand() % (size + 1);

				ck_assert_int_eq(store_truncate(&st, s, to, v, &T),
						 0);
				if (to < size)
					memset(model + to, 0, size - to);
				size = to;
			} else {
				uint64_t off = (uint64_t)rand() % (size + 1);
				uint64_t len = (uint64_t)rand() % 50000;

				ck_assert_int_eq(store_punch(&st, s, off, len,
							     v, &T), 0);
				if (off < size)
					memset(model + off, 0,
					       (off + len < size ? off + len :
								   size) - off);
			}
			version = v;
			rb_check(s, model, size, version, seed, step);
			if (rand() % 2)
				continue;
			ck_assert_msg(store_can_roll_back(&st, s, version,
							  &takers) &&
					      !memcmp(&takers, &T, sizeof(T)),
				      "seed %u step %d: no record", seed, step);
			/* back to the bytes before, renumbered past it */
			ck_assert_int_eq(store_rollback(&st, s, version - 1,
							version + 1), 0);
			memcpy(model, before, sizeof(model));
			size = bsize;
			version++;
			rb_check(s, model, size, version, seed, step);
			/* a record is used once; renumbering alone keeps
			 * the bytes */
			ck_assert(!store_can_roll_back(&st, s, version, NULL));
			ck_assert_int_eq(store_rollback(&st, s, version - 1,
							version + 1), -ESTALE);
			ck_assert_int_eq(store_rollback(&st, s, version,
							version + 2), 0);
			version += 2;
			rb_check(s, model, size, version, seed, step);
		}
	}
	fill(rep, 10000);
	ck_assert(!store_can_roll_back(&st, rep, 1, NULL));
}
END_TEST

/* Put the bytes [off, off+len) of data as pieces of blob id in the store
 * (file://), appending them to p[] (*n). */
static void tier_ranges(uint64_t id, const uint8_t *data, const uint64_t *rng,
			size_t nr, struct store_piece *p, size_t *n)
{
	struct cfs_blob b = { 0 };
	char key[64];

	ck_assert_int_eq(cfs_blob_start(&b, "0123456789abcdef0123456789abcdef",
					id), 0);
	for (size_t r = 0; r < nr; r++)
		for (uint64_t at = rng[2 * r]; at < rng[2 * r] + rng[2 * r + 1];) {
			uint64_t len = rng[2 * r] + rng[2 * r + 1] - at;

			if (len > CFS_BLOB_SEG_MAX)
				len = CFS_BLOB_SEG_MAX;
			ck_assert_int_eq(cfs_blob_add(&b, C.ino, 0, 1, at, data + at,
						      (uint32_t)len), 0);
			p[*n] = (struct store_piece){
				.blob = id,
				.blob_off = b.segs[b.nsegs - 1].blob_off,
				.chunk_off = at, .len = (uint32_t)len,
				.crc = b.segs[b.nsegs - 1].crc };
			(*n)++;
			at += len;
		}
	size_t len = cfs_blob_finish(&b);
	snprintf(key, sizeof(key), "blobs/%016" PRIx64, id);
	ck_assert_int_eq(cfs_objstore_put(st.tier, key, b.buf, len), 0);
	cfs_blob_free(&b);
}

static uint64_t chunk_blocks(void)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/chunks/%02x/%016" PRIx64 ".%" PRIx64,
		 dir, (unsigned)(C.ino & 0xff), C.ino, C.index);
	ck_assert_int_eq(stat(path, &sb), 0);
	return (uint64_t)sb.st_blocks;
}

START_TEST(test_evicted_chunk_comes_back_from_the_store)
{
	static uint8_t data[1100000], got[1100000];
	const uint64_t rng[] = { 0, 300000, 1000000, 100000 };
	struct store_piece p[8];
	size_t n = 0;
	uint64_t v;
	char url[128], err[200];

	snprintf(url, sizeof(url), "file://%s", dir);
	ck_assert_int_eq(cfs_objstore_open(url, NULL, &st.tier, err,
					   sizeof(err)), 0);
	srand(7);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	memset(data + 300000, 0, 700000);	/* a hole between */
	ck_assert_int_eq(put(0, data, 300000, 1), 0);
	ck_assert_int_eq(put(1000000, data + 1000000, 100000, 2), 0);
	tier_ranges(5, data, rng, 2, p, &n);
	uint64_t full = chunk_blocks();

	/* a piece that is not our bytes, or bytes no piece holds: refused */
	struct store_piece bad[8];
	memcpy(bad, p, sizeof(p));
	bad[0].crc ^= 1;
	store_lock(&st, C);
	ck_assert_int_eq(store_evict(&st, C, bad, n), -ESTALE);
	ck_assert_int_eq(store_evict(&st, C, p, n - 1), -ESTALE);
	ck_assert(!store_evicted(&st, C));
	ck_assert_int_eq(store_evict(&st, C, p, n), 0);
	store_unlock(&st, C);
	ck_assert(store_evicted(&st, C));
	ck_assert_uint_lt(chunk_blocks(), full / 4);

	/* read back (without the lock, as a client's read): the bytes */
	ck_assert_int_eq(get(0, sizeof(got), got, &v), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(memcmp(got, data, sizeof(got)), 0);
	ck_assert(!store_evicted(&st, C));

	/* a write into an evicted chunk keeps the bytes around it */
	store_lock(&st, C);
	ck_assert_int_eq(store_evict(&st, C, p, n), 0);
	store_unlock(&st, C);
	memcpy(data + 150000, "changed!", 8);
	ck_assert_int_eq(put(150000, "changed!", 8, 3), 0);
	ck_assert_int_eq(get(0, sizeof(got), got, &v), 0);
	ck_assert_int_eq(memcmp(got, data, sizeof(got)), 0);

	/* the store without the blob: an error, never zeros; still evicted */
	n = 0;
	tier_ranges(6, data, rng, 2, p, &n);
	store_lock(&st, C);
	ck_assert_int_eq(store_evict(&st, C, p, n), 0);
	store_unlock(&st, C);
	ck_assert_int_eq(cfs_objstore_delete(st.tier, "blobs/0000000000000006"), 0);
	ck_assert_int_lt(get(0, 4096, got, &v), 0);
	ck_assert(store_evicted(&st, C));
	/* removing the chunk takes its record */
	ck_assert_int_eq(store_remove(&st, C), 0);
	ck_assert(!store_evicted(&st, C));
	cfs_objstore_close(st.tier);
	st.tier = NULL;
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("store", setup, teardown,
		      test_evicted_chunk_comes_back_from_the_store,
		      test_write_read_round_trip_unaligned,
		      test_write_extents_as_one_change,
		      test_holes_read_as_zeros,
		      test_truncate_then_extend_reads_zeros,
		      test_shrink_to_block_then_write_beyond,
		      test_punch_hole_zeroes_range_only,
		      test_corruption_on_disk_is_detected,
		      test_put_replaces_whole_chunk_and_remove,
		      test_seek_data_and_holes_in_whole_blocks,
		      test_deferred_sync_write,
		      test_a_removed_chunks_file_is_reused_empty,
		      test_a_large_removed_file_is_emptied_in_the_background,
		      test_reads_racing_writes_see_the_unchanged_block,
		      test_ec_shard_changes_roll_back_exactly);
}
