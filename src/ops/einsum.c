/* einsum.c - op_einsum: Einstein summation over a subscripts string.
 *
 * The plan is MLX's (itself NumPy's / opt_einsum's):
 *  1. parse "ij,jk->ik" (implicit mode: the output is the letters seen
 *     once, sorted, after any ellipsis), expand "..." into spare letters,
 *     and validate with MLX's messages, in MLX's order;
 *  2. with three or more operands, pick a pairwise contraction order
 *     greedily (largest size reduction first, then lowest cost);
 *  3. for each step: take diagonals of repeated letters ("ii" -> "i"),
 *     sum letters that occur in one term only, then either contract the
 *     pair with one batched matmul (transpose + reshape into [batch, M, K]
 *     x [batch, K, N]) or, when nothing is contracted, multiply with
 *     broadcasting and sum.
 * Everything is built from other ops, so dtypes follow theirs: a
 * contraction goes through matmul and therefore needs inexact types, as in
 * MLX. Letters are kept as 64-bit sets (a-z, A-Z) next to their strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/binary_list.h"
#include "ops/linalg.h"
#include "ops/ops.h"
#include "ops/reduce.h"

/* A term: the letters of one operand, in axis order. */
#define TERM_CAP 128
typedef struct term {
  int len;
  uint64_t set;
  char str[TERM_CAP];
} term;

static bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int letter_bit(char c) {
  return c >= 'a' ? c - 'a' : c - 'A' + 26;
}
static bool term_has(const term* t, char c) {
  return (t->set >> letter_bit(c)) & 1;
}
static void term_set_str(term* t, const char* s, int len) {
  t->len = len;
  t->set = 0;
  for (int i = 0; i < len; i++) {
    t->str[i] = s[i];
    t->set |= (uint64_t)1 << letter_bit(s[i]);
  }
}
static void term_remove_at(term* t, int i) {
  memmove(t->str + i, t->str + i + 1, (size_t)(t->len - i - 1));
  term_set_str(t, t->str, t->len - 1);
}
static int popcount64(uint64_t x) {
  return __builtin_popcountll(x);
}

/* Sizes of the letters (0 for a letter no operand has, as MLX's map
 * lookups give). */
typedef struct dims {
  int64_t size[52];
} dims;

static size_t set_size(uint64_t set, const dims* d) {
  size_t n = 1;
  for (int b = 0; b < 52; b++)
    if ((set >> b) & 1) n *= (size_t)d->size[b];
  return n;
}
static size_t str_size(const term* t, const dims* d) {
  size_t n = 1;
  for (int i = 0; i < t->len; i++) n *= (size_t)d->size[letter_bit(t->str[i])];
  return n;
}
static size_t flop_count(uint64_t set, bool inner, int n_terms, const dims* d) {
  size_t factor = n_terms - 1 > 1 ? (size_t)(n_terms - 1) : 1;
  return set_size(set, d) * (factor + inner);
}

/* ---- parsing ---- */

typedef struct parsed {
  char** in; /* input subscripts, as written (spaces removed) */
  int n_in;
  char* out; /* output subscript, as written or inferred */
} parsed;

static void parsed_free(parsed* p) {
  for (int i = 0; i < p->n_in; i++) free(p->in[i]);
  free(p->in);
  free(p->out);
}

static int cmp_char(const void* x, const void* y) {
  return *(const signed char*)x - *(const signed char*)y;
}

/* MLX's parse: split at "->"; without it, the output is every character
 * seen exactly once (after an ellipsis, which leads), sorted. The inputs
 * are split at commas like std::getline (no empty token at the end). */
