/* tierd's passes (the design is in tierd/README.md).
 *
 * A pass asks the MDS for the files due (MDS_TIER_SCAN), reads each
 * through libcfs (its data ranges only: holes are not stored) and packs
 * its pieces (at most 1 MiB, never across a chunk) into the blob being
 * filled. A full blob is PUT under a key never used before (its id comes
 * from the MDS, recorded there as pending) and then committed
 * (MDS_TIER_COMMIT) with the files whose pieces all lie in stored blobs
 * — but a blob holding pieces of the file still being packed waits for
 * that file's end, so that no blob is ever committed that a later
 * commit would point into after garbage collection may have taken it.
 * A file that changed between the scan and the commit is refused by the
 * MDS (its pieces are dead weight in the blob). A PUT that fails is
 * retried, with a growing pause, until it works or tierd stops; writers
 * never wait for any of this.
 *
 * Garbage: blobs nothing points into any more, and (at start) blobs
 * left pending by a tierd that died, are DELETEd and then forgotten. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cfs/blob.h"
#include "cfs/clock.h"
#include "cfs/daemon.h"
#include "cfs/log.h"
#include "client_priv.h"
#include "mds.pb-c.h"
#include "tierd.h"

#define SCAN_BATCH 256
#define COMMIT_BLOBS 16

/* A file being packed, or packed and waiting for its commit. */
struct pfile {
	Cfs__MdsTierFile f;
	Cfs__MdsTierSeg *segs;
	size_t nsegs, cap;
	bool complete;
};

struct tierd {
	const struct tierd_config *cfg;
	struct cfs_client *cl;
	struct cfs_objstore *store;
	char cluster[33];
	struct cfs_blob blob;	/* being filled (id 0: none yet) */
	/* stored, not committed: ids and sizes */
	uint64_t *up_ids, *up_sizes;
	size_t nup, capup;
	struct pfile *files;	/* packed or being packed, oldest first */
	size_t nfiles, capfiles;
	uint64_t flushed;	/* the flush generation last completed */
	uint64_t queued_files, queued_bytes;
	char last_error[200];
	volatile bool *stop;
};

/* One call to the MDS; on success c->rep is the reply (an empty one,
 * all defaults, travels as no body: unpacked here all the same). */
static int mds_call(struct tierd *t, uint32_t method,
		    const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *rep_desc,
		    struct cfs_rpc_call *c)
{
	int rc = client_mds_call(t->cl, method, req, rep_desc, c);
	if (!rc && !c->rep) {
		c->rep = protobuf_c_message_unpack(rep_desc, NULL, 0, NULL);
		c->rep_keep = true;	/* freed by cfs_rpc_call_done */
		rc = c->rep ? 0 : -ENOMEM;
	}
	if (rc)
		cfs_rpc_call_done(c);
	return rc;
}

static void note_error(struct tierd *t, const char *what, int rc)
{
	snprintf(t->last_error, sizeof(t->last_error), "%s: %s", what,
		 strerror(-rc));
}

