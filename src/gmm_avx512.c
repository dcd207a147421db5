/* SPDX-License-Identifier: MIT */
/*
 * gmm_avx512.c: the lossy codec's per-value passes over F32 shards with
 * AVX-512 F, DQ and VL (gmm_internal.h, struct gmm_ops); the scalar twins
 * are in gmm.c and give the same bits.
 *
 * Pass A, sixteen values a step: a value's piece is found by comparing
 * its order-preserving integer key with every threshold's key (the last
 * threshold passed names the component), so there is no search and no
 * branch; then, eight values a lane of binary64 at a time, the same
 * operations as the scalar code: mu from a two-register permute, the
 * residual rounded half to even by vrndscalepd, mu + r / S rounded to
 * binary32 by vcvtpd2ps (IEEE, as the scalar cast), the error and the
 * escape tests as masks. Sums run in the eight lanes the scalar code
 * keeps (value i in lane i % 8), so they round alike.
 */
#include <immintrin.h>

#include "common.h"
#include "cpu.h"
#include "gmm_internal.h"
#include "banned.h"

#define LANES_PER_STEP	16

static inline __m512d
abs_pd(__m512d v)
{
	return _mm512_castsi512_pd(_mm512_and_si512(
		_mm512_castpd_si512(v), _mm512_set1_epi64(INT64_MAX)));
}

/* The components of 16 values of keys key (thresholds in k). */
static inline __m512i
components(const struct gmm_keys *k, __m512i key)
{
	__m512i c = _mm512_set1_epi32(k->w[0]);

	for (unsigned t = 0; t < k->n; t++) {
		const __mmask16 pass = _mm512_cmpge_epi32_mask(
			key, _mm512_set1_epi32(k->key[t]));

		c = _mm512_mask_mov_epi32(c, pass,
					  _mm512_set1_epi32(k->w[t + 1]));
	}
	return c;
}

static void
pass_a_f32(struct gmm_pass_a *a)
{
	const struct gmm_model *m = a->m;
	const double sdd = (double)a->scale;
	const __m512d sd = _mm512_set1_pd(sdd);
	const __m512d bound = _mm512_set1_pd(0.5 / sdd);
	const __m512d c0 = _mm512_set1_pd(m->fit_mean);
	const __m512d tmax = _mm512_set1_pd(GMM_RESID_MAX + 1);
	const __m512d rmax = _mm512_set1_pd(GMM_RESID_MAX);
	__m512d mulo, muhi, sumd, sumd2, sumerr2, maxerr;
	double mu[16] = { 0 };
	uint64_t nesc = 0, nfinite = 0;
	size_t i = 0;

	if (m->k > 16) {
		gmm_pass_a_from(GAUSS_DTYPE_F32, a, 0);
		return;
	}
	memcpy(mu, m->mu, m->k * sizeof(double));
	mulo = _mm512_loadu_pd(mu);
	muhi = _mm512_loadu_pd(mu + 8);
	sumd = _mm512_loadu_pd(a->sumd);
	sumd2 = _mm512_loadu_pd(a->sumd2);
	sumerr2 = _mm512_loadu_pd(a->sumerr2);
	maxerr = _mm512_set1_pd(a->maxerr);
	for (; i + LANES_PER_STEP <= a->count; i += LANES_PER_STEP) {
		const __m512i u = _mm512_loadu_si512(a->src + 4 * i);
		const __m512i key = _mm512_xor_si512(u, _mm512_srli_epi32(
			_mm512_srai_epi32(u, 31), 1));
		const __mmask16 fin = _mm512_cmplt_epu32_mask(
			_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
			_mm512_set1_epi32(0x7f800000));
		const __m512i c = components(a->keys, key);
		__m256i rh[2];
		__mmask16 keep = 0;

		for (unsigned h = 0; h < 2; h++) {
			const __mmask8 f = (__mmask8)(fin >> (8 * h));
			const __m256i ch = h ? _mm512_extracti64x4_epi64(c, 1) :
					       _mm512_castsi512_si256(c);
			const __m512d x = _mm512_cvtps_pd(_mm256_castsi256_ps(
				h ? _mm512_extracti64x4_epi64(u, 1) :
				    _mm512_castsi512_si256(u)));
			const __m512d mv = _mm512_permutex2var_pd(
				mulo, _mm512_cvtepu32_epi64(ch), muhi);
			const __m512d d = _mm512_sub_pd(x, c0);
			__m512d t, r, y, err;
			__mmask8 ok;

			sumd = _mm512_mask_add_pd(sumd, f, sumd, d);
			sumd2 = _mm512_mask_add_pd(sumd2, f, sumd2,
						   _mm512_mul_pd(d, d));
			t = _mm512_mul_pd(_mm512_sub_pd(x, mv), sd);
			ok = _mm512_mask_cmp_pd_mask(f, abs_pd(t), tmax,
						     _CMP_LT_OQ);
			r = _mm512_roundscale_pd(t, _MM_FROUND_TO_NEAREST_INT |
						    _MM_FROUND_NO_EXC);
			y = _mm512_cvtps_pd(_mm512_cvtpd_ps(
				_mm512_add_pd(mv, _mm512_div_pd(r, sd))));
			err = abs_pd(_mm512_sub_pd(y, x));
			ok = _mm512_mask_cmp_pd_mask(ok, err, bound, _CMP_LE_OQ);
			ok = _mm512_mask_cmp_pd_mask(ok, abs_pd(r), rmax,
						     _CMP_LE_OQ);
			maxerr = _mm512_mask_max_pd(maxerr, ok, maxerr, err);
			sumerr2 = _mm512_mask_add_pd(sumerr2, ok, sumerr2,
						     _mm512_mul_pd(err, err));
			rh[h] = _mm512_maskz_cvtpd_epi32(ok, r);
			keep |= (__mmask16)((unsigned)ok << (8 * h));
			nfinite += (unsigned)__builtin_popcount(f);
		}
		_mm_storeu_si128((__m128i *)(a->cls + i), _mm512_cvtepi32_epi8(
			_mm512_mask_mov_epi32(_mm512_set1_epi32(GMM_ESCAPED),
					      keep, c)));
		_mm256_storeu_si256((__m256i *)(a->res + i),
				    _mm512_cvtepi32_epi16(_mm512_inserti64x4(
					    _mm512_castsi256_si512(rh[0]),
					    rh[1], 1)));
		nesc += LANES_PER_STEP - (unsigned)__builtin_popcount(keep);
	}
	_mm512_storeu_pd(a->sumd, sumd);
	_mm512_storeu_pd(a->sumd2, sumd2);
	_mm512_storeu_pd(a->sumerr2, sumerr2);
	a->maxerr = _mm512_reduce_max_pd(maxerr);
	a->nesc += nesc;
	a->nfinite += nfinite;
	gmm_pass_a_from(GAUSS_DTYPE_F32, a, i);
}

