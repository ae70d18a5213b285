/* libcfs data path: file bytes to and from the OSDs.
 *
 * A file is cut into 64 MiB chunks; each chunk's targets come from the
 * placement (cfs/map.h). Changes go to the acting primary, which orders
 * and replicates them; on any failure the client refreshes its map and
 * retries with backoff until io_deadline_ms. Reads try the primary, then
 * the other up targets, then the down ones, and accept only blocks whose
 * CRC32C matches. A chunk of an erasure-coded file (cfs/layout.h) is read
 * from its data shards side by side, and what fails is rebuilt from the
 * others (cfs/stripe.h); its changes go to its primary like any other,
 * which codes them. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfs/crc.h"
#include "cfs/log.h"
#include "cfs/stripe.h"
#include "client_priv.h"
#include "osd.pb-c.h"

#define MAX_PIECE ((uint64_t)8 << 20)

/* Errors a retry cannot fix. */
static bool final_error(int rc)
{
	return rc == -ENOSPC || rc == -EINVAL || rc == -EFBIG ||
	       rc == -EDQUOT || rc == -EROFS || rc == -EPROTO ||
	       rc == -EACCES || rc == -EKEYEXPIRED;
}

/* The file's layout: as its open found it, else from its attributes. */
static int layout_of(struct cfs_client *cl, uint64_t ino, uint32_t *layout)
{
	struct open_inode *o;
	struct cfs_attr a;
	bool known = false;
	int rc;

	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	if (o && o->layout_known) {
		*layout = o->layout;
		known = true;
	}
	pthread_mutex_unlock(&cl->ilock);
	if (known)
		return 0;
	rc = cfs_getattr(cl, ino, &a, NULL);
	*layout = a.layout;
	return rc;
}

/* Send a change to the chunk's acting primary until it succeeds, fails
 * for good, or the deadline passes. *epoch is the request's map_epoch
 * field, set before each attempt. */
static int primary_call(struct cfs_client *cl, uint64_t ino, uint32_t layout,
			uint64_t index, struct cfs_rpc_call *c, uint64_t *epoch)
{
	int64_t deadline = cfs_mono_ms() + cl->o.io_deadline_ms;
	int rc, attempt = 0;

	for (;;) {
		struct cfs_map *map = cfs_map_get(&cl->maps);
		int p = map ? cfs_placement_primary(map->pb, layout, ino,
						    index) : -1;

		if (p < 0) {
			rc = -EHOSTDOWN;
		} else {
			*epoch = map->pb->epoch;
			c->timeout_ms = cl->o.osd_timeout_ms;
			/* after no answer, the same id: if the first copy
			 * still runs the retry waits for it, and a copy that
			 * comes late is refused (replies.h), so it can never
			 * land after a change that follows this one */
			if (c->answered)
				c->request_id = 0;
			rc = cfs_rpc_call(cl->rpc, map->pb->osds[p]->addr, c);
			cfs_rpc_call_done(c);
		}
		cfs_map_put(&cl->maps, map);
		if (rc == 0 || final_error(rc))
			return rc;
		if (cfs_mono_ms() >= deadline) {
			cfs_log_error("data change failed", "ino=%lu chunk=%lu "
				      "rc=%d", (unsigned long)ino,
				      (unsigned long)index, rc);
			return -EIO;
		}
		/* most failures are a map change under way: fetch it */
		usleep((useconds_t)(attempt < 5 ? 50000 << attempt : 1000000));
		attempt++;
		client_refresh_map(cl);
	}
}

/* Write extents ex[0..n) (file offsets, all in chunk `index`) to the
 * chunk's primary as one change: one extent as the message's offset and
 * the bulk as it is; several as a list, their bytes copied one after
 * another into the bulk. One CRC per piece cut at block boundaries. */
