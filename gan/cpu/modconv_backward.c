/* The modulated convolution's backward pass on the CPU.
 *
 * Per sample (large planes, where the GEMMs dominate):
 * With w'[o, j] = w[o, j] * s[i(j)] (j runs over (i, ky, kx)), the
 * demodulation d[o] = rsqrt(sum_j w'[o, j]^2 + 1e-8) and wm = w' * d, the
 * sample's output is a plain convolution with wm. So:
 *   1. dx and dwm are the plain convolution's gradients (gan/cpu/conv2d.c);
 *      for up = 2 the forward is a stride-2 transposed convolution followed
 *      by the FIR filter, so dy first goes back through the filter, and the
 *      roles of forward and backward-input swap.
 *   2. dw' = d * dwm - d^3 * w' * sum_j(dwm * w')      (without demodulation dw' = dwm)
 *   3. dw[o, j] += dw'[o, j] * s[i(j)],  ds[i] = sum_{o, ky, kx} dw'[o, j] * w[o, j].
 *
 * Batched (small planes, where the per-sample path is bound by its
 * weight-sized passes rather than by arithmetic): the reference's training
 * formulation y = conv(x * s, w) * d, one convolution with the shared weight
 * over the whole batch (the column matrices of all samples side by side)
 * and the styles and demodulation as per-channel scales. d's gradient needs
 * the undemodulated output y', recomputed (cheap at these sizes):
 *   dd[n, o] = <dy[n, o], y'[n, o]>,  c[n, o] = dd[n, o] * d[n, o]^3
 *   ds[n, i] = <dxs[n, i], x[n, i]> - s[n, i] sum_o c[n, o] wsq[o, i]
 *   dw[o, i, t] = sum_n (dy d (x) cols(x s))[o, i, t] - w[o, i, t] sum_n c[n, o] s[n, i]^2
 * with wsq[o, i] = sum_t w[o, i, t]^2, so d = (sum_i s^2 wsq + 1e-8)^-1/2. */
#include <cblas.h>
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

/* What both paths need to know of one call. For up = 1, g is the 'same'
 * convolution x -> y; for up = 2, the stride-2 convolution t -> x whose
 * adjoint (the transposed convolution) is the forward pass before the FIR
 * filter, and fir_back takes dy back through that filter to t. */
typedef struct mc_shape {
    int n, in, out, k, taps, h, w, up, fh, fw, th, tw;
    size_t hw, wfloats;
    cpu_conv_geom g;
    gan_upfirdn2d_args fir_back;
} mc_shape;

/* Output planes up to this many pixels take the batched path (measured on
 * the small config: about 2x less time in this op at 64 px; at 1024 pixels
 * the per-sample path is faster again). */
#define BATCHED_MAX_PLANE 256

static mc_shape shape_of(const gan_tensor *x, const gan_tensor *weight, const gan_modconv_args *args) {
    mc_shape m = {.n = (int)x->shape[0], .in = (int)x->shape[1], .h = (int)x->shape[2], .w = (int)x->shape[3],
                  .out = (int)weight->shape[0], .k = (int)weight->shape[2], .up = args->up};
    m.taps = m.k * m.k, m.hw = (size_t)m.h * m.w, m.wfloats = (size_t)m.out * m.in * m.taps;
    m.th = (m.h - 1) * 2 + m.k, m.tw = (m.w - 1) * 2 + m.k;
    if (m.up == 2) {
        m.fh = (int)args->filter->shape[0], m.fw = (int)args->filter->shape[1];
        gan_upfirdn2d_args fir = {.up_x = 1, .up_y = 1, .down_x = 1, .down_y = 1, .gain = 4};
        gan_modconv_up_padding(m.k, m.fw, &fir.pad_x0, &fir.pad_x1);
        gan_modconv_up_padding(m.k, m.fh, &fir.pad_y0, &fir.pad_y1);
        m.fir_back = gan_upfirdn2d_backward_args(fir, m.fh, m.fw, m.th, m.tw, 2 * m.h, 2 * m.w);
        m.g = (cpu_conv_geom){m.out, m.in, m.k, 2, 0, m.th, m.tw, m.h, m.w};
    } else {
        m.g = (cpu_conv_geom){m.in, m.out, m.k, 1, m.k / 2, m.h, m.w, m.h, m.w};
    }
    return m;
}

