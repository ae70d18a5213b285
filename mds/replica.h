/* Replicas of the metadata store: a Raft group (Canonical's raft, with
 * its libuv log store under DATA/raft) of the MDSs named by `peers`.
 *
 * The state machine is the LMDB store and a log entry is one group
 * commit's changes, as the redo log records them (key now has this
 * value, key is gone). The leader runs a batch of mutations in a write
 * transaction, takes its changes and aborts it; the changes go through
 * Raft, and every replica, the leader too, applies them in a write
 * transaction of its own once a majority has them in its log. The store
 * is thus exactly the applied entries, and it keeps the index of the last
 * one (meta "raft_applied") in the same transaction, so that entries
 * seen again after a restart are skipped. A snapshot is every record of
 * the store (cfs_ns_dump); restoring one empties the store first. The
 * store's commits are not synced (cfs_ns_lazy): what a machine crash
 * takes from it, the Raft log (or a snapshot, if the store fell behind
 * one) gives back at the next start.
 *
 * Raft's bytes travel over the cluster's own secured RPC: each stream
 * the Raft library opens to a peer is a socket pair whose other end a
 * thread reads and sends on as MDS_RAFT calls; the peer writes them into
 * a socket pair of its own whose other end it gives Raft as the accepted
 * stream. A failed call closes the stream (Raft connects again).
 *
 * Serving: only the leader answers requests, once it has applied every
 * entry of earlier terms (a barrier); the others answer -EREMCHG, and
 * clients and OSDs, which name the MDS as the group of all replicas'
 * addresses, move on to the next (cfs_rpc_call). Reads are served by
 * the leader from its store: a leader cut off from the majority steps
 * down after an election timeout (Raft's check-quorum), so a read may
 * miss a change at most that old.
 *
 * Members: the first are those of `peers` (Raft ids 1.. by position;
 * the first start bootstraps the log with them); later ones join a
 * running group (`join`: no bootstrap, an id from the address) and are
 * added by the leader (cfs mds add; cfs mds remove lets one go). The
 * leader's cluster map lists every member's address, so that clients
 * and OSDs reach members their configuration does not name.
 *
 * What else a new leader must know is in the store (locks, requests
 * done) or told by the clients (their open files, mds.h), and the
 * change feed's notes travel in the entries (feed.h); the RPC reply
 * cache starts anew. */
#ifndef CFS_MDS_REPLICA_H
#define CFS_MDS_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "cfs/rpc.h"
#include "mds.pb-c.h"

struct mds;

/* Parse cfg.peers (this MDS is the member whose address is cfg.listen),
 * open DATA/raft (made with the peers as the first configuration on the
 * first start) and run Raft in a thread of its own. Without peers, no
 * replicas: this MDS always serves. */
int mds_replica_start(struct mds *mds);
/* Before anything changes the store: -EINVAL (with why, logged) if the
 * store is a lone MDS's and peers are set, or a replica's and they are
 * not; stores are not converted from one to the other. */
int mds_replica_check(struct mds *mds);
/* The MDS is stopping: commits waiting for Raft return -ESHUTDOWN now
 * (a peer may be gone for good), new ones at once. Before the RPC
 * server stops, whose handlers may wait so. */
void mds_replica_quiet(struct mds *mds);
/* After the RPC server stopped. */
void mds_replica_stop(struct mds *mds);
/* Whether this MDS serves now; with it, the count of times it became a
 * serving leader (the work a new leader does keys on it). */
bool mds_serving(struct mds *mds, uint64_t *terms);
/* Instead of committing txn, the open outer write transaction: end it
 * (aborted) and have a majority log its changes and this replica apply
 * them: 0, -EREMCHG if this MDS does not lead (or stopped leading: the
 * changes may still be applied later), -ESHUTDOWN if it is stopping,
 * or another -errno. */
int mds_replica_commit(struct mds *mds, MDB_txn *txn);
/* cfs mds add|remove at the leader: the replica at address joins the
 * group (it runs with `join`) or leaves it; 0 once the new
 * configuration is committed (an added one has caught up), -EREMCHG not
 * the leader, -EEXIST already a member, -ENOENT no such member, -EBUSY
 * another change under way (or removing the leader itself: move the
 * leadership first, by stopping it), -EHOSTUNREACH the new one did not
 * catch up (not running?), -ETIMEDOUT, -EINVAL a lone MDS. */
int mds_replica_change(struct mds *mds, bool add, const char *address);
/* MDS_RAFT: a piece of a peer's stream. */
int mds_replica_recv(struct mds *mds, const struct cfs_rpc_req *rq,
		     const Cfs__MdsRaftData *d);

/* Whether this replica was taken out of the group (cfs mds remove)
 * while it was down or cut off: a leader stops sending to a member it
 * removes, so the member is never told. One whose configuration names it
 * but that knew no leader for 5 s asks the others (at most every 5 s,
 * one call); true if their leader's members leave it out. A joiner not
 * yet added (its configuration does not name it) is never removed. */
bool mds_replica_removed(struct mds *mds);

struct mds_replica_status {
	bool replicated;	/* false: a lone MDS */
	int role;		/* RAFT_FOLLOWER, RAFT_CANDIDATE, RAFT_LEADER */
	uint64_t id, leader_id, term, commit, applied, last;
	char leader[CFS_RPC_GROUP_MAX];
	unsigned nmembers;
	struct {
		uint64_t id;
		char address[CFS_RPC_GROUP_MAX];
		uint64_t match;	/* known to the leader only */
		bool up;	/* heard from lately (the leader knows) */
	} members[CFS_RPC_GROUP_MEMBERS];
};
void mds_replica_status(struct mds *mds, struct mds_replica_status *st);
/* The leader's address as this replica knows it ("" if unknown, or
 * itself), for a caller it turns away (-EREMCHG). */
void mds_replica_leader(struct mds *mds, char *out, size_t len);

#endif
