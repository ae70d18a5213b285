/* posix_cases DIR: run POSIX cases inside DIR and print a transcript.
 *
 * Every line is "case: step = result", where result is a value or an
 * errno name, never an inode number, a device or an absolute time, so the
 * transcript of a local directory and of a ClaudeFS mount can be compared
 * line by line (tests/posix/run does). Run as root: permission cases
 * switch the effective user and groups of this process.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *cur = "";

static const char *errname(int e)
{
	static char buf[32];
	const char *n = strerrorname_np(e);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

/* Print the outcome of a call returning -1 and errno on failure. */
static long r(const char *step, long rc)
{
	if (rc < 0)
		printf("%s: %s = %s\n", cur, step, errname(errno));
	else
		printf("%s: %s = ok\n", cur, step);
	return rc;
}

static void v(const char *step, const char *fmt, ...)
{
	va_list ap;

	printf("%s: %s = ", cur, step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void put(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, strlen(data)) < 0)
		perror(path);
	close(fd);
}

static const char *get(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	close(fd);
	if (n < 0)
		return errname(errno);
	buf[n] = '\0';
	return buf;
}

static struct stat st(const char *path)
{
	struct stat s;

	memset(&s, 0, sizeof(s));
	lstat(path, &s);
	return s;
}

static void as_root(void);

/* Switch the effective user (from root: from another user it would fail). */
static void as_user(uid_t uid, gid_t gid, int ngroups, const gid_t *groups)
{
	as_root();
	setgroups((size_t)ngroups, groups);
	setegid(gid);
	seteuid(uid);
}

static void as_root(void)
{
	seteuid(0);
	setegid(0);
	setgroups(0, NULL);
}

