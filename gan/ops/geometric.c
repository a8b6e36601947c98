/* ADA's geometric ops: reflection padding, and the resampling (affine_grid +
 * bilinear grid_sample, fused). */
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

static void *check_pad(gan_ctx *ctx, const char *op, const gan_tensor *x, const gan_pad_args *p, int64_t h,
                       int64_t w) {
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 4, "%s: expected [N, C, H, W], got %s", op, SHAPE(x, a));
    OP_REQUIRE(ctx, p->left >= 0 && p->right >= 0 && p->top >= 0 && p->bottom >= 0,
               "%s: negative padding", op);
    OP_REQUIRE(ctx, p->left < w && p->right < w && p->top < h && p->bottom < h,
               "%s: padding (%d, %d, %d, %d) must be smaller than the %lld x %lld image", op, p->left, p->right,
               p->top, p->bottom, (long long)h, (long long)w);
    return NULL;
}

gan_tensor *gan_pad_reflect(gan_ctx *ctx, const gan_tensor *x, gan_pad_args pad) {
    OP_BEGIN(ctx, x);
    check_pad(ctx, "pad_reflect", x, &pad, x->ndim == 4 ? x->shape[2] : 0, x->ndim == 4 ? x->shape[3] : 0);
    if (ctx->failed) return NULL;
    gan_tensor *y = gan_tensor_4d(ctx, x->shape[0], x->shape[1], x->shape[2] + pad.top + pad.bottom,
                                  x->shape[3] + pad.left + pad.right);
    OP_DISPATCH(ctx, y, pad_reflect, x, &pad);
}

gan_tensor *gan_pad_reflect_backward(gan_ctx *ctx, const gan_tensor *dy, gan_pad_args pad) {
    OP_BEGIN(ctx, dy);
    int64_t h = dy->ndim == 4 ? dy->shape[2] - pad.top - pad.bottom : 0;
    int64_t w = dy->ndim == 4 ? dy->shape[3] - pad.left - pad.right : 0;
    check_pad(ctx, "pad_reflect_backward", dy, &pad, h, w);
    if (ctx->failed) return NULL;
    gan_tensor *dx = gan_tensor_4d(ctx, dy->shape[0], dy->shape[1], h, w);
    OP_DISPATCH(ctx, dx, pad_reflect_backward, dy, &pad);
}
