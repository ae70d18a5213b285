/* The lock table; see locks.h for the rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/map.h"
#include "locks.h"

struct lock_file {
	uint64_t ino;
	struct cfs_lock *locks;
	struct lock_file *next;
};

void cfs_locks_init(struct cfs_lock_table *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mutex, NULL);
}

static void free_locks(struct cfs_lock *l)
{
	while (l) {
		struct cfs_lock *n = l->next;

		free(l);
		l = n;
	}
}

void cfs_locks_destroy(struct cfs_lock_table *t)
{
	cfs_locks_clear(t);
	pthread_mutex_destroy(&t->mutex);
}

static struct lock_file **file_slot(struct cfs_lock_table *t, uint64_t ino)
{
	struct lock_file **pp = &t->buckets[cfs_hash64(ino) % LOCK_BUCKETS];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

static bool same_owner(const struct cfs_lock *a, const struct cfs_lock *b)
{
	return a->client == b->client && a->owner == b->owner;
}

static bool overlap(const struct cfs_lock *a, const struct cfs_lock *b)
{
	return a->start <= b->end && b->start <= a->end;
}

static bool conflicts(const struct cfs_lock *held, const struct cfs_lock *want)
{
	return held->flock == want->flock && !same_owner(held, want) &&
	       overlap(held, want) &&
	       (held->type == F_WRLCK || want->type == F_WRLCK);
}

bool cfs_locks_test(struct cfs_lock_table *t, uint64_t ino,
		    const struct cfs_lock *want, struct cfs_lock *conflict)
{
	struct lock_file *f;
	bool found = false;

	pthread_mutex_lock(&t->mutex);
	f = *file_slot(t, ino);
	for (struct cfs_lock *l = f ? f->locks : NULL; l && !found; l = l->next) {
		if (conflicts(l, want)) {
			*conflict = *l;
			conflict->next = NULL;
			found = true;
		}
	}
	pthread_mutex_unlock(&t->mutex);
	return found;
}

static struct cfs_lock *copy_lock(const struct cfs_lock *l)
{
	struct cfs_lock *c = malloc(sizeof(*c));

	if (c) {
		*c = *l;
		c->next = NULL;
	}
	return c;
}

/* Remove want's range from the owner's locks of want's kind, keeping the
 * parts outside it. */
static int carve(struct lock_file *f, const struct cfs_lock *want)
{
	struct cfs_lock **pp = &f->locks;

	while (*pp) {
		struct cfs_lock *l = *pp;

		if (l->flock != want->flock || !same_owner(l, want) ||
		    !overlap(l, want)) {
			pp = &l->next;
			continue;
		}
		if (l->start < want->start && l->end > want->end) {
			/* split in two: l keeps the left part */
			struct cfs_lock *right = copy_lock(l);

			if (!right)
				return -ENOMEM;
			right->start = want->end + 1;
			l->end = want->start - 1;
			right->next = l->next;
			l->next = right;
			pp = &right->next;
		} else if (l->start < want->start) {
			l->end = want->start - 1;
			pp = &l->next;
		} else if (l->end > want->end) {
			l->start = want->end + 1;
			pp = &l->next;
		} else {
			*pp = l->next;
			free(l);
		}
	}
	return 0;
}

/* Merge the owner's locks of one type that touch the new one. */
static void merge(struct lock_file *f, struct cfs_lock *n)
{
	struct cfs_lock **pp = &f->locks;

	while (*pp) {
		struct cfs_lock *l = *pp;
		bool touches = l != n && l->flock == n->flock &&
			       same_owner(l, n) && l->type == n->type &&
			       (overlap(l, n) ||
				(n->end != CFS_LOCK_EOF && l->start == n->end + 1) ||
				(l->end != CFS_LOCK_EOF && n->start == l->end + 1));

		if (!touches) {
			pp = &l->next;
			continue;
		}
		if (l->start < n->start)
			n->start = l->start;
		if (l->end > n->end)
			n->end = l->end;
		*pp = l->next;
		free(l);
	}
}

int cfs_locks_set(struct cfs_lock_table *t, uint64_t ino,
		  const struct cfs_lock *want)
{
	struct lock_file **pp, *f;
	struct cfs_lock *n;
	int rc = 0;

	pthread_mutex_lock(&t->mutex);
	pp = file_slot(t, ino);
	f = *pp;
	if (!f && want->type == F_UNLCK)
		goto out;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			rc = -ENOMEM;
			goto out;
		}
		f->ino = ino;
		*pp = f;
	}
	if (want->type != F_UNLCK) {
		for (struct cfs_lock *l = f->locks; l; l = l->next) {
			if (conflicts(l, want)) {
				rc = -EAGAIN;
				goto out;
			}
		}
	}
	rc = carve(f, want);
	if (rc || want->type == F_UNLCK)
		goto tidy;
	n = copy_lock(want);
	if (!n) {
		rc = -ENOMEM;
		goto tidy;
	}
	n->next = f->locks;
	f->locks = n;
	merge(f, n);
