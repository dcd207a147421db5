/* SPDX-License-Identifier: MIT */
/*
 * rans_avx512_dec.c: the 4- to 32-lane rANS decoder with AVX-512 (F, BW,
 * DQ, VL), giving the bytes and verdicts of rans_decode_scalar().
 *
 * Chunks of 1 or 2 lanes go to the scalar decoder. The 32 states of a full
 * chunk live in two zmm, lanes 0-15 and 16-31; a group is the 32 elements
 * of one row, element 32 * g + k in lane k. Chunks of w = 16, 8 or 4 lanes
 * (decode_narrow()) run the same steps in one zmm, a group of w elements a
 * step; lanes w to 15 are never in a renormalisation mask (step() clears
 * them in the compare), so they take no word, and their symbols are not
 * stored (masked narrowing stores, masked raw loads). The chain of
 * latencies of a step is the same at any w, so the speed is about
 * proportional to w.
 *
 * Renormalise first, then decode. The scalar loop decodes a lane (x' =
 * f * (x >> 12) + k for the entry of slot x & 4095) and then, if x' < L,
 * shifts in the next word: x = x' << 16 | w. Looking the slot up only after
 * the word has been placed puts the lookup behind the renormalisation on
 * every step. So this kernel keeps y = x', renormalisation pending, and
 * folds the two cases into the next step:
 *
 *   y >= L:  slot = y & 4095,  x' = f * (y >> 12) + k
 *   y <  L:  slot = w & 4095,  x' = f * ((y << 16 | w) >> 12) + k
 *                                  = f * (y << 4) + (f * (w >> 12) + k)
 *
 * In the second case f and a = f * (w >> 12) + k depend on the word alone:
 * they are computed ahead for the words at p (fa[], FA_WORDS at a time, 16
 * per vector op), and a step only moves them into place with one vpexpandd
 * while the lookup for the first case runs beside it:
 *
 *   k   = lanes with y < L         (from the previous step: fq < L - a)
 *   fa  = fa[j ...]                words in stream order
 *   expand(k, fa):  [ .. fa2 .. .. fa1 fa0 .. ]  -> into the lanes of k
 *   f, a = k ? that : lookup(y),  q = k ? y << 4 : y >> 12
 *   y'  = f * q + a
 *
 * A lane of the second half takes the words after those of the first (its
 * entries start at fa + j + popcount(k0)), so the words go to lanes in the
 * scalar order. All values are the scalar decoder's: f * q + a is the true
 * next state, below 2^32, and k, a below 2^16.
 *
 * The alias lookup (version 2 tables, rans.h): slot = 64 * b + o. Six
 * tables of 64 words, each held in two zmm, give f and the code offset of
 * the bucket's low and high symbol, its div and its two symbols. vpermt2w
 * looks up 32 words at once with a 6-bit index; the index is x >> 6, whose
 * low word holds b, and zero-masking clears the high words, so each result
 * is a clean dword per lane:
 *
 *   x >> 6   [ junk | b ] [ junk | b ] ...     (dword lanes, words hi|lo)
 *   flo      [  0   | flo[b] ] ...
 *
 * The low symbol owns o < div; with both offsets kept + 64 the code is
 * k = (x | ~63) + (o < div ? blo : bhi), and o - div comes from the same
 * (x | ~63) in 16-bit arithmetic. Tables without the alias layout (version
 * 1, or more than 64 symbols) take f, k and the symbol from d->slot with
 * gathers, two of 8 lanes each (faster here than one of 16).
 *
 * Bounds. The vector loop runs while a whole group remains and at least 64
 * bytes of words do: a group reads at most 32 words (a narrow one w, and
 * fa[] is refilled while fewer than 16 entries are left, as a step loads
 * 16). fa[] is filled from p
 * for at most (end - p) / 2 words, rounded down to 16, so no load reaches
 * end. The renormalisation pending after the loop and every group after it
 * run in the scalar code, which checks end - p before each word as the
 * scalar decoder does; so the verdict is the scalar one: a stream that runs
 * short fails there, and the final p == end and x == L checks are the
 * same.
 *
 * Output: a group's 32 symbols are packed to words (one vpermt2w of the two
 * halves); decode_bf16 merges them with 32 raw bytes and stores 64 bytes,
 * the plain decode narrows them to 32 bytes.
 */
