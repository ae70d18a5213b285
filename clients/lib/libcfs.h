/* libcfs: the client core shared by cfs-fuse, the CLI and (later) the
 * preload library and NFS gateway. It follows the cluster map, talks to
 * the MDS for metadata and straight to the OSDs for data, and checks the
 * CRC32C of every block it reads.
 *
 * All calls return 0 (or a byte count) or a negative errno, and are safe
 * to call from many threads at once.
 *
 * Writes: data is written behind (writeback.c, bounded by writeback_mb)
 * and is durable on every live replica once cfs_flush() or an fsync
 * returns; the file size and mtime that writes produce, and reads'
 * atimes, are kept here per inode and sent to the MDS on cfs_flush(), on
 * the last cfs_release() and before any size change (atimes also once a
 * second); cfs_getattr() merges them in, so this client always sees its
 * own changes. Other clients see them after close (close-to-open). */
#ifndef CFS_LIBCFS_H
#define CFS_LIBCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "cfs/cred.h"
#include "cfs/limits.h"

struct cfs_client;

struct cfs_client_opts {
	const char *mds;	/* host:port of the MDS */
	int connect_timeout_ms;	/* give up connecting after this (10000) */
	int mds_timeout_ms;	/* per attempt, for metadata calls (5000) */
	int mds_wait_ms;	/* a metadata call no MDS serves is asked
				 * again this long (60000; -1: until one
				 * does) */
	int osd_timeout_ms;	/* per attempt, for data calls (2000) */
	int io_deadline_ms;	/* retrying a write or read gives up after (30000) */
	int writeback_mb;	/* write-behind memory (64); -1: none, every
				 * write goes to the OSDs before it returns */
	int dir_lease_ms;	/* answer lookups from directory listings this
				 * old at most (0: never); see cfs_lookup */
	const char *cache_dir;	/* the data cache's directory (NULL: none;
				 * see cfs_cache_backing) */
	uint64_t cache_bytes;	/* ... and its bound */
};

struct cfs_attr {
	uint64_t ino, size, rdev, generation, blocks;
	uint32_t mode, nlink, uid, gid;
	uint32_t layout;	/* how its data is kept (cfs/layout.h) */
	int64_t atime_ns, mtime_ns, ctime_ns;
};

/* Bits of cfs_setattr's valid (same values as FUSE_SET_ATTR_*). */
enum {
	CFS_ATTR_MODE = 1 << 0,
	CFS_ATTR_UID = 1 << 1,
	CFS_ATTR_GID = 1 << 2,
	CFS_ATTR_SIZE = 1 << 3,
	CFS_ATTR_ATIME = 1 << 4,
	CFS_ATTR_MTIME = 1 << 5,
	CFS_ATTR_ATIME_NOW = 1 << 7,
	CFS_ATTR_MTIME_NOW = 1 << 8,
	CFS_ATTR_CTIME = 1 << 10,
};

struct cfs_dirent_list {
	size_t n;
	bool eof;
	struct cfs_dir_entry {
		const char *name;	/* not NUL-terminated */
		size_t namelen;
		uint64_t cookie;	/* resume after this entry */
		struct cfs_attr attr;
		int64_t asof_ns;	/* when the MDS said so (cfs_lookup) */
	} *entries;
	void *priv;
};

/* The token this process joins the cluster with (a client's, an
 * admin's or a gateway's), for every client created after: 0, or -errno
 * with why. NULL token with insecure: none (a cluster without tokens);
 * NULL without insecure: -EINVAL, saying how to get one. */
int cfs_join(const char *token, bool insecure, char *why, size_t whylen);
/* The token joined with (its role, read-only, MDS addresses...), or
 * NULL without one. */
const struct cfs_token *cfs_joined(void);

/* Connect: fetch the map from the MDS (retrying until the connect
 * timeout) and follow its updates. -ETIMEDOUT if the MDS never answers,
 * -EACCES if it refuses this process's token (cfs_join). */
