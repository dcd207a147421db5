/* SPDX-License-Identifier: MIT */
/* rans_avx2_enc.c: TEMPORARY: forwards to the scalar encoder until the vector kernel lands. */
#include "rans.h"

size_t
rans_encode_avx2(const struct rans_etable *e, const uint8_t *syms, size_t n,
		  uint8_t *out, size_t cap)
{
	return rans_encode_scalar(e, syms, n, out, cap);
}
