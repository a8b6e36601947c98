#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "gan/io/config.h"
#include "checkpoint_tensors.h"
#include "gan/io/safetensors.h"

char *train_options_to_json(const train_options *o, const run_meta *m) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "batch", o->batch);
    cJSON_AddNumberToObject(j, "lr", o->lr);
    cJSON_AddNumberToObject(j, "beta1", o->beta1);
    cJSON_AddNumberToObject(j, "beta2", o->beta2);
    cJSON_AddNumberToObject(j, "eps", o->eps);
    cJSON_AddNumberToObject(j, "gamma", o->gamma);
    cJSON_AddNumberToObject(j, "pl_weight", o->pl_weight);
    cJSON_AddNumberToObject(j, "pl_decay", o->pl_decay);
    cJSON_AddNumberToObject(j, "pl_batch_shrink", o->pl_batch_shrink);
    cJSON_AddNumberToObject(j, "G_reg_interval", o->g_reg_interval);
    cJSON_AddNumberToObject(j, "D_reg_interval", o->d_reg_interval);
    cJSON_AddNumberToObject(j, "style_mixing_prob", o->style_mixing_prob);
    cJSON_AddNumberToObject(j, "ema_kimg", o->ema_kimg);
    cJSON_AddNumberToObject(j, "ema_rampup", o->ema_rampup);
    cJSON_AddNumberToObject(j, "w_avg_beta", o->w_avg_beta);
    cJSON_AddNumberToObject(j, "freeze_d", o->freeze_d);
    cJSON_AddStringToObject(j, "augment", train_augment_name(o->augment));
    cJSON_AddStringToObject(j, "augpipe", o->augpipe);
    cJSON_AddNumberToObject(j, "augment_p", o->augment_p);
    cJSON_AddNumberToObject(j, "ada_target", o->ada_target);
    cJSON_AddNumberToObject(j, "ada_kimg", o->ada_kimg);
    cJSON_AddNumberToObject(j, "seed", (double)m->seed);
    cJSON_AddBoolToObject(j, "mirror", m->mirror);
    cJSON_AddNumberToObject(j, "kimg", m->total_kimg);
    cJSON_AddStringToObject(j, "cfg", m->cfg);
    cJSON_AddStringToObject(j, "data", m->dataset);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

static int number(const cJSON *j, const char *key, double *out, gan_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v)) return gan_fail(err, "training options: \"%s\" missing or not a number", key);
    *out = v->valuedouble;
    return 0;
}

/* Options that older checkpoints lack (FreezeD, augmentation): their
 * defaults when absent, checked when present. */
static int optional_options(const cJSON *j, train_options *o, gan_error *err) {
    const cJSON *freeze = cJSON_GetObjectItemCaseSensitive(j, "freeze_d");
    const cJSON *aug = cJSON_GetObjectItemCaseSensitive(j, "augment");
    const cJSON *pipe = cJSON_GetObjectItemCaseSensitive(j, "augpipe");
    if (cJSON_IsNumber(freeze)) o->freeze_d = freeze->valueint;
    if (aug && (!cJSON_IsString(aug) || train_augment_parse(aug->valuestring, &o->augment, err) != 0))
        return gan_fail(err, "training options: bad \"augment\"");
    if (pipe && (!cJSON_IsString(pipe) || strlen(pipe->valuestring) >= sizeof o->augpipe))
        return gan_fail(err, "training options: bad \"augpipe\"");
    if (pipe) snprintf(o->augpipe, sizeof o->augpipe, "%s", pipe->valuestring);
    const char *keys[] = {"augment_p", "ada_target", "ada_kimg"};
    float *dst[] = {&o->augment_p, &o->ada_target, &o->ada_kimg};
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (v && !cJSON_IsNumber(v)) return gan_fail(err, "training options: \"%s\" is not a number", keys[i]);
        if (v) *dst[i] = (float)v->valuedouble;
    }
    if (o->augment_p < 0 || o->ada_kimg <= 0) return gan_fail(err, "training options: bad augment_p or ada_kimg");
    return 0;
}