int cfs_client_new(struct cfs_client **out, const struct cfs_client_opts *o);
void cfs_client_free(struct cfs_client *cl);
uint64_t cfs_client_epoch(struct cfs_client *cl);

void cfs_attr_to_stat(const struct cfs_attr *a, struct stat *st);

/* Metadata. Names are byte strings of len bytes.
 * cfs_lookup: 0 and the entry, or -ENOENT; either way *asof_ns is the
 * monotonic time (cfs_mono_ns) the answer was known at the MDS. With
 * dir_lease_ms, many lookups in one directory list it, and later ones are
 * answered from the listing (0 or -ENOENT) while it is younger than the
 * lease; a cache of the answer should live only for what is left. This
 * client's own changes are always in the answer. */
int cfs_lookup(struct cfs_client *cl, const struct cfs_cred *cr,
	       uint64_t parent, const char *name, size_t len,
	       struct cfs_attr *out, int64_t *asof_ns);
/* cfs_getattr: with asof_ns, may answer from what the MDS said within
 * the lease (as cfs_lookup does) and gives its time; without, asks. */
int cfs_getattr(struct cfs_client *cl, uint64_t ino, struct cfs_attr *out,
		int64_t *asof_ns);
/* through_handle: the change comes through an open file (ftruncate). */
int cfs_setattr(struct cfs_client *cl, const struct cfs_cred *cr,
		uint64_t ino, unsigned valid, const struct cfs_attr *in,
		bool through_handle, struct cfs_attr *out);
/* open: the new file is also open (as cfs_open; cfs_release closes). */
int cfs_mknod(struct cfs_client *cl, const struct cfs_cred *cr,
	      uint64_t parent, const char *name, size_t len, uint32_t mode,
	      uint64_t rdev, bool exclusive, bool open, struct cfs_attr *out);
int cfs_mkdir(struct cfs_client *cl, const struct cfs_cred *cr,
	      uint64_t parent, const char *name, size_t len, uint32_t mode,
	      struct cfs_attr *out);
int cfs_symlink(struct cfs_client *cl, const struct cfs_cred *cr,
		uint64_t parent, const char *name, size_t len,
		const char *target, struct cfs_attr *out);
int cfs_link(struct cfs_client *cl, const struct cfs_cred *cr, uint64_t ino,
	     uint64_t newparent, const char *name, size_t len,
	     struct cfs_attr *out);
int cfs_unlink(struct cfs_client *cl, const struct cfs_cred *cr,
	       uint64_t parent, const char *name, size_t len);
int cfs_rmdir(struct cfs_client *cl, const struct cfs_cred *cr,
	      uint64_t parent, const char *name, size_t len);
int cfs_rename(struct cfs_client *cl, const struct cfs_cred *cr,
	       uint64_t parent, const char *name, size_t len,
	       uint64_t newparent, const char *newname, size_t newlen,
	       unsigned flags);
/* Writes the target into buf (not NUL-terminated); returns its length. */
int cfs_readlink(struct cfs_client *cl, uint64_t ino, char *buf, size_t cap);
/* Entries after cookie (0: from the start); free with cfs_dirents_free. */
int cfs_readdir(struct cfs_client *cl, const struct cfs_cred *cr,
		uint64_t ino, uint64_t cookie, size_t max,
		struct cfs_dirent_list *out);
void cfs_dirents_free(struct cfs_dirent_list *l);
int cfs_statfs(struct cfs_client *cl, struct statvfs *out);
int cfs_access(struct cfs_client *cl, const struct cfs_cred *cr, uint64_t ino,
	       int mask);
int cfs_setxattr(struct cfs_client *cl, const struct cfs_cred *cr,
		 uint64_t ino, const char *name, const void *value,
		 size_t len, int flags);
/* With cap 0, returns the size only. -ERANGE if cap is too small. */
int cfs_getxattr(struct cfs_client *cl, const struct cfs_cred *cr,
		 uint64_t ino, const char *name, void *buf, size_t cap);
int cfs_listxattr(struct cfs_client *cl, const struct cfs_cred *cr,
		  uint64_t ino, char *buf, size_t cap);
