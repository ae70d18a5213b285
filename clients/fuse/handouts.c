/* The handouts' ring; see handouts.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handouts.h"

/* A record, 8-byte aligned; the name follows. */
struct rec {
	int64_t until_ns;
	uint64_t ino;
	uint64_t parent;
	uint16_t len;		/* REC_WRAP: the ring goes on at 0 */
	char name[];
};

#define REC_WRAP 0xffff

static size_t rec_size(size_t len)
{
	return (sizeof(struct rec) + len + 7) & ~(size_t)7;
}

int handouts_init(struct handouts *h, size_t size)
{
	memset(h, 0, sizeof(*h));
	h->ring = calloc(1, size);
	if (!h->ring)
		return -ENOMEM;
	h->size = size;
	return 0;
}

void handouts_fini(struct handouts *h)
{
	free(h->ring);
	h->ring = NULL;
}

/* The record at *off, moving *off to 0 where the ring wraps (too little
 * room left for a record header, or a wrap mark); *skipped gets the
 * bytes passed over. */
static const struct rec *rec_at(const struct handouts *h, size_t *off,
				size_t *skipped)
{
	const struct rec *r;

	*skipped = 0;
	if (h->size - *off < sizeof(*r) ||
	    ((const struct rec *)(h->ring + *off))->len == REC_WRAP) {
		*skipped = h->size - *off;
		*off = 0;
	}
	r = (const struct rec *)(h->ring + *off);
	return r;
}

static void expire(struct handouts *h, int64_t now)
{
	while (h->used) {
		size_t off = h->tail, skipped;
		const struct rec *r = rec_at(h, &off, &skipped);

		if (r->until_ns >= now)
			break;
		h->used -= skipped + rec_size(r->len);
		h->tail = off + rec_size(r->len);
	}
	if (!h->used)
		h->head = h->tail = 0;
}

bool handouts_add(struct handouts *h, int64_t now, int64_t until_ns,
		  uint64_t ino, uint64_t parent, const char *name,
		  size_t len)
{
	size_t size = rec_size(len), pad;
	struct rec *r;
	bool wrap;

	if (len >= REC_WRAP)
		return false;
	expire(h, now);
	/* at the head, or at 0 if it does not fit there (the bytes left at
	 * the end, maybe none, are skipped) */
	wrap = h->size - h->head < size;
	pad = wrap ? h->size - h->head : 0;
	if (h->used + pad + size > h->size ||
	    (wrap && h->used && h->tail < size))
		return false;
	if (pad >= sizeof(*r))
		((struct rec *)(h->ring + h->head))->len = REC_WRAP;
	if (wrap)
		h->head = 0;
	r = (struct rec *)(h->ring + h->head);
	r->until_ns = until_ns;
	r->ino = ino;
	r->parent = parent;
	r->len = (uint16_t)len;
	if (len)	/* an inode handed out by ino alone has no name */
		memcpy(r->name, name, len);
	h->head += size;
	h->used += pad + size;
	return true;
}

size_t handouts_each(const struct handouts *h,
		     void (*fn)(void *arg, uint64_t ino, uint64_t parent,
				const char *name, size_t len),
		     void *arg)
{
	size_t off = h->tail, used = h->used, n = 0;

	while (used) {
		size_t skipped;
		const struct rec *r = rec_at(h, &off, &skipped);

		fn(arg, r->ino, r->parent, r->name, r->len);
		used -= skipped + rec_size(r->len);
		off += rec_size(r->len);
		n++;
	}
	return n;
}

void handouts_swap(struct handouts *a, struct handouts *b)
{
	struct handouts t = *a;

	*a = *b;
	*b = t;
}
