/* SPDX-License-Identifier: MIT */
/*
 * speed.c: gauss-speed, in-memory speed of gauss against memcpy, the
 * htscodecs rANS pipeline that does gauss's job, and zstd, on each file.
 *
 * Everything runs on data in memory: the file is read whole first, and the
 * output buffers are written once before any timing, so page faults are
 * not timed. Each measurement is repeated: one untimed warm-up round, whose
 * results are checked byte for byte against the input, then --runs timed
 * rounds. A round runs every measurement once, in a fixed order, so that
 * peers are measured close together in time on a noisy machine; a sample
 * repeats a short call until it lasts --min-ms, and each reported time is
 * the median of the samples.
 *
 * Measurements, with "1" for one thread and "all" for --threads threads:
 *   memcpy_{1,all}        memcpy of the whole file (slices with "all")
 *   gauss_{c,d}_{1,all}   gauss_compress_buffer / gauss_decompress_buffer
 *   hts_{c,d}_{1,all}     the htscodecs pipeline, below
 *   zstd{1,3}_{c,d}       ZSTD_compressCCtx at level 1 and 3, and back
 *   spin_{1,all}          each thread runs the same fixed integer loop
 *
 * The htscodecs pipeline does gauss's job with htscodecs' fastest order-0
 * coder (rans_compress_to_4x16 with RANS_ORDER_X32: 32 interleaved states,
 * SIMD chosen by htscodecs at run time): each BF16 tensor is cut into
 * pieces of 2^18 values (gauss's default 512 KiB chunks); each piece is
 * split into an exponent plane (bits 14..7), which is rANS coded, and a
 * sign/mantissa plane (bit 15 and bits 6..0), stored raw. Decompression
 * decodes the exponent plane into a per-thread buffer and merges both
 * planes back into bf16 values in the output; that merge is timed. The
 * safetensors header, tensors of other dtypes and gaps are copied with
 * memcpy in both directions (timed too). With "all", threads take pieces
 * from a shared counter. Its size is the sum of the streams, no framing.
 *
 * Output: one line per file of space-separated key=value fields: sizes in
 * bytes, times in seconds (medians), and last the path. See bench/README.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <htscodecs/rANS_static4x16.h>
#include <zstd.h>

#include "gauss.h"
#include "safetensors.h"
#include "common.h"
#include "banned.h"

static const char PROG[] = "gauss-speed";

#define MAX_RUNS	101
#define MAX_THREADS	256
#define HTS_ORDER	RANS_ORDER_X32		/* order 0, 32-way */
#define HTS_PIECE_VALUES ((size_t)1 << 18)	/* 512 KiB of bf16 */
#define COPY_PIECE_NBYTES ((size_t)1 << 19)
#define SPIN_ITERS	((uint64_t)1 << 26)
#define ALIGN_NBYTES	64

/* What to measure (--only). */
enum {
	DO_MEMCPY = 1 << 0,
	DO_GAUSS = 1 << 1,
	DO_HTS = 1 << 2,
	DO_ZSTD = 1 << 3,
	DO_SPIN = 1 << 4,
	DO_ALL = (1 << 5) - 1,
};

/* One piece of the htscodecs pipeline. */
struct hts_piece {
	uint64_t src;		/* offset in the original */
	uint64_t dst;		/* offset in the compressed buffer */
	uint32_t n;		/* bf16 values, or bytes to copy */
	uint32_t cap;		/* room for the coded exponent plane */
	uint32_t exp_nbytes;	/* coded exponent plane, once compressed */
	bool is_bf16;		/* else copied */
};

struct speed {
	const char *path;
	uint8_t *in;
	size_t in_nbytes;
	uint8_t *out;		/* decompressed, in_nbytes */
	uint8_t *comp;		/* compressed, shared by every codec */
	size_t comp_cap;
	unsigned threads;	/* the "all" count */
	bool verify;		/* compare out with in after each decode */

