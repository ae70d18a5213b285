/* The namespace in LMDB. See namespace.h for the tables and contracts.
 *
 * Everything here is a function of (transaction, credentials, arguments):
 * no threads, no network. The MDS service decides which transaction an
 * operation joins; the unit tests drive these functions directly on a
 * real LMDB store in a temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "cfs/layout.h"
#include "cfs/log.h"
#include "namespace.h"
#include "redo.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

struct dentry_val {
	uint64_t ino;
	uint64_t cookie;
	uint32_t type;		/* mode & S_IFMT */
	uint32_t pad;
};

struct key {
	uint8_t b[16 + CFS_XATTR_NAME_MAX + 1];
	size_t len;
};

int cfs_ns_errno(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return -ENOSPC;
	case MDB_KEYEXIST:
		return -EEXIST;
	default:
		return rc > 0 && rc < 4096 ? -rc : -EIO;
	}
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void key_ino(struct key *k, uint64_t ino)
{
	put_be64(k->b, ino);
	k->len = 8;
}

static void key_ino_bytes(struct key *k, uint64_t ino, const void *s,
			  size_t len)
{
	put_be64(k->b, ino);
	if (len)	/* an empty name from the wire has no bytes at all */
		memcpy(k->b + 8, s, len);
	k->len = 8 + len;
}

static void key_ino_u64(struct key *k, uint64_t ino, uint64_t v)
{
	put_be64(k->b, ino);
	put_be64(k->b + 8, v);
	k->len = 16;
}

static MDB_val val_of(const void *p, size_t len)
{
	MDB_val v = { .mv_size = len, .mv_data = (void *)p };

	return v;
}

/* ---- store ---- */

/* The tables, in the order the redo log numbers them. */
static const struct {
	const char *name;
	size_t field;
} tables[] = {
	{ "inodes", offsetof(struct cfs_ns, inodes) },
	{ "dentries", offsetof(struct cfs_ns, dentries) },
	{ "cookies", offsetof(struct cfs_ns, cookies) },
	{ "xattrs", offsetof(struct cfs_ns, xattrs) },
	{ "symlinks", offsetof(struct cfs_ns, symlinks) },
	{ "orphans", offsetof(struct cfs_ns, orphans) },
	{ "purge", offsetof(struct cfs_ns, purge) },
	{ "meta", offsetof(struct cfs_ns, meta) },
	{ "osds", offsetof(struct cfs_ns, osds) },
	{ "done", offsetof(struct cfs_ns, done) },
	{ "locks", offsetof(struct cfs_ns, locks) },
	{ "xact", offsetof(struct cfs_ns, xact) },
	{ "tier", offsetof(struct cfs_ns, tier) },
	{ "blobs", offsetof(struct cfs_ns, blobs) },
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

static MDB_dbi *table_dbi(struct cfs_ns *ns, unsigned i)
{
	return (MDB_dbi *)((char *)ns + tables[i].field);
}

static unsigned table_of(struct cfs_ns *ns, MDB_dbi dbi)
{
	unsigned i = 0;

	while (i < NTABLES - 1 && *table_dbi(ns, i) != dbi)
		i++;
	return i;
}

/* ---- shards: records other shards own ---- */

/* the mutation this thread runs, if it has a view of other shards */
static _Thread_local struct cfs_ns_xctx *xctx;
/* records fetched outside a mutation (ns->fetch): those a listing
 * names, all at once (while it runs), and the last one read alone */
static _Thread_local struct cfs_ns_recs listed, fetched;

void cfs_ns_xctx_use(struct cfs_ns_xctx *x)
{
	xctx = x;
}

int cfs_ns_owner(const struct cfs_ns *ns, unsigned table, const void *key,
		 size_t klen)
{
	(void)ns;
	switch (table) {
	case CFS_NS_INODES:
	case CFS_NS_DENTRIES:
	case CFS_NS_COOKIES:
	case CFS_NS_XATTRS:
	case CFS_NS_SYMLINKS:
	case CFS_NS_ORPHANS:
	case CFS_NS_PURGE:
	case CFS_NS_LOCKS:
	case CFS_NS_TIER:
		return klen >= 8 ? (int)cfs_ino_shard(get_be64(key)) : -1;
	default:
		return -1;
	}
}

uint64_t cfs_ns_rec_ino(const struct cfs_ns_rec *rec)
{
	return rec->klen >= 8 ? get_be64(rec->key) : 0;
}

static bool remote_key(const struct cfs_ns *ns, unsigned table,
		       const MDB_val *k)
{
	int o = cfs_ns_owner(ns, table, k->mv_data, k->mv_size);

	return o >= 0 && (unsigned)o != ns->shard;
}

static struct cfs_ns_rec *recs_find(const struct cfs_ns_recs *rs,
				    unsigned table, bool prefix,
				    const void *key, size_t klen)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct cfs_ns_rec *r = &rs->r[i];

		if (r->table == table && r->prefix == prefix &&
		    r->klen == klen && memcmp(r->key, key, klen) == 0)
			return r;
	}
	return NULL;
}

int cfs_ns_recs_put(struct cfs_ns_recs *rs, const struct cfs_ns_rec *rec)
{
	struct cfs_ns_rec *r = recs_find(rs, rec->table, rec->prefix,
					 rec->key, rec->klen);
	uint8_t *val = NULL;

	if (rec->present && rec->vlen) {
		val = malloc(rec->vlen);
		if (!val)
			return ENOMEM;
		memcpy(val, rec->val, rec->vlen);
	}
	if (!r) {
		if (rs->n == rs->cap) {
			size_t cap = rs->cap ? rs->cap * 2 : 8;
			struct cfs_ns_rec *n = realloc(rs->r, cap * sizeof(*n));

			if (!n) {
				free(val);
				return ENOMEM;
			}
			rs->r = n;
			rs->cap = cap;
		}
		r = &rs->r[rs->n];
		*r = *rec;
		r->key = malloc(rec->klen ? rec->klen : 1);
		if (!r->key) {
			free(val);
			return ENOMEM;
		}
		memcpy(r->key, rec->key, rec->klen);
		rs->n++;
	} else {
		free(r->val);
	}
	r->present = rec->present;
	r->val = val;
	r->vlen = val ? rec->vlen : 0;
	return 0;
}

void cfs_ns_recs_free(struct cfs_ns_recs *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->r[i].key);
		free(rs->r[i].val);
	}
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

void cfs_ns_xctx_reset(struct cfs_ns_xctx *x)
{
	cfs_ns_recs_free(&x->writes);
	cfs_ns_recs_free(&x->need);
	x->used_inos = 0;
	x->remote = false;
}

void cfs_ns_xctx_free(struct cfs_ns_xctx *x)
{
	cfs_ns_xctx_reset(x);
	cfs_ns_recs_free(&x->base);
}

/* Another shard's record (a prefix probe: whether any key of the table
 * starts with key's inode): in a mutation, from its view (or noted as
 * needed: -EREMOTE); else asked of its owner now. 0 (*v set, valid
 * until the thread's next such read), -ENOENT, or another -errno. */
static int remote_get(struct cfs_ns *ns, unsigned table, bool prefix,
		      const MDB_val *k, MDB_val *v)
{
	struct cfs_ns_rec q = {
		.table = table,
		.shard = (unsigned)cfs_ns_owner(ns, table, k->mv_data,
						k->mv_size),
		.prefix = prefix,
		.key = k->mv_data,
		.klen = k->mv_size,
	};
	const struct cfs_ns_rec *r = NULL;
	int rc;

	if (xctx) {
		xctx->remote = true;
		if (!prefix)
			r = recs_find(&xctx->writes, table, false, q.key,
				      q.klen);
		if (!r)
			r = recs_find(&xctx->base, table, prefix, q.key,
				      q.klen);
		if (!r) {
			rc = cfs_ns_recs_put(&xctx->need, &q);
			return rc ? -rc : -EREMOTE;
		}
	} else {
		r = recs_find(&listed, table, prefix, q.key, q.klen);
		if (!r) {
			struct cfs_ns_recs want = { .r = &q, .n = 1, .cap = 1 };

			if (!ns->fetch)
				return -EXDEV;
			cfs_ns_recs_free(&fetched);
			rc = ns->fetch(ns->fetch_arg, &want, &fetched);
			if (rc)
				return rc;
			r = recs_find(&fetched, table, prefix, q.key, q.klen);
			if (!r)
				return -EBADMSG;
		}
	}
	if (!r->present)
		return -ENOENT;
	v->mv_data = r->val;
	v->mv_size = r->vlen;
	return 0;
}

/* A mutation's write of another shard's record: kept in its view. */
static int remote_write(struct cfs_ns *ns, unsigned table, const MDB_val *k,
			const MDB_val *v)
{
	struct cfs_ns_rec w = {
		.table = table,
		.shard = (unsigned)cfs_ns_owner(ns, table, k->mv_data,
						k->mv_size),
		.present = v != NULL,
		.key = k->mv_data,
		.klen = k->mv_size,
		.val = v ? v->mv_data : NULL,
		.vlen = v ? v->mv_size : 0,
	};

	if (!xctx)
		return EXDEV;
	xctx->remote = true;
	return cfs_ns_recs_put(&xctx->writes, &w);
}

/* A point read of this store or another shard's: 0, -ENOENT, ... */
static int ns_get(struct cfs_ns *ns, MDB_txn *txn, MDB_dbi dbi, MDB_val *k,
		  MDB_val *v)
{
	unsigned t = table_of(ns, dbi);

	if (remote_key(ns, t, k))
		return remote_get(ns, t, false, k, v);
	return cfs_ns_errno(mdb_get(txn, dbi, k, v));
}

/* Whether a mutation may write this local record: not while a
 * transaction of several shards holds its inode (ERESTART: run it
 * again later). */
static int ns_writable(struct cfs_ns *ns, unsigned table, const MDB_val *k)
{
	if (!ns->reserved || !xctx ||
	    cfs_ns_owner(ns, table, k->mv_data, k->mv_size) < 0)
		return 0;
	return ns->reserved(ns->reserved_arg, get_be64(k->mv_data),
			    xctx->txid) ? ERESTART : 0;
}

/* The operation's time: fixed for a mutation across its runs. */
static int64_t ns_now(void)
{
	if (!xctx)
		return cfs_real_ns();
	if (!xctx->now_ns)
		xctx->now_ns = cfs_real_ns();
	return xctx->now_ns;
}

/* A change that a client's cache may hold: an inode's record, xattrs
 * and symlink target are keyed by the inode first; a name by its
 * directory, then the name. */
static void note_change(struct cfs_ns *ns, MDB_dbi dbi, const MDB_val *k)
{
	const uint8_t *key = k->mv_data;

	if (!ns->changed || k->mv_size < 8)
		return;
	if (dbi == ns->dentries)
		ns->changed(ns->changed_arg, 0, get_be64(key),
			    (const char *)key + 8, k->mv_size - 8);
	else if (dbi == ns->inodes || dbi == ns->xattrs || dbi == ns->symlinks)
		ns->changed(ns->changed_arg, get_be64(key), 0, NULL, 0);
}

/* Every change to the store goes through ns_put, ns_del and
 * ns_cursor_del, so that the redo log records it and the change feed
 * hears of it. They return LMDB's codes. */
