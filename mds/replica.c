/* Replicas of the metadata store over Raft; the design is in replica.h.
 *
 * Threads: Raft and everything it calls (the state machine, the
 * transport's Raft side) run in one thread of their own, around a libuv
 * loop. Others hand it work through `lock` and the `wake` async handle:
 * proposals (the writer's batches) and streams to give Raft (a connect's
 * socket pair, or one a peer opened). A pump thread per outgoing stream
 * sends what Raft writes; RPC threads write what peers send. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/random.h>
#include <unistd.h>
#include <uv.h>

#include "cfs/clock.h"
#include "cfs/crc.h"
#include "cfs/log.h"
#include "entry.h"
#include "mds.h"
#include "replica.h"

#define PIECE_MAX (1u << 20)	/* bytes of a stream per MDS_RAFT call */
#define PIECE_TIMEOUT_MS 5000
#define TICK_MS 20		/* how often the role is looked at */
#define ELECTION_MS 1000	/* Raft's election timeout (its default) */
#define APPLIED_KEY "raft_applied"

/* What a thread waits for the loop to do, first in the object it is
 * part of. The waiter may leave first (the MDS stopping, a deadline):
 * then whoever ends it frees the object (waited_end). */
struct waited {
	int rc;
	bool done, abandoned;
};

/* A batch's changes on their way through Raft. */
struct proposal {
	struct waited w;
	struct raft_apply req;
	struct mds_replica *rep;
	struct raft_buffer entry;	/* Raft's once raft_apply took it */
	struct proposal *next;
};

/* A change of the group's members (cfs mds add|remove), one at a time:
 * an add is raft_add (a spare) then raft_assign to voter, which Raft
 * commits once the new member caught up with the log. */
struct member_change {
	struct waited w;
	struct raft_change req;
	struct mds_replica *rep;
	bool add, assigned;
	int undoing;	/* an add that failed, its spare being removed */
	raft_id id;
	char address[CFS_RPC_GROUP_MAX];
};

/* A stream to give Raft in the loop thread: a connect's (req set) or
 * one a peer opened. */
struct handoff {
	struct raft_uv_connect *req;
	raft_uv_connect_cb cb;
	raft_id id;
	char address[CFS_RPC_GROUP_MAX];
	int fd;
	struct handoff *next;
};

/* A stream a peer opened: what it sends is written into fd. */
struct in_stream {
	uint64_t from, stream, next_seq;
	int fd;
	int refs;	/* RPC threads writing into it */
	bool dead;
	struct in_stream *next;
};

/* A stream to a peer: its pump thread sends what Raft writes to fd. */
struct out_stream {
	struct mds_replica *rep;
	uint64_t stream;
	int fd;
	char address[CFS_RPC_GROUP_MAX];
};

struct mds_replica {
	struct mds *mds;
	raft_id id;
	char address[CFS_RPC_GROUP_MAX];
	char dir[CFS_CONFIG_STR_MAX + 8];
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t tick;
	struct raft raft;
	struct raft_io io;
	struct raft_uv_transport tr;
	struct raft_fsm fsm;
	struct raft_barrier barrier;
	raft_uv_accept_cb accept_cb;
	pthread_t thread;
	struct cfs_rpc_client *cl;	/* the pumps' calls */
	/* the loop thread's */
	uint64_t applied;	/* the last entry the store holds */
	/* a snapshot being taken: the store as of index (a read
	 * transaction, dumped off the loop by fsm_snapshot_async) */
	MDB_txn *snap_txn;
	uint64_t snap_index;
	bool barrier_pending, closing, tr_closed;
	uint64_t next_stream;	/* random start: a restart's are new */
	int64_t heard_ms[CFS_RPC_GROUP_MEMBERS];	/* as leader, from
							 * each member */

	pthread_mutex_t lock;	/* guards what follows */
	pthread_cond_t cond;	/* a proposal ended, a pump ended */
	struct proposal *queue;
	struct member_change *change;	/* to start */
	struct handoff *handoffs;
	struct in_stream *ins;
	bool stopping;
	bool quiet;	/* stopping: no more waiting for Raft */
	int pumps;
	bool serving;
	uint64_t terms;
	struct mds_replica_status st;
	int64_t leader_ms;	/* a leader was last known then */
	/* a lone MDS's store becoming a group of one's: as leader, before
	 * serving, it logs the whole store as one entry (import_start) */
	bool import, importing;
	struct raft_apply import_req;
	int64_t removed_check_ms;	/* the monitor's, last asked then */
};

static struct mds_replica *REP(struct mds *mds)
{
	return mds->replica;
}

/* ---- the state machine: the store ---- */

/* Apply one entry's changes, with its index, in a transaction. */
/* The change feed's count, kept in the store with what it counts. */
#define FEED_KEY "feed_seq"

/* The change feed's run on every replica: the cluster's. */
static uint64_t feed_id(const struct mds *mds)
{
	const char *c = mds->cfg.cluster_id;

	return (uint64_t)cfs_crc32c(c, strlen(c)) << 32 | 0x5eed;
}

/* Apply an entry's changes (whole: a snapshot's dump) and its feed notes
 * in one transaction with the index and the feed's count; then publish
 * the notes (a snapshot: the feed goes on from its count). */
