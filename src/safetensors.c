/* SPDX-License-Identifier: MIT */
/*
 * safetensors.c: parses and validates the JSON header of a safetensors file.
 *
 * A safetensors file is an 8-byte little-endian length N, N bytes of JSON
 * (an object mapping tensor names to {"dtype", "shape", "data_offsets"},
 * plus an optional "__metadata__" object of strings), then the data section
 * that the offsets point into. Everything here treats the file as untrusted:
 * - JSON is parsed by jansson with JSON_REJECT_DUPLICATES and without
 *   JSON_ALLOW_NUL, so duplicate names, invalid UTF-8 and NUL bytes (raw or
 *   as \u0000) are refused by the parser itself;
 * - jansson keeps object members in the order of the text, which is the
 *   order of hdr->tensors;
 * - integers are json_int_t (long long): values past 2^63 - 1 fail to parse,
 *   reals such as 2.0 or 1e3 are not integers and are refused;
 * - element counts and byte sizes are multiplied with overflow checks;
 * - names and jansson's own messages (which quote the input) are escaped
 *   and cut short before they go into a message.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "safetensors.h"
#include "common.h"
#include "endian.h"
#include "banned.h"

/* Most characters of a name (or dtype) shown in a message, before "...". */
#define SHOWN_MAX	64
/* Room for a shown string: SHOWN_MAX characters, "..." and the NUL. */
#define SHOWN_NBYTES	(SHOWN_MAX + 4)
/* Room for a shape written out as "[3, 4, ...]". */
#define SHAPE_NBYTES	96

static const char METADATA_KEY[] = "__metadata__";

static const struct {
	const char *name;
	unsigned size;
} dtypes[] = {
	[GAUSS_DTYPE_BOOL] = { "BOOL", 1 },
	[GAUSS_DTYPE_U8] = { "U8", 1 },
	[GAUSS_DTYPE_I8] = { "I8", 1 },
	[GAUSS_DTYPE_F8_E4M3] = { "F8_E4M3", 1 },
	[GAUSS_DTYPE_F8_E5M2] = { "F8_E5M2", 1 },
	[GAUSS_DTYPE_I16] = { "I16", 2 },
	[GAUSS_DTYPE_U16] = { "U16", 2 },
	[GAUSS_DTYPE_F16] = { "F16", 2 },
	[GAUSS_DTYPE_BF16] = { "BF16", 2 },
	[GAUSS_DTYPE_I32] = { "I32", 4 },
	[GAUSS_DTYPE_U32] = { "U32", 4 },
	[GAUSS_DTYPE_F32] = { "F32", 4 },
	[GAUSS_DTYPE_I64] = { "I64", 8 },
	[GAUSS_DTYPE_U64] = { "U64", 8 },
	[GAUSS_DTYPE_F64] = { "F64", 8 },
};

unsigned
st_dtype_size(enum gauss_dtype dtype)
{
	if ((unsigned)dtype >= ARRAY_SIZE(dtypes))
		return 0;
	return dtypes[dtype].size;
}

int
st_dtype_from_name(const char *name, enum gauss_dtype *dtype_ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(dtypes); i++) {
		if (strcmp(name, dtypes[i].name) == 0) {
			*dtype_ret = (enum gauss_dtype)i;
			return 0;
		}
	}
	return -1;
}

/*
 * Writes s (s_len bytes) into buf for a message: printable ASCII as it is
 * (but quote and backslash escaped when in_quotes), every other byte as
 * \xNN, and at most buf_nbytes - 4 characters followed by "..." when s is
 * longer. Returns buf.
 */
