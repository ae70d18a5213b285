/* libcfs internals shared by its files; not for other folders. */
#ifndef CFS_CLIENT_PRIV_H
#define CFS_CLIENT_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "cfs/cap.h"
#include "cfs/clock.h"
#include "cfs/map.h"
#include "cfs/rpc.h"
#include "cfs/token.h"
#include "libcfs.h"
#include "mds.pb-c.h"

#define INODE_BUCKETS 1024
#define CACHE_STAMPS 65536
/* A small file: its bytes are read along with its open (client.c), in
 * the same round trip, so the data cache keeps none (cache.c). */
#define READ_ALONG_MAX ((uint64_t)64 << 10)
#define WB_FLIGHTS 4096	/* extents of one file queued or in flight */
#define WB_THREADS 8	/* flusher threads */
#define ORDER_LOCKS 64	/* metadata order locks (struct cfs_client) */

struct wb_range {
	uint64_t off, end;
	const uint8_t *buf;	/* the job's data, until it lands */
};

/* The size and mtime a file had when this client last knew its cached
 * pages to be current (cfs_cache_valid); whether an open was since sent
 * back to have the kernel look the file up again (cfs_size_moved); and
 * whether the pages are stale all the same (cfs_mtime_moved: a newer
 * mtime recorded before the next open saw it). */
struct cache_stamp {
	uint64_t ino, size;
	int64_t mtime_ns;
	bool sent_back, pages_stale;
};

/* What this client knows of a file it has open. */
struct open_inode {
	uint64_t ino;
	uint64_t size;		/* known size, including our own writes */
	int64_t mtime_ns;	/* of our last write */
	bool dirty;		/* size/mtime not yet sent to the MDS */
	/* when (mono ns) our last change of size or mtime was known to have
	 * reached the MDS: a reply to a request sent before may not show it,
	 * and our size is the newer */
	int64_t settled_ns;
	bool atime_due;		/* relatime: the next read updates atime */
	int64_t atime_ns;	/* a read's atime not yet at the MDS (0: none) */
	struct cfs_cred atime_cred;	/* of that reader */
	bool locked;		/* we took locks on it: drop them on close */
	uint32_t layout;	/* of its data (cfs/layout.h), if known */
	bool layout_known;
	uint32_t opens;
	uint32_t writes;	/* of them, opens that may write */
	/* a small file's bytes [0, pf_len) read along with its open, for
	 * the first read; dropped by any write or size change */
	uint8_t *pf;
	size_t pf_len;
	/* write-behind (writeback.c): the extent being filled, the ranges
	 * in flight, and the first failure not yet reported */
	uint8_t *wb_buf;
	uint64_t wb_off;
	size_t wb_len, wb_cap;
	uint64_t wb_hole;	/* the file's size when the extent began */
	int64_t wb_touched_ms;
	struct wb_range *wb_flight;	/* wb_nflight of wb_flightcap */
	int wb_nflight, wb_flightcap;
	uint64_t wb_landed;	/* count of flights landed, for readers */
	int wb_error;
	struct open_inode *next;
};

#define CFS_CLIENT_SHARDS_MAX 64	/* metadata shards followed */

struct cfs_client {
	struct cfs_client_opts o;
	char mds[256];
	struct cfs_rpc_client *rpc;
	struct cfs_map_holder maps;
	pthread_t keepalive;	/* keeps this client's MDS session alive */
	bool keepalive_running;
	/* of each shard's MDS last told our opens */
	uint64_t told_incarnation[CFS_CLIENT_SHARDS_MAX];
	volatile bool stop;
	/* opens and releases take it to read around their MDS call and
	 * count; a reopen (keepalive) to write, so that it tells the MDS
	 * counts no open or release is changing meanwhile. Before ilock. */
	pthread_rwlock_t openlock;
	pthread_mutex_t ilock;	/* guards inodes[] and their contents */
	struct open_inode *inodes[INODE_BUCKETS];
	struct cache_stamp *stamps;	/* CACHE_STAMPS, by hash of ino */
	/* write-behind, under ilock: queued extents, bytes buffered or in
	 * flight, their bound (0: no write-behind) */
	struct wb_job *wb_head, *wb_tail;
	size_t wb_bytes, wb_limit;
	pthread_cond_t wb_done;	/* an extent landed */
	pthread_cond_t wb_work;	/* an extent was queued */
	pthread_t wb_threads[WB_THREADS];
	int wb_nthreads;
	bool wb_stop, wb_started;
	struct dircache *dc;	/* listings answering lookups (NULL: none) */
	struct feed_follow *feed;	/* the MDS's change feed (NULL: not
					 * followed) */
	size_t pf_bytes;	/* prefetched bytes held, under ilock */
	/* by hash of ino: held from a flush's snapshot of size and mtime
	 * until the MDS has them, and around a setattr, so that a flush
	 * racing a truncate (an fsync or release, which the kernel does not
	 * order with it) cannot land its older size after the cut */
	pthread_mutex_t order[ORDER_LOCKS];
	/* capabilities (caps.c): with tokens only */
	bool secured;
	char token_id[17];
	pthread_mutex_t caplock;
	struct cap_entry **caps;
	struct cache *cache;	/* the data cache (cache.c; NULL: none) */
};

