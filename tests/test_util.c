/* SPDX-License-Identifier: MIT */
/* test_util.c: guard pages, files, temporary directories, safetensors builder. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_util.h"

static size_t
page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

void *
guarded_alloc(size_t nbytes)
{
	const size_t ps = page_size();
	const size_t body = (nbytes + ps - 1) / ps * ps;
	uint8_t *base = mmap(NULL, body + 2 * ps, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (base == MAP_FAILED)
		return NULL;
	mprotect(base, ps, PROT_NONE);
	mprotect(base + ps + body, ps, PROT_NONE);
	return base + ps + body - nbytes;
}

void
guarded_free(void *p, size_t nbytes)
{
	const size_t ps = page_size();
	const size_t body = (nbytes + ps - 1) / ps * ps;

	if (p == NULL)
		return;
	munmap((uint8_t *)p + nbytes - body - ps, body + 2 * ps);
}

uint8_t *
guarded_copy(const void *p, size_t nbytes)
{
	uint8_t *g = guarded_alloc(nbytes);

	assert_non_null(g);
	if (nbytes)
		memcpy(g, p, nbytes);
	return g;
}

uint8_t *
read_file(const char *path, size_t *nbytes_ret)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*nbytes_ret = (size_t)n;
	return buf;
}

int
write_file(const char *path, const void *p, size_t nbytes)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (f == NULL)
		return -1;
	if (nbytes && fwrite(p, 1, nbytes, f) != nbytes)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

char *
make_temp_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	path = malloc(strlen(tmp) + 32);
	snprintf(path, strlen(tmp) + 32, "%s/gauss-test-XXXXXX", tmp);
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

static int
remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *
path_join(const char *dir, const char *name)
{
	const size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

uint64_t
test_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void
append(char **buf, size_t *len, const char *s)
{
	const size_t n = strlen(s);

	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

void
st_build_begin(struct st_build *b, const char *metadata_json)
{
	memset(b, 0, sizeof(*b));
	append(&b->json, &b->json_len, "{");
	if (metadata_json != NULL) {
		append(&b->json, &b->json_len, "\"__metadata__\":");
		append(&b->json, &b->json_len, metadata_json);
		b->ntensors++;
	}
}

void
st_build_tensor(struct st_build *b, const char *name, const char *dtype,
		const char *shape_json, const void *data, size_t nbytes,
		size_t gap)
{
	char tmp[512];
	size_t begin;

	b->data = realloc(b->data, b->data_len + gap + nbytes + 1);
	memset(b->data + b->data_len, 0, gap);
	b->data_len += gap;
	begin = b->data_len;
	if (nbytes)
		memcpy(b->data + b->data_len, data, nbytes);
	b->data_len += nbytes;
	snprintf(tmp, sizeof(tmp),
		 "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,"
		 "\"data_offsets\":[%zu,%zu]}",
		 b->ntensors ? "," : "", name, dtype, shape_json, begin,
		 begin + nbytes);
	append(&b->json, &b->json_len, tmp);
	b->ntensors++;
}

uint8_t *
st_build_end(struct st_build *b, size_t pad_to, size_t *nbytes_ret)
{
	size_t n, total;
	uint8_t *out;

	append(&b->json, &b->json_len, "}");
	n = b->json_len;
	if (pad_to > 1)
		while ((8 + n) % pad_to != 0)
			n++;
	total = 8 + n + b->data_len;
	out = malloc(total + 1);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)((uint64_t)n >> (8 * i));
	memset(out + 8, ' ', n);
	memcpy(out + 8, b->json, b->json_len);
	if (b->data_len)
		memcpy(out + 8 + n, b->data, b->data_len);
	free(b->json);
	free(b->data);
	memset(b, 0, sizeof(*b));
	*nbytes_ret = total;
	return out;
}
