/* The chunk store; see store.h for the layout and contracts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cfs/crc.h"
#include "cfs/layout.h"
#include "cfs/log.h"
#include "cfs/map.h"
#include "store.h"
#include "uring.h"

#define CHUNK_MAGIC "CFSCHK02"
#define B CFS_BLOCK_SIZE
/* file offsets: header, then one CRC per block, then the data */
#define CRC_OFF ((uint64_t)sizeof(struct chunk_hdr))
#define DATA_OFF ((uint64_t)STORE_DATA_OFF)

struct chunk_hdr {
	char magic[8];
	uint64_t version;
	uint64_t ino, index;	/* the chunk held (0, 0: written before) */
};
_Static_assert(sizeof(struct chunk_hdr) + CFS_CHUNK_SIZE / B * 4 <=
		       STORE_DATA_OFF && STORE_DATA_OFF % B == 0,
	       "room for a CRC per block before block-aligned data");

int store_open(struct store *st, const char *dir)
{
	char path[512];
	int rc;

	if (strlen(dir) >= sizeof(st->dir))
		return -ENAMETOOLONG;
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/chunks", dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	for (int i = 0; i < 256; i++) {
		snprintf(path, sizeof(path), "%s/chunks/%02x", dir, i);
		if (mkdir(path, 0700) && errno != EEXIST)
			return -errno;
	}
	snprintf(path, sizeof(path), "%s/undo", dir);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/evicted", dir);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	rc = pool_open(&st->pool, dir);
	if (rc)
		return rc;
	pthread_mutex_init(&st->lmutex, NULL);
	memset(st->locks, 0, sizeof(st->locks));
	return 0;
}

void store_close(struct store *st)
{
	pool_close(&st->pool);
	pthread_mutex_destroy(&st->lmutex);
}

struct chunk_lock {
	struct chunk_id c;
	int users;		/* holding or waiting */
	bool held;
	pthread_cond_t cond;
	struct chunk_lock *next;
};

static struct chunk_lock **lock_slot(struct store *st, struct chunk_id c)
{
	struct chunk_lock **pp = &st->locks[cfs_hash64(c.ino * 31 + c.index) %
					    STORE_LOCK_BUCKETS];

	while (*pp && ((*pp)->c.ino != c.ino || (*pp)->c.index != c.index))
		pp = &(*pp)->next;
	return pp;
}

void store_lock(struct store *st, struct chunk_id c)
{
	struct chunk_lock **pp, *l;

	pthread_mutex_lock(&st->lmutex);
	pp = lock_slot(st, c);
	while (!*pp) {
		l = calloc(1, sizeof(*l));
		if (l) {
			l->c = c;
			pthread_cond_init(&l->cond, NULL);
			*pp = l;
			break;
		}
		pthread_mutex_unlock(&st->lmutex);	/* out of memory */
		usleep(1000);
		pthread_mutex_lock(&st->lmutex);
		pp = lock_slot(st, c);
	}
	l = *pp;
	l->users++;
	while (l->held)
		pthread_cond_wait(&l->cond, &st->lmutex);
	l->held = true;
	pthread_mutex_unlock(&st->lmutex);
}

void store_unlock(struct store *st, struct chunk_id c)
{
	struct chunk_lock **pp, *l;

	pthread_mutex_lock(&st->lmutex);
	pp = lock_slot(st, c);
	l = *pp;
	l->held = false;
	if (--l->users == 0) {
		*pp = l->next;
		pthread_cond_destroy(&l->cond);
		free(l);
	} else {
		pthread_cond_signal(&l->cond);
	}
	pthread_mutex_unlock(&st->lmutex);
}

static void chunk_path(struct store *st, struct chunk_id c, const char *suffix,
		       char *buf, size_t len)
{
	snprintf(buf, len, "%s/chunks/%02x/%016" PRIx64 ".%" PRIx64 "%s",
		 st->dir, (unsigned)(c.ino & 0xff), c.ino, c.index, suffix);
}

/* Open the chunk's file; with create, make it, from the pool where it
 * can (the caller holds the chunk's lock). */
