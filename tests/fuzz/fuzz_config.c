/* libFuzzer: a daemon's configuration as a --config file gives it
 * (JSON): keys of every type (strings, ranged integers, booleans) in
 * the MDS's config struct, the security keys as every daemon has them. */
#include <stddef.h>
#include <stdint.h>

#include "cfs/config.h"
#include "../../mds/mds.h"

#define KEY(s, n, t, d, f, lo, hi) \
	{ n, t, d, offsetof(s, f), lo, hi, "" }

static const struct cfs_config_key keys[] = {
	KEY(struct mds_config, "listen", CFS_CFG_STR, "127.0.0.1:7400", listen,
	    0, 0),
	KEY(struct mds_config, "data", CFS_CFG_STR, "/tmp", data, 0, 0),
	KEY(struct mds_config, "workers", CFS_CFG_INT, "16", workers, 1, 256),
	KEY(struct mds_config, "replicas", CFS_CFG_INT, "3", replicas, 1, 8),
	KEY(struct mds_config, "down-after-ms", CFS_CFG_INT, "3000",
	    down_after_ms, 100, 600000),
	CFS_DAEMON_SEC_KEYS(struct mds_config, sec),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mds_config cfg = { 0 };
	char err[256];

	cfs_config_parse(keys, sizeof(keys) / sizeof(keys[0]), &cfg,
			 (const char *)data, size, err, sizeof(err));
	return 0;
}