	struct gauss_ctx *gauss_ctx[2];	/* 1 thread, all threads */
	size_t gauss_nbytes;

	struct hts_piece *pieces;
	size_t piece_count;
	size_t hts_layout_nbytes;
	uint64_t bf16_nbytes;
	uint8_t *hts_scratch[MAX_THREADS];

	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
	size_t zstd_nbytes;		/* what comp holds */
	size_t zstd_level_nbytes[2];	/* levels 1 and 3 */
};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* An aligned, zeroed (so pre-faulted) buffer; dies when memory is short. */
static uint8_t *
alloc_touched(size_t nbytes)
{
	const size_t rounded = (nbytes + ALIGN_NBYTES) / ALIGN_NBYTES *
			       ALIGN_NBYTES;
	uint8_t *const p = aligned_alloc(ALIGN_NBYTES, rounded);

	if (p == NULL)
		die("cannot allocate %zu bytes", rounded);
	memset(p, 0, rounded);
	return p;
}

/* ---- threads ---- */

typedef void (*work_fn)(void *arg, unsigned tid);

struct thread_arg {
	work_fn fn;
	void *arg;
	unsigned tid;
};

static void *
thread_main(void *p)
{
	const struct thread_arg *const ta = p;

	ta->fn(ta->arg, ta->tid);
	return NULL;
}

/* Runs fn(arg, tid) for tid in [0, threads), tid 0 on the calling thread. */
static void
run_threads(unsigned threads, work_fn fn, void *arg)
{
	pthread_t tids[MAX_THREADS];
	struct thread_arg ta[MAX_THREADS];

	for (unsigned i = 1; i < threads; i++) {
		ta[i] = (struct thread_arg){ fn, arg, i };
		if (pthread_create(&tids[i], NULL, thread_main, &ta[i]) != 0)
			die("cannot start a thread");
	}
	fn(arg, 0);
	for (unsigned i = 1; i < threads; i++)
		pthread_join(tids[i], NULL);
}

/* ---- spin loop: the CPU-bound reference for scaling ---- */

struct spin_slot {
	volatile uint64_t v;
	char pad[56];
};

static struct spin_slot spin_sink[MAX_THREADS];

static void
spin_work(void *arg, unsigned tid)
{
	uint64_t x = tid + 1;

	(void)arg;
	for (uint64_t i = 0; i < SPIN_ITERS; i++) {
		x = x * UINT64_C(6364136223846793005) +
		    UINT64_C(1442695040888963407);
		x ^= x >> 29;
	}
	spin_sink[tid].v = x;
}

static unsigned
threads_of(const struct speed *s, int all)
{
	return all ? s->threads : 1;
}

/* Seconds for each of 1 or all threads to run the loop once. */
static double
time_spin(struct speed *s, int all)
{
	const double t0 = now();

	run_threads(threads_of(s, all), spin_work, NULL);
	return now() - t0;
}

/* ---- memcpy ---- */

static void
check_output(const struct speed *s, const char *what)
{
	if (memcmp(s->out, s->in, s->in_nbytes) != 0)
		die("%s: ROUND TRIP MISMATCH on '%s'", what, s->path);
}

struct copy_job {
	const struct speed *s;
	unsigned threads;
};

static void
copy_work(void *arg, unsigned tid)
{
	const struct copy_job *const job = arg;
	const size_t n = job->s->in_nbytes;
	size_t lo = n / job->threads * tid & ~(size_t)4095;
	size_t hi = n / job->threads * (tid + 1) & ~(size_t)4095;

	if (tid + 1 == job->threads)
		hi = n;
	if (tid == 0)
		lo = 0;
	memcpy(job->s->out + lo, job->s->in + lo, hi - lo);
}

static double
time_memcpy(struct speed *s, int all)
{
	struct copy_job job = { s, threads_of(s, all) };
	const double t0 = now();
	double t1;

	run_threads(job.threads, copy_work, &job);
	t1 = now();
	if (s->verify)
		check_output(s, "memcpy");
	return t1 - t0;
}

