/* Softmax along the last dimension (the attention map) and tanh (the
 * generator's output). */
#include "internal.h"

gan_tensor *gan_softmax(gan_ctx *ctx, const gan_tensor *x) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim >= 1 && x->shape[x->ndim - 1] > 0, "softmax: empty last dimension in %s", SHAPE(x, a));
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, y, softmax, x);
}

gan_tensor *gan_softmax_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *y) {
    OP_BEGIN(ctx, dy, y);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, gan_same_shape(dy, y) && y->ndim >= 1, "softmax_backward: gradient %s does not match output %s",
               SHAPE(dy, a), SHAPE(y, b));
    OP_REQUIRE(ctx, y->shape[y->ndim - 1] > 0, "softmax_backward: empty last dimension in %s", SHAPE(y, a));
    gan_tensor *dx = gan_tensor_new(ctx, y->ndim, y->shape);
    OP_DISPATCH(ctx, dx, softmax_backward, dy, y);
}

gan_tensor *gan_tanh(gan_ctx *ctx, const gan_tensor *x) {
    OP_BEGIN(ctx, x);
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, y, tanh, x);
}

gan_tensor *gan_tanh_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *y) {
    OP_BEGIN(ctx, dy, y);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, gan_same_shape(dy, y), "tanh_backward: gradient %s does not match output %s", SHAPE(dy, a),
               SHAPE(y, b));
    gan_tensor *dx = gan_tensor_new(ctx, y->ndim, y->shape);
    OP_DISPATCH(ctx, dx, tanh_backward, dy, y);
}
