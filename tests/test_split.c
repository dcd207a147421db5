/* SPDX-License-Identifier: MIT */
/*
 * test_split.c: float planes: split then merge gives back the exact bytes
 * for every kind (random data and special values: NaN payloads, infinities,
 * signed zeros, subnormals, extremes), the plane layout of split.h, symbol
 * counts, constant-symbol merges and plane sizes. Planes and outputs sit
 * against a guard page, so a write or read past their end faults.
 */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "config.h"
#include "common.h"
#include "cpu.h"
#include "endian.h"
#include "split.h"
#include "banned.h"

static const enum fmt_kind kinds[] = {
	FMT_KIND_BYTES, FMT_KIND_EXP_BF16, FMT_KIND_EXP_F16, FMT_KIND_EXP_F32,
};

static const size_t counts_n[] = {
	0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 1000, 4097, 65536 + 3,
};

/* The symbol of element i, read straight from the definition in split.h. */
static unsigned
naive_symbol(enum fmt_kind kind, const uint8_t *src, size_t i)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16:
		return (get_le16(src + 2 * i) >> 7) & 0xff;
	case FMT_KIND_EXP_F16:
		return (get_le16(src + 2 * i) >> 10) & 0x1f;
	case FMT_KIND_EXP_F32:
		return (get_le32(src + 4 * i) >> 23) & 0xff;
	default:
		return src[i];
	}
}

/* The raw plane of n elements, built bit by bit from split.h's words. */
static void
naive_raw(enum fmt_kind kind, const uint8_t *src, size_t n, uint8_t *raw)
{
	memset(raw, 0, split_raw_nbytes(kind, n));
	for (size_t i = 0; i < n; i++) {
		switch (kind) {
		case FMT_KIND_EXP_BF16: {
			const unsigned v = get_le16(src + 2 * i);

			raw[i] = (uint8_t)((v >> 15) << 7 | (v & 0x7f));
			break;
		}
		case FMT_KIND_EXP_F16: {
			const unsigned v = get_le16(src + 2 * i);
			const unsigned g = (v >> 15) << 2 | ((v >> 8) & 3);

			raw[i] = (uint8_t)v;
			for (unsigned b = 0; b < 3; b++) {
				const size_t bit = 3 * i + b;

				if ((g >> b) & 1)
					raw[n + bit / 8] |=
						(uint8_t)(1u << (bit % 8));
			}
			break;
		}
		case FMT_KIND_EXP_F32: {
			const uint32_t v = get_le32(src + 4 * i);
			const uint32_t r = (v >> 31) << 23 | (v & 0x7fffff);

			raw[3 * i] = (uint8_t)r;
			raw[3 * i + 1] = (uint8_t)(r >> 8);
			raw[3 * i + 2] = (uint8_t)(r >> 16);
			break;
		}
		default:
			break;
		}
	}
}

/*
 * Splits n elements at src (in a guarded buffer), checks both planes
 * against the naive layout, merges them back into a guarded buffer and
 * compares with src.
 */
static void
check_round_trip(enum fmt_kind kind, const uint8_t *src_in, size_t n)
{
	const size_t nbytes = n * split_elem_nbytes(kind);
	const size_t raw_nbytes = split_raw_nbytes(kind, n);
	uint8_t *src = guarded_alloc(nbytes);
	uint8_t *syms = guarded_alloc(n);
	uint8_t *raw = guarded_alloc(raw_nbytes);
	uint8_t *dst = guarded_alloc(nbytes);
	uint8_t *expect = malloc(raw_nbytes + 1);

	assert_non_null(src);
	assert_non_null(syms);
	assert_non_null(raw);
	assert_non_null(dst);
	assert_non_null(expect);
	if (nbytes)
		memcpy(src, src_in, nbytes);
	/* stale bytes in the planes must not leak into the result */
	memset(syms, 0xa5, n);
	memset(raw, 0xff, raw_nbytes);
	memset(dst, 0x5a, nbytes);
	split_planes(kind, src, n, syms, raw);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(syms[i], naive_symbol(kind, src, i));
	naive_raw(kind, src, n, expect);
	assert_memory_equal(raw, expect, raw_nbytes);
	split_merge(kind, syms, raw, n, dst);
	assert_memory_equal(dst, src, nbytes);
	free(expect);
	guarded_free(dst, nbytes);
	guarded_free(raw, raw_nbytes);
	guarded_free(syms, n);
	guarded_free(src, nbytes);
}

static void
test_split_round_trip_random(void **state)
{
	uint8_t *buf = malloc(4 * (65536 + 3));
	uint64_t seed = 11;

	(void)state;
	assert_non_null(buf);
	for (unsigned k = 0; k < ARRAY_SIZE(kinds); k++) {
		for (unsigned i = 0; i < ARRAY_SIZE(counts_n); i++) {
			const size_t n = counts_n[i];
			const size_t nbytes = n * split_elem_nbytes(kinds[k]);

			for (size_t j = 0; j < nbytes; j++)
				buf[j] = (uint8_t)test_rand(&seed);
			check_round_trip(kinds[k], buf, n);
		}
	}
	free(buf);
}

