/* cfs-fuse MDS_ADDRESS MOUNTPOINT [-f] [-d] [-o options]
 *
 * Connects to the cluster first (an unreachable MDS is reported within
 * the connect timeout and nothing is mounted), then mounts and serves
 * FUSE requests on many threads until unmounted or signalled.
 *
 * ClaudeFS options (with -o): attr_timeout=SECONDS, entry_timeout=SECONDS
 * (default 1), cache_lease=SECONDS (30: how long the kernel may keep
 * names and attributes while the MDS's change feed is live, which tells
 * of other clients' changes as they commit; 0: no feed), strict (all 0:
 * every change seen at once across mounts),
 * connect_timeout=MS (5000), mds_timeout=MS (5000, per attempt of a
 * metadata call; three attempts), mds_wait=S (60: a metadata call no MDS
 * serves is asked again for S s; 0: until one does), writeback_mb=N (64: memory for writes
 * not yet on the OSDs; 0 and strict: none, each write waits for them),
 * readahead_kb=N (4096: how far the kernel reads ahead of a sequential
 * reader; 0: the kernel's own, 128),
 * no_uring (serve /dev/fuse only, even where the kernel offers FUSE over
 * io_uring; see uring.c), no_allow_other (see below), token=FILE (the
 * join token: a client's, cfs token create --role client; insecure
 * instead reaches a cluster that runs without tokens), root_squash (root
 * acts as nobody, uid and gid 65534, as NFS's option). Standard FUSE
 * options (ro, ...) pass through to libfuse. Permissions are checked by
 * the kernel from cached attributes (default_permissions, always on) and
 * by the MDS; so a mount made by root serves every user (allow_other),
 * as a multi-user file system must, unless no_allow_other keeps it to
 * root alone. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cfs/daemon.h"
#include "cfs/log.h"
#include "cfs_fuse.h"

struct options {
	char *mds;
	char *token;
	int insecure;
	int root_squash;
	double attr_timeout, entry_timeout, cache_lease;
	int strict;
	int connect_timeout;
	int mds_timeout;
	int mds_wait;
	int writeback_mb;
	int readahead_kb;
	int no_uring;
	int no_allow_other;
	char *cache_dir;
	char *cache_size;
	int no_passthrough;
	int help;
};

#define OPT(t, p) { t, offsetof(struct options, p), 1 }
static const struct fuse_opt opt_spec[] = {
	OPT("attr_timeout=%lf", attr_timeout),
	OPT("entry_timeout=%lf", entry_timeout),
	OPT("cache_lease=%lf", cache_lease),
	OPT("connect_timeout=%d", connect_timeout),
	OPT("mds_timeout=%d", mds_timeout),
	OPT("mds_wait=%d", mds_wait),
	OPT("writeback_mb=%d", writeback_mb),
	OPT("readahead_kb=%d", readahead_kb),
	OPT("strict", strict),
	OPT("no_uring", no_uring),
	OPT("no_allow_other", no_allow_other),
	OPT("cache_dir=%s", cache_dir),
	OPT("cache_size=%s", cache_size),
	OPT("no_passthrough", no_passthrough),
	OPT("token=%s", token),
	OPT("insecure", insecure),
	OPT("root_squash", root_squash),
	OPT("-h", help),
	OPT("--help", help),
	FUSE_OPT_END
};

static int take_nonopt(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT && !o->mds) {
		o->mds = strdup(arg);
		return 0;
	}
	return 1;
}

/* The kernel gives a FUSE mount 128 KiB of readahead, and the INIT
 * reply can only lower it: a sequential reader then has one 128 KiB
 * read in flight at a time. Raised through the mount's device in sysfs
 * (root only; elsewhere the kernel's stays), it keeps several 1 MiB
 * reads in flight (cold sequential reads, 3 nodes on the 2-core test
 * machine: 600 MiB/s with 128 KiB, 1.1-1.4 GiB/s with 4 MiB). The
 * device comes from /proc/self/mountinfo: a stat of the mount point
 * would wait for this process to serve it. */
static void set_readahead(const char *mountpoint, unsigned kb)
{
	char line[4096], path[80], *real = realpath(mountpoint, NULL);
	unsigned maj = 0, min = 0;
	bool found = false, ok;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	while (f && real && fgets(line, sizeof(line), f)) {
		char mnt[4096];
		unsigned a, b;

		/* id parent major:minor root mount-point ...; the newest
		 * mount on a path is listed last */
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &a, &b, mnt) == 3 &&
		    !strcmp(mnt, real)) {
			maj = a;
			min = b;
			found = true;
		}
	}
	if (f)
		fclose(f);
	free(real);
	if (!found)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj,
		 min);
	f = fopen(path, "w");
	ok = f && fprintf(f, "%u\n", kb) > 0;
	if (f && fclose(f))
		ok = false;
	if (!ok)
		cfs_log_info("kept the kernel's readahead", "path=%s errno=%d",
			     path, errno);
}

