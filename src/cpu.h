/* SPDX-License-Identifier: MIT */
/*
 * cpu.h: which rANS kernels run. Levels are chosen once, at run time, from
 * CPUID and XGETBV (the CPU has the instructions and the OS saves their
 * registers), or forced with GAUSS_CPU=scalar|avx2|avx512 for tests and
 * benchmarks. Every level writes the same bytes, so the choice changes
 * speed only.
 */
#ifndef GAUSS_CPU_H
#define GAUSS_CPU_H

#include "error.h"
#include "hash.h"
#include "rans.h"
#include "split.h"

enum cpu_level {
	CPU_SCALAR = 0,
	CPU_AVX2 = 1,		/* AVX2, BMI2 */
	CPU_AVX512 = 2,		/* AVX-512 F, BW, DQ, VL, BMI2 */
	CPU_LEVEL_COUNT
};

struct gmm_ops;

struct rans_kernels {
	enum cpu_level level;
	const char *name;	/* "scalar", "avx2", "avx512" */
	rans_encode_fn encode;
	rans_decode_fn decode;
	rans_decode_bf16_fn decode_bf16;
	rans_decode_bf16_pair_fn decode_bf16_pair;
	bool slots;	/* decoders need rans_dtable.slot[] for alias tables */
	const struct hash_ops *hash;	/* the checksums, for the same level */
	/* split_planes_whole() and split_merge_whole() at this level */
	size_t (*planes_whole)(enum fmt_kind kind, const struct rans_whole *w,
			       const uint8_t *src, size_t n, uint8_t *syms,
			       uint8_t *raw);
	size_t (*merge_whole)(enum fmt_kind kind, const struct rans_whole *w,
			      const uint8_t *syms, const uint8_t *raw,
			      size_t n, size_t avail, uint8_t *dst);
	/* split_planes_m1() and split_merge_m1() at this level */
	split_planes_m1_fn planes_m1;
	split_merge_m1_fn merge_m1;
	const struct gmm_ops *gmm;	/* the lossy codec's per-value passes */
	/* the passes of sampled counts at this level (split.h) */
	struct split_sampler sampler;
	/* the coder of fine tables (rans.h) at this level */
	rans_encode_fn fine_encode;
	rans_decode_fn fine_decode;
};

/* The name of a level, as GAUSS_CPU spells it. */
const char *cpu_level_name(enum cpu_level level);

/* Whether this build has the level's kernels and this CPU can run them. */
bool cpu_level_available(enum cpu_level level);

/*
 * Whether the CPU runs the AVX-512 level and also has AVX-512 VBMI and
 * VBMI2, which some AVX-512 kernels use for a wider path (the level itself
 * asks for F, BW, DQ and VL only).
 */
bool cpu_has_vbmi2(void);

/* The kernels of a level, or NULL when cpu_level_available() is false. */
const struct rans_kernels *rans_kernels_of(enum cpu_level level);

/*
 * The kernels to use: those GAUSS_CPU names when it is set, otherwise the
 * best available level. GAUSS_E_INVALID_ARG with a message when GAUSS_CPU
 * names an unknown level or one this build or CPU lacks.
 */
enum gauss_status rans_kernels_select(const struct rans_kernels **k_ret,
				      struct errbuf *eb);

#endif /* GAUSS_CPU_H */
