#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "draws.h"
#include "gan/io/dataset.h"
#include "gan/metrics/metric_log.h"
#include "gan/metrics/swd_generator.h"
#include "gan/ops.h"
#include "gan/rng.h"
#include "run_common.h"
#include "transfer.h"

/* ------------------------------------------------------------- configs */

int train_config_preset(const char *name, int res, int batch, double gamma, train_options *o, sg2_config *g,
                        int *mbstd_group, gan_error *err) {
    if (sg2_config_preset(name, res, g, err) != 0) return -1;
    *o = train_options_defaults();
    int group = 4;
    if (strcmp(name, "auto") == 0) {
        o->batch = 4096 / res < 32 ? (4096 / res > 1 ? 4096 / res : 1) : 32;
        o->lr = res >= 1024 ? 0.002f : 0.0025f;
        o->ema_rampup = 0.05f;
    } else if (strcmp(name, "small") == 0 || strcmp(name, "tiny") == 0) {
        o->batch = 16, o->ema_kimg = 5, o->ema_rampup = 0.05f;
    } else if (strcmp(name, "stylegan2") == 0 || strcmp(name, "paper1024") == 0) {
        o->batch = 32, o->lr = 0.002f, o->ema_kimg = 10, o->gamma = strcmp(name, "stylegan2") == 0 ? 10 : 2;
    } else if (strcmp(name, "paper256") == 0 || strcmp(name, "paper512") == 0) {
        o->batch = 64, o->ema_kimg = 20, o->gamma = strcmp(name, "paper256") == 0 ? 1.0f : 0.5f, group = 8;
    } else {
        return gan_fail(err, "no training config '%s' (auto, small, tiny, stylegan2, paper256, paper512, paper1024)",
                        name);
    }
    /* As train.py: gamma and EMA come from the config's own batch; --batch
     * changes the batch only. */
    if (strcmp(name, "auto") == 0 || strcmp(name, "small") == 0 || strcmp(name, "tiny") == 0) {
        o->gamma = (float)(0.0002 * res * res / o->batch);
        if (strcmp(name, "auto") == 0) o->ema_kimg = o->batch * 10.0f / 32.0f;
    }
    if (batch > 0) o->batch = batch;
    if (gamma >= 0) o->gamma = (float)gamma;
    *mbstd_group = group < o->batch ? group : o->batch;
    if (o->batch % *mbstd_group != 0)
        return gan_fail(err, "--batch %d is not a multiple of the minibatch-stddev group %d", o->batch, *mbstd_group);
    return 0;
}

/* ------------------------------------------------------------- run folder */

/* G_ema's images of the run's fixed grid latents (const noise). */
static int save_fakes(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *grid_z, int grid, const char *path,
                      gan_error *err) {
    gan_tensor *ws = sg2_mapping(ctx, g, grid_z, NULL, 1.0f, 0);
    gan_tensor *img = sg2_synthesis(ctx, g, ws, SG2_NOISE_CONST, NULL);
    int rc = img ? run_save_grid(ctx, img, grid, grid, path, err) : gan_ctx_take_error(ctx, err);
    gan_tensor_free(ctx, ws), gan_tensor_free(ctx, img);
    return rc;
}

/* ------------------------------------------------------------------ loop */

typedef struct tick_sums {
    double g, d, pl, r1;
    int steps, greg, dreg;
} tick_sums;

/* SWD of G_ema against the run's metric reals, appended to metric-swd.jsonl. */
static int measure_swd(gan_ctx *ctx, const trainer *t, run_files *f, gan_swd *swd, const char *snapshot,
                       gan_error *err) {
    double start = gan_seconds();
    gan_swd_sampling sampling = GAN_SWD_SAMPLING_DEFAULTS;
    gan_swd_result result;
    if (gan_swd_of_generator(ctx, t->G_ema, &sampling, swd, &result, err) != 0) return -1;
    gan_metric_results values = {0};
    gan_swd_result_values(&result, &values);
    char path[1200];
    snprintf(path, sizeof path, "%s/metric-swd.jsonl", f->dir);
    gan_metric_report report = {"swd", &values, gan_seconds() - start, gan_swd_num_reals(swd), snapshot,
                                (double)time(NULL)};
    if (gan_metric_report_append(path, &report, err) != 0) return -1;
    run_say(f, "swd at kimg %.3f: %s %.3f (%.0f s)", (double)t->cur_nimg / 1000, values.name[values.count - 1],
        values.value[values.count - 1], gan_seconds() - start);
    return 0;
}

