/* ADA against stylegan2-ada-pytorch (fixtures by
 * tools/reference/make_ada_fixtures.py):
 * - the p heuristic against the trajectory the reference's training loop
 *   computes for the same scripted discriminator outputs
 *   (tests/fixtures/ada_p.txt): equal to the bit at every minibatch, rising
 *   past 1, falling and held at 0;
 * - the colour transforms on fixed parameters (tests/fixtures/ada_color.safetensors):
 *   the composed matrices, the transformed RGB and grey images and their
 *   gradients, within 1e-4;
 * - the inverse geometric matrix on fixed parameters
 *   (tests/fixtures/ada_geom.safetensors);
 * - the resampling (affine_grid + bilinear grid_sample), reflection padding
 *   and their gradients (tests/fixtures/ada_sample.safetensors);
 * - the whole geometric execution (padding, sym6 up-sampling, resampling,
 *   down-sampling) and its gradient (tests/fixtures/ada_geom_run.safetensors);
 * - the image-space transforms (tests/fixtures/ada_image.safetensors): the
 *   filter bank, the band gains, the filtering and its gradient, the cutout
 *   masks; the noise's spread;
 * - the bgc and bgcfnc pipelines: the same seed gives the same images, and
 *   the backward pass is the adjoint of the forward pass (for fixed draws the
 *   pipe is affine in the images: A x + b, b what it makes of a black
 *   image), and the tape's Jacobian is A. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/context.h"
#include "gan/ops.h"
#include "tests/fixture_util.h"
#include "tests/test.h"
#include "train/ada.h"
#include "train/augment.h"

#define FIXTURE "tests/fixtures/ada_p.txt"
#define BATCH 8
#define STEPS 240

/* The script of make_ada_fixtures.py: integer logits, so both sides agree exactly. */
static void real_logits(int b, float *out) {
    int t = b < 120 ? 2 : 12;
    for (int i = 0; i < BATCH; i++) out[i] = (float)((7 * b + 13 * i) % 17 - t);
}

static void check_trajectory(void) {
    FILE *f = fopen(FIXTURE, "r");
    CHECKF(f != NULL, "cannot open %s", FIXTURE);
    if (!f) return;
    ada_controller a = ada_controller_new(0.0f);
    a.kimg = 0.5;
    int adjustments = 0, mismatches = 0;
    float highest = 0, logits[BATCH];
    for (int b = 0; b < STEPS; b++) {
        int line_b;
        float want;
        if (fscanf(f, "%d %f", &line_b, &want) != 2 || line_b != b) {
            CHECKF(0, "%s: bad line for minibatch %d", FIXTURE, b);
            break;
        }
        real_logits(b, logits);
        ada_report_real_logits(&a, logits, BATCH);                       /* Dmain */
        if (b % 16 == 0) ada_report_real_logits(&a, logits, BATCH);      /* Dreg (R1) */
        adjustments += ada_after_minibatch(&a, b + 1, BATCH);
        if (a.p != want && mismatches++ < 5) CHECKF(0, "minibatch %d: p %.9g, reference %.9g", b, a.p, want);
        if (a.p > highest) highest = a.p;
    }
    fclose(f);
    CHECK(adjustments == STEPS / 4);
    CHECKF(highest > 1.0f && a.p == 0.0f, "the script should lift p past 1 and bring it back to 0 (max %g, end %g)",
           highest, a.p);
}

/* Between adjustments nothing moves; an interval without reports leaves p. */
static void check_intervals(void) {
    ada_controller a = ada_controller_new(0.25f);
    float up[4] = {1, 2, 3, 4};
    ada_report_real_logits(&a, up, 4);
    CHECK(ada_after_minibatch(&a, 1, 4) == 0 && a.p == 0.25f);
    CHECK(ada_after_minibatch(&a, 4, 4) == 1 && a.p > 0.25f);
    float p = a.p;
    CHECK(ada_after_minibatch(&a, 8, 4) == 0 && a.p == p);
}

