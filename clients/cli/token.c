/* cfs init, cfs token, cfs secret: the cluster's identity and its join
 * tokens (common/token.c does the work).
 *
 *   cfs init --dir DIR [--mds ADDR[,ADDR...]]
 *   cfs token create --dir DIR --role ROLE [--ro] [--squash]
 *                    [--subtree PATH] [--ttl DURATION] [--mds ADDRS]
 *   cfs token list --dir DIR
 *   cfs [--token ADMIN] token revoke --dir DIR ID [--mds ADDR]
 *   cfs secret rotate --dir DIR [--grace DURATION]
 *
 * DURATION: a number with s, m, h or d (seconds without). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfs/rpc.h"
#include "cfs/token.h"
#include "cmds.h"
#include "libcfs.h"
#include "mds.pb-c.h"

/* Seconds in "90", "90s", "15m", "12h", "30d"; -1 if it is none. */
static long long duration(const char *s)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || n < 0)
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		return n;
	if (!strcmp(end, "m"))
		return n * 60;
	if (!strcmp(end, "h"))
		return n * 3600;
	if (!strcmp(end, "d"))
		return n * 86400;
	return -1;
}

struct args {
	const char *dir, *mds, *subtree, *role, *ttl, *grace;
	bool ro, squash;
	int rest;	/* index of the first positional argument */
};

static int parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "mds", required_argument, NULL, 'm' },
		{ "subtree", required_argument, NULL, 's' },
		{ "role", required_argument, NULL, 'r' },
		{ "ttl", required_argument, NULL, 't' },
		{ "grace", required_argument, NULL, 'g' },
		{ "ro", no_argument, NULL, 'o' },
		{ "squash", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*a = (struct args){ .subtree = "/" };
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': a->dir = optarg; break;
		case 'm': a->mds = optarg; break;
		case 's': a->subtree = optarg; break;
		case 'r': a->role = optarg; break;
		case 't': a->ttl = optarg; break;
		case 'g': a->grace = optarg; break;
		case 'o': a->ro = true; break;
		case 'q': a->squash = true; break;
		default: return -EINVAL;
		}
	}
	a->rest = optind;
	if (!a->dir) {
		fprintf(stderr, "cfs: --dir DIR is needed (the cluster's "
				"directory, as cfs init made it)\n");
		return -EINVAL;	/* and the usage follows */
	}
	return 0;
}

static int failed(const char *what, const char *dir, int rc)
{
	if (rc == -ENOENT)
		fprintf(stderr, "cfs: %s: no cluster in %s (cfs init --dir "
				"%s makes one)\n", what, dir, dir);
	else
		fprintf(stderr, "cfs: %s: %s\n", what, strerror(-rc));
	return 1;
}

int cmd_init(int argc, char **argv)
{
	struct args a;
	int rc;

	if (parse(argc, argv, &a) || a.rest != argc)
		return 2;
	rc = cfs_cluster_init(a.dir, a.mds);
	if (rc == -EEXIST) {
		fprintf(stderr, "cfs: init: %s holds a cluster already; its "
				"tokens would be orphaned\n", a.dir);
		return 1;
	}
	if (rc)
		return failed("init", a.dir, rc);
	printf("cluster created in %s/cluster.json (keep it private: it "
	       "signs every token)\n", a.dir);
	return 0;
}

