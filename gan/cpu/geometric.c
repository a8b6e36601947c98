#include <string.h>

#include "../kernel_math.h"
#include "cpu.h"

int cpu_affine_sample(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *theta) {
    int64_t n = x->shape[0], c = x->shape[1];
    int ih = (int)x->shape[2], iw = (int)x->shape[3], oh = (int)y->shape[2], ow = (int)y->shape[3];
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t q = 0; q < n * c; q++) {
        const float *src = x->data + q * ih * iw, *t = theta->data + q / c * 6;
        float *dst = y->data + q * oh * ow;
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                int idx[4];
                float w[4], sum = 0.0f;
                gan_affine_taps(t, i, j, oh, ow, ih, iw, idx, w);
                for (int k = 0; k < 4; k++)
                    if (idx[k] >= 0) sum += src[idx[k]] * w[k];
                dst[i * ow + j] = sum;
            }
    }
    return 0;
}

/* The adjoint: each output pixel's gradient spread back over its taps. One
 * plane per thread, so the scatter has no races. */
int cpu_affine_sample_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *theta) {
    int64_t n = dy->shape[0], c = dy->shape[1];
    int ih = (int)dx->shape[2], iw = (int)dx->shape[3], oh = (int)dy->shape[2], ow = (int)dy->shape[3];
    memset(dx->data, 0, (size_t)dx->numel * sizeof(float));
#pragma omp parallel for num_threads(ctx->threads) if (dy->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t q = 0; q < n * c; q++) {
        const float *g = dy->data + q * oh * ow, *t = theta->data + q / c * 6;
        float *dst = dx->data + q * ih * iw;
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                int idx[4];
                float w[4];
                gan_affine_taps(t, i, j, oh, ow, ih, iw, idx, w);
                for (int k = 0; k < 4; k++)
                    if (idx[k] >= 0) dst[idx[k]] += g[i * ow + j] * w[k];
            }
    }
    return 0;
}

int cpu_pad_reflect(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_pad_args *pad) {
    int64_t planes = x->shape[0] * x->shape[1];
    int h = (int)x->shape[2], w = (int)x->shape[3], oh = (int)y->shape[2], ow = (int)y->shape[3];
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t q = 0; q < planes; q++)
        for (int o = 0; o < oh; o++) {
            const float *row = x->data + (q * h + gan_reflect_source(o, h, pad->top)) * w;
            float *dst = y->data + (q * oh + o) * ow;
            for (int p = 0; p < ow; p++) dst[p] = row[gan_reflect_source(p, w, pad->left)];
        }
    return 0;
}

/* A gather: each input sample sums the (at most 3 x 3) padded samples that copy it. */
int cpu_pad_reflect_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_pad_args *pad) {
    int64_t planes = dx->shape[0] * dx->shape[1];
    int h = (int)dx->shape[2], w = (int)dx->shape[3], oh = (int)dy->shape[2], ow = (int)dy->shape[3];
#pragma omp parallel for num_threads(ctx->threads) if (dx->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t q = 0; q < planes; q++)
        for (int i = 0; i < h; i++) {
            int rows[3], nr = gan_reflect_targets(i, h, pad->top, pad->bottom, rows);
            for (int j = 0; j < w; j++) {
                int cols[3], nc = gan_reflect_targets(j, w, pad->left, pad->right, cols);
                float sum = 0.0f;
                for (int a = 0; a < nr; a++)
                    for (int b = 0; b < nc; b++) sum += dy->data[(q * oh + rows[a]) * ow + cols[b]];
                dx->data[(q * h + i) * w + j] = sum;
            }
        }
    return 0;
}
