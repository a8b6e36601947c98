/* Every op's backward pass against finite differences of its forward pass.
 *
 * For an op y = f(inputs) and a fixed random r, the loss L = sum(y * r) has
 * dL/dinput = backward(dy = r). Along a random direction v, the central
 * difference (L(x + h v) - L(x - h v)) / 2h must equal <dL/dx, v> (the error
 * measured relative to |dL/dx| |v|). Where an
 * op is linear in an input (convolutions and FIR filters in x or w) the
 * difference is exact for any step, so a step of 1 leaves only fp32 rounding
 * and a tight bound; smooth ops (demodulation, normalisation, the standard
 * deviation) take a step of 1e-2 and a bound that allows its O(h^2) error;
 * bias_act's inputs are kept away from the leaky ReLU's kink and the clamp,
 * so the step crosses neither. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan/context.h"
#include "gan/ops.h"
#include "gan/rng.h"
#include "tests/test.h"
#include "tests/test_context.h"

#define MAX_INPUTS 4
#define LINEAR_STEP 1.0
#define LINEAR_TOL 1e-5
#define SMOOTH_STEP 3e-3
#define SMOOTH_TOL 1e-3
#define KINK_STEP 1e-2
#define KINK_TOL 2e-4
#define KINK_MARGIN 0.1f /* > KINK_STEP times the largest |v| (about 5) */

static uint64_t next_seed = 100;

typedef struct op_case op_case;
typedef gan_tensor *(*forward_fn)(gan_ctx *ctx, gan_tensor *const *in, const op_case *c);

struct op_case {
    const char *name;
    int count;
    gan_tensor *in[MAX_INPUTS];
    forward_fn forward;
    gan_bias_act_args act;
    gan_conv2d_args conv;
    gan_modconv_args mod;
    gan_upfirdn2d_args fir;
    gan_mbstd_args mbstd;
    float gain;
};

static float *host_of(gan_ctx *ctx, const gan_tensor *t) {
    float *p = malloc((size_t)t->numel * sizeof *p + 1);
    gan_tensor_download(ctx, t, p);
    return p;
}

static gan_tensor *random_tensor(gan_ctx *ctx, int ndim, const int64_t *shape, float scale) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *p = malloc((size_t)n * sizeof *p + 1);
    gan_philox_normal(next_seed++, 0, p, (size_t)n);
    for (int64_t i = 0; i < n; i++) p[i] *= scale;
    gan_tensor *t = gan_tensor_from_host(ctx, ndim, shape, p);
    free(p);
    return t;
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* L = sum(f(inputs) * r). */
static double loss(gan_ctx *ctx, const op_case *c, const float *r) {
    gan_tensor *y = c->forward(ctx, c->in, c);
    if (!y) return NAN;
    float *h = host_of(ctx, y);
    double l = dot(h, r, y->numel);
    free(h);
    gan_tensor_free(ctx, y);
    return l;
}

/* Checks grad (the analytic dL/d input k) along three random directions. */
static void check_input(gan_ctx *ctx, op_case *c, int k, const gan_tensor *grad, const float *r, double h, double tol) {
    gan_tensor *x = c->in[k];
    CHECKF(grad && gan_same_shape(grad, x), "%s: gradient %d missing or misshapen (%s)", c->name, k,
           ctx->error.msg);
    if (!grad || !gan_same_shape(grad, x)) return;
    float *x0 = host_of(ctx, x), *g = host_of(ctx, grad), *v = malloc((size_t)x->numel * sizeof *v + 1);
    float *moved = malloc((size_t)x->numel * sizeof *moved + 1);
    double worst = 0;
    for (int trial = 0; trial < 3; trial++) {
        gan_philox_normal(next_seed++, 0, v, (size_t)x->numel);
        double l[2];
        for (int side = 0; side < 2; side++) {
            for (int64_t i = 0; i < x->numel; i++) moved[i] = x0[i] + (float)((side ? -h : h) * v[i]);
            gan_tensor_upload(ctx, x, moved);
            l[side] = loss(ctx, c, r);
        }
        double numeric = (l[0] - l[1]) / (2 * h), analytic = dot(g, v, x->numel);
        /* Relative to |g| |v|, the largest the directional derivative can be:
         * a direction nearly orthogonal to g must not inflate the error. */
        double err = fabs(numeric - analytic) / (sqrt(dot(g, g, x->numel) * dot(v, v, x->numel)) + 1e-30);
        if (!(err <= worst)) worst = err;
    }
    gan_tensor_upload(ctx, x, x0);
    CHECKF(worst <= tol, "%s: input %d: relative error %.3g (bound %.1g)", c->name, k, worst, tol);
    printf("%-34s input %d  max error %.2e\n", c->name, k, worst);
    free(x0), free(g), free(v), free(moved);
}

