#include "biggan_trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan/ops.h"

bg_train_options bg_train_options_defaults(int batch) {
    return (bg_train_options){.batch = batch, .d_steps = 1, .d_accumulations = 1, .g_accumulations = 1,
                              .g_lr = 1e-4f, .d_lr = 4e-4f, .beta1 = 0.0f, .beta2 = 0.999f, .adam_eps = 1e-6f,
                              .ema_decay = 0.9999f, .ema_start = 20000};
}

int bg_trainer_init(gan_ctx *ctx, bg_trainer *t, bg_generator *G, bg_discriminator *D, bg_generator *G_ema,
                    const bg_train_options *opt) {
    *t = (bg_trainer){.opt = *opt, .G = G, .G_ema = G_ema, .D = D};
    if (opt->batch < 1 || opt->d_steps < 1 || opt->d_accumulations < 1 || opt->g_accumulations < 1) {
        gan_ctx_fail(ctx, "biggan training: batch, D steps and accumulations must be at least 1");
        return -1;
    }
    int rc = adam_init(ctx, &t->adam_g, &G->params, opt->g_lr, opt->beta1, opt->beta2, opt->adam_eps);
    if (rc == 0) rc = adam_init(ctx, &t->adam_d, &D->params, opt->d_lr, opt->beta1, opt->beta2, opt->adam_eps);
    if (rc == 0) t->grads_g = gan_params_grads_new(ctx, &G->params);
    if (rc == 0) t->grads_d = gan_params_grads_new(ctx, &D->params);
    if (rc != 0 || !t->grads_g || !t->grads_d) {
        bg_trainer_free(ctx, t);
        return -1;
    }
    return 0;
}

void bg_trainer_free(gan_ctx *ctx, bg_trainer *t) {
    adam_free(ctx, &t->adam_g);
    adam_free(ctx, &t->adam_d);
    if (t->G) gan_params_grads_free(ctx, &t->G->params, t->grads_g);
    if (t->D) gan_params_grads_free(ctx, &t->D->params, t->grads_d);
    t->grads_g = t->grads_d = NULL;
}

double bg_hinge_d(const float *logits, int n, int real, float scale, float *dlogits) {
    double loss = 0;
    for (int i = 0; i < n; i++) {
        double margin = real ? 1.0 - logits[i] : 1.0 + logits[i];
        loss += margin > 0 ? margin : 0;
        dlogits[i] = margin > 0 ? (real ? -scale : scale) / (float)n : 0.0f;
    }
    return loss / n * scale;
}

/* The reference's "modified" orthogonal regularisation, added to the
 * gradients: grad += strength * 2 ((W W^T) * (1 - I)) W for every trained
 * tensor of two or more dimensions, W viewed as [rows, rest]. */
static void add_ortho(gan_ctx *ctx, const gan_params *p, gan_tensor **grads, float strength, const gan_tensor *skip) {
    for (int i = 0; i < p->count && !gan_ctx_failed(ctx); i++) {
        const gan_tensor *w = p->items[i].tensor;
        if (p->items[i].is_buffer || w->ndim < 2 || w == skip) continue;
        int64_t rows = w->shape[0];
        float *off = malloc((size_t)(rows * rows) * sizeof *off);
        if (!off) {
            gan_ctx_fail(ctx, "out of memory");
            return;
        }
        for (int64_t k = 0; k < rows * rows; k++) off[k] = k % (rows + 1) == 0 ? 0.0f : 1.0f;
        gan_tensor *mask = gan_tensor_from_host(ctx, 2, (int64_t[]){rows, rows}, off);
        free(off);
        gan_tensor m = gan_tensor_view(w, 2, (int64_t[]){rows, w->numel / rows});
        gan_tensor *gram = gan_matmul(ctx, &m, &m, 0, 1);
        gan_tensor *masked = gan_mul(ctx, gram, mask);
        gan_tensor *g = gan_matmul(ctx, masked, &m, 0, 0);
        if (g) gan_accumulate(ctx, grads[i], g, 2.0f * strength);
        gan_tensor *temps[] = {mask, gram, masked, g};
        for (size_t k = 0; k < sizeof temps / sizeof *temps; k++) gan_tensor_free(ctx, temps[k]);
    }
}

