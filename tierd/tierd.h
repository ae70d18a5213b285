/* cfs-tierd: packs cold files into blobs and stores them in the object
 * store (tierd/README.md). */
#ifndef CFS_TIERD_H
#define CFS_TIERD_H

#include <stdbool.h>
#include <stdint.h>

#include "cfs/config.h"
#include "cfs/daemon.h"
#include "cfs/objstore.h"
#include "libcfs.h"

struct tierd_config {
	char mds[CFS_CONFIG_STR_MAX];
	char store[CFS_CONFIG_STR_MAX];
	char access_key[CFS_CONFIG_STR_MAX];
	char secret_key[CFS_CONFIG_STR_MAX];
	char log_level[CFS_CONFIG_STR_MAX];
	long long min_age_s;
	long long interval_ms;
	long long timeout_ms;
	long long high_pct, low_pct;	/* watermarks of flash use */
	long long repack_pct;
	struct cfs_daemon_sec sec;
};

struct tierd;

/* Connect to the cluster and the store: 0, or 1 after logging why. */
int tierd_open(struct tierd **out, const struct tierd_config *cfg);
/* Run passes until *stop (checked between pieces of work). */
void tierd_run(struct tierd *t, volatile bool *stop);
void tierd_close(struct tierd *t);

#endif
