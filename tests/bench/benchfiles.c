/* benchfiles: mdtest-style metadata workloads for tests/bench/run.
 *
 *   benchfiles small DIR FILES PROCS SECONDS
 *       PROCS processes each create FILES/PROCS files of 4 KiB in their own
 *       subdirectory of DIR, then stat them, list the directories, and
 *       unlink them. Every phase stops at SECONDS; the later phases work on
 *       what the create phase made. Prints one line:
 *       "creates=R stats=R readdirs=R unlinks=R" (operations per second).
 *   benchfiles reread DIR SECONDS
 *       Reads every regular file under DIR, whole, until SECONDS; prints
 *       "files=N bytes=N rate=R" (files per second).
 *   benchfiles walk DIR SECONDS
 *       Looks at every name under DIR (nftw: a stat of each, as find,
 *       make or git status do) until SECONDS; prints "files=N rate=R"
 *       (names per second).
 *
 * Exit status 1 on any failure, with the path and errno on stderr: a
 * figure is only printed when every operation it counts succeeded. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CREATE, STAT, READDIR, UNLINK, PHASES };
static const char *phase_name[PHASES] = { "creates", "stats", "readdirs",
					  "unlinks" };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "benchfiles: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

/* Shared between the processes: per-phase operation counts, and the
 * barrier each phase starts from. */
#define MAX_PROCS 64
struct shared {
	int ready[PHASES];
	long ops[PHASES][MAX_PROCS];
	double start[PHASES][MAX_PROCS], end[PHASES][MAX_PROCS];
};

static void wait_all(struct shared *sh, int phase, int procs)
{
	__atomic_add_fetch(&sh->ready[phase], 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sh->ready[phase], __ATOMIC_SEQ_CST) < procs)
		usleep(200);
}

static long run_phase(int phase, const char *dir, long n, double deadline)
{
	static const char block[4096];
	char path[4200];
	long done = 0;

	if (phase == READDIR) {
		/* list until the deadline; one pass counts its entries */
		do {
			DIR *d = opendir(dir);
			struct dirent *e;

			if (!d)
				fail("opendir", dir);
			while ((e = readdir(d)))
				done++;
			closedir(d);
		} while (now() < deadline && done < n);
		return done;
	}
	for (long i = 0; i < n && now() < deadline; i++) {
		struct stat sb;
		int fd;

		snprintf(path, sizeof(path), "%s/f%ld", dir, i);
		switch (phase) {
		case CREATE:
			fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
			if (fd < 0)
				fail("create", path);
			if (write(fd, block, sizeof(block)) != sizeof(block))
				fail("write", path);
			if (close(fd))
				fail("close", path);
			break;
		case STAT:
			if (stat(path, &sb))
				fail("stat", path);
			break;
		case UNLINK:
			if (unlink(path))
				fail("unlink", path);
			break;
		}
		done++;
	}
	return done;
}

static int small(const char *dir, long files, int procs, double seconds)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status, failed = 0;

	if (sh == MAP_FAILED)
		fail("mmap", "");
	if (procs < 1 || procs > MAX_PROCS) {
		fprintf(stderr, "benchfiles: PROCS must be 1..%d\n", MAX_PROCS);
		return 2;
	}
	memset(sh, 0, sizeof(*sh));
	for (int p = 0; p < procs; p++) {
		if (fork() == 0) {
			char sub[4096];
			long n = files / procs, made = 0;

			snprintf(sub, sizeof(sub), "%s/p%d", dir, p);
			if (mkdir(sub, 0755))
				fail("mkdir", sub);
			for (int ph = 0; ph < PHASES; ph++) {
				double t0, t1;
				long k;

				wait_all(sh, ph, procs);
				t0 = now();
				k = run_phase(ph, sub, ph == CREATE ? n : made,
					      t0 + seconds);
				t1 = now();
				if (ph == CREATE)
					made = k;
				sh->ops[ph][p] = k;
				sh->start[ph][p] = t0;
				sh->end[ph][p] = t1;
			}
			if (rmdir(sub))
				fail("rmdir", sub);
			_exit(0);
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	if (failed)
		return 1;
	/* a phase spans the earliest start to the latest end */
	for (int ph = 0; ph < PHASES; ph++) {
		double t0 = sh->start[ph][0], t1 = sh->end[ph][0], span;
		long ops = 0;

		for (int p = 0; p < procs; p++) {
			ops += sh->ops[ph][p];
			t0 = sh->start[ph][p] < t0 ? sh->start[ph][p] : t0;
			t1 = sh->end[ph][p] > t1 ? sh->end[ph][p] : t1;
		}
		span = t1 - t0;
		printf("%s%s=%.0f", ph ? " " : "", phase_name[ph],
		       span > 0 ? (double)ops / span : 0.0);
	}
	printf("\n");
	return 0;
}

static double reread_deadline;
static long reread_files, reread_bytes;

static int reread_one(const char *path, const struct stat *sb, int type,
		      struct FTW *ftw)
{
	static char buf[1 << 16];
	ssize_t n;
	int fd;

	(void)sb;
	(void)ftw;
	if (now() >= reread_deadline)
		return 1;
	if (type != FTW_F)
		return 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open", path);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		reread_bytes += n;
	if (n < 0)
		fail("read", path);
	close(fd);
	reread_files++;
	return 0;
}

static int reread(const char *dir, double seconds)
{
	double t0 = now();

	reread_deadline = t0 + seconds;
	if (nftw(dir, reread_one, 64, FTW_PHYS) < 0)
		fail("walk", dir);
	printf("files=%ld bytes=%ld rate=%.0f\n", reread_files, reread_bytes,
	       (double)reread_files / (now() - t0));
	return 0;
}

static long walked;

static int walk_one(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw)
{
	(void)path;
	(void)sb;
	(void)ftw;
	if (type == FTW_NS)
		fail("stat", path);
	walked++;
	return now() >= reread_deadline;
}

static int walk(const char *dir, double seconds)
{
	double t0 = now();

	reread_deadline = t0 + seconds;
	if (nftw(dir, walk_one, 64, FTW_PHYS) < 0)
		fail("walk", dir);
	printf("files=%ld rate=%.0f\n", walked, (double)walked / (now() - t0));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "small"))
		return small(argv[2], atol(argv[3]), atoi(argv[4]),
			     atof(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "reread"))
		return reread(argv[2], atof(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "walk"))
		return walk(argv[2], atof(argv[3]));
	fprintf(stderr, "usage: benchfiles small DIR FILES PROCS SECONDS\n"
			"       benchfiles reread DIR SECONDS\n"
			"       benchfiles walk DIR SECONDS\n");
	return 2;
}
