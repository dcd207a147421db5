/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rans.c: the rANS decoders on arbitrary tables and streams, through
 * every CPU level this machine runs. Input:
 *
 *   byte 0      flags: bit 0 format version (0: 1, 1: 2; with bit 3 set,
 *               4: version 2's layout, version 4's lane rule); bit 1 the
 *               table is serialised in the input (else counted from
 *               bytes); bit 2 encode symbols taken from the input first (a
 *               round trip) instead of decoding the rest as a stream;
 *               bit 4 a fine table (15 bits, version 7) with the lane
 *               unit 512 << min(bits 5-7, 5), coded by the levels'
 *               fine_encode and fine_decode
 *   bytes 1-3   n, the symbol count: the low 18 bits of these 24 (little-
 *               endian) shifted right by (byte 3 >> 2) % 16, so that
 *               most inputs are short and some have 32 lanes
 *   then        the table: a serialised table (rans_table_read), or one
 *               length byte L and L + 1 bytes whose histogram is
 *               normalised (rans_table_normalize)
 *   rest        the stream (or, with bit 2, the symbols to encode)
 *
 * Every level must give the same verdict and, on success, the same
 * symbols; decode_bf16 must agree with decode merged by hand, and the
 * pair decoder with decode_bf16 on each of its two streams; and a stream
 * that decodes must be exactly what the encoder writes for those symbols,
 * since a second stream for the same symbols would be damage that no
 * checksum sees.
 */
#include <string.h>

#include "fuzz.h"
#include "cpu.h"
#include "rans.h"
#include "banned.h"

struct levels {
	const struct rans_kernels *k[CPU_LEVEL_COUNT];
	unsigned count;
};

static void
levels_get(struct levels *l)
{
	l->count = 0;
	for (unsigned v = 0; v < CPU_LEVEL_COUNT; v++)
		if (cpu_level_available((enum cpu_level)v))
			l->k[l->count++] = rans_kernels_of((enum cpu_level)v);
	FUZZ_CHECK(l->count > 0 && l->k[0]->level == CPU_SCALAR);
}

/* A table read back from its serialisation is the same table. */
static void
check_table(const struct rans_table *t)
{
	uint8_t buf[RANS_TABLE_MAX_NBYTES];
	struct rans_table back;
	struct cursor c;
	unsigned sum = 0, nsym = 0;
	size_t nbytes;

	for (unsigned s = 0; s < 256; s++) {
		FUZZ_CHECK(t->cum[s] == sum);
		sum += t->freq[s];
		nsym += t->freq[s] != 0;
	}
	FUZZ_CHECK(sum == 1u << t->scale_bits && nsym == t->nsym);
	nbytes = rans_table_write(t, buf);
	FUZZ_CHECK(nbytes >= 2 && nbytes <= RANS_TABLE_MAX_NBYTES);
	cursor_init(&c, buf, nbytes);
	FUZZ_CHECK(rans_table_read_bits(&c, t->scale_bits, &back, NULL) ==
		   GAUSS_OK);
	FUZZ_CHECK(cursor_left(&c) == 0);
	FUZZ_CHECK(memcmp(back.freq, t->freq, sizeof(t->freq)) == 0);
}

/* The sign and mantissa byte of element i in the bf16 checks. */
static uint8_t
raw_byte(size_t i)
{
	return (uint8_t)(i * 0x9d + 0x31);
}

/*
 * Decodes with every level, compares them, and on success checks the
 * bf16 fusion and that the encoder writes the same stream back.
 */
