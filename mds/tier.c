/* The MDS's side of tiering (tierd/README.md has the whole picture):
 * which files are due (MDS_TIER_SCAN), blob ids and the blobs to delete
 * (MDS_TIER_BLOB), recording a stored blob's files (MDS_TIER_COMMIT),
 * where a tiered file's bytes lie (MDS_TIER_FILE), and tierd's report
 * and the flush generation (MDS_TIER_STATUS). Records live in the store
 * (tierstore.c); tierd's last report lives in memory only (the leader's:
 * a new leader shows none until tierd's next report, within seconds). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfs/clock.h"
#include "cfs/log.h"
#include "cfs/token.h"
#include "mds.h"
#include "mds.pb-c.h"

#define SCAN_MAX 4096
#define DOOMED_MAX 4096

static bool tier_peer(const struct cfs_rpc_req *rq)
{
	return !rq->peer || rq->peer->role == CFS_ROLE_TIERD ||
	       rq->peer->role == CFS_ROLE_ADMIN;
}

static uint64_t be64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static bool same_attrs(const Cfs__MdsTierFile *t, const struct cfs_inode *in)
{
	return t->size == in->size && t->mtime_ns == in->mtime_ns &&
	       t->ctime_ns == in->ctime_ns;
}

/* Whether t has a piece in a stored blob less than pct% of which lives
 * (its live pieces are tiered anew, and the blob goes). */
static bool in_sparse_blob(struct mds *mds, MDB_txn *txn,
			   const Cfs__MdsTierFile *t, uint32_t pct)
{
	uint64_t last = 0;
	for (size_t i = 0; pct && i < t->n_segs; i++) {
		struct cfs_tier_blob b;
		if (t->segs[i]->blob == last)
			continue;
		last = t->segs[i]->blob;
		if (!cfs_tier_blob_get(&mds->ns, txn, last, &b) && !b.pending &&
		    b.live * 100 < b.size * pct)
			return true;
	}
	return false;
}

/* Files due: regular, not empty, open for writing nowhere, unchanged
 * for min_age_s, and not tiered as they are now (or with pieces in a
 * blob mostly dead: repack_pct). Or, evictable: tiered
 * as they are now, not evicted, open nowhere. */
int mds_tier_scan(struct mds *mds, struct cfs_rpc_req *rq,
		  const Cfs__MdsTierScan *r)
{
	if (!tier_peer(rq))
		return -EACCES;
	size_t max = r->max && r->max < SCAN_MAX ? r->max : SCAN_MAX, n = 0;
	Cfs__MdsTierFile *files = calloc(max, sizeof(*files));
	Cfs__MdsTierFile **fp = calloc(max, sizeof(*fp));
	Cfs__MdsTierScanReply rep = CFS__MDS_TIER_SCAN_REPLY__INIT;
	int64_t now = cfs_real_ns();
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	int rc = files && fp ? 0 : -ENOMEM;
	if (!rc)
		rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);
	if (!rc)
		rc = cfs_ns_errno(mdb_cursor_open(txn, mds->ns.inodes, &cur));
	uint8_t k[8];
	uint64_t after = r->after + 1;
	for (int i = 7; i >= 0; i--, after >>= 8)
		k[i] = (uint8_t)after;
	MDB_val kv = { 8, k }, v;
	int mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
	for (; !rc && mrc == 0 && n < max;
	     mrc = mdb_cursor_get(cur, &kv, &v, MDB_NEXT)) {
		struct cfs_inode in;
		if (kv.mv_size != 8 || v.mv_size != sizeof(in))
			continue;
		memcpy(&in, v.mv_data, sizeof(in));
		if (!S_ISREG(in.mode) || !in.size)
			continue;
		int64_t newest = in.mtime_ns > in.ctime_ns ? in.mtime_ns :
							     in.ctime_ns;
		bool young = now - newest < (int64_t)r->min_age_s * 1000000000;
		if (r->evictable ? mds_is_open_anywhere(mds, in.ino) :
				   mds_open_for_write(mds, in.ino))
			continue;
		Cfs__MdsTierFile *t;
		rc = cfs_tier_get(&mds->ns, txn, in.ino, &t);
		if (rc)
			break;
		bool current = t && same_attrs(t, &in);
		bool evicted = t && t->evicted;
		bool due = r->evictable ? current && !evicted :
			   current ? in_sparse_blob(mds, txn, t, r->repack_pct) :
				     !young;
		if (t)
			cfs__mds_tier_file__free_unpacked(t, NULL);
		if (!due)
			continue;
		cfs__mds_tier_file__init(&files[n]);
		files[n].evicted = evicted;
		files[n].ino = in.ino;
		files[n].size = in.size;
		files[n].mtime_ns = in.mtime_ns;
		files[n].ctime_ns = in.ctime_ns;
		fp[n] = &files[n];
		n++;
	}
	if (!rc && mrc && mrc != MDB_NOTFOUND)
		rc = cfs_ns_errno(mrc);
	rep.done = mrc == MDB_NOTFOUND;
	if (cur)
		mdb_cursor_close(cur);
	cfs_ns_abort(txn);
	rep.files = fp;
	rep.n_files = n;
	if (!rc)
		rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
	free(files);
	free(fp);
	return rc;
}