#define COLOR_FIXTURE "tests/fixtures/ada_color.safetensors"
#define COLOR_TOLERANCE 1e-4

/* The matrices dne composes from the fixture's parameters, uploaded as [N, 4, 4]. */
static gan_tensor *composed_matrices(gan_ctx *ctx, gan_st_file *f) {
    gan_tensor *params = fixture_tensor(ctx, f, "params");
    if (!params) return NULL;
    int64_t n = params->shape[0];
    float *p = fixture_host(ctx, params), *m = malloc((size_t)n * 16 * sizeof *m);
    for (int64_t s = 0; s < n; s++) {
        const float *q = p + s * 5;
        augment_color a = {1, 1, 1, 1, 1, q[0], q[1], q[2], q[3], q[4]};
        augment_color_matrix(&a, m + s * 16);
    }
    gan_tensor *out = gan_tensor_from_host(ctx, 3, (int64_t[]){n, 4, 4}, m);
    free(p), free(m);
    gan_tensor_free(ctx, params);
    return out;
}

static void check_color(void) {
    gan_error err = {{0}};
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(COLOR_FIXTURE, &f, &err), &err);
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    if (!f || !ctx) return;
    gan_tensor *mine = composed_matrices(ctx, f), *want = fixture_tensor(ctx, f, "C");
    printf("colour matrices: %.2g\n", fixture_compare(ctx, mine, want, "C", 1e-6));
    const char *kinds[2] = {"rgb", "grey"};
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s.x", kinds[k]);
        gan_tensor *x = fixture_tensor(ctx, f, name);
        snprintf(name, sizeof name, "%s.dy", kinds[k]);
        gan_tensor *dy = fixture_tensor(ctx, f, name);
        gan_tensor *y = gan_color_transform(ctx, x, mine), *dx = gan_color_transform_backward(ctx, dy, mine);
        snprintf(name, sizeof name, "%s.y", kinds[k]);
        gan_tensor *want_y = fixture_tensor(ctx, f, name);
        double ey = fixture_compare(ctx, y, want_y, name, COLOR_TOLERANCE);
        snprintf(name, sizeof name, "%s.dx", kinds[k]);
        gan_tensor *want_dx = fixture_tensor(ctx, f, name);
        double edx = fixture_compare(ctx, dx, want_dx, name, COLOR_TOLERANCE);
        printf("colour transform %s: images %.2g, gradient %.2g\n", kinds[k], ey, edx);
        gan_tensor_free(ctx, x), gan_tensor_free(ctx, dy), gan_tensor_free(ctx, y), gan_tensor_free(ctx, dx);
        gan_tensor_free(ctx, want_y), gan_tensor_free(ctx, want_dx);
    }
    /* Bad shapes are refused with the problem named. */
    gan_tensor *four = gan_tensor_4d(ctx, 6, 4, 2, 2);
    CHECK(gan_color_transform(ctx, four, mine) == NULL && strstr(ctx->error.msg, "RGB or grey"));
    gan_ctx_take_error(ctx, &err);
    gan_tensor_free(ctx, four);
    gan_tensor_free(ctx, mine), gan_tensor_free(ctx, want);
    CHECKF(!gan_ctx_failed(ctx), "%s", ctx->error.msg);
    gan_ctx_free(ctx);
    gan_st_close(f);
}

/* The draws follow the reference's distributions: at p = 0 every sample is
 * the identity, at p = 1 every transform applies (a luma flip to half),
 * in between a fraction p applies; the spreads match. */
