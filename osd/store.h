/* The chunk store: one file per chunk shard, under DATA/chunks/XX/
 * (XX = low byte of the inode, to keep folders small), named
 * <ino>.<index>, laid out as
 *
 *   [0, 32)                header: magic, the chunk's version and id
 *   [32, 32 + 64 KiB)      one CRC32C per 4 KiB block of data, each over
 *                          the block zero-padded past the end of the
 *                          data; 0 marks a hole (and every block past
 *                          the end)
 *   [68 KiB, 68 KiB+size)  the chunk's bytes (sparse; holes read as zeros)
 *
 * so the chunk's size is the file's less 68 KiB, and one fdatasync makes
 * a change durable: a new small chunk costs one inode, one sync and two
 * blocks (header with CRCs, data).
 *
 * The version increases with every change; the primary assigns it and the
 * replicas apply changes only in order (see service.c). Every change is
 * fdatasync'ed before it returns. Callers serialize changes to one chunk
 * (store_lock); reads take no lock and rely on the CRCs, and on the
 * header naming the chunk at the version read before the data, as a
 * removed chunk's file is reused (pool.h); one that raced a change is
 * read again under the lock. */
#ifndef CFS_OSD_STORE_H
#define CFS_OSD_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfs/objstore.h"
#include "pool.h"

#define STORE_LOCK_BUCKETS 1024
#define STORE_DATA_OFF (68u << 10)	/* where a chunk's bytes start */

struct chunk_id {
	uint64_t ino, index;
};

struct chunk_lock;

struct store {
	char dir[256];
	/* one lock per chunk in use, exactly: a lock shared by two chunks
	 * (striping) could tie a primary waiting on its replicas to a
	 * replica waiting on that primary's lock, across OSDs */
	pthread_mutex_t lmutex;
	struct chunk_lock *locks[STORE_LOCK_BUCKETS];
	struct file_pool pool;	/* removed chunks' files, for new ones */
	/* where evicted chunks' bytes are (evict.c); NULL: no tier */
	struct cfs_objstore *tier;
};

int store_open(struct store *st, const char *dir);
void store_close(struct store *st);
/* Hold the chunk's lock (changes to one chunk are serialized). */
void store_lock(struct store *st, struct chunk_id c);
void store_unlock(struct store *st, struct chunk_id c);

/* Version and size (if wanted) of a chunk; 0 and 0 if absent. */
int store_stat(struct store *st, struct chunk_id c, uint64_t *version,
	       uint64_t *size);
static inline int store_version(struct store *st, struct chunk_id c,
				uint64_t *version)
{
	return store_stat(st, c, version, NULL);
}

/* The OSDs an EC change goes to, by position (0: none), and the map
 * epoch it was sent at: kept in its rollback record. */
struct store_takers {
	uint32_t id[20];
	uint64_t epoch;
};

/* One extent of a write: len bytes at off within the chunk. */
struct store_extent {
	uint64_t off, len;
};

/* Write n extents, applied in order, as one change at `version`: their
 * bytes follow each other in data, and crcs[] holds the CRC32C of each
 * piece of each extent cut at 4 KiB block boundaries of the chunk
 * (cfs_crc_pieces), in the same order, already verified by the caller.
 * Many small extents cost one sync. */
int store_write(struct store *st, struct chunk_id c,
		const struct store_extent *ex, size_t n, const void *data,
		const uint32_t *crcs, uint64_t version,
		const struct store_takers *takers);

/* store_write in steps, so that the sync overlaps other work (the
 * primary forwarding to its replicas): begin writes data, CRCs and
 * version, not yet durable, and keeps the file open in *p; sync_start
 * starts its sync in the background; sync_finish waits for it (or runs
 * it, if not started) and closes: 0 once durable. After a successful
 * begin, sync_finish must be called. */
struct store_pending {
	int fd, ufd;	/* the chunk; its rollback record (-1: none) */
	bool started;
};
int store_write_begin(struct store *st, struct chunk_id c,
		      const struct store_extent *ex, size_t n,
		      const void *data, const uint32_t *crcs,
		      uint64_t version, const struct store_takers *takers,
		      struct store_pending *p);
void store_sync_start(struct store_pending *p);
int store_sync_finish(struct store_pending *p);

