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
 * tangent pass along u, then its backward pass. */
int r1_backward(gan_ctx *ctx, const sg2_discriminator *d, const gan_tensor *reals, float gamma, float gain,
                gan_tensor **grads, r1_result *out) {
    sg2d_tape primal, tangent = {0};
    out->logits = sg2d_forward(ctx, d, reals, &primal);
    gan_tensor *ones = ones_like(ctx, out->logits), *g = NULL, *t_logits = NULL;
    if (ones && sg2d_backward(ctx, d, &primal, ones, NULL, &g) == 0) {
        int64_t n = reals->shape[0];
        out->penalty = sum_squares(ctx, g) / (double)n;
        out->loss = gamma / 2 * out->penalty;
        gan_tensor *u = gan_scale(ctx, g, gain * gamma / (float)n);
        t_logits = sg2d_tangent(ctx, d, &primal, u, &tangent);
        if (t_logits) sg2d_tangent_backward(ctx, d, &primal, &tangent, ones, grads);
        sg2d_tape_free(ctx, &tangent);
        gan_tensor_free(ctx, u);
    }
    sg2d_tape_free(ctx, &primal);
    gan_tensor_free(ctx, ones), gan_tensor_free(ctx, g), gan_tensor_free(ctx, t_logits);
    return ctx->failed ? -1 : 0;
}
