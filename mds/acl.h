/* POSIX ACLs in the Linux xattr format (system.posix_acl_access and
 * system.posix_acl_default): a 4-byte version (2), then 8-byte entries
 * {tag, perm, id}, little-endian. The MDS stores them as xattrs and keeps
 * them and the mode bits in step; the kernel enforces them. */
#ifndef CFS_MDS_ACL_H
#define CFS_MDS_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfs/cred.h"

#define CFS_ACL_ACCESS "system.posix_acl_access"
#define CFS_ACL_DEFAULT "system.posix_acl_default"

/* 0 for a well-formed ACL, -EINVAL otherwise. */
int cfs_acl_valid(const void *acl, size_t len);
/* Only the owner, group and other entries: the mode says it all. */
bool cfs_acl_minimal(const void *acl, size_t len);
/* The permission bits (0777) the ACL implies: owner, mask (or group),
 * other. */
uint32_t cfs_acl_mode(const void *acl, size_t len);
/* chmod: set the owner, mask (or group) and other entries from mode. */
void cfs_acl_chmod(void *acl, size_t len, uint32_t mode);
/* Whether the ACL of a file owned by (uid, gid) grants cr the access in
 * mask (R_OK | W_OK | X_OK), by the POSIX algorithm: the owner entry;
 * else a named user entry, limited by the mask; else the owning and named
 * group entries the caller is in, any granting, limited by the mask;
 * else other. */
bool cfs_acl_permits(const void *acl, size_t len, uint32_t uid, uint32_t gid,
		     const struct cfs_cred *cr, int mask);
/* A new inode under a default ACL: acl (a copy of the parent's default)
 * is narrowed by *mode and *mode by it, as POSIX creation does. Returns
 * true if the result needs no ACL beyond the mode. */
bool cfs_acl_create(void *acl, size_t len, uint32_t *mode);

#endif
