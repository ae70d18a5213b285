/* cfs-tierd: flags and config, the cluster and the store opened, passes
 * run in a thread until a signal. */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cfs/log.h"
#include "tierd.h"

#define KEY(n, t, d, f, lo, hi, h) \
	{ n, t, d, offsetof(struct tierd_config, f), lo, hi, h }

static const struct cfs_config_key keys[] = {
	KEY("mds", CFS_CFG_STR, "127.0.0.1:7400", mds, 0, 0,
	    "the MDS (its replicas' addresses, comma-separated)"),
	KEY("store", CFS_CFG_STR, "", store, 0, 0,
	    "file:///DIR or s3://BUCKET/PREFIX[?endpoint=URL&region=R]"),
	KEY("access-key", CFS_CFG_STR, "", access_key, 0, 0,
	    "S3 access key (default $AWS_ACCESS_KEY_ID); keep the config 0600"),
	KEY("secret-key", CFS_CFG_STR, "", secret_key, 0, 0,
	    "S3 secret key (default $AWS_SECRET_ACCESS_KEY)"),
	KEY("log-level", CFS_CFG_STR, "info", log_level, 0, 0,
	    "debug, info, warn or error"),
	KEY("min-age-s", CFS_CFG_INT, "3600", min_age_s, 0, 31536000,
	    "a file unchanged and closed this long is tiered (tier.min_age)"),
	KEY("interval-ms", CFS_CFG_INT, "1000", interval_ms, 50, 3600000,
	    "the pause between passes"),
	KEY("timeout-ms", CFS_CFG_INT, "120000", timeout_ms, 1000, 3600000,
	    "one store request's limit"),
	KEY("repack-pct", CFS_CFG_INT, "50", repack_pct, 0, 100,
	    "a blob less than this much of which is still pointed at is "
	    "repacked: its live pieces tiered anew, then it is deleted (0: "
	    "only when nothing in it lives)"),
	KEY("high-watermark-pct", CFS_CFG_INT, "90", high_pct, 0, 100,
	    "past this much of the flash used, tiered files' copies are "
	    "evicted (tier.high_watermark; 100: never) ..."),
	KEY("low-watermark-pct", CFS_CFG_INT, "80", low_pct, 0, 100,
	    "... until this much is used (tier.low_watermark)"),
	CFS_DAEMON_SEC_KEYS(struct tierd_config, sec),
};

static volatile bool stop;
static struct tierd *tierd;

static void *runner(void *arg)
{
	(void)arg;
	tierd_run(tierd, &stop);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct tierd_config cfg;
	sigset_t sigs;
	pthread_t th;
	int sig;

	int rc = cfs_daemon_setup("tierd", keys, sizeof(keys) / sizeof(keys[0]),
				  &cfg, offsetof(struct tierd_config, log_level),
				  argc, argv, &sigs);
	if (rc != CFS_DAEMON_RUN)
		return rc;
	/* tierd reads files as a client of the cluster does */
	char why[300];
	if (cfs_join(*cfg.sec.token ? cfg.sec.token : NULL, cfg.sec.insecure,
		     why, sizeof(why))) {
		fprintf(stderr, "cfs-tierd: %s\n", why);
		return 2;
	}
	if (cfs_joined() && cfs_joined()->role != CFS_ROLE_TIERD) {
		fprintf(stderr, "cfs-tierd: %s is not a tierd token (cfs token "
				"create --role tierd)\n", cfg.sec.token);
		return 2;
	}
	if (!*cfg.store) {
		fprintf(stderr, "cfs-tierd: --store URL is needed (file:///DIR "
				"or s3://BUCKET/PREFIX?endpoint=...)\n");
		return 2;
	}
	if (tierd_open(&tierd, &cfg))
		return 1;
	if (pthread_create(&th, NULL, runner, NULL)) {
		cfs_log_error("cannot start", "what=thread");
		return 1;
	}
	sigwait(&sigs, &sig);
	cfs_log_info("tierd stopping", "signal=%d", sig);
	stop = true;
	pthread_join(th, NULL);
	tierd_close(tierd);
	return 0;
}
