/* random.c - CPU kernels for random numbers: the Threefry-2x32 bit
 * generator (RandomBits) and the sorted-sequence search (SearchSorted) that
 * random.categorical's inverse-CDF sampler needs.
 *
 * The bit layout is MLX's (backend/cpu/primitives.cpp, RandomBits): the
 * counters of the two words of a pair are i and h + odd + i, so the output
 * is not a plain counter stream and a prefix of a longer draw differs from a
 * shorter draw. Matching it word for word is what makes key, split, bits and
 * everything built on them equal MLX's values bit for bit.
 *
 * The hash runs on blocks of counters into stack buffers (a loop GCC turns
 * into AVX-512 / AVX2 rotates), which are then copied into the output with
 * memcpy: outputs of 1- and 2-byte elements for several keys need not be
 * 4-byte aligned. */
#include <math.h>
#include <string.h>

#include "backend/cpu/isa.h"
#include "backend/cpu/random.h"
#include "backend/cpu/threadpool.h"
#include "core/error.h"

/* Counter pairs per stack block, and the fewest pairs worth a thread. */
#define BITS_BLOCK 256
#define BITS_PARALLEL_MIN 8192

#define ROTL32(v, r) (((v) << (r)) | ((v) >> (32 - (r))))

/* One Threefry round: mix x0 into x1 with rotation r. */
#define TF_ROUND(x0, x1, r) \
  do {                      \
    x0 += x1;               \
    x1 = ROTL32(x1, r);     \
    x1 ^= x0;               \
  } while (0)

/* Four rounds, then the key injection number s (1..5). */
#define TF_GROUP(x0, x1, ks, r0, r1, r2, r3, s) \
  do {                                          \
    TF_ROUND(x0, x1, r0);                       \
    TF_ROUND(x0, x1, r1);                       \
    TF_ROUND(x0, x1, r2);                       \
    TF_ROUND(x0, x1, r3);                       \
    x0 += ks[(s) % 3];                          \
    x1 += ks[((s) + 1) % 3] + (uint32_t)(s);    \
  } while (0)

static inline void threefry(const uint32_t ks[3], uint32_t* p0, uint32_t* p1) {
  uint32_t x0 = *p0 + ks[0], x1 = *p1 + ks[1];
  TF_GROUP(x0, x1, ks, 13, 15, 26, 6, 1);
  TF_GROUP(x0, x1, ks, 17, 29, 16, 24, 2);
  TF_GROUP(x0, x1, ks, 13, 15, 26, 6, 3);
  TF_GROUP(x0, x1, ks, 17, 29, 16, 24, 4);
  TF_GROUP(x0, x1, ks, 13, 15, 26, 6, 5);
  *p0 = x0;
  *p1 = x1;
}

static inline void key_schedule(uint32_t k0, uint32_t k1, uint32_t ks[3]) {
  ks[0] = k0;
  ks[1] = k1;
  ks[2] = k0 ^ k1 ^ 0x1BD11BDAu;
}

void random_threefry2x32(uint32_t k0, uint32_t k1, uint32_t x[2]) {
  uint32_t ks[3];
  key_schedule(k0, k1, ks);
  threefry(ks, &x[0], &x[1]);
}

/* lo[i], hi[i] = threefry(key, (first + i, second + i)) for i < n. */
CPU_KERNEL static void threefry_block(const uint32_t ks[3], uint32_t first, uint32_t second,
                                      size_t n, uint32_t* restrict lo, uint32_t* restrict hi) {
  for (size_t i = 0; i < n; i++) {
    uint32_t x0 = first + (uint32_t)i, x1 = second + (uint32_t)i;
    threefry(ks, &x0, &x1);
    lo[i] = x0;
    hi[i] = x1;
  }
}

/* Word j of a key's output, cut to the bytes that remain (little-endian
 * host: the low bytes come first, as MLX's copy of the word's bytes). */
static void store_word(unsigned char* out, size_t bytes, size_t j, uint32_t v) {
  size_t n = bytes - 4 * j < 4 ? bytes - 4 * j : 4;
  memcpy(out + 4 * j, &v, n);
}

typedef struct bits_job {
  uint32_t ks[3];
  unsigned char* out;
  size_t second; /* h + odd: the word index paired with word 0 */
} bits_job;

/* Full-word pairs [begin, end): words begin.. and second + begin.. */
static void bits_pairs(void* ctx, size_t begin, size_t end) {
  const bits_job* j = ctx;
  uint32_t lo[BITS_BLOCK], hi[BITS_BLOCK];
  for (size_t i = begin; i < end; i += BITS_BLOCK) {
    size_t m = end - i < BITS_BLOCK ? end - i : BITS_BLOCK;
    /* counters are 32-bit in the hash, as in MLX (a key yields at most
     * 2^32 pairs before they wrap) */
    threefry_block(j->ks, (uint32_t)i, (uint32_t)(j->second + i), m, lo, hi);
    memcpy(j->out + 4 * i, lo, 4 * m);
    memcpy(j->out + 4 * (j->second + i), hi, 4 * m);
  }
}

