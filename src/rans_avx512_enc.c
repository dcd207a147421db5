/* SPDX-License-Identifier: MIT */
/*
 * rans_avx512_enc.c: the 32-lane rANS encoder with AVX-512 (F, BW, DQ, VL),
 * writing the bytes of rans_encode_scalar().
 *
 * Chunks of fewer than 32 lanes go to the scalar encoder. A 32-lane chunk
 * is coded group by group, a group being the 32 elements 32 * g + k of one
 * row (k the lane), from the last group to the first, as the scalar loop
 * meets them:
 *
 *   - the partial last group (n % 32 elements) and every group left once
 *     fewer than 64 bytes of room remain go through step_scalar(), the
 *     scalar step with its room check, so a stream that does not fit fails
 *     at the same word and the call returns 0;
 *   - the other groups run in two zmm of 16 states, lanes 0-15 and 16-31.
 *
 * State. x = q << 12 | slot is kept as q and g (slot in the low 12 bits of
 * g), so that the tests and shifts that depend on x's top bits only can run
 * before the slot lookup of the previous symbol is done:
 *   x >= f << 20  <=>  q >= f << 8,    x >> 16 = q >> 4.
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
 * Division. After renormalisation x < f << 20, so q = x / f < 2^20. The
 * estimate is x * (1 / f) + 1/2 with x and 1/f rounded once each and the
 * product and sum once more (one FMA): the relative error of the product
 * is under 3 * 2^-24, below 0.19 at q < 2^20, and the sum adds at most
 * 1/16, so the estimate truncates to q or q + 1. The remainder x - q' * f
 * is then in [-f, f); its sign gives the correction, and the quotient and
 * remainder used are exact, as in the scalar code.
 *
 * Lookups. freq and a per-layout word per symbol come from tables of up to
 * 256 words held in registers and read with vpermt2w (64 entries each),
 * after subtracting the smallest symbol. The slot of code r of symbol s is
 * then found one of three ways:
 *
 *   cumulative layout: slot = cum + r.
 *   alias layout, "pieces": in the code space of one symbol the slots form
 *     runs of consecutive slots (pieces, at most 128: each of the 64 buckets
 *     holds at most two). Each symbol's codes are cut into blocks of 64;
 *     per block we keep the piece holding its first code and the offsets of
 *     the pieces that start inside it (up to 2 or 4, as bytes), and per
 *     piece slot - r. Three or four more 128-word lookups replace a gather,
 *     which costs more than a cycle per lane on this class of CPU.
 *   alias layout otherwise (more than 128 blocks, or a block holding more
 *     than four piece starts): a 32-bit gather from a copy of the slots in
 *     which each symbol's run appears twice, so that the index
 *     2 * cum + f + (x - q' * f) needs no correction first.
 */
#include <immintrin.h>
#include <string.h>

#include "endian.h"
#include "rans.h"
#include "banned.h"

#define GROUP		RANS_MAX_LANES
#define GROUP_NBYTES	(2 * GROUP)	/* most a group can push */
#define BLOCK_LOG2	6		/* codes per block: 64 */
#define MAX_BLOCKS	128
#define MAX_PIECES	128
#define MAX_STARTS	4		/* piece starts inside one block */

enum slot_mode {
	SLOT_CUM,	/* cumulative layout: slot = cum + r */
	SLOT_PIECE2,	/* alias, at most 2 piece starts inside a block */
	SLOT_PIECE4,	/* alias, at most 4 */
	SLOT_GATHER,	/* alias, gathered from dslot */
};

struct enc_tabs {
	/* per symbol s, at s - base */
	uint16_t freq[256] __attribute__((aligned(64)));
	uint16_t aux[256] __attribute__((aligned(64)));	/* see tabs_build */
	/* per block: first piece; piece starts inside (bytes, 0xff: none) */
	uint16_t first[MAX_BLOCKS] __attribute__((aligned(64)));
	uint16_t starts[MAX_STARTS / 2][MAX_BLOCKS] __attribute__((aligned(64)));
	/* per piece: slot - r, modulo 2^16 */
	uint16_t delta[MAX_PIECES] __attribute__((aligned(64)));
	/* SLOT_GATHER: [2 * cum, 2 * cum + 2 * freq) is the symbol's run twice */
	uint16_t dslot[2 * RANS_M + 2];
	unsigned base;		/* smallest symbol */
	unsigned nblk;		/* 64-symbol table blocks from base: 1 to 4 */
	enum slot_mode mode;
};

