#include <cblas.h>
#include <math.h>
#include <string.h>

#include "cpu.h"

/* One sgemm per matrix of the batch: the products here are small (attention
 * maps of one image, power-iteration vectors), and OpenBLAS threads each. */
int cpu_matmul(gan_ctx *ctx, gan_tensor *y, const gan_tensor *a, const gan_tensor *b, int trans_a, int trans_b) {
    (void)ctx;
    int batch = a->ndim == 3 ? (int)a->shape[0] : 1;
    int ar = (int)a->shape[a->ndim - 2], ac = (int)a->shape[a->ndim - 1];
    int br = (int)b->shape[b->ndim - 2], bc = (int)b->shape[b->ndim - 1];
    int m = trans_a ? ac : ar, k = trans_a ? ar : ac, n = trans_b ? br : bc;
    /* OpenBLAS rejects leading dimensions of 0 (and leaves y as it was), so
     * empty products are done here: nothing to write, or a sum of no terms. */
    if (y->numel == 0) return 0;
    if (k == 0) {
        memset(y->data, 0, (size_t)y->numel * sizeof *y->data);
        return 0;
    }
    for (int i = 0; i < batch; i++)
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                    1.0f, a->data + (size_t)i * ar * ac, ac, b->data + (size_t)i * br * bc, bc, 0.0f,
                    y->data + (size_t)i * m * n, n);
    return 0;
}

int cpu_normalize_rows(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, float eps) {
    (void)ctx;
    int64_t rows = x->shape[0], d = x->shape[1];
    for (int64_t r = 0; r < rows; r++) {
        const float *in = x->data + r * d;
        double sum = 0;
        for (int64_t j = 0; j < d; j++) sum += (double)in[j] * in[j];
        float norm = (float)sqrt(sum);
        float denom = norm > eps ? norm : eps;
        for (int64_t j = 0; j < d; j++) y->data[r * d + j] = in[j] / denom;
    }
    return 0;
}