/* ---- gauss ---- */

static double
time_gauss_compress(struct speed *s, int all)
{
	struct gauss_ctx *const ctx = s->gauss_ctx[all != 0];
	enum gauss_status st;
	size_t n = 0;
	double t0, t1;

	t0 = now();
	st = gauss_compress_buffer(ctx, s->in, s->in_nbytes, s->comp,
				   s->comp_cap, &n);
	t1 = now();
	if (st != GAUSS_OK)
		die("gauss_compress_buffer '%s': %s: %s", s->path,
		    gauss_strerror(st), gauss_ctx_error(ctx));
	s->gauss_nbytes = n;
	return t1 - t0;
}

static double
time_gauss_decompress(struct speed *s, int all)
{
	struct gauss_ctx *const ctx = s->gauss_ctx[all != 0];
	enum gauss_status st;
	uint64_t size = 0;
	size_t n = 0;
	double t0, t1;

	if (s->verify) {
		st = gauss_decompressed_size(s->comp, s->gauss_nbytes, &size);
		if (st != GAUSS_OK || size != s->in_nbytes)
			die("gauss_decompressed_size '%s': %s, %" PRIu64
			    " bytes", s->path, gauss_strerror(st), size);
	}
	t0 = now();
	st = gauss_decompress_buffer(ctx, s->comp, s->gauss_nbytes, s->out,
				     s->in_nbytes, &n);
	t1 = now();
	if (st != GAUSS_OK || n != s->in_nbytes)
		die("gauss_decompress_buffer '%s': %s: %s", s->path,
		    gauss_strerror(st), gauss_ctx_error(ctx));
	if (s->verify)
		check_output(s, "gauss");
	return t1 - t0;
}

/* ---- the htscodecs pipeline ---- */

/* bf16 values to exponent bytes (bits 14..7) and sign/mantissa bytes. */
static void
hts_split(const uint8_t *restrict src, size_t n, uint8_t *restrict exp,
	  uint8_t *restrict raw)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t lo = src[2 * i];
		const uint8_t hi = src[2 * i + 1];

		exp[i] = (uint8_t)(hi << 1 | lo >> 7);
		raw[i] = (uint8_t)((hi & 0x80) | (lo & 0x7f));
	}
}

static void
hts_merge(const uint8_t *restrict exp, const uint8_t *restrict raw,
	  size_t n, uint8_t *restrict dst)
{
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = (uint8_t)(exp[i] << 7 | (raw[i] & 0x7f));
		dst[2 * i + 1] = (uint8_t)((raw[i] & 0x80) | exp[i] >> 1);
	}
}

/* Appends a piece; the layout grows by its bytes. */
static void
hts_add(struct speed *s, size_t *cap, uint64_t src, uint32_t n, bool bf16)
{
	struct hts_piece *p;

	if (s->piece_count == *cap) {
		struct hts_piece *const q = realloc(s->pieces, 2 * *cap *
						    sizeof(*q));

		if (q == NULL)
			die("cannot allocate the piece list");
		s->pieces = q;
		*cap *= 2;
	}
	p = &s->pieces[s->piece_count++];
	p->src = src;
	p->dst = s->hts_layout_nbytes;
	p->n = n;
	p->is_bf16 = bf16;
	p->exp_nbytes = 0;
	p->cap = bf16 ? rans_compress_bound_4x16(n, HTS_ORDER) : 0;
	s->hts_layout_nbytes += bf16 ? n + (size_t)p->cap : n;
}

static void
hts_add_copy(struct speed *s, size_t *cap, uint64_t from, uint64_t to)
{
	for (uint64_t o = from; o < to; o += COPY_PIECE_NBYTES)
		hts_add(s, cap, o, (uint32_t)MIN(to - o, COPY_PIECE_NBYTES),
			false);
}

