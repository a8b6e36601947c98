/* dne init: a randomly initialised generator with the reference's
 * initialisation: StyleGAN2 from a preset of train.py or an explicit config,
 * or BigGAN (--arch biggan) at a resolution with a class count. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "gan/io/file.h"
#include "gan/models/biggan.h"
#include "gan/models/stylegan2.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne init (--preset NAME --res N | --config JSON|FILE) --out G.safetensors [--seed S]\n"
            "       dne init --arch biggan --res 32|64|128|256|512 --classes K [--ch 96] --out B.safetensors\n"
            "  --preset NAME   %s\n"
            "  --res N         output resolution, a power of two from 4 to 1024 (with --preset)\n"
            "  --config C      a config JSON object, or a file holding one, e.g.\n"
            "                  {\"arch\":\"stylegan2\",\"z_dim\":512,\"w_dim\":512,\"c_dim\":0,\"img_resolution\":256,\n"
            "                   \"img_channels\":3,\"mapping_layers\":8,\"channel_base\":16384,\"channel_max\":512,\n"
            "                   \"conv_clamp\":256}\n"
            "  --out FILE      the generator file to write\n"
            "  --seed S        random seed (default 0)\n"
            "  --arch A        stylegan2 (default) or biggan; a --config names its own arch\n"
            "  --classes K     (BigGAN) number of classes\n"
            "  --ch N          (BigGAN) channel multiplier G_ch (default 96, as the reference)\n",
            sg2_preset_names());
}

/* --config takes JSON text, or the name of a file holding it: a malloc'd
 * string. */
static char *read_config_text(const char *arg, gan_error *err) {
    if (arg[0] == '{') {
        char *copy = strdup(arg);
        if (!copy) gan_fail(err, "out of memory");
        return copy;
    }
    uint8_t *data;
    size_t size;
    if (gan_read_file(arg, 1 << 20, &data, &size, err) != 0) return NULL;
    char *text = realloc(data, size + 1);
    if (!text) {
        free(data);
        gan_fail(err, "out of memory");
        return NULL;
    }
    text[size] = 0;
    return text;
}

typedef struct init_options {
    const char *preset, *config, *out, *arch;
    long res, seed, classes, ch;
} init_options;

static int init_stylegan2(const init_options *o, const char *config_text, gan_error *err) {
    sg2_config cfg;
    int rc = 0;
    if (config_text && sg2_config_parse(config_text, &cfg, err) != 0) rc = gan_fail_context(err, "%s", o->config);
    if (rc == 0 && o->preset) rc = sg2_config_preset(o->preset, (int)o->res, &cfg, err);
    if (rc != 0) return DNE_EXIT_USAGE;
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 0, err);
    sg2_generator *g = ctx ? sg2_create(ctx, &cfg, err) : NULL;
    rc = g ? sg2_init_random(ctx, g, (uint64_t)o->seed, err) : -1;
    if (rc == 0) rc = sg2_save(ctx, g, o->out, err);
    if (rc == 0)
        fprintf(stderr, "dne init: %lld parameters, %d px -> %s\n", (long long)gan_params_numel(&g->params, 0),
                cfg.img_resolution, o->out);
    sg2_free(ctx, g);
    gan_ctx_free(ctx);
    return rc == 0 ? 0 : DNE_EXIT_FAILURE;
}

static int init_biggan(const init_options *o, const char *config_text, gan_error *err) {
    bg_config cfg;
    if (config_text ? bg_config_parse(config_text, &cfg, err) != 0 : 0) return DNE_EXIT_USAGE;
    if (!config_text) {
        if (!o->res || !o->classes) {
            gan_fail(err, "--arch biggan needs --res and --classes");
            return DNE_EXIT_USAGE;
        }
        cfg = bg_config_default((int)o->res, (int)o->ch, (int)o->classes);
    }
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 0, err);
    bg_generator *g = ctx ? bg_create(ctx, &cfg, err) : NULL;
    int rc = g ? bg_init_random(ctx, g, (uint64_t)o->seed, err) : -1;
    if (rc == 0) rc = bg_save(ctx, g, o->out, err);
    if (rc == 0)
        fprintf(stderr, "dne init: BigGAN, %lld parameters, %d px, %d classes -> %s\n",
                (long long)gan_params_numel(&g->params, 0), cfg.resolution, cfg.n_classes, o->out);
    int status = g ? (rc == 0 ? 0 : DNE_EXIT_FAILURE) : DNE_EXIT_USAGE;
    bg_free(ctx, g);
    gan_ctx_free(ctx);
    return status;
}

int dne_init(int argc, char **argv) {
    static const struct option longopts[] = {
        {"preset", required_argument, 0, 'p'}, {"res", required_argument, 0, 'r'},
        {"config", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 's'},   {"arch", required_argument, 0, 'a'},
        {"classes", required_argument, 0, 'k'}, {"ch", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    init_options o = {.arch = NULL, .ch = 96};
    gan_error err = {{0}};
    int c, rc = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o.preset = optarg; break;
        case 'r': rc = dne_parse_long(optarg, "--res", 4, 1024, &o.res, &err); break;
        case 'c': o.config = optarg; break;
        case 'o': o.out = optarg; break;
        case 's': rc = dne_parse_long(optarg, "--seed", 0, 0xffffffffL, &o.seed, &err); break;
        case 'a': o.arch = optarg; break;
        case 'k': rc = dne_parse_long(optarg, "--classes", 1, 1 << 20, &o.classes, &err); break;
        case 'C': rc = dne_parse_long(optarg, "--ch", 1, 4096, &o.ch, &err); break;
        case 'h': usage(stdout); return 0;
        default: rc = gan_fail(&err, "unknown or incomplete option '%s' (see dne init --help)", argv[optind - 1]);
        }
    }
    if (rc == 0 && optind < argc) rc = gan_fail(&err, "unexpected argument '%s'", argv[optind]);
    if (rc == 0 && !o.out) rc = gan_fail(&err, "--out is required");
    if (rc == 0 && o.arch && strcmp(o.arch, "stylegan2") != 0 && strcmp(o.arch, "biggan") != 0)
        rc = gan_fail(&err, "bad --arch '%s': expected stylegan2 or biggan", o.arch);
    char *text = rc == 0 && o.config ? read_config_text(o.config, &err) : NULL;
    if (rc == 0 && o.config && !text) rc = -1;
    int biggan = (o.arch && strcmp(o.arch, "biggan") == 0) || (text && bg_is_biggan_config(text));
    if (rc == 0 && biggan && o.preset) rc = gan_fail(&err, "--preset is for StyleGAN2; BigGAN takes --res, --classes, --ch");
    if (rc == 0 && !biggan && !!o.preset == !!o.config) rc = gan_fail(&err, "give either --preset (with --res) or --config");
    if (rc == 0 && !biggan && o.preset && !o.res) rc = gan_fail(&err, "--preset needs --res");
    int status = rc != 0 ? DNE_EXIT_USAGE : biggan ? init_biggan(&o, text, &err) : init_stylegan2(&o, text, &err);
    free(text);
    return status == 0 ? 0 : dne_error("init", status, &err);
}
