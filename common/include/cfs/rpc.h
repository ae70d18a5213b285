/* The RPC layer: request/reply over nng byte streams (TCP; one call at a
 * time on a connection, idle connections pooled per peer) carrying
 * protobuf-c messages, plus a raw bulk tail for file data. Daemons never
 * touch nng streams or protobuf packing: they register handlers and make
 * calls through this header. A method not idempotent is answered once per
 * request id: retries get the first reply (common/replies.h).
 *
 * Errors are negative errno values end to end: a handler's return value
 * travels in the reply and comes back from cfs_rpc_call() unchanged.
 * Transport failures come back as -ETIMEDOUT, -ECONNREFUSED or -EIO. */
#ifndef CFS_RPC_H
#define CFS_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFS_PROTO_VERSION 1
/* Largest frame either side accepts: a 64 MiB chunk copy plus headers. */
#define CFS_RPC_MAX_FRAME ((size_t)80 << 20)

struct cfs_rpc_server;
struct cfs_rpc_client;
struct cfs_token;

/* One request as a handler sees it. */
#define CFS_RPC_GROUP_MAX 256	/* a group address's, and a member's, length */

struct cfs_rpc_req {
	uint32_t method;
	uint64_t client_id;	/* on a secured connection, bound to the
				 * peer's token (another token sending the
				 * same id is another client) */
	uint64_t request_id;
	uint64_t acked;		/* the client has the replies below this id */
	const struct cfs_token *peer;	/* the peer's token on a secured
					 * connection (its role, read-only,
					 * squash, subtree), else NULL */
	uint64_t scope;		/* left by the server's admit check for its
				 * handler (the MDS: a subtree's root) */
	const void *bulk;	/* the request's bulk tail; valid during the handler */
	size_t bulk_len;
	const void *bulk_sealed;	/* the bulk as it came on a secured
					 * connection, for a call passing it
					 * on (cfs_rpc_call.bulk_sealed) */
	char leader[CFS_RPC_GROUP_MAX];	/* set with -EREMCHG (a group's
					 * member that does not lead): the
					 * leader, sent to the caller */
	void *reply;		/* private: the packed reply frame */
};

/* A handler returns 0 or a negative errno. It may set a reply message with
 * cfs_rpc_reply() (on success or failure); otherwise an empty one is sent. */
typedef int (*cfs_rpc_handler_fn)(void *arg, struct cfs_rpc_req *rq,
				  const ProtobufCMessage *req);

struct cfs_rpc_method {
	const ProtobufCMessageDescriptor *req_desc;	/* NULL: no such method */
	cfs_rpc_handler_fn fn;
	bool cache_reply;	/* not idempotent: answer retries from the reply cache */
	bool waits;		/* a long poll: waits for news without taking
				 * one of the server's workers */
};

/* A check run before every handler of the servers started after
 * cfs_rpc_set_admit (NULL: none), with the request it may rewrite: a
 * nonzero return is the reply's status and the handler does not run. */
typedef int (*cfs_rpc_admit_fn)(void *arg, struct cfs_rpc_req *rq,
				ProtobufCMessage *req);
void cfs_rpc_set_admit(cfs_rpc_admit_fn fn);

/* Listen on addr ("host:port" or an nng URL); each connection is served
 * by a thread of its own, and at most nworkers handlers (other than
 * those of methods that wait) run at once. Handlers may block.
 * methods[] is indexed by method number and must outlive the server.
 * For tests only: CFS_FAULT_DROP_REPLY_EVERY=N in the environment drops
 * every Nth reply to a cache_reply method after running it. */
int cfs_rpc_server_start(struct cfs_rpc_server **out, const char *addr,
			 const struct cfs_rpc_method *methods,
			 size_t nmethods, void *arg, int nworkers);
/* Stop accepting, wait for the workers, free. NULL is a no-op. */
void cfs_rpc_server_stop(struct cfs_rpc_server *srv);

/* Pack rep (may be NULL) and bulk into the reply. Both stay the caller's.
 * Returns 0 or -ENOMEM; a second call replaces the first. */
int cfs_rpc_reply(struct cfs_rpc_req *rq, const ProtobufCMessage *rep,
		  const void *bulk, size_t bulk_len);

/* Security (cfs/secure.h). An identity is a join token (cfs/token.h):
 * cfs_rpc_identity_new parses it (-EINVAL with why for a bad one) and
 * keeps whether frames are encrypted (else only authenticated) and, for
 * a server, the roles it lets in (a mask of 1 << enum cfs_role).
 * cfs_rpc_set_identity makes it the one every server and client created
 * afterwards uses (NULL: none; it must outlive them): every connection
 * they make or accept then starts with the handshake, and a peer that
 * fails it is refused before anything it sends is decoded, with one log
 * line (peer address, reason) and cfs_rpc_refused() counting it. */
struct cfs_rpc_identity;
struct cfs_token;
int cfs_rpc_identity_new(const char *token, bool encrypt, unsigned admit,
			 struct cfs_rpc_identity **out, char *why,
			 size_t whylen);
/* The same from a token file (its first line). */
int cfs_rpc_identity_load(const char *path, bool encrypt, unsigned admit,
			  struct cfs_rpc_identity **out, char *why,
			  size_t whylen);
void cfs_rpc_identity_free(struct cfs_rpc_identity *id);
const struct cfs_token *cfs_rpc_identity_token(
	const struct cfs_rpc_identity *id);
