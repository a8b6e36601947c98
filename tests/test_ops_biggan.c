/* BigGAN's ops on the CPU backend: each forward pass and input gradient
 * against torch in fp64 (tests/fixtures/biggan_ops.safetensors, written by
 * tools/reference/make_biggan_fixtures.py), the gradients that are not
 * plainly linear also against central differences of dne's own forward
 * pass, and the shape errors each op reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/io/safetensors.h"
#include "gan/ops.h"
#include "tests/fixture_util.h"
#include "tests/test.h"

#define TOL 1e-5

static gan_tensor *get(gan_ctx *ctx, gan_st_file *f, const char *name, const char *role) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", name, role);
    return fixture_tensor(ctx, f, key);
}

static void expect(gan_ctx *ctx, gan_st_file *f, gan_tensor *got, const char *name, const char *role) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", name, role);
    gan_tensor *want = fixture_tensor(ctx, f, key);
    CHECKF(got != NULL, "%s: %s", key, ctx->error.msg);
    fixture_compare(ctx, got, want, key, TOL);
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

/* An op of one input whose backward takes (dy, y) or (dy, x) or (dy). */
static void test_unary(gan_ctx *ctx, gan_st_file *f, const char *name, unary_fn forward) {
    gan_tensor *x = get(ctx, f, name, "x0"), *dy = get(ctx, f, name, "dy");
    gan_tensor *y = forward(ctx, x), *dx = NULL;
    if (!strcmp(name, "softmax")) dx = gan_softmax_backward(ctx, dy, y);
    else if (!strcmp(name, "tanh")) dx = gan_tanh_backward(ctx, dy, y);
    else if (!strcmp(name, "max_pool2d")) dx = gan_max_pool2d_backward(ctx, dy, x);
    else if (!strcmp(name, "avg_pool2d")) dx = gan_avg_pool2d_backward(ctx, dy);
    else if (!strcmp(name, "upsample_nearest2d")) dx = gan_upsample_nearest2d_backward(ctx, dy);
    expect(ctx, f, y, name, "y");
    if (strcmp(name, "normalize_rows") != 0) expect(ctx, f, dx, name, "dx0"); /* no gradient: the power iteration */
    gan_tensor_free(ctx, x), gan_tensor_free(ctx, dy);
}

static gan_tensor *normalize_rows(gan_ctx *ctx, const gan_tensor *x) { return gan_normalize_rows(ctx, x, 1e-6f); }

/* Batch norm in training mode: y = BN(x) (offset + gain) + bias with the batch's statistics. */
static gan_tensor *bn_train(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *gain, const gan_tensor *bias,
                            float offset) {
    gan_tensor *mean = NULL, *var = NULL;
    if (gan_batch_stats(ctx, x, &mean, &var) != 0) return NULL;
    gan_tensor *y = gan_batch_norm(ctx, x, mean, var, gain, bias, (gan_batch_norm_args){1e-5f, offset});
    gan_tensor_free(ctx, mean), gan_tensor_free(ctx, var);
    return y;
}

/* sum(dy * bn_train(x + h e_i)) by central differences, in double from fp32 passes. */
static double bn_loss(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *gain, const gan_tensor *bias, float offset,
                      const gan_tensor *dy) {
    gan_tensor *y = bn_train(ctx, x, gain, bias, offset);
    float *a = fixture_host(ctx, y), *b = fixture_host(ctx, dy);
    double s = 0;
    for (int64_t i = 0; i < y->numel; i++) s += (double)a[i] * b[i];
    free(a), free(b);
    gan_tensor_free(ctx, y);
    return s;
}

/* A few entries of each gradient against central differences. */
static void check_bn_differences(gan_ctx *ctx, gan_tensor *inputs[3], gan_tensor *grads[3], float offset,
                                 const gan_tensor *dy, const char *name) {
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        float *g = fixture_host(ctx, grads[k]);
        for (int64_t i = 0; i < inputs[k]->numel; i += inputs[k]->numel / 4 + 1) {
            const float h = 1e-2f;
            float v;
            v = inputs[k]->data[i]; /* the CPU backend's tensors are host memory */
            inputs[k]->data[i] = v + h;
            double up = bn_loss(ctx, inputs[0], inputs[1], inputs[2], offset, dy);
            inputs[k]->data[i] = v - h;
            double down = bn_loss(ctx, inputs[0], inputs[1], inputs[2], offset, dy);
            inputs[k]->data[i] = v;
            double fd = (up - down) / (2.0 * h), e = fabs(fd - g[i]) / (fabs(fd) + 1.0);
            worst = fmax(worst, e);
        }
        free(g);
    }
    CHECKF(worst < 2e-3, "%s: gradients differ from central differences by %.2e", name, worst);
    printf("%s: central differences agree to %.2e\n", name, worst);
}

