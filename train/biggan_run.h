/* A BigGAN training run (`dne train --arch biggan`): the loop around
 * bg_trainer_step over a labelled dataset, in the same run folder layout as
 * StyleGAN2's (run.h): training_options.json, log.txt, stats.jsonl,
 * reals.png, fakes_init.png, fakesNNNNNN.png (one row per class),
 * network-snapshot-NNNNNN.safetensors (biggan_checkpoint.h) and, with SWD on,
 * metric-swd.jsonl holding the SWD of G_ema over all classes and the mean of
 * the per-class SWDs (each class's fakes against that class's reals). */
#ifndef DNE_TRAIN_BIGGAN_RUN_H
#define DNE_TRAIN_BIGGAN_RUN_H

#include "biggan_trainer.h"

typedef struct bg_run_config {
    const char *data, *outdir, *resume; /* resume: a BigGAN checkpoint continues its run */
    double kimg, tick_kimg;             /* real images, in thousands */
    int snap;                           /* snapshot every this many ticks */
    unsigned long seed;
    int mirror, threads;
    gan_device device;
    bg_config net;                      /* of a new run; resolution and classes come from the data */
    char d_attn[BG_ATTN_LEN];           /* D's attention resolutions ("": bgd_config_for's) */
    bg_train_options opt;               /* of a new run */
    int swd;
    const char *metric_data;
    int metric_num;                     /* reals for the overall SWD (0: min(1000, dataset)) */
} bg_run_config;

/* The network and options of a new run: BigGAN-PyTorch's defaults with the
 * channel multiplier, batch and learning rates of the small CPU config
 * (ch 16, batch 16, attention at 32 px, shared 32, dim_z 4 * slots). */
void bg_run_config_small(bg_run_config *rc);

int bg_train_run(const bg_run_config *rc, gan_error *err);

#endif
