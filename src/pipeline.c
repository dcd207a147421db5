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
#include "cpu.h"
#include "pool.h"
#include "safetensors.h"
#include "split.h"
#include "banned.h"

void
pipeline_opts_default(struct pipeline_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->chunk_log2 = FMT_DEFAULT_CHUNK_LOG2;
	o->block_log2 = FMT_DEFAULT_BLOCK_LOG2;
	lossy_opts_default(&o->lossy);
}

/* ---- output: a buffered sequential writer that counts its offset ---- */

struct sink {
	struct io_stream *io;	/* NULL and mem NULL: discard (verify) */
	const char *name;	/* of the output, for messages (or NULL) */
	uint8_t *mem;		/* write into memory */
	size_t mem_cap;
	uint64_t offset;	/* bytes accepted so far */
};

/* A failed write names the output: the input is named further up. */
static enum gauss_status
sink_failed(const struct sink *s, enum gauss_status st, struct errbuf *eb)
{
	return s->name ? err_prefix(eb, st, "'%s'", s->name) : st;
}

static enum gauss_status
sink_flush(struct sink *s, struct errbuf *eb)
{
	const enum gauss_status st = s->io ? io_stream_flush(s->io, eb) :
					     GAUSS_OK;

	return st == GAUSS_OK ? st : sink_failed(s, st, eb);
}

static enum gauss_status
sink_write(struct sink *s, const void *p, size_t n, struct errbuf *eb)
{
	if (s->mem != NULL) {
		if (n > s->mem_cap || s->offset > s->mem_cap - n)
			return err_setf(eb, GAUSS_E_TOO_LARGE, "output does "
					"not fit in %zu bytes", s->mem_cap);
		memcpy(s->mem + s->offset, p, n);
		s->offset += n;
		return GAUSS_OK;
	}
	s->offset += n;
	if (s->io) {
		const enum gauss_status st = io_stream_write(s->io, p, n, eb);

		if (st != GAUSS_OK)
			return sink_failed(s, st, eb);
	}
	return GAUSS_OK;
}

static enum gauss_status
sink_init(struct sink *s, const struct pipeline_opts *o,
	  const struct pipe_out *out, struct errbuf *eb)
{
	memset(s, 0, sizeof(*s));
	s->name = out->name;
	s->mem = out->mem;
	s->mem_cap = out->mem_cap;
	if (s->mem == NULL && out->fd >= 0)
		return io_stream_open(&s->io, o->io, IO_WRITE, out->fd,
				      o->direct, eb);
	return GAUSS_OK;
}

static unsigned
resolve_threads(const struct pipeline_opts *o)
{
	return o->threads ? MIN(o->threads, 1024u) : pool_cpu_count();
}

/*
 * How many original bytes a job takes: about half of each thread's share
 * of the `total` bytes left, between one chunk and one block, so that a
 * small file still gives every thread work, a large one few, big jobs, and
 * the last jobs are small enough for the threads to end together. It
 * shapes jobs only, never the bytes written.
 */
static uint64_t
job_target(unsigned chunk_log2, unsigned block_log2, uint64_t total,
	   unsigned threads)
{
	const uint64_t lo = (uint64_t)1 << chunk_log2;
	const uint64_t hi = (uint64_t)1 << block_log2;
	const uint64_t t = total == UINT64_MAX ? hi : total / (2 * threads);

	return MAX(lo, MIN(hi, t));
}

/* Per-worker scratch, from the context's cache of buffers. */
/* The kernels (and checksums) of a run: o's, or the best level. */
static const struct rans_kernels *
kernels_of(const struct pipeline_opts *o)
{
	const struct rans_kernels *k = o->kernels;

	if (k == NULL && rans_kernels_select(&k, NULL) != GAUSS_OK)
		k = rans_kernels_of(CPU_SCALAR);
	return k;
}

static enum gauss_status
scratches_init(const struct pipeline_opts *o, struct chunk_scratch **sv_ret,
	       unsigned n, size_t nbytes)
{
	struct chunk_scratch *sv = calloc(n, sizeof(*sv));
	const struct rans_kernels *k = kernels_of(o);

	*sv_ret = sv;
	if (sv == NULL)
		return GAUSS_E_NOMEM;
	for (unsigned i = 0; i < n; i++) {
		/* raw planes never exceed the original; +8 for f16 packing */
		sv[i].syms = pool_alloc(o->cache, nbytes + 8);
		sv[i].raw = pool_alloc(o->cache, nbytes + 8);
		sv[i].etable = pool_alloc(o->cache, sizeof(*sv[i].etable));
		/* a chunk's elements outside its zero runs */
		sv[i].zbuf = pool_alloc(o->cache, nbytes);
		sv[i].cap_nbytes = nbytes;
		sv[i].kernels = k;
		if (i < o->gmm_cache_n) {
			/* borrowed for the call: given back by scratches_free */
			sv[i].gmm = o->gmm_cache[i];
			o->gmm_cache[i] = NULL;
		}
		if (o->check_blocks) {
			sv[i].dtable = pool_alloc(o->cache,
						  sizeof(*sv[i].dtable));
			sv[i].check = pool_alloc(o->cache, nbytes);
			if (sv[i].dtable == NULL || sv[i].check == NULL)
				return GAUSS_E_NOMEM;
		}
		if (sv[i].syms == NULL || sv[i].raw == NULL ||
		    sv[i].etable == NULL || sv[i].zbuf == NULL)
			return GAUSS_E_NOMEM;
	}
	return GAUSS_OK;
}

static void
scratches_free(const struct pipeline_opts *o, struct chunk_scratch *sv,
	       unsigned n)
{
	if (sv == NULL)
		return;
	for (unsigned i = 0; i < n; i++) {
		pool_free(o->cache, sv[i].syms);
		pool_free(o->cache, sv[i].raw);
		pool_free(o->cache, sv[i].etable);
		pool_free(o->cache, sv[i].dtable);
		pool_free(o->cache, sv[i].check);
		free(sv[i].zruns);
		pool_free(o->cache, sv[i].zbuf);
		if (i < o->gmm_cache_n && o->gmm_cache[i] == NULL)
			o->gmm_cache[i] = sv[i].gmm;
		else
			gmm_scratch_free(sv[i].gmm);
	}
	free(sv);
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
	uint8_t *out = malloc(VARINT_MAX_LEN * (1 + 2 * l->count) +
			      l->count * (1 + FMT_GMM_STATS_NBYTES));
	size_t n;

	if (out == NULL)
		return NULL;
	n = varint_put(out, l->count);
	for (size_t i = 0; i < l->count; i++) {
		out[n++] = (uint8_t)l->v[i].kind;
		n += varint_put(out + n, l->v[i].original_nbytes);
		n += varint_put(out + n, l->v[i].frame_nbytes);
		if (fmt_kind_is_gmm(l->v[i].kind))
			n += fmt_gmm_stats_write(&l->v[i].gmm, out + n);
	}
	*nbytes_ret = n;
	return out;
}

/*
 * A sequential reader that can show the next n bytes contiguously: over a
 * file descriptor with a buffer, or over memory without copying.
 */
struct source {
	struct io_stream *io;
	const uint8_t *mem;	/* the whole input, when in memory */
	uint8_t *buf;
	size_t cap;
	size_t pos;
	size_t len;
	uint64_t offset;	/* input offset of the next byte */
	bool eof;
	bool eof_checked;	/* compress: the end was checked */
};

static const uint8_t *
source_peek(const struct source *s)
{
	return (s->mem ? s->mem : s->buf) + s->pos;
}

