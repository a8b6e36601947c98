/* StyleGAN2's lazy regularizers: R1 on the discriminator and path length on
 * the generator (../shared/design/stylegan2.md section 3.1). Both penalise a
 * gradient, so their parameter gradients are gradients of gradients:
 *   d/dtheta (1/2)|g|^2 = d/dtheta <u, g(theta)> with u = g held fixed,
 * the derivative of a directional derivative. R1 computes it exactly, as the
 * reference's double backward does: a forward-mode pass of the discriminator
 * along u with the activation masks held fixed, then that pass's backward
 * (gan/models/stylegan2_discriminator.h). tests/test_regularizers.c checks
 * the result against PyTorch's exact double backward. */
#ifndef DNE_TRAIN_REGULARIZERS_H
#define DNE_TRAIN_REGULARIZERS_H

#include "gan/models/stylegan2_discriminator.h"
#include "gan/models/stylegan2_train.h"

typedef struct r1_result {
    double penalty;     /* mean over the batch of |grad_x sum D(x)|^2 */
    double loss;        /* gamma / 2 * penalty */
    gan_tensor *logits; /* D(reals) [N, 1], owned by the caller */
} r1_result;

/* Adds gain * d loss / d theta_D into grads (aligned with d->params), where
 * loss = mean_n gamma/2 |grad_x sum D(x)|^2_n. Returns 0 or -1 (error in ctx). */
int r1_backward(gan_ctx *ctx, const sg2_discriminator *d, const gan_tensor *reals, float gamma, float gain,
                gan_tensor **grads, r1_result *out);

#endif
