/* cfs: the admin and user command line.
 *
 *   cfs status MDS_ADDRESS     the cluster map: epoch, OSDs, capacity,
 *                              healing, and HEALTHY when every chunk has
 *                              full redundancy
 *   cfs osd out|in|rm ID       take an OSD out of placement, back in, or
 *                              out for good
 *   cfs mds add|remove ADDRESS a replica into the MDS's Raft group (one
 *                              started with --join), or out of it
 *   cfs df MDS_ADDRESS         capacity and use as users see it
 *   cfs locate MDS_ADDRESS INO [INDEX]
 *                              a chunk's placement: its targets in order,
 *                              the acting primary first
 *   cfs layout set|get PATH    a directory's or file's layout (layout.c)
 *   cfs cache status|drop|warm|passthrough ... PATH
 *                              the mount's client data cache (cache.c)
 *   cfs fsck MDS_DATA_DIR...   check the namespace of an MDS store, or of
 *                              one store of each shard as a whole (safe
 *                              beside a running MDS); exit 1 on problems
 *   --token FILE (or $CFS_TOKEN) before the command: the token the
 *   commands that reach the cluster join with (an admin's or a client's)
 *   cfs init, cfs token, cfs secret
 *                              the cluster's identity and join tokens
 *                              (token.c)
 *
 * More subcommands (conflicts, tier, bench) arrive with the issues that
 * need them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/log.h"
#include "cfs/map.h"
#include <jansson.h>

#include "cfs/rpc.h"
#include "cmds.h"
#include "mds.pb-c.h"
#include "libcfs.h"
#include "../../mds/fsck.h"

/* The MDS's current map, or NULL after saying why on stderr. Free with
 * map_done(). */
struct cfs_map *map_of(const char *mds, struct cfs_map_holder *maps,
			      struct cfs_rpc_client **rpc)
{
	int rc;

	cfs_map_holder_init(maps);
	rc = cfs_rpc_client_new(rpc);
	if (!rc)
		rc = cfs_map_fetch(maps, *rpc, mds, 3000);
	if (rc == -EACCES || rc == -EPROTO)
		fprintf(stderr, "cfs: the MDS at %s did not accept this "
				"command's token (--token FILE or $CFS_TOKEN: "
				"an admin or client token)\n", mds);
	else if (rc)
		fprintf(stderr, "cfs: cannot reach the MDS at %s: %s\n", mds,
			strerror(-rc));
	if (rc) {
		cfs_rpc_client_free(*rpc);
		cfs_map_holder_destroy(maps);
		return NULL;
	}
	return cfs_map_get(maps);
}

int mds_call(const char *mds, uint32_t method, ProtobufCMessage *req,
	     int timeout_ms)
{
	struct cfs_rpc_call c = { .method = method, .req = req,
				  .timeout_ms = timeout_ms, .attempts = 3 };
	struct cfs_rpc_client *cl;
	int rc = cfs_rpc_client_new(&cl);

	if (rc)
		return rc;
	rc = cfs_rpc_call(cl, mds, &c);
	cfs_rpc_call_done(&c);
	cfs_rpc_client_free(cl);
	return rc;
}

void map_done(struct cfs_map *m, struct cfs_map_holder *maps,
		     struct cfs_rpc_client *rpc)
{
	cfs_map_put(maps, m);
	cfs_map_holder_destroy(maps);
	cfs_rpc_client_free(rpc);
}

/* Health from the map: every OSD in placement up and done healing the
 * current map with nothing short of full redundancy is HEALTHY. */
struct health {
	int in, up, behind;
	uint64_t degraded, degraded_bytes, rate;
	bool running;
};

static void health_of(const Cfs__ClusterMap *m, struct health *h)
{
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < m->n_osds; i++) {
		const Cfs__OsdInfo *o = m->osds[i];
		const Cfs__HealState *s = o->heal;

		if (s && s->running) {
			h->running = true;
			h->rate += s->rate;
		}
		if (!o->in)
			continue;
		h->in++;
		if (o->state != CFS__OSD_STATE__OSD_UP)
			continue;
		h->up++;
		if (!s || s->epoch != m->epoch || s->running)
			h->behind++;
		if (s) {
			h->degraded += s->degraded;
			h->degraded_bytes += s->degraded_bytes;
		}
	}
}

static bool healthy(const struct health *h)
{
	return h->up == h->in && !h->behind && !h->degraded && !h->running;
}

