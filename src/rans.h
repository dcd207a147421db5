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
 * count (rans_lanes()), 32 for every full chunk, fewer for small chunks so
 * that a tensor of a few hundred values does not pay 32 flushed states.
 *
 * Pitfalls, as ryg_rans lists them: the decoder must check the word pointer
 * against the end before every read (the input is untrusted); after the last
 * symbol every state must be back at RANS_L and every word consumed, which
 * catches most damage before the checksum does; a table whose only symbol
 * has frequency M codes zero bits, so such chunks carry no stream at all.
 */
#ifndef GAUSS_RANS_H
#define GAUSS_RANS_H

#include <stddef.h>
#include <stdint.h>

#include "gauss.h"
#include "common.h"
#include "error.h"
#include "varint.h"

/* ---- stored on disk: changing any of these changes the format ---- */
#define RANS_SCALE_BITS	12			/* probability precision */
#define RANS_M		(1u << RANS_SCALE_BITS)	/* frequencies sum to M */
#define RANS_L		(1u << 16)		/* lower bound of a state */
#define RANS_MAX_LANES	32			/* lanes of a full chunk */
#define RANS_LANE_UNIT	4096			/* elements per lane step */
/* ---- end of format constants ---- */

/* Largest serialised table: header, 255 gaps, index, 255 frequencies. */
#define RANS_TABLE_MAX_NBYTES 1024

/* A normalised frequency table over byte symbols. */
struct rans_table {
	unsigned nsym;		/* symbols with a non-zero frequency */
	uint16_t freq[256];	/* sum to RANS_M; one symbol alone gets M */
	uint16_t cum[256];	/* cumulative frequency before each symbol */
};

/*
 * Decoder view of a table: one packed entry per probability slot:
 * symbol (bits 0-7), frequency (8-19), slot - cum (20-31).
 */
struct rans_dtable {
	uint32_t slot[RANS_M];
	unsigned nsym;
	uint8_t only_symbol;	/* the symbol when nsym == 1 */
};

/* Number of lanes of a chunk of n elements: 1 below 8192, 32 from 131072. */
unsigned rans_lanes(uint64_t n);

/*
 * Normalises symbol counts (whose sum must be > 0) into t: every counted
 * symbol gets a frequency >= 1, the sum is RANS_M, and the rounding is
 * chosen to lose the fewest bits, with integer arithmetic only so the
 * result is the same on every machine.
 */
void rans_table_normalize(const uint64_t counts[256], struct rans_table *t);

/* Fills cum[] from freq[] and nsym; used after building freq[] by hand. */
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

/* Builds the decoder view of t. */
void rans_dtable_build(const struct rans_table *t, struct rans_dtable *d);

/* Entropy in bits per symbol of the table's own probabilities. */
double rans_table_entropy(const struct rans_table *t);

/*
 * Ideal coded size, in bits, of symbols with these counts under t (the sum
 * of -log2(freq/M)); used to decide whether coding pays.
 */
double rans_table_cost(const struct rans_table *t, const uint64_t counts[256]);

/*
 * Encodes n symbols (each with a non-zero frequency in t, and t->nsym >= 2)
 * into out, at most cap bytes. Returns the stream size, or 0 when it would
 * not fit in cap (the caller then stores the chunk).
 */
typedef size_t (*rans_encode_fn)(const struct rans_table *t,
				 const uint8_t *syms, size_t n,
				 uint8_t *out, size_t cap);

/*
 * Decodes n symbols from a stream of in_nbytes bytes into syms. Returns
 * GAUSS_OK, or GAUSS_E_CORRUPT when the stream is short, has bytes left, or
 * does not end in the initial states. Never reads outside in[0, in_nbytes).
 */
typedef enum gauss_status (*rans_decode_fn)(const struct rans_dtable *d,
					    const uint8_t *in,
					    size_t in_nbytes,
					    uint8_t *syms, size_t n);

size_t rans_encode_scalar(const struct rans_table *t, const uint8_t *syms,
			  size_t n, uint8_t *out, size_t cap);
enum gauss_status rans_decode_scalar(const struct rans_dtable *d,
				     const uint8_t *in, size_t in_nbytes,
				     uint8_t *syms, size_t n);

#endif /* GAUSS_RANS_H */
