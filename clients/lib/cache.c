/* The client data cache: files this client read, kept on its local disk
 * (`cache_dir`, bounded by `cache_bytes`), so that reading them again
 * costs no round trip to an OSD, and (cfs-fuse) a whole, current copy can
 * be handed to the kernel to read straight from (FUSE passthrough).
 *
 * A cached file is two files in the cache directory: INO.data, its bytes
 * at their offsets, and INO.meta, what they are: the file's size, mtime
 * and ctime when they were read (its version), and per block of
 * CACHE_BLOCK bytes whether it is there and its CRC32C. An entry is
 * *current* from an open whose attributes match its version until a
 * change is seen: another client's (the change feed, or the next open's
 * attributes), or one of this client's (a write, a size change, a punch:
 * the entry goes, or, while the kernel reads it, its bytes follow the
 * change and it goes at the last close). Only a current entry answers a
 * read. Every block read from it is checked against its CRC; a bad
 * block is forgotten and read from the OSDs again, never returned. A
 * copy handed to the kernel is checked whole first, once per mount and
 * again whenever the data file changed behind our back (its ctime).
 *
 * Files of up to READ_ALONG_MAX are not kept: their bytes come with the
 * open anyway. Reads fill it: the OSDs' bytes of each whole block read, as long as no
 * change came between the read and the fill (the entry's generation).
 * Metas are written when an entry is complete, when the last open of a
 * file closes and at unmount; a remount loads them (every copy then
 * unchecked). Past cache_bytes, the least recently used entries go. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs/crc.h"
#include "cfs/log.h"
#include "client_priv.h"

#define CACHE_BLOCK (64u << 10)
#define CACHE_BUCKETS 4096
#define CACHE_ENTRIES_MAX 262144	/* files known at once, empty or not */
#define META_MAGIC 0x43465343u	/* "CSFC" */
#define META_VERSION 1

struct centry {
	uint64_t ino, size;	/* the version its bytes are of */
	int64_t mtime_ns, ctime_ns;
	uint32_t nblocks, have;	/* blocks in all, and present */
	uint8_t *bits;		/* present, a bit per block */
	uint32_t *crc;		/* each block's CRC32C */
	uint64_t gen;		/* moved by every change: fills of reads
				 * begun before it are refused */
	bool current;		/* an open matched its version, no change
				 * since */
	bool checked;		/* the data file was checked whole at ctime */
	struct timespec own_mtime;	/* the copy's mtime after our last
					 * change of it, while handed out */
	bool ours;		/* every block written by this mount */
	struct timespec checked_ctime;
	bool meta_dirty;
	bool doomed;		/* goes once no one holds it */
	int pins;		/* copies handed to the kernel */
	int busy;		/* reads and fills working outside the lock */
	struct centry *next;	/* hash chain */
	struct centry *newer, *older;	/* LRU list */
};

struct cache {
	pthread_mutex_t lock;
	int dirfd, lockfd;
	uint64_t cap, used;	/* bytes: the bound, and present blocks' */
	size_t entries;		/* in the table */
	struct centry *tab[CACHE_BUCKETS];
	struct centry *newest, *oldest;
	struct cfs_cache_stats st;
};

/* On-disk meta: this header, the presence bits, the CRCs, and a CRC32C
 * of all that comes before it. */
struct meta_head {
	uint32_t magic, version;
	uint64_t ino, size;
	int64_t mtime_ns, ctime_ns;
	uint32_t nblocks, block;
};

static size_t bits_len(uint32_t n) { return (n + 7) / 8; }
static bool has(const struct centry *e, uint32_t b)
{
	return e->bits[b / 8] & (1u << (b % 8));
}

/* Bytes of block b of a file of size bytes (the last may be short). */
static size_t block_len(uint64_t size, uint64_t b)
{
	uint64_t bo = b * CACHE_BLOCK;

	return size - bo < CACHE_BLOCK ? (size_t)(size - bo) : CACHE_BLOCK;
}

/* A block failed its CRC: counted, forgotten, to be read from the OSDs
 * again (and the copy checked whole before it is handed out). Lock
 * held. */
static void forget_bad_block(struct cache *c, struct centry *e, uint64_t b)
{
	cfs_log_warn("client cache: a block fails its CRC, read from the OSDs "
		     "instead", "ino=%lu block=%lu", (unsigned long)e->ino,
		     (unsigned long)b);
	c->st.corrupt++;
	e->bits[b / 8] &= (uint8_t)~(1u << (b % 8));
	e->have--;
	e->ours = false;
	e->checked = false;
	e->meta_dirty = true;
	c->used -= CACHE_BLOCK;
}