static int ns_change(struct cfs_ns *ns, MDB_txn *txn, MDB_dbi dbi,
		     MDB_val *k, MDB_val *v, unsigned flags)
{
	unsigned t = table_of(ns, dbi);
	int rc;

	if (remote_key(ns, t, k))
		return remote_write(ns, t, k, v);
	rc = ns_writable(ns, t, k);
	if (rc == 0)
		rc = v ? mdb_put(txn, dbi, k, v, flags) :
			 mdb_del(txn, dbi, k, NULL);
	if (rc == 0 && ns->redo)
		rc = v ? cfs_redo_put(ns->redo, t, k, v) :
			 cfs_redo_del(ns->redo, t, k);
	if (rc == 0)
		note_change(ns, dbi, k);
	return rc;
}

static int ns_put(struct cfs_ns *ns, MDB_txn *txn, MDB_dbi dbi, MDB_val *k,
		  MDB_val *v, unsigned flags)
{
	return ns_change(ns, txn, dbi, k, v, flags);
}

static int ns_del(struct cfs_ns *ns, MDB_txn *txn, MDB_dbi dbi, MDB_val *k)
{
	return ns_change(ns, txn, dbi, k, NULL, 0);
}

/* Delete the record under cur, whose key is k. */
static int ns_cursor_del(struct cfs_ns *ns, MDB_cursor *cur, MDB_dbi dbi,
			 const MDB_val *k)
{
	uint8_t key[512];
	MDB_val copy = { .mv_size = k->mv_size, .mv_data = key };
	int rc;

	if (k->mv_size > sizeof(key))
		return MDB_BAD_VALSIZE;
	memcpy(key, k->mv_data, k->mv_size);	/* gone with the record */
	rc = ns_writable(ns, table_of(ns, dbi), &copy);
	if (rc == 0)
		rc = mdb_cursor_del(cur, 0);
	if (rc == 0 && ns->redo)
		rc = cfs_redo_del(ns->redo, table_of(ns, dbi), &copy);
	if (rc == 0)
		note_change(ns, dbi, &copy);
	return rc;
}

int cfs_ns_put(struct cfs_ns *ns, MDB_txn *txn, MDB_dbi dbi, MDB_val *key,
	       MDB_val *val)
{
	return cfs_ns_errno(ns_put(ns, txn, dbi, key, val, 0));
}

int cfs_ns_del(struct cfs_ns *ns, MDB_txn *txn, MDB_dbi dbi, MDB_val *key)
{
	int rc = ns_del(ns, txn, dbi, key);

	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

static struct cfs_ns *ns_of(MDB_txn *txn)
{
	return mdb_env_get_userctx(mdb_txn_env(txn));
}

/* Whether txn is the innermost open write transaction (and not a read
 * transaction of some other thread). */
static bool is_write_top(struct cfs_ns *ns, MDB_txn *txn)
{
	return ns && atomic_load(&ns->wtop) == txn;
}

static void wpop(struct cfs_ns *ns)
{
	ns->wdepth--;
	atomic_store(&ns->wtop, ns->wdepth ? ns->wtxn[ns->wdepth - 1] : NULL);
}

/* Write transactions: an outer one goes through the redo log (which may
 * make it wait for a checkpoint to take its snapshot); a nested one
 * remembers where its changes start in the record, to forget them if it
 * is aborted. */
int cfs_ns_begin(struct cfs_ns *ns, MDB_txn *parent, bool write, MDB_txn **txn)
{
	bool logged = write && !parent && ns->redo;
	int rc;

	*txn = NULL;
	if (!write)
		return cfs_ns_errno(mdb_txn_begin(ns->env, parent, MDB_RDONLY,
						  txn));
	if (ns->wdepth == CFS_NS_NEST_MAX)
		return -EDEADLK;
	if (logged) {
		rc = cfs_redo_begin(ns->redo);
		if (rc)
			return rc;
	}
	rc = mdb_txn_begin(ns->env, parent, 0, txn);
	if (rc) {
		if (logged)
			cfs_redo_abort(ns->redo, NULL);
		return cfs_ns_errno(rc);
	}
	ns->wtxn[ns->wdepth] = *txn;
	ns->wmark[ns->wdepth] = ns->redo ? cfs_redo_mark(ns->redo) : 0;
	ns->wdepth++;
	atomic_store(&ns->wtop, *txn);
	return 0;
}

int cfs_ns_commit(MDB_txn *txn)
{
	struct cfs_ns *ns = ns_of(txn);
	size_t mark;
	int rc;

	if (!is_write_top(ns, txn))
		return cfs_ns_errno(mdb_txn_commit(txn));
	mark = ns->wmark[ns->wdepth - 1];
	wpop(ns);
	if (ns->wdepth == 0 && ns->redo)
		return cfs_redo_commit(ns->redo, txn);
	rc = mdb_txn_commit(txn);
	if (rc && ns->redo)
		cfs_redo_rewind(ns->redo, mark);
	return cfs_ns_errno(rc);
}

void cfs_ns_abort(MDB_txn *txn)
{
	struct cfs_ns *ns;

	if (!txn)
		return;
	ns = ns_of(txn);
	if (!is_write_top(ns, txn)) {
		mdb_txn_abort(txn);
		return;
	}
	if (ns->redo)
		cfs_redo_rewind(ns->redo, ns->wmark[ns->wdepth - 1]);
	wpop(ns);
	if (ns->wdepth == 0 && ns->redo)
		cfs_redo_abort(ns->redo, txn);
	else
		mdb_txn_abort(txn);
}

int cfs_ns_meta_get(struct cfs_ns *ns, MDB_txn *txn, const char *key,
		    uint64_t *val)
{
	MDB_val k = val_of(key, strlen(key)), v;
	int rc = mdb_get(txn, ns->meta, &k, &v);

	if (rc)
		return cfs_ns_errno(rc);
	if (v.mv_size != sizeof(*val))
		return -EIO;
	memcpy(val, v.mv_data, sizeof(*val));
	return 0;
}

int cfs_ns_meta_put(struct cfs_ns *ns, MDB_txn *txn, const char *key,
		    uint64_t val)
{
	MDB_val k = val_of(key, strlen(key)), v = val_of(&val, sizeof(val));

	return cfs_ns_errno(ns_put(ns, txn, ns->meta, &k, &v, 0));
}

static int inode_get(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		     struct cfs_inode *out)
{
	struct key k;
	MDB_val kv, v;
	int rc;

	key_ino(&k, ino);
	kv = val_of(k.b, k.len);
	rc = ns_get(ns, txn, ns->inodes, &kv, &v);
	if (rc)
		return rc;
	if (v.mv_size != sizeof(*out))
		return -EIO;
	memcpy(out, v.mv_data, sizeof(*out));
	if (out->rec_version != CFS_INODE_REC_VERSION)
		return -EIO;
	return 0;
}

static int inode_put(struct cfs_ns *ns, MDB_txn *txn,
		     const struct cfs_inode *in)
{
	struct key k;
	MDB_val kv, v = val_of(in, sizeof(*in));

	key_ino(&k, in->ino);
	kv = val_of(k.b, k.len);
	return cfs_ns_errno(ns_put(ns, txn, ns->inodes, &kv, &v, 0));
}

static int make_root(struct cfs_ns *ns, MDB_txn *txn)
{
	struct cfs_inode root = {
		.rec_version = CFS_INODE_REC_VERSION,
		.mode = S_IFDIR | 0755,
		.nlink = 2,
		.ino = CFS_ROOT_INO,
		.generation = 1,
		.parent = CFS_ROOT_INO,
		.next_cookie = 1,
	};
	int rc;

	root.atime_ns = root.mtime_ns = root.ctime_ns = root.btime_ns =
		cfs_real_ns();
	rc = inode_put(ns, txn, &root);
	if (rc)
		return rc;
	return cfs_ns_meta_put(ns, txn, "next_ino", CFS_ROOT_INO + 1);
}

static int dentry_get(struct cfs_ns *ns, MDB_txn *txn, uint64_t parent,
		      const char *name, size_t len, struct dentry_val *out);
static int cookie_put(struct cfs_ns *ns, MDB_txn *txn, uint64_t parent,
		      uint64_t cookie, uint64_t ino, const char *name,
		      size_t len);

/* Readdir index records name the entry's inode since format 2 (meta
 * "cookie_format"); a store from before is converted when the MDS opens
 * it, and refused read-only until then. A record whose entry is gone
 * (which listings skipped) is dropped. */
static int cookies_upgrade(struct cfs_ns *ns, MDB_txn *txn, bool readonly)
{
	uint64_t format;
	MDB_cursor *cur;
	MDB_val k, v;
	int err = 0, rc = cfs_ns_meta_get(ns, txn, "cookie_format", &format);

	if (rc == 0)
		return format == 2 ? 0 : -EPROTO;
	if (rc != -ENOENT)
		return rc;
	rc = cfs_ns_errno(mdb_cursor_open(txn, ns->cookies, &cur));
	if (rc)
		return rc;
	/* a write moves the cursor: each record is found again by its key
	 * before stepping on, so none is seen twice */
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		uint8_t at[sizeof(((struct key *)0)->b)];
		MDB_val ak = val_of(at, k.mv_size);
		struct dentry_val dv;
		bool keep;

		if (readonly || k.mv_size > sizeof(at)) {
			err = readonly ? -EPROTO : -EIO;
			break;
		}
		memcpy(at, k.mv_data, k.mv_size);
		keep = k.mv_size == 16 && v.mv_size > 0 &&
		       v.mv_size <= CFS_NAME_MAX &&
		       dentry_get(ns, txn, get_be64(at), v.mv_data, v.mv_size,
				  &dv) == 0;
		err = keep ? cookie_put(ns, txn, get_be64(at), get_be64(at + 8),
					dv.ino, v.mv_data, v.mv_size) :
			     cfs_ns_errno(ns_del(ns, txn, ns->cookies, &ak));
		if (err)
			break;
		k = ak;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && keep)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (!err && rc != MDB_NOTFOUND)
		err = cfs_ns_errno(rc);
	if (err)
		return err;
	return readonly ? 0 : cfs_ns_meta_put(ns, txn, "cookie_format", 2);
}

/* Since format 2 (meta "parent_format") every inode records the
 * directory of its first link (cfs_inode.parent), which subtree tokens
 * judge reach by; a store from before gets, for each inode other than a
 * directory, the directory of the first entry naming it. A read-only
 * open leaves the store as it is. */
static int parents_upgrade(struct cfs_ns *ns, MDB_txn *txn, bool readonly)
{
	uint64_t format;
	MDB_cursor *cur;
	MDB_val k, v;
	int err = 0, rc = cfs_ns_meta_get(ns, txn, "parent_format", &format);

	if (rc == 0)
		return format == 2 ? 0 : -EPROTO;
	if (rc != -ENOENT || readonly)
		return rc == -ENOENT ? 0 : rc;
	rc = cfs_ns_errno(mdb_cursor_open(txn, ns->dentries, &cur));
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !err;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct dentry_val dv;
		struct cfs_inode in;

		if (k.mv_size < 8 || v.mv_size != sizeof(dv))
			continue;
		memcpy(&dv, v.mv_data, sizeof(dv));
		if (dv.type == S_IFDIR || inode_get(ns, txn, dv.ino, &in) ||
		    in.parent)
			continue;
		in.parent = get_be64(k.mv_data);
		err = inode_put(ns, txn, &in);
	}
	mdb_cursor_close(cur);
	if (!err && rc != MDB_NOTFOUND)
		err = cfs_ns_errno(rc);
	return err ? err : cfs_ns_meta_put(ns, txn, "parent_format", 2);
}

/* Replay: a redo record's change, in the open's transaction. */
struct replay {
	struct cfs_ns *ns;
	MDB_txn *txn;
};

