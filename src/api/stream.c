/* stream.c - mlx_device and mlx_stream handles. Each handle owns a small
 * heap copy of the core value (core/stream.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "backend/gpu.h"
#include "mlx/c/stream.h"

static void* dup_bytes(const void* p, size_t n) {
  void* q = malloc(n);
  if (q) memcpy(q, p, n);
  return q;
}

static mlx_device device_handle(device d) {
  mlx_device h = {dup_bytes(&d, sizeof d)};
  if (!h.ctx) {
    error_set("[device] Out of memory.");
    api_fail();
  }
  return h;
}

static mlx_stream stream_handle(stream s) {
  mlx_stream h = {dup_bytes(&s, sizeof s)};
  if (!h.ctx) {
    error_set("[stream] Out of memory.");
    api_fail();
  }
  return h;
}

static const device* dev_of(mlx_device d, const char* op) {
  if (!d.ctx) error_set("[%s] The device handle is empty.", op);
  return d.ctx;
}

static const stream* stream_of(mlx_stream s, const char* op) {
  if (!s.ctx) error_set("[%s] The stream handle is empty.", op);
  return s.ctx;
}

/* ---- devices ---- */

mlx_device mlx_device_new(void) {
  return device_handle(device_default());
}

mlx_device mlx_device_new_type(mlx_device_type type, int index) {
  if (type != MLX_CPU && type != MLX_GPU) {
    error_set("[device] Invalid device type %d.", (int)type);
    api_fail();
    return (mlx_device){NULL};
  }
  return device_handle((device){type, index});
}

int mlx_device_free(mlx_device dev) {
  free(dev.ctx);
  return 0;
}

int mlx_device_set(mlx_device* dev, const mlx_device src) {
  const device* s = dev_of(src, "device_set");
  if (!s || !dev) return api_fail();
  device* d = dev->ctx ? dev->ctx : malloc(sizeof *d);
  if (!d) {
    error_set("[device_set] Out of memory.");
    return api_fail();
  }
  *d = *s;
  dev->ctx = d;
  return 0;
}

static int string_out(mlx_string* str, const char* text) {
  if (!str) {
    error_set("[tostring] The result pointer is NULL.");
    return api_fail();
  }
  mlx_string_free(*str);
  *str = mlx_string_new_data(text);
  return 0;
}

static void device_text(char* buf, size_t n, device d) {
  snprintf(buf, n, "Device(%s, %d)", d.type == MLX_GPU ? "gpu" : "cpu", d.index);
}

int mlx_device_tostring(mlx_string* str, mlx_device dev) {
  const device* d = dev_of(dev, "device_tostring");
  if (!d) return api_fail();
  char buf[64];
  device_text(buf, sizeof buf, *d);
  return string_out(str, buf);
}

bool mlx_device_equal(mlx_device lhs, mlx_device rhs) {
  const device *a = lhs.ctx, *b = rhs.ctx;
  if (!a || !b) return a == b;
  return a->type == b->type && a->index == b->index;
}

int mlx_device_get_index(int* index, mlx_device dev) {
  const device* d = dev_of(dev, "device_get_index");
  if (!d || !index) return api_fail();
  *index = d->index;
  return 0;
}

int mlx_device_get_type(mlx_device_type* type, mlx_device dev) {
  const device* d = dev_of(dev, "device_get_type");
  if (!d || !type) return api_fail();
  *type = d->type;
  return 0;
}

int mlx_get_default_device(mlx_device* dev) {
  if (!dev) {
    error_set("[get_default_device] The result pointer is NULL.");
    return api_fail();
  }
  mlx_device h = mlx_device_new();
  if (!h.ctx) return 1;
  mlx_device_free(*dev);
  *dev = h;
  return 0;
}

int mlx_set_default_device(mlx_device dev) {
  const device* d = dev_of(dev, "set_default_device");
  if (!d || device_set_default(*d)) return api_fail();
  return 0;
}

int mlx_device_is_available(bool* avail, mlx_device dev) {
  const device* d = dev_of(dev, "device_is_available");
  if (!d || !avail) return api_fail();
  *avail = device_available(*d);
  return 0;
}

