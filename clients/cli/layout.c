/* cfs layout: a directory's or file's layout (cfs/layout.h), through the
 * mount's virtual xattr user.cfs.layout.
 *
 *   cfs layout set PATH SPEC   files made in directory PATH from now on
 *                              (and its new subdirectories) take SPEC; a
 *                              file takes it only while it has no data
 *   cfs layout get PATH [MDS]  the layout; for a file, with the MDS's
 *                              address (or $CFS_MDS), where each chunk's
 *                              shards or copies are: target, node, state */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "cfs/layout.h"
#include "cfs/map.h"
#include "cfs/rpc.h"
#include "cmds.h"

#define LAYOUT_XATTR "user.cfs.layout"

static const char *state_name(int s)
{
	switch (s) {
	case CFS__OSD_STATE__OSD_UP:
		return "up";
	case CFS__OSD_STATE__OSD_RECOVERING:
		return "recovering";
	default:
		return "down";
	}
}

/* Each chunk's targets: shard (or copy) i, OSD id, node, state. */
static int print_targets(const char *mds, const struct stat *st,
			 const struct cfs_layout *l)
{
	struct cfs_map_holder maps;
	struct cfs_rpc_client *rpc;
	struct cfs_map *m = map_of(mds, &maps, &rpc);
	uint64_t chunks = ((uint64_t)st->st_size + CFS_CHUNK_SIZE - 1) /
			  CFS_CHUNK_SIZE;
	uint32_t code = cfs_layout_pack(l);

	if (!m)
		return 1;
	for (uint64_t c = 0; c < chunks; c++) {
		int t[CFS_MAX_TARGETS];
		int n = cfs_placement_chunk(m->pb, code, st->st_ino, c, t);

		printf("chunk %lu:", (unsigned long)c);
		for (int i = 0; i < n; i++) {
			const Cfs__OsdInfo *o = m->pb->osds[t[i]];

			printf(" %s%d=osd%u@%s/%s",
			       cfs_layout_is_ec(l) ? (i < (int)l->k ? "d" : "p")
						   : "r",
			       i, o->id, o->node, state_name(o->state));
		}
		if (cfs_layout_is_ec(l) && n < (int)(l->k + l->m))
			printf(" (only %d failure domains for %u shards)", n,
			       l->k + l->m);
		printf("\n");
	}
	map_done(m, &maps, rpc);
	return 0;
}

static int layout_get(const char *path, const char *mds)
{
	char text[64];
	struct cfs_layout l;
	struct stat st;
	ssize_t n = getxattr(path, LAYOUT_XATTR, text, sizeof(text) - 1);

	if (n < 0 || stat(path, &st)) {
		fprintf(stderr, "cfs: %s: %s%s\n", path, strerror(errno),
			errno == ENODATA || errno == EOPNOTSUPP ?
				" (not on a ClaudeFS mount?)" : "");
		return 1;
	}
	text[n] = 0;
	printf("%s: %s\n", path, text);
	if (!S_ISREG(st.st_mode) || !mds || cfs_layout_parse(text, &l))
		return 0;
	return print_targets(mds, &st, &l);
}

static int layout_set(const char *path, const char *spec)
{
	struct cfs_layout l;

	if (cfs_layout_parse(spec, &l)) {
		fprintf(stderr, "cfs: %s: not a layout (rep:N with N <= %d, "
				"ec:K+M with K <= %d and M <= %d, ec:K+M/UNIT "
				"with a power-of-two UNIT from 4K to 16M, or "
				"default)\n", spec, CFS_MAX_REPLICAS,
			CFS_EC_MAX_K, CFS_EC_MAX_M);
		return 1;
	}
	if (setxattr(path, LAYOUT_XATTR, spec, strlen(spec), 0)) {
		fprintf(stderr, "cfs: %s: %s%s\n", path, strerror(errno),
			errno == EBUSY ? " (a file's layout is set before "
					 "it has data)" : "");
		return 1;
	}
	return 0;
}

int cmd_layout(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "set"))
		return layout_set(argv[2], argv[3]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "get"))
		return layout_get(argv[2], argc == 4 ? argv[3] :
						       getenv("CFS_MDS"));
	return 2;
}
