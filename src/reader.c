/* SPDX-License-Identifier: MIT */
/*
 * reader.c: random access to a .gauss file. Opening reads the file header,
 * the footer, the index and the first segment (the safetensors header);
 * reading a tensor then reads only the frames that hold it, and of those
 * only the tables, the chunk headers and the chunks that overlap the range.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <xxhash.h>

#include "chunk.h"
#include "common.h"
#include "cpu.h"
#include "ctx.h"
#include "endian.h"
#include "format.h"
#include "io.h"
#include "safetensors.h"
#include "split.h"
#include "banned.h"

struct gauss_reader {
	struct gauss_ctx *ctx;
	char *path;
	int fd;
	struct stat sb;
	uint64_t file_nbytes;
	struct fmt_header fh;
	struct fmt_footer foot;
	struct fmt_index idx;
	struct st_header st;
	uint8_t *hdr;			/* the safetensors header, as stored */
	uint8_t *chunk_buf;
	uint8_t *io_buf;		/* one chunk record */
	uint8_t *shard_buf;		/* a lossy shard, decoded */
	uint8_t *shard_rec;		/* and its record */
	size_t shard_cap;		/* bytes of shard_buf */
	struct chunk_scratch scratch;
	struct rans_dtable dtable;
	double *entropy;		/* per tensor; NAN until computed */
};

static enum gauss_status
rd_pread(struct gauss_reader *r, void *buf, size_t nbytes, uint64_t offset,
	 size_t *got_ret)
{
	const ssize_t n = io_pread_full(r->fd, buf, nbytes, offset);

	if (n < 0)
		return err_setf(&r->ctx->err, GAUSS_E_IO, "read failed: %s",
				strerror((int)-n));
	*got_ret = (size_t)n;
	return GAUSS_OK;
}

