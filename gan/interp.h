/* Interpolation of latent vectors between keyframes, for videos.
 *
 * - slerp: spherical interpolation, for z (Gaussian latents: a straight line
 *   between two samples passes through the low-norm middle that the network
 *   rarely saw; the arc keeps the norm).
 * - linear: straight lines, in z or w.
 * - cubic: uniform Catmull-Rom through the keyframes, in w: the path passes
 *   through every keyframe with a continuous velocity, so motion does not
 *   jerk at keyframes as it does with linear segments.
 *
 * A path visits K keyframes, `frames_per_key` frames per segment. Open paths
 * have K - 1 segments and end on the last keyframe ((K - 1) F + 1 frames);
 * looping paths have K segments, the last one returning to keyframe 0
 * (K F frames; the frame after the last one would be frame 0), and cubic
 * paths wrap their neighbours around so the loop is smooth at the seam.
 * Open cubic paths repeat the end keyframes as their outer neighbours.
 *
 * Frames that fall on a keyframe are that keyframe's vector, bit for bit, so a
 * video's keyframes equal `dne generate`'s images for the same seeds. */
#ifndef GAN_INTERP_H
#define GAN_INTERP_H

#include <stddef.h>

#include "error.h"

typedef enum gan_interp_kind { GAN_INTERP_LINEAR = 0, GAN_INTERP_SLERP, GAN_INTERP_CUBIC } gan_interp_kind;

/* "linear", "slerp", "cubic". */
int gan_interp_parse(const char *text, gan_interp_kind *kind, gan_error *err);
const char *gan_interp_name(gan_interp_kind kind);

/* out = (1 - t) a + t b. */
void gan_lerp(const float *a, const float *b, size_t n, float t, float *out);
/* Spherical interpolation of the unnormalised vectors (angle from their
 * directions, sin-weighted sum of a and b; computed in double). Falls back to
 * lerp when a and b are (anti)parallel, where the arc is undefined. */
void gan_slerp(const float *a, const float *b, size_t n, float t, float *out);
/* Uniform Catmull-Rom segment from p1 (t = 0) to p2 (t = 1). */
void gan_catmull_rom(const float *p0, const float *p1, const float *p2, const float *p3, size_t n, float t, float *out);

typedef struct gan_keyframe_path {
    int keyframes;      /* K >= 2 */
    int frames_per_key; /* F >= 1 */
    int loop;
    gan_interp_kind kind;
} gan_keyframe_path;

/* Number of frames of the path. */
long gan_path_frames(const gan_keyframe_path *path);
/* The vector at `frame` (0 <= frame < gan_path_frames) from keys[K][n]. */
void gan_path_point(const gan_keyframe_path *path, const float *keys, size_t n, long frame, float *out);

#endif
