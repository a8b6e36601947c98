/* CPU backend internals: the kernels behind the CPU op table. Plain C11 +
 * OpenMP, GEMMs through OpenBLAS. This backend is the numerical reference that
 * every other backend is tested against. */
#ifndef GAN_CPU_H
#define GAN_CPU_H

#include "../backend.h"

/* Below this many elements a loop is not worth waking the thread team for. */
#define CPU_PARALLEL_MIN 32768

int cpu_linear(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *bias,
               float weight_gain, float bias_gain);
int cpu_normalize_2nd_moment(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cpu_bias_act(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                 const gan_tensor *noise_strength, const gan_bias_act_args *args);
int cpu_bias_act_frozen(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias,
                        const gan_tensor *noise, const gan_tensor *noise_strength, const gan_bias_act_args *args,
                        const gan_tensor *mask_y);
int cpu_modconv(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                const gan_modconv_args *args);
int cpu_upfirdn2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *filter,
                  const gan_upfirdn2d_args *args);
int cpu_add(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b);
int cpu_axpy(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha);
int cpu_scale(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha);
int cpu_adam(gan_ctx *ctx, gan_tensor *param, const gan_tensor *grad, gan_tensor *m, gan_tensor *v,
             const gan_adam_args *a);
int cpu_lerp_into(gan_ctx *ctx, gan_tensor *ema, const gan_tensor *x, float beta);
int cpu_count_nonfinite(gan_ctx *ctx, gan_tensor *count, const gan_tensor *x);
int cpu_truncate(gan_ctx *ctx, gan_tensor *y, const gan_tensor *ws, const gan_tensor *w_avg, float psi, int cutoff);
int cpu_repeat(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cpu_broadcast_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cpu_select_row(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t index);
int cpu_slice(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start);
int cpu_write_slice(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, int64_t start);
int cpu_mix_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int64_t cutoff);
int cpu_sum_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start, int64_t count);
int cpu_sum_batch(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cpu_concat_cols(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b);
int cpu_randn(gan_ctx *ctx, gan_tensor *y, const uint64_t *seeds, int count, uint64_t offset);
int cpu_conv2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *w, const gan_conv2d_args *a);
int cpu_mbstd(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_mbstd_args *a);
int cpu_pad_reflect(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_pad_args *pad);
int cpu_pad_reflect_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_pad_args *pad);
int cpu_affine_sample(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *theta);
int cpu_affine_sample_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *theta);
int cpu_filter_1d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *taps, int axis, int transpose);
int cpu_mul(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b);
int cpu_color_transform(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *matrices, int transpose);

int cpu_linear_backward_input(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *weight,
                              float weight_gain);
int cpu_linear_backward_weight(gan_ctx *ctx, gan_tensor *dweight, const gan_tensor *dy, const gan_tensor *x,
                               float weight_gain);
int cpu_normalize_2nd_moment_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x);
int cpu_bias_act_backward(gan_ctx *ctx, gan_tensor *dz, const gan_tensor *dy, const gan_tensor *y,
                          const gan_bias_act_args *args);
int cpu_sum_channels(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float scale);
int cpu_noise_strength_grad(gan_ctx *ctx, gan_tensor *y, const gan_tensor *dz, const gan_tensor *noise);
int cpu_modconv_backward(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dweight, gan_tensor *dstyles, const gan_tensor *dy,
                         const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                         const gan_modconv_args *args);
int cpu_conv2d_backward_input(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *w,
                              const gan_conv2d_args *a);
int cpu_conv2d_backward_weight(gan_ctx *ctx, gan_tensor *dw, const gan_tensor *dy, const gan_tensor *x,
                               const gan_conv2d_args *a);
int cpu_mbstd_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                       const gan_mbstd_args *a);
int cpu_mbstd_jvp(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *t, const gan_mbstd_args *a);
int cpu_mbstd_jvp_backward_x(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                             const gan_tensor *t, const gan_mbstd_args *a);

/* One sample of a plain convolution (gan/cpu/conv2d.c): x [in, h, w] ->
 * y [out, oh, ow] with w [out, in*k*k] times gain; `cols` has room for
 * cpu_conv_cols_floats. The backward-weight pass computes
 * dw = gain * (dy . cols^T) + beta * dw. */
typedef struct cpu_conv_geom {
    int in, out, k, stride, pad, h, w, oh, ow;
} cpu_conv_geom;
cpu_conv_geom cpu_conv_geom_of(const gan_tensor *x, const gan_tensor *w, const gan_conv2d_args *a);
size_t cpu_conv_cols_floats(const cpu_conv_geom *g);
void cpu_conv_forward_plane(const float *x, const float *w, float gain, const cpu_conv_geom *g, float *y,
                            float *cols, int threads);
void cpu_conv_backward_input_plane(const float *dy, const float *w, float gain, const cpu_conv_geom *g, float *dx,
                                   float *cols, int threads);
