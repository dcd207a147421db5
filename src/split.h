/* SPDX-License-Identifier: MIT */
/*
 * split.h: float planes. A codec kind says how the original bytes of a
 * chunk become one symbol per element (coded with rANS) plus a raw plane
 * (stored as it is), and back:
 *   BYTES:    the symbol is the byte itself; no raw plane.
 *   EXP_BF16: symbol = bits 14..7; raw byte = sign << 7 | mantissa (7 bits).
 *   EXP_F16:  symbol = bits 14..10; raw = low byte (mantissa bits 7..0),
 *             then a plane of 3-bit groups (sign << 2 | mantissa bits 9..8)
 *             packed LSB first, 8 elements in 3 bytes.
 *   EXP_F32:  symbol = bits 30..23; raw = 3 bytes per element, the
 *             little-endian 24-bit value sign << 23 | mantissa.
 * Values are little-endian in the original, as safetensors stores them.
 */
#ifndef GAUSS_SPLIT_H
#define GAUSS_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "rans.h"

/* Bytes of one element of a coded kind (1 for BYTES). */
unsigned split_elem_nbytes(enum fmt_kind kind);

/* Bytes of the raw plane of n elements. */
size_t split_raw_nbytes(enum fmt_kind kind, size_t n);

/* Adds the symbol counts of n elements at src to counts[]. */
void split_count(enum fmt_kind kind, const uint8_t *src, size_t n,
		 uint64_t counts[256]);

/*
 * Sampled counts for large bf16 blocks. Counting every exponent is the
 * slowest pass of compression after the encoder, and a table only needs
 * proportions close to the truth plus a frequency for every symbol that
 * occurs. So, for a block of at least SPLIT_SAMPLE_MIN elements:
 *
 *   - a vector pass (struct split_range) finds exactly the smallest and
 *     largest exponent other than 0 and how many elements have exponent 0;
 *   - when exponent 0 is rare (fewer than SPLIT_SAMPLE_MAX_ZEROS: no whole
 *     values and no zero runs can be chosen, split_whole_count()) and 255
 *     (infinities, NaN) absent, the
 *     exponents 1..254 are counted in one group of SPLIT_SAMPLE_GROUP
 *     elements out of SPLIT_SAMPLE_EVERY and the count multiplied by
 *     SPLIT_SAMPLE_EVERY (the last partial stride is counted whole), every
 *     exponent of the range that the sample missed gets 1 (each costs
 *     about 1/4096 of the probability if absent, so at most
 *     SPLIT_SAMPLE_MAX_GAPS of them are allowed), and exponent 0 gets its
 *     exact count;
 *   - when the sample missed more of the range (the rare tails of real
 *     weights reach far from the bulk), the same holds for the core of the
 *     sample instead, the run of consecutive exponents it saw around the
 *     one it saw most, and a second vector pass counts exactly the elements
 *     whose exponent is outside the core and not 0 (the tails, which the
 *     sample misses or sees by chance), unless more than
 *     1/SPLIT_SAMPLE_MAX_OUTER of the sample lies outside the core (that
 *     pass counts them one by one);
 *   - otherwise every element is counted: the rest of each stride is
 *     added to the sample's counts, so the sample was not wasted.
 *
 * Every symbol present thus has a non-zero count; the counts depend on
 * the block's bytes alone, so every machine and thread count gets the same
 * table. Cost (bench/RESULTS.md): a few thousandths of a percent of size.
 */
#define SPLIT_SAMPLE_MIN	65536
#define SPLIT_SAMPLE_MAX_ZEROS	16
#define SPLIT_SAMPLE_MAX_GAPS	4
#define SPLIT_SAMPLE_MAX_OUTER	64
#define SPLIT_SAMPLE_GROUP	64
#define SPLIT_SAMPLE_EVERY	4

struct split_range {
	unsigned lo, hi;	/* least and most exponent other than 0 */
	uint64_t n0;		/* elements of exponent 0 */
};

/*
 * The one pass over n bf16 elements: the range facts into *r, and, for
 * the first SPLIT_SAMPLE_GROUP elements of every whole stride of
 * SPLIT_SAMPLE_GROUP * SPLIT_SAMPLE_EVERY, 1 added to c[k][(v >> 6) &
 * 0x1ff] (exponent and top mantissa bit) for some k (sub-histograms;
 * their sum is what counts).
 * Returns the elements of the whole strides. The scalar twin of the
 * kernels' pass.
 */