/* silent: MDS replicas the leader has not heard from lately */
static void print_health(const struct health *h, int silent)
{
	if (healthy(h) && !silent) {
		printf("health: HEALTHY\n");
		return;
	}
	printf("health: DEGRADED:");
	if (silent)
		printf(" %d MDS replica%s not answering;", silent,
		       silent > 1 ? "s" : "");
	if (h->up < h->in)
		printf(" %d of %d OSDs in placement not up;", h->in - h->up,
		       h->in);
	if (h->degraded)
		printf(" %lu chunks short of full redundancy (%.1f MiB to "
		       "rebuild);", (unsigned long)h->degraded,
		       h->degraded_bytes / 1048576.0);
	if (h->running || h->behind)
		printf(" healing (%d OSDs not done with this map)",
		       h->behind ? h->behind : 1);
	if (h->running && h->rate)
		printf(" at %.1f MiB/s", h->rate / 1048576.0);
	if (h->running && h->rate && h->degraded_bytes)
		printf(", about %lu s left",
		       (unsigned long)(h->degraded_bytes / h->rate + 1));
	printf("\n");
}

static const char *state_name(const Cfs__OsdInfo *o)
{
	return o->state == CFS__OSD_STATE__OSD_UP	  ? "up" :
	       o->state == CFS__OSD_STATE__OSD_RECOVERING ? "recovering" :
							    "down";
}

/* The MDS replicas, as their leader sees them (NULL: a lone MDS, or no
 * answer); free with cfs_rpc_call_done(c). */
static const Cfs__MdsReplicas *replicas_of(const char *mds,
					   struct cfs_rpc_client *rpc,
					   struct cfs_rpc_call *c)
{
	static Cfs__MdsEmpty e = CFS__MDS_EMPTY__INIT;
	const Cfs__MdsReplicas *r;

	*c = (struct cfs_rpc_call){ .method = CFS__MDS_METHOD__MDS_REPLICAS,
				    .req = &e.base,
				    .rep_desc = &cfs__mds_replicas__descriptor,
				    .timeout_ms = 3000, .attempts = 3 };
	if (cfs_rpc_call(rpc, mds, c) || !(r = (const void *)c->rep) ||
	    !r->n_members)
		return NULL;
	return r;
}

static uint64_t lag_of(const Cfs__MdsReplicas *r, const Cfs__MdsReplica *m)
{
	return r->commit > m->match ? r->commit - m->match : 0;
}

static int replicas_silent(const Cfs__MdsReplicas *r)
{
	int n = 0;

	for (size_t i = 0; r && i < r->n_members; i++)
		n += !r->members[i]->up;
	return n;
}

static void print_replicas(const Cfs__MdsReplicas *r)
{
	if (!r)
		return;
	printf("mds replicas: %zu, term %lu, commit %lu\n", r->n_members,
	       (unsigned long)r->term, (unsigned long)r->commit);
	for (size_t i = 0; i < r->n_members; i++) {
		const Cfs__MdsReplica *m = r->members[i];

		printf("  %-3lu %-22s %-8s %-6s match %-10lu lag %lu\n",
		       (unsigned long)m->id, m->address,
		       m->leader ? "leader" : "follower",
		       m->up ? "heard" : "silent", (unsigned long)m->match,
		       (unsigned long)lag_of(r, m));
	}
}

/* The leader's address among r's members ("" if none is). */
static const char *leader_of(const Cfs__MdsReplicas *r)
{
	for (size_t i = 0; r && i < r->n_members; i++)
		if (r->members[i]->leader)
			return r->members[i]->address;
	return "";
}

/* A group of MDS replicas as JSON: its leader, term, commit index and
 * each replica's state and lag. */
static json_t *replicas_json(const Cfs__MdsReplicas *r, const char *leader)
{
	json_t *mds = json_object(), *reps = json_array();

	json_object_set_new(mds, "leader", json_string(leader));
	for (size_t i = 0; r && i < r->n_members; i++) {
		const Cfs__MdsReplica *x = r->members[i];

		json_array_append_new(reps, json_pack(
			"{s:I, s:s, s:s, s:b, s:I, s:I}", "id",
			(json_int_t)x->id, "address", x->address, "role",
			x->leader ? "leader" : "follower", "up", x->up, "match",
			(json_int_t)x->match, "lag",
			(json_int_t)lag_of(r, x)));
	}
	if (r) {
		json_object_set_new(mds, "term", json_integer((json_int_t)r->term));
		json_object_set_new(mds, "commit",
				    json_integer((json_int_t)r->commit));
	}
	json_object_set_new(mds, "replicas", reps);
	return mds;
}

