/* dne train: StyleGAN2 training in the conventions of the reference's train.py. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gan/models/biggan.h"
#include "train/run.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne train [--arch stylegan2] --data DATA --outdir DIR [options]\n"
            "       dne train --resume network-snapshot-NNNNNN.safetensors --outdir DIR [--kimg K]\n"
            "       dne train --resume MODEL.safetensors --data OTHER --outdir DIR [options]  (transfer)\n"
            "       dne train --arch biggan --data LABELLED_DATA --outdir DIR [options]  (dne train --arch biggan --help)\n"
            "  --data PATH     a folder of images, a stylegan2-ada dataset zip, or a .dset from dne prep pack\n"
            "  --outdir DIR    where run folders go (default training-runs)\n"
            "  --cfg NAME      auto (default), small (CPU), tiny (smoke tests), stylegan2, paper256, paper512, paper1024\n"
            "  --kimg K        train until K thousand images have been shown (default 25000)\n"
            "  --tick K        print progress every K kimg (default 4)\n"
            "  --snap N        snapshot (fakes grid and checkpoint) every N ticks (default 50)\n"
            "  --batch N       total batch size (default: the config's)\n"
            "  --gamma G       R1 weight (default: the config's)\n"
            "  --seed S        random seed (default 0)\n"
            "  --mirror 0|1    also train on x-flipped images (default 0)\n"
            "  --resume FILE   continue a run from its checkpoint (everything restored); with --data naming\n"
            "                  another dataset, or FILE a generator or imported model: a new run starting\n"
            "                  from FILE's weights (counters, optimizers and p fresh; see docs/transfer.md)\n"
            "  --grid N        the snapshot grids are N x N images (default 8)\n"
            "  --metrics LIST  swd (default) or none: measured at every snapshot into metric-swd.jsonl\n"
            "  --metric-data PATH  the real images SWD compares with (default: --data)\n"
            "  --metric-num N  that many reals and as many fakes (default: min(1000, all))\n"
            "  --threads N     CPU threads (default: all cores)\n"
            "  --device DEV    cpu (default), cuda or cuda:N: where the networks train\n"
            "  --freezed K     FreezeD: keep D's first K layers (from the input) fixed (default 0)\n"
            "  --aug MODE      ada (default): adaptive augmentation; fixed: at --p; noaug\n"
            "  --p P           the fixed p, or ADA's starting p (default 0)\n"
            "  --target T      ADA's target for the sign of D on reals (default 0.6)\n"
            "  --ada-kimg K    ADA's speed: p can move by 1 in K kimg (default 500)\n"
            "  --augpipe NAME  blit, geom, color, filter, noise, cutout, bg, bgc (default), bgcf, bgcfn, bgcfnc\n");
}

/* A non-negative number flag into a double (dne_parse_float reads floats). */
static int parse_amount(const char *text, const char *flag, double min, double *out, gan_error *err) {
    float v;
    if (dne_parse_float(text, flag, min, HUGE_VAL, &v, err) != 0) return -1;
    *out = v;
    return 0;
}

/* The flags that set up a new run; a continued run keeps its checkpoint's. */
#define NEW_RUN_ONLY "FAPRKE"

/* --arch biggan, or a BigGAN checkpoint to resume: the BigGAN trainer. */
static int wants_biggan(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--arch=biggan") == 0) return 1;
        if (i + 1 < argc && strcmp(argv[i], "--arch") == 0 && strcmp(argv[i + 1], "biggan") == 0) return 1;
        if (i + 1 < argc && strcmp(argv[i], "--resume") == 0 && bg_file_is_biggan(argv[i + 1])) return 1;
    }
    return 0;
}

