/* SPDX-License-Identifier: MIT */
/*
 * rans_table.c: normalising symbol counts to RANS_M, and the compact bit
 * serialisation of tables (gauss(5), "Frequency table").
 *
 * Tables are paid for once per tensor (per block of a large tensor), and
 * checkpoints hold hundreds of tiny tensors, so the serialisation is
 * bit-packed: symbols as gaps (Elias gamma; a run of consecutive exponents
 * costs one bit each), the largest frequency implied by the sum, the others
 * as a 4-bit length and their bits below the leading one.
 */
#include <math.h>
#include <string.h>

#include "rans.h"
#include "banned.h"

unsigned
rans_lanes_unit(uint64_t n, unsigned u)
{
	unsigned lanes = 1;

	while (lanes < RANS_MAX_LANES && n >= (uint64_t)2 * lanes * u)
		lanes *= 2;
	return lanes;
}

unsigned
rans_lane_unit(unsigned version)
{
	return version >= 4 ? RANS_LANE_UNIT_V4 : RANS_LANE_UNIT;
}

void
rans_whole_finish(struct rans_whole *w)
{
	memset(w->is_whole, 0, sizeof(w->is_whole));
	memset(w->of_code, 0, sizeof(w->of_code));
	for (unsigned i = 0; i < w->count; i++) {
		w->is_whole[w->code[i]] = 1;
		w->of_code[w->code[i]] = w->value[i];
	}
}

void
rans_table_finish(struct rans_table *t)
{
	unsigned c = 0;

	if (t->scale_bits == 0)
		t->scale_bits = RANS_SCALE_BITS;
	for (unsigned s = 0; s < 256; s++) {
		t->cum[s] = (uint16_t)c;
		c += t->freq[s];
	}
}

/*
 * Counts come from one block (at most 2^FMT_BLOCK_LOG2_MAX = 2^34 bytes),
 * so count * (2 * freq + 1) < 2^34 * 2^14 fits in 64 bits.
 *
 * Is raising symbol a's frequency a better buy than raising b's? The gain
 * of f -> f + 1 for a symbol seen c times is c * log2(1 + 1/f), which
 * c / (f + 1/2) approximates closely; compare by cross-multiplying.
 */
static int
better_raise(uint64_t ca, unsigned fa, uint64_t cb, unsigned fb)
{
	return (uint64_t)ca * (2 * fb + 1) >
	       (uint64_t)cb * (2 * fa + 1);
}

/* Is lowering a cheaper than lowering b? Loss ~ c / (f - 1/2). */
static int
cheaper_lower(uint64_t ca, unsigned fa, uint64_t cb, unsigned fb)
{
	return (uint64_t)ca * (2 * fb - 1) <
	       (uint64_t)cb * (2 * fa - 1);
}

void
rans_table_normalize(const uint64_t counts[256], struct rans_table *t)
{
	rans_table_normalize_bits(counts, RANS_SCALE_BITS, t);
}

static unsigned
bit_length(uint32_t v)
{
	return v ? 32u - (unsigned)__builtin_clz(v) : 0;
}

/*
 * Fine tables list their frequencies with RANS_FINE_SIG significant bits
 * at most (gauss(5), "Fine tables"), all but the implied one, which takes
 * what the others leave. f rounded to the nearest such value (ties up),
 * or down.
 */
static unsigned
sig_round(unsigned f, bool down)
{
	const unsigned len = bit_length(f);
	unsigned drop, half;

	if (len <= RANS_FINE_SIG)
		return f;
	drop = len - RANS_FINE_SIG;
	half = down ? 0 : 1u << (drop - 1);
	return ((f + half) >> drop) << drop;
}

/*
 * The symbol a table's serialisation implies: the most frequent one, the
 * lowest on ties.
 */
static unsigned
implied_symbol(const struct rans_table *t)
{
	unsigned best = 0;

	for (unsigned s = 1; s < 256; s++)
		if (t->freq[s] > t->freq[best])
			best = s;
	return best;
}

/*
 * A fine table: the most counted symbol (the lowest on ties) is implied;
 * every other counted symbol s gets max(1, floor(c * M / N)) rounded to
 * RANS_FINE_SIG significant bits, to the nearest, and the implied one what
 * is left. When that leaves it less than half its own floor(c * M / N),
 * every other symbol is rounded down instead: then the implied symbol
 * gets at least its share. The writer implies the one frequency with more
 * significant bits, if there is one.
 */
