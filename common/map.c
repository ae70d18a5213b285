/* Holding and following the cluster map. See include/cfs/map.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfs/clock.h"
#include "cfs/log.h"
#include "cfs/map.h"
#include "cfs/rpc.h"
#include "mds.pb-c.h"

void cfs_map_holder_init(struct cfs_map_holder *h)
{

	pthread_mutex_init(&h->lock, NULL);
	cfs_mono_cond_init(&h->changed);
	h->cur = NULL;
	h->cl = NULL;
	h->following = false;
	h->stop = false;
}

static void map_free(struct cfs_map *m)
{
	cfs__cluster_map__free_unpacked(m->pb, NULL);
	free(m);
}

void cfs_map_holder_destroy(struct cfs_map_holder *h)
{
	if (h->following) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_broadcast(&h->changed);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);	/* within a poll's wait */
		h->following = false;
	}
	if (h->cur)
		cfs_map_put(h, h->cur);
	h->cur = NULL;
	pthread_cond_destroy(&h->changed);
	pthread_mutex_destroy(&h->lock);
}

bool cfs_map_install(struct cfs_map_holder *h, Cfs__ClusterMap *pb)
{
	struct cfs_map *m, *old = NULL;
	bool installed = false;

	m = malloc(sizeof(*m));
	if (!m) {
		cfs__cluster_map__free_unpacked(pb, NULL);
		return false;
	}
	m->refs = 1;
	m->pb = pb;
	pthread_mutex_lock(&h->lock);
	if (!h->cur || pb->epoch > h->cur->pb->epoch) {
		old = h->cur;
		h->cur = m;
		installed = true;
		pthread_cond_broadcast(&h->changed);
	}
	pthread_mutex_unlock(&h->lock);
	if (!installed)
		map_free(m);
	if (old)
		cfs_map_put(h, old);
	if (installed) {
		cfs_rpc_revoke(pb->revoked, pb->n_revoked);
		cfs_log_debug("map installed", "epoch=%lu osds=%zu",
			      (unsigned long)pb->epoch, pb->n_osds);
	}
	return installed;
}

struct cfs_map *cfs_map_get(struct cfs_map_holder *h)
{
	struct cfs_map *m;

	pthread_mutex_lock(&h->lock);
	m = h->cur;
	if (m)
		m->refs++;
	pthread_mutex_unlock(&h->lock);
	return m;
}

void cfs_map_put(struct cfs_map_holder *h, struct cfs_map *m)
{
	bool last;

	if (!m)
		return;
	pthread_mutex_lock(&h->lock);
	last = --m->refs == 0;
	pthread_mutex_unlock(&h->lock);
	if (last)
		map_free(m);
}

uint64_t cfs_map_epoch(struct cfs_map_holder *h)
{
	uint64_t e;

	pthread_mutex_lock(&h->lock);
	e = h->cur ? h->cur->pb->epoch : 0;
	pthread_mutex_unlock(&h->lock);
	return e;
}

void cfs_map_wait_newer(struct cfs_map_holder *h, uint64_t epoch,
			int timeout_ms)
{
	struct timespec ts = cfs_mono_deadline(timeout_ms);

	pthread_mutex_lock(&h->lock);
	while (!h->cur || h->cur->pb->epoch <= epoch)
		if (pthread_cond_timedwait(&h->changed, &h->lock, &ts))
			break;
	pthread_mutex_unlock(&h->lock);
}

#define FOLLOW_WAIT_MS 1000	/* a poll's wait: the longest a stop waits */

/* GET_MAP: the map at once (after 0, wait 0) or once newer than after. */
static int get_map(struct cfs_map_holder *h, struct cfs_rpc_client *cl,
		   const char *mds_addr, uint64_t after, uint32_t wait_ms,
		   int timeout_ms)
{
	Cfs__MdsGetMap req = CFS__MDS_GET_MAP__INIT;
	struct cfs_rpc_call c = {
		.method = CFS__MDS_METHOD__MDS_GET_MAP,
		.req = &req.base,
		.rep_desc = &cfs__cluster_map__descriptor,
		.timeout_ms = timeout_ms,
		.rep_keep = true,	/* installed as the current map */
	};
	int rc;

	req.after = after;
	req.wait_ms = wait_ms;
	rc = cfs_rpc_call(cl, mds_addr, &c);
	if (rc == 0 && !c.rep)
		rc = -EBADMSG;
	if (rc == 0) {
		Cfs__ClusterMap *m = (Cfs__ClusterMap *)c.rep;

		/* the replicas as the leader lists them: calls to the group
		 * reach one added since it was named (a lone MDS's
		 * address too, once its store became a group's) */
		if (strchr(mds_addr, ',') || m->n_mds > 1)
			cfs_rpc_group_learn(mds_addr,
					    (const char *const *)m->mds,
					    m->n_mds);
		cfs_map_install(h, m);
		c.rep = NULL;
	}
	cfs_rpc_call_done(&c);
	return rc;
}

int cfs_map_fetch(struct cfs_map_holder *h, struct cfs_rpc_client *cl,
		  const char *mds_addr, int timeout_ms)
{
	return get_map(h, cl, mds_addr, 0, 0, timeout_ms);
}

/* Polls the MDS for a newer map, over and over; after a failure (the
 * MDS down or restarting) it waits a little, or for the stop. */
static void *follow_main(void *p)
{
	struct cfs_map_holder *h = p;

	while (!h->stop) {
		int rc = get_map(h, h->cl, h->mds, cfs_map_epoch(h),
				 FOLLOW_WAIT_MS, FOLLOW_WAIT_MS + 5000);

		if (rc && !h->stop) {
			struct timespec ts = cfs_mono_deadline(200);

			pthread_mutex_lock(&h->lock);
			if (!h->stop)
				pthread_cond_timedwait(&h->changed, &h->lock,
						       &ts);
			pthread_mutex_unlock(&h->lock);
		}
	}
	return NULL;
}

int cfs_map_follow(struct cfs_map_holder *h, struct cfs_rpc_client *cl,
		   const char *mds_addr)
{
	h->cl = cl;
	snprintf(h->mds, sizeof(h->mds), "%s", mds_addr);
	if (pthread_create(&h->thread, NULL, follow_main, h))
		return -EAGAIN;
	h->following = true;
	return 0;
}
