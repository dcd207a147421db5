/* SPDX-License-Identifier: MIT */
/*
 * test_kernels.c: every rANS kernel level this build and CPU have (scalar,
 * AVX2, AVX-512) against the scalar oracle: the same stream bytes from
 * every encoder, the same symbols and fused bf16 values from every decoder
 * on every other level's streams, the same "does not fit" answer, and the
 * same verdict on damaged streams. Tables from 2 to 256 symbols, alias and
 * cumulative layouts (format 2 and 1), chunk sizes around every lane-count
 * and vector-width boundary of the lane rules of versions 1 to 3 and of
 * version 4.
 */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "cpu.h"
#include "endian.h"
#include "format.h"
#include "rans.h"
#include "banned.h"

static const struct rans_kernels *levels[CPU_LEVEL_COUNT];
static unsigned nlevels;

static int
setup(void **state)
{
	(void)state;
	for (unsigned l = 0; l < CPU_LEVEL_COUNT; l++)
		if (rans_kernels_of((enum cpu_level)l))
			levels[nlevels++] = rans_kernels_of((enum cpu_level)l);
	print_message("kernel levels here:");
	for (unsigned i = 0; i < nlevels; i++)
		print_message(" %s", levels[i]->name);
	print_message("\n");
	return 0;
}

struct tables {
	struct rans_table t;
	struct rans_etable e;
	struct rans_dtable d __attribute__((aligned(64)));
	/* built without slot[] (left full of junk) where alias applies */
	struct rans_dtable lean __attribute__((aligned(64)));
};

/* Whether the checks below also decode with the lean table. */
static bool lean_too = true;

/*
 * The tables a level decodes with against the scalar oracle (the scalar
 * decoder on the full table): the full one, except for the scalar level
 * itself, and the lean one too where the level may meet it (the vector
 * levels that do not need slot[], and the scalar loop they share).
 */
static unsigned
dtables_of(const struct tables *tb, const struct rans_kernels *k,
	   const struct rans_dtable *dv[2])
{
	unsigned nd = 0;

	if (k->level != CPU_SCALAR)
		dv[nd++] = &tb->d;
	if (lean_too && (!k->slots || k->level == CPU_SCALAR))
		dv[nd++] = &tb->lean;
	return nd;
}

/* Counts for nsym symbols starting at first: geometric or uniform. */
static void
make_counts(uint64_t counts[256], unsigned first, unsigned nsym, bool skew)
{
	memset(counts, 0, 256 * sizeof(*counts));
	for (unsigned k = 0; k < nsym; k++) {
		const unsigned s = (first + k * 7) % 256;	/* with gaps */

		counts[s] = skew ? (k < 40 ? (1ull << (40 - k)) : 1) + 1 : 1000;
	}
}

/* Draws n symbols following the table's frequencies. */
static void
draw(const struct rans_table *t, uint8_t *syms, size_t n, uint64_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned r = (unsigned)(test_rand(seed) % RANS_M);
		unsigned s = 0;

		while (r >= (unsigned)t->cum[s] + t->freq[s])
			s++;
		syms[i] = (uint8_t)s;
	}
}

/*
 * Top mantissa bit (split.h): the 7-bit entry i of a raw plane of n, read
 * as gauss(5) words it, bit by bit, apart from the code under test.
 */
static unsigned
m1_ref_entry(const uint8_t *raw, size_t n, size_t i)
{
	const size_t g = i / 32, j = i % 32;
	unsigned e = 0;

	if ((g + 1) * 32 > n)
		return raw[28 * g + j] & 0x7f;
	if (j < 28)
		return raw[28 * g + j] & 0x7f;
	for (unsigned t = 0; t < 7; t++)
		e |= (unsigned)(raw[28 * g + 7 * (j - 28) + t] >> 7) << t;
	return e;
}