static void
normalize_fine(const uint64_t counts[256], uint64_t total,
	       struct rans_table *t)
{
	const unsigned M = RANS_FINE_M;
	unsigned imp = 0, sum;
	uint64_t ideal;

	for (unsigned s = 1; s < 256; s++)
		if (counts[s] > counts[imp])
			imp = s;
	ideal = counts[imp] * M / total;
	for (int down = 0; down < 2; down++) {
		sum = 0;
		for (unsigned s = 0; s < 256; s++) {
			uint64_t f;

			if (!counts[s] || s == imp)
				continue;
			f = MAX(counts[s] * M / total, 1);
			t->freq[s] = (uint16_t)sig_round((unsigned)f, down);
			sum += t->freq[s];
		}
		if (sum < M && M - sum >= (ideal + 1) / 2) {
			t->freq[imp] = (uint16_t)(M - sum);
			break;
		}
		GAUSS_ASSERT(!down);
	}
	rans_table_finish(t);
}

void
rans_table_normalize_bits(const uint64_t counts[256], unsigned scale_bits,
			  struct rans_table *t)
{
	const unsigned M = 1u << scale_bits;
	uint64_t total = 0;
	unsigned sum = 0, n = 0;
	uint8_t sym[256];	/* the symbols counted, in increasing order */

	GAUSS_ASSERT(scale_bits == RANS_SCALE_BITS ||
		     scale_bits == RANS_FINE_BITS);
	memset(t, 0, sizeof(*t));
	t->scale_bits = scale_bits;
	for (unsigned s = 0; s < 256; s++) {
		total += counts[s];
		if (counts[s])
			sym[n++] = (uint8_t)s;
	}
	t->nsym = n;
	GAUSS_ASSERT(total > 0);
	if (t->nsym > 1 && scale_bits == RANS_FINE_BITS) {
		normalize_fine(counts, total, t);
		return;
	}
	if (t->nsym == 1) {
		for (unsigned s = 0; s < 256; s++)
			if (counts[s])
				t->freq[s] = M;
		rans_table_finish(t);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const unsigned s = sym[i];
		uint64_t f;

		f = (uint64_t)((uint64_t)counts[s] * M / total);
		if (f == 0)
			f = 1;
		t->freq[s] = (uint16_t)f;
		sum += (unsigned)f;
	}
	/* scans in increasing symbol order: ties go to the lower symbol */
	while (sum < M) {
		int best = -1;

		for (unsigned i = 0; i < n; i++) {
			const unsigned s = sym[i];

			if (best < 0 || better_raise(counts[s], t->freq[s],
						     counts[best],
						     t->freq[best]))
				best = (int)s;
		}
		t->freq[best]++;
		sum++;
	}
	while (sum > M) {
		int best = -1;

		for (unsigned i = 0; i < n; i++) {
			const unsigned s = sym[i];

			if (t->freq[s] <= 1)
				continue;
			if (best < 0 || cheaper_lower(counts[s], t->freq[s],
						      counts[best],
						      t->freq[best]))
				best = (int)s;
		}
		t->freq[best]--;
		sum--;
	}
	rans_table_finish(t);
}

struct bitwriter {
	uint8_t *out;
	size_t pos;
	uint64_t acc;
	unsigned nbits;
};

static void
bw_put(struct bitwriter *w, uint32_t v, unsigned nbits)
{
	w->acc |= (uint64_t)v << w->nbits;
	w->nbits += nbits;
	while (w->nbits >= 8) {
		w->out[w->pos++] = (uint8_t)w->acc;
		w->acc >>= 8;
		w->nbits -= 8;
	}
}

/* Elias gamma of v >= 1: bit_length(v) - 1 zeros, then v from its top bit. */
static void
bw_gamma(struct bitwriter *w, uint32_t v)
{
	const unsigned len = bit_length(v);

	bw_put(w, 0, len - 1);
	for (unsigned i = len; i-- > 0;)
		bw_put(w, (v >> i) & 1, 1);
}

