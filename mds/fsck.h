/* cfs fsck: the namespace consistency check; see fsck.c. */
#ifndef CFS_MDS_FSCK_H
#define CFS_MDS_FSCK_H

#include "namespace.h"

struct cfs_fsck_report {
	uint64_t inodes, entries, orphans;
	uint64_t pending;	/* records of transactions of several shards
				 * under way */
	uint64_t problems;
};

/* Check the namespace of n stores (a cluster's shards, one store each),
 * store i read in txn[i] (read-only is enough), as one: a name in one
 * shard may name an inode of another. report() is called once per
 * problem with a sentence naming the objects. 0 or -errno. */
int cfs_ns_fsck(struct cfs_ns *const *ns, MDB_txn *const *txn, size_t n,
		struct cfs_fsck_report *rep,
		void (*report)(void *arg, const char *msg), void *arg);

#endif