size_t split_sample_bf16(const uint8_t *src, size_t n, struct split_range *r,
			 uint32_t c[4][512]);

/* The same with AVX-512 (F, BW); same results always. */
size_t split_sample_bf16_avx512(const uint8_t *src, size_t n,
				struct split_range *r, uint32_t c[4][512]);

typedef size_t (*split_sample_fn)(const uint8_t *src, size_t n,
				  struct split_range *r, uint32_t c[4][512]);

/*
 * The tails' pass over n bf16 elements: 1 added to outer[e] for each
 * element whose exponent e is not 0 and is below slo or above shi. The
 * scalar twin of the kernels' pass.
 */
void split_outer_bf16(const uint8_t *src, size_t n, unsigned slo,
		      unsigned shi, uint32_t outer[256]);

/* The same with AVX-512 (F, BW); same results always. */
void split_outer_bf16_avx512(const uint8_t *src, size_t n, unsigned slo,
			     unsigned shi, uint32_t outer[256]);

typedef void (*split_outer_fn)(const uint8_t *src, size_t n, unsigned slo,
			       unsigned shi, uint32_t outer[256]);

/* A level's passes for split_count_block(). */
struct split_sampler {
	split_sample_fn sample;
	split_outer_fn outer;
};

/*
 * split_count() for a block: sampled as above where that applies (with the
 * level's passes), exact otherwise. Adds to counts[]. When jc is not
 * NULL, also adds to jc[] the exponent and top mantissa bit (bits 14..6
 * of bf16 values, 14..9 of fp16, 30..22 of fp32) of each element counted
 * one by one: every element of an exact count, the sample's otherwise
 * (for the top bit's share within each exponent).
 */
void split_count_block(enum fmt_kind kind, const uint8_t *src, size_t n,
		       const struct split_sampler *sp, uint64_t counts[256],
		       uint64_t *jc);

/* Splits n elements at src into syms[n] and raw[split_raw_nbytes()]. */
void split_planes(enum fmt_kind kind, const uint8_t *src, size_t n,
		  uint8_t *syms, uint8_t *raw);

/* Rebuilds n elements at dst from syms[] and raw[]. */
void split_merge(enum fmt_kind kind, const uint8_t *syms, const uint8_t *raw,
		 size_t n, uint8_t *dst);

/*
 * Whole-value symbols (rans.h, struct rans_whole): a table's symbol may
 * stand for a whole value with exponent field zero (a +0, a -0, a
 * subnormal), which then takes no raw bits.
 *
 * split_whole_choose: given a block's n elements and its exponent counts
 * (split_count()), chooses the whole values worth a symbol of their own,
 * fills w (count 0: none) and moves their counts to their symbols. Only
 * values with exponent field zero are candidates (for bf16 every sign and
 * mantissa of exponent 0; for fp16 and fp32 the two zeros); each takes the
 * highest symbol no exponent of the block uses. Integer rules only, so
 * every machine chooses alike.
 */
void split_whole_choose(enum fmt_kind kind, const uint8_t *src, size_t n,
			uint64_t counts[256], struct rans_whole *w);

/*
 * split_whole_choose() in two steps: split_whole_count() counts the
 * candidate values (a pass over src, skipped when exponent 0 is too rare),
 * split_whole_pick() chooses from those counts alone. Between them,
 * split_whole_drop_zeros() takes r elements of +0 out of the candidates,
 * so that the choice for the block without r of its zeros (and with
 * counts[0] lowered by r, n by r) is made without a pass over it.
 */
struct split_whole_cand {
	uint64_t count;
	uint32_t value;
};

struct split_whole_cands {
	unsigned ncand;
	struct split_whole_cand cand[256];
};

void split_whole_count(enum fmt_kind kind, const uint8_t *src, size_t n,
		       const uint64_t counts[256],
		       struct split_whole_cands *wc);
void split_whole_drop_zeros(struct split_whole_cands *wc, uint64_t r);
void split_whole_pick(enum fmt_kind kind, size_t n, uint64_t counts[256],
		      const struct split_whole_cands *wc,
		      struct rans_whole *w);

