/* Transactions of several metadata shards.
 *
 * A shard's store holds its inodes and the names in its directories
 * (namespace.h). An operation whose records lie in more than one shard
 * (a directory made in another shard than its parent's, a rename or a
 * link between directories of two shards, the removal of a name whose
 * inode is another shard's) runs at the shard the client sent it to,
 * the coordinator, as a two-phase commit over the records themselves:
 *
 * 1. The mutation runs as any other, with a view of the other shards
 *    (struct cfs_ns_xctx): a record of theirs it lacks is fetched from
 *    its owner's leader (MDS_XREAD) and the mutation runs again, until
 *    it has all it reads. It then holds the changes it would make to
 *    each other shard's records; nothing is committed.
 * 2. Prepare: each of those shards (a participant) is sent what the
 *    coordinator read of its records and its changes (MDS_XPREPARE). It
 *    checks the records are unchanged (else ESTALE: the coordinator
 *    reads them again), reserves their inodes (a mutation there that
 *    would write one waits) and stores the intent (table xact, through
 *    its Raft log), then answers.
 * 3. Decide: the mutation runs once more on the same view (the same
 *    time, the same new inode numbers) at the coordinator; if it makes
 *    the same changes to the participants, its own commit with the
 *    decision record (table xact): that commit is the decision. Else
 *    the participants drop their parts and all begins again.
 * 4. Finish: each participant is told (MDS_XFINISH) and applies its part
 *    (freeing an inode whose last link went, unless it is open there) or
 *    drops it; the client is answered after that, and the decision
 *    record goes once every participant took it.
 *
 * Failures: a participant whose intent waits XS_ASK_MS asks the
 * coordinator (MDS_XSTATUS): committed (the record is there), pending
 * (its leader runs it now) or aborted (neither: a leader that lost
 * office before its decision committed never decides, as its successor
 * serves only once it applied every entry of earlier terms). The
 * coordinator's leader sends the outcome of every decision record older
 * than XS_ASK_MS until each participant took it. So a SIGKILL of either
 * side's leader at any step leaves the operation all done or not done.
 *
 * Conflicts: a prepare finding an inode reserved by another transaction
 * answers EAGAIN; the coordinator drops every part and tries again after
 * a random pause. A mutation of a participant's own that would write a
 * reserved inode fails -ERESTART and is run again (mds_mutate) until
 * the transaction ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfs/log.h"
#include "mds.h"
#include "redo.h"

#define XS_CALL_MS 5000		/* one call to another shard */
#define XS_WAIT_MS 30000	/* conflicts and busy records retried */
#define XS_ASK_MS 3000		/* an undecided part is asked about */
#define XS_INFLIGHT_MAX 512

enum { KIND_PART = 'P', KIND_DECIDED = 'D' };

struct intent {
	uint64_t txid;
	unsigned coordinator;
	int64_t since_ms;	/* mono */
	uint64_t *inos;
	size_t ninos;
};

struct xshard {
	struct cfs_rpc_client *rpc;
	pthread_mutex_t lock;	/* guards intents, inflight */
	struct intent *intents;
	size_t nintents, capintents;
	_Atomic size_t reserving;	/* nintents, read without the lock */
	uint64_t inflight[XS_INFLIGHT_MAX];	/* decisions being made here */
	size_t ninflight;
	/* decisions every participant took: their records go in one
	 * commit, by the resolver (not one commit each) */
	uint64_t forget[XS_INFLIGHT_MAX];
	size_t nforget;
	struct cfs_map_holder shard0;	/* shard 0's map (other shards) */
	pthread_t resolver;
	bool started;
	volatile bool stop;
};

/* Failure tests: the MDS that reaches the step cfg.fault_file names
 * first takes the file (unlink: one does) and dies at once. */
static void fault(struct mds *mds, const char *step)
{
	char buf[64];
	ssize_t n;
	int fd;

	if (!mds->cfg.fault_file[0])
		return;
	fd = open(mds->cfg.fault_file, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (strcmp(buf, step) || unlink(mds->cfg.fault_file))
		return;
	cfs_log_warn("killed at a fault step", "step=%s", step);
	raise(SIGKILL);
}

/* ---- configuration ---- */

int mds_xshard_config(struct mds *mds)
{
	char buf[CFS_CONFIG_STR_MAX], *save = NULL, *g;
	char members[CFS_RPC_GROUP_MEMBERS][CFS_RPC_GROUP_MAX];
	bool found = false;

	mds->nshards = 1;
	mds->shard = 0;
	if (!mds->cfg.shards[0])
		return 0;
	mds->shard_groups = calloc(MDS_SHARDS_MAX, sizeof(*mds->shard_groups));
	if (!mds->shard_groups)
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "%s", mds->cfg.shards);
	mds->nshards = 0;
	for (g = strtok_r(buf, ";", &save); g; g = strtok_r(NULL, ";", &save)) {
		unsigned n;

		if (mds->nshards == MDS_SHARDS_MAX || strlen(g) >= CFS_RPC_GROUP_MAX) {
			cfs_log_error("shards: too many, or a group too long",
				      "max=%d", MDS_SHARDS_MAX);
			return -EINVAL;
		}
		n = cfs_rpc_group_split(g, members);
		for (unsigned i = 0; i < n; i++)
			if (!strcmp(members[i], mds->cfg.listen)) {
				if (found) {
					cfs_log_error("shards: this MDS is in two",
						      "listen=%s", mds->cfg.listen);
					return -EINVAL;
				}
				found = true;
				mds->shard = mds->nshards;
			}
		snprintf(mds->shard_groups[mds->nshards++], CFS_RPC_GROUP_MAX,
			 "%s", g);
	}
	if (!found) {
		cfs_log_error("shards: no group names this MDS's listen address",
			      "listen=%s shards=%s", mds->cfg.listen,
			      mds->cfg.shards);
		return -EINVAL;
	}
	return 0;
}

/* ---- calls to other shards ---- */

static int shard_call(struct mds *mds, unsigned shard, uint32_t method,
		      const ProtobufCMessage *req,
		      const ProtobufCMessageDescriptor *rep_desc,
		      struct cfs_rpc_call *c)
{
	memset(c, 0, sizeof(*c));
	c->method = method;
	c->req = req;
	c->rep_desc = rep_desc;
	c->timeout_ms = XS_CALL_MS;
	if (shard >= mds->nshards)
		return -EINVAL;
	return cfs_rpc_call(mds->xs->rpc, mds->shard_groups[shard], c);
}

