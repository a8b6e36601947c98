/* dne train --arch biggan: BigGAN training with BigGAN-PyTorch's options. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "train/biggan_run.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne train --arch biggan --data LABELLED_DATA --outdir DIR [options]\n"
            "       dne train --resume network-snapshot-NNNNNN.safetensors --outdir DIR [--kimg K]\n"
            "  --data PATH       labelled images: a folder or zip with dataset.json, or a .dset (dne prep pack --labels)\n"
            "  --outdir DIR      where run folders go (default training-runs)\n"
            "  --cfg NAME        small (default: CPU-sized, see docs/biggan.md) or reference (BigGAN-PyTorch's\n"
            "                    launch script: ch 96, batch 256, attention at 64)\n"
            "  --kimg K          train until K thousand real images have been seen (default 25000)\n"
            "  --tick K, --snap N, --seed S, --mirror 0|1, --threads N, --device DEV   as for StyleGAN2\n"
            "  --metrics LIST    swd (default) or none; --metric-data PATH, --metric-num N\n"
            "  --batch N         images per micro-batch (batch_size)\n"
            "  --ch N            channel multiplier of G and D (G_ch, D_ch)\n"
            "  --attn RES        G's attention resolutions, e.g. 64 or 32_64; 0 for none (G_attn)\n"
            "  --d-attn RES      D's (D_attn)\n"
            "  --dim-z N         latent size (dim_z; rounded down to a multiple of the slots)\n"
            "  --shared-dim N    class embedding size (shared_dim)\n"
            "  --g-lr LR, --d-lr LR   learning rates (G_lr, D_lr)\n"
            "  --d-steps N       D steps per G step (num_D_steps)\n"
            "  --accumulate N    micro-batches per step for both (num_D_accumulations, num_G_accumulations)\n"
            "  --adam-eps E      Adam's eps\n"
            "  --g-ortho S, --d-ortho S   orthogonal regularisation strength (G_ortho, D_ortho; default 0)\n"
            "  --ema-start N     iteration from which G_ema averages (before: a copy of G)\n"
            "  --ema-decay D     G_ema's decay (default 0.9999)\n");
}

static int parse_config(const char *name, bg_run_config *rc, gan_error *err) {
    if (strcmp(name, "small") == 0) {
        bg_run_config_small(rc);
    } else if (strcmp(name, "reference") == 0) {
        rc->net = bg_config_default(128, 96, 1);
        rc->opt = bg_train_options_defaults(256);
    } else {
        return gan_fail(err, "unknown --cfg '%s' for BigGAN (small or reference)", name);
    }
    return 0;
}

/* The flags that set up a new run; a continued run keeps its checkpoint's. */
#define NEW_RUN_ONLY "cbCABzeglnuEOPxy"

static int parse_float_flag(const char *text, const char *flag, float min, float max, float *out, gan_error *err) {
    return dne_parse_float(text, flag, min, max, out, err);
}

