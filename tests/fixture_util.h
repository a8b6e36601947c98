/* Reading reference tensors from a safetensors fixture onto the device and
 * comparing results with them, for the tests against tools/reference. */
#ifndef DNE_TESTS_FIXTURE_UTIL_H
#define DNE_TESTS_FIXTURE_UTIL_H

#include <math.h>
#include <stdlib.h>

#include <stdio.h>
#include <string.h>

#include "gan/io/safetensors.h"
#include "gan/params.h"
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

/* Compares every parameter gradient grads[i] (aligned with p; those whose
 * names start with `only`, or all when only is NULL) with the fixture's
 * "<prefix><name>"; prints each error when verbose; returns the worst. */
static inline double fixture_compare_grads(gan_ctx *ctx, gan_st_file *f, const gan_params *p, gan_tensor **grads,
                                           const char *prefix, const char *only, double tolerance, int verbose) {
    double worst = 0;
    for (int i = 0; i < p->count; i++) {
        const char *name = p->items[i].name;
        if (!grads[i] || (only && strncmp(name, only, strlen(only)) != 0)) continue;
        char key[192];
        snprintf(key, sizeof key, "%s%s", prefix, name);
        gan_tensor *want = fixture_tensor(ctx, f, key);
        double e = fixture_compare(ctx, grads[i], want, key, tolerance);
        if (verbose) printf("  %-34s error %.2e\n", name, e);
        worst = fmax(worst, e);
        gan_tensor_free(ctx, want);
    }
    return worst;
}

/* Two safetensors files hold the same tensors: every tensor of `want` is in
 * `got` under its name with its shape and bit-identical float values, they
 * hold equally many, and got's "augment_p" metadata equals want's when want
 * has one. Failures name `what`; returns the number of identical tensors. */
static inline int fixture_same_tensors(gan_st_file *got, gan_st_file *want, const char *what) {
    gan_error err = {{0}};
    CHECKF(gan_st_count(got) == gan_st_count(want), "%s: %d tensors, expected %d", what, gan_st_count(got),
           gan_st_count(want));
    int same = 0;
    for (int i = 0; i < gan_st_count(want); i++) {
        const gan_st_tensor *w = gan_st_at(want, i), *g = gan_st_find(got, w->name);
        if (!g || g->numel != w->numel || g->ndim != w->ndim ||
            memcmp(g->shape, w->shape, (size_t)w->ndim * sizeof *w->shape) != 0) {
            CHECKF(0, "%s: tensor %s missing or misshapen", what, w->name);
            continue;
        }
        float *a = malloc((size_t)(w->numel + 1) * sizeof *a), *b = malloc((size_t)(w->numel + 1) * sizeof *b);
        if (a && b && gan_st_read_f32(got, g, a, &err) == 0 && gan_st_read_f32(want, w, b, &err) == 0)
            same += memcmp(a, b, (size_t)w->numel * sizeof *a) == 0;
        else
            CHECKF(0, "%s: reading %s: %s", what, w->name, err.msg);
        free(a), free(b);
    }
    CHECKF(same == gan_st_count(want), "%s: %d of %d tensors identical", what, same, gan_st_count(want));
    const char *p_got = gan_st_meta(got, "augment_p"), *p_want = gan_st_meta(want, "augment_p");
    CHECKF(!p_want || (p_got && strcmp(p_got, p_want) == 0), "%s: augment_p %s, expected %s", what,
           p_got ? p_got : "missing", p_want);
    return same;
}

#endif
