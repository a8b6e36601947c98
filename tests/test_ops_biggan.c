/* BigGAN's ops on the CPU backend: each forward pass and input gradient
 * against torch in fp64 (tests/fixtures/biggan_ops.safetensors, written by
 * tools/reference/make_biggan_op_fixtures.py), the gradients that are not
 * plainly linear (batch norm in both gain shapes, softmax, max pooling) also
 * against central differences of dne's own forward pass, torch's rules for
 * ties and NaN in max pooling, empty tensors, and the errors each op
 * reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/io/safetensors.h"
#include "gan/ops.h"
#include "tests/fixture_util.h"
#include "tests/test.h"

/* Of the largest magnitude of each expected tensor (fixture_compare): an
 * absolute error for values up to 1, a relative one above. */
#define TOL 1e-5
/* Central differences of fp32 forward passes: |fd - grad| / (|fd| + 1). */
#define FD_TOL 1e-3

static double worst_fixture_error = 0;

static gan_tensor *get(gan_ctx *ctx, gan_st_file *f, const char *name, const char *role) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", name, role);
    return fixture_tensor(ctx, f, key);
}

/* Compares got (freed here) with the fixture's "<name>.<role>" and prints the error. */
static void expect(gan_ctx *ctx, gan_st_file *f, gan_tensor *got, const char *name, const char *role) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", name, role);
    gan_tensor *want = fixture_tensor(ctx, f, key);
    CHECKF(got != NULL, "%s: %s", key, ctx->error.msg);
    double err = fixture_compare(ctx, got, want, key, TOL);
    printf("  %-28s error %.2e\n", key, err);
    worst_fixture_error = fmax(worst_fixture_error, err);
    gan_tensor_free(ctx, got);
    gan_tensor_free(ctx, want);
}

static void test_matmul(gan_ctx *ctx, gan_st_file *f) {
    const char *names[] = {"matmul00", "matmul01", "matmul10", "matmul11", "bmm00", "bmm01", "bmm10", "bmm11"};
    for (int i = 0; i < 8; i++) {
        int ta = names[i][strlen(names[i]) - 2] == '1', tb = names[i][strlen(names[i]) - 1] == '1';
        gan_tensor *a = get(ctx, f, names[i], "x0"), *b = get(ctx, f, names[i], "x1"), *dy = get(ctx, f, names[i], "dy");
        expect(ctx, f, gan_matmul(ctx, a, b, ta, tb), names[i], "y");
        /* The gradients are products too: da = dy op(b)^T (transposed back for ta), db likewise. */
        expect(ctx, f, ta ? gan_matmul(ctx, b, dy, tb, 1) : gan_matmul(ctx, dy, b, 0, !tb), names[i], "dx0");
        expect(ctx, f, tb ? gan_matmul(ctx, dy, a, 1, ta) : gan_matmul(ctx, a, dy, !ta, 0), names[i], "dx1");
        gan_tensor_free(ctx, a), gan_tensor_free(ctx, b), gan_tensor_free(ctx, dy);
    }
}

typedef gan_tensor *(*unary_fn)(gan_ctx *, const gan_tensor *);

/* sum(dy * y) in double; the products of two floats are exact there. */
static double dot_with(gan_ctx *ctx, const gan_tensor *y, const gan_tensor *dy) {
    CHECKF(y != NULL, "forward pass failed: %s", ctx->error.msg);
    if (!y) return NAN;
    float *a = fixture_host(ctx, y), *b = fixture_host(ctx, dy);
    double s = 0;
    for (int64_t i = 0; i < y->numel; i++) s += (double)a[i] * b[i];
    free(a), free(b);
    return s;
}

/* A scalar loss L(inputs) = sum(dy * f(inputs)) whose gradients are probed. */
typedef struct probe {
    gan_tensor *inputs[3];
    int count;
    const gan_tensor *dy;
    unary_fn forward;  /* one input */
    float gain_offset; /* batch norm: inputs x, gain, bias */
} probe;

/* Batch norm in training mode: y = BN(x) (offset + gain) + bias with the batch's statistics. */
static gan_tensor *bn_train(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *gain, const gan_tensor *bias,
                            float offset) {
    gan_tensor *mean = NULL, *var = NULL;
    if (gan_batch_stats(ctx, x, &mean, &var) != 0) return NULL;
    gan_tensor *y = gan_batch_norm(ctx, x, mean, var, gain, bias, (gan_batch_norm_args){1e-5f, offset});
    gan_tensor_free(ctx, mean), gan_tensor_free(ctx, var);
    return y;
}