/* Read whole blocks covering [off, off+len) into a malloc'd *out
 * (zero-padded), with their CRCs verified. Sets *block_off, *nblocks,
 * *crcs (malloc'd), the version and the chunk's size, all of one
 * version. A missing chunk reads as no blocks. -EBADMSG on a CRC
 * mismatch (corruption). held: the caller holds the chunk's lock; else
 * the read takes none unless a change runs meanwhile, and then reads
 * again under it (a read never sees a change half done). */
int store_read(struct store *st, struct chunk_id c, uint64_t off,
	       uint64_t len, bool held, void **out, uint64_t *block_off,
	       uint32_t **crcs, size_t *nblocks, uint64_t *version,
	       uint64_t *size);

int store_truncate(struct store *st, struct chunk_id c, uint64_t size,
		   uint64_t version, const struct store_takers *takers);
int store_remove(struct store *st, struct chunk_id c);
int store_punch(struct store *st, struct chunk_id c, uint64_t off,
		uint64_t len, uint64_t version, const struct store_takers *takers);

/* Rollback records: a change to an EC shard (a chunk whose index has
 * CFS_SHARD_BIT) first records how to undo it, in DATA/undo/ (the
 * blocks it rewrites or cuts as they were, the size and version before),
 * durable with the change. A stripe left torn by a primary that died
 * between shards is rolled back with it (osd/ec.c). A record is kept
 * until the next change replaces it. `takers` (the changes' argument;
 * NULL for replicated chunks) names the OSDs the change went to, kept in
 * the record: one of them found without it proves it was never
 * acknowledged.
 * store_can_roll_back: whether c, at `version`, has a record taking it
 * back to version - 1 (and the takers it names); store_rollback: take c
 * back to what it held at `from`, as version `as` (a version never
 * reused: a shard out of reach may hold the one rolled back), from
 * `from` itself or from the change after it (by its record; else
 * -ESTALE). With the chunk's lock held. */
bool store_can_roll_back(struct store *st, struct chunk_id c,
			 uint64_t version, struct store_takers *takers);
int store_rollback(struct store *st, struct chunk_id c, uint64_t from,
		   uint64_t as);

/* SEEK_DATA (hole=false) or SEEK_HOLE from off within the chunk: sets
 * *found and *at. Past the chunk's end is all hole. */
int store_seek(struct store *st, struct chunk_id c, uint64_t off, bool hole,
	       bool *found, uint64_t *at);

/* Replace the chunk whole (recovery): size bytes, one CRC per block. */
int store_put(struct store *st, struct chunk_id c, const void *data,
	      uint64_t size, const uint32_t *crcs, uint64_t version);

/* Seconds since chunk c last changed (its file's mtime); -ENOENT if it
 * is not held. */
int store_idle_s(struct store *st, struct chunk_id c, int64_t *secs);

/* Call fn for every chunk held; stops early if fn returns non-zero. */
int store_scan(struct store *st,
	       int (*fn)(void *arg, struct chunk_id c, uint64_t version),
	       void *arg);

/* ---- eviction (evict.c: the design at its top) ----
 * A piece of a blob holding bytes of the chunk: blobs/<blob> at blob_off,
 * len bytes of the chunk from chunk_off, their CRC32C. */
struct store_piece {
	uint64_t blob, blob_off, chunk_off;
	uint32_t len, crc;
};
/* Drop the chunk's bytes once its own bytes check against the pieces
 * (and are zeros elsewhere): 0, -ESTALE (changed since tiered), -ENOENT,
 * -EOPNOTSUPP (no tier store). With the chunk's lock held. */
int store_evict(struct store *st, struct chunk_id c,
		const struct store_piece *p, size_t n);
/* Bring an evicted chunk's bytes back from the store (0 if it was not
 * evicted). With the chunk's lock held; every store operation that needs
 * the bytes calls it. */
int store_resident(struct store *st, struct chunk_id c);
bool store_evicted(struct store *st, struct chunk_id c);
/* Forget the chunk's eviction record (its bytes were replaced whole). */
int store_evict_forget(struct store *st, struct chunk_id c);
/* The chunk's file opened for writing (for evict.c): fd or -errno. */
int store_chunk_fd(struct store *st, struct chunk_id c);

/* Capacity and use of the file system holding the store. */
int store_space(struct store *st, uint64_t *capacity, uint64_t *used);

#endif
