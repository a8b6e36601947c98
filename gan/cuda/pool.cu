/* 2x pooling and nearest up-sampling: one thread per sample of the small
 * plane [h, w], its 2x2 window in the large one. */
#include "cuda.h"

namespace {

/* The offset of the window's top-left sample for small-plane index i. */
__device__ inline int64_t window(int64_t i, int64_t h, int64_t w) {
    int64_t j = i % w, r = (i / w) % h, plane = i / (w * h);
    return (plane * 2 * h + 2 * r) * 2 * w + 2 * j;
}

/* The window's maximum by torch's rule, as the CPU: a later sample wins only
 * when strictly larger or NaN (ties to the first maximum, NaN propagates). */
__device__ inline int window_argmax(const float *x, const int64_t at[4]) {
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (x[at[k]] > x[at[best]] || isnan(x[at[k]])) best = k;
    return best;
}

__device__ inline void window_offsets(int64_t i, int64_t h, int64_t w, int64_t at[4]) {
    int64_t base = window(i, h, w);
    at[0] = base, at[1] = base + 1, at[2] = base + 2 * w, at[3] = base + 2 * w + 1;
}

__global__ void max_pool_kernel(float *y, const float *x, int64_t n, int64_t h, int64_t w) {
    CUDA_FOR(i, n) {
        int64_t at[4];
        window_offsets(i, h, w, at);
        y[i] = x[at[window_argmax(x, at)]];
    }
}

__global__ void max_pool_backward_kernel(float *dx, const float *dy, const float *x, int64_t n, int64_t h, int64_t w) {
    CUDA_FOR(i, n) {
        int64_t at[4];
        window_offsets(i, h, w, at);
        int best = window_argmax(x, at);
        for (int k = 0; k < 4; k++) dx[at[k]] = k == best ? dy[i] : 0.0f;
    }
}

__global__ void avg_pool_kernel(float *y, const float *x, int64_t n, int64_t h, int64_t w) {
    CUDA_FOR(i, n) {
        const float *win = x + window(i, h, w);
        y[i] = (win[0] + win[1] + win[2 * w] + win[2 * w + 1]) * 0.25f;
    }
}

/* Writes v to the whole window (avg pool's gradient with v = dy / 4, nearest up-sampling with v = x). */
__global__ void spread_kernel(float *large, const float *small, float factor, int64_t n, int64_t h, int64_t w) {
    CUDA_FOR(i, n) {
        float *win = large + window(i, h, w);
        win[0] = win[1] = win[2 * w] = win[2 * w + 1] = small[i] * factor;
    }
}

__global__ void window_sum_kernel(float *small, const float *large, int64_t n, int64_t h, int64_t w) {
    CUDA_FOR(i, n) {
        const float *win = large + window(i, h, w);
        small[i] = win[0] + win[1] + win[2 * w] + win[2 * w + 1];
    }
}

}  // namespace

int cuda_max_pool2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    max_pool_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, y->numel,
                                                                                 y->shape[2], y->shape[3]);
    return cuda_launched(ctx, "max_pool2d");
}

int cuda_max_pool2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x) {
    max_pool_backward_kernel<<<cuda_blocks(dy->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        dx->data, dy->data, x->data, dy->numel, dy->shape[2], dy->shape[3]);
    return cuda_launched(ctx, "max_pool2d_backward");
}

int cuda_avg_pool2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    avg_pool_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, y->numel,
                                                                                 y->shape[2], y->shape[3]);
    return cuda_launched(ctx, "avg_pool2d");
}

int cuda_avg_pool2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy) {
    spread_kernel<<<cuda_blocks(dy->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(dx->data, dy->data, 0.25f, dy->numel,
                                                                                dy->shape[2], dy->shape[3]);
    return cuda_launched(ctx, "avg_pool2d_backward");
}

int cuda_upsample_nearest2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    spread_kernel<<<cuda_blocks(x->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, 1.0f, x->numel,
                                                                                x->shape[2], x->shape[3]);
    return cuda_launched(ctx, "upsample_nearest2d");
}

int cuda_upsample_nearest2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy) {
    window_sum_kernel<<<cuda_blocks(dx->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(dx->data, dy->data, dx->numel,
                                                                                    dx->shape[2], dx->shape[3]);
    return cuda_launched(ctx, "upsample_nearest2d_backward");
}
