#include <cblas.h>
#include <math.h>

#include "cpu.h"

int cpu_linear(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *bias,
               float weight_gain, float bias_gain) {
    (void)ctx;
    int n = (int)x->shape[0], in = (int)x->shape[1], out = (int)weight->shape[0];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, weight_gain, x->data, in, weight->data, in, 0.0f,
                y->data, out);
    if (bias)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) y->data[(size_t)i * out + o] += bias->data[o] * bias_gain;
    return 0;
}

int cpu_normalize_2nd_moment(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    (void)ctx;
    int64_t n = x->shape[0], c = x->shape[1];
    for (int64_t i = 0; i < n; i++) {
        const float *row = x->data + i * c;
        double sum = 0;
        for (int64_t j = 0; j < c; j++) sum += (double)row[j] * row[j];
        float scale = 1.0f / sqrtf((float)(sum / (double)c) + 1e-8f);
        for (int64_t j = 0; j < c; j++) y->data[i * c + j] = row[j] * scale;
    }
    return 0;
}

/* dx[N, I] = dy[N, O] . (weight * gain) */
int cpu_linear_backward_input(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *weight,
                              float weight_gain) {
    (void)ctx;
    int n = (int)dy->shape[0], out = (int)weight->shape[0], in = (int)weight->shape[1];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, weight_gain, dy->data, out, weight->data, in,
                0.0f, dx->data, in);
    return 0;
}

/* dweight[O, I] = gain * dy^T . x */
int cpu_linear_backward_weight(gan_ctx *ctx, gan_tensor *dweight, const gan_tensor *dy, const gan_tensor *x,
                               float weight_gain) {
    (void)ctx;
    int n = (int)dy->shape[0], out = (int)dy->shape[1], in = (int)x->shape[1];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, weight_gain, dy->data, out, x->data, in, 0.0f,
                dweight->data, in);
    return 0;
}

/* y = x * r with r = rsqrt(mean(x^2) + 1e-8) per row, so
 * dx = r * dy - x * r^3 * mean(dy * x). */
int cpu_normalize_2nd_moment_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x) {
    (void)ctx;
    int64_t n = x->shape[0], c = x->shape[1];
    for (int64_t i = 0; i < n; i++) {
        const float *row = x->data + i * c, *g = dy->data + i * c;
        double sq = 0, dot = 0;
        for (int64_t j = 0; j < c; j++) {
            sq += (double)row[j] * row[j];
            dot += (double)g[j] * row[j];
        }
        double r = 1.0 / sqrt((double)(float)(sq / (double)c) + 1e-8);
        double k = r * r * r * dot / (double)c;
        for (int64_t j = 0; j < c; j++) dx->data[i * c + j] = (float)(r * g[j] - k * row[j]);
    }
    return 0;
}
