/* A training run: the loop around trainer_step that reads minibatches from a
 * dataset, prints progress, and writes the run folder in the reference's
 * layout: <outdir>/<NNNNN>-<dataset>-<cfg>/ with training_options.json,
 * log.txt, stats.jsonl, reals.png, fakes_init.png, fakesNNNNNN.png and
 * network-snapshot-NNNNNN.safetensors (see checkpoint.h). */
#ifndef DNE_TRAIN_RUN_H
#define DNE_TRAIN_RUN_H

#include "gan/context.h"
#include "gan/error.h"
#include "trainer.h"

typedef struct run_config {
    const char *data, *outdir, *cfg, *resume; /* resume: see train_run */
    double kimg;      /* train until this many thousand images */
    double tick_kimg; /* progress every this many kimg */
    int snap;         /* snapshot every this many ticks */
    int batch;        /* 0: the config's */
    double gamma;     /* negative: the config's */
    unsigned long seed;
    int mirror;
    int threads;      /* CPU threads (the CPU context, data loading and SWD) */
    gan_device device; /* where the networks and the training state live */
    int grid;         /* the fakes grid is grid x grid images */
    int freeze_d;     /* FreezeD layers of a new run (a resumed run keeps its own) */
    train_augment augment; /* a new run's augmentation (trainer.h) */
    const char *augpipe;
    float augment_p, ada_target, ada_kimg;
    const char *new_run_flag; /* a flag given that only a new run takes (refused when continuing one) */
    int swd;          /* measure SWD at every snapshot (metric-swd.jsonl) */
    const char *metric_data; /* the reals it is measured against (NULL: --data) */
    int metric_num;   /* that many reals and as many fakes (0: min(1000, dataset)) */
} run_config;

/* The training options and network of a config preset (auto, stylegan2,
 * paper256, paper512, paper1024, small) at a resolution. */
int train_config_preset(const char *name, int resolution, int batch, double gamma, train_options *o,
                        sg2_config *g, int *mbstd_group, gan_error *err);

/* Runs until kimg, a NaN (error), or SIGINT/SIGTERM (a final snapshot, then
 * 0). With resume, a checkpoint of the same dataset continues its run with
 * everything restored; any other file (another dataset's checkpoint, a
 * generator file, an imported model) starts a new run from its weights
 * (transfer.h). */
int train_run(const run_config *rc, gan_error *err);

#endif
