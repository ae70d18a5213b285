/* libcfs: connecting, the open-file table, and metadata calls to the MDS.
 * Data calls to the OSDs are in data.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfs/log.h"
#include "cfs/token.h"
#include "client_priv.h"
#include "mds.pb-c.h"

static void send_atimes(struct cfs_client *cl);
static int plain_call(struct cfs_client *cl, uint32_t method,
		      const ProtobufCMessage *req);
static void opened(struct cfs_client *cl, const struct cfs_attr *a,
		   bool write);
static void mds_call_init(struct cfs_client *cl, uint32_t method,
			  const ProtobufCMessage *req,
			  const ProtobufCMessageDescriptor *rep_desc,
			  struct cfs_rpc_call *c);

/* An MDS that took over since this client last told one (a new leader,
 * a restart) is told the files it has open, so that a file unlinked
 * while open here outlives the failover: 0 once it knows. */
static int reopen(struct cfs_client *cl, unsigned shard, unsigned nshards,
		  const char *group)
{
	Cfs__MdsReopen r = CFS__MDS_REOPEN__INIT;
	Cfs__MdsOpened *each = NULL, **ptrs = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	pthread_rwlock_wrlock(&cl->openlock);
	pthread_mutex_lock(&cl->ilock);
	for (size_t b = 0; b < INODE_BUCKETS && rc == 0; b++)
		for (struct open_inode *o = cl->inodes[b]; o; o = o->next) {
			if (!o->opens ||
			    (nshards > 1 && cfs_ino_shard(o->ino) != shard))
				continue;
			if (n == cap) {
				size_t c2 = cap ? cap * 2 : 64;
				void *e = realloc(each, c2 * sizeof(*each));

				if (!e) {
					rc = -ENOMEM;
					break;
				}
				each = e;
				cap = c2;
			}
			cfs__mds_opened__init(&each[n]);
			each[n].ino = o->ino;
			each[n].count = o->opens;
			each[n].writes = o->writes;
			n++;
		}
	pthread_mutex_unlock(&cl->ilock);
	if (rc == 0 && n && (ptrs = malloc(n * sizeof(*ptrs)))) {
		for (size_t i = 0; i < n; i++)
			ptrs[i] = &each[i];
		r.opened = ptrs;
		r.n_opened = n;
		struct cfs_rpc_call c;

		mds_call_init(cl, CFS__MDS_METHOD__MDS_REOPEN, &r.base, NULL,
			      &c);
		rc = cfs_rpc_call(cl->rpc, group, &c);
		cfs_rpc_call_done(&c);
	}
	pthread_rwlock_unlock(&cl->openlock);
	if (n && !ptrs)
		rc = -ENOMEM;
	if (n)
		cfs_log_info("told the MDS this client's open files",
			     "files=%zu shard=%u rc=%d", n, shard, rc);
	free(ptrs);
	free(each);
	return rc;
}

/* Once a second: tells the MDS this client is alive, so that its opens
 * and locks outlive short outages but not the client itself (and an
 * MDS that took over learns the opens), and sends the atimes of reads. */
static void *keepalive_main(void *p)
{
	struct cfs_client *cl = p;

	while (!cl->stop) {
		unsigned n = client_shards(cl);

		for (unsigned s = 0; s < n && s < CFS_CLIENT_SHARDS_MAX; s++) {
			Cfs__MdsEmpty r = CFS__MDS_EMPTY__INIT;
			struct cfs_rpc_call c = {
				.method = CFS__MDS_METHOD__MDS_KEEPALIVE,
				.req = &r.base,
				.rep_desc = &cfs__mds_keepalive_reply__descriptor,
				.timeout_ms = 1000,
			};
			char group[CFS_RPC_GROUP_MAX];

			client_shard_group(cl, s, group, sizeof(group));
			if (cfs_rpc_call(cl->rpc, group, &c) == 0 && c.rep) {
				uint64_t inc = ((Cfs__MdsKeepaliveReply *)c.rep)
						       ->incarnation;

				if (inc != cl->told_incarnation[s] &&
				    reopen(cl, s, n, group) == 0)
					cl->told_incarnation[s] = inc;
			}
			cfs_rpc_call_done(&c);
		}
		send_atimes(cl);
		for (int i = 0; i < 10 && !cl->stop; i++) {
			client_wb_idle(cl);
			usleep(100 * 1000);
		}
	}
	return NULL;
}

static struct cfs_rpc_identity *joined;	/* the process's, for good */

const struct cfs_token *cfs_joined(void)
{
	return joined ? cfs_rpc_identity_token(joined) : NULL;
}

int cfs_join(const char *token, bool insecure, char *why, size_t whylen)
{
	struct cfs_rpc_identity *id;
	const unsigned roles = 1u << CFS_ROLE_CLIENT | 1u << CFS_ROLE_ADMIN |
			       1u << CFS_ROLE_GATEWAY | 1u << CFS_ROLE_TIERD;
	int rc;

	if (!token) {
		if (insecure)
			return 0;
		snprintf(why, whylen, "a join token is needed (cfs token "
				      "create --role client makes one)");
		return -EINVAL;
	}
	if (joined)
		return -EALREADY;
	rc = cfs_rpc_identity_load(token, true, 0, &id, why, whylen);
	if (rc) {
		char inner[200];

		snprintf(inner, sizeof(inner), "%s", why);
		snprintf(why, whylen, "token %s: %s", token, inner);
		return rc;
	}
	if (!(roles & 1u << cfs_rpc_identity_token(id)->role)) {
		snprintf(why, whylen, "%s is a token of role %s: a client "
				      "joins with a client, admin, gateway or "
				      "tierd token", token,
			 cfs_role_name(cfs_rpc_identity_token(id)->role));
		cfs_rpc_identity_free(id);
		return -EINVAL;
	}
	joined = id;
	cfs_rpc_set_identity(id);
	return 0;
}

