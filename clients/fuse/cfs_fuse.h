/* cfs-fuse: the universal client, a libfuse3 low-level file system over
 * libcfs. main.c parses options and runs the session; ops.c maps each
 * FUSE request onto libcfs. */
#ifndef CFS_FUSE_H
#define CFS_FUSE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "libcfs.h"

/* Files whose cached pages are to be dropped (inval.c). */
struct inval {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t *q;
	size_t n, cap;
	bool stop, running;
	pthread_t thread;
};

struct cfs_fuse {
	struct cfs_client *cl;
	struct fuse_session *se;
	int fuse_fd;		/* the session's /dev/fuse */
	struct uring *uring;	/* FUSE over io_uring (uring.c) */
	double attr_timeout;	/* seconds the kernel may cache attributes */
	double entry_timeout;	/* seconds the kernel may cache names */
	struct inval inval;
	/* inodes known to have no security.capability, until when (ops.c) */
	pthread_mutex_t nocaps_lock;
	struct nocaps {
		uint64_t ino;
		int64_t until_ms;
	} nocaps[4096];
};

int inval_start(struct cfs_fuse *f);
void inval_stop(struct cfs_fuse *f);
/* Drop the file's cached pages soon, from the inval thread. */
void inval_later(struct cfs_fuse *f, uint64_t ino);
bool inval_pending(struct cfs_fuse *f, uint64_t ino);

/* FUSE over io_uring where the kernel offers it (enabled: not
 * -o no_uring): set up after mounting, stopped after the session. */
int uring_setup(struct cfs_fuse *f, bool enabled);
void uring_stop(struct cfs_fuse *f);

extern const struct fuse_lowlevel_ops cfs_fuse_ops;

#endif
