/* The adaptive discriminator augmentation heuristic of stylegan2-ada-pytorch
 * (Karras et al. 2020, training_loop.py): the probability p of every
 * augmentation follows the sign of D's outputs on real images. Each time D
 * runs on reals (Dmain and Dreg) the signs of its logits are collected; after
 * every `interval`-th minibatch their mean since the last adjustment, r_t, is
 * compared with the target:
 *   p <- max(p + sign(r_t - target) * batch * interval / (kimg * 1000), 0).
 * p is kept in float32, as the reference's buffer is, so a trajectory matches
 * the reference's to the bit. */
#ifndef DNE_TRAIN_ADA_H
#define DNE_TRAIN_ADA_H

#include <stdint.h>

typedef struct ada_controller {
    float p;
    double target; /* 0.6 */
    int interval;  /* minibatches between adjustments (4) */
    double kimg;   /* thousands of images for p to move by 1 (500) */
    double sign_sum;
    int64_t sign_count; /* signs collected since the last adjustment */
} ada_controller;

/* The reference's defaults, starting from p. */
ada_controller ada_controller_new(float p);
/* Collects sign(logit) of n real-image logits (NaN stays NaN, 0 counts 0). */
void ada_report_real_logits(ada_controller *a, const float *logits, int64_t n);
/* After a minibatch: batch_idx is the count of minibatches done so far
 * (already incremented), batch the total batch size. Adjusts p when
 * batch_idx is a multiple of the interval; returns 1 if it did. */
int ada_after_minibatch(ada_controller *a, int64_t batch_idx, int batch);

#endif
