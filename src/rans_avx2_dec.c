/* SPDX-License-Identifier: MIT */
/*
 * rans_avx2_dec.c: the 4- to 32-lane rANS decoder with AVX2, giving the
 * bytes and verdicts of rans_decode_scalar().
 *
 * Chunks of 1 or 2 lanes (and fused bf16 chunks of 4, where the scalar
 * loop is as fast) go to the scalar decoder. Chunks of w = 16 or 8 lanes
 * (decode_narrow()) run the steps of decode32() in w / 8 ymm, a group of w
 * elements a step; w = 4 uses one ymm whose lanes 4-7 are cleared from
 * every renormalisation mask (rm &= lm), so they take no word, and only
 * the symbols of lanes below w are stored.
 *
 * The method is that of rans_avx512_dec.c (read its comment first), in
 * four ymm of 8 lanes (lanes 8h .. 8h + 7 in y[h]), with what AVX2 lacks
 * built from what it has:
 *
 *   - no 64-entry permute: f, k and the symbol of a slot come from d->slot
 *     with vpgatherdd, for any layout (alias or cumulative);
 *   - no vpexpandd: the lanes to renormalise are a movemask m, and lut[m]
 *     holds, for each lane, how many lanes below it are in m: the index of
 *     its word among the words the vector reads. vpermd by those indices
 *     moves the precomputed word entries into place:
 *
 *       m = 0b01100100        lut[m] = bytes [ 3 2 1 1 1 0 0 0 ] (lane 7..0)
 *       fa + j (words in order)  [ .. .. .. .. .. fa2 fa1 fa0 ]
 *       vpermd  -> lane 2: fa0, lane 5: fa1, lane 6: fa2 (others unused)
 *
 *   - no masks: the lanes to renormalise are kept as an all-ones vector rm
 *     for vpblendvb, and its movemask counts them (popcnt) to step to the
 *     next vector's words, so the words go to lanes 0 .. 31 in order.
 *
 * Bounds and verdicts are those of the AVX-512 kernel: the vector loop runs
 * while a whole group and 64 bytes of words remain, fa[] is filled only
 * from words before end, and the last pending renormalisation and the
 * remaining groups go through the scalar code with its checks.
 */
#include <immintrin.h>
#include <string.h>

#include "endian.h"
#include "rans.h"
#include "split.h"
#include "banned.h"

#define GROUP		RANS_MAX_LANES
#define GROUP_NBYTES	(2 * GROUP)	/* most words a group can read */
#define FA_WORDS	1024		/* word entries computed at a time */

/*
 * lut[m], byte j: how many of the bits below bit j are set in m, which is
 * the index of lane j's word among the words a renormalising set m reads.
 */
#define PC8(m)	(((m) & 1) + ((m) >> 1 & 1) + ((m) >> 2 & 1) +		\
		 ((m) >> 3 & 1) + ((m) >> 4 & 1) + ((m) >> 5 & 1) +	\
		 ((m) >> 6 & 1) + ((m) >> 7 & 1))
#define LUT1(m)	((uint64_t)PC8((m) & 0x01) << 8 |			\
		 (uint64_t)PC8((m) & 0x03) << 16 |			\
		 (uint64_t)PC8((m) & 0x07) << 24 |			\
		 (uint64_t)PC8((m) & 0x0f) << 32 |			\
		 (uint64_t)PC8((m) & 0x1f) << 40 |			\
		 (uint64_t)PC8((m) & 0x3f) << 48 |			\
		 (uint64_t)PC8((m) & 0x7f) << 56)
#define LUT4(m)		LUT1(m), LUT1((m) + 1), LUT1((m) + 2), LUT1((m) + 3)
#define LUT16(m)	LUT4(m), LUT4((m) + 4), LUT4((m) + 8), LUT4((m) + 12)
#define LUT64(m)	LUT16(m), LUT16((m) + 16), LUT16((m) + 32),	\
			LUT16((m) + 48)

