/* SPDX-License-Identifier: MIT */
/*
 * gmm_internal.h: what gmm.c and the tests share with gmm_fit.c: the
 * deterministic log/exp/erfc, value conversions, the fit and the MAP
 * decision regions ("pieces").
 */
#ifndef GAUSS_GMM_INTERNAL_H
#define GAUSS_GMM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <math.h>
#include <string.h>

#include "endian.h"
#include "gmm.h"

/* Most pieces of a decision partition: 2K - 1 in theory, guarded at 4K+4. */
#define GMM_MAX_PIECES	(4 * GMM_MAX_K + 4)

struct gmm_model {
	unsigned k;
	unsigned iterations;
	uint64_t fit_count;	/* finite values in the sample */
	double fit_mean;	/* their mean (0 when none) */
	double mu[GMM_MAX_K];
	double sigma[GMM_MAX_K];
	double pi[GMM_MAX_K];
};

/*
 * The MAP partition of the real line: piece j holds the x with
 * thr[j-1] <= x < thr[j] (thr[-1] = -inf, thr[count-1] = +inf) and belongs
 * to component w[j]. thr[] is padded with +inf to pow2 entries.
 */
struct gmm_pieces {
	unsigned count;		/* pieces; count - 1 thresholds */
	unsigned pow2;		/* power of two >= count - 1, >= 1 */
	double thr[GMM_MAX_PIECES];
	uint8_t w[GMM_MAX_PIECES];
};

/*
 * Scratch buffers kept across calls: fresh memory costs a page fault per
 * 4 KiB on first touch, which is most of the time of a shard when every
 * call maps its buffers anew. One slot per purpose; a slot only grows.
 */
enum gmm_slot {
	SLOT_KEYS, SLOT_TMP, SLOT_SET, SLOT_XS, SLOT_P1, SLOT_P2,
	SLOT_CLS, SLOT_RES, SLOT_ISYMS, SLOT_RSYMS, SLOT_BITS, SLOT_STREAMS,
	SLOT_ESCPOS, SLOT_HIST, SLOT_COUNT
};

struct gmm_scratch {
	void *p[SLOT_COUNT];
	size_t cap[SLOT_COUNT];
};

/* A buffer of at least nbytes (64-byte aligned) in slot, or NULL. */
void *gmm_scratch_get(struct gmm_scratch *s, enum gmm_slot slot,
		      size_t nbytes);

/* Deterministic approximations (basic IEEE operations only). */
double gmm_log(double x);		/* x > 0 finite; ~1 ulp */
double gmm_exp(double x);		/* x <= 709; ~1 ulp */
double gmm_erfc(double x);		/* x >= 0; A-S 7.1.26, abs err 1.5e-7 */

/* Round half to even of t, |t| < 2^51. */
static inline double
gmm_rne(double t)
{
	const double big = 4503599627370496.0;	/* 2^52 */

	return t >= 0 ? (t + big) - big : -((-t + big) - big);
}

/* Element size of a dtype the codec takes (0 for others). */
unsigned gmm_elem_nbytes(enum gauss_dtype dtype);

/* The value of fp16 bits h, exactly. */
static inline double
gmm_half_value(uint16_t h)
{
	const unsigned e = (h >> 10) & 0x1f, m = h & 0x3ff;
	double v;

	if (e == 0x1f)
		v = m ? NAN : INFINITY;
	else if (e == 0)
		v = ldexp((double)m, -24);
	else
		v = ldexp((double)(m | 0x400), (int)e - 25);
	return (h & 0x8000) ? -v : v;
}

/* Value i of src (little-endian dtype elements) as a double, exactly. */
static inline __attribute__((always_inline)) double
gmm_load(enum gauss_dtype dtype, const uint8_t *src, size_t i)
{
	uint32_t u;
	float f;

	switch (dtype) {
	case GAUSS_DTYPE_F32:
		u = get_le32(src + 4 * i);
		break;
	case GAUSS_DTYPE_BF16:
		u = (uint32_t)get_le16(src + 2 * i) << 16;
		break;
	default:
		return gmm_half_value(get_le16(src + 2 * i));
	}
	memcpy(&f, &u, sizeof(f));
	return f;
}

/*
 * v rounded once to dtype (nearest, ties to even; overflow gives an
 * infinity, NaN a quiet NaN); returns the element bits (low 16 bits for
 * 16-bit dtypes) and the rounded value in *y_ret.
 */
uint32_t gmm_round(enum gauss_dtype dtype, double v, double *y_ret);

/* Builds the MAP partition of m's components. */
void gmm_pieces_build(const struct gmm_model *m, struct gmm_pieces *p);

/* The component of finite x under p. */
static inline unsigned
gmm_pieces_lookup(const struct gmm_pieces *p, double x)
{
	const double *base = p->thr;
	size_t n = p->pow2;

	while (n > 1) {
		const size_t half = n / 2;

		base = base[half - 1] <= x ? base + half : base;
		n -= half;
	}
	return p->w[(size_t)(base - p->thr) + (base[0] <= x)];
}

/*
 * Hard EM on n sorted finite values (the original's rule, see gmm.h);
 * k in 1..255. Returns GAUSS_E_NOMEM or GAUSS_OK.
 */
enum gauss_status gmm_fit_sorted(const double *xs, size_t n, unsigned k,
				 unsigned max_iter, struct gmm_model *m,
				 struct gmm_scratch *scratch);

/*
 * The whole fit of a shard: the seeded sample, sorted, then
 * gmm_fit_sorted(). scratch may be NULL (buffers of the call only).
 * Returns GAUSS_E_NOMEM or GAUSS_OK.
 */
enum gauss_status gmm_fit(enum gauss_dtype dtype, const uint8_t *src,
			  size_t count, const struct gmm_options *opt,
			  struct gmm_model *m, struct gmm_scratch *scratch);

#endif /* GAUSS_GMM_INTERNAL_H */
