/* SPDX-License-Identifier: MIT */
/* test_safetensors.c: safetensors header parsing and every rule it checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "safetensors.h"
#include "endian.h"
#include "test_util.h"
#include "banned.h"

/*
 * Parses json_nbytes bytes of JSON, copied to the very end of a guarded
 * buffer so that any read past it faults, as the header of a file whose
 * data section holds data_nbytes bytes.
 */
static enum gauss_status
parse_n(const char *json, size_t json_nbytes, uint64_t data_nbytes,
	struct st_header *hdr, struct errbuf *eb)
{
	uint8_t *buf = guarded_alloc(json_nbytes);
	enum gauss_status st;

	assert_non_null(buf);
	memcpy(buf, json, json_nbytes);
	memset(eb, 0, sizeof(*eb));
	st = st_parse(buf, json_nbytes, 8 + json_nbytes + data_nbytes, hdr, eb);
	guarded_free(buf, json_nbytes);
	return st;
}

static enum gauss_status
parse(const char *json, uint64_t data_nbytes, struct st_header *hdr,
      struct errbuf *eb)
{
	return parse_n(json, strlen(json), data_nbytes, hdr, eb);
}

/* Messages are plain printable ASCII, whatever the input held. */
static void
assert_printable(const char *text)
{
	assert_true(text[0] != '\0');
	for (const char *p = text; *p != '\0'; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

static void
assert_empty(const struct st_header *hdr)
{
	const struct st_header zero = { 0 };

	assert_memory_equal(hdr, &zero, sizeof(zero));
}

static void
assert_contains(const char *text, const char *what)
{
	if (strstr(text, what) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", text, what);
}

/* json (json_nbytes bytes) must be refused with a message holding what. */
static void
expect_bad_n(const char *json, size_t json_nbytes, uint64_t data_nbytes,
	     const char *what)
{
	struct st_header hdr;
	struct errbuf eb;

	memset(&hdr, 0xa5, sizeof(hdr));
	assert_int_equal(parse_n(json, json_nbytes, data_nbytes, &hdr, &eb),
			 GAUSS_E_BAD_INPUT);
	assert_empty(&hdr);
	assert_printable(eb.text);
	assert_contains(eb.text, what);
}

static void
expect_bad(const char *json, uint64_t data_nbytes, const char *what)
{
	expect_bad_n(json, strlen(json), data_nbytes, what);
}

static void
expect_ok(const char *json, uint64_t data_nbytes, struct st_header *hdr)
{
	struct errbuf eb;
	const enum gauss_status st = parse(json, data_nbytes, hdr, &eb);

	if (st != GAUSS_OK)
		fail_msg("st_parse: %d: %s", st, eb.text);
}

/* The prefix of a file of file_nbytes bytes whose length field is n. */
static enum gauss_status
check_prefix(uint64_t n, uint64_t file_nbytes, uint64_t *json_nbytes_ret,
	     struct errbuf *eb)
{
	uint8_t prefix[8];

	put_le64(prefix, n);
	memset(eb, 0, sizeof(*eb));
	return st_check_prefix(prefix, file_nbytes, json_nbytes_ret, eb);
}

static void
expect_bad_prefix(uint64_t n, uint64_t file_nbytes, const char *what)
{
	uint64_t json_nbytes = 12345;
	struct errbuf eb;

	assert_int_equal(check_prefix(n, file_nbytes, &json_nbytes, &eb),
			 GAUSS_E_BAD_INPUT);
	assert_int_equal(json_nbytes, 12345);
	assert_printable(eb.text);
	assert_contains(eb.text, what);
}

static const struct {
	const char *name;
	enum gauss_dtype dtype;
	unsigned size;
} all_dtypes[] = {
	{ "BOOL", GAUSS_DTYPE_BOOL, 1 },
	{ "U8", GAUSS_DTYPE_U8, 1 },
	{ "I8", GAUSS_DTYPE_I8, 1 },
	{ "F8_E4M3", GAUSS_DTYPE_F8_E4M3, 1 },
	{ "F8_E5M2", GAUSS_DTYPE_F8_E5M2, 1 },
	{ "I16", GAUSS_DTYPE_I16, 2 },
	{ "U16", GAUSS_DTYPE_U16, 2 },
	{ "F16", GAUSS_DTYPE_F16, 2 },
	{ "BF16", GAUSS_DTYPE_BF16, 2 },
	{ "I32", GAUSS_DTYPE_I32, 4 },
	{ "U32", GAUSS_DTYPE_U32, 4 },
	{ "F32", GAUSS_DTYPE_F32, 4 },
	{ "I64", GAUSS_DTYPE_I64, 8 },
	{ "U64", GAUSS_DTYPE_U64, 8 },
	{ "F64", GAUSS_DTYPE_F64, 8 },
};

#define NDTYPES (sizeof(all_dtypes) / sizeof(all_dtypes[0]))

/* ---- dtypes ---- */

static void
test_safetensors_dtype_size(void **state)
{
	(void)state;
	for (size_t i = 0; i < NDTYPES; i++)
		assert_int_equal(st_dtype_size(all_dtypes[i].dtype),
				 all_dtypes[i].size);
	assert_int_equal(st_dtype_size((enum gauss_dtype)NDTYPES), 0);
	assert_int_equal(st_dtype_size((enum gauss_dtype)-1), 0);
}

static void
test_safetensors_dtype_from_name(void **state)
{
	static const char *const unknown[] = {
		"", "bf16", "BF16 ", " BF16", "F8", "F4", "C64", "BOOL8",
		"F8_E4M3FN", "FLOAT32", "U", "__metadata__",
	};
	enum gauss_dtype dtype;

	(void)state;
	assert_int_equal(NDTYPES, GAUSS_DTYPE_F64 + 1);
	for (size_t i = 0; i < NDTYPES; i++) {
		dtype = (enum gauss_dtype)-1;
		assert_int_equal(st_dtype_from_name(all_dtypes[i].name,
						    &dtype), 0);
		assert_int_equal(dtype, all_dtypes[i].dtype);
	}
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		dtype = GAUSS_DTYPE_U16;
		assert_int_equal(st_dtype_from_name(unknown[i], &dtype), -1);
		assert_int_equal(dtype, GAUSS_DTYPE_U16);
	}
}

/* ---- valid headers ---- */

static void
test_safetensors_single_tensor(void **state)
{
	const uint16_t data[6] = { 1, 2, 3, 4, 5, 6 };
	struct st_build b;
	struct st_header hdr;
	struct errbuf eb;
	uint64_t json_nbytes;
	size_t nbytes;
	uint8_t *file;

	(void)state;
	st_build_begin(&b, NULL);
	st_build_tensor(&b, "fc.weight", "BF16", "[2, 3]", data, sizeof(data),
			0);
	file = st_build_end(&b, 0, &nbytes);
	assert_int_equal(check_prefix(get_le64(file), nbytes, &json_nbytes,
				      &eb), GAUSS_OK);
	assert_int_equal(st_parse(file + 8, json_nbytes, nbytes, &hdr, &eb),
			 GAUSS_OK);
	assert_int_equal(hdr.json_nbytes, json_nbytes);
	assert_int_equal(hdr.data_offset, 8 + json_nbytes);
	assert_int_equal(hdr.data_nbytes, sizeof(data));
	assert_int_equal(hdr.tensor_count, 1);
	assert_string_equal(hdr.tensors[0].name, "fc.weight");
	assert_int_equal(hdr.tensors[0].dtype, GAUSS_DTYPE_BF16);
	assert_int_equal(hdr.tensors[0].ndim, 2);
	assert_int_equal(hdr.tensors[0].shape[0], 2);
	assert_int_equal(hdr.tensors[0].shape[1], 3);
	assert_int_equal(hdr.tensors[0].element_count, 6);
	assert_int_equal(hdr.tensors[0].begin, 0);
	assert_int_equal(hdr.tensors[0].end, 12);
	assert_int_equal(hdr.by_offset[0], 0);
	assert_memory_equal(file + hdr.data_offset + hdr.tensors[0].begin,
			    data, sizeof(data));
	st_header_free(&hdr);
	assert_empty(&hdr);
	free(file);
}

static void
test_safetensors_metadata_only(void **state)
{
	struct st_header hdr;

	(void)state;
	expect_ok("{\"__metadata__\":{\"format\":\"pt\",\"note\":\"\"}}", 0,
		  &hdr);
	assert_int_equal(hdr.tensor_count, 0);
	assert_null(hdr.tensors);
	assert_null(hdr.by_offset);
	assert_int_equal(hdr.data_nbytes, 0);
	st_header_free(&hdr);

	expect_ok("{\"__metadata__\":{}}", 0, &hdr);
	assert_int_equal(hdr.tensor_count, 0);
	st_header_free(&hdr);
}

static void
test_safetensors_no_tensors(void **state)
{
	struct st_header hdr;

	(void)state;
	expect_ok("{}", 0, &hdr);
	assert_int_equal(hdr.json_nbytes, 2);
	assert_int_equal(hdr.data_offset, 10);
	assert_int_equal(hdr.tensor_count, 0);
	assert_int_equal(hdr.data_nbytes, 0);
	st_header_free(&hdr);
}

static void
test_safetensors_scalar_shape(void **state)
{
	struct st_header hdr;

	(void)state;
	expect_ok("{\"step\":{\"dtype\":\"I64\",\"shape\":[],"
		  "\"data_offsets\":[0,8]}}", 8, &hdr);
	assert_int_equal(hdr.tensor_count, 1);
	assert_int_equal(hdr.tensors[0].ndim, 0);
	assert_null(hdr.tensors[0].shape);
	assert_int_equal(hdr.tensors[0].element_count, 1);
	assert_int_equal(hdr.tensors[0].dtype, GAUSS_DTYPE_I64);
	st_header_free(&hdr);
}

static void
test_safetensors_zero_dimension(void **state)
{
	struct st_header hdr;

	(void)state;
	/* Empty tensors never overlap, even inside another's bytes. */
	expect_ok("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
		  "\"data_offsets\":[0,8]},"
		  "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],"
		  "\"data_offsets\":[4,4]},"
		  "\"f\":{\"dtype\":\"BF16\",\"shape\":[3,0],"
		  "\"data_offsets\":[0,0]},"
		  "\"g\":{\"dtype\":\"U8\",\"shape\":[0],"
		  "\"data_offsets\":[8,8]}}", 8, &hdr);
	assert_int_equal(hdr.tensor_count, 4);
	assert_int_equal(hdr.tensors[1].element_count, 0);
	assert_int_equal(hdr.tensors[1].ndim, 2);
	assert_int_equal(hdr.tensors[2].element_count, 0);
	assert_int_equal(hdr.data_nbytes, 8);
	/* Sorted by (begin, end, index). */
	assert_int_equal(hdr.by_offset[0], 2);
	assert_int_equal(hdr.by_offset[1], 0);
	assert_int_equal(hdr.by_offset[2], 1);
	assert_int_equal(hdr.by_offset[3], 3);
	st_header_free(&hdr);
}

static void
test_safetensors_zero_dimension_huge_product(void **state)
{
	struct st_header hdr;

	(void)state;
	/* The partial product overflows, but a later 0 makes it fit. */
	expect_ok("{\"z\":{\"dtype\":\"F64\",\"shape\":[4294967296,"
		  "4294967296,0],\"data_offsets\":[0,0]}}", 0, &hdr);
	assert_int_equal(hdr.tensors[0].element_count, 0);
	st_header_free(&hdr);
}

static void
test_safetensors_empty_tensor_sets_data_size(void **state)
{
	struct st_header hdr;

	(void)state;
	/* data_nbytes is the largest end, that of an empty tensor too. */
	expect_ok("{\"e\":{\"dtype\":\"U8\",\"shape\":[0],"
		  "\"data_offsets\":[16,16]}}", 16, &hdr);
	assert_int_equal(hdr.data_nbytes, 16);
	st_header_free(&hdr);
	expect_bad("{\"e\":{\"dtype\":\"U8\",\"shape\":[0],"
		   "\"data_offsets\":[16,16]}}", 0, "file is truncated");
}

static void
test_safetensors_gaps(void **state)
{
	const uint8_t a[4] = { 1, 2, 3, 4 };
	const uint8_t c[2] = { 9, 8 };
	struct st_build b;
	struct st_header hdr;
	struct errbuf eb;
	size_t nbytes;
	uint8_t *file;

	(void)state;
	st_build_begin(&b, "{\"format\":\"pt\"}");
	st_build_tensor(&b, "a", "U8", "[4]", a, sizeof(a), 3);
	st_build_tensor(&b, "c", "I16", "[1]", c, sizeof(c), 5);
	file = st_build_end(&b, 8, &nbytes);
	assert_int_equal(st_parse(file + 8, get_le64(file), nbytes, &hdr,
				  &eb), GAUSS_OK);
	assert_int_equal(hdr.tensor_count, 2);
	assert_int_equal(hdr.tensors[0].begin, 3);
	assert_int_equal(hdr.tensors[0].end, 7);
	assert_int_equal(hdr.tensors[1].begin, 12);
	assert_int_equal(hdr.tensors[1].end, 14);
	assert_int_equal(hdr.data_nbytes, 14);
	assert_memory_equal(file + hdr.data_offset + 12, c, sizeof(c));
	st_header_free(&hdr);
	free(file);
}

static void
test_safetensors_out_of_order(void **state)
{
	struct st_header hdr;

	(void)state;
	expect_ok("{\"z\":{\"dtype\":\"F32\",\"shape\":[1],"
		  "\"data_offsets\":[8,12]},"
		  "\"__metadata__\":{\"k\":\"v\"},"
		  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
		  "\"data_offsets\":[4,8]},"
		  "\"m\":{\"data_offsets\":[0,4],\"shape\":[1],"
		  "\"dtype\":\"U32\"}}", 12, &hdr);
	assert_int_equal(hdr.tensor_count, 3);
	/* Tensors keep the order of the text; by_offset sorts them. */
	assert_string_equal(hdr.tensors[0].name, "z");
	assert_string_equal(hdr.tensors[1].name, "a");
	assert_string_equal(hdr.tensors[2].name, "m");
	assert_int_equal(hdr.tensors[2].dtype, GAUSS_DTYPE_U32);
	assert_int_equal(hdr.by_offset[0], 2);
	assert_int_equal(hdr.by_offset[1], 1);
	assert_int_equal(hdr.by_offset[2], 0);
	st_header_free(&hdr);
}

static void
test_safetensors_padded_header(void **state)
{
	const float x[3] = { 1.0f, 2.0f, 3.0f };
	struct st_build b;
	struct st_header hdr;
	struct errbuf eb;
	uint64_t json_nbytes;
	size_t nbytes;
	uint8_t *file;

	(void)state;
	st_build_begin(&b, NULL);
	st_build_tensor(&b, "x", "F32", "[3]", x, sizeof(x), 0);
	file = st_build_end(&b, 8, &nbytes);
	json_nbytes = get_le64(file);
	assert_int_equal((8 + json_nbytes) % 8, 0);
	assert_int_equal(file[8 + json_nbytes - 1], ' ');
	assert_int_equal(check_prefix(json_nbytes, nbytes, &json_nbytes, &eb),
			 GAUSS_OK);
	assert_int_equal(st_parse(file + 8, json_nbytes, nbytes, &hdr, &eb),
			 GAUSS_OK);
	assert_int_equal(hdr.data_offset % 8, 0);
	assert_memory_equal(file + hdr.data_offset, x, sizeof(x));
	st_header_free(&hdr);
	free(file);

	/* Other JSON whitespace after the object is fine too... */
	expect_ok("{}\n\t\r  ", 0, &hdr);
	st_header_free(&hdr);
	/* ...but the header must begin with '{' (the specification says so). */
	expect_bad(" \t\r\n{}\n\t  ", 0,
		   "header does not begin with '{' (it begins with byte 0x20)");
	expect_bad("\n{}", 0, "it begins with byte 0x0a");
}

static void
test_safetensors_all_dtypes(void **state)
{
	char json[4096];
	size_t o = 0;
	uint64_t off = 0;
	struct st_header hdr;

	(void)state;
	o += (size_t)snprintf(json + o, sizeof(json) - o, "{");
	for (size_t i = 0; i < NDTYPES; i++) {
		const uint64_t n = 3 * (uint64_t)all_dtypes[i].size;

		o += (size_t)snprintf(json + o, sizeof(json) - o,
				      "%s\"t%zu\":{\"dtype\":\"%s\","
				      "\"shape\":[3],\"data_offsets\":"
				      "[%llu,%llu]}", i ? "," : "", i,
				      all_dtypes[i].name,
				      (unsigned long long)off,
				      (unsigned long long)(off + n));
		off += n;
	}
	snprintf(json + o, sizeof(json) - o, "}");
	expect_ok(json, off, &hdr);
	assert_int_equal(hdr.tensor_count, NDTYPES);
	for (size_t i = 0; i < NDTYPES; i++) {
		assert_int_equal(hdr.tensors[i].dtype, all_dtypes[i].dtype);
		assert_int_equal(hdr.by_offset[i], i);
	}
	st_header_free(&hdr);
}

static void
test_safetensors_unknown_members_ignored(void **state)
{
	struct st_header hdr;

	(void)state;
	expect_ok("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		  "\"data_offsets\":[0,1],\"extra\":[1,{\"x\":null}]}}", 1,
		  &hdr);
	assert_int_equal(hdr.tensor_count, 1);
	st_header_free(&hdr);
}

static void
test_safetensors_large_offsets(void **state)
{
	struct st_header hdr;

	(void)state;
	/* 2^62 bytes: checked without touching any data. */
	expect_ok("{\"big\":{\"dtype\":\"U8\",\"shape\":[2147483648,"
		  "2147483648],\"data_offsets\":[0,4611686018427387904]}}",
		  (uint64_t)1 << 62, &hdr);
	assert_int_equal(hdr.tensors[0].element_count, (uint64_t)1 << 62);
	assert_int_equal(hdr.data_nbytes, (uint64_t)1 << 62);
	st_header_free(&hdr);

	/* The largest integer jansson holds. */
	expect_ok("{\"e\":{\"dtype\":\"U8\",\"shape\":[0,9223372036854775807],"
		  "\"data_offsets\":[9223372036854775807,"
		  "9223372036854775807]}}", UINT64_C(9223372036854775807),
		  &hdr);
	assert_int_equal(hdr.tensors[0].shape[1], INT64_MAX);
	st_header_free(&hdr);
}

static void
test_safetensors_unicode_name(void **state)
{
	struct st_header hdr;

	(void)state;
	expect_ok("{\"caf\xc3\xa9.\\u00e9\\ud83d\\ude00\":{\"dtype\":\"U8\","
		  "\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &hdr);
	assert_string_equal(hdr.tensors[0].name,
			    "caf\xc3\xa9.\xc3\xa9\xf0\x9f\x98\x80");
	st_header_free(&hdr);
}

static void
test_safetensors_prefix_valid(void **state)
{
	uint64_t json_nbytes = 0;
	struct errbuf eb;

	(void)state;
	assert_int_equal(check_prefix(2, 10, &json_nbytes, &eb), GAUSS_OK);
	assert_int_equal(json_nbytes, 2);
	assert_int_equal(check_prefix(100, 1000, &json_nbytes, &eb),
			 GAUSS_OK);
	assert_int_equal(json_nbytes, 100);
	assert_int_equal(check_prefix(ST_MAX_HEADER_NBYTES, UINT64_MAX,
				      &json_nbytes, &eb), GAUSS_OK);
	assert_int_equal(json_nbytes, ST_MAX_HEADER_NBYTES);
}

static void
test_safetensors_header_free_empty(void **state)
{
	struct st_header hdr = { 0 };

	(void)state;
	st_header_free(&hdr);
	st_header_free(&hdr);
	st_header_free(NULL);
	assert_empty(&hdr);
}

/* ---- malformed headers ---- */

static void
test_safetensors_invalid_json(void **state)
{
	(void)state;
	expect_bad("{\"a\":", 0, "invalid JSON header at line 1 column");
	expect_bad("{\"a\":1,}", 0, "invalid JSON header");
	expect_bad("{'a':1}", 0, "invalid JSON header");
	expect_bad("{} x", 0, "end of file expected");
	expect_bad("{}{}", 0, "end of file expected");
	expect_bad("\n\n  {\"a\" 1}", 0, "invalid JSON header at line 3");
}

static void
test_safetensors_not_an_object(void **state)
{
	(void)state;
	expect_bad("[]", 0, "header is not a JSON object");
	expect_bad("[{\"a\":1}]", 0, "header is not a JSON object");
	expect_bad("12", 0, "invalid JSON header");
	expect_bad("\"x\"", 0, "invalid JSON header");
	expect_bad("null", 0, "invalid JSON header");
}

static void
test_safetensors_duplicate_names(void **state)
{
	(void)state;
	expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]},"
		   "\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[1,2]}}", 2, "duplicate object key");
	expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0,
		   "duplicate object key");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "duplicate object key");
}

