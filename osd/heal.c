/* Healing: every chunk where the map puts it, with full redundancy, and
 * nothing kept where it no longer belongs.
 *
 * After every map change (and every 10 s while a pass left something to
 * retry) one pass goes over every chunk held here:
 *  - a replicated chunk we act as primary of (the first up target):
 *    every other up target brought to our version by a whole copy, under
 *    the chunk's lock (a target new to it after an OSD went out, one that
 *    missed a forward);
 *  - a replicated copy we hold but no longer a target of (a target came
 *    in, or we went out): dropped once every target is up and holds our
 *    version or newer; kept while one is not (it may be a last copy);
 *    kept and counted as an orphan if no target holds the chunk at all
 *    (deleted meanwhile, or all its holders gone: it is not ours to say);
 *  - EC shards: ec.c (a shard away from its position moved there, each
 *    position rebuilt by the first up position holding the chunk).
 * Copies are paced to rebuild_mbps. A pass counts the chunks it answers
 * for that it left short of full redundancy (a target down, a copy that
 * failed); the heartbeat reports them with the pass's map epoch, the
 * bytes copied and the rate (Cfs__HealState), the MDS puts them in the
 * map it serves, and `cfs status` says HEALTHY only when every OSD has
 * healed the current map with nothing left short.
 *
 * Known limit: a replicated file whose layout asks for more copies than
 * the map's replicas (rep:4, rep:5) is healed as the map's count: the
 * copies past it count as displaced. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs/limits.h"
#include "cfs/log.h"
#include "ec.h"
#include "mds.pb-c.h"
#include "osd.h"

void osd_pace(struct osd *osd, int64_t started_ms, uint64_t bytes,
	      long long mbps)
{
	int64_t due;

	if (mbps <= 0)
		return;
	due = (int64_t)(bytes * 1000 / ((uint64_t)mbps << 20));
	while (!osd->stop && cfs_mono_ms() - started_ms < due)
		usleep(20 * 1000);
}

/* What the heartbeat reports of this pass: the bytes it copied, its rate,
 * and once it is done, what it left short. */
static void publish(struct osd_heal *h, bool running, uint64_t copied)
{
	struct osd *osd = h->osd;
	int64_t ms = cfs_mono_ms() - h->started_ms;

	pthread_mutex_lock(&osd->heal_lock);
	osd->heal.copied_bytes += copied;
	osd->heal.running = running;
	osd->heal.rate = ms > 0 ? h->copied * 1000 / (uint64_t)ms : 0;
	if (!running) {
		osd->heal.epoch = h->m->epoch;
		osd->heal.degraded = h->degraded;
		osd->heal.degraded_bytes = h->degraded_bytes;
	}
	pthread_mutex_unlock(&osd->heal_lock);
}

void osd_heal_copied(struct osd_heal *h, uint64_t bytes)
{
	h->copied += bytes;
	publish(h, true, bytes);
	osd_pace(h->osd, h->started_ms, h->copied, h->osd->cfg.rebuild_mbps);
}

void osd_heal_state(struct osd *osd, Cfs__HealState *out)
{
	pthread_mutex_lock(&osd->heal_lock);
	*out = osd->heal;
	pthread_mutex_unlock(&osd->heal_lock);
}

/* Where chunk c's copies go: targets t[0..n), our position (-1: none),
 * the acting primary's (-1: none up) and how many are up. */
struct copies {
	int t[CFS_MAX_TARGETS], n, self, acting, up;
};

static void copies_of(struct osd_heal *h, struct chunk_id c, struct copies *p)
{
	p->n = cfs_placement_chunk(h->m, 0, c.ino, c.index, p->t);
	p->self = p->acting = -1;
	p->up = 0;
	for (int i = 0; i < p->n; i++) {
		const Cfs__OsdInfo *o = h->m->osds[p->t[i]];
		bool self = o->id == h->osd->id;
		bool up = self ? osd_serving(h->osd) :
				 o->state == CFS__OSD_STATE__OSD_UP;

		if (self)
			p->self = i;
		if (up && p->acting < 0)
			p->acting = i;
		p->up += up;
	}
}

static const char *addr_of(struct osd_heal *h, const struct copies *p, int i)
{
	return h->m->osds[p->t[i]]->addr;
}

/* As its acting primary, chunk lock held: every up target at our
 * version. Whether it is left short. */
static bool fill_copies(struct osd_heal *h, struct chunk_id c,
			const struct copies *p, uint64_t mine)
{
	bool shy = p->n < cfs_placement_width(h->m, 0) || p->up < p->n;

	for (int i = 0; i < p->n; i++) {
		uint64_t bytes;
		int64_t v;

		if (i == p->self ||
		    h->m->osds[p->t[i]]->state != CFS__OSD_STATE__OSD_UP)
			continue;
		v = osd_peer_version(h->osd, addr_of(h, p, i), h->m->epoch, c,
				     NULL, NULL, 0);
		if (v == (int64_t)mine)
			continue;
		if (v >= 0 && osd_push_chunk(h->osd, addr_of(h, p, i), c, false,
					     &bytes) == 0) {
			h->rebuilt++;
			osd_heal_copied(h, bytes);
			continue;
		}
		h->failed++;
		shy = true;
	}
	return shy;
}

