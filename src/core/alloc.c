/* alloc.c - host buffers: 64-byte aligned blocks with a bounded cache.
 *
 * Freed blocks are kept in size classes (powers of two split in four steps)
 * so that repeated evaluation of same-sized graphs does not return memory to
 * the system and fault it back in. The cache holds at most CACHE_LIMIT bytes;
 * beyond that blocks go straight back to the system, so resident memory stays
 * flat in loops that allocate and free. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define ALIGNMENT 64
#define CLASS_COUNT 256
#define CACHE_LIMIT ((size_t)512 << 20)
#define CACHE_PER_CLASS 64

typedef struct block {
  struct block* next;
} block;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static block* cache_free[CLASS_COUNT];
static int cache_count[CLASS_COUNT];
static size_t cache_bytes;

/* Size class of n: (exponent, quarter) packed into an index, and the class's
 * byte size. Classes below 64 bytes all map to 64. */
static int size_class(size_t n, size_t* class_bytes) {
  if (n <= ALIGNMENT) {
    *class_bytes = ALIGNMENT;
    return 0;
  }
  int e = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^e < n <= 2^(e+1) */
  size_t base = (size_t)1 << e, step = base / 4;
  size_t q = (n - base + step - 1) / step; /* 1..4 */
  *class_bytes = base + q * step;
  int idx = (e - 6) * 4 + (int)q;
  return idx < CLASS_COUNT ? idx : -1;
}

void* alloc_bytes(size_t n, size_t* got) {
  size_t bytes;
  int c = size_class(n ? n : 1, &bytes);
  if (c >= 0) {
    pthread_mutex_lock(&cache_lock);
    block* b = cache_free[c];
    if (b) {
      cache_free[c] = b->next;
      cache_count[c]--;
      cache_bytes -= bytes;
      pthread_mutex_unlock(&cache_lock);
      *got = bytes;
      return b;
    }
    pthread_mutex_unlock(&cache_lock);
  } else {
    bytes = (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  }
  /* aligned_alloc wants a multiple of the alignment; the class size (what
   * alloc_free is given back) may be smaller than what is reserved */
  void* p = aligned_alloc(ALIGNMENT, (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT);
  *got = p ? bytes : 0;
  return p;
}

void alloc_free(void* p, size_t bytes) {
  if (!p) return;
  size_t cb;
  int c = size_class(bytes, &cb);
  if (c >= 0 && cb == bytes) {
    pthread_mutex_lock(&cache_lock);
    if (cache_bytes + bytes <= CACHE_LIMIT && cache_count[c] < CACHE_PER_CLASS) {
      block* b = p;
      b->next = cache_free[c];
      cache_free[c] = b;
      cache_count[c]++;
      cache_bytes += bytes;
      pthread_mutex_unlock(&cache_lock);
      return;
    }
    pthread_mutex_unlock(&cache_lock);
  }
  free(p);
}

void alloc_clear_cache(void) {
  pthread_mutex_lock(&cache_lock);
  for (int c = 0; c < CLASS_COUNT; c++) {
    while (cache_free[c]) {
      block* b = cache_free[c];
      cache_free[c] = b->next;
      free(b);
    }
    cache_count[c] = 0;
  }
  cache_bytes = 0;
  pthread_mutex_unlock(&cache_lock);
}

size_t alloc_cache_bytes(void) {
  pthread_mutex_lock(&cache_lock);
  size_t n = cache_bytes;
  pthread_mutex_unlock(&cache_lock);
  return n;
}
