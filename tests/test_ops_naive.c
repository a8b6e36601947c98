/* The CPU kernels against naive loops written here from the definitions, on
 * random shapes: odd sizes, batches, k = 1, 3, 5, and shapes that force the
 * banded GEMM paths to split. The up-sampling conv is checked against a
 * different formulation (zero-stuff, FIR, then a flipped 'valid' conv), as
 * stylegan2.md section 1.7 describes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan/context.h"
#include "gan/cpu/cpu.h"
#include "gan/ops.h"
#include "gan/rng.h"
#include "tests/test.h"

static uint64_t next_seed = 1;

static float *random_floats(size_t n) {
    float *p = malloc(n * sizeof *p + 1);
    gan_philox_normal(next_seed++, 0, p, n);
    return p;
}

static gan_tensor *random_tensor(gan_ctx *ctx, int ndim, const int64_t *shape, float **host) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    *host = random_floats((size_t)n);
    return gan_tensor_from_host(ctx, ndim, shape, *host);
}

static float *download(gan_ctx *ctx, const gan_tensor *t) {
    float *p = malloc((size_t)t->numel * sizeof *p + 1);
    gan_tensor_download(ctx, t, p);
    return p;
}

/* w_n[o, i, :] = w * s[i] * d[o], as the definition says. */
static void naive_modulate(const float *w, const float *s, int o_n, int i_n, int k, int demod, float *out) {
    for (int o = 0; o < o_n; o++) {
        double sum = 0;
        for (int i = 0; i < i_n; i++)
            for (int t = 0; t < k * k; t++) {
                double v = (double)w[(o * i_n + i) * k * k + t] * s[i];
                sum += v * v;
            }
        double d = demod ? 1.0 / sqrt(sum + 1e-8) : 1.0;
        for (int i = 0; i < i_n; i++)
            for (int t = 0; t < k * k; t++)
                out[(o * i_n + i) * k * k + t] = (float)(w[(o * i_n + i) * k * k + t] * s[i] * d);
    }
}

/* 'valid' correlation of x [I, H, W] (zero outside) with w [O, I, k, k],
 * output origin at (oy0, ox0) of the input, flipping the kernel if asked. */
static void naive_conv(const float *x, int i_n, int h, int w, const float *wt, int o_n, int k, int flip, int pad,
                       float *y, int oh, int ow) {
    for (int o = 0; o < o_n; o++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double acc = 0;
                for (int i = 0; i < i_n; i++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int sy = oy + ky - pad, sx = ox + kx - pad;
                            if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
                            int ty = flip ? k - 1 - ky : ky, tx = flip ? k - 1 - kx : kx;
                            acc += (double)x[(i * h + sy) * w + sx] * wt[((o * i_n + i) * k + ty) * k + tx];
                        }
                y[(o * oh + oy) * ow + ox] = (float)acc;
            }
}

/* upfirdn2d on one plane from the definition: zero-stuff, pad, true
 * convolution with f * gain, decimate. */
static void naive_upfirdn(const float *x, int h, int w, const float *f, int fh, int fw, gan_upfirdn2d_args a,
                          float *y, int oh, int ow) {
    int ph = h * a.up_y + a.pad_y0 + a.pad_y1, pw = w * a.up_x + a.pad_x0 + a.pad_x1;
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            double acc = 0;
            for (int i = 0; i < fh; i++)
                for (int j = 0; j < fw; j++) {
                    int py = oy * a.down_y + i, px = ox * a.down_x + j;
                    if (py >= ph || px >= pw) continue;
                    int uy = py - a.pad_y0, ux = px - a.pad_x0;
                    if (uy < 0 || ux < 0 || uy % a.up_y || ux % a.up_x) continue;
                    int sy = uy / a.up_y, sx = ux / a.up_x;
                    if (sy >= h || sx >= w) continue;
                    float tap = a.flip_filter ? f[i * fw + j] : f[(fh - 1 - i) * fw + (fw - 1 - j)];
                    acc += (double)x[sy * w + sx] * tap * a.gain;
                }
            y[oy * ow + ox] = (float)acc;
        }
}

