/* SPDX-License-Identifier: MIT */
/* chunk.c: encode, parse and decode one chunk record. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "chunk.h"
#include "cpu.h"
#include "endian.h"
#include "gmm.h"
#include "split.h"
#include "banned.h"

enum gauss_status
chunk_scratch_init(struct chunk_scratch *s, size_t chunk_nbytes)
{
	memset(s, 0, sizeof(*s));
	/* raw planes never exceed the original bytes; +8 for f16 packing */
	s->syms = malloc(chunk_nbytes + 8);
	s->raw = malloc(chunk_nbytes + 8);
	s->etable = malloc(sizeof(*s->etable));
	s->cap_nbytes = chunk_nbytes;
	s->kernels = rans_kernels_of(CPU_SCALAR);
	for (int l = CPU_LEVEL_COUNT - 1; l > CPU_SCALAR; l--)
		if (cpu_level_available((enum cpu_level)l)) {
			s->kernels = rans_kernels_of((enum cpu_level)l);
			break;
		}
	if (s->syms == NULL || s->raw == NULL || s->etable == NULL) {
		chunk_scratch_free(s);
		return GAUSS_E_NOMEM;
	}
	return GAUSS_OK;
}

void
chunk_scratch_free(struct chunk_scratch *s)
{
	free(s->syms);
	free(s->raw);
	free(s->etable);
	free(s->zruns);
	gmm_scratch_free(s->gmm);
	memset(s, 0, sizeof(*s));
}

enum gauss_status
chunk_zruns_reserve(struct chunk_scratch *s, size_t nruns, struct errbuf *eb)
{
	struct chunk_zrun *p;

	if (nruns <= s->zruns_cap)
		return GAUSS_OK;
	p = realloc(s->zruns, nruns * sizeof(*p));
	if (p == NULL)
		return err_setf(eb, GAUSS_E_NOMEM, "out of memory for %zu "
				"zero runs", nruns);
	s->zruns = p;
	s->zruns_cap = nruns;
	return GAUSS_OK;
}

/* Is element i (es bytes) of src all zero bytes? */
static inline bool
elem_zero(const uint8_t *src, size_t es, size_t i)
{
	return es == 2 ? get_le16(src + 2 * i) == 0 :
			 get_le32(src + 4 * i) == 0;
}

/* Are the 16 elements (es bytes each) at p all zero bytes? */
static inline bool
group_zero(const uint8_t *p, size_t es)
{
	uint64_t acc = 0;

	for (size_t k = 0; k < 2 * es; k++) {
		uint64_t v;	/* byte order does not matter to a zero test */

		memcpy(&v, p + 8 * k, 8);
		acc |= v;
	}
	return acc == 0;
}

/*
 * The scan tests aligned groups of 16 elements and only looks at single
 * elements around two groups of zeros in a row: it finds every maximal run
 * that holds 32 aligned zeros, which every run of 47 or more does, and
 * skips most short ones cheaply (in a randomly pruned tensor, runs of 32
 * to 46 zeros are common and do not pay for their place in the list).
 */
_Static_assert(FMT_ZRUN_MIN <= 32, "a found run must be long enough");

static inline __attribute__((always_inline)) size_t
zruns_find(const uint8_t *src, size_t n, struct chunk_zrun *runs,
	   const size_t es)
{
	size_t count = 0, done = 0;	/* elements before done are seen */

	for (size_t g = 0; g + 32 <= n; g += 16) {
		size_t a = g, b = g + 32;

		if (g < done || !group_zero(src + g * es, es) ||
		    !group_zero(src + (g + 16) * es, es))
			continue;
		while (a > done && elem_zero(src, es, a - 1))
			a--;
		while (b + 16 <= n && group_zero(src + b * es, es))
			b += 16;
		while (b < n && elem_zero(src, es, b))
			b++;
		runs[count].start = (uint32_t)a;
		runs[count].len = (uint32_t)(b - a);
		count++;
		done = b;
	}
	return count;
}

