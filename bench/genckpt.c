/* SPDX-License-Identifier: MIT */
/*
 * genckpt.c: gauss-genckpt, which writes a synthetic safetensors checkpoint
 * of LLM-like bf16 tensors for the speed benchmark.
 *
 * The layout follows a decoder-only transformer with grouped-query
 * attention: a token embedding, then per layer two RMS-norm vectors, the
 * q/k/v/o projections and a gated MLP, then a final norm. The hidden size is
 * the largest of 4096, 2048, ... 256 for which the embedding and two layers
 * fit in the requested size; layers are added until the size is reached and
 * the first tensor that does not fit loses rows so that the tensor data
 * comes to the requested size (the JSON header adds a few KiB).
 *
 * Values: matrices are N(0, sigma) with sigma near 0.02, drawn per tensor
 * (log-normal spread, smaller for the output projections), and about one
 * value in 65536 scaled by 8 to 32 as an outlier; norms are N(m, 0.05 m)
 * with m near 1. Each value is rounded to bf16 with round-to-nearest-even.
 *
 * Output is a pure function of size and seed: every 1 Mi-value piece of a
 * tensor has its own generator (splitmix64), seeded from the seed, the
 * tensor's position in the layer list and the piece number, so the pieces
 * can be written by any number of threads in any order.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "common.h"
#include "banned.h"

static const char PROG[] = "gauss-genckpt";

#define PIECE_VALUES	((uint64_t)1 << 20)
#define VOCAB		32000
#define DEFAULT_SIZE	((uint64_t)1 << 30)

enum tensor_kind {
	KIND_MATRIX,
	KIND_NORM,
};

struct tensor {
	char name[80];
	enum tensor_kind kind;
	uint64_t rows;
	uint64_t cols;		/* 0 for a 1-D tensor */
	double scale;		/* sigma of a matrix, mean of a norm */
	uint64_t index;		/* position in the layer list (seeds it) */
	uint64_t offset;	/* in the data section */
};

struct ckpt {
	struct tensor *tensors;
	size_t count;
	size_t cap;
	uint64_t seed;
};

/* One piece of work: PIECE_VALUES values (or fewer) of one tensor. */
struct piece {
	const struct tensor *t;
	uint64_t first;		/* first value */
	uint64_t count;
	uint64_t file_offset;
};

struct writer {
	int fd;
	const struct piece *pieces;
	size_t piece_count;
	uint64_t seed;
	atomic_size_t next;
	atomic_int error;	/* first errno, 0 if none */
};

/* ---- random numbers ---- */

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* splitmix64: a Weyl sequence through the mixer above. */
static uint64_t
rng_next(uint64_t *state)
{
	*state += UINT64_C(0x9e3779b97f4a7c15);
	return mix64(*state);
}

static uint64_t
rng_seed(uint64_t seed, uint64_t a, uint64_t b)
{
	return mix64(seed ^ mix64(a * UINT64_C(0xd1b54a32d192ed03) ^
				  mix64(b + 1)));
}

/* Uniform in [0, 1), 53 bits. */
static double
rng_unit(uint64_t *state)
{
	return (double)(rng_next(state) >> 11) * 0x1p-53;
}

