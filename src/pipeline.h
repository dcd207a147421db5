/* SPDX-License-Identifier: MIT */
/*
 * pipeline.h: the compress and decompress pipelines: walk the original (or
 * the frames) in order, cut blocks and chunks, code the blocks on a pool of
 * threads, write them in order.
 */
#ifndef GAUSS_PIPELINE_H
#define GAUSS_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "gauss.h"
#include "error.h"
#include "io.h"
#include "lossy.h"

struct rans_kernels;
struct pool_cache;
struct pool_team;

struct pipeline_opts {
	unsigned chunk_log2;
	unsigned block_log2;
	unsigned threads;		/* 0: one per online CPU */
	const struct rans_kernels *kernels;	/* NULL: the best level */
	struct pool_cache *cache;	/* buffers kept between calls, or NULL */
	struct pool_team *team;		/* threads kept between calls, or NULL */
	enum io_backend io;		/* of the file streams */
	bool direct;			/* O_DIRECT where allowed */
	bool check_blocks;		/* compress decodes each block again */
	gauss_progress_fn progress;	/* called from the calling thread */
	void *progress_user;
	struct lossy_opts lossy;	/* compress: the lossy mode, if on */
	/*
	 * Lossy codec buffers kept between calls (the context's), one per
	 * worker: gmm_cache[i] is lent to worker i for the call and given
	 * back after. NULL: each call makes its own.
	 */
	struct gmm_scratch **gmm_cache;
	unsigned gmm_cache_n;
};

/* Fills o with the defaults of the format and the encoder. */
void pipeline_opts_default(struct pipeline_opts *o);

/*
 * Where the bytes come from: a file descriptor read sequentially from its
 * current offset (a file or a pipe), or memory when mem is set.
 */
struct pipe_in {
	int fd;
	const uint8_t *mem;
	uint64_t nbytes;	/* UINT64_MAX when unknown (a pipe) */
};

/*
 * Where they go: a file descriptor (written sequentially), memory when mem
 * is set (GAUSS_E_TOO_LARGE past mem_cap), or nowhere when fd is -1 and mem
 * is NULL (verify).
 */
struct pipe_out {
	int fd;
	const char *name;	/* for messages, or NULL */
	uint8_t *mem;
	size_t mem_cap;
};

/* What a run moved: bytes read and bytes written. */
struct pipe_sizes {
	uint64_t in_nbytes;
	uint64_t out_nbytes;
};

/*
 * Compresses the safetensors image in (read once, in order, so a pipe
 * works) into out; *sizes_ret (may be NULL) gets the sizes. The bytes depend on the input and the sizes in o only, never on
 * the thread count or the kernels.
 */
enum gauss_status pipeline_compress(const struct pipeline_opts *o,
				    const struct pipe_in *in,
				    const struct pipe_out *out,
				    struct pipe_sizes *sizes_ret,
				    struct errbuf *eb);

/*
 * Decompresses the .gauss stream in (read sequentially, so a pipe works)
 * into out. Every chunk checksum, the index and the XXH3-128 of the whole
 * original are verified; *sizes_ret (may be NULL) gets the sizes.
 */
enum gauss_status pipeline_decompress(const struct pipeline_opts *o,
				      const struct pipe_in *in,
				      const struct pipe_out *out,
				      struct pipe_sizes *sizes_ret,
				      struct errbuf *eb);

#endif /* GAUSS_PIPELINE_H */
