/* isa.h - the one place that decides which instruction set a kernel uses.
 *
 * Hot loops are marked CPU_KERNEL: the compiler builds them for x86-64-v4
 * (AVX-512), x86-64-v3 (AVX2 + FMA) and baseline, and the loader picks the
 * best one for the running CPU (GNU ifunc). Hand-written intrinsics
 * kernels, when they come, are chosen by cpu_isa() below, never by their
 * own cpuid checks. CMLX_ISA=baseline|avx2|avx512 caps the level (tests
 * use it to run every path on one machine). */
#ifndef CMLX_CPU_ISA_H
#define CMLX_CPU_ISA_H

#include <stdbool.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(CMLX_NO_MULTIVERSION)
#define CPU_KERNEL \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CPU_KERNEL
#endif

typedef enum cpu_isa_level {
  CPU_ISA_BASELINE = 0,
  CPU_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
  CPU_ISA_AVX512 = 2, /* AVX-512 F/BW/DQ/VL */
} cpu_isa_level;

/* The level in use: what the CPU supports, capped by CMLX_ISA. */
cpu_isa_level cpu_isa(void);
/* AVX-512 BF16 (vdpbf16ps) at the AVX512 level in use. */
bool cpu_has_avx512_bf16(void);
/* AVX512_VNNI (vpdpbusd) and AVX512_VBMI (vpermb) at the AVX512 level in
 * use: Ice Lake and later, Zen 4 and later. */
bool cpu_has_avx512_vnni(void);
/* AMX-TILE + AMX-BF16 usable at the AVX512 level in use (the OS keeps tile
 * state and granted it to this process): Sapphire Rapids and later. */
bool cpu_has_amx_bf16(void);
const char* cpu_isa_name(cpu_isa_level level);

#endif