int mlx_device_count(int* count, mlx_device_type type) {
  if (!count) {
    error_set("[device_count] The result pointer is NULL.");
    return api_fail();
  }
  *count = type == MLX_CPU ? 1 : device_gpu_count();
  return 0;
}

/* ---- streams ---- */

mlx_stream mlx_stream_new(void) {
  return (mlx_stream){NULL};
}

mlx_stream mlx_stream_new_device(mlx_device dev) {
  const device* d = dev_of(dev, "stream_new_device");
  if (!d || !device_available(*d)) {
    if (d) error_set("[stream] Cannot make a stream on %s %d: the device is not available (%s).",
                     d->type == MLX_GPU ? "gpu" : "cpu", d->index,
                     d->type == MLX_GPU ? gpu_device_count_reason() : "no such CPU");
    api_fail();
    return (mlx_stream){NULL};
  }
  return stream_handle(stream_new_on(*d));
}

int mlx_stream_set(mlx_stream* st, const mlx_stream src) {
  const stream* s = stream_of(src, "stream_set");
  if (!s || !st) return api_fail();
  stream* d = st->ctx ? st->ctx : malloc(sizeof *d);
  if (!d) {
    error_set("[stream_set] Out of memory.");
    return api_fail();
  }
  *d = *s;
  st->ctx = d;
  return 0;
}

int mlx_stream_free(mlx_stream st) {
  free(st.ctx);
  return 0;
}

int mlx_stream_tostring(mlx_string* str, mlx_stream st) {
  const stream* s = stream_of(st, "stream_tostring");
  if (!s) return api_fail();
  char dev[64], buf[128];
  device_text(dev, sizeof dev, s->dev);
  snprintf(buf, sizeof buf, "Stream(%s, %d)", dev, s->index);
  return string_out(str, buf);
}

bool mlx_stream_equal(mlx_stream lhs, mlx_stream rhs) {
  const stream *a = lhs.ctx, *b = rhs.ctx;
  if (!a || !b) return a == b;
  return a->index == b->index && a->dev.type == b->dev.type &&
         a->dev.index == b->dev.index;
}

int mlx_stream_get_device(mlx_device* dev, mlx_stream st) {
  const stream* s = stream_of(st, "stream_get_device");
  if (!s || !dev) return api_fail();
  mlx_device h = device_handle(s->dev);
  if (!h.ctx) return 1;
  mlx_device_free(*dev);
  *dev = h;
  return 0;
}

int mlx_stream_get_index(int* index, mlx_stream st) {
  const stream* s = stream_of(st, "stream_get_index");
  if (!s || !index) return api_fail();
  *index = s->index;
  return 0;
}

int mlx_synchronize(mlx_stream st) {
  return stream_of(st, "synchronize") ? 0 : api_fail();
}

int mlx_get_default_stream(mlx_stream* st, mlx_device dev) {
  const device* d = dev_of(dev, "get_default_stream");
  if (!d || !st) return api_fail();
  if (!device_available(*d)) {
    error_set("[get_default_stream] Cannot get a stream for %s %d: the device is not available.",
              d->type == MLX_GPU ? "gpu" : "cpu", d->index);
    return api_fail();
  }
  mlx_stream h = stream_handle(stream_default(*d));
  if (!h.ctx) return 1;
  mlx_stream_free(*st);
  *st = h;
  return 0;
}

int mlx_set_default_stream(mlx_stream st) {
  const stream* s = stream_of(st, "set_default_stream");
  if (!s || stream_set_default(*s)) return api_fail();
  return 0;
}

mlx_stream mlx_default_cpu_stream_new(void) {
  return stream_handle(stream_default((device){MLX_CPU, 0}));
}

mlx_stream mlx_default_gpu_stream_new(void) {
  device g = {MLX_GPU, 0};
  if (!device_available(g)) {
    error_set("[default_gpu_stream] The GPU is not available: %s.", gpu_device_count_reason());
    api_fail();
    return (mlx_stream){NULL};
  }
  return stream_handle(stream_default(g));
}