static void
test_safetensors_offsets_past_end(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],"
		   "\"data_offsets\":[0,4]}}", 3,
		   "file is truncated: tensor data ends at byte");
}

static void
test_safetensors_overlap(void **state)
{
	(void)state;
	expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],"
		   "\"data_offsets\":[0,8]},"
		   "\"b\":{\"dtype\":\"U8\",\"shape\":[4],"
		   "\"data_offsets\":[4,8]}}", 8,
		   "tensors 'a' and 'b' overlap: data_offsets [0, 8] and "
		   "[4, 8]");
	/* The same bytes twice. */
	expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],"
		   "\"data_offsets\":[0,8]},"
		   "\"b\":{\"dtype\":\"I8\",\"shape\":[8],"
		   "\"data_offsets\":[0,8]}}", 8,
		   "tensors 'a' and 'b' overlap");
	/* Listed in the other order, with an empty tensor in between. */
	expect_bad("{\"b\":{\"dtype\":\"U8\",\"shape\":[4],"
		   "\"data_offsets\":[6,10]},"
		   "\"z\":{\"dtype\":\"U8\",\"shape\":[0],"
		   "\"data_offsets\":[5,5]},"
		   "\"a\":{\"dtype\":\"U8\",\"shape\":[8],"
		   "\"data_offsets\":[0,8]}}", 10,
		   "tensors 'a' and 'b' overlap");
	/* One inside another, past a third. */
	expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],"
		   "\"data_offsets\":[0,2]},"
		   "\"big\":{\"dtype\":\"U8\",\"shape\":[8],"
		   "\"data_offsets\":[2,10]},"
		   "\"in\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[9,10]}}", 10,
		   "tensors 'big' and 'in' overlap");
}

