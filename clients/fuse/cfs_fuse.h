/* cfs-fuse: the universal client, a libfuse3 low-level file system over
 * libcfs. main.c parses options and runs the session; ops.c maps each
 * FUSE request onto libcfs. */
#ifndef CFS_FUSE_H
#define CFS_FUSE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "handouts.h"
#include "libcfs.h"

#define HANDOUT_RING (3u << 20)	/* bytes of handouts logged: about 60,000,
				 * taken back in about 0.2 s */

/* What the kernel caches, to be taken back, and what it holds for the
 * cache lease (inval.c). */
struct inval {
	pthread_mutex_t lock;	/* guards q, n, cap, all, stop */
	pthread_cond_t cond;
	struct drop *q;
	size_t n, cap;
	bool all;		/* take back every handout */
	bool stop, running;
	pthread_t thread;
	pthread_mutex_t hlock;	/* guards handouts and live */
	struct handouts handouts;	/* held for the cache lease */
	bool live;		/* the change feed is live: handouts allowed */
};

/* FUSE passthrough (passthrough.c): per inode, the opens running in
 * caching mode and in passthrough, and the backing the latter use. */
struct passthrough {
	pthread_mutex_t lock;
	bool wanted;		/* a cache, and not -o no_passthrough: set
				 * before mounting */
	bool offered;		/* the kernel offered it at INIT */
	bool asked;		/* INIT asked for it, not refused since */
	bool on;		/* ... and copies are handed out (pt_switch) */
	struct pt_inode *tab[1024];
};
#define PT_FH (1ull << 63)	/* a file handle open in passthrough */

struct cfs_fuse {
	struct cfs_client *cl;
	struct fuse_session *se;
	int fuse_fd;		/* the session's /dev/fuse */
	struct uring *uring;	/* FUSE over io_uring (uring.c) */
	double attr_timeout;	/* seconds the kernel may cache attributes */
	double entry_timeout;	/* seconds the kernel may cache names */
	double cache_lease;	/* ... while the change feed is live (0: no
				 * feed followed) */
	bool root_squash;	/* -o root_squash: root is nobody here */
	unsigned readahead;	/* bytes the kernel may read ahead (main.c) */
	struct inval inval;
	struct passthrough pt;
	/* inodes known to have no security.capability, until when (ops.c) */
	pthread_mutex_t nocaps_lock;
	struct nocaps {
		uint64_t ino;
		int64_t until_ms;
	} nocaps[4096];
};

/* Start the thread, and follow the change feed if cache_lease is set
 * (falling back to 0 if it cannot). Stop it (and the feed) while the
 * session is still whole: it notifies the kernel through it. Free after
 * the session's threads are gone, before freeing the client. */
int inval_start(struct cfs_fuse *f);
void inval_stop(struct cfs_fuse *f);
void inval_free(struct cfs_fuse *f);
/* Drop the file's cached pages soon, from the inval thread; take back
 * the drops pending for it (an open that drops them itself), saying
 * whether there were any. */
void inval_later(struct cfs_fuse *f, uint64_t ino);
bool inval_take(struct cfs_fuse *f, uint64_t ino);
/* Note that the kernel is let hold ino's attributes (parent 0) or the
 * name in parent for the cache lease from now; false if it may not be
 * (the feed is not live, or too many are held): then keep to the
 * timeouts. */
bool inval_handout(struct cfs_fuse *f, int64_t now, uint64_t ino,
		   uint64_t parent, const char *name, size_t len);

/* FUSE over io_uring where the kernel offers it (enabled: not
 * -o no_uring): set up after mounting, stopped after the session. */
int uring_setup(struct cfs_fuse *f, bool enabled);
void uring_stop(struct cfs_fuse *f);

/* Passthrough (passthrough.c). The session's I/O (uring.c) tells of
 * the kernel's INIT (pt_offered), lets the reply ask for it
 * (pt_init_reply: true if it changed the reply), and passes every reply
 * by pt_patch. An open or create calls pt_open just before its reply,
 * which sets fi->fh (PT_FH in it for a passthrough open) and the reply's
 * flags; a release (or a reply the kernel did not take) calls
 * pt_release. pt_refresh: another client changed ino: a
 * copy the kernel reads is brought up to date. */
void pt_init(struct cfs_fuse *f);
void pt_offered(struct cfs_fuse *f, const struct fuse_init_in *in);
bool pt_init_reply(struct cfs_fuse *f, struct fuse_init_out *out);
void pt_patch(struct iovec *iov, int count);
void pt_open(struct cfs_fuse *f, uint64_t ino, int flags,
	     const struct cfs_attr *a, struct fuse_file_info *fi);
void pt_release(struct cfs_fuse *f, uint64_t ino,
		const struct fuse_file_info *fi);
bool pt_active(struct cfs_fuse *f, uint64_t ino);
/* A writing open in passthrough: what its shared mappings wrote in the
 * copy goes to the cluster (cfs_cache_push); before its flush, fsync
 * and release. */
int pt_push(struct cfs_fuse *f, uint64_t ino, const struct fuse_file_info *fi);
/* Hand copies out (on) or not from the next open: -EOPNOTSUPP for on
 * where the kernel has no passthrough. */
int pt_switch(struct cfs_fuse *f, bool on);
void pt_refresh(struct cfs_fuse *f, uint64_t ino);
void pt_free(struct cfs_fuse *f);

extern const struct fuse_lowlevel_ops cfs_fuse_ops;

#endif