static int parse(const char* subscripts, parsed* p) {
  size_t n = strlen(subscripts);
  char* s = malloc(n + 1);
  p->in = malloc((n + 1) * sizeof *p->in);
  p->out = malloc(n + 4);
  p->n_in = 0;
  if (!s || !p->in || !p->out) {
    free(s);
    return error_set("[einsum] Out of memory.");
  }
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    if (subscripts[i] != ' ') s[len++] = subscripts[i];
  s[len] = 0;
  char* arrow = strstr(s, "->");
  size_t lhs_len = arrow ? (size_t)(arrow - s) : len;
  if (arrow) {
    strcpy(p->out, arrow + 2);
  } else {
    int counts[256] = {0};
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == ',') continue;
      if (c == '.' && o == 0) {
        memcpy(p->out, "...", 3);
        o = 3;
        continue;
      }
      counts[c]++;
    }
    for (int c = 1; c < 256; c++)
      if (counts[c] == 1) p->out[o++] = (char)c;
    p->out[o] = 0;
    qsort(p->out, o, 1, cmp_char);
  }
  size_t start = 0;
  int rc = 0;
  while (start < lhs_len) {
    size_t end = start;
    while (end < lhs_len && s[end] != ',') end++;
    char* tok = malloc(end - start + 1);
    if (!tok) {
      rc = error_set("[einsum] Out of memory.");
      break;
    }
    memcpy(tok, s + start, end - start);
    tok[end - start] = 0;
    p->in[p->n_in++] = tok;
    start = end + 1;
  }
  free(s);
  return rc;
}

/* Checks that sub has only letters and at most one "...", and writes it
 * to t with the ellipsis replaced by the last `ell` spare letters, where
 * ell is what the operand's rank leaves (inputs) or the longest ellipsis
 * seen (output, operand NULL). */
static int expand_subscript(const char* sub, const array* operand, int idx, const char* spare,
                            int n_spare, int* max_ell, term* t) {
  int len = (int)strlen(sub);
  int before = 0, after = 0, at = -1;
  for (int i = 0; i < len; i++) {
    if (!is_letter(sub[i])) {
      if (i + 2 >= len || sub[i] != '.' || sub[i + 1] != '.' || sub[i + 2] != '.')
        return error_set("[einsum] Subscripts must be letters, but got '%c'.", sub[i]);
      if (at >= 0)
        return error_set("[einsum] Only one ellipsis per subscript is allowed but found more "
                         "in '%s'.",
                         sub);
      at = i;
      i += 2;
      continue;
    }
    if (at >= 0) after++;
    else before++;
  }
  int ell = 0;
  if (at >= 0) {
    if (operand) {
      ell = operand->ndim - before - after;
      if (ell < 0) {
        char sh[256];
        return error_set("[einsum] Operand %d with shape %s has insufficient dimensions for "
                         "subscript '%s'. The ellipsis requires at least %d dimensions but "
                         "the operand has %d dimensions.",
                         idx, error_format_shape(sh, sizeof sh, operand->shape, operand->ndim),
                         sub, before + after, operand->ndim);
      }
      if (ell > *max_ell) *max_ell = ell;
    } else {
      ell = *max_ell;
    }
    if (ell > n_spare)
      return error_set("[einsum] The ellipsis in '%s' needs %d letters but only %d are unused.",
                       sub, ell, n_spare);
  }
  int total = before + after + ell;
  if (total > TERM_CAP)
    return error_set("[einsum] Subscript '%s' has more than %d indices.", sub, TERM_CAP);
  char buf[TERM_CAP];
  int o = 0;
  for (int i = 0; i < len; i++) {
    if (i == at) {
      memcpy(buf + o, spare + n_spare - ell, (size_t)ell);
      o += ell;
      i += 2;
    } else {
      buf[o++] = sub[i];
    }
  }
  term_set_str(t, buf, o);
  return 0;
}

/* ---- the contraction path ---- */

typedef struct path_step {
  term* in;       /* n_in terms */
  int* positions; /* their indices in the operand list, increasing */
  int n_in;
  term out;
} path_step;

typedef struct contraction {
  int64_t size; /* size removed (may be negative) */
  size_t cost;
  uint64_t out;
  int ndims;
  int x, y;
} contraction;

typedef struct plan {
  path_step* steps;
  int n_steps;
} plan;

static void plan_free(plan* p) {
  for (int i = 0; i < p->n_steps; i++) {
    free(p->steps[i].in);
    free(p->steps[i].positions);
  }
  free(p->steps);
}

