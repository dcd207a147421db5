/* SPDX-License-Identifier: MIT */
/* ctx.h: the inside of struct gauss_ctx, shared by gauss.c and reader.c. */
#ifndef GAUSS_CTX_H
#define GAUSS_CTX_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include "gauss.h"
#include "error.h"
#include "pipeline.h"
#include "pool.h"

struct gauss_ctx {
	enum gauss_mode mode;
	unsigned threads;
	bool overwrite;
	bool direct;			/* O_DIRECT where allowed */
	gauss_progress_fn progress;
	void *progress_user;
	struct errbuf err;
	struct pool_cache cache;	/* pipeline buffers, reused by calls */
	struct pipe_sizes last;		/* what the last call read, wrote */
};

/* Clears the message of the previous call. */
void ctx_begin(struct gauss_ctx *ctx);

/* Sets the message of a failure and returns st. */
enum gauss_status ctx_fail(struct gauss_ctx *ctx, enum gauss_status st,
			   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The process umask, read without changing it for long. */
mode_t ctx_umask(void);

#endif /* GAUSS_CTX_H */
