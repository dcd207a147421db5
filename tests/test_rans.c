/* SPDX-License-Identifier: MIT */
/*
 * test_rans.c: the rANS coder: normalisation of counts, the bit-packed
 * table format, the lane rule, and the scalar coder (round trips, the
 * pinned bitstream, capacity limits, and damaged streams). Decoder inputs
 * and outputs sit against a guard page, so an overread or overwrite faults.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "test_util.h"
#include "endian.h"
#include "cpu.h"
#include "format.h"
#include "rans.h"
#include "banned.h"

/* ---- helpers ---- */

/* Checks the invariants every normalised or parsed table must hold. */
/* Layout of the tables under test: the format's, or 1 where a test says. */
static unsigned layout_version = FMT_VERSION;

/* The encoder view of t under layout_version (one at a time). */
static const struct rans_etable *
etab(const struct rans_table *t)
{
	static struct rans_etable e;

	rans_etable_build(t, layout_version, &e);
	return &e;
}

/* Frequencies summing to 2^scale_bits, cum[] their running sum. */
static void
assert_table_valid(const struct rans_table *t)
{
	const unsigned M = 1u << t->scale_bits;
	unsigned sum = 0, nsym = 0;

	for (unsigned s = 0; s < 256; s++) {
		assert_int_equal(t->cum[s], sum);
		assert_true(t->freq[s] <= M);
		sum += t->freq[s];
		nsym += t->freq[s] != 0;
	}
	assert_int_equal(sum, M);
	assert_int_equal(nsym, t->nsym);
}

/* Symbol of each probability slot of t, to draw symbols distributed as t. */
static void
slot_symbols(const struct rans_table *t, uint8_t slot_sym[RANS_M])
{
	for (unsigned s = 0; s < 256; s++)
		for (unsigned j = 0; j < t->freq[s]; j++)
			slot_sym[t->cum[s] + j] = (uint8_t)s;
}

/* Fills syms[n] with symbols drawn from t's own distribution. */
static void
draw_symbols(const struct rans_table *t, uint8_t *syms, size_t n,
	     uint64_t *seed)
{
	uint8_t slot_sym[RANS_M];

	slot_symbols(t, slot_sym);
	for (size_t i = 0; i < n; i++)
		syms[i] = slot_sym[test_rand(seed) % RANS_M];
}

/* A table of random frequencies over the symbols set in `present`. */
static void
random_table(const bool present[256], uint64_t *seed, struct rans_table *t)
{
	uint64_t counts[256] = { 0 };
	const unsigned shape = (unsigned)(test_rand(seed) % 3);

	for (unsigned s = 0; s < 256; s++) {
		if (!present[s])
			continue;
		switch (shape) {
		case 0:		/* flat-ish */
			counts[s] = 1 + test_rand(seed) % 1000;
			break;
		case 1:		/* heavy-tailed: spans many magnitudes */
			counts[s] = 1 + (test_rand(seed) >>
					 (28 + test_rand(seed) % 36));
			break;
		default:	/* huge counts, as from a full block */
			counts[s] = 1 + test_rand(seed) % ((uint64_t)1 << 34);
			break;
		}
	}
	rans_table_normalize(counts, t);
}

/* The model of bf16 exponents of weights: a bell around 2^-4. */
static void
skewed_counts(uint64_t counts[256])
{
	static const uint64_t bell[] = {
		1, 3, 17, 90, 400, 1600, 5200, 12000, 19000, 21000, 15000,
		7000, 1900, 250, 31, 4,
	};

	memset(counts, 0, 256 * sizeof(counts[0]));
	for (unsigned i = 0; i < ARRAY_SIZE(bell); i++)
		counts[110 + i] = bell[i];
	counts[0] = 2;		/* zeros */
	counts[255] = 1;	/* a NaN */
}

/* A bit writer for hand-made tables (LSB first, as gauss(5) says). */
struct bits {
	uint8_t buf[RANS_TABLE_MAX_NBYTES];
	size_t nbits;
};

static void
bits_put(struct bits *b, uint32_t v, unsigned nbits)
{
	for (unsigned i = 0; i < nbits; i++, b->nbits++)
		if ((v >> i) & 1)
			b->buf[b->nbits / 8] |= (uint8_t)(1u << (b->nbits % 8));
}

/* Elias gamma: bit_length(v) - 1 zeros, then v from its top bit. */
static void
bits_gamma(struct bits *b, uint32_t v)
{
	unsigned len = 0;

	while ((v >> len) > 1)
		len++;
	bits_put(b, 0, len);
	for (unsigned i = len + 1; i-- > 0;)
		bits_put(b, (v >> i) & 1, 1);
}

/* A non-implied frequency: 4-bit length - 1, then the bits below the top. */
static void
bits_freq(struct bits *b, uint32_t f)
{
	unsigned len = 0;

	while ((f >> len) > 1)
		len++;
	bits_put(b, len, 4);
	bits_put(b, f & ((1u << len) - 1), len);
}

static size_t
bits_nbytes(const struct bits *b)
{
	return (b->nbits + 7) / 8;
}

/* Reads a table of scale_bits from exactly n bytes in a guarded buffer. */
static enum gauss_status
read_table_bits(const uint8_t *p, size_t n, unsigned scale_bits,
		struct rans_table *t, size_t *used_ret)
{
	uint8_t *g = guarded_copy(p, n);
	struct errbuf eb = { { 0 } };
	struct cursor c;
	enum gauss_status st;

	cursor_init(&c, g, n);
	st = rans_table_read_bits(&c, scale_bits, t, &eb);
	if (st != GAUSS_OK)
		assert_true(eb.text[0] != '\0');
	if (used_ret)
		*used_ret = n - cursor_left(&c);
	guarded_free(g, n);
	return st;
}

static enum gauss_status
read_table(const uint8_t *p, size_t n, struct rans_table *t, size_t *used_ret)
{
	return read_table_bits(p, n, RANS_SCALE_BITS, t, used_ret);
}

/*
 * Three symbols 10, 15, 115 (gaps 5 and 100); the first is implied; the
 * others have f1 and f2.
 */
static void
craft_three(struct bits *b, uint32_t f1, uint32_t f2)
{
	memset(b, 0, sizeof(*b));
	bits_put(b, 3 - 1, 8);
	bits_put(b, 10, 8);
	bits_gamma(b, 5);
	bits_gamma(b, 100);
	bits_put(b, 0, 2);	/* implied index, bit_length(nsym - 1) bits */
	bits_freq(b, f1);
	bits_freq(b, f2);
}

/* Encodes syms into a buffer of exactly the stream's size; returns it. */
static uint8_t *
encode_exact(const struct rans_table *t, const uint8_t *syms, size_t n,
	     size_t *nbytes_ret)
{
	const size_t cap = 64 + 2 * n + 4 * RANS_MAX_LANES;
	uint8_t *tmp = malloc(cap);
	uint8_t *g;
	size_t m;

	assert_non_null(tmp);
	m = rans_encode_scalar(etab(t), syms, n, tmp, cap);
	assert_true(m >= 4);
	/* again, into a buffer of exactly that size: same bytes, no overrun */
	g = guarded_alloc(m);
	assert_non_null(g);
	assert_int_equal(rans_encode_scalar(etab(t), syms, n, g, m), m);
	assert_memory_equal(g, tmp, m);
	free(tmp);
	*nbytes_ret = m;
	return g;
}

/* Decodes n symbols from exactly in_nbytes guarded bytes into guarded out. */
static enum gauss_status
decode_guarded(const struct rans_dtable *d, const uint8_t *in,
	       size_t in_nbytes, uint8_t *out_g, size_t n)
{
	uint8_t *g = guarded_copy(in, in_nbytes);
	enum gauss_status st;

	st = rans_decode_scalar(d, g, in_nbytes, out_g, n);
	guarded_free(g, in_nbytes);
	return st;
}

/* ---- normalisation ---- */

static void
test_rans_normalize_sums_to_m(void **state)
{
	uint64_t seed = 1;
	struct rans_table *t = malloc(sizeof(*t));

	(void)state;
	assert_non_null(t);
	for (unsigned iter = 0; iter < 2000; iter++) {
		uint64_t counts[256] = { 0 };
		unsigned nsym = 0;
		const unsigned kind = iter % 5;

		for (unsigned s = 0; s < 256; s++) {
			switch (kind) {
			case 0:		/* sparse, moderate */
				if (test_rand(&seed) % 8 == 0)
					counts[s] = test_rand(&seed) % 5000;
				break;
			case 1:		/* every symbol, counts of any size */
				counts[s] = 1 + (test_rand(&seed) >>
						 (test_rand(&seed) % 64));
				break;
			case 2:		/* one dominant, the rest seen once */
				counts[s] = s == iter % 256 ?
					    (uint64_t)1 << 34 : 1;
				break;
			case 3:		/* fewer elements than RANS_M */
				if (test_rand(&seed) % 32 == 0)
					counts[s] = 1 + test_rand(&seed) % 3;
				break;
			default:	/* a random pair */
				break;
			}
		}
		if (kind == 4) {
			const unsigned a = (unsigned)(test_rand(&seed) % 256);
			const unsigned b = (unsigned)(test_rand(&seed) % 256);

			counts[a] += 1 + test_rand(&seed) % 99;
			counts[b] += 1;
		}
		for (unsigned s = 0; s < 256; s++)
			nsym += counts[s] != 0;
		if (nsym == 0)
			counts[7] = nsym = 1;
		memset(t, 0xa5, sizeof(*t));
		rans_table_normalize(counts, t);
		assert_table_valid(t);
		assert_int_equal(t->nsym, nsym);
		for (unsigned s = 0; s < 256; s++) {
			if (counts[s])
				assert_true(t->freq[s] >= 1);
			else
				assert_int_equal(t->freq[s], 0);
		}
	}
	free(t);
}

