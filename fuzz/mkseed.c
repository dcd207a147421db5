/* SPDX-License-Identifier: MIT */
/*
 * mkseed.c: writes the seed corpora of the fuzz targets (fuzz/README.md):
 *
 *   mkseed SAMPLE.safetensors OUTDIR
 *
 * fills OUTDIR/<target>/ with small safetensors files (some cut from the
 * sample checkpoint), their .gauss images at the default and at the
 * smallest chunk and block sizes, serialised rANS tables with valid
 * streams of 1 to 32 lanes in both slot layouts, and inputs of the round
 * trip target. File names carry no extension (.gitignore skips *.gauss).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "pipeline.h"
#include "rans.h"
#include "safetensors.h"
#include "banned.h"

static const char *out_dir;

static void die(const char *what) __attribute__((noreturn));

static void
die(const char *what)
{
	fprintf(stderr, "mkseed: %s\n", what);
	exit(1);
}

static void
put(const char *target, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path);
}

/* ---- safetensors images ---- */

struct image {
	char json[65536];
	size_t json_len;
	uint8_t *data;
	size_t data_len;
	int count;
};

static void
img_begin(struct image *m, const char *metadata)
{
	memset(m, 0, sizeof(*m));
	m->json_len = (size_t)snprintf(m->json, sizeof(m->json), "{");
	if (metadata)
		m->json_len += (size_t)snprintf(m->json + m->json_len,
			sizeof(m->json) - m->json_len,
			"\"__metadata__\":%s", metadata);
	m->count = metadata != NULL;
}

static void
img_tensor(struct image *m, const char *name, const char *dtype,
	   const char *shape, const void *p, size_t n, size_t gap)
{
	const size_t begin = m->data_len + gap;

	m->data = realloc(m->data, begin + n + 1);
	if (m->data == NULL)
		die("out of memory");
	memset(m->data + m->data_len, 0x5a, gap);
	memcpy(m->data + begin, p, n);
	m->data_len = begin + n;
	m->json_len += (size_t)snprintf(m->json + m->json_len,
		sizeof(m->json) - m->json_len,
		"%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,"
		"\"data_offsets\":[%zu,%zu]}", m->count++ ? "," : "", name,
		dtype, shape, begin, begin + n);
	if (m->json_len >= sizeof(m->json) - 1)
		die("header too long");
}

/* The whole file, its header padded with spaces to a multiple of 8. */
static uint8_t *
img_end(struct image *m, size_t *n_ret)
{
	uint8_t *f;
	size_t jn;

	m->json[m->json_len++] = '}';
	jn = (m->json_len + 7) / 8 * 8;
	f = malloc(8 + jn + m->data_len + 1);
	if (f == NULL)
		die("out of memory");
	put_le64(f, jn);
	memcpy(f + 8, m->json, m->json_len);
	memset(f + 8 + m->json_len, ' ', jn - m->json_len);
	if (m->data_len)
		memcpy(f + 8 + jn, m->data, m->data_len);
	free(m->data);
	*n_ret = 8 + jn + m->data_len;
	return f;
}

static uint8_t *
read_all(const char *path, size_t *n_ret)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		die(path);
	p = malloc((size_t)n + 1);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n)
		die(path);
	fclose(f);
	*n_ret = (size_t)n;
	return p;
}

/* Compresses an image with the given sizes (0: the defaults). */
static void
put_gauss(const char *name, const uint8_t *st, size_t n, unsigned chunk_log2,
	  unsigned block_log2)
{
	const size_t cap = gauss_compress_bound(n);
	uint8_t *out = malloc(cap);
	struct pipeline_opts o;
	struct pipe_sizes sz = { 0 };
	struct errbuf eb = { { 0 } };

	if (out == NULL)
		die("out of memory");
	pipeline_opts_default(&o);
	if (chunk_log2) {
		o.chunk_log2 = chunk_log2;
		o.block_log2 = block_log2;
	}
	o.threads = 1;
	if (pipeline_compress(&o, &(struct pipe_in){ .fd = -1, .mem = st,
						     .nbytes = n },
			      &(struct pipe_out){ .fd = -1, .mem = out,
						  .mem_cap = cap },
			      &sz, &eb) != GAUSS_OK)
		die(eb.text);
	put("reader", name, out, (size_t)sz.out_nbytes);
	put("decompress", name, out, (size_t)sz.out_nbytes);
	free(out);
}

