/* ADA's image-space filter, applied one direction at a time. */
#include "internal.h"

/* The shape of the result: x's with the filtered dimension K - 1 shorter
 * (forward) or longer (the gradient). */
static gan_tensor *filter_1d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *taps, int axis, int transpose) {
    OP_BEGIN(ctx, x, taps);
    const char *op = transpose ? "filter_1d_backward" : "filter_1d";
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 4 && (axis == 2 || axis == 3), "%s: expected [N, C, H, W] and axis 2 or 3, got %s, %d",
               op, SHAPE(x, a), axis);
    OP_REQUIRE(ctx, taps->ndim == 2 && taps->shape[0] == x->shape[0] && taps->shape[1] >= 1,
               "%s: taps %s do not match %s (want [N, K])", op, SHAPE(taps, b), SHAPE(x, a));
    int64_t k = taps->shape[1], shape[4] = {x->shape[0], x->shape[1], x->shape[2], x->shape[3]};
    OP_REQUIRE(ctx, transpose || shape[axis] >= k, "%s: %lld taps on a dimension of %lld", op, (long long)k,
               (long long)shape[axis]);
    shape[axis] += transpose ? k - 1 : 1 - k;
    gan_tensor *y = gan_tensor_new(ctx, 4, shape);
    OP_DISPATCH(ctx, y, filter_1d, x, taps, axis, transpose);
}

gan_tensor *gan_filter_1d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *taps, int axis) {
    return filter_1d(ctx, x, taps, axis, 0);
}

gan_tensor *gan_filter_1d_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *taps, int axis) {
    return filter_1d(ctx, dy, taps, axis, 1);
}
