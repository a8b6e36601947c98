/* FIR filtering with up- and down-sampling (the reference's upfirdn2d). */
#include "internal.h"

gan_tensor *gan_upfirdn2d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *filter, gan_upfirdn2d_args args) {
    OP_BEGIN(ctx, x, filter);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, x->ndim == 4, "upfirdn2d: expected [N, C, H, W], got %s", SHAPE(x, a));
    OP_REQUIRE(ctx, filter->ndim == 2 && filter->numel > 0, "upfirdn2d: expected a 2-D filter, got %s",
               SHAPE(filter, a));
    OP_REQUIRE(ctx, args.up_x >= 1 && args.up_y >= 1 && args.down_x >= 1 && args.down_y >= 1,
               "upfirdn2d: up and down factors must be at least 1");
    int64_t h = x->shape[2] * args.up_y + args.pad_y0 + args.pad_y1 - filter->shape[0];
    int64_t w = x->shape[3] * args.up_x + args.pad_x0 + args.pad_x1 - filter->shape[1];
    OP_REQUIRE(ctx, h >= 0 && w >= 0, "upfirdn2d: padding leaves no output for input %s", SHAPE(x, a));
    gan_tensor *y = gan_tensor_4d(ctx, x->shape[0], x->shape[1], h / args.down_y + 1, w / args.down_x + 1);
    OP_DISPATCH(ctx, y, upfirdn2d, x, filter, &args);
}

gan_tensor *gan_upsample2d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *filter) {
    if (!filter) return gan_upfirdn2d(ctx, x, filter, (gan_upfirdn2d_args){0});
    int fw = (int)filter->shape[1], fh = (int)filter->shape[0];
    return gan_upfirdn2d(ctx, x, filter,
                         (gan_upfirdn2d_args){.up_x = 2, .up_y = 2, .down_x = 1, .down_y = 1,
                                              .pad_x0 = (fw + 1) / 2, .pad_x1 = (fw - 2) / 2,
                                              .pad_y0 = (fh + 1) / 2, .pad_y1 = (fh - 2) / 2, .gain = 4});
}

gan_tensor *gan_downsample2d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *filter) {
    if (!filter) return gan_upfirdn2d(ctx, x, filter, (gan_upfirdn2d_args){0});
    int fw = (int)filter->shape[1], fh = (int)filter->shape[0];
    return gan_upfirdn2d(ctx, x, filter,
                         (gan_upfirdn2d_args){.up_x = 1, .up_y = 1, .down_x = 2, .down_y = 2,
                                              .pad_x0 = (fw - 1) / 2, .pad_x1 = (fw - 2) / 2,
                                              .pad_y0 = (fh - 1) / 2, .pad_y1 = (fh - 2) / 2, .gain = 1});
}

gan_upfirdn2d_args gan_upfirdn2d_backward_args(gan_upfirdn2d_args f, int fh, int fw, int in_h, int in_w, int out_h,
                                               int out_w) {
    /* Each output sample read the padded, zero-stuffed input through the
     * filter; reading the gradient back through the flipped filter, with
     * the padding that lines the two grids up again, is the adjoint. */
    return (gan_upfirdn2d_args){.up_x = f.down_x,
                                .up_y = f.down_y,
                                .down_x = f.up_x,
                                .down_y = f.up_y,
                                .pad_x0 = fw - f.pad_x0 - 1,
                                .pad_x1 = in_w * f.up_x - out_w * f.down_x + f.pad_x0 - f.up_x + 1,
                                .pad_y0 = fh - f.pad_y0 - 1,
                                .pad_y1 = in_h * f.up_y - out_h * f.down_y + f.pad_y0 - f.up_y + 1,
                                .gain = f.gain,
                                .flip_filter = !f.flip_filter};
}

gan_tensor *gan_upfirdn2d_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *filter,
                                   gan_upfirdn2d_args forward, int in_h, int in_w) {
    OP_BEGIN(ctx, dy, filter);
    char a[GAN_SHAPE_STR_LEN];
    OP_REQUIRE(ctx, dy->ndim == 4 && filter->ndim == 2, "upfirdn2d_backward: expected [N, C, H, W], got %s",
               SHAPE(dy, a));
    gan_upfirdn2d_args back = gan_upfirdn2d_backward_args(forward, (int)filter->shape[0], (int)filter->shape[1], in_h,
                                                          in_w, (int)dy->shape[2], (int)dy->shape[3]);
    gan_tensor *dx = gan_upfirdn2d(ctx, dy, filter, back);
    OP_REQUIRE(ctx, !dx || (dx->shape[2] == in_h && dx->shape[3] == in_w),
               "upfirdn2d_backward: gradient %s does not fit an input of %d x %d", SHAPE(dy, a), in_h, in_w);
    return dx;
}
