#include "biggan_layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/config.h"
#include "../io/safetensors.h"
#include "../ops.h"

const gan_init bg_init_orthogonal = {GAN_INIT_ORTHOGONAL, 1.0f};
static const gan_init init_normal = {GAN_INIT_NORMAL, 1.0f};
static const gan_init init_zero = {GAN_INIT_CONSTANT, 0.0f};
static const gan_init init_one = {GAN_INIT_CONSTANT, 1.0f};
static const gan_bias_act_args relu_args = {GAN_ACT_RELU, 0, 1, -1};
static const gan_bias_act_args linear_args = {GAN_ACT_LINEAR, 0, 1, -1};

/* ------------------------------------------------------------ registration */

bg_builder bg_builder_root(gan_ctx *ctx, gan_params *params, float sn_eps) {
    return (bg_builder){.ctx = ctx, .params = params, .prefix = "", .sn_eps = sn_eps};
}

bg_builder bg_builder_child(const bg_builder *b, const char *name) {
    bg_builder child = *b;
    if ((size_t)snprintf(child.prefix, sizeof child.prefix, "%s%s.", b->prefix, name) >= sizeof child.prefix)
        gan_ctx_fail(b->ctx, "name too long: %s%s", b->prefix, name);
    return child;
}

gan_tensor *bg_add(bg_builder *b, const char *name, int is_buffer, gan_init init, int ndim, const int64_t *shape) {
    char full[160];
    if ((size_t)snprintf(full, sizeof full, "%s%s", b->prefix, name) >= sizeof full)
        return gan_ctx_fail(b->ctx, "name too long: %s%s", b->prefix, name);
    return gan_params_add(b->ctx, b->params, full, is_buffer, init, ndim, shape);
}

/* Module parameters first, then its buffers: state_dict's order. */
void bg_build_layer(bg_builder *b, bg_layer *l, const char *name, int out, int in, int kernel, int has_bias) {
    bg_builder sub = bg_builder_child(b, name);
    int fan_in = kernel > 0 ? in * kernel * kernel : in;
    const gan_init bias_init = {GAN_INIT_UNIFORM, 1.0f / sqrtf((float)fan_in)}; /* nn.Linear / nn.Conv2d's default */
    l->kernel = kernel;
    l->sn.eps = b->sn_eps;
    if (kernel > 0)
        l->sn.weight = bg_add(&sub, "weight", 0, bg_init_orthogonal, 4, (int64_t[]){out, in, kernel, kernel});
    else
        l->sn.weight = bg_add(&sub, "weight", 0, bg_init_orthogonal, 2, (int64_t[]){out, in});
    l->bias = has_bias ? bg_add(&sub, "bias", 0, bias_init, 1, (int64_t[]){out}) : NULL;
    l->sn.u = bg_add(&sub, "u0", 1, init_normal, 2, (int64_t[]){1, out});
    l->sn.sv = bg_add(&sub, "sv0", 1, init_one, 1, (int64_t[]){1});
}

static void build_stats(bg_builder *b, bg_bn *bn) {
    bn->stored_mean = bg_add(b, "stored_mean", 1, init_zero, 1, (int64_t[]){bn->channels});
    bn->stored_var = bg_add(b, "stored_var", 1, init_one, 1, (int64_t[]){bn->channels});
}

void bg_build_ccbn(bg_builder *b, bg_bn *bn, const char *name, int channels, int cond_dim) {
    bg_builder sub = bg_builder_child(b, name);
    bn->channels = channels;
    build_stats(&sub, bn);
    bg_build_layer(&sub, &bn->gain_map, "gain", channels, cond_dim, 0, 0);
    bg_build_layer(&sub, &bn->bias_map, "bias", channels, cond_dim, 0, 0);
}

void bg_build_plain_bn(bg_builder *b, bg_bn *bn, const char *name, int channels) {
    bg_builder sub = bg_builder_child(b, name);
    bn->channels = channels;
    bn->gain = bg_add(&sub, "gain", 0, init_one, 1, (int64_t[]){channels});
    bn->bias = bg_add(&sub, "bias", 0, init_zero, 1, (int64_t[]){channels});
    build_stats(&sub, bn);
}

