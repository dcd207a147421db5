/* SPDX-License-Identifier: MIT */
/*
 * gauss.c: the public entry points: the context, argument checks, and the
 * safe-output protocol (temporary file beside the output, fsync, rename
 * only once complete, removal on any failure).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ctx.h"
#include "format.h"
#include "cpu.h"
#include "pipeline.h"
#include "banned.h"

const char *
gauss_version_string(void)
{
	return GAUSS_VERSION_STRING;
}

struct gauss_ctx *
gauss_ctx_new(void)
{
	struct gauss_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL)
		return NULL;
	ctx->mode = GAUSS_MODE_LOSSLESS;
	lossy_opts_default(&ctx->lossy);
	return ctx;
}

void
gauss_ctx_free(struct gauss_ctx *ctx)
{
	if (ctx == NULL)
		return;
	pool_team_free(ctx->team);
	pool_cache_clear(&ctx->cache);
	for (unsigned i = 0; i < CTX_GMM_CACHE; i++)
		gmm_scratch_free(ctx->gmm_cache[i]);
	free(ctx->layers);
	free(ctx);
}

enum gauss_status
gauss_ctx_set_mode(struct gauss_ctx *ctx, enum gauss_mode mode)
{
	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	if (mode != GAUSS_MODE_LOSSLESS && mode != GAUSS_MODE_GMM)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "unknown mode %d",
				(int)mode);
	ctx->mode = mode;
	ctx_begin(ctx);
	return GAUSS_OK;
}

void
gauss_gmm_options_default(struct gauss_gmm_options *o)
{
	struct lossy_opts l;

	if (o == NULL)
		return;
	lossy_opts_default(&l);
	*o = (struct gauss_gmm_options){
		.k = l.codec.k,
		.max_iter = l.codec.max_iter,
		.shard_threshold = l.shard_threshold,
		.shard_rows = l.shard_rows,
		.raw_threshold = l.raw_threshold,
		.max_error = 0,
		.seed = 0,
		.layers = NULL,
	};
}

enum gauss_status
gauss_ctx_set_gmm_options(struct gauss_ctx *ctx,
			  const struct gauss_gmm_options *o)
{
	char *layers = NULL;

	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	if (o == NULL)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "missing options");
	if (o->k < 1 || o->k > GMM_MAX_K)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "K must be 1 to %d, "
				"not %u", GMM_MAX_K, o->k);
	if (o->max_iter < 1)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "the iteration limit "
				"must be at least 1");
	if (o->shard_rows < 1)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "shards need at least "
				"1 row");
	if (!(o->max_error >= 0) || (o->max_error > 0 &&
	    gmm_scale_for(GAUSS_DTYPE_F32, o->max_error) == 0))
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "maximum error %g is "
				"out of range (0 for the default, or more than "
				"%g)", o->max_error, 0.5 / GMM_MAX_SCALE);
	if (o->layers != NULL && (layers = strdup(o->layers)) == NULL)
		return ctx_fail(ctx, GAUSS_E_NOMEM, "out of memory");
	free(ctx->layers);
	ctx->layers = layers;
	ctx->lossy.codec.k = o->k;
	ctx->lossy.codec.max_iter = o->max_iter;
	ctx->lossy.codec.max_error = o->max_error;
	ctx->lossy.codec.seed = o->seed;
	ctx->lossy.shard_threshold = o->shard_threshold;
	ctx->lossy.shard_rows = o->shard_rows;
	ctx->lossy.raw_threshold = o->raw_threshold;
	ctx->lossy.layers = layers;
	ctx_begin(ctx);
	return GAUSS_OK;
}

enum gauss_status
gauss_ctx_set_threads(struct gauss_ctx *ctx, unsigned threads)
{
	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx->threads = threads;
	ctx_begin(ctx);
	return GAUSS_OK;
}

enum gauss_status
gauss_ctx_set_overwrite(struct gauss_ctx *ctx, int overwrite)
{
	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx->overwrite = overwrite != 0;
	ctx_begin(ctx);
	return GAUSS_OK;
}

enum gauss_status
gauss_ctx_set_direct(struct gauss_ctx *ctx, int direct)
{
	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx->direct = direct != 0;
	ctx_begin(ctx);
	return GAUSS_OK;
}

enum gauss_status
gauss_ctx_set_progress(struct gauss_ctx *ctx, gauss_progress_fn fn,
		       void *user)
{
	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx->progress = fn;
	ctx->progress_user = user;
	ctx_begin(ctx);
	return GAUSS_OK;
}

const char *
gauss_ctx_error(const struct gauss_ctx *ctx)
{
	return ctx ? ctx->err.text : "";
}

enum gauss_status
ctx_fail(struct gauss_ctx *ctx, enum gauss_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->err.text, sizeof(ctx->err.text), fmt, ap);
	va_end(ap);
	return st;
}

void
ctx_begin(struct gauss_ctx *ctx)
{
	ctx->err.text[0] = '\0';
}

/* Finishes a failed call: makes sure a message exists. */
static enum gauss_status
ctx_end(struct gauss_ctx *ctx, enum gauss_status st)
{
	if (st != GAUSS_OK && ctx->err.text[0] == '\0')
		ctx_fail(ctx, st, "%s", gauss_strerror(st));
	return st;
}