/* Cuts the file into pieces: bf16 tensors coded, the rest copied. */
static void
hts_plan(struct speed *s)
{
	struct errbuf eb = { { 0 } };
	struct st_header hdr = { 0 };
	uint8_t prefix[8] = { 0 };
	uint64_t json_nbytes;
	uint64_t cursor = 0;
	size_t cap = 256;

	s->pieces = malloc(cap * sizeof(*s->pieces));
	if (s->pieces == NULL)
		die("cannot allocate the piece list");
	memcpy(prefix, s->in, MIN(s->in_nbytes, sizeof(prefix)));
	if (st_check_prefix(prefix, s->in_nbytes, &json_nbytes, &eb) !=
	    GAUSS_OK ||
	    st_parse(s->in + 8, (size_t)json_nbytes, s->in_nbytes, &hdr,
		     &eb) != GAUSS_OK)
		die("cannot read '%s': %s", s->path, eb.text);

	for (size_t k = 0; k < hdr.tensor_count; k++) {
		const struct st_tensor *t = &hdr.tensors[hdr.by_offset[k]];
		const uint64_t begin = hdr.data_offset + t->begin;
		const uint64_t end = hdr.data_offset + t->end;

		if (t->dtype != GAUSS_DTYPE_BF16 || begin == end)
			continue;
		hts_add_copy(s, &cap, cursor, begin);
		for (uint64_t v = 0; v < t->element_count;
		     v += HTS_PIECE_VALUES)
			hts_add(s, &cap, begin + 2 * v,
				(uint32_t)MIN(t->element_count - v,
					      HTS_PIECE_VALUES), true);
		s->bf16_nbytes += end - begin;
		cursor = end;
	}
	hts_add_copy(s, &cap, cursor, s->in_nbytes);
	st_header_free(&hdr);
}

struct hts_job {
	struct speed *s;
	atomic_size_t next;
	atomic_int failed;	/* index + 1 of a failed piece */
};

static void
hts_fail(struct hts_job *job, size_t i)
{
	int expected = 0;

	atomic_compare_exchange_strong(&job->failed, &expected, (int)i + 1);
}

static void
hts_compress_work(void *arg, unsigned tid)
{
	struct hts_job *const job = arg;
	struct speed *const s = job->s;
	uint8_t *const exp = s->hts_scratch[tid];

	for (;;) {
		const size_t i = atomic_fetch_add(&job->next, 1);
		struct hts_piece *p;
		unsigned int osz;

		if (i >= s->piece_count)
			break;
		p = &s->pieces[i];
		if (!p->is_bf16) {
			memcpy(s->comp + p->dst, s->in + p->src, p->n);
			continue;
		}
		hts_split(s->in + p->src, p->n, exp, s->comp + p->dst);
		osz = p->cap;
		if (rans_compress_to_4x16(exp, p->n, s->comp + p->dst + p->n,
					  &osz, HTS_ORDER) == NULL) {
			hts_fail(job, i);
			break;
		}
		p->exp_nbytes = osz;
	}
}

static void
hts_decompress_work(void *arg, unsigned tid)
{
	struct hts_job *const job = arg;
	struct speed *const s = job->s;
	uint8_t *const exp = s->hts_scratch[tid];

	for (;;) {
		const size_t i = atomic_fetch_add(&job->next, 1);
		const struct hts_piece *p;
		unsigned int osz;

		if (i >= s->piece_count)
			break;
		p = &s->pieces[i];
		if (!p->is_bf16) {
			memcpy(s->out + p->src, s->comp + p->dst, p->n);
			continue;
		}
		osz = p->n;
		if (rans_uncompress_to_4x16(s->comp + p->dst + p->n,
					    p->exp_nbytes, exp, &osz) == NULL ||
		    osz != p->n) {
			hts_fail(job, i);
			break;
		}
		hts_merge(exp, s->comp + p->dst, p->n, s->out + p->src);
	}
}

