/* The metadata store's redo log; the design is in redo.h.
 *
 * Who touches what: the one writer (the thread with the open outer write
 * transaction) builds the record in buf and moves head and seq; the
 * checkpoint, in the thread or in a writer whose record did not fit,
 * takes its snapshot under lock while no writer is active, and moves
 * tail, pin and gen. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs/clock.h"
#include "cfs/crc.h"
#include "cfs/log.h"
#include "redo.h"

#define SLOT_SIZE (64u << 10)
#define META_OFF 4096u			/* the meta pages' place in a slot */
#define RING_BASE (2 * (uint64_t)SLOT_SIZE)
#define HDR_MAGIC 0x314f444552534643ull	/* "CFSREDO1" */
#define REC_MAGIC 0x52534643u		/* "CFSR" */
#define GROW_MAX (8u << 20)		/* file growth that calls a checkpoint */
#define OP_PUT 1
#define OP_DEL 2

/* A header slot; the two meta pages follow at META_OFF. */
struct slot {
	uint64_t magic;
	uint32_t crc;		/* CRC32C from psize to the meta pages' end */
	uint32_t psize;		/* LMDB's page size */
	uint64_t gen;		/* checkpoint number: the newest valid wins */
	uint64_t seq;		/* the last record the checkpoint holds */
	uint64_t tail;		/* where the next record starts (ring offset) */
	uint64_t ring;		/* the ring's size */
	uint64_t data_ino;	/* the data.mdb the meta pages belong to */
};

struct rec {
	uint32_t magic;
	uint32_t crc;		/* CRC32C of seq, len and the changes */
	uint64_t seq;
	uint64_t len;		/* bytes of changes after this header */
};

/* Each change: op, table, key length, value length, key, value. */
struct op {
	uint8_t op;
	uint8_t table;
	uint16_t klen;
	uint32_t vlen;
};

struct cfs_redo {
	char dir[4096];
	int fd;			/* redo.log, O_DSYNC */
	int lazy_fd;		/* redo.log, records not synced (-1: all are) */
	uint64_t ring;
	int checkpoint_ms;
	MDB_env *env;		/* once started */
	uint32_t psize;
	uint8_t *slot;		/* the slot a checkpoint writes (cplock) */

	/* the writer's */
	uint8_t *buf;		/* the record being built: header, changes */
	size_t len, cap;
	uint64_t seq;		/* the last record logged */

	pthread_mutex_t cplock;	/* one checkpoint at a time */
	pthread_mutex_t lock;	/* guards what follows */
	pthread_cond_t cond;	/* writer, hold or barrier changed */
	pthread_cond_t kick;	/* wakes the thread: a checkpoint is due */
	uint64_t head;		/* where the next record goes (ring offset) */
	uint64_t tail;		/* the first record no checkpoint holds */
	uint64_t grown;		/* pages the file grew by since the pin */
	uint64_t pin_pgno;	/* the file's last page when pinned */
	uint64_t grow_max;	/* pages of growth that call a checkpoint */
	uint64_t gen;		/* the last checkpoint's number */
	uint64_t attempts;	/* checkpoints tried, failed ones too */
	MDB_txn *pin;		/* the last checkpoint's snapshot */
	int64_t checkpoint_at;	/* when it was taken (monotonic ms) */
	bool writer;		/* an outer write transaction is open */
	bool hold;		/* a checkpoint waits to take its snapshot */
	bool barrier;		/* an unlogged commit waits for its checkpoint */
	bool failed;		/* a logged record could not be taken back */
	bool stop;
	bool thread_running;
	pthread_t thread;
};

static uint64_t ring_pos(const struct cfs_redo *r, uint64_t off)
{
	return RING_BASE + off % r->ring;
}

static uint64_t ring_next_lap(const struct cfs_redo *r, uint64_t off)
{
	return (off / r->ring + 1) * r->ring;
}

