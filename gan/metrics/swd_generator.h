/* SWD of a StyleGAN2 generator's samples against reals already held by a
 * gan_swd: what `dne metrics` and training's periodic evaluation call. The
 * reals' descriptors stay in the gan_swd, so each snapshot costs only its
 * own fakes. */
#ifndef GAN_METRICS_SWD_GENERATOR_H
#define GAN_METRICS_SWD_GENERATOR_H

#include <stdint.h>

#include "../models/stylegan2.h"
#include "swd.h"

typedef struct gan_swd_sampling {
    float psi;             /* truncation psi (1: none) */
    int batch;             /* images per forward pass */
    uint32_t first_seed;   /* fake i: z = RandomState(first_seed + i).randn(z_dim), as `dne generate --seeds` */
    sg2_noise_mode noise_mode;
} gan_swd_sampling;

#define GAN_SWD_SAMPLING_DEFAULTS ((gan_swd_sampling){1.0f, 16, 0, SG2_NOISE_CONST})

/* Replaces the fakes of swd with as many samples of g as it holds reals
 * (converted to uint8 as generate.py does), then computes the distance.
 * Conditional generators get class i % c_dim for fake i. g's resolution and
 * channels must be those of swd. */
int gan_swd_of_generator(gan_ctx *ctx, const sg2_generator *g, const gan_swd_sampling *sampling, gan_swd *swd,
                         gan_swd_result *out, gan_error *err);

#endif
