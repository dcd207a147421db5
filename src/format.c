/* SPDX-License-Identifier: MIT */
/*
 * format.c: the fixed-size parts of the .gauss container (gauss(5),
 * sections "File header", "Index" and "Footer"). Every value read here is
 * checked before use; nothing is allocated before its size is known to fit
 * in what the file holds.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common.h"
#include "endian.h"
#include "format.h"
#include "banned.h"

int
fmt_kind_known(unsigned kind, unsigned version)
{
	return kind <= (version >= FMT_VERSION_GMM ? FMT_KIND_GMM_F32 :
					      FMT_KIND_EXP_F32);
}

int
fmt_kind_has_table(enum fmt_kind kind)
{
	return kind >= FMT_KIND_BYTES && kind <= FMT_KIND_EXP_F32;
}

int
fmt_kind_is_float(enum fmt_kind kind)
{
	return kind == FMT_KIND_EXP_BF16 || kind == FMT_KIND_EXP_F16 ||
	       kind == FMT_KIND_EXP_F32;
}

int
fmt_kind_is_gmm(enum fmt_kind kind)
{
	return kind >= FMT_KIND_GMM_BF16 && kind <= FMT_KIND_GMM_F32;
}

unsigned
fmt_kind_elem_nbytes(enum fmt_kind kind)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16:
	case FMT_KIND_EXP_F16:
	case FMT_KIND_GMM_BF16:
	case FMT_KIND_GMM_F16:
		return 2;
	case FMT_KIND_EXP_F32:
	case FMT_KIND_GMM_F32:
		return 4;
	default:
		return 1;
	}
}

enum gauss_dtype
fmt_gmm_dtype(enum fmt_kind kind)
{
	return kind == FMT_KIND_GMM_BF16 ? GAUSS_DTYPE_BF16 :
	       kind == FMT_KIND_GMM_F16 ? GAUSS_DTYPE_F16 : GAUSS_DTYPE_F32;
}

static void
put_f64(uint8_t *out, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	put_le64(out, u);
}

static double
get_f64(const uint8_t *in)
{
	const uint64_t u = get_le64(in);
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

size_t
fmt_gmm_stats_write(const struct fmt_gmm_stats *g, uint8_t *out)
{
	out[0] = (uint8_t)g->k;
	put_le32(out + 1, g->scale);
	put_f64(out + 5, g->max_abs_error);
	put_f64(out + 13, g->rms_error);
	put_f64(out + 21, g->std);
	return FMT_GMM_STATS_NBYTES;
}

/* Reads and checks the stats of a lossy index entry. */
static bool
gmm_stats_read(struct cursor *c, struct fmt_gmm_stats *g)
{
	const uint8_t *p = c->p;

	if (cursor_left(c) < FMT_GMM_STATS_NBYTES)
		return false;
	c->p += FMT_GMM_STATS_NBYTES;
	g->k = p[0];
	g->scale = get_le32(p + 1);
	g->max_abs_error = get_f64(p + 5);
	g->rms_error = get_f64(p + 13);
	g->std = get_f64(p + 21);
	/* measurements: finite and non-negative (NaN fails every test) */
	return g->k >= 1 && g->scale >= 1 &&
	       g->max_abs_error >= 0 && g->max_abs_error <= 1e300 &&
	       g->rms_error >= 0 && g->rms_error <= 1e300 &&
	       g->std >= 0 && g->std <= 1e300;
}

const char *
fmt_kind_name(enum fmt_kind kind)
{
	switch (kind) {
	case FMT_KIND_STORED:
		return "stored";
	case FMT_KIND_BYTES:
		return "bytes";
	case FMT_KIND_EXP_BF16:
		return "exp-bf16";
	case FMT_KIND_EXP_F16:
		return "exp-f16";
	case FMT_KIND_EXP_F32:
		return "exp-f32";
	case FMT_KIND_GMM_BF16:
		return "gmm-bf16";
	case FMT_KIND_GMM_F16:
		return "gmm-f16";
	case FMT_KIND_GMM_F32:
		return "gmm-f32";
	case FMT_KIND_END:
		return "end";
	}
	return "unknown";
}

