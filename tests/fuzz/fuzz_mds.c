/* libFuzzer: every MDS handler, as the RPC server calls it, on a real
 * metadata store (LMDB and its redo log, in /dev/shm): the input is the
 * method number, who sends it (fuzz_peer) and the request body. Long
 * polls are made not to wait. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "../../mds/mds.h"

static struct mds mds;
static const struct cfs_rpc_method *methods;
static size_t nmethods;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_dir("mds");

	(void)argc;
	(void)argv;
	snprintf(mds.cfg.data, sizeof(mds.cfg.data), "%s", dir);
	snprintf(mds.cfg.listen, sizeof(mds.cfg.listen), "127.0.0.1:1");
	snprintf(mds.cfg.cluster_id, sizeof(mds.cfg.cluster_id), "fuzz");
	mds.cfg.workers = 4;
	mds.cfg.replicas = 3;
	mds.cfg.pg_count = 64;
	mds.cfg.down_after_ms = 3000;
	mds.cfg.session_timeout_ms = 10000;
	if (cfs_ns_open(&mds.ns, dir,
			&(struct cfs_ns_opts){ .map_size = 1u << 30 }) ||
	    mds_members_load(&mds) || mds_writer_start(&mds))
		abort();
	methods = mds_service_init(&mds, &nmethods);
	mds.ready = 1;	/* a lone MDS, serving */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_call(methods, nmethods, &mds, mds_admit, "wait_ms", 0, data, size,
		  2, 0);
	return 0;
}
