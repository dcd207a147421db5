/* SPDX-License-Identifier: MIT */
/*
 * test_format.c: the fixed parts of the container (file header, footer,
 * index) and chunk records: round trips, the exact header bytes, rejection
 * of every single-byte change, legacy and future versions, footers and
 * indexes that do not describe the file, and chunk encode/parse/decode with
 * stored fallback and checksums. Parser inputs sit against a guard page, so
 * a read past their end faults.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "test_util.h"
#include "chunk.h"
#include "common.h"
#include "cpu.h"
#include "endian.h"
#include "format.h"
#include "rans.h"
#include "split.h"
#include "banned.h"

/* fmt_header_read() on exactly n guarded bytes; checks the message. */
static enum gauss_status
header_read(const uint8_t *p, size_t n, struct fmt_header *h)
{
	uint8_t *g = guarded_copy(p, n);
	struct errbuf eb = { { 0 } };
	enum gauss_status st = fmt_header_read(g, n, h, &eb);

	if (st != GAUSS_OK)
		assert_true(eb.text[0] != '\0');
	guarded_free(g, n);
	return st;
}

/* fmt_footer_read() on a guarded copy of a footer. */
static enum gauss_status
footer_read(const uint8_t *p, uint64_t file_nbytes, struct fmt_footer *f)
{
	uint8_t *g = guarded_copy(p, FMT_FOOTER_NBYTES);
	struct errbuf eb = { { 0 } };
	enum gauss_status st = fmt_footer_read(g, file_nbytes, f, &eb);

	if (st != GAUSS_OK)
		assert_true(eb.text[0] != '\0');
	guarded_free(g, FMT_FOOTER_NBYTES);
	return st;
}

/* fmt_index_parse() on exactly n guarded bytes. */
static enum gauss_status
index_parse(const uint8_t *p, size_t n, const struct fmt_footer *f,
	    struct fmt_index *idx)
{
	uint8_t *g = guarded_copy(p, n);
	struct errbuf eb = { { 0 } };
	enum gauss_status st = fmt_index_parse(g, n, f, FMT_VERSION, idx,
					       &eb);

	if (st != GAUSS_OK) {
		assert_true(eb.text[0] != '\0');
		/* nothing is left allocated after a failure */
		assert_null(idx->segments);
		assert_int_equal(idx->count, 0);
	}
	guarded_free(g, n);
	return st;
}

/* ---- file header ---- */

static void
test_format_header_round_trip(void **state)
{
	(void)state;
	for (unsigned c = FMT_CHUNK_LOG2_MIN; c <= FMT_CHUNK_LOG2_MAX; c++) {
		for (unsigned b = c; b <= FMT_BLOCK_LOG2_MAX; b++) {
			const struct fmt_header h = {
				.version = FMT_VERSION,
				.chunk_log2 = c,
				.block_log2 = b,
			};
			struct fmt_header back;
			uint8_t out[FMT_HEADER_NBYTES + 1];

			memset(&back, 0, sizeof(back));
			out[FMT_HEADER_NBYTES] = 0xee;
			fmt_header_write(&h, out);
			assert_int_equal(out[FMT_HEADER_NBYTES], 0xee);
			assert_int_equal(header_read(out, FMT_HEADER_NBYTES,
						     &back), GAUSS_OK);
			assert_int_equal(back.version, FMT_VERSION);
			assert_int_equal(back.chunk_log2, c);
			assert_int_equal(back.block_log2, b);
			/* bytes after the header are not its business */
			assert_int_equal(header_read(out, FMT_HEADER_NBYTES + 1,
						     &back), GAUSS_OK);
		}
	}
}

static void
test_format_header_exact_bytes(void **state)
{
	const struct fmt_header h = {
		.version = FMT_VERSION, .chunk_log2 = 19, .block_log2 = 24,
	};
	uint8_t out[FMT_HEADER_NBYTES];

	(void)state;
	fmt_header_write(&h, out);
	/* gauss(5): magic, u16 version, chunk and block log2, 8 reserved */
	assert_memory_equal(out, "\x89GSZ\r\n\x1a\n", 8);
	assert_int_equal(out[8], 7);
	assert_int_equal(out[9], 0);
	assert_int_equal(out[10], 19);
	assert_int_equal(out[11], 24);
	for (unsigned i = 12; i < 20; i++)
		assert_int_equal(out[i], 0);
	/* the check field: low 32 bits of XXH3-64 of bytes 0..19 */
	assert_int_equal(get_le32(out + 20), (uint32_t)XXH3_64bits(out, 20));
}

static void
test_format_header_every_byte_change_rejected(void **state)
{
	const struct fmt_header h = {
		.version = FMT_VERSION, .chunk_log2 = 16, .block_log2 = 20,
	};
	uint8_t good[FMT_HEADER_NBYTES];
	uint8_t *g = guarded_alloc(FMT_HEADER_NBYTES);

	(void)state;
	assert_non_null(g);
	fmt_header_write(&h, good);
	for (unsigned i = 0; i < FMT_HEADER_NBYTES; i++) {
		for (unsigned x = 1; x < 256; x++) {
			struct fmt_header back;
			enum gauss_status st;

			memcpy(g, good, FMT_HEADER_NBYTES);
			g[i] ^= (uint8_t)x;
			/* the check field is read before the version */
			st = fmt_header_read(g, FMT_HEADER_NBYTES, &back, NULL);
			assert_int_equal(st, GAUSS_E_CORRUPT);
		}
	}
	guarded_free(g, FMT_HEADER_NBYTES);
}

static void
test_format_header_truncated(void **state)
{
	const struct fmt_header h = {
		.version = FMT_VERSION, .chunk_log2 = 12, .block_log2 = 12,
	};
	uint8_t good[FMT_HEADER_NBYTES];

	(void)state;
	fmt_header_write(&h, good);
	for (size_t len = 0; len < FMT_HEADER_NBYTES; len++) {
		struct fmt_header back;

		assert_int_equal(header_read(good, len, &back),
				 GAUSS_E_CORRUPT);
	}
}

static void
test_format_header_legacy_magic(void **state)
{
	static const char *const magic[] = {
		"GAUSS001", "GAUSS002", "GAUSS003", "GAUSS004",
	};
	uint8_t buf[64];

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(magic); i++) {
		static const size_t lens[] = { 8, FMT_HEADER_NBYTES, 64 };

		memset(buf, 0, sizeof(buf));
		memcpy(buf, magic[i], 8);
		for (unsigned j = 0; j < ARRAY_SIZE(lens); j++) {
			uint8_t *g = guarded_copy(buf, lens[j]);
			struct errbuf eb = { { 0 } };
			struct fmt_header back;

			assert_int_equal(fmt_header_read(g, lens[j], &back,
							 &eb),
					 GAUSS_E_UNSUPPORTED_VERSION);
			assert_non_null(strstr(eb.text, "Python"));
			assert_non_null(strstr(eb.text, magic[i]));
			guarded_free(g, lens[j]);
		}
	}
}

static void
test_format_header_legacy_prefix_short(void **state)
{
	struct fmt_header back;
	enum gauss_status st;

	(void)state;
	/*
	 * Seven bytes of a legacy magic: whatever the verdict, the message
	 * must not read an eighth byte (the buffer ends at a guard page).
	 */
	st = header_read((const uint8_t *)"GAUSS00", 7, &back);
	assert_true(st == GAUSS_E_UNSUPPORTED_VERSION ||
		    st == GAUSS_E_CORRUPT);
}

static void
test_format_header_other_versions(void **state)
{
	static const unsigned versions[] = { 0, 8, 0x100, 0xffff };
	uint8_t out[FMT_HEADER_NBYTES];

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(versions); i++) {
		const struct fmt_header h = {
			.version = versions[i], .chunk_log2 = 19,
			.block_log2 = 24,
		};
		struct fmt_header back;

		fmt_header_write(&h, out);	/* a valid check field */
		assert_int_equal(header_read(out, sizeof(out), &back),
				 GAUSS_E_UNSUPPORTED_VERSION);
	}
}

static void
test_format_header_invalid_sizes(void **state)
{
	static const struct {
		unsigned chunk_log2, block_log2;
	} bad[] = {
		{ 0, 0 }, { 11, 20 }, { 27, 30 }, { 20, 19 }, { 12, 35 },
		{ 26, 25 }, { 255, 255 },
	};
	uint8_t out[FMT_HEADER_NBYTES];

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		const struct fmt_header h = {
			.version = FMT_VERSION,
			.chunk_log2 = bad[i].chunk_log2,
			.block_log2 = bad[i].block_log2,
		};
		struct fmt_header back;

		fmt_header_write(&h, out);
		assert_int_equal(header_read(out, sizeof(out), &back),
				 GAUSS_E_CORRUPT);
	}
}

static void
test_format_header_reserved_nonzero(void **state)
{
	const struct fmt_header h = {
		.version = FMT_VERSION, .chunk_log2 = 19, .block_log2 = 24,
	};
	uint8_t out[FMT_HEADER_NBYTES];

	(void)state;
	for (unsigned i = 12; i < 20; i++) {
		struct fmt_header back;

		fmt_header_write(&h, out);
		out[i] = 0x01;
		/* the check field matches: only the reserved byte is wrong */
		put_le32(out + 20, (uint32_t)XXH3_64bits(out, 20));
		assert_int_equal(header_read(out, sizeof(out), &back),
				 GAUSS_E_CORRUPT);
	}
}

/* ---- footer ---- */