static int chunk_open(struct store *st, struct chunk_id c, bool create,
		      int *fd)
{
	char path[512];

	chunk_path(st, c, "", path, sizeof(path));
	*fd = open(path, O_RDWR | O_CLOEXEC);
	if (*fd >= 0 || errno != ENOENT || !create)
		return *fd < 0 ? -errno : 0;
	pool_take(&st->pool, path);
	*fd = open(path, O_RDWR | O_CLOEXEC | O_CREAT, 0600);
	return *fd < 0 ? -errno : 0;
}

int store_chunk_fd(struct store *st, struct chunk_id c)
{
	int fd;
	int rc = chunk_open(st, c, false, &fd);

	return rc ? rc : fd;
}

static void chunk_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int read_version(int fd, uint64_t *version)
{
	struct chunk_hdr h;
	ssize_t n = osd_uring_pread(fd, &h, sizeof(h), 0);

	if (n < 0)
		return (int)n;
	if (n == 0) {
		*version = 0;	/* new file */
		return 0;
	}
	if ((size_t)n < sizeof(h) || memcmp(h.magic, CHUNK_MAGIC, 8))
		return -EBADMSG;
	*version = h.version;
	return 0;
}

static void make_header(struct chunk_hdr *h, struct chunk_id c,
			uint64_t version)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, CHUNK_MAGIC, 8);
	h->version = version;
	h->ino = c.ino;
	h->index = c.index;
}

/* Whether fd still holds chunk c at version: read without the chunk's
 * lock, its file may have been removed and reused since it was opened
 * (pool.h). A removal empties the file before reuse, and a write puts
 * the header last, so a header naming c means what was read before it
 * was c's. */
static bool still_holds(int fd, struct chunk_id c, uint64_t version)
{
	struct chunk_hdr h;

	if (osd_uring_pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, CHUNK_MAGIC, 8) || h.version != version)
		return false;
	return (h.ino == 0 && h.index == 0) ||
	       (h.ino == c.ino && h.index == c.index);
}

/* The chunk's size: the file's, less the header and CRCs before it. */
static int data_size(int fd, uint64_t *size)
{
	struct stat sb;

	if (fstat(fd, &sb))
		return -errno;
	*size = (uint64_t)sb.st_size > DATA_OFF ?
			(uint64_t)sb.st_size - DATA_OFF : 0;
	return 0;
}

int store_stat(struct store *st, struct chunk_id c, uint64_t *version,
	       uint64_t *size)
{
	int fd, rc = chunk_open(st, c, false, &fd);

	*version = 0;
	if (size)
		*size = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = read_version(fd, version);
	if (rc == 0 && size)
		rc = data_size(fd, size);
	chunk_close(fd);
	return rc;
}

/* Read block b (zero-padded past size) and check it against its CRC. */
static int read_block(int fd, uint64_t b, uint64_t size, void *buf)
{
	uint32_t crc = 0;
	ssize_t n;

	memset(buf, 0, B);
	if (b * B >= size)
		return 0;
	n = osd_uring_pread(fd, buf, B, (off_t)(DATA_OFF + b * B));
	if (n < 0)
		return (int)n;
	n = osd_uring_pread(fd, &crc, sizeof(crc), (off_t)(CRC_OFF + b * 4));
	if (n < 0)
		return (int)n;
	return cfs_crc_check_block(buf, crc);
}

/* Write data at off, CRCs of blocks [first, first+n) and the header, in
 * that order, then (with sync) make them durable. */
static int commit(int fd, struct chunk_id c, const void *data, uint64_t off,
		  uint64_t len, const uint32_t *crcs, uint64_t first, size_t n,
		  uint64_t version, bool sync)
{
	struct chunk_hdr h;
	struct uring_io ios[4];
	int k = 0;

	make_header(&h, c, version);
	if (len)
		ios[k++] = (struct uring_io){ URING_WRITE, fd, (void *)data,
					      len, (off_t)(DATA_OFF + off), 0 };
	if (n)
		ios[k++] = (struct uring_io){ URING_WRITE, fd, (void *)crcs,
					      n * 4, (off_t)(CRC_OFF + first * 4),
					      0 };
	ios[k++] = (struct uring_io){ URING_WRITE, fd, &h, sizeof(h), 0, 0 };
	if (sync)
		ios[k++] = (struct uring_io){ URING_FDATASYNC, fd, NULL, 0,
					      0, 0 };
	return osd_uring_run(ios, k);
}

/* ---- rollback records (EC shards): see store.h ---- */

#define UNDO_MAGIC "CFSUNDO1"

