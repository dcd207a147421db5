/* SPDX-License-Identifier: MIT */
/*
 * rans.h: the interleaved rANS coder of gauss: frequency tables (count,
 * normalise, serialise) and the encode/decode kernels.
 *
 * The coder is byte-symbol rANS with 32-bit states and 16-bit
 * renormalisation (ryg_rans' rans_word design): a state x lives in
 * [RANS_L, 2^32); coding symbol s of frequency f and cumulative frequency c
 * (out of RANS_M) maps x to (x / f) * M + x % f + c, after first shifting
 * out 16 bits when x >= f << 20, so that at most one 16-bit word is moved
 * per symbol in either direction.
 *
 * A stream interleaves `lanes` independent states: element i of a chunk
 * belongs to lane i % lanes. The encoder walks the elements backwards and
 * pushes words at the front of what it has written; the decoder reads them
 * forwards, element by element, lane 0 first within each group of `lanes`
 * elements. So the bytes depend on the lane count alone, never on how a
 * kernel walks the lanes: a scalar loop and a 32-wide vector loop read the
 * same words in the same order.
 *
 * The lane count is not stored: it is a function of the chunk's element
 * count and of the file's version (rans_lanes_unit()), 32 for every full
 * chunk, fewer for small chunks so that a tensor of a few hundred values
 * does not pay 32 flushed states.
 *
 * Pitfalls, as ryg_rans lists them: the decoder must check the word pointer
 * against the end before every read (the input is untrusted); after the last
 * symbol every state must be back at RANS_L and every word consumed, which
 * catches most damage before the checksum does; a table whose only symbol
 * has frequency M codes zero bits, so such chunks carry no stream at all.
 */
#ifndef GAUSS_RANS_H
#define GAUSS_RANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gauss.h"
#include "common.h"
#include "endian.h"
#include "error.h"
#include "varint.h"

/* ---- stored on disk: changing any of these changes the format ---- */
#define RANS_SCALE_BITS	12			/* probability precision */
#define RANS_M		(1u << RANS_SCALE_BITS)	/* frequencies sum to M */
#define RANS_L		(1u << 16)		/* lower bound of a state */
#define RANS_MAX_LANES	32			/* lanes of a full chunk */
#define RANS_LANE_UNIT	4096			/* elements per lane step */
#define RANS_LANE_UNIT_V4 512			/* the same, version 4 on */
#define RANS_ALIAS_BUCKETS 64			/* alias layout (version 2) */
#define RANS_ALIAS_SLOTS (RANS_M / RANS_ALIAS_BUCKETS)
/*
 * Fine tables (format version 7, bytes kind): 15-bit probabilities, for
 * byte symbols whose rare values a 12-bit table rounds up too far. Same
 * states, same 16-bit words, cumulative slot layout. Version 7 bytes
 * tables also name their lane unit, from RANS_LANE_UNIT_V4 to
 * RANS_LANE_UNIT_MAX (fewer lanes: fewer flushed states beside the few
 * bits per element such blocks often take).
 */
#define RANS_FINE_BITS	15
#define RANS_FINE_M	(1u << RANS_FINE_BITS)
#define RANS_FINE_SIG	5	/* significant bits of a listed frequency */
#define RANS_LANE_UNIT_MAX 16384
/* ---- end of format constants ---- */

/* Largest serialised table: header, 255 gaps, index, 255 frequencies. */
#define RANS_TABLE_MAX_NBYTES 1024

/*
 * Whole-value symbols (format version 4, float kinds): a block's table may
 * let some symbols stand for one whole value each (a +0, a -0, a
 * subnormal) instead of an exponent whose sign and mantissa follow in the
 * raw plane; such values take no raw bits. The other symbols are
 * exponents as before. The rANS kernels never look at this: it is how a
 * symbol becomes a value (split.h) that changes.
 */
#define RANS_WHOLE_MAX	64		/* on disk: most whole values */
struct rans_whole {
	unsigned count;			/* 0: every symbol is an exponent */
	uint8_t code[RANS_WHOLE_MAX];	/* increasing symbols */
	uint32_t value[RANS_WHOLE_MAX];	/* the bits of each value */
	uint8_t is_whole[256];		/* derived: 1 for a whole symbol */
	uint32_t of_code[256];		/* derived: its value */
	uint8_t flags;			/* the block's flags (FMT_BLOCK_*) */
	uint8_t m1_base;		/* FMT_BLOCK_M1: the symbols' base */
};