static void check_color_draws(void) {
    enum { N = 4000 };
    static augment_color a[N];
    augment_color_set bgc = augment_color_bgc();
    augment_color_draw(&bgc, 0.0f, 11, N, a);
    int identity = 0;
    for (int i = 0; i < N; i++)
        identity += a[i].brightness == 0 && a[i].contrast == 1 && a[i].lumaflip == 0 && a[i].hue == 0 &&
                    a[i].saturation == 1 && a[i].brightness_on && a[i].saturation_on;
    CHECK(identity == N);
    augment_color_draw(&bgc, 1.0f, 11, N, a);
    double sum_b = 0, sq_b = 0, sq_c = 0, sq_s = 0, flips = 0, hue_min = 10, hue_max = -10;
    for (int i = 0; i < N; i++) {
        sum_b += a[i].brightness, sq_b += a[i].brightness * a[i].brightness;
        sq_c += pow(log2(a[i].contrast), 2), sq_s += pow(log2(a[i].saturation), 2), flips += a[i].lumaflip;
        hue_min = fmin(hue_min, a[i].hue), hue_max = fmax(hue_max, a[i].hue);
    }
    double std_b = sqrt(sq_b / N - pow(sum_b / N, 2)), std_c = sqrt(sq_c / N), std_s = sqrt(sq_s / N);
    printf("p 1: brightness std %.3f, log2 contrast std %.3f, log2 saturation std %.3f, flips %.3f, hue [%.2f, %.2f]\n",
           std_b, std_c, std_s, flips / N, hue_min, hue_max);
    CHECK(fabs(std_b - 0.2) < 0.01 && fabs(std_c - 0.5) < 0.025 && fabs(std_s - 1) < 0.05);
    CHECK(fabs(flips / N - 0.5) < 0.03 && hue_min < -3.0 && hue_max > 3.0 && hue_max <= 3.1416f);
    augment_color_draw(&bgc, 0.3f, 12, N, a);
    int applied = 0;
    for (int i = 0; i < N; i++) applied += a[i].brightness != 0;
    printf("p 0.3: brightness applied to %.3f of the samples\n", (double)applied / N);
    CHECK(fabs((double)applied / N - 0.3) < 0.03);
}

static void check_geom(void) {
    gan_error err = {{0}};
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open("tests/fixtures/ada_geom.safetensors", &f, &err), &err);
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 1, &err);
    if (!f || !ctx) return;
    gan_tensor *params = fixture_tensor(ctx, f, "params"), *want = fixture_tensor(ctx, f, "G_inv");
    if (params && want) {
        int64_t n = params->shape[0];
        float *q = fixture_host(ctx, params), *g = malloc((size_t)n * 9 * sizeof *g);
        for (int64_t s = 0; s < n; s++) {
            const float *v = q + s * 10;
            augment_geom a = {1, 1, 1, 1, 1, 1, 1, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
            augment_geom_inverse(&a, 64, 48, g + s * 9);
        }
        gan_tensor *mine = gan_tensor_from_host(ctx, 3, (int64_t[]){n, 3, 3}, g);
        printf("geometric matrices: %.2g\n", fixture_compare(ctx, mine, want, "G_inv", 1e-6));
        gan_tensor_free(ctx, mine);
        free(q), free(g);
    }
    gan_tensor_free(ctx, params), gan_tensor_free(ctx, want);
    gan_ctx_free(ctx);
    gan_st_close(f);
}

