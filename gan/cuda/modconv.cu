/* Modulated convolution on the GPU, forward and backward.
 *
 * The reference's training formulation (fused_modconv = False) rather than
 * a private weight per sample: with xs = x * s (styles per input channel)
 * and d[n, o] = rsqrt(sum_i s[n, i]^2 wsq[o, i] + 1e-8), wsq[o, i] =
 * sum_t w[o, i, t]^2, the output is y = conv(xs, w) * d. The convolution
 * then shares one weight over the whole batch, so it is a GEMM over the
 * column matrices of all samples side by side, never O*I*k*k floats per
 * sample:
 *   up = 1: y[n][O, HW] = w[O, I*k*k] . cols(xs)[I*k*k, n*HW + ...];
 *   up = 2: cols[O*k*k, N*HW] = wt^T . xs[I, N*HW] (wt = w as [I][O][k*k]),
 *           col2im with stride 2 into the (H-1)*2+k planes t (the transposed
 *           convolution), then the FIR filter (gain 4, the padding of
 *           gan_modconv_up_padding) as gan/cpu/modconv.c does.
 * The backward pass is gan/cpu/modconv_backward.c's batched path: d's
 * gradient needs the undemodulated output, recomputed with one more GEMM:
 *   dd[n, o] = <dy[n, o], y'[n, o]> (up = 2: <FIR_back(dy), t'>),
 *   c = dd d^3, ds -= s sum_o c wsq, dw -= w sum_n c s^2.
 * Large batches run in chunks of samples so that the column matrices stay
 * within CHUNK_FLOATS; the weight gradient accumulates over the chunks. */
#include "cuda.h"

