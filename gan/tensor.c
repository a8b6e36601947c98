#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "context.h"

/* Tensors larger than this are refused: a corrupt shape must not turn into a
 * request for petabytes. */
#define GAN_TENSOR_MAX_NUMEL ((int64_t)1 << 36)

gan_tensor *gan_tensor_new(gan_ctx *ctx, int ndim, const int64_t *shape) {
    if (ctx->failed) return NULL;
    char buf[GAN_SHAPE_STR_LEN];
    if (ndim < 0 || ndim > GAN_MAX_DIMS) return gan_ctx_fail(ctx, "tensor with %d dimensions (at most %d)", ndim, GAN_MAX_DIMS);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && numel > GAN_TENSOR_MAX_NUMEL / shape[i]))
            return gan_ctx_fail(ctx, "invalid tensor shape %s", gan_shape_str(ndim, shape, buf, sizeof buf));
        numel *= shape[i];
    }
    gan_tensor *t = calloc(1, sizeof *t);
    if (!t) return gan_ctx_fail(ctx, "out of memory");
    t->ndim = ndim;
    if (ndim > 0) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = numel;
    t->data = gan_ctx_alloc(ctx, (size_t)numel * sizeof(float));
    if (!t->data) {
        free(t);
        return NULL;
    }
    return t;
}

gan_tensor *gan_tensor_1d(gan_ctx *ctx, int64_t a) { return gan_tensor_new(ctx, 1, (int64_t[]){a}); }
gan_tensor *gan_tensor_2d(gan_ctx *ctx, int64_t a, int64_t b) { return gan_tensor_new(ctx, 2, (int64_t[]){a, b}); }
gan_tensor *gan_tensor_3d(gan_ctx *ctx, int64_t a, int64_t b, int64_t c) {
    return gan_tensor_new(ctx, 3, (int64_t[]){a, b, c});
}
gan_tensor *gan_tensor_4d(gan_ctx *ctx, int64_t a, int64_t b, int64_t c, int64_t d) {
    return gan_tensor_new(ctx, 4, (int64_t[]){a, b, c, d});
}

void gan_tensor_free(gan_ctx *ctx, gan_tensor *t) {
    if (!t) return;
    gan_ctx_release(ctx, t->data, (size_t)t->numel * sizeof(float));
    free(t);
}

int gan_tensor_upload(gan_ctx *ctx, gan_tensor *t, const float *host) {
    if (!t) return -1;
    return ctx->backend->upload(ctx, t->data, host, (size_t)t->numel * sizeof(float));
}

int gan_tensor_download(gan_ctx *ctx, const gan_tensor *t, float *host) {
    if (!t) return -1;
    return ctx->backend->download(ctx, host, t->data, (size_t)t->numel * sizeof(float));
}

float gan_tensor_item(gan_ctx *ctx, const gan_tensor *t) {
    float value = NAN;
    if (!t || t->numel < 1 || ctx->backend->download(ctx, &value, t->data, sizeof value) != 0) value = NAN;
    return value;
}

gan_tensor *gan_tensor_from_host(gan_ctx *ctx, int ndim, const int64_t *shape, const float *host) {
    gan_tensor *t = gan_tensor_new(ctx, ndim, shape);
    if (t && gan_tensor_upload(ctx, t, host) != 0) {
        gan_tensor_free(ctx, t);
        return NULL;
    }
    return t;
}

gan_tensor gan_tensor_view(const gan_tensor *t, int ndim, const int64_t *shape) {
    gan_tensor v = {.data = t->data, .ndim = ndim, .numel = 1};
    for (int i = 0; i < ndim && i < GAN_MAX_DIMS; i++) {
        v.shape[i] = shape[i];
        v.numel *= shape[i];
    }
    if (ndim < 0 || ndim > GAN_MAX_DIMS || v.numel != t->numel) v = (gan_tensor){.numel = -1};
    return v;
}

int64_t gan_dim(const gan_tensor *t, int i) {
    if (i < 0) i += t->ndim;
    return (i >= 0 && i < t->ndim) ? t->shape[i] : 1;
}

int gan_same_shape(const gan_tensor *a, const gan_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *gan_shape_str(int ndim, const int64_t *shape, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}