struct undo_hdr {
	char magic[8];
	uint64_t from, to;	/* rolls the chunk back from `to` to `from` */
	uint64_t size;		/* its size at `from` */
	uint64_t first, n;	/* blocks [first, first+n) as they were */
	uint32_t crc;		/* of the CRCs and blocks that follow */
	uint32_t pad;
	struct store_takers takers;	/* the OSDs the change went to */
};

static bool keeps_undo(struct chunk_id c)
{
	return c.index & CFS_SHARD_BIT;
}

static void undo_path(struct store *st, struct chunk_id c, char *buf,
		      size_t len)
{
	snprintf(buf, len, "%s/undo/%016" PRIx64 ".%" PRIx64, st->dir, c.ino,
		 c.index);
}

/* Record how to take chunk c (open as fd) back from version `to` to what
 * it holds now, before a change rewrites blocks [first, last] of it (or
 * cuts them): those blocks and their CRCs as they are, its size and
 * version. *ufd: the record's file, written but not yet synced (the
 * caller syncs it with the change); -1 when c keeps no records. */
static int undo_save(struct store *st, struct chunk_id c, int fd,
		     uint64_t first, uint64_t last, uint64_t to,
		     const struct store_takers *takers, int *ufd)
{
	struct undo_hdr h = { .magic = UNDO_MAGIC, .to = to };
	struct uring_io ios[3];
	char path[512];
	uint8_t *data = NULL;
	uint32_t *crcs = NULL;
	int rc, k = 0;

	*ufd = -1;
	if (!keeps_undo(c))
		return 0;
	if (takers)
		h.takers = *takers;
	rc = read_version(fd, &h.from);
	if (!rc)
		rc = data_size(fd, &h.size);
	if (rc)
		return rc;
	/* blocks past the old end come back as nothing: only the size */
	if (last >= (h.size + B - 1) / B)
		last = h.size ? (h.size - 1) / B : 0;
	h.first = first;
	h.n = h.size && first <= last ? last - first + 1 : 0;
	if (h.n) {
		data = malloc(h.n * B);
		crcs = calloc(h.n, 4);
		if (!data || !crcs) {
			rc = -ENOMEM;
			goto out;
		}
		memset(data, 0, h.n * B);
		ios[0] = (struct uring_io){ URING_READ, fd, data, h.n * B,
					    (off_t)(DATA_OFF + first * B), 0 };
		ios[1] = (struct uring_io){ URING_READ, fd, crcs, h.n * 4,
					    (off_t)(CRC_OFF + first * 4), 0 };
		rc = osd_uring_run(ios, 2);
		if (rc)
			goto out;
		h.crc = cfs_crc32c_extend(cfs_crc32c(crcs, h.n * 4), data,
					  h.n * B);
	}
	undo_path(st, c, path, sizeof(path));
	*ufd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (*ufd < 0) {
		rc = -errno;
		goto out;
	}
	ios[k++] = (struct uring_io){ URING_WRITE, *ufd, &h, sizeof(h), 0, 0 };
	if (h.n) {
		ios[k++] = (struct uring_io){ URING_WRITE, *ufd, crcs, h.n * 4,
					      (off_t)sizeof(h), 0 };
		ios[k++] = (struct uring_io){ URING_WRITE, *ufd, data, h.n * B,
					      (off_t)(sizeof(h) + h.n * 4), 0 };
	}
	rc = osd_uring_run(ios, k);
out:
	free(data);
	free(crcs);
	if (rc && *ufd >= 0) {
		close(*ufd);
		*ufd = -1;
	}
	return rc;
}

/* The record of chunk c, checked; -ESTALE if there is none that takes
 * it back from `to`. With data (and crcs), its blocks and CRCs too
 * (malloc'd; NULL on failure). */
static int undo_load(struct store *st, struct chunk_id c, uint64_t to,
		     struct undo_hdr *h, uint8_t **data, uint32_t **crcs)
{
	char path[512];
	int fd, rc = 0;

