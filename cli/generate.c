/* dne generate: images from a StyleGAN2 generator for a list of seeds, as the
 * reference's generate.py does it (same z for the same seed, same rounding),
 * so the same weights give the same PNGs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "gan/io/file.h"
#include "gan/io/tensor_image.h"
#include "gan/models/stylegan2.h"
#include "gan/rng.h"

#define MAX_SEEDS 10000000

typedef struct generate_options {
    const char *network, *outdir, *seeds_text, *device_text;
    float psi;
    long cutoff, batch, threads, class_index;
    sg2_noise_mode noise_mode;
    gan_image_format format;
    float quality;
    int profile;
} generate_options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne generate --network G.safetensors --seeds 0-9 --outdir DIR [options]\n"
            "  --network FILE       generator (safetensors with the reference's tensor names)\n"
            "  --seeds LIST         seeds: 0-9, 0,5,7 or 0,2-4 (z = numpy RandomState(seed).randn)\n"
            "  --outdir DIR         where seedNNNN.png files go (created if missing)\n"
            "  --trunc PSI          truncation psi (default 1: none)\n"
            "  --trunc-cutoff N     truncate only the first N w layers (default: all)\n"
            "  --class N            class label for conditional networks\n"
            "  --noise-mode MODE    const (default), random (seeded by the image seed) or none\n"
            "  --format FMT         png (default) or webp\n"
            "  --quality Q          WebP quality 0-100 (default 90; -1 = lossless)\n"
            "  --batch N            images per forward pass (default 1)\n"
            "  --threads N          CPU threads (default: all cores)\n"
            "  --device DEV         cpu (default), cuda or cuda:N\n"
            "  --profile            print the time spent in each op\n");
}

static int parse_options(int argc, char **argv, generate_options *o, gan_error *err) {
    static const struct option longopts[] = {
        {"network", required_argument, 0, 'n'}, {"seeds", required_argument, 0, 's'},
        {"outdir", required_argument, 0, 'o'},  {"trunc", required_argument, 0, 't'},
        {"trunc-cutoff", required_argument, 0, 'c'}, {"class", required_argument, 0, 'k'},
        {"noise-mode", required_argument, 0, 'm'}, {"format", required_argument, 0, 'f'},
        {"quality", required_argument, 0, 'q'}, {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 'j'}, {"device", required_argument, 0, 'd'},
        {"profile", no_argument, 0, 'P'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    *o = (generate_options){.psi = 1, .cutoff = 0, .batch = 1, .class_index = -1, .device_text = "cpu",
                            .format = GAN_IMAGE_PNG, .quality = 90};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'n': o->network = optarg; break;
        case 's': o->seeds_text = optarg; break;
        case 'o': o->outdir = optarg; break;
        case 't': rc = dne_parse_float(optarg, "--trunc", -100, 100, &o->psi, err); break;
        case 'c': rc = dne_parse_long(optarg, "--trunc-cutoff", 1, 1000, &o->cutoff, err); break;
        case 'k': rc = dne_parse_long(optarg, "--class", 0, 1 << 20, &o->class_index, err); break;
        case 'm': rc = sg2_noise_mode_parse(optarg, &o->noise_mode, err); break;
        case 'f':
            o->format = gan_image_format_from_name(optarg);
            if (o->format != GAN_IMAGE_PNG && o->format != GAN_IMAGE_WEBP)
                rc = gan_fail(err, "bad --format '%s': expected png or webp", optarg);
            break;
        case 'q': rc = dne_parse_float(optarg, "--quality", -1, 100, &o->quality, err); break;
        case 'b': rc = dne_parse_long(optarg, "--batch", 1, 1024, &o->batch, err); break;
        case 'j': rc = dne_parse_long(optarg, "--threads", 0, 1024, &o->threads, err); break;
        case 'd': o->device_text = optarg; break;
        case 'P': o->profile = 1; break;
        case 'h': usage(stdout); exit(0);
        default:
            return gan_fail(err, "unknown or incomplete option '%s' (see dne generate --help)", argv[optind - 1]);
        }
        if (rc != 0) return rc;
    }
    if (optind < argc) return gan_fail(err, "unexpected argument '%s'", argv[optind]);
    if (!o->network) return gan_fail(err, "--network is required");
    if (!o->seeds_text) return gan_fail(err, "--seeds is required");
    if (!o->outdir) return gan_fail(err, "--outdir is required");
    return 0;
}

/* z for each seed exactly as generate.py draws it: RandomState(seed).randn(1, z_dim)
 * in float64, then cast to float32. */
static void seeds_to_z(const uint32_t *seeds, int count, int z_dim, float *z) {
    double *row = malloc((size_t)z_dim * sizeof *row);
    gan_randomstate rs;
    for (int i = 0; i < count; i++) {
        gan_randomstate_seed(&rs, seeds[i]);
        gan_randomstate_randn(&rs, row, (size_t)z_dim);
        for (int j = 0; j < z_dim; j++) z[(size_t)i * z_dim + j] = (float)row[j];
    }
    free(row);
}

typedef struct generate_run {
    const generate_options *o;
    gan_ctx *ctx;
    const sg2_generator *g;
    float *z, *labels, *pixels;
    uint64_t *noise_seeds;
} generate_run;

