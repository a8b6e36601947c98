/* SWD of a BigGAN generator's samples (evaluation mode, no truncation)
 * against the reals a gan_swd holds: of one class, for the per-class
 * distance, or of every class in turn. */
#ifndef GAN_METRICS_SWD_BIGGAN_H
#define GAN_METRICS_SWD_BIGGAN_H

#include <stdint.h>

#include "../models/biggan.h"
#include "swd.h"

/* As many fakes as swd holds reals replace its fakes; fake i has
 * z = RandomState(first_seed + i) normal draws (as `dne generate`) and class
 * class_id, or i % n_classes when class_id < 0. */
int gan_swd_of_biggan(gan_ctx *ctx, const bg_generator *g, int class_id, uint32_t first_seed, int batch, gan_swd *swd,
                      gan_swd_result *out, gan_error *err);

#endif