/* Makes up to want bytes available at source_peek(); returns how many are. */
static enum gauss_status
source_fill(struct source *s, size_t want, size_t *avail_ret,
	    struct errbuf *eb)
{
	if (s->mem == NULL && s->len - s->pos < want && !s->eof) {
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
			size_t got = 0;

			TRY(io_stream_read(s->io, s->buf + s->len, ask, &got,
					   eb));
			s->len += got;
			if (got < ask)
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

/*
 * Takes the next n bytes: a pointer into the input when it is in memory,
 * else a copy into dst (read straight from the file past what is
 * buffered). Returns NULL when the input ends first.
 */
static const uint8_t *
source_take(struct source *s, size_t n, uint8_t *dst, struct errbuf *eb,
	    enum gauss_status *st_ret)
{
	const size_t have = s->len - s->pos;
	size_t got = 0;

	*st_ret = GAUSS_OK;
	if (s->mem != NULL || have >= n) {
		const uint8_t *p = source_peek(s);

		if (have < n)
			return NULL;
		if (s->mem == NULL)
			memcpy(dst, p, n);
		source_skip(s, n);
		return s->mem ? p : dst;
	}
	memcpy(dst, s->buf + s->pos, have);
	source_skip(s, have);
	if (s->eof)
		return NULL;
	*st_ret = io_stream_read(s->io, dst + have, n - have, &got, eb);
	if (*st_ret != GAUSS_OK)
		return NULL;
	s->offset += got;
	if (got < n - have) {
		s->eof = true;
		return NULL;
	}
	return dst;
}

/*
 * Opens a source over in: memory as it is, a file descriptor through a
 * stream and a buffer of cap bytes.
 */
static enum gauss_status
source_init(struct source *s, const struct pipeline_opts *o,
	    const struct pipe_in *in, size_t cap, struct errbuf *eb)
{
	memset(s, 0, sizeof(*s));
	if (in->mem != NULL) {
		s->mem = in->mem;
		s->len = (size_t)in->nbytes;
		s->eof = true;
		return GAUSS_OK;
	}
	s->cap = cap;
	s->buf = malloc(cap);
	if (s->buf == NULL)
		return GAUSS_E_NOMEM;
	return io_stream_open(&s->io, o->io, IO_READ, in->fd, o->direct, eb);
}

static void
source_free(struct source *s)
{
	io_stream_close(s->io);
	free(s->buf);
}

/* ---- compress ---- */

/* One segment of the original, as planned from the safetensors header. */
struct cseg {
	enum fmt_kind kind;
	uint64_t offset;	/* in the original */
	uint64_t nbytes;
	const char *name;	/* tensor name, or NULL */
	uint64_t shard_nbytes;	/* lossy kinds: bytes per shard */
	uint64_t tensor_index;	/* lossy kinds: for the shards' seeds */
};

/*
 * Most pieces in one job: small segments (checkpoints hold hundreds of tiny
 * tensors) are grouped into jobs of up to a block, so that a job is worth
 * a trip through the pool.
 */
#define JOB_MAX_PIECES 64

/* One block of one segment. */
struct cpiece {
	const struct cseg *seg;
	uint64_t boff;		/* the block's offset within its segment */
	size_t nbytes;
	size_t in_off;		/* where it sits in the job's in buffer */
	const uint8_t *src;	/* its bytes (in, or the input's memory) */
	size_t out_off;		/* its table and records in out */
	size_t out_nbytes;
	enum fmt_kind kind;	/* STORED when coding did not pay */
	struct lossy_stats stats;	/* lossy kinds */
};

/* A job of compress: consecutive blocks, together at most a block. */
struct cjob {
	unsigned npieces;
	struct cpiece pieces[JOB_MAX_PIECES];
	uint8_t *in;		/* the pieces, read from a file */
	uint8_t *out;
	uint8_t *dec;		/* lossy shards, as decoding will give them */
	/*
	 * Where the pieces were coded: out, or in place in the output's
	 * memory (the frame heads' room left free), see cstate.direct.
	 */
	uint8_t *coded;
	bool in_place;
};

/* Most bytes of a frame's head: its kind, size and shard size. */
#define FRAME_HEAD_MAX_NBYTES (1 + 2 * VARINT_MAX_LEN)

/* Room in a job's out buffer: the bytes, their records and tables. */
static size_t
cjob_out_cap(const struct pipeline_opts *o)
{
	const size_t chunk_nbytes = (size_t)1 << o->chunk_log2;
	const size_t block_nbytes = (size_t)1 << o->block_log2;
	const size_t records = block_nbytes / chunk_nbytes + JOB_MAX_PIECES;

	return block_nbytes + records * (VARINT_MAX_LEN + FMT_CHECKSUM_NBYTES) +
	       JOB_MAX_PIECES * CHUNK_TABLE_MAX_NBYTES;
}

struct cstate {
	const struct pipeline_opts *o;
	const struct pipe_in *in;
	struct source src;		/* the input, read in order */
	uint64_t total_nbytes;		/* of the original */
	struct sink out;
	const struct hash_ops *hops;
	void *hash;			/* XXH3-128 of the original */
	struct seglist segs;
	struct chunk_scratch *scratch;	/* one per worker */
	/* the plan, and the read stage's place in it */
	struct cseg *plan;
	size_t plan_count;
	size_t next_seg;
	uint64_t next_boff;
	const uint8_t *hdr_bytes;
	/* the write stage's */
	uint64_t frame_start;
	enum fmt_kind frame_kind;
	struct lossy_stats frame_stats;
	bool any_lossy;
	uint64_t done_nbytes;
	uint64_t job_nbytes;		/* see job_target() */
	/*
	 * One worker computes the jobs in their order, each after the write
	 * of the one before: it codes them straight into the output's memory
	 * when there is room, and feeds the hash each piece while it is in
	 * cache, instead of the write stage copying and reading it again.
	 */
	bool direct;
	/* for the progress hook, written with atomic stores */
	uint64_t prog_done;
	uint64_t prog_out;
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
	case GAUSS_DTYPE_BOOL:
	case GAUSS_DTYPE_U8:
	case GAUSS_DTYPE_I8:
	case GAUSS_DTYPE_F8_E4M3:
	case GAUSS_DTYPE_F8_E5M2:
		/* quantized weights, masks: whole bytes under a table */
		return FMT_KIND_BYTES;
	default:
		return FMT_KIND_STORED;
	}
}

/*
 * The table of a block of n elements with these exponent counts and
 * whole-value candidates (split_whole_count()) into t, and what coding
 * the block would take, in 1/65536 bits: symbols and raw plane.
 */
static uint64_t
block_table(enum fmt_kind kind, size_t n, const uint64_t counts_in[256],
	    const struct split_whole_cands *wc, struct rans_table *t)
{
	uint64_t counts[256];
	struct rans_whole w;
	size_t plain = n;

	memcpy(counts, counts_in, sizeof(counts));
	split_whole_pick(kind, n, counts, wc, &w);
	rans_table_normalize(counts, t);
	t->whole = w;
	for (unsigned i = 0; i < w.count; i++)
		plain -= (size_t)counts[w.code[i]];
	return rans_table_cost_q16(t, counts) +
	       ((uint64_t)split_raw_nbytes(kind, plain) << 19);
}

/*
 * Top mantissa bit (format version 6 for bf16, 7 for fp16 and fp32):
 * whether a float block without whole values (the elements outside its
 * zero runs, when it takes them) codes smaller with the exponent and top
 * mantissa bit of its values as symbols and one raw bit fewer per element
 * than with its exponents (table t, costing `cost` as block_table() says).
 * The
 * exponents' counts are those of the n elements to code
 * (split_count_block(): exact, or sampled with every exponent present
 * counted); the share of the top mantissa bit within each exponent comes
 * from jc, the counts of those bits of the elements the block's count
 * took one by one (runs of zeros included), and both halves of an
 * exponent present get a count.
 * Both sides count their table's bytes. When the table keeps the alias
 * layout (at most RANS_ALIAS_BUCKETS symbols, two per exponent present)
 * and the bit pays, t becomes the block's new table and true is returned.
 */
#define M1_MIN_ELEMS	4096	/* below, the second table never pays */
#define M1_MIN_GAIN	512	/* fp16, fp32: the least share it must save */

static bool
block_m1(enum fmt_kind kind, const uint64_t jc[512], size_t n,
	 const uint64_t counts[256], uint64_t cost, struct rans_table *t)
{
	uint64_t cj[256] = { 0 }, mcost;
	uint8_t buf[RANS_TABLE_MAX_NBYTES];
	unsigned lo = 256, hi = 0, nexp = 0;
	struct rans_table mt;

	for (unsigned e = 0; e < 256; e++) {
		if (counts[e]) {
			lo = MIN(lo, e);
			hi = e;
			nexp++;
		}
	}
	/* more symbols than the alias layout takes decode with gathers, at
	 * about half the speed (bench/RESULTS.md): not worth 0.05 bits */
	if (n < M1_MIN_ELEMS || lo == 256 || hi - lo > 127 ||
	    2 * nexp > RANS_ALIAS_BUCKETS)
		return false;
	for (unsigned e = lo; e <= hi; e++) {
		const uint64_t c = counts[e];
		uint64_t a = jc[2 * e], b = jc[2 * e + 1], one;

		if (c == 0)
			continue;
		/* c < 2^34 (FMT_BLOCK_LOG2_MAX): c * b fits in 64 bits */
		while (a + b >= (uint64_t)1 << 30) {
			a >>= 1;
			b >>= 1;
		}
		one = a + b ? c * b / (a + b) : c / 2;
		cj[2 * (e - lo)] = MAX(c - one, 1);
		cj[2 * (e - lo) + 1] = MAX(one, 1);
	}
	rans_table_normalize(cj, &mt);
	mcost = rans_table_cost_q16(&mt, cj) +
		((uint64_t)(split_raw_nbytes_m1_kind(kind, n) + 1 +
			    rans_table_write(&mt, buf)) << 19);
	cost += (uint64_t)rans_table_write(t, buf) << 19;
	/* fp16, fp32: only for a gain of 1/512 of the block or more (fp32
	 * corpus files gained 0.04-0.12% and decoded 20-30% slower) */
	if (mcost >= cost ||
	    (kind != FMT_KIND_EXP_BF16 && cost - mcost < cost / M1_MIN_GAIN))
		return false;
	mt.whole.flags = FMT_BLOCK_M1;
	mt.whole.m1_base = (uint8_t)lo;
	*t = mt;
	return true;
}

/*
 * Bytes tables (format version 7): the precision and lane unit of a bytes
 * block of nbytes whose 12-bit table t comes from these exact counts: t
 * becomes the 15-bit table when that codes smaller, its table's bytes
 * counted. The lane unit is version 4's (the most lanes: 32 from 16384
 * elements), unless its flushed states, 4 bytes a lane in each chunk of
 * chunk_nbytes, and the table take more than 1/256 of the coded block;
 * then it doubles while that holds and the block's first chunk keeps the
 * 16 lanes of a vector decoder (8 lanes decode at a third of the speed).
 * So large blocks get every lane, and mid-sized ones keep their overhead
 * near 0.4% at most.
 */
#define BYTES_FIXED_SHARE	256
#define BYTES_VECTOR_LANES	16

static uint64_t
states_q16(size_t nbytes, size_t chunk_nbytes, unsigned unit)
{
	uint64_t q = 0;

	for (size_t off = 0; off < nbytes; off += chunk_nbytes)
		q += (uint64_t)rans_lanes_unit(MIN(chunk_nbytes, nbytes - off),
					       unit) << (5 + 16);
	return q;
}

static void
block_bytes(size_t nbytes, size_t chunk_nbytes, const uint64_t counts[256],
	    struct rans_table *t)
{
	uint8_t buf[RANS_TABLE_MAX_NBYTES];
	uint64_t cost, fcost, table, ftable;
	struct rans_table ft;
	unsigned unit = RANS_LANE_UNIT_V4;

