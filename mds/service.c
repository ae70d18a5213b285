/* The MDS's RPC methods: decode, check, run in a read transaction or
 * through the group commit (mds_mutate), encode the answer. The
 * namespace rules themselves live in namespace.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "../common/replies.h"
#include "cfs/log.h"
#include "cfs/token.h"
#include "mds.h"
#include "mds.pb-c.h"

/* ---- open files and client sessions ---- */

static struct open_count **open_bucket(struct mds *mds, uint64_t ino)
{
	return &mds->opens[cfs_hash64(ino) % OPEN_BUCKETS];
}

/* The entry of (client, ino); open_lock held. */
static struct open_count **open_slot(struct mds *mds, uint64_t client,
				     uint64_t ino)
{
	struct open_count **pp = open_bucket(mds, ino);

	while (*pp && ((*pp)->ino != ino || (*pp)->client != client))
		pp = &(*pp)->next;
	return pp;
}

/* Whether any client has ino open; open_lock held. */
static bool open_anywhere(struct mds *mds, uint64_t ino)
{
	for (struct open_count *o = *open_bucket(mds, ino); o; o = o->next)
		if (o->ino == ino)
			return true;
	return false;
}

/* ino's index in the doomed list, or ndoomed. open_lock held. */
static size_t doomed_find(const struct mds *mds, uint64_t ino)
{
	size_t i = 0;

	while (i < mds->ndoomed && mds->doomed[i] != ino)
		i++;
	return i;
}

/* Take ino out of the doomed list: whether it was there. open_lock held. */
static bool doomed_take(struct mds *mds, uint64_t ino)
{
	size_t i = doomed_find(mds, ino);

	if (i == mds->ndoomed)
		return false;
	mds->doomed[i] = mds->doomed[--mds->ndoomed];
	return true;
}

/* Note that ino's last close frees it (without memory for the note, the
 * next reaping does). open_lock held. */
static void doomed_note(struct mds *mds, uint64_t ino)
{
	if (doomed_find(mds, ino) < mds->ndoomed)
		return;
	if (mds->ndoomed == mds->capdoomed) {
		size_t cap = mds->capdoomed ? mds->capdoomed * 2 : 64;
		uint64_t *d = realloc(mds->doomed, cap * sizeof(*d));

		if (!d)
			return;
		mds->doomed = d;
		mds->capdoomed = cap;
	}
	mds->doomed[mds->ndoomed++] = ino;
}

/* Whether ino stays (or becomes) an orphan: when open somewhere, noted
 * so that its last close frees it. As an inode made before the take-over
 * loses its last link (!reaping), it also stays while clients may still
 * be telling a new leader their opens (the reclaim window); the reaping
 * at the window's end frees those nobody has open. */
static bool orphan_kept(struct mds *mds, uint64_t ino, bool reaping)
{
	bool open, kept;

	pthread_mutex_lock(&mds->open_lock);
	open = open_anywhere(mds, ino);
	if (open)
		doomed_note(mds, ino);
	else if (reaping)
		doomed_take(mds, ino);
	/* (an inode made since the take-over was opened here if at all) */
	kept = open || (!reaping && mds->reclaim_until_ms != 0 &&
			ino < mds->reclaim_below_ino);
	pthread_mutex_unlock(&mds->open_lock);
	return kept;
}

bool mds_open_for_write(struct mds *mds, uint64_t ino)
{
	bool w = false;

	pthread_mutex_lock(&mds->open_lock);
	for (struct open_count *o = *open_bucket(mds, ino); o && !w; o = o->next)
		w = o->ino == ino && o->writes;
	pthread_mutex_unlock(&mds->open_lock);
	return w;
}

bool mds_is_open_anywhere(struct mds *mds, uint64_t ino)
{
	bool o;

	pthread_mutex_lock(&mds->open_lock);
	o = open_anywhere(mds, ino);
	pthread_mutex_unlock(&mds->open_lock);
	return o;
}

bool mds_is_open(void *mds, uint64_t ino)
{
	return orphan_kept(mds, ino, false);
}

static bool orphan_stays(void *mds, uint64_t ino)
{
	return orphan_kept(mds, ino, true);
}

static int do_reap(struct mds *mds, MDB_txn *txn, void *p)
{
	return cfs_ns_reap_orphans(&mds->ns, txn, orphan_stays, mds, p);
}

/* Free the orphans nobody has open: how many. */
static unsigned reap(struct mds *mds)
{
	unsigned reaped = 0;
	int rc = mds_mutate(mds, do_reap, &reaped, 0);

	if (rc)
		cfs_log_warn("cannot reap orphans", "rc=%d", rc);
	return reaped;
}

/* Note that client was heard from; open_lock held. */
static void session_touch(struct mds *mds, uint64_t client)
{
	struct session **pp = &mds->sessions[client % SESSION_BUCKETS];

	while (*pp && (*pp)->client != client)
		pp = &(*pp)->next;
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return;
		(*pp)->client = client;
	}
	(*pp)->last_ms = cfs_mono_ms();
}

static void open_inc(struct mds *mds, uint64_t client, uint64_t ino,
		     bool write)
{
	struct open_count **pp, *o;

	pthread_mutex_lock(&mds->open_lock);
	session_touch(mds, client);
	pp = open_slot(mds, client, ino);
	if (*pp) {
		(*pp)->count++;
		(*pp)->writes += write;
	} else if ((o = calloc(1, sizeof(*o)))) {
		o->client = client;
		o->ino = ino;
		o->count = 1;
		o->writes = write;
		*pp = o;
	}
	pthread_mutex_unlock(&mds->open_lock);
}

/* Whether client holds ino open (for writing, if write). */
static bool open_held(struct mds *mds, uint64_t client, uint64_t ino,
		      bool write)
{
	struct open_count *o;
	bool held;

	pthread_mutex_lock(&mds->open_lock);
	o = *open_slot(mds, client, ino);
	held = o && (!write || o->writes);
	pthread_mutex_unlock(&mds->open_lock);
	return held;
}

/* Returns true when that was the last open of ino by any client and ino
 * lost its last link while open: the caller frees the orphan. */
static bool open_dec(struct mds *mds, uint64_t client, uint64_t ino,
		     bool write)
{
	struct open_count **pp, *o;
	bool last = false;

	pthread_mutex_lock(&mds->open_lock);
	pp = open_slot(mds, client, ino);
	o = *pp;
	if (o && write && o->writes)
		o->writes--;
	if (o && --o->count == 0) {
		*pp = o->next;
		free(o);
		last = !open_anywhere(mds, ino) && doomed_take(mds, ino);
	}
	pthread_mutex_unlock(&mds->open_lock);
	return last;
}

/* ---- conversions ---- */

/* The caller's credentials; a token with root squash makes uid and gid
 * 0 nobody's, as an NFS server's root_squash does. */
static int cred_from(const struct cfs_rpc_req *rq, const Cfs__Cred *c,
		     struct cfs_cred *cr)
{
	bool squash = rq->peer && rq->peer->squash;

