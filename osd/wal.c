/* The OSD's write-ahead log; see wal.h for what it promises. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs/crc.h"
#include "cfs/log.h"
#include "cfs/map.h"
#include "uring.h"
#include "wal.h"

#define WAL_MAGIC 0x4c415743u	/* "CWAL": a record */
#define WIPE_MAGIC 0x45504957u	/* "WIPE": a wiped file, and its generation */

/* A record: this header, then npieces of (piece header, bytes padded to
 * 8). A marker has no pieces. crc covers the record with crc = 0. */
struct rec_hdr {
	uint32_t magic, len;
	uint64_t gen, ino, index;
	uint32_t crc, npieces;
};

struct piece_hdr {
	uint64_t off;
	uint32_t len, pad;
};

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

void wal_rec_init(struct wal_rec *r)
{
	memset(r, 0, sizeof(*r));
}

void wal_rec_free(struct wal_rec *r)
{
	free(r->buf);
	wal_rec_init(r);
}

static int rec_room(struct wal_rec *r, size_t more)
{
	if (r->len + more > r->cap) {
		size_t cap = r->cap ? r->cap : 8192;
		char *nb;

		while (cap < r->len + more)
			cap *= 2;
		nb = realloc(r->buf, cap);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = cap;
	}
	return 0;
}

int wal_rec_add(struct wal_rec *r, uint64_t off, const void *data,
		size_t len)
{
	struct piece_hdr p = { off, (uint32_t)len, 0 };
	int rc;

	if (r->len == 0) {
		rc = rec_room(r, sizeof(struct rec_hdr));
		if (rc)
			return rc;
		memset(r->buf, 0, sizeof(struct rec_hdr));
		r->len = sizeof(struct rec_hdr);
	}
	rc = rec_room(r, sizeof(p) + ALIGN8(len));
	if (rc)
		return rc;
	memcpy(r->buf + r->len, &p, sizeof(p));
	memcpy(r->buf + r->len + sizeof(p), data, len);
	memset(r->buf + r->len + sizeof(p) + len, 0, ALIGN8(len) - len);
	r->len += sizeof(p) + ALIGN8(len);
	r->npieces++;
	return 0;
}

static size_t slot_of(uint64_t ino, uint64_t index)
{
	return cfs_hash64(ino * 31 + index) % WAL_SLOTS;
}

static int run1(enum uring_op op, int fd, void *buf, size_t len, off_t off)
{
	struct uring_io io = { op, fd, buf, len, off, 0 };

	return osd_uring_run(&io, 1);
}

/* Put a wipe header in front of the file, so that it replays nothing.
 * It keeps the file's generation: generations never repeat, so that a
 * stale record past the end of newer ones never passes for one of them. */
static int wipe(int fd, uint64_t gen)
{
	struct rec_hdr h = { .magic = WIPE_MAGIC, .len = sizeof(h), .gen = gen };
	int rc;

	rc = run1(URING_WRITE, fd, &h, sizeof(h), 0);
	return rc ? rc : run1(URING_FDATASYNC, fd, NULL, 0, 0);
}

/* Open wal.<i> at full size, every block written (zeros when new). */
static int open_file(const char *dir, int i, int *out)
{
	char path[512];
	struct stat sb;
	char *zeros;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/wal.%d", dir, i);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)sb.st_size >= WAL_FILE_SIZE)
		goto out;
	zeros = calloc(1, 1u << 20);
	if (!zeros) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint64_t o = 0; o < WAL_FILE_SIZE && !rc; o += 1u << 20)
		rc = run1(URING_WRITE, fd, zeros, 1u << 20, (off_t)o);
	free(zeros);
	if (!rc && fsync(fd))
		rc = -errno;
out:
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/* One record of a file read whole: NULL at its end (torn, foreign, or of
 * another generation than *gen; the first record sets *gen). */
static const struct rec_hdr *next_rec(const char *buf, size_t *pos,
				      uint64_t *gen)
{
	const struct rec_hdr *h = (const void *)(buf + *pos);
	struct rec_hdr copy;
	uint32_t crc;

	if (*pos + sizeof(*h) > WAL_FILE_SIZE || h->magic != WAL_MAGIC ||
	    h->len < sizeof(*h) || h->len % 8 || h->len > WAL_FILE_SIZE - *pos)
		return NULL;
	if (*gen && h->gen != *gen)
		return NULL;
	copy = *h;
	copy.crc = 0;
	crc = cfs_crc32c_extend(cfs_crc32c(&copy, sizeof(copy)),
				buf + *pos + sizeof(*h), h->len - sizeof(*h));
	if (crc != h->crc)
		return NULL;
	*gen = h->gen;
	*pos += h->len;
	return h;
}

struct replay_ent {
	uint64_t ino, index;
	size_t seq;
	const struct rec_hdr *h;
};