static double probe_loss(gan_ctx *ctx, const probe *p) {
    gan_tensor *y = p->forward ? p->forward(ctx, p->inputs[0])
                               : bn_train(ctx, p->inputs[0], p->inputs[1], p->inputs[2], p->gain_offset);
    double s = dot_with(ctx, y, p->dy);
    gan_tensor_free(ctx, y);
    return s;
}

/* Every entry of each gradient grads[k] (of inputs[k]) against central
 * differences. The step is relative to the entry's magnitude, and the
 * quotient divides by the step actually taken in fp32 ((v + h) - (v - h)
 * after rounding), so the rounding of the step itself adds no error. */
static void check_differences(gan_ctx *ctx, probe *p, gan_tensor **grads, float rel_step, const char *name) {
    double worst = 0;
    for (int k = 0; k < p->count; k++) {
        if (!grads[k]) continue;
        float *g = fixture_host(ctx, grads[k]);
        gan_tensor *in = p->inputs[k];
        for (int64_t i = 0; i < in->numel; i++) {
            float v = in->data[i]; /* the CPU backend's tensors are host memory */
            float h = rel_step * fmaxf(1.0f, fabsf(v));
            float up = v + h, down = v - h;
            in->data[i] = up;
            double loss_up = probe_loss(ctx, p);
            in->data[i] = down;
            double loss_down = probe_loss(ctx, p);
            in->data[i] = v;
            double fd = (loss_up - loss_down) / ((double)up - (double)down);
            worst = fmax(worst, fabs(fd - g[i]) / (fabs(fd) + 1.0));
        }
        free(g);
    }
    CHECKF(worst < FD_TOL, "%s: gradients differ from central differences by %.2e", name, worst);
    printf("%s: central differences agree to %.2e\n", name, worst);
}

/* An op of one input whose backward takes (dy, y), (dy, x) or (dy). */
static void test_unary(gan_ctx *ctx, gan_st_file *f, const char *name, unary_fn forward) {
    gan_tensor *x = get(ctx, f, name, "x0"), *dy = get(ctx, f, name, "dy");
    gan_tensor *y = forward(ctx, x), *dx = NULL;
    if (!strcmp(name, "softmax")) dx = gan_softmax_backward(ctx, dy, y);
    else if (!strcmp(name, "tanh")) dx = gan_tanh_backward(ctx, dy, y);
    else if (!strcmp(name, "max_pool2d")) dx = gan_max_pool2d_backward(ctx, dy, x);
    else if (!strcmp(name, "avg_pool2d")) dx = gan_avg_pool2d_backward(ctx, dy);
    else if (!strcmp(name, "upsample_nearest2d")) dx = gan_upsample_nearest2d_backward(ctx, dy);
    /* Softmax and max pooling are not linear: their gradients against differences too.
     * Max pooling's forward pass copies inputs, so a small step is exact (no
     * window's two largest values are that close in the fixture). */
    if (dx && (!strcmp(name, "softmax") || !strcmp(name, "max_pool2d"))) {
        probe p = {{x}, 1, dy, forward, 0};
        check_differences(ctx, &p, &dx, !strcmp(name, "softmax") ? 1e-2f : 1e-4f, name);
    }
    expect(ctx, f, y, name, "y");
    if (strcmp(name, "normalize_rows") != 0) expect(ctx, f, dx, name, "dx0"); /* no gradient: the power iteration */
    gan_tensor_free(ctx, x), gan_tensor_free(ctx, dy);
}

static gan_tensor *normalize_rows(gan_ctx *ctx, const gan_tensor *x) { return gan_normalize_rows(ctx, x, 1e-6f); }

