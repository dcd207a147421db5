/* SPDX-License-Identifier: MIT */
/*
 * example.c: a program written against the installed libgauss only (its
 * gauss.h and `pkg-config gauss`), built and run by install.sh with the
 * shared and with the static library. It writes a small safetensors file,
 * compresses and restores it as files and in memory, checks the bytes are
 * equal, lists the tensors with a reader and reads some of them back.
 * usage: example DIR (a directory it may write in)
 */
#include <gauss.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR2(x) #x
#define STR(x) STR2(x)

static const char *dir;

static void
die(const char *what)
{
	fprintf(stderr, "example: %s\n", what);
	exit(1);
}

/* Exits with the status and the context's message unless st is GAUSS_OK. */
static void
check(const struct gauss_ctx *ctx, enum gauss_status st, const char *what)
{
	if (st == GAUSS_OK)
		return;
	fprintf(stderr, "example: %s: %s (%s)\n", what, gauss_strerror(st),
		gauss_ctx_error(ctx));
	exit(1);
}

static const char *
path_of(const char *name)
{
	static char paths[8][4096];
	static unsigned next;
	char *p = paths[next++ % 8];

	if (snprintf(p, sizeof(paths[0]), "%s/%s", dir, name) >=
	    (int)sizeof(paths[0]))
		die("directory name too long");
	return p;
}

static void
write_file(const char *path, const void *buf, size_t nbytes)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(buf, 1, nbytes, f) != nbytes || fclose(f) != 0)
		die("cannot write a file");
}

/* Returns the contents of path (malloc) and its size in *nbytes_ret. */
static unsigned char *
read_file(const char *path, size_t *nbytes_ret)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL)
		die("cannot open a file");
	for (;;) {
		if (n == cap) {
			unsigned char *const grown = realloc(buf, cap + 65536);

			if (grown == NULL)
				die("out of memory");
			buf = grown;
			cap += 65536;
		}
		const size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		die("cannot read a file");
	fclose(f);
	*nbytes_ret = n;
	return buf;
}

static uint32_t
rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A value near N(0, 0.02), as trained weights are. */
static float
weight(uint32_t *s)
{
	float sum = 0;

	for (int i = 0; i < 4; i++)
		sum += (float)(rng_next(s) >> 8) / 16777216.0f - 0.5f;
	return sum * 0.035f;
}

/*
 * A safetensors image: "w" BF16 [64, 32], "b" F32 [32], "step" I64 [1],
 * with __metadata__, the header padded with spaces to 8 bytes.
 */
static unsigned char *
make_model(size_t *nbytes_ret)
{
	static const char json[] =
		"{\"__metadata__\":{\"format\":\"pt\"},"
		"\"w\":{\"dtype\":\"BF16\",\"shape\":[64,32],"
		"\"data_offsets\":[0,4096]},"
		"\"b\":{\"dtype\":\"F32\",\"shape\":[32],"
		"\"data_offsets\":[4096,4224]},"
		"\"step\":{\"dtype\":\"I64\",\"shape\":[1],"
		"\"data_offsets\":[4224,4232]}}";
	const size_t json_nbytes = (sizeof(json) - 1 + 7) / 8 * 8;
	const size_t nbytes = 8 + json_nbytes + 4232;
	unsigned char *const img = malloc(nbytes);
	unsigned char *data;
	uint32_t s = 12345;

	if (img == NULL)
		die("out of memory");
	for (int i = 0; i < 8; i++)
		img[i] = (unsigned char)((uint64_t)json_nbytes >> (8 * i));
	memset(img + 8, ' ', json_nbytes);
	memcpy(img + 8, json, sizeof(json) - 1);
	data = img + 8 + json_nbytes;
	for (size_t i = 0; i < 64 * 32; i++) {	/* bf16: a float's top half */
		const float f = weight(&s);
		uint32_t bits;

		memcpy(&bits, &f, sizeof(bits));
		data[2 * i] = (unsigned char)(bits >> 16);
		data[2 * i + 1] = (unsigned char)(bits >> 24);
	}
	for (size_t i = 0; i < 32; i++) {
		const float f = weight(&s);
		uint32_t bits;

		memcpy(&bits, &f, sizeof(bits));
		for (int k = 0; k < 4; k++)
			data[4096 + 4 * i + (size_t)k] =
				(unsigned char)(bits >> (8 * k));
	}
	memset(data + 4224, 0, 8);
	data[4224] = 42;
	*nbytes_ret = nbytes;
	return img;
}

static void
files(struct gauss_ctx *ctx, const unsigned char *model, size_t nbytes)
{
	const char *const src = path_of("model.safetensors");
	const char *const packed = path_of("model.gauss");
	const char *const restored = path_of("restored.safetensors");
	uint64_t in_nbytes = 0, out_nbytes = 0;
	unsigned char *back;
	size_t back_nbytes;
	enum gauss_status st;

	write_file(src, model, nbytes);
	check(ctx, gauss_compress_file(ctx, src, packed), "compress");
	check(ctx, gauss_ctx_last_sizes(ctx, &in_nbytes, &out_nbytes),
	      "last sizes");
	if (in_nbytes != nbytes || out_nbytes == 0)
		die("gauss_ctx_last_sizes() after compress is wrong");
	printf("compressed %" PRIu64 " bytes to %" PRIu64 "\n", in_nbytes,
	       out_nbytes);
	check(ctx, gauss_verify_file(ctx, packed), "verify");
	check(ctx, gauss_decompress_file(ctx, packed, restored), "decompress");
	back = read_file(restored, &back_nbytes);
	if (back_nbytes != nbytes || memcmp(back, model, nbytes) != 0)
		die("the restored file differs from the original");
	free(back);

	/* An existing output is refused, with a message, until overwrite. */
	st = gauss_decompress_file(ctx, packed, restored);
	if (st != GAUSS_E_EXISTS || gauss_ctx_error(ctx)[0] == '\0')
		die("an existing output was not refused with GAUSS_E_EXISTS");
	check(ctx, gauss_ctx_set_overwrite(ctx, 1), "set overwrite");
	check(ctx, gauss_decompress_file(ctx, packed, restored),
	      "decompress with overwrite");
	if (gauss_ctx_error(ctx)[0] != '\0')
		die("a message is left after a call that succeeded");
}