/* The options of a call: the context's, and the kernels GAUSS_CPU asks. */
static enum gauss_status
pipeline_opts_from_ctx(struct gauss_ctx *ctx, struct pipeline_opts *o)
{
	pipeline_opts_default(o);
	o->threads = ctx->threads;
	o->progress = ctx->progress;
	o->progress_user = ctx->progress_user;
	o->cache = &ctx->cache;
	/* made on the first call; without it each call starts its threads */
	if (ctx->team == NULL)
		ctx->team = pool_team_new();
	o->team = ctx->team;
	o->direct = ctx->direct;
	o->lossy = ctx->lossy;
	o->lossy.on = ctx->mode == GAUSS_MODE_GMM;
	o->gmm_cache = ctx->gmm_cache;
	o->gmm_cache_n = CTX_GMM_CACHE;
	TRY(io_backend_from_env(&o->io, &ctx->err));
	return rans_kernels_select(&o->kernels, &ctx->err);
}

/* ---- input and output files ---- */

/*
 * An input: a file, or the standard input for "-"; its size is known when
 * it is a regular file read from its start, else it is read to its end.
 */
struct input {
	const char *name;	/* for messages */
	int fd;
	bool own;		/* opened here, closed by input_close() */
	uint64_t nbytes;	/* UINT64_MAX when unknown (a pipe) */
	struct stat sb;
};

static enum gauss_status
input_from_fd(struct gauss_ctx *ctx, int fd, const char *name,
	      struct input *in)
{
	off_t at;

	in->fd = fd;
	in->name = name;
	in->nbytes = UINT64_MAX;
	if (fstat(fd, &in->sb) != 0)
		return ctx_fail(ctx, GAUSS_E_IO, "'%s': %s", name,
				strerror(errno));
	if (S_ISDIR(in->sb.st_mode))
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "'%s' is a "
				"directory", name);
	at = lseek(fd, 0, SEEK_CUR);
	if (S_ISREG(in->sb.st_mode) && at == 0)
		in->nbytes = (uint64_t)in->sb.st_size;
	return GAUSS_OK;
}

static enum gauss_status
input_open(struct gauss_ctx *ctx, const char *path, struct input *in)
{
	enum gauss_status st;
	int fd;

	memset(in, 0, sizeof(*in));
	if (strcmp(path, "-") == 0)
		return input_from_fd(ctx, STDIN_FILENO, "standard input", in);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ctx_fail(ctx, GAUSS_E_IO, "'%s': %s", path,
				strerror(errno));
	st = input_from_fd(ctx, fd, path, in);
	if (st != GAUSS_OK) {
		close(fd);
		return st;
	}
	in->own = true;
	return GAUSS_OK;
}

