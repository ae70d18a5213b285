/* FUSE over io_uring (Linux 6.14 and later, with the fuse module's
 * enable_uring parameter on).
 *
 * Over /dev/fuse, a request wakes whichever libfuse thread is reading,
 * most often on another CPU than the caller; on a virtual machine each
 * such wakeup costs tens of microseconds, more than a lookup answered
 * from memory. Over io_uring the kernel keeps one queue per CPU and hands
 * a request to a thread of the caller's CPU. Here each CPU gets
 * URING_THREADS threads pinned to it, each with its own ring and one
 * registered entry: a header buffer and a payload buffer of max_write.
 *
 * libfuse 3.14 knows nothing of this, so the session gets custom I/O:
 * - read passes through, noting the kernel's INIT request and whether it
 *   offers io_uring;
 * - the INIT reply gets FUSE_OVER_IO_URING added (and FUSE passthrough,
 *   passthrough.c, which also sees every reply go out), and once the
 *   kernel has taken it the threads start and register their entries
 *   (the kernel routes requests to the rings once every CPU has one);
 * - a thread rebuilds each request as /dev/fuse would carry it (in
 *   header, operation header, payload: laid out in front of the payload
 *   buffer, so nothing large is copied) and hands it to
 *   fuse_session_process_buf; the reply, recognised by its unique id,
 *   goes into the entry's buffers instead of to /dev/fuse, and is
 *   committed with the fetch of the next request, in one system call.
 * Interrupts, forgets and notifications stay on /dev/fuse, served by
 * libfuse's own threads as before. */
#include <errno.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cfs/log.h"
#include "cfs_fuse.h"
#include "ringreq.h"

/* The kernel's interface (include/uapi/linux/fuse.h, 7.42), newer than
 * Debian 12's headers. */
#define URING_INIT_FLAG2 (1u << 9)	/* FUSE_OVER_IO_URING >> 32 */
#define URING_CMD_REGISTER 1
#define URING_CMD_COMMIT_AND_FETCH 2

struct uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct uring_req_header {
	char in_out[128];	/* fuse_in_header, or our fuse_out_header */
	char op_in[128];	/* the operation's own header */
	struct uring_ent_in_out ent;
};

struct uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

#define URING_THREADS 8		/* per CPU */
#define URING_FRONT 512		/* room before the payload for the headers */

struct uring_worker {
	struct uring *u;
	pthread_t thread;
	bool running;
	int qid;
	struct io_uring ring;
	struct uring_req_header *hdr;
	uint8_t *buf;		/* URING_FRONT bytes, then the payload */
	struct iovec iov[2];
	uint64_t unique;	/* of the request being served */
	bool replied;
};

struct uring {
	struct cfs_fuse *f;
	bool enabled;		/* not -o no_uring */
	uint64_t init_unique;	/* the kernel's INIT, once read */
	bool init_pending;	/* its reply not yet sent */
	bool offered;		/* the kernel offered io_uring in it */
	size_t payload;		/* bytes of each entry's payload buffer */
	struct uring_worker *w;
	int nworkers;
	volatile bool stop;
};

static __thread struct uring_worker *serving;

/* Queue a command on w's ring for its entry (iov: the entry's buffers,
 * for a registration); false if the ring is full. */
static bool queue_cmd(struct uring_worker *w, uint32_t op, uint64_t commit_id,
		      const struct iovec *iov, unsigned niov)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	struct uring_cmd_req *cmd;

	if (!sqe)
		return false;
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, w->u->f->fuse_fd, iov, niov,
			 0);
	sqe->cmd_op = op;
	cmd = (struct uring_cmd_req *)sqe->cmd;
	memset(cmd, 0, sizeof(*cmd));
	cmd->commit_id = commit_id;
	cmd->qid = (uint16_t)w->qid;
	return true;
}

/* Copy the reply into the entry and queue its commit; the commit goes
 * out with the wait for the next request, after the handler returned. */
