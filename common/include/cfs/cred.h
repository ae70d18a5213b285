/* The caller's credentials, as clients send them and the MDS checks them. */
#ifndef CFS_CRED_H
#define CFS_CRED_H

#include <stdint.h>

#define CFS_MAX_GROUPS 64

struct cfs_cred {
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t groups[CFS_MAX_GROUPS];
	uint32_t umask;		/* applied on create unless a default ACL rules */
};

#endif
