/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c: compress and decompress, block by block, chunk by chunk.
 *
 * Compress reads the original in order: the safetensors header becomes the
 * first segment (coded as bytes), then each tensor in offset order and each
 * gap between tensors becomes a segment; a segment is cut into blocks (one
 * frequency table each) and blocks into chunks (one record each). Memory is
 * one block of input and its coded output, whatever the file size.
 *
 * Decompress reads the frames sequentially (so a pipe works too), decodes
 * each chunk into a chunk buffer, checks its XXH3-64, and writes it; at the
 * END frame it reads the index and the footer, checks that they describe
 * what was decoded, and checks the XXH3-128 of the whole original.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "chunk.h"
#include "common.h"
#include "endian.h"
#include "format.h"
#include "io.h"
#include "pipeline.h"
#include "safetensors.h"
#include "split.h"
#include "banned.h"

void
pipeline_opts_default(struct pipeline_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->chunk_log2 = FMT_DEFAULT_CHUNK_LOG2;
	o->block_log2 = FMT_DEFAULT_BLOCK_LOG2;
}

/* ---- output: a buffered sequential writer that counts its offset ---- */

struct sink {
	int fd;			/* -1: discard (verify) */
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint64_t offset;	/* bytes accepted so far */
};

static enum gauss_status
sink_flush(struct sink *s, struct errbuf *eb)
{
	if (s->fd >= 0 && s->len) {
		const ssize_t r = io_write_full(s->fd, s->buf, s->len);

		if (r < 0)
			return err_setf(eb, GAUSS_E_IO, "write failed: %s",
					strerror((int)-r));
	}
	s->len = 0;
	return GAUSS_OK;
}