static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

static void
make_images(const char *sample)
{
	size_t n, sn;
	uint8_t *s = read_all(sample, &sn);
	struct st_header h;
	struct errbuf eb = { { 0 } };
	struct image m;
	uint8_t *f;
	uint64_t json_n, seed = 7;
	enum { M1_N = 4141, I8_N = 18000 };
	uint16_t bf[3000], f16[130], m1[M1_N];
	uint8_t i8[I8_N];
	uint32_t f32[50];
	uint8_t u8[33], i64[32], one[2] = { 0x80, 0x3f };

	if (sn < 8 || st_check_prefix(s, sn, &json_n, &eb) != GAUSS_OK ||
	    st_parse(s + 8, (size_t)json_n, sn, &h, &eb) != GAUSS_OK)
		die(eb.text[0] ? eb.text : "bad sample");
	/* the sample's JSON alone, for st_parse of a pipe's header */
	put("safetensors", "sample-json", s + 8, (size_t)json_n);

	/* every tensor of the sample up to 1 KiB, under its own name */
	img_begin(&m, "{\"source\":\"silero-vad-v5\",\"dtype\":\"bf16\"}");
	for (size_t i = 0; i < h.tensor_count; i++) {
		const struct st_tensor *t = &h.tensors[i];
		char shape[128];
		size_t k = (size_t)snprintf(shape, sizeof(shape), "[");

		if (t->end - t->begin > 1024)
			continue;
		for (unsigned d = 0; d < t->ndim; d++)
			k += (size_t)snprintf(shape + k, sizeof(shape) - k,
					      "%s%llu", d ? "," : "",
					      (unsigned long long)t->shape[d]);
		snprintf(shape + k, sizeof(shape) - k, "]");
		img_tensor(&m, t->name, "BF16", shape,
			   s + h.data_offset + t->begin,
			   (size_t)(t->end - t->begin), 0);
	}
	f = img_end(&m, &n);
	put("safetensors", "sample-small-tensors", f, n);
	put_gauss("sample-small-tensors", f, n, 0, 0);
	put_gauss("sample-small-tensors-12-13", f, n, 12, 13);
	free(f);

	/* 12 KiB of one real weight: several coded chunks and blocks */
	for (size_t i = 0; i < h.tensor_count; i++) {
		const struct st_tensor *t = &h.tensors[i];

		if (t->end - t->begin < 12288 ||
		    strstr(t->name, "encoder.1.reparam_conv.weight") == NULL)
			continue;
		img_begin(&m, NULL);
		img_tensor(&m, "encoder.1.weight", "BF16", "[64,96]",
			   s + h.data_offset + t->begin, 12288, 0);
		f = img_end(&m, &n);
		put("safetensors", "sample-weight-12k", f, n);
		put_gauss("sample-weight-12k", f, n, 0, 0);
		put_gauss("sample-weight-12k-12-12", f, n, 12, 12);
		put_gauss("sample-weight-12k-12-13", f, n, 12, 13);
		free(f);
		break;
	}
	st_header_free(&h);
	free(s);

	/*
	 * Weights whose top mantissa bit is 0 nine times in ten: blocks with
	 * that bit in the symbol (format 6), one chunk of 32 lanes, or chunks
	 * of 2048 elements in blocks of 4096, and a tail past the last group
	 * of 32 in the raw plane.
	 */
	for (size_t i = 0; i < M1_N; i++) {
		const uint64_t r = rnd(&seed);

		m1[i] = (uint16_t)((r & 0x803f) |
				   ((r >> 8) % 10 == 0 ? 0x40 : 0) |
				   (118 + (r >> 16) % 4 + (r >> 20) % 4) << 7);
	}
	img_begin(&m, NULL);
	img_tensor(&m, "m1", "BF16", "[4141]", m1, sizeof(m1), 0);
	f = img_end(&m, &n);
	put("safetensors", "top-bit", f, n);
	put_gauss("top-bit", f, n, 0, 0);
	put_gauss("top-bit-12-13", f, n, 12, 13);
	free(f);

	/* every coded kind, stored dtypes, a gap, a scalar, an empty one */
	for (size_t i = 0; i < 3000; i++)
		bf[i] = (uint16_t)((i / 1024) % 2 ? rnd(&seed) :
				   0x3c00 + rnd(&seed) % 0x600);
	for (size_t i = 0; i < 130; i++)
		f16[i] = (uint16_t)(0x3800 + rnd(&seed) % 0x1000);
	for (size_t i = 0; i < 50; i++)
		f32[i] = (uint32_t)(0x3c000000 + rnd(&seed) % 0x3000000);
	for (size_t i = 0; i < 33; i++)
		u8[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < 32; i++)
		i64[i] = (uint8_t)(i < 8 ? i : 0);
	img_begin(&m, "{\"format\":\"pt\"}");
	img_tensor(&m, "w", "BF16", "[3000]", bf, sizeof(bf), 0);
	img_tensor(&m, "h", "F16", "[10,13]", f16, sizeof(f16), 0);
	img_tensor(&m, "f", "F32", "[50]", f32, sizeof(f32), 4);
	img_tensor(&m, "u", "U8", "[33]", u8, sizeof(u8), 0);
	img_tensor(&m, "i", "I64", "[2,2]", i64, sizeof(i64), 0);
	img_tensor(&m, "s", "BF16", "[]", one, sizeof(one), 0);
	img_tensor(&m, "z", "F32", "[0,3]", "", 0, 0);
	f = img_end(&m, &n);
	put("safetensors", "mixed", f, n);
	put_gauss("mixed", f, n, 0, 0);
	put_gauss("mixed-12-13", f, n, 12, 13);
	free(f);

	/*
	 * int8 weights, a bell of deviation about 12 with rare tails: a
	 * bytes block under a 15-bit table (format 7), 16 lanes, or chunks
	 * of 4096 elements in blocks of 8192.
	 */
	for (size_t i = 0; i < I8_N; i++) {
		const uint64_t r = rnd(&seed);
		int v = (int)(r % 13) + (int)((r >> 8) % 13) - 12;

		if ((r >> 16) % 97 == 0)
			v *= 9;
		i8[i] = (uint8_t)v;
	}
	img_begin(&m, NULL);
	img_tensor(&m, "q", "I8", "[60,300]", i8, sizeof(i8), 0);
	f = img_end(&m, &n);
	put("safetensors", "int8", f, n);
	put_gauss("int8", f, n, 0, 0);
	put_gauss("int8-12-13", f, n, 12, 13);
	free(f);

	img_begin(&m, NULL);
	f = img_end(&m, &n);
	put("safetensors", "empty", f, n);
	put_gauss("empty", f, n, 0, 0);
	free(f);
}