static int snapshot(gan_ctx *ctx, const trainer *t, const run_meta *meta, run_files *f, const gan_tensor *grid_z,
                    int grid, gan_swd *swd, gan_error *err) {
    char path[1200], name[64];
    int64_t kimg = t->cur_nimg / 1000;
    snprintf(path, sizeof path, "%s/fakes%06lld.png", f->dir, (long long)kimg);
    if (save_fakes(ctx, t->G_ema, grid_z, grid, path, err) != 0) return -1;
    snprintf(name, sizeof name, "network-snapshot-%06lld.safetensors", (long long)kimg);
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    if (checkpoint_save(ctx, t, meta, path, err) != 0) return -1;
    run_say(f, "snapshot %s", path);
    return swd ? measure_swd(ctx, t, f, swd, name, err) : 0;
}

static void report_tick(run_files *f, const trainer *t, int tick, const tick_sums *s, double seconds,
                        double tick_seconds, double kimg_done, double total_kimg) {
    double sec_per_kimg = kimg_done > 0 ? tick_seconds / kimg_done : 0;
    double eta = sec_per_kimg * (total_kimg - (double)t->cur_nimg / 1000);
    run_say(f, "tick %-4d kimg %-8.2f time %-7.0fs sec/kimg %-7.1f G %.4f D %.4f pl %.4f r1 %.5f p %.3f ETA %.0fs", tick,
        (double)t->cur_nimg / 1000, seconds, sec_per_kimg, s->g / s->steps, s->d / s->steps,
        s->greg ? s->pl / s->greg : 0, s->dreg ? s->r1 / s->dreg : 0, t->ada.p, eta > 0 ? eta : 0);
    if (f->stats) {
        fprintf(f->stats,
                "{\"tick\": %d, \"kimg\": %.3f, \"seconds\": %.2f, \"sec_per_kimg\": %.3f, \"loss_G\": %.6f, "
                "\"loss_D\": %.6f, \"pl_penalty\": %.6f, \"r1_penalty\": %.6f, \"pl_mean\": %.6f, "
                "\"augment_p\": %.6f}\n",
                tick, (double)t->cur_nimg / 1000, seconds, sec_per_kimg, s->g / s->steps, s->d / s->steps,
                s->greg ? s->pl / s->greg : 0, s->dreg ? s->r1 / s->dreg : 0, t->pl_mean, t->ada.p);
        fflush(f->stats);
    }
}

static int loop(gan_ctx *ctx, trainer *t, const run_meta *meta, sampler *smp, run_files *f, const run_config *rc,
                const gan_tensor *grid_z, gan_swd *swd, gan_error *err) {
    double start = gan_seconds(), tick_start = start;
    int64_t tick_start_nimg = t->cur_nimg, total = (int64_t)(rc->kimg * 1000);
    int tick = 0, status = 0;
    tick_sums sums = {0};
    while (t->cur_nimg < total && !run_stop_requested() && status == 0) {
        gan_tensor *reals = sampler_batch(ctx, smp, t->cur_nimg, t->opt.batch, NULL, err);
        step_draws draws;
        draw_storage storage;
        step_stats st;
        if (!reals || draws_make(ctx, t->G, &t->opt, meta->seed, t->batch_idx, &draws, &storage) != 0) {
            if (reals) gan_ctx_take_error(ctx, err);
            gan_tensor_free(ctx, reals);
            return -1;
        }
        status = trainer_step(ctx, t, reals, &draws, &st);
        draws_free(ctx, &storage);
        gan_tensor_free(ctx, reals);
        if (status != 0) {
            gan_ctx_take_error(ctx, err);
            run_say(f, "stopped: %s (the last snapshot is intact)", err->msg);
            return -1;
        }
        sums.g += st.g_loss, sums.d += st.d_loss, sums.steps++;
        if (st.greg) sums.pl += st.pl_penalty, sums.greg++;
        if (st.dreg) sums.r1 += st.r1_penalty, sums.dreg++;
        /* As the reference: tick 0 is the first step alone and snapshots at
         * ticks 0, snap, 2 snap..., so a run's first snapshot and metric
         * show the network it started from. */
        int done = t->cur_nimg >= total;
        if (done || tick == 0 || t->cur_nimg - tick_start_nimg >= (int64_t)(rc->tick_kimg * 1000)) {
            double now = gan_seconds();
            report_tick(f, t, tick, &sums, now - start, now - tick_start,
                        (double)(t->cur_nimg - tick_start_nimg) / 1000, rc->kimg);
            if (done || tick % rc->snap == 0) status = snapshot(ctx, t, meta, f, grid_z, rc->grid, swd, err);
            tick++, tick_start = gan_seconds(), tick_start_nimg = t->cur_nimg, sums = (tick_sums){0};
        }
    }
    if (status == 0 && run_stop_requested()) {
        run_say(f, "stopping on request at kimg %.3f", (double)t->cur_nimg / 1000);
        status = snapshot(ctx, t, meta, f, grid_z, rc->grid, swd, err);
    }
    return status;
}

