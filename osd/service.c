/* The OSD's RPC methods.
 *
 * Ordering: a client sends a change (write, truncate, punch) to the
 * chunk's acting primary, the first up target in the placement. The
 * primary takes the chunk's lock, applies the change locally with the
 * next version, forwards it with that version to every other target that
 * is up, and acknowledges once all have it durable. A replica applies a
 * forwarded change only on top of the version before it; if it missed
 * changes (it was down) it answers -ESTALE and the primary sends it the
 * whole chunk instead, so replicas never hold a mix of old and new.
 *
 * Reads may go to any replica; data and CRCs are verified here on the
 * way out and again by the client. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfs/clock.h"
#include "cfs/crc.h"
#include "cfs/log.h"
#include "cfs/token.h"
#include "ec.h"
#include "osd.h"
#include "osd.pb-c.h"

#define OSD(arg) ((struct osd *)(arg))

static struct chunk_id chunk_of(const Cfs__ChunkId *c)
{
	struct chunk_id id = { c ? c->ino : 0, c ? c->index : 0 };

	return id;
}

static bool is_ec(uint32_t layout)
{
	struct cfs_layout l;

	return cfs_layout_unpack(layout, &l) == 0 && cfs_layout_is_ec(&l);
}

/* Make sure our map is at least as new as the sender's. */
static void catch_up(struct osd *osd, uint64_t epoch)
{
	if (epoch > cfs_map_epoch(&osd->maps))
		cfs_map_wait_newer(&osd->maps, epoch - 1, 1000);
}

