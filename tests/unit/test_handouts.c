/* The ring of cache-lease handouts (clients/fuse/handouts.h), against a
 * plain list of what it should hold: random names, leases and clock
 * steps on a small ring, so that it wraps, fills and runs out many
 * times over. */
#include <stdlib.h>
#include <string.h>

#include "../../clients/fuse/handouts.h"

#include "check_main.h"

#define MODEL_MAX 4096

struct held {
	int64_t until;
	uint64_t ino, parent;
	size_t len;
	char name[64];
};

static struct held model[MODEL_MAX];
static size_t nmodel, seen;

static void check_one(void *arg, uint64_t ino, uint64_t parent,
		      const char *name, size_t len)
{
	const struct held *m = &model[seen++];

	(void)arg;
	ck_assert_uint_lt(seen, nmodel + 1);
	ck_assert_uint_eq(ino, m->ino);
	ck_assert_uint_eq(parent, m->parent);
	ck_assert_uint_eq(len, m->len);
	ck_assert_mem_eq(name, m->name, len);
}

START_TEST(test_the_ring_holds_what_runs_oldest_first)
{
	struct handouts h;
	int64_t now = 1000;
	unsigned added = 0, refused = 0;

	srandom(7);
	ck_assert_int_eq(handouts_init(&h, 1000), 0);
	for (int step = 0; step < 200000; step++) {
		struct held m = { .until = now + 50 + random() % 10 };
		bool ok;

		m.len = (size_t)(random() % 40);
		for (size_t i = 0; i < m.len; i++)
			m.name[i] = (char)('a' + random() % 26);
		if (random() % 2)
			m.parent = 1 + random() % 5;
		else
			m.ino = 1 + random() % 1000;
		ok = handouts_add(&h, now, m.until, m.ino, m.parent, m.name,
				  m.len);
		/* the model: those run out leave from the front, in order,
		 * up to the first that has not */
		{
			size_t drop = 0;

			while (drop < nmodel && model[drop].until < now)
				drop++;
			memmove(model, model + drop,
				(nmodel - drop) * sizeof(model[0]));
			nmodel -= drop;
		}
		if (ok) {
			ck_assert_uint_lt(nmodel, MODEL_MAX);
			model[nmodel++] = m;
			added++;
		} else {
			refused++;
		}
		if (step % 97 == 0) {
			seen = 0;
			ck_assert_uint_eq(handouts_each(&h, check_one, NULL),
					  nmodel);
			ck_assert_uint_eq(seen, nmodel);
		}
		now += random() % 3;
	}
	/* both happened many times: full rings refused, wraps taken */
	ck_assert_uint_gt(added, 50000);
	ck_assert_uint_gt(refused, 1000);
	handouts_fini(&h);
}
END_TEST

START_TEST(test_a_swap_takes_everything_out)
{
	struct handouts h, spare;

	ck_assert_int_eq(handouts_init(&h, 4096), 0);
	ck_assert_int_eq(handouts_init(&spare, 4096), 0);
	nmodel = 0;
	for (int i = 0; i < 20; i++) {
		struct held m = { .until = 100, .parent = 9, .len = 2 };

		m.name[0] = 'f';
		m.name[1] = (char)('a' + i);
		ck_assert(handouts_add(&h, 10, m.until, 0, m.parent, m.name,
				       m.len));
		model[nmodel++] = m;
	}
	handouts_swap(&h, &spare);
	seen = 0;
	ck_assert_uint_eq(handouts_each(&h, check_one, NULL), 0);
	ck_assert_uint_eq(handouts_each(&spare, check_one, NULL), 20);
	/* and what ran out is gone at the next add */
	ck_assert(handouts_add(&spare, 101, 200, 5, 0, "", 0));
	nmodel = 0;
	model[nmodel++] = (struct held){ .until = 200, .ino = 5 };
	seen = 0;
	ck_assert_uint_eq(handouts_each(&spare, check_one, NULL), 1);
	handouts_fini(&h);
	handouts_fini(&spare);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("handouts", NULL, NULL,
		      test_the_ring_holds_what_runs_oldest_first,
		      test_a_swap_takes_everything_out);
}