static void case_open_flags(void)
{
	int fd, fd2;

	cur = "open";
	r("creat excl new", fd = open("o1", O_CREAT | O_EXCL | O_WRONLY, 0644));
	close(fd);
	r("creat excl existing", open("o1", O_CREAT | O_EXCL | O_WRONLY, 0644));
	put("o1", "0123456789");
	r("trunc", fd = open("o1", O_WRONLY | O_TRUNC));
	close(fd);
	v("size after trunc", "%ld", (long)st("o1").st_size);
	fd = open("o1", O_WRONLY | O_APPEND);
	fd2 = open("o1", O_WRONLY | O_APPEND);
	r("append 1", write(fd, "aaa", 3));
	r("append 2", write(fd2, "bb", 2));
	r("append 3", write(fd, "c", 1));
	close(fd);
	close(fd2);
	v("appended", "%s", get("o1"));
	{
		/* two processes appending at once: no record lost or torn */
		char rec[64], buf[64];
		int ok = 1;

		fd = open("o2", O_CREAT | O_WRONLY | O_TRUNC, 0644);
		close(fd);
		for (int p = 0; p < 2; p++) {
			if (fork() == 0) {
				int afd = open("o2", O_WRONLY | O_APPEND);

				memset(rec, 'a' + p, sizeof(rec));
				rec[sizeof(rec) - 1] = '\n';
				for (int i = 0; i < 300; i++)
					if (write(afd, rec, sizeof(rec)) !=
					    (ssize_t)sizeof(rec))
						_exit(1);
				_exit(0);
			}
		}
		for (int p = 0; p < 2; p++) {
			int status;

			wait(&status);
			ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
		}
		v("two appenders: size", "%ld", (long)st("o2").st_size);
		fd = open("o2", O_RDONLY);
		while (read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
			for (size_t i = 1; i + 1 < sizeof(buf); i++)
				ok &= buf[i] == buf[0];
		close(fd);
		v("two appenders: records whole", "%d", ok);
	}
	r("directory on file", open("o1", O_RDONLY | O_DIRECTORY));
	symlink("o1", "o1link");
	r("nofollow on symlink", open("o1link", O_RDONLY | O_NOFOLLOW));
	r("open missing", open("missing", O_RDONLY));
	r("write to dir", open(".", O_WRONLY));
	r("creat in missing dir", open("nodir/x", O_CREAT | O_WRONLY, 0644));
	r("path through file", open("o1/x", O_RDONLY));
}

static void case_names(void)
{
	char name[300];
	int fd;

	cur = "names";
	memset(name, 'n', sizeof(name));
	name[255] = '\0';
	r("255 bytes", fd = open(name, O_CREAT | O_WRONLY, 0644));
	close(fd);
	name[255] = 'n';
	name[256] = '\0';
	r("256 bytes", open(name, O_CREAT | O_WRONLY, 0644));
	/* every call taking a name refuses one too long, also where a
	 * client answers lookups from a directory listing (after many
	 * lookups in one directory) */
	mkdir("long", 0755);
	for (int i = 0; i < 40; i++) {
		char probe[32];

		snprintf(probe, sizeof(probe), "long/none%d", i);
		access(probe, F_OK);
	}
	{
		char path[310] = "long/";

		memcpy(path + 5, name, 257);
		r("256 bytes: stat", access(path, F_OK));
		r("256 bytes: rmdir", rmdir(path));
		r("256 bytes: unlink", unlink(path));
		r("256 bytes: mkdir", mkdir(path, 0755));
		r("256 bytes: mknod", mknod(path, S_IFIFO | 0644, 0));
		r("256 bytes: symlink", symlink("x", path));
		put("long/x", "x");
		r("256 bytes: link", link("long/x", path));
		r("256 bytes: rename to", rename("long/x", path));
		r("256 bytes: rename from", rename(path, "long/y"));
		r("256 bytes: open", open(path, O_RDONLY));
	}
	r("odd bytes", fd = open("\x01\x7f\xfe\xff \t\n", O_CREAT | O_WRONLY, 0644));
	close(fd);
	v("odd bytes listed", "%d", access("\x01\x7f\xfe\xff \t\n", F_OK) == 0);
	{
		/* one name holding every byte value but '/' and NUL */
		char all[256];
		struct dirent *de;
		int k = 0, seen = 0;
		DIR *d;

		for (int b = 1; b < 256; b++)
			if (b != '/')
				all[k++] = (char)b;
		all[k] = '\0';
		r("every byte value", fd = open(all, O_CREAT | O_WRONLY, 0644));
		close(fd);
		d = opendir(".");
		while (d && (de = readdir(d)))
			seen += !strcmp(de->d_name, all);
		if (d)
			closedir(d);
		v("every byte value listed", "%d", seen);
		r("every byte value unlinked", unlink(all));
	}
}

static void case_dirs(void)
{
	cur = "dirs";
	r("mkdir", mkdir("d", 0755));
	r("mkdir existing", mkdir("d", 0755));
	r("mkdir sub", mkdir("d/s1", 0755));
	r("mkdir sub2", mkdir("d/s2", 0755));
	v("nlink with 2 subdirs", "%ld", (long)st("d").st_nlink);
	put("d/f", "x");
	r("rmdir non-empty", rmdir("d"));
	r("rmdir file", rmdir("d/f"));
	r("unlink dir", unlink("d/s1"));
	r("rmdir dot", rmdir("d/s1/."));
	r("rmdir", rmdir("d/s2"));
	v("nlink after rmdir", "%ld", (long)st("d").st_nlink);
	r("link dir", link("d", "dlink"));
	{
		/* a directory removed while open: its attributes stay */
		struct stat s;
		int fd;

		mkdir("gone", 0755);
		fd = open("gone", O_RDONLY | O_DIRECTORY);
		r("rmdir an open dir", rmdir("gone"));
		r("fstat it", fstat(fd, &s));
		v("its nlink", "%ld", (long)s.st_nlink);
		r("create in it", openat(fd, "x", O_CREAT | O_WRONLY, 0644));
		close(fd);
	}
}

static void case_rename(void)
{
	cur = "rename";
	put("a", "A");
	put("b", "B");
	mkdir("e1", 0755);
	mkdir("e2", 0755);
	mkdir("full", 0755);
	put("full/x", "x");
	r("file over file", rename("a", "b"));
	v("content", "%s", get("b"));
	v("source gone", "%d", access("a", F_OK));
	r("dir over empty dir", rename("e1", "e2"));
	r("dir over full dir", rename("e2", "full"));
	r("file over dir", rename("b", "full"));
	r("dir over file", rename("full", "b"));
	r("into own subtree", rename("full", "full/sub"));
	put("c", "C");
	r("noreplace", renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_NOREPLACE));
	r("exchange", renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_EXCHANGE));
	v("exchanged", "%s%s", get("b"), get("c"));
	r("exchange missing", renameat2(AT_FDCWD, "c", AT_FDCWD, "zz", RENAME_EXCHANGE));
	r("missing source", rename("nothing", "x"));
	link("b", "b2");
	r("onto own hard link", rename("b", "b2"));
	v("both links remain", "%d%d", access("b", F_OK), access("b2", F_OK));
}

