/* Batch normalisation: one block per channel for the statistics and the
 * gradients (sums in double, as the CPU), one thread per value for the
 * normalisation itself. */
#include "cuda.h"

namespace {

struct bn_shape {
    int64_t n, channels, plane;
};

__device__ inline float affine_at(const float *t, int per_sample, int64_t s, int64_t c, int64_t channels,
                                  float otherwise) {
    if (!t) return otherwise;
    return per_sample ? t[s * channels + c] : t[c];
}

__global__ void stats_kernel(float *mean, float *var, const float *x, bn_shape sh) {
    int64_t c = blockIdx.x, count = sh.n * sh.plane;
    double sum = 0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x)
        sum += x[((i / sh.plane) * sh.channels + c) * sh.plane + i % sh.plane];
    double m = cuda_block_sum(sum) / (double)count, sq = 0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
        double d = x[((i / sh.plane) * sh.channels + c) * sh.plane + i % sh.plane] - m;
        sq += d * d;
    }
    sq = cuda_block_sum(sq);
    if (threadIdx.x == 0) mean[c] = (float)m, var[c] = (float)(sq / (double)count);
}

__global__ void normalize_kernel(float *y, const float *x, const float *mean, const float *var, const float *gain,
                                 int gain_per_sample, const float *bias, int bias_per_sample, float eps, float offset,
                                 bn_shape sh, int64_t total) {
    CUDA_FOR(i, total) {
        int64_t p = i / sh.plane, s = p / sh.channels, c = p % sh.channels;
        float rstd = 1.0f / sqrtf(var[c] + eps);
        float scale = offset + affine_at(gain, gain_per_sample, s, c, sh.channels, 0.0f);
        float shift = affine_at(bias, bias_per_sample, s, c, sh.channels, 0.0f);
        y[i] = (x[i] - mean[c]) * rstd * scale + shift;
    }
}

/* Per channel: the affine map's gradients (per sample or summed), then the
 * input's through the batch statistics. */
__global__ void backward_kernel(float *dx, float *dgain, float *dbias, int affine_per_sample, const float *dy,
                                const float *x, const float *mean, const float *var, const float *gain,
                                int gain_per_sample, float eps, float offset, bn_shape sh) {
    int64_t c = blockIdx.x;
    float m = mean[c], rstd = 1.0f / sqrtf(var[c] + eps);
    double total_gain = 0, total_bias = 0, sum_g = 0, sum_gx = 0;
    for (int64_t s = 0; s < sh.n; s++) {
        const float *in = x + (s * sh.channels + c) * sh.plane, *g = dy + (s * sh.channels + c) * sh.plane;
        float scale = offset + affine_at(gain, gain_per_sample, s, c, sh.channels, 0.0f);
        double sg = 0, sb = 0, gg = 0, gx = 0;
        for (int64_t i = threadIdx.x; i < sh.plane; i += blockDim.x) {
            float xhat = (in[i] - m) * rstd;
            sg += (double)g[i] * xhat;
            sb += g[i];
            gg += (double)g[i] * scale;
            gx += (double)g[i] * scale * xhat;
        }
        sg = cuda_block_sum(sg), sb = cuda_block_sum(sb), gg = cuda_block_sum(gg), gx = cuda_block_sum(gx);
        if (affine_per_sample && threadIdx.x == 0) {
            if (dgain) dgain[s * sh.channels + c] = (float)sg;
            if (dbias) dbias[s * sh.channels + c] = (float)sb;
        }
        total_gain += sg, total_bias += sb, sum_g += gg, sum_gx += gx;
    }
    if (!affine_per_sample && threadIdx.x == 0) {
        if (dgain) dgain[c] = (float)total_gain;
        if (dbias) dbias[c] = (float)total_bias;
    }
    if (!dx) return;
    double count = (double)(sh.n * sh.plane);
    float mean_g = (float)(sum_g / count), mean_gx = (float)(sum_gx / count);
    for (int64_t s = 0; s < sh.n; s++) {
        float scale = offset + affine_at(gain, gain_per_sample, s, c, sh.channels, 0.0f);
        const float *in = x + (s * sh.channels + c) * sh.plane, *g = dy + (s * sh.channels + c) * sh.plane;
        float *out = dx + (s * sh.channels + c) * sh.plane;
        for (int64_t i = threadIdx.x; i < sh.plane; i += blockDim.x)
            out[i] = rstd * (g[i] * scale - mean_g - (in[i] - m) * rstd * mean_gx);
    }
}

/* The plane is the product of the trailing dimensions (numel / (N C) would
 * divide by zero for an empty batch). */
bn_shape shape_of(const gan_tensor *x) {
    int64_t plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->shape[i];
    return {x->shape[0], x->shape[1], plane};
}

const float *data_or_null(const gan_tensor *t) { return t ? t->data : nullptr; }
float *data_or_null(gan_tensor *t) { return t ? t->data : nullptr; }

}  // namespace

int cuda_batch_stats(gan_ctx *ctx, gan_tensor *mean, gan_tensor *var, const gan_tensor *x) {
    bn_shape sh = shape_of(x);
    if (sh.channels == 0) return 0; /* a grid of no blocks is a launch error */
    stats_kernel<<<(unsigned)sh.channels, CUDA_THREADS, 0, cuda_stream(ctx)>>>(mean->data, var->data, x->data, sh);
    return cuda_launched(ctx, "batch_stats");
}

int cuda_batch_norm(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var,
                    const gan_tensor *gain, const gan_tensor *bias, const gan_batch_norm_args *args) {
    normalize_kernel<<<cuda_blocks(x->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        y->data, x->data, mean->data, var->data, data_or_null(gain), gain && gain->ndim == 2, data_or_null(bias),
        bias && bias->ndim == 2, args->eps, args->gain_offset, shape_of(x), x->numel);
    return cuda_launched(ctx, "batch_norm");
}

int cuda_batch_norm_backward(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dgain, gan_tensor *dbias, const gan_tensor *dy,
                             const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var, const gan_tensor *gain,
                             const gan_batch_norm_args *args) {
    bn_shape sh = shape_of(x);
    if (sh.channels == 0) return 0; /* nothing to compute, and no blocks to launch */
    int affine_per_sample = (dgain && dgain->ndim == 2) || (dbias && dbias->ndim == 2);
    backward_kernel<<<(unsigned)sh.channels, CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        data_or_null(dx), data_or_null(dgain), data_or_null(dbias), affine_per_sample, dy->data, x->data, mean->data,
        var->data, data_or_null(gain), gain && gain->ndim == 2, args->eps, args->gain_offset, sh);
    return cuda_launched(ctx, "batch_norm_backward");
}
