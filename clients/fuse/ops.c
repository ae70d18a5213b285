/* FUSE low-level operations over libcfs. Each handler gathers the
 * caller's credentials, makes one libcfs call and replies. The kernel
 * checks permissions from cached attributes (default_permissions) and the
 * MDS checks every request again from the credentials sent with it: the
 * kernel's uid, gid and pid, plus the supplementary groups added here. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cfs/clock.h"
#include "cfs/map.h"
#include "cfs_fuse.h"

#define F(req) ((struct cfs_fuse *)fuse_req_userdata(req))

static void req_cred(fuse_req_t req, struct cfs_cred *cr)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int n;

	cr->uid = ctx->uid;
	cr->gid = ctx->gid;
	cr->ngroups = 0;
	cr->umask = ctx->umask;	/* the kernel leaves it to us (dont_mask) */
	if (ctx->uid == 0 && F(req)->root_squash)
		cr->uid = cr->gid = CFS_NOBODY;	/* as NFS's root_squash */
	if (ctx->uid == 0)
		return;	/* root passes every check that groups could */
	n = fuse_req_getgroups(req, CFS_MAX_GROUPS, (gid_t *)cr->groups);
	if (n > 0)
		cr->ngroups = n < CFS_MAX_GROUPS ? (uint32_t)n : CFS_MAX_GROUPS;
}

/* Fresh attributes of a file open here that another client rewrote
 * without changing its size: its cached pages go now (a new size drops
 * them in the kernel; a file not open here drops them at its next open,
 * and a drop queued for it could land after that open had read). */
static void check_pages(struct cfs_fuse *f, const struct cfs_attr *a)
{
	if (S_ISREG(a->mode) && cfs_mtime_moved(f->cl, a))
		inval_later(f, a->ino);
}

/* How long the kernel may keep an answer the MDS gave at asof: of ino's
 * attributes (parent 0), or of the name in parent (ino 0: not there).
 * The cache lease, if the change feed is live, nothing newer is known of
 * them and the handout is noted (a lost feed takes it back: inval.c);
 * else what is left of timeout. */
static double keep_for(struct cfs_fuse *f, double timeout, int64_t asof,
		       uint64_t ino, uint64_t parent, const char *name)
{
	int64_t now = cfs_mono_ns();
	double age = (double)(now - asof) / 1e9;

	if (timeout > 0 && f->cache_lease > timeout &&
	    (!ino || cfs_current(f->cl, ino, asof)) &&
	    (!parent || cfs_current(f->cl, parent, asof)) &&
	    inval_handout(f, now, parent ? 0 : ino, parent, name,
			  parent ? strlen(name) : 0))
		return f->cache_lease;
	return timeout > age ? timeout - age : 0;
}

/* The entry for name in parent, which the MDS gave at asof (a reply just
 * received: now). */
static void entry_param(struct cfs_fuse *f, uint64_t parent, const char *name,
			const struct cfs_attr *a, int64_t asof,
			struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = a->generation;
	cfs_attr_to_stat(a, &e->attr);
	e->attr_timeout = keep_for(f, f->attr_timeout, asof, a->ino, 0, NULL);
	e->entry_timeout = keep_for(f, f->entry_timeout, asof, a->ino, parent,
				    name);
}

static void reply_entry(fuse_req_t req, uint64_t parent, const char *name,
			int rc, const struct cfs_attr *a, int64_t asof)
{
	struct fuse_entry_param e;

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	check_pages(F(req), a);
	entry_param(F(req), parent, name, a, asof, &e);
	fuse_reply_entry(req, &e);
}

static void reply_attr(fuse_req_t req, int rc, const struct cfs_attr *a,
		       int64_t asof)
{
	struct stat st;

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	cfs_attr_to_stat(a, &st);
	fuse_reply_attr(req, &st, keep_for(F(req), F(req)->attr_timeout, asof,
					   a->ino, 0, NULL));
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	const struct cfs_fuse *f = userdata;

	conn->max_write = 1 << 20;
	/* the kernel keeps the lower of this and what main.c set */
	conn->max_readahead = f->readahead;
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* the kernel clears setuid/setgid on write and chown for us */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* POSIX ACLs: the kernel enforces them from the xattrs the MDS
	 * keeps; creation applies the umask or the default ACL at the MDS,
	 * so the kernel must pass the mode unmasked */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;	/* ours: inval.c */
}

