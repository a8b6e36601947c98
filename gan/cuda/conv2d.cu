/* Plain 2-D convolution (cross-correlation) on the GPU, forward and both
 * backward passes, as im2col + one cuBLAS GEMM over a whole chunk of
 * samples (the CPU's batched layout, gan/cpu/conv2d.c):
 *   forward:         Y[O, n*OH*OW] = gain * w[O, I*k*k] . cols[I*k*k, n*OH*OW],
 *                    then Y -> y [n, O, OH*OW];
 *   backward input:  cols = gain * w^T . DY (DY = dy as [O, n*OH*OW]),
 *                    then col2im into the zeroed dx;
 *   backward weight: dw (+)= gain * DY . cols^T, accumulated over chunks.
 * The column matrix of all samples side by side makes one large GEMM
 * instead of n small ones, which matters for the discriminator's late layers
 * whose planes are a few pixels. Batches whose column matrices would pass
 * CHUNK_FLOATS run in chunks of samples.
 *
 * cuda_im2col and cuda_col2im serve modconv too (gan/cuda/modconv.cu). */
#include "cuda.h"

namespace {

/* 256 MiB of scratch per chunk: large GEMMs without letting big planes ask
 * for gigabytes. */
constexpr size_t CHUNK_FLOATS = (size_t(256) << 20) / sizeof(float);

/* The geometry of one im2col / col2im: `samples` images x [samples, in, h, w]
 * against a k x k kernel, giving columns [in*k*k, samples*oh*ow]. */
struct col_geom {
    int samples, in, h, w, k, stride, pad, oh, ow;
};

/* cols[(c*k + ky)*k + kx][s*oh*ow + oy*ow + ox] = x[s, c, oy*stride + ky - pad, ox*stride + kx - pad],
 * zero outside the image. One thread per column entry: writes coalesce. */
__global__ void im2col_kernel(float *cols, const float *x, col_geom g) {
    int64_t plane = (int64_t)g.oh * g.ow, width = g.samples * plane, taps = (int64_t)g.k * g.k;
    CUDA_FOR(e, (int64_t)g.in * taps * width) {
        int64_t row = e / width, column = e - row * width;
        int64_t sample = column / plane, p = column - sample * plane;
        int oy = (int)(p / g.ow), ox = (int)(p - (int64_t)oy * g.ow);
        int c = (int)(row / taps), tap = (int)(row - c * taps), ky = tap / g.k, kx = tap - ky * g.k;
        int sy = oy * g.stride + ky - g.pad, sx = ox * g.stride + kx - g.pad;
        bool inside = sy >= 0 && sy < g.h && sx >= 0 && sx < g.w;
        cols[e] = inside ? x[((sample * g.in + c) * g.h + sy) * g.w + sx] : 0.0f;
    }
}

/* The adjoint of im2col, gathering rather than scattering: one thread per
 * x element adds the column entries that im2col read from it, so no two
 * threads write the same place and no atomics are needed. The taps are
 * visited in the CPU's order (ky, then kx, ascending), so the float sums
 * round as the CPU's do. */
__global__ void col2im_kernel(float *x, const float *cols, col_geom g) {
    int64_t plane = (int64_t)g.oh * g.ow, width = g.samples * plane;
    CUDA_FOR(e, (int64_t)g.samples * g.in * g.h * g.w) {
        int ix = (int)(e % g.w), iy = (int)(e / g.w % g.h);
        int64_t sc = e / ((int64_t)g.h * g.w), c = sc % g.in, sample = sc / g.in;
        const float *base = cols + sample * plane;
        float sum = x[e];
        for (int ky = 0; ky < g.k; ky++) {
            int ty = iy + g.pad - ky; /* = oy * stride for the output row that read (iy, ix) through ky */
            if (ty < 0) break;         /* and smaller still for larger ky */
            if (ty % g.stride != 0 || ty / g.stride >= g.oh) continue;
            int oy = ty / g.stride;
            for (int kx = 0; kx < g.k; kx++) {
                int tx = ix + g.pad - kx;
                if (tx < 0) break;
                if (tx % g.stride != 0 || tx / g.stride >= g.ow) continue;
                int64_t row = (c * g.k + ky) * g.k + kx;
                sum += base[row * width + (int64_t)oy * g.ow + tx / g.stride];
            }
        }
        x[e] = sum;
    }
}

/* dst [C, n*P] (channel-major, a GEMM's operand) from src [n, C, P] (NCHW). */
__global__ void to_channel_major_kernel(float *dst, const float *src, int n, int channels, int64_t p) {
    int64_t width = n * p;
    CUDA_FOR(e, channels * width) {
        int64_t c = e / width, rest = e - c * width, sample = rest / p, q = rest - sample * p;
        dst[e] = src[(sample * channels + c) * p + q];
    }
}

/* dst [n, C, P] (NCHW) from src [C, n*P]. */
__global__ void from_channel_major_kernel(float *dst, const float *src, int n, int channels, int64_t p) {
    CUDA_FOR(e, (int64_t)n * channels * p) {
        int64_t q = e % p, sc = e / p, c = sc % channels, sample = sc / channels;
        dst[e] = src[(c * n + sample) * p + q];
    }
}

int to_channel_major(gan_ctx *ctx, float *dst, const float *src, int n, int channels, int64_t p) {
    to_channel_major_kernel<<<cuda_blocks((int64_t)n * channels * p), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        dst, src, n, channels, p);
    return cuda_launched(ctx, "conv2d to_channel_major");
}

