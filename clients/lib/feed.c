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
 * FEED_WAIT_MS, and of a lost feed within FEED_LIVE_MS. Each metadata
 * shard has a feed of its own (its changes): a thread follows each, and
 * the feed is live while every one is. */
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

struct shard_feed {
	struct feed_follow *ff;
	unsigned shard;
	pthread_t thread;
	bool started;
	uint64_t id, after;
	_Atomic int64_t confirmed_ns;	/* 0: never */
};

struct feed_follow {
	struct cfs_client *cl;
	struct cfs_feed_ops ops;
	_Atomic bool stop;
	unsigned n;
	struct shard_feed shards[];
};

static void *feed_main(void *p)
{
	struct shard_feed *sf = p;
	struct feed_follow *ff = sf->ff;
	struct cfs_client *cl = ff->cl;

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
		char group[CFS_RPC_GROUP_MAX];
		int rc;

		r.feed = sf->id;
		r.after = sf->after;
		r.wait_ms = FEED_WAIT_MS;
		r.max = FEED_MAX;
		client_shard_group(cl, sf->shard, group, sizeof(group));
		rc = cfs_rpc_call(cl->rpc, group, &c);
		w = (const void *)c.rep;
		if (rc || !w) {
			cfs_rpc_call_done(&c);
			usleep(50 * 1000);	/* the feed goes stale meanwhile */
			continue;
		}
		if (w->reset || w->feed != sf->id) {
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
		sf->id = w->feed;
		sf->after = w->seq;
		cfs_rpc_call_done(&c);
		atomic_store(&sf->confirmed_ns, asked);
	}
	return NULL;
}

int cfs_feed_start(struct cfs_client *cl, const struct cfs_feed_ops *ops)
{
	unsigned n = client_shards(cl);
	struct feed_follow *ff;

	if (!cl->dc)
		return -EINVAL;	/* nothing is cached: nothing to follow */
	ff = calloc(1, sizeof(*ff) + n * sizeof(ff->shards[0]));
	if (!ff)
		return -ENOMEM;
	ff->cl = cl;
	ff->ops = *ops;
	ff->n = n;
	cl->feed = ff;
	for (unsigned s = 0; s < n; s++) {
		ff->shards[s].ff = ff;
		ff->shards[s].shard = s;
		if (pthread_create(&ff->shards[s].thread, NULL, feed_main,
				   &ff->shards[s])) {
			cfs_feed_stop(cl);
			return -EAGAIN;
		}
		ff->shards[s].started = true;
	}
	return 0;
}

void cfs_feed_stop(struct cfs_client *cl)
{
	if (!cl || !cl->feed)
		return;
	atomic_store(&cl->feed->stop, true);
	for (unsigned s = 0; s < cl->feed->n; s++)
		if (cl->feed->shards[s].started)
			pthread_join(cl->feed->shards[s].thread, NULL);
	free(cl->feed);
	cl->feed = NULL;
}

bool cfs_feed_live(struct cfs_client *cl, int64_t now_ns)
{
	if (!cl->feed)
		return false;
	for (unsigned s = 0; s < cl->feed->n; s++) {
		int64_t t = atomic_load(&cl->feed->shards[s].confirmed_ns);

		if (!t || now_ns - t >= (int64_t)FEED_LIVE_MS * 1000000)
			return false;
	}
	return true;
}