static int replay_change(void *arg, unsigned table, MDB_val *key,
			 MDB_val *val)
{
	struct replay *rp = arg;
	MDB_dbi dbi;
	int rc;

	if (table >= NTABLES)
		return EINVAL;
	dbi = *table_dbi(rp->ns, table);
	if (val)
		return mdb_put(rp->txn, dbi, key, val, 0);
	rc = mdb_del(rp->txn, dbi, key, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- replication (mds/replica.c): changes as records ---- */

int cfs_ns_lazy(struct cfs_ns *ns)
{
	return ns->redo ? cfs_redo_lazy(ns->redo) : 0;
}

const uint8_t *cfs_ns_changes(struct cfs_ns *ns, size_t *len)
{
	*len = 0;
	return ns->redo ? cfs_redo_changes(ns->redo, len) : NULL;
}

/* A replicated change: as replay_change, and recorded in the redo log
 * (but not told to the change feed: the leader's told it). */
static int apply_change(void *arg, unsigned table, MDB_val *key,
			MDB_val *val)
{
	struct replay *rp = arg;
	int rc = replay_change(arg, table, key, val);

	if (rc == 0 && rp->ns->redo)
		rc = val ? cfs_redo_put(rp->ns->redo, table, key, val) :
			   cfs_redo_del(rp->ns->redo, table, key);
	return rc;
}

int cfs_ns_apply(struct cfs_ns *ns, MDB_txn *txn, const uint8_t *p,
		 size_t len)
{
	struct replay rp = { ns, txn };

	return cfs_redo_decode(p, len, apply_change, &rp);
}

static int has_prefix(MDB_txn *txn, MDB_dbi dbi, uint64_t ino, bool *found);

int cfs_ns_read(struct cfs_ns *ns, MDB_txn *txn, struct cfs_ns_rec *rec)
{
	MDB_val k = val_of(rec->key, rec->klen), v;
	bool found;
	int rc;

	rec->present = false;
	rec->val = NULL;
	rec->vlen = 0;
	if (rec->table >= NTABLES || rec->klen == 0 ||
	    rec->klen > sizeof(((struct key *)0)->b) ||
	    (rec->prefix && rec->klen != 8))
		return -EINVAL;
	if (rec->prefix) {
		rc = has_prefix(txn, *table_dbi(ns, rec->table),
				get_be64(rec->key), &found);
		rec->present = rc == 0 && found;
		return rc;
	}
	rc = mdb_get(txn, *table_dbi(ns, rec->table), &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return cfs_ns_errno(rc);
	rec->val = malloc(v.mv_size ? v.mv_size : 1);
	if (!rec->val)
		return -ENOMEM;
	memcpy(rec->val, v.mv_data, v.mv_size);
	rec->vlen = v.mv_size;
	rec->present = true;
	return 0;
}

int cfs_ns_encode(const struct cfs_ns_recs *rs, unsigned shard,
		  uint8_t **buf, size_t *len)
{
	size_t cap = 0;
	int rc = 0;

	*buf = NULL;
	*len = 0;
	for (size_t i = 0; !rc && i < rs->n; i++) {
		const struct cfs_ns_rec *r = &rs->r[i];
		MDB_val k = val_of(r->key, r->klen), v = val_of(r->val, r->vlen);

		if (r->shard == shard)
			rc = cfs_redo_encode(buf, len, &cap, r->present,
					     r->table, &k, &v);
	}
	if (rc) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return cfs_ns_errno(rc);
}

/* A change another shard's mutation made to this store's records:
 * through ns_put and ns_del, so the change feed hears of it. */
static int apply_noted(void *arg, unsigned table, MDB_val *key,
		       MDB_val *val)
{
	struct cfs_ns *ns = arg;
	MDB_dbi dbi;
	int rc;

	if (table >= NTABLES ||
	    cfs_ns_owner(ns, table, key->mv_data, key->mv_size) !=
		    (int)ns->shard)
		return EINVAL;
	dbi = *table_dbi(ns, table);
	if (val)
		return ns_put(ns, ns->wtxn[ns->wdepth - 1], dbi, key, val, 0);
	rc = ns_del(ns, ns->wtxn[ns->wdepth - 1], dbi, key);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int cfs_ns_apply_changes(struct cfs_ns *ns, MDB_txn *txn, const uint8_t *p,
			 size_t len)
{
	if (!is_write_top(ns, txn))
		return -EINVAL;
	return cfs_redo_decode(p, len, apply_noted, ns);
}

int cfs_ns_dump(struct cfs_ns *ns, MDB_txn *txn, uint8_t **buf, size_t *len)
{
	size_t cap = 0;
	int rc = 0;

	*buf = NULL;
	*len = 0;
	for (unsigned i = 0; !rc && i < NTABLES; i++) {
		MDB_cursor *cur;
		MDB_val k, v;

		rc = mdb_cursor_open(txn, *table_dbi(ns, i), &cur);
		if (rc)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		while (rc == 0) {
			rc = cfs_redo_encode(buf, len, &cap, true, i, &k, &v);
			if (!rc)
				rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (rc) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return cfs_ns_errno(rc);
}

int cfs_ns_load(struct cfs_ns *ns, MDB_txn *txn, const uint8_t *p,
		size_t len)
{
	int rc = 0;

	for (unsigned i = 0; !rc && i < NTABLES; i++) {
		MDB_dbi dbi = *table_dbi(ns, i);
		MDB_cursor *cur;
		MDB_val k, v;

		rc = mdb_cursor_open(txn, dbi, &cur);
		if (rc)
			break;
		while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
			uint8_t key[512];
			MDB_val c = { .mv_size = k.mv_size, .mv_data = key };

			if (k.mv_size > sizeof(key)) {
				rc = MDB_BAD_VALSIZE;
				break;
			}
			memcpy(key, k.mv_data, k.mv_size);	/* gone with it */
			rc = apply_change(&(struct replay){ ns, txn }, i, &c,
					  NULL);
			if (rc)
				break;
		}
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	return rc ? cfs_ns_errno(rc) : cfs_ns_apply(ns, txn, p, len);
}

/* The store's shard (meta "shard"; none: shard 0, as every store was
 * before shards). A new store of another shard takes its first inode
 * number from the shard's range; an existing one must be the shard
 * asked for (readonly: takes the store's). */
static int shard_check(struct cfs_ns *ns, MDB_txn *txn, unsigned want,
		       bool readonly)
{
	uint64_t shard = 0, next;
	int rc = cfs_ns_meta_get(ns, txn, "shard", &shard);

	if (rc && rc != -ENOENT)
		return rc;
	if (rc == -ENOENT && !readonly) {
		rc = cfs_ns_meta_get(ns, txn, "next_ino", &next);
		if (rc == -ENOENT && want) {	/* new */
			shard = want;
			rc = cfs_ns_meta_put(ns, txn, "next_ino",
					     (uint64_t)want << CFS_SHARD_SHIFT |
						     1);
		} else if (rc == 0 || rc == -ENOENT) {
			rc = 0;
		}
		if (!rc && shard)
			rc = cfs_ns_meta_put(ns, txn, "shard", shard);
		if (rc)
			return rc;
	}
	if (!readonly && shard != want) {
		cfs_log_error("the metadata store is another shard's",
			      "store_shard=%lu shard=%u", (unsigned long)shard,
			      want);
		return -EINVAL;
	}
	ns->shard = (unsigned)shard;
	return 0;
}

/* A read-write open takes the redo log first (restoring the last
 * checkpoint's meta pages), replays it in the open's transaction, which
 * commits with a full sync, and only then turns to logged commits. */
static int ns_open(struct cfs_ns *ns, const char *dir,
		   const struct cfs_ns_opts *opts, bool readonly)
{
	struct cfs_redo *redo = NULL;
	struct cfs_inode root;
	uint64_t replayed = 0;
	MDB_txn *txn = NULL;
	int rc;

	memset(ns, 0, sizeof(*ns));
	if (!readonly) {
		int cp_ms = opts->checkpoint_ms;

		rc = cfs_redo_open(&redo, dir, opts->log_size,
				   cp_ms < 0 ? 0 :
				   cp_ms ? cp_ms :
					   CFS_REDO_CHECKPOINT_MS_DEFAULT);
		if (rc)
			return rc;
	}
	rc = mdb_env_create(&ns->env);
	if (rc) {
		cfs_redo_close(redo);
		return cfs_ns_errno(rc);
	}
	mdb_env_set_userctx(ns->env, ns);
	mdb_env_set_maxdbs(ns->env, 16);
	if (opts->map_size)
		mdb_env_set_mapsize(ns->env, opts->map_size);
	mdb_env_set_maxreaders(ns->env, 512);
	rc = cfs_ns_errno(mdb_env_open(ns->env, dir,
				       MDB_NOTLS | (readonly ? MDB_RDONLY : 0),
				       0600));
	if (rc)
		goto fail;
	rc = cfs_ns_begin(ns, NULL, !readonly, &txn);
	if (rc)
		goto fail;
	for (unsigned i = 0; i < NTABLES; i++) {
		rc = cfs_ns_errno(mdb_dbi_open(txn, tables[i].name,
					       readonly ? 0 : MDB_CREATE,
					       table_dbi(ns, i)));
		if (rc)
			goto fail;
	}
	if (redo) {
		struct replay rp = { ns, txn };

		rc = cfs_redo_replay(redo, replay_change, &rp, &replayed);
		if (rc)
			goto fail;
	}
	rc = shard_check(ns, txn, opts->shard, readonly);
	if (!rc && ns->shard == 0)
		rc = inode_get(ns, txn, CFS_ROOT_INO, &root);
	if (rc == -ENOENT && !readonly)
		rc = make_root(ns, txn);
	if (!rc)
		rc = cookies_upgrade(ns, txn, readonly);
	if (!rc)
		rc = parents_upgrade(ns, txn, readonly);
	if (rc)
		goto fail;
	rc = cfs_ns_commit(txn);
	txn = NULL;
	if (!rc && redo)
		rc = cfs_redo_start(redo, ns->env);
	if (rc)
		goto fail;
	if (replayed)
		cfs_log_info("metadata store recovered from its redo log",
			     "dir=%s records=%lu", dir,
			     (unsigned long)replayed);
	ns->redo = redo;
	return 0;
fail:
	cfs_ns_abort(txn);
	cfs_redo_close(redo);
	mdb_env_close(ns->env);
	ns->env = NULL;
	return rc;
}

int cfs_ns_open(struct cfs_ns *ns, const char *dir,
		const struct cfs_ns_opts *opts)
{
	static const struct cfs_ns_opts defaults;

	return ns_open(ns, dir, opts ? opts : &defaults, false);
}

int cfs_ns_open_readonly(struct cfs_ns *ns, const char *dir)
{
	static const struct cfs_ns_opts defaults;

	return ns_open(ns, dir, &defaults, true);
}

void cfs_ns_close(struct cfs_ns *ns)
{
	cfs_redo_close(ns->redo);
	ns->redo = NULL;
	if (ns->env)
		mdb_env_close(ns->env);
	ns->env = NULL;
}

/* ---- permissions ---- */

/* mask is R_OK | W_OK | X_OK. Root passes all but executing a file that
 * has no execute bit at all. */
static int may_mode(const struct cfs_cred *cr, const struct cfs_inode *in,
		    int mask)
{
	unsigned bits;

	if (cr->uid == 0) {
		if (!(mask & X_OK) || S_ISDIR(in->mode) || (in->mode & 0111))
			return 0;
		return -EACCES;
	}
	if (cr->uid == in->uid)
		bits = (in->mode >> 6) & 7;
	else if (cfs_cred_in_group(cr, in->gid))
		bits = (in->mode >> 3) & 7;
	else
		bits = in->mode & 7;
	return ((int)bits & mask) == mask ? 0 : -EACCES;
}

static int xattr_get_raw(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
			 const char *name, MDB_val *out);

/* Permission from the mode bits, or from the access ACL where the inode
 * has one (root passes as with the mode). */
static int may(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
	       const struct cfs_inode *in, int mask)
{
	MDB_val v;

	if (cr->uid == 0 || !(in->flags & CFS_INODE_HAS_ACL) ||
	    xattr_get_raw(ns, txn, in->ino, CFS_ACL_ACCESS, &v) ||
	    cfs_acl_valid(v.mv_data, v.mv_size))
		return may_mode(cr, in, mask);
	return cfs_acl_permits(v.mv_data, v.mv_size, in->uid, in->gid, cr,
			       mask) ? 0 : -EACCES;
}

/* Removing or renaming victim out of a sticky directory dir. */
static int sticky_ok(const struct cfs_cred *cr, const struct cfs_inode *dir,
		     const struct cfs_inode *victim)
{
	if (!(dir->mode & S_ISVTX) || cr->uid == 0 || cr->uid == victim->uid ||
	    cr->uid == dir->uid)
		return 0;
	return -EPERM;
}

static int check_name(const char *name, size_t len)
{
	if (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	if (len > CFS_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static bool is_dot(const char *name, size_t len)
{
	return (len == 1 && name[0] == '.') ||
	       (len == 2 && name[0] == '.' && name[1] == '.');
}

/* A directory we may modify: exists, is a directory, not removed, and
 * the caller has write and search permission. */
static int dir_for_change(struct cfs_ns *ns, MDB_txn *txn,
			  const struct cfs_cred *cr, uint64_t ino,
			  struct cfs_inode *dir)
{
	int rc = inode_get(ns, txn, ino, dir);

	if (rc)
		return rc;
	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (dir->nlink == 0)
		return -ENOENT;
	return may(ns, txn, cr, dir, W_OK | X_OK);
}

/* ---- directory entries ---- */

static int dentry_get(struct cfs_ns *ns, MDB_txn *txn, uint64_t parent,
		      const char *name, size_t len, struct dentry_val *out)
{
	struct key k;
	MDB_val kv, v;
	int rc;

	key_ino_bytes(&k, parent, name, len);
	kv = val_of(k.b, k.len);
	rc = ns_get(ns, txn, ns->dentries, &kv, &v);
	if (rc)
		return rc;
	if (v.mv_size != sizeof(*out))
		return -EIO;
	memcpy(out, v.mv_data, sizeof(*out));
	return 0;
}

/* The readdir index record of (parent, cookie): the entry's inode and
 * name, so a listing needs no lookup of the entry itself. */
static int cookie_put(struct cfs_ns *ns, MDB_txn *txn, uint64_t parent,
		      uint64_t cookie, uint64_t ino, const char *name,
		      size_t len)
{
	uint8_t val[8 + CFS_NAME_MAX];
	struct key k;
	MDB_val kv, v;

	put_be64(val, ino);
	memcpy(val + 8, name, len);
	key_ino_u64(&k, parent, cookie);
	kv = val_of(k.b, k.len);
	v = val_of(val, 8 + len);
	return cfs_ns_errno(ns_put(ns, txn, ns->cookies, &kv, &v, 0));
}

/* Add name -> ino in dir, taking the directory's next cookie. The caller
 * writes dir back. */
static int dentry_add(struct cfs_ns *ns, MDB_txn *txn, struct cfs_inode *dir,
		      const char *name, size_t len, uint64_t ino, uint32_t mode)
{
	struct dentry_val dv = {
		.ino = ino,
		.cookie = dir->next_cookie++,
		.type = mode & S_IFMT,
	};
	struct key k;
	MDB_val kv, v = val_of(&dv, sizeof(dv));
	int rc;

	key_ino_bytes(&k, dir->ino, name, len);
	kv = val_of(k.b, k.len);
	rc = ns_put(ns, txn, ns->dentries, &kv, &v, MDB_NOOVERWRITE);
	if (rc)
		return cfs_ns_errno(rc);
	return cookie_put(ns, txn, dir->ino, dv.cookie, ino, name, len);
}

/* Point an existing entry at another inode, keeping its cookie. */
static int dentry_repoint(struct cfs_ns *ns, MDB_txn *txn, uint64_t parent,
			  const char *name, size_t len,
			  const struct dentry_val *old, uint64_t ino,
			  uint32_t mode)
{
	struct dentry_val dv = *old;
	struct key k;
	MDB_val kv, v = val_of(&dv, sizeof(dv));
	int rc;

	dv.ino = ino;
	dv.type = mode & S_IFMT;
	key_ino_bytes(&k, parent, name, len);
	kv = val_of(k.b, k.len);
	rc = cfs_ns_errno(ns_put(ns, txn, ns->dentries, &kv, &v, 0));
	return rc ? rc : cookie_put(ns, txn, parent, dv.cookie, ino, name, len);
}

static int dentry_del(struct cfs_ns *ns, MDB_txn *txn, uint64_t parent,
		      const char *name, size_t len,
		      const struct dentry_val *dv)
{
	struct key k;
	MDB_val kv;
	int rc;

	key_ino_bytes(&k, parent, name, len);
	kv = val_of(k.b, k.len);
	rc = ns_del(ns, txn, ns->dentries, &kv);
	if (rc)
		return cfs_ns_errno(rc);
	key_ino_u64(&k, parent, dv->cookie);
	kv = val_of(k.b, k.len);
	rc = ns_del(ns, txn, ns->cookies, &kv);
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

/* Whether any key of table dbi starts with the 8-byte ino prefix. */
static int has_prefix(MDB_txn *txn, MDB_dbi dbi, uint64_t ino, bool *found)
{
	struct cfs_ns *ns = ns_of(txn);
	MDB_cursor *cur;
	struct key k;
	MDB_val kv, v;
	int rc;

	key_ino(&k, ino);
	kv = val_of(k.b, k.len);
	if (remote_key(ns, table_of(ns, dbi), &kv)) {
		rc = remote_get(ns, table_of(ns, dbi), true, &kv, &v);
		*found = rc == 0;
		return rc == -ENOENT ? 0 : rc;
	}
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return cfs_ns_errno(rc);
	rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
	*found = rc == 0 && kv.mv_size >= 8 && get_be64(kv.mv_data) == ino;
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

/* Delete every key of dbi starting with the ino prefix. */
static int del_prefix(struct cfs_ns *ns, MDB_txn *txn, MDB_dbi dbi,
		      uint64_t ino)
{
	MDB_cursor *cur;
	struct key k;
	MDB_val kv, v;
	int rc;

	key_ino(&k, ino);
	kv = val_of(k.b, k.len);
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return cfs_ns_errno(rc);
	rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
	while (rc == 0 && kv.mv_size >= 8 && get_be64(kv.mv_data) == ino) {
		rc = ns_cursor_del(ns, cur, dbi, &kv);
		if (rc)
			break;
		rc = mdb_cursor_get(cur, &kv, &v, MDB_GET_CURRENT);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND || rc == EINVAL ? 0 :
							       cfs_ns_errno(rc);
}

/* ---- inode life cycle ---- */

/* A mutation run again takes the numbers its first run took (the MDS
 * keeps them allocated: mds/xshard.c). */
static int alloc_ino(struct cfs_ns *ns, MDB_txn *txn, uint64_t *ino)
{
	int rc;

	if (xctx && xctx->used_inos < xctx->ninos) {
		*ino = xctx->inos[xctx->used_inos++];
		return 0;
	}
	rc = cfs_ns_meta_get(ns, txn, "next_ino", ino);
	if (rc)
		return rc;
	if (xctx && xctx->ninos < sizeof(xctx->inos) / sizeof(*ino)) {
		xctx->inos[xctx->ninos++] = *ino;
		xctx->used_inos++;
	}
	return cfs_ns_meta_put(ns, txn, "next_ino", *ino + 1);
}

/* Free an inode whose last link is gone and that nobody has open: its
 * records go now, its data is queued for deletion on the OSDs. */
static int free_inode(struct cfs_ns *ns, MDB_txn *txn,
		      const struct cfs_inode *in)
{
	struct key k;
	MDB_val kv, v;
	int rc;

	key_ino(&k, in->ino);
	kv = val_of(k.b, k.len);
	rc = ns_del(ns, txn, ns->inodes, &kv);
	if (rc)
		return cfs_ns_errno(rc);
	rc = del_prefix(ns, txn, ns->xattrs, in->ino);
	if (rc)
		return rc;
	rc = ns_del(ns, txn, ns->symlinks, &kv);
	if (rc && rc != MDB_NOTFOUND)
		return cfs_ns_errno(rc);
	if (S_ISREG(in->mode)) {
		uint8_t rec[12];
		uint32_t layout = cfs_inode_layout(in);

		memcpy(rec, &in->size, 8);
		memcpy(rec + 8, &layout, 4);
		v = val_of(rec, sizeof(rec));
		rc = ns_put(ns, txn, ns->purge, &kv, &v, 0);
		if (rc)
			return cfs_ns_errno(rc);
		return cfs_tier_forget(ns, txn, in->ino);
	}
	return 0;
}

/* in just lost its last link (a directory: was removed). While anyone
 * has it open it stays, as an orphan, so that fstat and reads through
 * the open file or directory go on working. Another shard's inode
 * becomes an orphan too: its own shard knows whether it is open, and
 * frees it if not (mds/xshard.c). */
static int drop_inode(struct cfs_ns *ns, MDB_txn *txn, struct cfs_inode *in)
{
	struct key k;
	MDB_val kv, v = val_of("", 0);
	int rc;

	if (cfs_ino_shard(in->ino) != ns->shard ||
	    (ns->is_open && ns->is_open(ns->is_open_arg, in->ino))) {
		key_ino(&k, in->ino);
		kv = val_of(k.b, k.len);
		rc = ns_put(ns, txn, ns->orphans, &kv, &v, 0);
		if (rc)
			return cfs_ns_errno(rc);
		return inode_put(ns, txn, in);
	}
	return free_inode(ns, txn, in);
}

int cfs_ns_release_orphan(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino)
{
	struct cfs_inode in;
	struct key k;
	MDB_val kv;
	int rc;

	key_ino(&k, ino);
	kv = val_of(k.b, k.len);
	rc = ns_del(ns, txn, ns->orphans, &kv);
	if (rc)
		return cfs_ns_errno(rc);
	rc = inode_get(ns, txn, ino, &in);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	return free_inode(ns, txn, &in);
}

int cfs_ns_reap_orphans(struct cfs_ns *ns, MDB_txn *txn,
			bool (*stays)(void *arg, uint64_t ino), void *arg,
			unsigned *count)
{
	MDB_cursor *cur;
	struct key k;
	MDB_val kv, v;
	uint64_t inos[256], after = 0;
	size_t n;
	int rc;

	*count = 0;
	do {
		n = 0;
		rc = mdb_cursor_open(txn, ns->orphans, &cur);
		if (rc)
			return cfs_ns_errno(rc);
		key_ino(&k, after + 1);
		kv = val_of(k.b, k.len);
		rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
		while (rc == 0 && n < 256) {
			inos[n++] = get_be64(kv.mv_data);
			rc = mdb_cursor_get(cur, &kv, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		for (size_t i = 0; i < n; i++) {
			after = inos[i];
			if (stays && stays(arg, inos[i]))
				continue;
			rc = cfs_ns_release_orphan(ns, txn, inos[i]);
			if (rc)
				return rc;
			(*count)++;
		}
	} while (n == 256);
	return 0;
}

int cfs_ns_purge_next(struct cfs_ns *ns, MDB_txn *txn, uint64_t after,
		      uint64_t *ino, uint64_t *size, uint32_t *layout)
{
	MDB_cursor *cur;
	struct key k;
	MDB_val kv, v;
	int rc;

	key_ino(&k, after + 1);
	kv = val_of(k.b, k.len);
	rc = mdb_cursor_open(txn, ns->purge, &cur);
	if (rc)
		return cfs_ns_errno(rc);
	rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
	if (rc == 0) {
		*ino = get_be64(kv.mv_data);
		*size = 0;
		*layout = 0;	/* an entry from before layouts: 8 bytes */
		if (v.mv_size >= sizeof(*size))
			memcpy(size, v.mv_data, sizeof(*size));
		if (v.mv_size == sizeof(*size) + sizeof(*layout))
			memcpy(layout, (char *)v.mv_data + 8, sizeof(*layout));
	}
	mdb_cursor_close(cur);
	return cfs_ns_errno(rc);
}

int cfs_ns_purge_done(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino)
{
	struct key k;
	MDB_val kv;
	int rc;

	key_ino(&k, ino);
	kv = val_of(k.b, k.len);
	rc = ns_del(ns, txn, ns->purge, &kv);
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

/* ---- requests done (service.c): what a retry is answered ---- */

static MDB_val done_key(uint8_t k[16], uint64_t client, uint64_t request)
{
	put_be64(k, client);
	put_be64(k + 8, request);
	return val_of(k, 16);
}

int cfs_ns_done_put(struct cfs_ns *ns, MDB_txn *txn, uint64_t client,
		    uint64_t request, const void *val, size_t len)
{
	uint8_t k[16];
	MDB_val kv = done_key(k, client, request);
	MDB_val v = val_of(val, len);

	return cfs_ns_errno(ns_put(ns, txn, ns->done, &kv, &v, 0));
}

int cfs_ns_done_get(struct cfs_ns *ns, MDB_txn *txn, uint64_t client,
		    uint64_t request, void *val, size_t len)
{
	uint8_t k[16];
	MDB_val kv = done_key(k, client, request), v;
	int rc = mdb_get(txn, ns->done, &kv, &v);

	if (rc)
		return cfs_ns_errno(rc);
	if (v.mv_size != len)
		return -EBADMSG;
	memcpy(val, v.mv_data, len);
	return 0;
}

int cfs_ns_done_forget(struct cfs_ns *ns, MDB_txn *txn, uint64_t client,
		       uint64_t below, bool (*old)(const MDB_val *val))
{
	uint8_t k[16];
	MDB_val kv = done_key(k, client, 0), v;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, ns->done, &cur);

	if (rc)
		return cfs_ns_errno(rc);
	if (old)
		kv.mv_size = 0;		/* every client's */
	rc = mdb_cursor_get(cur, &kv, &v, old ? MDB_FIRST : MDB_SET_RANGE);
	while (rc == 0) {
		const uint8_t *key = kv.mv_data;

		if (old ? !old(&v) :
			  get_be64(key) != client || get_be64(key + 8) >= below) {
			if (!old)
				break;
			rc = mdb_cursor_get(cur, &kv, &v, MDB_NEXT);
			continue;
		}
		rc = ns_cursor_del(ns, cur, ns->done, &kv);
		if (rc == 0)
			rc = mdb_cursor_get(cur, &kv, &v, MDB_GET_CURRENT);
		if (rc == EINVAL)	/* the cursor was past the last */
			rc = MDB_NOTFOUND;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

/* ---- locks (service.c) ---- */

int cfs_ns_locks_put(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		     const void *val, size_t len)
{
	struct key k;
	MDB_val kv, v = val_of(val, len);
	int rc;

	key_ino(&k, ino);
	kv = val_of(k.b, k.len);
	rc = len ? ns_put(ns, txn, ns->locks, &kv, &v, 0) :
		   ns_del(ns, txn, ns->locks, &kv);
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

int cfs_ns_locks_each(struct cfs_ns *ns, MDB_txn *txn,
		      int (*fn)(void *arg, uint64_t ino, const void *val,
				size_t len),
		      void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, ns->locks, &cur);

	if (rc)
		return cfs_ns_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		int err;

		if (k.mv_size != 8)
			continue;
		err = fn(arg, get_be64(k.mv_data), v.mv_data, v.mv_size);
		if (err) {
			mdb_cursor_close(cur);
			return err;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

int cfs_ns_count_inodes(struct cfs_ns *ns, MDB_txn *txn, uint64_t *n)
{
	MDB_stat st;
	int rc = mdb_stat(txn, ns->inodes, &st);

	*n = rc ? 0 : st.ms_entries;
	return cfs_ns_errno(rc);
}

/* ---- read-only operations ---- */

int cfs_ns_getattr(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		   struct cfs_inode *out)
{
	return inode_get(ns, txn, ino, out);
}

int cfs_ns_next_ino(struct cfs_ns *ns, MDB_txn *txn, uint64_t *next)
{
	return cfs_ns_meta_get(ns, txn, "next_ino", next);
}

int cfs_ns_gone(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino, bool *gone,
		uint64_t *size)
{
	struct cfs_inode in;
	uint64_t next;
	int rc = cfs_ns_next_ino(ns, txn, &next);

	*gone = false;
	*size = UINT64_MAX;
	if (rc || ino <= CFS_ROOT_INO || ino >= next)
		return rc;
	rc = inode_get(ns, txn, ino, &in);
	if (rc == 0)
		*size = in.size;
	*gone = rc == -ENOENT;
	return rc == -ENOENT ? 0 : rc;
}

int cfs_ns_cookie(struct cfs_ns *ns, MDB_txn *txn, uint64_t parent,
		  const char *name, size_t len, uint64_t *cookie)
{
	struct dentry_val dv;
	int rc = dentry_get(ns, txn, parent, name, len, &dv);

	*cookie = rc ? 0 : dv.cookie;
	return rc;
}

int cfs_ns_lookup(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		  uint64_t parent, const char *name, size_t len,
		  struct cfs_inode *out)
{
	struct cfs_inode dir;
	struct dentry_val dv;
	int rc;

	rc = inode_get(ns, txn, parent, &dir);
	if (rc)
		return rc;
	if (!S_ISDIR(dir.mode))
		return -ENOTDIR;
	rc = may(ns, txn, cr, &dir, X_OK);
	if (rc)
		return rc;
	if (len == 1 && name[0] == '.')
		return inode_get(ns, txn, parent, out);
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return inode_get(ns, txn, dir.parent, out);
	if (len > CFS_NAME_MAX)
		return -ENAMETOOLONG;
	rc = dentry_get(ns, txn, parent, name, len, &dv);
	if (rc)
		return rc;
	return inode_get(ns, txn, dv.ino, out);
}

int cfs_ns_readlink(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino, char *buf,
		    size_t cap, size_t *len)
{
	struct key k;
	MDB_val kv, v;
	int rc;

	key_ino(&k, ino);
	kv = val_of(k.b, k.len);
	rc = mdb_get(txn, ns->symlinks, &kv, &v);
	if (rc == MDB_NOTFOUND) {
		struct cfs_inode in;

		rc = inode_get(ns, txn, ino, &in);
		return rc ? rc : -EINVAL;
	}
	if (rc)
		return cfs_ns_errno(rc);
	if (v.mv_size > cap)
		return -ENAMETOOLONG;
	memcpy(buf, v.mv_data, v.mv_size);
	*len = v.mv_size;
	return 0;
}

/* The inodes of other shards that a listing of up to max names after
 * cookie names, asked of their owners all at once (else one call each). */
static int fetch_listed(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
			uint64_t cookie, size_t max)
{
	struct cfs_ns_recs want = { 0 };
	MDB_cursor *cur;
	struct key k;
	MDB_val kv, v;
	size_t seen = 0;
	int rc;

	cfs_ns_recs_free(&listed);
	if (!ns->fetch || xctx)
		return 0;
	key_ino_u64(&k, ino, cookie + 1);
	kv = val_of(k.b, k.len);
	rc = mdb_cursor_open(txn, ns->cookies, &cur);
	if (rc)
		return cfs_ns_errno(rc);
	for (rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
	     rc == 0 && seen++ < max && kv.mv_size == 16 &&
	     get_be64(kv.mv_data) == ino && v.mv_size > 8;
	     rc = mdb_cursor_get(cur, &kv, &v, MDB_NEXT)) {
		uint64_t child = get_be64(v.mv_data);
		struct key ck;
		struct cfs_ns_rec q = { .table = CFS_NS_INODES,
					.shard = cfs_ino_shard(child) };

		if (q.shard == ns->shard)
			continue;
		key_ino(&ck, child);
		q.key = ck.b;
		q.klen = ck.len;
		rc = cfs_ns_recs_put(&want, &q);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		cfs_ns_recs_free(&want);
		return cfs_ns_errno(rc);
	}
	rc = want.n ? ns->fetch(ns->fetch_arg, &want, &listed) : 0;
	cfs_ns_recs_free(&want);
	return rc;
}

int cfs_ns_readdir(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		   uint64_t ino, uint64_t cookie, struct cfs_dirent *out,
		   size_t max, size_t *n, bool *eof)
{
	struct cfs_inode dir;
	MDB_cursor *cur;
	struct key k;
	MDB_val kv, v;
	int rc;

	*n = 0;
	*eof = false;
	rc = inode_get(ns, txn, ino, &dir);
	if (rc)
		return rc;
	if (!S_ISDIR(dir.mode))
		return -ENOTDIR;
	rc = may(ns, txn, cr, &dir, R_OK);
	if (rc)
		return rc;
	rc = fetch_listed(ns, txn, ino, cookie, max);
	if (rc)
		return rc;
	key_ino_u64(&k, ino, cookie + 1);
	kv = val_of(k.b, k.len);
	rc = mdb_cursor_open(txn, ns->cookies, &cur);
	if (rc)
		return cfs_ns_errno(rc);
	rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
	while (*n < max) {
		struct cfs_dirent *d = &out[*n];

		if (rc || kv.mv_size != 16 || get_be64(kv.mv_data) != ino) {
			*eof = true;
			break;
		}
		if (v.mv_size <= 8 || v.mv_size > 8 + CFS_NAME_MAX) {
			rc = -EIO;
			break;
		}
		d->namelen = v.mv_size - 8;
		memcpy(d->name, (uint8_t *)v.mv_data + 8, d->namelen);
		d->name[d->namelen] = '\0';
		d->cookie = get_be64((uint8_t *)kv.mv_data + 8);
		rc = inode_get(ns, txn, get_be64(v.mv_data), &d->attr);
		if (rc == 0)
			(*n)++;
		else if (rc != -ENOENT)	/* (another shard not answering) */
			break;
		rc = mdb_cursor_get(cur, &kv, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	cfs_ns_recs_free(&listed);
	if (rc == MDB_NOTFOUND) {
		*eof = true;
		rc = 0;
	}
	if (rc < 0)
		return rc;
	return *eof || *n == max ? 0 : cfs_ns_errno(rc);
}

int cfs_ns_access(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		  uint64_t ino, int mask)
{
	struct cfs_inode in;
	int rc = inode_get(ns, txn, ino, &in);

	if (rc)
		return rc;
	return mask ? may(ns, txn, cr, &in, mask & (R_OK | W_OK | X_OK)) : 0;
}

int cfs_ns_open_check(struct cfs_ns *ns, MDB_txn *txn,
		      const struct cfs_cred *cr, uint64_t ino, int flags,
		      struct cfs_inode *out)
{
	int acc = flags & O_ACCMODE, mask, rc;

	rc = inode_get(ns, txn, ino, out);
	if (rc)
		return rc;
	mask = acc == O_RDONLY ? R_OK : acc == O_WRONLY ? W_OK : R_OK | W_OK;
	if (flags & O_TRUNC)
		mask |= W_OK;
	if (S_ISDIR(out->mode) && (mask & W_OK))
		return -EISDIR;
	return may(ns, txn, cr, out, mask);
}

/* ---- raw xattrs (ACLs live here too) ---- */

static int xattr_get_raw(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
			 const char *name, MDB_val *out)
{
	struct key k;
	MDB_val kv;

	key_ino_bytes(&k, ino, name, strlen(name));
	kv = val_of(k.b, k.len);
	return ns_get(ns, txn, ns->xattrs, &kv, out);
}

static int xattr_put_raw(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
			 const char *name, const void *value, size_t len)
{
	struct key k;
	MDB_val kv, v = val_of(value, len);

	key_ino_bytes(&k, ino, name, strlen(name));
	kv = val_of(k.b, k.len);
	return cfs_ns_errno(ns_put(ns, txn, ns->xattrs, &kv, &v, 0));
}

static int xattr_del_raw(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
			 const char *name)
{
	struct key k;
	MDB_val kv;
	int rc;

	key_ino_bytes(&k, ino, name, strlen(name));
	kv = val_of(k.b, k.len);
	rc = ns_del(ns, txn, ns->xattrs, &kv);
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

/* A new inode in dir: apply the umask, or the directory's default ACL
 * (which then replaces the umask, as POSIX says), storing the ACLs the
 * new inode gets. in->mode is final afterwards; in must be stored by the
 * caller. */
static int inherit_acl(struct cfs_ns *ns, MDB_txn *txn,
		       const struct cfs_cred *cr, const struct cfs_inode *dir,
		       struct cfs_inode *in)
{
	uint8_t acl[4 + 8 * 1024];
	uint32_t perm = in->mode & 0777;
	MDB_val def;
	int rc;

	if (S_ISLNK(in->mode))
		return 0;
	rc = xattr_get_raw(ns, txn, dir->ino, CFS_ACL_DEFAULT, &def);
	if (rc == -ENOENT) {
		in->mode &= ~(cr->umask & 0777);
		return 0;
	}
	if (rc)
		return rc;
	if (def.mv_size > sizeof(acl) || cfs_acl_valid(def.mv_data, def.mv_size))
		return -EIO;
	if (S_ISDIR(in->mode)) {
		rc = xattr_put_raw(ns, txn, in->ino, CFS_ACL_DEFAULT,
				   def.mv_data, def.mv_size);
		if (rc)
			return rc;
	}
	memcpy(acl, def.mv_data, def.mv_size);
	if (!cfs_acl_create(acl, def.mv_size, &perm)) {
		rc = xattr_put_raw(ns, txn, in->ino, CFS_ACL_ACCESS, acl,
				   def.mv_size);
		in->flags |= CFS_INODE_HAS_ACL;
	}
	in->mode = (in->mode & ~0777u) | perm;
	return rc;
}

/* ---- creating ---- */

static void init_inode(struct cfs_ns *ns, struct cfs_inode *in, uint64_t ino,
		       const struct cfs_cred *cr, const struct cfs_inode *dir,
		       uint32_t mode, uint64_t rdev)
{
	uint32_t layout = cfs_inode_layout(dir);

	memset(in, 0, sizeof(*in));
	/* files and directories take their directory's layout; a file
	 * where none is set, the cluster's default of the moment */
	if (S_ISREG(mode) && layout == 0)
		layout = ns->default_layout;
	if (S_ISREG(mode) || S_ISDIR(mode))
		in->flags = layout << CFS_INODE_LAYOUT_SHIFT;
	in->rec_version = CFS_INODE_REC_VERSION;
	in->ino = ino;
	in->mode = mode;
	in->uid = cr->uid;
	in->gid = cr->gid;
	in->rdev = rdev;
	in->nlink = S_ISDIR(mode) ? 2 : 1;
	in->generation = 1;
	in->atime_ns = in->mtime_ns = in->ctime_ns = in->btime_ns =
		ns_now();
	in->parent = dir->ino;
	if (S_ISDIR(mode))
		in->next_cookie = 1;
	if (dir->mode & S_ISGID) {
		/* a setgid directory passes on its group */
		in->gid = dir->gid;
		if (S_ISDIR(mode))
			in->mode |= S_ISGID;
		else if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
			 cr->uid != 0 && !cfs_cred_in_group(cr, in->gid))
			in->mode &= ~S_ISGID;
	}
}

/* The shard a new directory named name in dir goes to, and how many
 * levels below it spread (namespace.h, CFS_INODE_SPREAD_SHIFT). */
static unsigned dir_place(const struct cfs_ns *ns, const struct cfs_inode *dir,
			  const char *name, size_t len, unsigned *levels)
{
	unsigned spread = dir->ino == CFS_ROOT_INO ?
				  CFS_SPREAD_LEVELS :
				  (dir->flags >> CFS_INODE_SPREAD_SHIFT) & 3;
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	*levels = spread ? spread - 1 : 0;
	if (!spread || ns->nshards < 2)
		return ns->shard;
	for (int i = 0; i < 8; i++)
		h = (h ^ (uint8_t)(dir->ino >> (8 * i))) * 0x100000001b3ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
	return (unsigned)(h % ns->nshards);
}

/* A new inode number of shard: another shard's is asked of it (noted as
 * needed, the mutation runs again with it: mds/xshard.c). */
static int alloc_in(struct cfs_ns *ns, MDB_txn *txn, unsigned shard,
		    uint64_t *ino)
{
	static const char key[] = "next_ino";
	struct cfs_ns_rec q = { .table = CFS_NS_META, .shard = shard,
				.key = (uint8_t *)key, .klen = sizeof(key) - 1 };
	int rc;

	if (shard == ns->shard || !xctx)
		return alloc_ino(ns, txn, ino);
	xctx->remote = true;
	if (xctx->xino && cfs_ino_shard(xctx->xino) == shard) {
		*ino = xctx->xino;
		return 0;
	}
	rc = cfs_ns_recs_put(&xctx->need, &q);
	return rc ? -rc : -EREMOTE;
}

/* Common part of mknod, mkdir and symlink: a new inode linked into parent. */
static int create_entry(struct cfs_ns *ns, MDB_txn *txn,
			const struct cfs_cred *cr, uint64_t parent,
			const char *name, size_t len, uint32_t mode,
			uint64_t rdev, bool exclusive, struct cfs_inode *out)
{
	struct cfs_inode dir;
	struct dentry_val dv;
	uint64_t ino;
	int rc;

	rc = check_name(name, len);
	if (rc)
		return rc;
	rc = dir_for_change(ns, txn, cr, parent, &dir);
	if (rc)
		return rc;
	rc = dentry_get(ns, txn, parent, name, len, &dv);
	if (rc == 0) {
		if (exclusive || !S_ISREG(mode))
			return -EEXIST;
		return inode_get(ns, txn, dv.ino, out);
	}
	if (rc != -ENOENT)
		return rc;
	if (S_ISDIR(mode)) {
		unsigned levels, shard = dir_place(ns, &dir, name, len, &levels);

		rc = alloc_in(ns, txn, shard, &ino);
		if (rc)
			return rc;
		init_inode(ns, out, ino, cr, &dir, mode, rdev);
		out->flags |= levels << CFS_INODE_SPREAD_SHIFT;
	} else {
		rc = alloc_ino(ns, txn, &ino);
		if (rc)
			return rc;
		init_inode(ns, out, ino, cr, &dir, mode, rdev);
	}
	rc = inherit_acl(ns, txn, cr, &dir, out);
	if (rc)
		return rc;
	rc = dentry_add(ns, txn, &dir, name, len, ino, mode);
	if (rc)
		return rc;
	if (S_ISDIR(mode))
		dir.nlink++;
	dir.mtime_ns = dir.ctime_ns = out->ctime_ns;
	rc = inode_put(ns, txn, &dir);
	if (rc)
		return rc;
	return inode_put(ns, txn, out);
}

int cfs_ns_mknod(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		 uint64_t parent, const char *name, size_t len, uint32_t mode,
		 uint64_t rdev, bool exclusive, struct cfs_inode *out)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFIFO:
	case S_IFSOCK:
		rdev = 0;
		break;
	case S_IFCHR:
	case S_IFBLK:
		if (cr->uid != 0)
			return -EPERM;
		break;
	case 0:
		mode |= S_IFREG;
		break;
	default:
		return -EINVAL;
	}
	if (is_dot(name, len))
		return -EEXIST;
	return create_entry(ns, txn, cr, parent, name, len, mode & (S_IFMT | 07777),
			    rdev, exclusive, out);
}

int cfs_ns_symlink(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		   uint64_t parent, const char *name, size_t len,
		   const char *target, size_t tlen, struct cfs_inode *out)
{
	struct key k;
	MDB_val kv, v;
	int rc;

	if (tlen == 0)
		return -ENOENT;
	if (tlen >= 4096)
		return -ENAMETOOLONG;
	if (is_dot(name, len))
		return -EEXIST;
	rc = create_entry(ns, txn, cr, parent, name, len, S_IFLNK | 0777, 0,
			  true, out);
	if (rc)
		return rc;
	out->size = tlen;
	rc = inode_put(ns, txn, out);
	if (rc)
		return rc;
	key_ino(&k, out->ino);
	kv = val_of(k.b, k.len);
	v = val_of(target, tlen);
	return cfs_ns_errno(ns_put(ns, txn, ns->symlinks, &kv, &v, 0));
}

int cfs_ns_link(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		uint64_t ino, uint64_t newparent, const char *name, size_t len,
		struct cfs_inode *out)
{
	struct cfs_inode dir;
	struct dentry_val dv;
	int rc;

	rc = check_name(name, len);
	if (rc)
		return rc;
	if (is_dot(name, len))
		return -EEXIST;
	rc = inode_get(ns, txn, ino, out);
	if (rc)
		return rc;
	if (S_ISDIR(out->mode))
		return -EPERM;
	if (out->nlink == 0)
		return -ENOENT;
	rc = dir_for_change(ns, txn, cr, newparent, &dir);
	if (rc)
		return rc;
	rc = dentry_get(ns, txn, newparent, name, len, &dv);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	if (out->nlink >= 65000)
		return -EMLINK;
	rc = dentry_add(ns, txn, &dir, name, len, ino, out->mode);
	if (rc)
		return rc;
	out->nlink++;
	out->ctime_ns = dir.mtime_ns = dir.ctime_ns = ns_now();
	rc = inode_put(ns, txn, &dir);
	if (rc)
		return rc;
	return inode_put(ns, txn, out);
}

/* ---- removing ---- */

static int remove_entry(struct cfs_ns *ns, MDB_txn *txn,
			const struct cfs_cred *cr, uint64_t parent,
			const char *name, size_t len, bool want_dir)
{
	struct cfs_inode dir, victim;
	struct dentry_val dv;
	bool busy;
	int rc;

	if (len == 1 && name[0] == '.')
		return -EINVAL;
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return want_dir ? -ENOTEMPTY : -EISDIR;
	rc = check_name(name, len);
	if (rc)
		return rc;
	rc = dir_for_change(ns, txn, cr, parent, &dir);
	if (rc)
		return rc;
	rc = dentry_get(ns, txn, parent, name, len, &dv);
	if (rc)
		return rc;
	rc = inode_get(ns, txn, dv.ino, &victim);
	if (rc)
		return rc;
	if (want_dir && !S_ISDIR(victim.mode))
		return -ENOTDIR;
	if (!want_dir && S_ISDIR(victim.mode))
		return -EISDIR;
	rc = sticky_ok(cr, &dir, &victim);
	if (rc)
		return rc;
	if (want_dir) {
		rc = has_prefix(txn, ns->dentries, victim.ino, &busy);
		if (rc)
			return rc;
		if (busy)
			return -ENOTEMPTY;
	}
	rc = dentry_del(ns, txn, parent, name, len, &dv);
	if (rc)
		return rc;
	victim.ctime_ns = dir.mtime_ns = dir.ctime_ns = ns_now();
	if (want_dir) {
		dir.nlink--;
		victim.nlink = 0;
	} else {
		victim.nlink--;
		if (victim.parent == parent)	/* another link's now */
			victim.parent = 0;
	}
	rc = inode_put(ns, txn, &dir);
	if (rc)
		return rc;
	if (victim.nlink == 0)
		return drop_inode(ns, txn, &victim);
	return inode_put(ns, txn, &victim);
}

int cfs_ns_unlink(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		  uint64_t parent, const char *name, size_t len)
{
	return remove_entry(ns, txn, cr, parent, name, len, false);
}

int cfs_ns_rmdir(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		 uint64_t parent, const char *name, size_t len)
{
	return remove_entry(ns, txn, cr, parent, name, len, true);
}

/* ---- rename ---- */

/* Whether `ino` (a directory, or another inode by the directory of its
 * first link) is `ancestor` or lies below it. */
int cfs_ns_within(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		  uint64_t ancestor, bool *within)
{
	struct cfs_inode in;
	int rc, depth = 0;

	*within = false;
	while (depth++ < 100000) {
		if (ino == ancestor) {
			*within = true;
			return 0;
		}
		if (ino == CFS_ROOT_INO || ino == 0)
			return 0;
		rc = inode_get(ns, txn, ino, &in);
		if (rc)
			return rc;
		ino = in.parent;
	}
	return -ELOOP;
}

int cfs_ns_rename(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		  uint64_t parent, const char *name, size_t len,
		  uint64_t newparent, const char *newname, size_t newlen,
		  unsigned flags)
{
	struct cfs_inode sp, dp_store, src, dst;
	struct cfs_inode *dp = parent == newparent ? &sp : &dp_store;
	struct dentry_val sv, dv;
	bool have_dst, within, exchange = flags & RENAME_EXCHANGE;
	int64_t now = ns_now();
	int rc;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    (flags & RENAME_NOREPLACE && exchange))
		return -EINVAL;
	if (is_dot(name, len) || is_dot(newname, newlen))
		return -EBUSY;
	rc = check_name(name, len);
	if (!rc)
		rc = check_name(newname, newlen);
	if (!rc)
		rc = dir_for_change(ns, txn, cr, parent, &sp);
	if (!rc && dp != &sp)
		rc = dir_for_change(ns, txn, cr, newparent, dp);
	if (!rc)
		rc = dentry_get(ns, txn, parent, name, len, &sv);
	if (!rc)
		rc = inode_get(ns, txn, sv.ino, &src);
	if (rc)
		return rc;
	rc = dentry_get(ns, txn, newparent, newname, newlen, &dv);
	if (rc && rc != -ENOENT)
		return rc;
	have_dst = rc == 0;
	if (have_dst && flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (!have_dst && exchange)
		return -ENOENT;
	if (have_dst) {
		rc = inode_get(ns, txn, dv.ino, &dst);
		if (rc)
			return rc;
	}
	rc = sticky_ok(cr, &sp, &src);
	if (!rc && have_dst)
		rc = sticky_ok(cr, dp, &dst);
	if (rc)
		return rc;
	if (have_dst && dv.ino == sv.ino)
		return 0;	/* two links to one file: nothing to do */
	if (S_ISDIR(src.mode) && parent != newparent) {
		rc = cfs_ns_within(ns, txn, newparent, src.ino, &within);
		if (rc)
			return rc;
		if (within)
			return -EINVAL;
		rc = may(ns, txn, cr, &src, W_OK);
		if (rc)
			return rc;
	}
	if (have_dst && exchange && S_ISDIR(dst.mode) && parent != newparent) {
		rc = cfs_ns_within(ns, txn, parent, dst.ino, &within);
		if (rc)
			return rc;
		if (within)
			return -EINVAL;
		rc = may(ns, txn, cr, &dst, W_OK);
		if (rc)
			return rc;
	}
	if (exchange) {
		rc = dentry_repoint(ns, txn, parent, name, len, &sv, dst.ino,
				    dst.mode);
		if (!rc)
			rc = dentry_repoint(ns, txn, newparent, newname, newlen,
					    &dv, src.ino, src.mode);
		if (rc)
			return rc;
		if (parent != newparent) {
			if (S_ISDIR(src.mode)) {
				sp.nlink--;
				dp->nlink++;
			}
			if (S_ISDIR(dst.mode)) {
				dp->nlink--;
				sp.nlink++;
			}
			if (S_ISDIR(src.mode) || src.parent == parent)
				src.parent = newparent;
			if (S_ISDIR(dst.mode) || dst.parent == newparent)
				dst.parent = parent;
		}
		dst.ctime_ns = now;
		rc = inode_put(ns, txn, &dst);
		if (rc)
			return rc;
	} else {
		if (have_dst) {
			bool busy;

			if (S_ISDIR(src.mode) && !S_ISDIR(dst.mode))
				return -ENOTDIR;
			if (!S_ISDIR(src.mode) && S_ISDIR(dst.mode))
				return -EISDIR;
			if (S_ISDIR(dst.mode)) {
				rc = has_prefix(txn, ns->dentries, dst.ino,
						&busy);
				if (rc)
					return rc;
				if (busy)
					return -ENOTEMPTY;
			}
		}
		rc = dentry_del(ns, txn, parent, name, len, &sv);
		if (rc)
			return rc;
		if (have_dst) {
			rc = dentry_del(ns, txn, newparent, newname, newlen,
					&dv);
			if (rc)
				return rc;
			dst.ctime_ns = now;
			if (S_ISDIR(dst.mode)) {
				dst.nlink = 0;
				dp->nlink--;
			} else {
				dst.nlink--;
				if (dst.parent == newparent)
					dst.parent = 0;
			}
			rc = dst.nlink ? inode_put(ns, txn, &dst) :
					 drop_inode(ns, txn, &dst);
			if (rc)
				return rc;
		}
		rc = dentry_add(ns, txn, dp, newname, newlen, src.ino,
				src.mode);
		if (rc)
			return rc;
		if (S_ISDIR(src.mode) && parent != newparent) {
			sp.nlink--;
			dp->nlink++;
		}
		if (S_ISDIR(src.mode) || src.parent == parent)
			src.parent = newparent;
	}
	src.ctime_ns = now;
	sp.mtime_ns = sp.ctime_ns = dp->mtime_ns = dp->ctime_ns = now;
	rc = inode_put(ns, txn, &src);
	if (!rc)
		rc = inode_put(ns, txn, &sp);
	if (!rc && dp != &sp)
		rc = inode_put(ns, txn, dp);
	return rc;
}

/* ---- attributes ---- */

/* chmod on an inode with an access ACL rewrites its owner, mask and
 * other entries. */
static int acl_follow_mode(struct cfs_ns *ns, MDB_txn *txn,
			   const struct cfs_inode *in)
{
	uint8_t acl[4 + 8 * 1024];
	MDB_val v;
	int rc = xattr_get_raw(ns, txn, in->ino, CFS_ACL_ACCESS, &v);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (v.mv_size > sizeof(acl))
		return -EIO;
	memcpy(acl, v.mv_data, v.mv_size);
	cfs_acl_chmod(acl, v.mv_size, in->mode);
	return xattr_put_raw(ns, txn, in->ino, CFS_ACL_ACCESS, acl, v.mv_size);
}

/* Whether mode `to` is `from` less some of its set-ID bits. */
static bool drops_setid_only(uint32_t from, uint32_t to)
{
	from &= 07777;
	to &= 07777;
	return to != from && (to & ~(uint32_t)(S_ISUID | S_ISGID)) ==
				     (from & ~(uint32_t)(S_ISUID | S_ISGID)) &&
	       !(to & ~from);
}

int cfs_ns_setattr(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		   uint64_t ino, const struct cfs_setattr *sa,
		   struct cfs_inode *out)
{
	struct cfs_inode *in = out;
	bool owner, root = cr->uid == 0;
	int64_t now = ns_now();
	uint32_t v = sa->valid;
	int rc;

	rc = inode_get(ns, txn, ino, in);
	if (rc)
		return rc;
	owner = root || cr->uid == in->uid;
	if (v & CFS_SET_SIZE) {
		if (S_ISDIR(in->mode))
			return -EISDIR;
		if (!S_ISREG(in->mode))
			return -EINVAL;
		if (!(v & CFS_SET_HANDLE)) {
			rc = may(ns, txn, cr, in, W_OK);
			if (rc)
				return rc;
		}
	}
	/* utimensat: explicit times for the owner alone; both set to now
	 * for anyone who may write the file (a time set to now comes with
	 * its _NOW flag). Through a handle open for writing (a punch, a
	 * truncate) a time set to now is what a write does. */
	if (!owner && (v & (CFS_SET_ATIME | CFS_SET_MTIME | CFS_SET_ATIME_NOW |
			    CFS_SET_MTIME_NOW))) {
		bool explicit = ((v & CFS_SET_ATIME) && !(v & CFS_SET_ATIME_NOW)) ||
				((v & CFS_SET_MTIME) && !(v & CFS_SET_MTIME_NOW));
		bool both_now = (v & CFS_SET_ATIME_NOW) && (v & CFS_SET_MTIME_NOW);

		if (explicit || (!both_now && !(v & CFS_SET_HANDLE)))
			return -EPERM;
		if (!(v & CFS_SET_HANDLE) && may(ns, txn, cr, in, W_OK))
			return -EACCES;
	}
	if (v & CFS_SET_MODE) {
		/* anyone may drop set-user-ID and set-group-ID who may write
		 * the file: the kernel does so on their write or truncate (the
		 * kernel refuses another's chmod itself) */
		if (!owner && !drops_setid_only(in->mode, sa->mode))
			return -EPERM;
		if (!owner && !(v & CFS_SET_HANDLE)) {
			rc = may(ns, txn, cr, in, W_OK);
			if (rc)
				return rc;
		}
		in->mode = (in->mode & S_IFMT) | (sa->mode & 07777);
		if (!root && !cfs_cred_in_group(cr, in->gid))
			in->mode &= ~S_ISGID;
		rc = acl_follow_mode(ns, txn, in);
		if (rc)
			return rc;
	}
	if (v & (CFS_SET_UID | CFS_SET_GID)) {
		bool uid_change = (v & CFS_SET_UID) && sa->uid != in->uid;
		bool gid_change = (v & CFS_SET_GID) && sa->gid != in->gid;

		if (uid_change && !root)
			return -EPERM;
		if (gid_change && !root &&
		    (cr->uid != in->uid || !cfs_cred_in_group(cr, sa->gid)))
			return -EPERM;
		if (v & CFS_SET_UID)
			in->uid = sa->uid;
		if (v & CFS_SET_GID)
			in->gid = sa->gid;
		if (!S_ISDIR(in->mode) && (uid_change || gid_change || !root)) {
			in->mode &= ~S_ISUID;
			if (in->mode & S_IXGRP)
				in->mode &= ~S_ISGID;
		}
	}
	if (v & CFS_SET_SIZE) {
		in->size = sa->size;
		in->mtime_ns = now;
	}
	if (v & CFS_SET_ATIME)
		in->atime_ns = sa->atime_ns;
	if (v & CFS_SET_MTIME)
		in->mtime_ns = sa->mtime_ns;
	if (v & CFS_SET_ATIME_NOW)
		in->atime_ns = now;
	if (v & CFS_SET_MTIME_NOW)
		in->mtime_ns = now;
	in->ctime_ns = (v & CFS_SET_CTIME) ? sa->ctime_ns : now;
	return inode_put(ns, txn, in);
}

int cfs_ns_written(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		   uint64_t size, int64_t mtime_ns, struct cfs_inode *out)
{
	int rc = inode_get(ns, txn, ino, out);

	if (rc)
		return rc;
	if (!S_ISREG(out->mode))
		return -EINVAL;
	if (size > out->size)
		out->size = size;
	if (mtime_ns > out->mtime_ns)
		out->mtime_ns = mtime_ns;
	out->ctime_ns = ns_now();
	return inode_put(ns, txn, out);
}

int cfs_ns_accessed(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		    int64_t atime_ns)
{
	struct cfs_inode in;
	int rc = inode_get(ns, txn, ino, &in);

	if (rc)
		return rc;
	if (atime_ns <= 0)
		atime_ns = ns_now();
	if (atime_ns <= in.atime_ns)
		return 0;	/* a later read or utimensat was first */
	in.atime_ns = atime_ns;
	return inode_put(ns, txn, &in);
}

/* ---- extended attributes ---- */

enum xattr_ns {
	XNS_USER,
	XNS_TRUSTED,
	XNS_SECURITY,
	XNS_ACL_ACCESS,
	XNS_ACL_DEFAULT,
	XNS_SYSTEM,
	XNS_BAD
};

static enum xattr_ns xattr_namespace(const char *name)
{
	if (!strcmp(name, CFS_ACL_ACCESS))
		return XNS_ACL_ACCESS;
	if (!strcmp(name, CFS_ACL_DEFAULT))
		return XNS_ACL_DEFAULT;
	if (!strncmp(name, "user.", 5) && name[5])
		return XNS_USER;
	if (!strncmp(name, "trusted.", 8) && name[8])
		return XNS_TRUSTED;
	if (!strncmp(name, "security.", 9) && name[9])
		return XNS_SECURITY;
	if (!strncmp(name, "system.", 7))
		return XNS_SYSTEM;
	return XNS_BAD;
}

/* Permission to read (write=false) or change an xattr of in. */
static int xattr_may(struct cfs_ns *ns, MDB_txn *txn,
		     const struct cfs_cred *cr, const struct cfs_inode *in,
		     const char *name, bool write)
{
	switch (xattr_namespace(name)) {
	case XNS_USER:
		if (!S_ISREG(in->mode) && !S_ISDIR(in->mode))
			return write ? -EPERM : -ENODATA;
		return may(ns, txn, cr, in, write ? W_OK : R_OK);
	case XNS_TRUSTED:
		if (cr->uid != 0)
			return write ? -EPERM : -ENODATA;
		return 0;
	case XNS_SECURITY:
		if (write && cr->uid != 0 && cr->uid != in->uid)
			return -EPERM;
		return 0;
	case XNS_ACL_DEFAULT:
		if (!S_ISDIR(in->mode))
			return write ? -EACCES : -ENODATA;
		/* fall through */
	case XNS_ACL_ACCESS:
		if (S_ISLNK(in->mode))
			return write ? -EOPNOTSUPP : -ENODATA;
		if (write && cr->uid != 0 && cr->uid != in->uid)
			return -EPERM;
		return 0;
	case XNS_SYSTEM:
		return -EOPNOTSUPP;
	default:
		return -EOPNOTSUPP;
	}
}

/* The virtual CFS_LAYOUT_XATTR: the layout as text ("ec:4+2"), set on a
 * directory for the files made in it from then on, or on a file before
 * it has data (-EBUSY after: its chunks are laid out already). */
static int layout_get(const struct cfs_inode *in, void *buf, size_t cap,
		      size_t *len)
{
	struct cfs_layout l;
	char text[32];

	if (cfs_layout_unpack(cfs_inode_layout(in), &l))
		return -EIO;
	cfs_layout_format(&l, text, sizeof(text));
	*len = strlen(text);
	if (cap && *len > cap)
		return -ERANGE;
	if (cap)
		memcpy(buf, text, *len);
	return 0;
}

static int layout_set(struct cfs_ns *ns, MDB_txn *txn, struct cfs_inode *in,
		      const void *value, size_t len)
{
	struct cfs_layout l;
	char text[32];

	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, value, len);
	text[len] = 0;
	if (text[len - 1] == '\n')
		text[len - 1] = 0;
	if (cfs_layout_parse(text, &l))
		return -EINVAL;
	if (S_ISREG(in->mode) && in->size > 0)
		return -EBUSY;
	in->flags = (in->flags & ~(0xffffu << CFS_INODE_LAYOUT_SHIFT)) |
		    cfs_layout_pack(&l) << CFS_INODE_LAYOUT_SHIFT;
	in->ctime_ns = ns_now();
	return inode_put(ns, txn, in);
}

int cfs_ns_getxattr(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		    uint64_t ino, const char *name, void *buf, size_t cap,
		    size_t *len)
{
	struct cfs_inode in;
	size_t nlen = strlen(name);
	struct key k;
	MDB_val kv, v;
	int rc;

	if (nlen > CFS_XATTR_NAME_MAX)
		return -ERANGE;
	rc = inode_get(ns, txn, ino, &in);
	if (rc)
		return rc;
	rc = xattr_may(ns, txn, cr, &in, name, false);
	if (rc)
		return rc;
	if (!strcmp(name, CFS_LAYOUT_XATTR))
		return layout_get(&in, buf, cap, len);
	key_ino_bytes(&k, ino, name, nlen);
	kv = val_of(k.b, k.len);
	rc = mdb_get(txn, ns->xattrs, &kv, &v);
	if (rc == MDB_NOTFOUND)
		return -ENODATA;
	if (rc)
		return cfs_ns_errno(rc);
	*len = v.mv_size;
	if (cap && v.mv_size > cap)
		return -ERANGE;
	if (cap)
		memcpy(buf, v.mv_data, v.mv_size);
	return 0;
}

int cfs_ns_listxattr(struct cfs_ns *ns, MDB_txn *txn,
		     const struct cfs_cred *cr, uint64_t ino, char *buf,
		     size_t cap, size_t *len)
{
	struct cfs_inode in;
	MDB_cursor *cur;
	struct key k;
	MDB_val kv, v;
	int rc;

	*len = 0;
	rc = inode_get(ns, txn, ino, &in);
	if (rc)
		return rc;
	key_ino(&k, ino);
	kv = val_of(k.b, k.len);
	rc = mdb_cursor_open(txn, ns->xattrs, &cur);
	if (rc)
		return cfs_ns_errno(rc);
	rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
	while (rc == 0 && kv.mv_size > 8 && get_be64(kv.mv_data) == ino) {
		size_t nlen = kv.mv_size - 8;
		char name[CFS_XATTR_NAME_MAX + 1];

		memcpy(name, (char *)kv.mv_data + 8, nlen);
		name[nlen] = '\0';
		/* trusted.* is invisible to all but root, as on Linux */
		if (xattr_namespace(name) != XNS_TRUSTED || cr->uid == 0) {
			if (cap && *len + nlen + 1 > cap) {
				rc = -ERANGE;
				break;
			}
			if (cap)
				memcpy(buf + *len, name, nlen + 1);
			*len += nlen + 1;
		}
		rc = mdb_cursor_get(cur, &kv, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc == -ERANGE)
		return rc;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

int cfs_ns_setxattr(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		    uint64_t ino, const char *name, const void *value,
		    size_t len, int flags)
{
	struct cfs_inode in;
	size_t nlen = strlen(name);
	struct key k;
	MDB_val kv, v;
	int rc;

	if (nlen == 0 || nlen > CFS_XATTR_NAME_MAX)
		return -ERANGE;
	if (len > CFS_XATTR_SIZE_MAX)
		return -E2BIG;
	rc = inode_get(ns, txn, ino, &in);
	if (rc)
		return rc;
	rc = xattr_may(ns, txn, cr, &in, name, true);
	if (rc)
		return rc;
	if (!strcmp(name, CFS_LAYOUT_XATTR))
		return layout_set(ns, txn, &in, value, len);
	if (xattr_namespace(name) == XNS_ACL_ACCESS ||
	    xattr_namespace(name) == XNS_ACL_DEFAULT) {
		rc = cfs_acl_valid(value, len);
		if (rc)
			return rc;
	}
	if (xattr_namespace(name) == XNS_ACL_ACCESS) {
		/* the mode follows the ACL; an ACL the mode says it all
		 * of is not kept */
		in.mode = (in.mode & ~0777u) | cfs_acl_mode(value, len);
		if (cfs_acl_minimal(value, len)) {
			rc = xattr_del_raw(ns, txn, ino, name);
			if (rc)
				return rc;
			in.flags &= ~CFS_INODE_HAS_ACL;
			in.ctime_ns = ns_now();
			return inode_put(ns, txn, &in);
		}
		in.flags |= CFS_INODE_HAS_ACL;
	}
	key_ino_bytes(&k, ino, name, nlen);
	kv = val_of(k.b, k.len);
	rc = mdb_get(txn, ns->xattrs, &kv, &v);
	if (rc == 0 && (flags & XATTR_CREATE))
		return -EEXIST;
	if (rc == MDB_NOTFOUND && (flags & XATTR_REPLACE))
		return -ENODATA;
	if (rc && rc != MDB_NOTFOUND)
		return cfs_ns_errno(rc);
	v = val_of(value, len);
	rc = ns_put(ns, txn, ns->xattrs, &kv, &v, 0);
	if (rc)
		return cfs_ns_errno(rc);
	in.ctime_ns = ns_now();
	return inode_put(ns, txn, &in);
}

int cfs_ns_removexattr(struct cfs_ns *ns, MDB_txn *txn,
		       const struct cfs_cred *cr, uint64_t ino,
		       const char *name)
{
	struct cfs_inode in;
	size_t nlen = strlen(name);
	struct key k;
	MDB_val kv;
	int rc;

	if (nlen == 0 || nlen > CFS_XATTR_NAME_MAX)
		return -ERANGE;
	rc = inode_get(ns, txn, ino, &in);
	if (rc)
		return rc;
	rc = xattr_may(ns, txn, cr, &in, name, true);
	if (rc)
		return rc;
	if (!strcmp(name, CFS_LAYOUT_XATTR))
		return layout_set(ns, txn, &in, "default", 7);
	key_ino_bytes(&k, ino, name, nlen);
	kv = val_of(k.b, k.len);
	rc = ns_del(ns, txn, ns->xattrs, &kv);
	if (rc == MDB_NOTFOUND)
		return -ENODATA;
	if (rc)
		return cfs_ns_errno(rc);
	if (xattr_namespace(name) == XNS_ACL_ACCESS)
		in.flags &= ~CFS_INODE_HAS_ACL;
	in.ctime_ns = ns_now();
	return inode_put(ns, txn, &in);
}
