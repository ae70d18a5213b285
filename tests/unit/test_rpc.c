/* The RPC layer: frame encoding, defensive decoding, a live server on
 * loopback (status and bulk round trips, the reply cache kept per client
 * until acknowledged), and timeouts toward an address nobody answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cfs/rpc.h"
#include "cfs/token.h"
#include "mds.pb-c.h"
#include "rpc.pb-c.h"

#include "check_main.h"

static _Atomic int creates;
static _Atomic uint64_t last_client;	/* the client id method 1 saw */

/* method 1 echoes the name back as an xattr value and the bulk reversed */
static int h_echo(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	const Cfs__MdsName *r = (const void *)m;
	Cfs__MdsXattrReply rep = CFS__MDS_XATTR_REPLY__INIT;
	char *rev = malloc(rq->bulk_len + 1);
	int rc;

	(void)arg;
	atomic_store(&last_client, rq->client_id);
	for (size_t i = 0; i < rq->bulk_len; i++)
		rev[i] = ((const char *)rq->bulk)[rq->bulk_len - 1 - i];
	rep.value = r->name;
	rc = cfs_rpc_reply(rq, &rep.base, rev, rq->bulk_len);
	free(rev);
	return rc;
}

/* method 2 fails with the errno given as parent */
static int h_fail(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	(void)arg;
	(void)rq;
	return -(int)((const Cfs__MdsName *)m)->parent;
}

/* method 3 counts; its replies are cached */
static int h_create(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	(void)arg;
	(void)rq;
	(void)m;
	return atomic_fetch_add(&creates, 1) == 0 ? 0 : -EEXIST;
}

/* method 4 passes its request on to method 1 of the server at
 * relay_to, the bulk as it came, and answers with that one's reply */
static struct cfs_rpc_client *relay_cl;
static const char *relay_to = "127.0.0.1:17998";

static int h_relay(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	struct cfs_rpc_call c = {
		.method = 1, .req = m, .bulk = rq->bulk,
		.bulk_len = rq->bulk_len, .bulk_sealed = rq->bulk_sealed,
		.rep_desc = &cfs__mds_xattr_reply__descriptor,
		.timeout_ms = 20000,
	};
	int rc = cfs_rpc_call(relay_cl, relay_to, &c);

	(void)arg;
	if (rc == 0)
		rc = cfs_rpc_reply(rq, c.rep, c.rep_bulk, c.rep_bulk_len);
	cfs_rpc_call_done(&c);
	return rc;
}

/* method 5: a group's member (its number is the server's arg) answers
 * if it leads, else -EREMCHG; the reply (cached) names who answered */
static _Atomic int leader = 1;
static _Atomic int group_runs;

static int h_lead(void *arg, struct cfs_rpc_req *rq, const ProtobufCMessage *m)
{
	Cfs__MdsName rep = CFS__MDS_NAME__INIT;

	(void)m;
	if ((int)(intptr_t)arg != atomic_load(&leader))
		return -EREMCHG;
	atomic_fetch_add(&group_runs, 1);
	rep.parent = (uint64_t)(intptr_t)arg;
	return cfs_rpc_reply(rq, &rep.base, NULL, 0);
}

static const struct cfs_rpc_method methods[] = {
	[1] = { &cfs__mds_name__descriptor, h_echo, false },
	[2] = { &cfs__mds_name__descriptor, h_fail, false },
	[3] = { &cfs__mds_name__descriptor, h_create, true },
	[4] = { &cfs__mds_name__descriptor, h_relay, false },
	[5] = { &cfs__mds_name__descriptor, h_lead, true },
};

START_TEST(test_frame_round_trip_and_bulk)
{
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	struct cfs_rpc_req rq;
	ProtobufCMessage *body;
	void *frame;
	size_t len;

	n.parent = 77;
	n.name.data = (uint8_t *)"abc";
	n.name.len = 3;
	ck_assert_int_eq(cfs_rpc_frame_encode(1, 5, 9, 3, &n.base, "BULK", 4,
					      &frame, &len), 0);
	ck_assert_int_eq(cfs_rpc_frame_decode_request(frame, len, methods, 4,
						      &rq, &body), 0);
	ck_assert_uint_eq(rq.client_id, 5);
	ck_assert_uint_eq(rq.request_id, 9);
	ck_assert_uint_eq(rq.bulk_len, 4);
	ck_assert_mem_eq(rq.bulk, "BULK", 4);
	ck_assert_uint_eq(((Cfs__MdsName *)body)->parent, 77);
	protobuf_c_message_free_unpacked(body, NULL);
	free(frame);
}
END_TEST