static int step_add(plan* p, const term* in, const int* positions, int n_in, const term* out) {
  path_step* st = &p->steps[p->n_steps];
  st->in = malloc(sizeof(term) * (size_t)n_in);
  st->positions = malloc(sizeof(int) * (size_t)n_in);
  if (!st->in || !st->positions) {
    free(st->in);
    free(st->positions);
    return error_set("[einsum] Out of memory.");
  }
  memcpy(st->in, in, sizeof(term) * (size_t)n_in);
  memcpy(st->positions, positions, sizeof(int) * (size_t)n_in);
  st->n_in = n_in;
  st->out = *out;
  p->n_steps++;
  return 0;
}

/* The letters of set as a term, ordered by size (then alphabetically). */
static void term_from_set_by_size(term* t, uint64_t set, const dims* d) {
  char buf[52];
  int n = 0;
  for (int b = 0; b < 52; b++)
    if ((set >> b) & 1) {
      char c = (char)(b < 26 ? 'a' + b : 'A' + b - 26);
      int k = n++;
      while (k > 0 && d->size[letter_bit(buf[k - 1])] > d->size[b]) {
        buf[k] = buf[k - 1];
        k--;
      }
      buf[k] = c;
    }
  term_set_str(t, buf, n);
}

/* MLX's greedy_path: repeatedly contract the pair that shrinks the
 * operands most (ties: cheapest), skipping outer products while any other
 * pair shares a letter; gives up into one naive step when no pair fits the
 * memory and cost limits. */
static int greedy_path(plan* p, term* inputs, int n, const term* output, const dims* d,
                       size_t cost_limit, size_t memory_limit) {
  int cap = n * n + n + 1;
  int(*pairs)[2] = malloc(sizeof(int[2]) * (size_t)cap);
  contraction* poss = malloc(sizeof(contraction) * (size_t)cap);
  contraction* next = malloc(sizeof(contraction) * (size_t)cap);
  int* positions = malloc(sizeof(int) * (size_t)n);
  int rc = 0;
  if (!pairs || !poss || !next || !positions) {
    rc = error_set("[einsum] Out of memory.");
    goto done;
  }
  int n_pairs = 0, n_poss = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      pairs[n_pairs][0] = i;
      pairs[n_pairs++][1] = j;
    }
  size_t path_cost = 0;
  int num_in = n;
  for (int it = 0; it < num_in - 1; it++) {
    for (int pass = 0; pass < 2 && n_poss == 0; pass++) {
      for (int q = 0; q < n_pairs; q++) {
        int p1 = pairs[q][0], p2 = pairs[q][1];
        /* first pass: only pairs that share a letter */
        if (pass == 0 && (inputs[p1].set & inputs[p2].set) == 0) continue;
        uint64_t both = inputs[p1].set | inputs[p2].set, keep = 0;
        for (int i = 0; i < n; i++)
          if (i != p1 && i != p2) keep |= inputs[i].set & both;
        keep |= output->set & both;
        size_t new_size = set_size(keep, d);
        if (new_size > memory_limit) continue;
        int64_t removed = (int64_t)(set_size(inputs[p1].set, d) + set_size(inputs[p2].set, d) -
                                    new_size);
        bool inner = popcount64(both) > popcount64(keep);
        size_t cost = flop_count(both, inner, 2, d);
        if (path_cost + cost > cost_limit) continue;
        poss[n_poss++] = (contraction){removed, cost, keep, popcount64(both), p1, p2};
      }
      if (pass == 0 && n_poss == 0) continue;
      break;
    }
    if (n_poss == 0) { /* the rest in one naive step */
      for (int i = 0; i < n; i++) positions[i] = i;
      rc = step_add(p, inputs, positions, n, output);
      goto done;
    }
    int best = 0;
    for (int q = 1; q < n_poss; q++)
      if (poss[q].size > poss[best].size ||
          (poss[q].size == poss[best].size && poss[q].cost < poss[best].cost))
        best = q;
    contraction bc = poss[best];
    term new_out;
    term_from_set_by_size(&new_out, bc.out, d);
    term pair[2] = {inputs[bc.x], inputs[bc.y]};
    int pos[2] = {bc.x, bc.y};
    if ((rc = step_add(p, pair, pos, 2, &new_out))) goto done;
    /* remove the pair, append the result */
    int w = 0;
    for (int i = 0; i < n; i++)
      if (i != bc.x && i != bc.y) inputs[w++] = inputs[i];
    inputs[w++] = new_out;
    n = w;
    /* keep the candidates that involve neither term, renumbered */
    int nn = 0;
    for (int q = 0; q < n_poss; q++) {
      contraction cq = poss[q];
      if (cq.x == bc.x || cq.x == bc.y || cq.y == bc.x || cq.y == bc.y) continue;
      cq.x -= (cq.x > bc.x) + (cq.x > bc.y);
      cq.y -= (cq.y > bc.x) + (cq.y > bc.y);
      next[nn++] = cq;
    }
    memcpy(poss, next, sizeof(contraction) * (size_t)nn);
    n_poss = nn;
    n_pairs = 0;
    for (int i = 0; i < n - 1; i++) {
      pairs[n_pairs][0] = i;
      pairs[n_pairs++][1] = n - 1;
    }
    path_cost += bc.cost;
  }
