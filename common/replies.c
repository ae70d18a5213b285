/* The reply cache; see replies.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/clock.h"
#include "cfs/log.h"
#include "replies.h"

#define CLIENT_BUCKETS 1024
#define SWEEP_MS 60000		/* idle clients are looked for this often */

enum { RUNNING, ANSWERED };

struct kept {
	uint64_t rid;
	int state;
	void *reply;		/* ANSWERED: the reply as sent */
	size_t len;
};

struct client {
	uint64_t cid;
	int64_t seen_ms;
	struct kept *k;		/* by request id, ascending */
	size_t n, cap;
	uint64_t floor;		/* the highest acked seen: the client waits
				 * on no request below it */
	bool warned;		/* about going past REPLY_CACHE_PER_CLIENT */
	struct client *next;
};

struct reply_cache {
	pthread_mutex_t lock;
	pthread_cond_t answered;	/* a running request was answered */
	struct client *buckets[CLIENT_BUCKETS];
	int64_t swept_ms;
};

int reply_cache_new(struct reply_cache **out)
{
	struct reply_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->answered, NULL);
	c->swept_ms = cfs_mono_ms();
	*out = c;
	return 0;
}

static void client_free(struct client *cl)
{
	for (size_t i = 0; i < cl->n; i++)
		free(cl->k[i].reply);
	free(cl->k);
	free(cl);
}

void reply_cache_free(struct reply_cache *c)
{
	if (!c)
		return;
	for (int b = 0; b < CLIENT_BUCKETS; b++) {
		while (c->buckets[b]) {
			struct client *cl = c->buckets[b];

			c->buckets[b] = cl->next;
			client_free(cl);
		}
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->answered);
	free(c);
}

static struct client **bucket(struct reply_cache *c, uint64_t cid)
{
	uint64_t h = cid * 0x9e3779b97f4a7c15ull;

	return &c->buckets[(h >> 32) % CLIENT_BUCKETS];
}

static struct client *find_client(struct reply_cache *c, uint64_t cid,
				  bool create)
{
	struct client **pp = bucket(c, cid);

	while (*pp && (*pp)->cid != cid)
		pp = &(*pp)->next;
	if (!*pp && create) {
		*pp = calloc(1, sizeof(**pp));
		if (*pp)
			(*pp)->cid = cid;
	}
	return *pp;
}

/* The index of the first reply kept for a request id >= rid. */
static size_t first_at_least(const struct client *cl, uint64_t rid)
{
	size_t lo = 0, hi = cl->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cl->k[mid].rid < rid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void remove_at(struct client *cl, size_t i)
{
	free(cl->k[i].reply);
	memmove(&cl->k[i], &cl->k[i + 1], (cl->n - i - 1) * sizeof(*cl->k));
	cl->n--;
}

/* The client has the replies to every request below acked. */
static void drop_acked(struct client *cl, uint64_t acked)
{
	size_t end = first_at_least(cl, acked), keep = 0;

	for (size_t i = 0; i < end; i++) {
		if (cl->k[i].state == RUNNING)
			cl->k[keep++] = cl->k[i];	/* a stray duplicate's */
		else
			free(cl->k[i].reply);
	}
	if (keep == end)
		return;
	memmove(&cl->k[keep], &cl->k[end], (cl->n - end) * sizeof(*cl->k));
	cl->n -= end - keep;
}

static bool running(const struct client *cl)
{
	for (size_t i = 0; i < cl->n; i++)
		if (cl->k[i].state == RUNNING)
			return true;
	return false;
}

/* Forget clients gone quiet (they crashed or ended: nothing retries). */
static void sweep(struct reply_cache *c, int64_t now)
{
	if (now - c->swept_ms < SWEEP_MS)
		return;
	c->swept_ms = now;
	for (int b = 0; b < CLIENT_BUCKETS; b++) {
		for (struct client **pp = &c->buckets[b]; *pp;) {
			struct client *cl = *pp;

			if (now - cl->seen_ms > REPLY_CACHE_IDLE_MS &&
			    !running(cl)) {
				*pp = cl->next;
				client_free(cl);
			} else {
				pp = &cl->next;
			}
		}
	}
}

/* Room for one more reply at index i: grows the table; at the bound the
 * oldest answered reply goes. Returns i, moved if that one was before. */
static int make_room(struct client *cl, size_t *i)
{
	if (cl->n >= REPLY_CACHE_PER_CLIENT) {
		size_t old = 0;

		while (old < cl->n && cl->k[old].state != ANSWERED)
			old++;
		if (old == cl->n)
			return -ENOMEM;
		if (!cl->warned)
			cfs_log_warn("reply cache full for a client that "
				     "acknowledges nothing: its oldest replies "
				     "go", "client=%016lx kept=%zu",
				     (unsigned long)cl->cid, cl->n);
		cl->warned = true;
		remove_at(cl, old);
		if (old < *i)
			(*i)--;
	}
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 16;
		struct kept *k = realloc(cl->k, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		cl->k = k;
		cl->cap = cap;
	}
	return 0;
}

int reply_cache_begin(struct reply_cache *c, uint64_t cid, uint64_t rid,
		      uint64_t acked, void **reply, size_t *len)
{
	int64_t now = cfs_mono_ms();
	struct client *cl;
	size_t i;
	int rc;

	pthread_mutex_lock(&c->lock);
	sweep(c, now);
	for (;;) {
		cl = find_client(c, cid, true);
		if (!cl) {
			rc = -ENOMEM;
			goto out;
		}
		cl->seen_ms = now;
		if (acked > cl->floor)
			cl->floor = acked;
		drop_acked(cl, cl->floor);
		i = first_at_least(cl, rid);
		if ((i == cl->n || cl->k[i].rid != rid) && rid < cl->floor) {
			/* a copy of a request answered, acknowledged and
			 * forgotten, arriving late (it sat in a connection
			 * the client gave up on): running it now would undo
			 * what the client did since */
			rc = -ESTALE;
			goto out;
		}
		if (i == cl->n || cl->k[i].rid != rid)
			break;
		if (cl->k[i].state == ANSWERED) {
			*reply = malloc(cl->k[i].len);
			*len = cl->k[i].len;
			rc = *reply ? 0 : -ENOMEM;
			if (*reply)
				memcpy(*reply, cl->k[i].reply, *len);
			goto out;
		}
		/* a retry of a request still running: its answer is ours */
		pthread_cond_wait(&c->answered, &c->lock);
	}
	rc = make_room(cl, &i);
	if (rc)
		goto out;
	memmove(&cl->k[i + 1], &cl->k[i], (cl->n - i) * sizeof(*cl->k));
	cl->k[i] = (struct kept){ rid, RUNNING, NULL, 0 };
	cl->n++;
	rc = 1;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void reply_cache_end(struct reply_cache *c, uint64_t cid, uint64_t rid,
		     const void *reply, size_t len)
{
	struct client *cl;
	size_t i;

	pthread_mutex_lock(&c->lock);
	cl = find_client(c, cid, false);
	i = cl ? first_at_least(cl, rid) : 0;
	if (cl && i < cl->n && cl->k[i].rid == rid &&
	    cl->k[i].state == RUNNING) {
		void *copy = reply ? malloc(len) : NULL;

		if (copy) {
			memcpy(copy, reply, len);
			cl->k[i] = (struct kept){ rid, ANSWERED, copy, len };
		} else {
			remove_at(cl, i);	/* nothing to answer a retry */
		}
	}
	pthread_cond_broadcast(&c->answered);
	pthread_mutex_unlock(&c->lock);
}
