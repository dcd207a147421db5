/* SPDX-License-Identifier: MIT */
/*
 * prune.c: gauss-prune, pruned copies of a safetensors file, for measuring
 * sparse checkpoints (issue 7).
 *
 *   gauss-prune [--rows] PERCENT IN OUT
 *
 * Every BF16, F16 and F32 tensor of at least two dimensions is pruned; the
 * header, the other tensors and every byte outside the tensors are copied
 * as they are, so OUT has IN's layout.
 *   default   magnitude pruning: the PERCENT % of the tensor's values of
 *             smallest magnitude (ties: the first in memory) become +0;
 *   --rows    structured pruning: the PERCENT % of rows (first dimension;
 *             for a convolution, its output channels) of smallest L2 norm
 *             become +0 entirely.
 * NaN counts as the largest magnitude, so it is never pruned.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "common.h"
#include "endian.h"
#include "banned.h"

static const char PROG[] = "gauss-prune";

struct ranked {
	float key;		/* magnitude, or row norm */
	uint64_t index;
};

static int
ranked_cmp(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	const bool an = isnan(a->key), bn = isnan(b->key);

	if (an != bn)
		return an ? 1 : -1;
	if (!an && a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static float
f16_to_float(uint16_t h)
{
	const unsigned e = (h >> 10) & 0x1f, m = h & 0x3ff;
	const float s = (h & 0x8000) ? -1.0f : 1.0f;

	if (e == 0)
		return s * ldexpf((float)m, -24);
	if (e == 31)
		return m ? NAN : s * INFINITY;
	return s * ldexpf((float)(m | 0x400), (int)e - 25);
}

/* Value i of a tensor of dtype at p, as a float. */
static float
value_at(const uint8_t *p, enum gauss_dtype dtype, uint64_t i)
{
	uint32_t bits;
	float f;

	switch (dtype) {
	case GAUSS_DTYPE_BF16:
		bits = (uint32_t)get_le16(p + 2 * i) << 16;
		memcpy(&f, &bits, sizeof(f));
		return f;
	case GAUSS_DTYPE_F16:
		return f16_to_float(get_le16(p + 2 * i));
	default:
		bits = get_le32(p + 4 * i);
		memcpy(&f, &bits, sizeof(f));
		return f;
	}
}

static bool
prunable(const struct st_tensor *t)
{
	return t->ndim >= 2 && t->element_count > 0 &&
	       (t->dtype == GAUSS_DTYPE_BF16 || t->dtype == GAUSS_DTYPE_F16 ||
		t->dtype == GAUSS_DTYPE_F32);
}

/* Prunes one tensor in place; returns false when memory is short. */
static bool
prune(uint8_t *p, const struct st_tensor *t, double percent, bool rows)
{
	const unsigned es = st_dtype_size(t->dtype);
	const uint64_t n = t->element_count;
	const uint64_t nrows = rows ? t->shape[0] : n;
	const uint64_t per = rows ? n / nrows : 1;
	const uint64_t cut = (uint64_t)((double)nrows * percent / 100.0);
	struct ranked *r = malloc(nrows * sizeof(*r));

	if (r == NULL)
		return false;
	for (uint64_t i = 0; i < nrows; i++) {
		double acc = 0.0;

		for (uint64_t j = 0; j < per; j++) {
			const double v = value_at(p, t->dtype, i * per + j);

			acc = per == 1 ? fabs(v) : acc + v * v;
		}
		r[i] = (struct ranked){ .key = (float)acc, .index = i };
	}
	qsort(r, nrows, sizeof(*r), ranked_cmp);
	for (uint64_t k = 0; k < cut; k++)
		memset(p + r[k].index * per * es, 0, per * es);
	free(r);
	return true;
}

static int
fail(const char *what, const char *path, const char *reason)
{
	fprintf(stderr, "%s: cannot %s '%s': %s\n", PROG, what, path, reason);
	return 1;
}

int
main(int argc, char **argv)
{
	struct st_header hdr;
	struct errbuf eb = { { 0 } };
	uint64_t json_nbytes;
	bool rows = false;
	double percent;
	char *end;
	uint8_t *buf;
	long size;
	FILE *f;
	int a = 1;

	if (a < argc && strcmp(argv[a], "--rows") == 0) {
		rows = true;
		a++;
	}
	if (argc - a != 3) {
		fprintf(stderr, "usage: %s [--rows] PERCENT IN OUT\n", PROG);
		return 2;
	}
	percent = strtod(argv[a], &end);
	if (*end || !(percent >= 0 && percent <= 100)) {
		fprintf(stderr, "%s: PERCENT must be in [0, 100]\n", PROG);
		return 2;
	}
	f = fopen(argv[a + 1], "rb");
	if (f == NULL)
		return fail("read", argv[a + 1], strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return fail("read", argv[a + 1], strerror(errno));
	}
	buf = malloc((size_t)size + 1);
	if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		return fail("read", argv[a + 1], "short read or out of memory");
	}
	fclose(f);
	if (st_check_prefix(buf, (uint64_t)size, &json_nbytes, &eb) !=
		    GAUSS_OK ||
	    st_parse(buf + 8, (size_t)json_nbytes, (uint64_t)size, &hdr,
		     &eb) != GAUSS_OK)
		return fail("read", argv[a + 1], eb.text);
	for (size_t i = 0; i < hdr.tensor_count; i++) {
		const struct st_tensor *t = &hdr.tensors[i];

		if (prunable(t) &&
		    !prune(buf + hdr.data_offset + t->begin, t, percent, rows))
			return fail("prune", argv[a + 1], "out of memory");
	}
	st_header_free(&hdr);
	f = fopen(argv[a + 2], "wb");
	if (f == NULL)
		return fail("write", argv[a + 2], strerror(errno));
	if (fwrite(buf, 1, (size_t)size, f) != (size_t)size || fclose(f) != 0)
		return fail("write", argv[a + 2], strerror(errno));
	free(buf);
	return 0;
}
