/* SPDX-License-Identifier: MIT */
/*
 * rans_fine_avx512.c: the decoder of fine tables with AVX-512 (F, BW, DQ,
 * VL), the twin of rans_fine_decode(): same symbols, same verdicts.
 *
 * A step decodes 16 lanes with two gathers at the slot, independent of
 * each other: the slot's frequency and code from fk[] (a 128 KiB table of
 * freq | k << 15), and its symbol from the 32 KiB symbol table (4 bytes
 * read at the slot, the low one kept; the bytes past its end are fc[]'s,
 * inside the table). Measured here on int8 files: two gathers chained
 * (slot to symbol, symbol to frequency) took 1.4 times as long, fc[] held
 * in registers and read with vpermt2d 1.2 times, one gather of 8-byte
 * entries 1.1 times. The lanes whose state falls below RANS_L take the
 * next words of the stream in lane order (16 words widened to dwords,
 * vpexpandd into those lanes). Chunks of 32 lanes take two steps per
 * group, the second one's words after the first's; chunks of fewer than
 * 16 lanes, and the last groups, go to the scalar loop.
 */
#include <immintrin.h>

#include "rans.h"
#include "rans_fine.h"
#include "banned.h"

static inline __attribute__((always_inline)) __m512i
fine_step(const struct rans_dtable *d, __m512i x, const uint8_t **pp,
	  uint8_t *out)
{
	const __m512i slot = _mm512_and_si512(x,
					      _mm512_set1_epi32(RANS_FINE_M - 1));
	const __m512i fk = _mm512_i32gather_epi32(slot, d->fine.fk, 4);
	const __m512i s = _mm512_i32gather_epi32(slot, d->fine.sym, 1);
	const __m512i xs = _mm512_add_epi32(_mm512_mullo_epi32(
		_mm512_and_si512(fk, _mm512_set1_epi32(0x7fff)),
		_mm512_srli_epi32(x, RANS_FINE_BITS)), _mm512_srli_epi32(fk, 15));
	const __mmask16 m = _mm512_cmplt_epu32_mask(xs,
						    _mm512_set1_epi32(RANS_L));
	const __m512i w = _mm512_maskz_expand_epi32(m, _mm512_cvtepu16_epi32(
		_mm256_loadu_si256((const __m256i *)(const void *)*pp)));

	_mm_storeu_si128((__m128i *)(void *)out, _mm512_cvtepi32_epi8(s));
	*pp += 2 * (unsigned)__builtin_popcount(m);
	return _mm512_mask_or_epi32(xs, m, _mm512_slli_epi32(xs, 16), w);
}

enum gauss_status
rans_fine_decode_avx512(const struct rans_dtable *d, const uint8_t *in,
			size_t in_nbytes, uint8_t *syms, size_t n)
{
	const unsigned lanes = rans_lanes_unit(n, d->lane_unit);
	const uint8_t *p = in + (size_t)lanes * 4, *const end = in + in_nbytes;
	uint32_t x[RANS_MAX_LANES];
	size_t i = 0;

	if (!rans_fine_start(d, in, in_nbytes, lanes, x))
		return GAUSS_E_CORRUPT;
	if (lanes == 32) {
		__m512i x0 = _mm512_loadu_si512(x), x1 = _mm512_loadu_si512(x + 16);

		/* a group reads at most 32 words */
		while (n - i >= 32 && end - p >= 64) {
			x0 = fine_step(d, x0, &p, syms + i);
			x1 = fine_step(d, x1, &p, syms + i + 16);
			i += 32;
		}
		_mm512_storeu_si512(x, x0);
		_mm512_storeu_si512(x + 16, x1);
	} else if (lanes == 16) {
		__m512i x0 = _mm512_loadu_si512(x);

		while (n - i >= 16 && end - p >= 32) {
			x0 = fine_step(d, x0, &p, syms + i);
			i += 16;
		}
		_mm512_storeu_si512(x, x0);
	}
	return rans_fine_finish(d, x, lanes, p, end, i, n, syms);
}