static void rec_to_pb(const struct cfs_ns_rec *r, Cfs__MdsXRecord *pb)
{
	cfs__mds_xrecord__init(pb);
	pb->table = r->table;
	pb->key.data = r->key;
	pb->key.len = r->klen;
	pb->prefix = r->prefix;
	pb->present = r->present;
	pb->val.data = r->val;
	pb->val.len = r->vlen;
}

static void rec_from_pb(const Cfs__MdsXRecord *pb, struct cfs_ns_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->table = pb->table;
	r->key = pb->key.data;
	r->klen = pb->key.len;
	r->prefix = pb->prefix;
	r->present = pb->present;
	r->val = pb->val.data;
	r->vlen = pb->val.len;
}

/* Ask shard for the records of rs it owns; each one read goes to out. */
static int read_records(struct mds *mds, unsigned shard,
			const struct cfs_ns_recs *rs, struct cfs_ns_recs *out)
{
	Cfs__MdsXRecords req = CFS__MDS_XRECORDS__INIT;
	Cfs__MdsXRecord *pbs = calloc(rs->n, sizeof(*pbs));
	Cfs__MdsXRecord **ptrs = calloc(rs->n, sizeof(*ptrs));
	struct cfs_rpc_call c;
	int rc = 0;

	if (!pbs || !ptrs) {
		free(pbs);
		free(ptrs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i].shard == shard) {
			rec_to_pb(&rs->r[i], &pbs[req.n_records]);
			ptrs[req.n_records] = &pbs[req.n_records];
			req.n_records++;
		}
	req.records = ptrs;
	rc = shard_call(mds, shard, CFS__MDS_METHOD__MDS_XREAD, &req.base,
			&cfs__mds_xrecords__descriptor, &c);
	if (rc == 0 && !c.rep)
		rc = -EBADMSG;
	for (size_t i = 0; rc == 0 && i < ((Cfs__MdsXRecords *)c.rep)->n_records;
	     i++) {
		struct cfs_ns_rec r;

		rec_from_pb(((Cfs__MdsXRecords *)c.rep)->records[i], &r);
		r.shard = shard;
		if (cfs_ns_owner(&mds->ns, r.table, r.key, r.klen) !=
			    (int)shard &&
		    !(shard == 0 && r.table == CFS_NS_META))	/* the key */
			rc = -EBADMSG;
		else
			rc = -cfs_ns_recs_put(out, &r);
	}
	cfs_rpc_call_done(&c);
	free(pbs);
	free(ptrs);
	return rc;
}

/* A shard that does not answer: the caller is told to ask again (a
 * client waits as for its own shard's leader). */
static int unserved(int rc)
{
	return rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -EHOSTUNREACH ||
			       rc == -ECONNRESET || rc == -ESHUTDOWN ?
		       -EREMCHG :
		       rc;
}

/* A new inode number of shard (MDS_XALLOC). */
static int alloc_remote(struct mds *mds, unsigned shard, uint64_t *ino)
{
	Cfs__MdsEmpty req = CFS__MDS_EMPTY__INIT;
	struct cfs_rpc_call c;
	int rc = shard_call(mds, shard, CFS__MDS_METHOD__MDS_XALLOC, &req.base,
			    &cfs__mds_ino__descriptor, &c);

	if (rc == 0 && (!c.rep || cfs_ino_shard(((Cfs__MdsIno *)c.rep)->ino) !=
					  shard))
		rc = -EBADMSG;
	if (rc == 0)
		*ino = ((Cfs__MdsIno *)c.rep)->ino;
	cfs_rpc_call_done(&c);
	return unserved(rc);
}

static bool is_alloc(const struct cfs_ns_rec *r)
{
	return r->table == CFS_NS_META && r->klen == 8 &&
	       !memcmp(r->key, "next_ino", 8);
}

/* Fetch every record x needs from its owner into x->base (a new inode
 * number of another shard into x->xino). */
static int fetch_needed(struct mds *mds, struct cfs_ns_xctx *x)
{
	bool asked[MDS_SHARDS_MAX] = { false };
	struct cfs_ns_recs reads = { 0 };
	int rc = 0;

	if (x->need.n == 0)
		return -EIO;	/* -EREMOTE with nothing to fetch */
	for (size_t i = 0; !rc && i < x->need.n; i++) {
		const struct cfs_ns_rec *r = &x->need.r[i];

		if (r->shard >= mds->nshards || r->shard == mds->shard)
			rc = -EIO;	/* an inode of no shard */
		else if (is_alloc(r))
			rc = alloc_remote(mds, r->shard, &x->xino);
		else
			rc = -cfs_ns_recs_put(&reads, r);
	}
	for (size_t i = 0; !rc && i < reads.n; i++) {
		unsigned s = reads.r[i].shard;

		if (asked[s])
			continue;
		asked[s] = true;
		rc = unserved(read_records(mds, s, &reads, &x->base));
	}
	cfs_ns_recs_free(&reads);
	return rc;
}

static int do_alloc(struct mds *mds, MDB_txn *txn, void *p)
{
	uint64_t *ino = p;
	int rc = cfs_ns_meta_get(&mds->ns, txn, "next_ino", ino);

	return rc ? rc : cfs_ns_meta_put(&mds->ns, txn, "next_ino", *ino + 1);
}