int train_options_parse(const char *json, train_options *o, run_meta *m, gan_error *err) {
    cJSON *j = gan_json_parse_object(json, "training options", err);
    if (!j) return -1;
    const char *keys[] = {"batch", "lr", "beta1", "beta2", "eps", "gamma", "pl_weight", "pl_decay", "pl_batch_shrink",
                          "G_reg_interval", "D_reg_interval", "style_mixing_prob", "ema_kimg", "ema_rampup",
                          "w_avg_beta", "seed", "kimg"};
    double v[sizeof keys / sizeof *keys];
    int rc = 0;
    for (size_t i = 0; i < sizeof keys / sizeof *keys && rc == 0; i++) rc = number(j, keys[i], &v[i], err);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "cfg"), *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (rc == 0 && (!cJSON_IsString(cfg) || !cJSON_IsString(data)))
        rc = gan_fail(err, "training options: \"cfg\" and \"data\" must be strings");
    if (rc == 0) {
        *o = train_options_defaults();
        o->batch = (int)v[0], o->lr = (float)v[1], o->beta1 = (float)v[2], o->beta2 = (float)v[3];
        o->eps = (float)v[4], o->gamma = (float)v[5], o->pl_weight = (float)v[6], o->pl_decay = (float)v[7];
        o->pl_batch_shrink = (int)v[8], o->g_reg_interval = (int)v[9], o->d_reg_interval = (int)v[10];
        o->style_mixing_prob = (float)v[11], o->ema_kimg = (float)v[12], o->ema_rampup = (float)v[13];
        o->w_avg_beta = (float)v[14];
        *m = (run_meta){.seed = (uint64_t)v[15], .total_kimg = v[16],
                        .mirror = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "mirror"))};
        snprintf(m->cfg, sizeof m->cfg, "%s", cfg->valuestring);
        snprintf(m->dataset, sizeof m->dataset, "%s", data->valuestring);
        rc = optional_options(j, o, err);
        if (rc == 0 && (o->batch < 1 || o->g_reg_interval < 0 || o->d_reg_interval < 0 || o->pl_batch_shrink < 1 ||
                        o->freeze_d < 0))
            rc = gan_fail(err, "training options: bad batch, intervals or shrink");
    }
    cJSON_Delete(j);
    return rc;
}

static char *state_json(const trainer *t, const run_meta *m) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "cur_nimg", (double)t->cur_nimg);
    cJSON_AddNumberToObject(j, "batch_idx", (double)t->batch_idx);
    cJSON_AddNumberToObject(j, "adamG_step", (double)t->adam_g.step);
    cJSON_AddNumberToObject(j, "adamD_step", (double)t->adam_d.step);
    cJSON_AddNumberToObject(j, "seed", (double)m->seed);
    cJSON_AddNumberToObject(j, "augment_p", t->ada.p);
    cJSON_AddNumberToObject(j, "ada_sign_sum", t->ada.sign_sum);
    cJSON_AddNumberToObject(j, "ada_sign_count", (double)t->ada.sign_count);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

int checkpoint_save(gan_ctx *ctx, const trainer *t, const run_meta *meta, const char *path, gan_error *err) {
    gan_st_writer *w = gan_st_writer_new();
    char *g_cfg = sg2_config_to_json(&t->G->cfg), *d_cfg = sg2d_config_to_json(&t->D->cfg);
    char *opts = train_options_to_json(&t->opt, meta), *state = state_json(t, meta);
    gan_host_copies copies = {0};
    float pl_mean = t->pl_mean, augment_p = t->ada.p;
    int rc = !w || !g_cfg || !d_cfg || !opts || !state ? gan_fail(err, "out of memory") : 0;
    if (rc == 0) rc = gan_st_writer_meta(w, "format", "dne-checkpoint", err);
    if (rc == 0) rc = gan_st_writer_meta(w, "config", g_cfg, err);
    if (rc == 0) rc = gan_st_writer_meta(w, "D_config", d_cfg, err);
    if (rc == 0) rc = gan_st_writer_meta(w, "training_options", opts, err);
    if (rc == 0) rc = gan_st_writer_meta(w, "state", state, err);
    if (rc == 0)
        rc = checkpoint_write_tensors(ctx, &t->G->params, &t->D->params, &t->G_ema->params, &t->adam_g, &t->adam_d, w,
                                      &copies, err);
    if (rc == 0) rc = gan_st_writer_add_f32(w, "state.pl_mean", 0, NULL, &pl_mean, err);
    if (rc == 0) rc = gan_st_writer_add_f32(w, "state.augment_p", 0, NULL, &augment_p, err);
    if (rc == 0) rc = gan_st_writer_save(w, path, err);
    gan_params_free_copies(&copies);
    gan_st_writer_free(w);
    free(g_cfg), free(d_cfg), free(opts), free(state);
    return rc;
}

