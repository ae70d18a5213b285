/* fsx: a randomized single-file data exerciser, checked against a model.
 *
 *   fsx [-n OPS] [-s SEED] [-i RUNS] [-S MAXSIZE] [-L MAXLEN] [-p 1|2]
 *       [-b FILE2] [-F] [-x OPS] [-l LOG] [-q] FILE
 *   fsx -r LOG [-i RUNS] [-p 1|2] [-b FILE2] FILE
 *
 * Each run creates FILE afresh and applies OPS operations drawn from a
 * generator seeded with SEED (run K uses SEED+K): pread and pwrite,
 * reads and writes through a shared mapping (msync'd; a mapped write
 * past the end grows the file with ftruncate first), O_DIRECT reads and
 * writes, ftruncate down and up at unaligned sizes, fallocate (plain,
 * KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE), copy_file_range within the file,
 * fsync and fdatasync, and close-and-reopen. An in-memory copy of the
 * file follows every operation; every read, and the file's size after
 * every operation, is compared with it, and a reopen reads the whole file
 * back. The first difference stops the run with the bytes that differ.
 *
 * -p 2: a second process holds its own descriptors on the file; each
 * operation is done by one of the two, at random, one at a time.
 * -b FILE2: the same file seen through a second mount; a reopen closes
 * every descriptor and opens the file on either mount, so each switch is
 * a close-to-open check across mounts.
 * -F: a third process opens the file, fsyncs it over and over and closes
 * it, all through the run: flushes (and releases) that the kernel does
 * not order with the operations, racing each of them.
 * -x OPS: leave out operations, by name, comma-separated (COPY,DREAD...).
 *
 * Every operation is logged in fsx's notation ("WRITE 0x10 thru 0x1f
 * (0x10 bytes)"); on a difference the whole log is written to LOG
 * (default FILE.fsxlog) and -r LOG replays it (the data of the operation
 * on line N depends only on N and the log's seed). Exit 0 when every run
 * is clean, 1 on a difference, 2 on a usage or system error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIO_ALIGN 4096

enum op_kind {
	OP_READ, OP_WRITE, OP_MAPREAD, OP_MAPWRITE, OP_TRUNCATE, OP_FALLOC,
	OP_PUNCH, OP_ZERO, OP_COPY, OP_DREAD, OP_DWRITE, OP_FSYNC, OP_REOPEN,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"READ", "WRITE", "MAPREAD", "MAPWRITE", "TRUNCATE", "FALLOC",
	"PUNCH", "ZERO", "COPY", "DREAD", "DWRITE", "FSYNC", "REOPEN",
};

/* How often each is drawn, out of the sum. */
static const unsigned op_weight[OP_COUNT] = {
	16, 16, 8, 8, 6, 4, 5, 4, 5, 4, 4, 2, 3,
};

/* One operation, as logged and replayed. */
struct op {
	enum op_kind kind;
	uint64_t off, len;	/* TRUNCATE: len is the new size */
	uint64_t dst;		/* COPY: where to; TRUNCATE: the old size */
	int flag;		/* FALLOC, ZERO: KEEP_SIZE; FSYNC: datasync;
				 * REOPEN: the mount (0 or 1) */
	int proc;		/* which process does it (0 or 1) */
};

/* What a process is asked to do and answers, over a pipe. */
struct answer {
	int err;		/* 0, or the errno of the call that failed */
	char what[96];		/* the call that failed */
	uint64_t n;		/* bytes read, or the size after the op */
};

static struct {
	const char *path[2];	/* the file on each mount */
	int nmounts, nprocs;
	uint64_t maxsize, maxlen, nops, seed, runs;
	bool skip[OP_COUNT];
	const char *log_path, *replay;
	bool quiet;
	bool syncer;
} opt = { .nmounts = 1, .nprocs = 1, .maxsize = 256 << 10,
	  .maxlen = 64 << 10, .nops = 10000, .runs = 1 };

static uint8_t *good;		/* the model: bytes past size are zero */
static uint64_t good_size;
static uint8_t *shared;	/* where the processes put what they read */
static uint8_t *wbuf;		/* what a write writes */
static struct op *ops;		/* this run's log */
static uint64_t nlogged, logcap;
static uint64_t data_seed;