int cfs_client_new(struct cfs_client **out, const struct cfs_client_opts *o)
{
	struct cfs_client *cl = calloc(1, sizeof(*cl));
	int64_t deadline;
	int rc;

	if (!cl)
		return -ENOMEM;
	cl->o = *o;
	if (!cl->o.connect_timeout_ms)
		cl->o.connect_timeout_ms = 10000;
	if (!cl->o.mds_timeout_ms)
		cl->o.mds_timeout_ms = 5000;
	if (!cl->o.mds_wait_ms)
		cl->o.mds_wait_ms = 60000;
	if (!cl->o.osd_timeout_ms)
		cl->o.osd_timeout_ms = 2000;
	if (!cl->o.io_deadline_ms)
		cl->o.io_deadline_ms = 30000;
	snprintf(cl->mds, sizeof(cl->mds), "%s", o->mds);
	cl->o.mds = cl->mds;
	pthread_rwlock_init(&cl->openlock, NULL);
	pthread_mutex_init(&cl->ilock, NULL);
	for (int i = 0; i < ORDER_LOCKS; i++)
		pthread_mutex_init(&cl->order[i], NULL);
	client_caps_init(cl);
	cl->stamps = calloc(CACHE_STAMPS, sizeof(*cl->stamps));
	if (!cl->stamps || !cl->caps) {
		client_caps_free(cl);
		free(cl->stamps);
		free(cl);
		return -ENOMEM;
	}
	cfs_map_holder_init(&cl->maps);
	rc = cfs_rpc_client_new(&cl->rpc);
	if (rc)
		goto fail;
	deadline = cfs_mono_ms() + cl->o.connect_timeout_ms;
	do {
		int left = (int)(deadline - cfs_mono_ms());

		rc = cfs_map_fetch(&cl->maps, cl->rpc, cl->mds,
				   left < 1000 ? (left > 0 ? left : 1) : 1000);
		if (rc == -EACCES)
			break;	/* refused, not down: asking again won't help */
		if (rc && cfs_mono_ms() < deadline)
			usleep(100 * 1000);
	} while (rc && cfs_mono_ms() < deadline);
	if (rc)
		goto fail;
	rc = cfs_map_follow(&cl->maps, cl->rpc, cl->mds);
	if (rc)
		goto fail;
	rc = client_wb_start(cl, o->writeback_mb < 0 ? 0 :
			     (size_t)(o->writeback_mb ? o->writeback_mb : 64)
				     << 20);
	cl->wb_started = true;
	if (rc)
		goto fail;
	rc = dc_start(cl, o->dir_lease_ms);
	if (rc)
		goto fail;
	if (o->cache_dir) {
		rc = client_cache_open(cl, o->cache_dir, o->cache_bytes);
		if (rc)
			cfs_log_warn("no data cache: cannot take its directory",
				     "dir=%s rc=%d%s", o->cache_dir, rc,
				     rc == -EBUSY ? " (another mount uses "
						    "it)" : "");
		rc = 0;
	}
	if (pthread_create(&cl->keepalive, NULL, keepalive_main, cl)) {
		rc = -EAGAIN;
		goto fail;
	}
	cl->keepalive_running = true;
	*out = cl;
	return 0;
fail:
	cfs_client_free(cl);
	return rc;
}

void cfs_client_free(struct cfs_client *cl)
{
	if (!cl)
		return;
	cl->stop = true;
	cfs_feed_stop(cl);
	if (cl->keepalive_running)
		pthread_join(cl->keepalive, NULL);
	if (cl->wb_started)
		client_wb_stop(cl);
	if (cl->rpc)
		send_atimes(cl);
	client_cache_close(cl);
	free(cl->stamps);
	dc_stop(cl);
	cfs_map_holder_destroy(&cl->maps);
	cfs_rpc_client_free(cl->rpc);
	for (int i = 0; i < INODE_BUCKETS; i++) {
		while (cl->inodes[i]) {
			struct open_inode *n = cl->inodes[i]->next;

			free(cl->inodes[i]->pf);
			free(cl->inodes[i]->wb_flight);
			free(cl->inodes[i]);
			cl->inodes[i] = n;
		}
	}
	pthread_mutex_destroy(&cl->ilock);
	pthread_rwlock_destroy(&cl->openlock);
	for (int i = 0; i < ORDER_LOCKS; i++)
		pthread_mutex_destroy(&cl->order[i]);
	client_caps_free(cl);
	free(cl);
}

uint64_t cfs_client_epoch(struct cfs_client *cl)
{
	return cfs_map_epoch(&cl->maps);
}

void client_refresh_map(struct cfs_client *cl)
{
	cfs_map_fetch(&cl->maps, cl->rpc, cl->mds, cl->o.mds_timeout_ms);
}

struct open_inode *client_inode(struct cfs_client *cl, uint64_t ino,
				bool create)
{
	struct open_inode **pp = &cl->inodes[cfs_hash64(ino) % INODE_BUCKETS];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	if (!*pp && create) {
		*pp = calloc(1, sizeof(**pp));
		if (*pp)
			(*pp)->ino = ino;
	}
	return *pp;
}

void client_drop_prefetch(struct cfs_client *cl, struct open_inode *o)
{
	cl->pf_bytes -= o->pf_len;
	free(o->pf);
	o->pf = NULL;
	o->pf_len = 0;
}

static void drop_inode(struct cfs_client *cl, uint64_t ino)
{
	struct open_inode **pp = &cl->inodes[cfs_hash64(ino) % INODE_BUCKETS];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	if (*pp) {
		struct open_inode *o = *pp;

		*pp = o->next;
		client_drop_prefetch(cl, o);
		free(o->wb_flight);
		free(o);
	}
}

void cfs_attr_to_stat(const struct cfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_rdev = a->rdev;
	st->st_blksize = 1 << 20;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_atim.tv_sec = a->atime_ns / 1000000000;
	st->st_atim.tv_nsec = a->atime_ns % 1000000000;
	st->st_mtim.tv_sec = a->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = a->mtime_ns % 1000000000;
	st->st_ctim.tv_sec = a->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = a->ctime_ns % 1000000000;
}

static void attr_from(const Cfs__Attr *p, struct cfs_attr *a)
{
	memset(a, 0, sizeof(*a));
	if (!p)
		return;
	a->ino = p->ino;
	a->mode = p->mode;
	a->nlink = p->nlink;
	a->uid = p->uid;
	a->gid = p->gid;
	a->size = p->size;
	a->rdev = p->rdev;
	a->generation = p->generation;
	a->blocks = p->blocks;
	a->layout = p->layout;
	a->atime_ns = p->atime_ns;
	a->mtime_ns = p->mtime_ns;
	a->ctime_ns = p->ctime_ns;
}

/* Our change of ino's size or mtime has reached the MDS (merge_local). */
static void settled_locked(struct cfs_client *cl, uint64_t ino)
{
	struct open_inode *o = client_inode(cl, ino, false);

	if (o)
		o->settled_ns = cfs_mono_ns();
}

static void settled(struct cfs_client *cl, uint64_t ino)
{
	pthread_mutex_lock(&cl->ilock);
	settled_locked(cl, ino);
	pthread_mutex_unlock(&cl->ilock);
}

/* Merge what this client knows better than the MDS's answer a, to a
 * request sent at asked_ns: what it wrote but has not yet told the MDS,
 * and what it told the MDS after the request left (a reply to an older
 * request, arriving late, must not take a size back: an fsync racing a
 * getattr made a file 8 KiB shorter in the exerciser). */
static void merge_local(struct cfs_client *cl, struct cfs_attr *a,
			int64_t asked_ns)
{
	struct open_inode *o;

	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, a->ino, false);
	if (o) {
		if (asked_ns < o->settled_ns) {
			a->size = o->size;	/* the answer predates ours */
			if (o->mtime_ns > a->mtime_ns)
				a->mtime_ns = a->ctime_ns = o->mtime_ns;
			a->blocks = (a->size + 511) / 512;
		} else if (o->dirty) {
			if (o->size > a->size)
				a->size = o->size;
			if (o->mtime_ns > a->mtime_ns)
				a->mtime_ns = a->ctime_ns = o->mtime_ns;
			a->blocks = (a->size + 511) / 512;
		}
		o->size = a->size;
		if (o->atime_ns > a->atime_ns)
			a->atime_ns = o->atime_ns;
	}
	pthread_mutex_unlock(&cl->ilock);
}