static void
buffers(struct gauss_ctx *ctx, const unsigned char *model, size_t nbytes)
{
	const size_t cap = gauss_compress_bound(nbytes);
	unsigned char *const packed = malloc(cap);
	unsigned char *back = NULL, *file;
	size_t packed_nbytes = 0, back_nbytes = 0, file_nbytes;
	uint64_t size = 0;

	if (packed == NULL)
		die("out of memory");
	check(ctx, gauss_compress_buffer(ctx, model, nbytes, packed, cap,
					 &packed_nbytes), "compress buffer");
	/* the bytes depend on the input and the options only */
	file = read_file(path_of("model.gauss"), &file_nbytes);
	if (file_nbytes != packed_nbytes ||
	    memcmp(file, packed, packed_nbytes) != 0)
		die("compress to memory and to a file differ");
	free(file);
	check(ctx, gauss_decompressed_size(packed, packed_nbytes, &size),
	      "decompressed size");
	if (size != nbytes)
		die("gauss_decompressed_size() is wrong");
	back = malloc((size_t)size);
	if (back == NULL)
		die("out of memory");
	check(ctx, gauss_decompress_buffer(ctx, packed, packed_nbytes, back,
					   (size_t)size, &back_nbytes),
	      "decompress buffer");
	if (back_nbytes != nbytes || memcmp(back, model, nbytes) != 0)
		die("the buffer restored differs from the original");
	free(back);
	free(packed);
}

static void
reader(struct gauss_ctx *ctx, const unsigned char *model, size_t nbytes)
{
	struct gauss_reader *r = NULL;
	struct gauss_file_info fi;
	struct gauss_tensor_info ti;
	unsigned char part[64 * 2], *raw;
	size_t idx = 0, raw_nbytes;

	check(ctx, gauss_reader_open(ctx, path_of("model.gauss"), &r),
	      "reader open");
	check(ctx, gauss_reader_file_info(r, &fi), "file info");
	if (fi.original_nbytes != nbytes || fi.tensor_count != 3 ||
	    gauss_reader_tensor_count(r) != 3)
		die("the reader's totals are wrong");
	for (size_t i = 0; i < gauss_reader_tensor_count(r); i++) {
		check(ctx, gauss_reader_tensor_info(r, i, &ti), "tensor info");
		printf("%s %s [", ti.name, gauss_dtype_name(ti.dtype));
		for (unsigned d = 0; d < ti.ndim; d++)
			printf("%s%" PRIu64, d ? ", " : "", ti.shape[d]);
		printf("] %s %" PRIu64 " -> %" PRIu64 " bytes\n",
		       gauss_codec_name(ti.codec), ti.nbytes,
		       ti.stored_nbytes);
	}
	if (gauss_reader_find(r, "no such", &idx) != GAUSS_E_NOT_FOUND)
		die("a missing tensor was found");

	/* elements 100 to 163 of "w", from the original's bytes */
	check(ctx, gauss_reader_find(r, "w", &idx), "find");
	check(ctx, gauss_reader_tensor_info(r, idx, &ti), "tensor info");
	if (ti.dtype != GAUSS_DTYPE_BF16 || ti.ndim != 2 ||
	    ti.shape[0] != 64 || ti.shape[1] != 32 ||
	    ti.codec != GAUSS_CODEC_EXP_BF16)
		die("tensor 'w' is not described right");
	check(ctx, gauss_reader_read(r, idx, 100, 64, part, sizeof(part)),
	      "read");
	if (memcmp(part, model + ti.offset + 200, sizeof(part)) != 0)
		die("the elements read differ from the original's");

	/* "b" alone, as its bare bytes */
	check(ctx, gauss_reader_find(r, "b", &idx), "find");
	check(ctx, gauss_reader_tensor_info(r, idx, &ti), "tensor info");
	check(ctx, gauss_reader_extract(r, idx, path_of("b.bin"), 1),
	      "extract");
	raw = read_file(path_of("b.bin"), &raw_nbytes);
	if (raw_nbytes != 128 || raw_nbytes != ti.nbytes ||
	    memcmp(raw, model + ti.offset, raw_nbytes) != 0)
		die("the tensor extracted differs from the original's");
	free(raw);
	gauss_reader_close(r);
}

int
main(int argc, char **argv)
{
	static const char version[] = STR(GAUSS_VERSION_MAJOR) "."
		STR(GAUSS_VERSION_MINOR) "." STR(GAUSS_VERSION_PATCH);
	struct gauss_ctx *ctx;
	unsigned char *model;
	size_t nbytes;

	if (argc != 2) {
		fprintf(stderr, "usage: example DIR\n");
		return 2;
	}
	dir = argv[1];
	if (strcmp(gauss_version_string(), version) != 0)
		die("gauss_version_string() differs from gauss.h");
	ctx = gauss_ctx_new();
	if (ctx == NULL)
		die("out of memory");
	check(ctx, gauss_ctx_set_threads(ctx, 2), "set threads");
	model = make_model(&nbytes);
	files(ctx, model, nbytes);
	buffers(ctx, model, nbytes);
	reader(ctx, model, nbytes);
	free(model);
	gauss_ctx_free(ctx);
	printf("ok\n");
	return 0;
}
