/* Dropping cached pages of files changed by other clients.
 *
 * The kernel's own rule (auto_inval_data: drop pages whenever a fresh
 * mtime differs from the cached one) also drops the pages of our own
 * writes, since the kernel never learns their mtime. We keep it off and
 * decide with libcfs (cfs_cache_valid), which knows which changes are
 * ours. The drop itself is asked of the kernel from this thread, never
 * from inside a request handler, where it could deadlock on a page the
 * request holds. An open of a file with a drop pending drops its pages
 * itself (no keep_cache). */
#include <stdlib.h>

#include "cfs/log.h"
#include "cfs_fuse.h"

static void *inval_main(void *p)
{
	struct cfs_fuse *f = p;
	struct inval *v = &f->inval;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		size_t n = v->n;

		if (n == 0) {
			if (v->stop)
				break;
			pthread_cond_wait(&v->cond, &v->lock);
			continue;
		}
		pthread_mutex_unlock(&v->lock);
		for (size_t i = 0; i < n; i++)
			fuse_lowlevel_notify_inval_inode(f->se, v->q[i], 0, 0);
		pthread_mutex_lock(&v->lock);
		/* the first n are done; later arrivals move to the front */
		for (size_t i = n; i < v->n; i++)
			v->q[i - n] = v->q[i];
		v->n -= n;
		pthread_cond_broadcast(&v->cond);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

int inval_start(struct cfs_fuse *f)
{
	struct inval *v = &f->inval;

	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	if (pthread_create(&v->thread, NULL, inval_main, f))
		return -1;
	v->running = true;
	return 0;
}

void inval_stop(struct cfs_fuse *f)
{
	struct inval *v = &f->inval;

	if (!v->running)
		return;
	pthread_mutex_lock(&v->lock);
	v->stop = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	pthread_join(v->thread, NULL);
	free(v->q);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
}

void inval_later(struct cfs_fuse *f, uint64_t ino)
{
	struct inval *v = &f->inval;

	pthread_mutex_lock(&v->lock);
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		uint64_t *q = realloc(v->q, cap * sizeof(*q));

		if (!q) {
			pthread_mutex_unlock(&v->lock);
			cfs_log_warn("no memory to queue a page drop", "ino=%lu",
				     (unsigned long)ino);
			return;
		}
		v->q = q;
		v->cap = cap;
	}
	v->q[v->n++] = ino;
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

bool inval_pending(struct cfs_fuse *f, uint64_t ino)
{
	struct inval *v = &f->inval;
	bool found = false;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < v->n && !found; i++)
		found = v->q[i] == ino;
	pthread_mutex_unlock(&v->lock);
	return found;
}
