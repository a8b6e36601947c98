/* dne init: a randomly initialised StyleGAN2 generator with the reference's
 * initialisation, from a preset of train.py or an explicit config. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "gan/io/file.h"
#include "gan/models/stylegan2.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne init (--preset NAME --res N | --config JSON|FILE) --out G.safetensors [--seed S]\n"
            "  --preset NAME   %s\n"
            "  --res N         output resolution, a power of two from 4 to 1024 (with --preset)\n"
            "  --config C      a config JSON object, or a file holding one, e.g.\n"
            "                  {\"arch\":\"stylegan2\",\"z_dim\":512,\"w_dim\":512,\"c_dim\":0,\"img_resolution\":256,\n"
            "                   \"img_channels\":3,\"mapping_layers\":8,\"channel_base\":16384,\"channel_max\":512,\n"
            "                   \"conv_clamp\":256}\n"
            "  --out FILE      the generator file to write\n"
            "  --seed S        random seed (default 0)\n",
            sg2_preset_names());
}

/* --config takes JSON text, or the name of a file holding it. */
static int read_config(const char *arg, sg2_config *cfg, gan_error *err) {
    if (arg[0] == '{') return sg2_config_parse(arg, cfg, err);
    uint8_t *data;
    size_t size;
    if (gan_read_file(arg, 1 << 20, &data, &size, err) != 0) return -1;
    char *text = realloc(data, size + 1);
    if (!text) {
        free(data);
        return gan_fail(err, "out of memory");
    }
    text[size] = 0;
    int rc = sg2_config_parse(text, cfg, err);
    free(text);
    return rc == 0 ? 0 : gan_fail_context(err, "%s", arg);
}

int dne_init(int argc, char **argv) {
    static const struct option longopts[] = {{"preset", required_argument, 0, 'p'}, {"res", required_argument, 0, 'r'},
                                             {"config", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
                                             {"seed", required_argument, 0, 's'},   {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *preset = NULL, *config = NULL, *out = NULL;
    long res = 0, seed = 0;
    gan_error err = {{0}};
    int c, rc = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': preset = optarg; break;
        case 'r': rc = dne_parse_long(optarg, "--res", 4, 1024, &res, &err); break;
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 's': rc = dne_parse_long(optarg, "--seed", 0, 0xffffffffL, &seed, &err); break;
        case 'h': usage(stdout); return 0;
        default: rc = gan_fail(&err, "unknown or incomplete option '%s' (see dne init --help)", argv[optind - 1]);
        }
    }
    sg2_config cfg;
    if (rc == 0 && optind < argc) rc = gan_fail(&err, "unexpected argument '%s'", argv[optind]);
    if (rc == 0 && !out) rc = gan_fail(&err, "--out is required");
    if (rc == 0 && !!preset == !!config) rc = gan_fail(&err, "give either --preset (with --res) or --config");
    if (rc == 0 && preset && !res) rc = gan_fail(&err, "--preset needs --res");
    if (rc == 0) rc = preset ? sg2_config_preset(preset, (int)res, &cfg, &err) : read_config(config, &cfg, &err);
    if (rc != 0) return dne_error("init", DNE_EXIT_USAGE, &err);

    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 0, &err);
    sg2_generator *g = ctx ? sg2_create(ctx, &cfg, &err) : NULL;
    rc = g ? sg2_init_random(ctx, g, (uint64_t)seed, &err) : -1;
    if (rc == 0) rc = sg2_save(ctx, g, out, &err);
    if (rc == 0)
        fprintf(stderr, "dne init: %lld parameters, %d px -> %s\n", (long long)gan_params_numel(&g->params, 0),
                cfg.img_resolution, out);
    sg2_free(ctx, g);
    gan_ctx_free(ctx);
    return rc == 0 ? 0 : dne_error("init", DNE_EXIT_FAILURE, &err);
}