static unsigned
index_bits(unsigned nsym)
{
	return bit_length(nsym - 1);
}

size_t
rans_table_write(const struct rans_table *t, uint8_t *out)
{
	struct bitwriter w = { .out = out };
	unsigned prev = 0, k = 0, implied, implied_k = 0;

	GAUSS_ASSERT(t->nsym >= 1 && t->nsym <= 256);
	bw_put(&w, t->nsym - 1, 8);
	implied = implied_symbol(t);
	/* a fine table implies the frequency its bits cannot hold, if any */
	if (t->scale_bits == RANS_FINE_BITS)
		for (unsigned s = 0; s < 256; s++)
			if (sig_round(t->freq[s], true) != t->freq[s])
				implied = s;
	for (unsigned s = 0; s < 256; s++) {
		if (!t->freq[s])
			continue;
		if (k == 0)
			bw_put(&w, s, 8);
		else
			bw_gamma(&w, s - prev);
		if (s == implied)
			implied_k = k;
		prev = s;
		k++;
	}
	if (t->nsym > 1) {
		const bool fine = t->scale_bits == RANS_FINE_BITS;
		unsigned prev_len = 0;

		bw_put(&w, implied_k, index_bits(t->nsym));
		for (unsigned s = 0; s < 256; s++) {
			const uint32_t f = t->freq[s];
			unsigned len;

			if (!f || s == implied)
				continue;
			len = bit_length(f);
			/* fine tables after the first: the change of length,
			 * zigzag, plus one, as a gamma code */
			if (fine && prev_len)
				bw_gamma(&w, len >= prev_len ?
					     2 * (len - prev_len) + 1 :
					     2 * (prev_len - len));
			else
				bw_put(&w, len - 1, 4);
			prev_len = len;
			if (fine && len > RANS_FINE_SIG) {
				/* the bits below the leading one, the
				 * others zero */
				GAUSS_ASSERT(sig_round(f, true) == f);
				bw_put(&w, (f >> (len - RANS_FINE_SIG)) &
					   ((1u << (RANS_FINE_SIG - 1)) - 1),
				       RANS_FINE_SIG - 1);
			} else {
				bw_put(&w, f & ((1u << (len - 1)) - 1),
				       len - 1);
			}
		}
	}
	if (w.nbits)
		bw_put(&w, 0, 8 - w.nbits);
	return w.pos;
}

struct bitreader {
	struct cursor *c;
	uint64_t acc;
	unsigned nbits;
};

static int
br_get(struct bitreader *r, unsigned nbits, uint32_t *v_ret)
{
	while (r->nbits < nbits) {
		uint8_t b;

		if (!cursor_u8(r->c, &b))
			return -1;
		r->acc |= (uint64_t)b << r->nbits;
		r->nbits += 8;
	}
	*v_ret = (uint32_t)(r->acc & ((1ull << nbits) - 1));
	r->acc >>= nbits;
	r->nbits -= nbits;
	return 0;
}

static int
br_gamma(struct bitreader *r, uint32_t *v_ret)
{
	unsigned zeros = 0;
	uint32_t bit, v = 1;

	for (;;) {
		if (br_get(r, 1, &bit))
			return -1;
		if (bit)
			break;
		if (++zeros > 8)
			return -1;
	}
	for (unsigned i = 0; i < zeros; i++) {
		if (br_get(r, 1, &bit))
			return -1;
		v = (v << 1) | bit;
	}
	*v_ret = v;
	return 0;
}

enum gauss_status
rans_table_read(struct cursor *c, struct rans_table *t, struct errbuf *eb)
{
	return rans_table_read_bits(c, RANS_SCALE_BITS, t, eb);
}

enum gauss_status
rans_table_read_bits(struct cursor *c, unsigned scale_bits,
		     struct rans_table *t, struct errbuf *eb)
{
	const uint32_t M = 1u << scale_bits;
	struct bitreader r = { .c = c };
	uint8_t syms[256];
	uint32_t v, implied_k = 0, sum = 0;
	unsigned sym;

