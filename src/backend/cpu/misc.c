/* misc.c - the CPU kernel of hadamard_transform.
 *
 * A row of length m * 2^k (m in {1, 12, 20, 28}) is transformed in place in
 * two steps, as MLX's CPU backend does: the fast Walsh-Hadamard butterfly
 * on each of the m contiguous blocks of 2^k elements, then (m > 1) the
 * m x m Hadamard matrix applied across the blocks. The arithmetic is MLX's
 * too, so results match it bit for bit: float32 sums, every butterfly stage
 * rounded to the array's dtype (float16/bfloat16 lose precision stage by
 * stage exactly like MLX's), the scale applied in the last butterfly stage
 * when m = 1, else in the matrix step, whose sums run in float over k in
 * order. Rows are spread over the thread pool. */
#include <stdlib.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/elementwise.h"
#include "backend/cpu/misc.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"

/* The Hadamard matrices of orders 12, 20 and 28 from N. J. A. Sloane's
 * library (neilsloane.com/hadamard), the ones MLX uses; '+' is 1, '-' is
 * -1. Row j, column k. test_misc checks H * H^T = m * I. */
static const char* const hadamard_12[12] = {
    "+-++++++++++",
    "--+-+-+-+-+-",
    "+++-++----++",
    "+---+--+-++-",
    "+++++-++----",
    "+-+---+--+-+",
    "++--+++-++--",
    "+--++---+--+",
    "++----+++-++",
    "+--+-++---+-",
    "++++----+++-",
    "+-+--+-++---",
};
static const char* const hadamard_20[20] = {
    "+----+----++--++-++-",
    "-+----+---+++---+-++",
    "--+----+---+++-+-+-+",
    "---+----+---+++++-+-",
    "----+----++--++-++-+",
    "-+++++-----+--+++--+",
    "+-+++-+---+-+--+++--",
    "++-++--+---+-+--+++-",
    "+++-+---+---+-+--+++",
    "++++-----++--+-+--++",
    "--++-+-++-+-----++++",
    "---++-+-++-+---+-+++",
    "+---++-+-+--+--++-++",
    "++---++-+----+-+++-+",
    "-++---++-+----+++++-",
    "-+--+--++-+----+----",
    "+-+-----++-+----+---",
    "-+-+-+---+--+----+--",
    "--+-+++------+----+-",
    "+--+--++------+----+",
};
static const char* const hadamard_28[28] = {
    "+------++----++-+--+-+--++--",
    "-+-----+++-----+-+--+-+--++-",
    "--+-----+++---+-+-+----+--++",
    "---+-----+++---+-+-+-+--+--+",
    "----+-----+++---+-+-+++--+--",
    "-----+-----++++--+-+--++--+-",
    "------++----++-+--+-+--++--+",
    "--++++-+-------++--+++-+--+-",
    "---++++-+-----+-++--+-+-+--+",
    "+---+++--+----++-++--+-+-+--",
    "++---++---+----++-++--+-+-+-",
    "+++---+----+----++-++--+-+-+",
    "++++--------+-+--++-++--+-+-",
    "-++++--------+++--++--+--+-+",
    "-+-++-++--++--+--------++++-",
    "+-+-++--+--++--+--------++++",
    "-+-+-++--+--++--+----+---+++",
    "+-+-+-++--+--+---+---++---++",
    "++-+-+-++--+------+--+++---+",
    "-++-+-+-++--+------+-++++---",
    "+-++-+---++--+------+-++++--",
    "-++--++-+-++-+++----++------",
    "+-++--++-+-++-+++-----+-----",
    "++-++---+-+-++-+++-----+----",
    "-++-++-+-+-+-+--+++-----+---",
    "--++-++++-+-+----+++-----+--",
    "+--++-+-++-+-+----+++-----+-",
    "++--++-+-++-+-+----++------+",
};

static const char* const* hadamard_matrix(int m) {
  switch (m) {
    case 12: return hadamard_12;
    case 20: return hadamard_20;
    case 28: return hadamard_28;
    default: return NULL;
  }
}

/* Splits a row length into n = 2^k and m; 0 when it is not supported. */
static int hadamard_decompose(int len, int* n, int* m) {
  static const int orders[] = {12, 20, 28};
  *m = 1;
  if (len > 0 && (len & (len - 1)) != 0) {
    for (int i = 0; i < 3; i++)
      if (len % orders[i] == 0) {
        *m = orders[i];
        len /= orders[i];
        break;
      }
    /* MLX stops checking here and then runs its butterfly past the end
     * of the row when the rest is not a power of two; we refuse */
    if (*m == 1 || (len & (len - 1)) != 0)
      return error_set("[hadamard] Only supports n = m*2^k where m in (1, 12, 20, 28).");
  }
  if (len > (1 << 26)) return error_set("[hadamard] Only supports n = m*2^k where k <= 26");
  *n = len;
  return 0;
}

