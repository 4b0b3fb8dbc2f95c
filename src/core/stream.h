/* stream.h - devices and streams as the core sees them: small values.
 *
 * The public mlx_device / mlx_stream handles point at heap copies of these
 * (see api/stream.c). Arrays remember the stream that computes them. */
#ifndef CMLX_CORE_STREAM_H
#define CMLX_CORE_STREAM_H

#include <stdbool.h>

#include "mlx/c/device.h"

typedef struct device {
  mlx_device_type type;
  int index;
} device;

typedef struct stream {
  device dev;
  int index;
} stream;

/* Number of GPUs this build can use (0 without CUDA or without a card). */
int device_gpu_count(void);
bool device_available(device d);

/* The process-wide default device and its default stream. */
device device_default(void);
int device_set_default(device d);
stream stream_default(device d);
int stream_set_default(stream s);
/* A new stream index on d. */
stream stream_new_on(device d);

/* Checks that ops may run on s; sets "[op] ..." style error if not. */
int stream_check(stream s);

#endif
