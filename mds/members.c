/* Cluster membership: OSD registration, heartbeats, down-marking, token
 * revocation, and the cluster map built from them, which OSDs and clients
 * follow by long poll (MDS_GET_MAP waits for an epoch past theirs).
 * Records, revocations and the epoch are persisted, so epochs only grow
 * across restarts. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfs/clock.h"
#include "cfs/log.h"
#include "mds.h"

/* What is persisted of a member (runtime state is not). */
struct member_rec {
	uint32_t id;
	uint16_t in;		/* REC_OUT, REC_IN or REC_REMOVED */
	uint16_t stale;
	char addr[64], node[64], domain[64];
	uint64_t capacity;
	uint64_t down_epoch;	/* absent in records written before it */
};

enum { REC_OUT, REC_IN, REC_REMOVED };

struct persist {
	struct member_rec rec;
	bool has_rec;
	uint64_t epoch;
};

static int do_persist(struct mds *mds, MDB_txn *txn, void *p)
{
	struct persist *ps = p;
	uint64_t id64 = ps->rec.id;
	MDB_val k = { sizeof(id64), &id64 };
	MDB_val v = { sizeof(ps->rec), &ps->rec };
	int rc;

	if (ps->has_rec) {
		rc = cfs_ns_put(&mds->ns, txn, mds->ns.osds, &k, &v);
		if (rc)
			return rc;
	}
	return cfs_ns_meta_put(&mds->ns, txn, "epoch", ps->epoch);
}

#define REVOKED "revoked:"	/* meta key prefix, then the token id */

static int revoked_add(struct mds *mds, const char *id)
{
	void *nr;

	for (size_t i = 0; i < mds->nrevoked; i++)
		if (!strcmp(mds->revoked[i], id))
			return 0;
	nr = realloc(mds->revoked, (mds->nrevoked + 1) *
				   sizeof(*mds->revoked));
	if (!nr)
		return -ENOMEM;
	mds->revoked = nr;
	snprintf(mds->revoked[mds->nrevoked++], sizeof(*mds->revoked), "%s",
		 id);
	return 0;
}

/* Make this process refuse the revoked tokens (mlock held). */
static int revoked_apply(struct mds *mds)
{
	char *ids[mds->nrevoked + 1];

	for (size_t i = 0; i < mds->nrevoked; i++)
		ids[i] = mds->revoked[i];
	return cfs_rpc_revoke(ids, mds->nrevoked);
}

static int revoked_load(struct mds *mds, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k = { strlen(REVOKED), REVOKED }, v;
	int rc = cfs_ns_errno(mdb_cursor_open(txn, mds->ns.meta, &cur));

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size > strlen(REVOKED) &&
	     !memcmp(k.mv_data, REVOKED, strlen(REVOKED));
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char id[sizeof(*mds->revoked)];
		size_t n = k.mv_size - strlen(REVOKED);

		if (n >= sizeof(id))
			continue;
		memcpy(id, (char *)k.mv_data + strlen(REVOKED), n);
		id[n] = 0;
		if (revoked_add(mds, id))
			break;
	}
	mdb_cursor_close(cur);
	return revoked_apply(mds);
}

/* The members, epoch and revocations as the store has them (at the
 * start, and when this MDS becomes its replicas' leader: the store is
 * what the last leader left). mlock held. */