static void
decode_all(const struct levels *l, const struct rans_table *t,
	   unsigned version, const uint8_t *in, size_t in_nbytes, size_t n)
{
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	struct rans_etable *e = malloc(sizeof(*e));
	uint8_t *ref = malloc(n + 1);
	uint8_t *syms = malloc(n + 1);
	uint8_t *raw = malloc(n + 1);
	uint8_t *bf = malloc(2 * n + 1);
	uint8_t *bf2a = malloc(2 * n + 1), *bf2b = malloc(2 * n + 1);
	uint8_t *bf2c = malloc(2 * n + 1);
	uint8_t *enc = malloc(in_nbytes + 64);
	enum gauss_status ref_st = GAUSS_OK;

	FUZZ_CHECK(d && e && ref && syms && raw && bf && enc && bf2a && bf2b &&
		   bf2c);
	rans_dtable_build(t, version, d);
	FUZZ_CHECK(d->nsym == t->nsym);
	for (size_t i = 0; i < n; i++)
		raw[i] = raw_byte(i);
	for (unsigned v = 0; v < l->count; v++) {
		const enum gauss_status st = l->k[v]->decode(d, in, in_nbytes,
							     syms, n);
		const enum gauss_status st16 =
			l->k[v]->decode_bf16(d, in, in_nbytes, raw, bf, n);

		FUZZ_CHECK(st == GAUSS_OK || st == GAUSS_E_CORRUPT);
		FUZZ_CHECK(st16 == st);
		{
			/* the pair decoder: this stream beside a cut copy */
			const uint8_t *const in2[2] = { in, in };
			const size_t nb2[2] = { in_nbytes,
						in_nbytes ? in_nbytes - 1 : 0 };
			const uint8_t *const raw2[2] = { raw, raw };
			uint8_t *const bf2[2] = { bf2a, bf2b };
			enum gauss_status st2[2];

			l->k[v]->decode_bf16_pair(d, in2, nb2, raw2, bf2, n,
						  st2);
			FUZZ_CHECK(st2[0] == st16);
			FUZZ_CHECK(st2[1] == l->k[v]->decode_bf16(d, in,
								   nb2[1], raw,
								   bf2c, n));
			if (st16 == GAUSS_OK)
				FUZZ_CHECK(memcmp(bf2a, bf, 2 * n) == 0);
			if (st2[1] == GAUSS_OK)
				FUZZ_CHECK(memcmp(bf2b, bf2c, 2 * n) == 0);
		}
		if (v == 0) {
			ref_st = st;
			memcpy(ref, syms, n);
		} else {
			FUZZ_CHECK(st == ref_st);
			if (st == GAUSS_OK)
				FUZZ_CHECK(memcmp(ref, syms, n) == 0);
		}
		if (st != GAUSS_OK)
			continue;
		for (size_t i = 0; i < n; i++) {
			const uint16_t want = (uint16_t)(
				(raw[i] & 0x80u) << 8 | (unsigned)syms[i] << 7 |
				(raw[i] & 0x7fu));

			FUZZ_CHECK(get_le16(bf + 2 * i) == want);
			FUZZ_CHECK(t->freq[syms[i]] != 0);
		}
	}
	if (ref_st == GAUSS_OK) {
		rans_etable_build(t, version, e);
		FUZZ_CHECK(e->alias == d->alias);
		for (unsigned v = 0; v < l->count; v++) {
			const size_t got = l->k[v]->encode(e, ref, n, enc,
							   in_nbytes + 64);

			FUZZ_CHECK(got == in_nbytes);
			FUZZ_CHECK(memcmp(enc, in, in_nbytes) == 0);
		}
	}
	free(d);
	free(e);
	free(ref);
	free(syms);
	free(raw);
	free(bf);
	free(bf2a);
	free(bf2b);
	free(bf2c);
	free(enc);
}

