/* SPDX-License-Identifier: MIT */
/* split.c: exponent symbols and raw sign/mantissa planes of bf16, fp16, fp32. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "endian.h"
#include "split.h"
#include "banned.h"

unsigned
split_elem_nbytes(enum fmt_kind kind)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16:
	case FMT_KIND_EXP_F16:
		return 2;
	case FMT_KIND_EXP_F32:
		return 4;
	default:
		return 1;
	}
}

size_t
split_raw_nbytes(enum fmt_kind kind, size_t n)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16:
		return n;
	case FMT_KIND_EXP_F16:
		return n + (3 * n + 7) / 8;
	case FMT_KIND_EXP_F32:
		return 3 * n;
	default:
		return 0;
	}
}

/*
 * Adds bits 14..6 (exponent and top mantissa bit) of n bf16 elements to
 * eight sub-histograms (they break the store-to-load chain on repeats: a
 * few exponents take most values).
 */
static void
count_bf16(const uint8_t *src, size_t n, uint32_t c[8][512])
{
	const size_t n8 = n & ~(size_t)7;
	size_t i;

	for (i = 0; i < n8; i += 8) {
		const uint64_t a = get_le64(src + 2 * i);
		const uint64_t b = get_le64(src + 2 * i + 8);

		for (unsigned j = 0; j < 4; j++) {
			c[j][(a >> (16 * j + 6)) & 0x1ff]++;
			c[4 + j][(b >> (16 * j + 6)) & 0x1ff]++;
		}
	}
	for (; i < n; i++)
		c[0][(get_le16(src + 2 * i) >> 6) & 0x1ff]++;
}

/* Below this many elements split_count() keeps one histogram. */
#define SPLIT_COUNT_SMALL 2048

/*
 * Adds the exponents of n bf16 elements to counts[], and bits 14..6 to
 * jc[] unless it is NULL.
 */
static void
count_bf16_exact(const uint8_t *src, size_t n, uint64_t counts[256],
		 uint64_t *jc)
{
	uint32_t c[8][512];

	if (n < SPLIT_COUNT_SMALL) {
		/* a small tensor: one histogram, not 16 KiB to clear and add */
		uint32_t h[512];

		memset(h, 0, sizeof(h));
		for (size_t i = 0; i < n; i++)
			h[(get_le16(src + 2 * i) >> 6) & 0x1ff]++;
		for (unsigned j = 0; j < 512; j++) {
			counts[j / 2] += h[j];
			if (jc)
				jc[j] += h[j];
		}
		return;
	}
	memset(c, 0, sizeof(c));
	count_bf16(src, n, c);
	for (unsigned j = 0; j < 512; j++) {
		const uint64_t v = (uint64_t)c[0][j] + c[1][j] + c[2][j] +
				   c[3][j] + c[4][j] + c[5][j] + c[6][j] +
				   c[7][j];

		counts[j / 2] += v;
		if (jc)
			jc[j] += v;
	}
}

static uint32_t elem_get(enum fmt_kind kind, const uint8_t *src, size_t i,
			 unsigned *exp);

/* The symbol of element i. */
static inline unsigned
sym_of(enum fmt_kind kind, const uint8_t *src, size_t i)
{
	unsigned exp;

	if (!fmt_kind_is_float(kind))
		return src[i];
	(void)elem_get(kind, src, i, &exp);
	return exp;
}

void
split_count(enum fmt_kind kind, const uint8_t *src, size_t n,
	    uint64_t counts[256])
{
	/* sub-histograms: four (bf16: count_bf16_exact()) */
	uint32_t c[4][256];
	size_t i = 0;

	if (kind == FMT_KIND_EXP_BF16) {
		count_bf16_exact(src, n, counts, NULL);
		return;
	}
	if (n < SPLIT_COUNT_SMALL) {
		/* a small tensor: one histogram, not 8 KiB to clear and add */
		uint32_t h[256];

		memset(h, 0, sizeof(h));
		for (; i < n; i++)
			h[sym_of(kind, src, i)]++;
		for (unsigned s = 0; s < 256; s++)
			counts[s] += h[s];
		return;
	}
	memset(c, 0, sizeof(c));
	switch (kind) {
	case FMT_KIND_EXP_F16:
		for (; i < n; i++)
			c[i & 3][(get_le16(src + 2 * i) >> 10) & 0x1f]++;
		break;
	case FMT_KIND_EXP_F32:
		for (; i < n; i++)
			c[i & 3][(get_le32(src + 4 * i) >> 23) & 0xff]++;
		break;
	default:
		for (; i < n; i++)
			c[i & 3][src[i]]++;
		break;
	}
	for (unsigned s = 0; s < 256; s++)
		counts[s] += (uint64_t)c[0][s] + c[1][s] + c[2][s] + c[3][s];
}

static void
put_f16_high(uint8_t *hi, size_t i, unsigned v3)
{
	const size_t bit = 3 * i;

	hi[bit / 8] |= (uint8_t)(v3 << (bit % 8));
	if (bit % 8 > 5)
		hi[bit / 8 + 1] |= (uint8_t)(v3 >> (8 - bit % 8));
}

