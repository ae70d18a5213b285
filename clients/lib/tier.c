/* Evicting a tiered file's flash copies, and bringing them back
 * (tierd/README.md, "Eviction"): cfs tier evict and cfs-tierd.
 *
 * Evict: the MDS's record of where the file's bytes lie must match the
 * file as it is now; the record is marked evicted first (so that tierd,
 * tiering the file anew after a change, brings every copy back before
 * the old pieces may go), then every up target of each replicated chunk
 * is asked to drop its bytes, which each does only after checking its
 * own bytes against the pieces. A target down keeps its copy.
 *
 * Fill: every target of every chunk brings its bytes back, then the mark
 * goes; with a target down it waits (-EAGAIN), as that copy may be one
 * evicted, needing the pieces still. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/layout.h"
#include "client_priv.h"
#include "mds.pb-c.h"
#include "osd.pb-c.h"

/* The MDS's record of ino (free with cfs__mds_tier_file__free_unpacked):
 * 0, or -ENODATA when the file is not tiered. */
static int record_of(struct cfs_client *cl, uint64_t ino,
		     Cfs__MdsTierFile **out)
{
	Cfs__MdsIno req = CFS__MDS_INO__INIT;
	struct cfs_rpc_call c;
	req.ino = ino;
	int rc = client_mds_call(cl, CFS__MDS_METHOD__MDS_TIER_FILE, &req.base,
				 &cfs__mds_tier_file__descriptor, &c);
	*out = NULL;
	if (!rc && c.rep) {	/* (no body: an empty record) */
		size_t len = protobuf_c_message_get_packed_size(c.rep);
		uint8_t *buf = malloc(len ? len : 1);
		if (buf) {
			protobuf_c_message_pack(c.rep, buf);
			*out = cfs__mds_tier_file__unpack(NULL, len, buf);
			free(buf);
		}
		rc = *out ? 0 : -ENOMEM;
	}
	cfs_rpc_call_done(&c);
	if (!rc && (!*out || !(*out)->ino)) {
		if (*out)
			cfs__mds_tier_file__free_unpacked(*out, NULL);
		*out = NULL;
		rc = -ENODATA;
	}
	return rc;
}

static int mark(struct cfs_client *cl, const Cfs__MdsTierFile *rec,
		bool evicted)
{
	Cfs__MdsTierFile req = CFS__MDS_TIER_FILE__INIT;
	struct cfs_rpc_call c;
	req.ino = rec->ino;
	req.size = rec->size;
	req.mtime_ns = rec->mtime_ns;
	req.ctime_ns = rec->ctime_ns;
	req.evicted = evicted;
	int rc = client_mds_call(cl, CFS__MDS_METHOD__MDS_TIER_MARK, &req.base,
				 NULL, &c);
	cfs_rpc_call_done(&c);
	return rc;
}

/* OSD_EVICT (with pieces) or OSD_FILL to every up target of every chunk
 * the record has pieces of: 0 or the first error. */
static int each_copy(struct cfs_client *cl, const Cfs__MdsTierFile *rec,
		     uint32_t layout, bool evict)
{
	struct cfs_map *map = cfs_map_get(&cl->maps);
	if (!map)
		return -EIO;
	Cfs__OsdPiece *pieces = calloc(rec->n_segs ? rec->n_segs : 1,
				       sizeof(*pieces));
	Cfs__OsdPiece **pp = calloc(rec->n_segs ? rec->n_segs : 1, sizeof(*pp));
	int rc = pieces && pp ? 0 : -ENOMEM;
	/* the record's pieces are in file order: a chunk's are together */
	for (size_t i = 0; i < rec->n_segs && !rc;) {
		uint32_t chunk = rec->segs[i]->chunk;
		size_t n = 0;
		for (; i < rec->n_segs && rec->segs[i]->chunk == chunk; i++, n++) {
			const Cfs__MdsTierSeg *s = rec->segs[i];
			cfs__osd_piece__init(&pieces[n]);
			pieces[n].blob = s->blob;
			pieces[n].blob_off = s->blob_off;
			pieces[n].chunk_off = s->chunk_off;
			pieces[n].len = s->len;
			pieces[n].crc = s->crc;
			pp[n] = &pieces[n];
		}
		Cfs__ChunkId id = CFS__CHUNK_ID__INIT;
		Cfs__OsdEvict req = CFS__OSD_EVICT__INIT;
		id.ino = rec->ino;
		id.index = chunk;
		req.chunk = &id;
		req.pieces = evict ? pp : NULL;
		req.n_pieces = evict ? n : 0;
		int t[CFS_MAX_TARGETS];
		int nt = cfs_placement_chunk(map->pb, layout, rec->ino, chunk, t);
		for (int k = 0; k < nt && !rc; k++) {
			const Cfs__OsdInfo *o = map->pb->osds[t[k]];
			if (o->state != CFS__OSD_STATE__OSD_UP) {
				/* evict: it keeps its copy; fill: its
				 * copy may be evicted, and the pieces
				 * must stay until it is back */
				if (!evict)
					rc = -EAGAIN;
				continue;
			}
			struct cfs_rpc_call c = {
				.method = evict ? CFS__OSD_METHOD__OSD_EVICT :
						  CFS__OSD_METHOD__OSD_FILL,
				.req = &req.base,
				.timeout_ms = 60000,
			};
			rc = cfs_rpc_call(cl->rpc, o->addr, &c);
			cfs_rpc_call_done(&c);
		}
	}
	free(pieces);
	free(pp);
	cfs_map_put(&cl->maps, map);
	return rc;
}

int cfs_tier_evict(struct cfs_client *cl, uint64_t ino)
{
	Cfs__MdsTierFile *rec;
	struct cfs_attr a;
	struct cfs_layout l;
	int rc = cfs_getattr(cl, ino, &a, NULL);
	if (rc)
		return rc;
	if (cfs_layout_unpack(a.layout, &l) || cfs_layout_is_ec(&l))
		return -EOPNOTSUPP;	/* shards hold no whole bytes */
	rc = record_of(cl, ino, &rec);
	if (rc)
		return rc;
	if (rec->size != a.size || rec->mtime_ns != a.mtime_ns ||
	    rec->ctime_ns != a.ctime_ns)
		rc = -ESTALE;	/* changed since tiered: not in the store */
	if (!rc)
		rc = mark(cl, rec, true);
	if (!rc)
		rc = each_copy(cl, rec, a.layout, true);
	cfs__mds_tier_file__free_unpacked(rec, NULL);
	return rc;
}

int cfs_tier_fill(struct cfs_client *cl, uint64_t ino)
{
	Cfs__MdsTierFile *rec;
	struct cfs_attr a;
	int rc = cfs_getattr(cl, ino, &a, NULL);
	if (!rc)
		rc = record_of(cl, ino, &rec);
	if (rc)
		return rc == -ENODATA ? 0 : rc;
	if (rec->evicted) {
		rc = each_copy(cl, rec, a.layout, false);
		if (!rc)
			rc = mark(cl, rec, false);
	}
	cfs__mds_tier_file__free_unpacked(rec, NULL);
	return rc;
}