static int write_chunk(struct cfs_client *cl, uint64_t ino, uint64_t index,
		       const struct wb_range *ex, size_t n)
{
	Cfs__ChunkId chunk = CFS__CHUNK_ID__INIT;
	Cfs__OsdWrite req = CFS__OSD_WRITE__INIT;
	struct cfs_rpc_call c = {
		.method = CFS__OSD_METHOD__OSD_WRITE,
		.req = &req.base,
	};
	uint64_t base = index * CFS_CHUNK_SIZE, *offs = NULL, *lens = NULL;
	size_t npieces = 0, total = 0, ncrcs = 0;
	uint32_t *crcs = NULL;
	uint8_t *bulk = NULL;
	struct client_cap cap;
	uint32_t layout;
	int rc = client_cap(cl, ino, true, &cap);

	if (rc == 0)
		rc = layout_of(cl, ino, &layout);
	if (rc)
		return rc;
	rc = -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		npieces += cfs_crc_npieces(ex[i].off, ex[i].end - ex[i].off);
		total += (size_t)(ex[i].end - ex[i].off);
	}
	crcs = malloc(npieces * sizeof(*crcs));
	if (n > 1) {
		offs = malloc(n * sizeof(*offs));
		lens = malloc(n * sizeof(*lens));
		bulk = malloc(total);
		if (!offs || !lens || !bulk)
			goto out;
	}
	if (!crcs)
		goto out;
	for (size_t i = 0, pos = 0; i < n; i++) {
		size_t len = (size_t)(ex[i].end - ex[i].off);

		ncrcs += cfs_crc_pieces(ex[i].off, ex[i].buf, len,
					crcs + ncrcs);
		if (n > 1) {
			offs[i] = ex[i].off - base;
			lens[i] = len;
			memcpy(bulk + pos, ex[i].buf, len);
			pos += len;
		}
	}
	chunk.ino = ino;
	chunk.index = index;
	req.chunk = &chunk;
	req.offset = ex[0].off - base;
	req.cap = cap.cap;
	req.layout = layout;
	req.crcs = crcs;
	req.n_crcs = ncrcs;
	if (n > 1) {
		req.extent_offsets = offs;
		req.n_extent_offsets = n;
		req.extent_lengths = lens;
		req.n_extent_lengths = n;
	}
	c.bulk = n > 1 ? bulk : ex[0].buf;
	c.bulk_len = total;
	rc = primary_call(cl, ino, layout, index, &c, &req.map_epoch);
out:
	free(crcs);
	free(offs);
	free(lens);
	free(bulk);
	return rc;
}

int client_write_data(struct cfs_client *cl, uint64_t ino, uint64_t off,
		      const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		uint64_t pos = off + done;
		uint64_t index = pos / CFS_CHUNK_SIZE;
		uint64_t coff = pos % CFS_CHUNK_SIZE;
		uint64_t n = CFS_CHUNK_SIZE - coff;
		struct wb_range one;
		int rc;

		if (n > len - done)
			n = len - done;
		if (n > MAX_PIECE)
			n = MAX_PIECE;
		one = (struct wb_range){ pos, pos + n, p + done };
		rc = write_chunk(cl, ino, index, &one, 1);
		if (rc)
			return rc;
		done += (size_t)n;
	}
	return 0;
}

int client_write_extents(struct cfs_client *cl, uint64_t ino,
			 const struct wb_range *ex, size_t n)
{
	return write_chunk(cl, ino, ex[0].off / CFS_CHUNK_SIZE, ex, n);
}

/* The chunk's targets to read from, the acting primary first: only up
 * ones, since a down or recovering target may hold an old version. */
static int read_order(const Cfs__ClusterMap *m, uint32_t layout, uint64_t ino,
		      uint64_t index, int *out)
{
	int t[CFS_MAX_TARGETS], n, k = 0;

	n = cfs_placement_chunk(m, layout, ino, index, t);
	for (int i = 0; i < n; i++)
		if (m->osds[t[i]]->state == CFS__OSD_STATE__OSD_UP)
			out[k++] = t[i];
	return k;
}

/* Check a read reply and copy [off, off+len) of the chunk into buf. */
static int take_read(const struct cfs_rpc_call *c, uint64_t off, size_t len,
		     uint8_t *buf)
{
	return cfs_read_reply_take((const void *)c->rep, c->rep_bulk,
				   c->rep_bulk_len, off, len, buf);
}