static int check_grads(gan_ctx *ctx, const gan_params *p, gan_tensor **grads, const char *phase) {
    for (int i = 0; i < p->count; i++) {
        if (!grads[i]) continue;
        int64_t bad = gan_count_nonfinite(ctx, grads[i]);
        if (bad < 0) return -1;
        if (bad > 0) {
            gan_ctx_fail(ctx, "%s: %lld non-finite gradient values in %s; stopping before the update", phase,
                         (long long)bad, p->items[i].name);
            return -1;
        }
    }
    return 0;
}

/* G's images of one micro-batch in training mode, with the labels and
 * class embeddings they came from (the caller's, alive while the tape is). */
static gan_tensor *generate(gan_ctx *ctx, const bg_trainer *t, const bg_fake_draws *f, bg_tape *tape,
                            gan_tensor **labels, gan_tensor **y_emb) {
    *labels = bg_one_hot(ctx, f->classes, t->opt.batch, t->G->cfg.n_classes);
    *y_emb = bg_embed_classes(ctx, t->G, *labels);
    return bg_forward(ctx, t->G, f->z, *y_emb, BG_TRAIN, tape);
}

/* [fakes; reals] and their labels, one D pass for both as the reference. */
static gan_tensor *concat_batches(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b) {
    if (!a || !b) return NULL;
    int64_t shape[GAN_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] = a->shape[0] + b->shape[0];
    gan_tensor *y = gan_tensor_new(ctx, a->ndim, shape);
    if (y && (gan_write_slice(ctx, y, a, 0) != 0 || gan_write_slice(ctx, y, b, a->shape[0]) != 0)) {
        gan_tensor_free(ctx, y);
        y = NULL;
    }
    return y;
}