static void check_affine_sample(void) {
    gan_error err = {{0}};
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open("tests/fixtures/ada_sample.safetensors", &f, &err), &err);
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    if (!f || !ctx) return;
    gan_tensor *theta = fixture_tensor(ctx, f, "theta"), *x = fixture_tensor(ctx, f, "x");
    gan_tensor *dy = fixture_tensor(ctx, f, "dy"), *want_y = fixture_tensor(ctx, f, "y");
    gan_tensor *want_dx = fixture_tensor(ctx, f, "dx");
    gan_tensor *y = gan_affine_sample(ctx, x, theta, 8, 10), *dx = gan_affine_sample_backward(ctx, dy, theta, 9, 11);
    double ey = fixture_compare(ctx, y, want_y, "affine_sample y", COLOR_TOLERANCE);
    double edx = fixture_compare(ctx, dx, want_dx, "affine_sample dx", COLOR_TOLERANCE);
    printf("affine grid sample: images %.2g, gradient %.2g\n", ey, edx);
    gan_tensor *px = fixture_tensor(ctx, f, "pad.x"), *pdy = fixture_tensor(ctx, f, "pad.dy");
    gan_tensor *want_py = fixture_tensor(ctx, f, "pad.y"), *want_pdx = fixture_tensor(ctx, f, "pad.dx");
    gan_pad_args pad = {3, 1, 2, 4};
    gan_tensor *py = gan_pad_reflect(ctx, px, pad), *pdx = gan_pad_reflect_backward(ctx, pdy, pad);
    printf("reflection padding: images %.2g, gradient %.2g\n", fixture_compare(ctx, py, want_py, "pad.y", 0),
           fixture_compare(ctx, pdx, want_pdx, "pad.dx", 1e-6));
    CHECK(gan_pad_reflect(ctx, px, (gan_pad_args){0, 0, 5, 0}) == NULL && strstr(ctx->error.msg, "smaller than"));
    gan_ctx_take_error(ctx, &err);
    gan_tensor *pads[] = {px, pdy, want_py, want_pdx, py, pdx};
    for (size_t i = 0; i < sizeof pads / sizeof *pads; i++) gan_tensor_free(ctx, pads[i]);
    CHECK(gan_affine_sample(ctx, x, x, 8, 10) == NULL && strstr(ctx->error.msg, "want [N, 2, 3]"));
    gan_ctx_take_error(ctx, &err);
    gan_tensor *all[] = {theta, x, dy, want_y, want_dx, y, dx};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gan_tensor_free(ctx, all[i]);
    CHECKF(!gan_ctx_failed(ctx), "%s", ctx->error.msg);
    gan_ctx_free(ctx);
    gan_st_close(f);
}

static void check_geom_run(void) {
    gan_error err = {{0}};
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open("tests/fixtures/ada_geom_run.safetensors", &f, &err), &err);
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    if (!f || !ctx) return;
    gan_tensor *params = fixture_tensor(ctx, f, "params"), *x = fixture_tensor(ctx, f, "x");
    gan_tensor *dy = fixture_tensor(ctx, f, "dy"), *want_y = fixture_tensor(ctx, f, "y");
    gan_tensor *want_dx = fixture_tensor(ctx, f, "dx"), *hz = augment_hz_geom(ctx);
    if (params && x) {
        int n = (int)params->shape[0];
        float *q = fixture_host(ctx, params), *g = malloc((size_t)n * 9 * sizeof *g);
        for (int s = 0; s < n; s++) {
            const float *v = q + s * 10;
            augment_geom a = {1, 1, 1, 1, 1, 1, 1, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
            augment_geom_inverse(&a, 20, 16, g + s * 9);
        }
        augment_geom_run run;
        gan_tensor *y = augment_geometric(ctx, x, g, hz, &run);
        gan_tensor *dx = y ? augment_geometric_backward(ctx, dy, hz, &run) : NULL;
        printf("geometric execution (pad %d %d %d %d): images %.2g, gradient %.2g\n", run.pad.left, run.pad.right,
               run.pad.top, run.pad.bottom, fixture_compare(ctx, y, want_y, "geometric y", COLOR_TOLERANCE),
               fixture_compare(ctx, dx, want_dx, "geometric dx", COLOR_TOLERANCE));
        augment_geom_run_free(ctx, &run);
        gan_tensor_free(ctx, y), gan_tensor_free(ctx, dx);
        free(q), free(g);
    }
    gan_tensor *all[] = {params, x, dy, want_y, want_dx, hz};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gan_tensor_free(ctx, all[i]);
    CHECKF(!gan_ctx_failed(ctx), "%s", ctx->error.msg);
    gan_ctx_free(ctx);
    gan_st_close(f);
}