static void
sample_footer(struct fmt_footer *f)
{
	memset(f, 0, sizeof(*f));
	f->index_offset = 12345;
	f->index_nbytes = 77;
	f->original_nbytes = 999999;
	for (unsigned i = 0; i < 16; i++)
		f->original_hash[i] = (uint8_t)(0xf0 + i);
	f->index_hash = 0x0123456789abcdefull;
}

static void
test_format_footer_round_trip(void **state)
{
	struct fmt_footer f, back;
	uint8_t out[FMT_FOOTER_NBYTES];
	const uint64_t file_nbytes = 12345 + 77 + FMT_FOOTER_NBYTES;

	(void)state;
	sample_footer(&f);
	fmt_footer_write(&f, out);
	assert_memory_equal(out + 56, "GSZ-END\n", 8);
	assert_int_equal(get_le64(out), f.index_offset);
	assert_int_equal(get_le64(out + 8), f.index_nbytes);
	assert_int_equal(get_le64(out + 16), f.original_nbytes);
	assert_int_equal(get_le64(out + 48), XXH3_64bits(out, 48));
	memset(&back, 0, sizeof(back));
	assert_int_equal(footer_read(out, file_nbytes, &back), GAUSS_OK);
	assert_int_equal(back.index_offset, f.index_offset);
	assert_int_equal(back.index_nbytes, f.index_nbytes);
	assert_int_equal(back.original_nbytes, f.original_nbytes);
	assert_memory_equal(back.original_hash, f.original_hash, 16);
	assert_int_equal(back.index_hash, f.index_hash);

	/* the smallest file: header, END frame, empty index... */
	f.index_offset = FMT_HEADER_NBYTES + 1;
	f.index_nbytes = 1;
	f.original_nbytes = 0;
	fmt_footer_write(&f, out);
	assert_int_equal(footer_read(out, FMT_HEADER_NBYTES + 1 + 1 +
				     FMT_FOOTER_NBYTES, &back), GAUSS_OK);
}

static void
test_format_footer_every_byte_change_rejected(void **state)
{
	struct fmt_footer f, back;
	uint8_t good[FMT_FOOTER_NBYTES];
	uint8_t *g = guarded_alloc(FMT_FOOTER_NBYTES);
	const uint64_t file_nbytes = 12345 + 77 + FMT_FOOTER_NBYTES;

	(void)state;
	assert_non_null(g);
	sample_footer(&f);
	fmt_footer_write(&f, good);
	for (unsigned i = 0; i < FMT_FOOTER_NBYTES; i++) {
		for (unsigned x = 1; x < 256; x++) {
			memcpy(g, good, FMT_FOOTER_NBYTES);
			g[i] ^= (uint8_t)x;
			assert_int_equal(fmt_footer_read(g, file_nbytes, &back,
							 NULL),
					 GAUSS_E_CORRUPT);
		}
	}
	guarded_free(g, FMT_FOOTER_NBYTES);
}

static void
test_format_footer_outside_file(void **state)
{
	static const struct {
		uint64_t index_offset, index_nbytes, file_nbytes;
	} bad[] = {
		{ 0, 36, 100 },			/* inside the header */
		{ FMT_HEADER_NBYTES, 12, 100 },	/* no room for END */
		{ 30, 5, 100 },			/* a gap before the footer */
		{ 30, 7, 100 },			/* overlaps the footer */
		{ 101, 0, 100 },		/* past the end */
		{ UINT64_MAX, 0, 100 },
		{ 30, UINT64_MAX, 100 },
		{ 25, 0, 60 },			/* shorter than a footer */
		/* index_offset + index_nbytes + 64 wraps to the file size */
		{ 100, UINT64_MAX - 63, 100 },
		{ 37, UINT64_MAX, 100 },
		{ 90, UINT64_MAX - 53, 100 },
	};
	struct fmt_footer f, back;
	uint8_t out[FMT_FOOTER_NBYTES];

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		sample_footer(&f);
		f.index_offset = bad[i].index_offset;
		f.index_nbytes = bad[i].index_nbytes;
		fmt_footer_write(&f, out);	/* checks out: only sizes lie */
		assert_int_equal(footer_read(out, bad[i].file_nbytes, &back),
				 GAUSS_E_CORRUPT);
	}
	/* the control: the same footer where the sizes agree */
	sample_footer(&f);
	f.index_offset = 30;
	f.index_nbytes = 6;
	fmt_footer_write(&f, out);
	assert_int_equal(footer_read(out, 100, &back), GAUSS_OK);
}

/* ---- index ---- */

struct seg_spec {
	unsigned kind;
	uint64_t original_nbytes;
	uint64_t frame_nbytes;
};

/*
 * Serialises an index of n segments into out; fills a footer whose sizes
 * agree with it (frames from the header on, then the END byte).
 */
static size_t
make_index(const struct seg_spec *segs, size_t n, uint8_t *out,
	   struct fmt_footer *f)
{
	size_t pos = varint_put(out, n);
	uint64_t orig = 0, frame = FMT_HEADER_NBYTES;

	for (size_t i = 0; i < n; i++) {
		out[pos++] = (uint8_t)segs[i].kind;
		pos += varint_put(out + pos, segs[i].original_nbytes);
		pos += varint_put(out + pos, segs[i].frame_nbytes);
		orig += segs[i].original_nbytes;
		frame += segs[i].frame_nbytes;
	}
	memset(f, 0, sizeof(*f));
	f->index_offset = frame + 1;
	f->index_nbytes = pos;
	f->original_nbytes = orig;
	return pos;
}

static const struct seg_spec three[] = {
	{ FMT_KIND_STORED, 100, 110 },
	{ FMT_KIND_EXP_BF16, 1000, 600 },
	{ FMT_KIND_BYTES, 5, 20 },
};

static void
test_format_index_valid(void **state)
{
	static const struct seg_spec all_kinds[] = {
		{ FMT_KIND_STORED, 1, 2 },
		{ FMT_KIND_BYTES, 300, 200 },
		{ FMT_KIND_EXP_BF16, (uint64_t)1 << 40, (uint64_t)1 << 39 },
		{ FMT_KIND_EXP_F16, 2, 12 },
		{ FMT_KIND_EXP_F32, 4, 14 },
	};
	uint8_t buf[256];
	struct fmt_footer f;
	struct fmt_index idx;
	size_t n;

	(void)state;
	n = make_index(three, ARRAY_SIZE(three), buf, &f);
	assert_int_equal(index_parse(buf, n, &f, &idx), GAUSS_OK);
	assert_int_equal(idx.count, 3);
	assert_int_equal(idx.segments[0].kind, FMT_KIND_STORED);
	assert_int_equal(idx.segments[1].kind, FMT_KIND_EXP_BF16);
	assert_int_equal(idx.segments[2].kind, FMT_KIND_BYTES);
	assert_int_equal(idx.segments[0].original_offset, 0);
	assert_int_equal(idx.segments[1].original_offset, 100);
	assert_int_equal(idx.segments[2].original_offset, 1100);
	assert_int_equal(idx.segments[2].original_nbytes, 5);
	assert_int_equal(idx.segments[0].frame_offset, FMT_HEADER_NBYTES);
	assert_int_equal(idx.segments[1].frame_offset, FMT_HEADER_NBYTES + 110);
	assert_int_equal(idx.segments[2].frame_offset, FMT_HEADER_NBYTES + 710);
	assert_int_equal(idx.segments[2].frame_nbytes, 20);
	fmt_index_free(&idx);
	assert_null(idx.segments);
	fmt_index_free(&idx);	/* twice is harmless */
	fmt_index_free(NULL);

	n = make_index(all_kinds, ARRAY_SIZE(all_kinds), buf, &f);
	assert_int_equal(index_parse(buf, n, &f, &idx), GAUSS_OK);
	assert_int_equal(idx.count, ARRAY_SIZE(all_kinds));
	for (unsigned i = 0; i < ARRAY_SIZE(all_kinds); i++)
		assert_int_equal(idx.segments[i].kind, all_kinds[i].kind);
	fmt_index_free(&idx);

	/* an empty original: no segments at all */
	n = make_index(NULL, 0, buf, &f);
	assert_int_equal(n, 1);
	assert_int_equal(index_parse(buf, n, &f, &idx), GAUSS_OK);
	assert_int_equal(idx.count, 0);
	fmt_index_free(&idx);
}

static void
test_format_index_truncated(void **state)
{
	uint8_t buf[256];
	struct fmt_footer f;
	struct fmt_index idx;
	const size_t n = make_index(three, ARRAY_SIZE(three), buf, &f);

	(void)state;
	for (size_t len = 0; len < n; len++)
		assert_int_equal(index_parse(buf, len, &f, &idx),
				 GAUSS_E_CORRUPT);
	/* and one byte too many */
	buf[n] = 0;
	assert_int_equal(index_parse(buf, n + 1, &f, &idx), GAUSS_E_CORRUPT);
}

static void
test_format_index_count_too_large(void **state)
{
	static const uint64_t counts[] = {
		UINT64_MAX, (uint64_t)1 << 62, (uint64_t)1 << 32, 1u << 20,
		4,	/* one more than 11 bytes of 3-byte entries */
	};
	uint8_t buf[64];
	struct fmt_footer f;
	struct fmt_index idx;
	size_t n = make_index(three, ARRAY_SIZE(three), buf, &f);

	(void)state;
	/* the three entries take 11 bytes after the count */
	assert_int_equal(n, 1 + 11);
	for (unsigned i = 0; i < ARRAY_SIZE(counts); i++) {
		uint8_t bad[64];
		const size_t h = varint_put(bad, counts[i]);

		memcpy(bad + h, buf + 1, n - 1);
		/* rejected as corrupt, not as out of memory */
		assert_int_equal(index_parse(bad, h + n - 1, &f, &idx),
				 GAUSS_E_CORRUPT);
	}
}

