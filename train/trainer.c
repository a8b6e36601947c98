#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan/ops.h"

train_options train_options_defaults(void) {
    return (train_options){.batch = 16, .lr = 0.0025f, .beta1 = 0.0f, .beta2 = 0.99f, .eps = 1e-8f, .gamma = 1.0f,
                           .pl_weight = 2.0f, .pl_decay = 0.01f, .pl_batch_shrink = 2, .g_reg_interval = 4,
                           .d_reg_interval = 16, .style_mixing_prob = 0.9f, .ema_kimg = 10.0f, .ema_rampup = -1,
                           .w_avg_beta = 0.995f, .augment = TRAIN_AUGMENT_NONE, .augpipe = "bgc",
                           .augment_p = 0.0f, .ada_target = 0.6f, .ada_kimg = 500.0f};
}

static const char *const AUGMENT_NAMES[] = {"noaug", "ada", "fixed"};

const char *train_augment_name(train_augment a) { return AUGMENT_NAMES[a]; }

int train_augment_parse(const char *name, train_augment *out, gan_error *err) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, AUGMENT_NAMES[i]) == 0) return *out = (train_augment)i, 0;
    return gan_fail(err, "unknown augmentation mode '%s' (noaug, ada, fixed)", name);
}

static int adam_for(gan_ctx *ctx, adam_state *s, const gan_params *p, const train_options *o, int interval) {
    double c = interval > 0 ? (double)interval / (interval + 1) : 1.0;
    return adam_init(ctx, s, p, (float)(o->lr * c), (float)pow(o->beta1, c), (float)pow(o->beta2, c), o->eps);
}

/* FreezeD: D's first freeze_d layers get no optimizer state, so Adam never
 * moves them (the reference registers them as buffers). */
static void freeze_d_layers(gan_ctx *ctx, trainer *t) {
    const gan_params *p = &t->D->params;
    for (int i = 0; i < p->count; i++) {
        int layer = sg2d_layer_index(t->D, p->items[i].name);
        if (layer < 0 || layer >= t->opt.freeze_d || !t->adam_d.m[i]) continue;
        gan_tensor_free(ctx, t->adam_d.m[i]), gan_tensor_free(ctx, t->adam_d.v[i]);
        t->adam_d.m[i] = t->adam_d.v[i] = NULL;
    }
}

int trainer_init(gan_ctx *ctx, trainer *t, sg2_generator *G, sg2_discriminator *D, sg2_generator *G_ema,
                 const train_options *opt) {
    memset(t, 0, sizeof *t);
    *t = (trainer){.opt = *opt, .G = G, .G_ema = G_ema, .D = D};
    if (adam_for(ctx, &t->adam_g, &G->params, opt, opt->g_reg_interval) != 0 ||
        adam_for(ctx, &t->adam_d, &D->params, opt, opt->d_reg_interval) != 0 ||
        !(t->grads_g = gan_params_grads_new(ctx, &G->params)) || !(t->grads_d = gan_params_grads_new(ctx, &D->params))) {
        trainer_free(ctx, t);
        return -1;
    }
    freeze_d_layers(ctx, t);
    t->ada = ada_controller_new(opt->augment_p);
    t->ada.target = opt->ada_target, t->ada.kimg = opt->ada_kimg;
    if (opt->augment != TRAIN_AUGMENT_NONE && augment_pipe_named(ctx, opt->augpipe, &t->pipe) != 0) {
        trainer_free(ctx, t);
        return -1;
    }
    return 0;
}

void trainer_free(gan_ctx *ctx, trainer *t) {
    adam_free(ctx, &t->adam_g);
    adam_free(ctx, &t->adam_d);
    augment_pipe_free(ctx, &t->pipe);
    if (t->G) gan_params_grads_free(ctx, &t->G->params, t->grads_g);
    if (t->D) gan_params_grads_free(ctx, &t->D->params, t->grads_d);
    t->grads_g = t->grads_d = NULL;
}