static void
test_safetensors_reversed_offsets(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],"
		   "\"data_offsets\":[10,4]}}", 10,
		   "tensor 'w': data_offsets [10, 4] end before they begin");
}

static void
test_safetensors_size_mismatch(void **state)
{
	(void)state;
	expect_bad("{\"fc.weight\":{\"dtype\":\"BF16\",\"shape\":[3],"
		   "\"data_offsets\":[0,10]}}", 10,
		   "tensor 'fc.weight': data_offsets [0, 10] hold 10 bytes "
		   "but shape [3] of BF16 needs 6");
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],"
		   "\"data_offsets\":[0,15]}}", 15,
		   "shape [2, 2] of F32 needs 16");
	expect_bad("{\"s\":{\"dtype\":\"F64\",\"shape\":[],"
		   "\"data_offsets\":[0,4]}}", 4, "shape [] of F64 needs 8");
	expect_bad("{\"e\":{\"dtype\":\"F64\",\"shape\":[0],"
		   "\"data_offsets\":[0,8]}}", 8, "needs 0");
}

static void
test_safetensors_long_shape_in_message(void **state)
{
	char json[2048];
	size_t o = 0;
	struct st_header hdr;
	struct errbuf eb;

	(void)state;
	/* 64 dimensions of 1 except one 2: the shape is cut short. */
	o += (size_t)snprintf(json + o, sizeof(json) - o,
			      "{\"w\":{\"dtype\":\"U8\",\"shape\":[2");
	for (int i = 1; i < ST_MAX_NDIM; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o, ",1");
	snprintf(json + o, sizeof(json) - o, "],\"data_offsets\":[0,3]}}");
	memset(&hdr, 0, sizeof(hdr));
	assert_int_equal(parse(json, 3, &hdr, &eb), GAUSS_E_BAD_INPUT);
	assert_contains(eb.text, "shape [2, 1, 1");
	assert_contains(eb.text, "...] of U8 needs 2");
	assert_empty(&hdr);
}