/* The replicas of each metadata shard (shards[0]: shard 0's, as r). */
struct shard_status {
	size_t n;
	const Cfs__MdsReplicas *r[64];
	struct cfs_rpc_call c[64];
};

static void shards_of(const Cfs__ClusterMap *m, struct cfs_rpc_client *rpc,
		      struct shard_status *ss)
{
	ss->n = m->n_shards < 64 ? m->n_shards : 64;
	for (size_t s = 1; s < ss->n; s++)
		ss->r[s] = replicas_of(m->shards[s], rpc, &ss->c[s]);
}

static int shards_silent(const struct shard_status *ss)
{
	int n = 0;

	for (size_t s = 1; s < ss->n; s++)
		n += ss->r[s] ? replicas_silent(ss->r[s]) : 1;
	return n;
}

/* cfs status --json: the same as one object ("shards": every shard's
 * replicas, shard 0's being "mds"). */
static void status_json(const Cfs__ClusterMap *m, const Cfs__MdsReplicas *r,
			const struct shard_status *ss, const struct health *h)
{
	json_t *o = json_object(), *osds = json_array(), *shards = json_array();
	char *text;

	json_object_set_new(o, "cluster", json_string(m->cluster_id));
	json_object_set_new(o, "epoch", json_integer((json_int_t)m->epoch));
	json_object_set_new(o, "mds", replicas_json(r, m->n_mds ? m->mds[0] : ""));
	for (size_t s = 0; s < ss->n; s++) {
		json_t *g = s ? replicas_json(ss->r[s], leader_of(ss->r[s])) :
				replicas_json(r, m->n_mds ? m->mds[0] : "");

		json_object_set_new(g, "shard", json_integer((json_int_t)s));
		json_object_set_new(g, "group", json_string(m->shards[s]));
		json_array_append_new(shards, g);
	}
	json_object_set_new(o, "shards", shards);
	for (size_t i = 0; i < m->n_osds; i++) {
		const Cfs__OsdInfo *x = m->osds[i];

		json_array_append_new(osds, json_pack(
			"{s:i, s:s, s:s, s:s, s:b, s:I, s:I}", "id", (int)x->id,
			"address", x->addr, "node", x->node, "state",
			state_name(x), "in", x->in, "capacity",
			(json_int_t)x->capacity, "used", (json_int_t)x->used));
	}
	json_object_set_new(o, "osds", osds);
	json_object_set_new(o, "healthy",
			    json_boolean(healthy(h) && !replicas_silent(r) &&
					 !shards_silent(ss)));
	text = json_dumps(o, JSON_INDENT(2));
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(o);
}

static int cmd_status(const char *mds, bool json)
{
	struct cfs_map_holder maps;
	struct cfs_rpc_client *rpc;
	struct cfs_map *m = map_of(mds, &maps, &rpc);
	const Cfs__MdsReplicas *r;
	struct cfs_rpc_call rc;
	struct shard_status *ss = calloc(1, sizeof(*ss));
	struct health h;

	if (!m || !ss) {
		free(ss);
		return 1;
	}
	r = replicas_of(mds, rpc, &rc);
	shards_of(m->pb, rpc, ss);
	health_of(m->pb, &h);
	if (json) {
		status_json(m->pb, r, ss, &h);
		goto out;
	}
	printf("cluster %s  epoch %lu  pgs %u  replicas %u\n",
	       m->pb->cluster_id, (unsigned long)m->pb->epoch,
	       m->pb->pg_count, m->pb->replicas);
	printf("mds %s\n", m->pb->n_mds ? m->pb->mds[0] : "?");
	print_replicas(r);
	for (size_t s = 1; s < ss->n; s++) {
		printf("shard %zu: mds %s\n", s,
		       ss->r[s] ? leader_of(ss->r[s]) : "(no leader answers)");
		print_replicas(ss->r[s]);
	}
	if (m->pb->n_revoked) {
		printf("revoked tokens:");
		for (size_t i = 0; i < m->pb->n_revoked; i++)
			printf(" %s", m->pb->revoked[i]);
		printf("\n");
	}
	printf("%-5s %-22s %-10s %-10s %-4s %10s %10s %9s %10s\n", "OSD",
	       "ADDRESS", "NODE", "STATE", "IN", "CAPACITY", "USED", "SHORT",
	       "HEALED");
	for (size_t i = 0; i < m->pb->n_osds; i++) {
		const Cfs__OsdInfo *o = m->pb->osds[i];
		const Cfs__HealState *s = o->heal;

		printf("%-5u %-22s %-10s %-10s %-4s %9.2fG %9.2fG %9lu %9.1fM"
		       "%s\n", o->id, o->addr, o->node, state_name(o),
		       o->in ? "in" : "out", o->capacity / 1e9, o->used / 1e9,
		       s ? (unsigned long)s->degraded : 0ul,
		       s ? s->copied_bytes / 1048576.0 : 0.0,
		       s && s->running ? " healing" : "");
	}
	printf("%d of %zu OSDs up, %d in placement\n", h.up, m->pb->n_osds,
	       h.in);
	print_health(&h, replicas_silent(r) + shards_silent(ss));
out:
	for (size_t s = 1; s < ss->n; s++)
		cfs_rpc_call_done(&ss->c[s]);
	free(ss);
	cfs_rpc_call_done(&rc);
	map_done(m, &maps, rpc);
	return 0;
}