static int members_load(struct mds *mds)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	free(mds->members);
	mds->members = NULL;
	mds->nmembers = 0;
	mds->nrevoked = 0;
	rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);
	if (rc)
		return rc;
	if (cfs_ns_meta_get(&mds->ns, txn, "epoch", &mds->epoch))
		mds->epoch = 0;
	mds->epoch++;
	mds->placement_epoch = mds->epoch;	/* what moved before, unknown */
	rc = cfs_ns_errno(mdb_cursor_open(txn, mds->ns.osds, &cur));
	if (rc)
		goto out;
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		struct member_rec r;
		struct member *nm, *m;

		if (v.mv_size == sizeof(r) ||
		    v.mv_size == offsetof(struct member_rec, down_epoch)) {
			memset(&r, 0, sizeof(r));
			memcpy(&r, v.mv_data, v.mv_size);
			nm = realloc(mds->members,
				     (mds->nmembers + 1) * sizeof(*nm));
			if (!nm) {
				rc = ENOMEM;
				break;
			}
			mds->members = nm;
			m = &nm[mds->nmembers++];
			memset(m, 0, sizeof(*m));
			m->id = r.id;
			m->in = r.in == REC_IN;
			m->removed = r.in == REC_REMOVED;
			m->stale = r.stale;
			m->down_epoch = r.down_epoch;
			memcpy(m->addr, r.addr, sizeof(m->addr));
			memcpy(m->node, r.node, sizeof(m->node));
			memcpy(m->domain, r.domain, sizeof(m->domain));
			m->capacity = r.capacity;
			/* assume up after a restart (heartbeats decide),
			 * and up as of this epoch: a backfill a stale one
			 * took before counts no more. One that missed
			 * changes serves nothing until backfilled. */
			m->state = m->stale ? CFS__OSD_STATE__OSD_RECOVERING :
					      CFS__OSD_STATE__OSD_UP;
			m->up_epoch = mds->epoch;
			m->last_heartbeat_ms = cfs_mono_ms();
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	rc = rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
	if (!rc)
		rc = revoked_load(mds, txn);
out:
	cfs_ns_abort(txn);
	return rc;
}

int mds_members_load(struct mds *mds)
{
	int rc;

	pthread_mutex_init(&mds->mlock, NULL);
	cfs_mono_cond_init(&mds->mchanged);
	pthread_mutex_lock(&mds->mlock);
	rc = members_load(mds);
	pthread_mutex_unlock(&mds->mlock);
	return rc;
}

struct map_snapshot {
	Cfs__ClusterMap map;	/* first: the snapshot is freed through it */
	char *mds_addrs[CFS_RPC_GROUP_MEMBERS];
	char *shards[MDS_SHARDS_MAX];
	struct mds_replica_status replicas;
	Cfs__OsdInfo **ptrs;
	Cfs__OsdInfo *infos;
	struct member *copies;
	char **revoked;
	char (*ids)[sizeof(((struct mds *)0)->revoked[0])];
	char listen[CFS_CONFIG_STR_MAX], cluster_id[CFS_CONFIG_STR_MAX];
};

/* The layout of files made where no directory sets one: ec:4+2 once the
 * map spans 6 failure domains (1.5 bytes stored per byte, any two
 * domains may fail), before that the map's replica count. */
uint32_t mds_default_layout(const Cfs__ClusterMap *m)
{
	struct cfs_layout ec = { CFS_LAYOUT_EC, 4, 2, CFS_LAYOUT_UNIT_SHIFT };

	return cfs_map_domains(m) >= 6 ? cfs_layout_pack(&ec) : 0;
}

