/* cfs tier status|flush|where: tiering as the MDS sees it (mds/tier.c).
 *
 *   cfs tier status [MDS]            counts, tierd's last report
 *   cfs tier flush [MDS] [--timeout S]
 *                                    tier every closed file now, whatever
 *                                    its age; wait until tierd says it
 *                                    finished a pass begun after the ask
 *   cfs tier where PATH [MDS]        where the file's bytes lie in the
 *                                    store: "blobs/ID OFFSET LENGTH CRC
 *                                    FILE_OFFSET" per piece
 *   cfs tier evict PATH...           drop the flash copies of tiered files
 *                                    (directories: everything in them)
 * MDS defaults to $CFS_MDS. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cfs/clock.h"
#include "cfs/map.h"
#include "cfs/rpc.h"
#include "cmds.h"
#include "libcfs.h"
#include "mds.pb-c.h"

static int call(const char *mds, uint32_t method, ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *desc, ProtobufCMessage **rep)
{
	struct cfs_rpc_call c = { .method = method, .req = req,
				  .rep_desc = desc, .timeout_ms = 10000,
				  .attempts = 3 };
	struct cfs_rpc_client *cl;
	int rc = cfs_rpc_client_new(&cl);
	if (rc)
		return rc;
	rc = cfs_rpc_call(cl, mds, &c);
	if (!rc) {	/* keep the reply past the call (no body: defaults) */
		size_t len = c.rep ? protobuf_c_message_get_packed_size(c.rep) : 0;
		uint8_t *buf = malloc(len ? len : 1);
		*rep = NULL;
		if (buf) {
			if (c.rep)
				protobuf_c_message_pack(c.rep, buf);
			*rep = protobuf_c_message_unpack(desc, NULL, len, buf);
			free(buf);
		}
		rc = *rep ? 0 : -ENOMEM;
	}
	cfs_rpc_call_done(&c);
	cfs_rpc_client_free(cl);
	if (rc)
		fprintf(stderr, "cfs tier: the MDS at %s: %s\n", mds,
			rc == -EACCES ? "refused (an admin or tierd token is "
					"needed: --token FILE)" :
					strerror(-rc));
	return rc;
}

static int status(const char *mds, bool flush_now, Cfs__MdsTierStatus **out)
{
	Cfs__MdsTierStatus req = CFS__MDS_TIER_STATUS__INIT;
	req.flush_now = flush_now;
	return call(mds, CFS__MDS_METHOD__MDS_TIER_STATUS, &req.base,
		    &cfs__mds_tier_status__descriptor, (ProtobufCMessage **)out);
}

static int cmd_status(const char *mds)
{
	Cfs__MdsTierStatus *s;
	if (status(mds, false, &s))
		return 1;
	printf("tiered: %llu files, %llu bytes\n",
	       (unsigned long long)s->tiered_files,
	       (unsigned long long)s->tiered_bytes);
	printf("blobs: %llu (%llu bytes, %llu live), %llu being stored\n",
	       (unsigned long long)s->blobs, (unsigned long long)s->blob_bytes,
	       (unsigned long long)s->live_bytes,
	       (unsigned long long)s->pending_blobs);
	if (s->reported_ms_ago < 0) {
		printf("tierd: none has reported to this MDS\n");
	} else {
		printf("tierd: reported %.1f s ago, store %s\n",
		       s->reported_ms_ago / 1000.0, s->store);
		printf("queue: %llu files, %llu bytes\n",
		       (unsigned long long)s->queued_files,
		       (unsigned long long)s->queued_bytes);
		printf("requests: PUT %llu, GET %llu, DELETE %llu; failed %llu, "
		       "retried %llu; last latency %.1f ms\n",
		       (unsigned long long)s->puts, (unsigned long long)s->gets,
		       (unsigned long long)s->deletes,
		       (unsigned long long)s->failures,
		       (unsigned long long)s->retries, s->latency_us / 1000.0);
		printf("flush: asked %llu, done %llu\n",
		       (unsigned long long)s->flush,
		       (unsigned long long)s->flushed);
		if (*s->last_error)
			printf("last error: %s\n", s->last_error);
	}
	cfs__mds_tier_status__free_unpacked(s, NULL);
	return 0;
}