	if (!c)
		return -EINVAL;
	cr->uid = squash && c->uid == 0 ? CFS_NOBODY : c->uid;
	cr->gid = squash && c->gid == 0 ? CFS_NOBODY : c->gid;
	cr->ngroups = c->n_groups < CFS_MAX_GROUPS ? (uint32_t)c->n_groups :
						     CFS_MAX_GROUPS;
	if (cr->ngroups)
		memcpy(cr->groups, c->groups, cr->ngroups * sizeof(uint32_t));
	for (uint32_t i = 0; squash && i < cr->ngroups; i++)
		if (cr->groups[i] == 0)
			cr->groups[i] = CFS_NOBODY;
	cr->umask = c->umask & 0777;
	return 0;
}

static void attr_to(const struct cfs_inode *in, Cfs__Attr *a)
{
	a->ino = in->ino;
	a->mode = in->mode;
	a->nlink = in->nlink;
	a->uid = in->uid;
	a->gid = in->gid;
	a->size = in->size;
	a->rdev = in->rdev;
	a->atime_ns = in->atime_ns;
	a->mtime_ns = in->mtime_ns;
	a->ctime_ns = in->ctime_ns;
	a->generation = in->generation;
	a->blocks = (in->size + 511) / 512;
	a->layout = cfs_inode_layout(in);
}

/* An MdsEntry: in's attributes and, where given, those of the directory
 * the call changed (either may be NULL) and the cookie of a name it
 * added (0: none). */
static int reply_entries(struct cfs_rpc_req *rq, const struct cfs_inode *in,
			 const struct cfs_inode *dir, uint64_t cookie,
			 Cfs__Capability *cap)
{
	Cfs__Attr a = CFS__ATTR__INIT, d = CFS__ATTR__INIT;
	Cfs__MdsEntry e = CFS__MDS_ENTRY__INIT;

	e.cap = cap;
	if (in) {
		attr_to(in, &a);
		a.ino = mds_scope_ino(rq, a.ino);
		e.attr = &a;
	}
	if (dir) {
		attr_to(dir, &d);
		d.ino = mds_scope_ino(rq, d.ino);
		e.parent = &d;
	}
	e.cookie = cookie;
	return cfs_rpc_reply(rq, &e.base, NULL, 0);
}

static int reply_entry(struct cfs_rpc_req *rq, const struct cfs_inode *in)
{
	return reply_entries(rq, in, NULL, 0, NULL);
}

/* A capability on ino for the caller's token (cfs/cap.h), into cap with
 * its MAC in mac; NULL on a connection without tokens, where OSDs ask
 * for none. */
static Cfs__Capability *grant(struct mds *mds, const struct cfs_rpc_req *rq,
			      uint64_t ino, bool write, Cfs__Capability *cap,
			      uint8_t mac[CFS_CAP_MAC])
{
	if (!rq->peer)
		return NULL;
	cfs_cap_sign(mds->cap_key, ino, write, rq->peer->id,
		     (int64_t)time(NULL) + CFS_CAP_TTL, cap, mac);
	return cap;
}

/* A NUL-terminated copy of an xattr name from the wire. */
static int xattr_name(const ProtobufCBinaryData *b, char *out)
{
	if (b->len == 0 || b->len > CFS_XATTR_NAME_MAX)
		return -ERANGE;
	if (memchr(b->data, '\0', b->len))
		return -EINVAL;
	memcpy(out, b->data, b->len);
	out[b->len] = '\0';
	return 0;
}

#define MDS(arg) ((struct mds *)(arg))
#define NAME(b) ((const char *)(b).data), ((b).len)

/* ---- reads ---- */

static int h_lookup(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	const Cfs__MdsName *r = (const void *)m;
	struct cfs_cred cr;
	struct cfs_inode in;
	MDB_txn *txn;
	int rc = cred_from(rq, r->cred, &cr);

	if (!rc)
		rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);
	if (rc)
		return rc;
	rc = cfs_ns_lookup(&MDS(arg)->ns, txn, &cr, r->parent, NAME(r->name),
			   &in);
	cfs_ns_abort(txn);
	return rc ? rc : reply_entry(rq, &in);
}

static int h_getattr(void *arg, struct cfs_rpc_req *rq,
		     const ProtobufCMessage *m)
{
	const Cfs__MdsIno *r = (const void *)m;
	struct cfs_inode in;
	MDB_txn *txn;
	int rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);

	if (rc)
		return rc;
	rc = cfs_ns_getattr(&MDS(arg)->ns, txn, r->ino, &in);
	cfs_ns_abort(txn);
	return rc ? rc : reply_entry(rq, &in);
}

static int h_readlink(void *arg, struct cfs_rpc_req *rq,
		      const ProtobufCMessage *m)
{
	const Cfs__MdsIno *r = (const void *)m;
	Cfs__MdsReadlink rep = CFS__MDS_READLINK__INIT;
	char buf[4096];
	size_t len;
	MDB_txn *txn;
	int rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);

	if (rc)
		return rc;
	rc = cfs_ns_readlink(&MDS(arg)->ns, txn, r->ino, buf, sizeof(buf),
			     &len);
	cfs_ns_abort(txn);
	if (rc)
		return rc;
	rep.target.data = (uint8_t *)buf;
	rep.target.len = len;
	return cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

static int h_readdir(void *arg, struct cfs_rpc_req *rq,
		     const ProtobufCMessage *m)
{
	const Cfs__MdsReaddir *r = (const void *)m;
	Cfs__MdsReaddirReply rep = CFS__MDS_READDIR_REPLY__INIT;
	size_t max = r->max_entries ? r->max_entries : 256, n = 0;
	struct cfs_dirent *ents = NULL;
	Cfs__MdsDirent *des = NULL, **dps = NULL;
	Cfs__Attr *attrs = NULL;
	struct cfs_cred cr;
	MDB_txn *txn = NULL;
	bool eof;
	int rc;

	if (max > 1024)
		max = 1024;
	rc = cred_from(rq, r->cred, &cr);
	if (rc)
		return rc;
	/* not zeroed: up to 400 KiB, and every entry returned is filled */
	ents = malloc(max * sizeof(*ents));
	des = malloc(max * sizeof(*des));
	dps = malloc(max * sizeof(*dps));
	attrs = malloc(max * sizeof(*attrs));
	if (!ents || !des || !dps || !attrs) {
		rc = -ENOMEM;
		goto out;
	}
	rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);
	if (rc)
		goto out;
	rc = cfs_ns_readdir(&MDS(arg)->ns, txn, &cr, r->ino, r->cookie, ents,
			    max, &n, &eof);
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i++) {
		cfs__mds_dirent__init(&des[i]);
		cfs__attr__init(&attrs[i]);
		des[i].name.data = (uint8_t *)ents[i].name;
		des[i].name.len = ents[i].namelen;
		des[i].cookie = ents[i].cookie;
		attr_to(&ents[i].attr, &attrs[i]);
		des[i].attr = &attrs[i];
		dps[i] = &des[i];
	}
	rep.entries = dps;
	rep.n_entries = n;
	rep.eof = eof;
	rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
out:
	cfs_ns_abort(txn);
	free(ents);
	free(des);
	free(dps);
	free(attrs);
	return rc;
}

