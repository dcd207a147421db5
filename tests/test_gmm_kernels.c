/* SPDX-License-Identifier: MIT */
/*
 * test_gmm_kernels.c: the lossy codec's per-value kernels (struct gmm_ops)
 * at every level this CPU runs, against the scalar twins, bit for bit:
 * pass A (clusters, residuals, escapes, every sum), the reconstruction of
 * decoded values, the checks of a decoded shard, the symbols taken from
 * the clusters' streams and the residuals read from raw bits; and the
 * threshold keys
 * against the pieces' own lookup. Inputs are hostile on purpose: NaN,
 * infinities, both zeros, subnormals, values on and beside thresholds,
 * outliers that escape, huge means, every length around the 8- and
 * 16-value steps.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "cpu.h"
#include "endian.h"
#include "gmm_internal.h"
#include "banned.h"

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

static uint32_t
bits_of(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float
float_of(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* A model of k components around 0 of scale sc, and its pieces. */
static void
random_model(uint64_t *seed, unsigned k, double sc, struct gmm_model *m,
	     struct gmm_pieces *p)
{
	memset(m, 0, sizeof(*m));
	m->k = k;
	m->fit_mean = sc * 0.01 * normal(seed);
	for (unsigned j = 0; j < k; j++) {
		m->mu[j] = sc * normal(seed);
		m->sigma[j] = sc * (0.05 + uniform01(seed));
		m->pi[j] = 0.1 + uniform01(seed);
	}
	gmm_pieces_build(m, p);
}

/*
 * A value for the shard: mostly near the components, some exactly on a
 * threshold or one float beside it, and the specials.
 */
static float
random_value(uint64_t *seed, const struct gmm_pieces *p, double sc)
{
	const unsigned what = (unsigned)(test_rand(seed) % 100);

	if (what < 70)
		return (float)(sc * normal(seed));
	if (what < 82 && p->count > 1) {
		const double t = p->thr[test_rand(seed) % (p->count - 1)];
		const float f = (float)t;

		switch (test_rand(seed) % 3) {
		case 0:
			return f;
		case 1:
			return nextafterf(f, INFINITY);
		default:
			return nextafterf(f, -INFINITY);
		}
	}
	switch (what % 10) {
	case 0:
		return NAN;
	case 1:
		return test_rand(seed) & 1 ? INFINITY : -INFINITY;
	case 2:
		return 0.0f;
	case 3:
		return -0.0f;
	case 4:
		return float_of((uint32_t)(test_rand(seed) % 0x800000) |
				(test_rand(seed) & 1 ? 0x80000000u : 0));
	case 5:
		return (float)(sc * 1e4 * normal(seed));	/* escapes */
	case 6:
		return float_of((uint32_t)test_rand(seed));	/* any bits */
	default:
		return (float)(sc * normal(seed));
	}
}

/* Runs pass A with ops and returns it (cls, res in fresh buffers). */
static struct gmm_pass_a
run_pass_a(const struct gmm_ops *ops, const uint8_t *src, size_t n,
	   const struct gmm_model *m, const struct gmm_keys *keys,
	   uint32_t scale)
{
	struct gmm_pass_a a;

	memset(&a, 0, sizeof(a));
	a.src = src;
	a.count = n;
	a.m = m;
	a.keys = keys;
	a.scale = scale;
	a.cls = malloc(n + 1);
	a.res = malloc(2 * n + 2);
	assert_non_null(a.cls);
	assert_non_null(a.res);
	ops->pass_a_f32(&a);
	return a;
}

static void
assert_same_pass_a(const struct gmm_pass_a *a, const struct gmm_pass_a *b)
{
	assert_memory_equal(a->cls, b->cls, a->count);
	for (size_t i = 0; i < a->count; i++)
		if (a->cls[i] != GMM_ESCAPED)
			assert_int_equal(a->res[i], b->res[i]);
	assert_int_equal(a->nesc, b->nesc);
	assert_int_equal(a->nfinite, b->nfinite);
	assert_memory_equal(&a->maxerr, &b->maxerr, sizeof(double));
	assert_memory_equal(a->sumd, b->sumd, sizeof(a->sumd));
	assert_memory_equal(a->sumd2, b->sumd2, sizeof(a->sumd2));
	assert_memory_equal(a->sumerr2, b->sumerr2, sizeof(a->sumerr2));
}