Cfs__ClusterMap *mds_map_build(struct mds *mds)
{
	struct map_snapshot *s = calloc(1, sizeof(*s));
	size_t n;

	if (!s)
		return NULL;
	cfs__cluster_map__init(&s->map);
	pthread_mutex_lock(&mds->mlock);
	n = mds->nmembers;
	s->ptrs = calloc(n + 1, sizeof(*s->ptrs));
	s->infos = calloc(n + 1, sizeof(*s->infos));
	s->copies = calloc(n + 1, sizeof(*s->copies));
	s->revoked = calloc(mds->nrevoked + 1, sizeof(*s->revoked));
	s->ids = calloc(mds->nrevoked + 1, sizeof(*s->ids));
	if (!s->ptrs || !s->infos || !s->copies || !s->revoked || !s->ids) {
		pthread_mutex_unlock(&mds->mlock);
		mds_map_free(&s->map);
		return NULL;
	}
	if (n)
		memcpy(s->copies, mds->members, n * sizeof(*s->copies));
	for (size_t i = 0; i < mds->nrevoked; i++) {
		memcpy(s->ids[i], mds->revoked[i], sizeof(s->ids[i]));
		s->revoked[i] = s->ids[i];
	}
	s->map.revoked = s->revoked;
	s->map.n_revoked = mds->nrevoked;
	s->map.epoch = mds->epoch;
	s->map.placement_epoch = mds->placement_epoch;
	pthread_mutex_unlock(&mds->mlock);
	s->map.n_osds = 0;
	for (size_t i = 0; i < n; i++) {
		Cfs__OsdInfo *o = &s->infos[s->map.n_osds];
		struct member *m = &s->copies[i];

		if (m->removed)
			continue;
		cfs__osd_info__init(o);
		o->id = m->id;
		o->addr = m->addr;
		o->node = m->node;
		o->domain = m->domain;
		o->weight = 100;
		o->state = m->state;
		o->in = m->in;
		o->capacity = m->capacity;
		o->used = m->used;
		o->up_epoch = m->up_epoch;
		if (m->heal.base.descriptor)
			o->heal = &m->heal;
		s->ptrs[s->map.n_osds++] = o;
	}
	snprintf(s->listen, sizeof(s->listen), "%s", mds->cfg.listen);
	snprintf(s->cluster_id, sizeof(s->cluster_id), "%s",
		 mds->cfg.cluster_id);
	s->map.version = CFS_PROTO_VERSION;
	s->map.cluster_id = s->cluster_id;
	s->map.mds = s->mds_addrs;
	/* this MDS (the leader), then its replicas: what a group address
	 * that clients and OSDs were given does not name is learnt here */
	s->mds_addrs[s->map.n_mds++] = s->listen;
	mds_replica_status(mds, &s->replicas);
	for (unsigned i = 0; i < s->replicas.nmembers &&
			     s->map.n_mds < CFS_RPC_GROUP_MEMBERS; i++)
		if (strcmp(s->replicas.members[i].address, s->listen))
			s->mds_addrs[s->map.n_mds++] =
				s->replicas.members[i].address;
	/* the shards (their groups as configured: a client learns each
	 * group's later members from the group, as for shard 0) */
	for (unsigned i = 0; mds->nshards > 1 && i < mds->nshards; i++)
		s->shards[s->map.n_shards++] = mds->shard_groups[i];
	s->map.shards = s->shards;
	s->map.pg_count = (uint32_t)mds->cfg.pg_count;
	s->map.replicas = (uint32_t)mds->cfg.replicas;
	s->map.osds = s->ptrs;
	if (mds->shard == 0)	/* the others take shard 0's (xshard.c) */
		mds->ns.default_layout = mds_default_layout(&s->map);
	return &s->map;
}

void mds_map_free(Cfs__ClusterMap *m)
{
	struct map_snapshot *s = (struct map_snapshot *)m;

	if (!s)
		return;
	free(s->ptrs);
	free(s->infos);
	free(s->copies);
	free(s->revoked);
	free(s->ids);
	free(s);
}

void mds_map_wait(struct mds *mds, uint64_t after, int wait_ms)
{
	struct timespec ts = cfs_mono_deadline(wait_ms);

	pthread_mutex_lock(&mds->mlock);
	while (mds->epoch <= after && !mds->stop)
		if (pthread_cond_timedwait(&mds->mchanged, &mds->mlock, &ts))
			break;
	pthread_mutex_unlock(&mds->mlock);
}

/* A new epoch in which the OSDs in placement (or their domains) may
 * have changed. mlock held. */
static void placement_changed(struct mds *mds)
{
	mds->epoch++;
	mds->placement_epoch = mds->epoch;
}

/* Persist (optionally a member record and) the epoch, then wake the
 * followers. */
