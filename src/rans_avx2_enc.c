/* SPDX-License-Identifier: MIT */
/*
 * rans_avx2_enc.c: the 4- to 32-lane rANS encoder with AVX2, writing the
 * bytes of rans_encode_scalar().
 *
 * The plan is that of rans_avx512_enc.c (read its header first): chunks of
 * 1 or 2 lanes go to the scalar encoder; in a chunk of w lanes the partial
 * last group and the groups left once fewer than max(2 * w, 16) bytes of
 * room remain take the scalar step with its room check, so the bytes and
 * the 0 return agree; the other groups run here, in ymm of 8 states
 * (lanes 0-7, 8-15, ...), the highest lanes renormalised first: four ymm
 * for 32 lanes, two for 16, one for 8, and for 4 one whose lanes 4-7 copy
 * lanes 0-3 (same states, same symbols) and push nothing. The quotient
 * comes from a float estimate and an exact correction, and the alias
 * layout's slot is gathered from dslot[], where each symbol's run appears
 * twice so that the uncorrected remainder can index it.
 *
 * What AVX2 lacks, and what stands in for it:
 *
 *   - word permutes across a register: freq | aux << 16 per symbol comes
 *     from a 32-bit gather by symbol;
 *   - unsigned compares: x >= f << 20 is read as x >> 12 >= f << 8, both
 *     below 2^20, where a signed compare is right;
 *   - unsigned to float: cvtdq2ps reads x >= 2^31 as x - 2^32, so 2^32 is
 *     added back where the sign bit is set. Rounding x - 2^32, then the
 *     sum, is off by at most 64 + 128, a relative 1.5 * 2^-24 of x; with
 *     1/f (2^-24) and the product (2^-24) the estimate of x / f is within
 *     3.5 * 2^-24 * 2^20 < 0.22, and adding 1/2 rounds by at most 1/16 (no
 *     FMA is assumed), so it still truncates to q or q + 1;
 *   - compress: the 8 states' low halves are packed to 8 words and moved by
 *     pshufb to the top of an xmm, then stored whole just below p:
 *
 *       words:  [ w7 w6 w5 w4 w3 w2 w1 w0 ]   renormalise: lanes 0, 2, 5
 *       pshufb: [ w5 w2 w0  .  .  .  .  . ]   16 bytes at p - 16, p -= 6
 *
 *     the 10 bytes below the new p are junk that later words overwrite, or
 *     that stay below the stream inside out[]: a group starts with
 *     max(2 * w, 16) bytes of room and writes no lower than that.
 */
#include <immintrin.h>
#include <string.h>

#include "endian.h"
#include "rans.h"
#include "banned.h"

#define GROUP		RANS_MAX_LANES
#define GROUP_NBYTES	(2 * GROUP)	/* most a group can push */
#define MIN_VEC_LANES	4		/* fewer go to the scalar encoder */

struct enc_tabs {
	uint32_t fa[256];		/* freq | aux << 16 */
	/* alias layout: [2 * cum, 2 * cum + 2 * f) is the symbol's run twice */
	uint16_t dslot[2 * RANS_M + 2];
	/* pshufb moving the words of the set lanes of a mask to the top */
	uint8_t top[256][16] __attribute__((aligned(16)));
};

/* aux is cum (cumulative layout) or 2 * cum + f (alias layout). */
static void
tabs_build(const struct rans_etable *e, struct enc_tabs *tb)
{
	for (unsigned s = 0; s < 256; s++) {
		const unsigned f = e->freq[s], c = e->cum[s];

		if (!e->alias) {
			tb->fa[s] = f | c << 16;
		} else {
			tb->fa[s] = f | (2 * c + f) << 16;
			memcpy(tb->dslot + 2 * c, e->slot + c, 2 * f);
			memcpy(tb->dslot + 2 * c + f, e->slot + c, 2 * f);
		}
	}
	/* read as the upper half of a 32-bit gather at 2 * RANS_M - 1 */
	tb->dslot[2 * RANS_M] = tb->dslot[2 * RANS_M + 1] = 0;
	for (unsigned m = 0; m < 256; m++) {
		unsigned j = 8 - (unsigned)__builtin_popcount(m);

		memset(tb->top[m], 0x80, 16);
		for (unsigned k = 0; k < 8; k++) {
			if (m >> k & 1) {
				tb->top[m][2 * j] = (uint8_t)(2 * k);
				tb->top[m][2 * j + 1] = (uint8_t)(2 * k + 1);
				j++;
			}
		}
	}
}

