/* dne export: a generator file from a training checkpoint (its G_ema, or G)
 * or from a stylegan2-ada-pytorch snapshot: what generate, serve and video
 * read, a quarter of a checkpoint's size. BigGAN checkpoints likewise, and
 * for BigGAN optionally with standing statistics (BigGAN-PyTorch's
 * accumulate_standing_stats) in place of the running averages. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "gan/models/biggan.h"
#include "gan/models/stylegan2.h"
#include "gan/rng.h"
#include "latents.h"

typedef struct export_options {
    const char *in, *out, *which;
    long standing, batch, seed;
    float trunc;
} export_options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne export CHECKPOINT --out G.safetensors [--which G_ema|G] [--standing N ...]\n"
            "  CHECKPOINT      a dne training checkpoint (network-snapshot-*.safetensors), a file\n"
            "                  written by dne import --which all, or a stylegan2-ada-pytorch .pkl\n"
            "  --out FILE      the generator file to write (atomically)\n"
            "  --which W       G_ema (default: the averaged generator, the one to publish) or G\n"
            "  --standing N    (BigGAN) replace the batch norms' running statistics by standing statistics\n"
            "                  of N training-mode passes of random z and classes (BigGAN-PyTorch uses 16)\n"
            "  --standing-batch B  images per pass (default 64)\n"
            "  --trunc T       draw those z truncated at T, as dne generate --trunc T will (default: none)\n"
            "  --seed S        the passes' random seed (default 0)\n");
}

static int parse(int argc, char **argv, export_options *o, gan_error *err) {
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},      {"which", required_argument, 0, 'w'},
        {"standing", required_argument, 0, 'n'}, {"standing-batch", required_argument, 0, 'b'},
        {"trunc", required_argument, 0, 't'},    {"seed", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    *o = (export_options){.which = "G_ema", .batch = 64};
    int c, rc = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->out = optarg; break;
        case 'w': o->which = optarg; break;
        case 'n': rc = dne_parse_long(optarg, "--standing", 1, 100000, &o->standing, err); break;
        case 'b': rc = dne_parse_long(optarg, "--standing-batch", 2, 4096, &o->batch, err); break;
        case 't': rc = dne_parse_float(optarg, "--trunc", 0.001f, 100, &o->trunc, err); break;
        case 's': rc = dne_parse_long(optarg, "--seed", 0, 0xffffffffL, &o->seed, err); break;
        case 'h': usage(stdout); return 1;
        default: return gan_fail(err, "unknown or incomplete option '%s' (see dne export --help)", argv[optind - 1]);
        }
    }
    if (rc != 0) return rc;
    if (optind != argc - 1) return gan_fail(err, "give exactly one input file");
    o->in = argv[optind];
    if (!o->out) return gan_fail(err, "--out is required");
    if (strcmp(o->which, "G_ema") != 0 && strcmp(o->which, "G") != 0)
        return gan_fail(err, "--which '%s': expected G_ema or G", o->which);
    return 0;
}

static int export_stylegan2(gan_ctx *ctx, const export_options *o, const char *prefix, gan_error *err) {
    if (o->standing) return gan_fail(err, "--standing is for BigGAN networks (StyleGAN2 has no batch norm)");
    sg2_generator *g = sg2_load(ctx, o->in, prefix, err);
    int rc = g ? sg2_save(ctx, g, o->out, err) : -1;
    sg2_free(ctx, g);
    return rc;
}

/* The passes' z (truncated as generate draws them) and uniform classes,
 * from RandomState(seed): pass p, image i takes stream seed + p * batch + i. */
static int standing_stats(gan_ctx *ctx, bg_generator *g, const export_options *o, gan_error *err) {
    int n = (int)o->standing, b = (int)o->batch, dim = g->cfg.dim_z, k = g->cfg.n_classes;
    gan_tensor **z = calloc((size_t)n, sizeof *z), **labels = calloc((size_t)n, sizeof *labels);
    float *host = malloc((size_t)b * dim * sizeof *host);
    int *classes = malloc((size_t)b * sizeof *classes);
    int rc = z && labels && host && classes ? 0 : gan_fail(err, "out of memory");
    for (int p = 0; rc == 0 && p < n; p++) {
        for (int i = 0; i < b; i++) {
            uint32_t stream = (uint32_t)o->seed + (uint32_t)(p * b + i);
            dne_seed_to_truncated_z(stream, dim, o->trunc, host + (size_t)i * dim);
            gan_randomstate rs;
            gan_randomstate_seed(&rs, stream ^ 0x9e3779b9u);
            classes[i] = (int)gan_randomstate_randint(&rs, 0, k);
        }
        z[p] = gan_tensor_from_host(ctx, 2, (int64_t[]){b, dim}, host);
        labels[p] = bg_one_hot(ctx, classes, b, k);
        if (gan_ctx_failed(ctx)) rc = gan_ctx_take_error(ctx, err);
    }
    if (rc == 0) rc = bg_standing_stats(ctx, g, n, z, labels, err);
    for (int p = 0; p < n && z && labels; p++) gan_tensor_free(ctx, z[p]), gan_tensor_free(ctx, labels[p]);
    free(z), free(labels), free(host), free(classes);
    return rc;
}

static int export_biggan(gan_ctx *ctx, const export_options *o, const char *prefix, gan_error *err) {
    bg_generator *g = bg_load(ctx, o->in, prefix, err);
    int rc = g ? 0 : -1;
    if (rc == 0 && o->standing) rc = standing_stats(ctx, g, o, err);
    if (rc == 0) rc = bg_save(ctx, g, o->out, err);
    bg_free(ctx, g);
    return rc;
}

int dne_export(int argc, char **argv) {
    export_options o;
    gan_error err = {{0}};
    int rc = parse(argc, argv, &o, &err);
    if (rc == 1) return 0;
    if (rc != 0) return dne_error("export", DNE_EXIT_USAGE, &err);
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 0, &err);
    int want_g = strcmp(o.which, "G") == 0;
    if (!ctx) rc = -1;
    else if (bg_file_is_biggan(o.in)) /* "" takes a checkpoint's G_ema, or a generator file as it is */
        rc = export_biggan(ctx, &o, want_g ? "G." : "", &err);
    else
        rc = export_stylegan2(ctx, &o, want_g ? "G." : "G_ema.", &err);
    gan_ctx_free(ctx);
    if (rc != 0) return dne_error("export", DNE_EXIT_USAGE, &err);
    fprintf(stderr, "dne export: %s of %s%s -> %s\n", o.which, o.in, o.standing ? " with standing statistics" : "",
            o.out);
    return 0;
}
