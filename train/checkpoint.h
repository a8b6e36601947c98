/* Training checkpoints: one safetensors file with everything a run needs to
 * continue bit for bit: "G.", "D.", "G_ema." (state_dict names), both Adam
 * states ("adamG.m.", "adamG.v.", "adamD.m.", "adamD.v." + parameter name),
 * pl_mean ("state.pl_mean", kept as fp32 bits), and in __metadata__:
 * "format": "dne-checkpoint", "config" (G's, so that any generator reader
 * takes the file and uses G_ema), "D_config", "training_options" and "state"
 * (image counter, step index, Adam step counts, seed; the random draws of a
 * step are a function of the seed and the step index, so this is the whole
 * random state). Written to a temporary name, fsynced and renamed. */
#ifndef DNE_TRAIN_CHECKPOINT_H
#define DNE_TRAIN_CHECKPOINT_H

#include "trainer.h"

typedef struct run_meta {
    uint64_t seed;
    int mirror;
    double total_kimg;
    char cfg[32];       /* the config preset name */
    char dataset[256];  /* what --data named */
} run_meta;

char *train_options_to_json(const train_options *o, const run_meta *m);
int train_options_parse(const char *json, train_options *o, run_meta *m, gan_error *err);

int checkpoint_save(gan_ctx *ctx, const trainer *t, const run_meta *meta, const char *path, gan_error *err);

/* Loads a checkpoint into fresh networks and a trainer (the caller frees
 * them with checkpoint_free). */
typedef struct loaded_run {
    sg2_generator *G, *G_ema;
    sg2_discriminator *D;
    trainer t;
    run_meta meta;
} loaded_run;
int checkpoint_load(gan_ctx *ctx, const char *path, loaded_run *out, gan_error *err);
void checkpoint_free(gan_ctx *ctx, loaded_run *run);

#endif