int mds_xalloc(struct mds *mds, struct cfs_rpc_req *rq)
{
	Cfs__MdsIno rep = CFS__MDS_INO__INIT;
	int rc;

	if (rq->peer && rq->peer->role != CFS_ROLE_MDS)
		return -EACCES;
	if (!mds->xs)
		return -EINVAL;
	rc = mds_mutate(mds, do_alloc, &rep.ino, 0);
	return rc ? rc : cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

/* Outside a mutation (lookups, listings): the records of want, now,
 * one call per shard; those of no shard are absent. */
static int fetch_now(void *arg, const struct cfs_ns_recs *want,
		     struct cfs_ns_recs *got)
{
	struct mds *mds = arg;
	bool asked[MDS_SHARDS_MAX] = { false };
	int rc = 0;

	for (size_t i = 0; !rc && i < want->n; i++) {
		struct cfs_ns_rec r = want->r[i];

		if (r.shard >= mds->nshards || r.shard == mds->shard) {
			r.present = false;
			rc = -cfs_ns_recs_put(got, &r);
		} else if (!asked[r.shard]) {
			asked[r.shard] = true;
			rc = unserved(read_records(mds, r.shard, want, got));
		}
	}
	return rc;
}

/* ---- reservations (participant) ---- */

static bool reserved(void *arg, uint64_t ino, uint64_t txid)
{
	struct xshard *xs = arg;
	bool held = false;

	if (atomic_load(&xs->reserving) == 0)
		return false;
	pthread_mutex_lock(&xs->lock);
	for (size_t i = 0; !held && i < xs->nintents; i++)
		if (xs->intents[i].txid != txid)
			for (size_t j = 0; j < xs->intents[i].ninos; j++)
				if (xs->intents[i].inos[j] == ino) {
					held = true;
					break;
				}
	pthread_mutex_unlock(&xs->lock);
	return held;
}

/* A client's request about an inode a transaction holds waits until it
 * ends (at most XS_ASK_MS, then is served as things are): the
 * transaction's changes show on every shard at once. */
void mds_xshard_settle(struct mds *mds, uint32_t method,
		       const ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *f;
	int64_t until;
	uint64_t ino;

	if (!mds->xs || atomic_load(&mds->xs->reserving) == 0 || !m ||
	    method >= CFS__MDS_METHOD__MDS_KEEPALIVE)
		return;
	f = protobuf_c_message_descriptor_get_field(m->descriptor, 2);
	if (!f || f->type != PROTOBUF_C_TYPE_UINT64)
		return;
	memcpy(&ino, (const char *)m + f->offset, sizeof(ino));
	until = cfs_mono_ms() + XS_ASK_MS;
	while (reserved(mds->xs, ino, 0) && cfs_mono_ms() < until &&
	       !mds->xs->stop)
		usleep(1000);
}

static size_t intent_find(const struct xshard *xs, uint64_t txid)
{
	size_t i = 0;

	while (i < xs->nintents && xs->intents[i].txid != txid)
		i++;
	return i;
}

/* Add an intent (inos copied): 0, -EAGAIN (another holds one of its
 * inodes) or -ENOMEM. */
static int intent_add(struct xshard *xs, uint64_t txid, unsigned coord,
		      const uint64_t *inos, size_t n)
{
	struct intent in = { txid, coord, cfs_mono_ms(), NULL, n };
	int rc = 0;

	pthread_mutex_lock(&xs->lock);
	for (size_t i = 0; !rc && i < xs->nintents; i++)
		for (size_t j = 0; !rc && j < xs->intents[i].ninos; j++)
			for (size_t k = 0; k < n; k++)
				if (xs->intents[i].inos[j] == inos[k]) {
					rc = -EAGAIN;
					break;
				}
	if (!rc && xs->nintents == xs->capintents) {
		size_t cap = xs->capintents ? xs->capintents * 2 : 16;
		struct intent *a = realloc(xs->intents, cap * sizeof(*a));

		if (a) {
			xs->intents = a;
			xs->capintents = cap;
		} else {
			rc = -ENOMEM;
		}
	}
	if (!rc) {
		in.inos = malloc((n ? n : 1) * sizeof(*inos));
		if (!in.inos)
			rc = -ENOMEM;
	}
	if (!rc) {
		memcpy(in.inos, inos, n * sizeof(*inos));
		xs->intents[xs->nintents++] = in;
		atomic_store(&xs->reserving, xs->nintents);
	}
	pthread_mutex_unlock(&xs->lock);
	return rc;
}

static void intent_drop(struct xshard *xs, uint64_t txid)
{
	size_t i;

	pthread_mutex_lock(&xs->lock);
	i = intent_find(xs, txid);
	if (i < xs->nintents) {
		free(xs->intents[i].inos);
		xs->intents[i] = xs->intents[--xs->nintents];
		atomic_store(&xs->reserving, xs->nintents);
	}
	pthread_mutex_unlock(&xs->lock);
}

static void intents_clear(struct xshard *xs)
{
	pthread_mutex_lock(&xs->lock);
	for (size_t i = 0; i < xs->nintents; i++)
		free(xs->intents[i].inos);
	xs->nintents = 0;
	atomic_store(&xs->reserving, 0);
	pthread_mutex_unlock(&xs->lock);
}

/* Note txid as being decided here (false: too many are), or no more. */
static bool inflight(struct xshard *xs, uint64_t txid, bool on)
{
	bool noted = true;

	pthread_mutex_lock(&xs->lock);
	if (on && xs->ninflight < XS_INFLIGHT_MAX) {
		xs->inflight[xs->ninflight++] = txid;
	} else if (on) {
		noted = false;
	} else {
		for (size_t i = 0; i < xs->ninflight; i++)
			if (xs->inflight[i] == txid) {
				xs->inflight[i] = xs->inflight[--xs->ninflight];
				break;
			}
	}
	pthread_mutex_unlock(&xs->lock);
	return noted;
}

static bool is_inflight(struct xshard *xs, uint64_t txid)
{
	bool on = false;

	pthread_mutex_lock(&xs->lock);
	for (size_t i = 0; !on && i < xs->ninflight; i++)
		on = xs->inflight[i] == txid;
	pthread_mutex_unlock(&xs->lock);
	return on;
}

/* ---- the xact table ---- */

static MDB_val xact_key(uint8_t k[9], uint64_t txid, char kind)
{
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(txid >> (56 - 8 * i));
	k[8] = (uint8_t)kind;
	return (MDB_val){ .mv_size = 9, .mv_data = k };
}

static uint64_t xact_txid(const MDB_val *k)
{
	uint64_t t = 0;

	for (int i = 0; i < 8; i++)
		t = t << 8 | ((const uint8_t *)k->mv_data)[i];
	return t;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A part's record: coordinator (4), inode count (4), the inodes (8
 * each), the changes. A decision's: when (8, wall ms), participant
 * count (4), the participants (4 each). */
struct part {
	uint32_t coordinator;
	uint32_t ninos;
	const uint64_t *inos;	/* unaligned: copy before use */
	const uint8_t *changes;
	size_t clen;
};

static int part_parse(const MDB_val *v, struct part *p)
{
	const uint8_t *b = v->mv_data;

	if (v->mv_size < 8)
		return -EBADMSG;
	memcpy(&p->coordinator, b, 4);
	memcpy(&p->ninos, b + 4, 4);
	if ((v->mv_size - 8) / 8 < p->ninos)
		return -EBADMSG;
	p->inos = (const uint64_t *)(b + 8);
	p->changes = b + 8 + 8 * (size_t)p->ninos;
	p->clen = v->mv_size - 8 - 8 * (size_t)p->ninos;
	return 0;
}

/* ---- the participant's handlers ---- */

int mds_xread(struct mds *mds, struct cfs_rpc_req *rq,
	      const Cfs__MdsXRecords *r)
{
	Cfs__MdsXRecords rep = CFS__MDS_XRECORDS__INIT;
	Cfs__MdsXRecord *pbs = calloc(r->n_records + 1, sizeof(*pbs));
	Cfs__MdsXRecord **ptrs = calloc(r->n_records + 1, sizeof(*ptrs));
	struct cfs_ns_rec *recs = calloc(r->n_records + 1, sizeof(*recs));
	MDB_txn *txn = NULL;
	int rc = 0;

	if (rq->peer && rq->peer->role != CFS_ROLE_MDS)
		rc = -EACCES;
	if (!rc && (!pbs || !ptrs || !recs))
		rc = -ENOMEM;
	if (!rc)
		rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);
	for (size_t i = 0; !rc && i < r->n_records; i++) {
		struct cfs_ns_rec *q = &recs[i];

		rec_from_pb(r->records[i], q);
		q->val = NULL;
		/* this shard's records; of the rest, only the cluster's
		 * capability key (shard 0's, taken by the others) */
		if (cfs_ns_owner(&mds->ns, q->table, q->key, q->klen) !=
			    (int)mds->shard &&
		    !(q->table == CFS_NS_META && q->klen == 14 &&
		      !memcmp(q->key, "capability_key", 14)))
			rc = -EINVAL;
		else
			rc = cfs_ns_read(&mds->ns, txn, q);
		rec_to_pb(q, &pbs[i]);
		ptrs[i] = &pbs[i];
	}
	cfs_ns_abort(txn);
	if (!rc) {
		rep.records = ptrs;
		rep.n_records = r->n_records;
		rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
	}
	for (size_t i = 0; recs && i < r->n_records; i++)
		free(recs[i].val);
	free(recs);
	free(pbs);
	free(ptrs);
	return rc;
}

