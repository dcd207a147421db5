/* SPDX-License-Identifier: MIT */
/* safetensors.h: parse and validate a safetensors header (with jansson). */
#ifndef GAUSS_SAFETENSORS_H
#define GAUSS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "gauss.h"
#include "error.h"

/* Largest JSON header accepted (the reference implementation uses 100 MB). */
#define ST_MAX_HEADER_NBYTES ((uint64_t)100 * 1000 * 1000)

/* The size of a file read from a pipe. */
#define ST_SIZE_UNKNOWN UINT64_MAX

/* Most dimensions of one tensor. */
#define ST_MAX_NDIM 64

struct st_tensor {
	char *name;		/* NUL-terminated, valid UTF-8 */
	enum gauss_dtype dtype;
	unsigned ndim;
	uint64_t *shape;	/* ndim entries (NULL when ndim is 0) */
	uint64_t element_count;	/* product of shape; 1 for a scalar */
	uint64_t begin;		/* data_offsets, relative to the data section */
	uint64_t end;
};

struct st_header {
	uint64_t json_nbytes;	/* N, the little-endian u64 at offset 0 */
	uint64_t data_offset;	/* 8 + N */
	uint64_t data_nbytes;	/* largest end over all tensors (0 if none) */
	size_t tensor_count;
	struct st_tensor *tensors;	/* in the order of the JSON text */
	size_t *by_offset;	/* tensor indices sorted by (begin, end, index) */
};

/*
 * Parses the JSON text of a safetensors header (json, json_nbytes: the N
 * bytes after the 8-byte length) of a file of file_nbytes bytes, and checks
 * everything the format requires before the data is touched:
 * - the text is a JSON object, valid UTF-8, without duplicate keys;
 * - "__metadata__", if present, is an object whose values are all strings;
 * - every other member is an object with "dtype" (a known dtype name),
 *   "shape" (an array of non-negative integers whose product fits in 64
 *   bits) and "data_offsets" (two non-negative integers, begin <= end);
 *   unknown members of a tensor object are ignored;
 * - end - begin == element_count * dtype size (without overflow);
 * - tensor names are non-empty and hold no NUL byte;
 * - no two tensors of non-zero size overlap;
 * - the file holds exactly 8 + N + data_nbytes bytes (no missing and no
 *   trailing data); gaps between tensors are allowed. With file_nbytes
 *   ST_SIZE_UNKNOWN (a pipe) the caller checks this as it reads.
 * On failure returns GAUSS_E_BAD_INPUT (or GAUSS_E_NOMEM) with a message in
 * eb naming the tensor and the problem, and *hdr_ret is left empty.
 */
enum gauss_status st_parse(const uint8_t *json, size_t json_nbytes,
			   uint64_t file_nbytes, struct st_header *hdr_ret,
			   struct errbuf *eb);

/*
 * Checks the first 8 bytes of a file of file_nbytes bytes and returns the
 * JSON length N in *json_nbytes_ret: N must be at least 2, at most
 * ST_MAX_HEADER_NBYTES and at most file_nbytes - 8. GAUSS_E_BAD_INPUT else.
 */
enum gauss_status st_check_prefix(const uint8_t prefix[8], uint64_t file_nbytes,
				  uint64_t *json_nbytes_ret, struct errbuf *eb);

/* Frees what st_parse() allocated; accepts an empty or zeroed header. */
void st_header_free(struct st_header *hdr);

/* Size in bytes of one element of dtype. */
unsigned st_dtype_size(enum gauss_dtype dtype);

/* Looks up a safetensors dtype name ("BF16"); returns 0 on success, -1 else. */
int st_dtype_from_name(const char *name, enum gauss_dtype *dtype_ret);

#endif /* GAUSS_SAFETENSORS_H */