tidy:
	if (!f->locks) {
		*pp = f->next;
		free(f);
	}
out:
	pthread_mutex_unlock(&t->mutex);
	return rc;
}

void cfs_locks_release(struct cfs_lock_table *t, uint64_t ino,
		       uint64_t client, uint64_t owner, bool flock)
{
	struct cfs_lock all = { .client = client, .owner = owner,
				.type = F_UNLCK, .start = 0,
				.end = CFS_LOCK_EOF, .flock = flock };

	cfs_locks_set(t, ino, &all);
}

void cfs_locks_release_client(struct cfs_lock_table *t, uint64_t client)
{
	pthread_mutex_lock(&t->mutex);
	for (int i = 0; i < LOCK_BUCKETS; i++) {
		struct lock_file **fp = &t->buckets[i];

		while (*fp) {
			struct lock_file *f = *fp;
			struct cfs_lock **pp = &f->locks;

			while (*pp) {
				struct cfs_lock *l = *pp;

				if (l->client == client) {
					*pp = l->next;
					free(l);
				} else {
					pp = &l->next;
				}
			}
			if (!f->locks) {
				*fp = f->next;
				free(f);
			} else {
				fp = &f->next;
			}
		}
	}
	pthread_mutex_unlock(&t->mutex);
}

int cfs_locks_count(struct cfs_lock_table *t, uint64_t ino)
{
	struct lock_file *f;
	int n = 0;

	pthread_mutex_lock(&t->mutex);
	f = *file_slot(t, ino);
	for (struct cfs_lock *l = f ? f->locks : NULL; l; l = l->next)
		n++;
	pthread_mutex_unlock(&t->mutex);
	return n;
}

int cfs_locks_export(struct cfs_lock_table *t, uint64_t ino,
		     struct cfs_lock_rec **out, size_t *n)
{
	struct lock_file *f;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&t->mutex);
	f = *file_slot(t, ino);
	for (struct cfs_lock *l = f ? f->locks : NULL; l; l = l->next)
		k++;
	if (k && !(*out = calloc(k, sizeof(**out)))) {
		pthread_mutex_unlock(&t->mutex);
		return -ENOMEM;
	}
	for (struct cfs_lock *l = f ? f->locks : NULL; l; l = l->next)
		(*out)[(*n)++] = (struct cfs_lock_rec){
			.client = l->client, .owner = l->owner,
			.start = l->start, .end = l->end, .pid = l->pid,
			.type = l->type, .flock = l->flock };
	pthread_mutex_unlock(&t->mutex);
	return 0;
}

int cfs_locks_import(struct cfs_lock_table *t, uint64_t ino,
		     const struct cfs_lock_rec *recs, size_t n)
{
	struct lock_file **fp, *f;
	struct cfs_lock *head = NULL, **tail = &head;

	for (size_t i = 0; i < n; i++) {
		struct cfs_lock *l = calloc(1, sizeof(*l));

		if (!l) {
			free_locks(head);
			return -ENOMEM;
		}
		*l = (struct cfs_lock){ .client = recs[i].client,
			.owner = recs[i].owner, .pid = recs[i].pid,
			.type = recs[i].type, .start = recs[i].start,
			.end = recs[i].end, .flock = recs[i].flock };
		*tail = l;
		tail = &l->next;
	}
	pthread_mutex_lock(&t->mutex);
	fp = file_slot(t, ino);
	if (!*fp && head && (*fp = calloc(1, sizeof(**fp))))
		(*fp)->ino = ino;
	f = *fp;
	if (f) {
		free_locks(f->locks);
		f->locks = head;
		head = NULL;
		if (!f->locks) {
			*fp = f->next;
			free(f);
		}
	}
	pthread_mutex_unlock(&t->mutex);
	free_locks(head);	/* no memory for the file: none kept */
	return head ? -ENOMEM : 0;
}

void cfs_locks_clear(struct cfs_lock_table *t)
{
	pthread_mutex_lock(&t->mutex);
	for (int i = 0; i < LOCK_BUCKETS; i++) {
		while (t->buckets[i]) {
			struct lock_file *f = t->buckets[i];

			t->buckets[i] = f->next;
			free_locks(f->locks);
			free(f);
		}
	}
	pthread_mutex_unlock(&t->mutex);
}

size_t cfs_locks_files(struct cfs_lock_table *t, uint64_t *inos, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&t->mutex);
	for (int i = 0; i < LOCK_BUCKETS; i++)
		for (struct lock_file *f = t->buckets[i]; f; f = f->next) {
			if (n < max)
				inos[n] = f->ino;
			n++;
		}
	pthread_mutex_unlock(&t->mutex);
	return n;
}
