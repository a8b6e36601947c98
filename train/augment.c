#include "augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan/rng.h"
#include "gan/tensor.h"

/* out = a . b for row-major n x n matrices (n <= 4; out may be a or b),
 * each sum in k order from 0 in float32, as a float32 matrix product. */
static void matmul(int n, const float *a, const float *b, float *out) {
    float r[16];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            float sum = 0.0f;
            for (int k = 0; k < n; k++) sum += a[i * n + k] * b[k * n + j];
            r[i * n + j] = sum;
        }
    memcpy(out, r, (size_t)(n * n) * sizeof *r);
}

static void identity4(float *m) {
    memset(m, 0, 16 * sizeof *m);
    for (int i = 0; i < 4; i++) m[i * 5] = 1.0f;
}

/* The luma axis (1, 1, 1, 0) / sqrt(3), rounded to float32 once, and its
 * outer product v v^T. */
static void luma_outer(float vv[16]) {
    const float v[4] = {(float)(1 / sqrt(3.0)), (float)(1 / sqrt(3.0)), (float)(1 / sqrt(3.0)), 0.0f};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) vv[i * 4 + j] = v[i] * v[j];
}

/* Rotation by theta about the luma axis (Rodrigues' formula). */
static void hue_rotation(float theta, float m[16]) {
    float v = (float)(1 / sqrt(3.0)), s = sinf(theta), c = cosf(theta), cc = 1 - c;
    float diag = v * v * cc + c, plus = v * v * cc + v * s, minus = v * v * cc - v * s;
    const float r[16] = {diag, minus, plus, 0, plus, diag, minus, 0, minus, plus, diag, 0, 0, 0, 0, 1};
    memcpy(m, r, sizeof r);
}

void augment_color_matrix(const augment_color *a, float m[16]) {
    float f[16], vv[16];
    identity4(m);
    luma_outer(vv);
    if (a->brightness_on) {
        identity4(f);
        f[3] = f[7] = f[11] = a->brightness;
        matmul(4, f, m, m);
    }
    if (a->contrast_on) {
        identity4(f);
        f[0] = f[5] = f[10] = a->contrast;
        matmul(4, f, m, m);
    }
    if (a->lumaflip_on) { /* Householder reflection I - 2 v v^T i */
        identity4(f);
        for (int k = 0; k < 16; k++) f[k] -= 2 * vv[k] * a->lumaflip;
        matmul(4, f, m, m);
    }
    if (a->hue_on) {
        hue_rotation(a->hue, f);
        matmul(4, f, m, m);
    }
    if (a->saturation_on) { /* v v^T + (I - v v^T) s */
        identity4(f);
        for (int k = 0; k < 16; k++) f[k] = vv[k] + (f[k] - vv[k]) * a->saturation;
        matmul(4, f, m, m);
    }
}

augment_color_set augment_color_bgc(void) {
    return (augment_color_set){1, 1, 1, 1, 1, 0.2f, 0.5f, 1.0f, 1.0f};
}

/* Per sample, five uniforms decide which transforms apply, and five more
 * numbers (normals or uniforms, two streams) give their values. */
#define DRAWS_PER_SAMPLE 5
#define PI_F 3.14159265358979f

void augment_color_draw(const augment_color_set *set, float p, uint64_t seed, int n, augment_color *out) {
    for (int s = 0; s < n; s++) {
        float pick[DRAWS_PER_SAMPLE], normal[DRAWS_PER_SAMPLE], uniform[DRAWS_PER_SAMPLE];
        uint64_t at = (uint64_t)s * DRAWS_PER_SAMPLE;
        gan_philox_uniform(seed, at, pick, DRAWS_PER_SAMPLE);
        gan_philox_normal(seed ^ 0x6e6f726d616c73ull, at, normal, DRAWS_PER_SAMPLE);
        gan_philox_uniform(seed ^ 0x756e69666f726dull, at, uniform, DRAWS_PER_SAMPLE);
        augment_color *a = &out[s];
        *a = (augment_color){set->brightness > 0, set->contrast > 0, set->lumaflip > 0, set->hue > 0,
                             set->saturation > 0, 0, 1, 0, 0, 1};
        if (pick[0] < set->brightness * p) a->brightness = normal[0] * set->brightness_std;
        if (pick[1] < set->contrast * p) a->contrast = exp2f(normal[1] * set->contrast_std);
        if (pick[2] < set->lumaflip * p) a->lumaflip = floorf(uniform[2] * 2);
        if (pick[3] < set->hue * p) a->hue = (uniform[3] * 2 - 1) * PI_F * set->hue_max;
        if (pick[4] < set->saturation * p) a->saturation = exp2f(normal[4] * set->saturation_std);
    }
}