/* Two independent N(0, 1) values (Marsaglia's polar method). */
static void
rng_normal2(uint64_t *state, double *z0, double *z1)
{
	double u, v, s;

	do {
		u = 2.0 * rng_unit(state) - 1.0;
		v = 2.0 * rng_unit(state) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	s = sqrt(-2.0 * log(s) / s);
	*z0 = u * s;
	*z1 = v * s;
}

/* ---- bf16 ---- */

/* float to bf16, round to nearest, ties to even; NaN stays a quiet NaN. */
static uint16_t
bf16_from_float(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

/* ---- layer list ---- */

static uint64_t
tensor_values(const struct tensor *t)
{
	return t->cols != 0 ? t->rows * t->cols : t->rows;
}

static int
ckpt_add(struct ckpt *ck, const char *name, enum tensor_kind kind,
	 uint64_t rows, uint64_t cols, double base)
{
	struct tensor *t;
	uint64_t st;
	double z0, z1;

	if (ck->count == ck->cap) {
		const size_t cap = ck->cap ? 2 * ck->cap : 64;
		struct tensor *const p = realloc(ck->tensors,
						 cap * sizeof(*p));

		if (p == NULL)
			return -1;
		ck->tensors = p;
		ck->cap = cap;
	}
	t = &ck->tensors[ck->count];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->kind = kind;
	t->rows = rows;
	t->cols = cols;
	t->index = ck->count;
	/* Per-tensor spread: sigma (or a norm's mean) varies by ~25%. */
	st = rng_seed(ck->seed, t->index, UINT64_MAX);
	rng_normal2(&st, &z0, &z1);
	t->scale = base * exp(0.25 * z0);
	ck->count++;
	return 0;
}

static uint64_t
ffn_of(uint64_t d)
{
	return (8 * d / 3 + 255) / 256 * 256;
}

/* Bytes of one layer of hidden size d: two norms, q/k/v/o, the MLP. */
static uint64_t
layer_nbytes(uint64_t d)
{
	return 2 * (2 * d + 2 * d * d + 2 * (d / 4) * d + 3 * ffn_of(d) * d);
}

/*
 * Adds a tensor if *budget allows, or as many of its rows as fit. Returns
 * 1 once the budget is spent, 0 while it is not, -1 when memory is short.
 */
static int
plan_add(struct ckpt *ck, uint64_t *budget, const char *name,
	 enum tensor_kind kind, uint64_t rows, uint64_t cols, double base)
{
	const uint64_t row_nbytes = 2 * (cols != 0 ? cols : 1);
	int full = 0;

	if (rows * row_nbytes > *budget) {
		rows = *budget / row_nbytes;
		full = 1;
	}
	if (rows != 0 && ckpt_add(ck, name, kind, rows, cols, base) != 0)
		return -1;
	*budget -= rows * row_nbytes;
	return full;
}

/*
 * Fills ck with the layer list for data_nbytes bytes of tensor data.
 * Returns 0, or -1 when memory is short.
 */
static int
ckpt_plan(struct ckpt *ck, uint64_t data_nbytes)
{
	/* name, sigma; rows and columns are set below */
	static const struct {
		const char *name;
		double sigma;
	} mats[] = {
		{ "self_attn.q_proj", 0.025 },
		{ "self_attn.k_proj", 0.025 },
		{ "self_attn.v_proj", 0.015 },
		{ "self_attn.o_proj", 0.012 },
		{ "mlp.gate_proj", 0.02 },
		{ "mlp.up_proj", 0.018 },
		{ "mlp.down_proj", 0.012 },
	};
	uint64_t d = 4096;
	uint64_t budget;
	char name[80];
	int full;

	while (d > 256 && 2 * (uint64_t)VOCAB * d + 2 * layer_nbytes(d) >
			  data_nbytes)
		d /= 2;
	const uint64_t kv = d / 4;
	const uint64_t ffn = ffn_of(d);
	const uint64_t rows[] = { d, kv, kv, d, ffn, ffn, d };
	const uint64_t cols[] = { d, d, d, d, d, d, ffn };

	/* Keep room for the final norm. */
	budget = data_nbytes - 2 * d;
	full = plan_add(ck, &budget, "model.embed_tokens.weight", KIND_MATRIX,
			VOCAB, d, 0.02);
	for (unsigned layer = 0; full == 0; layer++) {
		snprintf(name, sizeof(name), "model.layers.%u.input_layernorm."
			 "weight", layer);
		full = plan_add(ck, &budget, name, KIND_NORM, d, 0, 1.0);
		for (unsigned m = 0; m < ARRAY_SIZE(mats) && full == 0; m++) {
			if (m == 4) {
				snprintf(name, sizeof(name), "model.layers.%u."
					 "post_attention_layernorm.weight",
					 layer);
				full = plan_add(ck, &budget, name, KIND_NORM,
						d, 0, 1.0);
				if (full != 0)
					break;
			}
			snprintf(name, sizeof(name), "model.layers.%u.%s."
				 "weight", layer, mats[m].name);
			full = plan_add(ck, &budget, name, KIND_MATRIX,
					rows[m], cols[m], mats[m].sigma);
		}
	}
	if (full < 0)
		return -1;
	return ckpt_add(ck, "model.norm.weight", KIND_NORM, d, 0, 1.0);
}

static int
by_name(const void *a, const void *b)
{
	const struct tensor *const x = a;
	const struct tensor *const y = b;

	return strcmp(x->name, y->name);
}

/* ---- header ---- */

struct strbuf {
	char *p;
	size_t len;
	size_t cap;
};

static int __attribute__((format(printf, 2, 3)))
sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	for (;;) {
		const size_t room = sb->cap - sb->len;
		va_list ap;
		int n;

		va_start(ap, fmt);
		n = vsnprintf(sb->p ? sb->p + sb->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < room) {
			sb->len += (size_t)n;
			return 0;
		}
		{
			const size_t cap = 2 * (sb->cap + (size_t)n + 64);
			char *const p = realloc(sb->p, cap);

			if (p == NULL)
				return -1;
			sb->p = p;
			sb->cap = cap;
		}
	}
}

/*
 * The safetensors header: 8-byte little-endian length, then JSON padded
 * with spaces so that the data starts at a multiple of 8.
 */
static int
build_header(const struct ckpt *ck, struct strbuf *sb)
{
	if (sb_printf(sb, "%s", "12345678") != 0 ||
	    sb_printf(sb, "{\"__metadata__\":{\"format\":\"pt\"}") != 0)
		return -1;
	for (size_t i = 0; i < ck->count; i++) {
		const struct tensor *const t = &ck->tensors[i];
		const uint64_t end = t->offset + 2 * tensor_values(t);
		int r;

		if (t->cols != 0)
			r = sb_printf(sb, ",\"%s\":{\"dtype\":\"BF16\","
				      "\"shape\":[%" PRIu64 ",%" PRIu64 "],"
				      "\"data_offsets\":[%" PRIu64 ",%" PRIu64
				      "]}", t->name, t->rows, t->cols,
				      t->offset, end);
		else
			r = sb_printf(sb, ",\"%s\":{\"dtype\":\"BF16\","
				      "\"shape\":[%" PRIu64 "],"
				      "\"data_offsets\":[%" PRIu64 ",%" PRIu64
				      "]}", t->name, t->rows, t->offset, end);
		if (r != 0)
			return -1;
	}
	if (sb_printf(sb, "}") != 0)
		return -1;
	while (sb->len % 8 != 0) {
		if (sb_printf(sb, " ") != 0)
			return -1;
	}
	for (unsigned i = 0; i < 8; i++)
		sb->p[i] = (char)(uint8_t)((uint64_t)(sb->len - 8) >> (8 * i));
	return 0;
}

/* ---- data ---- */

static void
fill_piece(const struct piece *pc, uint64_t seed, uint8_t *buf)
{
	const struct tensor *const t = pc->t;
	uint64_t st = rng_seed(seed, t->index, pc->first / PIECE_VALUES);
	const bool is_norm = t->kind == KIND_NORM;
	const double mean = is_norm ? t->scale : 0.0;
	const double sigma = is_norm ? 0.05 * t->scale : t->scale;

	for (uint64_t i = 0; i < pc->count; i += 2) {
		double z[2];
		const uint64_t r = rng_next(&st);

		rng_normal2(&st, &z[0], &z[1]);
		for (unsigned j = 0; j < 2 && i + j < pc->count; j++) {
			double x = mean + sigma * z[j];

			uint16_t h;

			/* One value in 65536 is an outlier (matrices only). */
			if (!is_norm && ((r >> (32 * j)) & 0xffff) == 0)
				x *= 8.0 + 24.0 * (double)((r >> (32 * j +
						16)) & 0xffff) / 65536.0;
			h = bf16_from_float((float)x);
			buf[2 * (i + j)] = (uint8_t)h;
			buf[2 * (i + j) + 1] = (uint8_t)(h >> 8);
		}
	}
}

static int
pwrite_all(int fd, const uint8_t *buf, size_t nbytes, uint64_t offset)
{
	while (nbytes != 0) {
		const ssize_t n = pwrite(fd, buf, nbytes, (off_t)offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		buf += n;
		nbytes -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static void *
writer_main(void *arg)
{
	struct writer *const w = arg;
	uint8_t *const buf = malloc(2 * PIECE_VALUES);

	if (buf == NULL) {
		int expected = 0;

		atomic_compare_exchange_strong(&w->error, &expected, ENOMEM);
		return NULL;
	}
	while (atomic_load(&w->error) == 0) {
		const size_t i = atomic_fetch_add(&w->next, 1);
		const struct piece *pc;
		int err;

		if (i >= w->piece_count)
			break;
		pc = &w->pieces[i];
		fill_piece(pc, w->seed, buf);
		err = pwrite_all(w->fd, buf, (size_t)(2 * pc->count),
				 pc->file_offset);
		if (err != 0) {
			int expected = 0;

			atomic_compare_exchange_strong(&w->error, &expected,
						       err);
		}
	}
	free(buf);
	return NULL;
}

/* ---- command line ---- */

/* Parses "123", "64K", "512M", "1G" (binary multiples). */
static int
parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end == 'i' && shift != 0)
		end++;
	if (*end == 'B' && shift != 0)
		end++;
	if (*end != '\0' || v > (UINT64_MAX >> shift))
		return -1;
	*ret = (uint64_t)v << shift;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-s SIZE] [--seed N] [-j THREADS] "
		"OUT.safetensors\n"
		"  -s SIZE     tensor data bytes, K/M/G suffixes (default 1G)\n"
		"  --seed N    generator seed (default 1)\n"
		"  -j THREADS  writer threads (default: online CPUs)\n", PROG);
}

