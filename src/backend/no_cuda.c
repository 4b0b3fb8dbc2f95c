/* no_cuda.c - the GPU backend of a build without CUDA: no devices. */
#include "backend/gpu.h"

int gpu_device_count(void) {
  return 0;
}

const char* gpu_device_count_reason(void) {
  return "this build of cmlx has no CUDA backend";
}
