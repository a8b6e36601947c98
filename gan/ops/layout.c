/* Data movement: repeating, broadcasting, selecting and concatenating rows. */
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

gan_tensor *gan_concat_cols(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b) {
    OP_BEGIN(ctx, a, b);
    char sa[GAN_SHAPE_STR_LEN], sb[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, a->ndim == 2 && b->ndim == 2 && a->shape[0] == b->shape[0],
               "concat_cols: cannot concatenate %s and %s", SHAPE(a, sa), SHAPE(b, sb));
    gan_tensor *y = gan_tensor_2d(ctx, a->shape[0], a->shape[1] + b->shape[1]);
    OP_DISPATCH(ctx, y, concat_cols, a, b);
}
