/* dne generate for BigGAN networks: for each seed a z from NumPy's
 * RandomState(seed), truncated by redrawing the entries beyond the threshold
 * (the BigGAN paper's truncation trick), and the class's row of the shared
 * embedding, through the generator in evaluation mode (the stored batch-norm
 * statistics: running averages, or standing statistics if the file holds
 * them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gan/io/file.h"
#include "gan/io/tensor_image.h"
#include "gan/models/biggan.h"
#include "gan/ops.h"
#include "generate.h"
#include "latents.h"

/* One image: a seed and a class. */
typedef struct bg_job {
    uint32_t seed;
    int class_id, row, col;
} bg_job;

typedef struct bg_run {
    const generate_options *o;
    gan_ctx *ctx;
    const bg_generator *g;
    bg_job *jobs;
    int count, grid_cols;
    gan_image grid;
} bg_run;

static int check_options(const generate_options *o, const bg_config *cfg, gan_error *err) {
    if (o->ws_path || o->save_ws_path || o->cutoff)
        return gan_fail(err, "--ws, --save-ws and --trunc-cutoff are for StyleGAN2; a BigGAN network has no w");
    if (o->psi_given && !(o->psi > 0)) return gan_fail(err, "--trunc for BigGAN is a threshold > 0, got %g", o->psi);
    if (!o->grid_classes && o->class_index < 0)
        return gan_fail(err, "--class is required: the network has %d classes (0 to %d); or use --grid classes",
                        cfg->n_classes, cfg->n_classes - 1);
    if (o->class_index >= cfg->n_classes)
        return gan_fail(err, "--class %ld is out of range: the network has classes 0 to %d", o->class_index,
                        cfg->n_classes - 1);
    return 0;
}

/* The images in order: every seed of --class, or with --grid classes every
 * class (rows) for every seed (columns). */
static int plan_jobs(bg_run *run, const uint32_t *seeds, int count, gan_error *err) {
    const generate_options *o = run->o;
    int classes = o->grid_classes ? run->g->cfg.n_classes : 1;
    if ((int64_t)classes * count > MAX_SEEDS) return gan_fail(err, "%d classes x %d seeds is too many images", classes, count);
    run->count = classes * count;
    run->jobs = malloc((size_t)run->count * sizeof *run->jobs);
    if (!run->jobs) return gan_fail(err, "out of memory");
    for (int c = 0; c < classes; c++)
        for (int s = 0; s < count; s++)
            run->jobs[c * count + s] = (bg_job){seeds[s], o->grid_classes ? c : (int)o->class_index, c, s};
    if (o->grid_cols && run->count > o->grid_cols * o->grid_rows)
        return gan_fail(err, "--grid %dx%d has %d cells for %d images", o->grid_cols, o->grid_rows,
                        o->grid_cols * o->grid_rows, run->count);
    run->grid_cols = o->grid_classes ? count : o->grid_cols;
    if (!run->grid_cols) return 0;
    int r = run->g->cfg.resolution, rows = o->grid_classes ? classes : o->grid_rows;
    return gan_image_alloc(&run->grid, run->grid_cols * r, rows * r, 3, err);
}

static int write_image(bg_run *run, int index, const float *chw, gan_error *err) {
    const bg_job *job = &run->jobs[index];
    int r = run->g->cfg.resolution;
    const char *ext = run->o->format == GAN_IMAGE_WEBP ? "webp" : "png";
    char path[4096];
    if (run->o->grid_classes)
        snprintf(path, sizeof path, "%s/class%03d-seed%04u.%s", run->o->outdir, job->class_id, job->seed, ext);
    else
        snprintf(path, sizeof path, "%s/seed%04u.%s", run->o->outdir, job->seed, ext);
    gan_image img;
    if (gan_image_from_chw(chw, 3, r, r, &img, err) != 0) return -1;
    int rc = gan_image_save(path, &img, run->o->format, run->o->quality, err);
    gan_image_free(&img);
    int cell_x = run->o->grid_classes ? job->col : index % (run->grid_cols ? run->grid_cols : 1);
    int cell_y = run->o->grid_classes ? job->row : index / (run->grid_cols ? run->grid_cols : 1);
    if (rc == 0 && run->grid.pixels) rc = gan_image_paste_chw(&run->grid, cell_x * r, cell_y * r, chw, 3, r, r, err);
    return rc;
}