static int cmd_flush(const char *mds, int timeout_s)
{
	Cfs__MdsTierStatus *s;
	if (status(mds, true, &s))
		return 1;
	uint64_t asked = s->flush;
	cfs__mds_tier_status__free_unpacked(s, NULL);
	int64_t deadline = cfs_mono_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		if (status(mds, false, &s))
			return 1;
		bool done = s->reported_ms_ago >= 0 && s->flushed >= asked;
		char err[256];
		snprintf(err, sizeof(err), "%s", s->last_error ? s->last_error : "");
		cfs__mds_tier_status__free_unpacked(s, NULL);
		if (done) {
			printf("flushed (generation %llu)\n",
			       (unsigned long long)asked);
			return 0;
		}
		if (cfs_mono_ms() >= deadline) {
			fprintf(stderr, "cfs tier flush: not done after %d s%s%s "
					"(cfs tier status)\n", timeout_s,
				*err ? "; tierd's last error: " : "", err);
			return 1;
		}
		struct timespec ts = { 0, 200 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

static int cmd_where(const char *path, const char *mds)
{
	struct stat st;
	if (stat(path, &st)) {
		fprintf(stderr, "cfs tier where: %s: %s\n", path, strerror(errno));
		return 1;
	}
	Cfs__MdsIno req = CFS__MDS_INO__INIT;
	Cfs__MdsTierFile *f;
	req.ino = st.st_ino;
	if (call(mds, CFS__MDS_METHOD__MDS_TIER_FILE, &req.base,
		 &cfs__mds_tier_file__descriptor, (ProtobufCMessage **)&f))
		return 1;
	int rc = 0;
	if (!f->ino) {
		fprintf(stderr, "cfs tier where: %s is not tiered\n", path);
		rc = 1;
	}
	for (size_t i = 0; i < f->n_segs; i++) {
		const Cfs__MdsTierSeg *s = f->segs[i];
		printf("blobs/%016llx %llu %u %08x %llu\n",
		       (unsigned long long)s->blob,
		       (unsigned long long)s->blob_off, s->len, s->crc,
		       (unsigned long long)s->chunk * CFS_CHUNK_SIZE +
			       s->chunk_off);
	}
	cfs__mds_tier_file__free_unpacked(f, NULL);
	return rc;
}

static struct cfs_client *evict_cl;
static unsigned long evicted, skipped, failed;

static int evict_one(const char *path, const struct stat *st, int type,
		     struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	int rc = cfs_tier_evict(evict_cl, st->st_ino);
	if (!rc)
		evicted++;
	else if (rc == -ENODATA || rc == -ESTALE) {
		skipped++;	/* not in the store as it is now */
	} else {
		failed++;
		fprintf(stderr, "cfs tier evict: %s: %s\n", path, strerror(-rc));
	}
	return 0;
}

static int cmd_evict(const char *mds, int n, char **paths)
{
	struct cfs_client_opts o = { .mds = mds, .connect_timeout_ms = 5000,
				     .writeback_mb = -1 };
	int rc = cfs_client_new(&evict_cl, &o);
	if (rc) {
		fprintf(stderr, "cfs tier evict: cannot reach the MDS at %s: %s\n",
			mds, strerror(-rc));
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (nftw(paths[i], evict_one, 32, FTW_PHYS | FTW_MOUNT)) {
			fprintf(stderr, "cfs tier evict: %s: %s\n", paths[i],
				strerror(errno));
			failed++;
		}
	cfs_client_free(evict_cl);
	printf("evicted %lu files; %lu not in the store as they are now "
	       "(cfs tier flush first)%s\n", evicted, skipped,
	       failed ? "; some failed" : "");
	return failed ? 1 : 0;
}

int cmd_tier(int argc, char **argv)
{
	const char *env = getenv("CFS_MDS");
	if (argc >= 2 && !strcmp(argv[1], "status") && argc <= 3 &&
	    (argc == 3 || env))
		return cmd_status(argc == 3 ? argv[2] : env);
	if (argc >= 2 && !strcmp(argv[1], "flush")) {
		const char *mds = env;
		int timeout_s = 600;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
				timeout_s = atoi(argv[++i]);
			else
				mds = argv[i];
		}
		if (mds && timeout_s > 0)
			return cmd_flush(mds, timeout_s);
	}
	if (argc >= 3 && !strcmp(argv[1], "where") && argc <= 4 &&
	    (argc == 4 || env))
		return cmd_where(argv[2], argc == 4 ? argv[3] : env);
	if (argc >= 3 && !strcmp(argv[1], "evict") && env)
		return cmd_evict(env, argc - 2, argv + 2);
	return 2;
}