static void test_batch_norm(gan_ctx *ctx, gan_st_file *f, const char *name, float offset) {
    gan_tensor *in[3] = {get(ctx, f, name, "x0"), get(ctx, f, name, "x1"), get(ctx, f, name, "x2")};
    gan_tensor *dy = get(ctx, f, name, "dy"), *mean = NULL, *var = NULL;
    CHECK(gan_batch_stats(ctx, in[0], &mean, &var) == 0);
    gan_batch_norm_args args = {1e-5f, offset};
    expect(ctx, f, gan_batch_norm(ctx, in[0], mean, var, in[1], in[2], args), name, "y");
    gan_tensor *grads[3] = {NULL, NULL, NULL};
    CHECK(gan_batch_norm_backward(ctx, dy, in[0], mean, var, in[1], args, &grads[0], &grads[1], &grads[2]) == 0);
    if (grads[0] && grads[1] && grads[2]) check_bn_differences(ctx, in, grads, offset, dy, name);
    for (int k = 0; k < 3; k++) {
        char role[8];
        snprintf(role, sizeof role, "dx%d", k);
        expect(ctx, f, grads[k], name, role);
        gan_tensor_free(ctx, in[k]);
    }
    gan_tensor_free(ctx, dy), gan_tensor_free(ctx, mean), gan_tensor_free(ctx, var);
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

/* Max pooling's gradient goes to the first maximum of a tied window. */
static void test_max_pool_ties(gan_ctx *ctx) {
    float x[4] = {1, 3, 3, 2}, dy = 5;
    gan_tensor *xt = gan_tensor_from_host(ctx, 4, (int64_t[]){1, 1, 2, 2}, x);
    gan_tensor *dyt = gan_tensor_from_host(ctx, 4, (int64_t[]){1, 1, 1, 1}, &dy);
    gan_tensor *dx = gan_max_pool2d_backward(ctx, dyt, xt);
    CHECK(dx && dx->data[0] == 0 && dx->data[1] == 5 && dx->data[2] == 0 && dx->data[3] == 0);
    gan_tensor_free(ctx, xt), gan_tensor_free(ctx, dyt), gan_tensor_free(ctx, dx);
}

static void expect_error(gan_ctx *ctx, gan_tensor *result, const char *words) {
    gan_error err;
    CHECKF(result == NULL && strstr(ctx->error.msg, words), "expected an error with '%s', got '%s'", words,
           ctx->error.msg);
    gan_tensor_free(ctx, result);
    gan_ctx_take_error(ctx, &err);
}

static void test_errors(gan_ctx *ctx) {
    gan_tensor *a = gan_tensor_2d(ctx, 3, 5), *b = gan_tensor_2d(ctx, 4, 5), *odd = gan_tensor_4d(ctx, 1, 2, 3, 3);
    expect_error(ctx, gan_matmul(ctx, a, b, 0, 0), "matmul: inner sizes differ");
    expect_error(ctx, gan_max_pool2d(ctx, odd), "max_pool2d");
    expect_error(ctx, gan_avg_pool2d(ctx, odd), "avg_pool2d");
    expect_error(ctx, gan_upsample_nearest2d(ctx, a), "upsample_nearest2d");
    expect_error(ctx, gan_softmax_backward(ctx, a, b), "softmax_backward");
    expect_error(ctx, gan_batch_norm(ctx, odd, a, a, NULL, NULL, (gan_batch_norm_args){1e-5f, 1}), "batch_norm");
    expect_error(ctx, gan_reshape(ctx, a, 2, (int64_t[]){4, 4}), "reshape");
    gan_tensor wrong = gan_tensor_view(a, 2, (int64_t[]){2, 2});
    expect_error(ctx, gan_tanh(ctx, &wrong), "a view of the wrong size");
    gan_tensor view = gan_tensor_view(a, 2, (int64_t[]){5, 3});
    gan_tensor *copy = gan_reshape(ctx, &view, 1, (int64_t[]){15});
    CHECK(copy && copy->ndim == 1 && copy->shape[0] == 15);
    gan_tensor_free(ctx, a), gan_tensor_free(ctx, b), gan_tensor_free(ctx, odd), gan_tensor_free(ctx, copy);
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
    test_batch_stats_and_eval(ctx, f);
    test_max_pool_ties(ctx);
    test_errors(ctx);
    gan_st_close(f);
    gan_ctx_free(ctx);
    TEST_DONE();
}
