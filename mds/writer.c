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
	int rc;
	bool done;
	struct mutation *next;
};

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
		m->rc = m->fn(mds, child, m->arg);
		if (m->rc == 0)
			m->rc = cfs_ns_commit(child);
		else
			cfs_ns_abort(child);
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
int mds_mutate(struct mds *mds, int (*fn)(struct mds *, MDB_txn *, void *),
	       void *arg, uint64_t client)
{
	struct mutation m = { .fn = fn, .arg = arg, .client = client };

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