/* One element of the scalar encoder; false when its word does not fit. */
static inline bool
step_scalar(const struct rans_etable *e, unsigned s, uint32_t *xp,
	    uint8_t **pp, const uint8_t *lim)
{
	const uint32_t f = e->freq[s];
	uint32_t x = *xp;

	if (x >= (f << (32 - RANS_SCALE_BITS))) {
		if (*pp - lim < 2)
			return false;
		*pp -= 2;
		put_le16(*pp, (uint16_t)x);
		x >>= 16;
	}
	*xp = ((x / f) << RANS_SCALE_BITS) + e->slot[e->cum[s] + x % f];
	return true;
}

/* freq | aux << 16 of the 8 symbols at sp */
static inline __attribute__((always_inline)) __m256i
syms_load8(const struct enc_tabs *tb, const uint8_t *sp)
{
	return _mm256_i32gather_epi32((const int *)tb->fa,
		_mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)sp)), 4);
}

/*
 * Codes 8 lanes of states x whose symbols gave fa, pushing the words of
 * those of the lanes in km (0xff, or 0x0f when lanes 4-7 copy lanes 0-3)
 * that renormalise below *pp; returns the new states.
 */
static inline __attribute__((always_inline)) __m256i
code8(const struct enc_tabs *tb, __m256i x, __m256i fa, uint8_t **pp,
      const unsigned km, const bool alias)
{
	const __m256i f = _mm256_blend_epi16(fa, _mm256_setzero_si256(), 0xaa);
	const __m256i a = _mm256_srli_epi32(fa, 16);
	const __m256 rcp = _mm256_div_ps(_mm256_set1_ps(1.0f),
					 _mm256_cvtepi32_ps(f));
	/* x < f << 20, read as x >> 12 < f << 8, both below 2^20 */
	const __m256i keep = _mm256_cmpgt_epi32(_mm256_slli_epi32(f, 8),
						_mm256_srli_epi32(x, 12));
	const unsigned m = ~(unsigned)_mm256_movemask_ps(
				_mm256_castsi256_ps(keep)) & km;
	const __m256i lo = _mm256_blend_epi16(x, _mm256_setzero_si256(), 0xaa);
	const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(lo),
					   _mm256_extracti128_si256(lo, 1));
	__m256i xs, qe, re, q;
	__m256 xf;

	_mm_storeu_si128((void *)(*pp - 16), _mm_shuffle_epi8(w,
			 _mm_load_si128((const void *)tb->top[m])));
	*pp -= 2 * _mm_popcnt_u32(m);
	xs = _mm256_blendv_epi8(_mm256_srli_epi32(x, 16), x, keep);

	xf = _mm256_cvtepi32_ps(xs);
	xf = _mm256_blendv_ps(xf, _mm256_add_ps(xf,
			_mm256_set1_ps(4294967296.0f)), _mm256_castsi256_ps(xs));
	/* q' in {q, q + 1}, r' = xs - q' * f in [-f, f) */
	qe = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(xf, rcp),
					       _mm256_set1_ps(0.5f)));
	re = _mm256_sub_epi32(xs, _mm256_mullo_epi32(qe, f));
	q = _mm256_slli_epi32(_mm256_add_epi32(qe, _mm256_srai_epi32(re, 31)),
			      RANS_SCALE_BITS);
	if (alias)
		return _mm256_or_si256(q, _mm256_and_si256(
			_mm256_i32gather_epi32((const int *)(const void *)tb->dslot,
					       _mm256_add_epi32(a, re), 2),
			_mm256_set1_epi32(RANS_M - 1)));
	return _mm256_add_epi32(q, _mm256_add_epi32(a, _mm256_min_epu32(re,
					_mm256_add_epi32(re, f))));
}

