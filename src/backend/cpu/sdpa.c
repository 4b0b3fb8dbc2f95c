/* sdpa.c - the CPU kernel of ScaledDotProductAttention (node layout in
 * sdpa.h): softmax(scale * q k^T + mask) v, fused, never holding the
 * [T_q, T_kv] score matrix.
 *
 * Work is split into tasks of (batch, kv head, block of query positions,
 * and, when there are too few of those to keep every thread busy, a slice
 * of the keys). A task takes the rows of all R = N_q / N_kv query heads
 * that share its kv head, so each key and value block is read once for
 * R * block rows (for decoding, once for all R heads). It streams over
 * blocks of SDPA_BK keys with an online softmax: per row a running maximum
 * m, a running denominator l and an unnormalised output o; a block's
 * scores s give m' = max(m, max s), c = 2^(m - m'),
 * l = l c + sum 2^(s - m'), o = o c + sum 2^(s - m') v. Scores are kept in
 * base 2 (q is pre-multiplied by scale * log2 e), so the exponentials are
 * exp2. A sink z starts a row at m = z, l = 1, o = 0. Key slices of one
 * row are merged at the end the same way.
 *
 * Everything is float32 and the output is rounded once. Scores are stored
 * transposed, S[key][row], so the softmax update runs along rows in vector
 * lanes. Two ways to get them:
 *   prefill (more than SDPA_DOT_ROWS rows): each key and value block is
 *     widened once into float32 scratch; S[j][:] += K[j][d] * Qt[d][:];
 *   decode (up to SDPA_DOT_ROWS rows, S rows 4 lanes wide):
 *     S[j][c] = dot(K[j], Q[c]), two keys against four rows at a time;
 *     float32 and bfloat16 keys and values are read where they are and
 *     widened in registers (a block is read from memory exactly once);
 *   both: O[c][:] += S[j][c] * V[j][:].
 *
 * Masks follow MLX's composition: a false boolean entry (and a key past the
 * causal limit) turns the score into the dtype's lowest finite value (so a
 * row with nothing visible averages all of V, as MLX gives), an additive
 * mask is added. A causal task stops at its last visible key: later keys
 * would get weight exactly 0. */
#pragma GCC optimize("fp-contract=fast")

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/sdpa.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"
#include "core/half.h"

#define SDPA_BK 64         /* keys per block (a multiple of 8) */
#define SDPA_LANES 8       /* row counts are padded to this */
#define SDPA_FEAT 16       /* feature counts are padded to this */
#define SDPA_DOT_ROWS 4    /* up to this many rows use the dot-product scores */
#define SDPA_TARGET_ROWS 128
#define SDPA_SPLIT_MIN 256 /* fewest keys in a key slice */
#define LOG2E 1.44269504088896340736f

static int round_up(int n, int m) {
  return (n + m - 1) / m * m;
}

/* ---- 8-lane vectors ----
 * GCC's generic vectors: every ISA clone of a CPU_KERNEL function compiles
 * them to its own instructions (8 floats: one AVX register, two SSE ones;
 * AVX-512 clones use the 256-bit forms). */

/* The helpers below return vectors but never take them by value: vector
 * parameters of 32 bytes draw a note about the baseline clone's ABI (and
 * the helpers are inlined anyway); vector returns only draw -Wpsabi. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float vf __attribute__((vector_size(32)));
typedef int32_t vi __attribute__((vector_size(32)));
typedef float vf_unaligned __attribute__((vector_size(32), aligned(4)));

static inline __attribute__((always_inline)) vf vload(const float* p) {
  return *(const vf_unaligned*)p;
}
#define VSTORE(p, v) (*(vf_unaligned*)(p) = (v))
static inline __attribute__((always_inline)) vf vsplat(float x) {
  return (vf){x, x, x, x, x, x, x, x};
}
/* mask ? a : b, mask lanes all ones or zero */
#define VSELECT(mask, a, b) ((vf)(((vi)(a) & (mask)) | ((vi)(b) & ~(mask))))
#define VMAX(a, b)              \
  __extension__({               \
    vf a_ = (a), b_ = (b);      \
    VSELECT(a_ > b_, a_, b_);   \
  })

/* 2^x for x <= 0 (arguments are score - running max). x = n + f with n an
 * integer and |f| <= 1/2; 2^f by its Taylor series to f^7 (relative error
 * of the series below 1e-8, about 1 ulp after rounding), times 2^n built
 * in the exponent bits. Below -126.5 the result is exactly 0 (n = -127
 * gives the bits of 0.0); -inf gives 0; NaN gives NaN. */
