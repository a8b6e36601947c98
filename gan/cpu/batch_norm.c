#include <math.h>

#include "cpu.h"

/* x [N, C, ...] seen as N x C planes of `plane` values (a product of the
 * trailing dimensions, not numel / (N C), which an empty batch would divide
 * by zero). */
static int64_t plane_size(const gan_tensor *x) {
    int64_t plane = 1;
    for (int i = 2; i < x->ndim; i++) plane *= x->shape[i];
    return plane;
}

/* The affine value of sample n, channel c: [C] or [N, C] tensors, or
 * `otherwise` when absent. */
static float affine_at(const gan_tensor *t, int64_t n, int64_t c, int64_t channels, float otherwise) {
    if (!t) return otherwise;
    return t->ndim == 2 ? t->data[n * channels + c] : t->data[c];
}

/* Two passes in double: the mean, then the mean squared deviation. */
int cpu_batch_stats(gan_ctx *ctx, gan_tensor *mean, gan_tensor *var, const gan_tensor *x) {
    int64_t n = x->shape[0], channels = x->shape[1], plane = plane_size(x), count = n * plane;
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t c = 0; c < channels; c++) {
        double sum = 0, sq = 0;
        for (int64_t s = 0; s < n; s++) {
            const float *p = x->data + (s * channels + c) * plane;
            for (int64_t i = 0; i < plane; i++) sum += p[i];
        }
        double m = sum / (double)count;
        for (int64_t s = 0; s < n; s++) {
            const float *p = x->data + (s * channels + c) * plane;
            for (int64_t i = 0; i < plane; i++) sq += (p[i] - m) * (p[i] - m);
        }
        mean->data[c] = (float)m;
        var->data[c] = (float)(sq / (double)count);
    }
    return 0;
}

int cpu_batch_norm(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var,
                   const gan_tensor *gain, const gan_tensor *bias, const gan_batch_norm_args *args) {
    int64_t n = x->shape[0], channels = x->shape[1], plane = plane_size(x);
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t p = 0; p < n * channels; p++) {
        int64_t s = p / channels, c = p % channels;
        float rstd = 1.0f / sqrtf(var->data[c] + args->eps), m = mean->data[c];
        float scale = args->gain_offset + affine_at(gain, s, c, channels, 0.0f), shift = affine_at(bias, s, c, channels, 0.0f);
        const float *in = x->data + p * plane;
        float *out = y->data + p * plane;
        for (int64_t i = 0; i < plane; i++) out[i] = (in[i] - m) * rstd * scale + shift;
    }
    return 0;
}

/* Per channel: the sums over N and the plane of g = dy (offset + gain) and
 * g xhat, which the input gradient needs through the batch statistics. */
static void channel_sums(const gan_tensor *dy, const gan_tensor *x, const gan_tensor *gain, float offset, int64_t c,
                         float m, float rstd, double *sum_g, double *sum_gx) {
    int64_t n = x->shape[0], channels = x->shape[1], plane = plane_size(x);
    *sum_g = *sum_gx = 0;
    for (int64_t s = 0; s < n; s++) {
        float scale = offset + affine_at(gain, s, c, channels, 0.0f);
        const float *in = x->data + (s * channels + c) * plane, *g = dy->data + (s * channels + c) * plane;
        for (int64_t i = 0; i < plane; i++) {
            double gi = (double)g[i] * scale;
            *sum_g += gi;
            *sum_gx += gi * ((in[i] - m) * rstd);
        }
    }
}

/* The affine map's gradients of sample s (or of all samples for [C] tensors). */
static void affine_grads(gan_tensor *dgain, gan_tensor *dbias, const gan_tensor *dy, const gan_tensor *x, int64_t c,
                         float m, float rstd) {
    int64_t n = x->shape[0], channels = x->shape[1], plane = plane_size(x);
    int per_sample = (dgain && dgain->ndim == 2) || (dbias && dbias->ndim == 2);
    double total_gain = 0, total_bias = 0;
    for (int64_t s = 0; s < n; s++) {
        const float *in = x->data + (s * channels + c) * plane, *g = dy->data + (s * channels + c) * plane;
        double sg = 0, sb = 0;
        for (int64_t i = 0; i < plane; i++) {
            sg += (double)g[i] * ((in[i] - m) * rstd);
            sb += g[i];
        }
        if (per_sample) {
            if (dgain) dgain->data[s * channels + c] = (float)sg;
            if (dbias) dbias->data[s * channels + c] = (float)sb;
        }
        total_gain += sg, total_bias += sb;
    }
    if (!per_sample) {
        if (dgain) dgain->data[c] = (float)total_gain;
        if (dbias) dbias->data[c] = (float)total_bias;
    }
}

int cpu_batch_norm_backward(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dgain, gan_tensor *dbias, const gan_tensor *dy,
                            const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var, const gan_tensor *gain,
                            const gan_batch_norm_args *args) {
    int64_t n = x->shape[0], channels = x->shape[1], plane = plane_size(x);
    double count = (double)(n * plane);
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t c = 0; c < channels; c++) {
        float m = mean->data[c], rstd = 1.0f / sqrtf(var->data[c] + args->eps);
        if (dgain || dbias) affine_grads(dgain, dbias, dy, x, c, m, rstd);
        if (!dx) continue;
        double sum_g, sum_gx;
        channel_sums(dy, x, gain, args->gain_offset, c, m, rstd, &sum_g, &sum_gx);
        float mean_g = (float)(sum_g / count), mean_gx = (float)(sum_gx / count);
        for (int64_t s = 0; s < n; s++) {
            float scale = args->gain_offset + affine_at(gain, s, c, channels, 0.0f);
            const float *in = x->data + (s * channels + c) * plane, *g = dy->data + (s * channels + c) * plane;
            float *out = dx->data + (s * channels + c) * plane;
            for (int64_t i = 0; i < plane; i++)
                out[i] = rstd * (g[i] * scale - mean_g - (in[i] - m) * rstd * mean_gx);
        }
    }
    return 0;
}
