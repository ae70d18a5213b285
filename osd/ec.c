/* Erasure-coded chunks at their acting primary (layouts: cfs/layout.h).
 *
 * A change to an EC chunk comes to the chunk's acting primary like any
 * other (the first up target of its K+M). Under the chunk's lock the
 * primary works stripe by stripe: for the columns [a, b) of the units a
 * write touches it reads the old bytes of the units the write does not
 * cover (from their shards, rebuilt from the others if they fail:
 * cfs/stripe.h), lays the new bytes over them, codes the parity, and
 * sends every shard its part as one change at the chunk's next version:
 * the units it wrote, the parity, and to a shard the change leaves alone
 * the version alone. So all shards of a chunk share one version, and
 * the version tells which shards may be combined. A shard that answers
 * -ESTALE (it missed changes) is rebuilt whole from the others and sent
 * over (rebuild_shard), as is a recovering peer's by backfill.
 *
 * A punch or truncate zeroes the partial stripes at its ends by the
 * same read-modify-write and cuts or punches the whole stripes between
 * in every shard at once: the code is linear, so zero units have zero
 * parity.
 *
 * Known gap: a primary killed between shards leaves the chunk's shards
 * at two versions (a torn stripe); a read combines only shards of one
 * version, and a later change or rebuild brings the others to it, but
 * nothing yet rolls the stripe back when fewer than K shards took it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/crc.h"
#include "cfs/log.h"
#include "cfs/stripe.h"
#include "ec.h"
#include "osd.pb-c.h"

struct chunk_id osd_chunk_guard(struct chunk_id c)
{
	struct chunk_id g = c;
	uint32_t k, m;
	int shard;

	if (!cfs_shard_of(c.index, &g.index, &k, &m, &shard))
		g.index = c.index;
	return g;
}

/* One chunk's shards as the map places them. */
struct ec {
	struct osd *osd;
	const Cfs__ClusterMap *m;
	struct cfs_layout l;
	struct cfs_ec code;
	struct chunk_id c;
	int t[CFS_MAX_TARGETS];		/* shard i lives on m->osds[t[i]] */
	int self;			/* our shard, -1 if none */
	uint32_t up;			/* shards on up targets */
	uint32_t takes;			/* and on recovering ones */
	struct store_takers takers;	/* by position, the OSDs of takes */
};

static int ec_setup(struct ec *e, struct osd *osd, const Cfs__ClusterMap *m,
		    uint32_t layout, struct chunk_id c)
{
	int n;

	memset(e, 0, sizeof(*e));
	e->osd = osd;
	e->m = m;
	e->c = c;
	e->self = -1;
	if (cfs_layout_unpack(layout, &e->l) || !cfs_layout_is_ec(&e->l) ||
	    cfs_ec_init(&e->code, (int)e->l.k, (int)e->l.m) ||
	    c.index > CFS_CHUNK_INDEX_MAX)
		return -EINVAL;
	n = cfs_placement_chunk(m, layout, c.ino, c.index, e->t);
	if (n != (int)(e->l.k + e->l.m)) {
		cfs_log_warn("ec layout wider than the cluster", "ino=%lu "
			     "width=%u domains=%d", (unsigned long)c.ino,
			     e->l.k + e->l.m, n);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		const Cfs__OsdInfo *o = m->osds[e->t[i]];

		if (o->id == osd->id) {
			e->self = i;
			if (osd_serving(osd))
				e->up |= 1u << i;
			e->takes |= 1u << i;
			continue;
		}
		if (o->state == CFS__OSD_STATE__OSD_UP)
			e->up |= 1u << i;
		if (o->state == CFS__OSD_STATE__OSD_UP ||
		    o->state == CFS__OSD_STATE__OSD_RECOVERING)
			e->takes |= 1u << i;
	}
	for (int i = 0; i < n; i++)
		if (e->takes >> i & 1)
			e->takers.id[i] = m->osds[e->t[i]]->id;
	e->takers.epoch = m->epoch;
	return 0;
}

static int width(const struct ec *e)
{
	return (int)(e->l.k + e->l.m);
}

static struct chunk_id shard_id(const struct ec *e, int i)
{
	struct chunk_id s = {
		e->c.ino, cfs_shard_index(e->c.index, e->l.k, e->l.m, i)
	};

	return s;
}

static void shard_pb(const struct ec *e, int i, Cfs__ChunkId *pb)
{
	struct chunk_id s = shard_id(e, i);

	cfs__chunk_id__init(pb);
	pb->ino = s.ino;
	pb->index = s.index;
}

/* The acting primary: the first up shard is ours. */
static bool primary(const struct ec *e)
{
	for (int i = 0; i < width(e); i++)
		if (e->up >> i & 1)
			return i == e->self;
	return false;
}

static int popcount(uint32_t x)
{
	return __builtin_popcount(x);
}

/* ---- reading shards (cfs_shard_reader) ---- */

static int read_local(struct ec *e, int i, uint64_t off, uint64_t len,
		      uint8_t *buf, uint64_t *version, uint64_t *size)
{
	Cfs__OsdReadReply rep = CFS__OSD_READ_REPLY__INIT;
	uint32_t *crcs;
	size_t nblocks;
	void *data;
	int rc = store_read(&e->osd->store, shard_id(e, i), off, len, false,
			    &data, &rep.block_offset, &crcs, &nblocks,
			    version, size);

	if (rc)
		return rc;
	rep.crcs = crcs;
	rep.n_crcs = nblocks;
	rc = cfs_read_reply_take(&rep, data, nblocks * CFS_BLOCK_SIZE, off,
				 len, buf);
	free(data);
	free(crcs);
	return rc;
}

