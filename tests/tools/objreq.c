/* objreq: one object store request through common/objstore.c, for the
 * tests (test_tier.sh: the signer against botocore and AWS's examples,
 * PUT/GET/DELETE against s3rver).
 *
 *   objreq [--date X-AMZ-DATE] [--connect-to HOST:PORT:ADDR:PORT]
 *          URL put KEY FILE | get KEY OFF LEN | delete KEY
 *
 * get writes the bytes to stdout. Exit 0, or 1 with the errno's name;
 * the counters go to stderr as "puts=N gets=N deletes=N retries=N". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs/objstore.h"

static int usage(void)
{
	fprintf(stderr, "usage: objreq [--date D] [--connect-to C] URL "
			"put KEY FILE | get KEY OFF LEN | delete KEY\n");
	return 2;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	struct cfs_objstore_opts o = { .attempts = 1 };
	int i = 1;
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--date"))
			o.amz_date = argv[i + 1];
		else if (!strcmp(argv[i], "--connect-to"))
			o.connect_to = argv[i + 1];
		else
			return usage();
	}
	if (argc - i < 3)
		return usage();
	const char *url = argv[i], *op = argv[i + 1], *key = argv[i + 2];
	char err[256];
	struct cfs_objstore *s;
	if (cfs_objstore_open(url, &o, &s, err, sizeof(err))) {
		fprintf(stderr, "objreq: %s\n", err);
		return 1;
	}
	int rc = 0;
	if (!strcmp(op, "put") && argc - i == 4) {
		size_t len;
		char *buf = slurp(argv[i + 3], &len);
		rc = buf ? cfs_objstore_put(s, key, buf, len) : -errno;
		free(buf);
	} else if (!strcmp(op, "get") && argc - i == 5) {
		size_t len = strtoull(argv[i + 4], NULL, 0);
		char *buf = malloc(len ? len : 1);
		ssize_t n = buf ? cfs_objstore_get(s, key,
						   strtoull(argv[i + 3], NULL, 0),
						   buf, len) : -ENOMEM;
		if (n >= 0 && fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			n = -EIO;
		rc = n < 0 ? (int)n : 0;
		free(buf);
	} else if (!strcmp(op, "delete") && argc - i == 3) {
		rc = cfs_objstore_delete(s, key);
	} else {
		cfs_objstore_close(s);
		return usage();
	}
	struct cfs_objstore_stats st;
	cfs_objstore_stats(s, &st);
	fprintf(stderr, "puts=%llu gets=%llu deletes=%llu retries=%llu\n",
		(unsigned long long)st.puts, (unsigned long long)st.gets,
		(unsigned long long)st.deletes, (unsigned long long)st.retries);
	cfs_objstore_close(s);
	if (rc) {
		fprintf(stderr, "objreq: %s %s: %s\n", op, key, strerror(-rc));
		return 1;
	}
	return 0;
}