	if (t->nsym < 2)
		return;		/* no stream, no states */
	rans_table_normalize_bits(counts, RANS_FINE_BITS, &ft);
	table = (uint64_t)rans_table_write(t, buf) << 19;
	ftable = (uint64_t)rans_table_write(&ft, buf) << 19;
	cost = rans_table_cost_q16(t, counts) + table;
	fcost = rans_table_cost_q16(&ft, counts) + ftable;
	if (fcost < cost) {
		*t = ft;
		cost = fcost;
		table = ftable;
	}
	while (unit < RANS_LANE_UNIT_MAX &&
	       states_q16(nbytes, chunk_nbytes, unit) + table >
	       cost / BYTES_FIXED_SHARE &&
	       rans_lanes_unit(MIN(nbytes, chunk_nbytes), 2 * unit) >=
	       BYTES_VECTOR_LANES)
		unit *= 2;
	t->lane_unit = unit;
}

/*
 * Zero runs (format version 5): finds each chunk's runs of zeros into
 * s->zruns, zcount[c] of them for chunk c; returns the elements they
 * cover and, in *list_bytes, what the run lists take. SIZE_MAX when
 * memory is short.
 */
static size_t
block_zruns_find(const struct pipeline_opts *o, enum fmt_kind kind,
		 const uint8_t *src, size_t nbytes, size_t *zcount,
		 uint64_t *list_bytes, struct chunk_scratch *s)
{
	const size_t chunk_nbytes = (size_t)1 << o->chunk_log2;
	const size_t es = split_elem_nbytes(kind);
	size_t nr = 0, covered = 0, c = 0;

	if (chunk_zruns_reserve(s, nbytes / es / FMT_ZRUN_MIN + 1, NULL) !=
	    GAUSS_OK)
		return SIZE_MAX;
	*list_bytes = 0;
	for (size_t off = 0; off < nbytes; off += chunk_nbytes, c++) {
		const struct chunk_zrun *r = s->zruns + nr;
		size_t at = 0;

		zcount[c] = chunk_zruns_find(kind, src + off,
					     MIN(chunk_nbytes, nbytes - off) /
					     es, s->zruns + nr);
		*list_bytes += varint_len(zcount[c]);
		for (size_t i = 0; i < zcount[c]; i++) {
			*list_bytes += varint_len(r[i].start - at) +
				       varint_len(r[i].len - FMT_ZRUN_MIN);
			at = (size_t)r[i].start + r[i].len;
			covered += r[i].len;
		}
		nr += zcount[c];
	}
	return covered;
}

/*
 * Whether the block's zero runs pay: the table of the block without them
 * comes from its counts less the runs' zeros (no pass over the data), and
 * the runs are kept when that table, the run lists included, codes the
 * block in fewer bits. Then t is that table, flagged, and the runs'
 * counts per chunk are returned; NULL otherwise.
 */
static size_t *
block_zruns(const struct pipeline_opts *o, enum fmt_kind kind,
	    const uint8_t *src, size_t nbytes, const uint64_t counts[256],
	    const uint64_t jc[512], const struct split_whole_cands *wc,
	    uint64_t cost, struct rans_table *t, struct chunk_scratch *s)
{
	const size_t chunk_nbytes = (size_t)1 << o->chunk_log2;
	const size_t n = nbytes / split_elem_nbytes(kind);
	size_t *zcount = calloc((nbytes + chunk_nbytes - 1) / chunk_nbytes,
				sizeof(*zcount));
	struct split_whole_cands zwc;
	uint64_t list_bytes, zcost, zc[256];
	struct rans_table zt;
	size_t r;

	if (zcount == NULL)
		return NULL;
	r = block_zruns_find(o, kind, src, nbytes, zcount, &list_bytes, s);
	if (r == 0 || r == SIZE_MAX)
		goto no;
	memcpy(zc, counts, sizeof(zc));
	zc[0] -= r;			/* a +0 has exponent field 0 */
	zcost = list_bytes << 19;
	if (r < n) {
		zwc = *wc;
		split_whole_drop_zeros(&zwc, r);
		zcost += block_table(kind, n - r, zc, &zwc, &zt);
	} else {
		zc[0] = 1;		/* nothing left: any table will do */
		rans_table_normalize(zc, &zt);
	}
	if (zcost >= cost)
		goto no;
	/* the rest's table may take the top mantissa bit too */
	if (r < n && zt.whole.count == 0)
		block_m1(kind, jc, n - r, zc, zcost - (list_bytes << 19), &zt);
	*t = zt;
	t->whole.flags |= FMT_BLOCK_ZRUNS;
	return zcount;
no:
	free(zcount);
	return NULL;
}

/* Copies the elements of src[n] outside its nruns runs, in order, to dst. */
static void
gather_outside(const uint8_t *src, size_t n, size_t es,
	       const struct chunk_zrun *runs, size_t nruns, uint8_t *dst)
{
	size_t at = 0;

	for (size_t i = 0; i < nruns; i++) {
		memcpy(dst, src + at * es, (runs[i].start - at) * es);
		dst += (runs[i].start - at) * es;
		at = (size_t)runs[i].start + runs[i].len;
	}
	memcpy(dst, src + at * es, (n - at) * es);
}

/* Codes one block (all its chunks) into out; returns its size. */
static size_t
code_block(const struct pipeline_opts *o, enum fmt_kind kind,
	   const uint8_t *src, size_t nbytes, uint8_t *out,
	   struct chunk_scratch *s)
{
	const size_t chunk_nbytes = (size_t)1 << o->chunk_log2;
	const size_t es = split_elem_nbytes(kind);
	struct rans_etable *e = NULL;
	size_t *zcount = NULL, len = 0;

	if (fmt_kind_has_table(kind)) {
		const size_t n = nbytes / es;
		uint64_t counts[256] = { 0 }, jc[512] = { 0 };
		struct split_whole_cands wc;
		struct rans_table t;
		uint64_t cost;

		split_count_block(kind, src, n, &s->kernels->sampler, counts,
				  jc);
		split_whole_count(kind, src, n, counts, &wc);
		cost = block_table(kind, n, counts, &wc, &t);
		/* zeros in runs: dropped from the symbols when that pays */
		if (fmt_kind_is_float(kind) && counts[0] >= FMT_ZRUN_MIN)
			zcount = block_zruns(o, kind, src, nbytes, counts, jc,
					     &wc, cost, &t, s);
		/* the top mantissa bit in the symbol, when that pays */
		if (fmt_kind_is_float(kind) && zcount == NULL &&
		    t.whole.count == 0)
			block_m1(kind, jc, n, counts, cost, &t);
		/* bytes: a 15-bit table when that pays, and lanes */
		if (kind == FMT_KIND_BYTES)
			block_bytes(nbytes, chunk_nbytes, counts, &t);
		len = chunk_table_write(kind, &t, out);
		e = s->etable;
		rans_etable_build(&t, FMT_VERSION, e);
	}
	for (size_t off = 0, c = 0, r = 0; off < nbytes;
	     off += chunk_nbytes, c++) {
		const size_t cn = MIN(chunk_nbytes, nbytes - off);

		if (zcount != NULL) {
			const struct chunk_zrun *zr = s->zruns + r;

			if (zcount[c] > 0)
				gather_outside(src + off, cn / es, es, zr,
					       zcount[c], s->zbuf);
			len += chunk_encode_zruns(kind, e, src + off, cn, zr,
						  zcount[c], s->zbuf,
						  out + len, s);
			r += zcount[c];
		} else {
			len += chunk_encode(kind, e, src + off, cn, out + len,
					    s);
		}
	}
	free(zcount);
	return len;
}

/*
 * Decodes a block just coded (nbytes original bytes, out_nbytes coded) and
 * checks each chunk against the checksum of its source. Compress does this
 * when its output cannot be read back and checked once written (a pipe), so
 * that an encoder bug costs an error rather than a backup that cannot be
 * restored.
 */
static enum gauss_status
check_block(const struct pipeline_opts *o, enum fmt_kind kind,
	    const uint8_t *out, size_t out_nbytes, size_t nbytes,
	    struct chunk_scratch *s, struct errbuf *eb)
{
	const size_t chunk_nbytes = (size_t)1 << o->chunk_log2;
	struct cursor c;