static void epoch_changed(struct mds *mds, const struct member *m)
{
	struct persist ps = { .has_rec = m != NULL };
	int rc;

	pthread_mutex_lock(&mds->mlock);
	ps.epoch = mds->epoch;
	pthread_mutex_unlock(&mds->mlock);
	if (m) {
		ps.rec.id = m->id;
		ps.rec.in = m->removed ? REC_REMOVED : m->in ? REC_IN : REC_OUT;
		ps.rec.stale = m->stale;
		memcpy(ps.rec.addr, m->addr, sizeof(ps.rec.addr));
		memcpy(ps.rec.node, m->node, sizeof(ps.rec.node));
		memcpy(ps.rec.domain, m->domain, sizeof(ps.rec.domain));
		ps.rec.capacity = m->capacity;
		ps.rec.down_epoch = m->down_epoch;
	}
	rc = mds_mutate(mds, do_persist, &ps, 0);
	if (rc)
		cfs_log_error("cannot persist cluster map", "epoch=%lu rc=%d",
			      (unsigned long)ps.epoch, rc);
	pthread_mutex_lock(&mds->mlock);
	pthread_cond_broadcast(&mds->mchanged);
	pthread_mutex_unlock(&mds->mlock);
}

struct revoke {
	char *const *ids;
	size_t n;
};

static int do_revoke(struct mds *mds, MDB_txn *txn, void *p)
{
	struct revoke *r = p;

	for (size_t i = 0; i < r->n; i++) {
		char key[sizeof(REVOKED) + sizeof(*mds->revoked)];
		int rc;

		snprintf(key, sizeof(key), REVOKED "%s", r->ids[i]);
		rc = cfs_ns_meta_put(&mds->ns, txn, key, (uint64_t)time(NULL));
		if (rc)
			return rc;
	}
	return 0;
}

int mds_revoke(struct mds *mds, char *const *ids, size_t n)
{
	struct revoke r = { ids, n };
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		if (strlen(ids[i]) != sizeof(*mds->revoked) - 1 ||
		    strspn(ids[i], "0123456789abcdef") != strlen(ids[i]))
			return -EINVAL;
	rc = mds_mutate(mds, do_revoke, &r, 0);
	if (rc)
		return rc;
	pthread_mutex_lock(&mds->mlock);
	for (size_t i = 0; i < n && !rc; i++)
		rc = revoked_add(mds, ids[i]);
	if (!rc)
		rc = revoked_apply(mds);
	mds->epoch++;
	pthread_mutex_unlock(&mds->mlock);
	epoch_changed(mds, NULL);
	for (size_t i = 0; i < n; i++)
		cfs_log_warn("token revoked", "id=%s", ids[i]);
	return rc;
}

int mds_replicas_change(struct mds *mds, bool add, const char *address)
{
	int rc = mds_replica_change(mds, add, address);

	if (rc)
		return rc;
	pthread_mutex_lock(&mds->mlock);
	mds->epoch++;
	pthread_mutex_unlock(&mds->mlock);
	epoch_changed(mds, NULL);
	return 0;
}

static struct member *find_member(struct mds *mds, uint32_t id)
{
	for (size_t i = 0; i < mds->nmembers; i++)
		if (mds->members[i].id == id)
			return &mds->members[i];
	return NULL;
}

