/* Directory listings that answer lookups (statahead).
 *
 * A program that looks up many names in one directory (a stat of every
 * file, make, an unlink sweep, ls -l after the kernel's cache expired)
 * costs one MDS round trip per name. Once DC_TRIGGER lookups of one
 * directory went to the MDS within a lease, the thread making the next
 * one lists the whole directory with attributes (MDS_READDIR, 1,024
 * names a call, up to DC_ENTRIES), and lookups are answered here until
 * the lease ends. A complete listing also answers for names that are not
 * there. Lookups the listing cannot answer (it expired, or the entry is
 * older than a change of ours) count again, and enough of them (at least
 * a 64th of the names, as a listing costs about that many lookups) list
 * the directory anew. All listings together keep at most DC_TOTAL names;
 * the least recently used go first.
 *
 * Coherence is the kernel's own cache rule, no weaker: the lease runs
 * from the moment the listing was asked, and the caller hands the kernel
 * only what is left of it, so no answer is older than the entry and
 * attribute timeouts allow.
 *
 * This client sees its own changes at once:
 * - a name it adds or removes in a listed directory is added to or
 *   removed from the listing; a change whose outcome is unknown (an
 *   error) drops the listing;
 * - every change it makes to an inode stamps it (dc_touch) in a
 *   direct-mapped table, and a listed entry answers only if it is newer
 *   than its inode's stamp (a collision costs a round trip, never a stale
 *   answer); an unlink or rename whose victim is not listed stamps
 *   everything;
 * - a listing asked before this client changed the directory is thrown
 *   away when it arrives.
 * Writes not yet at the MDS are merged in by the caller, as for any
 * attribute from the MDS. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/crc.h"
#include "client_priv.h"

#define DC_DIRS 32		/* directories listed or counted at once */
#define DC_ENTRIES 16384	/* names kept of one directory */
#define DC_TOTAL 65536		/* names kept in all (about 8 MiB) */
#define DC_BUCKETS 2048
#define DC_TRIGGER 8		/* MDS lookups in a lease that start a listing */
#define DC_STAMPS 4096
#define DC_BATCH 1024
#define DC_ATTRS 16384		/* attributes kept, by hash of ino */

struct dc_entry {
	struct dc_entry *next;
	uint64_t cookie;	/* the MDS's, for readdir */
	int64_t asof_ns;	/* attr current at the MDS then (0: unknown) */
	struct cfs_attr attr;
	uint32_t hash;
	uint16_t len;
	char name[];
};

struct dc_dir {
	uint64_t ino;		/* 0: a free slot */
	int64_t window_ns;	/* misses are counted from here */
	int64_t used_ns;
	uint32_t misses;
	bool loading;		/* a thread is listing it */
	/* the listing: asked at asked_ns (0: none) */
	int64_t asked_ns;
	bool complete;		/* every name the directory had is here */
	size_t n, counted;	/* names now, and as counted in the total */
	struct dc_entry **b;	/* DC_BUCKETS chains */
	/* the entries in the MDS's order, while the listing is as fetched
	 * (NULL once changed in place): readdir is answered from it */
	struct dc_entry **order;
};

/* The attributes of an inode as the MDS gave them at asof_ns. */
struct dc_attr {
	uint64_t ino;
	int64_t asof_ns;
	struct cfs_attr attr;
};

struct dircache {
	pthread_mutex_t lock;
	int64_t lease_ns;
	struct dc_dir dirs[DC_DIRS];
	struct dc_attr attrs[DC_ATTRS];
	size_t total;			/* names in all listings */
	int64_t stamp[DC_STAMPS];	/* by hash of ino: our last change */
	int64_t stamp_all;		/* a change to an inode not known */
};

static int64_t *stamp_of(struct dircache *dc, uint64_t ino)
{
	return &dc->stamp[cfs_hash64(ino) % DC_STAMPS];
}

/* Whether what the MDS said at asof_ns about ino is still the latest
 * this client knows of. */
static bool fresh(struct dircache *dc, uint64_t ino, int64_t asof_ns)
{
	return asof_ns > *stamp_of(dc, ino) && asof_ns > dc->stamp_all;
}

static bool young(const struct dircache *dc, int64_t asof_ns, int64_t now)
{
	return now - asof_ns < dc->lease_ns;
}