static void
input_close(struct input *in)
{
	if (in->own)
		close(in->fd);
	in->own = false;
}

/*
 * Temporary outputs in progress, so that a signal handler can remove them
 * (gauss_abort_outputs()). A slot is claimed with an atomic exchange and its
 * path written before it is published, so the handler only reads whole
 * paths; unlink() is async-signal-safe.
 */
#define TEMP_SLOTS 16
static struct {
	int state;		/* 0 free, 1 being written, 2 published */
	char path[4096];
} temp_slots[TEMP_SLOTS];

static int
temp_register(const char *path)
{
	if (strlen(path) >= sizeof(temp_slots[0].path))
		return -1;
	for (int i = 0; i < TEMP_SLOTS; i++) {
		int expected = 0;

		if (__atomic_compare_exchange_n(&temp_slots[i].state, &expected,
						1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			memcpy(temp_slots[i].path, path, strlen(path) + 1);
			__atomic_store_n(&temp_slots[i].state, 2,
					 __ATOMIC_RELEASE);
			return i;
		}
	}
	return -1;
}

static void
temp_unregister(int slot)
{
	if (slot >= 0)
		__atomic_store_n(&temp_slots[slot].state, 0, __ATOMIC_RELEASE);
}

void
gauss_abort_outputs(void)
{
	for (int i = 0; i < TEMP_SLOTS; i++)
		if (__atomic_load_n(&temp_slots[i].state, __ATOMIC_ACQUIRE) == 2)
			unlink(temp_slots[i].path);
}


/*
 * Creates a temporary file beside path. Refuses an existing output unless
 * overwrite is set, and an output that is the input itself (in_sb).
 */
enum gauss_status
outfile_open(struct gauss_ctx *ctx, const char *path, const struct stat *in_sb,
	     struct outfile *of)
{
	struct stat sb;
	char *dir_copy, *base_copy;
	size_t n;

	memset(of, 0, sizeof(*of));
	of->fd = -1;
	of->slot = -1;
	if (stat(path, &sb) == 0) {
		if (in_sb && sb.st_dev == in_sb->st_dev &&
		    sb.st_ino == in_sb->st_ino)
			return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "output "
					"'%s' is the input file", path);
		if (!ctx->overwrite)
			return ctx_fail(ctx, GAUSS_E_EXISTS, "output '%s' "
					"already exists (use -f to "
					"overwrite)", path);
		if (!S_ISREG(sb.st_mode))
			return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "output "
					"'%s' exists and is not a regular "
					"file", path);
	}
	dir_copy = strdup(path);
	base_copy = strdup(path);
	of->path = strdup(path);
	if (dir_copy == NULL || base_copy == NULL || of->path == NULL) {
		free(dir_copy);
		free(base_copy);
		free(of->path);
		of->path = NULL;
		return ctx_fail(ctx, GAUSS_E_NOMEM, "out of memory");
	}
	n = strlen(path) + 32;
	of->tmp_path = malloc(n);
	if (of->tmp_path != NULL)
		snprintf(of->tmp_path, n, "%s/.%s.gauss-tmp-XXXXXX",
			 dirname(dir_copy), basename(base_copy));
	free(dir_copy);
	free(base_copy);
	if (of->tmp_path == NULL) {
		free(of->path);
		of->path = NULL;
		return ctx_fail(ctx, GAUSS_E_NOMEM, "out of memory");
	}
	of->fd = mkostemp(of->tmp_path, O_CLOEXEC);
	if (of->fd < 0) {
		const int e = errno;

		free(of->tmp_path);
		free(of->path);
		memset(of, 0, sizeof(*of));
		of->fd = -1;
		of->slot = -1;
		return ctx_fail(ctx, GAUSS_E_IO, "cannot create output '%s': "
				"%s", path, strerror(e));
	}
	of->slot = temp_register(of->tmp_path);
	fchmod(of->fd, 0644 & ~ctx_umask());
	return GAUSS_OK;
}

