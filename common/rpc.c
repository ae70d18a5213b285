/* The RPC layer over nng. See include/cfs/rpc.h for the contract.
 *
 * Frames: [u32 little-endian envelope length][envelope][bulk tail]. The
 * envelope is an RpcRequest or RpcReply (proto/rpc.proto) whose body field
 * holds the method's own message, packed.
 *
 * Server: one REP socket; each worker thread owns one nng context and runs
 * receive -> handle -> send synchronously. Handlers therefore may block
 * (on disk, on calls to other daemons) without starving nng's own
 * completion threads, which would deadlock a callback-based design.
 *
 * Reply cache: for methods marked cache_reply, the packed reply frame is
 * kept by (client id, request id) in a fixed table; a retry of a request
 * already answered gets the same frame back, and a retry of one still
 * running waits for it. A collision evicts the older entry.
 *
 * Client: one REQ socket per peer address, dialled without blocking so it
 * reconnects by itself. Each call opens its own context, so any number of
 * threads can have calls in flight on one connection. */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cfs/log.h"
#include "cfs/rpc.h"
#include "rpc.pb-c.h"

#define REPLY_CACHE_SLOTS 16384

static int nng_to_errno(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_ECONNREFUSED:
		return -ECONNREFUSED;
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
		return -ECONNRESET;
	case NNG_ECLOSED:
		return -ESHUTDOWN;
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_EADDRINUSE:
		return -EADDRINUSE;
	case NNG_EADDRINVAL:
	case NNG_EINVAL:
		return -EINVAL;
	case NNG_EMSGSIZE:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

/* The wire carries Linux errno values; anything out of range is -EIO. */
static int status_from_wire(int32_t s)
{
	if (s > 0 || s < -4095)
		return -EIO;
	return s;
}

static bool transport_error(int rc)
{
	return rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -ECONNRESET ||
	       rc == -EIO;
}

void cfs_rpc_url(const char *addr, char *url, size_t len)
{
	if (strstr(addr, "://"))
		snprintf(url, len, "%s", addr);
	else
		snprintf(url, len, "tcp://%s", addr);
}

/* Pack env (an RpcRequest or RpcReply) and bulk into a new nng message. */
static int frame_pack(const ProtobufCMessage *env, const void *bulk,
		      size_t bulk_len, nng_msg **out)
{
	size_t env_len = protobuf_c_message_get_packed_size(env);
	uint8_t *p;
	nng_msg *m;

	if (env_len + bulk_len + 4 > CFS_RPC_MAX_FRAME)
		return -EMSGSIZE;
	if (nng_msg_alloc(&m, 4 + env_len + bulk_len))
		return -ENOMEM;
	p = nng_msg_body(m);
	p[0] = env_len & 0xff;
	p[1] = (env_len >> 8) & 0xff;
	p[2] = (env_len >> 16) & 0xff;
	p[3] = (env_len >> 24) & 0xff;
	protobuf_c_message_pack(env, p + 4);
	if (bulk_len)
		memcpy(p + 4 + env_len, bulk, bulk_len);
	*out = m;
	return 0;
}

/* Split a frame into its envelope bytes and bulk tail. */
static int frame_split(const void *frame, size_t len, const uint8_t **env,
		       size_t *env_len, const void **bulk, size_t *bulk_len)
{
	const uint8_t *p = frame;
	size_t n;

	if (len < 4)
		return -EBADMSG;
	n = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
	    (size_t)p[3] << 24;
	if (n > len - 4)
		return -EBADMSG;
	*env = p + 4;
	*env_len = n;
	*bulk = p + 4 + n;
	*bulk_len = len - 4 - n;
	return 0;
}

/* Pack msg into a malloc'd buffer for an envelope's body field. */
static int body_pack(const ProtobufCMessage *msg, ProtobufCBinaryData *out)
{
	out->len = 0;
	out->data = NULL;
	if (!msg)
		return 0;
	out->len = protobuf_c_message_get_packed_size(msg);
	out->data = malloc(out->len ? out->len : 1);
	if (!out->data)
		return -ENOMEM;
	protobuf_c_message_pack(msg, out->data);
	return 0;
}

static int request_frame(uint32_t method, uint64_t client_id,
			 uint64_t request_id, const ProtobufCMessage *body,
			 const void *bulk, size_t bulk_len, nng_msg **out)
{
	Cfs__RpcRequest env = CFS__RPC_REQUEST__INIT;
	int rc;

	env.version = CFS_PROTO_VERSION;
	env.method = method;
	env.client_id = client_id;
	env.request_id = request_id;
	rc = body_pack(body, &env.body);
	if (rc)
		return rc;
	rc = frame_pack(&env.base, bulk, bulk_len, out);
	free(env.body.data);
	return rc;
}

static int reply_frame(int status, const ProtobufCMessage *body,
		       const void *bulk, size_t bulk_len, nng_msg **out)
{
	Cfs__RpcReply env = CFS__RPC_REPLY__INIT;
	int rc;

	env.version = CFS_PROTO_VERSION;
	env.status = status;
	rc = body_pack(body, &env.body);
	if (rc)
		return rc;
	rc = frame_pack(&env.base, bulk, bulk_len, out);
	free(env.body.data);
	return rc;
}

int cfs_rpc_frame_encode(uint32_t method, uint64_t client_id,
			 uint64_t request_id, const ProtobufCMessage *body,
			 const void *bulk, size_t bulk_len, void **out,
			 size_t *out_len)
{
	nng_msg *m;
	int rc = request_frame(method, client_id, request_id, body, bulk,
			       bulk_len, &m);

	if (rc)
		return rc;
	*out_len = nng_msg_len(m);
	*out = malloc(*out_len);
	if (*out)
		memcpy(*out, nng_msg_body(m), *out_len);
	nng_msg_free(m);
	return *out ? 0 : -ENOMEM;
}

int cfs_rpc_frame_decode_request(const void *frame, size_t len,
				 const struct cfs_rpc_method *methods,
				 size_t nmethods, struct cfs_rpc_req *rq,
				 ProtobufCMessage **body)
{
	const uint8_t *env_bytes;
	size_t env_len;
	Cfs__RpcRequest *env;
	int rc;

	*body = NULL;
	memset(rq, 0, sizeof(*rq));
	rc = frame_split(frame, len, &env_bytes, &env_len, &rq->bulk,
			 &rq->bulk_len);
	if (rc)
		return rc;
	env = cfs__rpc_request__unpack(NULL, env_len, env_bytes);
	if (!env)
		return -EBADMSG;
	rq->method = env->method;
	rq->client_id = env->client_id;
	rq->request_id = env->request_id;
	if (env->version != CFS_PROTO_VERSION) {
		rc = -EPROTO;
		goto out;
	}
	if (env->method >= nmethods || !methods[env->method].req_desc) {
		rc = -EOPNOTSUPP;
		goto out;
	}
	*body = protobuf_c_message_unpack(methods[env->method].req_desc, NULL,
					  env->body.len, env->body.data);
	if (!*body)
		rc = -EBADMSG;
out:
	cfs__rpc_request__free_unpacked(env, NULL);
	return rc;
}

/* ---- server ---- */

struct cache_slot {
	uint64_t client_id, request_id;
	int state;		/* 0 empty, 1 running, 2 answered */
	nng_msg *frame;		/* state 2: the reply as sent */
};

struct cfs_rpc_server {
	nng_socket sock;
	/* fault injection for tests: drop every Nth reply to a cached
	 * (non-idempotent) method after running it; 0 is off */
	unsigned drop_every;
	_Atomic unsigned replies;
	const struct cfs_rpc_method *methods;
	size_t nmethods;
	void *arg;
	int nworkers;
	pthread_t *threads;
	pthread_mutex_t cache_lock;	/* guards cache[] */
	pthread_cond_t cache_cond;	/* a running entry was answered */
	struct cache_slot *cache;
};

static struct cache_slot *cache_slot(struct cfs_rpc_server *srv,
				     uint64_t client_id, uint64_t request_id)
{
	uint64_t h = client_id * 0x9e3779b97f4a7c15ull ^ request_id;

	h ^= h >> 29;
	return &srv->cache[h % REPLY_CACHE_SLOTS];
}

/* Returns a copy of a cached reply, or NULL after claiming the slot. */
static nng_msg *cache_begin(struct cfs_rpc_server *srv, uint64_t cid,
			    uint64_t rid)
{
	struct cache_slot *s = cache_slot(srv, cid, rid);
	nng_msg *copy = NULL;

	pthread_mutex_lock(&srv->cache_lock);
	while (s->state == 1 && s->client_id == cid && s->request_id == rid)
		pthread_cond_wait(&srv->cache_cond, &srv->cache_lock);
	if (s->state == 2 && s->client_id == cid && s->request_id == rid) {
		if (nng_msg_dup(&copy, s->frame))
			copy = NULL;
	}
	if (!copy) {
		if (s->frame)
			nng_msg_free(s->frame);
		s->frame = NULL;
		s->client_id = cid;
		s->request_id = rid;
		s->state = 1;
	}
	pthread_mutex_unlock(&srv->cache_lock);
	return copy;
}

static void cache_end(struct cfs_rpc_server *srv, uint64_t cid, uint64_t rid,
		      nng_msg *reply)
{
	struct cache_slot *s = cache_slot(srv, cid, rid);

	pthread_mutex_lock(&srv->cache_lock);
	if (s->state == 1 && s->client_id == cid && s->request_id == rid) {
		s->state = 0;
		if (reply && nng_msg_dup(&s->frame, reply) == 0)
			s->state = 2;
	}
	pthread_cond_broadcast(&srv->cache_cond);
	pthread_mutex_unlock(&srv->cache_lock);
}

int cfs_rpc_reply(struct cfs_rpc_req *rq, const ProtobufCMessage *rep,
		  const void *bulk, size_t bulk_len)
{
	nng_msg *m;
	int rc = reply_frame(0, rep, bulk, bulk_len, &m);

	if (rc)
		return rc;
	if (rq->reply)
		nng_msg_free(rq->reply);
	rq->reply = m;
	return 0;
}

/* Set the status field of a packed reply frame by re-packing it. */
static nng_msg *finish_reply(struct cfs_rpc_req *rq, int status)
{
	nng_msg *m = rq->reply, *out = NULL;
	const uint8_t *env_bytes;
	const void *bulk;
	size_t env_len, bulk_len;
	Cfs__RpcReply *env;

	rq->reply = NULL;
	if (!m) {
		if (reply_frame(status, NULL, NULL, 0, &out))
			return NULL;
		return out;
	}
	if (status == 0)
		return m;
	/* a handler that failed after setting a reply: keep its body */
	if (frame_split(nng_msg_body(m), nng_msg_len(m), &env_bytes, &env_len,
			&bulk, &bulk_len) == 0 &&
	    (env = cfs__rpc_reply__unpack(NULL, env_len, env_bytes))) {
		env->status = status;
		if (frame_pack(&env->base, bulk, bulk_len, &out))
			out = NULL;
		cfs__rpc_reply__free_unpacked(env, NULL);
	}
	nng_msg_free(m);
	return out;
}

static nng_msg *serve_one(struct cfs_rpc_server *srv, nng_msg *in)
{
	struct cfs_rpc_req rq;
	ProtobufCMessage *body;
	nng_msg *reply;
	const struct cfs_rpc_method *m;
	int rc;

	rc = cfs_rpc_frame_decode_request(nng_msg_body(in), nng_msg_len(in),
					  srv->methods, srv->nmethods, &rq,
					  &body);
	if (rc) {
		cfs_log_warn("rejected malformed request",
			     "method=%u client=%016lx rc=%d", rq.method,
			     (unsigned long)rq.client_id, rc);
		rq.reply = NULL;
		return finish_reply(&rq, rc);
	}
	m = &srv->methods[rq.method];
	if (m->cache_reply) {
		reply = cache_begin(srv, rq.client_id, rq.request_id);
		if (reply) {
			cfs_log_debug("answered retry from reply cache",
				      "method=%u client=%016lx req=%lu",
				      rq.method, (unsigned long)rq.client_id,
				      (unsigned long)rq.request_id);
			protobuf_c_message_free_unpacked(body, NULL);
			return reply;
		}
	}
	rc = m->fn(srv->arg, &rq, body);
	reply = finish_reply(&rq, rc);
	if (m->cache_reply)
		cache_end(srv, rq.client_id, rq.request_id, reply);
	protobuf_c_message_free_unpacked(body, NULL);
	if (m->cache_reply && srv->drop_every && reply &&
	    atomic_fetch_add(&srv->replies, 1) % srv->drop_every == 0) {
		cfs_log_info("fault injection: reply dropped",
			     "method=%u client=%016lx req=%lu", rq.method,
			     (unsigned long)rq.client_id,
			     (unsigned long)rq.request_id);
		nng_msg_free(reply);
		return NULL;
	}
	return reply;
}

static void *worker_main(void *p)
{
	struct cfs_rpc_server *srv = p;
	nng_ctx ctx;
	nng_aio *aio;

	if (nng_ctx_open(&ctx, srv->sock))
		return NULL;
	if (nng_aio_alloc(&aio, NULL, NULL)) {
		nng_ctx_close(ctx);
		return NULL;
	}
	for (;;) {
		nng_msg *in, *out;
		int rv;

		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
		if (rv == NNG_ECLOSED)
			break;
		if (rv)
			continue;
		in = nng_aio_get_msg(aio);
		out = serve_one(srv, in);
		nng_msg_free(in);
		if (!out) {
			/* no reply (out of memory, or a fault injected): the
			 * client times out and retries; a new context drops
			 * this request's state so the next one is served */
			nng_ctx_close(ctx);
			if (nng_ctx_open(&ctx, srv->sock))
				break;
			continue;
		}
		nng_aio_set_msg(aio, out);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
		if (rv)
			nng_msg_free(out);
		if (rv == NNG_ECLOSED)
			break;
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return NULL;
}

int cfs_rpc_server_start(struct cfs_rpc_server **out, const char *addr,
			 const struct cfs_rpc_method *methods,
			 size_t nmethods, void *arg, int nworkers)
{
	struct cfs_rpc_server *srv;
	char url[256];
	int rv, rc = 0;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->methods = methods;
	srv->nmethods = nmethods;
	srv->arg = arg;
	srv->cache = calloc(REPLY_CACHE_SLOTS, sizeof(*srv->cache));
	srv->threads = calloc((size_t)nworkers, sizeof(pthread_t));
	if (!srv->cache || !srv->threads) {
		free(srv->cache);
		free(srv->threads);
		free(srv);
		return -ENOMEM;
	}
	pthread_mutex_init(&srv->cache_lock, NULL);
	pthread_cond_init(&srv->cache_cond, NULL);
	if (getenv("CFS_FAULT_DROP_REPLY_EVERY")) {
		srv->drop_every = (unsigned)atoi(
			getenv("CFS_FAULT_DROP_REPLY_EVERY"));
		cfs_log_warn("fault injection on: dropping replies",
			     "every=%u", srv->drop_every);
	}
	rv = nng_rep0_open(&srv->sock);
	if (rv) {
		rc = nng_to_errno(rv);
		goto fail;
	}
	nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, CFS_RPC_MAX_FRAME);
	cfs_rpc_url(addr, url, sizeof(url));
	rv = nng_listen(srv->sock, url, NULL, 0);
	if (rv) {
		cfs_log_error("cannot listen", "addr=%s err=\"%s\"", url,
			      nng_strerror(rv));
		nng_close(srv->sock);
		rc = nng_to_errno(rv);
		goto fail;
	}
	for (int i = 0; i < nworkers; i++) {
		if (pthread_create(&srv->threads[i], NULL, worker_main, srv))
			break;
		srv->nworkers++;
	}
	*out = srv;
	return 0;
fail:
	free(srv->cache);
	free(srv->threads);
	free(srv);
	return rc;
}

void cfs_rpc_server_stop(struct cfs_rpc_server *srv)
{
	if (!srv)
		return;
	nng_close(srv->sock);
	for (int i = 0; i < srv->nworkers; i++)
		pthread_join(srv->threads[i], NULL);
	for (int i = 0; i < REPLY_CACHE_SLOTS; i++)
		if (srv->cache[i].frame)
			nng_msg_free(srv->cache[i].frame);
	pthread_mutex_destroy(&srv->cache_lock);
	pthread_cond_destroy(&srv->cache_cond);
	free(srv->cache);
	free(srv->threads);
	free(srv);
}

/* ---- client ---- */

struct peer {
	char url[128];
	nng_socket sock;
};

struct cfs_rpc_client {
	pthread_mutex_t lock;	/* guards peers, npeers, cap */
	struct peer *peers;
	size_t npeers, cap;
	uint64_t client_id;
	_Atomic uint64_t next_request;
};

int cfs_rpc_client_new(struct cfs_rpc_client **out)
{
	struct cfs_rpc_client *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return -ENOMEM;
	pthread_mutex_init(&cl->lock, NULL);
	if (getrandom(&cl->client_id, sizeof(cl->client_id), 0) !=
	    sizeof(cl->client_id))
		cl->client_id = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	atomic_init(&cl->next_request, 1);
	*out = cl;
	return 0;
}

uint64_t cfs_rpc_client_id(const struct cfs_rpc_client *cl)
{
	return cl->client_id;
}

void cfs_rpc_client_free(struct cfs_rpc_client *cl)
{
	if (!cl)
		return;
	for (size_t i = 0; i < cl->npeers; i++)
		nng_close(cl->peers[i].sock);
	free(cl->peers);
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

static int peer_socket(struct cfs_rpc_client *cl, const char *addr,
		       nng_socket *out)
{
	char url[128];
	struct peer *p;
	int rv, rc = 0;

	cfs_rpc_url(addr, url, sizeof(url));
	pthread_mutex_lock(&cl->lock);
	for (size_t i = 0; i < cl->npeers; i++) {
		if (!strcmp(cl->peers[i].url, url)) {
			*out = cl->peers[i].sock;
			goto out;
		}
	}
	if (cl->npeers == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 8;
		struct peer *np = realloc(cl->peers, cap * sizeof(*np));

		if (!np) {
			rc = -ENOMEM;
			goto out;
		}
		cl->peers = np;
		cl->cap = cap;
	}
	p = &cl->peers[cl->npeers];
	snprintf(p->url, sizeof(p->url), "%s", url);
	rv = nng_req0_open(&p->sock);
	if (rv) {
		rc = nng_to_errno(rv);
		goto out;
	}
	nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, CFS_RPC_MAX_FRAME);
	/* retries are ours, with timeouts the caller chose */
	nng_socket_set_ms(p->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, 500);
	rv = nng_dial(p->sock, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv) {
		nng_close(p->sock);
		rc = nng_to_errno(rv);
		goto out;
	}
	cl->npeers++;
	*out = p->sock;
out:
	pthread_mutex_unlock(&cl->lock);
	return rc;
}

/* Reply bodies are unpacked into an arena released in one piece: a
 * listing's reply is thousands of small allocations (malloc and free
 * were a fifth of a client's time reading a 776-entry directory). */
struct arena {
	struct arena *next;
	size_t used, cap;
	max_align_t data[];
};

/* A new first block of at least cap bytes. */
static bool arena_grow(struct arena **head, size_t cap)
{
	struct arena *n = malloc(sizeof(*n) + cap);

	if (!n)
		return false;
	n->next = *head;
	n->used = 0;
	n->cap = cap;
	*head = n;
	return true;
}

static void *arena_alloc(void *p, size_t size)
{
	struct arena **head = p, *a = *head;
	void *r;

	size = (size + 15) & ~(size_t)15;
	if (!a || a->cap - a->used < size) {
		size_t cap = a ? 2 * a->cap : 4096;

		if (!arena_grow(head, cap > size ? cap : size))
			return NULL;
		a = *head;
	}
	r = (char *)a->data + a->used;
	a->used += size;
	return r;
}

static void arena_free(void *p, void *ptr)
{
	(void)p;
	(void)ptr;	/* all of it goes at once */
}

static void arena_release(struct arena *a)
{
	while (a) {
		struct arena *next = a->next;

		free(a);
		a = next;
	}
}

static int parse_reply(struct cfs_rpc_call *c, nng_msg *m)
{
	const uint8_t *env_bytes;
	size_t env_len;
	Cfs__RpcReply *env;
	int rc;

	rc = frame_split(nng_msg_body(m), nng_msg_len(m), &env_bytes, &env_len,
			 &c->rep_bulk, &c->rep_bulk_len);
	if (rc)
		return rc;
	env = cfs__rpc_reply__unpack(NULL, env_len, env_bytes);
	if (!env)
		return -EBADMSG;
	rc = status_from_wire(env->status);
	if (env->version != CFS_PROTO_VERSION)
		rc = -EPROTO;
	else if (c->rep_desc && env->body.len) {
		ProtobufCAllocator in_arena = { arena_alloc, arena_free,
						&c->arena };

		/* unpacked, a body is about four times its wire size */
		if (!c->rep_keep)
			arena_grow((struct arena **)&c->arena,
				   4 * env->body.len + 256);
		c->rep = protobuf_c_message_unpack(c->rep_desc,
						   c->rep_keep ? NULL :
								 &in_arena,
						   env->body.len,
						   env->body.data);
		if (!c->rep)
			rc = -EBADMSG;
	}
	cfs__rpc_reply__free_unpacked(env, NULL);
	return rc;
}

struct inflight {
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *frame;		/* the request, kept for retries */
	bool open, due, sending, waiting;
	int attempts_left;
};

void cfs_rpc_call_many(struct cfs_rpc_client *cl, const char *const *addrs,
		       struct cfs_rpc_call *const *calls, int *status, int n)
{
	struct inflight *f = calloc((size_t)n, sizeof(*f));
	bool again = true;

	if (!f) {
		for (int i = 0; i < n; i++)
			status[i] = -ENOMEM;
		return;
	}
	for (int i = 0; i < n; i++) {
		struct cfs_rpc_call *c = calls[i];

		c->rep = NULL;
		c->msg = NULL;
		c->arena = NULL;
		c->rep_bulk = NULL;
		c->rep_bulk_len = 0;
		if (!c->request_id)
			c->request_id = atomic_fetch_add(&cl->next_request, 1);
		f[i].attempts_left = c->attempts > 0 ? c->attempts : 1;
		status[i] = request_frame(c->method, cl->client_id,
					  c->request_id, c->req, c->bulk,
					  c->bulk_len, &f[i].frame);
		if (status[i] == 0 && nng_aio_alloc(&f[i].aio, NULL, NULL))
			status[i] = -ENOMEM;
		f[i].due = status[i] == 0;
	}
	while (again) {
		again = false;
		/* start every send that is due */
		for (int i = 0; i < n; i++) {
			struct cfs_rpc_call *c = calls[i];
			int t = c->timeout_ms > 0 ? c->timeout_ms : 5000;
			nng_socket sock;
			nng_msg *copy;

			if (!f[i].due)
				continue;
			f[i].due = false;
			f[i].attempts_left--;
			status[i] = peer_socket(cl, addrs[i], &sock);
			if (status[i])
				continue;
			if (f[i].open)
				nng_ctx_close(f[i].ctx);
			f[i].open = false;
			/* the last attempt sends the frame itself: a
			 * copy is kept only for a retry */
			copy = f[i].frame;
			if (nng_ctx_open(&f[i].ctx, sock) ||
			    (f[i].attempts_left > 0 &&
			     nng_msg_dup(&copy, f[i].frame))) {
				status[i] = -ENOMEM;
				continue;
			}
			if (copy == f[i].frame)
				f[i].frame = NULL;
			f[i].open = true;
			nng_aio_set_timeout(f[i].aio, t);
			nng_aio_set_msg(f[i].aio, copy);
			nng_ctx_send(f[i].ctx, f[i].aio);
			f[i].sending = true;
		}
		for (int i = 0; i < n; i++) {
			int rv;

			if (!f[i].sending)
				continue;
			f[i].sending = false;
			nng_aio_wait(f[i].aio);
			rv = nng_aio_result(f[i].aio);
			if (rv) {
				nng_msg_free(nng_aio_get_msg(f[i].aio));
				status[i] = nng_to_errno(rv);
				continue;
			}
			nng_ctx_recv(f[i].ctx, f[i].aio);
			f[i].waiting = true;
		}
		for (int i = 0; i < n; i++) {
			int rv;

			if (!f[i].waiting)
				continue;
			f[i].waiting = false;
			nng_aio_wait(f[i].aio);
			rv = nng_aio_result(f[i].aio);
			if (rv) {
				status[i] = nng_to_errno(rv);
				continue;
			}
			calls[i]->msg = nng_aio_get_msg(f[i].aio);
			status[i] = parse_reply(calls[i], calls[i]->msg);
		}
		for (int i = 0; i < n; i++) {
			if (calls[i]->msg == NULL && transport_error(status[i]) &&
			    f[i].attempts_left > 0) {
				f[i].due = true;
				again = true;
			}
		}
	}
	for (int i = 0; i < n; i++) {
		if (f[i].open)
			nng_ctx_close(f[i].ctx);
		if (f[i].aio)
			nng_aio_free(f[i].aio);
		if (f[i].frame)
			nng_msg_free(f[i].frame);
	}
	free(f);
}

int cfs_rpc_call(struct cfs_rpc_client *cl, const char *addr,
		 struct cfs_rpc_call *c)
{
	int status;

	cfs_rpc_call_many(cl, &addr, &c, &status, 1);
	return status;
}

void cfs_rpc_call_done(struct cfs_rpc_call *c)
{
	if (c->rep && c->rep_keep)
		protobuf_c_message_free_unpacked(c->rep, NULL);
	arena_release(c->arena);
	if (c->msg)
		nng_msg_free(c->msg);
	c->rep = NULL;
	c->msg = NULL;
	c->arena = NULL;
	c->rep_bulk = NULL;
	c->rep_bulk_len = 0;
}

/* ---- publish / subscribe ---- */

struct cfs_pub {
	nng_socket sock;
};

struct cfs_sub {
	nng_socket sock;
};

int cfs_pub_open(struct cfs_pub **out, const char *addr)
{
	struct cfs_pub *p = calloc(1, sizeof(*p));
	char url[256];
	int rv;

	if (!p)
		return -ENOMEM;
	rv = nng_pub0_open(&p->sock);
	if (rv == 0) {
		cfs_rpc_url(addr, url, sizeof(url));
		rv = nng_listen(p->sock, url, NULL, 0);
		if (rv) {
			cfs_log_error("cannot listen", "addr=%s err=\"%s\"",
				      url, nng_strerror(rv));
			nng_close(p->sock);
		}
	}
	if (rv) {
		free(p);
		return nng_to_errno(rv);
	}
	*out = p;
	return 0;
}

int cfs_pub_send(struct cfs_pub *p, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	nng_msg *msg;
	int rv;

	if (nng_msg_alloc(&msg, len))
		return -ENOMEM;
	protobuf_c_message_pack(m, nng_msg_body(msg));
	rv = nng_sendmsg(p->sock, msg, 0);
	if (rv)
		nng_msg_free(msg);
	return nng_to_errno(rv);
}

void cfs_pub_close(struct cfs_pub *p)
{
	if (!p)
		return;
	nng_close(p->sock);
	free(p);
}

int cfs_sub_open(struct cfs_sub **out, const char *addr)
{
	struct cfs_sub *s = calloc(1, sizeof(*s));
	char url[256];
	int rv;

	if (!s)
		return -ENOMEM;
	rv = nng_sub0_open(&s->sock);
	if (rv == 0) {
		nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
		nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ,
				    CFS_RPC_MAX_FRAME);
		nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 20);
		nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 500);
		cfs_rpc_url(addr, url, sizeof(url));
		rv = nng_dial(s->sock, url, NULL, NNG_FLAG_NONBLOCK);
		if (rv)
			nng_close(s->sock);
	}
	if (rv) {
		free(s);
		return nng_to_errno(rv);
	}
	*out = s;
	return 0;
}

int cfs_sub_recv(struct cfs_sub *s, const ProtobufCMessageDescriptor *d,
		 ProtobufCMessage **out, int timeout_ms)
{
	nng_msg *msg;
	int rv;

	nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	rv = nng_recvmsg(s->sock, &msg, 0);
	if (rv)
		return nng_to_errno(rv);
	*out = protobuf_c_message_unpack(d, NULL, nng_msg_len(msg),
					 nng_msg_body(msg));
	nng_msg_free(msg);
	return *out ? 0 : -EBADMSG;
}

void cfs_sub_close(struct cfs_sub *s)
{
	if (!s)
		return;
	nng_close(s->sock);
	free(s);
}
