/* The MDS replicas' log entries and snapshots (entry.h). */
#include <errno.h>
#include <string.h>

#include "entry.h"

#define HEAD 8u
#define SNAP_MAGIC 0x31504e5353464343ull	/* "CCFSSNP1" */
#define SNAP_HEAD (3 * HEAD)

static size_t padded(size_t n)
{
	return (n + 7) / 8 * 8;
}

size_t mds_entry_size(size_t len, size_t flen)
{
	return 2 * HEAD + padded(len + flen);
}

void mds_entry_fill(void *entry, const void *changes, size_t len,
		    const void *feed, size_t flen)
{
	uint64_t head = len | MDS_ENTRY_FEED, fl = flen;
	uint8_t *p = entry;

	memset(entry, 0, mds_entry_size(len, flen));
	memcpy(p, &head, HEAD);
	memcpy(p + HEAD, &fl, HEAD);
	if (len)
		memcpy(p + 2 * HEAD, changes, len);
	if (flen)
		memcpy(p + 2 * HEAD + len, feed, flen);
}

int mds_entry_parse(const void *p, size_t len, struct mds_entry *e)
{
	const uint8_t *base = p;
	uint64_t head, fl = 0;
	size_t at = HEAD;

	if (len < HEAD)
		return -EBADMSG;
	memcpy(&head, base, HEAD);
	if (head & MDS_ENTRY_FEED) {
		if (len < 2 * HEAD)
			return -EBADMSG;
		memcpy(&fl, base + HEAD, HEAD);
		head &= ~MDS_ENTRY_FEED;
		at += HEAD;
	}
	if (head > len - at || fl > len - at - head)
		return -EBADMSG;
	e->changes = base + at;
	e->len = (size_t)head;
	e->feed = base + at + head;
	e->flen = (size_t)fl;
	return 0;
}

size_t mds_snapshot_size(size_t dump_len)
{
	return SNAP_HEAD + padded(dump_len);
}

void mds_snapshot_fill(void *snap, uint64_t index, const void *dump,
		       size_t dump_len)
{
	uint64_t head[3] = { SNAP_MAGIC, index, dump_len };
	uint8_t *p = snap;

	memset(snap, 0, mds_snapshot_size(dump_len));
	memcpy(p, head, SNAP_HEAD);
	if (dump_len)
		memcpy(p + SNAP_HEAD, dump, dump_len);
}

int mds_snapshot_parse(const void *p, size_t len, uint64_t *index,
		       const void **dump, size_t *dump_len)
{
	uint64_t head[3];

	if (len < SNAP_HEAD)
		return -EBADMSG;
	memcpy(head, p, SNAP_HEAD);
	if (head[0] != SNAP_MAGIC || head[2] > len - SNAP_HEAD)
		return -EBADMSG;
	*index = head[1];
	*dump = (const uint8_t *)p + SNAP_HEAD;
	*dump_len = (size_t)head[2];
	return 0;
}