/* Makes a rename durable: fsync the directory holding path (best effort). */
static void
sync_parent_dir(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Syncs and renames into place (commit), or removes the temporary file. */
enum gauss_status
outfile_close(struct gauss_ctx *ctx, struct outfile *of, bool commit)
{
	enum gauss_status st = GAUSS_OK;

	if (of->fd < 0)
		return GAUSS_OK;
	if (commit && fsync(of->fd) != 0)
		st = ctx_fail(ctx, GAUSS_E_IO, "cannot sync '%s': %s",
			      of->path, strerror(errno));
	if (close(of->fd) != 0 && commit && st == GAUSS_OK)
		st = ctx_fail(ctx, GAUSS_E_IO, "cannot write '%s': %s",
			      of->path, strerror(errno));
	of->fd = -1;
	if (commit && st == GAUSS_OK && !ctx->overwrite &&
	    access(of->path, F_OK) == 0)
		st = ctx_fail(ctx, GAUSS_E_EXISTS, "output '%s' appeared "
			      "while working (use -f to overwrite)", of->path);
	if (commit && st == GAUSS_OK && rename(of->tmp_path, of->path) != 0)
		st = ctx_fail(ctx, GAUSS_E_IO, "cannot rename to '%s': %s",
			      of->path, strerror(errno));
	if (commit && st == GAUSS_OK)
		sync_parent_dir(of->path);
	if (!commit || st != GAUSS_OK)
		unlink(of->tmp_path);
	temp_unregister(of->slot);
	free(of->tmp_path);
	free(of->path);
	of->tmp_path = NULL;
	of->path = NULL;
	return st;
}

mode_t
ctx_umask(void)
{
	const mode_t m = umask(0);

	umask(m);
	return m;
}

/*
 * An output: a temporary file renamed into place once complete, or the
 * standard output for "-" (or a caller's descriptor), written as it comes.
 */
struct output {
	struct outfile of;
	int fd;
	bool is_file;
	const char *name;	/* for messages */
};

static enum gauss_status
output_open(struct gauss_ctx *ctx, const char *path, const struct input *in,
	    struct output *out)
{
	memset(out, 0, sizeof(*out));
	out->of.fd = -1;
	out->of.slot = -1;
	if (strcmp(path, "-") == 0) {
		out->fd = STDOUT_FILENO;
		out->name = "standard output";
		return GAUSS_OK;
	}
	out->name = path;
	TRY(outfile_open(ctx, path, &in->sb, &out->of));
	out->fd = out->of.fd;
	out->is_file = true;
	return GAUSS_OK;
}

/* Commits (or, after a failure, removes) a file output. */
static enum gauss_status
output_close(struct gauss_ctx *ctx, struct output *out, bool commit)
{
	return out->is_file ? outfile_close(ctx, &out->of, commit) : GAUSS_OK;
}

/*
 * Decodes what compress just wrote to a file, before it is renamed into
 * place: the restored size and XXH3-128 must match the original's, read as
 * it was compressed. A bug in the encoder then costs an error, never a
 * backup that cannot be restored. (An output that cannot be read back, a
 * pipe, has each block decoded and checked as it is coded instead.)
 */
static enum gauss_status
verify_written(struct gauss_ctx *ctx, const struct outfile *of,
	       uint64_t original_nbytes)
{
	const struct pipe_out discard = { .fd = -1 };
	struct pipe_sizes sizes = { 0 };
	struct pipeline_opts o;
	struct pipe_in in;
	enum gauss_status st;
	const int fd = open(of->tmp_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ctx_fail(ctx, GAUSS_E_IO, "cannot reopen '%s': %s",
				of->tmp_path, strerror(errno));
	TRY(pipeline_opts_from_ctx(ctx, &o));
	o.progress = NULL;
	in = (struct pipe_in){ .fd = fd, .nbytes = UINT64_MAX };
	st = pipeline_decompress(&o, &in, &discard, &sizes, &ctx->err);
	close(fd);
	if (st == GAUSS_OK && sizes.out_nbytes != original_nbytes)
		st = GAUSS_E_CORRUPT;
	if (st != GAUSS_OK)
		return err_prefix(&ctx->err, GAUSS_E_CORRUPT, "output failed "
				  "its check after compression (not written)");
	return GAUSS_OK;
}

/*
 * Puts the input's name in front of a failure's message, making sure there
 * is a reason after it (an allocation that failed deep down leaves none).
 */
static void
name_failure(struct gauss_ctx *ctx, enum gauss_status st, const char *name)
{
	if (ctx->err.text[0] == '\0')
		ctx_fail(ctx, st, "%s", gauss_strerror(st));
	err_prefix(&ctx->err, st, "'%s'", name);
}

/* Compresses in to out; the caller opens both and closes in. */
static enum gauss_status
compress_io(struct gauss_ctx *ctx, const struct input *in,
	    struct output *out)
{
	struct pipe_sizes sizes = { 0 };
	struct pipeline_opts o;
	enum gauss_status st;

	st = pipeline_opts_from_ctx(ctx, &o);
	o.check_blocks = !out->is_file;
	if (st == GAUSS_OK) {
		const struct pipe_in pin = { .fd = in->fd,
					     .nbytes = in->nbytes };
		const struct pipe_out pout = { .fd = out->fd,
					       .name = out->name };

		st = pipeline_compress(&o, &pin, &pout, &sizes, &ctx->err);
	}
	if (st == GAUSS_OK && out->is_file)
		st = verify_written(ctx, &out->of, sizes.in_nbytes);
	if (st == GAUSS_OK)
		ctx->last = sizes;
	else
		name_failure(ctx, st, in->name);
	return ctx_end(ctx, st);
}

/* Decompresses in to out (or checks it only, out NULL). */
static enum gauss_status
decompress_io(struct gauss_ctx *ctx, const struct input *in,
	      struct output *out)
{
	const struct pipe_in pin = { .fd = in->fd, .nbytes = in->nbytes };
	const struct pipe_out pout = { .fd = out ? out->fd : -1,
				       .name = out ? out->name : NULL };
	struct pipe_sizes sizes = { 0 };
	struct pipeline_opts o;
	enum gauss_status st;

	st = pipeline_opts_from_ctx(ctx, &o);
	if (st == GAUSS_OK)
		st = pipeline_decompress(&o, &pin, &pout, &sizes, &ctx->err);
	if (st == GAUSS_OK)
		ctx->last = sizes;
	else
		name_failure(ctx, st, in->name);
	return ctx_end(ctx, st);
}

typedef enum gauss_status (*coder_fn)(struct gauss_ctx *ctx,
				      const struct input *in,
				      struct output *out);

/* Opens in_path and out_path, runs code, commits or removes the output. */
static enum gauss_status
code_paths(struct gauss_ctx *ctx, const char *in_path, const char *out_path,
	   coder_fn code)
{
	struct input in;
	struct output out;
	enum gauss_status st, cst;

	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx_begin(ctx);
	ctx->last = (struct pipe_sizes){ 0 };
	if (in_path == NULL || out_path == NULL)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "missing file name");
	TRY(input_open(ctx, in_path, &in));
	st = output_open(ctx, out_path, &in, &out);
	if (st == GAUSS_OK)
		st = code(ctx, &in, &out);
	input_close(&in);
	cst = output_close(ctx, &out, st == GAUSS_OK);
	return st != GAUSS_OK ? st : cst;
}

enum gauss_status
gauss_compress_file(struct gauss_ctx *ctx, const char *in_path,
		    const char *out_path)
{
	return code_paths(ctx, in_path, out_path, compress_io);
}

enum gauss_status
gauss_decompress_file(struct gauss_ctx *ctx, const char *in_path,
		      const char *out_path)
{
	return code_paths(ctx, in_path, out_path, decompress_io);
}

enum gauss_status
gauss_verify_file(struct gauss_ctx *ctx, const char *path)
{
	struct input in;
	enum gauss_status st;

	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx_begin(ctx);
	ctx->last = (struct pipe_sizes){ 0 };
	if (path == NULL)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "missing file name");
	TRY(input_open(ctx, path, &in));
	st = decompress_io(ctx, &in, NULL);
	input_close(&in);
	return st;
}