static double
time_hts(struct speed *s, unsigned threads, bool decompress)
{
	struct hts_job job;
	double t0, t1;
	int failed;

	job.s = s;
	atomic_init(&job.next, 0);
	atomic_init(&job.failed, 0);
	t0 = now();
	run_threads(threads, decompress ? hts_decompress_work :
			     hts_compress_work, &job);
	t1 = now();
	failed = atomic_load(&job.failed);
	if (failed != 0)
		die("htscodecs: cannot %s piece %d of '%s'",
		    decompress ? "decode" : "encode", failed - 1, s->path);
	if (decompress && s->verify)
		check_output(s, "htscodecs");
	return t1 - t0;
}

static double
time_hts_compress(struct speed *s, int all)
{
	return time_hts(s, threads_of(s, all), false);
}

static double
time_hts_decompress(struct speed *s, int all)
{
	return time_hts(s, threads_of(s, all), true);
}

static size_t
hts_nbytes(const struct speed *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->piece_count; i++)
		n += s->pieces[i].n + s->pieces[i].exp_nbytes;
	return n;
}

/* ---- zstd ---- */

static double
time_zstd_compress(struct speed *s, int level)
{
	double t0, t1;
	size_t r;

	t0 = now();
	r = ZSTD_compressCCtx(s->zc, s->comp, s->comp_cap, s->in,
			      s->in_nbytes, level);
	t1 = now();
	if (ZSTD_isError(r))
		die("zstd -%d '%s': %s", level, s->path, ZSTD_getErrorName(r));
	s->zstd_nbytes = r;
	s->zstd_level_nbytes[level == 1 ? 0 : 1] = r;
	return t1 - t0;
}

