/* Following the MDS's change feed (mds/feed.h).
 *
 * A thread asks the MDS for other clients' changes after the last one it
 * has (MDS_WATCH), waiting up to FEED_WAIT_MS for one; every answer, even
 * an empty one, says that every change committed before the question was
 * sent has been told. Each change goes to the directory cache (the
 * inode, or the directory whose name changed, is stamped: nothing this
 * client knew of it from before counts as current) and to the caller's
 * ops; only then does the question's send time become the feed's
 * confirmed time. The feed is live while that time is recent: a caller
 * may then let caches hold what the MDS said for longer than the
 * attribute timeout, since it hears of any change within about a
 * FEED_WAIT_MS, and of a lost feed within FEED_LIVE_MS. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "client_priv.h"
#include "mds.pb-c.h"

#define FEED_WAIT_MS 150	/* an idle feed still answers this often */
#define FEED_LIVE_MS 500	/* confirmed at most this long ago: live (an
				 * idle feed's confirmed time is up to two
				 * waits old just before an answer) */
#define FEED_MAX 1024		/* changes in one answer */

struct feed_follow {
	struct cfs_feed_ops ops;
	pthread_t thread;
	_Atomic bool stop;
	uint64_t id, after;
	_Atomic int64_t confirmed_ns;	/* 0: never */
};

static void *feed_main(void *p)
{
	struct cfs_client *cl = p;
	struct feed_follow *ff = cl->feed;

	while (!atomic_load(&ff->stop)) {
		Cfs__MdsWatch r = CFS__MDS_WATCH__INIT;
		struct cfs_rpc_call c = {
			.method = CFS__MDS_METHOD__MDS_WATCH,
			.req = &r.base,
			.rep_desc = &cfs__mds_watch_reply__descriptor,
			.timeout_ms = FEED_WAIT_MS + 750,
		};
		int64_t asked = cfs_mono_ns();
		const Cfs__MdsWatchReply *w;
		int rc;

		r.feed = ff->id;
		r.after = ff->after;
		r.wait_ms = FEED_WAIT_MS;
		r.max = FEED_MAX;
		rc = cfs_rpc_call(cl->rpc, cl->mds, &c);
		w = (const void *)c.rep;
		if (rc || !w) {
			cfs_rpc_call_done(&c);
			usleep(50 * 1000);	/* the feed goes stale meanwhile */
			continue;
		}
		if (w->reset || w->feed != ff->id) {
			/* another run of the MDS, or too far behind: nothing
			 * known from before is current */
			dc_stale_all(cl);
			ff->ops.reset(ff->ops.arg);
		} else {
			for (size_t i = 0; i < w->n_changes; i++) {
				const Cfs__MdsChange *ch = w->changes[i];

				if (ch->parent) {
					dc_stale_name(cl, ch->parent);
					ff->ops.entry(ff->ops.arg, ch->parent,
						      (const char *)ch->name.data,
						      ch->name.len);
				} else {
					dc_stale_inode(cl, ch->ino);
					ff->ops.inode(ff->ops.arg, ch->ino);
				}
			}
		}
		ff->id = w->feed;
		ff->after = w->seq;
		cfs_rpc_call_done(&c);
		atomic_store(&ff->confirmed_ns, asked);
	}
	return NULL;
}

int cfs_feed_start(struct cfs_client *cl, const struct cfs_feed_ops *ops)
{
	struct feed_follow *ff;

	if (!cl->dc)
		return -EINVAL;	/* nothing is cached: nothing to follow */
	ff = calloc(1, sizeof(*ff));
	if (!ff)
		return -ENOMEM;
	ff->ops = *ops;
	cl->feed = ff;
	if (pthread_create(&ff->thread, NULL, feed_main, cl)) {
		cl->feed = NULL;
		free(ff);
		return -EAGAIN;
	}
	return 0;
}

void cfs_feed_stop(struct cfs_client *cl)
{
	if (!cl || !cl->feed)
		return;
	atomic_store(&cl->feed->stop, true);
	pthread_join(cl->feed->thread, NULL);
	free(cl->feed);
	cl->feed = NULL;
}

bool cfs_feed_live(struct cfs_client *cl, int64_t now_ns)
{
	int64_t t;

	if (!cl->feed)
		return false;
	t = atomic_load(&cl->feed->confirmed_ns);
	return t && now_ns - t < (int64_t)FEED_LIVE_MS * 1000000;
}