done:
  free(pairs);
  free(poss);
  free(next);
  free(positions);
  return rc;
}

/* ---- executing a step ---- */

/* "ii" -> "i": a strided view of the diagonal of every repeated letter. */
static array* collapse_repeats(array* x, term* t, stream s) {
  int nd = x->ndim;
  int64_t row[nd + 1];
  row[nd] = 1;
  for (int d = nd - 1; d >= 0; d--) row[d] = row[d + 1] * (d + 1 < nd ? x->shape[d + 1] : 1);
  int shape[nd + 1];
  int64_t strides[nd + 1];
  char str[TERM_CAP];
  int nu = 0;
  for (int i = 0; i < t->len; i++) {
    bool seen = false;
    for (int k = 0; k < nu; k++) seen = seen || str[k] == t->str[i];
    if (seen) continue;
    str[nu] = t->str[i];
    shape[nu] = x->shape[i];
    strides[nu] = 0;
    for (int k = i; k < t->len; k++)
      if (t->str[k] == t->str[i]) strides[nu] += row[k];
    nu++;
  }
  term_set_str(t, str, nu);
  return op_as_strided(x, shape, nu, strides, nu, 0, s);
}

/* Diagonals of repeated letters, then sums of letters seen in one term
 * only (counting the step's output as a term). */
static int preprocess(path_step* st, array** ops, stream s) {
  for (int i = 0; i < st->n_in; i++) {
    term* t = &st->in[i];
    array** x = &ops[st->positions[i]];
    if (popcount64(t->set) < t->len) {
      array* r = collapse_repeats(*x, t, s);
      array_release(*x);
      *x = r;
      if (!r) return 1;
    }
  }
  int counts[52] = {0};
  for (int i = 0; i < st->n_in; i++)
    for (int b = 0; b < 52; b++) counts[b] += (st->in[i].set >> b) & 1;
  for (int b = 0; b < 52; b++) counts[b] += (st->out.set >> b) & 1;
  for (int i = 0; i < st->n_in; i++) {
    term* t = &st->in[i];
    int axes[TERM_CAP], n = 0;
    for (int ax = 0; ax < t->len; ax++)
      if (counts[letter_bit(t->str[ax])] == 1) axes[n++] = ax;
    if (n == 0) continue;
    array** x = &ops[st->positions[i]];
    array* r = op_reduce(REDUCE_SUM, *x, axes, n, false, s);
    array_release(*x);
    *x = r;
    if (!r) return 1;
    for (int k = n - 1; k >= 0; k--) term_remove_at(t, axes[k]);
  }
  return 0;
}

/* Position of letter c in t (MLX's map lookups give 0 for a missing one). */
static int index_in(const char* str, int len, char c) {
  for (int i = 0; i < len; i++)
    if (str[i] == c) return i;
  return 0;
}

