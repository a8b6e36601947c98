/* Plain 2-D convolution (cross-correlation) on the CPU, forward and both
 * backward passes, as im2col + GEMM per sample:
 *   forward:         y[O, OH*OW]   = w[O, I*k*k] . cols[I*k*k, OH*OW]
 *   backward input:  cols          = w^T . dy, then col2im adds cols into dx
 *   backward weight: dw[O, I*k*k] += dy[O, OH*OW] . cols^T
 * The discriminator's layers and the training path of the modulated
 * convolution (gan/cpu/modconv_backward.c) are built on these. A 1x1 kernel
 * with stride 1 and no padding needs no im2col: the input is its own column
 * matrix; a 3x3 'same' kernel on a plane of 16x16 or more runs forward and
 * backward-input as Winograd F(2x2, 3x3) (gan/cpu/winograd.c). */
#include <cblas.h>
#include <string.h>

#include "cpu.h"

static int is_pointwise(const cpu_conv_geom *g) { return g->k == 1 && g->stride == 1 && g->pad == 0; }

size_t cpu_conv_cols_floats(const cpu_conv_geom *g) {
    return is_pointwise(g) ? 0 : (size_t)g->in * g->k * g->k * g->oh * g->ow;
}

/* The output columns ox whose input column ox*s + kx - p lies inside
 * [0, w): [*first, *last). */
static void valid_columns(const cpu_conv_geom *g, int kx, int *first, int *last) {
    int lo = g->pad - kx, hi = g->w + g->pad - kx; /* need lo <= ox*s < hi */
    *first = lo <= 0 ? 0 : (lo + g->stride - 1) / g->stride;
    *last = hi <= 0 ? 0 : (hi + g->stride - 1) / g->stride;
    if (*last > g->ow) *last = g->ow;
    if (*first > *last) *first = *last;
}

/* cols[(i, ky, kx)][(oy, ox)] = x[i, oy*s + ky - p, ox*s + kx - p], zero
 * outside; rows `ld` floats apart (the plane, or more when the columns of
 * several samples sit side by side). */
static void im2col(const float *x, const cpu_conv_geom *g, float *cols, size_t ld, int threads) {
    int k = g->k, s = g->stride, p = g->pad;
    size_t plane = (size_t)g->oh * g->ow;
#pragma omp parallel for num_threads(threads) if (plane * g->in * k * k > CPU_PARALLEL_MIN) schedule(static)
    for (int row = 0; row < g->in * k * k; row++) {
        int i = row / (k * k), ky = row / k % k, kx = row % k, first, last;
        valid_columns(g, kx, &first, &last);
        float *dst = cols + (size_t)row * ld;
        const float *src = x + (size_t)i * g->h * g->w;
        for (int oy = 0; oy < g->oh; oy++, dst += g->ow) {
            int sy = oy * s + ky - p;
            if (sy < 0 || sy >= g->h) {
                memset(dst, 0, (size_t)g->ow * sizeof *dst);
                continue;
            }
            const float *line = src + (size_t)sy * g->w + kx - p;
            for (int ox = 0; ox < first; ox++) dst[ox] = 0;
            if (s == 1) memcpy(dst + first, line + first, (size_t)(last - first) * sizeof *dst);
            else
                for (int ox = first; ox < last; ox++) dst[ox] = line[ox * s];
            for (int ox = last; ox < g->ow; ox++) dst[ox] = 0;
        }
    }
}

/* The adjoint of im2col: x = 0, then each column entry is added where it was
 * read from. Input channels are independent, so they run in parallel. */
static void col2im(const float *cols, size_t ld, const cpu_conv_geom *g, float *x, int threads) {
    int k = g->k, s = g->stride, p = g->pad;
    size_t plane = (size_t)g->oh * g->ow;
#pragma omp parallel for num_threads(threads) if (plane * g->in * k * k > CPU_PARALLEL_MIN) schedule(static)
    for (int i = 0; i < g->in; i++) {
        float *dst = x + (size_t)i * g->h * g->w;
        memset(dst, 0, (size_t)g->h * g->w * sizeof *dst);
        for (int t = 0; t < k * k; t++) {
            int ky = t / k, kx = t % k, first, last;
            valid_columns(g, kx, &first, &last);
            const float *src = cols + ((size_t)i * k * k + t) * ld;
            for (int oy = 0; oy < g->oh; oy++) {
                int sy = oy * s + ky - p;
                if (sy < 0 || sy >= g->h) continue;
                float *line = dst + (size_t)sy * g->w + kx - p;
                const float *in = src + (size_t)oy * g->ow;
                if (s == 1)
                    for (int ox = first; ox < last; ox++) line[ox] += in[ox];
                else
                    for (int ox = first; ox < last; ox++) line[ox * s] += in[ox];
            }
        }
    }
}