static int write_images(const generate_run *run, const uint32_t *seeds, int count, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    int r = cfg->img_resolution, ch = cfg->img_channels;
    const char *ext = run->o->format == GAN_IMAGE_WEBP ? "webp" : "png";
    for (int i = 0; i < count; i++) {
        gan_image img;
        char path[4096];
        snprintf(path, sizeof path, "%s/seed%04u.%s", run->o->outdir, seeds[i], ext);
        if (gan_image_from_chw(run->pixels + (size_t)i * ch * r * r, ch, r, r, &img, err) != 0) return -1;
        int rc = gan_image_save(path, &img, run->o->format, run->o->quality, err);
        gan_image_free(&img);
        if (rc != 0) return -1;
    }
    return 0;
}

static int generate_batch(generate_run *run, const uint32_t *seeds, int count, gan_error *err) {
    gan_ctx *ctx = run->ctx;
    const sg2_config *cfg = &run->g->cfg;
    seeds_to_z(seeds, count, cfg->z_dim, run->z);
    for (int i = 0; i < count; i++) run->noise_seeds[i] = seeds[i];
    gan_tensor *z = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->z_dim}, run->z);
    gan_tensor *c = NULL;
    if (cfg->c_dim > 0) {
        memset(run->labels, 0, (size_t)count * cfg->c_dim * sizeof(float));
        for (int i = 0; i < count; i++) run->labels[(size_t)i * cfg->c_dim + run->o->class_index] = 1.0f;
        c = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->c_dim}, run->labels);
    }
    gan_tensor *ws = sg2_mapping(ctx, run->g, z, c, run->o->psi, (int)run->o->cutoff);
    gan_tensor *img = sg2_synthesis(ctx, run->g, ws, run->o->noise_mode, run->noise_seeds);
    if (img) gan_tensor_download(ctx, img, run->pixels);
    gan_tensor_free(ctx, z);
    gan_tensor_free(ctx, c);
    gan_tensor_free(ctx, ws);
    gan_tensor_free(ctx, img);
    if (gan_ctx_failed(ctx)) return gan_ctx_take_error(ctx, err);
    return write_images(run, seeds, count, err);
}

static int check_class(const generate_options *o, const sg2_config *cfg, gan_error *err) {
    if (cfg->c_dim == 0) {
        if (o->class_index >= 0)
            fprintf(stderr, "dne generate: warning: --class ignored: the network is unconditional\n");
        return 0;
    }
    if (o->class_index < 0)
        return gan_fail(err, "the network is conditional (%d classes): --class is required", cfg->c_dim);
    if (o->class_index >= cfg->c_dim)
        return gan_fail(err, "--class %ld out of range: the network has %d classes (0 to %d)", o->class_index,
                        cfg->c_dim, cfg->c_dim - 1);
    return 0;
}

static int run_all(generate_run *run, const uint32_t *seeds, int count, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    size_t batch = (size_t)run->o->batch;
    run->z = malloc(batch * cfg->z_dim * sizeof(float));
    run->labels = malloc(batch * (cfg->c_dim + 1) * sizeof(float));
    run->pixels = malloc(batch * cfg->img_channels * cfg->img_resolution * cfg->img_resolution * sizeof(float));
    run->noise_seeds = malloc(batch * sizeof(uint64_t));
    int rc = (!run->z || !run->labels || !run->pixels || !run->noise_seeds) ? gan_fail(err, "out of memory") : 0;
    double start = gan_seconds();
    for (int i = 0; rc == 0 && i < count; i += (int)batch) {
        int n = count - i < (int)batch ? count - i : (int)batch;
        rc = generate_batch(run, seeds + i, n, err);
    }
    if (rc == 0) {
        double elapsed = gan_seconds() - start;
        fprintf(stderr, "dne generate: %d image%s in %.2f s (%.1f ms/image) -> %s\n", count, count == 1 ? "" : "s",
                elapsed, 1000 * elapsed / count, run->o->outdir);
    }
    free(run->z);
    free(run->labels);
    free(run->pixels);
    free(run->noise_seeds);
    return rc;
}

int dne_generate(int argc, char **argv) {
    generate_options o;
    gan_error err = {{0}};
    uint32_t *seeds = NULL;
    int count = 0;
    gan_device device;
    if (parse_options(argc, argv, &o, &err) != 0 || dne_parse_seeds(o.seeds_text, &seeds, &count, MAX_SEEDS, &err) != 0 ||
        gan_device_parse(o.device_text, &device, &err) != 0)
        return dne_error("generate", DNE_EXIT_USAGE, &err);
    int status = DNE_EXIT_USAGE;
    gan_ctx *ctx = gan_ctx_new(device, (int)o.threads, &err);
    sg2_generator *g = ctx ? sg2_load(ctx, o.network, "", &err) : NULL;
    if (g && check_class(&o, &g->cfg, &err) == 0 && gan_mkdirs(o.outdir, &err) == 0) {
        generate_run run = {.o = &o, .ctx = ctx, .g = g};
        gan_ctx_profile(ctx, o.profile);
        status = run_all(&run, seeds, count, &err) == 0 ? 0 : DNE_EXIT_FAILURE;
        if (o.profile) gan_ctx_profile_print(ctx, stderr);
    }
    if (status != 0) dne_error("generate", status, &err);
    sg2_free(ctx, g);
    gan_ctx_free(ctx);
    free(seeds);
    return status;
}
