/* One complete training step (Gmain, Greg, Dmain, Dreg all due, Adam, EMA)
 * against the PyTorch reference (tests/fixtures/train_step.safetensors,
 * checked bit-identical to stylegan2-ada-pytorch's own loss and loop by
 * tools/reference/check_train_against_ada.py). The step replays the
 * reference's random draws; each phase's gradients and every tensor of the
 * state after the step must match. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "gan/ops.h"
#include "tests/fixture_util.h"
#include "tests/test.h"
#include "tests/test_context.h"
#include "train/run.h"
#include "train/trainer.h"

#define FIXTURE "tests/fixtures/train_step.safetensors"
#define STATE_TOLERANCE 1e-4 /* the bound on updated weights */
#define GRAD_TOLERANCE 1e-4
#define PL_GRAD_TOLERANCE 1e-3 /* path length's finite differences */
/* Adam's second moments hold g^2 of the Greg phase: twice its error. */
#define MOMENT_TOLERANCE 1e-3

typedef struct context {
    gan_ctx *ctx;
    gan_st_file *f;
    trainer *t;
} context;

static void check_phase(void *cls, const char *phase, gan_tensor **grads) {
    context *c = cls;
    int is_g = phase[0] == 'G';
    const gan_params *p = is_g ? &c->t->G->params : &c->t->D->params;
    double bound = strcmp(phase, "Greg") == 0 ? PL_GRAD_TOLERANCE : GRAD_TOLERANCE;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "phase.%s.grad.", phase);
    double worst = fixture_compare_grads(c->ctx, c->f, p, grads, prefix, NULL, bound, 0);
    printf("%-6s gradients: worst error %.2e\n", phase, worst);
}

/* A config object of the metadata's "opts" as its own JSON text. */
static char *config_json(const char *opts, const char *key) {
    cJSON *root = cJSON_Parse(opts);
    char *text = root ? cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, key)) : NULL;
    cJSON_Delete(root);
    return text;
}

static double opt_number(const char *opts, const char *key) {
    cJSON *root = cJSON_Parse(opts);
    const cJSON *v = root ? cJSON_GetObjectItemCaseSensitive(root, key) : NULL;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    cJSON_Delete(root);
    CHECKF(!isnan(d), "opts lack %s", key);
    return d;
}

static void load_adam(context *c, adam_state *s, const gan_params *p, const char *name) {
    char key[192];
    snprintf(key, sizeof key, "%s.step", name);
    s->step = (int64_t)fixture_scalar(c->ctx, c->f, key);
    for (int i = 0; i < p->count; i++) {
        if (!s->v[i]) continue;
        snprintf(key, sizeof key, "%s.%s.exp_avg_sq", name, p->items[i].name);
        gan_tensor *v = fixture_tensor(c->ctx, c->f, key);
        if (v) gan_tensor_free(c->ctx, s->v[i]), s->v[i] = v;
    }
}

/* The draws of phase `name` (z rows [first, first + n) of gen_z). */
typedef struct phase_tensors {
    gan_tensor *z, *mix_z, *noise[2 * SG2_MAX_BLOCKS];
    int layers;
} phase_tensors;

static run_draws load_run(context *c, const sg2_generator *g, const gan_tensor *gen_z, int64_t first, int64_t n,
                          const char *name, phase_tensors *keep) {
    char key[128];
    keep->z = gan_slice(c->ctx, gen_z, first, n);
    snprintf(key, sizeof key, "draw.%s.mix_z", name);
    keep->mix_z = fixture_tensor(c->ctx, c->f, key);
    keep->layers = 0;
    for (int b = 0; b < g->num_blocks; b++)
        for (int k = g->blocks[b].in_channels == 0 ? 1 : 0; k < 2; k++) {
            snprintf(key, sizeof key, "draw.%s.noise.synthesis.b%d.conv%d", name, g->blocks[b].resolution, k);
            keep->noise[keep->layers++] = fixture_tensor(c->ctx, c->f, key);
        }
    run_draws r = {keep->z, keep->mix_z, 0, 0, (const gan_tensor *const *)keep->noise};
    snprintf(key, sizeof key, "draw.%s.mix_rand", name);
    r.mix_rand = fixture_scalar(c->ctx, c->f, key);
    snprintf(key, sizeof key, "draw.%s.mix_cutoff", name);
    r.mix_cutoff = (int)fixture_scalar(c->ctx, c->f, key);
    return r;
}

