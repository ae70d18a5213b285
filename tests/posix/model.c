/* model SEED OPS PROCS DIR: the randomized model test's driver.
 *
 * PROCS processes each apply OPS random operations (create, write,
 * truncate, rename, link, symlink, unlink, mkdir, rmdir, chmod, setxattr,
 * removexattr) inside DIR/pK, from a generator seeded with SEED and K, and
 * log every operation with its result to DIR.log.K. Then the tree is
 * dumped to stdout: every path with its type, mode, link count, size, a
 * hash of its content, its link target and its xattrs. The same seed on a
 * local directory and on a ClaudeFS mount must give the same logs and the
 * same dump (tests/integration/test_model.sh). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(next() % n);
}

/* A path among a small set, so operations collide often. */
static void path(char *buf, size_t len)
{
	static const char *const dirs[] = { ".", "a", "b", "a/c" };

	snprintf(buf, len, "%s/n%u", dirs[pick(4)], pick(6));
}

static void logr(FILE *log, const char *op, const char *a, const char *b,
		 long rc)
{
	fprintf(log, "%s %s %s = %s\n", op, a, b ? b : "",
		rc < 0 ? strerrorname_np(errno) : "ok");
}

static void one_op(FILE *log)
{
	char a[64], b[64], data[8192];
	unsigned op = pick(14);
	long rc;
	int fd;

	path(a, sizeof(a));
	path(b, sizeof(b));
	switch (op) {
	case 0:
	case 1: {
		size_t n = pick(sizeof(data));
		off_t off = pick(3) ? 0 : pick(200000);

		for (size_t i = 0; i < n; i++)
			data[i] = (char)next();
		fd = open(a, O_WRONLY | O_CREAT | (pick(2) ? O_APPEND : 0), 0644);
		rc = fd < 0 ? -1 : pwrite(fd, data, n, off);
		if (fd >= 0)
			close(fd);
		logr(log, "write", a, NULL, rc);
		break;
	}
	case 2:
		logr(log, "truncate", a, NULL, truncate(a, pick(100000)));
		break;
	case 3:
		logr(log, "rename", a, b, rename(a, b));
		break;
	case 4:
		logr(log, "link", a, b, link(a, b));
		break;
	case 5:
		logr(log, "symlink", a, b, symlink(a, b));
		break;
	case 6:
	case 7:
		logr(log, "unlink", a, NULL, unlink(a));
		break;
	case 8:
		logr(log, "mkdir", a, NULL, mkdir(a, 0755));
		break;
	case 9:
		logr(log, "rmdir", a, NULL, rmdir(a));
		break;
	case 10:
		logr(log, "chmod", a, NULL, chmod(a, 0600 | pick(0200)));
		break;
	case 11:
		snprintf(b, sizeof(b), "%u", pick(1000));
		logr(log, "setxattr", a, b,
		     setxattr(a, pick(2) ? "user.x" : "user.y", b, strlen(b), 0));
		break;
	case 12:
		logr(log, "removexattr", a, NULL, removexattr(a, "user.x"));
		break;
	case 13:
		snprintf(b, sizeof(b), "%s", pick(2) ? "a" : "a/c");
		logr(log, "mkdir", b, NULL, mkdir(b, 0755));
		break;
	}
}

static uint64_t content_hash(const char *p)
{
	uint64_t h = 1469598103934665603ull;
	char buf[65536];
	ssize_t n;
	int fd = open(p, O_RDONLY);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (uint8_t)buf[i]) * 1099511628211ull;
	close(fd);
	return h;
}

static int by_name(const struct dirent **x, const struct dirent **y)
{
	return strcmp((*x)->d_name, (*y)->d_name);
}

static int by_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void dump(const char *dir, const char *rel)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, by_name);

	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char p[4096], r[4096], target[256], xl[256];
		struct stat st;
		ssize_t len;

		if (!strcmp(name, ".") || !strcmp(name, "..")) {
			free(ents[i]);
			continue;
		}
		snprintf(p, sizeof(p), "%s/%s", dir, name);
		snprintf(r, sizeof(r), "%s/%s", rel, name);
		lstat(p, &st);
		printf("%s %o nlink=%lu", r, st.st_mode, (unsigned long)st.st_nlink);
		if (S_ISREG(st.st_mode))
			printf(" size=%ld hash=%016lx", (long)st.st_size,
			       (unsigned long)content_hash(p));
		if (S_ISLNK(st.st_mode)) {
			len = readlink(p, target, sizeof(target) - 1);
			printf(" -> %.*s", (int)(len > 0 ? len : 0), target);
		}
		/* xattrs sorted by name: listing order is the file system's */
		len = llistxattr(p, xl, sizeof(xl));
		{
			const char *names[32];
			int nn = 0;

			for (ssize_t k = 0; k < len && nn < 32;
			     k += (ssize_t)strlen(xl + k) + 1)
				names[nn++] = xl + k;
			qsort(names, (size_t)nn, sizeof(names[0]), by_str);
			for (int k = 0; k < nn; k++) {
				char val[64];
				ssize_t vl = lgetxattr(p, names[k], val,
						       sizeof(val));

				printf(" %s=%.*s", names[k],
				       (int)(vl > 0 ? vl : 0), val);
			}
		}
		putchar('\n');
		if (S_ISDIR(st.st_mode))
			dump(p, r);
		free(ents[i]);
	}
	free(ents);
}

int main(int argc, char **argv)
{
	unsigned long seed, ops, procs;

	if (argc != 5) {
		fprintf(stderr, "usage: model SEED OPS PROCS DIR\n");
		return 2;
	}
	seed = strtoul(argv[1], NULL, 0);
	ops = strtoul(argv[2], NULL, 0);
	procs = strtoul(argv[3], NULL, 0);
	umask(022);
	for (unsigned long k = 0; k < procs; k++) {
		if (fork() == 0) {
			char sub[4096], logp[4200];
			FILE *log;

			snprintf(sub, sizeof(sub), "%s/p%lu", argv[4], k);
			snprintf(logp, sizeof(logp), "%s.log.%lu", argv[4], k);
			log = fopen(logp, "w");
			if (!log || mkdir(sub, 0755) || chdir(sub))
				_exit(1);
			rng = seed * 0x9e3779b97f4a7c15ull + k + 1;
			for (unsigned long i = 0; i < ops; i++)
				one_op(log);
			fclose(log);
			_exit(0);
		}
	}
	for (unsigned long k = 0; k < procs; k++) {
		int status;

		wait(&status);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			return 1;
	}
	dump(argv[4], ".");
	return 0;
}
