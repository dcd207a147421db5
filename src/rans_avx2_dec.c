/* SPDX-License-Identifier: MIT */
/* rans_avx2_dec.c: TEMPORARY: forwards to the scalar decoder until the vector kernel lands. */
#include "rans.h"

enum gauss_status
rans_decode_avx2(const struct rans_dtable *d, const uint8_t *in,
		  size_t in_nbytes, uint8_t *syms, size_t n)
{
	return rans_decode_scalar(d, in, in_nbytes, syms, n);
}

enum gauss_status
rans_decode_bf16_avx2(const struct rans_dtable *d, const uint8_t *in,
		       size_t in_nbytes, const uint8_t *raw, uint8_t *dst,
		       size_t n)
{
	return rans_decode_bf16_scalar(d, in, in_nbytes, raw, dst, n);
}