static void
test_rans_normalize_single_symbol(void **state)
{
	static const unsigned syms[] = { 0, 1, 127, 254, 255 };
	static const uint64_t amounts[] = { 1, 4096, (uint64_t)1 << 34 };

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(syms); i++) {
		for (unsigned j = 0; j < ARRAY_SIZE(amounts); j++) {
			uint64_t counts[256] = { 0 };
			struct rans_table t;

			counts[syms[i]] = amounts[j];
			rans_table_normalize(counts, &t);
			assert_int_equal(t.nsym, 1);
			assert_int_equal(t.freq[syms[i]], RANS_M);
			assert_table_valid(&t);
		}
	}
}

static void
test_rans_normalize_deterministic(void **state)
{
	uint64_t seed = 77;
	struct rans_table a, b;

	(void)state;
	for (unsigned iter = 0; iter < 50; iter++) {
		uint64_t counts[256];

		for (unsigned s = 0; s < 256; s++)
			counts[s] = test_rand(&seed) % 4 ? 0 :
				    test_rand(&seed) >> (test_rand(&seed) % 64);
		counts[iter] |= 1;
		/* whatever the output held before, the result is the same */
		memset(&a, 0x00, sizeof(a));
		memset(&b, 0xff, sizeof(b));
		rans_table_normalize(counts, &a);
		rans_table_normalize(counts, &b);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void
test_rans_normalize_known_answer(void **state)
{
	/*
	 * Pins the format: the encoder's tables are stored, so this need
	 * not be frozen for decoding, but a change here changes every file
	 * gauss writes. Computed once from this implementation.
	 */
	static const struct {
		uint8_t sym;
		uint64_t count;
		uint16_t freq;
	} kat[] = {
		{ 0, 5, 1 },		{ 118, 3, 1 },
		{ 119, 17, 1 },		{ 120, 250, 16 },
		{ 121, 1900, 119 },	{ 122, 7000, 439 },
		{ 123, 15000, 942 },	{ 124, 21000, 1319 },
		{ 125, 14000, 879 },	{ 126, 5200, 326 },
		{ 127, 800, 50 },	{ 128, 31, 2 },
		{ 255, 1, 1 },
	};
	/* the same table serialised: pins the table bit layout */
	static const uint8_t kat_bytes[] = {
		0x0c, 0x00, 0xc0, 0xed, 0x7f, 0xe0, 0x7f, 0x00, 0x40, 0x60,
		0x37, 0xde, 0xa6, 0xeb, 0x7c, 0x8b, 0x46, 0x25, 0x03, 0x00,
	};
	uint64_t counts[256] = { 0 };
	uint8_t out[RANS_TABLE_MAX_NBYTES];
	struct rans_table t, back;

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(kat); i++)
		counts[kat[i].sym] = kat[i].count;
	rans_table_normalize(counts, &t);
	assert_table_valid(&t);
	assert_int_equal(t.nsym, ARRAY_SIZE(kat));
	for (unsigned i = 0; i < ARRAY_SIZE(kat); i++)
		assert_int_equal(t.freq[kat[i].sym], kat[i].freq);
	assert_int_equal(rans_table_write(&t, out), sizeof(kat_bytes));
	assert_memory_equal(out, kat_bytes, sizeof(kat_bytes));
	assert_int_equal(read_table(kat_bytes, sizeof(kat_bytes), &back, NULL),
			 GAUSS_OK);
	assert_memory_equal(back.freq, t.freq, sizeof(t.freq));
}

static void
test_rans_normalize_near_optimal(void **state)
{
	uint64_t seed = 4242;

	(void)state;
	/*
	 * No single move of one unit of probability from one symbol to
	 * another may make the table noticeably cheaper for its own counts.
	 */
	for (unsigned iter = 0; iter < 40; iter++) {
		uint64_t counts[256] = { 0 };
		struct rans_table t;
		double cost, best_gain = 0;

		if (iter == 0) {
			skewed_counts(counts);
		} else {
			for (unsigned s = 0; s < 256; s++)
				if (test_rand(&seed) % 4 == 0)
					counts[s] = 1 + (test_rand(&seed) >>
							 (34 + iter % 30));
			counts[iter] += 1;
		}
		rans_table_normalize(counts, &t);
		cost = rans_table_cost(&t, counts);
		for (unsigned a = 0; a < 256; a++) {
			if (t.freq[a] <= 1)
				continue;
			for (unsigned b = 0; b < 256; b++) {
				struct rans_table u;
				double gain;

				if (b == a || !counts[b])
					continue;
				u = t;
				u.freq[a]--;
				u.freq[b]++;
				gain = cost - rans_table_cost(&u, counts);
				if (gain > best_gain)
					best_gain = gain;
			}
		}
		assert_true(best_gain <= 1e-5 * cost + 1.0);
	}
}

/* ---- table serialisation ---- */

static void
test_rans_table_round_trip_random(void **state)
{
	uint64_t seed = 2024;
	uint8_t *out = malloc(RANS_TABLE_MAX_NBYTES + 1);

	(void)state;
	assert_non_null(out);
	for (unsigned iter = 0; iter < 1500; iter++) {
		bool present[256] = { false };
		unsigned nsym = 2 + iter % 255;
		struct rans_table t, back;
		size_t n, used;

		switch (iter % 6) {
		case 0:		/* the ends of the range */
			present[0] = present[255] = true;
			nsym -= 2;
			break;
		case 1:		/* the biggest gap */
			present[0] = true;
			nsym -= 1;
			if (nsym) {
				present[255] = true;
				nsym--;
			}
			break;
		default:
			break;
		}
		while (nsym > 0) {
			const unsigned s = (unsigned)(test_rand(&seed) % 256);

			if (!present[s]) {
				present[s] = true;
				nsym--;
			}
		}
		random_table(present, &seed, &t);
		memset(out, 0xee, RANS_TABLE_MAX_NBYTES + 1);
		n = rans_table_write(&t, out);
		assert_true(n >= 2 && n <= RANS_TABLE_MAX_NBYTES);
		assert_int_equal(out[n], 0xee);
		/* exactly n bytes are read, even when more follow */
		assert_int_equal(read_table(out, n + 1, &back, &used),
				 GAUSS_OK);
		assert_int_equal(used, n);
		assert_int_equal(read_table(out, n, &back, &used), GAUSS_OK);
		assert_int_equal(used, n);
		assert_int_equal(back.nsym, t.nsym);
		assert_memory_equal(back.freq, t.freq, sizeof(t.freq));
		assert_memory_equal(back.cum, t.cum, sizeof(t.cum));
	}
	free(out);
}

static void
test_rans_table_round_trip_hand_made(void **state)
{
	uint8_t out[RANS_TABLE_MAX_NBYTES];
	struct rans_table t, back;

	(void)state;
	/* all 256 symbols, equal: ties for the implied one */
	memset(&t, 0, sizeof(t));
	t.nsym = 256;
	for (unsigned s = 0; s < 256; s++)
		t.freq[s] = RANS_M / 256;
	rans_table_finish(&t);
	assert_int_equal(read_table(out, rans_table_write(&t, out), &back,
				    NULL), GAUSS_OK);
	assert_memory_equal(back.freq, t.freq, sizeof(t.freq));

	/* two symbols at the ends, one of frequency 1, one of M - 1 */
	memset(&t, 0, sizeof(t));
	t.nsym = 2;
	t.freq[0] = 1;
	t.freq[255] = RANS_M - 1;
	rans_table_finish(&t);
	assert_int_equal(read_table(out, rans_table_write(&t, out), &back,
				    NULL), GAUSS_OK);
	assert_memory_equal(back.freq, t.freq, sizeof(t.freq));

	/* 255 symbols of frequency 1 and one with the rest */
	memset(&t, 0, sizeof(t));
	t.nsym = 256;
	for (unsigned s = 0; s < 256; s++)
		t.freq[s] = 1;
	t.freq[200] = RANS_M - 255;
	rans_table_finish(&t);
	assert_int_equal(read_table(out, rans_table_write(&t, out), &back,
				    NULL), GAUSS_OK);
	assert_memory_equal(back.freq, t.freq, sizeof(t.freq));

	/* one symbol: nsym and the symbol, two bytes */
	for (unsigned s = 0; s < 256; s += 255) {
		memset(&t, 0, sizeof(t));
		t.nsym = 1;
		t.freq[s] = RANS_M;
		rans_table_finish(&t);
		assert_int_equal(rans_table_write(&t, out), 2);
		assert_int_equal(out[0], 0);
		assert_int_equal(out[1], s);
		assert_int_equal(read_table(out, 2, &back, NULL), GAUSS_OK);
		assert_int_equal(back.nsym, 1);
		assert_int_equal(back.freq[s], RANS_M);
	}
}

static void
test_rans_table_rejects_every_truncation(void **state)
{
	uint64_t seed = 31337;
	uint8_t *g = guarded_alloc(RANS_TABLE_MAX_NBYTES);

	(void)state;
	assert_non_null(g);
	for (unsigned iter = 0; iter < 300; iter++) {
		bool present[256] = { false };
		uint8_t out[RANS_TABLE_MAX_NBYTES];
		struct rans_table t, back;
		unsigned nsym = 1 + iter % 256;
		size_t n;

		present[0] = iter % 2;
		present[255] = iter % 3 == 0;
		nsym -= MIN(nsym - 1, (unsigned)present[0] + present[255]);
		while (nsym > 0) {
			const unsigned s = (unsigned)(test_rand(&seed) % 256);

			if (!present[s]) {
				present[s] = true;
				nsym--;
			}
		}
		random_table(present, &seed, &t);
		n = rans_table_write(&t, out);
		for (size_t len = 0; len < n; len++) {
			/* the last len bytes of g end at the guard page */
			uint8_t *p = g + RANS_TABLE_MAX_NBYTES - len;
			struct errbuf eb = { { 0 } };
			struct cursor c;

			memcpy(p, out, len);
			cursor_init(&c, p, len);
			assert_int_equal(rans_table_read(&c, &back, &eb),
					 GAUSS_E_CORRUPT);
			assert_non_null(strstr(eb.text, "table"));
		}
	}
	guarded_free(g, RANS_TABLE_MAX_NBYTES);
}

static void
test_rans_table_rejects_corrupt(void **state)
{
	struct bits b;
	struct rans_table t;

	(void)state;
	/* the crafting itself is right: a valid three-symbol table */
	craft_three(&b, 1000, 96);
	assert_int_equal(read_table(b.buf, bits_nbytes(&b), &t, NULL),
			 GAUSS_OK);
	assert_int_equal(t.nsym, 3);
	assert_int_equal(t.freq[10], RANS_M - 1096);
	assert_int_equal(t.freq[15], 1000);
	assert_int_equal(t.freq[115], 96);

	/* explicit frequencies summing to M - 1: the implied one gets 1 */
	craft_three(&b, 2048, 2047);
	assert_int_equal(read_table(b.buf, bits_nbytes(&b), &t, NULL),
			 GAUSS_OK);
	assert_int_equal(t.freq[10], 1);
	/* summing to M or more leaves nothing for the implied symbol */
	craft_three(&b, 2048, 2048);
	assert_int_equal(read_table(b.buf, bits_nbytes(&b), &t, NULL),
			 GAUSS_E_CORRUPT);
	craft_three(&b, 4095, 4095);
	assert_int_equal(read_table(b.buf, bits_nbytes(&b), &t, NULL),
			 GAUSS_E_CORRUPT);

	/* non-zero padding after a valid table */
	craft_three(&b, 1000, 96);
	assert_true(b.nbits % 8 != 0);
	for (size_t bit = b.nbits; bit % 8 != 0; bit++) {
		struct bits p = b;

		p.buf[bit / 8] |= (uint8_t)(1u << (bit % 8));
		assert_int_equal(read_table(p.buf, bits_nbytes(&p), &t, NULL),
				 GAUSS_E_CORRUPT);
	}

	/* a gap past 255 (and, as a control, one landing on 255) */
	for (unsigned gap = 55; gap <= 57; gap++) {
		memset(&b, 0, sizeof(b));
		bits_put(&b, 2 - 1, 8);
		bits_put(&b, 200, 8);
		bits_gamma(&b, gap);
		bits_put(&b, 0, 1);
		bits_freq(&b, 7);
		assert_int_equal(read_table(b.buf, bits_nbytes(&b), &t, NULL),
				 gap == 55 ? GAUSS_OK : GAUSS_E_CORRUPT);
	}

	/* 256 symbols starting at 1 run past 255 */
	memset(&b, 0, sizeof(b));
	bits_put(&b, 255, 8);
	bits_put(&b, 1, 8);
	for (unsigned k = 1; k < 256; k++)
		bits_gamma(&b, 1);
	bits_put(&b, 0, 8);
	for (unsigned k = 1; k < 256; k++)
		bits_freq(&b, 1);
	assert_int_equal(read_table(b.buf, bits_nbytes(&b), &t, NULL),
			 GAUSS_E_CORRUPT);

	/* implied index out of range: nsym 3, index 3 */
	memset(&b, 0, sizeof(b));
	bits_put(&b, 3 - 1, 8);
	bits_put(&b, 10, 8);
	bits_gamma(&b, 1);
	bits_gamma(&b, 1);
	bits_put(&b, 3, 2);
	bits_freq(&b, 5);
	bits_freq(&b, 5);
	assert_int_equal(read_table(b.buf, bits_nbytes(&b), &t, NULL),
			 GAUSS_E_CORRUPT);

	/* a frequency length field of 12 or more (2^12 = M) */
	memset(&b, 0, sizeof(b));
	bits_put(&b, 2 - 1, 8);
	bits_put(&b, 10, 8);
	bits_gamma(&b, 1);
	bits_put(&b, 0, 1);
	bits_put(&b, 12, 4);
	bits_put(&b, 0, 12);
	assert_int_equal(read_table(b.buf, bits_nbytes(&b), &t, NULL),
			 GAUSS_E_CORRUPT);

	/* an Elias gamma code with too many leading zeros for a gap */
	memset(&b, 0, sizeof(b));
	bits_put(&b, 2 - 1, 8);
	bits_put(&b, 0, 8);
	bits_put(&b, 0, 9);
	bits_put(&b, 1, 10);
	bits_put(&b, 0, 1);
	bits_freq(&b, 7);
	assert_int_equal(read_table(b.buf, bits_nbytes(&b), &t, NULL),
			 GAUSS_E_CORRUPT);
}

static void
test_rans_table_random_bytes_never_crash(void **state)
{
	uint64_t seed = 555;
	uint8_t buf[RANS_TABLE_MAX_NBYTES];

	(void)state;
	for (unsigned iter = 0; iter < 3000; iter++) {
		const size_t n = test_rand(&seed) % 80;
		struct rans_table t;
		size_t used;
		enum gauss_status st;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)test_rand(&seed);
		if (n && iter % 2)	/* few symbols */
			buf[0] = (uint8_t)(test_rand(&seed) % 8);
		st = read_table(buf, n, &t, &used);
		assert_true(st == GAUSS_OK || st == GAUSS_E_CORRUPT);
		if (st == GAUSS_OK) {
			assert_table_valid(&t);
			assert_true(used <= n);
		}
	}
}

