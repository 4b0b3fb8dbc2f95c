/* isa.c - instruction-set detection (see isa.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static cpu_isa_level isa_level = CPU_ISA_BASELINE;
static bool isa_bf16 = false;
static bool isa_vnni = false;

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

const char* cpu_isa_name(cpu_isa_level level) {
  switch (level) {
    case CPU_ISA_AVX2: return "avx2";
    case CPU_ISA_AVX512: return "avx512";
    default: return "baseline";
  }
}
