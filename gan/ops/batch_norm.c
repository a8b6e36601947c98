/* Batch normalisation: the statistics, the normalisation with a per-channel
 * or per-sample affine map, and its gradients with batch statistics. */
#include "internal.h"

/* A [C] tensor, or [N, C] when per-sample is allowed. */
static int affine_shape_ok(const gan_tensor *t, const gan_tensor *x) {
    if (!t) return 1;
    if (t->ndim == 1) return t->shape[0] == x->shape[1];
    return t->ndim == 2 && t->shape[0] == x->shape[0] && t->shape[1] == x->shape[1];
}

static int stats_shape_ok(const gan_tensor *t, const gan_tensor *x) { return t->ndim == 1 && t->shape[0] == x->shape[1]; }

/* Runs a backend entry that fills several outputs, with the profiling and
 * failure handling of OP_DISPATCH. */
#define MULTI_DISPATCH(ctx, entry, call)                                                                   \
    do {                                                                                                   \
        if (!(ctx)->failed && !(ctx)->backend->entry)                                                      \
            gan_ctx_fail((ctx), "op %s is not implemented on the %s backend", #entry, (ctx)->backend->name); \
        double start_ = (ctx)->profiling ? (gan_ctx_sync(ctx), gan_seconds()) : 0;                         \
        if (!(ctx)->failed && (call) != 0 && !(ctx)->failed) gan_ctx_fail((ctx), "op %s failed", #entry); \
        if ((ctx)->profiling && gan_ctx_sync(ctx) == 0) gan_ctx_profile_add((ctx), #entry, gan_seconds() - start_); \
    } while (0)

int gan_batch_stats(gan_ctx *ctx, const gan_tensor *x, gan_tensor **mean, gan_tensor **var) {
    char a[GAN_SHAPE_STR_LEN];
    *mean = *var = NULL;
    if (ctx->failed) return -1;
    if (!x) return gan_ctx_fail(ctx, "batch_stats: missing input"), -1;
    if (x->numel < 0) return gan_ctx_fail(ctx, "batch_stats: a view of the wrong size"), -1;
    if (x->ndim < 2 || x->numel < 1) return gan_ctx_fail(ctx, "batch_stats: expected [N, C, ...], got %s", SHAPE(x, a)), -1;
    gan_tensor *m = gan_tensor_1d(ctx, x->shape[1]), *v = gan_tensor_1d(ctx, x->shape[1]);
    MULTI_DISPATCH(ctx, batch_stats, ctx->backend->batch_stats(ctx, m, v, x));
    if (ctx->failed) {
        gan_tensor_free(ctx, m);
        gan_tensor_free(ctx, v);
        return -1;
    }
    *mean = m, *var = v;
    return 0;
}

gan_tensor *gan_batch_norm(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var,
                           const gan_tensor *gain, const gan_tensor *bias, gan_batch_norm_args args) {
    OP_BEGIN(ctx, x, mean, var);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim >= 2 && stats_shape_ok(mean, x) && stats_shape_ok(var, x),
               "batch_norm: statistics %s do not match input %s", SHAPE(mean, a), SHAPE(x, b));
    OP_REQUIRE(ctx, affine_shape_ok(gain, x) && affine_shape_ok(bias, x),
               "batch_norm: gain or bias is neither [C] nor [N, C] for input %s", SHAPE(x, a));
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, y, batch_norm, x, mean, var, gain, bias, &args);
}

int gan_batch_norm_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, const gan_tensor *mean,
                            const gan_tensor *var, const gan_tensor *gain, gan_batch_norm_args args, gan_tensor **dx,
                            gan_tensor **dgain, gan_tensor **dbias) {
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    if (ctx->failed) return -1;
    if (!dy || !x || !mean || !var) return gan_ctx_fail(ctx, "batch_norm_backward: missing input"), -1;
    if (dy->numel < 0 || x->numel < 0 || mean->numel < 0 || var->numel < 0 || (gain && gain->numel < 0))
        return gan_ctx_fail(ctx, "batch_norm_backward: a view of the wrong size"), -1;
    if (!gan_same_shape(dy, x) || x->ndim < 2 || !stats_shape_ok(mean, x) || !stats_shape_ok(var, x) ||
        !affine_shape_ok(gain, x))
        return gan_ctx_fail(ctx, "batch_norm_backward: gradient %s, input %s and statistics or gain disagree",
                            SHAPE(dy, a), SHAPE(x, b)),
               -1;
    gan_tensor *out[3] = {NULL, NULL, NULL};
    const int64_t affine_shape[2] = {x->shape[0], x->shape[1]};
    int per_sample = gain && gain->ndim == 2;
    if (dx) out[0] = gan_tensor_new(ctx, x->ndim, x->shape);
    if (dgain) out[1] = per_sample ? gan_tensor_new(ctx, 2, affine_shape) : gan_tensor_1d(ctx, x->shape[1]);
    if (dbias) out[2] = per_sample ? gan_tensor_new(ctx, 2, affine_shape) : gan_tensor_1d(ctx, x->shape[1]);
    MULTI_DISPATCH(ctx, batch_norm_backward,
                   ctx->backend->batch_norm_backward(ctx, out[0], out[1], out[2], dy, x, mean, var, gain, &args));
    if (ctx->failed) {
        for (int i = 0; i < 3; i++) gan_tensor_free(ctx, out[i]);
        return -1;
    }
    if (dx) *dx = out[0];
    if (dgain) *dgain = out[1];
    if (dbias) *dbias = out[2];
    return 0;
}