static struct centry **slot(struct cache *c, uint64_t ino)
{
	struct centry **p = &c->tab[cfs_hash64(ino) % CACHE_BUCKETS];

	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

static void lru_unlink(struct cache *c, struct centry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_touch(struct cache *c, struct centry *e)
{
	if (c->newest == e)
		return;
	if (e->newer || e->older || c->oldest == e)
		lru_unlink(c, e);
	e->older = c->newest;
	if (c->newest)
		c->newest->newer = e;
	c->newest = e;
	if (!c->oldest)
		c->oldest = e;
}

static void file_name(char *buf, size_t len, uint64_t ino, const char *ext)
{
	snprintf(buf, len, "%016" PRIx64 ".%s", ino, ext);
}

static struct centry *entry_new(uint64_t ino, uint64_t size, int64_t mtime,
				int64_t ctime)
{
	struct centry *e = calloc(1, sizeof(*e));
	uint32_t n = (uint32_t)((size + CACHE_BLOCK - 1) / CACHE_BLOCK);

	if (!e)
		return NULL;
	e->ino = ino;
	e->size = size;
	e->mtime_ns = mtime;
	e->ctime_ns = ctime;
	e->nblocks = n;
	e->ours = true;
	e->bits = calloc(1, bits_len(n) + 1);
	e->crc = calloc(n + 1, sizeof(*e->crc));
	if (!e->bits || !e->crc) {
		free(e->bits);
		free(e->crc);
		free(e);
		return NULL;
	}
	return e;
}

/* Unlink its files and free it; the caller took it out of the table. */
static void entry_free(struct cache *c, struct centry *e, bool files)
{
	char name[64];

	if (files) {
		file_name(name, sizeof(name), e->ino, "data");
		unlinkat(c->dirfd, name, 0);
		file_name(name, sizeof(name), e->ino, "meta");
		unlinkat(c->dirfd, name, 0);
	}
	c->used -= (uint64_t)e->have * CACHE_BLOCK;
	lru_unlink(c, e);
	free(e->bits);
	free(e->crc);
	free(e);
}

/* Drop it now, or once no one holds it. Lock held. */
static void drop(struct cache *c, struct centry *e)
{
	struct centry **p;

	e->current = false;
	e->gen++;
	if (e->pins || e->busy) {
		e->doomed = true;
		return;
	}
	p = slot(c, e->ino);
	if (*p == e) {
		*p = e->next;
		c->entries--;
	}
	entry_free(c, e, true);
}

/* After a pin or busy ends. Lock held. */
static void settle(struct cache *c, struct centry *e)
{
	if (e->doomed && !e->pins && !e->busy)
		drop(c, e);
}

/* A descriptor of INO.data, the caller's to close: none is kept open (a
 * cache holds more files than a process may). To write: made if
 * missing; else read-only (reads, and the copy handed to the kernel). */
static int data_open(struct cache *c, uint64_t ino, bool write)
{
	char name[64];

	file_name(name, sizeof(name), ino, "data");
	return write ? openat(c->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC,
			      0600) :
		       openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
}

static void meta_write(struct cache *c, struct centry *e)
{
	struct meta_head h = { META_MAGIC, META_VERSION, e->ino, e->size,
			       e->mtime_ns, e->ctime_ns, e->nblocks,
			       CACHE_BLOCK };
	size_t bl = bits_len(e->nblocks), cl = (size_t)e->nblocks * 4;
	size_t len = sizeof(h) + bl + cl + 4;
	uint8_t *buf = malloc(len);
	char name[64], tmp[64];
	uint32_t crc;
	int fd;

	if (!buf)
		return;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), e->bits, bl);
	memcpy(buf + sizeof(h) + bl, e->crc, cl);
	crc = cfs_crc32c(buf, len - 4);
	memcpy(buf + len - 4, &crc, 4);
	file_name(name, sizeof(name), e->ino, "meta");
	file_name(tmp, sizeof(tmp), e->ino, "meta.tmp");
	fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd >= 0) {
		bool ok = write(fd, buf, len) == (ssize_t)len;

		close(fd);
		if (ok && renameat(c->dirfd, tmp, c->dirfd, name) == 0)
			e->meta_dirty = false;
		else
			unlinkat(c->dirfd, tmp, 0);
	}
	free(buf);
}

