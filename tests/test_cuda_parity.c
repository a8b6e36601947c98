/* The CUDA backend against the CPU backend: every op forward and backward on
 * random inputs (relative error 1e-4 of the largest magnitude), a generator
 * image (max abs 1e-3) and one training step with both regularizers due
 * (updated weights, relative 1e-3). Skips (status 77) where there is no GPU
 * or the build has no CUDA; tests/gpu/run.sh runs it on a GPU machine. */
#include <stdint.h>
#include <string.h>

#include "gan/context.h"
#include "gan/models/biggan.h"
#include "gan/models/stylegan2.h"
#include "gan/models/stylegan2_discriminator.h"
#include "gan/ops.h"
#include "gan/params.h"
#include "gan/rng.h"
#include "tests/test.h"
#include "train/biggan_trainer.h"
#include "train/draws.h"
#include "train/run.h"
#include "train/trainer.h"

#define OP_TOLERANCE 1e-4
#define IMAGE_TOLERANCE 1e-3
#define STEP_TOLERANCE 1e-3

typedef struct pair {
    gan_ctx *cpu, *gpu;
    double worst;
} pair;

/* One tensor with the same values on both devices. */
typedef struct twin {
    gan_tensor *c, *g;
} twin;

static twin twin_host(pair *p, int ndim, const int64_t *shape, const float *host) {
    return (twin){gan_tensor_from_host(p->cpu, ndim, shape, host), gan_tensor_from_host(p->gpu, ndim, shape, host)};
}

static twin twin_randn(pair *p, int ndim, const int64_t *shape, uint64_t seed, float scale) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *host = malloc((size_t)n * sizeof *host + 1);
    gan_philox_normal(seed, 0, host, (size_t)n);
    for (int64_t i = 0; i < n; i++) host[i] *= scale;
    twin t = twin_host(p, ndim, shape, host);
    free(host);
    return t;
}

static void twin_free(pair *p, twin *t) {
    gan_tensor_free(p->cpu, t->c);
    gan_tensor_free(p->gpu, t->g);
}

static float *to_host(gan_ctx *ctx, const gan_tensor *t) {
    float *host = malloc((size_t)t->numel * sizeof *host + 1);
    if (gan_tensor_download(ctx, t, host) != 0) memset(host, 0xff, (size_t)t->numel * sizeof *host); /* NaN */
    return host;
}

/* max |cpu - gpu| relative to max |cpu|, checked against a bound. */
static double compare(pair *p, const char *what, const gan_tensor *c, const gan_tensor *g, double bound) {
    CHECKF(c && g, "%s: %s", what, c ? p->gpu->error.msg : p->cpu->error.msg);
    if (!c || !g) return INFINITY;
    CHECKF(gan_same_shape(c, g), "%s: shapes differ", what);
    float *a = to_host(p->cpu, c), *b = to_host(p->gpu, g);
    double scale = 0;
    for (int64_t i = 0; i < c->numel; i++) scale = fmax(scale, fabs(a[i]));
    double err = test_max_abs_diff(a, b, (size_t)c->numel) / (scale > 0 ? scale : 1.0);
    CHECKF(err <= bound, "%s: CUDA differs from CPU by %.3g of max |y| %.3g (bound %.0e)", what, err, scale, bound);
    free(a), free(b);
    if (!(err <= p->worst)) p->worst = err;
    return err;
}

/* Runs `call` once per device, CTX and T(twin) naming that device's context
 * and tensor, and compares the two results. */
#define CTX (on_gpu_ ? p->gpu : p->cpu)
#define T(tw) (on_gpu_ ? (tw).g : (tw).c)
#define SAME(what, call)                                     \
    do {                                                     \
        gan_tensor *out_[2];                                 \
        for (int on_gpu_ = 0; on_gpu_ < 2; on_gpu_++) out_[on_gpu_] = (call); \
        compare(p, (what), out_[0], out_[1], OP_TOLERANCE);  \
        gan_tensor_free(p->cpu, out_[0]);                    \
        gan_tensor_free(p->gpu, out_[1]);                    \
    } while (0)

static void check_dense(pair *p) {
    twin x = twin_randn(p, 2, (int64_t[]){5, 33}, 1, 1), w = twin_randn(p, 2, (int64_t[]){17, 33}, 2, 1);
    twin b = twin_randn(p, 1, (int64_t[]){17}, 3, 1), dy = twin_randn(p, 2, (int64_t[]){5, 17}, 4, 1);
    SAME("linear", gan_linear(CTX, T(x), T(w), T(b), 0.17f, 0.5f));
    SAME("linear (no bias)", gan_linear(CTX, T(x), T(w), NULL, 0.17f, 1));
    SAME("linear_backward_input", gan_linear_backward_input(CTX, T(dy), T(w), 0.17f));
    SAME("linear_backward_weight", gan_linear_backward_weight(CTX, T(dy), T(x), 0.17f));
    twin g = twin_randn(p, 2, (int64_t[]){5, 33}, 5, 1);
    SAME("normalize_2nd_moment", gan_normalize_2nd_moment(CTX, T(x)));
    SAME("normalize_2nd_moment_backward", gan_normalize_2nd_moment_backward(CTX, T(g), T(x)));
    twin_free(p, &x), twin_free(p, &w), twin_free(p, &b), twin_free(p, &dy), twin_free(p, &g);
}

