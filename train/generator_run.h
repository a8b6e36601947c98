/* One run of the generator as the reference's training loss does it
 * (run_G): mapping (which moves w_avg), style mixing from a second mapping
 * of mix_z for the w rows from `cutoff` on, synthesis with per-image noise;
 * and the backward pass of that run into G's parameter gradients. */
#ifndef DNE_TRAIN_GENERATOR_RUN_H
#define DNE_TRAIN_GENERATOR_RUN_H

#include "gan/models/stylegan2_train.h"

typedef struct g_run {
    int64_t n;
    int cutoff; /* w rows from here on come from mix_z; num_ws: no mixing */
    sg2_mapping_tape map, mix_map;
    gan_tensor *ws; /* [n, num_ws, w_dim] after mixing */
    gan_tensor *img;
    sg2_synthesis_tape synth;
} g_run;

typedef struct g_run_args {
    const gan_tensor *z, *mix_z; /* [n, z_dim]; mix_z NULL or cutoff = num_ws: no mixing */
    int cutoff;
    const gan_tensor *const *noise; /* per noisy layer, or NULL: drawn from noise_seed */
    uint64_t noise_seed;
    float w_avg_beta; /* w_avg <- lerp(mean w, w_avg, beta); 1: no update */
} g_run_args;

int g_run_forward(gan_ctx *ctx, sg2_generator *g, const g_run_args *args, g_run *run);
/* Synthesis at other w vectors with the run's noise and activation masks
 * (path length's finite differences); keeps a tape in *synth. */
gan_tensor *g_run_synthesis_at(gan_ctx *ctx, const sg2_generator *g, const g_run *run, const gan_tensor *ws,
                               sg2_synthesis_tape *synth);
/* The gradient dws (num_ws rows [n, w_dim]) back through the mappings. */
int g_run_mapping_backward(gan_ctx *ctx, const sg2_generator *g, const g_run *run, gan_tensor *const *dws,
                           gan_tensor **grads);
/* dimg -> parameter gradients of the whole run (synthesis and mapping). */
int g_run_backward(gan_ctx *ctx, const sg2_generator *g, const g_run *run, const gan_tensor *dimg,
                   gan_tensor **grads);
void g_run_free(gan_ctx *ctx, g_run *run);

#endif
