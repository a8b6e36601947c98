/* dne mix: the style-mixing figure of the StyleGAN papers, in the conventions
 * of the reference's style_mixing.py. Each row seed's ws get the w layers
 * listed in --styles replaced by the column seed's; truncation is applied to
 * every layer as w_avg + (w - w_avg) psi. Every image is written as
 * {row}-{col}.png (the plain image of a seed s as s-s.png) and grid.png shows
 * the column seeds' plain images across the top, the row seeds' down the left
 * and the mixes in between, on black. */
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
#include "latents.h"

#define MAX_SEEDS 1024

typedef struct mix_options {
    const char *network, *rows_text, *cols_text, *styles_text, *outdir, *device_text;
    float psi;
    long class_index, threads;
    sg2_noise_mode noise_mode;
} mix_options;

typedef struct mix_run {
    const mix_options *o;
    gan_ctx *ctx;
    const sg2_generator *g;
    uint32_t *rows, *cols, *styles;
    int nrows, ncols, nstyles;
    float *row_ws, *col_ws; /* [n][num_ws * w_dim], truncated */
    float *ws, *image;      /* one image's ws and pixels */
    gan_image grid;
} mix_run;

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne mix --network G.safetensors --rows LIST --cols LIST --outdir DIR [options]\n"
            "  --network FILE      generator (safetensors)\n"
            "  --rows LIST         row seeds: 85,100,75 or 0-3\n"
            "  --cols LIST         column seeds\n"
            "  --styles LIST       w layers taken from the column seed (default 0-6: the coarse styles)\n"
            "  --outdir DIR        where {row}-{col}.png and grid.png go (created if missing)\n"
            "  --trunc PSI         truncation psi, on every layer (default 1: none)\n"
            "  --class N           class label for conditional networks\n"
            "  --noise-mode MODE   const (default), random or none\n"
            "  --threads N         CPU threads (default: all cores)\n"
            "  --device DEV        cpu (default), cuda or cuda:N\n");
}

static int parse_flags(int argc, char **argv, mix_options *o, gan_error *err) {
    static const struct option longopts[] = {
        {"network", required_argument, 0, 'n'}, {"rows", required_argument, 0, 'r'},
        {"cols", required_argument, 0, 'c'},    {"styles", required_argument, 0, 's'},
        {"outdir", required_argument, 0, 'o'},  {"trunc", required_argument, 0, 't'},
        {"class", required_argument, 0, 'k'},   {"noise-mode", required_argument, 0, 'm'},
        {"threads", required_argument, 0, 'j'}, {"device", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'n': o->network = optarg; break;
        case 'r': o->rows_text = optarg; break;
        case 'c': o->cols_text = optarg; break;
        case 's': o->styles_text = optarg; break;
        case 'o': o->outdir = optarg; break;
        case 't': rc = dne_parse_float(optarg, "--trunc", -100, 100, &o->psi, err); break;
        case 'k': rc = dne_parse_long(optarg, "--class", 0, 1 << 20, &o->class_index, err); break;
        case 'm': rc = sg2_noise_mode_parse(optarg, &o->noise_mode, err); break;
        case 'j': rc = dne_parse_long(optarg, "--threads", 0, 1024, &o->threads, err); break;
        case 'd': o->device_text = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: return gan_fail(err, "unknown or incomplete option '%s' (see dne mix --help)", argv[optind - 1]);
        }
        if (rc != 0) return rc;
    }
    if (optind < argc) return gan_fail(err, "unexpected argument '%s'", argv[optind]);
    if (!o->network) return gan_fail(err, "--network is required");
    if (!o->rows_text) return gan_fail(err, "--rows is required");
    if (!o->cols_text) return gan_fail(err, "--cols is required");
    if (!o->outdir) return gan_fail(err, "--outdir is required");
    return 0;
}

static int parse_lists(const mix_options *o, mix_run *run, gan_error *err) {
    if (dne_parse_list(o->rows_text, "--rows", &run->rows, &run->nrows, MAX_SEEDS, err) != 0 ||
        dne_parse_list(o->cols_text, "--cols", &run->cols, &run->ncols, MAX_SEEDS, err) != 0 ||
        dne_parse_list(o->styles_text, "--styles", &run->styles, &run->nstyles, 4096, err) != 0)
        return -1;
    return 0;
}

static int check_styles(const mix_run *run, gan_error *err) {
    for (int i = 0; i < run->nstyles; i++)
        if (run->styles[i] >= (uint32_t)run->g->num_ws)
            return gan_fail(err, "--styles %u out of range: the network has %d w layers (0 to %d)", run->styles[i],
                            run->g->num_ws, run->g->num_ws - 1);
    return 0;
}

/* ws of each seed as style_mixing.py computes them: the mapping without
 * truncation, then w_avg + (w - w_avg) * psi on every layer. */