void bg_build_attention(bg_builder *b, bg_attention *a, int channels) {
    if (channels < 8) gan_ctx_fail(b->ctx, "%sattention needs at least 8 channels, the block has %d", b->prefix, channels);
    a->channels = channels;
    a->gamma = bg_add(b, "gamma", 0, init_zero, 0, NULL);
    bg_build_layer(b, &a->theta, "theta", channels / 8, channels, 1, 0);
    bg_build_layer(b, &a->phi, "phi", channels / 8, channels, 1, 0);
    bg_build_layer(b, &a->g, "g", channels / 2, channels, 1, 0);
    bg_build_layer(b, &a->o, "o", channels, channels / 2, 1, 0);
}

/* ----------------------------------------------------------------- helpers */

void bg_replace(gan_ctx *ctx, gan_tensor **slot, gan_tensor *value) {
    gan_tensor_free(ctx, *slot);
    *slot = value;
}

void bg_keep(gan_ctx *ctx, gan_tensor **slot, gan_tensor *t) {
    if (slot) *slot = t;
    else gan_tensor_free(ctx, t);
}

void bg_accumulate_into(gan_ctx *ctx, gan_tensor **sum, gan_tensor *t) {
    if (!*sum) {
        *sum = t;
        return;
    }
    if (t) gan_accumulate(ctx, *sum, t, 1.0f);
    gan_tensor_free(ctx, t);
}

void bg_reshape_owned(gan_tensor *t, int ndim, const int64_t *shape) {
    if (!t) return;
    gan_tensor v = gan_tensor_view(t, ndim, shape);
    if (v.numel < 0) return; /* the next op reports the mismatch */
    t->ndim = v.ndim;
    memcpy(t->shape, v.shape, sizeof t->shape);
}

gan_tensor *bg_relu_inplace(gan_ctx *ctx, gan_tensor *x) {
    return x ? gan_bias_act_inplace(ctx, x, NULL, NULL, NULL, relu_args) : NULL;
}

gan_tensor *bg_relu_backward(gan_ctx *ctx, const gan_tensor *dy, const gan_tensor *y) {
    return gan_bias_act_backward(ctx, dy, y, relu_args);
}

static gan_tensor *ones(gan_ctx *ctx, int64_t rows, int64_t cols) {
    float *host = malloc((size_t)(rows * cols) * sizeof *host + 1);
    if (!host) return gan_ctx_fail(ctx, "out of memory");
    for (int64_t i = 0; i < rows * cols; i++) host[i] = 1.0f;
    gan_tensor *t = gan_tensor_from_host(ctx, 2, (int64_t[]){rows, cols}, host);
    free(host);
    return t;
}

gan_tensor *bg_row_sums(gan_ctx *ctx, const gan_tensor *x) {
    if (!x) return NULL;
    gan_tensor *column = ones(ctx, x->shape[1], 1);
    gan_tensor *y = gan_matmul(ctx, x, column, 0, 0);
    gan_tensor_free(ctx, column);
    return y;
}

gan_tensor *bg_broadcast_cols(gan_ctx *ctx, const gan_tensor *dy, int64_t d) {
    gan_tensor *row = ones(ctx, 1, d);
    gan_tensor *y = gan_matmul(ctx, dy, row, 0, 0);
    gan_tensor_free(ctx, row);
    return y;
}

float bg_dot(gan_ctx *ctx, const gan_tensor *a, const gan_tensor *b) {
    if (!a || !b) return NAN;
    gan_tensor av = gan_tensor_view(a, 2, (int64_t[]){1, a->numel});
    gan_tensor bv = gan_tensor_view(b, 2, (int64_t[]){1, b->numel});
    gan_tensor *d = gan_matmul(ctx, &av, &bv, 0, 1);
    float value = gan_tensor_item(ctx, d);
    gan_tensor_free(ctx, d);
    return value;
}

static void add_grad(gan_ctx *ctx, const bg_grads *g, const gan_tensor *param, gan_tensor *grad) {
    if (g && g->grads) gan_params_add_grad(ctx, g->params, g->grads, param, grad);
    else gan_tensor_free(ctx, grad);
}

static int wants_params(const bg_grads *g) { return g && g->grads; }

void bg_layer_tape_free(gan_ctx *ctx, bg_layer_tape *t) {
    gan_tensor_free(ctx, t->w);
    gan_sn_state_free(ctx, &t->sn);
    *t = (bg_layer_tape){0};
}

void bg_bn_tape_free(gan_ctx *ctx, bg_bn_tape *t) {
    gan_tensor_free(ctx, t->mean);
    gan_tensor_free(ctx, t->var);
    gan_tensor_free(ctx, t->gain);
    gan_tensor_free(ctx, t->bias);
    bg_layer_tape_free(ctx, &t->gain_map);
    bg_layer_tape_free(ctx, &t->bias_map);
    *t = (bg_bn_tape){0};
}