#include <immintrin.h>
#include <string.h>

#include "endian.h"
#include "rans.h"
#include "split_m1_avx512.h"
#include "banned.h"

#define GROUP		RANS_MAX_LANES
#define GROUP_NBYTES	(2 * GROUP)	/* most words a group can read */
#define FA_WORDS	1024		/* word entries computed at a time */
#define LOW_WORDS	0x55555555u	/* the low word of each dword */

#define SEL(m, a, b)	_mm512_ternarylogic_epi32(m, a, b, 0xca) /* m?a:b */

/* The alias layout as word tables, two zmm each. */
struct alias_regs {
	__m512i flo[2], blo[2];	/* f and 64 + f - div of the low symbol */
	__m512i fhi[2], bhi[2];	/* f and 64 + khi - div of the high one */
	__m512i div[2];		/* div - 64, as a 16-bit number */
	__m512i sym[2];		/* low symbol | high symbol << 8 */
};

static void
alias_regs_build(const struct rans_dtable *d, struct alias_regs *r)
{
	uint16_t t[6][RANS_ALIAS_BUCKETS] __attribute__((aligned(64)));

	for (unsigned b = 0; b < RANS_ALIAS_BUCKETS; b++) {
		const uint32_t lo = d->alo[b], hi = d->ahi[b];
		const uint32_t fhi = hi & 0xfff, khi = (hi >> 12) & 0xfff;
		const uint32_t shi = hi >> 24;
		uint32_t div = (lo >> 12) & 0x7f;
		uint32_t flo = lo & 0xfff, klo = flo - div, slo = lo >> 24;

		if (div == 0) {
			/* no low symbol: the high one is low for all o */
			flo = fhi;
			klo = khi;
			slo = shi;
			div = RANS_ALIAS_SLOTS;
		}
		t[0][b] = (uint16_t)flo;
		t[1][b] = (uint16_t)(klo + 64);
		t[2][b] = (uint16_t)(div < RANS_ALIAS_SLOTS ? fhi : 0);
		t[3][b] = (uint16_t)(div < RANS_ALIAS_SLOTS ?
				     khi - div + 64 : 0);
		t[4][b] = (uint16_t)(div - 64);
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

/* The frequency, code (k) and symbol (low byte) of the slot x & 4095. */
struct fks {
	__m512i f, k, s;
};

static inline __attribute__((always_inline)) __m512i
lookup(const __m512i t[2], __m512i idx)
{
	return _mm512_maskz_permutex2var_epi16(LOW_WORDS, t[0], idx, t[1]);
}

static inline __attribute__((always_inline)) struct fks
entry_alias(const struct alias_regs *r, __m512i x)
{
	const __m512i b = _mm512_srli_epi32(x, 6);
	const __m512i om = _mm512_or_si512(x, _mm512_set1_epi32(~63));
	const __m512i div = _mm512_permutex2var_epi16(r->div[0], b, r->div[1]);
	const __m512i sym = lookup(r->sym, b);
	/* low word all ones if o < div (o - 64 - (div - 64) < 0) */
	const __m512i m = _mm512_srai_epi16(_mm512_sub_epi16(om, div), 15);
	struct fks e;

	/* the high words of the candidates are 0, whatever m's are */
	e.f = SEL(m, lookup(r->flo, b), lookup(r->fhi, b));
	e.k = _mm512_add_epi32(om, SEL(m, lookup(r->blo, b),
				       lookup(r->bhi, b)));
	e.s = SEL(m, sym, _mm512_srli_epi32(sym, 8));
	return e;
}

static inline __attribute__((always_inline)) struct fks
entry_gather(const struct rans_dtable *d, __m512i x)
{
	const __m512i i = _mm512_and_si512(x, _mm512_set1_epi32(RANS_M - 1));
	const int *const t = (const int *)(const void *)d->slot;
	const __m512i e = _mm512_inserti64x4(_mm512_castsi256_si512(
		_mm256_i32gather_epi32(t, _mm512_castsi512_si256(i), 4)),
		_mm256_i32gather_epi32(t, _mm512_extracti64x4_epi64(i, 1), 4),
		1);
	struct fks r;

	r.f = _mm512_and_si512(_mm512_srli_epi32(e, 8),
			       _mm512_set1_epi32(0xfff));
	r.k = _mm512_srli_epi32(e, 20);
	r.s = e;
	return r;
}

static inline __attribute__((always_inline)) struct fks
entry(const struct rans_dtable *d, const struct alias_regs *r, __m512i x,
      bool alias)
{
	return alias ? entry_alias(r, x) : entry_gather(d, x);
}

/*
 * Fills fa[] with f << 16 | (f * (w >> 12) + k) and sy[] with the symbol of
 * each of the nwords (a multiple of 16) words w at p.
 */
static inline __attribute__((always_inline)) void
fa_fill(const struct rans_dtable *d, const struct alias_regs *r,
	uint32_t *fa, uint32_t *sy, const uint8_t *p, size_t nwords,
	bool alias)
{
	for (size_t j = 0; j < nwords; j += 16) {
		const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(
			(const __m256i *)(const void *)(p + 2 * j)));
		const struct fks e = entry(d, r, w, alias);

		_mm512_store_si512(fa + j, _mm512_add_epi32(
			_mm512_add_epi32(_mm512_slli_epi32(e.f, 16), e.k),
			_mm512_mullo_epi32(e.f, _mm512_srli_epi32(w, 12))));
		_mm512_store_si512(sy + j, e.s);
	}
}

/*
 * Before a step that may take up to `need` words: when fewer entries than
 * that are left (*j to *jend), fills fa[] and sy[] again from the words at
 * p, at most FA_WORDS and (end - p) / 2, rounded down to 16.
 */
static inline __attribute__((always_inline)) void
fa_refill(const struct rans_dtable *d, const struct alias_regs *r,
	  uint32_t *fa, uint32_t *sy, const uint8_t *p, const uint8_t *end,
	  size_t *j, size_t *jend, size_t need, bool alias)
{
	size_t nw;

	if (*jend - *j >= need)
		return;
	nw = (size_t)(end - p) / 2;
	nw = (nw < FA_WORDS ? nw : FA_WORDS) & ~(size_t)15;
	fa_fill(d, r, fa, sy, p, nw, alias);
	*j = 0;
	*jend = nw;
}

/*
 * One step of 16 lanes: the pending renormalisation of y in the lanes *kp
 * (their words' entries at fa, sy), then the decode. Returns the new y and
 * sets *kp to its lanes in lm below L; *s_ret: the symbols (low bytes).
 */
static inline __attribute__((always_inline)) __m512i
step(const struct rans_dtable *d, const struct alias_regs *r, __m512i y,
     __mmask16 *kp, const uint32_t *fa, const uint32_t *sy, __m512i *s_ret,
     __mmask16 lm, bool alias)
{
	const __mmask16 k = *kp;
	const struct fks e = entry(d, r, y, alias);
	const __m512i w = _mm512_maskz_expand_epi32(k, _mm512_loadu_si512(fa));
	const __m512i f = _mm512_mask_srli_epi32(e.f, k, w, 16);
	const __m512i a = _mm512_mask_and_epi32(e.k, k, w,
						_mm512_set1_epi32(0xffff));
	const __m512i q = _mm512_mask_slli_epi32(_mm512_srli_epi32(y, 12), k,
						 y, 4);
	const __m512i fq = _mm512_mullo_epi32(f, q);

	*s_ret = _mm512_mask_expand_epi32(e.s, k, _mm512_loadu_si512(sy));
	/* fq + a < L, known a few cycles before the sum */
	*kp = _mm512_mask_cmplt_epu32_mask(lm, fq, _mm512_sub_epi32(
		_mm512_set1_epi32(RANS_L), a));
	return _mm512_add_epi32(fq, a);
}

/* The first step: no renormalisation pending. */
static inline __attribute__((always_inline)) __m512i
step_first(const struct rans_dtable *d, const struct alias_regs *r,
	   __m512i x, __mmask16 *k_ret, __m512i *s_ret, bool alias)
{
	const struct fks e = entry(d, r, x, alias);
	const __m512i y = _mm512_add_epi32(
		_mm512_mullo_epi32(e.f, _mm512_srli_epi32(x, 12)), e.k);

	*s_ret = e.s;
	*k_ret = _mm512_cmplt_epu32_mask(y, _mm512_set1_epi32(RANS_L));
	return y;
}

/*
 * The low words of s0 (lanes 0-15) and s1 (lanes 16-31) as 32 words:
 *   s1, s0 (dwords)   [ . b31 ... . b16 ] [ . b15 ... . b1 . b0 ]
 *   result (words)    [ b31 ... b16 b15 ... b1 b0 ]
 */
static inline __attribute__((always_inline)) __m512i
pack_syms(__m512i s0, __m512i s1)
{
	const __m512i even = _mm512_set_epi16(
		62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32,
		30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);

	return _mm512_permutex2var_epi16(s0, even, s1);
}

/*
 * Stores group i: 32 symbols (low bytes of s's words), merged with raw:
 * the exponent layout, or with m1 the top mantissa bit's (split.h; base2
 * = (2 * base) << 6 in every word).
 */
static inline __attribute__((always_inline)) void
put_group(uint8_t *out, const uint8_t *raw, size_t i, size_t n, __m512i s,
	  bool m1, __m512i base2)
{
	if (m1) {		/* m1 comes with raw */
		_mm512_storeu_si512(out + 2 * i, m1_group_values(
			s, m1_group_entries(raw + i / SPLIT_M1_GROUP *
					    SPLIT_M1_GROUP_NBYTES,
					    m1_group_room(i, n)), base2));
	} else if (raw) {
		const __m512i r = _mm512_cvtepu8_epi16(_mm256_loadu_si256(
			(const __m256i *)(const void *)(raw + i)));
		const __m512i rr = _mm512_or_si512(r, _mm512_slli_epi16(r, 8));

		/* bits 7-14 from the symbol, 15 and 0-6 from the raw byte */
		_mm512_storeu_si512(out + 2 * i,
				    SEL(_mm512_set1_epi16(0x7f80),
					_mm512_slli_epi16(s, 7), rr));
	} else {
		_mm256_storeu_si256((__m256i *)(void *)(out + i),
				    _mm512_cvtepi16_epi8(s));
	}
}

/*
 * The last words of a stream, fewer than the GROUP_NBYTES a vector step
 * may read, copied with zeros after them so that the vector loop can go
 * on to the last whole group instead of leaving hundreds of elements to
 * the scalar loop. A step reads at most GROUP_NBYTES, so while p has not
 * passed the copy's real end (lim) the reads stay in buf. A valid stream
 * never reads past lim (the scalar decoder reads the same words in the
 * same order); a stream that does has run short and is corrupt, the
 * scalar verdict.
 */
struct tail {
	uint8_t buf[2 * GROUP_NBYTES] __attribute__((aligned(64)));
	const uint8_t *from;	/* where buf[0] is in the stream */
	const uint8_t *end;	/* the stream's end */
};

/* Moves p, end (end - p < GROUP_NBYTES) into t->buf; returns the limit. */
static inline __attribute__((always_inline)) const uint8_t *
tail_enter(struct tail *t, const uint8_t **p, const uint8_t **end)
{
	const size_t rem = (size_t)(*end - *p);

	memcpy(t->buf, *p, rem);
	memset(t->buf + rem, 0, sizeof(t->buf) - rem);
	t->from = *p;
	t->end = *end;
	*p = t->buf;
	*end = t->buf + sizeof(t->buf);
	return t->buf + rem;
}

/* Back to the stream; false when the loop read past its end. */
static inline __attribute__((always_inline)) bool
tail_leave(const struct tail *t, const uint8_t **p, const uint8_t **end,
	   const uint8_t *lim)
{
	if (*p > lim)
		return false;
	*p = t->from + (*p - t->buf);
	*end = t->end;
	return true;
}

/*
 * One full chunk being decoded: its states, its place in the stream and in
 * the output, and its precomputed word entries. decode32() runs one;
 * decode32_pair() steps two of the same table in turn, so that the
 * latency chain of one (lookup, multiply, add, compare) overlaps the
 * other's.
 */
struct cur32 {
	const uint8_t *p, *end, *raw;
	uint8_t *out;
	size_t n, i, j, jend;	/* fa[j], sy[j]: the word at p */
	__m512i y0, y1;
	__m512i base2;		/* top mantissa bit: 2 * base << 6 */
	__mmask16 k0, k1;
	uint32_t *fa, *sy;	/* FA_WORDS entries each */
	struct tail *tail;	/* kept out of the struct: c stays in registers */
};

/* Checks the stream's size and states, decodes group 0. */
static inline __attribute__((always_inline)) bool
cur_start(struct cur32 *c, const struct rans_dtable *d,
	  const struct alias_regs *r, const uint8_t *in, size_t in_nbytes,
	  const uint8_t *raw, uint8_t *out, size_t n, bool alias, bool m1)
{
	__m512i s0, s1;

	if (in_nbytes < 4 * GROUP || (in_nbytes - 4 * GROUP) % 2)
		return false;
	c->p = in + 4 * GROUP;
	c->end = in + in_nbytes;
	c->raw = raw;
	c->out = out;
	c->n = n;
	c->base2 = _mm512_set1_epi16((short)(2 * d->whole.m1_base << 6));
	c->j = 0;
	c->jend = 0;
	c->y0 = _mm512_loadu_si512(in);
	c->y1 = _mm512_loadu_si512(in + 64);
	if (_mm512_cmplt_epu32_mask(c->y0, _mm512_set1_epi32(RANS_L)) |
	    _mm512_cmplt_epu32_mask(c->y1, _mm512_set1_epi32(RANS_L)))
		return false;
	c->y0 = step_first(d, r, c->y0, &c->k0, &s0, alias);
	c->y1 = step_first(d, r, c->y1, &c->k1, &s1, alias);
	put_group(out, raw, 0, n, pack_syms(s0, s1), m1, c->base2);
	c->i = GROUP;
	return true;
}

/* Is there a whole group left with enough words for the vector loop? */
static inline __attribute__((always_inline)) bool
cur_more(const struct cur32 *c)
{
	return c->n - c->i >= GROUP && c->end - c->p >= GROUP_NBYTES;
}

static inline __attribute__((always_inline)) void
cur_step(struct cur32 *c, const struct rans_dtable *d,
	 const struct alias_regs *r, bool alias, bool m1)
{
	const unsigned c0 = (unsigned)__builtin_popcount(c->k0);
	const unsigned c1 = (unsigned)__builtin_popcount(c->k1);
	__m512i s0, s1;

	fa_refill(d, r, c->fa, c->sy, c->p, c->end, &c->j, &c->jend, GROUP,
		  alias);
	c->y0 = step(d, r, c->y0, &c->k0, c->fa + c->j, c->sy + c->j, &s0,
		     0xffff, alias);
	c->y1 = step(d, r, c->y1, &c->k1, c->fa + c->j + c0,
		     c->sy + c->j + c0, &s1, 0xffff, alias);
	c->j += c0 + c1;
	c->p += 2 * (c0 + c1);
	put_group(c->out, c->raw, c->i, c->n, pack_syms(s0, s1), m1,
		  c->base2);
	c->i += GROUP;
}

/* The whole groups left after cur_more() fails, on a copy of the tail. */
static inline __attribute__((always_inline)) bool
cur_tail(struct cur32 *c, const struct rans_dtable *d,
	 const struct alias_regs *r, bool alias, bool m1)
{
	const uint8_t *lim;

	if (c->n - c->i < GROUP)
		return true;
	lim = tail_enter(c->tail, &c->p, &c->end);
	c->j = c->jend = 0;
	while (c->n - c->i >= GROUP && c->p <= lim)
		cur_step(c, d, r, alias, m1);
	return tail_leave(c->tail, &c->p, &c->end, lim);
}

/*
 * The renormalisation pending from the last group, then the rest; with
 * m1, the rest's symbols go to the upper half of out, then merge in place.
 */
static inline __attribute__((always_inline)) enum gauss_status
cur_finish(const struct cur32 *c, const struct rans_dtable *d, bool m1)
{
	uint32_t x[GROUP] __attribute__((aligned(64)));
	enum gauss_status st;

	_mm512_store_si512(x, c->y0);
	_mm512_store_si512(x + 16, c->y1);
	if (!m1)
		return rans_decode_finish(d, x, GROUP, c->p, c->end, c->i,
					  c->n, c->raw, c->out);
	st = rans_decode_finish(d, x, GROUP, c->p, c->end, c->i, c->n, NULL,
				c->out + c->n);
	if (st == GAUSS_OK)
		split_merge_m1_from(c->out + c->n, c->raw, c->n, c->i,
				    d->whole.m1_base, c->out);
	return st;
}

static inline __attribute__((always_inline)) enum gauss_status
decode32(const struct rans_dtable *d, const uint8_t *in, size_t in_nbytes,
	 const uint8_t *raw, uint8_t *out, size_t n, bool alias, bool m1)
{
	uint32_t fa[FA_WORDS] __attribute__((aligned(64)));
	uint32_t sy[FA_WORDS] __attribute__((aligned(64)));
	struct alias_regs r;
	struct tail tail;
	struct cur32 c = { .fa = fa, .sy = sy, .tail = &tail };

	if (alias)
		alias_regs_build(d, &r);
	if (!cur_start(&c, d, &r, in, in_nbytes, raw, out, n, alias, m1))
		return GAUSS_E_CORRUPT;
	while (cur_more(&c))
		cur_step(&c, d, &r, alias, m1);
	if (!cur_tail(&c, d, &r, alias, m1))
		return GAUSS_E_CORRUPT;
	return cur_finish(&c, d, m1);
}

/*
 * Two full chunks of n elements under one table, stepped in turn while
 * both have groups left, then each alone; every chunk's computation, and
 * so its output and verdict, is that of decode32() on it.
 */
static inline __attribute__((always_inline)) void
decode32_pair(const struct rans_dtable *d, const uint8_t *const in[2],
	      const size_t in_nbytes[2], const uint8_t *const raw[2],
	      uint8_t *const out[2], size_t n, enum gauss_status st[2],
	      bool alias, bool m1)
{
	uint32_t fa[2][FA_WORDS] __attribute__((aligned(64)));
	uint32_t sy[2][FA_WORDS] __attribute__((aligned(64)));
	struct alias_regs r;
	struct tail tail[2];
	struct cur32 a = { .fa = fa[0], .sy = sy[0], .tail = &tail[0] };
	struct cur32 b = { .fa = fa[1], .sy = sy[1], .tail = &tail[1] };
	bool oka, okb;

	if (alias)
		alias_regs_build(d, &r);
	oka = cur_start(&a, d, &r, in[0], in_nbytes[0], raw[0], out[0], n,
			alias, m1);
	okb = cur_start(&b, d, &r, in[1], in_nbytes[1], raw[1], out[1], n,
			alias, m1);
	if (oka && okb)
		while (cur_more(&a) && cur_more(&b)) {
			cur_step(&a, d, &r, alias, m1);
			cur_step(&b, d, &r, alias, m1);
		}
	if (oka) {
		while (cur_more(&a))
			cur_step(&a, d, &r, alias, m1);
		oka = cur_tail(&a, d, &r, alias, m1);
	}
	if (okb) {
		while (cur_more(&b))
			cur_step(&b, d, &r, alias, m1);
		okb = cur_tail(&b, d, &r, alias, m1);
	}
	st[0] = oka ? cur_finish(&a, d, m1) : GAUSS_E_CORRUPT;
	st[1] = okb ? cur_finish(&b, d, m1) : GAUSS_E_CORRUPT;
}

/*
 * Symbols of the first w lanes of s (low bytes) to out, merged with raw,
 * for a narrow group of w lanes (mask m).
 */
static inline __attribute__((always_inline)) void
put_narrow(uint8_t *out, const uint8_t *raw, size_t i, __m512i s,
	   __mmask16 m)
{
	if (raw) {
		const __m512i r = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(
			m, raw + i));
		const __m512i rr = _mm512_or_si512(r, _mm512_slli_epi32(r, 8));

		_mm512_mask_cvtepi32_storeu_epi16(out + 2 * i, m,
			SEL(_mm512_set1_epi32(0x7f80),
			    _mm512_slli_epi32(s, 7), rr));
	} else {
		_mm512_mask_cvtepi32_storeu_epi8(out + i, m, s);
	}
}