size_t
chunk_zruns_find(enum fmt_kind kind, const uint8_t *src, size_t n,
		 struct chunk_zrun *runs)
{
	return split_elem_nbytes(kind) == 4 ? zruns_find(src, n, runs, 4) :
					      zruns_find(src, n, runs, 2);
}

/*
 * The top-mantissa-bit part of a table: for exp-bf16 blocks (version 6 on)
 * and exp-f16 and exp-f32 ones (version 7 on) without whole values; the
 * base byte, and every listed symbol plus twice the base naming an
 * exponent and top mantissa bit (9 bits, 6 for fp16).
 */
static enum gauss_status
m1_read(enum fmt_kind kind, unsigned version, struct cursor *c,
	struct rans_table *t, struct errbuf *eb)
{
	struct rans_whole *w = &t->whole;
	const unsigned top = kind == FMT_KIND_EXP_F16 ? 63 : 511;
	const uint8_t *p;

	if ((kind != FMT_KIND_EXP_BF16 && version < FMT_VERSION_M1_ALL) ||
	    w->count)
		return err_setf(eb, GAUSS_E_CORRUPT, "top-mantissa-bit flag "
				"on a %s block%s", fmt_kind_name(kind),
				w->count ? " with whole values" : "");
	if ((p = cursor_take(c, 1)) == NULL)
		return err_setf(eb, GAUSS_E_CORRUPT, "block flags are "
				"truncated");
	w->m1_base = *p;
	for (unsigned s = 256 - 1; s + 2u * w->m1_base > top; s--)
		if (t->freq[s])
			return err_setf(eb, GAUSS_E_CORRUPT, "frequency table "
					"holds symbol %u, beyond the exponents "
					"of base %u", s, w->m1_base);
	return GAUSS_OK;
}

enum gauss_status
chunk_table_read(enum fmt_kind kind, unsigned version, struct cursor *c,
		 struct rans_table *t, struct errbuf *eb)
{
	const unsigned nsyms = kind == FMT_KIND_EXP_F16 ? 32 : 256;
	struct rans_whole *w = &t->whole;

	/* version 7 bytes tables: a head byte, precision and lane unit */
	if (version >= FMT_VERSION_FINE && kind == FMT_KIND_BYTES) {
		const uint8_t *p = cursor_take(c, 1);
		unsigned bits, unit;

		if (p == NULL)
			return err_setf(eb, GAUSS_E_CORRUPT, "frequency table "
					"is truncated");
		bits = *p & 15;
		unit = RANS_LANE_UNIT_V4 << (*p >> FMT_FINE_UNIT_SHIFT);
		if (bits != RANS_SCALE_BITS && bits != RANS_FINE_BITS)
			return err_setf(eb, GAUSS_E_CORRUPT, "frequency table "
					"has a precision of %u bits, not %u or "
					"%u", bits, RANS_SCALE_BITS,
					RANS_FINE_BITS);
		if (unit > RANS_LANE_UNIT_MAX)
			return err_setf(eb, GAUSS_E_CORRUPT, "frequency table "
					"has a lane unit of %u elements, more "
					"than %u", unit, RANS_LANE_UNIT_MAX);
		TRY(rans_table_read_bits(c, bits, t, eb));
		t->lane_unit = unit;
		return GAUSS_OK;
	}
	TRY(rans_table_read(c, t, eb));
	if (version >= FMT_VERSION_WHOLE && fmt_kind_is_float(kind)) {
		const unsigned es = fmt_kind_elem_nbytes(kind);
		const uint8_t *p = cursor_take(c, 1);

		if (p == NULL)
			return err_setf(eb, GAUSS_E_CORRUPT, "whole-value "
					"list is truncated");
		w->count = *p;
		if (w->count > RANS_WHOLE_MAX)
			return err_setf(eb, GAUSS_E_CORRUPT, "whole-value "
					"list holds %u values, more than %u",
					w->count, RANS_WHOLE_MAX);
		for (unsigned i = 0; i < w->count; i++) {
			if ((p = cursor_take(c, 1 + es)) == NULL)
				return err_setf(eb, GAUSS_E_CORRUPT,
						"whole-value list is "
						"truncated");
			w->code[i] = p[0];
			w->value[i] = es == 2 ? get_le16(p + 1) :
						get_le32(p + 1);
			if ((i > 0 && w->code[i] <= w->code[i - 1]) ||
			    t->freq[w->code[i]] == 0)
				return err_setf(eb, GAUSS_E_CORRUPT,
						"whole value %u has symbol "
						"%u, not increasing or not "
						"in the table", i,
						w->code[i]);
		}
		rans_whole_finish(w);
	}
	if (version >= FMT_VERSION_ZRUNS && fmt_kind_is_float(kind)) {
		const uint8_t *p = cursor_take(c, 1);

		if (p == NULL)
			return err_setf(eb, GAUSS_E_CORRUPT, "block flags are "
					"truncated");
		if (*p & ~(FMT_BLOCK_ZRUNS | (version >= FMT_VERSION_M1 ?
					      FMT_BLOCK_M1 : 0)))
			return err_setf(eb, GAUSS_E_CORRUPT, "block flags "
					"0x%02x hold an unknown bit", *p);
		w->flags = *p;
	}
	if (w->flags & FMT_BLOCK_M1)
		return m1_read(kind, version, c, t, eb);
	for (unsigned s = nsyms; s < 256; s++)
		if (t->freq[s] && !w->is_whole[s])
			return err_setf(eb, GAUSS_E_CORRUPT, "frequency table "
					"holds symbol %u, beyond the %u of %s",
					s, nsyms, fmt_kind_name(kind));
	return GAUSS_OK;
}