static void check_bias_act(pair *p) {
    twin x = twin_randn(p, 4, (int64_t[]){3, 6, 9, 9}, 10, 2), b = twin_randn(p, 1, (int64_t[]){6}, 11, 1);
    twin plane = twin_randn(p, 2, (int64_t[]){9, 9}, 12, 1), per_image = twin_randn(p, 4, (int64_t[]){3, 1, 9, 9}, 13, 1);
    twin strength = twin_randn(p, 0, NULL, 14, 1), dy = twin_randn(p, 4, (int64_t[]){3, 6, 9, 9}, 15, 1);
    gan_bias_act_args lrelu = {GAN_ACT_LRELU, 0.2f, sqrtf(2), 1.5f}, relu = {GAN_ACT_RELU, 0, 1, -1};
    gan_bias_act_args linear = {GAN_ACT_LINEAR, 0, 0.7f, -1};
    SAME("bias_act lrelu clamp, noise plane", gan_bias_act(CTX, T(x), T(b), T(plane), T(strength), lrelu));
    SAME("bias_act relu, noise per image", gan_bias_act(CTX, T(x), T(b), T(per_image), T(strength), relu));
    SAME("bias_act linear, no bias", gan_bias_act(CTX, T(x), NULL, NULL, NULL, linear));
    SAME("bias_act_frozen", gan_bias_act_frozen(CTX, T(dy), T(b), T(plane), T(strength), lrelu, T(x)));
    SAME("bias_act_backward lrelu clamp", gan_bias_act_backward(CTX, T(dy), T(x), lrelu));
    SAME("bias_act_backward relu", gan_bias_act_backward(CTX, T(dy), T(x), relu));
    SAME("sum_channels", gan_sum_channels(CTX, T(x), 0.5f));
    SAME("noise_strength_grad plane", gan_noise_strength_grad(CTX, T(dy), T(plane)));
    SAME("noise_strength_grad per image", gan_noise_strength_grad(CTX, T(dy), T(per_image)));
    twin_free(p, &x), twin_free(p, &b), twin_free(p, &plane), twin_free(p, &per_image);
    twin_free(p, &strength), twin_free(p, &dy);
}

/* modconv forward and all three gradients for one geometry. */
static void check_modconv_case(pair *p, const char *name, int in, int out, int k, int res, int up, int demod,
                               const twin *filter) {
    char what[128];
    int64_t n = 3, ores = res * up;
    twin x = twin_randn(p, 4, (int64_t[]){n, in, res, res}, 20, 1);
    twin w = twin_randn(p, 4, (int64_t[]){out, in, k, k}, 21, 1);
    twin s = twin_randn(p, 2, (int64_t[]){n, in}, 22, 1);
    twin dy = twin_randn(p, 4, (int64_t[]){n, out, ores, ores}, 23, 1);
    gan_modconv_args a = {demod, up, NULL};
    snprintf(what, sizeof what, "modconv %s", name);
    gan_tensor *y[2], *dx[2] = {0}, *dw[2] = {0}, *ds[2] = {0};
    for (int on_gpu_ = 0; on_gpu_ < 2; on_gpu_++) {
        a.filter = filter ? T(*filter) : NULL;
        y[on_gpu_] = gan_modconv(CTX, T(x), T(w), T(s), a);
        gan_modconv_backward(CTX, T(dy), T(x), T(w), T(s), a, &dx[on_gpu_], &dw[on_gpu_], &ds[on_gpu_]);
    }
    compare(p, what, y[0], y[1], OP_TOLERANCE);
    snprintf(what, sizeof what, "modconv_backward dx %s", name);
    compare(p, what, dx[0], dx[1], OP_TOLERANCE);
    snprintf(what, sizeof what, "modconv_backward dweight %s", name);
    compare(p, what, dw[0], dw[1], OP_TOLERANCE);
    snprintf(what, sizeof what, "modconv_backward dstyles %s", name);
    compare(p, what, ds[0], ds[1], OP_TOLERANCE);
    for (int d = 0; d < 2; d++) {
        gan_ctx *ctx = d ? p->gpu : p->cpu;
        gan_tensor_free(ctx, y[d]), gan_tensor_free(ctx, dx[d]), gan_tensor_free(ctx, dw[d]);
        gan_tensor_free(ctx, ds[d]);
    }
    twin_free(p, &x), twin_free(p, &w), twin_free(p, &s), twin_free(p, &dy);
}

static twin fir_1331(pair *p) {
    static const float taps[4] = {1, 3, 3, 1};
    float f[16];
    for (int i = 0; i < 16; i++) f[i] = taps[i / 4] * taps[i % 4] / 64.0f;
    return twin_host(p, 2, (int64_t[]){4, 4}, f);
}

static void check_modconv(pair *p) {
    twin f = fir_1331(p);
    check_modconv_case(p, "3x3 demod", 8, 6, 3, 8, 1, 1, NULL);
    check_modconv_case(p, "3x3 up 2 demod", 8, 6, 3, 8, 2, 1, &f);
    check_modconv_case(p, "1x1 torgb", 8, 3, 1, 8, 1, 0, NULL);
    check_modconv_case(p, "3x3 demod at 16 px (the CPU's batched path)", 16, 8, 3, 16, 1, 1, NULL);
    check_modconv_case(p, "3x3 demod at 64 px (the CPU's per-sample path)", 16, 8, 3, 64, 1, 1, NULL);
    check_modconv_case(p, "3x3 up 2 at 4 px", 16, 8, 3, 4, 2, 1, &f);
    twin_free(p, &f);
}

static void check_resample(pair *p) {
    twin f = fir_1331(p), x = twin_randn(p, 4, (int64_t[]){2, 3, 8, 8}, 30, 1);
    twin up_dy = twin_randn(p, 4, (int64_t[]){2, 3, 16, 16}, 31, 1), down_dy = twin_randn(p, 4, (int64_t[]){2, 3, 4, 4}, 32, 1);
    gan_upfirdn2d_args up = {2, 2, 1, 1, 2, 1, 2, 1, 4, 0}, down = {1, 1, 2, 2, 1, 1, 1, 1, 1, 0};
    gan_upfirdn2d_args odd = {1, 2, 2, 1, 3, -1, 0, 2, 0.5f, 1};
    SAME("upsample2d", gan_upsample2d(CTX, T(x), T(f)));
    SAME("downsample2d", gan_downsample2d(CTX, T(x), T(f)));
    SAME("upfirdn2d (crop, flip, uneven)", gan_upfirdn2d(CTX, T(x), T(f), odd));
    SAME("upfirdn2d_backward of up", gan_upfirdn2d_backward(CTX, T(up_dy), T(f), up, 8, 8));
    SAME("upfirdn2d_backward of down", gan_upfirdn2d_backward(CTX, T(down_dy), T(f), down, 8, 8));
    twin_free(p, &f), twin_free(p, &x), twin_free(p, &up_dy), twin_free(p, &down_dy);
}