/* ---- lanes ---- */

static void
test_rans_lanes_boundaries(void **state)
{
	static const struct {
		uint64_t n;
		unsigned lanes;
	} cases[] = {
		{ 0, 1 },		{ 1, 1 },
		{ 8191, 1 },		{ 8192, 2 },
		{ 16383, 2 },		{ 16384, 4 },
		{ 32767, 4 },		{ 32768, 8 },
		{ 65535, 8 },		{ 65536, 16 },
		{ 131071, 16 },		{ 131072, 32 },
		{ 262144, 32 },		{ (uint64_t)1 << 40, 32 },
		{ UINT64_MAX, 32 },
	};

	/* version 4 (gauss(5), "Lanes"): the same steps at an eighth */
	static const struct {
		uint64_t n;
		unsigned lanes;
	} v4[] = {
		{ 0, 1 },		{ 1023, 1 },
		{ 1024, 2 },		{ 2047, 2 },
		{ 2048, 4 },		{ 4095, 4 },
		{ 4096, 8 },		{ 8191, 8 },
		{ 8192, 16 },		{ 16383, 16 },
		{ 16384, 32 },		{ UINT64_MAX, 32 },
	};

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++)
		for (unsigned v = 1; v <= 3; v++)
			assert_int_equal(rans_lanes_unit(cases[i].n,
							 rans_lane_unit(v)),
					 cases[i].lanes);
	for (unsigned i = 0; i < ARRAY_SIZE(v4); i++)
		assert_int_equal(rans_lanes_unit(v4[i].n, rans_lane_unit(4)),
				 v4[i].lanes);
}

/* ---- encode and decode ---- */

static void
round_trip(const struct rans_table *t, const uint8_t *syms, size_t n)
{
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t *out = guarded_alloc(n);
	uint64_t counts[256] = { 0 };
	size_t m;
	uint8_t *stream;
	double ideal;

	assert_non_null(d);
	assert_non_null(out);
	rans_dtable_build(t, layout_version, d);
	stream = encode_exact(t, syms, n, &m);
	memset(out, 0xcc, n);
	assert_int_equal(rans_decode_scalar(d, stream, m, out, n), GAUSS_OK);
	assert_memory_equal(out, syms, n);
	/* close to the ideal size, plus the flushed states */
	for (size_t i = 0; i < n; i++)
		counts[syms[i]]++;
	ideal = rans_table_cost(t, counts) / 8;
	assert_true((double)m <= ideal * 1.001 + 6.0 * rans_lanes_unit(n, d->lane_unit) + 8);
	guarded_free(stream, m);
	guarded_free(out, n);
	free(d);
}