	if (data) {
		*data = NULL;
		*crcs = NULL;
	}
	undo_path(st, c, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	if (osd_uring_pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) ||
	    memcmp(h->magic, UNDO_MAGIC, 8) || h->to != to ||
	    h->n > CFS_CHUNK_SIZE / B) {
		rc = -ESTALE;
		goto out;
	}
	if (!data)
		goto out;
	*data = malloc(h->n * B + 1);
	*crcs = malloc(h->n * 4 + 4);
	if (!*data || !*crcs)
		rc = -ENOMEM;
	else if (h->n &&
		 (osd_uring_pread(fd, *crcs, h->n * 4, sizeof(*h)) !=
			  (ssize_t)(h->n * 4) ||
		  osd_uring_pread(fd, *data, h->n * B,
				  (off_t)(sizeof(*h) + h->n * 4)) !=
			  (ssize_t)(h->n * B) ||
		  cfs_crc32c_extend(cfs_crc32c(*crcs, h->n * 4), *data,
				    h->n * B) != h->crc))
		rc = -EBADMSG;
out:
	close(fd);
	if (rc && data) {
		free(*data);
		free(*crcs);
		*data = NULL;
		*crcs = NULL;
	}
	return rc;
}

static void undo_drop(struct store *st, struct chunk_id c)
{
	char path[512];

	if (!keeps_undo(c))
		return;
	undo_path(st, c, path, sizeof(path));
	unlink(path);
}

bool store_can_roll_back(struct store *st, struct chunk_id c,
			 uint64_t version, struct store_takers *takers)
{
	struct undo_hdr h;
	bool yes = keeps_undo(c) && version &&
		   undo_load(st, c, version, &h, NULL, NULL) == 0 &&
		   h.from + 1 == version;

	if (takers && yes)
		*takers = h.takers;
	else if (takers)
		memset(takers, 0, sizeof(*takers));
	return yes;
}

int store_rollback(struct store *st, struct chunk_id c, uint64_t from,
		   uint64_t as)
{
	struct undo_hdr h = { .size = 0 };
	uint8_t *data = NULL;
	uint32_t *crcs = NULL, *zeros = NULL;
	uint64_t version, size, oldn, n;
	int fd = -1, rc = store_stat(st, c, &version, &size);

	if (rc)
		return rc;
	if (!keeps_undo(c) || as <= version || (version != from &&
						 version != from + 1))
		return -ESTALE;
	if (version == from + 1) {
		rc = undo_load(st, c, version, &h, &data, &crcs);
		if (rc == 0 && h.from != from)
			rc = -ESTALE;
	} else {
		h.size = size;	/* it never took the change: only renumbered */
	}
	if (!rc)
		rc = chunk_open(st, c, true, &fd);
	if (rc)
		goto out;
	if (version == from + 1 && ftruncate(fd, (off_t)(DATA_OFF + h.size)))
		rc = -errno;
	/* blocks past the old end are holes again (CRC 0) */
	oldn = (h.size + B - 1) / B;
	n = (size + B - 1) / B;
	if (!rc && n > oldn) {
		zeros = calloc(n - oldn, 4);
		rc = zeros ? commit(fd, c, NULL, 0, 0, zeros, oldn,
				    (size_t)(n - oldn), version, false) :
			     -ENOMEM;
	}
	/* the old blocks (the last only up to the old end: the file's size
	 * is the chunk's), then the header with the new number */
	if (!rc)
		rc = commit(fd, c, data, h.first * B,
			    h.n ? (h.size - h.first * B < h.n * B ?
					   h.size - h.first * B :
					   h.n * B) :
				  0,
			    crcs, h.first, (size_t)h.n, as, true);
	if (!rc)
		undo_drop(st, c);
	cfs_log_warn("rolled back a change never acknowledged", "ino=%lu "
		     "index=%lx version=%lu back_to=%lu as=%lu rc=%d",
		     (unsigned long)c.ino, (unsigned long)c.index,
		     (unsigned long)version, (unsigned long)from,
		     (unsigned long)as, rc);
out:
	chunk_close(fd);
	free(data);
	free(crcs);
	free(zeros);
	return rc;
}

/* Make a record durable (before the change it undoes is applied in
 * place) and close it; -1 is none. */
static int undo_sync(int ufd)
{
	struct uring_io io = { URING_FDATASYNC, ufd, NULL, 0, 0, 0 };
	int rc;

	if (ufd < 0)
		return 0;
	rc = osd_uring_run(&io, 1);
	close(ufd);
	return rc;
}

