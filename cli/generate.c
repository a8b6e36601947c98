/* dne generate: images from a StyleGAN2 generator for a list of seeds, as the
 * reference's generate.py does it (same z for the same seed, same rounding),
 * so the same weights give the same PNGs. Also: w vectors in and out as NumPy
 * files (--ws, the projector's projected_w.npz; --save-ws), and a contact
 * sheet of all images (--grid). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "gan/io/file.h"
#include "gan/io/npy.h"
#include "gan/io/tensor_image.h"
#include "gan/models/biggan.h"
#include "gan/models/stylegan2.h"
#include "generate.h"
#include "latents.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne generate [--network G.safetensors] (--seeds 0-9 | --ws FILE) --outdir DIR [options]\n"
            "  --network FILE       generator (safetensors with the reference's tensor names, a dne\n"
            "                       checkpoint or a stylegan2-ada-pytorch .pkl); default: the bundled model\n"
            "  --seeds LIST         seeds: 0-9, 0,5,7 or 0,2-4 (z = numpy RandomState(seed).randn)\n"
            "  --ws FILE            instead of seeds: w vectors [N, num_ws, w_dim] from a .npy or .npz (key w,\n"
            "                       as the reference's projector writes projected_w.npz) -> projNN.png\n"
            "  --outdir DIR         where seedNNNN.png files go (created if missing)\n"
            "  --save-ws FILE       also write the images' w vectors [N, num_ws, w_dim] (.npz: key w; else .npy)\n"
            "  --grid WxH           also write grid.png: the images in W columns and H rows, in order\n"
            "  --grid classes       (BigGAN) every class for every seed: classCCC-seedNNNN.png and grid.png\n"
            "                       with one row per class and one column per seed\n"
            "  --trunc PSI          truncation psi (default 1: none); BigGAN: z entries beyond +-PSI are\n"
            "                       redrawn (default: no truncation)\n"
            "  --trunc-cutoff N     truncate only the first N w layers (default: all)\n"
            "  --class N            class label for conditional networks (required for BigGAN unless\n"
            "                       --grid classes)\n"
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
        {"ws", required_argument, 0, 'w'},      {"save-ws", required_argument, 0, 'W'},
        {"grid", required_argument, 0, 'g'},    {"profile", no_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
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
        case 't': rc = dne_parse_float(optarg, "--trunc", -100, 100, &o->psi, err), o->psi_given = 1; break;
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
        case 'w': o->ws_path = optarg; break;
        case 'W': o->save_ws_path = optarg; break;
        case 'g':
            if (strcmp(optarg, "classes") == 0) o->grid_classes = 1;
            else rc = dne_parse_grid(optarg, "--grid", &o->grid_cols, &o->grid_rows, err);
            break;
        case 'P': o->profile = 1; break;
        case 'h': usage(stdout); exit(0);
        default:
            return gan_fail(err, "unknown or incomplete option '%s' (see dne generate --help)", argv[optind - 1]);
        }
        if (rc != 0) return rc;
    }
    if (optind < argc) return gan_fail(err, "unexpected argument '%s'", argv[optind]);
    if (!o->network && dne_default_network(o->default_network, sizeof o->default_network, err) != 0) return -1;
    if (!o->network) o->network = o->default_network;
    if (!o->seeds_text && !o->ws_path) return gan_fail(err, "--seeds or --ws is required");
    if (o->seeds_text && o->ws_path) return gan_fail(err, "give --seeds or --ws, not both");
    if (o->ws_path && (o->psi_given || o->cutoff || o->class_index >= 0))
        return gan_fail(err, "--trunc, --trunc-cutoff and --class do not apply to --ws (its w are used as they are)");
    if (!o->outdir) return gan_fail(err, "--outdir is required");
    return 0;
}

/* What the images come from: seeds, or w vectors read from a file. */
typedef struct generate_run {
    const generate_options *o;
    gan_ctx *ctx;
    const sg2_generator *g;
    const uint32_t *seeds;
    gan_array ws_in;   /* --ws: [count, num_ws, w_dim] */
    gan_array ws_out;  /* --save-ws: filled as images are made */
    gan_image grid;    /* --grid */
    int count;
    float *z, *ws, *pixels;
    uint64_t *noise_seeds;
} generate_run;