/*
 * Cuts the alias layout of e into pieces and blocks; returns the mode that
 * can use them, or SLOT_GATHER when they do not fit the tables.
 */
static enum slot_mode
pieces_build(const struct rans_etable *e, struct enc_tabs *tb)
{
	unsigned nblocks = 0, npieces = 0, most = 0;

	memset(tb->starts, 0xff, sizeof(tb->starts));
	memset(tb->first, 0, sizeof(tb->first));
	memset(tb->delta, 0, sizeof(tb->delta));
	for (unsigned s = 0; s < 256; s++) {
		const unsigned f = e->freq[s], c = e->cum[s];
		unsigned nstart = 0, prev = 0;

		if (s >= tb->base)
			tb->aux[s - tb->base] = (uint16_t)nblocks;
		for (unsigned k = 0; k < f; k++) {
			const unsigned slot = e->slot[c + k];
			const bool start = k == 0 || slot != prev + 1;
			const unsigned o = k % (1u << BLOCK_LOG2);

			prev = slot;
			if (start) {
				if (npieces == MAX_PIECES)
					return SLOT_GATHER;
				tb->delta[npieces++] = (uint16_t)(slot - k);
			}
			if (o == 0) {
				if (nblocks == MAX_BLOCKS)
					return SLOT_GATHER;
				tb->first[nblocks++] = (uint16_t)(npieces - 1);
				nstart = 0;
			} else if (start) {
				uint16_t *w;

				if (nstart == MAX_STARTS)
					return SLOT_GATHER;
				w = &tb->starts[nstart / 2][nblocks - 1];
				*w = (uint16_t)((*w & ~(0xffu << 8 * (nstart % 2))) |
						o << 8 * (nstart % 2));
				nstart++;
				most = MAX(most, nstart);
			}
		}
	}
	return most <= 2 ? SLOT_PIECE2 : SLOT_PIECE4;
}

/*
 * aux per symbol: cum (SLOT_CUM), the index of the symbol's first block
 * (SLOT_PIECE*), or 2 * cum + freq, the middle of its run in dslot[]
 * (SLOT_GATHER).
 */
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
	for (unsigned s = lo; s <= hi; s++)
		tb->freq[s - lo] = e->freq[s];
	tb->mode = e->alias ? pieces_build(e, tb) : SLOT_CUM;
	if (tb->mode == SLOT_PIECE2 || tb->mode == SLOT_PIECE4)
		return;
	for (unsigned s = lo; s <= hi; s++) {
		const unsigned f = e->freq[s], c = e->cum[s];

		if (tb->mode == SLOT_CUM) {
			tb->aux[s - lo] = (uint16_t)c;
		} else if (f) {
			tb->aux[s - lo] = (uint16_t)(2 * c + f);
			memcpy(tb->dslot + 2 * c, e->slot + c, 2 * f);
			memcpy(tb->dslot + 2 * c + f, e->slot + c, 2 * f);
		}
	}
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

static inline __attribute__((always_inline)) __m512i
lookup128(const __m512i *t, __m512i idx)
{
	return lookup(t, idx, _mm512_test_epi16_mask(idx,
				_mm512_set1_epi16(64)), 0, 2);
}

/* Number of bytes of b (two a word) that are <= o, o given as (o + 1) * 0x0101. */
static inline __m512i
count_le(__m512i o1, __m512i b)
{
	const __m512i one = _mm512_set1_epi8(1);

	return _mm512_maddubs_epi16(_mm512_min_epu8(_mm512_subs_epu8(o1, b),
						    one), one);
}

#define TERN_A_OR_B_AND_C 0xf8

/* The registers of the vector loop. */
struct enc_regs {
	__m512i q[2], g[2];		/* lanes 0-15, 16-31 */
	__m512i ft[8], at[8];		/* freq, aux words */
	__m512i first[4], starts[2][4], delta[4];
};