int mds_osd_register(struct mds *mds, const Cfs__MdsOsdRegister *req,
		     uint32_t *id)
{
	struct member *m = NULL, copy;
	uint32_t max_id = 0;
	bool moved = false;

	if (!req->addr || !*req->addr || strlen(req->addr) >= 64 ||
	    !req->node || strlen(req->node) >= 64 || !req->domain ||
	    strlen(req->domain) >= 64)
		return -EINVAL;
	pthread_mutex_lock(&mds->mlock);
	for (size_t i = 0; i < mds->nmembers; i++) {
		struct member *x = &mds->members[i];

		if (x->id > max_id)
			max_id = x->id;
		if ((req->id && x->id == req->id) ||
		    (!req->id && !x->removed && !strcmp(x->addr, req->addr)))
			m = x;
	}
	if (m && m->removed) {
		pthread_mutex_unlock(&mds->mlock);
		cfs_log_warn("refused a removed osd", "osd=%u addr=%s", req->id,
			     req->addr);
		return -EPERM;
	}
	if (!m) {
		struct member *nm = realloc(mds->members,
					    (mds->nmembers + 1) * sizeof(*nm));

		if (!nm) {
			pthread_mutex_unlock(&mds->mlock);
			return -ENOMEM;
		}
		mds->members = nm;
		m = &nm[mds->nmembers++];
		memset(m, 0, sizeof(*m));
		m->id = req->id ? req->id : max_id + 1;
		m->in = true;
		moved = true;
	}
	moved |= strcmp(m->domain, req->domain) != 0;
	snprintf(m->addr, sizeof(m->addr), "%s", req->addr);
	snprintf(m->node, sizeof(m->node), "%s", req->node);
	snprintf(m->domain, sizeof(m->domain), "%s", req->domain);
	m->capacity = req->capacity;
	m->used = req->used;
	/* whatever it held may be stale: it recovers before it is up */
	m->state = CFS__OSD_STATE__OSD_RECOVERING;
	m->last_heartbeat_ms = cfs_mono_ms();
	if (moved)
		placement_changed(mds);	/* a new member, or in a new domain */
	else
		mds->epoch++;
	copy = *m;
	*id = m->id;
	pthread_mutex_unlock(&mds->mlock);
	cfs_log_info("osd registered", "osd=%u addr=%s node=%s epoch=%lu",
		     copy.id, copy.addr, copy.node, (unsigned long)mds->epoch);
	epoch_changed(mds, &copy);
	return 0;
}

/* Whether m's recovery pass, run with the map of epoch `recovered`,
 * backfilled it from a current member: one up, not stale, and up since
 * that epoch or before (so that pass asked it). mlock held. */
static bool backfilled_by_current(struct mds *mds, const struct member *m,
				  uint64_t recovered)
{
	for (size_t i = 0; i < mds->nmembers; i++) {
		const struct member *o = &mds->members[i];

		if (o != m && o->state == CFS__OSD_STATE__OSD_UP &&
		    !o->stale && o->up_epoch <= recovered)
			return true;
	}
	return false;
}

/* Whether m, stale, may come up although no peer was up to backfill it:
 * only if no other member is more current. A member that is not stale
 * and not down is current; of the stale ones, the later one was marked
 * down, the more it holds (writes went on without the earlier ones).
 * After a whole-cluster outage the last to go down comes up first and
 * the others backfill from it. mlock held. */
static bool most_current(struct mds *mds, const struct member *m)
{
	for (size_t i = 0; i < mds->nmembers; i++) {
		const struct member *o = &mds->members[i];

		if (o == m || !o->in)
			continue;
		if (!o->stale && o->state != CFS__OSD_STATE__OSD_DOWN)
			return false;
		if (o->stale && o->down_epoch > m->down_epoch)
			return false;
	}
	return true;
}