static int store_apply(struct mds_replica *rep, uint64_t index,
		       const void *p, size_t len, bool whole,
		       const uint8_t *feed, size_t flen)
{
	struct mds *mds = rep->mds;
	struct cfs_ns *ns = &mds->ns;
	long notes = feed_count(feed, flen);
	uint64_t seq = mds->feed.seq;	/* only this thread moves it */
	MDB_txn *txn;
	int rc;

	if (notes < 0)
		return -EBADMSG;
	rc = cfs_ns_begin(ns, NULL, true, &txn);
	if (rc)
		return rc;
	rc = whole ? cfs_ns_load(ns, txn, p, len) : cfs_ns_apply(ns, txn, p, len);
	if (!rc)
		rc = cfs_ns_meta_put(ns, txn, APPLIED_KEY, index);
	if (!rc && whole && cfs_ns_meta_get(ns, txn, FEED_KEY, &seq))
		seq = 0;
	if (!rc && !whole)
		rc = cfs_ns_meta_put(ns, txn, FEED_KEY, seq + (uint64_t)notes);
	if (rc) {
		cfs_ns_abort(txn);
		return rc;
	}
	rc = cfs_ns_commit(txn);
	if (rc)
		return rc;
	rep->applied = index;
	if (whole)
		feed_replicated(&mds->feed, feed_id(mds), seq);
	else
		feed_apply(&mds->feed, feed, flen);
	return 0;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct mds_replica *rep = fsm->data;
	uint64_t index = raft_last_applied(&rep->raft) + 1;
	struct mds_entry e;
	int rc;

	*result = NULL;
	if (index <= rep->applied)	/* the store has it (a restart) */
		return 0;
	rc = mds_entry_parse(buf->base, buf->len, &e);
	if (!rc)
		rc = store_apply(rep, index, e.changes, e.len, false, e.feed,
				 e.flen);
	if (rc) {
		cfs_log_error("cannot apply a replicated change; retrying",
			      "index=%lu applied=%lu len=%zu rc=%d",
			      (unsigned long)index,
			      (unsigned long)rep->applied, buf->len, rc);
		return RAFT_IOERR;
	}
	return 0;
}

/* A snapshot (entry.h): Raft's loop only opens a read transaction
 * (fsm_snapshot); the dump, which takes long for a big store, runs in a
 * worker thread (fsm_snapshot_async) while the loop goes on applying,
 * so heartbeats are never late for it; fsm_snapshot_finalize frees it
 * all. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
			unsigned *n)
{
	struct mds_replica *rep = fsm->data;

	*bufs = NULL;
	*n = 0;
	rep->snap_index = raft_last_applied(&rep->raft);
	return cfs_ns_begin(&rep->mds->ns, NULL, false, &rep->snap_txn) ?
	       RAFT_BUSY : 0;
}

static int fsm_snapshot_async(struct raft_fsm *fsm,
			      struct raft_buffer *bufs[], unsigned *n)
{
	struct mds_replica *rep = fsm->data;
	size_t len;
	uint8_t *dump, *p;
	int rc = cfs_ns_dump(&rep->mds->ns, rep->snap_txn, &dump, &len);

	cfs_ns_abort(rep->snap_txn);
	rep->snap_txn = NULL;
	if (rc)
		return RAFT_NOMEM;
	p = malloc(mds_snapshot_size(len));
	*bufs = calloc(1, sizeof(**bufs));
	if (!p || !*bufs) {
		free(p);
		free(*bufs);
		*bufs = NULL;
		free(dump);
		return RAFT_NOMEM;
	}
	mds_snapshot_fill(p, rep->snap_index, dump, len);
	free(dump);
	(*bufs)[0].base = p;
	(*bufs)[0].len = mds_snapshot_size(len);
	*n = 1;
	cfs_log_info("metadata snapshot taken", "index=%lu bytes=%zu",
		     (unsigned long)rep->snap_index, len);
	return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm,
				 struct raft_buffer *bufs[], unsigned *n)
{
	struct mds_replica *rep = fsm->data;

	if (rep->snap_txn) {	/* the dump never ran */
		cfs_ns_abort(rep->snap_txn);
		rep->snap_txn = NULL;
	}
	for (unsigned i = 0; *bufs && i < *n; i++)
		free((*bufs)[i].base);
	free(*bufs);
	*bufs = NULL;
	*n = 0;
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct mds_replica *rep = fsm->data;
	const void *dump;
	uint64_t index;
	size_t len;
	int rc = 0;

	if (mds_snapshot_parse(buf->base, buf->len, &index, &dump, &len)) {
		rc = RAFT_CORRUPT;
	} else if (index > rep->applied) {
		rc = store_apply(rep, index, dump, len, true, NULL, 0);
		if (rc)
			cfs_log_error("cannot restore a metadata snapshot",
				      "index=%lu rc=%d", (unsigned long)index,
				      rc);
		else
			cfs_log_info("metadata restored from a snapshot",
				     "index=%lu", (unsigned long)index);
		rc = rc ? RAFT_IOERR : 0;
	}
	if (!rc)
		raft_free(buf->base);
	return rc;
}

/* ---- the transport: Raft's streams over MDS_RAFT calls ---- */

static int tr_init(struct raft_uv_transport *t, raft_id id,
		   const char *address)
{
	(void)t;
	(void)id;
	(void)address;
	return 0;
}

static int tr_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct mds_replica *rep = t->impl;

	rep->accept_cb = cb;
	return 0;
}

static void handoff_push(struct mds_replica *rep, struct handoff *h)
{
	pthread_mutex_lock(&rep->lock);
	h->next = rep->handoffs;
	rep->handoffs = h;
	pthread_mutex_unlock(&rep->lock);
	uv_async_send(&rep->wake);
}

