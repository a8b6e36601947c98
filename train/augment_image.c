/* ADA's image-space transforms, after the colour ones (augment.py's
 * "Image-space filtering" and "Image-space corruptions"): a random
 * amplification of four frequency bands, additive RGB noise and cutout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "gan/rng.h"
#include "gan/tensor.h"

augment_image_set augment_image_all(void) {
    return (augment_image_set){1, {1, 1, 1, 1}, 1.0f, 1, 0.1f, 1, 0.5f};
}

/* Daubechies' symlet with 2 vanishing moments: the filter bank's basis. */
static const double SYM2[4] = {-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025};

/* out = a (*) b, the full convolution (na + nb - 1 values). */
static void convolve(const double *a, int na, const double *b, int nb, double *out) {
    for (int i = 0; i < na + nb - 1; i++) out[i] = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) out[i + j] += a[i] * b[j];
}

void augment_filter_bank(float bank[AUGMENT_BANDS][AUGMENT_FILTER_TAPS]) {
    double lo[4], hi[4], lo_rev[4], hi_rev[4], lo2[7], hi2[7];
    for (int j = 0; j < 4; j++) lo[j] = SYM2[j], hi[j] = SYM2[j] * (j % 2 ? -1 : 1);
    for (int j = 0; j < 4; j++) lo_rev[j] = lo[3 - j], hi_rev[j] = hi[3 - j];
    convolve(lo, 4, lo_rev, 4, lo2), convolve(hi, 4, hi_rev, 4, hi2);
    for (int j = 0; j < 7; j++) lo2[j] /= 2, hi2[j] /= 2;
    /* Band 0 starts as the unit impulse; each level up-samples every band by
     * 2 (zeros between taps), low-passes it, and adds band i's high-pass. */
    double rows[AUGMENT_BANDS][AUGMENT_FILTER_TAPS] = {{1}}, up[AUGMENT_FILTER_TAPS];
    int width = 1;
    for (int i = 1; i < AUGMENT_BANDS; i++) {
        for (int r = 0; r < AUGMENT_BANDS; r++) {
            memset(up, 0, sizeof up);
            for (int j = 0; j < width; j++) up[2 * j] = rows[r][j];
            convolve(up, 2 * width - 1, lo2, 7, rows[r]);
        }
        width = 2 * width - 1 + 6;
        for (int j = 0; j < 7; j++) rows[i][(width - 7) / 2 + j] += hi2[j];
    }
    for (int r = 0; r < AUGMENT_BANDS; r++)
        for (int j = 0; j < AUGMENT_FILTER_TAPS; j++) bank[r][j] = (float)rows[r][j];
}

/* Per sample: six uniforms decide what applies (four bands, noise, cutout),
 * five normals give the band gains and the noise strength, two uniforms the
 * cutout's centre. */
#define PICKS 6
#define NORMALS 5

/* Each band's amplification, renormalised to the expected power of a 1/f
 * spectrum, multiplies into the gains, band after band as the reference. */
void augment_filter_gains(const float amplification[AUGMENT_BANDS], float gains[AUGMENT_BANDS]) {
    const float expected_power[AUGMENT_BANDS] = {10.0f / 13, 1.0f / 13, 1.0f / 13, 1.0f / 13};
    for (int b = 0; b < AUGMENT_BANDS; b++) gains[b] = 1.0f;
    for (int i = 0; i < AUGMENT_BANDS; i++) {
        float t[AUGMENT_BANDS] = {1, 1, 1, 1}, power = 0;
        t[i] = amplification[i];
        for (int b = 0; b < AUGMENT_BANDS; b++) power += expected_power[b] * t[b] * t[b];
        for (int b = 0; b < AUGMENT_BANDS; b++) gains[b] *= t[b] / sqrtf(power);
    }
}

