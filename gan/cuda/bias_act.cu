/* Bias, noise and activation on the GPU, their gradients, and the channel
 * sums behind the bias and noise-strength gradients. Per-element formulas
 * from gan/kernel_math.h, shared with the CPU. */
#include <cmath>

#include "../kernel_math.h"
#include "cuda.h"

namespace {

/* What every bias_act kernel needs to find an element's bias and noise:
 * x [N, C, plane...], noise [plane] or [N, 1, plane]. */
struct bias_noise {
    const float *bias;     /* [C] or NULL */
    const float *noise;    /* or NULL */
    const float *strength; /* one element on the device, with noise */
    int per_sample_noise;
    int64_t channels, plane;
};

__device__ float biased_input(const bias_noise &bn, const float *x, int64_t i) {
    int64_t p = i / bn.plane, sample = p / bn.channels;
    float v = x[i];
    if (bn.noise) v = v + bn.noise[(bn.per_sample_noise ? sample * bn.plane : 0) + i % bn.plane] * bn.strength[0];
    return v + (bn.bias ? bn.bias[p % bn.channels] : 0.0f);
}

struct act_params {
    float slope, gain, bound;
};

__global__ void bias_act_kernel(float *y, const float *x, bias_noise bn, act_params a, int64_t n) {
    CUDA_FOR(i, n) y[i] = gan_act_forward(biased_input(bn, x, i), a.slope, a.gain, a.bound);
}

__global__ void bias_act_frozen_kernel(float *y, const float *x, bias_noise bn, act_params a, const float *mask,
                                       int64_t n) {
    CUDA_FOR(i, n) y[i] = gan_act_frozen(biased_input(bn, x, i), mask[i], a.slope, a.gain, a.bound);
}

__global__ void bias_act_backward_kernel(float *dz, const float *dy, const float *y, act_params a, int64_t n) {
    CUDA_FOR(i, n) dz[i] = gan_act_backward(dy[i], y[i], a.slope, a.gain, a.bound);
}

/* One block per channel: y[c] = scale * sum over samples and pixels. */
__global__ void sum_channels_kernel(float *y, const float *x, int64_t samples, int64_t channels, int64_t plane,
                                    float scale) {
    int64_t c = blockIdx.x;
    double sum = 0;
    for (int64_t i = 0; i < samples; i++) {
        const float *p = x + (i * channels + c) * plane;
        for (int64_t j = threadIdx.x; j < plane; j += blockDim.x) sum += p[j];
    }
    sum = cuda_block_sum(sum);
    if (threadIdx.x == 0) y[c] = (float)(sum * scale);
}

/* One block per (sample, channel) plane: its dot product with the noise,
 * added to a double total. */
__global__ void noise_dot_kernel(double *total, const float *dz, const float *noise, int per_sample, int64_t channels,
                                 int64_t plane) {
    int64_t p = blockIdx.x;
    const float *g = dz + p * plane, *z = noise + (per_sample ? p / channels * plane : 0);
    double s = 0;
    for (int64_t j = threadIdx.x; j < plane; j += blockDim.x) s += (double)g[j] * z[j];
    s = cuda_block_sum(s);
    if (threadIdx.x == 0) atomicAdd(total, s);
}

__global__ void double_to_float_kernel(float *out, const double *in) { out[0] = (float)in[0]; }

act_params act_params_of(const gan_bias_act_args *args) {
    return {gan_act_slope(args->act == GAN_ACT_LRELU, args->act == GAN_ACT_RELU, args->alpha), args->gain,
            args->clamp >= 0 ? args->clamp : INFINITY};
}

bias_noise bias_noise_of(const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                         const gan_tensor *noise_strength) {
    int64_t n = x->shape[0], c = x->shape[1];
    return {bias ? bias->data : nullptr, noise ? noise->data : nullptr, noise ? noise_strength->data : nullptr,
            noise && noise->ndim == 4, c, x->numel / (n * c)};
}

unsigned grid_of(int64_t count) { return static_cast<unsigned>(count); }

}  // namespace

int cuda_bias_act(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                  const gan_tensor *noise_strength, const gan_bias_act_args *args) {
    if (x->numel == 0) return 0;
    bias_act_kernel<<<cuda_blocks(x->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        y->data, x->data, bias_noise_of(x, bias, noise, noise_strength), act_params_of(args), x->numel);
    return cuda_launched(ctx, "bias_act");
}

int cuda_bias_act_frozen(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias,
                         const gan_tensor *noise, const gan_tensor *noise_strength, const gan_bias_act_args *args,
                         const gan_tensor *mask_y) {
    if (x->numel == 0) return 0;
    bias_act_frozen_kernel<<<cuda_blocks(x->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        y->data, x->data, bias_noise_of(x, bias, noise, noise_strength), act_params_of(args), mask_y->data, x->numel);
    return cuda_launched(ctx, "bias_act_frozen");
}

int cuda_bias_act_backward(gan_ctx *ctx, gan_tensor *dz, const gan_tensor *dy, const gan_tensor *y,
                           const gan_bias_act_args *args) {
    bias_act_backward_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        dz->data, dy->data, y->data, act_params_of(args), y->numel);
    return cuda_launched(ctx, "bias_act_backward");
}

int cuda_sum_channels(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float scale) {
    int64_t n = x->shape[0], c = x->shape[1];
    if (c == 0) return 0;
    if (x->numel == 0) return cuda_fill(ctx, y->data, c, 0.0f);
    sum_channels_kernel<<<grid_of(c), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, n, c,
                                                                            x->numel / (n * c), scale);
    return cuda_launched(ctx, "sum_channels");
}

int cuda_noise_strength_grad(gan_ctx *ctx, gan_tensor *y, const gan_tensor *dz, const gan_tensor *noise) {
    int64_t n = dz->shape[0], c = dz->shape[1], plane = dz->shape[2] * dz->shape[3];
    if (n * c == 0) return cuda_fill(ctx, y->data, 1, 0.0f);
    cuda_scratch total(ctx, 2); /* one double */
    if (!total.ptr) return gan_ctx_fail(ctx, "noise_strength_grad: out of GPU memory"), -1;
    auto *sum = reinterpret_cast<double *>(total.ptr);
    cudaStream_t s = cuda_stream(ctx);
    if (cuda_check(ctx, cudaMemsetAsync(sum, 0, sizeof *sum, s), "memset") != 0) return -1;
    noise_dot_kernel<<<grid_of(n * c), CUDA_THREADS, 0, s>>>(sum, dz->data, noise->data, noise->ndim == 4, c, plane);
    double_to_float_kernel<<<1, 1, 0, s>>>(y->data, sum);
    return cuda_launched(ctx, "noise_strength_grad");
}
