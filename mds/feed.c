/* The change feed; see feed.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cfs/clock.h"
#include "feed.h"

static uint64_t new_id(void)
{
	uint64_t id;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint64_t)cfs_real_ns();
	return id | 1;	/* never 0: "none yet" */
}

struct feed_waiter {
	uint64_t client;
	bool woken;
	pthread_cond_t cond;
	struct feed_waiter *next;
};

int feed_init(struct feed *f)
{
	memset(f, 0, sizeof(*f));
	f->ring = calloc(FEED_RING, sizeof(*f->ring));
	if (!f->ring)
		return -ENOMEM;
	f->id = new_id();
	pthread_mutex_init(&f->lock, NULL);
	return 0;
}

void feed_fini(struct feed *f)
{
	pthread_mutex_destroy(&f->lock);
	free(f->ring);
	free(f->batch);
}

void feed_note(void *p, uint64_t ino, uint64_t parent, const char *name,
	       size_t len)
{
	struct feed *f = p;
	struct feed_change *c;

	if (f->nbatch == f->capbatch) {
		size_t cap = f->capbatch ? 2 * f->capbatch : 64;
		struct feed_change *b = realloc(f->batch, cap * sizeof(*b));

		if (!b) {
			f->lost = true;
			return;
		}
		f->batch = b;
		f->capbatch = cap;
	}
	c = &f->batch[f->nbatch++];
	c->client = f->client;
	c->ino = ino;
	c->parent = parent;
	c->len = (uint16_t)(len < CFS_NAME_MAX ? len : CFS_NAME_MAX);
	if (c->len)
		memcpy(c->name, name, c->len);
}

size_t feed_mark(struct feed *f)
{
	return f->nbatch;
}

void feed_rewind(struct feed *f, size_t mark)
{
	f->nbatch = mark;
}

void feed_publish(struct feed *f)
{
	if (f->nbatch == 0 && !f->lost)
		return;
	pthread_mutex_lock(&f->lock);
	if (f->lost) {
		/* a change went unnoted: every client starts afresh */
		f->id = new_id();
		f->lost = false;
	}
	for (size_t i = 0; i < f->nbatch; i++) {
		struct feed_change *c = &f->ring[++f->seq % FEED_RING];

		*c = f->batch[i];
		c->seq = f->seq;
	}
	for (struct feed_waiter *w = f->waiters; w; w = w->next) {
		bool news = f->nbatch == 0;	/* a new run: news to all */

		for (size_t i = 0; i < f->nbatch && !news; i++)
			news = f->batch[i].client != w->client;
		if (news && !w->woken) {
			w->woken = true;
			pthread_cond_signal(&w->cond);
		}
	}
	pthread_mutex_unlock(&f->lock);
	f->nbatch = 0;
}

void feed_watch(struct feed *f, uint64_t id, uint64_t after,
		uint64_t caller, int wait_ms, size_t max,
		struct feed_change *out, size_t *n, uint64_t *seq,
		bool *reset)
{
	struct feed_waiter me = { .client = caller };
	struct timespec until;
	pthread_condattr_t ca;
	bool waited = false;

	*n = 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&me.cond, &ca);
	pthread_condattr_destroy(&ca);
	until = cfs_mono_deadline(wait_ms);
	pthread_mutex_lock(&f->lock);
	for (;;) {
		*reset = id != f->id || after > f->seq ||
			 f->seq - after > FEED_RING;
		if (*reset) {
			*n = 0;
			after = f->seq;
			break;
		}
		while (after < f->seq && *n < max) {
			const struct feed_change *c = &f->ring[++after % FEED_RING];

			if (c->client != caller)
				out[(*n)++] = *c;
		}
		if (*n || after < f->seq || waited)
			break;
		/* nothing for us yet: wait on the list for others' news */
		me.next = f->waiters;
		f->waiters = &me;
		me.woken = false;
		while (!me.woken &&
		       !pthread_cond_timedwait(&me.cond, &f->lock, &until))
			;
		for (struct feed_waiter **pp = &f->waiters; *pp;
		     pp = &(*pp)->next)
			if (*pp == &me) {
				*pp = me.next;
				break;
			}
		waited = !me.woken;	/* timed out: answer what there is */
	}
	*seq = after;
	pthread_mutex_unlock(&f->lock);
	pthread_cond_destroy(&me.cond);
}