/* Runs the forward once for r's shape, then hands r to the caller's backward. */
static float *make_r(gan_ctx *ctx, op_case *c, gan_tensor **r_dev) {
    *r_dev = NULL;
    gan_tensor *y = c->forward(ctx, c->in, c);
    CHECKF(y != NULL, "%s: forward failed: %s", c->name, ctx->error.msg);
    if (!y) return NULL;
    *r_dev = random_tensor(ctx, y->ndim, y->shape, 1.0f);
    gan_tensor_free(ctx, y);
    return host_of(ctx, *r_dev);
}

static void free_case(gan_ctx *ctx, op_case *c) {
    for (int i = 0; i < c->count; i++) gan_tensor_free(ctx, c->in[i]);
}

/* ---------------------------------------------------------------- linear */

static gan_tensor *fwd_linear(gan_ctx *ctx, gan_tensor *const *in, const op_case *c) {
    return gan_linear(ctx, in[0], in[1], in[2], c->gain, 0.5f);
}

static void test_linear(gan_ctx *ctx) {
    op_case c = {.name = "linear", .count = 3, .forward = fwd_linear, .gain = 0.25f};
    c.in[0] = random_tensor(ctx, 2, (int64_t[]){5, 7}, 1);
    c.in[1] = random_tensor(ctx, 2, (int64_t[]){6, 7}, 1);
    c.in[2] = random_tensor(ctx, 1, (int64_t[]){6}, 1);
    gan_tensor *dy;
    float *r = make_r(ctx, &c, &dy);
    gan_tensor *dx = gan_linear_backward_input(ctx, dy, c.in[1], c.gain);
    gan_tensor *dw = gan_linear_backward_weight(ctx, dy, c.in[0], c.gain);
    gan_tensor *db = gan_sum_channels(ctx, dy, 0.5f);
    check_input(ctx, &c, 0, dx, r, LINEAR_STEP, LINEAR_TOL);
    check_input(ctx, &c, 1, dw, r, LINEAR_STEP, LINEAR_TOL);
    check_input(ctx, &c, 2, db, r, LINEAR_STEP, LINEAR_TOL);
    gan_tensor_free(ctx, dx), gan_tensor_free(ctx, dw), gan_tensor_free(ctx, db), gan_tensor_free(ctx, dy);
    free(r);
    free_case(ctx, &c);
}

static gan_tensor *fwd_normalize(gan_ctx *ctx, gan_tensor *const *in, const op_case *c) {
    (void)c;
    return gan_normalize_2nd_moment(ctx, in[0]);
}

static void test_normalize(gan_ctx *ctx) {
    op_case c = {.name = "normalize_2nd_moment", .count = 1, .forward = fwd_normalize};
    c.in[0] = random_tensor(ctx, 2, (int64_t[]){3, 16}, 1);
    gan_tensor *dy;
    float *r = make_r(ctx, &c, &dy);
    gan_tensor *dx = gan_normalize_2nd_moment_backward(ctx, dy, c.in[0]);
    check_input(ctx, &c, 0, dx, r, SMOOTH_STEP, SMOOTH_TOL);
    gan_tensor_free(ctx, dx), gan_tensor_free(ctx, dy);
    free(r);
    free_case(ctx, &c);
}

/* ---------------------------------------------------------------- bias_act */

static gan_tensor *fwd_bias_act(gan_ctx *ctx, gan_tensor *const *in, const op_case *c) {
    return gan_bias_act(ctx, in[0], in[1], c->count > 2 ? in[2] : NULL, c->count > 2 ? in[3] : NULL, c->act);
}