static int full_pwrite(int fd, const void *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p = (const uint8_t *)p + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* 0, or 1 if the file ends first. */
static int full_pread(int fd, void *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		p = (uint8_t *)p + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static uint32_t slot_crc(const uint8_t *s, uint32_t psize)
{
	size_t from = offsetof(struct slot, psize);

	return cfs_crc32c(s + from, META_OFF + 2 * (size_t)psize - from);
}

static int data_path(const struct cfs_redo *r, const char *name, char *path,
		     size_t len)
{
	return snprintf(path, len, "%s/%s", r->dir, name) < (int)len ?
		       0 : -ENAMETOOLONG;
}

/* The newest valid slot's header into *best and the whole slot into
 * r->slot; -ENOENT if neither is valid. */
static int read_slots(struct cfs_redo *r, struct slot *best)
{
	uint8_t *s = malloc(SLOT_SIZE);
	bool found = false;
	int rc = 0;

	if (!s)
		return -ENOMEM;
	for (int i = 0; i < 2 && rc >= 0; i++) {
		struct slot h;

		rc = full_pread(r->fd, s, SLOT_SIZE, (uint64_t)i * SLOT_SIZE);
		if (rc)
			continue;
		memcpy(&h, s, sizeof(h));
		if (h.magic != HDR_MAGIC || h.psize < 512 ||
		    h.psize > (SLOT_SIZE - META_OFF) / 2 ||
		    slot_crc(s, h.psize) != h.crc || (found && h.gen <= best->gen))
			continue;
		*best = h;
		memcpy(r->slot, s, SLOT_SIZE);
		found = true;
	}
	free(s);
	if (rc < 0)
		return rc;
	return found ? 0 : -ENOENT;
}

/* Another process with the LMDB environment open (a running `cfs fsck`)
 * holds a lock on the first byte of lock.mdb. */
static int env_in_use(const struct cfs_redo *r)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_len = 1 };
	char path[4200];
	int fd, rc = data_path(r, "lock.mdb", path, sizeof(path));

	if (rc)
		return rc;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = fcntl(fd, F_GETLK, &fl) ? -errno : 0;
	if (rc == 0 && fl.l_type != F_UNLCK) {
		cfs_log_error("the metadata store is open in another process",
			      "dir=%s pid=%d", r->dir, (int)fl.l_pid);
		rc = -EBUSY;
	}
	close(fd);
	return rc;
}

/* Put the checkpoint's meta pages back into data.mdb, durably. */
static int restore_metas(struct cfs_redo *r, const struct slot *h)
{
	char path[4200];
	struct stat st;
	int fd, rc = data_path(r, "data.mdb", path, sizeof(path));

	if (rc)
		return rc;
	rc = env_in_use(r);
	if (rc)
		return rc;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		rc = -errno;
		cfs_log_error("redo.log has a checkpoint but data.mdb cannot "
			      "be opened", "dir=%s errno=%d", r->dir, -rc);
		goto out;
	}
	if ((uint64_t)st.st_ino != h->data_ino) {
		cfs_log_error("redo.log belongs to another data.mdb (restored "
			      "from a copy?); move redo.log away to open "
			      "data.mdb as it is", "dir=%s", r->dir);
		rc = -EINVAL;
		goto out;
	}
	rc = full_pwrite(fd, r->slot + META_OFF, 2 * (size_t)h->psize, 0);
	if (!rc && fdatasync(fd))
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* A new log: the whole file written, then made to exist durably. */
static int create_log(struct cfs_redo *r)
{
	static const uint8_t zeros[1u << 16];
	uint64_t size = RING_BASE + r->ring;
	int rc = 0, dfd;

	for (uint64_t off = 0; off < size && !rc; off += sizeof(zeros))
		rc = full_pwrite(r->fd, zeros,
				 size - off < sizeof(zeros) ? size - off :
							      sizeof(zeros),
				 off);
	if (rc)
		return rc;
	dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	rc = fsync(dfd) ? -errno : 0;
	close(dfd);
	return rc;
}

