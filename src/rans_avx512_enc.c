/* SPDX-License-Identifier: MIT */
/*
 * rans_avx512_enc.c: the 4- to 32-lane rANS encoder with AVX-512 (F, BW,
 * DQ, VL), writing the bytes of rans_encode_scalar().
 *
 * Chunks of 1 or 2 lanes go to the scalar encoder. A chunk of w lanes (4,
 * 8, 16 or 32) is coded group by group, a group being the elements
 * w * j + k of one row (k the lane), from the last group to the first, as
 * the scalar loop meets them:
 *
 *   - the partial last group (n % w elements) and every group left once
 *     fewer than 2 * w bytes of room remain go through step_scalar(), the
 *     scalar step with its room check, so a stream that does not fit fails
 *     at the same word and the call returns 0;
 *   - the other groups of 32 lanes run in two zmm of 16 states, lanes 0-15
 *     and 16-31; those of 16, 8 or 4 lanes in one zmm, lanes w to 15
 *     copying lanes 0 to w - 1 (groups_w()): they start from the same
 *     states and code the same symbols, so they stay copies and need no
 *     special case in the division or the lookups, and only the words of
 *     lanes below w are stored. A group's chain of latencies is the same
 *     at any w, so the speed is about proportional to w.
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
 * first, then lanes 0-15 below those. A narrow group compresses the same
 * way and counts only the lanes below w; compress keeps lane order, so
 * those words are the first ones.
 *
 *   x:       [ x15 .. x3  x2  x1  x0 ]     mask 0b0101
 *   compress, narrow: [ 0 .. 0  w2  w0 ]   p - 4: w0, p - 2: w2
 *
 * Division. After renormalisation x < f << 20, so q = x / f < 2^20. The
 * estimate is x * (1 / f) + 1/2 with x and 1/f rounded to float (each off
 * by a relative 2^-24 at most, so their product is within 2^-23 * 2^20 =
 * 1/8 of x / f) and the sum rounded once (one FMA, at most 1/16 more), so
 * it truncates to q or q + 1. The remainder x - q' * f is then in [-f, f)
 * and its sign corrects both: the quotient and remainder used are exact,
 * so no rounding can reach the output.
 *
 * Lookups. freq and one more word per symbol come from two tables of up to
 * 256 words held in registers and read with vpermt2w (64 entries a
 * shuffle), indexed by the symbols less the smallest one. The 32 symbols
 * of a group are widened to words in an order that vpunpck{l,h}wd with
 * zero turns back into two registers of dwords in lane order:
 *
 *   words (128-bit blocks):  [ 12-15 28-31 | .. | 4-7 20-23 | 0-3 16-19 ]
 *   vpunpcklwd: lanes 0-15   vpunpckhwd: lanes 16-31
 *
 * A narrow group widens its symbols straight to dwords, the index in the
 * low word; the high word looks up entry 0 and is masked off.
 *
 * The second word is cum for the cumulative layout, where the slot of code
 * r is cum + r: no memory access at all. Fine tables (15-bit, rans.h) take
 * the same path with 15 in place of 12 everywhere (bits): after
 * renormalisation q < 2^17, and x >= f << 17 is q >= f << 2. For the alias layout it is
 * 2 * cum + f, the middle of the symbol's run in dslot[], which holds each
 * symbol's slots twice over, so that 2 * cum + f + r indexes the right
 * slot for an r anywhere in [-f, f): the gather of the slot waits for the
 * division only, not for its correction.
 */
#include <immintrin.h>
#include <string.h>

#include "endian.h"
#include "rans.h"
#include "banned.h"

