/* SPDX-License-Identifier: MIT */
/*
 * rans_avx512_dec.c: the 32-lane rANS decoder with AVX-512 (F, BW, DQ, VL).
 * (draft)
 */
#include <immintrin.h>

#include "endian.h"
#include "rans.h"
#include "banned.h"

#define GROUP		RANS_MAX_LANES
#define GROUP_NBYTES	(2 * GROUP)	/* most words a group can read */

/*
 * The alias layout rearranged for the decoder: entry E of a bucket half
 * holds bias (bits 0-12), freq (13-24) and, in the low half only,
 * div - 1 (26-31). The new state is freq * (x >> 12) + o - 64 + bias.
 */
struct alias_regs {
	__m512i lo[4];
	__m512i hi[4];
	__m512i sym[2];		/* 64 words: sym_lo | sym_hi << 8 */
};

static void
alias_regs_build(const struct rans_dtable *d, struct alias_regs *r)
{
	uint32_t lo[RANS_ALIAS_BUCKETS] __attribute__((aligned(64)));
	uint32_t hi[RANS_ALIAS_BUCKETS] __attribute__((aligned(64)));
	uint16_t sym[RANS_ALIAS_BUCKETS] __attribute__((aligned(64)));

	for (unsigned b = 0; b < RANS_ALIAS_BUCKETS; b++) {
		const uint32_t a = d->alo[b], h = d->ahi[b];
		const uint32_t div = (a >> 12) & 0x7f;
		const uint32_t fhi = h & 0xfff, khi = (h >> 12) & 0xfff;
		const uint32_t shi = h >> 24;
		uint32_t flo = a & 0xfff, blo = flo - div, slo = a >> 24;
		uint32_t dm1 = div - 1;

		if (div == 0) {
			/* no low half: the high one takes the whole bucket */
			flo = fhi;
			blo = khi;
			slo = shi;
			dm1 = RANS_ALIAS_SLOTS - 1;
		}
		lo[b] = (blo + 64) | flo << 13 | dm1 << 26;
		hi[b] = div < RANS_ALIAS_SLOTS ?
			((khi - div + 64) | fhi << 13) : 0;
		sym[b] = (uint16_t)(slo | shi << 8);
	}
	for (unsigned i = 0; i < 4; i++) {
		r->lo[i] = _mm512_load_si512(lo + 16 * i);
		r->hi[i] = _mm512_load_si512(hi + 16 * i);
	}
	r->sym[0] = _mm512_load_si512(sym);
	r->sym[1] = _mm512_load_si512(sym + 32);
}

static inline __attribute__((always_inline)) __m512i
lookup64(const __m512i t[4], __m512i idx, __mmask16 upper)
{
	const __m512i a = _mm512_permutex2var_epi32(t[0], idx, t[1]);
	const __m512i b = _mm512_permutex2var_epi32(t[2], idx, t[3]);

	return _mm512_mask_blend_epi32(upper, a, b);
}

/* One decode step of 16 lanes by the alias layout; *m_ret: lanes in lo. */
static inline __attribute__((always_inline)) __m512i
step_alias(const struct alias_regs *r, __m512i x, __mmask16 *m_ret)
{
	const __m512i idx = _mm512_srli_epi32(x, 6);
	const __mmask16 up = _mm512_test_epi32_mask(x,
						    _mm512_set1_epi32(0x800));
	const __m512i lo = lookup64(r->lo, idx, up);
	const __m512i hi = lookup64(r->hi, idx, up);
	const __mmask16 m = _mm512_cmple_epu32_mask(_mm512_slli_epi32(x, 26),
						    lo);
	const __m512i e = _mm512_mask_blend_epi32(m, hi, lo);
	const __m512i f = _mm512_and_si512(_mm512_srli_epi32(e, 13),
					   _mm512_set1_epi32(0xfff));
	const __m512i k = _mm512_add_epi32(
		_mm512_and_si512(e, _mm512_set1_epi32(0x1fff)),
		_mm512_or_si512(x, _mm512_set1_epi32(~63)));

	*m_ret = m;
	return _mm512_add_epi32(_mm512_mullo_epi32(f, _mm512_srli_epi32(x, 12)),
				k);
}

static inline __attribute__((always_inline)) __m512i
renorm(__m512i x, const uint8_t **pp)
{
	const __mmask16 m = _mm512_cmplt_epu32_mask(x,
						    _mm512_set1_epi32(RANS_L));
	const __m512i w = _mm512_cvtepu16_epi32(
		_mm256_loadu_si256((const __m256i *)(const void *)*pp));

	*pp += 2 * (unsigned)__builtin_popcount(m);
	return _mm512_or_si512(_mm512_mask_slli_epi32(x, m, x, 16),
			       _mm512_maskz_expand_epi32(m, w));
}

