/* Path length regularization. Its parameter gradient is d/dtheta <u, g>
 * with g = d sum(img * y)/d ws and u = d loss/d g held fixed: the
 * derivative of the directional derivative of sum(img * y) along u, taken
 * here as a central difference of two ordinary gradients,
 *   (grad_theta sum(img(ws + e u) y) - grad_theta sum(img(ws - e u) y)) / 2e,
 * with the run's noise and with its activation masks held fixed (as the
 * reference's double backward treats leaky ReLU and clamp: zero second
 * derivative), so that no kink is crossed and the difference has only the
 * O(e^2) error of demodulation's curvature. The mapping's parameters get the
 * same difference of the w gradients, back through the run's mappings.
 * Measured against PyTorch's exact double backward (tests/test_regularizers.c):
 * at most 4.6e-4 of each tensor's largest magnitude, most below 1e-4. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan/ops.h"
#include "regularizers.h"

/* Step along u / |u|, relative to |ws|: larger steps add demodulation's
 * curvature, smaller ones fp32 rounding (1e-2: 3.7e-3, 1e-4: 1.4e-3). */
#define PL_STEP 1e-3

typedef struct rows {
    int count;
    gan_tensor *t[2 * SG2_MAX_BLOCKS]; /* [n, w_dim] each */
} rows;

static void rows_free(gan_ctx *ctx, rows *r) {
    for (int i = 0; i < r->count; i++) gan_tensor_free(ctx, r->t[i]);
    memset(r, 0, sizeof *r);
}

/* Host copy [n, L, D] of row tensors. */
static float *rows_to_host(gan_ctx *ctx, const rows *r, int64_t n, int64_t dim) {
    float *out = malloc((size_t)(n * r->count * dim) * sizeof *out), *row = malloc((size_t)(n * dim) * sizeof *row);
    for (int l = 0; out && row && l < r->count; l++) {
        gan_tensor_download(ctx, r->t[l], row);
        for (int64_t i = 0; i < n; i++) memcpy(out + (i * r->count + l) * dim, row + i * dim, (size_t)dim * sizeof *out);
    }
    free(row);
    return out;
}

/* Synthesis at ws + step * dir with the run's noise, backward with dimg = y:
 * parameter gradients scaled by `scale` into grads, and the w rows' gradient
 * (scaled) added into dws. */
static void gradient_at(gan_ctx *ctx, const sg2_generator *g, const g_run *run, const gan_tensor *dir, float step,
                        const gan_tensor *y, float scale, gan_tensor **grads, rows *dws) {
    gan_tensor *ws = gan_slice(ctx, run->ws, 0, run->n);
    gan_accumulate(ctx, ws, dir, step);
    sg2_synthesis_tape tape;
    gan_tensor *img = g_run_synthesis_at(ctx, g, run, ws, &tape);
    gan_tensor **tmp = gan_params_grads_new(ctx, &g->params);
    rows d = {g->num_ws, {0}};
    if (img && tmp && sg2_synthesis_backward(ctx, g, &tape, y, tmp, d.t) == 0) {
        for (int i = 0; i < g->params.count; i++)
            if (tmp[i] && grads[i]) gan_accumulate(ctx, grads[i], tmp[i], scale);
        for (int l = 0; l < g->num_ws; l++) gan_accumulate(ctx, dws->t[l], d.t[l], scale);
    }
    rows_free(ctx, &d);
    gan_params_grads_free(ctx, &g->params, tmp);
    sg2_synthesis_tape_free(ctx, &tape);
    gan_tensor_free(ctx, img), gan_tensor_free(ctx, ws);
}

int path_length_backward(gan_ctx *ctx, const sg2_generator *g, const g_run *run, const gan_tensor *y, float pl_weight,
                         float pl_decay, float *pl_mean, float gain, gan_tensor **grads, pl_result *out) {
    int64_t n = run->n, layers = g->num_ws, dim = g->cfg.w_dim;
    rows grad_ws = {g->num_ws, {0}};
    if (sg2_synthesis_backward(ctx, g, &run->synth, y, NULL, grad_ws.t) != 0) return -1;
    float *gh = rows_to_host(ctx, &grad_ws, n, dim);
    rows_free(ctx, &grad_ws);
    double *a = calloc((size_t)n, sizeof *a);
    if (!gh || !a) {
        free(gh), free(a);
        return gan_ctx_fail(ctx, "out of memory"), -1;
    }
    /* Lengths, the moving mean, the penalty, and u = d(gain * loss)/dg. */
    double mean_a = 0;
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < layers * dim; j++) s += (double)gh[i * layers * dim + j] * gh[i * layers * dim + j];
        a[i] = sqrt(s / (double)layers);
        mean_a += a[i] / (double)n;
    }
    float m = *pl_mean + pl_decay * ((float)mean_a - *pl_mean);
    double penalty = 0, dev_sum = 0;
    for (int64_t i = 0; i < n; i++) penalty += (a[i] - m) * (a[i] - m) / (double)n, dev_sum += a[i] - m;
    *out = (pl_result){penalty, pl_weight * penalty, mean_a};
    *pl_mean = m;
    double u_norm2 = 0;
    for (int64_t i = 0; i < n; i++) {
        /* d loss/d a_i: the direct term and the one through pl_mean. */
        double dl_da = 2.0 * pl_weight / (double)n * ((a[i] - m) - pl_decay / (double)n * dev_sum) * gain;
        double k = a[i] > 0 ? dl_da / ((double)layers * a[i]) : 0;
        for (int64_t j = 0; j < layers * dim; j++) {
            gh[i * layers * dim + j] = (float)(k * gh[i * layers * dim + j]);
            u_norm2 += (double)gh[i * layers * dim + j] * gh[i * layers * dim + j];
        }
    }
    free(a);
    double ws_norm2 = 0;
    float *wsh = malloc((size_t)run->ws->numel * sizeof *wsh);
    if (wsh && gan_tensor_download(ctx, run->ws, wsh) == 0)
        for (int64_t i = 0; i < run->ws->numel; i++) ws_norm2 += (double)wsh[i] * wsh[i];
    free(wsh);
    if (u_norm2 > 0) {
        double u_norm = sqrt(u_norm2), eps = PL_STEP * sqrt(ws_norm2 > 0 ? ws_norm2 : 1.0);
        gan_tensor *u = gan_tensor_from_host(ctx, 3, run->ws->shape, gh);
        rows dws = {g->num_ws, {0}};
        for (int l = 0; l < g->num_ws; l++) {
            dws.t[l] = gan_tensor_2d(ctx, n, dim);
            float *zero = calloc((size_t)(n * dim), sizeof *zero);
            if (dws.t[l] && zero) gan_tensor_upload(ctx, dws.t[l], zero);
            free(zero);
        }
        float step = (float)(eps / u_norm), scale = (float)(u_norm / (2 * eps));
        gradient_at(ctx, g, run, u, step, y, scale, grads, &dws);
        gradient_at(ctx, g, run, u, -step, y, -scale, grads, &dws);
        g_run_mapping_backward(ctx, g, run, dws.t, grads);
        rows_free(ctx, &dws);
        gan_tensor_free(ctx, u);
    }
    free(gh);
    return ctx->failed ? -1 : 0;
}
