/* The random inputs of a training step, drawn from Philox streams named by
 * (run seed, step index, purpose): a step's draws depend on nothing else, so
 * a resumed run draws exactly what an uninterrupted one would have. */
#ifndef DNE_TRAIN_DRAWS_H
#define DNE_TRAIN_DRAWS_H

#include "trainer.h"

typedef struct draw_storage {
    gan_tensor *gen_z[3], *mix_z[3], *noise[3][2 * SG2_MAX_BLOCKS], *pl_noise;
    int layers;
} draw_storage;

int draws_make(gan_ctx *ctx, const sg2_generator *g, const train_options *o, uint64_t seed, int64_t step,
               step_draws *draws, draw_storage *storage);
void draws_free(gan_ctx *ctx, draw_storage *storage);

/* A stream id for (seed, step, purpose), for other per-step draws (minibatch
 * order, x-flips). */
uint64_t draws_stream(uint64_t seed, int64_t step, uint32_t purpose);
/* A tensor of N(0, 1) draws from Philox stream `stream`. */
gan_tensor *draws_normal(gan_ctx *ctx, int ndim, const int64_t *shape, uint64_t stream);

#endif