static void
test_format_index_does_not_cover_original(void **state)
{
	uint8_t buf[256];
	struct fmt_footer f, g;
	struct fmt_index idx;
	const size_t n = make_index(three, ARRAY_SIZE(three), buf, &f);
	static const struct seg_spec huge[] = {
		{ FMT_KIND_STORED, (uint64_t)1 << 63, 10 },
		{ FMT_KIND_STORED, (uint64_t)1 << 63, 10 },
	};

	(void)state;
	/* segments short of the original size */
	g = f;
	g.original_nbytes++;
	assert_int_equal(index_parse(buf, n, &g, &idx), GAUSS_E_CORRUPT);
	/* segments beyond it */
	g = f;
	g.original_nbytes--;
	assert_int_equal(index_parse(buf, n, &g, &idx), GAUSS_E_CORRUPT);
	g.original_nbytes = 0;
	assert_int_equal(index_parse(buf, n, &g, &idx), GAUSS_E_CORRUPT);
	/* sizes whose sum wraps around 2^64 */
	make_index(huge, 2, buf, &g);
	g.original_nbytes = UINT64_MAX;
	assert_int_equal(index_parse(buf, 1 + 2 * 12, &g, &idx),
			 GAUSS_E_CORRUPT);
	g.original_nbytes = 0;
	assert_int_equal(index_parse(buf, 1 + 2 * 12, &g, &idx),
			 GAUSS_E_CORRUPT);
}

static void
test_format_index_frames_end_before_index(void **state)
{
	uint8_t buf[256];
	struct fmt_footer f, g;
	struct fmt_index idx;
	const size_t n = make_index(three, ARRAY_SIZE(three), buf, &f);

	(void)state;
	assert_int_equal(index_parse(buf, n, &f, &idx), GAUSS_OK);
	fmt_index_free(&idx);
	/* frames end at index_offset - 1 (the END byte), not elsewhere */
	for (int d = -3; d <= 3; d++) {
		if (d == 0)
			continue;
		g = f;
		g.index_offset = (uint64_t)((int64_t)f.index_offset + d);
		assert_int_equal(index_parse(buf, n, &g, &idx),
				 GAUSS_E_CORRUPT);
	}
}

static void
test_format_index_invalid_entries(void **state)
{
	static const struct seg_spec bad[][2] = {
		{ { 5, 10, 10 }, { FMT_KIND_STORED, 1, 2 } },	/* kind */
		{ { FMT_KIND_END, 10, 10 }, { FMT_KIND_STORED, 1, 2 } },
		{ { FMT_KIND_STORED, 0, 10 }, { FMT_KIND_STORED, 1, 2 } },
		{ { FMT_KIND_STORED, 10, 1 }, { FMT_KIND_STORED, 1, 2 } },
		{ { FMT_KIND_STORED, 10, 0 }, { FMT_KIND_STORED, 1, 2 } },
		{ { FMT_KIND_STORED, 1, 2 }, { 0x80, 1, 2 } },
	};
	uint8_t buf[256];
	struct fmt_footer f;
	struct fmt_index idx;

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		const size_t n = make_index(bad[i], 2, buf, &f);

		assert_int_equal(index_parse(buf, n, &f, &idx),
				 GAUSS_E_CORRUPT);
	}
}

/* ---- chunk records ---- */

/* A chunk's data of kind: exponents from a bell, random sign/mantissa. */
static void
make_data(enum fmt_kind kind, uint8_t *p, size_t nbytes, uint64_t *seed)
{
	const unsigned esz = split_elem_nbytes(kind);

	for (size_t i = 0; i + esz <= nbytes; i += esz) {
		const uint64_t r = test_rand(seed);
		const unsigned bell = (unsigned)((r & 3) + ((r >> 2) & 3) +
						 ((r >> 4) & 1));

		switch (kind) {
		case FMT_KIND_EXP_BF16:
			put_le16(p + i, (uint16_t)((r >> 32 & 0x807f) |
						   (118 + bell) << 7));
			break;
		case FMT_KIND_EXP_F16:
			put_le16(p + i, (uint16_t)((r >> 32 & 0x83ff) |
						   (8 + bell) << 10));
			break;
		case FMT_KIND_EXP_F32:
			put_le32(p + i, (uint32_t)((r >> 32 & 0x807fffff) |
						   (118u + bell) << 23));
			break;
		default:
			p[i] = (uint8_t)(bell * 3);
			break;
		}
	}
}

/*
 * A block table: normalised counts of the symbols of src, plus those of
 * extra (when not NULL) weighted 16 times; the decoder's view comes
 * through the serialised form, as a reader gets it.
 */
static void
chunk_table(enum fmt_kind kind, const uint8_t *src, const uint8_t *extra,
	    size_t nbytes, struct rans_table *t, struct rans_dtable *d)
{
	const size_t n_elem = nbytes / split_elem_nbytes(kind);
	uint64_t counts[256] = { 0 }, more[256] = { 0 };
	uint8_t ser[RANS_TABLE_MAX_NBYTES];
	struct cursor c;
	struct rans_table back;
	size_t n;

	memset(t, 0, sizeof(*t));
	split_count(kind, src, n_elem, counts);
	if (extra != NULL) {
		split_count(kind, extra, n_elem, more);
		for (unsigned sym = 0; sym < 256; sym++)
			counts[sym] += 16 * more[sym];
	}
	counts[0] += nbytes == 0;
	rans_table_normalize(counts, t);
	n = rans_table_write(t, ser);
	cursor_init(&c, ser, n);
	assert_int_equal(rans_table_read(&c, &back, NULL), GAUSS_OK);
	rans_dtable_build(&back, FMT_VERSION, d);
}

/* The encoder view of t, as the compressor builds it (one at a time). */
static const struct rans_etable *
etab(const struct rans_table *t)
{
	static struct rans_etable e;

	rans_etable_build(t, FMT_VERSION, &e);
	return &e;
}

/*
 * Encodes nbytes at src as one record of kind (under a table of src and
 * extra, see chunk_table()), parses it from a guarded buffer of exactly its
 * size, decodes it into a guarded buffer and compares. Returns the record
 * size; *stored_ret says how it was kept.
 */
static size_t
chunk_round_trip(enum fmt_kind kind, const uint8_t *src, const uint8_t *extra,
		 size_t nbytes, struct chunk_scratch *s, bool *stored_ret)
{
	struct rans_table t;
	struct rans_dtable *d = aligned_alloc(64, sizeof(*d));
	uint8_t *rec = malloc(chunk_record_bound(nbytes) + 1);
	uint8_t *g, *dst;
	const uint8_t *payload;
	size_t rec_nbytes, payload_nbytes;
	uint64_t checksum;
	struct cursor c;
	struct errbuf eb = { { 0 } };

	assert_non_null(d);
	assert_non_null(rec);
	chunk_table(kind, src, extra, nbytes, &t, d);
	rec[chunk_record_bound(nbytes)] = 0xee;
	rec_nbytes = chunk_encode(kind, etab(&t), src, nbytes, rec, s);
	assert_true(rec_nbytes <= chunk_record_bound(nbytes));
	assert_int_equal(rec[chunk_record_bound(nbytes)], 0xee);

	g = guarded_copy(rec, rec_nbytes);
	cursor_init(&c, g, rec_nbytes);
	assert_int_equal(chunk_parse(&c, nbytes, &payload, &payload_nbytes,
				     stored_ret, &checksum, &eb), GAUSS_OK);
	assert_int_equal(cursor_left(&c), 0);
	assert_int_equal(checksum, XXH3_64bits(src, nbytes));
	if (*stored_ret) {
		assert_int_equal(payload_nbytes, nbytes);
		assert_memory_equal(payload, src, nbytes);
	} else {
		assert_true(payload_nbytes < nbytes);
	}
	dst = guarded_alloc(nbytes);
	assert_non_null(dst);
	memset(dst, 0x77, nbytes);
	assert_int_equal(chunk_decode(kind, d, payload, payload_nbytes,
				      *stored_ret, checksum, dst, nbytes, s,
				      &eb), GAUSS_OK);
	assert_memory_equal(dst, src, nbytes);
	guarded_free(dst, nbytes);
	guarded_free(g, rec_nbytes);
	free(rec);
	free(d);
	return rec_nbytes;
}

static const enum fmt_kind coded_kinds[] = {
	FMT_KIND_BYTES, FMT_KIND_EXP_BF16, FMT_KIND_EXP_F16, FMT_KIND_EXP_F32,
};

static void
test_format_chunk_round_trip(void **state)
{
	static const size_t sizes[] = {
		4, 8, 64, 4096, 4100, 65536, (size_t)1 << 19,
	};
	struct chunk_scratch s;
	uint8_t *src = malloc((size_t)1 << 19);
	uint64_t seed = 5;

	(void)state;
	assert_non_null(src);
	assert_int_equal(chunk_scratch_init(&s, (size_t)1 << 19), GAUSS_OK);
	for (unsigned k = 0; k < ARRAY_SIZE(coded_kinds); k++) {
		for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
			const size_t nbytes = sizes[i];
			size_t rec;
			bool stored;

			make_data(coded_kinds[k], src, nbytes, &seed);
			rec = chunk_round_trip(coded_kinds[k], src, NULL,
					       nbytes, &s, &stored);
			/* skewed exponents: coding pays from a few KiB on */
			if (nbytes >= 4096) {
				assert_false(stored);
				assert_true(rec < nbytes);
			}
		}
	}
	/* the stored kind keeps the bytes as they are */
	make_data(FMT_KIND_BYTES, src, 4096, &seed);
	{
		bool stored;

		assert_int_equal(chunk_round_trip(FMT_KIND_STORED, src, NULL,
						  4096, &s, &stored),
				 varint_len(4096 << 1 | 1) + 4096 + 8);
		assert_true(stored);
	}
	chunk_scratch_free(&s);
	chunk_scratch_free(&s);	/* twice is harmless */
	free(src);
}

