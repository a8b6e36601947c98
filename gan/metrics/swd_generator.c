#include "swd_generator.h"

#include <stdlib.h>
#include <string.h>

#include "../io/tensor_image.h"
#include "../rng.h"

typedef struct sampler {
    gan_ctx *ctx;
    const sg2_generator *g;
    const gan_swd_sampling *s;
    float *z, *labels, *pixels;
    uint64_t *noise_seeds;
    uint8_t *images;
} sampler;

/* generate.py's z for a seed: RandomState(seed).randn(z_dim) in float64,
 * then float32. */
static void seed_to_z(uint32_t seed, int z_dim, double *row, float *z) {
    gan_randomstate rs;
    gan_randomstate_seed(&rs, seed);
    gan_randomstate_randn(&rs, row, (size_t)z_dim);
    for (int j = 0; j < z_dim; j++) z[j] = (float)row[j];
}

/* Samples first .. first + count - 1 into s->images. */
static int sample_batch(sampler *s, int first, int count, double *row, gan_error *err) {
    const sg2_config *cfg = &s->g->cfg;
    for (int i = 0; i < count; i++) {
        uint32_t seed = s->s->first_seed + (uint32_t)(first + i);
        seed_to_z(seed, cfg->z_dim, row, s->z + (size_t)i * cfg->z_dim);
        s->noise_seeds[i] = seed;
    }
    gan_ctx *ctx = s->ctx;
    gan_tensor *z = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->z_dim}, s->z);
    gan_tensor *c = NULL;
    if (cfg->c_dim > 0) {
        memset(s->labels, 0, (size_t)count * cfg->c_dim * sizeof(float));
        for (int i = 0; i < count; i++) s->labels[(size_t)i * cfg->c_dim + (first + i) % cfg->c_dim] = 1.0f;
        c = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->c_dim}, s->labels);
    }
    gan_tensor *ws = sg2_mapping(ctx, s->g, z, c, s->s->psi, 0);
    gan_tensor *img = sg2_synthesis(ctx, s->g, ws, s->s->noise_mode, s->noise_seeds);
    if (img) gan_tensor_download(ctx, img, s->pixels);
    gan_tensor_free(ctx, z);
    gan_tensor_free(ctx, c);
    gan_tensor_free(ctx, ws);
    gan_tensor_free(ctx, img);
    if (gan_ctx_failed(ctx)) return gan_ctx_take_error(ctx, err);
    size_t n = (size_t)count * cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
    gan_levels_from_float(s->pixels, n, s->images);
    return 0;
}

static int check_shapes(const sg2_generator *g, const gan_swd_sampling *sampling, const gan_swd *swd,
                        gan_error *err) {
    if (g->cfg.img_resolution != gan_swd_resolution(swd) || g->cfg.img_channels != gan_swd_channels(swd))
        return gan_fail(err, "the generator makes %d px images with %d channels, the reals are %d px with %d",
                        g->cfg.img_resolution, g->cfg.img_channels, gan_swd_resolution(swd), gan_swd_channels(swd));
    if (sampling->batch < 1) return gan_fail(err, "SWD sampling: batch %d", sampling->batch);
    if (gan_swd_num_reals(swd) < 1) return gan_fail(err, "SWD: no real images");
    return 0;
}

int gan_swd_of_generator(gan_ctx *ctx, const sg2_generator *g, const gan_swd_sampling *sampling, gan_swd *swd,
                         gan_swd_result *out, gan_error *err) {
    if (check_shapes(g, sampling, swd, err) != 0) return -1;
    const sg2_config *cfg = &g->cfg;
    size_t batch = (size_t)sampling->batch;
    size_t pixels = (size_t)cfg->img_channels * cfg->img_resolution * cfg->img_resolution;
    sampler s = {.ctx = ctx, .g = g, .s = sampling};
    s.z = malloc(batch * cfg->z_dim * sizeof(float));
    s.labels = malloc(batch * (cfg->c_dim + 1) * sizeof(float));
    s.pixels = malloc(batch * pixels * sizeof(float));
    s.noise_seeds = malloc(batch * sizeof(uint64_t));
    s.images = malloc(batch * pixels);
    double *row = malloc((size_t)cfg->z_dim * sizeof *row);
    int missing = !s.z || !s.labels || !s.pixels || !s.noise_seeds || !s.images || !row;
    int rc = missing ? gan_fail(err, "out of memory") : 0;
    gan_swd_clear_fakes(swd);
    int total = gan_swd_num_reals(swd);
    for (int i = 0; rc == 0 && i < total; i += (int)batch) {
        int n = total - i < (int)batch ? total - i : (int)batch;
        rc = sample_batch(&s, i, n, row, err);
        if (rc == 0) rc = gan_swd_add_fakes(swd, s.images, n, err);
    }
    if (rc == 0) rc = gan_swd_compute(swd, out, err);
    free(s.z);
    free(s.labels);
    free(s.pixels);
    free(s.noise_seeds);
    free(s.images);
    free(row);
    return rc;
}
