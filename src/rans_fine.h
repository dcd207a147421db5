/* SPDX-License-Identifier: MIT */
/*
 * rans_fine.h: what the decoders of fine tables (rans_fine.c and its
 * vector twin) share: the one-by-one loop that finishes a chunk, the fine
 * twin of rans.h's rans_decode_finish_with() (the slot's symbol from
 * sym[], its frequency and cumulative one from fc[]).
 */
#ifndef GAUSS_RANS_FINE_H
#define GAUSS_RANS_FINE_H

#include "endian.h"
#include "rans.h"

/*
 * Decodes elements [i, n) (i a multiple of lanes, states x, next word p)
 * into syms, checking every read against end; then the end checks: every
 * word read, every state back at RANS_L.
 */
static inline enum gauss_status
rans_fine_finish(const struct rans_dtable *d, uint32_t *x, unsigned lanes,
		 const uint8_t *p, const uint8_t *end, size_t i, size_t n,
		 uint8_t *syms)
{
	while (i < n) {
		for (unsigned k = 0; k < lanes && i < n; k++, i++) {
			const uint32_t slot = x[k] & (RANS_FINE_M - 1);
			const uint8_t s = d->fine.sym[slot];
			const uint32_t fc = d->fine.fc[s];
			uint32_t xs;

			syms[i] = s;
			xs = (fc & 0xffff) * (x[k] >> RANS_FINE_BITS) + slot -
			     (fc >> 16);
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

#endif /* GAUSS_RANS_FINE_H */