static void case_links(void)
{
	char buf[64];
	ssize_t n;
	int fd;

	cur = "links";
	put("f", "data");
	r("link", link("f", "g"));
	r("link existing", link("f", "g"));
	v("nlink", "%ld", (long)st("f").st_nlink);
	r("unlink one", unlink("f"));
	v("nlink after", "%ld", (long)st("g").st_nlink);
	v("other name reads", "%s", get("g"));
	r("symlink relative", symlink("g", "rel"));
	r("symlink absolute-style", symlink("/nonexistent/target", "abs"));
	r("symlink dangling", symlink("missing", "dang"));
	r("symlink existing", symlink("g", "rel"));
	n = readlink("rel", buf, sizeof(buf));
	v("readlink", "%.*s", (int)(n > 0 ? n : 0), buf);
	v("follow rel", "%s", get("rel"));
	r("stat dangling", stat("dang", &(struct stat){ 0 }));
	r("lstat dangling", lstat("dang", &(struct stat){ 0 }));
	symlink("loop2", "loop1");
	symlink("loop1", "loop2");
	r("loop", open("loop1", O_RDONLY));
	r("readlink on file", readlink("g", buf, sizeof(buf)));
	v("symlink size", "%ld", (long)st("rel").st_size);
	fd = open("g", O_RDONLY);
	r("unlink open", unlink("g"));
	v("read after unlink", "%zd", read(fd, buf, sizeof(buf)));
	close(fd);
}

static void case_sizes(void)
{
	char buf[16];
	int fd;

	cur = "sizes";
	put("t", "0123456789");
	r("truncate down", truncate("t", 4));
	v("after down", "%s", get("t"));
	r("truncate up", truncate("t", 8));
	fd = open("t", O_RDONLY);
	v("up reads", "%zd", read(fd, buf, sizeof(buf)));
	v("tail is zeros", "%d", buf[4] == 0 && buf[7] == 0);
	close(fd);
	fd = open("h", O_CREAT | O_RDWR, 0644);
	r("write past hole", pwrite(fd, "end", 3, 1 << 20));
	v("hole size", "%ld", (long)st("h").st_size);
	r("read in hole", pread(fd, buf, 8, 4096));
	v("hole zeros", "%d", buf[0] == 0 && buf[7] == 0);
	r("fallocate keep size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 21));
	v("size kept", "%ld", (long)st("h").st_size);
	r("fallocate extend", fallocate(fd, 0, 0, (1 << 20) + 100));
	v("size extended", "%ld", (long)st("h").st_size);
	r("punch", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 20, 2));
	r("read punched", pread(fd, buf, 3, 1 << 20));
	v("punched", "%d%d%c", buf[0], buf[1], buf[2]);
	r("punch without keep size", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10));
	close(fd);
	r("truncate dir", truncate(".", 0));
	r("negative truncate", truncate("t", -1));
}

static void case_seek(void)
{
	int fd;

	cur = "seek";
	fd = open("s", O_CREAT | O_RDWR, 0644);
	r("write past a hole", pwrite(fd, "end", 3, 1 << 20));
	v("data from 0", "%ld", (long)lseek(fd, 0, SEEK_DATA));
	v("hole from 0", "%ld", (long)lseek(fd, 0, SEEK_HOLE));
	v("hole from the data", "%ld", (long)lseek(fd, 1 << 20, SEEK_HOLE));
	r("data past the end", lseek(fd, 2 << 20, SEEK_DATA));
	r("hole past the end", lseek(fd, 2 << 20, SEEK_HOLE));
	pwrite(fd, "a", 1, 0);
	v("data from 0 after a write at 0", "%ld", (long)lseek(fd, 0, SEEK_DATA));
	v("hole after the first block", "%ld", (long)lseek(fd, 0, SEEK_HOLE));
	ftruncate(fd, 3 << 20);
	v("data after truncate up", "%ld", (long)lseek(fd, (1 << 20) + 3, SEEK_DATA));
	v("hole in the extended tail", "%ld", (long)lseek(fd, (1 << 20) + 4096, SEEK_HOLE));
	v("hole after the partial block", "%ld", (long)lseek(fd, (1 << 20) + 1, SEEK_HOLE));
	fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);
	v("data after punching the first block", "%ld", (long)lseek(fd, 0, SEEK_DATA));
	close(fd);
}

static int ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