/*
 * The groups before symbol i (a multiple of 32), from the last, while a
 * whole group fits. The symbols of the next group are looked up before
 * the current one is coded.
 */
static inline __attribute__((always_inline)) size_t
groups_vec(const struct enc_tabs *tb, const uint8_t *syms, size_t i,
	   uint32_t *x, uint8_t **pp, const uint8_t *lim, const bool alias)
{
	__m256i x0, x1, x2, x3, fa0, fa1, fa2, fa3;
	uint8_t *p = *pp;

	if (i == 0 || p - lim < GROUP_NBYTES)
		return i;
	x0 = _mm256_loadu_si256((const void *)x);
	x1 = _mm256_loadu_si256((const void *)(x + 8));
	x2 = _mm256_loadu_si256((const void *)(x + 16));
	x3 = _mm256_loadu_si256((const void *)(x + 24));
	fa0 = syms_load8(tb, syms + i - GROUP);
	fa1 = syms_load8(tb, syms + i - GROUP + 8);
	fa2 = syms_load8(tb, syms + i - GROUP + 16);
	fa3 = syms_load8(tb, syms + i - GROUP + 24);
	do {
		const __m256i c0 = fa0, c1 = fa1, c2 = fa2, c3 = fa3;

		i -= GROUP;
		if (i > 0) {
			fa0 = syms_load8(tb, syms + i - GROUP);
			fa1 = syms_load8(tb, syms + i - GROUP + 8);
			fa2 = syms_load8(tb, syms + i - GROUP + 16);
			fa3 = syms_load8(tb, syms + i - GROUP + 24);
		}
		x3 = code8(tb, x3, c3, &p, 0xff, alias);
		x2 = code8(tb, x2, c2, &p, 0xff, alias);
		x1 = code8(tb, x1, c1, &p, 0xff, alias);
		x0 = code8(tb, x0, c0, &p, 0xff, alias);
	} while (i > 0 && p - lim >= GROUP_NBYTES);
	_mm256_storeu_si256((void *)x, x0);
	_mm256_storeu_si256((void *)(x + 8), x1);
	_mm256_storeu_si256((void *)(x + 16), x2);
	_mm256_storeu_si256((void *)(x + 24), x3);
	*pp = p;
	return i;
}

/* freq | aux << 16 of the 4 symbols at sp, twice: lanes 0-3, 4-7 */
static inline __attribute__((always_inline)) __m256i
syms_load4(const struct enc_tabs *tb, const uint8_t *sp)
{
	uint32_t b;

	memcpy(&b, sp, 4);
	return _mm256_i32gather_epi32((const int *)tb->fa,
		_mm256_cvtepu8_epi32(_mm_set1_epi32((int)b)), 4);
}

/*
 * The groups of w lanes (4, 8 or 16) before symbol i (a multiple of w),
 * from the last, while a whole group fits: two ymm for 16 lanes, one for
 * 8, and for 4 one whose lanes 4-7 copy lanes 0-3 (same states, same
 * symbols), pushing nothing. code8() stores 16 bytes below p, so a group
 * starts with max(2 * w, 16) bytes of room.
 */