static int h_statfs(void *arg, struct cfs_rpc_req *rq,
		    const ProtobufCMessage *m)
{
	Cfs__MdsStatfs rep = CFS__MDS_STATFS__INIT;
	uint64_t capacity, used, inodes = 0;
	MDB_txn *txn;
	int rc;

	(void)m;
	mds_capacity(MDS(arg), &capacity, &used);
	rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);
	if (rc)
		return rc;
	cfs_ns_count_inodes(&MDS(arg)->ns, txn, &inodes);
	cfs_ns_abort(txn);
	rep.blocks = capacity / 4096;
	rep.bfree = capacity > used ? (capacity - used) / 4096 : 0;
	rep.files = inodes + (1ull << 32);
	rep.ffree = 1ull << 32;
	rep.namemax = CFS_NAME_MAX;
	return cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

static int h_getxattr(void *arg, struct cfs_rpc_req *rq,
		      const ProtobufCMessage *m)
{
	const Cfs__MdsXattr *r = (const void *)m;
	Cfs__MdsXattrReply rep = CFS__MDS_XATTR_REPLY__INIT;
	static __thread char buf[CFS_XATTR_SIZE_MAX];
	char name[CFS_XATTR_NAME_MAX + 1];
	struct cfs_cred cr;
	MDB_txn *txn;
	size_t len = 0;
	int rc = cred_from(rq, r->cred, &cr);

	if (!rc)
		rc = xattr_name(&r->name, name);
	if (!rc)
		rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);
	if (rc)
		return rc;
	rc = cfs_ns_getxattr(&MDS(arg)->ns, txn, &cr, r->ino, name, buf,
			     sizeof(buf), &len);
	cfs_ns_abort(txn);
	if (rc)
		return rc;
	rep.value.data = (uint8_t *)buf;
	rep.value.len = len;
	return cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

static int h_listxattr(void *arg, struct cfs_rpc_req *rq,
		       const ProtobufCMessage *m)
{
	const Cfs__MdsIno *r = (const void *)m;
	Cfs__MdsXattrReply rep = CFS__MDS_XATTR_REPLY__INIT;
	static __thread char buf[CFS_XATTR_SIZE_MAX];
	struct cfs_cred cr;
	MDB_txn *txn;
	size_t len = 0;
	int rc = cred_from(rq, r->cred, &cr);

	if (!rc)
		rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);
	if (rc)
		return rc;
	rc = cfs_ns_listxattr(&MDS(arg)->ns, txn, &cr, r->ino, buf,
			      sizeof(buf), &len);
	cfs_ns_abort(txn);
	if (rc)
		return rc == -ERANGE ? -E2BIG : rc;
	rep.value.data = (uint8_t *)buf;
	rep.value.len = len;
	return cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

static int h_access(void *arg, struct cfs_rpc_req *rq,
		    const ProtobufCMessage *m)
{
	const Cfs__MdsOpen *r = (const void *)m;
	struct cfs_cred cr;
	MDB_txn *txn;
	int rc = cred_from(rq, r->cred, &cr);

	(void)rq;
	if (!rc)
		rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);
	if (rc)
		return rc;
	rc = cfs_ns_access(&MDS(arg)->ns, txn, &cr, r->ino, (int)r->flags);
	cfs_ns_abort(txn);
	return rc;
}

static int h_open(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	const Cfs__MdsOpen *r = (const void *)m;
	Cfs__Capability cap;
	uint8_t mac[CFS_CAP_MAC];
	struct cfs_cred cr;
	struct cfs_inode in;
	MDB_txn *txn;
	int rc = cred_from(rq, r->cred, &cr);

	if (!rc && rq->peer && rq->peer->ro &&
	    ((r->flags & O_ACCMODE) != O_RDONLY || (r->flags & O_TRUNC)))
		rc = -EROFS;
	if (!rc)
		rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);
	if (rc)
		return rc;
	rc = cfs_ns_open_check(&MDS(arg)->ns, txn, &cr, r->ino, (int)r->flags,
			       &in);
	if (rc == 0)
		open_inc(MDS(arg), rq->client_id, r->ino,
			 cfs_open_writes(r->flags));
	cfs_ns_abort(txn);
	if (rc)
		return rc;
	return reply_entries(rq, &in, NULL, 0,
			     grant(MDS(arg), rq, r->ino,
				   cfs_open_writes(r->flags), &cap, mac));
}

/* Whether cap, shown by the caller, is one an earlier run of this MDS
 * granted it for ino and this access, still valid: that run knew of the
 * open this one forgot. */
static bool granted_before(struct mds *mds, const struct cfs_rpc_req *rq,
			   const Cfs__Capability *cap, uint64_t ino,
			   bool write)
{
	const char *why;

	return rq->peer && cap &&
	       cfs_cap_check(mds->cap_key, cap, ino, write, rq->peer->id,
			     (int64_t)time(NULL), &why) == 0 &&
	       cap->expires - CFS_CAP_TTL < mds->started_s;
}

/* A capability asked for: granted for a file this client holds open
 * (for writing only if one of its opens may write), or one an earlier
 * run granted it, or else, with the caller's credentials, for one it may
 * open so now (a truncate by path cuts the data before it asks the MDS
 * to set the size). */
static int h_cap(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	const Cfs__MdsOpen *r = (const void *)m;
	Cfs__MdsEntry e = CFS__MDS_ENTRY__INIT;
	Cfs__Capability cap;
	uint8_t mac[CFS_CAP_MAC];
	bool write = cfs_open_writes(r->flags);

	if (!open_held(MDS(arg), rq->client_id, r->ino, write) &&
	    !granted_before(MDS(arg), rq, r->cap, r->ino, write)) {
		struct cfs_cred cr;
		struct cfs_inode in;
		MDB_txn *txn;
		int rc = cred_from(rq, r->cred, &cr);

		if (!rc && write && rq->peer && rq->peer->ro)
			rc = -EROFS;
		if (!rc)
			rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);
		if (rc)
			return rc == -EINVAL ? -EACCES : rc;
		rc = cfs_ns_open_check(&MDS(arg)->ns, txn, &cr, r->ino,
				       (int)(r->flags & O_ACCMODE), &in);
		cfs_ns_abort(txn);
		if (rc)
			return rc;
	}
	e.cap = grant(MDS(arg), rq, r->ino, write, &cap, mac);
	return cfs_rpc_reply(rq, &e.base, NULL, 0);
}

/* ---- mutations ---- */

struct op {
	const ProtobufCMessage *req;
	uint64_t client;	/* the caller's client id */
	struct cfs_cred cr;
	struct cfs_inode out;
	char name[CFS_XATTR_NAME_MAX + 1];
	bool opened;		/* mknod counted an open */
	/* a name change: the directory it changed, read back after it so
	 * that the caller need not ask (0: not a name change), and the
	 * readdir cookie of the name it added (0: none) */
	uint64_t dir;
	struct cfs_inode dir_after;
	uint64_t cookie;
};

/* After a name change in dir that succeeded (rc 0): what its reply
 * tells of the directory, and of the name added (NULL: a removal). */
static int name_changed(struct mds *mds, MDB_txn *txn, struct op *o, int rc,
			uint64_t dir, const ProtobufCBinaryData *added)
{
	if (rc)
		return rc;
	o->dir = dir;
	rc = cfs_ns_getattr(&mds->ns, txn, dir, &o->dir_after);
	if (rc == 0 && added)
		rc = cfs_ns_cookie(&mds->ns, txn, dir, NAME(*added),
				   &o->cookie);
	return rc;
}

