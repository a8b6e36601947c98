/* The modulated convolution's backward pass on the CPU, one sample at a time.
 *
 * With w'[o, j] = w[o, j] * s[i(j)] (j runs over (i, ky, kx)), the
 * demodulation d[o] = rsqrt(sum_j w'[o, j]^2 + 1e-8) and wm = w' * d, the
 * sample's output is a plain convolution with wm. So:
 *   1. dx and dwm are the plain convolution's gradients (gan/cpu/conv2d.c);
 *      for up = 2 the forward is a stride-2 transposed convolution followed
 *      by the FIR filter, so dy first goes back through the filter, and the
 *      roles of forward and backward-input swap.
 *   2. dw' = d * dwm - d^3 * w' * sum_j(dwm * w')      (without demodulation dw' = dwm)
 *   3. dw[o, j] += dw'[o, j] * s[i(j)],  ds[i] = sum_{o, ky, kx} dw'[o, j] * w[o, j]. */
#include <math.h>
#include <string.h>

#include "cpu.h"

static void modulate_sample(const float *w, const float *s, int out, int in, int taps, int demodulate, float *wm,
                            float *d) {
    int row = in * taps;
    for (int o = 0; o < out; o++) {
        double sum = 0;
        for (int j = 0; j < row; j++) {
            float v = w[(size_t)o * row + j] * s[j / taps];
            wm[(size_t)o * row + j] = v;
            sum += (double)v * v;
        }
        d[o] = demodulate ? 1.0f / sqrtf((float)sum + 1e-8f) : 1.0f;
        for (int j = 0; j < row; j++) wm[(size_t)o * row + j] *= d[o];
    }
}

/* [rows, cols] -> [cols, rows] with each element a block of `taps` floats:
 * wm[O][I][taps] <-> wt[I][O][taps]. */
static void transpose_blocks(const float *src, int rows, int cols, int taps, float *dst) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            memcpy(dst + ((size_t)c * rows + r) * taps, src + ((size_t)r * cols + c) * taps, (size_t)taps * sizeof *dst);
}

/* Steps 2 and 3 above: dwm (overwritten by dw') -> dw (accumulated, may be
 * NULL) and ds (one sample's row, may be NULL). With w' = wm / d the
 * demodulation term d^3 w' sum(dwm w') is d * wm * sum(dwm wm), so
 * dw' = d * (dwm - wm * sum(dwm wm)). */
static void chain_to_weight_and_styles(const float *w, const float *s, const float *wm, const float *d, float *dwm,
                                       int out, int in, int taps, int demodulate, float *dw, float *ds) {
    int row = in * taps;
    for (int o = 0; o < out; o++) {
        float *g = dwm + (size_t)o * row;
        const float *m = wm + (size_t)o * row;
        if (demodulate) {
            double dot = 0;
            for (int j = 0; j < row; j++) dot += (double)g[j] * m[j];
            for (int j = 0; j < row; j++) g[j] = d[o] * (g[j] - (float)dot * m[j]);
        }
        if (dw)
            for (int j = 0; j < row; j++) dw[(size_t)o * row + j] += g[j] * s[j / taps];
        if (ds)
            for (int j = 0; j < row; j++) ds[j / taps] += g[j] * w[(size_t)o * row + j];
    }
}

int cpu_modconv_backward(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dweight, gan_tensor *dstyles, const gan_tensor *dy,
                         const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                         const gan_modconv_args *args) {
    int n = (int)x->shape[0], in = (int)x->shape[1], h = (int)x->shape[2], w = (int)x->shape[3];
    int out = (int)weight->shape[0], k = (int)weight->shape[2], taps = k * k, up = args->up, threads = ctx->threads;
    size_t wfloats = (size_t)out * in * taps;
    int th = (h - 1) * 2 + k, tw = (w - 1) * 2 + k, fh = 0, fw = 0;
    gan_upfirdn2d_args fir_back = {0};
    if (up == 2) {
        fh = (int)args->filter->shape[0], fw = (int)args->filter->shape[1];
        gan_upfirdn2d_args fir = {.up_x = 1, .up_y = 1, .down_x = 1, .down_y = 1, .gain = 4};
        gan_modconv_up_padding(k, fw, &fir.pad_x0, &fir.pad_x1);
        gan_modconv_up_padding(k, fh, &fir.pad_y0, &fir.pad_y1);
        fir_back = gan_upfirdn2d_backward_args(fir, fh, fw, th, tw, 2 * h, 2 * w);
    }
    /* up = 1: the 'same' convolution x -> y. up = 2: the stride-2 convolution
     * t -> x, whose backward-input pass is the forward transposed convolution. */
    cpu_conv_geom g = up == 1 ? (cpu_conv_geom){in, out, k, 1, k / 2, h, w, h, w}
                              : (cpu_conv_geom){out, in, k, 2, 0, th, tw, h, w};
    size_t cols = cpu_conv_cols_floats(&g), tfloats = up == 2 ? (size_t)out * th * tw : 0;
    size_t firf = up == 2 ? cpu_upfirdn2d_scratch(2 * h, 2 * w, &fir_back, fh, fw) : 0;
    size_t total = 3 * wfloats + out + tfloats + cols + firf;
    float *scratch = gan_ctx_alloc(ctx, total * sizeof(float));
    if (!scratch) return -1;
    float *wm = scratch, *dwm = wm + wfloats, *wt = dwm + wfloats, *d = wt + wfloats, *dt = d + out;
    float *col_buf = dt + tfloats, *fir_buf = col_buf + cols;
    int want_w = dweight || dstyles;
    if (dweight) memset(dweight->data, 0, wfloats * sizeof(float));
    if (dstyles) memset(dstyles->data, 0, (size_t)n * in * sizeof(float));
    size_t xs = (size_t)in * h * w, ys = (size_t)out * h * w * up * up;
    for (int i = 0; i < n; i++) {
        const float *s = styles->data + (size_t)i * in, *xi = x->data + i * xs, *dyi = dy->data + i * ys;
        modulate_sample(weight->data, s, out, in, taps, args->demodulate, wm, d);
        if (up == 1) {
            if (dx) cpu_conv_backward_input_plane(dyi, wm, 1.0f, &g, dx->data + i * xs, col_buf, threads);
            if (want_w) cpu_conv_backward_weight_plane(dyi, xi, 1.0f, &g, dwm, 0.0f, col_buf, threads);
        } else {
            for (int o = 0; o < out; o++)
                cpu_upfirdn2d_plane(dyi + (size_t)o * 4 * h * w, 2 * h, 2 * w, args->filter->data, fh, fw, &fir_back,
                                    dt + (size_t)o * th * tw, th, tw, fir_buf);
            transpose_blocks(wm, out, in, taps, wt);
            if (dx) cpu_conv_forward_plane(dt, wt, 1.0f, &g, dx->data + i * xs, col_buf, threads);
            if (want_w) {
                cpu_conv_backward_weight_plane(xi, dt, 1.0f, &g, wt, 0.0f, col_buf, threads);
                transpose_blocks(wt, in, out, taps, dwm);
            }
        }
        if (want_w)
            chain_to_weight_and_styles(weight->data, s, wm, d, dwm, out, in, taps, args->demodulate,
                                       dweight ? dweight->data : NULL, dstyles ? dstyles->data + (size_t)i * in : NULL);
    }
    gan_ctx_release(ctx, scratch, total * sizeof(float));
    return 0;
}
