/* SPDX-License-Identifier: MIT */
/*
 * cli.h: what the files of the command (src/cli/) share: options, the
 * progress line and totals, model directories. The command sees the library
 * only through gauss.h.
 */
#ifndef GAUSS_CLI_H
#define GAUSS_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "gauss.h"

#define EXIT_DATA 1
#define EXIT_USAGE 2

struct cli_opts {
	bool force;
	bool to_stdout;
	bool direct;
	bool json;
	bool raw;
	bool lossless;
	bool gmm;		/* --gmm: the lossy mode */
	const char *gmm_option;	/* the first lossy option given, or NULL */
	struct gauss_gmm_options gmm_opts;
	bool remove_input;	/* --rm (-k/--keep turns it off) */
	bool decompress;
	int verbosity;		/* 0 quiet, 1 normal, 2 verbose */
	unsigned threads;	/* 0: one per core */
	const char *output;	/* -o FILE, or NULL */
	char **operands;	/* the file names, in order */
	int operand_count;
};

/*
 * Set by the signal handler while a model directory is being written: the
 * progress callback then stops the library, and the tree is removed before
 * the command dies by that signal.
 */
extern volatile sig_atomic_t cli_stop_signal;

/*
 * Progress and totals of one command: a single line on standard error,
 * redrawn at most ten times a second, when it is a terminal and -q is not
 * given. "in" bytes are those read (safetensors for compress, .gauss for
 * decompress), "out" those written.
 */
struct progress {
	bool enabled;
	bool drawn;
	bool drawn_file;	/* a line with bytes of this file was drawn */
	bool decompress;
	const char *name;	/* the file being worked on */
	unsigned file_index, file_count;
	uint64_t job_total;	/* input bytes of the whole job; 0: unknown */
	uint64_t base_in, base_out;	/* of the files finished */
	uint64_t file_in, file_out;	/* of the file being worked on */
	double t0, last_draw;
};

double cli_now(void);
void progress_init(struct progress *p, bool enabled, bool decompress);
void progress_begin_file(struct progress *p, const char *name);
void progress_update(struct progress *p, uint64_t in_nbytes,
		     uint64_t out_nbytes);
void progress_end_file(struct progress *p, uint64_t in_nbytes,
		       uint64_t out_nbytes);
void progress_clear(struct progress *p);
/* For gauss_ctx_set_progress(); user is a struct progress. */
int progress_callback(void *user, uint64_t done_nbytes, uint64_t total_nbytes,
		      uint64_t out_nbytes);

/*
 * "IN -> OUT: A -> B bytes (P%), T s, R MB/sTAIL" on standard error (with
 * out NULL: "IN: ..."), where P is the compressed size as a percentage of
 * the original and R the original bytes per second.
 */
void print_summary(const char *in, const char *out, uint64_t in_nbytes,
		   uint64_t out_nbytes, bool decompress, double secs,
		   const char *tail);

/* "gauss: cannot WHAT 'PATH': REASON" from the context's message. */
int cli_fail(struct gauss_ctx *ctx, enum gauss_status st, const char *what,
	     const char *path);
/* "gauss: cannot WHAT 'PATH': FMT..." */
int cli_failf(const char *what, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* fsync()s the file (flags O_DIRECTORY: the directory) at path. */
int cli_sync_path(const char *path, int flags);

/* Sets mode (permission bits) and times of path to those of sb. */
int copy_metadata(const char *path, const struct stat *sb);

/*
 * Compresses (o->decompress: restores) the model directory in_dir into the
 * directory out_dir, as gauss(1) describes under MODEL DIRECTORIES. Prints
 * its own messages; returns 0 or EXIT_DATA. *in_nbytes_ret and
 * *out_nbytes_ret get the bytes of all files read and written.
 */
int tree_run(struct gauss_ctx *ctx, const struct cli_opts *o,
	     struct progress *p, const char *in_dir, const char *out_dir,
	     uint64_t *in_nbytes_ret, uint64_t *out_nbytes_ret,
	     unsigned *file_count_ret);

#endif /* GAUSS_CLI_H */
