/* dne generate's options, shared by the StyleGAN2 path (generate.c) and the
 * BigGAN path (generate_biggan.c). */
#ifndef DNE_CLI_GENERATE_H
#define DNE_CLI_GENERATE_H

#include "gan/context.h"
#include "gan/io/image.h"
#include "gan/models/stylegan2.h"

#define MAX_SEEDS 10000000

typedef struct generate_options {
    const char *network, *outdir, *seeds_text, *device_text, *ws_path, *save_ws_path;
    float psi;
    long cutoff, batch, threads, class_index;
    int grid_cols, grid_rows, psi_given;
    int grid_classes; /* --grid classes (BigGAN): one row per class, one column per seed */
    sg2_noise_mode noise_mode;
    gan_image_format format;
    float quality;
    int profile;
    char default_network[4096]; /* the bundled model, when --network is not given */
} generate_options;

/* BigGAN: images of the classes asked for, z drawn per seed and truncated by
 * resampling. Returns 0 or a DNE_EXIT_ status with err set. */
int dne_generate_biggan(const generate_options *o, const uint32_t *seeds, int count, gan_ctx *ctx, gan_error *err);

#endif