namespace {

/* Scratch per chunk of samples: 1 GiB keeps the column GEMMs large without
 * letting 1024-pixel planes ask for tens of gigabytes. */
constexpr size_t CHUNK_FLOATS = size_t(1) << 28;

/* Where element p of plane (n, c) lies: n * stride_n + c * stride_c + p.
 * NCHW tensors and the channel-major [C, N*HW] matrices of the GEMMs. */
struct plane_layout {
    int64_t stride_n, stride_c;
};

plane_layout nchw(int channels, int64_t hw) { return {channels * hw, hw}; }
plane_layout channel_major(int samples, int64_t hw) { return {hw, samples * hw}; }

/* ---------------------------------------------------------------- kernels */

/* wsq[o, i] = sum_t w[o, i, t]^2 (rows = O*I). */
__global__ void weight_square_sums_kernel(float *wsq, const float *w, int64_t rows, int taps) {
    CUDA_FOR(r, rows) {
        double sum = 0;
        for (int t = 0; t < taps; t++) {
            double v = w[r * taps + t];
            sum += v * v;
        }
        wsq[r] = (float)sum;
    }
}

/* One block per (n, o): d = rsqrt(sum_i s[n, i]^2 wsq[o, i] + 1e-8). */
__global__ void demod_coefficients_kernel(float *d, const float *s, const float *wsq, int samples, int in, int out) {
    for (int64_t q = blockIdx.x; q < (int64_t)samples * out; q += gridDim.x) {
        int64_t b = q / out, o = q % out;
        double sum = 0;
        for (int i = threadIdx.x; i < in; i += blockDim.x) {
            double v = s[b * in + i];
            sum += v * v * wsq[o * in + i];
        }
        sum = cuda_block_sum(sum);
        if (threadIdx.x == 0) d[q] = 1.0f / sqrtf((float)sum + 1e-8f);
    }
}

/* dst (in dst_layout) = src (NCHW) * scale[plane]. dst may be src when the
 * layout is NCHW: each element is read and written by the same thread. */
__global__ void scale_planes_kernel(float *dst, plane_layout dst_layout, const float *src, const float *scale,
                                    int64_t planes, int channels, int64_t hw) {
    CUDA_FOR(e, planes * hw) {
        int64_t q = e / hw, p = e - q * hw, b = q / channels, c = q - b * channels;
        dst[b * dst_layout.stride_n + c * dst_layout.stride_c + p] = src[e] * scale[q];
    }
}

/* One block per plane q = (n, c): out[q] = <a[q] (NCHW), b[n, c] (b_layout)>. */
__global__ void plane_dots_kernel(float *out, const float *a, const float *b, plane_layout b_layout, int64_t planes,
                                  int channels, int64_t hw) {
    for (int64_t q = blockIdx.x; q < planes; q += gridDim.x) {
        const float *pa = a + q * hw, *pb = b + (q / channels) * b_layout.stride_n + (q % channels) * b_layout.stride_c;
        double sum = 0;
        for (int64_t p = threadIdx.x; p < hw; p += blockDim.x) sum += (double)pa[p] * pb[p];
        sum = cuda_block_sum(sum);
        if (threadIdx.x == 0) out[q] = (float)sum;
    }
}

/* dxs is the gradient at x * s. One block per plane q = (n, i):
 * ds[q] = <dxs[q], x[q]> and dx[q] = dxs[q] * s[q]; either may be NULL.
 * dx may alias dxs when dxs_layout is NCHW (same thread, same element). */
__global__ void unmodulate_kernel(float *dx, float *ds, const float *dxs, plane_layout dxs_layout, const float *x,
                                  const float *s, int64_t planes, int channels, int64_t hw) {
    for (int64_t q = blockIdx.x; q < planes; q += gridDim.x) {
        const float *g = dxs + (q / channels) * dxs_layout.stride_n + (q % channels) * dxs_layout.stride_c;
        const float *xq = x + q * hw;
        float scale = s[q];
        double sum = 0;
        for (int64_t p = threadIdx.x; p < hw; p += blockDim.x) {
            float v = g[p];
            sum += (double)v * xq[p];
            if (dx) dx[q * hw + p] = v * scale;
        }
        if (!ds) continue; /* uniform over the block, so no thread skips the sum's barriers alone */
        sum = cuda_block_sum(sum);
        if (threadIdx.x == 0) ds[q] = (float)sum;
    }
}

/* [rows][cols][taps] -> [cols][rows][taps]. */
__global__ void transpose_blocks_kernel(float *dst, const float *src, int rows, int cols, int taps) {
    CUDA_FOR(e, (int64_t)rows * cols * taps) {
        int64_t t = e % taps, rc = e / taps, c = rc % cols, r = rc / cols;
        dst[(c * rows + r) * taps + t] = src[e];
    }
}

/* dL/dd scaled into the derivative of d's argument: c = dd d^3, as the CPU rounds it. */
__device__ inline float demod_grad(float dd, float d) { return dd * (d * d * d); }

/* ds[n, i] -= s[n, i] sum_o c[n, o] wsq[o, i]. */
__global__ void demod_chain_styles_kernel(float *ds, const float *dd, const float *d, const float *s,
                                          const float *wsq, int samples, int in, int out) {
    CUDA_FOR(q, (int64_t)samples * in) {
        int64_t b = q / in, i = q % in;
        double sum = 0;
        for (int o = 0; o < out; o++) sum += (double)demod_grad(dd[b * out + o], d[b * out + o]) * wsq[o * in + i];
        ds[q] -= s[q] * (float)sum;
    }
}

/* dw[o, i, t] -= w[o, i, t] sum_n c[n, o] s[n, i]^2. */
__global__ void demod_chain_weight_kernel(float *dw, const float *w, const float *dd, const float *d, const float *s,
                                          int samples, int in, int out, int taps) {
    CUDA_FOR(q, (int64_t)out * in) {
        int64_t o = q / in, i = q % in;
        double sum = 0;
        for (int b = 0; b < samples; b++)
            sum += (double)demod_grad(dd[(int64_t)b * out + o], d[(int64_t)b * out + o]) * s[(int64_t)b * in + i] *
                   s[(int64_t)b * in + i];
        float f = (float)sum;
        for (int t = 0; t < taps; t++) dw[q * taps + t] -= w[q * taps + t] * f;
    }
}

/* ------------------------------------------------------------- launchers */

/* Blocks for the one-block-per-item reductions (the kernels loop past the cap). */
unsigned reduce_blocks(int64_t items) { return (unsigned)(items < 1 ? 1 : items > (1 << 20) ? (1 << 20) : items); }

int scale_planes(gan_ctx *ctx, float *dst, plane_layout layout, const float *src, const float *scale, int64_t planes,
                 int channels, int64_t hw) {
    scale_planes_kernel<<<cuda_blocks(planes * hw), CUDA_THREADS, 0, cuda_stream(ctx)>>>(dst, layout, src, scale,
                                                                                         planes, channels, hw);
    return cuda_launched(ctx, "modconv scale_planes");
}

int plane_dots(gan_ctx *ctx, float *out, const float *a, const float *b, plane_layout b_layout, int64_t planes,
               int channels, int64_t hw) {
    plane_dots_kernel<<<reduce_blocks(planes), CUDA_THREADS, 0, cuda_stream(ctx)>>>(out, a, b, b_layout, planes,
                                                                                    channels, hw);
    return cuda_launched(ctx, "modconv plane_dots");
}

int unmodulate(gan_ctx *ctx, float *dx, float *ds, const float *dxs, plane_layout dxs_layout, const float *x,
               const float *s, int64_t planes, int channels, int64_t hw) {
    unmodulate_kernel<<<reduce_blocks(planes), CUDA_THREADS, 0, cuda_stream(ctx)>>>(dx, ds, dxs, dxs_layout, x, s,
                                                                                    planes, channels, hw);
    return cuda_launched(ctx, "modconv unmodulate");
}

int transpose_blocks(gan_ctx *ctx, float *dst, const float *src, int rows, int cols, int taps) {
    transpose_blocks_kernel<<<cuda_blocks((int64_t)rows * cols * taps), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        dst, src, rows, cols, taps);
    return cuda_launched(ctx, "modconv transpose_blocks");
}

