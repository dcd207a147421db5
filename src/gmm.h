/* SPDX-License-Identifier: MIT */
/*
 * gmm.h: the lossy codec of one tensor or row shard (--gmm): a Gaussian
 * mixture fitted by hard EM, MAP cluster indices and quantised residuals,
 * both coded with the project's rANS, and exact escapes.
 *
 * Everything here is a pure function on memory: no I/O, no globals, no
 * locale, safe to call from any number of threads at once. The payload
 * depends only on (dtype, values, options): never on the CPU level, the
 * thread count or the C library. All floating-point work is IEEE-754
 * binary64 with basic operations and sqrt only (correctly rounded
 * everywhere; the project builds with -ffp-contract=off); the two
 * transcendental functions the codec needs, log and exp, are computed by
 * our own fixed sequences of basic operations (gmm_fit.c), never by libm.
 *
 * ALGORITHM
 *
 * Fit (gmm_fit.c). The sample is every value when the shard holds at most
 * fit_samples (200 000) values; otherwise a stratified sample: the shard
 * cut into fit_samples ranges [floor(s N / n), floor((s + 1) N / n)) and
 * one position drawn uniformly in each (splitmix64 seeded with
 * splitmix64(seed) ^ splitmix64(shard_id ^ 0x9e3779b97f4a7c15), the high
 * half of a draw times the range's size). A value is drawn with
 * probability 1 / (its range's size), n / N on average; unlike the
 * original's uniform subset, the draws spread evenly over the shard, and
 * the values are read in order. NaN and infinities are left out of the fit
 * (they are escapes). The sample is sorted (which makes its draw order
 * irrelevant); then, as the original:
 * - mu_k = numpy.percentile(sample, linspace(5, 95, K)) (linear method,
 *   numpy's exact sequence of operations), sigma_k = max(std / K, 1e-6)
 *   with the population std (two passes), pi_k = 1 / K;
 * - E-step: MAP with score_k(x) = log(pi_k + 1e-300) - log(sigma_k + 1e-10)
 *   - 0.5 ((x - mu_k) / (sigma_k + 1e-10))^2, ties to the lowest k;
 * - stop, before the M-step, when fewer than 0.1% of the sample changed
 *   cluster (the parameters returned are those of that assignment);
 * - M-step: pi_k = n_k / n; mu_k = mean; sigma_k = max(sqrt(var), 1e-6)
 *   with the variance from double-double sums (no cancellation); empty
 *   clusters keep mu_k and sigma_k, pi_k = 0;
 * - at most max_iter iterations.
 * The E-step is exact MAP computed with the decision regions: for 1-D
 * Gaussians the argmax is piecewise constant on at most 2K - 1 intervals
 * (the upper envelope of K downward parabolas). gmm_fit.c computes the
 * thresholds with a sweep from -inf (pairwise crossing points by the
 * stable quadratic formula); a value then belongs to the piece the
 * thresholds place it in (a value equal to a threshold goes right). On the
 * sorted sample an E-step is K binary searches, and the M-step reads
 * prefix sums, so an iteration costs O(K^2 + K log n), not O(nK). The full
 * shard is assigned with the same thresholds (a binary search per value).
 *
 * Quantise. S is 1000 for fp32 and fp16 and 128 for bf16 (the original's
 * adaptive cap), or ceil(1 / (2E)) when the caller gives max_error E; the
 * bound is 1/(2S). r = round_half_even((w - mu_k) * S) in binary64; the
 * decoder rebuilds w' = mu_k + r / S in binary64 and rounds it ONCE to the
 * dtype (round to nearest, ties to even; the original rounded twice for
 * bf16). A value is an escape, kept bit for bit, when it is NaN or
 * infinite, when |r| > 32767, or when |w' - w| > 1/(2S) after that
 * rounding; so every decoded value is within the bound.
 *
 * Residual symbols. Per cluster a shift s_k (0..15) is chosen so that the
 * residual std over 2^s_k is at most 8; q = r >> s_k (floor), and the low
 * s_k bits of r go raw. q maps to a byte symbol ("bucket"):
 *   q in [-111, 111]   symbol q + 111                     (0..222)
 *   q >= 112           m = q - 112, e = floor(log2(m + 1)):
 *                      symbol 223 + e, then e raw bits m + 1 - 2^e
 *   q <= -112          m = -q - 112, likewise with symbol 238 + e
 * (e <= 14, so symbols 253..255 are never used). With q's std <= 8 the
 * single-value buckets hold all but ~1e-40 of a Gaussian, and the raw bits
 * are the low bits of a value whose density barely changes across 2^s_k
 * (the loss is ~(1/8)^2 / 24 nat, measured in test_gmm.c).
 *
 * Tables. The index stream uses the empirical counts of the shard's
 * indices. Each cluster's symbols use either the quantised Gaussian of
 * standard deviation sigma_k * S (in units of r, mean 0: the mass of each
 * bucket's range of r, [lo - 0.5, hi + 0.5], from an erfc approximation
 * (Abramowitz-Stegun 7.1.26 with our exp), scaled by 2^40 and truncated;
 * symbols of zero count are absent; then rans_table_normalize()), or the
 * empirical histogram, serialised; the encoder takes whichever codes
 * smaller, table bytes included.
 *
 * PAYLOAD (all integers little-endian; "varint" is the container's LEB128;
 * "table" is a frequency table as in gauss(5), "Frequency table"; rANS
 * streams use the alias slot layout of format version 2 and the lane count
 * of their symbol count n under version 2's lane unit, RANS_LANE_UNIT, in
 * files of every version):
 *
 *   u8      version, GMM_PAYLOAD_VERSION (1)
 *   u8      K, 1..255
 *   u32     S, >= 1 (the bound is 1/(2S))
 *   varint  iterations of the fit (informational)
 *   varint  E, the number of escapes (<= the element count N)
 *   K x     f64 mu_k, f64 sigma_k, f64 pi_k (binary64 bits)
 *   K x     u8 coding of cluster k: bits 0-3 the shift s_k; bits 4-5 the
 *           table: 0 none (the cluster codes no value), 1 Gaussian,
 *           2 empirical; bits 6-7 zero
 *   table   of the indices, present when K >= 2
 *   K x     table of cluster k, present when its coding says empirical
 *   varint  bytes of the index stream
 *   K x     varint bytes of cluster k's stream
 *   varint  bytes of the raw bits
 *   varint  bytes of the escape positions
 *   bytes   the index stream: N - E symbols (indices of the non-escaped
 *           values in order); no stream (0 bytes) when the table has one
 *           symbol or K == 1
 *   bytes   the K cluster streams: cluster k's bucket symbols, in the
 *           order of its values; none when the table has one symbol
 *   bytes   raw bits, LSB first, for each non-escaped value in order: the
 *           e extra bits of a tail bucket, then the s_k low bits of r;
 *           padded with zero bits to a byte; no spare byte
 *   bytes   escape positions: E varints, the first position, then each
 *           gap minus one
 *   bytes   escape values: E x (2 or 4) bytes, the original bits
 * and nothing after. A decoder rejects anything else: a symbol a table
 * does not have, an r beyond +-32767, an index >= K, unused bytes.
 */