	GAUSS_ASSERT(scale_bits == RANS_SCALE_BITS ||
		     scale_bits == RANS_FINE_BITS);
	memset(t, 0, sizeof(*t));
	t->scale_bits = scale_bits;
	if (br_get(&r, 8, &v))
		goto short_table;
	t->nsym = v + 1;
	if (br_get(&r, 8, &v))
		goto short_table;
	sym = v;
	syms[0] = (uint8_t)sym;
	for (unsigned k = 1; k < t->nsym; k++) {
		if (br_gamma(&r, &v))
			goto bad;
		sym += v;
		if (sym > 255)
			goto bad;
		syms[k] = (uint8_t)sym;
	}
	if (t->nsym == 1) {
		t->freq[syms[0]] = (uint16_t)M;
	} else {
		if (br_get(&r, index_bits(t->nsym), &implied_k))
			goto short_table;
		if (implied_k >= t->nsym)
			goto bad;
		uint32_t prev_len = 0;

		for (unsigned k = 0; k < t->nsym; k++) {
			uint32_t len1, low, z;

			if (k == implied_k)
				continue;
			if (scale_bits == RANS_FINE_BITS && prev_len) {
				if (br_gamma(&r, &z))
					goto bad;
				/* z = 2 d + 1 for d >= 0, 2 |d| for d < 0 */
				len1 = z & 1 ? prev_len - 1 + (z >> 1) :
					       prev_len - 1 - (z >> 1);
				if (!(z & 1) && z >> 1 >= prev_len)
					goto bad;
			} else if (br_get(&r, 4, &len1)) {
				goto bad;
			}
			if (len1 >= scale_bits)
				goto bad;
			prev_len = len1 + 1;
			if (scale_bits == RANS_FINE_BITS &&
			    len1 >= RANS_FINE_SIG) {
				const unsigned drop = len1 + 1 - RANS_FINE_SIG;

				if (br_get(&r, RANS_FINE_SIG - 1, &low))
					goto bad;
				t->freq[syms[k]] = (uint16_t)(((1u <<
					(RANS_FINE_SIG - 1)) | low) << drop);
			} else {
				if (br_get(&r, len1, &low))
					goto bad;
				t->freq[syms[k]] = (uint16_t)((1u << len1) |
							      low);
			}
			sum += t->freq[syms[k]];
		}
		if (sum >= M)
			goto bad;
		t->freq[syms[implied_k]] = (uint16_t)(M - sum);
	}
	/* Padding bits up to the byte boundary must be zero. */
	if (r.acc != 0)
		goto bad;
	rans_table_finish(t);
	return GAUSS_OK;
short_table:
	return err_setf(eb, GAUSS_E_CORRUPT, "frequency table is truncated");
bad:
	if (c->bad)
		goto short_table;
	return err_setf(eb, GAUSS_E_CORRUPT, "frequency table is invalid");
}

/*
 * The alias layout (gauss(5), "Slot layout"): bucket by bucket, the symbol
 * with the fewest codes left (ties: the lower symbol) goes first; if it
 * fills the bucket it takes RANS_ALIAS_SLOTS codes as the bucket's hi part
 * (div = 0); otherwise all its remaining codes form the lo part and the
 * symbol with the most codes left (ties: the lower symbol) fills the rest.
 * Each bucket uses up one symbol or leaves only symbols larger than a
 * bucket, so up to 64 symbols always fit.
 */
