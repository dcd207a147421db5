/* SPDX-License-Identifier: MIT */
/*
 * lossy_speed.c: gauss-lossy-speed, the speed of the lossy mode through the
 * library (gauss_compress_buffer and gauss_decompress_buffer with
 * GAUSS_MODE_GMM and the default options), in memory, against memcpy of the
 * same bytes and the lossless mode in the same run (issue 4, item 8).
 *
 *   gauss-lossy-speed [-r RUNS] [-t THREADS] FILE.safetensors...
 *
 * For each file and for the total: MB/s of original bytes (the median of
 * RUNS timed calls, default 5, each after one untimed call), the size
 * ratio, and how many times faster than the original Python gauss (355 s
 * to compress and 95 s to decompress 1645 MB of fp32 with 2 workers:
 * 4.63 and 17.3 MB/s). Threads default to 2, as the issue measures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gauss.h"

#define ORIG_COMPRESS_MBS	(1645.0 / 355.0)
#define ORIG_DECOMPRESS_MBS	(1645.0 / 95.0)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static uint8_t *
slurp(const char *path, size_t *nbytes_ret)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		*nbytes_ret = (size_t)n;
	}
	fclose(f);
	return p;
}

struct sample {
	double c, d, lc, m;	/* seconds: gmm compress, decompress,
				   lossless compress, memcpy */
	size_t gz, lz;		/* sizes: gmm, lossless */
};

/* One round over a file; returns 0, or -1 after a message. */
static int
round_once(struct gauss_ctx *gmm, struct gauss_ctx *exact, const uint8_t *in,
	   size_t n, uint8_t *gz, size_t cap, uint8_t *back, struct sample *s)
{
	size_t back_n;
	double t;

	t = now();
	memcpy(back, in, n);
	s->m = now() - t;
	__asm__ volatile("" : : "r"(back) : "memory");
	t = now();
	if (gauss_compress_buffer(gmm, in, n, gz, cap, &s->gz) != GAUSS_OK)
		goto fail_gmm;
	s->c = now() - t;
	t = now();
	if (gauss_decompress_buffer(gmm, gz, s->gz, back, n, &back_n) !=
	    GAUSS_OK || back_n != n)
		goto fail_gmm;
	s->d = now() - t;
	t = now();
	if (gauss_compress_buffer(exact, in, n, gz, cap, &s->lz) != GAUSS_OK) {
		fprintf(stderr, "gauss-lossy-speed: %s\n",
			gauss_ctx_error(exact));
		return -1;
	}
	s->lc = now() - t;
	return 0;
fail_gmm:
	fprintf(stderr, "gauss-lossy-speed: %s\n", gauss_ctx_error(gmm));
	return -1;
}

int
main(int argc, char **argv)
{
	int runs = 5, argi = 1;
	unsigned threads = 2;
	double tot_n = 0, tot_c = 0, tot_d = 0, tot_lc = 0, tot_m = 0;
	double tot_gz = 0, tot_lz = 0;
	struct gauss_ctx *gmm = gauss_ctx_new(), *exact = gauss_ctx_new();

	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (strcmp(argv[argi], "-r") == 0 && argi + 1 < argc)
			runs = atoi(argv[++argi]);
		else if (strcmp(argv[argi], "-t") == 0 && argi + 1 < argc)
			threads = (unsigned)atoi(argv[++argi]);
		else
			break;
	}
	if (argi >= argc || runs < 1 || gmm == NULL || exact == NULL) {
		fprintf(stderr, "usage: gauss-lossy-speed [-r RUNS] "
			"[-t THREADS] FILE.safetensors...\n");
		return 2;
	}
	gauss_ctx_set_mode(gmm, GAUSS_MODE_GMM);
	gauss_ctx_set_threads(gmm, threads);
	gauss_ctx_set_threads(exact, threads);
	printf("threads=%u runs=%d (median)\n\n", threads, runs);
	printf("| file | MB | memcpy MB/s | gmm c MB/s | gmm d MB/s | "
	       "gmm ratio | lossless c MB/s | lossless ratio | "
	       "c / original | d / original |\n");
	printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (; argi < argc; argi++) {
		size_t n = 0, cap;
		uint8_t *in = slurp(argv[argi], &n), *gz, *back;
		double *c = calloc((size_t)runs, sizeof(double));
		double *d = calloc((size_t)runs, sizeof(double));
		double *lc = calloc((size_t)runs, sizeof(double));
		double *m = calloc((size_t)runs, sizeof(double));
		const char *base = strrchr(argv[argi], '/');
		struct sample s;

		if (in == NULL || !c || !d || !lc || !m) {
			fprintf(stderr, "gauss-lossy-speed: cannot read '%s'\n",
				argv[argi]);
			return 1;
		}
		cap = gauss_compress_bound(n);
		gz = malloc(cap);
		back = malloc(n);
		if (gz == NULL || back == NULL ||
		    round_once(gmm, exact, in, n, gz, cap, back, &s) != 0)
			return 1;
		for (int r = 0; r < runs; r++) {
			if (round_once(gmm, exact, in, n, gz, cap, back, &s))
				return 1;
			c[r] = s.c;
			d[r] = s.d;
			lc[r] = s.lc;
			m[r] = s.m;
		}
		qsort(c, (size_t)runs, sizeof(double), cmp_double);
		qsort(d, (size_t)runs, sizeof(double), cmp_double);
		qsort(lc, (size_t)runs, sizeof(double), cmp_double);
		qsort(m, (size_t)runs, sizeof(double), cmp_double);
		{
			const double mb = (double)n / 1e6;
			const int h = runs / 2;

			printf("| %s | %.1f | %.0f | %.1f | %.1f | %.4f | "
			       "%.1f | %.4f | %.1f | %.1f |\n",
			       base ? base + 1 : argv[argi], mb, mb / m[h],
			       mb / c[h], mb / d[h], (double)s.gz / (double)n,
			       mb / lc[h], (double)s.lz / (double)n,
			       mb / c[h] / ORIG_COMPRESS_MBS,
			       mb / d[h] / ORIG_DECOMPRESS_MBS);
			tot_n += mb;
			tot_c += c[h];
			tot_d += d[h];
			tot_lc += lc[h];
			tot_m += m[h];
			tot_gz += (double)s.gz;
			tot_lz += (double)s.lz;
		}
		free(in);
		free(gz);
		free(back);
		free(c);
		free(d);
		free(lc);
		free(m);
	}
	printf("| **total** | %.1f | %.0f | %.1f | %.1f | %.4f | %.1f | %.4f "
	       "| %.1f | %.1f |\n", tot_n, tot_n / tot_m, tot_n / tot_c,
	       tot_n / tot_d, tot_gz / 1e6 / tot_n, tot_n / tot_lc,
	       tot_lz / 1e6 / tot_n, tot_n / tot_c / ORIG_COMPRESS_MBS,
	       tot_n / tot_d / ORIG_DECOMPRESS_MBS);
	gauss_ctx_free(gmm);
	gauss_ctx_free(exact);
	return 0;
}
