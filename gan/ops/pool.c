/* 2x resampling of BigGAN: max and average pooling, nearest up-sampling. */
#include "internal.h"

static int is_image(const gan_tensor *x) { return x->ndim == 4; }
static int even_size(const gan_tensor *x) { return x->shape[2] % 2 == 0 && x->shape[3] % 2 == 0; }

static gan_tensor *half_size(gan_ctx *ctx, const gan_tensor *x) {
    return gan_tensor_4d(ctx, x->shape[0], x->shape[1], x->shape[2] / 2, x->shape[3] / 2);
}

static gan_tensor *double_size(gan_ctx *ctx, const gan_tensor *x) {
    return gan_tensor_4d(ctx, x->shape[0], x->shape[1], x->shape[2] * 2, x->shape[3] * 2);
}

gan_tensor *gan_max_pool2d(gan_ctx *ctx, const gan_tensor *x) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, is_image(x) && even_size(x), "max_pool2d: expected [N, C, H, W] with H, W even, got %s",
               SHAPE(x, a));
    gan_tensor *y = half_size(ctx, x);
    OP_DISPATCH(ctx, y, max_pool2d, x);
}

gan_tensor *gan_max_pool2d_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x) {
    OP_BEGIN(ctx, dy, x);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, is_image(x) && even_size(x) && is_image(dy) && dy->shape[0] == x->shape[0] &&
                        dy->shape[1] == x->shape[1] && dy->shape[2] * 2 == x->shape[2] && dy->shape[3] * 2 == x->shape[3],
               "max_pool2d_backward: gradient %s does not match input %s", SHAPE(dy, a), SHAPE(x, b));
    gan_tensor *dx = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, dx, max_pool2d_backward, dy, x);
}

gan_tensor *gan_avg_pool2d(gan_ctx *ctx, const gan_tensor *x) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, is_image(x) && even_size(x), "avg_pool2d: expected [N, C, H, W] with H, W even, got %s",
               SHAPE(x, a));
    gan_tensor *y = half_size(ctx, x);
    OP_DISPATCH(ctx, y, avg_pool2d, x);
}

gan_tensor *gan_avg_pool2d_backward(gan_ctx *ctx, const gan_tensor *dy) {
    OP_BEGIN(ctx, dy);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, is_image(dy), "avg_pool2d_backward: expected [N, C, H, W], got %s", SHAPE(dy, a));
    gan_tensor *dx = double_size(ctx, dy);
    OP_DISPATCH(ctx, dx, avg_pool2d_backward, dy);
}

gan_tensor *gan_upsample_nearest2d(gan_ctx *ctx, const gan_tensor *x) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, is_image(x), "upsample_nearest2d: expected [N, C, H, W], got %s", SHAPE(x, a));
    gan_tensor *y = double_size(ctx, x);
    OP_DISPATCH(ctx, y, upsample_nearest2d, x);
}

gan_tensor *gan_upsample_nearest2d_backward(gan_ctx *ctx, const gan_tensor *dy) {
    OP_BEGIN(ctx, dy);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, is_image(dy) && even_size(dy),
               "upsample_nearest2d_backward: expected [N, C, H, W] with H, W even, got %s", SHAPE(dy, a));
    gan_tensor *dx = half_size(ctx, dy);
    OP_DISPATCH(ctx, dx, upsample_nearest2d_backward, dy);
}