/* The keys give the pieces' lookup for every float, on and off the edges. */
static void
test_keys_match_pieces(void **state)
{
	uint64_t seed = 5;
	struct gmm_model m;
	struct gmm_pieces p;
	struct gmm_keys k;

	(void)state;
	for (int trial = 0; trial < 200; trial++) {
		const unsigned nk = 1 + (unsigned)(test_rand(&seed) % 20);
		const double sc = ldexp(1.0, (int)(test_rand(&seed) % 60) - 40);

		random_model(&seed, nk, sc, &m, &p);
		gmm_keys_build(&p, &k);
		assert_int_equal(k.n, p.count - 1);
		for (int i = 0; i < 3000; i++) {
			const float f = random_value(&seed, &p, sc);

			if (!isfinite(f))
				continue;
			assert_int_equal(gmm_keys_lookup(&k, gmm_key(bits_of(f))),
					 gmm_pieces_lookup(&p, f));
		}
	}
	/* a threshold at zero takes both zeros; one beyond float's range */
	p.count = 3;
	p.pow2 = 2;
	p.thr[0] = 0.0;
	p.thr[1] = 1e39;
	p.w[0] = 4;
	p.w[1] = 5;
	p.w[2] = 6;
	gmm_keys_build(&p, &k);
	assert_int_equal(gmm_keys_lookup(&k, gmm_key(bits_of(-0.0f))), 5);
	assert_int_equal(gmm_keys_lookup(&k, gmm_key(bits_of(0.0f))), 5);
	assert_int_equal(gmm_keys_lookup(&k, gmm_key(bits_of(-1e-45f))), 4);
	assert_int_equal(gmm_keys_lookup(&k, gmm_key(bits_of(FLT_MAX))), 5);
}

static void
test_pass_a_twins(void **state)
{
	uint64_t seed = 77;
	struct gmm_model m;
	struct gmm_pieces p;
	struct gmm_keys k;
	int levels = 0;

	(void)state;
	for (int trial = 0; trial < 400; trial++) {
		const unsigned nk = trial % 9 == 0 ? 17 + (unsigned)trial % 5 :
				    1 + (unsigned)(test_rand(&seed) % 16);
		const double sc = ldexp(1.0, (int)(test_rand(&seed) % 40) - 30);
		const size_t n = trial < 80 ? (size_t)trial :
				 (size_t)(test_rand(&seed) % 5000);
		const uint32_t scale = trial % 3 ? (uint32_t)(0.5 / sc) + 1 :
				       1000;
		uint8_t *src = malloc(4 * n + 4);
		struct gmm_pass_a ref;

		assert_non_null(src);
		random_model(&seed, nk, sc, &m, &p);
		gmm_keys_build(&p, &k);
		for (size_t i = 0; i < n; i++)
			put_le32(src + 4 * i,
				 bits_of(random_value(&seed, &p, sc)));
		ref = run_pass_a(&gmm_ops_scalar, src, n, &m, &k, scale);
		for (int l = 1; l < CPU_LEVEL_COUNT; l++) {
			const struct rans_kernels *kl =
				rans_kernels_of((enum cpu_level)l);
			struct gmm_pass_a a;

			if (kl == NULL)
				continue;
			levels++;
			a = run_pass_a(kl->gmm, src, n, &m, &k, scale);
			assert_same_pass_a(&a, &ref);
			free(a.cls);
			free(a.res);
		}
		/* the generic scalar code gives the F32 twin's answer */
		{
			struct gmm_pass_a g = ref;

			memset(g.sumd, 0, sizeof(g.sumd));
			memset(g.sumd2, 0, sizeof(g.sumd2));
			memset(g.sumerr2, 0, sizeof(g.sumerr2));
			g.nesc = g.nfinite = 0;
			g.maxerr = 0;
			g.cls = malloc(n + 1);
			g.res = malloc(2 * n + 2);
			assert_non_null(g.cls);
			assert_non_null(g.res);
			gmm_pass_a_from(GAUSS_DTYPE_F32, &g, 0);
			assert_same_pass_a(&g, &ref);
			free(g.cls);
			free(g.res);
		}
		free(ref.cls);
		free(ref.res);
		free(src);
	}
	print_message("pass A: %d level runs against the scalar twin\n",
		      levels);
}