struct prepare {
	const Cfs__MdsXPrepare *r;
	uint64_t *inos;
	size_t ninos;
	bool added;
};

static int collect_ino(void *arg, unsigned table, MDB_val *key, MDB_val *val)
{
	struct prepare *p = arg;
	struct cfs_ns_rec rec = { .table = table, .key = key->mv_data,
				  .klen = key->mv_size };

	(void)val;
	p->inos[p->ninos++] = cfs_ns_rec_ino(&rec);
	return 0;
}

static int count_change(void *arg, unsigned table, MDB_val *key,
			MDB_val *val)
{
	struct mds *mds = ((void **)arg)[0];
	size_t *n = ((void **)arg)[1];

	(void)val;
	if (cfs_ns_owner(&mds->ns, table, key->mv_data, key->mv_size) !=
	    (int)mds->shard)
		return EINVAL;
	(*n)++;
	return 0;
}

static int do_prepare(struct mds *mds, MDB_txn *txn, void *arg)
{
	struct prepare *p = arg;
	const Cfs__MdsXPrepare *r = p->r;
	uint8_t kb[9], *val;
	MDB_val k = xact_key(kb, r->txid, KIND_PART), v;
	size_t nchanges = 0;
	int rc;

	if (mdb_get(txn, mds->ns.xact, &k, &v) == 0)
		return 0;	/* prepared already (a retried call) */
	rc = cfs_redo_decode(r->changes.data, r->changes.len, count_change,
			     (void *[]){ mds, &nchanges });
	if (rc)
		return -EINVAL;
	p->inos = calloc(r->n_expect + nchanges + 1, sizeof(*p->inos));
	if (!p->inos)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_expect; i++) {
		struct cfs_ns_rec want, now = { 0 };

		rec_from_pb(r->expect[i], &want);
		if (cfs_ns_owner(&mds->ns, want.table, want.key, want.klen) !=
		    (int)mds->shard)
			return -EINVAL;
		now.table = want.table;
		now.key = want.key;
		now.klen = want.klen;
		now.prefix = want.prefix;
		rc = cfs_ns_read(&mds->ns, txn, &now);
		if (!rc && (now.present != want.present ||
			    (!want.prefix && now.present &&
			     (now.vlen != want.vlen ||
			      memcmp(now.val, want.val, now.vlen)))))
			rc = -ESTALE;
		free(now.val);
		if (rc)
			return rc;
		p->inos[p->ninos++] = cfs_ns_rec_ino(&want);
	}
	rc = cfs_redo_decode(r->changes.data, r->changes.len, collect_ino, p);
	if (rc)
		return -EINVAL;
	rc = intent_add(mds->xs, r->txid, r->coordinator, p->inos, p->ninos);
	if (rc)
		return rc;
	p->added = true;
	val = malloc(8 + 8 * p->ninos + r->changes.len);
	if (!val)
		return -ENOMEM;
	memcpy(val, &r->coordinator, 4);
	memcpy(val + 4, &(uint32_t){ (uint32_t)p->ninos }, 4);
	memcpy(val + 8, p->inos, 8 * p->ninos);
	memcpy(val + 8 + 8 * p->ninos, r->changes.data, r->changes.len);
	v = (MDB_val){ .mv_size = 8 + 8 * p->ninos + r->changes.len,
		       .mv_data = val };
	rc = cfs_ns_put(&mds->ns, txn, mds->ns.xact, &k, &v);
	free(val);
	return rc;
}

