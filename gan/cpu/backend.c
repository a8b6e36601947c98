/* The CPU op table: memory is 64-byte aligned host memory, threads are an
 * OpenMP team shared with OpenBLAS. */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

static int cpu_init(gan_ctx *ctx, gan_error *err) {
    (void)err;
    if (ctx->threads <= 0) ctx->threads = omp_get_num_procs();
    /* OpenBLAS keeps its thread count process-wide; the last context created
     * sets it, which is what a program with one CPU context wants. */
    openblas_set_num_threads(ctx->threads);
    return 0;
}

static void *cpu_alloc(gan_ctx *ctx, size_t bytes) {
    (void)ctx;
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

static void cpu_free(gan_ctx *ctx, void *ptr) {
    (void)ctx;
    free(ptr);
}

static int cpu_copy_in(gan_ctx *ctx, void *dst, const void *host, size_t bytes) {
    (void)ctx;
    memcpy(dst, host, bytes);
    return 0;
}

static int cpu_copy_out(gan_ctx *ctx, void *host, const void *src, size_t bytes) {
    (void)ctx;
    memcpy(host, src, bytes);
    return 0;
}

static const gan_backend cpu_table = {
    .name = "cpu",
    .init = cpu_init,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy_in,
    .download = cpu_copy_out,
    .linear = cpu_linear,
    .normalize_2nd_moment = cpu_normalize_2nd_moment,
    .bias_act = cpu_bias_act,
    .bias_act_frozen = cpu_bias_act_frozen,
    .modconv = cpu_modconv,
    .upfirdn2d = cpu_upfirdn2d,
    .add = cpu_add,
    .mul = cpu_mul,
    .matmul = cpu_matmul,
    .softmax = cpu_softmax,
    .tanh = cpu_tanh,
    .max_pool2d = cpu_max_pool2d,
    .avg_pool2d = cpu_avg_pool2d,
    .upsample_nearest2d = cpu_upsample_nearest2d,
    .batch_stats = cpu_batch_stats,
    .batch_norm = cpu_batch_norm,
    .normalize_rows = cpu_normalize_rows,
    .softmax_backward = cpu_softmax_backward,
    .tanh_backward = cpu_tanh_backward,
    .max_pool2d_backward = cpu_max_pool2d_backward,
    .avg_pool2d_backward = cpu_avg_pool2d_backward,
    .upsample_nearest2d_backward = cpu_upsample_nearest2d_backward,
    .batch_norm_backward = cpu_batch_norm_backward,
    .axpy = cpu_axpy,
    .scale = cpu_scale,
    .adam = cpu_adam,
    .lerp_into = cpu_lerp_into,
    .count_nonfinite = cpu_count_nonfinite,
    .truncate = cpu_truncate,
    .repeat = cpu_repeat,
    .broadcast_rows = cpu_broadcast_rows,
    .select_row = cpu_select_row,
    .slice = cpu_slice,
    .write_slice = cpu_write_slice,
    .mix_rows = cpu_mix_rows,
    .sum_rows = cpu_sum_rows,
    .sum_batch = cpu_sum_batch,
    .concat_cols = cpu_concat_cols,
    .randn = cpu_randn,
    .conv2d = cpu_conv2d,
    .mbstd = cpu_mbstd,
    .color_transform = cpu_color_transform,
    .filter_1d = cpu_filter_1d,
    .affine_sample = cpu_affine_sample,
    .pad_reflect = cpu_pad_reflect,
    .pad_reflect_backward = cpu_pad_reflect_backward,
    .affine_sample_backward = cpu_affine_sample_backward,
    .linear_backward_input = cpu_linear_backward_input,
    .linear_backward_weight = cpu_linear_backward_weight,
    .normalize_2nd_moment_backward = cpu_normalize_2nd_moment_backward,
    .bias_act_backward = cpu_bias_act_backward,
    .sum_channels = cpu_sum_channels,
    .noise_strength_grad = cpu_noise_strength_grad,
    .modconv_backward = cpu_modconv_backward,
    .conv2d_backward_input = cpu_conv2d_backward_input,
    .conv2d_backward_weight = cpu_conv2d_backward_weight,
    .mbstd_backward = cpu_mbstd_backward,
    .mbstd_jvp = cpu_mbstd_jvp,
    .mbstd_jvp_backward_x = cpu_mbstd_jvp_backward_x,
};

const gan_backend *gan_cpu_backend(void) { return &cpu_table; }
