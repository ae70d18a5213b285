/* The caller's credentials, as clients send them and the MDS checks them. */
#ifndef CFS_CRED_H
#define CFS_CRED_H

#include <stdbool.h>
#include <stdint.h>

#define CFS_MAX_GROUPS 64
#define CFS_NOBODY 65534	/* uid and gid root is squashed to */

struct cfs_cred {
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t groups[CFS_MAX_GROUPS];
	uint32_t umask;		/* applied on create unless a default ACL rules */
};

/* Whether the caller is in group gid (primary or supplementary). */
static inline bool cfs_cred_in_group(const struct cfs_cred *cr, uint32_t gid)
{
	if (cr->gid == gid)
		return true;
	for (uint32_t i = 0; i < cr->ngroups && i < CFS_MAX_GROUPS; i++)
		if (cr->groups[i] == gid)
			return true;
	return false;
}

#endif