#define GROUP		RANS_MAX_LANES
#define GROUP_NBYTES	(2 * GROUP)	/* most a group can push */
#define MIN_VEC_LANES	4		/* fewer go to the scalar encoder */

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
static inline __attribute__((always_inline)) bool
step_scalar(const struct rans_etable *e, unsigned s, uint32_t *xp,
	    uint8_t **pp, const uint8_t *lim, const unsigned bits)
{
	const uint32_t f = e->freq[s];
	uint32_t x = *xp;

	if (x >= (f << (32 - bits))) {
		if (*pp - lim < 2)
			return false;
		*pp -= 2;
		put_le16(*pp, (uint16_t)x);
		x >>= 16;
	}
	/* fine tables: the cumulative layout, without slot[] */
	*xp = ((x / f) << bits) + (bits == RANS_FINE_BITS ?
				   e->cum[s] + x % f :
				   e->slot[e->cum[s] + x % f]);
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
	__m512i f80, f81;		/* freq << (32 - 2 * bits) */
	__m512i a0, a1;			/* aux */
	__m512 rcp0, rcp1;		/* 1.0f / freq */
};

/* Looks up the 32 symbols at sp in the tables t (freq) and u (aux). */
static inline __attribute__((always_inline)) void
syms_load(const __m512i *t, const __m512i *u, const uint8_t *sp,
	  __m256i base, struct enc_syms *sd, const unsigned nblk,
	  const unsigned bits)
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
	sd->f80 = _mm512_slli_epi32(sd->f0, 32 - 2 * bits);
	sd->f81 = _mm512_slli_epi32(sd->f1, 32 - 2 * bits);
	sd->rcp0 = _mm512_div_ps(one, _mm512_cvtepi32_ps(sd->f0));
	sd->rcp1 = _mm512_div_ps(one, _mm512_cvtepi32_ps(sd->f1));
}

/*
 * Renormalises 16 lanes, pushing the low halves of the states of the lanes
 * in km that need it below *pp; returns the states then.
 */
static inline __attribute__((always_inline)) __m512i
renorm16(__m512i q, __m512i g, __m512i f8, uint8_t **pp,
	 const __mmask16 km, const unsigned bits)
{
	const __m512i x = _mm512_ternarylogic_epi32(_mm512_slli_epi32(q, bits),
		g, _mm512_set1_epi32((1 << bits) - 1), TERN_A_OR_B_AND_C);
	const __mmask16 m = _mm512_cmpge_epu32_mask(q, f8);
	/* the copies above the w lanes of km shift too, but push nothing */
	const unsigned cnt = (unsigned)_mm_popcnt_u32(m & km);

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
	   const bool alias, const unsigned bits)
{
	const __m512i lo12 = _mm512_set1_epi32((1 << bits) - 1);
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
	q0 = _mm512_srli_epi32(x0, bits);
	q1 = _mm512_srli_epi32(x1, bits);
	g0 = _mm512_and_si512(x0, lo12);
	g1 = _mm512_and_si512(x1, lo12);
	syms_load(t, u, syms + i - GROUP, base, &sd, nblk, bits);
	do {
		const struct enc_syms cur = sd;
		__m512i xs0, xs1;

		i -= GROUP;
		if (i > 0)
			syms_load(t, u, syms + i - GROUP, base, &sd, nblk,
				  bits);
		xs1 = renorm16(q1, g1, cur.f81, &p, 0xffff, bits);
		xs0 = renorm16(q0, g0, cur.f80, &p, 0xffff, bits);
		code16(tb, xs0, cur.f0, cur.rcp0, cur.a0, &q0, &g0, alias);
		code16(tb, xs1, cur.f1, cur.rcp1, cur.a1, &q1, &g1, alias);
	} while (i > 0 && p - lim >= GROUP_NBYTES);
	_mm512_storeu_si512(x, _mm512_ternarylogic_epi32(
		_mm512_slli_epi32(q0, bits), g0, lo12, TERN_A_OR_B_AND_C));
	_mm512_storeu_si512(x + 16, _mm512_ternarylogic_epi32(
		_mm512_slli_epi32(q1, bits), g1, lo12, TERN_A_OR_B_AND_C));
	*pp = p;
	return i;
}

