/* Softmax along the last dimension and tanh, with their gradients. */
#include "cuda.h"

namespace {

/* The largest value of the block's threads, returned to every thread. */
__device__ float block_max(float v) {
    __shared__ float partial[32];
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float m = partial[0];
    for (unsigned w = 1; w < blockDim.x / 32; w++) m = fmaxf(m, partial[w]);
    return m;
}

/* One block per row, as the CPU: max subtracted, the sum in double. */
__global__ void softmax_kernel(float *y, const float *x, int64_t w) {
    const float *in = x + blockIdx.x * w;
    float *out = y + blockIdx.x * w;
    float top = -INFINITY;
    for (int64_t j = threadIdx.x; j < w; j += blockDim.x) top = fmaxf(top, in[j]);
    top = block_max(top);
    double sum = 0;
    for (int64_t j = threadIdx.x; j < w; j += blockDim.x) sum += out[j] = expf(in[j] - top);
    sum = cuda_block_sum(sum);
    float inv = (float)(1.0 / sum);
    for (int64_t j = threadIdx.x; j < w; j += blockDim.x) out[j] *= inv;
}

__global__ void softmax_backward_kernel(float *dx, const float *dy, const float *y, int64_t w) {
    const float *g = dy + blockIdx.x * w, *p = y + blockIdx.x * w;
    double dot = 0;
    for (int64_t j = threadIdx.x; j < w; j += blockDim.x) dot += (double)g[j] * p[j];
    dot = cuda_block_sum(dot);
    for (int64_t j = threadIdx.x; j < w; j += blockDim.x) dx[blockIdx.x * w + j] = p[j] * (g[j] - (float)dot);
}

__global__ void tanh_kernel(float *y, const float *x, int64_t n) {
    CUDA_FOR(i, n) y[i] = tanhf(x[i]);
}

__global__ void tanh_backward_kernel(float *dx, const float *dy, const float *y, int64_t n) {
    CUDA_FOR(i, n) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

}  // namespace

int cuda_softmax(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    int64_t w = x->shape[x->ndim - 1];
    if (x->numel == 0) return 0; /* a grid of no blocks is a launch error */
    softmax_kernel<<<(unsigned)(x->numel / w), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, w);
    return cuda_launched(ctx, "softmax");
}

int cuda_softmax_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y) {
    int64_t w = y->shape[y->ndim - 1];
    if (y->numel == 0) return 0;
    softmax_backward_kernel<<<(unsigned)(y->numel / w), CUDA_THREADS, 0, cuda_stream(ctx)>>>(dx->data, dy->data,
                                                                                            y->data, w);
    return cuda_launched(ctx, "softmax_backward");
}

int cuda_tanh(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    tanh_kernel<<<cuda_blocks(x->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, x->numel);
    return cuda_launched(ctx, "tanh");
}

int cuda_tanh_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y) {
    tanh_backward_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(dx->data, dy->data, y->data,
                                                                                      y->numel);
    return cuda_launched(ctx, "tanh_backward");
}
