/* The metadata store's redo log: a commit is made durable by one
 * O_DSYNC write of its changes instead of LMDB's two flushes.
 *
 * LMDB makes a commit durable by syncing its data pages, then writing
 * and syncing its meta page: two device flushes, about 280 us on the
 * test machine. With the redo log the store commits with MDB_NOSYNC
 * (its pages only reach the page cache), and the commit's changes, as
 * puts and deletes by table and key, are first appended to
 * DIR/redo.log with one O_DSYNC write of a preallocated block: about
 * 130 us.
 *
 * Checkpoints. A thread checkpoints when a quarter of the log is in use,
 * when data.mdb grew by 8 MiB (an eighth of the map if less) since the
 * last one (no page freed since can be used again until then: the file
 * settles at two to three times that past what it holds), or
 * checkpoint_ms after the last one if anything was logged since:
 *   1. between two write transactions it pins the last committed
 *      snapshot S with a read transaction and copies the two meta pages
 *      (the first two pages of data.mdb);
 *   2. it syncs data.mdb: every page of S is on disk;
 *   3. it writes a header naming S (the meta pages, the last record S
 *      holds, where the next record starts) into the older of two
 *      header slots;
 *   4. it drops the previous checkpoint's pin; the records S holds are
 *      free space in the ring.
 * While a snapshot is pinned LMDB reuses none of its pages, so whatever
 * a machine crash leaves of later commits (any mix of old and new pages,
 * meta pages among them), the last checkpoint's snapshot is intact.
 *
 * Recovery, at every read-write open, before LMDB reads the file: the
 * meta pages saved in the newest valid header are written back into
 * data.mdb, so LMDB opens the checkpoint's snapshot whatever later meta
 * pages reached the disk; then every record after it is applied again,
 * in order, in the open's transaction, which commits with a full sync.
 * Records are physical (this key now has this value; this key is gone),
 * so applying them to any state between the checkpoint and the last
 * commit gives the last commit.
 *
 * Layout: two header slots of 64 KiB, then the ring of records. A record
 * is a header (magic, CRC32C, sequence number, length) and its changes;
 * sequence numbers are consecutive, and recovery stops at the first
 * record that is torn (bad CRC) or stale (not the next number). A record
 * that would cross the ring's end starts at its beginning instead. One
 * that does not fit in the free space (checkpoints fell behind, or it is
 * larger than the ring) is not logged: its commit is made durable by a
 * checkpoint of its own before any other writer may begin.
 *
 * The file is written whole (zeros) when created, so a record's write
 * overwrites allocated blocks and changes no file system metadata.
 * flock on redo.log keeps a second read-write opener out. */
#ifndef CFS_MDS_REDO_H
#define CFS_MDS_REDO_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFS_REDO_RING_DEFAULT (16u << 20)
#define CFS_REDO_CHECKPOINT_MS_DEFAULT 1000

struct cfs_redo;

/* Before LMDB opens DIR: take the log (creating it, with a ring of
 * ring_size bytes, if there is none; an existing log keeps its size),
 * and write the last checkpoint's meta pages back into DIR/data.mdb.
 * checkpoint_ms 0 checkpoints only when a quarter of the ring is used.
 * Returns -EBUSY if another process has the store open. */
int cfs_redo_open(struct cfs_redo **out, const char *dir, size_t ring_size,
		  int checkpoint_ms);

/* Called for each change of each record after the checkpoint, in order:
 * put (val set) or delete (val NULL) key in table. Returns an LMDB code. */
typedef int (*cfs_redo_apply_fn)(void *arg, unsigned table, MDB_val *key,
				 MDB_val *val);
/* The changes of one record's body, in order, to fn: 0, -EBADMSG for a
 * malformed body, or fn's error. */
int cfs_redo_decode(const uint8_t *p, uint64_t len, cfs_redo_apply_fn fn,
		    void *arg);
/* Apply the records after the checkpoint (in the open's write
 * transaction); *applied counts them. */
int cfs_redo_replay(struct cfs_redo *r, cfs_redo_apply_fn fn, void *arg,
		    uint64_t *applied);
/* Once the open's transaction committed (durably): checkpoint it, switch
 * env to MDB_NOSYNC and start the checkpoint thread. From here on every
 * write transaction goes through cfs_redo_begin and cfs_redo_commit or
 * cfs_redo_abort. */
int cfs_redo_start(struct cfs_redo *r, MDB_env *env);
/* Checkpoint (if started), stop the thread, release the log. Before
 * mdb_env_close. NULL is a no-op. */
void cfs_redo_close(struct cfs_redo *r);

/* The changes of the open write transaction, recorded as they succeed.
 * Both return 0 or ENOMEM (positive, like LMDB's codes). */
int cfs_redo_put(struct cfs_redo *r, unsigned table, const MDB_val *key,
		 const MDB_val *val);
int cfs_redo_del(struct cfs_redo *r, unsigned table, const MDB_val *key);
/* Nested transactions: an aborted child forgets what it recorded. */
size_t cfs_redo_mark(const struct cfs_redo *r);
/* The changes recorded so far in the open write transaction, in the
 * form cfs_redo_decode reads (valid until the transaction ends). */
const uint8_t *cfs_redo_changes(const struct cfs_redo *r, size_t *len);
/* Encode one change as the log records it, appended to *buf (of *len
 * bytes, *cap allocated, realloc'd as needed): 0 or ENOMEM. */
int cfs_redo_encode(uint8_t **buf, size_t *len, size_t *cap, bool put,
		    unsigned table, const MDB_val *key, const MDB_val *val);
void cfs_redo_rewind(struct cfs_redo *r, size_t mark);

/* An outer write transaction: begin before mdb_txn_begin (it may wait
 * for a checkpoint to take its snapshot); commit logs what was recorded,
 * durably, then commits txn; abort aborts txn. txn is gone afterwards
 * either way. 0 or a negative errno. */
int cfs_redo_begin(struct cfs_redo *r);
int cfs_redo_commit(struct cfs_redo *r, MDB_txn *txn);
void cfs_redo_abort(struct cfs_redo *r, MDB_txn *txn);

/* Commits from now on are not durable when they return: their records
 * are written but not synced (a machine crash may lose the last ones;
 * the store still recovers to a commit, never a torn one). For a
 * replica, whose changes are durable in its Raft log already. */
int cfs_redo_lazy(struct cfs_redo *r);

/* Checkpoint now and wait for it (tests, and the unlogged commit). */
int cfs_redo_checkpoint(struct cfs_redo *r);

struct cfs_redo_stats {
	uint64_t ring;		/* the ring's size */
	uint64_t head;		/* where the next record goes (offset into
				 * the ring's laps: head / ring laps so far) */
	uint64_t used;		/* bytes no checkpoint holds yet */
	uint64_t records;	/* sequence number of the last record */
	uint64_t checkpoints;	/* checkpoints written in the log's life */
};
void cfs_redo_stats(struct cfs_redo *r, struct cfs_redo_stats *st);

#endif