/* transpose x to (i..., j..., k...) and merge j and k: [x_i..., |j|, |k|] */
static array* transpose_merge(array* x, const int* i, int ni, const int* j, int nj, const int* k,
                              int nk, stream s) {
  int perm[ni + nj + nk + 1], shape[ni + 3];
  int64_t pj = 1, pk = 1;
  for (int q = 0; q < ni; q++) {
    perm[q] = i[q];
    shape[q] = x->shape[i[q]];
  }
  for (int q = 0; q < nj; q++) {
    perm[ni + q] = j[q];
    pj *= x->shape[j[q]];
  }
  for (int q = 0; q < nk; q++) {
    perm[ni + nj + q] = k[q];
    pk *= x->shape[k[q]];
  }
  shape[ni] = (int)pj;
  shape[ni + 1] = (int)pk;
  array* t = op_transpose_axes(x, perm, ni + nj + nk, s);
  if (!t) return NULL;
  array* r = op_reshape(t, shape, ni + 2, s);
  array_release(t);
  return r;
}

/* Two terms with something to contract: one batched matmul. Letters in
 * both terms and the output are batch axes, letters in one term and the
 * output are kept ("concat"), the rest are contracted. */
static array* contract_pair(const path_step* st, array* a, array* b, stream s) {
  const term *ta = &st->in[0], *tb = &st->in[1], *to = &st->out;
  int a_con[TERM_CAP], a_bat[TERM_CAP], a_cat[TERM_CAP];
  int b_con[TERM_CAP], b_bat[TERM_CAP], b_cat[TERM_CAP];
  int nc = 0, nbat = 0, nac = 0, nbc = 0;
  for (int i = 0; i < ta->len; i++) {
    char c = ta->str[i];
    if (!term_has(to, c)) a_con[nc++] = i;
    else if (term_has(tb, c)) a_bat[nbat++] = i;
    else a_cat[nac++] = i;
  }
  for (int q = 0; q < nc; q++) b_con[q] = index_in(tb->str, tb->len, ta->str[a_con[q]]);
  for (int q = 0; q < nbat; q++) b_bat[q] = index_in(tb->str, tb->len, ta->str[a_bat[q]]);
  for (int i = 0; i < tb->len; i++)
    if (term_has(to, tb->str[i]) && !term_has(ta, tb->str[i])) b_cat[nbc++] = i;

  /* broadcast the shared axes to their common size */
  int sa[a->ndim + 1], sb[b->ndim + 1];
  memcpy(sa, a->shape, sizeof(int) * (size_t)a->ndim);
  memcpy(sb, b->shape, sizeof(int) * (size_t)b->ndim);
  for (int q = 0; q < nc + nbat; q++) {
    int ia = q < nc ? a_con[q] : a_bat[q - nc], ib = q < nc ? b_con[q] : b_bat[q - nc];
    int dm = sa[ia] > sb[ib] ? sa[ia] : sb[ib];
    sa[ia] = dm;
    sb[ib] = dm;
  }
  int out_shape[nbat + nac + nbc + 1], no = 0;
  for (int q = 0; q < nbat; q++) out_shape[no++] = sa[a_bat[q]];
  for (int q = 0; q < nac; q++) out_shape[no++] = sa[a_cat[q]];
  for (int q = 0; q < nbc; q++) out_shape[no++] = sb[b_cat[q]];
  /* the result's letters, in its axis order */
  char res[TERM_CAP];
  int nres = 0;
  for (int q = 0; q < nbat; q++) res[nres++] = ta->str[a_bat[q]];
  for (int q = 0; q < nac; q++) res[nres++] = ta->str[a_cat[q]];
  for (int q = 0; q < nbc; q++) res[nres++] = tb->str[b_cat[q]];

  array* x = op_broadcast_to(a, sa, a->ndim, s);
  array* y = x ? op_broadcast_to(b, sb, b->ndim, s) : NULL;
  array *mx = NULL, *my = NULL, *prod = NULL, *out = NULL;
  if (y) mx = transpose_merge(x, a_bat, nbat, a_cat, nac, a_con, nc, s);
  if (mx) my = transpose_merge(y, b_bat, nbat, b_con, nc, b_cat, nbc, s);
  if (my) prod = op_matmul(mx, my, s);
  if (prod) {
    array* r = op_reshape(prod, out_shape, no, s);
    if (r) {
      int perm[TERM_CAP];
      for (int q = 0; q < to->len; q++) perm[q] = index_in(res, nres, to->str[q]);
      out = op_transpose_axes(r, perm, to->len, s);
      array_release(r);
    }
  }
  array_release(x);
  array_release(y);
  array_release(mx);
  array_release(my);
  array_release(prod);
  return out;
}

