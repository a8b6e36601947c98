#include <math.h>

#include "cpu.h"

/* Rows of the last dimension. */
static void rows_of(const gan_tensor *t, int64_t *rows, int64_t *width) {
    *width = t->shape[t->ndim - 1];
    *rows = t->numel / *width;
}

int cpu_softmax(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    int64_t rows, w;
    rows_of(x, &rows, &w);
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *in = x->data + r * w;
        float *out = y->data + r * w;
        float top = in[0];
        for (int64_t j = 1; j < w; j++) top = in[j] > top ? in[j] : top;
        double sum = 0;
        for (int64_t j = 0; j < w; j++) sum += out[j] = expf(in[j] - top);
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < w; j++) out[j] *= inv;
    }
    return 0;
}

int cpu_softmax_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y) {
    int64_t rows, w;
    rows_of(y, &rows, &w);
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *g = dy->data + r * w, *p = y->data + r * w;
        double dot = 0;
        for (int64_t j = 0; j < w; j++) dot += (double)g[j] * p[j];
        for (int64_t j = 0; j < w; j++) dx->data[r * w + j] = p[j] * (g[j] - (float)dot);
    }
    return 0;
}

int cpu_tanh(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < x->numel; i++) y->data[i] = tanhf(x->data[i]);
    return 0;
}

int cpu_tanh_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y) {
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) dx->data[i] = dy->data[i] * (1.0f - y->data[i] * y->data[i]);
    return 0;
}