static unsigned
get_f16_high(const uint8_t *hi, size_t i)
{
	const size_t bit = 3 * i;
	unsigned v = hi[bit / 8] >> (bit % 8);

	if (bit % 8 > 5)
		v |= (unsigned)hi[bit / 8 + 1] << (8 - bit % 8);
	return v & 7;
}

static void
range_add(struct split_range *r, unsigned e)
{
	r->n0 += e == 0;
	if (e != 0) {
		r->lo = e < r->lo ? e : r->lo;
		r->hi = e > r->hi ? e : r->hi;
	}
}

size_t
split_sample_bf16(const uint8_t *src, size_t n, struct split_range *r,
		  uint32_t c[4][512])
{
	const size_t stride = (size_t)SPLIT_SAMPLE_GROUP * SPLIT_SAMPLE_EVERY;
	size_t g, i;

	*r = (struct split_range){ .lo = 256, .hi = 0 };
	for (g = 0; g + stride <= n; g += stride) {
		for (i = 0; i < SPLIT_SAMPLE_GROUP; i++) {
			const unsigned j = (get_le16(src + 2 * (g + i)) >> 6) &
					   0x1ff;

			c[i % 4][j]++;
			range_add(r, j >> 1);
		}
		for (; i < stride; i++)
			range_add(r, (get_le16(src + 2 * (g + i)) >> 7) &
				     0xff);
	}
	for (i = g; i < n; i++)
		range_add(r, (get_le16(src + 2 * i) >> 7) & 0xff);
	return g;
}

void
split_outer_bf16(const uint8_t *src, size_t n, unsigned slo, unsigned shi,
		 uint32_t outer[256])
{
	for (size_t i = 0; i < n; i++) {
		const unsigned e = (get_le16(src + 2 * i) >> 7) & 0xff;

		if (e != 0 && (e < slo || e > shi))
			outer[e]++;
	}
}

/*
 * The sample's core (split.h) into [*slo, *shi]; returns whether at most
 * 1/SPLIT_SAMPLE_MAX_OUTER of the sample (sum, exponent 0 aside) lies
 * outside it.
 */
static bool
sample_core(const uint64_t sum[256], unsigned *slo, unsigned *shi)
{
	uint64_t all = 0, out = 0;
	unsigned mode = 1, lo, hi;

	for (unsigned s = 1; s < 255; s++) {
		all += sum[s];
		mode = sum[s] > sum[mode] ? s : mode;
	}
	if (sum[mode] == 0)
		return false;
	for (lo = mode; lo > 1 && sum[lo - 1]; lo--)
		;
	for (hi = mode; hi < 254 && sum[hi + 1]; hi++)
		;
	for (unsigned s = 1; s < 255; s++)
		out += s < lo || s > hi ? sum[s] : 0;
	*slo = lo;
	*shi = hi;
	return out <= all / SPLIT_SAMPLE_MAX_OUTER;
}

/*
 * fp16 and fp32 blocks, every element: the exponent and top mantissa bit
 * (bits 14..9 of an fp16 value, 30..22 of an fp32 one) into jc, the
 * exponents into counts.
 */
static void
count_m1_exact(enum fmt_kind kind, const uint8_t *src, size_t n,
	       uint64_t counts[256], uint64_t *jc)
{
	uint32_t c[4][512];

	memset(c, 0, sizeof(c));
	if (kind == FMT_KIND_EXP_F16)
		for (size_t i = 0; i < n; i++)
			c[i & 3][(get_le16(src + 2 * i) >> 9) & 0x3f]++;
	else
		for (size_t i = 0; i < n; i++)
			c[i & 3][(get_le32(src + 4 * i) >> 22) & 0x1ff]++;
	for (unsigned j = 0; j < 512; j++) {
		const uint64_t v = (uint64_t)c[0][j] + c[1][j] + c[2][j] +
				   c[3][j];

		jc[j] += v;
		counts[j >> 1] += v;
	}
}