static void
test_safetensors_bad_shape_entries(void **state)
{
	static const char *const shapes[] = {
		"[-1]", "[2.0]", "[1e3]", "[\"3\"]", "[true]", "[null]",
		"[[3]]", "[{}]", "[3,-0.5]", "[1,2,-9223372036854775808]",
	};
	static const char *const what[] = {
		"shape[0] is not", "shape[0] is not", "shape[0] is not",
		"shape[0] is not", "shape[0] is not", "shape[0] is not",
		"shape[0] is not", "shape[0] is not", "shape[1] is not",
		"shape[2] is not a non-negative integer",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		char json[256];

		snprintf(json, sizeof(json), "{\"w\":{\"dtype\":\"U8\","
			 "\"shape\":%s,\"data_offsets\":[0,0]}}", shapes[i]);
		expect_bad(json, 0, what[i]);
	}
}

static void
test_safetensors_shape_not_array(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":3,"
		   "\"data_offsets\":[0,3]}}", 3,
		   "tensor 'w': \"shape\" is not an array");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":{\"0\":3},"
		   "\"data_offsets\":[0,3]}}", 3, "\"shape\" is not an array");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":null,"
		   "\"data_offsets\":[0,3]}}", 3, "\"shape\" is not an array");
}

static void
test_safetensors_too_many_dimensions(void **state)
{
	char json[1024];
	size_t o = 0;

	(void)state;
	o += (size_t)snprintf(json + o, sizeof(json) - o,
			      "{\"w\":{\"dtype\":\"U8\",\"shape\":[1");
	for (int i = 1; i < ST_MAX_NDIM + 1; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o, ",1");
	snprintf(json + o, sizeof(json) - o, "],\"data_offsets\":[0,1]}}");
	expect_bad(json, 1, "shape has 65 dimensions, more than 64");
}

