#include <math.h>

#include "../kernel_math.h"
#include "cpu.h"

/* One plane of `size` values sharing a bias and a noise plane, in the
 * reference's order: (x + noise * strength) + b, act, gain, clamp. The
 * activation is a slope for negative values (lrelu alpha, 0 for relu, 1 for
 * linear), the clamp bound is infinite when off, and multiplying by a gain of
 * 1 is exact, so one branch-free loop serves every case and vectorises.
 * y may be x (the in-place op). */
static inline void bias_act_plane(float *y, const float *x, int64_t size, float b,
                                  const float *restrict noise, float strength, float slope, float gain, float bound) {
    for (int64_t i = 0; i < size; i++) y[i] = gan_act_forward((noise ? x[i] + noise[i] * strength : x[i]) + b, slope, gain, bound);
}

static float negative_slope(const gan_bias_act_args *a) {
    return gan_act_slope(a->act == GAN_ACT_LRELU, a->act == GAN_ACT_RELU, a->alpha);
}

int cpu_bias_act(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                 const gan_tensor *noise_strength, const gan_bias_act_args *args) {
    int64_t n = x->shape[0], c = x->shape[1], plane = n * c > 0 ? x->numel / (n * c) : 0;
    float strength = noise ? noise_strength->data[0] : 0.0f, slope = negative_slope(args);
    float bound = args->clamp >= 0 ? args->clamp : INFINITY;
    int per_sample_noise = noise && noise->ndim == 4;
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t p = 0; p < n * c; p++) {
        int64_t sample = p / c;
        float b = bias ? bias->data[p % c] : 0.0f;
        float *out = y->data + p * plane;
        const float *in = x->data + p * plane;
        if (noise)
            bias_act_plane(out, in, plane, b, noise->data + (per_sample_noise ? sample * plane : 0), strength, slope,
                           args->gain, bound);
        else
            bias_act_plane(out, in, plane, b, NULL, 0.0f, slope, args->gain, bound);
    }
    return 0;
}

/* The gradient at the activation's input (x + noise * strength + bias) from
 * the output y alone, as the reference does: y > 0 exactly where the input
 * was, and outputs at the clamp bound pass no gradient. */
int cpu_bias_act_backward(gan_ctx *ctx, gan_tensor *dz, const gan_tensor *dy, const gan_tensor *y,
                          const gan_bias_act_args *args) {
    float slope = negative_slope(args), gain = args->gain;
    float bound = args->clamp >= 0 ? args->clamp : INFINITY;
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) dz->data[i] = gan_act_backward(dy->data[i], y->data[i], slope, gain, bound);
    return 0;
}

/* y[c] = scale * sum of x[n, c, ...] over n and the trailing dimensions: the
 * gradient of a per-channel bias. */
int cpu_sum_channels(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float scale) {
    int64_t n = x->shape[0], c = x->shape[1], plane = n * c > 0 ? x->numel / (n * c) : 0;
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0;
        for (int64_t i = 0; i < n; i++) {
            const float *p = x->data + (i * c + ch) * plane;
            for (int64_t j = 0; j < plane; j++) sum += p[j];
        }
        y->data[ch] = (float)(sum * scale);
    }
    return 0;
}

/* y[] = sum of dz[n, c, h, w] * noise[h, w] (or noise[n, 0, h, w]): the
 * gradient of the noise strength. */
int cpu_noise_strength_grad(gan_ctx *ctx, gan_tensor *y, const gan_tensor *dz, const gan_tensor *noise) {
    int64_t n = dz->shape[0], c = dz->shape[1], plane = dz->shape[2] * dz->shape[3];
    int per_sample = noise->ndim == 4;
    double sum = 0;
#pragma omp parallel for num_threads(ctx->threads) if (dz->numel > CPU_PARALLEL_MIN) reduction(+ : sum)
    for (int64_t p = 0; p < n * c; p++) {
        const float *g = dz->data + p * plane, *z = noise->data + (per_sample ? p / c * plane : 0);
        double s = 0;
        for (int64_t j = 0; j < plane; j++) s += (double)g[j] * z[j];
        sum += s;
    }
    y->data[0] = (float)sum;
    return 0;
}

/* bias_act with the activation pattern of an earlier output `mask_y`: the
 * leaky ReLU's slope chosen by mask_y's sign, and outputs clamped there kept
 * at mask_y. Linear in x: path length's differences hold the masks fixed, as
 * the reference's double backward does. */
int cpu_bias_act_frozen(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias,
                        const gan_tensor *noise, const gan_tensor *noise_strength, const gan_bias_act_args *args,
                        const gan_tensor *mask_y) {
    int64_t n = x->shape[0], c = x->shape[1], plane = n * c > 0 ? x->numel / (n * c) : 0;
    float strength = noise ? noise_strength->data[0] : 0.0f, slope = negative_slope(args);
    float bound = args->clamp >= 0 ? args->clamp : INFINITY;
    int per_sample_noise = noise && noise->ndim == 4;
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t p = 0; p < n * c; p++) {
        float b = bias ? bias->data[p % c] : 0.0f;
        const float *z = noise ? noise->data + (per_sample_noise ? p / c * plane : 0) : NULL;
        const float *in = x->data + p * plane, *m = mask_y->data + p * plane;
        float *out = y->data + p * plane;
        for (int64_t i = 0; i < plane; i++)
            out[i] = gan_act_frozen((z ? in[i] + z[i] * strength : in[i]) + b, m[i], slope, args->gain, bound);
    }
    return 0;
}