/* -------------------------------------------------------------- geometry */

struct mc_shape {
    int n, in, out, k, taps, h, w, up;
    int64_t hw, ohw;    /* input and output plane */
    int th, tw;         /* the transposed convolution's plane, (H-1)*2+k square (up = 2) */
    int64_t tplane;
    int fh, fw;
    const float *filter;
    gan_upfirdn2d_args fir, fir_back; /* t -> y and its adjoint dy -> dt */
};

mc_shape shape_of(const gan_tensor *x, const gan_tensor *weight, const gan_modconv_args *args) {
    mc_shape m{};
    m.n = (int)x->shape[0], m.in = (int)x->shape[1], m.h = (int)x->shape[2], m.w = (int)x->shape[3];
    m.out = (int)weight->shape[0], m.k = (int)weight->shape[2], m.taps = m.k * m.k, m.up = args->up;
    m.hw = (int64_t)m.h * m.w, m.ohw = m.hw * m.up * m.up;
    if (m.up != 2) return m;
    m.th = (m.h - 1) * 2 + m.k, m.tw = (m.w - 1) * 2 + m.k, m.tplane = (int64_t)m.th * m.tw;
    m.fh = (int)args->filter->shape[0], m.fw = (int)args->filter->shape[1], m.filter = args->filter->data;
    gan_upfirdn2d_args fir{};
    fir.up_x = fir.up_y = fir.down_x = fir.down_y = 1;
    fir.gain = 4.0f; /* flip_filter 0: a true convolution, as gan/cpu/modconv.c prepares it */
    gan_modconv_up_padding(m.k, m.fw, &fir.pad_x0, &fir.pad_x1);
    gan_modconv_up_padding(m.k, m.fh, &fir.pad_y0, &fir.pad_y1);
    m.fir = fir;
    m.fir_back = gan_upfirdn2d_backward_args(fir, m.fh, m.fw, m.th, m.tw, 2 * m.h, 2 * m.w);
    return m;
}

/* Samples per chunk, given the chunk-sized scratch one sample needs. */
int samples_per_chunk(size_t floats_per_sample, int n) {
    size_t fit = CHUNK_FLOATS / (floats_per_sample ? floats_per_sample : 1);
    return fit < 1 ? 1 : fit > (size_t)n ? n : (int)fit;
}

/* Offsets of the pieces of one scratch allocation, each 128-byte aligned
 * (cuBLAS picks its vectorised kernels on aligned operands). */
struct scratch_layout {
    size_t used = 0;
    size_t add(size_t floats) {
        size_t at = used;
        used += (floats + 31) / 32 * 32;
        return at;
    }
};

/* wsq and the demodulation coefficients d [N, O] of all samples. */
int demod_coefficients(gan_ctx *ctx, const mc_shape &m, const float *w, const float *s, float *wsq, float *d) {
    int64_t rows = (int64_t)m.out * m.in;
    weight_square_sums_kernel<<<cuda_blocks(rows), CUDA_THREADS, 0, cuda_stream(ctx)>>>(wsq, w, rows, m.taps);
    if (cuda_launched(ctx, "modconv weight_square_sums") != 0) return -1;
    demod_coefficients_kernel<<<reduce_blocks((int64_t)m.n * m.out), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        d, s, wsq, m.n, m.in, m.out);
    return cuda_launched(ctx, "modconv demod_coefficients");
}

