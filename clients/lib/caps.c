/* libcfs capabilities: what lets this client touch a file's chunks on
 * the OSDs when the cluster has tokens (cfs/cap.h). The MDS grants one
 * with an open (for writing if the open may write), a create and a
 * truncate; they are kept by inode, one for reading and one for writing,
 * and renewed (MDS_CAP, for a file still open here) when less than
 * CFS_CAP_RENEW seconds are left. They outlive the close, so that a file
 * opened again reads along with its open at once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_priv.h"
#include "mds.pb-c.h"

#define CAP_BUCKETS 1024

struct cap_entry {
	uint64_t ino;
	int64_t expires[2];		/* by write; 0: none */
	uint8_t mac[2][CFS_CAP_MAC];
	struct cap_entry *next;
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

void client_caps_init(struct cfs_client *cl)
{
	pthread_mutex_init(&cl->caplock, NULL);
	cl->caps = calloc(CAP_BUCKETS, sizeof(*cl->caps));
	cl->secured = cfs_joined() != NULL;
	if (cl->secured)
		snprintf(cl->token_id, sizeof(cl->token_id), "%s",
			 cfs_joined()->id);
}

void client_caps_free(struct cfs_client *cl)
{
	for (size_t i = 0; cl->caps && i < CAP_BUCKETS; i++)
		while (cl->caps[i]) {
			struct cap_entry *e = cl->caps[i];

			cl->caps[i] = e->next;
			free(e);
		}
	free(cl->caps);
	cl->caps = NULL;
	pthread_mutex_destroy(&cl->caplock);
}

/* The entry of ino, made if make (caplock held); drops expired ones
 * met on the way. */
static struct cap_entry *entry(struct cfs_client *cl, uint64_t ino, bool make)
{
	struct cap_entry **pp = &cl->caps[ino % CAP_BUCKETS], *e;
	int64_t now = now_s();

	while ((e = *pp)) {
		if (e->ino == ino)
			return e;
		if (e->expires[0] <= now && e->expires[1] <= now) {
			*pp = e->next;
			free(e);
			continue;
		}
		pp = &e->next;
	}
	if (!make || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->ino = ino;
	e->next = cl->caps[ino % CAP_BUCKETS];
	cl->caps[ino % CAP_BUCKETS] = e;
	return e;
}

void client_caps_take(struct cfs_client *cl, const Cfs__Capability *cap)
{
	struct cap_entry *e;

	if (!cap || !cl->caps || cap->mac.len != CFS_CAP_MAC)
		return;
	pthread_mutex_lock(&cl->caplock);
	e = entry(cl, cap->ino, true);
	if (e && cap->expires > e->expires[cap->write]) {
		e->expires[cap->write] = cap->expires;
		memcpy(e->mac[cap->write], cap->mac.data, CFS_CAP_MAC);
	}
	pthread_mutex_unlock(&cl->caplock);
}

/* One held for ino good for write (a write one serves reads too) and
 * valid past `until`: 0 with out filled, or -ENOENT. */
static int held(struct cfs_client *cl, uint64_t ino, bool write,
		int64_t until, struct client_cap *out)
{
	struct cap_entry *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&cl->caplock);
	e = cl->caps ? entry(cl, ino, false) : NULL;
	for (int w = 1; e && w >= (int)write && rc; w--)
		if (e->expires[w] > until) {
			memcpy(out->mac, e->mac[w], CFS_CAP_MAC);
			cfs__capability__init(&out->pb);
			out->pb.ino = ino;
			out->pb.write = w;
			out->pb.expires = e->expires[w];
			out->pb.token = cl->token_id;
			out->pb.mac.data = out->mac;
			out->pb.mac.len = CFS_CAP_MAC;
			out->cap = &out->pb;
			rc = 0;
		}
	pthread_mutex_unlock(&cl->caplock);
	return rc;
}

bool client_cap_held(struct cfs_client *cl, uint64_t ino, bool write,
		     struct client_cap *out)
{
	out->cap = NULL;
	return !cl->secured || held(cl, ino, write, now_s() + 5, out) == 0;
}

/* MDS_CAP: 0 with one kept, or the MDS's refusal. */
static int ask(struct cfs_client *cl, uint64_t ino, bool write,
	       const struct cfs_cred *cr)
{
	Cfs__MdsOpen r = CFS__MDS_OPEN__INIT;
	Cfs__Cred c;
	struct cfs_rpc_call call;
	struct client_cap mine;
	int rc;

	r.ino = ino;
	r.flags = write ? O_WRONLY : O_RDONLY;
	/* the one held, for an MDS that restarted since it granted it */
	if (held(cl, ino, write, now_s(), &mine) == 0)
		r.cap = mine.cap;
	if (cr) {
		client_cred_to(cr, &c);
		r.cred = &c;
	}
	rc = client_mds_call(cl, CFS__MDS_METHOD__MDS_CAP, &r.base,
			     &cfs__mds_entry__descriptor, &call);
	if (rc == 0 && call.rep)
		client_caps_take(cl, ((Cfs__MdsEntry *)call.rep)->cap);
	cfs_rpc_call_done(&call);
	return rc;
}

int client_cap_ask(struct cfs_client *cl, uint64_t ino, bool write,
		   const struct cfs_cred *cr)
{
	struct client_cap out;

	if (!cl->secured ||
	    held(cl, ino, write, now_s() + CFS_CAP_RENEW, &out) == 0)
		return 0;
	return ask(cl, ino, write, cr);
}

int client_cap(struct cfs_client *cl, uint64_t ino, bool write,
	       struct client_cap *out)
{
	int rc;

	out->cap = NULL;
	if (!cl->secured ||
	    held(cl, ino, write, now_s() + CFS_CAP_RENEW, out) == 0)
		return 0;
	rc = ask(cl, ino, write, NULL);
	/* one about to end serves while it lasts (the file closed meanwhile,
	 * say, its last writes still going out) */
	if (held(cl, ino, write, now_s(), out) == 0)
		return 0;
	return rc ? rc : -EACCES;
}