static enum gauss_status
sink_write(struct sink *s, const void *p, size_t n, struct errbuf *eb)
{
	s->offset += n;
	if (s->fd < 0)
		return GAUSS_OK;
	if (s->len + n > s->cap) {
		TRY(sink_flush(s, eb));
		if (n >= s->cap) {
			const ssize_t r = io_write_full(s->fd, p, n);

			if (r < 0)
				return err_setf(eb, GAUSS_E_IO,
						"write failed: %s",
						strerror((int)-r));
			return GAUSS_OK;
		}
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return GAUSS_OK;
}

/* ---- the segment list that becomes (or is checked against) the index --- */

struct seglist {
	struct fmt_segment *v;
	size_t count;
	size_t cap;
};

static enum gauss_status
seglist_add(struct seglist *l, enum fmt_kind kind, uint64_t original_nbytes,
	    uint64_t frame_nbytes)
{
	if (l->count == l->cap) {
		const size_t cap = l->cap ? 2 * l->cap : 64;
		struct fmt_segment *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return GAUSS_E_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->count++] = (struct fmt_segment){
		.kind = kind,
		.original_nbytes = original_nbytes,
		.frame_nbytes = frame_nbytes,
	};
	return GAUSS_OK;
}

static uint8_t *
index_serialize(const struct seglist *l, size_t *nbytes_ret)
{
	uint8_t *out = malloc(VARINT_MAX_LEN * (1 + 2 * l->count) + l->count);
	size_t n;

	if (out == NULL)
		return NULL;
	n = varint_put(out, l->count);
	for (size_t i = 0; i < l->count; i++) {
		out[n++] = (uint8_t)l->v[i].kind;
		n += varint_put(out + n, l->v[i].original_nbytes);
		n += varint_put(out + n, l->v[i].frame_nbytes);
	}
	*nbytes_ret = n;
	return out;
}

/* ---- compress ---- */

struct cstate {
	const struct pipeline_opts *o;
	int in_fd;
	uint64_t in_nbytes;
	struct sink out;
	XXH3_state_t *hash;
	struct seglist segs;
	uint8_t *block_buf;	/* one block of input */
	uint8_t *frame_buf;	/* its table and chunk records */
	struct chunk_scratch scratch;
	uint64_t done_nbytes;
};

static enum fmt_kind
kind_of_dtype(enum gauss_dtype dtype)
{
	switch (dtype) {
	case GAUSS_DTYPE_BF16:
		return FMT_KIND_EXP_BF16;
	case GAUSS_DTYPE_F16:
		return FMT_KIND_EXP_F16;
	case GAUSS_DTYPE_F32:
		return FMT_KIND_EXP_F32;
	default:
		return FMT_KIND_STORED;
	}
}

/* Codes one block (all its chunks) into cs->frame_buf; returns its size. */
static size_t
code_block(struct cstate *cs, enum fmt_kind kind, const uint8_t *src,
	   size_t nbytes)
{
	const size_t chunk_nbytes = (size_t)1 << cs->o->chunk_log2;
	struct rans_table t;
	size_t len = 0;

	if (fmt_kind_has_table(kind)) {
		uint64_t counts[256] = { 0 };

		split_count(kind, src, nbytes / split_elem_nbytes(kind),
			    counts);
		rans_table_normalize(counts, &t);
		len = rans_table_write(&t, cs->frame_buf);
	}
	for (size_t off = 0; off < nbytes; off += chunk_nbytes) {
		const size_t cn = MIN(chunk_nbytes, nbytes - off);

		len += chunk_encode(kind, &t, src + off, cn,
				    cs->frame_buf + len, &cs->scratch);
	}
	return len;
}

static size_t
stored_block_nbytes(const struct cstate *cs, size_t nbytes)
{
	const size_t chunk_nbytes = (size_t)1 << cs->o->chunk_log2;
	size_t len = 0;

	for (size_t off = 0; off < nbytes; off += chunk_nbytes) {
		const size_t cn = MIN(chunk_nbytes, nbytes - off);

		len += varint_len(((uint64_t)cn << 1) | 1) + cn +
		       FMT_CHECKSUM_NBYTES;
	}
	return len;
}

/*
 * Emits one segment of the original, [offset, offset + nbytes), as a frame.
 * mem holds the bytes when the caller has them already (the header).
 */
static enum gauss_status
emit_segment(struct cstate *cs, enum fmt_kind kind, uint64_t offset,
	     uint64_t nbytes, const uint8_t *mem, struct errbuf *eb)
{
	const uint64_t block_nbytes = (uint64_t)1 << cs->o->block_log2;
	const uint64_t frame_start = cs->out.offset;

	for (uint64_t off = 0; off < nbytes; off += block_nbytes) {
		const size_t bn = (size_t)MIN(block_nbytes, nbytes - off);
		const uint8_t *src = mem ? mem + off : cs->block_buf;
		size_t len;

		if (mem == NULL) {
			const ssize_t r = io_pread_full(cs->in_fd,
							cs->block_buf, bn,
							offset + off);

			if (r < 0)
				return err_setf(eb, GAUSS_E_IO, "read failed: "
						"%s", strerror((int)-r));
			if ((size_t)r != bn)
				return err_setf(eb, GAUSS_E_IO, "file shrank "
						"while being read");
		}
		XXH3_128bits_update(cs->hash, src, bn);
		len = code_block(cs, kind, src, bn);
		if (off == 0 && bn == nbytes && kind != FMT_KIND_STORED &&
		    len >= stored_block_nbytes(cs, bn)) {
			/* coding does not pay for this segment: store it */
			kind = FMT_KIND_STORED;
			len = code_block(cs, kind, src, bn);
		}
		if (off == 0) {
			uint8_t head[1 + VARINT_MAX_LEN];
			size_t hn = 1;

			head[0] = (uint8_t)kind;
			hn += varint_put(head + 1, nbytes);
			TRY(sink_write(&cs->out, head, hn, eb));
		}
		TRY(sink_write(&cs->out, cs->frame_buf, len, eb));
		cs->done_nbytes += bn;
		if (cs->o->progress &&
		    cs->o->progress(cs->o->progress_user, cs->done_nbytes,
				    cs->in_nbytes, cs->out.offset))
			return err_setf(eb, GAUSS_E_INTERRUPTED,
					"stopped by the caller");
	}
	return seglist_add(&cs->segs, kind, nbytes,
			   cs->out.offset - frame_start);
}

static enum gauss_status
compress_body(struct cstate *cs, struct errbuf *eb)
{
	uint8_t prefix[8], head[FMT_HEADER_NBYTES];
	uint8_t *hdr_bytes = NULL;
	struct st_header st = { 0 };
	struct fmt_header fh = {
		.version = FMT_VERSION,
		.chunk_log2 = cs->o->chunk_log2,
		.block_log2 = cs->o->block_log2,
	};
	uint64_t json_nbytes, pos;
	enum gauss_status st_ret;
	ssize_t r;

	r = io_pread_full(cs->in_fd, prefix, 8, 0);
	if (r < 0)
		return err_setf(eb, GAUSS_E_IO, "read failed: %s",
				strerror((int)-r));
	if (r < 8)
		return err_setf(eb, GAUSS_E_BAD_INPUT, "file is too short "
				"for a safetensors header (%zd bytes)", r);
	TRY(st_check_prefix(prefix, cs->in_nbytes, &json_nbytes, eb));
	hdr_bytes = malloc(8 + json_nbytes);
	if (hdr_bytes == NULL)
		return GAUSS_E_NOMEM;
	memcpy(hdr_bytes, prefix, 8);
	r = io_pread_full(cs->in_fd, hdr_bytes + 8, json_nbytes, 8);
	if (r < 0 || (uint64_t)r != json_nbytes) {
		st_ret = err_setf(eb, GAUSS_E_IO, "read failed: %s",
				  r < 0 ? strerror((int)-r) : "file shrank");
		goto out;
	}
	st_ret = st_parse(hdr_bytes + 8, json_nbytes, cs->in_nbytes, &st, eb);
	if (st_ret != GAUSS_OK)
		goto out;

	fmt_header_write(&fh, head);
	st_ret = sink_write(&cs->out, head, sizeof(head), eb);
	if (st_ret != GAUSS_OK)
		goto out;
	st_ret = emit_segment(cs, FMT_KIND_BYTES, 0, 8 + json_nbytes,
			      hdr_bytes, eb);
	if (st_ret != GAUSS_OK)
		goto out;
	pos = 0;
	for (size_t k = 0; k < st.tensor_count; k++) {
		const struct st_tensor *t = &st.tensors[st.by_offset[k]];

		if (t->end == t->begin)
			continue;
		if (t->begin > pos) {
			st_ret = emit_segment(cs, FMT_KIND_STORED,
					      st.data_offset + pos,
					      t->begin - pos, NULL, eb);
			if (st_ret != GAUSS_OK)
				goto out;
		}
		st_ret = emit_segment(cs, kind_of_dtype(t->dtype),
				      st.data_offset + t->begin,
				      t->end - t->begin, NULL, eb);
		if (st_ret != GAUSS_OK) {
			err_prefix(eb, st_ret, "tensor '%s'", t->name);
			goto out;
		}
		pos = t->end;
	}
	/*
	 * Zero-size tensors may sit past the last tensor with data: what lies
	 * between is a gap like any other.
	 */
	if (pos < st.data_nbytes)
		st_ret = emit_segment(cs, FMT_KIND_STORED, st.data_offset + pos,
				      st.data_nbytes - pos, NULL, eb);
out:
	st_header_free(&st);
	free(hdr_bytes);
	return st_ret;
}

static enum gauss_status
compress_finish(struct cstate *cs, struct errbuf *eb)
{
	const uint8_t end = FMT_KIND_END;
	struct fmt_footer f = { 0 };
	uint8_t foot[FMT_FOOTER_NBYTES];
	XXH128_canonical_t canon;
	uint8_t *index;
	size_t index_nbytes;
	enum gauss_status st;

	TRY(sink_write(&cs->out, &end, 1, eb));
	index = index_serialize(&cs->segs, &index_nbytes);
	if (index == NULL)
		return GAUSS_E_NOMEM;
	f.index_offset = cs->out.offset;
	f.index_nbytes = index_nbytes;
	f.original_nbytes = cs->in_nbytes;
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(cs->hash));
	memcpy(f.original_hash, canon.digest, 16);
	f.index_hash = XXH3_64bits(index, index_nbytes);
	st = sink_write(&cs->out, index, index_nbytes, eb);
	free(index);
	TRY(st);
	fmt_footer_write(&f, foot);
	TRY(sink_write(&cs->out, foot, sizeof(foot), eb));
	return sink_flush(&cs->out, eb);
}

