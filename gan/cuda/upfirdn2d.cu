/* upfirdn2d on the GPU: upsample by zero insertion, pad (negative = crop),
 * convolve with filter * gain, keep every down-th sample, as
 * gan/cpu/upfirdn2d.c. The CPU materialises the zero-stuffed, padded plane
 * p and computes
 *   y[oy, ox] = sum_{i < fh, j < fw} g[i, j] p[oy*down_y + i, ox*down_x + j],
 * g the filter times gain, flipped unless flip_filter. Here one thread per
 * output sample visits only the taps that land on real input samples:
 * p[py, px] is x[iy, ix] when py - pad_y0 = iy*up_y (likewise for x), and
 * zero otherwise, so the padded plane is never built. */
#include "cuda.h"

namespace {

struct fir_geom {
    int h, w, oh, ow, fh, fw;
};

__device__ inline int positive_mod(int a, int m) {
    int r = a % m;
    return r < 0 ? r + m : r;
}

/* The first tap i >= 0 for which origin + i is a non-negative multiple of
 * up, origin being where tap 0 falls in the upsampled, unpadded grid
 * (o*down - pad0). Later hits follow every up taps. */
__device__ inline int first_hit(int origin, int up) {
    int lo = origin < 0 ? -origin : 0;
    return lo + positive_mod(-(origin + lo), up);
}

__global__ void upfirdn2d_kernel(float *y, const float *x, const float *filter, int64_t planes, fir_geom g,
                                 gan_upfirdn2d_args a) {
    int64_t out_plane = (int64_t)g.oh * g.ow, in_plane = (int64_t)g.h * g.w;
    CUDA_FOR(e, planes * out_plane) {
        int64_t q = e / out_plane, p = e - q * out_plane;
        int oy = (int)(p / g.ow), ox = (int)(p - (int64_t)oy * g.ow);
        int origin_y = oy * a.down_y - a.pad_y0, origin_x = ox * a.down_x - a.pad_x0;
        int first_j = first_hit(origin_x, a.up_x);
        const float *plane = x + q * in_plane;
        float sum = 0.0f;
        for (int i = first_hit(origin_y, a.up_y); i < g.fh; i += a.up_y) {
            int iy = (origin_y + i) / a.up_y;
            if (iy >= g.h) break;
            const float *row = plane + (int64_t)iy * g.w;
            for (int j = first_j; j < g.fw; j += a.up_x) {
                int ix = (origin_x + j) / a.up_x;
                if (ix >= g.w) break;
                /* g[i, j] as cpu_prepare_filter builds it: the reference convolves. */
                int tap = a.flip_filter ? i * g.fw + j : (g.fh - 1 - i) * g.fw + (g.fw - 1 - j);
                sum += (filter[tap] * a.gain) * row[ix];
            }
        }
        y[e] = sum;
    }
}

}  // namespace

int cuda_upfirdn2d_planes(gan_ctx *ctx, float *y, const float *x, int64_t planes, int h, int w, const float *filter,
                          int fh, int fw, const gan_upfirdn2d_args *args, int oh, int ow) {
    int64_t outputs = planes * oh * ow;
    if (outputs == 0) return 0;
    fir_geom g = {h, w, oh, ow, fh, fw};
    upfirdn2d_kernel<<<cuda_blocks(outputs), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y, x, filter, planes, g, *args);
    return cuda_launched(ctx, "upfirdn2d");
}

int cuda_upfirdn2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *filter,
                   const gan_upfirdn2d_args *args) {
    return cuda_upfirdn2d_planes(ctx, y->data, x->data, x->shape[0] * x->shape[1], (int)x->shape[2], (int)x->shape[3],
                                 filter->data, (int)filter->shape[0], (int)filter->shape[1], args, (int)y->shape[2],
                                 (int)y->shape[3]);
}
