/* SPDX-License-Identifier: MIT */
/*
 * fuzz_roundtrip.c: builds a valid safetensors file from the input,
 * compresses it twice (two threads and the best kernels, then one thread,
 * the scalar kernels and every block decoded again as it is written),
 * checks that both give the same bytes, decompresses, and checks that the
 * original comes back. Any failure aborts: the input is always valid.
 *
 *   byte 0   flags: bit 0 __metadata__; bit 1 small chunks and blocks
 *            through pipeline_compress() (else gauss_compress_buffer(),
 *            512 KiB chunks); bit 2 JSON in reverse offset order; bit 3
 *            header padded with spaces to a multiple of 8; bit 4 the
 *            lossy mode (GAUSS_MODE_GMM, every float matrix of 16
 *            values or more, shards of 1 to 4 rows from bits 4-5 of byte
 *            1): then the decoded file must keep its size, header and
 *            every other byte, and each lossy value must lie within the
 *            bound of its dtype (NaN and infinities kept exactly)
 *   byte 1   chunk_log2 - 12 (bits 0-1) and block_log2 - chunk_log2
 *            (bits 2-3), with bit 1 of byte 0
 *   byte 2   tensor count - 1 (modulo 6)
 *   4 bytes per tensor:
 *     t0     dtype (bits 0-2), a second dimension (bits 3-4), a scalar
 *            shape [] for one element (bit 5), a gap before it (bit 7)
 *     t1 t2  element count (little-endian; a gap of t1 % 16 + 1 bytes)
 *     t3     values: bits 0-1 raw input bytes cycled, weights with a few
 *            exponents, one constant, or weights and noise by halves
 *            (so that some chunks of a coded block are stored); bits
 *            2-7 the exponent base and spread
 *   rest     the bytes the values are made of
 */
#include <stdarg.h>
#include <string.h>

#include "fuzz.h"
#include "cpu.h"
#include "gmm_internal.h"
#include "pipeline.h"
#include "safetensors.h"
#include "banned.h"

#define MAX_TENSORS	6
#define MAX_DATA_NBYTES	((size_t)64 << 10)

static const struct {
	const char *name;
	unsigned size;
} dtypes[8] = {
	{ "BF16", 2 }, { "F16", 2 }, { "F32", 4 }, { "U8", 1 },
	{ "I32", 4 }, { "BF16", 2 }, { "F32", 4 }, { "BOOL", 1 },
};

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		FUZZ_CHECK(b->p != NULL);
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text));
	buf_put(b, text, (size_t)n);
}

/* The input, read front to back; zeros once it runs out. */
struct src {
	const uint8_t *p;
	size_t n, pos;
};

static uint8_t
src_byte(struct src *s)
{
	return s->pos < s->n ? s->p[s->pos++] : 0;
}

struct tensor {
	unsigned dtype;
	uint64_t count;
	uint64_t dim2;		/* 0: one dimension */
	int scalar;
	size_t gap;
	uint8_t mode;
	uint64_t begin, end;
};