static void read_shards(void *ctx, int n, const int *shards,
			const uint64_t *offs, const uint64_t *lens,
			uint8_t *const *bufs, int *rcs, uint64_t *versions,
			uint64_t *sizes)
{
	struct ec *e = ctx;
	struct cfs_shard_rpc s = {
		.rpc = e->osd->peers, .ino = e->c.ino, .index = e->c.index,
		.map_epoch = e->m->epoch, .k = e->l.k, .m = e->l.m,
		.timeout_ms = (int)e->osd->cfg.timeout_ms,
	};
	int sh[CFS_MAX_TARGETS] = { 0 }, at[CFS_MAX_TARGETS] = { 0 };
	int rc[CFS_MAX_TARGETS] = { 0 };
	uint64_t of[CFS_MAX_TARGETS] = { 0 }, ln[CFS_MAX_TARGETS] = { 0 };
	uint64_t v[CFS_MAX_TARGETS] = { 0 }, sz[CFS_MAX_TARGETS] = { 0 };
	uint8_t *b[CFS_MAX_TARGETS] = { NULL };
	int k = 0;

	for (int i = 0; i < width(e); i++)
		s.addrs[i] = e->m->osds[e->t[i]]->addr;
	for (int j = 0; j < n; j++) {
		versions[j] = sizes[j] = 0;
		if (shards[j] == e->self) {
			rcs[j] = read_local(e, shards[j], offs[j], lens[j],
					    bufs[j], &versions[j], &sizes[j]);
			continue;
		}
		sh[k] = shards[j];
		of[k] = offs[j];
		ln[k] = lens[j];
		b[k] = bufs[j];
		at[k++] = j;
	}
	cfs_shard_rpc_read(&s, k, sh, of, ln, b, rc, v, sz);
	for (int q = 0; q < k; q++) {
		rcs[at[q]] = rc[q];
		versions[at[q]] = v[q];
		sizes[at[q]] = sz[q];
	}
}

static struct cfs_stripe_read stripe_reader(struct ec *e, uint32_t avail)
{
	struct cfs_stripe_read r = {
		.ec = &e->code, .read = read_shards, .ctx = e, .avail = avail,
	};

	return r;
}

/* ---- sending a change to every shard ---- */

/* What one shard gets from one change. */
struct shard_part {
	struct store_extent *ex;
	size_t n, cap;
	uint8_t *bulk;			/* the extents' bytes in order */
	size_t len;
};

static int part_add(struct shard_part *p, uint64_t off, const uint8_t *data,
		    uint64_t len)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct store_extent *ex = realloc(p->ex, cap * sizeof(*ex));

		if (!ex)
			return -ENOMEM;
		p->ex = ex;
		p->cap = cap;
	}
	if (p->n && p->ex[p->n - 1].off + p->ex[p->n - 1].len == off) {
		p->ex[p->n - 1].len += len;	/* the next stripe's unit */
	} else {
		p->ex[p->n++] = (struct store_extent){ off, len };
	}
	{
		uint8_t *b = realloc(p->bulk, p->len + len);

		if (!b)
			return -ENOMEM;
		p->bulk = b;
	}
	memcpy(p->bulk + p->len, data, len);
	p->len += len;
	return 0;
}

static void parts_free(struct shard_part *parts, int n)
{
	for (int i = 0; i < n; i++) {
		free(parts[i].ex);
		free(parts[i].bulk);
	}
}

/* One CRC per piece of each extent cut at 4 KiB boundaries. */
static uint32_t *part_crcs(const struct shard_part *p, size_t *n)
{
	const uint8_t *pos = p->bulk;
	uint32_t *crcs;

	*n = 0;
	for (size_t i = 0; i < p->n; i++)
		*n += cfs_crc_npieces(p->ex[i].off, p->ex[i].len);
	crcs = malloc((*n ? *n : 1) * sizeof(*crcs));
	if (!crcs)
		return NULL;
	for (size_t i = 0, k = 0; i < p->n; i++) {
		k += cfs_crc_pieces(p->ex[i].off, pos, p->ex[i].len,
				    crcs + k);
		pos += p->ex[i].len;
	}
	return crcs;
}

static int rebuild_shard(struct osd_heal *h, struct ec *e, int j,
			 bool if_newer);
static int settle_version(struct ec *e, uint64_t *v);

/* Apply parts[i] to every shard that takes changes at `version`: ours
 * here, the others' forwarded in parallel; a shard that missed changes
 * is rebuilt whole. 0 once all have it durable. */