/* Nothing to contract (or more than two terms): line every operand up on
 * the step's letters (unit axes for missing ones), multiply with
 * broadcasting, sum the letters not in the output, order as the output. */
static array* naive_step(const path_step* st, array** ops, stream s) {
  char all[TERM_CAP];
  int n_all = 0;
  uint64_t seen = 0;
  for (int i = 0; i < st->n_in; i++)
    for (int k = 0; k < st->in[i].len; k++) {
      char c = st->in[i].str[k];
      if ((seen >> letter_bit(c)) & 1) continue;
      seen |= (uint64_t)1 << letter_bit(c);
      if (n_all == TERM_CAP) {
        error_set("[einsum] Too many distinct indices.");
        return NULL;
      }
      all[n_all++] = c;
    }
  array* prod = NULL;
  for (int i = 0; i < st->n_in; i++) {
    const term* t = &st->in[i];
    array* x = ops[st->positions[i]];
    int shape[TERM_CAP], perm[TERM_CAP];
    /* axis of x (after appending unit axes) holding each letter of `all` */
    int extra = t->len;
    for (int k = 0; k < x->ndim; k++) shape[k] = x->shape[k];
    for (int k = x->ndim; k < n_all; k++) shape[k] = 1;
    for (int q = 0; q < n_all; q++)
      perm[q] = term_has(t, all[q]) ? index_in(t->str, t->len, all[q]) : extra++;
    array* r = op_reshape(x, shape, n_all, s);
    if (r) {
      array* tr = op_transpose_axes(r, perm, n_all, s);
      array_release(r);
      r = tr;
    }
    if (r && prod) {
      array* m = op_binary(BINARY_MULTIPLY, prod, r, s);
      array_release(r);
      r = m;
    }
    array_release(prod);
    prod = r;
    if (!prod) return NULL;
  }
  int sum_axes[TERM_CAP], ns = 0;
  for (int q = 0; q < n_all; q++)
    if (!term_has(&st->out, all[q])) sum_axes[ns++] = q;
  array* summed = op_reduce(REDUCE_SUM, prod, sum_axes, ns, false, s);
  array_release(prod);
  if (!summed) return NULL;
  int perm[TERM_CAP];
  for (int q = 0; q < st->out.len; q++) {
    int r = index_in(all, n_all, st->out.str[q]);
    int shift = 0;
    for (int k = 0; k < ns; k++) shift += r > sum_axes[k];
    perm[q] = r - shift;
  }
  array* out = op_transpose_axes(summed, perm, st->out.len, s);
  array_release(summed);
  return out;
}

/* ---- the op ---- */

/* Validation after parsing, in MLX's order: ellipses and letters of every
 * input, then of the output; repeats in the output; then per input its
 * rank, its repeated letters and the broadcast sizes of its letters. */
