#include "draws.h"

#include <stdlib.h>
#include <string.h>

#include "gan/ops.h"
#include "gan/rng.h"

enum { PURPOSE_Z = 1, PURPOSE_MIX_Z = 2, PURPOSE_MIX = 3, PURPOSE_NOISE = 4, PURPOSE_PL = 5, PURPOSE_AUGMENT = 6 };

/* splitmix64's finaliser: a well-mixed 64-bit id from the three inputs. */
uint64_t draws_stream(uint64_t seed, int64_t step, uint32_t purpose) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)step * 0xD1B54A32D192ED03ull ^ (uint64_t)purpose << 56;
    x ^= x >> 30, x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27, x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

gan_tensor *draws_normal(gan_ctx *ctx, int ndim, const int64_t *shape, uint64_t stream) {
    gan_tensor *t = gan_tensor_new(ctx, ndim, shape);
    float *host = t ? malloc((size_t)t->numel * sizeof *host) : NULL;
    if (t && !host) gan_ctx_fail(ctx, "out of memory");
    if (host) {
        gan_philox_normal(stream, 0, host, (size_t)t->numel);
        gan_tensor_upload(ctx, t, host);
    }
    free(host);
    return t;
}

/* Phase p (0 Gmain, 1 Greg, 2 Dmain) of n images. */
static run_draws phase(gan_ctx *ctx, const sg2_generator *g, uint64_t seed, int64_t step, int p, int64_t n,
                       draw_storage *s) {
    uint64_t tag = (uint64_t)p << 8;
    s->gen_z[p] = draws_normal(ctx, 2, (int64_t[]){n, g->cfg.z_dim}, draws_stream(seed, step, PURPOSE_Z | tag));
    s->mix_z[p] = draws_normal(ctx, 2, (int64_t[]){n, g->cfg.z_dim}, draws_stream(seed, step, PURPOSE_MIX_Z | tag));
    int k = 0;
    for (int b = 0; b < g->num_blocks; b++)
        for (int c = g->blocks[b].in_channels == 0 ? 1 : 0; c < 2; c++, k++) {
            int64_t r = g->blocks[b].resolution;
            s->noise[p][k] = draws_normal(ctx, 4, (int64_t[]){n, 1, r, r},
                                    draws_stream(seed, step, PURPOSE_NOISE | tag | (uint32_t)k << 16));
        }
    s->layers = k;
    float u[2];
    gan_philox_uniform(draws_stream(seed, step, PURPOSE_MIX | tag), 0, u, 2);
    int cutoff = 1 + (int)(u[1] * (float)(g->num_ws - 1)); /* uniform in [1, num_ws) */
    if (cutoff >= g->num_ws) cutoff = g->num_ws - 1;
    return (run_draws){s->gen_z[p], s->mix_z[p], u[0], cutoff, (const gan_tensor *const *)s->noise[p]};
}

int draws_make(gan_ctx *ctx, const sg2_generator *g, const train_options *o, uint64_t seed, int64_t step,
               step_draws *d, draw_storage *s) {
    memset(s, 0, sizeof *s);
    int64_t n = o->batch, pl_n = o->batch / o->pl_batch_shrink;
    if (pl_n < 1) pl_n = 1;
    d->gmain = phase(ctx, g, seed, step, 0, n, s);
    d->greg = phase(ctx, g, seed, step, 1, pl_n, s);
    d->dmain = phase(ctx, g, seed, step, 2, n, s);
    int64_t r = g->cfg.img_resolution;
    d->pl_noise = s->pl_noise =
        draws_normal(ctx, 4, (int64_t[]){pl_n, g->cfg.img_channels, r, r}, draws_stream(seed, step, PURPOSE_PL));
    d->augment_seed = draws_stream(seed, step, PURPOSE_AUGMENT);
    if (ctx->failed) {
        draws_free(ctx, s);
        return -1;
    }
    return 0;
}

void draws_free(gan_ctx *ctx, draw_storage *s) {
    for (int p = 0; p < 3; p++) {
        gan_tensor_free(ctx, s->gen_z[p]), gan_tensor_free(ctx, s->mix_z[p]);
        for (int k = 0; k < s->layers; k++) gan_tensor_free(ctx, s->noise[p][k]);
    }
    gan_tensor_free(ctx, s->pl_noise);
    memset(s, 0, sizeof *s);
}
