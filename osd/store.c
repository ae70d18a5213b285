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
#include <unistd.h>

#include "cfs/crc.h"
#include "cfs/log.h"
#include "cfs/map.h"
#include "store.h"
#include "uring.h"

#define CRC_MAGIC "CFSCRC01"
#define CRC_HDR 32u
#define B CFS_BLOCK_SIZE

struct crc_hdr {
	char magic[8];
	uint64_t version;
	uint64_t reserved[2];
};

int store_open(struct store *st, const char *dir)
{
	char path[512];

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
	pthread_mutex_init(&st->lmutex, NULL);
	memset(st->locks, 0, sizeof(st->locks));
	return 0;
}

void store_close(struct store *st)
{
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

/* Open the data and CRC files; with create, make them (and the header). */
static int chunk_open(struct store *st, struct chunk_id c, bool create,
		      int *dfd, int *cfd)
{
	char path[512];
	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);

	*dfd = *cfd = -1;
	chunk_path(st, c, "", path, sizeof(path));
	*dfd = open(path, flags, 0600);
	if (*dfd < 0)
		return -errno;
	chunk_path(st, c, ".crc", path, sizeof(path));
	*cfd = open(path, flags, 0600);
	if (*cfd < 0) {
		int rc = -errno;

		close(*dfd);
		*dfd = -1;
		return rc;
	}
	return 0;
}

static void chunk_close(int dfd, int cfd)
{
	if (dfd >= 0)
		close(dfd);
	if (cfd >= 0)
		close(cfd);
}

static int read_version(int cfd, uint64_t *version)
{
	struct crc_hdr h;
	ssize_t n = osd_uring_pread(cfd, &h, sizeof(h), 0);

	if (n < 0)
		return (int)n;
	if (n == 0) {
		*version = 0;	/* new file */
		return 0;
	}
	if ((size_t)n < sizeof(h) || memcmp(h.magic, CRC_MAGIC, 8))
		return -EBADMSG;
	*version = h.version;
	return 0;
}

static void make_header(struct crc_hdr *h, uint64_t version)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, CRC_MAGIC, 8);
	h->version = version;
}

int store_version(struct store *st, struct chunk_id c, uint64_t *version)
{
	int dfd, cfd, rc = chunk_open(st, c, false, &dfd, &cfd);

	*version = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = read_version(cfd, version);
	chunk_close(dfd, cfd);
	return rc;
}

static int file_size(int fd, uint64_t *size)
{
	struct stat sb;

	if (fstat(fd, &sb))
		return -errno;
	*size = (uint64_t)sb.st_size;
	return 0;
}

/* Read block b (zero-padded past size) and check it against its CRC. */
static int read_block(int dfd, int cfd, uint64_t b, uint64_t size, void *buf)
{
	uint32_t crc = 0;
	ssize_t n;

	memset(buf, 0, B);
	if (b * B >= size)
		return 0;
	n = osd_uring_pread(dfd, buf, B, (off_t)(b * B));
	if (n < 0)
		return (int)n;
	n = osd_uring_pread(cfd, &crc, sizeof(crc), (off_t)(CRC_HDR + b * 4));
	if (n < 0)
		return (int)n;
	return cfs_crc_check_block(buf, crc);
}

/* Write CRCs of blocks [first, first+n) and the header, then (with
 * sync) make data and CRCs durable. */
static int commit(int dfd, int cfd, const void *data, uint64_t off,
		  uint64_t len, const uint32_t *crcs, uint64_t first, size_t n,
		  uint64_t version, bool sync)
{
	struct crc_hdr h;
	struct uring_io ios[5];
	int k = 0;

	make_header(&h, version);
	if (len)
		ios[k++] = (struct uring_io){ URING_WRITE, dfd, (void *)data,
					      len, (off_t)off, 0 };
	if (n)
		ios[k++] = (struct uring_io){ URING_WRITE, cfd, (void *)crcs,
					      n * 4, (off_t)(CRC_HDR + first * 4),
					      0 };
	ios[k++] = (struct uring_io){ URING_WRITE, cfd, &h, sizeof(h), 0, 0 };
	if (sync) {
		ios[k++] = (struct uring_io){ URING_FDATASYNC, dfd, NULL, 0,
					      0, 0 };
		ios[k++] = (struct uring_io){ URING_FDATASYNC, cfd, NULL, 0,
					      0, 0 };
	}
	return osd_uring_run(ios, k);
}

int store_write(struct store *st, struct chunk_id c, uint64_t off,
		const void *data, uint64_t len, const uint32_t *crcs,
		uint64_t version)
{
	struct store_pending p;
	int rc = store_write_begin(st, c, off, data, len, crcs, version, &p);

	return rc ? rc : store_sync_finish(&p);
}

void store_sync_start(struct store_pending *p)
{
	int fds[2] = { p->dfd, p->cfd };

	p->started = osd_uring_sync_start(fds, 2) == 0;
}

