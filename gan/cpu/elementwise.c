#include <math.h>

#include "../kernel_math.h"
#include "cpu.h"

int cpu_add(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b) {
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) y->data[i] = a->data[i] + b->data[i];
    return 0;
}

int cpu_mul(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b) {
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) y->data[i] = a->data[i] * b->data[i];
    return 0;
}

int cpu_truncate(gan_ctx *ctx, gan_tensor *y, const gan_tensor *ws, const gan_tensor *w_avg, float psi, int cutoff) {
    (void)ctx;
    int64_t n = ws->shape[0], layers = ws->shape[1], dim = ws->shape[2];
    if (cutoff <= 0 || cutoff > layers) cutoff = (int)layers;
    for (int64_t i = 0; i < n; i++)
        for (int64_t l = 0; l < layers; l++) {
            const float *src = ws->data + (i * layers + l) * dim;
            float *dst = y->data + (i * layers + l) * dim;
            for (int64_t d = 0; d < dim; d++) dst[d] = l < cutoff ? gan_lerp(w_avg->data[d], src[d], psi) : src[d];
        }
    return 0;
}

int cpu_axpy(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha) {
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) y->data[i] += alpha * x->data[i];
    return 0;
}

/* torch.optim.Adam's single-tensor update, step by step as torch orders it. */
int cpu_adam(gan_ctx *ctx, gan_tensor *param, const gan_tensor *grad, gan_tensor *m, gan_tensor *v,
             const gan_adam_args *a) {
    float step_size = a->lr / a->bias_correction1, denom_scale = sqrtf(a->bias_correction2);
#pragma omp parallel for num_threads(ctx->threads) if (param->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < param->numel; i++)
        gan_adam_element(&param->data[i], grad->data[i], &m->data[i], &v->data[i], a->beta1, a->beta2, a->eps,
                         step_size, denom_scale);
    return 0;
}

/* ema <- lerp(x, ema, beta) with torch.lerp's formula. */
int cpu_lerp_into(gan_ctx *ctx, gan_tensor *ema, const gan_tensor *x, float beta) {
#pragma omp parallel for num_threads(ctx->threads) if (ema->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < ema->numel; i++) ema->data[i] = gan_lerp(x->data[i], ema->data[i], beta);
    return 0;
}

/* Counts NaN and infinite values (the training loop's stop condition). */
int cpu_count_nonfinite(gan_ctx *ctx, gan_tensor *count, const gan_tensor *x) {
    int64_t bad = 0;
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) reduction(+ : bad)
    for (int64_t i = 0; i < x->numel; i++) bad += !isfinite(x->data[i]);
    count->data[0] = (float)bad;
    return 0;
}

int cpu_scale(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha) {
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) y->data[i] = alpha * x->data[i];
    return 0;
}