int from_channel_major(gan_ctx *ctx, float *dst, const float *src, int n, int channels, int64_t p) {
    from_channel_major_kernel<<<cuda_blocks((int64_t)n * channels * p), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        dst, src, n, channels, p);
    return cuda_launched(ctx, "conv2d from_channel_major");
}

/* ------------------------------------------------------------ geometry */

struct conv_geom {
    int n, in, out, k, stride, pad, h, w, oh, ow;
    int64_t plane;      /* oh * ow */
    int kk;             /* in * k * k: the GEMMs' inner dimension (rows of cols) */
    int64_t x_sample;   /* floats of one input sample */
    int64_t y_sample;   /* floats of one output sample */
};

/* x_shape: the input (or its gradient), weight [O, I, k, k] (or its gradient). */
conv_geom geom_of(const gan_tensor *x_shape, const gan_tensor *weight, const gan_conv2d_args *a) {
    conv_geom g{};
    g.n = (int)x_shape->shape[0], g.in = (int)x_shape->shape[1];
    g.h = (int)x_shape->shape[2], g.w = (int)x_shape->shape[3];
    g.out = (int)weight->shape[0], g.k = (int)weight->shape[2], g.stride = a->stride, g.pad = a->pad;
    g.oh = (g.h + 2 * g.pad - g.k) / g.stride + 1, g.ow = (g.w + 2 * g.pad - g.k) / g.stride + 1;
    g.plane = (int64_t)g.oh * g.ow, g.kk = g.in * g.k * g.k;
    g.x_sample = (int64_t)g.in * g.h * g.w, g.y_sample = g.out * g.plane;
    return g;
}

col_geom columns_of(const conv_geom &g, int samples) {
    return {samples, g.in, g.h, g.w, g.k, g.stride, g.pad, g.oh, g.ow};
}

/* The scratch of one chunk: cols [kk, count*plane] and dyc, the output or
 * its gradient channel-major [O, count*plane]. */
struct conv_scratch {
    int per_chunk; /* samples per chunk */
    size_t cols_floats, channel_floats;
};

conv_scratch scratch_plan(const conv_geom &g) {
    size_t per_sample = ((size_t)g.kk + (size_t)g.out) * (size_t)g.plane;
    size_t fit = CHUNK_FLOATS / (per_sample ? per_sample : 1);
    conv_scratch s{};
    s.per_chunk = fit < 1 ? 1 : fit > (size_t)g.n ? g.n : (int)fit;
    /* Rounded up to 32 floats so the second buffer starts 128-byte aligned, as cuBLAS prefers. */
    s.cols_floats = ((size_t)g.kk * g.plane * s.per_chunk + 31) / 32 * 32;
    s.channel_floats = (size_t)g.out * g.plane * s.per_chunk;
    return s;
}

/* Allocates the chunk scratch; NULL with the error recorded in ctx. */
float *scratch_or_fail(gan_ctx *ctx, cuda_scratch &scratch, const char *op) {
    if (!scratch.ptr)
        gan_ctx_fail(ctx, "%s: out of GPU memory (%zu MiB of scratch)", op, scratch.bytes >> 20);
    return scratch.ptr;
}

}  // namespace

/* ------------------------------------------------------ shared helpers */

int cuda_im2col(gan_ctx *ctx, const float *x, int n, int in, int h, int w, int k, int stride, int pad, int oh, int ow,
                float *cols) {
    col_geom g = {n, in, h, w, k, stride, pad, oh, ow};
    int64_t entries = (int64_t)in * k * k * n * oh * ow;
    if (entries == 0) return 0;
    im2col_kernel<<<cuda_blocks(entries), CUDA_THREADS, 0, cuda_stream(ctx)>>>(cols, x, g);
    return cuda_launched(ctx, "im2col");
}

/* Adds the columns back where im2col took them from: x += col2im(cols). It
 * accumulates, so callers that want the plain adjoint zero x first. */
