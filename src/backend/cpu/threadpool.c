/* threadpool.c - workers sleeping on a condition variable, woken per job.
 *
 * One job runs at a time (jobs come from graph evaluation, which is
 * serialised). Tasks are claimed with an atomic counter, so uneven tasks
 * balance themselves. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>

#include "backend/cpu/threadpool.h"

#define POOL_MAX 256

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int n_threads = 1; /* including the caller */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static uint64_t generation;
static pool_task_fn job_fn;
static void* job_ctx;
static size_t job_tasks;
static atomic_size_t job_next;
static int job_active; /* workers still inside the current job */
static _Thread_local bool in_task;

static void run_tasks(void) {
  in_task = true;
  for (;;) {
    size_t i = atomic_fetch_add(&job_next, 1);
    if (i >= job_tasks) break;
    job_fn(job_ctx, i);
  }
  in_task = false;
}

static void* worker(void* arg) {
  (void)arg;
  uint64_t seen = 0;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (generation == seen) pthread_cond_wait(&wake, &lock);
    seen = generation;
    pthread_mutex_unlock(&lock);
    run_tasks();
    pthread_mutex_lock(&lock);
    if (--job_active == 0) pthread_cond_signal(&done);
  }
  return NULL;
}

static void pool_init(void) {
  const char* env = getenv("CMLX_NUM_THREADS");
  int n = env ? atoi(env) : 0;
  if (n <= 0) {
    cpu_set_t set;
    n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  }
  if (n < 1) n = 1;
  if (n > POOL_MAX) n = POOL_MAX;
  int started = 1;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (int i = 1; i < n; i++) {
    pthread_t t;
    if (pthread_create(&t, &attr, worker, NULL) != 0) break;
    started++;
  }
  pthread_attr_destroy(&attr);
  n_threads = started;
}

int pool_size(void) {
  pthread_once(&pool_once, pool_init);
  return n_threads;
}

void pool_run(size_t n_tasks, pool_task_fn fn, void* ctx) {
  if (n_tasks == 0) return;
  if (n_tasks == 1 || in_task || pool_size() == 1) {
    for (size_t i = 0; i < n_tasks; i++) fn(ctx, i);
    return;
  }
  pthread_mutex_lock(&job_lock);
  pthread_mutex_lock(&lock);
  job_fn = fn;
  job_ctx = ctx;
  job_tasks = n_tasks;
  atomic_store(&job_next, 0);
  job_active = n_threads - 1;
  generation++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  run_tasks();
  pthread_mutex_lock(&lock);
  while (job_active) pthread_cond_wait(&done, &lock);
  pthread_mutex_unlock(&lock);
  pthread_mutex_unlock(&job_lock);
}

typedef struct range_job {
  pool_range_fn fn;
  void* ctx;
  size_t n, chunk;
} range_job;

static void range_task(void* p, size_t t) {
  range_job* j = p;
  size_t b = t * j->chunk, e = b + j->chunk;
  if (e > j->n) e = j->n;
  if (b < e) j->fn(j->ctx, b, e);
}

void pool_for(size_t n, size_t min_chunk, pool_range_fn fn, void* ctx) {
  if (n == 0) return;
  size_t threads = (size_t)pool_size();
  if (min_chunk == 0) min_chunk = 1;
  size_t tasks = n / min_chunk;
  if (tasks > threads) tasks = threads;
  if (tasks <= 1 || in_task) {
    fn(ctx, 0, n);
    return;
  }
  range_job j = {fn, ctx, n, (n + tasks - 1) / tasks};
  pool_run(tasks, range_task, &j);
}
