/* The tensor: a dense, contiguous fp32 array of up to 4 dimensions (NCHW for
 * images) living on one device. Its memory comes from the pool of the context
 * that created it (see context.h), so steady-state forward passes reuse
 * buffers instead of allocating. */
#ifndef GAN_TENSOR_H
#define GAN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define GAN_MAX_DIMS 4

typedef struct gan_ctx gan_ctx;

typedef struct gan_tensor {
    float *data; /* device memory of the owning context's backend */
    int ndim;
    int64_t shape[GAN_MAX_DIMS];
    int64_t numel;
} gan_tensor;

/* New uninitialised tensor; NULL (with the context's error set) if the shape
 * is invalid or memory runs out. */
gan_tensor *gan_tensor_new(gan_ctx *ctx, int ndim, const int64_t *shape);
gan_tensor *gan_tensor_1d(gan_ctx *ctx, int64_t a);
gan_tensor *gan_tensor_2d(gan_ctx *ctx, int64_t a, int64_t b);
gan_tensor *gan_tensor_3d(gan_ctx *ctx, int64_t a, int64_t b, int64_t c);
gan_tensor *gan_tensor_4d(gan_ctx *ctx, int64_t a, int64_t b, int64_t c, int64_t d);
/* Returns the tensor's memory to the context's pool. NULL is ignored. */
void gan_tensor_free(gan_ctx *ctx, gan_tensor *t);

/* Host <-> tensor copies of all numel floats. */
int gan_tensor_upload(gan_ctx *ctx, gan_tensor *t, const float *host);
int gan_tensor_download(gan_ctx *ctx, const gan_tensor *t, float *host);
/* The first element on the host: a one-element tensor's value; NaN when t is
 * NULL or the copy fails. */
float gan_tensor_item(gan_ctx *ctx, const gan_tensor *t);
/* A new tensor holding a copy of host data. */
gan_tensor *gan_tensor_from_host(gan_ctx *ctx, int ndim, const int64_t *shape, const float *host);

/* The same data under another shape with as many elements, for passing to
 * ops without a copy: a value borrowing t's memory, never freed, valid while
 * t is. With a different element count it has no data and numel -1, and
 * every op refuses it. */
gan_tensor gan_tensor_view(const gan_tensor *t, int ndim, const int64_t *shape);

/* Dimension i counted from the end when negative, like Python. */
int64_t gan_dim(const gan_tensor *t, int i);
int gan_same_shape(const gan_tensor *a, const gan_tensor *b);
/* "[2, 3, 64, 64]" into buf; returns buf. */
const char *gan_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);
#define GAN_SHAPE_STR_LEN 96

#endif