void
split_count_block(enum fmt_kind kind, const uint8_t *src, size_t n,
		  const struct split_sampler *sp, uint64_t counts[256],
		  uint64_t *jc)
{
	const size_t stride = (size_t)SPLIT_SAMPLE_GROUP * SPLIT_SAMPLE_EVERY;
	uint32_t c[4][512], tail[512] = { 0 }, outer[256] = { 0 };
	uint64_t sum[256], jsum[512];
	struct split_range r;
	unsigned gaps = 0, slo = 0, shi = 0;
	bool sampled = false;
	size_t g;

	if (kind == FMT_KIND_EXP_BF16 && n < SPLIT_SAMPLE_MIN) {
		count_bf16_exact(src, n, counts, jc);
		return;
	}
	if (jc != NULL && (kind == FMT_KIND_EXP_F16 ||
			   kind == FMT_KIND_EXP_F32)) {
		count_m1_exact(kind, src, n, counts, jc);
		return;
	}
	if (kind != FMT_KIND_EXP_BF16) {
		split_count(kind, src, n, counts);
		return;
	}
	memset(c, 0, sizeof(c));
	g = sp->sample(src, n, &r, c);
	/* the last partial stride, counted whole */
	for (size_t i = g; i < n; i++)
		tail[(get_le16(src + 2 * i) >> 6) & 0x1ff]++;
	for (unsigned j = 0; j < 512; j++)
		jsum[j] = (uint64_t)c[0][j] + c[1][j] + c[2][j] + c[3][j] +
			  tail[j];
	for (unsigned s = 0; s < 256; s++) {
		sum[s] = jsum[2 * s] + jsum[2 * s + 1];
		gaps += !sum[s] && s >= r.lo && s <= r.hi;
	}
	if (r.n0 < SPLIT_SAMPLE_MAX_ZEROS && r.hi != 255) {
		if (gaps <= SPLIT_SAMPLE_MAX_GAPS) {
			slo = r.lo;	/* the whole range, gaps and all */
			shi = r.hi;
			sampled = true;
		} else if (sample_core(sum, &slo, &shi)) {
			sp->outer(src, g, slo, shi, outer);
			sampled = true;
		}
	}
	if (!sampled) {
		/* exact: add what the sample left out of each stride */
		uint32_t d[8][512];

		memset(d, 0, sizeof(d));
		for (size_t h = 0; h < g; h += stride)
			count_bf16(src + 2 * (h + SPLIT_SAMPLE_GROUP),
				   stride - SPLIT_SAMPLE_GROUP, d);
		for (unsigned j = 0; j < 512; j++) {
			uint64_t v = jsum[j];

			for (unsigned k = 0; k < 8; k++)
				v += d[k][j];
			counts[j / 2] += v;
			if (jc)
				jc[j] += v;
		}
		return;
	}
	for (unsigned s = 1; s < 255; s++) {
		const uint64_t t = (uint64_t)tail[2 * s] + tail[2 * s + 1];
		const uint64_t v = (sum[s] - t) * SPLIT_SAMPLE_EVERY + t;

		if (s >= slo && s <= shi)
			counts[s] += v ? v : 1;
		else	/* outside the core: exact */
			counts[s] += outer[s] + t;
	}
	counts[0] += r.n0;
	/* the top bit's share: the elements counted one by one */
	if (jc)
		for (unsigned j = 0; j < 512; j++)
			jc[j] += jsum[j];
}

void
split_planes(enum fmt_kind kind, const uint8_t *src, size_t n, uint8_t *syms,
	     uint8_t *raw)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16:
		for (size_t i = 0; i < n; i++) {
			const unsigned v = get_le16(src + 2 * i);

			syms[i] = (uint8_t)(v >> 7);
			raw[i] = (uint8_t)(((v >> 8) & 0x80) | (v & 0x7f));
		}
		break;
	case FMT_KIND_EXP_F16: {
		uint8_t *hi = raw + n;

		memset(hi, 0, (3 * n + 7) / 8);
		for (size_t i = 0; i < n; i++) {
			const unsigned v = get_le16(src + 2 * i);

			syms[i] = (uint8_t)((v >> 10) & 0x1f);
			raw[i] = (uint8_t)v;
			put_f16_high(hi, i, ((v >> 13) & 4) | ((v >> 8) & 3));
		}
		break;
	}
	case FMT_KIND_EXP_F32:
		for (size_t i = 0; i < n; i++) {
			const uint32_t v = get_le32(src + 4 * i);
			const uint32_t r = ((v >> 8) & 0x800000) | (v & 0x7fffff);

			syms[i] = (uint8_t)(v >> 23);
			raw[3 * i] = (uint8_t)r;
			raw[3 * i + 1] = (uint8_t)(r >> 8);
			raw[3 * i + 2] = (uint8_t)(r >> 16);
		}
		break;
	default:
		memcpy(syms, src, n);
		break;
	}
}

/*
 * Writes element i of dst from symbol s and entry j of a raw plane of n
 * entries (j == i unless whole values took some out).
 */
static void
merge_at(enum fmt_kind kind, unsigned s, const uint8_t *raw, size_t n,
	 size_t j, size_t i, uint8_t *dst)
{
	switch (kind) {
	case FMT_KIND_EXP_BF16: {
		const unsigned r = raw[j];

		put_le16(dst + 2 * i, (uint16_t)(((r & 0x80) << 8) | (s << 7) |
						 (r & 0x7f)));
		break;
	}
	case FMT_KIND_EXP_F16: {
		const unsigned h = get_f16_high(raw + n, j);

		put_le16(dst + 2 * i, (uint16_t)(((h & 4) << 13) | (s << 10) |
						 ((h & 3) << 8) | raw[j]));
		break;
	}
	case FMT_KIND_EXP_F32: {
		const uint32_t r = raw[3 * j] | ((uint32_t)raw[3 * j + 1] << 8) |
				   ((uint32_t)raw[3 * j + 2] << 16);

		put_le32(dst + 4 * i, ((r & 0x800000) << 8) | ((uint32_t)s << 23) |
					      (r & 0x7fffff));
		break;
	}
	default:
		dst[i] = (uint8_t)s;
		break;
	}
}