/* With descriptors: the caller's, read and written from where they are. */
static enum gauss_status
code_fds(struct gauss_ctx *ctx, int in_fd, int out_fd, coder_fn code)
{
	struct input in;
	struct output out = { .fd = out_fd, .of = { .fd = -1, .slot = -1 },
			      .name = "output" };

	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx_begin(ctx);
	ctx->last = (struct pipe_sizes){ 0 };
	if (in_fd < 0 || out_fd < 0)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "invalid file "
				"descriptor");
	memset(&in, 0, sizeof(in));
	TRY(input_from_fd(ctx, in_fd, "input", &in));
	return code(ctx, &in, &out);
}

enum gauss_status
gauss_compress_fd(struct gauss_ctx *ctx, int in_fd, int out_fd)
{
	return code_fds(ctx, in_fd, out_fd, compress_io);
}

enum gauss_status
gauss_decompress_fd(struct gauss_ctx *ctx, int in_fd, int out_fd)
{
	return code_fds(ctx, in_fd, out_fd, decompress_io);
}

enum gauss_status
gauss_ctx_last_sizes(const struct gauss_ctx *ctx, uint64_t *in_nbytes_ret,
		     uint64_t *out_nbytes_ret)
{
	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	if (in_nbytes_ret)
		*in_nbytes_ret = ctx->last.in_nbytes;
	if (out_nbytes_ret)
		*out_nbytes_ret = ctx->last.out_nbytes;
	return GAUSS_OK;
}

