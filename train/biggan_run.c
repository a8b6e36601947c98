#include "biggan_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "biggan_checkpoint.h"
#include "draws.h"
#include "gan/metrics/metric_log.h"
#include "gan/metrics/swd_biggan.h"
#include "gan/ops.h"
#include "gan/rng.h"
#include "run_common.h"

#define MAX_GRID_ROWS 32
#define GRID_COLS 8

void bg_run_config_small(bg_run_config *rc) {
    rc->net = bg_config_default(32, 16, 1);
    rc->net.shared_dim = 32;
    rc->net.dim_z = 4 * 4;
    snprintf(rc->net.attn, sizeof rc->net.attn, "16");
    rc->opt = bg_train_options_defaults(16);
    rc->opt.ema_start = 1000;
    rc->opt.ema_decay = 0.999f; /* a horizon of 1000 iterations: runs here are thousands long */
}

/* ------------------------------------------------------------------ draws */

enum { PURPOSE_D_Z = 11, PURPOSE_D_Y = 12, PURPOSE_G_Z = 13, PURPOSE_G_Y = 14, PURPOSE_GRID = 15 };

/* An iteration's random inputs, from streams named by (seed, iteration,
 * purpose, micro-batch), and the reals it consumes. */
typedef struct bg_draws {
    int count_d, count_g;
    gan_tensor **z;      /* count_d + count_g */
    int **classes;       /* count_d + count_g, then count_d real classes */
    gan_tensor **reals;  /* count_d */
    bg_fake_draws *fakes;
} bg_draws;

static void draws_free_all(gan_ctx *ctx, bg_draws *d) {
    int n = d->count_d + d->count_g;
    for (int i = 0; d->z && i < n; i++) gan_tensor_free(ctx, d->z[i]);
    for (int i = 0; d->classes && i < n + d->count_d; i++) free(d->classes[i]);
    for (int i = 0; d->reals && i < d->count_d; i++) gan_tensor_free(ctx, d->reals[i]);
    free(d->z), free(d->classes), free(d->reals), free(d->fakes);
    memset(d, 0, sizeof *d);
}

/* Class ids uniform in [0, n_classes), as the reference's categorical y. */
static int *uniform_classes(int batch, int n_classes, uint64_t stream) {
    float *u = malloc((size_t)batch * sizeof *u);
    int *c = malloc((size_t)batch * sizeof *c);
    if (u && c) {
        gan_philox_uniform(stream, 0, u, (size_t)batch);
        for (int i = 0; i < batch; i++) {
            int k = (int)(u[i] * (float)n_classes);
            c[i] = k < n_classes ? k : n_classes - 1;
        }
    }
    free(u);
    return c;
}

static int draws_alloc(bg_draws *d, int count_d, int count_g) {
    int n = count_d + count_g;
    *d = (bg_draws){.count_d = count_d, .count_g = count_g};
    d->z = calloc((size_t)n, sizeof *d->z);
    d->classes = calloc((size_t)(n + count_d), sizeof *d->classes);
    d->reals = calloc((size_t)count_d, sizeof *d->reals);
    d->fakes = calloc((size_t)n, sizeof *d->fakes);
    return d->z && d->classes && d->reals && d->fakes ? 0 : -1;
}

