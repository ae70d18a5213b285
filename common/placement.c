/* Placement: chunk -> placement group -> ordered targets.
 * See include/cfs/map.h. Pure functions of the map: every client, OSD and
 * MDS computes the same answer with no location lookup. */
#include <math.h>
#include <string.h>

#include "cfs/layout.h"
#include "cfs/map.h"

uint32_t cfs_placement_pg(uint64_t ino, uint64_t index, uint32_t pg_count)
{
	uint64_t h = cfs_hash64(ino * 0x9e3779b97f4a7c15ull + index);

	return pg_count ? (uint32_t)(h % pg_count) : 0;
}

/* Weighted rendezvous score: weight / -ln(u), u uniform in (0, 1). The
 * target with the highest score wins; changing one target's weight or
 * membership moves only the placement groups it wins or loses. */
static double score(uint32_t pg, uint32_t osd_id, uint32_t weight)
{
	uint64_t h = cfs_hash64(((uint64_t)pg << 32 | osd_id) ^
				0x5851f42d4c957f2dull);
	double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0;

	return (double)(weight ? weight : 1) / -log(u);
}

int cfs_map_domains(const Cfs__ClusterMap *m)
{
	int n = 0;

	for (size_t i = 0; i < m->n_osds; i++) {
		bool seen = false;

		if (!m->osds[i]->in)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = m->osds[j]->in &&
			       !strcmp(m->osds[j]->domain, m->osds[i]->domain);
		n += !seen;
	}
	return n;
}

int cfs_placement_width(const Cfs__ClusterMap *m, uint32_t layout)
{
	struct cfs_layout l;

	if (cfs_layout_unpack(layout, &l))
		return 0;
	if (l.kind == 0)
		return m->replicas < CFS_MAX_REPLICAS ? (int)m->replicas
						      : CFS_MAX_REPLICAS;
	return (int)(l.k + l.m);
}

/* The `in` target with the highest score for key among those in failure
 * domains out[0..n) does not hold; -1 if there is none. */
static int best_free(const Cfs__ClusterMap *m, uint32_t key, const int *out,
		     int n)
{
	double best = -1;
	int pick = -1;

	for (size_t i = 0; i < m->n_osds; i++) {
		const Cfs__OsdInfo *o = m->osds[i];
		bool taken = false;
		double s;

		if (!o->in)
			continue;
		for (int j = 0; j < n && !taken; j++)
			taken = !strcmp(m->osds[out[j]]->domain, o->domain);
		if (taken)
			continue;
		s = score(key, o->id, o->weight);
		if (s > best) {
			best = s;
			pick = (int)i;
		}
	}
	return pick;
}

int cfs_placement_targets(const Cfs__ClusterMap *m, uint32_t pg, int width,
			  int *out)
{
	int want = width < CFS_MAX_TARGETS ? width : CFS_MAX_TARGETS, n = 0;

	while (n < want) {
		int pick = best_free(m, pg, out, n);

		if (pick < 0)
			break;
		out[n++] = pick;
	}
	return n;
}

/* EC shards: each position drawn on its own, by its own rendezvous
 * (scores of (pg, position)) among the targets in failure domains no
 * earlier position holds. A shard's position names what it holds, so it
 * must not shift when another target comes or goes, as it would in one
 * ordered list: a new target takes the positions it wins (and a position
 * after it may take the target it freed), a target gone frees only its
 * own. */
static int place_shards(const Cfs__ClusterMap *m, uint32_t pg, int width,
			int *out)
{
	int n = 0;

	while (n < width) {
		int pick = best_free(m, pg * 0x9e3779b1u ^
					     (uint32_t)(n + 1) * 0x85ebca6bu,
				     out, n);

		if (pick < 0)
			break;	/* fewer domains than shards */
		out[n++] = pick;
	}
	return n;
}

int cfs_placement_chunk(const Cfs__ClusterMap *m, uint32_t layout,
			uint64_t ino, uint64_t index, int *out)
{
	uint32_t pg = cfs_placement_pg(ino, index, m->pg_count);
	struct cfs_layout l;

	if (cfs_layout_unpack(layout, &l) == 0 && cfs_layout_is_ec(&l))
		return place_shards(m, pg, (int)(l.k + l.m), out);
	return cfs_placement_targets(m, pg, cfs_placement_width(m, layout),
				     out);
}

int cfs_map_osd_index(const Cfs__ClusterMap *m, uint32_t id)
{
	for (size_t i = 0; i < m->n_osds; i++)
		if (m->osds[i]->id == id)
			return (int)i;
	return -1;
}

int cfs_placement_primary(const Cfs__ClusterMap *m, uint32_t layout,
			  uint64_t ino, uint64_t index)
{
	int t[CFS_MAX_TARGETS];
	int n = cfs_placement_chunk(m, layout, ino, index, t);

	for (int i = 0; i < n; i++)
		if (m->osds[t[i]]->state == CFS__OSD_STATE__OSD_UP)
			return t[i];
	return -1;
}
