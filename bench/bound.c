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
 *
 * With --context (issue 7) it also prints two bounds of richer models, per
 * tensor as above:
 *   ctx     H(exponent) + H(sign/mantissa | exponent): the sign and mantissa
 *           bits coded under the exponent as context. BF16: all 8 bits;
 *           F16: all 11; F32: the sign and the top 7 mantissa bits, the
 *           low 16 bits counted raw (an empirical entropy over 2^24
 *           symbols would only measure the sample size). 1-byte dtypes
 *           (I8, U8, F8_*, BOOL) count n * H(byte) / 8: whole-byte symbols
 *           under one table.
 *   order1  H(exponent | previous exponent) + the raw bits, for floats;
 *           the same as order 0 for everything else.
 * With --planes DIR it writes, for each file, DIR/NAME.exp (every float's
 * exponent byte, tensors in offset order) and DIR/NAME.sm (the rest: sign
 * and mantissa bytes as gauss stores them, then every other byte of the
 * file), for `zstd -19` of the planes split apart.
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
	double ctx_nbytes;	/* H(exp) + H(sign/mantissa | exp) */
	double order1_nbytes;	/* H(exp | previous exp) + raw bits */
};

/* Joint counts for the context bounds (64K cells, reused). */
static uint64_t joint[256][256];

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

