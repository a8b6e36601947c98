/* The layers BigGAN's generator and discriminator share: registration in the
 * reference's state_dict order, spectrally normalised convolutions and linear
 * maps, batch norm, self-attention, and the attention-resolution lists of
 * the configs. Internal to gan/models/biggan*.c. */
#ifndef GAN_MODELS_BIGGAN_LAYERS_H
#define GAN_MODELS_BIGGAN_LAYERS_H

#include <cjson/cJSON.h>

#include "biggan.h"

extern const gan_init bg_init_orthogonal;

/* Registers tensors under "<prefix><name>". */
typedef struct bg_builder {
    gan_ctx *ctx;
    gan_params *params;
    char prefix[96];
    float sn_eps;
} bg_builder;

bg_builder bg_builder_root(gan_ctx *ctx, gan_params *params, float sn_eps);
bg_builder bg_builder_child(const bg_builder *b, const char *name);
gan_tensor *bg_add(bg_builder *b, const char *name, int is_buffer, gan_init init, int ndim, const int64_t *shape);

/* A spectrally normalised layer: weight [out, in] (kernel 0: linear or
 * embedding) or [out, in, k, k], an optional bias, then u0 [1, out] and sv0. */
void bg_build_layer(bg_builder *b, bg_layer *l, const char *name, int out, int in, int kernel, int has_bias);
void bg_build_ccbn(bg_builder *b, bg_bn *bn, const char *name, int channels, int cond_dim);
void bg_build_plain_bn(bg_builder *b, bg_bn *bn, const char *name, int channels);
void bg_build_attention(bg_builder *b, bg_attention *a, int channels);

/* What a layer's backward pass needs from its forward pass. Inputs are
 * borrowed (owned by whoever produced them); everything else is owned by the
 * tape. A NULL tape means no backward pass: nothing is kept. */
typedef struct bg_layer_tape {
    const gan_tensor *x;
    gan_tensor *w; /* W / sigma */
    gan_sn_state sn;
} bg_layer_tape;

typedef struct bg_bn_tape {
    const gan_tensor *x, *cond;
    gan_tensor *mean, *var;   /* batch statistics (training) */
    gan_tensor *gain, *bias;  /* class-conditional: [N, C] */
    bg_layer_tape gain_map, bias_map;
} bg_bn_tape;

typedef struct bg_attention_tape {
    const gan_tensor *x;
    bg_layer_tape theta, phi, g, o;
    gan_tensor *theta_out, *phi_conv, *phi_out, *g_conv, *g_out, *beta, *mixed, *o_out;
    float gamma;
} bg_attention_tape;

void bg_layer_tape_free(gan_ctx *ctx, bg_layer_tape *t);
void bg_bn_tape_free(gan_ctx *ctx, bg_bn_tape *t);
void bg_attention_tape_free(gan_ctx *ctx, bg_attention_tape *t);

gan_tensor *bg_linear_forward(gan_ctx *ctx, const bg_layer *l, const gan_tensor *x, bg_mode mode, bg_layer_tape *t);
/* 'same' convolution (padding k / 2) plus bias. */
gan_tensor *bg_conv_forward(gan_ctx *ctx, const bg_layer *l, const gan_tensor *x, bg_mode mode, bg_layer_tape *t);
/* Batch norm of x [N, C, H, W]: class-conditional with cond [N, cond_dim],
 * plain with cond NULL. Training mode also updates the running statistics. */
gan_tensor *bg_bn_forward(gan_ctx *ctx, const bg_bn *bn, const gan_tensor *x, const gan_tensor *cond, float eps,
                          bg_mode mode, bg_bn_tape *t);
/* x + gamma * attention(x); consumes x unless a tape keeps it (then the
 * result is a new tensor and the tape borrows x, which the caller keeps). */
gan_tensor *bg_attention_forward(gan_ctx *ctx, const bg_attention *a, gan_tensor *x, bg_mode mode,
                                 bg_attention_tape *t);
/* ReLU in place; NULL passes through. */
gan_tensor *bg_relu_inplace(gan_ctx *ctx, gan_tensor *x);
/* Its gradient from the output y. */
gan_tensor *bg_relu_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *y);

/* Where parameter gradients go: gan_params_add_grad's slots; with grads
 * NULL only input gradients are computed. */
typedef struct bg_grads {
    const gan_params *params;
    gan_tensor **grads;
} bg_grads;

/* Each returns the input's gradient (NULL when want_dx is 0) and adds the
 * parameters' gradients to g. */
gan_tensor *bg_linear_backward(gan_ctx *ctx, const bg_layer *l, const bg_layer_tape *t, const gan_tensor *dy,
                               const bg_grads *g, int want_dx);
gan_tensor *bg_conv_backward(gan_ctx *ctx, const bg_layer *l, const bg_layer_tape *t, const gan_tensor *dy,
                             const bg_grads *g, int want_dx);
/* Batch norm in training mode; *dcond (class-conditional only, may be NULL)
 * receives the conditioning vector's gradient. */
gan_tensor *bg_bn_backward(gan_ctx *ctx, const bg_bn *bn, const bg_bn_tape *t, const gan_tensor *dy, float eps,
                           const bg_grads *g, gan_tensor **dcond);
gan_tensor *bg_attention_backward(gan_ctx *ctx, const bg_attention *a, const bg_attention_tape *t,
                                  const gan_tensor *dy, const bg_grads *g);

/* Sums of x [R, D] along rows -> [R, 1]; and its gradient, dy [R, 1]
 * broadcast to [R, d]. */
gan_tensor *bg_row_sums(gan_ctx *ctx, const gan_tensor *x);
gan_tensor *bg_broadcast_cols(gan_ctx *ctx, const gan_tensor *dy, int64_t d);
/* sum(a * b) over all elements, on the host. */
float bg_dot(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b);

/* Stores t in *slot when there is one (a tape's), frees it otherwise. */
void bg_keep(gan_ctx *ctx, gan_tensor **slot, gan_tensor *t);
/* *sum += t (or *sum = t when empty); consumes t. */
void bg_accumulate_into(gan_ctx *ctx, gan_tensor **sum, gan_tensor *t);
/* The address of a tape's field, or NULL without a tape. */
#define BG_SLOT(tape, field) ((tape) ? &(tape)->field : NULL)

/* Frees *slot and stores value there. */
void bg_replace(gan_ctx *ctx, gan_tensor **slot, gan_tensor *value);
/* Gives an owned tensor another shape of as many elements (NULL passes). */
void bg_reshape_owned(gan_tensor *t, int ndim, const int64_t *shape);

/* "arch" must be "biggan". */
int bg_json_check_arch(const cJSON *root, gan_error *err);
/* Attention lists: "0" (none) or resolutions joined by '_' ("32_64"). */
int bg_check_attention(const char *attn, const char *key, gan_error *err);
int bg_copy_attention(char *dst, const char *src, const char *key, gan_error *err);
int bg_attention_at(const char *attn, int resolution);

/* Writes params with the config JSON and a format tag in __metadata__. */
int bg_save_params(gan_ctx *ctx, const gan_params *params, const char *config_json, const char *format,
                   const char *path, gan_error *err);

#endif
