/* SPDX-License-Identifier: MIT */
/*
 * split_avx512.c: the merge of a chunk whose table has whole values
 * (split.h), with AVX-512 F, BW and VL, for exp-bf16.
 *
 * Sixteen elements a step, one per 32-bit lane: whether a symbol is whole
 * comes from a 256-bit map (a permute picks the symbol's 32-bit word, a
 * variable shift its bit); a whole symbol's value from a 64-entry table
 * of the symbols 192 to 255 (two two-register permutes and a blend); the
 * raw bytes of the others from vpexpandd, which hands the next unread raw
 * bytes, in order, to exactly the lanes that are not whole. Tables whose
 * whole symbols reach below 192, and the tail, go to the scalar code.
 *
 * Where the CPU also has AVX-512 VBMI and VBMI2 (checked at run time: the
 * level itself asks for F, BW, DQ and VL only), 64 elements a step in byte
 * lanes come first: vpermi2b looks the symbols up in a 256-byte map of
 * whole flags and vpermb in the 64 values' low and high bytes, and
 * vpexpandb loads the raw bytes straight into the lanes that take them.
 */
#include <immintrin.h>
#include <string.h>

#include "common.h"
#include "endian.h"
#include "cpu.h"
#include "split.h"
#include "split_m1_avx512.h"
#include "banned.h"

/*
 * 64 elements a step while 64 raw entries remain; returns the elements
 * done, *j the raw entries taken. flag: 0xff for a whole symbol, else 0;
 * val: the values of the symbols 192 to 255.
 */
__attribute__((target("avx512vbmi,avx512vbmi2")))
static size_t
merge64(const uint8_t *syms, const uint8_t *raw, size_t n, size_t avail,
	const uint8_t flag[256], const uint32_t val[64], uint8_t *dst,
	size_t *j_ret)
{
	uint8_t vlo[64], vhi[64];
	size_t i = 0, j = 0;

	for (unsigned k = 0; k < 64; k++) {
		vlo[k] = (uint8_t)val[k];
		vhi[k] = (uint8_t)(val[k] >> 8);
	}
	{
		const __m512i f0 = _mm512_loadu_si512(flag);
		const __m512i f1 = _mm512_loadu_si512(flag + 64);
		const __m512i f2 = _mm512_loadu_si512(flag + 128);
		const __m512i f3 = _mm512_loadu_si512(flag + 192);
		const __m512i wlo = _mm512_loadu_si512(vlo);
		const __m512i whi = _mm512_loadu_si512(vhi);
		const __m512i c7f = _mm512_set1_epi8(0x7f);
		const __m512i c80 = _mm512_set1_epi8((char)0x80);
		/* qwords of lo|hi words 0-7, 8-15, ... from the two unpacks */
		const __m512i first = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
		const __m512i second = _mm512_set_epi64(15, 14, 7, 6, 13, 12,
							5, 4);

		for (; i + 64 <= n && j + 64 <= avail; i += 64) {
			const __m512i s = _mm512_loadu_si512(syms + i);
			const __mmask64 whole = _mm512_movepi8_mask(
				_mm512_mask_blend_epi8(
					_mm512_movepi8_mask(s),
					_mm512_permutex2var_epi8(f0, s, f1),
					_mm512_permutex2var_epi8(f2, s, f3)));
			const __m512i r = _mm512_maskz_expandloadu_epi8(
				~whole, raw + j);
			/* lo = s bit 0 << 7 | r & 0x7f; hi = r & 0x80 | s >> 1 */
			const __m512i lo = _mm512_mask_blend_epi8(whole,
				_mm512_ternarylogic_epi32(
					_mm512_and_si512(
						_mm512_slli_epi16(s, 7), c80),
					r, c7f, 0xf8),
				_mm512_permutexvar_epi8(s, wlo));
			const __m512i hi = _mm512_mask_blend_epi8(whole,
				_mm512_ternarylogic_epi32(
					_mm512_and_si512(
						_mm512_srli_epi16(s, 1), c7f),
					r, c80, 0xf8),
				_mm512_permutexvar_epi8(s, whi));
			const __m512i a = _mm512_unpacklo_epi8(lo, hi);
			const __m512i b = _mm512_unpackhi_epi8(lo, hi);

			_mm512_storeu_si512(dst + 2 * i,
				_mm512_permutex2var_epi64(a, first, b));
			_mm512_storeu_si512(dst + 2 * i + 64,
				_mm512_permutex2var_epi64(a, second, b));
			j += 64 - (size_t)__builtin_popcountll(whole);
		}
	}
	*j_ret = j;
	return i;
}