int mds_xprepare(struct mds *mds, struct cfs_rpc_req *rq,
		 const Cfs__MdsXPrepare *r)
{
	struct prepare p = { .r = r };
	int rc;

	if (rq->peer && rq->peer->role != CFS_ROLE_MDS)
		return -EACCES;
	if (!mds->xs || r->coordinator >= mds->nshards ||
	    r->coordinator == mds->shard)
		return -EINVAL;
	rc = mds_mutate(mds, do_prepare, &p, 0);
	if (rc && p.added)
		intent_drop(mds->xs, r->txid);
	free(p.inos);
	if (rc == 0)
		fault(mds, "x-part-prepared");
	return rc ? rc : cfs_rpc_reply(rq, NULL, NULL, 0);
}

struct finish {
	uint64_t txid;
	bool commit;
	struct cfs_ns_xctx *x;
};

/* An inode of this shard that a part left an orphan: freed unless open
 * here (then its last close frees it). */
static int release_orphan(void *arg, unsigned table, MDB_val *key,
			  MDB_val *val)
{
	struct mds *mds = ((void **)arg)[0];
	MDB_txn *txn = ((void **)arg)[1];
	struct cfs_ns_rec rec = { .table = table, .key = key->mv_data,
				  .klen = key->mv_size };
	uint64_t ino = cfs_ns_rec_ino(&rec);

	if (table != CFS_NS_ORPHANS || !val || mds_is_open(mds, ino))
		return 0;
	return -cfs_ns_release_orphan(&mds->ns, txn, ino);
}

static int do_finish(struct mds *mds, MDB_txn *txn, void *arg)
{
	struct finish *f = arg;
	uint8_t kb[9];
	MDB_val k = xact_key(kb, f->txid, KIND_PART), v;
	struct part p;
	uint8_t *copy;
	int rc = cfs_ns_errno(mdb_get(txn, mds->ns.xact, &k, &v));

	if (rc == -ENOENT)
		return 0;	/* finished already */
	if (!rc)
		rc = part_parse(&v, &p);
	if (rc)
		return rc;
	copy = malloc(p.clen + 1);	/* v goes with the first write */
	if (!copy)
		return -ENOMEM;
	memcpy(copy, p.changes, p.clen);
	if (f->commit) {
		f->x->txid = f->txid;
		rc = cfs_ns_apply_changes(&mds->ns, txn, copy, p.clen);
		if (!rc)
			rc = cfs_redo_decode(copy, p.clen, release_orphan,
					     (void *[]){ mds, txn });
	}
	free(copy);
	if (!rc)
		rc = cfs_ns_del(&mds->ns, txn, mds->ns.xact, &k);
	return rc;
}

static int finish_local(struct mds *mds, uint64_t txid, bool commit)
{
	struct cfs_ns_xctx x = { 0 };
	struct finish f = { txid, commit, &x };
	int rc = mds_mutate_x(mds, do_finish, &f, 0, &x, NULL, NULL);

	cfs_ns_xctx_free(&x);
	if (rc == 0)
		intent_drop(mds->xs, txid);
	else
		cfs_log_warn("cannot finish a transaction's part",
			     "txid=%016lx commit=%d rc=%d",
			     (unsigned long)txid, commit, rc);
	return rc;
}

int mds_xfinish(struct mds *mds, struct cfs_rpc_req *rq,
		const Cfs__MdsXFinish *r)
{
	int rc;

	if (rq->peer && rq->peer->role != CFS_ROLE_MDS)
		return -EACCES;
	if (!mds->xs)
		return -EINVAL;
	rc = finish_local(mds, r->txid, r->commit);
	if (rc == 0 && r->commit)
		fault(mds, "x-part-finished");
	return rc ? rc : cfs_rpc_reply(rq, NULL, NULL, 0);
}

int mds_xstatus(struct mds *mds, struct cfs_rpc_req *rq,
		const Cfs__MdsXFinish *r)
{
	Cfs__MdsXStatus rep = CFS__MDS_XSTATUS__INIT;
	uint8_t kb[9];
	MDB_val k = xact_key(kb, r->txid, KIND_DECIDED), v;
	MDB_txn *txn;
	int rc;

	if (rq->peer && rq->peer->role != CFS_ROLE_MDS)
		return -EACCES;
	if (!mds->xs)
		return -EINVAL;
	/* in flight first: a decision made after the look is then seen */
	if (is_inflight(mds->xs, r->txid)) {
		rep.state = CFS__MDS_XSTATE__MDS_X_PENDING;
	} else {
		rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);
		if (rc)
			return rc;
		rc = mdb_get(txn, mds->ns.xact, &k, &v);
		cfs_ns_abort(txn);
		if (rc && rc != MDB_NOTFOUND)
			return cfs_ns_errno(rc);
		rep.state = rc == 0 ? CFS__MDS_XSTATE__MDS_X_COMMITTED :
				      CFS__MDS_XSTATE__MDS_X_ABORTED;
	}
	return cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

/* ---- the coordinator ---- */

struct xt {
	uint64_t txid;
	size_t nparts;
	unsigned parts[MDS_SHARDS_MAX];
	uint8_t *changes[MDS_SHARDS_MAX];
	size_t clen[MDS_SHARDS_MAX];
	struct cfs_ns_xctx *x;
	bool decided;	/* the decision record was written (the commit
			 * holding it may still have failed) */
};

static void xt_free(struct xt *t)
{
	for (size_t i = 0; i < t->nparts; i++)
		free(t->changes[i]);
	t->nparts = 0;
}

static void add_part(struct xt *t, unsigned s)
{
	for (size_t i = 0; i < t->nparts; i++)
		if (t->parts[i] == s)
			return;
	t->parts[t->nparts++] = s;
}