/* A narrow chunk being decoded (see struct cur32). */
struct narrow {
	const uint8_t *p, *end, *stop;
	uint32_t *fa, *sy;
	size_t j, jend;		/* fa[j], sy[j]: the word at p */
	__m512i y;
	__mmask16 k, lm;
};

/*
 * Steps from element i while a group of w is left and stop - p >= margin;
 * returns the element reached.
 */
static inline __attribute__((always_inline)) size_t
narrow_steps(const struct rans_dtable *d, const struct alias_regs *r,
	     struct narrow *c, unsigned w, ptrdiff_t margin,
	     const uint8_t *raw, uint8_t *out, size_t i, size_t n,
	     bool alias)
{
	for (; n - i >= w && c->stop - c->p >= margin; i += w) {
		const unsigned cnt = (unsigned)__builtin_popcount(c->k);
		__m512i s;

		fa_refill(d, r, c->fa, c->sy, c->p, c->end, &c->j, &c->jend,
			  16, alias);
		c->y = step(d, r, c->y, &c->k, c->fa + c->j, c->sy + c->j, &s,
			    c->lm, alias);
		c->j += cnt;
		c->p += 2 * cnt;
		put_narrow(out, raw, i, s, c->lm);
	}
	return i;
}

/*
 * Chunks of w = 16, 8 or 4 lanes: one zmm, lanes w to 15 unused (their
 * bits are cleared from every renormalisation mask, so they never take a
 * word, and whatever they compute is dropped). The steps and bounds are
 * those of decode32(), one group of w elements a step.
 */
