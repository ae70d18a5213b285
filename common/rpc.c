/* The RPC layer over nng byte streams (TCP). See include/cfs/rpc.h for
 * the contract.
 *
 * Frames: [u32 envelope length][u32 bulk length][envelope][bulk], the
 * lengths little-endian. The envelope is an RpcRequest or RpcReply
 * (proto/rpc.proto) whose body field holds the method's own message,
 * packed. A connection carries one call at a time: a request, then its
 * reply.
 *
 * Secured (the process has an identity, cfs_rpc_set_identity): a
 * connection starts with the handshake of secure.c, its three messages
 * as [u32 length][u32 0][bytes]; then each frame travels as a sealed
 * record (recv_sealed): its header and envelope sealed under the
 * connection's key, its bulk apart under a key of its own that the
 * envelope's record carries, so a daemon passing a request on (the
 * primary OSD to the replicas) sends the bulk as it came. A
 * server that refuses a peer sends it "CFSX" and the reason in place of
 * its WELCOME, and hangs up.
 *
 * Why streams and not nng's REQ/REP sockets: a REQ/REP message passes
 * from nng's poller thread to one of its task threads and then to the
 * thread waiting for it, on each side; every hand-off wakes a thread,
 * which costs tens of microseconds on a virtual machine. A round trip
 * was 190-210 us on the 2-core test machine; read and written by the
 * waiting thread itself on a stream, 100 us (raw TCP: 75 us).
 *
 * Server: a thread accepts connections and each connection is served
 * by a thread of its own: receive, handle, send, synchronously, so
 * handlers may block (on disk, on calls to other daemons). At most
 * nworkers handlers run at once. A peer that sends something that is
 * not a frame, or stalls within one, is hung up on.
 *
 * Reply cache (replies.h): for methods marked cache_reply, the packed
 * reply frame is kept per client by request id until the client says it
 * has it (each request carries the lowest id its client still waits
 * on); a retry of a request already answered gets the same frame back,
 * and a retry of one still running waits for it.
 *
 * Client: per peer address, a dialer and a pool of idle connections. A
 * call takes an idle connection or dials a new one (again and again
 * until its deadline while the peer is not listening, as a restarting
 * daemon comes back), sends, reads the reply and gives the connection
 * back; after a failure the connection is closed, so a late reply is
 * never taken for another call's. Concurrent calls use connections of
 * their own; cfs_rpc_call_many starts every send before reading any
 * reply, so calls to different peers overlap. */
#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cfs/clock.h"
#include "cfs/log.h"
#include "cfs/rpc.h"
#include "cfs/secure.h"
#include "replies.h"
#include "rpc.pb-c.h"

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

/* ---- frames ---- */

#define HDR 8		/* envelope length, bulk length */

/* A frame in one buffer, as received or as kept in the reply cache. */
struct frame {
	uint8_t *p;
	size_t len;
};

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The header and packed envelope of a frame, malloc'd into *out; the
 * bulk is sent after it from where it lies, or copied in (copy_bulk). */
static int frame_pack(const ProtobufCMessage *env, const void *bulk,
		      size_t bulk_len, bool copy_bulk, struct frame *out)
{
	size_t env_len = protobuf_c_message_get_packed_size(env);

	if (env_len + bulk_len + HDR > CFS_RPC_MAX_FRAME)
		return -EMSGSIZE;
	out->len = HDR + env_len + (copy_bulk ? bulk_len : 0);
	out->p = malloc(out->len);
	if (!out->p)
		return -ENOMEM;
	put_le32(out->p, (uint32_t)env_len);
	put_le32(out->p + 4, (uint32_t)bulk_len);
	protobuf_c_message_pack(env, out->p + HDR);
	if (copy_bulk && bulk_len)
		memcpy(out->p + HDR + env_len, bulk, bulk_len);
	return 0;
}

/* Check a frame header: 0 and the total length, or -EBADMSG. */
static int frame_header(const uint8_t *h, size_t *total)
{
	uint64_t env_len = get_le32(h), bulk_len = get_le32(h + 4);

	if (env_len + bulk_len + HDR > CFS_RPC_MAX_FRAME)
		return -EBADMSG;
	*total = HDR + env_len + bulk_len;
	return 0;
}

/* Split a whole frame into its envelope bytes and bulk tail. */
static int frame_split(const void *frame, size_t len, const uint8_t **env,
		       size_t *env_len, const void **bulk, size_t *bulk_len)
{
	const uint8_t *p = frame;
	size_t total;

	if (len < HDR || frame_header(p, &total) || total != len)
		return -EBADMSG;
	*env = p + HDR;
	*env_len = get_le32(p);
	*bulk = p + HDR + *env_len;
	*bulk_len = get_le32(p + 4);
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

/* A request's header and envelope; the bulk stays where it is. */
static int request_frame(uint32_t method, uint64_t client_id,
			 uint64_t request_id, uint64_t acked,
			 const ProtobufCMessage *body, size_t bulk_len,
			 struct frame *out)
{
	Cfs__RpcRequest env = CFS__RPC_REQUEST__INIT;
	int rc;

	env.version = CFS_PROTO_VERSION;
	env.method = method;
	env.client_id = client_id;
	env.request_id = request_id;
	env.acked = acked;
	rc = body_pack(body, &env.body);
	if (rc)
		return rc;
	rc = frame_pack(&env.base, NULL, bulk_len, false, out);
	free(env.body.data);
	return rc;
}

/* A whole reply frame, its bulk copied in. */
static int reply_frame(int status, const ProtobufCMessage *body,
		       const void *bulk, size_t bulk_len, const char *leader,
		       struct frame *out)
{
	Cfs__RpcReply env = CFS__RPC_REPLY__INIT;
	int rc;

	env.version = CFS_PROTO_VERSION;
	env.status = status;
	if (leader)
		env.leader = (char *)leader;
	rc = body_pack(body, &env.body);
	if (rc)
		return rc;
	rc = frame_pack(&env.base, bulk, bulk_len, true, out);
	free(env.body.data);
	return rc;
}

int cfs_rpc_frame_encode(uint32_t method, uint64_t client_id,
			 uint64_t request_id, uint64_t acked,
			 const ProtobufCMessage *body,
			 const void *bulk, size_t bulk_len, void **out,
			 size_t *out_len)
{
	struct frame f;
	uint8_t *p;
	int rc = request_frame(method, client_id, request_id, acked, body,
			       bulk_len, &f);

	if (rc)
		return rc;
	p = realloc(f.p, f.len + bulk_len);
	if (!p) {
		free(f.p);
		return -ENOMEM;
	}
	if (bulk_len)
		memcpy(p + f.len, bulk, bulk_len);
	*out = p;
	*out_len = f.len + bulk_len;
	return 0;
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
	rq->acked = env->acked;
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

/* ---- stream I/O ---- */

/* One connection's stream and the aio every operation on it uses. */
struct conn {
	nng_stream *s;
	nng_aio *aio;
	struct cfs_secure *sec;	/* NULL: the connection is not secured */
	struct cfs_token *peer;	/* server side, secured: the peer's token */
	uint64_t revoked_seen;	/* the revocation list it was checked against */
	struct conn *next;
};

static int conn_new(nng_stream *s, struct conn **out)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c || nng_aio_alloc(&c->aio, NULL, NULL)) {
		free(c);
		return -ENOMEM;
	}
	c->s = s;
	*out = c;
	return 0;
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	nng_stream_close(c->s);
	nng_aio_free(c->aio);	/* waits for any operation to end */
	nng_stream_free(c->s);
	if (c->sec) {
		cfs_secure_wipe(c->sec);
		free(c->sec);
	}
	free(c->peer);
	free(c);
}

/* Bytes to move on a connection: up to three pieces. */
struct xfer {
	nng_iov iov[3];
	unsigned n;
	bool send;
	size_t moved;		/* in all */
};

static void xfer_start(struct conn *c, struct xfer *x, int64_t deadline)
{
	if (deadline) {
		int64_t left = deadline - cfs_mono_ms();

		nng_aio_set_timeout(c->aio, left > 0 ? (nng_duration)left : 1);
	} else {
		nng_aio_set_timeout(c->aio, NNG_DURATION_INFINITE);
	}
	nng_aio_set_iov(c->aio, x->n, x->iov);
	if (x->send)
		nng_stream_send(c->s, c->aio);
	else
		nng_stream_recv(c->s, c->aio);
}

/* Wait for the transfer started, and move the rest of it. */
static int xfer_finish(struct conn *c, struct xfer *x, int64_t deadline)
{
	for (;;) {
		size_t done;
		int rv;

		nng_aio_wait(c->aio);
		rv = nng_aio_result(c->aio);
		if (rv == NNG_ECLOSED)
			return -ECONNRESET;
		if (rv)
			return nng_to_errno(rv);
		done = nng_aio_count(c->aio);
		if (done == 0)
			return -ECONNRESET;
		x->moved += done;
		while (x->n && done >= x->iov[0].iov_len) {
			done -= x->iov[0].iov_len;
			memmove(x->iov, x->iov + 1, --x->n * sizeof(x->iov[0]));
		}
		if (x->n == 0)
			return 0;
		x->iov[0].iov_buf = (uint8_t *)x->iov[0].iov_buf + done;
		x->iov[0].iov_len -= done;
		xfer_start(c, x, deadline);
	}
}