/* BigGAN's class-conditional BN (gain [N, C], offset 1) or plain BN (gain [C], offset 0). */
static void test_batch_norm(gan_ctx *ctx, gan_st_file *f, const char *name, float offset) {
    gan_tensor *in[3] = {get(ctx, f, name, "x0"), get(ctx, f, name, "x1"), get(ctx, f, name, "x2")};
    gan_tensor *dy = get(ctx, f, name, "dy"), *mean = NULL, *var = NULL;
    CHECK(gan_batch_stats(ctx, in[0], &mean, &var) == 0);
    gan_batch_norm_args args = {1e-5f, offset};
    expect(ctx, f, gan_batch_norm(ctx, in[0], mean, var, in[1], in[2], args), name, "y");
    gan_tensor *grads[3] = {NULL, NULL, NULL};
    CHECK(gan_batch_norm_backward(ctx, dy, in[0], mean, var, in[1], args, &grads[0], &grads[1], &grads[2]) == 0);
    CHECK(grads[1] && gan_same_shape(grads[1], in[1]) && grads[2] && gan_same_shape(grads[2], in[1]));
    if (grads[0] && grads[1] && grads[2]) {
        probe p = {{in[0], in[1], in[2]}, 3, dy, NULL, offset};
        check_differences(ctx, &p, grads, 1e-2f, name);
    }
    for (int k = 0; k < 3; k++) {
        char role[8];
        snprintf(role, sizeof role, "dx%d", k);
        expect(ctx, f, grads[k], name, role);
        gan_tensor_free(ctx, in[k]);
    }
    gan_tensor_free(ctx, dy), gan_tensor_free(ctx, mean), gan_tensor_free(ctx, var);
}

static int bitwise_equal(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b) {
    if (!a || !b || !gan_same_shape(a, b)) return 0;
    float *x = fixture_host(ctx, a), *y = fixture_host(ctx, b);
    int same = memcmp(x, y, (size_t)a->numel * sizeof *x) == 0;
    free(x), free(y);
    return same;
}

/* A NULL gain is a [C] gain of zeros: the same outputs and gradients, dgain
 * and dbias per channel ([C]), and only the gradients asked for. */
static void test_batch_norm_without_gain(gan_ctx *ctx, gan_st_file *f) {
    gan_tensor *x = get(ctx, f, "batch_norm_cond", "x0"), *dy = get(ctx, f, "batch_norm_cond", "dy");
    gan_tensor *bias = get(ctx, f, "batch_norm_cond", "x2"), *zeros = gan_tensor_1d(ctx, x->shape[1]);
    memset(zeros->data, 0, (size_t)zeros->numel * sizeof *zeros->data);
    gan_tensor *mean = NULL, *var = NULL;
    CHECK(gan_batch_stats(ctx, x, &mean, &var) == 0);
    gan_batch_norm_args args = {1e-5f, 1.5f};
    gan_tensor *y_null = gan_batch_norm(ctx, x, mean, var, NULL, bias, args);
    gan_tensor *y_zero = gan_batch_norm(ctx, x, mean, var, zeros, bias, args);
    CHECK(bitwise_equal(ctx, y_null, y_zero));
    gan_tensor *g_null[3] = {NULL, NULL, NULL}, *g_zero[3] = {NULL, NULL, NULL};
    CHECK(gan_batch_norm_backward(ctx, dy, x, mean, var, NULL, args, &g_null[0], &g_null[1], &g_null[2]) == 0);
    CHECK(gan_batch_norm_backward(ctx, dy, x, mean, var, zeros, args, &g_zero[0], &g_zero[1], &g_zero[2]) == 0);
    for (int k = 0; k < 3; k++) CHECKF(bitwise_equal(ctx, g_null[k], g_zero[k]), "NULL gain, gradient %d", k);
    CHECK(g_null[1] && g_null[1]->ndim == 1 && g_null[1]->shape[0] == x->shape[1]);
    gan_tensor *only_dbias = NULL;
    CHECK(gan_batch_norm_backward(ctx, dy, x, mean, var, NULL, args, NULL, NULL, &only_dbias) == 0);
    CHECK(bitwise_equal(ctx, only_dbias, g_zero[2]));
    for (int k = 0; k < 3; k++) gan_tensor_free(ctx, g_null[k]), gan_tensor_free(ctx, g_zero[k]);
    gan_tensor_free(ctx, only_dbias), gan_tensor_free(ctx, y_null), gan_tensor_free(ctx, y_zero);
    gan_tensor_free(ctx, x), gan_tensor_free(ctx, dy), gan_tensor_free(ctx, bias), gan_tensor_free(ctx, zeros);
    gan_tensor_free(ctx, mean), gan_tensor_free(ctx, var);
}

