/* alloc.h - host memory for array buffers (see alloc.c). */
#ifndef CMLX_CORE_ALLOC_H
#define CMLX_CORE_ALLOC_H

#include <stddef.h>

/* Returns a 64-byte aligned block of at least n bytes; *got = its size, which
 * must be passed back to alloc_free. NULL when out of memory. */
void* alloc_bytes(size_t n, size_t* got);
void alloc_free(void* p, size_t bytes);
void alloc_clear_cache(void);
size_t alloc_cache_bytes(void);

#endif
