/* stream.c - the default device and streams.
 *
 * The CPU runs work synchronously on its streams, so a stream is just a
 * label that says where the arrays it makes are computed. GPU availability
 * comes from the backend (backend/no_cuda.c in builds without CUDA). */
#include <pthread.h>

#include "backend/gpu.h"
#include "core/error.h"
#include "core/stream.h"

static pthread_mutex_t stream_lock = PTHREAD_MUTEX_INITIALIZER;
static device default_device = {MLX_CPU, 0};
static int default_cpu_stream = 0;
static int default_gpu_stream = 1;
static int next_stream_index = 2;

int device_gpu_count(void) {
  return gpu_device_count();
}

bool device_available(device d) {
  if (d.type == MLX_CPU) return d.index == 0;
  return d.index >= 0 && d.index < device_gpu_count();
}

device device_default(void) {
  pthread_mutex_lock(&stream_lock);
  device d = default_device;
  pthread_mutex_unlock(&stream_lock);
  return d;
}

int device_set_default(device d) {
  if (!device_available(d))
    return error_set("[set_default_device] Device %s %d is not available.",
                     d.type == MLX_GPU ? "gpu" : "cpu", d.index);
  pthread_mutex_lock(&stream_lock);
  default_device = d;
  pthread_mutex_unlock(&stream_lock);
  return 0;
}

stream stream_default(device d) {
  pthread_mutex_lock(&stream_lock);
  stream s = {d, d.type == MLX_GPU ? default_gpu_stream : default_cpu_stream};
  pthread_mutex_unlock(&stream_lock);
  return s;
}

int stream_set_default(stream s) {
  if (!device_available(s.dev))
    return error_set("[set_default_stream] The stream's device is not available.");
  pthread_mutex_lock(&stream_lock);
  if (s.dev.type == MLX_GPU)
    default_gpu_stream = s.index;
  else
    default_cpu_stream = s.index;
  pthread_mutex_unlock(&stream_lock);
  return 0;
}

stream stream_new_on(device d) {
  pthread_mutex_lock(&stream_lock);
  stream s = {d, next_stream_index++};
  pthread_mutex_unlock(&stream_lock);
  return s;
}

int stream_check(stream s) {
  if (s.dev.type == MLX_GPU && !device_available(s.dev))
    return error_set(
        "[stream] The GPU is not available: %s.",
        gpu_device_count_reason());
  return 0;
}