/* A meta from an earlier mount, or NULL if it is not one of ours. */
static struct centry *meta_load(struct cache *c, const char *name)
{
	struct meta_head h;
	struct centry *e = NULL;
	struct stat st;
	uint8_t *buf = NULL;
	uint32_t crc;
	size_t bl, len;
	int fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || (size_t)st.st_size < sizeof(h) + 4 ||
	    pread(fd, &h, sizeof(h), 0) != sizeof(h) ||
	    h.magic != META_MAGIC || h.version != META_VERSION ||
	    h.block != CACHE_BLOCK ||
	    h.nblocks != (h.size + CACHE_BLOCK - 1) / CACHE_BLOCK)
		goto out;
	bl = bits_len(h.nblocks);
	len = sizeof(h) + bl + (size_t)h.nblocks * 4 + 4;
	if ((size_t)st.st_size != len || !(buf = malloc(len)) ||
	    pread(fd, buf, len, 0) != (ssize_t)len)
		goto out;
	memcpy(&crc, buf + len - 4, 4);
	if (crc != cfs_crc32c(buf, len - 4))
		goto out;
	e = entry_new(h.ino, h.size, h.mtime_ns, h.ctime_ns);
	if (!e)
		goto out;
	e->ours = false;	/* checked before it is handed out */
	memcpy(e->bits, buf + sizeof(h), bl);
	memcpy(e->crc, buf + sizeof(h) + bl, (size_t)h.nblocks * 4);
	for (uint32_t b = 0; b < e->nblocks; b++)
		e->have += has(e, b);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return e;
}

/* Load what an earlier mount left; anything else in the directory that
 * looks like ours (a data file without its meta, a torn meta) goes. */
static void cache_load(struct cache *c)
{
	int fd = dup(c->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		const char *dot = strchr(de->d_name, '.');
		struct centry *e;
		char meta[64];
		uint64_t ino;

		if (!dot || dot - de->d_name != 16 ||
		    sscanf(de->d_name, "%16" SCNx64, &ino) != 1)
			continue;
		if (!strcmp(dot, ".data")) {
			file_name(meta, sizeof(meta), ino, "meta");
			if (faccessat(c->dirfd, meta, F_OK, 0))
				unlinkat(c->dirfd, de->d_name, 0);
			continue;
		}
		if (strcmp(dot, ".meta"))
			continue;
		e = meta_load(c, de->d_name);
		if (!e || e->ino != ino || *slot(c, ino)) {
			if (e)
				entry_free(c, e, false);
			unlinkat(c->dirfd, de->d_name, 0);
			file_name(meta, sizeof(meta), ino, "data");
			unlinkat(c->dirfd, meta, 0);
			continue;
		}
		*slot(c, ino) = e;
		c->entries++;
		c->used += (uint64_t)e->have * CACHE_BLOCK;
		lru_touch(c, e);
	}
	closedir(d);
}

/* Room for bytes more, and no more than CACHE_ENTRIES_MAX entries, from
 * the least recently used but keep. */
static bool make_room(struct cache *c, uint64_t bytes, struct centry *keep)
{
	struct centry *e = c->oldest;

	while ((c->used + bytes > c->cap || c->entries > CACHE_ENTRIES_MAX) &&
	       e) {
		struct centry *next = e->newer;

		if (e != keep && !e->pins && !e->busy) {
			c->st.evicted++;
			drop(c, e);
		}
		e = next;
	}
	return c->used + bytes <= c->cap;
}

int client_cache_open(struct cfs_client *cl, const char *dir, uint64_t bytes)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	c->lockfd = c->dirfd >= 0 ? openat(c->dirfd, "lock",
					   O_RDWR | O_CREAT | O_CLOEXEC, 0600) :
				    -1;
	if (c->lockfd < 0 || flock(c->lockfd, LOCK_EX | LOCK_NB)) {
		int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;

		if (c->lockfd >= 0)
			close(c->lockfd);
		if (c->dirfd >= 0)
			close(c->dirfd);
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->cap = bytes;
	cache_load(c);
	make_room(c, 0, NULL);
	cl->cache = c;
	return 0;
}

void client_cache_close(struct cfs_client *cl)
{
	struct cache *c = cl->cache;

	if (!c)
		return;
	for (int i = 0; i < CACHE_BUCKETS; i++) {
		while (c->tab[i]) {
			struct centry *e = c->tab[i];

			c->tab[i] = e->next;
			if (e->meta_dirty && !e->doomed)
				meta_write(c, e);
			entry_free(c, e, e->doomed);
		}
	}
	close(c->lockfd);
	close(c->dirfd);
	pthread_mutex_destroy(&c->lock);
	free(c);
	cl->cache = NULL;
}