/* ---- per process: its descriptors ---- */

static int fd = -1, dfd = -1;	/* buffered, O_DIRECT */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
	rng_state = mix(rng_state + 0x9e3779b97f4a7c15ull);
	return n ? rng_state % n : 0;
}

/* The bytes the write of log line opno puts down: never zero, so that
 * lost data reads as something no write wrote. */
static void make_data(uint8_t *buf, uint64_t len, uint64_t opno)
{
	uint64_t x = mix(data_seed * 1000003 + opno);

	for (uint64_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			x = mix(x + i);
		buf[i] = (uint8_t)(x >> (i % 8 * 8)) | 1;
	}
}

static void fail_call(struct answer *a, const char *fmt, ...)
{
	va_list ap;

	a->err = errno ? errno : EIO;
	va_start(ap, fmt);
	vsnprintf(a->what, sizeof(a->what), fmt, ap);
	va_end(ap);
}

static int open_file(int mount, struct answer *a)
{
	fd = open(opt.path[mount], O_RDWR);
	if (fd < 0) {
		fail_call(a, "open %s", opt.path[mount]);
		return -1;
	}
	dfd = open(opt.path[mount], O_RDWR | O_DIRECT);
	if (dfd < 0) {
		fail_call(a, "open O_DIRECT %s", opt.path[mount]);
		return -1;
	}
	return 0;
}

static void close_file(struct answer *a)
{
	if (fd >= 0 && close(fd))
		fail_call(a, "close");
	if (dfd >= 0 && close(dfd))
		fail_call(a, "close O_DIRECT");
	fd = dfd = -1;
}

/* Read [off, off+len) through a shared mapping into out. */
static int map_read(uint64_t off, uint64_t len, uint8_t *out)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), base = off - off % pg;
	uint8_t *m = mmap(NULL, len + (off - base), PROT_READ, MAP_SHARED, fd,
			  (off_t)base);

	if (m == MAP_FAILED)
		return -1;
	memcpy(out, m + (off - base), len);
	return munmap(m, len + (off - base));
}

static int map_write(uint64_t off, uint64_t len, const uint8_t *in)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), base = off - off % pg;
	size_t mlen = len + (off - base);
	uint8_t *m = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			  (off_t)base);

	if (m == MAP_FAILED)
		return -1;
	memcpy(m + (off - base), in, len);
	if (msync(m, mlen, MS_SYNC)) {
		int e = errno;

		munmap(m, mlen);
		errno = e;
		return -1;
	}
	return munmap(m, mlen);
}

static int read_all(int f, uint64_t off, uint64_t len, uint8_t *out,
		    uint64_t *got)
{
	*got = 0;
	while (*got < len) {
		ssize_t n = pread(f, out + *got, len - *got,
				  (off_t)(off + *got));

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		*got += (uint64_t)n;
	}
	return 0;
}

static int write_all(int f, uint64_t off, uint64_t len, const uint8_t *in)
{
	for (uint64_t done = 0; done < len;) {
		ssize_t n = pwrite(f, in + done, len - done,
				   (off_t)(off + done));

		if (n <= 0)
			return -1;
		done += (uint64_t)n;
	}
	return 0;
}

/* Do one operation on this process's descriptors; what it read goes to
 * shared. The size after it is in a->n unless it read. */
