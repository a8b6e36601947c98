/* dne export: a generator file from a training checkpoint (its G_ema, or G)
 * or from a stylegan2-ada-pytorch snapshot: what generate, serve and video
 * read, a quarter of a checkpoint's size. BigGAN checkpoints likewise. */
#include <getopt.h> /* optind */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "gan/models/biggan.h"
#include "gan/models/stylegan2.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne export CHECKPOINT --out G.safetensors [--which G_ema|G]\n"
            "  CHECKPOINT   a dne training checkpoint (network-snapshot-*.safetensors), a file\n"
            "               written by dne import --which all, or a stylegan2-ada-pytorch .pkl\n"
            "  --out FILE   the generator file to write (atomically)\n"
            "  --which W    G_ema (default: the averaged generator, the one to publish) or G\n");
}

static int export_stylegan2(gan_ctx *ctx, const char *path, const char *prefix, const char *out, gan_error *err) {
    sg2_generator *g = sg2_load(ctx, path, prefix, err);
    int rc = g ? sg2_save(ctx, g, out, err) : -1;
    sg2_free(ctx, g);
    return rc;
}

static int export_biggan(gan_ctx *ctx, const char *path, const char *prefix, const char *out, gan_error *err) {
    bg_generator *g = bg_load(ctx, path, prefix, err);
    int rc = g ? bg_save(ctx, g, out, err) : -1;
    bg_free(ctx, g);
    return rc;
}

int dne_export(int argc, char **argv) {
    const char *out = NULL, *which = "G_ema";
    gan_error err = {{0}};
    int rc = dne_parse_file_command(argc, argv, "export", usage, &out, &which, &err);
    if (rc == 1) return 0;
    if (rc == 0 && strcmp(which, "G_ema") != 0 && strcmp(which, "G") != 0)
        rc = gan_fail(&err, "--which '%s': expected G_ema or G", which);
    if (rc != 0) return dne_error("export", DNE_EXIT_USAGE, &err);

    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 1, &err);
    const char *prefix = strcmp(which, "G") == 0 ? "G." : "G_ema.";
    rc = !ctx ? -1 : bg_file_is_biggan(argv[optind]) ? export_biggan(ctx, argv[optind], prefix, out, &err)
                                                       : export_stylegan2(ctx, argv[optind], prefix, out, &err);
    gan_ctx_free(ctx);
    if (rc != 0) return dne_error("export", DNE_EXIT_USAGE, &err);
    fprintf(stderr, "dne export: %s of %s -> %s\n", which, argv[optind], out);
    return 0;
}