/* ---- rANS streams ---- */

static void
put_rans(const char *name, unsigned version, const uint8_t *syms, size_t n)
{
	uint64_t counts[256] = { 0 };
	struct rans_table t;
	struct rans_etable *e = malloc(sizeof(*e));
	const size_t cap = 4 * RANS_MAX_LANES + 2 * n + 16;
	uint8_t *seed = malloc(4 + RANS_TABLE_MAX_NBYTES + cap);
	size_t tn, sn;

	if (e == NULL || seed == NULL)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		counts[syms[i]]++;
	rans_table_normalize(counts, &t);
	rans_etable_build(&t, version, e);
	seed[0] = (uint8_t)(2 | (version == 2));
	seed[1] = (uint8_t)n;
	seed[2] = (uint8_t)(n >> 8);
	seed[3] = (uint8_t)(n >> 16);
	tn = rans_table_write(&t, seed + 4);
	sn = rans_encode_scalar(e, syms, n, seed + 4 + tn, cap);
	if (sn == 0)
		die("encode failed");
	put("rans", name, seed, 4 + tn + sn);
	free(e);
	free(seed);
}

static void
make_rans(void)
{
	static const size_t sizes[] = { 16, 5000, 9000, 20000, 140000 };
	uint8_t *syms = malloc(140000);
	uint64_t seed = 3;
	char name[64];

	if (syms == NULL)
		die("out of memory");
	for (unsigned v = 1; v <= 2; v++) {
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			const size_t n = sizes[k];

			/* bf16-like exponents: a few symbols, skewed */
			for (size_t i = 0; i < n; i++) {
				const uint64_t r = rnd(&seed);

				syms[i] = (uint8_t)(120 + __builtin_ctzll(
					r | (1ull << 7)));
			}
			snprintf(name, sizeof(name), "v%u-exp-%zu", v, n);
			put_rans(name, v, syms, n);
		}
		/* 70 symbols: no alias layout may exist */
		for (size_t i = 0; i < 5000; i++)
			syms[i] = (uint8_t)(rnd(&seed) % 70);
		snprintf(name, sizeof(name), "v%u-70sym-5000", v);
		put_rans(name, v, syms, 5000);
		/* 256 symbols, uniform */
		for (size_t i = 0; i < 3000; i++)
			syms[i] = (uint8_t)rnd(&seed);
		snprintf(name, sizeof(name), "v%u-256sym-3000", v);
		put_rans(name, v, syms, 3000);
		/* two symbols, one rare: 1 and 32 lanes in a few bytes */
		for (size_t i = 0; i < 140000; i++)
			syms[i] = rnd(&seed) % 1000 == 0;
		snprintf(name, sizeof(name), "v%u-rare-9000", v);
		put_rans(name, v, syms, 9000);
		snprintf(name, sizeof(name), "v%u-rare-140000", v);
		put_rans(name, v, syms, 140000);
	}
	/* round-trip mode: symbols drawn from the histogram's symbols */
	for (unsigned k = 0; k < 4; k++) {
		uint8_t in[300];

		in[0] = (uint8_t)(4 | (k & 1));
		in[1] = (uint8_t)(k * 61);
		in[2] = (uint8_t)(k * 17);
		in[3] = 0;
		in[4] = (uint8_t)(k * 60 + 10);
		for (size_t i = 5; i < sizeof(in); i++)
			in[i] = (uint8_t)(k == 3 ? rnd(&seed) :
					  100 + rnd(&seed) % (3 + 20 * k));
		snprintf(name, sizeof(name), "roundtrip-%u", k);
		put("rans", name, in, sizeof(in));
		/* the same as fine tables (flag bit 4), lane unit 512 << k */
		in[0] = (uint8_t)(in[0] | 16 | k << 5);
		snprintf(name, sizeof(name), "fine-roundtrip-%u", k);
		put("rans", name, in, sizeof(in));
	}
	free(syms);
}

