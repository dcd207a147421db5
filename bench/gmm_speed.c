/* SPDX-License-Identifier: MIT */
/*
 * gmm_speed.c: single-thread speed of the lossy codec (gmm_encode and
 * gmm_decode, in memory) on the tensors of safetensors files.
 *
 *   gauss-gmm-speed [-r RUNS] [--all] FILE.safetensors...
 *
 * Takes the F32, F16 and BF16 tensors the lossy mode would take (ndim >= 2
 * and at least 32768 values; --all: every float tensor), encodes and
 * decodes each as one shard with the default options, checks the bound on
 * every value, and prints per file the best-of-RUNS MB/s of the original
 * bytes, the ratio, and the bits of the bucket split against the
 * residuals' own entropy.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "gmm.h"
#include "gmm_internal.h"
#include "safetensors.h"
#include "banned.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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

int
main(int argc, char **argv)
{
	int runs = 3, all = 0, argi = 1, status = 0;
	const struct rans_kernels *kern = NULL;
	struct errbuf eb = { { 0 } };
	/* one scratch for the whole run, as a worker thread would keep */
	struct gmm_scratch *sc = gmm_scratch_new();

	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (strcmp(argv[argi], "-r") == 0 && argi + 1 < argc)
			runs = (int)strtol(argv[++argi], NULL, 10);
		else if (strcmp(argv[argi], "--all") == 0)
			all = 1;
		else
			break;
	}
	if (argi >= argc || runs < 1) {
		fprintf(stderr, "usage: gauss-gmm-speed [-r RUNS] [--all] "
			"FILE.safetensors...\n");
		return 2;
	}
	if (rans_kernels_select(&kern, &eb) != GAUSS_OK) {
		fprintf(stderr, "gauss-gmm-speed: %s\n", eb.text);
		return 2;
	}
	printf("kernels %s, best of %d, one thread\n", kern->name, runs);
	printf("%-44s %9s %7s %9s %9s %8s %8s %7s\n", "file", "MB", "ratio",
	       "enc MB/s", "dec MB/s", "split%", "rms/std", "esc");
	for (; argi < argc; argi++) {
		size_t nb = 0, orig = 0, comp = 0;
		uint8_t *file = slurp(argv[argi], &nb);
		struct st_header hdr;
		uint64_t jn;
		double tenc = 0, tdec = 0, split = 0, ent = 0, rel = 0;
		uint64_t esc = 0, nvals = 0;
		const char *base = strrchr(argv[argi], '/');

		if (file == NULL || nb < 8 ||
		    st_check_prefix(file, nb, &jn, &eb) != GAUSS_OK ||
		    st_parse(file + 8, jn, nb, &hdr, &eb) != GAUSS_OK) {
			fprintf(stderr, "gauss-gmm-speed: '%s': %s\n",
				argv[argi], file ? eb.text : "cannot read");
			free(file);
			status = 1;
			continue;
		}
		for (size_t t = 0; t < hdr.tensor_count; t++) {
			const struct st_tensor *ts = &hdr.tensors[t];
			const enum gauss_dtype dt = ts->dtype;
			const size_t n = ts->element_count;
			const unsigned es = gmm_elem_nbytes(dt);
			const uint8_t *src = file + hdr.data_offset + ts->begin;
			struct gmm_options o;
			struct gmm_report rep;
			size_t cap, pn = 0;
			uint8_t *pay, *out;
			double best_e = INFINITY, best_d = INFINITY;

			if (es == 0 || n == 0 ||
			    (!all && (ts->ndim < 2 || n < 32768)))
				continue;
			gmm_options_default(&o);
			o.shard_id = t;
			o.kernels = kern;
			cap = gmm_encode_bound(dt, n, o.k);
			pay = malloc(cap);
			out = malloc(n * es);
			if (!pay || !out) {
				fprintf(stderr, "gauss-gmm-speed: out of memory\n");
				return 1;
			}
			for (int r = 0; r < runs; r++) {
				const double t0 = now();

				if (gmm_encode(dt, src, n, &o, pay, cap, &pn,
					       &rep, sc, &eb) != GAUSS_OK) {
					fprintf(stderr, "encode: %s\n", eb.text);
					return 1;
				}
				best_e = fmin(best_e, now() - t0);
			}
			for (int r = 0; r < runs; r++) {
				const double t0 = now();

				if (gmm_decode(dt, pay, pn, out, n, kern, sc,
					       &eb) != GAUSS_OK) {
					fprintf(stderr, "decode: %s\n", eb.text);
					return 1;
				}
				best_d = fmin(best_d, now() - t0);
			}
			for (size_t i = 0; i < n; i++) {
				const double x = gmm_load(dt, src, i);
				const double y = gmm_load(dt, out, i);

				if (isfinite(x) && !(fabs(y - x) <= rep.bound)) {
					fprintf(stderr, "'%s' value %zu: "
						"bound broken\n", ts->name, i);
					return 1;
				}
			}
			o.diagnostics = true;
			(void)gmm_encode(dt, src, n, &o, pay, cap, &pn, &rep,
					 sc, &eb);
			split += rep.resid_model_bits +
				 8.0 * (double)rep.raw_bits_nbytes;
			ent += rep.resid_entropy_bits;
			rel += rep.rel_rms_error * (double)n;
			esc += rep.escapes;
			nvals += n;
			tenc += best_e;
			tdec += best_d;
			orig += n * es;
			comp += pn;
			free(pay);
			free(out);
		}
		if (orig)
			printf("%-44s %9.2f %7.3f %9.1f %9.1f %8.3f %8.4f "
			       "%7llu\n", base ? base + 1 : argv[argi],
			       (double)orig / 1e6, (double)orig / (double)comp,
			       (double)orig / 1e6 / tenc,
			       (double)orig / 1e6 / tdec,
			       100 * (split / ent - 1), rel / (double)nvals,
			       (unsigned long long)esc);
		st_header_free(&hdr);
		free(file);
	}
	gmm_scratch_free(sc);
	return status;
}
