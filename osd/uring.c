/* io_uring submission for the OSD; see uring.h. */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#include "uring.h"

#define RING_DEPTH 64

/* Per thread: the ring osd_uring_run uses, and one for background syncs
 * (osd_uring_sync_start), so that the two never reap each other's. Made
 * on first use and torn down when the thread ends (requests are served
 * by a thread per connection, which comes and goes with it). */
static __thread struct io_uring *ring, *sync_ring;
static pthread_key_t rings_key;
static pthread_once_t rings_once = PTHREAD_ONCE_INIT;

static void ring_free(struct io_uring **r)
{
	if (!*r)
		return;
	io_uring_queue_exit(*r);
	free(*r);
	*r = NULL;
}

static void rings_free(void *unused)
{
	(void)unused;
	ring_free(&sync_ring);
	ring_free(&ring);
}

static void rings_key_make(void)
{
	pthread_key_create(&rings_key, rings_free);
}

static struct io_uring *ring_make(struct io_uring **r)
{
	if (*r)
		return *r;
	*r = calloc(1, sizeof(**r));
	if (!*r)
		return NULL;
	if (io_uring_queue_init(RING_DEPTH, *r, 0) < 0) {
		free(*r);
		*r = NULL;
		return NULL;
	}
	pthread_once(&rings_once, rings_key_make);
	pthread_setspecific(rings_key, (void *)1);	/* rings_free at exit */
	return *r;
}

static struct io_uring *thread_ring(void)
{
	return ring_make(&ring);
}

int osd_uring_sync_start(const int *fds, int n)
{
	struct io_uring *r = ring_make(&sync_ring);

	if (!r)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(r);

		if (!sqe)
			return -EBUSY;
		io_uring_prep_fsync(sqe, fds[i], IORING_FSYNC_DATASYNC);
	}
	return io_uring_submit(r) == n ? 0 : -EIO;
}

int osd_uring_sync_wait(int n)
{
	int rc = 0;

	for (int i = 0; i < n; i++) {
		struct io_uring_cqe *cqe;
		int w = io_uring_wait_cqe(sync_ring, &cqe);

		if (w < 0)
			return w;
		if (cqe->res < 0 && rc == 0)
			rc = cqe->res;
		io_uring_cqe_seen(sync_ring, cqe);
	}
	return rc;
}

static bool pending(const struct uring_io *io, size_t done)
{
	if (io->res < 0)
		return false;
	return io->op == URING_FDATASYNC ? done == 0 : done < io->len;
}

static void prep(struct io_uring_sqe *sqe, const struct uring_io *io,
		 size_t done)
{
	switch (io->op) {
	case URING_READ:
		io_uring_prep_read(sqe, io->fd, (char *)io->buf + done,
				   (unsigned)(io->len - done),
				   (uint64_t)io->off + done);
		break;
	case URING_WRITE:
		io_uring_prep_write(sqe, io->fd, (char *)io->buf + done,
				    (unsigned)(io->len - done),
				    (uint64_t)io->off + done);
		break;
	case URING_FDATASYNC:
		io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
		break;
	}
}

/* One round: submit every io still to do, the ios of one fd as one
 * linked chain (in order: a sync after the writes before it) and the
 * chains side by side; reap them all. A short transfer breaks its chain:
 * the rest of it is cancelled and runs again next round. */
static int run_round(struct io_uring *r, struct uring_io *ios, size_t *done,
		     int n)
{
	bool queued_at[16] = { false };
	int queued = 0;

	for (int i = 0; i < n; i++) {
		struct io_uring_sqe *last = NULL;

		if (queued_at[i] || !pending(&ios[i], done[i]))
			continue;
		for (int j = i; j < n; j++) {
			struct io_uring_sqe *sqe;

			if (ios[j].fd != ios[i].fd || queued_at[j] ||
			    !pending(&ios[j], done[j]))
				continue;
			sqe = io_uring_get_sqe(r);
			if (!sqe)
				break;
			prep(sqe, &ios[j], done[j]);
			sqe->flags |= IOSQE_IO_LINK;
			io_uring_sqe_set_data(sqe, (void *)(uintptr_t)j);
			queued_at[j] = true;
			queued++;
			last = sqe;
		}
		if (last)
			last->flags &= (__u8)~IOSQE_IO_LINK;
	}
	if (queued == 0)
		return 0;
	if (io_uring_submit(r) < 0)
		return -EIO;
	for (int k = 0; k < queued; k++) {
		struct io_uring_cqe *cqe;
		int i, rc = io_uring_wait_cqe(r, &cqe);

		if (rc < 0)
			return rc;
		i = (int)(uintptr_t)io_uring_cqe_get_data(cqe);
		if (cqe->res == -ECANCELED) {
			/* its chain broke before it: again next round */
		} else if (cqe->res < 0) {
			ios[i].res = cqe->res;
		} else if (ios[i].op == URING_FDATASYNC) {
			done[i] = 1;
		} else if (cqe->res == 0) {
			/* EOF on read; nothing written on write */
			if (ios[i].op == URING_WRITE)
				ios[i].res = -EIO;
			else
				ios[i].len = done[i];
		} else {
			/* valgrind cannot see the kernel fill the buffer */
			if (ios[i].op == URING_READ)
				VALGRIND_MAKE_MEM_DEFINED(
					(char *)ios[i].buf + done[i],
					(size_t)cqe->res);
			done[i] += (size_t)cqe->res;
		}
		io_uring_cqe_seen(r, cqe);
	}
	return queued;
}

int osd_uring_run(struct uring_io *ios, int n)
{
	struct io_uring *r = thread_ring();
	size_t done[16] = { 0 };
	int rc;

	if (!r)
		return -ENOMEM;
	if (n > 16)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		ios[i].res = 0;
	do {
		rc = run_round(r, ios, done, n);
		if (rc < 0)
			return rc;
	} while (rc > 0);
	for (int i = 0; i < n; i++) {
		if (ios[i].res < 0)
			return ios[i].res;
		ios[i].res = ios[i].op == URING_FDATASYNC ? 0 : (int)done[i];
	}
	return 0;
}

ssize_t osd_uring_pread(int fd, void *buf, size_t len, off_t off)
{
	struct uring_io io = { URING_READ, fd, buf, len, off, 0 };
	int rc = osd_uring_run(&io, 1);

	return rc < 0 ? rc : io.res;
}
