/* SPDX-License-Identifier: MIT */
/* split.c: exponent symbols and raw sign/mantissa planes of bf16, fp16, fp32. */
#include <string.h>

#include "common.h"
#include "endian.h"
#include "split.h"
#include "banned.h"

unsigned
split_elem_nbytes(enum fmt_kind kind)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16:
	case FMT_KIND_EXP_F16:
		return 2;
	case FMT_KIND_EXP_F32:
		return 4;
	default:
		return 1;
	}
}

size_t
split_raw_nbytes(enum fmt_kind kind, size_t n)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16:
		return n;
	case FMT_KIND_EXP_F16:
		return n + (3 * n + 7) / 8;
	case FMT_KIND_EXP_F32:
		return 3 * n;
	default:
		return 0;
	}
}

void
split_count(enum fmt_kind kind, const uint8_t *src, size_t n,
	    uint64_t counts[256])
{
	/* Four sub-histograms break the store-to-load chain on repeats. */
	uint32_t c[4][256];
	size_t i = 0;

	memset(c, 0, sizeof(c));
	switch (kind) {
	case FMT_KIND_EXP_BF16:
		for (; i + 4 <= n; i += 4)
			for (unsigned j = 0; j < 4; j++)
				c[j][(get_le16(src + 2 * (i + j)) >> 7) & 0xff]++;
		for (; i < n; i++)
			c[0][(get_le16(src + 2 * i) >> 7) & 0xff]++;
		break;
	case FMT_KIND_EXP_F16:
		for (; i < n; i++)
			c[i & 3][(get_le16(src + 2 * i) >> 10) & 0x1f]++;
		break;
	case FMT_KIND_EXP_F32:
		for (; i < n; i++)
			c[i & 3][(get_le32(src + 4 * i) >> 23) & 0xff]++;
		break;
	default:
		for (; i < n; i++)
			c[i & 3][src[i]]++;
		break;
	}
	for (unsigned s = 0; s < 256; s++)
		counts[s] += (uint64_t)c[0][s] + c[1][s] + c[2][s] + c[3][s];
}

static void
put_f16_high(uint8_t *hi, size_t i, unsigned v3)
{
	const size_t bit = 3 * i;

	hi[bit / 8] |= (uint8_t)(v3 << (bit % 8));
	if (bit % 8 > 5)
		hi[bit / 8 + 1] |= (uint8_t)(v3 >> (8 - bit % 8));
}

static unsigned
get_f16_high(const uint8_t *hi, size_t i)
{
	const size_t bit = 3 * i;
	unsigned v = hi[bit / 8] >> (bit % 8);

	if (bit % 8 > 5)
		v |= (unsigned)hi[bit / 8 + 1] << (8 - bit % 8);
	return v & 7;
}

void
split_planes(enum fmt_kind kind, const uint8_t *src, size_t n, uint8_t *syms,
	     uint8_t *raw)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16:
		for (size_t i = 0; i < n; i++) {
			const unsigned v = get_le16(src + 2 * i);

			syms[i] = (uint8_t)(v >> 7);
			raw[i] = (uint8_t)(((v >> 8) & 0x80) | (v & 0x7f));
		}
		break;
	case FMT_KIND_EXP_F16: {
		uint8_t *hi = raw + n;

		memset(hi, 0, (3 * n + 7) / 8);
		for (size_t i = 0; i < n; i++) {
			const unsigned v = get_le16(src + 2 * i);

			syms[i] = (uint8_t)((v >> 10) & 0x1f);
			raw[i] = (uint8_t)v;
			put_f16_high(hi, i, ((v >> 13) & 4) | ((v >> 8) & 3));
		}
		break;
	}
	case FMT_KIND_EXP_F32:
		for (size_t i = 0; i < n; i++) {
			const uint32_t v = get_le32(src + 4 * i);
			const uint32_t r = ((v >> 8) & 0x800000) | (v & 0x7fffff);

			syms[i] = (uint8_t)(v >> 23);
			raw[3 * i] = (uint8_t)r;
			raw[3 * i + 1] = (uint8_t)(r >> 8);
			raw[3 * i + 2] = (uint8_t)(r >> 16);
		}
		break;
	default:
		memcpy(syms, src, n);
		break;
	}
}

static void
merge_one(enum fmt_kind kind, unsigned s, const uint8_t *raw, size_t n,
	  size_t i, uint8_t *dst)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16: {
		const unsigned r = raw[i];

		put_le16(dst + 2 * i, (uint16_t)(((r & 0x80) << 8) | (s << 7) |
						 (r & 0x7f)));
		break;
	}
	case FMT_KIND_EXP_F16: {
		const unsigned h = get_f16_high(raw + n, i);

		put_le16(dst + 2 * i, (uint16_t)(((h & 4) << 13) | (s << 10) |
						 ((h & 3) << 8) | raw[i]));
		break;
	}
	case FMT_KIND_EXP_F32: {
		const uint32_t r = raw[3 * i] | ((uint32_t)raw[3 * i + 1] << 8) |
				   ((uint32_t)raw[3 * i + 2] << 16);

		put_le32(dst + 4 * i, ((r & 0x800000) << 8) | ((uint32_t)s << 23) |
					      (r & 0x7fffff));
		break;
	}
	default:
		dst[i] = (uint8_t)s;
		break;
	}
}

void
split_merge(enum fmt_kind kind, const uint8_t *syms, const uint8_t *raw,
	    size_t n, uint8_t *dst)
{
	if (kind == FMT_KIND_EXP_BF16) {
		for (size_t i = 0; i < n; i++) {
			const unsigned r = raw[i];

			put_le16(dst + 2 * i,
				 (uint16_t)(((r & 0x80) << 8) |
					    ((unsigned)syms[i] << 7) |
					    (r & 0x7f)));
		}
		return;
	}
	if (kind == FMT_KIND_BYTES) {
		memcpy(dst, syms, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		merge_one(kind, syms[i], raw, n, i, dst);
}

void
split_merge_const(enum fmt_kind kind, uint8_t sym, const uint8_t *raw,
		  size_t n, uint8_t *dst)
{
	if (kind == FMT_KIND_BYTES) {
		memset(dst, sym, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		merge_one(kind, sym, raw, n, i, dst);
}