void bg_attention_tape_free(gan_ctx *ctx, bg_attention_tape *t) {
    gan_tensor *owned[] = {t->theta_out, t->phi_conv, t->phi_out, t->g_conv, t->g_out, t->beta, t->mixed, t->o_out};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) gan_tensor_free(ctx, owned[i]);
    bg_layer_tape_free(ctx, &t->theta);
    bg_layer_tape_free(ctx, &t->phi);
    bg_layer_tape_free(ctx, &t->g);
    bg_layer_tape_free(ctx, &t->o);
    *t = (bg_attention_tape){0};
}

/* ---------------------------------------------------------------- layers */

/* The spectral norms' u move on in training and standing-statistics passes. */
static int updates_u(bg_mode mode) { return mode != BG_EVAL; }

gan_tensor *bg_linear_forward(gan_ctx *ctx, const bg_layer *l, const gan_tensor *x, bg_mode mode, bg_layer_tape *t) {
    gan_tensor *w = gan_sn_weight(ctx, &l->sn, updates_u(mode), t ? &t->sn : NULL);
    gan_tensor *y = gan_linear(ctx, x, w, l->bias, 1.0f, 1.0f);
    if (t) t->x = x;
    bg_keep(ctx, BG_SLOT(t, w), w);
    return y;
}

static gan_conv2d_args conv_args(const bg_layer *l) { return (gan_conv2d_args){1, l->kernel / 2, 1.0f}; }

gan_tensor *bg_conv_forward(gan_ctx *ctx, const bg_layer *l, const gan_tensor *x, bg_mode mode, bg_layer_tape *t) {
    gan_tensor *w = gan_sn_weight(ctx, &l->sn, updates_u(mode), t ? &t->sn : NULL);
    gan_tensor *y = gan_conv2d(ctx, x, w, conv_args(l));
    if (t) t->x = x;
    bg_keep(ctx, BG_SLOT(t, w), w);
    if (y && l->bias) y = gan_bias_act_inplace(ctx, y, l->bias, NULL, NULL, linear_args);
    return y;
}

/* The weight's gradient through the spectral norm. */
static void weight_grad(gan_ctx *ctx, const bg_layer *l, const bg_layer_tape *t, gan_tensor *dw_sn, const bg_grads *g) {
    add_grad(ctx, g, l->sn.weight, dw_sn ? gan_sn_backward(ctx, &l->sn, &t->sn, dw_sn) : NULL);
    gan_tensor_free(ctx, dw_sn);
}

gan_tensor *bg_linear_backward(gan_ctx *ctx, const bg_layer *l, const bg_layer_tape *t, const gan_tensor *dy,
                               const bg_grads *g, int want_dx) {
    if (wants_params(g)) {
        if (l->bias) add_grad(ctx, g, l->bias, gan_sum_channels(ctx, dy, 1.0f));
        weight_grad(ctx, l, t, gan_linear_backward_weight(ctx, dy, t->x, 1.0f), g);
    }
    return want_dx ? gan_linear_backward_input(ctx, dy, t->w, 1.0f) : NULL;
}

gan_tensor *bg_conv_backward(gan_ctx *ctx, const bg_layer *l, const bg_layer_tape *t, const gan_tensor *dy,
                             const bg_grads *g, int want_dx) {
    if (wants_params(g)) {
        if (l->bias) add_grad(ctx, g, l->bias, gan_sum_channels(ctx, dy, 1.0f));
        weight_grad(ctx, l, t, gan_conv2d_backward_weight(ctx, dy, t->x, l->kernel, conv_args(l)), g);
    }
    if (!want_dx || !t->x) return NULL;
    return gan_conv2d_backward_input(ctx, dy, t->w, conv_args(l), (int)t->x->shape[2], (int)t->x->shape[3]);
}

/* ------------------------------------------------------------ batch norm */

/* F.batch_norm's running update: momentum 0.1, the variance unbiased; or in
 * a standing-statistics pass the sums of the batch statistics. */
