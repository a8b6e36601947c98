/* Data movement: repeating, broadcasting, selecting and concatenating rows. */
#include <string.h>

#include "internal.h"

gan_tensor *gan_repeat(gan_ctx *ctx, const gan_tensor *x, int64_t count) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim < GAN_MAX_DIMS && count >= 1, "repeat: cannot repeat %s %lld times", SHAPE(x, a),
               (long long)count);
    int64_t shape[GAN_MAX_DIMS] = {count};
    for (int i = 0; i < x->ndim; i++) shape[i + 1] = x->shape[i];
    gan_tensor *y = gan_tensor_new(ctx, x->ndim + 1, shape);
    OP_DISPATCH(ctx, y, repeat, x);
}

gan_tensor *gan_broadcast_rows(gan_ctx *ctx, const gan_tensor *x, int64_t count) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 2 && count >= 1, "broadcast_rows: expected [N, D] and count >= 1, got %s",
               SHAPE(x, a));
    gan_tensor *y = gan_tensor_3d(ctx, x->shape[0], count, x->shape[1]);
    OP_DISPATCH(ctx, y, broadcast_rows, x);
}

gan_tensor *gan_select_row(gan_ctx *ctx, const gan_tensor *x, int64_t index) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 3 && index >= 0 && index < x->shape[1], "select_row: no row %lld in %s",
               (long long)index, SHAPE(x, a));
    gan_tensor *y = gan_tensor_2d(ctx, x->shape[0], x->shape[2]);
    OP_DISPATCH(ctx, y, select_row, x, index);
}

gan_tensor *gan_slice(gan_ctx *ctx, const gan_tensor *x, int64_t start, int64_t count) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim >= 1 && start >= 0 && count >= 1 && start + count <= x->shape[0],
               "slice: rows %lld..%lld are not in %s", (long long)start, (long long)(start + count - 1), SHAPE(x, a));
    int64_t shape[GAN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = count;
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, shape);
    OP_DISPATCH(ctx, y, slice, x, start);
}

int gan_write_slice(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, int64_t start) {
    if (ctx->failed) return -1;
    if (!dst || !src) return gan_ctx_fail(ctx, "write_slice: missing input"), -1;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    int fits = dst->ndim >= 1 && dst->ndim == src->ndim && start >= 0 && start + src->shape[0] <= dst->shape[0];
    for (int i = 1; fits && i < dst->ndim; i++) fits = dst->shape[i] == src->shape[i];
    if (!fits)
        return gan_ctx_fail(ctx, "write_slice: %s does not fit %s at row %lld", SHAPE(src, a), SHAPE(dst, b),
                            (long long)start),
               -1;
    if (!ctx->backend->write_slice)
        return gan_ctx_fail(ctx, "op write_slice is not implemented on the %s backend", ctx->backend->name), -1;
    return ctx->backend->write_slice(ctx, dst, src, start);
}

gan_tensor *gan_concat_cols(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b) {
    OP_BEGIN(ctx, a, b);
    char sa[GAN_SHAPE_STR_LEN], sb[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, a->ndim == 2 && b->ndim == 2 && a->shape[0] == b->shape[0],
               "concat_cols: cannot concatenate %s and %s", SHAPE(a, sa), SHAPE(b, sb));
    gan_tensor *y = gan_tensor_2d(ctx, a->shape[0], a->shape[1] + b->shape[1]);
    OP_DISPATCH(ctx, y, concat_cols, a, b);
}

gan_tensor *gan_mix_rows(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b, int64_t count, int64_t cutoff) {
    OP_BEGIN(ctx, a, b);
    char sa[GAN_SHAPE_STR_LEN], sb[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, a->ndim == 2 && gan_same_shape(a, b) && count >= 1,
               "mix_rows: expected two [N, D] of the same shape, got %s and %s", SHAPE(a, sa), SHAPE(b, sb));
    gan_tensor *y = gan_tensor_3d(ctx, a->shape[0], count, a->shape[1]);
    OP_DISPATCH(ctx, y, mix_rows, a, b, cutoff);
}

gan_tensor *gan_sum_rows(gan_ctx *ctx, const gan_tensor *x, int64_t start, int64_t count) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 3 && start >= 0 && count >= 0 && start + count <= x->shape[1],
               "sum_rows: no rows %lld..%lld in %s", (long long)start, (long long)(start + count), SHAPE(x, a));
    gan_tensor *y = gan_tensor_2d(ctx, x->shape[0], x->shape[2]);
    OP_DISPATCH(ctx, y, sum_rows, x, start, count);
}

gan_tensor *gan_sum_batch(gan_ctx *ctx, const gan_tensor *x) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim >= 2, "sum_batch: expected [N, ...], got %s", SHAPE(x, a));
    gan_tensor *y = gan_tensor_new(ctx, x->ndim - 1, x->shape + 1);
    OP_DISPATCH(ctx, y, sum_batch, x);
}
