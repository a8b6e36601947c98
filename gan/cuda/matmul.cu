/* Matrix products (cuBLAS, strided batches) and row normalisation. */
#include "cuda.h"

namespace {

/* One block per row: y = x / max(|x|, eps), the norm summed in double. */
__global__ void normalize_rows_kernel(float *y, const float *x, int64_t d, float eps) {
    const float *row = x + blockIdx.x * d;
    double sq = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) sq += (double)row[j] * row[j];
    sq = cuda_block_sum(sq);
    float norm = (float)sqrt(sq), denom = norm > eps ? norm : eps;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) y[blockIdx.x * d + j] = row[j] / denom;
}

}  // namespace

int cuda_matmul(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int trans_a, int trans_b) {
    int batch = a->ndim == 3 ? (int)a->shape[0] : 1;
    int ar = (int)a->shape[a->ndim - 2], ac = (int)a->shape[a->ndim - 1];
    int br = (int)b->shape[b->ndim - 2], bc = (int)b->shape[b->ndim - 1];
    int m = trans_a ? ac : ar, k = trans_a ? ar : ac, n = trans_b ? br : bc;
    /* cuBLAS refuses leading dimensions of 0, so empty products are done here:
     * nothing to write, or a sum of no terms. */
    if (y->numel == 0) return 0;
    if (k == 0) return cuda_fill(ctx, y->data, y->numel, 0.0f);
    return cuda_gemm_batched(ctx, trans_a != 0, trans_b != 0, m, n, k, 1.0f, a->data, ac, (long long)ar * ac, b->data,
                             bc, (long long)br * bc, 0.0f, y->data, n, (long long)m * n, batch);
}

int cuda_normalize_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float eps) {
    if (x->shape[0] == 0) return 0; /* a grid of no blocks is a launch error */
    normalize_rows_kernel<<<(unsigned)x->shape[0], CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, x->shape[1],
                                                                                       eps);
    return cuda_launched(ctx, "normalize_rows");
}
