/* dne import: a stylegan2-ada-pytorch network snapshot (.pkl) as dne's
 * safetensors, read without Python and without running anything in it. */
#include <getopt.h> /* optind */
#include <stdio.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "gan/models/stylegan2_import.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne import SNAPSHOT.pkl --out FILE.safetensors [--which G_ema|G|D|all]\n"
            "  SNAPSHOT.pkl  a stylegan2-ada-pytorch network-snapshot-*.pkl (pickle protocols 2 to 5;\n"
            "                also TensorFlow models converted by its legacy.py)\n"
            "  --out FILE    the file to write (atomically)\n"
            "  --which W     G_ema (default): a generator file for generate, serve, video...;\n"
            "                G: the training generator; D: the discriminator;\n"
            "                all: G, D and G_ema with both configs and the augmentation p\n"
            "Nothing in the pickle is executed: only the globals a network snapshot uses are\n"
            "understood, anything else (os.system, eval, unknown classes) is refused by name.\n");
}

int dne_import(int argc, char **argv) {
    const char *out = NULL, *which_text = "G_ema";
    sg2_import_which which = SG2_IMPORT_G_EMA;
    gan_error err = {{0}};
    int rc = dne_parse_file_command(argc, argv, "import", usage, &out, &which_text, &err);
    if (rc == 1) return 0;
    if (rc == 0) rc = sg2_import_which_parse(which_text, &which, &err);
    if (rc != 0) return dne_error("import", DNE_EXIT_USAGE, &err);

    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 1, &err);
    rc = ctx ? sg2_import_pickle(ctx, argv[optind], which, out, &err) : -1;
    gan_ctx_free(ctx);
    if (rc != 0) return dne_error("import", DNE_EXIT_USAGE, &err);
    fprintf(stderr, "dne import: %s -> %s\n", argv[optind], out);
    return 0;
}
