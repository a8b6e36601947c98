/* The parts of a training run that do not depend on the architecture: the
 * minibatch order, the run folder and its log, image grids, and stopping on
 * SIGINT/SIGTERM. Shared by the StyleGAN2 run (run.c) and the BigGAN run
 * (biggan_run.c). */
#ifndef DNE_TRAIN_RUN_COMMON_H
#define DNE_TRAIN_RUN_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "gan/context.h"
#include "gan/io/dataset.h"

/* The training order: each epoch a fresh permutation of the (mirrored)
 * dataset, from the run's seed, so any position can be recomputed. */
typedef struct sampler {
    gan_dataset *ds;
    int count; /* dataset images, times 2 with mirroring */
    uint64_t seed;
    int64_t epoch;
    int *perm;
    uint8_t *pixels;
} sampler;

int sampler_init(sampler *s, gan_dataset *ds, int mirror, uint64_t seed, gan_error *err);
void sampler_free(sampler *s);
/* Images [pos, pos + n) of the order, in [-1, 1]; with classes (n ints) also
 * their class ids (-1 for an unlabelled dataset). */
gan_tensor *sampler_batch(gan_ctx *ctx, sampler *s, int64_t pos, int n, int *classes, gan_error *err);

typedef struct run_files {
    char dir[1024];
    FILE *log, *stats;
} run_files;

/* <outdir>/<NNNNN>-<name>-<cfg>, NNNNN one above the largest present. */
int run_make_dir(const char *outdir, const char *name, const char *cfg, char *path, size_t size, gan_error *err);
/* Opens log.txt and stats.jsonl in f->dir and writes training_options.json. */
int run_open_files(run_files *f, const char *options_json, gan_error *err);
void run_close_files(run_files *f);
/* A line on stderr and in log.txt. */
void run_say(run_files *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A cols x rows contact sheet of images [n, C, R, R] (row-major). */
int run_save_grid(gan_ctx *ctx, const gan_tensor *images, int cols, int rows, const char *path, gan_error *err);

/* SIGINT and SIGTERM set a flag instead of killing the run, so that it can
 * write a last snapshot. */
void run_catch_stop_signals(void);
void run_restore_signals(void);
int run_stop_requested(void);

#endif
