/* BigGAN as ajbrock/BigGAN-PyTorch builds it (G_shared, hierarchical z,
 * spectral norm everywhere but G's class embedding, ReLU, the default
 * batch-norm layout): the generator and the projection discriminator at 32
 * to 512 px. Tensor names, shapes and order are those of the reference's
 * state_dict(), with the hyper-parameters as JSON under the reference's own
 * option names, so released weights convert by a name-preserving dump.
 * ../shared/design/biggan.md is the spec. */
#ifndef GAN_MODELS_BIGGAN_H
#define GAN_MODELS_BIGGAN_H

#include <stdint.h>

#include "../context.h"
#include "../params.h"
#include "spectral_norm.h"

#define BG_MAX_BLOCKS 8
#define BG_ATTN_LEN 64

typedef struct bg_config {
    int resolution;     /* 32, 64, 128, 256 or 512 */
    int ch;             /* G_ch: the channel multiplier */
    int dim_z;          /* rounded down to a multiple of the slots when hier */
    int shared_dim;     /* the class embedding's width */
    int n_classes;
    int hier;           /* z split across the blocks */
    int bottom_width;   /* 4 */
    char attn[BG_ATTN_LEN]; /* G_attn: "64", "32_64"; "0" for none */
    float bn_eps, sn_eps;
} bg_config;

typedef struct bgd_config {
    int resolution, ch, n_classes;
    char attn[BG_ATTN_LEN]; /* D_attn */
    float sn_eps;
} bgd_config;

/* Parsing validates every key and names the wrong one. */
int bg_config_parse(const char *json, bg_config *cfg, gan_error *err);
char *bg_config_to_json(const bg_config *cfg);
int bgd_config_parse(const char *json, bgd_config *cfg, gan_error *err);
char *bgd_config_to_json(const bgd_config *cfg);
/* The config of the reference's launch scripts at a resolution (ch 96,
 * attention at 64, or at 128 for 256 px as the published 256 model; dim_z
 * 120 / 140 / 128 as TF-Hub's; shared 128, BN eps 1e-5, SN eps 1e-6),
 * with ch and the class count given; and the D that goes with it. */
bg_config bg_config_default(int resolution, int ch, int n_classes);
bgd_config bgd_config_for(const bg_config *g);
/* dim_z rounded down to a multiple of the hierarchical slots, as the
 * reference does (a config must hold the rounded value). */
void bg_config_round_dim_z(bg_config *cfg);
/* Whether a config JSON, or the config of a safetensors file, says
 * "arch": "biggan" (0 for anything unreadable: the StyleGAN2 loader then
 * reports what is wrong with it). */
int bg_is_biggan_config(const char *json);
int bg_file_is_biggan(const char *path);

/* A layer with a spectrally normalised weight; bias may be NULL. */
typedef struct bg_layer {
    gan_sn sn;
    gan_tensor *bias;
    int kernel; /* 0 for linear and embedding layers */
} bg_layer;

/* Batch norm: class-conditional (gain and bias from linear maps of the
 * conditioning vector, out = BN(x) (1 + gain) + bias) or plain (learned
 * gain and bias per channel). */
typedef struct bg_bn {
    int channels;
    bg_layer gain_map, bias_map;     /* class-conditional */
    gan_tensor *gain, *bias;         /* plain */
    gan_tensor *stored_mean, *stored_var;
} bg_bn;

typedef struct bg_attention {
    int channels;
    bg_layer theta, phi, g, o;
    gan_tensor *gamma; /* [] */
} bg_attention;

typedef struct bg_gblock {
    int in_channels, out_channels, resolution, has_attention;
    bg_bn bn1, bn2;
    bg_layer conv1, conv2, conv_sc;
    bg_attention attention;
} bg_gblock;

typedef struct bg_generator {
    bg_config cfg;
    int num_blocks, num_slots, z_chunk; /* z_chunk: the width of each z slot */
    gan_tensor *shared;                 /* [n_classes, shared_dim] */
    bg_layer linear;
    bg_gblock blocks[BG_MAX_BLOCKS];
    bg_bn out_bn;
    bg_layer out_conv;
    gan_params params;
} bg_generator;

typedef struct bg_dblock {
    int in_channels, out_channels, resolution, downsample, preactivation, has_shortcut, has_attention;
    bg_layer conv1, conv2, conv_sc;
    bg_attention attention;
} bg_dblock;

typedef struct bg_discriminator {
    bgd_config cfg;
    int num_blocks;
    bg_dblock blocks[BG_MAX_BLOCKS];
    bg_layer linear, embed;
    gan_params params;
} bg_discriminator;