static void
test_rans_round_trip_sizes(void **state)
{
	static const size_t sizes[] = {
		1, 2, 31, 32, 33, 1000, 8191, 8192, 100000, 131072, 262144,
	};
	uint8_t *syms = malloc(262144);
	uint64_t counts[256];
	struct rans_table skewed, flat, extreme;
	uint64_t seed = 9;

	(void)state;
	assert_non_null(syms);
	skewed_counts(counts);
	rans_table_normalize(counts, &skewed);
	for (unsigned s = 0; s < 256; s++)
		counts[s] = 1000 + s;
	rans_table_normalize(counts, &flat);
	assert_int_equal(flat.nsym, 256);
	/* one symbol nearly always, the others at frequency 1 */
	memset(counts, 0, sizeof(counts));
	for (unsigned s = 0; s < 256; s += 17)
		counts[s] = 1;
	counts[127] = (uint64_t)1 << 30;
	rans_table_normalize(counts, &extreme);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		const size_t n = sizes[i];

		draw_symbols(&skewed, syms, n, &seed);
		round_trip(&skewed, syms, n);
		draw_symbols(&flat, syms, n, &seed);
		round_trip(&flat, syms, n);
		/* every symbol of the table appears at least once */
		for (size_t j = 0; j < n; j++)
			syms[j] = (uint8_t)j;
		round_trip(&flat, syms, n);
		draw_symbols(&extreme, syms, n, &seed);
		for (size_t j = 0; j < n && j < 256; j += 17)
			syms[n - 1 - j] = (uint8_t)j;	/* the rare ones */
		round_trip(&extreme, syms, n);
	}
	free(syms);
}

static void
test_rans_round_trip_empty(void **state)
{
	uint64_t counts[256] = { [3] = 1, [4] = 1 };
	struct rans_table t;
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t out[8];

	(void)state;
	assert_non_null(d);
	rans_table_normalize(counts, &t);
	rans_dtable_build(&t, layout_version, d);
	/* no symbols: just the one initial state */
	assert_int_equal(rans_encode_scalar(etab(&t), NULL, 0, out, sizeof(out)), 4);
	assert_int_equal(get_le32(out), RANS_L);
	assert_int_equal(rans_decode_scalar(d, out, 4, NULL, 0), GAUSS_OK);
	free(d);
}

/*
 * Pins the alias layout of gauss(5) on a worked case: f = 4000, 60, 36 for
 * symbols 0, 1, 2. Bucket 0 takes symbol 2 whole (36 slots) and 28 codes
 * of symbol 0; bucket 1 symbol 1 whole (60) and 4 more of symbol 0;
 * buckets 2 to 63 the rest of symbol 0. Version 1 keeps the cumulative
 * layout.
 */
static void
test_rans_alias_layout_known_answer(void **state)
{
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	struct rans_etable *e = malloc(sizeof(*e));
	struct rans_table t;
	struct rans_alias a;

	(void)state;
	assert_non_null(d);
	assert_non_null(e);
	memset(&t, 0, sizeof(t));
	t.nsym = 3;
	t.freq[0] = 4000;
	t.freq[1] = 60;
	t.freq[2] = 36;
	rans_table_finish(&t);
	assert_true(rans_alias_build(&t, &a));
	assert_int_equal(a.div[0], 36);
	assert_int_equal(a.lo[0], 2);
	assert_int_equal(a.hi[0], 0);
	assert_int_equal(a.khi[0], 0);
	assert_int_equal(a.div[1], 60);
	assert_int_equal(a.lo[1], 1);
	assert_int_equal(a.hi[1], 0);
	assert_int_equal(a.khi[1], 28);
	for (unsigned b = 2; b < RANS_ALIAS_BUCKETS; b++) {
		assert_int_equal(a.div[b], 0);
		assert_int_equal(a.hi[b], 0);
		assert_int_equal(a.khi[b], 32 + 64 * (b - 2));
	}
	rans_etable_build(&t, 2, e);
	rans_dtable_build(&t, 2, d);
	assert_true(e->alias && d->alias);
	/* slot_of(s, j) = e->slot[cum[s] + j]; cum = 0, 4000, 4060 */
	assert_int_equal(e->slot[4060 + 0], 0);		/* (2, 0) */
	assert_int_equal(e->slot[4060 + 35], 35);	/* (2, 35) */
	assert_int_equal(e->slot[0], 36);		/* (0, 0) */
	assert_int_equal(e->slot[27], 63);		/* (0, 27) */
	assert_int_equal(e->slot[4000], 64);		/* (1, 0) */
	assert_int_equal(e->slot[28], 124);		/* (0, 28) */
	assert_int_equal(e->slot[31], 127);		/* (0, 31) */
	assert_int_equal(e->slot[32], 128);		/* (0, 32) */
	assert_int_equal(e->slot[3999], 4095);		/* (0, 3999) */
	/* owner(slot): symbol, frequency, code */
	assert_int_equal(d->slot[35], 2 | 36u << 8 | 35u << 20);
	assert_int_equal(d->slot[36], 0 | 4000u << 8 | 0u << 20);
	assert_int_equal(d->slot[100], 1 | 60u << 8 | 36u << 20);
	assert_int_equal(d->slot[125], 0 | 4000u << 8 | 29u << 20);
	/* the per-bucket view of the vector kernels */
	assert_int_equal(d->alo[0], 36 | 36u << 12 | 2u << 24);
	assert_int_equal(d->ahi[0], 4000 | 0u << 12 | 0u << 24);
	assert_int_equal(d->alo[1], 60 | 60u << 12 | 1u << 24);
	assert_int_equal(d->ahi[1], 4000 | 28u << 12);
	assert_int_equal(d->alo[2], 0);
	assert_int_equal(d->ahi[63], 4000 | (32u + 64 * 61) << 12);
	/* version 1: cumulative */
	rans_etable_build(&t, 1, e);
	rans_dtable_build(&t, 1, d);
	assert_false(e->alias || d->alias);
	assert_int_equal(e->slot[4060 + 35], 4095);
	assert_int_equal(d->slot[36], 0 | 4000u << 8 | 36u << 20);
	free(e);
	free(d);
}

/* Above 64 symbols the alias layout may not exist; then it is cumulative. */
static void
test_rans_alias_layout_fallback(void **state)
{
	uint64_t counts[256] = { 0 };
	struct rans_table t;
	struct rans_alias a;
	unsigned with = 0, without = 0;

	(void)state;
	for (unsigned nsym = 2; nsym <= 256; nsym++) {
		for (unsigned s = 0; s < 256; s++)
			counts[s] = s < nsym ? 1 + (s * 2654435761u) % 1000 : 0;
		rans_table_normalize(counts, &t);
		if (rans_alias_build(&t, &a))
			with++;
		else
			without++;
		if (nsym <= RANS_ALIAS_BUCKETS)
			assert_true(rans_alias_build(&t, &a));
	}
	assert_true(with >= 63);
	assert_true(without > 0);
}

/*
 * The alias rule of gauss(5) written the plain way (two scans of the
 * symbols per bucket), against which rans_alias_build()'s faster scans are
 * checked.
 */
static bool
alias_reference(const struct rans_table *t, struct rans_alias *a)
{
	unsigned rem[256], used[256] = { 0 };

	memset(a, 0, sizeof(*a));
	for (unsigned s = 0; s < 256; s++)
		rem[s] = t->freq[s];
	for (unsigned b = 0; b < RANS_ALIAS_BUCKETS; b++) {
		unsigned small = 256, large = 256, need;

		for (unsigned s = 0; s < 256; s++)
			if (rem[s] && (small == 256 || rem[s] < rem[small]))
				small = s;
		if (rem[small] >= RANS_ALIAS_SLOTS) {
			a->hi[b] = (uint8_t)small;
			a->khi[b] = (uint16_t)used[small];
			used[small] += RANS_ALIAS_SLOTS;
			rem[small] -= RANS_ALIAS_SLOTS;
			continue;
		}
		a->div[b] = (uint8_t)rem[small];
		a->lo[b] = (uint8_t)small;
		need = RANS_ALIAS_SLOTS - rem[small];
		used[small] += rem[small];
		rem[small] = 0;
		for (unsigned s = 0; s < 256; s++)
			if (rem[s] && (large == 256 || rem[s] > rem[large]))
				large = s;
		if (large == 256 || rem[large] < need)
			return false;
		a->hi[b] = (uint8_t)large;
		a->khi[b] = (uint16_t)used[large];
		used[large] += need;
		rem[large] -= need;
	}
	return true;
}

/*
 * Random tables of 2 to 256 symbols, skewed and flat, with ties: the
 * layout is the reference rule's, and under either layout the decoder's
 * slot entries invert the encoder's slot map (every slot once, with the
 * right symbol, frequency and code).
 */
