/* The namespace: inodes, directory entries, xattrs and symlinks in LMDB.
 *
 * Every operation runs inside a transaction the caller owns (the MDS
 * service groups many into one commit; tests commit each). Operations
 * return 0 or a negative errno and enforce POSIX permissions from the
 * caller's credentials.
 *
 * Tables (keys are big-endian so entries of one parent sort together):
 *   inodes    ino                  -> struct cfs_inode
 *   dentries  parent ino + name    -> struct dentry_val (ino, type, cookie)
 *   cookies   parent ino + cookie  -> ino + name  (readdir order, stable
 *                                       cookies; "cookie_format" 2)
 *   xattrs    ino + name           -> value
 *   symlinks  ino                  -> target
 *   orphans   ino                  -> (unlinked while open)
 *   purge     ino                  -> size, layout code (data to delete
 *                                       on the OSDs)
 *   meta      name                 -> value (next inode number, epoch,
 *                                       formats, ...)
 *   osds      id                   -> OSD registration record
 *   done      client + request id  -> what a request that succeeded
 *                                       answered (the MDS's, opaque here)
 *   locks     ino                  -> the file's byte-range and flock
 *                                       locks (the MDS's, opaque here)
 *   xact      txid + kind          -> a transaction of several shards
 *                                       (mds/xshard.c's, opaque here)
 */
#ifndef CFS_MDS_NAMESPACE_H
#define CFS_MDS_NAMESPACE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfs/clock.h"
#include "cfs/cred.h"
#include "cfs/limits.h"

#define CFS_ROOT_INO 1ull
#define CFS_XATTR_SIZE_MAX 65536
#define CFS_INODE_REC_VERSION 1
#define CFS_INODE_HAS_ACL 1u	/* flags: an access ACL is stored */
/* flags bits 8-23: the layout code (cfs/layout.h) of a file, or of a
 * directory the files made in it take (0: the cluster's default) */
#define CFS_INODE_LAYOUT_SHIFT 8
#define CFS_LAYOUT_XATTR "user.cfs.layout"	/* read and set as text */
/* flags bits 24-25, directories: how many more levels below spread
 * their new directories over the shards (the root: CFS_SPREAD_LEVELS).
 * A directory made in one that spreads goes to the shard its parent
 * and name hash to, and spreads one level less; one made in a directory
 * that does not stays in its parent's shard. So the first levels (a
 * cluster's users and projects) spread, and deep trees stay together:
 * few operations cross shards. */
#define CFS_INODE_SPREAD_SHIFT 24
#define CFS_SPREAD_LEVELS 3

/* Shards (cfs/limits.h): a shard's store holds its inodes (with their
 * xattrs, symlink targets, orphan and purge records) and the names in
 * its directories. */

/* The inode record as stored. */
struct cfs_inode {
	uint32_t rec_version;
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid, gid;
	uint32_t flags;
	uint64_t ino;
	uint64_t size;
	uint64_t rdev;
	uint64_t generation;
	int64_t atime_ns, mtime_ns, ctime_ns, btime_ns;
	uint64_t parent;	/* directories: the parent directory; other
				 * inodes: the directory of their first link
				 * while it stays (0: unknown), which a
				 * subtree token's reach is judged by */
	uint64_t next_cookie;	/* directories: next readdir cookie */
};

static inline uint32_t cfs_inode_layout(const struct cfs_inode *in)
{
	return (in->flags >> CFS_INODE_LAYOUT_SHIFT) & 0xffffu;
}

struct cfs_redo;

/* A record of another shard's, as a mutation read it (present or not;
 * prefix: whether any key starts with key's 8-byte inode), or as it
 * wrote it (present: put val; else deleted). */
struct cfs_ns_rec {
	unsigned table;
	unsigned shard;	/* the owner */
	bool prefix, present;
	uint8_t *key, *val;
	size_t klen, vlen;
};

struct cfs_ns_recs {
	struct cfs_ns_rec *r;
	size_t n, cap;
};