static size_t
merge_whole(enum fmt_kind kind, const struct rans_whole *w,
	    const uint8_t *syms, const uint8_t *raw, size_t n, size_t avail,
	    uint8_t *dst, bool wide)
{
	uint32_t map[16] = { 0 }, val[64] = { 0 };
	size_t i = 0, j = 0;

	if (kind != FMT_KIND_EXP_BF16)
		goto rest;
	for (unsigned k = 0; k < w->count; k++) {
		if (w->code[k] < 192)
			goto rest;
		val[w->code[k] - 192] = w->value[k];
	}
	for (unsigned s = 0; s < 256; s++)
		map[s / 32] |= (uint32_t)w->is_whole[s] << (s % 32);
	if (wide) {
		uint8_t flag[256];

		for (unsigned s = 0; s < 256; s++)
			flag[s] = w->is_whole[s] ? 0xff : 0;
		i = merge64(syms, raw, n, avail, flag, val, dst, &j);
	}
	{
		const __m512i vmap = _mm512_loadu_si512(map);
		const __m512i v0 = _mm512_loadu_si512(val);
		const __m512i v1 = _mm512_loadu_si512(val + 16);
		const __m512i v2 = _mm512_loadu_si512(val + 32);
		const __m512i v3 = _mm512_loadu_si512(val + 48);
		const __m512i one = _mm512_set1_epi32(1);
		const __m512i c31 = _mm512_set1_epi32(31);
		const __m512i c32 = _mm512_set1_epi32(32);
		const __m512i c7f = _mm512_set1_epi32(0x7f);
		const __m512i c80 = _mm512_set1_epi32(0x80);

		/* j + 16 <= avail: a step never reads past the raw plane */
		for (; i + 16 <= n && j + 16 <= avail; i += 16) {
			const __m512i s = _mm512_cvtepu8_epi32(
				_mm_loadu_si128((const void *)(syms + i)));
			const __m512i word = _mm512_permutexvar_epi32(
				_mm512_srli_epi32(s, 5), vmap);
			const __mmask16 whole = _mm512_test_epi32_mask(
				_mm512_srlv_epi32(word,
						  _mm512_and_si512(s, c31)),
				one);
			const __m512i lo = _mm512_permutex2var_epi32(v0, s,
								     v1);
			const __m512i hi = _mm512_permutex2var_epi32(v2, s,
								     v3);
			const __m512i wv = _mm512_mask_blend_epi32(
				_mm512_test_epi32_mask(s, c32), lo, hi);
			const __m512i r = _mm512_maskz_expand_epi32(
				(__mmask16)~whole, _mm512_cvtepu8_epi32(
					_mm_loadu_si128((const void *)(raw +
								       j))));
			const __m512i ev = _mm512_or_si512(
				_mm512_or_si512(
					_mm512_slli_epi32(
						_mm512_and_si512(r, c80), 8),
					_mm512_slli_epi32(s, 7)),
				_mm512_and_si512(r, c7f));

			_mm256_storeu_si256((void *)(dst + 2 * i),
					    _mm512_cvtepi32_epi16(
						    _mm512_mask_blend_epi32(
							    whole, ev, wv)));
			j += 16 - (size_t)__builtin_popcount(whole);
		}
	}
rest:
	return split_merge_whole_from(kind, w, syms, raw, n, avail, i, j,
				      dst);
}

