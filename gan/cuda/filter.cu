/* ADA's 1D image filter on the GPU: one thread per output, the CPU's
 * per-output sum (gan_filter_tap_sum in gan/kernel_math.h). */
#include "../kernel_math.h"
#include "cuda.h"

namespace {

__global__ void filter_1d_kernel(float *y, const float *x, const float *taps, int k, int64_t channels, int64_t in_h,
                                 int64_t in_w, int64_t out_h, int64_t out_w, int axis, int transpose, int64_t total) {
    CUDA_FOR(e, total) {
        int64_t col = e % out_w, row = e / out_w % out_h, plane = e / (out_w * out_h), n = plane / channels;
        const float *src = x + plane * in_h * in_w;
        y[e] = axis == 3 ? gan_filter_tap_sum(src + row * in_w, 1, in_w, taps + n * k, k, col, transpose)
                         : gan_filter_tap_sum(src + col, in_w, in_h, taps + n * k, k, row, transpose);
    }
}

}  // namespace

int cuda_filter_1d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *taps, int axis, int transpose) {
    if (y->numel == 0) return 0;
    filter_1d_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        y->data, x->data, taps->data, (int)taps->shape[1], x->shape[1], x->shape[2], x->shape[3], y->shape[2],
        y->shape[3], axis, transpose, y->numel);
    return cuda_launched(ctx, "filter_1d");
}