static void
test_recon_twins(void **state)
{
	uint64_t seed = 31;
	double mu[GMM_MAX_K];

	(void)state;
	for (int trial = 0; trial < 300; trial++) {
		const unsigned nk = 1 + (unsigned)(test_rand(&seed) %
						   (trial % 4 ? 16 : GMM_MAX_K));
		const size_t n = trial < 70 ? (size_t)trial :
				 (size_t)(test_rand(&seed) % 3000);
		const double scale = trial % 5 == 0 ? 1 :
				     (double)(1 + test_rand(&seed) % 100000);
		uint8_t *cls = malloc(n + 1), *ref = malloc(4 * n + 4);
		int32_t *res = malloc(4 * n + 4);

		assert_non_null(cls);
		assert_non_null(res);
		assert_non_null(ref);
		for (unsigned j = 0; j < nk; j++) {
			switch (test_rand(&seed) % 6) {
			case 0:
				mu[j] = 3e38 * (test_rand(&seed) & 1 ? 1 : -1);
				break;
			case 1:
				mu[j] = 1e300;	/* overflows to infinity */
				break;
			case 2:
				mu[j] = ldexp(normal(&seed), -140);
				break;
			default:
				mu[j] = normal(&seed) * 0.1;
			}
		}
		for (size_t i = 0; i < n; i++) {
			cls[i] = (uint8_t)(test_rand(&seed) % nk);
			res[i] = (int32_t)(test_rand(&seed) % 65535) - 32767;
		}
		gmm_ops_scalar.recon_f32(mu, scale, cls, res, n, ref);
		for (int l = 1; l < CPU_LEVEL_COUNT; l++) {
			const struct rans_kernels *kl =
				rans_kernels_of((enum cpu_level)l);
			uint8_t *out;

			if (kl == NULL)
				continue;
			out = malloc(4 * n + 4);
			assert_non_null(out);
			kl->gmm->recon_f32(mu, scale, cls, res, n, out);
			assert_memory_equal(out, ref, 4 * n);
			free(out);
		}
		/* the generic code too */
		{
			uint8_t *out = malloc(4 * n + 4);

			assert_non_null(out);
			gmm_recon(GAUSS_DTYPE_F32, mu, scale, cls, res, n, out);
			assert_memory_equal(out, ref, 4 * n);
			free(out);
		}
		free(cls);
		free(res);
		free(ref);
	}
}

static void
assert_same_check(const struct gmm_check *a, const struct gmm_check *b)
{
	assert_int_equal(a->first, b->first);
	if (a->first < SIZE_MAX)
		return;	/* sums are only defined for a shard that passes */
	assert_int_equal(a->finite, b->finite);
	assert_memory_equal(&a->maxerr, &b->maxerr, sizeof(double));
	assert_memory_equal(a->sumerr2, b->sumerr2, sizeof(a->sumerr2));
	assert_memory_equal(a->sum, b->sum, sizeof(a->sum));
	assert_memory_equal(a->sum2, b->sum2, sizeof(a->sum2));
}

