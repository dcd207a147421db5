/* SPDX-License-Identifier: MIT */
/*
 * gmm.c: the lossy codec of one shard: quantisation, escapes, the bucket
 * split of residuals, table choice, the payload (gmm.h) and its decoder.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gmm_internal.h"
#include "common.h"
#include "cpu.h"
#include "endian.h"
#include "rans.h"
#include "varint.h"
#include "banned.h"

#define NSYM_USED	253	/* bucket symbols 0..252 */

enum table_kind { TABLE_NONE = 0, TABLE_GAUSS = 1, TABLE_EMPIRICAL = 2 };

void
gmm_options_default(struct gmm_options *o)
{
	memset(o, 0, sizeof(*o));
	o->k = GMM_DEFAULT_K;
	o->max_iter = GMM_DEFAULT_MAX_ITER;
	o->fit_samples = GMM_DEFAULT_FIT_SAMPLES;
}

uint32_t
gmm_scale_for(enum gauss_dtype dtype, double max_error)
{
	double s;

	if (max_error == 0)
		return dtype == GAUSS_DTYPE_BF16 ? 128 : 1000;
	if (!(max_error > 0) || !isfinite(max_error))
		return 0;
	s = ceil(1 / (2 * max_error));
	/* 1/(2S) must not exceed E after rounding: step up if it does */
	while (s <= GMM_MAX_SCALE && 1 / (2 * s) > max_error)
		s++;
	return s >= 1 && s <= GMM_MAX_SCALE ? (uint32_t)s : 0;
}

size_t
gmm_encode_bound(enum gauss_dtype dtype, size_t count, unsigned k)
{
	/* header and tables, per-stream slack, then the worst value: escaped */
	return 64 + (size_t)k * 25 +
	       ((size_t)k + 1) * (RANS_TABLE_MAX_NBYTES + 2 * VARINT_MAX_LEN +
				  4 * RANS_MAX_LANES + 16) +
	       count * (gmm_elem_nbytes(dtype) + VARINT_MAX_LEN);
}

/*
 * gmm_round() with the common case inline: a double within float's range
 * converts to float with one IEEE rounding (nearest, ties to even).
 */
static inline uint32_t
round_to(enum gauss_dtype dtype, double v, double *y_ret)
{
	if (dtype == GAUSS_DTYPE_F32 && fabs(v) <= FLT_MAX) {
		const float f = (float)v;
		uint32_t u;

		memcpy(&u, &f, 4);
		*y_ret = f;
		return u;
	}
	return gmm_round(dtype, v, y_ret);
}

/* floor(r / 2^s) without relying on >> of a negative number */
static inline int32_t
floor_shift(int32_t r, unsigned s)
{
	return r >= 0 ? r >> s : ~(~r >> s);
}

/* ---- keys of the thresholds ---- */

void
gmm_keys_build(const struct gmm_pieces *p, struct gmm_keys *k)
{
	int32_t prev = INT32_MIN;

	k->n = p->count - 1;
	k->pow2 = 1;
	while (k->pow2 < k->n)
		k->pow2 *= 2;
	for (unsigned j = 0; j < k->pow2; j++) {
		int32_t key = INT32_MAX;

		if (j < k->n && !isnan(p->thr[j])) {
			/* the smallest float not below thr[j] */
			float f = (float)p->thr[j];
			uint32_t u;

			if ((double)f < p->thr[j])
				f = nextafterf(f, INFINITY);
			memcpy(&u, &f, 4);
			key = f == 0 ? -1 : gmm_key(u);
		}
		key = key < prev ? prev : key;
		k->key[j] = key;
		prev = key;
	}
	memcpy(k->w, p->w, p->count);
}

/* ---- buckets ---- */

/* floor(log2(v)), v >= 1 */
static unsigned
ilog2(uint32_t v)
{
	return 31u - (unsigned)__builtin_clz(v);
}

/* Bucket symbol of q and its extra bits (count in *e_ret). */
static unsigned
bucket_of(int32_t q, uint32_t *extra_ret, unsigned *e_ret)
{
	uint32_t m;
	unsigned e;

	if (q >= -GMM_BUCKET_HALF && q <= GMM_BUCKET_HALF) {
		*e_ret = 0;
		*extra_ret = 0;
		return (unsigned)(q + GMM_BUCKET_HALF);
	}
	m = (uint32_t)(q > 0 ? q : -q) - (GMM_BUCKET_HALF + 1);
	e = ilog2(m + 1);
	*e_ret = e;
	*extra_ret = m + 1 - (1u << e);
	return (q > 0 ? 223 : 238) + e;
}

/* The range of q of bucket symbol sym (< 253). */
static void
bucket_range(unsigned sym, int32_t *lo_ret, int32_t *hi_ret)
{
	if (sym <= 2 * GMM_BUCKET_HALF) {
		*lo_ret = *hi_ret = (int32_t)sym - GMM_BUCKET_HALF;
	} else {
		const unsigned e = sym < 238 ? sym - 223 : sym - 238;
		const int32_t lo = GMM_BUCKET_HALF + 1 + (int32_t)(1u << e) - 1;
		const int32_t hi = lo + (int32_t)(1u << e) - 1;

		if (sym < 238) {
			*lo_ret = lo;
			*hi_ret = hi;
		} else {
			*lo_ret = -hi;
			*hi_ret = -lo;
		}
	}
}

/* ---- tables ---- */

/* Upper tail of N(0, sd) beyond x >= 0. */
static double
upper_tail(double x, double sd)
{
	return 0.5 * gmm_erfc(x / (sd * 1.41421356237309504880));
}

/* Mass of N(0, sd) on [lo, hi]. */
static double
gauss_mass(double lo, double hi, double sd)
{
	double p;

	if (lo >= 0)
		p = upper_tail(lo, sd) - upper_tail(hi, sd);
	else if (hi <= 0)
		p = upper_tail(-hi, sd) - upper_tail(-lo, sd);
	else
		p = 1 - upper_tail(-lo, sd) - upper_tail(hi, sd);
	return p > 0 ? (p < 1 ? p : 1) : 0;
}

