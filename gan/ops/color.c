/* ADA's colour transform: a per-sample 4x4 matrix on the pixels. */
#include "internal.h"

static void *check_color(gan_ctx *ctx, const char *op, const gan_tensor *x, const gan_tensor *m) {
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 4 && (x->shape[1] == 3 || x->shape[1] == 1),
               "%s: expected RGB or grey images [N, 3 or 1, H, W], got %s", op, SHAPE(x, a));
    OP_REQUIRE(ctx, m->ndim == 3 && m->shape[0] == x->shape[0] && m->shape[1] == 4 && m->shape[2] == 4,
               "%s: matrices %s do not match images %s (want [N, 4, 4])", op, SHAPE(m, b), SHAPE(x, a));
    return NULL;
}

gan_tensor *gan_color_transform(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *matrices) {
    OP_BEGIN(ctx, x, matrices);
    check_color(ctx, "color_transform", x, matrices);
    if (ctx->failed) return NULL;
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, y, color_transform, x, matrices, 0);
}

gan_tensor *gan_color_transform_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *matrices) {
    OP_BEGIN(ctx, dy, matrices);
    check_color(ctx, "color_transform_backward", dy, matrices);
    if (ctx->failed) return NULL;
    gan_tensor *dx = gan_tensor_new(ctx, dy->ndim, dy->shape);
    OP_DISPATCH(ctx, dx, color_transform, dy, matrices, 1);
}