static const char *
show_bytes(char *buf, size_t buf_nbytes, const char *s, size_t s_len,
	   bool in_quotes)
{
	static const char hex[] = "0123456789abcdef";
	const size_t limit = buf_nbytes - 4;
	size_t o = 0;
	size_t i;

	GAUSS_ASSERT(buf_nbytes > 4);
	for (i = 0; i < s_len; i++) {
		const unsigned char c = (unsigned char)s[i];
		char esc[4];
		size_t n;

		if (in_quotes && (c == '\\' || c == '\'')) {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c >= 0x20 && c < 0x7f) {
			esc[0] = (char)c;
			n = 1;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 0xf];
			n = 4;
		}
		if (o + n > limit)
			break;
		memcpy(buf + o, esc, n);
		o += n;
	}
	if (i < s_len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* A name (or dtype) for a message, to be put between single quotes. */
static const char *
show(char *buf, size_t buf_nbytes, const char *s, size_t s_len)
{
	return show_bytes(buf, buf_nbytes, s, s_len, true);
}

/* Writes a shape as "[3, 4]" into buf, cut short with "..." if long. */
static const char *
show_shape(char *buf, size_t buf_nbytes, const uint64_t *shape, unsigned ndim)
{
	size_t o = 0;

	GAUSS_ASSERT(buf_nbytes > 8);
	buf[o++] = '[';
	for (unsigned i = 0; i < ndim; i++) {
		char item[32];
		const int n = snprintf(item, sizeof(item), "%s%" PRIu64,
				       i ? ", " : "", shape[i]);

		/* Keep room for "...]" and the NUL. */
		if (n < 0 || o + (size_t)n + 5 > buf_nbytes) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, item, (size_t)n);
		o += (size_t)n;
	}
	buf[o++] = ']';
	buf[o] = '\0';
	return buf;
}