static int draws_make_all(gan_ctx *ctx, const bg_trainer *t, sampler *smp, uint64_t seed, int64_t pos, bg_draws *d,
                          gan_error *err) {
    const bg_train_options *o = &t->opt;
    int b = o->batch, k = t->G->cfg.n_classes, dim = t->G->cfg.dim_z;
    int count_d = o->d_steps * o->d_accumulations, n = count_d + o->g_accumulations;
    int rc = draws_alloc(d, count_d, o->g_accumulations) == 0 ? 0 : gan_fail(err, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        int is_d = i < count_d;
        uint32_t tag = (uint32_t)(is_d ? i : i - count_d) << 8;
        uint64_t z_stream = draws_stream(seed, t->iteration, (is_d ? PURPOSE_D_Z : PURPOSE_G_Z) | tag);
        d->z[i] = draws_normal(ctx, 2, (int64_t[]){b, dim}, z_stream);
        uint64_t y_stream = draws_stream(seed, t->iteration, (is_d ? PURPOSE_D_Y : PURPOSE_G_Y) | tag);
        d->classes[i] = uniform_classes(b, k, y_stream);
        d->fakes[i] = (bg_fake_draws){d->z[i], d->classes[i]};
        if (!d->z[i]) rc = gan_ctx_take_error(ctx, err);
        else if (!d->classes[i]) rc = gan_fail(err, "out of memory");
    }
    for (int i = 0; rc == 0 && i < count_d; i++) {
        int **real_classes = &d->classes[n + i];
        *real_classes = malloc((size_t)b * sizeof **real_classes);
        if (!*real_classes) rc = gan_fail(err, "out of memory");
        else if (!(d->reals[i] = sampler_batch(ctx, smp, pos + (int64_t)i * b, b, *real_classes, err))) rc = -1;
    }
    if (rc != 0) draws_free_all(ctx, d);
    return rc;
}

static bg_step_inputs step_inputs(const bg_draws *d) {
    return (bg_step_inputs){.d_fakes = d->fakes, .reals = (const gan_tensor *const *)d->reals,
                            .real_classes = (const int *const *)(d->classes + d->count_d + d->count_g),
                            .g_fakes = d->fakes + d->count_d};
}

/* -------------------------------------------------------------- metrics */

/* The SWD evaluators: all classes (up to metric_num reals) and one per class
 * (all of that class's reals). */
typedef struct bg_swd_set {
    gan_swd *all;
    gan_swd **per_class;
    int classes;
} bg_swd_set;

static void swd_set_free(bg_swd_set *s) {
    gan_swd_free(s->all);
    for (int k = 0; s->per_class && k < s->classes; k++) gan_swd_free(s->per_class[k]);
    free(s->per_class);
    memset(s, 0, sizeof *s);
}

static int add_class_reals(gan_dataset *ds, bg_swd_set *s, const gan_swd_params *p, int r, uint8_t *image,
                           gan_error *err) {
    for (int k = 0; k < s->classes; k++)
        if (!(s->per_class[k] = gan_swd_new(p, 3, r, err))) return -1;
    for (int i = 0; i < gan_dataset_count(ds); i++) {
        int k = gan_dataset_label_index(ds, i);
        if (k < 0 || k >= s->classes) return gan_fail(err, "metric data: image %d has no class of the network", i);
        if (gan_dataset_read(ds, i, image, NULL, err) != 0 || gan_swd_add_reals(s->per_class[k], image, 1, err) != 0)
            return -1;
    }
    return 0;
}

static int swd_set_open(const bg_run_config *rc, const char *data, const bg_generator *g, bg_swd_set *s,
                        gan_error *err) {
    memset(s, 0, sizeof *s);
    const char *path = rc->metric_data ? rc->metric_data : data;
    gan_dataset *ds = gan_dataset_open(path, err);
    if (!ds) return -1;
    int r = gan_dataset_resolution(ds), count = gan_dataset_count(ds);
    int n = rc->metric_num > 0 ? rc->metric_num : (count < 1000 ? count : 1000);
    gan_swd_params p = GAN_SWD_DEFAULTS;
    p.threads = rc->threads;
    uint8_t *images = NULL;
    int status = 0;
    if (r != g->cfg.resolution || gan_dataset_channels(ds) != 3 || gan_dataset_label_dim(ds) != g->cfg.n_classes)
        status = gan_fail(err, "metric data %s: %d px, %d channels, %d classes; the network makes %d px RGB of %d classes",
                          path, r, gan_dataset_channels(ds), gan_dataset_label_dim(ds), g->cfg.resolution,
                          g->cfg.n_classes);
    else if (n > count)
        status = gan_fail(err, "--metric-num %d: %s has only %d images", n, path, count);
    else if (!(images = malloc((size_t)n * 3 * r * r)) || !(s->per_class = calloc((size_t)g->cfg.n_classes, sizeof *s->per_class)))
        status = gan_fail(err, "out of memory");
    s->classes = g->cfg.n_classes;
    if (status == 0 && gan_dataset_read_many(ds, 0, n, images, err) != 0) status = -1;
    if (status == 0 && (!(s->all = gan_swd_new(&p, 3, r, err)) || gan_swd_add_reals(s->all, images, n, err) != 0))
        status = -1;
    if (status == 0) status = add_class_reals(ds, s, &p, r, images, err);
    free(images);
    gan_dataset_close(ds);
    if (status != 0) swd_set_free(s);
    return status;
}

