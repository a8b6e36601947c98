/* Data movement on the GPU: copies of rows and slices (cudaMemcpyAsync where
 * the data is one block) and the sums that are their gradients. */
#include "cuda.h"

namespace {

int copy_floats(gan_ctx *ctx, float *dst, const float *src, int64_t n) {
    return cuda_check(ctx,
                      cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice,
                                      cuda_stream(ctx)),
                      "device copy");
}

/* y [N, count, D] from a [N, D] for rows l < cutoff and b [N, D] for the
 * rest: broadcast_rows (cutoff = count) and style mixing. */
__global__ void mix_rows_kernel(float *y, const float *a, const float *b, int64_t count, int64_t dim, int64_t cutoff,
                                int64_t n) {
    CUDA_FOR(i, n) {
        int64_t d = i % dim, l = (i / dim) % count, sample = i / (dim * count);
        y[i] = (l < cutoff ? a : b)[sample * dim + d];
    }
}

/* y [N, D] = x [N, rows, D] at row index. */
__global__ void select_row_kernel(float *y, const float *x, int64_t rows, int64_t dim, int64_t index, int64_t n) {
    CUDA_FOR(i, n) y[i] = x[((i / dim) * rows + index) * dim + i % dim];
}

/* y [N, A + B] = (a [N, A], b [N, B]). */
__global__ void concat_cols_kernel(float *y, const float *a, const float *b, int64_t ca, int64_t cb, int64_t n) {
    CUDA_FOR(i, n) {
        int64_t row = i / (ca + cb), col = i % (ca + cb);
        y[i] = col < ca ? a[row * ca + col] : b[row * cb + col - ca];
    }
}

/* y[i] = x[i] repeated `copies` times along the first dimension. */
__global__ void repeat_kernel(float *y, const float *x, int64_t size, int64_t n) {
    CUDA_FOR(i, n) y[i] = x[i % size];
}

/* Sums in the CPU's order (row by row), so the results agree exactly. */
__global__ void sum_rows_kernel(float *y, const float *x, int64_t rows, int64_t dim, int64_t start, int64_t count,
                                int64_t n) {
    CUDA_FOR(i, n) {
        int64_t sample = i / dim, d = i % dim;
        float sum = 0.0f;
        for (int64_t l = start; l < start + count; l++) sum += x[(sample * rows + l) * dim + d];
        y[i] = sum;
    }
}

__global__ void sum_batch_kernel(float *y, const float *x, int64_t batch, int64_t size) {
    CUDA_FOR(j, size) {
        float sum = 0.0f;
        for (int64_t i = 0; i < batch; i++) sum += x[i * size + j];
        y[j] = sum;
    }
}

}  // namespace

int cuda_repeat(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    repeat_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, x->numel, y->numel);
    return cuda_launched(ctx, "repeat");
}

int cuda_broadcast_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    int64_t count = y->shape[1];
    mix_rows_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, x->data, count,
                                                                                   y->shape[2], count, y->numel);
    return cuda_launched(ctx, "broadcast_rows");
}

int cuda_mix_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int64_t cutoff) {
    mix_rows_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, a->data, b->data,
                                                                                   y->shape[1], y->shape[2], cutoff,
                                                                                   y->numel);
    return cuda_launched(ctx, "mix_rows");
}

int cuda_select_row(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t index) {
    select_row_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, x->shape[1],
                                                                                     x->shape[2], index, y->numel);
    return cuda_launched(ctx, "select_row");
}

int cuda_concat_cols(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b) {
    concat_cols_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, a->data, b->data,
                                                                                      a->shape[1], b->shape[1],
                                                                                      y->numel);
    return cuda_launched(ctx, "concat_cols");
}

int cuda_slice(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start) {
    int64_t row = x->numel / x->shape[0];
    return copy_floats(ctx, y->data, x->data + start * row, y->numel);
}

int cuda_write_slice(gan_ctx *ctx, gan_tensor *dst, const gan_tensor *src, int64_t start) {
    int64_t row = dst->numel / dst->shape[0];
    return copy_floats(ctx, dst->data + start * row, src->data, src->numel);
}

int cuda_sum_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, int64_t start, int64_t count) {
    sum_rows_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, x->shape[1],
                                                                                   x->shape[2], start, count, y->numel);
    return cuda_launched(ctx, "sum_rows");
}

int cuda_sum_batch(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    sum_batch_kernel<<<cuda_blocks(y->numel), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, x->shape[0],
                                                                                    y->numel);
    return cuda_launched(ctx, "sum_batch");
}
