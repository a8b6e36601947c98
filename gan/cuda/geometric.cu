/* ADA's geometric ops on the GPU: reflection padding (a gather both ways)
 * and the resampling, one thread per output pixel; its backward pass
 * scatters with atomics (taps of neighbouring outputs overlap). */
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
        int idx[4];
        float w[4], sum = 0.0f;
        gan_affine_taps(theta + q / g.channels * 6, i, j, g.oh, g.ow, g.ih, g.iw, idx, w);
        for (int k = 0; k < 4; k++)
            if (idx[k] >= 0) sum += src[idx[k]] * w[k];
        y[e] = sum;
    }
}

__global__ void affine_sample_backward_kernel(float *dx, const float *dy, const float *theta, sample_geom g,
                                              int64_t n) {
    CUDA_FOR(e, n) {
        int j = (int)(e % g.ow), i = (int)(e / g.ow % g.oh);
        int64_t q = e / ((int64_t)g.oh * g.ow);
        float *dst = dx + q * g.ih * g.iw;
        int idx[4];
        float w[4];
        gan_affine_taps(theta + q / g.channels * 6, i, j, g.oh, g.ow, g.ih, g.iw, idx, w);
        for (int k = 0; k < 4; k++)
            if (idx[k] >= 0) atomicAdd(&dst[idx[k]], dy[e] * w[k]);
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

namespace {

struct pad_geom {
    int h, w, oh, ow, left, right, top, bottom;
};

__global__ void pad_reflect_kernel(float *y, const float *x, pad_geom g, int64_t n) {
    CUDA_FOR(e, n) {
        int p = (int)(e % g.ow), o = (int)(e / g.ow % g.oh);
        int64_t q = e / ((int64_t)g.oh * g.ow);
        y[e] = x[(q * g.h + gan_reflect_source(o, g.h, g.top)) * g.w + gan_reflect_source(p, g.w, g.left)];
    }
}

__global__ void pad_reflect_backward_kernel(float *dx, const float *dy, pad_geom g, int64_t n) {
    CUDA_FOR(e, n) {
        int j = (int)(e % g.w), i = (int)(e / g.w % g.h);
        int64_t q = e / ((int64_t)g.h * g.w);
        int rows[3], cols[3];
        int nr = gan_reflect_targets(i, g.h, g.top, g.bottom, rows), nc = gan_reflect_targets(j, g.w, g.left, g.right, cols);
        float sum = 0.0f;
        for (int a = 0; a < nr; a++)
            for (int b = 0; b < nc; b++) sum += dy[(q * g.oh + rows[a]) * g.ow + cols[b]];
        dx[e] = sum;
    }
}

pad_geom pad_geom_of(const gan_tensor *small, const gan_tensor *big, const gan_pad_args *p) {
    return {(int)small->shape[2], (int)small->shape[3], (int)big->shape[2], (int)big->shape[3],
            p->left, p->right, p->top, p->bottom};
}

}  // namespace

int cuda_pad_reflect(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_pad_args *pad) {
    if (y->numel == 0) return 0;
    pad_reflect_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data,
                                                                                      pad_geom_of(x, y, pad), y->numel);
    return cuda_launched(ctx, "pad_reflect");
}

int cuda_pad_reflect_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_pad_args *pad) {
    if (dx->numel == 0) return 0;
    pad_reflect_backward_kernel<<<cuda_blocks(dx->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        dx->data, dy->data, pad_geom_of(dx, dy, pad), dx->numel);
    return cuda_launched(ctx, "pad_reflect_backward");
}