/* Images first .. first + count - 1 in one forward pass. */
static int generate_batch(bg_run *run, int first, int count, float *z, int *classes, float *pixels, gan_error *err) {
    const bg_config *cfg = &run->g->cfg;
    float threshold = run->o->psi_given ? run->o->psi : 0;
    for (int i = 0; i < count; i++) {
        dne_seed_to_truncated_z(run->jobs[first + i].seed, cfg->dim_z, threshold, z + (size_t)i * cfg->dim_z);
        classes[i] = run->jobs[first + i].class_id;
    }
    gan_ctx *ctx = run->ctx;
    gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->dim_z}, z);
    gan_tensor *labels = bg_one_hot(ctx, classes, count, cfg->n_classes);
    gan_tensor *y_emb = bg_embed_classes(ctx, run->g, labels);
    gan_tensor *images = bg_forward(ctx, run->g, zt, y_emb, BG_EVAL, NULL);
    if (images) gan_tensor_download(ctx, images, pixels);
    gan_tensor_free(ctx, zt);
    gan_tensor_free(ctx, labels);
    gan_tensor_free(ctx, y_emb);
    gan_tensor_free(ctx, images);
    if (gan_ctx_failed(ctx)) return gan_ctx_take_error(ctx, err);
    size_t per_image = (size_t)3 * cfg->resolution * cfg->resolution;
    for (int i = 0; i < count; i++)
        if (write_image(run, first + i, pixels + i * per_image, err) != 0) return -1;
    return 0;
}

static int run_all(bg_run *run, gan_error *err) {
    const bg_config *cfg = &run->g->cfg;
    size_t batch = (size_t)run->o->batch, r = (size_t)cfg->resolution;
    float *z = malloc(batch * cfg->dim_z * sizeof *z), *pixels = malloc(batch * 3 * r * r * sizeof *pixels);
    int *classes = malloc(batch * sizeof *classes);
    int rc = (!z || !pixels || !classes) ? gan_fail(err, "out of memory") : 0;
    double start = gan_seconds();
    for (int i = 0; rc == 0 && i < run->count; i += (int)batch) {
        int n = run->count - i < (int)batch ? run->count - i : (int)batch;
        rc = generate_batch(run, i, n, z, classes, pixels, err);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/grid.%s", run->o->outdir, run->o->format == GAN_IMAGE_WEBP ? "webp" : "png");
    if (rc == 0 && run->grid.pixels) rc = gan_image_save(path, &run->grid, run->o->format, run->o->quality, err);
    if (rc == 0) {
        double elapsed = gan_seconds() - start;
        fprintf(stderr, "dne generate: %d BigGAN image%s in %.2f s (%.1f ms/image) -> %s\n", run->count,
                run->count == 1 ? "" : "s", elapsed, 1000 * elapsed / run->count, run->o->outdir);
    }
    free(z);
    free(pixels);
    free(classes);
    return rc;
}

int dne_generate_biggan(const generate_options *o, const uint32_t *seeds, int count, gan_ctx *ctx, gan_error *err) {
    bg_generator *g = bg_load(ctx, o->network, "", err);
    bg_run run = {.o = o, .ctx = ctx, .g = g};
    int status = DNE_EXIT_USAGE;
    if (g && check_options(o, &g->cfg, err) == 0 && plan_jobs(&run, seeds, count, err) == 0 &&
        gan_mkdirs(o->outdir, err) == 0) {
        gan_ctx_profile(ctx, o->profile);
        status = run_all(&run, err) == 0 ? 0 : DNE_EXIT_FAILURE;
        if (o->profile) gan_ctx_profile_print(ctx, stderr);
    }
    gan_image_free(&run.grid);
    free(run.jobs);
    bg_free(ctx, g);
    return status;
}