static int all_finite(const float *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* D's loss on logits [2B] (fakes first) into dlogits; the losses added to stats. */
static int d_loss(gan_ctx *ctx, const float *logits, int b, float scale, float *dlogits, bg_step_stats *stats) {
    if (!all_finite(logits, 2 * b)) return gan_ctx_fail(ctx, "D step: non-finite logits; stopping before the update"), -1;
    stats->d_loss_fake += bg_hinge_d(logits, b, 0, scale, dlogits);
    stats->d_loss_real += bg_hinge_d(logits + b, b, 1, scale, dlogits + b);
    return 0;
}

/* One micro-batch of a D step: gradients added to grads_d. */
static int d_micro_batch(gan_ctx *ctx, bg_trainer *t, const bg_fake_draws *f, const gan_tensor *reals,
                         const int *real_classes, bg_step_stats *stats) {
    int b = t->opt.batch, k = t->G->cfg.n_classes;
    gan_tensor *fake_labels = NULL, *y_emb = NULL;
    gan_tensor *fakes = generate(ctx, t, f, NULL, &fake_labels, &y_emb);
    gan_tensor *real_labels = bg_one_hot(ctx, real_classes, b, k);
    gan_tensor *images = concat_batches(ctx, fakes, reals);
    gan_tensor *labels = concat_batches(ctx, fake_labels, real_labels);
    bgd_tape *tape = bgd_tape_new();
    gan_tensor *logits = tape ? bgd_forward(ctx, t->D, images, labels, BG_TRAIN, tape) : NULL;
    float *host = malloc(4 * (size_t)b * sizeof *host);
    int rc = logits && host ? gan_tensor_download(ctx, logits, host) : -1;
    if (rc == 0) rc = d_loss(ctx, host, b, 1.0f / (float)t->opt.d_accumulations, host + 2 * b, stats);
    gan_tensor *dlogits = rc == 0 ? gan_tensor_from_host(ctx, 2, (int64_t[]){2 * b, 1}, host + 2 * b) : NULL;
    if (rc == 0) rc = bgd_backward(ctx, t->D, tape, dlogits, t->grads_d, NULL);
    gan_tensor *temps[] = {fake_labels, y_emb, fakes, real_labels, images, labels, logits, dlogits};
    for (size_t i = 0; i < sizeof temps / sizeof *temps; i++) gan_tensor_free(ctx, temps[i]);
    bgd_tape_free(ctx, tape);
    free(host);
    return gan_ctx_failed(ctx) ? -1 : rc;
}

static int d_step(gan_ctx *ctx, bg_trainer *t, const bg_step_inputs *in, int step, bg_step_stats *stats) {
    const gan_params *p = &t->D->params;
    stats->d_loss_real = stats->d_loss_fake = 0;
    if (gan_params_grads_zero(ctx, p, t->grads_d) != 0) return -1;
    for (int a = 0; a < t->opt.d_accumulations; a++) {
        int i = step * t->opt.d_accumulations + a;
        if (d_micro_batch(ctx, t, &in->d_fakes[i], in->reals[i], in->real_classes[i], stats) != 0) return -1;
    }
    if (t->opt.d_ortho > 0) add_ortho(ctx, p, t->grads_d, t->opt.d_ortho, NULL);
    if (check_grads(ctx, p, t->grads_d, "D step") != 0) return -1;
    return adam_step(ctx, &t->adam_d, t->grads_d);
}

/* One micro-batch of the G step: -mean(D(G(z))) back through D (whose
 * parameters get no gradient) into G. */
static int g_micro_batch(gan_ctx *ctx, bg_trainer *t, const bg_fake_draws *f, bg_step_stats *stats) {
    int b = t->opt.batch;
    float scale = 1.0f / (float)t->opt.g_accumulations;
    gan_tensor *labels = NULL, *y_emb = NULL, *dfakes = NULL, *dy_emb = NULL;
    bg_tape *g_tape = bg_tape_new();
    bgd_tape *d_tape = bgd_tape_new();
    gan_tensor *fakes = g_tape && d_tape ? generate(ctx, t, f, g_tape, &labels, &y_emb) : NULL;
    gan_tensor *logits = bgd_forward(ctx, t->D, fakes, labels, BG_TRAIN, d_tape);
    float *host = malloc(2 * (size_t)b * sizeof *host);
    int rc = logits && host ? gan_tensor_download(ctx, logits, host) : -1;
    if (rc == 0 && !all_finite(host, b)) rc = -1, gan_ctx_fail(ctx, "G step: non-finite logits; stopping before the update");
    for (int i = 0; rc == 0 && i < b; i++) {
        stats->g_loss -= host[i] * scale / b;
        host[b + i] = -scale / (float)b;
    }
    gan_tensor *dlogits = rc == 0 ? gan_tensor_from_host(ctx, 2, (int64_t[]){b, 1}, host + b) : NULL;
    if (rc == 0) rc = bgd_backward(ctx, t->D, d_tape, dlogits, NULL, &dfakes);
    if (rc == 0) rc = bg_backward(ctx, t->G, g_tape, fakes, dfakes, t->grads_g, NULL, &dy_emb);
    if (rc == 0) rc = bg_embed_backward(ctx, t->G, labels, dy_emb, t->grads_g);
    gan_tensor *temps[] = {labels, y_emb, fakes, logits, dlogits, dfakes, dy_emb};
    for (size_t i = 0; i < sizeof temps / sizeof *temps; i++) gan_tensor_free(ctx, temps[i]);
    bg_tape_free(ctx, g_tape);
    bgd_tape_free(ctx, d_tape);
    free(host);
    return gan_ctx_failed(ctx) ? -1 : rc;
}

static int g_step(gan_ctx *ctx, bg_trainer *t, const bg_step_inputs *in, bg_step_stats *stats) {
    const gan_params *p = &t->G->params;
    stats->g_loss = 0;
    if (gan_params_grads_zero(ctx, p, t->grads_g) != 0) return -1;
    for (int a = 0; a < t->opt.g_accumulations; a++)
        if (g_micro_batch(ctx, t, &in->g_fakes[a], stats) != 0) return -1;
    if (t->opt.g_ortho > 0) add_ortho(ctx, p, t->grads_g, t->opt.g_ortho, t->G->shared);
    if (check_grads(ctx, p, t->grads_g, "G step") != 0) return -1;
    return adam_step(ctx, &t->adam_g, t->grads_g);
}

/* G_ema follows every parameter and buffer of G; before ema_start it copies. */
static int update_ema(gan_ctx *ctx, bg_trainer *t) {
    float decay = t->iteration < t->opt.ema_start ? 0.0f : t->opt.ema_decay;
    const gan_params *src = &t->G->params, *dst = &t->G_ema->params;
    for (int i = 0; i < src->count && !gan_ctx_failed(ctx); i++)
        gan_lerp_into(ctx, dst->items[i].tensor, src->items[i].tensor, decay);
    return gan_ctx_failed(ctx) ? -1 : 0;
}

int bg_trainer_step(gan_ctx *ctx, bg_trainer *t, const bg_step_inputs *in, bg_step_stats *stats) {
    *stats = (bg_step_stats){0};
    for (int s = 0; s < t->opt.d_steps; s++)
        if (d_step(ctx, t, in, s, stats) != 0) return -1;
    if (g_step(ctx, t, in, stats) != 0) return -1;
    t->iteration++;
    return t->G_ema ? update_ema(ctx, t) : 0;
}