/* Moves x so that the activation's input z = x + noise*strength + bias is at
 * least KINK_MARGIN from 0 and from the clamp bound (in z units). */
static void keep_off_kinks(gan_ctx *ctx, op_case *c) {
    gan_tensor *x = c->in[0];
    float *xs = host_of(ctx, x), *b = host_of(ctx, c->in[1]), *z = host_of(ctx, c->in[2]), *s = host_of(ctx, c->in[3]);
    int64_t ch = x->shape[1], plane = x->shape[2] * x->shape[3];
    float bound = c->act.clamp >= 0 ? c->act.clamp / c->act.gain : INFINITY;
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t n = i / (ch * plane), at = i % plane;
        float noise = z[c->in[2]->ndim == 4 ? n * plane + at : at];
        float v = xs[i] + noise * s[0] + b[i / plane % ch];
        float kinks[3] = {0, bound, c->act.alpha * -bound}; /* negative side: lrelu(z) * gain = -clamp */
        for (int k = 0; k < 3; k++)
            if (fabsf(v - kinks[k]) < KINK_MARGIN) xs[i] += v >= kinks[k] ? KINK_MARGIN : -KINK_MARGIN;
    }
    gan_tensor_upload(ctx, x, xs);
    free(xs), free(b), free(z), free(s);
}

static void test_bias_act(gan_ctx *ctx, int per_sample_noise, float clamp) {
    op_case c = {.name = per_sample_noise ? "bias_act (per-sample noise)" : "bias_act (noise, clamp)",
                 .count = 4,
                 .forward = fwd_bias_act,
                 .act = {GAN_ACT_LRELU, 0.2f, sqrtf(2.0f), clamp}};
    c.in[0] = random_tensor(ctx, 4, (int64_t[]){2, 3, 5, 4}, 1);
    c.in[1] = random_tensor(ctx, 1, (int64_t[]){3}, 1);
    c.in[2] = per_sample_noise ? random_tensor(ctx, 4, (int64_t[]){2, 1, 5, 4}, 1)
                               : random_tensor(ctx, 2, (int64_t[]){5, 4}, 1);
    c.in[3] = random_tensor(ctx, 0, NULL, 1);
    keep_off_kinks(ctx, &c);
    gan_tensor *dy, *y = fwd_bias_act(ctx, c.in, &c);
    float *r = make_r(ctx, &c, &dy);
    gan_tensor *dz = gan_bias_act_backward(ctx, dy, y, c.act);
    gan_tensor *db = gan_sum_channels(ctx, dz, 1.0f), *ds = gan_noise_strength_grad(ctx, dz, c.in[2]);
    check_input(ctx, &c, 0, dz, r, KINK_STEP, KINK_TOL);
    check_input(ctx, &c, 1, db, r, KINK_STEP, KINK_TOL);
    check_input(ctx, &c, 3, ds, r, KINK_STEP, KINK_TOL);
    gan_tensor_free(ctx, y), gan_tensor_free(ctx, dz), gan_tensor_free(ctx, db), gan_tensor_free(ctx, ds);
    gan_tensor_free(ctx, dy);
    free(r);
    free_case(ctx, &c);
}

/* ---------------------------------------------------------------- conv2d */

static gan_tensor *fwd_conv2d(gan_ctx *ctx, gan_tensor *const *in, const op_case *c) {
    return gan_conv2d(ctx, in[0], in[1], c->conv);
}

static void test_conv2d(gan_ctx *ctx, int k, int stride, int pad, int h) {
    char name[64];
    snprintf(name, sizeof name, "conv2d k%d stride %d pad %d", k, stride, pad);
    op_case c = {.name = name, .count = 2, .forward = fwd_conv2d, .conv = {stride, pad, 0.3f}};
    c.in[0] = random_tensor(ctx, 4, (int64_t[]){2, 3, h, h + 1}, 1);
    c.in[1] = random_tensor(ctx, 4, (int64_t[]){4, 3, k, k}, 1);
    gan_tensor *dy;
    float *r = make_r(ctx, &c, &dy);
    gan_tensor *dx = gan_conv2d_backward_input(ctx, dy, c.in[1], c.conv, h, h + 1);
    gan_tensor *dw = gan_conv2d_backward_weight(ctx, dy, c.in[0], k, c.conv);
    check_input(ctx, &c, 0, dx, r, LINEAR_STEP, LINEAR_TOL);
    check_input(ctx, &c, 1, dw, r, LINEAR_STEP, LINEAR_TOL);
    gan_tensor_free(ctx, dx), gan_tensor_free(ctx, dw), gan_tensor_free(ctx, dy);
    free(r);
    free_case(ctx, &c);
}

