/* ADA's colour transform on the GPU: one thread per pixel, the CPU's
 * per-pixel code (gan_color_pixel in gan/kernel_math.h). */
#include "../kernel_math.h"
#include "cuda.h"

namespace {

__global__ void color_kernel(float *y, const float *x, const float *matrices, int channels, int64_t plane,
                             int transpose, int64_t pixels) {
    CUDA_FOR(e, pixels) {
        int64_t s = e / plane, p = e % plane;
        const float *src = x + s * channels * plane + p;
        float in[3], out[3];
        for (int c = 0; c < channels; c++) in[c] = src[c * plane];
        gan_color_pixel(matrices + s * 16, channels, transpose, in, out);
        for (int c = 0; c < channels; c++) y[s * channels * plane + c * plane + p] = out[c];
    }
}

}  // namespace

int cuda_color_transform(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *matrices, int transpose) {
    int64_t plane = x->shape[2] * x->shape[3], pixels = x->shape[0] * plane;
    if (pixels == 0) return 0;
    color_kernel<<<cuda_blocks(pixels), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, matrices->data,
                                                                            (int)x->shape[1], plane, transpose, pixels);
    return cuda_launched(ctx, "color_transform");
}