	cursor_init(&c, out, out_nbytes);
	if (fmt_kind_has_table(kind)) {
		struct rans_table t;

		TRY(chunk_table_read(kind, FMT_VERSION, &c, &t, eb));
		rans_dtable_build_for(&t, FMT_VERSION, s->kernels->slots,
				      s->dtable);
	}
	for (size_t off = 0; off < nbytes; off += chunk_nbytes) {
		const size_t cn = MIN(chunk_nbytes, nbytes - off);
		const uint8_t *payload;
		size_t payload_nbytes;
		uint64_t checksum;
		bool stored;

		TRY(chunk_parse(&c, cn, &payload, &payload_nbytes, &stored,
				&checksum, eb));
		TRY(chunk_decode(kind, s->dtable, payload, payload_nbytes,
				 stored, checksum, s->check, cn, s, eb));
	}
	if (c.p != c.end)
		return err_setf(eb, GAUSS_E_CORRUPT, "%zu stray bytes",
				(size_t)(c.end - c.p));
	return GAUSS_OK;
}

static size_t
stored_block_nbytes(const struct pipeline_opts *o, size_t nbytes)
{
	const size_t chunk_nbytes = (size_t)1 << o->chunk_log2;
	size_t len = 0;

	for (size_t off = 0; off < nbytes; off += chunk_nbytes) {
		const size_t cn = MIN(chunk_nbytes, nbytes - off);

		len += varint_len(((uint64_t)cn << 1) | 1) + cn +
		       FMT_CHECKSUM_NBYTES;
	}
	return len;
}

static enum gauss_status
c_read(void *user, void *job, bool *more, struct errbuf *eb)
{
	struct cstate *cs = user;
	struct cjob *j = job;
	const uint64_t block_nbytes = (uint64_t)1 << cs->o->block_log2;
	size_t total = 0;

	j->npieces = 0;
	while (cs->next_seg < cs->plan_count && j->npieces < JOB_MAX_PIECES) {
		const struct cseg *seg = &cs->plan[cs->next_seg];
		const size_t nbytes = (size_t)MIN(seg->shard_nbytes ?
						  seg->shard_nbytes :
						  block_nbytes,
						  seg->nbytes - cs->next_boff);
		struct cpiece *pc = &j->pieces[j->npieces];

		if (j->npieces > 0 && total + nbytes > cs->job_nbytes)
			break;
		if (seg->offset == 0) {
			pc->src = cs->hdr_bytes + cs->next_boff;
		} else {
			enum gauss_status st;

			pc->src = source_take(&cs->src, nbytes, j->in ?
					      j->in + total : NULL, eb, &st);
			if (pc->src == NULL)
				return st != GAUSS_OK ? st :
				       err_setf(eb, GAUSS_E_BAD_INPUT, "file "
						"is truncated: it ends at byte "
						"%llu, the header asks for "
						"%llu", (unsigned long long)
						cs->src.offset,
						(unsigned long long)
						cs->total_nbytes);
		}
		pc->seg = seg;
		pc->boff = cs->next_boff;
		pc->nbytes = nbytes;
		pc->in_off = total;
		pc->kind = seg->kind;
		total += nbytes;
		j->npieces++;
		cs->next_boff += nbytes;
		if (cs->next_boff == seg->nbytes) {
			cs->next_seg++;
			cs->next_boff = 0;
		}
	}
	if (cs->next_seg == cs->plan_count && !cs->src.eof_checked) {
		size_t avail = 0;

		/* the input must end where the header says (pipes too) */
		cs->src.eof_checked = true;
		TRY(source_fill(&cs->src, 1, &avail, eb));
		if (avail)
			return err_setf(eb, GAUSS_E_BAD_INPUT, "file has "
					"trailing bytes after byte %llu, where "
					"the header says it ends",
					(unsigned long long)cs->total_nbytes);
	}
	*more = j->npieces > 0;
	return GAUSS_OK;
}

/* Codes one piece at j->coded + out_off. */
static enum gauss_status
c_piece(struct cstate *cs, struct cjob *j, struct cpiece *pc, size_t out_off,
	struct chunk_scratch *s, struct errbuf *eb)
{
	uint8_t *const out = j->coded + out_off;
	const struct cseg *seg = pc->seg;

	pc->out_off = out_off;
	if (fmt_kind_is_gmm(pc->kind)) {
		if (s->gmm == NULL && (s->gmm = gmm_scratch_new()) == NULL)
			return err_setf(eb, GAUSS_E_NOMEM, "out of memory");
		return err_prefix(eb, lossy_code_shard(pc->kind, pc->src,
				  pc->nbytes, &cs->o->lossy.codec,
				  seg->tensor_index << 32 |
				  pc->boff / seg->shard_nbytes,
				  out, cjob_out_cap(cs->o) - out_off,
				  j->dec + pc->in_off, &pc->out_nbytes,
				  &pc->stats, s->kernels, s->gmm, eb),
				  "shard %llu", (unsigned long long)
				  (pc->boff / seg->shard_nbytes));
	}
	pc->out_nbytes = code_block(cs->o, pc->kind, pc->src, pc->nbytes, out,
				    s);
	if (pc->boff == 0 && pc->nbytes == seg->nbytes &&
	    pc->kind != FMT_KIND_STORED &&
	    pc->out_nbytes >= stored_block_nbytes(cs->o, pc->nbytes)) {
		/* coding does not pay for this segment: store it */
		pc->kind = FMT_KIND_STORED;
		pc->out_nbytes = code_block(cs->o, pc->kind, pc->src,
					    pc->nbytes, out, s);
	}
	if (cs->o->check_blocks &&
	    check_block(cs->o, pc->kind, out, pc->out_nbytes, pc->nbytes, s,
			eb) != GAUSS_OK)
		return err_prefix(eb, GAUSS_E_CORRUPT, "block at byte %llu "
				  "failed its check after coding (a bug in "
				  "gauss)", (unsigned long long)pc->boff);
	return GAUSS_OK;
}

/* What a piece gives back when decoded: the footer's hash is of that. */
static const uint8_t *
hashed_bytes(const struct cjob *j, const struct cpiece *pc)
{
	return fmt_kind_is_gmm(pc->kind) ? j->dec + pc->in_off : pc->src;
}

/* The bytes of the head of the frame that a piece at boff 0 starts. */
static size_t
frame_head(const struct cpiece *pc, uint8_t head[FRAME_HEAD_MAX_NBYTES])
{
	size_t n = 1;

	head[0] = (uint8_t)pc->kind;
	n += varint_put(head + 1, pc->seg->nbytes);
	if (fmt_kind_is_gmm(pc->kind))
		n += varint_put(head + n, pc->seg->shard_nbytes);
	return n;
}

static enum gauss_status
c_compute(void *user, void *job, unsigned worker, struct errbuf *eb)
{
	struct cstate *cs = user;
	struct cjob *j = job;
	size_t out_off = 0;

	j->coded = j->out;
	j->in_place = cs->direct && cs->out.mem != NULL &&
		      cs->out.mem_cap - cs->out.offset >=
		      cjob_out_cap(cs->o) +
		      JOB_MAX_PIECES * FRAME_HEAD_MAX_NBYTES;
	if (j->in_place)
		j->coded = cs->out.mem + cs->out.offset;
	for (unsigned i = 0; i < j->npieces; i++) {
		struct cpiece *pc = &j->pieces[i];
		enum gauss_status st;

		if (j->in_place && pc->boff == 0) {
			uint8_t head[FRAME_HEAD_MAX_NBYTES];

			out_off += frame_head(pc, head);  /* its length */
		}
		st = c_piece(cs, j, pc, out_off, &cs->scratch[worker], eb);
		if (st != GAUSS_OK) {
			if (pc->seg->name)
				err_prefix(eb, st, "tensor '%s'", pc->seg->name);
			return st;
		}
		if (cs->direct)
			cs->hops->h128_update(cs->hash, hashed_bytes(j, pc),
					      pc->nbytes);
		out_off += pc->out_nbytes;
	}
	return GAUSS_OK;
}

static enum gauss_status
c_write(void *user, void *job, struct errbuf *eb)
{
	struct cstate *cs = user;
	struct cjob *j = job;

	for (unsigned i = 0; i < j->npieces; i++) {
		const struct cpiece *pc = &j->pieces[i];
		const bool lossy = fmt_kind_is_gmm(pc->kind);

		if (!cs->direct)
			cs->hops->h128_update(cs->hash, hashed_bytes(j, pc),
					      pc->nbytes);
		if (pc->boff == 0) {
			uint8_t head[FRAME_HEAD_MAX_NBYTES];

			cs->frame_start = cs->out.offset;
			cs->frame_kind = pc->kind;
			memset(&cs->frame_stats, 0, sizeof(cs->frame_stats));
			TRY(sink_write(&cs->out, head, frame_head(pc, head),
				       eb));
		}
		if (lossy)
			lossy_stats_add(&cs->frame_stats, &pc->stats);
		if (j->in_place) {	/* coded where it belongs */
			GAUSS_ASSERT(j->coded + pc->out_off ==
				     cs->out.mem + cs->out.offset);
			cs->out.offset += pc->out_nbytes;
		} else {
			TRY(sink_write(&cs->out, j->coded + pc->out_off,
				       pc->out_nbytes, eb));
		}
		cs->done_nbytes += pc->nbytes;
		if (pc->boff + pc->nbytes == pc->seg->nbytes) {
			TRY(seglist_add(&cs->segs, cs->frame_kind,
					pc->seg->nbytes,
					cs->out.offset - cs->frame_start));
			if (lossy)
				lossy_stats_finish(&cs->frame_stats,
						   &cs->segs.v[cs->segs.count -
								1].gmm);
		}
	}
	__atomic_store_n(&cs->prog_done, cs->done_nbytes, __ATOMIC_RELAXED);
	__atomic_store_n(&cs->prog_out, cs->out.offset, __ATOMIC_RELAXED);
	return GAUSS_OK;
}

static int
c_progress(void *user)
{
	const struct cstate *cs = user;

	return cs->o->progress(cs->o->progress_user,
			       __atomic_load_n(&cs->prog_done,
					       __ATOMIC_RELAXED),
			       cs->total_nbytes,
			       __atomic_load_n(&cs->prog_out,
					       __ATOMIC_RELAXED));
}

static enum gauss_status
plan_add(struct cstate *cs, enum fmt_kind kind, uint64_t offset,
	 uint64_t nbytes, const char *name)
{
	cs->plan[cs->plan_count++] = (struct cseg){
		.kind = kind, .offset = offset, .nbytes = nbytes, .name = name,
	};
	return GAUSS_OK;
}

/* The segments: the header, then each tensor and gap in offset order. */
static enum gauss_status
make_plan(struct cstate *cs, const struct st_header *st)
{
	uint64_t pos = 0;

	cs->plan = calloc(2 * st->tensor_count + 2, sizeof(*cs->plan));
	if (cs->plan == NULL)
		return GAUSS_E_NOMEM;
	plan_add(cs, FMT_KIND_BYTES, 0, st->data_offset, NULL);
	for (size_t k = 0; k < st->tensor_count; k++) {
		const struct st_tensor *t = &st->tensors[st->by_offset[k]];

		if (t->end == t->begin)
			continue;
		if (t->begin > pos)
			plan_add(cs, FMT_KIND_STORED, st->data_offset + pos,
				 t->begin - pos, NULL);
		plan_add(cs, kind_of_dtype(t->dtype),
			 st->data_offset + t->begin, t->end - t->begin,
			 t->name);
		if (lossy_kind(&cs->o->lossy, t) != FMT_KIND_STORED) {
			struct cseg *seg = &cs->plan[cs->plan_count - 1];

			seg->kind = lossy_kind(&cs->o->lossy, t);
			seg->shard_nbytes = lossy_shard_nbytes(
				&cs->o->lossy, t,
				(uint64_t)1 << cs->o->block_log2);
			seg->tensor_index = k;
			cs->any_lossy = true;
		}
		pos = t->end;
	}
	/*
	 * Zero-size tensors may sit past the last tensor with data: what lies
	 * between is a gap like any other.
	 */
	if (pos < st->data_nbytes)
		plan_add(cs, FMT_KIND_STORED, st->data_offset + pos,
			 st->data_nbytes - pos, NULL);
	return GAUSS_OK;
}

/*
 * Reads and parses the safetensors header into *st and cs->hdr_bytes (a
 * copy in *hdr_ret unless the input is in memory).
 */
static enum gauss_status
read_st_header(struct cstate *cs, struct st_header *st, uint8_t **hdr_ret,
	       struct errbuf *eb)
{
	const uint64_t size = cs->in->mem != NULL ||
			      cs->in->nbytes != UINT64_MAX ?
			      cs->in->nbytes : ST_SIZE_UNKNOWN;
	uint64_t json_nbytes;
	size_t avail = 0;
	enum gauss_status rst;
	const uint8_t *p;
	uint8_t *hdr;