static void
test_split_round_trip_bf16_special(void **state)
{
	static const uint16_t v[] = {
		0x0000, 0x8000,		/* +0, -0 */
		0x7f80, 0xff80,		/* +inf, -inf */
		0x7fc0, 0xffc0,		/* quiet NaN */
		0x7f81, 0x7fa5, 0xff81,	/* NaN payloads (signalling) */
		0x7fff, 0xffff,		/* all-ones NaN */
		0x0001, 0x8001, 0x007f,	/* subnormals */
		0x0080, 0x8080,		/* smallest normals */
		0x7f7f, 0xff7f,		/* largest finite */
		0x3f80, 0xbf80,		/* +1, -1 */
	};
	uint8_t buf[2 * ARRAY_SIZE(v)];

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(v); i++)
		put_le16(buf + 2 * i, v[i]);
	for (size_t n = 1; n <= ARRAY_SIZE(v); n++)
		check_round_trip(FMT_KIND_EXP_BF16, buf + 2 * (ARRAY_SIZE(v) -
							       n), n);
}

static void
test_split_round_trip_f16_special(void **state)
{
	static const uint16_t v[] = {
		0x0000, 0x8000,		/* +0, -0 */
		0x7c00, 0xfc00,		/* +inf, -inf */
		0x7e00, 0xfe00,		/* quiet NaN */
		0x7c01, 0x7d55, 0xfc01,	/* NaN payloads */
		0x7fff, 0xffff,		/* all-ones NaN */
		0x0001, 0x8001, 0x03ff,	/* subnormals */
		0x0400, 0x8400,		/* smallest normals */
		0x7bff, 0xfbff,		/* largest finite */
		0x3c00, 0xbc00,		/* +1, -1 */
		0x0300, 0x8300,		/* mantissa bits 9..8 set */
	};
	uint8_t buf[2 * ARRAY_SIZE(v)];

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(v); i++)
		put_le16(buf + 2 * i, v[i]);
	for (size_t n = 1; n <= ARRAY_SIZE(v); n++)
		check_round_trip(FMT_KIND_EXP_F16, buf + 2 * (ARRAY_SIZE(v) -
							      n), n);
}

static void
test_split_round_trip_f32_special(void **state)
{
	static const uint32_t v[] = {
		0x00000000, 0x80000000,	/* +0, -0 */
		0x7f800000, 0xff800000,	/* +inf, -inf */
		0x7fc00000, 0xffc00000,	/* quiet NaN */
		0x7f800001, 0x7fa5a5a5, 0xff800001, /* NaN payloads */
		0x7fffffff, 0xffffffff,	/* all-ones NaN */
		0x00000001, 0x80000001, 0x007fffff, /* subnormals */
		0x00800000, 0x80800000,	/* smallest normals */
		0x7f7fffff, 0xff7fffff,	/* largest finite */
		0x3f800000, 0xbf800000,	/* +1, -1 */
	};
	uint8_t buf[4 * ARRAY_SIZE(v)];

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(v); i++)
		put_le32(buf + 4 * i, v[i]);
	for (size_t n = 1; n <= ARRAY_SIZE(v); n++)
		check_round_trip(FMT_KIND_EXP_F32, buf + 4 * (ARRAY_SIZE(v) -
							      n), n);
}

static void
test_split_exhaustive_16_bit(void **state)
{
	/* every one of the 65536 bf16 and fp16 values */
	uint8_t *buf = malloc(2 * 65536);

	(void)state;
	assert_non_null(buf);
	for (unsigned v = 0; v < 65536; v++)
		put_le16(buf + 2 * v, (uint16_t)v);
	check_round_trip(FMT_KIND_EXP_BF16, buf, 65536);
	check_round_trip(FMT_KIND_EXP_F16, buf, 65536);
	free(buf);
}

static void
test_split_f16_packing(void **state)
{
	/*
	 * Eight elements whose 3-bit groups (sign << 2 | mantissa bits 9..8)
	 * are 0..7 pack LSB first into 0xfac688: bytes 88 c6 fa.
	 */
	static const uint8_t hi[] = { 0x88, 0xc6, 0xfa };
	uint8_t src[16], syms[8], raw[8 + 3];

	(void)state;
	for (unsigned g = 0; g < 8; g++)
		put_le16(src + 2 * g, (uint16_t)((g >> 2) << 15 | 0x11 << 10 |
						 (g & 3) << 8 | (0x40 + g)));
	assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F16, 8), sizeof(raw));
	split_planes(FMT_KIND_EXP_F16, src, 8, syms, raw);
	for (unsigned g = 0; g < 8; g++) {
		assert_int_equal(syms[g], 0x11);
		assert_int_equal(raw[g], 0x40 + g);
	}
	assert_memory_equal(raw + 8, hi, sizeof(hi));
}