/* One chunk of `count` samples; the pointers are already offset to its first sample. */
struct chunk_io {
    int count;
    const float *x, *s, *d, *dy; /* dy: backward only */
    float *y;                    /* forward only */
    float *dx, *ds, *dd;         /* backward only; NULL when not wanted */
    float beta;                  /* 0 on the first chunk, 1 after: the weight gradient accumulates */
};

/* cols [I*k*k, count*HW] = im2col(x * s), channel-major; for k = 1 that is
 * x * s itself, written there directly. xs [count, I, H, W] is scratch. */
int modulated_columns(gan_ctx *ctx, const mc_shape &m, const chunk_io &c, float *xs, float *cols) {
    int64_t planes = (int64_t)c.count * m.in;
    if (m.k == 1) return scale_planes(ctx, cols, channel_major(c.count, m.hw), c.x, c.s, planes, m.in, m.hw);
    if (scale_planes(ctx, xs, nchw(m.in, m.hw), c.x, c.s, planes, m.in, m.hw) != 0) return -1;
    return cuda_im2col(ctx, xs, c.count, m.in, m.h, m.w, m.k, 1, m.k / 2, m.h, m.w, cols);
}

/* cols [O*k*k, count*HW] = wt^T [O*k*k, I] . xs [I, count*HW], scattered
 * into t [count, O, th, tw]: the transposed convolution of xs. */
int transposed_conv(gan_ctx *ctx, const mc_shape &m, const float *wt, const float *xs, int count, float *cols,
                    float *t) {
    int ot = m.out * m.taps, columns = (int)(count * m.hw);
    if (cuda_gemm(ctx, true, false, ot, columns, m.in, 1.0f, wt, ot, xs, columns, 0.0f, cols, columns) != 0) return -1;
    if (cuda_fill(ctx, t, (int64_t)count * m.out * m.tplane, 0.0f) != 0) return -1;
    return cuda_col2im(ctx, cols, count, m.out, m.th, m.tw, m.k, 2, 0, m.h, m.w, t);
}

/* ---------------------------------------------------------------- forward */

struct forward_buffers {
    float *wsq, *d, *wt, *xs, *cols, *t;
};

int forward_up1_chunk(gan_ctx *ctx, const mc_shape &m, const float *w, const forward_buffers &b, const chunk_io &c) {
    if (modulated_columns(ctx, m, c, b.xs, b.cols) != 0) return -1;
    /* y[n] [O, HW] = w [O, I*k*k] . cols[:, n*HW, +HW): the weight is shared (stride 0). */
    int itaps = m.in * m.taps, hw = (int)m.hw;
    if (cuda_gemm_batched(ctx, false, false, m.out, hw, itaps, 1.0f, w, itaps, 0, b.cols, c.count * hw, hw, 0.0f, c.y,
                          hw, (long long)m.out * hw, c.count) != 0)
        return -1;
    if (!c.d) return 0;
    return scale_planes(ctx, c.y, nchw(m.out, m.hw), c.y, c.d, (int64_t)c.count * m.out, m.out, m.hw);
}

int forward_up2_chunk(gan_ctx *ctx, const mc_shape &m, const forward_buffers &b, const chunk_io &c) {
    int64_t planes = (int64_t)c.count * m.out;
    if (scale_planes(ctx, b.xs, channel_major(c.count, m.hw), c.x, c.s, (int64_t)c.count * m.in, m.in, m.hw) != 0)
        return -1;
    if (transposed_conv(ctx, m, b.wt, b.xs, c.count, b.cols, b.t) != 0) return -1;
    if (cuda_upfirdn2d_planes(ctx, c.y, b.t, planes, m.th, m.tw, m.filter, m.fh, m.fw, &m.fir, 2 * m.h, 2 * m.w) != 0)
        return -1;
    if (!c.d) return 0;
    return scale_planes(ctx, c.y, nchw(m.out, m.ohw), c.y, c.d, planes, m.out, m.ohw);
}

/* --------------------------------------------------------------- backward */