void client_cache_opened(struct cfs_client *cl, const struct cfs_attr *a)
{
	struct cache *c = cl->cache;
	struct centry **p, *e;

	if (!c || !S_ISREG(a->mode))
		return;
	pthread_mutex_lock(&c->lock);
	p = slot(c, a->ino);
	e = *p;
	if (e && !e->doomed && e->size == a->size &&
	    e->mtime_ns == a->mtime_ns && e->ctime_ns == a->ctime_ns) {
		e->current = true;
	} else if (e && (e->pins || e->busy)) {
		drop(c, e);	/* held: the new version waits for it */
		e = NULL;
	} else {
		if (e) {
			*p = e->next;	/* a new version takes its place */
			c->entries--;
			entry_free(c, e, true);
		}
		e = NULL;
		/* a small file comes with its open: a copy would cost two
		 * files here and save no round trip */
		if (a->size > READ_ALONG_MAX && a->size <= c->cap / 2)
			e = entry_new(a->ino, a->size, a->mtime_ns,
				      a->ctime_ns);
		if (e) {
			e->current = true;
			e->next = *slot(c, a->ino);
			*slot(c, a->ino) = e;
			c->entries++;
			lru_touch(c, e);
			make_room(c, 0, e);
		}
	}
	if (e)
		lru_touch(c, e);
	pthread_mutex_unlock(&c->lock);
}

size_t client_cache_read(struct cfs_client *cl, uint64_t ino, uint64_t off,
			 void *buf, size_t len, uint64_t *gen)
{
	struct cache *c = cl->cache;
	struct centry *e;
	uint64_t first, last, span_off;
	uint32_t *want = NULL, bad = 0;
	size_t span;
	uint8_t *tmp = NULL, *wrong = NULL;
	bool whole = true;
	int fd;

	*gen = UINT64_MAX;
	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	e = *slot(c, ino);
	if (e && e->current)
		*gen = e->gen;
	if (!e || !e->current || !len || off + len > e->size) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	first = off / CACHE_BLOCK;
	last = (off + len - 1) / CACHE_BLOCK;
	for (uint64_t b = first; b <= last && whole; b++)
		whole = has(e, (uint32_t)b);
	span_off = first * CACHE_BLOCK;
	span = (size_t)((last + 1) * CACHE_BLOCK - span_off);
	if (span_off + span > e->size)
		span = (size_t)(e->size - span_off);
	if (whole) {
		want = malloc((size_t)(last - first + 1) * sizeof(*want));
		whole = want != NULL;
	}
	if (!whole) {
		c->st.misses++;
		pthread_mutex_unlock(&c->lock);
		free(want);
		return 0;
	}
	memcpy(want, e->crc + first, (size_t)(last - first + 1) * sizeof(*want));
	e->busy++;
	lru_touch(c, e);
	pthread_mutex_unlock(&c->lock);

	/* read and checked with the lock let go (the entry held busy) */
	fd = data_open(c, ino, false);
	tmp = malloc(span);
	wrong = calloc(1, (size_t)(last - first) / 8 + 1);
	whole = tmp && wrong && fd >= 0 &&
		pread(fd, tmp, span, (off_t)span_off) == (ssize_t)span;
	if (fd >= 0)
		close(fd);
	for (uint64_t k = 0; whole && k <= last - first; k++) {
		size_t at = (size_t)k * CACHE_BLOCK;
		size_t n = span - at < CACHE_BLOCK ? span - at : CACHE_BLOCK;

		if (cfs_crc32c(tmp + at, n) != want[k]) {
			wrong[k / 8] |= (uint8_t)(1u << (k % 8));
			bad++;
		}
	}
	if (whole && !bad)
		memcpy(buf, tmp + (off - span_off), len);

	pthread_mutex_lock(&c->lock);
	for (uint64_t b = first; bad && b <= last && e->gen == *gen; b++) {
		uint64_t k = b - first;

		if (!(wrong[k / 8] & (1u << (k % 8))) || !has(e, (uint32_t)b))
			continue;
		forget_bad_block(c, e, b);
	}
	/* changed meanwhile: the OSDs answer */
	whole = whole && !bad && e->gen == *gen;
	if (whole) {
		c->st.hits++;
		c->st.hit_bytes += len;
	} else {
		c->st.misses++;
	}
	e->busy--;
	settle(c, e);
	pthread_mutex_unlock(&c->lock);
	free(tmp);
	free(want);
	free(wrong);
	return whole ? len : 0;
}

