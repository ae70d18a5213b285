/* What the kernel caches, taken back: from a thread of its own, never
 * from inside a request handler, where a notification could deadlock on
 * a page or directory lock the request holds.
 *
 * Pages of files changed by other clients. The kernel drops a file's
 * pages itself when a reply gives it a new size, and an open keeps them
 * only while the size and mtime are as this mount last knew them (ops.c,
 * cfs_cache_valid): close-to-open. A file open here whose mtime moved
 * with its size unchanged (libcfs: cfs_mtime_moved) has its pages
 * dropped from here, and an open of a file with a drop pending drops
 * them itself instead (a drop done after the open would take what it
 * read). No
 * drop is queued for a new size: a notification makes the kernel ignore
 * any reply with the file's attributes that crosses it, and the new size
 * would be lost. The kernel's own rule (auto_inval_data: drop pages
 * whenever a fresh mtime differs from the cached one) would also drop
 * the pages of our own writes, since the kernel never learns their
 * mtime; it stays off.
 *
 * Names and attributes held for the cache lease. While the MDS's change
 * feed is live (libcfs), an answer nothing newer is known of may be
 * cached by the kernel for the lease (-o cache_lease) rather than the
 * attribute timeout; each such handout is noted here. A change the feed
 * tells of is taken back from the kernel at once, and again a second
 * later: a reply already on its way when the change arrived may be
 * installed by the kernel after the first notification. When the feed
 * stops being live (the MDS is unreachable, restarted, or this client
 * fell behind) every handout still running is taken back, and none is
 * made until it is live again; a change another client made meanwhile
 * is seen within about a second, as with the attribute timeout. At most
 * HANDOUT_MAX handouts run at once; past that answers keep to the
 * attribute timeout, so taking them all back stays quick. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfs/clock.h"
#include "cfs/log.h"
#include "cfs_fuse.h"

#define AGAIN_NS 1000000000ll	/* a feed change is taken back again */
#define TICK_MS 50		/* the feed's liveness is checked this often */

enum { DROP_PAGES, DROP_ATTRS, DROP_ENTRY, DROP_ALL };

struct drop {
	uint8_t kind;
	bool again;		/* to be done once more, AGAIN_NS later */
	uint16_t len;
	int64_t due_ns;
	uint64_t ino;		/* DROP_ENTRY: the directory */
	char name[CFS_NAME_MAX];
};

/* ---- the queue ---- */

static struct drop *queue_add(struct inval *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct drop *q = realloc(v->q, cap * sizeof(*q));

		if (!q)
			return NULL;
		v->q = q;
		v->cap = cap;
	}
	return &v->q[v->n++];
}

/* Queue a drop; lock held. A drop that finds no memory takes back
 * everything (a feed change must not be missed). */
static void queue(struct inval *v, uint8_t kind, bool again, uint64_t ino,
		  const char *name, size_t len)
{
	struct drop *d = queue_add(v);

	if (!d) {
		v->all = true;
		cfs_log_warn("no memory to queue a cache drop", "ino=%lu",
			     (unsigned long)ino);
	} else {
		d->kind = kind;
		d->again = again;
		d->due_ns = 0;
		d->ino = ino;
		d->len = (uint16_t)(len < CFS_NAME_MAX ? len : CFS_NAME_MAX);
		if (d->len)
			memcpy(d->name, name, d->len);
	}
	pthread_cond_signal(&v->cond);
}

void inval_later(struct cfs_fuse *f, uint64_t ino)
{
	pthread_mutex_lock(&f->inval.lock);
	queue(&f->inval, DROP_PAGES, false, ino, NULL, 0);
	pthread_mutex_unlock(&f->inval.lock);
}

bool inval_take(struct cfs_fuse *f, uint64_t ino)
{
	struct inval *v = &f->inval;
	size_t keep = 0;
	bool found;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < v->n; i++)
		if (v->q[i].kind != DROP_PAGES || v->q[i].ino != ino)
			v->q[keep++] = v->q[i];
	found = keep != v->n;
	v->n = keep;
	pthread_mutex_unlock(&v->lock);
	return found;
}

/* ---- the feed's changes (libcfs calls these from its feed thread) ---- */

static void feed_inode(void *arg, uint64_t ino)
{
	struct cfs_fuse *f = arg;

	cfs_cache_stale(f->cl, ino);	/* its copy, before the next open */
	pthread_mutex_lock(&f->inval.lock);
	queue(&f->inval, DROP_ATTRS, true, ino, NULL, 0);
	pthread_mutex_unlock(&f->inval.lock);
}

static void feed_entry(void *arg, uint64_t parent, const char *name,
		       size_t len)
{
	struct cfs_fuse *f = arg;

	pthread_mutex_lock(&f->inval.lock);
	queue(&f->inval, DROP_ENTRY, true, parent, name, len);
	/* and the directory's cached listing */
	queue(&f->inval, DROP_PAGES, true, parent, NULL, 0);
	pthread_mutex_unlock(&f->inval.lock);
}

static void feed_reset(void *arg)
{
	struct cfs_fuse *f = arg;

	pthread_mutex_lock(&f->inval.lock);
	f->inval.all = true;
	pthread_cond_signal(&f->inval.cond);
	pthread_mutex_unlock(&f->inval.lock);
}

/* ---- handouts ---- */

bool inval_handout(struct cfs_fuse *f, int64_t now, uint64_t ino,
		   uint64_t parent, const char *name, size_t len)
{
	struct inval *v = &f->inval;
	bool noted = false;

	if (!cfs_feed_live(f->cl, now))
		return false;
	pthread_mutex_lock(&v->hlock);
	if (v->live)
		noted = handouts_add(&v->handouts, now,
				     now + (int64_t)(f->cache_lease * 1e9),
				     ino, parent, name, len);
	pthread_mutex_unlock(&v->hlock);
	return noted;
}