static int write_image(generate_run *run, int index, const float *chw, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    int r = cfg->img_resolution, ch = cfg->img_channels;
    const char *ext = run->o->format == GAN_IMAGE_WEBP ? "webp" : "png";
    char path[4096];
    if (run->seeds) snprintf(path, sizeof path, "%s/seed%04u.%s", run->o->outdir, run->seeds[index], ext);
    else snprintf(path, sizeof path, "%s/proj%02d.%s", run->o->outdir, index, ext);
    gan_image img;
    if (gan_image_from_chw(chw, ch, r, r, &img, err) != 0) return -1;
    int rc = gan_image_save(path, &img, run->o->format, run->o->quality, err);
    gan_image_free(&img);
    if (rc == 0 && run->grid.pixels)
        rc = gan_image_paste_chw(&run->grid, index % run->o->grid_cols * r, index / run->o->grid_cols * r, chw, ch, r,
                                 r, err);
    return rc;
}

/* Images first .. first + count - 1. */
static int generate_batch(generate_run *run, int first, int count, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    size_t ws_size = (size_t)run->g->num_ws * cfg->w_dim;
    for (int i = 0; i < count; i++) {
        run->noise_seeds[i] = run->seeds ? run->seeds[first + i] : (uint64_t)(first + i);
        if (run->seeds) dne_seed_to_z(run->seeds[first + i], cfg->z_dim, run->z + (size_t)i * cfg->z_dim);
    }
    const float *ws = run->ws_in.data ? run->ws_in.data + (size_t)first * ws_size : run->ws;
    if (!run->ws_in.data &&
        dne_map(run->ctx, run->g, run->z, count, run->o->class_index, run->o->psi, (int)run->o->cutoff, run->ws, err))
        return -1;
    if (run->ws_out.data) memcpy(run->ws_out.data + (size_t)first * ws_size, ws, count * ws_size * sizeof(float));
    if (dne_synthesize(run->ctx, run->g, ws, count, run->o->noise_mode, run->noise_seeds, run->pixels, err) != 0)
        return -1;
    size_t per_image = (size_t)cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
    for (int i = 0; i < count; i++)
        if (write_image(run, first + i, run->pixels + i * per_image, err) != 0) return -1;
    return 0;
}

static int load_ws(generate_run *run, gan_error *err) {
    if (gan_array_load(run->o->ws_path, "w", &run->ws_in, err) != 0) return -1;
    const gan_array *a = &run->ws_in;
    int num_ws = run->g->num_ws, w_dim = run->g->cfg.w_dim;
    if (a->ndim != 3 || a->shape[1] != num_ws || a->shape[2] != w_dim || a->shape[0] < 1) {
        char shape[GAN_SHAPE_STR_LEN];
        gan_shape_str(a->ndim > GAN_MAX_DIMS ? GAN_MAX_DIMS : a->ndim, a->shape, shape, sizeof shape);
        return gan_fail(err, "%s: w of shape %s, but this network takes [N, %d, %d]", run->o->ws_path, shape, num_ws,
                        w_dim);
    }
    if (a->shape[0] > MAX_SEEDS) return gan_fail(err, "%s: more than %d w vectors", run->o->ws_path, MAX_SEEDS);
    run->count = (int)a->shape[0];
    return 0;
}

/* The checks that need the network and the image count: usage errors. */
static int prepare(generate_run *run, gan_error *err) {
    const generate_options *o = run->o;
    if (o->ws_path ? load_ws(run, err) != 0 : dne_check_class("generate", o->class_index, &run->g->cfg, err) != 0)
        return -1;
    if (o->grid_cols && run->count > o->grid_cols * o->grid_rows)
        return gan_fail(err, "--grid %dx%d has %d cells for %d images", o->grid_cols, o->grid_rows,
                        o->grid_cols * o->grid_rows, run->count);
    return 0;
}

