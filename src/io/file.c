/* file.c - what the file formats share: user streams (reader/writer
 * callbacks), a write sink that remembers its first failure, temporary
 * files renamed into place, and preparing arrays for export.
 *
 * Saving never writes the target name directly: data goes to
 * "<target>.tmp-<random>" in the same directory (so the rename stays on one
 * file system), is flushed to disk, and only then replaces the target. A
 * failure at any point removes the temporary file and leaves an existing
 * target untouched. Arrays still mapped from the old file keep reading it:
 * the rename gives the name to a new file and leaves the old one alone. A
 * symbolic link at the target is replaced, not followed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "io/io.h"

void io_contents_free(io_contents* c) {
  for (size_t i = 0; i < c->n_arrays; i++) {
    free(c->names[i]);
    array_release(c->arrays[i]);
  }
  for (size_t i = 0; i < c->n_meta; i++) {
    free(c->meta_keys[i]);
    free(c->meta_values[i]);
  }
  free(c->names);
  free(c->arrays);
  free(c->meta_keys);
  free(c->meta_values);
  memset(c, 0, sizeof *c);
}

/* ---- user streams ---- */

const char* io_stream_label(const io_stream* s) {
  const char* label = s->vt.label ? s->vt.label(s->desc) : NULL;
  return label ? label : "stream";
}

static int require(const void* fn, const char* name, const char* kind,
                   const char* op) {
  return fn ? 0 : error_set("[%s] The %s has no %s callback.", op, kind, name);
}

int io_stream_check_reader(const io_stream* s, const char* op) {
  const mlx_io_vtable* v = &s->vt;
  if (require((const void*)v->is_open, "is_open", "reader", op) ||
      require((const void*)v->good, "good", "reader", op) ||
      require((const void*)v->tell, "tell", "reader", op) ||
      require((const void*)v->seek, "seek", "reader", op) ||
      require((const void*)v->read, "read", "reader", op) ||
      require((const void*)v->read_at_offset, "read_at_offset", "reader", op))
    return 1;
  if (!v->good(s->desc) || !v->is_open(s->desc))
    return error_set("[%s] Failed to open %s", op, io_stream_label(s));
  return 0;
}

int io_stream_check_writer(const io_stream* s, const char* op) {
  const mlx_io_vtable* v = &s->vt;
  if (require((const void*)v->is_open, "is_open", "writer", op) ||
      require((const void*)v->good, "good", "writer", op) ||
      require((const void*)v->write, "write", "writer", op))
    return 1;
  if (!v->good(s->desc) || !v->is_open(s->desc))
    return error_set("[%s] Failed to open %s", op, io_stream_label(s));
  return 0;
}

int io_stream_read_at(const io_stream* s, void* data, size_t n, size_t off,
                      const char* op) {
  if (n == 0) return 0;
  s->vt.read_at_offset(s->desc, data, n, off);
  if (!s->vt.good(s->desc))
    return error_set("[%s] Unable to read %zu bytes at offset %zu from %s.", op,
                     n, off, io_stream_label(s));
  return 0;
}

int io_stream_size(const io_stream* s, size_t restore, size_t* size,
                   const char* op) {
  s->vt.seek(s->desc, 0, SEEK_END);
  *size = s->vt.tell(s->desc);
  s->vt.seek(s->desc, (int64_t)restore, SEEK_SET);
  if (!s->vt.good(s->desc))
    return error_set("[%s] Unable to find the size of %s.", op, io_stream_label(s));
  return 0;
}

/* ---- writing ---- */

int io_sink_write(io_sink* s, const void* data, size_t n) {
  if (s->failed) return 1;
  if (s->fd < 0) {
    if (n) s->stream->vt.write(s->stream->desc, data, n);
    if (!s->stream->vt.good(s->stream->desc)) {
      s->failed = 1;
      return error_set("[%s] Unable to write %zu bytes to %s.", s->op, n, s->label);
    }
    return 0;
  }
  const char* p = data;
  while (n) {
    size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
    ssize_t m = write(s->fd, p, chunk);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) {
      s->failed = 1;
      return error_set("[%s] Unable to write %zu bytes to file %s: %s.", s->op,
                       n, s->label, m < 0 ? strerror(errno) : "no progress");
    }
    p += m;
    n -= (size_t)m;
  }
  return 0;
}

char* io_with_suffix(const char* path, const char* suffix, const char* op) {
  size_t n = strlen(path), k = strlen(suffix);
  bool has = n >= k && strcmp(path + n - k, suffix) == 0;
  char* out = malloc(n + (has ? 0 : k) + 1);
  if (!out) {
    error_set("[%s] Out of memory.", op);
    return NULL;
  }
  memcpy(out, path, n);
  if (!has) memcpy(out + n, suffix, k);
  out[n + (has ? 0 : k)] = 0;
  return out;
}

/* A name nobody else is likely to pick: pid, time and a counter mixed. */
static uint64_t temp_token(void) {
  static _Atomic uint64_t counter;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
               ((uint64_t)ts.tv_sec << 20) ^ (++counter * 0x9E3779B97F4A7C15ull);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

int io_temp_open(const char* path, const char* op, char** tmp_path) {
  size_t n = strlen(path) + 32;
  char* tmp = malloc(n);
  if (!tmp) {
    error_set("[%s] Out of memory.", op);
    return -1;
  }
  /* a file that is replaced keeps its permissions */
  struct stat st;
  bool replacing = stat(path, &st) == 0 && S_ISREG(st.st_mode);
  for (int attempt = 0; attempt < 64; attempt++) {
    snprintf(tmp, n, "%s.tmp-%012llx", path,
             (unsigned long long)(temp_token() & 0xffffffffffffull));
    /* 0666 so that the umask applies as it would to the target */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      if (replacing) fchmod(fd, st.st_mode & 07777);
      *tmp_path = tmp;
      return fd;
    }
    if (errno != EEXIST) break;
  }
  free(tmp);
  error_set("[%s] Failed to open file %s", op, path);
  return -1;
}

int io_temp_commit(int fd, char* tmp_path, const char* path, const char* op,
                   int failed) {
  if (!failed && fsync(fd) != 0 && errno != EINVAL) {
    failed = error_set("[%s] Unable to flush file %s: %s.", op, path, strerror(errno));
  }
  if (close(fd) != 0 && !failed)
    failed = error_set("[%s] Unable to close file %s: %s.", op, path, strerror(errno));
  if (!failed && rename(tmp_path, path) != 0)
    failed = error_set("[%s] Unable to move the saved data to %s: %s.", op,
                       path, strerror(errno));
  if (failed) unlink(tmp_path);
  free(tmp_path);
  return failed ? 1 : 0;
}

/* ---- arrays ---- */

int io_prepare_arrays(array* const* in, size_t n, array** out, const char* op) {
  for (size_t i = 0; i < n; i++) out[i] = NULL;
  if (n > (size_t)INT32_MAX) return error_set("[%s] Too many arrays.", op);
  if (n && graph_eval(in, (int)n)) return 1;
  for (size_t i = 0; i < n; i++) {
    array* a = in[i];
    if (array_eval_for_export(a)) goto fail;
    if (a->flags & ARRAY_ROW_CONTIGUOUS) {
      array_retain(a);
      out[i] = a;
    } else if (!(out[i] = array_copy_contiguous(a, a->dtype))) {
      goto fail;
    }
  }
  return 0;
fail:
  for (size_t i = 0; i < n; i++) {
    array_release(out[i]);
    out[i] = NULL;
  }
  return 1;
}