void cfs_rpc_set_identity(struct cfs_rpc_identity *id);
uint64_t cfs_rpc_refused(void);
/* The ids of tokens this process no longer accepts (the cluster map's
 * list, replacing the one before): a handshake with one is refused, and
 * a server hangs up on a connection of one at its next request (as on
 * one whose token expired since the handshake). */
int cfs_rpc_revoke(char *const *ids, size_t n);

/* A client: per peer address a dialer and a pool of idle connections,
 * made on first use and dialing again by itself. Safe to share between
 * threads. */
int cfs_rpc_client_new(struct cfs_rpc_client **out);
void cfs_rpc_client_free(struct cfs_rpc_client *cl);
uint64_t cfs_rpc_client_id(const struct cfs_rpc_client *cl);

struct cfs_rpc_call {
	/* filled by the caller */
	uint32_t method;
	const ProtobufCMessage *req;
	const void *bulk;
	size_t bulk_len;
	const void *bulk_sealed;	/* NULL, or the bulk_sealed of the
					 * request whose bulk this is: sent
					 * on as it came rather than sealed
					 * again (where the connection seals
					 * the same way) */
	const ProtobufCMessageDescriptor *rep_desc;	/* NULL: no reply body wanted */
	int timeout_ms;		/* per attempt; 0 means 5000 */
	int attempts;		/* transport retries with the same request id; 0 means 1 */
	uint64_t request_id;	/* 0: a fresh id is assigned; one given is
				 * an earlier call's, sent again (a retry
				 * of a call that got no answer) */
	bool impatient;		/* a peer refusing the connection ends the
				 * call (-ECONNREFUSED) rather than being
				 * dialed again until the deadline */
	bool rep_keep;		/* rep is the caller's, to free with
				 * protobuf_c_message_free_unpacked(rep, NULL);
				 * else it lives in an arena call_done frees */
	/* set by the call, valid until cfs_rpc_call_done() */
	ProtobufCMessage *rep;	/* NULL if the reply had no body */
	const void *rep_bulk;
	size_t rep_bulk_len;
	bool answered;		/* the server's reply came: the status is
				 * its handler's, not the transport's */
	const char *leader;	/* with -EREMCHG: the leader, if the member
				 * named it (in the call's arena) */
	void *msg;		/* private */
	void *arena;		/* private */
};

/* Send c to addr and wait for the reply. Returns the handler's status or a
 * transport error. Call cfs_rpc_call_done() afterwards in every case.
 *
 * addr may be a group, "host:port,host:port,...": the replicas of one
 * service of which one leads (the MDS). A member that answers -EREMCHG
 * (not the leader) or -ESHUTDOWN, or that does not answer within
 * CFS_RPC_GROUP_PATIENCE_MS (a leader cut off, its packets dropped), is
 * left for the next, round after round, with the same request id, until
 * the call's time is spent (timeout_ms for each of its attempts); the
 * one that answered is asked first next time. A leader merely slow
 * loses nothing by it: asked again, it answers the same request once
 * it is done (the reply cache). */
#define CFS_RPC_GROUP_PATIENCE_MS 2500
#define CFS_RPC_GROUP_MEMBERS 8
/* A group's members into a[] (at most CFS_RPC_GROUP_MEMBERS): how many. */
unsigned cfs_rpc_group_split(const char *group, char a[][CFS_RPC_GROUP_MAX]);
/* From now on this process's calls to group (as it was named) walk these
 * members instead: the replicas as the leader's map lists them, which
 * may be ones the name does not hold (cfs mds add). */
void cfs_rpc_group_learn(const char *group, const char *const *members,
			 size_t n);
int cfs_rpc_call(struct cfs_rpc_client *cl, const char *addr,
		 struct cfs_rpc_call *c);
/* Send n calls to their addresses at once and wait for all; status[i] is
 * what cfs_rpc_call() would have returned for calls[i]. */
void cfs_rpc_call_many(struct cfs_rpc_client *cl, const char *const *addrs,
		       struct cfs_rpc_call *const *calls, int *status, int n);
/* Whether a call that ended with status found no one to serve it: the
 * member called does not lead (or is stopping), or nothing answered.
 * Asked again with the same request id, it is run at most once. */
bool cfs_rpc_unserved(const struct cfs_rpc_call *c, int status);
/* Free what a call returned; safe on a call that failed or never ran. */
void cfs_rpc_call_done(struct cfs_rpc_call *c);

/* Encode and decode one request frame, exposed for tests. encode returns a
 * malloc'd frame in *out; decode points env/body into the frame. */
int cfs_rpc_frame_encode(uint32_t method, uint64_t client_id,
			 uint64_t request_id, uint64_t acked,
			 const ProtobufCMessage *body,
			 const void *bulk, size_t bulk_len, void **out,
			 size_t *out_len);
/* Free the reply a handler left in rq (for callers of handlers other
 * than the server: the fuzzers). */
void cfs_rpc_req_done(struct cfs_rpc_req *rq);
int cfs_rpc_frame_decode_request(const void *frame, size_t len,
				 const struct cfs_rpc_method *methods,
				 size_t nmethods, struct cfs_rpc_req *rq,
				 ProtobufCMessage **body);

/* "host:port" to "tcp://host:port"; URLs pass through. */
void cfs_rpc_url(const char *addr, char *url, size_t len);

#endif
