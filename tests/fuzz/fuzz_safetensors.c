/* fuzz_safetensors.c - libFuzzer target for the safetensors loader.
 *
 * Each input is loaded as a safetensors file through a reader (the header
 * parser reads a malloc'd copy of exactly the header, so AddressSanitizer
 * sees any overrun, and the reader aborts on reads past the input). What
 * loads is saved again and reloaded, and must come back identical. */
#include "core/array.h"
#include "core/error.h"
#include "fuzz_memory.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_buf in = {data, size, 0, true, NULL, 0, 0};
  io_stream s = {&in, fuzz_vtable};
  io_contents c;
  if (safetensors_load_stream(&s, &c)) {
    error_clear();
    return 0;
  }
  io_save_list list = {c.n_arrays, (const char* const*)c.names, c.arrays,
                       c.n_meta, (const char* const*)c.meta_keys,
                       (const char* const*)c.meta_values};
  fuzz_buf out = {NULL, 0, 0, true, NULL, 0, 0};
  io_stream w = {&out, fuzz_vtable};
  /* names that are not valid as keys we write (none should be) fail here */
  if (safetensors_save_stream(&w, &list)) {
    fprintf(stderr, "could not save what loaded: %s\n", error_message());
    abort();
  }
  fuzz_buf again = {out.out, out.out_len, 0, true, NULL, 0, 0};
  io_stream r = {&again, fuzz_vtable};
  io_contents d;
  if (safetensors_load_stream(&r, &d) || d.n_arrays != c.n_arrays || d.n_meta != c.n_meta) {
    fprintf(stderr, "could not reload what we saved: %s\n", error_message());
    abort();
  }
  for (size_t i = 0; i < c.n_arrays; i++) {
    size_t j = 0;
    while (j < d.n_arrays && strcmp(c.names[i], d.names[j]) != 0) j++;
    if (j == d.n_arrays || c.arrays[i]->dtype != d.arrays[j]->dtype ||
        c.arrays[i]->ndim != d.arrays[j]->ndim ||
        array_nbytes(c.arrays[i]) != array_nbytes(d.arrays[j]) ||
        (array_nbytes(c.arrays[i]) &&
         memcmp(array_data(c.arrays[i]), array_data(d.arrays[j]), array_nbytes(c.arrays[i]))))
      abort();
  }
  io_contents_free(&d);
  io_contents_free(&c);
  free(out.out);
  return 0;
}