static void case_times(void)
{
	struct timespec t[2] = { { 1000, 123456789 }, { 2000, 987654321 } };
	struct stat a, b;
	int fd;

	cur = "times";
	put("f", "x");
	r("utimensat", utimensat(AT_FDCWD, "f", t, 0));
	a = st("f");
	v("atime", "%ld.%09ld", a.st_atim.tv_sec, a.st_atim.tv_nsec);
	v("mtime", "%ld.%09ld", a.st_mtim.tv_sec, a.st_mtim.tv_nsec);
	t[0].tv_nsec = UTIME_OMIT;
	t[1] = (struct timespec){ 3000, 5 };
	r("utimensat omit atime", utimensat(AT_FDCWD, "f", t, 0));
	b = st("f");
	v("atime kept", "%d", b.st_atim.tv_sec == 1000);
	v("mtime set", "%ld.%09ld", b.st_mtim.tv_sec, b.st_mtim.tv_nsec);
	a = st("f");
	usleep(20000);
	fd = open("f", O_WRONLY);
	write(fd, "y", 1);
	close(fd);
	b = st("f");
	v("write moves mtime", "%d", ts_after(b.st_mtim, a.st_mtim));
	v("write moves ctime", "%d", ts_after(b.st_ctim, a.st_ctim));
	a = b;
	usleep(20000);
	chmod("f", 0600);
	b = st("f");
	v("chmod keeps mtime", "%d", !ts_after(b.st_mtim, a.st_mtim));
	v("chmod moves ctime", "%d", ts_after(b.st_ctim, a.st_ctim));
	a = st(".");
	usleep(20000);
	put("g", "z");
	b = st(".");
	v("create moves dir mtime", "%d", ts_after(b.st_mtim, a.st_mtim));
	a = b;
	usleep(20000);
	rename("g", "g2");
	b = st(".");
	v("rename moves dir mtime", "%d", ts_after(b.st_mtim, a.st_mtim));
	r("utimensat now", utimensat(AT_FDCWD, "f", NULL, 0));
	v("now is recent", "%d", st("f").st_mtim.tv_sec > 1700000000);
}

static void case_atime(void)
{
	struct timespec t[2] = { { 1000, 0 }, { 2000, 0 } };
	struct stat a, b;

	cur = "atime";
	put("f", "some data");
	r("set atime before mtime", utimensat(AT_FDCWD, "f", t, 0));
	a = st("f");
	get("f");
	b = st("f");
	v("read moves an old atime (relatime)", "%d", ts_after(b.st_atim, a.st_atim));
	v("read keeps mtime", "%d", b.st_mtim.tv_sec == 2000);
	a = b;
	get("f");
	b = st("f");
	v("second read leaves a fresh atime", "%d", !ts_after(b.st_atim, a.st_atim));
}

static void case_modes(void)
{
	gid_t g = 2000;
	int fd;

	cur = "modes";
	put("f", "x");
	r("chmod", chmod("f", 04755));
	v("mode", "%o", st("f").st_mode & 07777);
	r("chown", chown("f", 1000, 1000));
	v("suid cleared by chown", "%o", st("f").st_mode & 07777);
	chmod("f", 06777);
	as_user(1000, 1000, 1, &g);
	fd = open("f", O_WRONLY);
	r("write as owner", write(fd, "y", 1));
	close(fd);
	as_root();
	v("setuid cleared by write", "%o", st("f").st_mode & 07777);
	mkdir("sg", 02777);
	chmod("sg", 02777);
	chown("sg", 0, 2000);
	as_user(1001, 1001, 0, NULL);
	r("create in setgid dir", fd = open("sg/x", O_CREAT | O_WRONLY, 0644));
	close(fd);
	r("mkdir in setgid dir", mkdir("sg/d", 0755));
	as_root();
	v("group inherited", "%d", (int)st("sg/x").st_gid);
	v("subdir setgid", "%o", st("sg/d").st_mode & 07777);
	mkdir("sticky", 01777);
	chmod("sticky", 01777);
	put("sticky/roots", "r");
	as_user(1001, 1001, 0, NULL);
	r("unlink other's in sticky", unlink("sticky/roots"));
	r("rename other's in sticky", rename("sticky/roots", "sticky/x"));
	r("create own in sticky", fd = open("sticky/mine", O_CREAT | O_WRONLY, 0644));
	close(fd);
	r("unlink own in sticky", unlink("sticky/mine"));
	as_root();
}