static void xfer_add(struct xfer *x, const void *p, size_t len)
{
	if (len)
		x->iov[x->n++] = (nng_iov){ .iov_buf = (void *)p,
					    .iov_len = len };
}

/* A bulk as a secured connection brought it, kept while its request is
 * handled so that a daemon passing the request on sends it as it came
 * (cfs_rpc_call.bulk_sealed), on a connection that seals the same way. */
struct sealed_bulk {
	uint8_t key[CFS_SECURE_KEY], tag[CFS_SECURE_TAG];
	uint8_t *ct;		/* encrypted: the bulk as received; else NULL
				 * (it travels as it is) */
	bool encrypt, aes;
};

static void sealed_bulk_free(struct sealed_bulk *sb)
{
	if (!sb)
		return;
	free(sb->ct);
	sodium_memzero(sb->key, sizeof(sb->key));
	free(sb);
}

/* The rest of a sealed record whose header is in hdr, opened: the frame
 * it carries, in a new buffer, and if keep is not NULL its bulk as it
 * came (NULL without one). A record: [u32 head length n][u32 bulk
 * length b][the frame's header and envelope, and with a bulk its key,
 * sealed][tag], then with a bulk [the bulk sealed under its key][tag]
 * (cfs/secure.h). */
static int recv_sealed(struct conn *c, const uint8_t *hdr, struct frame *f,
		       struct sealed_bulk **keep, int64_t deadline)
{
	struct xfer x = { .n = 0 };
	size_t n = get_le32(hdr), b = get_le32(hdr + 4), total;
	size_t key = b ? CFS_SECURE_KEY : 0;
	struct sealed_bulk *sb = NULL;
	uint8_t *head = NULL, *wire = NULL;	/* where the bulk lands */
	int rc = -ENOMEM;

	f->p = NULL;
	if (n < HDR || n + b > CFS_RPC_MAX_FRAME)
		return -EBADMSG;
	head = malloc(n + key + CFS_SECURE_TAG);
	f->p = malloc(n + b);
	if (b)
		sb = calloc(1, sizeof(*sb));
	if (!head || !f->p || (b && !sb))
		goto out;
	sb = b ? sb : NULL;
	xfer_add(&x, head, n + key + CFS_SECURE_TAG);
	if (b) {
		sb->encrypt = c->sec->encrypt;
		sb->aes = c->sec->aes;
		if (sb->encrypt && !(sb->ct = malloc(b)))
			goto out;
		wire = sb->ct ? sb->ct : f->p + n;
		xfer_add(&x, wire, b);
		xfer_add(&x, sb->tag, CFS_SECURE_TAG);
	}
	xfer_start(c, &x, deadline);
	rc = xfer_finish(c, &x, deadline);
	if (rc)
		goto out;
	rc = -EBADMSG;
	if (cfs_secure_open(c->sec, head, n + key, key, head + n + key) ||
	    frame_header(head, &total) || get_le32(head) != n - HDR ||
	    get_le32(head + 4) != b)
		goto out;
	memcpy(f->p, head, n);
	if (b) {
		memcpy(sb->key, head + n, CFS_SECURE_KEY);
		if (cfs_secure_open_bulk(c->sec, sb->key, wire, b, f->p + n,
					 sb->tag))
			goto out;
	}
	f->len = n + b;
	rc = 0;
out:
	if (head) {
		sodium_memzero(head + n, key);
		free(head);
	}
	if (rc) {
		free(f->p);
		f->p = NULL;
	}
	if (keep && !rc)
		*keep = sb;
	else
		sealed_bulk_free(sb);
	return rc;
}

/* The rest of a frame whose header is in hdr: into a new buffer; on a
 * secured connection, its bulk as it came into *keep if not NULL (see
 * recv_sealed). */
static int recv_body(struct conn *c, const uint8_t *hdr, struct frame *f,
		     struct sealed_bulk **keep, int64_t deadline)
{
	struct xfer x = { .n = 0 };
	int rc;

	if (keep)
		*keep = NULL;
	if (c->sec)
		return recv_sealed(c, hdr, f, keep, deadline);
	rc = frame_header(hdr, &f->len);
	if (rc)
		return rc;
	f->p = malloc(f->len);
	if (!f->p)
		return -ENOMEM;
	memcpy(f->p, hdr, HDR);
	xfer_add(&x, f->p + HDR, f->len - HDR);
	if (x.n) {
		xfer_start(c, &x, deadline);
		rc = xfer_finish(c, &x, deadline);
	}
	if (!rc && f->len >= HDR + 4 && !get_le32(f->p + 4) &&
	    !memcmp(f->p + HDR, "CFSX", 4)) {
		/* a secured server's refusal, to a request sent in the clear */
		cfs_log_warn("refused by the server: this end has no token",
			     "reason=\"%.*s\"", (int)(f->len - HDR - 4 < 150 ?
							 f->len - HDR - 4 : 150),
			     (const char *)f->p + HDR + 4);
		rc = -EACCES;
	}
	if (rc) {
		free(f->p);
		f->p = NULL;
	}
	return rc;
}

/* ---- security (cfs/secure.h) ---- */

#define HANDSHAKE_MS 5000	/* for a whole handshake */
#define SERVER_ROLES (1u << CFS_ROLE_MDS | 1u << CFS_ROLE_OSD |          \
		      1u << CFS_ROLE_TIERD | 1u << CFS_ROLE_REPLD |        \
		      1u << CFS_ROLE_GATEWAY)

struct cfs_rpc_identity {
	struct cfs_token tok;
	char cred[CFS_TOKEN_MAX];
	bool encrypt;
	unsigned admit;		/* roles a server lets in */
};

static struct cfs_rpc_identity *_Atomic default_identity;
static _Atomic uint64_t refused;

int cfs_rpc_identity_new(const char *token, bool encrypt, unsigned admit,
			 struct cfs_rpc_identity **out, char *why,
			 size_t whylen)
{
	struct cfs_rpc_identity *id = calloc(1, sizeof(*id));
	int rc;

	if (!id)
		return -ENOMEM;
	rc = cfs_token_parse(token, &id->tok, why, whylen);
	if (!rc && !id->tok.has_sk) {
		snprintf(why, whylen, "a credential, not a token: its key "
				      "is missing");
		rc = -EINVAL;
	}
	if (!rc)
		rc = cfs_token_credential(token, id->cred, sizeof(id->cred));
	if (rc) {
		cfs_rpc_identity_free(id);
		return rc;
	}
	id->encrypt = encrypt;
	id->admit = admit;
	*out = id;
	return 0;
}

