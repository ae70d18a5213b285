/* Files of removed chunks, kept empty for new ones.
 *
 * Freeing an inode and allocating another is the slow part of a small
 * write where chunks come and go: ext4 without a journal skips every
 * inode freed in the last minute when it allocates one, reading each
 * (2.2 ms a create+write+fdatasync after 3,000 deletions, against
 * 0.48 ms for a file renamed into place). So a removed chunk's file is
 * renamed into DIR/pool and emptied, and a new chunk takes one back by
 * rename, which also makes fdatasync of the file carry its new
 * directory entry as for a created one (ext4 marks both new entries;
 * journalling file systems commit the rename with the data).
 *
 * Emptying a file frees its blocks, and where the file system discards
 * freed blocks (ext4 mounted with -o discard, as here) the truncate
 * waits for the device to trim them while every flush queues behind: a
 * 2 GiB delete (three replicas on one disk) held small creates to
 * 200/s, from 500, for two seconds. So a file larger than POOL_STEP is
 * emptied by a thread, POOL_STEP from its end at a time, resting nine
 * times as long as each step took: a tenth of the device at most goes
 * to reclaiming space, in slices short enough for a flush to get
 * through (creates right after that delete: 450/s; the 6 GiB came free
 * in 10 s).
 *
 * At most POOL_MAX empty files are kept; past that, files are unlinked
 * (once empty). A reader that opened a chunk's file before its removal
 * may find it reused by another chunk: the store checks the chunk named
 * in the header after every unlocked read (store.c). */
#ifndef CFS_OSD_POOL_H
#define CFS_OSD_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_MAX 4096
#define POOL_STEP (1 << 20)	/* bytes freed in one truncate */
#define POOL_PENDING 256	/* files waiting to be emptied; past that,
				 * pool_give empties inline */

struct file_pool {
	char dir[300];		/* DIR/pool */
	pthread_mutex_t lock;
	pthread_cond_t work;	/* pending or stop changed */
	pthread_t emptier;
	uint64_t names[POOL_MAX]; /* empty files ready, by number */
	size_t n;
	uint64_t pending[POOL_PENDING]; /* a ring: files to empty */
	size_t head, npending;
	uint64_t next;		/* number of the next file kept */
	bool off;		/* no rename without replace here */
	bool stop;
};

/* Open DIR/pool (made if missing), take in the files there and start
 * emptying those that are not. */
int pool_open(struct file_pool *p, const char *dir);
/* Stop the emptier; files it had not emptied wait for the next open. */
void pool_close(struct file_pool *p);

/* How many empty files are ready to be taken. */
size_t pool_ready(struct file_pool *p);

/* Rename an empty file from the pool to path, if the pool has one and
 * path does not exist; the caller opens path with O_CREAT either way. */
void pool_take(struct file_pool *p, const char *path);

/* Take the file at path away: into the pool, emptied there now or (past
 * POOL_STEP) by the emptier, or unlinked (no pool here, a small file
 * when the pool is full, or emptying fails). 0, or -ENOENT if there was
 * none. */
int pool_give(struct file_pool *p, const char *path);

#endif