static void
test_format_chunk_one_symbol(void **state)
{
	struct chunk_scratch s;
	uint8_t *src = malloc(8192);
	uint64_t seed = 6;

	(void)state;
	assert_non_null(src);
	assert_int_equal(chunk_scratch_init(&s, 8192), GAUSS_OK);
	for (unsigned k = 0; k < ARRAY_SIZE(coded_kinds); k++) {
		const enum fmt_kind kind = coded_kinds[k];
		const size_t n = 8192 / split_elem_nbytes(kind);
		const size_t raw = split_raw_nbytes(kind, n);
		bool stored;
		size_t rec;

		/* one exponent, random signs and mantissas */
		for (size_t i = 0; i < n; i++) {
			const uint32_t r = (uint32_t)test_rand(&seed);

			if (kind == FMT_KIND_EXP_BF16)
				put_le16(src + 2 * i,
					 (uint16_t)((r & 0x807f) | 0x3f00));
			else if (kind == FMT_KIND_EXP_F16)
				put_le16(src + 2 * i,
					 (uint16_t)((r & 0x83ff) | 0x3c00));
			else if (kind == FMT_KIND_EXP_F32)
				put_le32(src + 4 * i,
					 (r & 0x807fffff) | 0x3f800000);
			else
				src[i] = 0x42;
		}
		rec = chunk_round_trip(kind, src, NULL, 8192, &s, &stored);
		/* no stream: the record is the raw plane and its framing */
		assert_false(stored);
		assert_int_equal(rec, varint_len(raw << 1) + raw + 8);
	}
	chunk_scratch_free(&s);
	free(src);
}

static void
test_format_chunk_stored_fallback(void **state)
{
	static const size_t sizes[] = { 4, 12, 4096, 65536 };
	struct chunk_scratch s;
	uint8_t *src = malloc(65536), *skewed = malloc(65536);
	uint64_t seed = 7;

	(void)state;
	assert_non_null(src);
	assert_non_null(skewed);
	assert_int_equal(chunk_scratch_init(&s, 65536), GAUSS_OK);
	for (unsigned k = 0; k < ARRAY_SIZE(coded_kinds); k++) {
		for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
			const size_t nbytes = sizes[i];
			bool stored;
			size_t rec;

			/*
			 * Random bytes in a block of well-behaved values:
			 * under the block's table they only grow, so the
			 * chunk is stored.
			 */
			for (size_t j = 0; j < nbytes; j++)
				src[j] = (uint8_t)test_rand(&seed);
			make_data(coded_kinds[k], skewed, nbytes, &seed);
			rec = chunk_round_trip(coded_kinds[k], src, skewed,
					       nbytes, &s, &stored);
			assert_true(stored);
			assert_int_equal(rec, varint_len(nbytes << 1 | 1) +
						      nbytes + 8);
		}
	}
	chunk_scratch_free(&s);
	free(skewed);
	free(src);
}

/* An encoded chunk of kind, for the damage tests. */
struct enc_chunk {
	uint8_t src[4096];
	uint8_t rec[4096 + 32];
	size_t rec_nbytes;
	struct rans_dtable d;
};

/*
 * Encodes 4096 bytes of well-behaved values of kind, or random bytes
 * (stored) in a block of such values; returns whether it was stored.
 */
static bool
enc_chunk_make(struct enc_chunk *e, enum fmt_kind kind, bool random,
	       struct chunk_scratch *s)
{
	uint8_t *skewed = malloc(sizeof(e->src));
	struct rans_table t;
	struct cursor c;
	uint64_t seed = 8, head;

	assert_non_null(skewed);
	make_data(kind, skewed, sizeof(e->src), &seed);
	if (random) {
		for (size_t j = 0; j < sizeof(e->src); j++)
			e->src[j] = (uint8_t)test_rand(&seed);
		chunk_table(kind, e->src, skewed, sizeof(e->src), &t, &e->d);
	} else {
		memcpy(e->src, skewed, sizeof(e->src));
		chunk_table(kind, e->src, NULL, sizeof(e->src), &t, &e->d);
	}
	free(skewed);
	e->rec_nbytes = chunk_encode(kind, etab(&t), e->src, sizeof(e->src), e->rec,
				     s);
	cursor_init(&c, e->rec, e->rec_nbytes);
	assert_true(cursor_varint(&c, &head));
	return head & 1;
}

/*
 * Guarded areas for the damage tests, set up once for the group: a record
 * or an output of n bytes is placed at the last n bytes of one.
 */
#define AREA_NBYTES 8192
static uint8_t *rec_area, *dst_area;

static int
setup(void **state)
{
	(void)state;
	rec_area = guarded_alloc(AREA_NBYTES);
	dst_area = guarded_alloc(AREA_NBYTES);
	return rec_area && dst_area ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	guarded_free(rec_area, AREA_NBYTES);
	guarded_free(dst_area, AREA_NBYTES);
	return 0;
}

/* A copy of n bytes at p that ends at the guard page of rec_area. */
static uint8_t *
rec_place(const uint8_t *p, size_t n)
{
	uint8_t *g = rec_area + AREA_NBYTES - n;

	assert_true(n <= AREA_NBYTES);
	if (n)
		memcpy(g, p, n);
	return g;
}

/* chunk_parse() alone on exactly rec_nbytes guarded bytes. */
static enum gauss_status
parse_only(const uint8_t *rec, size_t rec_nbytes, size_t nbytes)
{
	uint8_t *g = rec_place(rec, rec_nbytes);
	const uint8_t *payload;
	size_t payload_nbytes;
	uint64_t checksum;
	bool stored;
	struct cursor c;
	enum gauss_status st;

	cursor_init(&c, g, rec_nbytes);
	st = chunk_parse(&c, nbytes, &payload, &payload_nbytes, &stored,
			 &checksum, NULL);
	return st;
}

/* Parses and decodes a record of exactly rec_nbytes guarded bytes. */
static enum gauss_status
parse_decode(const struct enc_chunk *e, enum fmt_kind kind,
	     const uint8_t *rec, size_t rec_nbytes, size_t nbytes,
	     struct chunk_scratch *s)
{
	uint8_t *g = rec_place(rec, rec_nbytes);
	uint8_t *dst = dst_area + AREA_NBYTES - nbytes;
	struct errbuf eb = { { 0 } };
	const uint8_t *payload;
	size_t payload_nbytes;
	uint64_t checksum;
	bool stored;
	struct cursor c;
	enum gauss_status st;

	assert_true(nbytes <= AREA_NBYTES);
	cursor_init(&c, g, rec_nbytes);
	st = chunk_parse(&c, nbytes, &payload, &payload_nbytes, &stored,
			 &checksum, &eb);
	if (st == GAUSS_OK)
		st = chunk_decode(kind, &e->d, payload, payload_nbytes, stored,
				  checksum, dst, nbytes, s, &eb);
	if (st != GAUSS_OK)
		assert_true(eb.text[0] != '\0');
	return st;
}

static void
test_format_chunk_checksum_mismatch(void **state)
{
	struct chunk_scratch s;
	struct enc_chunk *e = aligned_alloc(64, sizeof(*e));

	(void)state;
	assert_non_null(e);
	assert_int_equal(chunk_scratch_init(&s, 4096), GAUSS_OK);
	for (unsigned k = 0; k < ARRAY_SIZE(coded_kinds); k++) {
		for (unsigned random = 0; random < 2; random++) {
			const enum fmt_kind kind = coded_kinds[k];
			const size_t raw = split_raw_nbytes(kind,
				4096 / split_elem_nbytes(kind));
			const bool stored = enc_chunk_make(e, kind, random, &s);

			assert_true(stored == (random != 0));
			assert_int_equal(parse_decode(e, kind, e->rec,
						      e->rec_nbytes, 4096, &s),
					 GAUSS_OK);
			/* each byte of the stored checksum */
			for (size_t i = e->rec_nbytes - 8; i < e->rec_nbytes;
			     i++) {
				e->rec[i] ^= 0x01;
				assert_int_equal(parse_decode(e, kind, e->rec,
							      e->rec_nbytes,
							      4096, &s),
						 GAUSS_E_CHECKSUM);
				e->rec[i] ^= 0x01;
			}
			/*
			 * A stored byte, or a byte of the raw plane (the end
			 * of a coded payload): the payload still decodes, to
			 * other data.
			 */
			if (!stored && raw == 0)
				continue;
			e->rec[e->rec_nbytes - 9 - (stored ? 2000 : raw / 2)] ^=
				0x10;
			assert_int_equal(parse_decode(e, kind, e->rec,
						      e->rec_nbytes, 4096, &s),
					 GAUSS_E_CHECKSUM);
		}
	}
	chunk_scratch_free(&s);
	free(e);
}