static void test_batch_stats_and_eval(gan_ctx *ctx, gan_st_file *f) {
    gan_tensor *x = get(ctx, f, "batch_norm_cond", "x0"), *mean = NULL, *var = NULL;
    CHECK(gan_batch_stats(ctx, x, &mean, &var) == 0);
    expect(ctx, f, mean, "batch_stats", "mean");
    expect(ctx, f, var, "batch_stats", "var");
    gan_tensor *m = get(ctx, f, "batch_norm_eval", "mean"), *v = get(ctx, f, "batch_norm_eval", "var");
    expect(ctx, f, gan_batch_norm(ctx, x, m, v, NULL, NULL, (gan_batch_norm_args){1e-5f, 1.0f}), "batch_norm_eval", "y");
    gan_tensor_free(ctx, x), gan_tensor_free(ctx, m), gan_tensor_free(ctx, v);
}

/* One 2x2 window through max_pool2d and its backward with dy = 5. */
static void max_pool_window(gan_ctx *ctx, const float x[4], float *y, float dx[4]) {
    float dy = 5;
    gan_tensor *xt = gan_tensor_from_host(ctx, 4, (int64_t[]){1, 1, 2, 2}, x);
    gan_tensor *dyt = gan_tensor_from_host(ctx, 4, (int64_t[]){1, 1, 1, 1}, &dy);
    gan_tensor *yt = gan_max_pool2d(ctx, xt), *dxt = gan_max_pool2d_backward(ctx, dyt, xt);
    CHECK(yt && dxt);
    *y = yt ? yt->data[0] : 0;
    for (int k = 0; k < 4; k++) dx[k] = dxt ? dxt->data[k] : -1;
    gan_tensor_free(ctx, xt), gan_tensor_free(ctx, dyt), gan_tensor_free(ctx, yt), gan_tensor_free(ctx, dxt);
}

/* torch's rule (checked with torch 1.13): ties go to the first maximum in
 * row-major order; a NaN is the output and takes the gradient, the last NaN
 * when there are several. */
static void test_max_pool_ties_and_nan(gan_ctx *ctx) {
    float y, dx[4];
    max_pool_window(ctx, (float[]){1, 3, 3, 2}, &y, dx);
    CHECK(y == 3 && dx[0] == 0 && dx[1] == 5 && dx[2] == 0 && dx[3] == 0);
    max_pool_window(ctx, (float[]){1, NAN, 3, 2}, &y, dx);
    CHECK(isnan(y) && dx[0] == 0 && dx[1] == 5 && dx[2] == 0 && dx[3] == 0);
    max_pool_window(ctx, (float[]){NAN, 5, NAN, 2}, &y, dx);
    CHECK(isnan(y) && dx[0] == 0 && dx[1] == 0 && dx[2] == 5 && dx[3] == 0);
    max_pool_window(ctx, (float[]){-INFINITY, -INFINITY, -INFINITY, -INFINITY}, &y, dx);
    CHECK(y == -INFINITY && dx[0] == 5 && dx[1] == 0 && dx[2] == 0 && dx[3] == 0);
}

/* Empty tensors: no crash, and a product over an empty inner dimension is 0. */
static void test_empty(gan_ctx *ctx) {
    gan_tensor *a = gan_tensor_2d(ctx, 3, 0), *b = gan_tensor_2d(ctx, 0, 4), *rows = gan_tensor_2d(ctx, 0, 4);
    gan_tensor *y = gan_matmul(ctx, a, b, 0, 0);
    CHECK(y && y->shape[0] == 3 && y->shape[1] == 4 && y->data[0] == 0 && y->data[11] == 0);
    gan_tensor *none = gan_matmul(ctx, rows, b, 1, 0); /* [0, 4]^T . [0, 4] = [4, 4] of zeros */
    CHECK(none && none->numel == 16 && none->data[5] == 0);
    gan_tensor *empty_rows = gan_matmul(ctx, rows, b, 0, 1); /* [0, 4] . [4, 0] = [0, 0] */
    CHECK(empty_rows && empty_rows->numel == 0);
    gan_tensor *x = gan_tensor_4d(ctx, 0, 3, 2, 2), *stats = gan_tensor_1d(ctx, 3);
    for (int c = 0; c < 3; c++) stats->data[c] = 1;
    gan_tensor *bn = gan_batch_norm(ctx, x, stats, stats, NULL, NULL, (gan_batch_norm_args){1e-5f, 1});
    CHECK(bn && bn->numel == 0);
    gan_tensor *dx = NULL, *dgain = NULL;
    CHECK(gan_batch_norm_backward(ctx, x, x, stats, stats, NULL, (gan_batch_norm_args){1e-5f, 1}, &dx, &dgain,
                                  NULL) == 0);
    CHECK(dx && dx->numel == 0 && dgain && dgain->numel == 3 && dgain->data[0] == 0);
    gan_tensor *sm = gan_softmax(ctx, rows);
    CHECK(sm && sm->numel == 0);
    CHECK(!gan_ctx_failed(ctx));
    gan_tensor *all[] = {a, b, rows, y, none, empty_rows, x, stats, bn, dx, dgain, sm};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gan_tensor_free(ctx, all[i]);
}