/* ------------------------------------------------------------------ setup */

/* A new run: networks from the config preset, randomly initialised, or
 * with weights (transfer) the networks of that file. */
static int fresh_run(gan_ctx *ctx, const run_config *rc, const gan_dataset *ds, const char *weights,
                     loaded_run *run, int *d_from_file, gan_error *err) {
    memset(run, 0, sizeof *run);
    train_options o;
    sg2_config g;
    int group;
    if (train_config_preset(rc->cfg, gan_dataset_resolution(ds), rc->batch, rc->gamma, &o, &g, &group, err) != 0)
        return -1;
    o.freeze_d = rc->freeze_d;
    o.augment = rc->augment, o.augment_p = rc->augment_p, o.ada_target = rc->ada_target, o.ada_kimg = rc->ada_kimg;
    snprintf(o.augpipe, sizeof o.augpipe, "%s", rc->augpipe ? rc->augpipe : "bgc");
    g.img_channels = gan_dataset_channels(ds);
    sg2d_config d = sg2d_config_for(&g, group);
    if (weights) {
        if (transfer_load_networks(ctx, weights, group, rc->seed + 1, run, d_from_file, err) != 0) return -1;
    } else {
        if (!(run->G = sg2_create(ctx, &g, err)) || !(run->G_ema = sg2_create(ctx, &g, err)) ||
            !(run->D = sg2d_create(ctx, &d, err)) || sg2_init_random(ctx, run->G, rc->seed, err) != 0 ||
            sg2d_init_random(ctx, run->D, rc->seed + 1, err) != 0)
            return -1;
        if (gan_params_copy(ctx, &run->G_ema->params, &run->G->params) != 0) /* G_ema starts as a copy of G */
            return gan_ctx_take_error(ctx, err);
    }
    if (trainer_init(ctx, &run->t, run->G, run->D, run->G_ema, &o) != 0) return gan_ctx_take_error(ctx, err);
    run->meta = (run_meta){.seed = rc->seed, .mirror = rc->mirror, .total_kimg = rc->kimg};
    snprintf(run->meta.cfg, sizeof run->meta.cfg, "%s", rc->cfg);
    snprintf(run->meta.dataset, sizeof run->meta.dataset, "%s", rc->data);
    return 0;
}

static gan_tensor *grid_latents(gan_ctx *ctx, const sg2_generator *g, int grid, uint64_t seed) {
    return draws_normal(ctx, 2, (int64_t[]){(int64_t)grid * grid, g->cfg.z_dim}, draws_stream(seed, -1, 200));
}

static int start_files(gan_ctx *ctx, const run_config *rc, const loaded_run *run, const gan_dataset *ds,
                       sampler *smp, const gan_tensor *grid_z, run_files *f, gan_error *err) {
    if (run_make_dir(rc->outdir, gan_dataset_name(ds), run->meta.cfg, f->dir, sizeof f->dir, err) != 0) return -1;
    char path[1200];
    char *opts = train_options_to_json(&run->t.opt, &run->meta);
    int rc2 = run_open_files(f, opts, err);
    free(opts);
    int grid = rc->grid;
    int shown = grid * grid < smp->count ? grid * grid : smp->count;
    gan_tensor *reals = rc2 == 0 ? sampler_batch(ctx, smp, 0, shown, NULL, err) : NULL;
    snprintf(path, sizeof path, "%s/reals.png", f->dir);
    if (rc2 == 0) rc2 = reals ? run_save_grid(ctx, reals, grid, grid, path, err) : -1;
    gan_tensor_free(ctx, reals);
    snprintf(path, sizeof path, "%s/fakes_init.png", f->dir);
    if (rc2 == 0) rc2 = save_fakes(ctx, run->G_ema, grid_z, grid, path, err);
    return rc2;
}

/* The SWD evaluator with its reals' descriptors, or NULL when off. */
static gan_swd *swd_for(const run_config *rc, const char *data, const sg2_generator *g, gan_error *err) {
    const char *path = rc->metric_data ? rc->metric_data : data;
    gan_dataset *ds = gan_dataset_open(path, err);
    if (!ds) return NULL;
    int n = rc->metric_num > 0 ? rc->metric_num : (gan_dataset_count(ds) < 1000 ? gan_dataset_count(ds) : 1000);
    int c = gan_dataset_channels(ds), r = gan_dataset_resolution(ds);
    gan_swd *swd = NULL;
    uint8_t *images = NULL;
    if (r != g->cfg.img_resolution || c != g->cfg.img_channels)
        gan_fail(err, "--metric-data %s: %d px images with %d channels, the network makes %d px with %d", path, r, c,
                 g->cfg.img_resolution, g->cfg.img_channels);
    else if (n > gan_dataset_count(ds))
        gan_fail(err, "--metric-num %d: %s has only %d images", n, path, gan_dataset_count(ds));
    else if (!(images = malloc((size_t)n * c * r * r)))
        gan_fail(err, "out of memory");
    else if (gan_dataset_read_many(ds, 0, n, images, err) == 0) {
        gan_swd_params p = GAN_SWD_DEFAULTS;
        p.threads = rc->threads; /* the host's threads, whatever device trains */
        swd = gan_swd_new(&p, c, r, err);
        if (swd && gan_swd_add_reals(swd, images, n, err) != 0) gan_swd_free(swd), swd = NULL;
    }
    free(images);
    gan_dataset_close(ds);
    return swd;
}