/* Encodes symbols drawn from the input at every level, then decodes. */
static void
round_trip(const struct levels *l, const struct rans_table *t,
	   unsigned version, const uint8_t *in, size_t in_nbytes, size_t n)
{
	struct rans_etable *e = malloc(sizeof(*e));
	uint8_t *syms = malloc(n + 1);
	const size_t cap = 4 * RANS_MAX_LANES + 2 * n + 16;
	uint8_t *ref = malloc(cap);
	uint8_t *out = malloc(cap);
	uint8_t list[256];
	unsigned nlist = 0;
	size_t ref_nbytes = 0;

	FUZZ_CHECK(e && syms && ref && out);
	for (unsigned s = 0; s < 256; s++)
		if (t->freq[s])
			list[nlist++] = (uint8_t)s;
	/* the input's bytes, cycled, pick among the table's symbols */
	for (size_t i = 0; i < n; i++)
		syms[i] = in_nbytes ? list[in[i % in_nbytes] % nlist] :
				      list[i % nlist];
	rans_etable_build(t, version, e);
	for (unsigned v = 0; v < l->count; v++) {
		const size_t got = l->k[v]->encode(e, syms, n, out, cap);

		/* 16 bits per symbol at most, plus the states */
		FUZZ_CHECK(got >= 4 * rans_lanes_unit(n, e->lane_unit) &&
			   got <= cap);
		if (v == 0) {
			ref_nbytes = got;
			memcpy(ref, out, got);
		} else {
			FUZZ_CHECK(got == ref_nbytes);
			FUZZ_CHECK(memcmp(ref, out, got) == 0);
		}
	}
	/*
	 * The exact size must fit and one byte less must not, at every
	 * level: chunk_encode() stores a chunk whose stream misses its cap,
	 * so levels that disagree here would write different files.
	 */
	for (unsigned v = 0; v < l->count; v++) {
		uint8_t *const tight = malloc(ref_nbytes);

		FUZZ_CHECK(tight != NULL);
		FUZZ_CHECK(l->k[v]->encode(e, syms, n, tight, ref_nbytes) ==
			   ref_nbytes);
		FUZZ_CHECK(memcmp(ref, tight, ref_nbytes) == 0);
		FUZZ_CHECK(l->k[v]->encode(e, syms, n, tight,
					   ref_nbytes - 1) == 0);
		free(tight);
	}
	{
		struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
		uint8_t *back = malloc(n + 1);
		uint8_t *exact = malloc(ref_nbytes);

		FUZZ_CHECK(d && back && exact);
		/* an exact-size copy, so that a read past it is caught */
		memcpy(exact, ref, ref_nbytes);
		rans_dtable_build(t, version, d);
		for (unsigned v = 0; v < l->count; v++) {
			FUZZ_CHECK(l->k[v]->decode(d, exact, ref_nbytes, back,
						   n) == GAUSS_OK);
			FUZZ_CHECK(memcmp(back, syms, n) == 0);
		}
		decode_all(l, t, version, exact, ref_nbytes, n);
		free(d);
		free(back);
		free(exact);
	}
	free(e);
	free(syms);
	free(ref);
	free(out);
}

/*
 * A fine table: every level decodes the stream in to the same verdict and
 * symbols, and a stream that decodes is what every level's encoder
 * writes; with encode, symbols drawn from in are coded at every level (the
 * same bytes, the exact size fitting and one byte less not) and decoded
 * back.
 */