static inline __attribute__((always_inline)) vf exp2_nonpositive_of(const vf* px) {
  const vf lo = vsplat(-127.0f);
  vf x = VSELECT(*px < lo, lo, *px);
  const vf magic = vsplat(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
  vf t = x + magic;
  vf n = t - magic;
  vf f = x - n;
  vi n_bits = (vi)t - (vi)magic;
  vf p = vsplat(1.525273380405984e-05f);
  p = p * f + vsplat(1.5403530393381606e-04f);
  p = p * f + vsplat(1.3333558146428443e-03f);
  p = p * f + vsplat(9.6181291076284772e-03f);
  p = p * f + vsplat(5.5504108664821580e-02f);
  p = p * f + vsplat(2.4022650695910071e-01f);
  p = p * f + vsplat(6.9314718055994531e-01f);
  p = p * f + vsplat(1.0f);
  return p * (vf)((n_bits + 127) << 23);
}
#define EXP2_NONPOSITIVE(x)       \
  __extension__({                 \
    vf x_ = (x);                  \
    exp2_nonpositive_of(&x_);     \
  })

static inline float f32_of_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* ---- widening rows ---- */

CPU_KERNEL static void widen_f16(float* dst, const uint16_t* src, int n, float mul) {
  for (int i = 0; i < n; i++) dst[i] = f16_to_f32(src[i]) * mul;
}
CPU_KERNEL static void widen_bf16(float* dst, const uint16_t* src, int n, float mul) {
  for (int i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]) * mul;
}
CPU_KERNEL static void widen_f32(float* dst, const float* src, int n, float mul) {
  for (int i = 0; i < n; i++) dst[i] = src[i] * mul;
}

/* dst[0..n) = mul * src (dtype t), dst[n..padded) = 0. */
static void widen_row(float* dst, const void* src, mlx_dtype t, int n, int padded, float mul) {
  if (t == MLX_FLOAT16) widen_f16(dst, src, n, mul);
  else if (t == MLX_BFLOAT16) widen_bf16(dst, src, n, mul);
  else widen_f32(dst, src, n, mul);
  for (int i = n; i < padded; i++) dst[i] = 0;
}

/* rows rows of n elements, src_stride elements apart, into dst rows of
 * padded floats (zero past n); one pass when both sides are dense. */
static void widen_rows(float* dst, const char* src, int64_t src_stride, mlx_dtype t, int rows,
                       int n, int padded) {
  size_t es = dtype_size(t);
  if (src_stride == n && padded == n) {
    widen_row(dst, src, t, rows * n, rows * n, 1.0f);
    return;
  }
  for (int r = 0; r < rows; r++)
    widen_row(dst + (size_t)r * padded, src + r * src_stride * (int64_t)es, t, n, padded, 1.0f);
}

static float load_one(const void* p, mlx_dtype t) {
  if (t == MLX_FLOAT16) return f16_to_f32(*(const uint16_t*)p);
  if (t == MLX_BFLOAT16) return bf16_to_f32(*(const uint16_t*)p);
  return *(const float*)p;
}

/* ---- the products ---- */

/* Prefill scores: S[j][c] = sum_k K[j][k] Qt[k][c] for j < nj (a multiple
 * of 4) and c < mp (a multiple of 8). K: [.][dp]; Qt: [d][mp]. Tiles of 4
 * keys x 16 lanes (8 vector accumulators), then 4 x 8 for the rest. */
CPU_KERNEL static void scores_rows(float* S, const float* K, const float* Qt, int nj, int d,
                                   int dp, int mp) {
  for (int j = 0; j < nj; j += 4) {
    const float* k0 = K + (size_t)j * dp;
    int c = 0;
    for (; c + 16 <= mp; c += 16) {
      vf a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0}, a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
      for (int k = 0; k < d; k++) {
        vf q0 = vload(Qt + (size_t)k * mp + c), q1 = vload(Qt + (size_t)k * mp + c + 8);
        float b0 = k0[k], b1 = k0[dp + k], b2 = k0[2 * dp + k], b3 = k0[3 * dp + k];
        a00 += q0 * b0, a01 += q1 * b0, a10 += q0 * b1, a11 += q1 * b1;
        a20 += q0 * b2, a21 += q1 * b2, a30 += q0 * b3, a31 += q1 * b3;
      }
      float* s = S + (size_t)j * mp + c;
      VSTORE(s, a00), VSTORE(s + 8, a01), VSTORE(s + mp, a10), VSTORE(s + mp + 8, a11);
      VSTORE(s + 2 * mp, a20), VSTORE(s + 2 * mp + 8, a21);
      VSTORE(s + 3 * mp, a30), VSTORE(s + 3 * mp + 8, a31);
    }
    for (; c < mp; c += 8) {
      vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
      for (int k = 0; k < d; k++) {
        vf q = vload(Qt + (size_t)k * mp + c);
        a0 += q * k0[k], a1 += q * k0[dp + k];
        a2 += q * k0[2 * dp + k], a3 += q * k0[3 * dp + k];
      }
      float* s = S + (size_t)j * mp + c;
      VSTORE(s, a0), VSTORE(s + mp, a1), VSTORE(s + 2 * mp, a2), VSTORE(s + 3 * mp, a3);
    }
  }
}

