/* The StyleGAN2 discriminator: its state_dict layout, and its backward pass
 * (image and parameter gradients) against finite differences of its forward
 * pass, measured along random directions as in test_ops_backward.c. The
 * PyTorch fixtures pin the exact values (test_train_fixtures). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan/models/stylegan2_discriminator.h"
#include "gan/rng.h"
#include "tests/test.h"
#include "tests/test_context.h"

static float *host_of(gan_ctx *ctx, const gan_tensor *t) {
    float *p = malloc((size_t)t->numel * sizeof *p + 1);
    gan_tensor_download(ctx, t, p);
    return p;
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static double loss(gan_ctx *ctx, const sg2_discriminator *d, const gan_tensor *img, const float *r) {
    gan_tensor *logits = sg2d_forward(ctx, d, img, NULL);
    if (!logits) return NAN;
    float *h = host_of(ctx, logits);
    double l = dot(h, r, logits->numel);
    free(h);
    gan_tensor_free(ctx, logits);
    return l;
}

/* Moves every trainable tensor (and the images when img_dir) by
 * sign * h * direction; directions come from one Philox stream. */
#define IMAGES (-1)
#define ALL_PARAMS (-2)

/* Whether tensor i (d->params.count: the images) is moved for `which`:
 * IMAGES, ALL_PARAMS, or one parameter's index. */
static int selected(const sg2_discriminator *d, int i, int which) {
    if (i == d->params.count) return which == IMAGES;
    if (d->params.items[i].is_buffer) return 0;
    return which == ALL_PARAMS || which == i;
}

static void move(gan_ctx *ctx, sg2_discriminator *d, gan_tensor *img, double sign_h, uint64_t seed, int which) {
    uint64_t offset = 0;
    for (int i = 0; i < d->params.count + 1; i++) {
        gan_tensor *t = i < d->params.count ? d->params.items[i].tensor : img;
        if (!selected(d, i, which)) continue;
        float *x = host_of(ctx, t), *v = malloc((size_t)t->numel * sizeof *v + 1);
        gan_philox_normal(seed, offset, v, (size_t)t->numel);
        offset += (uint64_t)t->numel;
        for (int64_t j = 0; j < t->numel; j++) x[j] += (float)(sign_h * v[j]);
        gan_tensor_upload(ctx, t, x);
        free(x), free(v);
    }
}

/* <gradient, direction> and |gradient| |direction| over the same tensors. */
static void project(gan_ctx *ctx, sg2_discriminator *d, gan_tensor **grads, const gan_tensor *dimg, uint64_t seed,
                    int which, double *along, double *norms) {
    uint64_t offset = 0;
    double gg = 0, vv = 0, gv = 0;
    for (int i = 0; i < d->params.count + 1; i++) {
        const gan_tensor *g = i < d->params.count ? grads[i] : dimg;
        if (!selected(d, i, which)) continue;
        float *gh = host_of(ctx, g), *v = malloc((size_t)g->numel * sizeof *v + 1);
        gan_philox_normal(seed, offset, v, (size_t)g->numel);
        offset += (uint64_t)g->numel;
        gg += dot(gh, gh, g->numel), vv += dot(v, v, g->numel), gv += dot(gh, v, g->numel);
        free(gh), free(v);
    }
    *along = gv;
    *norms = sqrt(gg * vv);
}

/* A step of 1e-3 along N(0, 1) directions crosses a few leaky ReLU kinks and
 * the fp32 loss is rounded, so the finite difference is good to a few 1e-3
 * of |g| |v| (measured: at most 6e-3); a wrong term or factor in a layer's
 * gradient shows up far above the bound. Exact values: the PyTorch fixtures. */
static void check_direction(gan_ctx *ctx, sg2_discriminator *d, gan_tensor *img, gan_tensor **grads,
                            const gan_tensor *dimg, const float *r, int which, uint64_t seed) {
    const double h = 1e-3;
    double along, norms;
    project(ctx, d, grads, dimg, seed, which, &along, &norms);
    move(ctx, d, img, h, seed, which);
    double up = loss(ctx, d, img, r);
    move(ctx, d, img, -2 * h, seed, which);
    double down = loss(ctx, d, img, r);
    move(ctx, d, img, h, seed, which);
    double numeric = (up - down) / (2 * h), err = fabs(numeric - along) / norms;
    const char *name = which == IMAGES ? "images" : which == ALL_PARAMS ? "all parameters" : d->params.items[which].name;
    printf("%-24s directional derivative %10.6g, finite difference %10.6g, error %.2e\n", name, along, numeric, err);
    CHECKF(err < 1e-2, "%s gradient: error %.3g", name, err);
}

