/* fuzz_memory.h - an io_stream over a fuzzer's input, shared by the fuzz
 * targets. Reads outside the input abort, so a loader that asks for bytes
 * the file does not have is a crash the fuzzer reports; a write-only
 * variant collects what a saver writes. */
#ifndef CMLX_FUZZ_MEMORY_H
#define CMLX_FUZZ_MEMORY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

typedef struct fuzz_buf {
  const unsigned char* data;
  size_t len, pos;
  bool good;
  unsigned char* out; /* written bytes (writers) */
  size_t out_len, out_cap;
} fuzz_buf;

static bool fuzz_is_open(void* d) {
  (void)d;
  return true;
}
static bool fuzz_good(void* d) {
  return ((fuzz_buf*)d)->good;
}
static size_t fuzz_tell(void* d) {
  return ((fuzz_buf*)d)->pos;
}
static void fuzz_seek(void* d, int64_t off, int whence) {
  fuzz_buf* b = d;
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)b->pos : (int64_t)b->len;
  if (base + off < 0 || (size_t)(base + off) > b->len) b->good = false;
  else b->pos = (size_t)(base + off);
}
static void fuzz_read_at(void* d, char* out, size_t n, size_t off) {
  fuzz_buf* b = d;
  if (off > b->len || b->len - off < n) {
    fprintf(stderr, "read of %zu bytes at %zu past the end (%zu)\n", n, off, b->len);
    abort();
  }
  memcpy(out, b->data + off, n);
}
/* Sequential reads may run off the end (a loader cannot know the length
 * before reading it); they fail like a short file would. */
static void fuzz_read(void* d, char* out, size_t n) {
  fuzz_buf* b = d;
  if (b->pos > b->len || b->len - b->pos < n) {
    b->good = false;
    return;
  }
  memcpy(out, b->data + b->pos, n);
  b->pos += n;
}
static void fuzz_write(void* d, const char* in, size_t n) {
  fuzz_buf* b = d;
  if (b->out_len + n > b->out_cap) {
    b->out_cap = (b->out_len + n) * 2;
    b->out = realloc(b->out, b->out_cap);
  }
  memcpy(b->out + b->out_len, in, n);
  b->out_len += n;
}
static const char* fuzz_label(void* d) {
  (void)d;
  return "fuzz input";
}

static const mlx_io_vtable fuzz_vtable = {
    fuzz_is_open, fuzz_good, fuzz_tell, fuzz_seek, fuzz_read,
    fuzz_read_at, fuzz_write, fuzz_label, NULL,
};

#endif