/* ---------------------------------------------------------------- losses */

/* torch's softplus (linear above 20) and its derivative. */
static double softplus(double x) { return x > 20 ? x : log1p(exp(x)); }
static double softplus_grad(double x) { return x > 20 ? 1.0 : 1.0 / (1.0 + exp(-x)); }

/* loss = mean softplus(sign * logits); dlogits = its gradient times gain. */
static double softplus_loss(gan_ctx *ctx, const gan_tensor *logits, float sign, float gain, gan_tensor **dlogits) {
    int64_t n = logits->numel;
    float *l = malloc((size_t)n * sizeof *l), *d = malloc((size_t)n * sizeof *d);
    double loss = 0;
    *dlogits = NULL;
    if (l && d && gan_tensor_download(ctx, logits, l) == 0) {
        for (int64_t i = 0; i < n; i++) {
            loss += softplus(sign * l[i]) / (double)n;
            d[i] = (float)(sign * softplus_grad(sign * l[i]) / (double)n * gain);
        }
        *dlogits = gan_tensor_from_host(ctx, logits->ndim, logits->shape, d);
    } else if (!l || !d) {
        gan_ctx_fail(ctx, "out of memory");
    }
    free(l), free(d);
    return loss;
}

/* ---------------------------------------------------------------- phases */

static int run_g(gan_ctx *ctx, trainer *t, const run_draws *r, g_run *run) {
    int mixing = r->mix_z && r->mix_rand < t->opt.style_mixing_prob;
    g_run_args a = {r->z, mixing ? r->mix_z : NULL, mixing ? r->mix_cutoff : t->G->num_ws, r->noise, 0,
                    t->opt.w_avg_beta};
    return g_run_forward(ctx, t->G, &a, run);
}

/* NaN or Inf anywhere in the phase's gradients stops training. */
static int check_finite(gan_ctx *ctx, const gan_params *p, gan_tensor **grads, const char *phase, double loss) {
    if (!isfinite(loss)) return gan_ctx_fail(ctx, "%s: the loss is %g (training diverged)", phase, loss), -1;
    for (int i = 0; i < p->count; i++)
        if (grads[i] && gan_count_nonfinite(ctx, grads[i]) != 0)
            return gan_ctx_fail(ctx, "%s: NaN or Inf in the gradient of %s (training diverged)", phase,
                                p->items[i].name), -1;
    return ctx->failed ? -1 : 0;
}

static int finish_phase(gan_ctx *ctx, trainer *t, const char *phase, int is_g, double loss) {
    const gan_params *p = is_g ? &t->G->params : &t->D->params;
    gan_tensor **grads = is_g ? t->grads_g : t->grads_d;
    if (check_finite(ctx, p, grads, phase, loss) != 0) return -1;
    if (t->on_phase) t->on_phase(t->on_phase_cls, phase, grads);
    return adam_step(ctx, is_g ? &t->adam_g : &t->adam_d, grads);
}

/* The images D is shown: augmented when the run augments (*owned is then
 * the new tensor, the tape, if given, what its backward pass needs), else
 * the images themselves. */
static const gan_tensor *d_input(gan_ctx *ctx, const trainer *t, const gan_tensor *images, uint64_t seed,
                                 augment_tape *tape, gan_tensor **owned) {
    *owned = NULL;
    if (tape) memset(tape, 0, sizeof *tape);
    if (t->opt.augment == TRAIN_AUGMENT_NONE) return images;
    return *owned = augment_apply(ctx, &t->pipe, images, t->ada.p, seed, tape);
}

/* Each phase's augmentation has its own draws. */
enum { AUG_GMAIN = 1, AUG_DMAIN_FAKE = 2, AUG_DMAIN_REAL = 3, AUG_DREG = 4 };
static uint64_t augment_seed(const step_draws *dr, int phase) {
    return dr->augment_seed ^ (uint64_t)phase * 0x9E3779B97F4A7C15ull;
}

