/* upfirdn2d on the CPU, one plane at a time: build the zero-stuffed, padded
 * plane, then run the filter over it as a 'valid' correlation with a stride.
 * Materialising the padded plane keeps the inner loop free of bounds checks,
 * so it vectorises. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "cpu.h"

static int padded_height(int h, const gan_upfirdn2d_args *a) { return h * a->up_y + a->pad_y0 + a->pad_y1; }
static int padded_width(int w, const gan_upfirdn2d_args *a) { return w * a->up_x + a->pad_x0 + a->pad_x1; }

size_t cpu_upfirdn2d_scratch(int h, int w, const gan_upfirdn2d_args *args, int fh, int fw) {
    return (size_t)padded_height(h, args) * (size_t)padded_width(w, args) + (size_t)fh * (size_t)fw;
}

/* g = filter * gain, flipped unless flip_filter: the reference convolves. */
void cpu_prepare_filter(const float *f, int fh, int fw, const gan_upfirdn2d_args *a, float *g) {
    for (int i = 0; i < fh; i++)
        for (int j = 0; j < fw; j++) {
            int src = a->flip_filter ? i * fw + j : (fh - 1 - i) * fw + (fw - 1 - j);
            g[i * fw + j] = f[src] * a->gain;
        }
}

static void stuff_and_pad(const float *x, int h, int w, const gan_upfirdn2d_args *a, float *p, int ph, int pw) {
    memset(p, 0, (size_t)ph * pw * sizeof *p);
    for (int iy = 0; iy < h; iy++) {
        int py = iy * a->up_y + a->pad_y0;
        if (py < 0 || py >= ph) continue;
        float *row = p + (size_t)py * pw;
        for (int ix = 0; ix < w; ix++) {
            int px = ix * a->up_x + a->pad_x0;
            if (px >= 0 && px < pw) row[px] = x[(size_t)iy * w + ix];
        }
    }
}

/* g = col * row (an outer product, as every [1,3,3,1]-style filter is)?
 * Then the filter runs as two 1-D passes: fh + fw taps instead of fh * fw. */
int cpu_filter_factor(const float *g, int fh, int fw, float *col, float *row) {
    int pivot = 0;
    for (int i = 1; i < fh * fw; i++)
        if (fabsf(g[i]) > fabsf(g[pivot])) pivot = i;
    int pi = pivot / fw, pj = pivot % fw;
    if (g[pivot] == 0) return 0;
    for (int j = 0; j < fw; j++) row[j] = g[pi * fw + j];
    for (int i = 0; i < fh; i++) col[i] = g[i * fw + pj] / g[pivot];
    for (int i = 0; i < fh; i++)
        for (int j = 0; j < fw; j++)
            if (fabsf(col[i] * row[j] - g[i * fw + j]) > 1e-6f * fabsf(g[pivot])) return 0;
    return 1;
}

/* The separable form of cpu_fir_valid; `line` has room for one padded row. */
static void fir_valid_separable(const float *p, int pw, const float *col, int fh, const float *row, int fw, int down_x,
                                int down_y, float *y, int oh, int ow, float *line) {
    int used = (ow - 1) * down_x + fw;
    for (int oy = 0; oy < oh; oy++) {
        const float *top = p + (size_t)oy * down_y * pw;
        for (int x = 0; x < used; x++) line[x] = col[0] * top[x];
        for (int i = 1; i < fh; i++) {
            const float *src = top + (size_t)i * pw;
            float tap = col[i];
            for (int x = 0; x < used; x++) line[x] += tap * src[x];
        }
        float *out = y + (size_t)oy * ow;
        for (int ox = 0; ox < ow; ox++) out[ox] = row[0] * line[ox * down_x];
        for (int j = 1; j < fw; j++) {
            float tap = row[j];
            if (down_x == 1)
                for (int ox = 0; ox < ow; ox++) out[ox] += tap * line[ox + j];
            else
                for (int ox = 0; ox < ow; ox++) out[ox] += tap * line[ox * down_x + j];
        }
    }
}

void cpu_fir_valid(const float *p, int pw, const float *g, int fh, int fw, int down_x, int down_y, float *y,
                   int oh, int ow) {
    float col[CPU_FIR_MAX_TAPS], row[CPU_FIR_MAX_TAPS], line[CPU_FIR_MAX_LINE];
    int used = (ow - 1) * down_x + fw;
    if (fh <= CPU_FIR_MAX_TAPS && fw <= CPU_FIR_MAX_TAPS && used <= CPU_FIR_MAX_LINE &&
        cpu_filter_factor(g, fh, fw, col, row)) {
        fir_valid_separable(p, pw, col, fh, row, fw, down_x, down_y, y, oh, ow, line);
        return;
    }
    for (int oy = 0; oy < oh; oy++) {
        float *out = y + (size_t)oy * ow;
        for (int ox = 0; ox < ow; ox++) out[ox] = 0;
        for (int i = 0; i < fh; i++) {
            const float *row = p + (size_t)(oy * down_y + i) * pw;
            for (int j = 0; j < fw; j++) {
                float tap = g[i * fw + j];
                if (down_x == 1)
                    for (int ox = 0; ox < ow; ox++) out[ox] += tap * row[ox + j];
                else
                    for (int ox = 0; ox < ow; ox++) out[ox] += tap * row[ox * down_x + j];
            }
        }
    }
}

void cpu_upfirdn2d_plane(const float *x, int h, int w, const float *filter, int fh, int fw,
                         const gan_upfirdn2d_args *args, float *y, int oh, int ow, float *scratch) {
    int ph = padded_height(h, args), pw = padded_width(w, args);
    float *g = scratch, *p = scratch + fh * fw;
    cpu_prepare_filter(filter, fh, fw, args, g);
    stuff_and_pad(x, h, w, args, p, ph, pw);
    cpu_fir_valid(p, pw, g, fh, fw, args->down_x, args->down_y, y, oh, ow);
}

int cpu_upfirdn2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *filter,
                  const gan_upfirdn2d_args *args) {
    int h = (int)x->shape[2], w = (int)x->shape[3], oh = (int)y->shape[2], ow = (int)y->shape[3];
    int fh = (int)filter->shape[0], fw = (int)filter->shape[1];
    int64_t planes = x->shape[0] * x->shape[1];
    int threads = y->numel > CPU_PARALLEL_MIN ? ctx->threads : 1;
    size_t per_thread = cpu_upfirdn2d_scratch(h, w, args, fh, fw);
    float *scratch = gan_ctx_alloc(ctx, per_thread * (size_t)threads * sizeof(float));
    if (!scratch) return -1;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < planes; i++) {
        float *mine = scratch + per_thread * (size_t)omp_get_thread_num();
        cpu_upfirdn2d_plane(x->data + i * h * w, h, w, filter->data, fh, fw, args, y->data + i * oh * ow, oh, ow,
                            mine);
    }
    gan_ctx_release(ctx, scratch, per_thread * (size_t)threads * sizeof(float));
    return 0;
}