/* dt = dy taken back through the up-sampling FIR filter, per plane. */
static void fir_back_planes(const float *dy, const gan_modconv_args *args, const mc_shape *m, int planes, float *dt,
                            float *fir_buf) {
    for (int p = 0; p < planes; p++)
        cpu_upfirdn2d_plane(dy + (size_t)p * 4 * m->hw, 2 * m->h, 2 * m->w, args->filter->data, m->fh, m->fw,
                            &m->fir_back, dt + (size_t)p * m->th * m->tw, m->th, m->tw, fir_buf);
}

static int backward_per_sample(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dweight, gan_tensor *dstyles,
                               const gan_tensor *dy, const gan_tensor *x, const gan_tensor *weight,
                               const gan_tensor *styles, const gan_modconv_args *args, const mc_shape *m) {
    int in = m->in, out = m->out, taps = m->taps, threads = ctx->threads;
    size_t wfloats = m->wfloats, cols = cpu_conv_cols_floats(&m->g);
    size_t tfloats = m->up == 2 ? (size_t)out * m->th * m->tw : 0;
    size_t firf = m->up == 2 ? cpu_upfirdn2d_scratch(2 * m->h, 2 * m->w, &m->fir_back, m->fh, m->fw) : 0;
    /* dx of a large 3x3 'same' layer: the Winograd kernel, with this sample's transposed weight */
    int winograd = dx && m->up == 1 && cpu_conv_winograd_usable(&m->g, 1);
    size_t winof = winograd ? cpu_conv_winograd_floats(&m->g, 1, threads) : 0;
    size_t total = 3 * wfloats + out + tfloats + cols + firf + winof;
    float *scratch = gan_ctx_alloc(ctx, total * sizeof(float));
    if (!scratch) return -1;
    float *wm = scratch, *dwm = wm + wfloats, *wt = dwm + wfloats, *d = wt + wfloats, *dt = d + out;
    float *col_buf = dt + tfloats, *fir_buf = col_buf + cols, *wino_buf = fir_buf + firf;
    int want_w = dweight || dstyles;
    if (dweight) memset(dweight->data, 0, wfloats * sizeof(float));
    size_t xs = (size_t)in * m->hw, ys = (size_t)out * m->hw * m->up * m->up;
    for (int i = 0; i < m->n; i++) {
        const float *s = styles->data + (size_t)i * in, *xi = x->data + i * xs, *dyi = dy->data + i * ys;
        modulate_sample(weight->data, s, out, in, taps, args->demodulate, wm, d);
        if (m->up == 1) {
            if (winograd) {
                cpu_conv_winograd_prepare(wm, 1.0f, &m->g, 1, wino_buf, threads);
                cpu_conv_winograd_run(dyi, &m->g, 1, dx->data + i * xs, wino_buf, threads);
            } else if (dx) {
                cpu_conv_backward_input_plane(dyi, wm, 1.0f, &m->g, dx->data + i * xs, col_buf, threads);
            }
            if (want_w) cpu_conv_backward_weight_plane(dyi, xi, 1.0f, &m->g, dwm, 0.0f, col_buf, threads);
        } else {
            fir_back_planes(dyi, args, m, out, dt, fir_buf);
            transpose_blocks(wm, out, in, taps, wt);
            if (dx) cpu_conv_forward_plane(dt, wt, 1.0f, &m->g, dx->data + i * xs, col_buf, threads);
            if (want_w) {
                cpu_conv_backward_weight_plane(xi, dt, 1.0f, &m->g, wt, 0.0f, col_buf, threads);
                transpose_blocks(wt, in, out, taps, dwm);
            }
        }
        if (want_w) {
            if (dstyles) memset(dstyles->data + (size_t)i * in, 0, (size_t)in * sizeof(float));
            chain_to_weight_and_styles(weight->data, s, wm, d, dwm, out, in, taps, args->demodulate,
                                       dweight ? dweight->data : NULL, dstyles ? dstyles->data + (size_t)i * in : NULL);
        }
    }
    gan_ctx_release(ctx, scratch, total * sizeof(float));
    return 0;
}

/* ------------------------------------------------------- the batched path */