/* The image-space transforms against the reference on fixed parameters. */
static void check_image(void) {
    gan_error err = {{0}};
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open("tests/fixtures/ada_image.safetensors", &f, &err), &err);
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    if (!f || !ctx) return;
    float bank[AUGMENT_BANDS][AUGMENT_FILTER_TAPS];
    augment_filter_bank(bank);
    gan_tensor *got_bank = gan_tensor_from_host(ctx, 2, (int64_t[]){AUGMENT_BANDS, AUGMENT_FILTER_TAPS}, &bank[0][0]);
    gan_tensor *want_bank = fixture_tensor(ctx, f, "bank"), *amp = fixture_tensor(ctx, f, "amplification");
    gan_tensor *want_gains = fixture_tensor(ctx, f, "gains"), *want_taps = fixture_tensor(ctx, f, "taps");
    gan_tensor *x = fixture_tensor(ctx, f, "x"), *dy = fixture_tensor(ctx, f, "dy");
    gan_tensor *want_y = fixture_tensor(ctx, f, "y"), *want_dx = fixture_tensor(ctx, f, "dx");
    gan_tensor *sizes = fixture_tensor(ctx, f, "cutout_size"), *centres = fixture_tensor(ctx, f, "cutout_centre");
    gan_tensor *want_mask = fixture_tensor(ctx, f, "mask"), *gains = NULL, *taps = NULL, *y = NULL, *dx = NULL;
    gan_tensor *mask = NULL;
    if (amp && sizes && centres && x) {
        float *a = fixture_host(ctx, amp), *size = fixture_host(ctx, sizes), *centre = fixture_host(ctx, centres);
        augment_image draws[4];
        float g[4 * AUGMENT_BANDS];
        for (int s = 0; s < 4; s++) {
            augment_filter_gains(a + s * AUGMENT_BANDS, draws[s].gains);
            memcpy(g + s * AUGMENT_BANDS, draws[s].gains, sizeof draws[s].gains);
            draws[s].cutout_size = size[s], draws[s].cutout_x = centre[2 * s], draws[s].cutout_y = centre[2 * s + 1];
        }
        gains = gan_tensor_from_host(ctx, 2, (int64_t[]){4, AUGMENT_BANDS}, g);
        taps = augment_filter_taps(ctx, draws, 4);
        y = augment_filter(ctx, x, taps);
        dx = augment_filter_backward(ctx, dy, taps);
        mask = augment_cutout_mask(ctx, x, draws);
        free(a), free(size), free(centre);
    }
    printf("image filter: bank %.2g, gains %.2g, taps %.2g, images %.2g, gradient %.2g; cutout masks %.2g\n",
           fixture_compare(ctx, got_bank, want_bank, "filter bank", 1e-6),
           fixture_compare(ctx, gains, want_gains, "band gains", 1e-6),
           fixture_compare(ctx, taps, want_taps, "filter taps", 1e-6),
           fixture_compare(ctx, y, want_y, "filtered images", COLOR_TOLERANCE),
           fixture_compare(ctx, dx, want_dx, "filter gradient", COLOR_TOLERANCE),
           fixture_compare(ctx, mask, want_mask, "cutout mask", 0));
    gan_tensor *all[] = {got_bank, want_bank, amp, want_gains, want_taps, x, dy, want_y, want_dx, sizes, centres,
                         want_mask, gains, taps, y, dx, mask};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gan_tensor_free(ctx, all[i]);
    CHECKF(!gan_ctx_failed(ctx), "%s", ctx->error.msg);
    gan_ctx_free(ctx);
    gan_st_close(f);
}

/* Additive noise at p 1: each sample's noise has standard deviation sigma,
 * and sigma is |N(0, 0.1)| (mean 0.1 sqrt(2 / pi)); at p 0 nothing changes. */