void client_cred_to(const struct cfs_cred *cr, Cfs__Cred *c)
{
	cfs__cred__init(c);
	c->uid = cr->uid;
	c->gid = cr->gid;
	c->n_groups = cr->ngroups;
	c->groups = (uint32_t *)cr->groups;
	c->umask = cr->umask;
}

/* ---- metadata shards ---- */

unsigned client_shards(struct cfs_client *cl)
{
	struct cfs_map *m = cfs_map_get(&cl->maps);
	unsigned n = m && m->pb->n_shards > 1 ? (unsigned)m->pb->n_shards : 1;

	if (m)
		cfs_map_put(&cl->maps, m);
	return n;
}

void client_shard_group(struct cfs_client *cl, unsigned shard, char *buf,
			size_t len)
{
	struct cfs_map *m = shard ? cfs_map_get(&cl->maps) : NULL;

	if (m && shard < m->pb->n_shards)
		snprintf(buf, len, "%s", m->pb->shards[shard]);
	else
		snprintf(buf, len, "%s", cl->mds);
	if (m)
		cfs_map_put(&cl->maps, m);
}

/* The shard a request goes to: the shard of the inode it names first
 * (field 2 of every inode request: the inode, or a name's directory; a
 * new directory's parent's shard places it), for a link the new name's
 * directory's; the rest (the map) shard 0's. */
static unsigned route(struct cfs_client *cl, uint32_t method,
		      const ProtobufCMessage *req)
{
	const ProtobufCFieldDescriptor *f;
	unsigned n = client_shards(cl);
	uint64_t ino;

	if (n == 1 || !req)
		return 0;
	f = protobuf_c_message_descriptor_get_field(
		req->descriptor,
		method == CFS__MDS_METHOD__MDS_LINK ? 3 : 2);
	if (!f || f->type != PROTOBUF_C_TYPE_UINT64)
		return 0;
	memcpy(&ino, (const char *)req + f->offset, sizeof(ino));
	return cfs_ino_shard(ino) < n ? cfs_ino_shard(ino) : 0u;
}

static void mds_call_init(struct cfs_client *cl, uint32_t method,
			  const ProtobufCMessage *req,
			  const ProtobufCMessageDescriptor *rep_desc,
			  struct cfs_rpc_call *c)
{
	*c = (struct cfs_rpc_call){
		.method = method,
		.req = req,
		.rep_desc = rep_desc,
		.timeout_ms = cl->o.mds_timeout_ms,
		.attempts = 3,
	};
}

/* A metadata call waits out an MDS that does not answer (a group with no
 * leader, a lone MDS down): asked again, with the same request id, until
 * one serves it, the client stops, or mds_wait_ms has passed (-1: never,
 * as a hard NFS mount). A FUSE request the daemon has taken cannot be
 * aborted by a signal, so its caller cannot be killed meanwhile: hence a
 * bound by default. A warning every 30 s says so. */
#define MDS_WAIT_WARN_MS 30000

int client_mds_call(struct cfs_client *cl, uint32_t method,
		    const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *rep_desc,
		    struct cfs_rpc_call *c)
{
	int64_t start = cfs_mono_ms(), warned = start, asked;
	char group[CFS_RPC_GROUP_MAX];
	uint64_t id = 0;
	int rc;

	for (;;) {
		mds_call_init(cl, method, req, rep_desc, c);
		c->request_id = id;
		asked = cfs_mono_ms();
		client_shard_group(cl, route(cl, method, req), group,
				   sizeof(group));
		rc = cfs_rpc_call(cl->rpc, group, c);
		if (!cfs_rpc_unserved(c, rc) || cl->stop ||
		    (cl->o.mds_wait_ms >= 0 &&
		     cfs_mono_ms() - start >= cl->o.mds_wait_ms))
			return rc;
		id = c->request_id;
		cfs_rpc_call_done(c);
		if (cfs_mono_ms() - warned >= MDS_WAIT_WARN_MS) {
			warned = cfs_mono_ms();
			cfs_log_warn("no MDS serves; metadata calls wait",
				     "mds=%s waited_s=%ld rc=%d", cl->mds,
				     (long)((warned - start) / 1000), rc);
		}
		if (cfs_mono_ms() - asked < 1000)	/* refused at once */
			usleep(200 * 1000);
	}
}

/* The attributes of an MdsEntry reply to a request sent at asked (rc:
 * the call's result). */
static int entry_reply(struct cfs_client *cl, int rc, struct cfs_rpc_call *c,
		       int64_t asked, struct cfs_attr *out)
{
	if (rc == 0 && (!c->rep || !((Cfs__MdsEntry *)c->rep)->attr))
		rc = -EBADMSG;
	if (rc == 0)
		client_caps_take(cl, ((Cfs__MdsEntry *)c->rep)->cap);
	if (rc == 0 && out) {
		attr_from(((Cfs__MdsEntry *)c->rep)->attr, out);
		merge_local(cl, out, asked);
	}
	cfs_rpc_call_done(c);
	return rc;
}

static int entry_call(struct cfs_client *cl, uint32_t method,
		      const ProtobufCMessage *req, struct cfs_attr *out)
{
	struct cfs_rpc_call c;
	int64_t asked = cfs_mono_ns();
	int rc = client_mds_call(cl, method, req, &cfs__mds_entry__descriptor,
				 &c);

	return entry_reply(cl, rc, &c, asked, out);
}

/* A call that adds or removes a name: out (NULL for a removal) gets the
 * inode's attributes, *dir those of the directory after the change (or
 * dir->ino 0 when the reply has none) and *cookie the added name's
 * readdir cookie (0: not said). */
static int name_change_call(struct cfs_client *cl, uint32_t method,
			    const ProtobufCMessage *req, struct cfs_attr *out,
			    struct cfs_attr *dir, uint64_t *cookie)
{
	struct cfs_rpc_call c;
	const Cfs__MdsEntry *e;
	int64_t asked = cfs_mono_ns();
	int rc = client_mds_call(cl, method, req, &cfs__mds_entry__descriptor,
				 &c);

	e = (const Cfs__MdsEntry *)c.rep;
	dir->ino = 0;
	*cookie = rc == 0 && e ? e->cookie : 0;
	if (rc == 0 && e && e->parent)
		attr_from(e->parent, dir);
	if (out)
		return entry_reply(cl, rc, &c, asked, out);
	cfs_rpc_call_done(&c);
	return rc;
}

static int plain_call(struct cfs_client *cl, uint32_t method,
		      const ProtobufCMessage *req)
{
	struct cfs_rpc_call c;
	int rc = client_mds_call(cl, method, req, NULL, &c);

	cfs_rpc_call_done(&c);
	return rc;
}

#define BYTES(p, n) ((ProtobufCBinaryData){ .len = (n), .data = (uint8_t *)(p) })
#define PREFETCH_TOTAL ((size_t)16 << 20)	/* prefetched bytes held */

int cfs_lookup(struct cfs_client *cl, const struct cfs_cred *cr,
	       uint64_t parent, const char *name, size_t len,
	       struct cfs_attr *out, int64_t *asof_ns)
{
	Cfs__MdsName r = CFS__MDS_NAME__INIT;
	Cfs__Cred c;
	int rc;