static double
time_zstd_decompress(struct speed *s, int unused)
{
	double t0, t1;
	size_t r;

	(void)unused;
	t0 = now();
	r = ZSTD_decompressDCtx(s->zd, s->out, s->in_nbytes, s->comp,
				s->zstd_nbytes);
	t1 = now();
	if (ZSTD_isError(r) || r != s->in_nbytes)
		die("zstd: cannot decode '%s': %s", s->path,
		    ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short output");
	if (s->verify)
		check_output(s, "zstd");
	return t1 - t0;
}

/* ---- driver ---- */

/*
 * The measurements, in the order a round runs them. A decompression
 * follows the compression of the same codec, which left its output in
 * comp. arg: 0 for one thread, 1 for all, or the zstd level.
 */
struct measure {
	const char *key;
	unsigned what;		/* DO_* */
	bool is_multi;		/* skipped when there is one thread */
	bool is_decode;		/* writes out (cleared before the check) */
	double (*fn)(struct speed *s, int arg);
	int arg;
};

static const struct measure MEASURES[] = {
	{ "spin_1", DO_SPIN, false, false, time_spin, 0 },
	{ "spin_all", DO_SPIN, true, false, time_spin, 1 },
	{ "memcpy_1", DO_MEMCPY, false, true, time_memcpy, 0 },
	{ "memcpy_all", DO_MEMCPY, true, true, time_memcpy, 1 },
	{ "gauss_c_1", DO_GAUSS, false, false, time_gauss_compress, 0 },
	{ "gauss_d_1", DO_GAUSS, false, true, time_gauss_decompress, 0 },
	{ "gauss_c_all", DO_GAUSS, true, false, time_gauss_compress, 1 },
	{ "gauss_d_all", DO_GAUSS, true, true, time_gauss_decompress, 1 },
	{ "hts_c_1", DO_HTS, false, false, time_hts_compress, 0 },
	{ "hts_d_1", DO_HTS, false, true, time_hts_decompress, 0 },
	{ "hts_c_all", DO_HTS, true, false, time_hts_compress, 1 },
	{ "hts_d_all", DO_HTS, true, true, time_hts_decompress, 1 },
	{ "zstd1_c", DO_ZSTD, false, false, time_zstd_compress, 1 },
	{ "zstd1_d", DO_ZSTD, false, true, time_zstd_decompress, 0 },
	{ "zstd3_c", DO_ZSTD, false, false, time_zstd_compress, 3 },
	{ "zstd3_d", DO_ZSTD, false, true, time_zstd_decompress, 0 },
};

#define MEASURE_COUNT ARRAY_SIZE(MEASURES)

static int
cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a;
	const double y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(const double *samples, unsigned count)
{
	double t[MAX_RUNS];

	memcpy(t, samples, count * sizeof(t[0]));
	qsort(t, count, sizeof(t[0]), cmp_double);
	if (count % 2 == 1)
		return t[count / 2];
	return 0.5 * (t[count / 2 - 1] + t[count / 2]);
}

static void
read_whole(struct speed *s)
{
	struct stat sb;
	size_t done = 0;
	const int fd = open(s->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0)
		die("cannot read '%s': %s", s->path, strerror(errno));
	if (!S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    (uint64_t)sb.st_size > SIZE_MAX / 2)
		die("cannot read '%s': not a regular non-empty file", s->path);
	s->in_nbytes = (size_t)sb.st_size;
	s->in = alloc_touched(s->in_nbytes);
	while (done < s->in_nbytes) {
		const ssize_t n = read(fd, s->in + done, s->in_nbytes - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("cannot read '%s': %s", s->path,
			    n < 0 ? strerror(errno) : "file shrank");
		done += (size_t)n;
	}
	close(fd);
}

/* Sets up buffers and contexts for one file. */
static void
speed_open(struct speed *s, const char *path, unsigned threads,
	   unsigned what)
{
	size_t cap;

	memset(s, 0, sizeof(*s));
	s->path = path;
	s->threads = threads;
	read_whole(s);
	hts_plan(s);

	cap = s->in_nbytes;
	if (what & DO_GAUSS)
		cap = MAX(cap, gauss_compress_bound(s->in_nbytes));
	if (what & DO_HTS)
		cap = MAX(cap, s->hts_layout_nbytes);
	if (what & DO_ZSTD)
		cap = MAX(cap, ZSTD_compressBound(s->in_nbytes));
	s->comp_cap = cap;
	s->comp = alloc_touched(cap);
	s->out = alloc_touched(s->in_nbytes);

	if (what & DO_GAUSS) {
		for (unsigned k = 0; k < 2; k++) {
			s->gauss_ctx[k] = gauss_ctx_new();
			if (s->gauss_ctx[k] == NULL ||
			    gauss_ctx_set_threads(s->gauss_ctx[k],
						  k == 0 ? 1 : threads) !=
			    GAUSS_OK)
				die("cannot set up a gauss context");
		}
	}
	if (what & DO_HTS) {
		for (unsigned t = 0; t < threads; t++)
			s->hts_scratch[t] = alloc_touched(HTS_PIECE_VALUES);
	}
	if (what & DO_ZSTD) {
		s->zc = ZSTD_createCCtx();
		s->zd = ZSTD_createDCtx();
		if (s->zc == NULL || s->zd == NULL)
			die("cannot set up zstd");
	}
}

static void
speed_close(struct speed *s)
{
	for (unsigned k = 0; k < 2; k++)
		gauss_ctx_free(s->gauss_ctx[k]);
	for (unsigned t = 0; t < MAX_THREADS; t++)
		free(s->hts_scratch[t]);
	ZSTD_freeCCtx(s->zc);
	ZSTD_freeDCtx(s->zd);
	free(s->pieces);
	free(s->comp);
	free(s->out);
	free(s->in);
}

/*
 * Times every chosen measurement of one file: a warm-up round that checks
 * each output against the input (after clearing the output buffer), then
 * runs timed rounds. In a timed round a sample is the mean of reps calls
 * back to back, reps chosen from the warm-up so that a sample lasts about
 * min_sample seconds (a small file takes a few ms); each key reports the
 * median of its samples.
 */
static void
bench_file(const char *path, unsigned threads, unsigned runs, unsigned what,
	   double min_sample, const char *hts_cpu)
{
	static double samples[MEASURE_COUNT][MAX_RUNS];
	unsigned reps[MEASURE_COUNT];
	bool on[MEASURE_COUNT];
	const char *const level = getenv("GAUSS_CPU");
	struct speed s;

	speed_open(&s, path, threads, what);
	for (size_t m = 0; m < MEASURE_COUNT; m++) {
		const struct measure *const me = &MEASURES[m];
		double t;

		on[m] = (what & me->what) && (!me->is_multi || threads > 1);
		if (!on[m])
			continue;
		s.verify = true;
		if (me->is_decode)
			memset(s.out, 0, s.in_nbytes);
		t = me->fn(&s, me->arg);
		reps[m] = t >= min_sample ? 1 :
			  (unsigned)MIN(1000.0, min_sample / MAX(t, 1e-7)) + 1;
	}
	s.verify = false;
	for (unsigned r = 0; r < runs; r++) {
		for (size_t m = 0; m < MEASURE_COUNT; m++) {
			double t = 0.0;

			if (!on[m])
				continue;
			for (unsigned k = 0; k < reps[m]; k++)
				t += MEASURES[m].fn(&s, MEASURES[m].arg);
			samples[m][r] = t / reps[m];
		}
	}

	printf("bytes=%zu bf16_bytes=%" PRIu64 " threads=%u runs=%u "
	       "gauss_cpu=%s hts_cpu=%s", s.in_nbytes, s.bf16_nbytes,
	       threads, runs, level != NULL && *level ? level : "auto",
	       hts_cpu);
	if (what & DO_GAUSS)
		printf(" gauss_bytes=%zu", s.gauss_nbytes);
	if (what & DO_HTS)
		printf(" hts_bytes=%zu", hts_nbytes(&s));
	if (what & DO_ZSTD)
		printf(" zstd1_bytes=%zu zstd3_bytes=%zu",
		       s.zstd_level_nbytes[0], s.zstd_level_nbytes[1]);
	for (size_t m = 0; m < MEASURE_COUNT; m++) {
		if (on[m])
			printf(" %s=%.6e", MEASURES[m].key,
			       median(samples[m], runs));
	}
	printf(" path=%s\n", path);
	fflush(stdout);
	speed_close(&s);
}

static unsigned
parse_only(const char *list)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "memcpy", DO_MEMCPY }, { "gauss", DO_GAUSS },
		{ "hts", DO_HTS }, { "zstd", DO_ZSTD }, { "spin", DO_SPIN },
	};
	unsigned what = 0;
	const char *p = list;

	while (*p != '\0') {
		const size_t len = strcspn(p, ",");
		size_t i;

		for (i = 0; i < ARRAY_SIZE(names); i++) {
			if (strlen(names[i].name) == len &&
			    strncmp(p, names[i].name, len) == 0)
				break;
		}
		if (i == ARRAY_SIZE(names))
			die("--only: unknown measurement in '%s' (use memcpy,"
			    " gauss, hts, zstd, spin)", list);
		what |= names[i].bit;
		p += len;
		if (*p == ',')
			p++;
	}
	return what;
}