/* The 8 sums of the lanes of a[0..8), as one vector (lane i: a[i]). */
static inline __attribute__((always_inline)) vf vsum8(const vf* a) {
#define EVEN(x, y) __builtin_shufflevector(x, y, 0, 2, 8, 10, 4, 6, 12, 14)
#define ODD(x, y) __builtin_shufflevector(x, y, 1, 3, 9, 11, 5, 7, 13, 15)
  vf b[4];
  for (int i = 0; i < 4; i++)
    b[i] = EVEN(a[2 * i], a[2 * i + 1]) + ODD(a[2 * i], a[2 * i + 1]);
  vf c0 = EVEN(b[0], b[1]) + ODD(b[0], b[1]);
  vf c1 = EVEN(b[2], b[3]) + ODD(b[2], b[3]);
  /* c0 holds a0..a3's halves in its low and high 4 lanes, c1 a4..a7's */
  return __builtin_shufflevector(c0, c1, 0, 1, 2, 3, 8, 9, 10, 11) +
         __builtin_shufflevector(c0, c1, 4, 5, 6, 7, 12, 13, 14, 15);
#undef EVEN
#undef ODD
}

/* Sixteen elements as two float vectors. float32: elements 0-7 and 8-15.
 * bfloat16: the even elements and the odd ones (a bfloat16 is the high half
 * of a float, so one 32-byte load gives both with a shift and a mask).
 * A kernel reading keys this way reads q in the same order, and one
 * reading values this way writes o in it: "pair order", undone when o is
 * stored (see pair_order_undo). */
typedef int32_t vi_unaligned __attribute__((vector_size(32), aligned(2)));
static inline __attribute__((always_inline)) void load16_f32(const float* p, vf* lo, vf* hi) {
  *lo = vload(p);
  *hi = vload(p + 8);
}
static inline __attribute__((always_inline)) void load16_bf16(const uint16_t* p, vf* lo,
                                                               vf* hi) {
  vi w = *(const vi_unaligned*)p;
  *lo = (vf)(w << 16);
  *hi = (vf)(w & (int32_t)0xffff0000u);
}

/* The feature order load16_bf16 produces, for n a multiple of 16:
 * dst[16c + i] = src[16c + 2i], dst[16c + 8 + i] = src[16c + 2i + 1]. */
static void pair_order(float* dst, const float* src, int n) {
  for (int c = 0; c < n; c += 16)
    for (int i = 0; i < 8; i++) {
      dst[c + i] = src[c + 2 * i];
      dst[c + 8 + i] = src[c + 2 * i + 1];
    }
}
static void pair_order_undo(float* dst, const float* src, int n) {
  for (int c = 0; c < n; c += 16)
    for (int i = 0; i < 8; i++) {
      dst[c + 2 * i] = src[c + i];
      dst[c + 2 * i + 1] = src[c + 8 + i];
    }
}

/* Decode scores, generated per key type T (float or bfloat16 bits):
 * S[j][0..4) = dot(K[j], Q[0..4)) for j < nk. K rows are ks elements
 * apart and dk long (a multiple of 16); Q holds 4 rows in the matching
 * order, qs floats apart (rows past the real ones are zero). Two keys at a
 * time against the four rows: eight vectors of partial sums, reduced
 * together into the two score rows. `zero` stands in for the key after the
 * last when nk is odd. */
#define SCORES_DOT(SUFFIX, T)                                                                 \
  CPU_KERNEL static void scores_dot_##SUFFIX(float* S, const T* K, int64_t ks, const T* zero,  \
                                             const float* Q, int qs, int nk, int dk, int mp) { \
    for (int j = 0; j < nk; j += 2) {                                                         \
      const T* k0 = K + (int64_t)j * ks;                                                      \
      const T* k1 = j + 1 < nk ? k0 + ks : zero;                                              \
      vf a[8] = {{0}};                                                                        \
      for (int k = 0; k < dk; k += 16) {                                                      \
        vf e0, o0, e1, o1;                                                                    \
        load16_##SUFFIX(k0 + k, &e0, &o0);                                                    \
        load16_##SUFFIX(k1 + k, &e1, &o1);                                                    \
        for (int r = 0; r < 4; r++) {                                                         \
          vf qe = vload(Q + (size_t)r * qs + k), qo = vload(Q + (size_t)r * qs + k + 8);      \
          a[r] += e0 * qe;                                                                    \
          a[r] += o0 * qo;                                                                    \
          a[4 + r] += e1 * qe;                                                                \
          a[4 + r] += o1 * qo;                                                                \
        }                                                                                     \
      }                                                                                       \
      float sums[8];                                                                          \
      VSTORE(sums, vsum8(a));                                                                 \
      memcpy(S + (size_t)j * mp, sums, 4 * sizeof(float));                                    \
      memcpy(S + (size_t)(j + 1) * mp, sums + 4, 4 * sizeof(float));                          \
    }                                                                                         \
  }
SCORES_DOT(f32, float)
SCORES_DOT(bf16, uint16_t)

/* O[c][:] += sum_j P[j][c] V[j][:] for c < mr (a multiple of 4), j < nk,
 * generated per value type T. P: [.][mp]; V rows vs elements apart, dvk
 * columns read (a multiple of 16), written to O ([.][dvp]) in the load's
 * order. Tiles of 4 rows x 16 columns: eight vector accumulators. */