struct blob_op {
	const Cfs__MdsTierBlob *r;
	uint64_t id;
};

static int do_blob(struct mds *mds, MDB_txn *txn, void *arg)
{
	struct blob_op *op = arg;
	if (op->r->alloc)
		return cfs_tier_blob_alloc(&mds->ns, txn, &op->id);
	struct cfs_tier_blob b;
	int rc = cfs_tier_blob_get(&mds->ns, txn, op->r->forget, &b);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!b.pending && b.live)
		return -EBUSY;	/* files point into it again: keep it */
	return cfs_tier_blob_set(&mds->ns, txn, op->r->forget, NULL);
}

/* Call fn for every blob record, in one read of the table. */
static int each_blob(struct mds *mds, MDB_txn *txn,
		     void (*fn)(void *arg, uint64_t id,
				const struct cfs_tier_blob *b),
		     void *arg)
{
	MDB_cursor *cur;
	MDB_val kv, v;
	int rc = cfs_ns_errno(mdb_cursor_open(txn, mds->ns.blobs, &cur));
	if (rc)
		return rc;
	for (int m = mdb_cursor_get(cur, &kv, &v, MDB_FIRST); m == 0;
	     m = mdb_cursor_get(cur, &kv, &v, MDB_NEXT)) {
		struct cfs_tier_blob b;
		if (kv.mv_size != 8 || v.mv_size != sizeof(b))
			continue;
		memcpy(&b, v.mv_data, sizeof(b));
		fn(arg, be64_get(kv.mv_data), &b);
	}
	mdb_cursor_close(cur);
	return 0;
}

struct doomed {
	bool pending_too;
	uint64_t *out;
	size_t n;
};

static void note_doomed(void *arg, uint64_t id, const struct cfs_tier_blob *b)
{
	struct doomed *d = arg;
	if (d->n < DOOMED_MAX && (b->pending ? d->pending_too : !b->live))
		d->out[d->n++] = id;
}

/* The blobs to delete: nothing points into them, or (asked at tierd's
 * start, when no upload of its can be under way) never committed. */
static int doomed_blobs(struct mds *mds, bool pending_too, uint64_t *out,
			size_t *n)
{
	struct doomed d = { .pending_too = pending_too, .out = out };
	MDB_txn *txn;
	int rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);
	if (rc)
		return rc;
	rc = each_blob(mds, txn, note_doomed, &d);
	cfs_ns_abort(txn);
	*n = d.n;
	return rc;
}

int mds_tier_blob(struct mds *mds, struct cfs_rpc_req *rq,
		  const Cfs__MdsTierBlob *r)
{
	if (!tier_peer(rq))
		return -EACCES;
	struct blob_op op = { .r = r };
	int rc = 0;
	if (r->alloc || r->forget)
		rc = mds_mutate(mds, do_blob, &op, rq->client_id);
	if (rc)
		return rc;
	Cfs__MdsTierBlob rep = CFS__MDS_TIER_BLOB__INIT;
	uint64_t *doomed = malloc(DOOMED_MAX * sizeof(*doomed));
	size_t n = 0;
	if (!doomed)
		return -ENOMEM;
	rc = doomed_blobs(mds, r->starting, doomed, &n);
	rep.id = op.id;
	rep.doomed = doomed;
	rep.n_doomed = n;
	if (!rc)
		rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
	free(doomed);
	return rc;
}

struct commit_op {
	const Cfs__MdsTierCommit *r;
	uint64_t *taken;
	size_t ntaken;
};