int store_write(struct store *st, struct chunk_id c,
		const struct store_extent *ex, size_t n, const void *data,
		const uint32_t *crcs, uint64_t version,
		const struct store_takers *takers)
{
	struct store_pending p;
	int rc = store_write_begin(st, c, ex, n, data, crcs, version, takers,
				   &p);

	return rc ? rc : store_sync_finish(&p);
}

void store_sync_start(struct store_pending *p)
{
	int fds[2] = { p->fd, p->ufd };

	p->started = osd_uring_sync_start(fds, p->ufd >= 0 ? 2 : 1) == 0;
}

int store_sync_finish(struct store_pending *p)
{
	int rc;

	if (p->started) {
		rc = osd_uring_sync_wait(p->ufd >= 0 ? 2 : 1);
	} else {
		struct uring_io io[2] = {
			{ URING_FDATASYNC, p->fd, NULL, 0, 0, 0 },
			{ URING_FDATASYNC, p->ufd, NULL, 0, 0, 0 },
		};

		rc = osd_uring_run(io, p->ufd >= 0 ? 2 : 1);
	}
	chunk_close(p->fd);
	chunk_close(p->ufd);
	p->fd = p->ufd = -1;
	return rc;
}

/* Write one extent (no sync); *size is the chunk's size, kept current.
 * crcs holds the extent's piece CRCs; block is B bytes of scratch. */
static int write_extent(int fd, struct chunk_id c, uint64_t off,
			const char *data, uint64_t len, const uint32_t *crcs,
			uint64_t version, uint64_t *size, uint32_t *newcrcs,
			char *block)
{
	uint64_t end = off + len, first = off / B, last = (end - 1) / B;
	size_t n = (size_t)(last - first + 1);
	int rc;

	for (size_t i = 0; i < n; i++) {
		uint64_t bstart = (first + i) * B;
		uint64_t pstart = off > bstart ? off : bstart;
		uint64_t pend = end < bstart + B ? end : bstart + B;

		if (pstart == bstart && pend == bstart + B) {
			newcrcs[i] = crcs[i];
			continue;
		}
		/* a partial block: merge with what is stored */
		rc = read_block(fd, first + i, *size, block);
		if (rc) {
			cfs_log_error("stored block corrupt, cannot merge write",
				      "ino=%lu index=%lu block=%lu rc=%d",
				      (unsigned long)c.ino,
				      (unsigned long)c.index,
				      (unsigned long)(first + i), rc);
			return -EIO;
		}
		memcpy(block + (pstart - bstart), data + (pstart - off),
		       pend - pstart);
		newcrcs[i] = cfs_crc32c(block, B);
	}
	rc = commit(fd, c, data, off, len, newcrcs, first, n, version, false);
	if (rc == 0 && end > *size)
		*size = end;
	return rc;
}

int store_write_begin(struct store *st, struct chunk_id c,
		      const struct store_extent *ex, size_t n,
		      const void *data, const uint32_t *crcs,
		      uint64_t version, const struct store_takers *takers,
		      struct store_pending *p)
{
	const char *pos = data;
	uint32_t *newcrcs = NULL;
	char *block = NULL;
	size_t most = 0;
	uint64_t size, first = UINT64_MAX, last = 0;
	int fd, ufd = -1, rc;

	for (size_t i = 0; i < n; i++) {
		if (ex[i].len == 0 || ex[i].off + ex[i].len > CFS_CHUNK_SIZE ||
		    ex[i].off + ex[i].len < ex[i].off)
			return -EINVAL;
		if (cfs_crc_npieces(ex[i].off, ex[i].len) > most)
			most = cfs_crc_npieces(ex[i].off, ex[i].len);
		if (ex[i].off / B < first)
			first = ex[i].off / B;
		if ((ex[i].off + ex[i].len - 1) / B > last)
			last = (ex[i].off + ex[i].len - 1) / B;
	}
	/* n == 0: the version alone (an EC shard a change leaves alone) */
	rc = store_resident(st, c);
	if (rc)
		return rc;
	rc = chunk_open(st, c, true, &fd);
	if (rc)
		return rc;
	rc = data_size(fd, &size);
	if (!rc)
		rc = undo_save(st, c, fd, first, last, version, takers, &ufd);
	if (rc)
		goto out;
	newcrcs = malloc(most * 4 + 4);
	block = malloc(B);
	if (!newcrcs || !block) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = write_extent(fd, c, ex[i].off, pos, ex[i].len, crcs,
				  version, &size, newcrcs, block);
		pos += ex[i].len;
		crcs += cfs_crc_npieces(ex[i].off, ex[i].len);
	}
	if (n == 0)
		rc = commit(fd, c, NULL, 0, 0, NULL, 0, 0, version, false);