/* cfs mds add|remove ADDRESS [MDS] */
static int cmd_mds(int argc, char **argv)
{
	const char *mds = argc == 4 ? argv[3] : getenv("CFS_MDS");
	Cfs__MdsReplicaChange req = CFS__MDS_REPLICA_CHANGE__INIT;
	int rc;

	if (argc < 3 || argc > 4 ||
	    (strcmp(argv[1], "add") && strcmp(argv[1], "remove")))
		return 2;
	if (!mds || !*mds) {
		fprintf(stderr, "cfs: mds: which MDS? (its replicas' addresses "
				"after the one to %s, or $CFS_MDS)\n", argv[1]);
		return 2;
	}
	req.add = !strcmp(argv[1], "add");
	req.address = argv[2];
	/* an added replica catches up first: up to a minute */
	rc = mds_call(mds, CFS__MDS_METHOD__MDS_REPLICA_CHANGE, &req.base,
		      20000);
	if (rc == -EACCES)
		fprintf(stderr, "cfs: mds %s: the MDS at %s wants an admin "
				"token (--token FILE or $CFS_TOKEN)\n",
			argv[1], mds);
	else if (rc == -EEXIST)
		fprintf(stderr, "cfs: mds add: %s is a replica already\n",
			argv[2]);
	else if (rc == -ENOENT)
		fprintf(stderr, "cfs: mds remove: %s is not a replica\n",
			argv[2]);
	else if (rc == -EBUSY)
		fprintf(stderr, "cfs: mds %s: refused: another change is under "
				"way, or %s leads (stop it first: another "
				"replica takes over)\n", argv[1], argv[2]);
	else if (rc == -EHOSTUNREACH)
		fprintf(stderr, "cfs: mds add: %s did not catch up with the "
				"replicas: is it running, with --join true and "
				"--peers?\n", argv[2]);
	else if (rc == -EINVAL)
		fprintf(stderr, "cfs: mds %s: the MDS at %s has no replicas "
				"(or %s is not an address)\n", argv[1], mds,
			argv[2]);
	else if (rc)
		fprintf(stderr, "cfs: mds %s: the MDS at %s: %s\n", argv[1],
			mds, strerror(-rc));
	if (rc)
		return 1;
	printf("mds %s: %s: %s\n", argv[1], argv[2],
	       req.add ? "a replica now (it has caught up)" :
			 "no longer a replica (it stops)");
	return 0;
}