static void
fine_all(const struct levels *l, const struct rans_table *t,
	 const uint8_t *in, size_t in_nbytes, size_t n, bool encode)
{
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	struct rans_etable *e = malloc(sizeof(*e));
	const size_t cap = 4 * RANS_MAX_LANES + 2 * n + 16;
	uint8_t *syms = malloc(n + 1), *ref = malloc(n + 1);
	uint8_t *stream = malloc(MAX(cap, in_nbytes) + 1);
	uint8_t *enc = malloc(MAX(cap, in_nbytes) + 64);
	enum gauss_status ref_st = GAUSS_OK;
	size_t nbytes = in_nbytes;

	FUZZ_CHECK(d && e && syms && ref && stream && enc);
	rans_etable_build(t, 7, e);
	rans_dtable_build(t, 7, d);
	if (encode) {
		uint8_t list[256];
		unsigned nlist = 0;

		for (unsigned s = 0; s < 256; s++)
			if (t->freq[s])
				list[nlist++] = (uint8_t)s;
		for (size_t i = 0; i < n; i++)
			ref[i] = in_nbytes ? list[in[i % in_nbytes] % nlist] :
					     list[i % nlist];
		nbytes = l->k[0]->fine_encode(e, ref, n, stream, cap);
		FUZZ_CHECK(nbytes >= 4 * rans_lanes_unit(n, e->lane_unit));
		for (unsigned v = 0; v < l->count; v++) {
			FUZZ_CHECK(l->k[v]->fine_encode(e, ref, n, enc,
							nbytes) == nbytes);
			FUZZ_CHECK(memcmp(enc, stream, nbytes) == 0);
			FUZZ_CHECK(l->k[v]->fine_encode(e, ref, n, enc,
							nbytes - 1) == 0);
		}
	} else {
		memcpy(stream, in, in_nbytes);
	}
	for (unsigned v = 0; v < l->count; v++) {
		const enum gauss_status st = l->k[v]->fine_decode(d, stream,
								  nbytes,
								  syms, n);

		FUZZ_CHECK(st == GAUSS_OK || st == GAUSS_E_CORRUPT);
		if (v == 0 && !encode) {
			ref_st = st;
			memcpy(ref, syms, n);
			continue;
		}
		FUZZ_CHECK(st == ref_st);
		if (st == GAUSS_OK)
			FUZZ_CHECK(memcmp(ref, syms, n) == 0);
	}
	if (ref_st == GAUSS_OK)
		for (unsigned v = 0; v < l->count; v++) {
			FUZZ_CHECK(l->k[v]->fine_encode(e, ref, n, enc,
							nbytes + 64) == nbytes);
			FUZZ_CHECK(memcmp(enc, stream, nbytes) == 0);
		}
	free(d);
	free(e);
	free(syms);
	free(ref);
	free(stream);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct levels l;
	struct rans_table t;
	unsigned version;
	size_t n, pos = 4;
	uint8_t flags;

	if (size < 5)
		return 0;
	levels_get(&l);
	flags = data[0];
	version = (flags & 1) ? ((flags & 8) ? 4 : 2) : 1;
	n = ((size_t)data[1] | (size_t)data[2] << 8 |
	     (size_t)(data[3] & 3) << 16) >> ((data[3] >> 2) % 16);
	if (flags & 2) {
		struct cursor c;

		cursor_init(&c, data + pos, size - pos);
		if (rans_table_read_bits(&c, flags & 16 ? RANS_FINE_BITS :
						       RANS_SCALE_BITS,
					 &t, NULL) != GAUSS_OK)
			return 0;
		pos = size - cursor_left(&c);
	} else {
		uint64_t counts[256] = { 0 };
		const size_t len = (size_t)data[pos] + 1;

		pos++;
		if (size - pos < len)
			return 0;
		for (size_t i = 0; i < len; i++)
			counts[data[pos + i]]++;
		pos += len;
		rans_table_normalize_bits(counts, flags & 16 ? RANS_FINE_BITS :
							       RANS_SCALE_BITS,
					  &t);
	}
	check_table(&t);
	if (t.nsym < 2)
		return 0;	/* no stream: chunk_decode fills the symbol */
	if (flags & 16) {
		t.lane_unit = RANS_LANE_UNIT_V4 << MIN(flags >> 5, 5);
		fine_all(&l, &t, data + pos, size - pos,
			 flags & 4 ? MIN(n, (size_t)1 << 16) : n, flags & 4);
		return 0;
	}
	if (flags & 4) {
		/* each symbol costs up to 16 bits: keep the work small */
		round_trip(&l, &t, version, data + pos, size - pos,
			   MIN(n, (size_t)1 << 16));
	} else {
		/* an exact-size copy of the stream */
		uint8_t *in = malloc(size - pos + 1);

		FUZZ_CHECK(in != NULL);
		memcpy(in, data + pos, size - pos);
		decode_all(&l, &t, version, in, size - pos, n);
		free(in);
	}
	return 0;
}