static void free_run(gan_ctx *ctx, phase_tensors *p) {
    gan_tensor_free(ctx, p->z), gan_tensor_free(ctx, p->mix_z);
    for (int i = 0; i < p->layers; i++) gan_tensor_free(ctx, p->noise[i]);
}

static double compare_params(context *c, const gan_params *p, const char *prefix, int params_only) {
    double worst = 0;
    for (int i = 0; i < p->count; i++) {
        if (params_only && p->items[i].is_buffer) continue;
        char key[192];
        snprintf(key, sizeof key, "%s%s", prefix, p->items[i].name);
        gan_tensor *want = fixture_tensor(c->ctx, c->f, key);
        worst = fmax(worst, fixture_compare(c->ctx, p->items[i].tensor, want, key, STATE_TOLERANCE));
        gan_tensor_free(c->ctx, want);
    }
    return worst;
}

static double compare_moments(context *c, const adam_state *s, const char *prefix) {
    double worst = 0;
    for (int i = 0; i < s->params->count; i++) {
        if (!s->v[i]) continue;
        char key[192];
        snprintf(key, sizeof key, "%s%s.exp_avg_sq", prefix, s->params->items[i].name);
        gan_tensor *want = fixture_tensor(c->ctx, c->f, key);
        worst = fmax(worst, fixture_compare(c->ctx, s->v[i], want, key, MOMENT_TOLERANCE));
        gan_tensor_free(c->ctx, want);
    }
    return worst;
}