	*hdr_ret = NULL;
	TRY(source_fill(&cs->src, 8, &avail, eb));
	if (avail < 8)
		return err_setf(eb, GAUSS_E_BAD_INPUT, "file is too short "
				"for a safetensors header (%zu bytes)", avail);
	TRY(st_check_prefix(source_peek(&cs->src), size, &json_nbytes, eb));
	/* memory is read in place: only a descriptor needs the copy */
	hdr = NULL;
	if (cs->src.mem == NULL) {
		hdr = malloc(8 + (size_t)json_nbytes);
		if (hdr == NULL)
			return GAUSS_E_NOMEM;
		*hdr_ret = hdr;
	}
	p = source_take(&cs->src, 8 + (size_t)json_nbytes, hdr, eb, &rst);
	if (p == NULL)
		return rst != GAUSS_OK ? rst :
		       err_setf(eb, GAUSS_E_BAD_INPUT, "file is truncated in "
				"its safetensors header");
	cs->hdr_bytes = p;
	TRY(st_parse(p + 8, (size_t)json_nbytes, size, st, eb));
	cs->total_nbytes = st->data_offset + st->data_nbytes;
	return GAUSS_OK;
}

static enum gauss_status
compress_finish(struct cstate *cs, struct errbuf *eb)
{
	const uint8_t end = FMT_KIND_END;
	struct fmt_footer f = { 0 };
	uint8_t foot[FMT_FOOTER_NBYTES];
		uint8_t *index;
	size_t index_nbytes;
	enum gauss_status st;

	TRY(sink_write(&cs->out, &end, 1, eb));
	index = index_serialize(&cs->segs, &index_nbytes);
	if (index == NULL)
		return GAUSS_E_NOMEM;
	f.index_offset = cs->out.offset;
	f.index_nbytes = index_nbytes;
	f.original_nbytes = cs->total_nbytes;
	cs->hops->h128_digest(cs->hash, f.original_hash);
	f.index_hash = XXH3_64bits(index, index_nbytes);
	st = sink_write(&cs->out, index, index_nbytes, eb);
	free(index);
	TRY(st);
	fmt_footer_write(&f, foot);
	TRY(sink_write(&cs->out, foot, sizeof(foot), eb));
	return sink_flush(&cs->out, eb);
}

static const struct pool_ops compress_ops = {
	.read = c_read,
	.compute = c_compute,
	.write = c_write,
	.progress = c_progress,
};

enum gauss_status
pipeline_compress(const struct pipeline_opts *o, const struct pipe_in *in,
		  const struct pipe_out *out, struct pipe_sizes *sizes_ret,
		  struct errbuf *eb)
{
	const size_t chunk_nbytes = (size_t)1 << o->chunk_log2;
	const size_t block_nbytes = (size_t)1 << o->block_log2;
	const unsigned threads = resolve_threads(o);
	const unsigned nslots = threads + 2;
	struct cstate cs = { .o = o, .in = in };
	struct cjob *jobs = NULL;
	void **jobv = NULL;
	uint8_t *hdr_own = NULL;
	struct st_header st = { 0 };
	struct fmt_header fh = {
		.version = FMT_VERSION,
		.chunk_log2 = o->chunk_log2,
		.block_log2 = o->block_log2,
	};
	uint8_t head[FMT_HEADER_NBYTES];
	struct pool_ops ops = compress_ops;
	unsigned workers;
	enum gauss_status ret;