typedef void (*hadamard_row_fn)(void* row, int n, int m, float scale);

#define HADAMARD_LOAD_float(v) (v)
#define HADAMARD_STORE_float(v) (v)
#define HADAMARD_LOAD_float16(v) f16_to_f32(v)
#define HADAMARD_STORE_float16(v) f32_to_f16(v)
#define HADAMARD_LOAD_bfloat16(v) bf16_to_f32(v)
#define HADAMARD_STORE_bfloat16(v) f32_to_bf16(v)

/* One row: butterflies over each block of n, then the m x m matrix. */
#define HADAMARD_DEFINE(name, T)                                              \
  static void hadamard_row_##name(void* row, int n, int m, float scale) {     \
    T* d = row;                                                               \
    float n_scale = m > 1 ? 1.0f : scale;                                     \
    for (int b = 0; b < m; b++) {                                             \
      T* x = d + (size_t)b * (size_t)n;                                       \
      for (int h = 1; h < n; h <<= 1) {                                       \
        for (int i = 0; i < n / 2; i++) {                                     \
          int k = i & (h - 1), j = ((i - k) << 1) + k;                        \
          float u = HADAMARD_LOAD_##name(x[j]), v = HADAMARD_LOAD_##name(x[j + h]); \
          x[j] = HADAMARD_STORE_##name(u + v);                                \
          x[j + h] = HADAMARD_STORE_##name(u - v);                            \
          if (h == n / 2) {                                                   \
            x[j] = HADAMARD_STORE_##name(HADAMARD_LOAD_##name(x[j]) * n_scale);       \
            x[j + h] = HADAMARD_STORE_##name(HADAMARD_LOAD_##name(x[j + h]) * n_scale); \
          }                                                                   \
        }                                                                     \
      }                                                                       \
    }                                                                         \
    if (m == 1) return;                                                       \
    const char* const* H = hadamard_matrix(m);                                \
    float acc[28];                                                            \
    for (int i = 0; i < n; i++) {                                             \
      for (int j = 0; j < m; j++) {                                           \
        acc[j] = 0.0f;                                                        \
        for (int k = 0; k < m; k++) {                                         \
          float v = HADAMARD_LOAD_##name(d[i + k * n]);                       \
          acc[j] = H[j][k] == '+' ? acc[j] + v : acc[j] - v;                  \
        }                                                                     \
      }                                                                       \
      for (int j = 0; j < m; j++) d[i + j * n] = HADAMARD_STORE_##name(acc[j] * scale); \
    }                                                                         \
  }
HADAMARD_DEFINE(float, float)
HADAMARD_DEFINE(float16, uint16_t)
HADAMARD_DEFINE(bfloat16, uint16_t)

typedef struct hadamard_job {
  hadamard_row_fn fn;
  char* data;
  size_t row_bytes;
  int n, m;
  float scale;
} hadamard_job;

static void hadamard_rows(void* ctx, size_t begin, size_t end) {
  const hadamard_job* j = ctx;
  for (size_t r = begin; r < end; r++) j->fn(j->data + r * j->row_bytes, j->n, j->m, j->scale);
}

int cpu_hadamard_eval(node* nd) {
  const hadamard_params* p = nd->params;
  array* in = nd->inputs[0];
  array* out = nd->outputs[0];
  int len = out->ndim > 0 ? out->shape[out->ndim - 1] : 1;
  int n = 1, m = 1;
  if (hadamard_decompose(len, &n, &m)) return 1;
  hadamard_row_fn fn;
  switch (out->dtype) {
    case MLX_FLOAT32: fn = hadamard_row_float; break;
    case MLX_FLOAT16: fn = hadamard_row_float16; break;
    case MLX_BFLOAT16: fn = hadamard_row_bfloat16; break;
    default: return error_set("[hadamard] Unsupported type.");
  }
  if (array_alloc_or_donate(out, &in, 1)) return 1;
  if (out->buf != in->buf && cpu_copy_into(out, in)) return 1;
  if (out->size == 0) return 0;
  size_t esize = dtype_size(out->dtype);
  hadamard_job j = {fn, array_data(out), (size_t)len * esize, n, m, p->scale};
  size_t rows = out->size / (size_t)len;
  size_t work = (size_t)len * (size_t)(m + 2 * (32 - __builtin_clz((unsigned)n)));
  pool_for(rows, work >= (1u << 16) ? 1 : (1u << 16) / work, hadamard_rows, &j);
  return 0;
}
