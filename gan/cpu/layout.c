#include <string.h>

#include "cpu.h"

int cpu_repeat(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    (void)ctx;
    for (int64_t i = 0; i < y->shape[0]; i++) memcpy(y->data + i * x->numel, x->data, (size_t)x->numel * sizeof(float));
    return 0;
}

int cpu_broadcast_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    (void)ctx;
    int64_t n = y->shape[0], count = y->shape[1], dim = y->shape[2];
    for (int64_t i = 0; i < n; i++)
        for (int64_t l = 0; l < count; l++)
            memcpy(y->data + (i * count + l) * dim, x->data + i * dim, (size_t)dim * sizeof(float));
    return 0;
}

int cpu_select_row(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t index) {
    (void)ctx;
    int64_t n = x->shape[0], rows = x->shape[1], dim = x->shape[2];
    for (int64_t i = 0; i < n; i++)
        memcpy(y->data + i * dim, x->data + (i * rows + index) * dim, (size_t)dim * sizeof(float));
    return 0;
}

int cpu_concat_cols(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b) {
    (void)ctx;
    int64_t n = a->shape[0], ca = a->shape[1], cb = b->shape[1];
    for (int64_t i = 0; i < n; i++) {
        memcpy(y->data + i * (ca + cb), a->data + i * ca, (size_t)ca * sizeof(float));
        memcpy(y->data + i * (ca + cb) + ca, b->data + i * cb, (size_t)cb * sizeof(float));
    }
    return 0;
}

int cpu_slice(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start) {
    (void)ctx;
    int64_t row = x->numel / x->shape[0];
    memcpy(y->data, x->data + start * row, (size_t)y->numel * sizeof(float));
    return 0;
}

int cpu_write_slice(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, int64_t start) {
    (void)ctx;
    int64_t row = dst->numel / dst->shape[0];
    memcpy(dst->data + start * row, src->data, (size_t)src->numel * sizeof(float));
    return 0;
}

int cpu_mix_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int64_t cutoff) {
    (void)ctx;
    int64_t n = y->shape[0], count = y->shape[1], dim = y->shape[2];
    for (int64_t i = 0; i < n; i++)
        for (int64_t l = 0; l < count; l++)
            memcpy(y->data + (i * count + l) * dim, (l < cutoff ? a : b)->data + i * dim, (size_t)dim * sizeof(float));
    return 0;
}

int cpu_sum_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start, int64_t count) {
    (void)ctx;
    int64_t n = x->shape[0], rows = x->shape[1], dim = x->shape[2];
    memset(y->data, 0, (size_t)y->numel * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        for (int64_t l = start; l < start + count; l++)
            for (int64_t d = 0; d < dim; d++) y->data[i * dim + d] += x->data[(i * rows + l) * dim + d];
    return 0;
}

int cpu_sum_batch(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    (void)ctx;
    int64_t n = x->shape[0];
    memset(y->data, 0, (size_t)y->numel * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < y->numel; j++) y->data[j] += x->data[i * y->numel + j];
    return 0;
}
