/* SPDX-License-Identifier: MIT */
/*
 * bound.c: gauss-bound, the order-0 size bound of a safetensors file under
 * gauss's model.
 *
 * gauss codes the exponent field of every float with one rANS table per
 * tensor and stores the sign and mantissa bits raw. The best such a coder
 * can do on a tensor of n elements is n * H / 8 bytes for the exponents
 * (H: the empirical entropy, in bits, of that tensor's exponent field) plus
 * the raw bits:
 *   BF16  exponent bits 14..7,  n * 1 raw bytes (sign + 7 mantissa bits)
 *   F16   exponent bits 14..10, n * 11 / 8 raw bytes
 *   F32   exponent bits 30..23, n * 3 raw bytes
 * Tensors of other dtypes, the header (8 + N bytes) and any gap bytes
 * between tensors count as they are. Table costs, chunk framing and the
 * index are left out, so a real .gauss file is a little larger than this.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "common.h"
#include "endian.h"
#include "banned.h"

static const char PROG[] = "gauss-bound";

/* How one float dtype splits: where its exponent lies, how many raw bits. */
struct float_layout {
	unsigned exp_shift;
	unsigned exp_mask;
	unsigned raw_bits;	/* sign and mantissa bits stored as they are */
};

static const struct float_layout BF16_LAYOUT = { 7, 0xff, 8 };
static const struct float_layout F16_LAYOUT = { 10, 0x1f, 11 };
static const struct float_layout F32_LAYOUT = { 23, 0xff, 24 };

/* Bound of one tensor, kept for the --per-tensor listing. */
struct tensor_bound {
	double entropy;		/* bits per element; negative when not coded */
	double nbytes;
};

static const char *
dtype_name(enum gauss_dtype dtype)
{
	static const char *const names[] = {
		[GAUSS_DTYPE_BOOL] = "BOOL",
		[GAUSS_DTYPE_U8] = "U8",
		[GAUSS_DTYPE_I8] = "I8",
		[GAUSS_DTYPE_F8_E4M3] = "F8_E4M3",
		[GAUSS_DTYPE_F8_E5M2] = "F8_E5M2",
		[GAUSS_DTYPE_I16] = "I16",
		[GAUSS_DTYPE_U16] = "U16",
		[GAUSS_DTYPE_F16] = "F16",
		[GAUSS_DTYPE_BF16] = "BF16",
		[GAUSS_DTYPE_I32] = "I32",
		[GAUSS_DTYPE_U32] = "U32",
		[GAUSS_DTYPE_F32] = "F32",
		[GAUSS_DTYPE_I64] = "I64",
		[GAUSS_DTYPE_U64] = "U64",
		[GAUSS_DTYPE_F64] = "F64",
	};

	if ((unsigned)dtype >= ARRAY_SIZE(names) || names[dtype] == NULL)
		return "?";
	return names[dtype];
}

static const struct float_layout *
layout_of(enum gauss_dtype dtype)
{
	switch (dtype) {
	case GAUSS_DTYPE_BF16:
		return &BF16_LAYOUT;
	case GAUSS_DTYPE_F16:
		return &F16_LAYOUT;
	case GAUSS_DTYPE_F32:
		return &F32_LAYOUT;
	default:
		return NULL;
	}
}

/* Empirical entropy in bits per symbol of a histogram of count symbols. */
static double
entropy_bits(const uint64_t hist[256], uint64_t count)
{
	double h = 0.0;

	if (count == 0)
		return 0.0;
	for (unsigned s = 0; s < 256; s++) {
		if (hist[s] != 0) {
			const double p = (double)hist[s] / (double)count;

			h -= p * log2(p);
		}
	}
	return h;
}

/* Exponent entropy of count floats of layout lay at data. */
static double
exponent_entropy(const uint8_t *data, uint64_t count,
		 const struct float_layout *lay)
{
	uint64_t hist[256] = { 0 };

	if (lay->raw_bits == 24) {
		for (uint64_t i = 0; i < count; i++) {
			const uint32_t v = get_le32(data + 4 * i);

			hist[(v >> lay->exp_shift) & lay->exp_mask]++;
		}
	} else {
		for (uint64_t i = 0; i < count; i++) {
			const uint16_t v = get_le16(data + 2 * i);

			hist[(v >> lay->exp_shift) & lay->exp_mask]++;
		}
	}
	return entropy_bits(hist, count);
}

static void
print_tensors(const struct st_header *hdr, const struct tensor_bound *tb)
{
	for (size_t k = 0; k < hdr->tensor_count; k++) {
		const size_t i = hdr->by_offset[k];
		const struct st_tensor *t = &hdr->tensors[i];

		printf("\t%s %s %" PRIu64, t->name, dtype_name(t->dtype),
		       t->element_count);
		if (tb[i].entropy < 0)
			printf(" -\n");
		else
			printf(" %.4f\n", tb[i].entropy);
	}
}

/*
 * Computes and prints the bound of the file whose file_nbytes bytes are at
 * map. Returns 0, or -1 with the reason in eb.
 */