void random_bits_fill(uint32_t k0, uint32_t k1, void* out_, size_t bytes) {
  unsigned char* out = out_;
  size_t words = (bytes + 3) / 4, h = words / 2, odd = words % 2;
  bits_job job = {.out = out, .second = h + odd};
  key_schedule(k0, k1, job.ks);
  /* the last word is partial when bytes is not a multiple of 4; it is the
   * second word of the last pair, or the odd word when there is one word */
  size_t full_pairs = (bytes % 4 && h > 0) ? h - 1 : h;
  if (full_pairs) pool_for(full_pairs, BITS_PARALLEL_MIN, bits_pairs, &job);
  if (full_pairs < h) {
    uint32_t x[2] = {(uint32_t)(h - 1), (uint32_t)(h + odd + h - 1)};
    threefry(job.ks, &x[0], &x[1]);
    store_word(out, bytes, h - 1, x[0]);
    store_word(out, bytes, words - 1, x[1]);
  }
  if (odd) {
    uint32_t x[2] = {(uint32_t)h, 0};
    threefry(job.ks, &x[0], &x[1]);
    store_word(out, bytes, h, x[0]);
  }
}

/* Element offset of row-major index idx in a's strided layout. */
static int64_t elem_loc(size_t idx, const array* a) {
  int64_t loc = 0;
  for (int d = a->ndim - 1; d >= 0 && idx; d--) {
    size_t dim = (size_t)a->shape[d];
    loc += (int64_t)(idx % dim) * a->strides[d];
    idx /= dim;
  }
  return loc;
}

int cpu_random_bits_eval(node* n) {
  const array* keys = n->inputs[0];
  array* out = n->outputs[0];
  if (keys->dtype != MLX_UINT32)
    return error_set("[RandomBits] Keys must be uint32, got %s.", dtype_name(keys->dtype));
  if (array_alloc(out)) return 1;
  size_t num_keys = keys->size / 2;
  if (out->size == 0 || num_keys == 0) return 0;
  size_t bytes_per_key = array_nbytes(out) / num_keys;
  const uint32_t* k = array_data(keys);
  unsigned char* dst = array_data(out);
  for (size_t i = 0; i < num_keys; i++, dst += bytes_per_key)
    random_bits_fill(k[elem_loc(2 * i, keys)], k[elem_loc(2 * i + 1, keys)], dst,
                     bytes_per_key);
  return 0;
}

/* ---- SearchSorted ---- */

/* X(dtype, C type, comparison) for the dtypes the search supports. */
#define SEARCH_TYPES(X)                 \
  X(MLX_FLOAT32, float, FLOAT_LESS)     \
  X(MLX_FLOAT64, double, FLOAT_LESS)    \
  X(MLX_INT8, int8_t, PLAIN_LESS)       \
  X(MLX_INT16, int16_t, PLAIN_LESS)     \
  X(MLX_INT32, int32_t, PLAIN_LESS)     \
  X(MLX_INT64, int64_t, PLAIN_LESS)     \
  X(MLX_UINT8, uint8_t, PLAIN_LESS)     \
  X(MLX_UINT16, uint16_t, PLAIN_LESS)   \
  X(MLX_UINT32, uint32_t, PLAIN_LESS)   \
  X(MLX_UINT64, uint64_t, PLAIN_LESS)

/* a < b; for floats with NaN after every number (MLX's nan_aware_less). */
#define PLAIN_LESS(a, b) ((a) < (b))
#define FLOAT_LESS(a, b) (isnan(a) ? 0 : isnan(b) ? 1 : (a) < (b))

#define SEARCH_FN(DT, T, LESS)                                                        \
  static void search_##T(const array* seq, const array* vals, uint32_t* out,    \
                         bool right) {                                          \
    const T* s = array_data(seq);                                               \
    const T* v = array_data(vals);                                              \
    int64_t ss = seq->ndim ? seq->strides[0] : 0;                               \
    uint32_t n = (uint32_t)seq->size;                                           \
    bool contiguous = vals->flags & ARRAY_ROW_CONTIGUOUS;                       \
    for (size_t i = 0; i < vals->size; i++) {                                   \
      T x = v[contiguous ? (int64_t)i : elem_loc(i, vals)];                     \
      uint32_t lo = 0, hi = n;                                                  \
      while (lo < hi) {                                                         \
        uint32_t mid = lo + (hi - lo) / 2;                                      \
        T m = s[(int64_t)mid * ss];                                             \
        bool below = right ? !LESS(x, m) : LESS(m, x);                          \
        if (below)                                                              \
          lo = mid + 1;                                                         \
        else                                                                    \
          hi = mid;                                                             \
      }                                                                         \
      out[i] = lo;                                                              \
    }                                                                           \
  }
SEARCH_TYPES(SEARCH_FN)
#undef SEARCH_FN

int cpu_searchsorted_eval(node* n) {
  const array* seq = n->inputs[0];
  const array* vals = n->inputs[1];
  array* out = n->outputs[0];
  const searchsorted_params* p = n->params;
  if (array_alloc(out)) return 1;
  if (out->size == 0) return 0;
  switch (seq->dtype) {
#define SEARCH_CASE(DT, T, LESS)                           \
  case DT:                                              \
    search_##T(seq, vals, array_data(out), p->right);   \
    return 0;
    SEARCH_TYPES(SEARCH_CASE)
#undef SEARCH_CASE
    default:
      return error_set("[searchsorted] Unsupported dtype %s.", dtype_name(seq->dtype));
  }
}