static int
generate(const char *path, uint64_t size, uint64_t seed, unsigned threads)
{
	struct ckpt ck = { .seed = seed };
	struct strbuf hdr = { 0 };
	struct piece *pieces = NULL;
	size_t piece_count = 0;
	pthread_t *tids = NULL;
	struct writer w;
	uint64_t off = 0;
	unsigned started = 0;
	int fd = -1;
	int err;
	int ret = -1;

	if (ckpt_plan(&ck, size) != 0)
		goto nomem;
	qsort(ck.tensors, ck.count, sizeof(*ck.tensors), by_name);
	for (size_t i = 0; i < ck.count; i++) {
		ck.tensors[i].offset = off;
		off += 2 * tensor_values(&ck.tensors[i]);
		piece_count += (size_t)((tensor_values(&ck.tensors[i]) +
					 PIECE_VALUES - 1) / PIECE_VALUES);
	}
	if (build_header(&ck, &hdr) != 0)
		goto nomem;

	pieces = calloc(piece_count, sizeof(*pieces));
	tids = calloc(threads, sizeof(*tids));
	if (pieces == NULL || tids == NULL)
		goto nomem;
	piece_count = 0;
	for (size_t i = 0; i < ck.count; i++) {
		const struct tensor *const t = &ck.tensors[i];
		const uint64_t n = tensor_values(t);

		for (uint64_t first = 0; first < n; first += PIECE_VALUES) {
			struct piece *const pc = &pieces[piece_count++];

			pc->t = t;
			pc->first = first;
			pc->count = n - first < PIECE_VALUES ? n - first :
				    PIECE_VALUES;
			pc->file_offset = hdr.len + t->offset + 2 * first;
		}
	}

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	err = pwrite_all(fd, (const uint8_t *)hdr.p, hdr.len, 0);
	if (err != 0)
		goto fail;

	w.fd = fd;
	w.pieces = pieces;
	w.piece_count = piece_count;
	w.seed = seed;
	atomic_init(&w.next, 0);
	atomic_init(&w.error, 0);
	for (; started < threads; started++) {
		if (pthread_create(&tids[started], NULL, writer_main, &w) != 0)
			break;
	}
	if (started == 0)
		writer_main(&w);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	err = atomic_load(&w.error);
	if (err != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		err = errno;
		goto fail;
	}
	fd = -1;
	fprintf(stderr, "%s: wrote '%s': %zu tensors, %" PRIu64 " bytes\n",
		PROG, path, ck.count, (uint64_t)hdr.len + off);
	ret = 0;
	goto out;

nomem:
	err = ENOMEM;
fail:
	fprintf(stderr, "%s: cannot write '%s': %s\n", PROG, path,
		strerror(err));
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
out:
	free(tids);
	free(pieces);
	free(hdr.p);
	free(ck.tensors);
	return ret;
}