static void
test_split_count_matches_naive(void **state)
{
	uint8_t *buf = malloc(4 * 5000);
	uint64_t seed = 13;

	(void)state;
	assert_non_null(buf);
	for (unsigned k = 0; k < ARRAY_SIZE(kinds); k++) {
		for (size_t n = 0; n < 5000; n += 1 + n / 3) {
			const size_t nbytes = n * split_elem_nbytes(kinds[k]);
			uint64_t got[256], want[256];
			uint8_t *g = guarded_alloc(nbytes);

			assert_non_null(g);
			for (size_t j = 0; j < nbytes; j++)
				buf[j] = (uint8_t)test_rand(&seed);
			/* long runs of one value, as real exponents have */
			if (n % 2)
				memset(buf, 0x3f, nbytes / 2);
			memcpy(g, buf, nbytes);
			/* counts are added to what is there */
			for (unsigned s = 0; s < 256; s++)
				got[s] = want[s] = s * 1000003ull;
			split_count(kinds[k], g, n, got);
			for (size_t i = 0; i < n; i++)
				want[naive_symbol(kinds[k], buf, i)]++;
			assert_memory_equal(got, want, sizeof(got));
			guarded_free(g, nbytes);
		}
	}
	free(buf);
}

/*
 * Weight-like bf16 values: exponents 100..126, and, by mode, zeros and
 * subnormals, one infinity or NaN, or a few from a wide sparse range.
 */
static void
fill_weights(uint8_t *buf, size_t n, unsigned mode, uint64_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		unsigned e = 100 + (unsigned)(test_rand(seed) % 27);

		if (mode == 1 && test_rand(seed) % 1000 == 0)
			e = 0;			/* zeros and subnormals */
		if (mode == 2 && i == n / 2 + 7)
			e = 255;		/* one infinity or NaN */
		if (mode == 3 && test_rand(seed) % 5000 == 0)
			e = 1 + (unsigned)(test_rand(seed) % 99);
		put_le16(buf + 2 * i, (uint16_t)((test_rand(seed) & 0x807f) |
						 e << 7));
	}
}

/* Which way split_count_block() counts a block, by split.h's rules. */
enum count_path { PATH_EXACT, PATH_RANGE, PATH_CORE };

static enum count_path
expected_path(const uint8_t *g, size_t n, const struct split_range *r,
	      uint32_t c[4][512], size_t g0, unsigned *slo,
	      unsigned *shi)
{
	uint64_t sum[256] = { 0 }, all = 0, out = 0;
	unsigned gaps = 0, mode = 1;

	if (n < SPLIT_SAMPLE_MIN || r->n0 >= SPLIT_SAMPLE_MAX_ZEROS ||
	    r->hi == 255)
		return PATH_EXACT;
	for (unsigned j = 0; j < 512; j++)
		sum[j / 2] += (uint64_t)c[0][j] + c[1][j] + c[2][j] + c[3][j];
	for (size_t i = g0; i < n; i++)
		sum[(get_le16(g + 2 * i) >> 7) & 0xff]++;
	for (unsigned s = r->lo; s <= r->hi; s++)
		gaps += !sum[s];
	if (gaps <= SPLIT_SAMPLE_MAX_GAPS) {
		*slo = r->lo;
		*shi = r->hi;
		return PATH_RANGE;
	}
	for (unsigned s = 1; s < 255; s++) {
		all += sum[s];
		mode = sum[s] > sum[mode] ? s : mode;
	}
	for (*slo = mode; *slo > 1 && sum[*slo - 1]; (*slo)--)
		;
	for (*shi = mode; *shi < 254 && sum[*shi + 1]; (*shi)++)
		;
	for (unsigned s = 1; s < 255; s++)
		out += s < *slo || s > *shi ? sum[s] : 0;
	return out <= all / SPLIT_SAMPLE_MAX_OUTER ? PATH_CORE : PATH_EXACT;
}

/*
 * Sampled counts (split_count_block()): every level's passes give the
 * scalar passes' range, sample and tail counts, and so the same counts;
 * every symbol present gets a count; exponent 0 and the exponents outside
 * the range (or the core) are exact; a block with many zeros or an
 * infinity is counted exactly; weight-like blocks are sampled over their
 * range, blocks with far tails over their core; small blocks and other
 * kinds are counted exactly. The counts of bits 14..6 (exponent and top
 * mantissa bit) are those of every element of an exact count, of the
 * sample and the last partial stride otherwise, the same at every level.
 */
