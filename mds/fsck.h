/* cfs fsck: the namespace consistency check; see fsck.c. */
#ifndef CFS_MDS_FSCK_H
#define CFS_MDS_FSCK_H

#include "namespace.h"

struct cfs_fsck_report {
	uint64_t inodes, entries, orphans;
	uint64_t problems;
};

/* Check the namespace in txn (read-only is enough); report() is called
 * once per problem with a sentence naming the objects. 0 or -errno. */
int cfs_ns_fsck(struct cfs_ns *ns, MDB_txn *txn, struct cfs_fsck_report *rep,
		void (*report)(void *arg, const char *msg), void *arg);

#endif