static ssize_t reply_to_ring(struct uring_worker *w, const struct iovec *iov,
			     int count)
{
	struct fuse_out_header oh;
	size_t total = 0;

	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	for (int i = 1; i < count; i++)
		total += iov[i].iov_len;
	if (total > w->u->payload) {
		/* cannot happen within max_write; fail the request, not us */
		oh.error = -EIO;
		count = 1;
	}
	total = 0;
	for (int i = 1; i < count; i++) {
		memmove(w->buf + URING_FRONT + total, iov[i].iov_base,
			iov[i].iov_len);
		total += iov[i].iov_len;
	}
	oh.len = (uint32_t)(sizeof(oh) + total);
	memcpy(w->hdr->in_out, &oh, sizeof(oh));
	w->hdr->ent.payload_sz = (uint32_t)total;
	if (!queue_cmd(w, URING_CMD_COMMIT_AND_FETCH, w->hdr->ent.commit_id,
		       NULL, 0))
		return -1;
	w->replied = true;
	return (ssize_t)(sizeof(oh) + total);
}

static void reply_error(struct uring_worker *w, uint64_t unique, int err)
{
	struct fuse_out_header oh = { .len = sizeof(oh), .error = err,
				      .unique = unique };
	struct iovec iov = { &oh, sizeof(oh) };

	reply_to_ring(w, &iov, 1);
}

/* One request from the ring, rebuilt in front of its payload. */
static void serve(struct uring_worker *w)
{
	struct fuse_in_header ih;
	uint32_t psz = w->hdr->ent.payload_sz;
	struct fuse_buf fb = { 0 };
	size_t oplen;
	uint8_t *start;

	memcpy(&ih, w->hdr->in_out, sizeof(ih));
	w->unique = ih.unique;
	w->replied = false;
	if (ring_request_check(&ih, psz, w->u->payload,
			       sizeof(w->hdr->op_in), &oplen)) {
		cfs_log_error("bad request on a ring", "opcode=%u len=%u",
			      ih.opcode, ih.len);
		reply_error(w, ih.unique, -EIO);
		return;
	}
	start = w->buf + URING_FRONT - oplen - sizeof(ih);
	memcpy(start, &ih, sizeof(ih));
	memcpy(start + sizeof(ih), w->hdr->op_in, oplen);
	fb.mem = start;
	fb.size = ih.len;
	serving = w;
	fuse_session_process_buf(w->u->f->se, &fb);
	serving = NULL;
	if (!w->replied)	/* every request on a ring expects a reply */
		reply_error(w, ih.unique, -EIO);
}

static void *worker_main(void *p)
{
	struct uring_worker *w = p;
	struct __kernel_timespec tick = { .tv_sec = 1 };
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(w->qid, &cpus);
	pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	if (!queue_cmd(w, URING_CMD_REGISTER, 0, w->iov, 2))
		return NULL;
	while (!w->u->stop) {
		struct io_uring_cqe *cqe = NULL;
		int rc, res;

		rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &tick,
						      NULL);
		if (rc == -ETIME || rc == -EINTR || (rc >= 0 && !cqe))
			continue;
		if (rc < 0)
			break;
		res = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
		if (res < 0) {
			/* the connection is gone (unmount) or was refused */
			if (res != -ENOTCONN && res != -ECONNABORTED)
				cfs_log_warn("ring stopped", "qid=%d err=%d",
					     w->qid, -res);
			break;
		}
		serve(w);
	}
	return NULL;
}

