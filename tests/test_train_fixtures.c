/* The training ops and the discriminator against PyTorch
 * (tests/fixtures/train_ops.safetensors and train_d.safetensors, written by
 * tools/reference/make_train_fixtures.py and checked there against
 * stylegan2-ada-pytorch itself). Each case's output and the gradients of
 * sum(y * dy) with respect to every differentiable input must match. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gan/models/stylegan2_discriminator.h"
#include "gan/ops.h"
#include "tests/fixture_util.h"
#include "tests/test.h"
#include "tests/test_context.h"

#define OPS "tests/fixtures/train_ops.safetensors"
#define DISC "tests/fixtures/train_d.safetensors"
#define TOLERANCE 1e-5

typedef struct op_fixture {
    gan_ctx *ctx;
    gan_st_file *file;
    const char *name;
    double worst;
} op_fixture;

static gan_tensor *in(op_fixture *o, const char *what) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", o->name, what);
    return fixture_tensor(o->ctx, o->file, key);
}

static float scalar(op_fixture *o, const char *what) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", o->name, what);
    return fixture_scalar(o->ctx, o->file, key);
}

/* Compares got with "<case>.<what>" and frees got. */
static void expect(op_fixture *o, gan_tensor *got, const char *what) {
    gan_tensor *want = in(o, what);
    char label[96];
    snprintf(label, sizeof label, "%s.%s", o->name, what);
    o->worst = fmax(o->worst, fixture_compare(o->ctx, got, want, label, TOLERANCE));
    gan_tensor_free(o->ctx, want);
    gan_tensor_free(o->ctx, got);
}

static void release(op_fixture *o, gan_tensor **t, int n) {
    for (int i = 0; i < n; i++) gan_tensor_free(o->ctx, t[i]);
}

static void case_fc(op_fixture *o, gan_act act) {
    gan_ctx *ctx = o->ctx;
    gan_tensor *t[3] = {in(o, "x"), in(o, "weight"), in(o, "bias")};
    float lr = scalar(o, "lr_mul"), wg = lr / sqrtf((float)t[1]->shape[1]);
    gan_tensor *y = gan_linear(ctx, t[0], t[1], t[2], wg, lr), *dy = in(o, "dy");
    gan_bias_act_args a = {act, 0.2f, gan_act_default_gain(act), -1};
    if (act != GAN_ACT_LINEAR) y = gan_bias_act_inplace(ctx, y, NULL, NULL, NULL, a);
    gan_tensor *dz = act != GAN_ACT_LINEAR ? gan_bias_act_backward(ctx, dy, y, a) : gan_slice(ctx, dy, 0, dy->shape[0]);
    expect(o, y, "y");
    expect(o, gan_linear_backward_input(ctx, dz, t[1], wg), "grad.x");
    expect(o, gan_linear_backward_weight(ctx, dz, t[0], wg), "grad.weight");
    expect(o, gan_sum_channels(ctx, dz, lr), "grad.bias");
    gan_tensor_free(ctx, dz), gan_tensor_free(ctx, dy);
    release(o, t, 3);
}

static void case_bias_act(op_fixture *o, gan_act act) {
    gan_ctx *ctx = o->ctx;
    gan_tensor *t[2] = {in(o, "x"), in(o, "b")};
    gan_bias_act_args a = {act, 0.2f, act == GAN_ACT_LINEAR ? 1.0f : scalar(o, "gain"), scalar(o, "clamp")};
    gan_tensor *y = gan_bias_act(ctx, t[0], t[1], NULL, NULL, a), *dy = in(o, "dy");
    gan_tensor *dz = gan_bias_act_backward(ctx, dy, y, a);
    expect(o, y, "y");
    expect(o, gan_sum_channels(ctx, dz, 1.0f), "grad.b");
    expect(o, dz, "grad.x");
    gan_tensor_free(ctx, dy);
    release(o, t, 2);
}

/* modconv + noise (the training layer's conv part), or ToRGB without demodulation. */
static void case_modconv(op_fixture *o, int up, int torgb) {
    gan_ctx *ctx = o->ctx;
    gan_tensor *t[5] = {in(o, "x"), in(o, "weight"), in(o, "styles"), torgb ? NULL : in(o, "noise"),
                        up == 2 ? in(o, "filter") : NULL};
    gan_modconv_args a = {!torgb, up, t[4]};
    gan_tensor *y = gan_modconv(ctx, t[0], t[1], t[2], a), *dy = in(o, "dy");
    if (!torgb) {
        gan_tensor *one = gan_tensor_from_host(ctx, 0, NULL, (float[]){1.0f});
        y = gan_bias_act_inplace(ctx, y, NULL, t[3], one, (gan_bias_act_args){GAN_ACT_LINEAR, 0, 1, -1});
        gan_tensor_free(ctx, one);
    }
    gan_tensor *dx = NULL, *dw = NULL, *ds = NULL;
    gan_modconv_backward(ctx, dy, t[0], t[1], t[2], a, &dx, &dw, &ds);
    expect(o, y, "y");
    expect(o, dx, "grad.x");
    expect(o, dw, "grad.weight");
    expect(o, ds, "grad.styles");
    gan_tensor_free(ctx, dy);
    release(o, t, 5);
}

