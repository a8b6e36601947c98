/* Modulated convolution on the CPU.
 *
 * Per sample, the styles (and the demodulation coefficients) are folded into a
 * private copy of the weight, as the reference does for inference; the cost is
 * O*I*k*k multiplies per sample, noise next to the convolution itself. The
 * convolution is then one GEMM per band of rows:
 *   up = 1: y[O, rows*W] = w[O, I*k*k] . im2col(x)[I*k*k, rows*W], or for
 *           3x3 kernels on planes of 16x16 and more the Winograd kernel of
 *           winograd.c (2.25x less arithmetic; measured 1.4-3x faster);
 *   up = 2: cols[O*k*k, rows*W] = w[O*k*k, I] . x[I, rows*W], scattered with
 *           stride 2 into a padded plane (the transposed convolution), then
 *           the FIR filter runs over that plane.
 * Bands of rows keep the column buffers cache-sized (see plan_bands). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "cpu.h"

/* Bands: a GEMM's column buffer should stay in the L2 cache of the core that
 * fills it (about BAND_CACHE_FLOATS), yet have enough columns to amortise
 * OpenBLAS packing the weights again for every call (MIN_BAND_COLUMNS). When
 * there are at least as many bands as threads, the threads take whole bands
 * with single-threaded GEMMs; otherwise OpenBLAS threads each GEMM. */
#define BAND_CACHE_FLOATS ((size_t)1 << 18)
#define MIN_BAND_COLUMNS 512

typedef struct conv_shape {
    int in, out, k, h, w; /* channels, kernel size, input height and width */
} conv_shape;

typedef struct band_plan {
    int rows, count, parallel;
    size_t floats; /* column buffer per band */
} band_plan;

/* floats_per_column: the GEMM dimension that each output column adds to the
 * column buffer (I*k*k for im2col, O*k*k for the transposed conv). Bands go
 * to threads only when each thread gets at least min_bands_per_thread. */
static band_plan plan_bands(const conv_shape *s, size_t floats_per_column, int min_rows, int min_bands_per_thread,
                            int threads) {
    size_t columns = BAND_CACHE_FLOATS / floats_per_column;
    if (columns < MIN_BAND_COLUMNS) columns = MIN_BAND_COLUMNS;
    int rows = (int)(columns / (size_t)s->w);
    if (rows < min_rows) rows = min_rows;
    if (rows > s->h) rows = s->h;
    band_plan p = {rows, (s->h + rows - 1) / rows, 0, floats_per_column * (size_t)rows * s->w};
    p.parallel = threads > 1 && p.count >= min_bands_per_thread * threads;
    return p;
}

/* How the per-sample weight is laid out for the kernel that reads it. */
typedef enum weight_layout {
    LAYOUT_OIT,      /* [O][I][k*k]: the GEMM of im2col */
    LAYOUT_OTI,      /* [O][k*k][I]: the transposed convolution's GEMM wants (o, tap) rows */
    LAYOUT_WINOGRAD, /* the Winograd kernel's transformed kernels (winograd.c) */
} weight_layout;

static size_t weight_floats(const conv_shape *s, weight_layout layout) {
    if (layout == LAYOUT_WINOGRAD) return cpu_winograd_weight_floats(s->out, s->in);
    return (size_t)s->out * s->in * s->k * s->k;
}

/* w_n = weight * styles[i] (* d[o]) in the reference's order, (w * s) * d.
 * `expanded` has room for I*k*k + O floats. */