int cfs_redo_open(struct cfs_redo **out, const char *dir, size_t ring_size,
		  int checkpoint_ms)
{
	struct cfs_redo *r = calloc(1, sizeof(*r));
	char path[4200];
	struct slot h = { 0 };
	struct stat st;
	int rc;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	r->lazy_fd = -1;
	pthread_mutex_init(&r->cplock, NULL);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	cfs_mono_cond_init(&r->kick);
	r->checkpoint_ms = checkpoint_ms;
	r->ring = ring_size ? ring_size : CFS_REDO_RING_DEFAULT;
	rc = snprintf(r->dir, sizeof(r->dir), "%s", dir) <
			     (int)sizeof(r->dir) ? 0 : -ENAMETOOLONG;
	if (!rc)
		rc = data_path(r, "redo.log", path, sizeof(path));
	if (rc)
		goto fail;
	r->fd = open(path, O_RDWR | O_CREAT | O_DSYNC | O_CLOEXEC, 0600);
	if (r->fd < 0 || fstat(r->fd, &st)) {
		rc = -errno;
		goto fail;
	}
	if (flock(r->fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		cfs_log_error("the metadata store is in use", "dir=%s rc=%d",
			      dir, rc);
		goto fail;
	}
	if (st.st_size == 0) {
		rc = create_log(r);
		if (rc)
			goto fail;
		st.st_size = (off_t)(RING_BASE + r->ring);
	}
	if ((uint64_t)st.st_size <= RING_BASE) {
		cfs_log_error("redo.log is too short", "dir=%s size=%ld", dir,
			      (long)st.st_size);
		rc = -EINVAL;
		goto fail;
	}
	r->ring = (uint64_t)st.st_size - RING_BASE;
	r->slot = calloc(1, SLOT_SIZE);
	if (!r->slot) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = read_slots(r, &h);
	if (rc == -ENOENT) {
		/* no checkpoint yet: data.mdb was only ever synced */
		rc = 0;
	} else if (rc == 0) {
		if (h.ring != r->ring) {
			cfs_log_error("redo.log's size does not match its header",
				      "dir=%s", dir);
			rc = -EINVAL;
			goto fail;
		}
		r->gen = h.gen;
		r->seq = h.seq;
		r->head = r->tail = h.tail;
		rc = restore_metas(r, &h);
	}
	if (rc)
		goto fail;
	*out = r;
	return 0;
fail:
	cfs_redo_close(r);
	return rc;
}

/* The record at ring offset off if it is the one numbered seq: 0 and its
 * changes in *ops (malloc'd), 1 if it is not there, or -errno. */
static int read_record(struct cfs_redo *r, uint64_t off, uint64_t seq,
		       uint8_t **ops, uint64_t *len)
{
	uint64_t room = r->ring - off % r->ring;
	struct rec h;
	uint8_t *p;
	uint32_t crc;
	int rc;

	if (room < sizeof(h))
		return 1;
	rc = full_pread(r->fd, &h, sizeof(h), ring_pos(r, off));
	if (rc)
		return rc;
	if (h.magic != REC_MAGIC || h.seq != seq || h.len > room - sizeof(h))
		return 1;
	p = malloc(h.len ? h.len : 1);
	if (!p)
		return -ENOMEM;
	rc = full_pread(r->fd, p, h.len, ring_pos(r, off) + sizeof(h));
	crc = cfs_crc32c_extend(cfs_crc32c(&h.seq, 16), p, h.len);
	if (rc || crc != h.crc) {
		free(p);
		return rc < 0 ? rc : 1;
	}
	*ops = p;
	*len = h.len;
	return 0;
}

int cfs_redo_decode(const uint8_t *p, uint64_t len, cfs_redo_apply_fn fn,
		    void *arg)
{
	const uint8_t *end = p + len;

	while (p < end) {
		struct op o;
		MDB_val k, v;
		int rc;

		if ((size_t)(end - p) < sizeof(o))
			return -EBADMSG;
		memcpy(&o, p, sizeof(o));
		p += sizeof(o);
		if ((o.op != OP_PUT && o.op != OP_DEL) ||
		    (size_t)(end - p) < (size_t)o.klen + o.vlen)
			return -EBADMSG;
		k.mv_data = (void *)p;
		k.mv_size = o.klen;
		v.mv_data = (void *)(p + o.klen);
		v.mv_size = o.vlen;
		p += (size_t)o.klen + o.vlen;
		rc = fn(arg, o.table, &k, o.op == OP_PUT ? &v : NULL);
		if (rc)
			return rc > 0 ? -rc : -EIO;
	}
	return 0;
}

int cfs_redo_replay(struct cfs_redo *r, cfs_redo_apply_fn fn, void *arg,
		    uint64_t *applied)
{
	uint64_t off = r->head;
	int rc = 0;

	*applied = 0;
	for (;;) {
		uint8_t *ops;
		uint64_t len;

		rc = read_record(r, off, r->seq + 1, &ops, &len);
		if (rc == 1 && off % r->ring) {
			off = ring_next_lap(r, off);
			rc = read_record(r, off, r->seq + 1, &ops, &len);
		}
		if (rc)
			break;
		rc = cfs_redo_decode(ops, len, fn, arg);
		free(ops);
		if (rc) {
			cfs_log_error("cannot apply a redo record", "dir=%s "
				      "seq=%lu rc=%d", r->dir,
				      (unsigned long)(r->seq + 1), rc);
			return rc;
		}
		off += sizeof(struct rec) + len;
		r->seq++;
		(*applied)++;
	}
	r->head = off;
	return rc < 0 ? rc : 0;
}

/* ---- recording ---- */

int cfs_redo_encode(uint8_t **buf, size_t *len, size_t *cap, bool put,
		    unsigned table, const MDB_val *k, const MDB_val *v)
{
	struct op o = { .op = put ? OP_PUT : OP_DEL, .table = (uint8_t)table,
			.klen = (uint16_t)k->mv_size,
			.vlen = put ? (uint32_t)v->mv_size : 0 };
	size_t need = *len + sizeof(o) + o.klen + o.vlen;

	if (need > *cap) {
		size_t c = *cap ? *cap : 4096;
		uint8_t *p;

		while (c < need)
			c *= 2;
		p = realloc(*buf, c);
		if (!p)
			return ENOMEM;
		*buf = p;
		*cap = c;
	}
	memcpy(*buf + *len, &o, sizeof(o));
	memcpy(*buf + *len + sizeof(o), k->mv_data, o.klen);
	if (o.vlen)
		memcpy(*buf + *len + sizeof(o) + o.klen, v->mv_data, o.vlen);
	*len = need;
	return 0;
}

static int record(struct cfs_redo *r, uint8_t op, unsigned table,
		  const MDB_val *k, const MDB_val *v)
{
	if (r->len == 0)
		r->len = sizeof(struct rec);
	return cfs_redo_encode(&r->buf, &r->len, &r->cap, op == OP_PUT, table,
			       k, v);
}

int cfs_redo_put(struct cfs_redo *r, unsigned table, const MDB_val *key,
		 const MDB_val *val)
{
	return record(r, OP_PUT, table, key, val);
}

int cfs_redo_del(struct cfs_redo *r, unsigned table, const MDB_val *key)
{
	return record(r, OP_DEL, table, key, NULL);
}

size_t cfs_redo_mark(const struct cfs_redo *r)
{
	return r->len;
}

const uint8_t *cfs_redo_changes(const struct cfs_redo *r, size_t *len)
{
	*len = r->len ? r->len - sizeof(struct rec) : 0;
	return r->len ? r->buf + sizeof(struct rec) : NULL;
}

void cfs_redo_rewind(struct cfs_redo *r, size_t mark)
{
	r->len = mark;
}

/* ---- checkpoints ---- */

/* The slot buffer holds the meta pages at META_OFF already. */
static int write_slot(struct cfs_redo *r, uint64_t gen, uint64_t seq,
		      uint64_t tail)
{
	struct slot h = { .magic = HDR_MAGIC, .psize = r->psize, .gen = gen,
			  .seq = seq, .tail = tail, .ring = r->ring };
	struct stat st;
	int fd;

	if (mdb_env_get_fd(r->env, &fd) || fstat(fd, &st))
		return -EIO;
	h.data_ino = (uint64_t)st.st_ino;
	memcpy(r->slot, &h, sizeof(h));
	h.crc = slot_crc(r->slot, r->psize);
	memcpy(r->slot, &h, sizeof(h));
	return full_pwrite(r->fd, r->slot, META_OFF + 2 * (size_t)r->psize,
			   (gen % 2) * SLOT_SIZE);
}

static uint64_t last_pgno(struct cfs_redo *r)
{
	MDB_envinfo info;

	return mdb_env_info(r->env, &info) ? 0 : info.me_last_pgno;
}

int cfs_redo_checkpoint(struct cfs_redo *r)
{
	uint64_t seq, head, pgno;
	MDB_txn *pin = NULL;
	int fd, rc;

	pthread_mutex_lock(&r->cplock);
	/* the snapshot: the last commit, its meta pages, where its
	 * records end; no writer may begin until it is taken */
	pthread_mutex_lock(&r->lock);
	r->hold = true;
	while (r->writer)
		pthread_cond_wait(&r->cond, &r->lock);
	seq = r->seq;
	head = r->head;
	pgno = last_pgno(r);
	rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &pin);
	if (rc)
		rc = rc > 0 ? -rc : -EIO;
	if (!rc)
		rc = mdb_env_get_fd(r->env, &fd) ||
				     full_pread(fd, r->slot + META_OFF,
						2 * (size_t)r->psize, 0) ?
			     -EIO : 0;
	r->hold = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (rc)
		goto out;
	rc = mdb_env_sync(r->env, 1);
	if (rc)
		rc = rc > 0 ? -rc : -EIO;
	if (!rc)
		rc = write_slot(r, r->gen + 1, seq, head);
out:
	pthread_mutex_lock(&r->lock);
	if (rc) {
		if (pin)
			mdb_txn_abort(pin);
		cfs_log_error("metadata checkpoint failed", "dir=%s rc=%d",
			      r->dir, rc);
	} else {
		if (r->pin)
			mdb_txn_abort(r->pin);
		r->pin = pin;
		r->tail = head;
		r->pin_pgno = pgno;
		r->grown = last_pgno(r) - pgno;
		r->gen++;
	}
	r->checkpoint_at = cfs_mono_ms();
	r->attempts++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(&r->cplock);
	return rc;
}

