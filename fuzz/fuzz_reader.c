/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reader.c: what `gauss info` and `gauss verify` do, on arbitrary
 * bytes written to a memfd: open a reader, get the file's totals and every
 * tensor's info, find each tensor by name, read each tensor whole and in
 * part; then decode the whole image (gauss_decompress_buffer()) and verify
 * the file (gauss_verify_file()). Each input runs as it is and, when that
 * changes anything, with its header and footer checksums repaired.
 *
 * Cross-checks: a part read equals the same slice of the whole read; when
 * the full decode succeeds (every checksum, the whole-file hash too), the
 * reader must have opened the file and read every tensor, and what it read
 * must be the bytes of the decoded original; verify agrees with decode.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "common.h"
#include "format.h"
#include "banned.h"

/* At most this many tensors are looked at, and their bytes in total. */
#define MAX_TENSORS	4096

static int mem_fd = -1;
static char mem_path[64];

static void
put_file(const uint8_t *p, size_t n)
{
	if (mem_fd < 0) {
		mem_fd = memfd_create("fuzz_reader", MFD_CLOEXEC);
		FUZZ_CHECK(mem_fd >= 0);
		snprintf(mem_path, sizeof(mem_path), "/proc/self/fd/%d",
			 mem_fd);
		/* plain pread/pwrite: io_uring adds nothing to parsing */
		setenv("GAUSS_IO", "posix", 1);
	}
	FUZZ_CHECK(ftruncate(mem_fd, 0) == 0);
	FUZZ_CHECK(n == 0 || pwrite(mem_fd, p, n, 0) == (ssize_t)n);
}

struct seen {
	int opened;
	size_t count;
	int info_ok[MAX_TENSORS];
	int tried[MAX_TENSORS];		/* a whole read was attempted */
	int read_ok[MAX_TENSORS];
	uint64_t offset[MAX_TENSORS];
	uint64_t nbytes[MAX_TENSORS];
	uint8_t *bytes[MAX_TENSORS];
};

/* Reads tensor i whole (bounded) and a middle part of it. */
static void
read_tensor(struct gauss_ctx *ctx, struct gauss_reader *r, size_t i,
	    const struct gauss_tensor_info *ti, size_t *budget,
	    struct seen *s)
{
	const unsigned es = (unsigned)(ti->element_count ?
				       ti->nbytes / ti->element_count : 1);
	uint8_t *buf;

	if (ti->nbytes > *budget)
		return;
	*budget -= (size_t)ti->nbytes;
	s->tried[i] = 1;
	buf = malloc(ti->nbytes ? (size_t)ti->nbytes : 1);
	FUZZ_CHECK(buf != NULL);
	/* a buffer one element short is refused before anything is read */
	if (ti->element_count)
		FUZZ_CHECK(gauss_reader_read(r, i, 0, ti->element_count, buf,
					     (size_t)ti->nbytes - 1) ==
			   GAUSS_E_INVALID_ARG);
	if (gauss_reader_read(r, i, 0, ti->element_count, buf,
			      (size_t)ti->nbytes) != GAUSS_OK) {
		FUZZ_CHECK(gauss_ctx_error(ctx)[0] != '\0');
		free(buf);
		return;
	}
	s->read_ok[i] = 1;
	s->bytes[i] = buf;
	if (ti->element_count >= 3) {
		const uint64_t first = ti->element_count / 3;
		const uint64_t count = ti->element_count / 2;
		uint8_t *part = malloc((size_t)(count * es));

		FUZZ_CHECK(part != NULL);
		FUZZ_CHECK(gauss_reader_read(r, i, first, count, part,
					     (size_t)(count * es)) ==
			   GAUSS_OK);
		FUZZ_CHECK(memcmp(part, buf + first * es,
				  (size_t)(count * es)) == 0);
		free(part);
	}
}