static void update_running(gan_ctx *ctx, const bg_bn *bn, const gan_tensor *mean, const gan_tensor *var,
                           int64_t count, bg_mode mode) {
    if (mode == BG_STANDING) {
        gan_accumulate(ctx, bn->stored_mean, mean, 1.0f);
        gan_accumulate(ctx, bn->stored_var, var, 1.0f);
        return;
    }
    gan_tensor *unbiased = gan_scale(ctx, var, (float)((double)count / (double)(count - 1)));
    if (unbiased) {
        gan_lerp_into(ctx, bn->stored_mean, mean, 0.9f);
        gan_lerp_into(ctx, bn->stored_var, unbiased, 0.9f);
    }
    gan_tensor_free(ctx, unbiased);
}

gan_tensor *bg_bn_forward(gan_ctx *ctx, const bg_bn *bn, const gan_tensor *x, const gan_tensor *cond, float eps,
                          bg_mode mode, bg_bn_tape *t) {
    if (gan_ctx_failed(ctx) || !x) return NULL;
    gan_tensor *gain = NULL, *bias = NULL, *mean = NULL, *var = NULL;
    if (cond) {
        gain = bg_linear_forward(ctx, &bn->gain_map, cond, mode, BG_SLOT(t, gain_map));
        bias = bg_linear_forward(ctx, &bn->bias_map, cond, mode, BG_SLOT(t, bias_map));
    }
    if (mode != BG_EVAL) {
        int64_t count = x->numel / x->shape[1];
        if (count < 2)
            gan_ctx_fail(ctx, "batch norm: training needs more than one value per channel (input of %lld)",
                         (long long)x->numel);
        else if (gan_batch_stats(ctx, x, &mean, &var) == 0)
            update_running(ctx, bn, mean, var, count, mode);
    }
    const gan_batch_norm_args args = {eps, cond ? 1.0f : 0.0f};
    gan_tensor *y = NULL;
    if (!gan_ctx_failed(ctx))
        y = gan_batch_norm(ctx, x, mean ? mean : bn->stored_mean, var ? var : bn->stored_var, cond ? gain : bn->gain,
                           cond ? bias : bn->bias, args);
    if (t) {
        t->x = x;
        t->cond = cond;
    }
    bg_keep(ctx, BG_SLOT(t, mean), mean);
    bg_keep(ctx, BG_SLOT(t, var), var);
    bg_keep(ctx, BG_SLOT(t, gain), gain);
    bg_keep(ctx, BG_SLOT(t, bias), bias);
    return y;
}

/* The conditioning vector's gradient through the gain and bias maps. */
static gan_tensor *cond_backward(gan_ctx *ctx, const bg_bn *bn, const bg_bn_tape *t, const gan_tensor *dgain,
                                 const gan_tensor *dbias, const bg_grads *g, int want_dcond) {
    gan_tensor *dcond = bg_linear_backward(ctx, &bn->gain_map, &t->gain_map, dgain, g, want_dcond);
    bg_accumulate_into(ctx, &dcond, bg_linear_backward(ctx, &bn->bias_map, &t->bias_map, dbias, g, want_dcond));
    return dcond;
}

gan_tensor *bg_bn_backward(gan_ctx *ctx, const bg_bn *bn, const bg_bn_tape *t, const gan_tensor *dy, float eps,
                           const bg_grads *g, gan_tensor **dcond) {
    if (gan_ctx_failed(ctx)) return NULL;
    if (!t->mean) return gan_ctx_fail(ctx, "batch norm: the backward pass needs a training-mode forward pass");
    const gan_batch_norm_args args = {eps, t->cond ? 1.0f : 0.0f};
    int want_affine = t->cond ? (wants_params(g) || dcond) : wants_params(g);
    gan_tensor *dx = NULL, *dgain = NULL, *dbias = NULL;
    if (gan_batch_norm_backward(ctx, dy, t->x, t->mean, t->var, t->cond ? t->gain : bn->gain, args, &dx,
                                want_affine ? &dgain : NULL, want_affine ? &dbias : NULL) != 0)
        return NULL;
    if (t->cond) {
        gan_tensor *dc = want_affine ? cond_backward(ctx, bn, t, dgain, dbias, g, dcond != NULL) : NULL;
        if (dcond) *dcond = dc;
        else gan_tensor_free(ctx, dc);
        gan_tensor_free(ctx, dgain);
        gan_tensor_free(ctx, dbias);
    } else {
        add_grad(ctx, g, bn->gain, dgain);
        add_grad(ctx, g, bn->bias, dbias);
    }
    return dx;
}

/* ------------------------------------------------------------- attention */