static void
recon_f32(const double *mu, double scale, const uint8_t *cls,
	  const int32_t *res, size_t n, uint8_t *dst)
{
	const __m512d sd = _mm512_set1_pd(scale);
	size_t j = 0;

	for (; j + LANES_PER_STEP <= n; j += LANES_PER_STEP) {
		const __m512i c = _mm512_cvtepu8_epi32(
			_mm_loadu_si128((const __m128i *)(cls + j)));
		const __m512i r = _mm512_loadu_si512(res + j);
		__m256 y[2];

		for (unsigned h = 0; h < 2; h++) {
			const __m256i ch = h ? _mm512_extracti64x4_epi64(c, 1) :
					       _mm512_castsi512_si256(c);
			const __m256i rv = h ? _mm512_extracti64x4_epi64(r, 1) :
					       _mm512_castsi512_si256(r);
			const __m512d mv = _mm512_i32gather_pd(ch, mu, 8);

			y[h] = _mm512_cvtpd_ps(_mm512_add_pd(
				mv, _mm512_div_pd(_mm512_cvtepi32_pd(rv), sd)));
		}
		_mm512_storeu_ps(dst + 4 * j, _mm512_insertf32x8(
			_mm512_castps256_ps512(y[0]), y[1], 1));
	}
	gmm_recon(GAUSS_DTYPE_F32, mu, scale, cls + j, res + j, n - j,
		  dst + 4 * j);
}