/* ------------------------------------------------------------ geometry */

static void scale3(float sx, float sy, float *m) {
    const float r[9] = {sx, 0, 0, 0, sy, 0, 0, 0, 1};
    memcpy(m, r, sizeof r);
}

static void translate3(float tx, float ty, float *m) {
    const float r[9] = {1, 0, tx, 0, 1, ty, 0, 0, 1};
    memcpy(m, r, sizeof r);
}

/* g <- g . (scale, translation or rotation). */
static void then_scale(float *g, float sx, float sy) {
    float f[9];
    scale3(sx, sy, f);
    matmul(3, g, f, g);
}

static void then_translate(float *g, float tx, float ty) {
    float f[9];
    translate3(tx, ty, f);
    matmul(3, g, f, g);
}

static void then_rotate(float *g, float theta) {
    const float f[9] = {cosf(theta), sinf(-theta), 0, sinf(theta), cosf(theta), 0, 0, 0, 1};
    matmul(3, g, f, g);
}

/* Each step multiplies by the inverse of the forward transform, as the
 * reference's *_inv helpers do (a scale's inverse is 1 / s, rounded). */
void augment_geom_inverse(const augment_geom *a, int width, int height, float g[9]) {
    static const float identity[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(g, identity, sizeof identity);
    if (a->xflip_on) then_scale(g, 1 / (1 - 2 * a->xflip), 1);
    if (a->rotate90_on) then_rotate(g, -(-(float)(M_PI / 2) * a->rotate90));
    if (a->xint_on) then_translate(g, -rintf(a->xint_x * width), -rintf(a->xint_y * height));
    if (a->scale_on) then_scale(g, 1 / a->scale, 1 / a->scale);
    if (a->rotate_on) then_rotate(g, -(-a->rotate_pre));
    if (a->aniso_on) then_scale(g, 1 / a->aniso, 1 / (1 / a->aniso));
    if (a->rotate_on) then_rotate(g, -(-a->rotate_post));
    if (a->xfrac_on) then_translate(g, -(a->xfrac_x * width), -(a->xfrac_y * height));
}

augment_geom_set augment_geom_bgc(void) {
    return (augment_geom_set){1, 1, 1, 1, 1, 1, 1, 0.125f, 0.2f, 1.0f, 0.2f, 0.125f};
}

#define GEOM_DRAWS 10

void augment_geom_draw(const augment_geom_set *set, float p, uint64_t seed, int n, augment_geom *out) {
    float rot_p = 1.0f - sqrtf(fminf(fmaxf(1.0f - set->rotate * p, 0.0f), 1.0f));
    for (int s = 0; s < n; s++) {
        float pick[GEOM_DRAWS], normal[GEOM_DRAWS], uniform[GEOM_DRAWS];
        uint64_t at = (uint64_t)s * GEOM_DRAWS;
        gan_philox_uniform(seed ^ 0x67656f6d706bull, at, pick, GEOM_DRAWS);
        gan_philox_normal(seed ^ 0x67656f6d6e6full, at, normal, GEOM_DRAWS);
        gan_philox_uniform(seed ^ 0x67656f6d756eull, at, uniform, GEOM_DRAWS);
        augment_geom *a = &out[s];
        *a = (augment_geom){set->xflip > 0, set->rotate90 > 0, set->xint > 0, set->scale > 0, set->rotate > 0,
                            set->aniso > 0, set->xfrac > 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0};
        if (pick[0] < set->xflip * p) a->xflip = floorf(uniform[0] * 2);
        if (pick[1] < set->rotate90 * p) a->rotate90 = floorf(uniform[1] * 4);
        if (pick[2] < set->xint * p) {
            a->xint_x = (uniform[2] * 2 - 1) * set->xint_max;
            a->xint_y = (uniform[3] * 2 - 1) * set->xint_max;
        }
        if (pick[3] < set->scale * p) a->scale = exp2f(normal[3] * set->scale_std);
        if (pick[4] < rot_p) a->rotate_pre = (uniform[4] * 2 - 1) * PI_F * set->rotate_max;
        if (pick[5] < set->aniso * p) a->aniso = exp2f(normal[5] * set->aniso_std);
        if (pick[6] < rot_p) a->rotate_post = (uniform[6] * 2 - 1) * PI_F * set->rotate_max;
        if (pick[7] < set->xfrac * p) {
            a->xfrac_x = normal[7] * set->xfrac_std;
            a->xfrac_y = normal[8] * set->xfrac_std;
        }
    }
}

/* ------------------------------------------------- executing the geometry */

/* Daubechies' symlet with 6 vanishing moments (12 taps), the reference's
 * Hz_geom before normalisation. */
static const double SYM6[12] = {0.015404109327027373,  0.0034907120842174702, -0.11799011114819057,
                                -0.048311742585633,    0.4910559419267466,    0.787641141030194,
                                0.3379294217276218,    -0.07263752278646252,  -0.021060292512300564,
                                0.04472490177066578,   0.0017677118642428036, -0.007800708325034148};
#define HZ_TAPS 12
#define HZ_PAD (HZ_TAPS / 4)

gan_tensor *augment_hz_geom(gan_ctx *ctx) {
    float taps[HZ_TAPS], f[HZ_TAPS * HZ_TAPS], sum = 0;
    for (int i = 0; i < HZ_TAPS; i++) sum += taps[i] = (float)SYM6[i];
    for (int i = 0; i < HZ_TAPS; i++) taps[i] /= sum;
    for (int i = 0; i < HZ_TAPS; i++)
        for (int j = 0; j < HZ_TAPS; j++) f[i * HZ_TAPS + j] = taps[i] * taps[j];
    return gan_tensor_from_host(ctx, 2, (int64_t[]){HZ_TAPS, HZ_TAPS}, f);
}

/* The padding that keeps every sample's transformed corners (plus the
 * filter's reach) inside the padded image, bounded by reflection's limit. */
static gan_pad_args geom_margin(const float *g_inv, int n, int width, int height) {
    float cx = (float)((width - 1) / 2.0), cy = (float)((height - 1) / 2.0);
    const float corners[4][2] = {{-cx, -cy}, {cx, -cy}, {cx, cy}, {-cx, cy}};
    float m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}; /* x0, y0, x1, y1 */
    for (int s = 0; s < n; s++)
        for (int k = 0; k < 4; k++) {
            const float *g = g_inv + s * 9;
            float x = g[0] * corners[k][0] + g[1] * corners[k][1] + g[2];
            float y = g[3] * corners[k][0] + g[4] * corners[k][1] + g[5];
            m[0] = fmaxf(m[0], -x), m[1] = fmaxf(m[1], -y), m[2] = fmaxf(m[2], x), m[3] = fmaxf(m[3], y);
        }
    int out[4];
    for (int i = 0; i < 4; i++) {
        float v = m[i] + (float)(HZ_PAD * 2) - (i % 2 ? cy : cx);
        float hi = (float)(i % 2 ? height - 1 : width - 1);
        out[i] = (int)ceilf(fminf(fmaxf(v, 0.0f), hi));
    }
    return (gan_pad_args){out[0], out[2], out[1], out[3]};
}