/* An OSD_READ of [off, off+len) of a chunk, and its call. */
static void read_req(Cfs__ChunkId *chunk, Cfs__OsdRead *req, uint64_t ino,
		     uint64_t index, uint64_t off, size_t len)
{
	cfs__chunk_id__init(chunk);
	cfs__osd_read__init(req);
	chunk->ino = ino;
	chunk->index = index;
	req->chunk = chunk;
	req->offset = off;
	req->length = len;
}

static struct cfs_rpc_call read_call(const struct cfs_client *cl,
				     Cfs__OsdRead *req)
{
	return (struct cfs_rpc_call){
		.method = CFS__OSD_METHOD__OSD_READ,
		.req = &req->base,
		.rep_desc = &cfs__osd_read_reply__descriptor,
		.timeout_ms = cl->o.osd_timeout_ms,
	};
}

int client_read_along(struct cfs_client *cl, uint64_t ino, uint32_t layout,
		      uint8_t *buf, size_t len, const char *addr,
		      struct cfs_rpc_call *other, int *other_rc)
{
	Cfs__ChunkId chunk;
	Cfs__OsdRead req;
	struct cfs_map *map = cfs_map_get(&cl->maps);
	int order[CFS_MAX_TARGETS], n, st[2], rc;
	struct cfs_rpc_call c = read_call(cl, &req);
	struct cfs_rpc_call *calls[2] = { other, &c };
	const char *addrs[2] = { addr, NULL };
	struct client_cap cap;
	struct cfs_layout l;
	uint64_t index = 0;

	/* along with the open only with a capability held from before; an
	 * EC file's first unit is the start of its first data shard */
	n = map && client_cap_held(cl, ino, false, &cap) &&
			    !cfs_layout_unpack(layout, &l) ?
		    read_order(map->pb, layout, ino, 0, order) : 0;
	if (n && cfs_layout_is_ec(&l)) {
		int t[CFS_MAX_TARGETS];

		cfs_placement_chunk(map->pb, layout, ino, 0, t);
		index = cfs_shard_index(0, l.k, l.m, 0);
		if (len > (1ull << l.unit_shift) || order[0] != t[0])
			n = 0;	/* too long, or its shard is down */
	}
	if (n == 0) {
		cfs_map_put(&cl->maps, map);
		*other_rc = cfs_rpc_call(cl->rpc, addr, other);
		return -EIO;
	}
	read_req(&chunk, &req, ino, index, 0, len);
	req.map_epoch = map->pb->epoch;
	req.cap = cap.cap;
	addrs[1] = map->pb->osds[order[0]]->addr;
	cfs_rpc_call_many(cl->rpc, addrs, calls, st, 2);
	*other_rc = st[0];
	rc = st[1] ? st[1] : take_read(&c, 0, len, buf);
	cfs_rpc_call_done(&c);
	cfs_map_put(&cl->maps, map);
	return rc;
}

/* A piece of an EC chunk: each data shard's part side by side, what
 * fails rebuilt (cfs/stripe.h). */
static int read_piece_ec(struct cfs_client *cl, const Cfs__ClusterMap *m,
			 uint32_t layout, const struct client_cap *cap,
			 uint64_t ino, uint64_t index, uint64_t off,
			 uint8_t *buf, size_t len)
{
	struct cfs_layout l;
	struct cfs_ec code;
	struct cfs_shard_rpc s = {
		.rpc = cl->rpc, .ino = ino, .index = index,
		.map_epoch = m->epoch, .cap = cap->cap,
		.timeout_ms = cl->o.osd_timeout_ms,
	};
	struct cfs_stripe_read r = {
		.ec = &code, .read = (cfs_shard_reader)cfs_shard_rpc_read,
		.ctx = &s,
	};
	int t[CFS_MAX_TARGETS], want[CFS_EC_MAX_K], nwant = 0, rc;
	uint64_t offs[CFS_EC_MAX_K], lens[CFS_EC_MAX_K];
	uint8_t *out[CFS_EC_MAX_K] = { NULL };

	if (cfs_layout_unpack(layout, &l) || cfs_ec_init(&code, (int)l.k,
							 (int)l.m))
		return -EINVAL;
	s.k = l.k;
	s.m = l.m;
	if (cfs_placement_chunk(m, layout, ino, index, t) != (int)(l.k + l.m))
		return -EIO;	/* fewer failure domains than shards */
	for (uint32_t i = 0; i < l.k + l.m; i++) {
		s.addrs[i] = m->osds[t[i]]->addr;
		if (m->osds[t[i]]->state == CFS__OSD_STATE__OSD_UP)
			r.avail |= 1u << i;
	}
	for (uint32_t j = 0; j < l.k; j++) {
		cfs_layout_shard_range(&l, off, len, j, &offs[nwant],
				       &lens[nwant]);
		if (lens[nwant] == 0)
			continue;
		out[nwant] = malloc(lens[nwant]);
		if (!out[nwant]) {
			rc = -ENOMEM;
			goto done;
		}
		want[nwant++] = (int)j;
	}
	rc = cfs_stripe_read(&r, want, nwant, offs, lens, out);
	/* each shard's part back to where it lies in the chunk, unit by
	 * unit */
	for (int i = 0; i < nwant && rc == 0; i++) {
		const uint64_t u = 1ull << l.unit_shift;
		uint64_t so = offs[i], done = 0;

		while (done < lens[i]) {
			uint64_t x = cfs_layout_chunk_offset(&l, (uint32_t)want[i],
							     so + done);
			uint64_t n = u - (so + done) % u;

			if (n > lens[i] - done)
				n = lens[i] - done;
			memcpy(buf + (x - off), out[i] + done, n);
			done += n;
		}
	}
done:
	for (int i = 0; i < nwant; i++)
		free(out[i]);
	return rc;
}