/* A mutation's view of other shards (mds/xshard.c drives it): while a
 * mutation runs with one (cfs_ns_xctx_use), the namespace reads other
 * shards' records from `base` (what was fetched from their owners) or
 * from its own writes, records a read of one it lacks in `need` (and
 * fails -EREMOTE), and keeps its writes to them in `writes`, never in
 * the store; `remote` says it touched any. The time is fixed at the
 * first run (now_ns) and new inode numbers are kept (inos), so that a
 * mutation run again on the same records makes the same changes. */
struct cfs_ns_xctx {
	struct cfs_ns_recs base, writes, need;
	int64_t now_ns;
	uint64_t inos[4];
	size_t ninos, used_inos;
	uint64_t xino;	/* a number another shard gave a new directory */
	uint64_t txid;	/* a participant applying its part: the
			 * transaction whose reservations it may write */
	bool remote;
};

#define CFS_NS_NEST_MAX 4	/* write transactions nested in one another */

struct cfs_ns {
	MDB_env *env;
	MDB_dbi inodes, dentries, cookies, xattrs, symlinks, orphans, purge,
		meta, osds, done, locks, xact, tier, blobs;
	/* read-write opens: commits are made durable by the redo log */
	struct cfs_redo *redo;
	/* the open write transactions, innermost last, each with where
	 * its changes start in the redo record (the writer's only; wtop is
	 * read by any thread ending a transaction) */
	MDB_txn *_Atomic wtop;
	MDB_txn *wtxn[CFS_NS_NEST_MAX];
	size_t wmark[CFS_NS_NEST_MAX];
	int wdepth;
	/* asked when a link count drops to zero: keep the inode as an
	 * orphan while it is open. NULL: nothing is ever open. */
	bool (*is_open)(void *arg, uint64_t ino);
	/* the layout of files made where no directory sets one: the MDS
	 * sets it from the map (ec:4+2 from 6 failure domains) */
	_Atomic uint32_t default_layout;
	void *is_open_arg;
	/* told of every change a write transaction makes to what a client
	 * may cache: an inode (its record, xattrs, symlink target) or, with
	 * parent set, a name (the MDS's change feed). NULL: nobody asks. */
	void (*changed)(void *arg, uint64_t ino, uint64_t parent,
			const char *name, size_t len);
	void *changed_arg;
	unsigned shard;	/* this store's (meta "shard") */
	unsigned nshards;	/* of the cluster (0 or 1: one) */
	/* reads of other shards' records outside a mutation (lookups and
	 * listings name inodes of other shards): ask their owners for
	 * every record of want, each as read added to got. NULL: one
	 * shard, never asked. */
	int (*fetch)(void *arg, const struct cfs_ns_recs *want,
		     struct cfs_ns_recs *got);
	void *fetch_arg;
	/* whether a mutation may not write the records of inode ino: a
	 * transaction of several shards has them reserved (other than
	 * txid's). NULL: nothing ever is. */
	bool (*reserved)(void *arg, uint64_t ino, uint64_t txid);
	void *reserved_arg;
};

struct cfs_ns_opts {
	size_t map_size;	/* LMDB's map; 0: LMDB's default */
	size_t log_size;	/* a new redo log's ring; 0: 16 MiB */
	int checkpoint_ms;	/* -1: never by time (only by the log's and the
				 * pinned pages' growth); 0: every second */
	unsigned shard;		/* the store's shard: a new store of shard 0
				 * makes the root; an existing one must be
				 * this shard's (-EINVAL) */
};

/* Open (creating if needed) the store in dir, with a root directory,
 * replaying the redo log (redo.h). opts NULL: the defaults. */
int cfs_ns_open(struct cfs_ns *ns, const char *dir,
		const struct cfs_ns_opts *opts);
/* Open an existing store for reading only; safe beside a running MDS. */
int cfs_ns_open_readonly(struct cfs_ns *ns, const char *dir);
void cfs_ns_close(struct cfs_ns *ns);

/* Transactions. A write txn may be nested under parent (or NULL). */
int cfs_ns_begin(struct cfs_ns *ns, MDB_txn *parent, bool write, MDB_txn **txn);
int cfs_ns_commit(MDB_txn *txn);
void cfs_ns_abort(MDB_txn *txn);	/* NULL is a no-op */
int cfs_ns_errno(int mdb_rc);		/* LMDB code -> negative errno */