/* A name that is not there is cached by the kernel for the entry
 * timeout, as a name that is (make and compilers probe the same missing
 * names over and over); a create through this mount replaces it at once.
 * An answer from a directory listing (libcfs) is cached only for what is
 * left of the timeouts since the MDS gave it. */
static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct cfs_fuse *f = F(req);
	struct fuse_entry_param e = { 0 };
	struct cfs_cred cr;
	struct cfs_attr a;
	int64_t asof;
	int rc;

	req_cred(req, &cr);
	rc = cfs_lookup(f->cl, &cr, parent, name, strlen(name), &a, &asof);
	if (rc == -ENOENT) {
		e.entry_timeout = keep_for(f, f->entry_timeout, asof, 0,
					   parent, name);
		if (e.entry_timeout > 0) {
			fuse_reply_entry(req, &e);
			return;
		}
	}
	reply_entry(req, parent, name, rc, &a, asof);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* inode numbers are the MDS's and stable: nothing is kept per lookup */
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

/* Attributes libcfs answers from memory are cached by the kernel only for
 * what is left of the timeout since the MDS gave them. */
static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct cfs_attr a;
	int64_t asof;
	int rc;

	(void)fi;
	rc = cfs_getattr(F(req)->cl, ino, &a, &asof);
	if (rc == 0)
		check_pages(F(req), &a);
	reply_attr(req, rc, &a, asof);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *st,
		       int valid, struct fuse_file_info *fi)
{
	struct cfs_attr in = { 0 }, out;
	struct cfs_cred cr;

	req_cred(req, &cr);
	in.mode = st->st_mode;
	in.uid = st->st_uid;
	in.gid = st->st_gid;
	in.size = (uint64_t)st->st_size;
	in.atime_ns = st->st_atim.tv_sec * 1000000000ll + st->st_atim.tv_nsec;
	in.mtime_ns = st->st_mtim.tv_sec * 1000000000ll + st->st_mtim.tv_nsec;
	reply_attr(req, cfs_setattr(F(req)->cl, &cr, ino, (unsigned)valid,
				    &in, fi != NULL, &out), &out,
		   cfs_mono_ns());
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[4097];
	int n = cfs_readlink(F(req)->cl, ino, buf, sizeof(buf) - 1);

	if (n < 0) {
		fuse_reply_err(req, -n);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct cfs_cred cr;
	struct cfs_attr a;

	req_cred(req, &cr);
	reply_entry(req, parent, name,
		    cfs_mknod(F(req)->cl, &cr, parent, name, strlen(name), mode,
			      rdev, true, false, &a),
		    &a, cfs_mono_ns());
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct cfs_cred cr;
	struct cfs_attr a;

	req_cred(req, &cr);
	reply_entry(req, parent, name,
		    cfs_mkdir(F(req)->cl, &cr, parent, name, strlen(name), mode,
			      &a),
		    &a, cfs_mono_ns());
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct cfs_cred cr;

	req_cred(req, &cr);
	fuse_reply_err(req, -cfs_unlink(F(req)->cl, &cr, parent, name,
					strlen(name)));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct cfs_cred cr;

	req_cred(req, &cr);
	fuse_reply_err(req, -cfs_rmdir(F(req)->cl, &cr, parent, name,
				       strlen(name)));
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct cfs_cred cr;
	struct cfs_attr a;

	req_cred(req, &cr);
	reply_entry(req, parent, name,
		    cfs_symlink(F(req)->cl, &cr, parent, name, strlen(name),
				target, &a),
		    &a, cfs_mono_ns());
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct cfs_cred cr;

	req_cred(req, &cr);
	fuse_reply_err(req, -cfs_rename(F(req)->cl, &cr, parent, name,
					strlen(name), newparent, newname,
					strlen(newname), flags));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct cfs_cred cr;
	struct cfs_attr a;

	req_cred(req, &cr);
	reply_entry(req, newparent, newname,
		    cfs_link(F(req)->cl, &cr, ino, newparent, newname,
			     strlen(newname), &a),
		    &a, cfs_mono_ns());
}

/* The kernel asks for security.capability before every write, to drop
 * it: that a file has none is cached like its attributes, for
 * attr_timeout, and forgotten when this mount sets or removes it. */
static bool is_caps(const char *name)
{
	return !strcmp(name, "security.capability");
}

static bool nocaps_known(struct cfs_fuse *f, uint64_t ino)
{
	struct nocaps *c = &f->nocaps[cfs_hash64(ino) % 4096];
	bool known;

	pthread_mutex_lock(&f->nocaps_lock);
	known = c->ino == ino && cfs_mono_ms() < c->until_ms;
	pthread_mutex_unlock(&f->nocaps_lock);
	return known;
}

static void nocaps_set(struct cfs_fuse *f, uint64_t ino, bool none)
{
	struct nocaps *c = &f->nocaps[cfs_hash64(ino) % 4096];

	pthread_mutex_lock(&f->nocaps_lock);
	if (none)
		*c = (struct nocaps){ ino, cfs_mono_ms() +
						   (int64_t)(f->attr_timeout *
							     1000) };
	else if (c->ino == ino)
		c->until_ms = 0;
	pthread_mutex_unlock(&f->nocaps_lock);
}

/* O_TRUNC arrives with the open (atomic_o_trunc): cut to zero here. */
static int open_trunc(fuse_req_t req, const struct cfs_cred *cr,
		      fuse_ino_t ino, int flags)
{
	struct cfs_attr in = { 0 }, out;

	if (!(flags & O_TRUNC))
		return 0;
	return cfs_setattr(F(req)->cl, cr, ino,
			   CFS_ATTR_SIZE | CFS_ATTR_MTIME_NOW, &in, true, &out);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cfs_cred cr;
	struct cfs_attr a;
	bool dropping;
	int rc;

	req_cred(req, &cr);
	rc = cfs_open(F(req)->cl, &cr, ino, fi->flags, &a);
	if (rc == 0 && S_ISREG(a.mode)) {
		rc = open_trunc(req, &cr, ino, fi->flags);
		if (rc)
			cfs_release(F(req)->cl, ino, fi->flags);
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* close-to-open, the size: another client changed it since this
	 * mount's last open or flush of the file, and the kernel may still
	 * hold the old one (a reply with the new one that crossed one of
	 * our notifications was dropped by it), and would go on using it:
	 * reads stop there, O_APPEND writes there, mappings end there.
	 * Only a lookup's reply sets the size of an open file: ESTALE makes
	 * the kernel walk the path again with lookups (LOOKUP_REVAL) and
	 * open once more, and that open goes on. */
	if (S_ISREG(a.mode) && !(fi->flags & O_TRUNC) &&
	    cfs_size_moved(F(req)->cl, &a)) {
		cfs_release(F(req)->cl, ino, fi->flags);
		fuse_reply_err(req, ESTALE);
		return;
	}
	/* close-to-open, the data: what another client wrote and closed is
	 * seen whole. Cached pages are kept only while the file's size and
	 * mtime are what they were at this mount's last open or flush of
	 * it; the cached attributes always go. */
	dropping = inval_take(F(req), ino);
	fi->keep_cache = cfs_cache_valid(F(req)->cl, &a) && !dropping &&
			 !(fi->flags & O_TRUNC);
	pt_open(F(req), ino, fi->flags, &a, fi);
	/* the kernel reads a passthrough file without us: relatime's
	 * update is made at the open instead of at the first read */
	if ((fi->fh & PT_FH) && (fi->flags & O_ACCMODE) == O_RDONLY)
		cfs_accessed(F(req)->cl, &cr, ino);
	fuse_lowlevel_notify_inval_inode(F(req)->se, ino, -1, 0);
	if (fuse_reply_open(req, fi))
		pt_release(F(req), ino, fi);	/* the kernel never had it */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct cfs_cred cr;
	struct cfs_attr a;
	int rc;

	req_cred(req, &cr);
	rc = cfs_mknod(F(req)->cl, &cr, parent, name, strlen(name),
		       (mode & 07777) | S_IFREG, 0, fi->flags & O_EXCL, true,
		       &a);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	nocaps_set(F(req), a.ino, true);	/* a new file has none */
	entry_param(F(req), parent, name, &a, cfs_mono_ns(), &e);
	pt_open(F(req), a.ino, fi->flags, &a, fi);
	if (fuse_reply_create(req, &e, fi))
		pt_release(F(req), a.ino, fi);	/* the kernel never had it */
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct cfs_fuse *f = F(req);
	char *buf = malloc(size ? size : 1);
	struct cfs_cred cr;
	ssize_t n;

	(void)fi;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	req_cred(req, &cr);
	n = cfs_read(f->cl, ino, (uint64_t)off, buf, size);
	/* The kernel never updates atime on FUSE inodes: we do, and drop
	 * its cached attributes before the read returns, so that a stat
	 * after the read sees the new atime. */
	if (n >= 0 && cfs_accessed(f->cl, &cr, ino))
		fuse_lowlevel_notify_inval_inode(f->se, ino, -1, 0);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = cfs_write(F(req)->cl, ino, (uint64_t)off, buf, size);

	(void)fi;
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int rc = pt_push(F(req), ino, fi);

	/* a close drops the POSIX locks of the closing owner */
	if (cfs_may_hold_locks(F(req)->cl, ino))
		cfs_unlock_owner(F(req)->cl, ino, fi->lock_owner, false);
	fuse_reply_err(req, -(rc ? rc : cfs_flush(F(req)->cl, ino)));
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	/* what its mappings wrote in a passthrough copy, to the cluster
	 * (a mapping holds the file: its release is after the last) */
	int rc = pt_push(F(req), ino, fi), rc2;

	/* the last close of an open file drops its flock */
	if (fi->flock_release)
		cfs_unlock_owner(F(req)->cl, ino, fi->lock_owner, true);
	pt_release(F(req), ino, fi);
	rc2 = cfs_release(F(req)->cl, ino, fi->flags);
	fuse_reply_err(req, -(rc ? rc : rc2));
}

/* ---- locks: held at the MDS, so they hold across every mount ---- */

static void lock_range(const struct flock *lk, uint64_t *start, uint64_t *end)
{
	*start = (uint64_t)lk->l_start;
	*end = lk->l_len == 0 ? UINT64_MAX :
				(uint64_t)(lk->l_start + lk->l_len - 1);
}

static void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock)
{
	uint64_t start, end;
	uint32_t pid = 0;
	int type = lock->l_type, rc;

	lock_range(lock, &start, &end);
	rc = cfs_getlk(F(req)->cl, ino, fi->lock_owner, false, &type, &start,
		       &end, &pid);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	lock->l_type = (short)type;
	if (type != F_UNLCK) {
		lock->l_whence = SEEK_SET;
		lock->l_start = (off_t)start;
		lock->l_len = end == UINT64_MAX ? 0 : (off_t)(end - start + 1);
		lock->l_pid = (pid_t)pid;
	}
	fuse_reply_lock(req, lock);
}

/* Take a lock; a blocking request polls until it is granted or the
 * caller is interrupted (a signal, ^C). */
static int take_lock(fuse_req_t req, fuse_ino_t ino, uint64_t owner,
		     uint32_t pid, bool flock, int type, uint64_t start,
		     uint64_t end, bool wait)
{
	int rc, pause = 1000;

	for (;;) {
		rc = cfs_setlk(F(req)->cl, ino, owner, pid, flock, type, start,
			       end);
		if (rc != -EAGAIN || !wait)
			return rc;
		if (fuse_req_interrupted(req))
			return -EINTR;
		usleep((useconds_t)pause);
		if (pause < 50000)
			pause *= 2;
	}
}

static void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock, int sleep)
{
	uint64_t start, end;

	lock_range(lock, &start, &end);
	fuse_reply_err(req, -take_lock(req, ino, fi->lock_owner,
				       (uint32_t)lock->l_pid, false,
				       lock->l_type, start, end, sleep));
}