static inline __attribute__((always_inline)) enum gauss_status
decode_narrow(const struct rans_dtable *d, const uint8_t *in,
	      size_t in_nbytes, const uint8_t *raw, uint8_t *out, size_t n,
	      unsigned w, bool alias)
{
	const __mmask16 lm = (__mmask16)((1u << w) - 1);
	uint32_t fa[FA_WORDS] __attribute__((aligned(64)));
	uint32_t sy[FA_WORDS] __attribute__((aligned(64)));
	uint32_t x[16] __attribute__((aligned(64)));
	struct alias_regs r;
	struct tail tail;
	struct narrow nc;
	__m512i y, s;
	__mmask16 k;
	size_t i;

	if (in_nbytes < 4 * w || (in_nbytes - 4 * w) % 2)
		return GAUSS_E_CORRUPT;
	y = _mm512_maskz_loadu_epi32(lm, in);
	if (_mm512_mask_cmplt_epu32_mask(lm, y, _mm512_set1_epi32(RANS_L)))
		return GAUSS_E_CORRUPT;
	if (alias)
		alias_regs_build(d, &r);
	y = step_first(d, &r, y, &k, &s, alias);
	k &= lm;
	put_narrow(out, raw, 0, s, lm);
	nc = (struct narrow){ .p = in + 4 * w, .end = in + in_nbytes,
			      .stop = in + in_nbytes, .fa = fa, .sy = sy,
			      .y = y, .k = k, .lm = lm };
	i = narrow_steps(d, &r, &nc, w, GROUP_NBYTES, raw, out, w, n, alias);
	/* the whole groups left, on a copy of the tail (struct tail) */
	if (n - i >= w) {
		const uint8_t *const lim = tail_enter(&tail, &nc.p, &nc.end);

		nc.j = nc.jend = 0;
		nc.stop = lim;
		i = narrow_steps(d, &r, &nc, w, 0, raw, out, i, n, alias);
		if (!tail_leave(&tail, &nc.p, &nc.end, lim))
			return GAUSS_E_CORRUPT;
	}
	_mm512_store_si512(x, nc.y);
	/* the renormalisation pending from the last group, then the rest */
	return rans_decode_finish(d, x, w, nc.p, nc.end, i, n, raw, out);
}

