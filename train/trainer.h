/* One StyleGAN2 training step as stylegan2-ada-pytorch's training loop and
 * loss take it (../shared/design/stylegan2.md section 3): the phases Gmain,
 * Greg (path length, every g_reg_interval steps), Dmain and Dreg (R1, every
 * d_reg_interval steps), each followed by its network's Adam step; then the
 * generator's moving average. Random inputs come in through step_draws, so
 * that a test can replay the reference's own. */
#ifndef DNE_TRAIN_TRAINER_H
#define DNE_TRAIN_TRAINER_H

#include "ada.h"
#include "adam.h"
#include "augment.h"
#include "generator_run.h"
#include "regularizers.h"

/* What D sees: the images as they are, or augmented with probability p that
 * ADA adapts or that stays fixed. */
typedef enum train_augment { TRAIN_AUGMENT_NONE, TRAIN_AUGMENT_ADA, TRAIN_AUGMENT_FIXED } train_augment;

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
    train_augment augment;
    char augpipe[16];                /* the pipeline's name (augment_pipe_named) */
    float augment_p;                 /* the fixed p, or ADA's starting one */
    float ada_target, ada_kimg;      /* ADA's heuristic (ada.h) */
} train_options;

/* "noaug", "ada", "fixed" (the --aug values). */
const char *train_augment_name(train_augment a);
int train_augment_parse(const char *name, train_augment *out, gan_error *err);

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
    uint64_t augment_seed;         /* names the step's augmentation draws */
} step_draws;

typedef struct step_stats {
    double g_loss, pl_penalty, d_loss, r1_penalty;
    int greg, dreg; /* whether the regularization phases ran */
    float augment_p; /* p after the step */
} step_stats;

typedef struct trainer {
    train_options opt;
    sg2_generator *G, *G_ema;
    sg2_discriminator *D;
    adam_state adam_g, adam_d;
    gan_tensor **grads_g, **grads_d;
    float pl_mean;
    int64_t cur_nimg, batch_idx;
    augment_pipe pipe;  /* when opt.augment is not NONE */
    ada_controller ada; /* p, and ADA's collected signs */
    /* Called after each phase with its summed gradients (tests). */
    void (*on_phase)(void *cls, const char *phase, gan_tensor **grads);
    void *on_phase_cls;
} trainer;

/* Borrows the networks; makes the optimizers with the lazy-regularization
 * adjustment (lr * c, betas ^ c, c = interval / (interval + 1)). */
int trainer_init(gan_ctx *ctx, trainer *t, sg2_generator *G, sg2_discriminator *D, sg2_generator *G_ema,
                 const train_options *opt);
/* reals [batch, C, R, R] in [-1, 1]. With augmentation every image D sees,
 * real or generated, goes through the pipeline first (the generator's
 * gradient and R1 through it too), and with ADA p follows D's signs on the
 * reals after every minibatch. A NaN or infinite loss or gradient
 * stops the step with an error naming the phase, before any update of that
 * phase. */
int trainer_step(gan_ctx *ctx, trainer *t, const gan_tensor *reals, const step_draws *draws, step_stats *stats);
void trainer_free(gan_ctx *ctx, trainer *t);

#endif
