/* Minibatch standard deviation (the discriminator's epilogue), forward and
 * backward. */
#include "internal.h"

static void *check_mbstd(gan_ctx *ctx, const gan_tensor *x, const gan_mbstd_args *args) {
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 4, "mbstd: expected [N, C, H, W], got %s", SHAPE(x, a));
    OP_REQUIRE(ctx, args->group_size >= 1 && args->num_channels >= 1, "mbstd: bad group size %d or channels %d",
               args->group_size, args->num_channels);
    int64_t g = args->group_size < x->shape[0] ? args->group_size : x->shape[0];
    OP_REQUIRE(ctx, x->shape[0] % g == 0, "mbstd: batch %lld is not a multiple of the group size %lld",
               (long long)x->shape[0], (long long)g);
    OP_REQUIRE(ctx, x->shape[1] % args->num_channels == 0, "mbstd: %lld channels do not split into %d features",
               (long long)x->shape[1], args->num_channels);
    return NULL;
}

gan_tensor *gan_mbstd(gan_ctx *ctx, const gan_tensor *x, gan_mbstd_args args) {
    OP_BEGIN(ctx, x);
    check_mbstd(ctx, x, &args);
    if (ctx->failed) return NULL;
    gan_tensor *y = gan_tensor_4d(ctx, x->shape[0], x->shape[1] + args.num_channels, x->shape[2], x->shape[3]);
    OP_DISPATCH(ctx, y, mbstd, x, &args);
}

gan_tensor *gan_mbstd_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, gan_mbstd_args args) {
    OP_BEGIN(ctx, dy, x);
    check_mbstd(ctx, x, &args);
    if (ctx->failed) return NULL;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, dy->ndim == 4 && dy->shape[0] == x->shape[0] && dy->shape[1] == x->shape[1] + args.num_channels &&
                        dy->shape[2] == x->shape[2] && dy->shape[3] == x->shape[3],
               "mbstd_backward: gradient %s does not match input %s", SHAPE(dy, a), SHAPE(x, b));
    gan_tensor *dx = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, dx, mbstd_backward, dy, x, &args);
}

gan_tensor *gan_mbstd_jvp(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *t, gan_mbstd_args args) {
    OP_BEGIN(ctx, x, t);
    check_mbstd(ctx, x, &args);
    if (ctx->failed) return NULL;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, gan_same_shape(x, t), "mbstd_jvp: tangent %s does not match input %s", SHAPE(t, a), SHAPE(x, b));
    gan_tensor *y = gan_tensor_4d(ctx, x->shape[0], x->shape[1] + args.num_channels, x->shape[2], x->shape[3]);
    OP_DISPATCH(ctx, y, mbstd_jvp, x, t, &args);
}

gan_tensor *gan_mbstd_jvp_backward_x(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, const gan_tensor *t,
                                     gan_mbstd_args args) {
    OP_BEGIN(ctx, dy, x, t);
    check_mbstd(ctx, x, &args);
    if (ctx->failed) return NULL;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, gan_same_shape(x, t) && dy->ndim == 4 && dy->shape[0] == x->shape[0] &&
                        dy->shape[1] == x->shape[1] + args.num_channels && dy->shape[2] == x->shape[2] &&
                        dy->shape[3] == x->shape[3],
               "mbstd_jvp_backward_x: gradient %s does not match input %s", SHAPE(dy, a), SHAPE(x, b));
    gan_tensor *dx = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, dx, mbstd_jvp_backward_x, dy, x, t, &args);
}