static void check_conv_case(pair *p, const char *name, int k, int stride, int pad) {
    char what[128];
    int64_t n = 3, in = 5, out = 7, res = 9, ores = (res + 2 * pad - k) / stride + 1;
    twin x = twin_randn(p, 4, (int64_t[]){n, in, res, res}, 40, 1), w = twin_randn(p, 4, (int64_t[]){out, in, k, k}, 41, 1);
    twin dy = twin_randn(p, 4, (int64_t[]){n, out, ores, ores}, 42, 1);
    gan_conv2d_args a = {stride, pad, 0.3f};
    snprintf(what, sizeof what, "conv2d %s", name);
    SAME(what, gan_conv2d(CTX, T(x), T(w), a));
    snprintf(what, sizeof what, "conv2d_backward_input %s", name);
    SAME(what, gan_conv2d_backward_input(CTX, T(dy), T(w), a, (int)res, (int)res));
    snprintf(what, sizeof what, "conv2d_backward_weight %s", name);
    SAME(what, gan_conv2d_backward_weight(CTX, T(dy), T(x), k, a));
    twin_free(p, &x), twin_free(p, &w), twin_free(p, &dy);
}

static void check_conv(pair *p) {
    check_conv_case(p, "3x3 pad 1", 3, 1, 1);
    check_conv_case(p, "3x3 stride 2", 3, 2, 0);
    check_conv_case(p, "1x1 stride 2", 1, 2, 0);
    check_conv_case(p, "4x4 pad 2", 4, 1, 2);
}

static void check_mbstd(pair *p) {
    twin x = twin_randn(p, 4, (int64_t[]){8, 6, 4, 4}, 50, 1), t = twin_randn(p, 4, (int64_t[]){8, 6, 4, 4}, 51, 1);
    twin dy = twin_randn(p, 4, (int64_t[]){8, 8, 4, 4}, 52, 1), dy1 = twin_randn(p, 4, (int64_t[]){8, 7, 4, 4}, 53, 1);
    gan_mbstd_args two = {4, 2}, all = {8, 1};
    SAME("mbstd", gan_mbstd(CTX, T(x), two));
    SAME("mbstd one channel, whole batch", gan_mbstd(CTX, T(x), all));
    SAME("mbstd_backward", gan_mbstd_backward(CTX, T(dy), T(x), two));
    SAME("mbstd_backward one channel", gan_mbstd_backward(CTX, T(dy1), T(x), all));
    SAME("mbstd_jvp", gan_mbstd_jvp(CTX, T(x), T(t), two));
    SAME("mbstd_jvp_backward_x", gan_mbstd_jvp_backward_x(CTX, T(dy), T(x), T(t), two));
    twin_free(p, &x), twin_free(p, &t), twin_free(p, &dy), twin_free(p, &dy1);
}

static void check_color(pair *p) {
    twin rgb = twin_randn(p, 4, (int64_t[]){3, 3, 9, 7}, 95, 1), grey = twin_randn(p, 4, (int64_t[]){3, 1, 9, 7}, 96, 1);
    twin m = twin_randn(p, 3, (int64_t[]){3, 4, 4}, 97, 1);
    SAME("color_transform rgb", gan_color_transform(CTX, T(rgb), T(m)));
    SAME("color_transform grey", gan_color_transform(CTX, T(grey), T(m)));
    SAME("color_transform_backward rgb", gan_color_transform_backward(CTX, T(rgb), T(m)));
    SAME("color_transform_backward grey", gan_color_transform_backward(CTX, T(grey), T(m)));
    twin_free(p, &rgb), twin_free(p, &grey), twin_free(p, &m);
    twin x = twin_randn(p, 4, (int64_t[]){3, 2, 17, 19}, 98, 1), dy = twin_randn(p, 4, (int64_t[]){3, 2, 15, 21}, 99, 1);
    twin theta = twin_randn(p, 3, (int64_t[]){3, 2, 3}, 100, 0.7f);
    SAME("affine_sample", gan_affine_sample(CTX, T(x), T(theta), 15, 21));
    SAME("affine_sample_backward", gan_affine_sample_backward(CTX, T(dy), T(theta), 17, 19));
    gan_pad_args pad = {5, 2, 0, 16};
    SAME("pad_reflect", gan_pad_reflect(CTX, T(x), pad));
    SAME("pad_reflect_backward", gan_pad_reflect_backward(CTX, T(dy), (gan_pad_args){3, 1, 2, 4}));
    twin taps = twin_randn(p, 2, (int64_t[]){3, 5}, 101, 1), dy_w = twin_randn(p, 4, (int64_t[]){3, 2, 17, 15}, 102, 1);
    twin dy_h = twin_randn(p, 4, (int64_t[]){3, 2, 13, 19}, 103, 1);
    SAME("filter_1d along the width", gan_filter_1d(CTX, T(x), T(taps), 3));
    SAME("filter_1d along the height", gan_filter_1d(CTX, T(x), T(taps), 2));
    SAME("filter_1d_backward along the width", gan_filter_1d_backward(CTX, T(dy_w), T(taps), 3));
    SAME("filter_1d_backward along the height", gan_filter_1d_backward(CTX, T(dy_h), T(taps), 2));
    twin_free(p, &x), twin_free(p, &dy), twin_free(p, &theta), twin_free(p, &taps), twin_free(p, &dy_w);
    twin_free(p, &dy_h);
}