/* xorshift64*, seeded from the input: values beyond the input's length */
static uint64_t
next_rand(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* One value of a weight-like tensor: a few exponents around a base. */
static uint32_t
weight(unsigned size, unsigned dtype_bits, uint8_t mode, uint64_t r)
{
	const unsigned spread = 1 + (mode >> 5);
	const unsigned e = (unsigned)(r % spread) + ((mode >> 2) & 7);
	const uint32_t sign = (uint32_t)(r >> 20) & 1;
	const uint32_t mant = (uint32_t)(r >> 24);

	if (size == 4)	/* F32 around 1/2^(e) */
		return sign << 31 | (uint32_t)(126 - e) << 23 |
		       (mant & 0x7fffff);
	if (dtype_bits == 1)	/* F16 */
		return sign << 15 | (uint32_t)(14 - e) << 10 | (mant & 0x3ff);
	return sign << 15 | (uint32_t)(126 - e) << 7 | (mant & 0x7f);
}

static void
fill(uint8_t *dst, const struct tensor *t, const struct src *in,
     uint64_t *rng)
{
	const unsigned size = dtypes[t->dtype].size;
	const size_t n = (size_t)(t->end - t->begin);
	const size_t rest = in->n - in->pos;
	const uint8_t *pool = in->p + in->pos;
	const uint32_t constant = weight(size, t->dtype, t->mode, *rng);

	for (size_t i = 0; i < n; i += size) {
		const uint64_t r = next_rand(rng);
		uint32_t v;

		switch (t->mode & 3) {
		case 0:
			for (unsigned b = 0; b < size; b++)
				dst[i + b] = rest ? pool[(i + b) % rest] :
						    (uint8_t)(r >> (8 * b));
			continue;
		case 1:
			v = weight(size, t->dtype, t->mode, r);
			break;
		case 2:
			v = constant;
			break;
		default:
			v = (i / 2048) % 2 ? (uint32_t)r :
					     weight(size, t->dtype, t->mode, r);
			break;
		}
		if (dtypes[t->dtype].name[0] == 'B' &&
		    dtypes[t->dtype].name[1] == 'O')
			v &= 1;		/* BOOL: 0 or 1 */
		for (unsigned b = 0; b < size; b++)
			dst[i + b] = (uint8_t)(v >> (8 * b));
	}
}

/* Builds the safetensors file; returns its size. */
static size_t
build(struct src *in, uint8_t flags, struct buf *file)
{
	struct tensor t[MAX_TENSORS];
	struct buf json = { 0 };
	const unsigned count = 1 + src_byte(in) % MAX_TENSORS;
	uint64_t offset = 0, rng = 0x9e3779b97f4a7c15ull;
	uint8_t *data;

	for (unsigned i = 0; i < count; i++) {
		const uint8_t t0 = src_byte(in), t1 = src_byte(in),
			      t2 = src_byte(in);
		const unsigned size = dtypes[t0 & 7].size;
		uint64_t n = (uint64_t)t1 | (uint64_t)t2 << 8;
		const uint64_t k = (uint64_t)1 << ((t0 >> 3) & 3);

		const uint64_t room = MAX_DATA_NBYTES - offset;

		t[i].dtype = t0 & 7;
		t[i].mode = src_byte(in);
		t[i].gap = (t0 & 0x80) ? (size_t)(t1 % 16) + 1 : 0;
		if (t[i].gap > room)
			t[i].gap = (size_t)room;
		if (n * size > room - t[i].gap)
			n = (room - t[i].gap) / size;
		n = n / k * k;
		t[i].count = n;
		t[i].dim2 = k > 1 ? k : 0;
		t[i].scalar = n == 1 && (t0 & 0x20);
		if (t[i].scalar)
			t[i].dim2 = 0;
		offset += t[i].gap;
		t[i].begin = offset;
		t[i].end = offset + n * size;
		offset = t[i].end;
	}
	for (size_t i = 0; i < in->n - in->pos && i < 8; i++)
		rng = rng * 31 + in->p[in->pos + i];

	buf_put(&json, "{", 1);
	if (flags & 1)
		buf_printf(&json, "\"__metadata__\":{\"format\":\"pt\"},");
	for (unsigned j = 0; j < count; j++) {
		const unsigned i = (flags & 4) ? count - 1 - j : j;

		buf_printf(&json, "%s\"t%u.w\":{\"dtype\":\"%s\",\"shape\":",
			   j ? "," : "", i, dtypes[t[i].dtype].name);
		if (t[i].scalar)
			buf_printf(&json, "[]");
		else if (t[i].dim2)
			buf_printf(&json, "[%llu,%llu]",
				   (unsigned long long)(t[i].count /
							t[i].dim2),
				   (unsigned long long)t[i].dim2);
		else
			buf_printf(&json, "[%llu]",
				   (unsigned long long)t[i].count);
		buf_printf(&json, ",\"data_offsets\":[%llu,%llu]}",
			   (unsigned long long)t[i].begin,
			   (unsigned long long)t[i].end);
	}
	buf_put(&json, "}", 1);
	if (flags & 8)
		while (json.n % 8)
			buf_put(&json, " ", 1);

	{
		uint8_t len[8];

		put_le64(len, json.n);
		buf_put(file, len, 8);
		buf_put(file, json.p, json.n);
	}
	free(json.p);
	data = calloc(1, offset ? (size_t)offset : 1);
	FUZZ_CHECK(data != NULL);
	for (unsigned i = 0; i < count; i++) {
		/* gap bytes: taken from the input too */
		for (size_t g = 0; g < t[i].gap; g++)
			data[t[i].begin - t[i].gap + g] =
				(uint8_t)next_rand(&rng);
		fill(data + t[i].begin, &t[i], in, &rng);
	}
	buf_put(file, data, (size_t)offset);
	free(data);
	return file->n;
}

/*
 * One context for the whole run, as a program compressing many files would
 * keep: its cache spares ASan the cost of allocating 4 MiB blocks on every
 * call.
 */
static struct gauss_ctx *
shared_ctx(void)
{
	static struct gauss_ctx *ctx;

	if (ctx == NULL)
		ctx = gauss_ctx_new();
	FUZZ_CHECK(ctx != NULL);
	return ctx;
}

/* The lossy options of bit 4: small tensors and shards, so fuzz-sized
 * files go lossy. */
static void
lossy_opts(struct lossy_opts *l, uint8_t sizes)
{
	lossy_opts_default(l);
	l->on = true;
	l->raw_threshold = 16;
	l->shard_threshold = 64;
	l->shard_rows = 1 + ((sizes >> 4) & 3);
	l->codec.k = 1 + (sizes >> 6) * 5;
}

/* Compresses with the public call (default sizes) or the pipeline. */
static enum gauss_status
compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
	 size_t *out_n, uint8_t flags, uint8_t sizes, int second)
{
	enum gauss_status st;

	if (flags & 2) {
		struct pipeline_opts o;
		struct pipe_sizes got = { 0 };
		struct errbuf eb;

		pipeline_opts_default(&o);
		o.chunk_log2 = 12 + (sizes & 3);
		o.block_log2 = o.chunk_log2 + ((sizes >> 2) & 3);
		o.threads = second ? 1 : 2;
		o.kernels = rans_kernels_of(second ? CPU_SCALAR :
					    CPU_LEVEL_COUNT - 1);
		if (o.kernels == NULL)
			o.kernels = rans_kernels_of(CPU_SCALAR);
		o.check_blocks = second;
		if (flags & 16)
			lossy_opts(&o.lossy, sizes);
		eb.text[0] = '\0';
		st = pipeline_compress(&o, &(struct pipe_in){
				.fd = -1, .mem = in, .nbytes = n },
			&(struct pipe_out){ .fd = -1, .mem = out,
					    .mem_cap = cap }, &got, &eb);
		if (st != GAUSS_OK)
			fprintf(stderr, "compress: %s\n", eb.text);
		*out_n = (size_t)got.out_nbytes;
	} else {
		struct gauss_ctx *ctx = shared_ctx();

		FUZZ_CHECK(gauss_ctx_set_threads(ctx, second ? 1 : 2) ==
			   GAUSS_OK);
		FUZZ_CHECK(gauss_ctx_set_mode(ctx, flags & 16 ? GAUSS_MODE_GMM :
					      GAUSS_MODE_LOSSLESS) == GAUSS_OK);
		if (flags & 16) {
			struct lossy_opts l;
			struct gauss_gmm_options g;

			lossy_opts(&l, sizes);
			gauss_gmm_options_default(&g);
			g.raw_threshold = l.raw_threshold;
			g.shard_threshold = l.shard_threshold;
			g.shard_rows = l.shard_rows;
			g.k = l.codec.k;
			FUZZ_CHECK(gauss_ctx_set_gmm_options(ctx, &g) ==
				   GAUSS_OK);
		}
		if (second)
			setenv("GAUSS_CPU", "scalar", 1);
		else
			unsetenv("GAUSS_CPU");
		st = gauss_compress_buffer(ctx, in, n, out, cap, out_n);
		if (st != GAUSS_OK)
			fprintf(stderr, "compress: %s\n",
				gauss_ctx_error(ctx));
		unsetenv("GAUSS_CPU");
	}
	return st;
}

