#include "generator_run.h"

#include <stdlib.h>
#include <string.h>

#include "gan/ops.h"

/* w_avg <- lerp(mean_n w, w_avg, beta), torch.lerp's formula for beta >= 0.5:
 * w_avg - (w_avg - mean) * (1 - beta), in float32 as the reference. */
static int update_w_avg(gan_ctx *ctx, sg2_generator *g, const gan_tensor *w, float beta) {
    int64_t n = w->shape[0], dim = w->shape[1];
    float *wh = malloc((size_t)w->numel * sizeof *wh), *avg = malloc((size_t)dim * sizeof *avg);
    int rc = !wh || !avg ? (gan_ctx_fail(ctx, "out of memory"), -1) : 0;
    if (rc == 0) rc = gan_tensor_download(ctx, w, wh) || gan_tensor_download(ctx, g->w_avg, avg) ? -1 : 0;
    for (int64_t d = 0; rc == 0 && d < dim; d++) {
        float sum = 0;
        for (int64_t i = 0; i < n; i++) sum += wh[i * dim + d];
        float mean = sum / (float)n;
        avg[d] = avg[d] - (avg[d] - mean) * (1.0f - beta);
    }
    if (rc == 0) rc = gan_tensor_upload(ctx, g->w_avg, avg);
    free(wh), free(avg);
    return rc;
}

int g_run_forward(gan_ctx *ctx, sg2_generator *g, const g_run_args *a, g_run *run) {
    memset(run, 0, sizeof *run);
    if (ctx->failed) return -1;
    run->n = a->z->shape[0];
    run->cutoff = a->mix_z && a->cutoff > 0 && a->cutoff < g->num_ws ? a->cutoff : g->num_ws;
    gan_tensor *w = sg2_mapping_train(ctx, g, a->z, &run->map), *w2 = NULL;
    if (w && a->w_avg_beta != 1.0f) update_w_avg(ctx, g, w, a->w_avg_beta);
    if (run->cutoff < g->num_ws) w2 = sg2_mapping_train(ctx, g, a->mix_z, &run->mix_map);
    run->ws = w2 ? gan_mix_rows(ctx, w, w2, g->num_ws, run->cutoff) : gan_broadcast_rows(ctx, w, g->num_ws);
    gan_tensor_free(ctx, w), gan_tensor_free(ctx, w2);
    run->img = sg2_synthesis_train(ctx, g, run->ws, a->noise, a->noise_seed, &run->synth);
    if (ctx->failed) {
        g_run_free(ctx, run);
        return -1;
    }
    return 0;
}

/* The noise the run used, layer by layer, from its synthesis tape. */
static int run_noise(const sg2_generator *g, const g_run *run, const gan_tensor **noise) {
    int k = 0;
    for (int b = 0; b < g->num_blocks; b++) {
        if (g->blocks[b].in_channels != 0) noise[k++] = run->synth.blocks[b].conv0.noise;
        noise[k++] = run->synth.blocks[b].conv1.noise;
    }
    return k;
}

gan_tensor *g_run_synthesis_at(gan_ctx *ctx, const sg2_generator *g, const g_run *run, const gan_tensor *ws,
                               sg2_synthesis_tape *synth) {
    const gan_tensor *noise[2 * SG2_MAX_BLOCKS];
    run_noise(g, run, noise);
    return sg2_synthesis_train_masked(ctx, g, ws, noise, 0, &run->synth, synth);
}

int g_run_mapping_backward(gan_ctx *ctx, const sg2_generator *g, const g_run *run, gan_tensor *const *dws,
                           gan_tensor **grads) {
    /* Row l of ws came from the first mapping below the cutoff, the second above. */
    for (int part = 0; part < 2 && !ctx->failed; part++) {
        int first = part ? run->cutoff : 0, last = part ? g->num_ws : run->cutoff;
        if (first >= last) continue;
        gan_tensor *dw = gan_slice(ctx, dws[first], 0, run->n);
        for (int l = first + 1; l < last; l++) gan_accumulate(ctx, dw, dws[l], 1.0f);
        sg2_mapping_backward(ctx, g, part ? &run->mix_map : &run->map, dw, grads);
        gan_tensor_free(ctx, dw);
    }
    return ctx->failed ? -1 : 0;
}

int g_run_backward(gan_ctx *ctx, const sg2_generator *g, const g_run *run, const gan_tensor *dimg,
                   gan_tensor **grads) {
    gan_tensor *dws[2 * SG2_MAX_BLOCKS] = {0};
    if (sg2_synthesis_backward(ctx, g, &run->synth, dimg, grads, dws) == 0) g_run_mapping_backward(ctx, g, run, dws, grads);
    for (int l = 0; l < g->num_ws; l++) gan_tensor_free(ctx, dws[l]);
    return ctx->failed ? -1 : 0;
}

void g_run_free(gan_ctx *ctx, g_run *run) {
    sg2_mapping_tape_free(ctx, &run->map);
    sg2_mapping_tape_free(ctx, &run->mix_map);
    sg2_synthesis_tape_free(ctx, &run->synth);
    gan_tensor_free(ctx, run->ws);
    gan_tensor_free(ctx, run->img);
    memset(run, 0, sizeof *run);
}
