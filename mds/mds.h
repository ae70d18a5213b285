/* The metadata server's shared context. Concurrency model: RPC threads
 * (one per client connection) answer reads from their own LMDB read
 * transactions and queue every mutation; one worker at a time (the
 * leader) runs all queued mutations as nested transactions of one outer
 * transaction and commits once (one redo log write): group commit. A
 * reply is sent only after the commit that holds its mutation is
 * durable. */
#ifndef CFS_MDS_H
#define CFS_MDS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfs/clock.h"
#include "cfs/config.h"
#include "cfs/daemon.h"
#include "cfs/map.h"
#include "cfs/rpc.h"
#include "cfs/cap.h"
#include "cfs/token.h"
#include "mds.pb-c.h"
#include "feed.h"
#include "locks.h"
#include "namespace.h"
#include "replica.h"

struct mds_config {
	char listen[CFS_CONFIG_STR_MAX];
	char data[CFS_CONFIG_STR_MAX];
	char cluster_id[CFS_CONFIG_STR_MAX];
	char log_level[CFS_CONFIG_STR_MAX];
	long long workers;
	long long replicas;
	long long pg_count;
	long long down_after_ms;
	long long out_after_s;
	long long map_size_mb;
	long long session_timeout_ms;
	long long snapshot_entries;
	char peers[CFS_CONFIG_STR_MAX];	/* the replicas, this one among them */
	char shards[CFS_CONFIG_STR_MAX];	/* every shard's replicas */
	char fault_file[CFS_CONFIG_STR_MAX];	/* tests: xshard.c's fault() */
	bool join;	/* added to a running group (cfs mds add) */
	struct cfs_daemon_sec sec;
};

struct mutation;
struct xshard;

#define MDS_SHARDS_MAX 64

struct member {
	uint32_t id;
	char addr[64], node[64], domain[64];
	uint64_t capacity, used;
	Cfs__OsdState state;
	bool in;	/* counted by placement */
	bool removed;	/* cfs osd rm: not in the map, its id never reused */
	bool out_refused;	/* down past out_after_s, but kept in (logged) */
	bool stale;	/* marked down since it was last up: it missed changes */
	uint64_t down_epoch;	/* the epoch it was marked down at, if stale */
	uint64_t up_epoch;	/* the epoch it was last marked up at */
	int64_t last_heartbeat_ms;
	int64_t down_since_ms;	/* when marked down (for out_after_s) */
	Cfs__HealState heal;	/* as its last heartbeat said */
};

/* Opens of one inode by one client (hashed by inode). */
struct open_count {
	uint64_t client, ino;
	uint32_t count;
	uint32_t writes;	/* of them, opens that may write */
	struct open_count *next;
};

/* A client that holds opens or locks, and when it was last heard. */
struct session {
	uint64_t client;
	int64_t last_ms;
	struct session *next;
};

#define SESSION_BUCKETS 256

#define OPEN_BUCKETS 4096

struct mds {
	struct mds_config cfg;
	struct cfs_ns ns;
	struct cfs_rpc_server *rpc;
	struct cfs_rpc_client *osdc;	/* calls to OSDs (purge) */
	struct mds_replica *replica;	/* NULL: a lone MDS (replica.h) */
	unsigned shard, nshards;	/* this MDS's shard, of how many */
	char (*shard_groups)[CFS_RPC_GROUP_MAX];	/* each shard's replicas */
	struct xshard *xs;		/* xshard.c; NULL: one shard */
	uint8_t cap_key[CFS_CAP_KEY];	/* signs capabilities (cfs/cap.h) */
	int64_t started_s;		/* unix seconds: began to serve */
	/* the leadership (mds_serving's count) whose take-over is done:
	 * requests are answered when it is the current one */
	_Atomic uint64_t ready;

	pthread_mutex_t wlock;		/* guards wqueue, committing, wstop */
	pthread_cond_t wdone;		/* a batch committed */
	struct mutation *wqueue;	/* waiting for the next commit */
	bool committing;		/* a leader is running a batch */
	bool wstop;

	struct cfs_lock_table locks;
	struct feed feed;		/* other clients' changes (feed.h) */