	if (len > CFS_NAME_MAX)
		return -ENAMETOOLONG;	/* not "missing" from a listing */
	rc = dc_answer(cl, parent, name, len, out, asof_ns);

	if (rc == DC_LIST) {
		dc_list(cl, cr, parent);
		rc = dc_answer(cl, parent, name, len, out, asof_ns);
	}
	if (rc == 0)
		merge_local(cl, out, *asof_ns);
	if (rc <= 0)
		return rc;
	client_cred_to(cr, &c);
	r.cred = &c;
	r.parent = parent;
	r.name = BYTES(name, len);
	*asof_ns = cfs_mono_ns();
	rc = entry_call(cl, CFS__MDS_METHOD__MDS_LOOKUP, &r.base, out);
	dc_learned(cl, parent, name, len, rc, out, *asof_ns);
	return rc;
}

int cfs_getattr(struct cfs_client *cl, uint64_t ino, struct cfs_attr *out,
		int64_t *asof_ns)
{
	Cfs__MdsIno r = CFS__MDS_INO__INIT;
	int64_t asked = cfs_mono_ns();
	int rc;

	if (asof_ns && dc_getattr(cl, ino, out, asof_ns) == 0) {
		merge_local(cl, out, *asof_ns);
		return 0;
	}
	r.ino = ino;
	rc = entry_call(cl, CFS__MDS_METHOD__MDS_GETATTR, &r.base, out);
	if (rc == 0)
		dc_got_attr(cl, out, asked);
	if (asof_ns)
		*asof_ns = asked;
	return rc;
}

static pthread_mutex_t *order_lock(struct cfs_client *cl, uint64_t ino)
{
	return &cl->order[cfs_hash64(ino) % ORDER_LOCKS];
}

int cfs_setattr(struct cfs_client *cl, const struct cfs_cred *cr,
		uint64_t ino, unsigned valid, const struct cfs_attr *in,
		bool through_handle, struct cfs_attr *out)
{
	Cfs__MdsSetattr r = CFS__MDS_SETATTR__INIT;
	struct open_inode *o;
	struct cfs_attr cur;
	int64_t begun;
	Cfs__Cred c;
	int rc;

	client_cred_to(cr, &c);
	r.cred = &c;
	r.ino = ino;
	if (valid & CFS_ATTR_MODE)
		r.valid |= CFS__SETATTR_VALID__SETATTR_MODE;
	if (valid & CFS_ATTR_UID)
		r.valid |= CFS__SETATTR_VALID__SETATTR_UID;
	if (valid & CFS_ATTR_GID)
		r.valid |= CFS__SETATTR_VALID__SETATTR_GID;
	if (valid & CFS_ATTR_SIZE)
		r.valid |= CFS__SETATTR_VALID__SETATTR_SIZE;
	if (valid & CFS_ATTR_ATIME)
		r.valid |= CFS__SETATTR_VALID__SETATTR_ATIME;
	if (valid & CFS_ATTR_MTIME)
		r.valid |= CFS__SETATTR_VALID__SETATTR_MTIME;
	if (valid & CFS_ATTR_ATIME_NOW)
		r.valid |= CFS__SETATTR_VALID__SETATTR_ATIME_NOW;
	if (valid & CFS_ATTR_MTIME_NOW)
		r.valid |= CFS__SETATTR_VALID__SETATTR_MTIME_NOW;
	if (through_handle)
		r.valid |= 512;	/* CFS_SET_HANDLE: checked at open */
	r.mode = in->mode;
	r.uid = in->uid;
	r.gid = in->gid;
	r.size = in->size;
	r.atime_ns = in->atime_ns;
	r.mtime_ns = in->mtime_ns;
	if (valid & CFS_ATTR_SIZE) {
		/* our pending writes first, then cut the data, then the size:
		 * a crash in between never exposes old bytes past the end */
		rc = cfs_flush(cl, ino);
		if (!rc)
			rc = cfs_getattr(cl, ino, &cur, NULL);
		if (!rc && in->size < cur.size)
			rc = client_cap_ask(cl, ino, true, cr);
		if (!rc && in->size < cur.size)
			rc = client_truncate_data(cl, ino, in->size, cur.size);
		if (rc)
			return rc;
		client_cache_changed(cl, ino, CACHE_SIZE, in->size, NULL, 0);
	}
	if (valid & (CFS_ATTR_ATIME | CFS_ATTR_ATIME_NOW)) {
		/* an atime set now supersedes a read's not yet sent */
		pthread_mutex_lock(&cl->ilock);
		o = client_inode(cl, ino, false);
		if (o)
			o->atime_ns = 0;
		pthread_mutex_unlock(&cl->ilock);
	}
	pthread_mutex_lock(order_lock(cl, ino));
	begun = dc_begin(cl, ino);
	rc = entry_call(cl, CFS__MDS_METHOD__MDS_SETATTR, &r.base, out);
	if (rc == 0 && (valid & CFS_ATTR_SIZE)) {
		pthread_mutex_lock(&cl->ilock);
		o = client_inode(cl, ino, false);
		if (o) {
			o->size = in->size;
			o->dirty = false;
			client_drop_prefetch(cl, o);
		}
		settled_locked(cl, ino);
		pthread_mutex_unlock(&cl->ilock);
		out->size = in->size;
	} else if (rc == 0 && (valid & (CFS_ATTR_MTIME | CFS_ATTR_MTIME_NOW))) {
		settled(cl, ino);
	}
	dc_end(cl, ino, begun, rc, out);
	pthread_mutex_unlock(order_lock(cl, ino));
	return rc;
}

static int make_node(struct cfs_client *cl, uint32_t method,
		     const struct cfs_cred *cr, uint64_t parent,
		     const char *name, size_t len, uint32_t mode, uint64_t rdev,
		     bool exclusive, bool open, struct cfs_attr *out)
{
	Cfs__MdsMknod r = CFS__MDS_MKNOD__INIT;
	struct cfs_attr dir;
	uint64_t cookie;
	int64_t begun;
	Cfs__Cred c;
	int rc;

	client_cred_to(cr, &c);
	r.cred = &c;
	r.parent = parent;
	r.name = BYTES(name, len);
	r.mode = mode;
	r.rdev = rdev;
	r.exclusive = exclusive;
	r.open = open;
	begun = dc_begin(cl, parent);
	if (open)
		pthread_rwlock_rdlock(&cl->openlock);
	rc = name_change_call(cl, method, &r.base, out, &dir, &cookie);
	if (open) {
		if (rc == 0)
			opened(cl, out, true);
		pthread_rwlock_unlock(&cl->openlock);
	}
	dc_added(cl, parent, name, len, rc, out, true, begun, &dir, cookie);
	return rc;
}

int cfs_mknod(struct cfs_client *cl, const struct cfs_cred *cr,
	      uint64_t parent, const char *name, size_t len, uint32_t mode,
	      uint64_t rdev, bool exclusive, bool open, struct cfs_attr *out)
{
	return make_node(cl, CFS__MDS_METHOD__MDS_MKNOD, cr, parent, name, len,
			 mode, rdev, exclusive, open, out);
}

