/* The handouts of the cache lease: what the kernel was let hold for
 * longer than the attribute timeout (names in a directory, inodes'
 * attributes), logged so that all of them can be taken back when the
 * change feed is lost (inval.c).
 *
 * A ring of records, oldest first: each runs out a lease after it was
 * logged, so they run out in about the order they came, and the ones
 * run out are dropped from the tail as new ones come. A name or inode
 * handed out again is simply logged again. A record that does not fit
 * before the ring's end starts at its beginning (the bytes left at the
 * end are skipped). When the running ones fill the ring, no more are
 * taken: the caller keeps to the timeouts.
 *
 * No locking here: the caller holds its own lock around every call. */
#ifndef CFS_FUSE_HANDOUTS_H
#define CFS_FUSE_HANDOUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct handouts {
	uint8_t *ring;
	size_t size;		/* bytes of ring */
	size_t head, tail;	/* next record goes at head; oldest at tail */
	size_t used;		/* bytes in use, skipped ends included */
};

/* 0, or -ENOMEM. */
int handouts_init(struct handouts *h, size_t size);
void handouts_fini(struct handouts *h);

/* Log a handout of ino's attributes (parent 0) or of the name in parent,
 * running until until_ns; those run out by now go first. false if the
 * running ones leave no room for it. */
bool handouts_add(struct handouts *h, int64_t now, int64_t until_ns,
		  uint64_t ino, uint64_t parent, const char *name,
		  size_t len);

/* Call fn for every record still held, oldest first; returns how many. */
size_t handouts_each(const struct handouts *h,
		     void (*fn)(void *arg, uint64_t ino, uint64_t parent,
				const char *name, size_t len),
		     void *arg);

/* Exchange the contents of a and b (to take a's records out of a lock:
 * swap with an empty one, then read it outside). */
void handouts_swap(struct handouts *a, struct handouts *b);

#endif
