/* Placement: deterministic, one replica per failure domain, balanced,
 * primary skips down targets, and adding a target moves little. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/map.h"

#include "check_main.h"

struct test_map {
	Cfs__ClusterMap m;
	Cfs__OsdInfo osd[16], *ptr[16];
	char names[16][32], domains[16][32];
};

static void make_map(struct test_map *t, int n, int per_domain, int replicas)
{
	cfs__cluster_map__init(&t->m);
	for (int i = 0; i < n; i++) {
		cfs__osd_info__init(&t->osd[i]);
		t->osd[i].id = (uint32_t)(i + 1);
		snprintf(t->names[i], 32, "127.0.0.%d:1", i + 1);
		snprintf(t->domains[i], 32, "rack%d", i / per_domain);
		t->osd[i].addr = t->names[i];
		t->osd[i].domain = t->domains[i];
		t->osd[i].weight = 100;
		t->osd[i].in = true;
		t->osd[i].state = CFS__OSD_STATE__OSD_UP;
		t->ptr[i] = &t->osd[i];
	}
	t->m.osds = t->ptr;
	t->m.n_osds = (size_t)n;
	t->m.pg_count = 4096;
	t->m.replicas = (uint32_t)replicas;
}

static struct test_map t_ec;

START_TEST(test_placement_is_deterministic_and_distinct_domains)
{
	struct test_map t;
	int a[8], b[8];

	make_map(&t, 8, 2, 3);	/* 4 domains of 2 */
	for (uint32_t pg = 0; pg < 4096; pg++) {
		int n = cfs_placement_targets(&t.m, pg, (int)t.m.replicas, a);

		ck_assert_int_eq(n, 3);
		ck_assert_int_eq(cfs_placement_targets(&t.m, pg, (int)t.m.replicas, b), 3);
		ck_assert_mem_eq(a, b, sizeof(int) * 3);
		for (int i = 0; i < n; i++)
			for (int j = 0; j < i; j++)
				ck_assert_str_ne(t.osd[a[i]].domain,
						 t.osd[a[j]].domain);
	}
}
END_TEST

START_TEST(test_replicas_capped_by_failure_domains)
{
	struct test_map t;
	int a[8];

	make_map(&t, 2, 1, 3);
	ck_assert_int_eq(cfs_map_domains(&t.m), 2);
	ck_assert_int_eq(cfs_placement_targets(&t.m, 7, (int)t.m.replicas, a), 2);
}
END_TEST

START_TEST(test_primaries_are_balanced)
{
	struct test_map t;
	int count[16] = { 0 }, a[8];

	make_map(&t, 6, 1, 3);
	for (uint32_t pg = 0; pg < 4096; pg++) {
		cfs_placement_targets(&t.m, pg, (int)t.m.replicas, a);
		count[a[0]]++;
	}
	for (int i = 0; i < 6; i++) {
		ck_assert_int_gt(count[i], 4096 / 6 * 3 / 4);
		ck_assert_int_lt(count[i], 4096 / 6 * 5 / 4);
	}
}
END_TEST

START_TEST(test_primary_skips_down_targets)
{
	struct test_map t;
	int a[8], p;

	make_map(&t, 3, 1, 3);
	cfs_placement_chunk(&t.m, 0, 42, 0, a);
	p = cfs_placement_primary(&t.m, 0, 42, 0);
	ck_assert_int_eq(p, a[0]);
	t.osd[a[0]].state = CFS__OSD_STATE__OSD_DOWN;
	ck_assert_int_eq(cfs_placement_primary(&t.m, 0, 42, 0), a[1]);
	t.osd[a[1]].state = CFS__OSD_STATE__OSD_DOWN;
	t.osd[a[2]].state = CFS__OSD_STATE__OSD_DOWN;
	ck_assert_int_eq(cfs_placement_primary(&t.m, 0, 42, 0), -1);
}
END_TEST

START_TEST(test_adding_a_target_moves_only_what_it_wins)
{
	struct test_map t;
	int before[4096], a[8], moved = 0;

	make_map(&t, 5, 1, 1);
	for (uint32_t pg = 0; pg < 4096; pg++) {
		cfs_placement_targets(&t.m, pg, (int)t.m.replicas, a);
		before[pg] = t.osd[a[0]].id;
	}
	make_map(&t, 6, 1, 1);
	for (uint32_t pg = 0; pg < 4096; pg++) {
		cfs_placement_targets(&t.m, pg, (int)t.m.replicas, a);
		if ((int)t.osd[a[0]].id != before[pg]) {
			ck_assert_uint_eq(t.osd[a[0]].id, 6);
			moved++;
		}
	}
	/* about one sixth moves, all of it to the new target */
	ck_assert_int_gt(moved, 4096 / 6 * 3 / 4);
	ck_assert_int_lt(moved, 4096 / 6 * 5 / 4);
}
END_TEST

/* EC shards keep their positions: a shard's position names what it
 * holds, so a target coming or going must move few positions, not shift
 * every one after it as an ordered list would. */
START_TEST(test_ec_shard_positions_move_little)
{
	struct cfs_layout l = { CFS_LAYOUT_EC, 4, 2, CFS_LAYOUT_UNIT_SHIFT };
	uint32_t code = cfs_layout_pack(&l);
	static uint32_t before[4096][6];
	int a[CFS_MAX_TARGETS], moved = 0, stayed_off = 0;

	make_map(&t_ec, 8, 1, 3);
	for (uint64_t c = 0; c < 4096; c++) {
		ck_assert_int_eq(cfs_placement_chunk(&t_ec.m, code, 7, c, a), 6);
		for (int i = 0; i < 6; i++) {
			before[c][i] = t_ec.osd[a[i]].id;
			for (int j = 0; j < i; j++)
				ck_assert_uint_ne(before[c][i], before[c][j]);
		}
	}
	/* a ninth: it takes what it wins, about 6/9 of a position per
	 * chunk; what moves elsewhere follows from that (an ordered list
	 * would shift three or more) */
	make_map(&t_ec, 9, 1, 3);
	for (uint64_t c = 0; c < 4096; c++) {
		cfs_placement_chunk(&t_ec.m, code, 7, c, a);
		for (int i = 0; i < 6; i++)
			moved += t_ec.osd[a[i]].id != before[c][i];
	}
	printf("ec:4+2, 8 -> 9 targets: %.2f positions move per chunk\n",
	       moved / 4096.0);
	ck_assert_int_lt(moved, 4096 * 6 / 9 * 2);
	/* one of the nine out: positions it did not hold mostly stay */
	t_ec.osd[2].in = false;
	for (uint64_t c = 0; c < 4096; c++) {
		int b[CFS_MAX_TARGETS];

		t_ec.osd[2].in = true;
		cfs_placement_chunk(&t_ec.m, code, 7, c, b);
		t_ec.osd[2].in = false;
		cfs_placement_chunk(&t_ec.m, code, 7, c, a);
		for (int i = 0; i < 6; i++)
			stayed_off += b[i] != 2 && a[i] != b[i];
	}
	printf("ec:4+2, one of 9 out: %.2f other positions move per chunk\n",
	       stayed_off / 4096.0);
	ck_assert_int_lt(stayed_off, 4096 / 2);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("placement", NULL, NULL,
		      test_placement_is_deterministic_and_distinct_domains,
		      test_replicas_capped_by_failure_domains,
		      test_primaries_are_balanced,
		      test_primary_skips_down_targets,
		      test_adding_a_target_moves_only_what_it_wins,
		      test_ec_shard_positions_move_little);
}