/* Any chunk of at least 4 lanes; raw == NULL for the plain decoder. */
static inline __attribute__((always_inline)) enum gauss_status
decode_any(const struct rans_dtable *d, const uint8_t *in, size_t in_nbytes,
	   const uint8_t *raw, uint8_t *out, size_t n)
{
	switch (rans_lanes_unit(n, d->lane_unit) * 2 + d->alias) {
	case 2 * 32 + 1:
		return decode32(d, in, in_nbytes, raw, out, n, true, false);
	case 2 * 32:
		return decode32(d, in, in_nbytes, raw, out, n, false, false);
	case 2 * 16 + 1:
		return decode_narrow(d, in, in_nbytes, raw, out, n, 16, true);
	case 2 * 16:
		return decode_narrow(d, in, in_nbytes, raw, out, n, 16, false);
	case 2 * 8 + 1:
		return decode_narrow(d, in, in_nbytes, raw, out, n, 8, true);
	case 2 * 8:
		return decode_narrow(d, in, in_nbytes, raw, out, n, 8, false);
	case 2 * 4 + 1:
		return decode_narrow(d, in, in_nbytes, raw, out, n, 4, true);
	default:
		return decode_narrow(d, in, in_nbytes, raw, out, n, 4, false);
	}
}

enum gauss_status
rans_decode_avx512(const struct rans_dtable *d, const uint8_t *in,
		   size_t in_nbytes, uint8_t *syms, size_t n)
{
	if (rans_lanes_unit(n, d->lane_unit) < 4)
		return rans_decode_scalar(d, in, in_nbytes, syms, n);
	return decode_any(d, in, in_nbytes, NULL, syms, n);
}