/* A write, truncate or chown by a user other than root clears set-user-ID,
 * and set-group-ID where the group may execute (otherwise anyone who may
 * write a set-user-ID file could plant code that runs as its owner). */
static void case_killpriv(void)
{
	int fd;

	cur = "killpriv";
	put("f", "x");
	chown("f", 1000, 1000);
	chmod("f", 06777);
	as_user(1001, 1001, 0, NULL);
	fd = open("f", O_WRONLY);
	r("write by another user", write(fd, "y", 1));
	close(fd);
	as_root();
	v("suid and sgid cleared by another's write", "%o",
	  st("f").st_mode & 07777);
	chmod("f", 06777);
	as_user(1001, 1001, 0, NULL);
	r("truncate by another user", truncate("f", 0));
	as_root();
	v("cleared by another's truncate", "%o", st("f").st_mode & 07777);
	chmod("f", 06777);
	as_user(1001, 1001, 0, NULL);
	fd = open("f", O_WRONLY);
	r("ftruncate by another user", ftruncate(fd, 1));
	close(fd);
	as_root();
	v("cleared by another's ftruncate", "%o", st("f").st_mode & 07777);
	chmod("f", 02766);	/* no group execute */
	{
		gid_t in_group = 1000;

		as_user(1001, 1001, 1, &in_group);
		fd = open("f", O_WRONLY);
		r("write to sgid without group exec", write(fd, "z", 1));
		close(fd);
		as_root();
	}
	v("sgid without group exec kept by a write from its group", "%o",
	  st("f").st_mode & 07777);
	chmod("f", 04755);
	fd = open("f", O_WRONLY);
	r("write by root", write(fd, "w", 1));
	close(fd);
	v("root's write keeps suid", "%o", st("f").st_mode & 07777);
	put("g", "x");
	chown("g", 1000, 1000);
	chmod("g", 06755);
	{
		gid_t groups[] = { 1000, 2000 };

		as_user(1000, 1000, 2, groups);
		r("owner chgrp", chown("g", (uid_t)-1, 2000));
		as_root();
	}
	v("cleared by the owner's chgrp", "%o", st("g").st_mode & 07777);
	r("chmod by another user is still refused",
	  (as_user(1001, 1001, 0, NULL), chmod("f", 0755)));
	as_root();
}

/* utimensat: times set to now by anyone who may write the file; explicit
 * times only by the owner (or root). */
static void case_utimes_perm(void)
{
	struct timespec t[2] = { { 1000, 0 }, { 2000, 0 } };
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct timespec omit[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };

	cur = "utimes";
	put("w", "x");
	chown("w", 1000, 1000);
	chmod("w", 0666);
	put("ro", "x");
	chown("ro", 1000, 1000);
	chmod("ro", 0644);
	as_user(1001, 1001, 0, NULL);
	r("now (NULL) by a writer", utimensat(AT_FDCWD, "w", NULL, 0));
	r("UTIME_NOW both by a writer", utimensat(AT_FDCWD, "w", now, 0));
	r("UTIME_NOW and OMIT by a writer", utimensat(AT_FDCWD, "w", omit, 0));
	r("explicit by a writer", utimensat(AT_FDCWD, "w", t, 0));
	r("now by a reader", utimensat(AT_FDCWD, "ro", NULL, 0));
	r("explicit by a reader", utimensat(AT_FDCWD, "ro", t, 0));
	{
		int fd = open("w", O_WRONLY);

		/* a punch moves mtime for a writer who does not own the file */
		r("punch by a writer",
		  fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1));
		close(fd);
	}
	as_user(1000, 1000, 0, NULL);
	r("explicit by the owner", utimensat(AT_FDCWD, "ro", t, 0));
	as_root();
	v("owner's times", "%ld %ld", (long)st("ro").st_atim.tv_sec,
	  (long)st("ro").st_mtim.tv_sec);
}

