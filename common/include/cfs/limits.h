/* The namespace's limits: the same for the MDS, which enforces them, and
 * for every client, which answers from its caches with the same errors. */
#ifndef CFS_LIMITS_H
#define CFS_LIMITS_H

#define CFS_NAME_MAX 255	/* bytes in a name: ENAMETOOLONG past it */
#define CFS_XATTR_NAME_MAX 255	/* bytes in an xattr's name */

#endif