/* Decodes stream with every level; all must agree with the scalar. */
static void
check_decoders(const struct tables *tb, const uint8_t *stream, size_t m,
	       const uint8_t *want, const uint8_t *raw, size_t n)
{
	uint8_t *g = guarded_copy(stream, m);
	uint8_t *syms = malloc(n + 1), *ref = malloc(2 * n + 1);
	uint8_t *vals = malloc(2 * n + 1);
	enum gauss_status ref_st, ref_st16;

	assert_non_null(syms);
	assert_non_null(ref);
	assert_non_null(vals);
	ref_st = rans_decode_scalar(&tb->d, g, m, syms, n);
	if (want != NULL) {
		assert_int_equal(ref_st, GAUSS_OK);
		assert_memory_equal(syms, want, n);
	}
	ref_st16 = rans_decode_bf16_scalar(&tb->d, g, m, raw, ref, n);
	assert_int_equal(ref_st16, ref_st);
	if ((tb->d.whole.flags & FMT_BLOCK_M1) && ref_st == GAUSS_OK) {
		/* the oracle itself against the layout */
		for (size_t i = 0; i < n; i++) {
			const unsigned e = m1_ref_entry(raw, n, i);
			const unsigned v = (e & 0x40) << 9 |
					   (syms[i] + 2u * tb->d.whole.m1_base)
						   << 6 |
					   (e & 0x3f);

			assert_int_equal(get_le16(ref + 2 * i), v);
		}
	}
	for (unsigned l = 0; l < nlevels; l++) {
		const struct rans_dtable *dv[2];
		const unsigned nd = dtables_of(tb, levels[l], dv);

		for (unsigned t = 0; t < nd; t++) {
			memset(vals, 0xcc, 2 * n + 1);
			assert_int_equal(levels[l]->decode(dv[t], g, m, vals,
							   n), ref_st);
			if (ref_st == GAUSS_OK)
				assert_memory_equal(vals, syms, n);
			assert_int_equal(vals[n], 0xcc);  /* nothing past n */
			memset(vals, 0xcc, 2 * n + 1);
			assert_int_equal(levels[l]->decode_bf16(dv[t], g, m,
								raw, vals, n),
					 ref_st);
			if (ref_st == GAUSS_OK)
				assert_memory_equal(vals, ref, 2 * n);
			assert_int_equal(vals[2 * n], 0xcc);
		}
	}
	free(vals);
	free(ref);
	free(syms);
	guarded_free(g, m);
}

/*
 * Every level's pair decoder on streams a and b (m_a, m_b bytes) of n
 * symbols each: each chunk's verdict and values are the scalar fused
 * decoder's on it alone, whatever the other holds.
 */
static void
check_pair(const struct tables *tb, const uint8_t *a, size_t m_a,
	   const uint8_t *b, size_t m_b, const uint8_t *raw, size_t n)
{
	uint8_t *ga = guarded_copy(a, m_a), *gb = guarded_copy(b, m_b);
	const uint8_t *const in[2] = { ga, gb };
	const size_t in_nbytes[2] = { m_a, m_b };
	const uint8_t *const raws[2] = { raw, raw };
	uint8_t *ref[2], *got[2];
	enum gauss_status want[2];

	for (unsigned c = 0; c < 2; c++) {
		ref[c] = malloc(2 * n + 1);
		got[c] = malloc(2 * n + 1);
		assert_non_null(ref[c]);
		assert_non_null(got[c]);
		want[c] = rans_decode_bf16_scalar(&tb->d, in[c], in_nbytes[c],
						  raw, ref[c], n);
	}
	for (unsigned l = 0; l < nlevels; l++) {
		uint8_t *const dst[2] = { got[0], got[1] };
		const struct rans_dtable *dv[2];
		const unsigned nd = dtables_of(tb, levels[l], dv);

		for (unsigned t = 0; t < nd; t++) {
			enum gauss_status st[2];

			memset(got[0], 0xcc, 2 * n + 1);
			memset(got[1], 0xcc, 2 * n + 1);
			levels[l]->decode_bf16_pair(dv[t], in, in_nbytes,
						    raws, dst, n, st);
			for (unsigned c = 0; c < 2; c++) {
				assert_int_equal(st[c], want[c]);
				if (want[c] == GAUSS_OK)
					assert_memory_equal(got[c], ref[c],
							    2 * n);
				assert_int_equal(got[c][2 * n], 0xcc);
			}
		}
	}
	for (unsigned c = 0; c < 2; c++) {
		free(ref[c]);
		free(got[c]);
	}
	guarded_free(ga, m_a);
	guarded_free(gb, m_b);
}