int cfs_removexattr(struct cfs_client *cl, const struct cfs_cred *cr,
		    uint64_t ino, const char *name);

/* Open files. cfs_open checks permission for flags and counts the open
 * at the MDS (an unlinked file lives until its last release); an MDS
 * that took over (a new leader, a restart) is told this client's open
 * files by the keepalive thread, within a session timeout. */
int cfs_open(struct cfs_client *cl, const struct cfs_cred *cr, uint64_t ino,
	     int flags, struct cfs_attr *out);
int cfs_release(struct cfs_client *cl, uint64_t ino, int flags);
/* After a read through an open file: move atime if relatime says it is
 * due. The new atime is this client's at once (merged into what
 * cfs_getattr returns) and reaches the MDS within a second or at the
 * last release, whichever is first; the read does not wait for it.
 * Returns true when atime changed (the caller's cached attributes are
 * stale). */
bool cfs_accessed(struct cfs_client *cl, const struct cfs_cred *cr,
		  uint64_t ino);
/* Whether pages cached for the file at its last open or flush here are
 * still current, given its attributes now (same size and mtime); records
 * them for the next call. A file with writes of ours not yet flushed
 * counts as current: the change is ours. */
bool cfs_cache_valid(struct cfs_client *cl, const struct cfs_attr *a);
/* Whether the file's size moved, through another client, since this
 * client last recorded its attributes (cfs_cache_valid, at an open or a
 * flush): the size the kernel holds may be the old one. Says so once
 * until the next record. False when nothing was recorded or the change
 * is ours. */
bool cfs_size_moved(struct cfs_client *cl, const struct cfs_attr *a);
/* The file's mtime moved, through another client, with its size as this
 * client last recorded it: pages cached since are stale. Records the new
 * mtime (the size record stays for cfs_size_moved) and that the next
 * cfs_cache_valid (an open) must answer false. True if the file is open
 * here: its pages must go now, not at the next open. */
bool cfs_mtime_moved(struct cfs_client *cl, const struct cfs_attr *a);
int cfs_flush(struct cfs_client *cl, uint64_t ino);

/* Locks, held at the MDS for the whole cluster. type is F_RDLCK, F_WRLCK
 * or F_UNLCK; end is inclusive, UINT64_MAX meaning the end of the file.
 * cfs_getlk fills *type (F_UNLCK if nothing conflicts), *start, *end and
 * *pid with the conflicting lock. cfs_setlk returns -EAGAIN on a
 * conflict. */
int cfs_getlk(struct cfs_client *cl, uint64_t ino, uint64_t owner, bool flock,
	      int *type, uint64_t *start, uint64_t *end, uint32_t *pid);
int cfs_setlk(struct cfs_client *cl, uint64_t ino, uint64_t owner,
	      uint32_t pid, bool flock, int type, uint64_t start,
	      uint64_t end);
/* Whether this client took locks on ino since it was opened. */
bool cfs_may_hold_locks(struct cfs_client *cl, uint64_t ino);
/* Drop every lock of one kind that owner holds on ino. */
int cfs_unlock_owner(struct cfs_client *cl, uint64_t ino, uint64_t owner,
		     bool flock);

/* The MDS's change feed: other clients' changes, as they commit, for a
 * caller that lets a cache (the kernel's) hold what the MDS said for
 * longer than the attribute timeout. The ops are called from the feed's
 * thread: inode (its attributes changed), entry (a name in parent
 * changed: added, removed or pointed elsewhere) and reset (anything may
 * have changed: the MDS restarted, or the feed fell too far behind).
 * cfs_feed_live: every change committed up to half a second before
 * now_ns (cfs_mono_ns) has been passed to the ops; while it is not,
 * caches must keep to the attribute timeout, and whatever they were let
 * hold longer must go. */
struct cfs_feed_ops {
	void (*inode)(void *arg, uint64_t ino);
	void (*entry)(void *arg, uint64_t parent, const char *name,
		      size_t len);
	void (*reset)(void *arg);
	void *arg;
};
/* Needs dir_lease_ms (the cache that stamps what changed). Stopping
 * waits for the ops to return; NULL or a client not following: no-op. */