/* Header check field: low 32 bits of XXH3-64 of bytes 0..19. */
static uint32_t
header_check(const uint8_t *h)
{
	return (uint32_t)XXH3_64bits(h, 20);
}

void
fmt_header_write(const struct fmt_header *h, uint8_t out[FMT_HEADER_NBYTES])
{
	memset(out, 0, FMT_HEADER_NBYTES);
	memcpy(out, FMT_MAGIC, 8);
	put_le16(out + 8, (uint16_t)h->version);
	out[10] = (uint8_t)h->chunk_log2;
	out[11] = (uint8_t)h->block_log2;
	/* bytes 12..19: flags and reserved, zero in version 1 */
	put_le32(out + 20, header_check(out));
}

enum gauss_status
fmt_header_read(const uint8_t *in, size_t in_nbytes, struct fmt_header *h,
		struct errbuf *eb)
{
	if (in_nbytes >= 7 && memcmp(in, FMT_LEGACY_MAGIC_PREFIX, 7) == 0)
		return err_setf(eb, GAUSS_E_UNSUPPORTED_VERSION,
				"file was written by the original Python gauss "
				"(magic %.*s), which this gauss does not read",
				(int)MIN(in_nbytes, 8), (const char *)in);
	if (in_nbytes < 8 || memcmp(in, FMT_MAGIC, 8) != 0)
		return err_setf(eb, GAUSS_E_CORRUPT, "not a .gauss file "
				"(bad magic)");
	if (in_nbytes < FMT_HEADER_NBYTES)
		return err_setf(eb, GAUSS_E_CORRUPT, "file header is truncated");
	/* damage first: a flipped version bit is damage, not a new version */
	if (get_le32(in + 20) != header_check(in))
		return err_setf(eb, GAUSS_E_CORRUPT,
				"file header fails its check");
	h->version = get_le16(in + 8);
	if (h->version < FMT_VERSION_MIN || h->version > FMT_VERSION_MAX)
		return err_setf(eb, GAUSS_E_UNSUPPORTED_VERSION,
				"format version %u is not supported (this "
				"gauss reads versions %u to %u)", h->version,
				FMT_VERSION_MIN, FMT_VERSION);
	h->chunk_log2 = in[10];
	h->block_log2 = in[11];
	if (h->chunk_log2 < FMT_CHUNK_LOG2_MIN ||
	    h->chunk_log2 > FMT_CHUNK_LOG2_MAX ||
	    h->block_log2 < h->chunk_log2 ||
	    h->block_log2 > FMT_BLOCK_LOG2_MAX)
		return err_setf(eb, GAUSS_E_CORRUPT, "file header holds "
				"invalid chunk or block sizes");
	for (unsigned i = 12; i < 20; i++)
		if (in[i] != 0)
			return err_setf(eb, GAUSS_E_CORRUPT, "file header has "
					"non-zero reserved bytes");
	return GAUSS_OK;
}

static uint64_t
footer_check(const uint8_t *f)
{
	return XXH3_64bits(f, 48);
}

void
fmt_footer_write(const struct fmt_footer *f, uint8_t out[FMT_FOOTER_NBYTES])
{
	put_le64(out, f->index_offset);
	put_le64(out + 8, f->index_nbytes);
	put_le64(out + 16, f->original_nbytes);
	memcpy(out + 24, f->original_hash, 16);
	put_le64(out + 40, f->index_hash);
	put_le64(out + 48, footer_check(out));
	memcpy(out + 56, FMT_END_MAGIC, 8);
}

