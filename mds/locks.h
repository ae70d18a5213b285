/* Byte-range (fcntl) and whole-file (flock) locks, kept by the MDS so
 * that they hold across every client of the cluster.
 *
 * A lock belongs to (client, owner): the client's id and the owner the
 * kernel gives (a process's lock owner for POSIX locks, the open file for
 * OFD locks and flock). POSIX rules: locks of different owners conflict
 * when their ranges overlap and one is a write lock; an owner's new lock
 * replaces what it held in that range (splitting and merging ranges);
 * unlocking a range may split a lock in two. flock locks are a separate
 * name space, whole-file, shared or exclusive. The table lives in memory;
 * the MDS stores each file's locks with every change (service.c), so a
 * restarted MDS or a new leader of its replicas loads them back. */
#ifndef CFS_MDS_LOCKS_H
#define CFS_MDS_LOCKS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CFS_LOCK_EOF UINT64_MAX
#define LOCK_BUCKETS 1024

struct cfs_lock {
	uint64_t client, owner;
	uint32_t pid;
	int type;		/* F_RDLCK, F_WRLCK, or F_UNLCK to unlock */
	uint64_t start, end;	/* inclusive; end CFS_LOCK_EOF: to the end */
	bool flock;
	struct cfs_lock *next;
};

struct lock_file;

struct cfs_lock_table {
	pthread_mutex_t mutex;	/* guards buckets and every lock in them */
	struct lock_file *buckets[LOCK_BUCKETS];
};

void cfs_locks_init(struct cfs_lock_table *t);
void cfs_locks_destroy(struct cfs_lock_table *t);
/* F_GETLK: the first lock that would conflict with want, copied into
 * *conflict; returns true if there is one. */
bool cfs_locks_test(struct cfs_lock_table *t, uint64_t ino,
		    const struct cfs_lock *want, struct cfs_lock *conflict);
/* F_SETLK: 0, -EAGAIN on a conflict, -ENOMEM. */
int cfs_locks_set(struct cfs_lock_table *t, uint64_t ino,
		  const struct cfs_lock *want);
/* Drop every lock (of one kind) that (client, owner) holds on ino. */
void cfs_locks_release(struct cfs_lock_table *t, uint64_t ino,
		       uint64_t client, uint64_t owner, bool flock);
/* Drop every lock a client holds, on every file (its session ended). */
void cfs_locks_release_client(struct cfs_lock_table *t, uint64_t client);
/* A lock as stored. */
struct cfs_lock_rec {
	uint64_t client, owner, start, end;
	uint32_t pid;
	int32_t type;
	uint8_t flock;
	uint8_t pad[7];
};
/* ino's locks, copied into a malloc'd array (*out NULL when none). */
int cfs_locks_export(struct cfs_lock_table *t, uint64_t ino,
		     struct cfs_lock_rec **out, size_t *n);
/* ino's locks replaced by recs. */
int cfs_locks_import(struct cfs_lock_table *t, uint64_t ino,
		     const struct cfs_lock_rec *recs, size_t n);
void cfs_locks_clear(struct cfs_lock_table *t);
/* The files with locks: how many, the first max of them into inos. */
size_t cfs_locks_files(struct cfs_lock_table *t, uint64_t *inos, size_t max);
/* How many locks ino has (tests). */
int cfs_locks_count(struct cfs_lock_table *t, uint64_t ino);

#endif