static void modulate(const float *weight, const float *styles, const conv_shape *s, int demodulate,
                     weight_layout layout, float *w_n, float *expanded, int threads) {
    int taps = s->k * s->k, in = s->in, row = in * taps;
    for (int i = 0; i < in; i++)
        for (int t = 0; t < taps; t++) expanded[i * taps + t] = styles[i];
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int o = 0; o < s->out; o++) {
        const float *w_o = weight + (size_t)o * row;
        float d = 1.0f;
        if (demodulate) {
            float lanes[16] = {0}; /* partial sums the compiler can keep in one vector */
            int j = 0;
            for (; j + 16 <= row; j += 16)
                for (int l = 0; l < 16; l++) {
                    float v = w_o[j + l] * expanded[j + l];
                    lanes[l] += v * v;
                }
            for (; j < row; j++) lanes[0] += (w_o[j] * expanded[j]) * (w_o[j] * expanded[j]);
            float sum = 0;
            for (int l = 0; l < 16; l++) sum += lanes[l];
            d = 1.0f / sqrtf(sum + 1e-8f);
        }
        if (layout == LAYOUT_OIT) {
            float *dst = w_n + (size_t)o * row;
            for (int j = 0; j < row; j++) dst[j] = (w_o[j] * expanded[j]) * d;
        } else if (layout == LAYOUT_OTI) {
            for (int t = 0; t < taps; t++) {
                float *dst = w_n + ((size_t)o * taps + t) * in;
                for (int i = 0; i < in; i++) dst[i] = (w_o[i * taps + t] * styles[i]) * d;
            }
        } else { /* LAYOUT_WINOGRAD: transformed below, in blocks of output channels */
            expanded[row + o] = d;
        }
    }
    if (layout == LAYOUT_WINOGRAD) cpu_winograd_weights(weight, styles, expanded + row, in, s->out, w_n, threads);
}

/* Rows [r0, r0 + rows) of the im2col matrix of x [I, H, W] for a 'same'
 * k x k correlation: cols[(i, ky, kx)][(r - r0) * W + c] = x[i, r+ky-p, c+kx-p]. */
static void im2col_band(const float *x, const conv_shape *s, int r0, int rows, float *cols, int threads) {
    int k = s->k, p = k / 2, h = s->h, w = s->w;
    size_t band = (size_t)rows * w;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int row = 0; row < s->in * k * k; row++) {
        int i = row / (k * k), ky = row / k % k, kx = row % k;
        float *dst = cols + (size_t)row * band;
        for (int r = 0; r < rows; r++, dst += w) {
            int sy = r0 + r + ky - p;
            if (sy < 0 || sy >= h) {
                memset(dst, 0, (size_t)w * sizeof *dst);
                continue;
            }
            const float *src = x + ((size_t)i * h + sy) * w;
            int shift = kx - p, c0 = shift < 0 ? -shift : 0, c1 = shift > 0 ? w - shift : w;
            for (int c = 0; c < c0; c++) dst[c] = 0;
            memcpy(dst + c0, src + c0 + shift, (size_t)(c1 - c0) * sizeof *dst);
            for (int c = c1; c < w; c++) dst[c] = 0;
        }
    }
}

static void conv_same_band(const float *x, const float *w_n, const conv_shape *s, const band_plan *p, int band,
                           float *y, float *cols, int threads) {
    int k2i = s->in * s->k * s->k, r0 = band * p->rows;
    int rows = r0 + p->rows > s->h ? s->h - r0 : p->rows;
    im2col_band(x, s, r0, rows, cols, threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->out, rows * s->w, k2i, 1.0f, w_n, k2i, cols,
                rows * s->w, 0.0f, y + (size_t)r0 * s->w, s->h * s->w);
}

/* y [O, H, W] = 'same' correlation of x [I, H, W] with w_n (in `layout`). */
static void conv_same(const float *x, const float *w_n, weight_layout layout, const conv_shape *s, float *y,
                      float *cols, int threads) {
    int hw = s->h * s->w;
    if (layout == LAYOUT_WINOGRAD) {
        cpu_winograd_conv3x3(x, s->in, s->h, s->w, w_n, s->out, y, cols, threads);
        return;
    }
    if (s->k == 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->out, hw, s->in, 1.0f, w_n, s->in, x, hw, 0.0f,
                    y, hw);
        return;
    }
    band_plan p = plan_bands(s, (size_t)s->in * s->k * s->k, 1, 1, threads);
    if (p.parallel) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (int b = 0; b < p.count; b++)
            conv_same_band(x, w_n, s, &p, b, y, cols + p.floats * (size_t)omp_get_thread_num(), 1);
    } else {
        for (int b = 0; b < p.count; b++) conv_same_band(x, w_n, s, &p, b, y, cols, threads);
    }
}

