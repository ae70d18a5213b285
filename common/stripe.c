/* Reading EC shards with rebuilding; see include/cfs/stripe.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/crc.h"
#include "cfs/layout.h"
#include "cfs/rpc.h"
#include "cfs/stripe.h"

#define MAXN (CFS_EC_MAX_K + CFS_EC_MAX_M)

struct answers {
	int n;
	bool asked[MAXN];
	int rc[MAXN];
	uint64_t version[MAXN], size[MAXN];
};

static void ask(struct cfs_stripe_read *r, struct answers *a,
		const int *shards, int n, const uint64_t *offs,
		const uint64_t *lens, uint8_t *const *bufs)
{
	int rcs[MAXN];
	uint64_t vs[MAXN], ss[MAXN];

	if (n == 0)
		return;
	r->read(r->ctx, n, shards, offs, lens, bufs, rcs, vs, ss);
	for (int i = 0; i < n; i++) {
		a->asked[shards[i]] = true;
		a->rc[shards[i]] = rcs[i];
		a->version[shards[i]] = vs[i];
		a->size[shards[i]] = ss[i];
	}
}

/* The newest version at least k answers agree on, or false. */
static bool agreed(const struct answers *a, int k, uint64_t *v)
{
	bool found = false;

	for (int i = 0; i < a->n; i++) {
		int same = 0;

		if (!a->asked[i] || a->rc[i])
			continue;
		for (int j = 0; j < a->n; j++)
			same += a->asked[j] && !a->rc[j] &&
				a->version[j] == a->version[i];
		if (same >= k && (!found || a->version[i] > *v)) {
			*v = a->version[i];
			found = true;
		}
	}
	return found;
}

static uint64_t longest(const struct answers *a, uint64_t v)
{
	uint64_t size = 0;

	for (int i = 0; i < a->n; i++)
		if (a->asked[i] && !a->rc[i] && a->version[i] == v &&
		    a->size[i] > size)
			size = a->size[i];
	return size;
}

/* The slow way: every shard that may be asked, over the union of the
 * wanted ranges, then the wanted ones rebuilt from K of one version. */