static int prepare_part(struct mds *mds, struct xt *t, size_t i)
{
	const struct cfs_ns_recs *base = &t->x->base;
	Cfs__MdsXPrepare req = CFS__MDS_XPREPARE__INIT;
	Cfs__MdsXRecord *pbs = calloc(base->n + 1, sizeof(*pbs));
	Cfs__MdsXRecord **ptrs = calloc(base->n + 1, sizeof(*ptrs));
	struct cfs_rpc_call c;
	int rc;

	if (!pbs || !ptrs) {
		free(pbs);
		free(ptrs);
		return -ENOMEM;
	}
	for (size_t j = 0; j < base->n; j++)
		if (base->r[j].shard == t->parts[i]) {
			rec_to_pb(&base->r[j], &pbs[req.n_expect]);
			ptrs[req.n_expect] = &pbs[req.n_expect];
			req.n_expect++;
		}
	req.expect = ptrs;
	req.txid = t->txid;
	req.coordinator = mds->shard;
	req.changes.data = t->changes[i];
	req.changes.len = t->clen[i];
	rc = shard_call(mds, t->parts[i], CFS__MDS_METHOD__MDS_XPREPARE,
			&req.base, NULL, &c);
	cfs_rpc_call_done(&c);
	free(pbs);
	free(ptrs);
	return unserved(rc);
}

static int finish_part(struct mds *mds, unsigned shard, uint64_t txid,
		       bool commit)
{
	Cfs__MdsXFinish req = CFS__MDS_XFINISH__INIT;
	struct cfs_rpc_call c;
	int rc;

	req.txid = txid;
	req.commit = commit;
	rc = shard_call(mds, shard, CFS__MDS_METHOD__MDS_XFINISH, &req.base,
			NULL, &c);
	cfs_rpc_call_done(&c);
	return rc;
}

/* The second run's changes to the participants are those prepared: its
 * own commit with the decision record. */
static int decide(struct mds *mds, MDB_txn *txn, void *arg)
{
	struct xt *t = arg;
	uint8_t kb[9], *val;
	MDB_val k = xact_key(kb, t->txid, KIND_DECIDED), v;
	int rc = 0;

	for (size_t i = 0; i < t->x->writes.n; i++) {
		size_t j = 0;

		while (j < t->nparts && t->parts[j] != t->x->writes.r[i].shard)
			j++;
		if (j == t->nparts)
			return -ESTALE;	/* writes to a shard not prepared */
	}
	for (size_t i = 0; !rc && i < t->nparts; i++) {
		uint8_t *ch;
		size_t len;

		rc = cfs_ns_encode(&t->x->writes, t->parts[i], &ch, &len);
		if (!rc && (len != t->clen[i] ||
			    (len && memcmp(ch, t->changes[i], len))))
			rc = -ESTALE;
		free(ch);
	}
	if (rc)
		return rc;
	val = malloc(12 + 4 * t->nparts);
	if (!val)
		return -ENOMEM;
	memcpy(val, &(int64_t){ wall_ms() }, 8);
	memcpy(val + 8, &(uint32_t){ (uint32_t)t->nparts }, 4);
	for (size_t i = 0; i < t->nparts; i++)
		memcpy(val + 12 + 4 * i, &(uint32_t){ t->parts[i] }, 4);
	v = (MDB_val){ .mv_size = 12 + 4 * t->nparts, .mv_data = val };
	rc = cfs_ns_put(&mds->ns, txn, mds->ns.xact, &k, &v);
	free(val);
	if (!rc)
		t->decided = true;
	return rc;
}

struct forget {
	const uint64_t *txids;
	size_t n;
};

static int do_forget(struct mds *mds, MDB_txn *txn, void *arg)
{
	const struct forget *f = arg;
	int rc = 0;

	for (size_t i = 0; !rc && i < f->n; i++) {
		uint8_t kb[9];
		MDB_val k = xact_key(kb, f->txids[i], KIND_DECIDED);

		rc = cfs_ns_del(&mds->ns, txn, mds->ns.xact, &k);
	}
	return rc;
}

static void forget_now(struct mds *mds, const uint64_t *txids, size_t n)
{
	struct cfs_ns_xctx x = { 0 };
	struct forget f = { txids, n };

	if (n)
		mds_mutate_x(mds, do_forget, &f, 0, &x, NULL, NULL);
	cfs_ns_xctx_free(&x);
}

/* The decisions every participant took, forgotten together. */
static void forget_taken(struct mds *mds)
{
	struct xshard *xs = mds->xs;
	uint64_t txids[XS_INFLIGHT_MAX];
	size_t n;

	pthread_mutex_lock(&xs->lock);
	n = xs->nforget;
	memcpy(txids, xs->forget, n * sizeof(*txids));
	xs->nforget = 0;
	pthread_mutex_unlock(&xs->lock);
	forget_now(mds, txids, n);
}

/* Tell every participant the outcome; once all took a commit, forget
 * the decision. */
static void finish_parts(struct mds *mds, const unsigned *parts, size_t n,
			 uint64_t txid, bool commit)
{
	size_t took = 0;

	for (size_t i = 0; i < n; i++)
		took += finish_part(mds, parts[i], txid, commit) == 0;
	if (commit && took == n) {
		struct xshard *xs = mds->xs;
		bool full;

		pthread_mutex_lock(&xs->lock);
		full = xs->nforget == XS_INFLIGHT_MAX;
		if (!full)
			xs->forget[xs->nforget++] = txid;
		pthread_mutex_unlock(&xs->lock);
		if (full)
			forget_now(mds, &txid, 1);
	}
}

/* Prepare, decide, finish: 0 or fn's error, -ESTALE or -EAGAIN to
 * run it all again, or another -errno. */
