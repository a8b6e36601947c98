#include <cblas.h>
#include <math.h>

#include "cpu.h"

int cpu_linear(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *weight, const gan_tensor *bias,
               float weight_gain, float bias_gain) {
    (void)ctx;
    int n = (int)x->shape[0], in = (int)x->shape[1], out = (int)weight->shape[0];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, weight_gain, x->data, in, weight->data, in, 0.0f,
                y->data, out);
    if (bias)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) y->data[(size_t)i * out + o] += bias->data[o] * bias_gain;
    return 0;
}

int cpu_normalize_2nd_moment(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x) {
    (void)ctx;
    int64_t n = x->shape[0], c = x->shape[1];
    for (int64_t i = 0; i < n; i++) {
        const float *row = x->data + i * c;
        double sum = 0;
        for (int64_t j = 0; j < c; j++) sum += (double)row[j] * row[j];
        float scale = 1.0f / sqrtf((float)(sum / (double)c) + 1e-8f);
        for (int64_t j = 0; j < c; j++) y->data[i * c + j] = row[j] * scale;
    }
    return 0;
}