/* The sampling matrices after padding and up-sampling, as the reference
 * adjusts G_inv, in normalised [-1, 1] coordinates; the rows of theta. */
static void geom_theta(const float *g_inv, const augment_geom_run *r, float theta[6]) {
    float g[9], t[9], u[9];
    memcpy(g, g_inv, sizeof g);
    translate3((float)(r->pad.left - r->pad.right) / 2.0f, (float)(r->pad.top - r->pad.bottom) / 2.0f, t);
    matmul(3, t, g, g);
    scale3(2, 2, t), scale3(0.5f, 0.5f, u);
    matmul(3, t, g, g), matmul(3, g, u, g);
    translate3(-0.5f, -0.5f, t), translate3(0.5f, 0.5f, u);
    matmul(3, t, g, g), matmul(3, g, u, g);
    int out_w = (r->width + HZ_PAD * 2) * 2, out_h = (r->height + HZ_PAD * 2) * 2;
    scale3((float)(2.0 / r->up_width), (float)(2.0 / r->up_height), t);
    scale3((float)(1 / (2.0 / out_w)), (float)(1 / (2.0 / out_h)), u);
    matmul(3, t, g, g), matmul(3, g, u, g);
    memcpy(theta, g, 6 * sizeof *theta);
}

/* down-sampling with the filter flipped and HZ_PAD * 2 cropped per side, as
 * downsample2d(padding=-Hz_pad*2, flip_filter=True). */