static int send_write(struct ec *e, struct shard_part *parts,
		      uint64_t version)
{
	const int n = width(e);
	Cfs__ChunkId ids[CFS_MAX_TARGETS];
	Cfs__OsdWrite reqs[CFS_MAX_TARGETS];
	struct cfs_rpc_call calls[CFS_MAX_TARGETS];
	struct cfs_rpc_call *cp[CFS_MAX_TARGETS] = { NULL };
	const char *addrs[CFS_MAX_TARGETS] = { NULL };
	uint64_t *offs[CFS_MAX_TARGETS] = { NULL }, *lens[CFS_MAX_TARGETS] = {
		NULL
	};
	uint32_t *crcs[CFS_MAX_TARGETS] = { NULL }, *own_crcs = NULL;
	int at[CFS_MAX_TARGETS], st[CFS_MAX_TARGETS], k = 0, rc = 0, own;
	struct store_pending pend;
	size_t ncrcs;
	bool to_k;

	for (int i = 0; i < n; i++) {
		if (!(e->takes >> i & 1) || i == e->self)
			continue;
		crcs[k] = part_crcs(&parts[i], &ncrcs);
		offs[k] = malloc((parts[i].n + 1) * sizeof(uint64_t));
		lens[k] = malloc((parts[i].n + 1) * sizeof(uint64_t));
		if (!crcs[k] || !offs[k] || !lens[k]) {
			rc = -ENOMEM;
			k++;
			goto out;
		}
		shard_pb(e, i, &ids[k]);
		cfs__osd_write__init(&reqs[k]);
		reqs[k].chunk = &ids[k];
		reqs[k].map_epoch = e->m->epoch;
		reqs[k].version = version;
		reqs[k].forwarded = true;
		reqs[k].takers = e->takers.id;
		reqs[k].n_takers = (size_t)n;
		reqs[k].crcs = crcs[k];
		reqs[k].n_crcs = ncrcs;
		for (size_t x = 0; x < parts[i].n; x++) {
			offs[k][x] = parts[i].ex[x].off;
			lens[k][x] = parts[i].ex[x].len;
		}
		reqs[k].extent_offsets = offs[k];
		reqs[k].n_extent_offsets = parts[i].n;
		reqs[k].extent_lengths = lens[k];
		reqs[k].n_extent_lengths = parts[i].n;
		calls[k] = (struct cfs_rpc_call){
			.method = CFS__OSD_METHOD__OSD_WRITE,
			.req = &reqs[k].base,
			.bulk = parts[i].bulk,
			.bulk_len = parts[i].len,
			.timeout_ms = (int)e->osd->cfg.timeout_ms,
		};
		cp[k] = &calls[k];
		addrs[k] = e->m->osds[e->t[i]]->addr;
		at[k++] = i;
	}
	/* crash tests: a primary dying with the change on too few shards,
	 * or on K of them, its own among them; never acknowledged either
	 * way (OSDs it went to lack it), so undone (resolve) */
	to_k = cfs_fault("ec-after-k-shards");
	if (cfs_fault("ec-between-shards")) {
		cfs_rpc_call_many(e->osd->peers, addrs, cp, st, (k + 1) / 2);
		cfs_fault_point("ec-between-shards");
	}
	if (to_k)
		cfs_rpc_call_many(e->osd->peers, addrs, cp, st,
				  (int)e->l.k - 1);
	own_crcs = part_crcs(&parts[e->self], &ncrcs);
	if (!own_crcs) {
		rc = -ENOMEM;
		goto out;
	}
	own = store_write_begin(&e->osd->store, shard_id(e, e->self),
				parts[e->self].ex, parts[e->self].n,
				parts[e->self].bulk, own_crcs, version,
				&e->takers, &pend);
	if (own == 0)
		store_sync_start(&pend);
	if (to_k) {
		store_sync_finish(&pend);
		cfs_fault_point("ec-after-k-shards");
	}
	cfs_rpc_call_many(e->osd->peers, addrs, cp, st, k);
	if (own == 0)
		own = store_sync_finish(&pend);
	for (int q = 0; q < k; q++) {
		cfs_rpc_call_done(&calls[q]);
		if (st[q] == -ESTALE)
			st[q] = rebuild_shard(NULL, e, at[q], false);
		if (st[q]) {
			cfs_log_warn("shard did not take change", "ino=%lu "
				     "index=%lu shard=%d osd=%s rc=%d",
				     (unsigned long)e->c.ino,
				     (unsigned long)e->c.index, at[q],
				     addrs[q], st[q]);
			rc = st[q] == -ENOSPC ? -ENOSPC : -EIO;
		}
	}
	if (own)
		rc = own;
out:
	for (int q = 0; q < k; q++) {
		free(crcs[q]);
		free(offs[q]);
		free(lens[q]);
	}
	free(own_crcs);
	return rc;
}

/* A truncate (size, or remove) or punch of every shard at `version`. */
static int send_cut(struct ec *e, uint32_t method, uint64_t off,
		    uint64_t len, bool remove, uint64_t version)
{
	const int n = width(e);
	Cfs__ChunkId ids[CFS_MAX_TARGETS];
	Cfs__OsdTruncate tr[CFS_MAX_TARGETS];
	Cfs__OsdPunch pu[CFS_MAX_TARGETS];
	struct cfs_rpc_call calls[CFS_MAX_TARGETS];
	struct cfs_rpc_call *cp[CFS_MAX_TARGETS] = { NULL };
	const char *addrs[CFS_MAX_TARGETS] = { NULL };
	int at[CFS_MAX_TARGETS], st[CFS_MAX_TARGETS], k = 0, rc = 0, own;
	struct chunk_id mine = shard_id(e, e->self);

	for (int i = 0; i < n; i++) {
		ProtobufCMessage *req;

		if (!(e->takes >> i & 1) || i == e->self)
			continue;
		shard_pb(e, i, &ids[k]);
		if (method == CFS__OSD_METHOD__OSD_TRUNCATE) {
			cfs__osd_truncate__init(&tr[k]);
			tr[k].chunk = &ids[k];
			tr[k].size = off;
			tr[k].remove = remove;
			tr[k].version = version;
			tr[k].forwarded = true;
			tr[k].takers = e->takers.id;
			tr[k].n_takers = (size_t)n;
			tr[k].map_epoch = e->m->epoch;
			req = &tr[k].base;
		} else {
			cfs__osd_punch__init(&pu[k]);
			pu[k].chunk = &ids[k];
			pu[k].offset = off;
			pu[k].length = len;
			pu[k].version = version;
			pu[k].forwarded = true;
			pu[k].takers = e->takers.id;
			pu[k].n_takers = (size_t)n;
			pu[k].map_epoch = e->m->epoch;
			req = &pu[k].base;
		}
		calls[k] = (struct cfs_rpc_call){
			.method = method,
			.req = req,
			.timeout_ms = (int)e->osd->cfg.timeout_ms,
		};
		cp[k] = &calls[k];
		addrs[k] = e->m->osds[e->t[i]]->addr;
		at[k++] = i;
	}
	cfs_rpc_call_many(e->osd->peers, addrs, cp, st, k);
	if (remove)
		own = store_remove(&e->osd->store, mine);
	else if (method == CFS__OSD_METHOD__OSD_TRUNCATE)
		own = store_truncate(&e->osd->store, mine, off, version,
				     &e->takers);
	else
		own = store_punch(&e->osd->store, mine, off, len, version,
				  &e->takers);
	for (int q = 0; q < k; q++) {
		cfs_rpc_call_done(&calls[q]);
		if (st[q] == -ESTALE && !remove)
			st[q] = rebuild_shard(NULL, e, at[q], false);
		if (st[q] == -ENOENT && remove)
			st[q] = 0;
		if (st[q]) {
			cfs_log_warn("shard did not take change", "ino=%lu "
				     "index=%lu shard=%d osd=%s rc=%d",
				     (unsigned long)e->c.ino,
				     (unsigned long)e->c.index, at[q],
				     addrs[q], st[q]);
			rc = -EIO;
		}
	}
	return own ? own : rc;
}

/* ---- the read-modify-write of a write's stripes ---- */

/* One stripe a write touches: the columns [a, b) of its units, which
 * data units the write touches and which it covers over [a, b). */
struct stripe {
	uint64_t s, a, b;
	uint32_t touched;
	uint64_t covered[CFS_EC_MAX_K];	/* bytes of [a, b) written */
};

