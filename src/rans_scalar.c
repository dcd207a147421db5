/* SPDX-License-Identifier: MIT */
/*
 * rans_scalar.c: the reference N-lane interleaved rANS coder, the oracle
 * every vector kernel must match byte for byte (see rans.h for the layout).
 *
 * Stream layout: lanes x u32 final encoder states (lane 0 first), then the
 * 16-bit renormalisation words in the order the decoder consumes them.
 */
#include <string.h>

#include "endian.h"
#include "rans.h"
#include "split.h"
#include "banned.h"

/*
 * The encoder at a table's precision: RANS_SCALE_BITS (its slots by the
 * table's layout) or RANS_FINE_BITS (the cumulative layout, quotients by
 * reciprocal: rans_fine_encode()).
 */
static inline __attribute__((always_inline)) size_t
encode(const struct rans_etable *t, const uint8_t *syms, size_t n,
       uint8_t *out, size_t cap, const unsigned bits)
{
	const unsigned lanes = rans_lanes_unit(n, t->lane_unit);
	const size_t head = (size_t)lanes * 4;
	uint32_t x[RANS_MAX_LANES];
	uint8_t *p = out + cap;	/* words grow down from the end of out */
	size_t nbytes;

	GAUSS_ASSERT(t->nsym >= 2 && t->scale_bits == bits);
	if (cap < head)
		return 0;
	for (unsigned k = 0; k < lanes; k++)
		x[k] = RANS_L;
	/* element i is in lane i % lanes: walk i down, k with it */
	for (size_t i = n, k = n % lanes; i-- > 0;) {
		const unsigned s = syms[i];
		const uint32_t f = t->freq[s];
		uint32_t xs, q;

		k = k ? k - 1 : lanes - 1;
		xs = x[k];
		GAUSS_ASSERT(f != 0);
		if (xs >= (f << (32 - bits))) {
			if (p - out < (ptrdiff_t)(head + 2))
				return 0;
			p -= 2;
			put_le16(p, (uint16_t)xs);
			xs >>= 16;
		}
		if (bits == RANS_FINE_BITS) {
			/*
			 * q = xs / f as a product: xs < f << 17 and f < 2^15
			 * make the error of ceil(2^47 / f) below 1 / f and
			 * xs * rcp < 2^64
			 */
			q = (uint32_t)(((uint64_t)xs * t->rcp[s]) >> 47);
			x[k] = (q << bits) + t->cum[s] + xs - q * f;
		} else {
			q = xs / f;
			x[k] = (q << bits) + t->slot[t->cum[s] + xs - q * f];
		}
	}
	nbytes = (size_t)(out + cap - p);
	memmove(out + head, p, nbytes);
	for (unsigned k = 0; k < lanes; k++)
		put_le32(out + 4 * k, x[k]);
	return head + nbytes;
}

size_t
rans_encode_scalar(const struct rans_etable *t, const uint8_t *syms,
		   size_t n, uint8_t *out, size_t cap)
{
	return encode(t, syms, n, out, cap, RANS_SCALE_BITS);
}

size_t
rans_fine_encode(const struct rans_etable *e, const uint8_t *syms, size_t n,
		 uint8_t *out, size_t cap)
{
	return encode(e, syms, n, out, cap, RANS_FINE_BITS);
}

/* Checks the initial states and runs the shared decoding loop. */
static inline __attribute__((always_inline)) enum gauss_status
decode(const struct rans_dtable *d, const uint8_t *in, size_t in_nbytes,
       const uint8_t *raw, uint8_t *out, size_t n)
{
	const unsigned lanes = rans_lanes_unit(n, d->lane_unit);
	uint32_t x[RANS_MAX_LANES];

	if (!rans_states_read(in, in_nbytes, lanes, x))
		return GAUSS_E_CORRUPT;
	return rans_decode_finish(d, x, lanes, in + (size_t)lanes * 4,
				  in + in_nbytes, 0, n, raw, out);
}

enum gauss_status
rans_decode_scalar(const struct rans_dtable *d, const uint8_t *in,
		   size_t in_nbytes, uint8_t *syms, size_t n)
{
	return decode(d, in, in_nbytes, NULL, syms, n);
}

enum gauss_status
rans_decode_bf16_scalar(const struct rans_dtable *d, const uint8_t *in,
			size_t in_nbytes, const uint8_t *raw, uint8_t *dst,
			size_t n)
{
	if (d->whole.flags & FMT_BLOCK_M1)
		return split_decode_m1(rans_decode_scalar, split_merge_m1, d, in,
				       in_nbytes, raw, dst, n);
	return decode(d, in, in_nbytes, raw, dst, n);
}

/* Two chunks in turn: this level gains nothing from interleaving them. */
void
rans_decode_bf16_pair_scalar(const struct rans_dtable *d,
			const uint8_t *const in[2], const size_t in_nbytes[2],
			const uint8_t *const raw[2], uint8_t *const dst[2],
			size_t n, enum gauss_status st[2])
{
	for (unsigned c = 0; c < 2; c++)
		st[c] = rans_decode_bf16_scalar(d, in[c], in_nbytes[c], raw[c],
					     dst[c], n);
}
