/* SPDX-License-Identifier: MIT */
/*
 * test_gmm.c: the lossy codec: the fit against the original's rule, the
 * MAP intervals against a brute-force argmax, round trips with the bound
 * checked on every value, special values, options, determinism across
 * rANS kernel levels, the coder's efficiency (1% of the model's entropy)
 * and damaged payloads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "cpu.h"
#include "endian.h"
#include "gmm.h"
#include "gmm_internal.h"
#include "safetensors.h"
#include "banned.h"

/* ---- helpers ---- */

static double
uniform01(uint64_t *seed)
{
	return (double)(test_rand(seed) >> 11) * 0x1p-53;
}

static double
normal(uint64_t *seed)
{
	const double u = uniform01(seed) + 0x1p-60, v = uniform01(seed);

	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* Stores v in dtype at dst[i] (rounded once, as the codec does). */
static void
put_value(enum gauss_dtype dt, uint8_t *dst, size_t i, double v)
{
	double y;
	const uint32_t b = gmm_round(dt, v, &y);

	if (dt == GAUSS_DTYPE_F32)
		put_le32(dst + 4 * i, b);
	else
		put_le16(dst + 2 * i, (uint16_t)b);
}

/* n values of a weight-like mixture: three Gaussians of scale `scale`. */
static uint8_t *
mixture(enum gauss_dtype dt, size_t n, double scale, uint64_t seed)
{
	uint8_t *p = malloc(n * gmm_elem_nbytes(dt) + 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		const double u = uniform01(&seed);
		double v;

		if (u < 0.7)
			v = 0.02 * normal(&seed);
		else if (u < 0.9)
			v = 0.05 + 0.01 * normal(&seed);
		else
			v = -0.1 + 0.03 * normal(&seed);
		put_value(dt, p, i, v * scale);
	}
	return p;
}

struct coded {
	uint8_t *payload;
	size_t nbytes;
	struct gmm_report rep;
};

static void
encode_ok(enum gauss_dtype dt, const void *src, size_t n,
	  const struct gmm_options *o, struct coded *c)
{
	struct errbuf eb = { { 0 } };
	const size_t cap = gmm_encode_bound(dt, n, o->k);
	enum gauss_status st;

	c->payload = malloc(cap);
	assert_non_null(c->payload);
	st = gmm_encode(dt, src, n, o, c->payload, cap, &c->nbytes, &c->rep,
			NULL, &eb);
	if (st != GAUSS_OK)
		fail_msg("gmm_encode: %s", eb.text);
}

/*
 * Decodes c (from a guarded copy) and checks every value: finite originals
 * within the bound, the others bit for bit. Returns the max error seen.
 */
static double
decode_check(enum gauss_dtype dt, const uint8_t *src, size_t n,
	     const struct coded *c, const struct rans_kernels *kern)
{
	const unsigned es = gmm_elem_nbytes(dt);
	uint8_t *in = guarded_copy(c->payload, c->nbytes);
	uint8_t *out = guarded_alloc(n * es);
	struct errbuf eb = { { 0 } };
	double maxerr = 0;

	if (gmm_decode(dt, in, c->nbytes, out, n, kern, NULL, &eb) !=
	    GAUSS_OK)
		fail_msg("gmm_decode: %s", eb.text);
	for (size_t i = 0; i < n; i++) {
		const double x = gmm_load(dt, src, i), y = gmm_load(dt, out, i);

		if (!isfinite(x)) {
			assert_memory_equal(src + i * es, out + i * es, es);
			continue;
		}
		if (!(fabs(y - x) <= c->rep.bound))
			fail_msg("value %zu: %.9g decoded as %.9g, bound %g", i,
				 x, y, c->rep.bound);
		maxerr = fmax(maxerr, fabs(y - x));
	}
	guarded_free(in, c->nbytes);
	guarded_free(out, n * es);
	return maxerr;
}

/* ---- the deterministic functions ---- */

static void
test_gmm_log_exp(void **state)
{
	uint64_t seed = 7;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		const double x = ldexp(1 + uniform01(&seed),
				       (int)(test_rand(&seed) % 2000) - 1000);
		const double l = log(x), e = -uniform01(&seed) * 700;

		if (!(fabs(gmm_log(x) - l) <= 4e-16 * fmax(1, fabs(l))))
			fail_msg("log(%a) = %a, libm %a", x, gmm_log(x), l);
		if (!(fabs(gmm_exp(e) - exp(e)) <= 4e-16 * exp(e)))
			fail_msg("exp(%a) = %a, libm %a", e, gmm_exp(e), exp(e));
	}
	assert_true(gmm_log(1.0) == 0);
	assert_true(gmm_exp(0.0) == 1);
	assert_true(fabs(gmm_erfc(1.0) - erfc(1.0)) < 2e-7);
	assert_true(fabs(gmm_erfc(0.0) - 1) < 2e-7);
}