void client_cache_fill(struct cfs_client *cl, uint64_t ino, uint64_t gen,
		       uint64_t off, const void *buf, size_t len)
{
	struct cache *c = cl->cache;
	const uint8_t *p = buf;
	struct centry *e;
	uint64_t first, last, b, end = off + len, size, reserved;
	uint32_t *crc = NULL;
	uint8_t *mine = NULL;	/* the blocks this fill writes */
	int fd = -1;

	if (!c || gen == UINT64_MAX || !len)
		return;
	pthread_mutex_lock(&c->lock);
	e = *slot(c, ino);
	if (!e || !e->current || e->gen != gen)
		goto out;
	size = e->size;
	if (end > size)
		end = size;
	/* whole blocks only (the last one ends at the size) */
	first = (off + CACHE_BLOCK - 1) / CACHE_BLOCK;
	last = end == size ? e->nblocks : end / CACHE_BLOCK;
	if (first >= last)
		goto out;
	mine = calloc(1, bits_len((uint32_t)(last - first)) + 1);
	crc = calloc(last - first, sizeof(*crc));
	if (!mine || !crc)
		goto out;
	reserved = 0;
	for (b = first; b < last; b++)
		if (!has(e, (uint32_t)b)) {
			mine[(b - first) / 8] |= (uint8_t)(1u << ((b - first) % 8));
			reserved += CACHE_BLOCK;
		}
	if (!reserved || !make_room(c, reserved, e))
		goto out;
	c->used += reserved;	/* held while the writes run unlocked */
	e->busy++;
	pthread_mutex_unlock(&c->lock);
	fd = data_open(c, ino, true);
	if (fd < 0)
		memset(mine, 0, bits_len((uint32_t)(last - first)));

	for (b = first; b < last; b++) {
		uint64_t bo = b * CACHE_BLOCK;
		size_t n = block_len(size, b);
		uint64_t k = b - first;

		if (!(mine[k / 8] & (1u << (k % 8))))
			continue;
		if (pwrite(fd, p + (bo - off), n, (off_t)bo) == (ssize_t)n)
			crc[k] = cfs_crc32c(p + (bo - off), n);
		else
			mine[k / 8] &= (uint8_t)~(1u << (k % 8));
	}

	pthread_mutex_lock(&c->lock);
	c->used -= reserved;
	for (b = first; e->gen == gen && !e->doomed && b < last; b++) {
		uint64_t k = b - first;

		if (!(mine[k / 8] & (1u << (k % 8))) || has(e, (uint32_t)b))
			continue;
		e->crc[b] = crc[k];
		e->bits[b / 8] |= (uint8_t)(1u << (b % 8));
		e->have++;
		e->meta_dirty = true;
		c->used += CACHE_BLOCK;
		c->st.fill_bytes += block_len(size, b);
	}
	e->busy--;
	if (!e->doomed && e->have == e->nblocks && e->meta_dirty &&
	    fd >= 0 && ftruncate(fd, (off_t)e->size) == 0)
		meta_write(c, e);
	/* written whole by us, from the bytes the CRCs were taken of: as
	 * good as checked, until the file changes behind our back */
	if ((e->checked || (e->ours && e->have == e->nblocks)) && fd >= 0) {
		struct stat st;

		e->checked = fstat(fd, &st) == 0;
		e->checked_ctime = st.st_ctim;
	}
	settle(c, e);
out:
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		close(fd);
	free(mine);
	free(crc);
}

/* A copy the kernel reads, after we changed bytes [from, to) of it: its
 * size, and the CRCs of those blocks taken again from what it holds, so
 * that cfs_cache_push can tell what a mapping wrote; its mtime noted as
 * ours. Lock held. */
static void copy_changed(struct cache *c, struct centry *e, int fd,
			 uint64_t from, uint64_t to)
{
	uint8_t *tmp = malloc(CACHE_BLOCK);
	struct stat st;
	uint32_t n;

	if (!tmp || fstat(fd, &st)) {
		free(tmp);
		return;
	}
	n = (uint32_t)(((uint64_t)st.st_size + CACHE_BLOCK - 1) / CACHE_BLOCK);
	if (n > e->nblocks) {
		uint8_t *bits = realloc(e->bits, bits_len(n) + 1);
		uint32_t *crc = bits ? realloc(e->crc, (n + 1) * sizeof(*crc)) :
				       NULL;

		if (bits)
			e->bits = bits;
		if (crc)
			e->crc = crc;
		if (!bits || !crc) {
			free(tmp);
			return;
		}
		memset(e->crc + e->nblocks, 0, (n - e->nblocks) * sizeof(*crc));
	}
	c->used -= (uint64_t)e->have * CACHE_BLOCK;
	e->nblocks = e->have = n;	/* a copy handed out is whole */
	memset(e->bits, 0xff, bits_len(n));
	c->used += (uint64_t)n * CACHE_BLOCK;
	e->size = (uint64_t)st.st_size;
	for (uint64_t b = from / CACHE_BLOCK; b < n && b * CACHE_BLOCK < to;
	     b++) {
		uint64_t bo = b * CACHE_BLOCK;
		size_t len = block_len(e->size, b);

		if (pread(fd, tmp, len, (off_t)bo) == (ssize_t)len)
			e->crc[b] = cfs_crc32c(tmp, len);
	}
	free(tmp);
	if (fstat(fd, &st) == 0)
		e->own_mtime = st.st_mtim;
}

