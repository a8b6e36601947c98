/* The CUDA op table: device memory from cudaMalloc (reused through the
 * context's pool), one stream and one cuBLAS handle per context (cuBLAS
 * itself loaded on first use, gan/cuda/cublas_library.cu), and the
 * kernels in the other files of gan/cuda/. Copies to and from the host
 * synchronise the stream; nothing else does. */
#include <cstdio>
#include <cstring>
#include <new>

#include "cuda.h"

int cuda_check(gan_ctx *ctx, cudaError_t rc, const char *what) {
    if (rc == cudaSuccess) return 0;
    gan_ctx_fail(ctx, "CUDA %s: %s", what, cudaGetErrorString(rc));
    return -1;
}

int cublas_check(gan_ctx *ctx, cublasStatus_t rc, const char *what) {
    if (rc == CUBLAS_STATUS_SUCCESS) return 0;
    gan_ctx_fail(ctx, "cuBLAS %s failed (status %d)", what, static_cast<int>(rc));
    return -1;
}

/* Row-major C = A . B is column-major C^T = B^T . A^T: the operands swap and
 * each keeps its own transpose flag. */
int cuda_gemm(gan_ctx *ctx, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
    cuda_stream(ctx); /* selects the device */
    cuda_state *state = cuda_state_of(ctx);
    cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    return cublas_check(
        ctx, state->cublas->sgemm(state->blas, op_b, op_a, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc), "sgemm");
}

int cuda_gemm_batched(gan_ctx *ctx, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                      int lda, long long stride_a, const float *b, int ldb, long long stride_b, float beta, float *c,
                      int ldc, long long stride_c, int batch) {
    cuda_stream(ctx);
    cuda_state *state = cuda_state_of(ctx);
    cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    return cublas_check(ctx,
                        state->cublas->sgemm_strided_batched(state->blas, op_b, op_a, n, m, k, &alpha, b, ldb, stride_b,
                                                             a, lda, stride_a, &beta, c, ldc, stride_c, batch),
                        "sgemm (strided batch)");
}

namespace {

__global__ void fill_kernel(float *dst, int64_t n, float value) {
    CUDA_FOR(i, n) dst[i] = value;
}

}  // namespace

int cuda_fill(gan_ctx *ctx, float *dst, int64_t n, float value) {
    if (value == 0.0f && !signbit(value))
        return cuda_check(ctx, cudaMemsetAsync(dst, 0, static_cast<size_t>(n) * sizeof(float), cuda_stream(ctx)),
                          "memset");
    fill_kernel<<<cuda_blocks(n), CUDA_THREADS, 0, cuda_stream(ctx)>>>(dst, n, value);
    return cuda_launched(ctx, "fill");
}

namespace {

int cuda_select(gan_ctx *ctx) { return cuda_check(ctx, cudaSetDevice(cuda_state_of(ctx)->device), "set device"); }

void destroy_state(cuda_state *state) {
    if (state->blas) state->cublas->destroy(state->blas);
    if (state->stream) cudaStreamDestroy(state->stream);
    delete state;
}

int cuda_init(gan_ctx *ctx, gan_error *err) {
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess || count == 0)
        return gan_fail(err, "no CUDA GPU available (%s)", rc != cudaSuccess ? cudaGetErrorString(rc) : "none found");
    if (ctx->device.index >= count)
        return gan_fail(err, "no GPU cuda:%d (this machine has %d)", ctx->device.index, count);
    if ((rc = cudaSetDevice(ctx->device.index)) != cudaSuccess)
        return gan_fail(err, "cuda:%d: %s", ctx->device.index, cudaGetErrorString(rc));
    const cublas_library *cublas = cublas_library_open(err);
    if (!cublas) return -1;
    cuda_state *state = new (std::nothrow) cuda_state{ctx->device.index, nullptr, cublas, nullptr};
    if (!state) return gan_fail(err, "out of memory");
    /* A blocking stream: it orders itself after the legacy default stream,
     * which any library call without a stream uses. */
    if ((rc = cudaStreamCreate(&state->stream)) != cudaSuccess) {
        destroy_state(state);
        return gan_fail(err, "cuda:%d: cannot create a stream: %s", ctx->device.index, cudaGetErrorString(rc));
    }
    cublasStatus_t brc = cublas->create(&state->blas);
    if (brc == CUBLAS_STATUS_SUCCESS) brc = cublas->set_stream(state->blas, state->stream);
    /* The default math mode is full fp32 (no TF32), which the parity bounds need. */
    if (brc == CUBLAS_STATUS_SUCCESS) brc = cublas->set_math_mode(state->blas, CUBLAS_DEFAULT_MATH);
    if (brc != CUBLAS_STATUS_SUCCESS) {
        destroy_state(state);
        return gan_fail(err, "cuda:%d: cuBLAS could not start (status %d)", ctx->device.index, static_cast<int>(brc));
    }
    ctx->backend_state = state;
    if (ctx->threads <= 0) ctx->threads = 1;
    return 0;
}

void cuda_shutdown(gan_ctx *ctx) {
    cuda_state *state = cuda_state_of(ctx);
    if (!state) return;
    cudaSetDevice(state->device);
    cudaStreamSynchronize(state->stream);
    destroy_state(state);
    ctx->backend_state = nullptr;
}