static void
test_format_chunk_damage_never_passes(void **state)
{
	struct chunk_scratch s;
	struct enc_chunk *e = aligned_alloc(64, sizeof(*e));

	(void)state;
	assert_non_null(e);
	assert_int_equal(chunk_scratch_init(&s, 4096), GAUSS_OK);
	for (unsigned k = 0; k < ARRAY_SIZE(coded_kinds); k++) {
		const enum fmt_kind kind = coded_kinds[k];

		assert_false(enc_chunk_make(e, kind, false, &s));
		/* every byte, two ways: a clean failure each time */
		for (size_t i = 0; i < e->rec_nbytes; i++) {
			for (unsigned x = 0x01; x <= 0x80; x <<= 7) {
				enum gauss_status st;

				e->rec[i] ^= (uint8_t)x;
				st = parse_decode(e, kind, e->rec,
						  e->rec_nbytes, 4096, &s);
				e->rec[i] ^= (uint8_t)x;
				assert_true(st == GAUSS_E_CORRUPT ||
					    st == GAUSS_E_CHECKSUM);
			}
		}
		/* every truncation */
		for (size_t len = 0; len < e->rec_nbytes; len++)
			assert_int_equal(parse_decode(e, kind, e->rec, len,
						      4096, &s),
					 GAUSS_E_CORRUPT);
	}
	chunk_scratch_free(&s);
	free(e);
}

static void
test_format_chunk_rejects_bad_lengths(void **state)
{
	struct chunk_scratch s;
	struct enc_chunk *e = aligned_alloc(64, sizeof(*e));
	uint8_t rec[4096 + 64];
	size_t n;

	(void)state;
	assert_non_null(e);
	assert_int_equal(chunk_scratch_init(&s, 4096), GAUSS_OK);
	enc_chunk_make(e, FMT_KIND_EXP_BF16, false, &s);
	memset(rec, 0, sizeof(rec));

	/* the control: a coded payload of the chunk's size parses */
	n = varint_put(rec, (uint64_t)4096 << 1);
	assert_int_equal(parse_only(rec, n + 4096 + 8, 4096), GAUSS_OK);
	/*
	 * A coded payload longer than the chunk's original bytes: refused
	 * by the parser already, even with the bytes present.
	 */
	for (uint64_t len = 4097; len <= 4100; len++) {
		n = varint_put(rec, len << 1);
		assert_int_equal(parse_only(rec, n + len + 8, 4096),
				 GAUSS_E_CORRUPT);
		assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec,
					      n + len + 8, 4096, &s),
				 GAUSS_E_CORRUPT);
	}
	n = varint_put(rec, UINT64_MAX);
	assert_int_equal(parse_only(rec, n + 64, 4096), GAUSS_E_CORRUPT);
	/* a stored payload of any other size than the chunk's */
	n = varint_put(rec, (uint64_t)4095 << 1 | 1);
	assert_int_equal(parse_only(rec, n + 4095 + 8, 4096), GAUSS_E_CORRUPT);
	n = varint_put(rec, (uint64_t)4097 << 1 | 1);
	assert_int_equal(parse_only(rec, n + 4097 + 8, 4096), GAUSS_E_CORRUPT);
	n = varint_put(rec, (uint64_t)4096 << 1 | 1);
	assert_int_equal(parse_only(rec, n + 4096 + 8, 4096), GAUSS_OK);
	/* a coded payload shorter than its raw plane (2048 bytes) */
	n = varint_put(rec, (uint64_t)2047 << 1);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec,
				      n + 2047 + 8, 4096, &s),
			 GAUSS_E_CORRUPT);
	/* an overlong header varint */
	memcpy(rec, "\x80\x80\x00", 3);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec, 3 + 8, 4096,
				      &s), GAUSS_E_CORRUPT);
	/* a coded chunk of a kind whose elements do not divide it */
	enc_chunk_make(e, FMT_KIND_EXP_F32, false, &s);
	n = varint_put(rec, (uint64_t)3000 << 1);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_F32, rec, n + 3000 + 8,
				      4094, &s), GAUSS_E_CORRUPT);
	/* a STORED-kind chunk must carry the stored flag */
	n = varint_put(rec, (uint64_t)4096 << 1);
	assert_int_equal(parse_decode(e, FMT_KIND_STORED, rec, n + 4096 + 8,
				      4096, &s), GAUSS_E_CORRUPT);
	chunk_scratch_free(&s);
	free(e);
}

static void
test_format_chunk_one_symbol_stream_rejected(void **state)
{
	struct chunk_scratch s;
	struct enc_chunk *e = aligned_alloc(64, sizeof(*e));
	uint64_t counts[256] = { [0x7e] = 1 };
	struct rans_table t;
	uint8_t rec[4096 + 64];
	size_t n;

	(void)state;
	assert_non_null(e);
	assert_int_equal(chunk_scratch_init(&s, 4096), GAUSS_OK);
	rans_table_normalize(counts, &t);
	rans_dtable_build(&t, FMT_VERSION, &e->d);
	memset(rec, 0, sizeof(rec));
	/* raw plane (2048 bytes) plus 4 bytes that would be a stream */
	n = varint_put(rec, (uint64_t)(2048 + 4) << 1);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec,
				      n + 2048 + 4 + 8, 4096, &s),
			 GAUSS_E_CORRUPT);
	chunk_scratch_free(&s);
	free(e);
}

/*
 * Zero runs (version 5): a chunk of a block with FMT_BLOCK_ZRUNS starts
 * with its run list. Valid lists decode to zeros in place, the other
 * elements after them; lists that overrun the chunk, claim too many runs,
 * end early or leave stray bytes are refused.
 */
static size_t
zr_record(uint8_t *rec, const uint8_t *payload, size_t payload_nbytes,
	  const uint8_t *want, size_t nbytes)
{
	size_t n = varint_put(rec, (uint64_t)payload_nbytes << 1);

	memcpy(rec + n, payload, payload_nbytes);
	n += payload_nbytes;
	put_le64(rec + n, XXH3_64bits(want, nbytes));
	return n + 8;
}

/* Writes the run list of one run, gap and len elements; returns its size. */
static size_t
zr_list1(uint8_t *pay, uint64_t gap, uint64_t len)
{
	size_t n = varint_put(pay, 1);

	n += varint_put(pay + n, gap);
	return n + varint_put(pay + n, len - FMT_ZRUN_MIN);
}

static void
test_format_chunk_zero_runs(void **state)
{
	enum { NB = 4096, N = NB / 2 };
	struct chunk_scratch s;
	struct enc_chunk *e = aligned_alloc(64, sizeof(*e));
	uint64_t counts[256] = { [0x7e] = 1 };
	struct rans_table t;
	uint8_t pay[NB], rec[NB + 64], want[NB];
	uint8_t *const dst = dst_area + AREA_NBYTES - NB;
	size_t n, m;

	(void)state;
	assert_non_null(e);
	assert_int_equal(chunk_scratch_init(&s, NB), GAUSS_OK);
	rans_table_normalize(counts, &t);
	t.whole.flags = FMT_BLOCK_ZRUNS;
	rans_dtable_build(&t, FMT_VERSION, &e->d);

	/* every element in one run: the list is the whole payload */
	memset(want, 0, NB);
	n = zr_list1(pay, 0, N);
	m = zr_record(rec, pay, n, want, NB);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec, m, NB, &s),
			 GAUSS_OK);
	assert_memory_equal(dst, want, NB);
	/* the same with a stray byte after the list */
	pay[n] = 0;
	m = zr_record(rec, pay, n + 1, want, NB);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec, m, NB, &s),
			 GAUSS_E_CORRUPT);

	/*
	 * Runs [100, 132) and [2000, 2048), the other 1968 elements coded
	 * under the one-symbol table: their raw plane alone.
	 */
	n = varint_put(pay, 2);
	n += varint_put(pay + n, 100);
	n += varint_put(pay + n, 32 - FMT_ZRUN_MIN);
	n += varint_put(pay + n, 2000 - 132);
	n += varint_put(pay + n, 48 - FMT_ZRUN_MIN);
	for (size_t i = 0, k = 0; i < N; i++) {
		const bool zero = (i >= 100 && i < 132) || i >= 2000;
		const uint8_t raw = (uint8_t)(i * 7 + 1);

		put_le16(want + 2 * i, zero ? 0 :
			 (uint16_t)((raw & 0x80) << 8 | 0x7e << 7 |
				    (raw & 0x7f)));
		if (!zero)
			pay[n + k++] = raw;
	}
	m = zr_record(rec, pay, n + (N - 32 - 48), want, NB);
	memset(dst, 0x55, NB);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec, m, NB, &s),
			 GAUSS_OK);
	assert_memory_equal(dst, want, NB);

	/* a run past the end of the chunk */
	n = zr_list1(pay, 10, N);
	m = zr_record(rec, pay, n, want, NB);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec, m, NB, &s),
			 GAUSS_E_CORRUPT);
	/* a gap that leaves less than a run's minimum */
	n = zr_list1(pay, N - FMT_ZRUN_MIN + 1, FMT_ZRUN_MIN);
	m = zr_record(rec, pay, n, want, NB);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec, m, NB, &s),
			 GAUSS_E_CORRUPT);
	/* more runs than the chunk can hold, and a list cut short */
	n = varint_put(pay, N / FMT_ZRUN_MIN + 1);
	m = zr_record(rec, pay, n, want, NB);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec, m, NB, &s),
			 GAUSS_E_CORRUPT);
	n = varint_put(pay, 2);
	n += varint_put(pay + n, 0);
	n += varint_put(pay + n, 0);
	m = zr_record(rec, pay, n, want, NB);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec, m, NB, &s),
			 GAUSS_E_CORRUPT);

	/* the flags byte: read back, an unknown bit refused */
	{
		uint8_t tab[CHUNK_TABLE_MAX_NBYTES];
		const size_t tn = chunk_table_write(FMT_KIND_EXP_BF16, &t,
						    tab);
		struct rans_table back;
		struct cursor c;

		cursor_init(&c, tab, tn);
		assert_int_equal(chunk_table_read(FMT_KIND_EXP_BF16,
						  FMT_VERSION, &c, &back,
						  NULL), GAUSS_OK);
		assert_int_equal(back.whole.flags, FMT_BLOCK_ZRUNS);
		assert_int_equal(cursor_left(&c), 0);
		tab[tn - 1] = 0x04;
		cursor_init(&c, tab, tn);
		assert_int_equal(chunk_table_read(FMT_KIND_EXP_BF16,
						  FMT_VERSION, &c, &back,
						  NULL), GAUSS_E_CORRUPT);
		/* the top-mantissa-bit flag is version 6's */
		tab[tn - 1] = FMT_BLOCK_M1;
		cursor_init(&c, tab, tn);
		assert_int_equal(chunk_table_read(FMT_KIND_EXP_BF16, 5, &c,
						  &back, NULL),
				 GAUSS_E_CORRUPT);
		/* version 4 has no flags byte: it is left unread */
		cursor_init(&c, tab, tn);
		assert_int_equal(chunk_table_read(FMT_KIND_EXP_BF16, 4, &c,
						  &back, NULL), GAUSS_OK);
		assert_int_equal(cursor_left(&c), 1);
		assert_int_equal(back.whole.flags, 0);
	}
	chunk_scratch_free(&s);
	free(e);
}

