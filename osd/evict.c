/* Evicted chunks: the flash copy dropped, the bytes in the object store
 * (tierd/README.md, "Eviction").
 *
 * An evicted chunk keeps its file (header, version, the CRC32C of every
 * 4 KiB block, its size) with the data region deallocated, and a record
 * DATA/evicted/<ino>.<index> naming the pieces of the blobs its bytes lie
 * in. The record is made durable before a byte is dropped, and only
 * after this OSD checked its own bytes against every piece's CRC32C and
 * found nothing outside the pieces but zeros; so an evicted chunk's bytes
 * are always in the store.
 *
 * Anything that needs the bytes (a read under the chunk's lock, a
 * change, a truncate, a punch, a seek) first makes the chunk resident:
 * each piece is fetched with a ranged GET, checked against its CRC32C,
 * written back, and every block is checked against the CRC the chunk
 * kept; then the data is synced and the record removed. The chunk's
 * version never changes by eviction or return: replicas, healing and
 * readers see the same chunk. A read without the lock sees zeros whose
 * CRC does not match and is retried under the lock (store.c), which
 * makes the chunk resident. Without the store (unreachable, or no tier
 * configured) the operation fails with the store's error; nothing is
 * lost. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs/crc.h"
#include "cfs/log.h"
#include "cfs/map.h"
#include "store.h"
#include "uring.h"

#define EVICT_MAGIC "CFSEVC01"
#define B CFS_BLOCK_SIZE

struct evict_hdr {
	char magic[8];
	uint64_t version, size;
	uint32_t npieces, crc;	/* crc: of the pieces */
};

static void record_path(const struct store *st, struct chunk_id c, char *buf,
			size_t len)
{
	snprintf(buf, len, "%s/evicted/%016" PRIx64 ".%" PRIx64, st->dir,
		 c.ino, c.index);
}

bool store_evicted(struct store *st, struct chunk_id c)
{
	char path[512];
	record_path(st, c, path, sizeof(path));
	return access(path, F_OK) == 0;
}

static int sync_evicted_dir(struct store *st)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/evicted", st->dir);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

int store_evict_forget(struct store *st, struct chunk_id c)
{
	char path[512];
	record_path(st, c, path, sizeof(path));
	if (unlink(path))
		return errno == ENOENT ? 0 : -errno;
	return sync_evicted_dir(st);
}

static int read_record(struct store *st, struct chunk_id c,
		       struct evict_hdr *h, struct store_piece **pieces)
{
	char path[512];
	record_path(st, c, path, sizeof(path));
	*pieces = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = -EBADMSG;
	if (pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) ||
	    memcmp(h->magic, EVICT_MAGIC, 8) || h->npieces > CFS_CHUNK_SIZE / 4096)
		goto out;
	size_t len = h->npieces * sizeof(**pieces);
	*pieces = malloc(len ? len : 1);
	if (!*pieces) {
		rc = -ENOMEM;
		goto out;
	}
	if (pread(fd, *pieces, len, sizeof(*h)) != (ssize_t)len ||
	    cfs_crc32c(*pieces, len) != h->crc) {
		free(*pieces);
		*pieces = NULL;
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

static int cmp_piece(const void *a, const void *b)
{
	const struct store_piece *x = a, *y = b;
	return x->chunk_off < y->chunk_off ? -1 : x->chunk_off > y->chunk_off;
}

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int store_evict(struct store *st, struct chunk_id c,
		const struct store_piece *in, size_t n)
{
	if (!st->tier)
		return -EOPNOTSUPP;
	if (store_evicted(st, c))
		return 0;
	if (n > CFS_CHUNK_SIZE / 4096)
		return -EINVAL;
	struct store_piece *p = malloc((n ? n : 1) * sizeof(*p));
	void *data = NULL;
	uint32_t *crcs = NULL;
	uint64_t block_off, version, size;
	size_t nblocks;
	int rc = p ? 0 : -ENOMEM;
	if (rc)
		return rc;
	memcpy(p, in, n * sizeof(*p));
	qsort(p, n, sizeof(*p), cmp_piece);
	/* our own bytes, all of them, checked against their CRCs */
	rc = store_read(st, c, 0, CFS_CHUNK_SIZE, true, &data, &block_off,
			&crcs, &nblocks, &version, &size);
	if (rc)
		goto out;
	if (!version) {
		rc = -ENOENT;
		goto out;
	}
	/* every piece is our bytes, and between pieces there are zeros */
	uint64_t at = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (p[i].chunk_off < at || p[i].chunk_off + p[i].len > size ||
		    p[i].len == 0) {
			rc = -ESTALE;
			break;
		}
		if (!all_zero((char *)data + at, p[i].chunk_off - at) ||
		    cfs_crc32c((char *)data + p[i].chunk_off, p[i].len) != p[i].crc)
			rc = -ESTALE;	/* changed since it was tiered */
		at = p[i].chunk_off + p[i].len;
	}
	if (!rc && !all_zero((char *)data + at, size - at))
		rc = -ESTALE;
	if (rc)
		goto out;
	/* the record, durable, before any byte goes */
	char path[512], tmp[600];
	record_path(st, c, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	struct evict_hdr h = { .version = version, .size = size,
			       .npieces = (uint32_t)n,
			       .crc = cfs_crc32c(p, n * sizeof(*p)) };
	memcpy(h.magic, EVICT_MAGIC, 8);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    pwrite(fd, p, n * sizeof(*p), sizeof(h)) != (ssize_t)(n * sizeof(*p)) ||
	    fdatasync(fd))
		rc = errno ? -errno : -EIO;
	close(fd);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (!rc)
		rc = sync_evicted_dir(st);
	if (rc) {
		unlink(tmp);
		goto out;
	}
	/* then the bytes: the file keeps its size, header and CRCs */
	fd = store_chunk_fd(st, c);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if (size && (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       STORE_DATA_OFF, (off_t)((size + B - 1) / B * B)) ||
		     fdatasync(fd)))
		rc = -errno;
	close(fd);