static void expect_error(gan_ctx *ctx, gan_tensor *result, const char *words) {
    gan_error err;
    CHECKF(result == NULL && strstr(ctx->error.msg, words), "expected an error with '%s', got '%s'", words,
           ctx->error.msg);
    gan_tensor_free(ctx, result);
    gan_ctx_take_error(ctx, &err);
}

/* The same for the ops that return a status and several tensors. */
static void expect_status_error(gan_ctx *ctx, int rc, gan_tensor *outputs[3], const char *words) {
    gan_error err;
    CHECKF(rc == -1 && strstr(ctx->error.msg, words), "expected an error with '%s', got '%s'", words, ctx->error.msg);
    for (int k = 0; k < 3; k++) CHECKF(outputs[k] == NULL, "'%s': output %d allocated", words, k);
    gan_ctx_take_error(ctx, &err);
}

static void test_errors(gan_ctx *ctx) {
    gan_tensor *a = gan_tensor_2d(ctx, 3, 5), *b = gan_tensor_2d(ctx, 4, 5), *odd = gan_tensor_4d(ctx, 1, 2, 3, 3);
    gan_tensor *a3 = gan_tensor_3d(ctx, 2, 3, 5), *b3 = gan_tensor_3d(ctx, 3, 5, 4);
    gan_tensor *img = gan_tensor_4d(ctx, 2, 3, 4, 4);
    gan_tensor *half = gan_tensor_4d(ctx, 2, 3, 3, 2), *c3 = gan_tensor_1d(ctx, 3), *c4 = gan_tensor_1d(ctx, 4);
    gan_tensor *empty_rows = gan_tensor_2d(ctx, 3, 0);
    expect_error(ctx, gan_matmul(ctx, a, b, 0, 0), "matmul: inner sizes differ: [3, 5] times [4, 5]");
    expect_error(ctx, gan_matmul(ctx, a3, b3, 0, 0), "matmul: expected two 2-D or two 3-D tensors with the same batch");
    expect_error(ctx, gan_matmul(ctx, a, b3, 0, 0), "matmul: expected two 2-D or two 3-D");
    expect_error(ctx, gan_matmul(ctx, c3, c3, 0, 0), "matmul: expected two 2-D or two 3-D");
    expect_error(ctx, gan_max_pool2d(ctx, odd), "max_pool2d: expected [N, C, H, W] with H, W even, got [1, 2, 3, 3]");
    expect_error(ctx, gan_max_pool2d_backward(ctx, half, img), "max_pool2d_backward: gradient [2, 3, 3, 2]");
    expect_error(ctx, gan_avg_pool2d(ctx, odd), "avg_pool2d");
    expect_error(ctx, gan_avg_pool2d_backward(ctx, a), "avg_pool2d_backward");
    expect_error(ctx, gan_upsample_nearest2d(ctx, a), "upsample_nearest2d");
    expect_error(ctx, gan_upsample_nearest2d_backward(ctx, odd), "upsample_nearest2d_backward");
    expect_error(ctx, gan_softmax(ctx, empty_rows), "softmax: empty last dimension");
    expect_error(ctx, gan_softmax_backward(ctx, a, b),
                 "softmax_backward: gradient [3, 5] does not match output [4, 5]");
    expect_error(ctx, gan_softmax_backward(ctx, empty_rows, empty_rows), "softmax_backward: empty last dimension");
    expect_error(ctx, gan_tanh_backward(ctx, a, b), "tanh_backward");
    expect_error(ctx, gan_normalize_rows(ctx, a3, 1e-6f), "normalize_rows: expected [R, D]");
    expect_error(ctx, gan_batch_norm(ctx, odd, a, a, NULL, NULL, (gan_batch_norm_args){1e-5f, 1}), "batch_norm");
    expect_error(ctx, gan_batch_norm(ctx, img, c3, c3, c4, NULL, (gan_batch_norm_args){1e-5f, 1}),
                 "batch_norm: gain or bias is neither [C] nor [N, C]");
    expect_error(ctx, gan_batch_norm(ctx, img, c3, c3, NULL, a3, (gan_batch_norm_args){1e-5f, 1}),
                 "batch_norm: gain or bias");
    expect_error(ctx, gan_reshape(ctx, a, 2, (int64_t[]){4, 4}), "reshape: [3, 5] has 15 elements, [4, 4] does not");
    expect_error(ctx, gan_tanh(ctx, NULL), "missing input");

    gan_tensor *out[3] = {NULL, NULL, NULL};
    expect_status_error(ctx, gan_batch_stats(ctx, c3, &out[0], &out[1]), out, "batch_stats: expected [N, C, ...]");
    expect_status_error(ctx, gan_batch_stats(ctx, NULL, &out[0], &out[1]), out, "batch_stats: missing input");
    gan_batch_norm_args args = {1e-5f, 1};
    expect_status_error(ctx, gan_batch_norm_backward(ctx, half, img, c3, c3, NULL, args, &out[0], &out[1], &out[2]),
                        out, "batch_norm_backward: gradient [2, 3, 3, 2], input [2, 3, 4, 4]");
    expect_status_error(ctx, gan_batch_norm_backward(ctx, img, img, c4, c3, NULL, args, &out[0], &out[1], &out[2]),
                        out, "batch_norm_backward");
    expect_status_error(ctx, gan_batch_norm_backward(ctx, img, img, c3, c3, a3, args, &out[0], &out[1], &out[2]), out,
                        "batch_norm_backward");

    gan_tensor wrong = gan_tensor_view(a, 2, (int64_t[]){2, 2});
    expect_error(ctx, gan_tanh(ctx, &wrong), "a view of the wrong size");
    expect_status_error(ctx, gan_batch_stats(ctx, &wrong, &out[0], &out[1]), out,
                        "batch_stats: a view of the wrong size");
    CHECK(!gan_ctx_failed(ctx));

    /* reshape copies the values in order. */
    for (int i = 0; i < 15; i++) a->data[i] = (float)i;
    gan_tensor view = gan_tensor_view(a, 2, (int64_t[]){5, 3});
    gan_tensor *copy = gan_reshape(ctx, &view, 1, (int64_t[]){15});
    CHECK(copy && copy->ndim == 1 && copy->shape[0] == 15 && copy->data != a->data);
    CHECK(copy && memcmp(copy->data, a->data, 15 * sizeof(float)) == 0);
    gan_tensor *all[] = {a, b, odd, a3, b3, img, half, c3, c4, empty_rows, copy};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gan_tensor_free(ctx, all[i]);
}