/* The data cache (cache.c). Opened by cfs_client_new with cache_dir:
 * -EBUSY if another mount holds the directory. Opened: a regular file
 * was opened with these attributes (an entry of another version goes).
 * Read: a current entry's bytes for the whole range (len), checked, or
 * 0, with *gen for a fill of what the OSDs return. Changed: this client
 * changed the file (or another did: CACHE_OTHERS). Closed: its last
 * open closed (the entry's meta is written). */
enum cache_change { CACHE_WRITE, CACHE_SIZE, CACHE_PUNCH, CACHE_OTHERS };
int client_cache_open(struct cfs_client *cl, const char *dir, uint64_t bytes);
void client_cache_close(struct cfs_client *cl);
void client_cache_opened(struct cfs_client *cl, const struct cfs_attr *a);
size_t client_cache_read(struct cfs_client *cl, uint64_t ino, uint64_t off,
			 void *buf, size_t len, uint64_t *gen);
void client_cache_fill(struct cfs_client *cl, uint64_t ino, uint64_t gen,
		       uint64_t off, const void *buf, size_t len);
void client_cache_changed(struct cfs_client *cl, uint64_t ino,
			  enum cache_change what, uint64_t off,
			  const void *buf, uint64_t len);
int client_cache_closed(struct cfs_client *cl, uint64_t ino);

/* Metadata shards: how many the map names (1: none named), and the
 * group of shard's replicas (shard 0: the configured MDS). */
unsigned client_shards(struct cfs_client *cl);
void client_shard_group(struct cfs_client *cl, unsigned shard, char *buf,
			size_t len);

/* One metadata call to the MDS, retried on transport errors with the
 * same request id (the MDS's reply cache makes that safe). */
int client_mds_call(struct cfs_client *cl, uint32_t method,
		    const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *rep_desc,
		    struct cfs_rpc_call *c);

/* Capabilities (caps.c). A data request to an OSD carries cap (NULL
 * without tokens); the struct holds its storage. */
struct client_cap {
	Cfs__Capability *cap;
	Cfs__Capability pb;
	uint8_t mac[CFS_CAP_MAC];
};
void client_caps_init(struct cfs_client *cl);
void client_caps_free(struct cfs_client *cl);
/* Keep a capability an MDS reply carried (NULL: none). */
void client_caps_take(struct cfs_client *cl, const Cfs__Capability *cap);
/* One for ino to read (or write) with, renewed if it is near its end:
 * 0, or -EACCES when the MDS grants none (the file not open here). */
int client_cap(struct cfs_client *cl, uint64_t ino, bool write,
	       struct client_cap *out);
/* Make sure one is held, asking with the caller's credentials (for a
 * file not open here: a truncate by path): 0 or the MDS's error. */
int client_cap_ask(struct cfs_client *cl, uint64_t ino, bool write,
		   const struct cfs_cred *cr);
void client_cred_to(const struct cfs_cred *cr, Cfs__Cred *c);
/* Whether one is held now, without asking the MDS (true without
 * tokens). */
bool client_cap_held(struct cfs_client *cl, uint64_t ino, bool write,
		     struct client_cap *out);

/* Fetch a fresh map from the MDS (after an OSD error). */
void client_refresh_map(struct cfs_client *cl);
/* Remove data of [new_size, old_size) from the OSDs. */
int client_truncate_data(struct cfs_client *cl, uint64_t ino,
			 uint64_t new_size, uint64_t old_size);
/* Write [off, off+len) to the OSDs now; 0 once durable on all replicas. */
int client_write_data(struct cfs_client *cl, uint64_t ino, uint64_t off,
		      const void *buf, size_t len);
/* The same for n extents (file offsets) that all lie in one chunk, as
 * one change to it: one round trip and one sync on each replica. */
int client_write_extents(struct cfs_client *cl, uint64_t ino,
			 const struct wb_range *ex, size_t n);
/* Write-behind: start the flushers with a memory bound in bytes (0: none);
 * stop them after sending everything; send off extents idle for a while;
 * send and wait for all of a file's writes (returns their first error);
 * whether a file has anything buffered, in flight or unreported. */