/*
 * Codes one group: sw holds its symbols less base as words in the order
 * of vpackusdw of the two halves (lanes 0-3, 16-19, 4-7, 20-23, ...), so
 * that vpunpck{l,h}wd with zero give the halves back as dwords.
 */
static inline __attribute__((always_inline)) void
group_step(const struct enc_tabs *tb, struct enc_regs *v, __m512i sw,
	   uint8_t **pp, const unsigned nblk, const enum slot_mode mode)
{
	const __m512i zero = _mm512_setzero_si512();
	const __m512i lo12 = _mm512_set1_epi32(RANS_M - 1);
	const __mmask32 b6 = _mm512_test_epi16_mask(sw, _mm512_set1_epi16(64));
	const __mmask32 b7 = _mm512_test_epi16_mask(sw, _mm512_set1_epi16(128));
	const __m512i fw = lookup(v->ft, sw, b6, b7, nblk);
	const __m512i aw = lookup(v->at, sw, b6, b7, nblk);
	const __m512i f[2] = { _mm512_unpacklo_epi16(fw, zero),
			       _mm512_unpackhi_epi16(fw, zero) };
	__m512i xs[2], r[2];

	for (int h = 1; h >= 0; h--) {
		const __m512i q = v->q[h], qs = _mm512_slli_epi32(q, 12);
		const __mmask16 m = _mm512_cmpge_epu32_mask(q,
					_mm512_slli_epi32(f[h], 8));
		const unsigned cnt = (unsigned)_mm_popcnt_u32(m);
		const __m512i x = _mm512_ternarylogic_epi32(qs, v->g[h], lo12,
							    TERN_A_OR_B_AND_C);

		*pp -= 2 * cnt;
		_mm256_mask_storeu_epi16(*pp, (__mmask16)_bzhi_u32(0xffff, cnt),
				_mm512_cvtepi32_epi16(
					_mm512_maskz_compress_epi32(m, x)));
		xs[h] = _mm512_mask_ternarylogic_epi32(
			_mm512_mask_mov_epi32(qs, m, _mm512_srli_epi32(q, 4)),
			(__mmask16)~m, v->g[h], lo12, TERN_A_OR_B_AND_C);
	}
	for (int h = 0; h < 2; h++) {
		const __m512 rcp = _mm512_div_ps(_mm512_set1_ps(1.0f),
						 _mm512_cvtepi32_ps(f[h]));
		const __m512i q = _mm512_cvttps_epi32(_mm512_fmadd_ps(
			_mm512_cvtepu32_ps(xs[h]), rcp, _mm512_set1_ps(0.5f)));
		const __m512i prod = _mm512_mullo_epi32(q, f[h]);

		if (mode == SLOT_GATHER) {
			const __m512i a = h ? _mm512_unpackhi_epi16(aw, zero) :
					      _mm512_unpacklo_epi16(aw, zero);
			const __m512i idx = _mm512_sub_epi32(
				_mm512_add_epi32(a, xs[h]), prod);

			v->g[h] = _mm512_i32gather_epi32(idx, tb->dslot, 2);
			v->q[h] = _mm512_mask_sub_epi32(q,
				_mm512_cmplt_epu32_mask(idx, a), q,
				_mm512_set1_epi32(1));
			continue;
		}
		r[h] = _mm512_sub_epi32(xs[h], prod);
		v->q[h] = _mm512_add_epi32(q, _mm512_srai_epi32(r[h], 31));
		r[h] = _mm512_min_epu32(r[h], _mm512_add_epi32(r[h], f[h]));
		if (mode == SLOT_CUM)
			v->g[h] = _mm512_add_epi32(r[h], h ?
				_mm512_unpackhi_epi16(aw, zero) :
				_mm512_unpacklo_epi16(aw, zero));
	}
	if (mode == SLOT_PIECE2 || mode == SLOT_PIECE4) {
		const __m512i rw = _mm512_packus_epi32(r[0], r[1]);
		const __m512i blk = _mm512_add_epi16(aw,
					_mm512_srli_epi16(rw, BLOCK_LOG2));
		const __m512i o1 = _mm512_mullo_epi16(_mm512_add_epi16(
			_mm512_and_si512(rw, _mm512_set1_epi16(63)),
			_mm512_set1_epi16(1)), _mm512_set1_epi16(0x0101));
		const __mmask32 m6 = _mm512_test_epi16_mask(blk,
						_mm512_set1_epi16(64));
		__m512i rho = _mm512_add_epi16(lookup(v->first, blk, m6, 0, 2),
				count_le(o1, lookup(v->starts[0], blk, m6, 0, 2)));
		__m512i slot;

		if (mode == SLOT_PIECE4)
			rho = _mm512_add_epi16(rho, count_le(o1,
				lookup(v->starts[1], blk, m6, 0, 2)));
		slot = _mm512_add_epi16(rw, lookup128(v->delta, rho));
		v->g[0] = _mm512_unpacklo_epi16(slot, zero);
		v->g[1] = _mm512_unpackhi_epi16(slot, zero);
	}
}