/*
 * A lossy round trip: the same size and header; every tensor the lossy
 * mode takes within its bound (non-finite values exact), every other byte
 * equal.
 */
static void
check_lossy(const uint8_t *orig, uint8_t *back, size_t n)
{
	struct st_header h;
	struct errbuf eb;

	FUZZ_CHECK(n >= 8 && st_parse(orig + 8, (size_t)get_le64(orig), n, &h,
				      &eb) == GAUSS_OK);
	for (size_t i = 0; i < h.tensor_count; i++) {
		const struct st_tensor *t = &h.tensors[i];
		const size_t at = (size_t)(h.data_offset + t->begin);
		const size_t es = st_dtype_size(t->dtype);
		double bound;

		if (t->ndim < 2 || t->element_count < 16)
			continue;
		if (t->dtype == GAUSS_DTYPE_BF16)
			bound = 0.5 / 128;
		else if (t->dtype == GAUSS_DTYPE_F16 ||
			 t->dtype == GAUSS_DTYPE_F32)
			bound = 0.5 / 1000;
		else
			continue;
		for (size_t k = 0; k < t->element_count; k++) {
			const double x = gmm_load(t->dtype, orig + at, k);
			const double y = gmm_load(t->dtype, back + at, k);

			if (x != x || x - x != 0)	/* NaN, infinities */
				FUZZ_CHECK(memcmp(orig + at + k * es,
						  back + at + k * es, es) == 0);
			else
				FUZZ_CHECK(y - x <= bound && x - y <= bound);
		}
		/* checked: take the original bytes for the comparison below */
		memcpy(back + at, orig + at, (size_t)(t->end - t->begin));
	}
	FUZZ_CHECK(memcmp(back, orig, n) == 0);
	st_header_free(&h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src in = { .p = data, .n = size };
	struct buf file = { 0 };
	const uint8_t flags = src_byte(&in), sizes = src_byte(&in);
	struct gauss_ctx *ctx;
	uint8_t *a, *b, *back;
	size_t n, cap, a_n = 0, b_n = 0, back_n = 0;

	n = build(&in, flags, &file);
	cap = gauss_compress_bound(n);
	a = malloc(cap);
	b = malloc(cap);
	back = malloc(n);
	FUZZ_CHECK(a != NULL && b != NULL && back != NULL);
	FUZZ_CHECK(compress(file.p, n, a, cap, &a_n, flags, sizes, 0) ==
		   GAUSS_OK);
	FUZZ_CHECK(compress(file.p, n, b, cap, &b_n, flags, sizes, 1) ==
		   GAUSS_OK);
	FUZZ_CHECK(a_n == b_n && memcmp(a, b, a_n) == 0);

	ctx = shared_ctx();
	FUZZ_CHECK(gauss_ctx_set_threads(ctx, 2) == GAUSS_OK);
	FUZZ_CHECK(gauss_decompress_buffer(ctx, a, a_n, back, n, &back_n) ==
		   GAUSS_OK);
	FUZZ_CHECK(back_n == n);
	if (flags & 16)
		check_lossy(file.p, back, n);
	else
		FUZZ_CHECK(memcmp(back, file.p, n) == 0);
	free(a);
	free(b);
	free(back);
	free(file.p);
	return 0;
}
