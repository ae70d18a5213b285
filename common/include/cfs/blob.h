/* The blobs cold data is stored in (tierd/README.md has the format with
 * its rationale). A blob is at most 64 MiB and describes itself:
 *
 *   header   64 bytes: "CFSBLOB1", format 1 (u32), header length (u32),
 *            the cluster id (32 hex characters), the blob id (u64), when
 *            it was made (u32 unix seconds), the CRC32C of the 60 before
 *   segments the bytes of file pieces, back to back (each at most 1 MiB)
 *   index    48 bytes per segment: inode, chunk, version (the file's
 *            ctime then), offset in the chunk, offset in the blob,
 *            length, CRC32C of the bytes
 *   footer   32 bytes: "CFSBEND1", where the index starts, how many
 *            entries, the index's CRC32C, the blob id
 *
 * All integers little-endian. A reader with only the blob (or its last
 * 32 bytes and then its index) can tell every byte's file and place. */
#ifndef CFS_BLOB_H
#define CFS_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define CFS_BLOB_MAX (64u << 20)
#define CFS_BLOB_HEADER 64u
#define CFS_BLOB_ENTRY 48u
#define CFS_BLOB_FOOTER 32u
#define CFS_BLOB_SEG_MAX (1u << 20)

struct cfs_blob_seg {
	uint64_t ino;
	uint32_t chunk;
	uint64_t version;
	uint64_t chunk_off;
	uint64_t blob_off;
	uint32_t len;
	uint32_t crc;
};

/* A blob being filled in memory. */
struct cfs_blob {
	uint64_t id;
	uint8_t *buf;		/* CFS_BLOB_MAX bytes */
	size_t len;		/* header and segments so far */
	struct cfs_blob_seg *segs;
	size_t nsegs, capsegs;
};

/* Start an empty blob (0 or -ENOMEM). cluster: 32 hex characters. b is
 * zeroed the first time; after that its buffers are kept for the next. */
int cfs_blob_start(struct cfs_blob *b, const char *cluster, uint64_t id);
void cfs_blob_free(struct cfs_blob *b);
/* How many more bytes one more segment may hold. */
size_t cfs_blob_room(const struct cfs_blob *b);
/* Append a segment (len <= CFS_BLOB_SEG_MAX and <= room): 0, -E2BIG or
 * -ENOMEM. Its CRC is computed here. */
int cfs_blob_add(struct cfs_blob *b, uint64_t ino, uint32_t chunk,
		 uint64_t version, uint64_t chunk_off, const void *data,
		 uint32_t len);
/* Write the index and footer: the blob's whole length (in b->buf). */
size_t cfs_blob_finish(struct cfs_blob *b);

/* Check a whole blob: header, footer, index and every segment's CRC.
 * cluster: the id it must carry, or NULL. On success the segments
 * (malloc'd) and the id. 0 or -EBADMSG. */
int cfs_blob_parse(const void *buf, size_t len, const char *cluster,
		   uint64_t *id, struct cfs_blob_seg **segs, size_t *nsegs);

#endif