/* The public codec numbers are the frame kinds of gauss(5). */
_Static_assert((int)GAUSS_CODEC_STORED == FMT_KIND_STORED &&
	       (int)GAUSS_CODEC_BYTES == FMT_KIND_BYTES &&
	       (int)GAUSS_CODEC_EXP_BF16 == FMT_KIND_EXP_BF16 &&
	       (int)GAUSS_CODEC_EXP_F16 == FMT_KIND_EXP_F16 &&
	       (int)GAUSS_CODEC_EXP_F32 == FMT_KIND_EXP_F32 &&
	       (int)GAUSS_CODEC_GMM_BF16 == FMT_KIND_GMM_BF16 &&
	       (int)GAUSS_CODEC_GMM_F16 == FMT_KIND_GMM_F16 &&
	       (int)GAUSS_CODEC_GMM_F32 == FMT_KIND_GMM_F32,
	       "enum gauss_codec follows enum fmt_kind");

const char *
gauss_codec_name(enum gauss_codec codec)
{
	if (!fmt_kind_known((unsigned)codec, FMT_VERSION_MAX))
		return "unknown";
	return fmt_kind_name((enum fmt_kind)codec);
}

const char *
gauss_dtype_name(enum gauss_dtype dtype)
{
	static const char *const names[] = {
		[GAUSS_DTYPE_BOOL] = "BOOL", [GAUSS_DTYPE_U8] = "U8",
		[GAUSS_DTYPE_I8] = "I8", [GAUSS_DTYPE_F8_E4M3] = "F8_E4M3",
		[GAUSS_DTYPE_F8_E5M2] = "F8_E5M2", [GAUSS_DTYPE_I16] = "I16",
		[GAUSS_DTYPE_U16] = "U16", [GAUSS_DTYPE_F16] = "F16",
		[GAUSS_DTYPE_BF16] = "BF16", [GAUSS_DTYPE_I32] = "I32",
		[GAUSS_DTYPE_U32] = "U32", [GAUSS_DTYPE_F32] = "F32",
		[GAUSS_DTYPE_I64] = "I64", [GAUSS_DTYPE_U64] = "U64",
		[GAUSS_DTYPE_F64] = "F64",
	};

	if ((unsigned)dtype < sizeof(names) / sizeof(names[0]))
		return names[dtype];
	return "unknown";
}

