/* Element-wise ops: sums and the truncation trick. */
#include "internal.h"

gan_tensor *gan_add(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b) {
    OP_BEGIN(ctx, a, b);
    char sa[GAN_SHAPE_STR_LEN], sb[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, gan_same_shape(a, b), "add: shapes %s and %s differ", SHAPE(a, sa), SHAPE(b, sb));
    gan_tensor *y = gan_tensor_new(ctx, a->ndim, a->shape);
    OP_DISPATCH(ctx, y, add, a, b);
}

gan_tensor *gan_truncate(gan_ctx *ctx, const gan_tensor *ws, const gan_tensor *w_avg, float psi, int cutoff) {
    OP_BEGIN(ctx, ws, w_avg);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, ws->ndim == 3 && w_avg->ndim == 1 && w_avg->shape[0] == ws->shape[2],
               "truncate: ws %s do not match w_avg %s", SHAPE(ws, a), SHAPE(w_avg, b));
    gan_tensor *y = gan_tensor_new(ctx, ws->ndim, ws->shape);
    OP_DISPATCH(ctx, y, truncate, ws, w_avg, psi, cutoff);
}
