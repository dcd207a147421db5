/* SPDX-License-Identifier: MIT */
/*
 * rans_avx512_enc.c: the 32-lane rANS encoder with AVX-512 (F, BW, DQ, VL),
 * giving the bytes of rans_encode_scalar().
 *
 * Chunks of fewer than 32 lanes go to the scalar encoder. A 32-lane chunk
 * is coded group by group, a group being the 32 elements of one row (lane k
 * holds element 32 * g + k), from the last group to the first, exactly as
 * the scalar loop meets them:
 *
 *   - the partial last group (n % 32 elements) and every group left once
 *     fewer than 64 bytes of room remain go through step_scalar(), the
 *     scalar encoder's step with its room check, so a stream that does not
 *     fit fails at the same word and returns 0;
 *   - the other groups run in two zmm of 16 states, lanes 0-15 and 16-31.
 *
 * Renormalisation. The scalar loop visits lane 31 first and pushes each
 * word below the previous one, so a group's words lie in memory in lane
 * order, lane 0 lowest. A vector step compresses the low halves of the
 * states that renormalise (x >= f << 20) to the bottom of a register,
 * narrows them to 16 bits and stores them, masked to their count, just
 * below p: first lanes 16-31, then lanes 0-15 below those.
 *
 *   x:     [ x15 .. x3  x2  x1  x0 ]   mask 0b..0101
 *   compress, narrow:  [ .. 0 0  w2 w0 ]   -> p - 4 = w0, p - 2 = w2
 *
 * Division. After renormalisation x < f << 20, so q = x / f < 2^20. A
 * float estimate is x * (1 / f) - 1/4 with x and 1/f each rounded once and
 * the product and the subtraction rounded once (one FMA): the relative
 * error is below 3 * 2^-24, under 0.19 at q < 2^20, so the estimate lies
 * in (x/f - 0.44, x/f - 0.06) and truncates to q or q - 1. The remainder
 * r = x - q * f then lies in [0, 2f) and one compare fixes both. No
 * estimate error can leak into the result: q and r satisfy x = q * f + r,
 * 0 <= r < f, as in the scalar code.
 *
 * Lookups. freq | cum << 16 per symbol and the float 1/f come from two
 * 256-entry tables built per call (a call codes up to 262144 symbols) with
 * 32-bit gathers; the slot of code r is slot[cum + r], a 32-bit gather
 * masked to 16 bits (the table has spare entries past RANS_M). The
 * cumulative layout maps code c to slot c, so it needs no slot gather.
 */
#include <immintrin.h>
#include <string.h>

#include "endian.h"
#include "rans.h"
#include "banned.h"

#define GROUP		RANS_MAX_LANES
#define GROUP_NBYTES	(2 * GROUP)	/* most a group can push */

/*
 * Per-symbol words for in-register lookups: entry s - base of each table,
 * 64 entries per block of two zmm (vpermt2w reads 6 index bits). aux is
 * cum for the cumulative layout, 2 * cum + freq for the alias layout: the
 * middle of the symbol's run in dslot[], which holds the slots of each
 * symbol's codes twice over, [2 * cum, 2 * cum + 2 * freq).
 */
struct enc_tabs {
	uint16_t freq[256] __attribute__((aligned(64)));
	uint16_t aux[256] __attribute__((aligned(64)));
	uint16_t dslot[2 * RANS_M + 16];
	unsigned base;		/* smallest symbol */
	unsigned nblk;		/* 64-symbol blocks from base: 1 to 4 */
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
		tb->aux[s - lo] = (uint16_t)(e->alias ? 2 * c + f : c);
		if (e->alias && f) {
			memcpy(tb->dslot + 2 * c, e->slot + c, 2 * f);
			memcpy(tb->dslot + 2 * c + f, e->slot + c, 2 * f);
		}
	}
	memset(tb->dslot + 2 * RANS_M, 0, 16 * sizeof(tb->dslot[0]));
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

/* 32 word lookups: t[] holds 2 * nblk zmm of 32 words, idx the words. */
static inline __attribute__((always_inline)) __m512i
lookup32(const __m512i *t, __m512i idx, __mmask32 b6, __mmask32 b7,
	 const unsigned nblk)
{
	__m512i r = _mm512_permutex2var_epi16(t[0], idx, t[1]);

	if (nblk >= 2)
		r = _mm512_mask_blend_epi16(b6, r,
				_mm512_permutex2var_epi16(t[2], idx, t[3]));
	if (nblk == 3)
		r = _mm512_mask_blend_epi16(b7, r,
				_mm512_permutex2var_epi16(t[4], idx, t[5]));
	if (nblk == 4) {
		const __m512i r23 = _mm512_mask_blend_epi16(b6,
				_mm512_permutex2var_epi16(t[4], idx, t[5]),
				_mm512_permutex2var_epi16(t[6], idx, t[7]));

		r = _mm512_mask_blend_epi16(b7, r, r23);
	}
	return r;
}

#define TERN_A_OR_B_AND_C 0xf8