/*
 * A chunk of a table with the top mantissa bit: fused at 32 lanes, else
 * the symbols to the upper half of dst and the merge in place.
 */
static enum gauss_status
decode_m1(const struct rans_dtable *d, const uint8_t *in, size_t in_nbytes,
	  const uint8_t *raw, uint8_t *dst, size_t n)
{
	if (rans_lanes_unit(n, d->lane_unit) == GROUP)
		return d->alias ?
		       decode32(d, in, in_nbytes, raw, dst, n, true, true) :
		       decode32(d, in, in_nbytes, raw, dst, n, false, true);
	return split_decode_m1(rans_decode_avx512, split_merge_m1_avx512, d,
			       in, in_nbytes, raw, dst, n);
}

enum gauss_status
rans_decode_bf16_avx512(const struct rans_dtable *d, const uint8_t *in,
			size_t in_nbytes, const uint8_t *raw, uint8_t *dst,
			size_t n)
{
	if (d->whole.flags & FMT_BLOCK_M1)
		return decode_m1(d, in, in_nbytes, raw, dst, n);
	if (rans_lanes_unit(n, d->lane_unit) < 4)
		return rans_decode_bf16_scalar(d, in, in_nbytes, raw, dst, n);
	return decode_any(d, in, in_nbytes, raw, dst, n);
}

void
rans_decode_bf16_pair_avx512(const struct rans_dtable *d,
			     const uint8_t *const in[2],
			     const size_t in_nbytes[2],
			     const uint8_t *const raw[2], uint8_t *const dst[2],
			     size_t n, enum gauss_status st[2])
{
	if (rans_lanes_unit(n, d->lane_unit) != GROUP) {
		for (unsigned c = 0; c < 2; c++)
			st[c] = rans_decode_bf16_avx512(d, in[c], in_nbytes[c],
							raw[c], dst[c], n);
		return;
	}
	if (d->whole.flags & FMT_BLOCK_M1) {
		if (d->alias)
			decode32_pair(d, in, in_nbytes, raw, dst, n, st, true,
				      true);
		else
			decode32_pair(d, in, in_nbytes, raw, dst, n, st, false,
				      true);
	} else if (d->alias) {
		decode32_pair(d, in, in_nbytes, raw, dst, n, st, true, false);
	} else {
		decode32_pair(d, in, in_nbytes, raw, dst, n, st, false, false);
	}
}