/* metric-swd.jsonl: swd_<res>, swd_avg over all classes, and swd_class_mean. */
static int measure_swd(gan_ctx *ctx, const bg_generator *g, bg_swd_set *s, run_files *f, const char *snapshot,
                       double kimg, gan_error *err) {
    double start = gan_seconds(), class_sum = 0;
    gan_swd_result all, one;
    if (gan_swd_of_biggan(ctx, g, -1, 0, 16, s->all, &all, err) != 0) return -1;
    for (int k = 0; k < s->classes; k++) {
        if (gan_swd_num_reals(s->per_class[k]) == 0) return gan_fail(err, "metric data: class %d has no images", k);
        if (gan_swd_of_biggan(ctx, g, k, 1000000u * (uint32_t)(k + 1), 16, s->per_class[k], &one, err) != 0) return -1;
        class_sum += one.average;
    }
    gan_metric_results values;
    gan_swd_result_values(&all, &values);
    gan_metric_results_add(&values, "swd_class_mean", class_sum / s->classes);
    char path[1200];
    snprintf(path, sizeof path, "%s/metric-swd.jsonl", f->dir);
    gan_metric_report report = {"swd", &values, gan_seconds() - start, gan_swd_num_reals(s->all), snapshot,
                                (double)time(NULL)};
    if (gan_metric_report_append(path, &report, err) != 0) return -1;
    run_say(f, "swd at kimg %.3f: swd_avg %.3f, per-class mean %.3f (%.0f s)", kimg, all.average,
            class_sum / s->classes, gan_seconds() - start);
    return 0;
}

/* -------------------------------------------------------------- grids */

/* G_ema's images of the run's fixed latents, one row per class. */
typedef struct bg_grid {
    gan_tensor *z, *labels;
    int rows;
} bg_grid;

static int grid_make(gan_ctx *ctx, const bg_generator *g, uint64_t seed, bg_grid *grid, gan_error *err) {
    int k = g->cfg.n_classes;
    grid->rows = k < MAX_GRID_ROWS ? k : MAX_GRID_ROWS;
    int n = grid->rows * GRID_COLS;
    int *classes = malloc((size_t)n * sizeof *classes);
    if (!classes) return gan_fail(err, "out of memory");
    for (int i = 0; i < n; i++) classes[i] = i / GRID_COLS;
    grid->z = draws_normal(ctx, 2, (int64_t[]){n, g->cfg.dim_z}, draws_stream(seed, -1, PURPOSE_GRID));
    grid->labels = bg_one_hot(ctx, classes, n, k);
    free(classes);
    return gan_ctx_failed(ctx) ? gan_ctx_take_error(ctx, err) : 0;
}

static void grid_free(gan_ctx *ctx, bg_grid *grid) {
    gan_tensor_free(ctx, grid->z);
    gan_tensor_free(ctx, grid->labels);
}

static int save_fakes(gan_ctx *ctx, const bg_generator *g, const bg_grid *grid, const char *path, gan_error *err) {
    gan_tensor *y_emb = bg_embed_classes(ctx, g, grid->labels);
    gan_tensor *img = bg_forward(ctx, g, grid->z, y_emb, BG_EVAL, NULL);
    int rc = img ? run_save_grid(ctx, img, GRID_COLS, grid->rows, path, err) : gan_ctx_take_error(ctx, err);
    gan_tensor_free(ctx, y_emb);
    gan_tensor_free(ctx, img);
    return rc;
}