struct plan {
	struct stripe *v;
	size_t n, cap;
};

/* The stripes of extent [off, off+len), each part as (stripe, unit,
 * column, length) to fn. */
static int each_part(const struct ec *e, uint64_t off, uint64_t len,
		     int (*fn)(void *arg, uint64_t s, uint32_t j, uint64_t col,
			       uint64_t n, uint64_t pos),
		     void *arg)
{
	const uint64_t u = 1ull << e->l.unit_shift, w = u * e->l.k;
	uint64_t pos = 0;

	while (pos < len) {
		uint64_t x = off + pos, s = x / w, in = x % w;
		uint32_t j = (uint32_t)(in / u);
		uint64_t col = in % u, n = u - col;
		int rc;

		if (n > len - pos)
			n = len - pos;
		rc = fn(arg, s, j, col, n, pos);
		if (rc)
			return rc;
		pos += n;
	}
	return 0;
}

static int plan_part(void *arg, uint64_t s, uint32_t j, uint64_t col,
		     uint64_t n, uint64_t pos)
{
	struct plan *p = arg;
	struct stripe *st = NULL;

	(void)pos;
	for (size_t i = 0; i < p->n && !st; i++)
		if (p->v[i].s == s)
			st = &p->v[i];
	if (!st) {
		if (p->n == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 8;
			struct stripe *v = realloc(p->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			p->v = v;
			p->cap = cap;
		}
		st = &p->v[p->n++];
		memset(st, 0, sizeof(*st));
		st->s = s;
		st->a = col;
		st->b = col + n;
	}
	if (col < st->a)
		st->a = col;
	if (col + n > st->b)
		st->b = col + n;
	st->touched |= 1u << j;
	return 0;
}

/* Where the coverage counting goes: bytes written per unit over [a, b);
 * overlapping extents count twice, so a unit counts as covered only when
 * one part spans all of [a, b) (what whole-stripe writes do) */
static int cover_part(void *arg, uint64_t s, uint32_t j, uint64_t col,
		      uint64_t n, uint64_t pos)
{
	struct plan *p = arg;

	(void)pos;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].s == s && col <= p->v[i].a &&
		    col + n >= p->v[i].b)
			p->v[i].covered[j] = p->v[i].b - p->v[i].a;
	return 0;
}

/* Laying one extent's bytes into the stripe being built. */
struct lay {
	const struct stripe *st;
	uint8_t **units;
	const uint8_t *data;
};

static int lay_part(void *arg, uint64_t s, uint32_t j, uint64_t col,
		    uint64_t n, uint64_t pos)
{
	struct lay *l = arg;

	if (s == l->st->s)
		memcpy(l->units[j] + (col - l->st->a), l->data + pos, n);
	return 0;
}