static inline void
load_words(__m512i *r, const uint16_t *t, unsigned nreg)
{
	for (unsigned j = 0; j < nreg; j++)
		r[j] = _mm512_load_si512(t + 32 * j);
}

/* The groups before symbol i, from the last, while a whole group fits. */
static inline __attribute__((always_inline)) size_t
groups_vec(const struct enc_tabs *tb, const uint8_t *syms, size_t i,
	   uint32_t *x, uint8_t **pp, const uint8_t *lim, const unsigned nblk,
	   const enum slot_mode mode)
{
	const __m512i lo12 = _mm512_set1_epi32(RANS_M - 1);
	const __m256i base = _mm256_set1_epi8((char)tb->base);
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	struct enc_regs v;
	uint8_t *p = *pp;

	for (int h = 0; h < 2; h++) {
		const __m512i xh = _mm512_loadu_si512(x + 16 * h);

		v.q[h] = _mm512_srli_epi32(xh, 12);
		v.g[h] = _mm512_and_si512(xh, lo12);
	}
	load_words(v.ft, tb->freq, 2 * nblk);
	load_words(v.at, tb->aux, 2 * nblk);
	if (mode == SLOT_PIECE2 || mode == SLOT_PIECE4) {
		load_words(v.first, tb->first, 4);
		load_words(v.starts[0], tb->starts[0], 4);
		load_words(v.starts[1], tb->starts[1], 4);
		load_words(v.delta, tb->delta, 4);
	}
	while (i > 0 && p - lim >= GROUP_NBYTES) {
		/* dwords of 4 symbols: lanes 0-3, 16-19, 4-7, 20-23, ... */
		const __m256i s = _mm256_permutevar8x32_epi32(_mm256_sub_epi8(
			_mm256_loadu_si256((const void *)(syms + i - GROUP)),
			base), order);

		i -= GROUP;
		group_step(tb, &v, _mm512_cvtepu8_epi16(s), &p, nblk, mode);
	}
	for (int h = 0; h < 2; h++)
		_mm512_storeu_si512(x + 16 * h, _mm512_ternarylogic_epi32(
			_mm512_slli_epi32(v.q[h], 12), v.g[h], lo12,
			TERN_A_OR_B_AND_C));
	*pp = p;
	return i;
}

#define GROUPS_MODE(nblk)						\
	switch (tb.mode) {						\
	case SLOT_CUM:							\
		i = groups_vec(&tb, syms, i, x, &p, lim, nblk, SLOT_CUM); \
		break;							\
	case SLOT_PIECE2:						\
		i = groups_vec(&tb, syms, i, x, &p, lim, nblk, SLOT_PIECE2); \
		break;							\
	case SLOT_PIECE4:						\
		i = groups_vec(&tb, syms, i, x, &p, lim, nblk, SLOT_PIECE4); \
		break;							\
	default:							\
		i = groups_vec(&tb, syms, i, x, &p, lim, nblk, SLOT_GATHER); \
		break;							\
	}

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
		GROUPS_MODE(1);
		break;
	case 2:
		GROUPS_MODE(2);
		break;
	case 3:
		GROUPS_MODE(3);
		break;
	default:
		GROUPS_MODE(4);
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