	ret = source_init(&cs.src, o, in, (size_t)1 << 16, eb);
	if (ret == GAUSS_OK)
		ret = sink_init(&cs.out, o, out, eb);
	if (ret != GAUSS_OK)
		goto out;
	ret = read_st_header(&cs, &st, &hdr_own, eb);
	if (ret != GAUSS_OK)
		goto out;
	ret = GAUSS_E_NOMEM;
	cs.hops = kernels_of(o)->hash;
	cs.hash = cs.hops->h128_new();
	jobs = calloc(nslots, sizeof(*jobs));
	jobv = calloc(nslots, sizeof(*jobv));
	if (cs.hash == NULL || jobs == NULL || jobv == NULL ||
	    make_plan(&cs, &st) != GAUSS_OK ||
	    scratches_init(o, &cs.scratch, threads, chunk_nbytes) != GAUSS_OK)
		goto out;
	for (unsigned i = 0; i < nslots; i++) {
		jobv[i] = &jobs[i];
		jobs[i].out = pool_alloc(o->cache, cjob_out_cap(o));
		if (in->mem == NULL)
			jobs[i].in = pool_alloc(o->cache, block_nbytes);
		if (cs.any_lossy)
			jobs[i].dec = pool_alloc(o->cache, block_nbytes);
		if (jobs[i].out == NULL || (in->mem == NULL &&
					    jobs[i].in == NULL) ||
		    (cs.any_lossy && jobs[i].dec == NULL))
			goto out;
	}
	fmt_header_write(&fh, head);
	ret = sink_write(&cs.out, head, sizeof(head), eb);
	if (ret != GAUSS_OK)
		goto out;
	if (o->progress == NULL)
		ops.progress = NULL;
	cs.job_nbytes = job_target(o->chunk_log2, o->block_log2,
				   cs.total_nbytes, threads);
	workers = (unsigned)MIN((uint64_t)threads,
				cs.total_nbytes / cs.job_nbytes + 1);
	cs.direct = workers == 1;
	ret = pool_run(o->team, &ops, &cs, jobv, nslots, workers, NULL, eb);
	if (ret == GAUSS_OK)
		ret = compress_finish(&cs, eb);
	if (ret == GAUSS_OK && sizes_ret)
		*sizes_ret = (struct pipe_sizes){
			.in_nbytes = cs.total_nbytes,
			.out_nbytes = cs.out.offset,
		};
out:
	if (jobs)
		for (unsigned i = 0; i < nslots; i++) {
			pool_free(o->cache, jobs[i].in);
			pool_free(o->cache, jobs[i].out);
			pool_free(o->cache, jobs[i].dec);
		}
	free(jobs);
	free(jobv);
	scratches_free(o, cs.scratch, threads);
	free(cs.plan);
	st_header_free(&st);
	free(hdr_own);
	if (cs.hops)
		cs.hops->h128_free(cs.hash);
	source_free(&cs.src);
	io_stream_close(cs.out.io);
	free(cs.segs.v);
	return ret;
}

/* ---- decompress ---- */

/* One parsed chunk record of a block. */
struct drec {
	const uint8_t *payload;
	size_t payload_nbytes;
	bool stored;
	uint64_t checksum;
};

/* One block of one frame. */
struct dpiece {
	enum fmt_kind kind;
	uint64_t seg_offset;	/* the segment in the original */
	uint64_t seg_nbytes;
	uint64_t boff;		/* the block within the segment */
	size_t nbytes;
	uint64_t first_chunk;	/* index of its first chunk in the segment */
	size_t unit;		/* bytes per record: a chunk, or the shard */
	bool has_table;
	struct rans_table table;
	size_t first_rec;	/* its records in the job's recs[] */
	size_t nchunks;
	uint8_t *dst;
};

/* A job of decompress: consecutive blocks, together at most a block. */
struct djob {
	unsigned npieces;
	struct dpiece pieces[JOB_MAX_PIECES];
	struct rans_dtable *dtable;
	struct drec *recs;
	uint8_t *in;		/* records copied from a file */
	uint8_t *own;		/* decoded blocks, unless decoded in place */
	uint64_t in_end;	/* input offset past the job's records */
	uint64_t seg_offset;	/* the failing segment, for the message */
	uint64_t seg_nbytes;	/* (0: none) */
	unsigned done;		/* pieces decoded before a failure */
};

struct dstate {
	const struct pipeline_opts *o;
	struct source in;
	struct sink out;
	const struct hash_ops *hops;
	void *hash;			/* XXH3-128 of the original */
	/*
	 * One worker computes the jobs in their order: it feeds the hash
	 * each chunk as soon as it is decoded, while the chunk is in cache,
	 * instead of the write stage a block later.
	 */
	bool hash_early;
	struct seglist segs;
	struct fmt_header fh;
	struct chunk_scratch *scratch;	/* one per worker */
	uint64_t expected_nbytes;	/* from the footer, or UINT64_MAX */
	/* the read stage's place in the frames */
	uint64_t read_nbytes;		/* original bytes parsed */
	enum fmt_kind kind;
	uint64_t seg_offset;
	uint64_t seg_nbytes;
	uint64_t seg_left;
	uint64_t block_left;		/* of the current block, not yet read */
	bool has_table;			/* the current block's table: */
	struct rans_table table;
	uint64_t shard_nbytes;		/* lossy frames */
	uint64_t frame_start;
	uint64_t chunk_index;
	bool ended;			/* END was read */
	uint64_t job_nbytes;		/* see job_target() */
	unsigned threads;
	enum gauss_status pending;	/* a failure left for the next job */
	struct errbuf pending_eb;
	uint64_t pending_offset;
	uint64_t pending_nbytes;
	/* the write stage's */
	uint64_t original_nbytes;	/* original bytes written */
	uint8_t *hdr_copy;		/* the header, to name tensors */
	size_t hdr_full;		/* its size once whole, else 0 */
	struct st_header st;		/* parsed only to name a failure */
	bool have_st;
	/* for the progress hook, written with atomic stores */
	uint64_t prog_done;
	uint64_t prog_in;
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

/* After a failure, if the header was decoded: parse it to name tensors. */
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

/* Reads the head of the next frame; *end_ret is set at the END byte. */
static enum gauss_status
read_frame_head(struct dstate *ds, bool *end_ret, struct errbuf *eb)
{
	const uint64_t frame_start = ds->in.offset;
	uint64_t nbytes;
	struct cursor c;
	size_t avail = 0;
	uint8_t kind;

	TRY(source_fill(&ds->in, 1 + 2 * VARINT_MAX_LEN, &avail, eb));
	cursor_init(&c, source_peek(&ds->in), avail);
	if (!cursor_u8(&c, &kind))
		return err_setf(eb, GAUSS_E_CORRUPT, "file is truncated after "
				"%llu bytes", (unsigned long long)ds->in.offset);
	if (kind == FMT_KIND_END) {
		source_skip(&ds->in, 1);
		*end_ret = true;
		return GAUSS_OK;
	}
	if (!fmt_kind_known(kind, ds->fh.version))
		return err_setf(eb, GAUSS_E_CORRUPT, "unknown frame kind %u at "
				"byte %llu", kind,
				(unsigned long long)frame_start);
	if (!cursor_varint(&c, &nbytes) || nbytes == 0 ||
	    nbytes > ds->expected_nbytes - ds->read_nbytes)
		return err_setf(eb, GAUSS_E_CORRUPT, "frame at byte %llu has an "
				"invalid size", (unsigned long long)frame_start);
	ds->shard_nbytes = 0;
	if (fmt_kind_is_gmm((enum fmt_kind)kind) &&
	    (!cursor_varint(&c, &ds->shard_nbytes) ||
	     ds->shard_nbytes == 0 ||
	     ds->shard_nbytes % fmt_kind_elem_nbytes((enum fmt_kind)kind) ||
	     ds->shard_nbytes > (uint64_t)1 << ds->fh.block_log2))
		return err_setf(eb, GAUSS_E_CORRUPT, "frame at byte %llu has an "
				"invalid shard size",
				(unsigned long long)frame_start);
	source_skip(&ds->in, (size_t)(c.p - source_peek(&ds->in)));
	ds->kind = (enum fmt_kind)kind;
	ds->seg_offset = ds->read_nbytes;
	ds->seg_nbytes = nbytes;
	ds->seg_left = nbytes;
	ds->frame_start = frame_start;
	ds->chunk_index = 0;
	if (nbytes % fmt_kind_elem_nbytes(ds->kind))
		return err_setf(eb, GAUSS_E_CORRUPT, "%llu bytes are not a "
				"whole number of %s elements",
				(unsigned long long)nbytes,
				fmt_kind_name(ds->kind));
	/* keep the first segment, the safetensors header, to name tensors */
	if (ds->seg_offset == 0 && nbytes <= 8 + ST_MAX_HEADER_NBYTES) {
		ds->hdr_copy = malloc((size_t)nbytes);
		if (ds->hdr_copy == NULL)
			return GAUSS_E_NOMEM;
	}
	return GAUSS_OK;
}

/* Parses one chunk record of cn original bytes into r. */
static enum gauss_status
read_record(struct dstate *ds, const struct djob *j, size_t cn,
	    size_t *in_len, struct drec *r, struct errbuf *eb)
{
	enum gauss_status st;
	const uint8_t *p;
	struct cursor c;
	uint64_t head;
	size_t avail = 0;

	TRY(source_fill(&ds->in, VARINT_MAX_LEN, &avail, eb));
	cursor_init(&c, source_peek(&ds->in), avail);
	if (!cursor_varint(&c, &head))
		return err_setf(eb, GAUSS_E_CORRUPT, "chunk header is "
				"truncated or invalid");
	r->stored = head & 1;
	head >>= 1;
	if (head > cn || (r->stored && head != cn))
		return err_setf(eb, GAUSS_E_CORRUPT, "chunk declares %llu "
				"bytes for %zu original bytes",
				(unsigned long long)head, cn);
	source_skip(&ds->in, (size_t)(c.p - source_peek(&ds->in)));
	r->payload_nbytes = (size_t)head;
	p = source_take(&ds->in, r->payload_nbytes + FMT_CHECKSUM_NBYTES,
			j->in ? j->in + *in_len : NULL, eb, &st);
	if (p == NULL)
		return st != GAUSS_OK ? st :
		       err_setf(eb, GAUSS_E_CORRUPT, "chunk is truncated");
	*in_len += r->payload_nbytes + FMT_CHECKSUM_NBYTES;
	r->payload = p;
	r->checksum = get_le64(p + r->payload_nbytes);
	return GAUSS_OK;
}

/* Starts the next block of the frame: its size and its table, if any. */
static enum gauss_status
read_block_head(struct dstate *ds, struct errbuf *eb)
{
	const uint64_t block_nbytes = (uint64_t)1 << ds->fh.block_log2;

	ds->block_left = MIN(ds->shard_nbytes ? ds->shard_nbytes :
			     block_nbytes, ds->seg_left);
	ds->has_table = fmt_kind_has_table(ds->kind);
	if (ds->has_table) {
		struct cursor c;
		size_t avail = 0;
		enum gauss_status st;

		st = source_fill(&ds->in, CHUNK_TABLE_MAX_NBYTES, &avail, eb);
		if (st == GAUSS_OK) {
			cursor_init(&c, source_peek(&ds->in), avail);
			st = chunk_table_read(ds->kind, ds->fh.version, &c,
					      &ds->table, eb);
		}
		if (st != GAUSS_OK) {
			ds->block_left = 0;
			return st;
		}
		source_skip(&ds->in, (size_t)(c.p - source_peek(&ds->in)));
	}
	return GAUSS_OK;
}

/*
 * Parses the next nbytes of the current block (whole chunks, or the rest of
 * the block) into piece pc, its records from j->recs[*nrec].
 */
static enum gauss_status
read_piece(struct dstate *ds, struct djob *j, struct dpiece *pc,
	   size_t nbytes, size_t *nrec, size_t *in_len, size_t own_off,
	   struct errbuf *eb)
{
	const bool lossy = fmt_kind_is_gmm(ds->kind);

