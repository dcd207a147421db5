/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h: what the fuzz targets share: the libFuzzer entry point (declared
 * here for -Wmissing-prototypes), a check that aborts with a message, and
 * the repair of the three header checksums of a .gauss image.
 *
 * Each fuzz_<target>.c is built twice: with -fsanitize=fuzzer as a
 * libFuzzer binary (-Dfuzzers=true, clang), and with driver.c as a plain
 * program that replays fuzz/corpus/<target>/ as a meson test.
 */
#ifndef GAUSS_FUZZ_H
#define GAUSS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gauss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * An invariant of the library failed: a real bug, never bad input. Abort
 * so that libFuzzer saves the input and the replay test fails.
 */
#define FUZZ_CHECK(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/*
 * Rewrites, in place, the check field of the file header, the index hash
 * and the check field of the footer of a .gauss image so that they match
 * the bytes they cover (where the image is long enough to have them and
 * the footer's index offset and size fit the image). A mutated image then
 * reaches the frames and the index instead of stopping at a checksum,
 * which libFuzzer could never forge. Returns whether anything changed.
 */
int fuzz_fix_checksums(uint8_t *p, size_t n);

/*
 * Largest original a target decodes: bigger claims fail as too large.
 * Small, since ASan makes every large allocation cost its size in time.
 */
#define FUZZ_MAX_OUT_NBYTES ((size_t)1 << 20)

#endif /* GAUSS_FUZZ_H */
