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
 * At most POOL_MAX files are kept; past that, files are unlinked. A
 * reader that opened a chunk's file before its removal may find it
 * reused by another chunk: the store checks the chunk named in the
 * header after every unlocked read (store.c). */
#ifndef CFS_OSD_POOL_H
#define CFS_OSD_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_MAX 4096

struct file_pool {
	char dir[300];		/* DIR/pool */
	pthread_mutex_t lock;
	uint64_t names[POOL_MAX]; /* empty files ready, by number */
	size_t n;
	uint64_t next;		/* number of the next file kept */
	bool off;		/* no rename without replace here */
};

/* Open DIR/pool (made if missing) and take in the files there, emptied. */
int pool_open(struct file_pool *p, const char *dir);
void pool_close(struct file_pool *p);

/* Rename an empty file from the pool to path, if the pool has one and
 * path does not exist; the caller opens path with O_CREAT either way. */
void pool_take(struct file_pool *p, const char *path);

/* Take the file at path away: into the pool, emptied, or (pool full,
 * or that fails) unlinked. 0, or -ENOENT if there was none. */
int pool_give(struct file_pool *p, const char *path);

#endif
