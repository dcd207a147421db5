/* SPDX-License-Identifier: MIT */
/*
 * rans_avx512_enc.c: the 32-lane rANS encoder with AVX-512 (F, BW, DQ, VL),
 * writing the bytes of rans_encode_scalar().
 *
 * Chunks of fewer than 32 lanes go to the scalar encoder. A 32-lane chunk
 * is coded group by group, a group being the elements 32 * j + k of one
 * row (k the lane), from the last group to the first, as the scalar loop
 * meets them:
 *
 *   - the partial last group (n % 32 elements) and every group left once
 *     fewer than 64 bytes of room remain go through step_scalar(), the
 *     scalar step with its room check, so a stream that does not fit fails
 *     at the same word and the call returns 0;
 *   - the other groups run in two zmm of 16 states, lanes 0-15 and 16-31.
 *
 * State. x = q << 12 | slot is kept as q and g (the slot is the low 12 bits
 * of g), so that what depends only on x's top bits is ready before the
 * slot of the previous symbol arrives: x >= f << 20 is q >= f << 8.
 *
 * Renormalisation. The scalar loop visits lane 31 first and pushes each
 * word below the previous one, so a group's words lie in memory in lane
 * order, lane 0 lowest. A vector step compresses the states that
 * renormalise to the bottom of a register, narrows them to their low 16
 * bits and stores them, masked to their count, just below p: lanes 16-31
 * first, then lanes 0-15 below those.
 *
 *   x:       [ x15 .. x3  x2  x1  x0 ]     mask 0b0101
 *   compress, narrow: [ 0 .. 0  w2  w0 ]   p - 4: w0, p - 2: w2
 *
 * Division. After renormalisation x < f << 20, so x / f < 2^20. The
 * estimate is x * (1 / f) + 1/2, with x and 1/f rounded to float once each
 * and the product and sum rounded once more (one FMA): the product is off
 * by a relative 3 * 2^-24 at most, under 0.19 below 2^20, and the sum's
 * rounding adds at most 1/16, so the estimate truncates to q or q + 1 for
 * the true quotient q. The remainder x - q' * f is then in [-f, f) and its
 * sign corrects both: the quotient and remainder used are exact, so no
 * rounding can reach the output.
 *
 * Lookups. freq and one more word per symbol come from two tables of up to
 * 256 words held in registers and read with vpermt2w (64 entries a
 * shuffle), the symbols less the smallest one being the indexes; the words
 * come back as dwords in lane order through vpunpck{l,h}wd with zero,
 * which is why the symbols are first shuffled into the order of vpackusdw
 * of the two halves. The second word is cum for the cumulative layout,
 * where the slot of code r is cum + r: no memory access at all. For the
 * alias layout it is 2 * cum + f, the middle of the symbol's run in dslot[],
 * which holds each symbol's slots twice over, so that 2 * cum + f + r
 * indexes the right slot for an r anywhere in [-f, f): the gather of the
 * slot waits for the division only, not for its correction.
 */
#include <immintrin.h>
#include <string.h>

#include "endian.h"
#include "rans.h"
#include "banned.h"

#define GROUP		RANS_MAX_LANES
#define GROUP_NBYTES	(2 * GROUP)	/* most a group can push */

/* vpternlogd: a | (b & c) */
#define TERN_A_OR_B_AND_C 0xf8

struct enc_tabs {
	/* per symbol s, at s - base */
	uint16_t freq[256] __attribute__((aligned(64)));
	uint16_t aux[256] __attribute__((aligned(64)));	/* cum, 2 * cum + f */
	/* alias layout: [2 * cum, 2 * cum + 2 * f) is the symbol's run twice */
	uint16_t dslot[2 * RANS_M + 2];
	unsigned base;		/* smallest symbol */
	unsigned nblk;		/* 64-symbol table blocks from base: 1 to 4 */
};

