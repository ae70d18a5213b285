/* Blobs: building one in memory and checking one read back (the format
 * is in cfs/blob.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/blob.h"
#include "cfs/clock.h"
#include "cfs/crc.h"

static const char head_magic[8] = "CFSBLOB1", foot_magic[8] = "CFSBEND1";

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int cfs_blob_start(struct cfs_blob *b, const char *cluster, uint64_t id)
{
	if (!b->buf)
		b->buf = malloc(CFS_BLOB_MAX);
	if (!b->buf)
		return -ENOMEM;
	b->id = id;
	b->nsegs = 0;
	uint8_t *h = b->buf;
	memset(h, 0, CFS_BLOB_HEADER);
	memcpy(h, head_magic, 8);
	put32(h + 8, 1);
	put32(h + 12, CFS_BLOB_HEADER);
	memcpy(h + 16, cluster, strnlen(cluster, 32));
	put64(h + 48, id);
	put32(h + 56, (uint32_t)(cfs_real_ns() / 1000000000));
	put32(h + 60, cfs_crc32c(h, 60));
	b->len = CFS_BLOB_HEADER;
	return 0;
}

void cfs_blob_free(struct cfs_blob *b)
{
	free(b->buf);
	free(b->segs);
	memset(b, 0, sizeof(*b));
}

size_t cfs_blob_room(const struct cfs_blob *b)
{
	size_t used = b->len + (b->nsegs + 1) * CFS_BLOB_ENTRY + CFS_BLOB_FOOTER;
	size_t room = used < CFS_BLOB_MAX ? CFS_BLOB_MAX - used : 0;
	return room < CFS_BLOB_SEG_MAX ? room : CFS_BLOB_SEG_MAX;
}

int cfs_blob_add(struct cfs_blob *b, uint64_t ino, uint32_t chunk,
		 uint64_t version, uint64_t chunk_off, const void *data,
		 uint32_t len)
{
	if (len > cfs_blob_room(b))
		return -E2BIG;
	if (b->nsegs == b->capsegs) {
		size_t cap = b->capsegs ? b->capsegs * 2 : 64;
		struct cfs_blob_seg *s = realloc(b->segs, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		b->segs = s;
		b->capsegs = cap;
	}
	b->segs[b->nsegs++] = (struct cfs_blob_seg){
		.ino = ino, .chunk = chunk, .version = version,
		.chunk_off = chunk_off, .blob_off = b->len, .len = len,
		.crc = cfs_crc32c(data, len),
	};
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	return 0;
}

size_t cfs_blob_finish(struct cfs_blob *b)
{
	uint8_t *p = b->buf + b->len;
	uint64_t index = b->len;
	for (size_t i = 0; i < b->nsegs; i++, p += CFS_BLOB_ENTRY) {
		const struct cfs_blob_seg *s = &b->segs[i];
		put64(p, s->ino);
		put32(p + 8, s->chunk);
		put32(p + 12, 0);
		put64(p + 16, s->version);
		put64(p + 24, s->chunk_off);
		put64(p + 32, s->blob_off);
		put32(p + 40, s->len);
		put32(p + 44, s->crc);
	}
	size_t ilen = b->nsegs * CFS_BLOB_ENTRY;
	memcpy(p, foot_magic, 8);
	put64(p + 8, index);
	put32(p + 16, (uint32_t)b->nsegs);
	put32(p + 20, cfs_crc32c(b->buf + index, ilen));
	put64(p + 24, b->id);
	return b->len + ilen + CFS_BLOB_FOOTER;
}

int cfs_blob_parse(const void *buf, size_t len, const char *cluster,
		   uint64_t *id, struct cfs_blob_seg **segs, size_t *nsegs)
{
	const uint8_t *b = buf;
	if (len < CFS_BLOB_HEADER + CFS_BLOB_FOOTER || len > CFS_BLOB_MAX ||
	    memcmp(b, head_magic, 8) || get32(b + 8) != 1 ||
	    get32(b + 12) != CFS_BLOB_HEADER ||
	    get32(b + 60) != cfs_crc32c(b, 60))
		return -EBADMSG;
	if (cluster && memcmp(b + 16, cluster, strnlen(cluster, 32)))
		return -EBADMSG;
	const uint8_t *f = b + len - CFS_BLOB_FOOTER;
	uint64_t index = get64(f + 8);
	uint32_t n = get32(f + 16);
	if (memcmp(f, foot_magic, 8) || get64(f + 24) != get64(b + 48) ||
	    index < CFS_BLOB_HEADER ||
	    index + (uint64_t)n * CFS_BLOB_ENTRY != len - CFS_BLOB_FOOTER ||
	    get32(f + 20) != cfs_crc32c(b + index, (size_t)n * CFS_BLOB_ENTRY))
		return -EBADMSG;
	struct cfs_blob_seg *s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	uint64_t at = CFS_BLOB_HEADER;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = b + index + (size_t)i * CFS_BLOB_ENTRY;
		s[i] = (struct cfs_blob_seg){
			.ino = get64(e), .chunk = get32(e + 8),
			.version = get64(e + 16), .chunk_off = get64(e + 24),
			.blob_off = get64(e + 32), .len = get32(e + 40),
			.crc = get32(e + 44),
		};
		/* segments lie back to back between header and index */
		if (s[i].blob_off != at || s[i].len > CFS_BLOB_SEG_MAX ||
		    s[i].blob_off + s[i].len > index ||
		    cfs_crc32c(b + s[i].blob_off, s[i].len) != s[i].crc) {
			free(s);
			return -EBADMSG;
		}
		at += s[i].len;
	}
	if (at != index) {
		free(s);
		return -EBADMSG;
	}
	*id = get64(b + 48);
	*segs = s;
	*nsegs = n;
	return 0;
}