static int finish(generate_run *run, gan_error *err) {
    const generate_options *o = run->o;
    char path[4096];
    snprintf(path, sizeof path, "%s/grid.%s", o->outdir, o->format == GAN_IMAGE_WEBP ? "webp" : "png");
    if (run->grid.pixels && gan_image_save(path, &run->grid, o->format, o->quality, err) != 0) return -1;
    if (run->ws_out.data && gan_array_save(o->save_ws_path, "w", &run->ws_out, err) != 0) return -1;
    return 0;
}

static int run_all(generate_run *run, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    const generate_options *o = run->o;
    size_t batch = (size_t)o->batch, r = (size_t)cfg->img_resolution;
    run->z = malloc(batch * cfg->z_dim * sizeof(float));
    run->ws = malloc(batch * run->g->num_ws * cfg->w_dim * sizeof(float));
    run->pixels = malloc(batch * cfg->img_channels * r * r * sizeof(float));
    run->noise_seeds = malloc(batch * sizeof(uint64_t));
    int rc = (!run->z || !run->ws || !run->pixels || !run->noise_seeds) ? gan_fail(err, "out of memory") : 0;
    if (rc == 0 && o->grid_cols)
        rc = gan_image_alloc(&run->grid, o->grid_cols * (int)r, o->grid_rows * (int)r, cfg->img_channels == 1 ? 1 : 3,
                             err);
    if (rc == 0 && o->save_ws_path)
        rc = gan_array_alloc(&run->ws_out, 3, (int64_t[]){run->count, run->g->num_ws, cfg->w_dim}, err);
    double start = gan_seconds();
    for (int i = 0; rc == 0 && i < run->count; i += (int)batch) {
        int n = run->count - i < (int)batch ? run->count - i : (int)batch;
        rc = generate_batch(run, i, n, err);
    }
    if (rc == 0) rc = finish(run, err);
    if (rc == 0) {
        double elapsed = gan_seconds() - start;
        fprintf(stderr, "dne generate: %d image%s in %.2f s (%.1f ms/image) -> %s\n", run->count,
                run->count == 1 ? "" : "s", elapsed, 1000 * elapsed / run->count, o->outdir);
    }
    free(run->z);
    free(run->ws);
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
    if (parse_options(argc, argv, &o, &err) != 0 ||
        (o.seeds_text && dne_parse_seeds(o.seeds_text, &seeds, &count, MAX_SEEDS, &err) != 0) ||
        gan_device_parse(o.device_text, &device, &err) != 0) {
        free(seeds);
        return dne_error("generate", DNE_EXIT_USAGE, &err);
    }
    int status = DNE_EXIT_USAGE;
    gan_ctx *ctx = gan_ctx_new(device, (int)o.threads, &err);
    if (ctx && bg_file_is_biggan(o.network)) {
        status = dne_generate_biggan(&o, seeds, count, ctx, &err);
        if (status != 0) dne_error("generate", status, &err);
        gan_ctx_free(ctx);
        free(seeds);
        return status;
    }
    if (ctx && o.grid_classes) gan_fail(&err, "--grid classes is for BigGAN networks; use --grid WxH");
    sg2_generator *g = ctx && !o.grid_classes ? sg2_load(ctx, o.network, "", &err) : NULL;
    generate_run run = {.o = &o, .ctx = ctx, .g = g, .seeds = seeds, .count = count};
    if (g && prepare(&run, &err) == 0 && gan_mkdirs(o.outdir, &err) == 0) {
        gan_ctx_profile(ctx, o.profile);
        status = run_all(&run, &err) == 0 ? 0 : DNE_EXIT_FAILURE;
        if (o.profile) gan_ctx_profile_print(ctx, stderr);
    }
    if (status != 0) dne_error("generate", status, &err);
    gan_array_free(&run.ws_in);
    gan_array_free(&run.ws_out);
    gan_image_free(&run.grid);
    sg2_free(ctx, g);
    gan_ctx_free(ctx);
    free(seeds);
    return status;
}