/* ---------------------------------------------------------------- upfirdn2d */

static gan_tensor *fwd_upfirdn2d(gan_ctx *ctx, gan_tensor *const *in, const op_case *c) {
    return gan_upfirdn2d(ctx, in[0], in[1], c->fir);
}

static void test_upfirdn2d(gan_ctx *ctx, const char *name, gan_upfirdn2d_args args, int h, int w) {
    static const float taps[4] = {1, 3, 3, 1};
    float f[16];
    for (int i = 0; i < 16; i++) f[i] = taps[i / 4] * taps[i % 4] / 64.0f;
    op_case c = {.name = name, .count = 1, .forward = fwd_upfirdn2d, .fir = args};
    c.in[0] = random_tensor(ctx, 4, (int64_t[]){2, 2, h, w}, 1);
    c.in[1] = gan_tensor_from_host(ctx, 2, (int64_t[]){4, 4}, f);
    gan_tensor *dy;
    float *r = make_r(ctx, &c, &dy);
    gan_tensor *dx = gan_upfirdn2d_backward(ctx, dy, c.in[1], args, h, w);
    check_input(ctx, &c, 0, dx, r, LINEAR_STEP, LINEAR_TOL);
    gan_tensor_free(ctx, dx), gan_tensor_free(ctx, dy), gan_tensor_free(ctx, c.in[1]);
    free(r);
    free_case(ctx, &c);
}

/* ---------------------------------------------------------------- modconv */

static gan_tensor *fwd_modconv(gan_ctx *ctx, gan_tensor *const *in, const op_case *c) {
    return gan_modconv(ctx, in[0], in[1], in[2], c->mod);
}

/* size: the input plane's side. Output planes up to 256 pixels take the
 * batched path of gan/cpu/modconv_backward.c, larger ones the per-sample one. */
static void test_modconv(gan_ctx *ctx, int k, int up, int demodulate, int size) {
    static const float taps[4] = {1, 3, 3, 1};
    float f[16];
    for (int i = 0; i < 16; i++) f[i] = taps[i / 4] * taps[i % 4] / 64.0f;
    gan_tensor *filter = gan_tensor_from_host(ctx, 2, (int64_t[]){4, 4}, f);
    char name[64];
    snprintf(name, sizeof name, "modconv k%d up %d demod %d %dx%d", k, up, demodulate, size, size + 1);
    op_case c = {.name = name, .count = 3, .forward = fwd_modconv, .mod = {demodulate, up, filter}};
    c.in[0] = random_tensor(ctx, 4, (int64_t[]){2, 5, size, size + 1}, 1);
    c.in[1] = random_tensor(ctx, 4, (int64_t[]){4, 5, k, k}, 1);
    c.in[2] = random_tensor(ctx, 2, (int64_t[]){2, 5}, 1);
    gan_tensor *dy, *dx = NULL, *dw = NULL, *ds = NULL;
    float *r = make_r(ctx, &c, &dy);
    CHECKF(gan_modconv_backward(ctx, dy, c.in[0], c.in[1], c.in[2], c.mod, &dx, &dw, &ds) == 0, "%s: %s", name,
           ctx->error.msg);
    check_input(ctx, &c, 0, dx, r, LINEAR_STEP, LINEAR_TOL); /* linear in x */
    check_input(ctx, &c, 1, dw, r, demodulate ? SMOOTH_STEP : LINEAR_STEP, demodulate ? SMOOTH_TOL : LINEAR_TOL);
    check_input(ctx, &c, 2, ds, r, demodulate ? SMOOTH_STEP : LINEAR_STEP, demodulate ? SMOOTH_TOL : LINEAR_TOL);
    gan_tensor_free(ctx, dx), gan_tensor_free(ctx, dw), gan_tensor_free(ctx, ds), gan_tensor_free(ctx, dy);
    gan_tensor_free(ctx, filter);
    free(r);
    free_case(ctx, &c);
}

