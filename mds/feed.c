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

/* Wake the watchers c is news to (all: c NULL, a new run). f->lock held. */
static void wake(struct feed *f, const struct feed_change *c)
{
	for (struct feed_waiter *w = f->waiters; w; w = w->next)
		if ((!c || c->client != w->client) && !w->woken) {
			w->woken = true;
			pthread_cond_signal(&w->cond);
		}
}

/* c, numbered next, into the ring. f->lock held. */
static void note_publish(void *arg, const struct feed_change *c)
{
	struct feed *f = arg;
	struct feed_change *r = &f->ring[++f->seq % FEED_RING];

	*r = *c;
	r->seq = f->seq;
	wake(f, c);
}

/* A new run (a change went unnoted): every client starts afresh. f->lock
 * held. */
static void new_run(struct feed *f, uint64_t id)
{
	f->id = id;
	f->held_from = f->seq;
	wake(f, NULL);
}

void feed_publish(struct feed *f)
{
	if (f->nbatch == 0 && !f->lost)
		return;
	pthread_mutex_lock(&f->lock);
	if (f->lost)
		new_run(f, new_id());
	f->lost = false;
	for (size_t i = 0; i < f->nbatch; i++)
		note_publish(f, &f->batch[i]);
	pthread_mutex_unlock(&f->lock);
	f->nbatch = 0;
}

/* A note as bytes: client, ino, parent (8 each), the name's length (2),
 * the name; after one flags byte for the whole. */
#define NOTE_HEAD 26
#define FEED_LOST 1	/* flags: a change went unnoted: a new run */

uint8_t *feed_encode(struct feed *f, size_t *len)
{
	size_t n = 1;
	uint8_t *out, *p;

	*len = 0;
	for (size_t i = 0; i < f->nbatch; i++)
		n += NOTE_HEAD + f->batch[i].len;
	if (n == 1 && !f->lost)
		return NULL;
	out = malloc(n);
	if (!out)
		return NULL;	/* unnoted: followers' clients reset later */
	p = out;
	*p++ = f->lost ? FEED_LOST : 0;
	for (size_t i = 0; i < f->nbatch; i++) {
		const struct feed_change *c = &f->batch[i];

		memcpy(p, &c->client, 8);
		memcpy(p + 8, &c->ino, 8);
		memcpy(p + 16, &c->parent, 8);
		memcpy(p + 24, &c->len, 2);
		memcpy(p + NOTE_HEAD, c->name, c->len);
		p += NOTE_HEAD + c->len;
	}
	f->nbatch = 0;
	f->lost = false;
	*len = n;
	return out;
}

/* Each note of bytes p (len) into fn(arg, note); how many, or -EBADMSG. */
static long notes_each(const uint8_t *p, size_t len,
		       void (*fn)(void *, const struct feed_change *),
		       void *arg)
{
	const uint8_t *end = p + len;
	long n = 0;

	if (len == 0)
		return 0;
	for (p++; p < end; n++) {
		struct feed_change c = { 0 };

		if ((size_t)(end - p) < NOTE_HEAD)
			return -EBADMSG;
		memcpy(&c.client, p, 8);
		memcpy(&c.ino, p + 8, 8);
		memcpy(&c.parent, p + 16, 8);
		memcpy(&c.len, p + 24, 2);
		if (c.len > CFS_NAME_MAX ||
		    (size_t)(end - p) < (size_t)NOTE_HEAD + c.len)
			return -EBADMSG;
		memcpy(c.name, p + NOTE_HEAD, c.len);
		if (fn)
			fn(arg, &c);
		p += NOTE_HEAD + c.len;
	}
	return n;
}

long feed_count(const uint8_t *p, size_t len)
{
	return notes_each(p, len, NULL, NULL);
}

void feed_apply(struct feed *f, const uint8_t *p, size_t len)
{
	if (len == 0)
		return;
	pthread_mutex_lock(&f->lock);
	if (p[0] & FEED_LOST)	/* a new run, the same on every replica */
		new_run(f, (f->id * 0x9e3779b97f4a7c15ull + 1) | 1);
	notes_each(p, len, note_publish, f);
	pthread_mutex_unlock(&f->lock);
}

void feed_replicated(struct feed *f, uint64_t id, uint64_t seq)
{
	pthread_mutex_lock(&f->lock);
	f->id = id | 1;
	f->seq = seq;
	f->held_from = seq;
	pthread_mutex_unlock(&f->lock);
}

void feed_watch(struct feed *f, uint64_t id, uint64_t after,
		uint64_t caller, int wait_ms, size_t max,
		struct feed_change *out, size_t *n, uint64_t *seq,
		bool *reset)
{
	struct feed_waiter me = { .client = caller };
	struct timespec until;
	bool waited = false;

	*n = 0;
	cfs_mono_cond_init(&me.cond);
	until = cfs_mono_deadline(wait_ms);
	pthread_mutex_lock(&f->lock);
	for (;;) {
		*reset = id != f->id || after > f->seq ||
			 after < f->held_from || f->seq - after > FEED_RING;
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
