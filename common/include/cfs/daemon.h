/* What every daemon's main() does first: load its config (defaults, file,
 * flags), set up logging at the configured level, and block SIGINT and
 * SIGTERM so that main can sigwait() for them once its threads run. */
#ifndef CFS_DAEMON_H
#define CFS_DAEMON_H

#include <signal.h>
#include <stddef.h>

#include "cfs/config.h"

#define CFS_DAEMON_RUN (-1)

/* log_level_offset: offsetof() the log level string in cfg. Returns
 * CFS_DAEMON_RUN to go on, or the exit status main should return: 0 after
 * --help, 2 after an error printed on stderr. */
int cfs_daemon_setup(const char *daemon, const struct cfs_config_key *keys,
		     size_t nkeys, void *cfg, size_t log_level_offset,
		     int argc, char **argv, sigset_t *sigs);

/* Keep large (bulk) allocations on the heap for reuse; called by
 * cfs_daemon_setup, and by clients that move file data. */
void cfs_malloc_for_bulk(void);

#endif
