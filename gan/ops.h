/* The op set of libgan. Each op validates its inputs, allocates its output in
 * the context and runs the implementation of the context's backend
 * (gan/cpu/, gan/cuda/). Inputs must live on the context's device. Every op
 * returns NULL, with the error recorded in the context, if anything is wrong
 * or if one of its inputs is NULL (see context.h). */
#ifndef GAN_OPS_H
#define GAN_OPS_H

#include <stdint.h>

#include "context.h"
#include "tensor.h"

/* ---- dense layers ------------------------------------------------------ */

/* Equalized-learning-rate fully connected layer:
 * y[N,O] = x[N,I] . (weight[O,I] * weight_gain)^T + bias[O] * bias_gain.
 * bias may be NULL. */
gan_tensor *gan_linear(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *bias,
                       float weight_gain, float bias_gain);

/* y = x * rsqrt(mean(x^2 over dim 1) + 1e-8), for x [N, C]. */
gan_tensor *gan_normalize_2nd_moment(gan_ctx *ctx, const gan_tensor *x);

/* ---- bias, activation and noise ------------------------------------------ */

typedef enum gan_act { GAN_ACT_LINEAR = 0, GAN_ACT_LRELU, GAN_ACT_RELU } gan_act;

typedef struct gan_bias_act_args {
    gan_act act;
    float alpha; /* leaky ReLU slope (0.2) */
    float gain;  /* multiplies after the activation */
    float clamp; /* clamps to [-clamp, clamp] after the gain; negative = off */
} gan_bias_act_args;

/* The reference's default gain for an activation: sqrt(2) for (leaky) ReLU, 1 for linear. */
float gan_act_default_gain(gan_act act);

/* y = clamp(act(x + noise * noise_strength + bias) * gain) for x [N, C, ...].
 * bias [C], noise [H, W] (the same for every sample) or [N, 1, H, W],
 * noise_strength [] (a one-element tensor); bias and noise may be NULL.
 * Noise injection lives here because the reference adds it just before the
 * bias, and a separate pass over the activations would cost as much again. */
gan_tensor *gan_bias_act(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                         const gan_tensor *noise_strength, gan_bias_act_args args);
/* The same, overwriting x and returning it: for inference, where the input is
 * not needed afterwards and one fewer buffer of the largest layer lowers the
 * peak memory. On failure x is freed. */
gan_tensor *gan_bias_act_inplace(gan_ctx *ctx, gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                                 const gan_tensor *noise_strength, gan_bias_act_args args);

/* ---- convolutions and resampling ----------------------------------------- */

/* Modulated convolution (StyleGAN2): per sample n, the weight[O, I, k, k] is
 * scaled by styles[n, I] and, with demodulate, each output filter is
 * normalised to unit norm (rsqrt(sum of squares + 1e-8)). Then:
 *   up = 1: 'same' convolution (cross-correlation, padding k/2);
 *   up = 2: transposed convolution with stride 2 (the kernel as is), then the
 *           FIR filter[fh, fw] with gain 4 and the padding that makes the
 *           output exactly 2H x 2W (the reference's fast path for conv0).
 * x [N, I, H, W] -> y [N, O, H*up, W*up]. */
typedef struct gan_modconv_args {
    int demodulate;
    int up;                   /* 1 or 2 */
    const gan_tensor *filter; /* [fh, fw], needed when up = 2 */
} gan_modconv_args;
gan_tensor *gan_modconv(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                        gan_modconv_args args);
/* Filter padding (before, after) along one axis that brings the transposed
 * convolution's (H-1)*2 + k samples to 2H, for kernel size k and filter taps
 * f, as the reference's conv2d_resample computes it. */
void gan_modconv_up_padding(int k, int f, int *pad0, int *pad1);

/* upfirdn2d: upsample by inserting zeros, pad (negative = crop), convolve with
 * filter * gain (true convolution, or correlation with flip_filter), keep
 * every down-th sample. x [N, C, H, W], filter [fh, fw]. */