void client_cache_changed(struct cfs_client *cl, uint64_t ino,
			  enum cache_change what, uint64_t off,
			  const void *buf, uint64_t len)
{
	struct cache *c = cl->cache;
	struct centry *e;
	int fd, rc = 0;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	e = *slot(c, ino);
	if (!e) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (e->pins && what != CACHE_OTHERS &&
	    (fd = data_open(c, ino, true)) >= 0) {
		/* the kernel reads this file for open files of ours: it
		 * follows our changes (the entry goes at the last close) */
		if (what == CACHE_WRITE)
			rc = pwrite(fd, buf, len, (off_t)off) == (ssize_t)len ?
				     0 : -1;
		else if (what == CACHE_SIZE)
			rc = ftruncate(fd, (off_t)off);
		else if (what == CACHE_PUNCH)
			rc = fallocate(fd, FALLOC_FL_PUNCH_HOLE |
					       FALLOC_FL_KEEP_SIZE,
				       (off_t)off, (off_t)len);
		if (rc)
			cfs_log_warn("client cache: cannot follow a change in "
				     "a file the kernel reads",
				     "ino=%lu errno=%d", (unsigned long)ino,
				     errno);
		else if (what == CACHE_SIZE)
			copy_changed(c, e, fd, off / CACHE_BLOCK * CACHE_BLOCK,
				     off);
		else
			copy_changed(c, e, fd, off, off + len);
		close(fd);
	}
	if (e->pins && what == CACHE_OTHERS) {
		/* stays for cfs_cache_refresh to bring up to date */
		e->current = false;
		e->gen++;
	} else {
		drop(c, e);
	}
	pthread_mutex_unlock(&c->lock);
}