/*
 * Splits n elements under a table with whole values (w->count > 0): every
 * element gets its symbol in syms[], and the m elements that are not whole
 * values fill a raw plane of split_raw_nbytes(kind, m) bytes, in order
 * (raw needs room for split_raw_nbytes(kind, n) + 4 bytes: the loops write
 * a little past the plane rather than branch).
 * Returns m, or SIZE_MAX when an element's exponent is one of w's symbols
 * (the block's table was not made for these elements).
 */
size_t split_planes_whole(enum fmt_kind kind, const struct rans_whole *w,
			  const uint8_t *src, size_t n, uint8_t *syms,
			  uint8_t *raw);

/* Number of symbols of syms[n] that are not whole values of w. */
size_t split_count_unwhole(const struct rans_whole *w, const uint8_t *syms,
			   size_t n);

/*
 * Rebuilds n elements from their symbols and a raw plane of `avail`
 * entries, which the elements that are not whole values take in order
 * (for exp-f16 avail must be that number of elements, since the packed
 * plane starts after avail bytes). Returns the number of entries taken,
 * or SIZE_MAX when the elements need more than avail (a damaged chunk);
 * dst then holds anything.
 */
size_t split_merge_whole(enum fmt_kind kind, const struct rans_whole *w,
			 const uint8_t *syms, const uint8_t *raw, size_t n,
			 size_t avail, uint8_t *dst);

/*
 * The same from element i0 on, raw entry j being the next to take (for
 * vector kernels that did the elements before i0).
 */
size_t split_merge_whole_from(enum fmt_kind kind, const struct rans_whole *w,
			      const uint8_t *syms, const uint8_t *raw,
			      size_t n, size_t avail, size_t i0, size_t j,
			      uint8_t *dst);

/*
 * split_merge_whole() with AVX-512 (F, BW, VL) for exp-bf16 tables whose
 * whole symbols are all 192 or more (gauss's encoder takes the highest
 * free ones), 16 elements a step; anything else goes to the scalar code.
 * Same bytes and result as split_merge_whole() always.
 */
size_t split_merge_whole_avx512(enum fmt_kind kind,
				const struct rans_whole *w,
				const uint8_t *syms, const uint8_t *raw,
				size_t n, size_t avail, uint8_t *dst);

/*
 * The same without the 64-element VBMI2 steps the CPU may allow (for
 * tests: both vector paths give the scalar bytes).
 */
size_t split_merge_whole_avx512_16(enum fmt_kind kind,
				   const struct rans_whole *w,
				   const uint8_t *syms, const uint8_t *raw,
				   size_t n, size_t avail, uint8_t *dst);

/*
 * split_planes_whole() with AVX-512 (F, BW, VL) for exp-bf16 tables whose
 * whole values are the two zeros (what gauss's encoder writes for pruned
 * tensors), 16 elements a step; anything else goes to the scalar code.
 * Same bytes and result as split_planes_whole() always.
 */
size_t split_planes_whole_avx512(enum fmt_kind kind,
				 const struct rans_whole *w,
				 const uint8_t *src, size_t n, uint8_t *syms,
				 uint8_t *raw);

/*
 * Top mantissa bit (format version 6, exp-bf16 blocks whose table sets
 * FMT_BLOCK_M1): the symbol of a value v is ((v >> 6) & 0x1ff) - 2 * base,
 * its exponent and top mantissa bit, and its raw entry the 7 bits
 * e = ((v >> 9) & 0x40) | (v & 0x3f), sign and mantissa bits 5..0.
 * The raw plane packs each whole group of SPLIT_M1_GROUP (32) entries in
 * SPLIT_M1_GROUP_NBYTES (28) bytes, byte j = e[j] | bit (j % 7) of
 * e[28 + j / 7] << 7, so that a vector takes entries 0-27 with a mask and
 * entries 28-31 from the bytes' top bits; the last n % 32 entries take a
 * byte each, bit 7 zero. gauss(5), "Top mantissa bit".
 */
#define SPLIT_M1_GROUP		32
#define SPLIT_M1_GROUP_NBYTES	28

size_t split_raw_nbytes_m1(size_t n);

/*
 * Splits n bf16 elements into syms[n] and raw[split_raw_nbytes_m1(n)],
 * from element i (a multiple of SPLIT_M1_GROUP; raw is the plane's start)
 * on. Returns false when an element's bits 14..6 lie outside [2 * base,
 * 2 * base + 255] (the block's table was not made for these elements).
 */