typedef struct gan_upfirdn2d_args {
    int up_x, up_y, down_x, down_y;
    int pad_x0, pad_x1, pad_y0, pad_y1;
    float gain;
    int flip_filter;
} gan_upfirdn2d_args;
gan_tensor *gan_upfirdn2d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *filter, gan_upfirdn2d_args args);
/* The reference's upsample2d (up 2, gain 4) and downsample2d (down 2) for a filter [fh, fw]. */
gan_tensor *gan_upsample2d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *filter);
gan_tensor *gan_downsample2d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *filter);

/* ---- element-wise ---------------------------------------------------------- */

/* y = a + b (same shapes). */
gan_tensor *gan_add(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b);

/* y = a * b element-wise (same shapes). */
gan_tensor *gan_mul(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b);

/* y = alpha * x. */
gan_tensor *gan_scale(gan_ctx *ctx, const gan_tensor *x, float alpha);
/* dst += alpha * src in place (same number of elements): gradient
 * accumulation. Returns 0, or -1 with the error in ctx. */
int gan_accumulate(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, float alpha);

/* torch.optim.Adam's update of one tensor, in place:
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
 *   param -= lr / bias_correction1 * m / (sqrt(v) / sqrt(bias_correction2) + eps),
 * bias_correction_k = 1 - beta_k^step computed by the caller. */
typedef struct gan_adam_args {
    float lr, beta1, beta2, eps, bias_correction1, bias_correction2;
} gan_adam_args;
int gan_adam_update(gan_ctx *ctx, gan_tensor *param, const gan_tensor *grad, gan_tensor *m, gan_tensor *v,
                    gan_adam_args args);
/* ema <- lerp(x, ema, beta) in place (torch.lerp's formula): the generator's
 * moving average. */
int gan_lerp_into(gan_ctx *ctx, gan_tensor *ema, const gan_tensor *x, float beta);
/* How many values of x are NaN or infinite (-1 on error). */
int64_t gan_count_nonfinite(gan_ctx *ctx, const gan_tensor *x);

/* Truncation trick: ws[N, L, D], rows l < cutoff become w_avg.lerp(ws, psi)
 * = w_avg + psi * (ws - w_avg) (computed as torch.lerp does); cutoff <= 0 or
 * >= L means all rows. */
gan_tensor *gan_truncate(gan_ctx *ctx, const gan_tensor *ws, const gan_tensor *w_avg, float psi, int cutoff);

/* ---- data movement ------------------------------------------------------------ */

/* y[n] = x for n < count: x [...] -> y [count, ...]. */
gan_tensor *gan_repeat(gan_ctx *ctx, const gan_tensor *x, int64_t count);
/* y[n, l] = x[n] for l < count: x [N, D] -> y [N, count, D]. */
gan_tensor *gan_broadcast_rows(gan_ctx *ctx, const gan_tensor *x, int64_t count);
/* y[n] = x[n, index]: x [N, L, D] -> y [N, D]. */
gan_tensor *gan_select_row(gan_ctx *ctx, const gan_tensor *x, int64_t index);
/* y = x[start : start + count] along the first dimension. */
gan_tensor *gan_slice(gan_ctx *ctx, const gan_tensor *x, int64_t start, int64_t count);
/* dst[start : start + src.shape[0]] = src along the first dimension (other
 * dimensions equal); returns 0, or -1 with the error in ctx. */
int gan_write_slice(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, int64_t start);
/* Style mixing: y[n, l] = a[n] for l < cutoff, b[n] otherwise:
 * a, b [N, D] -> y [N, count, D]. */
gan_tensor *gan_mix_rows(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b, int64_t count, int64_t cutoff);
/* y[n] = sum of x[n, l] for start <= l < start + count: x [N, L, D] -> y [N, D]
 * (the gradient of broadcast_rows and mix_rows). */
gan_tensor *gan_sum_rows(gan_ctx *ctx, const gan_tensor *x, int64_t start, int64_t count);
/* y = sum of x[n] over n: x [N, ...] -> y [...] (the gradient of repeat). */
gan_tensor *gan_sum_batch(gan_ctx *ctx, const gan_tensor *x);
/* y[n] = (a[n], b[n]): a [N, A], b [N, B] -> y [N, A + B]. */
gan_tensor *gan_concat_cols(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b);