static void
test_split_count_block(void **state)
{
	enum { N = 300000 };
	static const size_t sizes[] = { 1000, 65535, 65536, 65536 + 255,
					65536 + 256, 70001, N };
	static const unsigned ranges[][2] = {
		{ 105, 120 }, { 1, 254 }, { 255, 0 }, { 100, 100 },
	};
	uint8_t *buf = malloc(2 * N);
	uint64_t seed = 31;

	(void)state;
	assert_non_null(buf);
	for (unsigned z = 0; z < ARRAY_SIZE(sizes); z++) {
		for (unsigned mode = 0; mode < 5; mode++) {
			const size_t n = sizes[z];
			const size_t stride = (size_t)SPLIT_SAMPLE_GROUP *
					      SPLIT_SAMPLE_EVERY;
			uint8_t *g = guarded_alloc(2 * n);
			uint64_t exact[256] = { 0 }, first[256] = { 0 };
			uint64_t jexact[512] = { 0 }, jfirst[512] = { 0 };
			uint64_t jwant[512] = { 0 }, sum = 0;
			struct split_range r0;
			uint32_t c0[4][512];
			unsigned slo = 255, shi = 0;
			enum count_path path;
			size_t g0;

			assert_non_null(g);
			fill_weights(buf, n, mode % 4, &seed);
			memcpy(g, buf, 2 * n);
			/* an exponent only an unsampled element has */
			if (mode == 0 && n > 1000)
				put_le16(g + 2 * 100, 99 << 7);
			/* a far tail, sampled, and unsampled ones between */
			if (mode == 4 && n > 1000) {
				put_le16(g, 1 << 7);
				for (size_t i = 64; i + 256 <= n; i += stride)
					put_le16(g + 2 * i, (uint16_t)(
						 (2 + i / stride % 19) << 7));
			}
			split_count(FMT_KIND_EXP_BF16, g, n, exact);
			for (size_t i = 0; i < n; i++)
				jexact[(get_le16(g + 2 * i) >> 6) & 0x1ff]++;
			memset(c0, 0, sizeof(c0));
			g0 = split_sample_bf16(g, n, &r0, c0);
			split_count_block(FMT_KIND_EXP_BF16, g, n,
					  &rans_kernels_of(CPU_SCALAR)->sampler,
					  first, jfirst);
			for (unsigned l = 0; l < CPU_LEVEL_COUNT; l++) {
				const struct rans_kernels *k =
					rans_kernels_of((enum cpu_level)l);
				struct split_range r;
				uint32_t c[4][512];
				uint64_t got[256] = { 0 }, jgot[512] = { 0 };

				if (k == NULL)
					continue;
				memset(c, 0, sizeof(c));
				assert_int_equal(k->sampler.sample(g, n, &r, c),
						 g0);
				assert_int_equal(r.lo, r0.lo);
				assert_int_equal(r.hi, r0.hi);
				assert_int_equal(r.n0, r0.n0);
				assert_memory_equal(c, c0, sizeof(c));
				for (unsigned q = 0; q < ARRAY_SIZE(ranges);
				     q++) {
					const unsigned lo = ranges[q][0];
					const unsigned hi = ranges[q][1];
					uint32_t o[256] = { 0 };

					k->sampler.outer(g, n, lo, hi, o);
					for (unsigned s = 0; s < 256; s++)
						assert_int_equal(o[s],
							s && (s < lo ||
							      s > hi) ?
							exact[s] : 0);
				}
				split_count_block(FMT_KIND_EXP_BF16, g, n,
						  &k->sampler, got, jgot);
				assert_memory_equal(got, first, sizeof(got));
				assert_memory_equal(jgot, jfirst,
						    sizeof(jgot));
			}
			path = expected_path(g, n, &r0, c0, g0, &slo, &shi);
			if (path == PATH_EXACT) {
				memcpy(jwant, jexact, sizeof(jwant));
			} else {
				for (unsigned j = 0; j < 512; j++)
					jwant[j] = (uint64_t)c0[0][j] +
						   c0[1][j] + c0[2][j] +
						   c0[3][j];
				for (size_t i = g0; i < n; i++)
					jwant[(get_le16(g + 2 * i) >> 6) &
					      0x1ff]++;
			}
			assert_memory_equal(jfirst, jwant, sizeof(jwant));
			for (unsigned s = 0; s < 256; s++) {
				sum += exact[s];
				if (exact[s])
					assert_true(first[s] > 0);
				if (path == PATH_EXACT || s == 0 || s < slo ||
				    s > shi)
					assert_int_equal(first[s], exact[s]);
			}
			assert_int_equal(sum, n);
			assert_int_equal(r0.n0, exact[0]);
			/* which way each kind of block goes */
			if (n >= SPLIT_SAMPLE_MIN)
				assert_int_equal(path, mode == 2 ||
						 exact[0] >=
						 SPLIT_SAMPLE_MAX_ZEROS ?
						 PATH_EXACT :
						 mode == 0 || mode == 1 ?
						 PATH_RANGE : PATH_CORE);
			else
				assert_int_equal(path, PATH_EXACT);
			guarded_free(g, 2 * n);
		}
	}
	/* other kinds are counted exactly, whatever the size */
	{
		uint64_t a[256] = { 0 }, b[256] = { 0 };

		fill_weights(buf, N, 0, &seed);
		split_count(FMT_KIND_EXP_F16, buf, N, a);
		split_count_block(FMT_KIND_EXP_F16, buf, N,
				  &rans_kernels_of(CPU_SCALAR)->sampler, b,
				  NULL);
		assert_memory_equal(a, b, sizeof(a));
	}
	free(buf);
}