enum gauss_status
pipeline_compress(const struct pipeline_opts *o, int in_fd,
		  uint64_t in_nbytes, int out_fd, struct errbuf *eb)
{
	const size_t chunk_nbytes = (size_t)1 << o->chunk_log2;
	const size_t block_nbytes = (size_t)1 << o->block_log2;
	const size_t chunks_per_block = block_nbytes / chunk_nbytes;
	struct cstate cs = {
		.o = o,
		.in_fd = in_fd,
		.in_nbytes = in_nbytes,
		.out = { .fd = out_fd, .cap = (size_t)1 << 18 },
	};
	enum gauss_status st = GAUSS_E_NOMEM;

	cs.out.buf = malloc(cs.out.cap);
	cs.hash = XXH3_createState();
	cs.block_buf = malloc(block_nbytes);
	cs.frame_buf = malloc(RANS_TABLE_MAX_NBYTES +
			      chunks_per_block *
				      chunk_record_bound(chunk_nbytes));
	if (cs.out.buf == NULL || cs.hash == NULL || cs.block_buf == NULL ||
	    cs.frame_buf == NULL ||
	    chunk_scratch_init(&cs.scratch, chunk_nbytes) != GAUSS_OK)
		goto out;
	XXH3_128bits_reset(cs.hash);
	st = compress_body(&cs, eb);
	if (st == GAUSS_OK)
		st = compress_finish(&cs, eb);
out:
	chunk_scratch_free(&cs.scratch);
	free(cs.frame_buf);
	free(cs.block_buf);
	XXH3_freeState(cs.hash);
	free(cs.out.buf);
	free(cs.segs.v);
	return st;
}

