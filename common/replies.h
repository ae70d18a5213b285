/* The reply cache of an RPC server (rpc.c): a request that is not
 * idempotent (create, rename, unlink) runs once, however often a client
 * sends it again after a lost reply.
 *
 * Per client, as Lustre keeps a slot per client: the replies to its
 * requests, by request id, each kept until the client acknowledges it.
 * Every request carries `acked`, the lowest request id its client still
 * waits on; the replies below it are dropped then, and never before. A
 * retry of a request still running waits for its answer. A request below
 * the highest acked seen that is not kept is a late copy of one the
 * client has done with: it is refused (-ESTALE), never run, so a change
 * the client made since is not undone (a size a truncate cut, a lock it
 * let go). Bounds: a
 * client may have REPLY_CACHE_PER_CLIENT replies unacknowledged (past
 * that its oldest answered one goes, with a warning), and a client not
 * heard from for REPLY_CACHE_IDLE_MS (far beyond any call's retries) is
 * forgotten. Thread-safe. */
#ifndef CFS_COMMON_REPLIES_H
#define CFS_COMMON_REPLIES_H

#include <stddef.h>
#include <stdint.h>

#define REPLY_CACHE_PER_CLIENT 65536
#define REPLY_CACHE_IDLE_MS (10 * 60 * 1000)

struct reply_cache;

int reply_cache_new(struct reply_cache **out);
void reply_cache_free(struct reply_cache *c);

/* Before running request rid of client cid: 0 with a malloc'd copy of
 * the reply already sent (*reply, *len: answer the retry with it), 1
 * once the request is claimed as running (run it, then reply_cache_end),
 * -ESTALE for a late copy of a request done with (answer that, do not
 * run it), or -ENOMEM (answer that; the client tries again). Drops
 * cid's replies below acked. */
int reply_cache_begin(struct reply_cache *c, uint64_t cid, uint64_t rid,
		      uint64_t acked, void **reply, size_t *len);
/* The request ran: keep its reply (NULL: none to keep; a retry runs it
 * again) and wake retries waiting for it. */
void reply_cache_end(struct reply_cache *c, uint64_t cid, uint64_t rid,
		     const void *reply, size_t len);

#endif