static int do_mknod(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsMknod *r = (const void *)o->req;
	int rc;

	rc = cfs_ns_mknod(&mds->ns, txn, &o->cr, r->parent, NAME(r->name),
			  r->mode, r->rdev, r->exclusive, &o->out);
	if (rc == 0 && r->open && !o->opened) {
		/* counted before commit so that an unlink racing with this
		 * create keeps the new file as an orphan */
		open_inc(mds, o->client, o->out.ino, true);
		o->opened = true;
	}
	return name_changed(mds, txn, o, rc, r->parent, &r->name);
}

static int do_mkdir(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsMknod *r = (const void *)o->req;

	int rc = cfs_ns_mknod(&mds->ns, txn, &o->cr, r->parent, NAME(r->name),
			      S_IFDIR | (r->mode & 07777), 0, true, &o->out);

	return name_changed(mds, txn, o, rc, r->parent, &r->name);
}

static int do_symlink(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsSymlink *r = (const void *)o->req;

	int rc = cfs_ns_symlink(&mds->ns, txn, &o->cr, r->parent,
				NAME(r->name), (const char *)r->target.data,
				r->target.len, &o->out);

	return name_changed(mds, txn, o, rc, r->parent, &r->name);
}

static int do_link(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsLink *r = (const void *)o->req;

	int rc = cfs_ns_link(&mds->ns, txn, &o->cr, r->ino, r->newparent,
			     NAME(r->newname), &o->out);

	return name_changed(mds, txn, o, rc, r->newparent, &r->newname);
}

static int do_unlink(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsName *r = (const void *)o->req;

	int rc = cfs_ns_unlink(&mds->ns, txn, &o->cr, r->parent,
			       NAME(r->name));

	return name_changed(mds, txn, o, rc, r->parent, NULL);
}

static int do_rmdir(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsName *r = (const void *)o->req;

	int rc = cfs_ns_rmdir(&mds->ns, txn, &o->cr, r->parent,
			      NAME(r->name));

	return name_changed(mds, txn, o, rc, r->parent, NULL);
}

static int do_rename(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsRename *r = (const void *)o->req;

	return cfs_ns_rename(&mds->ns, txn, &o->cr, r->parent, NAME(r->name),
			     r->newparent, NAME(r->newname), r->flags);
}

static int do_setattr(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsSetattr *r = (const void *)o->req;
	struct cfs_setattr sa = {
		.valid = r->valid,
		.mode = r->mode,
		.uid = r->uid,
		.gid = r->gid,
		.size = r->size,
		.atime_ns = r->atime_ns,
		.mtime_ns = r->mtime_ns,
		.ctime_ns = r->ctime_ns,
	};

	return cfs_ns_setattr(&mds->ns, txn, &o->cr, r->ino, &sa, &o->out);
}

static int do_written(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsWritten *r = (const void *)o->req;

	return cfs_ns_written(&mds->ns, txn, r->ino, r->size, r->mtime_ns,
			      &o->out);
}

static int do_accessed(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsIno *r = (const void *)o->req;

	return cfs_ns_accessed(&mds->ns, txn, r->ino, r->atime_ns);
}

static int do_setxattr(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsXattr *r = (const void *)o->req;

	return cfs_ns_setxattr(&mds->ns, txn, &o->cr, r->ino, o->name,
			       r->value.data, r->value.len, (int)r->flags);
}

static int do_removexattr(struct mds *mds, MDB_txn *txn, void *p)
{
	struct op *o = p;
	const Cfs__MdsXattr *r = (const void *)o->req;

	return cfs_ns_removexattr(&mds->ns, txn, &o->cr, r->ino, o->name);
}

static int do_free_if_orphan(struct mds *mds, MDB_txn *txn, void *p)
{
	return cfs_ns_release_orphan(&mds->ns, txn, *(uint64_t *)p);
}

/* The caller's credentials from field 1 of a request, where its type
 * has one (it must then be set); types without one need none. */
static int req_cred(const struct cfs_rpc_req *rq, const ProtobufCMessage *m,
		    struct cfs_cred *cr)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field(m->descriptor, 1);

	memset(cr, 0, sizeof(*cr));
	if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE ||
	    f->descriptor != &cfs__cred__descriptor)
		return 0;
	return cred_from(rq, *(const Cfs__Cred *const *)((const char *)m +
						     f->offset), cr);
}

/* What a mutation that succeeded answered, kept in the store (replicated
 * with it) until the client acknowledges the reply or for
 * REPLY_CACHE_IDLE_MS: a retry after a failover or a restart, which the
 * RPC reply cache (memory) no longer knows, is answered the same rather
 * than run again (a rename retried would fail with ENOENT). */
struct done_rec {
	int64_t at_ns;		/* when (CLOCK_REALTIME) */
	struct cfs_inode out, dir_after;
	uint64_t dir, cookie;
	uint8_t opened;
	uint8_t pad[7];
};

struct recorded {
	int (*fn)(struct mds *, MDB_txn *, void *);
	struct op *o;
	const struct cfs_rpc_req *rq;
};

static int do_recorded(struct mds *mds, MDB_txn *txn, void *p)
{
	struct recorded *r = p;
	struct done_rec d = { .at_ns = cfs_real_ns() };
	int rc = r->fn(mds, txn, r->o);

	if (rc || !r->rq->request_id)
		return rc;
	d.out = r->o->out;
	d.dir_after = r->o->dir_after;
	d.dir = r->o->dir;
	d.cookie = r->o->cookie;
	d.opened = r->o->opened;
	rc = cfs_ns_done_put(&mds->ns, txn, r->rq->client_id,
			     r->rq->request_id, &d, sizeof(d));
	if (!rc && r->rq->acked > 1)
		rc = cfs_ns_done_forget(&mds->ns, txn, r->rq->client_id,
					r->rq->acked, NULL);
	return rc;
}

/* The answer kept for this request, if it ran before: true with o set. */
static bool done_before(struct mds *mds, const struct cfs_rpc_req *rq,
			struct op *o)
{
	struct done_rec d;
	MDB_txn *txn;
	int rc;

	if (!rq->request_id || cfs_ns_begin(&mds->ns, NULL, false, &txn))
		return false;
	rc = cfs_ns_done_get(&mds->ns, txn, rq->client_id, rq->request_id, &d,
			     sizeof(d));
	cfs_ns_abort(txn);
	if (rc)
		return false;
	o->out = d.out;
	o->dir_after = d.dir_after;
	o->dir = d.dir;
	o->cookie = d.cookie;
	o->opened = d.opened;
	cfs_log_info("answered a retry from the requests done",
		     "client=%016lx req=%lu", (unsigned long)rq->client_id,
		     (unsigned long)rq->request_id);
	return true;
}

static bool done_old(const MDB_val *v)
{
	struct done_rec d;

	if (v->mv_size != sizeof(d))
		return true;
	memcpy(&d, v->mv_data, sizeof(d));
	return cfs_real_ns() - d.at_ns > (int64_t)REPLY_CACHE_IDLE_MS * 1000000;
}

static int do_done_expire(struct mds *mds, MDB_txn *txn, void *p)
{
	(void)p;
	return cfs_ns_done_forget(&mds->ns, txn, 0, 0, done_old);
}

void mds_done_expire(struct mds *mds)
{
	int rc = mds_mutate(mds, do_done_expire, NULL, 0);

	if (rc && rc != -EREMCHG)
		cfs_log_warn("cannot expire the requests done", "rc=%d", rc);
}

