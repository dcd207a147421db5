/* SPDX-License-Identifier: MIT */
/*
 * fuzz_safetensors.c: the safetensors header parser on arbitrary bytes,
 * twice: as a whole file (st_check_prefix, then st_parse of the JSON it
 * names against the file's size) and as bare JSON of a file of unknown
 * size (a pipe). Whatever st_parse accepts must satisfy what safetensors.h
 * promises; a header it accepts is checked field by field.
 */
#include <string.h>

#include "fuzz.h"
#include "safetensors.h"
#include "banned.h"

/* Checks what st_parse() promises of a header it accepted. */
static void
check_header(const struct st_header *h, uint64_t file_nbytes)
{
	uint64_t prev_end = 0;
	size_t prev = 0;
	int have_prev = 0;

	FUZZ_CHECK(h->data_offset == 8 + h->json_nbytes);
	if (file_nbytes != ST_SIZE_UNKNOWN)
		FUZZ_CHECK(h->data_offset + h->data_nbytes == file_nbytes);
	FUZZ_CHECK(h->tensor_count == 0 || h->tensors != NULL);
	for (size_t i = 0; i < h->tensor_count; i++) {
		const struct st_tensor *t = &h->tensors[i];
		uint64_t count = 1;

		FUZZ_CHECK(t->name != NULL && t->name[0] != '\0');
		FUZZ_CHECK(strcmp(t->name, "__metadata__") != 0);
		FUZZ_CHECK(t->ndim <= ST_MAX_NDIM);
		FUZZ_CHECK(t->ndim == 0 || t->shape != NULL);
		for (unsigned d = 0; d < t->ndim; d++) {
			FUZZ_CHECK(t->shape[d] == 0 ||
				   count <= UINT64_MAX / t->shape[d]);
			count *= t->shape[d];
		}
		FUZZ_CHECK(count == t->element_count);
		FUZZ_CHECK(t->begin <= t->end && t->end <= h->data_nbytes);
		FUZZ_CHECK(t->end - t->begin ==
			   t->element_count * st_dtype_size(t->dtype));
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(t->name, h->tensors[j].name) != 0);
	}
	/* by_offset: a permutation, sorted, with no overlap of sizes > 0 */
	for (size_t k = 0; k < h->tensor_count; k++) {
		const size_t i = h->by_offset[k];
		const struct st_tensor *t;

		FUZZ_CHECK(i < h->tensor_count);
		t = &h->tensors[i];
		for (size_t j = 0; j < k; j++)
			FUZZ_CHECK(h->by_offset[j] != i);
		if (have_prev) {
			const struct st_tensor *p = &h->tensors[prev];

			FUZZ_CHECK(p->begin < t->begin ||
				   (p->begin == t->begin &&
				    (p->end < t->end ||
				     (p->end == t->end && prev < i))));
		}
		if (t->end > t->begin) {
			FUZZ_CHECK(t->begin >= prev_end);
			prev_end = t->end;
		}
		prev = i;
		have_prev = 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_header h;
	struct errbuf eb;
	uint64_t json_nbytes;

	eb.text[0] = '\0';
	memset(&h, 0, sizeof(h));
	if (size >= 8 && st_check_prefix(data, size, &json_nbytes, &eb) ==
			 GAUSS_OK) {
		FUZZ_CHECK(json_nbytes >= 2 && json_nbytes <= size - 8);
		if (st_parse(data + 8, (size_t)json_nbytes, size, &h, &eb) ==
		    GAUSS_OK)
			check_header(&h, size);
		else
			FUZZ_CHECK(eb.text[0] != '\0' && h.tensor_count == 0);
		st_header_free(&h);
	} else if (size >= 8) {
		FUZZ_CHECK(eb.text[0] != '\0');
	}

	eb.text[0] = '\0';
	memset(&h, 0, sizeof(h));
	if (st_parse(data, size, ST_SIZE_UNKNOWN, &h, &eb) == GAUSS_OK)
		check_header(&h, ST_SIZE_UNKNOWN);
	else
		FUZZ_CHECK(eb.text[0] != '\0' && h.tensor_count == 0);
	st_header_free(&h);
	return 0;
}