static int phase_gmain(gan_ctx *ctx, trainer *t, const step_draws *dr, step_stats *st) {
    g_run run;
    if (gan_params_grads_zero(ctx, &t->G->params, t->grads_g) != 0 || run_g(ctx, t, &dr->gmain, &run) != 0) return -1;
    sg2d_tape tape = {0};
    augment_tape aug;
    gan_tensor *augmented, *dlogits = NULL, *dx = NULL, *dimg = NULL;
    const gan_tensor *x = d_input(ctx, t, run.img, augment_seed(dr, AUG_GMAIN), &aug, &augmented);
    gan_tensor *logits = x ? sg2d_forward(ctx, t->D, x, &tape) : NULL;
    if (logits) st->g_loss = softplus_loss(ctx, logits, -1.0f, 1.0f, &dlogits);
    if (dlogits && sg2d_backward(ctx, t->D, &tape, dlogits, NULL, &dx) == 0) {
        dimg = augmented ? augment_apply_backward(ctx, &t->pipe, dx, &aug) : dx;
        if (dimg) g_run_backward(ctx, t->G, &run, dimg, t->grads_g);
    }
    sg2d_tape_free(ctx, &tape);
    augment_tape_free(ctx, &aug);
    if (dimg != dx) gan_tensor_free(ctx, dimg);
    gan_tensor_free(ctx, augmented), gan_tensor_free(ctx, logits), gan_tensor_free(ctx, dlogits);
    gan_tensor_free(ctx, dx);
    g_run_free(ctx, &run);
    return ctx->failed ? -1 : finish_phase(ctx, t, "Gmain", 1, st->g_loss);
}

static int phase_greg(gan_ctx *ctx, trainer *t, const step_draws *dr, step_stats *st) {
    g_run run;
    if (gan_params_grads_zero(ctx, &t->G->params, t->grads_g) != 0 || run_g(ctx, t, &dr->greg, &run) != 0) return -1;
    /* y = pl_noise / sqrt(H W), exact: the resolution is a power of two */
    gan_tensor *y = gan_scale(ctx, dr->pl_noise, 1.0f / (float)t->G->cfg.img_resolution);
    pl_result pl;
    path_length_backward(ctx, t->G, &run, y, t->opt.pl_weight, t->opt.pl_decay, &t->pl_mean,
                         (float)t->opt.g_reg_interval, t->grads_g, &pl);
    st->pl_penalty = pl.penalty;
    gan_tensor_free(ctx, y);
    g_run_free(ctx, &run);
    return ctx->failed ? -1 : finish_phase(ctx, t, "Greg", 1, pl.loss);
}

/* ADA's evidence: the signs of D's logits on real images. */
static void report_real_logits(gan_ctx *ctx, trainer *t, const gan_tensor *logits) {
    float *l = malloc((size_t)logits->numel * sizeof *l);
    if (!l) {
        gan_ctx_fail(ctx, "out of memory");
        return;
    }
    if (gan_tensor_download(ctx, logits, l) == 0) ada_report_real_logits(&t->ada, l, logits->numel);
    free(l);
}

/* Adds the D gradient of mean softplus(sign * D(images)) into grads_d;
 * the images are augmented first when the run augments. */
static double d_loss_on(gan_ctx *ctx, trainer *t, const gan_tensor *images, float sign, uint64_t seed, int real) {
    sg2d_tape tape = {0};
    gan_tensor *augmented, *logits = NULL, *dlogits = NULL;
    const gan_tensor *x = d_input(ctx, t, images, seed, NULL, &augmented);
    if (x) logits = sg2d_forward(ctx, t->D, x, &tape);
    double loss = logits ? softplus_loss(ctx, logits, sign, 1.0f, &dlogits) : NAN;
    if (logits && real) report_real_logits(ctx, t, logits);
    if (dlogits) sg2d_backward(ctx, t->D, &tape, dlogits, t->grads_d, NULL);
    sg2d_tape_free(ctx, &tape);
    gan_tensor_free(ctx, augmented), gan_tensor_free(ctx, logits), gan_tensor_free(ctx, dlogits);
    return loss;
}