static void case_fir(op_fixture *o, gan_upfirdn2d_args a) {
    gan_ctx *ctx = o->ctx;
    gan_tensor *t[2] = {in(o, "x"), in(o, "filter")};
    gan_tensor *y = gan_upfirdn2d(ctx, t[0], t[1], a), *dy = in(o, "dy");
    expect(o, gan_upfirdn2d_backward(ctx, dy, t[1], a, (int)t[0]->shape[2], (int)t[0]->shape[3]), "grad.x");
    expect(o, y, "y");
    gan_tensor_free(ctx, dy);
    release(o, t, 2);
}

/* D's convolutions: optional FIR step (pad 2, or down 2 pad 1), then the conv. */
static void case_conv(op_fixture *o, int fir_down) {
    gan_ctx *ctx = o->ctx;
    gan_tensor *t[3] = {in(o, "x"), in(o, "weight"), fir_down ? in(o, "filter") : NULL};
    int k = (int)t[1]->shape[2];
    gan_upfirdn2d_args fir = k == 1 ? (gan_upfirdn2d_args){1, 1, 2, 2, 1, 1, 1, 1, 1.0f, 0}
                                    : (gan_upfirdn2d_args){1, 1, 1, 1, 2, 2, 2, 2, 1.0f, 0};
    gan_conv2d_args c = {fir_down && k > 1 ? 2 : 1, fir_down ? 0 : k / 2, 1.0f / sqrtf((float)(t[1]->shape[1] * k * k))};
    gan_tensor *conv_in = fir_down ? gan_upfirdn2d(ctx, t[0], t[2], fir) : t[0];
    gan_tensor *y = gan_conv2d(ctx, conv_in, t[1], c), *dy = in(o, "dy");
    gan_tensor *dci = gan_conv2d_backward_input(ctx, dy, t[1], c, (int)conv_in->shape[2], (int)conv_in->shape[3]);
    expect(o, gan_conv2d_backward_weight(ctx, dy, conv_in, k, c), "grad.weight");
    expect(o, fir_down ? gan_upfirdn2d_backward(ctx, dci, t[2], fir, (int)t[0]->shape[2], (int)t[0]->shape[3])
                       : gan_slice(ctx, dci, 0, dci->shape[0]),
           "grad.x");
    expect(o, y, "y");
    gan_tensor_free(ctx, dci), gan_tensor_free(ctx, dy);
    if (fir_down) gan_tensor_free(ctx, conv_in);
    release(o, t, 3);
}

static void case_mbstd(op_fixture *o) {
    gan_ctx *ctx = o->ctx;
    gan_tensor *x = in(o, "x"), *dy = in(o, "dy");
    gan_mbstd_args a = {(int)scalar(o, "group_size"), (int)scalar(o, "num_channels")};
    expect(o, gan_mbstd(ctx, x, a), "y");
    expect(o, gan_mbstd_backward(ctx, dy, x, a), "grad.x");
    gan_tensor_free(ctx, x), gan_tensor_free(ctx, dy);
}

static void case_norm2(op_fixture *o) {
    gan_ctx *ctx = o->ctx;
    gan_tensor *x = in(o, "x"), *dy = in(o, "dy");
    expect(o, gan_normalize_2nd_moment(ctx, x), "y");
    expect(o, gan_normalize_2nd_moment_backward(ctx, dy, x), "grad.x");
    gan_tensor_free(ctx, x), gan_tensor_free(ctx, dy);
}