void cpu_conv_backward_weight_plane(const float *dy, const float *x, float gain, const cpu_conv_geom *g, float *dw,
                                    float beta, float *cols, int threads);
/* A 3x3 'same' convolution (transposed = 0) or its backward-input pass
 * (transposed = 1) through the Winograd kernel, where usable: prepare
 * transforms w [g->out, g->in, 3, 3] times gain into buf
 * (cpu_conv_winograd_floats), then run convolves one plane with it. */
int cpu_conv_winograd_usable(const cpu_conv_geom *g, int transposed);
size_t cpu_conv_winograd_floats(const cpu_conv_geom *g, int transposed, int threads);
void cpu_conv_winograd_prepare(const float *w, float gain, const cpu_conv_geom *g, int transposed, float *buf,
                               int threads);
void cpu_conv_winograd_run(const float *x, const cpu_conv_geom *g, int transposed, float *y, float *buf,
                           int threads);
/* The column matrix of n samples side by side, [in*k*k, n*oh*ow] (sample i in
 * columns [i*oh*ow, (i+1)*oh*ow)), so that one GEMM serves the whole batch;
 * and its adjoint, which overwrites x [n, in, h, w]. */
void cpu_conv_im2col_batch(const float *x, int n, const cpu_conv_geom *g, float *cols, int threads);
void cpu_conv_col2im_batch(const float *cols, int n, const cpu_conv_geom *g, float *x, int threads);
/* [n, c, p] <-> [c, n*p] (the layout of a batched GEMM's result); the first
 * way each (n, c) plane times scale[n*c] unless scale is NULL. */
void cpu_to_channel_major(const float *src, int n, int c, size_t p, const float *scale, float *dst);
void cpu_from_channel_major(const float *src, int n, int c, size_t p, float *dst);

/* One image plane of upfirdn2d: x [h, w] -> y [oh, ow], with `scratch` room for
 * the zero-stuffed, padded plane (cpu_upfirdn2d_scratch floats). Used by
 * modconv's up-sampling path too. */
size_t cpu_upfirdn2d_scratch(int h, int w, const gan_upfirdn2d_args *args, int fh, int fw);
void cpu_upfirdn2d_plane(const float *x, int h, int w, const float *filter, int fh, int fw,
                         const gan_upfirdn2d_args *args, float *y, int oh, int ow, float *scratch);

/* The filter as the inner loop wants it: times gain, flipped unless
 * args->flip_filter (the reference convolves rather than correlates). */
void cpu_prepare_filter(const float *f, int fh, int fw, const gan_upfirdn2d_args *args, float *g);

/* Winograd F(2x2, 3x3) 'same' convolution (gan/cpu/winograd.c), for planes
 * large enough to pay for the transforms, on CPUs with AVX-512. The kernels
 * go in transformed (cpu_winograd_weight_floats), written by
 * cpu_winograd_weights from weight [O][I][3][3] modulated as (w * s[i]) * d[o]. */
int cpu_winograd_usable(int in, int out, int h, int w);
size_t cpu_winograd_weight_floats(int out, int in);
void cpu_winograd_weights(const float *weight, const float *styles, const float *d, int in, int out, float *u,
                          int threads);
size_t cpu_winograd_scratch_floats(int in, int out, int h, int w, int threads);
void cpu_winograd_conv3x3(const float *x, int in, int h, int w, const float *u, int out, float *y, float *scratch,
                          int threads);

/* Filters are run in separable form (two 1-D passes) when they factor, as
 * long as they have at most CPU_FIR_MAX_TAPS taps per side and an output row
 * fits CPU_FIR_MAX_LINE samples. */
#define CPU_FIR_MAX_TAPS 64
#define CPU_FIR_MAX_LINE 8192
int cpu_filter_factor(const float *g, int fh, int fw, float *col, float *row);
/* y[oh, ow] = 'valid' correlation of the plane p (row stride pw) with g[fh, fw],
 * keeping every down-th sample. */
void cpu_fir_valid(const float *p, int pw, const float *g, int fh, int fw, int down_x, int down_y, float *y,
                   int oh, int ow);


/* BigGAN's layers (matmul.c, softmax.c, pool.c, batch_norm.c). */
int cpu_matmul(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int trans_a, int trans_b);
int cpu_normalize_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float eps);
int cpu_softmax(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cpu_softmax_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y);
int cpu_tanh(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cpu_tanh_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y);
int cpu_max_pool2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cpu_max_pool2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x);
int cpu_avg_pool2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cpu_avg_pool2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy);
int cpu_upsample_nearest2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cpu_upsample_nearest2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy);
int cpu_batch_stats(gan_ctx *ctx, gan_tensor *mean, gan_tensor *var, const gan_tensor *x);
int cpu_batch_norm(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var,
                   const gan_tensor *gain, const gan_tensor *bias, const gan_batch_norm_args *args);
int cpu_batch_norm_backward(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dgain, gan_tensor *dbias, const gan_tensor *dy,
                            const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var, const gan_tensor *gain,
                            const gan_batch_norm_args *args);

#endif
