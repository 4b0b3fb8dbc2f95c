/* threadpool.h - a fixed pool of worker threads for data-parallel kernels.
 *
 * pool_run(n_tasks, fn, ctx) calls fn(ctx, i) for i in [0, n_tasks) spread
 * over the workers and the calling thread, and returns when all are done.
 * Calls from inside a task run serially (no nested parallelism). */
#ifndef CMLX_CPU_THREADPOOL_H
#define CMLX_CPU_THREADPOOL_H

#include <stddef.h>

typedef void (*pool_task_fn)(void* ctx, size_t task);

void pool_run(size_t n_tasks, pool_task_fn fn, void* ctx);
/* Threads used (the caller included): CMLX_NUM_THREADS, else the CPUs this
 * process may run on. */
int pool_size(void);

/* Splits [0, n) into chunks of at least min_chunk items, at most one chunk
 * per thread, and calls fn(ctx, begin, end) for each. */
typedef void (*pool_range_fn)(void* ctx, size_t begin, size_t end);
void pool_for(size_t n, size_t min_chunk, pool_range_fn fn, void* ctx);

#endif