int cfs_mkdir(struct cfs_client *cl, const struct cfs_cred *cr,
	      uint64_t parent, const char *name, size_t len, uint32_t mode,
	      struct cfs_attr *out)
{
	return make_node(cl, CFS__MDS_METHOD__MDS_MKDIR, cr, parent, name, len,
			 mode, 0, true, false, out);
}

int cfs_symlink(struct cfs_client *cl, const struct cfs_cred *cr,
		uint64_t parent, const char *name, size_t len,
		const char *target, struct cfs_attr *out)
{
	Cfs__MdsSymlink r = CFS__MDS_SYMLINK__INIT;
	struct cfs_attr dir;
	uint64_t cookie;
	int64_t begun;
	Cfs__Cred c;
	int rc;

	client_cred_to(cr, &c);
	r.cred = &c;
	r.parent = parent;
	r.name = BYTES(name, len);
	r.target = BYTES(target, strlen(target));
	begun = dc_begin(cl, parent);
	rc = name_change_call(cl, CFS__MDS_METHOD__MDS_SYMLINK, &r.base, out,
			      &dir, &cookie);
	dc_added(cl, parent, name, len, rc, out, true, begun, &dir, cookie);
	return rc;
}

int cfs_link(struct cfs_client *cl, const struct cfs_cred *cr, uint64_t ino,
	     uint64_t newparent, const char *name, size_t len,
	     struct cfs_attr *out)
{
	Cfs__MdsLink r = CFS__MDS_LINK__INIT;
	struct cfs_attr dir;
	uint64_t cookie;
	int64_t begun, dir_begun;
	Cfs__Cred c;
	int rc;

	client_cred_to(cr, &c);
	r.cred = &c;
	r.ino = ino;
	r.newparent = newparent;
	r.newname = BYTES(name, len);
	begun = dc_begin(cl, ino);
	dir_begun = dc_begin(cl, newparent);
	rc = name_change_call(cl, CFS__MDS_METHOD__MDS_LINK, &r.base, out,
			      &dir, &cookie);
	dc_end(cl, ino, begun, rc, out);
	dc_added(cl, newparent, name, len, rc, out, false, dir_begun, &dir,
		 cookie);
	return rc;
}

static int name_call(struct cfs_client *cl, uint32_t method,
		     const struct cfs_cred *cr, uint64_t parent,
		     const char *name, size_t len)
{
	Cfs__MdsName r = CFS__MDS_NAME__INIT;
	struct cfs_attr dir;
	uint64_t cookie;
	int64_t begun;
	Cfs__Cred c;
	int rc;

	client_cred_to(cr, &c);
	r.cred = &c;
	r.parent = parent;
	r.name = BYTES(name, len);
	begun = dc_begin(cl, parent);
	rc = name_change_call(cl, method, &r.base, NULL, &dir, &cookie);
	dc_removed(cl, parent, name, len, rc, begun, &dir);
	return rc;
}

int cfs_unlink(struct cfs_client *cl, const struct cfs_cred *cr,
	       uint64_t parent, const char *name, size_t len)
{
	return name_call(cl, CFS__MDS_METHOD__MDS_UNLINK, cr, parent, name, len);
}

int cfs_rmdir(struct cfs_client *cl, const struct cfs_cred *cr,
	      uint64_t parent, const char *name, size_t len)
{
	return name_call(cl, CFS__MDS_METHOD__MDS_RMDIR, cr, parent, name, len);
}

int cfs_rename(struct cfs_client *cl, const struct cfs_cred *cr,
	       uint64_t parent, const char *name, size_t len,
	       uint64_t newparent, const char *newname, size_t newlen,
	       unsigned flags)
{
	Cfs__MdsRename r = CFS__MDS_RENAME__INIT;
	Cfs__Cred c;
	int rc;

	client_cred_to(cr, &c);
	r.cred = &c;
	r.parent = parent;
	r.name = BYTES(name, len);
	r.newparent = newparent;
	r.newname = BYTES(newname, newlen);
	r.flags = flags;
	rc = plain_call(cl, CFS__MDS_METHOD__MDS_RENAME, &r.base);
	dc_renamed(cl, parent, name, len, newparent, newname, newlen,
		   flags & RENAME_EXCHANGE, rc);
	return rc;
}

int cfs_readlink(struct cfs_client *cl, uint64_t ino, char *buf, size_t cap)
{
	Cfs__MdsIno r = CFS__MDS_INO__INIT;
	struct cfs_rpc_call c;
	Cfs__MdsReadlink *rep;
	int rc;

	r.ino = ino;
	rc = client_mds_call(cl, CFS__MDS_METHOD__MDS_READLINK, &r.base,
		      &cfs__mds_readlink__descriptor, &c);
	rep = (Cfs__MdsReadlink *)c.rep;
	if (rc == 0 && !rep)
		rc = -EBADMSG;
	if (rc == 0) {
		rc = rep->target.len > cap ? -ENAMETOOLONG :
					     (int)rep->target.len;
		if (rc > 0)
			memcpy(buf, rep->target.data, rep->target.len);
	}
	cfs_rpc_call_done(&c);
	return rc;
}

/* A listing answered from a fresh one this client holds (dircache.c)
 * is as old as a lookup's answer may be; otherwise the MDS's. */
int cfs_readdir(struct cfs_client *cl, const struct cfs_cred *cr,
		uint64_t ino, uint64_t cookie, size_t max,
		struct cfs_dirent_list *out)
{
	if (dc_readdir(cl, ino, cookie, max, out) == 0) {
		for (size_t i = 0; i < out->n; i++)
			merge_local(cl, &out->entries[i].attr,
				    out->entries[i].asof_ns);
		return 0;
	}
	return client_readdir(cl, cr, ino, cookie, max, out);
}

int client_readdir(struct cfs_client *cl, const struct cfs_cred *cr,
		   uint64_t ino, uint64_t cookie, size_t max,
		   struct cfs_dirent_list *out)
{
	Cfs__MdsReaddir r = CFS__MDS_READDIR__INIT;
	struct cfs_rpc_call *c = calloc(1, sizeof(*c));
	Cfs__MdsReaddirReply *rep;
	int64_t asked = cfs_mono_ns();
	Cfs__Cred cc;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!c)
		return -ENOMEM;
	client_cred_to(cr, &cc);
	r.cred = &cc;
	r.ino = ino;
	r.cookie = cookie;
	r.max_entries = (uint32_t)max;
	rc = client_mds_call(cl, CFS__MDS_METHOD__MDS_READDIR, &r.base,
		      &cfs__mds_readdir_reply__descriptor, c);
	rep = (Cfs__MdsReaddirReply *)c->rep;
	if (rc == 0 && !rep) {
		/* an empty reply body: no entries, end of directory */
		out->eof = true;
	} else if (rc == 0) {
		out->entries = calloc(rep->n_entries + 1, sizeof(*out->entries));
		if (!out->entries)
			rc = -ENOMEM;
		for (size_t i = 0; rc == 0 && i < rep->n_entries; i++) {
			struct cfs_dir_entry *e = &out->entries[i];

			e->name = (const char *)rep->entries[i]->name.data;
			e->namelen = rep->entries[i]->name.len;
			e->cookie = rep->entries[i]->cookie;
			attr_from(rep->entries[i]->attr, &e->attr);
			merge_local(cl, &e->attr, asked);
			e->asof_ns = asked;
			dc_got_attr(cl, &e->attr, asked);
		}
		out->n = rep->n_entries;
		out->eof = rep->eof;
	}
	if (rc) {
		free(out->entries);
		out->entries = NULL;
		cfs_rpc_call_done(c);
		free(c);
		return rc;
	}
	out->priv = c;
	return 0;
}