#define ACCUMULATE_PV(SUFFIX, T)                                                               \
  CPU_KERNEL static void accumulate_pv_##SUFFIX(float* O, const float* P, const T* V,           \
                                                int64_t vs, int nk, int mr, int mp, int dvk,    \
                                                int dvp) {                                      \
    for (int c = 0; c < mr; c += 4) {                                                          \
      float* o = O + (size_t)c * dvp;                                                          \
      for (int w = 0; w < dvk; w += 16) {                                                      \
        vf a00 = vload(o + w), a01 = vload(o + w + 8);                                         \
        vf a10 = vload(o + dvp + w), a11 = vload(o + dvp + w + 8);                             \
        vf a20 = vload(o + 2 * dvp + w), a21 = vload(o + 2 * dvp + w + 8);                     \
        vf a30 = vload(o + 3 * dvp + w), a31 = vload(o + 3 * dvp + w + 8);                     \
        for (int j = 0; j < nk; j++) {                                                         \
          const float* p = P + (size_t)j * mp + c;                                             \
          vf v0, v1;                                                                           \
          load16_##SUFFIX(V + (int64_t)j * vs + w, &v0, &v1);                                  \
          float b0 = p[0], b1 = p[1], b2 = p[2], b3 = p[3];                                    \
          a00 += v0 * b0, a01 += v1 * b0, a10 += v0 * b1, a11 += v1 * b1;                      \
          a20 += v0 * b2, a21 += v1 * b2, a30 += v0 * b3, a31 += v1 * b3;                      \
        }                                                                                      \
        VSTORE(o + w, a00), VSTORE(o + w + 8, a01);                                            \
        VSTORE(o + dvp + w, a10), VSTORE(o + dvp + w + 8, a11);                                \
        VSTORE(o + 2 * dvp + w, a20), VSTORE(o + 2 * dvp + w + 8, a21);                        \
        VSTORE(o + 3 * dvp + w, a30), VSTORE(o + 3 * dvp + w + 8, a31);                        \
      }                                                                                        \
    }                                                                                          \
  }
ACCUMULATE_PV(f32, float)
ACCUMULATE_PV(bf16, uint16_t)


/* One online-softmax step over a block: S[j][c] (j < nk) become the
 * weights 2^(s - m'), m and l are updated and corr receives 2^(m - m'),
 * for every lane c < mp (a multiple of 8). A row whose maximum is still
 * -inf gets weights 0 and correction 1. A NaN score gives a NaN weight,
 * which makes the row's output NaN (as MLX's softmax does). */
CPU_KERNEL static void softmax_step(float* S, float* m, float* l, float* corr, int nk, int mp) {
  const vf ninf = vsplat(-INFINITY), zero = {0}, one = vsplat(1.0f);
  for (int c = 0; c < mp; c += 8) {
    vf b0 = ninf, b1 = ninf, b2 = ninf, b3 = ninf;
    int j = 0;
    for (; j + 4 <= nk; j += 4) {
      const float* s = S + (size_t)j * mp + c;
      b0 = VMAX(b0, vload(s)), b1 = VMAX(b1, vload(s + mp));
      b2 = VMAX(b2, vload(s + 2 * mp)), b3 = VMAX(b3, vload(s + 3 * mp));
    }
    for (; j < nk; j++) b0 = VMAX(b0, vload(S + (size_t)j * mp + c));
    vf mo = vload(m + c);
    vf mn = VMAX(mo, VMAX(VMAX(b0, b1), VMAX(b2, b3)));
    vi dead = mn == ninf;
    vf cr = VSELECT(dead, one, EXP2_NONPOSITIVE(mo - mn));
    vf sum0 = zero, sum1 = zero;
    for (j = 0; j + 2 <= nk; j += 2) {
      float* s = S + (size_t)j * mp + c;
      vf p0 = VSELECT(dead, zero, EXP2_NONPOSITIVE(vload(s) - mn));
      vf p1 = VSELECT(dead, zero, EXP2_NONPOSITIVE(vload(s + mp) - mn));
      VSTORE(s, p0), VSTORE(s + mp, p1);
      sum0 += p0, sum1 += p1;
    }
    if (j < nk) {
      float* s = S + (size_t)j * mp + c;
      vf p0 = VSELECT(dead, zero, EXP2_NONPOSITIVE(vload(s) - mn));
      VSTORE(s, p0);
      sum0 += p0;
    }
    VSTORE(m + c, mn);
    VSTORE(corr + c, cr);
    VSTORE(l + c, vload(l + c) * cr + (sum0 + sum1));
  }
}

/* The same step for the dot-product path, whose score rows are 4 lanes
 * wide (mp = 4): one vector holds two keys, so the exponentials run at
 * full width. A key past nk in the last pair counts as -inf. */