bool
rans_alias_build(const struct rans_table *t, struct rans_alias *a)
{
	/*
	 * The symbols with codes left as keys rem << 8 | s, kept in
	 * increasing order in key[first, n): the first has the fewest codes
	 * left (ties: the lower symbol); the most codes left are at the end,
	 * the lower symbol of a tie first among them. A bucket only lowers
	 * the keys it touches, so each moves down to its place, and a symbol
	 * used up (rem 0) goes to the front and is dropped. The codes of a
	 * symbol used so far are freq - rem; every bucket is written.
	 */
	uint32_t key[256];
	unsigned n = 0, first = 0;

	GAUSS_ASSERT(t->nsym >= 2);
	for (unsigned s = 0; s < 256; s++) {
		uint32_t k;
		unsigned j;

		if (!t->freq[s])
			continue;
		k = (uint32_t)t->freq[s] << 8 | s;
		for (j = n++; j > 0 && key[j - 1] > k; j--)
			key[j] = key[j - 1];
		key[j] = k;
	}
	for (unsigned b = 0; b < RANS_ALIAS_BUCKETS; b++) {
		unsigned small, rem, need, large, j;

		GAUSS_ASSERT(first < n);
		small = key[first] & 0xff;
		rem = key[first] >> 8;
		if (rem >= RANS_ALIAS_SLOTS) {
			/* still the smallest afterwards */
			a->div[b] = 0;
			a->lo[b] = 0;
			a->hi[b] = (uint8_t)small;
			a->khi[b] = (uint16_t)(t->freq[small] - rem);
			key[first] -= RANS_ALIAS_SLOTS << 8;
			first += key[first] >> 8 == 0;
			continue;
		}
		a->div[b] = (uint8_t)rem;
		a->lo[b] = (uint8_t)small;
		need = RANS_ALIAS_SLOTS - rem;
		first++;
		if (first == n)
			return false;
		j = n - 1;
		while (j > first && key[j - 1] >> 8 == key[n - 1] >> 8)
			j--;
		if (key[j] >> 8 < need)
			return false;
		large = key[j] & 0xff;
		a->hi[b] = (uint8_t)large;
		a->khi[b] = (uint16_t)(t->freq[large] - (key[j] >> 8));
		key[j] -= need << 8;
		for (; j > first && key[j - 1] > key[j]; j--) {
			const uint32_t k = key[j];

			key[j] = key[j - 1];
			key[j - 1] = k;
		}
		first += key[first] >> 8 == 0;
	}
	return true;
}

/*
 * Fills slot_of[cum[s] + k] with the slot of the k-th code of symbol s
 * under the layout of a file of this version; returns whether that layout
 * is the alias one (described by *a).
 */
static bool
layout_slots(const struct rans_table *t, unsigned version,
	     uint16_t slot_of[RANS_M], struct rans_alias *a)
{
	GAUSS_ASSERT(t->scale_bits == RANS_SCALE_BITS);
	if (version < 2 || !rans_alias_build(t, a)) {
		for (unsigned c = 0; c < RANS_M; c++)
			slot_of[c] = (uint16_t)c;
		return false;
	}
	for (unsigned b = 0; b < RANS_ALIAS_BUCKETS; b++) {
		const unsigned div = a->div[b], lo = a->lo[b], hi = a->hi[b];
		const unsigned base = b * RANS_ALIAS_SLOTS;

		for (unsigned o = 0; o < div; o++)
			slot_of[t->cum[lo] + t->freq[lo] - div + o] =
				(uint16_t)(base + o);
		for (unsigned o = div; o < RANS_ALIAS_SLOTS; o++)
			slot_of[t->cum[hi] + a->khi[b] + o - div] =
				(uint16_t)(base + o);
	}
	return true;
}

void
rans_etable_build(const struct rans_table *t, unsigned version,
		  struct rans_etable *e)
{
	struct rans_alias a;

	memset(e, 0, sizeof(*e));
	e->nsym = t->nsym;
	e->scale_bits = t->scale_bits;
	e->lane_unit = t->lane_unit ? t->lane_unit : rans_lane_unit(version);
	e->whole = t->whole;
	memcpy(e->freq, t->freq, sizeof(e->freq));
	memcpy(e->cum, t->cum, sizeof(e->cum));
	if (t->scale_bits == RANS_FINE_BITS) {
		for (unsigned s = 0; s < 256; s++)
			if (t->freq[s])
				e->rcp[s] = (((uint64_t)1 << 47) + t->freq[s] -
					     1) / t->freq[s];
	} else if (t->nsym >= 2) {
		e->alias = layout_slots(t, version, e->slot, &a);
	}
}

void
rans_dtable_build(const struct rans_table *t, unsigned version,
		  struct rans_dtable *d)
{
	rans_dtable_build_for(t, version, true, d);
}