static const uint64_t lut[256] = {
	LUT64(0), LUT64(64), LUT64(128), LUT64(192)
};

/* The frequency, the code (k) and the symbol (low byte) of slot x & 4095. */
struct fks {
	__m256i f, k, s;
};

static inline __attribute__((always_inline)) struct fks
entry(const struct rans_dtable *d, __m256i x)
{
	const __m256i e = _mm256_i32gather_epi32(
		(const int *)(const void *)d->slot,
		_mm256_and_si256(x, _mm256_set1_epi32(RANS_M - 1)), 4);
	struct fks r;

	r.f = _mm256_and_si256(_mm256_srli_epi32(e, 8),
			       _mm256_set1_epi32(0xfff));
	r.k = _mm256_srli_epi32(e, 20);
	r.s = e;
	return r;
}

/*
 * Fills fa[] with f << 16 | (f * (w >> 12) + k) and sy[] with the symbol
 * for the words w at p (nwords, a multiple of 8).
 */
static void
fa_fill(const struct rans_dtable *d, uint32_t *fa, uint32_t *sy,
	const uint8_t *p, size_t nwords)
{
	for (size_t j = 0; j < nwords; j += 8) {
		const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(
			(const __m128i *)(const void *)(p + 2 * j)));
		const struct fks e = entry(d, w);

		_mm256_store_si256((__m256i *)(void *)(fa + j),
			_mm256_add_epi32(_mm256_add_epi32(
				_mm256_slli_epi32(e.f, 16), e.k),
				_mm256_mullo_epi32(e.f,
						   _mm256_srli_epi32(w, 12))));
		_mm256_store_si256((__m256i *)(void *)(sy + j), e.s);
	}
}

/*
 * One step of 8 lanes: the pending renormalisation of y (lanes rm, word
 * entries at fa, sy), then the decode. Updates rm to the lanes to
 * renormalise next; *s_ret: the symbols decoded (low bytes).
 */
static inline __attribute__((always_inline)) __m256i
step(const struct rans_dtable *d, __m256i y, __m256i *rmp, unsigned m,
     const uint32_t *fa, const uint32_t *sy, __m256i *s_ret)
{
	const __m256i rm = *rmp;
	const struct fks e = entry(d, y);
	const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(
		(const __m128i *)(const void *)(lut + m)));
	const __m256i wa = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(
		(const __m256i *)(const void *)fa), idx);
	const __m256i ws = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(
		(const __m256i *)(const void *)sy), idx);
	const __m256i f = _mm256_blendv_epi8(e.f, _mm256_srli_epi32(wa, 16),
					     rm);
	const __m256i a = _mm256_blendv_epi8(e.k, _mm256_and_si256(wa,
		_mm256_set1_epi32(0xffff)), rm);
	const __m256i q = _mm256_blendv_epi8(_mm256_srli_epi32(y, 12),
					     _mm256_slli_epi32(y, 4), rm);
	const __m256i yn = _mm256_add_epi32(_mm256_mullo_epi32(f, q), a);

	*s_ret = _mm256_blendv_epi8(e.s, ws, rm);
	*rmp = _mm256_cmpeq_epi32(_mm256_srli_epi32(yn, 16),
				  _mm256_setzero_si256());
	return yn;
}

/* The first step: no renormalisation pending. */
static inline __attribute__((always_inline)) __m256i
step_first(const struct rans_dtable *d, __m256i x, __m256i *rm_ret,
	   __m256i *s_ret)
{
	const struct fks e = entry(d, x);
	const __m256i yn = _mm256_add_epi32(_mm256_mullo_epi32(e.f,
		_mm256_srli_epi32(x, 12)), e.k);

	*s_ret = e.s;
	*rm_ret = _mm256_cmpeq_epi32(_mm256_srli_epi32(yn, 16),
				     _mm256_setzero_si256());
	return yn;
}

