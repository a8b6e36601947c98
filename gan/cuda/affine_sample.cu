/* ADA's geometric resampling on the GPU: one thread per output pixel; the
 * backward pass scatters with atomics (taps of neighbouring outputs overlap). */
#include "../kernel_math.h"
#include "cuda.h"

namespace {

struct sample_geom {
    int channels, ih, iw, oh, ow;
};

__global__ void affine_sample_kernel(float *y, const float *x, const float *theta, sample_geom g, int64_t n) {
    CUDA_FOR(e, n) {
        int j = (int)(e % g.ow), i = (int)(e / g.ow % g.oh);
        int64_t q = e / ((int64_t)g.oh * g.ow);
        const float *src = x + q * g.ih * g.iw;
        float ix, iy, w[4];
        int x0, y0;
        gan_affine_source(theta + q / g.channels * 6, i, j, g.oh, g.ow, g.ih, g.iw, &ix, &iy);
        gan_bilinear_taps(ix, iy, &x0, &y0, w);
        float sum = 0.0f;
        for (int k = 0; k < 4; k++) {
            int xx = x0 + (k & 1), yy = y0 + (k >> 1);
            if (xx >= 0 && xx < g.iw && yy >= 0 && yy < g.ih) sum += src[yy * g.iw + xx] * w[k];
        }
        y[e] = sum;
    }
}

__global__ void affine_sample_backward_kernel(float *dx, const float *dy, const float *theta, sample_geom g,
                                              int64_t n) {
    CUDA_FOR(e, n) {
        int j = (int)(e % g.ow), i = (int)(e / g.ow % g.oh);
        int64_t q = e / ((int64_t)g.oh * g.ow);
        float *dst = dx + q * g.ih * g.iw;
        float ix, iy, w[4];
        int x0, y0;
        gan_affine_source(theta + q / g.channels * 6, i, j, g.oh, g.ow, g.ih, g.iw, &ix, &iy);
        gan_bilinear_taps(ix, iy, &x0, &y0, w);
        for (int k = 0; k < 4; k++) {
            int xx = x0 + (k & 1), yy = y0 + (k >> 1);
            if (xx >= 0 && xx < g.iw && yy >= 0 && yy < g.ih) atomicAdd(&dst[yy * g.iw + xx], dy[e] * w[k]);
        }
    }
}

}  // namespace

int cuda_affine_sample(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *theta) {
    if (y->numel == 0) return 0;
    sample_geom g = {(int)x->shape[1], (int)x->shape[2], (int)x->shape[3], (int)y->shape[2], (int)y->shape[3]};
    affine_sample_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, theta->data,
                                                                                        g, y->numel);
    return cuda_launched(ctx, "affine_sample");
}

int cuda_affine_sample_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *theta) {
    if (dx->numel == 0) return 0;
    if (cuda_fill(ctx, dx->data, dx->numel, 0.0f) != 0) return -1;
    if (dy->numel == 0) return 0;
    sample_geom g = {(int)dy->shape[1], (int)dx->shape[2], (int)dx->shape[3], (int)dy->shape[2], (int)dy->shape[3]};
    affine_sample_backward_kernel<<<cuda_blocks(dy->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        dx->data, dy->data, theta->data, g, dy->numel);
    return cuda_launched(ctx, "affine_sample_backward");
}