/* ------------------------------------------------------------------ loop */

typedef struct bg_run_state {
    gan_ctx *ctx;
    const bg_run_config *rc;
    bg_loaded_run run;
    sampler smp;
    run_files files;
    bg_grid grid;
    bg_swd_set swd;
    int has_swd;
} bg_run_state;

static int snapshot(bg_run_state *s, gan_error *err) {
    char path[1200], name[64];
    long long kimg = (long long)(s->run.meta.cur_nimg / 1000);
    snprintf(path, sizeof path, "%s/fakes%06lld.png", s->files.dir, kimg);
    if (save_fakes(s->ctx, s->run.t.G_ema, &s->grid, path, err) != 0) return -1;
    snprintf(name, sizeof name, "network-snapshot-%06lld.safetensors", kimg);
    snprintf(path, sizeof path, "%s/%s", s->files.dir, name);
    if (bg_checkpoint_save(s->ctx, &s->run.t, &s->run.meta, path, err) != 0) return -1;
    run_say(&s->files, "snapshot %s", path);
    return s->has_swd ? measure_swd(s->ctx, s->run.t.G_ema, &s->swd, &s->files, name,
                                    (double)s->run.meta.cur_nimg / 1000, err)
                      : 0;
}

typedef struct tick_sums {
    double d_real, d_fake, g;
    int steps;
} tick_sums;

static void report_tick(bg_run_state *s, int tick, const tick_sums *sums, double seconds, double tick_seconds,
                        double kimg_done) {
    double kimg = (double)s->run.meta.cur_nimg / 1000, sec_per_kimg = kimg_done > 0 ? tick_seconds / kimg_done : 0;
    double eta = sec_per_kimg * (s->run.meta.total_kimg - kimg);
    int n = sums->steps ? sums->steps : 1;
    run_say(&s->files, "tick %-4d kimg %-8.2f iter %-7lld time %-7.0fs sec/kimg %-7.1f D_real %.4f D_fake %.4f G %.4f "
            "ETA %.0fs", tick, kimg, (long long)s->run.t.iteration, seconds, sec_per_kimg, sums->d_real / n,
            sums->d_fake / n, sums->g / n, eta > 0 ? eta : 0);
    if (s->files.stats) {
        fprintf(s->files.stats,
                "{\"tick\": %d, \"kimg\": %.3f, \"iteration\": %lld, \"seconds\": %.2f, \"sec_per_kimg\": %.3f, "
                "\"D_loss_real\": %.6f, \"D_loss_fake\": %.6f, \"G_loss\": %.6f}\n",
                tick, kimg, (long long)s->run.t.iteration, seconds, sec_per_kimg, sums->d_real / n, sums->d_fake / n,
                sums->g / n);
        fflush(s->files.stats);
    }
}

/* One iteration: its draws, the step, the image counter. */
static int iterate(bg_run_state *s, bg_step_stats *st, gan_error *err) {
    bg_draws d;
    bg_trainer *t = &s->run.t;
    if (draws_make_all(s->ctx, t, &s->smp, s->run.meta.seed, s->run.meta.cur_nimg, &d, err) != 0) return -1;
    bg_step_inputs in = step_inputs(&d);
    int rc = bg_trainer_step(s->ctx, t, &in, st);
    if (rc == 0) s->run.meta.cur_nimg += (int64_t)d.count_d * t->opt.batch;
    else gan_ctx_take_error(s->ctx, err);
    draws_free_all(s->ctx, &d);
    return rc;
}

