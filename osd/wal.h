/* The OSD's write-ahead log for small changes.
 *
 * Making a small write durable in its chunk file costs a file-system
 * journal commit (a new file, new blocks), far more than the write. So a
 * small change is applied to the chunk file without a sync, and the same
 * file writes (offset, bytes) are appended to the log, which is made
 * durable instead: two preallocated, zero-filled files (DATA/wal.0,
 * DATA/wal.1) whose blocks are only ever overwritten, so a sync is one
 * device flush, shared by every change that is waiting (group commit).
 *
 * When the file in use is full the log moves to the other one, and a
 * checkpoint thread syncs the file system (every change logged in the
 * full file is then durable in its chunk file) and wipes the full file.
 * While both are full, small changes sync their chunk files, as large
 * ones do: no write ever waits for a checkpoint.
 *
 * A change made durable in its chunk file instead (truncate, punch, a
 * large write, a whole-chunk copy, a removal) appends a marker once it is
 * durable, if the chunk may have records in the log: replay ignores a
 * chunk's records before its last marker, so it never undoes the change.
 *
 * At open the log is replayed: every record after its chunk's last marker
 * is written again, in log order (the same writes, so the same result),
 * the file system is synced and the log wiped. A torn or foreign record
 * ends a file's replay. */
#ifndef CFS_OSD_WAL_H
#define CFS_OSD_WAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAL_FILE_SIZE (8u << 20)	/* each of the two files */
#define WAL_MAX_DATA (256u << 10)	/* larger changes sync their chunk */
#define WAL_MARK_ROOM (1u << 20)	/* end of each file: markers only */
#define WAL_SLOTS 65536

/* A change's file writes, gathered as they are made. */
struct wal_rec {
	char *buf;
	size_t len, cap;
	uint32_t npieces;
};

void wal_rec_init(struct wal_rec *r);
void wal_rec_free(struct wal_rec *r);
/* Add one write of len bytes at off in the chunk file. */
int wal_rec_add(struct wal_rec *r, uint64_t off, const void *data,
		size_t len);

/* Replay writes: write len bytes at off into chunk (ino, index). */
typedef int (*wal_apply_fn)(void *arg, uint64_t ino, uint64_t index,
			    uint64_t off, const void *data, size_t len);

struct wal {
	int fd[2];		/* -1: no log (changes sync their chunk) */
	int dirfd;		/* a directory on the store's file system */
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* sync done, file freed, checkpoint due */
	int cur;		/* file in use */
	uint64_t gen[2];	/* generation of each file's records */
	uint64_t off;		/* bytes used in the current file */
	uint64_t written, synced;	/* log positions, in bytes */
	bool syncing;
	bool free_file[2];	/* wiped, ready to take over */
	int ckpt;		/* file waiting for its checkpoint, or -1 */
	bool stop;
	uint64_t live_gen;	/* oldest generation not yet wiped */
	uint64_t slot_gen[WAL_SLOTS];	/* newest record per chunk hash */
	pthread_t ckpt_thread;
	bool thread;
	unsigned ckpt_delay_ms;	/* tests: make every checkpoint slow */
};

/* Open (creating and zero-filling) the log in dir, replay it through
 * apply, and start the checkpoint thread. Without room for the log it
 * logs a warning and runs without one (0, fd[0] = -1). */
int wal_open(struct wal *w, const char *dir, wal_apply_fn apply, void *arg);
void wal_close(struct wal *w);
static inline bool wal_on(const struct wal *w)
{
	return w->fd[0] >= 0;
}

/* Append a change to chunk (ino, index) (not yet durable); *end is its
 * position, *fd the file that holds it (for a sync of one's own).
 * -EAGAIN: the log is full until a checkpoint ends; sync the chunk file
 * instead (and mark it). */
int wal_append(struct wal *w, uint64_t ino, uint64_t index,
	       const struct wal_rec *r, uint64_t *end, int *fd);
/* Wait until the log is durable up to end, syncing it if no one is. */
int wal_sync(struct wal *w, uint64_t end);
/* The caller's own sync of the file holding end succeeded. */
void wal_synced(struct wal *w, uint64_t end);
/* The chunk's state is durable in its file: append a durable marker if
 * the log may hold records of it. */
int wal_mark(struct wal *w, uint64_t ino, uint64_t index);

#endif