static void
test_rans_alias_layout_matches_rule(void **state)
{
	struct rans_etable *e = malloc(sizeof(*e));
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	unsigned with = 0;

	(void)state;
	assert_non_null(e);
	assert_non_null(d);
	for (unsigned trial = 0; trial < 600; trial++) {
		uint64_t counts[256] = { 0 };
		const unsigned nsym = 2 + (trial % 4 ? trial % 63 : trial % 255);
		struct rans_table t;
		struct rans_alias a, ref;
		bool ok;

		for (unsigned i = 0; i < nsym; i++) {
			unsigned s;
			uint64_t c;

			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			s = (unsigned)(rng >> 56);
			switch (trial % 3) {
			case 0:	/* geometric-ish, like exponents */
				c = 1 + ((rng >> 8) % 1000000 >> (i % 20));
				break;
			case 1:	/* flat: many ties */
				c = 1000;
				break;
			default: /* a few values only: ties at small counts */
				c = 1 + (rng >> 20) % 4;
				break;
			}
			counts[s] += c;
		}
		rans_table_normalize(counts, &t);
		if (t.nsym < 2)
			continue;
		ok = rans_alias_build(&t, &a);
		assert_int_equal(ok, alias_reference(&t, &ref));
		if (ok) {
			with++;
			assert_memory_equal(a.div, ref.div, sizeof(a.div));
			assert_memory_equal(a.lo, ref.lo, sizeof(a.lo));
			assert_memory_equal(a.hi, ref.hi, sizeof(a.hi));
			assert_memory_equal(a.khi, ref.khi, sizeof(a.khi));
		}
		for (unsigned version = 1; version <= 2; version++) {
			uint8_t seen[RANS_M] = { 0 };

			rans_etable_build(&t, version, e);
			rans_dtable_build(&t, version, d);
			assert_int_equal(d->alias, version == 2 && ok);
			for (unsigned s = 0; s < 256; s++) {
				for (unsigned k = 0; k < t.freq[s]; k++) {
					const unsigned slot = e->slot[t.cum[s] + k];

					assert_true(slot < RANS_M);
					assert_int_equal(seen[slot], 0);
					seen[slot] = 1;
					assert_int_equal(d->slot[slot],
							 s | (uint32_t)t.freq[s] << 8 |
							 (uint32_t)k << 20);
				}
			}
		}
	}
	assert_true(with > 300);
	free(e);
	free(d);
}

static void
test_rans_known_answer_stream(void **state)
{
	/*
	 * Pins the bitstream: a fixed table and 40 symbols (one lane). The
	 * bytes were checked against an independent implementation of the
	 * description in rans.h. Layout: the u32 state, then the 16-bit
	 * words in decoding order, all little-endian.
	 */
	static const uint8_t seq[40] = {
		0, 1, 0, 0, 7, 255, 0, 1, 1, 0, 7, 0, 0, 255, 255, 0, 1, 7, 7,
		0, 0, 0, 1, 0, 255, 0, 7, 1, 0, 0, 1, 1, 0, 7, 0, 0, 0, 255,
		1, 0,
	};
	static const uint8_t expect[] = {
		0x36, 0x30, 0x6b, 0x01, 0xcf, 0xd0, 0xea, 0x1f, 0x61, 0xdb,
		0x00, 0x59,
	};
	/* multi-lane streams, pinned by size and XXH3-64 */
	static const struct {
		size_t n;
		size_t nbytes;
		uint64_t hash;
	} big[] = {
		{ 8192, 1740, 0xe41e4a6b20fe2b98ull },		/* 2 lanes */
		{ 131072, 27946, 0xb7ab880a3b38f6ecull },	/* 32 lanes */
	};
	struct rans_table t;
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t *buf = malloc(1 << 20), *syms = malloc(131072);
	uint8_t out[40];
	size_t m;

	(void)state;
	assert_non_null(d);
	assert_non_null(buf);
	assert_non_null(syms);
	memset(&t, 0, sizeof(t));
	t.nsym = 4;
	t.freq[0] = 2048;
	t.freq[1] = 1024;
	t.freq[7] = 768;
	t.freq[255] = 256;
	rans_table_finish(&t);
	layout_version = 1;	/* the cumulative layout */
	rans_dtable_build(&t, layout_version, d);
	m = rans_encode_scalar(etab(&t), seq, sizeof(seq), buf, 1 << 20);
	assert_int_equal(m, sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
	assert_int_equal(rans_decode_scalar(d, expect, sizeof(expect), out,
					    sizeof(out)), GAUSS_OK);
	assert_memory_equal(out, seq, sizeof(seq));

	for (unsigned i = 0; i < ARRAY_SIZE(big); i++) {
		uint64_t seed = 42;

		draw_symbols(&t, syms, big[i].n, &seed);
		m = rans_encode_scalar(etab(&t), syms, big[i].n, buf, 1 << 20);
		assert_int_equal(m, big[i].nbytes);
		assert_int_equal(XXH3_64bits(buf, m), big[i].hash);
	}
	layout_version = FMT_VERSION;
	free(syms);
	free(buf);
	free(d);
}

static void
test_rans_encode_cap_too_small(void **state)
{
	static const size_t sizes[] = { 1, 1000, 8192 };
	uint64_t counts[256];
	struct rans_table t;
	uint8_t *syms = malloc(8192);
	uint64_t seed = 3;

	(void)state;
	assert_non_null(syms);
	skewed_counts(counts);
	rans_table_normalize(counts, &t);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		const size_t n = sizes[i];
		size_t m;
		uint8_t *exact;

		draw_symbols(&t, syms, n, &seed);
		exact = encode_exact(&t, syms, n, &m);
		/* any smaller capacity: 0, and no write outside the buffer */
		for (size_t cap = 0; cap < m; cap++) {
			uint8_t *g;

			if (n > 1000 && cap > 16 && cap < m - 16)
				continue;
			g = guarded_alloc(cap);
			assert_non_null(g);
			assert_int_equal(rans_encode_scalar(etab(&t), syms, n, g,
							    cap), 0);
			guarded_free(g, cap);
		}
		guarded_free(exact, m);
	}
	free(syms);
}

static void
test_rans_decode_rejects_truncated(void **state)
{
	static const size_t sizes[] = { 1, 1000, 40000 };
	uint64_t counts[256];
	struct rans_table t;
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t *syms = malloc(40000);
	uint64_t seed = 17;

	(void)state;
	assert_non_null(d);
	assert_non_null(syms);
	skewed_counts(counts);
	rans_table_normalize(counts, &t);
	rans_dtable_build(&t, layout_version, d);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		const size_t n = sizes[i];
		uint8_t *out = guarded_alloc(n);
		size_t m;
		uint8_t *stream;

		assert_non_null(out);
		draw_symbols(&t, syms, n, &seed);
		stream = encode_exact(&t, syms, n, &m);
		for (size_t len = 0; len < m; len++) {
			/* the big stream: its head and its last 200 lengths */
			if (n > 1000 && len > 200 && len + 200 < m &&
			    len % 97 != 0)
				continue;
			assert_int_equal(decode_guarded(d, stream, len, out, n),
					 GAUSS_E_CORRUPT);
		}
		guarded_free(stream, m);
		guarded_free(out, n);
	}
	free(syms);
	free(d);
}

static void
test_rans_decode_rejects_trailing_bytes(void **state)
{
	static const size_t sizes[] = { 1, 1000, 40000 };
	static const size_t extra[] = { 1, 2, 3, 4, 64 };
	uint64_t counts[256];
	struct rans_table t;
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t *syms = malloc(40000);
	uint64_t seed = 23;

	(void)state;
	assert_non_null(d);
	assert_non_null(syms);
	skewed_counts(counts);
	rans_table_normalize(counts, &t);
	rans_dtable_build(&t, layout_version, d);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		const size_t n = sizes[i];
		uint8_t *out = guarded_alloc(n);
		uint8_t *longer;
		size_t m;
		uint8_t *stream;

		assert_non_null(out);
		draw_symbols(&t, syms, n, &seed);
		stream = encode_exact(&t, syms, n, &m);
		longer = malloc(m + 64);
		assert_non_null(longer);
		memcpy(longer, stream, m);
		for (unsigned j = 0; j < ARRAY_SIZE(extra); j++) {
			for (unsigned v = 0; v < 2; v++) {
				memset(longer + m, v ? 0xff : 0, 64);
				assert_int_equal(decode_guarded(d, longer,
								m + extra[j],
								out, n),
						 GAUSS_E_CORRUPT);
			}
		}
		/* the intact stream still decodes */
		assert_int_equal(decode_guarded(d, longer, m, out, n),
				 GAUSS_OK);
		assert_memory_equal(out, syms, n);
		free(longer);
		guarded_free(stream, m);
		guarded_free(out, n);
	}
	free(syms);
	free(d);
}

static void
test_rans_decode_flipped_bytes(void **state)
{
	static const size_t sizes[] = { 3000, 40000 };
	uint64_t counts[256];
	struct rans_table t;
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t *syms = malloc(40000);
	uint64_t seed = 29;

	(void)state;
	assert_non_null(d);
	assert_non_null(syms);
	skewed_counts(counts);
	rans_table_normalize(counts, &t);
	rans_dtable_build(&t, layout_version, d);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		const size_t n = sizes[i];
		uint8_t *out = guarded_alloc(n);
		size_t m, tries;
		uint8_t *stream;

		assert_non_null(out);
		draw_symbols(&t, syms, n, &seed);
		stream = encode_exact(&t, syms, n, &m);
		tries = n > 3000 ? 400 : m * 2;
		for (size_t k = 0; k < tries; k++) {
			const size_t pos = n > 3000 ? test_rand(&seed) % m :
						      k / 2;
			const uint8_t x = k % 2 ? (uint8_t)(1u << (k / 2 % 8)) :
				(uint8_t)(1 + test_rand(&seed) % 255);
			enum gauss_status st;

			stream[pos] ^= x;
			memset(out, 0, n);
			st = rans_decode_scalar(d, stream, m, out, n);
			stream[pos] ^= x;
			/*
			 * Decoding inverts encoding exactly, so a different
			 * stream can never give back the same symbols: it
			 * fails, or the chunk checksum sees other data.
			 */
			assert_true(st == GAUSS_E_CORRUPT ||
				    (st == GAUSS_OK &&
				     memcmp(out, syms, n) != 0));
		}
		guarded_free(stream, m);
		guarded_free(out, n);
	}
	free(syms);
	free(d);
}

