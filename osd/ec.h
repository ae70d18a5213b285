/* Erasure-coded chunks at the OSD (ec.c): the acting primary's side of
 * their changes, and bringing a recovering peer's shards up to date. */
#ifndef CFS_OSD_EC_H
#define CFS_OSD_EC_H

#include "osd.h"

/* The chunk whose lock guards stored chunk c: c itself, or for an EC
 * shard its chunk (whose primary orders the shard's changes). */
struct chunk_id osd_chunk_guard(struct chunk_id c);

enum ec_kind { EC_WRITE, EC_TRUNCATE, EC_REMOVE, EC_PUNCH };

struct ec_change {
	enum ec_kind kind;
	const struct store_extent *ex;	/* EC_WRITE: extents, in order */
	size_t n;
	const uint8_t *data;		/* their bytes one after another */
	uint64_t off, len;		/* EC_PUNCH; EC_TRUNCATE: off = size */
};

/* Apply ch to chunk c of a file with this (EC) layout code, as its
 * acting primary, with c's lock held: every shard that takes changes
 * has it durable at *version on return 0. -ESTALE if we are not the
 * acting primary; -EINVAL if the layout is no EC one or wider than the
 * map's failure domains. */
int osd_ec_change(struct osd *osd, const Cfs__ClusterMap *m, uint32_t layout,
		  struct chunk_id c, const struct ec_change *ch,
		  uint64_t *version);

/* Backfill, for shard chunk `held` of ours: if we act as primary of its
 * chunk and for_osd is one of its targets, rebuild that target's shard
 * when its version (peer_version: 0 if it has none) is not ours. Call
 * with the chunk's lock (cfs_shard_of's chunk) held. 1 if sent. */
int osd_ec_backfill(struct osd *osd, const Cfs__ClusterMap *m,
		    struct chunk_id held, uint32_t for_osd,
		    uint64_t (*peer_version)(void *arg, struct chunk_id c),
		    void *arg);
/* Whether shard chunk `theirs`, held by for_osd, belongs to a chunk we
 * act as primary of and that is gone here (removed while they were
 * away). */
bool osd_ec_stale(struct osd *osd, const Cfs__ClusterMap *m,
		  struct chunk_id theirs, uint32_t for_osd);

/* Heal EC shard chunk `held` of ours for the pass's map (heal.c): sent
 * to its position if that moved (and dropped here once there); as the
 * acting primary, or as the first up position holding the chunk when
 * the primary does not, every up position brought to our version. */
void osd_ec_heal_chunk(struct osd_heal *h, struct chunk_id held);

/* Shard chunk `held` of ours failed its CRCs at rest: rebuild it from
 * the others in place. With the chunk's lock held. 0 if repaired. */
int osd_ec_repair(struct osd *osd, const Cfs__ClusterMap *m,
		  struct chunk_id held);

#endif
