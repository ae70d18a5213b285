/* The object store: PUT, ranged GET and DELETE against S3 (libcurl, AWS
 * signature v4) or a directory. The contract is in cfs/objstore.h.
 *
 * S3 requests: libcurl signs (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3");
 * it takes the payload's hash from the x-amz-content-sha256 header we
 * set (SHA-256 of the body, libsodium), and the time from an
 * X-Amz-Date header when the tests give one. Signed headers: host,
 * x-amz-content-sha256, x-amz-date. Idle curl handles are kept for the
 * next request, so connections are reused.
 *
 * Directory objects: a PUT writes DIR/.KEY.tmp.RANDOM, syncs it, renames
 * it over DIR/KEY and syncs the directory, so an object is whole or
 * absent. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfs/clock.h"
#include "cfs/log.h"
#include "cfs/objstore.h"

#define IDLE_MAX 8
#define URL_MAX 2048

struct cfs_objstore {
	bool s3;
	char name[URL_MAX];
	char dir[URL_MAX];	/* file:// */
	/* s3: the URL every key is appended to (ends with '/') */
	char base[URL_MAX];
	char sigv4[128];
	char userpwd[512];
	struct cfs_objstore_opts o;
	char amz_date[32], connect_to[256];
	pthread_mutex_t lock;
	CURL *idle[IDLE_MAX];
	int nidle;
	_Atomic uint64_t puts, gets, deletes, failures, retries, bytes_put,
		bytes_got, latency_us;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_start(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (sodium_init() < 0)
		abort();
}

static bool key_ok(const char *key)
{
	if (!*key || *key == '/' || strstr(key, ".."))
		return false;
	for (const char *p = key; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		      ('0' <= *p && *p <= '9') || strchr("._/-", *p)))
			return false;
	return true;
}

/* Take "name=value" pairs of an s3:// URL's query. */
static int parse_query(char *q, char *endpoint, size_t elen, char *region,
		       size_t rlen, bool *virt, char *err, size_t errlen)
{
	for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			snprintf(err, errlen, "tier URL: '%s' is not name=value", kv);
			return -EINVAL;
		}
		*eq = 0;
		if (!strcmp(kv, "endpoint"))
			snprintf(endpoint, elen, "%s", eq + 1);
		else if (!strcmp(kv, "region"))
			snprintf(region, rlen, "%s", eq + 1);
		else if (!strcmp(kv, "style") &&
			 (!strcmp(eq + 1, "path") || !strcmp(eq + 1, "virtual")))
			*virt = !strcmp(eq + 1, "virtual");
		else {
			snprintf(err, errlen,
				 "tier URL: unknown parameter '%s' (endpoint, region, style=path|virtual)",
				 kv);
			return -EINVAL;
		}
	}
	return 0;
}

