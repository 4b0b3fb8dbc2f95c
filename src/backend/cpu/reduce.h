/* reduce.h - the CPU kernels of the reduction family and the parameters
 * their nodes carry: Reduce (sum, prod, max, min, all, any), ArgReduce
 * (argmax, argmin), Softmax and LogSumExp over the last axis, Median over
 * the last axis, and Scan (cumsum, cumprod, cummax, cummin, logcumsumexp).
 *
 * Contracts (the front-ends in ops/reduce.c and ops/cumulative.c set them
 * up): inputs are evaluated and may have any strides; outputs are headers
 * waiting for memory and come back row-contiguous. Each entry point returns
 * 0, or 1 with error_set(). Params are owned by the node; free() frees
 * them. */
#ifndef CMLX_CPU_REDUCE_H
#define CMLX_CPU_REDUCE_H

#include <stdbool.h>

#include "core/array.h"

/* The reductions with an accumulator, in MLX's Reduce order. */
typedef enum reduce_kind {
  REDUCE_SUM,
  REDUCE_PROD,
  REDUCE_MAX,
  REDUCE_MIN,
  REDUCE_AND, /* all */
  REDUCE_OR,  /* any */
  REDUCE_KIND_COUNT
} reduce_kind;

/* Reduce: out has the input's shape without (or with 1 in place of) the
 * reduced axes; its dtype is MLX's output dtype for kind (sum of int8 is
 * int32, all is bool...). axes: sorted, distinct, in [0, ndim). */
typedef struct reduce_params {
  reduce_kind kind;
  int n_axes;
  int axes[]; /* n_axes entries */
} reduce_params;

int cpu_reduce_eval(node* n);

/* ArgReduce: out is uint32 with the input's shape without (or with 1 at)
 * axis; the input is not empty. The first maximum (minimum) wins; NaN
 * counts only as the first element (MLX compares with > and <). */
typedef enum arg_kind { ARG_MAX, ARG_MIN } arg_kind;
typedef struct argreduce_params {
  arg_kind kind;
  int axis;
} argreduce_params;

int cpu_argreduce_eval(node* n);

/* Softmax along the last axis; the input is float16, bfloat16, float32 or
 * float64 and out has its shape and dtype. Half types compute in float32
 * (max, sum of exponentials, scale), float64 in double. No params. */
int cpu_softmax_eval(node* n);

/* LogSumExp along the last axis: input [..., K] of a float dtype, K > 0;
 * out [...] of the same dtype. No params. */
int cpu_logsumexp_eval(node* n);

/* Median along the last axis: input [..., K] of any dtype, K > 0; out [...]
 * in MLX's at_least_float of the input dtype. Rows holding NaN give NaN;
 * an even K averages the two middle values in the output dtype. No params. */
int cpu_median_eval(node* n);

/* Scan along axis: out has the input's shape; its dtype is the input's,
 * except cumsum of bool, which is int32. */
typedef enum scan_kind {
  SCAN_SUM,
  SCAN_PROD,
  SCAN_MAX,
  SCAN_MIN,
  SCAN_LOGADDEXP,
  SCAN_KIND_COUNT
} scan_kind;
typedef struct scan_params {
  scan_kind kind;
  int axis;
  bool reverse;
  bool inclusive;
} scan_params;

int cpu_scan_eval(node* n);

#endif