/*
 * Codes 16 lanes of a group. The state x = q << 12 | slot is kept as q
 * and g, whose low 12 bits are the slot, so that x >= f << 20, which reads
 * q >= f << 8, and x >> 16 = q >> 4 are ready before the slot arrives.
 */
static inline __attribute__((always_inline)) void
step16(const struct enc_tabs *tb, __m512i f, __m512i aux, __m512i *qv,
       __m512i *gv, uint8_t **pp, const bool alias)
{
	const __m512i lo12 = _mm512_set1_epi32(RANS_M - 1);
	const __m512 rcp = _mm512_div_ps(_mm512_set1_ps(1.0f),
					 _mm512_cvtepi32_ps(f));
	const __m512i q0 = *qv, qs = _mm512_slli_epi32(q0, 12);
	const __mmask16 m = _mm512_cmpge_epu32_mask(q0,
						    _mm512_slli_epi32(f, 8));
	const unsigned cnt = (unsigned)_mm_popcnt_u32(m);
	const __m512i a = _mm512_mask_mov_epi32(qs, m,
						_mm512_srli_epi32(q0, 4));
	const __m512i x = _mm512_ternarylogic_epi32(qs, *gv, lo12,
						    TERN_A_OR_B_AND_C);
	__m512i xs, q, r, prod;

	*pp -= 2 * cnt;
	_mm256_mask_storeu_epi16(*pp, (__mmask16)_bzhi_u32(0xffff, cnt),
				 _mm512_cvtepi32_epi16(
					 _mm512_maskz_compress_epi32(m, x)));
	xs = _mm512_mask_ternarylogic_epi32(a, (__mmask16)~m, *gv, lo12,
					    TERN_A_OR_B_AND_C);
	q = _mm512_cvttps_epi32(_mm512_fmadd_ps(_mm512_cvtepu32_ps(xs), rcp,
						_mm512_set1_ps(0.5f)));
	prod = _mm512_mullo_epi32(q, f);
	if (alias) {
		const __m512i idx = _mm512_sub_epi32(_mm512_add_epi32(aux, xs),
						     prod);

	{
		const __m256i g0 = _mm256_i32gather_epi32((const int *)(const void *)tb->dslot, _mm512_castsi512_si256(idx), 2);
		const __m256i g1 = _mm256_i32gather_epi32((const int *)(const void *)tb->dslot, _mm512_extracti64x4_epi64(idx, 1), 2);
		*gv = _mm512_inserti64x4(_mm512_castsi256_si512(g0), g1, 1);
	}
		*qv = _mm512_mask_sub_epi32(q, _mm512_cmplt_epu32_mask(idx, aux),
					    q, _mm512_set1_epi32(1));
	} else {
		r = _mm512_sub_epi32(xs, prod);
		*qv = _mm512_add_epi32(q, _mm512_srai_epi32(r, 31));
		r = _mm512_min_epu32(r, _mm512_add_epi32(r, f));
		*gv = _mm512_add_epi32(aux, r);
	}
}

/* The groups before symbol i, from the last, while a whole group fits. */
static inline __attribute__((always_inline)) size_t
groups_vec(const struct enc_tabs *tb, const uint8_t *syms, size_t i,
	   uint32_t *x, uint8_t **pp, const uint8_t *lim, const unsigned nblk,
	   const bool alias)
{
	const __m512i x0 = _mm512_loadu_si512(x);
	const __m512i x1 = _mm512_loadu_si512(x + 16);
	const __m512i lo12 = _mm512_set1_epi32(RANS_M - 1);
	const __m256i base = _mm256_set1_epi8((char)tb->base);
	__m512i ft[8], at[8];
	__m512i q0 = _mm512_srli_epi32(x0, 12), g0 = _mm512_and_si512(x0, lo12);
	__m512i q1 = _mm512_srli_epi32(x1, 12), g1 = _mm512_and_si512(x1, lo12);
	uint8_t *p = *pp;

	for (unsigned j = 0; j < 2 * nblk; j++) {
		ft[j] = _mm512_load_si512(tb->freq + 32 * j);
		at[j] = _mm512_load_si512(tb->aux + 32 * j);
	}
	while (i > 0 && p - lim >= GROUP_NBYTES) {
		const __m512i s = _mm512_cvtepu8_epi16(_mm256_sub_epi8(
			_mm256_loadu_si256((const void *)(syms + i - GROUP)),
			base));
		const __mmask32 b6 = _mm512_test_epi16_mask(s,
						_mm512_set1_epi16(64));
		const __mmask32 b7 = _mm512_test_epi16_mask(s,
						_mm512_set1_epi16(128));
		const __m512i fw = lookup32(ft, s, b6, b7, nblk);
		const __m512i aw = lookup32(at, s, b6, b7, nblk);

		i -= GROUP;
		step16(tb, _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(fw, 1)),
		       _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(aw, 1)),
		       &q1, &g1, &p, alias);
		step16(tb, _mm512_cvtepu16_epi32(_mm512_castsi512_si256(fw)),
		       _mm512_cvtepu16_epi32(_mm512_castsi512_si256(aw)),
		       &q0, &g0, &p, alias);
	}
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