void
rans_dtable_build_for(const struct rans_table *t, unsigned version,
		      bool slots, struct rans_dtable *d)
{
	struct rans_alias a;

	memset(d->alo, 0, sizeof(d->alo));
	memset(d->ahi, 0, sizeof(d->ahi));
	d->nsym = t->nsym;
	d->scale_bits = t->scale_bits;
	d->lane_unit = t->lane_unit ? t->lane_unit : rans_lane_unit(version);
	d->whole = t->whole;
	d->only_symbol = 0;
	d->alias = false;
	d->slots = false;
	if (t->nsym < 2) {
		for (unsigned s = 0; s < 256; s++)
			if (t->freq[s] == 1u << t->scale_bits)
				d->only_symbol = (uint8_t)s;
		return;
	}
	if (t->scale_bits == RANS_FINE_BITS) {
		for (unsigned s = 0; s < 256; s++) {
			memset(d->fine.sym + t->cum[s], (int)s, t->freq[s]);
			d->fine.fc[s] = t->freq[s] | (uint32_t)t->cum[s] << 16;
		}
		d->slots = true;
		return;
	}
	d->alias = version >= 2 && rans_alias_build(t, &a);
	d->slots = slots || !d->alias;
	if (!d->alias) {
		/* the cumulative layout: s owns [cum[s], cum[s] + f) */
		for (unsigned s = 0; s < 256; s++)
			for (unsigned k = 0; k < t->freq[s]; k++)
				d->slot[t->cum[s] + k] =
					s | ((uint32_t)t->freq[s] << 8) |
					((uint32_t)k << 20);
		return;
	}
	/*
	 * Slot b * 64 + o: o < div is lo's code freq[lo] - div + o, else hi's
	 * code khi + o - div; the entry is base + (o << 20), where the code
	 * part of base may wrap below zero (it is taken modulo 2^12 and o
	 * brings it back into [0, f)).
	 */
	for (unsigned b = 0; b < RANS_ALIAS_BUCKETS; b++) {
		const unsigned div = a.div[b], lo = a.lo[b], hi = a.hi[b];
		const uint32_t flo = div ? t->freq[lo] : 0;
		const uint32_t fhi = div < RANS_ALIAS_SLOTS ? t->freq[hi] : 0;
		const uint32_t elo = lo | flo << 8 | (flo - div) << 20;
		const uint32_t ehi = hi | fhi << 8 |
				     ((uint32_t)a.khi[b] - div) << 20;
		uint32_t *const slot = d->slot + b * RANS_ALIAS_SLOTS;

		if (div)
			d->alo[b] = flo | (uint32_t)div << 12 |
				    (uint32_t)lo << 24;
		if (div < RANS_ALIAS_SLOTS)
			d->ahi[b] = fhi | (uint32_t)a.khi[b] << 12 |
				    (uint32_t)hi << 24;
		if (!slots)
			continue;
		for (unsigned o = 0; o < RANS_ALIAS_SLOTS; o++)
			slot[o] = (o < div ? elo : ehi) + ((uint32_t)o << 20);
	}
}

double
rans_table_entropy(const struct rans_table *t)
{
	double h = 0;

	for (unsigned s = 0; s < 256; s++) {
		if (t->freq[s]) {
			const double p = ldexp((double)t->freq[s],
					       -(int)t->scale_bits);

			h -= p * log2(p);
		}
	}
	return h;
}

double
rans_table_cost(const struct rans_table *t, const uint64_t counts[256])
{
	double bits = 0;

	for (unsigned s = 0; s < 256; s++)
		if (counts[s])
			bits += (double)counts[s] *
				(t->scale_bits - log2((double)t->freq[s]));
	return bits;
}

/* log2(x) for 1 <= x < 2^32 in 1/65536 units, by repeated squaring. */
static uint64_t
log2_q16(uint32_t x)
{
	const unsigned e = 31u - (unsigned)__builtin_clz(x);
	uint64_t m = ((uint64_t)x << 30) >> e;	/* [1, 2) in Q30 */
	uint64_t r = (uint64_t)e << 16;

	for (unsigned b = 16; b-- > 0;) {
		m = (m * m) >> 30;
		if (m >= (uint64_t)1 << 31) {
			m >>= 1;
			r |= (uint64_t)1 << b;
		}
	}
	return r;
}

uint64_t
rans_table_cost_q16(const struct rans_table *t, const uint64_t counts[256])
{
	uint64_t q = 0;

	for (unsigned s = 0; s < 256; s++)
		if (counts[s])
			q += counts[s] * (((uint64_t)t->scale_bits << 16) -
					  log2_q16(t->freq[s]));
	return q;
}