static void
test_safetensors_shape_product_overflow(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,"
		   "4294967296],\"data_offsets\":[0,0]}}", 0,
		   "tensor 'w': shape [4294967296, 4294967296] has more than "
		   "2^64 - 1 elements");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[3,3,3,3,3,3,3,3,3,3,"
		   "3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,"
		   "3,3,3,3],\"data_offsets\":[0,0]}}", 0,
		   "elements");
}

static void
test_safetensors_byte_size_overflow(void **state)
{
	(void)state;
	/* 2^63 elements fit in 64 bits; 2^66 bytes do not. */
	expect_bad("{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904,"
		   "2],\"data_offsets\":[0,0]}}", 0,
		   "tensor 'w': shape [4611686018427387904, 2] of F64 needs "
		   "more than 2^64 - 1 bytes");
}

static void
test_safetensors_integer_too_big(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":"
		   "[0,9223372036854775808]}}", 0, "too big integer");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":"
		   "[18446744073709551616],\"data_offsets\":[0,0]}}", 0,
		   "too big integer");
}

static void
test_safetensors_unknown_dtype(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"F4\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1,
		   "tensor 'w': unknown dtype 'F4'");
	expect_bad("{\"w\":{\"dtype\":\"bf16\",\"shape\":[1],"
		   "\"data_offsets\":[0,2]}}", 2, "unknown dtype 'bf16'");
	expect_bad("{\"w\":{\"dtype\":\"\",\"shape\":[1],"
		   "\"data_offsets\":[0,2]}}", 2, "unknown dtype ''");
	expect_bad("{\"w\":{\"dtype\":\"BF16\\n\",\"shape\":[1],"
		   "\"data_offsets\":[0,2]}}", 2, "unknown dtype 'BF16\\x0a'");
}

static void
test_safetensors_dtype_not_string(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":8,\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1,
		   "tensor 'w': \"dtype\" is not a string");
	expect_bad("{\"w\":{\"dtype\":[\"U8\"],\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "\"dtype\" is not a string");
}

