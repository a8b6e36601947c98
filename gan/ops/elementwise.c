/* Element-wise ops: sums, products and the truncation trick. */
#include "internal.h"

/* The result of an element-wise op on two tensors of one shape. */
static gan_tensor *same_shape_result(gan_ctx *ctx, const char *op, const gan_tensor *a, const gan_tensor *b) {
    char sa[GAN_SHAPE_STR_LEN], sb[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, gan_same_shape(a, b), "%s: shapes %s and %s differ", op, SHAPE(a, sa), SHAPE(b, sb));
    return gan_tensor_new(ctx, a->ndim, a->shape);
}

gan_tensor *gan_add(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b) {
    OP_BEGIN(ctx, a, b);
    gan_tensor *y = same_shape_result(ctx, "add", a, b);
    OP_DISPATCH(ctx, y, add, a, b);
}

gan_tensor *gan_mul(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b) {
    OP_BEGIN(ctx, a, b);
    gan_tensor *y = same_shape_result(ctx, "mul", a, b);
    OP_DISPATCH(ctx, y, mul, a, b);
}

gan_tensor *gan_truncate(gan_ctx *ctx, const gan_tensor *ws, const gan_tensor *w_avg, float psi, int cutoff) {
    OP_BEGIN(ctx, ws, w_avg);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, ws->ndim == 3 && w_avg->ndim == 1 && w_avg->shape[0] == ws->shape[2],
               "truncate: ws %s do not match w_avg %s", SHAPE(ws, a), SHAPE(w_avg, b));
    gan_tensor *y = gan_tensor_new(ctx, ws->ndim, ws->shape);
    OP_DISPATCH(ctx, y, truncate, ws, w_avg, psi, cutoff);
}

/* In-place ops: they validate, run the backend entry and return 0 or -1. */
static int run_inplace(gan_ctx *ctx, const char *op, int have, int rc) {
    if (!have) return gan_ctx_fail(ctx, "op %s is not implemented on the %s backend", op, ctx->backend->name), -1;
    if (rc != 0 && !ctx->failed) gan_ctx_fail(ctx, "op %s failed", op);
    return rc != 0 ? -1 : 0;
}

int gan_accumulate(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, float alpha) {
    if (ctx->failed) return -1;
    if (!dst || !src) return gan_ctx_fail(ctx, "accumulate: missing input"), -1;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    if (dst->numel != src->numel)
        return gan_ctx_fail(ctx, "accumulate: shapes %s and %s differ", SHAPE(dst, a), SHAPE(src, b)), -1;
    const gan_backend *be = ctx->backend;
    return run_inplace(ctx, "axpy", be->axpy != NULL, be->axpy ? be->axpy(ctx, dst, src, alpha) : -1);
}

int gan_adam_update(gan_ctx *ctx, gan_tensor *param, const gan_tensor *grad, gan_tensor *m, gan_tensor *v,
                    gan_adam_args args) {
    if (ctx->failed) return -1;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    if (!param || !grad || !m || !v) return gan_ctx_fail(ctx, "adam: missing input"), -1;
    if (!gan_same_shape(param, grad) || !gan_same_shape(param, m) || !gan_same_shape(param, v))
        return gan_ctx_fail(ctx, "adam: gradient %s or moments do not match parameter %s", SHAPE(grad, a),
                            SHAPE(param, b)), -1;
    const gan_backend *be = ctx->backend;
    return run_inplace(ctx, "adam", be->adam != NULL, be->adam ? be->adam(ctx, param, grad, m, v, &args) : -1);
}

int gan_lerp_into(gan_ctx *ctx, gan_tensor *ema, const gan_tensor *x, float beta) {
    if (ctx->failed) return -1;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    if (!ema || !x || !gan_same_shape(ema, x))
        return gan_ctx_fail(ctx, "lerp_into: %s and %s differ", ema ? SHAPE(ema, a) : "?", x ? SHAPE(x, b) : "?"), -1;
    const gan_backend *be = ctx->backend;
    return run_inplace(ctx, "lerp_into", be->lerp_into != NULL, be->lerp_into ? be->lerp_into(ctx, ema, x, beta) : -1);
}

int64_t gan_count_nonfinite(gan_ctx *ctx, const gan_tensor *x) {
    if (ctx->failed || !x) return -1;
    gan_tensor *count = gan_tensor_new(ctx, 0, NULL);
    const gan_backend *be = ctx->backend;
    float host = -1;
    if (count && run_inplace(ctx, "count_nonfinite", be->count_nonfinite != NULL,
                             be->count_nonfinite ? be->count_nonfinite(ctx, count, x) : -1) == 0)
        gan_tensor_download(ctx, count, &host);
    gan_tensor_free(ctx, count);
    return ctx->failed ? -1 : (int64_t)host;
}

gan_tensor *gan_scale(gan_ctx *ctx, const gan_tensor *x, float alpha) {
    OP_BEGIN(ctx, x);
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, y, scale, x, alpha);
}