static void case_perms(void)
{
	gid_t groups[] = { 3000 };
	int fd;

	cur = "perms";
	mkdir("priv", 0700);
	put("priv/s", "secret");
	put("r600", "x");
	chmod("r600", 0600);
	put("g640", "x");
	chmod("g640", 0640);
	chown("g640", 0, 3000);
	mkdir("ro", 0555);
	chmod("ro", 0555);
	as_user(1000, 1000, 1, groups);
	r("read in 0700 dir", open("priv/s", O_RDONLY));
	r("stat in 0700 dir", stat("priv/s", &(struct stat){ 0 }));
	r("list 0700 dir", (long)(opendir("priv") ? 0 : -1));
	r("read 0600 other's", open("r600", O_RDONLY));
	r("read 0640 via group", fd = open("g640", O_RDONLY));
	close(fd);
	r("write 0640 via group", open("g640", O_WRONLY));
	r("create in 0555", open("ro/x", O_CREAT | O_WRONLY, 0644));
	r("mkdir in 0555", mkdir("ro/d", 0755));
	r("chmod other's", chmod("r600", 0777));
	r("chown to self", chown("r600", 1000, 1000));
	r("utime other's", utimensat(AT_FDCWD, "r600", NULL, 0));
	r("access R", access("g640", R_OK));
	r("access W", access("g640", W_OK));
	r("access X", access("g640", X_OK));
	as_root();
	r("root reads 0600", fd = open("r600", O_RDONLY));
	close(fd);
	r("root exec no x bit", access("r600", X_OK));
}

static void case_xattrs(void)
{
	char buf[64];
	ssize_t n;

	cur = "xattrs";
	put("f", "x");
	r("set", setxattr("f", "user.a", "value", 5, 0));
	r("create existing", setxattr("f", "user.a", "v", 1, XATTR_CREATE));
	r("replace missing", setxattr("f", "user.b", "v", 1, XATTR_REPLACE));
	r("replace", setxattr("f", "user.a", "longer value", 12, XATTR_REPLACE));
	n = getxattr("f", "user.a", buf, sizeof(buf));
	v("get", "%.*s", (int)(n > 0 ? n : 0), buf);
	v("get size only", "%zd", getxattr("f", "user.a", NULL, 0));
	r("get too small", getxattr("f", "user.a", buf, 3));
	r("get missing", getxattr("f", "user.zz", buf, sizeof(buf)));
	setxattr("f", "user.b", "", 0, 0);
	v("empty value", "%zd", getxattr("f", "user.b", buf, sizeof(buf)));
	v("list size", "%zd", listxattr("f", NULL, 0));
	r("list too small", listxattr("f", buf, 3));
	r("remove", removexattr("f", "user.a"));
	r("remove missing", removexattr("f", "user.a"));
	r("trusted as root", setxattr("f", "trusted.t", "1", 1, 0));
	r("unknown namespace", setxattr("f", "bogus.t", "1", 1, 0));
	symlink("f", "l");
	r("user xattr on symlink", lsetxattr("l", "user.a", "1", 1, 0));
	as_user(1000, 1000, 0, NULL);
	r("set on other's file", setxattr("f", "user.c", "1", 1, 0));
	r("trusted as user", getxattr("f", "trusted.t", buf, sizeof(buf)));
	as_root();
}

/* An ACL in the Linux xattr format from {tag, perm, id} triples. */
static size_t acl(unsigned char *buf, const unsigned (*e)[3], int n)
{
	buf[0] = 2;
	buf[1] = buf[2] = buf[3] = 0;
	for (int i = 0; i < n; i++) {
		unsigned char *p = buf + 4 + 8 * i;

		p[0] = (unsigned char)e[i][0];
		p[1] = (unsigned char)(e[i][0] >> 8);
		p[2] = (unsigned char)e[i][1];
		p[3] = 0;
		memcpy(p + 4, &e[i][2], 4);
	}
	return 4 + 8 * (size_t)n;
}

/* The perm of the entry with this tag in a stored ACL, or -1. */
static int acl_perm(const char *path, const char *name, unsigned tag)
{
	unsigned char buf[512];
	ssize_t n = getxattr(path, name, buf, sizeof(buf));

	for (ssize_t i = 4; i + 8 <= n; i += 8)
		if (buf[i] == tag)
			return buf[i + 2];
	return -1;
}