static void op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     int op)
{
	int type = op & LOCK_UN ? F_UNLCK : op & LOCK_EX ? F_WRLCK : F_RDLCK;

	fuse_reply_err(req, -take_lock(req, ino, fi->lock_owner,
				       (uint32_t)fuse_req_ctx(req)->pid, true,
				       type, 0, UINT64_MAX, !(op & LOCK_NB)));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	/* waits for the write-behind; the OSDs acknowledge durable data */
	int rc = pt_push(F(req), ino, fi);

	(void)datasync;
	fuse_reply_err(req, -(rc ? rc : cfs_flush(F(req)->cl, ino)));
}

/* An open directory: the batch of entries last fetched from the MDS
 * (up to DIR_BATCH, after cookie `from`), which the kernel's page-sized
 * readdir requests are served from. The kernel serializes readdir calls
 * on one open directory. */
#define DIR_BATCH 1024
struct dir_handle {
	struct cfs_dirent_list l;
	uint64_t from;
	bool have;
};

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct dir_handle *h = calloc(1, sizeof(*h));
	struct cfs_cred cr;
	struct cfs_attr a;
	int rc;

	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* an open at the MDS, so a directory removed while open lives on */
	req_cred(req, &cr);
	rc = cfs_open(F(req)->cl, &cr, ino, O_RDONLY | O_DIRECTORY, &a);
	if (rc) {
		free(h);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	/* the kernel keeps listings and drops them when the directory's
	 * mtime changes (seen after the attribute timeout, at once in
	 * strict mode) or when this mount changes it */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* Index in h's batch of the first entry after cookie, fetching a new
 * batch when h has none that continues there. A listing from the start
 * is always fetched afresh (rewinddir sees the directory as it is). */
static int dir_seek(struct cfs_fuse *f, const struct cfs_cred *cr,
		    uint64_t ino, struct dir_handle *h, uint64_t cookie,
		    size_t *at)
{
	int rc;

	if (h->have && cookie) {
		if (cookie == h->from) {
			*at = 0;
			return 0;
		}
		for (size_t i = 0; i < h->l.n; i++)
			if (h->l.entries[i].cookie == cookie) {
				if (i + 1 < h->l.n || h->l.eof) {
					*at = i + 1;
					return 0;
				}
				break;
			}
	}
	if (h->have)
		cfs_dirents_free(&h->l);
	h->have = false;
	rc = cfs_readdir(f->cl, cr, ino, cookie, DIR_BATCH, &h->l);
	if (rc)
		return rc;
	h->have = true;
	h->from = cookie;
	*at = 0;
	return 0;
}

/* Offsets: 1 is ".", 2 is "..", and an MDS cookie c is c + 2. */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct cfs_fuse *f = F(req);
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size), name[256];
	struct cfs_cred cr;
	uint64_t cookie = off <= 2 ? 0 : (uint64_t)off - 2;
	size_t pos = 0, at;
	bool full = false;
	int rc = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	req_cred(req, &cr);
	for (int dot = (int)off; dot < 2; dot++) {
		struct fuse_entry_param e = { .ino = ino };
		size_t n;

		e.attr.st_ino = ino;
		e.attr.st_mode = S_IFDIR;
		n = plus ? fuse_add_direntry_plus(req, buf + pos, size - pos,
						  dot ? ".." : ".", &e, dot + 1) :
			   fuse_add_direntry(req, buf + pos, size - pos,
					     dot ? ".." : ".", &e.attr, dot + 1);
		if (n > size - pos) {
			full = true;
			break;
		}
		pos += n;
	}
	while (!full) {
		rc = dir_seek(f, &cr, ino, h, cookie, &at);
		if (rc)
			break;
		for (; at < h->l.n; at++) {
			struct cfs_dir_entry *d = &h->l.entries[at];
			struct fuse_entry_param e;
			size_t n;

			memcpy(name, d->name, d->namelen);
			name[d->namelen] = '\0';
			entry_param(f, ino, name, &d->attr, d->asof_ns, &e);
			n = plus ? fuse_add_direntry_plus(req, buf + pos,
							  size - pos, name, &e,
							  (off_t)d->cookie + 2) :
				   fuse_add_direntry(req, buf + pos, size - pos,
						     name, &e.attr,
						     (off_t)d->cookie + 2);
			if (n > size - pos) {
				full = true;
				break;
			}
			pos += n;
			cookie = d->cookie;
		}
		full |= (h->l.eof || h->l.n == 0) && at == h->l.n;
	}
	if (rc && pos == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;

	if (h->have)
		cfs_dirents_free(&h->l);
	free(h);
	fuse_reply_err(req, -cfs_release(F(req)->cl, ino, fi->flags));
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	/* every metadata change is durable before its reply */
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int rc = cfs_statfs(F(req)->cl, &sv);

	(void)ino;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

/* ---- the data cache's controls (cfs cache): a virtual xattr ---- */

#define CACHE_XATTR "user.cfs.cache"

/* The mount's cache figures, and the file's: "key: value" lines. */
static int cache_status(struct cfs_fuse *f, uint64_t ino, char *buf,
			size_t cap)
{
	struct cfs_cache_stats s;
	bool on = cfs_cache_stats(f->cl, ino, &s);
	int n = snprintf(
		buf, cap,
		"cache: %s\npassthrough: %s\nentries: %lu\nused_bytes: %lu\n"
		"size_bytes: %lu\nhits: %lu\nhit_bytes: %lu\nmisses: %lu\n"
		"fill_bytes: %lu\npassthrough_opens: %lu\n"
		"passthrough_bytes: %lu\ncorrupt_blocks: %lu\nevicted: %lu\n"
		"file_size: %lu\nfile_cached_bytes: %lu\nfile_current: %s\n"
		"file_passthrough_opens: %u\n",
		on ? "on" : "off", f->pt.on ? "on" : "off",
		(unsigned long)s.entries, (unsigned long)s.used,
		(unsigned long)s.cap, (unsigned long)s.hits,
		(unsigned long)s.hit_bytes, (unsigned long)s.misses,
		(unsigned long)s.fill_bytes, (unsigned long)s.backing_opens,
		(unsigned long)s.backing_bytes, (unsigned long)s.corrupt,
		(unsigned long)s.evicted, (unsigned long)s.file_size,
		(unsigned long)s.file_cached, s.file_current ? "yes" : "no",
		s.file_pins);

	return n < (int)cap ? n : -ERANGE;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct cfs_cred cr;

	if (!strcmp(name, CACHE_XATTR)) {
		/* "drop": the file's copy (the root's: every copy), "drop
		 * all": every copy; "passthrough=on|off": for the mount,
		 * from the next open. No MDS call: it works while one is
		 * away. */
		int rc = -EINVAL;

		if (size == 4 && !memcmp(value, "drop", 4)) {
			cfs_cache_drop(F(req)->cl, ino == FUSE_ROOT_ID ? 0 : ino);
			rc = 0;
		} else if (size == 8 && !memcmp(value, "drop all", 8)) {
			cfs_cache_drop(F(req)->cl, 0);
			rc = 0;
		} else if (size == 14 && !memcmp(value, "passthrough=on", 14)) {
			rc = pt_switch(F(req), true);
		} else if (size == 15 &&
			   !memcmp(value, "passthrough=off", 15)) {
			rc = pt_switch(F(req), false);
		}
		fuse_reply_err(req, -rc);
		return;
	}
	req_cred(req, &cr);
	if (is_caps(name))
		nocaps_set(F(req), ino, false);
	fuse_reply_err(req, -cfs_setxattr(F(req)->cl, &cr, ino, name, value,
					  size, flags));
}

static void reply_xattr(fuse_req_t req, size_t size, int n, const char *buf)
{
	if (n < 0)
		fuse_reply_err(req, -n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct cfs_cred cr;
	char *buf;
	int n;

	if (is_caps(name) && nocaps_known(F(req), ino)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	buf = malloc(size ? size : 4096);
	req_cred(req, &cr);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!strcmp(name, CACHE_XATTR))
		n = cache_status(F(req), ino, buf, size ? size : 4096);
	else
		n = cfs_getxattr(F(req)->cl, &cr, ino, name, buf, size);
	if (is_caps(name) && n == -ENODATA)
		nocaps_set(F(req), ino, true);
	reply_xattr(req, size, n, buf);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct cfs_cred cr;
	char *buf = size ? malloc(size) : NULL;
	int n;

	req_cred(req, &cr);
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = cfs_listxattr(F(req)->cl, &cr, ino, buf, size);
	reply_xattr(req, size, n, buf);
	free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct cfs_cred cr;

	req_cred(req, &cr);
	if (is_caps(name))
		nocaps_set(F(req), ino, false);
	fuse_reply_err(req, -cfs_removexattr(F(req)->cl, &cr, ino, name));
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct cfs_cred cr;

	req_cred(req, &cr);
	fuse_reply_err(req, -cfs_access(F(req)->cl, &cr, ino, mask));
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			 off_t len, struct fuse_file_info *fi)
{
	struct cfs_fuse *f = F(req);
	struct cfs_attr a, in = { 0 };
	struct cfs_cred cr;
	uint64_t end = (uint64_t)off + (uint64_t)len;
	unsigned valid = 0;
	int rc;

	(void)fi;
	req_cred(req, &cr);
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	rc = cfs_getattr(f->cl, ino, &a, NULL);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* space is not reserved ahead on the OSDs: a plain allocation only
	 * grows the size; a hole punched or a range zeroed is punched on
	 * the OSDs (a punched range reads as zeros) */
	switch (mode & ~FALLOC_FL_KEEP_SIZE) {
	case 0:
		break;
	case FALLOC_FL_PUNCH_HOLE:
		if (!(mode & FALLOC_FL_KEEP_SIZE)) {
			rc = -EOPNOTSUPP;	/* as Linux: punch keeps size */
			break;
		}
		/* fall through */
	case FALLOC_FL_ZERO_RANGE:
		if ((uint64_t)off < a.size)
			rc = cfs_punch(f->cl, ino, (uint64_t)off,
				       (end < a.size ? end : a.size) -
					       (uint64_t)off);
		break;
	default:
		rc = -EOPNOTSUPP;
	}
	/* as ext4: a punch or zeroing changes mtime (and so ctime), which
	 * also tells other mounts at their next open that their cached
	 * pages are stale */
	if (rc == 0 && (mode & ~FALLOC_FL_KEEP_SIZE))
		valid |= CFS_ATTR_MTIME_NOW;
	if (rc == 0 && !(mode & FALLOC_FL_KEEP_SIZE) && end > a.size) {
		in.size = end;
		valid |= CFS_ATTR_SIZE;
	}
	if (rc == 0 && valid)
		rc = cfs_setattr(f->cl, &cr, ino, valid, &in, true, &a);
	fuse_reply_err(req, -rc);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	int64_t r;

	(void)fi;
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	cfs_flush(F(req)->cl, ino);
	r = cfs_lseek(F(req)->cl, ino, (uint64_t)off, whence);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_lseek(req, (off_t)r);
}

const struct fuse_lowlevel_ops cfs_fuse_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.create = op_create,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.getlk = op_getlk,
	.setlk = op_setlk,
	.flock = op_flock,
};
