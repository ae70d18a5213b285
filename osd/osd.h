/* The object storage daemon's shared context. Concurrency model: RPC
 * threads (one per client connection, at most `workers` handlers at
 * once, each thread with io_urings of its own) serve requests;
 * changes to one chunk are serialized by the store's per-chunk locks and
 * ordered by the chunk's acting primary, which assigns versions and
 * forwards to the replicas in parallel before acknowledging. */
#ifndef CFS_OSD_H
#define CFS_OSD_H

#include <semaphore.h>
#include <stdatomic.h>

#include "cfs/cap.h"
#include "cfs/clock.h"
#include "cfs/config.h"
#include "cfs/daemon.h"
#include "cfs/map.h"
#include "cfs/rpc.h"
#include "map.pb-c.h"
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
	long long rebuild_mbps;
	long long gc_grace_s;
	long long reserve_pct;
	char tier[CFS_CONFIG_STR_MAX];	/* where evicted chunks' bytes are */
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

	/* EC chunks whose last change here left every shard consistent,
	 * with the map epoch it ran at (ec.c, resolve): a direct-mapped
	 * cache, a miss only costs a round of version queries. */
	pthread_mutex_t resolved_lock;
	/* forwarded EC shard changes of maps older than this are refused:
	 * a primary that settles a torn stripe fences off the one before
	 * it (which may still be sending) */
	uint64_t ec_fence;
	struct osd_resolved {
		uint64_t ino, index, epoch;
	} resolved[4096];

	/* Room for writes (service.c, take_room): bytes of writes under
	 * way, and how many client writes wait for some of them to end
	 * (only those take the lock). */
	_Atomic uint64_t writing;
	_Atomic int room_waiters;
	pthread_mutex_t room_lock;
	pthread_cond_t room_freed;

	/* Healing (heal.c): what the heartbeat reports of it. */
	pthread_mutex_t heal_lock;
	Cfs__HealState heal;
};

/* One healing pass's work and counts (heal.c; ec.c heals shards). */
struct osd_heal {
	struct osd *osd;
	const Cfs__ClusterMap *m;
	uint64_t moved, rebuilt, removed, failed, orphans, collected;
	uint64_t degraded, degraded_bytes;	/* left short */
	uint64_t copied;			/* bytes, this pass */
	int64_t started_ms;
};


/* The handlers' shared state and the handlers (by method number; the
 * fuzzer calls them directly); then the RPC server. */
const struct cfs_rpc_method *osd_service_init(struct osd *osd, size_t *n);
int osd_service_start(struct osd *osd);
/* The space clients may fill (the store's, less reserve_pct) and how
 * much of it is used: what the MDS is told and df shows. */
int osd_space(struct osd *osd, uint64_t *capacity, uint64_t *used);
/* Whether this OSD may serve reads and act as a primary now. */
bool osd_serving(struct osd *osd);
/* Refuse forwarded EC shard changes of maps older than epoch from now on
 * (osd->ec_fence only grows). */
void osd_ec_fence(struct osd *osd, uint64_t epoch);
/* recovery.c: ask for (another) recovery pass; start the thread. */
void osd_recovery_request(struct osd *osd);
int osd_recovery_start(struct osd *osd);
/* heal.c: the healing thread; a copy of its state for the heartbeat. */
int osd_heal_start(struct osd *osd);
void osd_heal_state(struct osd *osd, Cfs__HealState *out);
/* Count bytes copied by a pass and sleep to keep it to rebuild_mbps. */
void osd_heal_copied(struct osd_heal *h, uint64_t bytes);
/* Sleep until `bytes` since started_ms fit in mbps MiB/s (or stop). */
void osd_pace(struct osd *osd, int64_t started_ms, uint64_t bytes,
	      long long mbps);
/* service.c: the version another OSD holds of chunk c (0: none), or
 * -errno, and (if asked) whether it can roll c back one version (EC
 * shards, osd/store.h) and the OSDs that change went to; with fence, it refuses forwarded EC changes of older maps from
 * then on. osd_push_chunk: send it our whole copy (if_newer: only over
 * an older one). */
int64_t osd_peer_version(struct osd *osd, const char *addr,
			 uint64_t map_epoch, struct chunk_id c,
			 bool *can_roll_back, struct store_takers *takers,
			 uint64_t fence);
/* The OSD_READ both use (and the scrubber's): [0, length) of chunk c
 * from the OSD at addr, as a daemon; the reply in call->rep (checked
 * present when 0 is returned); cfs_rpc_call_done(call) after. */
int osd_peer_read(struct osd *osd, const char *addr, uint64_t map_epoch,
		  struct chunk_id c, uint64_t length, uint64_t fence,
		  struct cfs_rpc_call *call);
int osd_push_chunk(struct osd *osd, const char *addr, struct chunk_id c,
		   bool if_newer, uint64_t *bytes);
/* scrub.c: the thread re-reading data at rest and repairing it. */
int osd_scrub_start(struct osd *osd);

/* Register with the MDS (retrying until it answers or stop is set). */
int osd_register(struct osd *osd);
int osd_heartbeat_start(struct osd *osd);

#endif