static void case_acl(void)
{
	static const unsigned ext[][3] = { { 1, 6, 0 }, { 2, 6, 1000 },
					   { 4, 4, 0 },	 { 0x10, 6, 0 },
					   { 0x20, 0, 0 } };
	static const unsigned min[][3] = { { 1, 7, 0 }, { 4, 5, 0 },
					   { 0x20, 0, 0 } };
	static const unsigned def[][3] = { { 1, 7, 0 }, { 2, 7, 1000 },
					   { 4, 5, 0 },	 { 0x10, 7, 0 },
					   { 0x20, 5, 0 } };
	unsigned char buf[256];
	size_t n;
	int fd;

	cur = "acl";
	put("f", "x");
	chmod("f", 0640);
	n = acl(buf, ext, 5);
	r("set access acl", setxattr("f", "system.posix_acl_access", buf, n, 0));
	v("mode follows the acl mask", "%o", st("f").st_mode & 07777);
	v("stored size", "%zd", getxattr("f", "system.posix_acl_access", NULL, 0));
	as_user(1000, 1000, 0, NULL);
	r("named user opens rw", fd = open("f", O_RDWR));
	close(fd);
	as_user(1001, 1001, 0, NULL);
	r("other user opens r", open("f", O_RDONLY));
	as_root();
	r("chmod 600", chmod("f", 0600));
	v("mask after chmod", "%d", acl_perm("f", "system.posix_acl_access", 0x10));
	as_user(1000, 1000, 0, NULL);
	r("named user after chmod", open("f", O_RDWR));
	as_root();
	n = acl(buf, min, 3);
	r("set minimal acl", setxattr("f", "system.posix_acl_access", buf, n, 0));
	v("mode from minimal acl", "%o", st("f").st_mode & 07777);
	r("minimal acl not kept", getxattr("f", "system.posix_acl_access", buf, sizeof(buf)));
	n = acl(buf, def, 5);
	r("default acl on a file", setxattr("f", "system.posix_acl_default", buf, n, 0));
	mkdir("d", 0755);
	r("default acl on a dir", setxattr("d", "system.posix_acl_default", buf, n, 0));
	r("create under it", fd = open("d/new", O_CREAT | O_WRONLY, 0666));
	close(fd);
	v("inherited mode ignores umask", "%o", st("d/new").st_mode & 07777);
	v("inherited access acl: named user", "%d", acl_perm("d/new", "system.posix_acl_access", 2));
	r("new file has no default acl", getxattr("d/new", "system.posix_acl_default", buf, sizeof(buf)));
	r("mkdir under it", mkdir("d/sub", 0777));
	v("subdir mode", "%o", st("d/sub").st_mode & 07777);
	v("subdir inherits the default acl", "%d", acl_perm("d/sub", "system.posix_acl_default", 2));
	mkdir("plain", 0777);
	v("no default acl: umask applies", "%o", st("plain").st_mode & 07777);
	as_user(1001, 1001, 0, NULL);
	r("non-owner sets an acl", setxattr("d", "system.posix_acl_access", buf, n, 0));
	as_root();
	buf[0] = 9;
	r("malformed acl", setxattr("d", "system.posix_acl_access", buf, n, 0));
	r("remove default acl", removexattr("d", "system.posix_acl_default"));
}

static void case_mmap(void)
{
	char buf[32];
	char *p;
	int fd;

	cur = "mmap";
	put("m", "................");
	fd = open("m", O_RDWR);
	p = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	v("mapped", "%d", p != MAP_FAILED);
	if (p != MAP_FAILED) {
		memcpy(p + 4, "MMAP", 4);
		r("msync", msync(p, 16, MS_SYNC));
		munmap(p, 16);
	}
	close(fd);
	v("read sees mmap write", "%s", get("m"));
	memset(buf, 0, sizeof(buf));
}

static void case_locks(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 10 };
	int fd, status;
	pid_t pid;

	cur = "locks";
	put("lk", "0123456789");
	fd = open("lk", O_RDWR);
	r("setlk", fcntl(fd, F_SETLK, &fl));
	r("flock", flock(fd, LOCK_EX | LOCK_NB));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd2 = open("lk", O_RDWR);
		struct flock q = fl;

		r("child setlk conflicting", fcntl(fd2, F_SETLK, &q));
		q.l_type = F_WRLCK;
		fcntl(fd2, F_GETLK, &q);
		v("child getlk sees", "%s", q.l_type == F_WRLCK ? "write lock" : "none");
		r("child flock conflicting", flock(fd2, LOCK_EX | LOCK_NB));
		q.l_start = 20;
		r("child setlk elsewhere", fcntl(fd2, F_SETLK, &q));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	close(fd);
	{
		/* OFD locks belong to the open file, not the process: two
		 * descriptors of one process conflict */
		struct flock ofd = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				     .l_start = 0, .l_len = 5 };
		int a = open("lk", O_RDWR), b = open("lk", O_RDWR);

		r("ofd setlk", fcntl(a, F_OFD_SETLK, &ofd));
		r("ofd setlk from a second open", fcntl(b, F_OFD_SETLK, &ofd));
		ofd.l_type = F_WRLCK;
		fcntl(b, F_OFD_GETLK, &ofd);
		v("ofd getlk sees", "%s", ofd.l_type == F_WRLCK ? "write lock" : "none");
		close(a);
		ofd.l_type = F_WRLCK;
		r("ofd setlk after the first closes", fcntl(b, F_OFD_SETLK, &ofd));
		close(b);
	}
}