static void
check_f32(const uint8_t *orig, const uint8_t *dec, size_t count,
	  double bound, struct gmm_check *c)
{
	const __m512d b = _mm512_set1_pd(bound);
	const __mmask8 exact = bound < 0 ? 0xff : 0;
	__m512d maxerr = _mm512_set1_pd(c->maxerr);
	__m512d sumerr2 = _mm512_loadu_pd(c->sumerr2);
	__m512d sum = _mm512_loadu_pd(c->sum), sum2 = _mm512_loadu_pd(c->sum2);
	uint64_t finite = 0;
	size_t i = 0;

	for (; i + 8 <= count; i += 8) {
		const __m256i uo = _mm256_loadu_si256(
			(const __m256i *)(orig + 4 * i));
		const __m256i ud = _mm256_loadu_si256(
			(const __m256i *)(dec + 4 * i));
		const __mmask8 fin = _mm256_cmplt_epu32_mask(
			_mm256_and_si256(uo, _mm256_set1_epi32(0x7fffffff)),
			_mm256_set1_epi32(0x7f800000));
		const __m512d x = _mm512_cvtps_pd(_mm256_castsi256_ps(uo));
		const __m512d y = _mm512_cvtps_pd(_mm256_castsi256_ps(ud));
		const __m512d err = abs_pd(_mm512_sub_pd(y, x));
		const __mmask8 same = _mm256_cmpeq_epi32_mask(uo, ud);
		const __mmask8 good =
			_mm512_mask_cmp_pd_mask(fin, err, b, _CMP_LE_OQ) |
			_mm512_mask_cmp_pd_mask(fin & exact, err,
						_mm512_setzero_pd(), _CMP_EQ_OQ) |
			(__mmask8)(~fin & same);

		if (good != 0xff)
			break;
		maxerr = _mm512_mask_max_pd(maxerr, fin, maxerr, err);
		sumerr2 = _mm512_mask_add_pd(sumerr2, fin, sumerr2,
					     _mm512_mul_pd(err, err));
		sum = _mm512_mask_add_pd(sum, fin, sum, x);
		sum2 = _mm512_mask_add_pd(sum2, fin, sum2, _mm512_mul_pd(x, x));
		finite += (unsigned)__builtin_popcount(fin);
	}
	_mm512_storeu_pd(c->sumerr2, sumerr2);
	_mm512_storeu_pd(c->sum, sum);
	_mm512_storeu_pd(c->sum2, sum2);
	c->maxerr = _mm512_reduce_max_pd(maxerr);
	c->finite += finite;
	gmm_check_from(GAUSS_DTYPE_F32, orig, dec, count, bound, c, i);
}

/*
 * With VBMI2: 64 values a step; for each cluster, a compare finds its
 * values and vpexpandb hands them the next bytes of its stream in order.
 */
__attribute__((target("avx512vbmi,avx512vbmi2")))
static size_t
take64(const uint8_t *cls, size_t n, const uint8_t **rp, unsigned k,
       uint8_t *syms)
{
	size_t j = 0;

	for (; j + 64 <= n; j += 64) {
		const __m512i c = _mm512_loadu_si512(cls + j);
		__m512i out = _mm512_setzero_si512();

		for (unsigned q = 0; q < k; q++) {
			const __mmask64 m = _mm512_cmpeq_epi8_mask(
				c, _mm512_set1_epi8((char)q));

			if (m == 0)
				continue;
			out = _mm512_mask_expandloadu_epi8(out, m, rp[q]);
			rp[q] += __builtin_popcountll(m);
		}
		_mm512_storeu_si512(syms + j, out);
	}
	return j;
}

static void
take_syms(const uint8_t *cls, size_t n, const uint8_t **rp, unsigned k,
	  uint8_t *syms)
{
	size_t j = 0;

	if (k <= 32 && cpu_has_vbmi2())
		j = take64(cls, n, rp, k, syms);
	gmm_ops_scalar.take_syms(cls + j, n - j, rp, k, syms + j);
}

/*
 * Residuals with VBMI, sixteen values a step: the bits each value takes
 * (its bucket's extra bits plus its cluster's shift) are summed across
 * the lanes into bit offsets; the step's bits lie in the next 128 bytes
 * (16 values take at most 464 bits), and vpermt2b gives each value, in a
 * 64-bit lane, the eight bytes from its offset's byte on; a variable shift
 * and a mask leave its bits. Stops where the next 128 bytes would pass
 * the end of the raw bits, or at a step with an r out of range (the
 * scalar code then finds and reports it); returns the values done.
 */