bg_generator *bg_create(gan_ctx *ctx, const bg_config *cfg, gan_error *err);
void bg_free(gan_ctx *ctx, bg_generator *g);
/* The reference's initialisation: orthogonal weights, PyTorch's default
 * biases, u ~ N(0, 1), unit batch-norm gains, zero attention gains. */
int bg_init_random(gan_ctx *ctx, bg_generator *g, uint64_t seed, gan_error *err);
/* A generator file (prefix "") or the G_ema of a checkpoint. */
bg_generator *bg_load(gan_ctx *ctx, const char *path, const char *prefix, gan_error *err);
int bg_save(gan_ctx *ctx, const bg_generator *g, const char *path, gan_error *err);

bg_discriminator *bgd_create(gan_ctx *ctx, const bgd_config *cfg, gan_error *err);
void bgd_free(gan_ctx *ctx, bg_discriminator *d);
int bgd_init_random(gan_ctx *ctx, bg_discriminator *d, uint64_t seed, gan_error *err);

/* Training mode normalises with batch statistics and updates the running
 * statistics and the spectral norms' u; evaluation mode uses the stored
 * statistics and changes nothing. Standing mode is training mode whose batch
 * statistics are added to the stored ones instead (bg_standing_stats). */
typedef enum bg_mode { BG_EVAL = 0, BG_TRAIN, BG_STANDING } bg_mode;

/* Class rows of the shared embedding: one-hot (or soft, for blending)
 * labels [N, n_classes] -> [N, shared_dim]. */
gan_tensor *bg_embed_classes(gan_ctx *ctx, const bg_generator *g, const gan_tensor *labels);

/* What the backward passes need from a forward pass (opaque; see
 * biggan_tape.h). Inputs given to the forward pass must stay alive until the
 * tape is freed. */
typedef struct bg_tape bg_tape;
typedef struct bgd_tape bgd_tape;
bg_tape *bg_tape_new(void);
void bg_tape_free(gan_ctx *ctx, bg_tape *tape);
bgd_tape *bgd_tape_new(void);
void bgd_tape_free(gan_ctx *ctx, bgd_tape *tape);

/* z [N, dim_z], y_emb [N, shared_dim] -> images [N, 3, R, R] in [-1, 1].
 * With a tape (training mode only) everything the backward pass needs is
 * kept in it. */
gan_tensor *bg_forward(gan_ctx *ctx, const bg_generator *g, const gan_tensor *z, const gan_tensor *y_emb,
                       bg_mode mode, bg_tape *tape);
/* Gradients of a loss given dimages, its gradient with respect to the
 * forward pass's output images: every parameter's into grads (aligned with
 * g->params, accumulated; NULL: none), and optionally z's and y_emb's. */
int bg_backward(gan_ctx *ctx, const bg_generator *g, const bg_tape *tape, const gan_tensor *images,
                const gan_tensor *dimages, gan_tensor **grads, gan_tensor **dz, gan_tensor **dy_emb);
/* The shared embedding's gradient for labels and dy_emb, into grads. */
int bg_embed_backward(gan_ctx *ctx, const bg_generator *g, const gan_tensor *labels, const gan_tensor *dy_emb,
                      gan_tensor **grads);

/* images [N, 3, R, R], one-hot labels [N, n_classes] -> logits [N, 1]. */
gan_tensor *bgd_forward(gan_ctx *ctx, const bg_discriminator *d, const gan_tensor *images, const gan_tensor *labels,
                        bg_mode mode, bgd_tape *tape);
/* Parameter gradients into grads (NULL: none) and optionally the images'. */
int bgd_backward(gan_ctx *ctx, const bg_discriminator *d, const bgd_tape *tape, const gan_tensor *dlogits,
                 gan_tensor **grads, gan_tensor **dimages);

/* BigGAN-PyTorch's standing statistics: every batch norm's stored mean and
 * variance become the averages of the batch means and (biased) variances of
 * `passes` training-mode forward passes of z[i] [N, dim_z] with labels[i]
 * (the spectral norms' u move on, as in the reference). Evaluation mode then
 * uses them. */
int bg_standing_stats(gan_ctx *ctx, bg_generator *g, int passes, gan_tensor *const *z, gan_tensor *const *labels,
                      gan_error *err);

/* One-hot rows for class ids (each in [0, n_classes)). */
gan_tensor *bg_one_hot(gan_ctx *ctx, const int *classes, int count, int n_classes);

#endif
