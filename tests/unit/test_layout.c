/* Layouts (common/layout.c) and reading EC shards with rebuilding
 * (common/stripe.c): specs read and written back, codes packed and
 * refused, shard chunk names, the stripe geometry checked against a
 * byte-by-byte model, and reads through an in-memory set of shards that
 * lose, damage or lag behind up to M of them. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/layout.h"
#include "cfs/map.h"
#include "cfs/stripe.h"

#include "check_main.h"

START_TEST(test_specs_parse_print_and_pack)
{
	static const char *good[] = { "rep:1", "rep:3", "rep:8", "ec:4+2",
				      "ec:1+1", "ec:16+4", "ec:8+3/256K",
				      "ec:4+2/4K", "ec:2+1/16M", "default" };
	static const char *bad[] = { "rep:0", "rep:9", "ec:4", "ec:4+",
				     "ec:0+2", "ec:17+1", "ec:4+5",
				     "ec:4+2/3K", "ec:4+2/2K", "ec:4+2/32M",
				     "ec:4+2x", "raid5", "", "rep:3 " };
	struct cfs_layout l, back;
	char text[32];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		ck_assert_int_eq(cfs_layout_parse(good[i], &l), 0);
		cfs_layout_format(&l, text, sizeof(text));
		ck_assert_str_eq(text, good[i]);
		ck_assert_int_eq(cfs_layout_unpack(cfs_layout_pack(&l), &back),
				 0);
		ck_assert(memcmp(&l, &back, sizeof(l)) == 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_int_eq(cfs_layout_parse(bad[i], &l), -EINVAL);
	ck_assert_int_eq(cfs_layout_unpack(0, &l), 0);
	ck_assert_uint_eq(l.kind, 0);
	ck_assert_int_eq(cfs_layout_unpack(3, &l), -EINVAL);	/* kind 3 */
	ck_assert_int_eq(cfs_layout_unpack(1u << 15, &l), -EINVAL);
}
END_TEST

START_TEST(test_shard_chunk_names)
{
	uint64_t index;
	uint32_t k, m;
	int shard;

	for (uint32_t kk = 1; kk <= CFS_EC_MAX_K; kk += 5)
		for (uint32_t mm = 1; mm <= CFS_EC_MAX_M; mm++)
			for (int s = 0; s < (int)(kk + mm); s++) {
				uint64_t x = cfs_shard_index(
					CFS_CHUNK_INDEX_MAX - (uint64_t)s, kk,
					mm, s);

				ck_assert(cfs_shard_of(x, &index, &k, &m,
						       &shard));
				ck_assert(index == CFS_CHUNK_INDEX_MAX -
							   (uint64_t)s &&
					  k == kk && m == mm && shard == s);
			}
	ck_assert(!cfs_shard_of(12345, &index, &k, &m, &shard));
}
END_TEST

/* Each byte of the chunk against where the layout says it lies: one
 * data shard, at one offset, ranges contiguous per shard. */
START_TEST(test_geometry_matches_a_byte_model)
{
	struct cfs_layout l = { CFS_LAYOUT_EC, 3, 2, 12 };
	const uint64_t u = 4096, w = 3 * u;
	unsigned seed = 7;

	for (int round = 0; round < 200; round++) {
		uint64_t off = (uint64_t)rand_r(&seed) % (8 * w);
		uint64_t len = (uint64_t)rand_r(&seed) % (2 * w) + 1;
		bool ok = true;

		for (uint32_t j = 0; j < 3; j++) {
			uint64_t so, sl, first = UINT64_MAX, count = 0;

			cfs_layout_shard_range(&l, off, len, j, &so, &sl);
			for (uint64_t x = off; x < off + len; x++) {
				uint64_t sx = x / w * u + x % u;

				if ((x % w) / u != j)
					continue;
				if (first == UINT64_MAX)
					first = sx;
				ok &= sx == first + count &&
				      cfs_layout_chunk_offset(&l, j, sx) == x;
				count++;
			}
			ck_assert_msg(ok, "off %lu len %lu shard %u",
				      (unsigned long)off, (unsigned long)len, j);
			ck_assert_uint_eq(sl, count);
			if (count)
				ck_assert_uint_eq(so, first);
		}
	}
	ck_assert_uint_eq(cfs_layout_shard_size(&l),
			  (CFS_CHUNK_SIZE + w - 1) / w * u);
}
END_TEST

/* In-memory shards: bytes, a version each, and what goes wrong. */
#define SH 4096
struct mem {
	uint8_t bytes[CFS_EC_MAX_K + CFS_EC_MAX_M][SH];
	uint64_t version[CFS_EC_MAX_K + CFS_EC_MAX_M];
	int fail[CFS_EC_MAX_K + CFS_EC_MAX_M];	/* an error to answer */
	int asked;
};

static void mem_read(void *ctx, int n, const int *shards,
		     const uint64_t *offs, const uint64_t *lens,
		     uint8_t *const *bufs, int *rcs, uint64_t *versions,
		     uint64_t *sizes)
{
	struct mem *m = ctx;

	for (int i = 0; i < n; i++) {
		m->asked++;
		rcs[i] = m->fail[shards[i]];
		versions[i] = m->version[shards[i]];
		sizes[i] = SH;
		if (!rcs[i])
			memcpy(bufs[i], m->bytes[shards[i]] + offs[i], lens[i]);
		else
			memset(bufs[i], 0xee, lens[i]);	/* garbage */
	}
}

