/* libcfs internals shared by its files; not for other folders. */
#ifndef CFS_CLIENT_PRIV_H
#define CFS_CLIENT_PRIV_H

#include <pthread.h>

#include "cfs/clock.h"
#include "cfs/map.h"
#include "cfs/rpc.h"
#include "libcfs.h"

#define INODE_BUCKETS 1024

/* What this client knows of a file it has open. */
struct open_inode {
	uint64_t ino;
	uint64_t size;		/* known size, including our own writes */
	int64_t mtime_ns;	/* of our last write */
	bool dirty;		/* size/mtime not yet sent to the MDS */
	bool atime_due;		/* relatime: the next read updates atime */
	bool locked;		/* we took locks on it: drop them on close */
	uint32_t opens;
	struct open_inode *next;
};

struct cfs_client {
	struct cfs_client_opts o;
	char mds[256];
	struct cfs_rpc_client *rpc;
	struct cfs_map_holder maps;
	pthread_t keepalive;	/* keeps this client's MDS session alive */
	bool keepalive_running;
	volatile bool stop;
	pthread_mutex_t ilock;	/* guards inodes[] and their contents */
	struct open_inode *inodes[INODE_BUCKETS];
};

/* Fetch a fresh map from the MDS (after an OSD error). */
void client_refresh_map(struct cfs_client *cl);
/* Remove data of [new_size, old_size) from the OSDs. */
int client_truncate_data(struct cfs_client *cl, uint64_t ino,
			 uint64_t new_size, uint64_t old_size);
/* The inode's entry, made if absent; ilock held. */
struct open_inode *client_inode(struct cfs_client *cl, uint64_t ino,
				bool create);

#endif