/* Build one stripe's new columns and add each shard's part. */
static int build_stripe(struct ec *e, const struct stripe *st,
			const struct store_extent *ex, size_t nex,
			const uint8_t *data, struct shard_part *parts)
{
	const int k = (int)e->l.k, n = width(e);
	const uint64_t cols = st->b - st->a, soff = (st->s << e->l.unit_shift) +
						   st->a;
	uint8_t *units[CFS_MAX_TARGETS] = { NULL };
	uint8_t *rd[CFS_EC_MAX_K];
	int want[CFS_EC_MAX_K], nwant = 0, rc = 0;
	uint64_t offs[CFS_EC_MAX_K], lens[CFS_EC_MAX_K];
	const uint8_t *pos = data;

	for (int i = 0; i < n; i++) {
		units[i] = calloc(1, cols);
		if (!units[i]) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (int j = 0; j < k; j++) {
		if (st->covered[j] == cols)
			continue;
		want[nwant] = j;
		offs[nwant] = soff;
		lens[nwant] = cols;
		rd[nwant++] = units[j];
	}
	if (nwant) {
		struct cfs_stripe_read r = stripe_reader(e, e->takes);

		rc = cfs_stripe_read(&r, want, nwant, offs, lens, rd);
		if (rc)
			goto out;
	}
	for (size_t x = 0; x < nex; x++) {
		struct lay l = { st, units, pos };

		each_part(e, ex[x].off, ex[x].len, lay_part, &l);
		pos += ex[x].len;
	}
	if (nwant)
		cfs_fault_point("ec-before-parity");
	cfs_ec_encode(&e->code, (size_t)cols, (const uint8_t *const *)units,
		      units + k);
	for (int i = 0; i < n && rc == 0; i++)
		if (i >= k || (st->touched >> i & 1))
			rc = part_add(&parts[i], soff, units[i], cols);
out:
	for (int i = 0; i < n; i++)
		free(units[i]);
	return rc;
}

static int stripe_cmp(const void *a, const void *b)
{
	const struct stripe *x = a, *y = b;

	return x->s < y->s ? -1 : x->s > y->s;
}

static int ec_write(struct ec *e, const struct store_extent *ex, size_t nex,
		    const uint8_t *data, uint64_t version)
{
	struct shard_part parts[CFS_MAX_TARGETS];
	struct plan p = { NULL, 0, 0 };
	int rc = 0;

	memset(parts, 0, sizeof(parts));
	for (size_t x = 0; x < nex && rc == 0; x++)
		rc = each_part(e, ex[x].off, ex[x].len, plan_part, &p);
	for (size_t x = 0; x < nex && rc == 0; x++)
		rc = each_part(e, ex[x].off, ex[x].len, cover_part, &p);
	if (rc == 0)
		qsort(p.v, p.n, sizeof(*p.v), stripe_cmp);
	for (size_t i = 0; i < p.n && rc == 0; i++)
		rc = build_stripe(e, &p.v[i], ex, nex, data, parts);
	if (rc == 0)
		rc = send_write(e, parts, version);
	parts_free(parts, width(e));
	free(p.v);
	return rc;
}

/* Zeros over [off, end) of the chunk, by read-modify-write. */
static int ec_zero(struct ec *e, uint64_t off, uint64_t end, uint64_t version)
{
	struct store_extent ex = { off, end - off };
	uint8_t *zeros = calloc(1, end - off);
	int rc;

	if (!zeros)
		return -ENOMEM;
	rc = ec_write(e, &ex, 1, zeros, version);
	free(zeros);
	return rc;
}

/* ---- torn stripes ----
 *
 * Every shard takes every change at the chunk's next version, so the
 * shards of a chunk differ only while a change is under way. A primary
 * that died between shards leaves its change on some: if fewer than K
 * took it (and no shard out of reach may hold it), it was never
 * acknowledged and cannot be read back, so the shards that took it roll
 * back with their records (osd/store.h); if K or more did, it is read
 * and the others rebuilt (rolled forward). A primary resolves a chunk
 * before its first change in each map epoch (primaries change only with
 * the map) and after a change of its own failed. */

static struct osd_resolved *resolved_slot(struct osd *osd, struct chunk_id c)
{
	return &osd->resolved[cfs_hash64(c.ino * 31 + c.index) %
			      (sizeof(osd->resolved) /
			       sizeof(osd->resolved[0]))];
}

static bool is_resolved(struct ec *e)
{
	struct osd_resolved *r = resolved_slot(e->osd, e->c);
	bool yes;

	pthread_mutex_lock(&e->osd->resolved_lock);
	yes = r->ino == e->c.ino && r->index == e->c.index &&
	      r->epoch == e->m->epoch;
	pthread_mutex_unlock(&e->osd->resolved_lock);
	return yes;
}

static void set_resolved(struct ec *e, bool yes)
{
	struct osd_resolved *r = resolved_slot(e->osd, e->c);

	pthread_mutex_lock(&e->osd->resolved_lock);
	if (yes)
		*r = (struct osd_resolved){ e->c.ino, e->c.index, e->m->epoch };
	else if (r->ino == e->c.ino && r->index == e->c.index)
		r->epoch = 0;
	pthread_mutex_unlock(&e->osd->resolved_lock);
}

/* Shard j back to what it held at version `to`, as version `as`. */
static int roll_back(struct ec *e, int j, uint64_t to, uint64_t as)
{
	Cfs__ChunkId cid;
	Cfs__OsdRollback req = CFS__OSD_ROLLBACK__INIT;
	struct cfs_rpc_call call = {
		.method = CFS__OSD_METHOD__OSD_ROLLBACK,
		.req = &req.base,
		.timeout_ms = (int)e->osd->cfg.timeout_ms,
	};
	int rc;

	if (j == e->self)
		return store_rollback(&e->osd->store, shard_id(e, j), to, as);
	shard_pb(e, j, &cid);
	req.chunk = &cid;
	req.to_version = to;
	req.as_version = as;
	rc = cfs_rpc_call(e->osd->peers, e->m->osds[e->t[j]]->addr, &call);
	cfs_rpc_call_done(&call);
	return rc;
}

/* Whether the OSD at position j now is one the change recorded in w
 * went to, has been up since it was sent, and no OSD came into or left
 * placement since (a position moved away and back would have dropped
 * its shard): what it holds is what it took. */
static bool witness(const struct ec *e, const struct store_takers *w, int j)
{
	const Cfs__OsdInfo *o = e->m->osds[e->t[j]];

	return w->id[j] && w->id[j] == o->id && o->up_epoch &&
	       o->up_epoch <= w->epoch && e->m->placement_epoch <= w->epoch;
}

/* With the chunk's lock held: 0 once no shard holds a change that was
 * never acknowledged; -EAGAIN while shards out of reach may say it was.
 * Every shard asked is first fenced off from the primary before us (it
 * may still be sending): what it answers stays true. A change was never
 * acknowledged if an OSD it went to (its record names them) is found
 * without it, or if fewer than K took it and the shards out of reach
 * could not make K. It is then undone where it was taken, and every
 * shard that answered is renumbered past it (the version is never used
 * again: a shard out of reach may hold it). */
static int resolve(struct ec *e)
{
	int64_t v[CFS_MAX_TARGETS];
	bool back[CFS_MAX_TARGETS] = { false };
	struct store_takers went[CFS_MAX_TARGETS], *w = NULL;
	int n = width(e), known = 0, at_newest = 0, rc = 0;
	uint64_t newest = 0;
	bool missed = false;

	if (is_resolved(e))
		return 0;
	osd_ec_fence(e->osd, e->m->epoch);
	for (int j = 0; j < n; j++) {
		uint64_t mine;

		v[j] = -1;
		if (j == e->self && store_version(&e->osd->store,
						  shard_id(e, j), &mine) == 0) {
			v[j] = (int64_t)mine;
			back[j] = store_can_roll_back(&e->osd->store,
						      shard_id(e, j), mine,
						      &went[j]);
		} else if (j != e->self && (e->takes >> j & 1)) {
			v[j] = osd_peer_version(e->osd,
						e->m->osds[e->t[j]]->addr,
						e->m->epoch, shard_id(e, j),
						&back[j], &went[j],
						e->m->epoch);
		}
		if (v[j] < 0)
			continue;
		known += v[j] > 0;
		if ((uint64_t)v[j] > newest)
			newest = (uint64_t)v[j];
	}
	for (int j = 0; j < n; j++)
		if (v[j] > 0 && (uint64_t)v[j] == newest) {
			at_newest++;
			if (back[j])
				w = &went[j];
		}
	if (newest == 0 || at_newest >= (int)e->l.k)
		goto done;
	/* an OSD the change went to, there since, answering without it
	 * (else a position without it says nothing: its holder may be
	 * one the map moved it from, or one that left and came back) */
	for (int j = 0; j < n && w; j++)
		missed |= v[j] >= 0 && (uint64_t)v[j] < newest &&
			  witness(e, w, j);
	if (!missed && at_newest + n - known >= (int)e->l.k) {
		cfs_log_info("stripe waits for shards out of reach", "ino=%lu "
			     "index=%lu version=%lu took=%d answered=%d",
			     (unsigned long)e->c.ino, (unsigned long)e->c.index,
			     (unsigned long)newest, at_newest, known);
		return -EAGAIN;	/* it may be on K: wait for them */
	}
	for (int j = 0; j < n && rc == 0; j++) {
		/* out of reach, lagging more, or without the shard (unless
		 * a witness of the first change of a new chunk): rebuilt
		 * later, as lagging */
		if (v[j] < 0 || (uint64_t)v[j] + 1 < newest ||
		    (v[j] == 0 && !(w && witness(e, w, j))))
			continue;
		if ((uint64_t)v[j] == newest && !back[j])
			rc = -EIO;	/* no record: cannot be undone */
		else
			rc = roll_back(e, j, newest - 1, newest + 1);
		cfs_log_warn("torn stripe: a change never acknowledged undone",
			     "ino=%lu index=%lu shard=%d version=%lu took=%d "
			     "k=%u missed=%d rc=%d", (unsigned long)e->c.ino,
			     (unsigned long)e->c.index, j,
			     (unsigned long)v[j], at_newest, e->l.k, missed,
			     rc);
	}
	if (rc)
		return rc;
done:
	set_resolved(e, true);
	return 0;
}

/* ---- the changes ---- */

int osd_ec_change(struct osd *osd, const Cfs__ClusterMap *m, uint32_t layout,
		  struct chunk_id c, const struct ec_change *ch,
		  uint64_t *version)
{
	struct ec e;
	uint64_t w, v, a, b;
	int rc = ec_setup(&e, osd, m, layout, c);

	if (rc)
		return rc;
	if (e.self < 0 || !primary(&e))
		return -ESTALE;	/* the sender's map is old: it refreshes */
	if (popcount(e.up) < (int)e.l.k)
		return -EIO;	/* too few shards to read back: retried */
	if (ch->kind != EC_REMOVE)
		rc = resolve(&e);
	if (rc)
		return rc;
	rc = store_version(&osd->store, shard_id(&e, e.self), &v);
	if (rc == 0 && v == 0)
		rc = settle_version(&e, &v);
	if (rc)
		return rc;
	w = (uint64_t)e.l.k << e.l.unit_shift;
	switch (ch->kind) {
	case EC_WRITE:
		rc = ec_write(&e, ch->ex, ch->n, ch->data, ++v);
		break;
	case EC_REMOVE:
		rc = send_cut(&e, CFS__OSD_METHOD__OSD_TRUNCATE, 0, 0, true, 0);
		v = 0;
		break;
	case EC_TRUNCATE:
		/* zero the cut stripe past the size, then cut every shard
		 * at that stripe's end */
		b = (ch->off + w - 1) / w * w;
		if (b > CFS_CHUNK_SIZE)
			b = CFS_CHUNK_SIZE;
		rc = ch->off < b ? ec_zero(&e, ch->off, b, ++v) : 0;
		if (rc == 0)
			rc = send_cut(&e, CFS__OSD_METHOD__OSD_TRUNCATE,
				      (ch->off + w - 1) / w << e.l.unit_shift,
				      0, false, ++v);
		break;
	case EC_PUNCH:
		/* the partial stripes at the ends by read-modify-write,
		 * the whole ones between punched in every shard */
		a = (ch->off + w - 1) / w * w;
		b = (ch->off + ch->len) / w * w;
		if (a >= b) {
			rc = ec_zero(&e, ch->off, ch->off + ch->len, ++v);
			break;
		}
		if (ch->off < a)
			rc = ec_zero(&e, ch->off, a, ++v);
		if (rc == 0 && b < ch->off + ch->len)
			rc = ec_zero(&e, b, ch->off + ch->len, ++v);
		if (rc == 0)
			rc = send_cut(&e, CFS__OSD_METHOD__OSD_PUNCH,
				      a / w << e.l.unit_shift,
				      (b - a) / w << e.l.unit_shift, false,
				      ++v);
		break;
	default:
		rc = -EINVAL;
	}
	if (rc)
		set_resolved(&e, false);	/* it may have torn it */
	else if (ch->kind == EC_WRITE)
		cfs_fault_point("ec-before-ack");
	*version = v;
	return rc;
}

/* ---- rebuilding a shard whole ---- */

/* Shard j as the others hold it: its bytes (whole blocks), one CRC per
 * block, its size and the version, rebuilt from K of one version. */
struct rebuilt {
	uint8_t *buf;
	uint32_t *crcs;
	uint64_t size, nblocks, version;
};

static int rebuild_bytes(struct ec *e, int j, struct rebuilt *out)
{
	struct cfs_stripe_read r = stripe_reader(e, e->takes & ~(1u << j));
	uint64_t len = cfs_layout_shard_size(&e->l), off = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->buf = malloc(len);
	if (!out->buf)
		return -ENOMEM;
	rc = cfs_stripe_read(&r, &j, 1, &off, &len, &out->buf);
	if (rc)
		return rc;
	out->size = r.size;
	out->version = r.version;
	out->nblocks = (r.size + CFS_BLOCK_SIZE - 1) / CFS_BLOCK_SIZE;
	if (out->nblocks * CFS_BLOCK_SIZE > r.size)
		memset(out->buf + r.size, 0,
		       out->nblocks * CFS_BLOCK_SIZE - r.size);
	out->crcs = malloc((out->nblocks + 1) * sizeof(*out->crcs));
	if (!out->crcs)
		return -ENOMEM;
	for (uint64_t b = 0; b < out->nblocks; b++)
		out->crcs[b] = cfs_crc32c(out->buf + b * CFS_BLOCK_SIZE,
					  CFS_BLOCK_SIZE);
	return 0;
}

static void rebuilt_free(struct rebuilt *b)
{
	free(b->buf);
	free(b->crcs);
}

/* Shard j rebuilt from the others at their version and sent to its
 * target as a whole-chunk copy (if_newer: only over an older one); with
 * h, counted as a healing pass's copy. */
static int rebuild_shard(struct osd_heal *h, struct ec *e, int j,
			 bool if_newer)
{
	const char *addr = e->m->osds[e->t[j]]->addr;
	Cfs__ChunkId cid;
	Cfs__OsdPutChunk req = CFS__OSD_PUT_CHUNK__INIT;
	struct cfs_rpc_call call = {
		.method = CFS__OSD_METHOD__OSD_PUT_CHUNK,
		.req = &req.base,
		.timeout_ms = (int)e->osd->cfg.timeout_ms,
	};
	struct rebuilt b;
	int rc = rebuild_bytes(e, j, &b);

	if (rc == 0) {
		shard_pb(e, j, &cid);
		req.chunk = &cid;
		req.version = b.version;
		req.size = b.size;
		req.crcs = b.crcs;
		req.n_crcs = b.nblocks;
		req.if_newer = if_newer;
		call.bulk = b.buf;
		call.bulk_len = b.nblocks * CFS_BLOCK_SIZE;
		rc = cfs_rpc_call(e->osd->peers, addr, &call);
		cfs_rpc_call_done(&call);
	}
	cfs_log_info("rebuilt shard", "ino=%lu index=%lu shard=%d to=%s "
		     "version=%lu bytes=%lu rc=%d", (unsigned long)e->c.ino,
		     (unsigned long)e->c.index, j, addr,
		     (unsigned long)b.version, (unsigned long)b.size, rc);
	if (rc == 0 && h)
		osd_heal_copied(h, b.size);
	rebuilt_free(&b);
	return rc;
}

/* A primary without its shard (its position is new to it: the map
 * changed) learns the chunk's version from the others before it orders
 * a change, and rebuilds its shard first: else it would number the
 * change from 0 below what the others hold. *v: the version. */
static int settle_version(struct ec *e, uint64_t *v)
{
	int shards[CFS_MAX_TARGETS] = { 0 }, rcs[CFS_MAX_TARGETS], n = 0;
	bool any = false;
	uint64_t offs[CFS_MAX_TARGETS] = { 0 }, lens[CFS_MAX_TARGETS] = { 0 };
	uint64_t vs[CFS_MAX_TARGETS], sizes[CFS_MAX_TARGETS];
	uint8_t byte[CFS_MAX_TARGETS], *bufs[CFS_MAX_TARGETS] = { NULL };
	struct rebuilt b;
	int rc;

	for (int i = 0; i < width(e); i++)
		if ((e->takes >> i & 1) && i != e->self) {
			bufs[n] = &byte[n];
			shards[n++] = i;
		}
	read_shards(e, n, shards, offs, lens, bufs, rcs, vs, sizes);
	/* the newest version K agree on; a shard that is not there (0)
	 * agrees with nothing: it may be one whose position moved */
	*v = 0;
	for (int i = 0; i < n; i++) {
		int same = 0;

		if (rcs[i] || vs[i] == 0)
			continue;
		for (int q = 0; q < n; q++)
			same += rcs[q] == 0 && vs[q] == vs[i];
		if (same >= (int)e->l.k && vs[i] > *v)
			*v = vs[i];
		any = true;
	}
	if (!any)
		return 0;	/* no shard anywhere: a new chunk */
	if (*v == 0)
		return -EAGAIN;	/* shards, but no K agree yet: retried */
	rc = rebuild_bytes(e, e->self, &b);
	if (rc == 0)
		rc = store_put(&e->osd->store, shard_id(e, e->self), b.buf,
			       b.size, b.crcs, b.version);
	cfs_log_info("rebuilt own shard before a change", "ino=%lu index=%lu "
		     "shard=%d version=%lu rc=%d", (unsigned long)e->c.ino,
		     (unsigned long)e->c.index, e->self,
		     (unsigned long)b.version, rc);
	*v = b.version;
	rebuilt_free(&b);
	return rc;
}

int osd_ec_backfill(struct osd *osd, const Cfs__ClusterMap *m,
		    struct chunk_id held, uint32_t for_osd,
		    uint64_t (*peer_version)(void *arg, struct chunk_id c),
		    void *arg)
{
	struct ec e;
	struct cfs_layout l = { CFS_LAYOUT_EC, 0, 0, CFS_LAYOUT_UNIT_SHIFT };
	struct chunk_id c;
	uint64_t mine, theirs;
	int shard, rc;

	if (!cfs_shard_of(held.index, &c.index, &l.k, &l.m, &shard))
		return 0;
	c.ino = held.ino;
	if (ec_setup(&e, osd, m, cfs_layout_pack(&l), c) || e.self != shard ||
	    !primary(&e))
		return 0;
	for (int j = 0; j < width(&e); j++) {
		const Cfs__OsdInfo *o = m->osds[e.t[j]];

		if (o->id != for_osd)
			continue;
		rc = store_version(&osd->store, held, &mine);
		theirs = peer_version(arg, shard_id(&e, j));
		if (rc || mine == 0 || theirs == mine)
			return 0;
		return rebuild_shard(NULL, &e, j, false) == 0 ? 1 : 0;
	}
	return 0;
}

bool osd_ec_stale(struct osd *osd, const Cfs__ClusterMap *m,
		  struct chunk_id theirs, uint32_t for_osd)
{
	struct ec e;
	struct cfs_layout l = { CFS_LAYOUT_EC, 0, 0, CFS_LAYOUT_UNIT_SHIFT };
	struct chunk_id c;
	uint64_t v;
	int shard;
	bool has = false;

	if (!cfs_shard_of(theirs.index, &c.index, &l.k, &l.m, &shard))
		return false;
	c.ino = theirs.ino;
	if (ec_setup(&e, osd, m, cfs_layout_pack(&l), c) || e.self < 0 ||
	    !primary(&e))
		return false;
	for (int j = 0; j < width(&e); j++)
		has |= m->osds[e.t[j]]->id == for_osd && j == shard;
	/* the chunk was removed while they were away */
	return has && store_version(&osd->store, shard_id(&e, e.self), &v) == 0 &&
	       v == 0;
}

/* ---- healing: every shard where the map puts it (heal.c) ---- */

/* The version target position j holds of its shard (0: none), or -1. */
static int64_t position_version(struct ec *e, int j)
{
	uint64_t off = 0, len = 0, v, size;
	uint8_t byte, *buf = &byte;
	int rc;

	read_shards(e, 1, &j, &off, &len, &buf, &rc, &v, &size);
	return rc ? -1 : (int64_t)v;
}

/* Our copy of shard `shard` is not at its position any more: send it to
 * the target there if that one has an older one or none, then drop ours
 * once it has ours or newer. Without the chunk's lock: the target may
 * be the primary, which may be forwarding to us. */
static void move_shard(struct osd_heal *h, struct ec *e, struct chunk_id held,
		       int shard, uint64_t mine)
{
	Cfs__ChunkId cid;
	Cfs__OsdPutChunk req = CFS__OSD_PUT_CHUNK__INIT;
	struct cfs_rpc_call call = {
		.method = CFS__OSD_METHOD__OSD_PUT_CHUNK,
		.req = &req.base,
		.timeout_ms = (int)h->osd->cfg.timeout_ms,
	};
	int64_t theirs = position_version(e, shard);
	uint64_t block_off, version, size;
	uint32_t *crcs = NULL;
	size_t nblocks;
	void *data = NULL;
	int rc;

	if (theirs < 0) {
		h->failed++;
		return;
	}
	if ((uint64_t)theirs < mine) {
		rc = store_read(&h->osd->store, held, 0, CFS_CHUNK_SIZE, true,
				&data, &block_off, &crcs, &nblocks, &version,
				&size);
		if (rc == 0) {
			shard_pb(e, shard, &cid);
			req.chunk = &cid;
			req.version = version;
			req.size = size;
			req.crcs = crcs;
			req.n_crcs = nblocks;
			req.if_newer = true;
			call.bulk = data;
			call.bulk_len = nblocks * CFS_BLOCK_SIZE;
			rc = cfs_rpc_call(h->osd->peers,
					  h->m->osds[e->t[shard]]->addr, &call);
			cfs_rpc_call_done(&call);
		}
		free(data);
		free(crcs);
		cfs_log_info("moved shard to its place", "ino=%lu index=%lu "
			     "shard=%d to=%s version=%lu rc=%d",
			     (unsigned long)e->c.ino, (unsigned long)e->c.index,
			     shard, h->m->osds[e->t[shard]]->addr,
			     (unsigned long)mine, rc);
		if (rc) {
			h->failed++;
			return;
		}
		h->moved++;
		osd_heal_copied(h, size);
		theirs = position_version(e, shard);
	}
	if (theirs < 0 || (uint64_t)theirs < mine)
		return;
	store_lock(&h->osd->store, e->c);
	if (store_version(&h->osd->store, held, &version) == 0 &&
	    version == mine && store_remove(&h->osd->store, held) == 0)
		h->removed++;
	store_unlock(&h->osd->store, e->c);
}

/* Every up position at our version, rebuilt from the others: by the
 * acting primary under the chunk's lock, or (if_newer, without it) by
 * the first up position holding the chunk when the primary does not.
 * The positions left short. */
static int fill_positions(struct osd_heal *h, struct ec *e, uint64_t mine,
			  bool if_newer)
{
	int shy = 0;

	for (int j = 0; j < width(e); j++) {
		int64_t v;

		if (j == e->self)
			continue;
		if (!(e->up >> j & 1)) {
			shy++;
			continue;
		}
		v = position_version(e, j);
		if (v == (int64_t)mine || (if_newer && v > (int64_t)mine))
			continue;
		if (v >= 0 && rebuild_shard(h, e, j, if_newer) == 0) {
			h->rebuilt++;
			continue;
		}
		h->failed++;
		shy++;
	}
	return shy;
}

/* Whether no up position before ours holds the chunk at our version or
 * newer (so the filling is ours). */
static bool first_holder(struct osd_heal *h, struct ec *e, uint64_t mine)
{
	for (int j = 0; j < e->self; j++) {
		int64_t v;

		if (!(e->up >> j & 1))
			continue;
		v = position_version(e, j);
		if (v < 0) {
			h->failed++;
			return false;
		}
		if ((uint64_t)v >= mine)
			return false;
	}
	return true;
}

void osd_ec_heal_chunk(struct osd_heal *h, struct chunk_id held)
{
	struct cfs_layout l = { CFS_LAYOUT_EC, 0, 0, CFS_LAYOUT_UNIT_SHIFT };
	struct chunk_id c;
	struct ec e;
	uint64_t mine, size;
	int shard, shy = -1;
	bool fill = false;

	if (!cfs_shard_of(held.index, &c.index, &l.k, &l.m, &shard))
		return;
	c.ino = held.ino;
	store_lock(&h->osd->store, c);
	if (ec_setup(&e, h->osd, h->m, cfs_layout_pack(&l), c) ||
	    store_stat(&h->osd->store, held, &mine, &size) || !mine) {
		store_unlock(&h->osd->store, c);
		return;
	}
	if (e.self == shard && primary(&e)) {
		/* a torn stripe first (it may take ours back) */
		if (resolve(&e) == 0 &&
		    store_stat(&h->osd->store, held, &mine, &size) == 0)
			shy = mine ? fill_positions(h, &e, mine, false) : 0;
		else
			h->failed++;	/* a shard that may say is away */
	} else if (e.self == shard) {
		fill = first_holder(h, &e, mine);
	}
	store_unlock(&h->osd->store, c);
	if (e.self != shard && (e.up >> shard & 1))
		move_shard(h, &e, held, shard, mine);
	else if (e.self != shard)
		h->failed++;	/* its position is down: a later pass */
	if (fill)
		shy = fill_positions(h, &e, mine, true);
	if (shy > 0) {
		h->degraded++;
		h->degraded_bytes += size * (uint64_t)shy;
	}
}

int osd_ec_repair(struct osd *osd, const Cfs__ClusterMap *m,
		  struct chunk_id held)
{
	struct cfs_layout l = { CFS_LAYOUT_EC, 0, 0, CFS_LAYOUT_UNIT_SHIFT };
	struct chunk_id c;
	struct rebuilt b = { 0 };
	struct ec e;
	int shard, rc;

	if (!cfs_shard_of(held.index, &c.index, &l.k, &l.m, &shard))
		return -EINVAL;
	c.ino = held.ino;
	rc = ec_setup(&e, osd, m, cfs_layout_pack(&l), c);
	if (rc == 0 && e.self != shard)
		rc = -ESTALE;	/* not at its position: healing moves it */
	if (rc == 0)
		rc = rebuild_bytes(&e, shard, &b);
	if (rc == 0)
		rc = store_put(&osd->store, held, b.buf, b.size, b.crcs,
			       b.version);
	rebuilt_free(&b);
	return rc;
}