static void
test_safetensors_metadata_value_not_string(void **state)
{
	(void)state;
	expect_bad("{\"__metadata__\":{\"format\":\"pt\",\"n\":3}}", 0,
		   "\"__metadata__\": value of 'n' is not a string");
	expect_bad("{\"__metadata__\":{\"a\":null}}", 0,
		   "value of 'a' is not a string");
	expect_bad("{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", 0,
		   "value of 'a' is not a string");
	expect_bad("{\"__metadata__\":{\"a\":[\"c\"]}}", 0,
		   "value of 'a' is not a string");
}

static void
test_safetensors_metadata_not_object(void **state)
{
	(void)state;
	expect_bad("{\"__metadata__\":\"pt\"}", 0,
		   "\"__metadata__\" is not a JSON object");
	expect_bad("{\"__metadata__\":[]}", 0,
		   "\"__metadata__\" is not a JSON object");
	expect_bad("{\"__metadata__\":null}", 0,
		   "\"__metadata__\" is not a JSON object");
}

static void
test_safetensors_entry_not_object(void **state)
{
	(void)state;
	expect_bad("{\"w\":[\"U8\",[1],[0,1]]}", 1,
		   "tensor 'w': entry is not a JSON object");
	expect_bad("{\"w\":\"U8\"}", 0, "entry is not a JSON object");
	expect_bad("{\"w\":null}", 0, "entry is not a JSON object");
}

static void
test_safetensors_missing_members(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
		   "tensor 'w': missing \"dtype\"");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1,
		   "tensor 'w': missing \"shape\"");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1,
		   "tensor 'w': missing \"data_offsets\"");
	expect_bad("{\"w\":{}}", 0, "missing \"dtype\"");
	expect_bad("{\"w\":{\"Dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "missing \"dtype\"");
}

static void
test_safetensors_data_offsets_count(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[1]}}", 1,
		   "tensor 'w': \"data_offsets\" has 1 entries, not 2");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1,2]}}", 2,
		   "\"data_offsets\" has 3 entries, not 2");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],"
		   "\"data_offsets\":[]}}", 0,
		   "\"data_offsets\" has 0 entries, not 2");
}

static void
test_safetensors_data_offsets_not_array(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":{\"begin\":0,\"end\":1}}}", 1,
		   "\"data_offsets\" is not an array");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":\"0,1\"}}", 1,
		   "\"data_offsets\" is not an array");
}

static void
test_safetensors_bad_data_offsets_entries(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[-1,0]}}", 0,
		   "tensor 'w': data_offsets[0] is not a non-negative integer");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1.0]}}", 1,
		   "data_offsets[1] is not a non-negative integer");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[\"0\",1]}}", 1,
		   "data_offsets[0] is not");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,false]}}", 1,
		   "data_offsets[1] is not");
}

static void
test_safetensors_truncated_data(void **state)
{
	const uint8_t d[16] = { 0 };
	struct st_build b;
	struct st_header hdr;
	struct errbuf eb;
	size_t nbytes;
	uint8_t *file;
	char want[128];

	(void)state;
	st_build_begin(&b, NULL);
	st_build_tensor(&b, "w", "U8", "[16]", d, sizeof(d), 0);
	file = st_build_end(&b, 0, &nbytes);
	assert_int_equal(st_parse(file + 8, get_le64(file), nbytes - 1, &hdr,
				  &eb), GAUSS_E_BAD_INPUT);
	snprintf(want, sizeof(want), "file is truncated: tensor data ends at "
		 "byte %zu but the file has %zu bytes", nbytes, nbytes - 1);
	assert_string_equal(eb.text, want);
	assert_empty(&hdr);
	free(file);
}

static void
test_safetensors_trailing_bytes(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],"
		   "\"data_offsets\":[0,4]}}", 16,
		   "file has 12 trailing bytes after the last tensor");
	expect_bad("{}", 1, "file has 1 trailing bytes after the header");
	expect_bad("{\"__metadata__\":{}}", 3,
		   "file has 3 trailing bytes after the header");
}