/* ---- random numbers -------------------------------------------------------------- */

/* Standard normal numbers from Philox streams (see rng.h), the same values on
 * every backend. The tensor is viewed as `count` equal rows along its first
 * dimension; row r holds stream (seeds[r], offset). With one seed the whole
 * tensor is one stream. Per-row seeds let each image of a batch draw its own
 * noise, so an image does not depend on what it was batched with. */
gan_tensor *gan_randn(gan_ctx *ctx, int ndim, const int64_t *shape, const uint64_t *seeds, int count,
                      uint64_t offset);

/* ---- plain convolution and the discriminator's layers ---------------------- */

/* y[N, O, OH, OW] = cross-correlation of x[N, I, H, W] with weight[O, I, k, k]
 * * weight_gain, zero padding `pad` on every side, stride `stride`:
 * OH = (H + 2 pad - k) / stride + 1. No bias (bias_act adds it). */
typedef struct gan_conv2d_args {
    int stride, pad;
    float weight_gain;
} gan_conv2d_args;
gan_tensor *gan_conv2d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *weight, gan_conv2d_args args);

/* Minibatch standard deviation: x [N, C, H, W] -> y [N, C + F, H, W], the F
 * new channels holding, for the group of sample n (samples n mod M, M = N / G,
 * G = min(group_size, N)), the mean over C/F channels and all pixels of the
 * standard deviation across the group (biased, + 1e-8 inside the root). */
typedef struct gan_mbstd_args {
    int group_size, num_channels; /* G (capped at N) and F */
} gan_mbstd_args;
gan_tensor *gan_mbstd(gan_ctx *ctx, const gan_tensor *x, gan_mbstd_args args);

/* ---- augmentation -------------------------------------------------------------- */

/* ADA's colour transform: per sample a homogeneous 4x4 matrix M [N, 4, 4]
 * acting on (r, g, b, 1). RGB images: y[n, c] = sum_k M[n, c, k] x[n, k] +
 * M[n, c, 3] for c < 3. Grey images (C = 1) use the mean m of M's first three
 * rows: y = x * (m0 + m1 + m2) + m3, as the reference does. x [N, 3 or 1, H, W]. */
gan_tensor *gan_color_transform(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *matrices);
/* Its gradient with respect to x (the matrices are not learned). */
gan_tensor *gan_color_transform_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *matrices);

/* ADA's resampling: torch's affine_grid(theta, [N, C, out_h, out_w]) then
 * grid_sample(x, grid) with bilinear weights, zero padding and
 * align_corners=False, fused (no grid tensor). theta [N, 2, 3] maps output
 * coordinates in [-1, 1] to input coordinates in [-1, 1]. */
gan_tensor *gan_affine_sample(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *theta, int out_h, int out_w);
/* Reflection padding (torch's F.pad mode 'reflect': the edge sample is not
 * repeated), each pad smaller than its dimension: x [N, C, H, W] ->
 * [N, C, top + H + bottom, left + W + right]. */
typedef struct gan_pad_args {
    int left, right, top, bottom;
} gan_pad_args;
gan_tensor *gan_pad_reflect(gan_ctx *ctx, const gan_tensor *x, gan_pad_args pad);
/* Its gradient: every padded sample's gradient added back to its source. */
gan_tensor *gan_pad_reflect_backward(gan_ctx *ctx, const gan_tensor *dy, gan_pad_args pad);

/* ADA's image-space filter, one direction at a time: each sample's 1D
 * filter taps [N, K] cross-correlated with every channel of x [N, C, H, W]
 * along the width (axis 3) or the height (axis 2), 'valid' (that dimension
 * K - 1 shorter), as torch's grouped conv2d with a 1 x K or K x 1 kernel. */
gan_tensor *gan_filter_1d(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *taps, int axis);
/* Its gradient with respect to x (that dimension K - 1 longer than dy's). */
gan_tensor *gan_filter_1d_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *taps, int axis);

/* Its gradient with respect to x ([N, C, in_h, in_w]). */
gan_tensor *gan_affine_sample_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *theta, int in_h,
                                       int in_w);

/* ---- BigGAN's layers --------------------------------------------------------- */