static void put_attr(struct dircache *dc, const struct cfs_attr *a,
		     int64_t asof_ns)
{
	struct dc_attr *s = &dc->attrs[cfs_hash64(a->ino) % DC_ATTRS];

	if (s->ino == a->ino && s->asof_ns > asof_ns)
		return;	/* an older answer arriving late */
	s->ino = a->ino;
	s->asof_ns = asof_ns;
	s->attr = *a;
}

/* ino's attributes, if the MDS gave them within the lease and this
 * client changed nothing since. */
static bool attr_of(struct dircache *dc, uint64_t ino, int64_t now,
		    struct cfs_attr *out, int64_t *asof_ns)
{
	const struct dc_attr *s = &dc->attrs[cfs_hash64(ino) % DC_ATTRS];

	if (s->ino != ino || !young(dc, s->asof_ns, now) ||
	    !fresh(dc, ino, s->asof_ns))
		return false;
	*out = s->attr;
	*asof_ns = s->asof_ns;
	return true;
}

static void free_entries(struct dc_entry **b)
{
	if (!b)
		return;
	for (size_t i = 0; i < DC_BUCKETS; i++) {
		while (b[i]) {
			struct dc_entry *n = b[i]->next;

			free(b[i]);
			b[i] = n;
		}
	}
	free(b);
}

static void drop_listing(struct dircache *dc, struct dc_dir *d)
{
	dc->total -= d->counted;
	d->counted = 0;
	free(d->order);
	d->order = NULL;
	free_entries(d->b);
	d->b = NULL;
	d->n = 0;
	d->asked_ns = 0;
	d->complete = false;
}

/* The listing changes in place: no longer the MDS's order. */
static void changed(struct dc_dir *d)
{
	free(d->order);
	d->order = NULL;
}

/* A name added to d's listing (e, now counted in d->n) at the MDS's
 * cookie: it is last in the MDS's order, as cookies only grow. */
static void order_append(struct dc_dir *d, struct dc_entry *e,
			 uint64_t cookie)
{
	struct dc_entry **o;

	if (!d->order)
		return;
	if (!cookie || (d->n > 1 && d->order[d->n - 2]->cookie >= cookie) ||
	    !(o = realloc(d->order, d->n * sizeof(*o)))) {
		changed(d);
		return;
	}
	e->cookie = cookie;
	o[d->n - 1] = e;
	d->order = o;
}

/* e, taken out of d's listing (no longer counted in d->n), out of the
 * MDS's order too. */
static void order_remove(struct dc_dir *d, const struct dc_entry *e)
{
	size_t lo = 0, hi = d->n + 1;

	if (!d->order)
		return;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d->order[mid]->cookie < e->cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > d->n || d->order[lo] != e) {
		changed(d);
		return;
	}
	memmove(&d->order[lo], &d->order[lo + 1],
		(d->n - lo) * sizeof(*d->order));
}

static bool live(const struct dircache *dc, const struct dc_dir *d,
		 int64_t now)
{
	return d->b && now - d->asked_ns < dc->lease_ns;
}

static struct dc_dir *find_dir(struct dircache *dc, uint64_t ino)
{
	for (int i = 0; i < DC_DIRS; i++)
		if (dc->dirs[i].ino == ino)
			return &dc->dirs[i];
	return NULL;
}

/* A slot for ino: its own, a free one, or the least recently used one
 * that nobody is listing. NULL if all are being listed. */
static struct dc_dir *claim_dir(struct dircache *dc, uint64_t ino, int64_t now)
{
	struct dc_dir *d = find_dir(dc, ino), *old = NULL;

	if (d)
		return d;
	for (int i = 0; i < DC_DIRS; i++) {
		d = &dc->dirs[i];
		if (d->loading)
			continue;
		if (!d->ino) {
			old = d;
			break;
		}
		if (!old || d->used_ns < old->used_ns)
			old = d;
	}
	if (!old)
		return NULL;
	drop_listing(dc, old);
	memset(old, 0, sizeof(*old));
	old->ino = ino;
	old->window_ns = now;
	return old;
}

/* Drop the least recently used listings until n more names fit. */
static void make_room(struct dircache *dc, const struct dc_dir *keep, size_t n)
{
	while (dc->total + n > DC_TOTAL) {
		struct dc_dir *old = NULL;

		for (int i = 0; i < DC_DIRS; i++) {
			struct dc_dir *d = &dc->dirs[i];

			if (d != keep && d->b && (!old || d->used_ns < old->used_ns))
				old = d;
		}
		if (!old)
			return;
		drop_listing(dc, old);
	}
}