static int check_terms(const char* subscripts, const parsed* p, array* const* operands, int n,
                       term* inputs, term* output, dims* d) {
  bool used[256] = {false};
  for (const char* c = subscripts; *c; c++) used[(unsigned char)*c] = true;
  char spare[52];
  int n_spare = 0;
  for (char c = 'a'; c <= 'z'; c++)
    if (!used[(unsigned char)c]) spare[n_spare++] = c;
  for (char c = 'A'; c <= 'Z'; c++)
    if (!used[(unsigned char)c]) spare[n_spare++] = c;
  int max_ell = 0;
  for (int i = 0; i < n; i++)
    if (expand_subscript(p->in[i], operands[i], i, spare, n_spare, &max_ell, &inputs[i]))
      return 1;
  if (expand_subscript(p->out, NULL, -1, spare, n_spare, &max_ell, output)) return 1;
  if (popcount64(output->set) != output->len)
    return error_set("[einsum] Repeat indices not allowed in output.");

  bool have[52] = {false};
  for (int b = 0; b < 52; b++) d->size[b] = 0;
  for (int i = 0; i < n; i++) {
    const term* t = &inputs[i];
    const array* x = operands[i];
    if (t->len != x->ndim)
      return error_set("[einsum] Invalid number of subscripts %d for input %d with %d "
                       "dimensions.",
                       t->len, i, x->ndim);
    for (int j = 0; j < t->len; j++)
      for (int k = 0; k < j; k++)
        if (t->str[k] == t->str[j]) {
          if (x->shape[k] != x->shape[j])
            return error_set("[einsum] Dimensions of repeated subscripts do not have the same "
                             "size (%d != %d).",
                             x->shape[k], x->shape[j]);
          break;
        }
    for (int j = 0; j < t->len; j++) {
      int b = letter_bit(t->str[j]);
      int64_t dim = x->shape[j];
      if (!have[b]) {
        have[b] = true;
        d->size[b] = dim;
        continue;
      }
      if (dim != 1 && d->size[b] != 1 && d->size[b] != dim) {
        char sh[256];
        return error_set("[einsum] Cannot broadcast dimension %d of input %d with shape %s to "
                         "size %lld.",
                         j, i, error_format_shape(sh, sizeof sh, x->shape, x->ndim),
                         (long long)d->size[b]);
      }
      if (dim > d->size[b]) d->size[b] = dim;
    }
  }
  return 0;
}

array* op_einsum(const char* subscripts, array* const* operands, int n, stream s) {
  if (n <= 0) {
    error_set("[einsum] At least one operand is required.");
    return NULL;
  }
  parsed p = {0};
  plan pl = {0};
  term* inputs = NULL;
  array** ops = NULL;
  int n_ops = 0;
  array* result = NULL;
  if (parse(subscripts, &p)) goto done;
  if (p.n_in != n) {
    error_set("[einsum] Number of operands, %d, does not match number of input subscripts, %d",
              n, p.n_in);
    goto done;
  }
  inputs = malloc(sizeof(term) * (size_t)n);
  pl.steps = malloc(sizeof(path_step) * (size_t)(n + 1));
  ops = malloc(sizeof(array*) * (size_t)(2 * n + 1));
  if (!inputs || !pl.steps || !ops) {
    error_set("[einsum] Out of memory.");
    goto done;
  }
  term output;
  dims d;
  if (check_terms(subscripts, &p, operands, n, inputs, &output, &d)) goto done;

  /* the plan: one step for one or two operands, else the greedy path */
  if (n <= 2) {
    int pos[2] = {0, 1};
    if (step_add(&pl, inputs, pos, n, &output)) goto done;
  } else {
    size_t max_size = str_size(&output, &d);
    uint64_t all = 0;
    for (int i = 0; i < n; i++) {
      size_t sz = str_size(&inputs[i], &d);
      if (sz > max_size) max_size = sz;
      all |= inputs[i].set;
    }
    size_t naive_cost = flop_count(all, (all & ~output.set) != 0, n, &d);
    if (greedy_path(&pl, inputs, n, &output, &d, naive_cost, max_size)) goto done;
    pl.steps[pl.n_steps - 1].out = output;
  }

  for (int i = 0; i < n; i++) {
    array_retain(operands[i]);
    ops[n_ops++] = operands[i];
  }
  for (int k = 0; k < pl.n_steps; k++) {
    path_step* st = &pl.steps[k];
    if (preprocess(st, ops, s)) goto done;
    bool dot = st->n_in == 2 && (st->in[0].set & ~st->out.set) != 0;
    array* r = dot ? contract_pair(st, ops[st->positions[0]], ops[st->positions[1]], s)
                   : naive_step(st, ops, s);
    if (!r) goto done;
    ops[n_ops++] = r;
    for (int q = st->n_in - 1; q >= 0; q--) { /* positions increase: drop from the back */
      int at = st->positions[q];
      array_release(ops[at]);
      memmove(ops + at, ops + at + 1, sizeof(array*) * (size_t)(n_ops - at - 1));
      n_ops--;
    }
  }
  result = ops[0];
  ops[0] = NULL;
done:
  for (int i = 0; i < n_ops; i++) array_release(ops[i]);
  free(ops);
  free(inputs);
  plan_free(&pl);
  parsed_free(&p);
  return result;
}
