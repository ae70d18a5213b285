/* Subtree tokens: a token restricted to a subtree (`cfs token create
 * --subtree /path`) sees that directory as its root and nothing outside
 * it. Every request passes mds_admit (service.c), and so this, before its handler:
 * each inode it names (its fields "ino", "parent" and "newparent") is
 * read with 1, the root, meaning the subtree's root, and must lie within
 * it: a directory by its parents, another inode by the directory of its
 * first link (cfs_ns_within). ".." of the subtree's root is the root
 * itself. Replies and the change feed show the subtree's root as 1
 * (mds_scope_ino) and leave out what lies outside (mds_scope_sees). The
 * path is looked up afresh for each request, as a path-restricted
 * capability is (CephFS's): renaming the directory away ends access. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "mds.h"

/* The inode of path, from the root, as root would look it up. */
static int resolve(struct mds *mds, MDB_txn *txn, const char *path,
		   uint64_t *ino)
{
	const struct cfs_cred root = { .uid = 0 };
	struct cfs_inode in;
	const char *p = path;

	*ino = CFS_ROOT_INO;
	while (*p) {
		size_t len;
		int rc;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (!len)
			break;
		rc = cfs_ns_lookup(&mds->ns, txn, &root, *ino, p, len, &in);
		if (rc)
			return rc;
		if (!S_ISDIR(in.mode))
			return -ENOTDIR;
		*ino = in.ino;
		p += len;
	}
	return 0;
}

static bool restricted(const struct cfs_rpc_req *rq)
{
	return rq->peer && rq->peer->subtree[0] &&
	       strcmp(rq->peer->subtree, "/");
}

/* An inode field of a request: 1 read as the subtree's root, and it must
 * lie within. */
static int scope_field(struct mds *mds, MDB_txn *txn, uint64_t root,
		       uint64_t *ino)
{
	bool within;
	int rc;

	if (*ino == CFS_ROOT_INO)
		*ino = root;
	rc = cfs_ns_within(&mds->ns, txn, *ino, root, &within);
	if (rc == -ENOENT)
		return rc;
	return rc || !within ? -EACCES : 0;
}

int mds_subtree_admit(void *arg, struct cfs_rpc_req *rq, ProtobufCMessage *m)
{
	static const char *const fields[] = { "ino", "parent", "newparent" };
	struct mds *mds = arg;
	uint64_t root;
	MDB_txn *txn;
	int rc;

	if (!restricted(rq))
		return 0;
	rc = cfs_ns_begin(&mds->ns, NULL, false, &txn);
	if (rc)
		return rc;
	rc = resolve(mds, txn, rq->peer->subtree, &root);
	for (size_t i = 0; !rc && i < sizeof(fields) / sizeof(fields[0]);
	     i++) {
		const ProtobufCFieldDescriptor *f =
			protobuf_c_message_descriptor_get_field_by_name(
				m->descriptor, fields[i]);

		if (f && f->type == PROTOBUF_C_TYPE_UINT64 &&
		    f->label != PROTOBUF_C_LABEL_REPEATED)
			rc = scope_field(mds, txn, root,
					 (uint64_t *)((char *)m + f->offset));
	}
	cfs_ns_abort(txn);
	if (rc)
		return rc;
	rq->scope = root;
	if (m->descriptor == &cfs__mds_name__descriptor) {
		/* ".." of the subtree's root: the root itself */
		Cfs__MdsName *n = (Cfs__MdsName *)m;

		if (n->parent == root && n->name.len == 2 &&
		    !memcmp(n->name.data, "..", 2))
			n->name.len = 1;
	}
	return 0;
}

uint64_t mds_scope_ino(const struct cfs_rpc_req *rq, uint64_t ino)
{
	return rq->scope && ino == rq->scope ? CFS_ROOT_INO : ino;
}

bool mds_scope_sees(struct mds *mds, const struct cfs_rpc_req *rq,
		    uint64_t ino)
{
	MDB_txn *txn;
	bool within = false;

	if (!restricted(rq))
		return true;
	if (!rq->scope || cfs_ns_begin(&mds->ns, NULL, false, &txn))
		return false;
	if (cfs_ns_within(&mds->ns, txn, ino, rq->scope, &within))
		within = false;
	cfs_ns_abort(txn);
	return within;
}
