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
	SLOT_ESCPOS, SLOT_HIST, SLOT_R32, SLOT_VSYMS,
	SLOT_COUNT
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

/* ---- the per-value kernels of F32 shards (cpu.h: one set per level) ---- */

/*
 * The thresholds of a partition as signed 32-bit keys of floats: for a
 * float x (any finite one, either zero), thr[j] <= x exactly when
 * gmm_key(x) >= key[j], so the piece of x is w[number of keys <= its key].
 * key[j] is the key of the smallest float not below thr[j], with both
 * zeros at -1. n is count - 1.
 */
struct gmm_keys {
	unsigned n;
	unsigned pow2;		/* power of two >= n, >= 1; key[n..pow2) INT32_MAX */
	int32_t key[2 * GMM_MAX_PIECES];
	uint8_t w[GMM_MAX_PIECES];
};

/* Order-preserving key of float bits u (-0 is -1, +0 is 0). */
static inline int32_t
gmm_key(uint32_t u)
{
	return (int32_t)(u ^ ((uint32_t)((int32_t)u >> 31) >> 1));
}

/*
 * Builds k from p. A NaN threshold takes INT32_MAX (no value passes it),
 * and a key below the one before it is raised to it, so the keys always
 * ascend and every way of counting them agrees.
 */
void gmm_keys_build(const struct gmm_pieces *p, struct gmm_keys *k);

/* The piece's component of a value of key key (branch-free search). */
static inline unsigned
gmm_keys_lookup(const struct gmm_keys *k, int32_t key)
{
	const int32_t *base = k->key;
	size_t n = k->pow2;

	while (n > 1) {
		const size_t half = n / 2;

		base = base[half - 1] <= key ? base + half : base;
		n -= half;
	}
	return k->w[(size_t)(base - k->key) + (base[0] <= key)];
}

/*
 * Pass A of a shard: per value its cluster (or GMM_ESCAPED) and residual,
 * and the error statistics. Sums run in 8 lanes, value i in lane i % 8,
 * each lane in order of i, so every level gives the same bits; the caller
 * adds the lanes with gmm_sum8().
 */
#define GMM_ESCAPED	255

struct gmm_pass_a {
	/* in */
	const uint8_t *src;
	size_t count;
	const struct gmm_model *m;
	const struct gmm_keys *keys;
	uint32_t scale;
	/* out: cls[count], res[count] (res of an escape: unspecified) */
	uint8_t *cls;
	int16_t *res;
	uint64_t nesc, nfinite;
	double maxerr;
	double sumd[8], sumd2[8], sumerr2[8];	/* of x - fit_mean, err^2 */
};

/*
 * The checks of a decoded shard: every value within bound of its original
 * (bound < 0: equal), not finite ones kept bit for bit. Sums in 8 lanes
 * as in pass A; first: the first failing element, or count.
 */
struct gmm_check {
	uint64_t finite;
	double maxerr;
	double sumerr2[8], sum[8], sum2[8];
	size_t first;
};

struct gmm_ops {
	/* pass A of F32 values with keys (m->k <= 255) */
	void (*pass_a_f32)(struct gmm_pass_a *a);
	/* dst[j] = F32(mu[cls[j]] + res[j] / scale), j < n */
	void (*recon_f32)(const double *mu, double scale, const uint8_t *cls,
			  const int32_t *res, size_t n, uint8_t *dst);
	/* checks of F32 values: dec against orig */
	void (*check_f32)(const uint8_t *orig, const uint8_t *dec,
			  size_t count, double bound, struct gmm_check *c);
	/*
	 * syms[j] = the next symbol of cluster cls[j]'s stream, *rp[cls[j]]++,
	 * for j < n (every cls[j] < k, and every stream long enough)
	 */
	void (*take_syms)(const uint8_t *cls, size_t n, const uint8_t **rp,
			  unsigned k, uint8_t *syms);
	/*
	 * r[j] of n kept values from their clusters (cls[j] < k, with
	 * shift[]), their bucket symbols (< 253) and the raw bits of
	 * [bp, bp + bits_nb) from *bpos_io on, which it advances; false at
	 * an r beyond +-GMM_RESID_MAX, which goes to *bad
	 */
	bool (*residuals)(const uint8_t *cls, const uint8_t *syms, size_t n,
			  const uint8_t *shift, unsigned k, const uint8_t *bp,
			  uint64_t bits_nb, uint64_t *bpos_io, int32_t *r,
			  int32_t *bad);
};

extern const struct gmm_ops gmm_ops_scalar;
extern const struct gmm_ops gmm_ops_avx512;

/*
 * Pass A from value from on (a multiple of 8), adding to a's sums and
 * counts: the scalar code, for any dtype; vector kernels use it for their
 * tails.
 */
void gmm_pass_a_from(enum gauss_dtype dtype, struct gmm_pass_a *a,
		     size_t from);

/* The checks from value from on (a multiple of 8), adding to c. */
void gmm_check_from(enum gauss_dtype dtype, const uint8_t *orig,
		    const uint8_t *dec, size_t count, double bound,
		    struct gmm_check *c, size_t from);

/* dst[j] = dtype(mu[cls[j]] + res[j] / scale), j < n: the scalar code. */
void gmm_recon(enum gauss_dtype dtype, const double *mu, double scale,
	       const uint8_t *cls, const int32_t *res, size_t n,
	       uint8_t *dst);

/* The lanes of a sum, added in one fixed order. */
static inline double
gmm_sum8(const double a[8])
{
	return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
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