size_t
split_merge_whole_avx512(enum fmt_kind kind, const struct rans_whole *w,
			 const uint8_t *syms, const uint8_t *raw, size_t n,
			 size_t avail, uint8_t *dst)
{
	return merge_whole(kind, w, syms, raw, n, avail, dst, cpu_has_vbmi2());
}

size_t
split_merge_whole_avx512_16(enum fmt_kind kind, const struct rans_whole *w,
			    const uint8_t *syms, const uint8_t *raw, size_t n,
			    size_t avail, uint8_t *dst)
{
	return merge_whole(kind, w, syms, raw, n, avail, dst, false);
}

size_t
split_planes_whole_avx512(enum fmt_kind kind, const struct rans_whole *w,
			  const uint8_t *src, size_t n, uint8_t *syms,
			  uint8_t *raw)
{
	int pos = -1, neg = -1;
	size_t i = 0, j = 0, rest;
	__mmask16 bad = 0;

	if (kind != FMT_KIND_EXP_BF16)
		return split_planes_whole(kind, w, src, n, syms, raw);
	/* the fast path: lists of the two zeros, as gauss writes them */
	for (unsigned k = 0; k < w->count; k++) {
		if (w->value[k] == 0)
			pos = w->code[k];
		else if (w->value[k] == 0x8000)
			neg = w->code[k];
		else
			return split_planes_whole(kind, w, src, n, syms, raw);
	}
	{
		const __m512i vpos = _mm512_set1_epi32(pos);
		const __m512i vneg = _mm512_set1_epi32(neg);
		const __m512i c80 = _mm512_set1_epi32(0x80);
		const __m512i c7f = _mm512_set1_epi32(0x7f);
		const __m512i cff = _mm512_set1_epi32(0xff);
		const __m512i sgn = _mm512_set1_epi32(0x8000);
		const __mmask16 use_pos = pos >= 0 ? 0xffff : 0;
		const __mmask16 use_neg = neg >= 0 ? 0xffff : 0;

		for (; i + 16 <= n; i += 16) {
			const __m512i v = _mm512_cvtepu16_epi32(
				_mm256_loadu_si256((const void *)(src +
								     2 * i)));
			const __m512i e = _mm512_and_si512(
				_mm512_srli_epi32(v, 7), cff);
			const __mmask16 zp = _mm512_cmpeq_epi32_mask(
				v, _mm512_setzero_si512()) & use_pos;
			const __mmask16 zn = _mm512_cmpeq_epi32_mask(v, sgn) &
					     use_neg;
			const __mmask16 whole = zp | zn;
			__m512i sym = _mm512_mask_mov_epi32(e, zp, vpos);
			const __m512i r = _mm512_or_si512(
				_mm512_and_si512(_mm512_srli_epi32(v, 8), c80),
				_mm512_and_si512(v, c7f));

			sym = _mm512_mask_mov_epi32(sym, zn, vneg);
			/* an exponent on a whole symbol: not this table's */
			bad |= (__mmask16)~whole &
			       ((_mm512_cmpeq_epi32_mask(e, vpos) & use_pos) |
				(_mm512_cmpeq_epi32_mask(e, vneg) & use_neg));
			_mm_storeu_si128((void *)(syms + i),
					 _mm512_cvtepi32_epi8(sym));
			_mm_storeu_si128((void *)(raw + j),
					 _mm512_cvtepi32_epi8(
						 _mm512_maskz_compress_epi32(
							 (__mmask16)~whole,
							 r)));
			j += 16 - (size_t)__builtin_popcount(whole);
		}
	}
	if (bad)
		return SIZE_MAX;
	rest = split_planes_whole(kind, w, src + 2 * i, n - i, syms + i,
				  raw + j);
	return rest == SIZE_MAX ? SIZE_MAX : j + rest;
}

/* The sum of the 32 unsigned 16-bit lanes of v. */
static uint64_t
widen_sum16(__m512i v)
{
	return (uint64_t)_mm512_reduce_add_epi32(_mm512_add_epi32(
		_mm512_and_si512(v, _mm512_set1_epi32(0xffff)),
		_mm512_srli_epi32(v, 16)));
}