#ifndef GAUSS_GMM_H
#define GAUSS_GMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gauss.h"
#include "error.h"

struct rans_kernels;

/* ---- stored on disk: changing any of these changes the format ---- */
#define GMM_PAYLOAD_VERSION	1
#define GMM_RANS_LAYOUT		2	/* slot layout: alias (format v2) */
#define GMM_MAX_K		255
#define GMM_RESID_MAX		32767	/* |r| above this escapes */
#define GMM_BUCKET_HALF		111	/* single-value buckets -111..111 */
#define GMM_MAX_SHIFT		15
/* ---- end of format constants ---- */

/* Defaults of the original. */
#define GMM_DEFAULT_K		16
#define GMM_DEFAULT_MAX_ITER	100
#define GMM_DEFAULT_FIT_SAMPLES	200000
#define GMM_MAX_SCALE		(1u << 30)

struct gmm_options {
	unsigned k;		/* components, 1..255 (16) */
	unsigned max_iter;	/* EM iterations, >= 1 (100) */
	size_t fit_samples;	/* sample size, >= 1 (200000) */
	double max_error;	/* 0: the dtype's S; else S = ceil(1/(2E)) */
	uint64_t seed;		/* the user's seed */
	uint64_t shard_id;	/* the shard's identity (tensor, shard) */
	/* rANS kernels to use (NULL: the best available); never changes bytes */
	const struct rans_kernels *kernels;
	/* also measure report->resid_entropy_bits (slow; for the bench) */
	bool diagnostics;
};