struct backward_buffers {
    float *wsq, *d, *dd, *wt, *dwt;
    float *xs;   /* x * s: NCHW for im2col (up = 1, k > 1), later dxs for col2im; channel-major for up = 2 */
    float *cols; /* [I*k*k or O*k*k, count*HW]; later the columns' gradient */
    float *dyd;  /* dy * d, channel-major [O, count*HW] (up = 1) */
    float *yp;   /* the undemodulated output, channel-major (up = 1, for dd) */
    float *dt;   /* dy taken back through the FIR filter [count, O, th, tw] (up = 2) */
    float *tp;   /* the undemodulated transposed convolution (up = 2, for dd) */
};

/* What the caller asked for; dxs (the gradient at x * s) serves both dx and ds. */
struct wants {
    bool dweight, dxs, dd;
};

int backward_up1_chunk(gan_ctx *ctx, const mc_shape &m, const float *w, float *dweight, const backward_buffers &b,
                       const wants &want, const chunk_io &c) {
    int itaps = m.in * m.taps, columns = (int)(c.count * m.hw);
    int64_t out_planes = (int64_t)c.count * m.out;
    plane_layout cm = channel_major(c.count, m.hw);
    if (modulated_columns(ctx, m, c, b.xs, b.cols) != 0) return -1;
    if (scale_planes(ctx, b.dyd, cm, c.dy, c.d, out_planes, m.out, m.hw) != 0) return -1;
    if (want.dweight && cuda_gemm(ctx, false, true, m.out, itaps, columns, 1.0f, b.dyd, columns, b.cols, columns,
                                  c.beta, dweight, itaps) != 0)
        return -1;
    if (want.dd) {
        if (cuda_gemm(ctx, false, false, m.out, columns, itaps, 1.0f, w, itaps, b.cols, columns, 0.0f, b.yp, columns) !=
                0 ||
            plane_dots(ctx, c.dd, c.dy, b.yp, cm, out_planes, m.out, m.hw) != 0)
            return -1;
    }
    if (!want.dxs) return 0;
    /* The GEMMs above have read cols (same stream), so it takes the columns' gradient. */
    if (cuda_gemm(ctx, true, false, itaps, columns, m.out, 1.0f, w, itaps, b.dyd, columns, 0.0f, b.cols, columns) != 0)
        return -1;
    int64_t in_planes = (int64_t)c.count * m.in;
    if (m.k == 1) return unmodulate(ctx, c.dx, c.ds, b.cols, cm, c.x, c.s, in_planes, m.in, m.hw);
    /* xs was consumed by im2col; it now gathers dxs. */
    if (cuda_fill(ctx, b.xs, in_planes * m.hw, 0.0f) != 0 ||
        cuda_col2im(ctx, b.cols, c.count, m.in, m.h, m.w, m.k, 1, m.k / 2, m.h, m.w, b.xs) != 0)
        return -1;
    return unmodulate(ctx, c.dx, c.ds, b.xs, nchw(m.in, m.hw), c.x, c.s, in_planes, m.in, m.hw);
}

int backward_up2_chunk(gan_ctx *ctx, const mc_shape &m, const backward_buffers &b, const wants &want,
                       const chunk_io &c) {
    int ot = m.out * m.taps, columns = (int)(c.count * m.hw);
    int64_t out_planes = (int64_t)c.count * m.out, in_planes = (int64_t)c.count * m.in;
    plane_layout cm = channel_major(c.count, m.hw);
    if (cuda_upfirdn2d_planes(ctx, b.dt, c.dy, out_planes, 2 * m.h, 2 * m.w, m.filter, m.fh, m.fw, &m.fir_back, m.th,
                              m.tw) != 0)
        return -1;
    if (scale_planes(ctx, b.xs, cm, c.x, c.s, in_planes, m.in, m.hw) != 0) return -1;
    if (want.dd) {
        if (transposed_conv(ctx, m, b.wt, b.xs, c.count, b.cols, b.tp) != 0 ||
            plane_dots(ctx, c.dd, b.dt, b.tp, nchw(m.out, m.tplane), out_planes, m.out, m.tplane) != 0)
            return -1;
    }
    /* dt * d, the gradient at the undemodulated t; im2col with stride 2 is
     * the transposed convolution's adjoint. */
    if (scale_planes(ctx, b.dt, nchw(m.out, m.tplane), b.dt, c.d, out_planes, m.out, m.tplane) != 0 ||
        cuda_im2col(ctx, b.dt, c.count, m.out, m.th, m.tw, m.k, 2, 0, m.h, m.w, b.cols) != 0)
        return -1;
    /* dwt [I, O*k*k] (+)= xs [I, count*HW] . cols^T */
    if (want.dweight &&
        cuda_gemm(ctx, false, true, m.in, ot, columns, 1.0f, b.xs, columns, b.cols, columns, c.beta, b.dwt, ot) != 0)
        return -1;
    if (!want.dxs) return 0;
    /* dxs [I, count*HW] = wt [I, O*k*k] . cols, into xs, whose last reader
     * (the GEMM above) is ahead of it on the stream. */
    if (cuda_gemm(ctx, false, false, m.in, columns, ot, 1.0f, b.wt, ot, b.cols, columns, 0.0f, b.xs, columns) != 0)
        return -1;
    return unmodulate(ctx, c.dx, c.ds, b.xs, cm, c.x, c.s, in_planes, m.in, m.hw);
}