size_t
chunk_table_write(enum fmt_kind kind, const struct rans_table *t,
		  uint8_t *out)
{
	size_t n = 0;

	GAUSS_ASSERT(kind == FMT_KIND_BYTES ||
		     t->scale_bits == RANS_SCALE_BITS);
	if (kind == FMT_KIND_BYTES) {
		const unsigned unit = t->lane_unit ? t->lane_unit :
						     RANS_LANE_UNIT_V4;

		GAUSS_ASSERT(unit >= RANS_LANE_UNIT_V4 &&
			     unit <= RANS_LANE_UNIT_MAX &&
			     (unit & (unit - 1)) == 0);
		out[n++] = (uint8_t)(t->scale_bits |
				     __builtin_ctz(unit / RANS_LANE_UNIT_V4)
				     << FMT_FINE_UNIT_SHIFT);
	}
	n += rans_table_write(t, out + n);

	if (fmt_kind_is_float(kind)) {
		const unsigned es = fmt_kind_elem_nbytes(kind);

		out[n++] = (uint8_t)t->whole.count;
		for (unsigned i = 0; i < t->whole.count; i++) {
			out[n++] = t->whole.code[i];
			if (es == 2)
				put_le16(out + n, (uint16_t)t->whole.value[i]);
			else
				put_le32(out + n, t->whole.value[i]);
			n += es;
		}
		out[n++] = t->whole.flags;
		if (t->whole.flags & FMT_BLOCK_M1)
			out[n++] = t->whole.m1_base;
	}
	return n;
}

static size_t
put_record(uint8_t *out, const uint8_t *payload, size_t payload_nbytes,
	   bool stored, uint64_t checksum)
{
	size_t n = varint_put(out, ((uint64_t)payload_nbytes << 1) | stored);

	if (payload != out + n)
		memmove(out + n, payload, payload_nbytes);
	n += payload_nbytes;
	put_le64(out + n, checksum);
	return n + FMT_CHECKSUM_NBYTES;
}

/*
 * Codes n elements at src under a table with whole values into body: varint
 * stream bytes, stream, raw plane of the values that are not whole. Returns
 * the payload size, or SIZE_MAX when it would take more than cap bytes.
 */