/* ---- inputs of the round trip target ---- */

static void
make_roundtrip(void)
{
	/* flags, sizes, count; then per tensor t0 t1 t2 t3; then bytes */
	static const uint8_t heads[][20] = {
		{ 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01 },
		{ 0x0f, 0x04, 0x02, 0x00, 0xb8, 0x0b, 0x05,
		  0x81, 0x82, 0x00, 0x27, 0x02, 0x32, 0x00, 0x09 },
		{ 0x02, 0x05, 0x03, 0x05, 0x00, 0x20, 0x07,
		  0x03, 0x21, 0x00, 0x00, 0x01, 0x82, 0x00, 0x05,
		  0x0a, 0x40, 0x00, 0x02 },
		{ 0x0a, 0x00, 0x01, 0x08, 0x00, 0x08, 0x45 },
		{ 0x06, 0x0c, 0x04, 0xa0, 0x01, 0x00, 0x02,
		  0x04, 0x10, 0x00, 0x00, 0x06, 0x00, 0x03, 0x01,
		  0x07, 0x05, 0x00, 0x00 },
	};
	uint64_t seed = 11;
	char name[64];

	for (size_t k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
		uint8_t in[20 + 200];

		memcpy(in, heads[k], 20);
		for (size_t i = 20; i < sizeof(in); i++)
			in[i] = (uint8_t)rnd(&seed);
		snprintf(name, sizeof(name), "seed-%zu", k);
		put("roundtrip", name, in, sizeof(in));
	}
}

int
main(int argc, char **argv)
{
	if (argc != 3)
		die("usage: mkseed SAMPLE.safetensors OUTDIR");
	out_dir = argv[2];
	make_images(argv[1]);
	make_rans();
	make_roundtrip();
	return 0;
}
