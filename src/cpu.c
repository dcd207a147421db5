/* SPDX-License-Identifier: MIT */
/* cpu.c: detect the CPU's vector level and pick the rANS kernels. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cpu.h"
#include "gmm_internal.h"
#include "banned.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t
xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static enum cpu_level
detect(void)
{
	unsigned a, b, c, d;
	uint64_t xcr0;
	bool avx2, avx512;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return CPU_SCALAR;
	/* OSXSAVE (c27) and AVX (c28): XGETBV tells what the OS saves */
	if (!(c & (1u << 27)) || !(c & (1u << 28)))
		return CPU_SCALAR;
	xcr0 = xgetbv0();
	if ((xcr0 & 0x6) != 0x6)	/* XMM and YMM state */
		return CPU_SCALAR;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return CPU_SCALAR;
	/* AVX2 (b5), BMI2 (b8) */
	avx2 = (b & (1u << 5)) && (b & (1u << 8));
	/* AVX-512 F (b16), DQ (b17), BW (b30), VL (b31); opmask and ZMM state */
	avx512 = avx2 && (b & (1u << 16)) && (b & (1u << 17)) &&
		 (b & (1u << 30)) && (b & (1u << 31)) &&
		 (xcr0 & 0xe0) == 0xe0;
	return avx512 ? CPU_AVX512 : avx2 ? CPU_AVX2 : CPU_SCALAR;
}

/* AVX-512 VBMI (leaf 7 ecx bit 1) and VBMI2 (bit 6), beyond the level. */
static bool
detect_vbmi2(void)
{
	unsigned a, b, c, d;

	return cpu_level_available(CPU_AVX512) &&
	       __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
	       (c & (1u << 1)) && (c & (1u << 6));
}
#else
static enum cpu_level
detect(void)
{
	return CPU_SCALAR;
}

static bool
detect_vbmi2(void)
{
	return false;
}
#endif

static const struct rans_kernels kernels[CPU_LEVEL_COUNT] = {
	{ CPU_SCALAR, "scalar", rans_encode_scalar, rans_decode_scalar,
	  rans_decode_bf16_scalar,
	  rans_decode_bf16_pair_scalar, true, &hash_ops_scalar,
	  split_planes_whole, split_merge_whole, split_planes_m1,
	  split_merge_m1,
	  &gmm_ops_scalar,
	  { split_sample_bf16, split_outer_bf16 },
	  rans_fine_encode, rans_fine_decode },
#if GAUSS_HAVE_AVX2
	{ CPU_AVX2, "avx2", rans_encode_avx2, rans_decode_avx2,
	  rans_decode_bf16_avx2,
	  rans_decode_bf16_pair_avx2, true, &hash_ops_avx2,
	  split_planes_whole, split_merge_whole, split_planes_m1,
	  split_merge_m1,
	  &gmm_ops_scalar,
	  { split_sample_bf16, split_outer_bf16 },
	  rans_fine_encode, rans_fine_decode },
#else
	{ .level = CPU_AVX2, .name = "avx2" },	/* not built */
#endif
#if GAUSS_HAVE_AVX512
	{ CPU_AVX512, "avx512", rans_encode_avx512, rans_decode_avx512,
	  rans_decode_bf16_avx512,
	  rans_decode_bf16_pair_avx512, false, &hash_ops_avx512,
	  split_planes_whole_avx512, split_merge_whole_avx512,
	  split_planes_m1_avx512, split_merge_m1_avx512, &gmm_ops_avx512,
	  { split_sample_bf16_avx512, split_outer_bf16_avx512 },
	  rans_fine_encode_avx512, rans_fine_decode_avx512 },
#else
	{ .level = CPU_AVX512, .name = "avx512" },	/* not built */
#endif
};

const char *
cpu_level_name(enum cpu_level level)
{
	return level < CPU_LEVEL_COUNT ? kernels[level].name : "?";
}

bool
cpu_level_available(enum cpu_level level)
{
	static int detected = -1;	/* benign race: same value each time */

	if (level >= CPU_LEVEL_COUNT || kernels[level].encode == NULL)
		return false;
	if (detected < 0)
		detected = (int)detect();
	return (int)level <= detected;
}

bool
cpu_has_vbmi2(void)
{
	static int detected = -1;	/* benign race: same value each time */

	if (detected < 0)
		detected = detect_vbmi2();
	return detected;
}

const struct rans_kernels *
rans_kernels_of(enum cpu_level level)
{
	return cpu_level_available(level) ? &kernels[level] : NULL;
}

enum gauss_status
rans_kernels_select(const struct rans_kernels **k_ret, struct errbuf *eb)
{
	const char *want = getenv("GAUSS_CPU");

	if (want == NULL || *want == '\0') {
		for (int l = CPU_LEVEL_COUNT - 1; l >= 0; l--) {
			if (cpu_level_available((enum cpu_level)l)) {
				*k_ret = &kernels[l];
				return GAUSS_OK;
			}
		}
		want = "scalar";
	}
	for (unsigned l = 0; l < CPU_LEVEL_COUNT; l++) {
		if (strcmp(want, kernels[l].name) != 0)
			continue;
		if (!cpu_level_available((enum cpu_level)l))
			return err_setf(eb, GAUSS_E_INVALID_ARG, "GAUSS_CPU=%s: "
					"%s", want, kernels[l].encode == NULL ?
					"this build has no such kernels" :
					"this CPU cannot run these kernels");
		*k_ret = &kernels[l];
		return GAUSS_OK;
	}
	return err_setf(eb, GAUSS_E_INVALID_ARG, "GAUSS_CPU=%s: unknown level "
			"(use scalar, avx2 or avx512)", want);
}
