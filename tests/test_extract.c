/* SPDX-License-Identifier: MIT */
/*
 * test_extract.c: random access to one tensor. With every other tensor's
 * frames destroyed, a tensor still extracts (as a safetensors file and as
 * bare bytes) and reads, byte for byte: the reader touches nothing but the
 * footer, the index, the header and that tensor's chunks. A destroyed
 * tensor is refused and leaves no output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "ctx.h"
#include "endian.h"
#include "format.h"
#include "pipeline.h"
#include "safetensors.h"

#define NT 6

static const struct {
	const char *name, *dtype, *shape;
	size_t nbytes;
} spec[NT] = {
	{ "w.bf16", "BF16", "[3000]", 6000 },
	{ "f32", "F32", "[700]", 2800 },
	{ "bytes", "U8", "[100]", 100 },
	{ "layers.1.attn/q\xc3\xa9", "BF16", "[50,100]", 10000 },
	{ "half", "F16", "[999]", 1998 },
	{ "empty", "BF16", "[0,4]", 0 },
};

static uint8_t *orig;
static size_t orig_n;
static struct st_header st;
static uint8_t *gz;		/* the compressed file, many chunks a tensor */
static size_t gz_n;
static char *dir;

static int
setup(void **state)
{
	struct st_build sb;
	struct pipeline_opts o;
	struct pipe_sizes sz;
	struct errbuf eb = { { 0 } };
	uint64_t seed = 7;

	(void)state;
	st_build_begin(&sb, "{\"format\":\"pt\"}");
	for (int k = 0; k < NT; k++) {
		uint8_t *d = malloc(spec[k].nbytes + 1);

		for (size_t i = 0; i < spec[k].nbytes; i += 2) {
			/* exponents near 0x3c..0x3f, random mantissas */
			d[i] = (uint8_t)test_rand(&seed);
			if (i + 1 < spec[k].nbytes)
				d[i + 1] = (uint8_t)(0x3c + test_rand(&seed) % 4);
		}
		st_build_tensor(&sb, spec[k].name, spec[k].dtype,
				spec[k].shape, d, spec[k].nbytes, k == 2 ? 3 : 0);
		free(d);
	}
	orig = st_build_end(&sb, 8, &orig_n);
	assert_int_equal(st_parse(orig + 8, (size_t)get_le64(orig), orig_n,
				  &st, &eb), GAUSS_OK);
	pipeline_opts_default(&o);
	o.chunk_log2 = 12;	/* several chunks and blocks per tensor */
	o.block_log2 = 13;
	gz = malloc(4 * orig_n + 4096);
	assert_int_equal(pipeline_compress(&o, &(struct pipe_in){
			.fd = -1, .mem = orig, .nbytes = orig_n },
		&(struct pipe_out){ .fd = -1, .mem = gz,
				    .mem_cap = 4 * orig_n + 4096 }, &sz, &eb),
		GAUSS_OK);
	gz_n = (size_t)sz.out_nbytes;
	dir = make_temp_dir();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	remove_tree(dir);
	free(dir);
	free(gz);
	free(orig);
	st_header_free(&st);
	return 0;
}

static const struct st_tensor *
tensor_named(const char *name)
{
	for (size_t i = 0; i < st.tensor_count; i++)
		if (strcmp(st.tensors[i].name, name) == 0)
			return &st.tensors[i];
	fail_msg("no tensor %s", name);
	return NULL;
}

/*
 * Writes a copy of the compressed file with every byte of the frames of
 * every tensor but keep inverted; returns its path.
 */
static char *
damaged_copy(const char *keep)
{
	struct fmt_footer f;
	struct fmt_index idx;
	uint8_t *bad = malloc(gz_n);
	char *path = path_join(dir, "damaged.gauss");
	const struct st_tensor *kt = tensor_named(keep);
	size_t hit = 0;

	memcpy(bad, gz, gz_n);
	assert_int_equal(fmt_footer_read(gz + gz_n - FMT_FOOTER_NBYTES, gz_n,
					 &f, NULL), GAUSS_OK);
	assert_int_equal(fmt_index_parse(gz + f.index_offset,
					 (size_t)f.index_nbytes, &f, FMT_VERSION, &idx,
					 NULL), GAUSS_OK);
	for (size_t i = 0; i < idx.count; i++) {
		const struct fmt_segment *s = &idx.segments[i];

		if (s->original_offset < st.data_offset ||
		    s->original_offset == st.data_offset + kt->begin)
			continue;	/* the header, or the one we keep */
		for (uint64_t b = 0; b < s->frame_nbytes; b++)
			bad[s->frame_offset + b] ^= 0xff;
		hit++;
	}
	fmt_index_free(&idx);
	/* every other tensor with data, and the gap before "bytes" */
	assert_int_equal(hit, kt->end > kt->begin ? 5 : 6);
	assert_int_equal(write_file(path, bad, gz_n), 0);
	free(bad);
	return path;
}