static void
test_check_twins(void **state)
{
	uint64_t seed = 1234;
	int failing = 0;

	(void)state;
	for (int trial = 0; trial < 600; trial++) {
		const size_t n = trial < 60 ? (size_t)trial :
				 (size_t)(test_rand(&seed) % 4000);
		const double bound = trial % 7 == 0 ? -1.0 : 0.0005;
		/* one in three shards has a single bad element somewhere */
		const size_t bad = trial % 3 == 0 && n ?
				   (size_t)(test_rand(&seed) % n) : SIZE_MAX;
		uint8_t *orig = malloc(4 * n + 4), *dec = malloc(4 * n + 4);
		struct gmm_check ref, c;

		assert_non_null(orig);
		assert_non_null(dec);
		for (size_t i = 0; i < n; i++) {
			const unsigned what = (unsigned)(test_rand(&seed) % 50);
			float x = (float)(0.05 * normal(&seed)), y = x;

			if (what == 0)
				x = y = NAN;
			else if (what == 1)
				x = y = -INFINITY;
			else if (what == 2)
				x = y = -0.0f;
			else if (bound > 0)
				y = (float)(x + 0.0009 * (uniform01(&seed) -
							  0.5));
			if (i == bad) {
				if (!isfinite(x))
					y = 1.0f;
				else
					y = bound > 0 ? x + 0.001f :
					    nextafterf(x, INFINITY);
			}
			put_le32(orig + 4 * i, bits_of(x));
			put_le32(dec + 4 * i, bits_of(y));
		}
		memset(&ref, 0, sizeof(ref));
		gmm_ops_scalar.check_f32(orig, dec, n, bound, &ref);
		if (bad != SIZE_MAX) {
			assert_int_equal(ref.first, bad);
			failing++;
		}
		if (ref.first == n)
			ref.first = SIZE_MAX;
		for (int l = 1; l < CPU_LEVEL_COUNT; l++) {
			const struct rans_kernels *kl =
				rans_kernels_of((enum cpu_level)l);

			if (kl == NULL)
				continue;
			memset(&c, 0, sizeof(c));
			kl->gmm->check_f32(orig, dec, n, bound, &c);
			if (c.first == n)
				c.first = SIZE_MAX;
			assert_same_check(&c, &ref);
		}
		free(orig);
		free(dec);
	}
	assert_true(failing > 100);
}

/* Each value's symbol from its cluster's stream, in order. */
static void
test_take_syms_twins(void **state)
{
	uint64_t seed = 4242;

	(void)state;
	for (int trial = 0; trial < 300; trial++) {
		const unsigned k = 1 + (unsigned)(test_rand(&seed) %
						  (trial % 5 ? 16 : 40));
		const size_t n = trial < 140 ? (size_t)trial :
				 (size_t)(test_rand(&seed) % 6000);
		uint8_t *cls = malloc(n + 1), *streams = malloc(n + 1);
		uint8_t *ref = malloc(n + 1);
		const uint8_t *rp0[64], *rp[64];
		size_t cnt[64] = { 0 }, off = 0;

		assert_non_null(cls);
		assert_non_null(streams);
		assert_non_null(ref);
		for (size_t j = 0; j < n; j++) {
			/* runs of one cluster, as real shards have */
			cls[j] = j && test_rand(&seed) % 3 ? cls[j - 1] :
				 (uint8_t)(test_rand(&seed) % k);
			cnt[cls[j]]++;
		}
		for (size_t j = 0; j < n; j++)
			streams[j] = (uint8_t)test_rand(&seed);
		for (unsigned q = 0; q < k; q++) {
			rp0[q] = streams + off;
			off += cnt[q];
		}
		memcpy(rp, rp0, sizeof(rp));
		gmm_ops_scalar.take_syms(cls, n, rp, k, ref);
		for (unsigned q = 0; q < k; q++)
			assert_ptr_equal(rp[q], rp0[q] + cnt[q]);
		for (int l = 1; l < CPU_LEVEL_COUNT; l++) {
			const struct rans_kernels *kl =
				rans_kernels_of((enum cpu_level)l);
			uint8_t *out;

			if (kl == NULL)
				continue;
			out = malloc(n + 1);
			assert_non_null(out);
			memcpy(rp, rp0, sizeof(rp));
			kl->gmm->take_syms(cls, n, rp, k, out);
			assert_memory_equal(out, ref, n);
			for (unsigned q = 0; q < k; q++)
				assert_ptr_equal(rp[q], rp0[q] + cnt[q]);
			free(out);
		}
		free(cls);
		free(streams);
		free(ref);
	}
}