static void run_step(context *c, const char *opts) {
    gan_ctx *ctx = c->ctx;
    gan_error err = {{0}};
    char *g_json = config_json(opts, "G"), *d_json = config_json(opts, "D");
    sg2_config gcfg;
    sg2d_config dcfg;
    CHECK_OK(sg2_config_parse(g_json, &gcfg, &err), &err);
    CHECK_OK(sg2d_config_parse(d_json, &dcfg, &err), &err);
    free(g_json), free(d_json);
    sg2_generator *G = sg2_create(ctx, &gcfg, &err), *G_ema = sg2_create(ctx, &gcfg, &err);
    sg2_discriminator *D = sg2d_create(ctx, &dcfg, &err);
    CHECKF(G && G_ema && D, "%s", err.msg);
    if (!G || !G_ema || !D) return;
    CHECK_OK(gan_params_load(ctx, &G->params, c->f, "G.", &err), &err);
    CHECK_OK(gan_params_load(ctx, &G_ema->params, c->f, "G_ema.", &err), &err);
    CHECK_OK(gan_params_load(ctx, &D->params, c->f, "D.", &err), &err);

    train_options o = train_options_defaults();
    o.batch = (int)opt_number(opts, "batch");
    o.lr = (float)opt_number(opts, "lr");
    o.gamma = (float)opt_number(opts, "gamma");
    o.ema_kimg = (float)opt_number(opts, "ema_kimg");
    o.ema_rampup = (float)opt_number(opts, "ema_rampup");
    trainer t;
    CHECKF(trainer_init(ctx, &t, G, D, G_ema, &o) == 0, "%s", ctx->error.msg);
    c->t = &t;
    t.on_phase = check_phase;
    t.on_phase_cls = c;
    load_adam(c, &t.adam_g, &G->params, "adamG");
    load_adam(c, &t.adam_d, &D->params, "adamD");
    t.pl_mean = fixture_scalar(ctx, c->f, "pl_mean");
    t.cur_nimg = (int64_t)atof(gan_st_meta(c->f, "cur_nimg"));
    t.batch_idx = (int64_t)atof(gan_st_meta(c->f, "batch_idx"));

    gan_tensor *gen_z = fixture_tensor(ctx, c->f, "draw.gen_z"), *reals = fixture_tensor(ctx, c->f, "real_img");
    gan_tensor *pl_noise = fixture_tensor(ctx, c->f, "draw.Greg.pl_noise");
    phase_tensors pg, pr, pd;
    int64_t b = o.batch;
    step_draws draws = {load_run(c, G, gen_z, 0, b, "Gmain", &pg),
                        load_run(c, G, gen_z, b, b / o.pl_batch_shrink, "Greg", &pr),
                        load_run(c, G, gen_z, 2 * b, b, "Dmain", &pd), pl_noise, 0};
    step_stats st;
    CHECKF(trainer_step(ctx, &t, reals, &draws, &st) == 0, "step: %s", ctx->error.msg);
    printf("losses: G %.6f, path length %.6f, D %.6f, R1 %.6f\n", st.g_loss, st.pl_penalty, st.d_loss,
           st.r1_penalty);
    printf("after the step: G %.2e, D %.2e, G_ema %.2e, Adam G %.2e, Adam D %.2e (worst errors)\n",
           compare_params(c, &G->params, "after.G.", 0), compare_params(c, &D->params, "after.D.", 0),
           compare_params(c, &G_ema->params, "after.G_ema.", 0), compare_moments(c, &t.adam_g, "after.adamG."),
           compare_moments(c, &t.adam_d, "after.adamD."));
    float want_pl = fixture_scalar(ctx, c->f, "after.pl_mean");
    CHECKF(fabsf(t.pl_mean - want_pl) <= 1e-5f * fabsf(want_pl), "pl_mean %.7g, want %.7g", t.pl_mean, want_pl);
    CHECK(t.batch_idx == 17 && t.cur_nimg == 1000 + o.batch);
    CHECK(t.adam_g.step == 4 && t.adam_d.step == 4);

    /* NaN in the data: the step stops with a message naming the phase and
     * the discriminator is left as it was. */
    float *bad = fixture_host(ctx, reals);
    bad[5] = NAN;
    gan_tensor_upload(ctx, reals, bad);
    free(bad);
    t.on_phase = NULL;
    float *before = fixture_host(ctx, D->params.items[1].tensor);
    CHECK(trainer_step(ctx, &t, reals, &draws, &st) != 0);
    CHECKF(strstr(ctx->error.msg, "Dmain") && strstr(ctx->error.msg, "diverged"), "message: %s", ctx->error.msg);
    gan_error taken;
    gan_ctx_take_error(ctx, &taken);
    float *after = fixture_host(ctx, D->params.items[1].tensor);
    CHECK(memcmp(before, after, (size_t)D->params.items[1].tensor->numel * sizeof *before) == 0);
    free(before), free(after);

    free_run(ctx, &pg), free_run(ctx, &pr), free_run(ctx, &pd);
    gan_tensor_free(ctx, gen_z), gan_tensor_free(ctx, reals), gan_tensor_free(ctx, pl_noise);
    trainer_free(ctx, &t);
    sg2_free(ctx, G), sg2_free(ctx, G_ema), sg2d_free(ctx, D);
}

/* train.py's rule: --batch changes the batch, not the gamma or EMA that the
 * config derives from its own batch (small: 16, so gamma 0.0002 * 64^2 / 16;
 * auto at 64 px: 32, so EMA 10 kimg). */
static void check_batch_override(void) {
    train_options o;
    sg2_config g;
    int group;
    gan_error err = {{0}};
    CHECK_OK(train_config_preset("small", 64, 8, -1, &o, &g, &group, &err), &err);
    CHECKF(o.batch == 8 && fabsf(o.gamma - 0.0512f) < 1e-7f && o.ema_kimg == 5 && group == 4,
           "small --batch 8: batch %d gamma %g ema %g group %d", o.batch, o.gamma, o.ema_kimg, group);
    CHECK_OK(train_config_preset("auto", 64, 8, 0.5, &o, &g, &group, &err), &err);
    CHECKF(o.batch == 8 && o.gamma == 0.5f && o.ema_kimg == 10, "auto --batch 8 --gamma 0.5: batch %d gamma %g ema %g",
           o.batch, o.gamma, o.ema_kimg);
}

int main(void) {
    check_batch_override();
    gan_ctx *ctx = test_context();
    if (!ctx) return 1;
    gan_error err = {{0}};
    context c = {ctx, NULL, NULL};
    CHECK_OK(gan_st_open(FIXTURE, &c.f, &err), &err);
    const char *opts = c.f ? gan_st_meta(c.f, "opts") : NULL;
    CHECK(opts != NULL);
    if (opts) run_step(&c, opts);
    gan_st_close(c.f);
    return test_finish(ctx);
}
