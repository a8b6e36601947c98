#include "interp.h"

#include <math.h>
#include <string.h>

static const char *const kind_names[] = {"linear", "slerp", "cubic"};

int gan_interp_parse(const char *text, gan_interp_kind *kind, gan_error *err) {
    for (int i = 0; i < 3; i++)
        if (strcmp(text, kind_names[i]) == 0) {
            *kind = (gan_interp_kind)i;
            return 0;
        }
    return gan_fail(err, "bad --interp '%s': expected linear, slerp or cubic", text);
}

const char *gan_interp_name(gan_interp_kind kind) { return kind_names[kind]; }

void gan_lerp(const float *a, const float *b, size_t n, float t, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = (1.0f - t) * a[i] + t * b[i];
}

void gan_slerp(const float *a, const float *b, size_t n, float t, float *out) {
    double aa = 0, bb = 0, ab = 0;
    for (size_t i = 0; i < n; i++) {
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
        ab += (double)a[i] * b[i];
    }
    double cosine = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 1.0;
    cosine = cosine > 1 ? 1 : cosine < -1 ? -1 : cosine;
    double omega = acos(cosine), s = sin(omega);
    if (s < 1e-6) {
        gan_lerp(a, b, n, t, out);
        return;
    }
    double wa = sin((1.0 - t) * omega) / s, wb = sin(t * omega) / s;
    for (size_t i = 0; i < n; i++) out[i] = (float)(wa * a[i] + wb * b[i]);
}

void gan_catmull_rom(const float *p0, const float *p1, const float *p2, const float *p3, size_t n, float t, float *out) {
    float t2 = t * t, t3 = t2 * t;
    float w0 = 0.5f * (-t + 2 * t2 - t3);
    float w1 = 0.5f * (2 - 5 * t2 + 3 * t3);
    float w2 = 0.5f * (t + 4 * t2 - 3 * t3);
    float w3 = 0.5f * (-t2 + t3);
    for (size_t i = 0; i < n; i++) out[i] = w0 * p0[i] + w1 * p1[i] + w2 * p2[i] + w3 * p3[i];
}

long gan_path_frames(const gan_keyframe_path *path) {
    long segments = path->loop ? path->keyframes : path->keyframes - 1;
    return segments * path->frames_per_key + (path->loop ? 0 : 1);
}

/* Keyframe i of the path: wrapped when looping, clamped to the ends otherwise. */
static const float *key_at(const gan_keyframe_path *path, const float *keys, size_t n, long i) {
    long k = path->keyframes;
    i = path->loop ? ((i % k) + k) % k : (i < 0 ? 0 : i >= k ? k - 1 : i);
    return keys + (size_t)i * n;
}

void gan_path_point(const gan_keyframe_path *path, const float *keys, size_t n, long frame, float *out) {
    long segment = frame / path->frames_per_key, step = frame % path->frames_per_key;
    if (step == 0) { /* on a keyframe: exactly its vector */
        memcpy(out, key_at(path, keys, n, segment), n * sizeof *out);
        return;
    }
    float t = (float)step / (float)path->frames_per_key;
    const float *a = key_at(path, keys, n, segment), *b = key_at(path, keys, n, segment + 1);
    switch (path->kind) {
    case GAN_INTERP_LINEAR: gan_lerp(a, b, n, t, out); break;
    case GAN_INTERP_SLERP: gan_slerp(a, b, n, t, out); break;
    case GAN_INTERP_CUBIC:
        gan_catmull_rom(key_at(path, keys, n, segment - 1), a, b, key_at(path, keys, n, segment + 2), n, t, out);
        break;
    }
}