int mds_osd_heartbeat(struct mds *mds, const Cfs__MdsOsdHeartbeat *hb)
{
	struct member *m;
	Cfs__OsdState want;
	int rc = 0;

	pthread_mutex_lock(&mds->mlock);
	m = find_member(mds, hb->id);
	if (!m || m->removed) {
		pthread_mutex_unlock(&mds->mlock);
		return m ? -EPERM : -ENOENT;
	}
	m->last_heartbeat_ms = cfs_mono_ms();
	m->capacity = hb->capacity;
	m->used = hb->used;
	if (hb->heal) {
		/* by field: the message (and any unknown fields) is freed */
		cfs__heal_state__init(&m->heal);
		m->heal.epoch = hb->heal->epoch;
		m->heal.degraded = hb->heal->degraded;
		m->heal.degraded_bytes = hb->heal->degraded_bytes;
		m->heal.running = hb->heal->running;
		m->heal.copied_bytes = hb->heal->copied_bytes;
		m->heal.rate = hb->heal->rate;
	}
	want = hb->ready ? CFS__OSD_STATE__OSD_UP :
			   CFS__OSD_STATE__OSD_RECOVERING;
	if (m->state == CFS__OSD_STATE__OSD_DOWN) {
		/* it was written around while down: recover first */
		want = CFS__OSD_STATE__OSD_RECOVERING;
		rc = -ESTALE;
	} else if (want == CFS__OSD_STATE__OSD_UP && m->stale &&
		   !backfilled_by_current(mds, m, hb->recovered_epoch) &&
		   !most_current(mds, m)) {
		/* it recovered from nobody current, and a peer holds newer
		 * changes: wait until that one is up and backfill from it
		 * (a pass that ran before it came up does not count) */
		want = CFS__OSD_STATE__OSD_RECOVERING;
		rc = -EAGAIN;
	}
	if (m->state != want) {
		bool stale_changed = want == CFS__OSD_STATE__OSD_UP && m->stale;
		struct member copy;

		m->state = want;
		if (stale_changed)
			m->stale = false;
		mds->epoch++;
		if (want == CFS__OSD_STATE__OSD_UP)
			m->up_epoch = mds->epoch;
		copy = *m;
		cfs_log_info(want == CFS__OSD_STATE__OSD_UP ? "osd up" :
							      "osd recovering",
			     "osd=%u epoch=%lu", m->id,
			     (unsigned long)mds->epoch);
		pthread_mutex_unlock(&mds->mlock);
		epoch_changed(mds, stale_changed ? &copy : NULL);
		return rc;
	}
	pthread_mutex_unlock(&mds->mlock);
	return rc;
}

/* The default layout's shape: of every `stored` pieces (copies, or
 * shards on as many failure domains), `data` hold users' bytes: 1 of 3
 * for rep:3, 4 of 6 for ec:4+2. */
static void default_shape(struct mds *mds, uint64_t *data, uint64_t *stored)
{
	struct cfs_layout l;

	if (cfs_layout_unpack(mds->ns.default_layout, &l) == 0 &&
	    cfs_layout_is_ec(&l)) {
		*data = l.k;
		*stored = l.k + l.m;
		return;
	}
	*data = 1;
	*stored = mds->cfg.replicas > 0 ? (uint64_t)mds->cfg.replicas : 1;
}

/* What users can store: raw space in placement divided by the default
 * layout's overhead (as if fewer members hold all the copies). */
void mds_capacity(struct mds *mds, uint64_t *capacity, uint64_t *used)
{
	uint64_t data, stored;

	default_shape(mds, &data, &stored);
	*capacity = *used = 0;
	pthread_mutex_lock(&mds->mlock);
	for (size_t i = 0; i < mds->nmembers; i++) {
		if (!mds->members[i].in)
			continue;
		*capacity += mds->members[i].capacity;
		*used += mds->members[i].used;
	}
	if (data == 1 && stored > mds->nmembers && mds->nmembers)
		stored = mds->nmembers;
	pthread_mutex_unlock(&mds->mlock);
	*capacity = *capacity / stored * data;
	*used = *used / stored * data;
}

/* Out of placement (its chunks are rebuilt on others from the other
 * copies), and back in: it may hold stale data, so it is put down and
 * recovers (backfilled by its peers) before it is up again. mlock
 * held. */
static void set_in(struct mds *mds, struct member *m, bool in)
{
	m->in = in;
	if (in && m->state != CFS__OSD_STATE__OSD_DOWN) {
		m->state = CFS__OSD_STATE__OSD_DOWN;
		m->down_since_ms = cfs_mono_ms();
	}
	placement_changed(mds);
}

/* Whether m may leave placement: the failure domains left must still
 * hold every copy or shard of the files made by default (6 for ec:4+2,
 * the replica count else); with fewer, its data would have nowhere to
 * go and EC files that wide would stop working. mlock held. */
static bool may_leave(struct mds *mds, const struct member *m, int *left,
		      int *need)
{
	uint64_t data, stored;

	default_shape(mds, &data, &stored);
	*need = (int)stored;
	*left = 0;
	for (size_t i = 0; i < mds->nmembers; i++) {
		const struct member *o = &mds->members[i];
		bool seen = false;

		if (o == m || !o->in)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = &mds->members[j] != m && mds->members[j].in &&
			       !strcmp(mds->members[j].domain, o->domain);
		*left += !seen;
	}
	return !m->in || *left >= *need;
}

