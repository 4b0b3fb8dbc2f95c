/* join.h - CPU kernels of the joining and layout ops (ops/join.c): the
 * pieces primitive (concatenate, diag of a vector), the remap primitive
 * (pad in every mode, roll) and the diagonal view.
 *
 * Contract shared by all three: the node's inputs are evaluated and have
 * the output's dtype (the front-end casts); the output is a header waiting
 * for memory. They return 0, or 1 with error_set(). Params are owned by
 * the node and freed with free(). */
#ifndef CMLX_CPU_JOIN_H
#define CMLX_CPU_JOIN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/array.h"

/* Pieces: the output (row-contiguous) is optionally zero-filled, then each
 * input k is copied into it at element offset offsets[k] with, for input
 * axis d, output stride strides[k * ndim + d]. Every input has ndim axes.
 * Concatenate places its inputs side by side (no fill); diag of a vector
 * places it along a diagonal (stride n + 1) over zeros. */
typedef struct pieces_params {
  int n_pieces;
  int ndim;
  bool zero_fill;
  int64_t* offsets; /* n_pieces entries, in this allocation */
  int64_t* strides; /* n_pieces * ndim entries, in this allocation */
} pieces_params;

/* calloc'd params with room for n pieces of ndim axes; free() frees. */
pieces_params* pieces_params_new(int n_pieces, int ndim);
int cpu_pieces_eval(node* n);

/* Remap: out[i_0, ..., i_k] = in[src_0(i_0), ..., src_k(i_k)], each output
 * index mapped along its own axis; a source of -1 (constant padding)
 * gives the fill value, which is the node's second input (a 0-d array of
 * the output's dtype). The per-axis maps: */
typedef enum remap_kind {
  REMAP_IDENTITY,     /* src = i */
  REMAP_ROLL,         /* src = (i + shift) mod n, shift in [0, n) */
  REMAP_PAD_CONSTANT, /* src = i - low inside [0, n), else -1 */
  REMAP_PAD_EDGE,     /* outside: the nearest edge element */
  REMAP_PAD_REFLECT,  /* outside: mirrored without repeating the edge */
  REMAP_PAD_SYMMETRIC /* outside: mirrored repeating the edge */
} remap_kind;

typedef struct remap_axis {
  remap_kind kind;
  int64_t n;     /* the input's size along the axis */
  int64_t low;   /* padding before the input (pad kinds) */
  int64_t shift; /* REMAP_ROLL */
} remap_axis;

typedef struct remap_params {
  int ndim;
  remap_axis axes[]; /* ndim entries (one when ndim is 0) */
} remap_params;

/* The source index of output index i along one axis (-1: fill). */
int64_t remap_source(const remap_axis* ax, int64_t i);
int cpu_remap_eval(node* n);

/* Diagonal view: the output shares the input's buffer. Its axes are the
 * input's axes other than ax1 and ax2, in order, then the diagonal, whose
 * element j is in[..., off1 + j (at ax1), ..., off2 + j (at ax2), ...]. */
typedef struct diagonal_params {
  int ax1, ax2;
  int off1, off2;
} diagonal_params;

int cpu_diagonal_eval(node* n);

#endif