int dne_train_biggan(int argc, char **argv) {
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'},      {"outdir", required_argument, 0, 'o'},
        {"cfg", required_argument, 0, 'c'},       {"kimg", required_argument, 0, 'k'},
        {"tick", required_argument, 0, 't'},      {"snap", required_argument, 0, 's'},
        {"batch", required_argument, 0, 'b'},     {"seed", required_argument, 0, 'S'},
        {"mirror", required_argument, 0, 'm'},    {"resume", required_argument, 0, 'r'},
        {"threads", required_argument, 0, 'T'},   {"metrics", required_argument, 0, 'M'},
        {"metric-data", required_argument, 0, 'D'}, {"metric-num", required_argument, 0, 'N'},
        {"device", required_argument, 0, 'V'},    {"arch", required_argument, 0, 'a'},
        {"ch", required_argument, 0, 'C'},        {"attn", required_argument, 0, 'A'},
        {"d-attn", required_argument, 0, 'B'},    {"dim-z", required_argument, 0, 'z'},
        {"shared-dim", required_argument, 0, 'e'}, {"g-lr", required_argument, 0, 'g'},
        {"d-lr", required_argument, 0, 'l'},      {"d-steps", required_argument, 0, 'n'},
        {"accumulate", required_argument, 0, 'u'}, {"adam-eps", required_argument, 0, 'E'},
        {"g-ortho", required_argument, 0, 'O'},   {"d-ortho", required_argument, 0, 'P'},
        {"ema-start", required_argument, 0, 'x'}, {"ema-decay", required_argument, 0, 'y'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    bg_run_config rc = {.outdir = "training-runs", .kimg = 25000, .tick_kimg = 4, .snap = 50, .swd = 1};
    bg_run_config_small(&rc);
    gan_error err = {{0}};
    long v;
    float f;
    int c, status = 0, kimg_given = 0;
    const char *new_run_flag = NULL;
    /* --cfg first: the other flags change its values. */
    for (int i = 1; i + 1 < argc && status == 0; i++)
        if (strcmp(argv[i], "--cfg") == 0) status = parse_config(argv[i + 1], &rc, &err);
    opterr = 0;
    optind = 1;
    while (status == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': rc.data = optarg; break;
        case 'o': rc.outdir = optarg; break;
        case 'c': break;
        case 'a':
            if (strcmp(optarg, "biggan") != 0) status = gan_fail(&err, "--arch %s with BigGAN options", optarg);
            break;
        case 'k': status = parse_float_flag(optarg, "--kimg", 0, HUGE_VALF, &f, &err), rc.kimg = f, kimg_given = 1; break;
        case 't': status = parse_float_flag(optarg, "--tick", 0.001f, HUGE_VALF, &f, &err), rc.tick_kimg = f; break;
        case 's': status = dne_parse_long(optarg, "--snap", 1, 1000000, &v, &err), rc.snap = (int)v; break;
        case 'S': status = dne_parse_long(optarg, "--seed", 0, 0xffffffffL, &v, &err), rc.seed = (unsigned long)v; break;
        case 'm': status = dne_parse_long(optarg, "--mirror", 0, 1, &v, &err), rc.mirror = (int)v; break;
        case 'r': rc.resume = optarg; break;
        case 'T': status = dne_parse_long(optarg, "--threads", 1, 1024, &v, &err), rc.threads = (int)v; break;
        case 'M':
            if (strcmp(optarg, "swd") == 0) rc.swd = 1;
            else if (strcmp(optarg, "none") == 0) rc.swd = 0;
            else status = gan_fail(&err, "unknown --metrics '%s' (swd or none)", optarg);
            break;
        case 'D': rc.metric_data = optarg; break;
        case 'N': status = dne_parse_long(optarg, "--metric-num", 1, 1000000, &v, &err), rc.metric_num = (int)v; break;
        case 'V': status = gan_device_parse(optarg, &rc.device, &err); break;
        case 'b': status = dne_parse_long(optarg, "--batch", 2, 4096, &v, &err), rc.opt.batch = (int)v; break;
        case 'C': status = dne_parse_long(optarg, "--ch", 1, 4096, &v, &err), rc.net.ch = (int)v; break;
        case 'A':
            status = snprintf(rc.net.attn, sizeof rc.net.attn, "%s", optarg) < (int)sizeof rc.net.attn ? 0
                                                                                              : gan_fail(&err, "--attn too long");
            break;
        case 'B':
            status = snprintf(rc.d_attn, sizeof rc.d_attn, "%s", optarg) < (int)sizeof rc.d_attn ? 0
                                                                                          : gan_fail(&err, "--d-attn too long");
            break;
        case 'z': status = dne_parse_long(optarg, "--dim-z", 1, 65536, &v, &err), rc.net.dim_z = (int)v; break;
        case 'e': status = dne_parse_long(optarg, "--shared-dim", 1, 65536, &v, &err), rc.net.shared_dim = (int)v; break;
        case 'g': status = parse_float_flag(optarg, "--g-lr", 0, 1, &rc.opt.g_lr, &err); break;
        case 'l': status = parse_float_flag(optarg, "--d-lr", 0, 1, &rc.opt.d_lr, &err); break;
        case 'n': status = dne_parse_long(optarg, "--d-steps", 1, 100, &v, &err), rc.opt.d_steps = (int)v; break;
        case 'u':
            status = dne_parse_long(optarg, "--accumulate", 1, 1024, &v, &err);
            rc.opt.d_accumulations = rc.opt.g_accumulations = (int)v;
            break;
        case 'E': status = parse_float_flag(optarg, "--adam-eps", 0, 1, &rc.opt.adam_eps, &err); break;
        case 'O': status = parse_float_flag(optarg, "--g-ortho", 0, 1, &rc.opt.g_ortho, &err); break;
        case 'P': status = parse_float_flag(optarg, "--d-ortho", 0, 1, &rc.opt.d_ortho, &err); break;
        case 'x': status = dne_parse_long(optarg, "--ema-start", 0, 1L << 40, &v, &err), rc.opt.ema_start = v; break;
        case 'y': status = parse_float_flag(optarg, "--ema-decay", 0, 1, &rc.opt.ema_decay, &err); break;
        case 'h': usage(stdout); return 0;
        default: status = gan_fail(&err, "unknown or incomplete option '%s' (see dne train --arch biggan --help)",
                                   argv[optind - 1]);
        }
        for (int i = 0; strchr(NEW_RUN_ONLY, c) && longopts[i].name; i++)
            if (longopts[i].val == c) new_run_flag = longopts[i].name;
    }
    if (status == 0 && optind < argc) status = gan_fail(&err, "unexpected argument '%s'", argv[optind]);
    if (status == 0 && !rc.data && !rc.resume) status = gan_fail(&err, "--data is required (or --resume)");
    if (status == 0 && rc.resume && new_run_flag)
        status = gan_fail(&err, "--%s applies to new runs; a resumed run keeps its checkpoint's", new_run_flag);
    if (status != 0) return dne_error("train", DNE_EXIT_USAGE, &err);
    if (rc.resume && !kimg_given) rc.kimg = 0;
    if (bg_train_run(&rc, &err) != 0) return dne_error("train", DNE_EXIT_FAILURE, &err);
    return 0;
}