/* Attribute changes for cfs_ns_setattr (bits match proto SetattrValid). */
enum {
	CFS_SET_MODE = 1,
	CFS_SET_UID = 2,
	CFS_SET_GID = 4,
	CFS_SET_SIZE = 8,
	CFS_SET_ATIME = 16,
	CFS_SET_MTIME = 32,
	CFS_SET_ATIME_NOW = 64,
	CFS_SET_MTIME_NOW = 128,
	CFS_SET_CTIME = 256,
	CFS_SET_HANDLE = 512,	/* through an open file: no write check for size */
};

struct cfs_setattr {
	uint32_t valid;
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t atime_ns, mtime_ns, ctime_ns;
};

struct cfs_dirent {
	char name[CFS_NAME_MAX + 1];
	size_t namelen;
	uint64_t cookie;
	struct cfs_inode attr;
};

/* Read-only operations (any txn). */
int cfs_ns_getattr(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		   struct cfs_inode *out);
/* The number the next new inode takes: every inode made so far is
 * below it. */
int cfs_ns_next_ino(struct cfs_ns *ns, MDB_txn *txn, uint64_t *next);
/* Whether ino was allocated once and no longer exists (its data is
 * garbage; an inode past the allocator, of a store that lost recent
 * changes, is not); if it exists, its size. */
int cfs_ns_gone(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino, bool *gone,
		uint64_t *size);
/* The readdir cookie of parent's entry name. */
int cfs_ns_cookie(struct cfs_ns *ns, MDB_txn *txn, uint64_t parent,
		  const char *name, size_t len, uint64_t *cookie);
int cfs_ns_lookup(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		  uint64_t parent, const char *name, size_t len,
		  struct cfs_inode *out);
int cfs_ns_readlink(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino, char *buf,
		    size_t cap, size_t *len);
/* Up to max entries after cookie (0 = from the start). *eof when done. */
int cfs_ns_readdir(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		   uint64_t ino, uint64_t cookie, struct cfs_dirent *out,
		   size_t max, size_t *n, bool *eof);
int cfs_ns_access(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		  uint64_t ino, int mask);
/* Permission check for open(2) flags; returns the inode. */
int cfs_ns_open_check(struct cfs_ns *ns, MDB_txn *txn,
		      const struct cfs_cred *cr, uint64_t ino, int flags,
		      struct cfs_inode *out);
int cfs_ns_getxattr(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		    uint64_t ino, const char *name, void *buf, size_t cap,
		    size_t *len);
/* NUL-separated names, like listxattr(2). */
int cfs_ns_listxattr(struct cfs_ns *ns, MDB_txn *txn,
		     const struct cfs_cred *cr, uint64_t ino, char *buf,
		     size_t cap, size_t *len);
int cfs_ns_count_inodes(struct cfs_ns *ns, MDB_txn *txn, uint64_t *n);

/* Mutations (write txn). */
int cfs_ns_mknod(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		 uint64_t parent, const char *name, size_t len, uint32_t mode,
		 uint64_t rdev, bool exclusive, struct cfs_inode *out);
int cfs_ns_symlink(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		   uint64_t parent, const char *name, size_t len,
		   const char *target, size_t tlen, struct cfs_inode *out);
int cfs_ns_link(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		uint64_t ino, uint64_t newparent, const char *name, size_t len,
		struct cfs_inode *out);
int cfs_ns_unlink(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		  uint64_t parent, const char *name, size_t len);
int cfs_ns_rmdir(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		 uint64_t parent, const char *name, size_t len);
int cfs_ns_rename(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		  uint64_t parent, const char *name, size_t len,
		  uint64_t newparent, const char *newname, size_t newlen,
		  unsigned flags);
int cfs_ns_setattr(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		   uint64_t ino, const struct cfs_setattr *sa,
		   struct cfs_inode *out);