CPU_KERNEL static void softmax_step_pairs(float* S, float* m, float* l, float* corr, int nk) {
  const vf ninf = vsplat(-INFINITY), zero = {0}, one = vsplat(1.0f);
  if (nk % 2)
    for (int c = 0; c < 4; c++) S[(size_t)nk * 4 + c] = -INFINITY;
  int n2 = (nk + 1) / 2;
  vf b0 = ninf, b1 = ninf;
  int j = 0;
  for (; j + 2 <= n2; j += 2) b0 = VMAX(b0, vload(S + 8 * j)), b1 = VMAX(b1, vload(S + 8 * j + 8));
  if (j < n2) b0 = VMAX(b0, vload(S + 8 * j));
  vf bm = VMAX(b0, b1);
  bm = VMAX(bm, __builtin_shufflevector(bm, bm, 4, 5, 6, 7, 0, 1, 2, 3));
  float m8[8], l8[8];
  memcpy(m8, m, 4 * sizeof(float)), memcpy(m8 + 4, m, 4 * sizeof(float));
  vf mo = vload(m8);
  vf mn = VMAX(mo, bm);
  vi dead = mn == ninf;
  vf cr = VSELECT(dead, one, EXP2_NONPOSITIVE(mo - mn));
  vf sum0 = zero, sum1 = zero;
  for (j = 0; j + 2 <= n2; j += 2) {
    float* sp = S + 8 * j;
    vf p0 = VSELECT(dead, zero, EXP2_NONPOSITIVE(vload(sp) - mn));
    vf p1 = VSELECT(dead, zero, EXP2_NONPOSITIVE(vload(sp + 8) - mn));
    VSTORE(sp, p0), VSTORE(sp + 8, p1);
    sum0 += p0, sum1 += p1;
  }
  if (j < n2) {
    vf p0 = VSELECT(dead, zero, EXP2_NONPOSITIVE(vload(S + 8 * j) - mn));
    VSTORE(S + 8 * j, p0);
    sum0 += p0;
  }
  vf sum = sum0 + sum1;
  sum += __builtin_shufflevector(sum, sum, 4, 5, 6, 7, 0, 1, 2, 3);
  memcpy(l8, l, 4 * sizeof(float)), memcpy(l8 + 4, l, 4 * sizeof(float));
  vf lv = vload(l8) * cr + sum;
  VSTORE(m8, mn), VSTORE(l8, lv);
  memcpy(m, m8, 4 * sizeof(float)), memcpy(l, l8, 4 * sizeof(float));
  VSTORE(m8, cr);
  memcpy(corr, m8, 4 * sizeof(float));
}

/* The scalar 2^x of the merge step, through the vector code. */
static float exp2_one(float x) {
  return EXP2_NONPOSITIVE(vsplat(x))[0];
}

/* ---- the job ---- */

/* An operand's first element and element strides of its four axes. */
typedef struct operand {
  const char* data;
  int64_t st[4];
  size_t esize;
} operand;

typedef struct sdpa_job {
  int B, nq, nkv, rep, tq, tkv, d, dv;
  int dp, dvp;        /* d, dv rounded up to SDPA_FEAT */
  int bq, n_qblocks;  /* query positions per task, blocks of them */
  int n_splits, split_len;
  int mp_max;         /* most rows of a task, rounded up */
  mlx_dtype t;
  operand q, k, v, mask;
  bool has_mask, mask_bool, causal;
  bool direct_ok;     /* k and v rows can be read in place (float32 or
                         bfloat16, D and D_v multiples of SDPA_FEAT) */
  float scale2;       /* scale * log2 e */
  float lowest;       /* the dtype's lowest finite value */
  float* sinks;       /* [nq] in base 2, or NULL */
  char* out;
  float* partial;     /* key slices: per task mp_max rows of (dv + 2) */
  atomic_int failed;
} sdpa_job;

static const char* row_ptr(const operand* o, int b, int h, int t) {
  /* strides may be negative (reversed views): signed offsets */
  return o->data + ((int64_t)b * o->st[0] + (int64_t)h * o->st[1] + (int64_t)t * o->st[2]) *
                       (int64_t)o->esize;
}

/* Masks the scores of one block: rows c < m (head group hk, query
 * positions from i0), keys kb..kb+nk. */
static void apply_masks(const sdpa_job* jb, float* S, int mp, int m, int nqpos, int b, int hk,
                        int i0, int kb, int nk) {
  if (jb->causal) {
    int off = jb->tkv - jb->tq;
    for (int c = 0; c < m; c++) {
      int first_hidden = i0 + c % nqpos + off + 1 - kb;
      for (int j = first_hidden < 0 ? 0 : first_hidden; j < nk; j++)
        S[(size_t)j * mp + c] = jb->lowest;
    }
  }
  if (!jb->has_mask) return;
  const operand* mo = &jb->mask;
  for (int c = 0; c < m; c++) {
    int h = hk * jb->rep + c / nqpos, qi = i0 + c % nqpos;
    int64_t step = mo->st[3] * (int64_t)mo->esize;
    const char* row = row_ptr(mo, b, h, qi) + kb * step;
    if (jb->mask_bool) {
      for (int j = 0; j < nk; j++)
        if (!row[j * step]) S[(size_t)j * mp + c] = jb->lowest;
    } else {
      for (int j = 0; j < nk; j++)
        S[(size_t)j * mp + c] += LOG2E * load_one(row + j * step, jb->t);
    }
  }
}