static void start_workers(struct uring *u)
{
	int cpus = get_nprocs_conf(), n = cpus * URING_THREADS, started = 0;

	u->w = calloc((size_t)n, sizeof(*u->w));
	if (!u->w)
		return;
	for (int i = 0; i < n; i++) {
		struct uring_worker *w = &u->w[i];
		struct io_uring_params params = { .flags = IORING_SETUP_SQE128 };

		w->u = u;
		w->qid = i % cpus;
		if (posix_memalign((void **)&w->hdr, 4096, sizeof(*w->hdr)) ||
		    posix_memalign((void **)&w->buf, 4096,
				   URING_FRONT + u->payload))
			break;
		memset(w->hdr, 0, sizeof(*w->hdr));
		w->iov[0] = (struct iovec){ w->hdr, sizeof(*w->hdr) };
		w->iov[1] = (struct iovec){ w->buf + URING_FRONT, u->payload };
		if (io_uring_queue_init_params(4, &w->ring, &params))
			break;
		if (pthread_create(&w->thread, NULL, worker_main, w)) {
			io_uring_queue_exit(&w->ring);
			break;
		}
		w->running = true;
		started++;
	}
	u->nworkers = n;
	cfs_log_info("serving over io_uring", "queues=%d threads=%d", cpus,
		     started);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct cfs_fuse *f = userdata;
	struct uring *u = f->uring;
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *ih = buf;

	if (n >= (ssize_t)(sizeof(*ih) + sizeof(struct fuse_init_in)) &&
	    ih->opcode == FUSE_INIT) {
		const struct fuse_init_in *in = (const void *)(ih + 1);

		u->init_unique = ih->unique;
		u->init_pending = true;
		u->offered = u->enabled && (in->flags & FUSE_INIT_EXT) &&
			     (in->flags2 & URING_INIT_FLAG2);
		pt_offered(f, in);
	}
	return n;
}

/* The INIT reply, with io_uring and passthrough asked for where the
 * kernel offers them; the rings start once the kernel took it. */
static ssize_t init_reply(struct uring *u, int fd, const struct iovec *iov,
			  int count)
{
	struct fuse_out_header oh;
	struct fuse_init_out out = { 0 };
	struct iovec v[2] = { { &oh, sizeof(oh) }, { &out, sizeof(out) } };
	ssize_t n;

	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (count != 2 || oh.error)
		return writev(fd, iov, count);
	memcpy(&out, iov[1].iov_base,
	       iov[1].iov_len < sizeof(out) ? iov[1].iov_len : sizeof(out));
	if (u->offered) {
		out.flags |= FUSE_INIT_EXT;
		out.flags2 |= URING_INIT_FLAG2;
	}
	pt_init_reply(u->f, &out);
	oh.len = sizeof(oh) + sizeof(out);
	u->payload = out.max_write > FUSE_MIN_READ_BUFFER ? out.max_write :
							   FUSE_MIN_READ_BUFFER;
	if ((size_t)out.max_pages * 4096 > u->payload)
		u->payload = (size_t)out.max_pages * 4096;
	n = writev(fd, v, 2);
	if (n >= 0) {
		if (u->offered)
			start_workers(u);
		n = (ssize_t)(iov[0].iov_len + iov[1].iov_len);
	}
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count,
			 void *userdata)
{
	struct uring *u = ((struct cfs_fuse *)userdata)->uring;
	const struct fuse_out_header *oh = iov[0].iov_base;

	pt_patch(iov, count);
	if (serving && oh->unique == serving->unique && !serving->replied)
		return reply_to_ring(serving, iov, count);
	if (u->init_pending && oh->unique == u->init_unique) {
		u->init_pending = false;
		return init_reply(u, fd, iov, count);
	}
	return writev(fd, iov, count);
}

int uring_setup(struct cfs_fuse *f, bool enabled)
{
	static const struct fuse_custom_io io = { .read = io_read,
						  .writev = io_writev };

	f->uring = calloc(1, sizeof(*f->uring));
	if (!f->uring)
		return -1;
	f->uring->f = f;
	f->uring->enabled = enabled;
	f->fuse_fd = fuse_session_fd(f->se);
	return fuse_session_custom_io(f->se, &io, f->fuse_fd);
}

void uring_stop(struct cfs_fuse *f)
{
	struct uring *u = f->uring;

	if (!u)
		return;
	u->stop = true;
	for (int i = 0; u->w && i < u->nworkers; i++) {
		struct uring_worker *w = &u->w[i];

		if (w->running) {
			pthread_join(w->thread, NULL);
			io_uring_queue_exit(&w->ring);
		}
		free(w->hdr);
		free(w->buf);
	}
	free(u->w);
	free(u);
	f->uring = NULL;
}