/* ---------------------------------------------------------------- mbstd */

static gan_tensor *fwd_mbstd(gan_ctx *ctx, gan_tensor *const *in, const op_case *c) {
    return gan_mbstd(ctx, in[0], c->mbstd);
}

static void test_mbstd(gan_ctx *ctx, int n, int group, int features) {
    char name[64];
    snprintf(name, sizeof name, "mbstd N %d group %d F %d", n, group, features);
    op_case c = {.name = name, .count = 1, .forward = fwd_mbstd, .mbstd = {group, features}};
    c.in[0] = random_tensor(ctx, 4, (int64_t[]){n, 4, 3, 3}, 1);
    gan_tensor *dy;
    float *r = make_r(ctx, &c, &dy);
    gan_tensor *dx = gan_mbstd_backward(ctx, dy, c.in[0], c.mbstd);
    check_input(ctx, &c, 0, dx, r, SMOOTH_STEP, SMOOTH_TOL);
    gan_tensor_free(ctx, dx), gan_tensor_free(ctx, dy);
    free(r);
    free_case(ctx, &c);
}

/* A wrong shape is refused with a message, not a crash. */
static void test_bad_shapes(gan_ctx *ctx) {
    gan_tensor *dy = random_tensor(ctx, 4, (int64_t[]){2, 3, 4, 4}, 1);
    gan_tensor *w = random_tensor(ctx, 4, (int64_t[]){5, 2, 3, 3}, 1);
    gan_tensor *dx = gan_conv2d_backward_input(ctx, dy, w, (gan_conv2d_args){1, 1, 1}, 4, 4);
    CHECK(dx == NULL && gan_ctx_failed(ctx));
    CHECKF(strstr(ctx->error.msg, "conv2d") != NULL, "message: %s", ctx->error.msg);
    gan_error taken;
    gan_ctx_take_error(ctx, &taken);
    gan_tensor_free(ctx, dy), gan_tensor_free(ctx, w);
}

int main(void) {
    gan_ctx *ctx = test_context();
    if (!ctx) return 1;
    test_linear(ctx);
    test_normalize(ctx);
    test_bias_act(ctx, 0, 1.5f);
    test_bias_act(ctx, 1, -1.0f);
    test_conv2d(ctx, 3, 1, 1, 6);
    test_conv2d(ctx, 3, 1, 1, 33); /* a large odd plane: the Winograd kernel */
    test_conv2d(ctx, 3, 2, 0, 9);
    test_conv2d(ctx, 1, 1, 0, 5);
    test_conv2d(ctx, 1, 2, 0, 6);
    test_upfirdn2d(ctx, "upfirdn2d up 2 (upsample2d)",
                   (gan_upfirdn2d_args){2, 2, 1, 1, 2, 1, 2, 1, 4.0f, 0}, 5, 6);
    test_upfirdn2d(ctx, "upfirdn2d down 2 (downsample2d)",
                   (gan_upfirdn2d_args){1, 1, 2, 2, 1, 1, 1, 1, 1.0f, 0}, 8, 6);
    test_upfirdn2d(ctx, "upfirdn2d pad 2 (D conv1)", (gan_upfirdn2d_args){1, 1, 1, 1, 2, 2, 2, 2, 1.0f, 0}, 6, 6);
    test_upfirdn2d(ctx, "upfirdn2d odd pads, flipped",
                   (gan_upfirdn2d_args){2, 1, 1, 2, 3, 0, 1, 2, 2.0f, 1}, 5, 7);
    for (int size = 6; size <= 16; size += 10) { /* both paths */
        test_modconv(ctx, 3, 1, 1, size);
        test_modconv(ctx, 1, 1, 0, size);
        test_modconv(ctx, 3, 2, 1, size);
        test_modconv(ctx, 3, 1, 0, size);
    }
    test_mbstd(ctx, 4, 2, 1);
    test_mbstd(ctx, 8, 4, 2);
    test_bad_shapes(ctx);
    return test_finish(ctx);
}
