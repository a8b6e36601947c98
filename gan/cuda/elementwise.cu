/* Element-wise ops on the GPU: sums, the optimiser's update, the generator's
 * moving average, the truncation trick and the NaN guard. The formulas are
 * those of the CPU backend (gan/kernel_math.h). */
#include "../kernel_math.h"
#include "cuda.h"

namespace {

__global__ void add_kernel(float *y, const float *a, const float *b, int64_t n) {
    CUDA_FOR(i, n) y[i] = a[i] + b[i];
}

__global__ void mul_kernel(float *y, const float *a, const float *b, int64_t n) {
    CUDA_FOR(i, n) y[i] = a[i] * b[i];
}

__global__ void axpy_kernel(float *y, const float *x, float alpha, int64_t n) {
    CUDA_FOR(i, n) y[i] += alpha * x[i];
}

__global__ void scale_kernel(float *y, const float *x, float alpha, int64_t n) {
    CUDA_FOR(i, n) y[i] = alpha * x[i];
}

__global__ void adam_kernel(float *param, const float *grad, float *m, float *v, gan_adam_args a, float step_size,
                            float denom_scale, int64_t n) {
    CUDA_FOR(i, n) gan_adam_element(&param[i], grad[i], &m[i], &v[i], a.beta1, a.beta2, a.eps, step_size, denom_scale);
}

__global__ void lerp_into_kernel(float *ema, const float *x, float beta, int64_t n) {
    CUDA_FOR(i, n) ema[i] = gan_lerp(x[i], ema[i], beta);
}

/* ws [N, L, D]: rows l < cutoff move toward w_avg [D]. */
__global__ void truncate_kernel(float *y, const float *ws, const float *w_avg, float psi, int64_t layers, int64_t dim,
                                int64_t cutoff, int64_t n) {
    CUDA_FOR(i, n) {
        int64_t d = i % dim, l = (i / dim) % layers;
        y[i] = l < cutoff ? gan_lerp(w_avg[d], ws[i], psi) : ws[i];
    }
}

__global__ void count_nonfinite_kernel(unsigned long long *count, const float *x, int64_t n) {
    unsigned long long bad = 0;
    CUDA_FOR(i, n) bad += !isfinite(x[i]);
    if (bad) atomicAdd(count, bad);
}

__global__ void count_to_float_kernel(float *out, const unsigned long long *count) { out[0] = (float)count[0]; }

}  // namespace

int cuda_add(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b) {
    add_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, a->data, b->data, y->numel);
    return cuda_launched(ctx, "add");
}

int cuda_mul(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b) {
    mul_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, a->data, b->data, y->numel);
    return cuda_launched(ctx, "mul");
}

int cuda_axpy(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha) {
    axpy_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, alpha, y->numel);
    return cuda_launched(ctx, "axpy");
}

int cuda_scale(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float alpha) {
    scale_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, alpha, y->numel);
    return cuda_launched(ctx, "scale");
}

int cuda_adam(gan_ctx *ctx, gan_tensor *param, const gan_tensor *grad, gan_tensor *m, gan_tensor *v,
              const gan_adam_args *a) {
    float step_size = a->lr / a->bias_correction1, denom_scale = sqrtf(a->bias_correction2);
    adam_kernel<<<cuda_blocks(param->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(
        param->data, grad->data, m->data, v->data, *a, step_size, denom_scale, param->numel);
    return cuda_launched(ctx, "adam");
}

int cuda_lerp_into(gan_ctx *ctx, gan_tensor *ema, const gan_tensor *x, float beta) {
    lerp_into_kernel<<<cuda_blocks(ema->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(ema->data, x->data, beta,
                                                                                      ema->numel);
    return cuda_launched(ctx, "lerp_into");
}

int cuda_truncate(gan_ctx *ctx, gan_tensor *y, const gan_tensor *ws, const gan_tensor *w_avg, float psi, int cutoff) {
    int64_t layers = ws->shape[1], dim = ws->shape[2];
    int64_t rows = cutoff <= 0 || cutoff > layers ? layers : cutoff;
    truncate_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, ws->data, w_avg->data, psi,
                                                                                   layers, dim, rows, y->numel);
    return cuda_launched(ctx, "truncate");
}

int cuda_count_nonfinite(gan_ctx *ctx, gan_tensor *count, const gan_tensor *x) {
    cuda_scratch total(ctx, 2); /* one 64-bit counter */
    if (!total.ptr) return gan_ctx_fail(ctx, "count_nonfinite: out of GPU memory"), -1;
    auto *counter = reinterpret_cast<unsigned long long *>(total.ptr);
    cudaStream_t s = cuda_stream(ctx);
    if (cuda_check(ctx, cudaMemsetAsync(counter, 0, sizeof *counter, s), "memset") != 0) return -1;
    count_nonfinite_kernel<<<cuda_blocks(x->numel), CUDA_THREADS, 0, s>>>(counter, x->data, x->numel);
    count_to_float_kernel<<<1, 1, 0, s>>>(count->data, counter);
    return cuda_launched(ctx, "count_nonfinite");
}