static int token_create(const struct args *a)
{
	struct cfs_token t = { .ro = a->ro, .squash = a->squash };
	char line[CFS_TOKEN_MAX];
	int role = a->role ? cfs_role_parse(a->role) : -1;
	long long ttl = a->ttl ? duration(a->ttl) : 0;
	int rc;

	if (role < 0) {
		fprintf(stderr, "cfs: token create: --role is one of mds, osd, "
				"client, tierd, repld, gateway, admin\n");
		return 1;
	}
	if (ttl < 0) {
		fprintf(stderr, "cfs: token create: --ttl %s is not a duration "
				"(90s, 15m, 12h, 30d)\n", a->ttl);
		return 1;
	}
	if (a->subtree[0] != '/' ||
	    strlen(a->subtree) >= sizeof(t.subtree)) {
		fprintf(stderr, "cfs: token create: --subtree is an absolute "
				"path in the file system\n");
		return 1;
	}
	t.role = (enum cfs_role)role;
	t.expires = ttl ? time(NULL) + ttl : 0;
	snprintf(t.subtree, sizeof(t.subtree), "%s", a->subtree);
	snprintf(t.mds, sizeof(t.mds), "%s", a->mds ? a->mds : "");
	rc = cfs_token_issue(a->dir, &t, line, sizeof(line));
	if (rc)
		return failed("token create", a->dir, rc);
	fputs(line, stdout);
	return 0;
}

/* Tell the MDS (a->mds, else the first the admin token names) that id is
 * revoked: it keeps it and hands it on in the map. */
static int revoke_in_cluster(const struct args *a, const char *id)
{
	const struct cfs_token *me = cfs_joined();
	char mds[sizeof(me->mds)];
	char *ids[1] = { (char *)id };
	Cfs__MdsRevoke req = CFS__MDS_REVOKE__INIT;
	int rc;

	if (!me) {
		fprintf(stderr, "cfs: token revoke: %s is marked revoked in "
				"%s, but no MDS was told: run it with the "
				"admin token (--token FILE or $CFS_TOKEN)\n",
			id, a->dir);
		return 1;
	}
	snprintf(mds, sizeof(mds), "%s", a->mds ? a->mds : me->mds);
	mds[strcspn(mds, ",")] = 0;
	req.ids = ids;
	req.n_ids = 1;
	rc = mds_call(mds, CFS__MDS_METHOD__MDS_REVOKE, &req.base, 0);
	if (rc) {
		fprintf(stderr, "cfs: token revoke: %s is marked revoked in "
				"%s, but the MDS at %s did not take it: %s\n",
			id, a->dir, mds, strerror(-rc));
		return 1;
	}
	printf("token %s revoked: the MDS at %s refuses it now, every "
	       "daemon once it has the next map\n", id, mds);
	return 0;
}

int cmd_token(int argc, char **argv)
{
	struct args a;
	int rc;

	if (argc < 2 || parse(argc - 1, argv + 1, &a))
		return 2;
	if (!strcmp(argv[1], "create") && a.rest == argc - 1)
		return token_create(&a);
	if (!strcmp(argv[1], "list") && a.rest == argc - 1) {
		rc = cfs_token_list(a.dir, stdout);
		return rc ? failed("token list", a.dir, rc) : 0;
	}
	if (!strcmp(argv[1], "revoke") && a.rest == argc - 2) {
		rc = cfs_token_revoke(a.dir, argv[argc - 1]);
		if (rc == -ESRCH) {
			fprintf(stderr, "cfs: token revoke: no token %s was "
					"issued in %s\n", argv[argc - 1], a.dir);
			return 1;
		}
		return rc ? failed("token revoke", a.dir, rc) :
			    revoke_in_cluster(&a, argv[argc - 1]);
	}
	return 2;
}

int cmd_secret(int argc, char **argv)
{
	struct args a;
	long long grace;
	int rc;

	if (argc < 2 || strcmp(argv[1], "rotate") ||
	    parse(argc - 1, argv + 1, &a) || a.rest != argc - 1)
		return 2;
	grace = a.grace ? duration(a.grace) : 7 * 86400;
	if (grace < 0) {
		fprintf(stderr, "cfs: secret rotate: --grace %s is not a "
				"duration\n", a.grace);
		return 1;
	}
	rc = cfs_secret_rotate(a.dir, grace);
	if (rc)
		return failed("secret rotate", a.dir, rc);
	printf("secret rotated: tokens signed before are accepted for %lld "
	       "s more; issue new ones with cfs token create\n", grace);
	return 0;
}