int mds_osd_admin(struct mds *mds, uint32_t id, int op)
{
	struct member *m, copy;
	static const char *const what[] = { "", "out", "in", "removed" };
	uint64_t epoch;
	int left, need;

	if (op < CFS__OSD_ADMIN_OP__OSD_ADMIN_OUT ||
	    op > CFS__OSD_ADMIN_OP__OSD_ADMIN_RM)
		return -EINVAL;
	pthread_mutex_lock(&mds->mlock);
	m = find_member(mds, id);
	if (!m || m->removed) {
		pthread_mutex_unlock(&mds->mlock);
		return -ENOENT;
	}
	if (op != CFS__OSD_ADMIN_OP__OSD_ADMIN_IN &&
	    !may_leave(mds, m, &left, &need)) {
		pthread_mutex_unlock(&mds->mlock);
		cfs_log_warn("refused to take an osd out", "osd=%u "
			     "domains_left=%d needed=%d", id, left, need);
		return -EBUSY;
	}
	if (op == CFS__OSD_ADMIN_OP__OSD_ADMIN_RM) {
		m->removed = true;
		m->in = false;
		m->state = CFS__OSD_STATE__OSD_DOWN;
		placement_changed(mds);
	} else if (m->in != (op == CFS__OSD_ADMIN_OP__OSD_ADMIN_IN)) {
		set_in(mds, m, op == CFS__OSD_ADMIN_OP__OSD_ADMIN_IN);
	} else {
		pthread_mutex_unlock(&mds->mlock);
		return 0;
	}
	copy = *m;
	epoch = mds->epoch;
	pthread_mutex_unlock(&mds->mlock);
	cfs_log_warn("osd marked by the administrator", "osd=%u now=%s "
		     "epoch=%lu", id, what[op], (unsigned long)epoch);
	epoch_changed(mds, &copy);
	return 0;
}

#define CAP_KEY_META "capability_key"

static int do_cap_key(struct mds *mds, MDB_txn *txn, void *p)
{
	MDB_val k = { strlen(CAP_KEY_META), CAP_KEY_META };
	MDB_val v = { CFS_CAP_KEY, p };

	return cfs_ns_put(&mds->ns, txn, mds->ns.meta, &k, &v);
}

/* The key capabilities are signed with is the store's, the same on
 * every replica (the first serving MDS stores its own): a capability
 * the last leader granted still holds. */
static void cap_key_take(struct mds *mds)
{
	MDB_val k = { strlen(CAP_KEY_META), CAP_KEY_META }, v;
	MDB_txn *txn;
	int rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);

	if (!rc) {
		rc = mdb_get(txn, mds->ns.meta, &k, &v);
		if (rc == 0 && v.mv_size == CFS_CAP_KEY)
			memcpy(mds->cap_key, v.mv_data, CFS_CAP_KEY);
		cfs_ns_abort(txn);
	}
	if (rc == MDB_NOTFOUND)
		rc = mds_mutate(mds, do_cap_key, mds->cap_key, 0);
	if (rc)
		cfs_log_error("cannot take the capability key from the store",
			      "rc=%d", rc);
}

/* This MDS begins to serve (at its start, or as its replicas' new
 * leader): the members as the store has them, each given a heartbeat's
 * time from now, in a new epoch; the locks as stored; the opens as the
 * clients tell them (mds_opens_forget). */
static void take_over(struct mds *mds, uint64_t terms)
{
	int rc;

	pthread_mutex_lock(&mds->mlock);
	rc = members_load(mds);
	pthread_mutex_unlock(&mds->mlock);
	if (rc)
		cfs_log_error("cannot load the members", "rc=%d", rc);
	cap_key_take(mds);
	mds_xshard_take_over(mds);
	mds_opens_forget(mds);
	rc = mds_locks_load(mds);
	if (rc)
		cfs_log_error("cannot load the locks", "rc=%d", rc);
	/* capabilities granted before now were granted for opens this
	 * MDS does not know of (service.c, granted_before) */
	mds->started_s = (int64_t)time(NULL);
	epoch_changed(mds, NULL);
	atomic_store(&mds->ready, terms);	/* requests are answered */
}

