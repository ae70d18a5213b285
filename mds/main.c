/* cfs-mds: the metadata server. Parses flags and config, opens the store,
 * wires the writer, service, membership and purge, and waits for a
 * signal. The logic lives in the files named for it (see README.md). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfs/daemon.h"
#include "cfs/log.h"
#include "mds.h"

#define KEY(n, t, d, f, lo, hi, h) \
	{ n, t, d, offsetof(struct mds_config, f), lo, hi, h }

static const struct cfs_config_key keys[] = {
	KEY("listen", CFS_CFG_STR, "127.0.0.1:7400", listen, 0, 0,
	    "RPC address (host:port)"),
	KEY("data", CFS_CFG_STR, "/var/lib/claudefs/mds", data, 0, 0,
	    "directory of the metadata store"),
	KEY("cluster-id", CFS_CFG_STR, "claudefs", cluster_id, 0, 0,
	    "cluster name"),
	KEY("log-level", CFS_CFG_STR, "info", log_level, 0, 0,
	    "debug, info, warn or error"),
	KEY("workers", CFS_CFG_INT, "16", workers, 1, 256,
	    "RPC worker threads"),
	KEY("replicas", CFS_CFG_INT, "3", replicas, 1, CFS_MAX_REPLICAS,
	    "copies of each chunk (fewer when fewer failure domains)"),
	KEY("pg-count", CFS_CFG_INT, "256", pg_count, 1, 1 << 20,
	    "placement groups"),
	KEY("down-after-ms", CFS_CFG_INT, "3000", down_after_ms, 100, 600000,
	    "mark an OSD down after this long without a heartbeat"),
	KEY("out-after-s", CFS_CFG_INT, "600", out_after_s, 1, 31536000,
	    "take a down OSD out of placement after this long (its data is "
	    "rebuilt elsewhere)"),
	KEY("map-size-mb", CFS_CFG_INT, "16384", map_size_mb, 16, 1 << 24,
	    "largest size of the metadata store (MiB)"),
	KEY("session-timeout-ms", CFS_CFG_INT, "10000", session_timeout_ms, 1000,
	    3600000, "drop the opens and locks of a client silent this long"),
	KEY("peers", CFS_CFG_STR, "", peers, 0, 0,
	    "the metadata replicas, host:port,... (this one's listen "
	    "address among them; empty: a lone MDS)"),
	KEY("shards", CFS_CFG_STR, "", shards, 0, 0,
	    "the metadata shards' replicas, one group per shard in shard "
	    "order, host:port,...;host:port,... (this one's listen address "
	    "in its shard's; empty: one shard, the group of peers)"),
	KEY("fault-file", CFS_CFG_STR, "", fault_file, 0, 0,
	    "for failure tests: a file naming a step of the transactions "
	    "between shards (x-prepared, x-decided, x-finished, "
	    "x-part-prepared, x-part-finished); the first MDS to reach it "
	    "removes the file and SIGKILLs itself"),
	KEY("snapshot-entries", CFS_CFG_INT, "8192", snapshot_entries, 16,
	    1 << 24, "a replica snapshots its store every this many log "
	    "entries, keeping half as many behind it (disk use stays "
	    "bounded; a replica further behind catches up from the "
	    "snapshot)"),
	KEY("join", CFS_CFG_BOOL, "false", join, 0, 0,
	    "this replica joins a running group (cfs mds add, at the "
	    "leader): it starts empty and takes the group's configuration; "
	    "peers names the group"),
	CFS_DAEMON_SEC_KEYS(struct mds_config, sec),
};

/* The key capabilities are signed with: DATA/capability.key (0600),
 * made on the first start, so that OSDs and clients keep theirs across
 * restarts. */
static int cap_key_load(struct mds *mds)
{
	char path[CFS_CONFIG_STR_MAX + 32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/capability.key", mds->cfg.data);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, mds->cap_key, CFS_CAP_KEY);
		close(fd);
		if (n == CFS_CAP_KEY)
			return 0;
		cfs_log_error("capability key is damaged", "path=%s", path);
		return -EIO;
	}
	randombytes_buf(mds->cap_key, CFS_CAP_KEY);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, mds->cap_key, CFS_CAP_KEY) != CFS_CAP_KEY ||
	    fsync(fd)) {
		cfs_log_error("cannot write the capability key", "path=%s "
			      "errno=%d", path, errno);
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static struct mds mds;
	sigset_t sigs;
	int sig, rc;

	rc = cfs_daemon_setup("mds", keys, sizeof(keys) / sizeof(keys[0]),
			      &mds.cfg, offsetof(struct mds_config, log_level),
			      argc, argv, &sigs);
	if (rc == CFS_DAEMON_RUN)
		rc = cfs_daemon_identity("mds", CFS_ROLE_MDS, &mds.cfg.sec,
					 ~0u);
	if (rc != CFS_DAEMON_RUN)
		return rc;

	if (mkdir(mds.cfg.data, 0700) && errno != EEXIST) {
		cfs_log_error("cannot create data directory", "dir=%s errno=%d",
			      mds.cfg.data, errno);
		return 1;
	}
	if (mds_xshard_config(&mds))
		return 1;
	rc = cfs_ns_open(&mds.ns, mds.cfg.data,
			 &(struct cfs_ns_opts){
				 .map_size = (size_t)mds.cfg.map_size_mb << 20,
				 .shard = mds.shard });
	if (rc) {
		cfs_log_error("cannot open metadata store", "dir=%s rc=%d",
			      mds.cfg.data, rc);
		return 1;
	}
	rc = mds_replica_check(&mds);
	if (rc)
		return 1;
	rc = cap_key_load(&mds);
	mds.ready = mds.cfg.peers[0] ? 0 : 1;	/* a lone MDS serves at once */
	if (!rc)
		rc = mds_members_load(&mds);
	if (!rc)
		rc = mds_writer_start(&mds);
	if (!rc)
		rc = mds_xshard_start(&mds);
	if (!rc)
		rc = mds_replica_start(&mds);
	cfs_rpc_set_admit(mds_admit);	/* the leader only; subtree tokens */
	if (!rc)
		rc = mds_service_start(&mds);
	if (!rc)
		rc = mds_members_start(&mds);
	if (!rc)
		rc = mds_purge_start(&mds);
	if (rc) {
		cfs_log_error("cannot start", "listen=%s rc=%d",
			      mds.cfg.listen, rc);
		return 1;
	}
	cfs_log_info("mds started", "listen=%s data=%s epoch=%lu",
		     mds.cfg.listen, mds.cfg.data, (unsigned long)mds.epoch);
	sigwait(&sigs, &sig);
	cfs_log_info("mds stopping", "signal=%d", sig);
	mds_replica_quiet(&mds);
	pthread_mutex_lock(&mds.mlock);
	mds.stop = true;	/* map long polls end */
	pthread_cond_broadcast(&mds.mchanged);
	pthread_mutex_unlock(&mds.mlock);
	cfs_rpc_server_stop(mds.rpc);
	pthread_join(mds.purger, NULL);
	mds_members_stop(&mds);
	mds_xshard_stop(&mds);
	mds_writer_stop(&mds);
	mds_replica_stop(&mds);
	cfs_rpc_client_free(mds.osdc);
	cfs_ns_close(&mds.ns);
	return 0;
}