static void
test_split_merge_const(void **state)
{
	static const uint8_t sym_of[] = { 0x5c, 0x7f, 0x0f, 0x80 };
	uint8_t *buf = malloc(4 * 1001);
	uint64_t seed = 19;

	(void)state;
	assert_non_null(buf);
	for (unsigned k = 0; k < ARRAY_SIZE(kinds); k++) {
		const enum fmt_kind kind = kinds[k];
		const unsigned sym = sym_of[k];

		for (size_t n = 0; n <= 1001; n += 1 + n) {
			const size_t nbytes = n * split_elem_nbytes(kind);
			const size_t raw_nbytes = split_raw_nbytes(kind, n);
			uint8_t *syms = guarded_alloc(n);
			uint8_t *raw = guarded_alloc(raw_nbytes);
			uint8_t *dst = guarded_alloc(nbytes);

			assert_non_null(syms);
			assert_non_null(raw);
			assert_non_null(dst);
			/* random signs and mantissas, one exponent */
			for (size_t i = 0; i < n; i++) {
				const uint32_t r = (uint32_t)test_rand(&seed);

				switch (kind) {
				case FMT_KIND_EXP_BF16:
					put_le16(buf + 2 * i, (uint16_t)
						 ((r & 0x807f) | sym << 7));
					break;
				case FMT_KIND_EXP_F16:
					put_le16(buf + 2 * i, (uint16_t)
						 ((r & 0x83ff) | sym << 10));
					break;
				case FMT_KIND_EXP_F32:
					put_le32(buf + 4 * i,
						 (r & 0x807fffff) | sym << 23);
					break;
				default:
					buf[i] = (uint8_t)sym;
					break;
				}
			}
			split_planes(kind, buf, n, syms, raw);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(syms[i], sym);
			memset(dst, 0, nbytes);
			split_merge_const(kind, (uint8_t)sym, raw, n, dst);
			assert_memory_equal(dst, buf, nbytes);
			guarded_free(dst, nbytes);
			guarded_free(raw, raw_nbytes);
			guarded_free(syms, n);
		}
	}
	free(buf);
}

static void
test_split_raw_nbytes(void **state)
{
	static const size_t big[] = {
		(size_t)1 << 20, ((size_t)1 << 26) + 1, (size_t)1 << 33,
	};

	(void)state;
	assert_int_equal(split_elem_nbytes(FMT_KIND_BYTES), 1);
	assert_int_equal(split_elem_nbytes(FMT_KIND_EXP_BF16), 2);
	assert_int_equal(split_elem_nbytes(FMT_KIND_EXP_F16), 2);
	assert_int_equal(split_elem_nbytes(FMT_KIND_EXP_F32), 4);
	/* fp16: one low byte each, then 3 bits each rounded up to bytes */
	assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F16, 0), 0);
	assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F16, 1), 2);
	assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F16, 2), 3);
	assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F16, 3), 5);
	assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F16, 8), 11);
	assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F16, 9), 13);
	for (size_t n = 0; n < 100; n++) {
		assert_int_equal(split_raw_nbytes(FMT_KIND_BYTES, n), 0);
		assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_BF16, n), n);
		assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F16, n),
				 n + (3 * n + 7) / 8);
		assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F32, n), 3 * n);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(big); i++) {
		const size_t n = big[i];

		assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_BF16, n), n);
		assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F16, n),
				 n + 3 * (n / 8) + (n % 8 * 3 + 7) / 8);
		assert_int_equal(split_raw_nbytes(FMT_KIND_EXP_F32, n), 3 * n);
	}
}

/*
 * Whole values: a sparse block gets its zeros as symbols (the highest free
 * ones), the raw plane holds exactly the other elements in order (checked
 * against gauss(5)'s definition), and merging gives back the bytes; a
 * dense block gets none; an exponent that collides with a whole symbol is
 * refused.
 */