static void check_elementwise(pair *p) {
    twin a = twin_randn(p, 3, (int64_t[]){4, 5, 6}, 60, 1), b = twin_randn(p, 3, (int64_t[]){4, 5, 6}, 61, 1);
    twin avg = twin_randn(p, 1, (int64_t[]){6}, 62, 1), row = twin_randn(p, 2, (int64_t[]){4, 6}, 63, 1);
    twin row2 = twin_randn(p, 2, (int64_t[]){4, 6}, 64, 1), cols = twin_randn(p, 2, (int64_t[]){4, 3}, 65, 1);
    SAME("add", gan_add(CTX, T(a), T(b)));
    SAME("scale", gan_scale(CTX, T(a), -0.3f));
    SAME("mul", gan_mul(CTX, T(a), T(b)));
    SAME("truncate psi 0.7 cutoff 3", gan_truncate(CTX, T(a), T(avg), 0.7f, 3));
    SAME("truncate psi 0.5 all", gan_truncate(CTX, T(a), T(avg), 0.5f, 0));
    SAME("repeat", gan_repeat(CTX, T(avg), 3));
    SAME("broadcast_rows", gan_broadcast_rows(CTX, T(row), 5));
    SAME("select_row", gan_select_row(CTX, T(a), 2));
    SAME("slice", gan_slice(CTX, T(a), 1, 2));
    SAME("mix_rows", gan_mix_rows(CTX, T(row), T(row2), 5, 2));
    SAME("sum_rows", gan_sum_rows(CTX, T(a), 1, 3));
    SAME("sum_batch", gan_sum_batch(CTX, T(a)));
    SAME("concat_cols", gan_concat_cols(CTX, T(row), T(cols)));
    SAME("randn (two seeds, offset)", gan_randn(CTX, 2, (int64_t[]){2, 1001}, (uint64_t[]){7, 1u << 31}, 2, 13));
    SAME("randn (one stream)", gan_randn(CTX, 1, (int64_t[]){4099}, (uint64_t[]){42}, 1, 0));

    /* In-place ops: both devices update their copy the same way. */
    twin param = twin_randn(p, 1, (int64_t[]){1000}, 66, 1), grad = twin_randn(p, 1, (int64_t[]){1000}, 67, 1);
    twin m = twin_randn(p, 1, (int64_t[]){1000}, 68, 0.1f), v = twin_randn(p, 1, (int64_t[]){1000}, 69, 0.1f);
    twin ema = twin_randn(p, 1, (int64_t[]){1000}, 70, 1);
    float *vh = to_host(p->cpu, v.c);
    for (int i = 0; i < 1000; i++) vh[i] = fabsf(vh[i]); /* second moments are not negative */
    gan_tensor_upload(p->cpu, v.c, vh), gan_tensor_upload(p->gpu, v.g, vh);
    free(vh);
    gan_adam_args adam = {0.002f, 0, 0.99f, 1e-8f, 1, 1 - 0.99f * 0.99f};
    for (int on_gpu_ = 0; on_gpu_ < 2; on_gpu_++) {
        gan_adam_update(CTX, T(param), T(grad), T(m), T(v), adam);
        gan_accumulate(CTX, T(grad), T(param), 0.25f);
        gan_lerp_into(CTX, T(ema), T(param), 0.999f);
    }
    compare(p, "adam param", param.c, param.g, OP_TOLERANCE);
    compare(p, "adam m", m.c, m.g, OP_TOLERANCE);
    compare(p, "adam v", v.c, v.g, OP_TOLERANCE);
    compare(p, "accumulate", grad.c, grad.g, OP_TOLERANCE);
    compare(p, "lerp_into", ema.c, ema.g, OP_TOLERANCE);

    float bad[5] = {1, NAN, INFINITY, -INFINITY, 0};
    twin nonfinite = twin_host(p, 1, (int64_t[]){5}, bad);
    CHECK(gan_count_nonfinite(p->cpu, nonfinite.c) == 3 && gan_count_nonfinite(p->gpu, nonfinite.g) == 3);
    twin_free(p, &nonfinite);
    twin_free(p, &param), twin_free(p, &grad), twin_free(p, &m), twin_free(p, &v), twin_free(p, &ema);
    twin_free(p, &a), twin_free(p, &b), twin_free(p, &avg), twin_free(p, &row), twin_free(p, &row2);
    twin_free(p, &cols);
}

/* Every transpose combination, 2-D and batched (sizes that are no multiple
 * of a tile or a warp), an empty inner dimension, and row normalisation. */
static void check_biggan_matmul(pair *p) {
    const int64_t batch = 3, m = 17, k = 40, n = 9;
    for (int batched = 0; batched < 2; batched++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int nd = batched ? 3 : 2;
                int64_t sa[3] = {batch, ta ? k : m, ta ? m : k}, sb[3] = {batch, tb ? n : k, tb ? k : n};
                twin a = twin_randn(p, nd, sa + 1 - batched, 80, 1), b = twin_randn(p, nd, sb + 1 - batched, 81, 1);
                char what[64];
                snprintf(what, sizeof what, "matmul (%s, trans_a %d, trans_b %d)", batched ? "batched" : "2-D", ta, tb);
                SAME(what, gan_matmul(CTX, T(a), T(b), ta, tb));
                twin_free(p, &a), twin_free(p, &b);
            }
    twin a0 = twin_randn(p, 3, (int64_t[]){2, 5, 0}, 82, 1), b0 = twin_randn(p, 3, (int64_t[]){2, 0, 7}, 83, 1);
    SAME("matmul (empty inner dimension: zeros)", gan_matmul(CTX, T(a0), T(b0), 0, 0));
    twin rows = twin_randn(p, 2, (int64_t[]){17, 300}, 84, 1);
    SAME("normalize_rows", gan_normalize_rows(CTX, T(rows), 1e-6f));
    float tiny[2 * 3] = {0, 0, 0, 1e-9f, -2e-9f, 0};
    twin small = twin_host(p, 2, (int64_t[]){2, 3}, tiny);
    SAME("normalize_rows (rows under eps)", gan_normalize_rows(CTX, T(small), 1e-6f));
    twin_free(p, &a0), twin_free(p, &b0), twin_free(p, &rows), twin_free(p, &small);
}

/* softmax_backward at softmax's own output, as training calls it. */
static gan_tensor *softmax_gradient(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *dy) {
    gan_tensor *y = gan_softmax(ctx, x), *dx = gan_softmax_backward(ctx, dy, y);
    gan_tensor_free(ctx, y);
    return dx;
}