	pthread_mutex_t open_lock;	/* guards opens[], sessions[], doomed,
					 * reclaim_*, incarnation */
	struct open_count *opens[OPEN_BUCKETS];
	struct session *sessions[SESSION_BUCKETS];
	/* inodes that lost their last link while open (orphans): the last
	 * close of one frees it. Noted at the same moment, under the same
	 * lock, as the unlink asks whether it is open, so that a close
	 * racing the unlink cannot miss it. */
	uint64_t *doomed;
	size_t ndoomed, capdoomed;
	/* until when (mono ms) clients may still tell a new leader their
	 * opens (MDS_REOPEN); 0: not since this MDS took over */
	int64_t reclaim_until_ms;
	uint64_t reclaim_below_ino;	/* the inodes that existed then */
	uint64_t incarnation;	/* new at each take-over (keepalive replies) */

	pthread_mutex_t mlock;		/* guards members, nmembers, epoch,
					 * revoked, nrevoked */
	pthread_cond_t mchanged;	/* the epoch grew */
	struct member *members;
	size_t nmembers;
	uint64_t epoch;
	uint64_t placement_epoch;	/* ClusterMap.placement_epoch */
	char (*revoked)[sizeof(((struct cfs_token *)0)->id)];	/* token ids */
	size_t nrevoked;
	pthread_t monitor, purger;
	volatile bool stop;

	pthread_mutex_t tier_lock;	/* guards tier_report* */
	struct Cfs__MdsTierStatus *tier_report;	/* tierd's last (tier.c) */
	int64_t tier_report_ms;
};

/* Run fn(mds, txn, arg) as part of a group commit (in this thread or
 * the one leading the commit), for client (whose own changes its change
 * feed leaves out; 0: the MDS's); returns fn's result, or the commit's
 * error, once the commit is durable and in the change feed. A mutation
 * that touches other shards' records becomes a transaction of several
 * shards (xshard.c); fn may then run more than once (on the same
 * records it makes the same changes). */
int mds_mutate(struct mds *mds, int (*fn)(struct mds *, MDB_txn *, void *),
	       void *arg, uint64_t client);
/* writer.c: one run of fn with the view x of other shards; if fn
 * touched them (x->remote) and succeeded, decide(mds, txn, darg) says
 * whether its changes commit (0), or, without decide, nothing commits
 * and it returns MDS_SPECULATED: x holds what fn read and would write. */
#define MDS_SPECULATED 1
int mds_mutate_x(struct mds *mds, int (*fn)(struct mds *, MDB_txn *, void *),
		 void *arg, uint64_t client, struct cfs_ns_xctx *x,
		 int (*decide)(struct mds *, MDB_txn *, void *), void *darg);
int mds_writer_start(struct mds *mds);
void mds_writer_stop(struct mds *mds);

/* service.c: the state the handlers share, and the handlers (by method
 * number; the fuzzer calls them directly); then the RPC server. */
const struct cfs_rpc_method *mds_service_init(struct mds *mds, size_t *n);
int mds_service_start(struct mds *mds);
bool mds_is_open(void *mds, uint64_t ino);
/* Whether any client has ino open for writing; open at all. */
bool mds_open_for_write(struct mds *mds, uint64_t ino);
bool mds_is_open_anywhere(struct mds *mds, uint64_t ino);

/* tier.c: the tiering methods (tierd/README.md) */
struct Cfs__MdsTierScan;
struct Cfs__MdsTierBlob;
struct Cfs__MdsTierCommit;
struct Cfs__MdsTierStatus;
struct Cfs__MdsIno;
int mds_tier_scan(struct mds *mds, struct cfs_rpc_req *rq,
		  const struct Cfs__MdsTierScan *r);
int mds_tier_blob(struct mds *mds, struct cfs_rpc_req *rq,
		  const struct Cfs__MdsTierBlob *r);
int mds_tier_commit(struct mds *mds, struct cfs_rpc_req *rq,
		    const struct Cfs__MdsTierCommit *r);
int mds_tier_status(struct mds *mds, struct cfs_rpc_req *rq,
		    const struct Cfs__MdsTierStatus *r);
int mds_tier_file(struct mds *mds, struct cfs_rpc_req *rq,
		  const struct Cfs__MdsIno *r);
struct Cfs__MdsTierFile;
int mds_tier_mark(struct mds *mds, struct cfs_rpc_req *rq,
		  const struct Cfs__MdsTierFile *r);
/* The locks as the store has them, into the table in memory (a new
 * leader, a restart), each holder given a session. */
int mds_locks_load(struct mds *mds);
/* Forget the answers kept for requests done (service.c) older than the
 * reply cache keeps its own (the leader, once a minute). */