/* ---- decompress ---- */

/* A sequential reader that can show the next n bytes contiguously. */
struct source {
	int fd;
	uint8_t *buf;
	size_t cap;
	size_t pos;
	size_t len;
	uint64_t offset;	/* file offset of buf[pos] */
	bool eof;
};

/* Makes up to want bytes available at buf + pos; returns how many are. */
static enum gauss_status
source_fill(struct source *s, size_t want, size_t *avail_ret,
	    struct errbuf *eb)
{
	if (s->len - s->pos < want && !s->eof) {
		if (s->cap < want) {
			uint8_t *b = malloc(want);

			if (b == NULL)
				return GAUSS_E_NOMEM;
			memcpy(b, s->buf + s->pos, s->len - s->pos);
			free(s->buf);
			s->buf = b;
			s->cap = want;
		} else {
			memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		}
		s->len -= s->pos;
		s->pos = 0;
		while (s->len < want && !s->eof) {
			const size_t ask = s->cap - s->len;
			const ssize_t r = io_read_full(s->fd, s->buf + s->len,
						       ask);

			if (r < 0)
				return err_setf(eb, GAUSS_E_IO, "read failed: "
						"%s", strerror((int)-r));
			s->len += (size_t)r;
			if ((size_t)r < ask)
				s->eof = true;
		}
	}
	*avail_ret = s->len - s->pos;
	return GAUSS_OK;
}

static void
source_skip(struct source *s, size_t n)
{
	s->pos += n;
	s->offset += n;
}

struct dstate {
	const struct pipeline_opts *o;
	struct source in;
	struct sink out;
	XXH3_state_t *hash;
	struct seglist segs;
	struct fmt_header fh;
	uint8_t *chunk_buf;
	struct chunk_scratch scratch;
	struct rans_dtable dtable;
	uint64_t original_nbytes;	/* decoded so far */
	uint64_t expected_nbytes;	/* from the footer, or UINT64_MAX */
	struct st_header st;		/* parsed header, for messages */
	bool have_st;
};

/* Names the segment at [offset, offset + nbytes) for a message. */
static void
name_segment(const struct dstate *ds, uint64_t offset, uint64_t nbytes,
	     char *out, size_t out_nbytes)
{
	if (offset == 0) {
		snprintf(out, out_nbytes, "safetensors header");
		return;
	}
	if (ds->have_st) {
		for (size_t i = 0; i < ds->st.tensor_count; i++) {
			const struct st_tensor *t = &ds->st.tensors[i];

			if (ds->st.data_offset + t->begin == offset &&
			    t->end - t->begin == nbytes) {
				snprintf(out, out_nbytes, "tensor '%s'",
					 t->name);
				return;
			}
		}
	}
	snprintf(out, out_nbytes, "bytes %llu to %llu of the original",
		 (unsigned long long)offset,
		 (unsigned long long)(offset + nbytes));
}

