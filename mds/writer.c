/* The single LMDB writer and its group commit; see mds.h. */
#include <errno.h>
#include <stdlib.h>

#include "cfs/log.h"
#include "mds.h"

struct mutation {
	int (*fn)(struct mds *, MDB_txn *, void *);
	void *arg;
	int rc;
	bool done;
	struct mutation *next;
};

int mds_mutate(struct mds *mds, int (*fn)(struct mds *, MDB_txn *, void *),
	       void *arg)
{
	struct mutation m = { .fn = fn, .arg = arg };

	pthread_mutex_lock(&mds->wlock);
	if (mds->wstop) {
		pthread_mutex_unlock(&mds->wlock);
		return -ESHUTDOWN;
	}
	m.next = mds->wqueue;
	mds->wqueue = &m;
	pthread_cond_signal(&mds->wcond);
	while (!m.done)
		pthread_cond_wait(&mds->wdone, &mds->wlock);
	pthread_mutex_unlock(&mds->wlock);
	return m.rc;
}

/* Run a batch (newest first as queued; reverse to keep arrival order). */
static void run_batch(struct mds *mds, struct mutation *batch)
{
	struct mutation *order = NULL, *m, *next;
	MDB_txn *txn = NULL, *child;
	int rc;

	for (m = batch; m; m = next) {
		next = m->next;
		m->next = order;
		order = m;
	}
	rc = cfs_ns_reserve(&mds->ns);
	if (rc && !mds->reserve_warned) {
		cfs_log_warn("cannot keep room in the metadata store; "
			     "commits will be slower", "rc=%d", rc);
		mds->reserve_warned = true;
	}
	rc = cfs_ns_begin(&mds->ns, NULL, true, &txn);
	for (m = order; m; m = m->next) {
		if (rc) {
			m->rc = rc;
			continue;
		}
		m->rc = cfs_ns_begin(&mds->ns, txn, true, &child);
		if (m->rc)
			continue;
		m->rc = m->fn(mds, child, m->arg);
		if (m->rc == 0)
			m->rc = cfs_ns_commit(child);
		else
			cfs_ns_abort(child);
	}
	if (rc == 0) {
		rc = cfs_ns_commit(txn);
		if (rc) {
			cfs_log_error("metadata commit failed", "rc=%d", rc);
			for (m = order; m; m = m->next)
				if (m->rc == 0)
					m->rc = rc;
		}
	}
	pthread_mutex_lock(&mds->wlock);
	for (m = order; m; m = m->next)
		m->done = true;
	pthread_cond_broadcast(&mds->wdone);
	pthread_mutex_unlock(&mds->wlock);
}

static void *writer_main(void *p)
{
	struct mds *mds = p;

	pthread_mutex_lock(&mds->wlock);
	for (;;) {
		struct mutation *batch;

		while (!mds->wqueue && !mds->wstop)
			pthread_cond_wait(&mds->wcond, &mds->wlock);
		if (!mds->wqueue && mds->wstop)
			break;
		batch = mds->wqueue;
		mds->wqueue = NULL;
		pthread_mutex_unlock(&mds->wlock);
		run_batch(mds, batch);
		pthread_mutex_lock(&mds->wlock);
	}
	pthread_mutex_unlock(&mds->wlock);
	return NULL;
}

int mds_writer_start(struct mds *mds)
{
	pthread_mutex_init(&mds->wlock, NULL);
	pthread_cond_init(&mds->wcond, NULL);
	pthread_cond_init(&mds->wdone, NULL);
	mds->wqueue = NULL;
	mds->wstop = false;
	if (pthread_create(&mds->writer, NULL, writer_main, mds))
		return -EAGAIN;
	return 0;
}

void mds_writer_stop(struct mds *mds)
{
	pthread_mutex_lock(&mds->wlock);
	mds->wstop = true;
	pthread_cond_signal(&mds->wcond);
	pthread_mutex_unlock(&mds->wlock);
	pthread_join(mds->writer, NULL);
}