/* gmm_round() against the hardware conversion and known halfway cases. */
static void
test_gmm_round_dtypes(void **state)
{
	uint64_t seed = 3;
	double y;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		const double v = ldexp(uniform01(&seed) - 0.5,
				       (int)(test_rand(&seed) % 300) - 150);
		const float f = (float)v;
		uint32_t u;

		memcpy(&u, &f, 4);
		assert_int_equal(gmm_round(GAUSS_DTYPE_F32, v, &y), u);
		assert_true(y == (double)f);
	}
	/* bf16: 1 + 2^-8 is halfway between 1 and 1 + 2^-7: even is 1 */
	assert_int_equal(gmm_round(GAUSS_DTYPE_BF16, 1 + 0x1p-8, &y), 0x3f80);
	/* just above halfway rounds up, which f64->f32->bf16 gets wrong */
	assert_int_equal(gmm_round(GAUSS_DTYPE_BF16, 1 + 0x1p-8 + 0x1p-30, &y),
			 0x3f81);
	assert_int_equal(gmm_round(GAUSS_DTYPE_F16, 1.0, &y), 0x3c00);
	assert_int_equal(gmm_round(GAUSS_DTYPE_F16, 65504.0, &y), 0x7bff);
	assert_int_equal(gmm_round(GAUSS_DTYPE_F16, 65520.0, &y), 0x7c00);
	assert_int_equal(gmm_round(GAUSS_DTYPE_F16, -0x1p-24, &y), 0x8001);
	assert_int_equal(gmm_round(GAUSS_DTYPE_F16, 0x1p-25, &y), 0x0000);
	assert_int_equal(gmm_round(GAUSS_DTYPE_F16, 3 * 0x1p-25, &y), 0x0002);
	for (uint32_t h = 0; h < 0x7c00; h++) {
		uint8_t b[2];

		put_le16(b, (uint16_t)h);
		assert_int_equal(gmm_round(GAUSS_DTYPE_F16,
					   gmm_load(GAUSS_DTYPE_F16, b, 0), &y),
				 h);
	}
}

/* ---- the fit ---- */

/* Score of the original's E-step. */
static double
score(const struct gmm_model *m, unsigned k, double x)
{
	const double inv = 1 / (m->sigma[k] + 1e-10);
	const double z = (x - m->mu[k]) * inv;

	return log(m->pi[k] + 1e-300) - log(m->sigma[k] + 1e-10) - 0.5 * z * z;
}

static unsigned
argmax(const struct gmm_model *m, double x, double *margin_ret)
{
	unsigned best = 0;
	double b = score(m, 0, x), second = -INFINITY;

	for (unsigned k = 1; k < m->k; k++) {
		const double s = score(m, k, x);

		if (s > b) {
			second = b;
			b = s;
			best = k;
		} else {
			second = fmax(second, s);
		}
	}
	*margin_ret = b - second;
	return best;
}

