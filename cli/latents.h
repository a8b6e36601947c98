/* The steps every generating command shares: z from a seed as generate.py
 * draws it, ws from z through the mapping network, images from ws, and the
 * class-label and grid-size checks, so that `dne generate`, `dne video` and
 * `dne mix` give the same image for the same seed and settings. */
#ifndef DNE_CLI_LATENTS_H
#define DNE_CLI_LATENTS_H

#include <stdint.h>

#include "gan/context.h"
#include "gan/models/stylegan2.h"

/* z = RandomState(seed).randn(z_dim), float64 cast to float32. */
void dne_seed_to_z(uint32_t seed, int z_dim, float *z);

/* BigGAN's z: the same draws, each beyond +-threshold redrawn from the
 * stream until inside (threshold <= 0: none). */
void dne_seed_to_truncated_z(uint32_t seed, int z_dim, float threshold, float *z);

/* ws [count, num_ws, w_dim] for z [count, z_dim] in one mapping pass, with
 * the one-hot label class_index on conditional networks. */
int dne_map(gan_ctx *ctx, const sg2_generator *g, const float *z, int count, long class_index, float psi, int cutoff,
            float *ws, gan_error *err);
/* images [count, C, R, R] for ws [count, num_ws, w_dim]; noise_seeds[i] seeds
 * image i's noise in random mode. */
int dne_synthesize(gan_ctx *ctx, const sg2_generator *g, const float *ws, int count, sg2_noise_mode noise_mode,
                   const uint64_t *noise_seeds, float *images, gan_error *err);

/* --class against the network: required (and in range) for conditional
 * networks, ignored with a warning on `command`'s stderr otherwise. */
int dne_check_class(const char *command, long class_index, const sg2_config *cfg, gan_error *err);

/* "WxH" (e.g. 4x3), each 1 to 256. */
int dne_parse_grid(const char *text, const char *flag, int *cols, int *rows, gan_error *err);

#endif
