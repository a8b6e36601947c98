/* Plain convolution (the discriminator's layers), forward and backward. */
#include "internal.h"

static int64_t out_size(int64_t in, int k, const gan_conv2d_args *a) { return (in + 2 * a->pad - k) / a->stride + 1; }

static void *check_args(gan_ctx *ctx, const gan_tensor *x_or_dx_shape, const gan_tensor *weight,
                        const gan_conv2d_args *args) {
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    const gan_tensor *x = x_or_dx_shape;
    OP_REQUIRE(ctx, x->ndim == 4 && weight->ndim == 4 && x->shape[1] == weight->shape[1] &&
                        weight->shape[2] == weight->shape[3],
               "conv2d: input %s does not match weight %s", SHAPE(x, a), SHAPE(weight, b));
    OP_REQUIRE(ctx, args->stride >= 1 && args->pad >= 0, "conv2d: bad stride %d or padding %d", args->stride,
               args->pad);
    int k = (int)weight->shape[2];
    OP_REQUIRE(ctx, x->shape[2] + 2 * args->pad >= k && x->shape[3] + 2 * args->pad >= k,
               "conv2d: input %s is smaller than the kernel %s", SHAPE(x, a), SHAPE(weight, b));
    return NULL;
}

gan_tensor *gan_conv2d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *weight, gan_conv2d_args args) {
    OP_BEGIN(ctx, x, weight);
    check_args(ctx, x, weight, &args);
    if (ctx->failed) return NULL;
    int k = (int)weight->shape[2];
    gan_tensor *y = gan_tensor_4d(ctx, x->shape[0], weight->shape[0], out_size(x->shape[2], k, &args),
                                  out_size(x->shape[3], k, &args));
    OP_DISPATCH(ctx, y, conv2d, x, weight, &args);
}

gan_tensor *gan_conv2d_backward_input(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *weight,
                                      gan_conv2d_args args, int in_h, int in_w) {
    OP_BEGIN(ctx, dy, weight);
    gan_tensor shape = {.ndim = 4, .shape = {dy->shape[0], weight->ndim == 4 ? weight->shape[1] : 0, in_h, in_w}};
    check_args(ctx, &shape, weight, &args);
    if (ctx->failed) return NULL;
    char a[GAN_SHAPE_STR_LEN];
    int k = (int)weight->shape[2];
    OP_REQUIRE(ctx, dy->ndim == 4 && dy->shape[1] == weight->shape[0] && dy->shape[2] == out_size(in_h, k, &args) &&
                        dy->shape[3] == out_size(in_w, k, &args),
               "conv2d_backward_input: gradient %s does not match an input of %d x %d", SHAPE(dy, a), in_h, in_w);
    gan_tensor *dx = gan_tensor_4d(ctx, dy->shape[0], weight->shape[1], in_h, in_w);
    OP_DISPATCH(ctx, dx, conv2d_backward_input, dy, weight, &args);
}

gan_tensor *gan_conv2d_backward_weight(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, int kernel,
                                       gan_conv2d_args args) {
    OP_BEGIN(ctx, dy, x);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, dy->ndim == 4 && x->ndim == 4 && dy->shape[0] == x->shape[0] && kernel >= 1 &&
                        dy->shape[2] == out_size(x->shape[2], kernel, &args) &&
                        dy->shape[3] == out_size(x->shape[3], kernel, &args),
               "conv2d_backward_weight: gradient %s does not match input %s", SHAPE(dy, a), SHAPE(x, b));
    gan_tensor *dw = gan_tensor_4d(ctx, dy->shape[1], x->shape[1], kernel, kernel);
    OP_DISPATCH(ctx, dw, conv2d_backward_weight, dy, x, &args);
}