int main(void) {
    gan_error err = {{0}};
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    gan_st_file *f = NULL;
    if (!ctx) TEST_SKIP("no context: %s", err.msg);
    if (gan_st_open("tests/fixtures/biggan_ops.safetensors", &f, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_matmul(ctx, f);
    test_unary(ctx, f, "softmax", gan_softmax);
    test_unary(ctx, f, "tanh", gan_tanh);
    test_unary(ctx, f, "max_pool2d", gan_max_pool2d);
    test_unary(ctx, f, "avg_pool2d", gan_avg_pool2d);
    test_unary(ctx, f, "upsample_nearest2d", gan_upsample_nearest2d);
    test_unary(ctx, f, "normalize_rows", normalize_rows);
    test_batch_norm(ctx, f, "batch_norm_cond", 1.0f);
    test_batch_norm(ctx, f, "batch_norm_plain", 0.0f);
    test_batch_norm_without_gain(ctx, f);
    test_batch_stats_and_eval(ctx, f);
    printf("fixtures: worst error %.2e (bound %.0e)\n", worst_fixture_error, TOL);
    test_max_pool_ties_and_nan(ctx);
    test_empty(ctx);
    test_errors(ctx);
    gan_st_close(f);
    gan_ctx_free(ctx);
    TEST_DONE();
}