static void do_op(const struct op *o, uint64_t opno, struct answer *a)
{
	struct stat st;
	uint64_t end = o->off + o->len;
	int mode;

	memset(a, 0, sizeof(*a));
	errno = 0;
	switch (o->kind) {
	case OP_READ:
		if (read_all(fd, o->off, o->len, shared, &a->n))
			fail_call(a, "pread");
		return;
	case OP_DREAD:
		if (read_all(dfd, o->off, o->len, shared, &a->n))
			fail_call(a, "pread O_DIRECT");
		return;
	case OP_MAPREAD:
		a->n = o->len;
		if (map_read(o->off, o->len, shared))
			fail_call(a, "mapped read");
		return;
	case OP_WRITE:
		make_data(wbuf, o->len, opno);
		if (write_all(fd, o->off, o->len, wbuf))
			fail_call(a, "pwrite");
		break;
	case OP_DWRITE:
		make_data(wbuf, o->len, opno);
		if (write_all(dfd, o->off, o->len, wbuf))
			fail_call(a, "pwrite O_DIRECT");
		break;
	case OP_MAPWRITE:
		make_data(wbuf, o->len, opno);
		if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < end &&
		    ftruncate(fd, (off_t)end))
			fail_call(a, "ftruncate before mapped write");
		else if (map_write(o->off, o->len, wbuf))
			fail_call(a, "mapped write");
		break;
	case OP_TRUNCATE:
		if (ftruncate(fd, (off_t)o->len))
			fail_call(a, "ftruncate");
		break;
	case OP_FALLOC:
		if (fallocate(fd, o->flag ? FALLOC_FL_KEEP_SIZE : 0,
			      (off_t)o->off, (off_t)o->len))
			fail_call(a, "fallocate");
		break;
	case OP_PUNCH:
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)o->off, (off_t)o->len))
			fail_call(a, "fallocate PUNCH_HOLE");
		break;
	case OP_ZERO:
		mode = FALLOC_FL_ZERO_RANGE | (o->flag ? FALLOC_FL_KEEP_SIZE : 0);
		if (fallocate(fd, mode, (off_t)o->off, (off_t)o->len))
			fail_call(a, "fallocate ZERO_RANGE");
		break;
	case OP_COPY: {
		loff_t in = (loff_t)o->off, out = (loff_t)o->dst;
		uint64_t left = o->len;

		while (left) {
			ssize_t n = copy_file_range(fd, &in, fd, &out, left, 0);

			if (n <= 0) {
				if (n == 0)
					errno = EIO;
				fail_call(a, "copy_file_range");
				break;
			}
			left -= (uint64_t)n;
		}
		break;
	}
	case OP_FSYNC:
		if (o->flag ? fdatasync(fd) : fsync(fd))
			fail_call(a, o->flag ? "fdatasync" : "fsync");
		break;
	case OP_REOPEN:	/* done by the driver, process by process */
	case OP_COUNT:
		break;
	}
	if (!a->err) {
		if (fstat(fd, &st))
			fail_call(a, "fstat");
		a->n = (uint64_t)st.st_size;
	}
}

/* ---- the second process ---- */

struct cmd {
	struct op op;
	uint64_t opno, data_seed;
	int what;	/* 0: an op, 1: close, 2: open on op.flag's mount,
			 * 3: exit */
};

static int to_child[2] = { -1, -1 }, from_child[2] = { -1, -1 };
static pid_t child, syncer;

static void child_main(void)
{
	struct cmd c;
	struct answer a;

	while (read(to_child[0], &c, sizeof(c)) == sizeof(c)) {
		memset(&a, 0, sizeof(a));
		data_seed = c.data_seed;
		if (c.what == 0)
			do_op(&c.op, c.opno, &a);
		else if (c.what == 1)
			close_file(&a);
		else if (c.what == 2)
			open_file(c.op.flag, &a);
		else
			break;
		if (write(from_child[1], &a, sizeof(a)) != sizeof(a))
			break;
	}
	_exit(0);
}

static void ask_child(const struct cmd *c, struct answer *a)
{
	if (write(to_child[1], c, sizeof(*c)) != sizeof(*c) ||
	    read(from_child[0], a, sizeof(*a)) != sizeof(*a)) {
		fprintf(stderr, "fsx: the second process is gone\n");
		exit(2);
	}
}

/* One process or the other does it. */
static void run_on(int proc, int what, const struct op *o, uint64_t opno,
		   struct answer *a)
{
	struct cmd c = { .op = *o, .opno = opno, .data_seed = data_seed,
			 .what = what };

	if (proc == 1) {
		ask_child(&c, a);
		return;
	}
	memset(a, 0, sizeof(*a));
	if (what == 0)
		do_op(o, opno, a);
	else if (what == 1)
		close_file(a);
	else
		open_file(o->flag, a);
}

static void start_child(void)
{
	if (pipe(to_child) || pipe(from_child)) {
		perror("fsx: pipe");
		exit(2);
	}
	child = fork();
	if (child < 0) {
		perror("fsx: fork");
		exit(2);
	}
	if (child == 0) {
		close(to_child[1]);
		close(from_child[0]);
		child_main();
	}
	close(to_child[0]);
	close(from_child[1]);
}