static uint32_t name_hash(const char *name, size_t len)
{
	return cfs_crc32c(name, len);
}

static struct dc_entry **slot_of(struct dc_entry **b, const char *name,
				 size_t len, uint32_t h)
{
	struct dc_entry **pp = &b[h % DC_BUCKETS];

	while (*pp && ((*pp)->hash != h || (*pp)->len != len ||
		       memcmp((*pp)->name, name, len)))
		pp = &(*pp)->next;
	return pp;
}

/* Put name -> a in the chains b (replacing an entry of that name); the
 * entry, or NULL when out of memory. */
static struct dc_entry *put_entry(struct dc_entry **b, size_t *n,
				  const char *name, size_t len,
				  const struct cfs_attr *a, int64_t asof_ns)
{
	uint32_t h = name_hash(name, len);
	struct dc_entry **pp = slot_of(b, name, len, h), *e = *pp;

	if (e) {
		e->attr = *a;
		e->asof_ns = asof_ns;
		return e;
	}
	e = malloc(sizeof(*e) + len);
	if (!e)
		return NULL;
	e->next = NULL;
	e->asof_ns = asof_ns;
	e->attr = *a;
	e->hash = h;
	e->len = (uint16_t)len;
	memcpy(e->name, name, len);
	*pp = e;
	(*n)++;
	return e;
}

/* The attributes a listed entry answers with: its own, or newer ones
 * the MDS gave since (a reply to a change of ours); false if neither is
 * current. */
static bool entry_attr(struct dircache *dc, const struct dc_entry *e,
		       int64_t now, struct cfs_attr *out, int64_t *asof_ns)
{
	if (e->asof_ns && fresh(dc, e->attr.ino, e->asof_ns)) {
		*out = e->attr;
		*asof_ns = e->asof_ns;
		return true;
	}
	return attr_of(dc, e->attr.ino, now, out, asof_ns);
}

/* Take name out of d's listing; the entry, for the caller to free. */
static struct dc_entry *take_entry(struct dc_dir *d, const char *name,
				   size_t len)
{
	struct dc_entry **pp, *e;

	pp = slot_of(d->b, name, len, name_hash(name, len));
	e = *pp;
	if (e) {
		*pp = e->next;
		d->n--;
	}
	return e;
}

int dc_start(struct cfs_client *cl, int lease_ms)
{
	struct dircache *dc;

	if (lease_ms <= 0)
		return 0;
	dc = calloc(1, sizeof(*dc));
	if (!dc)
		return -ENOMEM;
	pthread_mutex_init(&dc->lock, NULL);
	dc->lease_ns = (int64_t)lease_ms * 1000000;
	cl->dc = dc;
	return 0;
}

void dc_stop(struct cfs_client *cl)
{
	struct dircache *dc = cl->dc;

	if (!dc)
		return;
	for (int i = 0; i < DC_DIRS; i++)
		drop_listing(dc, &dc->dirs[i]);
	pthread_mutex_destroy(&dc->lock);
	free(dc);
	cl->dc = NULL;
}

int dc_answer(struct cfs_client *cl, uint64_t parent, const char *name,
	      size_t len, struct cfs_attr *out, int64_t *asof_ns)
{
	struct dircache *dc = cl->dc;
	int64_t now = cfs_mono_ns();
	struct dc_entry *e;
	struct dc_dir *d;
	int rc = DC_UNKNOWN;

	if (!dc)
		return DC_UNKNOWN;
	pthread_mutex_lock(&dc->lock);
	d = find_dir(dc, parent);
	if (d && live(dc, d, now)) {
		d->used_ns = now;
		e = *slot_of(d->b, name, len, name_hash(name, len));
		if (e && entry_attr(dc, e, now, out, asof_ns)) {
			rc = 0;
			goto out;
		}
		if (!e && d->complete) {
			*asof_ns = d->asked_ns;
			rc = -ENOENT;
			goto out;
		}
	}
	/* count lookups that go to the MDS; enough of them list it (again:
	 * a listing of n names costs about n / 64 lookups) */
	d = d ? d : claim_dir(dc, parent, now);
	if (!d || d->loading)
		goto out;
	if (now - d->window_ns >= dc->lease_ns) {
		d->window_ns = now;
		d->misses = 0;
	}
	d->used_ns = now;
	/* a live listing that stopped short would only list the same names */
	if (++d->misses >= DC_TRIGGER && d->misses >= d->n / 64 &&
	    !(live(dc, d, now) && !d->complete)) {
		d->loading = true;
		rc = DC_LIST;
	}
out:
	pthread_mutex_unlock(&dc->lock);
	return rc;
}

