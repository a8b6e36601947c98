/* One BigGAN training iteration as BigGAN-PyTorch's GAN_training_function
 * takes it (../shared/design/biggan.md section 7): d_steps discriminator
 * steps, each summing d_accumulations micro-batches of the hinge loss on
 * [G(z); reals] in one D pass; then one generator step over g_accumulations
 * micro-batches of -mean(D(G(z))); optional "modified" orthogonal
 * regularisation added to the gradients; Adam; and the generator's moving
 * average over every parameter and buffer. Both networks run in training
 * mode throughout (batch statistics, running statistics and spectral-norm
 * vectors updated on every pass), as in the reference. */
#ifndef DNE_TRAIN_BIGGAN_TRAINER_H
#define DNE_TRAIN_BIGGAN_TRAINER_H

#include "adam.h"
#include "gan/models/biggan.h"

typedef struct bg_train_options {
    int batch;                               /* images per micro-batch */
    int d_steps, d_accumulations, g_accumulations;
    float g_lr, d_lr, beta1, beta2, adam_eps;
    float g_ortho, d_ortho;                  /* modified orthogonal regularisation; 0: off */
    float ema_decay;
    int64_t ema_start;                       /* iterations before which G_ema copies G */
} bg_train_options;

/* BigGAN-PyTorch's launch script (launch_BigGAN_bs256x8.sh): G_lr 1e-4, D_lr
 * 4e-4, betas (0, 0.999), eps 1e-6, one D step, no orthogonal
 * regularisation, EMA 0.9999 from iteration 20000; with the batch given. */
bg_train_options bg_train_options_defaults(int batch);

/* The latents and classes of one micro-batch of generated images. */
typedef struct bg_fake_draws {
    const gan_tensor *z; /* [batch, dim_z] */
    const int *classes;  /* batch class ids */
} bg_fake_draws;

/* Everything random an iteration consumes, D's micro-batches in order
 * (step-major), so that a test can replay the reference's own. */
typedef struct bg_step_inputs {
    const bg_fake_draws *d_fakes;       /* d_steps * d_accumulations */
    const gan_tensor *const *reals;     /* the same count, [batch, 3, R, R] in [-1, 1] */
    const int *const *real_classes;     /* the same count, batch ids each */
    const bg_fake_draws *g_fakes;       /* g_accumulations */
} bg_step_inputs;

typedef struct bg_step_stats {
    double d_loss_real, d_loss_fake, g_loss; /* the last D step's and the G step's, averaged over micro-batches */
} bg_step_stats;

typedef struct bg_trainer {
    bg_train_options opt;
    bg_generator *G, *G_ema;
    bg_discriminator *D;
    adam_state adam_g, adam_d;
    gan_tensor **grads_g, **grads_d;
    int64_t iteration; /* iterations done (the reference's itr after the step) */
} bg_trainer;

/* Borrows the networks. */
int bg_trainer_init(gan_ctx *ctx, bg_trainer *t, bg_generator *G, bg_discriminator *D, bg_generator *G_ema,
                    const bg_train_options *opt);
/* One iteration. A NaN or infinite loss stops it with an error before the
 * update of that phase. */
int bg_trainer_step(gan_ctx *ctx, bg_trainer *t, const bg_step_inputs *in, bg_step_stats *stats);
void bg_trainer_free(gan_ctx *ctx, bg_trainer *t);

/* The hinge losses on host logits: D's mean(relu(1 - real)) and
 * mean(relu(1 + fake)) with their gradients (each scaled by `scale`). */
double bg_hinge_d(const float *logits, int n, int real, float scale, float *dlogits);

#endif