/*
 * Top mantissa bit (version 6): a table with FMT_BLOCK_M1 reads back with
 * its base; the reader refuses the flag on other kinds and beside whole
 * values, a listed symbol beyond the base's range and a missing base byte.
 * A chunk under it round-trips; a set padding bit in the raw plane's tail
 * and a payload shorter than the plane are refused, not left to the
 * checksum.
 */
static void
test_format_top_bit(void **state)
{
	enum { NB = 4094, N = NB / 2 };	/* 63 groups of 32, 31 in the tail */
	struct enc_chunk *e = aligned_alloc(64, sizeof(*e));
	uint8_t tab[CHUNK_TABLE_MAX_NBYTES], bad[CHUNK_TABLE_MAX_NBYTES];
	uint64_t k[512] = { 0 }, cj[256] = { 0 }, seed = 3;
	struct chunk_scratch s;
	struct rans_table t, back;
	struct cursor c;
	size_t tn, m, pn;
	unsigned base = 512;

	(void)state;
	assert_non_null(e);
	assert_int_equal(chunk_scratch_init(&s, 4096), GAUSS_OK);
	make_data(FMT_KIND_EXP_BF16, e->src, NB, &seed);
	split_count_block(FMT_KIND_EXP_BF16, e->src, N, NULL, cj, k);
	for (unsigned j = 0; j < 512; j++)
		if (k[j] && base == 512)
			base = j / 2;
	memset(cj, 0, sizeof(cj));
	for (unsigned j = 2 * base; j < 512 && j < 2 * base + 256; j++)
		cj[j - 2 * base] = k[j];
	rans_table_normalize(cj, &t);
	t.whole.flags = FMT_BLOCK_M1;
	t.whole.m1_base = (uint8_t)base;

	/* the table: flags and base back, every byte read */
	tn = chunk_table_write(FMT_KIND_EXP_BF16, &t, tab);
	assert_int_equal(tab[tn - 1], base);
	assert_int_equal(tab[tn - 2], FMT_BLOCK_M1);
	cursor_init(&c, tab, tn);
	assert_int_equal(chunk_table_read(FMT_KIND_EXP_BF16, FMT_VERSION, &c,
					  &back, NULL), GAUSS_OK);
	assert_int_equal(cursor_left(&c), 0);
	assert_int_equal(back.whole.flags, FMT_BLOCK_M1);
	assert_int_equal(back.whole.m1_base, base);
	/* the flag on an fp32 block before version 7, and without its base
	 * byte */
	cursor_init(&c, tab, tn);
	assert_int_equal(chunk_table_read(FMT_KIND_EXP_F32, FMT_VERSION_M1, &c,
					  &back, NULL), GAUSS_E_CORRUPT);
	cursor_init(&c, tab, tn - 1);
	assert_int_equal(chunk_table_read(FMT_KIND_EXP_BF16, FMT_VERSION, &c,
					  &back, NULL), GAUSS_E_CORRUPT);
	/* a base that puts the listed symbols past exponent 255 */
	memcpy(bad, tab, tn);
	bad[tn - 1] = 255;
	cursor_init(&c, bad, tn);
	assert_int_equal(chunk_table_read(FMT_KIND_EXP_BF16, FMT_VERSION, &c,
					  &back, NULL), GAUSS_E_CORRUPT);
	/* beside a whole value */
	{
		struct rans_table w = t;
		uint8_t wt[CHUNK_TABLE_MAX_NBYTES];
		size_t wn;

		w.whole.count = 1;
		w.whole.code[0] = 0;
		w.whole.value[0] = 0;
		rans_whole_finish(&w.whole);
		wn = chunk_table_write(FMT_KIND_EXP_BF16, &w, wt);
		cursor_init(&c, wt, wn);
		assert_int_equal(chunk_table_read(FMT_KIND_EXP_BF16,
						  FMT_VERSION, &c, &back,
						  NULL), GAUSS_E_CORRUPT);
	}

	/* a chunk: coded, smaller than stored, decoded exactly */
	rans_dtable_build(&t, FMT_VERSION, &e->d);
	m = chunk_encode(FMT_KIND_EXP_BF16, etab(&t), e->src, NB, e->rec, &s);
	assert_true(m < NB);
	assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, e->rec, m, NB, &s),
			 GAUSS_OK);
	assert_memory_equal(dst_area + AREA_NBYTES - NB, e->src, NB);
	/* payload: varint head, stream, raw plane, then the checksum */
	pn = m - FMT_CHECKSUM_NBYTES;
	for (unsigned at = 1; at <= N % 32; at += 10) {
		uint8_t rec[NB + 32];

		memcpy(rec, e->rec, m);
		rec[pn - at] |= 0x80;	/* a tail byte's unused bit */
		assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec, m, NB,
					      &s), GAUSS_E_CORRUPT);
	}
	{
		/* a payload shorter than the raw plane: 100 bytes */
		uint8_t rec[128];
		size_t rn = varint_put(rec, 100 << 1);

		memset(rec + rn, 0, 100 + FMT_CHECKSUM_NBYTES);
		assert_int_equal(parse_decode(e, FMT_KIND_EXP_BF16, rec,
					      rn + 100 + FMT_CHECKSUM_NBYTES,
					      NB, &s), GAUSS_E_CORRUPT);
	}
	chunk_scratch_free(&s);
	free(e);
}

/*
 * chunk_zruns_find() tests groups of 16 elements: on random patterns of
 * zero runs (lengths around 16 to 48, at every alignment, at both ends)
 * it finds exactly the maximal runs that a plain scan finds holding 32
 * zeros from a multiple of 16.
 */
static void
test_format_zero_runs_find(void **state)
{
	enum { N = 3000 };
	static const enum fmt_kind kinds[] = { FMT_KIND_EXP_BF16,
					       FMT_KIND_EXP_F32 };
	uint8_t *src = malloc(N * 4);
	struct chunk_zrun got[N / FMT_ZRUN_MIN], want[N / FMT_ZRUN_MIN];
	uint64_t seed = 11;

	(void)state;
	assert_non_null(src);
	for (unsigned round = 0; round < 400; round++) {
		const enum fmt_kind kind = kinds[round % 2];
		const size_t es = split_elem_nbytes(kind);
		const size_t n = N - test_rand(&seed) % 100;
		size_t nw = 0, ng;

		/* non-zero elements (one zero byte at most), then runs */
		for (size_t i = 0; i < n; i++) {
			const uint32_t v = 1u << (test_rand(&seed) % (8 * es));

			if (es == 2)
				put_le16(src + 2 * i, (uint16_t)v);
			else
				put_le32(src + 4 * i, v);
		}
		for (size_t p = test_rand(&seed) % 3 ? 0 : test_rand(&seed) % 50;
		     p < n;) {
			const size_t len = 10 + test_rand(&seed) % 40;

			memset(src + p * es, 0, MIN(len, n - p) * es);
			p += len + 1 + test_rand(&seed) % 60;
		}
		for (size_t i = 0; i < n;) {
			size_t j = i;

			while (j < n && (es == 2 ? get_le16(src + 2 * j) :
					 get_le32(src + 4 * j)) == 0)
				j++;
			/* maximal runs holding 32 zeros from a multiple
			 * of 16 */
			if ((i + 15) / 16 * 16 + 32 <= j)
				want[nw++] = (struct chunk_zrun){
					(uint32_t)i, (uint32_t)(j - i) };
			i = j > i ? j : i + 1;
		}
		ng = chunk_zruns_find(kind, src, n, got);
		assert_int_equal(ng, nw);
		for (size_t k = 0; k < nw; k++) {
			assert_int_equal(got[k].start, want[k].start);
			assert_int_equal(got[k].len, want[k].len);
		}
	}
	free(src);
}

/* ---- bytes tables (format version 7) ---- */

/*
 * chunk_table_read() of kind and version on exactly n guarded bytes;
 * *used_ret (when not NULL) takes the bytes it read. Checks the message.
 */
static enum gauss_status
table_read_guarded(enum fmt_kind kind, unsigned version, const uint8_t *p,
		   size_t n, struct rans_table *t, size_t *used_ret)
{
	uint8_t *g = guarded_copy(p, n);
	struct errbuf eb = { { 0 } };
	struct cursor c;
	enum gauss_status st;

	cursor_init(&c, g, n);
	memset(t, 0xa5, sizeof(*t));
	st = chunk_table_read(kind, version, &c, t, &eb);
	if (st != GAUSS_OK)
		assert_true(eb.text[0] != '\0');
	if (used_ret)
		*used_ret = n - cursor_left(&c);
	guarded_free(g, n);
	return st;
}

