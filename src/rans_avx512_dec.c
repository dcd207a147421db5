/* SPDX-License-Identifier: MIT */
/*
 * rans_avx512_dec.c: the 32-lane rANS decoder with AVX-512 (F, BW, DQ, VL).
 * (draft 2: renorm folded into the next step, word entries precomputed)
 */
#include <immintrin.h>

#include "endian.h"
#include "rans.h"
#include "banned.h"

#define GROUP		RANS_MAX_LANES
#define GROUP_NBYTES	(2 * GROUP)	/* most words a group can read */
#define FA_WORDS	1024		/* word entries computed at a time */

/*
 * An entry "fa" says how a lane steps: x' = (fa >> 16) * q + (fa & 0xffff)
 * with q = x >> 12 for a lane that did not renormalise; for a lane that
 * did, with word w, q = y << 4 and fa = f << 16 | (f * (w >> 12) + k),
 * which depends on w alone.
 */
struct alias_regs {
	__m512i flo[2], blo[2];	/* 64 words each */
	__m512i fhi[2], bhi[2];
	__m512i div[2];
	__m512i sym[2];		/* sym_lo | sym_hi << 8 */
};

static void
alias_regs_build(const struct rans_dtable *d, struct alias_regs *r)
{
	uint16_t t[6][RANS_ALIAS_BUCKETS] __attribute__((aligned(64)));

	for (unsigned b = 0; b < RANS_ALIAS_BUCKETS; b++) {
		const uint32_t a = d->alo[b], h = d->ahi[b];
		uint32_t div = (a >> 12) & 0x7f;
		const uint32_t fhi = h & 0xfff, khi = (h >> 12) & 0xfff;
		const uint32_t shi = h >> 24;
		uint32_t flo = a & 0xfff, blo = flo - div, slo = a >> 24;

		if (div == 0) {
			/* no low half: the high one takes the whole bucket */
			flo = fhi;
			blo = khi;
			slo = shi;
			div = RANS_ALIAS_SLOTS;
		}
		t[0][b] = (uint16_t)flo;
		t[1][b] = (uint16_t)(blo + 64);
		t[2][b] = (uint16_t)(div < RANS_ALIAS_SLOTS ? fhi : 0);
		t[3][b] = (uint16_t)(div < RANS_ALIAS_SLOTS ? khi - div + 64 : 0);
		t[4][b] = (uint16_t)div;
		t[5][b] = (uint16_t)(slo | shi << 8);
	}
	r->flo[0] = _mm512_load_si512(t[0]);
	r->flo[1] = _mm512_load_si512(t[0] + 32);
	r->blo[0] = _mm512_load_si512(t[1]);
	r->blo[1] = _mm512_load_si512(t[1] + 32);
	r->fhi[0] = _mm512_load_si512(t[2]);
	r->fhi[1] = _mm512_load_si512(t[2] + 32);
	r->bhi[0] = _mm512_load_si512(t[3]);
	r->bhi[1] = _mm512_load_si512(t[3] + 32);
	r->div[0] = _mm512_load_si512(t[4]);
	r->div[1] = _mm512_load_si512(t[4] + 32);
	r->sym[0] = _mm512_load_si512(t[5]);
	r->sym[1] = _mm512_load_si512(t[5] + 32);
}

#define SEL(m, a, b)	_mm512_ternarylogic_epi32(m, a, b, 0xca) /* m?a:b */
#define LOW_WORDS	0x55555555u
#define HIGH_WORDS	0xaaaaaaaau

/* f << 16 | k for the slot x & 4095. */
static inline __attribute__((always_inline)) __m512i
entry_alias(const struct alias_regs *r, __m512i x)
{
	const __m512i il = _mm512_srli_epi32(x, 6);
	const __m512i ih = _mm512_slli_epi32(x, 10);
	const __m512i lo = _mm512_or_si512(
		_mm512_maskz_permutex2var_epi16(HIGH_WORDS, r->flo[0], ih,
						r->flo[1]),
		_mm512_maskz_permutex2var_epi16(LOW_WORDS, r->blo[0], il,
						r->blo[1]));
	const __m512i hi = _mm512_or_si512(
		_mm512_maskz_permutex2var_epi16(HIGH_WORDS, r->fhi[0], ih,
						r->fhi[1]),
		_mm512_maskz_permutex2var_epi16(LOW_WORDS, r->bhi[0], il,
						r->bhi[1]));
	const __m512i div = _mm512_maskz_permutex2var_epi16(LOW_WORDS,
							    r->div[0], il,
							    r->div[1]);
	const __m512i o = _mm512_and_si512(x, _mm512_set1_epi32(63));
	const __m512i ml = _mm512_srai_epi32(_mm512_sub_epi32(o, div), 31);

	return _mm512_add_epi32(SEL(ml, lo, hi),
				_mm512_or_si512(x, _mm512_set1_epi32(~63)));
}