/* After the header segment is decoded: parse it to name tensors. */
static void
learn_names(struct dstate *ds, const uint8_t *hdr, size_t nbytes)
{
	uint64_t json_nbytes;

	if (ds->expected_nbytes == UINT64_MAX || nbytes < 8 ||
	    st_check_prefix(hdr, ds->expected_nbytes, &json_nbytes, NULL) ||
	    json_nbytes + 8 != nbytes)
		return;
	ds->have_st = st_parse(hdr + 8, (size_t)json_nbytes,
			       ds->expected_nbytes, &ds->st, NULL) == GAUSS_OK;
}

static enum gauss_status
decode_block(struct dstate *ds, enum fmt_kind kind, uint64_t bn,
	     uint64_t *chunk_index, uint8_t *hdr_copy, struct errbuf *eb)
{
	const size_t chunk_nbytes = (size_t)1 << ds->fh.chunk_log2;
	size_t avail;

	if (fmt_kind_has_table(kind)) {
		struct rans_table t;
		struct cursor c;

		TRY(source_fill(&ds->in, RANS_TABLE_MAX_NBYTES, &avail, eb));
		cursor_init(&c, ds->in.buf + ds->in.pos, avail);
		TRY(chunk_table_read(kind, &c, &t, eb));
		source_skip(&ds->in, (size_t)(c.p - (ds->in.buf + ds->in.pos)));
		rans_dtable_build(&t, &ds->dtable);
	}
	for (uint64_t coff = 0; coff < bn; coff += chunk_nbytes) {
		const size_t cn = (size_t)MIN(chunk_nbytes, bn - coff);
		const uint8_t *payload;
		size_t payload_nbytes;
		uint64_t checksum;
		struct cursor c;
		bool stored;
		enum gauss_status st;

		TRY(source_fill(&ds->in, chunk_record_bound(cn), &avail, eb));
		cursor_init(&c, ds->in.buf + ds->in.pos, avail);
		st = chunk_parse(&c, cn, &payload, &payload_nbytes, &stored,
				 &checksum, eb);
		if (st == GAUSS_OK)
			st = chunk_decode(kind, &ds->dtable, payload,
					  payload_nbytes, stored, checksum,
					  ds->chunk_buf, cn, &ds->scratch, eb);
		if (st != GAUSS_OK)
			return err_prefix(eb, st, "chunk %llu",
					  (unsigned long long)*chunk_index);
		source_skip(&ds->in, (size_t)(c.p - (ds->in.buf + ds->in.pos)));
		if (hdr_copy)
			memcpy(hdr_copy + coff, ds->chunk_buf, cn);
		XXH3_128bits_update(ds->hash, ds->chunk_buf, cn);
		TRY(sink_write(&ds->out, ds->chunk_buf, cn, eb));
		(*chunk_index)++;
	}
	return GAUSS_OK;
}

static enum gauss_status
decode_segment(struct dstate *ds, enum fmt_kind kind, uint64_t nbytes,
	       struct errbuf *eb)
{
	const uint64_t block_nbytes = (uint64_t)1 << ds->fh.block_log2;
	uint8_t *hdr_copy = NULL;
	uint64_t chunk_index = 0;
	enum gauss_status st = GAUSS_OK;

