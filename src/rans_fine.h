/* SPDX-License-Identifier: MIT */
/*
 * rans_fine.h: what the decoders of fine tables (rans_fine.c and its
 * vector twin) share: reading the initial states, and the one-by-one loop
 * that finishes a chunk and makes the end checks.
 */
#ifndef GAUSS_RANS_FINE_H
#define GAUSS_RANS_FINE_H

#include "endian.h"
#include "rans.h"

/* The lanes' initial states from the stream's head into x; false when
 * the stream is too short, odd, or a state is below RANS_L. */
static inline bool
rans_fine_start(const struct rans_dtable *d, const uint8_t *in,
		size_t in_nbytes, unsigned lanes, uint32_t *x)
{
	(void)d;	/* for builds whose GAUSS_ASSERT is empty */
	GAUSS_ASSERT(d->nsym >= 2 && d->scale_bits == RANS_FINE_BITS);
	if (in_nbytes < (size_t)lanes * 4 || (in_nbytes - lanes * 4) % 2)
		return false;
	for (unsigned k = 0; k < lanes; k++) {
		x[k] = get_le32(in + 4 * k);
		if (x[k] < RANS_L)
			return false;
	}
	return true;
}

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
	if (p != end)
		return GAUSS_E_CORRUPT;
	for (unsigned k = 0; k < lanes; k++)
		if (x[k] != RANS_L)
			return GAUSS_E_CORRUPT;
	return GAUSS_OK;
}

#endif /* GAUSS_RANS_FINE_H */