/* Data was written up to size at mtime: grow size, set mtime and ctime. */
int cfs_ns_written(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		   uint64_t size, int64_t mtime_ns, struct cfs_inode *out);
int cfs_ns_setxattr(struct cfs_ns *ns, MDB_txn *txn, const struct cfs_cred *cr,
		    uint64_t ino, const char *name, const void *value,
		    size_t len, int flags);
int cfs_ns_removexattr(struct cfs_ns *ns, MDB_txn *txn,
		       const struct cfs_cred *cr, uint64_t ino,
		       const char *name);
/* Read through an open file at atime_ns (0: now): atime moves to it
 * unless it is newer already (the open was the permission check). */
int cfs_ns_accessed(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		    int64_t atime_ns);
/* The last open of an orphan closed: free it. */
int cfs_ns_release_orphan(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino);
/* Free every orphan but those stays(arg, ino) keeps (NULL: none);
 * *count: how many were freed. */
int cfs_ns_reap_orphans(struct cfs_ns *ns, MDB_txn *txn,
			bool (*stays)(void *arg, uint64_t ino), void *arg,
			unsigned *count);
/* Data awaiting deletion on the OSDs: the first entry, and removal. */
int cfs_ns_purge_next(struct cfs_ns *ns, MDB_txn *txn, uint64_t after,
		      uint64_t *ino, uint64_t *size, uint32_t *layout);
int cfs_ns_purge_done(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino);

/* Whether ino (a directory, or another inode by the directory of its
 * first link: cfs_inode.parent) is ancestor or lies below it. */
int cfs_ns_within(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		  uint64_t ancestor, bool *within);

/* Requests done: what the MDS answered a request (client, request id)
 * that succeeded, kept so that a retry (across a restart or a failover)
 * gets that answer rather than running again. val is the MDS's. get:
 * -ENOENT if not kept. forget: the client's below request id `below`,
 * or, with old set, every record old says is. */
int cfs_ns_done_put(struct cfs_ns *ns, MDB_txn *txn, uint64_t client,
		    uint64_t request, const void *val, size_t len);
int cfs_ns_done_get(struct cfs_ns *ns, MDB_txn *txn, uint64_t client,
		    uint64_t request, void *val, size_t len);
int cfs_ns_done_forget(struct cfs_ns *ns, MDB_txn *txn, uint64_t client,
		       uint64_t below, bool (*old)(const MDB_val *val));

/* Locks: a file's, as the MDS stores them (len 0: none, the record
 * goes); each file's to fn (it may not change the table). */
int cfs_ns_locks_put(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		     const void *val, size_t len);
int cfs_ns_locks_each(struct cfs_ns *ns, MDB_txn *txn,
		      int (*fn)(void *arg, uint64_t ino, const void *val,
				size_t len),
		      void *arg);

/* Store key -> val in table dbi: the one way to write a record from
 * outside this module (so the redo log sees it). */
int cfs_ns_put(struct cfs_ns *ns, MDB_txn *txn, MDB_dbi dbi, MDB_val *key,
	       MDB_val *val);
/* ... and delete one (0 if there was none). */
int cfs_ns_del(struct cfs_ns *ns, MDB_txn *txn, MDB_dbi dbi, MDB_val *key);

/* Replication (mds/replica.c). The changes the open outer write
 * transaction made so far, in the redo log's form (cfs_redo_decode),
 * valid until it ends; apply such changes in txn (recorded like any
 * other); every record of the store as such changes (malloc'd), and
 * the store made exactly such a dump (every table emptied first). */
const uint8_t *cfs_ns_changes(struct cfs_ns *ns, size_t *len);
/* Commits from now on return before they are durable (cfs_redo_lazy):
 * a replica's changes are durable in its Raft log first. */
int cfs_ns_lazy(struct cfs_ns *ns);
int cfs_ns_apply(struct cfs_ns *ns, MDB_txn *txn, const uint8_t *p,
		 size_t len);
int cfs_ns_dump(struct cfs_ns *ns, MDB_txn *txn, uint8_t **buf, size_t *len);
int cfs_ns_load(struct cfs_ns *ns, MDB_txn *txn, const uint8_t *p,
		size_t len);

/* Shards. The thread's mutation view (NULL: none; the MDS's writer
 * sets it around each mutation). */