static void *monitor_main(void *p)
{
	struct mds *mds = p;
	/* a lone MDS took over at its start */
	uint64_t led = mds->replica ? 0 : 1, terms;

	while (!mds->stop) {
		int64_t now = cfs_mono_ms();
		struct member downed[16];
		size_t ndowned = 0;
		bool changed = false, outed = false;

		if (!mds_serving(mds, &terms)) {	/* a follower */
			if (mds_replica_removed(mds)) {
				cfs_log_warn("this replica was removed from "
					     "the group (cfs mds remove): "
					     "stopping", "listen=%s",
					     mds->cfg.listen);
				kill(getpid(), SIGTERM);
				break;
			}
			usleep(20 * 1000);
			continue;
		}
		if (terms != led) {
			led = terms;
			take_over(mds, terms);
			now = cfs_mono_ms();
		}

		pthread_mutex_lock(&mds->mlock);
		for (size_t i = 0; i < mds->nmembers; i++) {
			struct member *m = &mds->members[i];

			if (m->state != CFS__OSD_STATE__OSD_DOWN && !m->removed &&
			    now - m->last_heartbeat_ms >
				    mds->cfg.down_after_ms) {
				m->state = CFS__OSD_STATE__OSD_DOWN;
				/* a member stale already (not up since its
				 * last fall) keeps the epoch it fell at */
				if (!m->stale)
					m->down_epoch = mds->epoch + 1;
				m->stale = true;
				m->down_since_ms = now;
				if (ndowned < 16)
					downed[ndowned++] = *m;
				changed = true;
				cfs_log_warn("osd marked down",
					     "osd=%u addr=%s silent_ms=%ld",
					     m->id, m->addr,
					     (long)(now - m->last_heartbeat_ms));
			}
		}
		for (size_t i = 0; i < mds->nmembers; i++) {
			struct member *m = &mds->members[i];

			int left, need;

			if (m->state != CFS__OSD_STATE__OSD_DOWN || !m->in ||
			    now - m->down_since_ms <
				    mds->cfg.out_after_s * 1000)
				continue;
			if (!may_leave(mds, m, &left, &need)) {
				if (!m->out_refused)
					cfs_log_warn("not marking a down osd out: "
						     "too few failure domains "
						     "would be left", "osd=%u "
						     "domains_left=%d needed=%d",
						     m->id, left, need);
				m->out_refused = true;
				continue;
			}
			m->in = false;
			if (ndowned < 16)
				downed[ndowned++] = *m;
			changed = outed = true;
			cfs_log_warn("osd marked out", "osd=%u addr=%s down_s=%ld",
				     m->id, m->addr,
				     (long)(now - m->down_since_ms) / 1000);
		}
		if (outed)
			placement_changed(mds);
		else if (changed)
			mds->epoch++;
		pthread_mutex_unlock(&mds->mlock);
		mds_sessions_expire(mds);
		if (changed) {
			for (size_t i = 0; i + 1 < ndowned; i++)
				epoch_changed(mds, &downed[i]);
			epoch_changed(mds, ndowned ? &downed[ndowned - 1] : NULL);
		}
		usleep(100 * 1000);
	}
	return NULL;
}

int mds_members_start(struct mds *mds)
{
	if (!mds->replica)
		take_over(mds, 1);
	if (pthread_create(&mds->monitor, NULL, monitor_main, mds))
		return -EAGAIN;
	return 0;
}

void mds_members_stop(struct mds *mds)
{
	pthread_join(mds->monitor, NULL);
	free(mds->revoked);
	mds->revoked = NULL;
	mds->nrevoked = 0;
	free(mds->members);
	mds->members = NULL;
	mds->nmembers = 0;
}