static int transact(struct mds *mds,
		    int (*fn)(struct mds *, MDB_txn *, void *), void *arg,
		    uint64_t client, struct cfs_ns_xctx *x)
{
	struct xt t = { .x = x };
	size_t prepared = 0;
	int rc = 0;

	do
		randombytes_buf(&t.txid, sizeof(t.txid));
	while ((t.txid & ((1ull << CFS_SHARD_SHIFT) - 1)) == 0);
	t.txid = (t.txid & ((1ull << CFS_SHARD_SHIFT) - 1)) |
		 (uint64_t)mds->shard << CFS_SHARD_SHIFT;
	for (size_t i = 0; i < x->base.n; i++)
		add_part(&t, x->base.r[i].shard);
	for (size_t i = 0; i < x->writes.n; i++)
		add_part(&t, x->writes.r[i].shard);
	for (size_t i = 0; !rc && i < t.nparts; i++)
		rc = cfs_ns_encode(&x->writes, t.parts[i], &t.changes[i],
				   &t.clen[i]);
	/* unnoted, a participant asking would be told it was aborted */
	if (!rc && !inflight(mds->xs, t.txid, true))
		rc = -EAGAIN;
	if (rc) {
		xt_free(&t);
		return rc;
	}
	while (!rc && prepared < t.nparts) {
		rc = prepare_part(mds, &t, prepared);
		if (!rc)
			prepared++;
	}
	if (!rc) {
		fault(mds, "x-prepared");
		rc = mds_mutate_x(mds, fn, arg, client, x, decide, &t);
		if (rc == -EREMOTE)	/* it read something new: again */
			rc = -ESTALE;
	}
	if (rc && !t.decided) {
		/* a part whose prepare failed may still have been stored */
		finish_parts(mds, t.parts, t.nparts, t.txid, false);
	} else if (rc == 0) {
		fault(mds, "x-decided");
		finish_parts(mds, t.parts, t.nparts, t.txid, true);
		fault(mds, "x-finished");
	}
	/* decided but not committed here: the next leader has the record
	 * or never will, and the participants ask it; this MDS, should it
	 * still answer meanwhile, says pending (until it takes over again) */
	if (!(rc && t.decided))
		inflight(mds->xs, t.txid, false);
	xt_free(&t);
	return rc;
}

int mds_mutate(struct mds *mds, int (*fn)(struct mds *, MDB_txn *, void *),
	       void *arg, uint64_t client)
{
	struct cfs_ns_xctx x = { 0 };
	int64_t start = 0;
	unsigned tries = 0;
	int rc = mds_mutate_x(mds, fn, arg, client, &x, NULL, NULL);

	while (rc == -EREMOTE || rc == MDS_SPECULATED || rc == -ERESTART) {
		if (!start)
			start = cfs_mono_ms();
		if (rc == -EREMOTE) {
			rc = fetch_needed(mds, &x);
		} else if (rc == MDS_SPECULATED) {
			rc = transact(mds, fn, arg, client, &x);
			if (rc == -ESTALE || rc == -EAGAIN) {
				/* changed or held meanwhile: read afresh */
				cfs_ns_recs_free(&x.base);
				rc = -ERESTART;
			}
			if (rc == 0)
				break;
		}
		if (rc == -ERESTART) {
			/* a reserved inode, or a conflict: a random pause */
			if (cfs_mono_ms() - start > XS_WAIT_MS) {
				rc = -EAGAIN;
				break;
			}
			usleep(1000 + randombytes_uniform(1000u << (tries < 5 ?
								 tries : 5)));
			tries++;
			rc = 0;
		}
		if (rc)
			break;
		rc = mds_mutate_x(mds, fn, arg, client, &x, NULL, NULL);
	}
	cfs_ns_xctx_free(&x);
	return rc;
}

/* ---- a new leader; the resolver ---- */

static int load_intents(struct mds *mds)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);

	intents_clear(mds->xs);
	if (rc)
		return rc;
	rc = mdb_cursor_open(txn, mds->ns.xact, &cur);
	for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct part p;
		uint64_t *inos;

		if (k.mv_size != 9 || ((uint8_t *)k.mv_data)[8] != KIND_PART ||
		    part_parse(&v, &p))
			continue;
		inos = malloc((p.ninos + 1) * sizeof(*inos));
		if (!inos)
			break;
		memcpy(inos, p.inos, 8 * (size_t)p.ninos);
		/* asked about at once: the last leader may have died
		 * waiting */
		if (intent_add(mds->xs, xact_txid(&k), p.coordinator, inos,
			       p.ninos) == 0)
			mds->xs->intents[mds->xs->nintents - 1].since_ms -=
				XS_ASK_MS;
		free(inos);
	}
	if (rc != MDB_NOTFOUND)
		cfs_log_error("cannot load the transactions' parts", "rc=%d", rc);
	mdb_cursor_close(cur);
	cfs_ns_abort(txn);
	return 0;
}

static void resend_decisions(struct mds *mds, int64_t min_ms);

/* Shard 0 keeps the cluster's capability key; the others take it. */
static int cap_key_fetch(struct mds *mds, uint8_t key[CFS_CAP_KEY])
{
	struct cfs_ns_rec q = { .table = CFS_NS_META, .shard = 0,
				.key = (uint8_t *)"capability_key", .klen = 14 };
	struct cfs_ns_recs one = { .r = &q, .n = 1, .cap = 1 }, out = { 0 };
	int rc = read_records(mds, 0, &one, &out);

	if (rc == 0 && (out.n != 1 || !out.r[0].present ||
			out.r[0].vlen != CFS_CAP_KEY))
		rc = -EAGAIN;
	if (rc == 0)
		memcpy(key, out.r[0].val, CFS_CAP_KEY);
	cfs_ns_recs_free(&out);
	return rc;
}

static int do_cap_key(struct mds *mds, MDB_txn *txn, void *key)
{
	MDB_val k = { 14, "capability_key" }, v = { CFS_CAP_KEY, key };

	return cfs_ns_put(&mds->ns, txn, mds->ns.meta, &k, &v);
}

void mds_xshard_take_over(struct mds *mds)
{
	uint8_t key[CFS_CAP_KEY];
	int rc = -EAGAIN;

	if (!mds->xs)
		return;
	pthread_mutex_lock(&mds->xs->lock);
	mds->xs->ninflight = 0;	/* the store says what was decided */
	pthread_mutex_unlock(&mds->xs->lock);
	load_intents(mds);
	/* what the last leader decided is applied everywhere before this
	 * one answers (a retry of that request is answered as done) */
	resend_decisions(mds, 0);
	if (mds->shard == 0)
		return;
	/* until shard 0 answers, this shard cannot sign capabilities
	 * the OSDs accept: it waits (and says so) */
	for (int tries = 0; !mds->xs->stop; tries++) {
		rc = cap_key_fetch(mds, key);
		if (rc == 0)
			break;
		if (tries % 20 == 0)
			cfs_log_warn("waiting for shard 0's capability key",
				     "rc=%d", rc);
		usleep(250 * 1000);
	}
	if (rc == 0 && memcmp(key, mds->cap_key, CFS_CAP_KEY)) {
		struct cfs_ns_xctx x = { 0 };

		rc = mds_mutate_x(mds, do_cap_key, key, 0, &x, NULL, NULL);
		cfs_ns_xctx_free(&x);
		if (rc == 0)
			memcpy(mds->cap_key, key, CFS_CAP_KEY);
	}
}

