/* SPDX-License-Identifier: MIT */
/* hash_avx512.c: xxhash.h's inline XXH3 compiled for AVX-512 (see hash.h). */
#define HASH_INLINE
#define HASH_OPS_NAME hash_ops_avx512
#include "hash_template.h"