/* What the w symbols of a narrow group give, copied to fill 16 lanes. */
struct enc_syms16 {
	__m512i f, f8, a;		/* freq, freq << (32 - 2 * bits), aux */
	__m512 rcp;			/* 1.0f / freq */
};

/* Looks up the w (4, 8 or 16) symbols at sp, lane k + w holding lane k's. */
static inline __attribute__((always_inline)) void
syms_load16(const __m512i *t, const __m512i *u, const uint8_t *sp,
	    __m128i base, struct enc_syms16 *sd, const unsigned w,
	    const unsigned nblk, const unsigned bits)
{
	const __m512i lo16 = _mm512_set1_epi32(0xffff);
	__m128i v;
	__m512i sd32;
	__mmask32 b6, b7;

	if (w == 16) {
		v = _mm_loadu_si128((const void *)sp);
	} else if (w == 8) {
		uint64_t b;

		memcpy(&b, sp, 8);
		v = _mm_set1_epi64x((long long)b);
	} else {
		uint32_t b;

		memcpy(&b, sp, 4);
		v = _mm_set1_epi32((int)b);
	}
	/* a dword per lane: the index in its low word, 0 in its high one */
	sd32 = _mm512_cvtepu8_epi32(_mm_sub_epi8(v, base));
	b6 = _mm512_test_epi16_mask(sd32, _mm512_set1_epi16(64));
	b7 = _mm512_test_epi16_mask(sd32, _mm512_set1_epi16(128));
	sd->f = _mm512_and_si512(lookup(t, sd32, b6, b7, nblk), lo16);
	sd->a = _mm512_and_si512(lookup(u, sd32, b6, b7, nblk), lo16);
	sd->f8 = _mm512_slli_epi32(sd->f, 32 - 2 * bits);
	sd->rcp = _mm512_div_ps(_mm512_set1_ps(1.0f),
				_mm512_cvtepi32_ps(sd->f));
}

/*
 * The groups of w lanes (4, 8 or 16) before symbol i (a multiple of w),
 * from the last, while a whole group fits: one zmm, lanes w to 15 a copy
 * of the lanes below, which code the same symbols from the same states
 * and so stay copies; only the lanes below w push words.
 */
static inline __attribute__((always_inline)) size_t
groups_w(const struct enc_tabs *tb, const uint8_t *syms, size_t i,
	 uint32_t *x, uint8_t **pp, const uint8_t *lim, const unsigned w,
	 const unsigned nblk, const bool alias, const unsigned bits)
{
	const __m512i lo12 = _mm512_set1_epi32((1 << bits) - 1);
	const __m128i base = _mm_set1_epi8((char)tb->base);
	const __mmask16 km = (__mmask16)((1u << w) - 1);
	__m512i t[8], u[8], x0, q0, g0;
	struct enc_syms16 sd;
	uint8_t *p = *pp;

	if (i == 0 || p - lim < 2 * (ptrdiff_t)w)
		return i;
	load_words(t, tb->freq, 2 * nblk);
	load_words(u, tb->aux, 2 * nblk);
	if (w == 16)
		x0 = _mm512_loadu_si512(x);
	else if (w == 8)
		x0 = _mm512_broadcast_i32x8(
			_mm256_loadu_si256((const void *)x));
	else
		x0 = _mm512_broadcast_i32x4(_mm_loadu_si128((const void *)x));
	q0 = _mm512_srli_epi32(x0, bits);
	g0 = _mm512_and_si512(x0, lo12);
	syms_load16(t, u, syms + i - w, base, &sd, w, nblk, bits);
	do {
		const struct enc_syms16 cur = sd;
		__m512i xs0;

		i -= w;
		if (i > 0)
			syms_load16(t, u, syms + i - w, base, &sd, w, nblk,
				    bits);
		xs0 = renorm16(q0, g0, cur.f8, &p, km, bits);
		code16(tb, xs0, cur.f, cur.rcp, cur.a, &q0, &g0, alias);
	} while (i > 0 && p - lim >= 2 * (ptrdiff_t)w);
	_mm512_mask_storeu_epi32(x, km, _mm512_ternarylogic_epi32(
		_mm512_slli_epi32(q0, bits), g0, lo12, TERN_A_OR_B_AND_C));
	*pp = p;
	return i;
}

