/* Namespace consistency check (cfs fsck). Reads each store (one per
 * metadata shard: names in one may point at inodes of another) in one
 * read transaction, so it is safe beside a running MDS, and reports:
 *   - entries pointing at a missing inode, or at an inode of another type
 *   - inodes no entry points at (other than the root and listed orphans)
 *   - link counts that differ from the entries (2 + subdirectories for
 *     directories), and directories whose ".." is not their parent
 *   - readdir cookies without an entry, and entries without a cookie
 *   - xattrs and symlink targets of missing inodes */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsck.h"

struct node {
	uint64_t ino;
	uint32_t mode, nlink;
	uint64_t parent;	/* directories: as recorded in the inode */
	uint32_t links;		/* entries pointing here */
	uint32_t subdirs;	/* directories: child directories */
	uint64_t seen_parent;	/* directories: the parent of its entry */
	bool orphan;
};

struct fsck {
	struct node *nodes;
	size_t n, cap;
	struct cfs_fsck_report *rep;
	void (*problem)(void *arg, const char *msg);
	void *arg;
};

static uint64_t be64(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void problem(struct fsck *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->rep->problems++;
	if (f->problem)
		f->problem(f->arg, msg);
}

static int by_ino(const void *a, const void *b)
{
	uint64_t x = ((const struct node *)a)->ino;
	uint64_t y = ((const struct node *)b)->ino;

	return x < y ? -1 : x > y;
}

/* The array is sorted by ino once every store's inodes are in. */
static struct node *find(struct fsck *f, uint64_t ino)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->nodes[mid].ino == ino)
			return &f->nodes[mid];
		if (f->nodes[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int load_inodes(struct fsck *f, struct cfs_ns *ns, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, ns->inodes, &cur);

	if (rc)
		return cfs_ns_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct cfs_inode in;
		struct node *nd;

		if (v.mv_size != sizeof(in) || k.mv_size != 8) {
			problem(f, "inode record of wrong size: key %zu bytes, "
				   "value %zu bytes", k.mv_size, v.mv_size);
			continue;
		}
		memcpy(&in, v.mv_data, sizeof(in));
		if (f->n == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 1024;
			struct node *nn = realloc(f->nodes, cap * sizeof(*nn));

			if (!nn) {
				mdb_cursor_close(cur);
				return -ENOMEM;
			}
			f->nodes = nn;
			f->cap = cap;
		}
		nd = &f->nodes[f->n++];
		memset(nd, 0, sizeof(*nd));
		nd->ino = be64(k.mv_data);
		nd->mode = in.mode;
		nd->nlink = in.nlink;
		nd->parent = in.parent;
		if (nd->ino != in.ino)
			problem(f, "inode %lu stored under key %lu",
				(unsigned long)in.ino, (unsigned long)nd->ino);
	}
	mdb_cursor_close(cur);
	f->rep->inodes = f->n;
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

/* A transaction of several shards under way (its records in table
 * xact) may show in one shard and not yet in another: counted, so that
 * a problem seen beside one can be checked again later. */
static int count_xact(struct fsck *f, struct cfs_ns *ns, MDB_txn *txn)
{
	MDB_stat st;
	int rc = mdb_stat(txn, ns->xact, &st);

	if (rc == 0)
		f->rep->pending += st.ms_entries;
	return cfs_ns_errno(rc);
}

static int check_dentries(struct fsck *f, struct cfs_ns *ns, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, ns->dentries, &cur);

	if (rc)
		return cfs_ns_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct { uint64_t ino, cookie; uint32_t type, pad; } dv;
		uint64_t parent = be64(k.mv_data), key[2];
		int nlen = (int)k.mv_size - 8;
		const char *name = (const char *)k.mv_data + 8;
		struct node *p, *c;
		MDB_val ck, cv;

		f->rep->entries++;
		if (v.mv_size != sizeof(dv) || k.mv_size <= 8) {
			problem(f, "entry record of wrong size in dir %lu",
				(unsigned long)parent);
			continue;
		}
		memcpy(&dv, v.mv_data, sizeof(dv));
		p = find(f, parent);
		c = find(f, dv.ino);
		if (!p || !S_ISDIR(p->mode))
			problem(f, "entry '%.*s' in %lu, which is not a directory",
				nlen, name, (unsigned long)parent);
		if (!c) {
			problem(f, "entry '%.*s' in dir %lu points at missing "
				   "inode %lu", nlen, name,
				(unsigned long)parent, (unsigned long)dv.ino);
			continue;
		}
		if ((c->mode & S_IFMT) != dv.type)
			problem(f, "entry '%.*s' in dir %lu: type %o, inode %lu "
				   "is %o", nlen, name, (unsigned long)parent,
				dv.type, (unsigned long)c->ino, c->mode & S_IFMT);
		c->links++;
		if (S_ISDIR(c->mode)) {
			c->seen_parent = parent;
			if (p)
				p->subdirs++;
		}
		/* the readdir index must hold this entry under its cookie */
		key[0] = parent;
		key[1] = dv.cookie;
		{
			uint8_t kb[16];

			for (int i = 0; i < 8; i++) {
				kb[i] = (uint8_t)(key[0] >> (56 - 8 * i));
				kb[8 + i] = (uint8_t)(key[1] >> (56 - 8 * i));
			}
			ck.mv_size = 16;
			ck.mv_data = kb;
			if (mdb_get(txn, ns->cookies, &ck, &cv) ||
			    cv.mv_size != 8 + (size_t)nlen ||
			    be64(cv.mv_data) != dv.ino ||
			    memcmp((uint8_t *)cv.mv_data + 8, name,
				   (size_t)nlen))
				problem(f, "entry '%.*s' in dir %lu missing from "
					   "the readdir index", nlen, name,
					(unsigned long)parent);
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

static int check_cookies(struct fsck *f, struct cfs_ns *ns, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, ns->cookies, &cur);

	if (rc)
		return cfs_ns_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint8_t kb[8 + CFS_NAME_MAX];
		MDB_val dk, dv;
		const char *name = (const char *)v.mv_data + 8;
		size_t nlen;

		if (k.mv_size != 16 || v.mv_size <= 8 ||
		    v.mv_size > 8 + CFS_NAME_MAX) {
			problem(f, "readdir index record of wrong size");
			continue;
		}
		nlen = v.mv_size - 8;
		memcpy(kb, k.mv_data, 8);
		memcpy(kb + 8, name, nlen);
		dk.mv_size = 8 + nlen;
		dk.mv_data = kb;
		if (mdb_get(txn, ns->dentries, &dk, &dv))
			problem(f, "readdir index names '%.*s' in dir %lu, "
				   "which has no such entry", (int)nlen, name,
				(unsigned long)be64(k.mv_data));
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

/* Keys of dbi that start with an inode number must name a live inode. */
static int check_owned(struct fsck *f, MDB_txn *txn, MDB_dbi dbi,
		       const char *what, bool mark_orphan)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, dbi, &cur);

	if (rc)
		return cfs_ns_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct node *nd = k.mv_size >= 8 ? find(f, be64(k.mv_data)) :
						   NULL;

		if (!nd)
			problem(f, "%s of missing inode %lu", what,
				k.mv_size >= 8 ? (unsigned long)be64(k.mv_data) :
						 0ul);
		else if (mark_orphan)
			nd->orphan = true;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : cfs_ns_errno(rc);
}