static int open_s3(struct cfs_objstore *s, const char *rest, char *err,
		   size_t errlen)
{
	char u[URL_MAX], endpoint[URL_MAX] = "", region[64] = "us-east-1";
	bool virt = false;
	if (snprintf(u, sizeof(u), "%s", rest) >= (int)sizeof(u))
		goto toolong;
	char *q = strchr(u, '?');
	if (q) {
		*q++ = 0;
		int rc = parse_query(q, endpoint, sizeof(endpoint), region,
				     sizeof(region), &virt, err, errlen);
		if (rc)
			return rc;
	}
	char *slash = strchr(u, '/');
	const char *prefix = "";
	if (slash) {
		*slash = 0;
		prefix = slash + 1;
	}
	size_t plen = strlen(prefix);
	while (plen && prefix[plen - 1] == '/')
		plen--;
	if (!*u || (plen && !key_ok(prefix))) {
		snprintf(err, errlen, "tier URL: s3://BUCKET[/PREFIX] expected");
		return -EINVAL;
	}
	if (*endpoint && strncmp(endpoint, "http://", 7) &&
	    strncmp(endpoint, "https://", 8)) {
		snprintf(err, errlen, "tier URL: endpoint must be http:// or https://");
		return -EINVAL;
	}
	size_t elen = strlen(endpoint);
	while (elen && endpoint[elen - 1] == '/')
		endpoint[--elen] = 0;
	int n;
	if (!*endpoint)
		n = snprintf(s->base, sizeof(s->base),
			     "https://%s.s3.%s.amazonaws.com/%.*s%s", u, region,
			     (int)plen, prefix, plen ? "/" : "");
	else if (virt) {	/* http://BUCKET.HOST:PORT/PREFIX/ */
		size_t scheme = strstr(endpoint, "://") + 3 - endpoint;
		n = snprintf(s->base, sizeof(s->base), "%.*s%s.%s/%.*s%s",
			     (int)scheme, endpoint, u, endpoint + scheme,
			     (int)plen, prefix, plen ? "/" : "");
	} else
		n = snprintf(s->base, sizeof(s->base), "%s/%s/%.*s%s", endpoint,
			     u, (int)plen, prefix, plen ? "/" : "");
	if (n >= (int)sizeof(s->base))
		goto toolong;
	snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", region);
	const char *ak = s->o.access_key ? s->o.access_key :
					   getenv("AWS_ACCESS_KEY_ID");
	const char *sk = s->o.secret_key ? s->o.secret_key :
					   getenv("AWS_SECRET_ACCESS_KEY");
	if (!ak || !*ak || !sk || !*sk) {
		snprintf(err, errlen,
			 "tier URL %s: no keys (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
			 s->name);
		return -EINVAL;
	}
	if (strchr(ak, ':') ||
	    snprintf(s->userpwd, sizeof(s->userpwd), "%s:%s", ak, sk) >=
		    (int)sizeof(s->userpwd)) {
		snprintf(err, errlen, "tier keys: malformed access key");
		return -EINVAL;
	}
	s->s3 = true;
	return 0;
toolong:
	snprintf(err, errlen, "tier URL: too long");
	return -EINVAL;
}