void *cuda_alloc(gan_ctx *ctx, size_t bytes) {
    void *ptr = nullptr;
    if (cuda_select(ctx) != 0 || cudaMalloc(&ptr, bytes) != cudaSuccess) {
        cudaGetLastError(); /* an out-of-memory result is reported by the caller, not left sticky */
        return nullptr;
    }
    return ptr;
}

/* cudaFree waits for the device, so a buffer still read by queued kernels is
 * never released under them. */
void cuda_free(gan_ctx *ctx, void *ptr) {
    cuda_select(ctx);
    cudaFree(ptr);
}

int cuda_upload(gan_ctx *ctx, void *dst, const void *host, size_t bytes) {
    cudaStream_t s = cuda_stream(ctx);
    if (cuda_check(ctx, cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, s), "upload") != 0) return -1;
    /* The host buffer may be reused as soon as this returns. */
    return cuda_check(ctx, cudaStreamSynchronize(s), "upload");
}

int cuda_download(gan_ctx *ctx, void *host, const void *src, size_t bytes) {
    cudaStream_t s = cuda_stream(ctx);
    if (cuda_check(ctx, cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, s), "download") != 0) return -1;
    return cuda_check(ctx, cudaStreamSynchronize(s), "download (or a kernel before it)");
}

int cuda_synchronize(gan_ctx *ctx) {
    return cuda_check(ctx, cudaStreamSynchronize(cuda_stream(ctx)), "synchronize (a kernel failed)");
}

gan_backend make_table() {
    gan_backend t;
    std::memset(&t, 0, sizeof t);
    t.name = "cuda";
    t.init = cuda_init;
    t.shutdown = cuda_shutdown;
    t.alloc = cuda_alloc;
    t.free = cuda_free;
    t.upload = cuda_upload;
    t.download = cuda_download;
    t.synchronize = cuda_synchronize;
    t.linear = cuda_linear;
    t.normalize_2nd_moment = cuda_normalize_2nd_moment;
    t.bias_act = cuda_bias_act;
    t.bias_act_frozen = cuda_bias_act_frozen;
    t.modconv = cuda_modconv;
    t.upfirdn2d = cuda_upfirdn2d;
    t.add = cuda_add;
    t.mul = cuda_mul;
    t.axpy = cuda_axpy;
    t.scale = cuda_scale;
    t.adam = cuda_adam;
    t.lerp_into = cuda_lerp_into;
    t.count_nonfinite = cuda_count_nonfinite;
    t.truncate = cuda_truncate;
    t.repeat = cuda_repeat;
    t.broadcast_rows = cuda_broadcast_rows;
    t.select_row = cuda_select_row;
    t.slice = cuda_slice;
    t.write_slice = cuda_write_slice;
    t.mix_rows = cuda_mix_rows;
    t.sum_rows = cuda_sum_rows;
    t.sum_batch = cuda_sum_batch;
    t.concat_cols = cuda_concat_cols;
    t.randn = cuda_randn;
    t.conv2d = cuda_conv2d;
    t.mbstd = cuda_mbstd;
    t.color_transform = cuda_color_transform;
    t.filter_1d = cuda_filter_1d;
    t.affine_sample = cuda_affine_sample;
    t.pad_reflect = cuda_pad_reflect;
    t.pad_reflect_backward = cuda_pad_reflect_backward;
    t.affine_sample_backward = cuda_affine_sample_backward;
    t.linear_backward_input = cuda_linear_backward_input;
    t.linear_backward_weight = cuda_linear_backward_weight;
    t.normalize_2nd_moment_backward = cuda_normalize_2nd_moment_backward;
    t.bias_act_backward = cuda_bias_act_backward;
    t.sum_channels = cuda_sum_channels;
    t.noise_strength_grad = cuda_noise_strength_grad;
    t.modconv_backward = cuda_modconv_backward;
    t.conv2d_backward_input = cuda_conv2d_backward_input;
    t.conv2d_backward_weight = cuda_conv2d_backward_weight;
    t.mbstd_backward = cuda_mbstd_backward;
    t.mbstd_jvp = cuda_mbstd_jvp;
    t.mbstd_jvp_backward_x = cuda_mbstd_jvp_backward_x;
    t.matmul = cuda_matmul;
    t.normalize_rows = cuda_normalize_rows;
    t.softmax = cuda_softmax;
    t.softmax_backward = cuda_softmax_backward;
    t.tanh = cuda_tanh;
    t.tanh_backward = cuda_tanh_backward;
    t.max_pool2d = cuda_max_pool2d;
    t.max_pool2d_backward = cuda_max_pool2d_backward;
    t.avg_pool2d = cuda_avg_pool2d;
    t.avg_pool2d_backward = cuda_avg_pool2d_backward;
    t.upsample_nearest2d = cuda_upsample_nearest2d;
    t.upsample_nearest2d_backward = cuda_upsample_nearest2d_backward;
    t.batch_stats = cuda_batch_stats;
    t.batch_norm = cuda_batch_norm;
    t.batch_norm_backward = cuda_batch_norm_backward;
    return t;
}

const gan_backend cuda_table = make_table();

}  // namespace

extern "C" const gan_backend *gan_cuda_backend(int device_index, gan_error *err) {
    (void)device_index; /* checked by init, which knows the context */
    (void)err;
    return &cuda_table;
}