static void test_ops(gan_ctx *ctx) {
    gan_error err = {{0}};
    op_fixture o = {ctx, NULL, NULL, 0};
    CHECK_OK(gan_st_open(OPS, &o.file, &err), &err);
    if (!o.file) return;
    const struct {
        const char *name;
        void (*run)(op_fixture *o);
    } cases[] = {
        {"fc_lrelu", NULL}, {"fc_linear", NULL}, {"bias_act_lrelu", NULL}, {"bias_act_lrelu_sqrt2", NULL},
        {"bias_act_linear", NULL}, {"modconv", NULL}, {"modconv_up", NULL}, {"torgb", NULL},
        {"upsample2d", NULL}, {"downsample2d", NULL}, {"upfirdn2d_generic", NULL}, {"conv_down", NULL},
        {"conv_skip", NULL}, {"conv3x3", NULL}, {"mbstd", case_mbstd}, {"mbstd_g2c2", case_mbstd},
        {"norm2", case_norm2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        o.name = cases[i].name;
        o.worst = 0;
        const char *n = o.name;
        if (cases[i].run) cases[i].run(&o);
        else if (strcmp(n, "fc_lrelu") == 0) case_fc(&o, GAN_ACT_LRELU);
        else if (strcmp(n, "fc_linear") == 0) case_fc(&o, GAN_ACT_LINEAR);
        else if (strcmp(n, "bias_act_linear") == 0) case_bias_act(&o, GAN_ACT_LINEAR);
        else if (strncmp(n, "bias_act", 8) == 0) case_bias_act(&o, GAN_ACT_LRELU);
        else if (strcmp(n, "modconv") == 0) case_modconv(&o, 1, 0);
        else if (strcmp(n, "modconv_up") == 0) case_modconv(&o, 2, 0);
        else if (strcmp(n, "torgb") == 0) case_modconv(&o, 1, 1);
        else if (strcmp(n, "upsample2d") == 0) case_fir(&o, (gan_upfirdn2d_args){2, 2, 1, 1, 2, 1, 2, 1, 4.0f, 0});
        else if (strcmp(n, "downsample2d") == 0) case_fir(&o, (gan_upfirdn2d_args){1, 1, 2, 2, 1, 1, 1, 1, 1.0f, 0});
        else if (strcmp(n, "upfirdn2d_generic") == 0) {
            float pad[4] = {0};
            gan_tensor *p = in(&o, "pad");
            if (p) gan_tensor_download(ctx, p, pad);
            gan_tensor_free(ctx, p);
            int up = (int)scalar(&o, "up"), down = (int)scalar(&o, "down");
            case_fir(&o, (gan_upfirdn2d_args){up, up, down, down, (int)pad[0], (int)pad[1], (int)pad[2], (int)pad[3],
                                              scalar(&o, "gain"), 0});
        } else if (strcmp(n, "conv3x3") == 0) case_conv(&o, 0);
        else case_conv(&o, 1);
        printf("%-22s worst error %.2e\n", n, o.worst);
    }
    gan_st_close(o.file);
}

static void test_discriminator(gan_ctx *ctx) {
    gan_error err = {{0}};
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(DISC, &f, &err), &err);
    if (!f) return;
    sg2_discriminator *d = sg2d_load(ctx, f, "config", "D.", &err);
    CHECKF(d != NULL, "%s", err.msg);
    gan_tensor *img = fixture_tensor(ctx, f, "img"), *dlogits = fixture_tensor(ctx, f, "dlogits");
    gan_tensor *want = fixture_tensor(ctx, f, "logits");
    if (d && img && dlogits && want) {
        sg2d_tape tape;
        gan_tensor *logits = sg2d_forward(ctx, d, img, &tape);
        printf("D logits: error %.2e\n", fixture_compare(ctx, logits, want, "logits", TOLERANCE));
        gan_tensor **grads = gan_params_grads_new(ctx, &d->params);
        gan_tensor *dimg = NULL;
        CHECKF(sg2d_backward(ctx, d, &tape, dlogits, grads, &dimg) == 0, "backward: %s", ctx->error.msg);
        gan_tensor *want_dimg = fixture_tensor(ctx, f, "grad.img");
        printf("D image gradient: error %.2e\n", fixture_compare(ctx, dimg, want_dimg, "grad.img", TOLERANCE));
        double worst = fixture_compare_grads(ctx, f, &d->params, grads, "grad.D.", NULL, TOLERANCE, 0);
        printf("D parameter gradients: worst error %.2e\n", worst);
        sg2d_tape_free(ctx, &tape);
        gan_params_grads_free(ctx, &d->params, grads);
        gan_tensor_free(ctx, logits), gan_tensor_free(ctx, dimg), gan_tensor_free(ctx, want_dimg);
    }
    gan_tensor_free(ctx, img), gan_tensor_free(ctx, dlogits), gan_tensor_free(ctx, want);
    sg2d_free(ctx, d);
    gan_st_close(f);
}

int main(void) {
    gan_ctx *ctx = test_context();
    if (!ctx) return 1;
    test_ops(ctx);
    test_discriminator(ctx);
    return test_finish(ctx);
}
