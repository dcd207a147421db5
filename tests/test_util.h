/* SPDX-License-Identifier: MIT */
/* test_util.h: helpers shared by the cmocka tests. */
#ifndef GAUSS_TEST_UTIL_H
#define GAUSS_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/*
 * A buffer of nbytes whose end touches an inaccessible page, so a read or
 * write one byte past it faults. Free with guarded_free().
 */
void *guarded_alloc(size_t nbytes);
void guarded_free(void *p, size_t nbytes);

/* A guarded copy of nbytes at p (the test fails if memory is short). */
uint8_t *guarded_copy(const void *p, size_t nbytes);

/* Reads a whole file; returns NULL if it cannot. */
uint8_t *read_file(const char *path, size_t *nbytes_ret);

/* Writes a whole file; returns 0 on success. */
int write_file(const char *path, const void *p, size_t nbytes);

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp). */
char *make_temp_dir(void);

/* Removes a directory tree made by make_temp_dir(). */
void remove_tree(const char *path);

/* path = dir + "/" + name, malloc'ed. */
char *path_join(const char *dir, const char *name);

/* Deterministic pseudo-random numbers (xorshift64*). */
uint64_t test_rand(uint64_t *state);

/*
 * A growing byte buffer used to assemble safetensors files in tests:
 * st_build_begin(), then st_build_tensor() for each tensor (data appended
 * at the next offset unless gap > 0 leaves that many zero bytes first),
 * then st_build_end() returns the whole file. The JSON is written in the
 * order of the calls.
 */
struct st_build {
	char *json;
	size_t json_len;
	uint8_t *data;
	size_t data_len;
	int ntensors;
};
void st_build_begin(struct st_build *b, const char *metadata_json);
void st_build_tensor(struct st_build *b, const char *name, const char *dtype,
		     const char *shape_json, const void *data, size_t nbytes,
		     size_t gap);
uint8_t *st_build_end(struct st_build *b, size_t pad_to, size_t *nbytes_ret);

#endif /* GAUSS_TEST_UTIL_H */
