/* CUDA backend internals: the kernels behind the CUDA op table
 * (gan/cuda/backend.cu). Every kernel runs on the context's stream, so ops
 * are ordered without host synchronisation; scratch memory comes from the
 * context's pool (gan_ctx_alloc), whose reuse is safe because all work of a
 * context is on that one stream. fp32 throughout, cuBLAS in its default
 * (non-TF32) mode, so results agree with the CPU backend to rounding. */
#ifndef GAN_CUDA_H
#define GAN_CUDA_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

extern "C" {
#include "../backend.h"
}

/* The cuBLAS entry points dne calls, looked up in the library when the first
 * CUDA context starts (gan/cuda/cublas_library.cu: linking it would cost
 * every process its 200 MB); NULL, with the reason in err, if it cannot be
 * loaded. */
struct cublas_library {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemm_v2) sgemm;
    decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
};
const cublas_library *cublas_library_open(gan_error *err);

struct cuda_state {
    int device;
    cudaStream_t stream;
    const cublas_library *cublas;
    cublasHandle_t blas;
};

inline cuda_state *cuda_state_of(gan_ctx *ctx) { return static_cast<cuda_state *>(ctx->backend_state); }
/* The context's stream, its device made current first: a thread may drive
 * contexts on several GPUs, and launches go to the current device. Setting
 * the device that is already current costs next to nothing. */
inline cudaStream_t cuda_stream(gan_ctx *ctx) {
    cuda_state *state = cuda_state_of(ctx);
    cudaSetDevice(state->device);
    return state->stream;
}

/* Record a failed CUDA or cuBLAS call in the context; return 0 or -1. */
int cuda_check(gan_ctx *ctx, cudaError_t rc, const char *what);
int cublas_check(gan_ctx *ctx, cublasStatus_t rc, const char *what);
/* After a kernel launch: a bad launch configuration is reported here; faults
 * inside kernels surface at the next synchronising call (a download). */
inline int cuda_launched(gan_ctx *ctx, const char *kernel) { return cuda_check(ctx, cudaGetLastError(), kernel); }

/* Scratch device memory for one op, freed by the destructor. */
struct cuda_scratch {
    gan_ctx *ctx;
    float *ptr;
    size_t bytes;
    cuda_scratch(gan_ctx *c, size_t floats)
        : ctx(c), ptr(static_cast<float *>(gan_ctx_alloc(c, floats * sizeof(float)))), bytes(floats * sizeof(float)) {}
    ~cuda_scratch() {
        if (ptr) gan_ctx_release(ctx, ptr, bytes);
    }
    cuda_scratch(const cuda_scratch &) = delete;
    cuda_scratch &operator=(const cuda_scratch &) = delete;
};

constexpr int CUDA_THREADS = 256;
/* Blocks for a grid-stride loop over n elements (capped: the loop covers the rest). */
inline unsigned cuda_blocks(int64_t n) {
    int64_t b = (n + CUDA_THREADS - 1) / CUDA_THREADS;
    return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}
#define CUDA_FOR(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* The sum of v over the block (blockDim.x a multiple of 32, at most 1024),
 * returned to every thread. Double, as the CPU's reductions. */