static size_t
payload_whole(enum fmt_kind kind, const struct rans_etable *t,
	      const uint8_t *src, size_t n, uint8_t *body, size_t cap,
	      struct chunk_scratch *s)
{
	const size_t vlen = varint_len(cap);
	size_t m, raw_nbytes, stream_nbytes = 0, len;

	m = s->kernels->planes_whole(kind, &t->whole, src, n, s->syms,
				     s->raw);
	if (m == SIZE_MAX)
		return SIZE_MAX;
	raw_nbytes = split_raw_nbytes(kind, m);
	if (raw_nbytes + vlen >= cap)
		return SIZE_MAX;
	if (t->nsym > 1) {
		stream_nbytes = s->kernels->encode(t, s->syms, n, body + vlen,
						   cap - raw_nbytes - vlen);
		if (stream_nbytes == 0)
			return SIZE_MAX;
	}
	len = varint_put(body, stream_nbytes);
	if (len != vlen)
		memmove(body + len, body + vlen, stream_nbytes);
	len += stream_nbytes;
	memcpy(body + len, s->raw, raw_nbytes);
	return len + raw_nbytes;
}

/*
 * Codes n elements at src (n > 0) into body: the stream, then the raw
 * plane (of the top mantissa bit's layout when the table says so, or
 * payload_whole()'s). Returns the payload size, or SIZE_MAX when it would
 * take more than cap bytes.
 */
static size_t
payload_code(enum fmt_kind kind, const struct rans_etable *t,
	     const uint8_t *src, size_t n, uint8_t *body, size_t cap,
	     struct chunk_scratch *s)
{
	const bool m1 = t->whole.flags & FMT_BLOCK_M1;
	const size_t raw_nbytes = m1 ? split_raw_nbytes_m1_kind(kind, n) :
				       split_raw_nbytes(kind, n);
	size_t stream_nbytes = 0;

	if (t->whole.count)
		return payload_whole(kind, t, src, n, body, cap, s);
	if (raw_nbytes > cap)
		return SIZE_MAX;
	if (!m1)
		split_planes(kind, src, n, s->syms, s->raw);
	else if (kind == FMT_KIND_EXP_BF16 ?
		 !s->kernels->planes_m1(src, n, t->whole.m1_base, s->syms,
					s->raw) :
		 !split_planes_m1_kind(kind, src, n, t->whole.m1_base,
				       s->syms, s->raw))
		return SIZE_MAX;	/* a table not made for these values */
	if (t->nsym > 1) {
		stream_nbytes = t->scale_bits == RANS_FINE_BITS ?
			s->kernels->fine_encode(t, s->syms, n, body,
						cap - raw_nbytes) :
			s->kernels->encode(t, s->syms, n, body,
					   cap - raw_nbytes);
		if (stream_nbytes == 0)
			return SIZE_MAX;
	}
	memcpy(body + stream_nbytes, s->raw, raw_nbytes);
	return stream_nbytes + raw_nbytes;
}

size_t
chunk_encode(enum fmt_kind kind, const struct rans_etable *t,
	     const uint8_t *src, size_t nbytes, uint8_t *out,
	     struct chunk_scratch *s)
{
	return chunk_encode_zruns(kind, t, src, nbytes, NULL, 0, NULL, out,
				  s);
}

