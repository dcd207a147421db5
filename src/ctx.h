/* SPDX-License-Identifier: MIT */
/* ctx.h: the inside of struct gauss_ctx, shared by gauss.c and reader.c. */
#ifndef GAUSS_CTX_H
#define GAUSS_CTX_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "gauss.h"
#include "error.h"
#include "pipeline.h"
#include "lossy.h"
#include "pool.h"

#define CTX_GMM_CACHE	64	/* workers whose gmm buffers are kept */

struct gauss_ctx {
	enum gauss_mode mode;
	unsigned threads;
	bool overwrite;
	bool direct;			/* O_DIRECT where allowed */
	gauss_progress_fn progress;
	void *progress_user;
	struct errbuf err;
	struct pool_cache cache;	/* pipeline buffers, reused by calls */
	struct pool_team *team;		/* worker threads, kept between calls */
	struct pipe_sizes last;		/* what the last call read, wrote */
	struct lossy_opts lossy;	/* options of GAUSS_MODE_GMM */
	/* lossy codec buffers, one per worker, kept between calls */
	struct gmm_scratch *gmm_cache[CTX_GMM_CACHE];
	char *layers;			/* lossy.layers, owned */
};

/* Clears the message of the previous call. */
void ctx_begin(struct gauss_ctx *ctx);

/* Sets the message of a failure and returns st. */
enum gauss_status ctx_fail(struct gauss_ctx *ctx, enum gauss_status st,
			   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An output file in the making: a temporary file beside its final name. */
struct outfile {
	char *path;		/* final name */
	char *tmp_path;		/* temporary name beside it */
	int fd;
	int slot;		/* in the table of gauss_abort_outputs() */
};

/*
 * Creates a temporary file beside path. Refuses an existing output unless
 * overwrite is set, and an output that is the input itself (in_sb, which
 * may be NULL).
 */
enum gauss_status outfile_open(struct gauss_ctx *ctx, const char *path,
			       const struct stat *in_sb, struct outfile *of);

/*
 * Syncs and renames the output into place (commit), or removes the
 * temporary file; either way of is closed.
 */
enum gauss_status outfile_close(struct gauss_ctx *ctx, struct outfile *of,
				bool commit);

/* The process umask, read without changing it for long. */
mode_t ctx_umask(void);

#endif /* GAUSS_CTX_H */