void cfs_dirents_free(struct cfs_dirent_list *l)
{
	if (l->priv) {
		cfs_rpc_call_done(l->priv);
		free(l->priv);
	}
	free(l->entries);
	memset(l, 0, sizeof(*l));
}

int cfs_statfs(struct cfs_client *cl, struct statvfs *out)
{
	Cfs__MdsIno r = CFS__MDS_INO__INIT;
	struct cfs_rpc_call c;
	Cfs__MdsStatfs *rep;
	int rc;

	rc = client_mds_call(cl, CFS__MDS_METHOD__MDS_STATFS, &r.base,
		      &cfs__mds_statfs__descriptor, &c);
	rep = (Cfs__MdsStatfs *)c.rep;
	if (rc == 0 && !rep)
		rc = -EBADMSG;
	if (rc == 0) {
		memset(out, 0, sizeof(*out));
		out->f_bsize = out->f_frsize = 4096;
		out->f_blocks = rep->blocks;
		out->f_bfree = out->f_bavail = rep->bfree;
		out->f_files = rep->files;
		out->f_ffree = out->f_favail = rep->ffree;
		out->f_namemax = rep->namemax;
	}
	cfs_rpc_call_done(&c);
	/* shard 0 knows the space; every shard its own inodes (a shard
	 * that cannot say, as for a subtree token, adds none) */
	for (unsigned s = 1; rc == 0 && s < client_shards(cl); s++) {
		r.ino = (uint64_t)s << CFS_SHARD_SHIFT;
		if (client_mds_call(cl, CFS__MDS_METHOD__MDS_STATFS, &r.base,
				    &cfs__mds_statfs__descriptor, &c) == 0 &&
		    (rep = (Cfs__MdsStatfs *)c.rep) && rep->files > rep->ffree)
			out->f_files += rep->files - rep->ffree;
		cfs_rpc_call_done(&c);
	}
	return rc;
}

int cfs_access(struct cfs_client *cl, const struct cfs_cred *cr, uint64_t ino,
	       int mask)
{
	Cfs__MdsOpen r = CFS__MDS_OPEN__INIT;
	Cfs__Cred c;

	client_cred_to(cr, &c);
	r.cred = &c;
	r.ino = ino;
	r.flags = (uint32_t)mask;
	return plain_call(cl, CFS__MDS_METHOD__MDS_ACCESS, &r.base);
}

static int xattr_call(struct cfs_client *cl, uint32_t method,
		      const struct cfs_cred *cr, uint64_t ino,
		      const char *name, const void *value, size_t len,
		      int flags, void *buf, size_t cap)
{
	Cfs__MdsXattr r = CFS__MDS_XATTR__INIT;
	Cfs__MdsIno ri = CFS__MDS_INO__INIT;
	struct cfs_rpc_call c;
	Cfs__MdsXattrReply *rep;
	Cfs__Cred cc;
	int rc;

	client_cred_to(cr, &cc);
	r.cred = ri.cred = &cc;
	r.ino = ri.ino = ino;
	r.name = BYTES(name, name ? strlen(name) : 0);
	r.value = BYTES(value, len);
	r.flags = (uint32_t)flags;
	rc = client_mds_call(cl, method,
		      method == CFS__MDS_METHOD__MDS_LISTXATTR ? &ri.base :
								 &r.base,
		      &cfs__mds_xattr_reply__descriptor, &c);
	if (method == CFS__MDS_METHOD__MDS_SETXATTR ||
	    method == CFS__MDS_METHOD__MDS_REMOVEXATTR)
		dc_touch(cl, ino);	/* its ctime */
	rep = (Cfs__MdsXattrReply *)c.rep;
	if (rc == 0 && (method == CFS__MDS_METHOD__MDS_GETXATTR ||
			method == CFS__MDS_METHOD__MDS_LISTXATTR)) {
		size_t n = rep ? rep->value.len : 0;

		if (cap && n > cap)
			rc = -ERANGE;
		else if (n > INT32_MAX)
			rc = -E2BIG;
		else {
			if (cap && n)
				memcpy(buf, rep->value.data, n);
			rc = (int)n;
		}
	}
	cfs_rpc_call_done(&c);
	return rc;
}

int cfs_setxattr(struct cfs_client *cl, const struct cfs_cred *cr,
		 uint64_t ino, const char *name, const void *value,
		 size_t len, int flags)
{
	int rc = xattr_call(cl, CFS__MDS_METHOD__MDS_SETXATTR, cr, ino, name,
			    value, len, flags, NULL, 0);
	struct open_inode *o;

	if (rc == 0 && !strcmp(name, "user.cfs.layout")) {
		/* its data goes the new way from now on */
		pthread_mutex_lock(&cl->ilock);
		o = client_inode(cl, ino, false);
		if (o)
			o->layout_known = false;
		pthread_mutex_unlock(&cl->ilock);
	}
	return rc;
}

int cfs_getxattr(struct cfs_client *cl, const struct cfs_cred *cr,
		 uint64_t ino, const char *name, void *buf, size_t cap)
{
	return xattr_call(cl, CFS__MDS_METHOD__MDS_GETXATTR, cr, ino, name,
			  NULL, 0, 0, buf, cap);
}

int cfs_listxattr(struct cfs_client *cl, const struct cfs_cred *cr,
		  uint64_t ino, char *buf, size_t cap)
{
	return xattr_call(cl, CFS__MDS_METHOD__MDS_LISTXATTR, cr, ino, NULL,
			  NULL, 0, 0, buf, cap);
}

int cfs_removexattr(struct cfs_client *cl, const struct cfs_cred *cr,
		    uint64_t ino, const char *name)
{
	return xattr_call(cl, CFS__MDS_METHOD__MDS_REMOVEXATTR, cr, ino, name,
			  NULL, 0, 0, NULL, 0);
}

/* relatime, as Linux does it: atime moves on a read if it is not newer
 * than mtime or ctime, or is more than a day old */
static bool atime_due(const struct cfs_attr *a)
{
	return a->atime_ns <= a->mtime_ns || a->atime_ns <= a->ctime_ns ||
	       cfs_real_ns() - a->atime_ns > 86400ll * 1000000000;
}

static void opened(struct cfs_client *cl, const struct cfs_attr *a,
		   bool write)
{
	struct open_inode *o;

	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, a->ino, true);
	if (o) {
		o->layout = a->layout;
		o->layout_known = true;
		o->opens++;
		o->writes += write;
		o->atime_due |= atime_due(a);
		if (!o->dirty || a->size > o->size)
			o->size = a->size;
	}
	pthread_mutex_unlock(&cl->ilock);
}