static void
run_reader(struct gauss_ctx *ctx, struct seen *s)
{
	struct gauss_reader *r = NULL;
	struct gauss_file_info fi;
	size_t budget = FUZZ_MAX_OUT_NBYTES;

	s->opened = 0;
	s->count = 0;
	if (gauss_reader_open(ctx, mem_path, &r) != GAUSS_OK) {
		FUZZ_CHECK(r == NULL);
		FUZZ_CHECK(gauss_ctx_error(ctx)[0] != '\0');
		return;
	}
	s->opened = 1;
	FUZZ_CHECK(gauss_reader_file_info(r, &fi) == GAUSS_OK);
	FUZZ_CHECK(fi.tensor_count == gauss_reader_tensor_count(r));
	FUZZ_CHECK(fi.format_version >= FMT_VERSION_MIN &&
		   fi.format_version <= FMT_VERSION_MAX);
	s->count = (size_t)MIN(fi.tensor_count, (uint64_t)MAX_TENSORS);
	for (size_t i = 0; i < s->count; i++) {
		struct gauss_tensor_info ti;
		size_t found = SIZE_MAX;
		const enum gauss_status st =
			gauss_reader_tensor_info(r, i, &ti);

		s->info_ok[i] = 0;
		s->tried[i] = 0;
		s->read_ok[i] = 0;
		s->bytes[i] = NULL;
		/* the entropy walks the tensor's tables: it may fail */
		if (st != GAUSS_OK) {
			FUZZ_CHECK(gauss_ctx_error(ctx)[0] != '\0');
			continue;
		}
		s->info_ok[i] = 1;
		FUZZ_CHECK(ti.name != NULL && ti.name[0] != '\0');
		FUZZ_CHECK(ti.offset + ti.nbytes <= fi.original_nbytes);
		FUZZ_CHECK(gauss_reader_find(r, ti.name, &found) == GAUSS_OK);
		FUZZ_CHECK(found == i);
		FUZZ_CHECK(strcmp(gauss_dtype_name(ti.dtype), "") != 0);
		FUZZ_CHECK(gauss_codec_name(ti.codec) != NULL);
		/* lossy codecs only from version 3 on, with their figures */
		FUZZ_CHECK(ti.codec < GAUSS_CODEC_GMM_BF16 ||
			   (fi.format_version >= 3 && ti.gmm_k >= 1 &&
			    ti.gmm_scale >= 1 && ti.max_abs_error >= 0 &&
			    ti.rms_error >= 0 && ti.value_std >= 0));
		FUZZ_CHECK(ti.codec >= GAUSS_CODEC_GMM_BF16 || ti.gmm_k == 0);
		s->offset[i] = ti.offset;
		s->nbytes[i] = ti.nbytes;
		read_tensor(ctx, r, i, &ti, &budget, s);
	}
	FUZZ_CHECK(gauss_reader_tensor_info(r, (size_t)fi.tensor_count,
					    &(struct gauss_tensor_info){ 0 })
		   == GAUSS_E_INVALID_ARG);
	gauss_reader_close(r);
}

static void
run_one(const uint8_t *data, size_t size)
{
	struct gauss_ctx *ctx = gauss_ctx_new();
	struct seen *s = malloc(sizeof(*s));
	uint64_t want = 0;
	uint8_t *out = NULL;
	size_t out_nbytes = 0;
	enum gauss_status st;

	FUZZ_CHECK(ctx != NULL && s != NULL);
	FUZZ_CHECK(gauss_ctx_set_threads(ctx, 1) == GAUSS_OK);
	put_file(data, size);
	run_reader(ctx, s);

	/* verify: a full decode, bounded in size */
	if (gauss_decompressed_size(data, size, &want) == GAUSS_OK &&
	    want <= FUZZ_MAX_OUT_NBYTES) {
		out = malloc(want ? (size_t)want : 1);
		FUZZ_CHECK(out != NULL);
		st = gauss_decompress_buffer(ctx, data, size, out,
					     (size_t)want, &out_nbytes);
		/* a short buffer may say TOO_LARGE where verify sees more */
		FUZZ_CHECK((gauss_verify_file(ctx, mem_path) == GAUSS_OK) ==
			   (st == GAUSS_OK));
		if (st == GAUSS_OK) {
			FUZZ_CHECK(out_nbytes == want);
			FUZZ_CHECK(s->opened);
			for (size_t i = 0; i < s->count; i++) {
				FUZZ_CHECK(s->info_ok[i]);
				FUZZ_CHECK(!s->tried[i] || s->read_ok[i]);
				if (!s->read_ok[i])
					continue;
				FUZZ_CHECK(memcmp(s->bytes[i],
						  out + s->offset[i],
						  (size_t)s->nbytes[i]) == 0);
			}
		} else {
			FUZZ_CHECK(gauss_ctx_error(ctx)[0] != '\0');
		}
		free(out);
	}
	for (size_t i = 0; i < s->count; i++)
		free(s->bytes[i]);
	free(s);
	gauss_ctx_free(ctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	run_one(data, size);
	copy = malloc(size ? size : 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	if (fuzz_fix_checksums(copy, size))
		run_one(copy, size);
	free(copy);
	return 0;
}