/* The MAP intervals agree with a brute-force argmax away from ties. */
static void
test_gmm_pieces_match_argmax(void **state)
{
	uint64_t seed = 11;
	struct gmm_pieces *p = malloc(sizeof(*p));
	struct gmm_model m;

	(void)state;
	assert_non_null(p);
	for (int trial = 0; trial < 300; trial++) {
		memset(&m, 0, sizeof(m));
		m.k = 1 + (unsigned)(test_rand(&seed) % 24);
		for (unsigned k = 0; k < m.k; k++) {
			m.mu[k] = normal(&seed);
			m.sigma[k] = exp(2 * normal(&seed)) * 0.3;
			m.pi[k] = test_rand(&seed) % 5 ? uniform01(&seed) : 0;
		}
		if (trial % 7 == 0)	/* duplicates and equal widths */
			for (unsigned k = 1; k < m.k; k += 2) {
				m.sigma[k] = m.sigma[0];
				if (k % 3 == 0)
					m.mu[k] = m.mu[0];
			}
		gmm_pieces_build(&m, p);
		assert_true(p->count <= 2 * m.k - 1);
		for (unsigned j = 1; j + 1 < p->count; j++)
			assert_true(p->thr[j - 1] < p->thr[j]);
		for (int i = 0; i < 2000; i++) {
			const double x = 4 * normal(&seed);
			double margin;
			const unsigned want = argmax(&m, x, &margin);

			if (margin > 1e-9)
				assert_int_equal(gmm_pieces_lookup(p, x), want);
		}
	}
	free(p);
}

/* A small input worked by hand with the original's rule. */
static void
test_gmm_fit_known(void **state)
{
	const double xs[] = { 0, 0.1, 0.2, 10, 10.1, 10.2 };
	struct gmm_model m;

	(void)state;
	/* init: percentiles 5 and 95 are 0.025 and 10.175 */
	assert_int_equal(gmm_fit_sorted(xs, 6, 2, 1, &m, NULL), GAUSS_OK);
	assert_int_equal(m.iterations, 1);
	/* one M-step: the two triples */
	assert_true(fabs(m.mu[0] - 0.1) < 1e-15);
	assert_true(fabs(m.mu[1] - 10.1) < 1e-14);
	assert_true(fabs(m.sigma[0] - sqrt(0.02 / 3)) < 1e-15);
	assert_true(fabs(m.sigma[1] - sqrt(0.02 / 3)) < 1e-14);
	assert_true(m.pi[0] == 0.5 && m.pi[1] == 0.5);
	/* the second E-step changes nothing: stop with 2 iterations */
	assert_int_equal(gmm_fit_sorted(xs, 6, 2, 100, &m, NULL), GAUSS_OK);
	assert_int_equal(m.iterations, 2);
	assert_true(fabs(m.mu[0] - 0.1) < 1e-15);

	/* all equal: every component at the value, sigma 1e-6 */
	{
		const double zs[] = { 3, 3, 3, 3 };

		assert_int_equal(gmm_fit_sorted(zs, 4, 4, 100, &m, NULL), GAUSS_OK);
		for (unsigned k = 0; k < 4; k++)
			assert_true(m.mu[k] == 3 && m.sigma[k] == 1e-6);
		assert_true(m.pi[0] == 1 && m.pi[1] == 0);
		assert_int_equal(m.iterations, 2);
	}
}

/* Empty clusters keep mu and sigma, get pi 0; max_iter caps the loop. */
static void
test_gmm_fit_empty_cluster(void **state)
{
	/* K = 4 on two values: percentiles collapse on the two points */
	const double xs[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 5 };
	struct gmm_model m;

	(void)state;
	assert_int_equal(gmm_fit_sorted(xs, 10, 4, 100, &m, NULL), GAUSS_OK);
	/* 5,35,65 percentiles are 1; 95 is 1 + 4 * 0.55 = 3.2 */
	assert_true(m.pi[0] == 0.9);
	assert_true(m.pi[1] == 0 && m.pi[2] == 0);
	assert_true(m.mu[1] == 1 && m.mu[2] == 1);
	assert_true(m.mu[3] == 5 && m.pi[3] == 0.1);
}