/* Index of the segment holding original byte offset (segments are sorted). */
static size_t
segment_at(const struct gauss_reader *r, uint64_t offset)
{
	size_t lo = 0, hi = r->idx.count;

	while (hi - lo > 1) {
		const size_t mid = lo + (hi - lo) / 2;

		if (r->idx.segments[mid].original_offset <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Makes room for a lossy shard of nbytes bytes and its record. */
static enum gauss_status
shard_room(struct gauss_reader *r, size_t nbytes)
{
	uint8_t *buf, *rec;

	if (nbytes <= r->shard_cap)
		return GAUSS_OK;
	buf = realloc(r->shard_buf, nbytes);
	if (buf != NULL)
		r->shard_buf = buf;
	rec = realloc(r->shard_rec, chunk_record_bound(nbytes));
	if (rec != NULL)
		r->shard_rec = rec;
	if (buf == NULL || rec == NULL)
		return err_setf(&r->ctx->err, GAUSS_E_NOMEM, "out of memory");
	r->shard_cap = nbytes;
	return GAUSS_OK;
}

/*
 * The shards of a lossy frame (after its head, at pos): decodes the ones
 * that overlap [want, want + want_nbytes) into dst, skips the others by
 * their lengths.
 */
static enum gauss_status
walk_shards(struct gauss_reader *r, const struct fmt_segment *s, uint64_t pos,
	    uint64_t shard_nbytes, uint64_t want, uint64_t want_nbytes,
	    uint8_t *dst)
{
	struct errbuf *eb = &r->ctx->err;
	const uint64_t frame_end = s->frame_offset + s->frame_nbytes;
	uint64_t index = 0;

	for (uint64_t off = 0; off < s->original_nbytes;
	     off += shard_nbytes, index++) {
		const size_t sn = (size_t)MIN(shard_nbytes,
					      s->original_nbytes - off);
		const uint64_t at = s->original_offset + off;
		const bool needed = dst != NULL && at < want + want_nbytes &&
				    at + sn > want;
		const uint8_t *payload;
		size_t payload_nbytes, got = 0;
		uint64_t checksum, head;
		bool stored;
		struct cursor c;
		enum gauss_status st;

		TRY(rd_pread(r, r->io_buf, (size_t)MIN(VARINT_MAX_LEN,
						      frame_end - pos),
			     pos, &got));
		cursor_init(&c, r->io_buf, got);
		if (!cursor_varint(&c, &head) || (head >> 1) > sn ||
		    (head >> 1) + FMT_CHECKSUM_NBYTES + (uint64_t)(c.p -
		    r->io_buf) > frame_end - pos)
			return err_setf(eb, GAUSS_E_CORRUPT, "shard %llu "
					"header is invalid",
					(unsigned long long)index);
		if (!needed) {
			pos += (uint64_t)(c.p - r->io_buf) + (head >> 1) +
			       FMT_CHECKSUM_NBYTES;
			continue;
		}
		TRY(shard_room(r, sn));
		TRY(rd_pread(r, r->shard_rec, (size_t)MIN(
				     chunk_record_bound(sn), frame_end - pos),
			     pos, &got));
		cursor_init(&c, r->shard_rec, got);
		st = chunk_parse(&c, sn, &payload, &payload_nbytes, &stored,
				 &checksum, eb);
		if (st == GAUSS_OK)
			st = chunk_decode(s->kind, &r->dtable, payload,
					  payload_nbytes, stored, checksum,
					  r->shard_buf, sn, &r->scratch, eb);
		if (st != GAUSS_OK)
			return err_prefix(eb, st, "shard %llu",
					  (unsigned long long)index);
		pos += (uint64_t)(c.p - r->shard_rec);
		{
			const uint64_t lo = MAX(at, want);
			const uint64_t hi = MIN(at + sn, want + want_nbytes);

			memcpy(dst + (lo - want), r->shard_buf + (lo - at),
			       (size_t)(hi - lo));
		}
	}
	if (dst == NULL && pos != frame_end)
		return err_setf(eb, GAUSS_E_CORRUPT, "frame size does not "
				"match the index");
	return GAUSS_OK;
}

/*
 * Walks the frame of segment si and decodes the part of it that overlaps
 * original bytes [want, want + want_nbytes) into dst (dst[0] being byte
 * want). With dst NULL it only reads the tables, for their entropy (the
 * sum of entropy times elements goes to *entropy_sum_ret).
 */
static enum gauss_status
walk_segment(struct gauss_reader *r, size_t si, uint64_t want,
	     uint64_t want_nbytes, uint8_t *dst, double *entropy_sum_ret)
{
	struct errbuf *eb = &r->ctx->err;
	const struct fmt_segment *s = &r->idx.segments[si];
	const uint64_t frame_end = s->frame_offset + s->frame_nbytes;
	const uint64_t block_nbytes = (uint64_t)1 << r->fh.block_log2;
	const size_t chunk_nbytes = (size_t)1 << r->fh.chunk_log2;
	const size_t bound = chunk_record_bound(chunk_nbytes);
	uint64_t pos = s->frame_offset, nbytes, chunk_index = 0;
	struct cursor c;
	uint8_t kind;
	size_t got = 0;

	TRY(rd_pread(r, r->io_buf, (size_t)MIN(1 + 2 * VARINT_MAX_LEN,
					      s->frame_nbytes), pos, &got));
	cursor_init(&c, r->io_buf, got);
	if (!cursor_u8(&c, &kind) || !cursor_varint(&c, &nbytes) ||
	    kind != s->kind || nbytes != s->original_nbytes)
		return err_setf(eb, GAUSS_E_CORRUPT, "frame does not match "
				"the index");
	if (nbytes % fmt_kind_elem_nbytes(kind))
		return err_setf(eb, GAUSS_E_CORRUPT, "frame size is not a "
				"whole number of elements");
	if (fmt_kind_is_gmm(kind)) {
		uint64_t z;

		if (!cursor_varint(&c, &z) || z == 0 ||
		    z % fmt_kind_elem_nbytes(kind) ||
		    z > block_nbytes)
			return err_setf(eb, GAUSS_E_CORRUPT, "frame has an "
					"invalid shard size");
		return walk_shards(r, s, pos + (uint64_t)(c.p - r->io_buf), z,
				   want, want_nbytes, dst);
	}
	pos += (uint64_t)(c.p - r->io_buf);
	for (uint64_t boff = 0; boff < nbytes; boff += block_nbytes) {
		const uint64_t bn = MIN(block_nbytes, nbytes - boff);

		if (fmt_kind_has_table(kind)) {
			struct rans_table t;

			TRY(rd_pread(r, r->io_buf, (size_t)MIN(
					     CHUNK_TABLE_MAX_NBYTES,
					     frame_end - pos), pos, &got));
			cursor_init(&c, r->io_buf, got);
			TRY(chunk_table_read(kind, r->fh.version, &c, &t,
					     eb));
			pos += (uint64_t)(c.p - r->io_buf);
			rans_dtable_build_for(&t, r->fh.version,
					      r->scratch.kernels->slots,
					      &r->dtable);
			if (entropy_sum_ret)
				*entropy_sum_ret += rans_table_entropy(&t) *
					(double)(bn / split_elem_nbytes(kind));
		}
		for (uint64_t coff = 0; coff < bn; coff += chunk_nbytes) {
			const size_t cn = (size_t)MIN(chunk_nbytes, bn - coff);
			const uint64_t at = s->original_offset + boff + coff;
			const bool needed = dst != NULL && at < want + want_nbytes &&
					    at + cn > want;
			const uint8_t *payload;
			size_t payload_nbytes;
			uint64_t checksum;
			bool stored;
			enum gauss_status st;

			TRY(rd_pread(r, r->io_buf, (size_t)MIN(
					     needed ? bound : 1 + VARINT_MAX_LEN,
					     frame_end - pos), pos, &got));
			cursor_init(&c, r->io_buf, got);
			if (!needed) {
				uint64_t head;

				if (!cursor_varint(&c, &head) ||
				    (head >> 1) > cn)
					return err_setf(eb, GAUSS_E_CORRUPT,
							"chunk %llu header is "
							"invalid",
							(unsigned long long)
								chunk_index);
				pos += (uint64_t)(c.p - r->io_buf) +
				       (head >> 1) + FMT_CHECKSUM_NBYTES;
				if (pos > frame_end)
					return err_setf(eb, GAUSS_E_CORRUPT,
							"chunk %llu runs past "
							"its frame",
							(unsigned long long)
								chunk_index);
				chunk_index++;
				continue;
			}
			st = chunk_parse(&c, cn, &payload, &payload_nbytes,
					 &stored, &checksum, eb);
			if (st == GAUSS_OK)
				st = chunk_decode(kind, &r->dtable, payload,
						  payload_nbytes, stored,
						  checksum, r->chunk_buf, cn,
						  &r->scratch, eb);
			if (st != GAUSS_OK)
				return err_prefix(eb, st, "chunk %llu",
						  (unsigned long long)
							  chunk_index);
			pos += (uint64_t)(c.p - r->io_buf);
			{
				const uint64_t lo = MAX(at, want);
				const uint64_t hi = MIN(at + cn,
							want + want_nbytes);

				memcpy(dst + (lo - want),
				       r->chunk_buf + (lo - at),
				       (size_t)(hi - lo));
			}
			chunk_index++;
		}
	}
	if (dst == NULL && pos != frame_end)
		return err_setf(eb, GAUSS_E_CORRUPT, "frame size does not "
				"match the index");
	return GAUSS_OK;
}

/* Decodes original bytes [offset, offset + nbytes) into dst. */
static enum gauss_status
read_original(struct gauss_reader *r, uint64_t offset, uint64_t nbytes,
	      uint8_t *dst)
{
	if (nbytes == 0)
		return GAUSS_OK;
	for (size_t si = segment_at(r, offset); si < r->idx.count; si++) {
		const struct fmt_segment *s = &r->idx.segments[si];

		if (s->original_offset >= offset + nbytes)
			break;
		TRY(walk_segment(r, si, offset, nbytes, dst, NULL));
	}
	return GAUSS_OK;
}

static enum gauss_status
reader_load(struct gauss_reader *r)
{
	struct errbuf *eb = &r->ctx->err;
	uint8_t head[FMT_HEADER_NBYTES], foot[FMT_FOOTER_NBYTES];
	uint8_t *index = NULL, *hdr = NULL;
	uint64_t json_nbytes;
	size_t got = 0;
	enum gauss_status st;

	TRY(rd_pread(r, head, sizeof(head), 0, &got));
	TRY(fmt_header_read(head, got, &r->fh, eb));
	if (r->file_nbytes < FMT_HEADER_NBYTES + 1 + FMT_FOOTER_NBYTES)
		return err_setf(eb, GAUSS_E_CORRUPT, "file is truncated");
	TRY(rd_pread(r, foot, sizeof(foot),
		     r->file_nbytes - FMT_FOOTER_NBYTES, &got));
	TRY(fmt_footer_read(foot, r->file_nbytes, &r->foot, eb));
	index = malloc((size_t)r->foot.index_nbytes + 1);
	if (index == NULL)
		return GAUSS_E_NOMEM;
	st = rd_pread(r, index, (size_t)r->foot.index_nbytes,
		      r->foot.index_offset, &got);
	if (st == GAUSS_OK && (got != r->foot.index_nbytes ||
			       XXH3_64bits(index, got) != r->foot.index_hash))
		st = err_setf(eb, GAUSS_E_CORRUPT, "index fails its check");
	if (st == GAUSS_OK)
		st = fmt_index_parse(index, got, &r->foot, r->fh.version,
				     &r->idx, eb);
	free(index);
	TRY(st);
	/* the shard size of each lossy frame, from its head */
	for (size_t i = 0; i < r->idx.count; i++) {
		struct fmt_segment *s = &r->idx.segments[i];
		uint8_t fh[1 + 2 * VARINT_MAX_LEN];
		uint64_t nbytes, z;
		struct cursor c;
		uint8_t kind;

		if (!fmt_kind_is_gmm(s->kind))
			continue;
		TRY(rd_pread(r, fh, (size_t)MIN(sizeof(fh), s->frame_nbytes),
			     s->frame_offset, &got));
		cursor_init(&c, fh, got);
		if (!cursor_u8(&c, &kind) || !cursor_varint(&c, &nbytes) ||
		    !cursor_varint(&c, &z) || kind != s->kind ||
		    nbytes != s->original_nbytes || z == 0 ||
		    z % fmt_kind_elem_nbytes(s->kind) ||
		    z > (uint64_t)1 << r->fh.block_log2)
			return err_setf(eb, GAUSS_E_CORRUPT, "lossy frame at "
					"byte %llu has an invalid head",
					(unsigned long long)s->frame_offset);
		s->shard_nbytes = z;
	}

	r->chunk_buf = malloc((size_t)1 << r->fh.chunk_log2);
	r->io_buf = malloc(chunk_record_bound((size_t)1 << r->fh.chunk_log2));
	if (r->chunk_buf == NULL || r->io_buf == NULL)
		return GAUSS_E_NOMEM;
	TRY(chunk_scratch_init(&r->scratch, (size_t)1 << r->fh.chunk_log2));

	/* The safetensors header: the first original bytes. */
	if (r->foot.original_nbytes < 8)
		return err_setf(eb, GAUSS_E_CORRUPT, "original is too short");
	TRY(read_original(r, 0, 8, head));
	st = st_check_prefix(head, r->foot.original_nbytes, &json_nbytes, eb);
	if (st != GAUSS_OK)
		return err_prefix(eb, GAUSS_E_CORRUPT, "stored header");
	hdr = malloc((size_t)json_nbytes + 8);
	if (hdr == NULL)
		return GAUSS_E_NOMEM;
	st = read_original(r, 0, json_nbytes + 8, hdr);
	if (st == GAUSS_OK) {
		st = st_parse(hdr + 8, (size_t)json_nbytes,
			      r->foot.original_nbytes, &r->st, eb);
		if (st != GAUSS_OK)
			st = err_prefix(eb, GAUSS_E_CORRUPT, "stored header");
	}
	r->hdr = hdr;
	TRY(st);
	r->entropy = malloc((r->st.tensor_count + 1) * sizeof(double));
	if (r->entropy == NULL)
		return GAUSS_E_NOMEM;
	for (size_t i = 0; i < r->st.tensor_count; i++)
		r->entropy[i] = -2;	/* not computed yet */
	return GAUSS_OK;
}

enum gauss_status
gauss_reader_open(struct gauss_ctx *ctx, const char *path,
		  struct gauss_reader **reader_ret)
{
	struct gauss_reader *r;
	struct stat sb;
	enum gauss_status st;

	if (ctx == NULL || path == NULL || reader_ret == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx_begin(ctx);
	*reader_ret = NULL;
	/* the decoder table is aligned for the vector kernels */
	r = aligned_alloc(_Alignof(struct gauss_reader), sizeof(*r));
	if (r != NULL)
		memset(r, 0, sizeof(*r));
	if (r == NULL || (r->path = strdup(path)) == NULL) {
		free(r);
		return ctx_fail(ctx, GAUSS_E_NOMEM, "out of memory");
	}
	r->ctx = ctx;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		st = ctx_fail(ctx, GAUSS_E_IO, "'%s': %s", path,
			      strerror(errno));
		gauss_reader_close(r);
		return st;
	}
	if (fstat(r->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		/* cannot be read at random: a pipe, a directory */
		gauss_reader_close(r);
		return ctx_fail(ctx, GAUSS_E_INVALID_ARG, "'%s' is not a "
				"regular file", path);
	}
	r->file_nbytes = (uint64_t)sb.st_size;
	r->sb = sb;
	st = reader_load(r);
	if (st != GAUSS_OK) {
		if (ctx->err.text[0] == '\0')
			ctx_fail(ctx, st, "%s", gauss_strerror(st));
		err_prefix(&ctx->err, st, "'%s'", path);
		gauss_reader_close(r);
		return st;
	}
	*reader_ret = r;
	return GAUSS_OK;
}

void
gauss_reader_close(struct gauss_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	fmt_index_free(&r->idx);
	st_header_free(&r->st);
	chunk_scratch_free(&r->scratch);
	free(r->chunk_buf);
	free(r->io_buf);
	free(r->shard_buf);
	free(r->shard_rec);
	free(r->entropy);
	free(r->hdr);
	free(r->path);
	free(r);
}

enum gauss_status
gauss_reader_file_info(struct gauss_reader *r, struct gauss_file_info *info)
{
	if (r == NULL || info == NULL)
		return GAUSS_E_INVALID_ARG;
	memset(info, 0, sizeof(*info));
	info->format_version = r->fh.version;
	info->original_nbytes = r->foot.original_nbytes;
	info->compressed_nbytes = r->file_nbytes;
	info->header_nbytes = r->st.data_offset;
	info->tensor_count = r->st.tensor_count;
	for (size_t i = 0; i < r->idx.count; i++) {
		const struct fmt_segment *s = &r->idx.segments[i];

		/* records: chunks, or the shards of a lossy frame */
		info->chunk_count += s->shard_nbytes ?
			(s->original_nbytes + s->shard_nbytes - 1) /
			s->shard_nbytes :
			fmt_chunk_count(s->original_nbytes, r->fh.chunk_log2);
	}
	return GAUSS_OK;
}

size_t
gauss_reader_tensor_count(const struct gauss_reader *r)
{
	return r ? r->st.tensor_count : 0;
}

enum gauss_status
gauss_reader_tensor_info(struct gauss_reader *r, size_t index,
			 struct gauss_tensor_info *info)
{
	const struct st_tensor *t;
	uint64_t offset;

	if (r == NULL || info == NULL || index >= r->st.tensor_count)
		return GAUSS_E_INVALID_ARG;
	ctx_begin(r->ctx);
	t = &r->st.tensors[index];
	offset = r->st.data_offset + t->begin;
	memset(info, 0, sizeof(*info));
	info->name = t->name;
	info->dtype = t->dtype;
	info->ndim = t->ndim;
	info->shape = t->shape;
	info->element_count = t->element_count;
	info->offset = offset;
	info->nbytes = t->end - t->begin;
	info->codec = GAUSS_CODEC_STORED;
	info->exponent_entropy = -1;
	if (info->nbytes == 0)
		return GAUSS_OK;
	{
		const size_t si = segment_at(r, offset);
		const struct fmt_segment *s = &r->idx.segments[si];

		if (s->original_offset != offset ||
		    s->original_nbytes != info->nbytes) {
			/* not a segment of its own: count its share */
			info->stored_nbytes = info->nbytes;
			return GAUSS_OK;
		}
		info->codec = (enum gauss_codec)s->kind;	/* same numbers */
		info->stored_nbytes = s->frame_nbytes;
		if (fmt_kind_is_gmm(s->kind)) {
			info->gmm_k = s->gmm.k;
			info->gmm_scale = s->gmm.scale;
			info->max_abs_error = s->gmm.max_abs_error;
			info->rms_error = s->gmm.rms_error;
			info->value_std = s->gmm.std;
		} else if (s->kind >= FMT_KIND_EXP_BF16) {
			if (r->entropy[index] < -1) {
				double sum = 0;
				enum gauss_status st;

				st = walk_segment(r, si, 0, 0, NULL, &sum);
				if (st != GAUSS_OK)
					return err_prefix(&r->ctx->err, st,
							  "'%s': tensor '%s'",
							  r->path, t->name);
				r->entropy[index] =
					sum / (double)t->element_count;
			}
			info->exponent_entropy = r->entropy[index];
		}
	}
	return GAUSS_OK;
}

enum gauss_status
gauss_reader_find(struct gauss_reader *r, const char *name, size_t *index_ret)
{
	if (r == NULL || name == NULL || index_ret == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx_begin(r->ctx);
	for (size_t i = 0; i < r->st.tensor_count; i++) {
		if (strcmp(r->st.tensors[i].name, name) == 0) {
			*index_ret = i;
			return GAUSS_OK;
		}
	}
	return ctx_fail(r->ctx, GAUSS_E_NOT_FOUND, "'%s': no tensor named "
			"'%s'", r->path, name);
}

enum gauss_status
gauss_reader_read(struct gauss_reader *r, size_t index, uint64_t first,
		  uint64_t count, void *buf, size_t buf_nbytes)
{
	const struct st_tensor *t;
	unsigned es;
	enum gauss_status st;

	if (r == NULL || index >= r->st.tensor_count ||
	    (buf == NULL && count))
		return GAUSS_E_INVALID_ARG;
	ctx_begin(r->ctx);
	t = &r->st.tensors[index];
	es = st_dtype_size(t->dtype);
	if (first > t->element_count || count > t->element_count - first ||
	    count > buf_nbytes / es)
		return ctx_fail(r->ctx, GAUSS_E_INVALID_ARG, "tensor '%s': "
				"range or buffer does not fit", t->name);
	st = read_original(r, r->st.data_offset + t->begin + first * es,
			   count * es, buf);
	if (st != GAUSS_OK)
		err_prefix(&r->ctx->err, st, "'%s': tensor '%s'", r->path,
			   t->name);
	return st;
}

/*
 * The header of a safetensors file holding tensor t alone at offset 0, with
 * the original's __metadata__, padded with spaces to a multiple of 8 bytes
 * as the safetensors library writes it. Returns the text (malloc) or NULL.
 */
static char *
single_header(const struct gauss_reader *r, const struct st_tensor *t,
	      size_t *nbytes_ret)
{
	json_t *orig = json_loadb((const char *)r->hdr + 8,
				  (size_t)r->st.json_nbytes, 0, NULL);
	json_t *root = json_object(), *desc = json_object();
	json_t *shape = json_array(), *offs = json_array();
	json_t *meta = orig ? json_object_get(orig, "__metadata__") : NULL;
	char *text = NULL, *padded = NULL;
	size_t n;
	int bad = root == NULL || desc == NULL || shape == NULL || offs == NULL;

	for (unsigned d = 0; !bad && d < t->ndim; d++)
		bad |= json_array_append_new(shape,
			json_integer((json_int_t)t->shape[d]));
	if (!bad)
		bad = json_array_append_new(offs, json_integer(0)) ||
		      json_array_append_new(offs, json_integer((json_int_t)
							       (t->end -
								t->begin))) ||
		      json_object_set_new(desc, "dtype",
					  json_string(gauss_dtype_name(
						  t->dtype))) ||
		      json_object_set(desc, "shape", shape) ||
		      json_object_set(desc, "data_offsets", offs) ||
		      (meta && json_object_set(root, "__metadata__", meta)) ||
		      json_object_set(root, t->name, desc);
	if (!bad)
		text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(orig);
	json_decref(root);
	json_decref(desc);
	json_decref(shape);
	json_decref(offs);
	if (text == NULL)
		return NULL;
	n = strlen(text);
	padded = malloc(8 + n + 8);
	if (padded != NULL) {
		const size_t total = (n + 7) / 8 * 8;

		put_le64((uint8_t *)padded, total);
		memcpy(padded + 8, text, n);
		memset(padded + 8 + n, ' ', total - n);
		*nbytes_ret = 8 + total;
	}
	free(text);
	return padded;
}

/* Writes all of buf to the output; a message names the output. */
static enum gauss_status
extract_write(struct gauss_reader *r, int fd, const char *name,
	      const void *buf, size_t n)
{
	const ssize_t w = io_write_full(fd, buf, n);

	if (w < 0)
		return ctx_fail(r->ctx, GAUSS_E_IO, "cannot write '%s': %s",
				name, strerror((int)-w));
	return GAUSS_OK;
}

/* Streams tensor t (header unless raw, then its bytes) to fd. */
static enum gauss_status
extract_to(struct gauss_reader *r, const struct st_tensor *t, int raw,
	   int fd, const char *name)
{
	const uint64_t nbytes = t->end - t->begin;
	const size_t step = (size_t)1 << r->fh.block_log2;
	uint8_t *buf;
	enum gauss_status st = GAUSS_OK;

	if (!raw) {
		size_t hn = 0;
		char *hdr = single_header(r, t, &hn);

		if (hdr == NULL)
			return ctx_fail(r->ctx, GAUSS_E_NOMEM, "out of "
					"memory");
		st = extract_write(r, fd, name, hdr, hn);
		free(hdr);
		TRY(st);
	}
	buf = malloc(step);
	if (buf == NULL)
		return ctx_fail(r->ctx, GAUSS_E_NOMEM, "out of memory");
	for (uint64_t off = 0; st == GAUSS_OK && off < nbytes; off += step) {
		const size_t n = (size_t)MIN((uint64_t)step, nbytes - off);

		st = read_original(r, r->st.data_offset + t->begin + off, n,
				   buf);
		if (st != GAUSS_OK)
			err_prefix(&r->ctx->err, st, "'%s': tensor '%s'",
				   r->path, t->name);
		else
			st = extract_write(r, fd, name, buf, n);
	}
	free(buf);
	return st;
}

enum gauss_status
gauss_reader_extract(struct gauss_reader *r, size_t index,
		     const char *out_path, int raw)
{
	struct outfile of;
	enum gauss_status st;

	if (r == NULL || index >= r->st.tensor_count || out_path == NULL)
		return GAUSS_E_INVALID_ARG;
	ctx_begin(r->ctx);
	if (strcmp(out_path, "-") == 0) {
		st = extract_to(r, &r->st.tensors[index], raw, STDOUT_FILENO,
				"standard output");
		return st;
	}
	TRY(outfile_open(r->ctx, out_path, &r->sb, &of));
	st = extract_to(r, &r->st.tensors[index], raw, of.fd, out_path);
	{
		const enum gauss_status cst = outfile_close(r->ctx, &of,
							    st == GAUSS_OK);

		return st != GAUSS_OK ? st : cst;
	}
}