/* Encodes with every level, compares, decodes with every level. */
static void
check_case(const struct tables *tb, size_t n, uint64_t *seed, bool damage)
{
	const size_t cap = 4 * RANS_MAX_LANES + 2 * n + 64;
	uint8_t *syms = malloc(n + 1), *raw = malloc(n + 1);
	uint8_t *ref = malloc(cap), *out = malloc(cap);
	size_t m;

	assert_non_null(syms);
	assert_non_null(raw);
	assert_non_null(ref);
	assert_non_null(out);
	draw(&tb->t, syms, n, seed);
	for (size_t i = 0; i < n; i++)
		raw[i] = (uint8_t)test_rand(seed);
	m = rans_encode_scalar(&tb->e, syms, n, ref, cap);
	assert_true(m >= 4);
	for (unsigned l = 0; l < nlevels; l++) {
		memset(out, 0xee, cap);
		assert_int_equal(levels[l]->encode(&tb->e, syms, n, out, cap),
				 m);
		assert_memory_equal(out, ref, m);
		/* an exact fit fits; one byte less does not, at every level */
		assert_int_equal(levels[l]->encode(&tb->e, syms, n, out, m), m);
		assert_memory_equal(out, ref, m);
		assert_int_equal(levels[l]->encode(&tb->e, syms, n, out,
						   m - 1), 0);
	}
	check_decoders(tb, ref, m, syms, raw, n);
	check_pair(tb, ref, m, ref, m, raw, n);
	if (damage) {
		/* fewer flips of big streams: the paths are the same */
		const unsigned flips = n > 100000 ? 12 : 40;

		for (unsigned k = 0; k < flips; k++) {
			const size_t at = (size_t)(test_rand(seed) % m);

			/* the lean table on the first few only (test time) */
			lean_too = k < 8;
			memcpy(out, ref, m);
			out[at] ^= (uint8_t)(1 + test_rand(seed) % 255);
			check_decoders(tb, out, m, NULL, raw, n);
			/* a damaged chunk beside a sound one, both ways */
			if (k < 8) {
				check_pair(tb, out, m, ref, m, raw, n);
				check_pair(tb, ref, m, out, m, raw, n);
			}
		}
		lean_too = true;
		check_pair(tb, ref, m - 2, ref, m, raw, n);
		check_decoders(tb, ref, m - 1, NULL, raw, n);
		check_decoders(tb, ref, m - 2, NULL, raw, n);
		memcpy(out, ref, m);
		out[m] = 0;
		out[m + 1] = 0;
		check_decoders(tb, out, m + 2, NULL, raw, n);
		for (size_t i = 0; i < m; i++)
			out[i] = (uint8_t)test_rand(seed);
		check_decoders(tb, out, m, NULL, raw, n);
	}
	free(out);
	free(ref);
	free(raw);
	free(syms);
}

static void
run_tables(unsigned version, const size_t *sizes, size_t nsizes,
	   bool damage)
{
	static const unsigned nsyms[] = { 2, 3, 17, 33, 64, 65, 100, 256 };
	struct tables *tb = aligned_alloc(64, sizeof(*tb));
	uint64_t seed = 1234 + version;

	assert_non_null(tb);
	for (unsigned a = 0; a < ARRAY_SIZE(nsyms); a++) {
		for (int skew = 0; skew < 2; skew++) {
			uint64_t counts[256];

			make_counts(counts, 90 + a, nsyms[a], skew);
			rans_table_normalize(counts, &tb->t);
			rans_etable_build(&tb->t, version, &tb->e);
			rans_dtable_build(&tb->t, version, &tb->d);
			memset(tb->lean.slot, 0xa5, sizeof(tb->lean.slot));
			rans_dtable_build_for(&tb->t, version, false,
					      &tb->lean);
			assert_int_equal(tb->lean.slots, !tb->d.alias);
			assert_int_equal(tb->e.alias, tb->d.alias);
			if (version == 1)
				assert_false(tb->d.alias);
			if (version >= 2 && nsyms[a] <= 64)
				assert_true(tb->d.alias);
			for (size_t i = 0; i < nsizes; i++)
				check_case(tb, sizes[i], &seed, damage);
		}
	}
	free(tb);
}

static void
test_kernels_small_chunks(void **state)
{
	static const size_t sizes[] = { 1, 2, 31, 32, 33, 95, 4096, 8191,
					8192, 16385 };

	static const size_t sizes4[] = { 1023, 1024, 2048, 4095, 4096, 8192,
					 16383, 16384, 16417 };

	(void)state;
	run_tables(2, sizes, ARRAY_SIZE(sizes), true);
	run_tables(1, sizes, ARRAY_SIZE(sizes), false);
	/* version 4's lane rule: every lane count at its boundaries */
	run_tables(4, sizes4, ARRAY_SIZE(sizes4), true);
}

static void
test_kernels_full_chunks(void **state)
{
	static const size_t sizes[] = { 131071, 131072, 131072 + 17,
					262144 };

	(void)state;
	run_tables(2, sizes, ARRAY_SIZE(sizes), true);
	run_tables(1, sizes, 1, true);
}

/*
 * Tables with the top mantissa bit (format version 6): every level's fused
 * decoder (32 lanes, narrow, pair) against the scalar one, which is
 * checked against the raw plane's layout bit by bit; alias and gather
 * tables, chunks around the 32-element groups of the raw plane and every
 * lane count.
 */
