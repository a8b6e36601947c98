/* Times dne's StyleGAN2 generator (mapping + synthesis, no image encoding) on
 * the CPU, or OpenBLAS's sgemm as the yardstick; prints one JSON object. The
 * bench/generate script runs it beside the PyTorch reference, one process per
 * measurement so that peak memory (RSS) is each run's own.
 *   bench_generate --network G.safetensors --batch 8 --reps 3 --threads 2
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

static int bench_network(const char *path, int batch, int reps, int threads) {
    gan_error err;
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, threads, &err);
    sg2_generator *g = ctx ? sg2_load(ctx, path, "", &err) : NULL;
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
        if (!img) {
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
                                             {"threads", required_argument, 0, 't'}, {0, 0, 0, 0}};
    const char *network = NULL;
    int sgemm = 0, batch = 1, reps = 3, threads = 2, c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': network = optarg; break;
        case 's': sgemm = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        default: return 2;
        }
    }
    if (reps < 1 || reps > 64 || batch < 1 || threads < 1 || (!network && sgemm <= 0)) {
        fprintf(stderr, "usage: bench_generate (--network G.safetensors [--batch N] | --sgemm N) [--reps R] [--threads T]\n");
        return 2;
    }
    return sgemm > 0 ? bench_sgemm(sgemm, reps, threads) : bench_network(network, batch, reps, threads);
}