/* cfs osd out|in|rm ID [MDS] */
static int cmd_osd(int argc, char **argv)
{
	static const char *const ops[] = { "", "out", "in", "rm" };
	const char *mds = argc == 4 ? argv[3] : getenv("CFS_MDS");
	Cfs__MdsOsdAdmin req = CFS__MDS_OSD_ADMIN__INIT;
	char *end;
	int rc;

	if (argc < 3 || argc > 4)
		return 2;
	for (int i = 1; i < 4; i++)
		if (!strcmp(argv[1], ops[i]))
			req.op = (Cfs__OsdAdminOp)i;
	req.id = (uint32_t)strtoul(argv[2], &end, 10);
	if (!req.op || *end || !req.id)
		return 2;
	if (!mds || !*mds) {
		fprintf(stderr, "cfs: osd: which MDS? (an address after the "
				"id, or $CFS_MDS)\n");
		return 2;
	}
	rc = mds_call(mds, CFS__MDS_METHOD__MDS_OSD_ADMIN, &req.base, 0);
	if (rc == -EACCES)
		fprintf(stderr, "cfs: osd %s: the MDS at %s wants an admin "
				"token (--token FILE or $CFS_TOKEN)\n",
			argv[1], mds);
	else if (rc == -EBUSY)
		fprintf(stderr, "cfs: osd %s: refused: too few failure "
				"domains would be left to hold every copy or "
				"shard (see the MDS log); add an OSD first\n",
			argv[1]);
	else if (rc == -ENOENT)
		fprintf(stderr, "cfs: osd %s: the cluster has no OSD %s\n",
			argv[1], argv[2]);
	else if (rc)
		fprintf(stderr, "cfs: osd %s: the MDS at %s: %s\n", argv[1],
			mds, strerror(-rc));
	if (rc)
		return 1;
	printf("osd %u %s: %s\n", req.id,
	       req.op == CFS__OSD_ADMIN_OP__OSD_ADMIN_OUT ? "out" :
	       req.op == CFS__OSD_ADMIN_OP__OSD_ADMIN_IN ? "in" : "removed",
	       req.op == CFS__OSD_ADMIN_OP__OSD_ADMIN_IN ?
		       "it recovers, then takes its share back" :
		       "its data is rebuilt on the others (cfs status shows "
		       "the progress)");
	return 0;
}

static int cmd_locate(const char *mds, const char *ino_s, const char *idx_s)
{
	struct cfs_map_holder maps;
	struct cfs_rpc_client *rpc;
	struct cfs_map *m = map_of(mds, &maps, &rpc);
	uint64_t ino = strtoull(ino_s, NULL, 0);
	uint64_t idx = idx_s ? strtoull(idx_s, NULL, 0) : 0;
	int t[CFS_MAX_TARGETS], n, primary;

	if (!m)
		return 1;
	n = cfs_placement_chunk(m->pb, 0, ino, idx, t);
	primary = cfs_placement_primary(m->pb, 0, ino, idx);
	printf("chunk %lu.%lu pg %u:", (unsigned long)ino, (unsigned long)idx,
	       cfs_placement_pg(ino, idx, m->pb->pg_count));
	for (int i = 0; i < n; i++)
		printf(" %s%s", m->pb->osds[t[i]]->node,
		       t[i] == primary ? "(primary)" : "");
	printf("\n");
	map_done(m, &maps, rpc);
	return 0;
}

static int cmd_df(const char *mds)
{
	struct cfs_client_opts o = { .mds = mds, .connect_timeout_ms = 3000 };
	struct cfs_client *cl;
	struct statvfs sv;
	int rc = cfs_client_new(&cl, &o);

	if (!rc)
		rc = cfs_statfs(cl, &sv);
	if (rc == -EACCES || rc == -EPROTO)
		fprintf(stderr, "cfs: the MDS at %s did not accept this "
				"command's token (--token FILE or $CFS_TOKEN: "
				"an admin or client token)\n", mds);
	else if (rc)
		fprintf(stderr, "cfs: cannot reach the MDS at %s: %s\n", mds,
			strerror(-rc));
	if (rc) {
		cfs_client_free(cl);
		return 1;
	}
	printf("%-14s %14s %14s %14s %6s\n", "Filesystem", "Size", "Used",
	       "Avail", "Use%");
	printf("%-14s %13.1fG %13.1fG %13.1fG %5.0f%%\n", "claudefs",
	       sv.f_blocks * 4096.0 / 1e9,
	       (sv.f_blocks - sv.f_bfree) * 4096.0 / 1e9,
	       sv.f_bavail * 4096.0 / 1e9,
	       sv.f_blocks ? 100.0 * (sv.f_blocks - sv.f_bfree) / sv.f_blocks :
			     0);
	cfs_client_free(cl);
	return 0;
}

static void print_problem(void *arg, const char *msg)
{
	(void)arg;
	printf("problem: %s\n", msg);
}