/* The size of a small file worth reading along with its open (0: none):
 * opened to read, known from a fresh attribute, nothing of ours pending,
 * and room left under PREFETCH_TOTAL. */
static size_t prefetch_size(struct cfs_client *cl, uint64_t ino, int flags,
			    struct cfs_attr *known)
{
	struct open_inode *o;
	int64_t asof;
	bool busy;

	if ((flags & (O_ACCMODE | O_TRUNC | O_DIRECTORY)) != O_RDONLY ||
	    dc_getattr(cl, ino, known, &asof) || !S_ISREG(known->mode) ||
	    known->size == 0 || known->size > READ_ALONG_MAX)
		return 0;
	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	busy = (o && (o->dirty || o->pf || client_wb_pending(o))) ||
	       cl->pf_bytes + known->size > PREFETCH_TOTAL;
	pthread_mutex_unlock(&cl->ilock);
	return busy ? 0 : (size_t)known->size;
}

/* A small file opened to read has its bytes read along with the open, in
 * the same round trip, and kept for its first read (cfs_read): they are
 * as fresh as the open itself, and kept only if the open found the size
 * and mtime they were read for. */
int cfs_open(struct cfs_client *cl, const struct cfs_cred *cr, uint64_t ino,
	     int flags, struct cfs_attr *out)
{
	Cfs__MdsOpen r = CFS__MDS_OPEN__INIT;
	struct cfs_rpc_call call;
	struct cfs_attr known;
	size_t pf = prefetch_size(cl, ino, flags, &known);
	uint8_t *buf = pf ? malloc(pf) : NULL;
	struct open_inode *o;
	int64_t begun;
	char group[CFS_RPC_GROUP_MAX];
	Cfs__Cred c;
	int rc, pf_rc = -ENOMEM;

	client_cred_to(cr, &c);
	r.cred = &c;
	r.ino = ino;
	r.flags = (uint32_t)flags;
	/* an open is a change only when it truncates */
	begun = (flags & O_TRUNC) ? dc_begin(cl, ino) : cfs_mono_ns();
	mds_call_init(cl, CFS__MDS_METHOD__MDS_OPEN, &r.base,
		      &cfs__mds_entry__descriptor, &call);
	client_shard_group(cl, route(cl, CFS__MDS_METHOD__MDS_OPEN, &r.base),
			   group, sizeof(group));
	pthread_rwlock_rdlock(&cl->openlock);
	if (buf)
		pf_rc = client_read_along(cl, ino, known.layout, buf, pf,
					  group, &call, &rc);
	else
		rc = cfs_rpc_call(cl->rpc, group, &call);
	rc = entry_reply(cl, rc, &call, begun, out);
	if (rc == 0)
		opened(cl, out, cfs_open_writes(flags));
	if (rc == 0 && !(flags & O_TRUNC))
		client_cache_opened(cl, out);
	pthread_rwlock_unlock(&cl->openlock);
	if (rc == 0 && (flags & O_TRUNC))
		settled(cl, ino);
	if (flags & O_TRUNC)
		dc_end(cl, ino, begun, rc, out);
	else if (rc == 0)
		dc_got_attr(cl, out, begun);
	if (rc == 0 && pf_rc == 0 && out->size == known.size &&
	    out->mtime_ns == known.mtime_ns) {
		pthread_mutex_lock(&cl->ilock);
		o = client_inode(cl, ino, false);
		if (o && !o->pf && !o->dirty) {
			o->pf = buf;
			o->pf_len = pf;
			cl->pf_bytes += pf;
			buf = NULL;
		}
		pthread_mutex_unlock(&cl->ilock);
	}
	free(buf);
	return rc;
}

/* relatime's update is kept here and sent by the keepalive thread or
 * the last release, whichever comes first: a read does not wait for a
 * metadata commit. This client merges it into the attributes it
 * returns meanwhile (merge_local); others see it within a second. */
bool cfs_accessed(struct cfs_client *cl, const struct cfs_cred *cr,
		  uint64_t ino)
{
	struct open_inode *o;
	bool due;

	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	due = o && o->atime_due;
	if (due) {
		o->atime_due = false;
		o->atime_ns = cfs_real_ns();
		o->atime_cred = *cr;
	}
	pthread_mutex_unlock(&cl->ilock);
	return due;
}

struct atime_update {
	uint64_t ino;
	int64_t atime_ns;
	struct cfs_cred cred;
};

static int send_atime(struct cfs_client *cl, const struct atime_update *u)
{
	Cfs__MdsIno r = CFS__MDS_INO__INIT;
	struct open_inode *o;
	Cfs__Cred c;
	int rc;

	client_cred_to(&u->cred, &c);
	r.cred = &c;
	r.ino = u->ino;
	r.atime_ns = u->atime_ns;
	rc = plain_call(cl, CFS__MDS_METHOD__MDS_ACCESSED, &r.base);
	dc_touch(cl, u->ino);
	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, u->ino, false);
	/* a file gone meanwhile (ENOENT) has nothing left to update */
	if (o && o->atime_ns == u->atime_ns && (rc == 0 || rc == -ENOENT)) {
		o->atime_ns = 0;
		/* sent late (the last release could not): nothing holds it */
		if (!o->opens && !o->dirty && !client_wb_pending(o))
			drop_inode(cl, u->ino);
	}
	pthread_mutex_unlock(&cl->ilock);
	return rc;
}

/* Send every file's read atime not yet at the MDS (once a second, and
 * at the end). */
static void send_atimes(struct cfs_client *cl)
{
	struct atime_update *u = NULL, *nu;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&cl->ilock);
	for (int b = 0; b < INODE_BUCKETS; b++) {
		for (struct open_inode *o = cl->inodes[b]; o; o = o->next) {
			if (!o->atime_ns)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				nu = realloc(u, cap * sizeof(*u));
				if (!nu)
					goto out;
				u = nu;
			}
			u[n++] = (struct atime_update){ o->ino, o->atime_ns,
							o->atime_cred };
		}
	}
out:
	pthread_mutex_unlock(&cl->ilock);
	for (size_t i = 0; i < n; i++)
		send_atime(cl, &u[i]);
	free(u);
}

int cfs_getlk(struct cfs_client *cl, uint64_t ino, uint64_t owner, bool flock,
	      int *type, uint64_t *start, uint64_t *end, uint32_t *pid)
{
	Cfs__MdsLock r = CFS__MDS_LOCK__INIT;
	const Cfs__MdsLockReply *rep;
	struct cfs_rpc_call c;
	int rc;

	r.ino = ino;
	r.owner = owner;
	r.type = *type;
	r.start = *start;
	r.end = *end;
	r.flock = flock;
	r.test = true;
	rc = client_mds_call(cl, CFS__MDS_METHOD__MDS_LOCK, &r.base,
		      &cfs__mds_lock_reply__descriptor, &c);
	rep = (const void *)c.rep;
	if (rc == 0 && !rep)
		rc = -EBADMSG;
	if (rc == 0) {
		*type = rep->type;
		*start = rep->start;
		*end = rep->end;
		*pid = rep->pid;
	}
	cfs_rpc_call_done(&c);
	return rc;
}

