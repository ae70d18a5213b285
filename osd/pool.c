/* The pool of emptied chunk files; see pool.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs/clock.h"
#include "cfs/log.h"
#include "pool.h"

static void pool_path(const struct file_pool *p, uint64_t name, char *buf,
		      size_t len)
{
	snprintf(buf, len, "%s/%016" PRIx64, p->dir, name);
}

/* A pool file's name, if it is one. */
static bool parse_name(const char *s, uint64_t *name)
{
	int used = 0;

	return strlen(s) == 16 &&
	       sscanf(s, "%16" SCNx64 "%n", name, &used) == 1 && used == 16;
}

/* The empty file at name: ready for a new chunk, or unlinked when the
 * pool has enough. */
static void settle(struct file_pool *p, uint64_t name)
{
	char path[400];

	pthread_mutex_lock(&p->lock);
	if (p->n < POOL_MAX) {
		p->names[p->n++] = name;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	pool_path(p, name, path, sizeof(path));
	unlink(path);
}

/* A file of size bytes just put in the pool: emptied now if that frees
 * little, else queued for the emptier (inline when the queue is full). */
static void take_in(struct file_pool *p, uint64_t name, off_t size)
{
	char path[400];

	if (size > POOL_STEP) {
		pthread_mutex_lock(&p->lock);
		if (p->npending < POOL_PENDING) {
			p->pending[(p->head + p->npending++) % POOL_PENDING] =
				name;
			pthread_cond_signal(&p->work);
			pthread_mutex_unlock(&p->lock);
			return;
		}
		pthread_mutex_unlock(&p->lock);
	}
	pool_path(p, name, path, sizeof(path));
	if (size == 0 || truncate(path, 0) == 0)
		settle(p, name);
	else
		unlink(path);	/* cannot empty it: let it go */
}

/* Rest for ns (capped at 50 ms), or until the pool closes: true then. */
static bool rest(struct file_pool *p, int64_t ns)
{
	int64_t until;
	bool stop;

	if (ns > 50 * 1000000LL)
		ns = 50 * 1000000LL;
	until = cfs_mono_ns() + ns;
	pthread_mutex_lock(&p->lock);
	while (!p->stop && ns >= 100 * 1000 && cfs_mono_ns() < until) {
		struct timespec ts = { .tv_sec = until / 1000000000,
				       .tv_nsec = until % 1000000000 };

		pthread_cond_timedwait(&p->work, &p->lock, &ts);
	}
	stop = p->stop;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

/* Empty the file at name POOL_STEP at a time, resting nine times each
 * step's length after it; stopped halfway, it waits for the next open. */
static void empty_paced(struct file_pool *p, uint64_t name)
{
	char path[400];
	struct stat sb;
	bool stop = false;
	off_t size;
	int fd, rc;

	pool_path(p, name, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	rc = fstat(fd, &sb);
	size = rc ? 0 : sb.st_size;
	while (rc == 0 && size > 0 && !stop) {
		int64_t t0 = cfs_mono_ns();

		size = size > POOL_STEP ? size - POOL_STEP : 0;
		rc = ftruncate(fd, size);
		if (size > 0)
			stop = rest(p, 9 * (cfs_mono_ns() - t0));
	}
	close(fd);
	if (rc)
		unlink(path);
	else if (size == 0)
		settle(p, name);
}

static void *emptier_main(void *arg)
{
	struct file_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		uint64_t name;

		if (p->npending == 0) {
			pthread_cond_wait(&p->work, &p->lock);
			continue;
		}
		name = p->pending[p->head];
		p->head = (p->head + 1) % POOL_PENDING;
		p->npending--;
		pthread_mutex_unlock(&p->lock);
		empty_paced(p, name);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int pool_open(struct file_pool *p, const char *dir)
{
	struct dirent *de;
	DIR *d;

	memset(p, 0, sizeof(*p));
	if ((size_t)snprintf(p->dir, sizeof(p->dir), "%s/pool", dir) >=
	    sizeof(p->dir))
		return -ENAMETOOLONG;
	if (mkdir(p->dir, 0700) && errno != EEXIST)
		return -errno;
	d = opendir(p->dir);
	if (!d)
		return -errno;
	pthread_mutex_init(&p->lock, NULL);
	cfs_mono_cond_init(&p->work);
	/* a crash or stop before a file was emptied leaves data in it */
	while ((de = readdir(d))) {
		char path[400];
		struct stat sb;
		uint64_t name;

		if (!parse_name(de->d_name, &name))
			continue;
		if (name >= p->next)
			p->next = name + 1;
		pool_path(p, name, path, sizeof(path));
		if (stat(path, &sb) == 0)
			take_in(p, name, sb.st_size);
	}
	closedir(d);
	if (pthread_create(&p->emptier, NULL, emptier_main, p)) {
		pthread_cond_destroy(&p->work);
		pthread_mutex_destroy(&p->lock);
		return -EAGAIN;
	}
	return 0;
}

void pool_close(struct file_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->emptier, NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
}

size_t pool_ready(struct file_pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->n;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void pool_take(struct file_pool *p, const char *path)
{
	char src[400];
	uint64_t name;
	int rc;

	pthread_mutex_lock(&p->lock);
	if (p->off || p->n == 0) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	name = p->names[--p->n];
	pthread_mutex_unlock(&p->lock);
	pool_path(p, name, src, sizeof(src));
	rc = renameat2(AT_FDCWD, src, AT_FDCWD, path, RENAME_NOREPLACE) ?
		     -errno : 0;
	if (rc == -EINVAL) {
		pthread_mutex_lock(&p->lock);
		if (!p->off)
			cfs_log_warn("chunk files are not reused: no rename "
				     "without replace here", "dir=%s", p->dir);
		p->off = true;
		pthread_mutex_unlock(&p->lock);
	}
	if (rc == -EEXIST || rc == -EINVAL)
		settle(p, name);	/* not used: back it goes */
}

int pool_give(struct file_pool *p, const char *path)
{
	char dst[400];
	struct stat sb;
	uint64_t name;
	bool keep;

	if (stat(path, &sb))
		return -errno;
	/* a small file the pool has no room for goes at once */
	pthread_mutex_lock(&p->lock);
	keep = !p->off && (p->n < POOL_MAX || sb.st_size > POOL_STEP);
	name = p->next++;
	pthread_mutex_unlock(&p->lock);
	pool_path(p, name, dst, sizeof(dst));
	if (keep && rename(path, dst) == 0) {
		take_in(p, name, sb.st_size);
		return 0;
	}
	return unlink(path) ? -errno : 0;
}