static void
merge_one(enum fmt_kind kind, unsigned s, const uint8_t *raw, size_t n,
	  size_t i, uint8_t *dst)
{
	merge_at(kind, s, raw, n, i, i, dst);
}

/* The element's bits and its exponent field. */
static uint32_t
elem_get(enum fmt_kind kind, const uint8_t *src, size_t i, unsigned *exp)
{
	uint32_t v;

	switch (kind) {
	case FMT_KIND_EXP_BF16:
		v = get_le16(src + 2 * i);
		*exp = (v >> 7) & 0xff;
		return v;
	case FMT_KIND_EXP_F16:
		v = get_le16(src + 2 * i);
		*exp = (v >> 10) & 0x1f;
		return v;
	default:
		v = get_le32(src + 4 * i);
		*exp = (v >> 23) & 0xff;
		return v;
	}
}

static void
elem_put(enum fmt_kind kind, uint8_t *dst, size_t i, uint32_t v)
{
	if (kind == FMT_KIND_EXP_F32)
		put_le32(dst + 4 * i, v);
	else
		put_le16(dst + 2 * i, (uint16_t)v);
}

static int
cand_cmp(const void *a, const void *b)
{
	const struct split_whole_cand *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->value < y->value ? -1 : x->value > y->value;
}

void
split_whole_count(enum fmt_kind kind, const uint8_t *src, size_t n,
		  const uint64_t counts[256], struct split_whole_cands *wc)
{
	struct split_whole_cand *const cand = wc->cand;
	unsigned ncand = 0, exp;

	wc->ncand = 0;
	if (!fmt_kind_is_float(kind))
		return;
	/* what exponent 0 codes must be able to pass the rules below */
	if (counts[0] < 16 || counts[0] < n / 256)
		return;
	if (kind == FMT_KIND_EXP_BF16) {
		uint64_t pos = 0, neg = 0;

		/* every value of exponent 0: sign and 7 mantissa bits */
		for (unsigned r = 0; r < 256; r++)
			cand[r] = (struct split_whole_cand){
				0, (r & 0x80) << 8 | (r & 0x7f) };
		/* the two zeros first: a loop the compiler vectorises */
		for (size_t i = 0; i < n; i++) {
			const unsigned v = get_le16(src + 2 * i);

			pos += v == 0;
			neg += v == 0x8000;
		}
		cand[0].count = pos;
		cand[0x80].count = neg;
		if (counts[0] - pos - neg >= 16) {
			/*
			 * Subnormals enough to matter: count them all,
			 * branch-free (other exponents land in slots 256 to
			 * 511).
			 */
			uint32_t h[4][512];

			memset(h, 0, sizeof(h));
			for (size_t i = 0; i < n; i++) {
				const unsigned v = get_le16(src + 2 * i);

				h[i & 3][((v >> 8) & 0x80) | (v & 0x7f) |
					 (unsigned)((v & 0x7f80) != 0) << 8]++;
			}
			for (unsigned r = 0; r < 256; r++)
				cand[r].count = (uint64_t)h[0][r] + h[1][r] +
						h[2][r] + h[3][r];
		}
		ncand = 256;
	} else {
		const uint32_t neg = kind == FMT_KIND_EXP_F16 ? 0x8000u :
								0x80000000u;

		cand[0] = (struct split_whole_cand){ 0, 0 };
		cand[1] = (struct split_whole_cand){ 0, neg };
		for (size_t i = 0; i < n; i++) {
			const uint32_t v = elem_get(kind, src, i, &exp);

			cand[0].count += v == 0;
			cand[1].count += v == neg;
		}
		ncand = 2;
	}
	wc->ncand = ncand;
}

void
split_whole_drop_zeros(struct split_whole_cands *wc, uint64_t r)
{
	for (unsigned k = 0; k < wc->ncand; k++)
		if (wc->cand[k].value == 0) {
			wc->cand[k].count -= r;
			return;
		}
}