/* ---- in memory ---- */

/*
 * Overhead of a .gauss file over its original: header, END, footer and the
 * index count, plus per segment its frame head, first chunk record head and
 * checksum and index entry (at most 1 + 10 + 10 + 8 + 21 = 50 bytes); every
 * segment but the header and gaps is a tensor whose header entry alone
 * takes more than 40 bytes, and a gap follows a tensor, so segments cost
 * less than 2.5 bytes per original byte. Further chunks cost 18 bytes per
 * 2^12 original bytes at most and a table 1024 bytes per 2^13.
 */
size_t
gauss_compress_bound(size_t in_nbytes)
{
	const size_t fixed = FMT_HEADER_NBYTES + 1 + FMT_FOOTER_NBYTES + 10 +
			     3 * 50;

	if (in_nbytes > (SIZE_MAX - fixed) / 4)
		return SIZE_MAX;
	return 4 * in_nbytes + fixed;
}

typedef enum gauss_status (*pipeline_fn)(const struct pipeline_opts *o,
					 const struct pipe_in *in,
					 const struct pipe_out *out,
					 struct pipe_sizes *sizes_ret,
					 struct errbuf *eb);

/* Runs a pipeline from memory to memory (argument checks done). */
static enum gauss_status
code_buffer(struct gauss_ctx *ctx, pipeline_fn run, const void *in,
	    size_t in_nbytes, void *out, size_t out_cap,
	    size_t *out_nbytes_ret)
{
	const struct pipe_in pin = {
		.fd = -1, .mem = in, .nbytes = in_nbytes,
	};
	const struct pipe_out pout = { .fd = -1, .mem = out,
				       .mem_cap = out_cap };
	struct pipe_sizes sizes = { 0 };
	struct pipeline_opts o;
	enum gauss_status st;

	st = pipeline_opts_from_ctx(ctx, &o);
	o.progress = NULL;
	if (st == GAUSS_OK)
		st = run(&o, &pin, &pout, &sizes, &ctx->err);
	if (st == GAUSS_OK) {
		ctx->last = sizes;
		*out_nbytes_ret = (size_t)sizes.out_nbytes;
	}
	return ctx_end(ctx, st);
}

enum gauss_status
gauss_compress_buffer(struct gauss_ctx *ctx, const void *in,
		      size_t in_nbytes, void *out, size_t out_cap,
		      size_t *out_nbytes_ret)
{
	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx_begin(ctx);
	ctx->last = (struct pipe_sizes){ 0 };
	if ((in == NULL && in_nbytes) || out == NULL || out_nbytes_ret == NULL)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "missing buffer");
	return code_buffer(ctx, pipeline_compress, in, in_nbytes, out,
			   out_cap, out_nbytes_ret);
}

enum gauss_status
gauss_decompressed_size(const void *in, size_t in_nbytes, uint64_t *size_ret)
{
	struct fmt_footer f;

	if (in == NULL || size_ret == NULL || in_nbytes < FMT_FOOTER_NBYTES)
		return GAUSS_E_INVALID_ARG;
	TRY(fmt_footer_read((const uint8_t *)in + in_nbytes -
				    FMT_FOOTER_NBYTES, in_nbytes, &f, NULL));
	*size_ret = f.original_nbytes;
	return GAUSS_OK;
}

enum gauss_status
gauss_decompress_buffer(struct gauss_ctx *ctx, const void *in,
			size_t in_nbytes, void *out, size_t out_cap,
			size_t *out_nbytes_ret)
{
	if (ctx == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx_begin(ctx);
	ctx->last = (struct pipe_sizes){ 0 };
	if ((in == NULL && in_nbytes) || (out == NULL && out_cap) ||
	    out_nbytes_ret == NULL)
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "missing buffer");
	return code_buffer(ctx, pipeline_decompress, in, in_nbytes, out,
			   out_cap, out_nbytes_ret);
}