int cfs_objstore_open(const char *url, const struct cfs_objstore_opts *o,
		      struct cfs_objstore **out, char *err, size_t errlen)
{
	pthread_once(&curl_once, curl_start);
	struct cfs_objstore *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (o)
		s->o = *o;
	if (!s->o.timeout_ms)
		s->o.timeout_ms = 120000;
	if (!s->o.attempts)
		s->o.attempts = 4;
	if (!s->o.backoff_ms)
		s->o.backoff_ms = 200;
	if (s->o.amz_date)
		snprintf(s->amz_date, sizeof(s->amz_date), "%s", s->o.amz_date);
	if (s->o.connect_to)
		snprintf(s->connect_to, sizeof(s->connect_to), "%s",
			 s->o.connect_to);
	s->o.access_key = s->o.secret_key = NULL;	/* not kept but in userpwd */
	snprintf(s->name, sizeof(s->name), "%.*s", (int)strcspn(url, "?"), url);
	pthread_mutex_init(&s->lock, NULL);
	int rc;
	if (!strncmp(url, "s3://", 5)) {
		if (o) {
			s->o.access_key = o->access_key;
			s->o.secret_key = o->secret_key;
		}
		rc = open_s3(s, url + 5, err, errlen);
		s->o.access_key = s->o.secret_key = NULL;
	} else if (!strncmp(url, "file://", 7) && url[7] == '/') {
		snprintf(s->dir, sizeof(s->dir), "%s", url + 7);
		struct stat st;
		rc = 0;
		if (stat(s->dir, &st) || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "tier URL %s: no such directory", url);
			rc = -EINVAL;
		}
	} else {
		snprintf(err, errlen,
			 "tier URL '%s': file:///DIR or s3://BUCKET/PREFIX expected",
			 url);
		rc = -EINVAL;
	}
	if (rc) {
		cfs_objstore_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void cfs_objstore_close(struct cfs_objstore *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nidle; i++)
		curl_easy_cleanup(s->idle[i]);
	sodium_memzero(s->userpwd, sizeof(s->userpwd));
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const char *cfs_objstore_name(const struct cfs_objstore *s)
{
	return s->name;
}

void cfs_objstore_stats(struct cfs_objstore *s, struct cfs_objstore_stats *out)
{
	out->puts = s->puts;
	out->gets = s->gets;
	out->deletes = s->deletes;
	out->failures = s->failures;
	out->retries = s->retries;
	out->bytes_put = s->bytes_put;
	out->bytes_got = s->bytes_got;
	out->latency_us = s->latency_us;
}

/* ---- S3 ---- */

enum method { PUT, GET, DEL };

struct xfer {
	CURL *h;
	const char *src;	/* PUT: the body */
	size_t srclen, sent;
	char *dst;		/* GET: where the range goes */
	size_t dstcap, got;
	bool overflow;
};

static size_t read_body(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * n, left = x->srclen - x->sent;
	if (want > left)
		want = left;
	memcpy(buf, x->src + x->sent, want);
	x->sent += want;
	return want;
}

static size_t write_body(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	long st = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
	if (!x->dst || st >= 300)	/* an error's body: not kept */
		return len;
	if (len > x->dstcap - x->got) {
		x->overflow = true;
		return 0;
	}
	memcpy(x->dst + x->got, buf, len);
	x->got += len;
	return len;
}

static CURL *handle_get(struct cfs_objstore *s)
{
	CURL *h = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->nidle)
		h = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

static void handle_put(struct cfs_objstore *s, CURL *h)
{
	pthread_mutex_lock(&s->lock);
	if (s->nidle < IDLE_MAX) {
		s->idle[s->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_cleanup(h);
}

static void sha256_hex(const void *buf, size_t len, char hex[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(d, buf, len);
	sodium_bin2hex(hex, 65, d, sizeof(d));
}

/* One try of one request. 0, a negative errno, or -EAGAIN when another
 * try may work (5xx, no answer, a timeout). */
static int s3_once(struct cfs_objstore *s, CURL *h, enum method m,
		   const char *url, const char *payload_hash,
		   const char *range, struct xfer *x, long *status)
{
	struct curl_slist *hd = NULL, *ct = NULL;
	char line[128];
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", payload_hash);
	hd = curl_slist_append(hd, line);
	if (*s->amz_date) {
		snprintf(line, sizeof(line), "X-Amz-Date: %s", s->amz_date);
		hd = curl_slist_append(hd, line);
	}
	if (range)
		hd = curl_slist_append(hd, range);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s->o.timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 10L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	if (*s->connect_to) {
		ct = curl_slist_append(NULL, s->connect_to);
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, ct);
	}
	if (m == PUT) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)x->srclen);
	} else if (m == DEL) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	CURLcode cc = curl_easy_perform(h);
	*status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hd);
	curl_slist_free_all(ct);
	if (cc != CURLE_OK) {
		if (x->overflow)
			return -EPROTO;
		cfs_log_warn("object store request failed",
			     "store=%s url_tail=%s error=\"%s\"", s->name,
			     url + strlen(s->base), curl_easy_strerror(cc));
		return -EAGAIN;
	}
	long st = *status;
	if (st >= 200 && st < 300)
		return 0;
	if (st == 404)
		return -ENOENT;
	if (st == 403 || st == 401)
		return -EACCES;
	if (st == 416)
		return -EINVAL;
	if (st >= 500 || st == 408 || st == 429)
		return -EAGAIN;
	return -EPROTO;
}