void cpu_conv_forward_plane(const float *x, const float *w, float gain, const cpu_conv_geom *g, float *y,
                            float *cols, int threads) {
    int kk = g->in * g->k * g->k, plane = g->oh * g->ow;
    const float *b = x;
    if (!is_pointwise(g)) {
        im2col(x, g, cols, (size_t)plane, threads);
        b = cols;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->out, plane, kk, gain, w, kk, b, plane, 0.0f, y, plane);
}

void cpu_conv_backward_input_plane(const float *dy, const float *w, float gain, const cpu_conv_geom *g, float *dx,
                                   float *cols, int threads) {
    int kk = g->in * g->k * g->k, plane = g->oh * g->ow;
    float *c = is_pointwise(g) ? dx : cols;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, plane, g->out, gain, w, kk, dy, plane, 0.0f, c, plane);
    if (!is_pointwise(g)) col2im(cols, (size_t)plane, g, dx, threads);
}

void cpu_conv_backward_weight_plane(const float *dy, const float *x, float gain, const cpu_conv_geom *g, float *dw,
                                    float beta, float *cols, int threads) {
    int kk = g->in * g->k * g->k, plane = g->oh * g->ow;
    const float *b = x;
    if (!is_pointwise(g)) {
        im2col(x, g, cols, (size_t)plane, threads);
        b = cols;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->out, kk, plane, gain, dy, plane, b, plane, beta, dw, kk);
}

void cpu_conv_im2col_batch(const float *x, int n, const cpu_conv_geom *g, float *cols, int threads) {
    size_t plane = (size_t)g->oh * g->ow, xs = (size_t)g->in * g->h * g->w;
    for (int i = 0; i < n; i++) im2col(x + i * xs, g, cols + i * plane, n * plane, threads);
}

void cpu_conv_col2im_batch(const float *cols, int n, const cpu_conv_geom *g, float *x, int threads) {
    size_t plane = (size_t)g->oh * g->ow, xs = (size_t)g->in * g->h * g->w;
    for (int i = 0; i < n; i++) col2im(cols + i * plane, n * plane, g, x + i * xs, threads);
}

/* ---------------------------------------------------- the Winograd path */

/* A 3x3 'same' convolution (stride 1, pad 1) on a large enough plane runs as
 * Winograd F(2x2, 3x3) (winograd.c: 2.25x less arithmetic than im2col and a
 * GEMM). Its backward-input pass is the same kind of convolution with the
 * kernel transposed (in <-> out) and flipped. */
static void pass_channels(const cpu_conv_geom *g, int transposed, int *in, int *out) {
    *in = transposed ? g->out : g->in;
    *out = transposed ? g->in : g->out;
}

int cpu_conv_winograd_usable(const cpu_conv_geom *g, int transposed) {
    int in, out;
    pass_channels(g, transposed, &in, &out);
    return g->k == 3 && g->stride == 1 && g->pad == 1 && cpu_winograd_usable(in, out, g->h, g->w);
}

/* The kernel the pass convolves with, [out][in][9] of pass_channels, times gain. */
static void oriented_kernel(const float *w, const cpu_conv_geom *g, float gain, int transposed, float *k) {
    int in, out;
    pass_channels(g, transposed, &in, &out);
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
            for (int t = 0; t < 9; t++)
                k[((size_t)o * in + i) * 9 + t] = (transposed ? w[((size_t)i * out + o) * 9 + (8 - t)]
                                                              : w[((size_t)o * in + i) * 9 + t]) *
                                                  gain;
}

static size_t kernel_floats(const cpu_conv_geom *g) { return (size_t)g->in * g->out * 9; }

size_t cpu_conv_winograd_floats(const cpu_conv_geom *g, int transposed, int threads) {
    int in, out;
    pass_channels(g, transposed, &in, &out);
    return kernel_floats(g) + cpu_winograd_weight_floats(out, in) +
           cpu_winograd_scratch_floats(in, out, g->h, g->w, threads);
}

void cpu_conv_winograd_prepare(const float *w, float gain, const cpu_conv_geom *g, int transposed, float *buf,
                               int threads) {
    int in, out;
    pass_channels(g, transposed, &in, &out);
    oriented_kernel(w, g, gain, transposed, buf);
    cpu_winograd_weights(buf, NULL, NULL, in, out, buf + kernel_floats(g), threads);
}

void cpu_conv_winograd_run(const float *x, const cpu_conv_geom *g, int transposed, float *y, float *buf,
                           int threads) {
    int in, out;
    pass_channels(g, transposed, &in, &out);
    const float *u = buf + kernel_floats(g);
    cpu_winograd_conv3x3(x, in, g->h, g->w, u, out, y, buf + kernel_floats(g) + cpu_winograd_weight_floats(out, in),
                         threads);
}

/* Every sample of x [N, in, H, W] -> y [N, out, H, W] (channels of the pass),
 * the kernel transformed once. */
