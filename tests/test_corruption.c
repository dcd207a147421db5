/* SPDX-License-Identifier: MIT */
/*
 * test_corruption.c: a small .gauss file of several tensors, damaged at
 * every byte (two values each), truncated at every length, and extended:
 * decompression must fail every time with a message, and never crash.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_util.h"
#include "pipeline.h"

static uint8_t *gz;
static size_t gz_n;

/*
 * Decompresses bytes held in memory (with two threads, so that a failure
 * stops a pool in flight), discarding the output; returns the status.
 */
static enum gauss_status
try_decode(const uint8_t *p, size_t n, char *msg, size_t msg_n)
{
	const struct pipe_in in = { .fd = -1, .mem = p, .nbytes = n };
	const struct pipe_out out = { .fd = -1 };
	struct pipeline_opts o;
	struct errbuf eb = { { 0 } };
	enum gauss_status st;

	pipeline_opts_default(&o);
	o.threads = 2;
	st = pipeline_decompress(&o, &in, &out, NULL, &eb);
	snprintf(msg, msg_n, "%s", eb.text);
	return st;
}

static int
setup(void **state)
{
	uint16_t w[3000], b[40];
	uint32_t f[500];
	uint8_t u8[33];
	uint64_t seed = 99;
	struct st_build sb;
	struct pipeline_opts o;
	struct errbuf eb = { { 0 } };
	uint8_t *file;
	size_t n;
	int in_fd, out_fd;

	(void)state;
	for (size_t i = 0; i < 3000; i++)
		w[i] = (uint16_t)(0x3c00 + (test_rand(&seed) % 0x600));
	for (size_t i = 0; i < 40; i++)
		b[i] = (uint16_t)(0x3f80 | (test_rand(&seed) & 0x7f));
	for (size_t i = 0; i < 500; i++)
		f[i] = (uint32_t)(0x3c000000 + (test_rand(&seed) % 0x3000000));
	for (size_t i = 0; i < 33; i++)
		u8[i] = (uint8_t)i;
	st_build_begin(&sb, "{\"k\":\"v\"}");
	st_build_tensor(&sb, "w", "BF16", "[3000]", w, sizeof(w), 0);
	st_build_tensor(&sb, "b", "BF16", "[40]", b, sizeof(b), 4);
	st_build_tensor(&sb, "f", "F32", "[500]", f, sizeof(f), 0);
	st_build_tensor(&sb, "u", "U8", "[33]", u8, sizeof(u8), 0);
	file = st_build_end(&sb, 8, &n);

	in_fd = memfd_create("orig", 0);
	out_fd = memfd_create("gauss", 0);
	assert_int_equal(write(in_fd, file, n), (ssize_t)n);
	assert_int_equal(lseek(in_fd, 0, SEEK_SET), 0);
	pipeline_opts_default(&o);
	o.chunk_log2 = 12;	/* several chunks and blocks per tensor */
	o.block_log2 = 13;
	assert_int_equal(pipeline_compress(&o, &(struct pipe_in){
			.fd = in_fd, .nbytes = n }, &(struct pipe_out){
			.fd = out_fd }, NULL, &eb), GAUSS_OK);
	gz_n = (size_t)lseek(out_fd, 0, SEEK_END);
	gz = malloc(gz_n);
	assert_int_equal(pread(out_fd, gz, gz_n, 0), (ssize_t)gz_n);
	close(in_fd);
	close(out_fd);
	free(file);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(gz);
	return 0;
}

static void
test_corruption_intact_decodes(void **state)
{
	char msg[512];

	(void)state;
	assert_int_equal(try_decode(gz, gz_n, msg, sizeof(msg)), GAUSS_OK);
}

static void
test_corruption_every_byte(void **state)
{
	uint8_t *copy = malloc(gz_n);
	char msg[512];

	(void)state;
	for (size_t i = 0; i < gz_n; i++) {
		static const uint8_t deltas[] = { 0x01, 0xff };

		for (size_t d = 0; d < sizeof(deltas); d++) {
			enum gauss_status st;

			memcpy(copy, gz, gz_n);
			copy[i] ^= deltas[d];
			st = try_decode(copy, gz_n, msg, sizeof(msg));
			if (st == GAUSS_OK)
				fail_msg("byte %zu ^ 0x%02x of %zu not "
					 "detected", i, deltas[d], gz_n);
			assert_true(st == GAUSS_E_CORRUPT ||
				    st == GAUSS_E_CHECKSUM ||
				    st == GAUSS_E_UNSUPPORTED_VERSION);
			assert_true(msg[0] != '\0');
		}
	}
	free(copy);
}

static void
test_corruption_truncated_everywhere(void **state)
{
	char msg[512];

	(void)state;
	for (size_t n = 0; n < gz_n; n++) {
		const enum gauss_status st = try_decode(gz, n, msg,
							sizeof(msg));

		if (st == GAUSS_OK)
			fail_msg("truncation to %zu of %zu bytes not "
				 "detected", n, gz_n);
		assert_true(msg[0] != '\0');
	}
}

static void
test_corruption_trailing_garbage(void **state)
{
	uint8_t *ext = malloc(gz_n + 100);
	char msg[512];

	(void)state;
	memcpy(ext, gz, gz_n);
	for (size_t extra = 1; extra <= 100; extra += 33) {
		memset(ext + gz_n, 0x5a, extra);
		assert_int_not_equal(try_decode(ext, gz_n + extra, msg,
						sizeof(msg)), GAUSS_OK);
	}
	/* a second copy of the whole file appended */
	free(ext);
	ext = malloc(2 * gz_n);
	memcpy(ext, gz, gz_n);
	memcpy(ext + gz_n, gz, gz_n);
	assert_int_not_equal(try_decode(ext, 2 * gz_n, msg, sizeof(msg)),
			     GAUSS_OK);
	free(ext);
}

static void
test_corruption_message_names_tensor(void **state)
{
	uint8_t *copy = malloc(gz_n);
	char msg[512];

	(void)state;
	/* damage the middle of the file: inside tensor data */
	memcpy(copy, gz, gz_n);
	copy[gz_n / 2] ^= 0x10;
	assert_int_not_equal(try_decode(copy, gz_n, msg, sizeof(msg)),
			     GAUSS_OK);
	assert_non_null(strstr(msg, "tensor '"));
	free(copy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corruption_intact_decodes),
		cmocka_unit_test(test_corruption_every_byte),
		cmocka_unit_test(test_corruption_truncated_everywhere),
		cmocka_unit_test(test_corruption_trailing_garbage),
		cmocka_unit_test(test_corruption_message_names_tensor),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
