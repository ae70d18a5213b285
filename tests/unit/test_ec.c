/* Erasure coding (common/ec.c) against a plain reference: GF(2^8) with
 * the polynomial x^8+x^4+x^3+x^2+1 (0x11d) done bit by bit here, the
 * Cauchy parity rows 1 / (i ^ j) worked out here, parity checked byte
 * for byte; then every way of losing up to M shards of a stripe, for
 * several K+M, rebuilt from the rest; and a stripe changed in place. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/ec.h"

#include "check_main.h"

static uint8_t ref_mul(uint8_t a, uint8_t b)
{
	uint8_t p = 0;

	while (b) {
		if (b & 1)
			p ^= a;
		a = (uint8_t)((a << 1) ^ (a & 0x80 ? 0x1d : 0));
		b >>= 1;
	}
	return p;
}

static uint8_t ref_inv(uint8_t a)
{
	for (int b = 1; b < 256; b++)
		if (ref_mul(a, (uint8_t)b) == 1)
			return (uint8_t)b;
	return 0;
}

/* A stripe of k+m shards of len bytes, the data random. */
struct stripe {
	int k, m;
	size_t len;
	uint8_t *shard[CFS_EC_MAX_K + CFS_EC_MAX_M];
};

static struct stripe stripe_new(int k, int m, size_t len, unsigned seed)
{
	struct stripe s = { .k = k, .m = m, .len = len };

	srand(seed);
	for (int i = 0; i < k + m; i++) {
		s.shard[i] = malloc(len ? len : 1);
		for (size_t b = 0; b < len; b++)
			s.shard[i][b] = i < k ? (uint8_t)rand() : 0;
	}
	return s;
}

static void stripe_free(struct stripe *s)
{
	for (int i = 0; i < s->k + s->m; i++)
		free(s->shard[i]);
}

static void encode(const struct cfs_ec *ec, struct stripe *s)
{
	cfs_ec_encode(ec, s->len, (const uint8_t *const *)s->shard,
		      s->shard + s->k);
}

START_TEST(test_parity_is_the_cauchy_code_byte_for_byte)
{
	static const int km[][2] = { { 1, 1 }, { 2, 1 }, { 4, 2 }, { 6, 3 },
				     { 8, 4 }, { 10, 4 }, { 16, 4 } };
	static const size_t lens[] = { 1, 15, 31, 32, 64, 1000, 4096, 20001 };

	for (size_t c = 0; c < sizeof(km) / sizeof(km[0]); c++) {
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			int k = km[c][0], m = km[c][1];
			struct stripe s = stripe_new(k, m, lens[l],
						     (unsigned)(c * 31 + l));
			uint8_t coef[CFS_EC_MAX_M][CFS_EC_MAX_K];
			struct cfs_ec ec;

			for (int p = 0; p < m; p++)
				for (int j = 0; j < k; j++)
					coef[p][j] = ref_inv((uint8_t)((k + p) ^ j));
			ck_assert_int_eq(cfs_ec_init(&ec, k, m), 0);
			encode(&ec, &s);
			for (int p = 0; p < m; p++) {
				uint8_t *want = calloc(1, s.len + 1);

				for (size_t b = 0; b < s.len; b++)
					for (int j = 0; j < k; j++)
						want[b] ^= ref_mul(coef[p][j],
								   s.shard[j][b]);
				ck_assert_mem_eq(s.shard[k + p], want, s.len);
				free(want);
			}
			stripe_free(&s);
		}
	}
}
END_TEST

/* Every set of up to m lost shards of one stripe, by bit mask: wiped,
 * rebuilt from the others, compared with what they held. */