static int do_commit(struct mds *mds, MDB_txn *txn, void *arg)
{
	struct commit_op *op = arg;
	const Cfs__MdsTierCommit *r = op->r;
	struct cfs_tier_blob b;
	int rc;

	if (r->n_sizes != r->n_blobs)
		return -EINVAL;
	for (size_t i = 0; i < r->n_blobs; i++) {
		rc = cfs_tier_blob_get(&mds->ns, txn, r->blobs[i], &b);
		if (rc)		/* forgotten meanwhile: tierd restarted */
			return rc == -ENOENT ? -ESTALE : rc;
		if (!b.pending)
			return -EEXIST;
	}
	op->ntaken = 0;
	for (size_t i = 0; i < r->n_files; i++) {
		const Cfs__MdsTierFile *f = r->files[i];
		struct cfs_inode in;
		rc = cfs_ns_getattr(&mds->ns, txn, f->ino, &in);
		if (rc == -ENOENT)
			continue;	/* deleted since it was read */
		if (rc)
			return rc;
		/* every piece in a blob of this commit or stored before */
		for (size_t s = 0; s < f->n_segs; s++) {
			rc = cfs_tier_blob_get(&mds->ns, txn, f->segs[s]->blob, &b);
			if (rc == -ENOENT)
				return -EINVAL;
			if (rc)
				return rc;
		}
		if (!S_ISREG(in.mode) || !same_attrs(f, &in) ||
		    mds_open_for_write(mds, f->ino))
			continue;	/* changed since it was read */
		Cfs__MdsTierFile *old;
		rc = cfs_tier_get(&mds->ns, txn, f->ino, &old);
		if (rc)
			return rc;
		bool keep = old && old->evicted;
		if (old)
			cfs__mds_tier_file__free_unpacked(old, NULL);
		if (keep)
			continue;	/* evicted copies need the old pieces */
		rc = cfs_tier_put(&mds->ns, txn, f);
		if (rc)
			return rc;
		op->taken[op->ntaken++] = f->ino;
	}
	for (size_t i = 0; i < r->n_blobs; i++) {
		rc = cfs_tier_blob_get(&mds->ns, txn, r->blobs[i], &b);
		if (rc)
			return rc;
		b.pending = 0;
		b.size = r->sizes[i];
		rc = cfs_tier_blob_set(&mds->ns, txn, r->blobs[i], &b);
		if (rc)
			return rc;
	}
	return 0;
}

int mds_tier_commit(struct mds *mds, struct cfs_rpc_req *rq,
		    const Cfs__MdsTierCommit *r)
{
	if (!tier_peer(rq))
		return -EACCES;
	struct commit_op op = { .r = r };
	op.taken = malloc((r->n_files ? r->n_files : 1) * sizeof(*op.taken));
	if (!op.taken)
		return -ENOMEM;
	int rc = mds_mutate(mds, do_commit, &op, rq->client_id);
	Cfs__MdsTierCommitReply rep = CFS__MDS_TIER_COMMIT_REPLY__INIT;
	rep.taken = op.taken;
	rep.n_taken = op.ntaken;
	if (!rc)
		rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
	free(op.taken);
	return rc;
}

int mds_tier_file(struct mds *mds, struct cfs_rpc_req *rq,
		  const Cfs__MdsIno *r)
{
	if (!tier_peer(rq))
		return -EACCES;
	MDB_txn *txn;
	Cfs__MdsTierFile *t = NULL, none = CFS__MDS_TIER_FILE__INIT;
	int rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);
	if (rc)
		return rc;
	rc = cfs_tier_get(&mds->ns, txn, r->ino, &t);
	cfs_ns_abort(txn);
	if (!rc)
		rc = cfs_rpc_reply(rq, t ? &t->base : &none.base, NULL, 0);
	if (t)
		cfs__mds_tier_file__free_unpacked(t, NULL);
	return rc;
}

static int do_mark(struct mds *mds, MDB_txn *txn, void *arg)
{
	const Cfs__MdsTierFile *r = arg;
	Cfs__MdsTierFile *t;
	int rc = cfs_tier_get(&mds->ns, txn, r->ino, &t);
	if (rc)
		return rc;
	if (!t)
		return -ENODATA;
	if (r->evicted && (t->size != r->size || t->mtime_ns != r->mtime_ns ||
			   t->ctime_ns != r->ctime_ns))
		rc = -ESTALE;	/* tiered as it was, not as it is */
	else if (t->evicted != r->evicted) {
		t->evicted = r->evicted;
		rc = cfs_tier_put(&mds->ns, txn, t);
	}
	cfs__mds_tier_file__free_unpacked(t, NULL);
	return rc;
}