gan_tensor *bg_attention_forward(gan_ctx *ctx, const bg_attention *a, gan_tensor *x, bg_mode mode,
                                 bg_attention_tape *t) {
    if (gan_ctx_failed(ctx) || !x) {
        if (!t) gan_tensor_free(ctx, x);
        return NULL;
    }
    int64_t n = x->shape[0], c = x->shape[1], h = x->shape[2], w = x->shape[3], hw = h * w;
    gan_tensor *theta = bg_conv_forward(ctx, &a->theta, x, mode, BG_SLOT(t, theta));
    gan_tensor *phi_conv = bg_conv_forward(ctx, &a->phi, x, mode, BG_SLOT(t, phi));
    gan_tensor *phi = gan_max_pool2d(ctx, phi_conv);
    gan_tensor *g_conv = bg_conv_forward(ctx, &a->g, x, mode, BG_SLOT(t, g));
    gan_tensor *gp = gan_max_pool2d(ctx, g_conv);
    gan_tensor *beta = NULL, *mixed = NULL;
    if (theta && phi && gp) {
        gan_tensor tv = gan_tensor_view(theta, 3, (int64_t[]){n, c / 8, hw});
        gan_tensor pv = gan_tensor_view(phi, 3, (int64_t[]){n, c / 8, hw / 4});
        gan_tensor gv = gan_tensor_view(gp, 3, (int64_t[]){n, c / 2, hw / 4});
        gan_tensor *scores = gan_matmul(ctx, &tv, &pv, 1, 0);
        beta = gan_softmax(ctx, scores);
        gan_tensor_free(ctx, scores);
        mixed = gan_matmul(ctx, &gv, beta, 0, 1);
    }
    bg_reshape_owned(mixed, 4, (int64_t[]){n, c / 2, h, w});
    gan_tensor *o = bg_conv_forward(ctx, &a->o, mixed, mode, BG_SLOT(t, o));
    float gamma = gan_tensor_item(ctx, a->gamma);
    gan_tensor *y = t ? gan_scale(ctx, x, 1.0f) : x;
    if (!o || !y || gan_accumulate(ctx, y, o, gamma) != 0) bg_replace(ctx, &y, NULL);
    if (t) {
        t->x = x;
        t->gamma = gamma;
    }
    bg_keep(ctx, BG_SLOT(t, theta_out), theta);
    bg_keep(ctx, BG_SLOT(t, phi_conv), phi_conv);
    bg_keep(ctx, BG_SLOT(t, phi_out), phi);
    bg_keep(ctx, BG_SLOT(t, g_conv), g_conv);
    bg_keep(ctx, BG_SLOT(t, g_out), gp);
    bg_keep(ctx, BG_SLOT(t, beta), beta);
    bg_keep(ctx, BG_SLOT(t, mixed), mixed);
    bg_keep(ctx, BG_SLOT(t, o_out), o);
    return y;
}

/* dx += the input gradient of a 1x1 convolution of x. */
static void add_conv_input_grad(gan_ctx *ctx, gan_tensor *dx, const bg_layer *l, const bg_layer_tape *t,
                                const gan_tensor *dy, const bg_grads *g) {
    gan_tensor *d = bg_conv_backward(ctx, l, t, dy, g, 1);
    if (d && dx) gan_accumulate(ctx, dx, d, 1.0f);
    gan_tensor_free(ctx, d);
}

