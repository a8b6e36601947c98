/* Images per second of one dne BigGAN training iteration (bench/train and
 * tests/gpu/run.sh run it beside tools/reference/bench_train_biggan.py):
 * at 32 px dne train --arch biggan's small config (ch 16, attention at 16 px
 * in G), at other resolutions the reference's network (attention at 64)
 * with --ch; 20 classes, random weights, reals and draws; one D step and one
 * G step of --batch images each; the median of --reps iterations after a
 * warm-up. One JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/blas.h"
#include "gan/context.h"
#include "gan/rng.h"
#include "train/biggan_run.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static gan_tensor *random_tensor(gan_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *host = malloc((size_t)n * sizeof *host);
    gan_philox_normal(seed, 0, host, (size_t)n);
    gan_tensor *t = gan_tensor_from_host(ctx, ndim, shape, host);
    free(host);
    return t;
}

static double time_iterations(gan_ctx *ctx, bg_trainer *t, const bg_step_inputs *in, int reps) {
    double *times = calloc((size_t)reps, sizeof *times), median = -1;
    bg_step_stats st;
    for (int rep = 0; rep <= reps && times; rep++) {
        double start = gan_seconds();
        if (bg_trainer_step(ctx, t, in, &st) != 0 || gan_ctx_sync(ctx) != 0) break;
        if (rep > 0) times[rep - 1] = gan_seconds() - start;
        if (rep == reps) {
            qsort(times, (size_t)reps, sizeof *times, cmp_double);
            median = times[reps / 2];
        }
    }
    free(times);
    return median;
}

int main(int argc, char **argv) {
    gan_blas_select_kernels(argv);
    int batch = 16, threads = 2, reps = 3, classes = 20, res = 32, ch = 16;
    const char *device_text = "cpu";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--batch") == 0) batch = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--res") == 0) res = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ch") == 0) ch = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--device") == 0) device_text = argv[i + 1];
        else
            return fprintf(stderr, "usage: bench_train_biggan [--batch 16] [--threads 2] [--reps 3] [--res 32] [--ch 16] "
                                   "[--device cpu|cuda]\n"),
                   2;
    }
    if (batch < 2 || threads < 1 || reps < 1 || ch < 1) return fprintf(stderr, "bench_train_biggan: bad numbers\n"), 2;
    gan_error err = {{0}};
    gan_device device;
    if (gan_device_parse(device_text, &device, &err) != 0) return fprintf(stderr, "bench_train_biggan: %s\n", err.msg), 2;
    gan_ctx *ctx = gan_ctx_new(device, threads, &err);
    bg_run_config rc = {0};
    bg_run_config_small(&rc);
    if (res != 32) rc.net = bg_config_default(res, ch, classes);
    rc.net.ch = ch;
    rc.net.n_classes = classes;
    rc.opt.batch = batch;
    bgd_config dcfg = bgd_config_for(&rc.net);
    bg_generator *G = ctx ? bg_create(ctx, &rc.net, &err) : NULL, *G_ema = ctx ? bg_create(ctx, &rc.net, &err) : NULL;
    bg_discriminator *D = ctx ? bgd_create(ctx, &dcfg, &err) : NULL;
    bg_trainer t = {0};
    int ok = G && G_ema && D && bg_init_random(ctx, G, 0, &err) == 0 && bg_init_random(ctx, G_ema, 0, &err) == 0 &&
             bgd_init_random(ctx, D, 1, &err) == 0 && bg_trainer_init(ctx, &t, G, D, G_ema, &rc.opt) == 0;
    int *ids = malloc((size_t)batch * sizeof *ids);
    for (int i = 0; ids && i < batch; i++) ids[i] = i % classes;
    gan_tensor *z[2] = {random_tensor(ctx, 2, (int64_t[]){batch, rc.net.dim_z}, 1),
                        random_tensor(ctx, 2, (int64_t[]){batch, rc.net.dim_z}, 2)};
    gan_tensor *reals = random_tensor(ctx, 4, (int64_t[]){batch, 3, res, res}, 3);
    bg_fake_draws fakes[2] = {{z[0], ids}, {z[1], ids}};
    const gan_tensor *real_list[1] = {reals};
    const int *real_ids[1] = {ids};
    bg_step_inputs in = {fakes, real_list, real_ids, fakes + 1};
    double seconds = ok ? time_iterations(ctx, &t, &in, reps) : -1;
    int status = 0;
    if (seconds <= 0) {
        fprintf(stderr, "bench_train_biggan: %s%s\n", err.msg, ctx ? ctx->error.msg : "");
        status = 1;
    } else {
        printf("{\"arch\": \"biggan\", \"resolution\": %d, \"ch\": %d, \"classes\": %d, \"batch\": %d, \"threads\": %d, "
               "\"images_per_s\": %.3f, \"device\": \"%s\", \"blas_kernels\": \"%s\"}\n",
               res, rc.net.ch, classes, batch, threads, batch / seconds, device_text, gan_blas_kernels());
    }
    free(ids);
    gan_tensor_free(ctx, z[0]), gan_tensor_free(ctx, z[1]), gan_tensor_free(ctx, reals);
    bg_trainer_free(ctx, &t);
    bg_free(ctx, G), bg_free(ctx, G_ema), bgd_free(ctx, D);
    gan_ctx_free(ctx);
    return status;
}
