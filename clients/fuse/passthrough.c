/* FUSE passthrough (Linux 6.9 and later, CAP_SYS_ADMIN): an open of a
 * file whose whole current copy is in the client data cache (libcfs,
 * cache.c) is answered with that copy as the open's backing file, so the
 * kernel serves read(), mmap and splice from it with no round trip to
 * us. libfuse 3.14 knows nothing of it: the INIT reply gets the flag and
 * a stack depth added (uring.c's session I/O calls pt_init_reply), the
 * copy is registered with FUSE_DEV_IOC_BACKING_OPEN, and the open reply
 * gets FOPEN_PASSTHROUGH and the backing id (pt_patch, on the way out).
 *
 * The kernel's rules, kept here per inode: a file open in passthrough
 * cannot be opened in caching mode (and the reverse), and every open of
 * it must name the same backing. So a copy is handed out only while no
 * caching open of the inode runs here; while one is handed out, every
 * other open gets it too, a writing one with FOPEN_DIRECT_IO as well
 * (its reads and writes come to us, its mappings go to the copy): our
 * writes are made in the copy too (libcfs), and another client's change
 * is read into it (pt_refresh), so readers see changes as they would on
 * a local file. Kernels without passthrough, or a mount without the
 * capability, are noted once and served from the cache by the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cfs/log.h"
#include "cfs_fuse.h"

/* The kernel's interface (include/uapi/linux/fuse.h, 7.40), newer than
 * Debian 12's headers. */
#define PT_INIT_FLAG2 (1u << 5)		/* FUSE_PASSTHROUGH >> 32 */
#define PT_FOPEN (1u << 7)		/* FOPEN_PASSTHROUGH */
#define PT_STACK_DEPTH 2		/* the cache may sit on an overlay */
struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define PT_IOC_BACKING_OPEN _IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

#define PT_BUCKETS 1024

struct pt_inode {
	uint64_t ino;
	int cached, pt;		/* opens running in each mode */
	int pending;		/* opens registering a backing */
	int32_t backing;	/* while pt > 0 */
	struct pt_inode *next;
};

/* The backing id the reply this thread sends next must carry. */
static __thread struct {
	bool set;
	int32_t backing;
} patch;

static struct pt_inode **pt_slot(struct passthrough *p, uint64_t ino)
{
	struct pt_inode **s = &p->tab[ino % PT_BUCKETS];

	while (*s && (*s)->ino != ino)
		s = &(*s)->next;
	return s;
}

void pt_init(struct cfs_fuse *f)
{
	pthread_mutex_init(&f->pt.lock, NULL);
}

/* Whether this process may register backing files: CAP_SYS_ADMIN. */
static bool may_pass_through(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	return syscall(SYS_capget, &h, d) == 0 &&
	       (d[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32)));
}

void pt_offered(struct cfs_fuse *f, const struct fuse_init_in *in)
{
	bool kernel = (in->flags & FUSE_INIT_EXT) &&
		      (in->flags2 & PT_INIT_FLAG2), cap = may_pass_through();

	f->pt.offered = f->pt.wanted && kernel && cap;
	if (f->pt.wanted && !f->pt.offered)
		cfs_log_warn(!kernel ? "the kernel offers no FUSE passthrough "
				       "(Linux 6.9+): cached files are "
				       "served by cfs-fuse" :
				       "no FUSE passthrough without "
				       "CAP_SYS_ADMIN: cached files are "
				       "served by cfs-fuse",
			     NULL);
}

bool pt_init_reply(struct cfs_fuse *f, struct fuse_init_out *out)
{
	if (!f->pt.offered)
		return false;
	out->flags |= FUSE_INIT_EXT;
	out->flags2 |= PT_INIT_FLAG2;
	out->unused[0] = PT_STACK_DEPTH;	/* max_stack_depth */
	f->pt.asked = f->pt.on = true;
	cfs_log_info("FUSE passthrough on: cached files are read by the "
		     "kernel from the cache", NULL);
	return true;
}

void pt_patch(struct iovec *iov, int count)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	struct fuse_open_out *out;

	/* a notification (unique 0) the handler sends is not its reply */
	if (!patch.set || oh->unique == 0)
		return;
	patch.set = false;
	if (count != 2 || oh->error || iov[1].iov_len < sizeof(*out))
		return;
	/* an open's reply, or a create's (the entry, then the open) */
	out = (struct fuse_open_out *)((char *)iov[1].iov_base +
				       iov[1].iov_len - sizeof(*out));
	out->open_flags |= PT_FOPEN;
	out->padding = (uint32_t)patch.backing;	/* backing_id */
}