void augment_image_draw(const augment_image_set *set, float p, uint64_t seed, int n, augment_image *out) {
    for (int s = 0; s < n; s++) {
        float pick[PICKS], normal[NORMALS], centre[2];
        gan_philox_uniform(seed ^ 0x696d67706bull, (uint64_t)s * PICKS, pick, PICKS);
        gan_philox_normal(seed ^ 0x696d676e6full, (uint64_t)s * NORMALS, normal, NORMALS);
        gan_philox_uniform(seed ^ 0x696d67756eull, (uint64_t)s * 2, centre, 2);
        augment_image *a = &out[s];
        float amplification[AUGMENT_BANDS];
        for (int i = 0; i < AUGMENT_BANDS; i++)
            amplification[i] = pick[i] < set->imgfilter * p * set->bands[i] ? exp2f(normal[i] * set->imgfilter_std) : 1;
        augment_filter_gains(amplification, a->gains);
        a->sigma = pick[4] < set->noise * p ? fabsf(normal[4]) * set->noise_std : 0.0f;
        a->cutout_size = pick[5] < set->cutout * p ? set->cutout_size : 0.0f;
        a->cutout_x = centre[0], a->cutout_y = centre[1];
    }
}

/* ------------------------------------------------------------ execution */

#define FILTER_PAD (AUGMENT_FILTER_TAPS / 2)

gan_tensor *augment_filter_taps(gan_ctx *ctx, const augment_image *draws, int n) {
    float bank[AUGMENT_BANDS][AUGMENT_FILTER_TAPS];
    float *taps = malloc((size_t)(n > 0 ? n : 1) * AUGMENT_FILTER_TAPS * sizeof *taps);
    if (!taps) return gan_ctx_fail(ctx, "augment: out of memory");
    augment_filter_bank(bank);
    for (int s = 0; s < n; s++)
        for (int j = 0; j < AUGMENT_FILTER_TAPS; j++) {
            float sum = 0;
            for (int b = 0; b < AUGMENT_BANDS; b++) sum += draws[s].gains[b] * bank[b][j];
            taps[s * AUGMENT_FILTER_TAPS + j] = sum;
        }
    gan_tensor *t = gan_tensor_from_host(ctx, 2, (int64_t[]){n, AUGMENT_FILTER_TAPS}, taps);
    free(taps);
    return t;
}

gan_tensor *augment_filter(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *taps) {
    if (x && (x->shape[2] <= FILTER_PAD || x->shape[3] <= FILTER_PAD))
        return gan_ctx_fail(ctx, "augment: the image filter needs images larger than %d px", FILTER_PAD);
    gan_tensor *padded = gan_pad_reflect(ctx, x, (gan_pad_args){FILTER_PAD, FILTER_PAD, FILTER_PAD, FILTER_PAD});
    gan_tensor *rows = gan_filter_1d(ctx, padded, taps, 3);
    gan_tensor *y = gan_filter_1d(ctx, rows, taps, 2);
    gan_tensor_free(ctx, padded), gan_tensor_free(ctx, rows);
    return y;
}

gan_tensor *augment_filter_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *taps) {
    gan_tensor *d_rows = gan_filter_1d_backward(ctx, dy, taps, 2);
    gan_tensor *d_padded = gan_filter_1d_backward(ctx, d_rows, taps, 3);
    gan_tensor *dx = gan_pad_reflect_backward(ctx, d_padded, (gan_pad_args){FILTER_PAD, FILTER_PAD, FILTER_PAD,
                                                                          FILTER_PAD});
    gan_tensor_free(ctx, d_rows), gan_tensor_free(ctx, d_padded);
    return dx;
}

/* Each sample's N(0, sigma^2) noise image: per-sample Philox streams,
 * scaled by the colour matrix sigma I (for grey images too). */
static gan_tensor *noise_images(gan_ctx *ctx, const gan_tensor *like, const augment_image *draws, uint64_t seed) {
    int n = (int)like->shape[0];
    uint64_t *seeds = malloc((size_t)(n > 0 ? n : 1) * sizeof *seeds);
    float *m = calloc((size_t)(n > 0 ? n : 1) * 16, sizeof *m);
    gan_tensor *out = NULL;
    if (!seeds || !m) {
        gan_ctx_fail(ctx, "augment: out of memory");
    } else {
        for (int s = 0; s < n; s++) {
            seeds[s] = seed ^ 0x6e6f697365ull ^ (uint64_t)s << 40;
            for (int c = 0; c < 3; c++) m[s * 16 + c * 5] = draws[s].sigma;
            m[s * 16 + 15] = 1;
        }
        gan_tensor *unit = gan_randn(ctx, like->ndim, like->shape, seeds, n, 0);
        gan_tensor *scales = gan_tensor_from_host(ctx, 3, (int64_t[]){n, 4, 4}, m);
        out = unit && scales ? gan_color_transform(ctx, unit, scales) : NULL;
        gan_tensor_free(ctx, unit), gan_tensor_free(ctx, scales);
    }
    free(seeds), free(m);
    return out;
}

