/* Daemon start-up shared by cfs-mds and cfs-osd; see cfs/daemon.h. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>

#include "cfs/daemon.h"
#include "cfs/log.h"

int cfs_daemon_setup(const char *daemon, const struct cfs_config_key *keys,
		     size_t nkeys, void *cfg, size_t log_level_offset,
		     int argc, char **argv, sigset_t *sigs)
{
	const char *level_name = (const char *)cfg + log_level_offset;
	enum cfs_log_level level;
	char err[512];
	int nrest, rc;

	rc = cfs_config_load(keys, nkeys, cfg, argc, argv, NULL, 0, &nrest,
			     err, sizeof(err));
	if (rc == 1)
		return 0;	/* --help printed */
	if (rc) {
		fprintf(stderr, "cfs-%s: %s\n", daemon, err);
		return 2;
	}
	if (cfs_log_parse_level(level_name, &level)) {
		fprintf(stderr, "cfs-%s: config key 'log-level': '%s' is not "
				"one of debug, info, warn, error\n",
			daemon, level_name);
		return 2;
	}
	cfs_log_init(daemon, level);
	cfs_malloc_for_bulk();
	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	return CFS_DAEMON_RUN;
}

void cfs_malloc_for_bulk(void)
{
	/* Bulk buffers of up to 8 MiB come and go with every request: keep
	 * them on the heap, reused, rather than mapped and faulted in anew
	 * (and zeroed by the kernel) each time. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
}
