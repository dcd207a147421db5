/* SPDX-License-Identifier: MIT */
/*
 * chunk.h: one chunk record of a frame (gauss(5), "Chunk record"): the
 * unit of work of the pipelines. Encoding and decoding a chunk touch only
 * the chunk's bytes, its block's table and a per-worker scratch, so chunks
 * run in parallel and one tensor decodes without the others.
 */
#ifndef GAUSS_CHUNK_H
#define GAUSS_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "format.h"
#include "rans.h"

struct rans_kernels;

/* A run of zero elements of a chunk (format version 5): elements
 * [start, start + len), len >= FMT_ZRUN_MIN. */
struct chunk_zrun {
	uint32_t start;
	uint32_t len;
};

/*
 * Per-worker buffers for the symbol and raw planes of one chunk, and the
 * rANS kernels the worker runs (the best level after init; any level gives
 * the same bytes).
 */
struct chunk_scratch {
	uint8_t *syms;
	uint8_t *raw;
	size_t cap_nbytes;	/* original bytes of the largest chunk */
	const struct rans_kernels *kernels;
	struct rans_etable *etable;	/* room for the block's encoder table */
	struct rans_dtable *dtable;	/* compress checking its blocks: */
	uint8_t *check;			/* a decoder table and a chunk */
	struct gmm_scratch *gmm;	/* lossy shards' buffers, made on use */
	struct chunk_zrun *zruns;	/* zero runs, made on use */
	size_t zruns_cap;
	uint8_t *zbuf;			/* the pipeline's (its buffer cache):
					   a chunk without its zero runs */
};

enum gauss_status chunk_scratch_init(struct chunk_scratch *s,
				     size_t chunk_nbytes);
void chunk_scratch_free(struct chunk_scratch *s);

/* Makes room for nruns runs in s->zruns; GAUSS_E_NOMEM otherwise. */
enum gauss_status chunk_zruns_reserve(struct chunk_scratch *s, size_t nruns,
				      struct errbuf *eb);

/*
 * Finds runs of all-zero elements among the n elements of a float kind at
 * src: every maximal run that holds 32 zeros starting at a multiple of 16
 * (so every run of 47 or more), in order; runs needs room for
 * n / FMT_ZRUN_MIN. Returns their count.
 */
size_t chunk_zruns_find(enum fmt_kind kind, const uint8_t *src, size_t n,
			struct chunk_zrun *runs);

/*
 * Reads a block's table for kind in a file of format `version`: the
 * frequency table, then for float kinds from version 4 on its whole-value
 * list (rans.h); checks that its symbols fit the kind (an fp16 exponent
 * has 5 bits; higher symbols must be whole values). GAUSS_E_CORRUPT
 * otherwise.
 */
enum gauss_status chunk_table_read(enum fmt_kind kind, unsigned version,
				   struct cursor *c, struct rans_table *t,
				   struct errbuf *eb);

/* Most bytes a block's table takes (chunk_table_write()). */
#define CHUNK_TABLE_MAX_NBYTES \
	(RANS_TABLE_MAX_NBYTES + 1 + RANS_WHOLE_MAX * 5)

/*
 * Writes a block's table as a file of format version FMT_VERSION holds it
 * (room for CHUNK_TABLE_MAX_NBYTES); returns its size.
 */
size_t chunk_table_write(enum fmt_kind kind, const struct rans_table *t,
			 uint8_t *out);

/* Most bytes a record of a chunk of nbytes original bytes can take. */
static inline size_t
chunk_record_bound(size_t nbytes)
{
	return VARINT_MAX_LEN + nbytes + FMT_CHECKSUM_NBYTES;
}

/*
 * Encodes nbytes original bytes at src (a whole number of elements of kind)
 * as one chunk record into out, which has room for chunk_record_bound();
 * t is the encoder view of the block's table (unused for STORED). Returns the record size. The
 * chunk is stored when coding would not make it smaller.
 */
size_t chunk_encode(enum fmt_kind kind, const struct rans_etable *t,
		    const uint8_t *src, size_t nbytes, uint8_t *out,
		    struct chunk_scratch *s);

/*
 * chunk_encode() for a block whose table has FMT_BLOCK_ZRUNS set: the
 * chunk's nruns zero runs (increasing, apart) go first, and rest holds the
 * chunk's other elements, in order. chunk_encode() itself passes no run.
 */
size_t chunk_encode_zruns(enum fmt_kind kind, const struct rans_etable *t,
			  const uint8_t *src, size_t nbytes,
			  const struct chunk_zrun *runs, size_t nruns,
			  const uint8_t *rest, uint8_t *out,
			  struct chunk_scratch *s);

/*
 * Parses one chunk record at the cursor for a chunk of nbytes original
 * bytes: on success *payload_ret, *payload_nbytes_ret, *stored_ret and
 * *checksum_ret describe it and the cursor is past it.
 */
enum gauss_status chunk_parse(struct cursor *c, size_t nbytes,
			      const uint8_t **payload_ret,
			      size_t *payload_nbytes_ret, bool *stored_ret,
			      uint64_t *checksum_ret, struct errbuf *eb);

/*
 * Decodes a parsed chunk into dst (nbytes) and checks its XXH3-64.
 * Returns GAUSS_OK, GAUSS_E_CORRUPT or GAUSS_E_CHECKSUM with a message.
 */
enum gauss_status chunk_decode(enum fmt_kind kind, const struct rans_dtable *d,
			       const uint8_t *payload, size_t payload_nbytes,
			       bool stored, uint64_t checksum, uint8_t *dst,
			       size_t nbytes, struct chunk_scratch *s,
			       struct errbuf *eb);

/*
 * Decodes two parsed chunks of nbytes original bytes each, of one block
 * (same table), as two chunk_decode() calls would, with the same verdicts
 * and messages: exp-bf16 chunks go through the kernels' pair decoder,
 * which overlaps the two. On failure *failed is the chunk (0 or 1) the
 * error is about; the first one in order that fails.
 */
enum gauss_status chunk_decode_pair(enum fmt_kind kind,
				    const struct rans_dtable *d,
				    const uint8_t *const payload[2],
				    const size_t payload_nbytes[2],
				    const bool stored[2],
				    const uint64_t checksum[2],
				    uint8_t *const dst[2], size_t nbytes,
				    struct chunk_scratch *s, unsigned *failed,
				    struct errbuf *eb);

#endif /* GAUSS_CHUNK_H */