	pc->kind = ds->kind;
	pc->nbytes = nbytes;
	pc->unit = lossy ? pc->nbytes : (size_t)1 << ds->fh.chunk_log2;
	pc->seg_offset = ds->seg_offset;
	pc->seg_nbytes = ds->seg_nbytes;
	pc->boff = ds->seg_nbytes - ds->seg_left;
	pc->first_chunk = ds->chunk_index;
	pc->first_rec = *nrec;
	pc->nchunks = 0;
	if (ds->out.mem != NULL) {
		if (ds->read_nbytes + pc->nbytes > ds->out.mem_cap)
			return err_setf(eb, GAUSS_E_TOO_LARGE, "output does "
					"not fit in %zu bytes",
					ds->out.mem_cap);
		pc->dst = ds->out.mem + ds->read_nbytes;
	} else {
		pc->dst = j->own + own_off;
	}
	pc->has_table = ds->has_table;
	if (pc->has_table)
		pc->table = ds->table;
	for (size_t coff = 0; coff < pc->nbytes; coff += pc->unit) {
		const size_t cn = MIN(pc->unit, pc->nbytes - coff);
		const enum gauss_status st =
			read_record(ds, j, cn, in_len, &j->recs[*nrec], eb);

		if (st != GAUSS_OK)
			return err_prefix(eb, st, lossy ? "shard %llu" :
					  "chunk %llu",
					  (unsigned long long)(pc->first_chunk +
							       pc->nchunks));
		pc->nchunks++;
		(*nrec)++;
	}
	ds->chunk_index += pc->nchunks;
	ds->block_left -= pc->nbytes;
	ds->seg_left -= pc->nbytes;
	ds->read_nbytes += pc->nbytes;
	if (ds->seg_left == 0)
		TRY(seglist_add(&ds->segs, ds->kind, ds->seg_nbytes,
				ds->in.offset - ds->frame_start));
	return GAUSS_OK;
}

/*
 * Reads blocks into the job until it holds about ds->job_nbytes. A lossless
 * block may be cut, at a chunk boundary, between two jobs (each decodes its
 * chunks with the block's table), so that a large block does not make one
 * long job that leaves the other threads idle at the end. A failure after
 * the first piece is kept for the next job, so that the pieces before it
 * are decoded and written as a sequential decoder would.
 */
static enum gauss_status
d_read(void *user, void *job, bool *more, struct errbuf *eb)
{
	struct dstate *ds = user;
	struct djob *j = job;
	size_t in_len = 0, nrec = 0, total = 0;
	enum gauss_status st = GAUSS_OK;

	j->npieces = 0;
	j->seg_nbytes = 0;
	j->done = 0;
	if (ds->pending != GAUSS_OK) {
		j->seg_offset = ds->pending_offset;
		j->seg_nbytes = ds->pending_nbytes;
		if (eb)
			*eb = ds->pending_eb;
		return ds->pending;
	}
	/* smaller jobs towards the end, so that the threads end together */
	if (ds->expected_nbytes != UINT64_MAX)
		ds->job_nbytes = job_target(ds->fh.chunk_log2,
					    ds->fh.block_log2,
					    ds->expected_nbytes -
					    ds->read_nbytes, ds->threads);
	while (!ds->ended && j->npieces < JOB_MAX_PIECES) {
		struct dpiece *pc = &j->pieces[j->npieces];
		struct errbuf peb;
		size_t nbytes;

		peb.text[0] = '\0';
		if (ds->seg_left == 0) {
			bool end = false;

			st = read_frame_head(ds, &end, &peb);
			if (st != GAUSS_OK)
				goto fail;
			if (end) {
				ds->ended = true;
				break;
			}
		}
		if (ds->block_left == 0) {
			st = read_block_head(ds, &peb);
			if (st != GAUSS_OK)
				goto fail;
		}
		nbytes = (size_t)ds->block_left;
		if (total + nbytes > ds->job_nbytes) {
			const size_t unit = (size_t)1 << ds->fh.chunk_log2;
			const size_t room = (size_t)(ds->job_nbytes - total);

			if (!fmt_kind_is_gmm(ds->kind) && room >= unit)
				nbytes = room / unit * unit;
			else if (j->npieces > 0)
				break;
		}
		st = read_piece(ds, j, pc, nbytes, &nrec, &in_len, total, &peb);
		if (st != GAUSS_OK)
			goto fail;
		total += pc->nbytes;
		j->npieces++;
		continue;
fail:
		if (j->npieces == 0) {
			j->seg_offset = ds->seg_offset;
			j->seg_nbytes = ds->seg_left ? ds->seg_nbytes : 0;
			if (eb)
				*eb = peb;
			return st;
		}
		ds->pending = st;
		ds->pending_eb = peb;
		ds->pending_offset = ds->seg_offset;
		ds->pending_nbytes = ds->seg_left ? ds->seg_nbytes : 0;
		break;
	}
	j->in_end = ds->in.offset;
	*more = j->npieces > 0;
	return GAUSS_OK;
}

static enum gauss_status
d_compute(void *user, void *job, unsigned worker, struct errbuf *eb)
{
	struct dstate *ds = user;
	struct djob *j = job;

	for (unsigned p = 0; p < j->npieces; p++) {
		const struct dpiece *pc = &j->pieces[p];

		j->done = p;
		if (pc->has_table)
			rans_dtable_build_for(&pc->table, ds->fh.version,
					      ds->scratch[worker].kernels->slots,
					      j->dtable);
		for (size_t i = 0; i < pc->nchunks; i++) {
			const size_t coff = i * pc->unit;
			const struct drec *r = &j->recs[pc->first_rec + i];
			const size_t cn = MIN(pc->unit, pc->nbytes - coff);
			enum gauss_status st;

			if (i + 1 < pc->nchunks &&
			    MIN(pc->unit, pc->nbytes - coff - cn) == cn) {
				/* two chunks at once: the kernels overlap them */
				const uint8_t *const pl[2] = {
					r[0].payload, r[1].payload };
				const size_t pn[2] = { r[0].payload_nbytes,
						       r[1].payload_nbytes };
				const bool sd[2] = { r[0].stored,
						     r[1].stored };
				const uint64_t sum[2] = { r[0].checksum,
							  r[1].checksum };
				uint8_t *const dst[2] = { pc->dst + coff,
							  pc->dst + coff + cn };
				unsigned failed = 0;

				st = chunk_decode_pair(pc->kind, j->dtable, pl,
						       pn, sd, sum, dst, cn,
						       &ds->scratch[worker],
						       &failed, eb);
				if (st == GAUSS_OK) {
					if (ds->hash_early)	/* both */
						ds->hops->h128_update(
							ds->hash,
							pc->dst + coff,
							2 * cn);
					i++;
					continue;
				}
				i += failed;
			} else {
				st = chunk_decode(pc->kind, j->dtable,
						  r->payload, r->payload_nbytes,
						  r->stored, r->checksum,
						  pc->dst + coff, cn,
						  &ds->scratch[worker], eb);
				if (st == GAUSS_OK && ds->hash_early)
					ds->hops->h128_update(ds->hash,
							      pc->dst + coff,
							      cn);
			}
			if (st != GAUSS_OK) {
				j->seg_offset = pc->seg_offset;
				j->seg_nbytes = pc->seg_nbytes;
				return err_prefix(eb, st, fmt_kind_is_gmm(
							  pc->kind) ?
						  "shard %llu" : "chunk %llu",
						  (unsigned long long)
						  (pc->first_chunk + i));
			}
		}
	}
	return GAUSS_OK;
}

static enum gauss_status
d_write(void *user, void *job, struct errbuf *eb)
{
	struct dstate *ds = user;
	struct djob *j = job;

	for (unsigned p = 0; p < j->npieces; p++) {
		const struct dpiece *pc = &j->pieces[p];

		if (!ds->hash_early)
			ds->hops->h128_update(ds->hash, pc->dst, pc->nbytes);
		if (ds->out.mem != NULL)
			ds->out.offset += pc->nbytes;	/* decoded in place */
		else
			TRY(sink_write(&ds->out, pc->dst, pc->nbytes, eb));
		if (pc->seg_offset == 0 && ds->hdr_copy != NULL) {
			memcpy(ds->hdr_copy + pc->boff, pc->dst, pc->nbytes);
			if (pc->boff + pc->nbytes == pc->seg_nbytes)
				ds->hdr_full = (size_t)pc->seg_nbytes;
		}
		ds->original_nbytes += pc->nbytes;
	}
	__atomic_store_n(&ds->prog_done, ds->original_nbytes, __ATOMIC_RELAXED);
	__atomic_store_n(&ds->prog_in, j->in_end, __ATOMIC_RELAXED);
	return GAUSS_OK;
}

static int
d_progress(void *user)
{
	const struct dstate *ds = user;

	return ds->o->progress(ds->o->progress_user,
			       __atomic_load_n(&ds->prog_done,
					       __ATOMIC_RELAXED),
			       ds->expected_nbytes == UINT64_MAX ?
				       0 : ds->expected_nbytes,
			       __atomic_load_n(&ds->prog_in,
					       __ATOMIC_RELAXED));
}

/* After END: the index and the footer must describe what was decoded. */
static enum gauss_status
decompress_trailer(struct dstate *ds, struct errbuf *eb)
{
	const uint64_t index_offset = ds->in.offset;
	/* an index entry takes at most 21 bytes, 50 for a lossy one */
	const size_t most = VARINT_MAX_LEN +
			    (21 + FMT_GMM_STATS_NBYTES) * ds->segs.count +
			    FMT_FOOTER_NBYTES;
	struct fmt_footer f;
	struct fmt_index idx;
	uint8_t digest[16];
	const uint8_t *tail;
	size_t avail = 0;
	enum gauss_status st;

	TRY(source_fill(&ds->in, most + 1, &avail, eb));
	if (avail > most)
		return err_setf(eb, GAUSS_E_CORRUPT, "unexpected bytes after "
				"the last frame");
	if (avail < FMT_FOOTER_NBYTES)
		return err_setf(eb, GAUSS_E_CORRUPT, "file is truncated: the "
				"footer is missing");
	tail = source_peek(&ds->in);
	TRY(fmt_footer_read(tail + avail - FMT_FOOTER_NBYTES,
			    index_offset + avail, &f, eb));
	if (f.index_offset != index_offset)
		return err_setf(eb, GAUSS_E_CORRUPT, "footer does not match "
				"the frames");
	if (XXH3_64bits(tail, (size_t)f.index_nbytes) != f.index_hash)
		return err_setf(eb, GAUSS_E_CORRUPT, "index fails its check");
	TRY(fmt_index_parse(tail, (size_t)f.index_nbytes, &f, ds->fh.version,
			    &idx, eb));
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
	ds->hops->h128_digest(ds->hash, digest);
	if (memcmp(digest, f.original_hash, 16) != 0)
		return err_setf(eb, GAUSS_E_CHECKSUM, "checksum of the whole "
				"original does not match");
	source_skip(&ds->in, avail);
	return GAUSS_OK;
}

/* With a seekable input, the footer tells the original size up front. */
static void
peek_footer(struct dstate *ds, const struct pipe_in *in)
{
	uint8_t buf[FMT_FOOTER_NBYTES];
	const uint8_t *foot = buf;
	struct fmt_footer f;

	if (in->nbytes == UINT64_MAX || in->nbytes < FMT_FOOTER_NBYTES)
		return;
	if (in->mem != NULL)
		foot = in->mem + in->nbytes - FMT_FOOTER_NBYTES;
	else if (io_pread_full(in->fd, buf, sizeof(buf),
			       in->nbytes - FMT_FOOTER_NBYTES) != sizeof(buf))
		return;
	if (fmt_footer_read(foot, in->nbytes, &f, NULL) == GAUSS_OK)
		ds->expected_nbytes = f.original_nbytes;
}

static const struct pool_ops decompress_ops = {
	.read = d_read,
	.compute = d_compute,
	.write = d_write,
	.progress = d_progress,
};

/*
 * Largest block decoded from a stream whose size is unknown (a pipe): the
 * header's block size is all there is to size the jobs by. gauss writes
 * 4 MiB blocks; gauss(5) allows up to 16 GiB.
 */
#define DECODE_STREAM_BLOCK_LOG2_MAX 30

static void
djobs_free(struct pool_cache *cache, struct djob *jobs, unsigned n)
{
	if (jobs == NULL)
		return;
	for (unsigned i = 0; i < n; i++) {
		pool_free(cache, jobs[i].dtable);
		free(jobs[i].recs);
		pool_free(cache, jobs[i].in);
		pool_free(cache, jobs[i].own);
	}
	free(jobs);
}

static enum gauss_status
djobs_init(struct dstate *ds, const struct pipe_in *in, struct djob *jobs,
	   void **jobv, unsigned n)
{
	const size_t chunk_nbytes = (size_t)1 << ds->fh.chunk_log2;
	/*
	 * A job holds at most a block, and no more than the original when
	 * its size is known (the frames are held to it): a header declaring
	 * 16 GiB blocks costs nothing for a file of a few bytes.
	 */
	const uint64_t most = ds->expected_nbytes == UINT64_MAX ? UINT64_MAX :
			      MAX(ds->expected_nbytes / chunk_nbytes + 1, 1) *
			      chunk_nbytes;
	const size_t block_nbytes = (size_t)MIN((uint64_t)1 << ds->fh.block_log2,
						most);
	const size_t nchunks = block_nbytes / chunk_nbytes + JOB_MAX_PIECES;
	/* a job's records hold at most its bytes and their checksums */
	const size_t in_nbytes = block_nbytes + nchunks * FMT_CHECKSUM_NBYTES;

	for (unsigned i = 0; i < n; i++) {
		jobv[i] = &jobs[i];
		/* aligned (to 64) for the vector kernels */
		jobs[i].dtable = pool_alloc(ds->o->cache,
					    sizeof(*jobs[i].dtable));
		jobs[i].recs = calloc(nchunks, sizeof(*jobs[i].recs));
		if (in->mem == NULL)
			jobs[i].in = pool_alloc(ds->o->cache, in_nbytes);
		if (ds->out.mem == NULL)
			jobs[i].own = pool_alloc(ds->o->cache, block_nbytes);
		if (jobs[i].dtable == NULL || jobs[i].recs == NULL ||
		    (in->mem == NULL && jobs[i].in == NULL) ||
		    (ds->out.mem == NULL && jobs[i].own == NULL))
			return GAUSS_E_NOMEM;
	}
	return GAUSS_OK;
}

enum gauss_status
pipeline_decompress(const struct pipeline_opts *o, const struct pipe_in *in,
		    const struct pipe_out *out, struct pipe_sizes *sizes_ret,
		    struct errbuf *eb)
{
	const unsigned threads = resolve_threads(o);
	const unsigned nslots = threads + 2;
	unsigned workers;
	struct dstate ds = {
		.o = o,
		.expected_nbytes = UINT64_MAX,
	};
	struct pool_ops ops = decompress_ops;
	struct djob *jobs = NULL;
	void **jobv = NULL;
	int fail_slot = -1;
	enum gauss_status st;
	size_t avail = 0;