/* Rows narrower than a warp, wider than a block, and with large logits. */
static void check_biggan_softmax(pair *p) {
    const int64_t shapes[3][3] = {{3, 17, 300}, {4, 6, 5}, {1, 2, 1000}};
    const float scales[3] = {3, 1, 30};
    for (int i = 0; i < 3; i++) {
        twin x = twin_randn(p, 3, shapes[i], 85 + (uint64_t)i, scales[i]), dy = twin_randn(p, 3, shapes[i], 88, 1);
        char what[64];
        snprintf(what, sizeof what, "softmax (rows of %lld)", (long long)shapes[i][2]);
        SAME(what, gan_softmax(CTX, T(x)));
        snprintf(what, sizeof what, "softmax_backward (rows of %lld)", (long long)shapes[i][2]);
        SAME(what, softmax_gradient(CTX, T(x), T(dy)));
        twin_free(p, &x), twin_free(p, &dy);
    }
    twin x = twin_randn(p, 3, (int64_t[]){3, 17, 300}, 89, 3), dy = twin_randn(p, 3, (int64_t[]){3, 17, 300}, 90, 1);
    SAME("tanh", gan_tanh(CTX, T(x)));
    SAME("tanh_backward", gan_tanh_backward(CTX, T(dy), T(x)));
    twin_free(p, &x), twin_free(p, &dy);
}

/* Both results bit for bit the same (for ops that only copy values, NaN included). */
static void same_bits(pair *p, const char *what, gan_tensor *c, gan_tensor *g) {
    CHECKF(c && g && gan_same_shape(c, g), "%s: %s", what, c ? p->gpu->error.msg : p->cpu->error.msg);
    if (c && g && gan_same_shape(c, g)) {
        float *a = to_host(p->cpu, c), *b = to_host(p->gpu, g);
        CHECKF(memcmp(a, b, (size_t)c->numel * sizeof *a) == 0, "%s: CUDA differs from CPU", what);
        free(a), free(b);
    }
    gan_tensor_free(p->cpu, c), gan_tensor_free(p->gpu, g);
}

/* x with values rounded to halves (many tied windows) and some NaN. */
static twin ties_and_nans(pair *p, const int64_t shape[4]) {
    int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    float *host = malloc((size_t)n * sizeof *host);
    gan_philox_normal(93, 0, host, (size_t)n);
    for (int64_t i = 0; i < n; i++) host[i] = i % 37 == 5 ? NAN : roundf(host[i] * 2) / 2;
    twin t = twin_host(p, 4, shape, host);
    free(host);
    return t;
}

static void check_biggan_pooling(pair *p) {
    const int64_t big[4] = {3, 5, 12, 10}, small[4] = {3, 5, 6, 5};
    twin x = twin_randn(p, 4, big, 86, 1), dh = twin_randn(p, 4, small, 87, 1);
    twin dd = twin_randn(p, 4, (int64_t[]){3, 5, 24, 20}, 88, 1);
    SAME("max_pool2d", gan_max_pool2d(CTX, T(x)));
    SAME("max_pool2d_backward", gan_max_pool2d_backward(CTX, T(dh), T(x)));
    SAME("avg_pool2d", gan_avg_pool2d(CTX, T(x)));
    SAME("avg_pool2d_backward", gan_avg_pool2d_backward(CTX, T(dh)));
    SAME("upsample_nearest2d", gan_upsample_nearest2d(CTX, T(x)));
    SAME("upsample_nearest2d_backward", gan_upsample_nearest2d_backward(CTX, T(dd)));
    /* Ties and NaN: the same sample of each window wins on both devices. */
    twin tied = ties_and_nans(p, big);
    same_bits(p, "max_pool2d (ties, NaN)", gan_max_pool2d(p->cpu, tied.c), gan_max_pool2d(p->gpu, tied.g));
    same_bits(p, "max_pool2d_backward (ties, NaN)", gan_max_pool2d_backward(p->cpu, dh.c, tied.c),
              gan_max_pool2d_backward(p->gpu, dh.g, tied.g));
    twin_free(p, &x), twin_free(p, &dh), twin_free(p, &dd), twin_free(p, &tied);
}

static gan_tensor *on(int on_gpu, const twin *t) { return !t ? NULL : on_gpu ? t->g : t->c; }
static gan_ctx *ctx_of(pair *p, int on_gpu) { return on_gpu ? p->gpu : p->cpu; }

/* Batch statistics, batch norm and all three gradients for one input and
 * affine map (gain and bias may be NULL). */
static void check_batch_norm_case(pair *p, const char *name, const twin *x, const twin *gain, const twin *bias,
                                  float offset) {
    gan_batch_norm_args args = {1e-5f, offset};
    gan_tensor *out[2][6] = {{NULL}};
    twin dy = twin_randn(p, x->c->ndim, x->c->shape, 92, 1);
    for (int d = 0; d < 2; d++) {
        gan_ctx *ctx = ctx_of(p, d);
        gan_batch_stats(ctx, on(d, x), &out[d][0], &out[d][1]);
        out[d][2] = gan_batch_norm(ctx, on(d, x), out[d][0], out[d][1], on(d, gain), on(d, bias), args);
        gan_batch_norm_backward(ctx, on(d, &dy), on(d, x), out[d][0], out[d][1], on(d, gain), args,
                                &out[d][3], &out[d][4], &out[d][5]);
    }
    const char *parts[6] = {"batch_stats mean", "batch_stats var", "batch_norm", "batch_norm_backward dx",
                            "batch_norm_backward dgain", "batch_norm_backward dbias"};
    for (int k = 0; k < 6; k++) {
        char what[128];
        snprintf(what, sizeof what, "%s (%s)", parts[k], name);
        compare(p, what, out[0][k], out[1][k], OP_TOLERANCE);
        gan_tensor_free(p->cpu, out[0][k]), gan_tensor_free(p->gpu, out[1][k]);
    }
    twin_free(p, &dy);
}

