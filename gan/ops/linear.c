/* Equalized-learning-rate fully connected layer and the 2nd-moment
 * normalisation of latent vectors. */
#include "internal.h"

gan_tensor *gan_linear(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *bias,
                       float weight_gain, float bias_gain) {
    OP_BEGIN(ctx, x, weight);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 2 && weight->ndim == 2 && x->shape[1] == weight->shape[1],
               "linear: input %s does not match weight %s", SHAPE(x, a), SHAPE(weight, b));
    OP_REQUIRE(ctx, !bias || (bias->ndim == 1 && bias->shape[0] == weight->shape[0]),
               "linear: bias %s does not match weight %s", SHAPE(bias, a), SHAPE(weight, b));
    gan_tensor *y = gan_tensor_2d(ctx, x->shape[0], weight->shape[0]);
    OP_DISPATCH(ctx, y, linear, x, weight, bias, weight_gain, bias_gain);
}

gan_tensor *gan_normalize_2nd_moment(gan_ctx *ctx, const gan_tensor *x) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 2, "normalize_2nd_moment: expected [N, C], got %s", SHAPE(x, a));
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, y, normalize_2nd_moment, x);
}

gan_tensor *gan_linear_backward_input(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *weight, float weight_gain) {
    OP_BEGIN(ctx, dy, weight);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, dy->ndim == 2 && weight->ndim == 2 && dy->shape[1] == weight->shape[0],
               "linear_backward_input: gradient %s does not match weight %s", SHAPE(dy, a), SHAPE(weight, b));
    gan_tensor *dx = gan_tensor_2d(ctx, dy->shape[0], weight->shape[1]);
    OP_DISPATCH(ctx, dx, linear_backward_input, dy, weight, weight_gain);
}

gan_tensor *gan_linear_backward_weight(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, float weight_gain) {
    OP_BEGIN(ctx, dy, x);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, dy->ndim == 2 && x->ndim == 2 && dy->shape[0] == x->shape[0],
               "linear_backward_weight: gradient %s does not match input %s", SHAPE(dy, a), SHAPE(x, b));
    gan_tensor *dw = gan_tensor_2d(ctx, dy->shape[1], x->shape[1]);
    OP_DISPATCH(ctx, dw, linear_backward_weight, dy, x, weight_gain);
}

gan_tensor *gan_normalize_2nd_moment_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x) {
    OP_BEGIN(ctx, dy, x);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 2 && gan_same_shape(dy, x),
               "normalize_2nd_moment_backward: gradient %s does not match input %s", SHAPE(dy, a), SHAPE(x, b));
    gan_tensor *dx = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, dx, normalize_2nd_moment_backward, dy, x);
}