void cfs_ns_xctx_use(struct cfs_ns_xctx *x);
void cfs_ns_xctx_reset(struct cfs_ns_xctx *x);	/* for another run */
void cfs_ns_xctx_free(struct cfs_ns_xctx *x);
void cfs_ns_recs_free(struct cfs_ns_recs *rs);
/* Add a copy of rec (key, val) to rs, replacing one of the same key. */
int cfs_ns_recs_put(struct cfs_ns_recs *rs, const struct cfs_ns_rec *rec);
/* The shard owning a record of table with this key; -1: every shard
 * keeps its own (meta, osds, done, locks of its inodes are its inodes'). */
int cfs_ns_owner(const struct cfs_ns *ns, unsigned table, const void *key,
		 size_t klen);
/* The inode whose records a record is among (a name's: its directory);
 * what a transaction of several shards reserves. */
uint64_t cfs_ns_rec_ino(const struct cfs_ns_rec *rec);
/* Read a record of this store as rec asks (a point read or a prefix
 * probe): rec->present, rec->val malloc'd. */
int cfs_ns_read(struct cfs_ns *ns, MDB_txn *txn, struct cfs_ns_rec *rec);
/* The writes to shard's records as changes (cfs_redo_decode's form,
 * malloc'd), and such changes made in txn through the namespace's own
 * write path (the change feed hears of them). */
int cfs_ns_encode(const struct cfs_ns_recs *rs, unsigned shard,
		  uint8_t **buf, size_t *len);
int cfs_ns_apply_changes(struct cfs_ns *ns, MDB_txn *txn, const uint8_t *p,
			 size_t len);
/* The table numbers (as the redo log and the records name them). */
enum { CFS_NS_INODES, CFS_NS_DENTRIES, CFS_NS_COOKIES, CFS_NS_XATTRS,
       CFS_NS_SYMLINKS, CFS_NS_ORPHANS, CFS_NS_PURGE, CFS_NS_META,
       CFS_NS_OSDS, CFS_NS_DONE, CFS_NS_LOCKS, CFS_NS_XACT, CFS_NS_TIER,
       CFS_NS_BLOBS };

/* ---- tiering's records (mds/tierstore.c) ----
 * tier: inode -> MdsTierFile (protobuf): the file as tiered and where its
 *       bytes lie in the store;
 * blobs: blob id -> struct cfs_tier_blob: its size and the bytes in it
 *       that files still point at; pending from the id's allocation until
 *       the blob is stored and committed.
 * Blob ids come from meta "tier_next_blob" and are never used twice. */
struct cfs_tier_blob {
	uint64_t size;		/* 0 while pending */
	uint64_t live;		/* bytes files point at */
	uint32_t pending;
	uint32_t pad;
};
struct Cfs__MdsTierFile;
/* The file's record (malloc'd, cfs__mds_tier_file__free_unpacked), or
 * *out NULL when it has none. */
int cfs_tier_get(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		 struct Cfs__MdsTierFile **out);
/* Drop a file's record: its bytes stop counting in their blobs. */
int cfs_tier_forget(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino);
/* Replace a file's record with f, the blobs' counts with it. */
int cfs_tier_put(struct cfs_ns *ns, MDB_txn *txn,
		 const struct Cfs__MdsTierFile *f);
int cfs_tier_blob_get(struct cfs_ns *ns, MDB_txn *txn, uint64_t id,
		      struct cfs_tier_blob *out);
int cfs_tier_blob_set(struct cfs_ns *ns, MDB_txn *txn, uint64_t id,
		      const struct cfs_tier_blob *b);	/* NULL: remove */
/* A new blob id, recorded as pending. */
int cfs_tier_blob_alloc(struct cfs_ns *ns, MDB_txn *txn, uint64_t *id);

/* Small named values in the meta table. */
int cfs_ns_meta_get(struct cfs_ns *ns, MDB_txn *txn, const char *key,
		    uint64_t *val);
int cfs_ns_meta_put(struct cfs_ns *ns, MDB_txn *txn, const char *key,
		    uint64_t val);

#endif
