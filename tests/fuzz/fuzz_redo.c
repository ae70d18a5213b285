/* libFuzzer: the metadata store's redo log as a restart reads it back.
 * The first byte picks what the rest is:
 *   0  one record's changes (cfs_redo_decode)
 *   1  records for the ring: each [u16 length][body], written with a
 *      good header (magic, sequence, CRC32C) as the MDS writes them,
 *      then replayed from a real redo.log (cfs_redo_open, _replay)
 *   2  the same with the bytes written raw over the first header slot
 * The record header's layout is redo.c's (struct rec): magic "CFSR",
 * CRC32C of sequence, length and body, sequence, length. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs/crc.h"
#include "fuzz.h"
#include "../../mds/redo.h"

#define RING_BASE (128u << 10)
#define RING (64u << 10)

static const char *dir;
static char path[300];
static uint8_t ring[RING];
static const uint8_t zeros[RING];

/* what the namespace's replay checks of each change */
static int apply(void *arg, unsigned table, MDB_val *key, MDB_val *val)
{
	(*(unsigned *)arg)++;
	if (table >= 9 || key->mv_size == 0)
		return EINVAL;
	if (val && val->mv_size && !val->mv_data)
		abort();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	dir = fuzz_dir("redo");
	snprintf(path, sizeof(path), "%s/redo.log", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, RING_BASE + RING))
		abort();
	close(fd);
	return 0;
}

static void put_rec(size_t *at, uint64_t seq, const uint8_t *body,
		    uint16_t len, int bad_crc)
{
	uint32_t magic = 0x52534643u, crc;
	uint64_t len64 = len, h[2] = { seq, len64 };

	if (*at + 24 + len > RING)
		return;
	crc = cfs_crc32c_extend(cfs_crc32c(h, 16), body, len) ^ bad_crc;
	memcpy(ring + *at, &magic, 4);
	memcpy(ring + *at + 4, &crc, 4);
	memcpy(ring + *at + 8, &seq, 8);
	memcpy(ring + *at + 16, &len64, 8);
	memcpy(ring + *at + 24, body, len);
	*at += 24 + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfs_redo *r;
	uint64_t applied;
	unsigned n = 0;
	size_t at = 0;
	int fd;

	if (size < 1)
		return 0;
	if (data[0] % 3 == 0) {
		cfs_redo_decode(data + 1, size - 1, apply, &n);
		return 0;
	}
	memset(ring, 0, sizeof(ring));
	fd = open(path, O_RDWR);
	if (fd < 0)
		abort();
	if (data[0] % 3 == 1) {
		uint64_t seq = 1;

		for (size_t i = 1; i + 2 <= size;) {
			uint16_t len;

			memcpy(&len, data + i, 2);
			i += 2;
			if (len > size - i)
				len = (uint16_t)(size - i);
			put_rec(&at, seq++, data + i, len,
				(data[0] & 0x80) && i > 64);
			i += len;
		}
		if (pwrite(fd, ring, RING, RING_BASE) != RING ||
		    pwrite(fd, zeros, RING, 0) != RING)	/* no checkpoint */
			abort();
	} else {
		memcpy(ring, data + 1, size - 1 < RING ? size - 1 : RING);
		if (pwrite(fd, ring, RING, 0) != RING)
			abort();
	}
	close(fd);
	if (cfs_redo_open(&r, dir, 0, 0) == 0) {
		cfs_redo_replay(r, apply, &n, &applied);
		cfs_redo_close(r);
	}
	return 0;
}
