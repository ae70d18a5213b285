/* Tiering's records in the metadata store (the tables are described in
 * namespace.h): which files are in the object store and where, and how
 * much of each blob is still pointed at, so that a blob nothing points
 * at can be deleted. Every change goes through cfs_ns_put/cfs_ns_del,
 * so it is in the redo log and the replicas' entries like any other. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mds.pb-c.h"
#include "namespace.h"

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

int cfs_tier_get(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino,
		 Cfs__MdsTierFile **out)
{
	uint8_t k[8];
	be64(k, ino);
	MDB_val kv = { 8, k }, v;
	*out = NULL;
	int rc = mdb_get(txn, ns->tier, &kv, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return cfs_ns_errno(rc);
	*out = cfs__mds_tier_file__unpack(NULL, v.mv_size, v.mv_data);
	return *out ? 0 : -EIO;
}

int cfs_tier_blob_get(struct cfs_ns *ns, MDB_txn *txn, uint64_t id,
		      struct cfs_tier_blob *out)
{
	uint8_t k[8];
	be64(k, id);
	MDB_val kv = { 8, k }, v;
	int rc = mdb_get(txn, ns->blobs, &kv, &v);
	if (rc)
		return cfs_ns_errno(rc);
	if (v.mv_size != sizeof(*out))
		return -EIO;
	memcpy(out, v.mv_data, sizeof(*out));
	return 0;
}

int cfs_tier_blob_set(struct cfs_ns *ns, MDB_txn *txn, uint64_t id,
		      const struct cfs_tier_blob *b)
{
	uint8_t k[8];
	be64(k, id);
	MDB_val kv = { 8, k }, v = { sizeof(*b), (void *)b };
	return b ? cfs_ns_put(ns, txn, ns->blobs, &kv, &v) :
		   cfs_ns_del(ns, txn, ns->blobs, &kv);
}

int cfs_tier_blob_alloc(struct cfs_ns *ns, MDB_txn *txn, uint64_t *id)
{
	uint64_t next = 0;
	int rc = cfs_ns_meta_get(ns, txn, "tier_next_blob", &next);
	if (rc && rc != -ENOENT)
		return rc;
	*id = next ? next : 1;
	rc = cfs_ns_meta_put(ns, txn, "tier_next_blob", *id + 1);
	if (rc)
		return rc;
	struct cfs_tier_blob b = { .pending = 1 };
	return cfs_tier_blob_set(ns, txn, *id, &b);
}

/* Add sign * each segment's length to its blob's live bytes. */
static int count_segs(struct cfs_ns *ns, MDB_txn *txn,
		      const Cfs__MdsTierFile *f, int sign)
{
	for (size_t i = 0; i < f->n_segs; i++) {
		struct cfs_tier_blob b;
		int rc = cfs_tier_blob_get(ns, txn, f->segs[i]->blob, &b);
		if (rc == -ENOENT)
			continue;	/* (already forgotten) */
		if (rc)
			return rc;
		uint64_t len = f->segs[i]->len;
		b.live = sign > 0 ? b.live + len : b.live > len ? b.live - len : 0;
		rc = cfs_tier_blob_set(ns, txn, f->segs[i]->blob, &b);
		if (rc)
			return rc;
	}
	return 0;
}

int cfs_tier_forget(struct cfs_ns *ns, MDB_txn *txn, uint64_t ino)
{
	Cfs__MdsTierFile *old;
	int rc = cfs_tier_get(ns, txn, ino, &old);
	if (rc || !old)
		return rc;
	rc = count_segs(ns, txn, old, -1);
	cfs__mds_tier_file__free_unpacked(old, NULL);
	if (rc)
		return rc;
	uint8_t k[8];
	be64(k, ino);
	MDB_val kv = { 8, k };
	return cfs_ns_del(ns, txn, ns->tier, &kv);
}

int cfs_tier_put(struct cfs_ns *ns, MDB_txn *txn, const Cfs__MdsTierFile *f)
{
	int rc = cfs_tier_forget(ns, txn, f->ino);
	if (rc)
		return rc;
	size_t len = cfs__mds_tier_file__get_packed_size(f);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	cfs__mds_tier_file__pack(f, buf);
	uint8_t k[8];
	be64(k, f->ino);
	MDB_val kv = { 8, k }, v = { len, buf };
	rc = cfs_ns_put(ns, txn, ns->tier, &kv, &v);
	free(buf);
	return rc ? rc : count_segs(ns, txn, f, +1);
}