static inline __attribute__((always_inline)) unsigned
lanes_mask(__m256i rm)
{
	return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(rm));
}

/* The symbols of lanes 8h..8h+7 in s[h] (low bytes), as 32 words. */
static inline __attribute__((always_inline)) void
put_group(uint8_t *out, const uint8_t *raw, size_t i, const __m256i s[4])
{
	const __m256i lo = _mm256_set1_epi32(0xff);
	const __m256i a = _mm256_packus_epi32(_mm256_and_si256(s[0], lo),
					      _mm256_and_si256(s[1], lo));
	const __m256i b = _mm256_packus_epi32(_mm256_and_si256(s[2], lo),
					      _mm256_and_si256(s[3], lo));

	if (raw) {
		const __m256i m = _mm256_set1_epi16(0x7f80);
		const __m256i w[2] = {
			_mm256_permute4x64_epi64(a, 0xd8),
			_mm256_permute4x64_epi64(b, 0xd8),
		};

		for (unsigned h = 0; h < 2; h++) {
			const uint8_t *const rp = raw + i + 16 * h;
			const __m256i r = _mm256_cvtepu8_epi16(_mm_loadu_si128(
				(const __m128i *)(const void *)rp));
			const __m256i rr = _mm256_or_si256(r,
				_mm256_slli_epi16(r, 8));

			_mm256_storeu_si256(
				(__m256i *)(void *)(out + 2 * i + 32 * h),
				_mm256_or_si256(_mm256_andnot_si256(m, rr),
					_mm256_and_si256(m,
						_mm256_slli_epi16(w[h], 7))));
		}
	} else {
		_mm256_storeu_si256((__m256i *)(void *)(out + i),
			_mm256_permutevar8x32_epi32(_mm256_packus_epi16(a, b),
				_mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
	}
}

static inline __attribute__((always_inline)) enum gauss_status
decode32(const struct rans_dtable *d, const uint8_t *in, size_t in_nbytes,
	 const uint8_t *raw, uint8_t *out, size_t n)
{
	const uint8_t *p = in + 4 * GROUP;
	const uint8_t *const end = in + in_nbytes;
	uint32_t fa[FA_WORDS] __attribute__((aligned(32)));
	uint32_t sy[FA_WORDS] __attribute__((aligned(32)));
	uint32_t x[GROUP] __attribute__((aligned(32)));
	size_t j = 0, jend = 0;	/* fa[j], sy[j]: the word at p */
	__m256i y[4], rm[4], s[4];
	size_t i;

	if (in_nbytes < 4 * GROUP || (in_nbytes - 4 * GROUP) % 2)
		return GAUSS_E_CORRUPT;
	for (unsigned h = 0; h < 4; h++) {
		y[h] = _mm256_loadu_si256((const __m256i *)(const void *)
					  (in + 32 * h));
		/* a state below L is invalid */
		if (!_mm256_testz_si256(_mm256_cmpeq_epi32(
				_mm256_srli_epi32(y[h], 16),
				_mm256_setzero_si256()),
			_mm256_set1_epi32(-1)))
			return GAUSS_E_CORRUPT;
		y[h] = step_first(d, y[h], &rm[h], &s[h]);
	}
	put_group(out, raw, 0, s);
	for (i = GROUP; n - i >= GROUP && end - p >= GROUP_NBYTES;
	     i += GROUP) {
		unsigned c = 0;

		if (jend - j < GROUP) {
			size_t nw = (size_t)(end - p) / 2;

			nw = (nw < FA_WORDS ? nw : FA_WORDS) & ~(size_t)7;
			fa_fill(d, fa, sy, p, nw);
			j = 0;
			jend = nw;
		}
		for (unsigned h = 0; h < 4; h++) {
			const unsigned m = lanes_mask(rm[h]);

			y[h] = step(d, y[h], &rm[h], m, fa + j + c, sy + j + c,
				    &s[h]);
			c += (unsigned)__builtin_popcount(m);
		}
		j += c;
		p += 2 * c;
		put_group(out, raw, i, s);
	}
	for (unsigned h = 0; h < 4; h++)
		_mm256_store_si256((__m256i *)(void *)(x + 8 * h), y[h]);
	/* the renormalisation pending from the last group, then the rest */
	return rans_decode_finish(d, x, GROUP, p, end, i, n, raw, out);
}

/*
 * The symbols of the first w lanes of a narrow group (8 in each of s[0 ..
 * w / 8), or 4 in s[0]; low bytes) to out, merged with raw.
 */
static inline __attribute__((always_inline)) void
put_narrow(uint8_t *out, const uint8_t *raw, size_t i, const __m256i *s,
	   unsigned w)
{
	for (unsigned h = 0; h < (w + 7) / 8; h++) {
		const size_t o = i + 8 * h;
		__m256i v = _mm256_and_si256(s[h], _mm256_set1_epi32(0xff));
		__m128i b;

		if (raw) {
			uint64_t r8 = 0;
			__m256i r;

			memcpy(&r8, raw + o, w < 8 ? 4 : 8);
			r = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(
				(long long)r8));
			v = _mm256_or_si256(_mm256_slli_epi32(v, 7),
				_mm256_and_si256(_mm256_or_si256(r,
					_mm256_slli_epi32(r, 8)),
					_mm256_set1_epi32(0x807f)));
			v = _mm256_packus_epi32(v, v);
			b = _mm256_castsi256_si128(
				_mm256_permute4x64_epi64(v, 0x08));
			if (w < 8)
				_mm_storel_epi64((__m128i *)(void *)
						 (out + 2 * o), b);
			else
				_mm_storeu_si128((__m128i *)(void *)
						 (out + 2 * o), b);
		} else {
			uint64_t q;

			v = _mm256_packus_epi32(v, v);
			v = _mm256_packus_epi16(v, v);
			q = (uint32_t)_mm256_cvtsi256_si32(v) |
			    (uint64_t)(uint32_t)_mm_cvtsi128_si32(
				    _mm256_extracti128_si256(v, 1)) << 32;
			memcpy(out + o, &q, w < 8 ? 4 : 8);
		}
	}
}

/*
 * Chunks of w = 16, 8 or 4 lanes: w / 8 ymm, or one with lanes 4 to 7
 * unused for w = 4 (their bits are cleared from every renormalisation
 * mask, so they never take a word, and what they compute is dropped). The
 * steps and bounds are those of decode32(), one group of w elements a step.
 */
static inline __attribute__((always_inline)) enum gauss_status
decode_narrow(const struct rans_dtable *d, const uint8_t *in,
	      size_t in_nbytes, const uint8_t *raw, uint8_t *out, size_t n,
	      unsigned w)
{
	const unsigned nh = (w + 7) / 8;
	const __m256i lm = w < 8 ? _mm256_setr_epi32(-1, -1, -1, -1,
						     0, 0, 0, 0) :
				   _mm256_set1_epi32(-1);
	const uint8_t *p = in + 4 * w;
	const uint8_t *const end = in + in_nbytes;
	uint32_t fa[FA_WORDS] __attribute__((aligned(32)));
	uint32_t sy[FA_WORDS] __attribute__((aligned(32)));
	uint32_t x[16] __attribute__((aligned(32)));
	size_t j = 0, jend = 0;	/* fa[j], sy[j]: the word at p */
	__m256i y[2], rm[2], s[2];
	size_t i;

	if (in_nbytes < 4 * w || (in_nbytes - 4 * w) % 2)
		return GAUSS_E_CORRUPT;
	for (unsigned h = 0; h < nh; h++) {
		if (w < 8)
			y[h] = _mm256_castsi128_si256(_mm_loadu_si128(
				(const __m128i *)(const void *)in));
		else
			y[h] = _mm256_loadu_si256(
				(const __m256i *)(const void *)(in + 32 * h));
		/* a state below L is invalid */
		if (!_mm256_testz_si256(_mm256_cmpeq_epi32(
				_mm256_srli_epi32(y[h], 16),
				_mm256_setzero_si256()), lm))
			return GAUSS_E_CORRUPT;
		y[h] = step_first(d, y[h], &rm[h], &s[h]);
		rm[h] = _mm256_and_si256(rm[h], lm);
	}
	put_narrow(out, raw, 0, s, w);
	for (i = w; n - i >= w && end - p >= GROUP_NBYTES; i += w) {
		unsigned c = 0;

		if (jend - j < 16) {
			size_t nw = (size_t)(end - p) / 2;

			nw = (nw < FA_WORDS ? nw : FA_WORDS) & ~(size_t)7;
			fa_fill(d, fa, sy, p, nw);
			j = 0;
			jend = nw;
		}
		for (unsigned h = 0; h < nh; h++) {
			const unsigned m = lanes_mask(rm[h]);

			y[h] = step(d, y[h], &rm[h], m, fa + j + c, sy + j + c,
				    &s[h]);
			rm[h] = _mm256_and_si256(rm[h], lm);
			c += (unsigned)__builtin_popcount(m);
		}
		j += c;
		p += 2 * c;
		put_narrow(out, raw, i, s, w);
	}
	for (unsigned h = 0; h < nh; h++)
		_mm256_store_si256((__m256i *)(void *)(x + 8 * h), y[h]);
	/* the renormalisation pending from the last group, then the rest */
	return rans_decode_finish(d, x, w, p, end, i, n, raw, out);
}

/* Any chunk of at least 4 lanes; raw == NULL for the plain decoder. */
static inline __attribute__((always_inline)) enum gauss_status
decode_any(const struct rans_dtable *d, const uint8_t *in, size_t in_nbytes,
	   const uint8_t *raw, uint8_t *out, size_t n)
{
	switch (rans_lanes_unit(n, d->lane_unit)) {
	case 32:
		return decode32(d, in, in_nbytes, raw, out, n);
	case 16:
		return decode_narrow(d, in, in_nbytes, raw, out, n, 16);
	case 8:
		return decode_narrow(d, in, in_nbytes, raw, out, n, 8);
	default:
		return decode_narrow(d, in, in_nbytes, raw, out, n, 4);
	}
}

enum gauss_status
rans_decode_avx2(const struct rans_dtable *d, const uint8_t *in,
		 size_t in_nbytes, uint8_t *syms, size_t n)
{
	if (rans_lanes_unit(n, d->lane_unit) < 4)
		return rans_decode_scalar(d, in, in_nbytes, syms, n);
	return decode_any(d, in, in_nbytes, NULL, syms, n);
}

enum gauss_status
rans_decode_bf16_avx2(const struct rans_dtable *d, const uint8_t *in,
		      size_t in_nbytes, const uint8_t *raw, uint8_t *dst,
		      size_t n)
{
	/* at 4 lanes the fused scalar loop is as fast as one ymm here */
	if (rans_lanes_unit(n, d->lane_unit) < 8)
		return rans_decode_bf16_scalar(d, in, in_nbytes, raw, dst, n);
	if (d->whole.flags & FMT_BLOCK_M1)
		return split_decode_m1(rans_decode_avx2, split_merge_m1, d, in,
				       in_nbytes, raw, dst, n);
	return decode_any(d, in, in_nbytes, raw, dst, n);
}

/* Two chunks in turn: this level gains nothing from interleaving them. */
void
rans_decode_bf16_pair_avx2(const struct rans_dtable *d,
			const uint8_t *const in[2], const size_t in_nbytes[2],
			const uint8_t *const raw[2], uint8_t *const dst[2],
			size_t n, enum gauss_status st[2])
{
	for (unsigned c = 0; c < 2; c++)
		st[c] = rans_decode_bf16_avx2(d, in[c], in_nbytes[c], raw[c],
					     dst[c], n);
}