/* The transposed convolution's output lands in a plane padded for the FIR
 * filter, so the filter can run 'valid' without another copy. */
typedef struct up_plane {
    int pad_x0, pad_y0, height, width; /* padded plane size */
} up_plane;

static up_plane up_plane_for(const conv_shape *s, int fh, int fw) {
    int px0, px1, py0, py1;
    gan_modconv_up_padding(s->k, fw, &px0, &px1);
    gan_modconv_up_padding(s->k, fh, &py0, &py1);
    int th = (s->h - 1) * 2 + s->k, tw = (s->w - 1) * 2 + s->k;
    return (up_plane){px0, py0, th + py0 + py1, tw + px0 + px1};
}

/* One plane row of the k = 3 case: the taps kx = 0 and 2 land on even
 * columns, kx = 1 on odd ones, so each pair of columns is written once. */
static void col2im_row_k3(float *dst, const float *a0, const float *a1, const float *a2, int w) {
    dst[0] += a0[0];
    dst[1] += a1[0];
    for (int c = 1; c < w; c++) {
        dst[2 * c] += a0[c] + a2[c - 1];
        dst[2 * c + 1] += a1[c];
    }
    dst[2 * w] += a2[w - 1];
}

/* Adds cols[(o, ky, kx)][(r - r0) * W + c] at (2r + ky, 2c + kx) of plane o. */
static void col2im_stride2(const float *cols, const conv_shape *s, int r0, int rows, const up_plane *u,
                           float *planes, int threads) {
    int k = s->k, w = s->w;
    size_t band = (size_t)rows * w, plane = (size_t)u->height * u->width;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int o = 0; o < s->out; o++) {
        float *dst_plane = planes + (size_t)o * plane;
        if (k == 3) {
            for (int ky = 0; ky < 3; ky++) {
                const float *src = cols + ((size_t)o * 9 + ky * 3) * band;
                for (int r = 0; r < rows; r++) {
                    float *dst = dst_plane + (size_t)(u->pad_y0 + 2 * (r0 + r) + ky) * u->width + u->pad_x0;
                    size_t at = (size_t)r * w;
                    col2im_row_k3(dst, src + at, src + band + at, src + 2 * band + at, w);
                }
            }
            continue;
        }
        for (int t = 0; t < k * k; t++) {
            int ky = t / k, kx = t % k;
            const float *src = cols + ((size_t)o * k * k + t) * band;
            for (int r = 0; r < rows; r++) {
                float *dst = dst_plane + (size_t)(u->pad_y0 + 2 * (r0 + r) + ky) * u->width + u->pad_x0 + kx;
                const float *in = src + (size_t)r * w;
                for (int c = 0; c < w; c++) dst[2 * c] += in[c];
            }
        }
    }
}

static void conv_up2_band(const float *x, const float *w_n, const conv_shape *s, const band_plan *p, int band,
                          const up_plane *u, float *planes, float *cols, int threads) {
    int taps_out = s->out * s->k * s->k, r0 = band * p->rows;
    int rows = r0 + p->rows > s->h ? s->h - r0 : p->rows;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, taps_out, rows * s->w, s->in, 1.0f, w_n, s->in,
                x + (size_t)r0 * s->w, s->h * s->w, 0.0f, cols, rows * s->w);
    col2im_stride2(cols, s, r0, rows, u, planes, threads);
}