static inline __attribute__((always_inline)) __m512i
entry_gather(const struct rans_dtable *d, __m512i x)
{
	const __m512i e = _mm512_i32gather_epi32(
		_mm512_and_si512(x, _mm512_set1_epi32(RANS_M - 1)),
		(const void *)d->slot, 4);

	return _mm512_or_si512(
		_mm512_slli_epi32(_mm512_and_si512(e, _mm512_set1_epi32(0xfff00)),
				  8),
		_mm512_srli_epi32(e, 20));
}

static inline __attribute__((always_inline)) __m512i
entry(const struct rans_dtable *d, const struct alias_regs *r, __m512i x,
      bool alias)
{
	return alias ? entry_alias(r, x) : entry_gather(d, x);
}

/* Fills fa[] with the entries of the words at p (a multiple of 16). */
static inline __attribute__((always_inline)) void
fa_fill(const struct rans_dtable *d, const struct alias_regs *r,
	uint32_t *fa, const uint8_t *p, size_t nwords, bool alias)
{
	for (size_t j = 0; j < nwords; j += 16) {
		const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(
			(const __m256i *)(const void *)(p + 2 * j)));
		const __m512i e = entry(d, r, w, alias);

		_mm512_store_si512(fa + j, _mm512_add_epi32(e,
			_mm512_mullo_epi32(_mm512_srli_epi32(e, 16),
					   _mm512_srli_epi32(w, 12))));
	}
}

/*
 * One step of 16 lanes: the pending renormalisation of y (words at p,
 * their entries at fa), then the decode. *s_ret: the slots decoded.
 */
static inline __attribute__((always_inline)) __m512i
step(const struct rans_dtable *d, const struct alias_regs *r, __m512i y,
     const uint8_t **pp, const uint32_t **fap, __m512i *s_ret, bool alias)
{
	const __mmask16 k = _mm512_cmplt_epu32_mask(y,
						    _mm512_set1_epi32(RANS_L));
	const __m512i fnr = entry(d, r, y, alias);
	const __m512i fa = _mm512_mask_blend_epi32(k, fnr,
		_mm512_maskz_expand_epi32(k, _mm512_loadu_si512(*fap)));
	const __m512i q = _mm512_mask_slli_epi32(_mm512_srli_epi32(y, 12), k,
						 y, 4);
	const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(
		(const __m256i *)(const void *)*pp));
	const unsigned c = (unsigned)__builtin_popcount(k);

	*s_ret = _mm512_mask_expand_epi32(y, k, w);
	*pp += 2 * c;
	*fap += c;
	return _mm512_add_epi32(_mm512_mullo_epi32(_mm512_srli_epi32(fa, 16), q),
				_mm512_and_si512(fa, _mm512_set1_epi32(0xffff)));
}

/* The first step: no renormalisation pending. */
static inline __attribute__((always_inline)) __m512i
step_first(const struct rans_dtable *d, const struct alias_regs *r,
	   __m512i x, bool alias)
{
	const __m512i e = entry(d, r, x, alias);

	return _mm512_add_epi32(
		_mm512_mullo_epi32(_mm512_srli_epi32(e, 16),
				   _mm512_srli_epi32(x, 12)),
		_mm512_and_si512(e, _mm512_set1_epi32(0xffff)));
}