static void
test_split_whole_values(void **state)
{
	static const enum fmt_kind fk[] = {
		FMT_KIND_EXP_BF16, FMT_KIND_EXP_F16, FMT_KIND_EXP_F32,
	};
	enum { N = 5000 };
	uint64_t seed = 11;

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(fk); k++) {
		const enum fmt_kind kind = fk[k];
		const unsigned es = split_elem_nbytes(kind);
		const uint32_t neg = es == 4 ? 0x80000000u : 0x8000u;
		uint8_t *src = malloc(N * es), *back = malloc(N * es);
		uint8_t *syms = malloc(N), *raw = malloc(4 * N + 8);
		uint8_t *ref_syms = malloc(N), *ref_raw = malloc(4 * N + 8);
		uint8_t *rest = malloc(N * es);
		uint64_t counts[256] = { 0 };
		struct rans_whole w;
		size_t m, u = 0;

		for (size_t i = 0; i < N; i++) {
			uint32_t v = (uint32_t)test_rand(&seed);

			if (es == 2)
				v = (v & 0x3fff) | 0x2000;	/* nonzero exponent */
			else
				v = (v & 0x3fffffff) | 0x20000000;
			if (i % 5 < 3)		/* 60% zeros, both signs */
				v = i % 5 == 2 ? neg : 0;
			if (es == 2)
				put_le16(src + 2 * i, (uint16_t)v);
			else
				put_le32(src + 4 * i, v);
		}
		split_count(kind, src, N, counts);
		split_whole_choose(kind, src, N, counts, &w);
		assert_int_equal(w.count, 2);
		/* the highest free symbols, increasing, +0 having more */
		assert_int_equal(w.code[0], 254);
		assert_int_equal(w.code[1], 255);
		assert_int_equal(w.value[1], 0);
		assert_int_equal(w.value[0], neg);
		assert_int_equal(counts[255], 2 * N / 5);
		assert_int_equal(counts[254], N / 5);
		assert_int_equal(counts[0], 0);

		m = split_planes_whole(kind, &w, src, N, syms, raw);
		assert_int_equal(m, N - 3 * N / 5);
		/* every level splits alike, whatever the length */
		for (unsigned l = 0; l < CPU_LEVEL_COUNT; l++) {
			const struct rans_kernels *kl =
				rans_kernels_of((enum cpu_level)l);

			if (kl == NULL)
				continue;
			for (size_t len = 0; len < 40; len++) {
				const size_t nn = len < 37 ? len : N - len;
				uint8_t *s2 = malloc(N), *r2 = malloc(4 * N + 8);
				const size_t want = split_planes_whole(
					kind, &w, src, nn, ref_syms, ref_raw);

				assert_int_equal(kl->planes_whole(kind, &w, src,
								  nn, s2, r2),
						 want);
				if (nn)
					assert_memory_equal(s2, ref_syms, nn);
				if (want)
					assert_memory_equal(r2, ref_raw,
						split_raw_nbytes(kind, want));
				free(s2);
				free(r2);
			}
		}
		assert_int_equal(split_count_unwhole(&w, syms, N), m);
		for (size_t i = 0; i < N; i++) {
			const unsigned s = syms[i];

			if (i % 5 < 3) {
				assert_true(w.is_whole[s]);
				assert_int_equal(w.of_code[s],
						 i % 5 == 2 ? neg : 0);
			} else {
				assert_int_equal(s, naive_symbol(kind, src, i));
				memcpy(rest + es * u++, src + es * i, es);
			}
		}
		/* the raw plane is that of the other elements, split alone */
		split_planes(kind, rest, u, ref_syms, ref_raw);
		assert_memory_equal(raw, ref_raw, split_raw_nbytes(kind, u));
		memset(back, 0xa5, N * es);
		assert_int_equal(split_merge_whole(kind, &w, syms, raw, N, m,
						   back), m);
		assert_memory_equal(back, src, N * es);
		/* a plane one entry short is refused */
		if (kind != FMT_KIND_EXP_F16)
			assert_true(split_merge_whole(kind, &w, syms, raw, N,
						      m - 1, back) ==
				    SIZE_MAX);

		/* an exponent on a whole symbol cannot be coded */
		if (es == 2 && kind == FMT_KIND_EXP_BF16) {
			put_le16(src + 2 * 3, 0x7f81);	/* exponent 255 */
			assert_true(split_planes_whole(kind, &w, src, N, syms,
						       raw) == SIZE_MAX);
			for (unsigned l = 0; l < CPU_LEVEL_COUNT; l++)
				if (rans_kernels_of((enum cpu_level)l))
					assert_true(rans_kernels_of(
						(enum cpu_level)l)->planes_whole(
						kind, &w, src, N, syms, raw) ==
						    SIZE_MAX);
		}
		/* dense: a handful of zeros get no symbol */
		for (size_t i = 0; i < N; i++)
			if (i % 5 < 3) {
				if (es == 2)
					put_le16(src + 2 * i, 0x3f80);
				else
					put_le32(src + 4 * i, 0x3f800000);
			}
		memset(counts, 0, sizeof(counts));
		split_count(kind, src, N, counts);
		split_whole_choose(kind, src, N, counts, &w);
		assert_int_equal(w.count, 0);
		free(src);
		free(back);
		free(syms);
		free(raw);
		free(ref_syms);
		free(ref_raw);
		free(rest);
	}
}

