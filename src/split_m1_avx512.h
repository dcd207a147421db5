/* SPDX-License-Identifier: MIT */
/*
 * split_m1_avx512.h: the AVX-512 (F, BW, VL, BMI2) steps of the top
 * mantissa bit's raw plane (split.h), shared by the merge pass and the
 * fused rANS decoder. Include only from files built for that level.
 */
#ifndef GAUSS_SPLIT_M1_AVX512_H
#define GAUSS_SPLIT_M1_AVX512_H

#include <immintrin.h>
#include <stdbool.h>

#include "split.h"

/*
 * The 32 entries of a whole group from its SPLIT_M1_GROUP_NBYTES bytes:
 * the low 7 bits for entries 0-27, the top bits (vpmovb2m) spread by pdep
 * for 28-31. With room, 32 bytes are loaded (4 past the group, still in
 * the plane); without, a masked load reads no byte past the group (on
 * this project's AMD machines a masked load in the decoding loop costs a
 * third of its speed on large tensors, so it is kept for the last group).
 */
static inline __attribute__((always_inline)) __m256i
m1_group_entries(const uint8_t *raw, bool room)
{
	const __m256i b = room ?
		_mm256_loadu_si256((const __m256i *)(const void *)raw) :
		_mm256_maskz_loadu_epi8(0x0fffffff, raw);
	const unsigned top = _mm256_movepi8_mask(b);

	return _mm256_mask_set1_epi32(
		_mm256_and_si256(b, _mm256_set1_epi8(0x7f)), 0x80,
		(int)_pdep_u32(top, 0x7f7f7f7f));
}

/* m ? a : b, bit by bit */
#define SPLIT_M1_SEL(m, a, b)	_mm512_ternarylogic_epi32(m, a, b, 0xca)

/*
 * 32 values from 32 symbols (low bytes of sw's words, high bytes
 * ignored), the group's entries and base2 = (2 * base) << 6 in every
 * word: (s + 2 * base) << 6 | (e & 0x3f) | (e & 0x40) << 9.
 */
static inline __attribute__((always_inline)) __m512i
m1_group_values(__m512i sw, __m256i entries, __m512i base2)
{
	const __m512i e = _mm512_cvtepu8_epi16(entries);
	/* s << 6 in bits 6-13 (its high byte dropped), e's bits 0-5 */
	const __m512i sm = SPLIT_M1_SEL(_mm512_set1_epi16(0x3fc0),
					_mm512_slli_epi16(sw, 6), e);
	/* + 2 * base << 6 (base2 holds it shifted), then the sign */
	return SPLIT_M1_SEL(_mm512_set1_epi16((short)0x8000),
			    _mm512_slli_epi16(e, 9),
			    _mm512_add_epi16(sm, base2));
}

/*
 * Whether the group of entries from entry i (a multiple of 32) of a plane
 * of n entries has 32 bytes of the plane from its start: when a whole
 * group follows it (a cheap test; the last group uses the masked load).
 */
static inline __attribute__((always_inline)) bool
m1_group_room(size_t i, size_t n)
{
	return n - i >= 2 * SPLIT_M1_GROUP;
}

#endif /* GAUSS_SPLIT_M1_AVX512_H */
