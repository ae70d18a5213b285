/* Purge: deleting the data of freed inodes from the OSDs.
 *
 * free_inode() in namespace.c queues (ino, size) in the purge table in the
 * same transaction that removes the inode. This thread sends a remove of
 * every chunk to its acting primary, which forwards it to the replicas,
 * and drops the entry once all succeeded. Failures leave the entry for
 * the next pass, so a dead OSD only delays the space being reclaimed. */
#include <errno.h>
#include <unistd.h>

#include "cfs/log.h"
#include "mds.h"
#include "osd.pb-c.h"

static int remove_chunk(struct mds *mds, const Cfs__ClusterMap *map,
			uint64_t ino, uint32_t layout, uint64_t index)
{
	Cfs__ChunkId chunk = CFS__CHUNK_ID__INIT;
	Cfs__OsdTruncate req = CFS__OSD_TRUNCATE__INIT;
	struct cfs_rpc_call c = {
		.method = CFS__OSD_METHOD__OSD_TRUNCATE,
		.req = &req.base,
		.timeout_ms = 5000,
	};
	int primary = cfs_placement_primary(map, layout, ino, index), rc;

	if (primary < 0)
		return -EHOSTDOWN;
	chunk.ino = ino;
	chunk.index = index;
	req.chunk = &chunk;
	req.remove = true;
	req.layout = layout;
	req.map_epoch = map->epoch;
	rc = cfs_rpc_call(mds->osdc, map->osds[primary]->addr, &c);
	cfs_rpc_call_done(&c);
	return rc == -ENOENT ? 0 : rc;
}

#define PURGE_BATCH 64	/* freed inodes marked done in one commit */

struct purged {
	uint64_t ino[PURGE_BATCH];
	size_t n;
};

static int do_purge_done(struct mds *mds, MDB_txn *txn, void *p)
{
	const struct purged *d = p;
	int rc = 0;

	for (size_t i = 0; i < d->n && rc == 0; i++)
		rc = cfs_ns_purge_done(&mds->ns, txn, d->ino[i]);
	return rc;
}

static void purge_done(struct mds *mds, struct purged *d)
{
	if (d->n && mds_mutate(mds, do_purge_done, d, 0))
		cfs_log_debug("purge done deferred", "inodes=%zu", d->n);
	d->n = 0;
}

/* One pass over the purge table. Inodes whose data is gone are marked
 * done PURGE_BATCH at a time: an unlink sweep costs the metadata disk
 * one commit per unlink, not two. A crash before the mark only repeats
 * removes, which find nothing. */
static void purge_pass(struct mds *mds)
{
	uint64_t after = 0, ino, size;
	uint32_t layout;
	struct purged done = { .n = 0 };

	while (!mds->stop) {
		Cfs__ClusterMap *own = NULL;
		const Cfs__ClusterMap *map;
		struct cfs_map *shard0 = NULL;
		MDB_txn *txn;
		uint64_t chunks;
		int rc = 0;

		if (cfs_ns_begin(&mds->ns, NULL, false, &txn))
			return;
		rc = cfs_ns_purge_next(&mds->ns, txn, after, &ino, &size,
					       &layout);
		cfs_ns_abort(txn);
		if (rc)
			break;
		after = ino;
		/* the OSDs are in shard 0's map */
		if (mds->shard)
			shard0 = mds_shard0_map(mds);
		else
			own = mds_map_build(mds);
		map = shard0 ? shard0->pb : own;
		if (!map)
			break;
		chunks = (size + CFS_CHUNK_SIZE - 1) / CFS_CHUNK_SIZE;
		if (chunks == 0)
			chunks = 1;	/* a size never reported may hide data */
		for (uint64_t i = 0; i < chunks && rc == 0; i++)
			rc = remove_chunk(mds, map, ino, layout, i);
		mds_map_free(own);
		mds_shard0_map_put(mds, shard0);
		if (rc == 0)
			done.ino[done.n++] = ino;
		else
			cfs_log_debug("purge deferred", "ino=%lu rc=%d",
				      (unsigned long)ino, rc);
		if (done.n == PURGE_BATCH)
			purge_done(mds, &done);
	}
	purge_done(mds, &done);
}

static void *purge_main(void *p)
{
	struct mds *mds = p;
	int64_t expired = cfs_mono_ms();

	while (!mds->stop) {
		if (!mds_serving(mds, NULL)) {	/* the leader's work */
			usleep(100 * 1000);
			continue;
		}
		purge_pass(mds);
		if (cfs_mono_ms() - expired > 60 * 1000) {
			mds_done_expire(mds);
			expired = cfs_mono_ms();
		}
		for (int i = 0; i < 10 && !mds->stop; i++)
			usleep(100 * 1000);
	}
	return NULL;
}

int mds_purge_start(struct mds *mds)
{
	int rc = cfs_rpc_client_new(&mds->osdc);

	if (rc)
		return rc;
	if (pthread_create(&mds->purger, NULL, purge_main, mds))
		return -EAGAIN;
	return 0;
}