/*
 * The quantised Gaussian of cluster k: bucket symbols of shift s under
 * N(0, sigma S) in units of r; a symbol of mass below 2^-40 is absent.
 * Walks outwards from q = 0 and stops where the mass vanishes.
 */
static void
gauss_table(double sigma, uint32_t scale, unsigned shift, struct rans_table *t)
{
	uint64_t counts[256] = { 0 };
	const double sd = sigma * (double)scale, w = (double)(1u << shift);

	for (int dir = -1; dir <= 1; dir += 2) {
		/* symbols from the centre outwards: 111 +- i, then tails */
		for (unsigned i = dir < 0 ? 0 : 1; i <= GMM_BUCKET_HALF + 15;
		     i++) {
			unsigned sym;
			int32_t qlo, qhi;
			double p;

			if (i <= GMM_BUCKET_HALF)
				sym = (unsigned)(GMM_BUCKET_HALF + dir * (int)i);
			else
				sym = (dir > 0 ? 223 : 238) +
				      (i - GMM_BUCKET_HALF - 1);
			bucket_range(sym, &qlo, &qhi);
			p = gauss_mass((double)qlo * w - 0.5,
				       ((double)qhi + 1) * w - 0.5, sd);
			counts[sym] = (uint64_t)(p * 1099511627776.0);
			if (counts[sym] == 0)
				break;
		}
	}
	if (counts[GMM_BUCKET_HALF] == 0 && counts[GMM_BUCKET_HALF + 1] == 0 &&
	    counts[GMM_BUCKET_HALF - 1] == 0)
		counts[GMM_BUCKET_HALF] = 1;	/* sigma S >> 2^s: a poor model */
	rans_table_normalize(counts, t);
}

/* Ideal size in bits of counts under t (our log: decisions are bytes). */
static double
table_cost(const struct rans_table *t, const uint64_t counts[256])
{
	double bits = 0;

	for (unsigned s = 0; s < 256; s++) {
		if (!counts[s])
			continue;
		if (!t->freq[s])
			return INFINITY;
		bits += (double)counts[s] *
			(RANS_SCALE_BITS - gmm_log((double)t->freq[s]) /
					   0.69314718055994530942);
	}
	return bits;
}

/* ---- raw bits, LSB first ---- */

struct bitw {
	uint8_t *p;
	uint64_t acc;
	unsigned n;
};

/* Appends nbits (<= 32) of v. */
static inline void
bitw_put(struct bitw *b, uint32_t v, unsigned nbits)
{
	b->acc |= (uint64_t)v << b->n;
	b->n += nbits;
	if (b->n >= 32) {
		put_le32(b->p, (uint32_t)b->acc);
		b->p += 4;
		b->acc >>= 32;
		b->n -= 32;
	}
}

static inline void
bitw_flush(struct bitw *b)
{
	while (b->n > 0) {
		*b->p++ = (uint8_t)b->acc;
		b->acc >>= 8;
		b->n = b->n > 8 ? b->n - 8 : 0;
	}
	b->acc = 0;
}

/*
 * 64 bits of [p, p + n) from bit pos on, LSB first (at least 57 valid);
 * bits past the end read as zeros.
 */
static inline __attribute__((always_inline)) uint64_t
peek_bits(const uint8_t *p, uint64_t n, uint64_t pos)
{
	const uint64_t b = pos >> 3;
	uint64_t w = 0;

	if (likely(n >= 8 && b <= n - 8))
		return get_le64(p + b) >> (pos & 7);
	for (unsigned k = 0; k < 8 && b + k < n; k++)
		w |= (uint64_t)p[b + k] << (8 * k);
	return w >> (pos & 7);
}

/* ---- encode ---- */