/*
 * A normalised frequency table over byte symbols. Its precision is
 * RANS_SCALE_BITS, or RANS_FINE_BITS for a fine table.
 */
struct rans_table {
	unsigned nsym;		/* symbols with a non-zero frequency */
	unsigned scale_bits;	/* the precision: frequencies sum to
				   2^scale_bits; one symbol alone gets it */
	unsigned lane_unit;	/* 0: the rule of the file's version */
	uint16_t freq[256];
	uint16_t cum[256];	/* cumulative frequency before each symbol */
	struct rans_whole whole;	/* none unless a caller adds them */
};

/*
 * Slot layouts: which of the RANS_M probability slots code which symbol.
 * Coding symbol s with frequency f maps state x to (x / f) * M + slot,
 * where slot is the slot of s's (x % f)-th code. Version 1 files use the
 * cumulative layout: s owns slots [cum[s], cum[s] + f) in order. Version 2
 * files use the alias layout whenever it exists for the table (always for
 * up to 64 symbols; rans_alias_build()), the cumulative one otherwise.
 *
 * Alias layout: slot = b * RANS_ALIAS_SLOTS + o, bucket b < 64, o < 64.
 * Bucket b holds at most two symbols: its first div[b] slots belong to
 * lo[b] (the last div[b] codes of lo[b], k = freq[lo] - div + o), the
 * others to hi[b] (codes k = khi[b] + o - div). gauss(5) gives the
 * construction, "Slot layout".
 */
struct rans_alias {
	uint8_t div[RANS_ALIAS_BUCKETS];
	uint8_t lo[RANS_ALIAS_BUCKETS];
	uint8_t hi[RANS_ALIAS_BUCKETS];
	uint16_t khi[RANS_ALIAS_BUCKETS];
};

/*
 * Builds the alias layout of t (nsym >= 2); returns false when it does not
 * exist (only possible above 64 symbols).
 */
bool rans_alias_build(const struct rans_table *t, struct rans_alias *a);

/*
 * Encoder view of a table: freq and cum per symbol, and the slot of each
 * code: the k-th code of symbol s lives in slot[cum[s] + k] (k < freq[s]).
 * The slot array has 16 spare entries so that a kernel may gather 32 bits
 * at any index.
 */
struct rans_etable {
	uint16_t slot[RANS_M + 16];
	uint16_t freq[256];
	uint16_t cum[256];
	unsigned nsym;
	unsigned scale_bits;	/* the table's; slot[] unused when fine */
	uint64_t rcp[256];	/* fine tables: ceil(2^47 / freq) */
	bool alias;
	unsigned lane_unit;	/* the table's, or its file version's */
	struct rans_whole whole;	/* the table's, copied */
};

/*
 * Decoder view of a table. slot[] holds one packed entry per probability
 * slot, for any layout: symbol (bits 0-7), frequency (8-19), the code's k
 * (20-31); decoding maps x to freq * (x >> 12) + k.
 *
 * When alias is true, alo[] and ahi[] describe the same layout per bucket
 * for kernels that look it up with in-register permutes instead of
 * gathers (for slot = b * 64 + o):
 *   alo[b] = freq[lo] | div << 12 | lo << 24
 *   ahi[b] = freq[hi] | khi << 12 | hi << 24
 *   div = (alo[b] >> 12) & 0x7f;
 *   o < div:  symbol lo, k = o - div + freq[lo]
 *   o >= div: symbol hi, k = o - div + khi
 * (empty halves are zero).
 */
struct rans_dtable {
	uint32_t alo[RANS_ALIAS_BUCKETS] __attribute__((aligned(64)));
	uint32_t ahi[RANS_ALIAS_BUCKETS] __attribute__((aligned(64)));
	union {
		uint32_t slot[RANS_M] __attribute__((aligned(64)));
		struct {	/* a fine table (scale_bits RANS_FINE_BITS) */
			uint8_t sym[RANS_FINE_M];	/* of each slot */
			uint32_t fc[256];	/* freq | cum << 16 */
		} fine;
	};
	unsigned nsym;
	unsigned scale_bits;	/* the table's: the kernels take only
				   RANS_SCALE_BITS, rans_fine_*() the other */
	uint8_t only_symbol;	/* the symbol when nsym == 1 */
	bool alias;
	bool slots;		/* slot[] is filled (always unless alias) */
	unsigned lane_unit;	/* the table's, or its file version's */
	struct rans_whole whole;	/* the table's, copied */
};

