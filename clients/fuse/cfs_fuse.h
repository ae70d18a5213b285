/* cfs-fuse: the universal client, a libfuse3 low-level file system over
 * libcfs. main.c parses options and runs the session; ops.c maps each
 * FUSE request onto libcfs. */
#ifndef CFS_FUSE_H
#define CFS_FUSE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "libcfs.h"

struct cfs_fuse {
	struct cfs_client *cl;
	struct fuse_session *se;
	double attr_timeout;	/* seconds the kernel may cache attributes */
	double entry_timeout;	/* seconds the kernel may cache names */
};

extern const struct fuse_lowlevel_ops cfs_fuse_ops;

#endif
