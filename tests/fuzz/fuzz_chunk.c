/* libFuzzer: an OSD's chunk store on a damaged disk (osd/store.h has the
 * layout). The first byte picks what the rest is:
 *   0  a chunk file: [u8 CRC bytes k][header, 32 bytes][k bytes of the
 *      CRC table][the data, at its offset], cut wherever the input ends;
 *      every store operation then runs on it: its version, reads whole
 *      and in part, a write into a partial block, a seek, a punch, a
 *      truncate, a removal
 *   1  names under the store, one per line, each made an empty file: in
 *      the pool if the line starts with 'p', else in chunks/XX/ for its
 *      first two characters XX; the store is scanned and its pool
 *      opened again over them (taking its files in)
 * Any operation may fail (a damaged header, a block failing its CRC);
 * none may crash, hang, or read or write out of bounds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs/crc.h"
#include "cfs/map.h"
#include "fuzz.h"
#include "../../osd/store.h"

#define HEADER 32
#define C_INO 0x42u

static const char *dir;
static struct store st;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir = fuzz_dir("chunk");
	if (store_open(&st, dir))
		abort();
	return 0;
}

static int count(void *arg, struct chunk_id c, uint64_t version)
{
	(void)c;
	(void)version;
	(*(int *)arg)++;
	return 0;
}

static void write_at(int fd, const void *p, size_t len, off_t off)
{
	if (len && pwrite(fd, p, len, off) != (ssize_t)len)
		abort();
}

/* One store operation (op) on the chunk whose file holds what data
 * says. */
static void damaged_chunk(uint8_t op, const uint8_t *data, size_t size)
{
	struct chunk_id c = { .ino = C_INO, .index = 0 };
	size_t k = size ? data[0] : 0, at = size ? 1 : 0, n;
	uint64_t version = 0, block_off, csize, where;
	char path[512], patch[100];
	uint32_t *crcs, pcrcs[2];
	struct store_extent ex = { 1000, sizeof(patch) };
	size_t nblocks;
	bool found;
	void *out;
	int fd;

	snprintf(path, sizeof(path), "%s/chunks/%02x/%016x.0", dir, C_INO,
		 C_INO);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	n = size - at < HEADER ? size - at : HEADER;
	write_at(fd, data + at, n, 0);
	at += n;
	n = size - at < k ? size - at : k;
	write_at(fd, data + at, n, HEADER);
	at += n;
	write_at(fd, data + at, size - at, STORE_DATA_OFF);
	close(fd);

	store_version(&st, c, &version);
	store_lock(&st, c);
	switch (op % 7) {
	case 0:
		if (store_read(&st, c, 0, CFS_CHUNK_SIZE, true, &out,
			       &block_off, &crcs, &nblocks, &version,
			       &csize) == 0) {
			free(out);
			free(crcs);
		}
		break;
	case 1:
		if (store_read(&st, c, 5000, 9000, true, &out, &block_off,
			       &crcs, &nblocks, &version, &csize) == 0) {
			free(out);
			free(crcs);
		}
		break;
	case 2:
		store_seek(&st, c, 0, false, &found, &where);
		store_seek(&st, c, 0, true, &found, &where);
		break;
	case 3:
		memset(patch, 'w', sizeof(patch));
		cfs_crc_pieces(ex.off, patch, ex.len, pcrcs);
		store_write(&st, c, &ex, 1, patch, pcrcs, version + 1, NULL);
		break;
	case 4:
		store_punch(&st, c, 4000, 10000, version + 1, 0);
		break;
	case 5:
		store_truncate(&st, c, 6000, version + 1, 0);
		break;
	case 6:
		store_remove(&st, c);
		break;
	}
	store_unlock(&st, c);
	unlink(path);
}

static void empty_pool(void)
{
	char pool[300], p[600];
	struct dirent *de;
	DIR *d;

	snprintf(pool, sizeof(pool), "%s/pool", dir);
	d = opendir(pool);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", pool, de->d_name);
			unlink(p);
		}
	}
	closedir(d);
}

/* Names under the store, made empty files; the store scanned and its
 * pool opened again over them; then removed. */
static void strange_names(const uint8_t *data, size_t size)
{
	char made[64][300], line[256];
	size_t nmade = 0, i = 0;
	int seen = 0;

	while (i < size && nmade < 64) {
		size_t len = 0;
		int fd;

		while (i < size && data[i] != '\n') {
			if (len < sizeof(line) - 1)
				line[len++] = (char)data[i];
			i++;
		}
		i++;
		line[len] = '\0';
		if (strlen(line) != len || strchr(line, '/') ||
		    len < (line[0] == 'p' ? 2 : 3))
			continue;
		if (line[0] == 'p')
			snprintf(made[nmade], sizeof(made[0]), "%s/pool/%s",
				 dir, line + 1);
		else
			snprintf(made[nmade], sizeof(made[0]),
				 "%s/chunks/%.2s/%s", dir, line, line + 2);
		fd = open(made[nmade], O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			continue;
		close(fd);
		nmade++;
	}
	store_scan(&st, count, &seen);
	pool_close(&st.pool);
	if (pool_open(&st.pool, dir))
		abort();
	for (i = 0; i < nmade; i++)
		unlink(made[i]);
	/* the pool renames what it takes in: empty it for the next input */
	pool_close(&st.pool);
	empty_pool();
	if (pool_open(&st.pool, dir))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] < 7)
		damaged_chunk(data[0], data + 1, size - 1);
	else if (data[0] == 7)
		strange_names(data + 1, size - 1);
	return 0;
}
