/* SPDX-License-Identifier: MIT */
/*
 * ab.c: gauss-ab, two builds of libgauss side by side in one process.
 *
 *   gauss-ab [-r RUNS] [-t THREADS] LIB_A LIB_B FILE.safetensors...
 *
 * Loads both shared libraries (dlopen, RTLD_LOCAL: each keeps its own
 * symbols), compresses each file with each, then times decompress and
 * compress of both in turn, RUNS times, the order of A and B swapped every
 * run, and keeps the best time of each per file. The machines here are
 * shared and their speed drifts by 10-20% within a minute; alternating the
 * calls puts both builds under the same drift, which two separate runs of
 * gauss-speed do not. Prints both builds' total size and MB/s (of original
 * bytes) and B's time over A's.
 *
 * Meant for a format or kernel change against the commit before it:
 *   git worktree add /tmp/old REV && scripts/build.sh /tmp/old/build
 *   build/bench/gauss-ab /tmp/old/build/libgauss.so build/libgauss.so FILES
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gauss.h"

static const char PROG[] = "gauss-ab";

/* The entry points the benchmark calls, from one library. */
struct lib {
	const char *path;
	struct gauss_ctx *(*ctx_new)(void);
	enum gauss_status (*set_threads)(struct gauss_ctx *, unsigned);
	size_t (*bound)(size_t);
	enum gauss_status (*compress)(struct gauss_ctx *, const void *,
				      size_t, void *, size_t, size_t *);
	enum gauss_status (*decompress)(struct gauss_ctx *, const void *,
					size_t, void *, size_t, size_t *);
	struct gauss_ctx *ctx;
	uint64_t size;		/* compressed bytes, all files */
	double c_s, d_s;	/* best times, summed over the files */
};

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, what, detail);
	exit(1);
}

static void *
sym(void *h, const struct lib *l, const char *name)
{
	void *p = dlsym(h, name);

	if (p == NULL)
		die(l->path, dlerror());
	return p;
}

static void
load(struct lib *l, const char *path, unsigned threads)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	l->path = path;
	if (h == NULL)
		die(path, dlerror());
	/* object to function pointers: POSIX dlsym's documented use */
	*(void **)&l->ctx_new = sym(h, l, "gauss_ctx_new");
	*(void **)&l->set_threads = sym(h, l, "gauss_ctx_set_threads");
	*(void **)&l->bound = sym(h, l, "gauss_compress_bound");
	*(void **)&l->compress = sym(h, l, "gauss_compress_buffer");
	*(void **)&l->decompress = sym(h, l, "gauss_decompress_buffer");
	l->ctx = l->ctx_new();
	if (l->ctx == NULL || l->set_threads(l->ctx, threads) != GAUSS_OK)
		die(path, "cannot make a context");
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint8_t *
read_all(const char *path, size_t *n_ret)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n)
		die(path, errno ? strerror(errno) : "cannot read");
	fclose(f);
	*n_ret = (size_t)n;
	return buf;
}

/* Both libraries on one file: best decompress and compress times. */
static void
run_file(struct lib lib[2], const char *path, unsigned runs)
{
	size_t n, gz_n[2], out_n;
	uint8_t *in = read_all(path, &n), *gz[2], *out = malloc(n + 1);
	double best_c[2] = { 1e30, 1e30 }, best_d[2] = { 1e30, 1e30 };

	if (out == NULL)
		die(path, "out of memory");
	for (unsigned k = 0; k < 2; k++) {
		const size_t cap = lib[k].bound(n);

		if ((gz[k] = malloc(cap)) == NULL)
			die(path, "out of memory");
		if (lib[k].compress(lib[k].ctx, in, n, gz[k], cap,
				    &gz_n[k]) != GAUSS_OK)
			die(path, "cannot compress");
		if (lib[k].decompress(lib[k].ctx, gz[k], gz_n[k], out, n,
				      &out_n) != GAUSS_OK || out_n != n ||
		    memcmp(out, in, n) != 0)
			die(path, "does not come back");
		lib[k].size += gz_n[k];
	}
	for (unsigned r = 0; r < runs; r++) {
		for (unsigned i = 0; i < 2; i++) {
			const unsigned k = r % 2 ? 1 - i : i;
			const size_t cap = lib[k].bound(n);
			double t0, t1, t2;

			t0 = now();
			(void)lib[k].decompress(lib[k].ctx, gz[k], gz_n[k], out,
						n, &out_n);
			t1 = now();
			(void)lib[k].compress(lib[k].ctx, in, n, gz[k], cap,
					      &gz_n[k]);
			t2 = now();
			best_d[k] = t1 - t0 < best_d[k] ? t1 - t0 : best_d[k];
			best_c[k] = t2 - t1 < best_c[k] ? t2 - t1 : best_c[k];
		}
	}
	for (unsigned k = 0; k < 2; k++) {
		lib[k].c_s += best_c[k];
		lib[k].d_s += best_d[k];
		free(gz[k]);
	}
	free(out);
	free(in);
}

int
main(int argc, char **argv)
{
	unsigned runs = 20, threads = 1;
	struct lib lib[2];
	uint64_t total = 0;
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-r") == 0)
			runs = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-t") == 0)
			threads = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else
			break;
	}
	if (argc - i < 3 || runs == 0 || threads == 0) {
		fprintf(stderr, "usage: %s [-r RUNS] [-t THREADS] LIB_A LIB_B "
			"FILE.safetensors...\n", PROG);
		return 1;
	}
	memset(lib, 0, sizeof(lib));
	load(&lib[0], argv[i], threads);
	load(&lib[1], argv[i + 1], threads);
	for (int f = i + 2; f < argc; f++) {
		size_t n;

		free(read_all(argv[f], &n));
		total += n;
		run_file(lib, argv[f], runs);
	}
	for (unsigned k = 0; k < 2; k++)
		printf("%s: size %llu (%.4f%%), compress %.0f MB/s, "
		       "decompress %.0f MB/s\n", k ? "B" : "A",
		       (unsigned long long)lib[k].size,
		       100.0 * (double)lib[k].size / (double)total,
		       (double)total / lib[k].c_s / 1e6,
		       (double)total / lib[k].d_s / 1e6);
	printf("B / A speed: compress %.3f, decompress %.3f (%u runs, %u "
	       "thread%s, best per file)\n", lib[0].c_s / lib[1].c_s,
	       lib[0].d_s / lib[1].d_s, runs, threads, threads > 1 ? "s" : "");
	return 0;
}