/* Appends nbits (<= 32) of v to bits at *pos, LSB first. */
static void
put_bits(uint8_t *bits, uint64_t *pos, uint32_t v, unsigned nbits)
{
	for (unsigned b = 0; b < nbits; b++, (*pos)++)
		if (v >> b & 1)
			bits[*pos >> 3] |= (uint8_t)(1u << (*pos & 7));
}

/*
 * Residuals from symbols and raw bits: every level gives the scalar
 * twin's values, bit position and verdict (an r out of range included),
 * up to the last byte of the bits.
 */
static void
test_residuals_twins(void **state)
{
	uint64_t seed = 99;
	int failing = 0;

	(void)state;
	for (int trial = 0; trial < 400; trial++) {
		const unsigned k = 1 + (unsigned)(test_rand(&seed) %
						  (trial % 6 ? 16 : 30));
		const size_t n = trial < 100 ? (size_t)trial :
				 (size_t)(test_rand(&seed) % 5000);
		const bool wild = trial % 4 == 0;
		uint8_t shift[GMM_MAX_K], *cls = malloc(n + 1);
		uint8_t *syms = malloc(n + 1), *bits = calloc(4 * n + 8, 1);
		int32_t *ref = malloc(4 * n + 4), *out = malloc(4 * n + 4);
		uint64_t nbits = 0, start = test_rand(&seed) % 8, refpos;
		int32_t bad_ref = 0, bad;
		bool ok_ref;

		assert_non_null(cls);
		assert_non_null(syms);
		assert_non_null(bits);
		assert_non_null(ref);
		assert_non_null(out);
		for (unsigned q = 0; q < k; q++)
			shift[q] = (uint8_t)(wild ? test_rand(&seed) % 16 :
					     test_rand(&seed) % 4);
		nbits = start;
		for (size_t j = 0; j < n; j++) {
			const unsigned u = (unsigned)(test_rand(&seed) % 100);
			unsigned sym, e;

			cls[j] = (uint8_t)(test_rand(&seed) % k);
			if (u < 90)
				sym = 111 + (unsigned)(test_rand(&seed) % 21) - 10;
			else if (u < 95)
				sym = (unsigned)(test_rand(&seed) % 223);
			else if (wild)
				sym = 223 + (unsigned)(test_rand(&seed) % 30);
			else	/* tails of both signs, r in range */
				sym = (test_rand(&seed) & 1 ? 223 : 238) +
				      (unsigned)(test_rand(&seed) % 5);
			e = sym <= 222 ? 0 : sym < 238 ? sym - 223 : sym - 238;
			syms[j] = (uint8_t)sym;
			put_bits(bits, &nbits, (uint32_t)test_rand(&seed) &
				 ((1u << (e + shift[cls[j]])) - 1),
				 e + shift[cls[j]]);
		}
		memset(ref, 0x5a, 4 * n + 4);
		memset(out, 0x5a, 4 * n + 4);
		refpos = start;
		ok_ref = gmm_ops_scalar.residuals(cls, syms, n, shift, k, bits,
						  (nbits + 7) / 8, &refpos, ref,
						  &bad_ref);
		if (ok_ref)
			assert_int_equal(refpos, nbits);
		else
			failing++;
		for (int l = 1; l < CPU_LEVEL_COUNT; l++) {
			const struct rans_kernels *kl =
				rans_kernels_of((enum cpu_level)l);
			uint64_t pos = start;

			if (kl == NULL)
				continue;
			memset(out, 0x5a, 4 * n + 4);
			bad = 0;
			assert_true(kl->gmm->residuals(cls, syms, n, shift, k,
						       bits, (nbits + 7) / 8,
						       &pos, out, &bad) ==
				    ok_ref);
			assert_memory_equal(out, ref, 4 * n);
			if (ok_ref)
				assert_int_equal(pos, refpos);
			else
				assert_int_equal(bad, bad_ref);
		}
		free(cls);
		free(syms);
		free(bits);
		free(ref);
		free(out);
	}
	assert_true(failing > 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_match_pieces),
		cmocka_unit_test(test_pass_a_twins),
		cmocka_unit_test(test_recon_twins),
		cmocka_unit_test(test_check_twins),
		cmocka_unit_test(test_take_syms_twins),
		cmocka_unit_test(test_residuals_twins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