static int phase_dmain(gan_ctx *ctx, trainer *t, const gan_tensor *reals, const step_draws *dr, step_stats *st) {
    g_run run;
    if (gan_params_grads_zero(ctx, &t->D->params, t->grads_d) != 0 || run_g(ctx, t, &dr->dmain, &run) != 0) return -1;
    st->d_loss = d_loss_on(ctx, t, run.img, 1.0f, augment_seed(dr, AUG_DMAIN_FAKE), 0);
    g_run_free(ctx, &run);
    st->d_loss += d_loss_on(ctx, t, reals, -1.0f, augment_seed(dr, AUG_DMAIN_REAL), 1);
    return ctx->failed ? -1 : finish_phase(ctx, t, "Dmain", 0, st->d_loss);
}

static int phase_dreg(gan_ctx *ctx, trainer *t, const gan_tensor *reals, const step_draws *dr, step_stats *st) {
    if (gan_params_grads_zero(ctx, &t->D->params, t->grads_d) != 0) return -1;
    augment_tape aug;
    gan_tensor *augmented;
    const gan_tensor *x = d_input(ctx, t, reals, augment_seed(dr, AUG_DREG), &aug, &augmented);
    r1_result r1 = {0};
    const r1_augment via = {&t->pipe, &aug};
    if (x) r1_backward(ctx, t->D, x, augmented ? &via : NULL, t->opt.gamma, (float)t->opt.d_reg_interval, t->grads_d,
                       &r1);
    if (r1.logits) report_real_logits(ctx, t, r1.logits);
    gan_tensor_free(ctx, r1.logits), gan_tensor_free(ctx, augmented);
    augment_tape_free(ctx, &aug);
    st->r1_penalty = r1.penalty;
    return ctx->failed ? -1 : finish_phase(ctx, t, "Dreg", 0, r1.loss);
}

/* G_ema <- lerp(G, G_ema, beta) for parameters; buffers copied. */
static int update_ema(gan_ctx *ctx, trainer *t) {
    const train_options *o = &t->opt;
    double ema_nimg = o->ema_kimg * 1000.0;
    if (o->ema_rampup > 0) ema_nimg = fmin(ema_nimg, (double)t->cur_nimg * o->ema_rampup);
    float beta = (float)pow(0.5, o->batch / fmax(ema_nimg, 1e-8));
    const gan_params *src = &t->G->params, *dst = &t->G_ema->params;
    for (int i = 0; i < src->count && !ctx->failed; i++)
        gan_lerp_into(ctx, dst->items[i].tensor, src->items[i].tensor, src->items[i].is_buffer ? 0.0f : beta);
    return ctx->failed ? -1 : 0;
}

int trainer_step(gan_ctx *ctx, trainer *t, const gan_tensor *reals, const step_draws *draws, step_stats *st) {
    memset(st, 0, sizeof *st);
    st->greg = t->opt.g_reg_interval > 0 && t->batch_idx % t->opt.g_reg_interval == 0;
    st->dreg = t->opt.d_reg_interval > 0 && t->batch_idx % t->opt.d_reg_interval == 0;
    if (phase_gmain(ctx, t, draws, st) != 0) return -1;
    if (st->greg && phase_greg(ctx, t, draws, st) != 0) return -1;
    if (phase_dmain(ctx, t, reals, draws, st) != 0) return -1;
    if (st->dreg && phase_dreg(ctx, t, reals, draws, st) != 0) return -1;
    if (update_ema(ctx, t) != 0) return -1;
    t->cur_nimg += t->opt.batch;
    t->batch_idx++;
    if (t->opt.augment == TRAIN_AUGMENT_ADA) ada_after_minibatch(&t->ada, t->batch_idx, t->opt.batch);
    st->augment_p = t->ada.p;
    return 0;
}