static gan_upfirdn2d_args geom_down_args(void) {
    int p0 = -HZ_PAD * 2 + (HZ_TAPS - 2 + 1) / 2, p1 = -HZ_PAD * 2 + (HZ_TAPS - 2) / 2;
    return (gan_upfirdn2d_args){1, 1, 2, 2, p0, p1, p0, p1, 1.0f, 1};
}

gan_tensor *augment_geometric(gan_ctx *ctx, const gan_tensor *images, const float *g_inv, const gan_tensor *hz,
                              augment_geom_run *run) {
    memset(run, 0, sizeof *run);
    if (!images || images->ndim != 4) return gan_ctx_fail(ctx, "augment_geometric: expected [N, C, H, W] images");
    int n = (int)images->shape[0];
    run->height = (int)images->shape[2], run->width = (int)images->shape[3];
    run->pad = geom_margin(g_inv, n, run->width, run->height);
    run->up_height = 2 * (run->height + run->pad.top + run->pad.bottom);
    run->up_width = 2 * (run->width + run->pad.left + run->pad.right);
    float *theta = malloc((size_t)(n > 0 ? n : 1) * 6 * sizeof *theta);
    if (!theta) return gan_ctx_fail(ctx, "augment_geometric: out of memory");
    for (int s = 0; s < n; s++) geom_theta(g_inv + s * 9, run, theta + s * 6);
    run->theta = gan_tensor_from_host(ctx, 3, (int64_t[]){n, 2, 3}, theta);
    free(theta);
    return augment_geometric_replay(ctx, images, hz, run);
}

gan_tensor *augment_geometric_replay(gan_ctx *ctx, const gan_tensor *images, const gan_tensor *hz,
                                     const augment_geom_run *run) {
    gan_tensor *padded = gan_pad_reflect(ctx, images, run->pad);
    gan_tensor *up = gan_upsample2d(ctx, padded, hz);
    gan_tensor_free(ctx, padded);
    gan_tensor *sampled = gan_affine_sample(ctx, up, run->theta, (run->height + HZ_PAD * 2) * 2,
                                            (run->width + HZ_PAD * 2) * 2);
    gan_tensor_free(ctx, up);
    gan_tensor *out = gan_upfirdn2d(ctx, sampled, hz, geom_down_args());
    gan_tensor_free(ctx, sampled);
    return out;
}

gan_tensor *augment_geometric_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *hz,
                                       const augment_geom_run *run) {
    int sampled_h = (run->height + HZ_PAD * 2) * 2, sampled_w = (run->width + HZ_PAD * 2) * 2;
    gan_tensor *d_sampled = gan_upfirdn2d_backward(ctx, dy, hz, geom_down_args(), sampled_h, sampled_w);
    gan_tensor *d_up = gan_affine_sample_backward(ctx, d_sampled, run->theta, run->up_height, run->up_width);
    gan_tensor_free(ctx, d_sampled);
    gan_upfirdn2d_args up = {2, 2, 1, 1, (HZ_TAPS + 1) / 2, (HZ_TAPS - 2) / 2, (HZ_TAPS + 1) / 2, (HZ_TAPS - 2) / 2,
                             4.0f, 0};
    gan_tensor *d_padded = gan_upfirdn2d_backward(ctx, d_up, hz, up, run->up_height / 2, run->up_width / 2);
    gan_tensor_free(ctx, d_up);
    gan_tensor *dx = gan_pad_reflect_backward(ctx, d_padded, run->pad);
    gan_tensor_free(ctx, d_padded);
    return dx;
}

void augment_geom_run_free(gan_ctx *ctx, augment_geom_run *run) {
    gan_tensor_free(ctx, run->theta);
    run->theta = NULL;
}

/* ------------------------------------------------------------ the pipeline */

/* The reference's named sets (augpipe_specs in its train.py): each keeps the
 * multipliers of the transforms it names, the others 0. */
