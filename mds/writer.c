/* Group commit of mutations into the one LMDB write transaction; see
 * mds.h. */
#include <errno.h>
#include <stdlib.h>

#include "cfs/log.h"
#include "mds.h"

struct mutation {
	int (*fn)(struct mds *, MDB_txn *, void *);
	void *arg;
	uint64_t client;
	struct cfs_ns_xctx *x;
	int (*decide)(struct mds *, MDB_txn *, void *);
	void *darg;
	int rc;
	bool done;
	struct mutation *next;
};

/* A mutation that touched other shards and is to run again keeps the
 * inode numbers it took (in a transaction of their own). */
static void keep_inos(struct mds *mds, MDB_txn *txn, struct cfs_ns_xctx *x)
{
	MDB_txn *child;
	uint64_t next, top = 0;
	int rc = cfs_ns_begin(&mds->ns, txn, true, &child);

	for (size_t i = 0; i < x->ninos; i++)
		if (x->inos[i] >= top)
			top = x->inos[i] + 1;
	if (!rc)
		rc = cfs_ns_meta_get(&mds->ns, child, "next_ino", &next);
	if (!rc && next < top)
		rc = cfs_ns_meta_put(&mds->ns, child, "next_ino", top);
	if (!rc)
		rc = cfs_ns_commit(child);
	else
		cfs_ns_abort(child);
	if (rc)
		cfs_log_error("cannot keep inode numbers", "rc=%d", rc);
}

/* Run a batch (newest first as queued; reverse to keep arrival order). */
static void run_batch(struct mds *mds, struct mutation *batch)
{
	struct mutation *order = NULL, *m, *next;
	MDB_txn *txn = NULL, *child;
	size_t mark;
	int rc;

	for (m = batch; m; m = next) {
		next = m->next;
		m->next = order;
		order = m;
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
		mark = feed_mark(&mds->feed);
		mds->feed.client = m->client;
		cfs_ns_xctx_reset(m->x);
		cfs_ns_xctx_use(m->x);
		m->rc = m->fn(mds, child, m->arg);
		/* it touched other shards' records: the changes it would
		 * make are the caller's to prepare there (xshard.c), or,
		 * prepared, decided now */
		if (m->rc == 0 && m->x->remote)
			m->rc = m->decide ? m->decide(mds, child, m->darg) :
					    MDS_SPECULATED;
		cfs_ns_xctx_use(NULL);
		if (m->rc == 0) {
			m->rc = cfs_ns_commit(child);
		} else {
			cfs_ns_abort(child);
			if (m->x->remote && m->x->ninos)
				keep_inos(mds, txn, m->x);
		}
		if (m->rc)
			feed_rewind(&mds->feed, mark);
	}
	if (rc == 0) {
		/* replicated, the batch's changes go through Raft and are
		 * applied from there, here as on every replica */
		rc = mds->replica ? mds_replica_commit(mds, txn) :
				    cfs_ns_commit(txn);
		if (rc && !mds->replica)
			cfs_log_error("metadata commit failed", "rc=%d", rc);
		for (m = order; rc && m; m = m->next)
			if (m->rc == 0)
				m->rc = rc;
	}
	/* durable: others learn of it before anyone is answered
	 * (replicated, the notes went with the entry and were published
	 * as it was applied: nothing is left here) */
	if (rc == 0)
		feed_publish(&mds->feed);
	else
		feed_rewind(&mds->feed, 0);
	pthread_mutex_lock(&mds->wlock);
	for (m = order; m; m = m->next)
		m->done = true;
	mds->committing = false;
	pthread_cond_broadcast(&mds->wdone);
	pthread_mutex_unlock(&mds->wlock);
}

/* Leader and followers: a mutation that finds no commit running runs
 * every queued mutation, its own among them, in its own thread and
 * commits them; those that arrive meanwhile wait, and when the commit
 * ends one of them whose mutation is still queued leads the next. A
 * lone caller commits without waking any other thread (a writer thread
 * cost each mutation two context switches). */
int mds_mutate_x(struct mds *mds, int (*fn)(struct mds *, MDB_txn *, void *),
		 void *arg, uint64_t client, struct cfs_ns_xctx *x,
		 int (*decide)(struct mds *, MDB_txn *, void *), void *darg)
{
	struct mutation m = { .fn = fn, .arg = arg, .client = client, .x = x,
			      .decide = decide, .darg = darg };

	pthread_mutex_lock(&mds->wlock);
	if (mds->wstop) {
		pthread_mutex_unlock(&mds->wlock);
		return -ESHUTDOWN;
	}
	m.next = mds->wqueue;
	mds->wqueue = &m;
	while (!m.done) {
		struct mutation *batch;

		if (mds->committing) {
			pthread_cond_wait(&mds->wdone, &mds->wlock);
			continue;
		}
		batch = mds->wqueue;
		mds->wqueue = NULL;
		mds->committing = true;
		pthread_mutex_unlock(&mds->wlock);
		run_batch(mds, batch);
		pthread_mutex_lock(&mds->wlock);
	}
	pthread_mutex_unlock(&mds->wlock);
	return m.rc;
}

int mds_writer_start(struct mds *mds)
{
	int rc = feed_init(&mds->feed);

	if (rc)
		return rc;
	mds->ns.changed = feed_note;
	mds->ns.changed_arg = &mds->feed;
	pthread_mutex_init(&mds->wlock, NULL);
	pthread_cond_init(&mds->wdone, NULL);
	mds->wqueue = NULL;
	mds->committing = false;
	mds->wstop = false;
	return 0;
}

/* Refuse new mutations and wait for those queued to be committed. */
void mds_writer_stop(struct mds *mds)
{
	pthread_mutex_lock(&mds->wlock);
	mds->wstop = true;
	while (mds->committing || mds->wqueue)
		pthread_cond_wait(&mds->wdone, &mds->wlock);
	pthread_mutex_unlock(&mds->wlock);
	mds->ns.changed = NULL;
	feed_fini(&mds->feed);
}
