/* SPDX-License-Identifier: MIT */
/*
 * hash.h: the XXH3 checksums of gauss(5), from xxHash (libxxhash-dev), for
 * each CPU level. Debian builds libxxhash for baseline x86-64 (SSE2), which
 * hashes at a quarter of what AVX-512 does here, and every byte gauss
 * writes or restores is hashed twice (per chunk, and for the whole
 * original). So besides the library's own functions (the scalar level),
 * hash_template.h compiles xxhash.h's inline implementation once per vector
 * level, each in the translation unit of its kernels. XXH3 is defined by
 * its output: every level gives the same hashes.
 *
 * A running XXH3-128 is an opaque state owned by the level that made it.
 */
#ifndef GAUSS_HASH_H
#define GAUSS_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash_ops {
	/* XXH3-64 with seed 0 */
	uint64_t (*h64)(const void *p, size_t n);
	/* a fresh XXH3-128 state (seed 0), or NULL when memory is short */
	void *(*h128_new)(void);
	void (*h128_update)(void *state, const void *p, size_t n);
	/* the digest so far, in canonical (big-endian) byte order */
	void (*h128_digest)(const void *state, uint8_t out[16]);
	void (*h128_free)(void *state);	/* NULL is fine */
};

extern const struct hash_ops hash_ops_scalar;
extern const struct hash_ops hash_ops_avx2;
extern const struct hash_ops hash_ops_avx512;

#endif /* GAUSS_HASH_H */