int mds_tier_mark(struct mds *mds, struct cfs_rpc_req *rq,
		  const Cfs__MdsTierFile *r)
{
	if (!tier_peer(rq))
		return -EACCES;
	return mds_mutate(mds, do_mark, (void *)r, rq->client_id);
}

static int do_flush(struct mds *mds, MDB_txn *txn, void *arg)
{
	uint64_t *gen = arg, cur = 0;
	int rc = cfs_ns_meta_get(&mds->ns, txn, "tier_flush", &cur);
	if (rc && rc != -ENOENT)
		return rc;
	*gen = cur + 1;
	return cfs_ns_meta_put(&mds->ns, txn, "tier_flush", *gen);
}

static void count_blob(void *arg, uint64_t id, const struct cfs_tier_blob *b)
{
	Cfs__MdsTierStatus *rep = arg;
	(void)id;
	if (b->pending) {
		rep->pending_blobs++;
		return;
	}
	rep->blobs++;
	rep->blob_bytes += b->size;
	rep->live_bytes += b->live;
}

/* The store's counts, for cfs tier status: one read of both tables. */
static int tier_counts(struct mds *mds, Cfs__MdsTierStatus *rep)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val kv, v;
	int rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);
	if (rc)
		return rc;
	rc = cfs_ns_meta_get(&mds->ns, txn, "tier_flush", &rep->flush);
	if (rc == -ENOENT)
		rc = 0;
	if (!rc)
		rc = cfs_ns_errno(mdb_cursor_open(txn, mds->ns.tier, &cur));
	for (int m = rc ? MDB_NOTFOUND : mdb_cursor_get(cur, &kv, &v, MDB_FIRST);
	     m == 0; m = mdb_cursor_get(cur, &kv, &v, MDB_NEXT)) {
		Cfs__MdsTierFile *t = cfs__mds_tier_file__unpack(NULL, v.mv_size,
								 v.mv_data);
		if (!t)
			continue;
		rep->tiered_files++;
		rep->tiered_bytes += t->size;
		cfs__mds_tier_file__free_unpacked(t, NULL);
	}
	if (!rc)
		mdb_cursor_close(cur);
	if (!rc)
		rc = each_blob(mds, txn, count_blob, rep);
	cfs_ns_abort(txn);
	return rc;
}

int mds_tier_status(struct mds *mds, struct cfs_rpc_req *rq,
		    const Cfs__MdsTierStatus *r)
{
	if (!tier_peer(rq))
		return -EACCES;
	Cfs__MdsTierStatus rep = CFS__MDS_TIER_STATUS__INIT;
	char store[256], err[256];
	int rc = 0;
	pthread_mutex_lock(&mds->tier_lock);
	if (r->report) {
		cfs__mds_tier_status__free_unpacked(mds->tier_report, NULL);
		size_t len = cfs__mds_tier_status__get_packed_size(r);
		uint8_t *buf = malloc(len ? len : 1);
		mds->tier_report = NULL;
		if (buf) {
			cfs__mds_tier_status__pack(r, buf);
			mds->tier_report = cfs__mds_tier_status__unpack(NULL, len,
									buf);
			free(buf);
		}
		mds->tier_report_ms = cfs_mono_ms();
	}
	const Cfs__MdsTierStatus *t = mds->tier_report;
	rep.reported_ms_ago = t ? cfs_mono_ms() - mds->tier_report_ms : -1;
	if (t) {
		rep.queued_files = t->queued_files;
		rep.queued_bytes = t->queued_bytes;
		rep.puts = t->puts;
		rep.gets = t->gets;
		rep.deletes = t->deletes;
		rep.failures = t->failures;
		rep.retries = t->retries;
		rep.latency_us = t->latency_us;
		rep.flushed = t->flushed;
		snprintf(store, sizeof(store), "%s", t->store);
		snprintf(err, sizeof(err), "%s", t->last_error);
		rep.store = store;
		rep.last_error = err;
	}
	pthread_mutex_unlock(&mds->tier_lock);
	if (r->flush_now)
		rc = mds_mutate(mds, do_flush, &rep.flush, rq->client_id);
	uint64_t asked = rep.flush;
	if (!rc)
		rc = tier_counts(mds, &rep);
	if (r->flush_now)
		rep.flush = asked;
	return rc ? rc : cfs_rpc_reply(rq, &rep.base, NULL, 0);
}