static int by_chunk(const void *a, const void *b)
{
	const struct replay_ent *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_seq(const void *a, const void *b)
{
	const struct replay_ent *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int apply_rec(const struct rec_hdr *h, wal_apply_fn apply, void *arg)
{
	const char *p = (const char *)(h + 1), *end = (const char *)h + h->len;

	for (uint32_t i = 0; i < h->npieces; i++) {
		struct piece_hdr ph;
		int rc;

		if ((size_t)(end - p) < sizeof(ph))
			return -EBADMSG;
		memcpy(&ph, p, sizeof(ph));
		p += sizeof(ph);
		if ((size_t)(end - p) < ALIGN8(ph.len))
			return -EBADMSG;
		rc = apply(arg, h->ino, h->index, ph.off, p, ph.len);
		if (rc)
			return rc;
		p += ALIGN8(ph.len);
	}
	return 0;
}

/* Replay both files, oldest generation first; sets *maxgen. */
static int replay(struct wal *w, wal_apply_fn apply, void *arg,
		  uint64_t *maxgen)
{
	char *buf[2] = { NULL, NULL };
	uint64_t gen[2] = { 0, 0 };
	struct replay_ent *ents = NULL;
	size_t n = 0, cap = 0, applied = 0;
	int rc = 0, first;

	for (int i = 0; i < 2 && !rc; i++) {
		buf[i] = malloc(WAL_FILE_SIZE);
		if (!buf[i])
			rc = -ENOMEM;
		else
			rc = run1(URING_READ, w->fd[i], buf[i], WAL_FILE_SIZE,
				  0);
	}
	for (int i = 0; i < 2 && !rc; i++) {
		const struct rec_hdr *h = (const void *)buf[i];

		if (h->magic == WAL_MAGIC || h->magic == WIPE_MAGIC)
			gen[i] = h->gen;
	}
	/* the file with the older generation first */
	first = gen[1] < gen[0] ? 1 : 0;
	for (int k = 0; k < 2 && !rc; k++) {
		int i = k ? 1 - first : first;
		uint64_t g = 0;
		size_t pos = 0;
		const struct rec_hdr *h;

		while ((h = next_rec(buf[i], &pos, &g))) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 1024;
				struct replay_ent *ne =
					realloc(ents, nc * sizeof(*ne));

				if (!ne) {
					rc = -ENOMEM;
					break;
				}
				ents = ne;
				cap = nc;
			}
			ents[n] = (struct replay_ent){ h->ino, h->index, n, h };
			n++;
		}
	}
	*maxgen = gen[0] > gen[1] ? gen[0] : gen[1];
	if (!rc && n) {
		size_t keep = 0;

		/* per chunk, only what follows its last marker */
		qsort(ents, n, sizeof(*ents), by_chunk);
		for (size_t i = 0; i < n;) {
			size_t j = i, from = i;

			while (j < n && ents[j].ino == ents[i].ino &&
			       ents[j].index == ents[i].index) {
				if (ents[j].h->npieces == 0)
					from = j + 1;
				j++;
			}
			for (size_t k = from; k < j; k++)
				ents[keep++] = ents[k];
			i = j;
		}
		qsort(ents, keep, sizeof(*ents), by_seq);
		for (size_t i = 0; i < keep && !rc; i++)
			rc = apply_rec(ents[i].h, apply, arg);
		applied = keep;
	}
	if (!rc && applied && syncfs(w->dirfd))
		rc = -errno;
	if (!rc && applied)
		cfs_log_info("replayed the write-ahead log", "changes=%zu",
			     applied);
	free(ents);
	free(buf[0]);
	free(buf[1]);
	return rc;
}

static void *ckpt_main(void *p)
{
	struct wal *w = p;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		int f;

		while (w->ckpt < 0 && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		f = w->ckpt;
		pthread_mutex_unlock(&w->lock);
		if (w->ckpt_delay_ms)
			usleep(w->ckpt_delay_ms * 1000);
		/* every change logged in f was written to its chunk file
		 * before it was logged: syncing the file system makes f
		 * redundant */
		int rc = syncfs(w->dirfd) ? -errno : wipe(w->fd[f], w->gen[f]);

		if (rc) {
			cfs_log_error("write-ahead log checkpoint failed",
				      "rc=%d", rc);
			sleep(1);
		}
		pthread_mutex_lock(&w->lock);
		if (rc == 0) {
			w->ckpt = -1;
			w->free_file[f] = true;
			w->live_gen = w->gen[w->cur];
			pthread_cond_broadcast(&w->cond);
		}
	}
	pthread_mutex_unlock(&w->lock);
	osd_uring_thread_exit();
	return NULL;
}