gan_tensor *augment_cutout_mask(gan_ctx *ctx, const gan_tensor *like, const augment_image *draws) {
    int64_t n = like->shape[0], c = like->shape[1], h = like->shape[2], w = like->shape[3];
    float *m = malloc((size_t)(like->numel > 0 ? like->numel : 1) * sizeof *m);
    if (!m) return gan_ctx_fail(ctx, "augment: out of memory");
    for (int64_t s = 0; s < n; s++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
                const augment_image *a = &draws[s];
                int outside_x = fabsf(((float)x + 0.5f) / (float)w - a->cutout_x) >= a->cutout_size / 2;
                int outside_y = fabsf(((float)y + 0.5f) / (float)h - a->cutout_y) >= a->cutout_size / 2;
                for (int64_t ch = 0; ch < c; ch++) m[((s * c + ch) * h + y) * w + x] = outside_x || outside_y;
            }
    gan_tensor *t = gan_tensor_from_host(ctx, like->ndim, like->shape, m);
    free(m);
    return t;
}

static gan_tensor *replace(gan_ctx *ctx, gan_tensor *old, gan_tensor *new_value) {
    gan_tensor_free(ctx, old);
    return new_value;
}

gan_tensor *augment_image_stage(gan_ctx *ctx, const augment_image_set *set, gan_tensor *x, float p, uint64_t seed,
                                augment_image_tape *tape) {
    tape->filter = set->imgfilter > 0, tape->noise = set->noise > 0, tape->cutout = set->cutout > 0;
    if (!tape->filter && !tape->noise && !tape->cutout) return x;
    int n = (int)x->shape[0];
    augment_image *draws = malloc((size_t)(n > 0 ? n : 1) * sizeof *draws);
    if (!draws) return replace(ctx, x, gan_ctx_fail(ctx, "augment: out of memory"));
    augment_image_draw(set, p, seed, n, draws);
    if (tape->filter && (tape->taps = augment_filter_taps(ctx, draws, n)))
        x = replace(ctx, x, augment_filter(ctx, x, tape->taps));
    if (x && tape->noise) {
        gan_tensor *noise = noise_images(ctx, x, draws, seed);
        x = replace(ctx, x, noise ? gan_add(ctx, x, noise) : NULL);
        gan_tensor_free(ctx, noise);
    }
    if (x && tape->cutout && (tape->mask = augment_cutout_mask(ctx, x, draws)))
        x = replace(ctx, x, gan_mul(ctx, x, tape->mask));
    free(draws);
    return ctx->failed ? replace(ctx, x, NULL) : x;
}

/* Noise is additive: it passes gradients and directions unchanged. */
gan_tensor *augment_image_backward(gan_ctx *ctx, const gan_tensor *dy, const augment_image_tape *tape) {
    gan_tensor *d = tape->cutout ? gan_mul(ctx, dy, tape->mask) : gan_scale(ctx, dy, 1);
    if (d && tape->filter) d = replace(ctx, d, augment_filter_backward(ctx, d, tape->taps));
    return d;
}

gan_tensor *augment_image_linear(gan_ctx *ctx, gan_tensor *v, const augment_image_tape *tape) {
    if (v && tape->filter) v = replace(ctx, v, augment_filter(ctx, v, tape->taps));
    if (v && tape->cutout) v = replace(ctx, v, gan_mul(ctx, v, tape->mask));
    return v;
}

void augment_image_tape_free(gan_ctx *ctx, augment_image_tape *tape) {
    gan_tensor_free(ctx, tape->taps), gan_tensor_free(ctx, tape->mask);
    tape->taps = tape->mask = NULL;
}
