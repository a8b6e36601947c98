/* The generator's training passes: mapping and synthesis forward with a tape
 * of the activations, and their backward passes into parameter gradients and
 * the gradient with respect to the w vectors. Inference (stylegan2.c) frees
 * activations as it goes and runs one image at a time on the CPU; training
 * keeps them and runs the whole minibatch at once. Noise is always per image
 * (the reference trains with noise_mode 'random'); callers may supply it. */
#ifndef GAN_MODELS_STYLEGAN2_TRAIN_H
#define GAN_MODELS_STYLEGAN2_TRAIN_H

#include "stylegan2.h"

/* One synthesis or ToRGB layer's saved activations. `input` is borrowed
 * (the previous layer's output or the block's constant input). */
typedef struct sg2_layer_tape {
    const gan_tensor *input;
    gan_tensor *w;      /* [N, w_dim]: the w row this layer read */
    gan_tensor *styles; /* [N, in]: affine(w), ToRGB's gain included */
    gan_tensor *output; /* after bias_act */
    gan_tensor *noise;  /* [N, 1, r, r] (NULL for ToRGB) */
    const gan_tensor *mask; /* the output whose activation pattern the layer used: its own, or a masks tape's */
} sg2_layer_tape;

typedef struct sg2_block_tape {
    gan_tensor *const_input; /* the first block's repeated constant */
    sg2_layer_tape conv0, conv1, torgb;
} sg2_block_tape;

typedef struct sg2_synthesis_tape {
    int num_blocks;
    sg2_block_tape blocks[SG2_MAX_BLOCKS];
} sg2_synthesis_tape;
void sg2_synthesis_tape_free(gan_ctx *ctx, sg2_synthesis_tape *tape);

/* ws [N, num_ws, w_dim] -> images, keeping the tape. The noise of the k-th
 * noisy layer (conv0/conv1 in forward order) is noise[k] when noise is not
 * NULL ([N, 1, r, r] each), else standard normal draws from Philox stream
 * noise_seed (the whole batch as one stream per layer). */
gan_tensor *sg2_synthesis_train(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *ws,
                                const gan_tensor *const *noise, uint64_t noise_seed, sg2_synthesis_tape *tape);
/* The same with every layer's activation pattern (leaky ReLU slopes and
 * clamps) taken from the outputs of an earlier taped pass `masks`: the
 * network is then smooth in ws, which path length's finite differences need.
 * Its backward pass uses those patterns too. */
gan_tensor *sg2_synthesis_train_masked(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *ws,
                                       const gan_tensor *const *noise, uint64_t noise_seed,
                                       const sg2_synthesis_tape *masks, sg2_synthesis_tape *tape);
/* Number of noisy layers (the length of the noise array above). */
int sg2_noise_layers(const sg2_generator *g);

/* dimages -> parameter gradients added into grads (aligned with g->params;
 * NULL: none) and *dws [N, num_ws, w_dim] (when dws is not NULL). */
int sg2_synthesis_backward(gan_ctx *ctx, const sg2_generator *g, const sg2_synthesis_tape *tape,
                           const gan_tensor *dimages, gan_tensor **grads, gan_tensor **dws);

#define SG2_MAX_MAPPING_LAYERS 64
typedef struct sg2_mapping_tape {
    int layers;
    gan_tensor *normalized;                     /* normalize_2nd_moment(z) */
    gan_tensor *outputs[SG2_MAX_MAPPING_LAYERS]; /* after each FC + lrelu */
} sg2_mapping_tape;
void sg2_mapping_tape_free(gan_ctx *ctx, sg2_mapping_tape *tape);

/* z [N, z_dim] -> w [N, w_dim] (one w per sample, before broadcasting to
 * num_ws rows), unconditional networks only. */
gan_tensor *sg2_mapping_train(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *z, sg2_mapping_tape *tape);
int sg2_mapping_backward(gan_ctx *ctx, const sg2_generator *g, const sg2_mapping_tape *tape, const gan_tensor *dw,
                         gan_tensor **grads);

#endif