static void
test_kernels_top_bit(void **state)
{
	static const unsigned nsyms[] = { 2, 17, 44, 64, 65, 100 };
	static const size_t sizes[] = { 1, 27, 28, 31, 32, 33, 95, 4095, 8192,
					16383, 16384, 16417, 131072 + 17 };
	struct tables *tb = aligned_alloc(64, sizeof(*tb));
	uint64_t seed = 606;

	(void)state;
	assert_non_null(tb);
	for (unsigned a = 0; a < ARRAY_SIZE(nsyms); a++) {
		for (int skew = 0; skew < 2; skew++) {
			uint64_t counts[256];

			make_counts(counts, 3 + a, nsyms[a], skew);
			rans_table_normalize(counts, &tb->t);
			tb->t.whole.flags = FMT_BLOCK_M1;
			tb->t.whole.m1_base = (uint8_t)(100 + a);
			rans_etable_build(&tb->t, FMT_VERSION, &tb->e);
			rans_dtable_build(&tb->t, FMT_VERSION, &tb->d);
			memset(tb->lean.slot, 0xa5, sizeof(tb->lean.slot));
			rans_dtable_build_for(&tb->t, FMT_VERSION, false,
					      &tb->lean);
			if (nsyms[a] <= 64)
				assert_true(tb->d.alias);
			for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
				check_case(tb, sizes[i], &seed,
					   sizes[i] < 100000);
		}
	}
	free(tb);
}

/* A bf16-like exponent distribution: what real tensors look like. */
static void
test_kernels_weights_like(void **state)
{
	struct tables *tb = aligned_alloc(64, sizeof(*tb));
	uint64_t counts[256] = { 0 };
	uint64_t seed = 77;

	(void)state;
	assert_non_null(tb);
	/* N(0, 0.02): exponents 100..123 dominate, a long thin tail */
	for (unsigned s = 60; s < 124; s++)
		counts[s] = s >= 100 ? (uint64_t)1 << (30 - (123 - s)) :
				       1 + (s % 3);
	rans_table_normalize(counts, &tb->t);
	for (unsigned version = 1; version <= 2; version++) {
		rans_etable_build(&tb->t, version, &tb->e);
		rans_dtable_build(&tb->t, version, &tb->d);
		memset(tb->lean.slot, 0xa5, sizeof(tb->lean.slot));
		rans_dtable_build_for(&tb->t, version, false, &tb->lean);
		check_case(tb, 262144, &seed, true);
		check_case(tb, 200000, &seed, false);
	}
	free(tb);
}

/*
 * The checksums: every level's XXH3-64 and streaming XXH3-128 give the
 * library's (scalar) values, for every length up to a few KiB (where XXH3
 * changes code paths), large inputs, and updates split anywhere.
 */
static void
test_hash_levels(void **state)
{
	const size_t big = (1u << 20) + 333;
	const struct hash_ops *ref = rans_kernels_of(CPU_SCALAR)->hash;
	uint8_t *buf = malloc(big);
	uint64_t seed = 99;

	(void)state;
	for (size_t i = 0; i < big; i++)
		buf[i] = (uint8_t)test_rand(&seed);
	for (unsigned l = 1; l < CPU_LEVEL_COUNT; l++) {
		const struct rans_kernels *k = rans_kernels_of((enum cpu_level)l);

		if (k == NULL)
			continue;
		for (size_t n = 0; n <= 4200; n++)
			assert_int_equal(k->hash->h64(buf + n % 7, n),
					 ref->h64(buf + n % 7, n));
		assert_int_equal(k->hash->h64(buf, big), ref->h64(buf, big));
		for (unsigned trial = 0; trial < 20; trial++) {
			void *a = k->hash->h128_new(), *b = ref->h128_new();
			uint8_t da[16], db[16];
			size_t off = 0;

			assert_non_null(a);
			assert_non_null(b);
			while (off < big) {
				size_t n = (size_t)(test_rand(&seed) %
						    (trial < 10 ? 300 : 200000));

				n = n < big - off ? n : big - off;
				k->hash->h128_update(a, buf + off, n);
				ref->h128_update(b, buf + off, n);
				off += n;
			}
			k->hash->h128_digest(a, da);
			ref->h128_digest(b, db);
			assert_memory_equal(da, db, 16);
			k->hash->h128_free(a);
			ref->h128_free(b);
		}
	}
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernels_small_chunks),
		cmocka_unit_test(test_kernels_full_chunks),
		cmocka_unit_test(test_kernels_weights_like),
		cmocka_unit_test(test_kernels_top_bit),
		cmocka_unit_test(test_hash_levels),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