/*
 * Counts over symbols 0 to 39 (40 symbols: the bare table's first byte,
 * 39, names no precision), a bell around 20 with tails that a 15-bit
 * table gives frequency 1 and a 12-bit one more.
 */
static void
bytes_counts(uint64_t counts[256])
{
	static const uint64_t bell[] = { 1000000, 300000, 90000, 27000, 8100,
					 2430, 729, 218, 65, 19, 5 };

	memset(counts, 0, 256 * sizeof(counts[0]));
	for (unsigned s = 0; s < 40; s++) {
		const unsigned d = s > 20 ? s - 20 : 20 - s;

		counts[s] = d < ARRAY_SIZE(bell) ? bell[d] : 1;
	}
}

/*
 * Bytes tables at version 7: chunk_table_write() puts the head byte
 * (precision | log2(lane unit / 512) << 4) before the serialised table,
 * and chunk_table_read() gives back precision, lane unit and frequencies,
 * for 12- and 15-bit tables at lane units 512 and 16384 (a table with no
 * lane unit of its own is written as 512). Other kinds take no head byte.
 */
/*
 * Top mantissa bit of fp16 and fp32 (version 7): a table with
 * FMT_BLOCK_M1 reads back at version 7 and is refused at version 6; an
 * fp16 base that puts a listed symbol past bits 14..9 is refused. A chunk
 * of 2045 fp16 or 1023 fp32 elements (partial last groups) round-trips,
 * smaller than stored; a set unused bit (the fp16 2-bit plane's last byte,
 * the fp32 7-bit plane's tail) is refused, not left to the checksum.
 */
static void
test_format_top_bit_f16_f32(void **state)
{
	struct enc_chunk *e = aligned_alloc(64, sizeof(*e));
	struct chunk_scratch s;

	(void)state;
	assert_non_null(e);
	assert_int_equal(chunk_scratch_init(&s, 4096), GAUSS_OK);
	for (unsigned f = 0; f < 2; f++) {
		const enum fmt_kind kind = f ? FMT_KIND_EXP_F32 :
					       FMT_KIND_EXP_F16;
		const size_t nb = f ? 4092 : 4090, n = nb / (f ? 4 : 2);
		uint8_t tab[CHUNK_TABLE_MAX_NBYTES], bad[CHUNK_TABLE_MAX_NBYTES];
		uint8_t rec[4096 + 64];
		uint64_t k[512] = { 0 }, cj[256] = { 0 }, seed = 5 + f;
		struct rans_table t, back;
		struct cursor c;
		size_t tn, m;
		unsigned base = 512;

		make_data(kind, e->src, nb, &seed);
		/* the top mantissa bit 0 nine times in ten */
		for (size_t i = 0; i < n; i++)
			if (test_rand(&seed) % 10) {
				if (f)
					put_le32(e->src + 4 * i,
						 get_le32(e->src + 4 * i) &
						 ~(1u << 22));
				else
					put_le16(e->src + 2 * i, (uint16_t)(
						 get_le16(e->src + 2 * i) &
						 ~(1u << 9)));
			}
		split_count_block(kind, e->src, n, NULL, cj, k);
		for (unsigned j = 0; j < 512; j++)
			if (k[j] && base == 512)
				base = j / 2;
		memset(cj, 0, sizeof(cj));
		for (unsigned j = 2 * base; j < 512 && j < 2 * base + 256; j++)
			cj[j - 2 * base] = k[j];
		rans_table_normalize(cj, &t);
		t.whole.flags = FMT_BLOCK_M1;
		t.whole.m1_base = (uint8_t)base;
		tn = chunk_table_write(kind, &t, tab);
		cursor_init(&c, tab, tn);
		assert_int_equal(chunk_table_read(kind, FMT_VERSION, &c, &back,
						  NULL), GAUSS_OK);
		assert_int_equal(cursor_left(&c), 0);
		assert_int_equal(back.whole.m1_base, base);
		cursor_init(&c, tab, tn);
		assert_int_equal(chunk_table_read(kind, FMT_VERSION_M1, &c,
						  &back, NULL),
				 GAUSS_E_CORRUPT);
		memcpy(bad, tab, tn);
		bad[tn - 1] = f ? 255 : 31;	/* symbols past the top */
		cursor_init(&c, bad, tn);
		assert_int_equal(chunk_table_read(kind, FMT_VERSION, &c, &back,
						  NULL), GAUSS_E_CORRUPT);

		rans_dtable_build(&t, FMT_VERSION, &e->d);
		m = chunk_encode(kind, etab(&t), e->src, nb, e->rec, &s);
		assert_true(m < nb);
		assert_int_equal(parse_decode(e, kind, e->rec, m, nb, &s),
				 GAUSS_OK);
		assert_memory_equal(dst_area + AREA_NBYTES - nb, e->src, nb);
		/* the plane's last byte, before the checksum */
		memcpy(rec, e->rec, m);
		rec[m - FMT_CHECKSUM_NBYTES - 1] |= 0x80;
		assert_int_equal(parse_decode(e, kind, rec, m, nb, &s),
				 GAUSS_E_CORRUPT);
	}
	chunk_scratch_free(&s);
	free(e);
}

static void
test_format_bytes_table_round_trip(void **state)
{
	static const unsigned units[] = { 0, RANS_LANE_UNIT_V4, 4096,
					  RANS_LANE_UNIT_MAX };
	static const unsigned bits[] = { RANS_SCALE_BITS, RANS_FINE_BITS };
	uint8_t out[CHUNK_TABLE_MAX_NBYTES], bare[RANS_TABLE_MAX_NBYTES];
	uint64_t counts[256];
	struct rans_table t, back;
	size_t n, bn, used;

	(void)state;
	bytes_counts(counts);
	for (unsigned b = 0; b < ARRAY_SIZE(bits); b++) {
		for (unsigned u = 0; u < ARRAY_SIZE(units); u++) {
			const unsigned unit = units[u] ? units[u] :
						RANS_LANE_UNIT_V4;

			rans_table_normalize_bits(counts, bits[b], &t);
			assert_int_equal(t.scale_bits, bits[b]);
			assert_int_equal(t.nsym, 40);
			t.lane_unit = units[u];
			n = chunk_table_write(FMT_KIND_BYTES, &t, out);
			bn = rans_table_write(&t, bare);
			assert_int_equal(n, 1 + bn);
			assert_int_equal(out[0], bits[b] |
					 __builtin_ctz(unit / 512) << 4);
			assert_memory_equal(out + 1, bare, bn);
			assert_int_equal(table_read_guarded(FMT_KIND_BYTES,
							    FMT_VERSION, out,
							    n, &back, &used),
					 GAUSS_OK);
			assert_int_equal(used, n);
			assert_int_equal(back.scale_bits, bits[b]);
			assert_int_equal(back.lane_unit, unit);
			assert_int_equal(back.nsym, t.nsym);
			assert_memory_equal(back.freq, t.freq, sizeof(t.freq));
			assert_memory_equal(back.cum, t.cum, sizeof(t.cum));
			assert_int_equal(back.whole.count, 0);
			assert_int_equal(back.whole.flags, 0);
		}
	}
	/* the pinned heads: 12 bits at 512, 15 bits at 16384 */
	rans_table_normalize_bits(counts, RANS_SCALE_BITS, &t);
	t.lane_unit = RANS_LANE_UNIT_V4;
	chunk_table_write(FMT_KIND_BYTES, &t, out);
	assert_int_equal(out[0], 0x0c);
	rans_table_normalize_bits(counts, RANS_FINE_BITS, &t);
	t.lane_unit = RANS_LANE_UNIT_MAX;
	chunk_table_write(FMT_KIND_BYTES, &t, out);
	assert_int_equal(out[0], 0x5f);
	/* a float kind's table starts with the serialised table itself */
	rans_table_normalize_bits(counts, RANS_SCALE_BITS, &t);
	n = chunk_table_write(FMT_KIND_EXP_BF16, &t, out);
	bn = rans_table_write(&t, bare);
	assert_true(n > bn);
	assert_memory_equal(out, bare, bn);
}

/*
 * The head byte of a version 7 bytes table, every one of the 256: read
 * when its low nibble is 12 or 15 and its high nibble names a lane unit
 * up to 16384 (0 to 5), GAUSS_E_CORRUPT otherwise (precision 0, 13, 14,
 * unit 32768 and up). Before each head goes a table of the precision it
 * names (when it names one; the 12-bit one otherwise), so only the head
 * decides. A table cut anywhere, right after the head byte too, is
 * refused.
 */
