/* The backend seam: one table of functions per device type. The context picks
 * its table once, when it is created (gan_ctx_new); ops in gan/ops/ validate
 * and allocate, then call the table. Kernels receive tensors that are already
 * checked, contiguous and allocated, and return 0, or -1 after recording an
 * error in the context (for instance when scratch memory runs out).
 * An entry left NULL means the backend lacks that op; the op then fails with
 * a message naming the op and the backend. */
#ifndef GAN_BACKEND_H
#define GAN_BACKEND_H

#include <stddef.h>

#include "context.h"
#include "ops.h"

struct gan_backend {
    const char *name;

    /* Life cycle and memory. */
    int (*init)(gan_ctx *ctx, gan_error *err);
    void (*shutdown)(gan_ctx *ctx);
    void *(*alloc)(gan_ctx *ctx, size_t bytes);
    void (*free)(gan_ctx *ctx, void *ptr);
    int (*upload)(gan_ctx *ctx, void *dst, const void *host, size_t bytes);
    int (*download)(gan_ctx *ctx, void *host, const void *src, size_t bytes);
    /* Waits for queued work (NULL where ops finish before they return). */
    int (*synchronize)(gan_ctx *ctx);

    /* Forward ops (see ops.h for their meaning). */
    int (*linear)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight,
                  const gan_tensor *bias, float weight_gain, float bias_gain);
    int (*normalize_2nd_moment)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
    int (*bias_act)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias,
                    const gan_tensor *noise, const gan_tensor *noise_strength, const gan_bias_act_args *args);
    int (*bias_act_frozen)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias,
                           const gan_tensor *noise, const gan_tensor *noise_strength, const gan_bias_act_args *args,
                           const gan_tensor *mask_y);
    int (*modconv)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight,
                   const gan_tensor *styles, const gan_modconv_args *args);
    int (*upfirdn2d)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *filter,
                     const gan_upfirdn2d_args *args);
    int (*add)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b);
    int (*axpy)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha); /* y += alpha x */
    int (*scale)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha);
    int (*mul)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b);
    int (*adam)(gan_ctx *ctx, gan_tensor *param, const gan_tensor *grad, gan_tensor *m, gan_tensor *v,
                const gan_adam_args *args);
    int (*lerp_into)(gan_ctx *ctx, gan_tensor *ema, const gan_tensor *x, float beta);
    int (*count_nonfinite)(gan_ctx *ctx, gan_tensor *count, const gan_tensor *x);
    int (*truncate)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *ws, const gan_tensor *w_avg, float psi,
                    int cutoff);
    int (*repeat)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
    int (*broadcast_rows)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
    int (*select_row)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t index);
    int (*slice)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start);
    int (*write_slice)(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, int64_t start);
    int (*mix_rows)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int64_t cutoff);
    int (*sum_rows)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start, int64_t count);
    int (*sum_batch)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
    int (*concat_cols)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b);
    int (*randn)(gan_ctx *ctx, gan_tensor *y, const uint64_t *seeds, int count, uint64_t offset);
    int (*conv2d)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight,
                  const gan_conv2d_args *args);
    int (*mbstd)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_mbstd_args *args);
    /* transpose = 0: y = M x (+ offset); 1: the gradient, y = M^T x, no offset. */
    int (*color_transform)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *matrices,
                           int transpose);
    int (*pad_reflect)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_pad_args *pad);
    int (*pad_reflect_backward)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_pad_args *pad);
    int (*affine_sample)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *theta);
    int (*affine_sample_backward)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *theta);
    /* transpose = 0: the 'valid' correlation; 1: its gradient (y longer than x). */
    int (*filter_1d)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *taps, int axis,
                     int transpose);

    /* BigGAN's layers (ops.h). */
    int (*matmul)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int trans_a, int trans_b);
    int (*softmax)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
    int (*tanh)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
    int (*max_pool2d)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
    int (*avg_pool2d)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
    int (*upsample_nearest2d)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
    int (*batch_stats)(gan_ctx *ctx, gan_tensor *mean, gan_tensor *var, const gan_tensor *x);
    int (*batch_norm)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var,
                      const gan_tensor *gain, const gan_tensor *bias, const gan_batch_norm_args *args);
    int (*normalize_rows)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float eps);

    /* Backward ops: the first tensor is the gradient being computed. */
    int (*linear_backward_input)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *weight,
                                 float weight_gain);
    int (*linear_backward_weight)(gan_ctx *ctx, gan_tensor *dweight, const gan_tensor *dy, const gan_tensor *x,
                                  float weight_gain);
    int (*normalize_2nd_moment_backward)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x);
    int (*bias_act_backward)(gan_ctx *ctx, gan_tensor *dz, const gan_tensor *dy, const gan_tensor *y,
                             const gan_bias_act_args *args);
    int (*sum_channels)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float scale);
    int (*noise_strength_grad)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *dz, const gan_tensor *noise);
    /* Outputs not wanted are NULL. */
    int (*modconv_backward)(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dweight, gan_tensor *dstyles,
                            const gan_tensor *dy, const gan_tensor *x, const gan_tensor *weight,
                            const gan_tensor *styles, const gan_modconv_args *args);
    int (*conv2d_backward_input)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *weight,
                                 const gan_conv2d_args *args);
    int (*conv2d_backward_weight)(gan_ctx *ctx, gan_tensor *dweight, const gan_tensor *dy, const gan_tensor *x,
                                  const gan_conv2d_args *args);
    int (*mbstd_backward)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                          const gan_mbstd_args *args);
    int (*softmax_backward)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y);
    int (*tanh_backward)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y);
    int (*max_pool2d_backward)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x);
    int (*avg_pool2d_backward)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy);
    int (*upsample_nearest2d_backward)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy);
    /* With batch statistics; dgain and dbias may be NULL. */
    int (*batch_norm_backward)(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dgain, gan_tensor *dbias, const gan_tensor *dy,
                               const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var,
                               const gan_tensor *gain, const gan_batch_norm_args *args);
    int (*mbstd_jvp)(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *t, const gan_mbstd_args *args);
    int (*mbstd_jvp_backward_x)(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                                const gan_tensor *t, const gan_mbstd_args *args);
};

const gan_backend *gan_cpu_backend(void);
/* The CUDA table for a device, or NULL with a message when the build has no
 * CUDA backend or the machine no such GPU. */
const gan_backend *gan_cuda_backend(int device_index, gan_error *err);
/* Opens the libraries the CUDA backend loads at run time rather than links
 * (cuBLAS), as its first context would, without needing a GPU: 0, or -1
 * with the reason (also when the build has no CUDA backend). */
int gan_cuda_libraries_open(gan_error *err);

#endif
