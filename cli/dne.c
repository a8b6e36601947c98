/* dne: one program for the whole job; `dne <command> [flags]`. This file only
 * dispatches; each command's flags live beside the code they drive. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gan/blas.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"generate", dne_generate, "images from a generator for a list of seeds"},
    {"video", dne_video, "interpolation videos between seeds (MP4, animated WebP or PNG frames)"},
    {"mix", dne_mix, "style mixing grid: rows' coarse styles with columns' chosen layers"},
    {"import", dne_import, "a stylegan2-ada-pytorch snapshot (.pkl) as safetensors, without Python"},
    {"export", dne_export, "a generator file (G_ema) from a training checkpoint or snapshot"},
    {"init", dne_init, "a randomly initialised generator (reference initialisation)"},
    {"train", dne_train, "train a StyleGAN2 on a folder, zip or packed dataset (or --resume a run)"},
    {"prep", dne_prep, "the dataset pipeline: crop faces from illustrations, pack them for training"},
    {"metrics", dne_metrics, "quality metrics of a generator against real images (swd)"},
    {"serve", dne_serve, "the daemon: renders a face pool and serves the page (or --export a static site)"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: dne <command> [options]   (dne <command> --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    gan_blas_select_kernels(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dne %s\n", DNE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "dne: error: unknown command '%s' (dne --help lists them)\n", argv[1]);
    return 2;
}