gan_tensor *bg_attention_backward(gan_ctx *ctx, const bg_attention *a, const bg_attention_tape *t,
                                  const gan_tensor *dy, const bg_grads *g) {
    if (gan_ctx_failed(ctx)) return NULL;
    int64_t n = t->x->shape[0], c = t->x->shape[1], h = t->x->shape[2], w = t->x->shape[3], hw = h * w;
    if (wants_params(g)) {
        float dgamma = bg_dot(ctx, dy, t->o_out);
        add_grad(ctx, g, a->gamma, gan_tensor_from_host(ctx, 0, NULL, &dgamma));
    }
    gan_tensor *d_o = gan_scale(ctx, dy, t->gamma);
    gan_tensor *dmixed = bg_conv_backward(ctx, &a->o, &t->o, d_o, g, 1);
    gan_tensor_free(ctx, d_o);
    gan_tensor *dtheta = NULL, *dphi = NULL, *dgp = NULL;
    if (dmixed) {
        gan_tensor dm = gan_tensor_view(dmixed, 3, (int64_t[]){n, c / 2, hw});
        gan_tensor gv = gan_tensor_view(t->g_out, 3, (int64_t[]){n, c / 2, hw / 4});
        gan_tensor tv = gan_tensor_view(t->theta_out, 3, (int64_t[]){n, c / 8, hw});
        gan_tensor pv = gan_tensor_view(t->phi_out, 3, (int64_t[]){n, c / 8, hw / 4});
        dgp = gan_matmul(ctx, &dm, t->beta, 0, 0);
        gan_tensor *dbeta = gan_matmul(ctx, &dm, &gv, 1, 0);
        gan_tensor *dscores = gan_softmax_backward(ctx, dbeta, t->beta);
        gan_tensor_free(ctx, dbeta);
        dtheta = gan_matmul(ctx, &pv, dscores, 0, 1);
        dphi = gan_matmul(ctx, &tv, dscores, 0, 0);
        gan_tensor_free(ctx, dscores);
    }
    gan_tensor_free(ctx, dmixed);
    bg_reshape_owned(dtheta, 4, (int64_t[]){n, c / 8, h, w});
    bg_reshape_owned(dphi, 4, (int64_t[]){n, c / 8, h / 2, w / 2});
    bg_reshape_owned(dgp, 4, (int64_t[]){n, c / 2, h / 2, w / 2});
    gan_tensor *dphi_conv = gan_max_pool2d_backward(ctx, dphi, t->phi_conv);
    gan_tensor *dg_conv = gan_max_pool2d_backward(ctx, dgp, t->g_conv);
    gan_tensor *dx = gan_scale(ctx, dy, 1.0f);
    add_conv_input_grad(ctx, dx, &a->theta, &t->theta, dtheta, g);
    add_conv_input_grad(ctx, dx, &a->phi, &t->phi, dphi_conv, g);
    add_conv_input_grad(ctx, dx, &a->g, &t->g, dg_conv, g);
    gan_tensor *temps[] = {dtheta, dphi, dgp, dphi_conv, dg_conv};
    for (size_t i = 0; i < sizeof temps / sizeof *temps; i++) gan_tensor_free(ctx, temps[i]);
    if (gan_ctx_failed(ctx)) bg_replace(ctx, &dx, NULL);
    return dx;
}

/* ------------------------------------------------------------------ config */

int bg_json_check_arch(const cJSON *root, gan_error *err) {
    const char *arch = NULL;
    if (gan_json_string(root, "arch", &arch, err) != 0) return -1;
    if (!arch) return gan_fail(err, "config: missing key \"arch\"");
    if (strcmp(arch, "biggan") != 0)
        return gan_fail(err, "config: unknown arch \"%s\" (this file is not a BigGAN network)", arch);
    return 0;
}

int bg_check_attention(const char *attn, const char *key, gan_error *err) {
    const char *p = attn;
    if (!*p) return gan_fail(err, "config: \"%s\" is empty (\"0\" means no attention)", key);
    while (*p) {
        char *end = NULL;
        long r = strtol(p, &end, 10);
        if (end == p || r < 0 || r > 4096 || (r != 0 && (r & (r - 1)) != 0) || (*end && *end != '_'))
            return gan_fail(err, "config: \"%s\" must be resolutions joined by '_' (\"64\", \"32_64\", \"0\"), got \"%s\"",
                            key, attn);
        p = *end ? end + 1 : end;
    }
    return 0;
}

int bg_copy_attention(char *dst, const char *src, const char *key, gan_error *err) {
    if (strlen(src) >= BG_ATTN_LEN) return gan_fail(err, "config: \"%s\" is too long", key);
    if (bg_check_attention(src, key, err) != 0) return -1;
    strcpy(dst, src);
    return 0;
}

int bg_attention_at(const char *attn, int resolution) {
    for (const char *p = attn; *p;) {
        char *end = NULL;
        long r = strtol(p, &end, 10);
        if (end == p) return 0;
        if (r == resolution) return 1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int bg_save_params(gan_ctx *ctx, const gan_params *params, const char *config_json, const char *format,
                   const char *path, gan_error *err) {
    gan_st_writer *w = gan_st_writer_new();
    gan_host_copies copies = {0};
    int rc = w ? 0 : gan_fail(err, "out of memory");
    if (rc == 0) rc = gan_st_writer_meta(w, "config", config_json, err);
    if (rc == 0) rc = gan_st_writer_meta(w, "format", format, err);
    if (rc == 0) rc = gan_params_write(ctx, params, "", w, &copies, err);
    if (rc == 0) rc = gan_st_writer_save(w, path, err);
    gan_params_free_copies(&copies);
    gan_st_writer_free(w);
    return rc;
}