static int winograd_batch(gan_ctx *ctx, const float *x, int n, const float *w, float gain, const cpu_conv_geom *g,
                          int transposed, float *y) {
    int in, out;
    pass_channels(g, transposed, &in, &out);
    size_t floats = cpu_conv_winograd_floats(g, transposed, ctx->threads), plane = (size_t)g->h * g->w;
    float *buf = gan_ctx_alloc(ctx, floats * sizeof(float));
    if (!buf) return -1;
    cpu_conv_winograd_prepare(w, gain, g, transposed, buf, ctx->threads);
    for (int i = 0; i < n; i++)
        cpu_conv_winograd_run(x + (size_t)i * in * plane, g, transposed, y + (size_t)i * out * plane, buf,
                              ctx->threads);
    gan_ctx_release(ctx, buf, floats * sizeof(float));
    return 0;
}

cpu_conv_geom cpu_conv_geom_of(const gan_tensor *x, const gan_tensor *w, const gan_conv2d_args *a) {
    cpu_conv_geom g = {(int)x->shape[1], (int)w->shape[0], (int)w->shape[2], a->stride, a->pad,
                       (int)x->shape[2], (int)x->shape[3], 0, 0};
    g.oh = (g.h + 2 * g.pad - g.k) / g.stride + 1;
    g.ow = (g.w + 2 * g.pad - g.k) / g.stride + 1;
    return g;
}

/* ------------------------------------------------ batched-GEMM layouts */

void cpu_to_channel_major(const float *src, int n, int c, size_t p, const float *scale, float *dst) {
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const float *a = src + ((size_t)i * c + ch) * p;
            float *b = dst + ((size_t)ch * n + i) * p;
            if (!scale) memcpy(b, a, p * sizeof *b);
            else
                for (size_t k = 0; k < p; k++) b[k] = a[k] * scale[(size_t)i * c + ch];
        }
}

void cpu_from_channel_major(const float *src, int n, int c, size_t p, float *dst) {
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            memcpy(dst + ((size_t)i * c + ch) * p, src + ((size_t)ch * n + i) * p, p * sizeof *dst);
}

int cpu_conv2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *w, const gan_conv2d_args *a) {
    cpu_conv_geom g = cpu_conv_geom_of(x, w, a);
    if (cpu_conv_winograd_usable(&g, 0))
        return winograd_batch(ctx, x->data, (int)x->shape[0], w->data, a->weight_gain, &g, 0, y->data);
    size_t floats = cpu_conv_cols_floats(&g), xs = (size_t)g.in * g.h * g.w, ys = (size_t)g.out * g.oh * g.ow;
    float *cols = floats ? gan_ctx_alloc(ctx, floats * sizeof(float)) : NULL;
    if (floats && !cols) return -1;
    for (int64_t n = 0; n < x->shape[0]; n++)
        cpu_conv_forward_plane(x->data + n * xs, w->data, a->weight_gain, &g, y->data + n * ys, cols, ctx->threads);
    if (cols) gan_ctx_release(ctx, cols, floats * sizeof(float));
    return 0;
}

int cpu_conv2d_backward_input(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *w,
                              const gan_conv2d_args *a) {
    cpu_conv_geom g = cpu_conv_geom_of(dx, w, a);
    if (cpu_conv_winograd_usable(&g, 1))
        return winograd_batch(ctx, dy->data, (int)dy->shape[0], w->data, a->weight_gain, &g, 1, dx->data);
    size_t floats = cpu_conv_cols_floats(&g), xs = (size_t)g.in * g.h * g.w, ys = (size_t)g.out * g.oh * g.ow;
    float *cols = floats ? gan_ctx_alloc(ctx, floats * sizeof(float)) : NULL;
    if (floats && !cols) return -1;
    for (int64_t n = 0; n < dx->shape[0]; n++)
        cpu_conv_backward_input_plane(dy->data + n * ys, w->data, a->weight_gain, &g, dx->data + n * xs, cols,
                                      ctx->threads);
    if (cols) gan_ctx_release(ctx, cols, floats * sizeof(float));
    return 0;
}

int cpu_conv2d_backward_weight(gan_ctx *ctx, gan_tensor *dw, const gan_tensor *dy, const gan_tensor *x,
                               const gan_conv2d_args *a) {
    cpu_conv_geom g = cpu_conv_geom_of(x, dw, a);
    size_t floats = cpu_conv_cols_floats(&g), xs = (size_t)g.in * g.h * g.w, ys = (size_t)g.out * g.oh * g.ow;
    float *cols = floats ? gan_ctx_alloc(ctx, floats * sizeof(float)) : NULL;
    if (floats && !cols) return -1;
    for (int64_t n = 0; n < x->shape[0]; n++)
        cpu_conv_backward_weight_plane(dy->data + n * ys, x->data + n * xs, a->weight_gain, &g, dw->data,
                                       n == 0 ? 0.0f : 1.0f, cols, ctx->threads);
    if (cols) gan_ctx_release(ctx, cols, floats * sizeof(float));
    return 0;
}
