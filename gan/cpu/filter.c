#include "../kernel_math.h"
#include "cpu.h"

int cpu_filter_1d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *taps, int axis, int transpose) {
    int64_t channels = x->shape[1], in_h = x->shape[2], in_w = x->shape[3];
    int64_t out_h = y->shape[2], out_w = y->shape[3];
    int k = (int)taps->shape[1];
#pragma omp parallel for num_threads(ctx->threads) if (y->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t e = 0; e < y->numel; e++) {
        int64_t col = e % out_w, row = e / out_w % out_h, plane = e / (out_w * out_h), n = plane / channels;
        const float *src = x->data + plane * in_h * in_w;
        y->data[e] = axis == 3 ? gan_filter_tap_sum(src + row * in_w, 1, in_w, taps->data + n * k, k, col, transpose)
                               : gan_filter_tap_sum(src + col, in_w, in_h, taps->data + n * k, k, row, transpose);
    }
    return 0;
}