static void check_biggan_batch_norm(pair *p) {
    twin x = twin_randn(p, 4, (int64_t[]){3, 5, 12, 10}, 94, 2), flat = twin_randn(p, 2, (int64_t[]){6, 5}, 95, 1);
    twin large = twin_randn(p, 4, (int64_t[]){2, 3, 40, 40}, 96, 1); /* planes longer than a block */
    twin gain_nc = twin_randn(p, 2, (int64_t[]){3, 5}, 97, 0.3f), bias_nc = twin_randn(p, 2, (int64_t[]){3, 5}, 98, 1);
    twin gain_c = twin_randn(p, 1, (int64_t[]){5}, 99, 1), bias_c = twin_randn(p, 1, (int64_t[]){5}, 100, 1);
    twin gain_c3 = twin_randn(p, 1, (int64_t[]){3}, 101, 1), gain_nc6 = twin_randn(p, 2, (int64_t[]){6, 5}, 102, 1);
    check_batch_norm_case(p, "[N, C] gain and bias, offset 1", &x, &gain_nc, &bias_nc, 1);
    check_batch_norm_case(p, "[C] gain and bias", &x, &gain_c, &bias_c, 0);
    check_batch_norm_case(p, "no gain, [C] bias, offset 1.5", &x, NULL, &bias_c, 1.5f);
    check_batch_norm_case(p, "no affine map", &x, NULL, NULL, 1);
    check_batch_norm_case(p, "[N, C] input, [N, C] gain", &flat, &gain_nc6, NULL, 1);
    check_batch_norm_case(p, "long planes, [C] gain", &large, &gain_c3, NULL, 0);
    /* Only some gradients asked for. */
    gan_tensor *dgain[2] = {NULL, NULL};
    twin dy = twin_randn(p, 4, (int64_t[]){3, 5, 12, 10}, 103, 1);
    for (int d = 0; d < 2; d++) {
        gan_tensor *mean = NULL, *var = NULL;
        gan_batch_stats(ctx_of(p, d), on(d, &x), &mean, &var);
        gan_batch_norm_backward(ctx_of(p, d), on(d, &dy), on(d, &x), mean, var, on(d, &gain_nc),
                                (gan_batch_norm_args){1e-5f, 1}, NULL, &dgain[d], NULL);
        gan_tensor_free(ctx_of(p, d), mean), gan_tensor_free(ctx_of(p, d), var);
    }
    compare(p, "batch_norm_backward dgain alone", dgain[0], dgain[1], OP_TOLERANCE);
    gan_tensor_free(p->cpu, dgain[0]), gan_tensor_free(p->gpu, dgain[1]);
    twin *all[] = {&x, &flat, &large, &gain_nc, &bias_nc, &gain_c, &bias_c, &gain_c3, &gain_nc6, &dy};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(p, all[i]);
}

/* BigGAN's ops, forward and backward. */
static void check_biggan_ops(pair *p) {
    check_biggan_matmul(p);
    check_biggan_softmax(p);
    check_biggan_pooling(p);
    check_biggan_batch_norm(p);
}

/* Makes every parameter of the CPU network non-trivial (biases, noise
 * strengths, w_avg all non-zero) and copies the set to the GPU network. */
static void perturb_and_copy(pair *p, gan_params *cpu, gan_params *gpu, uint64_t seed) {
    for (int i = 0; i < cpu->count; i++) {
        gan_tensor *c = cpu->items[i].tensor;
        float *host = to_host(p->cpu, c), *noise = malloc((size_t)c->numel * sizeof *noise + 1);
        gan_philox_normal(seed + (uint64_t)i, 0, noise, (size_t)c->numel);
        if (!strstr(cpu->items[i].name, "resample_filter"))
            for (int64_t j = 0; j < c->numel; j++) host[j] += 0.1f * noise[j];
        gan_tensor_upload(p->cpu, c, host);
        gan_tensor_upload(p->gpu, gpu->items[i].tensor, host);
        free(host), free(noise);
    }
}

static void copy_params(pair *p, const gan_params *cpu, gan_params *gpu) {
    for (int i = 0; i < cpu->count; i++) {
        float *host = to_host(p->cpu, cpu->items[i].tensor);
        gan_tensor_upload(p->gpu, gpu->items[i].tensor, host);
        free(host);
    }
}

static void check_generator(pair *p, const char *preset, int res) {
    gan_error err = {{0}};
    sg2_config cfg;
    CHECK_OK(sg2_config_preset(preset, res, &cfg, &err), &err);
    sg2_generator *g[2] = {sg2_create(p->cpu, &cfg, &err), sg2_create(p->gpu, &cfg, &err)};
    CHECKF(g[0] && g[1], "%s", err.msg);
    if (!g[0] || !g[1]) return;
    CHECK_OK(sg2_init_random(p->cpu, g[0], 5, &err), &err);
    perturb_and_copy(p, &g[0]->params, &g[1]->params, 1000);
    twin z = twin_randn(p, 2, (int64_t[]){2, cfg.z_dim}, 80, 1);
    const uint64_t seeds[2] = {3, 4};
    const sg2_noise_mode modes[2] = {SG2_NOISE_CONST, SG2_NOISE_RANDOM};
    for (int mode = 0; mode < 2; mode++) {
        gan_tensor *img[2];
        for (int on_gpu_ = 0; on_gpu_ < 2; on_gpu_++) {
            gan_tensor *ws = sg2_mapping(CTX, g[on_gpu_], T(z), NULL, 0.7f, 0);
            img[on_gpu_] = sg2_synthesis(CTX, g[on_gpu_], ws, modes[mode], seeds);
            gan_tensor_free(CTX, ws);
        }
        float *a = img[0] ? to_host(p->cpu, img[0]) : NULL, *b = img[1] ? to_host(p->gpu, img[1]) : NULL;
        CHECKF(a && b, "generator %s %d: %s / %s", preset, res, p->cpu->error.msg, p->gpu->error.msg);
        if (a && b) {
            double d = test_max_abs_diff(a, b, (size_t)img[0]->numel);
            printf("generator %s %d px, noise %s, psi 0.7: max abs difference %.3g\n", preset, res,
                   mode ? "random" : "const", d);
            CHECKF(d <= IMAGE_TOLERANCE, "generator %s %d: %.3g > %.0e", preset, res, d, IMAGE_TOLERANCE);
        }
        free(a), free(b);
        gan_tensor_free(p->cpu, img[0]), gan_tensor_free(p->gpu, img[1]);
    }
    twin_free(p, &z);
    sg2_free(p->cpu, g[0]), sg2_free(p->gpu, g[1]);
}

