/* One StyleGAN2 training step as stylegan2-ada-pytorch's training loop and
 * loss take it (../shared/design/stylegan2.md section 3): the phases Gmain,
 * Greg (path length, every g_reg_interval steps), Dmain and Dreg (R1, every
 * d_reg_interval steps), each followed by its network's Adam step; then the
 * generator's moving average. Random inputs come in through step_draws, so
 * that a test can replay the reference's own. */
#ifndef DNE_TRAIN_TRAINER_H
#define DNE_TRAIN_TRAINER_H

#include "adam.h"
#include "generator_run.h"
#include "regularizers.h"

typedef struct train_options {
    int batch;                       /* images per step, in one round */
    float lr, beta1, beta2, eps;     /* Adam's, before the lazy-regularization adjustment */
    float gamma;                     /* R1 weight */
    float pl_weight, pl_decay;       /* path length */
    int pl_batch_shrink;             /* path length runs on batch / shrink images */
    int g_reg_interval, d_reg_interval;
    float style_mixing_prob;
    float ema_kimg, ema_rampup;      /* ema_rampup <= 0: none */
    float w_avg_beta;                /* mapping's w_avg tracking (0.995) */
    int freeze_d;                    /* FreezeD: D's first layers (from the input) kept fixed; 0: none */
} train_options;

/* The reference's defaults for everything but batch, lr, gamma and the EMA. */
train_options train_options_defaults(void);

/* A generator run's random inputs: latents, style mixing (mixing happens when
 * mix_rand < style_mixing_prob, from w row mix_cutoff on) and per-layer noise. */
typedef struct run_draws {
    const gan_tensor *z, *mix_z;
    float mix_rand;
    int mix_cutoff;
    const gan_tensor *const *noise;
} run_draws;

typedef struct step_draws {
    run_draws gmain, greg, dmain;  /* greg's z has batch / pl_batch_shrink rows */
    const gan_tensor *pl_noise;    /* [batch / shrink, C, R, R], N(0, 1) */
} step_draws;

typedef struct step_stats {
    double g_loss, pl_penalty, d_loss, r1_penalty;
    int greg, dreg; /* whether the regularization phases ran */
} step_stats;

typedef struct trainer {
    train_options opt;
    sg2_generator *G, *G_ema;
    sg2_discriminator *D;
    adam_state adam_g, adam_d;
    gan_tensor **grads_g, **grads_d;
    float pl_mean;
    int64_t cur_nimg, batch_idx;
    /* Called after each phase with its summed gradients (tests). */
    void (*on_phase)(void *cls, const char *phase, gan_tensor **grads);
    void *on_phase_cls;
} trainer;

/* Borrows the networks; makes the optimizers with the lazy-regularization
 * adjustment (lr * c, betas ^ c, c = interval / (interval + 1)). */
int trainer_init(gan_ctx *ctx, trainer *t, sg2_generator *G, sg2_discriminator *D, sg2_generator *G_ema,
                 const train_options *opt);
/* reals [batch, C, R, R] in [-1, 1]. A NaN or infinite loss or gradient
 * stops the step with an error naming the phase, before any update of that
 * phase. */
int trainer_step(gan_ctx *ctx, trainer *t, const gan_tensor *reals, const step_draws *draws, step_stats *stats);
void trainer_free(gan_ctx *ctx, trainer *t);

#endif