/* A copy no target position holds: 1 dropped, 0 kept for now (a target
 * is down or behind: a later pass looks again), -1 kept for good (no
 * target has the chunk). Chunk lock held. */
static int drop_displaced(struct osd_heal *h, struct chunk_id c,
			  const struct copies *p, uint64_t mine)
{
	int none = 0;

	if (p->n < cfs_placement_width(h->m, 0) || p->up < p->n)
		return 0;
	for (int i = 0; i < p->n; i++) {
		int64_t v = osd_peer_version(h->osd, addr_of(h, p, i),
					     h->m->epoch, c, NULL, NULL, 0);

		if (v < 0)
			return 0;
		none += v == 0;
		if (v > 0 && (uint64_t)v < mine)
			return 0;
	}
	if (none == p->n)
		return -1;
	if (none)
		return 0;
	return store_remove(&h->osd->store, c) == 0;
}

static void heal_copy(struct osd_heal *h, struct chunk_id c)
{
	struct copies p;
	uint64_t mine, size;

	store_lock(&h->osd->store, c);
	if (store_stat(&h->osd->store, c, &mine, &size) == 0 && mine) {
		copies_of(h, c, &p);
		if (p.self >= 0 && p.self == p.acting) {
			if (fill_copies(h, c, &p, mine)) {
				h->degraded++;
				h->degraded_bytes += size;
			}
		} else if (p.self < 0) {
			int rc = drop_displaced(h, c, &p, mine);

			h->removed += rc > 0;
			h->orphans += rc < 0;
			h->failed += rc == 0;
		}
	}
	store_unlock(&h->osd->store, c);
}

/* ---- garbage: chunks of deleted files, and past a file's end ----
 *
 * A pass first lists the chunks held, sorted by inode, and asks the MDS
 * about their inodes in batches: gone (deleted) or their size. A chunk
 * of a deleted inode, or wholly past its file's end (truncated while
 * this OSD was away), is never healed (healing would spread it back to
 * the targets the delete or truncate already cleared) and is removed
 * once unchanged gc_grace_s: younger, it may be data a client is still
 * writing past the size the MDS has. If the MDS cannot say, every chunk
 * is healed as usual. */

struct held {
	struct chunk_id *c;
	size_t n, cap;
};

static int list_chunk(void *arg, struct chunk_id c, uint64_t version)
{
	struct held *l = arg;

	(void)version;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		struct chunk_id *grown = realloc(l->c, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		l->c = grown;
		l->cap = cap;
	}
	l->c[l->n++] = c;
	return 0;
}