/* A quarter of the ring used, the file grown by grow_max pages (while a
 * snapshot is pinned no page freed since can be used again), or
 * checkpoint_ms passed with something logged. */
static bool checkpoint_due(const struct cfs_redo *r)
{
	uint64_t used = r->head - r->tail;

	return used >= r->ring / 4 || r->grown >= r->grow_max ||
	       (used && r->checkpoint_ms &&
		cfs_mono_ms() - r->checkpoint_at >= r->checkpoint_ms);
}

static void *checkpointer(void *arg)
{
	struct cfs_redo *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		struct timespec ts;
		int64_t wait_ms = r->checkpoint_ms ? r->checkpoint_ms : 1000;

		if (checkpoint_due(r)) {
			int rc;

			pthread_mutex_unlock(&r->lock);
			rc = cfs_redo_checkpoint(r);
			pthread_mutex_lock(&r->lock);
			if (!rc)
				continue;
			/* retried after a pause; writers whose records
			 * no longer fit fail meanwhile */
			wait_ms = 1000;
		}
		ts = cfs_mono_deadline(wait_ms);
		pthread_cond_timedwait(&r->kick, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int cfs_redo_start(struct cfs_redo *r, MDB_env *env)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	if (mdb_env_stat(env, &st))
		return -EIO;
	if (st.ms_psize > (SLOT_SIZE - META_OFF) / 2)
		return -EINVAL;
	if (mdb_env_info(env, &info))
		return -EIO;
	r->env = env;
	r->psize = st.ms_psize;
	r->grow_max = (info.me_mapsize / 8 < GROW_MAX ? info.me_mapsize / 8 :
							GROW_MAX) / st.ms_psize;
	rc = cfs_redo_checkpoint(r);
	if (rc)
		return rc;
	rc = mdb_env_set_flags(env, MDB_NOSYNC, 1);
	if (rc)
		return rc > 0 ? -rc : -EIO;
	rc = pthread_create(&r->thread, NULL, checkpointer, r);
	if (rc)
		return -rc;
	r->thread_running = true;
	return 0;
}

void cfs_redo_close(struct cfs_redo *r)
{
	if (!r)
		return;
	if (r->thread_running) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_signal(&r->kick);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	if (r->env) {
		cfs_redo_checkpoint(r);
		if (r->pin)
			mdb_txn_abort(r->pin);
	}
	if (r->fd >= 0)
		close(r->fd);
	if (r->lazy_fd >= 0)
		close(r->lazy_fd);
	pthread_cond_destroy(&r->cond);
	pthread_cond_destroy(&r->kick);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->cplock);
	free(r->slot);
	free(r->buf);
	free(r);
}