static void check_modconv_same(gan_ctx *ctx, int n, int i_n, int o_n, int k, int h, int w, int demod) {
    float *hx, *hw, *hs;
    gan_tensor *x = random_tensor(ctx, 4, (int64_t[]){n, i_n, h, w}, &hx);
    gan_tensor *wt = random_tensor(ctx, 4, (int64_t[]){o_n, i_n, k, k}, &hw);
    gan_tensor *s = random_tensor(ctx, 2, (int64_t[]){n, i_n}, &hs);
    gan_tensor *y = gan_modconv(ctx, x, wt, s, (gan_modconv_args){demod, 1, NULL});
    CHECKF(y != NULL, "%s", ctx->error.msg);
    if (y) {
        float *got = download(ctx, y), *want = malloc(sizeof(float) * y->numel), *wn = malloc(sizeof(float) * wt->numel);
        for (int b = 0; b < n; b++) {
            naive_modulate(hw, hs + b * i_n, o_n, i_n, k, demod, wn);
            naive_conv(hx + (size_t)b * i_n * h * w, i_n, h, w, wn, o_n, k, 0, k / 2, want + (size_t)b * o_n * h * w,
                       h, w);
        }
        double err = test_max_rel_diff(got, want, (size_t)y->numel, 1.0);
        CHECKF(err < 1e-5, "modconv n%d i%d o%d k%d %dx%d demod%d: error %g", n, i_n, o_n, k, h, w, demod, err);
        free(got);
        free(want);
        free(wn);
    }
    gan_tensor_free(ctx, x);
    gan_tensor_free(ctx, wt);
    gan_tensor_free(ctx, s);
    gan_tensor_free(ctx, y);
    free(hx);
    free(hw);
    free(hs);
}

/* Formulation 2 of stylegan2.md 1.7: zero-stuff x to 2H x 2W, pad, FIR with
 * 4f, then a 'valid' k x k true convolution. */
static void naive_modconv_up(const float *x, int i_n, int h, int w, const float *wn, int o_n, int k, const float *f,
                             int fh, int fw, float *y) {
    int p = k / 2;
    int px0 = p + (fw + 1) / 2, px1 = p + (fw - 2) / 2, py0 = p + (fh + 1) / 2, py1 = p + (fh - 2) / 2;
    gan_upfirdn2d_args a = {2, 2, 1, 1, px0, px1, py0, py1, 4.0f, 0};
    int bh = 2 * h + py0 + py1 - fh + 1, bw = 2 * w + px0 + px1 - fw + 1;
    float *blurred = malloc(sizeof(float) * i_n * bh * bw);
    for (int i = 0; i < i_n; i++) naive_upfirdn(x + i * h * w, h, w, f, fh, fw, a, blurred + i * bh * bw, bh, bw);
    naive_conv(blurred, i_n, bh, bw, wn, o_n, k, 1, 0, y, 2 * h, 2 * w);
    free(blurred);
}

static const float fir_1331[16] = {1 / 64.f, 3 / 64.f, 3 / 64.f, 1 / 64.f, 3 / 64.f, 9 / 64.f, 9 / 64.f, 3 / 64.f,
                                   3 / 64.f, 9 / 64.f, 9 / 64.f, 3 / 64.f, 1 / 64.f, 3 / 64.f, 3 / 64.f, 1 / 64.f};

static void check_modconv_up(gan_ctx *ctx, int n, int i_n, int o_n, int k, int h, int w) {
    float *hx, *hw, *hs;
    gan_tensor *x = random_tensor(ctx, 4, (int64_t[]){n, i_n, h, w}, &hx);
    gan_tensor *wt = random_tensor(ctx, 4, (int64_t[]){o_n, i_n, k, k}, &hw);
    gan_tensor *s = random_tensor(ctx, 2, (int64_t[]){n, i_n}, &hs);
    gan_tensor *f = gan_tensor_from_host(ctx, 2, (int64_t[]){4, 4}, fir_1331);
    gan_tensor *y = gan_modconv(ctx, x, wt, s, (gan_modconv_args){1, 2, f});
    CHECKF(y != NULL, "%s", ctx->error.msg);
    if (y) {
        CHECK(y->shape[2] == 2 * h && y->shape[3] == 2 * w);
        float *got = download(ctx, y), *want = malloc(sizeof(float) * y->numel), *wn = malloc(sizeof(float) * wt->numel);
        for (int b = 0; b < n; b++) {
            naive_modulate(hw, hs + b * i_n, o_n, i_n, k, 1, wn);
            naive_modconv_up(hx + (size_t)b * i_n * h * w, i_n, h, w, wn, o_n, k, fir_1331, 4, 4,
                             want + (size_t)b * o_n * 4 * h * w);
        }
        double err = test_max_rel_diff(got, want, (size_t)y->numel, 1.0);
        CHECKF(err < 1e-5, "modconv up n%d i%d o%d k%d %dx%d: error %g", n, i_n, o_n, k, h, w, err);
        free(got);
        free(want);
        free(wn);
    }
    gan_tensor_free(ctx, x);
    gan_tensor_free(ctx, wt);
    gan_tensor_free(ctx, s);
    gan_tensor_free(ctx, f);
    gan_tensor_free(ctx, y);
    free(hx);
    free(hw);
    free(hs);
}

