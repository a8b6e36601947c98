#include "swd_biggan.h"

#include <stdlib.h>

#include "../io/tensor_image.h"
#include "../ops.h"
#include "../rng.h"

/* Fakes first .. first + count - 1 as 8-bit CHW images. */
static int sample(gan_ctx *ctx, const bg_generator *g, int class_id, uint32_t first_seed, int first, int count,
                  float *z, int *classes, float *pixels, uint8_t *images, gan_error *err) {
    const bg_config *cfg = &g->cfg;
    for (int i = 0; i < count; i++) {
        gan_randomstate rs;
        gan_randomstate_seed(&rs, first_seed + (uint32_t)(first + i));
        for (int j = 0; j < cfg->dim_z; j++) z[(size_t)i * cfg->dim_z + j] = (float)gan_randomstate_gauss(&rs);
        classes[i] = class_id >= 0 ? class_id : (first + i) % cfg->n_classes;
    }
    gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->dim_z}, z);
    gan_tensor *labels = bg_one_hot(ctx, classes, count, cfg->n_classes);
    gan_tensor *y_emb = bg_embed_classes(ctx, g, labels);
    gan_tensor *img = bg_forward(ctx, g, zt, y_emb, BG_EVAL, NULL);
    if (img) gan_tensor_download(ctx, img, pixels);
    gan_tensor_free(ctx, zt);
    gan_tensor_free(ctx, labels);
    gan_tensor_free(ctx, y_emb);
    gan_tensor_free(ctx, img);
    if (gan_ctx_failed(ctx)) return gan_ctx_take_error(ctx, err);
    gan_levels_from_float(pixels, (size_t)count * 3 * cfg->resolution * cfg->resolution, images);
    return 0;
}

int gan_swd_of_biggan(gan_ctx *ctx, const bg_generator *g, int class_id, uint32_t first_seed, int batch, gan_swd *swd,
                      gan_swd_result *out, gan_error *err) {
    const bg_config *cfg = &g->cfg;
    if (cfg->resolution != gan_swd_resolution(swd) || gan_swd_channels(swd) != 3)
        return gan_fail(err, "the generator makes %d px RGB images, the reals are %d px with %d channels",
                        cfg->resolution, gan_swd_resolution(swd), gan_swd_channels(swd));
    if (batch < 1 || gan_swd_num_reals(swd) < 1) return gan_fail(err, "SWD: no real images or a bad batch");
    if (class_id >= cfg->n_classes) return gan_fail(err, "SWD: class %d of %d", class_id, cfg->n_classes);
    size_t per = (size_t)3 * cfg->resolution * cfg->resolution;
    float *z = malloc((size_t)batch * cfg->dim_z * sizeof *z), *pixels = malloc((size_t)batch * per * sizeof *pixels);
    int *classes = malloc((size_t)batch * sizeof *classes);
    uint8_t *images = malloc((size_t)batch * per);
    int rc = z && pixels && classes && images ? 0 : gan_fail(err, "out of memory");
    gan_swd_clear_fakes(swd);
    int total = gan_swd_num_reals(swd);
    for (int i = 0; rc == 0 && i < total; i += batch) {
        int n = total - i < batch ? total - i : batch;
        rc = sample(ctx, g, class_id, first_seed, i, n, z, classes, pixels, images, err);
        if (rc == 0) rc = gan_swd_add_fakes(swd, images, n, err);
    }
    if (rc == 0) rc = gan_swd_compute(swd, out, err);
    free(z), free(pixels), free(classes), free(images);
    return rc;
}
