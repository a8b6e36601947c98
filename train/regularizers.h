/* StyleGAN2's lazy regularizers: R1 on the discriminator and path length on
 * the generator (../shared/design/stylegan2.md section 3.1). Both penalise a
 * gradient, so their parameter gradients are gradients of gradients:
 *   d/dtheta (1/2)|g|^2 = d/dtheta <u, g(theta)> with u = g held fixed,
 * the derivative of a directional derivative. R1 computes it exactly, as the
 * reference's double backward does: a forward-mode pass of the discriminator
 * along u with the activation masks held fixed, then that pass's backward
 * (gan/models/stylegan2_discriminator.h). Path length takes it as a central
 * difference of two gradients with the activation masks held fixed
 * (train/path_length.c). tests/test_regularizers.c checks both against
 * PyTorch's exact double backward. */
#ifndef DNE_TRAIN_REGULARIZERS_H
#define DNE_TRAIN_REGULARIZERS_H

#include "augment.h"
#include "gan/models/stylegan2_discriminator.h"
#include "gan/models/stylegan2_train.h"

typedef struct r1_result {
    double penalty;     /* mean over the batch of |grad_x sum D(x)|^2 */
    double loss;        /* gamma / 2 * penalty */
    gan_tensor *logits; /* D(reals) [N, 1], owned by the caller */
} r1_result;

/* The augmentation the reals went through before D (ADA): the penalised
 * gradient is with respect to the un-augmented reals, as the reference's. */
typedef struct r1_augment {
    const augment_pipe *pipe;
    const augment_tape *tape;
} r1_augment;

/* Adds gain * d loss / d theta_D into grads (aligned with d->params), where
 * loss = mean_n gamma/2 |grad_x sum D(A(x))|^2_n: images are the reals, or
 * with aug their augmentation A(x) as recorded in aug's tape. Returns 0 or
 * -1 (error in ctx). */
int r1_backward(gan_ctx *ctx, const sg2_discriminator *d, const gan_tensor *images, const r1_augment *aug,
                float gamma, float gain, gan_tensor **grads, r1_result *out);

#include "generator_run.h"

typedef struct pl_result {
    double penalty;     /* mean_n (a_n - pl_mean)^2 with the updated pl_mean */
    double loss;        /* pl_weight * penalty */
    double mean_length; /* mean_n a_n */
} pl_result;

/* Path length regularization on a generator run (its w rows ws, images img):
 * g = d sum(img * y)/d ws, a_n = sqrt(mean over rows of |g_n,l|^2),
 * *pl_mean += pl_decay (mean a - *pl_mean), loss = pl_weight mean (a - pl_mean)^2
 * with the updated pl_mean inside the graph, as the reference. Adds
 * gain * d loss/d theta into grads (synthesis and mapping). */
int path_length_backward(gan_ctx *ctx, const sg2_generator *g, const g_run *run, const gan_tensor *y, float pl_weight,
                         float pl_decay, float *pl_mean, float gain, gan_tensor **grads, pl_result *out);

#endif