static int loop(bg_run_state *s, gan_error *err) {
    bg_run_meta *m = &s->run.meta;
    double start = gan_seconds(), tick_start = start;
    int64_t tick_start_nimg = m->cur_nimg, total = (int64_t)(m->total_kimg * 1000);
    int tick = 0, status = 0;
    tick_sums sums = {0};
    while (m->cur_nimg < total && !run_stop_requested() && status == 0) {
        bg_step_stats st;
        if (iterate(s, &st, err) != 0) {
            run_say(&s->files, "stopped: %s (the last snapshot is intact)", err->msg);
            return -1;
        }
        sums.d_real += st.d_loss_real, sums.d_fake += st.d_loss_fake, sums.g += st.g_loss, sums.steps++;
        /* As StyleGAN2's loop: tick 0 is the first iteration alone, so the
         * first snapshot shows the network the run started from. */
        int done = m->cur_nimg >= total;
        if (done || tick == 0 || m->cur_nimg - tick_start_nimg >= (int64_t)(s->rc->tick_kimg * 1000)) {
            double now = gan_seconds();
            report_tick(s, tick, &sums, now - start, now - tick_start, (double)(m->cur_nimg - tick_start_nimg) / 1000);
            if (done || tick % s->rc->snap == 0) status = snapshot(s, err);
            tick++, tick_start = gan_seconds(), tick_start_nimg = m->cur_nimg, sums = (tick_sums){0};
        }
    }
    if (status == 0 && run_stop_requested()) {
        run_say(&s->files, "stopping on request at kimg %.3f", (double)m->cur_nimg / 1000);
        status = snapshot(s, err);
    }
    return status;
}

/* ------------------------------------------------------------------ setup */

static int fresh_run(bg_run_state *s, gan_dataset *ds, gan_error *err) {
    const bg_run_config *rc = s->rc;
    bg_loaded_run *run = &s->run;
    bg_config g = rc->net;
    g.resolution = gan_dataset_resolution(ds);
    g.n_classes = gan_dataset_label_dim(ds);
    bg_config_round_dim_z(&g);
    bgd_config d = bgd_config_for(&g);
    if (rc->d_attn[0]) snprintf(d.attn, sizeof d.attn, "%s", rc->d_attn);
    if (!(run->G = bg_create(s->ctx, &g, err)) || !(run->G_ema = bg_create(s->ctx, &g, err)) ||
        !(run->D = bgd_create(s->ctx, &d, err)) || bg_init_random(s->ctx, run->G, rc->seed, err) != 0 ||
        bgd_init_random(s->ctx, run->D, rc->seed + 1, err) != 0)
        return -1;
    if (gan_params_copy(s->ctx, &run->G_ema->params, &run->G->params) != 0) /* G_ema starts as a copy of G */
        return gan_ctx_take_error(s->ctx, err);
    if (bg_trainer_init(s->ctx, &run->t, run->G, run->D, run->G_ema, &rc->opt) != 0)
        return gan_ctx_take_error(s->ctx, err);
    run->meta = (bg_run_meta){.seed = rc->seed, .mirror = rc->mirror, .total_kimg = rc->kimg};
    snprintf(run->meta.dataset, sizeof run->meta.dataset, "%s", rc->data);
    return 0;
}

static int check_data(const bg_generator *g, gan_dataset *ds, const char *data, gan_error *err) {
    if (gan_dataset_channels(ds) != 3) return gan_fail(err, "%s: BigGAN trains on RGB images", data);
    if (gan_dataset_resolution(ds) != g->cfg.resolution || gan_dataset_label_dim(ds) != g->cfg.n_classes)
        return gan_fail(err, "%s: %d px images of %d classes, but the network makes %d px of %d classes", data,
                        gan_dataset_resolution(ds), gan_dataset_label_dim(ds), g->cfg.resolution, g->cfg.n_classes);
    return 0;
}