/* htscodecs' CPU mask for a name: its own choice, or one level forced. */
static int
hts_cpu_mask(const char *name)
{
	/*
	 * htscodecs 1.3 reads only the ENC bits, for both directions, and on
	 * AMD prefers AVX2 to AVX-512 for order-0 decoding when both are
	 * allowed; leaving AVX2 out forces AVX-512.
	 */
	if (strcmp(name, "auto") == 0)
		return 0xffff;
	if (strcmp(name, "avx512") == 0)
		return RANS_CPU_ENC_AVX512 | RANS_CPU_ENC_SSE4 |
		       RANS_CPU_DEC_AVX512 | RANS_CPU_DEC_SSE4;
	if (strcmp(name, "avx2") == 0)
		return RANS_CPU_ENC_AVX2 | RANS_CPU_ENC_SSE4 |
		       RANS_CPU_DEC_AVX2 | RANS_CPU_DEC_SSE4;
	if (strcmp(name, "sse4") == 0)
		return RANS_CPU_ENC_SSE4 | RANS_CPU_DEC_SSE4;
	if (strcmp(name, "scalar") == 0)
		return 0;
	die("--hts-cpu: unknown level '%s' (use auto, avx512, avx2, sse4 or "
	    "scalar)", name);
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: %s [options] FILE.safetensors...\n"
		"  -r, --runs N       timed rounds, median reported (default 5)\n"
		"  -t, --threads N    the \"all\" thread count (default: online "
		"CPUs)\n"
		"  --cpu LEVEL        gauss kernels: scalar, avx2 or avx512 "
		"(sets GAUSS_CPU)\n"
		"  --hts-cpu LEVEL    htscodecs kernels: auto (default), "
		"avx512, avx2, sse4,\n"
		"                     scalar\n"
		"  --only LIST        comma-separated subset of memcpy,gauss,"
		"hts,zstd,spin\n"
		"  --min-ms MS        repeat a call within a sample until it "
		"lasts MS ms\n"
		"                     (default 20)\n", PROG);
}