/* Sets "tensor '<name>': <fmt...>" in eb; returns st. */
static enum gauss_status
tensor_err(struct errbuf *eb, enum gauss_status st, const char *name,
	   size_t name_len, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum gauss_status
tensor_err(struct errbuf *eb, enum gauss_status st, const char *name,
	   size_t name_len, const char *fmt, ...)
{
	char shown[SHOWN_NBYTES];
	char msg[sizeof(eb->text)];
	va_list ap;

	if (eb == NULL)
		return st;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_setf(eb, st, "tensor '%s': %s",
			show(shown, sizeof(shown), name, name_len), msg);
}

/* Reads a JSON integer >= 0; false for anything else. */
static bool
get_u64(const json_t *v, uint64_t *v_ret)
{
	json_int_t i;

	if (!json_is_integer(v))
		return false;
	i = json_integer_value(v);
	if (i < 0)
		return false;
	*v_ret = (uint64_t)i;
	return true;
}

static enum gauss_status
check_metadata(json_t *meta, struct errbuf *eb)
{
	FAIL_IF(!json_is_object(meta), eb, GAUSS_E_BAD_INPUT,
		"\"%s\" is not a JSON object", METADATA_KEY);
	for (void *it = json_object_iter(meta); it != NULL;
	     it = json_object_iter_next(meta, it)) {
		char shown[SHOWN_NBYTES];

		if (json_is_string(json_object_iter_value(it)))
			continue;
		return err_setf(eb, GAUSS_E_BAD_INPUT,
				"\"%s\": value of '%s' is not a string",
				METADATA_KEY,
				show(shown, sizeof(shown),
				     json_object_iter_key(it),
				     json_object_iter_key_len(it)));
	}
	return GAUSS_OK;
}

/* Reads "shape" into t->ndim, t->shape and t->element_count. */
static enum gauss_status
parse_shape(const json_t *entry, struct st_tensor *t, const char *name,
	    size_t name_len, struct errbuf *eb)
{
	const json_t *shape = json_object_get(entry, "shape");
	size_t ndim;
	uint64_t count = 1;

	if (shape == NULL)
		return tensor_err(eb, GAUSS_E_BAD_INPUT, name, name_len,
				  "missing \"shape\"");
	if (!json_is_array(shape))
		return tensor_err(eb, GAUSS_E_BAD_INPUT, name, name_len,
				  "\"shape\" is not an array");
	ndim = json_array_size(shape);
	if (ndim > ST_MAX_NDIM)
		return tensor_err(eb, GAUSS_E_BAD_INPUT, name, name_len,
				  "shape has %zu dimensions, more than %d",
				  ndim, ST_MAX_NDIM);
	if (ndim > 0) {
		t->shape = calloc(ndim, sizeof(*t->shape));
		if (t->shape == NULL)
			return err_setf(eb, GAUSS_E_NOMEM, "out of memory");
	}
	t->ndim = (unsigned)ndim;
	for (size_t i = 0; i < ndim; i++) {
		if (!get_u64(json_array_get(shape, i), &t->shape[i]))
			return tensor_err(eb, GAUSS_E_BAD_INPUT, name,
					  name_len, "shape[%zu] is not a "
					  "non-negative integer", i);
	}
	for (size_t i = 0; i < ndim; i++) {
		if (__builtin_mul_overflow(count, t->shape[i], &count)) {
			char buf[SHAPE_NBYTES];

			/* A zero dimension would make the product fit. */
			for (size_t j = i + 1; j < ndim; j++) {
				if (t->shape[j] == 0) {
					count = 0;
					goto done;
				}
			}
			return tensor_err(eb, GAUSS_E_BAD_INPUT, name,
					  name_len, "shape %s has more than "
					  "2^64 - 1 elements",
					  show_shape(buf, sizeof(buf),
						     t->shape, t->ndim));
		}
	}
done:
	t->element_count = count;
	return GAUSS_OK;
}

/* Reads "data_offsets" into t->begin and t->end. */
static enum gauss_status
parse_offsets(const json_t *entry, struct st_tensor *t, const char *name,
	      size_t name_len, struct errbuf *eb)
{
	const json_t *offsets = json_object_get(entry, "data_offsets");

	if (offsets == NULL)
		return tensor_err(eb, GAUSS_E_BAD_INPUT, name, name_len,
				  "missing \"data_offsets\"");
	if (!json_is_array(offsets))
		return tensor_err(eb, GAUSS_E_BAD_INPUT, name, name_len,
				  "\"data_offsets\" is not an array");
	if (json_array_size(offsets) != 2)
		return tensor_err(eb, GAUSS_E_BAD_INPUT, name, name_len,
				  "\"data_offsets\" has %zu entries, not 2",
				  json_array_size(offsets));
	if (!get_u64(json_array_get(offsets, 0), &t->begin))
		return tensor_err(eb, GAUSS_E_BAD_INPUT, name, name_len,
				  "data_offsets[0] is not a non-negative "
				  "integer");
	if (!get_u64(json_array_get(offsets, 1), &t->end))
		return tensor_err(eb, GAUSS_E_BAD_INPUT, name, name_len,
				  "data_offsets[1] is not a non-negative "
				  "integer");
	if (t->begin > t->end)
		return tensor_err(eb, GAUSS_E_BAD_INPUT, name, name_len,
				  "data_offsets [%" PRIu64 ", %" PRIu64 "] "
				  "end before they begin", t->begin, t->end);
	return GAUSS_OK;
}

/*
 * Fills t from one member of the header (key, key_len: its name). What t
 * holds is freed by st_header_free() even when this fails.
 */
static enum gauss_status
parse_tensor(const char *key, size_t key_len, const json_t *entry,
	     struct st_tensor *t, struct errbuf *eb)
{
	const json_t *dtype;
	const char *dtype_name;
	unsigned size;
	uint64_t nbytes;

	FAIL_IF(key_len == 0, eb, GAUSS_E_BAD_INPUT,
		"a tensor has an empty name");
	if (memchr(key, '\0', key_len) != NULL)
		return tensor_err(eb, GAUSS_E_BAD_INPUT, key, key_len,
				  "name holds a NUL byte");
	t->name = malloc(key_len + 1);
	FAIL_IF(t->name == NULL, eb, GAUSS_E_NOMEM, "out of memory");
	memcpy(t->name, key, key_len);
	t->name[key_len] = '\0';

	if (!json_is_object(entry))
		return tensor_err(eb, GAUSS_E_BAD_INPUT, key, key_len,
				  "entry is not a JSON object");

	dtype = json_object_get(entry, "dtype");
	if (dtype == NULL)
		return tensor_err(eb, GAUSS_E_BAD_INPUT, key, key_len,
				  "missing \"dtype\"");
	if (!json_is_string(dtype))
		return tensor_err(eb, GAUSS_E_BAD_INPUT, key, key_len,
				  "\"dtype\" is not a string");
	dtype_name = json_string_value(dtype);
	if (strlen(dtype_name) != json_string_length(dtype) ||
	    st_dtype_from_name(dtype_name, &t->dtype) != 0) {
		char shown[SHOWN_NBYTES];

		return tensor_err(eb, GAUSS_E_BAD_INPUT, key, key_len,
				  "unknown dtype '%s'",
				  show(shown, sizeof(shown), dtype_name,
				       json_string_length(dtype)));
	}
	size = st_dtype_size(t->dtype);

	TRY(parse_shape(entry, t, key, key_len, eb));
	TRY(parse_offsets(entry, t, key, key_len, eb));

	if (__builtin_mul_overflow(t->element_count, (uint64_t)size,
				   &nbytes)) {
		char buf[SHAPE_NBYTES];

		return tensor_err(eb, GAUSS_E_BAD_INPUT, key, key_len,
				  "shape %s of %s needs more than 2^64 - 1 "
				  "bytes",
				  show_shape(buf, sizeof(buf), t->shape,
					     t->ndim),
				  dtypes[t->dtype].name);
	}
	if (t->end - t->begin != nbytes) {
		char buf[SHAPE_NBYTES];

		return tensor_err(eb, GAUSS_E_BAD_INPUT, key, key_len,
				  "data_offsets [%" PRIu64 ", %" PRIu64 "] "
				  "hold %" PRIu64 " bytes but shape %s of %s "
				  "needs %" PRIu64,
				  t->begin, t->end, t->end - t->begin,
				  show_shape(buf, sizeof(buf), t->shape,
					     t->ndim),
				  dtypes[t->dtype].name, nbytes);
	}
	return GAUSS_OK;
}

/* Reads the metadata and every tensor of root into hdr. */
static enum gauss_status
parse_members(json_t *root, struct st_header *hdr, struct errbuf *eb)
{
	const bool has_metadata = json_object_get(root, METADATA_KEY) != NULL;
	const size_t count = json_object_size(root) - (has_metadata ? 1 : 0);

	if (count > 0) {
		hdr->tensors = calloc(count, sizeof(*hdr->tensors));
		FAIL_IF(hdr->tensors == NULL, eb, GAUSS_E_NOMEM,
			"out of memory");
	}
	for (void *it = json_object_iter(root); it != NULL;
	     it = json_object_iter_next(root, it)) {
		const char *key = json_object_iter_key(it);
		const size_t key_len = json_object_iter_key_len(it);
		json_t *value = json_object_iter_value(it);
		struct st_tensor *t;

		if (key_len == sizeof(METADATA_KEY) - 1 &&
		    memcmp(key, METADATA_KEY, key_len) == 0) {
			TRY(check_metadata(value, eb));
			continue;
		}
		GAUSS_ASSERT(hdr->tensor_count < count);
		/* Counted first, so that st_header_free() frees it. */
		t = &hdr->tensors[hdr->tensor_count++];
		TRY(parse_tensor(key, key_len, value, t, eb));
	}
	return GAUSS_OK;
}

struct span {
	uint64_t begin;
	uint64_t end;
	size_t index;
};

static int
span_cmp(const void *pa, const void *pb)
{
	const struct span *a = pa;
	const struct span *b = pb;

	if (a->begin != b->begin)
		return a->begin < b->begin ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	if (a->index != b->index)
		return a->index < b->index ? -1 : 1;
	return 0;
}

/* Fills hdr->by_offset and hdr->data_nbytes; refuses overlapping tensors. */
static enum gauss_status
check_layout(struct st_header *hdr, struct errbuf *eb)
{
	const size_t n = hdr->tensor_count;
	const struct st_tensor *prev = NULL;
	struct span *spans;

	hdr->data_nbytes = 0;
	if (n == 0)
		return GAUSS_OK;
	spans = calloc(n, sizeof(*spans));
	FAIL_IF(spans == NULL, eb, GAUSS_E_NOMEM, "out of memory");
	hdr->by_offset = calloc(n, sizeof(*hdr->by_offset));
	if (hdr->by_offset == NULL) {
		free(spans);
		return err_setf(eb, GAUSS_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		spans[i].begin = hdr->tensors[i].begin;
		spans[i].end = hdr->tensors[i].end;
		spans[i].index = i;
		hdr->data_nbytes = MAX(hdr->data_nbytes, hdr->tensors[i].end);
	}
	qsort(spans, n, sizeof(*spans), span_cmp);
	for (size_t i = 0; i < n; i++)
		hdr->by_offset[i] = spans[i].index;
	free(spans);

	/*
	 * Sorted by begin, tensors of non-zero size are disjoint exactly when
	 * each begins at or after the end of the one before it.
	 */
	for (size_t i = 0; i < n; i++) {
		const struct st_tensor *t = &hdr->tensors[hdr->by_offset[i]];
		char a[SHOWN_NBYTES];
		char b[SHOWN_NBYTES];

		if (t->begin == t->end)
			continue;
		if (prev != NULL && t->begin < prev->end)
			return err_setf(eb, GAUSS_E_BAD_INPUT,
					"tensors '%s' and '%s' overlap: "
					"data_offsets [%" PRIu64 ", %" PRIu64
					"] and [%" PRIu64 ", %" PRIu64 "]",
					show(a, sizeof(a), prev->name,
					     strlen(prev->name)),
					show(b, sizeof(b), t->name,
					     strlen(t->name)),
					prev->begin, prev->end, t->begin,
					t->end);
		prev = t;
	}
	return GAUSS_OK;
}

/* The file must hold the length, the header and the data, nothing more. */
static enum gauss_status
check_file_size(const struct st_header *hdr, uint64_t file_nbytes,
		struct errbuf *eb)
{
	uint64_t total;

	FAIL_IF(__builtin_add_overflow(hdr->data_offset, hdr->data_nbytes,
				       &total),
		eb, GAUSS_E_BAD_INPUT,
		"file is truncated: tensor data ends past byte 2^64");
	if (file_nbytes == ST_SIZE_UNKNOWN)
		return GAUSS_OK;
	FAIL_IF(file_nbytes < total, eb, GAUSS_E_BAD_INPUT,
		"file is truncated: tensor data ends at byte %" PRIu64
		" but the file has %" PRIu64 " bytes", total, file_nbytes);
	FAIL_IF(file_nbytes > total, eb, GAUSS_E_BAD_INPUT,
		"file has %" PRIu64 " trailing bytes after the %s",
		file_nbytes - total,
		hdr->tensor_count > 0 ? "last tensor" : "header");
	return GAUSS_OK;
}

/* Turns a jansson failure into a status and a message. */
static enum gauss_status
json_fail(const json_error_t *jerr, struct errbuf *eb)
{
	char text[sizeof(jerr->text) + 16];

	if (json_error_code(jerr) == json_error_out_of_memory)
		return err_setf(eb, GAUSS_E_NOMEM, "out of memory");
	/* jansson quotes the input ("near '...'"), so escape it. */
	return err_setf(eb, GAUSS_E_BAD_INPUT,
			"invalid JSON header at line %d column %d: %s",
			jerr->line, jerr->column,
			show_bytes(text, sizeof(text), jerr->text,
				   strnlen(jerr->text, sizeof(jerr->text)),
				   false));
}

enum gauss_status
st_parse(const uint8_t *json, size_t json_nbytes, uint64_t file_nbytes,
	 struct st_header *hdr_ret, struct errbuf *eb)
{
	struct st_header hdr = { 0 };
	json_error_t jerr;
	json_t *root;
	enum gauss_status st;

	GAUSS_ASSERT(hdr_ret != NULL);
	memset(hdr_ret, 0, sizeof(*hdr_ret));
	FAIL_IF(json_nbytes < 2 || json_nbytes > ST_MAX_HEADER_NBYTES, eb,
		GAUSS_E_BAD_INPUT, "header length %zu is out of range "
		"[2, %" PRIu64 "]", json_nbytes, ST_MAX_HEADER_NBYTES);

	{
		const uint8_t *nul = memchr(json, '\0', json_nbytes);

		/* jansson would take it for the end of its input */
		FAIL_IF(nul != NULL, eb, GAUSS_E_BAD_INPUT,
			"header holds a NUL byte at byte %zu of its %zu",
			(size_t)(nul - json), json_nbytes);
	}
	root = json_loadb((const char *)json, json_nbytes,
			  JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return json_fail(&jerr, eb);
	if (!json_is_object(root)) {
		st = err_setf(eb, GAUSS_E_BAD_INPUT,
			      "header is not a JSON object");
		goto out;
	}
	/* The specification: it MUST begin with '{' (padding comes after). */
	if (json[0] != '{') {
		st = err_setf(eb, GAUSS_E_BAD_INPUT,
			      "header does not begin with '{' (it begins with "
			      "byte 0x%02x)", json[0]);
		goto out;
	}
	hdr.json_nbytes = json_nbytes;
	hdr.data_offset = 8 + (uint64_t)json_nbytes;
	st = parse_members(root, &hdr, eb);
	if (st == GAUSS_OK)
		st = check_layout(&hdr, eb);
	if (st == GAUSS_OK)
		st = check_file_size(&hdr, file_nbytes, eb);
out:
	json_decref(root);
	if (st != GAUSS_OK) {
		st_header_free(&hdr);
		return st;
	}
	*hdr_ret = hdr;
	return GAUSS_OK;
}

enum gauss_status
st_check_prefix(const uint8_t prefix[8], uint64_t file_nbytes,
		uint64_t *json_nbytes_ret, struct errbuf *eb)
{
	uint64_t n;

	FAIL_IF(file_nbytes < 8, eb, GAUSS_E_BAD_INPUT,
		"file is truncated: %" PRIu64 " bytes cannot hold the 8-byte "
		"header length", file_nbytes);
	n = get_le64(prefix);
	FAIL_IF(n < 2, eb, GAUSS_E_BAD_INPUT,
		"header length %" PRIu64 " is too small (at least 2)", n);
	FAIL_IF(n > ST_MAX_HEADER_NBYTES, eb, GAUSS_E_BAD_INPUT,
		"header length %" PRIu64 " exceeds the limit of %" PRIu64
		" bytes", n, ST_MAX_HEADER_NBYTES);
	FAIL_IF(n > file_nbytes - 8, eb, GAUSS_E_BAD_INPUT,
		"header length %" PRIu64 " exceeds the file size %" PRIu64,
		n, file_nbytes);
	*json_nbytes_ret = n;
	return GAUSS_OK;
}

void
st_header_free(struct st_header *hdr)
{
	if (hdr == NULL)
		return;
	for (size_t i = 0; i < hdr->tensor_count; i++) {
		free(hdr->tensors[i].name);
		free(hdr->tensors[i].shape);
	}
	free(hdr->tensors);
	free(hdr->by_offset);
	memset(hdr, 0, sizeof(*hdr));
}
