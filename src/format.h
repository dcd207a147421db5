/* SPDX-License-Identifier: MIT */
/*
 * format.h: the .gauss container (gauss(5)): file header, frames, index,
 * footer. All fields little-endian; varints are LEB128.
 *
 *   file header (24 bytes)
 *   frame*          one per segment of the original, in the original's order
 *   END frame       one byte, FMT_KIND_END
 *   index           varint segment count, then per segment: kind, original
 *                   bytes, frame bytes
 *   footer (64 bytes)
 *
 * A segment is a byte range of the original file: the safetensors header
 * (its 8-byte length and the JSON), one tensor, or the gap between two
 * tensors. Segments cover the original without holes, so decoding is the
 * concatenation of the decoded segments.
 *
 * Frame: kind (1 byte), varint original bytes, then for each block of
 * 2^block_log2 original bytes: for coded kinds, a frequency table; then for
 * each chunk of 2^chunk_log2 original bytes in that block a chunk record:
 *   varint (payload bytes << 1 | stored), payload, XXH3-64 of the decoded
 *   chunk (8 bytes, little-endian).
 * A coded payload is the rANS stream of the chunk's symbols followed by its
 * raw plane (split.h); a stored payload is the original bytes.
 */
#ifndef GAUSS_FORMAT_H
#define GAUSS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "gauss.h"
#include "error.h"
#include "varint.h"

/* ---- stored on disk ---- */
#define FMT_MAGIC		"\x89GSZ\r\n\x1a\n"
#define FMT_END_MAGIC		"GSZ-END\n"
#define FMT_VERSION		7	/* written */
#define FMT_VERSION_GMM		3	/* lossy kinds from this version on */
#define FMT_VERSION_WHOLE	4	/* whole-value lists from this one on */
#define FMT_VERSION_ZRUNS	5	/* block flags, zero runs */
#define FMT_VERSION_M1		6	/* the top mantissa bit in the symbol */
#define FMT_VERSION_FINE	7	/* bytes tables: a precision byte */
#define FMT_VERSION_M1_ALL	7	/* the top mantissa bit for fp16, fp32 */
#define FMT_VERSION_MIN		1	/* read: 1 to FMT_VERSION_MAX */
#define FMT_VERSION_MAX		7
#define FMT_HEADER_NBYTES	24
#define FMT_FOOTER_NBYTES	64
#define FMT_CHUNK_LOG2_MIN	12
#define FMT_CHUNK_LOG2_MAX	26
#define FMT_BLOCK_LOG2_MAX	34
#define FMT_CHECKSUM_NBYTES	8
/*
 * Zero runs (version 5): in a block whose table sets FMT_BLOCK_ZRUNS, a
 * coded chunk of a float kind starts with a list of runs of at least
 * FMT_ZRUN_MIN elements whose bytes are all zero (+0.0); the rest of the
 * payload codes the other elements only. gauss(5), "Zero runs".
 */
#define FMT_BLOCK_ZRUNS		0x01	/* block flag: zero runs */
#define FMT_ZRUN_MIN		32
/*
 * Top mantissa bit (version 6, exp-bf16; version 7 also exp-f16 and
 * exp-f32): in a block whose table sets FMT_BLOCK_M1 (and has no whole
 * values), symbol s stands for the value's exponent and top mantissa bit
 * (bits 14..6 of bf16, 14..9 of fp16, 30..22 of fp32) minus 2 * base,
 * base being a byte after the flags; the raw plane holds the other bits,
 * packed (split.h). gauss(5), "Top mantissa bit".
 */
#define FMT_BLOCK_M1		0x02	/* block flag: top mantissa bit */
/*
 * Fine tables (version 7): the table of a bytes block is preceded by one
 * byte: its precision (RANS_SCALE_BITS or RANS_FINE_BITS, rans.h) plus 16
 * times log2(lane unit / RANS_LANE_UNIT_V4), the lane unit being at most
 * RANS_LANE_UNIT_MAX. gauss(5), "Fine tables".
 */
#define FMT_FINE_UNIT_SHIFT	4

enum fmt_kind {
	FMT_KIND_STORED = 0,
	FMT_KIND_BYTES = 1,
	FMT_KIND_EXP_BF16 = 2,
	FMT_KIND_EXP_F16 = 3,
	FMT_KIND_EXP_F32 = 4,
	FMT_KIND_GMM_BF16 = 5,		/* version 3: lossy (gmm.h) */
	FMT_KIND_GMM_F16 = 6,
	FMT_KIND_GMM_F32 = 7,
	FMT_KIND_END = 0xff,
};

