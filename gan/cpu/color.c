#include "../kernel_math.h"
#include "cpu.h"

int cpu_color_transform(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *matrices, int transpose) {
    int64_t n = x->shape[0], channels = x->shape[1], plane = x->shape[2] * x->shape[3];
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) schedule(static)
    for (int64_t e = 0; e < n * plane; e++) {
        int64_t s = e / plane, p = e % plane;
        const float *src = x->data + s * channels * plane + p;
        float in[3], out[3];
        for (int c = 0; c < channels; c++) in[c] = src[c * plane];
        gan_color_pixel(matrices->data + s * 16, (int)channels, transpose, in, out);
        for (int c = 0; c < channels; c++) y->data[s * channels * plane + c * plane + p] = out[c];
    }
    return 0;
}