int store_sync_finish(struct store_pending *p)
{
	int rc;

	if (p->started) {
		rc = osd_uring_sync_wait(2);
	} else {
		struct uring_io ios[2] = {
			{ URING_FDATASYNC, p->dfd, NULL, 0, 0, 0 },
			{ URING_FDATASYNC, p->cfd, NULL, 0, 0, 0 },
		};

		rc = osd_uring_run(ios, 2);
	}
	chunk_close(p->dfd, p->cfd);
	p->dfd = p->cfd = -1;
	return rc;
}

int store_write_begin(struct store *st, struct chunk_id c, uint64_t off,
		      const void *data, uint64_t len, const uint32_t *crcs,
		      uint64_t version, struct store_pending *p)
{
	uint64_t first, last, size, end = off + len;
	uint32_t *newcrcs = NULL;
	char *block = NULL;
	int dfd, cfd, rc;
	size_t n;

	if (len == 0 || end > CFS_CHUNK_SIZE)
		return -EINVAL;
	rc = chunk_open(st, c, true, &dfd, &cfd);
	if (rc)
		return rc;
	rc = file_size(dfd, &size);
	if (rc)
		goto out;
	first = off / B;
	last = (end - 1) / B;
	n = (size_t)(last - first + 1);
	newcrcs = malloc(n * 4);
	block = malloc(B);
	if (!newcrcs || !block) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t bstart = (first + i) * B;
		uint64_t pstart = off > bstart ? off : bstart;
		uint64_t pend = end < bstart + B ? end : bstart + B;

		if (pstart == bstart && pend == bstart + B) {
			newcrcs[i] = crcs[i];
			continue;
		}
		/* a partial block: merge with what is stored */
		rc = read_block(dfd, cfd, first + i, size, block);
		if (rc) {
			cfs_log_error("stored block corrupt, cannot merge write",
				      "ino=%lu index=%lu block=%lu rc=%d",
				      (unsigned long)c.ino,
				      (unsigned long)c.index,
				      (unsigned long)(first + i), rc);
			rc = -EIO;
			goto out;
		}
		memcpy(block + (pstart - bstart),
		       (const char *)data + (pstart - off), pend - pstart);
		newcrcs[i] = cfs_crc32c(block, B);
	}
	rc = commit(dfd, cfd, data, off, len, newcrcs, first, n, version,
		    false);
out:
	free(newcrcs);
	free(block);
	if (rc) {
		chunk_close(dfd, cfd);
		return rc;
	}
	*p = (struct store_pending){ dfd, cfd, false };
	return 0;
}

int store_read(struct store *st, struct chunk_id c, uint64_t off,
	       uint64_t len, void **out, uint64_t *block_off,
	       uint32_t **crcs, size_t *nblocks, uint64_t *version,
	       uint64_t *size)
{
	uint64_t first, last, end;
	char *buf = NULL;
	uint32_t *cs = NULL;
	struct uring_io ios[2];
	int dfd, cfd, rc;
	size_t n;

	*out = NULL;
	*crcs = NULL;
	*nblocks = 0;
	*block_off = off / B * B;
	*version = *size = 0;
	rc = chunk_open(st, c, false, &dfd, &cfd);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = read_version(cfd, version);
	if (!rc)
		rc = file_size(dfd, size);
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
	ios[0] = (struct uring_io){ URING_READ, dfd, buf,
				    (size_t)(*size - first * B < n * B ?
						     *size - first * B : n * B),
				    (off_t)(first * B), 0 };
	ios[1] = (struct uring_io){ URING_READ, cfd, cs, n * 4,
				    (off_t)(CRC_HDR + first * 4), 0 };
	rc = osd_uring_run(ios, 2);
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (cfs_crc_check_block(buf + i * B, cs[i])) {
			cfs_log_error("crc mismatch on read",
				      "ino=%lu index=%lu block=%lu",
				      (unsigned long)c.ino,
				      (unsigned long)c.index,
				      (unsigned long)(first + i));
			rc = -EBADMSG;
			goto out;
		}
	}
	*out = buf;
	*crcs = cs;
	*nblocks = n;
	buf = NULL;
	cs = NULL;
out:
	free(buf);
	free(cs);
	chunk_close(dfd, cfd);
	return rc;
}

/* Recompute the CRC of block b from the data as it is now. */
static int rehash_block(int dfd, uint64_t b, uint64_t size, uint32_t *crc)
{
	char *buf = calloc(1, B);
	ssize_t n = 0;
	bool zero = true;

	if (!buf)
		return -ENOMEM;
	if (b * B < size)
		n = osd_uring_pread(dfd, buf, B, (off_t)(b * B));
	for (size_t i = 0; i < B && zero; i++)
		zero = buf[i] == 0;
	*crc = zero ? 0 : cfs_crc32c(buf, B);
	free(buf);
	return n < 0 ? (int)n : 0;
}