out:
	free(newcrcs);
	free(block);
	if (rc) {
		chunk_close(fd);
		chunk_close(ufd);
		return rc;
	}
	*p = (struct store_pending){ fd, ufd, false };
	return 0;
}

/* One read for store_read. Unlocked (held false), a change may run
 * meanwhile: the header is checked again after the data, and a chunk
 * that changed or was removed, or a block that does not match its CRC
 * (a write half done), is -EAGAIN, to be read again under the lock.
 * Under the lock the chunk stands still and a mismatch is corruption. */
static int read_once(struct store *st, struct chunk_id c, uint64_t off,
		     uint64_t len, bool held, char **out, uint32_t **crcs,
		     size_t *nblocks, uint64_t *version, uint64_t *size)
{
	uint64_t first, last, end;
	char *buf = NULL;
	uint32_t *cs = NULL;
	struct uring_io ios[2];
	int fd, rc;
	size_t n;

	/* an evicted chunk's bytes back first (an unlocked read of one sees
	 * zeros failing their CRCs, and comes back here locked) */
	rc = held ? store_resident(st, c) : 0;
	if (rc)
		return rc;
	rc = chunk_open(st, c, false, &fd);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = read_version(fd, version);
	if (!rc)
		rc = data_size(fd, size);
	if (rc || off >= *size || len == 0)
		goto out;
	end = off + len < *size ? off + len : *size;
	first = off / B;
	last = (end - 1) / B;
	n = (size_t)(last - first + 1);
	buf = calloc(n, B);
	cs = calloc(n, 4);
	if (!buf || !cs) {
		rc = -ENOMEM;
		goto out;
	}
	ios[0] = (struct uring_io){ URING_READ, fd, buf,
				    (size_t)(*size - first * B < n * B ?
						     *size - first * B : n * B),
				    (off_t)(DATA_OFF + first * B), 0 };
	ios[1] = (struct uring_io){ URING_READ, fd, cs, n * 4,
				    (off_t)(CRC_OFF + first * 4), 0 };
	rc = osd_uring_run(ios, 2);
	if (rc)
		goto out;
	if (!held && !still_holds(fd, c, *version)) {
		rc = -EAGAIN;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!cfs_crc_check_block(buf + i * B, cs[i]))
			continue;
		if (!held) {
			rc = -EAGAIN;
			goto out;
		}
		cfs_log_error("crc mismatch on read", "ino=%lu index=%lu block=%lu",
			      (unsigned long)c.ino, (unsigned long)c.index,
			      (unsigned long)(first + i));
		rc = -EBADMSG;
		goto out;
	}
	*out = buf;
	*crcs = cs;
	*nblocks = n;
	buf = NULL;
	cs = NULL;
out:
	free(buf);
	free(cs);
	chunk_close(fd);
	return rc;
}

int store_read(struct store *st, struct chunk_id c, uint64_t off,
	       uint64_t len, bool held, void **out, uint64_t *block_off,
	       uint32_t **crcs, size_t *nblocks, uint64_t *version,
	       uint64_t *size)
{
	int rc;

	*block_off = off / B * B;
	for (int locked = held; ; locked = 1) {
		*out = NULL;
		*crcs = NULL;
		*nblocks = 0;
		*version = *size = 0;
		if (locked && !held)
			store_lock(st, c);
		rc = read_once(st, c, off, len, locked, (char **)out, crcs,
			       nblocks, version, size);
		if (locked && !held)
			store_unlock(st, c);
		if (rc != -EAGAIN)
			return rc;
	}
}

/* Recompute the CRC of block b from the data as it is now. */
static int rehash_block(int fd, uint64_t b, uint64_t size, uint32_t *crc)
{
	char *buf = calloc(1, B);
	ssize_t n = 0;
	bool zero = true;

	if (!buf)
		return -ENOMEM;
	if (b * B < size)
		n = osd_uring_pread(fd, buf, B, (off_t)(DATA_OFF + b * B));
	for (size_t i = 0; i < B && zero; i++)
		zero = buf[i] == 0;
	*crc = zero ? 0 : cfs_crc32c(buf, B);
	free(buf);
	return n < 0 ? (int)n : 0;
}

