/* A file's layout: how its chunks are protected.
 *
 *   rep:N      N whole copies of each chunk on N targets (N <= 8)
 *   ec:K+M     each chunk cut into stripes of K units of `unit` bytes
 *              (1 MiB unless set: "ec:4+2/256K"); unit j of stripe s
 *              is bytes [s*U, s*U+U) of data shard j, and parity shards
 *              K..K+M-1 hold the Reed-Solomon code of the K units at
 *              the same offsets (cfs/ec.h). Shard i of a chunk lives on
 *              target i of the chunk's placement.
 *
 * Packed into 32 bits (the inode keeps it, requests to the OSDs carry
 * it): 0 is the default, rep with the map's replica count, which is what
 * every file made before layouts has. A shard of an EC chunk is stored
 * as a chunk of its own whose index carries the shard number and the
 * code (cfs_shard_index), so any OSD holding one knows the stripe it
 * belongs to. */
#ifndef CFS_LAYOUT_H
#define CFS_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfs/ec.h"

#define CFS_LAYOUT_REP 1u
#define CFS_LAYOUT_EC 2u
#define CFS_LAYOUT_UNIT_SHIFT 20	/* 1 MiB stripe units by default */
#define CFS_LAYOUT_MIN_SHIFT 12	/* 4 KiB: a CRC block */
#define CFS_LAYOUT_MAX_SHIFT 24	/* 16 MiB */
#define CFS_MAX_TARGETS (CFS_EC_MAX_K + CFS_EC_MAX_M)

struct cfs_layout {
	uint32_t kind;		/* 0 (default), CFS_LAYOUT_REP, CFS_LAYOUT_EC */
	uint32_t k, m;		/* rep: k copies, m 0 */
	uint32_t unit_shift;	/* EC: log2 of the stripe unit */
};

/* 0 or -EINVAL for a code no layout packs to. */
int cfs_layout_unpack(uint32_t code, struct cfs_layout *l);
uint32_t cfs_layout_pack(const struct cfs_layout *l);
/* "rep:N", "ec:K+M" or "ec:K+M/UNIT" (UNIT a power of two, with K or M
 * for KiB or MiB): 0 or -EINVAL. */
int cfs_layout_parse(const char *s, struct cfs_layout *l);
/* The spec cfs_layout_parse reads back; "default" for 0. */
void cfs_layout_format(const struct cfs_layout *l, char *buf, size_t size);
static inline bool cfs_layout_is_ec(const struct cfs_layout *l)
{
	return l->kind == CFS_LAYOUT_EC;
}

/* EC shard chunks: the index of shard `shard` of chunk `index`, and
 * back. Bit 63 marks a shard; bits 56-62 the shard, 51-55 K-1, 48-50
 * M-1; chunk indexes stay below 2^48 (16 EiB of file). */
#define CFS_SHARD_BIT (1ull << 63)
#define CFS_CHUNK_INDEX_MAX ((1ull << 48) - 1)
uint64_t cfs_shard_index(uint64_t index, uint32_t k, uint32_t m, int shard);
/* Whether sindex names a shard; if so its chunk index, code and shard. */
bool cfs_shard_of(uint64_t sindex, uint64_t *index, uint32_t *k, uint32_t *m,
		  int *shard);

/* EC geometry within one chunk. A byte range of the chunk covers, in
 * each data shard, one contiguous range of the shard (whole units in
 * the stripes between its ends): [*soff, *soff + *slen), empty if none. */
void cfs_layout_shard_range(const struct cfs_layout *l, uint64_t off,
			    uint64_t len, uint32_t shard, uint64_t *soff,
			    uint64_t *slen);
/* The chunk offset of byte soff of data shard `shard`. */
uint64_t cfs_layout_chunk_offset(const struct cfs_layout *l, uint32_t shard,
				 uint64_t soff);
/* How long a shard of a full chunk is. */
uint64_t cfs_layout_shard_size(const struct cfs_layout *l);

#endif
