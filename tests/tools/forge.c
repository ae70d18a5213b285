/* forge: a client with a good token that tries to reach, on the OSDs,
 * chunks of a file it cannot open (test_security.sh). Through libcfs it
 * opens a file of its own (OWN_INO, read-only) as uid:gid, to hold a
 * real capability; then it sends OSD requests by hand for TARGET_INO, a
 * file it may not open. Each attempt prints "NAME rc=N" (0 or -errno):
 *
 *   open-target       libcfs's open of the target (the MDS says no)
 *   cap-target        MDS_CAP for the target with uid:gid's credentials
 *   no-cap            an OSD read of the target without a capability
 *   other-file-cap    ... with the capability of OWN_INO
 *   altered-cap       ... with that capability's inode changed to the
 *                     target (its MAC no longer matches)
 *   read-cap-write    an OSD write to OWN_INO with its read capability
 *   osd-only-gone     MDS_GONE (which inodes are deleted: the OSDs'
 *                     garbage collection asks it) with a client's token
 *   own-read          an OSD read of OWN_INO with its capability (the
 *                     control: the forged requests are well made)
 *
 *   forge TOKEN MDS UID:GID OWN_INO TARGET_INO */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfs/crc.h"
#include "client_priv.h"
#include "mds.pb-c.h"
#include "osd.pb-c.h"

static struct cfs_client *cl;

/* One OSD request to chunk 0 of ino's acting primary. */
static int osd_call(uint32_t method, ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *rep, uint64_t ino,
		    const void *bulk, size_t bulk_len)
{
	struct cfs_map *map = cfs_map_get(&cl->maps);
	int p = map ? cfs_placement_primary(map->pb, 0, ino, 0) : -1, rc;
	struct cfs_rpc_call c = { .method = method, .req = req,
				  .rep_desc = rep, .bulk = bulk,
				  .bulk_len = bulk_len };

	if (p < 0) {
		cfs_map_put(&cl->maps, map);
		return -EHOSTDOWN;
	}
	rc = cfs_rpc_call(cl->rpc, map->pb->osds[p]->addr, &c);
	cfs_rpc_call_done(&c);
	cfs_map_put(&cl->maps, map);
	return rc;
}

static int read_with(uint64_t ino, Cfs__Capability *cap)
{
	Cfs__ChunkId chunk = CFS__CHUNK_ID__INIT;
	Cfs__OsdRead r = CFS__OSD_READ__INIT;

	chunk.ino = ino;
	r.chunk = &chunk;
	r.length = 4096;
	r.cap = cap;
	return osd_call(CFS__OSD_METHOD__OSD_READ, &r.base,
			&cfs__osd_read_reply__descriptor, ino, NULL, 0);
}

static int write_with(uint64_t ino, Cfs__Capability *cap)
{
	static const char data[5] = "owned";
	Cfs__ChunkId chunk = CFS__CHUNK_ID__INIT;
	Cfs__OsdWrite w = CFS__OSD_WRITE__INIT;
	uint32_t crc;

	cfs_crc_pieces(0, data, sizeof(data), &crc);
	chunk.ino = ino;
	w.chunk = &chunk;
	w.crcs = &crc;
	w.n_crcs = 1;
	w.cap = cap;
	return osd_call(CFS__OSD_METHOD__OSD_WRITE, &w.base, NULL, ino, data,
			sizeof(data));
}

/* A call only OSDs may make. */
static int ask_gone(const char *mds, uint64_t ino)
{
	Cfs__MdsInodes r = CFS__MDS_INODES__INIT;
	struct cfs_rpc_call c = { .method = CFS__MDS_METHOD__MDS_GONE,
				  .req = &r.base,
				  .rep_desc = &cfs__mds_inodes__descriptor };
	int rc;

	r.inos = &ino;
	r.n_inos = 1;
	rc = cfs_rpc_call(cl->rpc, mds, &c);
	cfs_rpc_call_done(&c);
	return rc;
}

int main(int argc, char **argv)
{
	struct cfs_client_opts o = { .writeback_mb = -1 };
	struct cfs_cred cr = { 0 };
	struct client_cap own, altered;
	struct cfs_attr a;
	uint64_t own_ino, target;
	char why[256];
	int rc;

	if (argc != 6 || sscanf(argv[3], "%u:%u", &cr.uid, &cr.gid) != 2) {
		fprintf(stderr, "usage: forge TOKEN MDS UID:GID OWN_INO "
				"TARGET_INO\n");
		return 2;
	}
	own_ino = strtoull(argv[4], NULL, 0);
	target = strtoull(argv[5], NULL, 0);
	o.mds = argv[2];
	if (cfs_join(argv[1], false, why, sizeof(why)) ||
	    cfs_client_new(&cl, &o)) {
		fprintf(stderr, "forge: cannot join: %s\n", why);
		return 1;
	}
	printf("open-target rc=%d\n", cfs_open(cl, &cr, target, O_RDONLY, &a));
	printf("cap-target rc=%d\n", client_cap_ask(cl, target, false, &cr));
	rc = cfs_open(cl, &cr, own_ino, O_RDONLY, &a);
	if (rc || !client_cap_held(cl, own_ino, false, &own) || !own.cap) {
		fprintf(stderr, "forge: no capability for its own file (%d)\n",
			rc);
		return 1;
	}
	printf("no-cap rc=%d\n", read_with(target, NULL));
	printf("other-file-cap rc=%d\n", read_with(target, own.cap));
	altered = own;
	altered.pb.mac.data = altered.mac;
	altered.pb.ino = target;
	printf("altered-cap rc=%d\n", read_with(target, &altered.pb));
	printf("read-cap-write rc=%d\n", write_with(own_ino, own.cap));
	printf("osd-only-gone rc=%d\n", ask_gone(o.mds, target));
	printf("own-read rc=%d\n", read_with(own_ino, own.cap));
	cfs_release(cl, own_ino, O_RDONLY);
	cfs_client_free(cl);
	return 0;
}
