/* Images per second of one dne training step (the `bench/train` script runs
 * it beside tools/reference/bench_train.py). For each resolution: the cfg's
 * networks with random weights, random reals, draws as a run makes them;
 * the median of --reps steps with every phase due (step index 0: path
 * length and R1 included) and with the main phases only (step index 1).
 * One JSON line per resolution. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/blas.h"
#include "gan/context.h"
#include "gan/rng.h"
#include "train/draws.h"
#include "train/run.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median seconds of reps steps at step index `step` (one warm-up first). */
static double time_steps(gan_ctx *ctx, trainer *t, const gan_tensor *reals, int64_t step, int reps) {
    double *times = calloc((size_t)reps, sizeof *times), median = -1;
    for (int rep = 0; rep <= reps && times; rep++) {
        step_draws draws;
        draw_storage storage;
        step_stats st;
        t->batch_idx = step;
        if (draws_make(ctx, t->G, &t->opt, 1, step, &draws, &storage) != 0) break;
        double start = gan_seconds();
        int rc = trainer_step(ctx, t, reals, &draws, &st);
        if (rc == 0) rc = gan_ctx_sync(ctx);
        double seconds = gan_seconds() - start;
        draws_free(ctx, &storage);
        if (rc != 0) break;
        if (rep > 0) times[rep - 1] = seconds;
        if (rep == reps) {
            qsort(times, (size_t)reps, sizeof *times, cmp_double);
            median = times[reps / 2];
        }
    }
    free(times);
    return median;
}

static int bench(int res, const char *cfg, int batch, int threads, int reps, int profile, gan_device device) {
    gan_error err = {{0}};
    gan_ctx *ctx = gan_ctx_new(device, threads, &err);
    train_options o;
    sg2_config gcfg;
    int group;
    if (!ctx || train_config_preset(cfg, res, batch, -1, &o, &gcfg, &group, &err) != 0) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        gan_ctx_free(ctx);
        return 1;
    }
    sg2d_config dcfg = sg2d_config_for(&gcfg, group);
    sg2_generator *G = sg2_create(ctx, &gcfg, &err), *G_ema = sg2_create(ctx, &gcfg, &err);
    sg2_discriminator *D = sg2d_create(ctx, &dcfg, &err);
    trainer t = {0};
    int rc = G && G_ema && D && sg2_init_random(ctx, G, 0, &err) == 0 && sg2_init_random(ctx, G_ema, 0, &err) == 0 &&
                     sg2d_init_random(ctx, D, 1, &err) == 0 && trainer_init(ctx, &t, G, D, G_ema, &o) == 0
                 ? 0
                 : 1;
    int64_t n = (int64_t)batch * 3 * res * res;
    float *host = malloc((size_t)n * sizeof *host);
    gan_tensor *reals = NULL;
    if (rc == 0 && host) {
        gan_philox_uniform(7, 0, host, (size_t)n);
        for (int64_t i = 0; i < n; i++) host[i] = host[i] * 2 - 1;
        reals = gan_tensor_from_host(ctx, 4, (int64_t[]){batch, 3, res, res}, host);
    }
    gan_ctx_profile(ctx, profile);
    double all = reals ? time_steps(ctx, &t, reals, 0, reps) : -1, main_only = reals ? time_steps(ctx, &t, reals, 1, reps) : -1;
    if (profile) gan_ctx_profile_print(ctx, stderr);
    if (all <= 0 || main_only <= 0) {
        fprintf(stderr, "bench_train: %s%s\n", err.msg, ctx->error.msg);
        rc = 1;
    } else {
        printf("{\"resolution\": %d, \"cfg\": \"%s\", \"batch\": %d, \"threads\": %d, \"images_per_s_all_phases\": %.3f, "
               "\"images_per_s_main_phases\": %.3f, \"blas_kernels\": \"%s\"}\n",
               res, cfg, batch, threads, batch / all, batch / main_only, gan_blas_kernels());
        fflush(stdout);
    }
    free(host);
    gan_tensor_free(ctx, reals);
    trainer_free(ctx, &t);
    sg2_free(ctx, G), sg2_free(ctx, G_ema), sg2d_free(ctx, D);
    gan_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv) {
    gan_blas_select_kernels(argv);
    const char *resolutions = "64,128", *cfg = "small", *device_text = "cpu";
    int batch = 8, threads = 2, reps = 3, profile = 0;
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--profile") == 0) {
            profile = 1, i--;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_train: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--resolutions") == 0) resolutions = argv[i + 1];
        else if (strcmp(argv[i], "--cfg") == 0) cfg = argv[i + 1];
        else if (strcmp(argv[i], "--batch") == 0) batch = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--device") == 0) device_text = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_train [--resolutions 64,128] [--cfg small] [--batch 8] [--threads 2] [--reps 3] "
                            "[--device cpu|cuda] [--profile]\n");
            return 2;
        }
    }
    if (batch < 1 || threads < 1 || reps < 1) return fprintf(stderr, "bench_train: bad numbers\n"), 2;
    gan_device device;
    gan_error err = {{0}};
    if (gan_device_parse(device_text, &device, &err) != 0) return fprintf(stderr, "bench_train: %s\n", err.msg), 2;
    char *list = strdup(resolutions);
    int rc = 0;
    for (char *tok = strtok(list, ","); tok && rc == 0; tok = strtok(NULL, ",")) rc = bench(atoi(tok), cfg, batch, threads, reps, profile, device);
    free(list);
    return rc;
}