/* ---- round trips ---- */

static void
roundtrip_dtype(enum gauss_dtype dt, size_t n, double scale)
{
	uint8_t *src = mixture(dt, n, scale, 42 + n);
	struct gmm_options o;
	struct coded c;
	double maxerr;

	gmm_options_default(&o);
	o.seed = 1;
	encode_ok(dt, src, n, &o, &c);
	maxerr = decode_check(dt, src, n, &c, NULL);
	assert_true(maxerr == c.rep.max_abs_error);
	assert_true(c.rep.bound == (dt == GAUSS_DTYPE_BF16 ? 1.0 / 256
							   : 1.0 / 2000));
	assert_true(c.rep.rel_rms_error > 0 && c.rep.rel_rms_error < 1);
	assert_true(c.nbytes < n * gmm_elem_nbytes(dt));
	assert_int_equal(c.rep.total_nbytes, c.nbytes);
	print_message("%s n=%zu: %zu bytes (%.3f bits/value), K=%u iter=%u "
		      "S=%u max err %.3g rms/std %.4f escapes %llu gauss "
		      "tables %u\n", gauss_dtype_name(dt), n, c.nbytes,
		      8.0 * (double)c.nbytes / (double)n, c.rep.k,
		      c.rep.iterations, c.rep.scale, c.rep.max_abs_error,
		      c.rep.rel_rms_error, (unsigned long long)c.rep.escapes,
		      c.rep.gaussian_tables);
	free(c.payload);
	free(src);
}

static void
test_gmm_roundtrip_f32(void **state)
{
	(void)state;
	roundtrip_dtype(GAUSS_DTYPE_F32, 300000, 1);	/* sampled fit */
	roundtrip_dtype(GAUSS_DTYPE_F32, 50000, 20);	/* wide residuals */
}

static void
test_gmm_roundtrip_bf16(void **state)
{
	(void)state;
	roundtrip_dtype(GAUSS_DTYPE_BF16, 250000, 1);
	roundtrip_dtype(GAUSS_DTYPE_BF16, 40000, 100);
}

static void
test_gmm_roundtrip_f16(void **state)
{
	(void)state;
	roundtrip_dtype(GAUSS_DTYPE_F16, 250000, 1);
	roundtrip_dtype(GAUSS_DTYPE_F16, 40000, 30);
}

/* NaN, infinities, huge outliers, denormals: exact or within the bound. */
static void
test_gmm_special_values(void **state)
{
	static const enum gauss_dtype dts[] = {
		GAUSS_DTYPE_F32, GAUSS_DTYPE_BF16, GAUSS_DTYPE_F16,
	};

	(void)state;
	for (unsigned d = 0; d < ARRAY_SIZE(dts); d++) {
		const enum gauss_dtype dt = dts[d];
		const size_t n = 20000;
		uint8_t *src = mixture(dt, n, 1, 5);
		struct gmm_options o;
		struct coded c;

		put_value(dt, src, 10, NAN);
		put_value(dt, src, 11, INFINITY);
		put_value(dt, src, 12, -INFINITY);
		put_value(dt, src, 13, dt == GAUSS_DTYPE_F16 ? 60000 : 1e30);
		put_value(dt, src, 14, -3000);
		put_value(dt, src, 15, 0x1p-140);	/* denormal (f32/bf16) */
		put_value(dt, src, 16, -0x1p-20);	/* denormal in f16 */
		put_value(dt, src, n - 1, NAN);
		if (dt == GAUSS_DTYPE_F32)
			put_le32(src + 4 * 17, 0x7f800123);	/* NaN payload */
		gmm_options_default(&o);
		encode_ok(dt, src, n, &o, &c);
		assert_true(c.rep.escapes >= 4);	/* NaN, Inf at least */
		decode_check(dt, src, n, &c, NULL);
		free(c.payload);
		free(src);
	}
}