void dc_list(struct cfs_client *cl, const struct cfs_cred *cr,
	     uint64_t parent)
{
	struct dircache *dc = cl->dc;
	struct dc_entry **b = calloc(DC_BUCKETS, sizeof(*b));
	int64_t asked = cfs_mono_ns();
	struct dc_entry **order = NULL, **no;
	uint64_t cookie = 0;
	bool eof = false;
	struct dc_dir *d;
	size_t n = 0;
	int rc = b ? 0 : -ENOMEM;

	while (rc == 0 && !eof && n < DC_ENTRIES) {
		struct cfs_dirent_list l;

		rc = client_readdir(cl, cr, parent, cookie, DC_BATCH, &l);
		if (rc)
			break;
		no = realloc(order, (n + l.n + 1) * sizeof(*order));
		if (!no)
			rc = -ENOMEM;
		else
			order = no;
		for (size_t i = 0; rc == 0 && i < l.n; i++) {
			const struct cfs_dir_entry *de = &l.entries[i];
			size_t before = n;
			struct dc_entry *e = put_entry(b, &n, de->name,
						       de->namelen, &de->attr,
						       asked);

			cookie = de->cookie;
			if (!e) {
				rc = -ENOMEM;
			} else if (n > before) {
				e->cookie = cookie;
				order[n - 1] = e;
			}
		}
		eof = l.eof || l.n == 0;
		cfs_dirents_free(&l);
	}
	pthread_mutex_lock(&dc->lock);
	d = find_dir(dc, parent);
	/* a change of ours since the listing was asked: it may predate it
	 * (the entries' attributes went to the table as they came) */
	if (d && d->loading && rc == 0 && *stamp_of(dc, parent) < asked) {
		drop_listing(dc, d);
		make_room(dc, d, n);
		d->b = b;
		d->order = order;
		order = NULL;
		d->n = d->counted = n;
		dc->total += n;
		d->asked_ns = asked;
		d->complete = eof;
		b = NULL;
	}
	if (d && d->loading) {
		d->loading = false;
		d->misses = 0;
		d->window_ns = cfs_mono_ns();
	}
	pthread_mutex_unlock(&dc->lock);
	free(order);
	free_entries(b);
}

void dc_learned(struct cfs_client *cl, uint64_t parent, const char *name,
		size_t len, int rc, const struct cfs_attr *a, int64_t asked_ns)
{
	struct dircache *dc = cl->dc;
	struct dc_dir *d;
	bool current;

	if (!dc || (rc && rc != -ENOENT))
		return;
	pthread_mutex_lock(&dc->lock);
	d = find_dir(dc, parent);
	current = rc == 0 && fresh(dc, a->ino, asked_ns);
	if (current)
		put_attr(dc, a, asked_ns);
	if (d && live(dc, d, cfs_mono_ns()) && *stamp_of(dc, parent) < asked_ns) {
		size_t before = d->n;
		struct dc_entry *gone = NULL;

		/* a new attr keeps the MDS's order; a new or lost name not */
		if (current)
			put_entry(d->b, &d->n, name, len, a, asked_ns);
		else if (rc == -ENOENT)
			gone = take_entry(d, name, len);
		if (d->n != before)
			changed(d);
		free(gone);
	}
	pthread_mutex_unlock(&dc->lock);
}

void dc_touch(struct cfs_client *cl, uint64_t ino)
{
	dc_begin(cl, ino);	/* a change whose reply carries no attributes */
}

/* Whether a change of ours to ino begun at begun_ns was the only one
 * between (dc_end's rule). Lock held. */
static bool alone_since(struct dircache *dc, uint64_t ino, int64_t begun_ns)
{
	return *stamp_of(dc, ino) == begun_ns && dc->stamp_all < begun_ns;
}

/* After a name change in parent, stamped: keep the directory's
 * attributes from the reply when the change was alone. Lock held. */
static void dir_after(struct dircache *dc, uint64_t parent, bool alone,
		      int rc, const struct cfs_attr *dir)
{
	if (alone && rc == 0 && dir && dir->ino == parent)
		put_attr(dc, dir, cfs_mono_ns() + 1);
}