/* SIZE: bytes, or with K, M, G or T (powers of 1024); 0 if not one. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	const char *units = "KMGT";
	const char *u = *end ? strchr(units, *end) : NULL;

	if (end == s || (*end && (!u || end[1])))
		return 0;
	return (uint64_t)v << (u ? 10 * (u - units + 1) : 0);
}

/* The data cache's directory (DIR/<cluster id>, made here) and size:
 * -o cache_dir (none for "none"), else /var/cache/claudefs for root;
 * -o cache_size, else 10% of the file system it is on, at least 1 GiB.
 * 0, 1 without a cache, -1 with a message for a bad option. */
static int cache_setup(const struct options *o, char *dir, size_t len,
		       uint64_t *bytes)
{
	const char *base = o->cache_dir ? o->cache_dir :
			   geteuid() == 0 ? "/var/cache/claudefs" : NULL;
	const struct cfs_token *t = cfs_joined();
	struct statvfs sv;

	if (!base || !strcmp(base, "none") || o->strict)
		return 1;
	*bytes = 0;
	if (o->cache_size && !(*bytes = parse_size(o->cache_size))) {
		fprintf(stderr, "cfs-fuse: cache_size=%s: not a size (bytes, "
				"or with K, M, G, T)\n", o->cache_size);
		return -1;
	}
	snprintf(dir, len, "%s/%s", base, t ? t->cluster : "open");
	if ((mkdir(base, 0700) && errno != EEXIST) ||
	    (mkdir(dir, 0700) && errno != EEXIST)) {
		fprintf(stderr, "cfs-fuse: cache_dir: cannot make %s: %s\n",
			dir, strerror(errno));
		return -1;
	}
	if (!*bytes) {
		*bytes = statvfs(dir, &sv) ? 0 :
			 (uint64_t)sv.f_blocks * sv.f_frsize / 10;
		if (*bytes < (1ull << 30))
			*bytes = 1ull << 30;
	}
	return 0;
}

/* Whether name is one of the -o options on the command line. */
static bool mount_option(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++) {
		const char *o = !strcmp(argv[i], "-o") && i + 1 < argc ?
					argv[++i] :
				!strncmp(argv[i], "-o", 2) ? argv[i] + 2 :
							     NULL;

		for (; o && *o; o += strcspn(o, ","), o += *o == ',')
			if (!strncmp(o, name, n) && (o[n] == ',' || !o[n]))
				return true;
	}
	return false;
}