int cfs_feed_start(struct cfs_client *cl, const struct cfs_feed_ops *ops);
void cfs_feed_stop(struct cfs_client *cl);
bool cfs_feed_live(struct cfs_client *cl, int64_t now_ns);
/* Whether what the MDS said of ino at asof_ns (cfs_mono_ns) is still the
 * latest this client knows: no change of its own, and none the feed told
 * of, since. */
bool cfs_current(struct cfs_client *cl, uint64_t ino, int64_t asof_ns);

/* Data. */
ssize_t cfs_write(struct cfs_client *cl, uint64_t ino, uint64_t off,
		  const void *buf, size_t len);
/* Reads up to the end of the file; returns the bytes read. */
ssize_t cfs_read(struct cfs_client *cl, uint64_t ino, uint64_t off, void *buf,
		 size_t len);
/* The data cache (cache_dir): files read here kept on local disk, whole
 * blocks with their CRC32C, and read from there again while nothing says
 * they changed (an open's attributes, the change feed, our own writes).
 * cfs_cache_backing: a descriptor of a whole, current and checked copy of
 * the file, for the kernel to read from (FUSE passthrough); it stays
 * until as many cfs_cache_unpin. While held, this client's changes to the
 * file are made in the copy too, and cfs_cache_refresh brings it to the
 * version the attributes say (another client's change), reading the
 * file from the OSDs; only a refresh at an open (at_open, the open's
 * attributes) makes the copy current again. A writing open of a file
 * the kernel reads from a copy has its shared mappings put on the copy
 * too (FUSE passthrough): cfs_cache_push sends what changed in the copy
 * other than by us (it notes the copy's mtime after each change of
 * ours) to the cluster as writes; call it before such an open's flush,
 * fsync and release. cfs_cache_stale: another client changed it.
 * cfs_cache_drop: forget a file's copy (0: every copy). cfs_cache_stats:
 * false without a cache; the file's own figures with ino. */
struct cfs_cache_stats {
	uint64_t hits, hit_bytes, misses, fill_bytes;
	uint64_t backing_opens, backing_bytes;	/* copies handed out */
	uint64_t corrupt, evicted;	/* blocks failing their CRC, entries */
	uint64_t entries, used, cap;
	uint64_t file_size, file_cached;
	bool file_current;
	uint32_t file_pins;
};
int cfs_cache_backing(struct cfs_client *cl, uint64_t ino);
void cfs_cache_unpin(struct cfs_client *cl, uint64_t ino);
int cfs_cache_push(struct cfs_client *cl, uint64_t ino);
int cfs_cache_refresh(struct cfs_client *cl, const struct cfs_attr *a,
		      bool at_open);
void cfs_cache_stale(struct cfs_client *cl, uint64_t ino);
void cfs_cache_drop(struct cfs_client *cl, uint64_t ino);
bool cfs_cache_stats(struct cfs_client *cl, uint64_t ino,
		     struct cfs_cache_stats *out);

/* Tiering (tier.c; tierd and admin tokens): drop the flash copies of a
 * tiered file, unchanged since it was tiered (-ESTALE if not, -ENODATA
 * if never tiered, -EOPNOTSUPP for erasure-coded files); bring them all
 * back (cfs-tierd, before it tiers a changed file anew). */
int cfs_tier_evict(struct cfs_client *cl, uint64_t ino);
int cfs_tier_fill(struct cfs_client *cl, uint64_t ino);

/* SEEK_DATA or SEEK_HOLE (whence) from off: the offset, or -ENXIO. */
int64_t cfs_lseek(struct cfs_client *cl, uint64_t ino, uint64_t off,
		  int whence);
/* Deallocate [off, off+len): reads as zeros afterwards. */
int cfs_punch(struct cfs_client *cl, uint64_t ino, uint64_t off,
	      uint64_t len);

#endif