/* cfs fsck DIR...: one store of each shard, checked as one namespace. */
static int cmd_fsck(int n, char **dirs)
{
	struct cfs_fsck_report rep;
	struct cfs_ns *ns = calloc((size_t)n, sizeof(*ns));
	struct cfs_ns **nsp = calloc((size_t)n, sizeof(*nsp));
	MDB_txn **txn = calloc((size_t)n, sizeof(*txn));
	int rc = ns && nsp && txn ? 0 : -ENOMEM, opened = 0;

	for (; !rc && opened < n; opened++) {
		rc = cfs_ns_open_readonly(&ns[opened], dirs[opened]);
		if (rc) {
			fprintf(stderr, "cfs: cannot open the metadata store "
					"in %s: %s\n", dirs[opened],
				strerror(-rc));
			break;
		}
		nsp[opened] = &ns[opened];
		rc = cfs_ns_begin(&ns[opened], NULL, false, &txn[opened]);
	}
	if (!rc)
		rc = cfs_ns_fsck(nsp, txn, (size_t)n, &rep, print_problem, NULL);
	for (int i = 0; i < opened; i++) {
		cfs_ns_abort(txn[i]);
		cfs_ns_close(&ns[i]);
	}
	free(ns);
	free(nsp);
	free(txn);
	if (rc) {
		fprintf(stderr, "cfs: fsck failed: %s\n", strerror(-rc));
		return 2;
	}
	printf("fsck: %lu inodes, %lu entries, %lu open orphans, %lu problems\n",
	       (unsigned long)rep.inodes, (unsigned long)rep.entries,
	       (unsigned long)rep.orphans, (unsigned long)rep.problems);
	if (rep.pending)
		printf("fsck: %lu records of transactions between shards under "
		       "way: a problem they explain goes once they end\n",
		       (unsigned long)rep.pending);
	return rep.problems ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *token = getenv("CFS_TOKEN");
	char why[200];
	int rc = 2;

	cfs_log_init("cfs", CFS_LOG_ERROR);
	if (argc >= 3 && !strcmp(argv[1], "--token")) {
		token = argv[2];
		argv[2] = argv[0];
		argc -= 2;
		argv += 2;
	}
	if (token && *token && cfs_join(token, false, why, sizeof(why))) {
		fprintf(stderr, "cfs: %s\n", why);
		return 2;
	}
	if (argc == 3 && !strcmp(argv[1], "status"))
		return cmd_status(argv[2], false);
	if (argc == 4 && !strcmp(argv[1], "status") &&
	    !strcmp(argv[2], "--json"))
		return cmd_status(argv[3], true);
	if (argc == 3 && !strcmp(argv[1], "df"))
		return cmd_df(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "fsck"))
		return cmd_fsck(argc - 2, argv + 2);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "locate"))
		return cmd_locate(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc >= 2 && !strcmp(argv[1], "layout"))
		rc = cmd_layout(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "osd"))
		rc = cmd_osd(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "mds"))
		rc = cmd_mds(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "init"))
		rc = cmd_init(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "token"))
		rc = cmd_token(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "secret"))
		rc = cmd_secret(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "cache"))
		rc = cmd_cache(argc - 1, argv + 1);
	else if (argc >= 2 && !strcmp(argv[1], "tier"))
		rc = cmd_tier(argc - 1, argv + 1);
	if (rc != 2)
		return rc;
	fprintf(stderr,
		"usage: cfs [--token FILE] COMMAND ... ($CFS_TOKEN: the same)\n"
		"       cfs status [--json] MDS_ADDRESS\n"
		"       cfs df MDS_ADDRESS\n"
		"       cfs locate MDS_ADDRESS INO [INDEX]\n"
		"       cfs fsck MDS_DATA_DIR...\n"
		"       cfs osd out|in|rm ID [MDS_ADDRESS]  ($CFS_MDS: the "
		"same)\n"
		"       cfs mds add|remove REPLICA_ADDRESS [MDS_ADDRESS]\n"
		"       cfs layout set PATH SPEC    (rep:N, ec:K+M, ec:K+M/UNIT, "
		"default)\n"
		"       cfs layout get PATH [MDS_ADDRESS]   ($CFS_MDS: the "
		"same)\n"
		"       cfs cache status|drop PATH | cfs cache warm PATH...\n"
		"       cfs cache passthrough on|off PATH\n"
		"       cfs tier status|flush [--timeout S] [MDS_ADDRESS]\n"
		"       cfs tier where PATH [MDS_ADDRESS]\n"
		"       cfs tier evict PATH...  ($CFS_MDS: the MDS)\n"
		"       cfs init --dir DIR [--mds ADDR[,ADDR...]]\n"
		"       cfs token create --dir DIR --role ROLE [--ro] [--squash]\n"
		"                        [--subtree PATH] [--ttl DURATION] "
		"[--mds ADDRS]\n"
		"       cfs token list --dir DIR\n"
		"       cfs token revoke --dir DIR ID\n"
		"       cfs secret rotate --dir DIR [--grace DURATION]\n"
		"  ROLE: mds, osd, client, tierd, repld, gateway, admin;\n"
		"  DURATION: a number with s, m, h or d\n");
	return 2;
}
