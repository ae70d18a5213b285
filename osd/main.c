/* cfs-osd: one storage target. Parses flags and config, opens the chunk
 * store, starts serving, registers with the MDS, follows the cluster map
 * and heartbeats until a signal. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cfs/clock.h"
#include "cfs/daemon.h"
#include "cfs/log.h"
#include "osd.h"

#define KEY(n, t, d, f, lo, hi, h) \
	{ n, t, d, offsetof(struct osd_config, f), lo, hi, h }

static const struct cfs_config_key keys[] = {
	KEY("listen", CFS_CFG_STR, "127.0.0.1:7500", listen, 0, 0,
	    "RPC address (host:port) clients and peers reach"),
	KEY("advertise", CFS_CFG_STR, "", advertise, 0, 0,
	    "address clients and peers reach this OSD at (default: listen)"),
	KEY("mds", CFS_CFG_STR, "127.0.0.1:7400", mds, 0, 0,
	    "MDS RPC address"),
	KEY("data", CFS_CFG_STR, "/var/lib/claudefs/osd", data, 0, 0,
	    "directory holding the chunk shards"),
	KEY("node", CFS_CFG_STR, "node1", node, 0, 0, "node name"),
	KEY("domain", CFS_CFG_STR, "", domain, 0, 0,
	    "failure domain (default: the node name)"),
	KEY("log-level", CFS_CFG_STR, "info", log_level, 0, 0,
	    "debug, info, warn or error"),
	KEY("workers", CFS_CFG_INT, "16", workers, 1, 256,
	    "RPC worker threads, each with its own io_uring"),
	KEY("heartbeat-ms", CFS_CFG_INT, "1000", heartbeat_ms, 50, 60000,
	    "interval of heartbeats to the MDS"),
	KEY("timeout-ms", CFS_CFG_INT, "4000", timeout_ms, 100, 600000,
	    "timeout of calls to peer OSDs"),
	KEY("scrub-mbps", CFS_CFG_INT, "16", scrub_mbps, 0, 100000,
	    "how fast the scrubber re-reads data at rest, MiB/s (0: never)"),
	KEY("scrub-interval-s", CFS_CFG_INT, "86400", scrub_interval_s, 1,
	    31536000, "the time from one scrub pass's start to the next's"),
	KEY("rebuild-mbps", CFS_CFG_INT, "64", rebuild_mbps, 0, 100000,
	    "how fast healing copies data to other OSDs, MiB/s (0: no limit)"),
	KEY("gc-grace-s", CFS_CFG_INT, "3600", gc_grace_s, 0, 31536000,
	    "a chunk of a deleted file (or past its end) is removed once "
	    "unchanged this long; healing passes run at least this often"),
	KEY("reserve-pct", CFS_CFG_INT, "5", reserve_pct, 0, 50,
	    "space kept for healing, deletes and changes already made: "
	    "clients' writes get ENOSPC past the rest"),
	KEY("tier", CFS_CFG_STR, "", tier, 0, 0,
	    "the object store evicted chunks' bytes are read back from "
	    "(cfs-tierd's --store; keys from $AWS_ACCESS_KEY_ID and "
	    "$AWS_SECRET_ACCESS_KEY)"),
	CFS_DAEMON_SEC_KEYS(struct osd_config, sec),
};

int main(int argc, char **argv)
{
	static struct osd osd;
	sigset_t sigs;
	int sig, rc;

	rc = cfs_daemon_setup("osd", keys, sizeof(keys) / sizeof(keys[0]),
			      &osd.cfg, offsetof(struct osd_config, log_level),
			      argc, argv, &sigs);
	if (rc == CFS_DAEMON_RUN)
		rc = cfs_daemon_identity("osd", CFS_ROLE_OSD, &osd.cfg.sec,
					 ~0u);
	if (rc != CFS_DAEMON_RUN)
		return rc;

	cfs_map_holder_init(&osd.maps);
	pthread_mutex_init(&osd.rlock, NULL);
	pthread_cond_init(&osd.rcond, NULL);
	pthread_mutex_init(&osd.room_lock, NULL);
	cfs_mono_cond_init(&osd.room_freed);
	pthread_mutex_init(&osd.heal_lock, NULL);
	pthread_mutex_init(&osd.resolved_lock, NULL);
	cfs__heal_state__init(&osd.heal);
	rc = store_open(&osd.store, osd.cfg.data);
	if (rc) {
		cfs_log_error("cannot open chunk store", "dir=%s rc=%d",
			      osd.cfg.data, rc);
		return 1;
	}
	if (*osd.cfg.tier) {
		/* a read waits on it: shorter than tierd's uploads */
		struct cfs_objstore_opts so = { .timeout_ms = 30000 };
		char err[300];

		if (cfs_objstore_open(osd.cfg.tier, &so, &osd.store.tier, err,
				      sizeof(err))) {
			cfs_log_error("cannot use the tier store", "why=\"%s\"",
				      err);
			return 1;
		}
	}
	rc = cfs_rpc_client_new(&osd.peers);
	if (!rc)
		rc = osd_service_start(&osd);
	if (rc) {
		cfs_log_error("cannot start", "listen=%s rc=%d", osd.cfg.listen,
			      rc);
		return 1;
	}
	rc = osd_register(&osd);
	if (rc)
		return 1;
	rc = cfs_map_follow(&osd.maps, osd.peers, osd.cfg.mds);
	if (!rc)
		rc = osd_heartbeat_start(&osd);
	if (!rc)
		rc = osd_recovery_start(&osd);
	if (!rc)
		rc = osd_heal_start(&osd);
	if (!rc)
		rc = osd_scrub_start(&osd);
	osd_recovery_request(&osd);	/* what we hold may be stale */
	if (rc) {
		cfs_log_error("cannot follow the cluster map", "rc=%d", rc);
		return 1;
	}
	cfs_log_info("osd started", "osd=%u listen=%s data=%s", osd.id,
		     osd.cfg.listen, osd.cfg.data);
	sigwait(&sigs, &sig);
	cfs_log_info("osd stopping", "osd=%u signal=%d", osd.id, sig);
	osd.stop = true;
	cfs_rpc_server_stop(osd.rpc);
	sem_destroy(&osd.primary_slots);
	pthread_join(osd.heartbeat, NULL);
	pthread_mutex_lock(&osd.rlock);
	pthread_cond_signal(&osd.rcond);
	pthread_mutex_unlock(&osd.rlock);
	pthread_join(osd.recovery, NULL);
	pthread_join(osd.healer, NULL);
	if (osd.scrubbing)
		pthread_join(osd.scrubber, NULL);
	cfs_map_holder_destroy(&osd.maps);
	cfs_rpc_client_free(osd.peers);
	store_close(&osd.store);
	cfs_objstore_close(osd.store.tier);
	return 0;
}
