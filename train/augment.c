#include "augment.h"

#include <math.h>
#include <string.h>

#include "gan/rng.h"

/* out = a . b for row-major 4x4 matrices (out may be b). */
static void matmul4(const float *a, const float *b, float *out) {
    float r[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            float sum = 0.0f;
            for (int k = 0; k < 4; k++) sum += a[i * 4 + k] * b[k * 4 + j];
            r[i * 4 + j] = sum;
        }
    memcpy(out, r, sizeof r);
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
        matmul4(f, m, m);
    }
    if (a->contrast_on) {
        identity4(f);
        f[0] = f[5] = f[10] = a->contrast;
        matmul4(f, m, m);
    }
    if (a->lumaflip_on) { /* Householder reflection I - 2 v v^T i */
        identity4(f);
        for (int k = 0; k < 16; k++) f[k] -= 2 * vv[k] * a->lumaflip;
        matmul4(f, m, m);
    }
    if (a->hue_on) {
        hue_rotation(a->hue, f);
        matmul4(f, m, m);
    }
    if (a->saturation_on) { /* v v^T + (I - v v^T) s */
        identity4(f);
        for (int k = 0; k < 16; k++) f[k] = vv[k] + (f[k] - vv[k]) * a->saturation;
        matmul4(f, m, m);
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

/* g <- g . f for row-major 3x3 matrices. */
static void then3(float *g, const float *f) {
    float r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            float sum = 0.0f;
            for (int k = 0; k < 3; k++) sum += g[i * 3 + k] * f[k * 3 + j];
            r[i * 3 + j] = sum;
        }
    memcpy(g, r, sizeof r);
}

static void then_scale(float *g, float sx, float sy) {
    const float f[9] = {sx, 0, 0, 0, sy, 0, 0, 0, 1};
    then3(g, f);
}

static void then_translate(float *g, float tx, float ty) {
    const float f[9] = {1, 0, tx, 0, 1, ty, 0, 0, 1};
    then3(g, f);
}

static void then_rotate(float *g, float theta) {
    const float f[9] = {cosf(theta), sinf(-theta), 0, sinf(theta), cosf(theta), 0, 0, 0, 1};
    then3(g, f);
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