/* Symbols of a group, one per word lane in lane order (low byte). */
static inline __attribute__((always_inline)) __m512i
syms_alias(const struct alias_regs *r, __m512i x0, __m512i x1,
	   __mmask16 m0, __mmask16 m1)
{
	const __m512i even = _mm512_set_epi16(
		62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32,
		30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i b = _mm512_permutex2var_epi16(_mm512_srli_epi32(x0, 6),
						    even,
						    _mm512_srli_epi32(x1, 6));
	const __m512i s = _mm512_permutex2var_epi16(r->sym[0], b, r->sym[1]);
	const __mmask32 m = _mm512_kunpackw(m1, m0);

	return _mm512_mask_srli_epi16(s, ~m, s, 8);
}

static inline __attribute__((always_inline)) void
put_bf16(uint8_t *dst, const uint8_t *raw, __m512i s)
{
	const __m512i r = _mm512_cvtepu8_epi16(
		_mm256_loadu_si256((const __m256i *)(const void *)raw));
	const __m512i rr = _mm512_or_si512(r, _mm512_slli_epi16(r, 8));

	/* bits 7-14 from the symbol, the others from the raw byte */
	_mm512_storeu_si512(dst, _mm512_ternarylogic_epi32(
		_mm512_set1_epi16(0x7f80), _mm512_slli_epi16(s, 7), rr, 0xca));
}

static inline __attribute__((always_inline)) void
put_syms(uint8_t *syms, __m512i s)
{
	_mm256_storeu_si256((__m256i *)(void *)syms, _mm512_cvtepi16_epi8(s));
}

/*
 * The scalar decoder from element i (a multiple of GROUP) on, with the
 * states in x[] and the words at *pp; false when the words run out.
 */
static bool
tail_scalar(const struct rans_dtable *d, uint32_t *x, const uint8_t **pp,
	    const uint8_t *end, size_t i, size_t n, const uint8_t *raw,
	    uint8_t *out)
{
	const uint8_t *p = *pp;

	for (; i < n; i++) {
		const unsigned k = (unsigned)(i % GROUP);
		const uint32_t e = d->slot[x[k] & (RANS_M - 1)];
		uint32_t xs;

		if (raw)
			put_le16(out + 2 * i,
				 (uint16_t)((raw[i] & 0x80u) << 8 |
					    (e & 0xffu) << 7 |
					    (raw[i] & 0x7fu)));
		else
			out[i] = (uint8_t)e;
		xs = ((e >> 8) & 0xfff) * (x[k] >> RANS_SCALE_BITS) + (e >> 20);
		if (xs < RANS_L) {
			if (unlikely(end - p < 2))
				return false;
			xs = (xs << 16) | get_le16(p);
			p += 2;
		}
		x[k] = xs;
	}
	*pp = p;
	return true;
}

static inline __attribute__((always_inline)) enum gauss_status
decode32(const struct rans_dtable *d, const uint8_t *in, size_t in_nbytes,
	 const uint8_t *raw, uint8_t *out, size_t n)
{
	const uint8_t *p = in + 4 * GROUP;
	const uint8_t *const end = in + in_nbytes;
	uint32_t x[GROUP] __attribute__((aligned(64)));
	__m512i x0, x1;
	size_t i = 0;

	if (in_nbytes < 4 * GROUP || (in_nbytes - 4 * GROUP) % 2)
		return GAUSS_E_CORRUPT;
	x0 = _mm512_loadu_si512(in);
	x1 = _mm512_loadu_si512(in + 64);
	if (_mm512_cmplt_epu32_mask(x0, _mm512_set1_epi32(RANS_L)) |
	    _mm512_cmplt_epu32_mask(x1, _mm512_set1_epi32(RANS_L)))
		return GAUSS_E_CORRUPT;
	if (d->alias) {
		struct alias_regs r;

		alias_regs_build(d, &r);
		for (; n - i >= GROUP && end - p >= GROUP_NBYTES; i += GROUP) {
			__mmask16 m0, m1;
			const __m512i y0 = step_alias(&r, x0, &m0);
			const __m512i y1 = step_alias(&r, x1, &m1);
			const __m512i s = syms_alias(&r, x0, x1, m0, m1);

			if (raw)
				put_bf16(out + 2 * i, raw + i, s);
			else
				put_syms(out + i, s);
			x0 = renorm(y0, &p);
			x1 = renorm(y1, &p);
		}
	}
	_mm512_store_si512(x, x0);
	_mm512_store_si512(x + 16, x1);
	if (!tail_scalar(d, x, &p, end, i, n, raw, out))
		return GAUSS_E_CORRUPT;
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
	return decode32(d, in, in_nbytes, NULL, syms, n);
}

enum gauss_status
rans_decode_bf16_avx512(const struct rans_dtable *d, const uint8_t *in,
			size_t in_nbytes, const uint8_t *raw, uint8_t *dst,
			size_t n)
{
	if (rans_lanes(n) != GROUP)
		return rans_decode_bf16_scalar(d, in, in_nbytes, raw, dst, n);
	return decode32(d, in, in_nbytes, raw, dst, n);
}