/*
 * The slot entry of state x (symbol | f << 8 | k << 20) from alo[] and
 * ahi[] alone, for alias tables built without slot[].
 */
static inline uint32_t
rans_alias_entry(const struct rans_dtable *d, uint32_t x)
{
	const unsigned b = (x & (RANS_M - 1)) / RANS_ALIAS_SLOTS;
	const unsigned o = x % RANS_ALIAS_SLOTS;
	const uint32_t lo = d->alo[b], hi = d->ahi[b];
	const unsigned div = (lo >> 12) & 0x7f;
	const uint32_t e = o < div ? lo : hi;
	const uint32_t k0 = o < div ? lo & 0xfff : (hi >> 12) & 0xfff;

	return e >> 24 | (e & 0xfff) << 8 | (k0 - div + o) << 20;
}

/*
 * Number of lanes of a chunk of n elements under a lane unit u: 1 below
 * 2u elements, doubling at 2u, 4u, 8u and 16u, 32 from 32u. Files of
 * versions 1 to 3 (and lossy payloads) use u = RANS_LANE_UNIT (32 lanes
 * from 131072 elements), version 4 u = RANS_LANE_UNIT_V4 (32 lanes from
 * 16384), which takes mid-sized tensors off the narrow, slower kernels at
 * 4 bytes of state per 512 elements at most.
 */
unsigned rans_lanes_unit(uint64_t n, unsigned u);

/* The lane unit of a file of format `version`. */
unsigned rans_lane_unit(unsigned version);

/*
 * Normalises symbol counts (whose sum must be > 0) into t: every counted
 * symbol gets a frequency >= 1, the sum is RANS_M, and the rounding is
 * chosen to lose the fewest bits, with integer arithmetic only so the
 * result is the same on every machine.
 */
void rans_table_normalize(const uint64_t counts[256], struct rans_table *t);

/* The same to a precision of scale_bits (RANS_SCALE_BITS or
 * RANS_FINE_BITS). */
void rans_table_normalize_bits(const uint64_t counts[256],
			       unsigned scale_bits, struct rans_table *t);

/* Fills the derived fields of w from count, code[] and value[]. */
void rans_whole_finish(struct rans_whole *w);

/* Fills cum[] from freq[] (and scale_bits, when 0, with RANS_SCALE_BITS);
 * used after building freq[] by hand. */
void rans_table_finish(struct rans_table *t);

/*
 * Serialises t into out (room for RANS_TABLE_MAX_NBYTES); returns the
 * number of bytes written. The layout is in gauss(5), "Frequency table".
 */
size_t rans_table_write(const struct rans_table *t, uint8_t *out);

/*
 * Reads a serialised table at the cursor and checks it (symbols in range
 * and increasing, frequencies summing to RANS_M, zero padding bits).
 * Returns GAUSS_OK or GAUSS_E_CORRUPT with a message.
 */
enum gauss_status rans_table_read(struct cursor *c, struct rans_table *t,
				  struct errbuf *eb);

/* The same for a table of precision scale_bits (frequencies summing to
 * 2^scale_bits). */
enum gauss_status rans_table_read_bits(struct cursor *c, unsigned scale_bits,
				       struct rans_table *t,
				       struct errbuf *eb);

/*
 * Builds the encoder and decoder views of t for a file of format version
 * `version` (1: cumulative layout; 2: alias layout where it exists), and
 * t's own lane unit when it has one. A fine table gets the cumulative
 * layout, for rans_fine_encode() and rans_fine_decode() (the decoder view
 * fills 32 KiB of slots whatever slots says).
 */
void rans_etable_build(const struct rans_table *t, unsigned version,
		       struct rans_etable *e);
void rans_dtable_build(const struct rans_table *t, unsigned version,
		       struct rans_dtable *d);

/*
 * The same, leaving slot[] unfilled when the alias layout applies and
 * slots is false (for kernels that read alo[] and ahi[] only: writing 16
 * KiB of entries costs more than decoding a small tensor).
 */
void rans_dtable_build_for(const struct rans_table *t, unsigned version,
			   bool slots, struct rans_dtable *d);

