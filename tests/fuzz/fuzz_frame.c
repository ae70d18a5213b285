/* libFuzzer: the RPC request frame as a server decodes it (the length
 * split, the envelope, the body for the method it names), with the
 * MDS's and the OSD's real method tables; the first byte picks which. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cfs/rpc.h"
#include "../../mds/mds.h"
#include "../../osd/osd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mds mds;
	static struct osd osd;
	static const struct cfs_rpc_method *tables[2];
	static size_t ns[2];
	struct cfs_rpc_req rq;
	ProtobufCMessage *body;

	if (!tables[0]) {
		tables[0] = mds_service_init(&mds, &ns[0]);
		osd.cfg.workers = 2;
		tables[1] = osd_service_init(&osd, &ns[1]);
	}
	if (size < 1)
		return 0;
	if (cfs_rpc_frame_decode_request(data + 1, size - 1,
					 tables[data[0] & 1], ns[data[0] & 1],
					 &rq, &body) == 0)
		protobuf_c_message_free_unpacked(body, NULL);
	else if (body)
		abort();	/* a failed decode leaves nothing to free */
	return 0;
}
