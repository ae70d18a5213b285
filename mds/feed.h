/* The change feed: what each commit made stale, for clients that cache.
 *
 * A client that lets the kernel cache names and attributes for longer
 * than the attribute timeout must learn of other clients' changes. Every
 * change the namespace makes to a name (dentries) or to an inode (its
 * record, xattrs, symlink) is noted here, tagged with the client whose
 * request made it; once the commit holding it is durable, and before
 * anyone is answered, the notes get consecutive numbers in a ring of the
 * recent ones. Clients long-poll for what follows the number they have
 * (MDS_WATCH), each getting others' changes only.
 *
 * Numbers belong to one run of the MDS (feed id, random at start): a
 * client following another run, or one so far behind that the ring no
 * longer holds what it missed, is told to reset (drop all it caches).
 * A change that cannot be noted (out of memory) starts a new run.
 *
 * Replicated (replica.c), the notes of a batch travel in its Raft entry
 * and every replica publishes them as it applies it, numbered on from
 * the count its store keeps, in a run named by the cluster: a new
 * leader goes on with the same run and numbers, and its clients keep
 * their caches across a failover.
 *
 * Threads: notes are made by the one committing writer (leader), into
 * the batch's list; publishing and watching take the feed's lock. */
#ifndef CFS_MDS_FEED_H
#define CFS_MDS_FEED_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "namespace.h"

#define FEED_RING 32768		/* changes kept */

struct feed_change {
	uint64_t seq;
	uint64_t client;	/* whose request made it */
	uint64_t ino;		/* an inode changed, or */
	uint64_t parent;	/* (if not 0) this name in this directory */
	uint16_t len;
	char name[CFS_NAME_MAX];
};

struct feed_waiter;

struct feed {
	uint64_t id;
	pthread_mutex_t lock;	/* guards seq, ring and waiters */
	uint64_t seq;		/* the last published */
	uint64_t held_from;	/* the ring holds (held_from, seq] */
	struct feed_change *ring;	/* FEED_RING, by seq */
	/* watchers waiting, each woken only by changes of other clients'
	 * (a lone client's own commits wake nobody) */
	struct feed_waiter *waiters;
	/* the batch being committed (the leader's) */
	struct feed_change *batch;
	size_t nbatch, capbatch;
	uint64_t client;	/* whose mutation is running */
	bool lost;		/* a change could not be noted */
};

int feed_init(struct feed *f);
void feed_fini(struct feed *f);

/* The namespace's change hook (cfs_ns.changed): note a change made by
 * the mutation running now (feed->client). */
void feed_note(void *feed, uint64_t ino, uint64_t parent, const char *name,
	       size_t len);
/* The batch: the marks of each mutation, so that an aborted one's notes
 * go; publish once the commit is durable, or drop it. */
size_t feed_mark(struct feed *f);
void feed_rewind(struct feed *f, size_t mark);
void feed_publish(struct feed *f);

/* Replicated: the batch as bytes for a Raft entry (malloc'd, *len; NULL
 * with *len 0 if nothing to tell), the batch emptied; how many notes
 * bytes hold (-EBADMSG if malformed); publish them, numbered on from
 * the feed's count (the store's, which the applier moves on by as many
 * in the same transaction). */
uint8_t *feed_encode(struct feed *f, size_t *len);
long feed_count(const uint8_t *p, size_t len);
void feed_apply(struct feed *f, const uint8_t *p, size_t len);
/* Replicated: the run is the cluster's (id) and the count the store's
 * (at the start, after a snapshot): the ring holds nothing before it. */
void feed_replicated(struct feed *f, uint64_t id, uint64_t seq);

/* Wait up to wait_ms for changes after `after` of run `id` and copy up
 * to max of them, other than the caller's, into out (*n); *seq is the
 * number up to which all were looked at. *reset when the caller must
 * drop what it caches (another run, or changes no longer held). */
void feed_watch(struct feed *f, uint64_t id, uint64_t after,
		uint64_t caller, int wait_ms, size_t max,
		struct feed_change *out, size_t *n, uint64_t *seq,
		bool *reset);

#endif