static void *pump_main(void *arg)
{
	struct out_stream *o = arg;
	struct mds_replica *rep = o->rep;
	uint8_t *buf = malloc(PIECE_MAX);
	uint64_t seq = 0;

	while (buf) {
		Cfs__MdsRaftData d = CFS__MDS_RAFT_DATA__INIT;
		struct cfs_rpc_call c = { .method = CFS__MDS_METHOD__MDS_RAFT,
					  .req = &d.base,
					  .timeout_ms = PIECE_TIMEOUT_MS,
					  .impatient = true };
		ssize_t n = read(o->fd, buf, PIECE_MAX);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		d.from = rep->id;
		d.address = rep->address;
		d.stream = o->stream;
		d.seq = seq++;
		c.bulk = buf;
		c.bulk_len = (size_t)n;
		rc = cfs_rpc_call(rep->cl, o->address, &c);
		cfs_rpc_call_done(&c);
		if (rc) {
			cfs_log_debug("raft stream to a peer broke", "peer=%s "
				      "rc=%d", o->address, rc);
			break;
		}
	}
	close(o->fd);	/* Raft's next write fails: it connects again */
	free(buf);
	free(o);
	pthread_mutex_lock(&rep->lock);
	rep->pumps--;
	pthread_cond_broadcast(&rep->cond);
	pthread_mutex_unlock(&rep->lock);
	return NULL;
}

static int tr_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
		      raft_id id, const char *address, raft_uv_connect_cb cb)
{
	struct mds_replica *rep = t->impl;
	struct out_stream *o = calloc(1, sizeof(*o));
	struct handoff *h = calloc(1, sizeof(*h));
	pthread_attr_t attr;
	pthread_t th;
	int sv[2], rc;

	if (!o || !h || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		free(o);
		free(h);
		return RAFT_NOCONNECTION;
	}
	o->rep = rep;
	o->fd = sv[1];
	o->stream = rep->next_stream++;
	snprintf(o->address, sizeof(o->address), "%s", address);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&rep->lock);
	rc = pthread_create(&th, &attr, pump_main, o);
	if (!rc)
		rep->pumps++;
	pthread_mutex_unlock(&rep->lock);
	pthread_attr_destroy(&attr);
	if (rc) {
		close(sv[0]);
		close(sv[1]);
		free(o);
		free(h);
		return RAFT_NOCONNECTION;
	}
	h->req = req;
	h->cb = cb;
	h->id = id;
	h->fd = sv[0];
	handoff_push(rep, h);
	return 0;
}

static void handle_free(uv_handle_t *h)
{
	raft_free(h);
}

/* In the loop thread: give Raft the streams handed off. */
static void handoffs_run(struct mds_replica *rep, struct handoff *h)
{
	while (h) {
		struct handoff *next = h->next;
		uv_pipe_t *p = rep->tr_closed ? NULL : raft_malloc(sizeof(*p));

		if (p && (uv_pipe_init(&rep->loop, p, 0) ||
			  uv_pipe_open(p, h->fd))) {
			uv_close((uv_handle_t *)p, handle_free);
			p = NULL;
		}
		if (!p)
			close(h->fd);
		if (h->req)
			h->cb(h->req, p ? (uv_stream_t *)p : NULL,
			      p ? 0 : RAFT_CANCELED);
		else if (p)
			rep->accept_cb(&rep->tr, h->id, h->address,
				       (uv_stream_t *)p);
		free(h);
		h = next;
	}
}

static void tr_close(struct raft_uv_transport *t,
		     raft_uv_transport_close_cb cb)
{
	struct mds_replica *rep = t->impl;
	struct handoff *h;

	rep->tr_closed = true;
	pthread_mutex_lock(&rep->lock);
	h = rep->handoffs;
	rep->handoffs = NULL;
	pthread_mutex_unlock(&rep->lock);
	handoffs_run(rep, h);	/* connects end as cancelled */
	cb(t);
}

