/* What every daemon's main() does first: load its config (defaults, file,
 * flags), set up logging at the configured level, and block SIGINT and
 * SIGTERM so that main can sigwait() for them once its threads run. */
#ifndef CFS_DAEMON_H
#define CFS_DAEMON_H

#include <signal.h>
#include <stddef.h>

#include "cfs/config.h"
#include "cfs/rpc.h"
#include "cfs/token.h"

#define CFS_DAEMON_RUN (-1)

/* Every daemon's security keys, in its config struct: its join token
 * file, whether RPC frames are encrypted (else only authenticated), and
 * the explicit choice to run without a token. */
struct cfs_daemon_sec {
	char token[CFS_CONFIG_STR_MAX];
	bool encrypt;
	bool insecure;
};

#define CFS_DAEMON_SEC_KEYS(type, field)                                   \
	{ "token", CFS_CFG_STR, "", offsetof(type, field.token), 0, 0,      \
	  "join token file (cfs token create --role ...)" },                 \
	{ "encrypt", CFS_CFG_BOOL, "true", offsetof(type, field.encrypt), 0, \
	  0, "encrypt RPC frames (else only authenticate them)" },           \
	{ "insecure", CFS_CFG_BOOL, "false",                                 \
	  offsetof(type, field.insecure), 0, 0,                             \
	  "run without a token: anyone reaching the ports is served" }

/* log_level_offset: offsetof() the log level string in cfg. Returns
 * CFS_DAEMON_RUN to go on, or the exit status main should return: 0 after
 * --help, 2 after an error printed on stderr. */
int cfs_daemon_setup(const char *daemon, const struct cfs_config_key *keys,
		     size_t nkeys, void *cfg, size_t log_level_offset,
		     int argc, char **argv, sigset_t *sigs);

/* Read the token, check it is one of role, and make it the identity of
 * every RPC server and client this process creates from now on (admit:
 * the roles its servers let in, a mask of 1 << enum cfs_role). Without
 * a token, only with insecure set (then a warning says what it means).
 * CFS_DAEMON_RUN, or 2 after saying why on stderr. */
int cfs_daemon_identity(const char *daemon, enum cfs_role role,
			const struct cfs_daemon_sec *sec, unsigned admit);

/* Crash tests: a daemon started with CFS_FAULT=NAME[,NAME...] in its
 * environment SIGKILLs itself when it reaches fault point NAME (logged
 * first); cfs_fault says whether NAME is set, for a point that does part
 * of its work first. One getenv the first time, nothing after. */
bool cfs_fault(const char *name);
void cfs_fault_point(const char *name);

/* Keep large (bulk) allocations on the heap for reuse; called by
 * cfs_daemon_setup, and by clients that move file data. */
void cfs_malloc_for_bulk(void);

#endif