static void backoff(struct cfs_objstore *s, int attempt)
{
	int64_t ceil_ms = (int64_t)s->o.backoff_ms << (attempt < 10 ? attempt : 10);
	if (ceil_ms > 10000)
		ceil_ms = 10000;
	int64_t ms = randombytes_uniform((uint32_t)ceil_ms + 1);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int s3_request(struct cfs_objstore *s, enum method m, const char *key,
		      struct xfer *x, uint64_t off, size_t len)
{
	char url[URL_MAX * 2], hash[65], range[96];
	snprintf(url, sizeof(url), "%s%s", s->base, key);
	if (m == PUT)
		sha256_hex(x->src, x->srclen, hash);
	else
		sha256_hex("", 0, hash);
	if (m == GET)
		snprintf(range, sizeof(range), "Range: bytes=%llu-%llu",
			 (unsigned long long)off,
			 (unsigned long long)(off + len - 1));
	CURL *h = handle_get(s);
	if (!h)
		return -ENOMEM;
	int rc = -EIO;
	long status = 0;
	for (int attempt = 0; attempt < s->o.attempts; attempt++) {
		if (attempt) {
			s->retries++;
			backoff(s, attempt - 1);
		}
		x->h = h;
		x->sent = x->got = 0;
		x->overflow = false;
		int64_t t0 = cfs_mono_ns();
		switch (m) {
		case PUT: s->puts++; break;
		case GET: s->gets++; break;
		case DEL: s->deletes++; break;
		}
		rc = s3_once(s, h, m, url, hash, m == GET ? range : NULL, x,
			     &status);
		if (!rc) {
			s->latency_us = (uint64_t)(cfs_mono_ns() - t0) / 1000;
			break;
		}
		s->failures++;
		if (rc != -EAGAIN)
			break;
	}
	handle_put(s, h);
	if (rc == -EAGAIN)
		rc = -ETIMEDOUT;
	if (rc && !(rc == -ENOENT && m != PUT))
		cfs_log_warn("object store request gave up", "store=%s key=%s "
			     "method=%s status=%ld rc=%d", s->name, key,
			     m == PUT ? "PUT" : m == GET ? "GET" : "DELETE",
			     status, rc);
	return rc;
}

/* ---- directory ---- */

static int mkdirs_for(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		int rc = mkdir(path, 0700);
		*p = '/';
		if (rc && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int sync_dir_of(const char *path)
{
	char d[URL_MAX * 2];
	snprintf(d, sizeof(d), "%s", path);
	char *slash = strrchr(d, '/');
	if (slash)
		*slash = 0;
	int fd = open(d, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

static int file_put(struct cfs_objstore *s, const char *key, const void *buf,
		    size_t len)
{
	char path[URL_MAX * 2], tmp[URL_MAX * 2 + 64];
	snprintf(path, sizeof(path), "%s/%s", s->dir, key);
	int rc = mkdirs_for(path);
	if (rc)
		return rc;
	char *slash = strrchr(path, '/');
	snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp.%08x", (int)(slash - path),
		 path, slash + 1, randombytes_random());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			rc = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (!rc && fdatasync(fd))
		rc = -errno;
	close(fd);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	else
		rc = sync_dir_of(path);
	return rc;
}

static ssize_t file_get(struct cfs_objstore *s, const char *key, uint64_t off,
			void *buf, size_t len)
{
	char path[URL_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", s->dir, key);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0) {
			done = (size_t)-errno;
			break;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	return (ssize_t)done;
}

static int file_delete(struct cfs_objstore *s, const char *key)
{
	char path[URL_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", s->dir, key);
	if (unlink(path))
		return errno == ENOENT ? 0 : -errno;
	return sync_dir_of(path);
}

/* ---- the three operations ---- */

int cfs_objstore_put(struct cfs_objstore *s, const char *key, const void *buf,
		     size_t len)
{
	if (!key_ok(key))
		return -EINVAL;
	int rc;
	if (s->s3) {
		struct xfer x = { .src = buf, .srclen = len };
		rc = s3_request(s, PUT, key, &x, 0, 0);
	} else {
		s->puts++;
		rc = file_put(s, key, buf, len);
		if (rc)
			s->failures++;
	}
	if (!rc)
		s->bytes_put += len;
	return rc;
}

ssize_t cfs_objstore_get(struct cfs_objstore *s, const char *key, uint64_t off,
			 void *buf, size_t len)
{
	if (!key_ok(key))
		return -EINVAL;
	if (!len)
		return 0;
	ssize_t rc;
	if (s->s3) {
		struct xfer x = { .dst = buf, .dstcap = len };
		rc = s3_request(s, GET, key, &x, off, len);
		if (!rc)
			rc = (ssize_t)x.got;
	} else {
		s->gets++;
		rc = file_get(s, key, off, buf, len);
		if (rc < 0)
			s->failures++;
	}
	if (rc > 0)
		s->bytes_got += (uint64_t)rc;
	return rc;
}

int cfs_objstore_delete(struct cfs_objstore *s, const char *key)
{
	if (!key_ok(key))
		return -EINVAL;
	if (s->s3) {
		struct xfer x = { 0 };
		int rc = s3_request(s, DEL, key, &x, 0, 0);
		return rc == -ENOENT ? 0 : rc;
	}
	s->deletes++;
	int rc = file_delete(s, key);
	if (rc)
		s->failures++;
	return rc;
}
