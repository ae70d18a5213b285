/* The namespace's limits: the same for the MDS, which enforces them, and
 * for every client, which answers from its caches with the same errors. */
#ifndef CFS_LIMITS_H
#define CFS_LIMITS_H

#define CFS_NAME_MAX 255	/* bytes in a name: ENAMETOOLONG past it */
#define CFS_XATTR_NAME_MAX 255	/* bytes in an xattr's name */

/* Shards: an inode's number carries its metadata shard in the top 16
 * bits (the MDS's store of that shard holds it; clients send requests
 * about it there). */
#define CFS_SHARD_SHIFT 48
static inline unsigned cfs_ino_shard(unsigned long long ino)
{
	return (unsigned)(ino >> CFS_SHARD_SHIFT);
}

#endif