static int mutate(struct mds *mds, struct cfs_rpc_req *rq,
		  const ProtobufCMessage *m,
		  int (*fn)(struct mds *, MDB_txn *, void *), bool entry)
{
	struct op o = { .req = m, .client = rq->client_id };
	Cfs__Capability cap, *capp = NULL;
	uint8_t mac[CFS_CAP_MAC];
	int rc = req_cred(rq, m, &o.cr);

	if (rc)
		return rc;
	if (rq->peer && rq->peer->ro)
		return -EROFS;	/* a read-only token changes nothing */
	if (m->descriptor == &cfs__mds_xattr__descriptor) {
		rc = xattr_name(&((const Cfs__MdsXattr *)m)->name, o.name);
		if (rc)
			return rc;
	}
	if (!done_before(mds, rq, &o)) {
		struct recorded r = { fn, &o, rq };

		rc = mds_mutate(mds, do_recorded, &r, o.client);
		if (rc && o.opened)
			open_dec(mds, o.client, o.out.ino, true);
		if (rc)
			return rc;
	}
	if (!entry && !o.dir)
		return 0;
	/* a create that opened, a truncate: the data may change next */
	if (o.opened || (m->descriptor == &cfs__mds_setattr__descriptor &&
			 (((const Cfs__MdsSetattr *)m)->valid &
			  CFS__SETATTR_VALID__SETATTR_SIZE)))
		capp = grant(mds, rq, o.out.ino, true, &cap, mac);
	return reply_entries(rq, entry ? &o.out : NULL,
			     o.dir ? &o.dir_after : NULL, o.cookie, capp);
}

#define MUTATOR(name, fn, entry)                                           \
	static int name(void *arg, struct cfs_rpc_req *rq,                 \
			const ProtobufCMessage *m)                         \
	{                                                                  \
		return mutate(MDS(arg), rq, m, fn, entry);                 \
	}

MUTATOR(h_mknod, do_mknod, true)
MUTATOR(h_mkdir, do_mkdir, true)
MUTATOR(h_symlink, do_symlink, true)
MUTATOR(h_link, do_link, true)
MUTATOR(h_unlink, do_unlink, false)
MUTATOR(h_rmdir, do_rmdir, false)
MUTATOR(h_rename, do_rename, false)
MUTATOR(h_setattr, do_setattr, true)
MUTATOR(h_written, do_written, true)
MUTATOR(h_setxattr, do_setxattr, false)
MUTATOR(h_accessed, do_accessed, false)
MUTATOR(h_removexattr, do_removexattr, false)

static int h_release(void *arg, struct cfs_rpc_req *rq,
		     const ProtobufCMessage *m)
{
	const Cfs__MdsIno *r = (const void *)m;
	uint64_t ino = r->ino;
	int rc;

	if (!open_dec(MDS(arg), rq->client_id, ino,
		      cfs_open_writes(r->flags)))
		return 0;
	/* the last close of a file unlinked while open: freed now */
	rc = mds_mutate(MDS(arg), do_free_if_orphan, &ino, rq->client_id);
	return rc == -ENOENT ? 0 : rc;
}

/* ---- locks (in memory: see locks.h) ---- */

/* ---- locks, stored with every change (a new leader loads them) ---- */

static int locks_store(struct mds *mds, MDB_txn *txn, uint64_t ino)
{
	struct cfs_lock_rec *recs;
	size_t n;
	int rc = cfs_locks_export(&mds->locks, ino, &recs, &n);

	if (!rc)
		rc = cfs_ns_locks_put(&mds->ns, txn, ino, recs,
				      n * sizeof(*recs));
	free(recs);
	return rc;
}

/* The file's locks as the table in memory has them when the batch runs:
 * the last of several changes' stores has them all. */
static int do_locks_store(struct mds *mds, MDB_txn *txn, void *p)
{
	return locks_store(mds, txn, *(const uint64_t *)p);
}

static int stored_file(void *arg, uint64_t ino, const void *val, size_t len)
{
	uint64_t **inos = arg;

	(void)val;
	(void)len;
	*(*inos)++ = ino;
	return 0;
}

/* Every file's: those stored (some may have none now), then those in
 * memory. */
static int do_locks_store_all(struct mds *mds, MDB_txn *txn, void *p)
{
	uint64_t *inos, *end;
	size_t n = cfs_locks_files(&mds->locks, NULL, 0);
	MDB_stat st;
	int rc = cfs_ns_errno(mdb_stat(txn, mds->ns.locks, &st));

	(void)p;
	if (rc)
		return rc;
	inos = malloc((st.ms_entries + n + 1) * sizeof(*inos));
	if (!inos)
		return -ENOMEM;
	end = inos;
	rc = cfs_ns_locks_each(&mds->ns, txn, stored_file, &end);
	end += cfs_locks_files(&mds->locks, end, n);
	for (uint64_t *i = inos; !rc && i < end; i++)
		rc = locks_store(mds, txn, *i);
	free(inos);
	return rc;
}

static int lock_loaded(void *arg, uint64_t ino, const void *val, size_t len)
{
	struct mds *mds = arg;
	const struct cfs_lock_rec *recs = val;
	size_t n = len / sizeof(*recs);

	pthread_mutex_lock(&mds->open_lock);
	for (size_t i = 0; i < n; i++)	/* they expire if silent */
		session_touch(mds, recs[i].client);
	pthread_mutex_unlock(&mds->open_lock);
	return cfs_locks_import(&mds->locks, ino, recs, n);
}

int mds_locks_load(struct mds *mds)
{
	MDB_txn *txn;
	int rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);

	if (rc)
		return rc;
	cfs_locks_clear(&mds->locks);
	rc = cfs_ns_locks_each(&mds->ns, txn, lock_loaded, mds);
	cfs_ns_abort(txn);
	return rc;
}

static int h_lock(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	const Cfs__MdsLock *r = (const void *)m;
	Cfs__MdsLockReply rep = CFS__MDS_LOCK_REPLY__INIT;
	struct cfs_lock want = {
		.client = rq->client_id,
		.owner = r->owner,
		.pid = r->pid,
		.type = r->type,
		.start = r->start,
		.end = r->end,
		.flock = r->flock,
	}, held;
	int rc;

	if ((r->type != F_RDLCK && r->type != F_WRLCK && r->type != F_UNLCK) ||
	    r->end < r->start)
		return -EINVAL;
	pthread_mutex_lock(&MDS(arg)->open_lock);
	session_touch(MDS(arg), rq->client_id);
	pthread_mutex_unlock(&MDS(arg)->open_lock);
	if (!r->test) {
		rc = cfs_locks_set(&MDS(arg)->locks, r->ino, &want);
		return rc ? rc : mds_mutate(MDS(arg), do_locks_store,
					    (void *)&r->ino, 0);
	}
	rep.type = F_UNLCK;
	if (cfs_locks_test(&MDS(arg)->locks, r->ino, &want, &held)) {
		rep.type = held.type;
		rep.start = held.start;
		rep.end = held.end;
		rep.pid = held.pid;
	}
	rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
	return rc;
}

