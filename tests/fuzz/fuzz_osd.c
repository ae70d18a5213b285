/* libFuzzer: every OSD handler, as the RPC server calls it, on a real
 * chunk store (in /dev/shm) of an OSD alone in its map (one copy, so no
 * change is forwarded): the input is the method number, who sends it
 * (fuzz_peer), a bulk length, then the request body and its bulk. Map
 * epochs are kept to the OSD's own, so no request waits for a newer. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "../../osd/osd.h"

static struct osd osd;
static const struct cfs_rpc_method *methods;
static size_t nmethods;

/* A map with this OSD alone in it, up. */
static void install_map(void)
{
	Cfs__OsdInfo info = CFS__OSD_INFO__INIT, *infos[1] = { &info };
	Cfs__ClusterMap m = CFS__CLUSTER_MAP__INIT;
	uint8_t buf[512];
	size_t len;

	info.id = 1;
	info.addr = "127.0.0.1:1";
	info.node = info.domain = "n1";
	info.weight = 100;
	info.state = CFS__OSD_STATE__OSD_UP;
	info.in = true;
	m.version = CFS_PROTO_VERSION;
	m.epoch = 1;
	m.cluster_id = "fuzz";
	m.pg_count = 8;
	m.replicas = 1;
	m.osds = infos;
	m.n_osds = 1;
	len = cfs__cluster_map__pack(&m, buf);
	cfs_map_install(&osd.maps,
			cfs__cluster_map__unpack(NULL, len, buf));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_dir("osd");

	(void)argc;
	(void)argv;
	snprintf(osd.cfg.data, sizeof(osd.cfg.data), "%s", dir);
	osd.cfg.workers = 4;
	osd.cfg.heartbeat_ms = 1000;
	cfs_map_holder_init(&osd.maps);
	pthread_mutex_init(&osd.rlock, NULL);
	pthread_cond_init(&osd.rcond, NULL);
	if (store_open(&osd.store, dir) || cfs_rpc_client_new(&osd.peers))
		abort();
	install_map();
	osd.id = 1;
	osd.ready = true;
	methods = osd_service_init(&osd, &nmethods);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t bulk;

	if (size < 4)
		return 0;
	bulk = ((size_t)data[2] << 8 | data[3]) * 16;
	osd.heartbeat_ok_ms = cfs_mono_ms();
	fuzz_call(methods, nmethods, &osd, NULL, "map_epoch", 1, data, size, 4,
		  bulk < size - 4 ? bulk : size - 4);
	return 0;
}
