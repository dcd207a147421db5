/* SPDX-License-Identifier: MIT */
/*
 * lossy.h: the lossy mode (--gmm) in the container: which tensors go
 * lossy, how they are cut into row shards, and the shard record
 * (gauss(5), "Lossy frames"). The codec of one shard is gmm.h's.
 *
 * A lossy frame (format version 3) is: kind (gmm-bf16, gmm-f16 or
 * gmm-f32), varint S (original bytes), varint Z (bytes per shard, a
 * multiple of the element size, at most a block), then one record per
 * shard of Z bytes (the last may be shorter):
 *   varint (P << 1 | stored), P payload bytes, XXH3-64 of the decoded shard
 * where a stored payload is the shard's original bytes (P = Z) and any
 * other is a gmm.h payload (P < Z). The footer's XXH3-128 covers the
 * decoded file, which differs from the original in the lossy tensors only.
 */
#ifndef GAUSS_LOSSY_H
#define GAUSS_LOSSY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gauss.h"
#include "error.h"
#include "format.h"
#include "gmm.h"
#include "safetensors.h"

struct rans_kernels;

/* Which tensors go lossy, and the codec's options (the original's names). */
struct lossy_opts {
	bool on;
	struct gmm_options codec;	/* K, max_iter, max_error, seed */
	uint64_t shard_threshold;	/* more elements: cut in row shards */
	uint64_t shard_rows;		/* rows per shard */
	uint64_t raw_threshold;		/* fewer elements: lossless */
	const char *layers;		/* comma-separated names, or NULL */
};

/* The original's defaults: 5000000, 4096, 32768, every tensor. */
void lossy_opts_default(struct lossy_opts *o);

/*
 * The lossy kind of tensor t under o, or FMT_KIND_STORED when t stays
 * lossless: a float tensor (BF16, F16, F32) of at least two dimensions and
 * raw_threshold elements, named in layers when layers is set.
 */
enum fmt_kind lossy_kind(const struct lossy_opts *o, const struct st_tensor *t);

/*
 * Bytes per shard of a lossy tensor: whole rows, shard_rows of them when
 * the tensor has more than shard_threshold elements, else the whole tensor;
 * then cut to at most block_nbytes (whole rows when a row fits).
 */
uint64_t lossy_shard_nbytes(const struct lossy_opts *o,
			    const struct st_tensor *t, uint64_t block_nbytes);

/* What compression measured on shards, summed over a tensor. */
struct lossy_stats {
	unsigned k;
	uint32_t scale;
	double max_abs_error;
	double sum_sq_error;	/* over finite values */
	double sum;		/* of the finite originals */
	double sum_sq;
	uint64_t finite;
};

void lossy_stats_add(struct lossy_stats *total, const struct lossy_stats *s);

/* The index entry's figures: RMS error and standard deviation. */
void lossy_stats_finish(const struct lossy_stats *s, struct fmt_gmm_stats *g);

/*
 * Codes one shard of nbytes original bytes at src (kind: a lossy kind) as
 * a record at out (room: at least nbytes + 18 bytes), decodes it again into
 * dec (nbytes) and checks every value against the bound: NaN and infinities
 * must come back bit for bit, every other value within 1/(2S). Returns the
 * record's size in *len_ret and the measurements in *stats. A shard whose
 * payload would not be smaller than the original is stored, exactly.
 */
enum gauss_status lossy_code_shard(enum fmt_kind kind, const uint8_t *src,
				   size_t nbytes, const struct gmm_options *go,
				   uint64_t shard_id, uint8_t *out, size_t room,
				   uint8_t *dec, size_t *len_ret,
				   struct lossy_stats *stats,
				   const struct rans_kernels *kernels,
				   struct gmm_scratch *scratch,
				   struct errbuf *eb);

#endif /* GAUSS_LOSSY_H */