void dc_added(struct cfs_client *cl, uint64_t parent, const char *name,
	      size_t len, int rc, const struct cfs_attr *a, bool created,
	      int64_t begun_ns, const struct cfs_attr *dir, uint64_t cookie)
{
	struct dircache *dc = cl->dc;
	int64_t now = cfs_mono_ns();
	struct dc_dir *d;
	bool alone;

	if (!dc)
		return;
	pthread_mutex_lock(&dc->lock);
	alone = alone_since(dc, parent, begun_ns);
	*stamp_of(dc, parent) = now;
	/* a new inode's attr is the reply's; a link's, dc_end's to judge */
	if (rc == 0 && a && created)
		put_attr(dc, a, now);
	d = find_dir(dc, parent);
	if (d && d->b) {
		size_t before = d->n;
		struct dc_entry *e = rc || !a ? NULL :
			put_entry(d->b, &d->n, name, len, a, created ? now : 0);

		if (!e)
			drop_listing(dc, d);
		else if (d->n > before)
			order_append(d, e, cookie);
	}
	dir_after(dc, parent, alone, rc, dir);
	pthread_mutex_unlock(&dc->lock);
}

/* Take name out of parent's listing and stamp the inode it named; with
 * no listing that knows it, stamp everything. */
static struct dc_entry *remove_locked(struct dircache *dc, uint64_t parent,
				      const char *name, size_t len)
{
	struct dc_dir *d = find_dir(dc, parent);
	struct dc_entry *e = NULL;
	int64_t now = cfs_mono_ns();

	*stamp_of(dc, parent) = now;
	if (d && live(dc, d, now)) {
		e = take_entry(d, name, len);
		if (e) {
			order_remove(d, e);
			*stamp_of(dc, e->attr.ino) = now;
			return e;
		}
		if (d->complete)
			return NULL;	/* there was nothing to remove */
	}
	dc->stamp_all = now;
	return NULL;
}

static void drop_dir_locked(struct dircache *dc, uint64_t ino)
{
	struct dc_dir *d = find_dir(dc, ino);

	if (d)
		drop_listing(dc, d);
}

void dc_removed(struct cfs_client *cl, uint64_t parent, const char *name,
		size_t len, int rc, int64_t begun_ns,
		const struct cfs_attr *dir)
{
	struct dircache *dc = cl->dc;
	bool alone;

	if (!dc)
		return;
	pthread_mutex_lock(&dc->lock);
	alone = alone_since(dc, parent, begun_ns);
	free(remove_locked(dc, parent, name, len));
	if (rc)
		drop_dir_locked(dc, parent);
	dir_after(dc, parent, alone, rc, dir);
	pthread_mutex_unlock(&dc->lock);
}

void dc_renamed(struct cfs_client *cl, uint64_t parent, const char *name,
		size_t len, uint64_t newparent, const char *newname,
		size_t newlen, bool exchange, int rc)
{
	struct dircache *dc = cl->dc;
	struct dc_entry *moved;
	struct dc_dir *d;

	if (!dc)
		return;
	pthread_mutex_lock(&dc->lock);
	moved = remove_locked(dc, parent, name, len);
	free(remove_locked(dc, newparent, newname, newlen));
	d = find_dir(dc, newparent);
	if (rc || exchange) {
		drop_dir_locked(dc, parent);
		drop_dir_locked(dc, newparent);
	} else if (d && d->b) {
		changed(d);
		/* the name now exists; its attrs (a new ctime) are unknown */
		if (!moved ||
		    !put_entry(d->b, &d->n, newname, newlen, &moved->attr, 0))
			drop_listing(dc, d);
	}
	pthread_mutex_unlock(&dc->lock);
	free(moved);
}

int dc_getattr(struct cfs_client *cl, uint64_t ino, struct cfs_attr *out,
	       int64_t *asof_ns)
{
	struct dircache *dc = cl->dc;
	int rc;

	if (!dc)
		return DC_UNKNOWN;
	pthread_mutex_lock(&dc->lock);
	rc = attr_of(dc, ino, cfs_mono_ns(), out, asof_ns) ? 0 : DC_UNKNOWN;
	pthread_mutex_unlock(&dc->lock);
	return rc;
}

void dc_got_attr(struct cfs_client *cl, const struct cfs_attr *a,
		 int64_t asked_ns)
{
	struct dircache *dc = cl->dc;

	if (!dc)
		return;
	pthread_mutex_lock(&dc->lock);
	if (fresh(dc, a->ino, asked_ns))
		put_attr(dc, a, asked_ns);
	pthread_mutex_unlock(&dc->lock);
}