/* Sleep ms, waking early when told to stop. */
static void pause_ms(struct tierd *t, int64_t ms)
{
	int64_t until = cfs_mono_ms() + ms;
	while (!*t->stop && cfs_mono_ms() < until) {
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

static int report(struct tierd *t, uint64_t *flush);

static void blob_key(uint64_t id, char *key, size_t len)
{
	snprintf(key, len, "blobs/%016llx", (unsigned long long)id);
}

/* Ask the MDS for a blob id or to forget one; delete the blobs it says
 * nothing needs. */
static int blob_call(struct tierd *t, bool alloc, uint64_t forget,
		     bool starting, uint64_t *id)
{
	Cfs__MdsTierBlob req = CFS__MDS_TIER_BLOB__INIT;
	struct cfs_rpc_call c;
	req.alloc = alloc;
	req.forget = forget;
	req.starting = starting;
	int rc = mds_call(t, CFS__MDS_METHOD__MDS_TIER_BLOB, &req.base,
			  &cfs__mds_tier_blob__descriptor, &c);
	if (rc)
		return rc;
	const Cfs__MdsTierBlob *rep = (const void *)c.rep;
	if (id)
		*id = rep->id;
	size_t n = rep->n_doomed;
	uint64_t *doomed = malloc((n ? n : 1) * sizeof(*doomed));
	if (doomed)
		memcpy(doomed, rep->doomed, n * sizeof(*doomed));
	cfs_rpc_call_done(&c);
	if (!doomed)
		return -ENOMEM;
	for (size_t i = 0; i < n && !*t->stop; i++) {
		char key[64];
		blob_key(doomed[i], key, sizeof(key));
		int drc = cfs_objstore_delete(t->store, key);
		if (drc) {
			note_error(t, "DELETE", drc);
			break;	/* the next pass asks again */
		}
		cfs_log_info("blob deleted", "blob=%s", key);
		Cfs__MdsTierBlob f = CFS__MDS_TIER_BLOB__INIT;
		f.forget = doomed[i];
		if (!mds_call(t, CFS__MDS_METHOD__MDS_TIER_BLOB, &f.base,
			      &cfs__mds_tier_blob__descriptor, &c))
			cfs_rpc_call_done(&c);
	}
	free(doomed);
	return 0;
}

/* Commit the stored blobs no file being packed has pieces in, with the
 * packed files whose pieces all lie in them (or in earlier commits). */
static int commit(struct tierd *t)
{
	/* Files are in blob order. The first that cannot be committed yet
	 * (being packed, or with a piece in the blob being filled) holds back
	 * every blob it has pieces in, and so every file before it sharing
	 * one of those, and so on back: a blob is committed only with every
	 * file pointing into it, or it could be taken as garbage. */
	uint64_t limit = UINT64_MAX, last_up = t->nup ? t->up_ids[t->nup - 1] : 0;
	size_t nf = 0, nb = 0;
	while (nf < t->nfiles) {
		const struct pfile *f = &t->files[nf];
		if (!f->complete ||
		    (f->nsegs && f->segs[f->nsegs - 1].blob > last_up)) {
			limit = f->nsegs ? f->segs[0].blob :
				t->blob.id ? t->blob.id : UINT64_MAX;
			break;
		}
		nf++;
	}
	while (nf > 0 && t->files[nf - 1].nsegs &&
	       t->files[nf - 1].segs[t->files[nf - 1].nsegs - 1].blob >= limit) {
		nf--;
		limit = t->files[nf].segs[0].blob;
	}
	while (nb < t->nup && t->up_ids[nb] < limit)
		nb++;
	if (!nb && !nf)
		return 0;
	Cfs__MdsTierCommit req = CFS__MDS_TIER_COMMIT__INIT;
	Cfs__MdsTierFile **fp = calloc(nf ? nf : 1, sizeof(*fp));
	Cfs__MdsTierSeg ***sp = calloc(nf ? nf : 1, sizeof(*sp));
	int rc = fp && sp ? 0 : -ENOMEM;
	for (size_t i = 0; i < nf && !rc; i++) {
		struct pfile *p = &t->files[i];
		sp[i] = calloc(p->nsegs ? p->nsegs : 1, sizeof(**sp));
		if (!sp[i]) {
			rc = -ENOMEM;
			break;
		}
		for (size_t s = 0; s < p->nsegs; s++)
			sp[i][s] = &p->segs[s];
		p->f.segs = sp[i];
		p->f.n_segs = p->nsegs;
		fp[i] = &p->f;
	}
	req.blobs = t->up_ids;
	req.n_blobs = nb;
	req.sizes = t->up_sizes;
	req.n_sizes = nb;
	req.files = fp;
	req.n_files = nf;
	struct cfs_rpc_call c;
	if (!rc)
		rc = mds_call(t, CFS__MDS_METHOD__MDS_TIER_COMMIT, &req.base,
			      &cfs__mds_tier_commit_reply__descriptor, &c);
	if (!rc) {
		const Cfs__MdsTierCommitReply *rep = (const void *)c.rep;
		cfs_log_info("tiered", "blobs=%zu files=%zu taken=%zu", nb, nf,
			     rep->n_taken);
		cfs_rpc_call_done(&c);
	}
	for (size_t i = 0; sp && i < nf; i++)
		free(sp[i]);
	free(sp);
	free(fp);
	if (rc) {
		cfs_log_warn("commit refused", "blobs=%zu first=%llu files=%zu rc=%d",
			     nb, nb ? (unsigned long long)t->up_ids[0] : 0ull, nf,
			     rc);
		note_error(t, "commit", rc);
		return rc;
	}
	for (size_t i = 0; i < nf; i++) {
		free(t->files[i].segs);
		t->queued_files -= t->queued_files ? 1 : 0;
		t->queued_bytes -= t->queued_bytes >= t->files[i].f.size ?
					   t->files[i].f.size : t->queued_bytes;
	}
	memmove(t->files, t->files + nf, (t->nfiles - nf) * sizeof(*t->files));
	t->nfiles -= nf;
	memmove(t->up_ids, t->up_ids + nb, (t->nup - nb) * sizeof(uint64_t));
	memmove(t->up_sizes, t->up_sizes + nb, (t->nup - nb) * sizeof(uint64_t));
	t->nup -= nb;
	return 0;
}

/* PUT the blob being filled, retrying until it is stored or tierd
 * stops; then commit what can be. */
static int store_blob(struct tierd *t)
{
	if (!t->blob.id)
		return 0;
	size_t len = cfs_blob_finish(&t->blob);
	char key[64];
	blob_key(t->blob.id, key, sizeof(key));
	cfs_fault_point("tier-before-put");
	for (int attempt = 0;; attempt++) {
		int rc = cfs_objstore_put(t->store, key, t->blob.buf, len);
		if (!rc)
			break;
		note_error(t, "PUT", rc);
		if (*t->stop)
			return -EINTR;
		uint64_t flush;
		report(t, &flush);	/* the backlog and the error, meanwhile */
		int64_t ms = 1000LL << (attempt < 6 ? attempt : 6);
		cfs_log_warn("object store unavailable, will retry", "blob=%s "
			     "rc=%d retry_in_ms=%lld", key, rc, (long long)ms);
		pause_ms(t, ms / 2 + rand() % (ms / 2 + 1));
	}
	if (t->nup == t->capup) {
		size_t cap = t->capup ? t->capup * 2 : 16;
		uint64_t *a = realloc(t->up_ids, cap * sizeof(*a));
		if (a)
			t->up_ids = a;
		uint64_t *b = realloc(t->up_sizes, cap * sizeof(*b));
		if (b)
			t->up_sizes = b;
		if (!a || !b)
			return -ENOMEM;
		t->capup = cap;
	}
	cfs_fault_point("tier-after-put");	/* stored, not committed */
	t->up_ids[t->nup] = t->blob.id;
	t->up_sizes[t->nup++] = len;
	t->blob.id = 0;
	return commit(t);
}

/* Room for a piece in a blob: a new one when none is being filled or
 * the one being filled is full. */
static int blob_room(struct tierd *t, size_t *room)
{
	if (t->blob.id && cfs_blob_room(&t->blob) == 0) {
		int rc = store_blob(t);
		if (rc)
			return rc;
	}
	if (!t->blob.id) {
		uint64_t id;
		int rc = blob_call(t, true, 0, false, &id);
		if (!rc)
			rc = cfs_blob_start(&t->blob, t->cluster, id);
		if (rc)
			return rc;
	}
	*room = cfs_blob_room(&t->blob);
	return 0;
}

static int add_seg(struct pfile *p, const struct cfs_blob_seg *s)
{
	if (p->nsegs == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		Cfs__MdsTierSeg *n = realloc(p->segs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->segs = n;
		p->cap = cap;
	}
	Cfs__MdsTierSeg *g = &p->segs[p->nsegs++];
	cfs__mds_tier_seg__init(g);
	g->chunk = s->chunk;
	g->chunk_off = (uint32_t)s->chunk_off;
	g->blob_off = s->blob_off;
	g->len = s->len;
	g->crc = s->crc;
	return 0;
}

/* Pack [off, end) of the open file p, the last of t->files. */
static int pack_range(struct tierd *t, struct pfile *p, uint64_t off,
		      uint64_t end, uint8_t *buf)
{
	while (off < end && !*t->stop) {
		size_t room;
		int rc = blob_room(t, &room);
		if (rc)
			return rc;
		uint64_t n = end - off;
		uint64_t to_chunk = CFS_CHUNK_SIZE - off % CFS_CHUNK_SIZE;
		if (n > to_chunk)
			n = to_chunk;
		if (n > room)
			n = room;
		/* (a commit in blob_room moves the files: ours is the last) */
		p = &t->files[t->nfiles - 1];
		ssize_t got = cfs_read(t->cl, p->f.ino, off, buf, (size_t)n);
		if (got < 0)
			return (int)got;
		if (got == 0)
			return -ESTALE;	/* shorter now: changed */
		rc = cfs_blob_add(&t->blob, p->f.ino,
				  (uint32_t)(off / CFS_CHUNK_SIZE),
				  (uint64_t)p->f.ctime_ns, off % CFS_CHUNK_SIZE,
				  buf, (uint32_t)got);
		if (rc)
			return rc;
		rc = add_seg(p, &t->blob.segs[t->blob.nsegs - 1]);
		if (rc)
			return rc;
		p->segs[p->nsegs - 1].blob = t->blob.id;
		off += (uint64_t)got;
	}
	return *t->stop ? -EINTR : 0;
}

/* Read a file due and pack its data ranges; it waits in t->files for
 * its commit. A file that is gone or changed is left out. */
static int pack_file(struct tierd *t, const Cfs__MdsTierFile *due,
		     uint8_t *buf)
{
	static const struct cfs_cred root = { 0 };
	struct cfs_attr a;
	int rc;

	if (due->evicted) {
		/* changed while evicted: every copy whole again before its
		 * record (and the pieces the copies need) may be replaced */
		rc = cfs_tier_fill(t->cl, due->ino);
		if (rc)
			return rc == -ENOENT ? 0 : rc;
	}
	rc = cfs_open(t->cl, &root, due->ino, O_RDONLY, &a);
	if (rc)
		return rc == -ENOENT || rc == -ESTALE ? 0 : rc;
	if (a.size != due->size || a.mtime_ns != due->mtime_ns ||
	    a.ctime_ns != due->ctime_ns) {
		cfs_release(t->cl, due->ino, O_RDONLY);
		return 0;	/* changed since the scan: the next pass */
	}
	if (t->nfiles == t->capfiles) {
		size_t cap = t->capfiles ? t->capfiles * 2 : 64;
		struct pfile *n = realloc(t->files, cap * sizeof(*n));
		if (!n) {
			cfs_release(t->cl, due->ino, O_RDONLY);
			return -ENOMEM;
		}
		t->files = n;
		t->capfiles = cap;
	}
	struct pfile *p = &t->files[t->nfiles++];
	memset(p, 0, sizeof(*p));
	cfs__mds_tier_file__init(&p->f);
	p->f.ino = due->ino;
	p->f.size = due->size;
	p->f.mtime_ns = due->mtime_ns;
	p->f.ctime_ns = due->ctime_ns;
	/* data ranges: SEEK_DATA / SEEK_HOLE, chunk by chunk on the OSDs */
	uint64_t off = 0;
	rc = 0;
	while (off < a.size && !rc) {
		int64_t d = cfs_lseek(t->cl, due->ino, off, SEEK_DATA);
		if (d == -ENXIO)
			break;
		int64_t h = d < 0 ? (int64_t)a.size :
				    cfs_lseek(t->cl, due->ino, (uint64_t)d,
					      SEEK_HOLE);
		if (d < 0)
			d = (int64_t)off;	/* cannot tell: all of it */
		if (h < 0 || (uint64_t)h > a.size)
			h = (int64_t)a.size;
		rc = pack_range(t, p, (uint64_t)d, (uint64_t)h, buf);
		off = (uint64_t)h;
	}
	cfs_release(t->cl, due->ino, O_RDONLY);
	p = &t->files[t->nfiles - 1];	/* (commits moved it) */
	if (rc && rc != -EINTR)
		cfs_log(rc == -ESTALE || rc == -ENOENT ? CFS_LOG_INFO :
							 CFS_LOG_WARN,
			"a file left out of this pass", "ino=%lu at=%lu rc=%d%s",
			(unsigned long)due->ino, (unsigned long)off, rc,
			rc == -ESTALE ? " (changed while read)" : "");
	if (rc) {	/* changed (or unreadable): left out, its pieces dead */
		free(p->segs);
		t->nfiles--;
		return rc == -ESTALE || rc == -ENOENT ? 0 : rc;
	}
	p->complete = true;
	/* files sharing blobs chain their commits together: past
	 * COMMIT_BLOBS stored and waiting, the blob being filled goes out
	 * now, not full, so that everything packed can be committed (a
	 * crash loses no more than that much uploading) */
	if (t->nup >= COMMIT_BLOBS && t->blob.id && t->blob.nsegs)
		return store_blob(t);
	return 0;
}

/* One pass over the files due: 0 once every one is committed. */
static int pass(struct tierd *t, uint32_t min_age_s)
{
	uint8_t *buf = malloc(CFS_BLOB_SEG_MAX);
	uint64_t after = 0;
	int rc = buf ? 0 : -ENOMEM;
	bool done = false;
	t->queued_files = t->queued_bytes = 0;
	while (!rc && !done && !*t->stop) {
		Cfs__MdsTierScan req = CFS__MDS_TIER_SCAN__INIT;
		struct cfs_rpc_call c;
		req.after = after;
		req.max = SCAN_BATCH;
		req.min_age_s = min_age_s;
		req.repack_pct = (uint32_t)t->cfg->repack_pct;
		rc = mds_call(t, CFS__MDS_METHOD__MDS_TIER_SCAN, &req.base,
			      &cfs__mds_tier_scan_reply__descriptor, &c);
		if (rc) {
			note_error(t, "scan", rc);
			break;
		}
		const Cfs__MdsTierScanReply *rep = (const void *)c.rep;
		done = rep->done;
		for (size_t i = 0; i < rep->n_files; i++) {
			t->queued_files++;
			t->queued_bytes += rep->files[i]->size;
		}
		uint64_t flush;
		if (rep->n_files)
			report(t, &flush);
		for (size_t i = 0; i < rep->n_files && !rc; i++) {
			after = rep->files[i]->ino;
			rc = pack_file(t, rep->files[i], buf);
			if (rc)
				note_error(t, "read", rc);
		}
		if (!rep->n_files)
			done = true;
		cfs_rpc_call_done(&c);
	}
	free(buf);
	/* the pass's end: what is packed goes out now */
	if (!rc && t->blob.id && t->blob.nsegs)
		rc = store_blob(t);
	if (!rc)
		rc = commit(t);
	return rc ? rc : (t->nfiles || t->nup) ? -EAGAIN : 0;
}

/* Past the high watermark of flash use, evict tiered files (oldest
 * inodes first) until what they free brings it to the low one; the
 * next pass looks again (the figures lag the OSDs' heartbeats). */
static int evict_to_watermark(struct tierd *t)
{
	struct statvfs sv;
	int rc = cfs_statfs(t->cl, &sv);
	if (rc || !sv.f_blocks)
		return rc;
	uint64_t total = (uint64_t)sv.f_blocks * sv.f_frsize;
	uint64_t used = total - (uint64_t)sv.f_bfree * sv.f_frsize;
	if (used * 100 <= total * (uint64_t)t->cfg->high_pct)
		return 0;
	uint64_t target = total / 100 * (uint64_t)t->cfg->low_pct;
	uint64_t to_free = used > target ? used - target : 0, freed = 0;
	uint64_t after = 0, files = 0;
	bool done = false;
	cfs_log_info("flash past its high watermark: evicting", "used_pct=%llu "
		     "to_free=%llu", (unsigned long long)(used * 100 / total),
		     (unsigned long long)to_free);
	while (!rc && !done && freed < to_free && !*t->stop) {
		Cfs__MdsTierScan req = CFS__MDS_TIER_SCAN__INIT;
		struct cfs_rpc_call c;
		req.after = after;
		req.max = SCAN_BATCH;
		req.evictable = true;
		rc = mds_call(t, CFS__MDS_METHOD__MDS_TIER_SCAN, &req.base,
			      &cfs__mds_tier_scan_reply__descriptor, &c);
		if (rc)
			break;
		const Cfs__MdsTierScanReply *rep = (const void *)c.rep;
		done = rep->done || !rep->n_files;
		for (size_t i = 0; i < rep->n_files && freed < to_free; i++) {
			after = rep->files[i]->ino;
			int erc = cfs_tier_evict(t->cl, rep->files[i]->ino);
			if (!erc) {
				freed += rep->files[i]->size;
				files++;
			} else if (erc != -ESTALE && erc != -ENODATA &&
				   erc != -EOPNOTSUPP && erc != -ENOENT) {
				note_error(t, "evict", erc);
			}
		}
		cfs_rpc_call_done(&c);
	}
	cfs_log_info("evicted", "files=%llu bytes=%llu",
		     (unsigned long long)files, (unsigned long long)freed);
	return rc;
}

/* Tell the MDS how things stand; learn the flush generation asked. */
static int report(struct tierd *t, uint64_t *flush)
{
	struct cfs_objstore_stats st;
	cfs_objstore_stats(t->store, &st);
	Cfs__MdsTierStatus req = CFS__MDS_TIER_STATUS__INIT;
	req.report = true;
	req.queued_files = t->queued_files;
	req.queued_bytes = t->queued_bytes;
	req.puts = st.puts;
	req.gets = st.gets;
	req.deletes = st.deletes;
	req.failures = st.failures;
	req.retries = st.retries;
	req.latency_us = st.latency_us;
	req.flushed = t->flushed;
	req.store = (char *)cfs_objstore_name(t->store);
	req.last_error = t->last_error;
	struct cfs_rpc_call c;
	int rc = mds_call(t, CFS__MDS_METHOD__MDS_TIER_STATUS, &req.base,
			  &cfs__mds_tier_status__descriptor, &c);
	if (rc)
		return rc;
	*flush = ((const Cfs__MdsTierStatus *)c.rep)->flush;
	cfs_rpc_call_done(&c);
	return 0;
}

void tierd_run(struct tierd *t, volatile bool *stop)
{
	t->stop = stop;
	bool started = false;
	while (!*stop) {
		uint64_t flush = 0;
		int rc = report(t, &flush);
		if (!rc && !started) {	/* what a dead tierd left pending */
			rc = blob_call(t, false, 0, true, NULL);
			started = !rc;
		}
		if (!rc) {
			bool forced = flush > t->flushed;
			rc = pass(t, forced ? 0 : (uint32_t)t->cfg->min_age_s);
			if (!rc) {
				t->flushed = flush;
				t->last_error[0] = 0;
				rc = report(t, &flush);
			}
			if (!rc)
				rc = blob_call(t, false, 0, false, NULL);
			if (!rc)
				rc = evict_to_watermark(t);
		}
		if (rc && rc != -EAGAIN && rc != -EINTR)
			cfs_log_warn("tier pass did not finish", "rc=%d error=\"%s\"",
				     rc, t->last_error);
		pause_ms(t, t->cfg->interval_ms);
	}
}

int tierd_open(struct tierd **out, const struct tierd_config *cfg)
{
	struct tierd *t = calloc(1, sizeof(*t));
	if (!t)
		return 1;
	t->cfg = cfg;
	struct cfs_objstore_opts so = {
		.access_key = *cfg->access_key ? cfg->access_key : NULL,
		.secret_key = *cfg->secret_key ? cfg->secret_key : NULL,
		.timeout_ms = (int)cfg->timeout_ms,
	};
	char err[300];
	if (cfs_objstore_open(cfg->store, &so, &t->store, err, sizeof(err))) {
		cfs_log_error("cannot use the object store", "why=\"%s\"", err);
		free(t);
		return 1;
	}
	struct cfs_client_opts o = { .mds = cfg->mds, .writeback_mb = -1,
				     .mds_wait_ms = 10000 };
	int rc = cfs_client_new(&t->cl, &o);
	if (rc) {
		cfs_log_error("cannot reach the MDS", "mds=%s rc=%d", cfg->mds, rc);
		cfs_objstore_close(t->store);
		free(t);
		return 1;
	}
	struct cfs_map *m = cfs_map_get(&t->cl->maps);
	snprintf(t->cluster, sizeof(t->cluster), "%s",
		 m && m->pb->cluster_id ? m->pb->cluster_id : "");
	cfs_map_put(&t->cl->maps, m);
	cfs_log_info("tierd started", "mds=%s store=%s min_age_s=%lld",
		     cfg->mds, cfs_objstore_name(t->store), cfg->min_age_s);
	*out = t;
	return 0;
}

void tierd_close(struct tierd *t)
{
	for (size_t i = 0; i < t->nfiles; i++)
		free(t->files[i].segs);
	free(t->files);
	free(t->up_ids);
	free(t->up_sizes);
	cfs_blob_free(&t->blob);
	cfs_client_free(t->cl);
	cfs_objstore_close(t->store);
	free(t);
}
