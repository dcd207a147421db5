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
	gmm_scratch_free(s->gmm);
	memset(s, 0, sizeof(*s));
}

enum gauss_status
chunk_table_read(enum fmt_kind kind, struct cursor *c, struct rans_table *t,
		 struct errbuf *eb)
{
	const unsigned nsyms = kind == FMT_KIND_EXP_F16 ? 32 : 256;

	TRY(rans_table_read(c, t, eb));
	for (unsigned s = nsyms; s < 256; s++)
		if (t->freq[s])
			return err_setf(eb, GAUSS_E_CORRUPT, "frequency table "
					"holds symbol %u, beyond the %u of %s",
					s, nsyms, fmt_kind_name(kind));
	return GAUSS_OK;
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

size_t
chunk_encode(enum fmt_kind kind, const struct rans_etable *t,
	     const uint8_t *src, size_t nbytes, uint8_t *out,
	     struct chunk_scratch *s)
{
	const uint64_t checksum = s->kernels->hash->h64(src, nbytes);
	const size_t n = nbytes / split_elem_nbytes(kind);
	const size_t raw_nbytes = split_raw_nbytes(kind, n);
	size_t stream_nbytes = 0;
	uint8_t *const body = out + varint_len((uint64_t)nbytes << 1);

	if (kind == FMT_KIND_STORED || n == 0 || raw_nbytes >= nbytes)
		goto stored;
	GAUSS_ASSERT(nbytes <= s->cap_nbytes);
	split_planes(kind, src, n, s->syms, s->raw);
	if (t->nsym > 1) {
		/*
		 * The stream goes where the payload will sit, after a header
		 * no longer than the stored one's; it must leave the payload
		 * strictly smaller than the original.
		 */
		stream_nbytes = s->kernels->encode(t, s->syms, n, body,
						   nbytes - raw_nbytes - 1);
		if (stream_nbytes == 0)
			goto stored;
	}
	memcpy(body + stream_nbytes, s->raw, raw_nbytes);
	return put_record(out, body, stream_nbytes + raw_nbytes, false,
			  checksum);
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
	} else {
		const size_t n = nbytes / split_elem_nbytes(kind);
		const size_t raw_nbytes = split_raw_nbytes(kind, n);
		size_t stream_nbytes;

		if (n * split_elem_nbytes(kind) != nbytes ||
		    payload_nbytes < raw_nbytes)
			return err_setf(eb, GAUSS_E_CORRUPT, "coded chunk is "
					"shorter than its raw plane");
		stream_nbytes = payload_nbytes - raw_nbytes;
		/*
		 * The unused high bits of an fp16 plane's last byte are zero
		 * (gauss(5)); no checksum covers them, so a change there is
		 * caught here or not at all.
		 */
		if (kind == FMT_KIND_EXP_F16 && (3 * n) % 8 &&
		    payload[payload_nbytes - 1] >> ((3 * n) % 8))
			return err_setf(eb, GAUSS_E_CORRUPT, "non-zero padding "
					"bits after the fp16 plane");
		if (d->nsym == 1) {
			if (stream_nbytes != 0)
				return err_setf(eb, GAUSS_E_CORRUPT, "chunk of "
						"a one-symbol table has a "
						"stream");
			split_merge_const(kind, d->only_symbol,
					  payload, n, dst);
		} else if (kind == FMT_KIND_EXP_BF16) {
			if (s->kernels->decode_bf16(d, payload, stream_nbytes,
						    payload + stream_nbytes,
						    dst, n) != GAUSS_OK)
				goto damaged;
		} else {
			GAUSS_ASSERT(nbytes <= s->cap_nbytes);
			if (s->kernels->decode(d, payload, stream_nbytes,
					       s->syms, n) != GAUSS_OK)
				goto damaged;
			split_merge(kind, s->syms, payload + stream_nbytes, n,
				    dst);
		}
	}
	if (s->kernels->hash->h64(dst, nbytes) != checksum)
		return err_setf(eb, GAUSS_E_CHECKSUM, "checksum mismatch");
	return GAUSS_OK;
damaged:
	return err_setf(eb, GAUSS_E_CORRUPT, "rANS stream is damaged");
}