int cfs_setlk(struct cfs_client *cl, uint64_t ino, uint64_t owner,
	      uint32_t pid, bool flock, int type, uint64_t start,
	      uint64_t end)
{
	Cfs__MdsLock r = CFS__MDS_LOCK__INIT;
	struct open_inode *o;
	int rc;

	r.ino = ino;
	r.owner = owner;
	r.pid = pid;
	r.type = type;
	r.start = start;
	r.end = end;
	r.flock = flock;
	/* what we wrote under the lock is on the OSDs before it goes */
	if (type == F_UNLCK) {
		rc = cfs_flush(cl, ino);
		if (rc)
			return rc;
	}
	rc = plain_call(cl, CFS__MDS_METHOD__MDS_LOCK, &r.base);
	if (rc == 0 && type != F_UNLCK) {
		pthread_mutex_lock(&cl->ilock);
		o = client_inode(cl, ino, true);
		if (o)
			o->locked = true;
		pthread_mutex_unlock(&cl->ilock);
	}
	return rc;
}

bool cfs_may_hold_locks(struct cfs_client *cl, uint64_t ino)
{
	struct open_inode *o;
	bool locked;

	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	locked = o && o->locked;
	pthread_mutex_unlock(&cl->ilock);
	return locked;
}

int cfs_unlock_owner(struct cfs_client *cl, uint64_t ino, uint64_t owner,
		     bool flock)
{
	Cfs__MdsLock r = CFS__MDS_LOCK__INIT;

	r.ino = ino;
	r.owner = owner;
	r.flock = flock;
	return plain_call(cl, CFS__MDS_METHOD__MDS_UNLOCK_OWNER, &r.base);
}

static void set_stamp(struct cfs_client *cl, const struct cfs_attr *a)
{
	cl->stamps[cfs_hash64(a->ino) % CACHE_STAMPS] =
		(struct cache_stamp){ a->ino, a->size, a->mtime_ns, false,
				      false };
}

bool cfs_cache_valid(struct cfs_client *cl, const struct cfs_attr *a)
{
	struct open_inode *o;
	struct cache_stamp *s;
	bool valid;

	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, a->ino, false);
	if (o && (o->dirty || client_wb_pending(o))) {
		/* the change is ours, and so are the pages */
		pthread_mutex_unlock(&cl->ilock);
		return true;
	}
	s = &cl->stamps[cfs_hash64(a->ino) % CACHE_STAMPS];
	valid = s->ino == a->ino && s->size == a->size &&
		s->mtime_ns == a->mtime_ns && !s->pages_stale;
	set_stamp(cl, a);
	pthread_mutex_unlock(&cl->ilock);
	return valid;
}

/* ino's record, if there is one and no change of ours to the file is
 * pending (then any move is another client's). ilock held. */
static struct cache_stamp *others_stamp(struct cfs_client *cl, uint64_t ino)
{
	struct open_inode *o = client_inode(cl, ino, false);
	struct cache_stamp *s = &cl->stamps[cfs_hash64(ino) % CACHE_STAMPS];

	if ((o && (o->dirty || client_wb_pending(o))) || s->ino != ino)
		return NULL;
	return s;
}

bool cfs_size_moved(struct cfs_client *cl, const struct cfs_attr *a)
{
	struct cache_stamp *s;
	bool moved;

	pthread_mutex_lock(&cl->ilock);
	s = others_stamp(cl, a->ino);
	moved = s && s->size != a->size && !s->sent_back;
	if (moved)
		s->sent_back = true;
	pthread_mutex_unlock(&cl->ilock);
	return moved;
}

bool cfs_mtime_moved(struct cfs_client *cl, const struct cfs_attr *a)
{
	struct open_inode *o;
	struct cache_stamp *s;
	bool moved;

	pthread_mutex_lock(&cl->ilock);
	s = others_stamp(cl, a->ino);
	moved = s && s->size == a->size && s->mtime_ns != a->mtime_ns;
	if (moved) {
		s->mtime_ns = a->mtime_ns;
		s->pages_stale = true;	/* the next open drops them */
		o = client_inode(cl, a->ino, false);
		moved = o && o->opens > 0;
	}
	pthread_mutex_unlock(&cl->ilock);
	return moved;
}

/* The data goes to the flushers and the size and mtime to the MDS at the
 * same time: a close waits for one round trip less. Both are done (and
 * durable) before this returns; a data failure wins, and the file stays
 * dirty so that a later flush sends its size again. */
int cfs_flush(struct cfs_client *cl, uint64_t ino)
{
	Cfs__MdsWritten r = CFS__MDS_WRITTEN__INIT;
	struct open_inode *o;
	struct cfs_attr a;
	bool dirty;
	int rc, meta_rc = 0;

	pthread_mutex_lock(order_lock(cl, ino));
	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	dirty = o && o->dirty;
	if (dirty) {
		r.ino = ino;
		r.size = o->size;
		r.mtime_ns = o->mtime_ns;
	}
	client_wb_send_locked(cl, ino);
	pthread_mutex_unlock(&cl->ilock);
	if (dirty) {
		int64_t begun = dc_begin(cl, ino);

		meta_rc = entry_call(cl, CFS__MDS_METHOD__MDS_WRITTEN, &r.base,
				     &a);
		if (!meta_rc)
			settled(cl, ino);
		dc_end(cl, ino, begun, meta_rc, &a);
	}
	pthread_mutex_unlock(order_lock(cl, ino));
	rc = client_wb_drain(cl, ino);
	if (rc || !dirty || meta_rc)
		return rc ? rc : meta_rc;
	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	if (o && o->size == r.size && o->mtime_ns == r.mtime_ns) {
		o->dirty = false;
		/* our pages hold what we wrote: current as of this attr */
		set_stamp(cl, &a);
	}
	pthread_mutex_unlock(&cl->ilock);
	return 0;
}

int cfs_release(struct cfs_client *cl, uint64_t ino, int flags)
{
	Cfs__MdsIno r = CFS__MDS_INO__INIT;
	struct open_inode *o;
	int rc = cfs_flush(cl, ino), rc2;

	/* the count and the MDS's change together, not torn by a reopen */
	pthread_rwlock_rdlock(&cl->openlock);
	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	if (o && o->opens == 1 && o->atime_ns) {
		struct atime_update u = { ino, o->atime_ns, o->atime_cred };

		pthread_mutex_unlock(&cl->ilock);
		send_atime(cl, &u);
		pthread_mutex_lock(&cl->ilock);
		o = client_inode(cl, ino, false);
	}
	if (o && o->writes && cfs_open_writes(flags))
		o->writes--;
	if (o && o->opens > 0 && --o->opens == 0) {
		client_cache_closed(cl, ino);
		o->writes = 0;
		client_drop_prefetch(cl, o);
		if (!o->dirty && !o->atime_ns && !client_wb_pending(o))
			drop_inode(cl, ino);
	}
	pthread_mutex_unlock(&cl->ilock);
	r.ino = ino;
	r.flags = (uint32_t)flags;
	rc2 = plain_call(cl, CFS__MDS_METHOD__MDS_RELEASE, &r.base);
	pthread_rwlock_unlock(&cl->openlock);
	return rc ? rc : rc2;
}