int store_truncate(struct store *st, struct chunk_id c, uint64_t size,
		   uint64_t version)
{
	uint64_t nblocks = (size + B - 1) / B;
	uint32_t crc;
	int dfd, cfd, rc;

	if (size > CFS_CHUNK_SIZE)
		return -EINVAL;
	rc = chunk_open(st, c, true, &dfd, &cfd);
	if (rc)
		return rc;
	if (ftruncate(dfd, (off_t)size) ||
	    ftruncate(cfd, (off_t)(CRC_HDR + nblocks * 4))) {
		rc = -errno;
		goto out;
	}
	if (size % B) {
		rc = rehash_block(dfd, size / B, size, &crc);
		if (!rc)
			rc = commit(dfd, cfd, NULL, 0, 0, &crc, size / B, 1,
				    version, true);
	} else {
		rc = commit(dfd, cfd, NULL, 0, 0, NULL, 0, 0, version, true);
	}
out:
	chunk_close(dfd, cfd);
	return rc;
}

int store_remove(struct store *st, struct chunk_id c)
{
	char path[512];
	int rc = 0;

	chunk_path(st, c, "", path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		rc = -errno;
	chunk_path(st, c, ".crc", path, sizeof(path));
	if (unlink(path) && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

int store_punch(struct store *st, struct chunk_id c, uint64_t off,
		uint64_t len, uint64_t version)
{
	uint64_t size, end, first, last;
	uint32_t *crcs = NULL;
	int dfd, cfd, rc;
	size_t n;

	rc = chunk_open(st, c, false, &dfd, &cfd);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = file_size(dfd, &size);
	if (rc || off >= size || len == 0)
		goto out;
	end = off + len < size ? off + len : size;
	if (fallocate(dfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)(end - off))) {
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
		rc = rehash_block(dfd, first + i, size, &crcs[i]);
	if (!rc)
		rc = commit(dfd, cfd, NULL, 0, 0, crcs, first, n, version,
			    true);
out:
	free(crcs);
	chunk_close(dfd, cfd);
	return rc;
}

int store_seek(struct store *st, struct chunk_id c, uint64_t off, bool hole,
	       bool *found, uint64_t *at)
{
	int dfd, cfd, rc = chunk_open(st, c, false, &dfd, &cfd);
	uint64_t size, end;
	off_t r;

	*found = hole;
	*at = off;
	if (rc == -ENOENT)
		return 0;	/* no chunk: all hole */
	if (rc)
		return rc;
	rc = file_size(dfd, &size);
	if (rc)
		goto out;
	/* in whole blocks, as a local file system answers: the last
	 * partial block is data up to its end */
	end = (size + B - 1) / B * B;
	r = lseek(dfd, (off_t)off, hole ? SEEK_HOLE : SEEK_DATA);
	if (r >= 0) {
		*found = true;
		*at = (uint64_t)r;
		if (hole && *at == size)
			*at = end;
	} else if (errno != ENXIO) {
		rc = -errno;
	} else if (!hole && off < end) {
		*found = true;
	}
out:
	chunk_close(dfd, cfd);
	return rc;
}

int store_put(struct store *st, struct chunk_id c, const void *data,
	      uint64_t size, const uint32_t *crcs, uint64_t version)
{
	char dpath[512], cpath[512], tdpath[512], tcpath[512];
	uint64_t nblocks = (size + B - 1) / B;
	struct crc_hdr h;
	struct uring_io ios[5];
	int dfd = -1, cfd = -1, rc = 0, k = 0;

	if (size > CFS_CHUNK_SIZE)
		return -EINVAL;
	chunk_path(st, c, "", dpath, sizeof(dpath));
	chunk_path(st, c, ".crc", cpath, sizeof(cpath));
	chunk_path(st, c, ".tmp", tdpath, sizeof(tdpath));
	chunk_path(st, c, ".crc.tmp", tcpath, sizeof(tcpath));
	dfd = open(tdpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cfd = open(tcpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (dfd < 0 || cfd < 0) {
		rc = -errno;
		goto out;
	}
	make_header(&h, version);
	if (size)
		ios[k++] = (struct uring_io){ URING_WRITE, dfd, (void *)data,
					      size, 0, 0 };
	ios[k++] = (struct uring_io){ URING_WRITE, cfd, &h, sizeof(h), 0, 0 };
	if (nblocks)
		ios[k++] = (struct uring_io){ URING_WRITE, cfd, (void *)crcs,
					      nblocks * 4, CRC_HDR, 0 };
	ios[k++] = (struct uring_io){ URING_FDATASYNC, dfd, NULL, 0, 0, 0 };
	ios[k++] = (struct uring_io){ URING_FDATASYNC, cfd, NULL, 0, 0, 0 };
	rc = osd_uring_run(ios, k);
	if (!rc && (rename(tdpath, dpath) || rename(tcpath, cpath)))
		rc = -errno;
out:
	chunk_close(dfd, cfd);
	if (rc) {
		unlink(tdpath);
		unlink(tcpath);
	}
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