int demod_chain(gan_ctx *ctx, const mc_shape &m, const float *w, const float *s, const backward_buffers &b,
                float *dweight, float *dstyles) {
    cudaStream_t stream = cuda_stream(ctx);
    if (dstyles) {
        demod_chain_styles_kernel<<<cuda_blocks((int64_t)m.n * m.in), CUDA_THREADS, 0, stream>>>(
            dstyles, b.dd, b.d, s, b.wsq, m.n, m.in, m.out);
        if (cuda_launched(ctx, "modconv demod_chain_styles") != 0) return -1;
    }
    if (dweight) {
        demod_chain_weight_kernel<<<cuda_blocks((int64_t)m.out * m.in), CUDA_THREADS, 0, stream>>>(
            dweight, w, b.dd, b.d, s, m.n, m.in, m.out, m.taps);
        if (cuda_launched(ctx, "modconv demod_chain_weight") != 0) return -1;
    }
    return 0;
}

}  // namespace

int cuda_modconv(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                 const gan_modconv_args *args) {
    if (y->numel == 0) return 0;
    mc_shape m = shape_of(x, weight, args);
    bool demod = args->demodulate != 0;
    size_t hw = (size_t)m.hw, in = (size_t)m.in, wfloats = (size_t)m.out * m.in * m.taps;
    size_t xs_floats = m.up == 2 || m.k > 1 ? in * hw : 0; /* k = 1, up = 1: x * s goes straight to cols */
    size_t cols_floats = (size_t)(m.up == 2 ? m.out : m.in) * m.taps * hw;
    size_t t_floats = m.up == 2 ? (size_t)m.out * m.tplane : 0;
    int nb = samples_per_chunk(xs_floats + cols_floats + t_floats, m.n);

    scratch_layout L;
    size_t at_wsq = L.add(demod ? (size_t)m.out * m.in : 0), at_d = L.add(demod ? (size_t)m.n * m.out : 0);
    size_t at_wt = L.add(m.up == 2 ? wfloats : 0), at_xs = L.add(xs_floats * nb);
    size_t at_cols = L.add(cols_floats * nb), at_t = L.add(t_floats * nb);
    cuda_scratch scratch(ctx, L.used);
    if (!scratch.ptr) {
        gan_ctx_fail(ctx, "modconv: out of GPU memory (%zu MiB of scratch)", L.used * sizeof(float) >> 20);
        return -1;
    }
    float *base = scratch.ptr;
    forward_buffers b = {base + at_wsq, base + at_d, base + at_wt, base + at_xs, base + at_cols, base + at_t};

    if (demod && demod_coefficients(ctx, m, weight->data, styles->data, b.wsq, b.d) != 0) return -1;
    if (m.up == 2 && transpose_blocks(ctx, b.wt, weight->data, m.out, m.in, m.taps) != 0) return -1;
    for (int n0 = 0; n0 < m.n; n0 += nb) {
        chunk_io c{};
        c.count = m.n - n0 < nb ? m.n - n0 : nb;
        c.x = x->data + (size_t)n0 * m.in * hw, c.s = styles->data + (size_t)n0 * m.in;
        c.d = demod ? b.d + (size_t)n0 * m.out : nullptr;
        c.y = y->data + (size_t)n0 * m.out * m.ohw;
        int rc = m.up == 2 ? forward_up2_chunk(ctx, m, b, c) : forward_up1_chunk(ctx, m, weight->data, b, c);
        if (rc != 0) return -1;
    }
    return 0;
}

