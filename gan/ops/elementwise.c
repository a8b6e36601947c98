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

int gan_accumulate(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, float alpha) {
    if (ctx->failed) return -1;
    if (!dst || !src) return gan_ctx_fail(ctx, "accumulate: missing input"), -1;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    if (dst->numel != src->numel)
        return gan_ctx_fail(ctx, "accumulate: shapes %s and %s differ", SHAPE(dst, a), SHAPE(src, b)), -1;
    if (!ctx->backend->axpy) return gan_ctx_fail(ctx, "op axpy is not implemented on the %s backend", ctx->backend->name), -1;
    if (ctx->backend->axpy(ctx, dst, src, alpha) != 0) {
        if (!ctx->failed) gan_ctx_fail(ctx, "op axpy failed");
        return -1;
    }
    return 0;
}
