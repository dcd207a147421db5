/* SPDX-License-Identifier: MIT */
/* hash_avx2.c: xxhash.h's inline XXH3 compiled for AVX2 (see hash.h). */
#define HASH_INLINE
#define HASH_OPS_NAME hash_ops_avx2
#include "hash_template.h"