static void
test_rans_decode_random_streams(void **state)
{
	uint64_t seed = 31;
	uint64_t counts[256];
	struct rans_table t;
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t *buf = malloc(4096);

	(void)state;
	assert_non_null(d);
	assert_non_null(buf);
	skewed_counts(counts);
	rans_table_normalize(counts, &t);
	rans_dtable_build(&t, layout_version, d);
	/* garbage of any length: a clean status, never a fault */
	for (unsigned iter = 0; iter < 2000; iter++) {
		const size_t len = test_rand(&seed) % 300;
		const size_t n = iter % 3 == 0 ?
				 8192 + test_rand(&seed) % 9000 :
				 test_rand(&seed) % 500;
		uint8_t *out = guarded_alloc(n);
		enum gauss_status st;

		assert_non_null(out);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)test_rand(&seed);
		st = decode_guarded(d, buf, len, out, n);
		assert_true(st == GAUSS_OK || st == GAUSS_E_CORRUPT);
		guarded_free(out, n);
	}
	free(buf);
	free(d);
}

static void
test_rans_decode_rejects_low_state(void **state)
{
	static const size_t sizes[] = { 100, 8192, 131072 };
	uint64_t counts[256];
	struct rans_table t;
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t *syms = malloc(131072);
	uint64_t seed = 37;

	(void)state;
	assert_non_null(d);
	assert_non_null(syms);
	skewed_counts(counts);
	rans_table_normalize(counts, &t);
	rans_dtable_build(&t, layout_version, d);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		const size_t n = sizes[i];
		const unsigned lanes = rans_lanes_unit(n, d->lane_unit);
		/* the first and the last lane */
		const unsigned step = lanes > 1 ? lanes - 1 : 1;
		uint8_t *out = guarded_alloc(n);
		size_t m;
		uint8_t *stream;

		assert_non_null(out);
		draw_symbols(&t, syms, n, &seed);
		stream = encode_exact(&t, syms, n, &m);
		/* a state just below RANS_L, or zero */
		for (unsigned k = 0; k < lanes; k += step) {
			uint8_t saved[4];

			memcpy(saved, stream + 4 * k, 4);
			memcpy(stream + 4 * k, "\xff\xff\x00\x00", 4);
			assert_int_equal(rans_decode_scalar(d, stream, m, out,
							    n),
					 GAUSS_E_CORRUPT);
			memset(stream + 4 * k, 0, 4);
			assert_int_equal(rans_decode_scalar(d, stream, m, out,
							    n),
					 GAUSS_E_CORRUPT);
			memcpy(stream + 4 * k, saved, 4);
		}
		assert_int_equal(rans_decode_scalar(d, stream, m, out, n),
				 GAUSS_OK);
		guarded_free(stream, m);
		guarded_free(out, n);
	}
	free(syms);
	free(d);
}

/* ---- fine tables (format version 7) ---- */

/*
 * The invariants of a normalised or parsed fine table: 15-bit precision,
 * frequencies summing to RANS_FINE_M, cum[] their running sum.
 */
static void
assert_fine_table_valid(const struct rans_table *t)
{
	assert_int_equal(t->scale_bits, RANS_FINE_BITS);
	assert_table_valid(t);
}

/*
 * Counts of a two-sided geometric bell over all 256 symbols, centred on c
 * with width w: the tails hold counts so small next to the centre that a
 * 15-bit table gives them frequency 1.
 */
static void
bell_counts_256(uint64_t counts[256], unsigned c, double w)
{
	for (unsigned s = 0; s < 256; s++)
		counts[s] = 1 + (uint64_t)(1e9 * exp(-fabs((double)s - c) / w));
}


/*
 * Fine normalisation: on counts of many shapes the frequencies sum to
 * 2^15, every counted symbol gets at least 1 and no other symbol any; the
 * table costs its counts no more than the 12-bit table of the same counts
 * (whose frequencies times 8 are a 15-bit table too); it serialises and
 * parses back at 15 bits to the same frequencies, every byte used.
 */
static void
test_rans_fine_normalize(void **state)
{
	uint64_t seed = 71;
	struct rans_table *t = malloc(sizeof(*t)), *back = malloc(sizeof(*t));
	struct rans_table *coarse = malloc(sizeof(*t));
	unsigned n12_refused = 0;

	(void)state;
	assert_non_null(t);
	assert_non_null(back);
	assert_non_null(coarse);
	for (unsigned iter = 0; iter < 1000; iter++) {
		uint64_t counts[256] = { 0 };
		uint8_t ser[RANS_TABLE_MAX_NBYTES];
		unsigned nsym = 0;
		size_t n, used;
		enum gauss_status st;

		for (unsigned s = 0; s < 256; s++) {
			switch (iter % 5) {
			case 0:		/* sparse, moderate */
				if (test_rand(&seed) % 8 == 0)
					counts[s] = test_rand(&seed) % 5000;
				break;
			case 1:		/* every symbol, counts up to 2^40 */
				counts[s] = 1 + (test_rand(&seed) >>
						 (24 + test_rand(&seed) % 40));
				break;
			case 2:		/* one dominant, the rest seen once */
				counts[s] = s == iter % 256 ?
					    (uint64_t)1 << 34 : 1;
				break;
			case 3:		/* fewer elements than RANS_FINE_M */
				if (test_rand(&seed) % 4 == 0)
					counts[s] = 1 + test_rand(&seed) % 30;
				break;
			default:	/* a bell whose tails round to 1 */
				break;
			}
		}
		if (iter % 5 == 4)
			bell_counts_256(counts, (unsigned)(iter % 256),
					1.0 + (double)(iter % 23));
		for (unsigned s = 0; s < 256; s++)
			nsym += counts[s] != 0;
		if (nsym == 0)
			counts[9] = nsym = 1;
		memset(t, 0xa5, sizeof(*t));
		rans_table_normalize_bits(counts, RANS_FINE_BITS, t);
		assert_fine_table_valid(t);
		assert_int_equal(t->nsym, nsym);
		assert_int_equal(t->lane_unit, 0);
		for (unsigned s = 0; s < 256; s++) {
			if (counts[s])
				assert_true(t->freq[s] >= 1);
			else
				assert_int_equal(t->freq[s], 0);
		}
		/*
		 * about as good as the coarse table for its own counts, or
		 * better: its listed frequencies keep 5 significant bits
		 * (a relative 1/32 at most off their share)
		 */
		rans_table_normalize_bits(counts, RANS_SCALE_BITS, coarse);
		assert_int_equal(coarse->scale_bits, RANS_SCALE_BITS);
		assert_true(rans_table_cost(t, counts) <=
			    rans_table_cost(coarse, counts) * 1.001 + 16);

		/* serialised and parsed back at 15 bits: the same table */
		n = rans_table_write(t, ser);
		assert_true(n >= 2 && n <= RANS_TABLE_MAX_NBYTES);
		memset(back, 0x5a, sizeof(*back));
		assert_int_equal(read_table_bits(ser, n, RANS_FINE_BITS, back,
						 &used), GAUSS_OK);
		assert_int_equal(used, n);
		assert_fine_table_valid(back);
		assert_int_equal(back->nsym, t->nsym);
		assert_memory_equal(back->freq, t->freq, sizeof(t->freq));
		assert_memory_equal(back->cum, t->cum, sizeof(t->cum));
		if (nsym < 2)
			continue;
		/*
		 * The same bytes as a 12-bit table: the listed frequencies
		 * may sum past 2^12 or be too long (refused), else the
		 * implied one comes out 2^15 - 2^12 smaller; never this table.
		 */
		st = read_table_bits(ser, n, RANS_SCALE_BITS, back, NULL);
		if (st == GAUSS_OK) {
			assert_int_equal(back->scale_bits, RANS_SCALE_BITS);
			assert_true(memcmp(back->freq, t->freq,
					   sizeof(t->freq)) != 0);
		} else {
			assert_int_equal(st, GAUSS_E_CORRUPT);
			n12_refused++;
		}
	}
	/* most of the shapes list more than 2^12 beside the implied symbol */
	assert_true(n12_refused > 500);
	free(coarse);
	free(back);
	free(t);
}

/*
 * Fine tables on worked cases: one symbol alone gets 2^15 (and reads back
 * so at 15 bits, with no stream bits to tell the precisions apart); two
 * equal counts split 2^15 in halves, 3:1 in quarters; a symbol seen once
 * beside 2^40 others gets 1; a listed frequency of 2^12 or more, or a
 * listed sum past 2^12, is refused as a 12-bit table.
 */
