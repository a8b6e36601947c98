/* The StyleGAN2 generator of NVlabs/stylegan2-ada-pytorch ('skip'
 * architecture, fp32): mapping network, synthesis network, truncation.
 * Tensor names and shapes are those of the reference's G_ema.state_dict(),
 * so weights move between dne and PyTorch as they are.
 * ../shared/design/stylegan2.md (sections 1 and 6) is the spec. */
#ifndef GAN_MODELS_STYLEGAN2_H
#define GAN_MODELS_STYLEGAN2_H

#include <stdint.h>

#include "../context.h"
#include "../params.h"

#define SG2_MIN_RESOLUTION 4
#define SG2_MAX_RESOLUTION 1024
#define SG2_MAX_BLOCKS 9 /* 4, 8, ..., 1024 */

typedef struct sg2_config {
    int z_dim, w_dim, c_dim;
    int img_resolution, img_channels;
    int mapping_layers;
    int channel_base, channel_max;
    float conv_clamp; /* negative: none (null in JSON) */
} sg2_config;

/* Parses and validates the config JSON ("arch": "stylegan2" and the keys
 * above); errors name the key. */
int sg2_config_parse(const char *json, sg2_config *cfg, gan_error *err);
/* The config as JSON (malloc'd string). */
char *sg2_config_to_json(const sg2_config *cfg);
/* The reference's train.py configs (auto, stylegan2, paper256, paper512,
 * paper1024, cifar) and dne's 'small' CPU config, at a resolution. */
int sg2_config_preset(const char *name, int resolution, sg2_config *cfg, gan_error *err);
const char *sg2_preset_names(void);
/* Channels of the blocks at resolution res: min(channel_base / res, channel_max). */
int sg2_channels(const sg2_config *cfg, int res);
/* Number of w vectors the synthesis network consumes: 2 log2(R) - 2. */
int sg2_num_ws(const sg2_config *cfg);
/* Floating-point operations (2 per multiply-add) of one image through mapping
 * and synthesis: convolutions, FIR filters, modulation, affines and FC layers
 * (stylegan2.md section 4.3); element-wise work is not counted. */
double sg2_flops_per_image(const sg2_config *cfg);

typedef struct sg2_layer {
    int in_channels, out_channels, kernel, up, resolution;
    gan_tensor *weight, *bias, *affine_weight, *affine_bias;
    gan_tensor *noise_strength, *noise_const, *resample_filter; /* NULL in ToRGB */
} sg2_layer;

typedef struct sg2_block {
    int resolution, in_channels, out_channels; /* in_channels 0: the first block */
    gan_tensor *const_input, *resample_filter;
    sg2_layer conv0, conv1, torgb; /* conv0 unused in the first block */
} sg2_block;

typedef struct sg2_generator {
    sg2_config cfg;
    int num_ws, num_blocks;
    sg2_block blocks[SG2_MAX_BLOCKS];
    gan_tensor *embed_weight, *embed_bias; /* c_dim > 0 only */
    gan_tensor **fc_weight, **fc_bias;     /* mapping_layers each */
    gan_tensor *w_avg;
    gan_params params; /* every tensor above, in state_dict order */
} sg2_generator;

/* A generator with uninitialised tensors. */
sg2_generator *sg2_create(gan_ctx *ctx, const sg2_config *cfg, gan_error *err);
void sg2_free(gan_ctx *ctx, sg2_generator *g);
/* The reference's initialisation for training from scratch. */
int sg2_init_random(gan_ctx *ctx, sg2_generator *g, uint64_t seed, gan_error *err);
/* Reads a generator from a safetensors file: the config from
 * __metadata__["config"], the tensors named "<prefix><state_dict name>"
 * (prefix "" for a generator file, "G_ema." in a training checkpoint; a
 * checkpoint read with prefix "" gives its G_ema). */
sg2_generator *sg2_load(gan_ctx *ctx, const char *path, const char *prefix, gan_error *err);
int sg2_save(gan_ctx *ctx, const sg2_generator *g, const char *path, gan_error *err);

typedef enum sg2_noise_mode { SG2_NOISE_CONST = 0, SG2_NOISE_RANDOM, SG2_NOISE_NONE } sg2_noise_mode;
int sg2_noise_mode_parse(const char *text, sg2_noise_mode *mode, gan_error *err);

/* z [N, z_dim] (and one-hot or soft labels c [N, c_dim] for conditional
 * networks, else NULL) -> ws [N, num_ws, w_dim], truncated towards w_avg by
 * psi on the first `cutoff` layers (cutoff <= 0: all). */
gan_tensor *sg2_mapping(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *z, const gan_tensor *c, float psi,
                        int cutoff);
/* ws -> images [N, img_channels, R, R] in about [-1, 1]. In random noise
 * mode image n draws its noise from Philox stream noise_seeds[n]. */
gan_tensor *sg2_synthesis(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *ws, sg2_noise_mode noise_mode,
                          const uint64_t *noise_seeds);

#endif