static int start_files(bg_run_state *s, gan_dataset *ds, gan_error *err) {
    char cfg[32];
    snprintf(cfg, sizeof cfg, "biggan%d", s->run.G->cfg.resolution);
    if (run_make_dir(s->rc->outdir, gan_dataset_name(ds), cfg, s->files.dir, sizeof s->files.dir, err) != 0) return -1;
    char *opts = bg_train_options_to_json(&s->run.t.opt, &s->run.meta);
    int rc = run_open_files(&s->files, opts, err);
    free(opts);
    int n = s->grid.rows * GRID_COLS < s->smp.count ? s->grid.rows * GRID_COLS : s->smp.count;
    gan_tensor *reals = rc == 0 ? sampler_batch(s->ctx, &s->smp, 0, n, NULL, err) : NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/reals.png", s->files.dir);
    if (rc == 0) rc = reals ? run_save_grid(s->ctx, reals, GRID_COLS, s->grid.rows, path, err) : -1;
    gan_tensor_free(s->ctx, reals);
    snprintf(path, sizeof path, "%s/fakes_init.png", s->files.dir);
    if (rc == 0) rc = save_fakes(s->ctx, s->run.G_ema, &s->grid, path, err);
    return rc;
}

static int prepare(bg_run_state *s, gan_dataset **ds, int *continues, gan_error *err) {
    const bg_run_config *rc = s->rc;
    *continues = rc->resume != NULL;
    if (*continues && bg_checkpoint_load(s->ctx, rc->resume, &s->run, err) != 0) return -1;
    const char *data = rc->data ? rc->data : s->run.meta.dataset;
    if (!data) return gan_fail(err, "--data is required");
    if (!(*ds = gan_dataset_open(data, err))) return -1;
    if (gan_dataset_label_dim(*ds) < 1)
        return gan_fail(err, "%s has no class labels: BigGAN needs a labelled dataset (dataset.json, or dne prep pack "
                        "--labels)", data);
    if (!*continues && fresh_run(s, *ds, err) != 0) return -1;
    if (*continues && rc->kimg > 0) s->run.meta.total_kimg = rc->kimg;
    if (check_data(s->run.G, *ds, data, err) != 0) return -1;
    if (sampler_init(&s->smp, *ds, s->run.meta.mirror, s->run.meta.seed, err) != 0) return -1;
    if (grid_make(s->ctx, s->run.G, s->run.meta.seed, &s->grid, err) != 0) return -1;
    if (rc->swd && swd_set_open(rc, data, s->run.G, &s->swd, err) != 0) return -1;
    s->has_swd = rc->swd;
    return start_files(s, *ds, err);
}

int bg_train_run(const bg_run_config *rc, gan_error *err) {
    bg_run_state s = {.rc = rc};
    s.ctx = gan_ctx_new(rc->device, rc->threads, err);
    if (!s.ctx) return -1;
    gan_dataset *ds = NULL;
    int continues = 0;
    int status = prepare(&s, &ds, &continues, err);
    if (status == 0) {
        const bg_train_options *o = &s.run.t.opt;
        run_say(&s.files, "dne train --arch biggan: %s, %d images of %d classes%s, %d px, batch %d x %d D steps x %d, "
                "G_lr %g, D_lr %g, %lld parameters in G, %lld in D; run folder %s", s.run.meta.dataset,
                gan_dataset_count(ds), s.run.G->cfg.n_classes, s.run.meta.mirror ? " (x-flipped too)" : "",
                s.run.G->cfg.resolution, o->batch, o->d_steps, o->d_accumulations, o->g_lr, o->d_lr,
                (long long)gan_params_numel(&s.run.G->params, 0), (long long)gan_params_numel(&s.run.D->params, 0),
                s.files.dir);
        if (continues) run_say(&s.files, "resumed from %s at kimg %.3f (iteration %lld)", rc->resume,
                               (double)s.run.meta.cur_nimg / 1000, (long long)s.run.t.iteration);
        run_catch_stop_signals();
        status = loop(&s, err);
        run_restore_signals();
    }
    run_close_files(&s.files);
    sampler_free(&s.smp);
    swd_set_free(&s.swd);
    grid_free(s.ctx, &s.grid);
    bg_checkpoint_free(s.ctx, &s.run);
    gan_dataset_close(ds);
    gan_ctx_free(s.ctx);
    return status;
}