/*
 * split_sample_bf16() 32 elements a step: e = exponent in 16-bit lanes;
 * the smallest of e - 1 (exponent 0 wraps to 0xffff and drops out) and
 * the largest e give the range, and a masked add counts exponent 0 in
 * 16-bit lanes (at most 8 a stride, added up every 4096 strides). The
 * sampled group of each stride is counted by the scalar loop while it is
 * in L1: one pass over the block from memory, not two.
 */
size_t
split_sample_bf16_avx512(const uint8_t *src, size_t n, struct split_range *r,
			 uint32_t c[4][512])
{
	const size_t stride = (size_t)SPLIT_SAMPLE_GROUP * SPLIT_SAMPLE_EVERY;
	const __m512i emask = _mm512_set1_epi16(0xff);
	const __m512i one = _mm512_set1_epi16(1);
	__m512i vmin = _mm512_set1_epi16(-1), vmax = _mm512_setzero_si512();
	__m512i z16 = _mm512_setzero_si512();
	uint64_t n0 = 0;
	unsigned strides = 0;
	struct split_range t;
	size_t g;

	for (g = 0; g + stride <= n; g += stride) {
		const uint8_t *const p = src + 2 * g;

		for (unsigned i = 0; i < stride; i += 32) {
			const __m512i v = _mm512_loadu_si512(p + 2 * i);
			const __m512i e = _mm512_and_si512(
				_mm512_srli_epi16(v, 7), emask);

			vmin = _mm512_min_epu16(vmin,
						_mm512_sub_epi16(e, one));
			vmax = _mm512_max_epu16(vmax, e);
			z16 = _mm512_mask_add_epi16(
				z16, _mm512_cmpeq_epi16_mask(
					e, _mm512_setzero_si512()),
				z16, one);
		}
		for (unsigned i = 0; i < SPLIT_SAMPLE_GROUP; i += 4) {
			const uint64_t w = get_le64(p + 2 * i);

			for (unsigned k = 0; k < 4; k++)
				c[k][(w >> (16 * k + 6)) & 0x1ff]++;
		}
		if (++strides == 4096) {
			n0 += widen_sum16(z16);
			z16 = _mm512_setzero_si512();
			strides = 0;
		}
	}
	n0 += widen_sum16(z16);
	/* the range facts of the rest: less than a stride, nothing sampled */
	(void)split_sample_bf16(src + 2 * g, n - g, &t, c);
	/* lo: least e - 1, plus 1 (0x10000: none); hi: most e (0: none) */
	r->lo = MIN(1 + (unsigned)_mm512_reduce_min_epu32(_mm512_min_epu32(
			_mm512_and_si512(vmin, _mm512_set1_epi32(0xffff)),
			_mm512_srli_epi32(vmin, 16))), 256u);
	r->lo = MIN(r->lo, t.lo);
	r->hi = MAX((unsigned)_mm512_reduce_max_epu32(_mm512_max_epu32(
			_mm512_and_si512(vmax, _mm512_set1_epi32(0xffff)),
			_mm512_srli_epi32(vmax, 16))), t.hi);
	r->n0 = n0 + t.n0;
	return g;
}

/*
 * split_outer_bf16() 32 elements a step: the lanes whose exponent is not 0
 * and outside [slo, shi], rare, are counted one by one.
 */