void mds_done_expire(struct mds *mds);
/* A new leader (a restart) knows no opens: forget any it had, and keep
 * every orphan for a session timeout, while the clients tell theirs
 * (MDS_REOPEN, prompted by the new incarnation their keepalives see). */
void mds_opens_forget(struct mds *mds);
/* Close the opens and drop the locks of clients silent for longer than
 * the session timeout, and free the orphans nobody has open once that
 * or the reclaim window ends (called once a second). */
void mds_sessions_expire(struct mds *mds);

/* The check every request passes first (cfs_rpc_set_admit): only a
 * serving MDS answers (the leader of its replicas; others -EREMCHG),
 * MDS_RAFT aside; then subtree tokens. */
int mds_admit(void *arg, struct cfs_rpc_req *rq, ProtobufCMessage *m);

/* subtree.c: subtree tokens. The admit check (maps 1 to the subtree's
 * root, refuses inodes outside it with EACCES); a reply's inode as the
 * caller sees it; whether an inode lies within the caller's reach. */
int mds_subtree_admit(void *arg, struct cfs_rpc_req *rq,
		      ProtobufCMessage *m);
uint64_t mds_scope_ino(const struct cfs_rpc_req *rq, uint64_t ino);
bool mds_scope_sees(struct mds *mds, const struct cfs_rpc_req *rq,
		    uint64_t ino);

/* members.c */
int mds_members_load(struct mds *mds);
int mds_members_start(struct mds *mds);
void mds_members_stop(struct mds *mds);
/* A snapshot of the map; free with mds_map_free(). */
Cfs__ClusterMap *mds_map_build(struct mds *mds);
/* The layout of files made where no directory sets one, by the map:
 * ec:4+2 once it spans 6 failure domains, else replicas. */
uint32_t mds_default_layout(const Cfs__ClusterMap *m);
/* Wait up to wait_ms for the epoch to pass after. */
void mds_map_wait(struct mds *mds, uint64_t after, int wait_ms);
/* Revoke tokens by id (16 hex digits each; -EINVAL otherwise): kept in
 * the store, in the map from the next epoch, refused by this MDS now. */
int mds_revoke(struct mds *mds, char *const *ids, size_t n);
void mds_map_free(Cfs__ClusterMap *m);
int mds_osd_register(struct mds *mds, const Cfs__MdsOsdRegister *req,
		     uint32_t *id);
int mds_osd_heartbeat(struct mds *mds, const Cfs__MdsOsdHeartbeat *hb);
/* cfs osd out|in|rm (Cfs__OsdAdminOp). */
int mds_osd_admin(struct mds *mds, uint32_t id, int op);
/* cfs mds add|remove (mds_replica_change), then a new epoch: the map
 * lists the members. */
int mds_replicas_change(struct mds *mds, bool add, const char *address);
void mds_capacity(struct mds *mds, uint64_t *capacity, uint64_t *used);

/* xshard.c: transactions of several shards (the design is at the top
 * of xshard.c). config: the shards from cfg.shards (before the store
 * opens: it is this shard's); start: calls to the other shards, and a
 * thread resolving transactions left undecided; take_over: a new
 * leader's (the reservations as its store has them, the cluster's
 * capability key for a shard other than 0). The handlers of MDS_X*. */
int mds_xshard_config(struct mds *mds);
int mds_xshard_start(struct mds *mds);
void mds_xshard_stop(struct mds *mds);
void mds_xshard_take_over(struct mds *mds);
/* Before a client's request: wait while a transaction holds the inode
 * it names first (xshard.c). */
void mds_xshard_settle(struct mds *mds, uint32_t method,
		       const ProtobufCMessage *m);
/* A shard other than 0: shard 0's map (the OSDs), with a reference
 * (NULL: none yet); put it back. */
struct cfs_map *mds_shard0_map(struct mds *mds);
void mds_shard0_map_put(struct mds *mds, struct cfs_map *m);
int mds_xread(struct mds *mds, struct cfs_rpc_req *rq,
	      const Cfs__MdsXRecords *r);
int mds_xprepare(struct mds *mds, struct cfs_rpc_req *rq,
		 const Cfs__MdsXPrepare *r);
int mds_xfinish(struct mds *mds, struct cfs_rpc_req *rq,
		const Cfs__MdsXFinish *r);
int mds_xstatus(struct mds *mds, struct cfs_rpc_req *rq,
		const Cfs__MdsXFinish *r);
int mds_xalloc(struct mds *mds, struct cfs_rpc_req *rq);

/* purge.c */
int mds_purge_start(struct mds *mds);


#endif