static int read_piece(struct cfs_client *cl, uint64_t ino, uint64_t index,
		      uint64_t off, uint8_t *buf, size_t len)
{
	Cfs__ChunkId chunk;
	Cfs__OsdRead req;
	int64_t deadline = cfs_mono_ms() + cl->o.io_deadline_ms;
	struct client_cap cap;
	struct cfs_layout l;
	uint32_t layout;
	int rc = client_cap(cl, ino, false, &cap), attempt = 0;

	if (rc == 0)
		rc = layout_of(cl, ino, &layout);
	if (rc == 0 && cfs_layout_unpack(layout, &l))
		rc = -EIO;
	if (rc)
		return rc;
	read_req(&chunk, &req, ino, index, off, len);
	req.cap = cap.cap;
	for (;;) {
		struct cfs_map *map = cfs_map_get(&cl->maps);
		int order[CFS_MAX_TARGETS], n;

		n = map ? read_order(map->pb, layout, ino, index, order) : 0;
		rc = -EIO;	/* every target down: wait for the map */
		if (n && cfs_layout_is_ec(&l)) {
			rc = read_piece_ec(cl, map->pb, layout, &cap, ino,
					   index, off, buf, len);
			n = 0;
		}
		for (int i = 0; i < n; i++) {
			const Cfs__OsdInfo *o = map->pb->osds[order[i]];
			struct cfs_rpc_call c = read_call(cl, &req);

			req.map_epoch = map->pb->epoch;
			rc = cfs_rpc_call(cl->rpc, o->addr, &c);
			if (rc == 0)
				rc = take_read(&c, off, len, buf);
			cfs_rpc_call_done(&c);
			if (rc == 0 || final_error(rc))
				break;
			cfs_log_warn("read from osd failed, trying the next",
				     "osd=%u ino=%lu chunk=%lu rc=%d", o->id,
				     (unsigned long)ino, (unsigned long)index,
				     rc);
		}
		cfs_map_put(&cl->maps, map);
		if (rc == 0 || final_error(rc))
			return rc;
		if (cfs_mono_ms() >= deadline) {
			cfs_log_error("read failed on every replica",
				      "ino=%lu chunk=%lu rc=%d",
				      (unsigned long)ino, (unsigned long)index,
				      rc);
			return -EIO;
		}
		usleep((useconds_t)(attempt < 5 ? 50000 << attempt : 1000000));
		attempt++;
		client_refresh_map(cl);
	}
}

/* The size to read up to: ours, or the MDS's if we may be behind (as
 * fresh as the attribute lease: the open that preceded fetched it). */
