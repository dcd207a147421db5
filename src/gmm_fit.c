/* SPDX-License-Identifier: MIT */
/*
 * gmm_fit.c: the fit of the lossy codec: deterministic log/exp/erfc, value
 * conversions, the seeded subsample, the MAP decision regions and hard EM.
 *
 * Determinism. Every result here is a fixed sequence of IEEE-754 binary64
 * additions, multiplications, divisions and square roots (all correctly
 * rounded, so equal on every machine under -ffp-contract=off), plus exact
 * operations (comparisons, scaling by powers of two). log and exp are ours
 * (series after an exact range reduction) because C libraries differ in
 * the last bit of theirs, and one flipped bit in a threshold could move a
 * value to another cluster and change the payload.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gmm_internal.h"
#include "common.h"
#include "endian.h"
#include "banned.h"

/* ---- deterministic elementary functions ---- */

static const double ln2_hi = 6.93147180369123816490e-01;	/* 0x3fe62e42fee00000 */
static const double ln2_lo = 1.90821492927058770002e-10;	/* 0x3dea39ef35793c76 */

double
gmm_log(double x)
{
	/* x = m 2^e, m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s) */
	int e;
	double m = frexp(x, &e), s, z, p;

	if (m < 0.70710678118654752440) {
		m *= 2;
		e--;
	}
	s = (m - 1) / (m + 1);		/* |s| < 0.1716 */
	z = s * s;
	/* sum of z^i / (2i + 1), i = 0..10: the tail is below 2^-60 */
	p = 1.0 / 21;
	p = p * z + 1.0 / 19;
	p = p * z + 1.0 / 17;
	p = p * z + 1.0 / 15;
	p = p * z + 1.0 / 13;
	p = p * z + 1.0 / 11;
	p = p * z + 1.0 / 9;
	p = p * z + 1.0 / 7;
	p = p * z + 1.0 / 5;
	p = p * z + 1.0 / 3;
	p = p * z;
	return e * ln2_hi + (e * ln2_lo + (2 * s + 2 * s * p));
}

double
gmm_exp(double x)
{
	/* x = n ln2 + r, |r| <= ln2 / 2; exp r by its Taylor series */
	double n, r, p;

	if (x < -745.2)
		return 0;
	n = floor(x * 1.44269504088896338700 + 0.5);
	r = (x - n * ln2_hi) - n * ln2_lo;
	p = 1.0 / 6227020800.0;			/* 1/13! */
	p = p * r + 1.0 / 479001600.0;
	p = p * r + 1.0 / 39916800.0;
	p = p * r + 1.0 / 3628800.0;
	p = p * r + 1.0 / 362880.0;
	p = p * r + 1.0 / 40320.0;
	p = p * r + 1.0 / 5040.0;
	p = p * r + 1.0 / 720.0;
	p = p * r + 1.0 / 120.0;
	p = p * r + 1.0 / 24.0;
	p = p * r + 1.0 / 6.0;
	p = p * r + 0.5;
	p = p * r + 1.0;
	p = p * r + 1.0;
	return ldexp(p, (int)n);
}

double
gmm_erfc(double x)
{
	/* Abramowitz and Stegun 7.1.26 */
	const double t = 1 / (1 + 0.3275911 * x);
	double p = 1.061405429;

	p = p * t - 1.453152027;
	p = p * t + 1.421413741;
	p = p * t - 0.284496736;
	p = p * t + 0.254829592;
	return p * t * gmm_exp(-(x * x));
}

/* ---- scratch ---- */

struct gmm_scratch *
gmm_scratch_new(void)
{
	return calloc(1, sizeof(struct gmm_scratch));
}

void
gmm_scratch_free(struct gmm_scratch *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < SLOT_COUNT; i++)
		free(s->p[i]);
	free(s);
}

void *
gmm_scratch_get(struct gmm_scratch *s, enum gmm_slot slot, size_t nbytes)
{
	nbytes = (MAX(nbytes, 1) + 63) & ~(size_t)63;
	if (s->cap[slot] < nbytes) {
		/* grow by half again, so a run of growing shards is cheap */
		const size_t cap = MAX(nbytes, s->cap[slot] / 2 * 3 / 64 * 64);

		free(s->p[slot]);
		s->p[slot] = aligned_alloc(64, cap);
		s->cap[slot] = s->p[slot] ? cap : 0;
	}
	return s->p[slot];
}