static const struct {
    const char *name;
    int blit, geom, color, filter, noise, cutout;
} PIPES[] = {{"blit", 1, 0, 0, 0, 0, 0},   {"geom", 0, 1, 0, 0, 0, 0},  {"color", 0, 0, 1, 0, 0, 0},
             {"filter", 0, 0, 0, 1, 0, 0}, {"noise", 0, 0, 0, 0, 1, 0}, {"cutout", 0, 0, 0, 0, 0, 1},
             {"bg", 1, 1, 0, 0, 0, 0},     {"bgc", 1, 1, 1, 0, 0, 0},   {"bgcf", 1, 1, 1, 1, 0, 0},
             {"bgcfn", 1, 1, 1, 1, 1, 0},  {"bgcfnc", 1, 1, 1, 1, 1, 1}};

int augment_pipe_named(gan_ctx *ctx, const char *name, augment_pipe *pipe) {
    size_t i = 0, count = sizeof PIPES / sizeof *PIPES;
    while (i < count && strcmp(PIPES[i].name, name) != 0) i++;
    if (i == count)
        return gan_ctx_fail(ctx, "unknown augmentation pipeline '%s' (blit, geom, color, filter, noise, cutout, bg, "
                                 "bgc, bgcf, bgcfn, bgcfnc)", name), -1;
    augment_geom_set g = augment_geom_bgc();
    augment_color_set c = augment_color_bgc();
    augment_image_set im = augment_image_all();
    if (!PIPES[i].blit) g.xflip = g.rotate90 = g.xint = 0;
    if (!PIPES[i].geom) g.scale = g.rotate = g.aniso = g.xfrac = 0;
    if (!PIPES[i].color) c.brightness = c.contrast = c.lumaflip = c.hue = c.saturation = 0;
    if (!PIPES[i].filter) im.imgfilter = 0;
    if (!PIPES[i].noise) im.noise = 0;
    if (!PIPES[i].cutout) im.cutout = 0;
    *pipe = (augment_pipe){g, c, im, augment_hz_geom(ctx)};
    return pipe->hz ? 0 : -1;
}

int augment_pipe_bgc(gan_ctx *ctx, augment_pipe *pipe) { return augment_pipe_named(ctx, "bgc", pipe); }

void augment_pipe_free(gan_ctx *ctx, augment_pipe *pipe) {
    gan_tensor_free(ctx, pipe->hz);
    pipe->hz = NULL;
}

static int any_geom(const augment_geom_set *g) {
    return g->xflip > 0 || g->rotate90 > 0 || g->xint > 0 || g->scale > 0 || g->rotate > 0 || g->aniso > 0 ||
           g->xfrac > 0;
}

static int any_color(const augment_color_set *c) {
    return c->brightness > 0 || c->contrast > 0 || c->lumaflip > 0 || c->hue > 0 || c->saturation > 0;
}

/* The stages' streams: one seed names a minibatch's augmentation. */
#define GEOM_STREAM 0x67656f6dull
#define COLOR_STREAM 0x636f6c72ull
#define IMAGE_STREAM 0x696d6167ull

static gan_tensor *geometric_stage(gan_ctx *ctx, const augment_pipe *pipe, const gan_tensor *x, float p,
                                   uint64_t seed, augment_geom_run *run) {
    int n = (int)x->shape[0];
    augment_geom *draws = malloc((size_t)(n > 0 ? n : 1) * sizeof *draws);
    float *g = malloc((size_t)(n > 0 ? n : 1) * 9 * sizeof *g);
    gan_tensor *out = NULL;
    if (!draws || !g) {
        gan_ctx_fail(ctx, "augment: out of memory");
    } else {
        augment_geom_draw(&pipe->geom, p, seed ^ GEOM_STREAM, n, draws);
        for (int s = 0; s < n; s++) augment_geom_inverse(&draws[s], (int)x->shape[3], (int)x->shape[2], g + s * 9);
        out = augment_geometric(ctx, x, g, pipe->hz, run);
    }
    free(draws), free(g);
    return out;
}