void cfs_redo_stats(struct cfs_redo *r, struct cfs_redo_stats *st)
{
	pthread_mutex_lock(&r->lock);
	st->ring = r->ring;
	st->head = r->head;
	st->used = r->head - r->tail;
	st->records = r->seq;
	st->checkpoints = r->gen;
	pthread_mutex_unlock(&r->lock);
}

/* ---- write transactions ---- */

int cfs_redo_lazy(struct cfs_redo *r)
{
	char path[4200];
	int rc = data_path(r, "redo.log", path, sizeof(path));

	if (rc)
		return rc;
	r->lazy_fd = open(path, O_RDWR | O_CLOEXEC);
	return r->lazy_fd < 0 ? -errno : 0;
}

int cfs_redo_begin(struct cfs_redo *r)
{
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	if (r->grown >= 2 * r->grow_max) {
		/* the checkpoints fell behind the pages the commits take:
		 * wait for the next one (it may fail: then go on) */
		uint64_t tried = r->attempts;

		pthread_cond_signal(&r->kick);
		while (r->attempts == tried)
			pthread_cond_wait(&r->cond, &r->lock);
	}
	while (r->writer || r->hold || r->barrier)
		pthread_cond_wait(&r->cond, &r->lock);
	if (r->failed)
		rc = -EIO;
	else
		r->writer = true;
	pthread_mutex_unlock(&r->lock);
	r->len = 0;
	return rc;
}

