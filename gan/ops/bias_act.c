/* Bias, noise injection, activation, gain and clamp in one pass. */
#include <math.h>

#include "internal.h"

float gan_act_default_gain(gan_act act) { return act == GAN_ACT_LINEAR ? 1.0f : (float)sqrt(2.0); }

static int noise_fits(const gan_tensor *x, const gan_tensor *noise) {
    if (x->ndim != 4) return 0;
    if (noise->ndim == 2) return noise->shape[0] == x->shape[2] && noise->shape[1] == x->shape[3];
    return noise->ndim == 4 && noise->shape[0] == x->shape[0] && noise->shape[1] == 1 &&
           noise->shape[2] == x->shape[2] && noise->shape[3] == x->shape[3];
}

/* Records a failure in ctx unless the arguments fit x; returns NULL either way. */
static void *check_args(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                      const gan_tensor *noise_strength) {
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim >= 2, "bias_act: expected [N, C, ...], got %s", SHAPE(x, a));
    OP_REQUIRE(ctx, !bias || (bias->ndim == 1 && bias->shape[0] == x->shape[1]),
               "bias_act: bias %s does not match input %s", SHAPE(bias, a), SHAPE(x, b));
    OP_REQUIRE(ctx, !noise || noise_fits(x, noise), "bias_act: noise %s does not match input %s",
               SHAPE(noise, a), SHAPE(x, b));
    OP_REQUIRE(ctx, !noise || (noise_strength && noise_strength->numel == 1),
               "bias_act: noise needs a one-element noise_strength");
    return NULL;
}

gan_tensor *gan_bias_act(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                         const gan_tensor *noise_strength, gan_bias_act_args args) {
    OP_BEGIN(ctx, x);
    check_args(ctx, x, bias, noise, noise_strength);
    if (ctx->failed) return NULL;
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, y, bias_act, x, bias, noise, noise_strength, &args);
}

gan_tensor *gan_bias_act_inplace(gan_ctx *ctx, gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                                 const gan_tensor *noise_strength, gan_bias_act_args args) {
    if (x && !ctx->failed) check_args(ctx, x, bias, noise, noise_strength);
    if (!x || ctx->failed) {
        gan_tensor_free(ctx, x);
        return ctx->failed ? NULL : gan_ctx_fail(ctx, "bias_act: missing input");
    }
    OP_DISPATCH(ctx, x, bias_act, x, bias, noise, noise_strength, &args);
}

gan_tensor *gan_bias_act_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *y, gan_bias_act_args args) {
    OP_BEGIN(ctx, dy, y);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, gan_same_shape(dy, y), "bias_act_backward: gradient %s does not match output %s", SHAPE(dy, a),
               SHAPE(y, b));
    gan_tensor *dz = gan_tensor_new(ctx, y->ndim, y->shape);
    OP_DISPATCH(ctx, dz, bias_act_backward, dy, y, &args);
}

gan_tensor *gan_sum_channels(gan_ctx *ctx, const gan_tensor *x, float scale) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim >= 2, "sum_channels: expected [N, C, ...], got %s", SHAPE(x, a));
    gan_tensor *y = gan_tensor_1d(ctx, x->shape[1]);
    OP_DISPATCH(ctx, y, sum_channels, x, scale);
}

gan_tensor *gan_noise_strength_grad(gan_ctx *ctx, const gan_tensor *dz, const gan_tensor *noise) {
    OP_BEGIN(ctx, dz, noise);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, noise_fits(dz, noise), "noise_strength_grad: noise %s does not match gradient %s",
               SHAPE(noise, a), SHAPE(dz, b));
    gan_tensor *y = gan_tensor_new(ctx, 0, NULL);
    OP_DISPATCH(ctx, y, noise_strength_grad, dz, noise);
}

gan_tensor *gan_bias_act_frozen(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                                const gan_tensor *noise_strength, gan_bias_act_args args, const gan_tensor *mask_y) {
    OP_BEGIN(ctx, x, mask_y);
    check_args(ctx, x, bias, noise, noise_strength);
    if (ctx->failed) return NULL;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, gan_same_shape(x, mask_y), "bias_act_frozen: mask %s does not match input %s", SHAPE(mask_y, a),
               SHAPE(x, b));
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, y, bias_act_frozen, x, bias, noise, noise_strength, &args, mask_y);
}
