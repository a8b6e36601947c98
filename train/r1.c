#include <math.h>
#include <stdlib.h>

#include "gan/ops.h"
#include "regularizers.h"

/* A tensor of ones shaped like t: the upstream gradient of sum(t). */
static gan_tensor *ones_like(gan_ctx *ctx, const gan_tensor *t) {
    gan_tensor *ones = t ? gan_tensor_new(ctx, t->ndim, t->shape) : NULL;
    float *host = ones ? malloc((size_t)ones->numel * sizeof *host) : NULL;
    if (ones && !host) gan_ctx_fail(ctx, "out of memory");
    for (int64_t i = 0; host && i < ones->numel; i++) host[i] = 1.0f;
    if (host) gan_tensor_upload(ctx, ones, host);
    free(host);
    return ones;
}

static double sum_squares(gan_ctx *ctx, const gan_tensor *t) {
    float *h = malloc((size_t)t->numel * sizeof *h + 1);
    double s = 0;
    if (h && gan_tensor_download(ctx, t, h) == 0)
        for (int64_t i = 0; i < t->numel; i++) s += (double)h[i] * h[i];
    free(h);
    return s;
}

/* loss = mean_n gamma/2 |g_n|^2 with g = d(sum D)/dx, so d(gain loss)/dg =
 * u = gain gamma g / N, and the parameter gradient is d/dtheta <u, g>: the
 * tangent pass along u, then its backward pass. Through an augmentation
 * y = A(x), g = J^T d(sum D)/dy and <u, g> = <J u, d(sum D)/dy>: the
 * tangent pass runs along J u. */
int r1_backward(gan_ctx *ctx, const sg2_discriminator *d, const gan_tensor *images, const r1_augment *aug,
                float gamma, float gain, gan_tensor **grads, r1_result *out) {
    sg2d_tape primal = {0}, tangent = {0};
    out->logits = sg2d_forward(ctx, d, images, &primal);
    gan_tensor *ones = ones_like(ctx, out->logits), *gy = NULL, *t_logits = NULL;
    if (ones && sg2d_backward(ctx, d, &primal, ones, NULL, &gy) == 0) {
        gan_tensor *g = aug ? augment_apply_backward(ctx, aug->pipe, gy, aug->tape) : gy;
        int64_t n = images->shape[0];
        out->penalty = g ? sum_squares(ctx, g) / (double)n : NAN;
        out->loss = gamma / 2 * out->penalty;
        gan_tensor *u = g ? gan_scale(ctx, g, gain * gamma / (float)n) : NULL;
        gan_tensor *v = u && aug ? augment_apply_linear(ctx, aug->pipe, u, aug->tape) : u;
        if (v) t_logits = sg2d_tangent(ctx, d, &primal, v, &tangent);
        if (t_logits) sg2d_tangent_backward(ctx, d, &primal, &tangent, ones, grads);
        sg2d_tape_free(ctx, &tangent);
        if (v != u) gan_tensor_free(ctx, v);
        if (g != gy) gan_tensor_free(ctx, g);
        gan_tensor_free(ctx, u);
    }
    sg2d_tape_free(ctx, &primal);
    gan_tensor_free(ctx, ones), gan_tensor_free(ctx, gy), gan_tensor_free(ctx, t_logits);
    return ctx->failed ? -1 : 0;
}
