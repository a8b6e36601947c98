/* BigGAN training checkpoints, in the layout of StyleGAN2's (checkpoint.h):
 * "G.", "D.", "G_ema." under BigGAN-PyTorch's state_dict names, both Adam
 * states ("adamG.m." ...), and in __metadata__ "format": "dne-checkpoint",
 * "config" (G's, so that generator readers use G_ema), "D_config",
 * "training_options" and "state" (iteration, images seen, Adam step counts,
 * seed; an iteration's random draws are a function of the seed and the
 * iteration, so this is the whole random state). Written atomically. */
#ifndef DNE_TRAIN_BIGGAN_CHECKPOINT_H
#define DNE_TRAIN_BIGGAN_CHECKPOINT_H

#include "biggan_trainer.h"

typedef struct bg_run_meta {
    uint64_t seed;
    int mirror;
    double total_kimg;
    int64_t cur_nimg;  /* real images consumed */
    char dataset[256]; /* what --data named */
} bg_run_meta;

char *bg_train_options_to_json(const bg_train_options *o, const bg_run_meta *m);
int bg_train_options_parse(const char *json, bg_train_options *o, bg_run_meta *m, gan_error *err);

int bg_checkpoint_save(gan_ctx *ctx, const bg_trainer *t, const bg_run_meta *meta, const char *path, gan_error *err);

typedef struct bg_loaded_run {
    bg_generator *G, *G_ema;
    bg_discriminator *D;
    bg_trainer t;
    bg_run_meta meta;
} bg_loaded_run;
int bg_checkpoint_load(gan_ctx *ctx, const char *path, bg_loaded_run *out, gan_error *err);
void bg_checkpoint_free(gan_ctx *ctx, bg_loaded_run *run);

#endif