/* Plain 3x3 'same' convolution with gain and its backward-input pass (the
 * transposed, flipped kernel) against the definition. */
static void check_conv2d_same(gan_ctx *ctx, int n, int i_n, int o_n, int h, int w) {
    float *hx, *hw, *hdy;
    gan_tensor *x = random_tensor(ctx, 4, (int64_t[]){n, i_n, h, w}, &hx);
    gan_tensor *wt = random_tensor(ctx, 4, (int64_t[]){o_n, i_n, 3, 3}, &hw);
    gan_tensor *dy = random_tensor(ctx, 4, (int64_t[]){n, o_n, h, w}, &hdy);
    const float gain = 0.25f;
    gan_conv2d_args a = {1, 1, gain};
    gan_tensor *y = gan_conv2d(ctx, x, wt, a), *dx = gan_conv2d_backward_input(ctx, dy, wt, a, h, w);
    CHECKF(y && dx, "%s", ctx->error.msg);
    if (y && dx) {
        float *scaled = malloc(sizeof(float) * wt->numel), *transposed = malloc(sizeof(float) * wt->numel);
        for (int o = 0; o < o_n; o++)
            for (int i = 0; i < i_n; i++)
                for (int t = 0; t < 9; t++) {
                    scaled[(o * i_n + i) * 9 + t] = hw[(o * i_n + i) * 9 + t] * gain;
                    transposed[(i * o_n + o) * 9 + t] = hw[(o * i_n + i) * 9 + t] * gain;
                }
        float *got = download(ctx, y), *got_dx = download(ctx, dx);
        float *want = malloc(sizeof(float) * y->numel), *want_dx = malloc(sizeof(float) * dx->numel);
        for (int b = 0; b < n; b++) {
            naive_conv(hx + (size_t)b * i_n * h * w, i_n, h, w, scaled, o_n, 3, 0, 1, want + (size_t)b * o_n * h * w,
                       h, w);
            naive_conv(hdy + (size_t)b * o_n * h * w, o_n, h, w, transposed, i_n, 3, 1, 1,
                       want_dx + (size_t)b * i_n * h * w, h, w);
        }
        double err = test_max_rel_diff(got, want, (size_t)y->numel, 1.0);
        double err_dx = test_max_rel_diff(got_dx, want_dx, (size_t)dx->numel, 1.0);
        CHECKF(err < 1e-5 && err_dx < 1e-5, "conv2d n%d i%d o%d %dx%d: error %g, backward input %g", n, i_n, o_n, h,
               w, err, err_dx);
        free(scaled), free(transposed), free(got), free(got_dx), free(want), free(want_dx);
    }
    gan_tensor_free(ctx, x), gan_tensor_free(ctx, wt), gan_tensor_free(ctx, dy);
    gan_tensor_free(ctx, y), gan_tensor_free(ctx, dx);
    free(hx), free(hw), free(hdy);
}

/* The Winograd kernel's scratch stays cache-sized per thread, whichever side
 * is wide: an RGB input layer (3 -> 64) and its backward pass (64 -> 3) at
 * 256 px need less than one output plane, not 4x the plane per thread. */
static void check_winograd_scratch(void) {
    for (int threads = 1; threads <= 16; threads *= 4) {
        size_t rgb_in = cpu_winograd_scratch_floats(3, 64, 256, 256, threads);
        size_t rgb_out = cpu_winograd_scratch_floats(64, 3, 256, 256, threads);
        CHECKF(rgb_in <= (size_t)threads * 64 * 256 * 256 / 2, "3 -> 64 at 256 px, %d threads: %zu floats", threads,
               rgb_in);
        CHECKF(rgb_out <= (size_t)threads * 64 * 256 * 256 / 2, "64 -> 3 at 256 px, %d threads: %zu floats",
               threads, rgb_out);
    }
}