/* Matrix product y = op(a) . op(b), op transposing its argument when asked:
 * 2-D a [M, K] (or [K, M] with trans_a), b [K, N] (or [N, K] with trans_b)
 * give y [M, N]; 3-D tensors are B independent products (the same B in
 * both), y [B, M, N]. The attention's bmm, the class embedding (one-hot rows
 * times the table) and the spectral norm's power iteration. */
gan_tensor *gan_matmul(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b, int trans_a, int trans_b);

/* A copy of x with another shape of the same number of elements. */
gan_tensor *gan_reshape(gan_ctx *ctx, const gan_tensor *x, int ndim, const int64_t *shape);

/* Softmax along the last dimension (max subtracted first, as torch does). */
gan_tensor *gan_softmax(gan_ctx *ctx, const gan_tensor *x);
/* Its gradient from the output: dx = y * (dy - sum(dy * y)) per row. */
gan_tensor *gan_softmax_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *y);

/* y = tanh(x) and its gradient from the output, dx = dy * (1 - y^2). */
gan_tensor *gan_tanh(gan_ctx *ctx, const gan_tensor *x);
gan_tensor *gan_tanh_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *y);

/* 2x2 max pooling with stride 2 of x [N, C, H, W] (H, W even); the gradient
 * goes to the first maximum of each window in row-major order, and a NaN in a
 * window wins (it is the output and takes the gradient), as in torch. */
gan_tensor *gan_max_pool2d(gan_ctx *ctx, const gan_tensor *x);
gan_tensor *gan_max_pool2d_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x);

/* Per-channel mean and biased variance of x [N, C, H, W] over N, H and W
 * (what batch norm normalises with in training): two new [C] tensors.
 * Returns 0, or -1 with the error in ctx and nothing allocated. */
int gan_batch_stats(gan_ctx *ctx, const gan_tensor *x, gan_tensor **mean, gan_tensor **var);
/* Batch norm with an affine map that may differ per sample:
 *   y = (x - mean[c]) * rsqrt(var[c] + eps) * (gain_offset + gain) + bias,
 * gain and bias [C] (plain BN) or [N, C] (BigGAN's class-conditional BN,
 * gain_offset 1), either may be NULL (gain 0 / bias 0 then: with a NULL gain
 * the factor is gain_offset alone). */
typedef struct gan_batch_norm_args {
    float eps, gain_offset;
} gan_batch_norm_args;
gan_tensor *gan_batch_norm(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var,
                           const gan_tensor *gain, const gan_tensor *bias, gan_batch_norm_args args);
/* Its gradients when mean and var are x's own batch statistics (training):
 * dx [N, C, H, W]; dgain and dbias are [N, C] (per sample) when gain is
 * [N, C], and [C] (summed over the batch) when gain is [C] or NULL: dbias
 * follows gain's shape, so a caller with a [C] gain and an [N, C] bias must
 * pass a per-sample gain to get per-sample bias gradients. With a NULL gain,
 * dgain is the gradient with respect to a [C] gain at 0, sum(dy * xhat).
 * Any output pointer may be NULL (not computed). Returns 0, or -1 with the
 * error in ctx and nothing allocated. */
int gan_batch_norm_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, const gan_tensor *mean,
                            const gan_tensor *var, const gan_tensor *gain, gan_batch_norm_args args, gan_tensor **dx,
                            gan_tensor **dgain, gan_tensor **dbias);

/* y[r] = x[r] / max(|x[r]|, eps) for the rows of x [R, D] (torch's
 * F.normalize): the spectral norm's power iteration. */
gan_tensor *gan_normalize_rows(gan_ctx *ctx, const gan_tensor *x, float eps);

/* Nearest-neighbour 2x up-sampling (F.interpolate(scale_factor=2)):
 * x [N, C, H, W] -> [N, C, 2H, 2W]; its gradient sums each 2x2 block. */
gan_tensor *gan_upsample_nearest2d(gan_ctx *ctx, const gan_tensor *x);
gan_tensor *gan_upsample_nearest2d_backward(gan_ctx *ctx, const gan_tensor *dy);
/* 2x2 average pooling with stride 2 (nn.AvgPool2d(2)), H and W even; its
 * gradient gives each sample of a window a quarter of the window's. */