	if (kind != FMT_KIND_STORED &&
	    nbytes % split_elem_nbytes(kind) != 0)
		return err_setf(eb, GAUSS_E_CORRUPT, "%llu bytes are not a "
				"whole number of %s elements",
				(unsigned long long)nbytes,
				fmt_kind_name(kind));
	/* keep the first segment, the safetensors header, to name tensors */
	if (ds->original_nbytes == 0 && nbytes <= 8 + ST_MAX_HEADER_NBYTES) {
		hdr_copy = malloc((size_t)nbytes);
		if (hdr_copy == NULL)
			return GAUSS_E_NOMEM;
	}
	for (uint64_t off = 0; off < nbytes && st == GAUSS_OK;
	     off += block_nbytes) {
		const uint64_t bn = MIN(block_nbytes, nbytes - off);

		st = decode_block(ds, kind, bn, &chunk_index,
				  hdr_copy ? hdr_copy + off : NULL, eb);
		if (st == GAUSS_OK && ds->o->progress &&
		    ds->o->progress(ds->o->progress_user,
				    ds->original_nbytes + off + bn,
				    ds->expected_nbytes == UINT64_MAX ?
					    0 : ds->expected_nbytes,
				    ds->in.offset))
			st = err_setf(eb, GAUSS_E_INTERRUPTED,
				      "stopped by the caller");
	}
	if (st == GAUSS_OK && hdr_copy)
		learn_names(ds, hdr_copy, (size_t)nbytes);
	free(hdr_copy);
	return st;
}

static enum gauss_status
decompress_frames(struct dstate *ds, struct errbuf *eb)
{
	size_t avail;

	for (;;) {
		const uint64_t frame_start = ds->in.offset;
		uint64_t nbytes;
		struct cursor c;
		uint8_t kind;
		enum gauss_status st;
		char what[160];

		TRY(source_fill(&ds->in, 1 + VARINT_MAX_LEN, &avail, eb));
		cursor_init(&c, ds->in.buf + ds->in.pos, avail);
		if (!cursor_u8(&c, &kind))
			return err_setf(eb, GAUSS_E_CORRUPT, "file is "
					"truncated after %llu bytes",
					(unsigned long long)ds->in.offset);
		if (kind == FMT_KIND_END) {
			source_skip(&ds->in, 1);
			return GAUSS_OK;
		}
		if (!fmt_kind_known(kind))
			return err_setf(eb, GAUSS_E_CORRUPT, "unknown frame "
					"kind %u at byte %llu", kind,
					(unsigned long long)frame_start);
		if (!cursor_varint(&c, &nbytes) || nbytes == 0 ||
		    nbytes > ds->expected_nbytes - ds->original_nbytes)
			return err_setf(eb, GAUSS_E_CORRUPT, "frame at byte "
					"%llu has an invalid size",
					(unsigned long long)frame_start);
		source_skip(&ds->in, (size_t)(c.p - (ds->in.buf + ds->in.pos)));
		st = decode_segment(ds, (enum fmt_kind)kind, nbytes, eb);
		if (st != GAUSS_OK) {
			name_segment(ds, ds->original_nbytes, nbytes, what,
				     sizeof(what));
			return err_prefix(eb, st, "%s", what);
		}
		ds->original_nbytes += nbytes;
		TRY(seglist_add(&ds->segs, (enum fmt_kind)kind, nbytes,
				ds->in.offset - frame_start));
	}
}

/* After END: the index and the footer must describe what was decoded. */
static enum gauss_status
decompress_trailer(struct dstate *ds, struct errbuf *eb)
{
	const uint64_t index_offset = ds->in.offset;
	/* an index entry takes at most 21 bytes */
	const size_t most = VARINT_MAX_LEN + 21 * ds->segs.count +
			    FMT_FOOTER_NBYTES;
	struct fmt_footer f;
	struct fmt_index idx;
	XXH128_canonical_t canon;
	const uint8_t *tail;
	size_t avail;
	enum gauss_status st;

	TRY(source_fill(&ds->in, most + 1, &avail, eb));
	if (avail > most)
		return err_setf(eb, GAUSS_E_CORRUPT, "unexpected bytes after "
				"the last frame");
	if (avail < FMT_FOOTER_NBYTES)
		return err_setf(eb, GAUSS_E_CORRUPT, "file is truncated: the "
				"footer is missing");
	tail = ds->in.buf + ds->in.pos;
	TRY(fmt_footer_read(tail + avail - FMT_FOOTER_NBYTES,
			    index_offset + avail, &f, eb));
	if (f.index_offset != index_offset)
		return err_setf(eb, GAUSS_E_CORRUPT, "footer does not match "
				"the frames");
	if (XXH3_64bits(tail, (size_t)f.index_nbytes) != f.index_hash)
		return err_setf(eb, GAUSS_E_CORRUPT, "index fails its check");
	TRY(fmt_index_parse(tail, (size_t)f.index_nbytes, &f, &idx, eb));
	st = GAUSS_OK;
	if (idx.count != ds->segs.count)
		st = GAUSS_E_CORRUPT;
	for (size_t i = 0; st == GAUSS_OK && i < idx.count; i++)
		if (idx.segments[i].kind != ds->segs.v[i].kind ||
		    idx.segments[i].original_nbytes !=
			    ds->segs.v[i].original_nbytes ||
		    idx.segments[i].frame_nbytes != ds->segs.v[i].frame_nbytes)
			st = GAUSS_E_CORRUPT;
	fmt_index_free(&idx);
	if (st != GAUSS_OK)
		return err_setf(eb, st, "index does not match the frames");
	if (f.original_nbytes != ds->original_nbytes)
		return err_setf(eb, GAUSS_E_CORRUPT, "footer declares %llu "
				"original bytes but the frames hold %llu",
				(unsigned long long)f.original_nbytes,
				(unsigned long long)ds->original_nbytes);
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(ds->hash));
	if (memcmp(canon.digest, f.original_hash, 16) != 0)
		return err_setf(eb, GAUSS_E_CHECKSUM, "checksum of the whole "
				"original does not match");
	source_skip(&ds->in, avail);
	return GAUSS_OK;
}