/* Fills o with the defaults (K 16, 100 iterations, 200000 samples, seed 0). */
void gmm_options_default(struct gmm_options *o);

/*
 * What gmm_encode() measured, for `gauss info` and the bench. Errors are
 * between the original and the decoded value (after rounding to the dtype),
 * over finite values; escapes count with error 0.
 */
struct gmm_report {
	unsigned k;
	unsigned iterations;
	uint32_t scale;		/* S */
	double bound;		/* 1/(2S) */
	double max_abs_error;
	double rms_error;
	double std;		/* of the finite values (population) */
	double rel_rms_error;	/* rms_error / std (0 when std is 0) */
	uint64_t escapes;
	uint64_t fit_count;	/* finite values the fit used */
	unsigned gaussian_tables; /* clusters coded with the Gaussian table */
	size_t header_nbytes;	/* everything before the streams */
	size_t index_nbytes;	/* the index stream */
	size_t resid_nbytes;	/* the K cluster streams together */
	size_t raw_bits_nbytes;
	size_t escape_nbytes;	/* positions and values */
	size_t total_nbytes;
	/* ideal sizes in bits under the tables used (sum of -log2(f/M)) */
	double index_model_bits;
	double resid_model_bits;
	/* the residuals' own order-0 entropy in bits, per cluster, summed */
	double resid_entropy_bits;
};

/*
 * Buffers reused from call to call (one per thread: a scratch is not
 * shared); NULL where a function takes one means buffers of that call
 * only. Keeping one per worker thread saves the page faults of fresh
 * memory, which cost more than the coding itself on small shards.
 */
struct gmm_scratch;
struct gmm_scratch *gmm_scratch_new(void);
void gmm_scratch_free(struct gmm_scratch *s);	/* accepts NULL */

/* Largest payload gmm_encode() can write for count values. */
size_t gmm_encode_bound(enum gauss_dtype dtype, size_t count, unsigned k);

/*
 * The scale S for dtype and max_error (0: the dtype's default); returns 0
 * when max_error is negative, not finite, or needs S > GMM_MAX_SCALE.
 */
uint32_t gmm_scale_for(enum gauss_dtype dtype, double max_error);

/*
 * Encodes count values of dtype (GAUSS_DTYPE_F32, _F16 or _BF16; src holds
 * them little-endian, any alignment) into out, at most cap bytes
 * (gmm_encode_bound() always suffices); the size goes to *nbytes_ret and,
 * when report is not NULL, the measurements to *report. Uses scratch
 * (may be NULL) for about 12 bytes per value plus 15 MB for the fit.
 * Returns GAUSS_OK, GAUSS_E_INVALID_ARG (dtype or options, with a message),
 * GAUSS_E_TOO_LARGE (cap too small) or GAUSS_E_NOMEM.
 */
enum gauss_status gmm_encode(enum gauss_dtype dtype, const void *src,
			     size_t count, const struct gmm_options *opt,
			     uint8_t *out, size_t cap, size_t *nbytes_ret,
			     struct gmm_report *report,
			     struct gmm_scratch *scratch, struct errbuf *eb);

/*
 * Decodes a payload of nbytes bytes (untrusted) into count values of dtype
 * at dst (little-endian). kernels may be NULL (the best available);
 * scratch may be NULL. Scratch is 2 bytes per value plus the tables,
 * whatever the payload says.
 * Returns GAUSS_OK, GAUSS_E_CORRUPT with a message for any payload not
 * written by gmm_encode() for this dtype and count, GAUSS_E_INVALID_ARG
 * for a bad dtype, or GAUSS_E_NOMEM; on failure dst holds anything.
 */
enum gauss_status gmm_decode(enum gauss_dtype dtype, const uint8_t *in,
			     size_t nbytes, void *dst, size_t count,
			     const struct rans_kernels *kernels,
			     struct gmm_scratch *scratch, struct errbuf *eb);

/* What a payload's header says, for `gauss info` (checks the header only). */
struct gmm_payload_info {
	unsigned k;
	unsigned iterations;
	uint32_t scale;
	uint64_t escapes;
};
enum gauss_status gmm_payload_info(const uint8_t *in, size_t nbytes,
				   struct gmm_payload_info *info_ret,
				   struct errbuf *eb);

#endif /* GAUSS_GMM_H */