gan_tensor *gan_avg_pool2d(gan_ctx *ctx, const gan_tensor *x);
gan_tensor *gan_avg_pool2d_backward(gan_ctx *ctx, const gan_tensor *dy);

/* ---- backward passes ----------------------------------------------------------
 * Each returns the gradient of a scalar loss with respect to one input, given
 * dy, its gradient with respect to the op's output. Ops with several inputs
 * have one function per input, so that a caller computes only what it needs
 * (R1 needs the input gradient of the discriminator, not its weight
 * gradients). */

/* linear: dx [N, I] and dweight [O, I]; the bias gradient is
 * gan_sum_channels(dy, bias_gain). */
gan_tensor *gan_linear_backward_input(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *weight, float weight_gain);
gan_tensor *gan_linear_backward_weight(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, float weight_gain);
gan_tensor *gan_normalize_2nd_moment_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x);

/* bias_act: the gradient at the activation's input z = x + noise*strength +
 * bias, computed from the op's output y (the input need not be kept). Then
 * dx = dz, dbias = gan_sum_channels(dz, 1), dstrength = gan_noise_strength_grad. */
gan_tensor *gan_bias_act_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *y, gan_bias_act_args args);
/* bias_act with the activation pattern of an earlier output mask_y (same
 * shape): slopes chosen by mask_y's sign, outputs clamped there held at
 * mask_y. Linear in x, so differences along a direction see no kinks. */
gan_tensor *gan_bias_act_frozen(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                                const gan_tensor *noise_strength, gan_bias_act_args args, const gan_tensor *mask_y);
/* y [C] = scale * sum of x [N, C, ...] over every dimension but the second. */
gan_tensor *gan_sum_channels(gan_ctx *ctx, const gan_tensor *x, float scale);
/* y [] (one element) = sum of dz * noise, noise [H, W] or [N, 1, H, W]. */
gan_tensor *gan_noise_strength_grad(gan_ctx *ctx, const gan_tensor *dz, const gan_tensor *noise);

/* modconv: any of dx, dweight, dstyles may be NULL (not computed). Returns 0,
 * or -1 with the error in ctx and nothing allocated. */
int gan_modconv_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, const gan_tensor *weight,
                         const gan_tensor *styles, gan_modconv_args args, gan_tensor **dx, gan_tensor **dweight,
                         gan_tensor **dstyles);

/* upfirdn2d is linear in x: its gradient is another upfirdn2d (up and down
 * swapped, the filter flipped) with these arguments, for a forward pass that
 * took [.., in_h, in_w] to [.., out_h, out_w] with a filter [fh, fw]. */
gan_upfirdn2d_args gan_upfirdn2d_backward_args(gan_upfirdn2d_args forward, int fh, int fw, int in_h, int in_w,
                                               int out_h, int out_w);
gan_tensor *gan_upfirdn2d_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *filter,
                                   gan_upfirdn2d_args forward, int in_h, int in_w);

/* conv2d: dx [N, I, in_h, in_w] and dweight [O, I, k, k]. */
gan_tensor *gan_conv2d_backward_input(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *weight,
                                      gan_conv2d_args args, int in_h, int in_w);
gan_tensor *gan_conv2d_backward_weight(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, int kernel,
                                       gan_conv2d_args args);
gan_tensor *gan_mbstd_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, gan_mbstd_args args);

/* ---- forward-mode derivatives (for gradients of gradients) ---------------------
 * R1 differentiates the discriminator's input gradient with respect to its
 * weights. With the activation masks fixed, every layer's forward-mode
 * derivative is the layer itself without bias followed by bias_act_backward
 * at the primal output; only minibatch stddev needs ops of its own. */

/* The derivative of mbstd at x along t: [N, C + F, H, W]. */
gan_tensor *gan_mbstd_jvp(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *t, gan_mbstd_args args);
/* The gradient with respect to x of sum(dy * mbstd_jvp(x, t)), t held fixed. */
gan_tensor *gan_mbstd_jvp_backward_x(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *x, const gan_tensor *t,
                                     gan_mbstd_args args);

#endif