/* ADA's state: p (exact, as a tensor) and the signs collected since its
 * last adjustment. Checkpoints from before ADA have none: p stays the
 * options' starting p. */
static int load_ada_state(gan_st_file *f, const cJSON *j, ada_controller *ada, gan_error *err) {
    const gan_st_tensor *p = gan_st_find(f, "state.augment_p");
    if (!p) return 0;
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(j, "ada_sign_sum");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(j, "ada_sign_count");
    if (p->numel != 1 || !cJSON_IsNumber(sum) || !cJSON_IsNumber(count) || count->valuedouble < 0)
        return gan_fail(err, "checkpoint state: bad augmentation state (state.augment_p, ada_sign_sum, ada_sign_count)");
    ada->sign_sum = sum->valuedouble, ada->sign_count = (int64_t)count->valuedouble;
    if (gan_st_read_f32(f, p, &ada->p, err) != 0) return -1;
    if (!(ada->p >= 0)) return gan_fail(err, "checkpoint state: augment_p %g", ada->p);
    return 0;
}

static int load_state(gan_st_file *f, trainer *t, gan_error *err) {
    cJSON *j = gan_json_parse_object(gan_st_meta(f, "state") ? gan_st_meta(f, "state") : "", "checkpoint state", err);
    if (!j) return -1;
    double v[4];
    const char *keys[] = {"cur_nimg", "batch_idx", "adamG_step", "adamD_step"};
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++) rc = number(j, keys[i], &v[i], err);
    if (rc == 0) rc = load_ada_state(f, j, &t->ada, err);
    cJSON_Delete(j);
    if (rc != 0) return rc;
    t->cur_nimg = (int64_t)v[0], t->batch_idx = (int64_t)v[1];
    t->adam_g.step = (int64_t)v[2], t->adam_d.step = (int64_t)v[3];
    const gan_st_tensor *pl = gan_st_find(f, "state.pl_mean");
    if (!pl || pl->numel != 1) return gan_fail(err, "missing tensor 'state.pl_mean'");
    return gan_st_read_f32(f, pl, &t->pl_mean, err);
}

int checkpoint_load(gan_ctx *ctx, const char *path, loaded_run *out, gan_error *err) {
    memset(out, 0, sizeof *out);
    gan_st_file *f = NULL;
    if (gan_st_open(path, &f, err) != 0) return -1;
    const char *format = gan_st_meta(f, "format"), *g_json = gan_st_meta(f, "config");
    const char *d_json = gan_st_meta(f, "D_config"), *opts = gan_st_meta(f, "training_options");
    sg2_config gcfg;
    sg2d_config dcfg;
    train_options o;
    int rc = 0;
    if (!format || strcmp(format, "dne-checkpoint") != 0 || !g_json || !d_json || !opts)
        rc = gan_fail(err, "not a dne training checkpoint (no \"format\": \"dne-checkpoint\" with configs and options)");
    if (rc == 0) rc = sg2_config_parse(g_json, &gcfg, err);
    if (rc == 0) rc = sg2d_config_parse(d_json, &dcfg, err);
    if (rc == 0) rc = train_options_parse(opts, &o, &out->meta, err);
    if (rc == 0 && (!(out->G = sg2_create(ctx, &gcfg, err)) || !(out->G_ema = sg2_create(ctx, &gcfg, err)) ||
                    !(out->D = sg2d_create(ctx, &dcfg, err))))
        rc = -1;
    if (rc == 0) rc = checkpoint_read_networks(ctx, &out->G->params, &out->D->params, &out->G_ema->params, f, err);
    if (rc == 0 && trainer_init(ctx, &out->t, out->G, out->D, out->G_ema, &o) != 0) rc = gan_ctx_take_error(ctx, err);
    if (rc == 0)
        rc = checkpoint_read_moments(ctx, &out->G->params, &out->D->params, &out->t.adam_g, &out->t.adam_d, f, err);
    if (rc == 0) rc = load_state(f, &out->t, err);
    gan_st_close(f);
    if (rc != 0) {
        checkpoint_free(ctx, out);
        gan_fail_context(err, "%s", path);
    }
    return rc;
}

void checkpoint_free(gan_ctx *ctx, loaded_run *run) {
    trainer_free(ctx, &run->t);
    sg2_free(ctx, run->G), sg2_free(ctx, run->G_ema), sg2d_free(ctx, run->D);
    memset(run, 0, sizeof *run);
}