bool split_planes_m1(const uint8_t *src, size_t n, unsigned base,
		     uint8_t *syms, uint8_t *raw);
bool split_planes_m1_from(const uint8_t *src, size_t n, size_t i,
			  unsigned base, uint8_t *syms, uint8_t *raw);

/*
 * split_planes_m1() with AVX-512 (F, BW, VL, BMI2), 32 elements a step.
 * Same bytes and result always.
 */
bool split_planes_m1_avx512(const uint8_t *src, size_t n, unsigned base,
			    uint8_t *syms, uint8_t *raw);

typedef bool (*split_planes_m1_fn)(const uint8_t *src, size_t n,
				   unsigned base, uint8_t *syms,
				   uint8_t *raw);

/*
 * Rebuilds n bf16 elements from their symbols and raw plane (from element
 * i on, a multiple of SPLIT_M1_GROUP, for the _from form). syms may be the
 * upper half of dst (syms == dst + n): each element is written after its
 * symbol and its group's raw bytes are read, and before any later symbol
 * is overwritten.
 */
void split_merge_m1(const uint8_t *syms, const uint8_t *raw, size_t n,
		    unsigned base, uint8_t *dst);
void split_merge_m1_from(const uint8_t *syms, const uint8_t *raw, size_t n,
			 size_t i, unsigned base, uint8_t *dst);

/* split_merge_m1() with AVX-512 (F, BW, VL, BMI2); same bytes always. */
void split_merge_m1_avx512(const uint8_t *syms, const uint8_t *raw,
			   size_t n, unsigned base, uint8_t *dst);

typedef void (*split_merge_m1_fn)(const uint8_t *syms, const uint8_t *raw,
				  size_t n, unsigned base, uint8_t *dst);

/* Whether the tail bytes of a plane of n entries have bit 7 clear. */
bool split_m1_tail_ok(const uint8_t *raw, size_t n);

/*
 * The top mantissa bit for every float kind (format 7 adds exp-f16 and
 * exp-f32; scalar code for those, the bf16 functions above for exp-bf16).
 * exp-f32: the symbol of v is ((v >> 22) & 0x1ff) - 2 * base; the raw
 * plane holds the low 16 bits of each element (2 bytes, little-endian),
 * then the 7-bit entries (sign << 6 | mantissa bits 21..16) in bf16's
 * layout. exp-f16: the symbol is ((v >> 9) & 0x3f) - 2 * base; the raw
 * plane holds the low byte of each element (mantissa bits 7..0), then
 * 2-bit entries (sign << 1 | mantissa bit 8) packed 4 to a byte from the
 * least significant bits, unused high bits of the last byte zero.
 * gauss(5), "Top mantissa bit".
 */
size_t split_raw_nbytes_m1_kind(enum fmt_kind kind, size_t n);
bool split_planes_m1_kind(enum fmt_kind kind, const uint8_t *src, size_t n,
			  unsigned base, uint8_t *syms, uint8_t *raw);
void split_merge_m1_kind(enum fmt_kind kind, const uint8_t *syms,
			 const uint8_t *raw, size_t n, unsigned base,
			 uint8_t *dst);
/* Whether a plane of n entries has its unused bits zero. */
bool split_m1_padding_ok(enum fmt_kind kind, const uint8_t *raw, size_t n);

/*
 * A chunk of a top-mantissa-bit table without a fused decoder: its n
 * symbols decoded (with decode) into the upper half of dst, then merged
 * in place (with merge). Returns decode's verdict.
 */
static inline enum gauss_status
split_decode_m1(rans_decode_fn decode, split_merge_m1_fn merge,
		const struct rans_dtable *d, const uint8_t *in,
		size_t in_nbytes, const uint8_t *raw, uint8_t *dst, size_t n)
{
	const enum gauss_status st = decode(d, in, in_nbytes, dst + n, n);

	if (st == GAUSS_OK)
		merge(dst + n, raw, n, d->whole.m1_base, dst);
	return st;
}

/* Rebuilds n elements whose symbols all equal sym. */
void split_merge_const(enum fmt_kind kind, uint8_t sym, const uint8_t *raw,
		       size_t n, uint8_t *dst);

#endif /* GAUSS_SPLIT_H */
