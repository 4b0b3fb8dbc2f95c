/* gpu.h - what the core asks of the GPU backend. Builds without CUDA link
 * backend/no_cuda.c, which answers "no GPU" with a reason. */
#ifndef CMLX_BACKEND_GPU_H
#define CMLX_BACKEND_GPU_H

int gpu_device_count(void);
/* Why there is no usable GPU ("" when there is one). */
const char* gpu_device_count_reason(void);

#endif