static void
test_rans_fine_normalize_known_answer(void **state)
{
	static const unsigned syms[] = { 0, 77, 255 };
	uint8_t ser[RANS_TABLE_MAX_NBYTES];
	struct rans_table t, back;
	size_t n, used;

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(syms); i++) {
		uint64_t counts[256] = { 0 };

		counts[syms[i]] = 1 + i * 1000000;
		rans_table_normalize_bits(counts, RANS_FINE_BITS, &t);
		assert_fine_table_valid(&t);
		assert_int_equal(t.nsym, 1);
		assert_int_equal(t.freq[syms[i]], RANS_FINE_M);
		n = rans_table_write(&t, ser);
		assert_int_equal(read_table_bits(ser, n, RANS_FINE_BITS, &back,
						 &used), GAUSS_OK);
		assert_int_equal(used, n);
		assert_int_equal(back.nsym, 1);
		assert_int_equal(back.freq[syms[i]], RANS_FINE_M);
		assert_int_equal(read_table_bits(ser, n, RANS_SCALE_BITS,
						 &back, NULL), GAUSS_OK);
		assert_int_equal(back.freq[syms[i]], RANS_M);
	}
	{
		uint64_t counts[256] = { [10] = 5, [200] = 5 };

		rans_table_normalize_bits(counts, RANS_FINE_BITS, &t);
		assert_int_equal(t.freq[10], 16384);
		assert_int_equal(t.freq[200], 16384);
		assert_int_equal(t.cum[200], 16384);
	}
	{
		uint64_t counts[256] = { [1] = 3, [2] = 1 };

		rans_table_normalize_bits(counts, RANS_FINE_BITS, &t);
		assert_int_equal(t.freq[1], 24576);
		assert_int_equal(t.freq[2], 8192);
		/* 8192 is listed: 14 bits, too long for a 12-bit table */
		n = rans_table_write(&t, ser);
		assert_int_equal(read_table_bits(ser, n, RANS_SCALE_BITS,
						 &back, NULL), GAUSS_E_CORRUPT);
	}
	{
		uint64_t counts[256] = { [0] = 1, [128] = (uint64_t)1 << 40 };

		rans_table_normalize_bits(counts, RANS_FINE_BITS, &t);
		assert_int_equal(t.freq[0], 1);
		assert_int_equal(t.freq[128], RANS_FINE_M - 1);
	}
	{
		/*
		 * 256 near-equal symbols: 255 listed of 112 to 144 each (5
		 * significant bits: multiples of 4), the implied one (255,
		 * the most counted) the rest
		 */
		uint64_t counts[256];
		unsigned rest = RANS_FINE_M;

		for (unsigned s = 0; s < 256; s++)
			counts[s] = 1000 + s;
		rans_table_normalize_bits(counts, RANS_FINE_BITS, &t);
		assert_fine_table_valid(&t);
		for (unsigned s = 0; s < 255; s++) {
			assert_true(t.freq[s] >= 112 && t.freq[s] <= 144);
			assert_int_equal(t.freq[s] % 4, 0);
			rest -= t.freq[s];
		}
		assert_int_equal(t.freq[255], rest);
		assert_true(rest >= 72 && rest <= 216);
		n = rans_table_write(&t, ser);
		assert_int_equal(read_table_bits(ser, n, RANS_FINE_BITS, &back,
						 &used), GAUSS_OK);
		assert_int_equal(used, n);
		assert_memory_equal(back.freq, t.freq, sizeof(t.freq));
		assert_int_equal(read_table_bits(ser, n, RANS_SCALE_BITS,
						 &back, NULL), GAUSS_E_CORRUPT);
	}
}

/* The fine decoder of level l, or NULL when this CPU lacks the level. */
static rans_decode_fn
fine_decoder(enum cpu_level l)
{
	const struct rans_kernels *k =
			rans_kernels_of((enum cpu_level)l);

	return k ? k->fine_decode : NULL;
}

/* Fills syms[n] from t's own (15-bit) distribution. */
static void
draw_fine(const struct rans_table *t, uint8_t *syms, size_t n,
	  uint64_t *seed)
{
	uint8_t *slot_sym = malloc(RANS_FINE_M);

	assert_non_null(slot_sym);
	for (unsigned s = 0; s < 256; s++)
		memset(slot_sym + t->cum[s], (int)s, t->freq[s]);
	for (size_t i = 0; i < n; i++)
		syms[i] = slot_sym[test_rand(seed) % RANS_FINE_M];
	/* and the symbols of frequency 1, spread over the chunk */
	for (unsigned s = 0, j = 0; s < 256; s++) {
		if (t->freq[s] != 1)
			continue;
		syms[(size_t)(test_rand(seed) % n)] = (uint8_t)s;
		j++;
	}
	free(slot_sym);
}

/*
 * rans_fine_encode() into a buffer of ample room, then again into one of
 * exactly the stream's size (same bytes, no write past it); every level's
 * fine encoder gives those bytes too. Returns the guarded stream.
 */
static uint8_t *
fine_encode_exact(const struct rans_etable *e, const uint8_t *syms, size_t n,
		  size_t *nbytes_ret)
{
	const size_t cap = 64 + 2 * n + 4 * RANS_MAX_LANES;
	uint8_t *tmp = malloc(cap);
	uint8_t *g;
	size_t m;

	assert_non_null(tmp);
	m = rans_fine_encode(e, syms, n, tmp, cap);
	assert_true(m >= 4 * rans_lanes_unit(n, e->lane_unit));
	assert_int_equal(m % 2, 0);
	g = guarded_alloc(m);
	assert_non_null(g);
	assert_int_equal(rans_fine_encode(e, syms, n, g, m), m);
	assert_memory_equal(g, tmp, m);
	for (unsigned l = 0; l < CPU_LEVEL_COUNT; l++) {
		const struct rans_kernels *k =
			rans_kernels_of((enum cpu_level)l);

		if (k == NULL)
			continue;
		memset(tmp, 0, cap);
		assert_int_equal(k->fine_encode(e, syms, n, tmp, cap), m);
		assert_memory_equal(tmp, g, m);
	}
	free(tmp);
	*nbytes_ret = m;
	return g;
}

/* dec() on a guarded copy of in[in_nbytes], into guarded out[n]. */
static enum gauss_status
fine_decode_guarded(rans_decode_fn dec, const struct rans_dtable *d,
		    const uint8_t *in, size_t in_nbytes, uint8_t *out_g,
		    size_t n)
{
	uint8_t *g = guarded_copy(in, in_nbytes);
	enum gauss_status st;

	st = dec(d, g, in_nbytes, out_g, n);
	guarded_free(g, in_nbytes);
	return st;
}

/* The fine tables of the tests: two bells and one dominant symbol. */
static void
fine_tables(struct rans_table t[3])
{
	uint64_t counts[256];

	bell_counts_256(counts, 128, 3.0);
	rans_table_normalize_bits(counts, RANS_FINE_BITS, &t[0]);
	bell_counts_256(counts, 40, 20.0);
	rans_table_normalize_bits(counts, RANS_FINE_BITS, &t[1]);
	/* one symbol nearly always, the 255 others at frequency 1 */
	for (unsigned s = 0; s < 256; s++)
		counts[s] = s == 200 ? (uint64_t)1 << 40 : 1;
	rans_table_normalize_bits(counts, RANS_FINE_BITS, &t[2]);
	for (unsigned i = 0; i < 3; i++) {
		unsigned ones = 0;

		assert_fine_table_valid(&t[i]);
		assert_int_equal(t[i].nsym, 256);
		for (unsigned s = 0; s < 256; s++)
			ones += t[i].freq[s] == 1;
		/* the rare symbols a 12-bit table would round up */
		assert_true(ones >= 80);
	}
	assert_int_equal(t[2].freq[200], RANS_FINE_M - 255);
}

/*
 * Fine tables code and decode back for every lane unit from 512 to 16384
 * and chunks of 1 to 200000 symbols (1, 16 and 32 lanes among them, for
 * the vector decoder's paths), all 256 symbols present, the rare ones at
 * frequency 1: the scalar decoder and the AVX-512 one (when the CPU has
 * it) give back the symbols; the stream is the lanes' states then the
 * words, within 0.1% of the table's ideal cost plus the states; a decoder
 * built for another lane unit does not take the stream.
 */