static int h_unlock_owner(void *arg, struct cfs_rpc_req *rq,
			  const ProtobufCMessage *m)
{
	const Cfs__MdsLock *r = (const void *)m;

	cfs_locks_release(&MDS(arg)->locks, r->ino, rq->client_id, r->owner,
			  r->flock);
	return mds_mutate(MDS(arg), do_locks_store, (void *)&r->ino, 0);
}

static int h_keepalive(void *arg, struct cfs_rpc_req *rq,
		       const ProtobufCMessage *m)
{
	struct mds *mds = MDS(arg);
	Cfs__MdsKeepaliveReply rep = CFS__MDS_KEEPALIVE_REPLY__INIT;
	struct session *s;

	(void)m;
	pthread_mutex_lock(&mds->open_lock);
	/* only clients with opens or locks have a session to keep */
	for (s = mds->sessions[rq->client_id % SESSION_BUCKETS]; s; s = s->next)
		if (s->client == rq->client_id)
			s->last_ms = cfs_mono_ms();
	rep.incarnation = mds->incarnation;
	pthread_mutex_unlock(&mds->open_lock);
	return cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

static int h_reopen(void *arg, struct cfs_rpc_req *rq,
		    const ProtobufCMessage *m)
{
	const Cfs__MdsReopen *r = (const void *)m;
	struct mds *mds = MDS(arg);
	size_t set = 0;

	for (size_t i = 0; i < r->n_opened; i++) {
		const Cfs__MdsOpened *o = r->opened[i];
		uint64_t ino = o->ino;
		struct open_count **pp;

		if (rq->scope && ino == CFS_ROOT_INO)
			ino = rq->scope;
		if (!o->count || !mds_scope_sees(mds, rq, ino))
			continue;
		pthread_mutex_lock(&mds->open_lock);
		session_touch(mds, rq->client_id);
		pp = open_slot(mds, rq->client_id, ino);
		if (!*pp && (*pp = calloc(1, sizeof(**pp)))) {
			(*pp)->client = rq->client_id;
			(*pp)->ino = ino;
		}
		if (*pp) {
			(*pp)->count = o->count;
			(*pp)->writes = o->writes < o->count ? o->writes :
							      o->count;
			set++;
		}
		pthread_mutex_unlock(&mds->open_lock);
	}
	cfs_log_info("client told its open files", "client=%016lx files=%zu",
		     (unsigned long)rq->client_id, set);
	return 0;
}

void mds_opens_forget(struct mds *mds)
{
	uint64_t next = UINT64_MAX;	/* unknown: every inode may be */
	MDB_txn *txn;

	if (cfs_ns_begin(&mds->ns, NULL, false, &txn) == 0) {
		if (cfs_ns_next_ino(&mds->ns, txn, &next))
			next = UINT64_MAX;
		cfs_ns_abort(txn);
	}
	pthread_mutex_lock(&mds->open_lock);
	mds->reclaim_below_ino = next;
	for (int i = 0; i < OPEN_BUCKETS; i++)
		while (mds->opens[i]) {
			struct open_count *o = mds->opens[i];

			mds->opens[i] = o->next;
			free(o);
		}
	for (int i = 0; i < SESSION_BUCKETS; i++)
		while (mds->sessions[i]) {
			struct session *s = mds->sessions[i];

			mds->sessions[i] = s->next;
			free(s);
		}
	mds->ndoomed = 0;
	mds->reclaim_until_ms = cfs_mono_ms() + mds->cfg.session_timeout_ms;
	mds->incarnation = (uint64_t)cfs_real_ns();
	pthread_mutex_unlock(&mds->open_lock);
}

void mds_sessions_expire(struct mds *mds)
{
	int64_t now = cfs_mono_ms();
	bool closed = false, unlocked = false, reclaimed = false;
	unsigned reaped;

	pthread_mutex_lock(&mds->open_lock);
	if (mds->reclaim_until_ms && now >= mds->reclaim_until_ms) {
		mds->reclaim_until_ms = 0;
		reclaimed = true;	/* reap what no client claimed */
	}
	for (int b = 0; b < SESSION_BUCKETS; b++) {
		struct session **sp = &mds->sessions[b];

		while (*sp) {
			struct session *s = *sp;

			if (now - s->last_ms <= mds->cfg.session_timeout_ms) {
				sp = &s->next;
				continue;
			}
			cfs_log_warn("client session expired: dropping its opens "
				     "and locks", "client=%016lx silent_ms=%ld",
				     (unsigned long)s->client,
				     (long)(now - s->last_ms));
			for (int i = 0; i < OPEN_BUCKETS; i++) {
				struct open_count **pp = &mds->opens[i];

				while (*pp) {
					struct open_count *o = *pp;

					if (o->client != s->client) {
						pp = &o->next;
						continue;
					}
					*pp = o->next;
					free(o);
					closed = true;
				}
			}
			cfs_locks_release_client(&mds->locks, s->client);
			unlocked = true;
			*sp = s->next;
			free(s);
		}
	}
	pthread_mutex_unlock(&mds->open_lock);
	if (unlocked && mds_mutate(mds, do_locks_store_all, NULL, 0))
		cfs_log_warn("cannot store the locks left", "clients_gone=1");
	/* files unlinked while those clients had them open go now */
	if (!closed && !reclaimed)
		return;
	reaped = reap(mds);
	if (reclaimed)
		cfs_log_info("reclaim window over: orphans no client has open "
			     "freed", "count=%u", reaped);
	else if (reaped)
		cfs_log_info("orphans of expired sessions freed", "count=%u",
			     reaped);
}

/* ---- cluster ---- */

#define MAP_WAIT_MAX 2000	/* ms a map poll may wait */

static int h_get_map(void *arg, struct cfs_rpc_req *rq,
		     const ProtobufCMessage *m)
{
	const Cfs__MdsGetMap *r = (const Cfs__MdsGetMap *)m;
	Cfs__ClusterMap *map;
	int rc;

	if (r->wait_ms)
		mds_map_wait(MDS(arg), r->after, r->wait_ms < MAP_WAIT_MAX ?
					 (int)r->wait_ms : MAP_WAIT_MAX);
	map = mds_map_build(MDS(arg));
	if (!map)
		return -ENOMEM;
	rc = cfs_rpc_reply(rq, &map->base, NULL, 0);
	mds_map_free(map);
	return rc;
}

/* Revocation is the administrator's: an admin token on a secured
 * connection (a cluster without tokens has nothing to revoke). */
static int h_revoke(void *arg, struct cfs_rpc_req *rq,
		    const ProtobufCMessage *m)
{
	const Cfs__MdsRevoke *r = (const Cfs__MdsRevoke *)m;

	if (!rq->peer || rq->peer->role != CFS_ROLE_ADMIN)
		return -EACCES;
	return mds_revoke(MDS(arg), r->ids, r->n_ids);
}

/* cfs mds add|remove: the administrator's (as cfs osd below). */
static int h_replica_change(void *arg, struct cfs_rpc_req *rq,
			    const ProtobufCMessage *m)
{
	const Cfs__MdsReplicaChange *r = (const void *)m;

	if (rq->peer && rq->peer->role != CFS_ROLE_ADMIN)
		return -EACCES;
	return mds_replicas_change(MDS(arg), r->add, r->address);
}

/* cfs osd out|in|rm: the administrator's (on a cluster without tokens,
 * anyone's, as everything else there). */
static int h_osd_admin(void *arg, struct cfs_rpc_req *rq,
		       const ProtobufCMessage *m)
{
	const Cfs__MdsOsdAdmin *r = (const Cfs__MdsOsdAdmin *)m;

	if (rq->peer && rq->peer->role != CFS_ROLE_ADMIN)
		return -EACCES;
	return mds_osd_admin(MDS(arg), r->id, (int)r->op);
}

/* Only a storage target joins the map and reports for it: on a secured
 * connection the peer's token must be an OSD's (a client's token used to
 * register is refused, and logged). */
static bool peer_is_osd(const struct cfs_rpc_req *rq)
{
	if (!rq->peer || rq->peer->role == CFS_ROLE_OSD)
		return true;
	cfs_log_warn("refused an OSD call from a non-OSD token",
		     "method=%u role=%s token=%s", rq->method,
		     cfs_role_name(rq->peer->role), rq->peer->id);
	return false;
}

static int h_osd_register(void *arg, struct cfs_rpc_req *rq,
			  const ProtobufCMessage *m)
{
	Cfs__MdsOsdRegisterReply rep = CFS__MDS_OSD_REGISTER_REPLY__INIT;
	int rc;

	if (!peer_is_osd(rq))
		return -EACCES;
	rc = mds_osd_register(MDS(arg), (const void *)m, &rep.id);

	if (rc)
		return rc;
	rep.map = mds_map_build(MDS(arg));
	if (!rep.map)
		return -ENOMEM;
	if (rq->peer) {	/* an OSD's token: it checks capabilities */
		rep.cap_key.data = MDS(arg)->cap_key;
		rep.cap_key.len = CFS_CAP_KEY;
	}
	rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
	mds_map_free(rep.map);
	return rc;
}

static int h_osd_heartbeat(void *arg, struct cfs_rpc_req *rq,
			   const ProtobufCMessage *m)
{
	if (!peer_is_osd(rq))
		return -EACCES;
	return mds_osd_heartbeat(MDS(arg), (const void *)m);
}

#define GONE_MAX 4096	/* inodes asked about in one call */

/* Which of the OSD's inodes are gone, and the others' sizes: the chunks
 * it may collect. The size of a file open anywhere is unknown: its
 * writers may have data on the OSDs past the size the MDS has. */
static int h_gone(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	const Cfs__MdsInodes *r = (const void *)m;
	Cfs__MdsInodes rep = CFS__MDS_INODES__INIT;
	static __thread uint64_t gone[GONE_MAX], sizes[GONE_MAX];
	MDB_txn *txn;
	int rc;

	if (!peer_is_osd(rq))
		return -EACCES;
	if (r->n_inos > GONE_MAX)
		return -E2BIG;
	rc = cfs_ns_begin(&MDS(arg)->ns, NULL, false, &txn);
	if (rc)
		return rc;
	for (size_t i = 0; i < r->n_inos && rc == 0; i++) {
		bool g;

		rc = cfs_ns_gone(&MDS(arg)->ns, txn, r->inos[i], &g, &sizes[i]);
		if (rc == 0 && g)
			gone[rep.n_inos++] = r->inos[i];
		pthread_mutex_lock(&MDS(arg)->open_lock);
		if (open_anywhere(MDS(arg), r->inos[i]))
			sizes[i] = UINT64_MAX;
		pthread_mutex_unlock(&MDS(arg)->open_lock);
	}
	cfs_ns_abort(txn);
	rep.inos = gone;
	rep.sizes = sizes;
	rep.n_sizes = r->n_inos;
	return rc ? rc : cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

/* ---- the change feed (feed.h) ---- */

#define WATCH_MAX 1024		/* changes in one answer */
#define WATCH_WAIT_MAX 2000	/* ms a watch may wait */

static int h_watch(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	const Cfs__MdsWatch *r = (const void *)m;
	Cfs__MdsWatchReply rep = CFS__MDS_WATCH_REPLY__INIT;
	size_t max = r->max && r->max < WATCH_MAX ? r->max : WATCH_MAX, n;
	struct feed_change *got = malloc(max * sizeof(*got));
	Cfs__MdsChange *ch = calloc(max, sizeof(*ch));
	Cfs__MdsChange **chp = calloc(max, sizeof(*chp));
	size_t k = 0;
	bool reset;
	int rc = -ENOMEM;

	if (!got || !ch || !chp)
		goto out;
	feed_watch(&MDS(arg)->feed, r->feed, r->after, rq->client_id,
		   r->wait_ms < WATCH_WAIT_MAX ? (int)r->wait_ms : WATCH_WAIT_MAX,
		   max, got, &n, &rep.seq, &reset);
	rep.feed = MDS(arg)->feed.id;
	rep.reset = reset;
	for (size_t i = 0; i < n; i++) {
		/* a subtree token sees the changes within its subtree */
		if (!mds_scope_sees(MDS(arg), rq, got[i].parent ?
							 got[i].parent :
							 got[i].ino))
			continue;
		cfs__mds_change__init(&ch[k]);
		ch[k].ino = mds_scope_ino(rq, got[i].ino);
		ch[k].parent = mds_scope_ino(rq, got[i].parent);
		ch[k].name.data = (uint8_t *)got[i].name;
		ch[k].name.len = got[i].len;
		chp[k] = &ch[k];
		k++;
	}
	rep.n_changes = k;
	rep.changes = chp;
	rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
out:
	free(got);
	free(ch);
	free(chp);
	return rc;
}

int mds_admit(void *arg, struct cfs_rpc_req *rq, ProtobufCMessage *m)
{
	uint64_t terms;

	if (rq->method != CFS__MDS_METHOD__MDS_RAFT &&
	    (!mds_serving(arg, &terms) ||
	     terms != atomic_load(&MDS(arg)->ready))) {
		/* the caller may not know the leader's address (added) */
		mds_replica_leader(arg, rq->leader, sizeof(rq->leader));
		return -EREMCHG;
	}
	mds_xshard_settle(arg, rq->method, m);
	return mds_subtree_admit(arg, rq, m);
}

static int h_replicas(void *arg, struct cfs_rpc_req *rq,
		      const ProtobufCMessage *m)
{
	Cfs__MdsReplicas rep = CFS__MDS_REPLICAS__INIT;
	Cfs__MdsReplica mem[CFS_RPC_GROUP_MEMBERS], *ptrs[CFS_RPC_GROUP_MEMBERS];
	struct mds_replica_status *st = malloc(sizeof(*st));
	int rc;

	(void)m;
	if (!st)
		return -ENOMEM;
	mds_replica_status(MDS(arg), st);
	rep.term = st->term;
	rep.commit = st->commit;
	rep.applied = st->applied;
	for (unsigned i = 0; i < st->nmembers; i++) {
		cfs__mds_replica__init(&mem[i]);
		mem[i].id = st->members[i].id;
		mem[i].address = st->members[i].address;
		mem[i].leader = st->members[i].id == st->id;
		mem[i].match = st->members[i].match;
		mem[i].up = st->members[i].up;
		ptrs[i] = &mem[i];
	}
	rep.n_members = st->nmembers;
	rep.members = ptrs;
	rc = cfs_rpc_reply(rq, &rep.base, NULL, 0);
	free(st);
	return rc;
}

static int h_raft(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	return mds_replica_recv(MDS(arg), rq, (const void *)m);
}

static int h_xread(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	return mds_xread(MDS(arg), rq, (const void *)m);
}

static int h_xprepare(void *arg, struct cfs_rpc_req *rq,
		      const ProtobufCMessage *m)
{
	return mds_xprepare(MDS(arg), rq, (const void *)m);
}

static int h_xfinish(void *arg, struct cfs_rpc_req *rq,
		     const ProtobufCMessage *m)
{
	return mds_xfinish(MDS(arg), rq, (const void *)m);
}

static int h_xstatus(void *arg, struct cfs_rpc_req *rq,
		     const ProtobufCMessage *m)
{
	return mds_xstatus(MDS(arg), rq, (const void *)m);
}

static int h_xalloc(void *arg, struct cfs_rpc_req *rq,
		    const ProtobufCMessage *m)
{
	(void)m;
	return mds_xalloc(MDS(arg), rq);
}

#define TIER_HANDLER(name, fn, type)                                        \
	static int name(void *arg, struct cfs_rpc_req *rq,                 \
			const ProtobufCMessage *m)                         \
	{                                                                  \
		return fn(MDS(arg), rq, (const type *)m);                  \
	}
TIER_HANDLER(h_tier_scan, mds_tier_scan, Cfs__MdsTierScan)
TIER_HANDLER(h_tier_blob, mds_tier_blob, Cfs__MdsTierBlob)
TIER_HANDLER(h_tier_commit, mds_tier_commit, Cfs__MdsTierCommit)
TIER_HANDLER(h_tier_status, mds_tier_status, Cfs__MdsTierStatus)
TIER_HANDLER(h_tier_file, mds_tier_file, Cfs__MdsIno)
TIER_HANDLER(h_tier_mark, mds_tier_mark, Cfs__MdsTierFile)

#define METHOD(num, type, handler, cached)                                 \
	[CFS__MDS_METHOD__##num] = { .req_desc = &cfs__##type##__descriptor, \
				     .fn = handler, .cache_reply = cached }

static const struct cfs_rpc_method methods[] = {
	METHOD(MDS_LOOKUP, mds_name, h_lookup, false),
	METHOD(MDS_GETATTR, mds_ino, h_getattr, false),
	METHOD(MDS_SETATTR, mds_setattr, h_setattr, true),
	METHOD(MDS_MKNOD, mds_mknod, h_mknod, true),
	METHOD(MDS_MKDIR, mds_mknod, h_mkdir, true),
	METHOD(MDS_SYMLINK, mds_symlink, h_symlink, true),
	METHOD(MDS_LINK, mds_link, h_link, true),
	METHOD(MDS_UNLINK, mds_name, h_unlink, true),
	METHOD(MDS_RMDIR, mds_name, h_rmdir, true),
	METHOD(MDS_RENAME, mds_rename, h_rename, true),
	METHOD(MDS_READLINK, mds_ino, h_readlink, false),
	METHOD(MDS_READDIR, mds_readdir, h_readdir, false),
	METHOD(MDS_STATFS, mds_ino, h_statfs, false),
	METHOD(MDS_SETXATTR, mds_xattr, h_setxattr, true),
	METHOD(MDS_GETXATTR, mds_xattr, h_getxattr, false),
	METHOD(MDS_LISTXATTR, mds_ino, h_listxattr, false),
	METHOD(MDS_REMOVEXATTR, mds_xattr, h_removexattr, true),
	METHOD(MDS_OPEN, mds_open, h_open, true),
	METHOD(MDS_RELEASE, mds_ino, h_release, true),
	METHOD(MDS_WRITTEN, mds_written, h_written, true),
	METHOD(MDS_ACCESS, mds_open, h_access, false),
	METHOD(MDS_ACCESSED, mds_ino, h_accessed, true),
	METHOD(MDS_LOCK, mds_lock, h_lock, true),
	METHOD(MDS_UNLOCK_OWNER, mds_lock, h_unlock_owner, true),
	METHOD(MDS_KEEPALIVE, mds_empty, h_keepalive, false),
	METHOD(MDS_REOPEN, mds_reopen, h_reopen, false),
	[CFS__MDS_METHOD__MDS_WATCH] = { .req_desc = &cfs__mds_watch__descriptor,
					 .fn = h_watch, .waits = true },
	[CFS__MDS_METHOD__MDS_GET_MAP] = {
		.req_desc = &cfs__mds_get_map__descriptor, .fn = h_get_map,
		.waits = true },
	METHOD(MDS_REVOKE, mds_revoke, h_revoke, true),
	METHOD(MDS_OSD_ADMIN, mds_osd_admin, h_osd_admin, true),
	METHOD(MDS_REPLICA_CHANGE, mds_replica_change, h_replica_change, true),
	METHOD(MDS_CAP, mds_open, h_cap, false),
	METHOD(MDS_OSD_REGISTER, mds_osd_register, h_osd_register, true),
	METHOD(MDS_OSD_HEARTBEAT, mds_osd_heartbeat, h_osd_heartbeat, false),
	METHOD(MDS_GONE, mds_inodes, h_gone, false),
	METHOD(MDS_REPLICAS, mds_empty, h_replicas, false),
	METHOD(MDS_TIER_SCAN, mds_tier_scan, h_tier_scan, false),
	METHOD(MDS_TIER_BLOB, mds_tier_blob, h_tier_blob, true),
	METHOD(MDS_TIER_COMMIT, mds_tier_commit, h_tier_commit, true),
	METHOD(MDS_TIER_STATUS, mds_tier_status, h_tier_status, true),
	METHOD(MDS_TIER_FILE, mds_ino, h_tier_file, false),
	METHOD(MDS_TIER_MARK, mds_tier_file, h_tier_mark, true),
	/* Raft's own traffic must not wait behind the workers; nor may
	 * the shards' calls to one another (two shards' workers all
	 * waiting on each other would hang both) */
	[CFS__MDS_METHOD__MDS_RAFT] = {
		.req_desc = &cfs__mds_raft_data__descriptor, .fn = h_raft,
		.waits = true },
#define XMETHOD(num, type, handler)                                        \
	[CFS__MDS_METHOD__##num] = { .req_desc = &cfs__##type##__descriptor, \
				     .fn = handler, .waits = true }
	XMETHOD(MDS_XREAD, mds_xrecords, h_xread),
	XMETHOD(MDS_XPREPARE, mds_xprepare, h_xprepare),
	XMETHOD(MDS_XFINISH, mds_xfinish, h_xfinish),
	XMETHOD(MDS_XSTATUS, mds_xfinish, h_xstatus),
	XMETHOD(MDS_XALLOC, mds_empty, h_xalloc),
};

const struct cfs_rpc_method *mds_service_init(struct mds *mds, size_t *n)
{
	pthread_mutex_init(&mds->open_lock, NULL);
	pthread_mutex_init(&mds->tier_lock, NULL);
	cfs_locks_init(&mds->locks);
	mds->ns.is_open = mds_is_open;
	mds->ns.is_open_arg = mds;
	*n = sizeof(methods) / sizeof(methods[0]);
	return methods;
}

int mds_service_start(struct mds *mds)
{
	size_t n;
	const struct cfs_rpc_method *m = mds_service_init(mds, &n);

	return cfs_rpc_server_start(&mds->rpc, mds->cfg.listen, m, n, mds,
				    (int)mds->cfg.workers);
}