typedef struct networks {
    sg2_generator *G, *G_ema;
    sg2_discriminator *D;
    trainer t;
} networks;

static int make_networks(gan_ctx *ctx, const sg2_config *g, const sg2d_config *d, const train_options *o,
                         networks *n, gan_error *err) {
    memset(n, 0, sizeof *n);
    n->G = sg2_create(ctx, g, err), n->G_ema = sg2_create(ctx, g, err), n->D = sg2d_create(ctx, d, err);
    if (!n->G || !n->G_ema || !n->D || sg2_init_random(ctx, n->G, 1, err) != 0 ||
        sg2_init_random(ctx, n->G_ema, 1, err) != 0 || sg2d_init_random(ctx, n->D, 2, err) != 0)
        return -1;
    if (trainer_init(ctx, &n->t, n->G, n->D, n->G_ema, o) != 0) return gan_ctx_take_error(ctx, err);
    return 0;
}

static void free_networks(gan_ctx *ctx, networks *n) {
    trainer_free(ctx, &n->t);
    sg2_free(ctx, n->G), sg2_free(ctx, n->G_ema), sg2d_free(ctx, n->D);
}

/* Updated weights agree to STEP_TOLERANCE of each tensor's largest
 * magnitude, but for one legitimate exception: Adam's first step (beta1 0)
 * moves a weight by about lr * sign(g), so a gradient component within
 * rounding of zero may move one way on the CPU and the other on the GPU, a
 * difference of 2 lr; G's second update of the step (path length, with v
 * already holding the first gradient) moves it by at most about 1.4 lr more
 * each way. Such flips are allowed for a few elements (at most 1 in 1000 of
 * a network's), never beyond 5 lr. */
static double compare_set(pair *p, const char *net, const gan_params *c, const gan_params *g, float lr) {
    double worst = 0;
    int64_t flips = 0, total = 0;
    for (int i = 0; i < c->count; i++) {
        const gan_tensor *tc = c->items[i].tensor, *tg = g->items[i].tensor;
        float *a = to_host(p->cpu, tc), *b = to_host(p->gpu, tg);
        double scale = 0;
        for (int64_t j = 0; j < tc->numel; j++) scale = fmax(scale, fabs(a[j]));
        for (int64_t j = 0; j < tc->numel; j++) {
            double d = fabs((double)a[j] - b[j]), rel = d / (scale > 0 ? scale : 1);
            if (rel <= STEP_TOLERANCE) {
                worst = fmax(worst, rel);
            } else {
                flips++;
                CHECKF(d <= 5 * lr, "after one step: %s%s[%lld]: cpu %.7g, cuda %.7g", net, c->items[i].name,
                       (long long)j, a[j], b[j]);
            }
        }
        total += tc->numel;
        free(a), free(b);
    }
    CHECKF(flips * 1000 <= total, "after one step: %s: %lld of %lld weights differ beyond the bound", net,
           (long long)flips, (long long)total);
    if (flips) printf("after one step: %s: %lld of %lld weights took opposite Adam signs\n", net, (long long)flips,
                      (long long)total);
    return worst;
}

/* One step (every phase due), without augmentation or with the pipeline
 * augpipe at a fixed p. */
static void check_train_step(pair *p, const char *augpipe) {
    gan_error err = {{0}};
    train_options o;
    sg2_config gcfg;
    int group;
    CHECK_OK(train_config_preset("small", 32, 4, -1, &o, &gcfg, &group, &err), &err);
    if (augpipe) {
        o.augment = TRAIN_AUGMENT_FIXED, o.augment_p = 0.6f;
        snprintf(o.augpipe, sizeof o.augpipe, "%s", augpipe);
    }
    sg2d_config dcfg = sg2d_config_for(&gcfg, group);
    networks n[2];
    gan_ctx *ctx[2] = {p->cpu, p->gpu};
    for (int d = 0; d < 2; d++) CHECKF(make_networks(ctx[d], &gcfg, &dcfg, &o, &n[d], &err) == 0, "%s", err.msg);
    if (test_failures) return;
    perturb_and_copy(p, &n[0].G->params, &n[1].G->params, 2000);
    copy_params(p, &n[0].G->params, &n[0].G_ema->params);
    copy_params(p, &n[0].G->params, &n[1].G_ema->params);
    perturb_and_copy(p, &n[0].D->params, &n[1].D->params, 3000);
    twin reals = twin_randn(p, 4, (int64_t[]){o.batch, 3, 32, 32}, 90, 0.5f);
    for (int d = 0; d < 2; d++) {
        step_draws draws;
        draw_storage storage;
        step_stats st = {0};
        if (draws_make(ctx[d], n[d].G, &o, 7, 0, &draws, &storage) == 0) {
            CHECKF(trainer_step(ctx[d], &n[d].t, d ? reals.g : reals.c, &draws, &st) == 0, "%s step: %s",
                   d ? "cuda" : "cpu", ctx[d]->error.msg);
            draws_free(ctx[d], &storage);
        }
        CHECKF(st.greg && st.dreg, "both regularizers should run in the first step");
        printf("%s step: G loss %.6f, path length %.6f, D loss %.6f, R1 %.6f\n", d ? "cuda" : "cpu ", st.g_loss,
               st.pl_penalty, st.d_loss, st.r1_penalty);
    }
    printf("one training step (%s): worst relative difference G %.3g, D %.3g, G_ema %.3g\n",
           augpipe ? augpipe : "no augmentation",
           compare_set(p, "G.", &n[0].G->params, &n[1].G->params, n[0].t.adam_g.lr),
           compare_set(p, "D.", &n[0].D->params, &n[1].D->params, n[0].t.adam_d.lr),
           compare_set(p, "G_ema.", &n[0].G_ema->params, &n[1].G_ema->params, n[0].t.adam_g.lr));
    twin_free(p, &reals);
    for (int d = 0; d < 2; d++) free_networks(ctx[d], &n[d]);
}