/* Constant shards, tiny shards, K = 1, K larger than the values. */
static void
test_gmm_degenerate_shards(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 7, 16, 17, 100 };
	static const unsigned ks[] = { 1, 2, 16, 255 };
	uint64_t seed = 9;

	(void)state;
	for (unsigned a = 0; a < ARRAY_SIZE(sizes); a++) {
		for (unsigned b = 0; b < ARRAY_SIZE(ks); b++) {
			for (int constant = 0; constant < 2; constant++) {
				const size_t n = sizes[a];
				uint8_t *src = malloc(4 * n + 1);
				struct gmm_options o;
				struct coded c;

				for (size_t i = 0; i < n; i++)
					put_value(GAUSS_DTYPE_F32, src, i,
						  constant ? 0.25 :
						  normal(&seed) * 0.1);
				gmm_options_default(&o);
				o.k = ks[b];
				encode_ok(GAUSS_DTYPE_F32, src, n, &o, &c);
				decode_check(GAUSS_DTYPE_F32, src, n, &c, NULL);
				if (constant)
					assert_true(c.rep.max_abs_error == 0);
				free(c.payload);
				free(src);
			}
		}
	}
	/* a constant shard costs almost nothing */
	{
		const size_t n = 100000;
		uint8_t *src = malloc(2 * n);
		struct gmm_options o;
		struct coded c;

		for (size_t i = 0; i < n; i++)
			put_value(GAUSS_DTYPE_BF16, src, i, -1.5);
		gmm_options_default(&o);
		encode_ok(GAUSS_DTYPE_BF16, src, n, &o, &c);
		assert_true(c.nbytes < 600);
		decode_check(GAUSS_DTYPE_BF16, src, n, &c, NULL);
		free(c.payload);
		free(src);
	}
}