int store_truncate(struct store *st, struct chunk_id c, uint64_t size,
		   uint64_t version, const struct store_takers *takers)
{
	uint64_t old, nblocks = (size + B - 1) / B, oldblocks;
	uint32_t *crcs = NULL;
	int fd, ufd, rc;
	size_t n = 0;

	if (size > CFS_CHUNK_SIZE)
		return -EINVAL;
	rc = store_resident(st, c);
	if (rc)
		return rc;
	rc = chunk_open(st, c, true, &fd);
	if (rc)
		return rc;
	rc = data_size(fd, &old);
	if (!rc && old > size)
		rc = undo_save(st, c, fd, size / B, (old - 1) / B, version,
			       takers, &ufd);
	else if (!rc)
		rc = undo_save(st, c, fd, 1, 0, version, takers, &ufd);
	if (!rc)
		rc = undo_sync(ufd);
	if (rc)
		goto out;
	if (ftruncate(fd, (off_t)(DATA_OFF + size))) {
		rc = -errno;
		goto out;
	}
	/* blocks past the end keep CRC 0 (a hole), so that a later write
	 * beyond them reads them as zeros; the new last block is rehashed */
	oldblocks = (old + B - 1) / B;
	if (size % B || oldblocks > nblocks) {
		uint64_t first = size / B;

		n = (size_t)((oldblocks > nblocks ? oldblocks : nblocks) - first);
		crcs = calloc(n, 4);
		if (!crcs) {
			rc = -ENOMEM;
			goto out;
		}
		if (size % B)
			rc = rehash_block(fd, first, size, &crcs[0]);
		if (!rc)
			rc = commit(fd, c, NULL, 0, 0, crcs, first, n,
				    version, true);
	} else {
		rc = commit(fd, c, NULL, 0, 0, NULL, 0, 0, version, true);
	}
out:
	free(crcs);
	chunk_close(fd);
	return rc;
}

int store_idle_s(struct store *st, struct chunk_id c, int64_t *secs)
{
	char path[512];
	struct stat sb;

	chunk_path(st, c, "", path, sizeof(path));
	if (stat(path, &sb))
		return -errno;
	*secs = (int64_t)time(NULL) - (int64_t)sb.st_mtime;
	return 0;
}

int store_remove(struct store *st, struct chunk_id c)
{
	char path[512];
	int rc;

	chunk_path(st, c, "", path, sizeof(path));
	undo_drop(st, c);
	rc = store_evict_forget(st, c);
	if (rc)
		return rc;
	rc = pool_give(&st->pool, path);
	return rc == -ENOENT ? 0 : rc;
}

int store_punch(struct store *st, struct chunk_id c, uint64_t off,
		uint64_t len, uint64_t version, const struct store_takers *takers)
{
	uint64_t size, end, first, last;
	uint32_t *crcs = NULL;
	int fd, ufd, rc;
	size_t n;

	rc = store_resident(st, c);
	if (rc)
		return rc;
	rc = chunk_open(st, c, false, &fd);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = data_size(fd, &size);
	if (rc)
		goto out;
	if (off >= size || len == 0) {
		/* nothing to punch: the change's version all the same */
		rc = undo_save(st, c, fd, 1, 0, version, takers, &ufd);
		if (!rc)
			rc = undo_sync(ufd);
		if (!rc)
			rc = commit(fd, c, NULL, 0, 0, NULL, 0, 0, version,
				    true);
		goto out;
	}
	end = off + len < size ? off + len : size;
	rc = undo_save(st, c, fd, off / B, (end - 1) / B, version, takers,
		       &ufd);
	if (!rc)
		rc = undo_sync(ufd);
	if (rc)
		goto out;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(DATA_OFF + off), (off_t)(end - off))) {
		rc = -errno;
		goto out;
	}
	first = off / B;
	last = (end - 1) / B;
	n = (size_t)(last - first + 1);
	crcs = calloc(n, 4);
	if (!crcs) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = rehash_block(fd, first + i, size, &crcs[i]);
	if (!rc)
		rc = commit(fd, c, NULL, 0, 0, crcs, first, n, version, true);
out:
	free(crcs);
	chunk_close(fd);
	return rc;
}