int train_run(const run_config *rc, gan_error *err) {
    gan_ctx *ctx = gan_ctx_new(rc->device, rc->threads, err);
    if (!ctx) return -1;
    loaded_run run = {0};
    run_files f = {{0}, NULL, NULL};
    sampler smp = {0};
    gan_tensor *grid_z = NULL;
    gan_swd *swd = NULL;
    int continues = rc->resume ? transfer_continues_run(rc->resume, rc->data, err) : 0;
    int status = continues < 0 ? -1 : 0;
    if (status == 0 && rc->resume && !continues && !rc->data)
        status = gan_fail(err, "%s is not a dne training checkpoint: to start a new run from its weights, name the "
                          "dataset with --data", rc->resume);
    if (status == 0 && continues && rc->new_run_flag)
        status = gan_fail(err, "--%s applies to new runs; a resumed run keeps its checkpoint's", rc->new_run_flag);
    if (status == 0 && continues) status = checkpoint_load(ctx, rc->resume, &run, err);
    const char *data = rc->data ? rc->data : run.meta.dataset;
    gan_dataset *ds = status == 0 ? gan_dataset_open(data, err) : NULL;
    if (status == 0 && !ds) status = -1;
    int d_from_file = 0;
    if (status == 0 && !continues) status = fresh_run(ctx, rc, ds, rc->resume, &run, &d_from_file, err);
    if (status == 0 && (gan_dataset_resolution(ds) != run.G->cfg.img_resolution ||
                        gan_dataset_channels(ds) != run.G->cfg.img_channels))
        status = gan_fail(err, "%s: %d px images with %d channels, but the network makes %d px with %d", data,
                          gan_dataset_resolution(ds), gan_dataset_channels(ds), run.G->cfg.img_resolution,
                          run.G->cfg.img_channels);
    if (status == 0) {
        if (continues && rc->kimg > 0) run.meta.total_kimg = rc->kimg;
        status = sampler_init(&smp, ds, run.meta.mirror, run.meta.seed, err);
        grid_z = status == 0 ? grid_latents(ctx, run.G, rc->grid, run.meta.seed) : NULL;
        if (status == 0 && !grid_z) status = gan_fail(err, "out of memory");
    }
    if (status == 0 && rc->swd && !(swd = swd_for(rc, data, run.G, err))) status = -1;
    if (status == 0) status = start_files(ctx, rc, &run, ds, &smp, grid_z, &f, err);
    if (status == 0) {
        run_config effective = *rc;
        effective.kimg = run.meta.total_kimg;
        run_say(&f, "dne train: %s, %d images%s, %d px, batch %d, gamma %g, %lld parameters in G; run folder %s",
            data, gan_dataset_count(ds), run.meta.mirror ? " (x-flipped too)" : "", run.G->cfg.img_resolution,
            run.t.opt.batch, run.t.opt.gamma, (long long)gan_params_numel(&run.G->params, 0), f.dir);
        if (continues) run_say(&f, "resumed from %s at kimg %.3f", rc->resume, (double)run.t.cur_nimg / 1000);
        else if (rc->resume)
            run_say(&f, "transfer: weights from %s (%s); image counter, optimizers, pl_mean and augmentation p start "
                "fresh", rc->resume, d_from_file ? "G, D and G_ema" : "G and G_ema; D initialised anew");
        if (run.t.opt.augment != TRAIN_AUGMENT_NONE)
            run_say(&f, "augmentation: %s '%s', p %.4f%s", train_augment_name(run.t.opt.augment), run.t.opt.augpipe,
                run.t.ada.p, run.t.opt.augment == TRAIN_AUGMENT_ADA ? " (adaptive)" : "");
        run_catch_stop_signals();
        status = loop(ctx, &run.t, &run.meta, &smp, &f, &effective, grid_z, swd, err);
        run_restore_signals();
    }
    run_close_files(&f);
    sampler_free(&smp);
    gan_swd_free(swd);
    gan_tensor_free(ctx, grid_z);
    checkpoint_free(ctx, &run);
    gan_dataset_close(ds);
    gan_ctx_free(ctx);
    return status;
}
