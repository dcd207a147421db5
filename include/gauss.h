/* SPDX-License-Identifier: MIT */
/*
 * gauss.h: the whole public API of libgauss, which compresses safetensors
 * checkpoints without loss (and, on request, with a bounded error) into the
 * .gauss container described in gauss(5), and restores them byte for byte.
 *
 * Conventions:
 * - Every call that can fail returns enum gauss_status; GAUSS_OK is 0.
 *   Sizes and handles come back through *_ret pointers.
 * - A struct gauss_ctx holds options and, after a failure, a message that
 *   names the file, the tensor and what is wrong (gauss_ctx_error()). The
 *   library never prints, exits or aborts because of its input.
 * - A context is used by one thread at a time; distinct contexts are
 *   independent. The library may start worker threads of its own.
 * - Free functions accept NULL.
 */
#ifndef GAUSS_H
#define GAUSS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(GAUSS_BUILDING_LIB) && defined(__GNUC__)
#define GAUSS_API __attribute__((visibility("default")))
#else
#define GAUSS_API
#endif

#define GAUSS_VERSION_MAJOR 0
#define GAUSS_VERSION_MINOR 1
#define GAUSS_VERSION_PATCH 0

/* Status codes. Values are pinned; new ones are appended. */
enum gauss_status {
	GAUSS_OK = 0,
	GAUSS_E_NOMEM = 1,		/* an allocation failed */
	GAUSS_E_INVALID_ARG = 2,	/* a caller's argument is wrong */
	GAUSS_E_IO = 3,			/* a read, write, open or sync failed */
	GAUSS_E_CORRUPT = 4,		/* a .gauss file is damaged */
	GAUSS_E_CHECKSUM = 5,		/* decoded data fails its checksum */
	GAUSS_E_UNSUPPORTED_VERSION = 6, /* a .gauss file of another version */
	GAUSS_E_TOO_LARGE = 7,		/* a size beyond what gauss handles */
	GAUSS_E_BAD_INPUT = 8,		/* the input is not valid safetensors */
	GAUSS_E_EXISTS = 9,		/* the output exists; overwrite not set */
	GAUSS_E_NOT_FOUND = 10,		/* no tensor of that name */
	GAUSS_E_INTERRUPTED = 11,	/* stopped by a signal or a callback */
};

/* Returns a constant, lowercase description of a status; never NULL. */
GAUSS_API const char *gauss_strerror(enum gauss_status status);

/* Returns the library version as "MAJOR.MINOR.PATCH". */
GAUSS_API const char *gauss_version_string(void);

/* Compression modes. */
enum gauss_mode {
	GAUSS_MODE_LOSSLESS = 0,	/* bit-exact (the default) */
	GAUSS_MODE_GMM = 1,		/* lossy Gaussian mixture (--gmm) */
};

/*
 * Progress callback: called from the thread that made the call, with the
 * original bytes processed so far and the total (0 if unknown, as from a
 * pipe). Return non-zero to stop the operation with GAUSS_E_INTERRUPTED.
 */
typedef int (*gauss_progress_fn)(void *user, uint64_t done_nbytes,
				 uint64_t total_nbytes, uint64_t out_nbytes);

struct gauss_ctx;

/*
 * Allocates a context with default options: lossless mode, overwrite off,
 * all cores. Returns NULL when memory is short.
 */
GAUSS_API struct gauss_ctx *gauss_ctx_new(void);

/*
 * Frees a context. A context keeps the worker threads of its calls, asleep
 * between calls (after a short spin), until it is freed; a child process
 * made with fork() should use a context of its own.
 */
GAUSS_API void gauss_ctx_free(struct gauss_ctx *ctx);

/*
 * Chooses the compression mode; GAUSS_E_INVALID_ARG for an unknown mode.
 * In GAUSS_MODE_GMM the float tensors the lossy options select (below) are
 * coded with a bounded error; everything else stays bit-exact.
 */
GAUSS_API enum gauss_status gauss_ctx_set_mode(struct gauss_ctx *ctx,
					       enum gauss_mode mode);

/*
 * Options of the lossy mode, with the original gauss's names and defaults.
 * A tensor is coded lossily when it is BF16, F16 or F32, has at least two
 * dimensions and raw_threshold elements, and is named in layers (when
 * layers is not NULL); each row shard of it gets its own mixture, and
 * every value decodes within 1/(2S) of its original (NaN, infinities and
 * values that would not are kept exactly).
 */