	st = source_init(&ds.in, o, in, (size_t)1 << 16, eb);
	if (st == GAUSS_OK)
		st = sink_init(&ds.out, o, out, eb);
	if (st != GAUSS_OK)
		goto out;
	st = GAUSS_E_NOMEM;
	ds.hops = kernels_of(o)->hash;
	ds.hash = ds.hops->h128_new();
	if (ds.hash == NULL)
		goto out;
	peek_footer(&ds, in);
	st = source_fill(&ds.in, FMT_HEADER_NBYTES, &avail, eb);
	if (st != GAUSS_OK)
		goto out;
	st = fmt_header_read(source_peek(&ds.in), avail, &ds.fh, eb);
	if (st != GAUSS_OK)
		goto out;
	source_skip(&ds.in, FMT_HEADER_NBYTES);
	if (ds.expected_nbytes == UINT64_MAX &&
	    ds.fh.block_log2 > DECODE_STREAM_BLOCK_LOG2_MAX) {
		st = err_setf(eb, GAUSS_E_TOO_LARGE, "blocks of 2^%u bytes are "
			      "more than gauss decodes from a stream (2^%u)",
			      ds.fh.block_log2, DECODE_STREAM_BLOCK_LOG2_MAX);
		goto out;
	}
	st = GAUSS_E_NOMEM;
	jobs = calloc(nslots, sizeof(*jobs));
	jobv = calloc(nslots, sizeof(*jobv));
	if (jobs == NULL || jobv == NULL ||
	    djobs_init(&ds, in, jobs, jobv, nslots) != GAUSS_OK ||
	    scratches_init(o, &ds.scratch, threads,
			   (size_t)1 << ds.fh.chunk_log2) != GAUSS_OK)
		goto out;
	if (o->progress == NULL)
		ops.progress = NULL;
	ds.threads = threads;
	ds.job_nbytes = job_target(ds.fh.chunk_log2, ds.fh.block_log2,
				   ds.expected_nbytes, threads);
	workers = ds.expected_nbytes == UINT64_MAX ? threads :
		  (unsigned)MIN((uint64_t)threads,
				ds.expected_nbytes / ds.job_nbytes + 1);
	ds.hash_early = workers == 1;
	st = pool_run(o->team, &ops, &ds, jobv, nslots, workers, &fail_slot,
		      eb);
	if (st != GAUSS_OK && fail_slot >= 0 && jobs[fail_slot].seg_nbytes) {
		const struct djob *j = &jobs[fail_slot];
		char what[160];

		/* the header may sit, decoded, in the failed job itself */
		for (unsigned p = 0; !ds.hdr_full && ds.hdr_copy != NULL &&
				     p < j->done; p++) {
			const struct dpiece *pc = &j->pieces[p];

			if (pc->seg_offset != 0)
				continue;
			memcpy(ds.hdr_copy + pc->boff, pc->dst, pc->nbytes);
			if (pc->boff + pc->nbytes == pc->seg_nbytes)
				ds.hdr_full = (size_t)pc->seg_nbytes;
		}
		if (ds.hdr_full)
			learn_names(&ds, ds.hdr_copy, ds.hdr_full);

		name_segment(&ds, jobs[fail_slot].seg_offset,
			     jobs[fail_slot].seg_nbytes, what, sizeof(what));
		err_prefix(eb, st, "%s", what);
	}
	if (st == GAUSS_OK)
		st = decompress_trailer(&ds, eb);
	if (st == GAUSS_OK)
		st = sink_flush(&ds.out, eb);
	if (st == GAUSS_OK && sizes_ret)
		*sizes_ret = (struct pipe_sizes){
			.in_nbytes = ds.in.offset,
			.out_nbytes = ds.original_nbytes,
		};
out:
	djobs_free(o->cache, jobs, nslots);
	free(jobv);
	scratches_free(o, ds.scratch, threads);
	st_header_free(&ds.st);
	free(ds.hdr_copy);
	if (ds.hops)
		ds.hops->h128_free(ds.hash);
	source_free(&ds.in);
	io_stream_close(ds.out.io);
	free(ds.segs.v);
	return st;
}
