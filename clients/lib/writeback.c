/* libcfs write-behind: cfs_write copies into a per-file extent and
 * returns; full extents go to a pool of flusher threads that send them to
 * the OSDs (write_data in data.c), several at once.
 *
 * Rules, all under cl->ilock:
 * - An open file has at most one extent being filled, contiguous and at
 *   most WB_EXTENT bytes; a write that cannot join it (joins()) sends it
 *   off. Bytes of it that no write filled lie past the file's old end,
 *   so they are zeros either way.
 * - Extents of one file in flight never overlap, so the OSDs see
 *   overlapping writes in the order they were made.
 * - Buffered plus in-flight bytes stay under wb_limit; a writer over it
 *   sends every buffered extent off and waits.
 * - An extent left alone for WB_IDLE_MS is sent off by the keepalive
 *   thread, so data does not sit in memory while a file stays open.
 * - Reads lay in-flight and buffered bytes over what the OSDs return
 *   (client_wb_overlay), so a file reads back what was written to it.
 * - A failed flush is kept on the file and returned once: by the next
 *   write, or by the flush (close) or fsync that waits for it. An OSD
 *   acknowledges only durable data, so a drained file is durable. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/log.h"
#include "client_priv.h"

#define WB_EXTENT ((size_t)8 << 20)
#define WB_IDLE_MS 1000
#define WB_GAP ((size_t)128 << 10)	/* a hole an extent may bridge */
#define WB_BATCH 1024	/* jobs of one chunk sent as one write */
#define MAX_BATCH ((size_t)8 << 20)	/* and their bytes */

struct wb_job {
	uint64_t ino, off;
	size_t len;
	uint8_t *buf;
	struct wb_job *next;
};

static bool overlaps_flight(const struct open_inode *o, uint64_t off,
			    uint64_t end)
{
	for (int i = 0; i < o->wb_nflight; i++)
		if (off < o->wb_flight[i].end && o->wb_flight[i].off < end)
			return true;
	return false;
}

/* Room for one more flight in the file's table, grown on demand up to
 * WB_FLIGHTS: 0, -EAGAIN when full, -ENOMEM. */