static void close_files(struct wal *w)
{
	for (int i = 0; i < 2; i++) {
		if (w->fd[i] >= 0)
			close(w->fd[i]);
		w->fd[i] = -1;
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	w->dirfd = -1;
}

int wal_open(struct wal *w, const char *dir, wal_apply_fn apply, void *arg)
{
	uint64_t maxgen = 0;
	int rc;

	memset(w, 0, sizeof(*w));
	w->fd[0] = w->fd[1] = w->dirfd = -1;
	w->ckpt = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		rc = open_file(dir, i, &w->fd[i]);
		if (rc == -ENOSPC || rc == -EDQUOT) {
			cfs_log_warn("no room for the write-ahead log; every "
				     "change syncs its chunk file",
				     "dir=%s", dir);
			close_files(w);
			return 0;
		}
		if (rc)
			goto fail;
	}
	rc = replay(w, apply, arg, &maxgen);
	if (!rc)
		rc = wipe(w->fd[0], maxgen);
	if (!rc)
		rc = wipe(w->fd[1], maxgen);
	if (rc)
		goto fail;
	w->cur = 0;
	w->gen[0] = w->live_gen = maxgen + 1;
	w->gen[1] = 0;
	w->free_file[1] = true;
	if (pthread_create(&w->ckpt_thread, NULL, ckpt_main, w)) {
		rc = -EAGAIN;
		goto fail;
	}
	w->thread = true;
	return 0;
fail:
	cfs_log_error("cannot open the write-ahead log", "dir=%s rc=%d", dir,
		      rc);
	wal_close(w);
	return rc;
}

void wal_close(struct wal *w)
{
	if (w->thread) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->ckpt_thread, NULL);
		w->thread = false;
	}
	close_files(w);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

/* Move to the other file, wiped, after making the full one durable: its
 * waiters are then done, and the checkpoint thread takes it. */
static int switch_file(struct wal *w)
{
	int other = 1 - w->cur;
	int rc = run1(URING_FDATASYNC, w->fd[w->cur], NULL, 0, 0);

	if (rc)
		return rc;
	if (w->written > w->synced)
		w->synced = w->written;
	w->free_file[other] = false;
	w->ckpt = w->cur;
	w->gen[other] = w->gen[w->cur] + 1;
	w->cur = other;
	w->off = 0;
	pthread_cond_broadcast(&w->cond);
	return 0;
}

/* Append a record. A change finds the log full (both files, the other
 * one still being checkpointed) with -EAGAIN: it syncs its chunk file
 * instead, and so never waits on a checkpoint. A marker may use the
 * room kept for markers, and waits only if that is gone too. */
static int append(struct wal *w, uint64_t ino, uint64_t index, char *buf,
		  size_t len, uint32_t npieces, uint64_t *end, int *fd)
{
	struct rec_hdr *h = (void *)buf;
	uint64_t limit = npieces ? WAL_FILE_SIZE - WAL_MARK_ROOM :
				   WAL_FILE_SIZE;
	int rc = 0;

	if (len > WAL_FILE_SIZE / 2)
		return -E2BIG;
	pthread_mutex_lock(&w->lock);
	while (!rc && w->off + len > limit) {
		if (w->stop)
			rc = -ESHUTDOWN;
		else if (w->free_file[1 - w->cur])
			rc = switch_file(w);
		else if (npieces)
			rc = -EAGAIN;
		else
			pthread_cond_wait(&w->cond, &w->lock);
	}
	if (rc)
		goto out;
	*h = (struct rec_hdr){ WAL_MAGIC, (uint32_t)len, w->gen[w->cur], ino,
			       index, 0, npieces };
	h->crc = cfs_crc32c(buf, len);
	rc = run1(URING_WRITE, w->fd[w->cur], buf, len, (off_t)w->off);
	if (rc)
		goto out;
	w->off += len;
	w->written += len;
	*end = w->written;
	*fd = w->fd[w->cur];
	w->slot_gen[slot_of(ino, index)] = w->gen[w->cur];
out:
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int wal_append(struct wal *w, uint64_t ino, uint64_t index,
	       const struct wal_rec *r, uint64_t *end, int *fd)
{
	return append(w, ino, index, r->buf, r->len, r->npieces, end, fd);
}

int wal_sync(struct wal *w, uint64_t end)
{
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	while (w->synced < end && !rc) {
		if (w->syncing) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		/* lead a sync for everyone written so far */
		uint64_t target = w->written;
		int fd = w->fd[w->cur];

		w->syncing = true;
		pthread_mutex_unlock(&w->lock);
		rc = run1(URING_FDATASYNC, fd, NULL, 0, 0);
		pthread_mutex_lock(&w->lock);
		w->syncing = false;
		if (!rc && target > w->synced)
			w->synced = target;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

void wal_synced(struct wal *w, uint64_t end)
{
	pthread_mutex_lock(&w->lock);
	if (end > w->synced)
		w->synced = end;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int wal_mark(struct wal *w, uint64_t ino, uint64_t index)
{
	char buf[sizeof(struct rec_hdr)];
	uint64_t end;
	bool live;
	int fd, rc;

	if (!wal_on(w))
		return 0;
	pthread_mutex_lock(&w->lock);
	live = w->slot_gen[slot_of(ino, index)] >= w->live_gen;
	pthread_mutex_unlock(&w->lock);
	if (!live)
		return 0;
	rc = append(w, ino, index, buf, sizeof(buf), 0, &end, &fd);
	return rc ? rc : wal_sync(w, end);
}
