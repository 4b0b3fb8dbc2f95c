/* graph.c - evaluation: order the pending nodes, run them, detach them.
 *
 * The traversal is iterative (graphs can be chains of millions of nodes).
 * Nodes run in dependency order; after a node runs, its outputs become
 * plain evaluated arrays and the node lets go of its inputs, so
 * intermediate buffers are freed (or donated) as early as possible. A failing
 * kernel stops the evaluation: nodes already run stay evaluated, the failing
 * node and everything after it stay pending, and a later eval fails again
 * the same way. */
#include <pthread.h>
#include <stdlib.h>

#include "core/array.h"
#include "core/error.h"

static pthread_mutex_t eval_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t eval_epoch;

typedef struct node_vec {
  node** items;
  size_t len, cap;
} node_vec;

static int vec_push(node_vec* v, node* n) {
  if (v->len == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 256;
    node** items = realloc(v->items, cap * sizeof *items);
    if (!items) return error_set("[eval] Out of memory.");
    v->items = items;
    v->cap = cap;
  }
  v->items[v->len++] = n;
  return 0;
}

/* Post-order DFS with an explicit stack. A node is pushed with its mark set
 * to `epoch` (visited); when all its pending inputs are done it moves to the
 * order list. stack_pos keeps, per stack entry, the next input to look at. */
static int topo_sort(array* const* roots, int n_roots, uint64_t epoch,
                     node_vec* order) {
  node_vec stack = {0};
  size_t* pos = NULL;
  size_t pos_cap = 0;
  int rc = 0;
  for (int r = 0; r < n_roots && !rc; r++) {
    node* root = roots[r] ? roots[r]->node : NULL;
    if (!root || root->mark == epoch) continue;
    root->mark = epoch;
    if ((rc = vec_push(&stack, root))) break;
    while (stack.len && !rc) {
      if (pos_cap < stack.cap) {
        size_t* p = realloc(pos, stack.cap * sizeof *p);
        if (!p) {
          rc = error_set("[eval] Out of memory.");
          break;
        }
        for (size_t i = pos_cap; i < stack.cap; i++) p[i] = 0;
        pos = p;
        pos_cap = stack.cap;
      }
      size_t top = stack.len - 1;
      node* n = stack.items[top];
      bool descended = false;
      while (pos[top] < (size_t)n->n_inputs) {
        node* in = n->inputs[pos[top]++]->node;
        if (in && in->mark != epoch) {
          in->mark = epoch;
          rc = vec_push(&stack, in);
          if (!rc && stack.len - 1 < pos_cap) pos[stack.len - 1] = 0;
          descended = true;
          break;
        }
      }
      if (rc || descended) continue;
      pos[top] = 0;
      stack.len--;
      rc = vec_push(order, n);
    }
  }
  free(stack.items);
  free(pos);
  return rc;
}

static int run_node(node* n) {
  if (n->stream.dev.type == MLX_GPU) {
    if (!n->prim->eval_gpu)
      return error_set("[%s] Not implemented on the GPU.", n->prim->name);
    return n->prim->eval_gpu(n);
  }
  if (!n->prim->eval_cpu)
    return error_set("[%s] Not implemented on the CPU.", n->prim->name);
  return n->prim->eval_cpu(n);
}

/* Outputs nobody holds any more still need somewhere to be written: the node
 * keeps them as orphans (array.c), so every output slot is valid here. */
static void detach(node* n) {
  node_free(n);
  release_drain();
}

int graph_eval(array* const* roots, int n) {
  pthread_mutex_lock(&eval_lock);
  uint64_t epoch = ++eval_epoch;
  node_vec order = {0};
  int rc = topo_sort(roots, n, epoch, &order);
  for (size_t i = 0; i < order.len && !rc; i++) {
    node* nd = order.items[i];
    rc = run_node(nd);
    if (rc) {
      /* leave outputs pending and without half-written buffers */
      for (int o = 0; o < nd->n_outputs; o++) {
        array* out = nd->outputs[o];
        if (out && out->buf) {
          buffer_release(out->buf);
          out->buf = NULL;
        }
      }
      break;
    }
    detach(nd);
  }
  free(order.items);
  pthread_mutex_unlock(&eval_lock);
  return rc;
}

int array_eval_for_export(array* a) {
  if (array_eval(a)) return 1;
  bool negative = false;
  for (int i = 0; i < a->ndim; i++)
    if (a->strides[i] < 0) negative = true;
  if (!negative) return 0;
  /* hand out a layout mlx-c's size_t strides can describe */
  array* c = array_copy_contiguous(a, a->dtype);
  if (!c) return 1;
  array_set_view(a, c, c->strides, 0, c->size);
  array_release(c);
  return 0;
}