/* Entropy in bits per symbol of the table's own probabilities. */
double rans_table_entropy(const struct rans_table *t);

/*
 * Ideal coded size, in bits, of symbols with these counts under t (the sum
 * of -log2(freq/M)); used to decide whether coding pays.
 */
double rans_table_cost(const struct rans_table *t, const uint64_t counts[256]);

/*
 * The same in 1/65536 bits, with integer arithmetic only, so that choices
 * made from it are the same on every machine (counts of one block: the
 * sum fits in 64 bits).
 */
uint64_t rans_table_cost_q16(const struct rans_table *t,
			     const uint64_t counts[256]);

/*
 * The kernels. Every level (scalar, AVX2, AVX-512) gives the same bytes and
 * the same verdicts; see cpu.h for how one is chosen.
 *
 * encode: codes n symbols (each with a non-zero frequency in e, and
 * e->nsym >= 2) into out, at most cap bytes. Returns the stream size, or 0
 * when it would not fit in cap (the caller then stores the chunk).
 *
 * decode: decodes n symbols from a stream of in_nbytes bytes into syms.
 * Returns GAUSS_OK, or GAUSS_E_CORRUPT when the stream is short, has bytes
 * left, or does not end in the initial states. Never reads outside
 * in[0, in_nbytes); on failure syms may hold anything.
 *
 * decode_bf16: the same, fused with the merge of the bf16 planes: writes n
 * little-endian bf16 values to dst (2n bytes), value i being
 * (raw[i] & 0x80) << 8 | sym_i << 7 | (raw[i] & 0x7f).
 */
typedef size_t (*rans_encode_fn)(const struct rans_etable *e,
				 const uint8_t *syms, size_t n,
				 uint8_t *out, size_t cap);
typedef enum gauss_status (*rans_decode_fn)(const struct rans_dtable *d,
					    const uint8_t *in,
					    size_t in_nbytes,
					    uint8_t *syms, size_t n);
typedef enum gauss_status (*rans_decode_bf16_fn)(const struct rans_dtable *d,
						 const uint8_t *in,
						 size_t in_nbytes,
						 const uint8_t *raw,
						 uint8_t *dst, size_t n);

/*
 * decode_bf16_pair: decode_bf16 of two chunks of n elements each under the
 * same table, st[c] the verdict of chunk c; a kernel may interleave them
 * to hide latency, but each chunk's output and verdict are decode_bf16's.
 */
typedef void (*rans_decode_bf16_pair_fn)(const struct rans_dtable *d,
					 const uint8_t *const in[2],
					 const size_t in_nbytes[2],
					 const uint8_t *const raw[2],
					 uint8_t *const dst[2], size_t n,
					 enum gauss_status st[2]);

/*
 * The lanes' initial states from a stream's head into x; false when the
 * stream is shorter than the states, its words are not whole, or a state
 * is below RANS_L.
 */
static inline bool
rans_states_read(const uint8_t *in, size_t in_nbytes, unsigned lanes,
		 uint32_t *x)
{
	if (in_nbytes < (size_t)lanes * 4 || (in_nbytes - lanes * 4) % 2)
		return false;
	for (unsigned k = 0; k < lanes; k++) {
		x[k] = get_le32(in + 4 * k);
		if (x[k] < RANS_L)
			return false;
	}
	return true;
}

/* The end checks of a stream: every word read (p at end), every state
 * back at RANS_L. */
static inline enum gauss_status
rans_end_check(const uint32_t *x, unsigned lanes, const uint8_t *p,
	       const uint8_t *end)
{
	if (p != end)
		return GAUSS_E_CORRUPT;
	for (unsigned k = 0; k < lanes; k++)
		if (x[k] != RANS_L)
			return GAUSS_E_CORRUPT;
	return GAUSS_OK;
}

/*
 * The scalar decoding loop, shared by every kernel: the scalar kernels run
 * it from the start, the vector kernels to finish a chunk. x[lanes] holds
 * the states; a state below RANS_L first reads its word (a renormalisation
 * a vector kernel left pending; none for states fresh from the stream).
 * Then elements [i, n) are decoded (i a multiple of lanes) into out:
 * symbols when raw is NULL, else bf16 values merged with raw. Last come
 * the end checks. p is the next word, end the end of the stream.
 */
