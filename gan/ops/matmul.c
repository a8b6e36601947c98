/* Matrix products and row normalisation: attention, class embeddings and the
 * spectral norm's power iteration. */
#include <limits.h>

#include "internal.h"

/* The (rows, cols) of the matrices of a 2-D or 3-D tensor. */
static void matrix_dims(const gan_tensor *t, int64_t *rows, int64_t *cols) {
    *rows = t->shape[t->ndim - 2];
    *cols = t->shape[t->ndim - 1];
}

gan_tensor *gan_matmul(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b, int trans_a, int trans_b) {
    OP_BEGIN(ctx, a, b);
    char sa[GAN_SHAPE_STR_LEN], sb[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, (a->ndim == 2 || a->ndim == 3) && a->ndim == b->ndim && (a->ndim == 2 || a->shape[0] == b->shape[0]),
               "matmul: expected two 2-D or two 3-D tensors with the same batch, got %s and %s", SHAPE(a, sa),
               SHAPE(b, sb));
    int64_t ar, ac, br, bc;
    matrix_dims(a, &ar, &ac);
    matrix_dims(b, &br, &bc);
    int64_t m = trans_a ? ac : ar, k = trans_a ? ar : ac, kb = trans_b ? bc : br, n = trans_b ? br : bc;
    OP_REQUIRE(ctx, k == kb, "matmul: inner sizes differ: %s%s times %s%s", SHAPE(a, sa), trans_a ? "^T" : "",
               SHAPE(b, sb), trans_b ? "^T" : "");
    /* BLAS takes its sizes as int. */
    OP_REQUIRE(ctx, ar <= INT_MAX && ac <= INT_MAX && br <= INT_MAX && bc <= INT_MAX && a->shape[0] <= INT_MAX,
               "matmul: %s times %s is too large for BLAS", SHAPE(a, sa), SHAPE(b, sb));
    gan_tensor *y = a->ndim == 2 ? gan_tensor_2d(ctx, m, n) : gan_tensor_3d(ctx, a->shape[0], m, n);
    OP_DISPATCH(ctx, y, matmul, a, b, trans_a, trans_b);
}

gan_tensor *gan_normalize_rows(gan_ctx *ctx, const gan_tensor *x, float eps) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 2, "normalize_rows: expected [R, D], got %s", SHAPE(x, a));
    gan_tensor *y = gan_tensor_new(ctx, x->ndim, x->shape);
    OP_DISPATCH(ctx, y, normalize_rows, x, eps);
}

gan_tensor *gan_reshape(gan_ctx *ctx, const gan_tensor *x, int ndim, const int64_t *shape) {
    OP_BEGIN(ctx, x);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    gan_tensor view = gan_tensor_view(x, ndim, shape);
    OP_REQUIRE(ctx, view.numel >= 0, "reshape: %s has %lld elements, %s does not", SHAPE(x, a), (long long)x->numel,
               gan_shape_str(ndim, shape, b, sizeof b));
    gan_tensor *y = gan_tensor_new(ctx, ndim, shape);
    OP_DISPATCH(ctx, y, scale, x, 1.0f);
}