static void check_upfirdn(gan_ctx *ctx, int h, int w, int fh, int fw, gan_upfirdn2d_args a) {
    float *hx, *hf;
    gan_tensor *x = random_tensor(ctx, 4, (int64_t[]){2, 3, h, w}, &hx);
    gan_tensor *f = random_tensor(ctx, 2, (int64_t[]){fh, fw}, &hf);
    gan_tensor *y = gan_upfirdn2d(ctx, x, f, a);
    CHECKF(y != NULL, "%s", ctx->error.msg);
    if (y) {
        int oh = (int)y->shape[2], ow = (int)y->shape[3];
        CHECK(oh == (h * a.up_y + a.pad_y0 + a.pad_y1 - fh) / a.down_y + 1);
        float *got = download(ctx, y), *want = malloc(sizeof(float) * y->numel);
        for (int p = 0; p < 6; p++) naive_upfirdn(hx + p * h * w, h, w, hf, fh, fw, a, want + p * oh * ow, oh, ow);
        double err = test_max_rel_diff(got, want, (size_t)y->numel, 1.0);
        CHECKF(err < 1e-5, "upfirdn2d %dx%d f%dx%d up%d,%d down%d,%d: error %g", h, w, fh, fw, a.up_x, a.up_y,
               a.down_x, a.down_y, err);
        free(got);
        free(want);
    }
    gan_tensor_free(ctx, x);
    gan_tensor_free(ctx, f);
    gan_tensor_free(ctx, y);
    free(hx);
    free(hf);
}

static void check_bad_shapes(gan_ctx *ctx) {
    gan_tensor *x = gan_tensor_4d(ctx, 1, 4, 5, 5), *w = gan_tensor_4d(ctx, 2, 3, 3, 3), *s = gan_tensor_2d(ctx, 1, 4);
    CHECK(gan_modconv(ctx, x, w, s, (gan_modconv_args){1, 1, NULL}) == NULL);
    CHECK(gan_ctx_failed(ctx) && strstr(ctx->error.msg, "does not match"));
    gan_error err;
    gan_ctx_take_error(ctx, &err);
    /* An op given a failed input fails too, without a second message. */
    CHECK(gan_add(ctx, NULL, x) == NULL && gan_ctx_failed(ctx));
    gan_ctx_take_error(ctx, &err);
    gan_tensor_free(ctx, x);
    gan_tensor_free(ctx, w);
    gan_tensor_free(ctx, s);
}

int main(void) {
    gan_error err;
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    if (!ctx) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    check_modconv_same(ctx, 2, 5, 4, 3, 7, 6, 1);
    check_modconv_same(ctx, 3, 6, 7, 1, 5, 9, 0);
    check_modconv_same(ctx, 1, 3, 2, 5, 6, 4, 1);
    check_modconv_same(ctx, 1, 240, 1, 3, 6, 1000, 1); /* Winograd: a short, very wide plane */
    check_modconv_same(ctx, 1, 240, 1, 5, 6, 1000, 1); /* im2col with one row per band */
    check_modconv_same(ctx, 2, 17, 11, 3, 9, 40, 1);   /* Winograd: a partial block of outputs and tiles */
    check_modconv_same(ctx, 1, 8, 16, 3, 5, 64, 0);
    /* Winograd F(2x2, 3x3): odd planes (partial tiles), a partial block of
     * outputs, a row of tiles in vectors plus a tail, and enough bands for
     * the threads to take them whole */
    check_modconv_same(ctx, 2, 20, 11, 3, 17, 19, 1);
    check_modconv_same(ctx, 1, 16, 24, 3, 33, 70, 0);
    check_modconv_same(ctx, 1, 256, 9, 3, 97, 40, 1);
    check_conv2d_same(ctx, 3, 13, 21, 17, 35); /* Winograd, forward and transposed */
    check_conv2d_same(ctx, 2, 40, 3, 20, 16);
    check_conv2d_same(ctx, 2, 5, 6, 7, 9); /* im2col */
    check_conv2d_same(ctx, 1, 3, 64, 96, 80); /* an RGB input layer: bands sized by the outputs */
    check_winograd_scratch();
    check_modconv_up(ctx, 2, 5, 4, 3, 4, 5);
    check_modconv_up(ctx, 1, 3, 6, 1, 3, 3);
    check_modconv_up(ctx, 1, 2, 240, 3, 3, 1000); /* banded column buffer */
    check_upfirdn(ctx, 5, 7, 4, 4, (gan_upfirdn2d_args){2, 2, 1, 1, 2, 1, 2, 1, 4, 0});
    check_upfirdn(ctx, 8, 6, 4, 4, (gan_upfirdn2d_args){1, 1, 2, 2, 1, 1, 1, 1, 1, 0});
    check_upfirdn(ctx, 7, 5, 3, 2, (gan_upfirdn2d_args){2, 3, 1, 2, 2, -1, 1, 0, 1.5f, 0});
    check_upfirdn(ctx, 6, 6, 3, 3, (gan_upfirdn2d_args){1, 1, 1, 1, -1, 2, 0, 3, 1, 1});
    check_bad_shapes(ctx);
    CHECKF(gan_ctx_bytes_live(ctx) == 0, "%zu bytes still live", gan_ctx_bytes_live(ctx));
    gan_ctx_free(ctx);
    TEST_DONE();
}
