#include "latents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/rng.h"

void dne_seed_to_z(uint32_t seed, int z_dim, float *z) {
    double *row = malloc((size_t)z_dim * sizeof *row);
    if (!row) abort(); /* a few KB; nothing sensible to do without them */
    gan_randomstate rs;
    gan_randomstate_seed(&rs, seed);
    gan_randomstate_randn(&rs, row, (size_t)z_dim);
    for (int j = 0; j < z_dim; j++) z[j] = (float)row[j];
    free(row);
}

void dne_seed_to_truncated_z(uint32_t seed, int z_dim, float threshold, float *z) {
    double *row = malloc((size_t)z_dim * sizeof *row);
    if (!row) abort(); /* a few KB; nothing sensible to do without them */
    gan_randomstate rs;
    gan_randomstate_seed(&rs, seed);
    gan_randomstate_truncated_randn(&rs, row, (size_t)z_dim, threshold);
    for (int j = 0; j < z_dim; j++) z[j] = (float)row[j];
    free(row);
}

int dne_map(gan_ctx *ctx, const sg2_generator *g, const float *z, int count, long class_index, float psi, int cutoff,
            float *ws, gan_error *err) {
    const sg2_config *cfg = &g->cfg;
    gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->z_dim}, z);
    gan_tensor *c = NULL;
    if (cfg->c_dim > 0) {
        float *labels = calloc((size_t)count * cfg->c_dim, sizeof *labels);
        if (!labels) return gan_fail(err, "out of memory");
        for (int i = 0; i < count; i++) labels[(size_t)i * cfg->c_dim + class_index] = 1.0f;
        c = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->c_dim}, labels);
        free(labels);
    }
    gan_tensor *wt = sg2_mapping(ctx, g, zt, c, psi, cutoff);
    if (wt) gan_tensor_download(ctx, wt, ws);
    gan_tensor_free(ctx, zt);
    gan_tensor_free(ctx, c);
    gan_tensor_free(ctx, wt);
    return gan_ctx_failed(ctx) ? gan_ctx_take_error(ctx, err) : 0;
}

int dne_synthesize(gan_ctx *ctx, const sg2_generator *g, const float *ws, int count, sg2_noise_mode noise_mode,
                   const uint64_t *noise_seeds, float *images, gan_error *err) {
    gan_tensor *wt = gan_tensor_from_host(ctx, 3, (int64_t[]){count, g->num_ws, g->cfg.w_dim}, ws);
    gan_tensor *img = sg2_synthesis(ctx, g, wt, noise_mode, noise_seeds);
    if (img) gan_tensor_download(ctx, img, images);
    gan_tensor_free(ctx, wt);
    gan_tensor_free(ctx, img);
    return gan_ctx_failed(ctx) ? gan_ctx_take_error(ctx, err) : 0;
}

int dne_check_class(const char *command, long class_index, const sg2_config *cfg, gan_error *err) {
    if (cfg->c_dim == 0) {
        if (class_index >= 0) fprintf(stderr, "dne %s: warning: --class ignored: the network is unconditional\n", command);
        return 0;
    }
    if (class_index < 0)
        return gan_fail(err, "the network is conditional (%d classes): --class is required", cfg->c_dim);
    if (class_index >= cfg->c_dim)
        return gan_fail(err, "--class %ld out of range: the network has %d classes (0 to %d)", class_index, cfg->c_dim,
                        cfg->c_dim - 1);
    return 0;
}

int dne_parse_grid(const char *text, const char *flag, int *cols, int *rows, gan_error *err) {
    int w, h, used = 0;
    if (sscanf(text, "%3dx%3d%n", &w, &h, &used) != 2 || text[used] || w < 1 || h < 1 || w > 256 || h > 256)
        return gan_fail(err, "bad %s '%s': expected WxH such as 4x3 (each 1 to 256)", flag, text);
    *cols = w;
    *rows = h;
    return 0;
}