static void check_noise(void) {
    enum { N = 400 };
    gan_error err = {{0}};
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    augment_pipe pipe;
    CHECK_OK(ctx && augment_pipe_named(ctx, "noise", &pipe) == 0 ? 0 : -1, &err);
    augment_image draws[N];
    augment_image_draw(&pipe.image, 1.0f, 9, N, draws);
    int64_t shape[4] = {N, 3, 16, 16};
    float *zeros = calloc((size_t)N * 3 * 16 * 16, sizeof *zeros);
    gan_tensor *black = gan_tensor_from_host(ctx, 4, shape, zeros);
    augment_image_tape tape = {0};
    gan_tensor *noisy = augment_image_stage(ctx, &pipe.image, gan_scale(ctx, black, 1), 1.0f, 9, &tape);
    gan_tensor *same = augment_apply(ctx, &pipe, black, 0, 9, NULL);
    augment_image_tape_free(ctx, &tape);
    float *h = noisy ? fixture_host(ctx, noisy) : NULL;
    double sigma_sum = 0, worst = 0;
    for (int s = 0; h && s < N; s++) {
        double sq = 0;
        for (int i = 0; i < 3 * 16 * 16; i++) sq += (double)h[s * 768 + i] * h[s * 768 + i];
        double std = sqrt(sq / 768), want = draws[s].sigma;
        worst = fmax(worst, fabs(std - want) / (want + 1e-3));
        sigma_sum += want;
    }
    printf("noise: sample spread vs its sigma within %.3f, mean sigma %.4f (want %.4f)\n", worst, sigma_sum / N,
           0.1 * sqrt(2 / 3.14159265358979));
    CHECK(h && worst < 0.15 && fabs(sigma_sum / N - 0.0798) < 0.008);
    CHECK(same && fixture_compare(ctx, same, black, "noise at p 0", 0) == 0);
    free(h), free(zeros);
    gan_tensor_free(ctx, black), gan_tensor_free(ctx, noisy), gan_tensor_free(ctx, same);
    augment_pipe_free(ctx, &pipe);
    CHECKF(!gan_ctx_failed(ctx), "%s", ctx->error.msg);
    gan_ctx_free(ctx);
}

/* Geometric draws: identity at p 0; at p 1 every transform applies with its
 * spread (a rotation before or after with probability 1 overall). */
static void check_geom_draws(void) {
    enum { N = 4000 };
    static augment_geom a[N];
    augment_geom_set bgc = augment_geom_bgc();
    augment_geom_draw(&bgc, 0.0f, 21, N, a);
    int identity = 0;
    for (int i = 0; i < N; i++) {
        float g[9];
        augment_geom_inverse(&a[i], 64, 64, g);
        identity += g[0] == 1 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 1 && g[5] == 0;
    }
    CHECK(identity == N);
    augment_geom_draw(&bgc, 1.0f, 21, N, a);
    double flips = 0, quarters = 0, sq_scale = 0, sq_frac = 0, rotated = 0, xint_max = 0;
    for (int i = 0; i < N; i++) {
        flips += a[i].xflip, quarters += a[i].rotate90, sq_scale += pow(log2(a[i].scale), 2);
        sq_frac += a[i].xfrac_x * a[i].xfrac_x, rotated += a[i].rotate_pre != 0 || a[i].rotate_post != 0;
        xint_max = fmax(xint_max, fabs(a[i].xint_x));
    }
    printf("geometry at p 1: flips %.3f, mean quarter turns %.2f, log2 scale std %.3f, xfrac std %.3f, rotated %.3f\n",
           flips / N, quarters / N, sqrt(sq_scale / N), sqrt(sq_frac / N), rotated / N);
    CHECK(fabs(flips / N - 0.5) < 0.03 && fabs(quarters / N - 1.5) < 0.06 && fabs(sqrt(sq_scale / N) - 0.2) < 0.01);
    CHECK(fabs(sqrt(sq_frac / N) - 0.125) < 0.006 && rotated / N > 0.99 && xint_max <= 0.125 && xint_max > 0.12);
}