int client_wb_start(struct cfs_client *cl, size_t limit);
void client_wb_stop(struct cfs_client *cl);
void client_wb_idle(struct cfs_client *cl);
void client_wb_send_locked(struct cfs_client *cl, uint64_t ino);
int client_wb_drain(struct cfs_client *cl, uint64_t ino);
bool client_wb_pending(struct open_inode *o);
/* Reads see our writes not yet on the OSDs: client_wb_mark before
 * reading from the OSDs, client_wb_overlay after, to copy in-flight and
 * buffered bytes over [off, off+len) of buf. The overlay fails (false)
 * when a flight landed in between: read again. */
uint64_t client_wb_mark(struct cfs_client *cl, uint64_t ino);
bool client_wb_overlay(struct cfs_client *cl, uint64_t ino, uint64_t mark,
		       uint64_t off, uint8_t *buf, size_t len);
/* Read [0, len) of ino (len within its first chunk; of an EC file
 * within its first stripe unit) in the same round trip as another call
 * (an open) to addr: the read's result, and the other's in *other_rc. */
int client_read_along(struct cfs_client *cl, uint64_t ino, uint32_t layout,
		      uint8_t *buf, size_t len, const char *addr,
		      struct cfs_rpc_call *other, int *other_rc);
/* cfs_readdir, always asking the MDS. */
int client_readdir(struct cfs_client *cl, const struct cfs_cred *cr,
		   uint64_t ino, uint64_t cookie, size_t max,
		   struct cfs_dirent_list *out);
/* Free o's prefetched bytes; ilock held. */
void client_drop_prefetch(struct cfs_client *cl, struct open_inode *o);
/* The inode's entry, made if absent; ilock held. */
struct open_inode *client_inode(struct cfs_client *cl, uint64_t ino,
				bool create);

/* Directory listings that answer lookups (dircache.c), for lease_ms
 * (0: never). dc_answer: 0 and the entry with the time the MDS knew it,
 * -ENOENT (and that time) for a name not there, DC_UNKNOWN to ask the
 * MDS, or DC_LIST to list the directory first (dc_list) and ask again.
 * dc_learned: what an MDS lookup asked at asked_ns said. The rest report
 * this client's changes, once the MDS answered (rc its answer). */
enum { DC_UNKNOWN = 1, DC_LIST = 2 };
int dc_start(struct cfs_client *cl, int lease_ms);
void dc_stop(struct cfs_client *cl);
int dc_answer(struct cfs_client *cl, uint64_t parent, const char *name,
	      size_t len, struct cfs_attr *out, int64_t *asof_ns);
void dc_list(struct cfs_client *cl, const struct cfs_cred *cr,
	     uint64_t parent);
void dc_learned(struct cfs_client *cl, uint64_t parent, const char *name,
		size_t len, int rc, const struct cfs_attr *a, int64_t asked_ns);
void dc_touch(struct cfs_client *cl, uint64_t ino);
/* Attributes: dc_getattr answers (0) from what the MDS said within the
 * lease, as long as this client changed nothing since; dc_got_attr keeps
 * an MDS answer asked at asked_ns. A change whose reply carries the new
 * attributes brackets its call with dc_begin and dc_end. */
int dc_getattr(struct cfs_client *cl, uint64_t ino, struct cfs_attr *out,
	       int64_t *asof_ns);
void dc_got_attr(struct cfs_client *cl, const struct cfs_attr *a,
		 int64_t asked_ns);
/* readdir from a complete listing as fetched (0), if every entry's
 * attributes are still current; entries and names in one allocation. */
int dc_readdir(struct cfs_client *cl, uint64_t ino, uint64_t cookie,
	       size_t max, struct cfs_dirent_list *out);
/* Other clients changed ino, a name in parent (its listing goes), or
 * anything: what this client knew of them before is not current. */
void dc_stale_inode(struct cfs_client *cl, uint64_t ino);
void dc_stale_name(struct cfs_client *cl, uint64_t parent);
void dc_stale_all(struct cfs_client *cl);
int64_t dc_begin(struct cfs_client *cl, uint64_t ino);
void dc_end(struct cfs_client *cl, uint64_t ino, int64_t begun_ns, int rc,
	    const struct cfs_attr *a);
/* A name added to or removed from parent by a call begun (dc_begin of
 * parent) at begun_ns; dir is the directory after it, from the reply
 * (NULL or ino 0: unknown), and cookie the added name's readdir cookie
 * (0: unknown), which keeps a listing able to answer readdir. */
void dc_added(struct cfs_client *cl, uint64_t parent, const char *name,
	      size_t len, int rc, const struct cfs_attr *a, bool created,
	      int64_t begun_ns, const struct cfs_attr *dir, uint64_t cookie);
void dc_removed(struct cfs_client *cl, uint64_t parent, const char *name,
		size_t len, int rc, int64_t begun_ns,
		const struct cfs_attr *dir);
void dc_renamed(struct cfs_client *cl, uint64_t parent, const char *name,
		size_t len, uint64_t newparent, const char *newname,
		size_t newlen, bool exchange, int rc);

#endif