static void
test_rans_fine_round_trip(void **state)
{
	static const size_t sizes[] = { 1, 31, 32, 33, 1000, 65536 + 7,
					 200000 };
	const rans_decode_fn vec = fine_decoder(CPU_AVX512);
	struct rans_table t[3];
	struct rans_etable *e = malloc(sizeof(*e));
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	struct rans_dtable *other = aligned_alloc(64, sizeof(*other));
	uint8_t *syms = malloc(200000);
	uint64_t seed = 73;

	(void)state;
	assert_non_null(e);
	assert_non_null(d);
	assert_non_null(other);
	assert_non_null(syms);
	if (vec == NULL)
		print_message("no AVX-512: the scalar fine decoder only\n");
	fine_tables(t);
	for (unsigned i = 0; i < 3; i++) {
		for (unsigned u = RANS_LANE_UNIT_V4; u <= RANS_LANE_UNIT_MAX;
		     u *= 2) {
			t[i].lane_unit = u;
			rans_etable_build(&t[i], FMT_VERSION, e);
			rans_dtable_build(&t[i], FMT_VERSION, d);
			assert_int_equal(e->scale_bits, RANS_FINE_BITS);
			assert_int_equal(d->scale_bits, RANS_FINE_BITS);
			assert_int_equal(e->lane_unit, u);
			assert_int_equal(d->lane_unit, u);
			t[i].lane_unit = u == RANS_LANE_UNIT_MAX ?
					 RANS_LANE_UNIT_V4 : u * 2;
			rans_dtable_build(&t[i], FMT_VERSION, other);
			for (unsigned j = 0; j < ARRAY_SIZE(sizes); j++) {
				const size_t n = sizes[j];
				const unsigned lanes = rans_lanes_unit(n, u);
				uint8_t *out = guarded_alloc(n);
				uint64_t counts[256] = { 0 };
				uint8_t *stream;
				enum gauss_status st;
				size_t m;

				assert_non_null(out);
				draw_fine(&t[i], syms, n, &seed);
				stream = fine_encode_exact(e, syms, n, &m);
				for (unsigned k = 0; k < lanes; k++)
					assert_true(get_le32(stream + 4 * k) >=
						    RANS_L);
				for (size_t x = 0; x < n; x++)
					counts[syms[x]]++;
				assert_true((double)m <=
					    rans_table_cost(&t[i], counts) /
					    8 * 1.001 + 4.0 * lanes + 8);
				memset(out, 0xcc, n);
				assert_int_equal(fine_decode_guarded(
					rans_fine_decode, d, stream, m, out,
					n), GAUSS_OK);
				assert_memory_equal(out, syms, n);
				if (vec != NULL) {
					memset(out, 0xcc, n);
					assert_int_equal(fine_decode_guarded(
						vec, d, stream, m, out, n),
						GAUSS_OK);
					assert_memory_equal(out, syms, n);
				}
				/* the lanes of another unit: not this stream */
				if (rans_lanes_unit(n, other->lane_unit) !=
				    lanes) {
					st = fine_decode_guarded(
						rans_fine_decode, other,
						stream, m, out, n);
					assert_true(st == GAUSS_E_CORRUPT ||
						    memcmp(out, syms, n) != 0);
				}
				guarded_free(stream, m);
				guarded_free(out, n);
			}
		}
	}
	free(syms);
	free(other);
	free(d);
	free(e);
}

/*
 * The AVX-512 fine decoder gives the scalar one's verdict on damaged
 * streams, and the same symbols when both take one: single bytes changed
 * anywhere (states and words), every short length near both ends, bytes
 * added. The scalar decoder refuses every truncation and every extension,
 * and never takes a changed stream for the intact one's symbols.
 */
static void
test_rans_fine_damage_same_verdict(void **state)
{
	/* 1, 16 and 32 lanes, and 8 (scalar in both) */
	static const struct {
		size_t n;
		unsigned unit;
	} cases[] = {
		{ 3000, 2048 }, { 20000, 1024 }, { 40000, 512 },
		{ 70000, 4096 }, { 200000, 8192 }, { 200000, 16384 },
	};
	const rans_decode_fn vec = fine_decoder(CPU_AVX512);
	struct rans_table t[3];
	struct rans_etable *e = malloc(sizeof(*e));
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t *syms = malloc(200000), *out2 = malloc(200000);
	uint64_t seed = 79;

	(void)state;
	assert_non_null(e);
	assert_non_null(d);
	assert_non_null(syms);
	assert_non_null(out2);
	fine_tables(t);
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		const size_t n = cases[i].n;
		struct rans_table *tt = &t[i % 3];
		uint8_t *out = guarded_alloc(n), *stream, *longer;
		size_t m;

		assert_non_null(out);
		tt->lane_unit = cases[i].unit;
		rans_etable_build(tt, FMT_VERSION, e);
		rans_dtable_build(tt, FMT_VERSION, d);
		draw_fine(tt, syms, n, &seed);
		stream = fine_encode_exact(e, syms, n, &m);

		/* one byte changed: states, first words, anywhere */
		for (unsigned k = 0; k < 600; k++) {
			const size_t pos = k < 200 ? k % m :
					   test_rand(&seed) % m;
			const uint8_t x = k % 2 ? (uint8_t)(1u << (k / 2 % 8)) :
				(uint8_t)(1 + test_rand(&seed) % 255);
			enum gauss_status st, sv;

			stream[pos] ^= x;
			memset(out, 0, n);
			st = rans_fine_decode(d, stream, m, out, n);
			assert_true(st == GAUSS_E_CORRUPT ||
				    (st == GAUSS_OK &&
				     memcmp(out, syms, n) != 0));
			if (vec != NULL) {
				memset(out2, 0x55, n);
				sv = vec(d, stream, m, out2, n);
				assert_int_equal(sv, st);
				if (st == GAUSS_OK)
					assert_memory_equal(out2, out, n);
			}
			stream[pos] ^= x;
		}
		/* shorter: the head, the last 300 lengths, some between */
		for (size_t len = 0; len < m; len++) {
			enum gauss_status st;

			if (len > 300 && len + 300 < m && len % 101 != 0)
				continue;
			st = fine_decode_guarded(rans_fine_decode, d, stream,
						 len, out, n);
			assert_int_equal(st, GAUSS_E_CORRUPT);
			if (vec != NULL)
				assert_int_equal(fine_decode_guarded(vec, d,
						 stream, len, out, n), st);
		}
		/* longer: bytes left over */
		longer = malloc(m + 64);
		assert_non_null(longer);
		memcpy(longer, stream, m);
		memset(longer + m, 0, 64);
		for (size_t extra = 1; extra <= 64;
		     extra += extra < 4 ? 1 : 30) {
			assert_int_equal(fine_decode_guarded(rans_fine_decode,
							     d, longer,
							     m + extra, out,
							     n),
					 GAUSS_E_CORRUPT);
			if (vec != NULL)
				assert_int_equal(fine_decode_guarded(vec, d,
						 longer, m + extra, out, n),
						 GAUSS_E_CORRUPT);
		}
		/* the intact stream still decodes */
		assert_int_equal(fine_decode_guarded(rans_fine_decode, d,
						     stream, m, out, n),
				 GAUSS_OK);
		assert_memory_equal(out, syms, n);
		free(longer);
		guarded_free(stream, m);
		guarded_free(out, n);
	}
	free(out2);
	free(syms);
	free(d);
	free(e);
}

/*
 * A fine stream that does not fit in cap: rans_fine_encode() returns 0
 * and writes nothing outside out[cap], for every cap below the stream's
 * size (near both ends for the larger chunks), 0 and the states' size
 * among them.
 */
static void
test_rans_fine_encode_cap_too_small(void **state)
{
	static const size_t sizes[] = { 1, 1000, 40000 };
	struct rans_table t[3];
	struct rans_etable *e = malloc(sizeof(*e));
	uint8_t *syms = malloc(40000);
	uint64_t seed = 83;

	(void)state;
	assert_non_null(e);
	assert_non_null(syms);
	fine_tables(t);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		const size_t n = sizes[i];
		size_t m;
		uint8_t *exact;

		t[1].lane_unit = RANS_LANE_UNIT_V4;
		rans_etable_build(&t[1], FMT_VERSION, e);
		draw_fine(&t[1], syms, n, &seed);
		exact = fine_encode_exact(e, syms, n, &m);
		for (size_t cap = 0; cap < m; cap++) {
			uint8_t *g;

			if (n > 1000 && cap > 200 && cap + 64 < m)
				continue;
			g = guarded_alloc(cap);
			assert_non_null(g);
			assert_int_equal(rans_fine_encode(e, syms, n, g, cap),
					 0);
			guarded_free(g, cap);
		}
		guarded_free(exact, m);
	}
	free(syms);
	free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rans_normalize_sums_to_m),
		cmocka_unit_test(test_rans_normalize_single_symbol),
		cmocka_unit_test(test_rans_normalize_deterministic),
		cmocka_unit_test(test_rans_normalize_known_answer),
		cmocka_unit_test(test_rans_normalize_near_optimal),
		cmocka_unit_test(test_rans_table_round_trip_random),
		cmocka_unit_test(test_rans_table_round_trip_hand_made),
		cmocka_unit_test(test_rans_table_rejects_every_truncation),
		cmocka_unit_test(test_rans_table_rejects_corrupt),
		cmocka_unit_test(test_rans_table_random_bytes_never_crash),
		cmocka_unit_test(test_rans_lanes_boundaries),
		cmocka_unit_test(test_rans_round_trip_sizes),
		cmocka_unit_test(test_rans_round_trip_empty),
		cmocka_unit_test(test_rans_known_answer_stream),
		cmocka_unit_test(test_rans_alias_layout_known_answer),
		cmocka_unit_test(test_rans_alias_layout_fallback),
		cmocka_unit_test(test_rans_alias_layout_matches_rule),
		cmocka_unit_test(test_rans_encode_cap_too_small),
		cmocka_unit_test(test_rans_decode_rejects_truncated),
		cmocka_unit_test(test_rans_decode_rejects_trailing_bytes),
		cmocka_unit_test(test_rans_decode_flipped_bytes),
		cmocka_unit_test(test_rans_decode_random_streams),
		cmocka_unit_test(test_rans_decode_rejects_low_state),
		cmocka_unit_test(test_rans_fine_normalize),
		cmocka_unit_test(test_rans_fine_normalize_known_answer),
		cmocka_unit_test(test_rans_fine_round_trip),
		cmocka_unit_test(test_rans_fine_damage_same_verdict),
		cmocka_unit_test(test_rans_fine_encode_cap_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