__attribute__((target("avx512vbmi,avx512vbmi2")))
static size_t
residuals16(const uint8_t *cls, const uint8_t *syms, size_t n,
	    const uint8_t *shift, unsigned k, const uint8_t *bp,
	    uint64_t bits_nb, uint64_t *bpos_io, int32_t *r)
{
	const __m512i zero = _mm512_setzero_si512();
	const __m512i one = _mm512_set1_epi32(1);
	const __m512i half = _mm512_set1_epi32(GMM_BUCKET_HALF);
	const __m512i bytes = _mm512_set1_epi64(0x0706050403020100ll);
	const __m512i spread = _mm512_set1_epi64(0x0101010101010101ll);
	const __m512i rmax = _mm512_set1_epi32(GMM_RESID_MAX);
	uint32_t stab[16] = { 0 };
	__m512i shifts;
	uint64_t bpos = *bpos_io;
	size_t j = 0;

	for (unsigned q = 0; q < k && q < 16; q++)
		stab[q] = shift[q];
	shifts = _mm512_loadu_si512(stab);
	for (; j + 16 <= n && (bpos >> 3) + 128 <= bits_nb; j += 16) {
		const uint8_t *w = bp + (bpos >> 3);
		const __m512i lo = _mm512_loadu_si512(w);
		const __m512i hi = _mm512_loadu_si512(w + 64);
		const __m512i kv = _mm512_cvtepu8_epi32(
			_mm_loadu_si128((const __m128i *)(cls + j)));
		const __m512i sv = _mm512_cvtepu8_epi32(
			_mm_loadu_si128((const __m128i *)(syms + j)));
		const __m512i s = _mm512_permutexvar_epi32(kv, shifts);
		const __mmask16 tail = _mm512_cmpgt_epu32_mask(
			sv, _mm512_set1_epi32(2 * GMM_BUCKET_HALF));
		const __mmask16 neg = _mm512_cmpge_epu32_mask(
			sv, _mm512_set1_epi32(238));
		__m512i e, base, nb, incl, rel, v, x, q, rv;
		__m256i vh[2];

		e = _mm512_mask_sub_epi32(zero, tail, sv,
					  _mm512_set1_epi32(223));
		e = _mm512_mask_sub_epi32(e, neg, sv, _mm512_set1_epi32(238));
		base = _mm512_mask_add_epi32(_mm512_sub_epi32(sv, half), tail,
					     half, _mm512_sllv_epi32(one, e));
		nb = _mm512_add_epi32(e, s);
		/* inclusive sums of nb across the lanes */
		incl = _mm512_add_epi32(nb, _mm512_alignr_epi32(nb, zero, 15));
		incl = _mm512_add_epi32(incl,
					_mm512_alignr_epi32(incl, zero, 14));
		incl = _mm512_add_epi32(incl,
					_mm512_alignr_epi32(incl, zero, 12));
		incl = _mm512_add_epi32(incl,
					_mm512_alignr_epi32(incl, zero, 8));
		rel = _mm512_add_epi32(_mm512_sub_epi32(incl, nb),
				       _mm512_set1_epi32((int)(bpos & 7)));
		for (unsigned h = 0; h < 2; h++) {
			const __m512i r64 = _mm512_cvtepu32_epi64(
				h ? _mm512_extracti64x4_epi64(rel, 1) :
				    _mm512_castsi512_si256(rel));
			const __m512i n64 = _mm512_cvtepu32_epi64(
				h ? _mm512_extracti64x4_epi64(nb, 1) :
				    _mm512_castsi512_si256(nb));
			const __m512i idx = _mm512_add_epi64(_mm512_mullo_epi64(
				_mm512_srli_epi64(r64, 3), spread), bytes);
			__m512i b = _mm512_permutex2var_epi8(lo, idx, hi);

			b = _mm512_srlv_epi64(b, _mm512_and_si512(
				r64, _mm512_set1_epi64(7)));
			b = _mm512_andnot_si512(_mm512_sllv_epi64(
				_mm512_set1_epi64(-1), n64), b);
			vh[h] = _mm512_cvtepi64_epi32(b);
		}
		v = _mm512_inserti64x4(_mm512_castsi256_si512(vh[0]), vh[1], 1);
		x = _mm512_andnot_si512(_mm512_sllv_epi32(
			_mm512_set1_epi32(-1), e), v);
		q = _mm512_add_epi32(base, x);
		q = _mm512_mask_sub_epi32(q, neg, zero, q);
		rv = _mm512_add_epi32(_mm512_sllv_epi32(q, s),
				      _mm512_srlv_epi32(v, e));
		if (_mm512_cmpgt_epi32_mask(_mm512_abs_epi32(rv), rmax))
			break;
		_mm512_storeu_si512(r + j, rv);
		bpos += (uint32_t)_mm_extract_epi32(
			_mm512_extracti32x4_epi32(incl, 3), 3);
	}
	*bpos_io = bpos;
	return j;
}

static bool
residuals(const uint8_t *cls, const uint8_t *syms, size_t n,
	  const uint8_t *shift, unsigned k, const uint8_t *bp,
	  uint64_t bits_nb, uint64_t *bpos_io, int32_t *r, int32_t *bad)
{
	size_t j = 0;

	if (k <= 16 && cpu_has_vbmi2())
		j = residuals16(cls, syms, n, shift, k, bp, bits_nb, bpos_io,
				r);
	return gmm_ops_scalar.residuals(cls + j, syms + j, n - j, shift, k,
					bp, bits_nb, bpos_io, r + j, bad);
}

const struct gmm_ops gmm_ops_avx512 = {
	pass_a_f32, recon_f32, check_f32, take_syms, residuals,
};