static void
tabs_build(const struct rans_etable *e, struct enc_tabs *tb)
{
	unsigned lo = 255, hi = 0;

	for (unsigned s = 0; s < 256; s++) {
		if (e->freq[s]) {
			lo = MIN(lo, s);
			hi = MAX(hi, s);
		}
	}
	memset(tb->freq, 0, sizeof(tb->freq));
	memset(tb->aux, 0, sizeof(tb->aux));
	tb->base = lo;
	tb->nblk = (hi - lo) / 64 + 1;
	for (unsigned s = lo; s <= hi; s++) {
		const unsigned f = e->freq[s], c = e->cum[s];

		tb->freq[s - lo] = (uint16_t)f;
		if (!e->alias) {
			tb->aux[s - lo] = (uint16_t)c;
		} else if (f) {
			tb->aux[s - lo] = (uint16_t)(2 * c + f);
			memcpy(tb->dslot + 2 * c, e->slot + c, 2 * f);
			memcpy(tb->dslot + 2 * c + f, e->slot + c, 2 * f);
		}
	}
	/* read as the upper half of a 32-bit gather at 2 * RANS_M - 1 */
	tb->dslot[2 * RANS_M] = tb->dslot[2 * RANS_M + 1] = 0;
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

/* 32 word lookups in t[0 .. 2 * nblk): 64 entries a block, idx < 256. */
static inline __attribute__((always_inline)) __m512i
lookup(const __m512i *t, __m512i idx, __mmask32 b6, __mmask32 b7,
       const unsigned nblk)
{
	__m512i r = _mm512_permutex2var_epi16(t[0], idx, t[1]);

	if (nblk >= 2)
		r = _mm512_mask_blend_epi16(b6, r,
				_mm512_permutex2var_epi16(t[2], idx, t[3]));
	if (nblk == 3)
		r = _mm512_mask_blend_epi16(b7, r,
				_mm512_permutex2var_epi16(t[4], idx, t[5]));
	if (nblk == 4)
		r = _mm512_mask_blend_epi16(b7, r, _mm512_mask_blend_epi16(b6,
				_mm512_permutex2var_epi16(t[4], idx, t[5]),
				_mm512_permutex2var_epi16(t[6], idx, t[7])));
	return r;
}

/* What a group's symbols give, ready before its states are. */
struct enc_syms {
	__m512i f0, f1;			/* freq, lanes 0-15 and 16-31 */
	__m512i f80, f81;		/* freq << 8 */
	__m512i a0, a1;			/* aux */
	__m512 rcp0, rcp1;		/* 1.0f / freq */
};

/* Looks up the 32 symbols at sp in the tables t (freq) and u (aux). */
static inline __attribute__((always_inline)) void
syms_load(const __m512i *t, const __m512i *u, const uint8_t *sp,
	  __m256i base, struct enc_syms *sd, const unsigned nblk)
{
	const __m512i zero = _mm512_setzero_si512();
	/* dwords of 4 symbols: lanes 0-3, 16-19, 4-7, 20-23, ... */
	const __m512i sw = _mm512_cvtepu8_epi16(_mm256_permutevar8x32_epi32(
		_mm256_sub_epi8(_mm256_loadu_si256((const void *)sp), base),
		_mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
	const __mmask32 b6 = _mm512_test_epi16_mask(sw, _mm512_set1_epi16(64));
	const __mmask32 b7 = _mm512_test_epi16_mask(sw, _mm512_set1_epi16(128));
	const __m512i fw = lookup(t, sw, b6, b7, nblk);
	const __m512i aw = lookup(u, sw, b6, b7, nblk);
	const __m512 one = _mm512_set1_ps(1.0f);

	sd->f0 = _mm512_unpacklo_epi16(fw, zero);
	sd->f1 = _mm512_unpackhi_epi16(fw, zero);
	sd->a0 = _mm512_unpacklo_epi16(aw, zero);
	sd->a1 = _mm512_unpackhi_epi16(aw, zero);
	sd->f80 = _mm512_slli_epi32(sd->f0, 8);
	sd->f81 = _mm512_slli_epi32(sd->f1, 8);
	sd->rcp0 = _mm512_div_ps(one, _mm512_cvtepi32_ps(sd->f0));
	sd->rcp1 = _mm512_div_ps(one, _mm512_cvtepi32_ps(sd->f1));
}

/*
 * Renormalises 16 lanes, pushing the low halves of the states that need it
 * below *pp; returns the states then.
 */
static inline __attribute__((always_inline)) __m512i
renorm16(__m512i q, __m512i g, __m512i f8, uint8_t **pp)
{
	const __m512i x = _mm512_ternarylogic_epi32(_mm512_slli_epi32(q, 12),
		g, _mm512_set1_epi32(RANS_M - 1), TERN_A_OR_B_AND_C);
	const __mmask16 m = _mm512_cmpge_epu32_mask(q, f8);
	const unsigned cnt = (unsigned)_mm_popcnt_u32(m);

	*pp -= 2 * cnt;
	_mm256_mask_storeu_epi16(*pp, (__mmask16)_bzhi_u32(0xffff, cnt),
		_mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(m, x)));
	return _mm512_mask_srli_epi32(x, m, x, 16);
}

/*
 * Codes 16 lanes whose states after renormalisation are xs: *q gets the
 * quotient and *g the slot (in its low 12 bits).
 */
static inline __attribute__((always_inline)) void
code16(const struct enc_tabs *tb, __m512i xs, __m512i f, __m512 rcp,
       __m512i a, __m512i *q, __m512i *g, const bool alias)
{
	/* q' in {q, q + 1}, r' = xs - q' * f in [-f, f) */
	const __m512i qe = _mm512_cvttps_epi32(_mm512_fmadd_ps(
		_mm512_cvtepu32_ps(xs), rcp, _mm512_set1_ps(0.5f)));
	const __m512i re = _mm512_sub_epi32(xs, _mm512_mullo_epi32(qe, f));

	if (alias) {
		const __m512i idx = _mm512_add_epi32(a, re);

		*g = _mm512_i32gather_epi32(idx, tb->dslot, 2);
		*q = _mm512_mask_sub_epi32(qe, _mm512_movepi32_mask(re), qe,
					   _mm512_set1_epi32(1));
	} else {
		*q = _mm512_add_epi32(qe, _mm512_srai_epi32(re, 31));
		*g = _mm512_add_epi32(a, _mm512_min_epu32(re,
					_mm512_add_epi32(re, f)));
	}
}

static inline void
load_words(__m512i *r, const uint16_t *t, unsigned nreg)
{
	for (unsigned j = 0; j < nreg; j++)
		r[j] = _mm512_load_si512(t + 32 * j);
}

/*
 * The groups before symbol i (a multiple of 32), from the last, while a
 * whole group fits. The symbols of the next group are looked up before
 * the current one is coded.
 */
static inline __attribute__((always_inline)) size_t
groups_vec(const struct enc_tabs *tb, const uint8_t *syms, size_t i,
	   uint32_t *x, uint8_t **pp, const uint8_t *lim, const unsigned nblk,
	   const bool alias)
{
	const __m512i lo12 = _mm512_set1_epi32(RANS_M - 1);
	const __m256i base = _mm256_set1_epi8((char)tb->base);
	__m512i t[8], u[8], x0, x1, q0, q1, g0, g1;
	struct enc_syms sd;
	uint8_t *p = *pp;

	if (i == 0 || p - lim < GROUP_NBYTES)
		return i;
	load_words(t, tb->freq, 2 * nblk);
	load_words(u, tb->aux, 2 * nblk);
	x0 = _mm512_loadu_si512(x);
	x1 = _mm512_loadu_si512(x + 16);
	q0 = _mm512_srli_epi32(x0, 12);
	q1 = _mm512_srli_epi32(x1, 12);
	g0 = _mm512_and_si512(x0, lo12);
	g1 = _mm512_and_si512(x1, lo12);
	syms_load(t, u, syms + i - GROUP, base, &sd, nblk);
	do {
		const struct enc_syms cur = sd;
		__m512i xs0, xs1;

		i -= GROUP;
		if (i > 0)
			syms_load(t, u, syms + i - GROUP, base, &sd, nblk);
		xs1 = renorm16(q1, g1, cur.f81, &p);
		xs0 = renorm16(q0, g0, cur.f80, &p);
		code16(tb, xs0, cur.f0, cur.rcp0, cur.a0, &q0, &g0, alias);
		code16(tb, xs1, cur.f1, cur.rcp1, cur.a1, &q1, &g1, alias);
	} while (i > 0 && p - lim >= GROUP_NBYTES);
	_mm512_storeu_si512(x, _mm512_ternarylogic_epi32(
		_mm512_slli_epi32(q0, 12), g0, lo12, TERN_A_OR_B_AND_C));
	_mm512_storeu_si512(x + 16, _mm512_ternarylogic_epi32(
		_mm512_slli_epi32(q1, 12), g1, lo12, TERN_A_OR_B_AND_C));
	*pp = p;
	return i;
}

#define GROUPS_VEC(nblk)						\
	(e->alias ? groups_vec(&tb, syms, i, x, &p, lim, nblk, true) :	\
		    groups_vec(&tb, syms, i, x, &p, lim, nblk, false))

size_t
rans_encode_avx512(const struct rans_etable *e, const uint8_t *syms,
		   size_t n, uint8_t *out, size_t cap)
{
	const size_t head = (size_t)GROUP * 4;
	const uint8_t *const lim = out + head;
	struct enc_tabs tb;
	uint32_t x[GROUP];
	uint8_t *p = out + cap;
	size_t i = n, nbytes;

	if (rans_lanes(n) != GROUP)
		return rans_encode_scalar(e, syms, n, out, cap);
	GAUSS_ASSERT(e->nsym >= 2);
	if (cap < head)
		return 0;
	for (unsigned k = 0; k < GROUP; k++)
		x[k] = RANS_L;
	while (i % GROUP) {
		i--;
		if (!step_scalar(e, syms[i], &x[i % GROUP], &p, lim))
			return 0;
	}
	tabs_build(e, &tb);
	switch (tb.nblk) {
	case 1:
		i = GROUPS_VEC(1);
		break;
	case 2:
		i = GROUPS_VEC(2);
		break;
	case 3:
		i = GROUPS_VEC(3);
		break;
	default:
		i = GROUPS_VEC(4);
		break;
	}
	while (i > 0) {
		i--;
		if (!step_scalar(e, syms[i], &x[i % GROUP], &p, lim))
			return 0;
	}
	nbytes = (size_t)(out + cap - p);
	memmove(out + head, p, nbytes);
	for (unsigned k = 0; k < GROUP; k++)
		put_le32(out + 4 * k, x[k]);
	return head + nbytes;
}
