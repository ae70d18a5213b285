/* All OSD data I/O goes through io_uring: one ring per thread, made on
 * first use and torn down when the thread ends, so threads never share a
 * submission queue. */
#ifndef CFS_OSD_URING_H
#define CFS_OSD_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum uring_op { URING_READ, URING_WRITE, URING_FDATASYNC };

struct uring_io {
	enum uring_op op;
	int fd;
	void *buf;
	size_t len;
	off_t off;
	int res;		/* out: bytes or negative errno */
};

/* Submit n (at most 16) operations at once and wait for all. Operations
 * on one fd run in order, as a linked chain (so each fdatasync follows
 * the writes before it); different fds run side by side. Short reads and
 * writes are completed by resubmitting. Returns 0 or the first error. */
int osd_uring_run(struct uring_io *ios, int n);

/* Start fdatasync of n fds in the background (on a ring of its own),
 * then collect them with osd_uring_sync_wait(n): 0 or the first error.
 * One batch at a time per thread; osd_uring_run may run in between. */
int osd_uring_sync_start(const int *fds, int n);
int osd_uring_sync_wait(int n);

/* Convenience: one full read; returns bytes read (short at EOF) or -errno. */
ssize_t osd_uring_pread(int fd, void *buf, size_t len, off_t off);

#endif