/* ---- values ---- */

unsigned
gmm_elem_nbytes(enum gauss_dtype dtype)
{
	switch (dtype) {
	case GAUSS_DTYPE_F32:
		return 4;
	case GAUSS_DTYPE_F16:
	case GAUSS_DTYPE_BF16:
		return 2;
	default:
		return 0;
	}
}

static float
f32_of_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static uint32_t
bits_of_f32(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/*
 * v rounded to a binary format of p significant bits and exponents
 * emin..emax (nearest, ties to even): scale by the ulp, which is exact,
 * round to an integer, scale back.
 */
static double
round_to_format(double v, int p, int emin, int emax)
{
	const double a = fabs(v);
	double ulp, y;
	int e;

	if (!(a < ldexp(1.0, emax + 1)))
		return isnan(v) ? v : copysign(INFINITY, v);
	if (a < ldexp(1.0, emin)) {
		ulp = ldexp(1.0, emin - p + 1);
	} else {
		(void)frexp(a, &e);		/* a in [2^(e-1), 2^e) */
		ulp = ldexp(1.0, e - p);
	}
	y = gmm_rne(a / ulp) * ulp;
	if (!(y < ldexp(1.0, emax + 1)))
		y = INFINITY;
	return copysign(y, v);
}

uint32_t
gmm_round(enum gauss_dtype dtype, double v, double *y_ret)
{
	double y;

	switch (dtype) {
	case GAUSS_DTYPE_F32:
		y = round_to_format(v, 24, -126, 127);
		*y_ret = y;
		return bits_of_f32((float)y);
	case GAUSS_DTYPE_BF16:
		y = round_to_format(v, 8, -126, 127);
		*y_ret = y;
		return bits_of_f32((float)y) >> 16;
	default: {
		uint32_t h;
		double a;

		y = round_to_format(v, 11, -14, 15);
		*y_ret = y;
		a = fabs(y);
		if (isnan(y))
			h = 0x7e00;
		else if (isinf(y))
			h = 0x7c00;
		else if (a < ldexp(1.0, -14))
			h = (uint32_t)ldexp(a, 24);	/* exact subnormal */
		else {
			int e;
			const double m = frexp(a, &e);	/* [0.5, 1) */

			h = (uint32_t)(e + 14) << 10 |
			    ((uint32_t)ldexp(m, 11) & 0x3ff);
		}
		return h | (signbit(y) ? 0x8000u : 0);
	}
	}
}

/* ---- the seeded subsample ---- */

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Order-preserving unsigned key of a float. */
static uint32_t
float_key(float f)
{
	const uint32_t u = bits_of_f32(f);

	return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

static float
key_float(uint32_t k)
{
	return f32_of_bits((k & 0x80000000u) ? k & 0x7fffffffu : ~k);
}

/*
 * LSD radix sort of n keys, 11 + 11 + 10 bits, between keys and tmp (n
 * entries each). One read counts all three digits, and a digit every key
 * shares is skipped. Each pass takes the keys as four quarters stepped in
 * turn, each with its own counts and offsets, so that runs of one digit
 * (common in weights) make four independent chains of increments, not
 * one; within a digit quarter 0 goes first, so the sort is stable as a
 * plain LSD sort. Returns the buffer that holds the sorted keys, or NULL
 * when there is no memory for the counts.
 */
static uint32_t *
radix_sort(uint32_t *keys, uint32_t *tmp, size_t n)
{
	static const unsigned shift[3] = { 0, 11, 22 };
	uint32_t (*all)[2048] = calloc(3 + 4, sizeof(*all));
	uint32_t (*off)[2048] = all + 3;
	size_t q0[5];

	if (all == NULL || n > UINT32_MAX) {
		free(all);
		return NULL;
	}
	for (unsigned q = 0; q < 4; q++)
		q0[q] = n / 4 * q;
	q0[4] = n;		/* the last quarter takes the rest */
	for (size_t i = 0; i < n; i++) {
		const uint32_t k = keys[i];

		all[0][k & 2047]++;
		all[1][(k >> 11) & 2047]++;
		all[2][k >> 22]++;
	}
	for (unsigned pass = 0; pass < 3; pass++) {
		const unsigned sh = shift[pass];
		const size_t len = n / 4;
		uint32_t sum = 0, *t;

		if (n == 0 || all[pass][(keys[0] >> sh) & 2047] == n)
			continue;	/* every key has this digit */
		memset(off, 0, 4 * sizeof(*off));
		for (size_t i = 0; i < len; i++) {
			off[0][(keys[i] >> sh) & 2047]++;
			off[1][(keys[q0[1] + i] >> sh) & 2047]++;
			off[2][(keys[q0[2] + i] >> sh) & 2047]++;
			off[3][(keys[q0[3] + i] >> sh) & 2047]++;
		}
		for (size_t i = q0[3] + len; i < n; i++)
			off[3][(keys[i] >> sh) & 2047]++;
		for (unsigned b = 0; b < 2048; b++) {
			for (unsigned q = 0; q < 4; q++) {
				const uint32_t v = off[q][b];

				off[q][b] = sum;
				sum += v;
			}
		}
		for (size_t i = 0; i < len; i++) {
			const uint32_t k0 = keys[i], k1 = keys[q0[1] + i];
			const uint32_t k2 = keys[q0[2] + i], k3 = keys[q0[3] + i];

			tmp[off[0][(k0 >> sh) & 2047]++] = k0;
			tmp[off[1][(k1 >> sh) & 2047]++] = k1;
			tmp[off[2][(k2 >> sh) & 2047]++] = k2;
			tmp[off[3][(k3 >> sh) & 2047]++] = k3;
		}
		for (size_t i = q0[3] + len; i < n; i++)
			tmp[off[3][(keys[i] >> sh) & 2047]++] = keys[i];
		t = keys;
		keys = tmp;
		tmp = t;
	}
	free(all);
	return keys;
}

enum gauss_status
gmm_fit(enum gauss_dtype dtype, const uint8_t *src, size_t count,
	const struct gmm_options *opt, struct gmm_model *m,
	struct gmm_scratch *scratch)
{
	const size_t want = MIN(count, opt->fit_samples);
	struct gmm_scratch *own = scratch ? NULL : gmm_scratch_new();
	struct gmm_scratch *sc = scratch ? scratch : own;
	uint32_t *keys, *tmp;
	double *xs;
	size_t n = 0;
	enum gauss_status st = GAUSS_E_NOMEM;

	if (sc == NULL)
		return st;
	keys = gmm_scratch_get(sc, SLOT_KEYS, want * sizeof(*keys));
	tmp = gmm_scratch_get(sc, SLOT_TMP, want * sizeof(*tmp));
	if (keys == NULL || tmp == NULL)
		goto out;
	if (want == count) {
		for (size_t i = 0; i < count; i++) {
			const double x = gmm_load(dtype, src, i);

			if (isfinite(x))
				keys[n++] = float_key((float)x);
		}
	} else {
		/*
		 * Stratified: the shard is cut into want ranges of floor(s *
		 * count / want) .. floor((s + 1) * count / want) - 1 (the ends
		 * stepped exactly, Bresenham's way), and one position drawn
		 * uniformly in each (a 64-bit draw times the range's size, the
		 * high half). A value is drawn with probability 1 / (its
		 * range's size), want / count on average; the sample spreads
		 * over the whole shard, and the values are read in order.
		 */
		__extension__ typedef unsigned __int128 u128;
		uint64_t state, seed = opt->seed, lo = 0, acc = 0;
		const uint64_t q = count / want, r = count % want;

		state = splitmix64(&seed);
		seed = opt->shard_id ^ 0x9e3779b97f4a7c15ull;
		state ^= splitmix64(&seed);
		for (size_t s = 0; s < want; s++) {
			uint64_t size = q, i;
			double x;

			acc += r;
			if (acc >= want) {
				acc -= want;
				size++;
			}
			i = lo + (uint64_t)(((u128)splitmix64(&state) * size) >>
					    64);
			lo += size;
			x = gmm_load(dtype, src, i);
			if (isfinite(x))
				keys[n++] = float_key((float)x);
		}
	}
	keys = radix_sort(keys, tmp, n);
	xs = gmm_scratch_get(sc, SLOT_XS, n * sizeof(*xs));
	if (keys == NULL)
		goto out;
	if (xs == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		xs[i] = key_float(keys[i]);
	st = gmm_fit_sorted(xs, n, opt->k, opt->max_iter, m, sc);
out:
	gmm_scratch_free(own);
	return st;
}

/* ---- double-double sums (Dekker, Knuth; no FMA) ---- */

struct dd {
	double hi, lo;
};

static struct dd
two_sum(double a, double b)
{
	const double s = a + b, bb = s - a;

	return (struct dd){ s, (a - (s - bb)) + (b - bb) };
}

static struct dd
fast_two_sum(double a, double b)
{
	const double s = a + b;

	return (struct dd){ s, b - (s - a) };
}

static struct dd
two_prod(double a, double b)
{
	const double c = 134217729.0;	/* 2^27 + 1 */
	const double p = a * b;
	const double ca = c * a, cb = c * b;
	const double ah = ca - (ca - a), al = a - ah;
	const double bh = cb - (cb - b), bl = b - bh;

	return (struct dd){ p, ((ah * bh - p) + ah * bl + al * bh) + al * bl };
}

static struct dd
dd_add(struct dd a, struct dd b)
{
	struct dd s = two_sum(a.hi, b.hi);

	return fast_two_sum(s.hi, s.lo + (a.lo + b.lo));
}

static struct dd
dd_neg(struct dd a)
{
	return (struct dd){ -a.hi, -a.lo };
}

static struct dd
dd_mul_d(struct dd a, double b)
{
	const struct dd p = two_prod(a.hi, b);

	return fast_two_sum(p.hi, p.lo + a.lo * b);
}

/* ---- the MAP decision regions ---- */

/* Score of component k: a[k] - c[k] (x - mu[k])^2. */
struct scores {
	double a[GMM_MAX_K], c[GMM_MAX_K];
	const double *mu;
};

/*
 * The first x > x0 where component j overtakes cur (score_j - score_cur
 * turns positive), or +inf. In cur's coordinates y = x - mu[cur], with
 * delta = mu[j] - mu[cur], the difference is A y^2 + B y + C.
 */
static double
overtake(const struct scores *s, unsigned cur, unsigned j, double x0)
{
	const double A = s->c[cur] - s->c[j];
	const double delta = s->mu[j] - s->mu[cur];
	const double B = 2 * s->c[j] * delta;
	const double C = (s->a[j] - s->a[cur]) - s->c[j] * delta * delta;
	double y, x;

	if (A == 0) {
		if (!(B > 0))
			return INFINITY;
		y = -C / B;
	} else {
		const double disc = B * B - 4 * A * C;
		double sq, q, r1, r2;

		if (!(disc > 0))
			return INFINITY;
		sq = sqrt(disc);
		q = -0.5 * (B + (B >= 0 ? sq : -sq));
		r1 = q / A;
		r2 = C / q;
		/* j wider (A > 0): ahead beyond the larger root */
		y = (A > 0) == (r1 > r2) ? r1 : r2;
	}
	x = s->mu[cur] + y;
	return x > x0 && x < INFINITY ? x : INFINITY;
}

void
gmm_pieces_build(const struct gmm_model *m, struct gmm_pieces *p)
{
	struct scores s;
	unsigned cur = 0, np = 1;
	double x0 = -INFINITY;

	s.mu = m->mu;
	for (unsigned k = 0; k < m->k; k++) {
		const double inv = 1 / (m->sigma[k] + 1e-10);

		s.a[k] = gmm_log(m->pi[k] + 1e-300) -
			 gmm_log(m->sigma[k] + 1e-10);
		s.c[k] = 0.5 * inv * inv;
	}
	/* at -inf: the widest wins, then the leftmost, the likeliest, lowest k */
	for (unsigned k = 1; k < m->k; k++) {
		if (s.c[k] != s.c[cur] ? s.c[k] < s.c[cur] :
		    m->mu[k] != m->mu[cur] ? m->mu[k] < m->mu[cur] :
		    s.a[k] > s.a[cur])
			cur = k;
	}
	p->w[0] = (uint8_t)cur;
	while (np < GMM_MAX_PIECES && np < 4 * m->k + 4) {
		double best = INFINITY, bestd = 0;
		unsigned bj = cur;

		for (unsigned j = 0; j < m->k; j++) {
			double t, d;

			if (j == cur)
				continue;
			t = overtake(&s, cur, j, x0);
			if (t > best)
				continue;
			d = -2 * s.c[j] * (t - m->mu[j]);
			if (t < best || d > bestd) {
				best = t;
				bestd = d;
				bj = j;
			}
		}
		if (best == INFINITY)
			break;
		p->thr[np - 1] = best;
		p->w[np] = (uint8_t)bj;
		np++;
		x0 = best;
		cur = bj;
	}
	p->count = np;
	p->pow2 = 1;
	while (p->pow2 < np - 1)
		p->pow2 *= 2;
	for (unsigned i = np - 1; i < p->pow2; i++)
		p->thr[i] = INFINITY;
}

/* ---- hard EM ---- */

/* First index of sorted xs[0, n) with xs[i] >= t. */
static size_t
lower_bound(const double *xs, size_t n, double t)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		const size_t mid = lo + (hi - lo) / 2;

		if (xs[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* An assignment of the sorted sample: piece j is [start[j], start[j+1]). */
struct runs {
	unsigned count;
	size_t start[GMM_MAX_PIECES + 1];
	uint8_t w[GMM_MAX_PIECES];
};

static void
runs_of(const struct gmm_pieces *p, const double *xs, size_t n,
	struct runs *r)
{
	r->count = p->count;
	r->start[0] = 0;
	for (unsigned j = 0; j < p->count; j++) {
		r->w[j] = p->w[j];
		r->start[j + 1] = j + 1 < p->count ?
				  lower_bound(xs, n, p->thr[j]) : n;
	}
}

/* How many sample values a and b assign differently. */
static size_t
runs_changed(const struct runs *a, const struct runs *b)
{
	size_t changed = 0, pos = 0;
	unsigned i = 0, j = 0;

	while (i < a->count && j < b->count) {
		const size_t end = MIN(a->start[i + 1], b->start[j + 1]);

		if (end > pos && a->w[i] != b->w[j])
			changed += end - pos;
		pos = MAX(pos, end);
		if (a->start[i + 1] == end)
			i++;
		if (b->start[j + 1] == end)
			j++;
	}
	return changed;
}

/* numpy.percentile(xs, q) with the linear method, for sorted xs. */
static double
percentile(const double *xs, size_t n, double q)
{
	const double vi = (double)(n - 1) * (q / 100);
	const double f = floor(vi);
	size_t prev, next;
	double a, b, g, d;

	if (vi >= (double)(n - 1)) {
		prev = next = n - 1;
	} else {
		prev = (size_t)f;
		next = prev + 1;
	}
	g = vi - f;
	a = xs[prev];
	b = xs[next];
	d = b - a;
	return g >= 0.5 ? b - d * (1 - g) : a + d * g;
}

enum gauss_status
gmm_fit_sorted(const double *xs, size_t n, unsigned k, unsigned max_iter,
	       struct gmm_model *m, struct gmm_scratch *scratch)
{
	struct gmm_scratch *own = scratch ? NULL : gmm_scratch_new();
	struct gmm_scratch *sc = scratch ? scratch : own;
	struct dd *p1 = NULL, *p2 = NULL;
	struct gmm_pieces *pc = malloc(sizeof(*pc));
	struct runs *cur = malloc(sizeof(*cur)), *prev = malloc(sizeof(*prev));
	enum gauss_status st = GAUSS_E_NOMEM;
	bool have_prev = false;
	double mean = 0, var = 0, sd;

	memset(m, 0, sizeof(*m));
	m->k = k;
	m->fit_count = n;
	if (pc == NULL || cur == NULL || prev == NULL || sc == NULL)
		goto out;
	if (n == 0) {
		for (unsigned j = 0; j < k; j++) {
			m->sigma[j] = 1e-6;
			m->pi[j] = 1.0 / k;
		}
		st = GAUSS_OK;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		mean += xs[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		var += (xs[i] - mean) * (xs[i] - mean);
	sd = sqrt(var / (double)n);
	m->fit_mean = mean;
	/* numpy.linspace(5, 95, k): i * step + 5, the last exactly 95 */
	for (unsigned j = 0; j < k; j++) {
		const double q = k == 1 ? 5.0 : j == k - 1 ? 95.0 :
				 (double)j * (90.0 / (double)(k - 1)) + 5.0;

		m->mu[j] = percentile(xs, n, q);
		m->sigma[j] = MAX(sd / k, 1e-6);
		m->pi[j] = 1.0 / k;
	}
	/* prefix sums of x and x^2 (exact squares: x is a float) */
	p1 = gmm_scratch_get(sc, SLOT_P1, (n + 1) * sizeof(*p1));
	p2 = gmm_scratch_get(sc, SLOT_P2, (n + 1) * sizeof(*p2));
	if (p1 == NULL || p2 == NULL)
		goto out;
	{
		struct dd a1 = { 0, 0 }, a2 = { 0, 0 };	/* in registers */

		p1[0] = p2[0] = a1;
		for (size_t i = 0; i < n; i++) {
			struct dd s = two_sum(a1.hi, xs[i]);

			a1 = fast_two_sum(s.hi, s.lo + a1.lo);
			s = two_sum(a2.hi, xs[i] * xs[i]);
			a2 = fast_two_sum(s.hi, s.lo + a2.lo);
			p1[i + 1] = a1;
			p2[i + 1] = a2;
		}
	}
	m->iterations = max_iter;
	for (unsigned it = 0; it < max_iter; it++) {
		size_t cnt[GMM_MAX_K] = { 0 };
		struct dd s1[GMM_MAX_K], s2[GMM_MAX_K];
		struct runs *t;

		gmm_pieces_build(m, pc);
		runs_of(pc, xs, n, cur);
		if (have_prev &&
		    (double)runs_changed(cur, prev) / (double)n < 0.001) {
			m->iterations = it + 1;
			break;
		}
		for (unsigned j = 0; j < k; j++)
			s1[j] = s2[j] = (struct dd){ 0, 0 };
		for (unsigned j = 0; j < cur->count; j++) {
			const size_t a = cur->start[j], b = cur->start[j + 1];
			const unsigned w = cur->w[j];

			if (b == a)
				continue;
			cnt[w] += b - a;
			s1[w] = dd_add(s1[w], dd_add(p1[b], dd_neg(p1[a])));
			s2[w] = dd_add(s2[w], dd_add(p2[b], dd_neg(p2[a])));
		}
		for (unsigned j = 0; j < k; j++) {
			const double nk = (double)cnt[j];
			double mu, v;
			struct dd u, ss;

			m->pi[j] = nk / (double)n;
			if (cnt[j] == 0)
				continue;
			/* sum (x - mu)^2 = S2 - mu S1 - mu (S1 - n mu) */
			mu = s1[j].hi / nk;
			u = dd_add(s1[j], dd_neg(two_prod(nk, mu)));
			ss = dd_add(s2[j], dd_neg(dd_mul_d(s1[j], mu)));
			ss = dd_add(ss, dd_neg(dd_mul_d(u, mu)));
			v = ss.hi / nk;
			m->mu[j] = mu;
			m->sigma[j] = MAX(sqrt(v > 0 ? v : 0), 1e-6);
		}
		t = prev;
		prev = cur;
		cur = t;
		have_prev = true;
	}
	st = GAUSS_OK;
out:
	gmm_scratch_free(own);
	free(pc);
	free(cur);
	free(prev);
	return st;
}