__device__ inline double cuda_block_sum(double v) {
    __shared__ double partial[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    __syncthreads(); /* partial[] may still be read from a previous call */
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    double total = 0;
    for (unsigned w = 0; w < blockDim.x / 32; w++) total += partial[w];
    return total;
}

/* Row-major GEMM on the context's stream, as cblas_sgemm(CblasRowMajor, ...):
 * C[m, n] = alpha * op(A)[m, k] . op(B)[k, n] + beta * C. */
int cuda_gemm(gan_ctx *ctx, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);
/* The same for `batch` independent products, matrix i at a + i * stride_a etc. */
int cuda_gemm_batched(gan_ctx *ctx, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                      int lda, long long stride_a, const float *b, int ldb, long long stride_b, float beta, float *c,
                      int ldc, long long stride_c, int batch);
/* Fills n floats with a value (zero with cudaMemsetAsync when 0). */
int cuda_fill(gan_ctx *ctx, float *dst, int64_t n, float value);

/* ---- the op table's entries (one .cu file per family) ---- */
int cuda_linear(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *bias,
                float weight_gain, float bias_gain);
int cuda_normalize_2nd_moment(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cuda_linear_backward_input(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *weight,
                               float weight_gain);
int cuda_linear_backward_weight(gan_ctx *ctx, gan_tensor *dweight, const gan_tensor *dy, const gan_tensor *x,
                                float weight_gain);
int cuda_normalize_2nd_moment_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x);

int cuda_bias_act(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias, const gan_tensor *noise,
                  const gan_tensor *noise_strength, const gan_bias_act_args *args);
int cuda_bias_act_frozen(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *bias,
                         const gan_tensor *noise, const gan_tensor *noise_strength, const gan_bias_act_args *args,
                         const gan_tensor *mask_y);
int cuda_bias_act_backward(gan_ctx *ctx, gan_tensor *dz, const gan_tensor *dy, const gan_tensor *y,
                           const gan_bias_act_args *args);
int cuda_sum_channels(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float scale);
int cuda_noise_strength_grad(gan_ctx *ctx, gan_tensor *y, const gan_tensor *dz, const gan_tensor *noise);

int cuda_add(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b);
int cuda_axpy(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha);
int cuda_scale(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha);
int cuda_adam(gan_ctx *ctx, gan_tensor *param, const gan_tensor *grad, gan_tensor *m, gan_tensor *v,
              const gan_adam_args *a);
int cuda_lerp_into(gan_ctx *ctx, gan_tensor *ema, const gan_tensor *x, float beta);
int cuda_count_nonfinite(gan_ctx *ctx, gan_tensor *count, const gan_tensor *x);
int cuda_truncate(gan_ctx *ctx, gan_tensor *y, const gan_tensor *ws, const gan_tensor *w_avg, float psi, int cutoff);

int cuda_repeat(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cuda_broadcast_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cuda_select_row(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t index);
int cuda_slice(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start);
int cuda_write_slice(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, int64_t start);
int cuda_mix_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int64_t cutoff);
int cuda_sum_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start, int64_t count);
int cuda_sum_batch(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cuda_concat_cols(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b);
int cuda_randn(gan_ctx *ctx, gan_tensor *y, const uint64_t *seeds, int count, uint64_t offset);

int cuda_modconv(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *styles,
                 const gan_modconv_args *args);
int cuda_modconv_backward(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dweight, gan_tensor *dstyles,
                          const gan_tensor *dy, const gan_tensor *x, const gan_tensor *weight,
                          const gan_tensor *styles, const gan_modconv_args *args);
int cuda_upfirdn2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *filter,
                   const gan_upfirdn2d_args *args);
int cuda_conv2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *w, const gan_conv2d_args *a);
int cuda_conv2d_backward_input(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *w,
                               const gan_conv2d_args *a);
int cuda_conv2d_backward_weight(gan_ctx *ctx, gan_tensor *dw, const gan_tensor *dy, const gan_tensor *x,
                                const gan_conv2d_args *a);
int cuda_mbstd(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_mbstd_args *a);
int cuda_pad_reflect(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_pad_args *pad);
int cuda_pad_reflect_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_pad_args *pad);
int cuda_affine_sample(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *theta);
int cuda_affine_sample_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *theta);
int cuda_filter_1d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *taps, int axis, int transpose);
int cuda_mul(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b);
int cuda_color_transform(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *matrices, int transpose);
int cuda_mbstd_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                        const gan_mbstd_args *a);
int cuda_mbstd_jvp(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *t, const gan_mbstd_args *a);
int cuda_mbstd_jvp_backward_x(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                              const gan_tensor *t, const gan_mbstd_args *a);

/* Shared by modconv and upfirdn2d (gan/cuda/upfirdn2d.cu): one upfirdn2d over
 * `planes` planes x [planes, h, w] -> y [planes, oh, ow], on device pointers. */
int cuda_upfirdn2d_planes(gan_ctx *ctx, float *y, const float *x, int64_t planes, int h, int w, const float *filter,
                          int fh, int fw, const gan_upfirdn2d_args *args, int oh, int ow);
/* Shared by conv2d and modconv (gan/cuda/conv2d.cu): im2col of n samples side
 * by side, cols [in*k*k, n*oh*ow], and its adjoint (accumulating into a
 * zeroed x). */
int cuda_im2col(gan_ctx *ctx, const float *x, int n, int in, int h, int w, int k, int stride, int pad, int oh, int ow,
                float *cols);
int cuda_col2im(gan_ctx *ctx, const float *cols, int n, int in, int h, int w, int k, int stride, int pad, int oh,
                int ow, float *x);


/* BigGAN's layers (matmul.cu, softmax.cu, pool.cu, batch_norm.cu). */
int cuda_matmul(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int trans_a, int trans_b);
int cuda_normalize_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float eps);
int cuda_softmax(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cuda_softmax_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y);
int cuda_tanh(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cuda_tanh_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *y);
int cuda_max_pool2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cuda_max_pool2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x);
int cuda_avg_pool2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cuda_avg_pool2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy);
int cuda_upsample_nearest2d(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x);
int cuda_upsample_nearest2d_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy);
int cuda_batch_stats(gan_ctx *ctx, gan_tensor *mean, gan_tensor *var, const gan_tensor *x);
int cuda_batch_norm(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var,
                    const gan_tensor *gain, const gan_tensor *bias, const gan_batch_norm_args *args);
int cuda_batch_norm_backward(gan_ctx *ctx, gan_tensor *dx, gan_tensor *dgain, gan_tensor *dbias, const gan_tensor *dy,
                             const gan_tensor *x, const gan_tensor *mean, const gan_tensor *var, const gan_tensor *gain,
                             const gan_batch_norm_args *args);

#endif
