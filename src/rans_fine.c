/* SPDX-License-Identifier: MIT */
/*
 * rans_fine.c: the interleaved rANS coder of fine tables (format version
 * 7): 15-bit probabilities, the cumulative slot layout (symbol s owns slots
 * [cum[s], cum[s] + freq[s])), otherwise rans_scalar.c's stream: lanes x
 * u32 final encoder states, then the 16-bit words in the order the decoder
 * reads them; element i in lane i % lanes.
 */
#include <string.h>

#include "endian.h"
#include "rans.h"
#include "rans_fine.h"
#include "banned.h"

size_t
rans_fine_encode(const struct rans_etable *e, const uint8_t *syms, size_t n,
		 uint8_t *out, size_t cap)
{
	const unsigned lanes = rans_lanes_unit(n, e->lane_unit);
	const size_t head = (size_t)lanes * 4;
	uint32_t x[RANS_MAX_LANES];
	uint8_t *p = out + cap;	/* words grow down from the end of out */
	size_t nbytes;

	GAUSS_ASSERT(e->nsym >= 2 && e->scale_bits == RANS_FINE_BITS);
	if (cap < head)
		return 0;
	for (unsigned k = 0; k < lanes; k++)
		x[k] = RANS_L;
	for (size_t i = n, k = n % lanes; i-- > 0;) {
		const unsigned s = syms[i];
		const uint32_t f = e->freq[s];
		uint32_t xs, q, big;

		k = k ? k - 1 : lanes - 1;
		xs = x[k];
		GAUSS_ASSERT(f != 0);
		big = -(uint32_t)(xs >= (f << (32 - RANS_FINE_BITS)));
		/* branch-free but near the end of out: the word is written
		 * always, kept when big */
		if (unlikely(p - out < (ptrdiff_t)(head + 2))) {
			if (big)
				return 0;
		} else {
			put_le16(p - 2, (uint16_t)xs);
		}
		p -= 2 & big;
		xs >>= 16 & big;
		/*
		 * q = xs / f as a product: xs < f << 17 and f < 2^15 make the
		 * error of ceil(2^47 / f) below 1 / f and xs * rcp < 2^64
		 */
		q = (uint32_t)(((uint64_t)xs * e->rcp[s]) >> 47);
		x[k] = (q << RANS_FINE_BITS) + e->cum[s] + xs - q * f;
	}
	nbytes = (size_t)(out + cap - p);
	memmove(out + head, p, nbytes);
	for (unsigned k = 0; k < lanes; k++)
		put_le32(out + 4 * k, x[k]);
	return head + nbytes;
}

enum gauss_status
rans_fine_decode(const struct rans_dtable *d, const uint8_t *in,
		 size_t in_nbytes, uint8_t *syms, size_t n)
{
	const unsigned lanes = rans_lanes_unit(n, d->lane_unit);
	const uint8_t *p = in + (size_t)lanes * 4, *const end = in + in_nbytes;
	uint32_t x[RANS_MAX_LANES];
	size_t i = 0;

	if (!rans_fine_start(d, in, in_nbytes, lanes, x))
		return GAUSS_E_CORRUPT;
	/*
	 * Whole groups of lanes while the stream holds a word for every lane
	 * (no bounds check, a branch-free renormalisation: the word is read
	 * always and kept when the state fell below RANS_L), then the rest one
	 * by one.
	 */
	while (n - i >= lanes && end - p >= 2 * (ptrdiff_t)lanes) {
		for (unsigned k = 0; k < lanes; k++, i++) {
			const uint32_t slot = x[k] & (RANS_FINE_M - 1);
			const uint8_t s = d->fine.sym[slot];
			const uint32_t fc = d->fine.fc[s];
			const uint32_t xs = (fc & 0xffff) *
				(x[k] >> RANS_FINE_BITS) + slot - (fc >> 16);
			/* all ones when the state fell below RANS_L */
			const uint32_t m = -(uint32_t)(xs < RANS_L);

			syms[i] = s;
			x[k] = xs << (16 & m) | (get_le16(p) & m);
			p += 2 & m;
		}
	}
	return rans_fine_finish(d, x, lanes, p, end, i, n, syms);
}