struct gauss_gmm_options {
	unsigned k;			/* components, 1 to 255 (16) */
	unsigned max_iter;		/* hard-EM iterations, >= 1 (100) */
	uint64_t shard_threshold;	/* more elements: row shards (5000000) */
	uint64_t shard_rows;		/* rows per shard, >= 1 (4096) */
	uint64_t raw_threshold;		/* fewer elements: lossless (32768) */
	double max_error;		/* 0: S of the dtype (1000 for F32 and
					   F16, 128 for BF16); else the largest
					   error allowed, S = ceil(1 / (2E)) */
	uint64_t seed;			/* of the fit's subsample (0) */
	const char *layers;		/* comma-separated tensor names, or
					   NULL for every tensor (copied) */
};

/* Fills o with the defaults above. */
GAUSS_API void gauss_gmm_options_default(struct gauss_gmm_options *o);

/*
 * Sets the lossy mode's options (used in GAUSS_MODE_GMM);
 * GAUSS_E_INVALID_ARG with a message for a value out of range.
 */
GAUSS_API enum gauss_status gauss_ctx_set_gmm_options(
	struct gauss_ctx *ctx, const struct gauss_gmm_options *o);

/* Number of worker threads; 0 means one per online CPU (the default). */
GAUSS_API enum gauss_status gauss_ctx_set_threads(struct gauss_ctx *ctx,
						  unsigned threads);

/* Whether an existing output file may be replaced (default: no). */
GAUSS_API enum gauss_status gauss_ctx_set_overwrite(struct gauss_ctx *ctx,
						    int overwrite);

/*
 * With direct non-zero, files are read and written with O_DIRECT (bypassing
 * the page cache) where their file system allows it, silently not where it
 * does not. Off by default. Only the io_uring backend honours it; the
 * POSIX backend (GAUSS_IO=posix, or where io_uring is refused) ignores it.
 */
GAUSS_API enum gauss_status gauss_ctx_set_direct(struct gauss_ctx *ctx,
						 int direct);

/*
 * Installs (or, with fn NULL, removes) a progress callback. Its last
 * argument counts .gauss bytes: written so far when compressing, read so
 * far when decompressing. The buffer functions never call it.
 */
GAUSS_API enum gauss_status gauss_ctx_set_progress(struct gauss_ctx *ctx,
						   gauss_progress_fn fn,
						   void *user);

/*
 * Returns the message of the last failure of a call made with ctx, for
 * example "tensor 'fc.weight': chunk 2: checksum mismatch", or "" when
 * the last call succeeded (a setter that succeeds clears it too). The
 * string lives until the next call on ctx.
 */
GAUSS_API const char *gauss_ctx_error(const struct gauss_ctx *ctx);

/*
 * Compresses the safetensors file at in_path into out_path. The output is
 * written to a temporary file beside out_path and renamed into place only
 * once complete; on failure nothing is left at out_path and the input is
 * untouched. The path "-" names the standard input (output), read (written)
 * in order as a pipe; the input may also be a FIFO. Returns GAUSS_OK, GAUSS_E_BAD_INPUT for an input that is not
 * valid safetensors, GAUSS_E_EXISTS when out_path exists and overwrite is
 * off, GAUSS_E_IO, GAUSS_E_NOMEM or GAUSS_E_INVALID_ARG.
 */
GAUSS_API enum gauss_status gauss_compress_file(struct gauss_ctx *ctx,
						const char *in_path,
						const char *out_path);

/*
 * Restores the original file from the .gauss file at in_path into out_path,
 * byte for byte, checking every chunk checksum and the checksum of the whole
 * original before the output is renamed into place. Returns GAUSS_OK,
 * GAUSS_E_CORRUPT, GAUSS_E_CHECKSUM, GAUSS_E_UNSUPPORTED_VERSION,
 * GAUSS_E_EXISTS, GAUSS_E_IO, GAUSS_E_NOMEM or GAUSS_E_INVALID_ARG.
 */
GAUSS_API enum gauss_status gauss_decompress_file(struct gauss_ctx *ctx,
						  const char *in_path,
						  const char *out_path);

/*
 * The same with descriptors: compresses (decompresses) everything in_fd
 * holds from its current offset to its end, a pipe, a socket or a file,
 * and writes the result to out_fd sequentially from its current offset.
 * Nothing is atomic here: after a failure out_fd may hold part of the
 * output, which the caller must discard. Compression decodes each block
 * again as it is coded, since the output cannot be read back. A regular
 * file read from offset 0 is checked against its size; anything else is
 * read to its end. Neither descriptor is closed.
 */
GAUSS_API enum gauss_status gauss_compress_fd(struct gauss_ctx *ctx,
					      int in_fd, int out_fd);