/* Parts waiting too long: ask their coordinators. */
static void resolve_parts(struct mds *mds)
{
	struct xshard *xs = mds->xs;
	uint64_t txids[64];
	unsigned coords[64];
	size_t n = 0;

	pthread_mutex_lock(&xs->lock);
	for (size_t i = 0; i < xs->nintents && n < 64; i++)
		if (cfs_mono_ms() - xs->intents[i].since_ms >= XS_ASK_MS) {
			txids[n] = xs->intents[i].txid;
			coords[n++] = xs->intents[i].coordinator;
		}
	pthread_mutex_unlock(&xs->lock);
	for (size_t i = 0; i < n && !xs->stop; i++) {
		Cfs__MdsXFinish req = CFS__MDS_XFINISH__INIT;
		struct cfs_rpc_call c;
		int rc;

		req.txid = txids[i];
		rc = shard_call(mds, coords[i], CFS__MDS_METHOD__MDS_XSTATUS,
				&req.base, &cfs__mds_xstatus__descriptor, &c);
		if (rc == 0 && c.rep) {
			Cfs__MdsXState st = ((Cfs__MdsXStatus *)c.rep)->state;

			if (st != CFS__MDS_XSTATE__MDS_X_PENDING)
				finish_local(mds, txids[i],
					     st == CFS__MDS_XSTATE__MDS_X_COMMITTED);
		}
		cfs_rpc_call_done(&c);
	}
}

/* Decisions at least min_ms old: send them again. */
static void resend_decisions(struct mds *mds, int64_t min_ms)
{
	struct {
		uint64_t txid;
		unsigned parts[MDS_SHARDS_MAX];
		size_t n;
	} d[16];
	size_t nd = 0;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);

	if (rc)
		return;
	rc = mdb_cursor_open(txn, mds->ns.xact, &cur);
	for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	     rc == 0 && nd < 16; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		int64_t when;
		uint32_t n, p;

		if (k.mv_size != 9 || ((uint8_t *)k.mv_data)[8] != KIND_DECIDED ||
		    v.mv_size < 12)
			continue;
		memcpy(&when, v.mv_data, 8);
		memcpy(&n, (uint8_t *)v.mv_data + 8, 4);
		if (wall_ms() - when < min_ms || n > MDS_SHARDS_MAX ||
		    v.mv_size < 12 + 4 * (size_t)n)
			continue;
		d[nd].txid = xact_txid(&k);
		d[nd].n = n;
		for (uint32_t i = 0; i < n; i++) {
			memcpy(&p, (uint8_t *)v.mv_data + 12 + 4 * i, 4);
			d[nd].parts[i] = p;
		}
		nd++;
	}
	if (rc == 0 || rc == MDB_NOTFOUND)
		mdb_cursor_close(cur);
	cfs_ns_abort(txn);
	for (size_t i = 0; i < nd && !mds->xs->stop; i++)
		finish_parts(mds, d[i].parts, d[i].n, d[i].txid, true);
}

struct cfs_map *mds_shard0_map(struct mds *mds)
{
	return mds->xs ? cfs_map_get(&mds->xs->shard0) : NULL;
}

void mds_shard0_map_put(struct mds *mds, struct cfs_map *m)
{
	if (m)
		cfs_map_put(&mds->xs->shard0, m);
}

/* The layout of new files where no directory sets one comes from the
 * map shard 0 keeps (the OSDs register there). */
static void follow_shard0(struct mds *mds)
{
	struct cfs_map *m = mds_shard0_map(mds);

	if (m)
		mds->ns.default_layout = mds_default_layout(m->pb);
	mds_shard0_map_put(mds, m);
}

static void *resolver_main(void *p)
{
	struct mds *mds = p;
	uint64_t terms;

	while (!mds->xs->stop) {
		if (mds_serving(mds, &terms) &&
		    terms == atomic_load(&mds->ready)) {
			forget_taken(mds);
			resolve_parts(mds);
			resend_decisions(mds, XS_ASK_MS);
		}
		if (mds->shard != 0)
			follow_shard0(mds);
		for (int i = 0; i < 5 && !mds->xs->stop; i++)
			usleep(100 * 1000);
	}
	return NULL;
}

int mds_xshard_start(struct mds *mds)
{
	struct xshard *xs;
	int rc;

	if (mds->nshards < 2)
		return 0;
	xs = calloc(1, sizeof(*xs));
	if (!xs)
		return -ENOMEM;
	rc = cfs_rpc_client_new(&xs->rpc);
	if (rc) {
		free(xs);
		return rc;
	}
	pthread_mutex_init(&xs->lock, NULL);
	cfs_map_holder_init(&xs->shard0);
	mds->xs = xs;
	mds->ns.nshards = mds->nshards;
	mds->ns.fetch = fetch_now;
	mds->ns.fetch_arg = mds;
	mds->ns.reserved = reserved;
	mds->ns.reserved_arg = xs;
	if (mds->shard != 0) {
		rc = cfs_map_follow(&xs->shard0, xs->rpc, mds->shard_groups[0]);
		if (rc)
			return rc;
	}
	rc = pthread_create(&xs->resolver, NULL, resolver_main, mds);
	if (rc)
		return -rc;
	xs->started = true;
	cfs_log_info("metadata shard", "shard=%u shards=%u", mds->shard,
		     mds->nshards);
	return 0;
}

void mds_xshard_stop(struct mds *mds)
{
	struct xshard *xs = mds->xs;

	if (!xs)
		return;
	xs->stop = true;
	if (xs->started)
		pthread_join(xs->resolver, NULL);
	cfs_map_holder_destroy(&xs->shard0);
	mds->ns.reserved = NULL;
	mds->ns.fetch = NULL;
	intents_clear(xs);
	free(xs->intents);
	cfs_rpc_client_free(xs->rpc);
	pthread_mutex_destroy(&xs->lock);
	free(xs);
	mds->xs = NULL;
	free(mds->shard_groups);
	mds->shard_groups = NULL;
}
