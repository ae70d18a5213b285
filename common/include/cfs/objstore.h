/* The object store cold data goes to: an S3-compatible bucket or a local
 * directory, reached with three operations only (PUT a whole object, GET
 * a byte range of one, DELETE one): no multipart upload, no listing.
 *
 * URLs:
 *   file:///DIR                      objects are files under DIR
 *   s3://BUCKET[/PREFIX][?endpoint=http://HOST:PORT&region=REGION&style=S]
 *       with an endpoint, path-style (ENDPOINT/BUCKET/PREFIX/KEY), or
 *       with style=virtual http://BUCKET.HOST:PORT/PREFIX/KEY; without,
 *       AWS's virtual-hosted https://BUCKET.s3.REGION.amazonaws.com/...;
 *       region defaults to us-east-1. Requests are signed with AWS
 *       signature v4 (libcurl's signer, the payload's SHA-256 given in
 *       x-amz-content-sha256); the keys come from the options or from
 *       AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and are never logged.
 *
 * Every request has a deadline (connect 5 s, then no more than 10 s
 * without progress, and timeout_ms in all) and is tried up to `attempts`
 * times with exponential backoff and full jitter when the store answers
 * 5xx or cannot be reached; 4xx answers are final. Keys are made of
 * [A-Za-z0-9._/-] only (anything else: -EINVAL). Thread-safe. */
#ifndef CFS_OBJSTORE_H
#define CFS_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cfs_objstore;

struct cfs_objstore_opts {
	const char *access_key;	/* NULL: $AWS_ACCESS_KEY_ID */
	const char *secret_key;	/* NULL: $AWS_SECRET_ACCESS_KEY */
	int timeout_ms;		/* a whole request; 0: 120,000 */
	int attempts;		/* tries per call; 0: 4 */
	int backoff_ms;		/* the first retry's ceiling; 0: 200 */
	/* tests only: sign with this X-Amz-Date instead of the time, and
	 * connect to HOST:PORT whatever the URL's host is */
	const char *amz_date;
	const char *connect_to;
};

/* Counters since open, for `cfs tier status` and the tests. */
struct cfs_objstore_stats {
	uint64_t puts, gets, deletes;	/* requests sent, by method */
	uint64_t failures;		/* requests that failed (each try) */
	uint64_t retries;		/* tries after a failed one */
	uint64_t bytes_put, bytes_got;
	uint64_t latency_us;		/* of the last request that worked */
};

/* Open url. 0, or -EINVAL with why in err (a bad URL, S3 without keys). */
int cfs_objstore_open(const char *url, const struct cfs_objstore_opts *o,
		      struct cfs_objstore **out, char *err, size_t errlen);
void cfs_objstore_close(struct cfs_objstore *s);

/* Store len bytes as key, whole or not at all (a reader never sees part
 * of an object). 0 or a negative errno. */
int cfs_objstore_put(struct cfs_objstore *s, const char *key,
		     const void *buf, size_t len);
/* Read len bytes of key from off into buf: how many (fewer only at the
 * object's end), -ENOENT when there is no such object, or an error. */
ssize_t cfs_objstore_get(struct cfs_objstore *s, const char *key,
			 uint64_t off, void *buf, size_t len);
/* Remove key; removing what is not there succeeds. */
int cfs_objstore_delete(struct cfs_objstore *s, const char *key);

void cfs_objstore_stats(struct cfs_objstore *s, struct cfs_objstore_stats *out);
/* The URL without its query (no endpoint details), for logs. */
const char *cfs_objstore_name(const struct cfs_objstore *s);

#endif
