/* The MDS replicas' formats (replica.c), on the wire between replicas
 * and on disk in DATA/raft: log entries and snapshots.
 *
 * An entry: a head (8 bytes: the changes' length, with MDS_ENTRY_FEED
 * set when the change feed's notes follow them: then their length, 8
 * bytes more), the changes (as the redo log records them,
 * cfs_redo_decode), the notes (feed.h), zeros to a multiple of 8 bytes
 * (Raft's libuv transport sends an entry as it is but reads each at the
 * next 8-byte boundary). Entries from before the feed was replicated
 * have no MDS_ENTRY_FEED and no notes.
 *
 * A snapshot: a head (magic "CCFSSNP1", the last entry index it holds,
 * the dump's length; 8 bytes each), the dump (every record of the
 * store, cfs_ns_dump), zeros to a multiple of 8 bytes. */
#ifndef CFS_MDS_ENTRY_H
#define CFS_MDS_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#define MDS_ENTRY_FEED (1ull << 63)

struct mds_entry {
	const void *changes;
	size_t len;
	const uint8_t *feed;
	size_t flen;
};

size_t mds_entry_size(size_t len, size_t flen);
/* entry: mds_entry_size(len, flen) bytes. */
void mds_entry_fill(void *entry, const void *changes, size_t len,
		    const void *feed, size_t flen);
/* e points into p: 0, or -EBADMSG. */
int mds_entry_parse(const void *p, size_t len, struct mds_entry *e);

size_t mds_snapshot_size(size_t dump_len);
void mds_snapshot_fill(void *snap, uint64_t index, const void *dump,
		       size_t dump_len);
/* *dump points into p: 0, or -EBADMSG. */
int mds_snapshot_parse(const void *p, size_t len, uint64_t *index,
		       const void **dump, size_t *dump_len);

#endif