int dne_train(int argc, char **argv) {
    if (wants_biggan(argc, argv)) return dne_train_biggan(argc, argv);
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'},   {"outdir", required_argument, 0, 'o'},
        {"cfg", required_argument, 0, 'c'},    {"kimg", required_argument, 0, 'k'},
        {"tick", required_argument, 0, 't'},   {"snap", required_argument, 0, 's'},
        {"batch", required_argument, 0, 'b'},  {"gamma", required_argument, 0, 'g'},
        {"seed", required_argument, 0, 'S'},   {"mirror", required_argument, 0, 'm'},
        {"resume", required_argument, 0, 'r'}, {"grid", required_argument, 0, 'G'},
        {"threads", required_argument, 0, 'T'}, {"metrics", required_argument, 0, 'M'},
        {"metric-data", required_argument, 0, 'D'}, {"metric-num", required_argument, 0, 'N'},
        {"device", required_argument, 0, 'V'},   {"freezed", required_argument, 0, 'F'},
        {"aug", required_argument, 0, 'A'},      {"p", required_argument, 0, 'P'},
        {"target", required_argument, 0, 'R'},   {"ada-kimg", required_argument, 0, 'K'},
        {"augpipe", required_argument, 0, 'E'},  {"arch", required_argument, 0, 'a'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    run_config rc = {.outdir = "training-runs", .cfg = "auto", .kimg = 25000, .tick_kimg = 4, .snap = 50,
                     .gamma = -1, .grid = 8, .swd = 1, .augment = TRAIN_AUGMENT_ADA, .augpipe = "bgc",
                     .ada_target = 0.6f, .ada_kimg = 500};
    gan_error err = {{0}};
    long v;
    int c, status = 0, kimg_given = 0;
    opterr = 0;
    while (status == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': rc.data = optarg; break;
        case 'o': rc.outdir = optarg; break;
        case 'c': rc.cfg = optarg; break;
        case 'k': status = parse_amount(optarg, "--kimg", 0, &rc.kimg, &err), kimg_given = 1; break;
        case 't': status = parse_amount(optarg, "--tick", 0.001, &rc.tick_kimg, &err); break;
        case 's': status = dne_parse_long(optarg, "--snap", 1, 1000000, &v, &err), rc.snap = (int)v; break;
        case 'b': status = dne_parse_long(optarg, "--batch", 1, 4096, &v, &err), rc.batch = (int)v; break;
        case 'g': status = parse_amount(optarg, "--gamma", 0, &rc.gamma, &err); break;
        case 'S': status = dne_parse_long(optarg, "--seed", 0, 0xffffffffL, &v, &err), rc.seed = (unsigned long)v; break;
        case 'm': status = dne_parse_long(optarg, "--mirror", 0, 1, &v, &err), rc.mirror = (int)v; break;
        case 'r': rc.resume = optarg; break;
        case 'G': status = dne_parse_long(optarg, "--grid", 1, 64, &v, &err), rc.grid = (int)v; break;
        case 'T': status = dne_parse_long(optarg, "--threads", 1, 1024, &v, &err), rc.threads = (int)v; break;
        case 'M':
            if (strcmp(optarg, "swd") == 0) rc.swd = 1;
            else if (strcmp(optarg, "none") == 0) rc.swd = 0;
            else status = gan_fail(&err, "unknown --metrics '%s' (swd or none)", optarg);
            break;
        case 'D': rc.metric_data = optarg; break;
        case 'N': status = dne_parse_long(optarg, "--metric-num", 1, 1000000, &v, &err), rc.metric_num = (int)v; break;
        case 'V': status = gan_device_parse(optarg, &rc.device, &err); break;
        case 'F': status = dne_parse_long(optarg, "--freezed", 0, 1000, &v, &err), rc.freeze_d = (int)v; break;
        case 'A': status = train_augment_parse(optarg, &rc.augment, &err); break;
        case 'P': status = dne_parse_float(optarg, "--p", 0, 1, &rc.augment_p, &err); break;
        case 'R': status = dne_parse_float(optarg, "--target", 0, 1, &rc.ada_target, &err); break;
        case 'K': status = dne_parse_float(optarg, "--ada-kimg", 0.001f, HUGE_VAL, &rc.ada_kimg, &err); break;
        case 'E': rc.augpipe = optarg; break;
        case 'a':
            if (strcmp(optarg, "stylegan2") != 0) status = gan_fail(&err, "bad --arch '%s': stylegan2 or biggan", optarg);
            break;
        case 'h': usage(stdout); return 0;
        default: status = gan_fail(&err, "unknown or incomplete option '%s' (see dne train --help)", argv[optind - 1]);
        }
        for (int i = 0; strchr(NEW_RUN_ONLY, c) && longopts[i].name; i++)
            if (longopts[i].val == c) rc.new_run_flag = longopts[i].name;
    }
    if (status == 0 && optind < argc) status = gan_fail(&err, "unexpected argument '%s'", argv[optind]);
    if (status == 0 && !rc.data && !rc.resume) status = gan_fail(&err, "--data is required (or --resume)");
    if (status == 0 && rc.augpipe && strlen(rc.augpipe) >= sizeof ((train_options *)0)->augpipe)
        status = gan_fail(&err, "--augpipe '%s': no such pipeline", rc.augpipe);
    if (status != 0) return dne_error("train", DNE_EXIT_USAGE, &err);
    if (rc.resume && !kimg_given) rc.kimg = 0; /* the checkpoint's target */
    if (train_run(&rc, &err) != 0) return dne_error("train", DNE_EXIT_FAILURE, &err);
    return 0;
}