int cfs_ns_fsck(struct cfs_ns *const *ns, MDB_txn *const *txn, size_t n,
		struct cfs_fsck_report *rep,
		void (*report)(void *arg, const char *msg), void *arg)
{
	struct fsck f = { .rep = rep, .problem = report, .arg = arg };
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	for (size_t i = 0; !rc && i < n; i++)
		rc = load_inodes(&f, ns[i], txn[i]);
	if (f.n)
		qsort(f.nodes, f.n, sizeof(*f.nodes), by_ino);
	for (size_t i = 0; !rc && i < n; i++) {
		rc = check_dentries(&f, ns[i], txn[i]);
		if (!rc)
			rc = check_cookies(&f, ns[i], txn[i]);
		if (!rc)
			rc = check_owned(&f, txn[i], ns[i]->xattrs, "xattr",
					 false);
		if (!rc)
			rc = check_owned(&f, txn[i], ns[i]->symlinks,
					 "symlink target", false);
		if (!rc)
			rc = check_owned(&f, txn[i], ns[i]->orphans,
					 "orphan record", true);
		if (!rc)
			rc = count_xact(&f, ns[i], txn[i]);
	}
	for (size_t i = 0; rc == 0 && i < f.n; i++) {
		struct node *nd = &f.nodes[i];
		bool root = nd->ino == CFS_ROOT_INO;
		uint32_t want;

		if (nd->orphan) {
			rep->orphans++;
			if (nd->links || nd->nlink)
				problem(&f, "orphan inode %lu still has links",
					(unsigned long)nd->ino);
			continue;
		}
		if (!root && nd->links == 0) {
			problem(&f, "inode %lu is not in any directory",
				(unsigned long)nd->ino);
			continue;
		}
		if (S_ISDIR(nd->mode)) {
			want = 2 + nd->subdirs;
			if (!root && nd->links != 1)
				problem(&f, "directory %lu has %u entries",
					(unsigned long)nd->ino, nd->links);
			if (!root && nd->parent != nd->seen_parent)
				problem(&f, "directory %lu: '..' is %lu, but it "
					    "is in %lu", (unsigned long)nd->ino,
					(unsigned long)nd->parent,
					(unsigned long)nd->seen_parent);
		} else {
			want = nd->links;
		}
		if (nd->nlink != want)
			problem(&f, "inode %lu: link count %u, %u expected",
				(unsigned long)nd->ino, nd->nlink, want);
	}
	free(f.nodes);
	return rc;
}
