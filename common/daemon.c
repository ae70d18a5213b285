/* Daemon start-up shared by cfs-mds and cfs-osd; see cfs/daemon.h. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

int cfs_daemon_identity(const char *daemon, enum cfs_role role,
			const struct cfs_daemon_sec *sec, unsigned admit)
{
	static struct cfs_rpc_identity *id;	/* the process's, for good */
	char why[160] = "";
	int rc;

	if (!sec->token[0]) {
		if (sec->insecure) {
			cfs_log_warn("running without a token (insecure): "
				     "anyone who reaches this daemon's ports "
				     "is served", "daemon=%s", daemon);
			return CFS_DAEMON_RUN;
		}
		fprintf(stderr, "cfs-%s: a join token is needed: --token FILE "
				"(cfs token create --role %s makes one), or "
				"--insecure to run without\n",
			daemon, cfs_role_name(role));
		return 2;
	}
	rc = cfs_rpc_identity_load(sec->token, sec->encrypt, admit, &id, why,
				   sizeof(why));
	if (rc) {
		fprintf(stderr, "cfs-%s: token %s: %s\n", daemon, sec->token,
			why);
		return 2;
	}
	if (cfs_rpc_identity_token(id)->role != role) {
		fprintf(stderr, "cfs-%s: %s is a token of role %s, not %s\n",
			daemon, sec->token,
			cfs_role_name(cfs_rpc_identity_token(id)->role),
			cfs_role_name(role));
		cfs_rpc_identity_free(id);
		id = NULL;
		return 2;
	}
	cfs_rpc_set_identity(id);
	cfs_log_info("joined with a token", "daemon=%s cluster=%s token=%s "
		     "encrypt=%d", daemon, cfs_rpc_identity_token(id)->cluster,
		     cfs_rpc_identity_token(id)->id, sec->encrypt);
	return CFS_DAEMON_RUN;
}

bool cfs_fault(const char *name)
{
	static const char *faults;
	static bool read;
	size_t n = strlen(name);

	if (!read) {
		faults = getenv("CFS_FAULT");
		read = true;
	}
	for (const char *p = faults; p && *p; p += strcspn(p, ",")) {
		p += *p == ',';
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == 0))
			return true;
	}
	return false;
}

void cfs_fault_point(const char *name)
{
	if (!cfs_fault(name))
		return;
	cfs_log_error("fault point reached: killing myself", "point=%s", name);
	raise(SIGKILL);
}
