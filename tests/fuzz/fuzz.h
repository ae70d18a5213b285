/* What the fuzzers share: a scratch directory, and for the MDS and OSD
 * handler fuzzers a request's fields made to keep the run fast and a
 * peer to send it as. */
#ifndef CFS_FUZZ_H
#define CFS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/rpc.h"
#include "cfs/token.h"

static char fuzz_dir_path[256];

static void fuzz_dir_gone(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", fuzz_dir_path);
	if (system(cmd))
		fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_path);
}

/* A new directory for what name keeps on disk, under $CFS_FUZZ_DIR (else
 * /dev/shm: fast), removed when the fuzzer exits. */
static inline const char *fuzz_dir(const char *name)
{
	const char *base = getenv("CFS_FUZZ_DIR");

	snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/cfs-fuzz-%s.XXXXXX",
		 base && *base ? base : "/dev/shm", name);
	if (!mkdtemp(fuzz_dir_path))
		abort();
	atexit(fuzz_dir_gone);
	return fuzz_dir_path;
}

/* Set a uint32/uint64 field of m by name to at most max, if it has it. */
static inline void clamp_field(ProtobufCMessage *m, const char *name,
			       uint64_t max)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(m->descriptor,
								name);

	if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
		return;
	if (f->type == PROTOBUF_C_TYPE_UINT32) {
		uint32_t *v = (uint32_t *)((char *)m + f->offset);

		if (*v > max)
			*v = (uint32_t)max;
	} else if (f->type == PROTOBUF_C_TYPE_UINT64) {
		uint64_t *v = (uint64_t *)((char *)m + f->offset);

		if (*v > max)
			*v = max;
	}
}

/* The peer a request comes as, by sel: none (a cluster without tokens),
 * or a token of some role, read-only or squashing or in a subtree. */
static inline const struct cfs_token *fuzz_peer(uint8_t sel)
{
	static struct cfs_token peers[8];
	static const enum cfs_role roles[8] = {
		CFS_ROLE_CLIENT, CFS_ROLE_CLIENT, CFS_ROLE_CLIENT,
		CFS_ROLE_CLIENT, CFS_ROLE_ADMIN, CFS_ROLE_OSD, CFS_ROLE_MDS,
		CFS_ROLE_GATEWAY
	};

	if (!(sel & 8))
		return NULL;
	sel &= 7;
	if (!peers[sel].id[0]) {
		peers[sel].role = roles[sel];
		peers[sel].ro = sel == 1;
		peers[sel].squash = sel == 2;
		strcpy(peers[sel].subtree, sel == 3 ? "/d" : "/");
		memcpy(peers[sel].id, "0123456789abcde", 15);
		peers[sel].id[15] = (char)('0' + sel);
	}
	return &peers[sel];
}

/* One request to a handler, as the RPC server would make it: the method
 * is data[0], the peer fuzz_peer(data[1]), the body data[hdr..size-bulk)
 * and the bulk the last bulk bytes; field `clamp` is kept to clamp_max;
 * admit (may be NULL) runs first, as the server's would. */
static inline void fuzz_call(const struct cfs_rpc_method *methods, size_t n,
			     void *arg, cfs_rpc_admit_fn admit,
			     const char *clamp, uint64_t clamp_max,
			     const uint8_t *data, size_t size, size_t hdr,
			     size_t bulk)
{
	static uint64_t request_id;
	struct cfs_rpc_req rq = { 0 };
	const struct cfs_rpc_method *m;
	ProtobufCMessage *body;

	if (size < hdr || hdr < 2 || bulk > size - hdr || data[0] >= n ||
	    !methods[data[0]].req_desc)
		return;
	m = &methods[data[0]];
	body = protobuf_c_message_unpack(m->req_desc, NULL, size - hdr - bulk,
					 data + hdr);
	if (!body)
		return;
	clamp_field(body, clamp, clamp_max);
	rq.method = data[0];
	rq.client_id = 1 + (data[1] >> 4);
	rq.request_id = ++request_id;
	rq.peer = fuzz_peer(data[1]);
	rq.bulk = data + size - bulk;
	rq.bulk_len = bulk;
	if (!admit || admit(arg, &rq, body) == 0)
		m->fn(arg, &rq, body);
	cfs_rpc_req_done(&rq);
	protobuf_c_message_free_unpacked(body, NULL);
}

#endif
