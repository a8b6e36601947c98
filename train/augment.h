/* ADA's augmentations (stylegan2-ada-pytorch's AugmentPipe): geometric,
 * colour and image-space transforms, each drawn per sample with probability
 * p times its multiplier, and the pipeline that chains them. Each enabled
 * colour transform contributes one 4x4 factor to the sample's colour matrix,
 * in the reference's order (brightness, contrast, luma flip, hue,
 * saturation), whether or not it was drawn for that sample (an undrawn one is
 * its identity value); the matrix goes to gan_color_transform. */
#ifndef DNE_TRAIN_AUGMENT_H
#define DNE_TRAIN_AUGMENT_H

#include <stdint.h>

#include "gan/ops.h"

typedef struct augment_color {
    int brightness_on, contrast_on, lumaflip_on, hue_on, saturation_on; /* in the pipeline */
    float brightness; /* added to r, g, b (identity 0) */
    float contrast;   /* r, g, b multiplied (identity 1) */
    float lumaflip;   /* 1: reflect colours through the plane orthogonal to the luma axis (identity 0) */
    float hue;        /* rotation about the luma axis, radians (identity 0) */
    float saturation; /* chroma scaled, luma kept (identity 1) */
} augment_color;

/* The sample's colour matrix, row-major 4x4, composed in float32 as the
 * reference's matrix products are. */
void augment_color_matrix(const augment_color *a, float m[16]);

/* A pipeline's colour transforms: probability multipliers (0: not in the
 * pipeline) and the spreads of their parameters. */
typedef struct augment_color_set {
    float brightness, contrast, lumaflip, hue, saturation;
    float brightness_std, contrast_std, hue_max, saturation_std;
} augment_color_set;
/* The 'bgc' set's colour part: every multiplier 1, the reference's spreads
 * (brightness N(0, 0.2), contrast 2^N(0, 0.5), hue a full circle,
 * saturation 2^N(0, 1)). */
augment_color_set augment_color_bgc(void);

/* Each of n samples' parameters at augmentation strength p, from Philox
 * stream `seed` (the training run names one per step): a transform applies
 * to a sample with probability multiplier * p, else it keeps its identity
 * value. The same seed gives the same draws on every device and thread count. */
void augment_color_draw(const augment_color_set *set, float p, uint64_t seed, int n, augment_color *out);

/* The geometric transforms of a sample, each with its identity value when
 * not drawn: x-flip (0/1), quarter turns (0-3), integer translation (a
 * fraction of the image size, rounded to whole pixels), isotropic scale,
 * rotation before and after the anisotropic scale (radians), anisotropic
 * scale, fractional translation (a fraction of the image size). */
typedef struct augment_geom {
    int xflip_on, rotate90_on, xint_on, scale_on, rotate_on, aniso_on, xfrac_on; /* in the pipeline */
    float xflip, rotate90, xint_x, xint_y, scale, rotate_pre, aniso, rotate_post, xfrac_x, xfrac_y;
} augment_geom;

/* The inverse transform G_inv (output pixel -> input pixel, homogeneous,
 * row-major 3x3, pixel units about the image centre) of a width x height
 * image, composed in float32 in the reference's order. */
void augment_geom_inverse(const augment_geom *a, int width, int height, float g[9]);

/* A pipeline's geometric transforms: probability multipliers (0: not in the
 * pipeline) and the ranges of their parameters. */
typedef struct augment_geom_set {
    float xflip, rotate90, xint, scale, rotate, aniso, xfrac;
    float xint_max, scale_std, rotate_max, aniso_std, xfrac_std;
} augment_geom_set;
/* The 'bgc' set's geometric part (also 'blit': x-flip, quarter turns,
 * integer translation; 'geom': the rest), with the reference's ranges. */
augment_geom_set augment_geom_bgc(void);
/* Each of n samples' geometric parameters at strength p from Philox stream
 * seed, with the reference's distributions; the two rotations each apply
 * with probability 1 - sqrt(1 - rotate p), so that one of them does with
 * probability rotate p. */
void augment_geom_draw(const augment_geom_set *set, float p, uint64_t seed, int n, augment_geom *out);

/* ---- executing the geometric transforms (augment.py's "Execute geometric
 * transformations"): reflection padding wide enough for every sample's
 * transformed corners, x2 up-sampling with the sym6 wavelet filter, the
 * bilinear resampling, and x2 down-sampling back to the input size. */

/* The sym6 low-pass filter, normalised, as a [12, 12] tensor. */
gan_tensor *augment_hz_geom(gan_ctx *ctx);

/* What the backward pass needs of a forward one. */
typedef struct augment_geom_run {
    gan_pad_args pad;
    int height, width, up_height, up_width;
    gan_tensor *theta; /* [N, 2, 3] */
} augment_geom_run;

/* images [N, C, H, W] transformed by each sample's G_inv (host, [N][9], from
 * augment_geom_inverse): a new tensor of the same shape, NULL with the
 * error in ctx. hz from augment_hz_geom. */
gan_tensor *augment_geometric(gan_ctx *ctx, const gan_tensor *images, const float *g_inv, const gan_tensor *hz,
                              augment_geom_run *run);
/* The same transform again, as recorded in run, on other images of the
 * same shape (it is linear in the images). */
gan_tensor *augment_geometric_replay(gan_ctx *ctx, const gan_tensor *images, const gan_tensor *hz,
                                     const augment_geom_run *run);
/* The gradient with respect to the images. */
gan_tensor *augment_geometric_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *hz,
                                       const augment_geom_run *run);