/* An in_stream no longer wanted: its reader (Raft) sees it end. */
static void in_kill(struct mds_replica *rep, struct in_stream *s)
{
	struct in_stream **pp;

	s->dead = true;
	if (s->refs)
		return;
	for (pp = &rep->ins; *pp && *pp != s; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = s->next;
	close(s->fd);
	free(s);
}

static bool send_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* The in_stream for piece d, made (and handed to Raft) for a stream's
 * first; NULL if d does not continue a stream. Under rep->lock. */
static struct in_stream *in_find(struct mds_replica *rep,
				 const Cfs__MdsRaftData *d)
{
	struct timeval tv = { PIECE_TIMEOUT_MS / 1000, 0 };
	struct in_stream *s, *next;
	struct handoff *h;
	int sv[2];

	for (s = rep->ins; s; s = s->next)
		if (s->from == d->from && s->stream == d->stream)
			return s->dead || s->next_seq != d->seq ? NULL : s;
	if (d->seq != 0 || rep->stopping)
		return NULL;
	for (s = rep->ins; s; s = next) {	/* the peer connected again */
		next = s->next;
		if (s->from == d->from)
			in_kill(rep, s);
	}
	s = calloc(1, sizeof(*s));
	h = calloc(1, sizeof(*h));
	if (!s || !h || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		free(s);
		free(h);
		return NULL;
	}
	setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	s->from = d->from;
	s->stream = d->stream;
	s->fd = sv[1];
	s->next = rep->ins;
	rep->ins = s;
	h->id = d->from;
	snprintf(h->address, sizeof(h->address), "%s", d->address);
	h->fd = sv[0];
	h->next = rep->handoffs;
	rep->handoffs = h;
	uv_async_send(&rep->wake);
	return s;
}

int mds_replica_recv(struct mds *mds, const struct cfs_rpc_req *rq,
		     const Cfs__MdsRaftData *d)
{
	struct mds_replica *rep = REP(mds);
	struct in_stream *s;
	bool ok;

	if (rq->peer && rq->peer->role != CFS_ROLE_MDS) {
		cfs_log_warn("refused a raft stream from a non-MDS token",
			     "role=%s token=%s", cfs_role_name(rq->peer->role),
			     rq->peer->id);
		return -EACCES;
	}
	if (!rep)
		return -ENOTSUP;
	pthread_mutex_lock(&rep->lock);
	s = in_find(rep, d);
	if (s)
		s->refs++;
	pthread_mutex_unlock(&rep->lock);
	if (!s)
		return -EPIPE;
	ok = send_all(s->fd, rq->bulk, rq->bulk_len);
	pthread_mutex_lock(&rep->lock);
	s->refs--;
	if (ok)
		s->next_seq++;
	if (!ok || s->dead)
		in_kill(rep, s);
	pthread_mutex_unlock(&rep->lock);
	return ok ? 0 : -EPIPE;
}

/* ---- the loop thread ---- */

static void waited_end(struct mds_replica *rep, struct waited *w, int rc)
{
	pthread_mutex_lock(&rep->lock);
	w->rc = rc;
	w->done = true;
	if (w->abandoned)
		free(w);	/* the object it is first in */
	pthread_cond_broadcast(&rep->cond);
	pthread_mutex_unlock(&rep->lock);
}

/* Raft's status as an errno. */
static int from_raft(int status)
{
	static const int errs[] = {
		[RAFT_NOTLEADER] = -EREMCHG, [RAFT_LEADERSHIPLOST] = -EREMCHG,
		[RAFT_SHUTDOWN] = -EREMCHG, [RAFT_DUPLICATEID] = -EEXIST,
		[RAFT_DUPLICATEADDRESS] = -EEXIST, [RAFT_BADID] = -ENOENT,
		[RAFT_NOTFOUND] = -ENOENT, [RAFT_CANTCHANGE] = -EBUSY,
		[RAFT_BUSY] = -EBUSY, [RAFT_NOCONNECTION] = -EHOSTUNREACH,
		[RAFT_NOMEM] = -ENOMEM,
	};

	if (status == 0)
		return 0;
	return status > 0 && (size_t)status < sizeof(errs) / sizeof(errs[0]) &&
		       errs[status] ? errs[status] : -EIO;
}

static void change_end(struct mds_replica *rep, struct member_change *c,
		       int status)
{
	int rc = from_raft(status);

	if (rc)
		cfs_log_warn("mds replica change failed", "op=%s id=%lu "
			     "address=%s rc=%d", c->add ? "add" : "remove",
			     (unsigned long)c->id, c->address, rc);
	else
		cfs_log_info(c->add ? "mds replica added" :
				      "mds replica removed",
			     "id=%lu address=%s", (unsigned long)c->id,
			     c->address);
	waited_end(rep, &c->w, rc);
}

static void change_cb(struct raft_change *req, int status)
{
	struct member_change *c = req->data;

	if (c->undoing) {	/* the spare is gone (or not): the add failed */
		change_end(c->rep, c, c->undoing);
		return;
	}
	if (status == 0 && c->add && !c->assigned) {
		c->assigned = true;	/* a voter once it caught up */
		status = raft_assign(&c->rep->raft, &c->req, c->id, RAFT_VOTER,
				     change_cb);
		if (status == 0)
			return;
	}
	if (status && c->add && c->assigned) {
		/* it never caught up: not left in the group as a spare */
		c->undoing = status;
		if (raft_remove(&c->rep->raft, &c->req, c->id, change_cb) == 0)
			return;
	}
	change_end(c->rep, c, status);
}

static void change_start(struct mds_replica *rep, struct member_change *c,
			 bool serving)
{
	int rc = RAFT_NOTLEADER;

	c->req.data = c;
	if (serving && !rep->closing)
		rc = c->add ? raft_add(&rep->raft, &c->req, c->id, c->address,
				       change_cb) :
			      raft_remove(&rep->raft, &c->req, c->id,
					  change_cb);
	if (rc)
		change_end(rep, c, rc);
}

static void applied_cb(struct raft_apply *req, int status, void *result)
{
	struct proposal *p = req->data;

	(void)result;
	waited_end(p->rep, &p->w, from_raft(status));
}

static void serve(struct mds_replica *rep)
{
	pthread_mutex_lock(&rep->lock);
	rep->serving = true;
	rep->terms++;
	pthread_mutex_unlock(&rep->lock);
	cfs_log_info("mds leads its replicas", "id=%lu term=%lu",
		     (unsigned long)rep->id,
		     (unsigned long)rep->raft.current_term);
}

static void import_cb(struct raft_apply *req, int status, void *result)
{
	struct mds_replica *rep = req->data;

	(void)result;
	rep->importing = false;
	if (status) {	/* the next barrier tries again */
		cfs_log_warn("cannot log the lone MDS's store; retrying",
			     "err=\"%s\"", raft_strerror(status));
		return;
	}
	rep->import = false;
	cfs_log_info("the lone MDS's store is the group's now (cfs mds add "
		     "adds replicas)", "index=%lu",
		     (unsigned long)rep->applied);
	if (raft_state(&rep->raft) == RAFT_LEADER)
		serve(rep);
}

/* The store as one entry: every record, as a change that puts it. The
 * leader applies it like any other (each record written again as it
 * is), and replicas added later receive it, or a snapshot past it. */
static void import_start(struct mds_replica *rep)
{
	struct raft_buffer buf = { 0 };
	uint8_t *dump = NULL;
	size_t len = 0;
	MDB_txn *txn;
	int rc = cfs_ns_begin(&rep->mds->ns, NULL, false, &txn);

	if (!rc) {
		rc = cfs_ns_dump(&rep->mds->ns, txn, &dump, &len);
		cfs_ns_abort(txn);
	}
	if (!rc) {
		buf.len = mds_entry_size(len, 0);
		buf.base = raft_malloc(buf.len);
		rc = buf.base ? 0 : -ENOMEM;
	}
	if (!rc) {
		mds_entry_fill(buf.base, dump, len, NULL, 0);
		rep->import_req.data = rep;
		rc = raft_apply(&rep->raft, &rep->import_req, &buf, 1,
				import_cb) ? -EIO : 0;
		if (rc)
			raft_free(buf.base);
	}
	free(dump);
	if (rc)
		cfs_log_warn("cannot log the lone MDS's store; retrying",
			     "bytes=%zu rc=%d", len, rc);
	rep->importing = rc == 0;
}

static void barrier_cb(struct raft_barrier *req, int status)
{
	struct mds_replica *rep = req->data;

	rep->barrier_pending = false;
	if (status || raft_state(&rep->raft) != RAFT_LEADER)
		return;
	if (rep->import) {	/* first the store goes into the log */
		if (!rep->importing)
			import_start(rep);
		return;
	}
	serve(rep);
}

/* Note the role for other threads; a new leader first applies what
 * earlier terms left (a barrier), then serves. */
static void look(struct mds_replica *rep)
{
	int role = raft_state(&rep->raft);
	const char *addr = NULL;
	raft_id lid = 0;

	if (rep->closing)
		return;
	if (role == RAFT_LEADER && !rep->barrier_pending) {
		bool serving;

		pthread_mutex_lock(&rep->lock);
		serving = rep->serving;
		pthread_mutex_unlock(&rep->lock);
		rep->barrier.data = rep;
		if (!serving && !rep->importing &&
		    raft_barrier(&rep->raft, &rep->barrier, barrier_cb) == 0)
			rep->barrier_pending = true;
	}
	raft_leader(&rep->raft, &lid, &addr);
	pthread_mutex_lock(&rep->lock);
	if (role != RAFT_LEADER && rep->serving) {
		rep->serving = false;
		cfs_log_info("mds no longer leads", "id=%lu term=%lu",
			     (unsigned long)rep->id,
			     (unsigned long)rep->raft.current_term);
	}
	if (lid)
		rep->leader_ms = cfs_mono_ms();
	rep->st.replicated = true;
	rep->st.role = role;
	rep->st.id = rep->id;
	rep->st.leader_id = lid;
	snprintf(rep->st.leader, sizeof(rep->st.leader), "%s", addr ? addr : "");
	rep->st.term = rep->raft.current_term;
	rep->st.commit = rep->raft.commit_index;
	rep->st.applied = raft_last_applied(&rep->raft);
	rep->st.last = raft_last_index(&rep->raft);
	rep->st.nmembers = 0;
	for (unsigned i = 0; i < rep->raft.configuration.n &&
			     i < CFS_RPC_GROUP_MEMBERS; i++) {
		const struct raft_server *s = &rep->raft.configuration.servers[i];

		rep->st.members[i].id = s->id;
		snprintf(rep->st.members[i].address,
			 sizeof(rep->st.members[i].address), "%s", s->address);
		rep->st.members[i].match =
			role == RAFT_LEADER ?
				(s->id == rep->id ?
					 rep->st.last :
					 rep->raft.leader_state.progress[i]
						 .match_index) :
				0;
		/* Raft clears recent_recv every election timeout; a member
		 * is up if it set it again within two */
		if (role == RAFT_LEADER &&
		    (s->id == rep->id ||
		     rep->raft.leader_state.progress[i].recent_recv))
			rep->heard_ms[i] = cfs_mono_ms();
		rep->st.members[i].up = role == RAFT_LEADER &&
					cfs_mono_ms() - rep->heard_ms[i] <
						2 * ELECTION_MS;
		rep->st.nmembers++;
	}
	pthread_mutex_unlock(&rep->lock);
}

static void tick_cb(uv_timer_t *t)
{
	look(t->data);
}

static void raft_closed(struct raft *r)
{
	struct mds_replica *rep = r->data;

	raft_uv_close(&rep->io);
	uv_close((uv_handle_t *)&rep->wake, NULL);
	uv_close((uv_handle_t *)&rep->tick, NULL);
}

static void wake_cb(uv_async_t *a)
{
	struct mds_replica *rep = a->data;
	struct proposal *q, *order = NULL;
	struct member_change *c;
	struct handoff *h;
	bool stopping, serving;

	pthread_mutex_lock(&rep->lock);
	q = rep->queue;
	rep->queue = NULL;
	c = rep->change;
	rep->change = NULL;
	h = rep->handoffs;
	rep->handoffs = NULL;
	stopping = rep->stopping;
	serving = rep->serving;
	pthread_mutex_unlock(&rep->lock);
	handoffs_run(rep, h);
	while (q) {	/* queued newest first */
		struct proposal *next = q->next;

		q->next = order;
		order = q;
		q = next;
	}
	for (struct proposal *p = order, *next; p; p = next) {
		int rc = RAFT_NOTLEADER;

		next = p->next;
		p->next = NULL;
		p->req.data = p;
		if (serving && !rep->closing)
			rc = raft_apply(&rep->raft, &p->req, &p->entry, 1,
					applied_cb);
		if (rc) {
			raft_free(p->entry.base);
			waited_end(rep, &p->w, from_raft(rc));
		}
	}
	if (c)
		change_start(rep, c, serving);
	if (stopping && !rep->closing) {
		rep->closing = true;
		uv_timer_stop(&rep->tick);
		raft_close(&rep->raft, raft_closed);
	}
}

static void *loop_main(void *arg)
{
	struct mds_replica *rep = arg;

	uv_run(&rep->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* ---- start, stop, and what other threads call ---- */

/* The Raft id of a replica added to a running group: from its address,
 * so that the joiner and the leader adding it agree without being told
 * (the first members' are their positions in peers, 1 to 8). */
static raft_id joiner_id(const char *address)
{
	return 1ull << 32 | cfs_crc32c(address, strlen(address));
}

/* The peers' addresses, and which one this MDS is: a joiner starts with
 * no configuration (the leader's entries bring the group's). */
static int peers_parse(struct mds_replica *rep, const char *peers,
		       struct raft_configuration *conf)
{
	char a[CFS_RPC_GROUP_MEMBERS][CFS_RPC_GROUP_MAX];
	unsigned n = cfs_rpc_group_split(peers, a);

	if (rep->mds->cfg.join) {
		rep->id = joiner_id(rep->mds->cfg.listen);
		snprintf(rep->address, sizeof(rep->address), "%s",
			 rep->mds->cfg.listen);
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!strcmp(a[i], rep->mds->cfg.listen)) {
			rep->id = i + 1;
			memcpy(rep->address, a[i], sizeof(rep->address));
		}
		if (raft_configuration_add(conf, i + 1, a[i], RAFT_VOTER))
			return -EINVAL;
	}
	if (!rep->id) {
		cfs_log_error("this mds's listen address is not among its "
			      "peers", "listen=%s peers=%s",
			      rep->mds->cfg.listen, peers);
		return -EINVAL;
	}
	return 0;
}

/* The last entry the store holds (0: none: a new store, or a lone
 * MDS's), whether it holds anything but a new store's root, and the
 * change feed's count. */
static int applied_load(struct cfs_ns *ns, uint64_t *applied, bool *used,
			uint64_t *feed_seq)
{
	uint64_t inodes = 0;
	MDB_stat osds;
	MDB_txn *txn;
	int rc = cfs_ns_begin(ns, NULL, false, &txn);

	if (rc)
		return rc;
	if (cfs_ns_meta_get(ns, txn, APPLIED_KEY, applied))
		*applied = 0;
	if (cfs_ns_meta_get(ns, txn, FEED_KEY, feed_seq))
		*feed_seq = 0;
	rc = cfs_ns_count_inodes(ns, txn, &inodes);
	if (!rc)
		rc = cfs_ns_errno(mdb_stat(txn, ns->osds, &osds));
	cfs_ns_abort(txn);
	*used = !rc && (inodes > 1 || osds.ms_entries > 0);
	return rc;
}

int mds_replica_check(struct mds *mds)
{
	uint64_t applied, feed_seq;
	bool used;
	int rc = applied_load(&mds->ns, &applied, &used, &feed_seq);

	if (rc)
		return rc;
	if (mds->cfg.peers[0] && !applied && used) {
		char a[CFS_RPC_GROUP_MEMBERS][CFS_RPC_GROUP_MAX];

		if (cfs_rpc_group_split(mds->cfg.peers, a) == 1 &&
		    !strcmp(a[0], mds->cfg.listen) && !mds->cfg.join) {
			cfs_log_info("converting a lone MDS's store into a "
				     "group of one replica", "data=%s",
				     mds->cfg.data);
			return 0;
		}
		cfs_log_error("this store is a lone MDS's: it becomes a "
			      "replica group of one, started with --peers "
			      "naming only its own address (the store goes "
			      "into the log on that start); then start the "
			      "others on empty data directories with --join "
			      "true and add each: cfs mds add ADDRESS",
			      "data=%s listen=%s", mds->cfg.data,
			      mds->cfg.listen);
		return -EINVAL;
	}
	if (mds->cfg.join && !mds->cfg.peers[0]) {
		cfs_log_error("a joining replica needs --peers: the group's "
			      "addresses", "data=%s", mds->cfg.data);
		return -EINVAL;
	}
	if (!mds->cfg.peers[0] && applied) {
		cfs_log_error("this store is a replica's (it holds Raft "
			      "entries): start it with the --peers it was "
			      "started with", "data=%s applied=%lu",
			      mds->cfg.data, (unsigned long)applied);
		return -EINVAL;
	}
	return 0;
}

int mds_replica_start(struct mds *mds)
{
	struct raft_configuration conf;
	struct mds_replica *rep;
	int rc;

	if (!mds->cfg.peers[0])
		return 0;
	rep = calloc(1, sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	rep->mds = mds;
	rep->leader_ms = cfs_mono_ms();	/* give the group time to be heard */
	pthread_mutex_init(&rep->lock, NULL);
	cfs_mono_cond_init(&rep->cond);
	raft_configuration_init(&conf);
	rc = peers_parse(rep, mds->cfg.peers, &conf);
	if (rc)
		goto fail_conf;
	snprintf(rep->dir, sizeof(rep->dir), "%s/raft", mds->cfg.data);
	if (mkdir(rep->dir, 0700) && errno != EEXIST) {
		rc = -errno;
		goto fail_conf;
	}
	if (getrandom(&rep->next_stream, sizeof(rep->next_stream), 0) !=
	    sizeof(rep->next_stream))
		rep->next_stream = (uint64_t)getpid() << 32;
	{
		uint64_t feed_seq;
		bool used;

		rc = applied_load(&mds->ns, &rep->applied, &used, &feed_seq);
		if (!rc)	/* the cluster's feed, where the store left it */
			feed_replicated(&mds->feed, feed_id(mds), feed_seq);
		/* a lone MDS's (mds_replica_check let only a group of one
		 * through) */
		rep->import = !rc && !rep->applied && used;
	}
	if (!rc)	/* the Raft log makes each change durable */
		rc = cfs_ns_lazy(&mds->ns);
	if (!rc)
		rc = cfs_rpc_client_new(&rep->cl);
	if (rc)
		goto fail_conf;
	rc = -EIO;
	if (uv_loop_init(&rep->loop))
		goto fail_conf;
	rep->tr = (struct raft_uv_transport){ .impl = rep, /* data is Raft's */
		.init = tr_init, .listen = tr_listen, .connect = tr_connect,
		.close = tr_close };
	rep->fsm = (struct raft_fsm){ .version = 3, .data = rep,
		.apply = fsm_apply, .snapshot = fsm_snapshot,
		.restore = fsm_restore,
		.snapshot_finalize = fsm_snapshot_finalize,
		.snapshot_async = fsm_snapshot_async };
	uv_async_init(&rep->loop, &rep->wake, wake_cb);
	rep->wake.data = rep;
	uv_timer_init(&rep->loop, &rep->tick);
	rep->tick.data = rep;
	if (raft_uv_init(&rep->io, &rep->loop, rep->dir, &rep->tr))
		goto fail_raft;
	/* raft 0.15's libuv I/O has async_work (the snapshot dump's
	 * thread) but still says version 1; upstream says 2 since 0.16
	 * (commit 269e541, "uv: set io version to 2") */
	if (rep->io.version < 2 && rep->io.async_work)
		rep->io.version = 2;
	raft_uv_set_connect_retry_delay(&rep->io, 200);
	if (raft_init(&rep->raft, &rep->io, &rep->fsm, rep->id, rep->address)) {
		cfs_log_error("cannot start raft", "err=\"%s\"",
			      raft_errmsg(&rep->raft));
		goto fail_raft;
	}
	rep->raft.data = rep;
	raft_set_pre_vote(&rep->raft, true);
	raft_set_election_timeout(&rep->raft, ELECTION_MS);
	raft_set_snapshot_threshold(&rep->raft,
				    (unsigned)mds->cfg.snapshot_entries);
	raft_set_snapshot_trailing(&rep->raft,
				   (unsigned)mds->cfg.snapshot_entries / 2);
	rc = mds->cfg.join ? 0 : raft_bootstrap(&rep->raft, &conf);
	if (rc && rc != RAFT_CANTBOOTSTRAP) {
		cfs_log_error("cannot bootstrap the replicas' log", "dir=%s "
			      "err=\"%s\"", rep->dir, raft_errmsg(&rep->raft));
		rc = -EIO;
		goto fail_raft;
	}
	mds->replica = rep;	/* the state machine needs it from here on */
	if (raft_start(&rep->raft)) {
		cfs_log_error("cannot start the replicas' log", "dir=%s "
			      "err=\"%s\"", rep->dir, raft_errmsg(&rep->raft));
		mds->replica = NULL;
		rc = -EIO;
		goto fail_raft;
	}
	raft_configuration_close(&conf);
	uv_timer_start(&rep->tick, tick_cb, TICK_MS, TICK_MS);
	if (pthread_create(&rep->thread, NULL, loop_main, rep)) {
		/* nothing to unwind cleanly from here: give up the start */
		cfs_log_error("cannot start the raft thread", "id=%lu",
			      (unsigned long)rep->id);
		return -EAGAIN;
	}
	cfs_log_info("mds replica started", "id=%lu peers=%s applied=%lu",
		     (unsigned long)rep->id, mds->cfg.peers,
		     (unsigned long)rep->applied);
	return 0;
fail_raft:
	cfs_log_error("cannot start the mds replica", "dir=%s", rep->dir);
fail_conf:
	raft_configuration_close(&conf);
	/* the loop and Raft's io hold no thread yet; the process exits */
	return rc;
}

void mds_replica_stop(struct mds *mds)
{
	struct mds_replica *rep = REP(mds);

	if (!rep)
		return;
	pthread_mutex_lock(&rep->lock);
	rep->stopping = true;
	pthread_mutex_unlock(&rep->lock);
	uv_async_send(&rep->wake);
	pthread_join(rep->thread, NULL);
	pthread_mutex_lock(&rep->lock);
	while (rep->ins)
		in_kill(rep, rep->ins);
	while (rep->pumps)	/* Raft closed their streams */
		pthread_cond_wait(&rep->cond, &rep->lock);
	free(rep->change);	/* one the loop never started */
	pthread_mutex_unlock(&rep->lock);
	uv_loop_close(&rep->loop);
	cfs_rpc_client_free(rep->cl);
	mds->replica = NULL;
	free(rep);
}

bool mds_serving(struct mds *mds, uint64_t *terms)
{
	struct mds_replica *rep = REP(mds);
	bool serving;

	if (!rep) {
		if (terms)
			*terms = 1;
		return true;
	}
	pthread_mutex_lock(&rep->lock);
	serving = rep->serving;
	if (terms)
		*terms = rep->terms;
	pthread_mutex_unlock(&rep->lock);
	return serving;
}

/* The waiter's side, lock held: its result (unfinished: the one given)
 * and the object freed, or left to waited_end. */
static int waited_leave(struct waited *w, int unfinished)
{
	int rc = w->done ? w->rc : unfinished;

	if (w->done)
		free(w);
	else
		w->abandoned = true;
	return rc;
}

int mds_replica_commit(struct mds *mds, MDB_txn *txn)
{
	struct mds_replica *rep = REP(mds);
	struct proposal *p;
	size_t len, flen;
	const uint8_t *changes = cfs_ns_changes(&mds->ns, &len);
	/* the batch's feed notes go with it: every replica publishes them */
	uint8_t *feed = feed_encode(&mds->feed, &flen);
	int rc;

	if (!len) {	/* nothing changed */
		free(feed);
		cfs_ns_abort(txn);
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (p)
		p->entry.base = raft_malloc(mds_entry_size(len, flen));
	if (p && p->entry.base)
		mds_entry_fill(p->entry.base, changes, len, feed, flen);
	free(feed);
	/* the changes are applied in a transaction of the Raft thread */
	cfs_ns_abort(txn);
	if (!p || !p->entry.base) {
		free(p);
		return -ENOMEM;
	}
	p->rep = rep;
	p->entry.len = mds_entry_size(len, flen);
	pthread_mutex_lock(&rep->lock);
	if (!rep->serving || rep->quiet) {
		rc = rep->quiet ? -ESHUTDOWN : -EREMCHG;
		pthread_mutex_unlock(&rep->lock);
		raft_free(p->entry.base);
		free(p);
		return rc;
	}
	p->next = rep->queue;
	rep->queue = p;
	pthread_mutex_unlock(&rep->lock);
	uv_async_send(&rep->wake);
	pthread_mutex_lock(&rep->lock);
	while (!p->w.done && !rep->quiet)
		pthread_cond_wait(&rep->cond, &rep->lock);
	rc = waited_leave(&p->w, -ESHUTDOWN);
	pthread_mutex_unlock(&rep->lock);
	return rc;
}

#define CHANGE_WAIT_MS 60000	/* for a new member to catch up */

int mds_replica_change(struct mds *mds, bool add, const char *address)
{
	struct mds_replica *rep = REP(mds);
	const char *port = strrchr(address, ':');
	struct member_change *c;
	struct timespec ts;
	int rc = 0;

	if (!rep)
		return -EINVAL;	/* a lone MDS has no group */
	if (!port || port == address || !port[1] ||
	    strspn(port + 1, "0123456789") != strlen(port + 1) ||
	    strlen(address) >= sizeof(c->address) || strchr(address, ','))
		return -EINVAL;	/* host:port */
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rep = rep;
	c->add = add;
	snprintf(c->address, sizeof(c->address), "%s", address);
	c->id = joiner_id(address);
	pthread_mutex_lock(&rep->lock);
	if (!add) {	/* the member's id, as the configuration has it */
		c->id = 0;
		for (unsigned i = 0; i < rep->st.nmembers; i++)
			if (!strcmp(rep->st.members[i].address, address))
				c->id = rep->st.members[i].id;
		if (!c->id)
			rc = -ENOENT;
		else if (c->id == rep->id)
			rc = -EBUSY;	/* not the leader itself */
	}
	if (!rc && (!rep->serving || rep->quiet))
		rc = rep->quiet ? -ESHUTDOWN : -EREMCHG;
	if (!rc && rep->change)
		rc = -EBUSY;
	if (rc) {
		pthread_mutex_unlock(&rep->lock);
		free(c);
		return rc;
	}
	rep->change = c;
	pthread_mutex_unlock(&rep->lock);
	uv_async_send(&rep->wake);
	ts = cfs_mono_deadline(CHANGE_WAIT_MS);
	pthread_mutex_lock(&rep->lock);
	while (!c->w.done && !rep->quiet &&
	       pthread_cond_timedwait(&rep->cond, &rep->lock, &ts) != ETIMEDOUT)
		;
	rc = waited_leave(&c->w, rep->quiet ? -ESHUTDOWN : -ETIMEDOUT);
	pthread_mutex_unlock(&rep->lock);
	return rc;
}

void mds_replica_quiet(struct mds *mds)
{
	struct mds_replica *rep = REP(mds);

	if (!rep)
		return;
	pthread_mutex_lock(&rep->lock);
	rep->quiet = true;
	pthread_cond_broadcast(&rep->cond);
	pthread_mutex_unlock(&rep->lock);
}

void mds_replica_leader(struct mds *mds, char *out, size_t len)
{
	struct mds_replica *rep = REP(mds);

	*out = 0;
	if (!rep)
		return;
	pthread_mutex_lock(&rep->lock);
	if (rep->st.leader_id != rep->id)
		snprintf(out, len, "%s", rep->st.leader);
	pthread_mutex_unlock(&rep->lock);
}

/* How long a member that knows no leader waits before it asks whether
 * it was removed, and between two askings. */
#define REMOVED_CHECK_MS 5000

bool mds_replica_removed(struct mds *mds)
{
	static Cfs__MdsEmpty e = CFS__MDS_EMPTY__INIT;
	struct mds_replica *rep = REP(mds);
	struct cfs_rpc_call c;
	const Cfs__MdsReplicas *r;
	char group[CFS_RPC_GROUP_MAX] = "";
	bool named = false, removed;
	int64_t now = cfs_mono_ms();

	if (!rep || now - rep->removed_check_ms < REMOVED_CHECK_MS)
		return false;
	rep->removed_check_ms = now;
	pthread_mutex_lock(&rep->lock);
	/* the others, unless a leader was heard lately */
	for (unsigned i = 0; now - rep->leader_ms >= REMOVED_CHECK_MS &&
			     i < rep->st.nmembers; i++) {
		size_t at = strlen(group);

		if (rep->st.members[i].id == rep->id)
			named = true;
		else
			snprintf(group + at, sizeof(group) - at, "%s%s",
				 at ? "," : "", rep->st.members[i].address);
	}
	pthread_mutex_unlock(&rep->lock);
	if (!named || !group[0])
		return false;
	c = (struct cfs_rpc_call){ .method = CFS__MDS_METHOD__MDS_REPLICAS,
				   .req = &e.base,
				   .rep_desc = &cfs__mds_replicas__descriptor,
				   .timeout_ms = 2000 };
	removed = cfs_rpc_call(rep->cl, group, &c) == 0 &&
		  (r = (const void *)c.rep) && r->n_members;
	for (size_t i = 0; removed && i < r->n_members; i++)
		if (r->members[i]->id == rep->id)
			removed = false;
	cfs_rpc_call_done(&c);
	return removed;
}

void mds_replica_status(struct mds *mds, struct mds_replica_status *st)
{
	struct mds_replica *rep = REP(mds);

	memset(st, 0, sizeof(*st));
	if (!rep)
		return;
	pthread_mutex_lock(&rep->lock);
	*st = rep->st;
	pthread_mutex_unlock(&rep->lock);
}