static int by_ino(const void *a, const void *b)
{
	const struct chunk_id *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

#define GONE_BATCH 1024	/* inodes asked about in one call */

/* What the MDS at group says of inos[0..n) (ascending): gone[i] if
 * deleted, else size[i] (UINT64_MAX: unknown). Unknown for all if it
 * cannot say. */
static void ask_shard(struct osd *osd, const char *group, uint64_t *inos,
		      size_t n, bool *gone, uint64_t *size)
{
	Cfs__MdsInodes req = CFS__MDS_INODES__INIT;
	struct cfs_rpc_call c = {
		.method = CFS__MDS_METHOD__MDS_GONE,
		.req = &req.base,
		.rep_desc = &cfs__mds_inodes__descriptor,
		.timeout_ms = 5000,
	};
	const Cfs__MdsInodes *rep;
	size_t j = 0;

	req.inos = inos;
	req.n_inos = n;
	for (size_t i = 0; i < n; i++) {
		gone[i] = false;
		size[i] = UINT64_MAX;
	}
	if (group && cfs_rpc_call(osd->peers, group, &c) == 0) {
		rep = (const Cfs__MdsInodes *)c.rep;
		for (size_t i = 0; i < n && rep; i++) {
			if (j < rep->n_inos && rep->inos[j] == inos[i]) {
				gone[i] = true;
				j++;
			} else if (i < rep->n_sizes) {
				size[i] = rep->sizes[i];
			}
		}
	}
	cfs_rpc_call_done(&c);
}

/* ... of inos of any metadata shard: each run of one shard's asked of
 * that shard (the map names the groups of shards past 0). */
static void ask_mds(struct osd *osd, uint64_t *inos, size_t n, bool *gone,
		    uint64_t *size)
{
	struct cfs_map *map = cfs_map_get(&osd->maps);
	size_t i = 0;

	while (i < n) {
		unsigned s = cfs_ino_shard(inos[i]);
		size_t j = i;
		const char *group = s == 0 ? osd->cfg.mds :
				    map && s < map->pb->n_shards ?
					    map->pb->shards[s] :
					    NULL;

		while (j < n && cfs_ino_shard(inos[j]) == s)
			j++;
		ask_shard(osd, group, inos + i, j - i, gone + i, size + i);
		i = j;
	}
	if (map)
		cfs_map_put(&osd->maps, map);
}

/* A chunk of a deleted inode or past its file's end (c: the chunk it is
 * or whose shard it is, which its lock goes by): removed if unchanged
 * for gc_grace_s, else left for a later pass. */
static void collect(struct osd_heal *h, struct chunk_id held,
		    struct chunk_id c)
{
	struct store *st = &h->osd->store;
	int64_t idle;

	store_lock(st, c);
	if (store_idle_s(st, held, &idle) == 0 &&
	    idle >= h->osd->cfg.gc_grace_s && store_remove(st, held) == 0)
		h->collected++;
	store_unlock(st, c);
}

static void heal_chunk(struct osd_heal *h, struct chunk_id c)
{
	if (c.index & CFS_SHARD_BIT)
		osd_ec_heal_chunk(h, c);
	else
		heal_copy(h, c);
}

/* The chunks held, batch by batch of inodes: each collected or healed. */
static void heal_all(struct osd_heal *h, struct held *l)
{
	static __thread uint64_t inos[GONE_BATCH], size[GONE_BATCH];
	static __thread bool gone[GONE_BATCH];

	if (l->n)	/* (qsort's base may not be NULL) */
		qsort(l->c, l->n, sizeof(*l->c), by_ino);
	for (size_t i = 0, end; i < l->n && !h->osd->stop; i = end) {
		size_t n = 0, b = 0;

		for (end = i; end < l->n; end++) {
			if (n && inos[n - 1] == l->c[end].ino)
				continue;
			if (n == GONE_BATCH)
				break;
			inos[n++] = l->c[end].ino;
		}
		ask_mds(h->osd, inos, n, gone, size);
		for (size_t j = i; j < end && !h->osd->stop; j++) {
			struct chunk_id held = l->c[j], c = held;
			uint32_t k, m;
			int shard;

			while (inos[b] != held.ino)
				b++;
			if (held.index & CFS_SHARD_BIT &&
			    !cfs_shard_of(held.index, &c.index, &k, &m, &shard))
				continue;	/* not a shard name we make */
			if (gone[b] || (size[b] != UINT64_MAX &&
					c.index * CFS_CHUNK_SIZE >= size[b]))
				collect(h, held, c);
			else
				heal_chunk(h, held);
		}
	}
}

/* One pass for the current map: 0, or -EAGAIN if something is left for
 * a later one. */
static int heal_pass(struct osd *osd)
{
	struct cfs_map *map = cfs_map_get(&osd->maps);
	struct osd_heal h = { .osd = osd, .started_ms = cfs_mono_ms() };
	struct held l = { 0 };
	int rc;

	if (!map)
		return -EAGAIN;
	h.m = map->pb;
	publish(&h, true, 0);
	sem_wait(&osd->primary_slots);
	rc = store_scan(&osd->store, list_chunk, &l);
	if (rc == 0)
		heal_all(&h, &l);
	sem_post(&osd->primary_slots);
	free(l.c);
	if (rc == 0 && !osd->stop)
		publish(&h, false, 0);
	if (h.moved || h.rebuilt || h.removed || h.failed || h.degraded ||
	    h.orphans || h.collected)
		cfs_log_info("healed", "osd=%u epoch=%lu moved=%lu rebuilt=%lu "
			     "removed=%lu failed=%lu degraded=%lu orphans=%lu "
			     "collected=%lu bytes=%lu ms=%ld", osd->id,
			     (unsigned long)map->pb->epoch,
			     (unsigned long)h.moved, (unsigned long)h.rebuilt,
			     (unsigned long)h.removed, (unsigned long)h.failed,
			     (unsigned long)h.degraded,
			     (unsigned long)h.orphans,
			     (unsigned long)h.collected, (unsigned long)h.copied,
			     (long)(cfs_mono_ms() - h.started_ms));
	cfs_map_put(&osd->maps, map);
	return rc ? rc : h.failed ? -EAGAIN : 0;
}

static void *heal_main(void *p)
{
	struct osd *osd = p;
	uint64_t healed = 0;
	int wait_s = 0;
	bool again = false;

	while (!osd->stop) {
		uint64_t epoch = cfs_map_epoch(&osd->maps);

		if ((epoch != healed || (again && wait_s >= 10) ||
		     (wait_s >= 10 && wait_s >= osd->cfg.gc_grace_s)) &&
		    osd_serving(osd)) {
			again = heal_pass(osd) != 0;
			healed = epoch;
			wait_s = 0;
		}
		cfs_map_wait_newer(&osd->maps, epoch, 1000);
		wait_s++;
	}
	return NULL;
}

int osd_heal_start(struct osd *osd)
{
	if (pthread_create(&osd->healer, NULL, heal_main, osd))
		return -EAGAIN;
	return 0;
}