static void case_readdir(void)
{
	struct dirent *de;
	int n = 0, dots = 0;
	DIR *d;

	cur = "readdir";
	mkdir("rd", 0755);
	for (int i = 0; i < 300; i++) {
		char name[32];

		snprintf(name, sizeof(name), "rd/e%d", i);
		put(name, "");
	}
	d = opendir("rd");
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			dots++;
		else
			n++;
	}
	closedir(d);
	v("entries", "%d", n);
	v("dot entries", "%d", dots);

	/* telldir/seekdir come back to the same entry; rewinddir sees a
	 * name added meanwhile */
	d = opendir("rd");
	for (int i = 0; i < 150 && readdir(d); i++)
		;
	long pos = telldir(d);
	char first[256] = "";
	int rest = 0, again = 0;

	if ((de = readdir(d)))
		snprintf(first, sizeof(first), "%s", de->d_name);
	for (rest = 1; readdir(d); rest++)
		;
	seekdir(d, pos);
	de = readdir(d);
	v("seekdir resumes at the same entry", "%d",
	  de && first[0] && !strcmp(de->d_name, first));
	for (again = 1; readdir(d); again++)
		;
	v("entries after seekdir as before", "%d", again == rest);
	put("rd/late", "");
	rewinddir(d);
	for (n = 0; readdir(d); n++)
		;
	v("entries after rewinddir", "%d", n);
	closedir(d);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "open", case_open_flags }, { "names", case_names },
	{ "dirs", case_dirs },	     { "rename", case_rename },
	{ "links", case_links },     { "sizes", case_sizes },
	{ "seek", case_seek },
	{ "times", case_times },     { "atime", case_atime },
	{ "modes", case_modes },     { "killpriv", case_killpriv },
	{ "utimes", case_utimes_perm },
	{ "perms", case_perms },     { "xattrs", case_xattrs },
	{ "acl", case_acl },
	{ "mmap", case_mmap },	     { "locks", case_locks },
	{ "readdir", case_readdir },
};

/* posix_cases --tmpfile DIR: whether O_TMPFILE works there (a file
 * system may refuse it, but only with EOPNOTSUPP). */
static int probe_tmpfile(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_WRONLY, 0600);

	if (fd < 0) {
		printf("%s\n", errno == EOPNOTSUPP ? "EOPNOTSUPP" : errname(errno));
		return 0;
	}
	printf("%s\n", write(fd, "x", 1) == 1 ? "supported" : errname(errno));
	close(fd);
	return 0;
}

/* Lock helpers for tests across mounts:
 *   --hold FILE START LEN SECONDS   write-lock a range, hold it, exit
 *   --try FILE START LEN            try it once: prints ok or EAGAIN
 *   --wait FILE START LEN           F_SETLKW: prints ok once granted */
static int lock_helper(const char *mode, char **a)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = atol(a[1]), .l_len = atol(a[2]) };
	int fd = open(a[0], O_RDWR), cmd;

	if (fd < 0) {
		perror(a[0]);
		return 1;
	}
	cmd = !strcmp(mode, "--wait") ? F_SETLKW : F_SETLK;
	r("lock", fcntl(fd, cmd, &fl));
	if (!strcmp(mode, "--hold"))
		sleep((unsigned)atoi(a[3]));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "--tmpfile"))
		return probe_tmpfile(argv[2]);
	if ((argc == 6 && !strcmp(argv[1], "--hold")) ||
	    (argc == 5 && (!strcmp(argv[1], "--try") ||
			   !strcmp(argv[1], "--wait"))))
		return lock_helper(argv[1], argv + 2);
	if (argc != 2) {
		fprintf(stderr, "usage: posix_cases [--tmpfile] DIR\n");
		return 2;
	}
	umask(022);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/%s", argv[1], cases[i].name);
		if (mkdir(dir, 0777) || chmod(dir, 0777) || chdir(dir)) {
			perror(dir);
			return 1;
		}
		cases[i].fn();
	}
	return 0;
}