START_TEST(test_malformed_frames_are_rejected)
{
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	struct cfs_rpc_req rq;
	ProtobufCMessage *body;
	uint8_t junk[64] = { 0 };
	void *frame;
	size_t len;

	ck_assert_int_eq(cfs_rpc_frame_decode_request(junk, 3, methods, 4, &rq,
						      &body), -EBADMSG);
	/* a length prefix past the end */
	memset(junk, 0xff, sizeof(junk));
	ck_assert_int_eq(cfs_rpc_frame_decode_request(junk, sizeof(junk),
						      methods, 4, &rq, &body),
			 -EBADMSG);
	/* garbage of the right length */
	junk[0] = 60;
	junk[1] = junk[2] = junk[3] = 0;
	ck_assert_int_eq(cfs_rpc_frame_decode_request(junk, sizeof(junk),
						      methods, 4, &rq, &body),
			 -EBADMSG);
	/* a method nobody serves */
	ck_assert_int_eq(cfs_rpc_frame_encode(9, 1, 1, 0, &n.base, NULL, 0, &frame,
					      &len), 0);
	ck_assert_int_eq(cfs_rpc_frame_decode_request(frame, len, methods, 4,
						      &rq, &body), -EOPNOTSUPP);
	free(frame);
	/* a truncated frame */
	ck_assert_int_eq(cfs_rpc_frame_encode(1, 1, 1, 0, &n.base, NULL, 0, &frame,
					      &len), 0);
	ck_assert_int_eq(cfs_rpc_frame_decode_request(frame, len - 1, methods,
						      4, &rq, &body),
			 -EBADMSG);
	free(frame);
}
END_TEST

static const char *addr = "127.0.0.1:17999";

START_TEST(test_live_call_status_bulk_and_reply_cache)
{
	struct cfs_rpc_server *srv;
	struct cfs_rpc_client *cl;
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	struct cfs_rpc_call c = { 0 };
	char bulk[100000];

	for (size_t i = 0; i < sizeof(bulk); i++)
		bulk[i] = (char)i;
	ck_assert_int_eq(cfs_rpc_server_start(&srv, addr, methods, 4, NULL, 4),
			 0);
	ck_assert_int_eq(cfs_rpc_client_new(&cl), 0);
	n.name.data = (uint8_t *)"hello";
	n.name.len = 5;
	c.method = 1;
	c.req = &n.base;
	c.bulk = bulk;
	c.bulk_len = sizeof(bulk);
	c.rep_desc = &cfs__mds_xattr_reply__descriptor;
	ck_assert_int_eq(cfs_rpc_call(cl, addr, &c), 0);
	ck_assert_ptr_nonnull(c.rep);
	ck_assert_mem_eq(((Cfs__MdsXattrReply *)c.rep)->value.data, "hello", 5);
	ck_assert_uint_eq(c.rep_bulk_len, sizeof(bulk));
	ck_assert_int_eq(((const char *)c.rep_bulk)[0], bulk[sizeof(bulk) - 1]);
	cfs_rpc_call_done(&c);

	/* an errno travels back unchanged */
	memset(&c, 0, sizeof(c));
	n.parent = ENOTEMPTY;
	c.method = 2;
	c.req = &n.base;
	ck_assert_int_eq(cfs_rpc_call(cl, addr, &c), -ENOTEMPTY);
	cfs_rpc_call_done(&c);

	/* a retried request (same id) is answered from the reply cache */
	memset(&c, 0, sizeof(c));
	c.method = 3;
	c.req = &n.base;
	ck_assert_int_eq(cfs_rpc_call(cl, addr, &c), 0);
	cfs_rpc_call_done(&c);
	ck_assert_uint_ne(c.request_id, 0);	/* given by the call */
	ck_assert_int_eq(cfs_rpc_call(cl, addr, &c), 0);
	cfs_rpc_call_done(&c);
	ck_assert_int_eq(atomic_load(&creates), 1);
	/* a new request id runs the handler again */
	c.request_id = 0;
	ck_assert_int_eq(cfs_rpc_call(cl, addr, &c), -EEXIST);
	cfs_rpc_call_done(&c);

	cfs_rpc_client_free(cl);
	cfs_rpc_server_stop(srv);
}
END_TEST