enum gauss_status
fmt_footer_read(const uint8_t in[FMT_FOOTER_NBYTES], uint64_t file_nbytes,
		struct fmt_footer *f, struct errbuf *eb)
{
	if (memcmp(in + 56, FMT_END_MAGIC, 8) != 0)
		return err_setf(eb, GAUSS_E_CORRUPT, "footer not found: the "
				"file is truncated or has trailing bytes");
	if (get_le64(in + 48) != footer_check(in))
		return err_setf(eb, GAUSS_E_CORRUPT, "footer fails its check");
	f->index_offset = get_le64(in);
	f->index_nbytes = get_le64(in + 8);
	f->original_nbytes = get_le64(in + 16);
	memcpy(f->original_hash, in + 24, 16);
	f->index_hash = get_le64(in + 40);
	/* header, END frame, index, footer, in this order, nothing after */
	if (file_nbytes < FMT_HEADER_NBYTES + 1 + FMT_FOOTER_NBYTES ||
	    f->index_offset < FMT_HEADER_NBYTES + 1 ||
	    f->index_offset > file_nbytes - FMT_FOOTER_NBYTES ||
	    f->index_nbytes != file_nbytes - FMT_FOOTER_NBYTES -
				       f->index_offset)
		return err_setf(eb, GAUSS_E_CORRUPT, "footer points outside "
				"the file");
	return GAUSS_OK;
}

enum gauss_status
fmt_index_parse(const uint8_t *in, size_t in_nbytes,
		const struct fmt_footer *f, unsigned version,
		struct fmt_index *idx, struct errbuf *eb)
{
	struct cursor c;
	uint64_t count, orig = 0, frame = FMT_HEADER_NBYTES;

	memset(idx, 0, sizeof(*idx));
	cursor_init(&c, in, in_nbytes);
	if (!cursor_varint(&c, &count))
		return err_setf(eb, GAUSS_E_CORRUPT, "index is truncated");
	/* Each entry takes at least 3 bytes: no allocation beyond the file. */
	if (count > cursor_left(&c) / 3)
		return err_setf(eb, GAUSS_E_CORRUPT, "index declares %llu "
				"segments, more than it can hold",
				(unsigned long long)count);
	idx->segments = calloc(count ? count : 1, sizeof(*idx->segments));
	if (idx->segments == NULL)
		return GAUSS_E_NOMEM;
	idx->count = count;
	for (size_t i = 0; i < count; i++) {
		struct fmt_segment *s = &idx->segments[i];
		uint8_t kind;

		if (!cursor_u8(&c, &kind) ||
		    !cursor_varint(&c, &s->original_nbytes) ||
		    !cursor_varint(&c, &s->frame_nbytes))
			goto truncated;
		if (fmt_kind_known(kind, version) &&
		    fmt_kind_is_gmm((enum fmt_kind)kind) &&
		    !gmm_stats_read(&c, &s->gmm)) {
			fmt_index_free(idx);
			return err_setf(eb, GAUSS_E_CORRUPT, "index entry %zu "
					"is invalid", i);
		}
		if (!fmt_kind_known(kind, version) || s->original_nbytes == 0 ||
		    s->frame_nbytes < 2 ||
		    s->original_nbytes > f->original_nbytes - orig ||
		    s->frame_nbytes > f->index_offset - frame) {
			fmt_index_free(idx);
			return err_setf(eb, GAUSS_E_CORRUPT, "index entry %zu "
					"is invalid", i);
		}
		s->kind = (enum fmt_kind)kind;
		s->original_offset = orig;
		s->frame_offset = frame;
		orig += s->original_nbytes;
		frame += s->frame_nbytes;
	}
	if (cursor_left(&c) != 0 || orig != f->original_nbytes ||
	    frame + 1 != f->index_offset) {
		fmt_index_free(idx);
		return err_setf(eb, GAUSS_E_CORRUPT, "index does not match "
				"the file");
	}
	return GAUSS_OK;
truncated:
	fmt_index_free(idx);
	return err_setf(eb, GAUSS_E_CORRUPT, "index is truncated");
}

void
fmt_index_free(struct fmt_index *idx)
{
	if (idx == NULL)
		return;
	free(idx->segments);
	memset(idx, 0, sizeof(*idx));
}