static inline __attribute__((always_inline)) enum gauss_status
rans_decode_finish_with(const struct rans_dtable *d, uint32_t *x,
			unsigned lanes, const uint8_t *p, const uint8_t *end,
			size_t i, size_t n, const uint8_t *raw, uint8_t *out,
			bool slots)
{
	for (unsigned k = 0; k < lanes; k++) {
		if (x[k] < RANS_L) {
			if (unlikely(end - p < 2))
				return GAUSS_E_CORRUPT;
			x[k] = (x[k] << 16) | get_le16(p);
			p += 2;
		}
	}
	while (i < n) {
		for (unsigned k = 0; k < lanes && i < n; k++, i++) {
			const uint32_t e = slots ?
				d->slot[x[k] & (RANS_M - 1)] :
				rans_alias_entry(d, x[k]);
			uint32_t xs;

			if (raw)
				put_le16(out + 2 * i,
					 (uint16_t)((raw[i] & 0x80u) << 8 |
						    (e & 0xffu) << 7 |
						    (raw[i] & 0x7fu)));
			else
				out[i] = (uint8_t)e;
			xs = ((e >> 8) & 0xfff) * (x[k] >> RANS_SCALE_BITS) +
			     (e >> 20);
			if (xs < RANS_L) {
				if (unlikely(end - p < 2))
					return GAUSS_E_CORRUPT;
				xs = (xs << 16) | get_le16(p);
				p += 2;
			}
			x[k] = xs;
		}
	}
	return rans_end_check(x, lanes, p, end);
}

/* The loop above, its entries from slot[] or, without it, from alo/ahi. */
static inline __attribute__((always_inline)) enum gauss_status
rans_decode_finish(const struct rans_dtable *d, uint32_t *x, unsigned lanes,
		   const uint8_t *p, const uint8_t *end, size_t i, size_t n,
		   const uint8_t *raw, uint8_t *out)
{
	if (d->slots)
		return rans_decode_finish_with(d, x, lanes, p, end, i, n, raw,
					       out, true);
	return rans_decode_finish_with(d, x, lanes, p, end, i, n, raw, out,
				       false);
}

/*
 * The coder of fine tables (format version 7): the same stream layout and
 * verdicts as the kernels' encode and decode, with 15-bit probabilities
 * and the cumulative layout; the symbols of fine tables are the bytes of
 * 8-bit tensors. The scalar encoder is rans_scalar.c's at 15 bits, the
 * decoder rans_fine.c's; their AVX-512 twins: rans_avx512_enc.c's encoder
 * at 15 bits, the decoder in rans_fine_avx512.c.
 */
size_t rans_fine_encode(const struct rans_etable *e, const uint8_t *syms,
			size_t n, uint8_t *out, size_t cap);
enum gauss_status rans_fine_decode(const struct rans_dtable *d,
				   const uint8_t *in, size_t in_nbytes,
				   uint8_t *syms, size_t n);
size_t rans_fine_encode_avx512(const struct rans_etable *e,
			       const uint8_t *syms, size_t n, uint8_t *out,
			       size_t cap);
enum gauss_status rans_fine_decode_avx512(const struct rans_dtable *d,
					  const uint8_t *in, size_t in_nbytes,
					  uint8_t *syms, size_t n);

#define RANS_DECLARE_KERNELS(level)					\
	size_t rans_encode_##level(const struct rans_etable *e,		\
				   const uint8_t *syms, size_t n,	\
				   uint8_t *out, size_t cap);		\
	enum gauss_status rans_decode_##level(const struct rans_dtable *d, \
					      const uint8_t *in,	\
					      size_t in_nbytes,		\
					      uint8_t *syms, size_t n);	\
	enum gauss_status rans_decode_bf16_##level(			\
		const struct rans_dtable *d, const uint8_t *in,		\
		size_t in_nbytes, const uint8_t *raw, uint8_t *dst,	\
		size_t n);						\
	void rans_decode_bf16_pair_##level(				\
		const struct rans_dtable *d, const uint8_t *const in[2], \
		const size_t in_nbytes[2], const uint8_t *const raw[2],	\
		uint8_t *const dst[2], size_t n, enum gauss_status st[2])

RANS_DECLARE_KERNELS(scalar);
RANS_DECLARE_KERNELS(avx2);
RANS_DECLARE_KERNELS(avx512);

#endif /* GAUSS_RANS_H */
