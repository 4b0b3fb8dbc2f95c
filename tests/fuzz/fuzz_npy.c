/* fuzz_npy.c - libFuzzer target for the .npy loader: each input is loaded
 * through a reader that aborts on reads past the input; what loads must
 * be readable to its last byte. */
#include "core/array.h"
#include "core/error.h"
#include "fuzz_memory.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_buf in = {data, size, 0, true, NULL, 0, 0};
  io_stream s = {&in, fuzz_vtable};
  array* a = npy_load_stream(&s);
  if (!a) {
    error_clear();
    return 0;
  }
  if (array_eval(a)) abort();
  /* touch every element through the strides (Fortran order is a view) */
  volatile unsigned char sink = 0;
  const unsigned char* base = a->buf->ptr;
  size_t esize = dtype_size(a->dtype);
  for (size_t i = 0; i < a->size; i++) {
    size_t rem = i;
    int64_t off = a->offset;
    for (int d = a->ndim - 1; d >= 0; d--) {
      off += (int64_t)(rem % (size_t)a->shape[d]) * a->strides[d];
      rem /= (size_t)a->shape[d];
    }
    sink ^= base[(size_t)off * esize + esize - 1];
  }
  (void)sink;
  array_release(a);
  return 0;
}
