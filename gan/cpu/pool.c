#include <math.h>

#include "cpu.h"

/* Every op here maps a 2x2 window of the large plane [2h, 2w] to one sample
 * of the small plane [h, w]; planes are N x C. */
typedef struct planes {
    int64_t count, h, w; /* the small plane's size */
} planes;

static planes small_planes(const gan_tensor *small) {
    return (planes){small->shape[0] * small->shape[1], small->shape[2], small->shape[3]};
}

/* The offsets of window (i, j) of plane c in the large plane, row-major. */
static void window_offsets(planes p, int64_t c, int64_t i, int64_t j, int64_t at[4]) {
    int64_t base = (c * 2 * p.h + 2 * i) * 2 * p.w + 2 * j;
    at[0] = base, at[1] = base + 1, at[2] = base + 2 * p.w, at[3] = base + 2 * p.w + 1;
}

/* Which of the window's samples is its maximum, by torch's rule: a later
 * sample wins only when strictly larger or NaN. So ties go to the first
 * maximum in row-major order and a NaN anywhere makes the result NaN, both
 * forward and backward as in torch. */
static int window_argmax(const float *x, const int64_t at[4]) {
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (x[at[k]] > x[at[best]] || isnan(x[at[k]])) best = k;
    return best;
}

int cpu_max_pool2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    planes p = small_planes(y);
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t c = 0; c < p.count; c++)
        for (int64_t i = 0; i < p.h; i++)
            for (int64_t j = 0; j < p.w; j++) {
                int64_t at[4];
                window_offsets(p, c, i, j, at);
                y->data[(c * p.h + i) * p.w + j] = x->data[at[window_argmax(x->data, at)]];
            }
    return 0;
}

int cpu_max_pool2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x) {
    planes p = small_planes(dy);
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t c = 0; c < p.count; c++)
        for (int64_t i = 0; i < p.h; i++)
            for (int64_t j = 0; j < p.w; j++) {
                int64_t at[4];
                window_offsets(p, c, i, j, at);
                int best = window_argmax(x->data, at);
                for (int k = 0; k < 4; k++) dx->data[at[k]] = k == best ? dy->data[(c * p.h + i) * p.w + j] : 0.0f;
            }
    return 0;
}

/* Each small sample = scale * the sum of its window (average pooling, and
 * nearest up-sampling's backward pass). */
static void gather_windows(gan_ctx *ctx, const float *large, float *small, planes p, float scale) {
#pragma omp parallel for num_threads(ctx->threads) if (4 * p.count * p.h * p.w > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t c = 0; c < p.count; c++)
        for (int64_t i = 0; i < p.h; i++)
            for (int64_t j = 0; j < p.w; j++) {
                const float *win = large + (c * 2 * p.h + 2 * i) * 2 * p.w + 2 * j;
                small[(c * p.h + i) * p.w + j] = (win[0] + win[1] + win[2 * p.w] + win[2 * p.w + 1]) * scale;
            }
}

/* Each window's four samples = scale * its small sample (nearest
 * up-sampling, and average pooling's backward pass). */
static void spread_windows(gan_ctx *ctx, const float *small, float *large, planes p, float scale) {
#pragma omp parallel for num_threads(ctx->threads) if (4 * p.count * p.h * p.w > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t c = 0; c < p.count; c++)
        for (int64_t i = 0; i < p.h; i++)
            for (int64_t j = 0; j < p.w; j++) {
                float v = small[(c * p.h + i) * p.w + j] * scale;
                float *win = large + (c * 2 * p.h + 2 * i) * 2 * p.w + 2 * j;
                win[0] = win[1] = win[2 * p.w] = win[2 * p.w + 1] = v;
            }
}

int cpu_avg_pool2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    gather_windows(ctx, x->data, y->data, small_planes(y), 0.25f);
    return 0;
}

int cpu_avg_pool2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy) {
    spread_windows(ctx, dy->data, dx->data, small_planes(dy), 0.25f);
    return 0;
}

int cpu_upsample_nearest2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    spread_windows(ctx, x->data, y->data, small_planes(x), 1.0f);
    return 0;
}

int cpu_upsample_nearest2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy) {
    gather_windows(ctx, dy->data, dx->data, small_planes(dx), 1.0f);
    return 0;
}
