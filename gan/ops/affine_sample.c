/* ADA's geometric resampling: affine_grid + bilinear grid_sample, fused. */
#include "internal.h"

static void *check_theta(gan_ctx *ctx, const char *op, const gan_tensor *x, const gan_tensor *theta, int h, int w) {
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 4, "%s: expected [N, C, H, W], got %s", op, SHAPE(x, a));
    OP_REQUIRE(ctx, theta->ndim == 3 && theta->shape[0] == x->shape[0] && theta->shape[1] == 2 && theta->shape[2] == 3,
               "%s: theta %s does not match %s (want [N, 2, 3])", op, SHAPE(theta, b), SHAPE(x, a));
    OP_REQUIRE(ctx, h > 0 && w > 0 && h <= 65536 && w <= 65536, "%s: bad size %d x %d", op, h, w);
    return NULL;
}

gan_tensor *gan_affine_sample(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *theta, int out_h, int out_w) {
    OP_BEGIN(ctx, x, theta);
    check_theta(ctx, "affine_sample", x, theta, out_h, out_w);
    if (ctx->failed) return NULL;
    gan_tensor *y = gan_tensor_4d(ctx, x->shape[0], x->shape[1], out_h, out_w);
    OP_DISPATCH(ctx, y, affine_sample, x, theta);
}

gan_tensor *gan_affine_sample_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *theta, int in_h,
                                       int in_w) {
    OP_BEGIN(ctx, dy, theta);
    check_theta(ctx, "affine_sample_backward", dy, theta, in_h, in_w);
    if (ctx->failed) return NULL;
    gan_tensor *dx = gan_tensor_4d(ctx, dy->shape[0], dy->shape[1], in_h, in_w);
    OP_DISPATCH(ctx, dx, affine_sample_backward, dy, theta);
}