/*
 * Every kernel level's merge of whole values gives the scalar bytes: random
 * symbols under maps of 1 to 64 whole symbols, high (the AVX-512 fast
 * path) or anywhere (its fallback), every length up to 100 and longer
 * chunks, whole shares from none to all.
 */
static void
test_split_whole_levels(void **state)
{
	enum { N = 70000 };
	uint8_t *syms = malloc(N), *raw = malloc(N + 64);
	uint8_t *want = malloc(2 * N), *got = malloc(2 * N);
	uint64_t seed = 23;

	(void)state;
	for (unsigned round = 0; round < 400; round++) {
		const size_t n = round < 100 ? round + 1 :
				 (size_t)(test_rand(&seed) % N) + 1;
		const unsigned share = (unsigned)(test_rand(&seed) % 17);
		struct rans_whole w = { 0 };
		uint8_t pool[32];
		size_t m;

		w.count = 1 + (unsigned)(test_rand(&seed) % RANS_WHOLE_MAX);
		for (unsigned k = 0; k < w.count; k++) {
			/* increasing symbols, from 192 up or from 0 up */
			w.code[k] = (uint8_t)((round % 3 ? 192 : 100) + k);
			w.value[k] = (uint32_t)test_rand(&seed) & 0xffff;
		}
		rans_whole_finish(&w);
		for (unsigned k = 0; k < 32; k++)	/* some exponents */
			pool[k] = (uint8_t)(test_rand(&seed) % 96 + 90);
		for (size_t i = 0; i < n; i++) {
			syms[i] = test_rand(&seed) % 16 < share ?
				  w.code[test_rand(&seed) % w.count] :
				  pool[test_rand(&seed) % 32];
			if (w.is_whole[syms[i]] && test_rand(&seed) % 16 >= share)
				syms[i] = 60;	/* below every whole symbol */
		}
		for (size_t i = 0; i < N + 64; i++)
			raw[i] = (uint8_t)test_rand(&seed);
		m = split_count_unwhole(&w, syms, n);
		assert_int_equal(split_merge_whole(FMT_KIND_EXP_BF16, &w, syms,
						   raw, n, m, want), m);
		for (unsigned l = 0; l < CPU_LEVEL_COUNT; l++) {
			const struct rans_kernels *k =
				rans_kernels_of((enum cpu_level)l);

			if (k == NULL)
				continue;
			memset(got, 0xa5, 2 * n);
			if (k->merge_whole(FMT_KIND_EXP_BF16, &w, syms, raw, n,
					   m, got) != m ||
			    memcmp(got, want, 2 * n) != 0)
				fail_msg("%s: round %u (n %zu) differs",
					 k->name, round, n);
			/* more entries than the symbols take: m, not more */
			if (k->merge_whole(FMT_KIND_EXP_BF16, &w, syms, raw, n,
					   m + 20, got) != m)
				fail_msg("%s: round %u takes too much",
					 k->name, round);
			/* fewer: refused */
			if (m > 0 && k->merge_whole(FMT_KIND_EXP_BF16, &w,
						    syms, raw, n, m - 1,
						    got) != SIZE_MAX)
				fail_msg("%s: round %u short plane taken",
					 k->name, round);
		}
#if GAUSS_HAVE_AVX512
		/* AVX-512 without its 64-element VBMI2 steps, too */
		if (rans_kernels_of(CPU_AVX512) != NULL) {
			memset(got, 0xa5, 2 * n);
			if (split_merge_whole_avx512_16(FMT_KIND_EXP_BF16, &w,
							syms, raw, n, m,
							got) != m ||
			    memcmp(got, want, 2 * n) != 0)
				fail_msg("avx512 (16): round %u differs",
					 round);
			if (m > 0 && split_merge_whole_avx512_16(
					     FMT_KIND_EXP_BF16, &w, syms, raw,
					     n, m - 1, got) != SIZE_MAX)
				fail_msg("avx512 (16): round %u short plane",
					 round);
		}
#endif
	}
	free(syms);
	free(raw);
	free(want);
	free(got);
}

/*
 * Top mantissa bit (format version 6): every level's planes and merge on
 * random bf16 values of a 9-bit range, for every length up to 100 and
 * random ones, give the bytes gauss(5) describes (checked entry by entry),
 * round-trip, merge in place from dst's upper half, refuse a value below
 * or above the base's range, and reject set padding bits in the tail.
 */