size_t
chunk_encode_zruns(enum fmt_kind kind, const struct rans_etable *t,
		   const uint8_t *src, size_t nbytes,
		   const struct chunk_zrun *runs, size_t nruns,
		   const uint8_t *rest, uint8_t *out, struct chunk_scratch *s)
{
	const uint64_t checksum = s->kernels->hash->h64(src, nbytes);
	const size_t es = split_elem_nbytes(kind);
	const size_t n = nbytes / es;
	/* the payload goes after a header no longer than the stored one's
	 * and must be strictly smaller than the original */
	uint8_t *const body = out + varint_len((uint64_t)nbytes << 1);
	size_t len = 0, m = n, inner;

	if (kind == FMT_KIND_STORED || n == 0)
		goto stored;
	GAUSS_ASSERT(nbytes <= s->cap_nbytes);
	if (t->whole.flags & FMT_BLOCK_ZRUNS) {
		uint64_t end = 0;

		len = varint_put(body, nruns);
		for (size_t i = 0; i < nruns; i++) {
			GAUSS_ASSERT(runs[i].start >= end &&
				     runs[i].len >= FMT_ZRUN_MIN);
			len += varint_put(body + len, runs[i].start - end);
			len += varint_put(body + len,
					  runs[i].len - FMT_ZRUN_MIN);
			end = (uint64_t)runs[i].start + runs[i].len;
			m -= runs[i].len;
		}
		if (len >= nbytes)
			goto stored;
	}
	if (nruns == 0)
		rest = src;
	if (m == 0)
		return put_record(out, body, len, false, checksum);
	inner = payload_code(kind, t, rest, m, body + len, nbytes - 1 - len,
			     s);
	if (inner == SIZE_MAX)
		goto stored;
	return put_record(out, body, len + inner, false, checksum);
stored:
	return put_record(out, src, nbytes, true, checksum);
}

enum gauss_status
chunk_parse(struct cursor *c, size_t nbytes, const uint8_t **payload_ret,
	    size_t *payload_nbytes_ret, bool *stored_ret,
	    uint64_t *checksum_ret, struct errbuf *eb)
{
	uint64_t head;
	const uint8_t *sum;

	if (!cursor_varint(c, &head))
		return err_setf(eb, GAUSS_E_CORRUPT, "chunk header is "
				"truncated or invalid");
	*stored_ret = head & 1;
	head >>= 1;
	if (head > nbytes || (*stored_ret && head != nbytes))
		return err_setf(eb, GAUSS_E_CORRUPT, "chunk declares %llu "
				"bytes for %zu original bytes",
				(unsigned long long)head, nbytes);
	*payload_nbytes_ret = (size_t)head;
	*payload_ret = cursor_take(c, head);
	sum = cursor_take(c, FMT_CHECKSUM_NBYTES);
	if (*payload_ret == NULL || sum == NULL)
		return err_setf(eb, GAUSS_E_CORRUPT, "chunk is truncated");
	*checksum_ret = get_le64(sum);
	return GAUSS_OK;
}

/* Decodes a coded chunk under a table with whole values (encode_whole). */
static enum gauss_status
decode_whole(enum fmt_kind kind, const struct rans_dtable *d,
	     const uint8_t *payload, size_t payload_nbytes, uint8_t *dst,
	     size_t nbytes, struct chunk_scratch *s, struct errbuf *eb)
{
	const size_t n = nbytes / split_elem_nbytes(kind);
	struct cursor c;
	const uint8_t *stream, *raw;
	uint64_t stream_nbytes;
	size_t m, raw_nbytes;

	GAUSS_ASSERT(nbytes <= s->cap_nbytes);
	if (n * split_elem_nbytes(kind) != nbytes)
		return err_setf(eb, GAUSS_E_CORRUPT, "chunk is not a whole "
				"number of elements");
	cursor_init(&c, payload, payload_nbytes);
	if (!cursor_varint(&c, &stream_nbytes) ||
	    stream_nbytes > (uint64_t)(c.end - c.p))
		return err_setf(eb, GAUSS_E_CORRUPT, "coded chunk has an "
				"invalid stream size");
	stream = cursor_take(&c, (size_t)stream_nbytes);
	raw = c.p;
	raw_nbytes = (size_t)(c.end - raw);
	if (d->nsym == 1) {
		if (stream_nbytes != 0)
			return err_setf(eb, GAUSS_E_CORRUPT, "chunk of a "
					"one-symbol table has a stream");
		memset(s->syms, d->only_symbol, n);
	} else if (s->kernels->decode(d, stream, (size_t)stream_nbytes,
				      s->syms, n) != GAUSS_OK) {
		return err_setf(eb, GAUSS_E_CORRUPT, "rANS stream is damaged");
	}
	/*
	 * The raw plane's entries: for bf16 and fp32 what its size says (the
	 * merge then checks the elements take exactly those); for fp16, whose
	 * packed plane starts after one byte per entry, counted first.
	 */
	if (kind == FMT_KIND_EXP_F16) {
		m = split_count_unwhole(&d->whole, s->syms, n);
		if (raw_nbytes != split_raw_nbytes(kind, m))
			goto wrong_size;
		if ((3 * m) % 8 && raw[raw_nbytes - 1] >> ((3 * m) % 8))
			return err_setf(eb, GAUSS_E_CORRUPT, "non-zero "
					"padding bits after the fp16 plane");
	} else {
		const size_t entry = split_raw_nbytes(kind, 1);

		m = raw_nbytes / entry;
		if (m * entry != raw_nbytes)
			goto wrong_size;
	}
	if (s->kernels->merge_whole(kind, &d->whole, s->syms, raw, n, m,
				    dst) != m)
		goto wrong_size;
	return GAUSS_OK;
wrong_size:
	return err_setf(eb, GAUSS_E_CORRUPT, "raw plane of %zu bytes does "
			"not match the chunk's symbols", raw_nbytes);
}