static int map_seeds(mix_run *run, const uint32_t *seeds, int count, float *ws, gan_error *err) {
    const sg2_generator *g = run->g;
    size_t w_dim = (size_t)g->cfg.w_dim, size = (size_t)g->num_ws * w_dim;
    float *z = malloc((size_t)g->cfg.z_dim * sizeof *z), *w_avg = malloc(w_dim * sizeof *w_avg);
    int rc = z && w_avg ? 0 : gan_fail(err, "out of memory");
    if (rc == 0 && gan_tensor_download(run->ctx, g->w_avg, w_avg) != 0) rc = gan_ctx_take_error(run->ctx, err);
    for (int i = 0; rc == 0 && i < count; i++) {
        float *w = ws + i * size;
        dne_seed_to_z(seeds[i], g->cfg.z_dim, z);
        rc = dne_map(run->ctx, g, z, 1, run->o->class_index, 1.0f, 0, w, err);
        for (size_t j = 0; rc == 0 && j < size; j++) w[j] = w_avg[j % w_dim] + (w[j] - w_avg[j % w_dim]) * run->o->psi;
    }
    free(z);
    free(w_avg);
    return rc;
}

/* Renders ws, writes {row}-{col}.png and pastes the image into grid cell (x, y). */
static int render_cell(mix_run *run, const float *ws, uint32_t row, uint32_t col, int x, int y, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    int r = cfg->img_resolution;
    uint64_t noise_seed = row;
    if (dne_synthesize(run->ctx, run->g, ws, 1, run->o->noise_mode, &noise_seed, run->image, err) != 0) return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%u-%u.png", run->o->outdir, row, col);
    gan_image img;
    if (gan_image_from_chw(run->image, cfg->img_channels, r, r, &img, err) != 0) return -1;
    int rc = gan_image_save(path, &img, GAN_IMAGE_PNG, 0, err);
    gan_image_free(&img);
    if (rc == 0 && (x > 0 || y > 0)) rc = gan_image_paste_chw(&run->grid, x * r, y * r, run->image, cfg->img_channels, r, r, err);
    return rc;
}

static int render_all(mix_run *run, gan_error *err) {
    size_t size = (size_t)run->g->num_ws * run->g->cfg.w_dim;
    for (int j = 0; j < run->ncols; j++)
        if (render_cell(run, run->col_ws + j * size, run->cols[j], run->cols[j], j + 1, 0, err) != 0) return -1;
    for (int i = 0; i < run->nrows; i++) {
        const float *row_ws = run->row_ws + i * size;
        if (render_cell(run, row_ws, run->rows[i], run->rows[i], 0, i + 1, err) != 0) return -1;
        for (int j = 0; j < run->ncols; j++) {
            memcpy(run->ws, row_ws, size * sizeof(float));
            for (int s = 0; s < run->nstyles; s++) {
                size_t layer = (size_t)run->styles[s] * run->g->cfg.w_dim;
                memcpy(run->ws + layer, run->col_ws + j * size + layer, run->g->cfg.w_dim * sizeof(float));
            }
            if (render_cell(run, run->ws, run->rows[i], run->cols[j], j + 1, i + 1, err) != 0) return -1;
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/grid.png", run->o->outdir);
    return gan_image_save(path, &run->grid, GAN_IMAGE_PNG, 0, err);
}

static int run_mix(mix_run *run, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    size_t size = (size_t)run->g->num_ws * cfg->w_dim, r = (size_t)cfg->img_resolution;
    if (check_styles(run, err) != 0 || dne_check_class("mix", run->o->class_index, cfg, err) != 0) return DNE_EXIT_USAGE;
    if (gan_mkdirs(run->o->outdir, err) != 0) return DNE_EXIT_FAILURE;
    run->row_ws = malloc(run->nrows * size * sizeof(float));
    run->col_ws = malloc(run->ncols * size * sizeof(float));
    run->ws = malloc(size * sizeof(float));
    run->image = malloc((size_t)cfg->img_channels * r * r * sizeof(float));
    if (!run->row_ws || !run->col_ws || !run->ws || !run->image) return gan_fail(err, "out of memory"), DNE_EXIT_FAILURE;
    double start = gan_seconds();
    if (gan_image_alloc(&run->grid, (int)r * (run->ncols + 1), (int)r * (run->nrows + 1), 3, err) != 0 ||
        map_seeds(run, run->rows, run->nrows, run->row_ws, err) != 0 ||
        map_seeds(run, run->cols, run->ncols, run->col_ws, err) != 0 || render_all(run, err) != 0)
        return DNE_EXIT_FAILURE;
    fprintf(stderr, "dne mix: %dx%d grid in %.2f s -> %s/grid.png\n", run->ncols, run->nrows, gan_seconds() - start,
            run->o->outdir);
    return 0;
}

int dne_mix(int argc, char **argv) {
    mix_options o = {.psi = 1, .class_index = -1, .device_text = "cpu", .styles_text = "0-6"};
    gan_error err = {{0}};
    mix_run run = {.o = &o};
    gan_device device;
    int status = DNE_EXIT_USAGE;
    if (parse_flags(argc, argv, &o, &err) == 0 && parse_lists(&o, &run, &err) == 0 &&
        gan_device_parse(o.device_text, &device, &err) == 0) {
        run.ctx = gan_ctx_new(device, (int)o.threads, &err);
        sg2_generator *g = run.ctx ? sg2_load(run.ctx, o.network, "", &err) : NULL;
        run.g = g;
        if (g) status = run_mix(&run, &err);
        sg2_free(run.ctx, g);
        gan_ctx_free(run.ctx);
    }
    if (status != 0) dne_error("mix", status, &err);
    free(run.rows);
    free(run.cols);
    free(run.styles);
    free(run.row_ws);
    free(run.col_ws);
    free(run.ws);
    free(run.image);
    gan_image_free(&run.grid);
    return status;
}
