/* SPDX-License-Identifier: MIT */
/*
 * rans_fine_avx512.c: the decoder of fine tables with AVX-512 (F, BW, DQ,
 * VL), the twin of rans_fine_decode(): same symbols, same verdicts.
 *
 * A step decodes 16 lanes. The slot's symbol comes from one gather of the
 * 32 KiB symbol table (4 bytes read at the slot, the low one kept; the
 * bytes past its end are fc[]'s, inside the table). Its frequency and
 * cumulative frequency come from fc[], 256 dwords held in 16 registers:
 * vpermt2d looks up 32 of them with the symbol's low 5 bits, and bits 5, 6
 * and 7 choose among the eight results. Measured here on int8 files
 * (bench/RESULTS.md): a second gather from fc[] took 1.2 times as long; a
 * 128 KiB table of each slot's frequency and code, gathered beside the
 * symbol, 0.8 times, but it made every decoder table 160 KiB, allocated
 * by mmap and faulted in at each open. The lanes whose state falls below
 * RANS_L take the next words of the stream in lane order (16 words
 * widened to dwords, vpexpandd into those lanes). Chunks of 32 lanes take
 * two steps per group, the second one's words after the first's; chunks
 * of fewer than 16 lanes, and the last groups, go to the scalar loop.
 */
#include <immintrin.h>

#include "rans.h"
#include "rans_fine.h"
#include "banned.h"

struct fc_regs {
	__m512i t[16];		/* fc[16 j .. 16 j + 15] */
};

/* fc[s] for the symbols s (0 to 255) of the lanes. */
static inline __attribute__((always_inline)) __m512i
fc_lookup(const struct fc_regs *r, __m512i s)
{
	const __mmask16 b5 = _mm512_test_epi32_mask(s, _mm512_set1_epi32(32));
	const __mmask16 b6 = _mm512_test_epi32_mask(s, _mm512_set1_epi32(64));
	const __mmask16 b7 = _mm512_test_epi32_mask(s, _mm512_set1_epi32(128));
	__m512i v[4];

	for (unsigned j = 0; j < 4; j++)
		v[j] = _mm512_mask_mov_epi32(
			_mm512_permutex2var_epi32(r->t[4 * j], s,
						  r->t[4 * j + 1]), b5,
			_mm512_permutex2var_epi32(r->t[4 * j + 2], s,
						  r->t[4 * j + 3]));
	v[0] = _mm512_mask_mov_epi32(v[0], b6, v[1]);
	v[2] = _mm512_mask_mov_epi32(v[2], b6, v[3]);
	return _mm512_mask_mov_epi32(v[0], b7, v[2]);
}

static inline __attribute__((always_inline)) __m512i
fine_step(const struct rans_dtable *d, const struct fc_regs *r, __m512i x,
	  const uint8_t **pp, uint8_t *out)
{
	const __m512i slot = _mm512_and_si512(x,
					      _mm512_set1_epi32(RANS_FINE_M - 1));
	const __m512i s = _mm512_and_si512(
		_mm512_i32gather_epi32(slot, d->fine.sym, 1),
		_mm512_set1_epi32(0xff));
	const __m512i fc = fc_lookup(r, s);
	const __m512i xs = _mm512_sub_epi32(
		_mm512_add_epi32(_mm512_mullo_epi32(
			_mm512_and_si512(fc, _mm512_set1_epi32(0xffff)),
			_mm512_srli_epi32(x, RANS_FINE_BITS)), slot),
		_mm512_srli_epi32(fc, 16));
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
	struct fc_regs r;
	size_t i = 0;

	GAUSS_ASSERT(d->nsym >= 2 && d->scale_bits == RANS_FINE_BITS);
	if (!rans_states_read(in, in_nbytes, lanes, x))
		return GAUSS_E_CORRUPT;
	if (lanes >= 16)
		for (unsigned j = 0; j < 16; j++)
			r.t[j] = _mm512_loadu_si512(d->fine.fc + 16 * j);
	if (lanes == 32) {
		__m512i x0 = _mm512_loadu_si512(x), x1 = _mm512_loadu_si512(x + 16);

		/* a group reads at most 32 words */
		while (n - i >= 32 && end - p >= 64) {
			x0 = fine_step(d, &r, x0, &p, syms + i);
			x1 = fine_step(d, &r, x1, &p, syms + i + 16);
			i += 32;
		}
		_mm512_storeu_si512(x, x0);
		_mm512_storeu_si512(x + 16, x1);
	} else if (lanes == 16) {
		__m512i x0 = _mm512_loadu_si512(x);

		while (n - i >= 16 && end - p >= 32) {
			x0 = fine_step(d, &r, x0, &p, syms + i);
			i += 16;
		}
		_mm512_storeu_si512(x, x0);
	}
	return rans_fine_finish(d, x, lanes, p, end, i, n, syms);
}
