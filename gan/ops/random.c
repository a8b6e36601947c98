/* Random tensors from the counter-based Philox stream (identical on every backend). */
#include "internal.h"

gan_tensor *gan_randn(gan_ctx *ctx, int ndim, const int64_t *shape, const uint64_t *seeds, int count,
                      uint64_t offset) {
    if (ctx->failed) return NULL;
    OP_REQUIRE(ctx, seeds && count >= 1 && ndim >= 1 && shape[0] % count == 0,
               "randn: %d seed(s) do not divide the first dimension", count);
    gan_tensor *y = gan_tensor_new(ctx, ndim, shape);
    OP_DISPATCH(ctx, y, randn, seeds, count, offset);
}