int cuda_modconv_backward(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dweight, gan_tensor *dstyles,
                          const gan_tensor *dy, const gan_tensor *x, const gan_tensor *weight,
                          const gan_tensor *styles, const gan_modconv_args *args) {
    if (dy->numel == 0) { /* empty sums: the gradients are zero */
        for (gan_tensor *g : {dx, dweight, dstyles})
            if (g && cuda_fill(ctx, g->data, g->numel, 0.0f) != 0) return -1;
        return 0;
    }
    if (!dx && !dweight && !dstyles) return 0;
    mc_shape m = shape_of(x, weight, args);
    bool demod = args->demodulate != 0;
    wants want = {dweight != nullptr, dx || dstyles, demod && (dweight || dstyles)};
    size_t hw = (size_t)m.hw, in = (size_t)m.in, out = (size_t)m.out, wfloats = out * in * m.taps;
    size_t xs_floats = m.up == 2 || m.k > 1 ? in * hw : 0;
    size_t cols_floats = (m.up == 2 ? out : in) * m.taps * hw;
    size_t dyd_floats = m.up == 1 ? out * hw : 0, yp_floats = m.up == 1 && want.dd ? out * hw : 0;
    size_t dt_floats = m.up == 2 ? out * m.tplane : 0, tp_floats = m.up == 2 && want.dd ? out * m.tplane : 0;
    int nb = samples_per_chunk(xs_floats + cols_floats + dyd_floats + yp_floats + dt_floats + tp_floats, m.n);

    scratch_layout L;
    size_t at_wsq = L.add(demod ? out * in : 0), at_d = L.add((size_t)m.n * out);
    size_t at_dd = L.add(want.dd ? (size_t)m.n * out : 0), at_wt = L.add(m.up == 2 ? wfloats : 0);
    size_t at_dwt = L.add(m.up == 2 && dweight ? wfloats : 0), at_xs = L.add(xs_floats * nb);
    size_t at_cols = L.add(cols_floats * nb), at_dyd = L.add(dyd_floats * nb), at_yp = L.add(yp_floats * nb);
    size_t at_dt = L.add(dt_floats * nb), at_tp = L.add(tp_floats * nb);
    cuda_scratch scratch(ctx, L.used);
    if (!scratch.ptr) {
        gan_ctx_fail(ctx, "modconv_backward: out of GPU memory (%zu MiB of scratch)", L.used * sizeof(float) >> 20);
        return -1;
    }
    float *base = scratch.ptr;
    backward_buffers b = {base + at_wsq, base + at_d,    base + at_dd,  base + at_wt,
                          base + at_dwt, base + at_xs,   base + at_cols, base + at_dyd,
                          base + at_yp,  base + at_dt,   base + at_tp};

    if (demod ? demod_coefficients(ctx, m, weight->data, styles->data, b.wsq, b.d)
              : cuda_fill(ctx, b.d, (int64_t)m.n * m.out, 1.0f))
        return -1;
    if (m.up == 2 && transpose_blocks(ctx, b.wt, weight->data, m.out, m.in, m.taps) != 0) return -1;
    for (int n0 = 0; n0 < m.n; n0 += nb) {
        chunk_io c{};
        c.count = m.n - n0 < nb ? m.n - n0 : nb;
        c.x = x->data + (size_t)n0 * in * hw, c.s = styles->data + (size_t)n0 * in;
        c.d = b.d + (size_t)n0 * out, c.dy = dy->data + (size_t)n0 * out * m.ohw;
        c.dx = dx ? dx->data + (size_t)n0 * in * hw : nullptr;
        c.ds = dstyles ? dstyles->data + (size_t)n0 * in : nullptr;
        c.dd = want.dd ? b.dd + (size_t)n0 * out : nullptr;
        c.beta = n0 == 0 ? 0.0f : 1.0f;
        int rc = m.up == 2 ? backward_up2_chunk(ctx, m, b, want, c)
                           : backward_up1_chunk(ctx, m, weight->data, dweight ? dweight->data : nullptr, b, want, c);
        if (rc != 0) return -1;
    }
    /* dwt is [I][O][k*k]; the weight's gradient is [O][I][k*k]. */
    if (m.up == 2 && dweight && transpose_blocks(ctx, dweight->data, b.dwt, m.in, m.out, m.taps) != 0) return -1;
    if (!want.dd) return 0;
    return demod_chain(ctx, m, weight->data, styles->data, b, dweight ? dweight->data : nullptr,
                       dstyles ? dstyles->data : nullptr);
}