/* One BigGAN training iteration (2 D steps, attention in G and D, ortho
 * regularisation, EMA) from the same weights and draws on both devices. */
static void check_biggan_step(pair *p) {
    gan_ctx *ctx[2] = {p->cpu, p->gpu};
    gan_error err = {{0}};
    bg_config gcfg = bg_config_default(32, 4, 5);
    snprintf(gcfg.attn, sizeof gcfg.attn, "16");
    gcfg.dim_z = 20, gcfg.shared_dim = 8;
    bgd_config dcfg = bgd_config_for(&gcfg);
    snprintf(dcfg.attn, sizeof dcfg.attn, "16");
    bg_train_options o = bg_train_options_defaults(4);
    o.d_steps = 2, o.g_ortho = o.d_ortho = 1e-3f, o.ema_start = 0, o.ema_decay = 0.9f;
    bg_generator *G[2], *G_ema[2];
    bg_discriminator *D[2];
    bg_trainer t[2];
    for (int d = 0; d < 2; d++) {
        G[d] = bg_create(ctx[d], &gcfg, &err), G_ema[d] = bg_create(ctx[d], &gcfg, &err);
        D[d] = bgd_create(ctx[d], &dcfg, &err);
        if (!G[d] || !G_ema[d] || !D[d]) {
            CHECKF(0, "biggan networks: %s", err.msg);
            return;
        }
    }
    bg_init_random(p->cpu, G[0], 1, &err), bgd_init_random(p->cpu, D[0], 2, &err);
    copy_params(p, &G[0]->params, &G[1]->params);
    /* A plain copy: a lerp with beta 0 would carry NaN from the new network's
     * uninitialised memory (0 * NaN), depending on what the pool held. */
    for (int i = 0; i < G[0]->params.count; i++) {
        float *host = to_host(p->cpu, G[0]->params.items[i].tensor);
        gan_tensor_upload(p->cpu, G_ema[0]->params.items[i].tensor, host);
        free(host);
    }
    copy_params(p, &G[0]->params, &G_ema[1]->params);
    copy_params(p, &D[0]->params, &D[1]->params);
    twin z[3], reals[2];
    int classes[3][4] = {{0, 1, 2, 3}, {4, 0, 1, 2}, {3, 3, 1, 0}}, real_classes[2][4] = {{1, 2, 3, 4}, {0, 0, 2, 4}};
    for (int i = 0; i < 3; i++) z[i] = twin_randn(p, 2, (int64_t[]){4, 20}, 100 + (uint64_t)i, 1);
    for (int i = 0; i < 2; i++) reals[i] = twin_randn(p, 4, (int64_t[]){4, 3, 32, 32}, 110 + (uint64_t)i, 0.5f);
    bg_step_stats st;
    for (int d = 0; d < 2; d++) {
        bg_fake_draws fakes[3] = {{d ? z[0].g : z[0].c, classes[0]}, {d ? z[1].g : z[1].c, classes[1]},
                                  {d ? z[2].g : z[2].c, classes[2]}};
        const gan_tensor *r[2] = {d ? reals[0].g : reals[0].c, d ? reals[1].g : reals[1].c};
        const int *rc[2] = {real_classes[0], real_classes[1]};
        bg_step_inputs in = {fakes, r, rc, fakes + 2};
        CHECK(bg_trainer_init(ctx[d], &t[d], G[d], D[d], G_ema[d], &o) == 0);
        CHECKF(bg_trainer_step(ctx[d], &t[d], &in, &st) == 0, "biggan step: %s", ctx[d]->error.msg);
    }
    printf("BigGAN training iteration: worst relative difference G %.3g, D %.3g, G_ema %.3g\n",
           compare_set(p, "G.", &G[0]->params, &G[1]->params, o.g_lr),
           compare_set(p, "D.", &D[0]->params, &D[1]->params, o.d_lr),
           compare_set(p, "G_ema.", &G_ema[0]->params, &G_ema[1]->params, o.g_lr));
    for (int i = 0; i < 3; i++) twin_free(p, &z[i]);
    for (int i = 0; i < 2; i++) twin_free(p, &reals[i]);
    for (int d = 0; d < 2; d++) {
        bg_trainer_free(ctx[d], &t[d]);
        bg_free(ctx[d], G[d]), bg_free(ctx[d], G_ema[d]), bgd_free(ctx[d], D[d]);
    }
}

int main(void) {
    gan_error err = {{0}};
    pair p = {gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 0, &err), NULL, 0};
    /* DNE_PARITY_SELFTEST=1 pits the CPU against itself where there is no
     * GPU: every difference must then be 0, which checks this harness. */
    const char *selftest = getenv("DNE_PARITY_SELFTEST");
    int self = selftest && strcmp(selftest, "1") == 0;
    p.gpu = gan_ctx_new((gan_device){self ? GAN_DEVICE_CPU : GAN_DEVICE_CUDA, 0}, 0, &err);
    if (!p.gpu) {
        gan_ctx_free(p.cpu);
        TEST_SKIP("no CUDA device: %s", err.msg);
    }
    check_dense(&p);
    check_bias_act(&p);
    check_modconv(&p);
    check_resample(&p);
    check_conv(&p);
    check_mbstd(&p);
    check_elementwise(&p);
    check_color(&p);
    check_biggan_ops(&p);
    printf("ops: worst relative difference %.3g (bound %.0e)\n", p.worst, OP_TOLERANCE);
    check_generator(&p, "small", 64);
    check_generator(&p, "paper256", 256);
    check_train_step(&p, NULL);
    check_train_step(&p, "bgcfnc");
    check_biggan_step(&p);
    CHECKF(!gan_ctx_failed(p.cpu), "cpu context: %s", p.cpu->error.msg);
    CHECKF(!gan_ctx_failed(p.gpu), "cuda context: %s", p.gpu->error.msg);
    gan_ctx_free(p.cpu);
    gan_ctx_free(p.gpu);
    TEST_DONE();
}