static int rebuild(struct cfs_stripe_read *r, const int *want, int nwant,
		   const uint64_t *offs, const uint64_t *lens,
		   uint8_t *const *out)
{
	const int n = r->ec->k + r->ec->m;
	uint64_t lo = UINT64_MAX, hi = 0, v = 0, uoffs[MAXN], ulens[MAXN];
	uint8_t *bufs[MAXN] = { NULL }, *ask_bufs[MAXN];
	int shards[MAXN], lost[MAXN], nask = 0, nlost = 0, nanswer = 0, rc;
	struct answers a = { .n = n };

	for (int i = 0; i < nwant; i++) {
		if (offs[i] < lo)
			lo = offs[i];
		if (offs[i] + lens[i] > hi)
			hi = offs[i] + lens[i];
	}
	if (nwant == 0 || hi <= lo)
		return 0;
	for (int i = 0; i < n; i++) {
		bufs[i] = malloc(hi - lo);
		if (!bufs[i]) {
			rc = -ENOMEM;
			goto out;
		}
		if (r->avail >> i & 1) {
			shards[nask] = i;
			uoffs[nask] = lo;
			ulens[nask] = hi - lo;
			ask_bufs[nask++] = bufs[i];
		}
	}
	ask(r, &a, shards, nask, uoffs, ulens, ask_bufs);
	for (int i = 0; i < n; i++)
		nanswer += a.asked[i] && a.rc[i] == 0;
	if (!agreed(&a, r->ec->k, &v)) {
		rc = nanswer >= r->ec->k ? -EAGAIN : -EIO;
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (!(a.asked[i] && a.rc[i] == 0 && a.version[i] == v))
			lost[nlost++] = i;
	rc = cfs_ec_decode(r->ec, (size_t)(hi - lo), bufs, lost, nlost);
	if (rc)
		goto out;
	r->version = v;
	r->size = longest(&a, v);
	for (int i = 0; i < nwant; i++)
		memcpy(out[i], bufs[want[i]] + (offs[i] - lo), lens[i]);
out:
	for (int i = 0; i < n; i++)
		free(bufs[i]);
	return rc;
}

int cfs_stripe_read(struct cfs_stripe_read *r, const int *want, int nwant,
		    const uint64_t *offs, const uint64_t *lens,
		    uint8_t *const *out)
{
	struct answers a = { .n = r->ec->k + r->ec->m };
	bool whole = true;

	for (int i = 0; i < nwant && whole; i++)
		whole = r->avail >> want[i] & 1;
	if (whole && nwant > 0) {
		ask(r, &a, want, nwant, offs, lens, out);
		/* version 0 is no shard at all: a hole if every shard says
		 * so, else one that never arrived where it is asked for */
		for (int i = 0; i < nwant && whole; i++)
			whole = a.rc[want[i]] == 0 && a.version[want[i]] != 0 &&
				a.version[want[i]] == a.version[want[0]];
		if (whole) {
			r->version = a.version[want[0]];
			r->size = longest(&a, r->version);
			return 0;
		}
	}
	return rebuild(r, want, nwant, offs, lens, out);
}

int cfs_read_reply_take(const Cfs__OsdReadReply *rep, const uint8_t *bulk,
			size_t bulk_len, uint64_t off, uint64_t len,
			uint8_t *buf)
{
	size_t nblocks;
	uint64_t have_end;

	memset(buf, 0, len);
	if (!rep)
		return 0;	/* no such chunk: a hole */
	nblocks = rep->n_crcs;
	if (bulk_len != nblocks * CFS_BLOCK_SIZE ||
	    rep->block_offset % CFS_BLOCK_SIZE)
		return -EBADMSG;
	for (size_t i = 0; i < nblocks; i++)
		if (cfs_crc_check_block(bulk + i * CFS_BLOCK_SIZE,
					rep->crcs[i]))
			return -EBADMSG;
	if (nblocks == 0)
		return 0;
	if (rep->block_offset > off)
		return -EBADMSG;
	have_end = rep->block_offset + nblocks * CFS_BLOCK_SIZE;
	if (have_end > off) {
		uint64_t n = have_end - off < len ? have_end - off : len;

		memcpy(buf, bulk + (off - rep->block_offset), (size_t)n);
	}
	return 0;
}

void cfs_shard_rpc_read(const struct cfs_shard_rpc *s, int n,
			const int *shards, const uint64_t *offs,
			const uint64_t *lens, uint8_t *const *bufs, int *rcs,
			uint64_t *versions, uint64_t *sizes)
{
	Cfs__ChunkId ids[MAXN];
	Cfs__OsdRead reqs[MAXN];
	struct cfs_rpc_call calls[MAXN], *cp[MAXN] = { NULL };
	const char *addrs[MAXN] = { NULL };

	for (int j = 0; j < n; j++) {
		cfs__chunk_id__init(&ids[j]);
		ids[j].ino = s->ino;
		ids[j].index = cfs_shard_index(s->index, s->k, s->m, shards[j]);
		cfs__osd_read__init(&reqs[j]);
		reqs[j].chunk = &ids[j];
		reqs[j].offset = offs[j];
		reqs[j].length = lens[j];
		reqs[j].map_epoch = s->map_epoch;
		reqs[j].cap = s->cap;
		calls[j] = (struct cfs_rpc_call){
			.method = CFS__OSD_METHOD__OSD_READ,
			.req = &reqs[j].base,
			.rep_desc = &cfs__osd_read_reply__descriptor,
			.timeout_ms = s->timeout_ms,
		};
		cp[j] = &calls[j];
		addrs[j] = s->addrs[shards[j]];
	}
	cfs_rpc_call_many(s->rpc, addrs, cp, rcs, n);
	for (int j = 0; j < n; j++) {
		const Cfs__OsdReadReply *rep = (const void *)calls[j].rep;

		versions[j] = rep ? rep->version : 0;
		sizes[j] = rep ? rep->chunk_size : 0;
		if (rcs[j] == 0)
			rcs[j] = cfs_read_reply_take(rep, calls[j].rep_bulk,
						     calls[j].rep_bulk_len,
						     offs[j], lens[j], bufs[j]);
		cfs_rpc_call_done(&calls[j]);
	}
}