/* Index entries of lossy frames add K (u8), the scale S (u32) and three
 * binary64 measurements: 29 bytes. */
#define FMT_GMM_STATS_NBYTES	29
/* ---- end of on-disk constants ---- */

/* Encoder defaults: 512 KiB chunks (256 Ki bf16 values), 16 MiB blocks. */
#define FMT_DEFAULT_CHUNK_LOG2	19
#define FMT_DEFAULT_BLOCK_LOG2	22

/* The original gauss (Python) wrote files starting with these. */
#define FMT_LEGACY_MAGIC_PREFIX	"GAUSS00"

struct fmt_header {
	unsigned version;
	unsigned chunk_log2;
	unsigned block_log2;
};

struct fmt_footer {
	uint64_t index_offset;
	uint64_t index_nbytes;
	uint64_t original_nbytes;
	uint8_t original_hash[16];	/* XXH3-128, canonical (big-endian) */
	uint64_t index_hash;		/* XXH3-64 of the index bytes */
};

/* What compression measured on a lossy segment (index, version 3). */
struct fmt_gmm_stats {
	unsigned k;			/* components, 1 to 255 */
	uint32_t scale;			/* S: the bound is 1 / (2 S) */
	double max_abs_error;		/* over the decoded values */
	double rms_error;
	double std;			/* of the original finite values */
};

struct fmt_segment {
	enum fmt_kind kind;
	struct fmt_gmm_stats gmm;	/* lossy kinds only */
	uint64_t original_offset;	/* derived: sum of earlier segments */
	uint64_t original_nbytes;
	uint64_t frame_offset;		/* derived: from the file header on */
	uint64_t frame_nbytes;
	uint64_t shard_nbytes;		/* lossy kinds: from the frame (the
					   reader fills it), else 0 */
};

struct fmt_index {
	size_t count;
	struct fmt_segment *segments;
};

/* Is kind one a file of this format version may hold (END excluded)? */
int fmt_kind_known(unsigned kind, unsigned version);

/* Is kind coded with a frequency table per block? */
int fmt_kind_has_table(enum fmt_kind kind);

/* Is kind an exponent-coded float kind (exp-bf16, exp-f16, exp-f32)? */
int fmt_kind_is_float(enum fmt_kind kind);

/* Is kind lossy (a Gaussian mixture, gmm.h)? Its frames hold shards. */
int fmt_kind_is_gmm(enum fmt_kind kind);

/* Element size of a coded or lossy kind (1 for stored and bytes). */
unsigned fmt_kind_elem_nbytes(enum fmt_kind kind);

/* dtype of a lossy kind. */
enum gauss_dtype fmt_gmm_dtype(enum fmt_kind kind);

/* Writes the stats of an index entry; returns FMT_GMM_STATS_NBYTES. */
size_t fmt_gmm_stats_write(const struct fmt_gmm_stats *g, uint8_t *out);

/* Name of a kind for messages and `info`. */
const char *fmt_kind_name(enum fmt_kind kind);

void fmt_header_write(const struct fmt_header *h,
		      uint8_t out[FMT_HEADER_NBYTES]);

/*
 * Checks a file header: the magic (with a clear message for files of the
 * original Python gauss), the version, the sizes, the check field.
 */
enum gauss_status fmt_header_read(const uint8_t *in, size_t in_nbytes,
				  struct fmt_header *h, struct errbuf *eb);

void fmt_footer_write(const struct fmt_footer *f,
		      uint8_t out[FMT_FOOTER_NBYTES]);

/* Checks a footer against the size of the file holding it. */
enum gauss_status fmt_footer_read(const uint8_t in[FMT_FOOTER_NBYTES],
				  uint64_t file_nbytes, struct fmt_footer *f,
				  struct errbuf *eb);

/*
 * Parses index bytes (already checked against the footer's hash), derives
 * the offsets, and checks the segments against the footer: they must cover
 * exactly original_nbytes and their frames must end at index_offset - 1
 * (where the END frame sits).
 */
enum gauss_status fmt_index_parse(const uint8_t *in, size_t in_nbytes,
				  const struct fmt_footer *f, unsigned version,
				  struct fmt_index *idx, struct errbuf *eb);

void fmt_index_free(struct fmt_index *idx);

/* Number of chunks of a segment of nbytes original bytes. */
static inline uint64_t
fmt_chunk_count(uint64_t nbytes, unsigned chunk_log2)
{
	return (nbytes + ((uint64_t)1 << chunk_log2) - 1) >> chunk_log2;
}

#endif /* GAUSS_FORMAT_H */
