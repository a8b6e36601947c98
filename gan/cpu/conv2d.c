/* Plain 2-D convolution (cross-correlation) on the CPU, forward and both
 * backward passes, as im2col + GEMM per sample:
 *   forward:         y[O, OH*OW]   = w[O, I*k*k] . cols[I*k*k, OH*OW]
 *   backward input:  cols          = w^T . dy, then col2im adds cols into dx
 *   backward weight: dw[O, I*k*k] += dy[O, OH*OW] . cols^T
 * The discriminator's layers and the training path of the modulated
 * convolution (gan/cpu/modconv_backward.c) are built on these. A 1x1 kernel
 * with stride 1 and no padding needs no im2col: the input is its own column
 * matrix. */
#include <cblas.h>
#include <string.h>

#include "cpu.h"

static int is_pointwise(const cpu_conv_geom *g) { return g->k == 1 && g->stride == 1 && g->pad == 0; }

size_t cpu_conv_cols_floats(const cpu_conv_geom *g) {
    return is_pointwise(g) ? 0 : (size_t)g->in * g->k * g->k * g->oh * g->ow;
}

/* cols[(i, ky, kx)][(oy, ox)] = x[i, oy*s + ky - p, ox*s + kx - p], zero outside. */
static void im2col(const float *x, const cpu_conv_geom *g, float *cols, int threads) {
    int k = g->k, s = g->stride, p = g->pad;
    size_t plane = (size_t)g->oh * g->ow;
#pragma omp parallel for num_threads(threads) if (plane * g->in * k * k > CPU_PARALLEL_MIN) schedule(static)
    for (int row = 0; row < g->in * k * k; row++) {
        int i = row / (k * k), ky = row / k % k, kx = row % k;
        float *dst = cols + (size_t)row * plane;
        const float *src = x + (size_t)i * g->h * g->w;
        for (int oy = 0; oy < g->oh; oy++) {
            int sy = oy * s + ky - p;
            for (int ox = 0; ox < g->ow; ox++) {
                int sx = ox * s + kx - p;
                *dst++ = sy >= 0 && sy < g->h && sx >= 0 && sx < g->w ? src[(size_t)sy * g->w + sx] : 0.0f;
            }
        }
    }
}

/* The adjoint of im2col: x = 0, then each column entry is added where it was
 * read from. Input channels are independent, so they run in parallel. */
static void col2im(const float *cols, const cpu_conv_geom *g, float *x, int threads) {
    int k = g->k, s = g->stride, p = g->pad;
    size_t plane = (size_t)g->oh * g->ow;
#pragma omp parallel for num_threads(threads) if (plane * g->in * k * k > CPU_PARALLEL_MIN) schedule(static)
    for (int i = 0; i < g->in; i++) {
        float *dst = x + (size_t)i * g->h * g->w;
        memset(dst, 0, (size_t)g->h * g->w * sizeof *dst);
        for (int t = 0; t < k * k; t++) {
            int ky = t / k, kx = t % k;
            const float *src = cols + ((size_t)i * k * k + t) * plane;
            for (int oy = 0; oy < g->oh; oy++) {
                int sy = oy * s + ky - p;
                if (sy < 0 || sy >= g->h) continue;
                for (int ox = 0; ox < g->ow; ox++) {
                    int sx = ox * s + kx - p;
                    if (sx >= 0 && sx < g->w) dst[(size_t)sy * g->w + sx] += src[(size_t)oy * g->ow + ox];
                }
            }
        }
    }
}

void cpu_conv_forward_plane(const float *x, const float *w, float gain, const cpu_conv_geom *g, float *y,
                            float *cols, int threads) {
    int kk = g->in * g->k * g->k, plane = g->oh * g->ow;
    const float *b = x;
    if (!is_pointwise(g)) {
        im2col(x, g, cols, threads);
        b = cols;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->out, plane, kk, gain, w, kk, b, plane, 0.0f, y, plane);
}

void cpu_conv_backward_input_plane(const float *dy, const float *w, float gain, const cpu_conv_geom *g, float *dx,
                                   float *cols, int threads) {
    int kk = g->in * g->k * g->k, plane = g->oh * g->ow;
    float *c = is_pointwise(g) ? dx : cols;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, plane, g->out, gain, w, kk, dy, plane, 0.0f, c, plane);
    if (!is_pointwise(g)) col2im(cols, g, dx, threads);
}

void cpu_conv_backward_weight_plane(const float *dy, const float *x, float gain, const cpu_conv_geom *g, float *dw,
                                    float beta, float *cols, int threads) {
    int kk = g->in * g->k * g->k, plane = g->oh * g->ow;
    const float *b = x;
    if (!is_pointwise(g)) {
        im2col(x, g, cols, threads);
        b = cols;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->out, kk, plane, gain, dy, plane, b, plane, beta, dw, kk);
}

cpu_conv_geom cpu_conv_geom_of(const gan_tensor *x, const gan_tensor *w, const gan_conv2d_args *a) {
    cpu_conv_geom g = {(int)x->shape[1], (int)w->shape[0], (int)w->shape[2], a->stride, a->pad,
                       (int)x->shape[2], (int)x->shape[3], 0, 0};
    g.oh = (g.h + 2 * g.pad - g.k) / g.stride + 1;
    g.ow = (g.w + 2 * g.pad - g.k) / g.stride + 1;
    return g;
}

int cpu_conv2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *w, const gan_conv2d_args *a) {
    cpu_conv_geom g = cpu_conv_geom_of(x, w, a);
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