int
main(int argc, char **argv)
{
	uint64_t size = DEFAULT_SIZE;
	uint64_t seed = 1;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = ncpu > 0 ? (unsigned)ncpu : 1;
	const char *path = NULL;

	for (int i = 1; i < argc; i++) {
		const char *const arg = argv[i];
		const char *const val = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t v;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(arg, "-s") == 0 ||
			   strcmp(arg, "--size") == 0) {
			if (val == NULL || parse_size(val, &size) != 0 ||
			    size < ((uint64_t)1 << 20)) {
				fprintf(stderr, "%s: bad size '%s' (at least "
					"1M)\n", PROG, val ? val : "");
				return 1;
			}
			i++;
		} else if (strcmp(arg, "--seed") == 0) {
			if (val == NULL || parse_size(val, &seed) != 0) {
				fprintf(stderr, "%s: bad seed '%s'\n", PROG,
					val ? val : "");
				return 1;
			}
			i++;
		} else if (strcmp(arg, "-j") == 0) {
			if (val == NULL || parse_size(val, &v) != 0 ||
			    v == 0 || v > 1024) {
				fprintf(stderr, "%s: bad thread count '%s'\n",
					PROG, val ? val : "");
				return 1;
			}
			threads = (unsigned)v;
			i++;
		} else if (arg[0] == '-' && arg[1] != '\0') {
			fprintf(stderr, "%s: unknown option '%s'\n", PROG, arg);
			usage(stderr);
			return 1;
		} else if (path == NULL) {
			path = arg;
		} else {
			usage(stderr);
			return 1;
		}
	}
	if (path == NULL) {
		usage(stderr);
		return 1;
	}
	return generate(path, size, seed, threads) == 0 ? 0 : 1;
}