static void
expect_single(const char *path, const struct st_tensor *t)
{
	size_t n = 0;
	uint8_t *got = read_file(path, &n);
	struct st_header h;
	struct errbuf eb = { { 0 } };
	uint64_t json_n;

	assert_non_null(got);
	assert_true(n >= 8);
	json_n = get_le64(got);
	assert_int_equal(json_n % 8, 0);
	if (st_parse(got + 8, (size_t)json_n, n, &h, &eb) != GAUSS_OK)
		fail_msg("extracted header: %s", eb.text);
	assert_int_equal(h.tensor_count, 1);
	assert_string_equal(h.tensors[0].name, t->name);
	assert_int_equal(h.tensors[0].dtype, t->dtype);
	assert_int_equal(h.tensors[0].ndim, t->ndim);
	for (unsigned d = 0; d < t->ndim; d++)
		assert_int_equal(h.tensors[0].shape[d], t->shape[d]);
	assert_int_equal(h.tensors[0].begin, 0);
	assert_int_equal(h.tensors[0].end, t->end - t->begin);
	assert_memory_equal(got + 8 + json_n, orig + st.data_offset + t->begin,
			    t->end - t->begin);
	/* the original's metadata comes along */
	assert_non_null(memmem(got + 8, (size_t)json_n,
			       "\"__metadata__\":{\"format\":\"pt\"}", 30));
	st_header_free(&h);
	free(got);
}

static void
test_extract_each_tensor_with_the_others_destroyed(void **state)
{
	(void)state;
	for (int k = 0; k < NT; k++) {
		const struct st_tensor *t = tensor_named(spec[k].name);
		const size_t tn = (size_t)(t->end - t->begin);
		char *bad = damaged_copy(spec[k].name);
		char *one = path_join(dir, "one.safetensors");
		char *raw = path_join(dir, "one.raw");
		struct gauss_ctx *ctx = gauss_ctx_new();
		struct gauss_reader *r;
		size_t index, n = 0;
		uint8_t *got, *buf = malloc(tn + 1);

		if (gauss_reader_open(ctx, bad, &r) != GAUSS_OK)
			fail_msg("open: %s", gauss_ctx_error(ctx));
		assert_int_equal(gauss_reader_find(r, spec[k].name, &index),
				 GAUSS_OK);
		if (gauss_reader_extract(r, index, one, 0) != GAUSS_OK)
			fail_msg("extract %s: %s", spec[k].name,
				 gauss_ctx_error(ctx));
		expect_single(one, t);
		assert_int_equal(gauss_reader_extract(r, index, raw, 1),
				 GAUSS_OK);
		got = read_file(raw, &n);
		assert_int_equal(n, tn);
		if (tn)
			assert_memory_equal(got, orig + st.data_offset +
						 t->begin, tn);
		free(got);
		/* a range in the middle, through the read call */
		if (tn >= 8) {
			const unsigned es = st_dtype_size(t->dtype);
			const uint64_t first = t->element_count / 3;
			const uint64_t count = t->element_count / 2;

			assert_int_equal(gauss_reader_read(r, index, first,
							   count, buf, tn),
					 GAUSS_OK);
			assert_memory_equal(buf, orig + st.data_offset +
						 t->begin + first * es,
					    count * es);
		}
		/* any other tensor with data is destroyed: refused, no output */
		for (int o = 0; o < NT; o++) {
			const struct st_tensor *ot = tensor_named(spec[o].name);
			char *p;
			size_t oi;

			if (o == k || ot->end == ot->begin)
				continue;
			p = path_join(dir, "other.safetensors");
			assert_int_equal(gauss_reader_find(r, spec[o].name,
							   &oi), GAUSS_OK);
			assert_int_not_equal(gauss_reader_extract(r, oi, p, 0),
					     GAUSS_OK);
			assert_non_null(strstr(gauss_ctx_error(ctx),
					       spec[o].name));
			assert_int_equal(access(p, F_OK), -1);
			free(p);
		}
		/* an existing output is kept unless overwrite is set */
		assert_int_equal(gauss_reader_extract(r, index, one, 0),
				 GAUSS_E_EXISTS);
		/* a call that succeeds clears the message of the last failure */
		assert_string_not_equal(gauss_ctx_error(ctx), "");
		assert_int_equal(gauss_reader_find(r, spec[k].name, &index),
				 GAUSS_OK);
		assert_string_equal(gauss_ctx_error(ctx), "");
		assert_int_equal(gauss_reader_find(r, "no such tensor", &index),
				 GAUSS_E_NOT_FOUND);
		assert_non_null(strstr(gauss_ctx_error(ctx), "no such tensor"));
		gauss_ctx_set_overwrite(ctx, 1);
		assert_string_equal(gauss_ctx_error(ctx), "");
		assert_int_equal(gauss_reader_extract(r, index, one, 0),
				 GAUSS_OK);
		expect_single(one, t);
		gauss_reader_close(r);
		gauss_ctx_free(ctx);
		unlink(one);
		unlink(raw);
		unlink(bad);
		free(buf);
		free(one);
		free(raw);
		free(bad);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_extract_each_tensor_with_the_others_destroyed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