static void lose_every_way(int k, int m, size_t len)
{
	struct stripe s = stripe_new(k, m, len, (unsigned)(k * 100 + m));
	uint8_t *keep[CFS_EC_MAX_K + CFS_EC_MAX_M];
	struct cfs_ec ec;
	int n = k + m, ways = 0, want = 0;

	ck_assert_int_eq(cfs_ec_init(&ec, k, m), 0);
	encode(&ec, &s);
	for (int i = 0; i < n; i++) {
		keep[i] = malloc(len);
		memcpy(keep[i], s.shard[i], len);
	}
	for (unsigned mask = 1; mask < 1u << n; mask++) {
		int lost[CFS_EC_MAX_M], nlost = 0;

		if (__builtin_popcount(mask) > m)
			continue;
		for (int i = 0; i < n; i++)
			if (mask & 1u << i) {
				lost[nlost++] = i;
				memset(s.shard[i], 0xa5, len);
			}
		ck_assert_int_eq(cfs_ec_decode(&ec, len, s.shard, lost, nlost),
				 0);
		for (int i = 0; i < n; i++)
			ck_assert_msg(!memcmp(s.shard[i], keep[i], len),
				      "%d+%d, lost mask %x: shard %d differs",
				      k, m, mask, i);
		ways++;
	}
	/* C(n, 1) + ... + C(n, m) */
	for (int i = 1, c = 1; i <= m; i++) {
		c = c * (n - i + 1) / i;
		want += c;
	}
	ck_assert_int_eq(ways, want);
	for (int i = 0; i < n; i++)
		free(keep[i]);
	stripe_free(&s);
}

START_TEST(test_every_loss_of_up_to_m_shards_is_rebuilt)
{
	lose_every_way(1, 1, 100);
	lose_every_way(2, 1, 33);
	lose_every_way(2, 2, 4096);
	lose_every_way(4, 2, 4096);
	lose_every_way(4, 2, 7);
	lose_every_way(6, 3, 1000);
	lose_every_way(8, 4, 512);
	lose_every_way(10, 4, 256);
}
END_TEST

START_TEST(test_a_changed_shard_updates_the_parity_in_place)
{
	struct stripe s = stripe_new(6, 3, 5000, 7);
	struct stripe t = stripe_new(6, 3, 5000, 7);
	uint8_t delta[5000];
	struct cfs_ec ec;

	ck_assert_int_eq(cfs_ec_init(&ec, 6, 3), 0);
	encode(&ec, &s);
	/* shard 4 rewritten in its middle: parity by the change alone */
	for (size_t b = 0; b < sizeof(delta); b++) {
		uint8_t now = b >= 1000 && b < 3000 ? (uint8_t)(b * 7) :
						      s.shard[4][b];

		delta[b] = s.shard[4][b] ^ now;
		s.shard[4][b] = now;
		t.shard[4][b] = now;
	}
	cfs_ec_update(&ec, sizeof(delta), 4, delta, s.shard + 6);
	encode(&ec, &t);
	for (int p = 6; p < 9; p++)
		ck_assert_mem_eq(s.shard[p], t.shard[p], 5000);
	stripe_free(&s);
	stripe_free(&t);
}
END_TEST

START_TEST(test_bad_codes_and_losses_are_refused)
{
	struct stripe s = stripe_new(4, 2, 64, 1);
	struct cfs_ec ec;
	int three[] = { 0, 1, 2 }, twice[] = { 3, 3 }, out[] = { 6 };

	ck_assert_int_eq(cfs_ec_init(&ec, 0, 2), -EINVAL);
	ck_assert_int_eq(cfs_ec_init(&ec, 4, 0), -EINVAL);
	ck_assert_int_eq(cfs_ec_init(&ec, CFS_EC_MAX_K + 1, 2), -EINVAL);
	ck_assert_int_eq(cfs_ec_init(&ec, 4, CFS_EC_MAX_M + 1), -EINVAL);
	ck_assert_int_eq(cfs_ec_init(&ec, 4, 2), 0);
	ck_assert_int_eq(cfs_ec_decode(&ec, 64, s.shard, three, 3), -EINVAL);
	ck_assert_int_eq(cfs_ec_decode(&ec, 64, s.shard, twice, 2), -EINVAL);
	ck_assert_int_eq(cfs_ec_decode(&ec, 64, s.shard, out, 1), -EINVAL);
	stripe_free(&s);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("ec", NULL, NULL,
		      test_parity_is_the_cauchy_code_byte_for_byte,
		      test_every_loss_of_up_to_m_shards_is_rebuilt,
		      test_a_changed_shard_updates_the_parity_in_place,
		      test_bad_codes_and_losses_are_refused);
}