static void set_live(struct inval *v, bool live)
{
	pthread_mutex_lock(&v->hlock);
	v->live = live;
	pthread_mutex_unlock(&v->hlock);
}

/* ---- the thread ---- */

static void drop(struct cfs_fuse *f, const struct drop *d)
{
	switch (d->kind) {
	case DROP_PAGES:
		pt_refresh(f, d->ino);
		fuse_lowlevel_notify_inval_inode(f->se, d->ino, 0, 0);
		break;
	case DROP_ATTRS:
		pt_refresh(f, d->ino);
		fuse_lowlevel_notify_inval_inode(f->se, d->ino, -1, 0);
		break;
	case DROP_ENTRY:
		fuse_lowlevel_notify_inval_entry(f->se, d->ino, d->name,
						 d->len);
		break;
	}
}

static void take_back(void *arg, uint64_t ino, uint64_t parent,
		      const char *name, size_t len)
{
	struct cfs_fuse *f = arg;

	if (parent)
		fuse_lowlevel_notify_inval_entry(f->se, parent, name, len);
	else
		fuse_lowlevel_notify_inval_inode(f->se, ino, -1, 0);
}

/* Every running handout back from the kernel; how many. The log is
 * swapped for an empty one, and read outside the lock. */
static size_t take_back_all(struct cfs_fuse *f)
{
	struct inval *v = &f->inval;
	struct handouts old;
	size_t n;

	if (handouts_init(&old, HANDOUT_RING))
		return 0;	/* left to run out */
	pthread_mutex_lock(&v->hlock);
	handouts_swap(&v->handouts, &old);
	pthread_mutex_unlock(&v->hlock);
	n = handouts_each(&old, take_back, f);
	handouts_fini(&old);
	return n;
}

static void *inval_main(void *p)
{
	struct cfs_fuse *f = p;
	struct inval *v = &f->inval;
	bool was_live = false;

	pthread_mutex_lock(&v->lock);
	while (!v->stop) {
		int64_t now = cfs_mono_ns();
		bool live = f->cache_lease > 0 && cfs_feed_live(f->cl, now);
		struct drop *batch;
		size_t n, keep = 0;
		struct timespec ts;

		if (v->all || (was_live && !live)) {
			/* first refuse new handouts, then take all back */
			bool lost = !live;
			size_t n;

			v->all = false;
			pthread_mutex_unlock(&v->lock);
			set_live(v, false);
			n = take_back_all(f);
			if (n)
				cfs_log_warn(lost ? "change feed lost: what the "
						    "kernel held is taken back" :
						    "change feed reset: what "
						    "the kernel held is taken "
						    "back",
					     "names_and_attrs=%zu took_ms=%ld",
					     n, (long)((cfs_mono_ns() - now) /
						       1000000));
			pthread_mutex_lock(&v->lock);
			was_live = false;
			continue;
		}
		if (live != was_live)
			set_live(v, live);
		was_live = live;
		/* the drops due now, in order; those to do again later stay */
		batch = malloc((v->n ? v->n : 1) * sizeof(*batch));
		n = 0;
		for (size_t i = 0; batch && i < v->n; i++) {
			struct drop *d = &v->q[i];

			if (d->due_ns > now) {
				v->q[keep++] = *d;
				continue;
			}
			batch[n++] = *d;
			if (d->again) {
				d->again = false;
				d->due_ns = now + AGAIN_NS;
				v->q[keep++] = *d;
			}
		}
		if (batch)
			v->n = keep;
		if (n) {
			pthread_mutex_unlock(&v->lock);
			for (size_t i = 0; i < n; i++)
				drop(f, &batch[i]);
			free(batch);
			pthread_mutex_lock(&v->lock);
			pthread_cond_broadcast(&v->cond);
			continue;
		}
		free(batch);
		ts = cfs_mono_deadline(TICK_MS);
		pthread_cond_timedwait(&v->cond, &v->lock, &ts);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;	/* unmounting: the kernel's caches go with the mount */
}

int inval_start(struct cfs_fuse *f)
{
	struct inval *v = &f->inval;

	pthread_mutex_init(&v->lock, NULL);
	pthread_mutex_init(&v->hlock, NULL);
	cfs_mono_cond_init(&v->cond);
	if (handouts_init(&v->handouts, HANDOUT_RING) ||
	    pthread_create(&v->thread, NULL, inval_main, f))
		return -1;
	v->running = true;
	if (f->cache_lease > 0) {
		struct cfs_feed_ops ops = { feed_inode, feed_entry, feed_reset,
					    f };

		if (cfs_feed_start(f->cl, &ops)) {
			cfs_log_warn("cannot follow the change feed: caches "
				     "keep to the attribute timeout", "%s", "");
			f->cache_lease = 0;
		}
	}
	return 0;
}

void inval_stop(struct cfs_fuse *f)
{
	struct inval *v = &f->inval;

	if (!v->running)
		return;
	cfs_feed_stop(f->cl);	/* its ops are ours */
	pthread_mutex_lock(&v->lock);
	v->stop = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	pthread_join(v->thread, NULL);
	v->running = false;
}

void inval_free(struct cfs_fuse *f)
{
	struct inval *v = &f->inval;

	inval_stop(f);
	if (!v->handouts.ring)
		return;	/* never started */
	free(v->q);
	handouts_fini(&v->handouts);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->hlock);
}