/*
 * Decodes the coded payload of nbytes original bytes (a whole number of
 * elements, nbytes > 0) of a table's float or byte kind into dst.
 */
static enum gauss_status
decode_coded(enum fmt_kind kind, const struct rans_dtable *d,
	     const uint8_t *payload, size_t payload_nbytes, uint8_t *dst,
	     size_t nbytes, struct chunk_scratch *s, struct errbuf *eb)
{
	const size_t n = nbytes / split_elem_nbytes(kind);
	/* the top mantissa bit: float kinds without whole values */
	const bool m1 = d->whole.flags & FMT_BLOCK_M1;
	const size_t raw_nbytes = m1 ? split_raw_nbytes_m1_kind(kind, n) :
				       split_raw_nbytes(kind, n);
	size_t stream_nbytes;

	if (d->whole.count)
		return decode_whole(kind, d, payload, payload_nbytes, dst,
				    nbytes, s, eb);
	if (n * split_elem_nbytes(kind) != nbytes ||
	    payload_nbytes < raw_nbytes)
		return err_setf(eb, GAUSS_E_CORRUPT, "coded chunk is "
				"shorter than its raw plane");
	stream_nbytes = payload_nbytes - raw_nbytes;
	/*
	 * The unused high bits of an fp16 plane's last byte are zero
	 * (gauss(5)); no checksum covers them, so a change there is caught
	 * here or not at all.
	 */
	if (!m1 && kind == FMT_KIND_EXP_F16 && (3 * n) % 8 &&
	    payload[payload_nbytes - 1] >> ((3 * n) % 8))
		return err_setf(eb, GAUSS_E_CORRUPT, "non-zero padding bits "
				"after the fp16 plane");
	/* so are the unused bits of a top-mantissa-bit plane */
	if (m1 && !split_m1_padding_ok(kind, payload + stream_nbytes, n))
		return err_setf(eb, GAUSS_E_CORRUPT, "non-zero padding bits "
				"in the raw plane");
	if (d->nsym == 1) {
		if (stream_nbytes != 0)
			return err_setf(eb, GAUSS_E_CORRUPT, "chunk of a "
					"one-symbol table has a stream");
		if (m1) {
			GAUSS_ASSERT(nbytes <= s->cap_nbytes);
			memset(s->syms, d->only_symbol, n);
			if (kind == FMT_KIND_EXP_BF16)
				s->kernels->merge_m1(s->syms, payload, n,
						     d->whole.m1_base, dst);
			else
				split_merge_m1_kind(kind, s->syms, payload, n,
						    d->whole.m1_base, dst);
		} else {
			split_merge_const(kind, d->only_symbol, payload, n,
					  dst);
		}
	} else if (d->scale_bits == RANS_FINE_BITS) {
		/* bytes only (chunk_table_read()): the symbols are the bytes */
		if (s->kernels->fine_decode(d, payload, stream_nbytes, dst,
					    n) != GAUSS_OK)
			goto damaged;
	} else if (kind == FMT_KIND_EXP_BF16) {
		if (s->kernels->decode_bf16(d, payload, stream_nbytes,
					    payload + stream_nbytes, dst,
					    n) != GAUSS_OK)
			goto damaged;
	} else {
		GAUSS_ASSERT(nbytes <= s->cap_nbytes);
		if (s->kernels->decode(d, payload, stream_nbytes, s->syms,
				       n) != GAUSS_OK)
			goto damaged;
		if (m1)
			split_merge_m1_kind(kind, s->syms,
					    payload + stream_nbytes, n,
					    d->whole.m1_base, dst);
		else
			split_merge(kind, s->syms, payload + stream_nbytes, n,
				    dst);
	}
	return GAUSS_OK;
damaged:
	return err_setf(eb, GAUSS_E_CORRUPT, "rANS stream is damaged");
}