static void
test_safetensors_nul_in_name(void **state)
{
	(void)state;
	expect_bad("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "NUL byte in object key");
	expect_bad("{\"\\u0000\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "invalid JSON header");
}

static void
test_safetensors_nul_in_string(void **state)
{
	(void)state;
	expect_bad("{\"w\":{\"dtype\":\"U8\\u0000\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "\\u0000 is not allowed");
	expect_bad("{\"__metadata__\":{\"k\":\"\\u0000\"}}", 0,
		   "invalid JSON header");
}

static void
test_safetensors_raw_nul_bytes(void **state)
{
	static const char inside[] = "{\"a\0\":{\"dtype\":\"U8\",\"shape\":[1],"
				     "\"data_offsets\":[0,1]}}";
	static const char after[] = "{}\0\0\0\0\0\0";
	static const char before[] = "\0{}";

	(void)state;
	expect_bad_n(inside, sizeof(inside) - 1, 1,
		     "header holds a NUL byte at byte 3 of its 54");
	/* Padding must be spaces, not NUL bytes. */
	expect_bad_n(after, sizeof(after) - 1, 0,
		     "header holds a NUL byte at byte 2 of its 8");
	expect_bad_n(before, sizeof(before) - 1, 0,
		     "header holds a NUL byte at byte 0 of its 3");
}

static void
test_safetensors_empty_name(void **state)
{
	(void)state;
	expect_bad("{\"\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "a tensor has an empty name");
}

static void
test_safetensors_invalid_utf8(void **state)
{
	(void)state;
	expect_bad("{\"w\xff\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "unable to decode byte 0xff");
	/* An overlong encoding of '/', a lone continuation, a surrogate. */
	expect_bad("{\"\xc0\xaf\":{}}", 0, "invalid JSON header");
	expect_bad("{\"\x80\":{}}", 0, "invalid JSON header");
	expect_bad("{\"\xed\xa0\x80\":{}}", 0, "invalid JSON header");
	expect_bad("{\"__metadata__\":{\"k\":\"\xe2\x82\"}}", 0,
		   "invalid JSON header");
	expect_bad("{\"w\":{\"dtype\":\"\\ud800\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "invalid Unicode");
	/* A byte order mark is not JSON; jansson's quote of it is escaped. */
	expect_bad("\xef\xbb\xbf{}", 0, "\\xef\\xbb\\xbf");
}

static void
test_safetensors_control_characters(void **state)
{
	(void)state;
	expect_bad("{\"w\x01\":{\"dtype\":\"U8\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "control character 0x1");
	expect_bad("{\"w\":{\"dtype\":\"U8\t\",\"shape\":[1],"
		   "\"data_offsets\":[0,1]}}", 1, "control character 0x9");
}

static void
test_safetensors_name_escaped(void **state)
{
	(void)state;
	/* Quote, backslash, newline, escape and UTF-8 all come out safe. */
	expect_bad("{\"a'b\\\\c\\n\\u001b[31m\xc3\xa9\":{\"dtype\":\"U8\","
		   "\"shape\":[2],\"data_offsets\":[0,1]}}", 1,
		   "tensor 'a\\'b\\\\c\\x0a\\x1b[31m\\xc3\\xa9': data_offsets");
	expect_bad("{\"__metadata__\":{\"\\u007f\":1}}", 0,
		   "value of '\\x7f' is not");
}

static void
test_safetensors_long_name_truncated(void **state)
{
	char json[1024];
	char name[401];
	struct st_header hdr;
	struct errbuf eb;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(json, sizeof(json), "{\"%s\":{\"dtype\":\"U8\",\"shape\":[2],"
		 "\"data_offsets\":[0,1]}}", name);
	memset(&hdr, 0, sizeof(hdr));
	assert_int_equal(parse(json, 1, &hdr, &eb), GAUSS_E_BAD_INPUT);
	assert_contains(eb.text, "nnn...': data_offsets [0, 1] hold 1 bytes");
	assert_true(strlen(eb.text) < 200);

	/* Two long names still leave room for the whole message. */
	snprintf(json, sizeof(json), "{\"%.300sa\":{\"dtype\":\"U8\","
		 "\"shape\":[2],\"data_offsets\":[0,2]},"
		 "\"%.300sb\":{\"dtype\":\"U8\",\"shape\":[2],"
		 "\"data_offsets\":[1,3]}}", name, name);
	assert_int_equal(parse(json, 3, &hdr, &eb), GAUSS_E_BAD_INPUT);
	assert_contains(eb.text, "...' overlap: data_offsets [0, 2] and "
			"[1, 3]");
	assert_printable(eb.text);
	assert_empty(&hdr);
}

static void
test_safetensors_later_tensor_bad(void **state)
{
	(void)state;
	/* Earlier tensors were allocated: nothing may leak (LSan). */
	expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1],"
		   "\"data_offsets\":[0,1]},"
		   "\"b\":{\"dtype\":\"U8\",\"shape\":[2,1],"
		   "\"data_offsets\":[1,3]},"
		   "\"c\":{\"dtype\":\"U8\",\"shape\":[1,2,-3],"
		   "\"data_offsets\":[3,4]}}", 4,
		   "tensor 'c': shape[2] is not");
	expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1],"
		   "\"data_offsets\":[0,1]},"
		   "\"__metadata__\":{\"x\":false}}", 1,
		   "value of 'x' is not a string");
}

static void
test_safetensors_deep_nesting(void **state)
{
	enum { DEPTH = 100000 };
	char *json = malloc(2 * DEPTH + 64);
	size_t o = 0;

	(void)state;
	assert_non_null(json);
	o += (size_t)snprintf(json, 64, "{\"__metadata__\":{\"k\":");
	memset(json + o, '[', DEPTH);
	o += DEPTH;
	memset(json + o, ']', DEPTH);
	o += DEPTH;
	memcpy(json + o, "}}", 2);
	o += 2;
	expect_bad_n(json, o, 0, "invalid JSON header");
	free(json);
}

static void
test_safetensors_json_length_out_of_range(void **state)
{
	struct st_header hdr;
	struct errbuf eb;

	(void)state;
	memset(&hdr, 0, sizeof(hdr));
	assert_int_equal(parse_n("{", 1, 0, &hdr, &eb), GAUSS_E_BAD_INPUT);
	assert_contains(eb.text, "header length 1 is out of range");
	assert_int_equal(st_parse((const uint8_t *)"{}",
				  ST_MAX_HEADER_NBYTES + 1, UINT64_MAX, &hdr,
				  &eb), GAUSS_E_BAD_INPUT);
	assert_contains(eb.text, "is out of range");
	assert_empty(&hdr);
}

static void
test_safetensors_prefix_too_large(void **state)
{
	(void)state;
	expect_bad_prefix(1234567, 100,
			  "header length 1234567 exceeds the file size 100");
	expect_bad_prefix(93, 100, "header length 93 exceeds the file size");
	expect_bad_prefix(ST_MAX_HEADER_NBYTES + 1, UINT64_MAX,
			  "header length 100000001 exceeds the limit of "
			  "100000000 bytes");
}

static void
test_safetensors_prefix_absurd(void **state)
{
	(void)state;
	expect_bad_prefix(UINT64_MAX, UINT64_MAX,
			  "header length 18446744073709551615 exceeds the "
			  "limit");
	expect_bad_prefix((uint64_t)1 << 63, 64, "exceeds the limit");
}

static void
test_safetensors_prefix_too_small(void **state)
{
	(void)state;
	expect_bad_prefix(0, 100, "header length 0 is too small");
	expect_bad_prefix(1, 100, "header length 1 is too small");
}

static void
test_safetensors_prefix_truncated(void **state)
{
	(void)state;
	expect_bad_prefix(2, 7, "file is truncated: 7 bytes");
	expect_bad_prefix(2, 0, "file is truncated: 0 bytes");
	expect_bad_prefix(2, 9, "header length 2 exceeds the file size 9");
}

/*
 * Every byte of a valid header replaced by a few others: each result is
 * either a good header or BAD_INPUT with a printable message.
 */
static void
test_safetensors_mutations(void **state)
{
	static const char base[] =
		"{\"__metadata__\":{\"format\":\"pt\"},"
		"\"a\":{\"dtype\":\"F32\",\"shape\":[2,1],"
		"\"data_offsets\":[0,8]},"
		"\"b\":{\"dtype\":\"BF16\",\"shape\":[],"
		"\"data_offsets\":[8,10]}}";
	static const char subst[] = { '\0', ' ', '"', '[', ']', '{', '}', ',',
				      ':', '-', '0', '9', '.', 'e', '\\',
				      '\x80', '\xff', 'a' };
	const size_t n = sizeof(base) - 1;
	char json[sizeof(base)];
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	size_t ok_count = 0;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sizeof(subst); k++) {
			struct st_header hdr;
			struct errbuf eb;
			enum gauss_status st;

			memcpy(json, base, n);
			json[i] = subst[k];
			st = parse_n(json, n, 10 + test_rand(&rng) % 2, &hdr,
				     &eb);
			if (st == GAUSS_OK) {
				ok_count++;
				assert_true(hdr.data_nbytes <= 11);
				st_header_free(&hdr);
			} else {
				assert_int_equal(st, GAUSS_E_BAD_INPUT);
				assert_printable(eb.text);
				assert_empty(&hdr);
			}
		}
	}
	assert_true(ok_count > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_safetensors_dtype_size),
		cmocka_unit_test(test_safetensors_dtype_from_name),
		cmocka_unit_test(test_safetensors_single_tensor),
		cmocka_unit_test(test_safetensors_metadata_only),
		cmocka_unit_test(test_safetensors_no_tensors),
		cmocka_unit_test(test_safetensors_scalar_shape),
		cmocka_unit_test(test_safetensors_zero_dimension),
		cmocka_unit_test(test_safetensors_zero_dimension_huge_product),
		cmocka_unit_test(test_safetensors_empty_tensor_sets_data_size),
		cmocka_unit_test(test_safetensors_gaps),
		cmocka_unit_test(test_safetensors_out_of_order),
		cmocka_unit_test(test_safetensors_padded_header),
		cmocka_unit_test(test_safetensors_all_dtypes),
		cmocka_unit_test(test_safetensors_unknown_members_ignored),
		cmocka_unit_test(test_safetensors_large_offsets),
		cmocka_unit_test(test_safetensors_unicode_name),
		cmocka_unit_test(test_safetensors_prefix_valid),
		cmocka_unit_test(test_safetensors_header_free_empty),
		cmocka_unit_test(test_safetensors_invalid_json),
		cmocka_unit_test(test_safetensors_not_an_object),
		cmocka_unit_test(test_safetensors_duplicate_names),
		cmocka_unit_test(test_safetensors_offsets_past_end),
		cmocka_unit_test(test_safetensors_overlap),
		cmocka_unit_test(test_safetensors_reversed_offsets),
		cmocka_unit_test(test_safetensors_size_mismatch),
		cmocka_unit_test(test_safetensors_long_shape_in_message),
		cmocka_unit_test(test_safetensors_bad_shape_entries),
		cmocka_unit_test(test_safetensors_shape_not_array),
		cmocka_unit_test(test_safetensors_too_many_dimensions),
		cmocka_unit_test(test_safetensors_shape_product_overflow),
		cmocka_unit_test(test_safetensors_byte_size_overflow),
		cmocka_unit_test(test_safetensors_integer_too_big),
		cmocka_unit_test(test_safetensors_unknown_dtype),
		cmocka_unit_test(test_safetensors_dtype_not_string),
		cmocka_unit_test(test_safetensors_metadata_value_not_string),
		cmocka_unit_test(test_safetensors_metadata_not_object),
		cmocka_unit_test(test_safetensors_entry_not_object),
		cmocka_unit_test(test_safetensors_missing_members),
		cmocka_unit_test(test_safetensors_data_offsets_count),
		cmocka_unit_test(test_safetensors_data_offsets_not_array),
		cmocka_unit_test(test_safetensors_bad_data_offsets_entries),
		cmocka_unit_test(test_safetensors_truncated_data),
		cmocka_unit_test(test_safetensors_trailing_bytes),
		cmocka_unit_test(test_safetensors_nul_in_name),
		cmocka_unit_test(test_safetensors_nul_in_string),
		cmocka_unit_test(test_safetensors_raw_nul_bytes),
		cmocka_unit_test(test_safetensors_empty_name),
		cmocka_unit_test(test_safetensors_invalid_utf8),
		cmocka_unit_test(test_safetensors_control_characters),
		cmocka_unit_test(test_safetensors_name_escaped),
		cmocka_unit_test(test_safetensors_long_name_truncated),
		cmocka_unit_test(test_safetensors_later_tensor_bad),
		cmocka_unit_test(test_safetensors_deep_nesting),
		cmocka_unit_test(test_safetensors_json_length_out_of_range),
		cmocka_unit_test(test_safetensors_prefix_too_large),
		cmocka_unit_test(test_safetensors_prefix_absurd),
		cmocka_unit_test(test_safetensors_prefix_too_small),
		cmocka_unit_test(test_safetensors_prefix_truncated),
		cmocka_unit_test(test_safetensors_mutations),
	};

	return cmocka_run_group_tests_name("safetensors", tests, NULL, NULL);
}
