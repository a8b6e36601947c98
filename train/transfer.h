/* Transfer learning: a new run that starts from another run's or model's
 * weights (dne train --resume FILE --data OTHER). What carries over and what
 * starts fresh follows the reference's resume_pkl: the networks' weights
 * (G, D and G_ema) come from FILE; the image counter, the step index, both
 * optimizers' moments, pl_mean, the augmentation p and the training options
 * (from --cfg and the other flags) start as in a new run. A file without a
 * discriminator (a generator file, an imported G_ema) gets a freshly
 * initialised one. */
#ifndef DNE_TRAIN_TRANSFER_H
#define DNE_TRAIN_TRANSFER_H

#include "checkpoint.h"

/* Whether --resume FILE [--data DATA] continues FILE's own run: FILE is a
 * dne training checkpoint and DATA is absent or names the dataset it was
 * trained on (the same file after resolving paths). 1 yes, 0 a transfer,
 * -1 an unreadable FILE (error set). */
int transfer_continues_run(const char *path, const char *data, gan_error *err);

/* Creates run->G, run->G_ema and run->D with FILE's configs and weights (D's
 * minibatch-stddev group set to mbstd_group, which only groups the batch;
 * a missing D initialised from seed, *d_from_file then 0). */
int transfer_load_networks(gan_ctx *ctx, const char *path, int mbstd_group, uint64_t seed, loaded_run *run,
                           int *d_from_file, gan_error *err);

#endif
