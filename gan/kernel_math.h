/* Per-element arithmetic shared by the CPU kernels (gan/cpu/) and the CUDA
 * kernels (gan/cuda/): one definition of each formula, so that the backends
 * round the same way and the CPU tests check the code the GPU runs. */
#ifndef GAN_KERNEL_MATH_H
#define GAN_KERNEL_MATH_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define GAN_HD __host__ __device__ __forceinline__
#else
#define GAN_HD static inline
#endif

/* torch.lerp's formula, which switches form at weight 0.5 to stay exact at
 * both ends; copying it keeps truncated w vectors and the EMA bit-identical
 * to the reference's. */
GAN_HD float gan_lerp(float start, float end, float weight) {
    return (weight < 0.5f && weight > -0.5f) ? start + weight * (end - start) : end - (end - start) * (1.0f - weight);
}

/* The slope of an activation for negative inputs: leaky ReLU's alpha, 0 for
 * ReLU, 1 for linear, so that one branch-free formula serves all three. */
GAN_HD float gan_act_slope(int is_lrelu, int is_relu, float alpha) {
    return is_lrelu ? alpha : (is_relu ? 0.0f : 1.0f);
}

/* bias_act after the sum z = x + noise * strength + bias: activation, gain,
 * then the clamp to [-bound, bound] (bound infinite when off). */
GAN_HD float gan_act_forward(float z, float slope, float gain, float bound) {
    float v = z > 0 ? z : z * slope;
    v *= gain;
    return v < -bound ? -bound : (v > bound ? bound : v);
}

/* The gradient at z from the output y alone, as the reference does: y > 0
 * exactly where z was, and outputs at the clamp bound pass no gradient. */
GAN_HD float gan_act_backward(float dy, float y, float slope, float gain, float bound) {
    float g = dy * gain;
    g = y > 0 ? g : g * slope;
    return (y < bound && y > -bound) ? g : 0.0f;
}

/* bias_act linearised at an earlier output m: m's sign picks the slope, and
 * where m sat at the clamp bound the output stays m. */
GAN_HD float gan_act_frozen(float z, float m, float slope, float gain, float bound) {
    float v = (m > 0 ? z : z * slope) * gain;
    return (m < bound && m > -bound) ? v : m;
}

/* One pixel of ADA's colour transform: out[c] = sum_k M[c, k] in[k] (+
 * M[c, 3]) for RGB, M row-major 4x4; transpose uses M^T without the offset
 * (the gradient). Grey pixels use the mean of the first three rows. The sums
 * run in the reference's order (a matrix product, then the offset). */
GAN_HD void gan_color_pixel(const float *m, int channels, int transpose, const float *in, float *out) {
    if (channels == 3) {
        for (int c = 0; c < 3; c++) {
            float sum = 0.0f;
            for (int k = 0; k < 3; k++) sum += (transpose ? m[k * 4 + c] : m[c * 4 + k]) * in[k];
            out[c] = transpose ? sum : sum + m[c * 4 + 3];
        }
        return;
    }
    float row[4];
    for (int k = 0; k < 4; k++) row[k] = (m[k] + m[4 + k] + m[8 + k]) / 3.0f;
    float gain = row[0] + row[1] + row[2];
    out[0] = transpose ? in[0] * gain : in[0] * gain + row[3];
}

/* Where output pixel (i, j) of an out_h x out_w image samples its in_h x in_w
 * input under theta (2x3, row-major), in input pixels: affine_grid's
 * normalised coordinates with align_corners=False ((2j + 1) / out_w - 1),
 * mapped by theta, then back to pixels as grid_sample does. */
GAN_HD void gan_affine_source(const float *theta, int i, int j, int out_h, int out_w, int in_h, int in_w, float *ix,
                              float *iy) {
    float x = (float)(2 * j + 1) / (float)out_w - 1.0f, y = (float)(2 * i + 1) / (float)out_h - 1.0f;
    float gx = theta[0] * x + theta[1] * y + theta[2], gy = theta[3] * x + theta[4] * y + theta[5];
    *ix = ((gx + 1.0f) * (float)in_w - 1.0f) / 2.0f;
    *iy = ((gy + 1.0f) * (float)in_h - 1.0f) / 2.0f;
}

/* The four bilinear taps around (ix, iy): corner k at (x0 + (k & 1),
 * y0 + (k >> 1)) with weight w[k]; taps outside the image read zero. */
GAN_HD void gan_bilinear_taps(float ix, float iy, int *x0, int *y0, float w[4]) {
    float fx = floorf(ix), fy = floorf(iy);
    *x0 = (int)fx, *y0 = (int)fy;
    float east = ix - fx, south = iy - fy, west = (fx + 1.0f) - ix, north = (fy + 1.0f) - iy;
    w[0] = west * north, w[1] = east * north, w[2] = west * south, w[3] = east * south;
}

/* Reflection padding along one axis of n samples padded by pad0 before: the
 * source of padded index o, and the padded indices whose source is i (the
 * gradient gathers them; at most three, the count returned). */
GAN_HD int gan_reflect_source(int o, int n, int pad0) {
    int i = o - pad0;
    return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i);
}
GAN_HD int gan_reflect_targets(int i, int n, int pad0, int pad1, int out[3]) {
    int count = 0;
    out[count++] = i + pad0;
    if (i >= 1 && i <= pad0) out[count++] = pad0 - i;
    if (i <= n - 2 && i >= n - 1 - pad1) out[count++] = pad0 + 2 * (n - 1) - i;
    return count;
}

/* The bilinear taps of output pixel (i, j) under theta: plane offsets
 * idx[k] (yy * in_w + xx, corner k at (x0 + (k & 1), y0 + (k >> 1))) and
 * weights w[k]; a tap outside the image (zero padding) has idx[k] = -1. */
GAN_HD void gan_affine_taps(const float *theta, int i, int j, int out_h, int out_w, int in_h, int in_w, int idx[4],
                            float w[4]) {
    float ix, iy;
    int x0, y0;
    gan_affine_source(theta, i, j, out_h, out_w, in_h, in_w, &ix, &iy);
    gan_bilinear_taps(ix, iy, &x0, &y0, w);
    for (int k = 0; k < 4; k++) {
        int xx = x0 + (k & 1), yy = y0 + (k >> 1);
        idx[k] = xx >= 0 && xx < in_w && yy >= 0 && yy < in_h ? yy * in_w + xx : -1;
    }
}

/* torch.optim.Adam's update of one element, in torch's order of operations;
 * step_size = lr / bias_correction1, denom_scale = sqrt(bias_correction2). */
GAN_HD void gan_adam_element(float *param, float g, float *m, float *v, float beta1, float beta2, float eps,
                             float step_size, float denom_scale) {
    *m = *m * beta1 + g * (1.0f - beta1);
    *v = *v * beta2 + g * g * (1.0f - beta2);
    float denom = sqrtf(*v) / denom_scale + eps;
    *param += -step_size * (*m / denom);
}

/* One output of ADA's 1D image filter: x is a line of len_x samples spaced
 * stride apart. Forward (the 'valid' correlation): sum_a taps[a] x[i + a].
 * transpose (its gradient, output K - 1 longer): sum_a taps[a] x[i - a] over
 * the a that land inside the line. */
GAN_HD float gan_filter_tap_sum(const float *x, int64_t stride, int64_t len_x, const float *taps, int k, int64_t i,
                                int transpose) {
    float sum = 0.0f;
    for (int a = 0; a < k; a++) {
        int64_t at = transpose ? i - a : i + a;
        if (at >= 0 && at < len_x) sum += taps[a] * x[at * stride];
    }
    return sum;
}

#endif