/* With a seekable input, the footer tells the original size up front. */
static void
peek_footer(struct dstate *ds, uint64_t in_nbytes)
{
	uint8_t foot[FMT_FOOTER_NBYTES];
	struct fmt_footer f;

	if (in_nbytes == UINT64_MAX || in_nbytes < FMT_FOOTER_NBYTES ||
	    io_pread_full(ds->in.fd, foot, sizeof(foot),
			  in_nbytes - FMT_FOOTER_NBYTES) != sizeof(foot) ||
	    fmt_footer_read(foot, in_nbytes, &f, NULL) != GAUSS_OK)
		return;
	ds->expected_nbytes = f.original_nbytes;
}

enum gauss_status
pipeline_decompress(const struct pipeline_opts *o, int in_fd,
		    uint64_t in_nbytes, int out_fd,
		    uint64_t *original_nbytes_ret, struct errbuf *eb)
{
	struct dstate ds = {
		.o = o,
		.in = { .fd = in_fd, .cap = (size_t)1 << 16 },
		.out = { .fd = out_fd, .cap = (size_t)1 << 18 },
		.expected_nbytes = UINT64_MAX,
	};
	enum gauss_status st = GAUSS_E_NOMEM;
	size_t avail;

	ds.in.buf = malloc(ds.in.cap);
	ds.out.buf = malloc(ds.out.cap);
	ds.hash = XXH3_createState();
	if (ds.in.buf == NULL || ds.out.buf == NULL || ds.hash == NULL)
		goto out;
	XXH3_128bits_reset(ds.hash);
	peek_footer(&ds, in_nbytes);
	st = source_fill(&ds.in, FMT_HEADER_NBYTES, &avail, eb);
	if (st != GAUSS_OK)
		goto out;
	st = fmt_header_read(ds.in.buf, avail, &ds.fh, eb);
	if (st != GAUSS_OK)
		goto out;
	source_skip(&ds.in, FMT_HEADER_NBYTES);
	ds.chunk_buf = malloc((size_t)1 << ds.fh.chunk_log2);
	if (ds.chunk_buf == NULL) {
		st = GAUSS_E_NOMEM;
		goto out;
	}
	st = chunk_scratch_init(&ds.scratch, (size_t)1 << ds.fh.chunk_log2);
	if (st != GAUSS_OK)
		goto out;
	st = decompress_frames(&ds, eb);
	if (st == GAUSS_OK)
		st = decompress_trailer(&ds, eb);
	if (st == GAUSS_OK)
		st = sink_flush(&ds.out, eb);
	if (st == GAUSS_OK && original_nbytes_ret)
		*original_nbytes_ret = ds.original_nbytes;
out:
	st_header_free(&ds.st);
	chunk_scratch_free(&ds.scratch);
	free(ds.chunk_buf);
	XXH3_freeState(ds.hash);
	free(ds.in.buf);
	free(ds.out.buf);
	free(ds.segs.v);
	return st;
}
