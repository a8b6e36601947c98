/* Times dne's StyleGAN2 generator (mapping + synthesis, no image encoding) on
 * the CPU, or OpenBLAS's sgemm as the yardstick; prints one JSON object. The
 * bench/generate script runs it beside the PyTorch reference, one process per
 * measurement so that peak memory (RSS) is each run's own.
 *   bench_generate --network G.safetensors --batch 8 --reps 3 --threads 2 [--device cuda]
 *   bench_generate --preset paper256 --res 256 [--save G.safetensors] ... (random weights, as dne init
 *     makes them; --save writes them for the PyTorch side to load)
 *   bench_generate --sgemm 2048 --reps 5 --threads 2 */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "gan/blas.h"
#include "gan/context.h"
#include "gan/models/stylegan2.h"
#include "gan/rng.h"

static double peak_rss_mb(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int bench_sgemm(int n, int reps, int threads) {
    openblas_set_num_threads(threads);
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    gan_philox_uniform(1, 0, a, (size_t)n * n);
    gan_philox_uniform(2, 0, b, (size_t)n * n);
    double times[64];
    for (int r = -1; r < reps; r++) {
        double start = gan_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        if (r >= 0) times[r] = gan_seconds() - start;
    }
    double t = median(times, reps);
    printf("{\"sgemm_n\": %d, \"sgemm_gflops\": %.1f, \"blas_kernels\": \"%s\", \"threads\": %d}\n", n,
           2.0 * n * n * n / t / 1e9, gan_blas_kernels(), threads);
    free(a);
    free(b);
    free(c);
    return 0;
}

/* The network of a file, or of a preset with random weights. */
static sg2_generator *network(gan_ctx *ctx, const char *path, const char *preset, int res, gan_error *err) {
    if (path) return sg2_load(ctx, path, "", err);
    sg2_config cfg;
    if (sg2_config_preset(preset, res, &cfg, err) != 0) return NULL;
    sg2_generator *g = sg2_create(ctx, &cfg, err);
    if (g && sg2_init_random(ctx, g, 0, err) != 0) sg2_free(ctx, g), g = NULL;
    return g;
}

typedef struct network_source {
    const char *path, *preset, *save;
    int res;
} network_source;

static int bench_network(const network_source *src, int batch, int reps, int threads, const char *device_text) {
    gan_error err;
    gan_device device;
    gan_ctx *ctx = gan_device_parse(device_text, &device, &err) == 0 ? gan_ctx_new(device, threads, &err) : NULL;
    sg2_generator *g = ctx ? network(ctx, src->path, src->preset, src->res, &err) : NULL;
    if (g && src->save && sg2_save(ctx, g, src->save, &err) != 0) sg2_free(ctx, g), g = NULL;
    if (!g) {
        fprintf(stderr, "bench_generate: %s\n", err.msg);
        return 1;
    }
    const sg2_config *cfg = &g->cfg;
    float *z = malloc(sizeof(float) * batch * cfg->z_dim);
    gan_philox_normal(3, 0, z, (size_t)batch * cfg->z_dim);
    double times[64];
    for (int r = -1; r < reps; r++) {
        double start = gan_seconds();
        gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){batch, cfg->z_dim}, z);
        gan_tensor *ws = sg2_mapping(ctx, g, zt, NULL, 1.0f, 0);
        gan_tensor *img = sg2_synthesis(ctx, g, ws, SG2_NOISE_CONST, NULL);
        if (!img || gan_ctx_sync(ctx) != 0) {
            fprintf(stderr, "bench_generate: %s\n", ctx->error.msg);
            return 1;
        }
        gan_tensor_free(ctx, zt);
        gan_tensor_free(ctx, ws);
        gan_tensor_free(ctx, img);
        if (r >= 0) times[r] = gan_seconds() - start;
    }
    double seconds = median(times, reps) / batch, flops = sg2_flops_per_image(cfg);
    printf("{\"ms_per_image\": %.2f, \"gflop_per_image\": %.3f, \"gflops\": %.1f, \"rss_mb\": %.0f}\n",
           seconds * 1e3, flops / 1e9, flops / seconds / 1e9, peak_rss_mb());
    free(z);
    sg2_free(ctx, g);
    gan_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    gan_blas_select_kernels(argv);
    static const struct option longopts[] = {{"network", required_argument, 0, 'n'}, {"sgemm", required_argument, 0, 's'},
                                             {"batch", required_argument, 0, 'b'},   {"reps", required_argument, 0, 'r'},
                                             {"threads", required_argument, 0, 't'}, {"device", required_argument, 0, 'd'},
                                             {"preset", required_argument, 0, 'p'},  {"res", required_argument, 0, 'R'},
                                             {"save", required_argument, 0, 'S'},    {0, 0, 0, 0}};
    network_source src = {NULL, NULL, NULL, 256};
    const char *device = "cpu";
    int sgemm = 0, batch = 1, reps = 3, threads = 2, c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': src.path = optarg; break;
        case 'p': src.preset = optarg; break;
        case 'R': src.res = atoi(optarg); break;
        case 'S': src.save = optarg; break;
        case 's': sgemm = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'd': device = optarg; break;
        default: return 2;
        }
    }
    if (reps < 1 || reps > 64 || batch < 1 || threads < 1 || (!src.path && !src.preset && sgemm <= 0)) {
        fprintf(stderr, "usage: bench_generate (--network G.safetensors | --preset NAME --res N [--save FILE]) [--batch N] "
                        "[--device D]\n"
                        "       bench_generate --sgemm N [--reps R] [--threads T]\n");
        return 2;
    }
    return sgemm > 0 ? bench_sgemm(sgemm, reps, threads) : bench_network(&src, batch, reps, threads, device);
}
