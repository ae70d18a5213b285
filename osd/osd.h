/* The object storage daemon's shared context. Concurrency model: RPC
 * threads (one per client connection, at most `workers` handlers at
 * once, each thread with io_urings of its own) serve requests;
 * changes to one chunk are serialized by the store's per-chunk locks and
 * ordered by the chunk's acting primary, which assigns versions and
 * forwards to the replicas in parallel before acknowledging. */
#ifndef CFS_OSD_H
#define CFS_OSD_H

#include <semaphore.h>

#include "cfs/cap.h"
#include "cfs/clock.h"
#include "cfs/config.h"
#include "cfs/daemon.h"
#include "cfs/map.h"
#include "cfs/rpc.h"
#include "store.h"

struct osd_config {
	char listen[CFS_CONFIG_STR_MAX];
	char mds[CFS_CONFIG_STR_MAX];
	char advertise[CFS_CONFIG_STR_MAX];	/* "": listen's */
	char data[CFS_CONFIG_STR_MAX];
	char node[CFS_CONFIG_STR_MAX];
	char domain[CFS_CONFIG_STR_MAX];
	char log_level[CFS_CONFIG_STR_MAX];
	long long workers;
	long long heartbeat_ms;
	long long timeout_ms;
	long long scrub_mbps, scrub_interval_s;
	struct cfs_daemon_sec sec;
};

struct osd {
	struct osd_config cfg;
	struct store store;
	uint32_t id;			/* set by registration */
	struct cfs_map_holder maps;
	struct cfs_rpc_server *rpc;
	struct cfs_rpc_client *peers;	/* to other OSDs and the MDS */
	/* checks clients' capabilities (cfs/cap.h): from the MDS at
	 * registration, with tokens */
	uint8_t cap_key[CFS_CAP_KEY];
	volatile bool has_cap_key;
	/* Work that waits on other OSDs (a primary's change, a backfill)
	 * holds one of workers/2 slots, so that the other workers are
	 * always free to take forwarded changes: otherwise two OSDs full
	 * of primaries would wait on each other until timeouts. */
	sem_t primary_slots;
	pthread_t heartbeat, recovery, healer, scrubber;
	bool scrubbing;			/* the scrubber runs (scrub_mbps > 0) */
	volatile bool stop;

	/* Recovery: an OSD serves reads and acts as primary only once its
	 * peers have backfilled it (ready) and while the MDS keeps
	 * answering its heartbeats (a lease of 3 heartbeats). */
	pthread_mutex_t rlock;		/* guards need_recovery */
	pthread_cond_t rcond;
	bool need_recovery;
	volatile bool ready;
	volatile uint64_t recovered_epoch;	/* map epoch of the last pass */
	volatile int64_t heartbeat_ok_ms;
};

/* The handlers' shared state and the handlers (by method number; the
 * fuzzer calls them directly); then the RPC server. */
const struct cfs_rpc_method *osd_service_init(struct osd *osd, size_t *n);
int osd_service_start(struct osd *osd);
/* Whether this OSD may serve reads and act as a primary now. */
bool osd_serving(struct osd *osd);
/* recovery.c: ask for (another) recovery pass; start the thread. */
void osd_recovery_request(struct osd *osd);
int osd_recovery_start(struct osd *osd);
/* scrub.c: the thread re-reading data at rest and repairing it. */
int osd_scrub_start(struct osd *osd);

/* Register with the MDS (retrying until it answers or stop is set). */
int osd_register(struct osd *osd);
int osd_heartbeat_start(struct osd *osd);

#endif