static double dot(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b) {
    float *x = fixture_host(ctx, a), *y = fixture_host(ctx, b);
    double sum = 0;
    for (int64_t i = 0; i < a->numel; i++) sum += (double)x[i] * y[i];
    free(x), free(y);
    return sum;
}

static void check_pipe(const char *name) {
    gan_error err = {{0}};
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    augment_pipe pipe;
    CHECK_OK(augment_pipe_named(ctx, name, &pipe) == 0 ? 0 : gan_ctx_take_error(ctx, &err), &err);
    int64_t shape[4] = {6, 3, 32, 32};
    gan_tensor *x = gan_randn(ctx, 4, shape, (uint64_t[]){1}, 1, 0), *v = gan_randn(ctx, 4, shape, (uint64_t[]){2}, 1, 0);
    gan_tensor *dy = gan_randn(ctx, 4, shape, (uint64_t[]){3}, 1, 0);
    augment_tape tape;
    gan_tensor *y = augment_apply(ctx, &pipe, x, 0.8f, 77, &tape), *again = augment_apply(ctx, &pipe, x, 0.8f, 77, NULL);
    gan_tensor *other = augment_apply(ctx, &pipe, x, 0.8f, 78, NULL);
    CHECK(y && again && fixture_compare(ctx, again, y, "same seed", 0) == 0);
    CHECK(other && dot(ctx, other, y) != dot(ctx, y, y));
    /* <dy, A v> = <A^T dy, v> with A v = pipe(v) - pipe(0) */
    gan_tensor *zero = gan_scale(ctx, v, 0), *b = augment_apply(ctx, &pipe, zero, 0.8f, 77, NULL);
    gan_tensor *av = augment_apply(ctx, &pipe, v, 0.8f, 77, NULL), *atdy = augment_apply_backward(ctx, &pipe, dy, &tape);
    if (av && atdy && b) {
        double lhs = dot(ctx, dy, av) - dot(ctx, dy, b), rhs = dot(ctx, atdy, v);
        printf("%s pipeline at p 0.8: <dy, A v> %.6f, <A^T dy, v> %.6f\n", name, lhs, rhs);
        CHECKF(fabs(lhs - rhs) <= 1e-4 * fabs(lhs), "the backward pass is not the adjoint: %g vs %g", lhs, rhs);
        /* the Jacobian replayed from the tape is that same A v */
        gan_tensor *minus_b = gan_scale(ctx, b, -1), *jv = augment_apply_linear(ctx, &pipe, v, &tape);
        gan_tensor *diff = minus_b ? gan_add(ctx, av, minus_b) : NULL;
        double err_jv = jv && diff ? fixture_compare(ctx, jv, diff, "Jacobian", 1e-5) : 1;
        printf("the tape's Jacobian A v against pipe(v) - pipe(0): %.2e\n", err_jv);
        gan_tensor_free(ctx, jv), gan_tensor_free(ctx, diff), gan_tensor_free(ctx, minus_b);
    }
    augment_tape_free(ctx, &tape);
    gan_tensor *all[] = {x, v, dy, y, again, other, av, atdy, zero, b};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gan_tensor_free(ctx, all[i]);
    augment_pipe_free(ctx, &pipe);
    CHECKF(!gan_ctx_failed(ctx), "%s", ctx->error.msg);
    gan_ctx_free(ctx);
}

int main(void) {
    check_trajectory();
    check_intervals();
    check_color();
    check_color_draws();
    check_geom();
    check_affine_sample();
    check_geom_run();
    check_geom_draws();
    check_image();
    check_noise();
    check_pipe("bgc");
    check_pipe("bgcfnc");
    TEST_DONE();
}