out:
	free(p);
	free(data);
	free(crcs);
	return rc;
}

/* Fetching an evicted chunk's pieces: FETCHERS threads side by side,
 * each taking the next piece, GETting it, checking its CRC32C and
 * writing it in place; the first error stops them. */
#define FETCHERS 8

struct fetch {
	struct store *st;
	struct chunk_id c;
	const struct store_piece *p;
	uint32_t n;
	uint64_t size;
	int fd;
	_Atomic uint32_t next;
	_Atomic int rc;
};

static void *fetcher(void *arg)
{
	struct fetch *f = arg;
	char *buf = malloc(1u << 20);
	if (!buf) {
		f->rc = -ENOMEM;
		return NULL;
	}
	for (uint32_t i; !f->rc && (i = f->next++) < f->n;) {
		const struct store_piece *p = &f->p[i];
		char key[64];
		if (p->len > (1u << 20) || p->chunk_off + p->len > f->size) {
			f->rc = -EIO;
			break;
		}
		snprintf(key, sizeof(key), "blobs/%016" PRIx64, p->blob);
		ssize_t got = cfs_objstore_get(f->st->tier, key, p->blob_off, buf,
					       p->len);
		if (got >= 0 && ((size_t)got != p->len ||
				 cfs_crc32c(buf, p->len) != p->crc)) {
			cfs_log_error("a piece from the object store failed its "
				      "check", "ino=%lu index=%lu blob=%s off=%lu",
				      (unsigned long)f->c.ino,
				      (unsigned long)f->c.index, key,
				      (unsigned long)p->blob_off);
			got = -EIO;
		}
		if (got < 0)
			f->rc = (int)got;
		else if (pwrite(f->fd, buf, p->len,
				(off_t)(STORE_DATA_OFF + p->chunk_off)) !=
			 (ssize_t)p->len)
			f->rc = -EIO;
	}
	free(buf);
	return NULL;
}

/* set while store_resident reads back what it wrote (its own read must
 * not try to make the chunk resident again) */
static __thread bool filling;

int store_resident(struct store *st, struct chunk_id c)
{
	struct evict_hdr h;
	struct store_piece *p = NULL;
	if (filling)
		return 0;
	int rc = read_record(st, c, &h, &p);
	if (rc == -ENOENT)
		return 0;
	if (rc) {
		cfs_log_error("evicted chunk's record unreadable", "ino=%lu "
			      "index=%lu rc=%d", (unsigned long)c.ino,
			      (unsigned long)c.index, rc);
		return -EIO;
	}
	uint64_t now;
	rc = store_version(st, c, &now);
	if (rc || now != h.version) {	/* replaced whole since */
		free(p);
		return rc ? rc : store_evict_forget(st, c);
	}
	if (!st->tier) {
		free(p);
		cfs_log_error("an evicted chunk is needed and no tier store is "
			      "configured (--tier)", "ino=%lu index=%lu",
			      (unsigned long)c.ino, (unsigned long)c.index);
		return -EIO;
	}
	int fd = store_chunk_fd(st, c);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	struct fetch f = { .st = st, .c = c, .p = p, .n = h.npieces,
			   .size = h.size, .fd = fd };
	pthread_t th[FETCHERS];
	int nth = 0;
	while (nth < FETCHERS && (uint32_t)nth < h.npieces &&
	       !pthread_create(&th[nth], NULL, fetcher, &f))
		nth++;
	if (!nth)
		fetcher(&f);	/* (no thread to be had: this one) */
	for (int k = 0; k < nth; k++)
		pthread_join(th[k], NULL);
	rc = f.rc;
	if (!rc && fdatasync(fd))
		rc = -errno;
	close(fd);
	fd = -1;
	if (!rc) {	/* every block as its CRC says, then the record goes */
		void *data;
		uint32_t *crcs;
		uint64_t bo, v, size;
		size_t nb;
		filling = true;
		rc = store_read(st, c, 0, CFS_CHUNK_SIZE, true, &data, &bo, &crcs,
				&nb, &v, &size);
		filling = false;
		if (!rc) {
			free(data);
			free(crcs);
			rc = v == h.version ? store_evict_forget(st, c) : -EIO;
		}
	}
	if (rc)
		cfs_log_warn("cannot bring an evicted chunk back", "ino=%lu "
			     "index=%lu rc=%d", (unsigned long)c.ino,
			     (unsigned long)c.index, rc);
out:
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}
