/* Recovery: catching up after a restart or an outage.
 *
 * The MDS puts a registering OSD (and one it had marked down) in the
 * RECOVERING state: primaries forward new changes to it, but nobody reads
 * from it and it is never a primary. This thread takes the inventory of
 * chunks held here (id and version) and sends it to every up peer
 * (OSD_BACKFILL). Each peer, for the chunks it is the acting primary of,
 * pushes a whole copy where the versions differ and removes what was
 * deleted meanwhile, under its own chunk lock, so a backfill never races
 * a change. Changes forwarded during the pass are ordered by the version
 * rule in service.c. When every peer has answered, the OSD is ready and
 * its next heartbeat asks the MDS to mark it up. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cfs/log.h"
#include "ec.h"
#include "osd.h"
#include "osd.pb-c.h"

struct inventory {
	Cfs__ChunkId *ids;
	Cfs__ChunkId **ptrs;
	uint64_t *versions;
	size_t n, cap;
};

static int add_chunk(void *arg, struct chunk_id c, uint64_t version)
{
	struct inventory *inv = arg;

	if (inv->n == inv->cap) {
		size_t cap = inv->cap ? inv->cap * 2 : 1024;
		Cfs__ChunkId *ids = realloc(inv->ids, cap * sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		inv->ids = ids;
		uint64_t *v = realloc(inv->versions, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		inv->versions = v;
		inv->cap = cap;
	}
	cfs__chunk_id__init(&inv->ids[inv->n]);
	inv->ids[inv->n].ino = c.ino;
	inv->ids[inv->n].index = c.index;
	inv->versions[inv->n++] = version;
	return 0;
}

static int recover_once(struct osd *osd)
{
	struct inventory inv = { 0 };
	struct cfs_map *map = cfs_map_get(&osd->maps);
	Cfs__OsdBackfill req = CFS__OSD_BACKFILL__INIT;
	struct cfs_rpc_call calls[64], *cp[64];
	const char *addrs[64];
	int status[64], n = 0, rc;

	if (!map)
		return -EAGAIN;
	rc = store_scan(&osd->store, add_chunk, &inv);
	if (rc)
		goto out;
	inv.ptrs = malloc((inv.n + 1) * sizeof(*inv.ptrs));
	if (!inv.ptrs) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < inv.n; i++)
		inv.ptrs[i] = &inv.ids[i];
	req.for_osd = osd->id;
	req.map_epoch = map->pb->epoch;
	req.chunks = inv.ptrs;
	req.n_chunks = inv.n;
	req.versions = inv.versions;
	req.n_versions = inv.n;
	for (size_t i = 0; i < map->pb->n_osds && n < 64; i++) {
		const Cfs__OsdInfo *o = map->pb->osds[i];

		if (o->id == osd->id || o->state != CFS__OSD_STATE__OSD_UP)
			continue;
		calls[n] = (struct cfs_rpc_call){
			.method = CFS__OSD_METHOD__OSD_BACKFILL,
			.req = &req.base,
			.timeout_ms = 600000,
		};
		cp[n] = &calls[n];
		addrs[n] = o->addr;
		n++;
	}
	if (n)
		cfs_rpc_call_many(osd->peers, addrs, cp, status, n);
	for (int i = 0; i < n; i++) {
		cfs_rpc_call_done(&calls[i]);
		if (status[i]) {
			cfs_log_warn("backfill from peer failed", "peer=%s rc=%d",
				     addrs[i], status[i]);
			rc = status[i];
		}
	}
	if (rc == 0)
		osd->recovered_epoch = map->pb->epoch;
	if (rc == 0)
		cfs_log_info("recovered", "osd=%u chunks_held=%zu peers=%d "
			     "epoch=%lu", osd->id, inv.n, n,
			     (unsigned long)map->pb->epoch);
out:
	cfs_map_put(&osd->maps, map);
	free(inv.ids);
	free(inv.ptrs);
	free(inv.versions);
	return rc;
}

void osd_recovery_request(struct osd *osd)
{
	pthread_mutex_lock(&osd->rlock);
	osd->ready = false;
	osd->need_recovery = true;
	pthread_cond_signal(&osd->rcond);
	pthread_mutex_unlock(&osd->rlock);
}

static void *recovery_main(void *p)
{
	struct osd *osd = p;

	pthread_mutex_lock(&osd->rlock);
	while (!osd->stop) {
		if (!osd->need_recovery) {
			pthread_cond_wait(&osd->rcond, &osd->rlock);
			continue;
		}
		osd->need_recovery = false;
		pthread_mutex_unlock(&osd->rlock);
		/* let the MDS publish our RECOVERING state to the peers, so
		 * they forward new changes to us before they backfill */
		cfs_map_wait_newer(&osd->maps, cfs_map_epoch(&osd->maps),
				   (int)osd->cfg.heartbeat_ms);
		while (!osd->stop && recover_once(osd) != 0)
			usleep(500 * 1000);
		pthread_mutex_lock(&osd->rlock);
		if (!osd->need_recovery)
			osd->ready = true;
	}
	pthread_mutex_unlock(&osd->rlock);
	return NULL;
}

int osd_recovery_start(struct osd *osd)
{
	if (pthread_create(&osd->recovery, NULL, recovery_main, osd))
		return -EAGAIN;
	return 0;
}
