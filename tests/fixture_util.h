/* Reading reference tensors from a safetensors fixture onto the device and
 * comparing results with them, for the tests against tools/reference. */
#ifndef DNE_TESTS_FIXTURE_UTIL_H
#define DNE_TESTS_FIXTURE_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "gan/io/safetensors.h"
#include "gan/tensor.h"
#include "tests/test.h"

static inline float *fixture_host(gan_ctx *ctx, const gan_tensor *t) {
    float *p = malloc((size_t)t->numel * sizeof *p + 1);
    gan_tensor_download(ctx, t, p);
    return p;
}

/* The fixture's tensor `name` on the device (NULL, with a failed check, if absent). */
static inline gan_tensor *fixture_tensor(gan_ctx *ctx, gan_st_file *f, const char *name) {
    const gan_st_tensor *t = gan_st_find(f, name);
    CHECKF(t != NULL, "fixture lacks %s", name);
    if (!t) return NULL;
    float *host = malloc((size_t)t->numel * sizeof *host + 1);
    gan_error err = {{0}};
    gan_tensor *out = NULL;
    if (gan_st_read_f32(f, t, host, &err) == 0) out = gan_tensor_from_host(ctx, t->ndim, t->shape, host);
    else CHECKF(0, "%s", err.msg);
    free(host);
    return out;
}

/* A scalar of the fixture (0 with a failed check if absent). */
static inline float fixture_scalar(gan_ctx *ctx, gan_st_file *f, const char *name) {
    gan_tensor *t = fixture_tensor(ctx, f, name);
    float v = 0;
    if (t) gan_tensor_download(ctx, t, &v);
    gan_tensor_free(ctx, t);
    return v;
}

/* Largest |got - want| relative to max |want|; fails the check above tolerance. */
static inline double fixture_compare(gan_ctx *ctx, const gan_tensor *got, const gan_tensor *want, const char *name,
                                     double tolerance) {
    CHECKF(got && want && got->numel == want->numel, "%s: missing or misshapen", name);
    if (!got || !want || got->numel != want->numel) return INFINITY;
    float *a = fixture_host(ctx, got), *b = fixture_host(ctx, want);
    double scale = 0;
    for (int64_t i = 0; i < want->numel; i++) scale = fmax(scale, fabs(b[i]));
    double err = test_max_abs_diff(a, b, (size_t)want->numel) / (scale + 1e-30);
    CHECKF(err <= tolerance, "%s: error %.3g of its largest magnitude %.3g (bound %.1g)", name, err, scale, tolerance);
    free(a), free(b);
    return err;
}

#endif
