/* Dense layers on the GPU: cuBLAS GEMMs, the bias, and the pixel norm of the
 * mapping network's input. */
#include "cuda.h"

namespace {

__global__ void add_bias_kernel(float *y, const float *bias, float bias_gain, int64_t out, int64_t n) {
    CUDA_FOR(i, n) y[i] += bias[i % out] * bias_gain;
}

/* One block per row of x [N, C]: y = x * rsqrt(mean(x^2) + 1e-8). */
__global__ void normalize_2nd_moment_kernel(float *y, const float *x, int64_t c) {
    const float *row = x + blockIdx.x * c;
    double sq = 0;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) sq += (double)row[j] * row[j];
    sq = cuda_block_sum(sq);
    float scale = 1.0f / sqrtf((float)(sq / (double)c) + 1e-8f);
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) y[blockIdx.x * c + j] = row[j] * scale;
}

/* dx = r dy - x r^3 mean(dy x), r = rsqrt(mean(x^2) + 1e-8), per row. */
__global__ void normalize_2nd_moment_backward_kernel(float *dx, const float *dy, const float *x, int64_t c) {
    const float *row = x + blockIdx.x * c, *g = dy + blockIdx.x * c;
    double sq = 0, dot = 0;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
        sq += (double)row[j] * row[j];
        dot += (double)g[j] * row[j];
    }
    sq = cuda_block_sum(sq);
    dot = cuda_block_sum(dot);
    double r = 1.0 / sqrt((double)(float)(sq / (double)c) + 1e-8);
    double k = r * r * r * dot / (double)c;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) dx[blockIdx.x * c + j] = (float)(r * g[j] - k * row[j]);
}

}  // namespace

int cuda_linear(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *bias,
                float weight_gain, float bias_gain) {
    int n = (int)x->shape[0], in = (int)x->shape[1], out = (int)weight->shape[0];
    if (cuda_gemm(ctx, false, true, n, out, in, weight_gain, x->data, in, weight->data, in, 0.0f, y->data, out) != 0)
        return -1;
    if (!bias) return 0;
    add_bias_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, bias->data, bias_gain, out,
                                                                                   y->numel);
    return cuda_launched(ctx, "linear bias");
}

int cuda_linear_backward_input(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *weight,
                               float weight_gain) {
    int n = (int)dy->shape[0], out = (int)weight->shape[0], in = (int)weight->shape[1];
    return cuda_gemm(ctx, false, false, n, in, out, weight_gain, dy->data, out, weight->data, in, 0.0f, dx->data, in);
}

int cuda_linear_backward_weight(gan_ctx *ctx, gan_tensor *dweight, const gan_tensor *dy, const gan_tensor *x,
                                float weight_gain) {
    int n = (int)dy->shape[0], out = (int)dy->shape[1], in = (int)x->shape[1];
    return cuda_gemm(ctx, true, false, out, in, n, weight_gain, dy->data, out, x->data, in, 0.0f, dweight->data, in);
}

int cuda_normalize_2nd_moment(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    if (x->numel == 0) return 0; /* no rows: a grid of 0 blocks is an invalid launch */
    normalize_2nd_moment_kernel<<<(unsigned)x->shape[0], CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data,
                                                                                                x->shape[1]);
    return cuda_launched(ctx, "normalize_2nd_moment");
}

int cuda_normalize_2nd_moment_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x) {
    if (x->numel == 0) return 0;
    normalize_2nd_moment_backward_kernel<<<(unsigned)x->shape[0], CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        dx->data, dy->data, x->data, x->shape[1]);
    return cuda_launched(ctx, "normalize_2nd_moment_backward");
}
