/* SPDX-License-Identifier: MIT */
/* fixup.c: makes the header and footer checksums of a .gauss image agree. */
#include <string.h>
#include <xxhash.h>

#include "fuzz.h"
#include "endian.h"
#include "format.h"
#include "banned.h"

/* Offsets of the fields gauss(5) lists under FILE HEADER and FOOTER. */
#define HDR_CHECK_AT		20
#define FOOT_INDEX_HASH_AT	40
#define FOOT_CHECK_AT		48

static int
put64_if_changed(uint8_t *p, uint64_t v)
{
	if (get_le64(p) == v)
		return 0;
	put_le64(p, v);
	return 1;
}

int
fuzz_fix_checksums(uint8_t *p, size_t n)
{
	int changed = 0;

	if (n >= FMT_HEADER_NBYTES) {
		const uint32_t check = (uint32_t)XXH3_64bits(p, HDR_CHECK_AT);

		if (get_le32(p + HDR_CHECK_AT) != check) {
			put_le32(p + HDR_CHECK_AT, check);
			changed = 1;
		}
	}
	if (n >= FMT_FOOTER_NBYTES) {
		uint8_t *const foot = p + n - FMT_FOOTER_NBYTES;
		const uint64_t index_offset = get_le64(foot);
		const uint64_t index_nbytes = get_le64(foot + 8);
		const uint64_t body = n - FMT_FOOTER_NBYTES;

		if (index_offset <= body && index_nbytes <= body - index_offset)
			changed |= put64_if_changed(foot + FOOT_INDEX_HASH_AT,
				XXH3_64bits(p + index_offset,
					    (size_t)index_nbytes));
		changed |= put64_if_changed(foot + FOOT_CHECK_AT,
					    XXH3_64bits(foot, FOOT_CHECK_AT));
	}
	return changed;
}
