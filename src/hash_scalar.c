/* SPDX-License-Identifier: MIT */
/* hash_scalar.c: XXH3 from the xxHash library itself (see hash.h). */
#define HASH_OPS_NAME hash_ops_scalar
#include "hash_template.h"
