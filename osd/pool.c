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
	while ((de = readdir(d))) {
		char path[400];
		struct stat sb;
		uint64_t name;

		if (!parse_name(de->d_name, &name))
			continue;
		if (name >= p->next)
			p->next = name + 1;
		/* a crash between a removal's rename and its truncate
		 * leaves data: empty it, or let it go */
		pool_path(p, name, path, sizeof(path));
		if (p->n < POOL_MAX && stat(path, &sb) == 0 &&
		    (sb.st_size == 0 || truncate(path, 0) == 0))
			p->names[p->n++] = name;
		else
			unlink(path);
	}
	closedir(d);
	pthread_mutex_init(&p->lock, NULL);
	return 0;
}

void pool_close(struct file_pool *p)
{
	pthread_mutex_destroy(&p->lock);
}

/* Back into the pool: a name taken but not used. */
static void put_back(struct file_pool *p, uint64_t name)
{
	pthread_mutex_lock(&p->lock);
	if (p->n < POOL_MAX)
		p->names[p->n++] = name;
	pthread_mutex_unlock(&p->lock);
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
		put_back(p, name);
}

int pool_give(struct file_pool *p, const char *path)
{
	char dst[400];
	uint64_t name;
	bool keep;

	pthread_mutex_lock(&p->lock);
	keep = !p->off && p->n < POOL_MAX;
	name = p->next++;
	pthread_mutex_unlock(&p->lock);
	pool_path(p, name, dst, sizeof(dst));
	if (keep && rename(path, dst) == 0) {
		if (truncate(dst, 0) == 0) {
			put_back(p, name);
			return 0;
		}
		path = dst;	/* cannot empty it: let it go */
	} else if (keep && errno == ENOENT) {
		return -ENOENT;
	}
	return unlink(path) ? -errno : 0;
}