/* Empirical entropy in bits per symbol of cols counts summing to count. */
static double
entropy_bits_n(const uint64_t *hist, unsigned cols, uint64_t count)
{
	double h = 0.0;

	if (count == 0)
		return 0.0;
	for (unsigned s = 0; s < cols; s++) {
		if (hist[s] != 0) {
			const double p = (double)hist[s] / (double)count;

			h -= p * log2(p);
		}
	}
	return h;
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

/* Sum over rows of joint[][] of n_row * H(row): bits of the column symbol
 * given the row. */
static double
conditional_bits(unsigned rows, unsigned cols)
{
	double bits = 0.0;

	for (unsigned r = 0; r < rows; r++) {
		uint64_t n = 0;

		for (unsigned c = 0; c < cols; c++)
			n += joint[r][c];
		bits += (double)n * entropy_bits_n(joint[r], cols, n);
	}
	return bits;
}

/*
 * The context bounds of count floats of layout lay at data, in bytes:
 * *ctx_ret for H(exp) + H(sm | exp), *order1_ret for H(exp | prev) + raw.
 */
static void
context_bounds(const uint8_t *data, uint64_t count,
	       const struct float_layout *lay, double h_exp, double *ctx_ret,
	       double *order1_ret)
{
	const double n = (double)count;
	const bool f32 = lay->raw_bits == 24;
	const bool f16 = lay->raw_bits == 11;
	unsigned prev = 0;
	double sm_bits, o1_bits;

	/* sign/mantissa symbol under the exponent */
	memset(joint, 0, sizeof(joint));
	for (uint64_t i = 0; i < count; i++) {
		const uint32_t v = f32 ? get_le32(data + 4 * i) :
				   get_le16(data + 2 * i);
		const unsigned e = (v >> lay->exp_shift) & lay->exp_mask;
		unsigned sm;

		if (f32)
			sm = ((v >> 24) & 0x80) | ((v >> 16) & 0x7f);
		else if (f16)	/* 11 bits: 8 columns of 256 per exponent */
			sm = ((v >> 5) & 0x400) | (v & 0x3ff);
		else
			sm = ((v >> 8) & 0x80) | (v & 0x7f);
		if (f16)
			joint[e * 8 + (sm >> 8)][sm & 0xff]++;
		else
			joint[e][sm]++;
	}
	if (f16) {
		/* rows e*8..e*8+7 together form exponent e's 2048 symbols */
		sm_bits = 0.0;
		for (unsigned e = 0; e < 32; e++) {
			uint64_t ne = 0;
			double h = 0.0;

			for (unsigned r = 0; r < 8; r++)
				for (unsigned c = 0; c < 256; c++)
					ne += joint[e * 8 + r][c];
			for (unsigned r = 0; r < 8; r++)
				for (unsigned c = 0; c < 256; c++)
					if (joint[e * 8 + r][c]) {
						const double p =
							(double)joint[e * 8 + r][c] /
							(double)ne;

						h -= p * log2(p);
					}
			sm_bits += (double)ne * h;
		}
	} else {
		sm_bits = conditional_bits(256, 256);
	}
	*ctx_ret = (n * h_exp + sm_bits) / 8.0 + (f32 ? n * 2.0 : 0.0);

	/* exponent under the previous exponent */
	memset(joint, 0, sizeof(joint));
	for (uint64_t i = 0; i < count; i++) {
		const uint32_t v = f32 ? get_le32(data + 4 * i) :
				   get_le16(data + 2 * i);
		const unsigned e = (v >> lay->exp_shift) & lay->exp_mask;

		joint[prev][e]++;
		prev = e;
	}
	o1_bits = conditional_bits(256, 256);
	*order1_ret = o1_bits / 8.0 + n * lay->raw_bits / 8.0;
}

/* Order-0 entropy in bytes of n bytes used as whole symbols. */
static double
byte_bound(const uint8_t *data, uint64_t n)
{
	uint64_t hist[256] = { 0 };

	for (uint64_t i = 0; i < n; i++)
		hist[data[i]]++;
	return (double)n * entropy_bits(hist, n) / 8.0;
}

/* Appends n bytes to f; returns false on failure. */
static bool
put(FILE *f, const void *p, size_t n)
{
	return f == NULL || n == 0 || fwrite(p, 1, n, f) == n;
}

/*
 * Writes the exponent plane of a float tensor to fe and its sign/mantissa
 * plane to fs, as gauss splits them (F16: 11-bit fields in 2 bytes here).
 */
static bool
write_planes(FILE *fe, FILE *fs, const uint8_t *data, uint64_t count,
	     const struct float_layout *lay)
{
	for (uint64_t i = 0; i < count; i++) {
		uint8_t e, sm[3];
		size_t nsm;

		if (lay->raw_bits == 24) {
			const uint32_t v = get_le32(data + 4 * i);

			e = (uint8_t)(v >> 23);
			sm[0] = (uint8_t)v;
			sm[1] = (uint8_t)(v >> 8);
			sm[2] = (uint8_t)(((v >> 24) & 0x80) | ((v >> 16) & 0x7f));
			nsm = 3;
		} else {
			const uint16_t v = get_le16(data + 2 * i);

			e = (uint8_t)((v >> lay->exp_shift) & lay->exp_mask);
			if (lay->raw_bits == 11) {
				sm[0] = (uint8_t)v;
				sm[1] = (uint8_t)(((v >> 13) & 0x4) |
						  ((v >> 8) & 0x3));
				nsm = 2;
			} else {
				sm[0] = (uint8_t)(((v >> 8) & 0x80) |
						  (v & 0x7f));
				nsm = 1;
			}
		}
		if (putc(e, fe) == EOF || !put(fs, sm, nsm))
			return false;
	}
	return true;
}

struct options {
	bool per_tensor;
	bool context;
	const char *planes;	/* folder for the split planes, or NULL */
};

static void
print_tensors(const struct st_header *hdr, const struct tensor_bound *tb,
	      bool context)
{
	for (size_t k = 0; k < hdr->tensor_count; k++) {
		const size_t i = hdr->by_offset[k];
		const struct st_tensor *t = &hdr->tensors[i];

		printf("\t%s %s %" PRIu64, t->name, dtype_name(t->dtype),
		       t->element_count);
		if (tb[i].entropy < 0)
			printf(" -");
		else
			printf(" %.4f", tb[i].entropy);
		if (context)
			printf(" %.0f %.0f %.0f", tb[i].nbytes, tb[i].ctx_nbytes,
			       tb[i].order1_nbytes);
		printf("\n");
	}
}

/*
 * Computes and prints the bound of the file whose file_nbytes bytes are at
 * map. Returns 0, or -1 with the reason in eb.
 */
static int
bound_mapped(const char *path, const uint8_t *map, uint64_t file_nbytes,
	     const struct options *o, struct errbuf *eb)
{
	FILE *fe = NULL, *fs = NULL;
	double ctx_bound, order1_bound;
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

	if (o->planes != NULL) {
		const char *base = strrchr(path, '/');
		char name[4096];

		base = base ? base + 1 : path;
		snprintf(name, sizeof(name), "%s/%s.exp", o->planes, base);
		fe = fopen(name, "wb");
		snprintf(name, sizeof(name), "%s/%s.sm", o->planes, base);
		fs = fopen(name, "wb");
		if (fe == NULL || fs == NULL) {
			err_setf(eb, GAUSS_E_IO, "cannot write planes in "
				 "'%s': %s", o->planes, strerror(errno));
			goto out;
		}
		/* the header, as it is */
		if (!put(fs, map, (size_t)hdr.data_offset))
			goto write_failed;
	}
	bound = (double)hdr.data_offset;
	ctx_bound = order1_bound = bound;
	for (size_t k = 0; k < hdr.tensor_count; k++) {
		const size_t i = hdr.by_offset[k];
		const struct st_tensor *t = &hdr.tensors[i];
		const uint8_t *data = map + hdr.data_offset + t->begin;
		const struct float_layout *lay = layout_of(t->dtype);
		const uint64_t nbytes = t->end - t->begin;
		const double n = (double)t->element_count;

		tensor_nbytes += nbytes;
		if (lay == NULL) {
			tb[i].entropy = -1.0;
			tb[i].nbytes = (double)nbytes;
			tb[i].ctx_nbytes = tb[i].order1_nbytes = (double)nbytes;
			if (o->context && st_dtype_size(t->dtype) == 1)
				tb[i].ctx_nbytes = byte_bound(data, nbytes);
			if (!put(fs, data, (size_t)nbytes))
				goto write_failed;
		} else {
			tb[i].entropy = exponent_entropy(data,
							 t->element_count, lay);
			tb[i].nbytes = n * tb[i].entropy / 8.0 +
				       n * lay->raw_bits / 8.0;
			if (o->context)
				context_bounds(data, t->element_count, lay,
					       tb[i].entropy, &tb[i].ctx_nbytes,
					       &tb[i].order1_nbytes);
			if (fe != NULL && !write_planes(fe, fs, data,
							t->element_count, lay))
				goto write_failed;
		}
		bound += tb[i].nbytes;
		ctx_bound += tb[i].ctx_nbytes;
		order1_bound += tb[i].order1_nbytes;
	}
	/*
	 * Tensors of non-zero size do not overlap and the file ends at the
	 * last one (st_parse checks both), so the rest of the data section is
	 * gap bytes.
	 */
	bound += (double)(file_nbytes - hdr.data_offset - tensor_nbytes);
	ctx_bound += (double)(file_nbytes - hdr.data_offset - tensor_nbytes);
	order1_bound += (double)(file_nbytes - hdr.data_offset - tensor_nbytes);
	bound_nbytes = (uint64_t)ceil(bound);

	printf("%s %" PRIu64 " %" PRIu64 " %.2f", path, file_nbytes,
	       bound_nbytes,
	       100.0 * (double)bound_nbytes / (double)file_nbytes);
	if (o->context)
		printf(" %.0f %.2f %.0f %.2f", ceil(ctx_bound),
		       100.0 * ceil(ctx_bound) / (double)file_nbytes,
		       ceil(order1_bound),
		       100.0 * ceil(order1_bound) / (double)file_nbytes);
	printf("\n");
	if (o->per_tensor)
		print_tensors(&hdr, tb, o->context);
	ret = 0;
	goto out;
write_failed:
	err_setf(eb, GAUSS_E_IO, "cannot write planes in '%s': %s",
		 o->planes, strerror(errno));
out:
	if (fe != NULL && fclose(fe) != 0 && ret == 0) {
		err_setf(eb, GAUSS_E_IO, "cannot write planes: %s",
			 strerror(errno));
		ret = -1;
	}
	if (fs != NULL && fclose(fs) != 0 && ret == 0) {
		err_setf(eb, GAUSS_E_IO, "cannot write planes: %s",
			 strerror(errno));
		ret = -1;
	}
	free(tb);
	st_header_free(&hdr);
	return ret;
}

/* Maps path and prints its bound. Returns 0, or -1 after a message. */
static int
bound_file(const char *path, const struct options *o)
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
			   file_nbytes, o, &eb);
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
	fprintf(f, "usage: %s [--per-tensor] [--context] [--planes DIR] "
		"FILE.safetensors...\n"
		"prints: FILE bytes order0_bound percent, and with --context\n"
		"        ctx_bound percent order1_bound percent\n", PROG);
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
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
			o.per_tensor = true;
		} else if (strcmp(arg, "--context") == 0) {
			o.context = true;
		} else if (strcmp(arg, "--planes") == 0 && first + 1 < argc) {
			o.planes = argv[++first];
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
		if (bound_file(argv[i], &o) != 0)
			status = 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write to standard output: %s\n",
			PROG, strerror(errno));
		status = 1;
	}
	return status;
}