/* The vector groups of a chunk of `lanes` lanes, for tables of nblk blocks */
static inline __attribute__((always_inline)) size_t
groups_any(const struct enc_tabs *tb, const uint8_t *syms, size_t i,
	   uint32_t *x, uint8_t **pp, const uint8_t *lim, unsigned lanes,
	   const unsigned nblk, const bool alias, const unsigned bits)
{
	switch (lanes) {
	case GROUP:
		return groups_vec(tb, syms, i, x, pp, lim, nblk, alias, bits);
	case 16:
		return groups_w(tb, syms, i, x, pp, lim, 16, nblk, alias,
				bits);
	case 8:
		return groups_w(tb, syms, i, x, pp, lim, 8, nblk, alias, bits);
	default:
		return groups_w(tb, syms, i, x, pp, lim, 4, nblk, alias, bits);
	}
}

#define GROUPS_ANY(nblk)						\
	(e->alias ?							\
	 groups_any(&tb, syms, i, x, &p, lim, lanes, nblk, true, bits) : \
	 groups_any(&tb, syms, i, x, &p, lim, lanes, nblk, false, bits))

/* The encoder for tables of precision bits (RANS_SCALE_BITS or fine). */
static inline __attribute__((always_inline)) size_t
encode(const struct rans_etable *e, const uint8_t *syms, size_t n,
       uint8_t *out, size_t cap, const unsigned bits)
{
	const unsigned lanes = rans_lanes_unit(n, e->lane_unit);
	const size_t head = (size_t)lanes * 4;
	const uint8_t *const lim = out + head;
	struct enc_tabs tb;
	uint32_t x[GROUP];
	uint8_t *p = out + cap;
	size_t i = n, nbytes;

	if (lanes < MIN_VEC_LANES)
		return bits == RANS_FINE_BITS ?
			rans_fine_encode(e, syms, n, out, cap) :
			rans_encode_scalar(e, syms, n, out, cap);
	GAUSS_ASSERT(e->nsym >= 2);
	if (cap < head)
		return 0;
	for (unsigned k = 0; k < lanes; k++)
		x[k] = RANS_L;
	while (i % lanes) {
		i--;
		if (!step_scalar(e, syms[i], &x[i % lanes], &p, lim, bits))
			return 0;
	}
	tabs_build(e, &tb);
	switch (tb.nblk) {
	case 1:
		i = GROUPS_ANY(1);
		break;
	case 2:
		i = GROUPS_ANY(2);
		break;
	case 3:
		i = GROUPS_ANY(3);
		break;
	default:
		i = GROUPS_ANY(4);
		break;
	}
	while (i > 0) {
		i--;
		if (!step_scalar(e, syms[i], &x[i % lanes], &p, lim, bits))
			return 0;
	}
	nbytes = (size_t)(out + cap - p);
	memmove(out + head, p, nbytes);
	for (unsigned k = 0; k < lanes; k++)
		put_le32(out + 4 * k, x[k]);
	return head + nbytes;
}

size_t
rans_encode_avx512(const struct rans_etable *e, const uint8_t *syms,
		   size_t n, uint8_t *out, size_t cap)
{
	return encode(e, syms, n, out, cap, RANS_SCALE_BITS);
}

size_t
rans_fine_encode_avx512(const struct rans_etable *e, const uint8_t *syms,
			size_t n, uint8_t *out, size_t cap)
{
	GAUSS_ASSERT(e->scale_bits == RANS_FINE_BITS && !e->alias);
	return encode(e, syms, n, out, cap, RANS_FINE_BITS);
}
