/* isa.c - instruction-set detection (see isa.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "backend/cpu/isa.h"

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static cpu_isa_level isa_level = CPU_ISA_BASELINE;
static bool isa_bf16 = false;
static bool isa_vnni = false;
static bool isa_amx = false;

#if defined(__x86_64__) && defined(__GNUC__)
/* AMX-BF16 usable: the CPU has AMX-TILE and AMX-BF16 (cpuid 7.0 edx bits
 * 24 and 22), the OS saves tile state (XCR0 bits 17 and 18), and Linux
 * grants this process the tile data (arch_prctl ARCH_REQ_XCOMP_PERM);
 * without that last step a tile instruction faults. */
static bool amx_usable(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!(d & (1u << 24)) || !(d & (1u << 22))) return false;
  if (!__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & (1u << 27))) return false; /* OSXSAVE */
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & (3u << 17)) != (3u << 17)) return false;
#if defined(__linux__)
  return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
#else
  return false;
#endif
}
#endif

static void isa_detect(void) {
  cpu_isa_level l = CPU_ISA_BASELINE;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) l = CPU_ISA_AVX2;
  if (l == CPU_ISA_AVX2 && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    l = CPU_ISA_AVX512;
#endif
  const char* env = getenv("CMLX_ISA");
  if (env) {
    cpu_isa_level cap = l;
    if (!strcmp(env, "baseline")) cap = CPU_ISA_BASELINE;
    else if (!strcmp(env, "avx2")) cap = CPU_ISA_AVX2;
    else if (!strcmp(env, "avx512")) cap = CPU_ISA_AVX512;
    if (cap < l) l = cap;
  }
  isa_level = l;
#if defined(__x86_64__) && defined(__GNUC__)
  isa_bf16 = l == CPU_ISA_AVX512 && __builtin_cpu_supports("avx512bf16");
  isa_vnni = l == CPU_ISA_AVX512 && __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("avx512vbmi");
  isa_amx = l == CPU_ISA_AVX512 && isa_bf16 && amx_usable();
#endif
}

cpu_isa_level cpu_isa(void) {
  pthread_once(&isa_once, isa_detect);
  return isa_level;
}

bool cpu_has_avx512_bf16(void) {
  pthread_once(&isa_once, isa_detect);
  return isa_bf16;
}

bool cpu_has_avx512_vnni(void) {
  pthread_once(&isa_once, isa_detect);
  return isa_vnni;
}

bool cpu_has_amx_bf16(void) {
  pthread_once(&isa_once, isa_detect);
  return isa_amx;
}

const char* cpu_isa_name(cpu_isa_level level) {
  switch (level) {
    case CPU_ISA_AVX2: return "avx2";
    case CPU_ISA_AVX512: return "avx512";
    default: return "baseline";
  }
}
