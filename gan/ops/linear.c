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