void
split_whole_pick(enum fmt_kind kind, size_t n, uint64_t counts[256],
		 const struct split_whole_cands *wc, struct rans_whole *w)
{
	struct split_whole_cand cand[256];	/* sorted here: a copy */
	uint64_t saved[256], rest, taken = 0;
	const unsigned ncand = wc->ncand;
	uint8_t code_used[256] = { 0 };

	memset(w, 0, sizeof(*w));
	if (!fmt_kind_is_float(kind) || ncand == 0)
		return;
	/* the gate of split_whole_count(), for counts that changed since */
	if (counts[0] < 16 || counts[0] < n / 256)
		return;
	memcpy(cand, wc->cand, ncand * sizeof(cand[0]));
	qsort(cand, ncand, sizeof(cand[0]), cand_cmp);
	memcpy(saved, counts, sizeof(saved));
	rest = counts[0];
	for (unsigned k = 0; k < ncand && w->count < RANS_WHOLE_MAX; k++) {
		const uint64_t c = cand[k].count;
		unsigned code = 256;

		/*
		 * A value pays its own symbol when it is at least 1/64 of
		 * what exponent 0 still codes: its raw bits (8 or more) then
		 * outweigh what splitting the exponent's probability costs.
		 * 16 occurrences pay for its entry in the table.
		 */
		if (c < 16 || c * 64 < rest)
			continue;
		for (unsigned s = 255; s > 0; s--)
			if (counts[s] == 0 && !code_used[s]) {
				code = s;
				break;
			}
		if (code == 256)
			break;
		code_used[code] = 1;
		w->code[w->count] = (uint8_t)code;
		w->value[w->count] = cand[k].value;
		w->count++;
		counts[code] = c;
		counts[0] -= c;
		rest -= c;
		taken += c;
	}
	/*
	 * Whole values cost the decoder a pass of its own: not worth it for a
	 * few zeros in a dense block (they save under 8 bits in 256 values).
	 */
	if (taken == 0 || taken < n / 256) {
		memcpy(counts, saved, sizeof(saved));
		memset(w, 0, sizeof(*w));
		return;
	}
	/* increasing symbols, as gauss(5) lists them */
	for (unsigned a = 1; a < w->count; a++)
		for (unsigned b = a; b > 0 && w->code[b - 1] > w->code[b];
		     b--) {
			const uint8_t tc = w->code[b];
			const uint32_t tv = w->value[b];

			w->code[b] = w->code[b - 1];
			w->value[b] = w->value[b - 1];
			w->code[b - 1] = tc;
			w->value[b - 1] = tv;
		}
	rans_whole_finish(w);
}

void
split_whole_choose(enum fmt_kind kind, const uint8_t *src, size_t n,
		   uint64_t counts[256], struct rans_whole *w)
{
	struct split_whole_cands wc;

	split_whole_count(kind, src, n, counts, &wc);
	split_whole_pick(kind, n, counts, &wc, w);
}

size_t
split_count_unwhole(const struct rans_whole *w, const uint8_t *syms,
		    size_t n)
{
	size_t whole = 0;

	for (size_t i = 0; i < n; i++)
		whole += w->is_whole[syms[i]];
	return n - whole;
}

/*
 * The symbol of each element under w; returns false when an element's
 * exponent is a whole symbol. Branch-free for the lists gauss writes (bf16
 * values of exponent 0; the two zeros of fp16 and fp32).
 */
static bool
whole_symbols(enum fmt_kind kind, const struct rans_whole *w,
	      const uint8_t *src, size_t n, uint8_t *syms)
{
	unsigned bad = 0, exp;
	int16_t zero_code[256];		/* bf16: by sign and mantissa */
	int pos = -1, neg = -1;		/* fp16, fp32: the zeros' symbols */
	const uint32_t negv = kind == FMT_KIND_EXP_F32 ? 0x80000000u :
							 0x8000u;
	bool general = false;

	for (unsigned r = 0; r < 256; r++)
		zero_code[r] = -1;
	for (unsigned k = 0; k < w->count; k++) {
		const uint32_t v = w->value[k];

		if (kind == FMT_KIND_EXP_BF16 && (v & 0x7f80) == 0 &&
		    v <= 0xffff)
			zero_code[(v >> 8 & 0x80) | (v & 0x7f)] =
				(int16_t)w->code[k];
		else if (kind != FMT_KIND_EXP_BF16 && v == 0)
			pos = w->code[k];
		else if (kind != FMT_KIND_EXP_BF16 && v == negv)
			neg = w->code[k];
		else
			general = true;
	}
	if (general) {
		/* a list gauss does not write: look every value up */
		for (size_t i = 0; i < n; i++) {
			const uint32_t v = elem_get(kind, src, i, &exp);
			int code = -1;

			for (unsigned k = 0; k < w->count && code < 0; k++)
				if (w->value[k] == v)
					code = w->code[k];
			bad |= code < 0 && w->is_whole[exp];
			syms[i] = (uint8_t)(code >= 0 ? code : (int)exp);
		}
		return !bad;
	}
	switch (kind) {
	case FMT_KIND_EXP_BF16:
		for (size_t i = 0; i < n; i++) {
			const unsigned v = get_le16(src + 2 * i);
			const unsigned e = (v >> 7) & 0xff;
			/* masks, not branches: zeros come at random */
			const unsigned z = (unsigned)(int)zero_code[
				((v >> 8) & 0x80) | (v & 0x7f)];
			const unsigned whole = -(unsigned)((e == 0) &
							   (z < 256));

			bad |= ~whole & w->is_whole[e];
			syms[i] = (uint8_t)((z & whole) | (e & ~whole));
		}
		break;
	default:
		for (size_t i = 0; i < n; i++) {
			const uint32_t v = elem_get(kind, src, i, &exp);
			const int z = v == 0 ? pos : v == negv ? neg : -1;

			bad |= z < 0 && w->is_whole[exp];
			syms[i] = (uint8_t)(z >= 0 ? (unsigned)z : exp);
		}
		break;
	}
	return !bad;
}