int client_cache_closed(struct cfs_client *cl, uint64_t ino)
{
	struct cache *c = cl->cache;
	struct centry *e;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	e = *slot(c, ino);
	if (e && e->meta_dirty && !e->doomed)
		meta_write(c, e);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Check the whole data file against its CRCs and forget bad blocks:
 * true if all are good. Lock held; it is let go while reading (the
 * entry held busy), so a doomed entry is the caller's to settle. */
static bool check_whole(struct cache *c, struct centry *e, int fd)
{
	uint32_t n = e->nblocks, bad = 0;
	uint64_t size = e->size, gen = e->gen;
	uint32_t *want = malloc((size_t)n * sizeof(*want) + 1);
	uint8_t *tmp = malloc(CACHE_BLOCK), *wrong = calloc(1, bits_len(n) + 1);
	bool good = want && tmp && wrong;
	struct stat st;

	if (good)
		memcpy(want, e->crc, (size_t)n * sizeof(*want));
	e->busy++;
	pthread_mutex_unlock(&c->lock);
	for (uint32_t b = 0; good && b < n; b++) {
		uint64_t bo = (uint64_t)b * CACHE_BLOCK;
		size_t len = block_len(size, b);

		if (pread(fd, tmp, len, (off_t)bo) != (ssize_t)len ||
		    cfs_crc32c(tmp, len) != want[b]) {
			wrong[b / 8] |= (uint8_t)(1u << (b % 8));
			bad++;
		}
	}
	good = good && fstat(fd, &st) == 0;
	pthread_mutex_lock(&c->lock);
	e->busy--;
	if (good && e->gen == gen) {
		for (uint32_t b = 0; bad && b < n; b++) {
			if (!(wrong[b / 8] & (1u << (b % 8))) || !has(e, b))
				continue;
			forget_bad_block(c, e, b);
		}
		e->checked = !bad && st.st_size == (off_t)size;
		e->checked_ctime = st.st_ctim;
	}
	free(want);
	free(tmp);
	free(wrong);
	return good && e->gen == gen && e->checked;
}

/* Read the blocks a check found bad again from the OSDs (cfs_read fills
 * them in): false if it cannot. */
static bool repair(struct cfs_client *cl, uint64_t ino, const uint8_t *bad,
		   uint32_t nblocks, uint64_t size)
{
	uint8_t *tmp = malloc(CACHE_BLOCK);
	bool good = tmp != NULL;

	for (uint32_t b = 0; good && b < nblocks; b++) {
		uint64_t bo = (uint64_t)b * CACHE_BLOCK;
		size_t n = block_len(size, b);

		if (bad[b / 8] & (1u << (b % 8)))
			good = cfs_read(cl, ino, bo, tmp, n) == (ssize_t)n;
	}
	free(tmp);
	return good;
}

int cfs_cache_backing(struct cfs_client *cl, uint64_t ino)
{
	struct cache *c = cl->cache;
	struct centry *e;
	struct stat st;
	uint8_t *bad = NULL;
	int fd = -1, rc = -ENOENT;

	if (!c)
		return -ENOENT;
	pthread_mutex_lock(&c->lock);
	for (int attempt = 0;; attempt++) {
		uint32_t nblocks;
		uint64_t size;

		e = *slot(c, ino);
		if (!e || !e->current ||
		    (fd < 0 && (fd = data_open(c, ino, false)) < 0))
			goto out;
		if (e->checked &&
		    (fstat(fd, &st) ||
		     st.st_ctim.tv_sec != e->checked_ctime.tv_sec ||
		     st.st_ctim.tv_nsec != e->checked_ctime.tv_nsec))
			e->checked = false;	/* changed behind our back */
		if (e->have == e->nblocks && !e->checked &&
		    !check_whole(c, e, fd) && e->doomed) {
			settle(c, e);
			goto out;
		}
		if (e->have == e->nblocks && e->checked && e->current)
			break;
		if (attempt || e->have + 8 < e->nblocks)
			goto out;	/* never whole, or more than a repair */
		/* what a check found bad (or the few blocks missing) is read
		 * again from the OSDs, then checked once more */
		nblocks = e->nblocks;
		size = e->size;
		free(bad);
		bad = calloc(1, bits_len(nblocks) + 1);
		if (!bad)
			goto out;
		for (uint32_t b = 0; b < nblocks; b++)
			if (!has(e, b))
				bad[b / 8] |= (uint8_t)(1u << (b % 8));
		pthread_mutex_unlock(&c->lock);
		if (!repair(cl, ino, bad, nblocks, size)) {
			pthread_mutex_lock(&c->lock);
			goto out;
		}
		pthread_mutex_lock(&c->lock);
	}
	if (!e->pins && fstat(fd, &st) == 0)
		e->own_mtime = st.st_mtim;
	rc = fd;
	fd = -1;
	e->pins++;
	lru_touch(c, e);
	c->st.backing_opens++;
	c->st.backing_bytes += e->size;
out:
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		close(fd);
	free(bad);
	return rc;
}

int cfs_cache_refresh(struct cfs_client *cl, const struct cfs_attr *a,
		      bool at_open)
{
	struct stat st;
	struct cache *c = cl->cache;
	uint32_t n = (uint32_t)((a->size + CACHE_BLOCK - 1) / CACHE_BLOCK);
	uint32_t *crc = calloc(n + 1, sizeof(*crc));
	uint8_t *bits = calloc(1, bits_len(n) + 1);
	uint8_t *buf = malloc(1u << 20);
	struct centry *e;
	uint64_t gen, off = 0;
	int fd = -1, rc = 0;

	if (!c || !crc || !bits || !buf) {
		rc = c ? -ENOMEM : 0;
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	e = *slot(c, a->ino);
	if (!e || !e->pins || e->doomed ||
	    (e->current && e->size == a->size && e->mtime_ns == a->mtime_ns &&
	     e->ctime_ns == a->ctime_ns) || (fd = data_open(c, a->ino, true)) < 0) {
		pthread_mutex_unlock(&c->lock);
		goto out;
	}
	e->current = false;
	gen = ++e->gen;
	e->busy++;
	pthread_mutex_unlock(&c->lock);
	while (off < a->size && rc == 0) {
		ssize_t got = cfs_read(cl, a->ino, off, buf, 1u << 20);

		if (got <= 0) {
			rc = got < 0 ? (int)got : -EIO;
			break;
		}
		if (pwrite(fd, buf, (size_t)got, (off_t)off) != got) {
			rc = -errno;
			break;
		}
		for (ssize_t at = 0; at < got; at += CACHE_BLOCK) {
			size_t bn = got - at < CACHE_BLOCK ? (size_t)(got - at) :
							     CACHE_BLOCK;

			crc[(off + (uint64_t)at) / CACHE_BLOCK] =
				cfs_crc32c(buf + at, bn);
		}
		off += (uint64_t)got;
	}
	if (rc == 0 && ftruncate(fd, (off_t)off))
		rc = -errno;
	pthread_mutex_lock(&c->lock);
	if (rc == 0 && e->gen == gen && !e->doomed) {
		memset(bits, 0xff, bits_len(n));
		c->used -= (uint64_t)e->have * CACHE_BLOCK;
		free(e->bits);
		free(e->crc);
		e->bits = bits;
		e->crc = crc;
		bits = NULL;
		crc = NULL;
		e->nblocks = e->have = (uint32_t)((off + CACHE_BLOCK - 1) /
						  CACHE_BLOCK);
		c->used += (uint64_t)e->have * CACHE_BLOCK;
		e->size = off;
		/* Only an open vouches for the version: a writer sends its
		 * size and mtime to the MDS while its data is still on the
		 * way to the OSDs, so what a change seen elsewhere (the
		 * feed) makes us read may be part old. Such a copy serves
		 * the files open on it, and no open to come. */
		e->mtime_ns = at_open ? a->mtime_ns : INT64_MIN;
		e->ctime_ns = a->ctime_ns;
		e->current = at_open && off == a->size;
		e->checked = false;
		e->meta_dirty = true;
		if (fstat(fd, &st) == 0)
			e->own_mtime = st.st_mtim;
	} else if (rc) {
		cfs_log_warn("client cache: cannot refresh a file the kernel "
			     "reads", "ino=%lu rc=%d", (unsigned long)a->ino,
			     rc);
	}
	e->busy--;
	settle(c, e);
	pthread_mutex_unlock(&c->lock);
out:
	if (fd >= 0)
		close(fd);
	free(crc);
	free(bits);
	free(buf);
	return rc;
}

int cfs_cache_push(struct cfs_client *cl, uint64_t ino)
{
	struct cache *c = cl->cache;
	struct centry *e;
	struct stat st;
	uint32_t *want = NULL, n;
	uint64_t size;
	uint8_t *tmp = NULL;
	int fd = -1, rc = 0, pushed = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	e = *slot(c, ino);
	if (!e || !e->pins || (fd = data_open(c, ino, false)) < 0 ||
	    fstat(fd, &st) ||
	    (st.st_mtim.tv_sec == e->own_mtime.tv_sec &&
	     st.st_mtim.tv_nsec == e->own_mtime.tv_nsec)) {
		pthread_mutex_unlock(&c->lock);
		goto out;	/* no one but us wrote it */
	}
	n = e->nblocks;
	size = e->size;
	want = malloc(((size_t)n + 1) * sizeof(*want));
	tmp = malloc(CACHE_BLOCK);
	if (!want || !tmp) {
		pthread_mutex_unlock(&c->lock);
		rc = -ENOMEM;
		goto out;
	}
	memcpy(want, e->crc, (size_t)n * sizeof(*want));
	e->busy++;
	pthread_mutex_unlock(&c->lock);
	/* the blocks a mapping changed go to the cluster as writes (which
	 * come back here and make them ours) */
	for (uint32_t b = 0; rc == 0 && b < n; b++) {
		uint64_t bo = (uint64_t)b * CACHE_BLOCK;
		size_t len = block_len(size, b);
		ssize_t w;

		if (pread(fd, tmp, len, (off_t)bo) != (ssize_t)len ||
		    cfs_crc32c(tmp, len) == want[b])
			continue;
		w = cfs_write(cl, ino, bo, tmp, len);
		rc = w < 0 ? (int)w : 0;
		pushed++;
	}
	pthread_mutex_lock(&c->lock);
	e->busy--;
	settle(c, e);
	pthread_mutex_unlock(&c->lock);
	if (pushed)
		cfs_log_info("client cache: blocks written through a mapping "
			     "of the copy sent to the cluster", "ino=%lu "
			     "blocks=%d rc=%d", (unsigned long)ino, pushed, rc);
out:
	if (fd >= 0)
		close(fd);
	free(want);
	free(tmp);
	return rc;
}

void cfs_cache_unpin(struct cfs_client *cl, uint64_t ino)
{
	struct cache *c = cl->cache;
	struct centry *e;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	e = *slot(c, ino);
	if (e && e->pins > 0) {
		e->pins--;
		settle(c, e);
	}
	pthread_mutex_unlock(&c->lock);
}

void cfs_cache_stale(struct cfs_client *cl, uint64_t ino)
{
	client_cache_changed(cl, ino, CACHE_OTHERS, 0, NULL, 0);
}

void cfs_cache_drop(struct cfs_client *cl, uint64_t ino)
{
	struct cache *c = cl->cache;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < CACHE_BUCKETS; i++) {
		struct centry *e = c->tab[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (!ino || e->ino == ino)
				drop(c, e);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

bool cfs_cache_stats(struct cfs_client *cl, uint64_t ino,
		     struct cfs_cache_stats *out)
{
	struct cache *c = cl->cache;
	struct centry *e;

	memset(out, 0, sizeof(*out));
	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	out->used = c->used;
	out->cap = c->cap;
	out->entries = c->entries;
	e = ino ? *slot(c, ino) : NULL;
	if (e) {
		out->file_size = e->size;
		out->file_cached = e->have == e->nblocks ?
					   e->size :
					   (uint64_t)e->have * CACHE_BLOCK;
		out->file_current = e->current;
		out->file_pins = (uint32_t)e->pins;
	}
	pthread_mutex_unlock(&c->lock);
	return true;
}
