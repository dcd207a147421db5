/* SPDX-License-Identifier: MIT */
/*
 * hash_template.h: defines `const struct hash_ops HASH_OPS_NAME` in the
 * including file, on xxhash.h's functions: with HASH_INLINE the header's
 * inline implementation, compiled for the file's target (its vector unit
 * chosen by xxhash.h from the compiler's flags), else the library's.
 * Every name here is static but the table.
 */
#include <stdlib.h>

#ifdef HASH_INLINE
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#include "hash.h"

static uint64_t
h64(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

static void *
h128_new(void)
{
	XXH3_state_t *s = XXH3_createState();

	if (s != NULL)
		XXH3_128bits_reset(s);
	return s;
}

static void
h128_update(void *state, const void *p, size_t n)
{
	XXH3_128bits_update(state, p, n);
}

static void
h128_digest(const void *state, uint8_t out[16])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(state));
	for (int i = 0; i < 16; i++)
		out[i] = c.digest[i];
}

static void
h128_free(void *state)
{
	XXH3_freeState(state);
}

const struct hash_ops HASH_OPS_NAME = {
	.h64 = h64,
	.h128_new = h128_new,
	.h128_update = h128_update,
	.h128_digest = h128_digest,
	.h128_free = h128_free,
};