static inline __attribute__((always_inline)) size_t
groups_w(const struct enc_tabs *tb, const uint8_t *syms, size_t i,
	 uint32_t *x, uint8_t **pp, const uint8_t *lim, const unsigned w,
	 const bool alias)
{
	const ptrdiff_t room = w == 4 ? 16 : 2 * (ptrdiff_t)w;
	const unsigned km = w == 4 ? 0x0f : 0xff;
	__m256i x0, x1 = _mm256_setzero_si256(), fa0, fa1 = x1;
	uint8_t *p = *pp;

	if (i == 0 || p - lim < room)
		return i;
	if (w == 4) {
		x0 = _mm256_broadcastsi128_si256(
			_mm_loadu_si128((const void *)x));
		fa0 = syms_load4(tb, syms + i - w);
	} else {
		x0 = _mm256_loadu_si256((const void *)x);
		fa0 = syms_load8(tb, syms + i - w);
	}
	if (w == 16) {
		x1 = _mm256_loadu_si256((const void *)(x + 8));
		fa1 = syms_load8(tb, syms + i - w + 8);
	}
	do {
		const __m256i c0 = fa0, c1 = fa1;

		i -= w;
		if (i > 0) {
			if (w == 4)
				fa0 = syms_load4(tb, syms + i - w);
			else
				fa0 = syms_load8(tb, syms + i - w);
			if (w == 16)
				fa1 = syms_load8(tb, syms + i - w + 8);
		}
		if (w == 16)
			x1 = code8(tb, x1, c1, &p, km, alias);
		x0 = code8(tb, x0, c0, &p, km, alias);
	} while (i > 0 && p - lim >= room);
	if (w == 4) {
		_mm_storeu_si128((void *)x, _mm256_castsi256_si128(x0));
	} else {
		_mm256_storeu_si256((void *)x, x0);
		if (w == 16)
			_mm256_storeu_si256((void *)(x + 8), x1);
	}
	*pp = p;
	return i;
}

/* The vector groups of a chunk of `lanes` lanes */
static inline __attribute__((always_inline)) size_t
groups_any(const struct enc_tabs *tb, const uint8_t *syms, size_t i,
	   uint32_t *x, uint8_t **pp, const uint8_t *lim, unsigned lanes,
	   const bool alias)
{
	switch (lanes) {
	case GROUP:
		return groups_vec(tb, syms, i, x, pp, lim, alias);
	case 16:
		return groups_w(tb, syms, i, x, pp, lim, 16, alias);
	case 8:
		return groups_w(tb, syms, i, x, pp, lim, 8, alias);
	default:
		return groups_w(tb, syms, i, x, pp, lim, 4, alias);
	}
}

size_t
rans_encode_avx2(const struct rans_etable *e, const uint8_t *syms,
		 size_t n, uint8_t *out, size_t cap)
{
	const unsigned lanes = rans_lanes_unit(n, e->lane_unit);
	const size_t head = (size_t)lanes * 4;
	const uint8_t *const lim = out + head;
	struct enc_tabs tb;
	uint32_t x[GROUP];
	uint8_t *p = out + cap;
	size_t i = n, nbytes;

	if (lanes < MIN_VEC_LANES)
		return rans_encode_scalar(e, syms, n, out, cap);
	GAUSS_ASSERT(e->nsym >= 2);
	if (cap < head)
		return 0;
	for (unsigned k = 0; k < lanes; k++)
		x[k] = RANS_L;
	while (i % lanes) {
		i--;
		if (!step_scalar(e, syms[i], &x[i % lanes], &p, lim))
			return 0;
	}
	tabs_build(e, &tb);
	if (e->alias)
		i = groups_any(&tb, syms, i, x, &p, lim, lanes, true);
	else
		i = groups_any(&tb, syms, i, x, &p, lim, lanes, false);
	while (i > 0) {
		i--;
		if (!step_scalar(e, syms[i], &x[i % lanes], &p, lim))
			return 0;
	}
	nbytes = (size_t)(out + cap - p);
	memmove(out + head, p, nbytes);
	for (unsigned k = 0; k < lanes; k++)
		put_le32(out + 4 * k, x[k]);
	return head + nbytes;
}