void dc_stale_inode(struct cfs_client *cl, uint64_t ino)
{
	struct dircache *dc = cl->dc;

	pthread_mutex_lock(&dc->lock);
	*stamp_of(dc, ino) = cfs_mono_ns();
	pthread_mutex_unlock(&dc->lock);
}

void dc_stale_name(struct cfs_client *cl, uint64_t parent)
{
	struct dircache *dc = cl->dc;

	pthread_mutex_lock(&dc->lock);
	*stamp_of(dc, parent) = cfs_mono_ns();
	drop_dir_locked(dc, parent);
	pthread_mutex_unlock(&dc->lock);
}

void dc_stale_all(struct cfs_client *cl)
{
	struct dircache *dc = cl->dc;

	pthread_mutex_lock(&dc->lock);
	dc->stamp_all = cfs_mono_ns();
	for (int i = 0; i < DC_DIRS; i++)
		drop_listing(dc, &dc->dirs[i]);
	pthread_mutex_unlock(&dc->lock);
}

bool cfs_current(struct cfs_client *cl, uint64_t ino, int64_t asof_ns)
{
	struct dircache *dc = cl->dc;
	bool current;

	if (!dc)
		return false;
	pthread_mutex_lock(&dc->lock);
	current = fresh(dc, ino, asof_ns);
	pthread_mutex_unlock(&dc->lock);
	return current;
}

int64_t dc_begin(struct cfs_client *cl, uint64_t ino)
{
	struct dircache *dc = cl->dc;
	int64_t now = cfs_mono_ns();

	if (!dc)
		return 0;
	pthread_mutex_lock(&dc->lock);
	*stamp_of(dc, ino) = now;
	pthread_mutex_unlock(&dc->lock);
	return now;
}

void dc_end(struct cfs_client *cl, uint64_t ino, int64_t begun_ns, int rc,
	    const struct cfs_attr *a)
{
	struct dircache *dc = cl->dc;
	int64_t now = cfs_mono_ns();
	bool alone;

	if (!dc)
		return;
	pthread_mutex_lock(&dc->lock);
	/* the reply is the latest only if no other change of ours (or of an
	 * inode sharing the stamp) came between */
	alone = alone_since(dc, ino, begun_ns);
	*stamp_of(dc, ino) = now;
	if (rc == 0 && a && alone)
		put_attr(dc, a, now + 1);
	pthread_mutex_unlock(&dc->lock);
}

int dc_readdir(struct cfs_client *cl, uint64_t ino, uint64_t cookie,
	       size_t max, struct cfs_dirent_list *out)
{
	struct dircache *dc = cl->dc;
	int64_t now = cfs_mono_ns();
	size_t lo = 0, hi, count, names = 0;
	struct cfs_dir_entry *ents;
	struct dc_dir *d;
	char *name;

	if (!dc)
		return DC_UNKNOWN;
	pthread_mutex_lock(&dc->lock);
	d = find_dir(dc, ino);
	if (!d || !live(dc, d, now) || !d->complete || !d->order)
		goto unknown;
	/* the first entry after cookie (cookies grow in the MDS's order) */
	hi = d->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d->order[mid]->cookie <= cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	count = d->n - lo < max ? d->n - lo : max;
	for (size_t i = 0; i < count; i++)
		names += d->order[lo + i]->len;
	ents = malloc((count + 1) * sizeof(*ents) + names);
	if (!ents)
		goto unknown;
	name = (char *)(ents + count + 1);
	for (size_t i = 0; i < count; i++) {
		const struct dc_entry *e = d->order[lo + i];
		struct cfs_dir_entry *o = &ents[i];

		/* attributes older than a change of ours: ask the MDS */
		if (!entry_attr(dc, e, now, &o->attr, &o->asof_ns)) {
			free(ents);
			goto unknown;
		}
		memcpy(name, e->name, e->len);
		o->name = name;
		o->namelen = e->len;
		o->cookie = e->cookie;
		name += e->len;
	}
	d->used_ns = now;
	memset(out, 0, sizeof(*out));
	out->entries = ents;
	out->n = count;
	out->eof = lo + count == d->n;
	pthread_mutex_unlock(&dc->lock);
	return 0;
unknown:
	pthread_mutex_unlock(&dc->lock);
	return DC_UNKNOWN;
}