static void store_row(void* dst, const float* o, mlx_dtype t, int n, float mul) {
  if (t == MLX_FLOAT16) {
    uint16_t* d = dst;
    for (int i = 0; i < n; i++) d[i] = f32_to_f16(o[i] * mul);
  } else if (t == MLX_BFLOAT16) {
    uint16_t* d = dst;
    for (int i = 0; i < n; i++) d[i] = f32_to_bf16(o[i] * mul);
  } else {
    float* d = dst;
    for (int i = 0; i < n; i++) d[i] = o[i] * mul;
  }
}

static char* out_row(const sdpa_job* jb, int b, int h, int qi) {
  size_t row = ((size_t)b * jb->nq + (size_t)h) * jb->tq + (size_t)qi;
  return jb->out + row * (size_t)jb->dv * dtype_size(jb->t);
}

/* Task index -> (query block, batch, kv head, key slice); the query blocks
 * come last-first so that the longest causal tasks start first. */
static void task_coords(const sdpa_job* jb, size_t task, int* qb, int* b, int* hk, int* split) {
  *split = (int)(task % (size_t)jb->n_splits);
  task /= (size_t)jb->n_splits;
  *hk = (int)(task % (size_t)jb->nkv);
  task /= (size_t)jb->nkv;
  *b = (int)(task % (size_t)jb->B);
  *qb = jb->n_qblocks - 1 - (int)(task / (size_t)jb->B);
}

static void sdpa_task(void* ctx, size_t task) {
  sdpa_job* jb = ctx;
  int qb, b, hk, split;
  task_coords(jb, task, &qb, &b, &hk, &split);
  int i0 = qb * jb->bq;
  int nqpos = jb->tq - i0 < jb->bq ? jb->tq - i0 : jb->bq;
  int m = jb->rep * nqpos;
  int d = jb->d, dp = jb->dp, dvp = jb->dvp;
  /* few rows: dot-product scores in rows of 4 lanes, and keys and values
   * read where they are when their type and sizes allow it (else widened
   * per block) */
  bool dot = m <= SDPA_DOT_ROWS;
  int mp = dot ? SDPA_DOT_ROWS : round_up(m, SDPA_LANES);
  bool direct = dot && jb->direct_ok;
  bool paired = direct && jb->t == MLX_BFLOAT16; /* q and o in pair order */

  /* keys of this task: its slice, cut at the causal limit of its last row
   * unless some row sees no key at all (then every key takes part) */
  int kv0 = split * jb->split_len;
  int kv1 = kv0 + jb->split_len < jb->tkv ? kv0 + jb->split_len : jb->tkv;
  if (jb->causal) {
    int off = jb->tkv - jb->tq;
    int limit = i0 + nqpos + off; /* keys < limit are visible to the last row */
    if (i0 + off >= 0 && limit < kv1) kv1 = limit;
  }

  size_t q_floats = (size_t)mp * (size_t)dp;
  size_t n_floats = q_floats + (size_t)SDPA_BK * mp + (size_t)(SDPA_BK + 1) * dp +
                    (size_t)SDPA_BK * dvp + (size_t)mp * dvp + 3 * (size_t)mp;
  size_t n_bytes = (n_floats * sizeof(float) + 63) / 64 * 64;
  float* mem = aligned_alloc(64, n_bytes ? n_bytes : 64);
  if (!mem) {
    atomic_store(&jb->failed, 1);
    return;
  }
  float* Q = mem;                            /* Qt [d][mp], or Q [mp][dp] when dot */
  float* S = Q + q_floats;                   /* [BK][mp] */
  float* K = S + (size_t)SDPA_BK * mp;       /* [BK][dp], then one zero row */
  float* zero = K + (size_t)SDPA_BK * dp;    /* [dp] */
  float* V = zero + dp;                      /* [BK][dvp] */
  float* O = V + (size_t)SDPA_BK * dvp;      /* [mp][dvp] */
  float* mrow = O + (size_t)mp * dvp;
  float* lrow = mrow + mp;
  float* corr = lrow + mp;
  memset(mem, 0, n_floats * sizeof(float));

  /* rows: c = r * nqpos + (i - i0) for head hk * rep + r */
  bool sink = jb->sinks && split == 0;
  for (int c = 0; c < m; c++) {
    int h = hk * jb->rep + c / nqpos, qi = i0 + c % nqpos;
    const char* src = row_ptr(&jb->q, b, h, qi);
    if (paired) {
      widen_row(K, src, jb->t, d, d, jb->scale2); /* K as scratch */
      pair_order(Q + (size_t)c * dp, K, d);
    } else if (dot) {
      widen_row(Q + (size_t)c * dp, src, jb->t, d, dp, jb->scale2);
    } else {
      widen_row(K, src, jb->t, d, d, jb->scale2); /* K as scratch */
      for (int k = 0; k < d; k++) Q[(size_t)k * mp + c] = K[k];
    }
    mrow[c] = sink ? jb->sinks[h] : -INFINITY;
    lrow[c] = sink ? 1.0f : 0.0f;
  }
  for (int c = m; c < mp; c++) mrow[c] = -INFINITY;

  int64_t ks = jb->k.st[2], vs = jb->v.st[2];
  for (int kb = kv0; kb < kv1; kb += SDPA_BK) {
    int nk = kv1 - kb < SDPA_BK ? kv1 - kb : SDPA_BK;
    const char* kp = row_ptr(&jb->k, b, hk, kb);
    const char* vp = row_ptr(&jb->v, b, hk, kb);
    if (direct && jb->t == MLX_BFLOAT16) {
      scores_dot_bf16(S, (const uint16_t*)kp, ks, (const uint16_t*)zero, Q, dp, nk, d, mp);
    } else if (direct) {
      scores_dot_f32(S, (const float*)kp, ks, zero, Q, dp, nk, d, mp);
    } else {
      int nj = round_up(nk, 4);
      widen_rows(K, kp, ks, jb->t, nk, d, dp);
      widen_rows(V, vp, vs, jb->t, nk, jb->dv, dvp);
      if (nj > nk) memset(K + (size_t)nk * dp, 0, sizeof(float) * (size_t)(nj - nk) * dp);
      if (dot) scores_dot_f32(S, K, dp, zero, Q, dp, nk, dp, mp);
      else scores_rows(S, K, Q, nj, d, dp, mp);
    }
    apply_masks(jb, S, mp, m, nqpos, b, hk, i0, kb, nk);
    if (dot) softmax_step_pairs(S, mrow, lrow, corr, nk);
    else softmax_step(S, mrow, lrow, corr, nk, mp);
    for (int c = 0; c < m; c++)
      if (corr[c] != 1.0f)
        for (int w = 0; w < dvp; w++) O[(size_t)c * dvp + w] *= corr[c];
    int mr = round_up(m, 4);
    if (direct && jb->t == MLX_BFLOAT16)
      accumulate_pv_bf16(O, S, (const uint16_t*)vp, vs, nk, mr, mp, jb->dv, dvp);
    else if (direct)
      accumulate_pv_f32(O, S, (const float*)vp, vs, nk, mr, mp, jb->dv, dvp);
    else
      accumulate_pv_f32(O, S, V, dvp, nk, mr, mp, dvp, dvp);
  }

  for (int c = 0; c < m; c++) {
    float* o = O + (size_t)c * dvp;
    if (paired) {
      pair_order_undo(V, o, jb->dv); /* V as scratch */
      o = V;
    }
    if (jb->n_splits == 1) {
      int h = hk * jb->rep + c / nqpos, qi = i0 + c % nqpos;
      store_row(out_row(jb, b, h, qi), o, jb->t, jb->dv, 1.0f / lrow[c]);
    } else {
      /* per row: dv outputs, then m and l */
      float* p = jb->partial + (task * (size_t)jb->mp_max + (size_t)c) * (size_t)(jb->dv + 2);
      memcpy(p, o, sizeof(float) * (size_t)jb->dv);
      p[jb->dv] = mrow[c];
      p[jb->dv + 1] = lrow[c];
    }
  }
  free(mem);
}