/* max_error picks S; bad options are refused with a message. */
static void
test_gmm_options(void **state)
{
	const size_t n = 30000;
	uint8_t *src = mixture(GAUSS_DTYPE_F32, n, 1, 77);
	uint8_t out[64];
	struct gmm_options o;
	struct coded c, c2;
	struct errbuf eb = { { 0 } };
	size_t nb;

	(void)state;
	assert_int_equal(gmm_scale_for(GAUSS_DTYPE_F32, 0), 1000);
	assert_int_equal(gmm_scale_for(GAUSS_DTYPE_F16, 0), 1000);
	assert_int_equal(gmm_scale_for(GAUSS_DTYPE_BF16, 0), 128);
	assert_int_equal(gmm_scale_for(GAUSS_DTYPE_F32, 1e-4), 5000);
	assert_int_equal(gmm_scale_for(GAUSS_DTYPE_F32, 0.3), 2);
	assert_int_equal(gmm_scale_for(GAUSS_DTYPE_F32, 1e-12), 0);
	assert_int_equal(gmm_scale_for(GAUSS_DTYPE_F32, -1), 0);
	assert_int_equal(gmm_scale_for(GAUSS_DTYPE_F32, NAN), 0);

	gmm_options_default(&o);
	o.max_error = 1e-4;
	encode_ok(GAUSS_DTYPE_F32, src, n, &o, &c);
	assert_int_equal(c.rep.scale, 5000);
	assert_true(decode_check(GAUSS_DTYPE_F32, src, n, &c, NULL) <= 1e-4);
	{
		struct gmm_payload_info info;

		assert_int_equal(gmm_payload_info(c.payload, c.nbytes, &info,
						  &eb), GAUSS_OK);
		assert_int_equal(info.k, 16);
		assert_int_equal(info.scale, 5000);
		assert_int_equal(info.iterations, c.rep.iterations);
		assert_int_equal(info.escapes, c.rep.escapes);
		assert_int_equal(gmm_payload_info(c.payload, 5, &info, &eb),
				 GAUSS_E_CORRUPT);
	}
	o.max_error = 1e-2;
	encode_ok(GAUSS_DTYPE_F32, src, n, &o, &c2);
	assert_true(c2.nbytes < c.nbytes);	/* coarser is smaller */
	decode_check(GAUSS_DTYPE_F32, src, n, &c2, NULL);
	free(c.payload);
	free(c2.payload);

	/* K and max_iter change the result; K = 1 works */
	gmm_options_default(&o);
	o.k = 4;
	o.max_iter = 1;
	encode_ok(GAUSS_DTYPE_F32, src, n, &o, &c);
	assert_int_equal(c.rep.k, 4);
	assert_int_equal(c.rep.iterations, 1);
	decode_check(GAUSS_DTYPE_F32, src, n, &c, NULL);
	free(c.payload);

	gmm_options_default(&o);
	o.k = 0;
	assert_int_equal(gmm_encode(GAUSS_DTYPE_F32, src, n, &o, out,
				    sizeof(out), &nb, NULL, NULL, &eb),
			 GAUSS_E_INVALID_ARG);
	assert_non_null(strstr(eb.text, "K must be"));
	o.k = 256;
	assert_int_equal(gmm_encode(GAUSS_DTYPE_F32, src, n, &o, out,
				    sizeof(out), &nb, NULL, NULL, &eb),
			 GAUSS_E_INVALID_ARG);
	gmm_options_default(&o);
	o.max_iter = 0;
	assert_int_equal(gmm_encode(GAUSS_DTYPE_F32, src, n, &o, out,
				    sizeof(out), &nb, NULL, NULL, &eb),
			 GAUSS_E_INVALID_ARG);
	gmm_options_default(&o);
	o.max_error = -1;
	assert_int_equal(gmm_encode(GAUSS_DTYPE_F32, src, n, &o, out,
				    sizeof(out), &nb, NULL, NULL, &eb),
			 GAUSS_E_INVALID_ARG);
	assert_non_null(strstr(eb.text, "max-error"));
	gmm_options_default(&o);
	assert_int_equal(gmm_encode(GAUSS_DTYPE_I32, src, n, &o, out,
				    sizeof(out), &nb, NULL, NULL, &eb),
			 GAUSS_E_INVALID_ARG);
	/* too small an output buffer */
	assert_int_equal(gmm_encode(GAUSS_DTYPE_F32, src, n, &o, out,
				    sizeof(out), &nb, NULL, NULL, &eb),
			 GAUSS_E_TOO_LARGE);
	free(src);
}

/* Same input, options and seed: same bytes, at every kernel level. */
static void
test_gmm_deterministic(void **state)
{
	const size_t n = 260000;
	uint8_t *src = mixture(GAUSS_DTYPE_F32, n, 1, 123);
	struct gmm_options o;
	struct coded ref, c;

	(void)state;
	gmm_options_default(&o);
	o.seed = 99;
	o.shard_id = 3;
	o.kernels = rans_kernels_of(CPU_SCALAR);
	encode_ok(GAUSS_DTYPE_F32, src, n, &o, &ref);
	for (int l = 0; l < CPU_LEVEL_COUNT; l++) {
		const struct rans_kernels *k = rans_kernels_of(
			(enum cpu_level)l);

		if (k == NULL)
			continue;
		o.kernels = k;
		encode_ok(GAUSS_DTYPE_F32, src, n, &o, &c);
		assert_int_equal(c.nbytes, ref.nbytes);
		assert_memory_equal(c.payload, ref.payload, c.nbytes);
		free(c.payload);
		decode_check(GAUSS_DTYPE_F32, src, n, &ref, k);
	}
	/* another shard identity draws another sample */
	o.shard_id = 4;
	encode_ok(GAUSS_DTYPE_F32, src, n, &o, &c);
	assert_true(c.nbytes != ref.nbytes ||
		    memcmp(c.payload, ref.payload, c.nbytes) != 0);
	free(c.payload);
	free(ref.payload);
	free(src);
}

