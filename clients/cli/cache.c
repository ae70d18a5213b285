/* cfs cache: the client data cache of the mount a path is on (cfs-fuse
 * -o cache_dir), through the mount's virtual xattr user.cfs.cache.
 *
 *   cfs cache status PATH   the mount's figures (hits, misses, bytes
 *                           handed to the kernel by passthrough, ...) and
 *                           PATH's own (cached bytes, current or not)
 *   cfs cache drop PATH     forget PATH's copy (a directory: every copy);
 *                           needs write permission on PATH, as any
 *                           user.* xattr
 *   cfs cache passthrough on|off PATH
 *                           hand whole cached copies to the kernel (FUSE
 *                           passthrough) from the next open, or not
 *   cfs cache warm PATH...  read every file under the paths into the
 *                           cache (O_DIRECT reads, past the page cache,
 *                           reach cfs-fuse), with a progress bar */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cmds.h"

#define CACHE_XATTR "user.cfs.cache"
#define WARM_PIECE (1u << 20)

static struct warm {
	uint64_t total, done;
	unsigned files, failed;
	bool tty;
	char *buf;
} warm;

static void progress(bool last)
{
	int width = 40, fill = warm.total ?
				       (int)(width * warm.done / warm.total) :
				       width;

	if (!warm.tty && !last)
		return;
	fprintf(stderr, "\r[%.*s%*s] %3d%% %lu/%lu MiB, %u files%s",
		fill, "########################################",
		width - fill, "",
		warm.total ? (int)(100 * warm.done / warm.total) : 100,
		(unsigned long)(warm.done >> 20),
		(unsigned long)(warm.total >> 20), warm.files,
		last ? "\n" : "");
}

static int count_file(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		warm.total += (uint64_t)st->st_size;
	return 0;
}

static int warm_file(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	int fd;
	ssize_t n = 0;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "\ncfs cache warm: %s: %s\n", path,
			strerror(errno));
		warm.failed++;
		return 0;
	}
	while ((n = read(fd, warm.buf, WARM_PIECE)) > 0) {
		warm.done += (uint64_t)n;
		progress(false);
	}
	if (n < 0) {
		fprintf(stderr, "\ncfs cache warm: %s: %s\n", path,
			strerror(errno));
		warm.failed++;
	}
	close(fd);
	warm.files++;
	return 0;
}

static int cache_warm(int argc, char **argv)
{
	if (posix_memalign((void **)&warm.buf, 4096, WARM_PIECE))
		return 1;
	warm.tty = isatty(2);
	for (int i = 0; i < argc; i++)
		if (nftw(argv[i], count_file, 16, FTW_PHYS)) {
			fprintf(stderr, "cfs cache warm: %s: %s\n", argv[i],
				strerror(errno));
			free(warm.buf);
			return 1;
		}
	for (int i = 0; i < argc; i++)
		nftw(argv[i], warm_file, 16, FTW_PHYS);
	progress(true);
	free(warm.buf);
	return warm.failed ? 1 : 0;
}

int cmd_cache(int argc, char **argv)
{
	char buf[4096];
	ssize_t n;

	if (argc >= 3 && !strcmp(argv[1], "warm"))
		return cache_warm(argc - 2, argv + 2);
	if (argc == 3 && !strcmp(argv[1], "status")) {
		n = getxattr(argv[2], CACHE_XATTR, buf, sizeof(buf) - 1);
		if (n < 0) {
			fprintf(stderr, "cfs cache status: %s: %s%s\n",
				argv[2], strerror(errno),
				errno == ENODATA || errno == ENOTSUP ?
					" (not on a ClaudeFS mount?)" : "");
			return 1;
		}
		fwrite(buf, 1, (size_t)n, stdout);
		return 0;
	}
	if ((argc == 3 && !strcmp(argv[1], "drop")) ||
	    (argc == 4 && !strcmp(argv[1], "passthrough") &&
	     (!strcmp(argv[2], "on") || !strcmp(argv[2], "off")))) {
		const char *path = argv[argc - 1];

		struct stat st;

		if (argc == 3)	/* a directory: every copy */
			snprintf(buf, sizeof(buf), "drop%s",
				 !lstat(path, &st) && S_ISDIR(st.st_mode) ?
					 " all" : "");
		else
			snprintf(buf, sizeof(buf), "passthrough=%s", argv[2]);
		if (setxattr(path, CACHE_XATTR, buf, strlen(buf), 0)) {
			fprintf(stderr, "cfs cache %s: %s: %s\n", argv[1], path,
				errno == EOPNOTSUPP ?
					"the kernel offers no passthrough" :
					strerror(errno));
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "usage: cfs cache status|drop PATH\n"
			"       cfs cache passthrough on|off PATH\n"
			"       cfs cache warm PATH...\n");
	return 2;
}