/* Merges the key slices of one (query block, batch, kv head). */
static void sdpa_merge(void* ctx, size_t base) {
  sdpa_job* jb = ctx;
  int qb, b, hk, split;
  task_coords(jb, base * (size_t)jb->n_splits, &qb, &b, &hk, &split);
  int i0 = qb * jb->bq;
  int nqpos = jb->tq - i0 < jb->bq ? jb->tq - i0 : jb->bq;
  int m = jb->rep * nqpos, dv = jb->dv;
  size_t row_floats = (size_t)dv + 2, task_floats = (size_t)jb->mp_max * row_floats;
  const float* part = jb->partial + base * (size_t)jb->n_splits * task_floats;
  float* acc = malloc(sizeof(float) * (size_t)(dv > 0 ? dv : 1));
  if (!acc) {
    atomic_store(&jb->failed, 1);
    return;
  }
  for (int c = 0; c < m; c++) {
    float mx = -INFINITY;
    for (int sp = 0; sp < jb->n_splits; sp++)
    {
      float v = part[sp * task_floats + (size_t)c * row_floats + dv];
      mx = (v > mx || v != v) ? v : mx;
    }
    float l = 0;
    for (int w = 0; w < dv; w++) acc[w] = 0;
    for (int sp = 0; sp < jb->n_splits; sp++) {
      const float* p = part + sp * task_floats + (size_t)c * row_floats;
      float e = exp2_one(p[dv] - mx);
      l += p[dv + 1] * e;
      for (int w = 0; w < dv; w++) acc[w] += p[w] * e;
    }
    int h = hk * jb->rep + c / nqpos, qi = i0 + c % nqpos;
    store_row(out_row(jb, b, h, qi), acc, jb->t, dv, 1.0f / l);
  }
  free(acc);
}

/* An input whose last axis is not unit-stride is copied (tmp owns it). */
static int operand_of(operand* o, array* a, array** tmp) {
  *tmp = NULL;
  if (a->shape[3] > 1 && a->strides[3] != 1) {
    if (!(*tmp = array_copy_contiguous(a, a->dtype))) return 1;
    a = *tmp;
  }
  o->data = array_data(a);
  for (int i = 0; i < 4; i++) o->st[i] = a->strides[i];
  o->esize = dtype_size(a->dtype);
  return 0;
}

