/* Scrubbing: re-reading data at rest, at a bounded rate, and repairing
 * what fails its CRC32C.
 *
 * A pass reads every chunk held here whole, under its lock (so no change
 * is half applied), at most scrub_mbps; a pass starts scrub_interval_s
 * after the last one started. A block that does not match its CRC is
 * repaired: an EC shard is rebuilt in place from the other shards
 * (ec.c), a replicated chunk is replaced by the copy of another up
 * target at the same version. Each repair is logged ("scrub repaired"),
 * as is each pass's count. Reads never wait for the scrubber: they check
 * the CRCs themselves and go elsewhere (or rebuild) on a mismatch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs/crc.h"
#include "cfs/log.h"
#include "ec.h"
#include "osd.h"
#include "osd.pb-c.h"

struct scrub {
	struct osd *osd;
	struct cfs_map *map;
	uint64_t chunks, bytes, bad, repaired;
	int64_t started_ms;
};

/* A replicated chunk from another up target holding the same version. */
static int repair_copy(struct scrub *s, struct chunk_id c, uint64_t version)
{
	const Cfs__ClusterMap *m = s->map->pb;
	int t[CFS_MAX_TARGETS], n = cfs_placement_chunk(m, 0, c.ino, c.index, t);
	int rc = -ENOENT;

	for (int i = 0; i < n && rc; i++) {
		const Cfs__OsdInfo *o = m->osds[t[i]];
		struct cfs_rpc_call call;
		const Cfs__OsdReadReply *rep;

		if (o->id == s->osd->id || o->state != CFS__OSD_STATE__OSD_UP)
			continue;
		rc = osd_peer_read(s->osd, o->addr, m->epoch, c, CFS_CHUNK_SIZE,
				   0, &call);
		rep = (const void *)call.rep;
		if (rc == 0 && (rep->version != version ||
				rep->block_offset != 0 ||
				call.rep_bulk_len != rep->n_crcs * CFS_BLOCK_SIZE ||
				rep->n_crcs != (rep->chunk_size + CFS_BLOCK_SIZE - 1) /
						       CFS_BLOCK_SIZE))
			rc = -ESTALE;
		for (size_t b = 0; rc == 0 && b < rep->n_crcs; b++)
			rc = cfs_crc_check_block((const uint8_t *)call.rep_bulk +
							 b * CFS_BLOCK_SIZE,
						 rep->crcs[b]);
		if (rc == 0)
			rc = store_put(&s->osd->store, c, call.rep_bulk,
				       rep->chunk_size, rep->crcs, version);
		cfs_rpc_call_done(&call);
	}
	return rc;
}

static int scrub_chunk(void *arg, struct chunk_id c, uint64_t version)
{
	struct scrub *s = arg;
	struct chunk_id g = osd_chunk_guard(c);
	uint64_t block_off, size;
	uint32_t *crcs = NULL;
	size_t nblocks = 0;
	void *data = NULL;
	int rc;

	(void)version;
	if (store_evicted(&s->osd->store, c))
		return 0;	/* its bytes are in the object store */
	store_lock(&s->osd->store, g);
	rc = store_read(&s->osd->store, c, 0, CFS_CHUNK_SIZE, true, &data,
			&block_off, &crcs, &nblocks, &version, &size);
	free(data);
	free(crcs);
	if (rc == -EBADMSG) {
		s->bad++;
		rc = c.index & CFS_SHARD_BIT ?
			     osd_ec_repair(s->osd, s->map->pb, c) :
			     repair_copy(s, c, version);
		s->repaired += rc == 0;
		cfs_log_warn("scrub repaired", "ino=%lu index=%lu version=%lu "
			     "rc=%d", (unsigned long)c.ino,
			     (unsigned long)c.index, (unsigned long)version, rc);
	}
	store_unlock(&s->osd->store, g);
	s->chunks++;
	s->bytes += size;
	osd_pace(s->osd, s->started_ms, s->bytes, s->osd->cfg.scrub_mbps);
	return s->osd->stop ? -ESHUTDOWN : 0;
}

static void *scrub_main(void *p)
{
	struct osd *osd = p;
	int64_t next = cfs_mono_ms() + osd->cfg.scrub_interval_s * 1000;

	while (!osd->stop) {
		struct scrub s = { .osd = osd };

		if (cfs_mono_ms() < next || !osd_serving(osd)) {
			usleep(100 * 1000);
			continue;
		}
		next = cfs_mono_ms() + osd->cfg.scrub_interval_s * 1000;
		s.map = cfs_map_get(&osd->maps);
		if (!s.map)
			continue;
		s.started_ms = cfs_mono_ms();
		store_scan(&osd->store, scrub_chunk, &s);
		cfs_log_info("scrub pass", "osd=%u chunks=%lu bytes=%lu bad=%lu "
			     "repaired=%lu ms=%ld", osd->id,
			     (unsigned long)s.chunks, (unsigned long)s.bytes,
			     (unsigned long)s.bad, (unsigned long)s.repaired,
			     (long)(cfs_mono_ms() - s.started_ms));
		cfs_map_put(&osd->maps, s.map);
	}
	return NULL;
}

int osd_scrub_start(struct osd *osd)
{
	if (osd->cfg.scrub_mbps == 0)
		return 0;
	if (pthread_create(&osd->scrubber, NULL, scrub_main, osd))
		return -EAGAIN;
	osd->scrubbing = true;
	return 0;
}
