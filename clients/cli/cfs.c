/* cfs: the admin and user command line.
 *
 *   cfs status MDS_ADDRESS     the cluster map: epoch, OSDs, capacity
 *   cfs df MDS_ADDRESS         capacity and use as users see it
 *
 * More subcommands (init, token, fsck, conflicts, tier, bench) arrive
 * with the issues that need them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cfs/log.h"
#include "cfs/map.h"
#include "cfs/rpc.h"
#include "libcfs.h"

static int cmd_status(const char *mds)
{
	struct cfs_map_holder maps;
	struct cfs_rpc_client *rpc;
	struct cfs_map *m;
	int rc, up = 0;

	cfs_map_holder_init(&maps);
	rc = cfs_rpc_client_new(&rpc);
	if (!rc)
		rc = cfs_map_fetch(&maps, rpc, mds, 3000);
	if (rc) {
		fprintf(stderr, "cfs: cannot reach the MDS at %s: %s\n", mds,
			strerror(-rc));
		cfs_rpc_client_free(rpc);
		cfs_map_holder_destroy(&maps);
		return 1;
	}
	m = cfs_map_get(&maps);
	printf("cluster %s  epoch %lu  pgs %u  replicas %u\n",
	       m->pb->cluster_id, (unsigned long)m->pb->epoch,
	       m->pb->pg_count, m->pb->replicas);
	printf("mds %s (map updates on %s)\n", m->pb->n_mds ? m->pb->mds[0] : "?",
	       m->pb->mds_pub);
	printf("%-5s %-22s %-10s %-10s %-4s %12s %12s\n", "OSD", "ADDRESS",
	       "NODE", "STATE", "IN", "CAPACITY", "USED");
	for (size_t i = 0; i < m->pb->n_osds; i++) {
		const Cfs__OsdInfo *o = m->pb->osds[i];
		bool isup = o->state == CFS__OSD_STATE__OSD_UP;

		up += isup;
		printf("%-5u %-22s %-10s %-10s %-4s %11.1fG %11.1fG\n", o->id,
		       o->addr, o->node,
		       isup ? "up" :
		       o->state == CFS__OSD_STATE__OSD_RECOVERING ? "recovering" :
								     "down",
		       o->in ? "in" : "out", o->capacity / 1e9, o->used / 1e9);
	}
	printf("%d of %zu OSDs up\n", up, m->pb->n_osds);
	cfs_map_put(&maps, m);
	cfs_map_holder_destroy(&maps);
	cfs_rpc_client_free(rpc);
	return 0;
}

static int cmd_df(const char *mds)
{
	struct cfs_client_opts o = { .mds = mds, .connect_timeout_ms = 3000 };
	struct cfs_client *cl;
	struct statvfs sv;
	int rc = cfs_client_new(&cl, &o);

	if (!rc)
		rc = cfs_statfs(cl, &sv);
	if (rc) {
		fprintf(stderr, "cfs: cannot reach the MDS at %s: %s\n", mds,
			strerror(-rc));
		cfs_client_free(cl);
		return 1;
	}
	printf("%-14s %14s %14s %14s %6s\n", "Filesystem", "Size", "Used",
	       "Avail", "Use%");
	printf("%-14s %13.1fG %13.1fG %13.1fG %5.0f%%\n", "claudefs",
	       sv.f_blocks * 4096.0 / 1e9,
	       (sv.f_blocks - sv.f_bfree) * 4096.0 / 1e9,
	       sv.f_bavail * 4096.0 / 1e9,
	       sv.f_blocks ? 100.0 * (sv.f_blocks - sv.f_bfree) / sv.f_blocks :
			     0);
	cfs_client_free(cl);
	return 0;
}

int main(int argc, char **argv)
{
	cfs_log_init("cfs", CFS_LOG_ERROR);
	if (argc == 3 && !strcmp(argv[1], "status"))
		return cmd_status(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "df"))
		return cmd_df(argv[2]);
	fprintf(stderr, "usage: cfs status MDS_ADDRESS\n"
			"       cfs df MDS_ADDRESS\n");
	return 2;
}