/* y [O, 2H, 2W] = FIR(transposed conv of x [I, H, W] with w_n [O, k*k, I]). */
static void conv_up2(const float *x, const float *w_n, const conv_shape *s, const float *g, int fh, int fw,
                     float *y, float *cols, float *planes, int threads) {
    up_plane u = up_plane_for(s, fh, fw);
    size_t plane = (size_t)u.height * u.width;
    memset(planes, 0, plane * s->out * sizeof *planes);
    /* Neighbouring bands add into a shared plane row, so parallel bands run in
     * two phases (even, then odd), each phase needing work for every thread;
     * bands of at least k rows never reach past their neighbours. */
    band_plan p = plan_bands(s, (size_t)s->out * s->k * s->k, s->k, 2, threads);
    if (p.parallel) {
        for (int phase = 0; phase < 2; phase++) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
            for (int b = phase; b < p.count; b += 2)
                conv_up2_band(x, w_n, s, &p, b, &u, planes, cols + p.floats * (size_t)omp_get_thread_num(), 1);
        }
    } else {
        for (int b = 0; b < p.count; b++) conv_up2_band(x, w_n, s, &p, b, &u, planes, cols, threads);
    }
    int oh = 2 * s->h, ow = 2 * s->w;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int o = 0; o < s->out; o++)
        cpu_fir_valid(planes + (size_t)o * plane, u.width, g, fh, fw, 1, 1, y + (size_t)o * oh * ow, oh, ow);
}

static weight_layout layout_for(const conv_shape *s, int up) {
    if (up == 2) return LAYOUT_OTI;
    return s->k == 3 && cpu_winograd_usable(s->in, s->out, s->h, s->w) ? LAYOUT_WINOGRAD : LAYOUT_OIT;
}

int cpu_modconv(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                const gan_modconv_args *args) {
    conv_shape s = {(int)x->shape[1], (int)weight->shape[0], (int)weight->shape[2], (int)x->shape[2],
                    (int)x->shape[3]};
    int n = (int)x->shape[0], up = args->up, threads = ctx->threads;
    int fh = up == 2 ? (int)args->filter->shape[0] : 0, fw = up == 2 ? (int)args->filter->shape[1] : 0;
    weight_layout layout = layout_for(&s, up);
    size_t w_floats = weight_floats(&s, layout), expanded_floats = (size_t)s.in * s.k * s.k + s.out;
    band_plan p = up == 2 ? plan_bands(&s, (size_t)s.out * s.k * s.k, s.k, 2, threads)
                          : plan_bands(&s, (size_t)s.in * s.k * s.k, 1, 1, threads);
    /* cols: the GEMMs' column buffers, or the Winograd kernel's bands. */
    size_t cols_floats = layout == LAYOUT_WINOGRAD   ? cpu_winograd_scratch_floats(s.in, s.out, s.h, s.w, threads)
                         : s.k == 1 && up == 1       ? 0
                                                     : p.floats * (size_t)(p.parallel ? threads : 1);
    up_plane u = up == 2 ? up_plane_for(&s, fh, fw) : (up_plane){0};
    size_t plane_floats = (size_t)u.height * u.width * s.out;
    size_t total = w_floats + expanded_floats + cols_floats + plane_floats + (size_t)fh * fw;
    float *scratch = gan_ctx_alloc(ctx, total * sizeof(float));
    if (!scratch) return -1;
    float *w_n = scratch, *expanded = w_n + w_floats, *cols = expanded + expanded_floats;
    float *planes = cols + cols_floats, *g = planes + plane_floats;
    if (up == 2) {
        gan_upfirdn2d_args fir = {.gain = 4.0f};
        cpu_prepare_filter(args->filter->data, fh, fw, &fir, g);
    }
    size_t x_stride = (size_t)s.in * s.h * s.w, y_stride = (size_t)s.out * s.h * s.w * up * up;
    for (int i = 0; i < n; i++) {
        modulate(weight->data, styles->data + (size_t)i * s.in, &s, args->demodulate, layout, w_n, expanded,
                 threads);
        if (up == 1)
            conv_same(x->data + i * x_stride, w_n, layout, &s, y->data + i * y_stride, cols, threads);
        else
            conv_up2(x->data + i * x_stride, w_n, &s, g, fh, fw, y->data + i * y_stride, cols, planes, threads);
    }
    gan_ctx_release(ctx, scratch, total * sizeof(float));
    return 0;
}