static void
test_format_bytes_table_head(void **state)
{
	uint8_t out[2][CHUNK_TABLE_MAX_NBYTES];
	uint64_t counts[256];
	struct rans_table t[2], back;
	size_t n[2], used;
	unsigned nok = 0;

	(void)state;
	bytes_counts(counts);
	for (unsigned f = 0; f < 2; f++) {
		rans_table_normalize_bits(counts, f ? RANS_FINE_BITS :
						      RANS_SCALE_BITS, &t[f]);
		t[f].lane_unit = RANS_LANE_UNIT_V4;
		n[f] = chunk_table_write(FMT_KIND_BYTES, &t[f], out[f]);
	}
	for (unsigned h = 0; h < 256; h++) {
		const unsigned p = h & 15, u = h >> 4, f = p == RANS_FINE_BITS;
		const bool ok = (p == RANS_SCALE_BITS ||
				 p == RANS_FINE_BITS) && u <= 5;
		enum gauss_status st;

		out[f][0] = (uint8_t)h;
		st = table_read_guarded(FMT_KIND_BYTES, FMT_VERSION, out[f],
					n[f], &back, &used);
		if (!ok) {
			assert_int_equal(st, GAUSS_E_CORRUPT);
			continue;
		}
		nok++;
		assert_int_equal(st, GAUSS_OK);
		assert_int_equal(used, n[f]);
		assert_int_equal(back.scale_bits, p);
		assert_int_equal(back.lane_unit, RANS_LANE_UNIT_V4 << u);
		assert_memory_equal(back.freq, t[f].freq, sizeof(back.freq));
	}
	assert_int_equal(nok, 12);
	/* the cases by name: precision 13 and 0, unit 32768 */
	out[0][0] = 13;
	assert_int_equal(table_read_guarded(FMT_KIND_BYTES, FMT_VERSION,
					    out[0], n[0], &back, NULL),
			 GAUSS_E_CORRUPT);
	out[0][0] = 0;
	assert_int_equal(table_read_guarded(FMT_KIND_BYTES, FMT_VERSION,
					    out[0], n[0], &back, NULL),
			 GAUSS_E_CORRUPT);
	out[1][0] = 6 << 4 | RANS_FINE_BITS;
	assert_int_equal(table_read_guarded(FMT_KIND_BYTES, FMT_VERSION,
					    out[1], n[1], &back, NULL),
			 GAUSS_E_CORRUPT);
	/* truncated: nothing, the head byte alone, any shorter table */
	t[1].lane_unit = RANS_LANE_UNIT_MAX;
	n[1] = chunk_table_write(FMT_KIND_BYTES, &t[1], out[1]);
	for (size_t len = 0; len < n[1]; len++)
		assert_int_equal(table_read_guarded(FMT_KIND_BYTES,
						    FMT_VERSION, out[1], len,
						    &back, NULL),
				 GAUSS_E_CORRUPT);
	assert_int_equal(table_read_guarded(FMT_KIND_BYTES, FMT_VERSION,
					    out[1], n[1], &back, NULL),
			 GAUSS_OK);
}

/*
 * Versions 1 to 6 hold a bytes table without a head byte: the bare 12-bit
 * table reads whole, under the version's lane rule (lane_unit 0); at
 * version 7 its first byte (nsym - 1 = 39) is taken for a head and
 * refused.
 */
static void
test_format_bytes_table_before_v7(void **state)
{
	uint8_t bare[RANS_TABLE_MAX_NBYTES];
	uint64_t counts[256];
	struct rans_table t, back;
	size_t n, used;

	(void)state;
	bytes_counts(counts);
	rans_table_normalize(counts, &t);
	n = rans_table_write(&t, bare);
	assert_int_equal(bare[0], 39);
	for (unsigned v = FMT_VERSION_MIN; v < FMT_VERSION_FINE; v++) {
		assert_int_equal(table_read_guarded(FMT_KIND_BYTES, v, bare, n,
						    &back, &used), GAUSS_OK);
		assert_int_equal(used, n);
		assert_int_equal(back.scale_bits, RANS_SCALE_BITS);
		assert_int_equal(back.lane_unit, 0);
		assert_int_equal(back.nsym, t.nsym);
		assert_memory_equal(back.freq, t.freq, sizeof(t.freq));
		/* every truncation refused there too */
		for (size_t len = 0; len < n; len++)
			assert_int_equal(table_read_guarded(FMT_KIND_BYTES, v,
							    bare, len, &back,
							    NULL),
					 GAUSS_E_CORRUPT);
	}
	assert_int_equal(table_read_guarded(FMT_KIND_BYTES, FMT_VERSION_FINE,
					    bare, n, &back, NULL),
			 GAUSS_E_CORRUPT);
}

/*
 * A bytes chunk under a 15-bit table, as a version 7 block codes it: the
 * decoder's table comes through chunk_table_write() and
 * chunk_table_read(); the record is coded (smaller than the chunk) and
 * decodes back exactly at every kernel level, for lane units 512 (4
 * lanes here) and 16384 (1 lane); a decoder that takes the other unit
 * refuses the record.
 */
static void
test_format_bytes_fine_chunk(void **state)
{
	enum { NB = 4096 };
	static const unsigned units[] = { RANS_LANE_UNIT_V4,
					  RANS_LANE_UNIT_MAX };
	struct rans_etable *e = malloc(sizeof(*e));
	struct rans_dtable *d[2];
	uint8_t *src = malloc(NB), *rec[2];
	uint8_t tab[CHUNK_TABLE_MAX_NBYTES];
	size_t rn[2];
	uint64_t counts[256], seed = 41;
	struct chunk_scratch s;
	struct rans_table t, back;
	struct cursor c;

	(void)state;
	assert_non_null(e);
	assert_non_null(src);
	assert_int_equal(chunk_scratch_init(&s, NB), GAUSS_OK);
	bytes_counts(counts);
	rans_table_normalize_bits(counts, RANS_FINE_BITS, &t);
	/* the bell's middle, then its rare symbols once each */
	for (size_t i = 0; i < NB; i++)
		src[i] = (uint8_t)(18 + test_rand(&seed) % 5);
	for (unsigned k = 0; k < 40; k++)
		src[test_rand(&seed) % NB] = (uint8_t)k;
	for (unsigned u = 0; u < 2; u++) {
		size_t tn;

		t.lane_unit = units[u];
		tn = chunk_table_write(FMT_KIND_BYTES, &t, tab);
		d[u] = aligned_alloc(64, sizeof(*d[u]));
		rec[u] = malloc(chunk_record_bound(NB));
		assert_non_null(d[u]);
		assert_non_null(rec[u]);
		cursor_init(&c, tab, tn);
		assert_int_equal(chunk_table_read(FMT_KIND_BYTES, FMT_VERSION,
						  &c, &back, NULL), GAUSS_OK);
		assert_int_equal(cursor_left(&c), 0);
		assert_int_equal(back.scale_bits, RANS_FINE_BITS);
		rans_dtable_build(&back, FMT_VERSION, d[u]);
		rans_etable_build(&t, FMT_VERSION, e);
		rn[u] = chunk_encode(FMT_KIND_BYTES, e, src, NB, rec[u], &s);
		assert_true(rn[u] < NB);
	}
	/* 3 more flushed states at 4 lanes, the same words otherwise */
	assert_true(rn[0] > rn[1]);
	for (unsigned l = 0; l < CPU_LEVEL_COUNT; l++) {
		const struct rans_kernels *k =
			rans_kernels_of((enum cpu_level)l);

		if (k == NULL)
			continue;
		s.kernels = k;
		for (unsigned u = 0; u < 2; u++) {
			struct enc_chunk *ec = aligned_alloc(64, sizeof(*ec));

			assert_non_null(ec);
			memcpy(&ec->d, d[u], sizeof(*d[u]));
			assert_int_equal(parse_decode(ec, FMT_KIND_BYTES,
						      rec[u], rn[u], NB, &s),
					 GAUSS_OK);
			assert_memory_equal(dst_area + AREA_NBYTES - NB, src,
					    NB);
			memcpy(&ec->d, d[1 - u], sizeof(*d[u]));
			assert_int_equal(parse_decode(ec, FMT_KIND_BYTES,
						      rec[u], rn[u], NB, &s),
					 GAUSS_E_CORRUPT);
			free(ec);
		}
	}
	for (unsigned u = 0; u < 2; u++) {
		free(d[u]);
		free(rec[u]);
	}
	chunk_scratch_free(&s);
	free(src);
	free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_header_round_trip),
		cmocka_unit_test(test_format_header_exact_bytes),
		cmocka_unit_test(test_format_header_every_byte_change_rejected),
		cmocka_unit_test(test_format_header_truncated),
		cmocka_unit_test(test_format_header_legacy_magic),
		cmocka_unit_test(test_format_header_legacy_prefix_short),
		cmocka_unit_test(test_format_header_other_versions),
		cmocka_unit_test(test_format_header_invalid_sizes),
		cmocka_unit_test(test_format_header_reserved_nonzero),
		cmocka_unit_test(test_format_footer_round_trip),
		cmocka_unit_test(test_format_footer_every_byte_change_rejected),
		cmocka_unit_test(test_format_footer_outside_file),
		cmocka_unit_test(test_format_index_valid),
		cmocka_unit_test(test_format_index_truncated),
		cmocka_unit_test(test_format_index_count_too_large),
		cmocka_unit_test(test_format_index_does_not_cover_original),
		cmocka_unit_test(test_format_index_frames_end_before_index),
		cmocka_unit_test(test_format_index_invalid_entries),
		cmocka_unit_test(test_format_chunk_round_trip),
		cmocka_unit_test(test_format_chunk_one_symbol),
		cmocka_unit_test(test_format_chunk_stored_fallback),
		cmocka_unit_test(test_format_chunk_checksum_mismatch),
		cmocka_unit_test(test_format_chunk_damage_never_passes),
		cmocka_unit_test(test_format_chunk_rejects_bad_lengths),
		cmocka_unit_test(test_format_chunk_one_symbol_stream_rejected),
		cmocka_unit_test(test_format_chunk_zero_runs),
		cmocka_unit_test(test_format_top_bit),
		cmocka_unit_test(test_format_top_bit_f16_f32),
		cmocka_unit_test(test_format_zero_runs_find),
		cmocka_unit_test(test_format_bytes_table_round_trip),
		cmocka_unit_test(test_format_bytes_table_head),
		cmocka_unit_test(test_format_bytes_table_before_v7),
		cmocka_unit_test(test_format_bytes_fine_chunk),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