GAUSS_API enum gauss_status gauss_decompress_fd(struct gauss_ctx *ctx,
						int in_fd, int out_fd);

/*
 * After a successful compress, decompress or verify (of files, streams or
 * descriptors) made with ctx: the bytes it read and wrote (restored, for
 * verify). Zero after a failure.
 */
GAUSS_API enum gauss_status gauss_ctx_last_sizes(const struct gauss_ctx *ctx,
						 uint64_t *in_nbytes_ret,
						 uint64_t *out_nbytes_ret);

/*
 * Decodes the whole .gauss file at path and checks every checksum, writing
 * nothing. Returns GAUSS_OK only if the file is intact; otherwise the
 * status gauss_decompress_file() would give.
 */
GAUSS_API enum gauss_status gauss_verify_file(struct gauss_ctx *ctx,
					      const char *path);

/*
 * In-memory forms, for callers that hold the data already (and for
 * benchmarks): no file, no temporary, no progress callback.
 *
 * gauss_compress_bound() is the most bytes gauss_compress_buffer() can
 * write for in_nbytes bytes of input. gauss_compress_buffer() compresses
 * the safetensors image in[0, in_nbytes) into out (out_cap bytes) and sets
 * *out_nbytes_ret; GAUSS_E_TOO_LARGE when out_cap is too small. Unlike
 * gauss_compress_file(), it does not decode its output again: a caller who
 * keeps only the compressed image should check it with
 * gauss_decompress_buffer().
 *
 * gauss_decompressed_size() reads the original size from the footer of a
 * .gauss image (without checking the rest). gauss_decompress_buffer()
 * restores the original into out (out_cap bytes, at least that size),
 * verifying every checksum as gauss_decompress_file() does.
 */
GAUSS_API size_t gauss_compress_bound(size_t in_nbytes);
GAUSS_API enum gauss_status gauss_compress_buffer(struct gauss_ctx *ctx,
						  const void *in,
						  size_t in_nbytes, void *out,
						  size_t out_cap,
						  size_t *out_nbytes_ret);
GAUSS_API enum gauss_status gauss_decompressed_size(const void *in,
						    size_t in_nbytes,
						    uint64_t *size_ret);
GAUSS_API enum gauss_status gauss_decompress_buffer(struct gauss_ctx *ctx,
						    const void *in,
						    size_t in_nbytes,
						    void *out, size_t out_cap,
						    size_t *out_nbytes_ret);

/*
 * Removes the temporary files of every output this process is writing.
 * Async-signal-safe: meant for a SIGINT or SIGTERM handler that exits right
 * after, so that an interrupted gauss leaves nothing behind. Up to 16
 * outputs written at the same time are tracked (beyond that an output is
 * still written safely, but not removed by this function).
 */
GAUSS_API void gauss_abort_outputs(void);

/* Element types of safetensors, in the order of gauss(5). */
enum gauss_dtype {
	GAUSS_DTYPE_BOOL = 0,
	GAUSS_DTYPE_U8, GAUSS_DTYPE_I8,
	GAUSS_DTYPE_F8_E4M3, GAUSS_DTYPE_F8_E5M2,
	GAUSS_DTYPE_I16, GAUSS_DTYPE_U16, GAUSS_DTYPE_F16, GAUSS_DTYPE_BF16,
	GAUSS_DTYPE_I32, GAUSS_DTYPE_U32, GAUSS_DTYPE_F32,
	GAUSS_DTYPE_I64, GAUSS_DTYPE_U64, GAUSS_DTYPE_F64,
};

/* How a tensor's bytes are kept in a .gauss file. */
enum gauss_codec {
	GAUSS_CODEC_STORED = 0,		/* the bytes as they are */
	GAUSS_CODEC_BYTES = 1,		/* whole bytes under one rANS table */
	GAUSS_CODEC_EXP_BF16 = 2,	/* exponent rANS + raw sign/mantissa */
	GAUSS_CODEC_EXP_F16 = 3,
	GAUSS_CODEC_EXP_F32 = 4,
	GAUSS_CODEC_GMM_BF16 = 5,	/* lossy: Gaussian mixture + rANS */
	GAUSS_CODEC_GMM_F16 = 6,
	GAUSS_CODEC_GMM_F32 = 7,
};

/* Returns the name of a codec ("stored", "exp-bf16", ...); never NULL. */
GAUSS_API const char *gauss_codec_name(enum gauss_codec codec);

/* Returns the safetensors name of a dtype ("BF16", ...); never NULL. */
GAUSS_API const char *gauss_dtype_name(enum gauss_dtype dtype);