void
split_outer_bf16_avx512(const uint8_t *src, size_t n, unsigned slo,
			unsigned shi, uint32_t outer[256])
{
	const __m512i emask = _mm512_set1_epi16(0xff);
	const __m512i vlo = _mm512_set1_epi16((short)slo);
	const __m512i vhi = _mm512_set1_epi16((short)shi);
	size_t i;

	for (i = 0; i + 32 <= n; i += 32) {
		const __m512i e = _mm512_and_si512(_mm512_srli_epi16(
			_mm512_loadu_si512(src + 2 * i), 7), emask);
		const __mmask32 nz = _mm512_test_epi16_mask(e, e);
		__mmask32 out = _mm512_mask_cmplt_epu16_mask(nz, e, vlo) |
				_mm512_mask_cmpgt_epu16_mask(nz, e, vhi);

		while (out) {
			const unsigned k = (unsigned)__builtin_ctz(out);

			outer[(get_le16(src + 2 * (i + k)) >> 7) & 0xff]++;
			out &= out - 1;
		}
	}
	split_outer_bf16(src + 2 * i, n - i, slo, shi, outer);
}

/*
 * Top mantissa bit (split.h): 32 elements a step (split_m1_avx512.h for
 * the merge's steps; planes: the values' fields in 16-bit lanes, narrowed
 * to bytes, entries 28-31 packed by pext into the top bits of bytes 0-27).
 */
void
split_merge_m1_avx512(const uint8_t *syms, const uint8_t *raw, size_t n,
		      unsigned base, uint8_t *dst)
{
	const __m512i base2 = _mm512_set1_epi16((short)(2 * base << 6));
	size_t i = 0;

	for (; i + SPLIT_M1_GROUP <= n; i += SPLIT_M1_GROUP) {
		const __m512i sw = _mm512_cvtepu8_epi16(_mm256_loadu_si256(
			(const __m256i *)(const void *)(syms + i)));

		_mm512_storeu_si512(dst + 2 * i, m1_group_values(
			sw, m1_group_entries(raw + i / SPLIT_M1_GROUP *
					     SPLIT_M1_GROUP_NBYTES,
					     m1_group_room(i, n)), base2));
	}
	split_merge_m1_from(syms, raw, n, i, base, dst);
}

bool
split_planes_m1_avx512(const uint8_t *src, size_t n, unsigned base,
		       uint8_t *syms, uint8_t *raw)
{
	const __m512i base2 = _mm512_set1_epi16((short)(2 * base));
	const __m512i c1ff = _mm512_set1_epi16(0x1ff);
	const __m512i c40 = _mm512_set1_epi16(0x40);
	const __m512i c3f = _mm512_set1_epi16(0x3f);
	const __m512i c255 = _mm512_set1_epi16(255);
	__mmask32 bad = 0;
	size_t i = 0;

	for (; i + SPLIT_M1_GROUP <= n; i += SPLIT_M1_GROUP,
	     raw += SPLIT_M1_GROUP_NBYTES) {
		const __m512i v = _mm512_loadu_si512(src + 2 * i);
		const __m512i sw = _mm512_sub_epi16(
			_mm512_and_si512(_mm512_srli_epi16(v, 6), c1ff), base2);
		/* (v >> 9 & 0x40) | (v & 0x3f) */
		const __m512i ew = _mm512_ternarylogic_epi32(
			_mm512_and_si512(v, c3f), _mm512_srli_epi16(v, 9), c40,
			0xf8);
		const __m256i e = _mm512_cvtepi16_epi8(ew);
		const unsigned top = _pext_u32(
			(unsigned)_mm256_extract_epi32(e, 7), 0x7f7f7f7f);

		bad |= _mm512_cmpgt_epu16_mask(sw, c255);
		_mm256_storeu_si256((__m256i *)(void *)(syms + i),
				    _mm512_cvtepi16_epi8(sw));
		const __m256i out = _mm256_or_si256(
			e, _mm256_maskz_set1_epi8(top, (char)0x80));

		/* 4 bytes past the group while the next one overwrites them
		 * (masked stores are slow here: m1_group_entries()) */
		if (m1_group_room(i, n))
			_mm256_storeu_si256((__m256i *)(void *)raw, out);
		else
			_mm256_mask_storeu_epi8(raw, 0x0fffffff, out);
	}
	return bad == 0 &&
	       split_planes_m1_from(src, n, i, base, syms,
				    raw - i / SPLIT_M1_GROUP *
					  SPLIT_M1_GROUP_NBYTES);
}
