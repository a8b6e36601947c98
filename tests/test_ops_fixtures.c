/* Each CPU op against PyTorch: tests/fixtures/ops.safetensors holds inputs
 * and outputs computed by tools/reference/make_fixtures.py with the
 * reference's own equations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan/context.h"
#include "gan/io/safetensors.h"
#include "gan/ops.h"
#include "tests/test.h"

#define TOL 1e-5

typedef struct fixture {
    gan_ctx *ctx;
    gan_st_file *file;
} fixture;

/* Tensor "<case>.<role>" from the fixture file, on the context's device. */
static gan_tensor *load(fixture *f, const char *name) {
    const gan_st_tensor *t = gan_st_find(f->file, name);
    if (!t) {
        fprintf(stderr, "fixture has no tensor %s\n", name);
        test_failures++;
        return NULL;
    }
    float *host = malloc((size_t)t->numel * sizeof *host + 1);
    gan_error err;
    gan_tensor *out = NULL;
    if (gan_st_read_f32(f->file, t, host, &err) == 0) out = gan_tensor_from_host(f->ctx, t->ndim, t->shape, host);
    free(host);
    return out;
}

static float scalar(fixture *f, const char *name) {
    gan_tensor *t = load(f, name);
    float v = t ? t->data[0] : NAN;
    gan_tensor_free(f->ctx, t);
    return v;
}

/* Compares an op's output with the fixture tensor `name` and frees both. */
static void expect(fixture *f, gan_tensor *got, const char *name) {
    gan_tensor *want = load(f, name);
    CHECKF(got != NULL, "%s: op failed: %s", name, f->ctx->error.msg);
    if (got && want) {
        CHECKF(gan_same_shape(got, want), "%s: shape differs", name);
        if (gan_same_shape(got, want)) {
            double err = test_max_abs_diff(got->data, want->data, (size_t)got->numel);
            CHECKF(err < TOL, "%s: max abs error %g", name, err);
        }
    }
    gan_tensor_free(f->ctx, got);
    gan_tensor_free(f->ctx, want);
}

static void test_linear(fixture *f) {
    gan_tensor *x = load(f, "linear.x"), *w = load(f, "linear.weight"), *b = load(f, "linear.bias");
    float lr_mul = scalar(f, "linear.lr_mul");
    expect(f, gan_linear(f->ctx, x, w, b, lr_mul / sqrtf((float)x->shape[1]), lr_mul), "linear.y");
    gan_tensor *x2 = load(f, "norm2.x");
    expect(f, gan_normalize_2nd_moment(f->ctx, x2), "norm2.y");
    gan_tensor_free(f->ctx, x);
    gan_tensor_free(f->ctx, w);
    gan_tensor_free(f->ctx, b);
    gan_tensor_free(f->ctx, x2);
}

static void test_bias_act(fixture *f) {
    gan_tensor *x = load(f, "bias_act.x"), *b = load(f, "bias_act.b"), *noise = load(f, "bias_act.noise");
    gan_tensor *strength = load(f, "bias_act.noise_strength");
    float clamp = scalar(f, "bias_act.clamp");
    gan_bias_act_args lrelu = {GAN_ACT_LRELU, 0.2f, gan_act_default_gain(GAN_ACT_LRELU), clamp};
    expect(f, gan_bias_act(f->ctx, x, b, noise, strength, lrelu), "bias_act.y_lrelu");
    gan_bias_act_args linear = {GAN_ACT_LINEAR, 0, 1, -1};
    expect(f, gan_bias_act(f->ctx, x, b, NULL, NULL, linear), "bias_act.y_linear");
    /* The in-place form overwrites (and returns) its input. */
    gan_tensor *copy = load(f, "bias_act.x");
    gan_tensor *same = gan_bias_act_inplace(f->ctx, copy, b, noise, strength, lrelu);
    CHECK(same == copy);
    expect(f, same, "bias_act.y_lrelu");
    gan_tensor_free(f->ctx, x);
    gan_tensor_free(f->ctx, b);
    gan_tensor_free(f->ctx, noise);
    gan_tensor_free(f->ctx, strength);
}

static void test_modconv_case(fixture *f, const char *name, int up, int demod, const char *output) {
    char key[64];
    snprintf(key, sizeof key, "%s.x", name);
    gan_tensor *x = load(f, key);
    snprintf(key, sizeof key, "%s.weight", name);
    gan_tensor *w = load(f, key);
    snprintf(key, sizeof key, "%s.styles", name);
    gan_tensor *s = load(f, key);
    gan_tensor *filter = NULL;
    if (up == 2) {
        snprintf(key, sizeof key, "%s.filter", name);
        filter = load(f, key);
    }
    snprintf(key, sizeof key, "%s.%s", name, output);
    expect(f, gan_modconv(f->ctx, x, w, s, (gan_modconv_args){demod, up, filter}), key);
    gan_tensor_free(f->ctx, x);
    gan_tensor_free(f->ctx, w);
    gan_tensor_free(f->ctx, s);
    gan_tensor_free(f->ctx, filter);
}

static void test_resampling(fixture *f) {
    gan_tensor *x = load(f, "upsample2d.x"), *filter = load(f, "upsample2d.filter");
    expect(f, gan_upsample2d(f->ctx, x, filter), "upsample2d.y");
    gan_tensor *xd = load(f, "downsample2d.x");
    expect(f, gan_downsample2d(f->ctx, xd, filter), "downsample2d.y");
    gan_tensor *xg = load(f, "upfirdn2d_generic.x"), *fg = load(f, "upfirdn2d_generic.filter");
    gan_upfirdn2d_args a = {.up_x = 2, .up_y = 2, .down_x = 1, .down_y = 1, .pad_x0 = 2, .pad_x1 = 1,
                            .pad_y0 = 1, .pad_y1 = -1, .gain = 1.5f, .flip_filter = 0};
    expect(f, gan_upfirdn2d(f->ctx, xg, fg, a), "upfirdn2d_generic.y");
    gan_tensor *tensors[] = {x, filter, xd, xg, fg};
    for (int i = 0; i < 5; i++) gan_tensor_free(f->ctx, tensors[i]);
}

static void test_truncate(fixture *f) {
    gan_tensor *ws = load(f, "truncate.ws"), *avg = load(f, "truncate.w_avg");
    float psi = scalar(f, "truncate.psi");
    int cutoff = (int)scalar(f, "truncate.cutoff");
    expect(f, gan_truncate(f->ctx, ws, avg, psi, cutoff), "truncate.y");
    gan_tensor_free(f->ctx, ws);
    gan_tensor_free(f->ctx, avg);
}

int main(void) {
    gan_error err;
    fixture f = {0};
    f.ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    if (!f.ctx || gan_st_open("tests/fixtures/ops.safetensors", &f.file, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_linear(&f);
    test_bias_act(&f);
    test_modconv_case(&f, "modconv", 1, 1, "y_demod");
    test_modconv_case(&f, "modconv", 1, 0, "y_nodemod");
    test_modconv_case(&f, "modconv_up", 2, 1, "y");
    test_modconv_case(&f, "modconv_up_odd", 2, 1, "y");
    test_modconv_case(&f, "torgb", 1, 0, "y");
    test_resampling(&f);
    test_truncate(&f);
    CHECKF(gan_ctx_bytes_live(f.ctx) == 0, "%zu bytes still live", gan_ctx_bytes_live(f.ctx));
    gan_st_close(f.file);
    gan_ctx_free(f.ctx);
    TEST_DONE();
}