size_t
split_planes_whole(enum fmt_kind kind, const struct rans_whole *w,
		   const uint8_t *src, size_t n, uint8_t *syms, uint8_t *raw)
{
	size_t m, j = 0;
	unsigned exp;

	if (!whole_symbols(kind, w, src, n, syms))
		return SIZE_MAX;
	switch (kind) {
	case FMT_KIND_EXP_BF16:
		/* every element writes; only the others advance */
		for (size_t i = 0; i < n; i++) {
			const unsigned v = get_le16(src + 2 * i);

			raw[j] = (uint8_t)(((v >> 8) & 0x80) | (v & 0x7f));
			j += !w->is_whole[syms[i]];
		}
		return j;
	case FMT_KIND_EXP_F32:
		for (size_t i = 0; i < n; i++) {
			const uint32_t v = get_le32(src + 4 * i);
			const uint32_t r = ((v >> 8) & 0x800000) |
					   (v & 0x7fffff);

			raw[3 * j] = (uint8_t)r;
			raw[3 * j + 1] = (uint8_t)(r >> 8);
			raw[3 * j + 2] = (uint8_t)(r >> 16);
			j += !w->is_whole[syms[i]];
		}
		return j;
	default:
		/* the packed plane starts after the m low bytes */
		m = split_count_unwhole(w, syms, n);
		memset(raw + m, 0, (3 * m + 7) / 8);
		for (size_t i = 0; i < n; i++) {
			uint32_t v;

			if (w->is_whole[syms[i]])
				continue;
			v = elem_get(kind, src, i, &exp);
			raw[j] = (uint8_t)v;
			put_f16_high(raw + m, j,
				     ((v >> 13) & 4) | ((v >> 8) & 3));
			j++;
		}
		return m;
	}
}

size_t
split_merge_whole(enum fmt_kind kind, const struct rans_whole *w,
		  const uint8_t *syms, const uint8_t *raw, size_t n,
		  size_t avail, uint8_t *dst)
{
	return split_merge_whole_from(kind, w, syms, raw, n, avail, 0, 0, dst);
}

size_t
split_merge_whole_from(enum fmt_kind kind, const struct rans_whole *w,
		       const uint8_t *syms, const uint8_t *raw, size_t n,
		       size_t avail, size_t i0, size_t j, uint8_t *dst)
{
	if (kind == FMT_KIND_EXP_BF16) {
		for (size_t i = i0; i < n; i++) {
			const unsigned s = syms[i];

			if (w->is_whole[s]) {
				put_le16(dst + 2 * i, (uint16_t)w->of_code[s]);
			} else {
				unsigned r;

				if (j == avail)
					return SIZE_MAX;
				r = raw[j++];
				put_le16(dst + 2 * i,
					 (uint16_t)(((r & 0x80) << 8) |
						    (s << 7) | (r & 0x7f)));
			}
		}
		return j;
	}
	for (size_t i = i0; i < n; i++) {
		const unsigned s = syms[i];

		if (w->is_whole[s]) {
			elem_put(kind, dst, i, w->of_code[s]);
		} else {
			if (j == avail)
				return SIZE_MAX;
			merge_at(kind, s, raw, avail, j, i, dst);
			j++;
		}
	}
	return j;
}