/* ---- the coder's efficiency ---- */

static void
check_efficiency(const char *what, const struct coded *c)
{
	const double ib = 8.0 * (double)c->rep.index_nbytes;
	const double rb = 8.0 * (double)c->rep.resid_nbytes;

	print_message("%s: index %.0f bits / model %.0f (+%.3f%%), residual "
		      "%.0f / %.0f (+%.3f%%)\n", what, ib,
		      c->rep.index_model_bits,
		      100 * (ib / c->rep.index_model_bits - 1), rb,
		      c->rep.resid_model_bits,
		      100 * (rb / c->rep.resid_model_bits - 1));
	if (c->rep.index_model_bits > 8000)
		assert_true(ib <= 1.01 * c->rep.index_model_bits);
	if (c->rep.resid_model_bits > 8000)
		assert_true(rb <= 1.01 * c->rep.resid_model_bits);
}

static void
test_gmm_coder_efficiency(void **state)
{
	const size_t n = 1000000;
	uint8_t *src = mixture(GAUSS_DTYPE_F32, n, 1, 2024);
	struct gmm_options o;
	struct coded c;
	double split;

	(void)state;
	gmm_options_default(&o);
	o.diagnostics = true;
	encode_ok(GAUSS_DTYPE_F32, src, n, &o, &c);
	check_efficiency("mixture f32 1M", &c);
	/* the bucket split: symbol model + raw bits vs r's own entropy */
	split = c.rep.resid_model_bits + 8.0 * (double)c.rep.raw_bits_nbytes;
	print_message("bucket split: %.0f bits (symbols + raw) vs residual "
		      "entropy %.0f (+%.3f%%)\n", split,
		      c.rep.resid_entropy_bits,
		      100 * (split / c.rep.resid_entropy_bits - 1));
	assert_true(split <= 1.01 * c.rep.resid_entropy_bits);
	decode_check(GAUSS_DTYPE_F32, src, n, &c, NULL);
	free(c.payload);
	free(src);
}

/* The fp32 tensors of the corpus: bound, efficiency, split. */
static void
test_gmm_corpus_f32(void **state)
{
	static const char *files[] = {
		"silero-vad-v5.fp32.safetensors",
		"gnubg-nets.fp32.safetensors",
		"ppocrv4-rec.fp32.safetensors",
	};
	const char *dir = getenv("GAUSS_CORPUS");
	unsigned tested = 0;

	(void)state;
	if (dir == NULL)
		skip();
	for (unsigned f = 0; f < ARRAY_SIZE(files); f++) {
		char *path = path_join(dir, files[f]);
		size_t nb;
		uint8_t *file = read_file(path, &nb);
		struct st_header hdr;
		struct errbuf eb = { { 0 } };
		uint64_t jn;

		free(path);
		if (file == NULL)
			continue;
		assert_int_equal(st_check_prefix(file, nb, &jn, &eb), GAUSS_OK);
		assert_int_equal(st_parse(file + 8, jn, nb, &hdr, &eb),
				 GAUSS_OK);
		for (size_t t = 0; t < hdr.tensor_count; t++) {
			const struct st_tensor *ts = &hdr.tensors[t];
			const uint8_t *src = file + hdr.data_offset + ts->begin;
			struct gmm_options o;
			struct coded c;

			if (ts->dtype != GAUSS_DTYPE_F32 || ts->ndim < 2 ||
			    ts->element_count < 32768)
				continue;
			gmm_options_default(&o);
			o.shard_id = t;
			o.diagnostics = true;
			encode_ok(GAUSS_DTYPE_F32, src, ts->element_count, &o,
				  &c);
			check_efficiency(ts->name, &c);
			decode_check(GAUSS_DTYPE_F32, src, ts->element_count,
				     &c, NULL);
			free(c.payload);
			tested++;
		}
		st_header_free(&hdr);
		free(file);
	}
	if (tested == 0)
		skip();
}

