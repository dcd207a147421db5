/* SPDX-License-Identifier: MIT */
/*
 * test_lossy.c: the lossy mode (GAUSS_MODE_GMM) through the public API:
 * which tensors go lossy, the bound on every decoded value, the header and
 * every other byte restored exactly, the reader's figures and ranges,
 * determinism across thread counts, the options, and damage detected.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gauss.h"
#include "endian.h"
#include "safetensors.h"
#include "test_util.h"

/* A normal value (Box-Muller on the test generator). */
static double
normal(uint64_t *rng)
{
	const double u = ((double)(test_rand(rng) >> 11) + 0.5) / 9007199254740992.0;
	const double v = (double)(test_rand(rng) >> 11) / 9007199254740992.0;

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static uint16_t
to_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static uint16_t
to_f16(float f)
{
	/* values here are small and normal: a plain rounding is enough */
	uint32_t u;
	int e;
	uint32_t m;

	memcpy(&u, &f, sizeof(u));
	e = (int)((u >> 23) & 0xff) - 127 + 15;
	m = u & 0x7fffff;
	if (e <= 0)
		return (uint16_t)((u >> 16) & 0x8000);
	m = (m + 0x1000) >> 13;
	if (m == 0x400) {
		m = 0;
		e++;
	}
	return (uint16_t)(((u >> 16) & 0x8000) | (unsigned)e << 10 | m);
}

static double
value(const char *dtype, const uint8_t *p, size_t i)
{
	if (strcmp(dtype, "F32") == 0) {
		uint32_t u = get_le32(p + 4 * i);
		float f;

		memcpy(&f, &u, sizeof(f));
		return f;
	}
	if (strcmp(dtype, "BF16") == 0) {
		uint32_t u = (uint32_t)get_le16(p + 2 * i) << 16;
		float f;

		memcpy(&f, &u, sizeof(f));
		return f;
	}
	{
		const uint16_t h = get_le16(p + 2 * i);
		const unsigned e = (h >> 10) & 0x1f, m = h & 0x3ff;
		double v = e == 31 ? (m ? NAN : INFINITY) :
			   e == 0 ? ldexp(m, -24) : ldexp(m | 0x400, (int)e - 25);

		return (h & 0x8000) ? -v : v;
	}
}

struct spec {
	const char *name;
	const char *dtype;
	const char *shape;
	size_t count;
	bool lossy;		/* under the default options */
	double bound;
};

static const struct spec specs[] = {
	{ "attn.wq", "BF16", "[512,512]", 262144, true, 1.0 / 256 },
	{ "mlp.w1", "F32", "[300,200]", 60000, true, 1.0 / 2000 },
	{ "mlp.w2", "F16", "[128,512]", 65536, true, 1.0 / 2000 },
	{ "norm", "F32", "[40000]", 40000, false, 0 },		/* 1-D */
	{ "small", "F32", "[10,10]", 100, false, 0 },		/* < 32768 */
	{ "ids", "I32", "[200,200]", 40000, false, 0 },	/* not float */
	{ "odd", "F32", "[256,256]", 65536, true, 1.0 / 2000 },
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

static uint8_t *file;
static size_t file_n;
static struct st_header hdr;

static int
setup(void **state)
{
	struct st_build b;
	uint64_t rng = 42;
	struct errbuf eb;
	uint64_t json_n;

	(void)state;
	st_build_begin(&b, "{\"format\":\"pt\"}");
	for (size_t k = 0; k < NSPECS; k++) {
		const struct spec *s = &specs[k];
		const size_t es = strcmp(s->dtype, "F32") == 0 ||
				  strcmp(s->dtype, "I32") == 0 ? 4 : 2;
		uint8_t *d = malloc(s->count * es);

		for (size_t i = 0; i < s->count; i++) {
			float f = (float)(0.02 * normal(&rng) +
					  (i % 3 == 0 ? 0.01 : -0.005));

			if (strcmp(s->name, "odd") == 0) {
				/* NaN, infinities, an outlier, zeros */
				if (i == 7)
					f = NAN;
				else if (i == 8)
					f = INFINITY;
				else if (i == 9)
					f = -INFINITY;
				else if (i == 10)
					f = 1e30f;
				else if (i % 97 == 0)
					f = 0.0f;
			}
			if (es == 4 && s->dtype[0] == 'I') {
				put_le32(d + 4 * i, (uint32_t)(test_rand(&rng) %
							       1000));
			} else if (es == 4) {
				uint32_t u;

				memcpy(&u, &f, sizeof(u));
				put_le32(d + 4 * i, u);
			} else if (strcmp(s->dtype, "BF16") == 0) {
				put_le16(d + 2 * i, to_bf16(f));
			} else {
				put_le16(d + 2 * i, to_f16(f));
			}
		}
		st_build_tensor(&b, s->name, s->dtype, s->shape, d,
				s->count * es, 0);
		free(d);
	}
	file = st_build_end(&b, 8, &file_n);
	json_n = get_le64(file);
	assert_int_equal(st_parse(file + 8, (size_t)json_n, file_n, &hdr, &eb),
			 GAUSS_OK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	st_header_free(&hdr);
	free(file);
	return 0;
}

static const struct st_tensor *
tensor(const char *name)
{
	for (size_t i = 0; i < hdr.tensor_count; i++)
		if (strcmp(hdr.tensors[i].name, name) == 0)
			return &hdr.tensors[i];
	fail_msg("no tensor %s", name);
	return NULL;
}

/* Compresses file in the lossy mode with o (NULL: defaults), threads. */
static uint8_t *
compress_gmm(const struct gauss_gmm_options *o, unsigned threads,
	     size_t *n_ret)
{
	struct gauss_ctx *ctx = gauss_ctx_new();
	const size_t cap = gauss_compress_bound(file_n);
	uint8_t *out = malloc(cap);

	assert_int_equal(gauss_ctx_set_mode(ctx, GAUSS_MODE_GMM), GAUSS_OK);
	if (o != NULL)
		assert_int_equal(gauss_ctx_set_gmm_options(ctx, o), GAUSS_OK);
	gauss_ctx_set_threads(ctx, threads);
	if (gauss_compress_buffer(ctx, file, file_n, out, cap, n_ret) !=
	    GAUSS_OK)
		fail_msg("compress: %s", gauss_ctx_error(ctx));
	gauss_ctx_free(ctx);
	return out;
}

static uint8_t *
decompress(const uint8_t *gz, size_t gz_n, size_t *n_ret)
{
	struct gauss_ctx *ctx = gauss_ctx_new();
	uint8_t *out = malloc(file_n);

	if (gauss_decompress_buffer(ctx, gz, gz_n, out, file_n, n_ret) !=
	    GAUSS_OK)
		fail_msg("decompress: %s", gauss_ctx_error(ctx));
	gauss_ctx_free(ctx);
	return out;
}

/*
 * Checks back against the original: the header and every byte outside the
 * lossy tensors equal; each lossy tensor within its bound (bound_scale
 * times the default one), NaN and infinities exact; returns how many
 * tensors differ at all.
 */
static int
check_restored(const uint8_t *back, size_t back_n, const char *only,
	       double bound_override)
{
	int lossy = 0;

	assert_int_equal(back_n, file_n);
	assert_memory_equal(back, file, (size_t)hdr.data_offset);
	for (size_t k = 0; k < NSPECS; k++) {
		const struct spec *s = &specs[k];
		const struct st_tensor *t = tensor(s->name);
		const uint8_t *a = file + hdr.data_offset + t->begin;
		const uint8_t *b = back + hdr.data_offset + t->begin;
		const size_t n = (size_t)(t->end - t->begin);
		const bool may = s->lossy && (only == NULL ||
					      strcmp(only, s->name) == 0);
		const double bound = bound_override > 0 ? bound_override :
				     s->bound;
		double worst = 0;

		if (!may) {
			assert_memory_equal(a, b, n);
			continue;
		}
		for (size_t i = 0; i < s->count; i++) {
			const double x = value(s->dtype, a, i);
			const double y = value(s->dtype, b, i);

			if (!isfinite(x)) {
				const size_t es = n / s->count;

				assert_memory_equal(a + i * es, b + i * es, es);
				continue;
			}
			if (!(fabs(x - y) <= bound))
				fail_msg("%s[%zu]: %.9g came back as %.9g, "
					 "beyond %g", s->name, i, x, y, bound);
			worst = fmax(worst, fabs(x - y));
		}
		if (memcmp(a, b, n) != 0)
			lossy++;
		/* the error is real but not absurdly small: the mode ran */
		if (bound_override == 0)
			assert_true(worst > bound / 100);
	}
	return lossy;
}

static void
test_lossy_round_trip_bound(void **state)
{
	size_t gz_n, back_n;
	uint8_t *gz, *back;

	(void)state;
	gz = compress_gmm(NULL, 1, &gz_n);
	/* format version 7 (3 added the lossy kinds) */
	assert_int_equal(get_le16(gz + 8), 7);
	back = decompress(gz, gz_n, &back_n);
	assert_int_equal(check_restored(back, back_n, NULL, 0), 4);
	/* the lossy file is much smaller than the original */
	assert_true(gz_n < file_n / 2);
	free(back);
	free(gz);
}

static void
test_lossy_same_bytes_any_threads(void **state)
{
	size_t n1, n2, n7;
	uint8_t *g1, *g2, *g7;

	(void)state;
	g1 = compress_gmm(NULL, 1, &n1);
	g2 = compress_gmm(NULL, 2, &n2);
	g7 = compress_gmm(NULL, 7, &n7);
	assert_int_equal(n1, n2);
	assert_int_equal(n1, n7);
	assert_memory_equal(g1, g2, n1);
	assert_memory_equal(g1, g7, n1);
	free(g1);
	free(g2);
	free(g7);
}

static void
test_lossy_options(void **state)
{
	struct gauss_gmm_options o;
	size_t gz_n, back_n, gz2_n;
	uint8_t *gz, *back, *gz2;

	(void)state;
	/*
	 * A tighter bound; the seed changes the bytes (attn.wq holds more than
	 * the 200000 values a fit samples), not the bound.
	 */
	gauss_gmm_options_default(&o);
	o.max_error = 1e-4;
	o.k = 8;
	gz = compress_gmm(&o, 2, &gz_n);
	back = decompress(gz, gz_n, &back_n);
	check_restored(back, back_n, NULL, 1e-4);
	free(back);
	o.seed = 12345;
	gz2 = compress_gmm(&o, 2, &gz2_n);
	assert_true(gz2_n != gz_n || memcmp(gz, gz2, gz_n) != 0);
	free(gz);
	free(gz2);

	/* only the named layer goes lossy */
	gauss_gmm_options_default(&o);
	o.layers = "nosuch,mlp.w1";
	gz = compress_gmm(&o, 1, &gz_n);
	back = decompress(gz, gz_n, &back_n);
	assert_int_equal(check_restored(back, back_n, "mlp.w1", 0), 1);
	free(back);
	free(gz);

	/* a raw threshold above every tensor: a bit-exact file */
	gauss_gmm_options_default(&o);
	o.raw_threshold = 1000000;
	gz = compress_gmm(&o, 1, &gz_n);
	assert_int_equal(get_le16(gz + 8), 7);
	back = decompress(gz, gz_n, &back_n);
	assert_memory_equal(back, file, file_n);
	free(back);
	free(gz);

	/* small shards: many of them, still within the bound */
	gauss_gmm_options_default(&o);
	o.shard_threshold = 1000;
	o.shard_rows = 7;
	gz = compress_gmm(&o, 2, &gz_n);
	back = decompress(gz, gz_n, &back_n);
	assert_int_equal(check_restored(back, back_n, NULL, 0), 4);
	free(back);
	free(gz);
}

static void
test_lossy_options_refused(void **state)
{
	struct gauss_ctx *ctx = gauss_ctx_new();
	struct gauss_gmm_options o;

	(void)state;
	gauss_gmm_options_default(&o);
	assert_int_equal(o.k, 16);
	assert_int_equal(o.max_iter, 100);
	assert_int_equal(o.shard_threshold, 5000000);
	assert_int_equal(o.shard_rows, 4096);
	assert_int_equal(o.raw_threshold, 32768);
	o.k = 0;
	assert_int_equal(gauss_ctx_set_gmm_options(ctx, &o),
			 GAUSS_E_INVALID_ARG);
	assert_non_null(strstr(gauss_ctx_error(ctx), "K must be"));
	o.k = 256;
	assert_int_equal(gauss_ctx_set_gmm_options(ctx, &o),
			 GAUSS_E_INVALID_ARG);
	o.k = 16;
	o.max_error = -1;
	assert_int_equal(gauss_ctx_set_gmm_options(ctx, &o),
			 GAUSS_E_INVALID_ARG);
	o.max_error = NAN;
	assert_int_equal(gauss_ctx_set_gmm_options(ctx, &o),
			 GAUSS_E_INVALID_ARG);
	o.max_error = 1e-30;
	assert_int_equal(gauss_ctx_set_gmm_options(ctx, &o),
			 GAUSS_E_INVALID_ARG);
	o.max_error = 0;
	o.max_iter = 0;
	assert_int_equal(gauss_ctx_set_gmm_options(ctx, &o),
			 GAUSS_E_INVALID_ARG);
	o.max_iter = 100;
	o.shard_rows = 0;
	assert_int_equal(gauss_ctx_set_gmm_options(ctx, &o),
			 GAUSS_E_INVALID_ARG);
	o.shard_rows = 1;
	assert_int_equal(gauss_ctx_set_gmm_options(ctx, &o), GAUSS_OK);
	assert_string_equal(gauss_ctx_error(ctx), "");
	assert_int_equal(gauss_ctx_set_mode(ctx, (enum gauss_mode)7),
			 GAUSS_E_INVALID_ARG);
	gauss_ctx_free(ctx);
}

static void
test_lossy_reader(void **state)
{
	char *dir = make_temp_dir();
	char *in = path_join(dir, "m.safetensors");
	char *gzp = path_join(dir, "m.gauss");
	struct gauss_ctx *ctx = gauss_ctx_new();
	struct gauss_reader *r;
	size_t gz_n, back_n;
	uint8_t *gz, *back;

	(void)state;
	assert_int_equal(write_file(in, file, file_n), 0);
	assert_int_equal(gauss_ctx_set_mode(ctx, GAUSS_MODE_GMM), GAUSS_OK);
	if (gauss_compress_file(ctx, in, gzp) != GAUSS_OK)
		fail_msg("compress: %s", gauss_ctx_error(ctx));
	gz = read_file(gzp, &gz_n);
	back = decompress(gz, gz_n, &back_n);
	assert_int_equal(gauss_reader_open(ctx, gzp, &r), GAUSS_OK);
	for (size_t k = 0; k < NSPECS; k++) {
		const struct spec *s = &specs[k];
		const struct st_tensor *t = tensor(s->name);
		struct gauss_tensor_info ti;
		size_t index;
		uint8_t *buf;
		uint64_t first = s->count / 3, count = s->count / 2;
		const size_t es = (size_t)(t->end - t->begin) / s->count;

		assert_int_equal(gauss_reader_find(r, s->name, &index),
				 GAUSS_OK);
		assert_int_equal(gauss_reader_tensor_info(r, index, &ti),
				 GAUSS_OK);
		if (s->lossy) {
			assert_true(ti.codec >= GAUSS_CODEC_GMM_BF16);
			assert_int_equal(ti.gmm_k, 16);
			assert_int_equal(ti.gmm_scale, s->bound == 1.0 / 256 ?
					 128 : 1000);
			assert_true(ti.max_abs_error > 0);
			assert_true(ti.max_abs_error <= s->bound);
			assert_true(ti.rms_error > 0 &&
				    ti.rms_error <= ti.max_abs_error);
			/* "odd" holds 1e30 among its finite values */
			if (strcmp(s->name, "odd") == 0)
				assert_true(ti.value_std > 1e26);
			else
				assert_true(ti.value_std > 0.01 &&
					    ti.value_std < 0.05);
			assert_true(ti.stored_nbytes < ti.nbytes / 2);
		} else {
			assert_true(ti.codec < GAUSS_CODEC_GMM_BF16);
			assert_int_equal(ti.gmm_k, 0);
		}
		/* a range reads what decompression gives */
		buf = malloc(count * es);
		assert_int_equal(gauss_reader_read(r, index, first, count,
						   buf, count * es), GAUSS_OK);
		assert_memory_equal(buf, back + hdr.data_offset + t->begin +
					 first * es, count * es);
		free(buf);
	}
	gauss_reader_close(r);
	/* verify and decompress of the file agree */
	assert_int_equal(gauss_verify_file(ctx, gzp), GAUSS_OK);
	free(back);
	free(gz);
	gauss_ctx_free(ctx);
	remove_tree(dir);
	free(in);
	free(gzp);
	free(dir);
}

/*
 * A changed byte is refused, or lands in a field the decoder does not use
 * (a cluster's pi, the fit's iteration count, the mu or sigma of a cluster
 * that codes no value or has an empirical table: gauss(5) says no checksum
 * covers them) and the output is the undamaged one, bit for bit.
 */
static void
test_lossy_damage_detected(void **state)
{
	size_t gz_n, back_n = 0;
	uint8_t *gz, *bad, *out, *good;
	struct gauss_ctx *ctx = gauss_ctx_new();
	uint64_t rng = 7;
	int refused = 0;

	(void)state;
	gz = compress_gmm(NULL, 1, &gz_n);
	bad = malloc(gz_n);
	out = malloc(file_n);
	good = malloc(file_n);
	assert_int_equal(gauss_decompress_buffer(ctx, gz, gz_n, good, file_n,
						 &back_n), GAUSS_OK);
	/* 200 random single-byte changes past the header */
	for (int k = 0; k < 200; k++) {
		const size_t at = 24 + (size_t)(test_rand(&rng) % (gz_n - 24));

		memcpy(bad, gz, gz_n);
		bad[at] ^= (uint8_t)(1 + test_rand(&rng) % 255);
		if (gauss_decompress_buffer(ctx, bad, gz_n, out, file_n,
					    &back_n) != GAUSS_OK) {
			refused++;
			assert_string_not_equal(gauss_ctx_error(ctx), "");
		} else {
			assert_int_equal(back_n, file_n);
			assert_memory_equal(out, good, file_n);
		}
	}
	assert_true(refused >= 195);
	free(good);
	free(out);
	free(bad);
	free(gz);
	gauss_ctx_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lossy_round_trip_bound),
		cmocka_unit_test(test_lossy_same_bytes_any_threads),
		cmocka_unit_test(test_lossy_options),
		cmocka_unit_test(test_lossy_options_refused),
		cmocka_unit_test(test_lossy_reader),
		cmocka_unit_test(test_lossy_damage_detected),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