static int known_size(struct cfs_client *cl, uint64_t ino, uint64_t want_end,
		      uint64_t *size)
{
	struct open_inode *o;
	struct cfs_attr a;
	bool known = false;
	int64_t asof;
	int rc;

	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	if (o) {
		*size = o->size;
		known = true;
	}
	pthread_mutex_unlock(&cl->ilock);
	if (known && want_end <= *size)
		return 0;
	rc = cfs_getattr(cl, ino, &a, &asof);	/* merges our own writes */
	if (rc)
		return rc;
	*size = a.size;
	return 0;
}

ssize_t cfs_read(struct cfs_client *cl, uint64_t ino, uint64_t off, void *buf,
		 size_t len)
{
	uint8_t *p = buf;
	struct open_inode *o;
	uint64_t size, mark, gen;
	size_t done;
	int rc, attempt = 0;
	bool dirty;

	/* the first read of a small file: bytes read along with its open */
	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	dirty = o && (o->dirty || client_wb_pending(o));
	if (o && o->pf && off < o->pf_len &&
	    (off + len <= o->pf_len || o->size <= o->pf_len)) {
		done = len < o->pf_len - off ? len : o->pf_len - (size_t)off;
		memcpy(p, o->pf + off, done);
		if (off + done == o->pf_len)
			client_drop_prefetch(cl, o);
		pthread_mutex_unlock(&cl->ilock);
		return (ssize_t)done;
	}
	pthread_mutex_unlock(&cl->ilock);
	rc = known_size(cl, ino, off + len, &size);
	if (rc)
		return rc;
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	/* the client cache: what this client read before, unchanged since */
	if (!dirty && client_cache_read(cl, ino, off, p, len, &gen) == len)
		return (ssize_t)len;
	/* the OSDs' bytes, then ours not yet there on top of them */
	do {
		if (attempt++ == 3)	/* writes keep landing: let them */
			client_wb_drain(cl, ino);
		mark = client_wb_mark(cl, ino);
		rc = 0;
		for (done = 0; done < len && rc == 0;) {
			uint64_t pos = off + done;
			uint64_t index = pos / CFS_CHUNK_SIZE;
			uint64_t coff = pos % CFS_CHUNK_SIZE;
			uint64_t n = CFS_CHUNK_SIZE - coff;

			if (n > len - done)
				n = len - done;
			if (n > MAX_PIECE)
				n = MAX_PIECE;
			rc = read_piece(cl, ino, index, coff, p + done,
					(size_t)n);
			if (rc == 0)
				done += (size_t)n;
		}
		if (done == 0 && rc)
			return rc;
	} while (!client_wb_overlay(cl, ino, mark, off, p, done));
	if (!dirty)
		client_cache_fill(cl, ino, gen, off, p, done);
	return (ssize_t)done;
}

/* SEEK_DATA/SEEK_HOLE within one chunk, asked of a live target. */
static int seek_chunk(struct cfs_client *cl, uint64_t ino, uint64_t index,
		      uint64_t off, bool hole, bool *found, uint64_t *at)
{
	Cfs__ChunkId chunk = CFS__CHUNK_ID__INIT;
	Cfs__OsdSeek req = CFS__OSD_SEEK__INIT;
	struct cfs_map *map;
	struct client_cap cap;
	struct cfs_layout l;
	uint32_t layout;
	int order[CFS_MAX_TARGETS], n, rc = client_cap(cl, ino, false, &cap);

	if (rc == 0)
		rc = layout_of(cl, ino, &layout);
	if (rc)
		return rc;
	if (cfs_layout_unpack(layout, &l) || cfs_layout_is_ec(&l)) {
		/* an EC chunk's holes are not tracked: all data */
		*found = !hole;
		*at = hole ? CFS_CHUNK_SIZE : off;
		return 0;
	}
	rc = -EIO;
	map = cfs_map_get(&cl->maps);
	chunk.ino = ino;
	chunk.index = index;
	req.chunk = &chunk;
	req.offset = off;
	req.hole = hole;
	req.cap = cap.cap;
	n = map ? read_order(map->pb, layout, ino, index, order) : 0;
	for (int i = 0; i < n && rc && !final_error(rc); i++) {
		struct cfs_rpc_call c = {
			.method = CFS__OSD_METHOD__OSD_SEEK,
			.req = &req.base,
			.rep_desc = &cfs__osd_seek_reply__descriptor,
			.timeout_ms = cl->o.osd_timeout_ms,
		};
		const Cfs__OsdSeekReply *rep;

		rc = cfs_rpc_call(cl->rpc, map->pb->osds[order[i]]->addr, &c);
		rep = (const void *)c.rep;
		*found = rep ? rep->found : false;
		*at = rep ? rep->offset : 0;
		cfs_rpc_call_done(&c);
	}
	cfs_map_put(&cl->maps, map);
	return rc;
}