/*
 * Decodes a coded chunk of a block with zero runs: reads the run list,
 * decodes the other elements to the front of dst, then moves them to their
 * places from the last one back, zeroing each run as it is passed.
 */
static enum gauss_status
decode_zruns(enum fmt_kind kind, const struct rans_dtable *d,
	     const uint8_t *payload, size_t payload_nbytes, uint8_t *dst,
	     size_t nbytes, struct chunk_scratch *s, struct errbuf *eb)
{
	const size_t es = split_elem_nbytes(kind);
	const size_t n = nbytes / es;
	struct chunk_zrun *runs;
	struct cursor c;
	uint64_t nruns, end = 0;
	size_t m = n, next;

	if (n * es != nbytes)
		return err_setf(eb, GAUSS_E_CORRUPT, "chunk is not a whole "
				"number of elements");
	cursor_init(&c, payload, payload_nbytes);
	if (!cursor_varint(&c, &nruns) || nruns > n / FMT_ZRUN_MIN)
		return err_setf(eb, GAUSS_E_CORRUPT, "zero-run list is "
				"invalid");
	TRY(chunk_zruns_reserve(s, (size_t)nruns, eb));
	runs = s->zruns;
	for (size_t i = 0; i < nruns; i++) {
		uint64_t gap, len;

		if (!cursor_varint(&c, &gap) || !cursor_varint(&c, &len) ||
		    gap > n - end || n - end - gap < FMT_ZRUN_MIN ||
		    len > n - end - gap - FMT_ZRUN_MIN)
			return err_setf(eb, GAUSS_E_CORRUPT, "zero run %zu "
					"is invalid or past the chunk's %zu "
					"elements", i, n);
		runs[i].start = (uint32_t)(end + gap);
		runs[i].len = (uint32_t)(len + FMT_ZRUN_MIN);
		end += gap + len + FMT_ZRUN_MIN;
		m -= runs[i].len;
	}
	if (m == 0) {
		if (c.p != c.end)
			return err_setf(eb, GAUSS_E_CORRUPT, "chunk of zero "
					"runs only has %zu stray bytes",
					(size_t)(c.end - c.p));
	} else {
		TRY(decode_coded(kind, d, c.p, (size_t)(c.end - c.p), dst,
				 m * es, s, eb));
	}
	next = n;			/* elements from here on are placed */
	for (size_t i = (size_t)nruns; i-- > 0;) {
		const size_t after = runs[i].start + runs[i].len;
		const size_t tail = next - after;

		m -= tail;
		memmove(dst + after * es, dst + m * es, tail * es);
		memset(dst + (size_t)runs[i].start * es, 0,
		       (size_t)runs[i].len * es);
		next = runs[i].start;
	}
	GAUSS_ASSERT(m == next);
	return GAUSS_OK;
}