static unsigned
parse_count(const char *opt, const char *val, unsigned max)
{
	char *end;
	unsigned long v;

	if (val == NULL)
		die("%s needs a value", opt);
	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno != 0 || end == val || *end != '\0' || v == 0 || v > max)
		die("%s: bad value '%s' (1 to %u)", opt, val, max);
	return (unsigned)v;
}

int
main(int argc, char **argv)
{
	const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = ncpu > 0 ? (unsigned)MIN(ncpu, MAX_THREADS) : 1;
	unsigned runs = 5;
	unsigned what = DO_ALL;
	unsigned min_ms = 20;
	const char *hts_cpu = "auto";
	int first = 1;

	for (; first < argc; first++) {
		const char *const arg = argv[first];
		const char *const val = first + 1 < argc ? argv[first + 1] :
					NULL;

		if (strcmp(arg, "--") == 0) {
			first++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(arg, "-r") == 0 ||
			   strcmp(arg, "--runs") == 0) {
			runs = parse_count(arg, val, MAX_RUNS);
			first++;
		} else if (strcmp(arg, "-t") == 0 ||
			   strcmp(arg, "--threads") == 0) {
			threads = parse_count(arg, val, MAX_THREADS);
			first++;
		} else if (strcmp(arg, "--min-ms") == 0) {
			min_ms = parse_count(arg, val, 10000);
			first++;
		} else if (strcmp(arg, "--cpu") == 0) {
			if (val == NULL)
				die("--cpu needs a value");
			if (setenv("GAUSS_CPU", val, 1) != 0)
				die("cannot set GAUSS_CPU: %s",
				    strerror(errno));
			first++;
		} else if (strcmp(arg, "--hts-cpu") == 0) {
			if (val == NULL)
				die("--hts-cpu needs a value");
			hts_cpu = val;
			first++;
		} else if (strcmp(arg, "--only") == 0) {
			if (val == NULL)
				die("--only needs a value");
			what = parse_only(val);
			first++;
		} else {
			fprintf(stderr, "%s: unknown option '%s'\n", PROG, arg);
			usage(stderr);
			return 1;
		}
	}
	if (first >= argc) {
		usage(stderr);
		return 1;
	}
	/* Before the first htscodecs call, which fixes its choice. */
	rans_set_cpu(hts_cpu_mask(hts_cpu));

	for (int i = first; i < argc; i++)
		bench_file(argv[i], threads, runs, what, min_ms / 1000.0,
			   hts_cpu);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("cannot write to standard output: %s", strerror(errno));
	return 0;
}