/* ---- damaged payloads ---- */

static void
try_decode(const uint8_t *p, size_t nb, size_t n)
{
	uint8_t *in = guarded_copy(p, nb);
	uint8_t *out = guarded_alloc(4 * n);
	struct errbuf eb = { { 0 } };
	const enum gauss_status st = gmm_decode(GAUSS_DTYPE_F32, in, nb, out,
						n, NULL, NULL, &eb);

	assert_true(st == GAUSS_OK || st == GAUSS_E_CORRUPT);
	if (st == GAUSS_E_CORRUPT)
		assert_true(eb.text[0] != '\0');
	guarded_free(in, nb);
	guarded_free(out, 4 * n);
}

static void
test_gmm_damaged_payloads(void **state)
{
	const size_t n = 3000;
	uint8_t *src = mixture(GAUSS_DTYPE_F32, n, 1, 31);
	struct gmm_options o;
	struct coded c;
	uint8_t *bad;

	(void)state;
	put_value(GAUSS_DTYPE_F32, src, 5, NAN);
	put_value(GAUSS_DTYPE_F32, src, 6, 1e20);
	gmm_options_default(&o);
	o.k = 6;
	encode_ok(GAUSS_DTYPE_F32, src, n, &o, &c);
	bad = malloc(c.nbytes);
	assert_non_null(bad);
	for (size_t len = 0; len < c.nbytes; len++) {
		uint8_t *in = guarded_copy(c.payload, len);
		uint8_t *out = guarded_alloc(4 * n);
		struct errbuf eb = { { 0 } };

		assert_int_equal(gmm_decode(GAUSS_DTYPE_F32, in, len, out, n,
					    NULL, NULL, &eb), GAUSS_E_CORRUPT);
		guarded_free(in, len);
		guarded_free(out, 4 * n);
	}
	for (size_t i = 0; i < c.nbytes; i++) {
		static const uint8_t flips[] = { 0x01, 0x80, 0xff, 0x10 };

		for (unsigned f = 0; f < ARRAY_SIZE(flips); f++) {
			memcpy(bad, c.payload, c.nbytes);
			bad[i] ^= flips[f];
			try_decode(bad, c.nbytes, n);
		}
	}
	/* wrong counts are refused too */
	{
		uint8_t *out = malloc(4 * (n + 1));
		struct errbuf eb = { { 0 } };

		assert_int_equal(gmm_decode(GAUSS_DTYPE_F32, c.payload,
					    c.nbytes, out, n - 1, NULL, NULL,
					    &eb),
				 GAUSS_E_CORRUPT);
		assert_int_equal(gmm_decode(GAUSS_DTYPE_F32, c.payload,
					    c.nbytes, out, n + 1, NULL, NULL,
					    &eb),
				 GAUSS_E_CORRUPT);
		free(out);
	}
	free(bad);
	free(c.payload);
	free(src);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gmm_log_exp),
		cmocka_unit_test(test_gmm_round_dtypes),
		cmocka_unit_test(test_gmm_pieces_match_argmax),
		cmocka_unit_test(test_gmm_fit_known),
		cmocka_unit_test(test_gmm_fit_empty_cluster),
		cmocka_unit_test(test_gmm_roundtrip_f32),
		cmocka_unit_test(test_gmm_roundtrip_bf16),
		cmocka_unit_test(test_gmm_roundtrip_f16),
		cmocka_unit_test(test_gmm_special_values),
		cmocka_unit_test(test_gmm_degenerate_shards),
		cmocka_unit_test(test_gmm_options),
		cmocka_unit_test(test_gmm_deterministic),
		cmocka_unit_test(test_gmm_coder_efficiency),
		cmocka_unit_test(test_gmm_corpus_f32),
		cmocka_unit_test(test_gmm_damaged_payloads),
	};

	return cmocka_run_group_tests_name("gmm", tests, NULL, NULL);
}