/* What a reader knows of one tensor; strings and arrays live with the reader. */
struct gauss_tensor_info {
	const char *name;
	enum gauss_dtype dtype;
	unsigned ndim;
	const uint64_t *shape;		/* ndim entries */
	uint64_t element_count;
	uint64_t offset;		/* in the original file */
	uint64_t nbytes;		/* original bytes */
	uint64_t stored_nbytes;		/* bytes in the .gauss file */
	enum gauss_codec codec;
	double exponent_entropy;	/* bits per element of the stored
					   tables; negative when not coded */
	/* lossy codecs only (zero otherwise), measured by compression: */
	unsigned gmm_k;			/* mixture components */
	uint32_t gmm_scale;		/* S; the bound is 1 / (2 S) */
	double max_abs_error;		/* largest error of a decoded value */
	double rms_error;		/* over the finite values */
	double value_std;		/* of the original finite values */
};

/* Totals of a .gauss file. */
struct gauss_file_info {
	unsigned format_version;
	uint64_t original_nbytes;	/* size of the original file */
	uint64_t compressed_nbytes;	/* size of the .gauss file */
	uint64_t header_nbytes;		/* safetensors header incl. its length */
	uint64_t tensor_count;
	uint64_t chunk_count;		/* records: chunks, and the shards of
					   lossy tensors */
};

struct gauss_reader;

/*
 * Opens a .gauss file for random access: reads the footer, the index and the
 * safetensors header, nothing else. Returns GAUSS_OK and a reader in
 * *reader_ret, or GAUSS_E_IO, GAUSS_E_CORRUPT, GAUSS_E_CHECKSUM,
 * GAUSS_E_UNSUPPORTED_VERSION, GAUSS_E_NOMEM, or GAUSS_E_INVALID_ARG for a
 * path that is not a regular file. The reader makes its calls with ctx
 * (their messages go there): close it before freeing ctx, and do not use
 * ctx for another call while the reader is in use from another thread.
 */
GAUSS_API enum gauss_status gauss_reader_open(struct gauss_ctx *ctx,
					      const char *path,
					      struct gauss_reader **reader_ret);

/* Closes a reader. */
GAUSS_API void gauss_reader_close(struct gauss_reader *reader);

/* Fills *info_ret with the file's totals. */
GAUSS_API enum gauss_status gauss_reader_file_info(
	struct gauss_reader *reader, struct gauss_file_info *info_ret);

/* Number of tensors, in the order of the original header. */
GAUSS_API size_t gauss_reader_tensor_count(const struct gauss_reader *reader);

/*
 * Fills *info_ret for tensor index; GAUSS_E_INVALID_ARG if out of range.
 * The exponent entropy of a coded tensor is measured on first request by
 * reading its frame, so this can also fail with GAUSS_E_IO or
 * GAUSS_E_CORRUPT.
 */
GAUSS_API enum gauss_status gauss_reader_tensor_info(
	struct gauss_reader *reader, size_t index,
	struct gauss_tensor_info *info_ret);

/* Finds a tensor by name; GAUSS_E_NOT_FOUND if there is none. */
GAUSS_API enum gauss_status gauss_reader_find(struct gauss_reader *reader,
					      const char *name,
					      size_t *index_ret);

/*
 * Decodes elements [first, first + count) of tensor index into buf, which
 * must hold count elements of the tensor's dtype (buf_nbytes is checked).
 * Only the chunks holding those elements are read, and each is verified
 * against its checksum. Returns GAUSS_OK, GAUSS_E_INVALID_ARG for a range
 * or buffer that does not fit, GAUSS_E_CORRUPT, GAUSS_E_CHECKSUM, GAUSS_E_IO.
 */
GAUSS_API enum gauss_status gauss_reader_read(struct gauss_reader *reader,
					      size_t index, uint64_t first,
					      uint64_t count, void *buf,
					      size_t buf_nbytes);

/*
 * Writes tensor index to out_path as a safetensors file holding only that
 * tensor (its name, dtype and shape, at data offset 0, with the original's
 * __metadata__), or with raw non-zero as its bare bytes. Only the footer,
 * the index, the header and that tensor's chunks are read, each chunk
 * checked against its checksum; memory stays at one block whatever the
 * tensor's size. The output is made as by gauss_compress_file() (a
 * temporary file renamed into place; "-" for the standard output).
 */
GAUSS_API enum gauss_status gauss_reader_extract(struct gauss_reader *reader,
						 size_t index,
						 const char *out_path,
						 int raw);

#ifdef __cplusplus
}
#endif

#endif /* GAUSS_H */