static void writer_done(struct cfs_redo *r, bool barrier)
{
	pthread_mutex_lock(&r->lock);
	r->writer = false;
	r->barrier = barrier;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void cfs_redo_abort(struct cfs_redo *r, MDB_txn *txn)
{
	if (txn)
		mdb_txn_abort(txn);
	r->len = 0;
	writer_done(r, false);
}

/* Commit without a record, durable through a checkpoint of its own that
 * no other writer may precede. */
static int commit_unlogged(struct cfs_redo *r, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);

	if (rc) {
		writer_done(r, false);
		return rc > 0 ? -rc : -EIO;
	}
	writer_done(r, true);
	rc = cfs_redo_checkpoint(r);
	pthread_mutex_lock(&r->lock);
	r->barrier = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int cfs_redo_commit(struct cfs_redo *r, MDB_txn *txn)
{
	struct rec h = { .magic = REC_MAGIC };
	uint64_t off, size, pgno;
	bool fits;
	int rc;

	if (r->len == 0) {
		/* nothing changed */
		rc = mdb_txn_commit(txn);
		writer_done(r, false);
		return rc ? (rc > 0 ? -rc : -EIO) : 0;
	}
	size = r->len;
	pthread_mutex_lock(&r->lock);
	off = r->head;
	if (off % r->ring + size > r->ring)
		off = ring_next_lap(r, off);
	fits = size <= r->ring && off + size - r->tail <= r->ring;
	pthread_mutex_unlock(&r->lock);
	r->len = 0;
	if (!fits)
		return commit_unlogged(r, txn);

	h.seq = r->seq + 1;
	h.len = size - sizeof(h);
	h.crc = cfs_crc32c_extend(cfs_crc32c(&h.seq, 16),
				  r->buf + sizeof(h), h.len);
	memcpy(r->buf, &h, sizeof(h));
	rc = full_pwrite(r->lazy_fd >= 0 ? r->lazy_fd : r->fd, r->buf, size,
			 ring_pos(r, off));
	if (rc) {
		cfs_log_error("cannot write the redo log", "dir=%s rc=%d",
			      r->dir, rc);
		mdb_txn_abort(txn);
		writer_done(r, false);
		return rc;
	}
	rc = mdb_txn_commit(txn);
	if (rc) {
		/* logged but not applied: take the record back, or no
		 * later commit may be logged after it */
		static const struct rec zero;

		cfs_log_error("metadata store commit failed", "dir=%s err=\"%s\"",
			      r->dir, mdb_strerror(rc));
		rc = rc == MDB_MAP_FULL ? -ENOSPC : rc > 0 ? -rc : -EIO;
		if (full_pwrite(r->fd, &zero, sizeof(zero), ring_pos(r, off))) {
			cfs_log_error("a failed commit stays in the redo log; "
				      "refusing changes until restarted",
				      "dir=%s rc=%d", r->dir, rc);
			pthread_mutex_lock(&r->lock);
			r->failed = true;
			pthread_mutex_unlock(&r->lock);
		}
		writer_done(r, false);
		return rc;
	}
	pgno = last_pgno(r);
	pthread_mutex_lock(&r->lock);
	r->seq++;
	r->head = off + size;
	r->grown = pgno - r->pin_pgno;
	r->writer = false;
	if (r->head - r->tail >= r->ring / 4 || r->grown >= r->grow_max)
		pthread_cond_signal(&r->kick);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return 0;
}