static int
bound_mapped(const char *path, const uint8_t *map, uint64_t file_nbytes,
	     bool per_tensor, struct errbuf *eb)
{
	struct st_header hdr = { 0 };
	struct tensor_bound *tb = NULL;
	uint8_t prefix[8] = { 0 };
	uint64_t json_nbytes;
	uint64_t tensor_nbytes = 0;
	double bound;
	uint64_t bound_nbytes;
	int ret = -1;

	memcpy(prefix, map, (size_t)MIN(file_nbytes, sizeof(prefix)));
	if (st_check_prefix(prefix, file_nbytes, &json_nbytes, eb) != GAUSS_OK)
		return -1;
	if (st_parse(map + 8, (size_t)json_nbytes, file_nbytes, &hdr, eb) !=
	    GAUSS_OK)
		return -1;

	tb = calloc(hdr.tensor_count ? hdr.tensor_count : 1, sizeof(*tb));
	if (tb == NULL) {
		err_setf(eb, GAUSS_E_NOMEM, "%s", strerror(ENOMEM));
		goto out;
	}

	bound = (double)hdr.data_offset;
	for (size_t i = 0; i < hdr.tensor_count; i++) {
		const struct st_tensor *t = &hdr.tensors[i];
		const struct float_layout *lay = layout_of(t->dtype);
		const uint64_t nbytes = t->end - t->begin;
		const double n = (double)t->element_count;

		tensor_nbytes += nbytes;
		if (lay == NULL) {
			tb[i].entropy = -1.0;
			tb[i].nbytes = (double)nbytes;
		} else {
			tb[i].entropy = exponent_entropy(map + hdr.data_offset +
							 t->begin,
							 t->element_count, lay);
			tb[i].nbytes = n * tb[i].entropy / 8.0 +
				       n * lay->raw_bits / 8.0;
		}
		bound += tb[i].nbytes;
	}
	/*
	 * Tensors of non-zero size do not overlap and the file ends at the
	 * last one (st_parse checks both), so the rest of the data section is
	 * gap bytes.
	 */
	bound += (double)(file_nbytes - hdr.data_offset - tensor_nbytes);
	bound_nbytes = (uint64_t)ceil(bound);

	printf("%s %" PRIu64 " %" PRIu64 " %.2f\n", path, file_nbytes,
	       bound_nbytes,
	       100.0 * (double)bound_nbytes / (double)file_nbytes);
	if (per_tensor)
		print_tensors(&hdr, tb);
	ret = 0;
out:
	free(tb);
	st_header_free(&hdr);
	return ret;
}

/* Maps path and prints its bound. Returns 0, or -1 after a message. */
static int
bound_file(const char *path, bool per_tensor)
{
	struct errbuf eb = { { 0 } };
	struct stat sb;
	const uint8_t *map = NULL;
	uint64_t file_nbytes;
	int fd;
	int ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail_errno;
	if (fstat(fd, &sb) != 0) {
		const int err = errno;

		close(fd);
		errno = err;
		goto fail_errno;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		fprintf(stderr, "%s: cannot read '%s': not a regular file\n",
			PROG, path);
		return -1;
	}
	file_nbytes = (uint64_t)sb.st_size;
	if (file_nbytes > SIZE_MAX) {
		close(fd);
		errno = EFBIG;
		goto fail_errno;
	}
	if (file_nbytes != 0) {
		void *const p = mmap(NULL, (size_t)file_nbytes, PROT_READ,
				     MAP_PRIVATE, fd, 0);

		if (p == MAP_FAILED) {
			const int err = errno;

			close(fd);
			errno = err;
			goto fail_errno;
		}
		(void)madvise(p, (size_t)file_nbytes, MADV_SEQUENTIAL);
		map = p;
	}
	close(fd);

	ret = bound_mapped(path, map != NULL ? map : (const uint8_t *)"",
			   file_nbytes, per_tensor, &eb);
	if (map != NULL)
		munmap((void *)map, (size_t)file_nbytes);
	if (ret != 0)
		fprintf(stderr, "%s: cannot read '%s': %s\n", PROG, path,
			eb.text);
	return ret;

fail_errno:
	fprintf(stderr, "%s: cannot read '%s': %s\n", PROG, path,
		strerror(errno));
	return -1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [--per-tensor] FILE.safetensors...\n", PROG);
}

int
main(int argc, char **argv)
{
	bool per_tensor = false;
	int first = 1;
	int status = 0;

	for (; first < argc; first++) {
		const char *const arg = argv[first];

		if (strcmp(arg, "--") == 0) {
			first++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		if (strcmp(arg, "--per-tensor") == 0) {
			per_tensor = true;
		} else if (strcmp(arg, "-h") == 0 ||
			   strcmp(arg, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "%s: unknown option '%s'\n", PROG, arg);
			usage(stderr);
			return 1;
		}
	}
	if (first >= argc) {
		usage(stderr);
		return 1;
	}
	for (int i = first; i < argc; i++) {
		if (bound_file(argv[i], per_tensor) != 0)
			status = 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write to standard output: %s\n",
			PROG, strerror(errno));
		status = 1;
	}
	return status;
}
