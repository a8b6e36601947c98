/* The tapes of BigGAN's forward passes: per block, the intermediate tensors
 * the backward pass reads. Internal to gan/models/biggan*.c. */
#ifndef GAN_MODELS_BIGGAN_TAPE_H
#define GAN_MODELS_BIGGAN_TAPE_H

#include "biggan_layers.h"

typedef struct bg_gblock_tape {
    const gan_tensor *x, *cond;
    bg_bn_tape bn1, bn2;
    bg_layer_tape conv1, conv2, conv_sc;
    gan_tensor *act1, *up1, *x_up, *conv1_out, *act2; /* relu(bn1), its up-sampling, up(x), conv1, relu(bn2) */
    gan_tensor *out;                                   /* conv2 + shortcut */
    bg_attention_tape attention;
    gan_tensor *attention_out;
} bg_gblock_tape;

struct bg_tape {
    const gan_tensor *z, *y_emb;
    gan_tensor *z0, *conds[BG_MAX_BLOCKS];
    bg_layer_tape linear;
    gan_tensor *h0;
    bg_gblock_tape blocks[BG_MAX_BLOCKS];
    bg_bn_tape out_bn;
    gan_tensor *out_act; /* relu(out_bn) */
    bg_layer_tape out_conv;
};

typedef struct bg_dblock_tape {
    const gan_tensor *x;
    gan_tensor *pre;       /* relu(x), pre-activation blocks */
    gan_tensor *x_pooled;  /* avgpool(x), the first block's shortcut */
    bg_layer_tape conv1, conv2, conv_sc;
    gan_tensor *act1;      /* relu(conv1) */
    gan_tensor *out;
    bg_attention_tape attention;
    gan_tensor *attention_out;
} bg_dblock_tape;

struct bgd_tape {
    const gan_tensor *labels;
    bg_dblock_tape blocks[BG_MAX_BLOCKS];
    gan_tensor *features; /* relu of the last block's output */
    gan_tensor *pooled;   /* [N, C] */
    bg_layer_tape linear;
    gan_tensor *table, *embedded; /* the normalised class embedding and labels . table */
    gan_sn_state table_sn;
};

#endif