void
split_merge(enum fmt_kind kind, const uint8_t *syms, const uint8_t *raw,
	    size_t n, uint8_t *dst)
{
	if (kind == FMT_KIND_EXP_BF16) {
		for (size_t i = 0; i < n; i++) {
			const unsigned r = raw[i];

			put_le16(dst + 2 * i,
				 (uint16_t)(((r & 0x80) << 8) |
					    ((unsigned)syms[i] << 7) |
					    (r & 0x7f)));
		}
		return;
	}
	if (kind == FMT_KIND_BYTES) {
		memcpy(dst, syms, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		merge_one(kind, syms[i], raw, n, i, dst);
}

void
split_merge_const(enum fmt_kind kind, uint8_t sym, const uint8_t *raw,
		  size_t n, uint8_t *dst)
{
	if (kind == FMT_KIND_BYTES) {
		memset(dst, sym, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		merge_one(kind, sym, raw, n, i, dst);
}

size_t
split_raw_nbytes_m1(size_t n)
{
	return n / SPLIT_M1_GROUP * SPLIT_M1_GROUP_NBYTES + n % SPLIT_M1_GROUP;
}

/* The 7-bit entry of bf16 value v, and v back from symbol and entry. */
static inline unsigned
m1_entry(unsigned v)
{
	return ((v >> 9) & 0x40) | (v & 0x3f);
}

static inline uint16_t
m1_value(unsigned s, unsigned base, unsigned r)
{
	return (uint16_t)((r & 0x40) << 9 | (s + 2 * base) << 6 | (r & 0x3f));
}

bool
split_planes_m1_from(const uint8_t *src, size_t n, size_t i, unsigned base,
		     uint8_t *syms, uint8_t *raw)
{
	const unsigned lo = 2 * base;
	unsigned bad = 0;

	GAUSS_ASSERT(i % SPLIT_M1_GROUP == 0);
	raw += i / SPLIT_M1_GROUP * SPLIT_M1_GROUP_NBYTES;
	for (; i < n; i++) {
		const unsigned v = get_le16(src + 2 * i);
		const unsigned s = ((v >> 6) & 0x1ff) - lo;
		const size_t g = i / SPLIT_M1_GROUP, j = i % SPLIT_M1_GROUP;

		bad |= s;
		syms[i] = (uint8_t)s;
		if ((g + 1) * SPLIT_M1_GROUP > n) {
			*raw++ = (uint8_t)m1_entry(v);	/* the tail */
		} else if (j < SPLIT_M1_GROUP_NBYTES) {
			raw[j] = (uint8_t)m1_entry(v);
		} else {
			/* its 7 bits go to bit 7 of 7 bytes of the group */
			for (unsigned t = 0; t < 7; t++)
				raw[7 * (j - SPLIT_M1_GROUP_NBYTES) + t] |=
					(uint8_t)(((m1_entry(v) >> t) & 1)
						  << 7);
			if (j == SPLIT_M1_GROUP - 1)
				raw += SPLIT_M1_GROUP_NBYTES;
		}
	}
	/* an element below 2 * base wraps around: bits above 7 are set */
	return bad < 256;
}

bool
split_planes_m1(const uint8_t *src, size_t n, unsigned base, uint8_t *syms,
		uint8_t *raw)
{
	return split_planes_m1_from(src, n, 0, base, syms, raw);
}

void
split_merge_m1_from(const uint8_t *syms, const uint8_t *raw, size_t n,
		    size_t i, unsigned base, uint8_t *dst)
{
	GAUSS_ASSERT(i % SPLIT_M1_GROUP == 0);
	raw += i / SPLIT_M1_GROUP * SPLIT_M1_GROUP_NBYTES;
	for (; i + SPLIT_M1_GROUP <= n; i += SPLIT_M1_GROUP,
	     raw += SPLIT_M1_GROUP_NBYTES) {
		uint8_t e[SPLIT_M1_GROUP];

		memset(e + SPLIT_M1_GROUP_NBYTES, 0,
		       SPLIT_M1_GROUP - SPLIT_M1_GROUP_NBYTES);
		for (unsigned j = 0; j < SPLIT_M1_GROUP_NBYTES; j++) {
			e[j] = raw[j] & 0x7f;
			e[SPLIT_M1_GROUP_NBYTES + j / 7] |=
				(uint8_t)((raw[j] >> 7) << (j % 7));
		}
		/* every raw byte is read before dst is written (syms may lie
		 * in dst's upper half: split_merge_m1()) */
		for (unsigned j = 0; j < SPLIT_M1_GROUP; j++)
			put_le16(dst + 2 * (i + j),
				 m1_value(syms[i + j], base, e[j]));
	}
	for (; i < n; i++)
		put_le16(dst + 2 * i, m1_value(syms[i], base, *raw++));
}

void
split_merge_m1(const uint8_t *syms, const uint8_t *raw, size_t n,
	       unsigned base, uint8_t *dst)
{
	split_merge_m1_from(syms, raw, n, 0, base, dst);
}

bool
split_m1_tail_ok(const uint8_t *raw, size_t n)
{
	const uint8_t *t = raw + n / SPLIT_M1_GROUP * SPLIT_M1_GROUP_NBYTES;
	unsigned any = 0;

	for (size_t k = 0; k < n % SPLIT_M1_GROUP; k++)
		any |= t[k];
	return !(any & 0x80);
}

/*
 * Top mantissa bit of exp-f16 and exp-f32 (format 7): 7-bit entries of an
 * fp32 plane in the layout of bf16's (32 in 28 bytes, the tail a byte
 * each), one at a time.
 */
static void
put7(uint8_t *plane, size_t n, size_t i, unsigned e)
{
	const size_t g = i / SPLIT_M1_GROUP, j = i % SPLIT_M1_GROUP;
	uint8_t *const b = plane + g * SPLIT_M1_GROUP_NBYTES;

	if ((g + 1) * SPLIT_M1_GROUP > n || j < SPLIT_M1_GROUP_NBYTES) {
		b[j] = (uint8_t)e;	/* the tail, or entries 0-27 */
		return;
	}
	for (unsigned t = 0; t < 7; t++)
		b[7 * (j - SPLIT_M1_GROUP_NBYTES) + t] |=
			(uint8_t)(((e >> t) & 1) << 7);
}

static unsigned
get7(const uint8_t *plane, size_t n, size_t i)
{
	const size_t g = i / SPLIT_M1_GROUP, j = i % SPLIT_M1_GROUP;
	const uint8_t *const b = plane + g * SPLIT_M1_GROUP_NBYTES;
	unsigned e = 0;

	if ((g + 1) * SPLIT_M1_GROUP > n)
		return b[j];
	if (j < SPLIT_M1_GROUP_NBYTES)
		return b[j] & 0x7f;
	for (unsigned t = 0; t < 7; t++)
		e |= ((b[7 * (j - SPLIT_M1_GROUP_NBYTES) + t] >> 7) & 1u) << t;
	return e;
}

size_t
split_raw_nbytes_m1_kind(enum fmt_kind kind, size_t n)
{
	switch (kind) {
	case FMT_KIND_EXP_F16:
		return n + (2 * n + 7) / 8;
	case FMT_KIND_EXP_F32:
		return 2 * n + split_raw_nbytes_m1(n);
	default:
		return split_raw_nbytes_m1(n);
	}
}

bool
split_planes_m1_kind(enum fmt_kind kind, const uint8_t *src, size_t n,
		     unsigned base, uint8_t *syms, uint8_t *raw)
{
	unsigned bad = 0;

	if (kind == FMT_KIND_EXP_F16) {
		uint8_t *const two = raw + n;

		memset(two, 0, (2 * n + 7) / 8);
		for (size_t i = 0; i < n; i++) {
			const unsigned v = get_le16(src + 2 * i);
			const unsigned s = ((v >> 9) & 0x3f) - 2 * base;

			bad |= s;
			syms[i] = (uint8_t)s;
			raw[i] = (uint8_t)v;
			two[i / 4] |= (uint8_t)(((v >> 14 & 2) | (v >> 8 & 1))
						<< (2 * (i % 4)));
		}
	} else if (kind == FMT_KIND_EXP_F32) {
		uint8_t *const seven = raw + 2 * n;

		for (size_t i = 0; i < n; i++) {
			const uint32_t v = get_le32(src + 4 * i);
			const unsigned s = ((v >> 22) & 0x1ff) - 2 * base;

			bad |= s;
			syms[i] = (uint8_t)s;
			put_le16(raw + 2 * i, (uint16_t)v);
			put7(seven, n, i, (v >> 25 & 0x40) | (v >> 16 & 0x3f));
		}
	} else {
		return split_planes_m1(src, n, base, syms, raw);
	}
	/* an element below 2 * base wraps around: bits above 7 are set */
	return bad < 256;
}

void
split_merge_m1_kind(enum fmt_kind kind, const uint8_t *syms,
		    const uint8_t *raw, size_t n, unsigned base, uint8_t *dst)
{
	if (kind == FMT_KIND_EXP_F16) {
		const uint8_t *const two = raw + n;

		for (size_t i = 0; i < n; i++) {
			const unsigned e = two[i / 4] >> (2 * (i % 4)) & 3;

			put_le16(dst + 2 * i, (uint16_t)(
				(e >> 1) << 15 | (syms[i] + 2 * base) << 9 |
				(e & 1) << 8 | raw[i]));
		}
	} else if (kind == FMT_KIND_EXP_F32) {
		const uint8_t *const seven = raw + 2 * n;
		uint8_t e[SPLIT_M1_GROUP];

		for (size_t i = 0; i < n; i++) {
			const size_t j = i % SPLIT_M1_GROUP;
			uint32_t x;

			/* a whole group's entries at its first element */
			if (j == 0 && i + SPLIT_M1_GROUP <= n) {
				const uint8_t *const b = seven +
					i / SPLIT_M1_GROUP *
					SPLIT_M1_GROUP_NBYTES;

				memset(e + SPLIT_M1_GROUP_NBYTES, 0,
				       SPLIT_M1_GROUP - SPLIT_M1_GROUP_NBYTES);
				for (unsigned k = 0; k < SPLIT_M1_GROUP_NBYTES;
				     k++) {
					e[k] = b[k] & 0x7f;
					e[SPLIT_M1_GROUP_NBYTES + k / 7] |=
						(uint8_t)((b[k] >> 7) << (k % 7));
				}
			}
			x = i + SPLIT_M1_GROUP - j <= n ? e[j] :
							  get7(seven, n, i);
			put_le32(dst + 4 * i,
				 (x >> 6) << 31 |
				 (uint32_t)(syms[i] + 2 * base) << 22 |
				 (x & 0x3f) << 16 | get_le16(raw + 2 * i));
		}
	} else {
		split_merge_m1(syms, raw, n, base, dst);
	}
}

bool
split_m1_padding_ok(enum fmt_kind kind, const uint8_t *raw, size_t n)
{
	switch (kind) {
	case FMT_KIND_EXP_F16:
		return (2 * n) % 8 == 0 ||
		       !(raw[n + (2 * n) / 8] >> ((2 * n) % 8));
	case FMT_KIND_EXP_F32:
		return split_m1_tail_ok(raw + 2 * n, n);
	default:
		return split_m1_tail_ok(raw, n);
	}
}
