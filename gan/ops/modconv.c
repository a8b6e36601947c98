/* Modulated (and demodulated) convolution, the core of the StyleGAN2
 * synthesis network, with the x2 up-sampling variant used by conv0. */
#include "internal.h"

/* Python's floor division, which the reference's padding formulas use. */
static int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

void gan_modconv_up_padding(int k, int f, int *pad0, int *pad1) {
    int p = k / 2;
    *pad0 = p + floor_div(f + 1, 2) - (k - 1);
    *pad1 = p + floor_div(f - 2, 2) - (k - 2);
}

gan_tensor *gan_modconv(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                        gan_modconv_args args) {
    OP_BEGIN(ctx, x, weight, styles);
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 4 && weight->ndim == 4 && x->shape[1] == weight->shape[1],
               "modconv: input %s does not match weight %s", SHAPE(x, a), SHAPE(weight, b));
    OP_REQUIRE(ctx, weight->shape[2] == weight->shape[3] && weight->shape[2] % 2 == 1,
               "modconv: kernel %s must be square and odd", SHAPE(weight, a));
    OP_REQUIRE(ctx, styles->ndim == 2 && styles->shape[0] == x->shape[0] && styles->shape[1] == x->shape[1],
               "modconv: styles %s do not match input %s", SHAPE(styles, a), SHAPE(x, b));
    OP_REQUIRE(ctx, args.up == 1 || args.up == 2, "modconv: up must be 1 or 2, got %d", args.up);
    if (args.up == 2) {
        OP_REQUIRE(ctx, args.filter && args.filter->ndim == 2, "modconv: up-sampling needs a 2-D filter");
        int k = (int)weight->shape[2], px0, px1, py0, py1;
        gan_modconv_up_padding(k, (int)args.filter->shape[1], &px0, &px1);
        gan_modconv_up_padding(k, (int)args.filter->shape[0], &py0, &py1);
        OP_REQUIRE(ctx, px0 >= 0 && px1 >= 0 && py0 >= 0 && py1 >= 0,
                   "modconv: filter %s is too small for kernel size %d", SHAPE(args.filter, a), k);
    }
    gan_tensor *y = gan_tensor_4d(ctx, x->shape[0], weight->shape[0], x->shape[2] * args.up, x->shape[3] * args.up);
    OP_DISPATCH(ctx, y, modconv, x, weight, styles, &args);
}