static float lowest_of(mlx_dtype t) {
  if (t == MLX_FLOAT16) return -65504.0f;
  if (t == MLX_BFLOAT16) return f32_of_bits(0xff7f0000u);
  return -3.40282346638528859812e38f;
}

int cpu_sdpa_eval(node* n) {
  const sdpa_params* p = n->params;
  array* out = n->outputs[0];
  array *q = n->inputs[0], *k = n->inputs[1], *v = n->inputs[2];
  if (array_alloc(out)) return 1;
  sdpa_job jb;
  memset(&jb, 0, sizeof jb);
  jb.B = q->shape[0];
  jb.nq = q->shape[1];
  jb.tq = q->shape[2];
  jb.d = q->shape[3];
  jb.nkv = k->shape[1];
  jb.tkv = k->shape[2];
  jb.dv = v->shape[3];
  jb.t = out->dtype;
  jb.out = array_data(out);
  if (out->size == 0) return 0;
  if (jb.tkv == 0) { /* softmax over nothing: MLX's product is zeros */
    memset(jb.out, 0, array_nbytes(out));
    return 0;
  }
  jb.rep = jb.nq / jb.nkv;
  jb.dp = round_up(jb.d, SDPA_FEAT);
  jb.dvp = round_up(jb.dv, SDPA_FEAT);
  jb.causal = p->causal;
  jb.direct_ok = (jb.t == MLX_FLOAT32 || jb.t == MLX_BFLOAT16) && jb.d % SDPA_FEAT == 0 &&
                 jb.dv % SDPA_FEAT == 0;
  jb.scale2 = p->scale * LOG2E;
  jb.lowest = lowest_of(jb.t);

  array* tmp[3] = {NULL, NULL, NULL};
  int rc = 1;
  if (operand_of(&jb.q, q, &tmp[0]) || operand_of(&jb.k, k, &tmp[1]) ||
      operand_of(&jb.v, v, &tmp[2]))
    goto done;
  if (p->has_mask) {
    array* mk = n->inputs[3];
    jb.has_mask = true;
    jb.mask_bool = mk->dtype == MLX_BOOL;
    jb.mask.data = array_data(mk);
    for (int i = 0; i < 4; i++) jb.mask.st[i] = mk->strides[i];
    jb.mask.esize = dtype_size(mk->dtype);
  }
  if (p->has_sinks) {
    array* sk = n->inputs[n->n_inputs - 1];
    jb.sinks = malloc(sizeof(float) * (size_t)jb.nq);
    if (!jb.sinks) {
      error_set("[scaled_dot_product_attention] Out of memory.");
      goto done;
    }
    const char* base = array_data(sk);
    for (int h = 0; h < jb.nq; h++)
      jb.sinks[h] =
          LOG2E * load_one(base + h * sk->strides[0] * (int64_t)dtype_size(sk->dtype), jb.t);
  }

  /* blocks of query positions: about SDPA_TARGET_ROWS rows per task, and
   * enough tasks for the threads */
  int threads = pool_size();
  int bq = SDPA_TARGET_ROWS / jb.rep;
  if (bq < 1) bq = 1;
  if (bq > jb.tq) bq = jb.tq;
  while (bq > 8 && (size_t)jb.B * jb.nkv * (size_t)((jb.tq + bq - 1) / bq) < 2 * (size_t)threads)
    bq /= 2;
  jb.bq = bq;
  jb.n_qblocks = (jb.tq + bq - 1) / bq;
  jb.mp_max = round_up(jb.rep * bq, SDPA_LANES);
  /* slices of the keys when the other tasks are too few */
  size_t n_base = (size_t)jb.B * jb.nkv * jb.n_qblocks;
  jb.n_splits = 1;
  jb.split_len = jb.tkv;
  if (n_base < 2 * (size_t)threads && jb.tkv >= 2 * SDPA_SPLIT_MIN) {
    int want = (int)((4 * (size_t)threads + n_base - 1) / n_base);
    int most = jb.tkv / SDPA_SPLIT_MIN;
    int splits = want < most ? want : most;
    jb.split_len = round_up((jb.tkv + splits - 1) / splits, SDPA_BK);
    jb.n_splits = (jb.tkv + jb.split_len - 1) / jb.split_len;
  }
  if (jb.n_splits > 1) {
    size_t floats = n_base * (size_t)jb.n_splits * (size_t)jb.mp_max * (size_t)(jb.dv + 2);
    jb.partial = malloc(sizeof(float) * floats);
    if (!jb.partial) {
      error_set("[scaled_dot_product_attention] Out of memory.");
      goto done;
    }
  }
  atomic_init(&jb.failed, 0);
  pool_run(n_base * (size_t)jb.n_splits, sdpa_task, &jb);
  if (jb.n_splits > 1 && !atomic_load(&jb.failed)) pool_run(n_base, sdpa_merge, &jb);
  if (atomic_load(&jb.failed)) {
    error_set("[scaled_dot_product_attention] Out of memory.");
    goto done;
  }
  rc = 0;
done:
  for (int i = 0; i < 3; i++) array_release(tmp[i]);
  free(jb.sinks);
  free(jb.partial);
  return rc;
}