/* wsq[o, i] = sum_t w[o, i, t]^2 and d[n, o] (1 without demodulation). */
static void demod_coefficients(const float *w, const float *s, const mc_shape *m, int demodulate, float *wsq,
                               float *d) {
    for (int oi = 0; oi < m->out * m->in; oi++) {
        double sum = 0;
        for (int t = 0; t < m->taps; t++) sum += (double)w[(size_t)oi * m->taps + t] * w[(size_t)oi * m->taps + t];
        wsq[oi] = (float)sum;
    }
    for (int n = 0; n < m->n; n++)
        for (int o = 0; o < m->out; o++) {
            double sum = 0;
            for (int i = 0; i < m->in; i++) sum += (double)s[n * m->in + i] * s[n * m->in + i] * wsq[o * m->in + i];
            d[n * m->out + o] = demodulate ? 1.0f / sqrtf((float)sum + 1e-8f) : 1.0f;
        }
}

/* sum over each (n, c) plane of a * b, both [n, c, p], into out[n*c]. */
static void plane_dots(const float *a, const float *b, int planes, size_t p, float *out) {
    for (int q = 0; q < planes; q++) {
        double sum = 0;
        for (size_t k = 0; k < p; k++) sum += (double)a[q * p + k] * b[q * p + k];
        out[q] = (float)sum;
    }
}

/* dd[n, o] = <dy[n, o], ycm[o, n]> with ycm channel-major [out, n*p]. */
static void plane_dots_channel_major(const float *dy, const float *ycm, int n, int out, size_t p, float *dd) {
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            const float *a = dy + ((size_t)i * out + o) * p, *b = ycm + ((size_t)o * n + i) * p;
            double sum = 0;
            for (size_t k = 0; k < p; k++) sum += (double)a[k] * b[k];
            dd[i * out + o] = (float)sum;
        }
}

/* The demodulation's share of ds (added) and dw (added), from dd = dL/dd. */
static void demod_chain(const float *w, const float *s, const float *wsq, const float *d, float *dd,
                        const mc_shape *m, float *dw, float *ds) {
    int n = m->n, in = m->in, out = m->out;
    for (int q = 0; q < n * out; q++) dd[q] *= d[q] * d[q] * d[q]; /* c = dd d^3 */
    if (ds)
        for (int b = 0; b < n; b++)
            for (int i = 0; i < in; i++) {
                double sum = 0;
                for (int o = 0; o < out; o++) sum += (double)dd[b * out + o] * wsq[o * in + i];
                ds[b * in + i] -= s[b * in + i] * (float)sum;
            }
    if (dw)
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                double sum = 0;
                for (int b = 0; b < n; b++) sum += (double)dd[b * out + o] * s[b * in + i] * s[b * in + i];
                float *row = dw + ((size_t)o * in + i) * m->taps;
                const float *wrow = w + ((size_t)o * in + i) * m->taps;
                for (int t = 0; t < m->taps; t++) row[t] -= wrow[t] * (float)sum;
            }
}

/* dxs (the gradient at x * s, [n, in, hw]) -> ds's modulation share and dx. */
static void unmodulate(float *dxs, const float *x, const float *s, const mc_shape *m, float *ds) {
    if (ds) plane_dots(dxs, x, m->n * m->in, m->hw, ds);
    for (int q = 0; q < m->n * m->in; q++)
        for (size_t k = 0; k < m->hw; k++) dxs[q * m->hw + k] *= s[q];
}

