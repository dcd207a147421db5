/* SPDX-License-Identifier: MIT */
/*
 * pipeline.h: the compress and decompress pipelines: walk the original (or
 * the frames) in order, cut blocks and chunks, code them, write in order.
 */
#ifndef GAUSS_PIPELINE_H
#define GAUSS_PIPELINE_H

#include <stdint.h>

#include "gauss.h"
#include "error.h"

struct pipeline_opts {
	unsigned chunk_log2;
	unsigned block_log2;
	unsigned threads;
	gauss_progress_fn progress;
	void *progress_user;
};

/* Fills o with the defaults of the format and the encoder. */
void pipeline_opts_default(struct pipeline_opts *o);

/*
 * Compresses the safetensors file open at in_fd (a regular file of
 * in_nbytes bytes, read with pread) into out_fd (written sequentially).
 */
enum gauss_status pipeline_compress(const struct pipeline_opts *o, int in_fd,
				    uint64_t in_nbytes, int out_fd,
				    struct errbuf *eb);

/*
 * Decompresses the .gauss stream at in_fd (read sequentially; in_nbytes is
 * its size, or UINT64_MAX when unknown) into out_fd, or only checks it when
 * out_fd is -1. Every chunk checksum, the index and the XXH3-128 of the
 * whole original are verified; *original_nbytes_ret gets the size written.
 */
enum gauss_status pipeline_decompress(const struct pipeline_opts *o,
				      int in_fd, uint64_t in_nbytes,
				      int out_fd,
				      uint64_t *original_nbytes_ret,
				      struct errbuf *eb);

#endif /* GAUSS_PIPELINE_H */