START_TEST(test_call_to_dead_address_times_out)
{
	struct cfs_rpc_client *cl;
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	struct cfs_rpc_call c = { .method = 1, .req = &n.base,
				  .timeout_ms = 300, .attempts = 2 };
	struct timespec a, b;
	double secs;

	ck_assert_int_eq(cfs_rpc_client_new(&cl), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(cfs_rpc_call(cl, "127.0.0.1:1", &c), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	cfs_rpc_call_done(&c);
	secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert(secs >= 0.5 && secs < 3.0);
	cfs_rpc_client_free(cl);
}
END_TEST

/* Calls side by side, one to a port nobody listens on: the live one is
 * answered at once, not after the dead one's timeout (a primary OSD's
 * forwards while a replica has just died). */
START_TEST(test_a_dead_peer_does_not_hold_up_the_others)
{
	struct cfs_rpc_server *srv;
	struct cfs_rpc_client *cl;
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	struct cfs_rpc_call live = { .method = 1, .req = &n.base,
				     .timeout_ms = 1500 };
	struct cfs_rpc_call dead = live;
	struct cfs_rpc_call *calls[2] = { &dead, &live };
	const char *addrs[2] = { "127.0.0.1:1", addr };
	int status[2];
	struct timespec a, b;

	ck_assert_int_eq(cfs_rpc_server_start(&srv, addr, methods, 4, NULL, 4),
			 0);
	ck_assert_int_eq(cfs_rpc_client_new(&cl), 0);
	n.name.data = (uint8_t *)"x";
	n.name.len = 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	cfs_rpc_call_many(cl, addrs, calls, status, 2);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert(status[1] == 0 && status[0] == -ETIMEDOUT);
	/* the dead one waited its timeout for a restart; the live one's
	 * reply was not lost meanwhile */
	ck_assert_ptr_null(live.rep);	/* no reply body was asked for */
	ck_assert(b.tv_sec - a.tv_sec < 3);
	cfs_rpc_call_done(&dead);
	cfs_rpc_call_done(&live);
	cfs_rpc_client_free(cl);
	cfs_rpc_server_stop(srv);
}
END_TEST

/* A port whose listener never accepts, its queue full: connects to it
 * hang until their timeout. */
static int silent_listener(struct sockaddr_in *sa, int *fillers)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	*sa = (struct sockaddr_in){ .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	ck_assert_int_eq(listen(fd, 0), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	for (int i = 0; i < 4; i++) {	/* fill the queue */
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fillers[i], (struct sockaddr *)sa, sizeof(*sa));
	}
	return fd;
}

/* A thread making calls bound to fail: calls of them, each timing out
 * after base + i % spread ms; an error other than -ETIMEDOUT or (if
 * refused_ok) -ECONNREFUSED is unexpected. */
struct hang_caller {
	struct cfs_rpc_client *cl;
	const char *addr;
	int calls, base, spread;
	bool refused_ok;
	int unexpected;
};

static void *call_failing(void *arg)
{
	struct hang_caller *h = arg;
	Cfs__MdsName n = CFS__MDS_NAME__INIT;

	for (int i = 0; i < h->calls; i++) {
		struct cfs_rpc_call c = { .method = 1, .req = &n.base,
					  .timeout_ms = h->base + i % h->spread,
					  .attempts = 1 };
		int rc = cfs_rpc_call(h->cl, h->addr, &c);

		h->unexpected += rc != -ETIMEDOUT &&
				 !(h->refused_ok && rc == -ECONNREFUSED);
		cfs_rpc_call_done(&c);
	}
	return NULL;
}

/* Eight such threads side by side: how many unexpected errors. */
static int call_failing_side_by_side(struct cfs_rpc_client *cl,
				     struct hang_caller proto)
{
	struct hang_caller h[8];
	pthread_t th[8];
	int unexpected = 0;

	for (int i = 0; i < 8; i++) {
		h[i] = proto;
		h[i].cl = cl;
		ck_assert_int_eq(pthread_create(&th[i], NULL, call_failing,
						&h[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		unexpected += h[i].unexpected;
	}
	return unexpected;
}

/* Many callers at once whose connects time out, to one peer: each gets
 * ETIMEDOUT and the process lives (nng 1.5's dialer reused the steps of
 * a timed-out dial for the next and panicked, killing cfs-fuse while
 * two OSDs were SIGKILLed under a writer). */
START_TEST(test_dials_timing_out_side_by_side_end_cleanly)
{
	struct sockaddr_in sa;
	struct cfs_rpc_client *cl;
	char where[32];
	int fillers[4], fd = silent_listener(&sa, fillers);

	snprintf(where, sizeof(where), "127.0.0.1:%u", ntohs(sa.sin_port));
	ck_assert_int_eq(cfs_rpc_client_new(&cl), 0);
	ck_assert_int_eq(call_failing_side_by_side(cl, (struct hang_caller){
				 .addr = where, .calls = 40, .base = 5,
				 .spread = 7 }), 0);
	cfs_rpc_client_free(cl);
	for (int i = 0; i < 4; i++)
		close(fillers[i]);
	close(fd);
}
END_TEST

/* Many callers at once to a port nobody listens on, whose connects are
 * refused again and again until their time is up: each gets its error
 * and the process lives (freeing each connect's dialer as its dial
 * ended made nng 1.5's poller unlock a freed mutex: cfs-fuse died while
 * an MDS replica was down). */
START_TEST(test_refused_dials_side_by_side_end_cleanly)
{
	struct cfs_rpc_client *cl;

	ck_assert_int_eq(cfs_rpc_client_new(&cl), 0);
	ck_assert_int_eq(call_failing_side_by_side(cl, (struct hang_caller){
				 .addr = "127.0.0.1:17998", .calls = 30,
				 .base = 20, .spread = 13, .refused_ok = true }),
			 0);
	cfs_rpc_client_free(cl);
}
END_TEST

/* A group address (the MDS replicas): a call reaches the member that
 * leads, wherever the lead moves; -EREMCHG answers are not kept (the
 * member that refused runs the retry once it leads); a dead member is
 * passed over at once; a group where nobody leads answers -EREMCHG once
 * the call's time is spent. */
static int group_call(struct cfs_rpc_client *cl, const char *group,
		      int timeout_ms, uint64_t *who)
{
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	struct cfs_rpc_call c = { .method = 5, .req = &n.base,
				  .rep_desc = &cfs__mds_name__descriptor,
				  .timeout_ms = timeout_ms };
	int rc = cfs_rpc_call(cl, group, &c);

	*who = rc == 0 && c.rep ? ((Cfs__MdsName *)c.rep)->parent : 0;
	cfs_rpc_call_done(&c);
	return rc;
}

START_TEST(test_a_group_call_finds_its_leader)
{
	const char *group = "127.0.0.1:17981,127.0.0.1:17982,127.0.0.1:17983";
	const char *addr[3] = { "127.0.0.1:17981", "127.0.0.1:17982",
				"127.0.0.1:17983" };
	struct cfs_rpc_server *srv[3];
	struct cfs_rpc_client *cl;
	struct timespec a, b;
	uint64_t who;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cfs_rpc_server_start(&srv[i], addr[i], methods,
						      6, (void *)(intptr_t)(i + 1),
						      4), 0);
	ck_assert_int_eq(cfs_rpc_client_new(&cl), 0);
	for (int l = 3; l >= 1; l--) {
		atomic_store(&leader, l);
		ck_assert_int_eq(group_call(cl, group, 2000, &who), 0);
		ck_assert_uint_eq(who, (uint64_t)l);
	}
	/* the leader dies and member 3 leads: passed over at once */
	cfs_rpc_server_stop(srv[0]);
	atomic_store(&leader, 3);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(group_call(cl, group, 2000, &who), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert_uint_eq(who, 3);
	ck_assert_int_lt((b.tv_sec - a.tv_sec) * 1000 +
				 (b.tv_nsec - a.tv_nsec) / 1000000, 500);
	/* nobody leads for a while: the call waits it out */
	atomic_store(&leader, 0);
	atomic_store(&group_runs, 0);
	ck_assert_int_eq(group_call(cl, group, 300, &who), -EREMCHG);
	ck_assert_int_eq(atomic_load(&group_runs), 0);
	atomic_store(&leader, 2);
	ck_assert_int_eq(group_call(cl, group, 2000, &who), 0);
	ck_assert_uint_eq(who, 2);
	ck_assert_int_eq(atomic_load(&group_runs), 1);
	cfs_rpc_client_free(cl);
	cfs_rpc_server_stop(srv[1]);
	cfs_rpc_server_stop(srv[2]);
}
END_TEST

/* A call made while the server restarts waits for it; calls after it
 * find the connections the client kept dead and go on new ones. */
START_TEST(test_calls_go_on_across_a_server_restart)
{
	struct cfs_rpc_server *srv;
	struct cfs_rpc_client *cl;
	Cfs__MdsName n = CFS__MDS_NAME__INIT;

	ck_assert_int_eq(cfs_rpc_server_start(&srv, addr, methods, 4, NULL, 4),
			 0);
	ck_assert_int_eq(cfs_rpc_client_new(&cl), 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 5; i++) {
			struct cfs_rpc_call c = { .method = 1, .req = &n.base,
						  .timeout_ms = 2000 };

			ck_assert_int_eq(cfs_rpc_call(cl, addr, &c), 0);
			cfs_rpc_call_done(&c);
		}
		cfs_rpc_server_stop(srv);
		ck_assert_int_eq(cfs_rpc_server_start(&srv, addr, methods, 4,
						      NULL, 4),
				 0);
	}
	cfs_rpc_client_free(cl);
	cfs_rpc_server_stop(srv);
}
END_TEST

static int raw_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(17999) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Bytes that are no frame (a length past the largest frame; a frame
 * whose envelope is garbage) get the sender hung up on or an error
 * reply, and the server goes on serving everyone else. */
START_TEST(test_garbage_on_the_port_is_refused_and_serving_goes_on)
{
	struct cfs_rpc_server *srv;
	struct cfs_rpc_client *cl;
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	struct cfs_rpc_call c = { .method = 1, .req = &n.base };
	uint8_t buf[64], huge[8] = { 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0 };
	int fd;

	ck_assert_int_eq(cfs_rpc_server_start(&srv, addr, methods, 4, NULL, 4),
			 0);
	fd = raw_connect();
	ck_assert_int_eq(write(fd, huge, sizeof(huge)), sizeof(huge));
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0);	/* hung up */
	close(fd);

	/* a well-formed frame around garbage: an error comes back */
	memset(buf, 0x5a, sizeof(buf));
	buf[0] = 56;
	buf[1] = buf[2] = buf[3] = 0;
	buf[4] = buf[5] = buf[6] = buf[7] = 0;
	fd = raw_connect();
	ck_assert_int_eq(write(fd, buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_gt(read(fd, buf, sizeof(buf)), 8);
	close(fd);

	ck_assert_int_eq(cfs_rpc_client_new(&cl), 0);
	ck_assert_int_eq(cfs_rpc_call(cl, addr, &c), 0);
	cfs_rpc_call_done(&c);
	cfs_rpc_client_free(cl);
	cfs_rpc_server_stop(srv);
}
END_TEST

/* A server stopped while a connection's thread is just starting to read
 * (a client connected a moment ago) ends: the read is not started on a
 * stream already closed, where nng would never end it. */
START_TEST(test_a_stop_racing_a_new_connection_ends)
{
	for (int i = 0; i < 200; i++) {
		struct cfs_rpc_server *srv;
		int fd;

		ck_assert_int_eq(cfs_rpc_server_start(&srv, addr, methods, 4,
						      NULL, 4),
				 0);
		fd = raw_connect();
		if (i % 2)
			usleep((useconds_t)(i % 7) * 100);
		cfs_rpc_server_stop(srv);
		close(fd);
	}
}
END_TEST

/* Many threads share one client: each call gets its own answer. */
static struct cfs_rpc_client *shared;

static void *caller(void *arg)
{
	char name[32], bulk[3000];
	uintptr_t id = (uintptr_t)arg;

	for (int i = 0; i < 200; i++) {
		Cfs__MdsName n = CFS__MDS_NAME__INIT;
		struct cfs_rpc_call c = { .method = 1, .req = &n.base,
					  .bulk = bulk,
					  .bulk_len = 1 + (id * 7 + i) % 3000,
					  .rep_desc =
						  &cfs__mds_xattr_reply__descriptor };
		const Cfs__MdsXattrReply *r;

		snprintf(name, sizeof(name), "t%lu.%d", (unsigned long)id, i);
		n.name.data = (uint8_t *)name;
		n.name.len = strlen(name);
		memset(bulk, (int)id, c.bulk_len);
		if (cfs_rpc_call(shared, addr, &c))
			return (void *)1;
		r = (const void *)c.rep;
		if (!r || r->value.len != strlen(name) ||
		    memcmp(r->value.data, name, r->value.len) ||
		    c.rep_bulk_len != c.bulk_len ||
		    ((const uint8_t *)c.rep_bulk)[0] != (uint8_t)id)
			return (void *)2;
		cfs_rpc_call_done(&c);
	}
	return NULL;
}

START_TEST(test_concurrent_callers_each_get_their_own_reply)
{
	struct cfs_rpc_server *srv;
	pthread_t t[8];

	ck_assert_int_eq(cfs_rpc_server_start(&srv, addr, methods, 4, NULL, 3),
			 0);
	ck_assert_int_eq(cfs_rpc_client_new(&shared), 0);
	for (uintptr_t i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, caller,
						(void *)(i + 1)),
				 0);
	for (int i = 0; i < 8; i++) {
		void *rv;

		pthread_join(t[i], &rv);
		ck_assert_ptr_null(rv);
	}
	cfs_rpc_client_free(shared);
	cfs_rpc_server_stop(srv);
}
END_TEST

static void read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
}

/* One request in raw frames on fd, as client cid sends it (acked: it has
 * the replies to every id below); the reply's status. */
static int raw_request(int fd, uint32_t method, uint64_t cid, uint64_t rid,
		       uint64_t acked)
{
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	uint8_t head[8], *env;
	Cfs__RpcReply *rep;
	uint32_t elen, blen;
	size_t len;
	void *frame;
	int status;

	ck_assert_int_eq(cfs_rpc_frame_encode(method, cid, rid, acked, &n.base,
					      NULL, 0, &frame, &len),
			 0);
	ck_assert_int_eq(write(fd, frame, len), (ssize_t)len);
	free(frame);
	read_full(fd, head, sizeof(head));
	elen = (uint32_t)head[0] | (uint32_t)head[1] << 8 |
	       (uint32_t)head[2] << 16 | (uint32_t)head[3] << 24;
	blen = (uint32_t)head[4] | (uint32_t)head[5] << 8 |
	       (uint32_t)head[6] << 16 | (uint32_t)head[7] << 24;
	env = malloc((size_t)elen + blen + 1);
	read_full(fd, env, (size_t)elen + blen);
	rep = cfs__rpc_reply__unpack(NULL, elen, env);
	ck_assert_ptr_nonnull(rep);
	status = rep->status;
	cfs__rpc_reply__free_unpacked(rep, NULL);
	free(env);
	return status;
}

/* The slot the reply cache of earlier versions put a request in: one
 * table of 16,384 slots for every client, where a request that hashed
 * alike took the slot of one whose reply was still to be retried. */
static uint64_t shared_slot(uint64_t cid, uint64_t rid)
{
	uint64_t h = cid * 0x9e3779b97f4a7c15ull ^ rid;

	h ^= h >> 29;
	return h % 16384;
}

/* A reply the client never got stays until the client says it has it,
 * whatever other requests come meanwhile: many, and ones that would have
 * shared its slot; then it goes. */
START_TEST(test_reply_cache_keeps_each_reply_until_acknowledged)
{
	struct cfs_rpc_server *srv;
	uint64_t rid = 1, last = 1;
	int fd, runs = 1;

	ck_assert_int_eq(cfs_rpc_server_start(&srv, addr, methods, 4, NULL, 4),
			 0);
	atomic_store(&creates, 0);
	fd = raw_connect();
	ck_assert_int_eq(raw_request(fd, 3, 77, 1, 1), 0);
	/* its reply was lost: the client still waits on request 1 */
	for (last = 2; last <= 2000; last++, runs++)
		ck_assert_int_eq(raw_request(fd, 3, 77, last, 1), -EEXIST);
	for (int hits = 0; hits < 4; runs++) {
		while (shared_slot(77, ++rid) != shared_slot(77, 1) &&
		       shared_slot(88, rid) != shared_slot(77, 1))
			;
		hits++;
		ck_assert_int_eq(raw_request(fd, 3, 77, rid, 1), -EEXIST);
		ck_assert_int_eq(raw_request(fd, 3, 88, rid, rid), -EEXIST);
		runs++;
	}
	ck_assert_int_eq(raw_request(fd, 3, 77, 1, 1), 0);
	ck_assert_int_eq(atomic_load(&creates), runs);
	/* acknowledged: forgotten, and a copy coming late is refused */
	ck_assert_int_eq(raw_request(fd, 3, 77, rid + 1, rid + 1), -EEXIST);
	ck_assert_int_eq(raw_request(fd, 3, 77, 1, rid + 1), -ESTALE);
	ck_assert_int_eq(atomic_load(&creates), runs + 1);
	close(fd);
	cfs_rpc_server_stop(srv);
}
END_TEST

/* A request the client gave up waiting for (its connection closed, the
 * retry answered) may still sit in the server's socket: when it is read
 * after the client went on, it must not run over what came since (a
 * size set by a truncate, a lock let go). A copy the client may still
 * wait for is answered as before. */
START_TEST(test_a_late_copy_of_a_finished_request_is_refused)
{
	struct cfs_rpc_server *srv;
	int fd;

	ck_assert_int_eq(cfs_rpc_server_start(&srv, addr, methods, 4, NULL, 4),
			 0);
	atomic_store(&creates, 0);
	fd = raw_connect();
	/* request 5 (the retry of it) runs, then 6 says 5 is done */
	ck_assert_int_eq(raw_request(fd, 3, 99, 5, 5), 0);
	ck_assert_int_eq(raw_request(fd, 3, 99, 6, 6), -EEXIST);
	ck_assert_int_eq(raw_request(fd, 3, 99, 5, 5), -ESTALE);
	/* a client's acked from an older request does not lower the mark */
	ck_assert_int_eq(raw_request(fd, 3, 99, 4, 4), -ESTALE);
	ck_assert_int_eq(atomic_load(&creates), 2);
	/* 6 is still kept (7 does not say it is done): answered again */
	ck_assert_int_eq(raw_request(fd, 3, 99, 7, 6), -EEXIST);
	ck_assert_int_eq(raw_request(fd, 3, 99, 6, 6), -EEXIST);
	ck_assert_int_eq(atomic_load(&creates), 3);
	/* another client's ids are its own */
	ck_assert_int_eq(raw_request(fd, 3, 98, 5, 5), -EEXIST);
	ck_assert_int_eq(atomic_load(&creates), 4);
	close(fd);
	cfs_rpc_server_stop(srv);
}
END_TEST

/* ---- secured connections ---- */

static char cluster_dir[64], other_dir[64];

/* An identity from a new token of role in dir. */
static struct cfs_rpc_identity *identity_until(const char *dir,
					       enum cfs_role role,
					       bool encrypt, unsigned admit,
					       int64_t expires)
{
	struct cfs_token t = { .role = role, .subtree = "/",
			       .expires = expires };
	struct cfs_rpc_identity *id;
	char line[CFS_TOKEN_MAX], why[128];

	ck_assert_int_eq(cfs_token_issue(dir, &t, line, sizeof(line)), 0);
	ck_assert_int_eq(cfs_rpc_identity_new(line, encrypt, admit, &id, why,
					      sizeof(why)),
			 0);
	return id;
}

static struct cfs_rpc_identity *identity(const char *dir, enum cfs_role role,
					 bool encrypt, unsigned admit)
{
	return identity_until(dir, role, encrypt, admit, 0);
}

/* A server on address at, or a client, holding identity id (NULL:
 * none). */
static struct cfs_rpc_server *serve_at(const char *at,
				       struct cfs_rpc_identity *id)
{
	struct cfs_rpc_server *srv;

	cfs_rpc_set_identity(id);
	ck_assert_int_eq(cfs_rpc_server_start(&srv, at, methods, 5, NULL, 4),
			 0);
	cfs_rpc_set_identity(NULL);
	return srv;
}

static struct cfs_rpc_server *serve_as(struct cfs_rpc_identity *id)
{
	return serve_at(addr, id);
}

static struct cfs_rpc_client *client_as(struct cfs_rpc_identity *id)
{
	struct cfs_rpc_client *cl;

	cfs_rpc_set_identity(id);
	ck_assert_int_eq(cfs_rpc_client_new(&cl), 0);
	cfs_rpc_set_identity(NULL);
	return cl;
}

static void clusters(void)
{
	snprintf(cluster_dir, sizeof(cluster_dir), "/tmp/cfs_rpc_sec_XXXXXX");
	snprintf(other_dir, sizeof(other_dir), "/tmp/cfs_rpc_sec_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(cluster_dir));
	ck_assert_ptr_nonnull(mkdtemp(other_dir));
	ck_assert_int_eq(cfs_cluster_init(cluster_dir, addr), 0);
	ck_assert_int_eq(cfs_cluster_init(other_dir, addr), 0);
}

static void clusters_gone(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", cluster_dir, other_dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* One echo call with a bulk from client cl, to method 1 or, relayed, 4:
 * its status. */
static int echo_by(struct cfs_rpc_client *cl, uint32_t method,
		   size_t bulk_len)
{
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	struct cfs_rpc_call c = { .method = method, .req = &n.base,
				  .rep_desc = &cfs__mds_xattr_reply__descriptor,
				  .timeout_ms = 20000 };	/* valgrind */
	char *bulk = malloc(bulk_len + 1);
	int rc;

	for (size_t i = 0; i < bulk_len; i++)
		bulk[i] = (char)i;
	n.name.data = (uint8_t *)"secret-name";
	n.name.len = 11;
	c.bulk = bulk;
	c.bulk_len = bulk_len;
	rc = cfs_rpc_call(cl, addr, &c);
	if (rc == 0) {
		ck_assert_ptr_nonnull(c.rep);
		ck_assert_mem_eq(((Cfs__MdsXattrReply *)c.rep)->value.data,
				 "secret-name", 11);
		ck_assert_uint_eq(c.rep_bulk_len, bulk_len);
		for (size_t i = 0; i < bulk_len / 2; i++) {
			char t = bulk[i];

			bulk[i] = bulk[bulk_len - 1 - i];
			bulk[bulk_len - 1 - i] = t;
		}
		ck_assert_mem_eq(c.rep_bulk, bulk, bulk_len);
	}
	cfs_rpc_call_done(&c);
	free(bulk);
	return rc;
}

static int echo(struct cfs_rpc_client *cl, size_t bulk_len)
{
	return echo_by(cl, 1, bulk_len);
}

START_TEST(test_secured_calls_work_encrypted_and_not)
{
	for (int encrypt = 0; encrypt < 2; encrypt++) {
		struct cfs_rpc_identity *sid = identity(
			cluster_dir, CFS_ROLE_MDS, encrypt,
			1u << CFS_ROLE_CLIENT);
		struct cfs_rpc_identity *cid = identity(
			cluster_dir, CFS_ROLE_CLIENT, encrypt, 0);
		struct cfs_rpc_server *srv = serve_as(sid);
		struct cfs_rpc_client *cl = client_as(cid);
		uint64_t refused = cfs_rpc_refused(), seen;

		for (int i = 0; i < 50; i++)
			ck_assert_int_eq(echo(cl, (size_t)i * 4099), 0);
		/* the handler sees the client's id bound to its token:
		 * the same for each call, not the one sent */
		seen = atomic_load(&last_client);
		ck_assert_int_eq(echo(cl, 3 << 20), 0);
		ck_assert_uint_eq(atomic_load(&last_client), seen);
		ck_assert_uint_ne(seen, cfs_rpc_client_id(cl));
		ck_assert_uint_eq(cfs_rpc_refused(), refused);
		cfs_rpc_client_free(cl);
		cfs_rpc_server_stop(srv);
		cfs_rpc_identity_free(sid);
		cfs_rpc_identity_free(cid);
	}
}
END_TEST

/* A daemon passing a request on to another (an OSD to the replicas)
 * sends the bulk as it came where the next connection seals the same
 * way, and seals it anew where it does not: the bytes arrive either way.
 * The middle server encrypts; the last one encrypts, or only signs. */
START_TEST(test_a_bulk_passed_on_arrives_whole)
{
	for (int encrypt = 0; encrypt < 2; encrypt++) {
		struct cfs_rpc_identity *mid = identity(
			cluster_dir, CFS_ROLE_OSD, true,
			1u << CFS_ROLE_CLIENT);
		struct cfs_rpc_identity *last = identity(
			cluster_dir, CFS_ROLE_OSD, encrypt,
			1u << CFS_ROLE_OSD);
		struct cfs_rpc_identity *cid = identity(
			cluster_dir, CFS_ROLE_CLIENT, true, 0);
		struct cfs_rpc_server *a = serve_as(mid);
		struct cfs_rpc_server *b = serve_at(relay_to, last);
		struct cfs_rpc_client *cl = client_as(cid);

		relay_cl = client_as(mid);
		for (int i = 0; i < 20; i++)
			ck_assert_int_eq(echo_by(cl, 4, (size_t)i * 7919), 0);
		ck_assert_int_eq(echo_by(cl, 4, 2 << 20), 0);
		cfs_rpc_client_free(relay_cl);
		cfs_rpc_client_free(cl);
		cfs_rpc_server_stop(a);
		cfs_rpc_server_stop(b);
		cfs_rpc_identity_free(mid);
		cfs_rpc_identity_free(last);
		cfs_rpc_identity_free(cid);
	}
}
END_TEST

/* Refused before anything they send is decoded, each with a clear
 * error for the caller and one log line and count on the server: no
 * token, a foreign cluster's, a role the daemon does not serve; and a
 * client that would talk to a server holding a client token. */
START_TEST(test_peers_without_a_good_token_are_refused)
{
	struct cfs_rpc_identity *sid = identity(cluster_dir, CFS_ROLE_OSD, true,
						1u << CFS_ROLE_CLIENT);
	struct cfs_rpc_identity *foreign = identity(other_dir, CFS_ROLE_CLIENT,
						    true, 0);
	struct cfs_rpc_identity *osd = identity(cluster_dir, CFS_ROLE_OSD, true,
						0);
	struct cfs_rpc_identity *good = identity(cluster_dir, CFS_ROLE_CLIENT,
						 true, 0);
	struct cfs_rpc_identity *as_server = identity(cluster_dir,
						      CFS_ROLE_CLIENT, true,
						      1u << CFS_ROLE_CLIENT);
	struct cfs_rpc_server *srv = serve_as(sid);
	struct cfs_rpc_client *plain = client_as(NULL), *f = client_as(foreign),
			      *o = client_as(osd), *g = client_as(good);
	uint64_t refused = cfs_rpc_refused();


	ck_assert_int_ne(echo(plain, 10), 0);
	ck_assert_int_eq(echo(f, 10), -EACCES);
	ck_assert_int_eq(echo(o, 10), -EACCES);
	ck_assert_int_eq(echo(g, 10), 0);
	ck_assert_uint_ge(cfs_rpc_refused() - refused, 3);
	cfs_rpc_server_stop(srv);

	/* a server whose token is a client's is not one to talk to */
	srv = serve_as(as_server);
	ck_assert_int_eq(echo(g, 10), -EACCES);
	cfs_rpc_server_stop(srv);

	cfs_rpc_client_free(plain);
	cfs_rpc_client_free(f);
	cfs_rpc_client_free(o);
	cfs_rpc_client_free(g);
	cfs_rpc_identity_free(sid);
	cfs_rpc_identity_free(foreign);
	cfs_rpc_identity_free(osd);
	cfs_rpc_identity_free(good);
	cfs_rpc_identity_free(as_server);
}
END_TEST

/* A token revoked while its connection is open: the server hangs up on
 * it at its next request and refuses it in every handshake after; the
 * list lifted, it is let in again. */
START_TEST(test_a_revoked_token_is_cut_off_and_refused)
{
	struct cfs_rpc_identity *sid = identity(cluster_dir, CFS_ROLE_OSD, true,
						1u << CFS_ROLE_CLIENT);
	struct cfs_rpc_identity *good = identity(cluster_dir, CFS_ROLE_CLIENT,
						 true, 0);
	struct cfs_rpc_identity *other = identity(cluster_dir, CFS_ROLE_CLIENT,
						  true, 0);
	char *ids[1] = { (char *)cfs_rpc_identity_token(good)->id };
	struct cfs_rpc_server *srv = serve_as(sid);
	struct cfs_rpc_client *g = client_as(good), *o = client_as(other);

	ck_assert_int_eq(echo(g, 10), 0);	/* a pooled connection now */
	ck_assert_int_eq(echo(o, 10), 0);
	ck_assert_int_eq(cfs_rpc_revoke(ids, 1), 0);
	ck_assert_int_ne(echo(g, 10), 0);	/* hung up on */
	ck_assert_int_eq(echo(g, 10), -EACCES);	/* refused anew */
	ck_assert_int_eq(echo(o, 10), 0);	/* others go on */
	ck_assert_int_eq(cfs_rpc_revoke(NULL, 0), 0);
	ck_assert_int_eq(echo(g, 10), 0);
	cfs_rpc_server_stop(srv);
	cfs_rpc_client_free(g);
	cfs_rpc_client_free(o);
	cfs_rpc_identity_free(sid);
	cfs_rpc_identity_free(good);
	cfs_rpc_identity_free(other);
}
END_TEST

/* A token that expires while its connection is open: the server hangs
 * up on it at its next request, and refuses it from then on. */
START_TEST(test_a_token_expiring_is_cut_off)
{
	struct cfs_rpc_identity *sid = identity(cluster_dir, CFS_ROLE_OSD, true,
						1u << CFS_ROLE_CLIENT);
	int64_t ends = (int64_t)time(NULL) + 2;
	struct cfs_rpc_identity *brief = identity_until(
		cluster_dir, CFS_ROLE_CLIENT, true, 0, ends);
	struct cfs_rpc_server *srv = serve_as(sid);
	struct cfs_rpc_client *cl = client_as(brief);

	ck_assert_int_eq(echo(cl, 10), 0);	/* a pooled connection now */
	while ((int64_t)time(NULL) < ends)	/* until it has expired */
		usleep(50 * 1000);
	ck_assert_int_ne(echo(cl, 10), 0);	/* hung up on */
	ck_assert_int_eq(echo(cl, 10), -EACCES);	/* refused anew */
	cfs_rpc_server_stop(srv);
	cfs_rpc_client_free(cl);
	cfs_rpc_identity_free(sid);
	cfs_rpc_identity_free(brief);
}
END_TEST

/* Frames in the clear to a secured server, and bytes that only look like
 * a handshake: hung up on, nothing run. */
START_TEST(test_plain_frames_to_a_secured_server_run_nothing)
{
	struct cfs_rpc_identity *sid = identity(cluster_dir, CFS_ROLE_MDS, true,
						1u << CFS_ROLE_CLIENT);
	struct cfs_rpc_server *srv = serve_as(sid);
	uint8_t junk[64], buf[256];
	void *frame;
	size_t len;
	Cfs__MdsName n = CFS__MDS_NAME__INIT;
	int fd;

	atomic_store(&creates, 0);
	fd = raw_connect();
	ck_assert_int_eq(cfs_rpc_frame_encode(3, 1, 1, 1, &n.base, NULL, 0,
					      &frame, &len),
			 0);
	ck_assert_int_eq(write(fd, frame, len), (ssize_t)len);
	free(frame);
	while (read(fd, buf, sizeof(buf)) > 0)	/* until hung up on */
		;
	close(fd);
	fd = raw_connect();
	memset(junk, 0, sizeof(junk));
	junk[0] = 56;
	memcpy(junk + 8, "CFS1", 4);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), sizeof(junk));
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	ck_assert_int_eq(atomic_load(&creates), 0);
	cfs_rpc_server_stop(srv);
	cfs_rpc_identity_free(sid);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("rpc", clusters, clusters_gone,
		      test_frame_round_trip_and_bulk,
		      test_malformed_frames_are_rejected,
		      test_live_call_status_bulk_and_reply_cache,
		      test_call_to_dead_address_times_out,
		      test_a_dead_peer_does_not_hold_up_the_others,
		      test_dials_timing_out_side_by_side_end_cleanly,
		      test_refused_dials_side_by_side_end_cleanly,
		      test_a_group_call_finds_its_leader,
		      test_calls_go_on_across_a_server_restart,
		      test_garbage_on_the_port_is_refused_and_serving_goes_on,
		      test_a_stop_racing_a_new_connection_ends,
		      test_concurrent_callers_each_get_their_own_reply,
		      test_reply_cache_keeps_each_reply_until_acknowledged,
		      test_a_late_copy_of_a_finished_request_is_refused,
		      test_secured_calls_work_encrypted_and_not,
		      test_a_bulk_passed_on_arrives_whole,
		      test_peers_without_a_good_token_are_refused,
		      test_plain_frames_to_a_secured_server_run_nothing,
		      test_a_revoked_token_is_cut_off_and_refused,
		      test_a_token_expiring_is_cut_off);
}
