/* The StyleGAN2 discriminator of NVlabs/stylegan2-ada-pytorch ('resnet'
 * architecture, fp32, unconditional): fromrgb, residual blocks that halve the
 * resolution down to 4x4, then minibatch standard deviation, a 3x3 conv and
 * two fully connected layers giving one logit per image. Tensor names and
 * shapes are those of the reference's D.state_dict().
 * ../shared/design/stylegan2.md section 2 is the spec. */
#ifndef GAN_MODELS_STYLEGAN2_DISCRIMINATOR_H
#define GAN_MODELS_STYLEGAN2_DISCRIMINATOR_H

#include "../ops.h"
#include "stylegan2.h"

typedef struct sg2d_config {
    int img_resolution, img_channels;
    int channel_base, channel_max;
    float conv_clamp; /* negative: none */
    int mbstd_group_size, mbstd_num_channels;
} sg2d_config;

/* The discriminator that trains beside generator config g (same resolution,
 * channels and clamp), with the minibatch-stddev group of the training config. */
sg2d_config sg2d_config_for(const sg2_config *g, int mbstd_group_size);
int sg2d_config_parse(const char *json, sg2d_config *cfg, gan_error *err);
char *sg2d_config_to_json(const sg2d_config *cfg);

/* Conv2dLayer: weight [out, in, k, k] scaled by 1/sqrt(in k^2); down = 2
 * filters with the [1,3,3,1] FIR first (pad 2 for 3x3, pad 1 + stride 2 for
 * 1x1, as conv2d_resample does). */
typedef struct sg2d_conv {
    int in_channels, out_channels, kernel, down;
    gan_tensor *weight, *bias, *resample_filter; /* bias NULL for skip */
    gan_bias_act_args act;                       /* linear with gain for skip */
} sg2d_conv;

typedef struct sg2d_block {
    int resolution, tmp_channels, out_channels, first;
    gan_tensor *resample_filter;
    sg2d_conv fromrgb, conv0, conv1, skip; /* fromrgb only in the first block */
} sg2d_block;

typedef struct sg2d_fc {
    int in_features, out_features;
    gan_tensor *weight, *bias;
    gan_bias_act_args act;
} sg2d_fc;

typedef struct sg2_discriminator {
    sg2d_config cfg;
    int num_blocks;
    sg2d_block blocks[SG2_MAX_BLOCKS];
    sg2d_conv epilogue_conv;
    sg2d_fc fc, out;
    gan_params params; /* in state_dict order */
} sg2_discriminator;

sg2_discriminator *sg2d_create(gan_ctx *ctx, const sg2d_config *cfg, gan_error *err);
/* Reads a discriminator from an open safetensors file: the config JSON from
 * __metadata__[config_key], the tensors "<prefix><state_dict name>". */
sg2_discriminator *sg2d_load(gan_ctx *ctx, gan_st_file *file, const char *config_key, const char *prefix,
                             gan_error *err);
void sg2d_free(gan_ctx *ctx, sg2_discriminator *d);
int sg2d_init_random(gan_ctx *ctx, sg2_discriminator *d, uint64_t seed, gan_error *err);
/* The reference's index of the layer a parameter belongs to, counting from
 * the input (per block: fromrgb, conv0, conv1, skip), as FreezeD's
 * freeze_layers counts; -1 for the epilogue and for buffers' own blocks. */
int sg2d_layer_index(const sg2_discriminator *d, const char *param_name);

/* What a forward pass keeps for its backward pass. Zero-initialise; freed by
 * sg2d_tape_free (also safe on a tape never used). */
typedef struct sg2d_block_tape {
    gan_tensor *input;                /* the block's input activations (fromrgb's output in the first) */
    gan_tensor *conv0_out, *conv1_in; /* conv1_in: conv0_out padded and filtered */
    gan_tensor *conv1_out, *skip_in;  /* skip_in: input filtered and down-sampled */
} sg2d_block_tape;

typedef struct sg2d_tape {
    const gan_tensor *images; /* borrowed: the caller keeps them alive until backward */
    sg2d_block_tape blocks[SG2_MAX_BLOCKS];
    gan_tensor *epilogue_in, *mbstd_out, *conv_out, *fc_out;
} sg2d_tape;
void sg2d_tape_free(gan_ctx *ctx, sg2d_tape *tape);

/* images [N, C, R, R] -> logits [N, 1]. With a tape, keeps what backward needs. */
gan_tensor *sg2d_forward(gan_ctx *ctx, const sg2_discriminator *d, const gan_tensor *images, sg2d_tape *tape);

/* Back-propagates dlogits [N, 1] through the taped pass. Parameter gradients
 * are added into grads (aligned with d->params.items; NULL entries for
 * buffers), or skipped when grads is NULL; *dimages gets the gradient with
 * respect to the images when dimages is not NULL. Returns 0 or -1 (error in ctx). */
int sg2d_backward(gan_ctx *ctx, const sg2_discriminator *d, const sg2d_tape *tape, const gan_tensor *dlogits,
                  gan_tensor **grads, gan_tensor **dimages);

/* Gradients of gradients (R1). With the activation masks of a taped forward
 * pass held fixed, sg2d_tangent propagates a direction t_images through the
 * network (forward mode) and returns the directional derivatives of the
 * logits [N, 1], keeping its own tape; sg2d_tangent_backward then adds into
 * grads the parameter gradient of sum(dlogits * those derivatives), which for
 * t_images = u is d/dtheta <u, d(sum D)/dx>. */
gan_tensor *sg2d_tangent(gan_ctx *ctx, const sg2_discriminator *d, const sg2d_tape *primal,
                         const gan_tensor *t_images, sg2d_tape *tangent);
int sg2d_tangent_backward(gan_ctx *ctx, const sg2_discriminator *d, const sg2d_tape *primal,
                          const sg2d_tape *tangent, const gan_tensor *dlogits, gan_tensor **grads);

#endif