static gan_tensor *color_matrices(gan_ctx *ctx, const augment_pipe *pipe, int n, float p, uint64_t seed) {
    augment_color *draws = malloc((size_t)(n > 0 ? n : 1) * sizeof *draws);
    float *m = malloc((size_t)(n > 0 ? n : 1) * 16 * sizeof *m);
    gan_tensor *out = NULL;
    if (!draws || !m) {
        gan_ctx_fail(ctx, "augment: out of memory");
    } else {
        augment_color_draw(&pipe->color, p, seed ^ COLOR_STREAM, n, draws);
        for (int s = 0; s < n; s++) augment_color_matrix(&draws[s], m + s * 16);
        out = gan_tensor_from_host(ctx, 3, (int64_t[]){n, 4, 4}, m);
    }
    free(draws), free(m);
    return out;
}

gan_tensor *augment_apply(gan_ctx *ctx, const augment_pipe *pipe, const gan_tensor *images, float p, uint64_t seed,
                          augment_tape *tape) {
    augment_tape local;
    augment_tape *t = tape ? tape : &local;
    memset(t, 0, sizeof *t);
    if (!images || images->ndim != 4) return gan_ctx_fail(ctx, "augment: expected [N, C, H, W] images");
    t->geometric = any_geom(&pipe->geom), t->colour = any_color(&pipe->color);
    gan_tensor *x = t->geometric ? geometric_stage(ctx, pipe, images, p, seed, &t->geom) : gan_scale(ctx, images, 1);
    if (x && t->colour) {
        t->matrices = color_matrices(ctx, pipe, (int)images->shape[0], p, seed);
        gan_tensor *y = gan_color_transform(ctx, x, t->matrices);
        gan_tensor_free(ctx, x);
        x = y;
    }
    if (x) x = augment_image_stage(ctx, &pipe->image, x, p, seed ^ IMAGE_STREAM, &t->image);
    if (!tape) augment_tape_free(ctx, &local);
    return x;
}

/* The stages in reverse; each that ran makes the next gradient from the
 * last one (dy itself until a stage has made one), and a pipeline where
 * none did passes dy on as a copy. */
gan_tensor *augment_apply_backward(gan_ctx *ctx, const augment_pipe *pipe, const gan_tensor *dy,
                                   const augment_tape *tape) {
    gan_tensor *d = NULL;
    if (tape->image.filter || tape->image.cutout) {
        d = augment_image_backward(ctx, dy, &tape->image);
        if (!d) return NULL;
    }
    if (tape->colour) {
        gan_tensor *dc = gan_color_transform_backward(ctx, d ? d : dy, tape->matrices);
        gan_tensor_free(ctx, d);
        if (!(d = dc)) return NULL;
    }
    if (tape->geometric) {
        gan_tensor *dg = augment_geometric_backward(ctx, d ? d : dy, pipe->hz, &tape->geom);
        gan_tensor_free(ctx, d);
        d = dg;
    } else if (!d) {
        d = gan_scale(ctx, dy, 1);
    }
    return d;
}

/* The colour matrices without their translation column: the Jacobian of
 * the affine colour transform. */
static gan_tensor *linear_part(gan_ctx *ctx, const gan_tensor *matrices) {
    float *m = malloc((size_t)matrices->numel * sizeof *m);
    gan_tensor *out = NULL;
    if (!m) return gan_ctx_fail(ctx, "augment: out of memory");
    if (gan_tensor_download(ctx, matrices, m) == 0) {
        for (int64_t s = 0; s < matrices->numel / 16; s++) m[s * 16 + 3] = m[s * 16 + 7] = m[s * 16 + 11] = 0.0f;
        out = gan_tensor_from_host(ctx, matrices->ndim, matrices->shape, m);
    }
    free(m);
    return out;
}

gan_tensor *augment_apply_linear(gan_ctx *ctx, const augment_pipe *pipe, const gan_tensor *x,
                                 const augment_tape *tape) {
    gan_tensor *y = tape->geometric ? augment_geometric_replay(ctx, x, pipe->hz, &tape->geom) : gan_scale(ctx, x, 1);
    if (y && tape->colour) {
        gan_tensor *m = linear_part(ctx, tape->matrices);
        gan_tensor *yc = m ? gan_color_transform(ctx, y, m) : NULL;
        gan_tensor_free(ctx, m), gan_tensor_free(ctx, y);
        y = yc;
    }
    return augment_image_linear(ctx, y, &tape->image);
}

void augment_tape_free(gan_ctx *ctx, augment_tape *tape) {
    augment_image_tape_free(ctx, &tape->image);
    augment_geom_run_free(ctx, &tape->geom);
    gan_tensor_free(ctx, tape->matrices);
    tape->matrices = NULL;
}