static int backward_batched(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dweight, gan_tensor *dstyles,
                            const gan_tensor *dy, const gan_tensor *x, const gan_tensor *weight,
                            const gan_tensor *styles, const gan_modconv_args *args, const mc_shape *m) {
    int n = m->n, in = m->in, out = m->out, taps = m->taps, threads = ctx->threads;
    int want_dxs = dx || dstyles, want_dd = args->demodulate && (dweight || dstyles);
    const float *w = weight->data, *s = styles->data;
    size_t nhw = (size_t)n * m->hw, rows = (size_t)(m->up == 2 ? out : in) * taps, ohw = m->hw * m->up * m->up;
    size_t tplane = (size_t)m->th * m->tw, tfloats = m->up == 2 ? (size_t)n * out * tplane : 0;
    size_t firf = m->up == 2 ? cpu_upfirdn2d_scratch(2 * m->h, 2 * m->w, &m->fir_back, m->fh, m->fw) : 0;
    size_t big = (size_t)out * n * ohw > (size_t)in * nhw ? (size_t)out * n * ohw : (size_t)in * nhw;
    size_t big2 = big > m->wfloats ? big : m->wfloats; /* cm2 also holds dw in [in][out][taps] */
    size_t total = (size_t)out * in + 2 * (size_t)n * out + m->wfloats + rows * nhw + big + big2 + 2 * tfloats + firf +
                   (dx ? 0 : (size_t)n * in * m->hw);
    float *scratch = gan_ctx_alloc(ctx, total * sizeof(float));
    if (!scratch) return -1;
    float *wsq = scratch, *d = wsq + (size_t)out * in, *dd = d + (size_t)n * out, *wt = dd + (size_t)n * out;
    float *cols = wt + m->wfloats, *cm = cols + rows * nhw, *cm2 = cm + big, *dt = cm2 + big2, *tp = dt + tfloats;
    float *fir_buf = tp + tfloats, *dxs = dx ? dx->data : fir_buf + firf;
    demod_coefficients(w, s, m, args->demodulate, wsq, d);
    if (m->up == 1) {
        /* x s goes to dxs's memory until the columns are made from it. */
        for (int q = 0; q < n * in; q++)
            for (size_t k = 0; k < m->hw; k++) dxs[q * m->hw + k] = x->data[q * m->hw + k] * s[q];
        cpu_conv_im2col_batch(dxs, n, &m->g, cols, threads);
        cpu_to_channel_major(dy->data, n, out, m->hw, d, cm); /* dy d */
        if (dweight)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, out, (int)rows, (int)nhw, 1.0f, cm, (int)nhw, cols,
                        (int)nhw, 0.0f, dweight->data, (int)rows);
        if (want_dd) { /* y' = w . cols(x s) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, (int)nhw, (int)rows, 1.0f, w, (int)rows,
                        cols, (int)nhw, 0.0f, cm2, (int)nhw);
            plane_dots_channel_major(dy->data, cm2, n, out, m->hw, dd);
        }
        if (want_dxs) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)nhw, out, 1.0f, w, (int)rows, cm,
                        (int)nhw, 0.0f, cols, (int)nhw);
            cpu_conv_col2im_batch(cols, n, &m->g, dxs, threads);
        }
    } else {
        transpose_blocks(w, out, in, taps, wt); /* [in][out][taps] */
        fir_back_planes(dy->data, args, m, n * out, dt, fir_buf);
        cpu_to_channel_major(x->data, n, in, m->hw, s, cm); /* x s, [in, n*hw] */
        if (want_dd) { /* t' = the transposed convolution of x s; dd = <FIR_back(dy), t'> */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)nhw, in, 1.0f, wt, (int)rows, cm,
                        (int)nhw, 0.0f, cols, (int)nhw);
            cpu_conv_col2im_batch(cols, n, &m->g, tp, threads);
            plane_dots(dt, tp, n * out, tplane, dd);
        }
        for (int q = 0; q < n * out; q++)
            for (size_t k = 0; k < tplane; k++) dt[q * tplane + k] *= d[q];
        cpu_conv_im2col_batch(dt, n, &m->g, cols, threads);
        if (dweight) { /* [in][out][taps], then back to [out][in][taps] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, in, (int)rows, (int)nhw, 1.0f, cm, (int)nhw, cols,
                        (int)nhw, 0.0f, cm2, (int)rows);
            transpose_blocks(cm2, in, out, taps, dweight->data);
        }
        if (want_dxs) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, in, (int)nhw, (int)rows, 1.0f, wt, (int)rows, cols,
                        (int)nhw, 0.0f, cm2, (int)nhw);
            cpu_from_channel_major(cm2, n, in, m->hw, dxs);
        }
    }
    if (want_dxs) unmodulate(dxs, x->data, s, m, dstyles ? dstyles->data : NULL);
    if (want_dd) demod_chain(w, s, wsq, d, dd, m, dweight ? dweight->data : NULL, dstyles ? dstyles->data : NULL);
    gan_ctx_release(ctx, scratch, total * sizeof(float));
    return 0;
}

int cpu_modconv_backward(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dweight, gan_tensor *dstyles, const gan_tensor *dy,
                         const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                         const gan_modconv_args *args) {
    mc_shape m = shape_of(x, weight, args);
    if (m.hw * m.up * m.up <= BATCHED_MAX_PLANE)
        return backward_batched(ctx, dx, dweight, dstyles, dy, x, weight, styles, args, &m);
    return backward_per_sample(ctx, dx, dweight, dstyles, dy, x, weight, styles, args, &m);
}