int cfs_rpc_identity_load(const char *path, bool encrypt, unsigned admit,
			  struct cfs_rpc_identity **out, char *why,
			  size_t whylen)
{
	char line[CFS_TOKEN_MAX];
	int rc = cfs_token_read_file(path, line, sizeof(line));

	if (rc) {
		snprintf(why, whylen, "cannot read %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	rc = cfs_rpc_identity_new(line, encrypt, admit, out, why, whylen);
	sodium_memzero(line, sizeof(line));
	return rc;
}

void cfs_rpc_identity_free(struct cfs_rpc_identity *id)
{
	if (!id)
		return;
	sodium_memzero(id, sizeof(*id));
	free(id);
}

const struct cfs_token *cfs_rpc_identity_token(
	const struct cfs_rpc_identity *id)
{
	return &id->tok;
}

void cfs_rpc_set_identity(struct cfs_rpc_identity *id)
{
	atomic_store(&default_identity, id);
}

static _Atomic cfs_rpc_admit_fn default_admit;

void cfs_rpc_set_admit(cfs_rpc_admit_fn fn)
{
	atomic_store(&default_admit, fn);
}

uint64_t cfs_rpc_refused(void)
{
	return atomic_load(&refused);
}

/* The revoked token ids, sorted; revoked_gen counts the lists set. */
static pthread_mutex_t revoked_lock = PTHREAD_MUTEX_INITIALIZER;
static char (*revoked_ids)[sizeof(((struct cfs_token *)0)->id)];
static size_t nrevoked;
static _Atomic uint64_t revoked_gen;

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int cfs_rpc_revoke(char *const *ids, size_t n)
{
	char (*list)[sizeof(*revoked_ids)] = n ? calloc(n, sizeof(*list)) :
						 NULL;

	if (n && !list)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		snprintf(list[i], sizeof(list[i]), "%s", ids[i]);
	if (n)	/* qsort's base must not be NULL, even for none */
		qsort(list, n, sizeof(*list), id_cmp);
	pthread_mutex_lock(&revoked_lock);
	free(revoked_ids);
	revoked_ids = list;
	nrevoked = n;
	atomic_fetch_add(&revoked_gen, 1);
	pthread_mutex_unlock(&revoked_lock);
	return 0;
}

static bool is_revoked(const char *id)
{
	bool yes;

	pthread_mutex_lock(&revoked_lock);
	yes = nrevoked && bsearch(id, revoked_ids, nrevoked,
				  sizeof(*revoked_ids), id_cmp);
	pthread_mutex_unlock(&revoked_lock);
	return yes;
}

/* A handshake message: [length][0][bytes]. */
static int send_msg(struct conn *c, const uint8_t *m, size_t len,
		    int64_t deadline)
{
	struct xfer x = { .send = true };
	uint8_t h[HDR];

	put_le32(h, (uint32_t)len);
	put_le32(h + 4, 0);
	xfer_add(&x, h, HDR);
	xfer_add(&x, m, len);
	xfer_start(c, &x, deadline);
	return xfer_finish(c, &x, deadline);
}

static int recv_msg(struct conn *c, uint8_t *m, size_t max, size_t *len,
		    int64_t deadline)
{
	struct xfer x = { .n = 0 };
	uint8_t h[HDR] = { 0 };
	int rc;

	xfer_add(&x, h, HDR);
	xfer_start(c, &x, deadline);
	rc = xfer_finish(c, &x, deadline);
	if (rc)
		return rc;
	*len = get_le32(h);
	if (get_le32(h + 4) || *len > max || !*len)
		return -EBADMSG;
	x = (struct xfer){ .n = 0 };
	xfer_add(&x, m, *len);
	xfer_start(c, &x, deadline);
	return xfer_finish(c, &x, deadline);
}

static void peer_name(struct conn *c, char *out, size_t len)
{
	nng_sockaddr sa;

	if (nng_stream_get_addr(c->s, NNG_OPT_REMADDR, &sa) ||
	    sa.s_family != NNG_AF_INET) {
		snprintf(out, len, "?");
		return;
	}
	snprintf(out, len, "%u.%u.%u.%u:%u",
		 ((uint8_t *)&sa.s_in.sa_addr)[0],
		 ((uint8_t *)&sa.s_in.sa_addr)[1],
		 ((uint8_t *)&sa.s_in.sa_addr)[2],
		 ((uint8_t *)&sa.s_in.sa_addr)[3],
		 (unsigned)ntohs(sa.s_in.sa_port));
}

static int refuse(struct conn *c, const char *side, const char *why, int rc)
{
	char addr[64];

	peer_name(c, addr, sizeof(addr));
	atomic_fetch_add(&refused, 1);
	cfs_log_warn("refused a peer", "peer=%s side=%s reason=\"%s\"", addr,
		     side, why);
	return rc;
}

/* The server's side of the handshake on a new connection: 0 with c
 * secured, or the connection is to be hung up on (logged). */
static int server_handshake(const struct cfs_rpc_identity *id,
			    struct conn *c)
{
	int64_t deadline = cfs_mono_ms() + HANDSHAKE_MS;
	uint8_t hello[CFS_SECURE_MSG_MAX], welcome[CFS_SECURE_MSG_MAX];
	uint8_t fin[CFS_SECURE_FINISHED];
	struct cfs_secure_hs hs;
	struct cfs_secure *s = calloc(1, sizeof(*s));
	struct cfs_token peer;
	size_t hlen, wlen, flen;
	char why[160] = "";
	int rc;

	if (!s)
		return -ENOMEM;
	rc = recv_msg(c, hello, sizeof(hello), &hlen, deadline);
	if (rc) {
		snprintf(why, sizeof(why), "no handshake (%s)",
			 rc == -EBADMSG ? "not one" : strerror(-rc));
		goto out;
	}
	rc = cfs_secure_welcome(&hs, &id->tok, id->cred, id->encrypt, hello,
				hlen, &peer, welcome, &wlen, s, why,
				sizeof(why));
	if (!rc && !(id->admit & 1u << peer.role)) {
		snprintf(why, sizeof(why), "a token of role %s, which this "
			 "daemon does not serve", cfs_role_name(peer.role));
		rc = -EACCES;
	}
	if (!rc && is_revoked(peer.id)) {
		snprintf(why, sizeof(why), "token %s is revoked", peer.id);
		rc = -EACCES;
	}
	if (rc) {	/* tell the peer why, then hang up */
		char no[4 + sizeof(why)];
		size_t n = (size_t)snprintf(no, sizeof(no), "CFSX%s", why);

		send_msg(c, (const uint8_t *)no, n, deadline);
		goto out;
	}
	rc = send_msg(c, welcome, wlen, deadline);
	if (!rc)
		rc = recv_msg(c, fin, sizeof(fin), &flen, deadline);
	if (!rc && cfs_secure_finish(&hs, s, fin, flen)) {
		snprintf(why, sizeof(why), "the handshake did not finish: "
			 "not the holder of token %s, or a replay", peer.id);
		rc = -EACCES;
	}
	if (rc && !why[0])
		snprintf(why, sizeof(why), "the handshake broke off (%s)",
			 strerror(-rc));
out:
	if (rc) {
		cfs_secure_wipe(s);
		free(s);
		return refuse(c, "server", why, rc);
	}
	c->peer = malloc(sizeof(*c->peer));
	if (!c->peer) {
		cfs_secure_wipe(s);
		free(s);
		return -ENOMEM;
	}
	*c->peer = peer;
	c->sec = s;
	return 0;
}

/* The client's side, on a connection just dialed. */
static int client_handshake(const struct cfs_rpc_identity *id,
			    struct conn *c, int64_t deadline)
{
	uint8_t m[CFS_SECURE_MSG_MAX], fin[CFS_SECURE_FINISHED];
	struct cfs_secure_hs hs;
	struct cfs_secure *s = calloc(1, sizeof(*s));
	struct cfs_token peer;
	char why[160] = "";
	size_t len;
	int rc;

	if (!s)
		return -ENOMEM;
	rc = cfs_secure_hello(&hs, id->cred, id->encrypt, m, &len);
	if (!rc)
		rc = send_msg(c, m, len, deadline);
	if (!rc)
		rc = recv_msg(c, m, sizeof(m), &len, deadline);
	if (rc) {	/* a server that hangs up refused us (its log says why) */
		cfs_secure_wipe(s);
		free(s);
		return rc == -EBADMSG ? refuse(c, "client", "the server "
					       "answered no handshake",
					       -EPROTO) :
			rc;
	}
	if (len >= 4 && !memcmp(m, "CFSX", 4)) {
		snprintf(why, sizeof(why), "the server refused this end: %.*s",
			 (int)(len - 4 < 150 ? len - 4 : 150),
			 (const char *)m + 4);
		rc = -EACCES;
	} else {
		rc = cfs_secure_client_keys(&hs, &id->tok, m, len, &peer, s,
					    fin, why, sizeof(why));
	}
	if (!rc && !(SERVER_ROLES & 1u << peer.role)) {
		snprintf(why, sizeof(why), "a server holding a %s token",
			 cfs_role_name(peer.role));
		rc = -EACCES;
	}
	if (!rc && is_revoked(peer.id)) {
		snprintf(why, sizeof(why), "a server holding revoked token "
			 "%s", peer.id);
		rc = -EACCES;
	}
	if (!rc)
		rc = send_msg(c, fin, sizeof(fin), deadline);
	if (rc) {
		cfs_secure_wipe(s);
		free(s);
		return why[0] ? refuse(c, "client", why, rc) : rc;
	}
	c->sec = s;
	return 0;
}

/* A frame as a sealed record, to send as its pieces (record_add). */
struct record {
	uint8_t *p;		/* [n][b][head and bulk key, sealed][tag],
				 * then the bulk's tag */
	size_t len;		/* up to the bulk's tag */
	const void *bulk;	/* the bulk as sent: sealed into ct, passed
				 * on as it came, or authenticated only */
	size_t bulk_len;
	uint8_t *ct;		/* malloc'd here, or NULL */
};

static void record_free(struct record *r)
{
	free(r->p);
	free(r->ct);
	*r = (struct record){ .p = NULL };
}

/* Seal a frame, its header and envelope (hlen bytes at head; the header
 * gives the bulk's length) and its bulk (at bulk, where it lies), as a
 * record (see recv_sealed): the bulk under a new key of its own, or if
 * fwd is the way it came and this connection seals the same way, as it
 * came. */
static int seal_record(struct cfs_secure *s, const uint8_t *head, size_t hlen,
		       const void *bulk, const struct sealed_bulk *fwd,
		       struct record *r)
{
	size_t blen = get_le32(head + 4);
	size_t key = blen ? CFS_SECURE_KEY : 0;
	uint8_t *k, *tag;

	*r = (struct record){ .bulk = bulk, .bulk_len = blen };
	r->len = HDR + hlen + key + CFS_SECURE_TAG;
	r->p = malloc(r->len + (blen ? CFS_SECURE_TAG : 0));
	if (!r->p)
		return -ENOMEM;
	put_le32(r->p, (uint32_t)hlen);
	put_le32(r->p + 4, (uint32_t)blen);
	memcpy(r->p + HDR, head, hlen);
	k = r->p + HDR + hlen;
	tag = r->p + r->len;
	if (blen && fwd && fwd->encrypt == s->encrypt && fwd->aes == s->aes) {
		memcpy(k, fwd->key, CFS_SECURE_KEY);
		memcpy(tag, fwd->tag, CFS_SECURE_TAG);
		if (fwd->ct)
			r->bulk = fwd->ct;
	} else if (blen) {
		randombytes_buf(k, CFS_SECURE_KEY);
		if (s->encrypt) {
			r->ct = malloc(blen);
			if (!r->ct) {
				record_free(r);
				return -ENOMEM;
			}
			r->bulk = r->ct;
		}
		cfs_secure_seal_bulk(s, k, bulk, blen, r->ct, tag);
	}
	cfs_secure_seal(s, r->p + HDR, hlen + key, key, k + key);
	return 0;
}

/* A record's pieces onto a send. */
static void record_add(struct xfer *x, const struct record *r)
{
	xfer_add(x, r->p, r->len);
	if (r->bulk_len) {
		xfer_add(x, r->bulk, r->bulk_len);
		xfer_add(x, r->p + r->len, CFS_SECURE_TAG);
	}
}

/* ---- server ---- */

#define BODY_TIMEOUT_MS 30000	/* for the rest of a frame once begun, and
				 * for a reply to be taken */
#define CONNS_MAX 4096		/* connections served at once */

/* A connection being served, by a thread of its own. */
struct srv_conn {
	struct cfs_rpc_server *srv;
	struct conn *c;
	pthread_t thread;
	bool done;		/* its thread has ended (srv->lock) */
	struct srv_conn *next;
};

struct cfs_rpc_server {
	nng_stream_listener *listener;
	pthread_t acceptor;
	/* fault injection for tests: drop every Nth reply to a cached
	 * (non-idempotent) method after running it; 0 is off */
	unsigned drop_every;
	_Atomic unsigned replies;
	const struct cfs_rpc_method *methods;
	size_t nmethods;
	void *arg;
	sem_t handlers;			/* at most nworkers at once */
	pthread_mutex_t lock;		/* guards conns, nconns, stopping */
	struct srv_conn *conns;
	unsigned nconns;
	bool stopping;
	struct reply_cache *cache;
	const struct cfs_rpc_identity *id;	/* NULL: not secured */
	cfs_rpc_admit_fn admit;			/* NULL: none */
};

int cfs_rpc_reply(struct cfs_rpc_req *rq, const ProtobufCMessage *rep,
		  const void *bulk, size_t bulk_len)
{
	struct frame *f = rq->reply;
	struct frame m;
	int rc = reply_frame(0, rep, bulk, bulk_len, NULL, &m);

	if (rc)
		return rc;
	if (!f) {
		f = malloc(sizeof(*f));
		if (!f) {
			free(m.p);
			return -ENOMEM;
		}
		rq->reply = f;
	} else {
		free(f->p);
	}
	*f = m;
	return 0;
}

void cfs_rpc_req_done(struct cfs_rpc_req *rq)
{
	struct frame *f = rq->reply;

	if (f)
		free(f->p);
	free(f);
	rq->reply = NULL;
}

/* The reply to send: the handler's, with status set, or an empty one;
 * out->p is NULL if there is none (out of memory). */
static void finish_reply(struct cfs_rpc_req *rq, int status, struct frame *out)
{
	struct frame *f = rq->reply;
	const uint8_t *env_bytes;
	const void *bulk;
	size_t env_len, bulk_len;
	Cfs__RpcReply *env;

	rq->reply = NULL;
	out->p = NULL;
	if (!f) {
		if (reply_frame(status, NULL, NULL, 0,
				status == -EREMCHG && rq->leader[0] ?
					rq->leader : NULL, out))
			out->p = NULL;
		return;
	}
	if (status == 0) {
		*out = *f;
		free(f);
		return;
	}
	/* a handler that failed after setting a reply: keep its body */
	if (frame_split(f->p, f->len, &env_bytes, &env_len, &bulk,
			&bulk_len) == 0 &&
	    (env = cfs__rpc_reply__unpack(NULL, env_len, env_bytes))) {
		env->status = status;
		if (frame_pack(&env->base, bulk, bulk_len, true, out))
			out->p = NULL;
		cfs__rpc_reply__free_unpacked(env, NULL);
	}
	free(f->p);
	free(f);
}

/* On a secured connection the client id a handler sees is the one the
 * client sent bound to its token (BLAKE2b of both): the reply cache,
 * opens, locks and sessions keyed by it cannot be reached from another
 * token by sending the same id. */
static uint64_t bound_client_id(const struct cfs_token *peer, uint64_t id)
{
	uint8_t in[8 + sizeof(peer->id)], out[8];
	uint64_t bound = 0;

	put_le32(in, (uint32_t)id);
	put_le32(in + 4, (uint32_t)(id >> 32));
	memcpy(in + 8, peer->id, sizeof(peer->id));
	crypto_generichash(out, sizeof(out), in, sizeof(in), NULL, 0);
	for (int i = 0; i < 8; i++)
		bound |= (uint64_t)out[i] << (8 * i);
	return bound;
}

/* Run one request; the reply in *out (p NULL: send none). */
static void serve_one(struct cfs_rpc_server *srv, const struct conn *c,
		      const struct frame *in, const struct sealed_bulk *sb,
		      struct frame *out)
{
	struct cfs_rpc_req rq;
	ProtobufCMessage *body;
	const struct cfs_rpc_method *m;
	int rc;

	rc = cfs_rpc_frame_decode_request(in->p, in->len, srv->methods,
					  srv->nmethods, &rq, &body);
	if (rc) {
		cfs_log_warn("rejected malformed request",
			     "method=%u client=%016lx rc=%d", rq.method,
			     (unsigned long)rq.client_id, rc);
		rq.reply = NULL;
		finish_reply(&rq, rc, out);
		return;
	}
	rq.peer = c->peer;
	rq.scope = 0;
	rq.bulk_sealed = sb;
	if (c->peer)
		rq.client_id = bound_client_id(c->peer, rq.client_id);
	m = &srv->methods[rq.method];
	if (m->cache_reply) {
		void *kept;

		rc = reply_cache_begin(srv->cache, rq.client_id,
				       rq.request_id, rq.acked, &kept,
				       &out->len);
		if (rc == 0)
			out->p = kept;
		if (rc <= 0) {
			if (rc == 0)
				cfs_log_debug("answered retry from reply cache",
					      "method=%u client=%016lx req=%lu",
					      rq.method,
					      (unsigned long)rq.client_id,
					      (unsigned long)rq.request_id);
			else
				finish_reply(&rq, rc, out);
			if (rc == -ESTALE)
				cfs_log_warn("refused a late copy of a request "
					     "the client is done with",
					     "method=%u client=%016lx req=%lu",
					     rq.method,
					     (unsigned long)rq.client_id,
					     (unsigned long)rq.request_id);
			protobuf_c_message_free_unpacked(body, NULL);
			return;
		}
	}
	if (!m->waits)
		while (sem_wait(&srv->handlers) && errno == EINTR)
			;
	rc = srv->admit ? srv->admit(srv->arg, &rq, body) : 0;
	if (rc == 0)
		rc = m->fn(srv->arg, &rq, body);
	if (!m->waits)
		sem_post(&srv->handlers);
	finish_reply(&rq, rc, out);
	/* -EREMCHG: not run here (not the group's leader): not kept, so
	 * that a retry here once this server leads runs it */
	if (m->cache_reply)
		reply_cache_end(srv->cache, rq.client_id, rq.request_id,
				rc == -EREMCHG ? NULL : out->p, out->len);
	protobuf_c_message_free_unpacked(body, NULL);
	if (m->cache_reply && srv->drop_every && out->p &&
	    atomic_fetch_add(&srv->replies, 1) % srv->drop_every == 0) {
		cfs_log_info("fault injection: reply dropped",
			     "method=%u client=%016lx req=%lu", rq.method,
			     (unsigned long)rq.client_id,
			     (unsigned long)rq.request_id);
		free(out->p);
		out->p = NULL;
	}
}

/* Whether the token a connection was let in with still stands: not
 * expired since, not revoked since (checked when the list changed). */
static bool peer_still_good(struct conn *c)
{
	uint64_t gen = atomic_load(&revoked_gen);
	char why[96];

	if (c->peer->expires && time(NULL) >= c->peer->expires) {
		snprintf(why, sizeof(why), "token %s expired", c->peer->id);
		refuse(c, "server", why, -EACCES);
		return false;
	}
	if (gen != c->revoked_seen) {
		c->revoked_seen = gen;
		if (is_revoked(c->peer->id)) {
			snprintf(why, sizeof(why), "token %s is revoked",
				 c->peer->id);
			refuse(c, "server", why, -EACCES);
			return false;
		}
	}
	return true;
}

/* A connection's thread: request, handler, reply, until the peer goes,
 * sends something that is not a frame, or the server stops. With no
 * reply to send (out of memory, a fault injected) it hangs up: the
 * client retries on a new connection. */
static void *conn_main(void *p)
{
	struct srv_conn *sc = p;
	struct cfs_rpc_server *srv = sc->srv;
	struct conn *c = sc->c;

	if (srv->id && server_handshake(srv->id, c))
		goto out;
	for (;;) {
		uint8_t hdr[HDR];
		struct xfer x = { .n = 0 };
		struct frame in, out;
		struct sealed_bulk *sb;
		struct record rec = { .p = NULL };
		int64_t deadline;
		bool stopping;
		int rc;

		xfer_add(&x, hdr, HDR);
		/* idle for as long as it likes; started under the lock, as a
		 * receive started on a stream already closed is never ended
		 * (nng 1.5): the stop closes the stream after, or it is seen */
		pthread_mutex_lock(&srv->lock);
		stopping = srv->stopping;
		if (!stopping)
			xfer_start(c, &x, 0);
		pthread_mutex_unlock(&srv->lock);
		if (stopping || xfer_finish(c, &x, 0))
			break;
		deadline = cfs_mono_ms() + BODY_TIMEOUT_MS;
		rc = recv_body(c, hdr, &in, &sb, deadline);
		if (rc) {
			if (rc == -EBADMSG)
				cfs_log_warn("hung up on a peer sending no "
					     "frame", "rc=%d", rc);
			break;
		}
		if (c->peer && !peer_still_good(c)) {
			free(in.p);
			sealed_bulk_free(sb);
			break;
		}
		serve_one(srv, c, &in, sb, &out);
		free(in.p);
		sealed_bulk_free(sb);
		if (!out.p)
			break;
		x = (struct xfer){ .send = true };
		if (c->sec) {
			size_t hlen = HDR + get_le32(out.p);

			rc = seal_record(c->sec, out.p, hlen, out.p + hlen,
					 NULL, &rec);
			if (rc) {
				free(out.p);
				break;
			}
			record_add(&x, &rec);
		} else {
			xfer_add(&x, out.p, out.len);
		}
		xfer_start(c, &x, deadline = cfs_mono_ms() + BODY_TIMEOUT_MS);
		rc = xfer_finish(c, &x, deadline);
		free(out.p);
		record_free(&rec);
		if (rc)
			break;
	}
out:
	nng_stream_close(c->s);
	pthread_mutex_lock(&srv->lock);
	sc->done = true;
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* Join and free the connections whose threads ended (all, at stop). */
static void reap_conns(struct cfs_rpc_server *srv, bool all)
{
	struct srv_conn **pp, *sc, *done = NULL;

	pthread_mutex_lock(&srv->lock);
	for (pp = &srv->conns; (sc = *pp);) {
		if (sc->done || all) {
			*pp = sc->next;
			sc->next = done;
			done = sc;
			srv->nconns--;
		} else {
			pp = &sc->next;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	while ((sc = done)) {
		done = sc->next;
		pthread_join(sc->thread, NULL);
		conn_free(sc->c);
		free(sc);
	}
}

static void *accept_main(void *p)
{
	struct cfs_rpc_server *srv = p;
	nng_aio *aio;

	if (nng_aio_alloc(&aio, NULL, NULL))
		return NULL;
	for (;;) {
		struct srv_conn *sc;
		nng_stream *s;
		int rv;

		nng_stream_listener_accept(srv->listener, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
		if (rv == NNG_ECLOSED)
			break;
		if (rv) {
			usleep(10000);	/* out of descriptors: let some go */
			continue;
		}
		s = nng_aio_get_output(aio, 0);
		reap_conns(srv, false);
		sc = calloc(1, sizeof(*sc));
		if (!sc || conn_new(s, &sc->c)) {
			free(sc);
			nng_stream_free(s);
			continue;
		}
		sc->srv = srv;
		pthread_mutex_lock(&srv->lock);
		if (srv->nconns >= CONNS_MAX) {
			pthread_mutex_unlock(&srv->lock);
			cfs_log_warn("too many connections: refusing one",
				     "max=%d", CONNS_MAX);
			conn_free(sc->c);
			free(sc);
			continue;
		}
		if (pthread_create(&sc->thread, NULL, conn_main, sc)) {
			pthread_mutex_unlock(&srv->lock);
			conn_free(sc->c);
			free(sc);
			continue;
		}
		sc->next = srv->conns;
		srv->conns = sc;
		srv->nconns++;
		pthread_mutex_unlock(&srv->lock);
	}
	nng_aio_free(aio);
	return NULL;
}

static void server_free(struct cfs_rpc_server *srv)
{
	reply_cache_free(srv->cache);
	sem_destroy(&srv->handlers);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

int cfs_rpc_server_start(struct cfs_rpc_server **out, const char *addr,
			 const struct cfs_rpc_method *methods,
			 size_t nmethods, void *arg, int nworkers)
{
	struct cfs_rpc_server *srv;
	char url[256];
	int rv, rc;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->methods = methods;
	srv->nmethods = nmethods;
	srv->arg = arg;
	srv->id = atomic_load(&default_identity);
	srv->admit = atomic_load(&default_admit);
	if (reply_cache_new(&srv->cache)) {
		free(srv);
		return -ENOMEM;
	}
	sem_init(&srv->handlers, 0, nworkers > 0 ? (unsigned)nworkers : 1);
	pthread_mutex_init(&srv->lock, NULL);
	if (getenv("CFS_FAULT_DROP_REPLY_EVERY")) {
		srv->drop_every = (unsigned)atoi(
			getenv("CFS_FAULT_DROP_REPLY_EVERY"));
		cfs_log_warn("fault injection on: dropping replies",
			     "every=%u", srv->drop_every);
	}
	cfs_rpc_url(addr, url, sizeof(url));
	rv = nng_stream_listener_alloc(&srv->listener, url);
	if (rv == 0) {
		nng_stream_listener_set_bool(srv->listener,
					     NNG_OPT_TCP_NODELAY, true);
		nng_stream_listener_set_bool(srv->listener,
					     NNG_OPT_TCP_KEEPALIVE, true);
		rv = nng_stream_listener_listen(srv->listener);
		if (rv)
			nng_stream_listener_free(srv->listener);
	}
	if (rv) {
		cfs_log_error("cannot listen", "addr=%s err=\"%s\"", url,
			      nng_strerror(rv));
		rc = nng_to_errno(rv);
		goto fail;
	}
	rc = -pthread_create(&srv->acceptor, NULL, accept_main, srv);
	if (rc) {
		nng_stream_listener_free(srv->listener);
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return rc;
}

void cfs_rpc_server_stop(struct cfs_rpc_server *srv)
{
	if (!srv)
		return;
	nng_stream_listener_close(srv->listener);
	pthread_join(srv->acceptor, NULL);
	pthread_mutex_lock(&srv->lock);
	srv->stopping = true;
	for (struct srv_conn *sc = srv->conns; sc; sc = sc->next)
		nng_stream_close(sc->c->s);	/* its thread ends */
	pthread_mutex_unlock(&srv->lock);
	reap_conns(srv, true);
	nng_stream_listener_free(srv->listener);
	server_free(srv);
}

/* ---- client ---- */

#define IDLE_MAX 64		/* idle connections kept to one peer */
#define REDIAL_MS 20		/* between dials to a peer not listening */

struct peer {
	char url[128];
	struct conn *idle;	/* cl->lock */
	unsigned nidle;
};

struct cfs_rpc_client {
	pthread_mutex_t lock;	/* guards peers, npeers, cap and idle lists */
	struct peer **peers;
	size_t npeers, cap;
	uint64_t client_id;
	uint64_t next_request;	/* wait_lock */
	const struct cfs_rpc_identity *id;	/* NULL: not secured */
	/* the request ids of calls not yet returned: the lowest is what
	 * every request says it waits on (acked), so that the servers keep
	 * its reply until then and no longer (replies.h) */
	pthread_mutex_t wait_lock;
	uint64_t *waiting;
	size_t nwaiting, capwaiting;
	/* the member of the last group address called that answered as
	 * its leader (cfs_rpc_call) */
	char group[CFS_RPC_GROUP_MAX];
	unsigned group_leader;
};

/* Give calls[0..n) without one a fresh request id and note them as
 * waiting: the lowest request id waited on now, or 0 (nothing
 * acknowledged) if there is no memory to note them. Both under one lock:
 * an id handed out but not yet noted would let another thread's acked
 * pass it, and the server refuse it as a late copy. */
static uint64_t wait_begin(struct cfs_rpc_client *cl,
			   struct cfs_rpc_call *const *calls, int n,
			   bool *noted)
{
	uint64_t low = UINT64_MAX;

	pthread_mutex_lock(&cl->wait_lock);
	for (int i = 0; i < n; i++)
		if (!calls[i]->request_id)
			calls[i]->request_id = cl->next_request++;
	*noted = false;
	if (cl->nwaiting + (size_t)n > cl->capwaiting) {
		size_t cap = (cl->nwaiting + (size_t)n) * 2;
		uint64_t *w = realloc(cl->waiting, cap * sizeof(*w));

		if (!w) {
			pthread_mutex_unlock(&cl->wait_lock);
			return 0;
		}
		cl->waiting = w;
		cl->capwaiting = cap;
	}
	for (int i = 0; i < n; i++)
		cl->waiting[cl->nwaiting++] = calls[i]->request_id;
	for (size_t i = 0; i < cl->nwaiting; i++)
		if (cl->waiting[i] < low)
			low = cl->waiting[i];
	*noted = true;
	pthread_mutex_unlock(&cl->wait_lock);
	return low;
}

static void wait_end(struct cfs_rpc_client *cl,
		     struct cfs_rpc_call *const *calls, int n)
{
	pthread_mutex_lock(&cl->wait_lock);
	for (int i = 0; i < n; i++) {
		for (size_t j = 0; j < cl->nwaiting; j++) {
			if (cl->waiting[j] == calls[i]->request_id) {
				cl->waiting[j] = cl->waiting[--cl->nwaiting];
				break;
			}
		}
	}
	pthread_mutex_unlock(&cl->wait_lock);
}

int cfs_rpc_client_new(struct cfs_rpc_client **out)
{
	struct cfs_rpc_client *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return -ENOMEM;
	pthread_mutex_init(&cl->lock, NULL);
	pthread_mutex_init(&cl->wait_lock, NULL);
	if (getrandom(&cl->client_id, sizeof(cl->client_id), 0) !=
	    sizeof(cl->client_id))
		cl->client_id = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	cl->next_request = 1;
	cl->id = atomic_load(&default_identity);
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
	for (size_t i = 0; i < cl->npeers; i++) {
		struct peer *p = cl->peers[i];

		while (p->idle) {
			struct conn *c = p->idle;

			p->idle = c->next;
			conn_free(c);
		}
		free(p);
	}
	free(cl->peers);
	free(cl->waiting);
	pthread_mutex_destroy(&cl->lock);
	pthread_mutex_destroy(&cl->wait_lock);
	free(cl);
}

static int peer_of(struct cfs_rpc_client *cl, const char *addr,
		   struct peer **out)
{
	char url[128];
	struct peer *p;
	int rc = 0;

	cfs_rpc_url(addr, url, sizeof(url));
	pthread_mutex_lock(&cl->lock);
	for (size_t i = 0; i < cl->npeers; i++) {
		if (!strcmp(cl->peers[i]->url, url)) {
			*out = cl->peers[i];
			goto out;
		}
	}
	if (cl->npeers == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 8;
		struct peer **np = realloc(cl->peers, cap * sizeof(*np));

		if (!np) {
			rc = -ENOMEM;
			goto out;
		}
		cl->peers = np;
		cl->cap = cap;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(p->url, sizeof(p->url), "%s", url);
	cl->peers[cl->npeers++] = p;
	*out = p;
out:
	pthread_mutex_unlock(&cl->lock);
	return rc;
}

/* An idle connection to p, or NULL. */
static struct conn *take_idle(struct cfs_rpc_client *cl, struct peer *p)
{
	struct conn *c;

	pthread_mutex_lock(&cl->lock);
	c = p->idle;
	if (c) {
		p->idle = c->next;
		p->nidle--;
	}
	pthread_mutex_unlock(&cl->lock);
	return c;
}

static void put_idle(struct cfs_rpc_client *cl, struct peer *p,
		     struct conn *c)
{
	pthread_mutex_lock(&cl->lock);
	if (p->nidle < IDLE_MAX) {
		c->next = p->idle;
		p->idle = c;
		p->nidle++;
		c = NULL;
	}
	pthread_mutex_unlock(&cl->lock);
	conn_free(c);
}

/* A dialer whose dial ended is freed only some time later: nng 1.5's
 * poller thread may still be unlocking the dialer's mutex after the
 * dial's aio completed (a refused connect), and freeing the dialer then
 * panics the process ("pthread_mutex_unlock: Invalid argument"). Those
 * resting longest are freed as each new one comes to rest. */
#define DIALER_REST_MS 2000

static pthread_mutex_t resting_lock = PTHREAD_MUTEX_INITIALIZER;
static struct resting {
	nng_stream_dialer *d;
	int64_t since;
} *resting;
static size_t nresting, capresting;

static void dialer_rest(nng_stream_dialer *d)
{
	int64_t now = cfs_mono_ms();
	size_t done = 0;

	pthread_mutex_lock(&resting_lock);
	while (done < nresting && now - resting[done].since >= DIALER_REST_MS)
		nng_stream_dialer_free(resting[done++].d);
	if (done)	/* (resting is NULL before the first) */
		memmove(resting, resting + done,
			(nresting - done) * sizeof(*resting));
	nresting -= done;
	if (nresting == capresting) {
		size_t cap = capresting ? 2 * capresting : 16;
		struct resting *r = realloc(resting, cap * sizeof(*r));

		if (r) {
			resting = r;
			capresting = cap;
		}
	}
	if (nresting < capresting) {
		resting[nresting++] = (struct resting){ d, now };
		d = NULL;
	}
	pthread_mutex_unlock(&resting_lock);
	if (d) {	/* no memory to keep it: wait out its rest here */
		usleep(DIALER_REST_MS * 1000);
		nng_stream_dialer_free(d);
	}
}

/* One attempt to connect to url by deadline. Each has a dialer of its
 * own: nng 1.5's TCP dialer reuses its resolve and connect steps for the
 * next dial while a timed-out one may still be in them (a panic, "node
 * already on a list", seen with OSDs killed under a writer; nanomsg/nng
 * #2209); the dialer is freed a while after (dialer_rest). */
static int dial_once(const char *url, nng_aio *aio, int64_t left,
		     struct conn **out)
{
	nng_stream_dialer *d;
	nng_stream *s;
	int rc = nng_to_errno(nng_stream_dialer_alloc(&d, url));

	if (rc)
		return rc;
	nng_stream_dialer_set_bool(d, NNG_OPT_TCP_NODELAY, true);
	nng_aio_set_timeout(aio, (nng_duration)left);
	nng_stream_dialer_dial(d, aio);
	nng_aio_wait(aio);
	rc = nng_to_errno(nng_aio_result(aio));
	dialer_rest(d);
	if (rc == 0) {
		s = nng_aio_get_output(aio, 0);
		rc = conn_new(s, out);
		if (rc)
			nng_stream_free(s);
	}
	return rc;
}

/* Connect to p: until the deadline while it refuses (a daemon
 * restarting), or (patient false) just once. */
static int dial(struct peer *p, int64_t deadline, bool patient,
		struct conn **out)
{
	nng_aio *aio;
	int rc;

	if (nng_aio_alloc(&aio, NULL, NULL))
		return -ENOMEM;
	for (;;) {
		int64_t left = deadline - cfs_mono_ms();

		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = dial_once(p->url, aio, left, out);
		if (rc == 0 || !patient ||
		    (rc != -ECONNREFUSED && rc != -ECONNRESET))
			break;
		left = deadline - cfs_mono_ms();
		usleep((useconds_t)(left > REDIAL_MS ? REDIAL_MS :
			left > 0 ? left : 0) * 1000);
	}
	nng_aio_free(aio);
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

static int parse_reply(struct cfs_rpc_call *c)
{
	const struct frame *f = c->msg;
	const uint8_t *env_bytes;
	size_t env_len;
	Cfs__RpcReply *env;
	int rc;

	rc = frame_split(f->p, f->len, &env_bytes, &env_len, &c->rep_bulk,
			 &c->rep_bulk_len);
	if (rc)
		return rc;
	env = cfs__rpc_reply__unpack(NULL, env_len, env_bytes);
	if (!env)
		return -EBADMSG;
	rc = status_from_wire(env->status);
	if (rc == -EREMCHG && env->leader[0]) {
		size_t n = strlen(env->leader) + 1;
		char *l = n <= CFS_RPC_GROUP_MAX ? arena_alloc(&c->arena, n) :
						   NULL;

		if (l)
			c->leader = memcpy(l, env->leader, n);
	}
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

/* One call of a cfs_rpc_call_many in flight. */
struct inflight {
	struct peer *peer;
	struct conn *conn;
	bool reused;		/* conn came from the idle list */
	struct frame head;	/* the request's header and envelope */
	struct record sealed;	/* on a secured connection: what is sent */
	struct xfer x;
	uint8_t hdr[HDR];	/* the reply's */
	int64_t deadline;
	int attempts_left;
	bool due;		/* to send (again) */
	bool active;		/* sent; a reply is awaited */
	bool refused;		/* its first dial was refused: the next
				 * one waits, after the others are done */
};

/* Start sending call i: take a connection, start the write. */
static int call_send(struct cfs_rpc_client *cl, struct cfs_rpc_call *c,
		     struct inflight *f)
{
	int rc;

	f->conn = take_idle(cl, f->peer);
	f->reused = f->conn != NULL;
	if (!f->conn) {
		rc = dial(f->peer, f->deadline, f->refused, &f->conn);
		if (!rc && cl->id)
			rc = client_handshake(cl->id, f->conn, f->deadline);
		if (rc) {
			conn_free(f->conn);
			f->conn = NULL;
			return rc;
		}
	}
	f->x = (struct xfer){ .send = true };
	if (f->conn->sec) {
		record_free(&f->sealed);
		rc = seal_record(f->conn->sec, f->head.p, f->head.len, c->bulk,
				 c->bulk_sealed, &f->sealed);
		if (rc)
			return rc;
		record_add(&f->x, &f->sealed);
	} else {
		xfer_add(&f->x, f->head.p, f->head.len);
		xfer_add(&f->x, c->bulk, c->bulk_len);
	}
	xfer_start(f->conn, &f->x, f->deadline);
	return 0;
}

/* Finish sending call i and start reading its reply's header. */
static int call_sent(struct inflight *f)
{
	int rc = xfer_finish(f->conn, &f->x, f->deadline);

	if (rc)
		return rc;
	f->x = (struct xfer){ .n = 0 };
	xfer_add(&f->x, f->hdr, HDR);
	xfer_start(f->conn, &f->x, f->deadline);
	return 0;
}

/* Finish reading call i's reply. */
static int call_received(struct cfs_rpc_call *c, struct inflight *f)
{
	struct frame *m;
	int rc = xfer_finish(f->conn, &f->x, f->deadline);

	if (rc)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	rc = recv_body(f->conn, f->hdr, m, NULL, f->deadline);
	if (rc) {
		free(m);
		return rc;
	}
	c->msg = m;
	c->answered = true;
	return 0;
}

/* Close every idle connection to p: one of them was found dead. */
static void drop_idle(struct cfs_rpc_client *cl, struct peer *p)
{
	struct conn *c;

	pthread_mutex_lock(&cl->lock);
	c = p->idle;
	p->idle = NULL;
	p->nidle = 0;
	pthread_mutex_unlock(&cl->lock);
	while (c) {
		struct conn *next = c->next;

		conn_free(c);
		c = next;
	}
}

/* A call's connection after an attempt: back to the idle list if the
 * exchange finished, else closed (a late reply must not be taken for
 * the next call's). A reused connection that failed before any of the
 * reply came was likely closed by the peer while idle (a restart): the
 * attempt is made again on a new connection without counting it, and
 * the other idle ones go too. */
static void call_end(struct cfs_rpc_client *cl, struct cfs_rpc_call *c,
		     struct inflight *f, int status, bool nothing_back)
{
	bool stale = f->reused && nothing_back && status != -ETIMEDOUT &&
		     transport_error(status);

	if (c->msg)
		put_idle(cl, f->peer, f->conn);
	else
		conn_free(f->conn);
	f->conn = NULL;
	f->active = false;
	if (stale) {
		drop_idle(cl, f->peer);
		f->due = true;
	} else if (!c->msg && transport_error(status) &&
		   f->attempts_left > 0) {
		cfs_log_warn("no answer: sending the request again",
			     "method=%u req=%lu rc=%d", c->method,
			     (unsigned long)c->request_id, status);
		f->attempts_left--;
		f->deadline = cfs_mono_ms() +
			      (c->timeout_ms > 0 ? c->timeout_ms : 5000);
		f->due = true;
	}
}

/* cfs_rpc_call_many of plain addresses (no groups). */
static void call_many_plain(struct cfs_rpc_client *cl,
			    const char *const *addrs,
			    struct cfs_rpc_call *const *calls, int *status,
			    int n)
{
	struct inflight *f = calloc((size_t)n, sizeof(*f));
	bool again = true, noted;
	uint64_t acked;

	if (!f) {
		for (int i = 0; i < n; i++)
			status[i] = -ENOMEM;
		return;
	}
	acked = wait_begin(cl, calls, n, &noted);
	for (int i = 0; i < n; i++) {
		struct cfs_rpc_call *c = calls[i];

		c->rep = NULL;
		c->msg = NULL;
		c->answered = false;
		c->arena = NULL;
		c->rep_bulk = NULL;
		c->rep_bulk_len = 0;
		f[i].attempts_left = (c->attempts > 0 ? c->attempts : 1) - 1;
		f[i].deadline = cfs_mono_ms() +
				(c->timeout_ms > 0 ? c->timeout_ms : 5000);
		status[i] = peer_of(cl, addrs[i], &f[i].peer);
		if (status[i] == 0)
			status[i] = request_frame(c->method, cl->client_id,
						  c->request_id, acked, c->req,
						  c->bulk_len, &f[i].head);
		f[i].due = status[i] == 0;
	}
	while (again) {
		again = false;
		/* every send that is due starts, then the replies are read:
		 * the calls to different peers overlap */
		for (int i = 0; i < n; i++) {
			if (!f[i].due)
				continue;
			f[i].due = false;
			status[i] = call_send(cl, calls[i], &f[i]);
			f[i].active = status[i] == 0;
			/* a peer not listening (dead, or restarting) is
			 * waited for only once the others' calls are done:
			 * it must not hold up their sends */
			if (status[i] == -ECONNREFUSED && !f[i].refused &&
			    !calls[i]->impatient) {
				f[i].refused = f[i].due = true;
				continue;
			}
			if (status[i] && f[i].attempts_left > 0 &&
			    transport_error(status[i])) {
				f[i].attempts_left--;
				f[i].deadline = cfs_mono_ms() +
						(calls[i]->timeout_ms > 0 ?
							 calls[i]->timeout_ms :
							 5000);
				f[i].due = again = true;
			}
		}
		for (int i = 0; i < n; i++) {
			if (!f[i].active)
				continue;
			status[i] = call_sent(&f[i]);
			if (status[i])
				call_end(cl, calls[i], &f[i], status[i], true);
		}
		for (int i = 0; i < n; i++) {
			if (!f[i].active)
				continue;
			status[i] = call_received(calls[i], &f[i]);
			if (status[i] == 0)
				status[i] = parse_reply(calls[i]);
			call_end(cl, calls[i], &f[i], status[i],
				 f[i].x.moved == 0);
		}
		for (int i = 0; i < n; i++)
			again |= f[i].due;
	}
	if (noted)
		wait_end(cl, calls, n);
	for (int i = 0; i < n; i++) {
		free(f[i].head.p);
		record_free(&f[i].sealed);
	}
	free(f);
}

unsigned cfs_rpc_group_split(const char *group, char a[][CFS_RPC_GROUP_MAX])
{
	unsigned n = 0;

	while (*group && n < CFS_RPC_GROUP_MEMBERS) {
		size_t len = strcspn(group, ",");

		if (len && len < CFS_RPC_GROUP_MAX) {
			memcpy(a[n], group, len);
			a[n++][len] = 0;
		}
		group += len + (group[len] == ',');
	}
	return n;
}

/* What the groups a process names are now (cfs_rpc_group_learn): a few
 * (a client or an OSD names one, the MDS). */
#define LEARNT_MAX 4
static pthread_mutex_t learnt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[CFS_RPC_GROUP_MAX], members[CFS_RPC_GROUP_MAX];
} learnt[LEARNT_MAX];
static _Atomic unsigned learnt_next;	/* 0: none learnt (most calls) */
static _Atomic bool learnt_single;	/* a name of one address learnt */

void cfs_rpc_group_learn(const char *group, const char *const *members,
			 size_t n)
{
	char now[CFS_RPC_GROUP_MAX] = "";
	size_t len = 0, i, slot = LEARNT_MAX;

	for (i = 0; i < n; i++) {
		size_t m = strlen(members[i]);

		if (!m || strchr(members[i], ',') ||
		    len + m + 1 >= sizeof(now))
			continue;
		if (len)
			now[len++] = ',';
		memcpy(now + len, members[i], m + 1);
		len += m;
	}
	if (!len || strlen(group) >= CFS_RPC_GROUP_MAX)
		return;
	if (!strchr(group, ','))
		atomic_store(&learnt_single, true);
	pthread_mutex_lock(&learnt_lock);
	for (i = 0; i < LEARNT_MAX && slot == LEARNT_MAX; i++)
		if (!strcmp(learnt[i].name, group))
			slot = i;
	if (slot == LEARNT_MAX)
		slot = learnt_next++ % LEARNT_MAX;
	snprintf(learnt[slot].name, sizeof(learnt[slot].name), "%s", group);
	memcpy(learnt[slot].members, now, len + 1);
	pthread_mutex_unlock(&learnt_lock);
}

/* Whether addr names a group: its members, or a lone MDS's address
 * whose map since listed replicas (a group of one grown). */
static bool is_group(const char *addr)
{
	bool known = false;

	if (strchr(addr, ','))
		return true;
	if (!atomic_load(&learnt_single))	/* data calls: at once */
		return false;
	pthread_mutex_lock(&learnt_lock);
	for (size_t i = 0; i < LEARNT_MAX && !known; i++)
		known = !strcmp(learnt[i].name, addr);
	pthread_mutex_unlock(&learnt_lock);
	return known;
}

/* group's members as learnt, else as it names them: how many. */
static unsigned group_members(const char *group, char a[][CFS_RPC_GROUP_MAX])
{
	char now[CFS_RPC_GROUP_MAX];
	bool known = false;

	if (!atomic_load(&learnt_next))
		return cfs_rpc_group_split(group, a);
	pthread_mutex_lock(&learnt_lock);
	for (size_t i = 0; i < LEARNT_MAX && !known; i++)
		if (learnt[i].name[0] && !strcmp(learnt[i].name, group)) {
			memcpy(now, learnt[i].members, sizeof(now));
			known = true;
		}
	pthread_mutex_unlock(&learnt_lock);
	return cfs_rpc_group_split(known ? now : group, a);
}

bool cfs_rpc_unserved(const struct cfs_rpc_call *c, int status)
{
	return status == -EREMCHG || status == -ESHUTDOWN ||
	       (!c->answered && transport_error(status));
}

/* A member that does not lead named the one that does: its index in
 * a[] (added, and learnt for the group, if the group does not name it:
 * a replica added since), else the next after at. */
static unsigned group_redirect(const char *group,
			       char a[][CFS_RPC_GROUP_MAX], unsigned *n,
			       const char *leader, unsigned at)
{
	const char *ptrs[CFS_RPC_GROUP_MEMBERS];
	unsigned k = 0;

	while (k < *n && strcmp(a[k], leader))
		k++;
	if (k < *n)
		return k;
	if (*n == CFS_RPC_GROUP_MEMBERS)
		return (at + 1) % *n;
	snprintf(a[k], CFS_RPC_GROUP_MAX, "%s", leader);
	(*n)++;
	for (unsigned i = 0; i < *n; i++)
		ptrs[i] = a[i];
	cfs_rpc_group_learn(group, ptrs, *n);
	return k;
}

/* Which of group's n members to call first: the one that last answered
 * as its leader, else the first. */
static unsigned group_first(struct cfs_rpc_client *cl, const char *group,
			    unsigned n)
{
	unsigned at = 0;

	pthread_mutex_lock(&cl->lock);
	if (n && !strcmp(cl->group, group))
		at = cl->group_leader % n;
	pthread_mutex_unlock(&cl->lock);
	return at;
}

/* A call to a group: to the member that last answered as its leader,
 * then each other in turn, pausing after each round (50 ms, doubling
 * to 400 ms), with the same request id throughout, until the call's time
 * (timeout_ms for each of its attempts) is spent; then what a member
 * last answered (-EREMCHG: none leads), if one did. */
static int call_group(struct cfs_rpc_client *cl, const char *group,
		      struct cfs_rpc_call *c)
{
	char a[CFS_RPC_GROUP_MEMBERS][CFS_RPC_GROUP_MAX];
	unsigned n = group_members(group, a), tried = 0, next;
	unsigned at = group_first(cl, group, n);
	int per = c->timeout_ms > 0 ? c->timeout_ms : 5000;
	int64_t end = cfs_mono_ms() +
		      (int64_t)per * (c->attempts > 0 ? c->attempts : 1);
	int member = n > 1 && per > CFS_RPC_GROUP_PATIENCE_MS ?
			     CFS_RPC_GROUP_PATIENCE_MS : per;
	int pause = 50, status = -EINVAL, told = 0;
	bool noted;

	if (!n)
		return -EINVAL;
	wait_begin(cl, &c, 1, &noted);	/* one request id, kept noted */
	for (;;) {
		struct cfs_rpc_call one = *c;
		const char *addr = a[at];
		int64_t left = end - cfs_mono_ms();

		one.timeout_ms = (int)(left < member ? (left > 1 ? left : 1) :
						       member);
		one.attempts = 1;
		one.leader = NULL;
		one.impatient = true;	/* a refusing member: the next */
		call_many_plain(cl, &addr, (struct cfs_rpc_call *[]){ &one },
				&status, 1);
		one.timeout_ms = c->timeout_ms;
		one.attempts = c->attempts;
		one.impatient = c->impatient;
		*c = one;
		if (!cfs_rpc_unserved(c, status)) {
			pthread_mutex_lock(&cl->lock);
			snprintf(cl->group, sizeof(cl->group), "%s", group);
			cl->group_leader = at;
			pthread_mutex_unlock(&cl->lock);
			break;
		}
		if (c->answered)
			told = status;	/* a member there, not leading */
		next = status == -EREMCHG && c->leader ?
			       group_redirect(group, a, &n, c->leader, at) :
			       (at + 1) % n;
		cfs_rpc_call_done(c);
		if (cfs_mono_ms() >= end) {
			/* the group is there but leads nowhere: say so, not
			 * how the last, cut-short attempt ended */
			if (told)
				status = told;
			break;
		}
		at = next;
		if (++tried % n == 0) {
			left = end - cfs_mono_ms();
			usleep((useconds_t)(left < pause ? left : pause) * 1000);
			pause = pause * 2 > 400 ? 400 : pause * 2;
		}
	}
	if (noted)
		wait_end(cl, &c, 1);
	return status;
}

/* A group among calls to make at once is called at the member that
 * last led it, beside the others; if that one does not lead (any more),
 * the group's call goes on alone (call_group). */
void cfs_rpc_call_many(struct cfs_rpc_client *cl, const char *const *addrs,
		       struct cfs_rpc_call *const *calls, int *status, int n)
{
	struct lead {
		char addr[CFS_RPC_GROUP_MAX];
		bool group, impatient;	/* the call's own */
	} *lead = NULL;
	const char **plain = NULL;
	int groups = 0;

	for (int i = 0; i < n; i++)
		groups += is_group(addrs[i]);
	if (!groups) {
		call_many_plain(cl, addrs, calls, status, n);
		return;
	}
	lead = calloc((size_t)n, sizeof(*lead));
	plain = calloc((size_t)n, sizeof(*plain));
	for (int i = 0; i < n; i++) {
		char a[CFS_RPC_GROUP_MEMBERS][CFS_RPC_GROUP_MAX];
		unsigned m;

		if (!lead || !plain) {
			status[i] = -ENOMEM;
			continue;
		}
		plain[i] = addrs[i];
		if (!is_group(addrs[i]) || !(m = group_members(addrs[i], a)))
			continue;
		memcpy(lead[i].addr, a[group_first(cl, addrs[i], m)],
		       sizeof(lead[i].addr));
		plain[i] = lead[i].addr;
		lead[i].group = true;
		lead[i].impatient = calls[i]->impatient;
		calls[i]->impatient = true;	/* a refusing member: the next */
	}
	if (lead && plain)
		call_many_plain(cl, plain, calls, status, n);
	for (int i = 0; lead && plain && i < n; i++) {
		if (!lead[i].group)
			continue;
		calls[i]->impatient = lead[i].impatient;
		if (!cfs_rpc_unserved(calls[i], status[i]))
			continue;
		cfs_rpc_call_done(calls[i]);
		status[i] = call_group(cl, addrs[i], calls[i]);
	}
	free(lead);
	free(plain);
}

int cfs_rpc_call(struct cfs_rpc_client *cl, const char *addr,
		 struct cfs_rpc_call *c)
{
	int status;

	if (is_group(addr))
		return call_group(cl, addr, c);
	call_many_plain(cl, &addr, &c, &status, 1);
	return status;
}

void cfs_rpc_call_done(struct cfs_rpc_call *c)
{
	struct frame *m = c->msg;

	if (c->rep && c->rep_keep)
		protobuf_c_message_free_unpacked(c->rep, NULL);
	arena_release(c->arena);
	if (m) {
		free(m->p);
		free(m);
	}
	c->rep = NULL;
	c->msg = NULL;
	c->arena = NULL;
	c->leader = NULL;
	c->rep_bulk = NULL;
	c->rep_bulk_len = 0;
}