static void test_layout(gan_ctx *ctx) {
    sg2_config g;
    gan_error err = {{0}};
    CHECK_OK(sg2_config_preset("paper256", 256, &g, &err), &err);
    sg2d_config cfg = sg2d_config_for(&g, 8);
    sg2_discriminator *d = sg2d_create(ctx, &cfg, &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (!d) return;
    /* stylegan2.md section 6.2: 64 entries for paper256, first and last. */
    CHECKF(d->params.count == 64, "%d tensors", d->params.count);
    CHECK(strcmp(d->params.items[0].name, "b256.resample_filter") == 0);
    CHECK(strcmp(d->params.items[1].name, "b256.fromrgb.weight") == 0);
    CHECK(strcmp(d->params.items[d->params.count - 1].name, "b4.out.bias") == 0);
    const gan_param *conv = gan_params_find(&d->params, "b4.conv.weight");
    CHECK(conv && conv->tensor->shape[0] == 512 && conv->tensor->shape[1] == 513);
    const gan_param *fc = gan_params_find(&d->params, "b4.fc.weight");
    CHECK(fc && fc->tensor->shape[1] == 8192);
    CHECK(gan_params_find(&d->params, "b256.skip.bias") == NULL);
    sg2d_free(ctx, d);
}

static void test_gradients(gan_ctx *ctx) {
    sg2d_config cfg = {16, 3, 256, 16, 256.0f, 2, 1};
    gan_error err = {{0}};
    sg2_discriminator *d = sg2d_create(ctx, &cfg, &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (!d) return;
    CHECK_OK(sg2d_init_random(ctx, d, 7, &err), &err);
    float *pixels = malloc(4 * 3 * 16 * 16 * sizeof *pixels);
    gan_philox_normal(3, 0, pixels, 4 * 3 * 16 * 16);
    gan_tensor *img = gan_tensor_from_host(ctx, 4, (int64_t[]){4, 3, 16, 16}, pixels);
    float r[4] = {0.7f, -1.3f, 0.4f, 1.1f};
    gan_tensor *dlogits = gan_tensor_from_host(ctx, 2, (int64_t[]){4, 1}, r);
    sg2d_tape tape = {0};
    gan_tensor *logits = sg2d_forward(ctx, d, img, &tape);
    gan_tensor *plain = sg2d_forward(ctx, d, img, NULL);
    CHECKF(logits && plain, "forward: %s", ctx->error.msg);
    if (logits && plain) {
        float *a = host_of(ctx, logits), *b = host_of(ctx, plain);
        CHECK(test_max_abs_diff(a, b, 4) == 0); /* the tape changes nothing */
        free(a), free(b);
    }
    gan_tensor **grads = gan_params_grads_new(ctx, &d->params);
    gan_tensor *dimg = NULL;
    CHECKF(sg2d_backward(ctx, d, &tape, dlogits, grads, &dimg) == 0, "backward: %s", ctx->error.msg);
    sg2d_tape_free(ctx, &tape);
    if (dimg) {
        check_direction(ctx, d, img, grads, dimg, r, IMAGES, 11);
        check_direction(ctx, d, img, grads, dimg, r, ALL_PARAMS, 12);
        for (int i = 0; i < d->params.count; i++)
            if (!d->params.items[i].is_buffer) check_direction(ctx, d, img, grads, dimg, r, i, 100 + (uint64_t)i);
    }
    gan_params_grads_free(ctx, &d->params, grads);
    free(pixels);
    gan_tensor_free(ctx, dimg), gan_tensor_free(ctx, img), gan_tensor_free(ctx, dlogits);
    gan_tensor_free(ctx, logits), gan_tensor_free(ctx, plain);
    /* Wrong image size: a message naming the expected shape. */
    gan_tensor *wrong = gan_tensor_4d(ctx, 2, 3, 8, 8);
    CHECK(sg2d_forward(ctx, d, wrong, NULL) == NULL);
    CHECKF(strstr(ctx->error.msg, "expected [N, 3, 16, 16]") != NULL, "message: %s", ctx->error.msg);
    gan_error taken;
    gan_ctx_take_error(ctx, &taken);
    gan_tensor_free(ctx, wrong);
    sg2d_free(ctx, d);
}

int main(void) {
    gan_ctx *ctx = test_context();
    if (!ctx) return 1;
    test_layout(ctx);
    test_gradients(ctx);
    return test_finish(ctx);
}