static void stop_child(void)
{
	struct cmd c = { .what = 3 };

	if (child <= 0)
		return;
	if (write(to_child[1], &c, sizeof(c)) != sizeof(c))
		kill(child, SIGKILL);
	close(to_child[1]);
	close(from_child[0]);
	waitpid(child, NULL, 0);
	child = 0;
}

/* -F: fsync the file in a loop, on descriptors of its own, until killed
 * (a run's fresh file is a new inode: each descriptor is used a while,
 * then closed, and the name opened again). */
static void start_syncer(void)
{
	syncer = fork();
	if (syncer < 0) {
		perror("fsx: fork");
		exit(2);
	}
	if (syncer > 0)
		return;
	for (;;) {
		int f = open(opt.path[0], O_RDWR);

		for (int i = 0; f >= 0 && i < 50; i++)
			fsync(f);
		if (f >= 0)
			close(f);
		else
			usleep(1000);	/* between runs: the file is remade */
	}
}

static void stop_syncer(void)
{
	if (syncer <= 0)
		return;
	kill(syncer, SIGKILL);
	waitpid(syncer, NULL, 0);
	syncer = 0;
}

/* ---- the log ---- */

static void format_op(const struct op *o, char *buf, size_t len)
{
	const char *name = op_names[o->kind];
	uint64_t last = o->off + o->len - 1;
	int n = 0;

	switch (o->kind) {
	case OP_TRUNCATE:
		n = snprintf(buf, len,
			     "TRUNCATE %s from 0x%" PRIx64 " to 0x%" PRIx64,
			     o->len < o->dst ? "DOWN" : "UP", o->dst, o->len);
		break;
	case OP_COPY:
		n = snprintf(buf, len,
			     "COPY 0x%" PRIx64 " thru 0x%" PRIx64
			     " (0x%" PRIx64 " bytes) to 0x%" PRIx64
			     " thru 0x%" PRIx64,
			     o->off, last, o->len, o->dst, o->dst + o->len - 1);
		break;
	case OP_FSYNC:
		n = snprintf(buf, len, "%s", o->flag ? "FDATASYNC" : "FSYNC");
		break;
	case OP_REOPEN:
		n = snprintf(buf, len, "REOPEN %d", o->flag);
		break;
	default:
		n = snprintf(buf, len,
			     "%s 0x%" PRIx64 " thru 0x%" PRIx64
			     " (0x%" PRIx64 " bytes)%s",
			     name, o->off, last, o->len,
			     (o->kind == OP_FALLOC || o->kind == OP_ZERO) &&
					     o->flag ? " KEEP_SIZE" : "");
	}
	if (opt.nprocs > 1 && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " [%d]", o->proc);
}

