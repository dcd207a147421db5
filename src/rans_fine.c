/* SPDX-License-Identifier: MIT */
/*
 * rans_fine.c: the scalar decoder of fine tables (format version 7):
 * 15-bit probabilities, the cumulative slot layout (symbol s owns slots
 * [cum[s], cum[s] + freq[s])), otherwise rans_scalar.c's stream: lanes x
 * u32 final encoder states, then the 16-bit words in the order the decoder
 * reads them; element i in lane i % lanes. Their encoder is
 * rans_scalar.c's at 15 bits.
 */
#include "endian.h"
#include "rans.h"
#include "rans_fine.h"
#include "banned.h"

enum gauss_status
rans_fine_decode(const struct rans_dtable *d, const uint8_t *in,
		 size_t in_nbytes, uint8_t *syms, size_t n)
{
	const unsigned lanes = rans_lanes_unit(n, d->lane_unit);
	const uint8_t *p = in + (size_t)lanes * 4, *const end = in + in_nbytes;
	uint32_t x[RANS_MAX_LANES];
	size_t i = 0;

	GAUSS_ASSERT(d->nsym >= 2 && d->scale_bits == RANS_FINE_BITS);
	if (!rans_states_read(in, in_nbytes, lanes, x))
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