/* Register the cached copy with the kernel: its backing id, or -1. */
static int32_t backing_open(struct cfs_fuse *f, uint64_t ino)
{
	int fd = cfs_cache_backing(f->cl, ino);
	struct pt_backing_map map = { 0 };
	int id;

	if (fd < 0)
		return -1;
	map.fd = fd;
	id = ioctl(f->fuse_fd, PT_IOC_BACKING_OPEN, &map);
	close(fd);
	if (id < 0) {
		if (errno == EPERM || errno == ENOTTY || errno == EINVAL) {
			f->pt.asked = f->pt.on = false;
			cfs_log_warn("FUSE passthrough refused by the kernel: "
				     "cached files are served by cfs-fuse",
				     "errno=%d", errno);
		}
		cfs_cache_unpin(f->cl, ino);
		return -1;
	}
	return id;
}

static void backing_close(struct cfs_fuse *f, uint64_t ino, int32_t id)
{
	uint32_t bid = (uint32_t)id;

	ioctl(f->fuse_fd, PT_IOC_BACKING_CLOSE, &bid);
	cfs_cache_unpin(f->cl, ino);
}

void pt_open(struct cfs_fuse *f, uint64_t ino, int flags,
	     const struct cfs_attr *a, struct fuse_file_info *fi)
{
	struct passthrough *p = &f->pt;
	bool reading = (flags & O_ACCMODE) == O_RDONLY &&
		       !(flags & (O_TRUNC | O_DIRECT));
	struct pt_inode *n, **s;
	int32_t id = -1;

	fi->fh = ino;
	if (!p->wanted)
		return;
	pthread_mutex_lock(&p->lock);
	s = pt_slot(p, ino);
	n = *s;
	if (!n && (n = calloc(1, sizeof(*n)))) {
		n->ino = ino;
		*s = n;
	}
	if (!n) {	/* no memory: caching mode, untracked, as without */
		pthread_mutex_unlock(&p->lock);
		return;
	}
	if (n->pt == 0 && (n->cached > 0 || !p->on || !reading ||
			   !S_ISREG(a->mode))) {
		n->cached++;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	if (n->pt == 0) {
		n->pending++;	/* keeps n */
		pthread_mutex_unlock(&p->lock);
		id = backing_open(f, ino);	/* checks the copy: slow */
		pthread_mutex_lock(&p->lock);
		n->pending--;
		if (id >= 0 && (n->pt > 0 || n->cached > 0)) {
			backing_close(f, ino, id);	/* another came */
			id = -1;
		}
		if (id < 0 && n->pt == 0) {
			n->cached++;
			pthread_mutex_unlock(&p->lock);
			return;
		}
		if (id >= 0)
			n->backing = id;
	}
	n->pt++;	/* the backing stays registered at least as long */
	patch.set = true;
	patch.backing = n->backing;
	pthread_mutex_unlock(&p->lock);
	if (id < 0)	/* another client's change: into the copy first */
		cfs_cache_refresh(f->cl, a, true);
	fi->fh = ino | PT_FH;
	fi->keep_cache = 0;	/* the kernel's pages are not used */
	if (!reading)
		fi->direct_io = 1;
}

void pt_release(struct cfs_fuse *f, uint64_t ino,
		const struct fuse_file_info *fi)
{
	struct passthrough *p = &f->pt;
	struct pt_inode **s, *n;
	int32_t id = -1;

	if (!p->wanted)
		return;
	pthread_mutex_lock(&p->lock);
	s = pt_slot(p, ino);
	n = *s;
	if (n && (fi->fh & PT_FH) && n->pt > 0 && --n->pt == 0)
		id = n->backing;
	else if (n && !(fi->fh & PT_FH) && n->cached > 0)
		n->cached--;
	if (n && !n->pt && !n->cached && !n->pending) {
		*s = n->next;
		free(n);
	}
	pthread_mutex_unlock(&p->lock);
	if (id >= 0)
		backing_close(f, ino, id);
}

int pt_switch(struct cfs_fuse *f, bool on)
{
	if (on && !f->pt.asked)
		return -EOPNOTSUPP;
	f->pt.on = on;
	return 0;
}

int pt_push(struct cfs_fuse *f, uint64_t ino, const struct fuse_file_info *fi)
{
	if (!(fi->fh & PT_FH) || (fi->flags & O_ACCMODE) == O_RDONLY)
		return 0;	/* no shared writable mapping of the copy */
	return cfs_cache_push(f->cl, ino);
}

bool pt_active(struct cfs_fuse *f, uint64_t ino)
{
	struct pt_inode *n;
	bool active;

	pthread_mutex_lock(&f->pt.lock);
	n = *pt_slot(&f->pt, ino);
	active = n && n->pt > 0;
	pthread_mutex_unlock(&f->pt.lock);
	return active;
}

void pt_refresh(struct cfs_fuse *f, uint64_t ino)
{
	struct cfs_attr a;

	if (pt_active(f, ino) && cfs_getattr(f->cl, ino, &a, NULL) == 0)
		cfs_cache_refresh(f->cl, &a, false);
}

void pt_free(struct cfs_fuse *f)
{
	for (int i = 0; i < PT_BUCKETS; i++) {
		while (f->pt.tab[i]) {
			struct pt_inode *n = f->pt.tab[i];

			f->pt.tab[i] = n->next;
			free(n);
		}
	}
	pthread_mutex_destroy(&f->pt.lock);
}