static int flight_room(struct open_inode *o)
{
	struct wb_range *nf;
	int cap;

	if (o->wb_nflight < o->wb_flightcap)
		return 0;
	if (o->wb_flightcap >= WB_FLIGHTS)
		return -EAGAIN;
	cap = o->wb_flightcap ? o->wb_flightcap * 2 : 8;
	nf = realloc(o->wb_flight, (size_t)cap * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	o->wb_flight = nf;
	o->wb_flightcap = cap;
	return 0;
}

/* Take the file's extent as a job, in flight from now on. May wait
 * (dropping ilock) for an overlapping flight to land or a free slot.
 * NULL if there is no extent, or no memory for the job (-ENOMEM in *rc;
 * the extent stays). */
static struct wb_job *take_extent(struct cfs_client *cl, uint64_t ino,
				  int *rc)
{
	struct open_inode *o;
	struct wb_job *j;

	for (;;) {
		o = client_inode(cl, ino, false);
		if (!o || !o->wb_buf) {
			*rc = 0;
			return NULL;
		}
		*rc = overlaps_flight(o, o->wb_off, o->wb_off + o->wb_len) ?
			      -EAGAIN : flight_room(o);
		if (*rc != -EAGAIN)
			break;
		pthread_cond_wait(&cl->wb_done, &cl->ilock);
	}
	j = *rc ? NULL : malloc(sizeof(*j));
	if (!j) {
		*rc = -ENOMEM;
		return NULL;
	}
	*j = (struct wb_job){ ino, o->wb_off, o->wb_len, o->wb_buf, NULL };
	o->wb_buf = NULL;
	o->wb_len = o->wb_cap = 0;
	o->wb_flight[o->wb_nflight++] =
		(struct wb_range){ j->off, j->off + j->len, j->buf };
	return j;
}

/* A job landed (rc: how): its flight ends, a failure stays on the file. */
static void job_done(struct cfs_client *cl, struct wb_job *j, int rc)
{
	struct open_inode *o = client_inode(cl, j->ino, false);

	if (o) {
		for (int i = 0; i < o->wb_nflight; i++) {
			if (o->wb_flight[i].off == j->off &&
			    o->wb_flight[i].end == j->off + j->len) {
				o->wb_flight[i] = o->wb_flight[--o->wb_nflight];
				break;
			}
		}
		if (rc && !o->wb_error)
			o->wb_error = rc;
		o->wb_landed++;
	} else if (rc) {
		cfs_log_error("write-behind failed after close",
			      "ino=%lu off=%lu len=%zu rc=%d",
			      (unsigned long)j->ino, (unsigned long)j->off,
			      j->len, rc);
	}
	cl->wb_bytes -= j->len;
	pthread_cond_broadcast(&cl->wb_done);
	free(j->buf);
	free(j);
}

/* Hand the file's extent to the flushers; -ENOMEM leaves it. */
static int submit_locked(struct cfs_client *cl, uint64_t ino)
{
	int rc;
	struct wb_job *j = take_extent(cl, ino, &rc);

	if (!j)
		return rc;
	if (cl->wb_tail)
		cl->wb_tail->next = j;
	else
		cl->wb_head = j;
	cl->wb_tail = j;
	pthread_cond_signal(&cl->wb_work);
	return 0;
}

/* Send off every extent older than min_age_ms (0: all of them). */
static int submit_all_locked(struct cfs_client *cl, int64_t min_age_ms)
{
	int64_t now = cfs_mono_ms();

	for (int b = 0; b < INODE_BUCKETS; b++) {
		for (struct open_inode *o = cl->inodes[b]; o;) {
			uint64_t ino = o->ino;
			bool go = o->wb_buf &&
				  now - o->wb_touched_ms >= min_age_ms;
			int rc;

			if (go) {
				rc = submit_locked(cl, ino);
				if (rc)
					return rc;
				/* the bucket may have changed while we
				 * waited: start it over */
				o = cl->inodes[b];
				continue;
			}
			o = o->next;
		}
	}
	return 0;
}

/* Queued jobs of j's file that lie in j's chunk, taken off the queue to
 * go out with j as one write of many extents (one sync for all): into
 * batch[1..], up to WB_BATCH jobs and MAX_BATCH bytes in all. Jobs of
 * one file in flight never overlap, so their order does not matter.
 * Returns the batch's size. ilock held. */
static size_t gather(struct cfs_client *cl, struct wb_job *j,
		     struct wb_job **batch)
{
	uint64_t index = j->off / CFS_CHUNK_SIZE;
	size_t n = 1, bytes = j->len;
	struct wb_job **pp = &cl->wb_head, *prev = NULL;

	batch[0] = j;
	if ((j->off + j->len - 1) / CFS_CHUNK_SIZE != index)
		return 1;
	while (*pp && n < WB_BATCH) {
		struct wb_job *q = *pp;

		if (q->ino == j->ino && q->off / CFS_CHUNK_SIZE == index &&
		    (q->off + q->len - 1) / CFS_CHUNK_SIZE == index &&
		    bytes + q->len <= MAX_BATCH) {
			*pp = q->next;
			if (cl->wb_tail == q)
				cl->wb_tail = prev;
			batch[n++] = q;
			bytes += q->len;
			continue;
		}
		prev = q;
		pp = &q->next;
	}
	return n;
}

static void *flusher_main(void *p)
{
	struct cfs_client *cl = p;
	struct wb_job **batch = malloc(WB_BATCH * sizeof(*batch));
	struct wb_range *ex = malloc(WB_BATCH * sizeof(*ex));

	pthread_mutex_lock(&cl->ilock);
	for (;;) {
		struct wb_job *j = cl->wb_head;
		size_t n = 1;
		int rc;

		if (!j) {
			if (cl->wb_stop)
				break;
			pthread_cond_wait(&cl->wb_work, &cl->ilock);
			continue;
		}
		cl->wb_head = j->next;
		if (!cl->wb_head)
			cl->wb_tail = NULL;
		if (batch && ex)
			n = gather(cl, j, batch);
		pthread_mutex_unlock(&cl->ilock);
		if (n == 1) {
			rc = client_write_data(cl, j->ino, j->off, j->buf,
					       j->len);
		} else {
			for (size_t i = 0; i < n; i++)
				ex[i] = (struct wb_range){
					batch[i]->off,
					batch[i]->off + batch[i]->len,
					batch[i]->buf
				};
			rc = client_write_extents(cl, j->ino, ex, n);
		}
		pthread_mutex_lock(&cl->ilock);
		if (n == 1)
			job_done(cl, j, rc);
		for (size_t i = 0; n > 1 && i < n; i++)
			job_done(cl, batch[i], rc);
	}
	pthread_mutex_unlock(&cl->ilock);
	free(batch);
	free(ex);
	return NULL;
}

int client_wb_start(struct cfs_client *cl, size_t limit)
{
	pthread_cond_init(&cl->wb_done, NULL);
	pthread_cond_init(&cl->wb_work, NULL);
	cl->wb_limit = limit;
	if (!limit)
		return 0;
	if (cl->wb_limit < 2 * WB_EXTENT)
		cl->wb_limit = 2 * WB_EXTENT;
	for (; cl->wb_nthreads < WB_THREADS; cl->wb_nthreads++)
		if (pthread_create(&cl->wb_threads[cl->wb_nthreads], NULL,
				   flusher_main, cl))
			return -EAGAIN;
	return 0;
}

void client_wb_stop(struct cfs_client *cl)
{
	pthread_mutex_lock(&cl->ilock);
	submit_all_locked(cl, 0);
	cl->wb_stop = true;
	pthread_cond_broadcast(&cl->wb_work);
	pthread_mutex_unlock(&cl->ilock);
	for (int i = 0; i < cl->wb_nthreads; i++)
		pthread_join(cl->wb_threads[i], NULL);
	cl->wb_nthreads = 0;
	pthread_cond_destroy(&cl->wb_done);
	pthread_cond_destroy(&cl->wb_work);
}

void client_wb_send_locked(struct cfs_client *cl, uint64_t ino)
{
	submit_locked(cl, ino);
}

void client_wb_idle(struct cfs_client *cl)
{
	pthread_mutex_lock(&cl->ilock);
	submit_all_locked(cl, WB_IDLE_MS);
	pthread_mutex_unlock(&cl->ilock);
}

int client_wb_drain(struct cfs_client *cl, uint64_t ino)
{
	struct open_inode *o;
	struct wb_job *j;
	int rc;

	pthread_mutex_lock(&cl->ilock);
	/* the last extent goes out from this thread: no hand-off */
	j = take_extent(cl, ino, &rc);
	if (j) {
		pthread_mutex_unlock(&cl->ilock);
		rc = client_write_data(cl, ino, j->off, j->buf, j->len);
		pthread_mutex_lock(&cl->ilock);
		job_done(cl, j, rc);
		rc = 0;
	}
	while (!rc && (o = client_inode(cl, ino, false)) && o->wb_nflight)
		pthread_cond_wait(&cl->wb_done, &cl->ilock);
	o = client_inode(cl, ino, false);
	if (!rc && o) {
		rc = o->wb_error;
		o->wb_error = 0;
	}
	pthread_mutex_unlock(&cl->ilock);
	return rc;
}

bool client_wb_pending(struct open_inode *o)
{
	return o->wb_buf || o->wb_nflight || o->wb_error;
}

/* Whether a write of [off, off+len) can go into the file's extent: it
 * overlaps or touches it, or the gap between them is small and holds no
 * data (it lies past the size the file had when the extent began, so it
 * reads as zeros either way). Compilers and linkers write an object
 * file in pieces, seeking back and forth: one extent takes them all. */
static bool joins(const struct open_inode *o, uint64_t off, size_t len)
{
	uint64_t end = o->wb_off + o->wb_len, wend = off + len;
	uint64_t lo = off < o->wb_off ? off : o->wb_off;
	uint64_t hi = wend > end ? wend : end;

	if (!o->wb_buf || hi - lo > WB_EXTENT)
		return false;
	if (off <= end && wend >= o->wb_off)
		return true;
	if (off > end)
		return end >= o->wb_hole && off - end <= WB_GAP;
	return wend >= o->wb_hole && o->wb_off - wend <= WB_GAP;
}

/* Grow the extent to cover [off, off+len), zero-filling what is new. */
static int span_extent(struct cfs_client *cl, struct open_inode *o,
		       uint64_t off, size_t len)
{
	uint64_t end = o->wb_off + o->wb_len, wend = off + len;
	uint64_t lo = off < o->wb_off ? off : o->wb_off;
	uint64_t hi = wend > end ? wend : end;
	size_t front = (size_t)(o->wb_off - lo), span = (size_t)(hi - lo);

	if (span > o->wb_cap) {
		size_t cap = o->wb_cap ? o->wb_cap : 64 << 10;
		uint8_t *nb;

		while (cap < span)
			cap *= 2;
		if (cap > WB_EXTENT)
			cap = WB_EXTENT;
		nb = realloc(o->wb_buf, cap);
		if (!nb)
			return -ENOMEM;
		o->wb_buf = nb;
		o->wb_cap = cap;
	}
	if (front) {
		memmove(o->wb_buf + front, o->wb_buf, o->wb_len);
		memset(o->wb_buf, 0, front);
	}
	memset(o->wb_buf + front + o->wb_len, 0, span - front - o->wb_len);
	cl->wb_bytes += span - o->wb_len;
	o->wb_off = lo;
	o->wb_len = span;
	return 0;
}

/* Make the file's extent cover [off, off+len), sending it off first if
 * the write cannot join it, and waiting while memory is over the bound;
 * or -errno. */
static int make_room(struct cfs_client *cl, uint64_t ino, uint64_t off,
		     size_t len)
{
	struct open_inode *o;
	int rc;

	for (;;) {
		o = client_inode(cl, ino, true);
		if (!o)
			return -ENOMEM;
		if (o->wb_buf && !joins(o, off, len)) {
			rc = submit_locked(cl, ino);
			if (rc)
				return rc;
			continue;
		}
		if (cl->wb_bytes + len + WB_GAP <= cl->wb_limit)
			break;
		rc = submit_all_locked(cl, 0);
		if (rc)
			return rc;
		if (cl->wb_bytes + len + WB_GAP > cl->wb_limit)
			pthread_cond_wait(&cl->wb_done, &cl->ilock);
	}
	if (!o->wb_buf) {
		o->wb_off = off;
		o->wb_len = 0;
		o->wb_hole = o->size;
	}
	return span_extent(cl, o, off, len);
}

ssize_t cfs_write(struct cfs_client *cl, uint64_t ino, uint64_t off,
		  const void *buf, size_t len)
{
	struct open_inode *o;
	int rc;

	client_cache_changed(cl, ino, CACHE_WRITE, off, buf, len);
	if (!cl->wb_limit || len > WB_EXTENT) {
		/* straight through, after what is buffered before it */
		rc = client_wb_drain(cl, ino);
		if (!rc)
			rc = client_write_data(cl, ino, off, buf, len);
		if (rc)
			return rc;
		pthread_mutex_lock(&cl->ilock);
		o = client_inode(cl, ino, true);
	} else {
		pthread_mutex_lock(&cl->ilock);
		o = client_inode(cl, ino, true);
		rc = o ? o->wb_error : -ENOMEM;
		if (o)
			o->wb_error = 0;
		if (!rc)
			rc = make_room(cl, ino, off, len);
		if (rc) {
			pthread_mutex_unlock(&cl->ilock);
			return rc;
		}
		o = client_inode(cl, ino, true);
		memcpy(o->wb_buf + (off - o->wb_off), buf, len);
		o->wb_touched_ms = cfs_mono_ms();
		if (o->wb_len == WB_EXTENT)
			submit_locked(cl, ino);
		o = client_inode(cl, ino, true);
	}
	if (o) {
		if (off + len > o->size)
			o->size = off + len;
		o->mtime_ns = cfs_real_ns();
		o->dirty = true;
		client_drop_prefetch(cl, o);
	}
	pthread_mutex_unlock(&cl->ilock);
	return (ssize_t)len;
}

uint64_t client_wb_mark(struct cfs_client *cl, uint64_t ino)
{
	struct open_inode *o;
	uint64_t mark;

	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	mark = o ? o->wb_landed : 0;
	pthread_mutex_unlock(&cl->ilock);
	return mark;
}

static void overlay(uint64_t off, uint8_t *buf, size_t len, uint64_t from,
		    uint64_t to, const uint8_t *data)
{
	uint64_t s = from > off ? from : off;
	uint64_t e = to < off + len ? to : off + len;

	if (s < e)
		memcpy(buf + (s - off), data + (s - from), (size_t)(e - s));
}

bool client_wb_overlay(struct cfs_client *cl, uint64_t ino, uint64_t mark,
		       uint64_t off, uint8_t *buf, size_t len)
{
	struct open_inode *o;
	bool ok = true;

	pthread_mutex_lock(&cl->ilock);
	o = client_inode(cl, ino, false);
	if (o && o->wb_landed != mark) {
		ok = false;
	} else if (o) {
		/* flights never overlap each other; the extent is newest */
		for (int i = 0; i < o->wb_nflight; i++)
			overlay(off, buf, len, o->wb_flight[i].off,
				o->wb_flight[i].end, o->wb_flight[i].buf);
		if (o->wb_buf)
			overlay(off, buf, len, o->wb_off,
				o->wb_off + o->wb_len, o->wb_buf);
	}
	pthread_mutex_unlock(&cl->ilock);
	return ok;
}
