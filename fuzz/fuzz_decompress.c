/* SPDX-License-Identifier: MIT */
/*
 * fuzz_decompress.c: gauss_decompress_buffer() on arbitrary bytes, with
 * one thread and the scalar kernels, then with two threads and the best
 * kernels: both must give the same verdict and, on success, the same
 * bytes. Then the same for a copy whose header and footer checksums were
 * repaired (fuzz_fix_checksums()), so that mutations reach the frames and
 * the index. A failure must come with a message.
 */
#include <string.h>

#include "fuzz.h"
#include "common.h"
#include "banned.h"

struct result {
	enum gauss_status st;
	uint8_t *out;
	size_t out_nbytes;
};

static void
decode(const uint8_t *in, size_t n, unsigned threads, const char *cpu,
       struct result *r)
{
	struct gauss_ctx *ctx = gauss_ctx_new();
	uint64_t want = 0;
	size_t cap = 0;

	FUZZ_CHECK(ctx != NULL);
	FUZZ_CHECK(gauss_ctx_set_threads(ctx, threads) == GAUSS_OK);
	/* the library reads GAUSS_CPU on each call; no thread runs now */
	if (cpu)
		setenv("GAUSS_CPU", cpu, 1);
	else
		unsetenv("GAUSS_CPU");
	/* no footer, no output: the decode fails before it writes */
	if (gauss_decompressed_size(in, n, &want) == GAUSS_OK)
		cap = (size_t)MIN(want, (uint64_t)FUZZ_MAX_OUT_NBYTES);
	r->out = malloc(cap ? cap : 1);
	FUZZ_CHECK(r->out != NULL);
	r->out_nbytes = 0;
	r->st = gauss_decompress_buffer(ctx, in, n, r->out, cap,
					&r->out_nbytes);
	if (r->st == GAUSS_OK)
		FUZZ_CHECK(r->out_nbytes == want);
	else
		FUZZ_CHECK(gauss_ctx_error(ctx)[0] != '\0');
	FUZZ_CHECK(r->st != GAUSS_E_INVALID_ARG);
	gauss_ctx_free(ctx);
}

static void
decode_both(const uint8_t *in, size_t n)
{
	struct result a, b;

	decode(in, n, 1, "scalar", &a);
	decode(in, n, 2, NULL, &b);
	FUZZ_CHECK(a.st == b.st);
	if (a.st == GAUSS_OK) {
		FUZZ_CHECK(a.out_nbytes == b.out_nbytes);
		FUZZ_CHECK(memcmp(a.out, b.out, a.out_nbytes) == 0);
	}
	free(a.out);
	free(b.out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	decode_both(data, size);
	copy = malloc(size ? size : 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	if (fuzz_fix_checksums(copy, size))
		decode_both(copy, size);
	free(copy);
	return 0;
}
