/* SPDX-License-Identifier: MIT */
/* common.h: branch hints, assertions, MIN/MAX and the internal TRY/FAIL macros. */
#ifndef GAUSS_COMMON_H
#define GAUSS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#ifndef MIN
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#endif

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * GAUSS_ASSERT is for programmer errors only, never for file contents: it is
 * on in debug builds, tests and fuzzers, and off in release builds.
 */
#ifdef NDEBUG
#define GAUSS_ASSERT(expr)	((void)0)
#else
#include <stdio.h>
#include <stdlib.h>
#define GAUSS_ASSERT(expr)						\
	((expr) ? (void)0 :						\
	 (fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__,	\
		  __LINE__, #expr), abort()))
#endif

#endif /* GAUSS_COMMON_H */