static void mem_fill(struct mem *m, const struct cfs_ec *ec, unsigned seed)
{
	uint8_t *d[CFS_EC_MAX_K], *p[CFS_EC_MAX_M];

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < ec->k + ec->m; i++) {
		m->version[i] = 9;
		for (int b = 0; b < SH; b++)
			m->bytes[i][b] = (uint8_t)rand_r(&seed);
	}
	for (int i = 0; i < ec->k; i++)
		d[i] = m->bytes[i];
	for (int i = 0; i < ec->m; i++)
		p[i] = m->bytes[ec->k + i];
	cfs_ec_encode(ec, SH, (const uint8_t *const *)d, p);
}

START_TEST(test_reads_rebuild_what_fails_or_lags)
{
	struct cfs_ec ec;
	struct mem m;
	struct cfs_stripe_read r = { .ec = &ec, .read = mem_read, .ctx = &m };
	uint8_t got[CFS_EC_MAX_K][SH], *out[CFS_EC_MAX_K];
	int want[CFS_EC_MAX_K];
	uint64_t offs[CFS_EC_MAX_K], lens[CFS_EC_MAX_K];
	unsigned seed = 11;

	ck_assert_int_eq(cfs_ec_init(&ec, 4, 2), 0);
	for (int i = 0; i < 4; i++)
		out[i] = got[i];
	for (int round = 0; round < 400; round++) {
		int how = round % 4, a = rand_r(&seed) % 6, b = rand_r(&seed) % 6;

		mem_fill(&m, &ec, (unsigned)round);
		r.avail = 0x3f;
		/* what goes wrong: nothing, a shard lost, one damaged and
		 * one lagging, two gone from the map */
		if (how == 1)
			m.fail[a] = -EIO;
		if (how == 2) {
			m.fail[a] = -EBADMSG;
			m.version[b] = 8;
		}
		if (how == 3)
			r.avail &= ~(1u << a | 1u << b);
		for (int i = 0; i < 4; i++) {
			want[i] = i;
			offs[i] = (uint64_t)(rand_r(&seed) % 2048);
			lens[i] = (uint64_t)(rand_r(&seed) % 2048) + 1;
		}
		ck_assert_int_eq(cfs_stripe_read(&r, want, 4, offs, lens, out),
				 0);
		ck_assert_uint_eq(r.version, 9);
		for (int i = 0; i < 4; i++)
			ck_assert(!memcmp(got[i], m.bytes[i] + offs[i],
					  lens[i]));
	}
}
END_TEST

START_TEST(test_too_many_lost_or_disagreeing_is_an_error)
{
	struct cfs_ec ec;
	struct mem m;
	struct cfs_stripe_read r = { .ec = &ec, .read = mem_read, .ctx = &m,
				     .avail = 0x3f };
	uint8_t got[SH], *out[1] = { got };
	int want[1] = { 1 };
	uint64_t off = 0, len = SH;

	ck_assert_int_eq(cfs_ec_init(&ec, 4, 2), 0);
	mem_fill(&m, &ec, 3);
	m.fail[1] = m.fail[2] = m.fail[4] = -EIO;
	ck_assert_int_eq(cfs_stripe_read(&r, want, 1, &off, &len, out), -EIO);
	/* a change half done: three shards at 10, three at 9 */
	mem_fill(&m, &ec, 3);
	m.version[0] = m.version[3] = m.version[5] = 10;
	m.fail[1] = -EIO;
	ck_assert_int_eq(cfs_stripe_read(&r, want, 1, &off, &len, out),
			 -EAGAIN);
	/* a shard that is not where it is asked for (version 0) is no
	 * hole: rebuilt from the others; when none is there, zeros */
	mem_fill(&m, &ec, 5);
	{
		uint8_t keep[SH];

		memcpy(keep, m.bytes[1], SH);
		memset(m.bytes[1], 0, SH);
		m.version[1] = 0;
		ck_assert_int_eq(cfs_stripe_read(&r, want, 1, &off, &len, out),
				 0);
		ck_assert(!memcmp(got, keep, SH));
		for (int i = 0; i < 6; i++) {
			m.version[i] = 0;
			memset(m.bytes[i], 0, SH);
		}
		memset(got, 1, SH);
		ck_assert_int_eq(cfs_stripe_read(&r, want, 1, &off, &len, out),
				 0);
		ck_assert(got[0] == 0 && !memcmp(got, got + 1, SH - 1));
	}
	/* the newest version four agree on wins over older ones */
	mem_fill(&m, &ec, 4);
	m.version[2] = 3;
	m.fail[1] = -EIO;
	ck_assert_int_eq(cfs_stripe_read(&r, want, 1, &off, &len, out), 0);
	ck_assert_uint_eq(r.version, 9);
	ck_assert(!memcmp(got, m.bytes[1], SH));
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("layout", NULL, NULL,
		      test_specs_parse_print_and_pack,
		      test_shard_chunk_names,
		      test_geometry_matches_a_byte_model,
		      test_reads_rebuild_what_fails_or_lags,
		      test_too_many_lost_or_disagreeing_is_an_error);
}