enum gauss_status
chunk_decode(enum fmt_kind kind, const struct rans_dtable *d,
	     const uint8_t *payload, size_t payload_nbytes, bool stored,
	     uint64_t checksum, uint8_t *dst, size_t nbytes,
	     struct chunk_scratch *s, struct errbuf *eb)
{
	if (stored || kind == FMT_KIND_STORED) {
		if (!stored || payload_nbytes != nbytes)
			return err_setf(eb, GAUSS_E_CORRUPT, "stored chunk "
					"has the wrong size");
		memcpy(dst, payload, nbytes);
	} else if (fmt_kind_is_gmm(kind)) {
		const unsigned es = fmt_kind_elem_nbytes(kind);

		if (nbytes % es != 0)
			return err_setf(eb, GAUSS_E_CORRUPT, "shard is not a "
					"whole number of elements");
		if (s->gmm == NULL && (s->gmm = gmm_scratch_new()) == NULL)
			return err_setf(eb, GAUSS_E_NOMEM, "out of memory");
		TRY(gmm_decode(fmt_gmm_dtype(kind), payload, payload_nbytes,
			       dst, nbytes / es, s->kernels, s->gmm, eb));
	} else if (d->whole.flags & FMT_BLOCK_ZRUNS) {
		TRY(decode_zruns(kind, d, payload, payload_nbytes, dst,
				 nbytes, s, eb));
	} else {
		TRY(decode_coded(kind, d, payload, payload_nbytes, dst,
				 nbytes, s, eb));
	}
	if (s->kernels->hash->h64(dst, nbytes) != checksum)
		return err_setf(eb, GAUSS_E_CHECKSUM, "checksum mismatch");
	return GAUSS_OK;
}

enum gauss_status
chunk_decode_pair(enum fmt_kind kind, const struct rans_dtable *d,
		  const uint8_t *const payload[2],
		  const size_t payload_nbytes[2], const bool stored[2],
		  const uint64_t checksum[2], uint8_t *const dst[2],
		  size_t nbytes, struct chunk_scratch *s, unsigned *failed,
		  struct errbuf *eb)
{
	const size_t n = nbytes / 2;
	const bool m1 = d->whole.flags == FMT_BLOCK_M1;
	const size_t raw_nbytes = m1 ? split_raw_nbytes_m1(n) : n;
	const uint8_t *raw[2];
	size_t stream_nbytes[2];
	enum gauss_status st[2];

	/* plain or top-mantissa-bit tables only; the rest one by one */
	if (kind != FMT_KIND_EXP_BF16 || d->nsym < 2 || d->whole.count ||
	    (d->whole.flags && !m1) ||
	    stored[0] || stored[1] || nbytes % 2 != 0 ||
	    payload_nbytes[0] < raw_nbytes || payload_nbytes[1] < raw_nbytes ||
	    (m1 && !(split_m1_tail_ok(payload[0] + payload_nbytes[0] -
				      raw_nbytes, n) &&
		     split_m1_tail_ok(payload[1] + payload_nbytes[1] -
				      raw_nbytes, n)))) {
		for (unsigned c = 0; c < 2; c++) {
			*failed = c;
			TRY(chunk_decode(kind, d, payload[c],
					 payload_nbytes[c], stored[c],
					 checksum[c], dst[c], nbytes, s, eb));
		}
		return GAUSS_OK;
	}
	for (unsigned c = 0; c < 2; c++) {
		stream_nbytes[c] = payload_nbytes[c] - raw_nbytes;
		raw[c] = payload[c] + stream_nbytes[c];
	}
	s->kernels->decode_bf16_pair(d, payload, stream_nbytes, raw, dst, n,
				     st);
	for (unsigned c = 0; c < 2; c++) {
		*failed = c;
		if (st[c] != GAUSS_OK)
			return err_setf(eb, GAUSS_E_CORRUPT, "rANS stream is "
					"damaged");
		if (s->kernels->hash->h64(dst[c], nbytes) != checksum[c])
			return err_setf(eb, GAUSS_E_CHECKSUM, "checksum "
					"mismatch");
	}
	return GAUSS_OK;
}