int64_t cfs_lseek(struct cfs_client *cl, uint64_t ino, uint64_t off,
		  int whence)
{
	bool hole = whence == SEEK_HOLE;
	uint64_t size, pos = off;
	int rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	rc = known_size(cl, ino, UINT64_MAX, &size);
	if (rc)
		return rc;
	if (off >= size)
		return -ENXIO;
	while (pos < size) {
		uint64_t index = pos / CFS_CHUNK_SIZE, at;
		bool found;

		rc = seek_chunk(cl, ino, index, pos % CFS_CHUNK_SIZE, hole,
				&found, &at);
		if (rc)
			return rc;
		if (found) {
			at += index * CFS_CHUNK_SIZE;
			return (int64_t)(at < size ? at : size);
		}
		pos = (index + 1) * CFS_CHUNK_SIZE;
	}
	/* no data up to the end; the end of a file counts as a hole */
	return hole ? (int64_t)size : -ENXIO;
}

static int chunk_truncate(struct cfs_client *cl, uint64_t ino, uint64_t index,
			  uint64_t size)
{
	Cfs__ChunkId chunk = CFS__CHUNK_ID__INIT;
	Cfs__OsdTruncate req = CFS__OSD_TRUNCATE__INIT;
	struct cfs_rpc_call c = {
		.method = CFS__OSD_METHOD__OSD_TRUNCATE,
		.req = &req.base,
	};
	struct client_cap cap;
	int rc = client_cap(cl, ino, true, &cap);

	if (rc == 0)
		rc = layout_of(cl, ino, &req.layout);
	if (rc)
		return rc;
	req.cap = cap.cap;
	chunk.ino = ino;
	chunk.index = index;
	req.chunk = &chunk;
	req.size = size;
	req.remove = size == 0;
	return primary_call(cl, ino, req.layout, index, &c, &req.map_epoch);
}

int client_truncate_data(struct cfs_client *cl, uint64_t ino,
			 uint64_t new_size, uint64_t old_size)
{
	uint64_t first = new_size / CFS_CHUNK_SIZE;
	uint64_t last = (old_size - 1) / CFS_CHUNK_SIZE;
	int rc = 0;

	if (old_size <= new_size)
		return 0;
	for (uint64_t i = last + 1; i-- > first && rc == 0;)
		rc = chunk_truncate(cl, ino, i,
				    i == first ? new_size % CFS_CHUNK_SIZE : 0);
	return rc;
}

int cfs_punch(struct cfs_client *cl, uint64_t ino, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	struct client_cap cap;
	uint32_t layout;
	int rc = client_wb_drain(cl, ino);

	client_cache_changed(cl, ino, CACHE_PUNCH, off, NULL, len);
	if (rc == 0)
		rc = client_cap(cl, ino, true, &cap);
	if (rc == 0)
		rc = layout_of(cl, ino, &layout);
	while (off < end && rc == 0) {
		Cfs__ChunkId chunk = CFS__CHUNK_ID__INIT;
		Cfs__OsdPunch req = CFS__OSD_PUNCH__INIT;
		struct cfs_rpc_call c = {
			.method = CFS__OSD_METHOD__OSD_PUNCH,
			.req = &req.base,
		};
		uint64_t index = off / CFS_CHUNK_SIZE;
		uint64_t coff = off % CFS_CHUNK_SIZE;
		uint64_t n = CFS_CHUNK_SIZE - coff;

		if (n > end - off)
			n = end - off;
		chunk.ino = ino;
		chunk.index = index;
		req.chunk = &chunk;
		req.offset = coff;
		req.length = n;
		req.cap = cap.cap;
		req.layout = layout;
		rc = primary_call(cl, ino, layout, index, &c, &req.map_epoch);
		off += n;
	}
	return rc;
}