int store_seek(struct store *st, struct chunk_id c, uint64_t off, bool hole,
	       bool *found, uint64_t *at)
{
	int fd, rc;
	uint64_t size, end, version;
	off_t r;

	if (store_evicted(st, c)) {	/* its data ranges are its bytes' */
		store_lock(st, c);
		rc = store_resident(st, c);
		store_unlock(st, c);
		if (rc)
			return rc;
	}
	rc = chunk_open(st, c, false, &fd);
	*found = hole;
	*at = off;
	if (rc == -ENOENT)
		return 0;	/* no chunk: all hole */
	if (rc)
		return rc;
	rc = read_version(fd, &version);
	if (!rc)
		rc = data_size(fd, &size);
	if (rc)
		goto out;
	/* in whole blocks, as a local file system answers: the last
	 * partial block is data up to its end */
	end = (size + B - 1) / B * B;
	if (off < size) {
		r = lseek(fd, (off_t)(DATA_OFF + off),
			  hole ? SEEK_HOLE : SEEK_DATA);
	} else {
		r = -1;	/* past the end, as lseek answers it */
		errno = ENXIO;
	}
	if (r >= 0) {
		*found = true;
		*at = (uint64_t)r - DATA_OFF;
		if (hole && *at == size)
			*at = end;
	} else if (errno != ENXIO) {
		rc = -errno;
	} else if (!hole && off < end) {
		*found = true;
	}
	if (rc == 0 && size && !still_holds(fd, c, version)) {
		*found = hole;	/* removed meanwhile: all hole */
		*at = off;
	}
out:
	chunk_close(fd);
	return rc;
}

int store_put(struct store *st, struct chunk_id c, const void *data,
	      uint64_t size, const uint32_t *crcs, uint64_t version)
{
	char path[512], tpath[512];
	uint64_t nblocks = (size + B - 1) / B;
	struct chunk_hdr h;
	struct uring_io ios[4];
	int fd, rc = 0, k = 0;

	if (size > CFS_CHUNK_SIZE)
		return -EINVAL;
	chunk_path(st, c, "", path, sizeof(path));
	chunk_path(st, c, ".tmp", tpath, sizeof(tpath));
	fd = open(tpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)(DATA_OFF + size))) {
		rc = -errno;
		goto out;
	}
	make_header(&h, c, version);
	ios[k++] = (struct uring_io){ URING_WRITE, fd, &h, sizeof(h), 0, 0 };
	if (nblocks)
		ios[k++] = (struct uring_io){ URING_WRITE, fd, (void *)crcs,
					      nblocks * 4, (off_t)CRC_OFF, 0 };
	if (size)
		ios[k++] = (struct uring_io){ URING_WRITE, fd, (void *)data,
					      size, (off_t)DATA_OFF, 0 };
	ios[k++] = (struct uring_io){ URING_FDATASYNC, fd, NULL, 0, 0, 0 };
	rc = osd_uring_run(ios, k);
	if (!rc && rename(tpath, path))
		rc = -errno;
	if (!rc)
		undo_drop(st, c);
	if (!rc)	/* bytes whole again (a record left by a crash
			 * here names an older version: evict.c drops it) */
		rc = store_evict_forget(st, c);
out:
	chunk_close(fd);
	if (rc)
		unlink(tpath);
	return rc;
}

int store_scan(struct store *st,
	       int (*fn)(void *arg, struct chunk_id c, uint64_t version),
	       void *arg)
{
	char path[512];
	int rc = 0;

	for (int i = 0; i < 256 && !rc; i++) {
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "%s/chunks/%02x", st->dir, i);
		d = opendir(path);
		if (!d)
			continue;
		while (!rc && (de = readdir(d))) {
			struct chunk_id c;
			uint64_t version;
			int used = 0;

			if (sscanf(de->d_name, "%16" SCNx64 ".%" SCNx64 "%n",
				   &c.ino, &c.index, &used) != 2 ||
			    de->d_name[used] != '\0')
				continue;
			if (store_version(st, c, &version))
				continue;
			rc = fn(arg, c, version);
		}
		closedir(d);
	}
	return rc;
}

int store_space(struct store *st, uint64_t *capacity, uint64_t *used)
{
	struct statvfs sv;

	if (statvfs(st->dir, &sv))
		return -errno;
	*capacity = (uint64_t)sv.f_blocks * sv.f_frsize;
	*used = *capacity - (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}