int cuda_col2im(gan_ctx *ctx, const float *cols, int n, int in, int h, int w, int k, int stride, int pad, int oh,
                int ow, float *x) {
    col_geom g = {n, in, h, w, k, stride, pad, oh, ow};
    int64_t elements = (int64_t)n * in * h * w;
    if (elements == 0) return 0;
    col2im_kernel<<<cuda_blocks(elements), CUDA_THREADS, 0, cuda_stream(ctx)>>>(x, cols, g);
    return cuda_launched(ctx, "col2im");
}

/* ------------------------------------------------------------ the ops */

namespace {

/* One chunk of samples [n0, n0 + count): its column matrix cols [kk, width]
 * and the channel-major buffer chan [O, width], width = count * plane. */
struct conv_chunk {
    int n0, count, width;
    float *cols, *chan;
};

/* Runs body(chunk) over the batch in chunks whose scratch fits CHUNK_FLOATS;
 * stops at the first failure. */
template <typename Body>
int for_each_chunk(gan_ctx *ctx, const conv_geom &g, const char *op, Body body) {
    conv_scratch plan = scratch_plan(g);
    cuda_scratch scratch(ctx, plan.cols_floats + plan.channel_floats);
    float *cols = scratch_or_fail(ctx, scratch, op);
    if (!cols) return -1;
    for (int n0 = 0; n0 < g.n; n0 += plan.per_chunk) {
        int count = g.n - n0 < plan.per_chunk ? g.n - n0 : plan.per_chunk;
        conv_chunk c = {n0, count, (int)(count * g.plane), cols, cols + plan.cols_floats};
        if (body(c) != 0) return -1;
    }
    return 0;
}

int im2col_chunk(gan_ctx *ctx, const conv_geom &g, const float *x, const conv_chunk &c) {
    col_geom cg = columns_of(g, c.count);
    return cuda_im2col(ctx, x + c.n0 * g.x_sample, c.count, cg.in, cg.h, cg.w, cg.k, cg.stride, cg.pad, cg.oh, cg.ow,
                       c.cols);
}

}  // namespace

int cuda_conv2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *w, const gan_conv2d_args *a) {
    if (y->numel == 0) return 0;
    conv_geom g = geom_of(x, w, a);
    return for_each_chunk(ctx, g, "conv2d", [&](const conv_chunk &c) {
        if (im2col_chunk(ctx, g, x->data, c) != 0 ||
            cuda_gemm(ctx, false, false, g.out, c.width, g.kk, a->weight_gain, w->data, g.kk, c.cols, c.width, 0.0f,
                      c.chan, c.width) != 0)
            return -1;
        return from_channel_major(ctx, y->data + c.n0 * g.y_sample, c.chan, c.count, g.out, g.plane);
    });
}

int cuda_conv2d_backward_input(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *w,
                               const gan_conv2d_args *a) {
    if (dx->numel == 0) return 0;
    conv_geom g = geom_of(dx, w, a);
    return for_each_chunk(ctx, g, "conv2d_backward_input", [&](const conv_chunk &c) {
        float *dx_chunk = dx->data + c.n0 * g.x_sample;
        col_geom cg = columns_of(g, c.count);
        if (to_channel_major(ctx, c.chan, dy->data + c.n0 * g.y_sample, c.count, g.out, g.plane) != 0 ||
            cuda_gemm(ctx, true, false, g.kk, c.width, g.out, a->weight_gain, w->data, g.kk, c.chan, c.width, 0.0f,
                      c.cols, c.width) != 0 ||
            cuda_fill(ctx, dx_chunk, c.count * g.x_sample, 0.0f) != 0)
            return -1;
        return cuda_col2im(ctx, c.cols, c.count, cg.in, cg.h, cg.w, cg.k, cg.stride, cg.pad, cg.oh, cg.ow, dx_chunk);
    });
}

int cuda_conv2d_backward_weight(gan_ctx *ctx, gan_tensor *dw, const gan_tensor *dy, const gan_tensor *x,
                                const gan_conv2d_args *a) {
    if (dw->numel == 0) return 0;
    conv_geom g = geom_of(x, dw, a);
    if (g.n == 0 || g.plane == 0) return cuda_fill(ctx, dw->data, dw->numel, 0.0f); /* an empty sum */
    return for_each_chunk(ctx, g, "conv2d_backward_weight", [&](const conv_chunk &c) {
        /* The first chunk overwrites dw, later ones add to it. */
        float beta = c.n0 == 0 ? 0.0f : 1.0f;
        if (im2col_chunk(ctx, g, x->data, c) != 0 ||
            to_channel_major(ctx, c.chan, dy->data + c.n0 * g.y_sample, c.count, g.out, g.plane) != 0)
            return -1;
        return cuda_gemm(ctx, false, true, g.out, g.kk, c.width, a->weight_gain, c.chan, c.width, c.cols, c.width,
                         beta, dw->data, g.kk);
    });
}
