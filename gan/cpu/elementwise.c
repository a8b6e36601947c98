#include <math.h>

#include "cpu.h"

int cpu_add(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b) {
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) y->data[i] = a->data[i] + b->data[i];
    return 0;
}

/* torch.lerp's formula, which switches form at weight 0.5 to stay exact at
 * both ends; copying it keeps truncated w vectors bit-identical. */
static inline float lerp(float start, float end, float weight) {
    return fabsf(weight) < 0.5f ? start + weight * (end - start) : end - (end - start) * (1.0f - weight);
}

int cpu_truncate(gan_ctx *ctx, gan_tensor *y, const gan_tensor *ws, const gan_tensor *w_avg, float psi, int cutoff) {
    (void)ctx;
    int64_t n = ws->shape[0], layers = ws->shape[1], dim = ws->shape[2];
    if (cutoff <= 0 || cutoff > layers) cutoff = (int)layers;
    for (int64_t i = 0; i < n; i++)
        for (int64_t l = 0; l < layers; l++) {
            const float *src = ws->data + (i * layers + l) * dim;
            float *dst = y->data + (i * layers + l) * dim;
            for (int64_t d = 0; d < dim; d++) dst[d] = l < cutoff ? lerp(w_avg->data[d], src[d], psi) : src[d];
        }
    return 0;
}

int cpu_axpy(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha) {
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) y->data[i] += alpha * x->data[i];
    return 0;
}