static void
test_split_top_bit(void **state)
{
	enum { N = 5000 };
	uint8_t *src = malloc(2 * N), *syms = malloc(N), *raw = malloc(N + 8);
	uint8_t *ref_syms = malloc(N), *ref_raw = malloc(N + 8);
	uint8_t *back = malloc(2 * N);
	uint64_t seed = 31;

	(void)state;
	for (unsigned round = 0; round < 300; round++) {
		const size_t n = round <= 100 ? round :
				 (size_t)(test_rand(&seed) % N) + 1;
		const unsigned base = (unsigned)(test_rand(&seed) % 129);
		const size_t rn = split_raw_nbytes_m1(n);

		assert_int_equal(rn, n / 32 * 28 + n % 32);
		for (size_t i = 0; i < n; i++) {
			/* bits 14..6 in [2 * base, 2 * base + 255] */
			const unsigned j = 2 * base +
				(unsigned)(test_rand(&seed) % 256);
			const unsigned v = (unsigned)(test_rand(&seed) & 0x8000) |
				j << 6 | (unsigned)(test_rand(&seed) & 0x3f);

			put_le16(src + 2 * i, (uint16_t)v);
		}
		memset(ref_raw, 0x5a, N + 8);
		assert_true(split_planes_m1(src, n, base, ref_syms, ref_raw));
		for (size_t i = 0; i < n; i++) {
			const unsigned v = get_le16(src + 2 * i);
			const unsigned e = ((v >> 9) & 0x40) | (v & 0x3f);
			const size_t g = i / 32, j = i % 32;
			unsigned got = 0;

			assert_int_equal(ref_syms[i],
					 ((v >> 6) & 0x1ff) - 2 * base);
			if ((g + 1) * 32 > n || j < 28)
				got = ref_raw[28 * g + j] & 0x7f;
			else
				for (unsigned t = 0; t < 7; t++)
					got |= (unsigned)(ref_raw[28 * g +
						7 * (j - 28) + t] >> 7) << t;
			assert_int_equal(got, e);
		}
		assert_true(split_m1_tail_ok(ref_raw, n));
		for (unsigned l = 0; l < CPU_LEVEL_COUNT; l++) {
			const struct rans_kernels *k =
				rans_kernels_of((enum cpu_level)l);

			if (k == NULL)
				continue;
			memset(raw, 0x5a, N + 8);
			assert_true(k->planes_m1(src, n, base, syms, raw));
			if (memcmp(syms, ref_syms, n) != 0 ||
			    memcmp(raw, ref_raw, rn) != 0)
				fail_msg("%s: round %u (n %zu) planes differ",
					 k->name, round, n);
			memset(back, 0xa5, 2 * n);
			k->merge_m1(syms, raw, n, base, back);
			if (memcmp(back, src, 2 * n) != 0)
				fail_msg("%s: round %u (n %zu) merge differs",
					 k->name, round, n);
			/* in place: the symbols in the upper half of dst */
			memcpy(back + n, syms, n);
			k->merge_m1(back + n, raw, n, base, back);
			if (memcmp(back, src, 2 * n) != 0)
				fail_msg("%s: round %u in place differs",
					 k->name, round);
			if (n == 0)
				continue;
			/* one value outside the base's range: refused */
			{
				const size_t at = (size_t)(test_rand(&seed) % n);
				const uint16_t keep = get_le16(src + 2 * at);

				/* 9 bits: above only while 2 * base < 256 */
				const bool below = base > 0 &&
					(round % 2 || base == 128);
				const unsigned j = below ? 2 * base - 1 :
							   2 * base + 256;

				put_le16(src + 2 * at, (uint16_t)(j << 6));
				assert_false(k->planes_m1(src, n, base, syms,
							  raw));
				put_le16(src + 2 * at, keep);
			}
		}
		/* a tail byte with bit 7 set */
		if (n % 32) {
			ref_raw[rn - 1 - test_rand(&seed) % (n % 32)] |= 0x80;
			assert_false(split_m1_tail_ok(ref_raw, n));
		}
	}
	free(src);
	free(syms);
	free(raw);
	free(ref_syms);
	free(ref_raw);
	free(back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_round_trip_random),
		cmocka_unit_test(test_split_round_trip_bf16_special),
		cmocka_unit_test(test_split_round_trip_f16_special),
		cmocka_unit_test(test_split_round_trip_f32_special),
		cmocka_unit_test(test_split_exhaustive_16_bit),
		cmocka_unit_test(test_split_f16_packing),
		cmocka_unit_test(test_split_count_matches_naive),
		cmocka_unit_test(test_split_count_block),
		cmocka_unit_test(test_split_merge_const),
		cmocka_unit_test(test_split_raw_nbytes),
		cmocka_unit_test(test_split_whole_values),
		cmocka_unit_test(test_split_whole_levels),
		cmocka_unit_test(test_split_top_bit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