void osd_ec_fence(struct osd *osd, uint64_t epoch)
{
	uint64_t cur = __atomic_load_n(&osd->ec_fence, __ATOMIC_ACQUIRE);

	while (epoch > cur &&
	       !__atomic_compare_exchange_n(&osd->ec_fence, &cur, epoch, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

bool osd_serving(struct osd *osd)
{
	return osd->ready && cfs_mono_ms() - osd->heartbeat_ok_ms <
				     3 * osd->cfg.heartbeat_ms;
}

/* The other targets of a chunk that take its changes (up or recovering),
 * as indexes into m->osds; whether we are its acting primary (the first
 * up target, and serving); and whether target `also` is among them. */
static int peers_of(struct osd *osd, const Cfs__ClusterMap *m,
		    uint32_t layout, struct chunk_id c, int *out, bool *primary,
		    uint32_t also, bool *has_also)
{
	int t[CFS_MAX_TARGETS], n, k = 0;
	bool seen_up = false;

	*primary = false;
	if (has_also)
		*has_also = false;
	n = cfs_placement_chunk(m, layout, c.ino, c.index, t);
	for (int i = 0; i < n; i++) {
		const Cfs__OsdInfo *o = m->osds[t[i]];
		bool up = o->state == CFS__OSD_STATE__OSD_UP;

		if (has_also && o->id == also)
			*has_also = true;
		if (o->id == osd->id) {
			*primary = !seen_up && up && osd_serving(osd);
			seen_up |= up;
			continue;
		}
		seen_up |= up;
		if (up || o->state == CFS__OSD_STATE__OSD_RECOVERING)
			out[k++] = t[i];
	}
	return k;
}

/* The OSDs a forwarded EC change goes to (cfs/store.h), or NULL. */
static const struct store_takers *takers_of(const uint32_t *ids, size_t n,
					    uint64_t epoch,
					    struct store_takers *buf)
{
	if (n == 0)
		return NULL;
	memset(buf, 0, sizeof(*buf));
	buf->epoch = epoch;
	for (size_t i = 0; i < n && i < sizeof(buf->id) / sizeof(buf->id[0]);
	     i++)
		buf->id[i] = ids[i];
	return buf;
}

/* Send our whole copy of chunk c to the OSD at addr: a replica that fell
 * behind (chunk lock held, we are primary) or, if_newer, a target that
 * may hold a newer copy already. *bytes: what was sent. */
int osd_push_chunk(struct osd *osd, const char *addr, struct chunk_id c,
		   bool if_newer, uint64_t *bytes)
{
	Cfs__ChunkId cid = CFS__CHUNK_ID__INIT;
	Cfs__OsdPutChunk req = CFS__OSD_PUT_CHUNK__INIT;
	struct cfs_rpc_call call = {
		.method = CFS__OSD_METHOD__OSD_PUT_CHUNK,
		.req = &req.base,
		.timeout_ms = (int)osd->cfg.timeout_ms,
	};
	uint64_t block_off, version, size;
	uint32_t *crcs;
	size_t nblocks;
	void *data;
	int rc;

	rc = store_read(&osd->store, c, 0, CFS_CHUNK_SIZE, true, &data, &block_off,
			&crcs, &nblocks, &version, &size);
	if (rc)
		return rc;
	cid.ino = c.ino;
	cid.index = c.index;
	req.chunk = &cid;
	req.version = version;
	req.size = size;
	req.crcs = crcs;
	req.n_crcs = nblocks;
	req.if_newer = if_newer;
	call.bulk = data;
	call.bulk_len = nblocks * CFS_BLOCK_SIZE;
	rc = cfs_rpc_call(osd->peers, addr, &call);
	cfs_rpc_call_done(&call);
	cfs_log_info("pushed whole chunk", "ino=%lu index=%lu to=%s "
		     "version=%lu bytes=%lu rc=%d", (unsigned long)c.ino,
		     (unsigned long)c.index, addr, (unsigned long)version,
		     (unsigned long)size, rc);
	if (bytes)
		*bytes = rc ? 0 : size;
	free(data);
	free(crcs);
	return rc;
}

int osd_peer_read(struct osd *osd, const char *addr, uint64_t map_epoch,
		  struct chunk_id c, uint64_t length, uint64_t fence,
		  struct cfs_rpc_call *call)
{
	Cfs__ChunkId cid = CFS__CHUNK_ID__INIT;
	Cfs__OsdRead req = CFS__OSD_READ__INIT;
	int rc;

	*call = (struct cfs_rpc_call){
		.method = CFS__OSD_METHOD__OSD_READ,
		.req = &req.base,
		.rep_desc = &cfs__osd_read_reply__descriptor,
		.timeout_ms = (int)osd->cfg.timeout_ms,
	};
	cid.ino = c.ino;
	cid.index = c.index;
	req.chunk = &cid;
	req.length = length;
	req.map_epoch = map_epoch;
	req.fence = fence;
	rc = cfs_rpc_call(osd->peers, addr, call);
	call->req = NULL;	/* it was on our stack */
	return rc == 0 && !call->rep ? -EBADMSG : rc;
}

int64_t osd_peer_version(struct osd *osd, const char *addr,
			 uint64_t map_epoch, struct chunk_id c,
			 bool *can_roll_back, struct store_takers *takers,
			 uint64_t fence)
{
	struct cfs_rpc_call call;
	int rc = osd_peer_read(osd, addr, map_epoch, c, 0, fence, &call);
	const Cfs__OsdReadReply *rep = (const void *)call.rep;
	int64_t v = rc ? rc : (int64_t)rep->version;

	if (can_roll_back) {
		*can_roll_back = rc == 0 && rep->can_roll_back;
		if (!*can_roll_back || !takers_of(rep->takers, rep->n_takers,
						  rep->takers_epoch, takers))
			memset(takers, 0, sizeof(*takers));
	}
	cfs_rpc_call_done(&call);
	return v;
}

/* The version a forwarded change may be applied on, or why not. */
static int replica_check(struct osd *osd, struct chunk_id c,
			 uint64_t version, bool *duplicate)
{
	uint64_t have;
	int rc = store_version(&osd->store, c, &have);

	*duplicate = false;
	if (rc)
		return rc;
	if (have >= version) {
		*duplicate = have == version;
		return *duplicate ? 0 : -ESTALE;
	}
	return have + 1 == version ? 0 : -ESTALE;
}

/* The common frame of every change: find our role, lock, apply with a
 * version, forward if primary, answer. */
struct change {
	uint32_t method;
	uint32_t layout;		/* the file's (cfs/layout.h) */
	const struct ec_change *ec;	/* for an EC layout: what to do */
	struct chunk_id chunk;
	uint64_t map_epoch;
	bool forwarded;
	uint64_t version;		/* in: from the primary; out: applied */
	ProtobufCMessage *msg;		/* the request, to forward */
	uint64_t *msg_version;		/* its version field */
	protobuf_c_boolean *msg_forwarded;
	const void *bulk;
	size_t bulk_len;
	const void *bulk_sealed;	/* as it came (cfs_rpc_req) */
	int (*apply)(struct osd *osd, struct change *ch);
	/* optional, at the primary: apply without the sync (store_pending) */
	int (*begin)(struct osd *osd, struct change *ch,
		     struct store_pending *p);
	void *arg;
};

/* Forward a change (already applied here at `version`) to the other up
 * targets: the client's message, its version and forwarded fields set,
 * and its bulk as it came. Chunk lock held. */
static int forward(struct osd *osd, const Cfs__ClusterMap *m,
		   struct chunk_id c, const int *peers, int npeers,
		   const struct change *ch)
{
	struct cfs_rpc_call calls[CFS_MAX_TARGETS];
	struct cfs_rpc_call *cp[CFS_MAX_TARGETS] = { NULL };
	const char *addrs[CFS_MAX_TARGETS] = { NULL };
	int status[CFS_MAX_TARGETS], rc = 0;

	if (npeers == 0)
		return 0;
	for (int i = 0; i < npeers; i++) {
		calls[i] = (struct cfs_rpc_call){
			.method = ch->method,
			.req = ch->msg,
			.bulk = ch->bulk,
			.bulk_len = ch->bulk_len,
			.bulk_sealed = ch->bulk_sealed,
			.timeout_ms = (int)osd->cfg.timeout_ms,
		};
		cp[i] = &calls[i];
		addrs[i] = m->osds[peers[i]]->addr;
	}
	cfs_rpc_call_many(osd->peers, addrs, cp, status, npeers);
	for (int i = 0; i < npeers; i++) {
		cfs_rpc_call_done(&calls[i]);
		if (status[i] == -ESTALE)
			status[i] = osd_push_chunk(osd, addrs[i], c, false,
						   NULL);
		if (status[i]) {
			cfs_log_warn("replica did not take change",
				     "ino=%lu index=%lu replica=%s rc=%d",
				     (unsigned long)c.ino,
				     (unsigned long)c.index, addrs[i],
				     status[i]);
			rc = status[i] == -ENOSPC ? -ENOSPC : -EIO;
		}
	}
	return rc;
}

/* With tokens, only daemons (the MDS, OSDs) reach chunks without a
 * capability: a client's data request carries one the MDS granted for
 * that file and access, checked here (cfs/cap.h). */
static bool from_daemon(const struct cfs_rpc_req *rq)
{
	return !rq->peer || rq->peer->role == CFS_ROLE_OSD ||
	       rq->peer->role == CFS_ROLE_MDS;
}

static int may(struct osd *osd, const struct cfs_rpc_req *rq,
	       const Cfs__Capability *cap, uint64_t ino, bool write)
{
	const char *why = "no capability key from the MDS yet";
	int rc = -EAGAIN;

	if (from_daemon(rq))
		return 0;
	if (osd->has_cap_key)
		rc = cfs_cap_check(osd->cap_key, cap, ino, write, rq->peer->id,
				   (int64_t)time(NULL), &why);
	if (rc && rc != -EKEYEXPIRED)	/* an expired one is renewed */
		cfs_log_warn("refused a data request", "ino=%lu client=%016lx "
			     "token=%s reason=\"%s\"", (unsigned long)ino,
			     (unsigned long)rq->client_id, rq->peer->id, why);
	return rc;
}

static int run_change(struct osd *osd, struct cfs_rpc_req *rq,
		      struct change *ch)
{
	Cfs__OsdWriteReply rep = CFS__OSD_WRITE_REPLY__INIT;
	struct cfs_map *map;
	int peers[CFS_MAX_TARGETS], npeers = 0, rc;
	bool primary, duplicate = false;

	if (rq->peer && rq->peer->ro)
		return -EROFS;	/* a read-only token changes no data */
	catch_up(osd, ch->map_epoch);
	if (!ch->forwarded)
		sem_wait(&osd->primary_slots);
	store_lock(&osd->store, osd_chunk_guard(ch->chunk));
	/* the map once our turn has come: changes queued behind a slow one
	 * must not go on to targets that went down meanwhile */
	map = cfs_map_get(&osd->maps);
	if (!map) {
		rc = -EAGAIN;
		goto unlock;
	}
	if (ch->ec && !ch->forwarded) {
		rc = osd_ec_change(osd, map->pb, ch->layout, ch->chunk, ch->ec,
				   &ch->version);
		goto out;
	}
	npeers = peers_of(osd, map->pb, ch->layout, ch->chunk, peers, &primary,
			  0, NULL);
	if (ch->forwarded && (ch->chunk.index & CFS_SHARD_BIT) &&
	    ch->map_epoch <
		    __atomic_load_n(&osd->ec_fence, __ATOMIC_ACQUIRE)) {
		rc = -EAGAIN;	/* fenced off: a newer primary settles it */
		goto out;
	}
	if (ch->forwarded) {
		rc = replica_check(osd, ch->chunk, ch->version, &duplicate);
		if (rc || duplicate)
			goto out;
		rc = ch->apply(osd, ch);
		goto out;
	}
	if (!primary) {
		rc = -ESTALE;	/* the client's map is old: it refreshes */
		goto out;
	}
	rc = store_version(&osd->store, ch->chunk, &ch->version);
	if (rc)
		goto out;
	ch->version++;
	if (ch->begin) {
		/* our sync runs while the replicas take the change; the
		 * version is written first, so a failed sync never lets a
		 * retry reuse it */
		struct store_pending pend;
		int sync_rc;

		rc = ch->begin(osd, ch, &pend);
		if (rc)
			goto out;
		store_sync_start(&pend);
		*ch->msg_version = ch->version;
		*ch->msg_forwarded = true;
		rc = forward(osd, map->pb, ch->chunk, peers, npeers, ch);
		sync_rc = store_sync_finish(&pend);
		if (!rc)
			rc = sync_rc;
		goto out;
	}
	rc = ch->apply(osd, ch);
	if (rc)
		goto out;
	*ch->msg_version = ch->version;
	*ch->msg_forwarded = true;
	rc = forward(osd, map->pb, ch->chunk, peers, npeers, ch);
out:
	rep.map_epoch = map->pb->epoch;
	cfs_map_put(&osd->maps, map);
unlock:
	store_unlock(&osd->store, osd_chunk_guard(ch->chunk));
	if (!ch->forwarded)
		sem_post(&osd->primary_slots);
	rep.version = ch->version;
	if (rc == 0)
		rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
	else
		cfs_rpc_reply(rq, &rep.base, NULL, 0);
	return rc;
}

/* ---- write ---- */

/* A write's extents: the message's list, or its one offset and the
 * whole bulk. */
struct write_extents {
	struct store_extent one, *ex;
	size_t n;
};

static int begin_write(struct osd *osd, struct change *ch,
		       struct store_pending *p)
{
	const Cfs__OsdWrite *r = (const void *)ch->msg;
	const struct write_extents *w = ch->arg;
	struct store_takers t;

	return store_write_begin(&osd->store, ch->chunk, w->ex, w->n,
				 ch->bulk, r->crcs, ch->version,
				 takers_of(r->takers, r->n_takers, r->map_epoch, &t),
				 p);
}

static int apply_write(struct osd *osd, struct change *ch)
{
	struct store_pending p;
	int rc = begin_write(osd, ch, &p);

	return rc ? rc : store_sync_finish(&p);
}

/* The extents of r over a bulk of bulk_len bytes, checked: each inside
 * the chunk and not empty, together the whole bulk, with one CRC per
 * piece. *w->ex is malloc'd for a list (free it). */
static int write_extents(const Cfs__OsdWrite *r, size_t bulk_len,
			 struct write_extents *w)
{
	uint64_t total = 0;
	size_t pieces = 0;

	w->ex = &w->one;
	w->n = 1;
	w->one = (struct store_extent){ r->offset, bulk_len };
	if (bulk_len == 0 && r->forwarded && !r->n_extent_offsets &&
	    !r->n_extent_lengths && !r->n_crcs) {
		w->n = 0;	/* an EC shard the change leaves alone */
		return 0;
	}
	if (r->n_extent_offsets || r->n_extent_lengths) {
		if (r->n_extent_offsets != r->n_extent_lengths)
			return -EINVAL;
		w->ex = malloc(r->n_extent_offsets * sizeof(*w->ex));
		if (!w->ex)
			return -ENOMEM;
		w->n = r->n_extent_offsets;
		for (size_t i = 0; i < w->n; i++)
			w->ex[i] = (struct store_extent){
				r->extent_offsets[i], r->extent_lengths[i]
			};
	}
	for (size_t i = 0; i < w->n; i++) {
		const struct store_extent *e = &w->ex[i];

		if (e->len == 0 || e->len > CFS_CHUNK_SIZE ||
		    e->off >= CFS_CHUNK_SIZE || e->off + e->len > CFS_CHUNK_SIZE)
			return -EINVAL;
		total += e->len;
		pieces += cfs_crc_npieces(e->off, e->len);
	}
	return total == bulk_len && pieces == r->n_crcs ? 0 : -EINVAL;
}

/* Check the CRC of every piece of every extent. */
static int verify_pieces(const struct write_extents *w, const uint8_t *data,
			 const uint32_t *crcs)
{
	for (size_t i = 0; i < w->n; i++) {
		const struct store_extent *e = &w->ex[i];

		if (cfs_crc_pieces_check(e->off, data, e->len, crcs))
			return -EBADMSG;
		crcs += cfs_crc_npieces(e->off, e->len);
		data += e->len;
	}
	return 0;
}

static uint64_t reserve_of(const struct osd *osd, uint64_t capacity)
{
	return capacity / 100 * (uint64_t)osd->cfg.reserve_pct;
}

int osd_space(struct osd *osd, uint64_t *capacity, uint64_t *used)
{
	int rc = store_space(&osd->store, capacity, used);

	if (rc == 0)
		*capacity -= reserve_of(osd, *capacity);
	return rc;
}

/* Room for a write of len bytes, taken until give_room: a client's may
 * fill the store up to its reserve, a forwarded one (a change a primary
 * accepted) half into it; the rest is for healing and deletes. Writes
 * under way count as written, so writers side by side do not overshoot.
 * A client's write that would fit were it not for those waits (up to
 * ROOM_WAIT_MS, within a client's 2 s attempt) for them to end: ENOSPC
 * means the store is full, not busy. Forwarded writes never wait, and
 * at most a quarter of the workers do, so that the writes under way
 * find workers to end on. A write that fits takes no lock. */
#define ROOM_WAIT_MS 1500

/* 0: taken; -EBUSY: it fits once writes under way end; -ENOSPC: full. */
static int room_try(struct osd *osd, uint64_t len, bool forwarded)
{
	uint64_t capacity, used, reserve, writing;

	if (store_space(&osd->store, &capacity, &used)) {
		atomic_fetch_add(&osd->writing, len);	/* the disk will say */
		return 0;
	}
	reserve = reserve_of(osd, capacity) / (forwarded ? 2 : 1);
	if (used + len + reserve > capacity)
		return -ENOSPC;
	writing = atomic_load(&osd->writing);
	do {
		if (used + writing + len + reserve > capacity)
			return -EBUSY;
	} while (!atomic_compare_exchange_weak(&osd->writing, &writing,
					       writing + len));
	return 0;
}

static int take_room(struct osd *osd, uint64_t len, bool forwarded)
{
	struct timespec until;
	int rc = room_try(osd, len, forwarded);

	if (rc != -EBUSY || forwarded)
		return rc == -EBUSY ? -ENOSPC : rc;
	until = cfs_mono_deadline(ROOM_WAIT_MS);
	pthread_mutex_lock(&osd->room_lock);
	if (atomic_load(&osd->room_waiters) < osd->cfg.workers / 4) {
		/* counted before it looks again: a write ending meanwhile
		 * sees it and wakes it (give_room) */
		atomic_fetch_add(&osd->room_waiters, 1);
		while ((rc = room_try(osd, len, false)) == -EBUSY &&
		       pthread_cond_timedwait(&osd->room_freed,
					      &osd->room_lock,
					      &until) != ETIMEDOUT)
			;
		atomic_fetch_sub(&osd->room_waiters, 1);
	}
	pthread_mutex_unlock(&osd->room_lock);
	return rc == -EBUSY ? -ENOSPC : rc;
}

static void give_room(struct osd *osd, uint64_t len)
{
	atomic_fetch_sub(&osd->writing, len);
	if (atomic_load(&osd->room_waiters)) {
		pthread_mutex_lock(&osd->room_lock);
		pthread_cond_broadcast(&osd->room_freed);
		pthread_mutex_unlock(&osd->room_lock);
	}
}

static int h_write(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	Cfs__OsdWrite *r = (Cfs__OsdWrite *)m;
	struct write_extents w;
	struct ec_change ec = { .kind = EC_WRITE, .data = rq->bulk };
	struct change ch = {
		.method = CFS__OSD_METHOD__OSD_WRITE,
		.layout = r->layout,
		.chunk = chunk_of(r->chunk),
		.map_epoch = r->map_epoch,
		.forwarded = r->forwarded,
		.version = r->version,
		.msg = (ProtobufCMessage *)m,
		.msg_version = &r->version,
		.msg_forwarded = &r->forwarded,
		.bulk = rq->bulk,
		.bulk_len = rq->bulk_len,
		.bulk_sealed = rq->bulk_sealed,
		.apply = apply_write,
		.begin = begin_write,
		.arg = &w,
	};
	int rc;

	if (!r->chunk || (rq->bulk_len == 0 && !r->forwarded))
		return -EINVAL;
	rc = may(OSD(arg), rq, r->cap, r->chunk->ino, true);
	if (rc)
		return rc;
	rc = take_room(OSD(arg), rq->bulk_len, r->forwarded);
	if (rc)
		return rc;
	rc = write_extents(r, rq->bulk_len, &w);
	if (rc == 0 && is_ec(r->layout)) {
		ec.ex = w.ex;
		ec.n = w.n;
		ch.ec = &ec;
	}
	if (rc == 0) {
		rc = verify_pieces(&w, rq->bulk, r->crcs);
		if (rc)
			cfs_log_warn("write rejected: data does not match its "
				     "crc", "ino=%lu index=%lu client=%016lx "
				     "rc=%d", (unsigned long)ch.chunk.ino,
				     (unsigned long)ch.chunk.index,
				     (unsigned long)rq->client_id, rc);
	}
	if (rc == 0)
		rc = run_change(OSD(arg), rq, &ch);
	give_room(OSD(arg), rq->bulk_len);
	if (w.ex != &w.one)
		free(w.ex);
	return rc;
}

/* ---- truncate, remove, punch ---- */

static int apply_truncate(struct osd *osd, struct change *ch)
{
	const Cfs__OsdTruncate *r = (const void *)ch->msg;
	struct store_takers t;

	if (r->remove)
		return store_remove(&osd->store, ch->chunk);
	return store_truncate(&osd->store, ch->chunk, r->size, ch->version,
			      takers_of(r->takers, r->n_takers, r->map_epoch,
					&t));
}

static int h_truncate(void *arg, struct cfs_rpc_req *rq,
		      const ProtobufCMessage *m)
{
	Cfs__OsdTruncate *r = (Cfs__OsdTruncate *)m;
	struct ec_change ec = {
		.kind = r->remove ? EC_REMOVE : EC_TRUNCATE, .off = r->size
	};
	struct change ch = {
		.method = CFS__OSD_METHOD__OSD_TRUNCATE,
		.layout = r->layout,
		.ec = is_ec(r->layout) ? &ec : NULL,
		.chunk = chunk_of(r->chunk),
		.map_epoch = r->map_epoch,
		.forwarded = r->forwarded,
		.version = r->version,
		.msg = (ProtobufCMessage *)m,
		.msg_version = &r->version,
		.msg_forwarded = &r->forwarded,
		.apply = apply_truncate,
	};

	int rc;

	if (!r->chunk || r->size > CFS_CHUNK_SIZE)
		return -EINVAL;
	rc = may(OSD(arg), rq, r->cap, r->chunk->ino, true);
	if (rc)
		return rc;
	if (r->remove && r->forwarded) {
		/* a removal applies whatever version the replica holds */
		store_lock(&OSD(arg)->store, ch.chunk);
		rc = store_remove(&OSD(arg)->store, ch.chunk);
		store_unlock(&OSD(arg)->store, ch.chunk);
		return rc;
	}
	return run_change(OSD(arg), rq, &ch);
}

static int apply_punch(struct osd *osd, struct change *ch)
{
	const Cfs__OsdPunch *r = (const void *)ch->msg;
	struct store_takers t;

	return store_punch(&osd->store, ch->chunk, r->offset, r->length,
			   ch->version,
			   takers_of(r->takers, r->n_takers, r->map_epoch, &t));
}

static int h_punch(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	Cfs__OsdPunch *r = (Cfs__OsdPunch *)m;
	struct ec_change ec = {
		.kind = EC_PUNCH, .off = r->offset, .len = r->length
	};
	struct change ch = {
		.method = CFS__OSD_METHOD__OSD_PUNCH,
		.layout = r->layout,
		.ec = is_ec(r->layout) ? &ec : NULL,
		.chunk = chunk_of(r->chunk),
		.map_epoch = r->map_epoch,
		.forwarded = r->forwarded,
		.version = r->version,
		.msg = (ProtobufCMessage *)m,
		.msg_version = &r->version,
		.msg_forwarded = &r->forwarded,
		.apply = apply_punch,
	};
	int rc;

	if (!r->chunk || r->offset >= CFS_CHUNK_SIZE ||
	    r->length > CFS_CHUNK_SIZE - r->offset)
		return -EINVAL;
	rc = may(OSD(arg), rq, r->cap, r->chunk->ino, true);
	return rc ? rc : run_change(OSD(arg), rq, &ch);
}

/* ---- whole-chunk copy, read, stat ---- */

static int h_put_chunk(void *arg, struct cfs_rpc_req *rq,
		       const ProtobufCMessage *m)
{
	const Cfs__OsdPutChunk *r = (const void *)m;
	struct chunk_id c = chunk_of(r->chunk);
	size_t nblocks = (size_t)((r->size + CFS_BLOCK_SIZE - 1) /
				  CFS_BLOCK_SIZE);
	uint64_t have = 0;
	int rc;

	if (!from_daemon(rq))
		return -EACCES;	/* recovery's, between OSDs */
	if (!r->chunk || r->size > CFS_CHUNK_SIZE || r->n_crcs != nblocks ||
	    rq->bulk_len != nblocks * CFS_BLOCK_SIZE)
		return -EINVAL;
	for (size_t i = 0; i < nblocks; i++)
		if (cfs_crc_check_block((const char *)rq->bulk +
						i * CFS_BLOCK_SIZE,
					r->crcs[i]))
			return -EBADMSG;
	/* a shard moving to its new place never lands over a newer copy:
	 * it may cross a change made meanwhile; a primary's push replaces
	 * whatever is there (its version is the chunk's) */
	store_lock(&OSD(arg)->store, osd_chunk_guard(c));
	rc = r->if_newer ? store_version(&OSD(arg)->store, c, &have) : 0;
	if (rc == 0 && (!r->if_newer || have < r->version))
		rc = store_put(&OSD(arg)->store, c, rq->bulk, r->size, r->crcs,
			       r->version);
	store_unlock(&OSD(arg)->store, osd_chunk_guard(c));
	return rc;
}

static int h_rollback(void *arg, struct cfs_rpc_req *rq,
		      const ProtobufCMessage *m)
{
	const Cfs__OsdRollback *r = (const void *)m;
	Cfs__OsdWriteReply rep = CFS__OSD_WRITE_REPLY__INIT;
	struct chunk_id c = chunk_of(r->chunk);
	int rc;

	if (!from_daemon(rq))
		return -EACCES;
	if (!r->chunk || !(c.index & CFS_SHARD_BIT))
		return -EINVAL;
	store_lock(&OSD(arg)->store, osd_chunk_guard(c));
	rc = store_rollback(&OSD(arg)->store, c, r->to_version, r->as_version);
	store_unlock(&OSD(arg)->store, osd_chunk_guard(c));
	rep.version = r->as_version;
	return rc ? rc : cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

static int h_read(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	struct store_takers takers;
	const Cfs__OsdRead *r = (const void *)m;
	Cfs__OsdReadReply rep = CFS__OSD_READ_REPLY__INIT;
	uint32_t *crcs;
	size_t nblocks;
	void *data;
	int rc;

	if (!r->chunk || r->offset >= CFS_CHUNK_SIZE ||
	    r->length > CFS_CHUNK_SIZE)
		return -EINVAL;
	rc = may(OSD(arg), rq, r->cap, r->chunk->ino, false);
	if (rc)
		return rc;
	/* may be behind: the client reads elsewhere; a peer may read us
	 * while we recover (an EC primary settling a stripe: the versions
	 * in the reply tell it what we hold) */
	if (!osd_serving(OSD(arg)) && !from_daemon(rq))
		return -ESTALE;
	rc = store_read(&OSD(arg)->store, chunk_of(r->chunk), r->offset,
			r->length, false, &data, &rep.block_offset, &crcs, &nblocks,
			&rep.version, &rep.chunk_size);
	if (r->fence && from_daemon(rq))
		osd_ec_fence(OSD(arg), r->fence);
	if (rc == 0 && r->length == 0)
		rep.can_roll_back = store_can_roll_back(&OSD(arg)->store,
							chunk_of(r->chunk),
							rep.version, &takers);
	if (rep.can_roll_back) {
		rep.takers = takers.id;
		rep.n_takers = sizeof(takers.id) / sizeof(takers.id[0]);
		rep.takers_epoch = takers.epoch;
	}
	if (rc)
		return rc;
	rep.crcs = crcs;
	rep.n_crcs = nblocks;
	rep.map_epoch = cfs_map_epoch(&OSD(arg)->maps);
	rc = cfs_rpc_reply(rq, &rep.base, data, nblocks * CFS_BLOCK_SIZE);
	free(data);
	free(crcs);
	return rc;
}

static int h_seek(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	const Cfs__OsdSeek *r = (const void *)m;
	Cfs__OsdSeekReply rep = CFS__OSD_SEEK_REPLY__INIT;
	bool found;
	int rc;

	if (!r->chunk || r->offset >= CFS_CHUNK_SIZE)
		return -EINVAL;
	rc = may(OSD(arg), rq, r->cap, r->chunk->ino, false);
	if (rc)
		return rc;
	if (!osd_serving(OSD(arg)))
		return -ESTALE;
	rc = store_seek(&OSD(arg)->store, chunk_of(r->chunk), r->offset,
			r->hole, &found, &rep.offset);
	rep.found = found;
	return rc ? rc : cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

static int count_chunk(void *arg, struct chunk_id c, uint64_t version)
{
	(void)c;
	(void)version;
	(*(uint64_t *)arg)++;
	return 0;
}

static int h_stat(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	Cfs__OsdStatReply rep = CFS__OSD_STAT_REPLY__INIT;
	int rc;

	(void)m;
	rep.id = OSD(arg)->id;
	rc = osd_space(OSD(arg), &rep.capacity, &rep.used);
	if (rc)
		return rc;
	store_scan(&OSD(arg)->store, count_chunk, &rep.chunks);
	rep.map_epoch = cfs_map_epoch(&OSD(arg)->maps);
	return cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

/* ---- backfill: bring a recovering peer up to date ---- */

struct inventory {
	const Cfs__OsdBackfill *req;
	size_t *order;		/* indexes of req->chunks sorted by id */
};

static int chunk_cmp(const Cfs__ChunkId *a, const Cfs__ChunkId *b)
{
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	if (a->index != b->index)
		return a->index < b->index ? -1 : 1;
	return 0;
}

static const Cfs__OsdBackfill *sort_req;

static int order_cmp(const void *a, const void *b)
{
	return chunk_cmp(sort_req->chunks[*(const size_t *)a],
			 sort_req->chunks[*(const size_t *)b]);
}

/* The version the recovering OSD holds of c, 0 if none. */
static uint64_t inventory_version(const struct inventory *inv,
				  struct chunk_id c)
{
	Cfs__ChunkId key = CFS__CHUNK_ID__INIT;
	size_t lo = 0, hi = inv->req->n_chunks;

	key.ino = c.ino;
	key.index = c.index;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int d = chunk_cmp(inv->req->chunks[inv->order[mid]], &key);

		if (d == 0)
			return inv->req->versions[inv->order[mid]];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

struct backfill {
	struct osd *osd;
	const struct cfs_map *map;
	const char *addr;	/* the recovering OSD */
	uint32_t for_osd;
	struct inventory inv;
	uint64_t pushed, removed;
};

/* Under the chunk's lock: whether we are its acting primary and the
 * recovering OSD one of its targets. */
static bool ours_for(struct backfill *b, struct chunk_id c)
{
	int peers[CFS_MAX_TARGETS];
	bool primary, has;

	peers_of(b->osd, b->map->pb, 0, c, peers, &primary, b->for_osd, &has);
	return primary && has;
}

static uint64_t peer_version(void *arg, struct chunk_id c)
{
	return inventory_version(&((struct backfill *)arg)->inv, c);
}

static int backfill_chunk(void *arg, struct chunk_id c, uint64_t version)
{
	struct backfill *b = arg;
	(void)version;
	if (c.index & CFS_SHARD_BIT) {
		store_lock(&b->osd->store, osd_chunk_guard(c));
		if (osd_ec_backfill(b->osd, b->map->pb, c, b->for_osd,
				    peer_version, b) > 0)
			b->pushed++;
		store_unlock(&b->osd->store, osd_chunk_guard(c));
		return b->osd->stop ? -ESHUTDOWN : 0;
	}
	store_lock(&b->osd->store, c);
	if (ours_for(b, c) &&
	    store_version(&b->osd->store, c, &version) == 0 && version &&
	    inventory_version(&b->inv, c) != version &&
	    osd_push_chunk(b->osd, b->addr, c, false, NULL) == 0)
		b->pushed++;
	store_unlock(&b->osd->store, c);
	return b->osd->stop ? -ESHUTDOWN : 0;
}

/* A chunk it holds that we, its primary, no longer have was deleted. */
static void backfill_removal(struct backfill *b, const Cfs__ChunkId *id)
{
	struct chunk_id c = chunk_of(id);
	uint64_t version;
	bool gone;

	store_lock(&b->osd->store, osd_chunk_guard(c));
	if (c.index & CFS_SHARD_BIT)
		gone = osd_ec_stale(b->osd, b->map->pb, c, b->for_osd);
	else
		gone = ours_for(b, c) &&
		       store_version(&b->osd->store, c, &version) == 0 &&
		       version == 0;
	if (gone) {
		Cfs__OsdTruncate req = CFS__OSD_TRUNCATE__INIT;
		struct cfs_rpc_call call = {
			.method = CFS__OSD_METHOD__OSD_TRUNCATE,
			.req = &req.base,
			.timeout_ms = (int)b->osd->cfg.timeout_ms,
		};

		req.chunk = (Cfs__ChunkId *)id;
		req.remove = true;
		req.forwarded = true;
		if (cfs_rpc_call(b->osd->peers, b->addr, &call) == 0)
			b->removed++;
		cfs_rpc_call_done(&call);
	}
	store_unlock(&b->osd->store, osd_chunk_guard(c));
}

static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

static int h_backfill(void *arg, struct cfs_rpc_req *rq,
		      const ProtobufCMessage *m)
{
	const Cfs__OsdBackfill *r = (const void *)m;
	Cfs__OsdBackfillReply rep = CFS__OSD_BACKFILL_REPLY__INIT;
	struct backfill b = { .osd = OSD(arg), .for_osd = r->for_osd };
	int idx, rc = 0;

	if (!from_daemon(rq))
		return -EACCES;
	if (r->n_versions != r->n_chunks)
		return -EINVAL;
	for (size_t i = 0; i < r->n_chunks; i++)
		if (!r->chunks[i])
			return -EINVAL;
	if (!osd_serving(b.osd))
		return -ESTALE;
	catch_up(b.osd, r->map_epoch);
	b.map = cfs_map_get(&b.osd->maps);
	idx = cfs_map_osd_index(b.map->pb, r->for_osd);
	b.inv.req = r;
	b.inv.order = malloc((r->n_chunks + 1) * sizeof(size_t));
	if (idx < 0 || !b.inv.order) {
		rc = idx < 0 ? -ENOENT : -ENOMEM;
		goto out;
	}
	b.addr = b.map->pb->osds[idx]->addr;
	for (size_t i = 0; i < r->n_chunks; i++)
		b.inv.order[i] = i;
	pthread_mutex_lock(&sort_lock);
	sort_req = r;
	qsort(b.inv.order, r->n_chunks, sizeof(size_t), order_cmp);
	pthread_mutex_unlock(&sort_lock);
	sem_wait(&b.osd->primary_slots);
	rc = store_scan(&b.osd->store, backfill_chunk, &b);
	for (size_t i = 0; rc == 0 && i < r->n_chunks; i++)
		backfill_removal(&b, r->chunks[i]);
	sem_post(&b.osd->primary_slots);
	cfs_log_info("backfilled peer", "osd=%u pushed=%lu removed=%lu rc=%d",
		     r->for_osd, (unsigned long)b.pushed,
		     (unsigned long)b.removed, rc);
	rep.pushed = b.pushed;
	rep.removed = b.removed;
	if (rc == 0)
		rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
out:
	free(b.inv.order);
	cfs_map_put(&b.osd->maps, (struct cfs_map *)b.map);
	return rc;
}

/* Eviction (evict.c): asked by tierd or an administrator, for a
 * replicated chunk (an EC shard holds no whole bytes to check). */
static int evict_or_fill(void *arg, struct cfs_rpc_req *rq,
			 const ProtobufCMessage *m, bool evict)
{
	const Cfs__OsdEvict *r = (const void *)m;
	struct osd *osd = OSD(arg);

	if (rq->peer && rq->peer->role != CFS_ROLE_TIERD &&
	    rq->peer->role != CFS_ROLE_ADMIN)
		return -EACCES;
	if (!r->chunk)
		return -EINVAL;
	struct chunk_id c = chunk_of(r->chunk);
	if (c.index & CFS_SHARD_BIT)
		return -EOPNOTSUPP;
	struct store_piece *p = calloc(r->n_pieces ? r->n_pieces : 1,
				       sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_pieces; i++)
		p[i] = (struct store_piece){
			.blob = r->pieces[i]->blob,
			.blob_off = r->pieces[i]->blob_off,
			.chunk_off = r->pieces[i]->chunk_off,
			.len = r->pieces[i]->len, .crc = r->pieces[i]->crc,
		};
	store_lock(&osd->store, c);
	int rc = evict ? store_evict(&osd->store, c, p, r->n_pieces) :
			 store_resident(&osd->store, c);
	store_unlock(&osd->store, c);
	free(p);
	if (rc && rc != -ESTALE)
		cfs_log_warn(evict ? "evict failed" : "fill failed",
			     "ino=%lu index=%lu rc=%d", (unsigned long)c.ino,
			     (unsigned long)c.index, rc);
	return rc;
}

static int h_evict(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	return evict_or_fill(arg, rq, m, true);
}

static int h_fill(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	return evict_or_fill(arg, rq, m, false);
}

#define METHOD(num, type, handler, cached)                                 \
	[CFS__OSD_METHOD__##num] = { .req_desc = &cfs__##type##__descriptor, \
				     .fn = handler, .cache_reply = cached }

/* A client's changes are in the reply cache: each runs once, and a copy
 * arriving late is refused rather than laid over a later change (a
 * write resurrecting bytes a truncate cut). Forwarded changes carry
 * versions, which do the same for the replicas. */
static const struct cfs_rpc_method methods[] = {
	METHOD(OSD_WRITE, osd_write, h_write, true),
	METHOD(OSD_READ, osd_read, h_read, false),
	METHOD(OSD_TRUNCATE, osd_truncate, h_truncate, true),
	METHOD(OSD_PUNCH, osd_punch, h_punch, true),
	METHOD(OSD_PUT_CHUNK, osd_put_chunk, h_put_chunk, false),
	METHOD(OSD_STAT, osd_stat_req, h_stat, false),
	METHOD(OSD_BACKFILL, osd_backfill, h_backfill, false),
	METHOD(OSD_SEEK, osd_seek, h_seek, false),
	METHOD(OSD_ROLLBACK, osd_rollback, h_rollback, true),
	METHOD(OSD_EVICT, osd_evict, h_evict, false),
	METHOD(OSD_FILL, osd_evict, h_fill, false),
};

const struct cfs_rpc_method *osd_service_init(struct osd *osd, size_t *n)
{
	sem_init(&osd->primary_slots, 0,
		 osd->cfg.workers > 1 ? (unsigned)osd->cfg.workers / 2 : 1);
	*n = sizeof(methods) / sizeof(methods[0]);
	return methods;
}

int osd_service_start(struct osd *osd)
{
	size_t n;
	const struct cfs_rpc_method *m = osd_service_init(osd, &n);

	return cfs_rpc_server_start(&osd->rpc, osd->cfg.listen, m, n, osd,
				    (int)osd->cfg.workers);
}
