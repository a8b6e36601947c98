#include "biggan_checkpoint.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "gan/io/config.h"
#include "checkpoint_tensors.h"
#include "gan/io/safetensors.h"

char *bg_train_options_to_json(const bg_train_options *o, const bg_run_meta *m) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "arch", "biggan");
    cJSON_AddNumberToObject(j, "batch_size", o->batch);
    cJSON_AddNumberToObject(j, "num_D_steps", o->d_steps);
    cJSON_AddNumberToObject(j, "num_D_accumulations", o->d_accumulations);
    cJSON_AddNumberToObject(j, "num_G_accumulations", o->g_accumulations);
    cJSON_AddNumberToObject(j, "G_lr", o->g_lr);
    cJSON_AddNumberToObject(j, "D_lr", o->d_lr);
    cJSON_AddNumberToObject(j, "B1", o->beta1);
    cJSON_AddNumberToObject(j, "B2", o->beta2);
    cJSON_AddNumberToObject(j, "adam_eps", o->adam_eps);
    cJSON_AddNumberToObject(j, "G_ortho", o->g_ortho);
    cJSON_AddNumberToObject(j, "D_ortho", o->d_ortho);
    cJSON_AddNumberToObject(j, "ema_decay", o->ema_decay);
    cJSON_AddNumberToObject(j, "ema_start", (double)o->ema_start);
    cJSON_AddNumberToObject(j, "seed", (double)m->seed);
    cJSON_AddBoolToObject(j, "mirror", m->mirror);
    cJSON_AddNumberToObject(j, "kimg", m->total_kimg);
    cJSON_AddStringToObject(j, "data", m->dataset);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

static int required_number(const cJSON *j, const char *key, double *out, gan_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v)) return gan_fail(err, "\"%s\" missing or not a number", key);
    *out = v->valuedouble;
    return 0;
}

int bg_train_options_parse(const char *json, bg_train_options *o, bg_run_meta *m, gan_error *err) {
    cJSON *j = gan_json_parse_object(json, "training options", err);
    if (!j) return -1;
    const char *keys[] = {"batch_size", "num_D_steps", "num_D_accumulations", "num_G_accumulations", "G_lr", "D_lr",
                          "B1", "B2", "adam_eps", "G_ortho", "D_ortho", "ema_decay", "ema_start", "seed", "kimg"};
    enum { NKEYS = sizeof keys / sizeof *keys };
    double v[NKEYS];
    int rc = 0;
    for (int i = 0; i < NKEYS && rc == 0; i++) rc = required_number(j, keys[i], &v[i], err);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (rc == 0 && !cJSON_IsString(data)) rc = gan_fail(err, "training options: \"data\" must be a string");
    if (rc == 0) {
        *o = (bg_train_options){.batch = (int)v[0], .d_steps = (int)v[1], .d_accumulations = (int)v[2],
                                .g_accumulations = (int)v[3], .g_lr = (float)v[4], .d_lr = (float)v[5],
                                .beta1 = (float)v[6], .beta2 = (float)v[7], .adam_eps = (float)v[8],
                                .g_ortho = (float)v[9], .d_ortho = (float)v[10], .ema_decay = (float)v[11],
                                .ema_start = (int64_t)v[12]};
        *m = (bg_run_meta){.seed = (uint64_t)v[13], .total_kimg = v[14],
                           .mirror = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "mirror"))};
        snprintf(m->dataset, sizeof m->dataset, "%s", data->valuestring);
        if (o->batch < 1 || o->d_steps < 1 || o->d_accumulations < 1 || o->g_accumulations < 1)
            rc = gan_fail(err, "training options: batch, D steps and accumulations must be at least 1");
    }
    cJSON_Delete(j);
    return rc;
}

static char *state_json(const bg_trainer *t, const bg_run_meta *m) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "iteration", (double)t->iteration);
    cJSON_AddNumberToObject(j, "cur_nimg", (double)m->cur_nimg);
    cJSON_AddNumberToObject(j, "adamG_step", (double)t->adam_g.step);
    cJSON_AddNumberToObject(j, "adamD_step", (double)t->adam_d.step);
    cJSON_AddNumberToObject(j, "seed", (double)m->seed);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

