/* POSIX ACL transforms; see acl.h. */
#include <errno.h>
#include <string.h>

#include "acl.h"

#define TAG_USER_OBJ 0x01
#define TAG_USER 0x02
#define TAG_GROUP_OBJ 0x04
#define TAG_GROUP 0x08
#define TAG_MASK 0x10
#define TAG_OTHER 0x20

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

#define ENTRIES(len) (((len) - 4) / 8)
#define ENTRY(acl, i) ((uint8_t *)(acl) + 4 + 8 * (i))

int cfs_acl_valid(const void *acl, size_t len)
{
	const uint8_t *p = acl;
	int user_obj = 0, group_obj = 0, other = 0, mask = 0, named = 0;

	if (len < 4 || (len - 4) % 8 || len > 4 + 8 * 1024)
		return -EINVAL;
	if (p[0] != 2 || p[1] || p[2] || p[3])
		return -EINVAL;
	for (size_t i = 0; i < ENTRIES(len); i++) {
		const uint8_t *e = ENTRY(acl, i);

		if (get16(e + 2) & ~7u)
			return -EINVAL;
		switch (get16(e)) {
		case TAG_USER_OBJ:
			user_obj++;
			break;
		case TAG_GROUP_OBJ:
			group_obj++;
			break;
		case TAG_OTHER:
			other++;
			break;
		case TAG_MASK:
			mask++;
			break;
		case TAG_USER:
		case TAG_GROUP:
			named++;
			break;
		default:
			return -EINVAL;
		}
	}
	if (user_obj != 1 || group_obj != 1 || other != 1 || mask > 1 ||
	    (named && !mask))
		return -EINVAL;
	return 0;
}

bool cfs_acl_minimal(const void *acl, size_t len)
{
	for (size_t i = 0; i < ENTRIES(len); i++) {
		uint16_t tag = get16(ENTRY(acl, i));

		if (tag != TAG_USER_OBJ && tag != TAG_GROUP_OBJ &&
		    tag != TAG_OTHER)
			return false;
	}
	return true;
}

/* The entry with this tag, or NULL. */
static uint8_t *find(void *acl, size_t len, uint16_t tag)
{
	for (size_t i = 0; i < ENTRIES(len); i++)
		if (get16(ENTRY(acl, i)) == tag)
			return ENTRY(acl, i);
	return NULL;
}

uint32_t cfs_acl_mode(const void *acl, size_t len)
{
	void *a = (void *)acl;
	uint8_t *u = find(a, len, TAG_USER_OBJ), *o = find(a, len, TAG_OTHER);
	uint8_t *g = find(a, len, TAG_MASK);

	if (!g)
		g = find(a, len, TAG_GROUP_OBJ);
	return (uint32_t)((u ? get16(u + 2) : 0) << 6 |
			  (g ? get16(g + 2) : 0) << 3 | (o ? get16(o + 2) : 0));
}

void cfs_acl_chmod(void *acl, size_t len, uint32_t mode)
{
	uint8_t *u = find(acl, len, TAG_USER_OBJ), *o = find(acl, len, TAG_OTHER);
	uint8_t *g = find(acl, len, TAG_MASK);

	if (!g)
		g = find(acl, len, TAG_GROUP_OBJ);
	if (u)
		put16(u + 2, (uint16_t)((mode >> 6) & 7));
	if (g)
		put16(g + 2, (uint16_t)((mode >> 3) & 7));
	if (o)
		put16(o + 2, (uint16_t)(mode & 7));
}

bool cfs_acl_permits(const void *acl, size_t len, uint32_t uid, uint32_t gid,
		     const struct cfs_cred *cr, int mask)
{
	unsigned want = (unsigned)mask & 7;
	bool in_groups = false, granted = false, masked = false;

	for (size_t i = 0; i < ENTRIES(len); i++) {
		const uint8_t *e = ENTRY(acl, i);
		unsigned perm = get16(e + 2);
		uint32_t id = (uint32_t)e[4] | (uint32_t)e[5] << 8 |
			      (uint32_t)e[6] << 16 | (uint32_t)e[7] << 24;

		switch (get16(e)) {
		case TAG_USER_OBJ:
			if (cr->uid == uid)
				return (perm & want) == want;
			break;
		case TAG_USER:
			if (cr->uid == id) {
				granted = (perm & want) == want;
				masked = true;
				goto apply_mask;
			}
			break;
		case TAG_GROUP_OBJ:
		case TAG_GROUP:
			if (cfs_cred_in_group(cr, get16(e) == TAG_GROUP_OBJ ?
							  gid : id)) {
				in_groups = true;
				if ((perm & want) == want) {
					granted = true;
					masked = true;
					goto apply_mask;
				}
			}
			break;
		case TAG_OTHER:
			if (in_groups)
				return false;
			return (perm & want) == want;
		}
	}
	return false;
apply_mask:
	if (!granted)
		return false;
	for (size_t i = 0; masked && i < ENTRIES(len); i++) {
		const uint8_t *e = ENTRY(acl, i);

		if (get16(e) == TAG_MASK)
			return (get16(e + 2) & want) == want;
	}
	return true;
}

bool cfs_acl_create(void *acl, size_t len, uint32_t *mode)
{
	uint8_t *group_obj = NULL, *mask = NULL;
	uint32_t m = *mode;
	bool equiv = true;

	for (size_t i = 0; i < ENTRIES(len); i++) {
		uint8_t *e = ENTRY(acl, i);
		uint16_t perm = get16(e + 2);

		switch (get16(e)) {
		case TAG_USER_OBJ:
			perm &= (m >> 6) & 7;
			put16(e + 2, perm);
			m &= (uint32_t)perm << 6 | ~0700u;
			break;
		case TAG_USER:
		case TAG_GROUP:
			equiv = false;
			break;
		case TAG_GROUP_OBJ:
			group_obj = e;
			break;
		case TAG_OTHER:
			perm &= m & 7;
			put16(e + 2, perm);
			m &= perm | ~07u;
			break;
		case TAG_MASK:
			mask = e;
			equiv = false;
			break;
		}
	}
	if (mask || group_obj) {
		uint8_t *g = mask ? mask : group_obj;
		uint16_t perm = get16(g + 2) & ((m >> 3) & 7);

		put16(g + 2, perm);
		m &= (uint32_t)perm << 3 | ~070u;
	}
	*mode = m;
	return equiv;
}