void augment_geom_run_free(gan_ctx *ctx, augment_geom_run *run);

/* ---- the image-space transforms (train/augment_image.c): a random
 * amplification of four frequency bands ('filter'), additive RGB noise
 * ('noise'), cutout ('cutout'). */
#define AUGMENT_BANDS 4
#define AUGMENT_FILTER_TAPS 43

typedef struct augment_image_set {
    float imgfilter, bands[AUGMENT_BANDS], imgfilter_std; /* multiplier, per-band multipliers, log2 gain std */
    float noise, noise_std;     /* multiplier, the spread of the noise's standard deviation */
    float cutout, cutout_size;  /* multiplier, the rectangle's side as a fraction of the image's */
} augment_image_set;
/* Every multiplier 1 and the reference's spreads (gain 2^N(0, 1), noise
 * |N(0, 0.1)|, cutout half the image). */
augment_image_set augment_image_all(void);

/* The reference's filter bank: band-pass filters of the sym2 wavelet, one
 * row per band (low to high); the rows sum to a unit impulse. */
void augment_filter_bank(float bank[AUGMENT_BANDS][AUGMENT_FILTER_TAPS]);

/* A sample's draws: band gains (all 1: no filtering), noise standard
 * deviation (0: none), cutout side (0: none) and centre (fractions). */
typedef struct augment_image {
    float gains[AUGMENT_BANDS];
    float sigma;
    float cutout_size, cutout_x, cutout_y;
} augment_image;
void augment_image_draw(const augment_image_set *set, float p, uint64_t seed, int n, augment_image *out);
/* The band gains of per-band amplifications (1: that band not drawn). */
void augment_filter_gains(const float amplification[AUGMENT_BANDS], float gains[AUGMENT_BANDS]);
/* Each sample's filter, its gains times the bank: [N, AUGMENT_FILTER_TAPS]. */
gan_tensor *augment_filter_taps(gan_ctx *ctx, const augment_image *draws, int n);
/* 0 inside each sample's cutout rectangle, 1 elsewhere: [N, C, H, W] like `like`. */
gan_tensor *augment_cutout_mask(gan_ctx *ctx, const gan_tensor *like, const augment_image *draws);

/* The filter of each sample's taps [N, AUGMENT_FILTER_TAPS] (reflection
 * padding, then horizontal and vertical passes) and its gradient. */
gan_tensor *augment_filter(gan_ctx *ctx, const gan_tensor *x, const gan_tensor *taps);
gan_tensor *augment_filter_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *taps);

typedef struct augment_image_tape {
    int filter, noise, cutout; /* which ran */
    gan_tensor *taps, *mask;   /* the filters [N, K]; the cutout mask [N, C, H, W] */
} augment_image_tape;
/* The image-space stage on x (consumed: freed, a new tensor returned; x
 * itself when the set has no image-space transform), its backward pass (a
 * new tensor) and its Jacobian (consuming its input as the stage does). */
gan_tensor *augment_image_stage(gan_ctx *ctx, const augment_image_set *set, gan_tensor *x, float p, uint64_t seed,
                                augment_image_tape *tape);
gan_tensor *augment_image_backward(gan_ctx *ctx, const gan_tensor *dy, const augment_image_tape *tape);
gan_tensor *augment_image_linear(gan_ctx *ctx, gan_tensor *v, const augment_image_tape *tape);
void augment_image_tape_free(gan_ctx *ctx, augment_image_tape *tape);

/* ---- the pipeline: geometric transforms, colour, then the image-space
 * ones, as the reference orders them. */
typedef struct augment_pipe {
    augment_geom_set geom;
    augment_color_set color;
    augment_image_set image;
    gan_tensor *hz; /* the sym6 filter on the pipe's device */
} augment_pipe;

typedef struct augment_tape {
    int geometric, colour; /* which stages ran (a stage with no transform in the set is skipped) */
    augment_geom_run geom;
    gan_tensor *matrices; /* [N, 4, 4] colour matrices */
    augment_image_tape image;
} augment_tape;

/* One of the reference's named pipelines (blit, geom, color, filter, noise,
 * cutout, bg, bgc, bgcf, bgcfn, bgcfnc), its filter made on ctx's device;
 * -1 with the error in ctx for another name. */
int augment_pipe_named(gan_ctx *ctx, const char *name, augment_pipe *pipe);
int augment_pipe_bgc(gan_ctx *ctx, augment_pipe *pipe);
void augment_pipe_free(gan_ctx *ctx, augment_pipe *pipe);
/* Augments images [N, C, H, W] at strength p with the draws of Philox stream
 * seed; the tape (may be NULL for reals, whose gradient is not needed)
 * keeps what the backward pass uses. */
gan_tensor *augment_apply(gan_ctx *ctx, const augment_pipe *pipe, const gan_tensor *images, float p, uint64_t seed,
                          augment_tape *tape);
gan_tensor *augment_apply_backward(gan_ctx *ctx, const augment_pipe *pipe, const gan_tensor *dy,
                                   const augment_tape *tape);
/* The Jacobian of a recorded augmentation applied to x (the transform
 * without the colour transforms' offsets): the direction in D's input that
 * a direction x in the un-augmented image moves to; R1 through the
 * augmentation needs it. */
gan_tensor *augment_apply_linear(gan_ctx *ctx, const augment_pipe *pipe, const gan_tensor *x,
                                 const augment_tape *tape);
void augment_tape_free(gan_ctx *ctx, augment_tape *tape);

#endif