/* float bits of value i of src (exact for every dtype the codec takes) */
static inline __attribute__((always_inline)) uint32_t
float_bits(double x)
{
	const float f = (float)x;
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

/*
 * Pass A: the cluster, residual and escape test of every value, and the
 * error statistics; inlined once per dtype so the loads and roundings
 * are the dtype's own.
 */
static inline __attribute__((always_inline)) void
run_pass_a(enum gauss_dtype dtype, struct gmm_pass_a *a, size_t from)
{
	const struct gmm_model *m = a->m;
	const double sd = (double)a->scale, bound = 0.5 / sd, c0 = m->fit_mean;
	uint64_t nesc = 0, nfinite = 0;
	double maxerr = a->maxerr;

	for (size_t i = from; i < a->count; i++) {
		const double x = gmm_load(dtype, a->src, i);
		const unsigned l = i & 7;
		double t, r, y, err;
		unsigned c;

		a->cls[i] = GMM_ESCAPED;
		if (unlikely(!isfinite(x))) {
			nesc++;
			continue;
		}
		nfinite++;
		a->sumd[l] += x - c0;
		a->sumd2[l] += (x - c0) * (x - c0);
		c = gmm_keys_lookup(a->keys, gmm_key(float_bits(x)));
		t = (x - m->mu[c]) * sd;
		if (unlikely(!(fabs(t) < GMM_RESID_MAX + 1))) {
			nesc++;
			continue;
		}
		r = gmm_rne(t);
		(void)round_to(dtype, m->mu[c] + r / sd, &y);
		err = fabs(y - x);
		if (unlikely(fabs(r) > GMM_RESID_MAX || !(err <= bound))) {
			nesc++;
			continue;
		}
		a->cls[i] = (uint8_t)c;
		a->res[i] = (int16_t)r;
		maxerr = err > maxerr ? err : maxerr;
		a->sumerr2[l] += err * err;
	}
	a->nfinite += nfinite;
	a->nesc += nesc;
	a->maxerr = maxerr;
}

void
gmm_pass_a_from(enum gauss_dtype dtype, struct gmm_pass_a *a, size_t from)
{
	switch (dtype) {
	case GAUSS_DTYPE_F32:
		run_pass_a(GAUSS_DTYPE_F32, a, from);
		break;
	case GAUSS_DTYPE_BF16:
		run_pass_a(GAUSS_DTYPE_BF16, a, from);
		break;
	default:
		run_pass_a(GAUSS_DTYPE_F16, a, from);
		break;
	}
}

static inline __attribute__((always_inline)) void
run_check(enum gauss_dtype dtype, const uint8_t *orig, const uint8_t *dec,
	  size_t count, double bound, struct gmm_check *c, size_t from)
{
	const unsigned es = gmm_elem_nbytes(dtype);
	double maxerr = c->maxerr;
	uint64_t finite = 0;

	c->first = count;
	for (size_t i = from; i < count; i++) {
		const double x = gmm_load(dtype, orig, i);
		const double y = gmm_load(dtype, dec, i);
		const unsigned l = i & 7;
		double err;

		if (!isfinite(x)) {
			if (memcmp(orig + i * es, dec + i * es, es) != 0) {
				c->first = i;
				break;
			}
			continue;
		}
		err = fabs(y - x);
		if (!(err <= bound) && !(bound < 0 && err == 0)) {
			c->first = i;
			break;
		}
		maxerr = err > maxerr ? err : maxerr;
		c->sumerr2[l] += err * err;
		c->sum[l] += x;
		c->sum2[l] += x * x;
		finite++;
	}
	c->maxerr = maxerr;
	c->finite += finite;
}

void
gmm_check_from(enum gauss_dtype dtype, const uint8_t *orig,
	       const uint8_t *dec, size_t count, double bound,
	       struct gmm_check *c, size_t from)
{
	switch (dtype) {
	case GAUSS_DTYPE_F32:
		run_check(GAUSS_DTYPE_F32, orig, dec, count, bound, c, from);
		break;
	case GAUSS_DTYPE_BF16:
		run_check(GAUSS_DTYPE_BF16, orig, dec, count, bound, c, from);
		break;
	default:
		run_check(GAUSS_DTYPE_F16, orig, dec, count, bound, c, from);
		break;
	}
}

static inline __attribute__((always_inline)) void
run_recon(enum gauss_dtype dtype, const double *mu, double sd,
	  const uint8_t *cls, const int32_t *res, size_t n, uint8_t *dst)
{
	for (size_t j = 0; j < n; j++) {
		const double v = mu[cls[j]] + (double)res[j] / sd;
		double y;

		if (dtype == GAUSS_DTYPE_F32)
			put_le32(dst + 4 * j, round_to(dtype, v, &y));
		else
			put_le16(dst + 2 * j, (uint16_t)round_to(dtype, v, &y));
	}
}

void
gmm_recon(enum gauss_dtype dtype, const double *mu, double scale,
	  const uint8_t *cls, const int32_t *res, size_t n, uint8_t *dst)
{
	switch (dtype) {
	case GAUSS_DTYPE_F32:
		run_recon(GAUSS_DTYPE_F32, mu, scale, cls, res, n, dst);
		break;
	case GAUSS_DTYPE_BF16:
		run_recon(GAUSS_DTYPE_BF16, mu, scale, cls, res, n, dst);
		break;
	default:
		run_recon(GAUSS_DTYPE_F16, mu, scale, cls, res, n, dst);
		break;
	}
}

static void
pass_a_f32_scalar(struct gmm_pass_a *a)
{
	run_pass_a(GAUSS_DTYPE_F32, a, 0);
}

static void
recon_f32_scalar(const double *mu, double scale, const uint8_t *cls,
		 const int32_t *res, size_t n, uint8_t *dst)
{
	run_recon(GAUSS_DTYPE_F32, mu, scale, cls, res, n, dst);
}

static void
check_f32_scalar(const uint8_t *orig, const uint8_t *dec, size_t count,
		 double bound, struct gmm_check *c)
{
	run_check(GAUSS_DTYPE_F32, orig, dec, count, bound, c, 0);
}

static bool
residuals_scalar(const uint8_t *isyms, const uint8_t *syms, size_t n,
		 const uint8_t *shift, unsigned k, const uint8_t *bp,
		 uint64_t bits_nb, uint64_t *bpos_io, int32_t *r, int32_t *bad)
{
	uint64_t bpos = *bpos_io;

	(void)k;
	for (size_t j = 0; j < n; j++) {
		const unsigned s = shift[isyms[j]], sym = syms[j];
		/* extra bits, and q without them (gmm.h, "Buckets") */
		const unsigned e = sym <= 2 * GMM_BUCKET_HALF ? 0 :
				   sym < 238 ? sym - 223 : sym - 238;
		const int32_t base = sym <= 2 * GMM_BUCKET_HALF ?
				     (int32_t)sym - GMM_BUCKET_HALF :
				     GMM_BUCKET_HALF + (1 << e);
		const uint64_t v = peek_bits(bp, bits_nb, bpos) &
				   ((1ull << (e + s)) - 1);
		const int32_t x = (int32_t)(v & ((1u << e) - 1));
		const int32_t q = sym >= 238 ? -(base + x) : base + x;
		const int32_t rr = q * (1 << s) + (int32_t)(v >> e);

		bpos += e + s;
		if (unlikely(rr > GMM_RESID_MAX || rr < -GMM_RESID_MAX)) {
			*bad = rr;
			return false;
		}
		r[j] = rr;
	}
	*bpos_io = bpos;
	return true;
}

static void
take_syms_scalar(const uint8_t *cls, size_t n, const uint8_t **rp,
		 unsigned k, uint8_t *syms)
{
	(void)k;
	for (size_t j = 0; j < n; j++)
		syms[j] = *rp[cls[j]]++;
}

const struct gmm_ops gmm_ops_scalar = {
	pass_a_f32_scalar, recon_f32_scalar, check_f32_scalar,
	take_syms_scalar, residuals_scalar,
};

struct cluster {
	uint64_t n;
	uint64_t sumr2;		/* of r^2, exact */
	unsigned shift;
	enum table_kind kind;
	size_t table_nbytes;
	uint8_t table[RANS_TABLE_MAX_NBYTES];
	size_t stream_nbytes;
	size_t off;		/* of its symbols in rsyms */
};

static const struct rans_kernels *
best_kernels(const struct rans_kernels *k)
{
	if (k)
		return k;
	for (int l = CPU_LEVEL_COUNT - 1; l > CPU_SCALAR; l--)
		if (cpu_level_available((enum cpu_level)l))
			return rans_kernels_of((enum cpu_level)l);
	return rans_kernels_of(CPU_SCALAR);
}

/* Codes n symbols under t into out (room 2n + 256); returns the size. */
static size_t
code_stream(const struct rans_kernels *kern, struct rans_etable *e,
	    const struct rans_table *t, const uint8_t *syms, size_t n,
	    uint8_t *out)
{
	size_t nb;

	if (t->nsym < 2 || n == 0)
		return 0;
	rans_etable_build(t, GMM_RANS_LAYOUT, e);
	nb = kern->encode(e, syms, n, out, 2 * n + 256);
	GAUSS_ASSERT(nb > 0);
	return nb;
}

enum gauss_status
gmm_encode(enum gauss_dtype dtype, const void *src_v, size_t count,
	   const struct gmm_options *opt, uint8_t *out, size_t cap,
	   size_t *nbytes_ret, struct gmm_report *report,
	   struct gmm_scratch *scratch, struct errbuf *eb)
{
	struct gmm_scratch *own = NULL, *sc = scratch;
	const uint8_t *src = src_v;
	const unsigned esize = gmm_elem_nbytes(dtype);
	const struct rans_kernels *kern = best_kernels(opt->kernels);
	struct gmm_model *m = NULL;
	struct gmm_pieces *pc = NULL;
	struct cluster *cl = NULL;
	struct rans_etable *et = NULL;
	struct rans_table *tabs = NULL;
	uint64_t *hist = NULL;
	uint8_t *cls = NULL, *isyms = NULL, *rsyms = NULL, *streams = NULL;
	uint8_t *bits = NULL, *escpos = NULL;
	int16_t *res = NULL;
	uint64_t icounts[256] = { 0 }, nesc = 0;
	size_t nkept = 0, idx_nbytes = 0, bits_nbytes, escpos_nbytes = 0;
	size_t total, pos;
	double maxerr = 0, sumerr2 = 0, sumd = 0, sumd2 = 0, bound;
	uint64_t nfinite = 0;
	uint32_t scale;
	unsigned k;
	enum gauss_status st = GAUSS_E_NOMEM;
	struct rans_table itab;
	struct gmm_report rep;
	struct bitw bw;

	memset(&rep, 0, sizeof(rep));
	if (esize == 0)
		return err_setf(eb, GAUSS_E_INVALID_ARG, "the lossy codec takes "
				"F32, F16 or BF16, not %s",
				gauss_dtype_name(dtype));
	if (opt->k < 1 || opt->k > GMM_MAX_K)
		return err_setf(eb, GAUSS_E_INVALID_ARG, "K must be 1 to %u, "
				"not %u", GMM_MAX_K, opt->k);
	if (opt->max_iter < 1)
		return err_setf(eb, GAUSS_E_INVALID_ARG,
				"max-iter must be at least 1");
	if (opt->fit_samples < 1)
		return err_setf(eb, GAUSS_E_INVALID_ARG,
				"the fit needs at least 1 sample");
	scale = gmm_scale_for(dtype, opt->max_error);
	if (scale == 0)
		return err_setf(eb, GAUSS_E_INVALID_ARG, "max-error %g is not "
				"a positive bound of at least %g",
				opt->max_error, 0.5 / GMM_MAX_SCALE);
	if (kern == NULL)
		return err_setf(eb, GAUSS_E_INVALID_ARG,
				"rANS kernels not available");
	k = opt->k;
	bound = 0.5 / (double)scale;
	if (sc == NULL && (sc = own = gmm_scratch_new()) == NULL)
		return GAUSS_E_NOMEM;

	m = malloc(sizeof(*m));
	pc = malloc(sizeof(*pc));
	cl = calloc(k, sizeof(*cl));
	et = aligned_alloc(64, (sizeof(*et) + 63) & ~(size_t)63);
	tabs = malloc(k * sizeof(*tabs));
	hist = gmm_scratch_get(sc, SLOT_HIST, (size_t)k * 256 * sizeof(*hist));
	cls = gmm_scratch_get(sc, SLOT_CLS, count);
	res = gmm_scratch_get(sc, SLOT_RES, count * sizeof(*res));
	if (!m || !pc || !cl || !et || !tabs || !hist || !cls || !res)
		goto out;
	memset(hist, 0, (size_t)k * 256 * sizeof(*hist));
	st = gmm_fit(dtype, src, count, opt, m, sc);
	if (st != GAUSS_OK)
		goto out;
	st = GAUSS_E_NOMEM;
	gmm_pieces_build(m, pc);

	/* pass A: cluster, residual, escape test, error statistics */
	{
		struct gmm_pass_a pa;
		struct gmm_keys keys;

		memset(&pa, 0, sizeof(pa));
		gmm_keys_build(pc, &keys);
		pa.src = src;
		pa.count = count;
		pa.m = m;
		pa.keys = &keys;
		pa.scale = scale;
		pa.cls = cls;
		pa.res = res;
		if (dtype == GAUSS_DTYPE_F32)
			kern->gmm->pass_a_f32(&pa);
		else
			gmm_pass_a_from(dtype, &pa, 0);
		nesc = pa.nesc;
		nfinite = pa.nfinite;
		sumd = gmm_sum8(pa.sumd);
		sumd2 = gmm_sum8(pa.sumd2);
		maxerr = pa.maxerr;
		sumerr2 = gmm_sum8(pa.sumerr2);
	}
	/* values and sums of r^2 per cluster (four ways, to keep the adds apart) */
	{
		uint64_t (*cnt)[GMM_MAX_K + 1] = calloc(8, sizeof(*cnt));
		uint64_t (*sq)[GMM_MAX_K + 1] = cnt + 4;
		size_t i = 0;

		if (cnt == NULL)
			goto out;
		for (; i + 4 <= count; i += 4) {
			for (unsigned w = 0; w < 4; w++) {
				const unsigned c = cls[i + w];
				const int32_t r = res[i + w];

				cnt[w][c]++;
				sq[w][c] += (uint64_t)(r * r);
			}
		}
		for (; i < count; i++) {
			const int32_t r = res[i];

			cnt[0][cls[i]]++;
			sq[0][cls[i]] += (uint64_t)(r * r);
		}
		for (unsigned c = 0; c < k; c++) {
			icounts[c] = cnt[0][c] + cnt[1][c] + cnt[2][c] + cnt[3][c];
			cl[c].n = icounts[c];
			cl[c].sumr2 = sq[0][c] + sq[1][c] + sq[2][c] + sq[3][c];
		}
		free(cnt);
	}
	nkept = count - nesc;

	/* shifts and symbol offsets */
	pos = 0;
	for (unsigned c = 0; c < k; c++) {
		unsigned s = 0;

		while (s < GMM_MAX_SHIFT &&
		       (double)cl[c].sumr2 > 64.0 * (double)(1ull << (2 * s)) *
				     (double)cl[c].n)
			s++;
		cl[c].shift = s;
		cl[c].off = pos;
		pos += cl[c].n;
	}

	/* pass B: bucket symbols per cluster, indices, raw bits */
	isyms = gmm_scratch_get(sc, SLOT_ISYMS, nkept);
	rsyms = gmm_scratch_get(sc, SLOT_RSYMS, nkept);
	bits = gmm_scratch_get(sc, SLOT_BITS, 2 * nkept + 8);
	if (!isyms || !rsyms || !bits)
		goto out;
	{
		size_t j = 0;
		size_t *fill = malloc(k * sizeof(*fill));

		if (fill == NULL)
			goto out;
		for (unsigned c = 0; c < k; c++)
			fill[c] = cl[c].off;
		bw = (struct bitw){ bits, 0, 0 };
		for (size_t i = 0; i < count; i++) {
			const unsigned c = cls[i];
			unsigned s, sym, e;
			int32_t r, q;
			uint32_t low, extra;

			if (c == GMM_ESCAPED)
				continue;
			s = cl[c].shift;
			r = res[i];
			low = (uint32_t)r & ((1u << s) - 1);
			q = floor_shift(r, s);
			sym = bucket_of(q, &extra, &e);
			isyms[j++] = (uint8_t)c;
			rsyms[fill[c]++] = (uint8_t)sym;
			hist[(size_t)c * 256 + sym]++;
			bitw_put(&bw, extra | low << e, e + s);
		}
		bitw_flush(&bw);
		bits_nbytes = (size_t)(bw.p - bits);
		free(fill);
	}

	/* tables: empirical or Gaussian per cluster, whichever is smaller */
	for (unsigned c = 0; c < k; c++) {
		const uint64_t *h = hist + (size_t)c * 256;
		struct rans_table te, tg;
		double ce, cg;

		if (cl[c].n == 0) {
			cl[c].kind = TABLE_NONE;
			continue;
		}
		rans_table_normalize(h, &te);
		cl[c].table_nbytes = rans_table_write(&te, cl[c].table);
		ce = 8.0 * (double)cl[c].table_nbytes + table_cost(&te, h);
		gauss_table(m->sigma[c], scale, cl[c].shift, &tg);
		cg = table_cost(&tg, h);
		if (cg <= ce) {
			cl[c].kind = TABLE_GAUSS;
			cl[c].table_nbytes = 0;
			tabs[c] = tg;
			rep.gaussian_tables++;
			rep.resid_model_bits += cg;
		} else {
			cl[c].kind = TABLE_EMPIRICAL;
			tabs[c] = te;
			rep.resid_model_bits += ce -
						8.0 * (double)cl[c].table_nbytes;
		}
	}

	/* the streams */
	streams = gmm_scratch_get(sc, SLOT_STREAMS,
				  4 * nkept + 256 * ((size_t)k + 2));
	escpos = gmm_scratch_get(sc, SLOT_ESCPOS, nesc * VARINT_MAX_LEN);
	if (!streams || !escpos)
		goto out;
	pos = 0;
	if (k >= 2 && nkept > 0) {
		rans_table_normalize(icounts, &itab);
		rep.index_model_bits = table_cost(&itab, icounts);
		idx_nbytes = code_stream(kern, et, &itab, isyms, nkept, streams);
		pos = idx_nbytes;
	}
	for (unsigned c = 0; c < k; c++) {
		if (cl[c].n == 0)
			continue;
		cl[c].stream_nbytes = code_stream(kern, et, &tabs[c],
						  rsyms + cl[c].off, cl[c].n,
						  streams + pos);
		pos += cl[c].stream_nbytes;
		rep.resid_nbytes += cl[c].stream_nbytes;
	}
	{
		uint64_t prev = 0;
		bool first = true;

		for (size_t i = 0; i < count; i++) {
			if (cls[i] != GMM_ESCAPED)
				continue;
			escpos_nbytes += varint_put(escpos + escpos_nbytes,
						    first ? i : i - prev - 1);
			prev = i;
			first = false;
		}
	}

	/* header size, then the payload */
	total = 2 + 4 + varint_len(m->iterations) + varint_len(nesc) +
		(size_t)k * 25;
	{
		uint8_t tb[RANS_TABLE_MAX_NBYTES];
		size_t itab_nbytes = 0;

		if (k >= 2 && nkept > 0)
			itab_nbytes = rans_table_write(&itab, tb);
		total += itab_nbytes;
		for (unsigned c = 0; c < k; c++)
			total += cl[c].table_nbytes +
				 varint_len(cl[c].stream_nbytes);
		total += varint_len(idx_nbytes) + varint_len(bits_nbytes) +
			 varint_len(escpos_nbytes);
		rep.header_nbytes = total;
		total += pos + bits_nbytes + escpos_nbytes + nesc * esize;
		if (total > cap) {
			st = err_setf(eb, GAUSS_E_TOO_LARGE, "lossy payload of "
				      "%zu bytes does not fit in %zu", total,
				      cap);
			goto out;
		}
		out[0] = GMM_PAYLOAD_VERSION;
		out[1] = (uint8_t)k;
		put_le32(out + 2, scale);
		pos = 6;
		pos += varint_put(out + pos, m->iterations);
		pos += varint_put(out + pos, nesc);
		for (unsigned c = 0; c < k; c++) {
			uint64_t u;

			memcpy(&u, &m->mu[c], 8);
			put_le64(out + pos, u);
			memcpy(&u, &m->sigma[c], 8);
			put_le64(out + pos + 8, u);
			memcpy(&u, &m->pi[c], 8);
			put_le64(out + pos + 16, u);
			pos += 24;
		}
		for (unsigned c = 0; c < k; c++)
			out[pos++] = (uint8_t)(cl[c].shift | cl[c].kind << 4);
		memcpy(out + pos, tb, itab_nbytes);
		pos += itab_nbytes;
		for (unsigned c = 0; c < k; c++) {
			memcpy(out + pos, cl[c].table, cl[c].table_nbytes);
			pos += cl[c].table_nbytes;
		}
		pos += varint_put(out + pos, idx_nbytes);
		for (unsigned c = 0; c < k; c++)
			pos += varint_put(out + pos, cl[c].stream_nbytes);
		pos += varint_put(out + pos, bits_nbytes);
		pos += varint_put(out + pos, escpos_nbytes);
		GAUSS_ASSERT(pos == rep.header_nbytes);
	}
	memcpy(out + pos, streams, idx_nbytes + rep.resid_nbytes);
	pos += idx_nbytes + rep.resid_nbytes;
	memcpy(out + pos, bits, bits_nbytes);
	pos += bits_nbytes;
	memcpy(out + pos, escpos, escpos_nbytes);
	pos += escpos_nbytes;
	for (size_t i = 0; i < count; i++) {
		if (cls[i] == GMM_ESCAPED) {
			memcpy(out + pos, src + i * esize, esize);
			pos += esize;
		}
	}
	GAUSS_ASSERT(pos == total);
	*nbytes_ret = total;

	rep.k = k;
	rep.iterations = m->iterations;
	rep.scale = scale;
	rep.bound = bound;
	rep.max_abs_error = maxerr;
	rep.escapes = nesc;
	rep.fit_count = m->fit_count;
	rep.index_nbytes = idx_nbytes;
	rep.raw_bits_nbytes = bits_nbytes;
	rep.escape_nbytes = escpos_nbytes + nesc * esize;
	rep.total_nbytes = total;
	if (nfinite) {
		const double md = sumd / (double)nfinite;
		const double v = sumd2 / (double)nfinite - md * md;

		rep.rms_error = sqrt(sumerr2 / (double)nfinite);
		rep.std = sqrt(v > 0 ? v : 0);
		rep.rel_rms_error = rep.std > 0 ? rep.rms_error / rep.std : 0;
	}
	if (opt->diagnostics) {
		/* the residuals' own entropy per cluster, for the bench */
		uint32_t *h = calloc(65536, sizeof(*h));

		if (h == NULL)
			goto out;
		for (unsigned c = 0; c < k; c++) {
			if (cl[c].n == 0)
				continue;
			for (size_t i = 0; i < count; i++)
				if (cls[i] == c)
					h[(uint16_t)res[i]]++;
			for (size_t v = 0; v < 65536; v++) {
				if (h[v]) {
					const double p = (double)h[v] /
							 (double)cl[c].n;

					rep.resid_entropy_bits -=
						(double)h[v] * log2(p);
					h[v] = 0;
				}
			}
		}
		free(h);
	}
	if (report)
		*report = rep;
	st = GAUSS_OK;
out:
	free(m);
	free(pc);
	free(cl);
	free(et);
	free(tabs);
	gmm_scratch_free(own);
	return st;
}

/* ---- decode ---- */

struct header {
	unsigned k;
	uint32_t scale;
	uint64_t iterations;
	uint64_t nesc;
	double mu[GMM_MAX_K], sigma[GMM_MAX_K], pi[GMM_MAX_K];
	uint8_t coding[GMM_MAX_K];
};

static enum gauss_status
read_header(struct cursor *c, struct header *h, struct errbuf *eb)
{
	const uint8_t *p = cursor_take(c, 6);

	if (p == NULL)
		return err_setf(eb, GAUSS_E_CORRUPT, "lossy payload is "
				"truncated");
	if (p[0] != GMM_PAYLOAD_VERSION)
		return err_setf(eb, GAUSS_E_CORRUPT, "lossy payload version "
				"%u is unknown", p[0]);
	h->k = p[1];
	h->scale = get_le32(p + 2);
	if (h->k == 0 || h->scale == 0 || h->scale > GMM_MAX_SCALE)
		return err_setf(eb, GAUSS_E_CORRUPT, "lossy payload has K %u "
				"and S %u", h->k, h->scale);
	if (!cursor_varint(c, &h->iterations) || !cursor_varint(c, &h->nesc))
		return err_setf(eb, GAUSS_E_CORRUPT, "lossy payload is "
				"truncated");
	p = cursor_take(c, (uint64_t)h->k * 25);
	if (p == NULL)
		return err_setf(eb, GAUSS_E_CORRUPT, "lossy payload is "
				"truncated in its parameters");
	for (unsigned j = 0; j < h->k; j++) {
		uint64_t u;

		u = get_le64(p + 24 * j);
		memcpy(&h->mu[j], &u, 8);
		u = get_le64(p + 24 * j + 8);
		memcpy(&h->sigma[j], &u, 8);
		u = get_le64(p + 24 * j + 16);
		memcpy(&h->pi[j], &u, 8);
		if (!isfinite(h->mu[j]) || !(h->sigma[j] > 0) ||
		    !isfinite(h->sigma[j]) || !(h->pi[j] >= 0) ||
		    !(h->pi[j] <= 1))
			return err_setf(eb, GAUSS_E_CORRUPT, "lossy payload "
					"has bad parameters for cluster %u", j);
	}
	p += (size_t)h->k * 24;
	for (unsigned j = 0; j < h->k; j++) {
		h->coding[j] = p[j];
		if ((p[j] >> 4) > TABLE_EMPIRICAL)
			return err_setf(eb, GAUSS_E_CORRUPT, "lossy payload "
					"has coding byte %#x", p[j]);
	}
	return GAUSS_OK;
}

enum gauss_status
gmm_payload_info(const uint8_t *in, size_t nbytes,
		 struct gmm_payload_info *info_ret, struct errbuf *eb)
{
	struct cursor c;
	struct header *h = malloc(sizeof(*h));
	enum gauss_status st;

	if (h == NULL)
		return GAUSS_E_NOMEM;
	cursor_init(&c, in, nbytes);
	st = read_header(&c, h, eb);
	if (st == GAUSS_OK) {
		info_ret->k = h->k;
		info_ret->iterations = (unsigned)MIN(h->iterations, UINT32_MAX);
		info_ret->scale = h->scale;
		info_ret->escapes = h->nesc;
	}
	free(h);
	return st;
}

/* Decodes n symbols of stream [in, in + nb) under t into syms. */
static enum gauss_status
decode_stream(const struct rans_kernels *kern, struct rans_dtable *d,
	      const struct rans_table *t, const uint8_t *in, size_t nb,
	      uint8_t *syms, size_t n)
{
	if (n == 0)
		return nb == 0 ? GAUSS_OK : GAUSS_E_CORRUPT;
	if (t->nsym < 2) {
		unsigned only = 0;

		if (nb != 0)
			return GAUSS_E_CORRUPT;
		while (only < 255 && !t->freq[only])
			only++;
		memset(syms, (int)only, n);
		return GAUSS_OK;
	}
	rans_dtable_build(t, GMM_RANS_LAYOUT, d);
	return kern->decode(d, in, nb, syms, n);
}

enum gauss_status
gmm_decode(enum gauss_dtype dtype, const uint8_t *in, size_t nbytes,
	   void *dst_v, size_t count, const struct rans_kernels *kernels,
	   struct gmm_scratch *scratch, struct errbuf *eb)
{
	struct gmm_scratch *own = NULL, *sc = scratch;
	uint8_t *dst = dst_v;
	const unsigned esize = gmm_elem_nbytes(dtype);
	const struct rans_kernels *kern = best_kernels(kernels);
	struct header *h = NULL;
	struct rans_table *tabs = NULL, itab;
	struct rans_dtable *dt = NULL;
	uint8_t *isyms = NULL, *rsyms = NULL;
	const uint8_t **rp = NULL;
	uint64_t idx_nb, bits_nb, escpos_nb, sum, *snb = NULL;
	size_t nkept, *ncl = NULL;
	struct cursor c;
	enum gauss_status st = GAUSS_E_NOMEM;
	const uint8_t *p;

	if (esize == 0 || kern == NULL)
		return err_setf(eb, GAUSS_E_INVALID_ARG, "the lossy codec takes "
				"F32, F16 or BF16");
	h = malloc(sizeof(*h));
	tabs = malloc(GMM_MAX_K * sizeof(*tabs));
	dt = aligned_alloc(64, (sizeof(*dt) + 63) & ~(size_t)63);
	snb = malloc(GMM_MAX_K * sizeof(*snb));
	ncl = calloc(GMM_MAX_K, sizeof(*ncl));
	rp = malloc(GMM_MAX_K * sizeof(*rp));
	if (sc == NULL)
		sc = own = gmm_scratch_new();
	if (!h || !tabs || !dt || !snb || !ncl || !rp || !sc)
		goto out;
	cursor_init(&c, in, nbytes);
	st = read_header(&c, h, eb);
	if (st != GAUSS_OK)
		goto out;
	st = GAUSS_E_CORRUPT;
	if (h->nesc > count) {
		err_setf(eb, st, "lossy payload has %llu escapes for %zu "
			 "values", (unsigned long long)h->nesc, count);
		goto out;
	}
	nkept = count - (size_t)h->nesc;
	if (h->k >= 2 && nkept > 0) {
		if (rans_table_read(&c, &itab, eb) != GAUSS_OK)
			goto out;
		for (unsigned s = h->k; s < 256; s++)
			if (itab.freq[s]) {
				err_setf(eb, st, "lossy index table holds "
					 "cluster %u of %u", s, h->k);
				goto out;
			}
	} else {
		memset(&itab, 0, sizeof(itab));
		itab.nsym = 1;
		itab.freq[0] = RANS_M;
		rans_table_finish(&itab);
	}
	for (unsigned j = 0; j < h->k; j++) {
		const unsigned kind = h->coding[j] >> 4;

		if (kind == TABLE_EMPIRICAL) {
			if (rans_table_read(&c, &tabs[j], eb) != GAUSS_OK)
				goto out;
			for (unsigned s = NSYM_USED; s < 256; s++)
				if (tabs[j].freq[s]) {
					err_setf(eb, st, "lossy residual "
						 "table holds symbol %u", s);
					goto out;
				}
		} else if (kind == TABLE_GAUSS) {
			gauss_table(h->sigma[j], h->scale, h->coding[j] & 15,
				    &tabs[j]);
		}
	}
	sum = 0;
	if (!cursor_varint(&c, &idx_nb))
		goto trunc;
	sum = idx_nb;
	for (unsigned j = 0; j < h->k; j++) {
		if (!cursor_varint(&c, &snb[j]))
			goto trunc;
		sum += snb[j];
		if (sum < snb[j])
			goto trunc;
	}
	if (!cursor_varint(&c, &bits_nb) || !cursor_varint(&c, &escpos_nb))
		goto trunc;
	/* every length fits in what is left, and fills it exactly */
	{
		const uint64_t left = cursor_left(&c);

		if (sum > left || bits_nb > left - sum ||
		    escpos_nb > left - sum - bits_nb ||
		    h->nesc > (left - sum - bits_nb - escpos_nb) / esize ||
		    h->nesc * esize != left - sum - bits_nb - escpos_nb) {
			err_setf(eb, st, "lossy payload lengths do not add up "
				 "to its %zu bytes", nbytes);
			goto out;
		}
	}
	isyms = gmm_scratch_get(sc, SLOT_ISYMS, nkept);
	rsyms = gmm_scratch_get(sc, SLOT_RSYMS, nkept);
	if (!isyms || !rsyms) {
		st = GAUSS_E_NOMEM;
		goto out;
	}
	p = cursor_take(&c, idx_nb);
	if (decode_stream(kern, dt, &itab, p, idx_nb, isyms, nkept) !=
	    GAUSS_OK) {
		err_setf(eb, st, "lossy index stream is damaged");
		goto out;
	}
	{
		/* four counts per cluster, so runs of one cluster do not wait */
		size_t (*n4)[GMM_MAX_K + 1] = calloc(4, sizeof(*n4));
		size_t i = 0;

		if (n4 == NULL) {
			st = GAUSS_E_NOMEM;
			goto out;
		}
		for (; i + 4 <= nkept; i += 4) {
			n4[0][isyms[i]]++;
			n4[1][isyms[i + 1]]++;
			n4[2][isyms[i + 2]]++;
			n4[3][isyms[i + 3]]++;
		}
		for (; i < nkept; i++)
			n4[0][isyms[i]]++;
		for (unsigned j = 0; j < h->k; j++)
			ncl[j] = n4[0][j] + n4[1][j] + n4[2][j] + n4[3][j];
		free(n4);
	}
	{
		size_t off = 0;

		for (unsigned j = 0; j < h->k; j++) {
			const unsigned kind = h->coding[j] >> 4;

			p = cursor_take(&c, snb[j]);
			if ((ncl[j] == 0) != (kind == TABLE_NONE) ||
			    decode_stream(kern, dt, &tabs[j], p, snb[j],
					  rsyms + off, ncl[j]) != GAUSS_OK) {
				err_setf(eb, st, "lossy stream of cluster %u "
					 "is damaged", j);
				goto out;
			}
			rp[j] = rsyms + off;
			off += ncl[j];
		}
	}
	{
		const uint8_t *bp = cursor_take(&c, bits_nb);
		struct cursor ec;
		const uint8_t *ev;
		int32_t *r32, bad;
		uint8_t *vsyms;
		uint8_t shift[GMM_MAX_K];
		uint64_t next = UINT64_MAX, left = h->nesc, bpos = 0;
		size_t i = 0, j = 0;

		r32 = gmm_scratch_get(sc, SLOT_R32, nkept * sizeof(*r32));
		vsyms = gmm_scratch_get(sc, SLOT_VSYMS, nkept);
		if (r32 == NULL || vsyms == NULL) {
			st = GAUSS_E_NOMEM;
			goto out;
		}
		/* each kept value's bucket symbol, from its cluster's stream */
		kern->gmm->take_syms(isyms, nkept, rp, h->k, vsyms);
		for (unsigned k = 0; k < h->k; k++)
			shift[k] = h->coding[k] & 15;

		cursor_init(&ec, cursor_take(&c, escpos_nb), escpos_nb);
		ev = cursor_take(&c, h->nesc * esize);
		if (left) {
			if (!cursor_varint(&ec, &next) || next >= count)
				goto badesc;
		}
		/* runs of kept values, each up to the next escape */
		while (i < count) {
			const size_t end = next < count ? (size_t)next : count;
			const size_t j0 = j;

			if (end - i > nkept - j)
				goto badesc;
			if (!kern->gmm->residuals(isyms + j, vsyms + j, end - i,
						  shift, h->k, bp, bits_nb,
						  &bpos, r32 + j, &bad)) {
				err_setf(eb, st, "lossy residual %d is out of "
					 "range", bad);
				goto out;
			}
			j += end - i;
			i = end;
			if (dtype == GAUSS_DTYPE_F32)
				kern->gmm->recon_f32(h->mu, (double)h->scale,
						     isyms + j0, r32 + j0,
						     j - j0,
						     dst + (i - (j - j0)) * 4);
			else
				gmm_recon(dtype, h->mu, (double)h->scale,
					  isyms + j0, r32 + j0, j - j0,
					  dst + (i - (j - j0)) * esize);
			if (i == count)
				break;
			/* the escape at i */
			memcpy(dst + i * esize, ev, esize);
			ev += esize;
			i++;
			if (--left) {
				uint64_t gap;

				if (!cursor_varint(&ec, &gap) ||
				    gap >= count - i)
					goto badesc;
				next = i + gap;
			} else {
				next = UINT64_MAX;
			}
		}
		if (j != nkept || cursor_left(&ec) != 0)
			goto badesc;
		/* every raw bit used, the padding of the last byte zero */
		if (bpos > 8 * bits_nb || (bpos + 7) / 8 != bits_nb ||
		    ((bpos & 7) && bp[bpos >> 3] >> (bpos & 7) != 0)) {
			err_setf(eb, st, "lossy raw bits do not match their "
				 "%llu bytes", (unsigned long long)bits_nb);
			goto out;
		}
	}
	st = GAUSS_OK;
	goto out;
badesc:
	err_setf(eb, st, "lossy escape positions are damaged");
	goto out;
trunc:
	err_setf(eb, st, "lossy payload is truncated");
out:
	free(h);
	free(tabs);
	free(dt);
	free(snb);
	free(ncl);
	free(rp);
	gmm_scratch_free(own);
	return st;
}
