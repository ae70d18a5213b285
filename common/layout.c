/* File layouts; see include/cfs/layout.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/layout.h"
#include "cfs/map.h"

/* code: bits 0-1 kind, 2-6 k-1 (copies-1 for rep), 7-9 m-1, 10-14 the
 * unit's shift (0: the default) */
int cfs_layout_unpack(uint32_t code, struct cfs_layout *l)
{
	uint32_t shift = (code >> 10) & 31;

	memset(l, 0, sizeof(*l));
	if (code == 0)
		return 0;
	if (code >> 15)
		return -EINVAL;
	l->kind = code & 3;
	l->k = ((code >> 2) & 31) + 1;
	if (l->kind == CFS_LAYOUT_REP) {
		if (l->k > CFS_MAX_REPLICAS || (code >> 7))
			return -EINVAL;
		return 0;
	}
	if (l->kind != CFS_LAYOUT_EC || l->k > CFS_EC_MAX_K)
		return -EINVAL;
	l->m = ((code >> 7) & 7) + 1;
	l->unit_shift = shift ? shift : CFS_LAYOUT_UNIT_SHIFT;
	if (l->m > CFS_EC_MAX_M || l->unit_shift < CFS_LAYOUT_MIN_SHIFT ||
	    l->unit_shift > CFS_LAYOUT_MAX_SHIFT)
		return -EINVAL;
	return 0;
}

uint32_t cfs_layout_pack(const struct cfs_layout *l)
{
	uint32_t code;

	if (l->kind == 0)
		return 0;
	code = l->kind | (l->k - 1) << 2;
	if (l->kind == CFS_LAYOUT_EC) {
		code |= (l->m - 1) << 7;
		if (l->unit_shift != CFS_LAYOUT_UNIT_SHIFT)
			code |= l->unit_shift << 10;
	}
	return code;
}

static int parse_count(const char *s, char **end, uint32_t max, uint32_t *v)
{
	unsigned long n;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	n = strtoul(s, end, 10);
	if (n < 1 || n > max)
		return -EINVAL;
	*v = (uint32_t)n;
	return 0;
}

int cfs_layout_parse(const char *s, struct cfs_layout *l)
{
	char *end;

	memset(l, 0, sizeof(*l));
	if (!strcmp(s, "default"))
		return 0;
	if (!strncmp(s, "rep:", 4)) {
		l->kind = CFS_LAYOUT_REP;
		if (parse_count(s + 4, &end, CFS_MAX_REPLICAS, &l->k) || *end)
			return -EINVAL;
		return 0;
	}
	if (strncmp(s, "ec:", 3))
		return -EINVAL;
	l->kind = CFS_LAYOUT_EC;
	l->unit_shift = CFS_LAYOUT_UNIT_SHIFT;
	if (parse_count(s + 3, &end, CFS_EC_MAX_K, &l->k) || *end != '+' ||
	    parse_count(end + 1, &end, CFS_EC_MAX_M, &l->m))
		return -EINVAL;
	if (*end == '/') {
		unsigned long u = strtoul(end + 1, &end, 10);

		if (*end == 'K' || *end == 'k')
			u <<= 10, end++;
		else if (*end == 'M' || *end == 'm')
			u <<= 20, end++;
		if (u == 0 || (u & (u - 1)))
			return -EINVAL;
		l->unit_shift = (uint32_t)__builtin_ctzl(u);
		if (l->unit_shift < CFS_LAYOUT_MIN_SHIFT ||
		    l->unit_shift > CFS_LAYOUT_MAX_SHIFT)
			return -EINVAL;
	}
	return *end ? -EINVAL : 0;
}

void cfs_layout_format(const struct cfs_layout *l, char *buf, size_t size)
{
	uint64_t u = 1ull << l->unit_shift;

	if (l->kind == CFS_LAYOUT_REP)
		snprintf(buf, size, "rep:%u", l->k);
	else if (l->kind != CFS_LAYOUT_EC)
		snprintf(buf, size, "default");
	else if (l->unit_shift == CFS_LAYOUT_UNIT_SHIFT)
		snprintf(buf, size, "ec:%u+%u", l->k, l->m);
	else if (u >= (1u << 20))
		snprintf(buf, size, "ec:%u+%u/%luM", l->k, l->m,
			 (unsigned long)(u >> 20));
	else
		snprintf(buf, size, "ec:%u+%u/%luK", l->k, l->m,
			 (unsigned long)(u >> 10));
}

uint64_t cfs_shard_index(uint64_t index, uint32_t k, uint32_t m, int shard)
{
	return CFS_SHARD_BIT | (uint64_t)shard << 56 |
	       (uint64_t)(k - 1) << 51 | (uint64_t)(m - 1) << 48 |
	       (index & CFS_CHUNK_INDEX_MAX);
}

bool cfs_shard_of(uint64_t sindex, uint64_t *index, uint32_t *k, uint32_t *m,
		  int *shard)
{
	if (!(sindex & CFS_SHARD_BIT))
		return false;
	*shard = (int)((sindex >> 56) & 127);
	*k = (uint32_t)((sindex >> 51) & 31) + 1;
	*m = (uint32_t)((sindex >> 48) & 7) + 1;
	*index = sindex & CFS_CHUNK_INDEX_MAX;
	return *k <= CFS_EC_MAX_K && *m <= CFS_EC_MAX_M &&
	       (uint32_t)*shard < *k + *m;
}

/* How many bytes of data shard j lie before chunk offset x. */
static uint64_t shard_pos(const struct cfs_layout *l, uint32_t j, uint64_t x)
{
	uint64_t u = 1ull << l->unit_shift, w = u * l->k;
	uint64_t s = x / w, in = x % w, start = (uint64_t)j * u;
	uint64_t part = in <= start ? 0 : in - start < u ? in - start : u;

	return s * u + part;
}

void cfs_layout_shard_range(const struct cfs_layout *l, uint64_t off,
			    uint64_t len, uint32_t shard, uint64_t *soff,
			    uint64_t *slen)
{
	*soff = shard_pos(l, shard, off);
	*slen = shard_pos(l, shard, off + len) - *soff;
}

uint64_t cfs_layout_chunk_offset(const struct cfs_layout *l, uint32_t shard,
				 uint64_t soff)
{
	uint64_t u = 1ull << l->unit_shift;

	return (soff >> l->unit_shift) * u * l->k + (uint64_t)shard * u +
	       (soff & (u - 1));
}

uint64_t cfs_layout_shard_size(const struct cfs_layout *l)
{
	uint64_t u = 1ull << l->unit_shift, w = u * l->k;

	return (CFS_CHUNK_SIZE + w - 1) / w * u;
}