static void save_log(const char *why)
{
	char line[160];
	FILE *f = fopen(opt.log_path, "w");

	if (!f) {
		perror(opt.log_path);
		return;
	}
	fprintf(f, "# fsx log: %s\n# seed %" PRIu64 "\n", why, data_seed);
	for (uint64_t i = 0; i < nlogged; i++) {
		format_op(&ops[i], line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	fclose(f);
}

static void note_op(const struct op *o)
{
	if (nlogged == logcap) {
		logcap = logcap ? logcap * 2 : 1024;
		ops = realloc(ops, logcap * sizeof(*ops));
		if (!ops) {
			perror("fsx");
			exit(2);
		}
	}
	ops[nlogged++] = *o;
}

/* Parse one line of a log: 1, 0 to skip it, -1 if it is not an op. The
 * issue trackers' "N: " prefixes, fsx's HOLE/INTERIOR/EXTENDING notes
 * and "from X" of truncates are taken as they come. */
static int parse_op(const char *line, struct op *o)
{
	char name[16];
	uint64_t a, b, n, d, e;
	int k, used = 0;

	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '\n' || *line == '#')
		return 0;
	if (sscanf(line, "%*u:%n", &used) == 0 && used)
		line += used;
	if (sscanf(line, "%15s", name) != 1)
		return -1;
	memset(o, 0, sizeof(*o));
	o->proc = strstr(line, "[1]") != NULL;
	o->flag = strstr(line, "KEEP_SIZE") != NULL;
	if (!strcmp(name, "FSYNC") || !strcmp(name, "FDATASYNC")) {
		o->kind = OP_FSYNC;
		o->flag = name[1] == 'D';
		return 1;
	}
	if (!strcmp(name, "REOPEN") || !strcmp(name, "CLOSEOPEN")) {
		o->kind = OP_REOPEN;
		o->flag = sscanf(line, "%*s %d", &k) == 1 ? k : 0;
		return 1;
	}
	if (!strcmp(name, "TRUNCATE")) {
		const char *to = strstr(line, " to ");

		o->kind = OP_TRUNCATE;
		return to && sscanf(to, " to %" SCNx64, &o->len) == 1 ? 1 : -1;
	}
	for (k = 0; k < OP_COUNT; k++)
		if (!strcmp(name, op_names[k]))
			break;
	/* fsx prints a FALLOC's end one past its last byte */
	if (k == OP_COUNT ||
	    sscanf(line, "%*s %" SCNx64 " thru %" SCNx64 " (%" SCNx64, &a, &b,
		   &n) != 3 || b < a ||
	    (n != b - a + 1 && !(k == OP_FALLOC && n == b - a)))
		return -1;
	o->kind = (enum op_kind)k;
	o->off = a;
	o->len = n;
	if (o->kind == OP_COPY) {
		const char *to = strstr(line, ") to ");

		if (!to || sscanf(to, ") to %" SCNx64 " thru %" SCNx64, &d,
				  &e) != 2 || e - d + 1 != n)
			return -1;
		o->dst = d;
	}
	/* fsx's FALLOC keeps the size only when it says PAST_EOF */
	if (o->kind == OP_FALLOC && strstr(line, "PAST_EOF"))
		o->flag = 1;
	return 1;
}

/* ---- the model ---- */

static void model_apply(const struct op *o, uint64_t opno)
{
	uint64_t end = o->off + o->len;

	switch (o->kind) {
	case OP_WRITE:
	case OP_DWRITE:
	case OP_MAPWRITE:
		make_data(good + o->off, o->len, opno);
		if (end > good_size)
			good_size = end;
		break;
	case OP_TRUNCATE:
		if (o->len < good_size)
			memset(good + o->len, 0, good_size - o->len);
		good_size = o->len;
		break;
	case OP_FALLOC:
		if (!o->flag && end > good_size)
			good_size = end;
		break;
	case OP_PUNCH:
		if (o->off < good_size)
			memset(good + o->off, 0,
			       (end < good_size ? end : good_size) - o->off);
		break;
	case OP_ZERO:
		if (o->off < good_size)
			memset(good + o->off, 0,
			       (end < good_size ? end : good_size) - o->off);
		if (!o->flag && end > good_size)
			good_size = end;
		break;
	case OP_COPY:
		memmove(good + o->dst, good + o->off, o->len);
		if (o->dst + o->len > good_size)
			good_size = o->dst + o->len;
		break;
	default:
		break;
	}
}

static uint64_t align_down(uint64_t x, uint64_t a)
{
	return x - x % a;
}

/* A random operation that fits the file's bounds, or false if the kind
 * cannot be made now. */
static bool gen_op(enum op_kind k, struct op *o)
{
	uint64_t max = opt.maxsize, size = good_size;

	memset(o, 0, sizeof(*o));
	o->kind = k;
	o->proc = (int)rnd((uint64_t)opt.nprocs);
	switch (k) {
	case OP_READ:
	case OP_MAPREAD:
		if (!size)
			return false;
		o->off = rnd(size);
		o->len = 1 + rnd(opt.maxlen < size - o->off ? opt.maxlen :
							       size - o->off);
		return true;
	case OP_DREAD:
	case OP_DWRITE:
		o->off = align_down(rnd(max), DIO_ALIGN);
		o->len = DIO_ALIGN * (1 + rnd(opt.maxlen / DIO_ALIGN));
		if (o->off + o->len > max)
			o->len = max - o->off;
		/* a direct read past the end comes back short */
		return o->len > 0 && (k == OP_DWRITE || o->off < size);
	case OP_WRITE:
	case OP_MAPWRITE:
	case OP_FALLOC:
	case OP_PUNCH:
	case OP_ZERO:
		o->off = rnd(max);
		o->len = 1 + rnd(opt.maxlen);
		if (o->off + o->len > max)
			o->len = max - o->off;
		o->flag = (int)rnd(2);
		if (k == OP_PUNCH && o->off >= size)
			return false;
		return true;
	case OP_TRUNCATE:
		/* down or up, at sizes of no particular alignment */
		o->len = rnd(2) ? rnd(size + 1) : rnd(max + 1);
		return true;
	case OP_COPY: {
		uint64_t src, dst, len;

		if (size < 2)
			return false;
		src = rnd(size);
		len = 1 + rnd(opt.maxlen < size - src ? opt.maxlen :
							 size - src);
		dst = rnd(max - len + 1);
		if (dst < src + len && src < dst + len)	/* no overlap */
			return false;
		o->off = src;
		o->len = len;
		o->dst = dst;
		return true;
	}
	case OP_FSYNC:
		o->flag = (int)rnd(2);
		return true;
	case OP_REOPEN:
		o->flag = (int)rnd((uint64_t)opt.nmounts);
		return true;
	case OP_COUNT:
		break;
	}
	return false;
}

static enum op_kind draw_kind(void)
{
	unsigned total = 0, r;

	for (int k = 0; k < OP_COUNT; k++)
		total += opt.skip[k] ? 0 : op_weight[k];
	r = (unsigned)rnd(total);
	for (int k = 0; k < OP_COUNT; k++) {
		if (opt.skip[k])
			continue;
		if (r < op_weight[k])
			return (enum op_kind)k;
		r -= op_weight[k];
	}
	return OP_READ;
}

/* ---- checking ---- */

static void report(uint64_t opno, const char *fmt, ...)
{
	char line[160];
	va_list ap;

	fprintf(stderr, "fsx: seed %" PRIu64 ", operation %" PRIu64 ": ",
		data_seed, opno + 1);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfsx: the last operations:\n");
	for (uint64_t i = opno > 20 ? opno - 20 : 0; i <= opno && i < nlogged;
	     i++) {
		format_op(&ops[i], line, sizeof(line));
		fprintf(stderr, "  %6" PRIu64 ": %s\n", i + 1, line);
	}
	save_log("a difference");
	fprintf(stderr, "fsx: log in %s (replay: fsx -r %s FILE)\n",
		opt.log_path, opt.log_path);
}

/* Compare what was read at off with the model: true if equal. */
static bool check_bytes(uint64_t opno, const char *how, uint64_t off,
			uint64_t want, const struct answer *a)
{
	uint64_t expect = off >= good_size ? 0 :
		want < good_size - off ? want : good_size - off;
	uint64_t i, first, n = 0;

	if (a->n != expect) {
		report(opno, "%s at 0x%" PRIx64 " read 0x%" PRIx64
			     " bytes, expected 0x%" PRIx64 " (size 0x%" PRIx64 ")",
		       how, off, a->n, expect, good_size);
		return false;
	}
	for (i = 0; i < expect && shared[i] == good[off + i]; i++)
		;
	if (i == expect)
		return true;
	first = i;
	for (; i < expect; i++)
		n += shared[i] != good[off + i];
	report(opno, "%s read 0x%" PRIx64 " thru 0x%" PRIx64
		     ": 0x%" PRIx64 " bytes differ, the first at 0x%" PRIx64,
	       how, off, off + expect - 1, n, off + first);
	fprintf(stderr, "fsx: offset     good  got\n");
	for (i = first; i < expect && i < first + 16; i++)
		fprintf(stderr, "fsx: 0x%06" PRIx64 "   %02x    %02x%s\n",
			off + i, good[off + i], shared[i],
			shared[i] == good[off + i] ? "" : "  <");
	return false;
}

static bool call_ok(uint64_t opno, const struct op *o, const struct answer *a)
{
	char line[160];

	if (!a->err)
		return true;
	format_op(o, line, sizeof(line));
	report(opno, "%s: %s failed: %s", line, a->what, strerror(a->err));
	return false;
}

static bool check_answer(uint64_t opno, const struct op *o,
			 const struct answer *a)
{
	char line[160];

	if (!call_ok(opno, o, a))
		return false;
	if (o->kind == OP_READ || o->kind == OP_DREAD || o->kind == OP_MAPREAD)
		return check_bytes(opno, op_names[o->kind], o->off, o->len, a);
	if (a->n != good_size) {
		format_op(o, line, sizeof(line));
		report(opno, "after %s the size is 0x%" PRIx64
			     ", expected 0x%" PRIx64, line, a->n, good_size);
		return false;
	}
	return true;
}

/* Close every descriptor, open on mount m, and read the whole file back
 * (a close-to-open check when m is another mount). */
static bool reopen(uint64_t opno, const struct op *o)
{
	struct op whole = { .kind = OP_READ, .len = opt.maxsize };
	struct answer a;

	for (int p = opt.nprocs - 1; p >= 0; p--) {
		run_on(p, 1, o, opno, &a);
		if (!call_ok(opno, o, &a))
			return false;
	}
	for (int p = 0; p < opt.nprocs; p++) {
		run_on(p, 2, o, opno, &a);
		if (!call_ok(opno, o, &a))
			return false;
	}
	run_on(o->proc, 0, &whole, opno, &a);
	return call_ok(opno, &whole, &a) &&
	       check_bytes(opno, "whole file after reopen", 0, opt.maxsize,
			   &a);
}

/* ---- runs ---- */

/* A new file for each run; with two mounts the same inode emptied, since
 * a name's cache on the other mount need not follow a new inode at once. */
static bool fresh_file(void)
{
	struct answer a = { 0 };
	int f;

	if (opt.nmounts == 1)
		unlink(opt.path[0]);
	f = open(opt.path[0], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (f < 0 || close(f)) {
		perror(opt.path[0]);
		return false;
	}
	memset(good, 0, opt.maxsize);
	good_size = 0;
	nlogged = 0;
	for (int p = 0; p < opt.nprocs; p++) {
		struct op o = { .flag = 0 };

		run_on(p, 2, &o, 0, &a);
		if (a.err) {
			fprintf(stderr, "fsx: %s: %s\n", a.what,
				strerror(a.err));
			return false;
		}
	}
	return true;
}

static void end_run(void)
{
	struct answer a;
	struct op o = { .flag = 0 };

	for (int p = opt.nprocs - 1; p >= 0; p--)
		run_on(p, 1, &o, 0, &a);
}

/* Log one operation, apply it and check it: false on a difference. */
static bool step(const struct op *op)
{
	uint64_t opno = nlogged;
	struct op *o;
	struct answer a;

	note_op(op);
	o = &ops[opno];
	if (o->kind == OP_REOPEN)
		return reopen(opno, o);
	if (o->kind == OP_TRUNCATE)
		o->dst = good_size;
	run_on(o->proc, 0, o, opno, &a);
	model_apply(o, opno);
	return check_answer(opno, o, &a);
}

static bool fits(const struct op *o)
{
	uint64_t end = o->kind == OP_TRUNCATE ? o->len : o->off + o->len;

	if (o->kind == OP_COPY && o->dst + o->len > end)
		end = o->dst + o->len;
	return end <= opt.maxsize && o->proc < opt.nprocs &&
	       (o->kind != OP_REOPEN || o->flag < opt.nmounts);
}

static int run_random(uint64_t seed)
{
	rng_state = seed;
	data_seed = seed;
	if (!fresh_file())
		return 2;
	for (uint64_t i = 0; i < opt.nops; i++) {
		struct op o;

		while (!gen_op(draw_kind(), &o))
			;
		if (!step(&o))
			return 1;
	}
	end_run();
	return 0;
}

static int run_replay(FILE *f)
{
	char line[256];
	uint64_t lineno = 0;
	struct op o;

	rewind(f);
	data_seed = 1;
	if (!fresh_file())
		return 2;
	while (fgets(line, sizeof(line), f)) {
		int r;

		lineno++;
		if (sscanf(line, "# seed %" SCNu64, &data_seed) == 1)
			continue;
		r = parse_op(line, &o);
		if (r == 0)
			continue;
		if (r < 0 || !fits(&o)) {
			fprintf(stderr, "fsx: %s:%" PRIu64 ": %s%s\n",
				opt.replay, lineno,
				r < 0 ? "not an operation: " :
					"out of bounds (-S, -p, -b): ",
				line);
			return 2;
		}
		if (!step(&o))
			return 1;
	}
	end_run();
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fsx [-n OPS] [-s SEED] [-i RUNS] [-S MAXSIZE] "
		"[-L MAXLEN] [-p 1|2] [-b FILE2] [-F] [-x OPS] [-l LOG] [-q] "
		"FILE\n"
		"       fsx -r LOG [-i RUNS] [-p 1|2] [-b FILE2] [-F] FILE\n");
	exit(2);
}

static void skip_ops(char *list)
{
	for (char *s = strtok(list, ","); s; s = strtok(NULL, ",")) {
		int k;

		for (k = 0; k < OP_COUNT && strcmp(s, op_names[k]); k++)
			;
		if (k == OP_COUNT) {
			fprintf(stderr, "fsx: no operation %s\n", s);
			usage();
		}
		opt.skip[k] = true;
	}
}

int main(int argc, char **argv)
{
	char logbuf[4096];
	FILE *replay = NULL;
	int c, rc = 0;
	time_t t0 = time(NULL);

	opt.seed = (uint64_t)t0 ^ (uint64_t)getpid() << 16;
	while ((c = getopt(argc, argv, "n:s:i:S:L:p:b:Fx:l:r:q")) != -1) {
		switch (c) {
		case 'n': opt.nops = strtoull(optarg, NULL, 0); break;
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'i': opt.runs = strtoull(optarg, NULL, 0); break;
		case 'S': opt.maxsize = strtoull(optarg, NULL, 0); break;
		case 'L': opt.maxlen = strtoull(optarg, NULL, 0); break;
		case 'p': opt.nprocs = atoi(optarg); break;
		case 'b': opt.path[1] = optarg; opt.nmounts = 2; break;
		case 'F': opt.syncer = true; break;
		case 'x': skip_ops(optarg); break;
		case 'l': opt.log_path = optarg; break;
		case 'r': opt.replay = optarg; break;
		case 'q': opt.quiet = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || opt.nprocs < 1 || opt.nprocs > 2 ||
	    opt.maxsize < DIO_ALIGN || opt.maxsize % DIO_ALIGN ||
	    opt.maxlen < DIO_ALIGN || !opt.runs)
		usage();
	opt.path[0] = argv[optind];
	if (!opt.log_path) {
		snprintf(logbuf, sizeof(logbuf), "%s.fsxlog", opt.path[0]);
		opt.log_path = logbuf;
	}
	if (opt.replay && !(replay = fopen(opt.replay, "r"))) {
		perror(opt.replay);
		return 2;
	}
	good = calloc(1, opt.maxsize);
	shared = mmap(NULL, opt.maxsize, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (posix_memalign((void **)&wbuf, DIO_ALIGN, opt.maxsize) || !good ||
	    shared == MAP_FAILED) {
		perror("fsx");
		return 2;
	}
	/* O_DIRECT reads land in shared: it is page-aligned */
	if (opt.nprocs > 1)
		start_child();
	if (opt.syncer)
		start_syncer();
	for (uint64_t r = 0; r < opt.runs && rc == 0; r++) {
		rc = replay ? run_replay(replay) : run_random(opt.seed + r);
		if (rc == 0 && !opt.quiet)
			printf("fsx: %s %" PRIu64 ": %" PRIu64
			       " operations clean\n",
			       replay ? "replay" : "seed",
			       replay ? r + 1 : opt.seed + r, nlogged);
	}
	stop_child();
	stop_syncer();
	if (rc == 0)
		printf("fsx: %" PRIu64 " runs clean (%s%s%s%s) in %lds\n",
		       opt.runs, opt.nprocs > 1 ? "2 processes" : "1 process",
		       opt.nmounts > 1 ? ", 2 mounts" : "",
		       opt.syncer ? ", a syncer" : "",
		       replay ? ", replayed" : "", (long)(time(NULL) - t0));
	return rc;
}
