/* SPDX-License-Identifier: MIT */
/*
 * lossy.c: the lossy mode in the container (lossy.h): routing, row shards,
 * and the shard record, checked against the bound before it is written.
 */
#include <math.h>
#include <string.h>

#include "common.h"
#include "cpu.h"
#include "endian.h"
#include "gmm_internal.h"
#include "hash.h"
#include "lossy.h"
#include "varint.h"
#include "banned.h"

void
lossy_opts_default(struct lossy_opts *o)
{
	memset(o, 0, sizeof(*o));
	gmm_options_default(&o->codec);
	o->shard_threshold = 5000000;
	o->shard_rows = 4096;
	o->raw_threshold = 32768;
}

/* Is name one of the comma-separated names of list? */
static bool
listed(const char *list, const char *name)
{
	const size_t n = strlen(name);

	for (const char *p = list; *p != '\0';) {
		const char *comma = strchr(p, ',');
		const size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == n && memcmp(p, name, n) == 0)
			return true;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return false;
}

enum fmt_kind
lossy_kind(const struct lossy_opts *o, const struct st_tensor *t)
{
	if (!o->on || t->ndim < 2 || t->element_count == 0 ||
	    t->element_count < o->raw_threshold ||
	    (o->layers != NULL && !listed(o->layers, t->name)))
		return FMT_KIND_STORED;
	switch (t->dtype) {
	case GAUSS_DTYPE_BF16:
		return FMT_KIND_GMM_BF16;
	case GAUSS_DTYPE_F16:
		return FMT_KIND_GMM_F16;
	case GAUSS_DTYPE_F32:
		return FMT_KIND_GMM_F32;
	default:
		return FMT_KIND_STORED;
	}
}

uint64_t
lossy_shard_nbytes(const struct lossy_opts *o, const struct st_tensor *t,
		   uint64_t block_nbytes)
{
	const uint64_t es = st_dtype_size(t->dtype);
	const uint64_t rows = t->shape[0];
	const uint64_t row = rows ? t->element_count / rows : 0;
	const uint64_t most = block_nbytes / es;	/* elements */
	uint64_t n = t->element_count;

	if (n > o->shard_threshold && rows > 0)
		n = MIN(o->shard_rows, rows) * row;
	if (n > most)
		n = row > 0 && row <= most ? most / row * row : most;
	return MAX(n, 1) * es;
}

void
lossy_stats_add(struct lossy_stats *total, const struct lossy_stats *s)
{
	total->k = MAX(total->k, s->k);
	total->scale = MAX(total->scale, s->scale);
	total->max_abs_error = MAX(total->max_abs_error, s->max_abs_error);
	total->sum_sq_error += s->sum_sq_error;
	total->sum += s->sum;
	total->sum_sq += s->sum_sq;
	total->finite += s->finite;
}

void
lossy_stats_finish(const struct lossy_stats *s, struct fmt_gmm_stats *g)
{
	const double n = (double)s->finite;

	g->k = s->k;
	g->scale = s->scale;
	g->max_abs_error = s->max_abs_error;
	g->rms_error = n > 0 ? sqrt(s->sum_sq_error / n) : 0.0;
	g->std = n > 0 ? sqrt(MAX(s->sum_sq / n - (s->sum / n) *
				  (s->sum / n), 0.0)) : 0.0;
}

/*
 * Checks every decoded value of a shard against its original, and measures
 * the errors. bound < 0: the shard must come back exactly.
 */
static enum gauss_status
check_values(enum gauss_dtype dtype, const uint8_t *orig, const uint8_t *dec,
	     size_t count, double bound, struct lossy_stats *s,
	     const struct rans_kernels *kernels, struct errbuf *eb)
{
	struct gmm_check c;

	memset(&c, 0, sizeof(c));
	if (dtype == GAUSS_DTYPE_F32)
		kernels->gmm->check_f32(orig, dec, count, bound, &c);
	else
		gmm_check_from(dtype, orig, dec, count, bound, &c, 0);
	if (c.first < count) {
		const size_t i = c.first;
		const double x = gmm_load(dtype, orig, i);

		if (!isfinite(x))
			return err_setf(eb, GAUSS_E_CORRUPT, "element %zu (not "
					"finite) was not kept exactly", i);
		return err_setf(eb, GAUSS_E_CORRUPT, "element %zu is %g away "
				"from its original, beyond the bound %g", i,
				fabs(gmm_load(dtype, dec, i) - x), bound);
	}
	s->max_abs_error = MAX(s->max_abs_error, c.maxerr);
	s->sum_sq_error += gmm_sum8(c.sumerr2);
	s->sum += gmm_sum8(c.sum);
	s->sum_sq += gmm_sum8(c.sum2);
	s->finite += c.finite;
	return GAUSS_OK;
}

enum gauss_status
lossy_code_shard(enum fmt_kind kind, const uint8_t *src, size_t nbytes,
		 const struct gmm_options *go, uint64_t shard_id, uint8_t *out,
		 size_t room, uint8_t *dec, size_t *len_ret,
		 struct lossy_stats *stats, const struct rans_kernels *kernels,
		 struct gmm_scratch *scratch, struct errbuf *eb)
{
	const enum gauss_dtype dtype = fmt_gmm_dtype(kind);
	const size_t count = nbytes / fmt_kind_elem_nbytes(kind);
	uint8_t *const body = out + VARINT_MAX_LEN;
	struct gmm_options o = *go;
	struct gmm_report rep;
	size_t payload = 0, head;
	double bound = -1.0;
	enum gauss_status st;

	GAUSS_ASSERT(room >= nbytes + VARINT_MAX_LEN + FMT_CHECKSUM_NBYTES);
	(void)room;
	memset(stats, 0, sizeof(*stats));
	o.shard_id = shard_id;
	o.kernels = kernels;
	o.diagnostics = false;
	/* a payload is kept only when it is smaller than the shard */
	st = nbytes < 2 ? GAUSS_E_TOO_LARGE :
	     gmm_encode(dtype, src, count, &o, body, nbytes - 1, &payload,
			&rep, scratch, eb);
	if (st == GAUSS_OK) {
		st = gmm_decode(dtype, body, payload, dec, count, kernels,
				scratch, eb);
		if (st != GAUSS_OK)
			return err_prefix(eb, GAUSS_E_CORRUPT, "shard failed "
					  "to decode after coding (a bug in "
					  "gauss)");
		bound = rep.bound;
		stats->k = rep.k;
		stats->scale = rep.scale;
		head = varint_put(out, (uint64_t)payload << 1);
		memmove(out + head, body, payload);
	} else if (st == GAUSS_E_TOO_LARGE) {
		eb->text[0] = '\0';
		memcpy(dec, src, nbytes);
		payload = nbytes;
		head = varint_put(out, (uint64_t)nbytes << 1 | 1);
		memcpy(out + head, src, nbytes);
		stats->k = o.k;
		stats->scale = gmm_scale_for(dtype, o.max_error);
	} else {
		return st;
	}
	st = check_values(dtype, src, dec, count, bound, stats, kernels, eb);
	if (st != GAUSS_OK)
		return err_prefix(eb, st, "shard failed its check after coding "
				  "(a bug in gauss)");
	put_le64(out + head + payload, kernels->hash->h64(dec, nbytes));
	*len_ret = head + payload + FMT_CHECKSUM_NBYTES;
	return GAUSS_OK;
}