int bg_checkpoint_save(gan_ctx *ctx, const bg_trainer *t, const bg_run_meta *meta, const char *path, gan_error *err) {
    gan_st_writer *w = gan_st_writer_new();
    char *g_cfg = bg_config_to_json(&t->G->cfg), *d_cfg = bgd_config_to_json(&t->D->cfg);
    char *opts = bg_train_options_to_json(&t->opt, meta), *state = state_json(t, meta);
    gan_host_copies copies = {0};
    int rc = !w || !g_cfg || !d_cfg || !opts || !state ? gan_fail(err, "out of memory") : 0;
    if (rc == 0) rc = gan_st_writer_meta(w, "format", "dne-checkpoint", err);
    if (rc == 0) rc = gan_st_writer_meta(w, "config", g_cfg, err);
    if (rc == 0) rc = gan_st_writer_meta(w, "D_config", d_cfg, err);
    if (rc == 0) rc = gan_st_writer_meta(w, "training_options", opts, err);
    if (rc == 0) rc = gan_st_writer_meta(w, "state", state, err);
    if (rc == 0)
        rc = checkpoint_write_tensors(ctx, &t->G->params, &t->D->params, &t->G_ema->params, &t->adam_g, &t->adam_d, w,
                                      &copies, err);
    if (rc == 0) rc = gan_st_writer_save(w, path, err);
    gan_params_free_copies(&copies);
    gan_st_writer_free(w);
    free(g_cfg), free(d_cfg), free(opts), free(state);
    return rc;
}

static int load_state(gan_st_file *f, bg_trainer *t, bg_run_meta *m, gan_error *err) {
    cJSON *j = gan_json_parse_object(gan_st_meta(f, "state") ? gan_st_meta(f, "state") : "", "checkpoint state", err);
    if (!j) return -1;
    const char *keys[] = {"iteration", "cur_nimg", "adamG_step", "adamD_step"};
    double v[4];
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++) rc = required_number(j, keys[i], &v[i], err);
    if (rc == 0 && (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)) rc = gan_fail(err, "negative counters");
    cJSON_Delete(j);
    if (rc != 0) return rc;
    t->iteration = (int64_t)v[0], m->cur_nimg = (int64_t)v[1];
    t->adam_g.step = (int64_t)v[2], t->adam_d.step = (int64_t)v[3];
    return 0;
}

int bg_checkpoint_load(gan_ctx *ctx, const char *path, bg_loaded_run *out, gan_error *err) {
    memset(out, 0, sizeof *out);
    gan_st_file *f = NULL;
    if (gan_st_open(path, &f, err) != 0) return -1;
    const char *format = gan_st_meta(f, "format"), *g_json = gan_st_meta(f, "config");
    const char *d_json = gan_st_meta(f, "D_config"), *opts = gan_st_meta(f, "training_options");
    bg_config gcfg;
    bgd_config dcfg;
    bg_train_options o;
    int rc = 0;
    if (!format || strcmp(format, "dne-checkpoint") != 0 || !g_json || !d_json || !opts)
        rc = gan_fail(err, "not a dne training checkpoint (no \"format\": \"dne-checkpoint\" with configs and options)");
    if (rc == 0) rc = bg_config_parse(g_json, &gcfg, err);
    if (rc == 0) rc = bgd_config_parse(d_json, &dcfg, err);
    if (rc == 0) rc = bg_train_options_parse(opts, &o, &out->meta, err);
    if (rc == 0 && (!(out->G = bg_create(ctx, &gcfg, err)) || !(out->G_ema = bg_create(ctx, &gcfg, err)) ||
                    !(out->D = bgd_create(ctx, &dcfg, err))))
        rc = -1;
    if (rc == 0) rc = checkpoint_read_networks(ctx, &out->G->params, &out->D->params, &out->G_ema->params, f, err);
    if (rc == 0 && bg_trainer_init(ctx, &out->t, out->G, out->D, out->G_ema, &o) != 0)
        rc = gan_ctx_take_error(ctx, err);
    if (rc == 0)
        rc = checkpoint_read_moments(ctx, &out->G->params, &out->D->params, &out->t.adam_g, &out->t.adam_d, f, err);
    if (rc == 0) rc = load_state(f, &out->t, &out->meta, err);
    gan_st_close(f);
    if (rc != 0) {
        bg_checkpoint_free(ctx, out);
        gan_fail_context(err, "%s", path);
    }
    return rc;
}

void bg_checkpoint_free(gan_ctx *ctx, bg_loaded_run *run) {
    bg_trainer_free(ctx, &run->t);
    bg_free(ctx, run->G), bg_free(ctx, run->G_ema), bgd_free(ctx, run->D);
    memset(run, 0, sizeof *run);
}