/* Symbols of slots s0 (lanes 0-15) and s1, one per word, low byte. */
static inline __attribute__((always_inline)) __m512i
syms_alias(const struct alias_regs *r, __m512i s0, __m512i s1)
{
	const __m512i even = _mm512_set_epi16(
		62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32,
		30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i s = _mm512_permutex2var_epi16(s0, even, s1);
	const __m512i b = _mm512_srli_epi16(s, 6);
	const __m512i sym = _mm512_permutex2var_epi16(r->sym[0], b, r->sym[1]);
	const __m512i div = _mm512_permutex2var_epi16(r->div[0], b, r->div[1]);
	const __mmask32 hi = _mm512_cmpge_epu16_mask(
		_mm512_and_si512(s, _mm512_set1_epi16(63)), div);

	return _mm512_mask_srli_epi16(sym, hi, sym, 8);
}

static inline __attribute__((always_inline)) __m512i
syms_gather(const struct rans_dtable *d, __m512i s0, __m512i s1)
{
	const __m512i even = _mm512_set_epi16(
		62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32,
		30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i m = _mm512_set1_epi32(RANS_M - 1);
	const __m512i e0 = _mm512_i32gather_epi32(_mm512_and_si512(s0, m),
						  (const void *)d->slot, 4);
	const __m512i e1 = _mm512_i32gather_epi32(_mm512_and_si512(s1, m),
						  (const void *)d->slot, 4);

	return _mm512_permutex2var_epi16(e0, even, e1);
}

static inline __attribute__((always_inline)) void
put_group(uint8_t *out, const uint8_t *raw, size_t i, __m512i s)
{
	if (raw) {
		const __m512i r = _mm512_cvtepu8_epi16(_mm256_loadu_si256(
			(const __m256i *)(const void *)(raw + i)));
		const __m512i rr = _mm512_or_si512(r, _mm512_slli_epi16(r, 8));

		/* bits 7-14 from the symbol, the others from the raw byte */
		_mm512_storeu_si512(out + 2 * i, SEL(_mm512_set1_epi16(0x7f80),
						     _mm512_slli_epi16(s, 7),
						     rr));
	} else {
		_mm256_storeu_si256((__m256i *)(void *)(out + i),
				    _mm512_cvtepi16_epi8(s));
	}
}

static inline __attribute__((always_inline)) void
put_one(uint8_t *out, const uint8_t *raw, size_t i, uint32_t e)
{
	if (raw)
		put_le16(out + 2 * i, (uint16_t)((raw[i] & 0x80u) << 8 |
						 (e & 0xffu) << 7 |
						 (raw[i] & 0x7fu)));
	else
		out[i] = (uint8_t)e;
}

static inline __attribute__((always_inline)) enum gauss_status
decode32(const struct rans_dtable *d, const uint8_t *in, size_t in_nbytes,
	 const uint8_t *raw, uint8_t *out, size_t n, bool alias)
{
	const uint8_t *p = in + 4 * GROUP;
	const uint8_t *const end = in + in_nbytes;
	uint32_t fa[FA_WORDS] __attribute__((aligned(64)));
	uint32_t x[GROUP] __attribute__((aligned(64)));
	const uint32_t *fap = fa, *faend = fa;
	struct alias_regs r;
	__m512i y0, y1;
	size_t i;

	if (in_nbytes < 4 * GROUP || (in_nbytes - 4 * GROUP) % 2)
		return GAUSS_E_CORRUPT;
	y0 = _mm512_loadu_si512(in);
	y1 = _mm512_loadu_si512(in + 64);
	if (_mm512_cmplt_epu32_mask(y0, _mm512_set1_epi32(RANS_L)) |
	    _mm512_cmplt_epu32_mask(y1, _mm512_set1_epi32(RANS_L)))
		return GAUSS_E_CORRUPT;
	if (alias)
		alias_regs_build(d, &r);
	put_group(out, raw, 0, alias ? syms_alias(&r, y0, y1) :
				       syms_gather(d, y0, y1));
	y0 = step_first(d, &r, y0, alias);
	y1 = step_first(d, &r, y1, alias);
	for (i = GROUP; n - i >= GROUP && end - p >= GROUP_NBYTES;
	     i += GROUP) {
		__m512i s0, s1;

		if (faend - fap < GROUP) {
			size_t nw = (size_t)(end - p) / 2;

			nw = (nw < FA_WORDS ? nw : FA_WORDS) & ~(size_t)15;
			fa_fill(d, &r, fa, p, nw, alias);
			fap = fa;
			faend = fa + nw;
		}
		y0 = step(d, &r, y0, &p, &fap, &s0, alias);
		y1 = step(d, &r, y1, &p, &fap, &s1, alias);
		put_group(out, raw, i, alias ? syms_alias(&r, s0, s1) :
					       syms_gather(d, s0, s1));
	}
	_mm512_store_si512(x, y0);
	_mm512_store_si512(x + 16, y1);
	/* the renormalisation pending from the last group, then the rest */
	for (unsigned k = 0; k < GROUP; k++) {
		if (x[k] < RANS_L) {
			if (unlikely(end - p < 2))
				return GAUSS_E_CORRUPT;
			x[k] = (x[k] << 16) | get_le16(p);
			p += 2;
		}
	}
	for (; i < n; i++) {
		const unsigned k = (unsigned)(i % GROUP);
		const uint32_t e = d->slot[x[k] & (RANS_M - 1)];
		uint32_t xs;

		put_one(out, raw, i, e);
		xs = ((e >> 8) & 0xfff) * (x[k] >> RANS_SCALE_BITS) + (e >> 20);
		if (xs < RANS_L) {
			if (unlikely(end - p < 2))
				return GAUSS_E_CORRUPT;
			xs = (xs << 16) | get_le16(p);
			p += 2;
		}
		x[k] = xs;
	}
	if (p != end)
		return GAUSS_E_CORRUPT;
	for (unsigned k = 0; k < GROUP; k++)
		if (x[k] != RANS_L)
			return GAUSS_E_CORRUPT;
	return GAUSS_OK;
}

enum gauss_status
rans_decode_avx512(const struct rans_dtable *d, const uint8_t *in,
		   size_t in_nbytes, uint8_t *syms, size_t n)
{
	if (rans_lanes(n) != GROUP)
		return rans_decode_scalar(d, in, in_nbytes, syms, n);
	if (d->alias)
		return decode32(d, in, in_nbytes, NULL, syms, n, true);
	return decode32(d, in, in_nbytes, NULL, syms, n, false);
}

enum gauss_status
rans_decode_bf16_avx512(const struct rans_dtable *d, const uint8_t *in,
			size_t in_nbytes, const uint8_t *raw, uint8_t *dst,
			size_t n)
{
	if (rans_lanes(n) != GROUP)
		return rans_decode_bf16_scalar(d, in, in_nbytes, raw, dst, n);
	if (d->alias)
		return decode32(d, in, in_nbytes, raw, dst, n, true);
	return decode32(d, in, in_nbytes, raw, dst, n, false);
}
