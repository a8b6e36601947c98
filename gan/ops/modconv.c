/* Modulated (and demodulated) convolution, the core of the StyleGAN2
 * synthesis network, with the x2 up-sampling variant used by conv0. */
#include <string.h>

#include "internal.h"

/* Python's floor division, which the reference's padding formulas use. */
static int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

void gan_modconv_up_padding(int k, int f, int *pad0, int *pad1) {
    int p = k / 2;
    *pad0 = p + floor_div(f + 1, 2) - (k - 1);
    *pad1 = p + floor_div(f - 2, 2) - (k - 2);
}

/* Records a failure in ctx unless the arguments fit together; returns NULL. */
static void *check_args(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                        const gan_modconv_args *args) {
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 4 && weight->ndim == 4 && x->shape[1] == weight->shape[1],
               "modconv: input %s does not match weight %s", SHAPE(x, a), SHAPE(weight, b));
    OP_REQUIRE(ctx, weight->shape[2] == weight->shape[3] && weight->shape[2] % 2 == 1,
               "modconv: kernel %s must be square and odd", SHAPE(weight, a));
    OP_REQUIRE(ctx, styles->ndim == 2 && styles->shape[0] == x->shape[0] && styles->shape[1] == x->shape[1],
               "modconv: styles %s do not match input %s", SHAPE(styles, a), SHAPE(x, b));
    OP_REQUIRE(ctx, args->up == 1 || args->up == 2, "modconv: up must be 1 or 2, got %d", args->up);
    if (args->up == 2) {
        OP_REQUIRE(ctx, args->filter && args->filter->ndim == 2, "modconv: up-sampling needs a 2-D filter");
        int k = (int)weight->shape[2], px0, px1, py0, py1;
        gan_modconv_up_padding(k, (int)args->filter->shape[1], &px0, &px1);
        gan_modconv_up_padding(k, (int)args->filter->shape[0], &py0, &py1);
        OP_REQUIRE(ctx, px0 >= 0 && px1 >= 0 && py0 >= 0 && py1 >= 0,
                   "modconv: filter %s is too small for kernel size %d", SHAPE(args->filter, a), k);
    }
    return NULL;
}

gan_tensor *gan_modconv(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                        gan_modconv_args args) {
    OP_BEGIN(ctx, x, weight, styles);
    check_args(ctx, x, weight, styles, &args);
    if (ctx->failed) return NULL;
    gan_tensor *y = gan_tensor_4d(ctx, x->shape[0], weight->shape[0], x->shape[2] * args.up, x->shape[3] * args.up);
    OP_DISPATCH(ctx, y, modconv, x, weight, styles, &args);
}

static void *check_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, const gan_tensor *weight,
                            const gan_tensor *styles, const gan_modconv_args *args) {
    OP_BEGIN(ctx, dy, x, weight, styles);
    check_args(ctx, x, weight, styles, args);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    int64_t want[4] = {x->shape[0], weight->shape[0], x->shape[2] * args->up, x->shape[3] * args->up};
    OP_REQUIRE(ctx, dy->ndim == 4 && memcmp(dy->shape, want, sizeof want) == 0,
               "modconv_backward: gradient %s does not match output %s", SHAPE(dy, a),
               gan_shape_str(4, want, b, sizeof b));
    return NULL;
}

int gan_modconv_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, const gan_tensor *weight,
                         const gan_tensor *styles, gan_modconv_args args, gan_tensor **dx, gan_tensor **dweight,
                         gan_tensor **dstyles) {
    gan_tensor *out[3] = {NULL, NULL, NULL};
    check_backward(ctx, dy, x, weight, styles, &args);
    if (!ctx->failed && !ctx->backend->modconv_backward)
        gan_ctx_fail(ctx, "op modconv_backward is not implemented on the %s backend", ctx->backend->name);
    if (!ctx->failed) {
        if (dx) out[0] = gan_tensor_new(ctx, x->ndim, x->shape);
        if (dweight) out[1] = gan_tensor_new(ctx, weight->ndim, weight->shape);
        if (dstyles) out[2] = gan_tensor_new(ctx, styles->ndim, styles->shape);
    }
    double start = ctx->profiling ? (gan_ctx_sync(ctx), gan_seconds()) : 0;
    if (!ctx->failed && ctx->backend->modconv_backward(ctx, out[0], out[1], out[2], dy, x, weight, styles, &args) != 0 &&
        !ctx->failed)
        gan_ctx_fail(ctx, "op modconv_backward failed");
    if (ctx->profiling && gan_ctx_sync(ctx) == 0) gan_ctx_profile_add(ctx, "modconv_backward", gan_seconds() - start);
    if (ctx->failed) {
        for (int i = 0; i < 3; i++) gan_tensor_free(ctx, out[i]);
        return -1;
    }
    if (dx) *dx = out[0];
    if (dweight) *dweight = out[1];
    if (dstyles) *dstyles = out[2];
    return 0;
}