static void usage(const char *prog)
{
	printf("usage: %s MDS_ADDRESS MOUNTPOINT [-f] [-d] [-o OPTIONS]\n\n"
	       "ClaudeFS options:\n"
	       "  -o attr_timeout=S      attribute cache time (1)\n"
	       "  -o entry_timeout=S     name cache time (1)\n"
	       "  -o cache_lease=S       ... while the MDS's change feed is live\n"
	       "                         (30; 0: no feed, the times above only)\n"
	       "  -o writeback_mb=N      memory for write-behind (64; 0: none)\n"
	       "  -o readahead_kb=N      the kernel's readahead (4096; 0: its\n"
	       "                         own, 128)\n"
	       "  -o strict              no caching: changes seen at once\n"
	       "  -o no_uring            serve /dev/fuse only, not io_uring\n"
	       "  -o no_allow_other      a root mount serves root alone (it\n"
	       "                         serves every user by default)\n"
	       "  -o token=FILE          the join token (cfs token create\n"
	       "                         --role client)\n"
	       "  -o insecure            no token: a cluster without them\n"
	       "  -o root_squash         root acts as nobody on this mount\n"
	       "  -o connect_timeout=MS  give up reaching the MDS (5000)\n"
	       "  -o mds_timeout=MS      retry a metadata call after (5000)\n"
	       "  -o mds_wait=S          give up a metadata call no MDS\n"
	       "                         serves after S s (60; 0: wait as\n"
	       "                         long as it takes, as a hard NFS\n"
	       "                         mount: its caller cannot be killed\n"
	       "                         meanwhile)\n\n",
	       prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options o = { .attr_timeout = 1, .entry_timeout = 1,
			     .cache_lease = 30, .connect_timeout = 5000,
			     .writeback_mb = 64, .readahead_kb = 4096,
			     .mds_wait = 60 };
	struct fuse_cmdline_opts cmd = { 0 };
	struct cfs_client_opts co = { 0 };
	struct fuse_loop_config *loop = NULL;
	struct fuse_session *se = NULL;
	struct cfs_fuse f = { 0 };
	char fsname[2 * CFS_RPC_GROUP_MAX + 64], why[200], cache_dir[4096];
	int rc = 1;

	cfs_log_init("fuse", CFS_LOG_WARN);
	pt_init(&f);
	cfs_malloc_for_bulk();
	if (fuse_opt_parse(&args, &o, opt_spec, take_nonopt))
		return 2;
	if (o.help) {
		usage(argv[0]);
		return 0;
	}
	if (fuse_parse_cmdline(&args, &cmd) || !o.mds || !cmd.mountpoint) {
		fprintf(stderr, "usage: %s MDS_ADDRESS MOUNTPOINT [-o options]\n",
			argv[0]);
		rc = 2;
		goto out;
	}
	if (o.strict) {
		o.attr_timeout = o.entry_timeout = o.cache_lease = 0;
		o.writeback_mb = 0;
	}
	co.mds = o.mds;
	co.connect_timeout_ms = o.connect_timeout;
	co.mds_timeout_ms = o.mds_timeout;
	co.mds_wait_ms = o.mds_wait > 0 ? o.mds_wait * 1000 : -1;
	co.writeback_mb = o.writeback_mb > 0 ? o.writeback_mb : -1;
	/* lookups answered from listings no older than the kernel's caches */
	co.dir_lease_ms = (int)(1000 * (o.attr_timeout < o.entry_timeout ?
					o.attr_timeout : o.entry_timeout));
	rc = cfs_join(o.token, o.insecure, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "cfs-fuse: %s (-o token=FILE, or -o insecure "
				"for a cluster without tokens)\n", why);
		rc = 2;
		goto out;
	}
	/* a read-only token: the kernel refuses changes at once (the MDS
	 * and OSDs refuse them anyway, as an explicit -o rw shows) */
	if (cfs_joined() && cfs_joined()->ro && !mount_option(argc, argv, "rw"))
		fuse_opt_add_arg(&args, "-oro");
	/* before any thread starts: a fork keeps only the calling thread
	 * (without -f, errors from here on go to /dev/null) */
	rc = cache_setup(&o, cache_dir, sizeof(cache_dir), &co.cache_bytes);
	if (rc < 0) {
		rc = 2;
		goto out;
	}
	co.cache_dir = rc == 0 ? cache_dir : NULL;
	f.pt.wanted = co.cache_dir && !o.no_passthrough;
	fuse_daemonize(cmd.foreground);
	rc = cfs_client_new(&f.cl, &co);
	if (rc) {
		fprintf(stderr, "cfs-fuse: %s %s: %s\n",
			rc == -EACCES ? "refused by the cluster at" :
					"cannot reach the MDS at",
			o.mds,
			rc != -EACCES ? strerror(-rc) :
			o.token ? "its token is not accepted (the line above "
				  "says why)" :
				  "it needs a token (-o token=FILE)");
		rc = 1;
		goto out;
	}
	pthread_mutex_init(&f.nocaps_lock, NULL);
	f.root_squash = o.root_squash;
	f.readahead = o.readahead_kb > 0 && o.readahead_kb <= 1 << 20 ?
			      (unsigned)o.readahead_kb << 10 :
			      128 << 10;
	f.attr_timeout = o.attr_timeout;
	f.entry_timeout = o.entry_timeout;
	f.cache_lease = o.cache_lease;
	/* The kernel checks permissions against cached attributes
	 * (default_permissions): without it a path walk through cached
	 * dentries would skip directory search checks. The MDS checks
	 * every request again for itself. */
	{	/* the MDS replicas' commas escaped, as options split on them */
		char name[2 * CFS_RPC_GROUP_MAX];
		size_t n = 0;

		for (const char *p = o.mds; *p && n + 2 < sizeof(name); p++) {
			if (*p == ',' || *p == '\\')
				name[n++] = '\\';
			name[n++] = *p;
		}
		name[n] = 0;
		snprintf(fsname, sizeof(fsname),
			 "-ofsname=cfs:%s,subtype=cfs,default_permissions%s",
			 name, geteuid() == 0 && !o.no_allow_other ?
				       ",allow_other" : "");
	}
	fuse_opt_add_arg(&args, fsname);
	rc = 1;
	se = fuse_session_new(&args, &cfs_fuse_ops, sizeof(cfs_fuse_ops), &f);
	if (!se)
		goto out;
	f.se = se;
	if (inval_start(&f))
		goto out;
	if (fuse_set_signal_handlers(se))
		goto out;
	if (fuse_session_mount(se, cmd.mountpoint)) {
		fprintf(stderr, "cfs-fuse: cannot mount on %s\n",
			cmd.mountpoint);
		goto out_signals;
	}
	if (f.readahead > 128 << 10)
		set_readahead(cmd.mountpoint, f.readahead >> 10);
	if (uring_setup(&f, !o.no_uring)) {
		fprintf(stderr, "cfs-fuse: cannot set up the session's I/O\n");
		goto out_unmount;
	}
	if (cmd.singlethread) {
		rc = fuse_session_loop(se);
	} else {
		loop = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(loop, cmd.clone_fd);
		fuse_loop_cfg_set_idle_threads(loop, 32);
		fuse_loop_cfg_set_max_threads(loop, 64);
		rc = fuse_session_loop_mt(se, loop);
		fuse_loop_cfg_destroy(loop);
	}
out_unmount:
	inval_stop(&f);	/* it notifies the kernel through the session */
	fuse_session_unmount(se);
	uring_stop(&f);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	inval_free(&f);
	pt_free(&f);
	if (se)
		fuse_session_destroy(se);
	cfs_client_free(f.cl);
	free(cmd.mountpoint);
	free(o.mds);
	free(o.token);
	free(o.cache_dir);
	free(o.cache_size);
	fuse_opt_free_args(&args);
	return rc ? 1 : 0;
}
