/* BigGAN's projection discriminator: residual DBlocks with average-pooling
 * down-sampling, optional self-attention, global sum pooling, and the class
 * projection (an inner product with a spectrally normalised class
 * embedding) added to a linear logit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/config.h"
#include "../ops.h"
#include "biggan.h"
#include "biggan_tape.h"

/* D_arch of the reference: input and output channel multipliers (input 0
 * is the image), which blocks down-sample, and each block's output size. */
typedef struct d_arch {
    int resolution, blocks;
    int in[BG_MAX_BLOCKS], out[BG_MAX_BLOCKS], down[BG_MAX_BLOCKS], res[BG_MAX_BLOCKS];
} d_arch;

static const d_arch d_archs[] = {
    {32, 4, {0, 4, 4, 4}, {4, 4, 4, 4}, {1, 1, 0, 0}, {16, 16, 16, 16}},
    {64, 5, {0, 1, 2, 4, 8}, {1, 2, 4, 8, 16}, {1, 1, 1, 1, 0}, {32, 16, 8, 4, 4}},
    {128, 6, {0, 1, 2, 4, 8, 16}, {1, 2, 4, 8, 16, 16}, {1, 1, 1, 1, 1, 0}, {64, 32, 16, 8, 4, 4}},
    {256, 7, {0, 1, 2, 4, 8, 8, 16}, {1, 2, 4, 8, 8, 16, 16}, {1, 1, 1, 1, 1, 1, 0}, {128, 64, 32, 16, 8, 4, 4}},
};

static const d_arch *find_d_arch(int resolution) {
    for (size_t i = 0; i < sizeof d_archs / sizeof *d_archs; i++)
        if (d_archs[i].resolution == resolution) return &d_archs[i];
    return NULL;
}

static int check_config(const bgd_config *cfg, gan_error *err) {
    if (!find_d_arch(cfg->resolution))
        return gan_fail(err, "D config: \"resolution\" must be 32, 64, 128 or 256, got %d", cfg->resolution);
    if (cfg->n_classes < 1 || cfg->ch < 1) return gan_fail(err, "D config: \"n_classes\" and \"D_ch\" must be at least 1");
    return bg_check_attention(cfg->attn, "D_attn", err);
}

int bgd_config_parse(const char *json, bgd_config *cfg, gan_error *err) {
    cJSON *root = gan_json_parse_object(json, "D config", err);
    if (!root) return -1;
    const char *attn = NULL;
    double sn_eps = 1e-6;
    int wide = 1;
    *cfg = (bgd_config){0};
    int rc = bg_json_check_arch(root, err);
    if (rc == 0) rc = gan_json_int(root, "resolution", 1, 1 << 16, 0, 0, &cfg->resolution, err);
    if (rc == 0) rc = gan_json_int(root, "D_ch", 1, 4096, 0, 0, &cfg->ch, err);
    if (rc == 0) rc = gan_json_int(root, "n_classes", 1, 1 << 20, 0, 0, &cfg->n_classes, err);
    if (rc == 0) rc = gan_json_string(root, "D_attn", &attn, err);
    if (rc == 0) rc = bg_copy_attention(cfg->attn, attn ? attn : "64", "D_attn", err);
    if (rc == 0) rc = gan_json_number(root, "SN_eps", 0, 1, 1e-6, &sn_eps, err);
    if (rc == 0) rc = gan_json_bool(root, "D_wide", 1, &wide, err);
    if (rc == 0 && !wide) rc = gan_fail(err, "D config: only the wide discriminator (\"D_wide\": true) is supported");
    cJSON_Delete(root);
    if (rc != 0) return rc;
    cfg->sn_eps = (float)sn_eps;
    return check_config(cfg, err);
}

char *bgd_config_to_json(const bgd_config *cfg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "arch", "biggan");
    cJSON_AddNumberToObject(o, "resolution", cfg->resolution);
    cJSON_AddNumberToObject(o, "D_ch", cfg->ch);
    cJSON_AddStringToObject(o, "D_attn", cfg->attn);
    cJSON_AddNumberToObject(o, "n_classes", cfg->n_classes);
    cJSON_AddNumberToObject(o, "SN_eps", cfg->sn_eps);
    cJSON_AddBoolToObject(o, "D_wide", 1);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

bgd_config bgd_config_for(const bg_config *g) {
    bgd_config d = {.resolution = g->resolution, .ch = g->ch, .n_classes = g->n_classes, .sn_eps = g->sn_eps};
    snprintf(d.attn, sizeof d.attn, "%s", g->resolution == 32 ? "0" : "64");
    return d;
}

/* ----------------------------------------------------------- construction */

static void build_dblock(bg_builder *b, bg_dblock *blk) {
    bg_builder sub = bg_builder_child(b, "0");
    int in = blk->in_channels, out = blk->out_channels;
    bg_build_layer(&sub, &blk->conv1, "conv1", out, in, 3, 1);
    bg_build_layer(&sub, &blk->conv2, "conv2", out, out, 3, 1);
    if (blk->has_shortcut) bg_build_layer(&sub, &blk->conv_sc, "conv_sc", out, in, 1, 1);
    if (blk->has_attention) {
        bg_builder att = bg_builder_child(b, "1");
        bg_build_attention(&att, &blk->attention, out);
    }
}

bg_discriminator *bgd_create(gan_ctx *ctx, const bgd_config *cfg, gan_error *err) {
    if (check_config(cfg, err) != 0) return NULL;
    bg_discriminator *d = calloc(1, sizeof *d);
    if (!d) {
        gan_fail(err, "out of memory creating a discriminator");
        return NULL;
    }
    const d_arch *arch = find_d_arch(cfg->resolution);
    d->cfg = *cfg;
    d->num_blocks = arch->blocks;
    bg_builder b = bg_builder_root(ctx, &d->params, cfg->sn_eps);
    for (int i = 0; i < arch->blocks; i++) {
        bg_dblock *blk = &d->blocks[i];
        blk->in_channels = i == 0 ? 3 : arch->in[i] * cfg->ch;
        blk->out_channels = arch->out[i] * cfg->ch;
        blk->resolution = arch->res[i];
        blk->downsample = arch->down[i];
        blk->preactivation = i > 0;
        blk->has_shortcut = blk->in_channels != blk->out_channels || blk->downsample;
        blk->has_attention = bg_attention_at(cfg->attn, blk->resolution);
        char name[32];
        snprintf(name, sizeof name, "blocks.%d", i);
        bg_builder sub = bg_builder_child(&b, name);
        build_dblock(&sub, blk);
    }
    int last = arch->out[arch->blocks - 1] * cfg->ch;
    bg_build_layer(&b, &d->linear, "linear", 1, last, 0, 1);
    bg_build_layer(&b, &d->embed, "embed", cfg->n_classes, last, 0, 0);
    if (gan_ctx_failed(ctx)) {
        gan_ctx_take_error(ctx, err);
        bgd_free(ctx, d);
        return NULL;
    }
    return d;
}

void bgd_free(gan_ctx *ctx, bg_discriminator *d) {
    if (!d) return;
    gan_params_free(ctx, &d->params);
    free(d);
}

int bgd_init_random(gan_ctx *ctx, bg_discriminator *d, uint64_t seed, gan_error *err) {
    return gan_params_init(ctx, &d->params, seed, err);
}

/* ----------------------------------------------------------------- forward */

bgd_tape *bgd_tape_new(void) { return calloc(1, sizeof(bgd_tape)); }

static void dblock_tape_free(gan_ctx *ctx, bg_dblock_tape *t) {
    gan_tensor *owned[] = {t->pre, t->x_pooled, t->act1, t->out, t->attention_out};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) gan_tensor_free(ctx, owned[i]);
    bg_layer_tape_free(ctx, &t->conv1);
    bg_layer_tape_free(ctx, &t->conv2);
    bg_layer_tape_free(ctx, &t->conv_sc);
    bg_attention_tape_free(ctx, &t->attention);
    *t = (bg_dblock_tape){0};
}

void bgd_tape_free(gan_ctx *ctx, bgd_tape *t) {
    if (!t) return;
    for (int i = 0; i < BG_MAX_BLOCKS; i++) dblock_tape_free(ctx, &t->blocks[i]);
    gan_tensor_free(ctx, t->features);
    gan_tensor_free(ctx, t->pooled);
    gan_tensor_free(ctx, t->table);
    gan_tensor_free(ctx, t->embedded);
    bg_layer_tape_free(ctx, &t->linear);
    gan_sn_state_free(ctx, &t->table_sn);
    free(t);
}

/* The shortcut: learned 1x1 convolution and pooling, in the order the
 * reference uses (convolution first after a pre-activation). */
static gan_tensor *shortcut_forward(gan_ctx *ctx, const bg_dblock *blk, const gan_tensor *x, bg_mode mode,
                                    bg_dblock_tape *t) {
    if (!blk->has_shortcut) return gan_scale(ctx, x, 1.0f);
    if (blk->preactivation) {
        gan_tensor *s = bg_conv_forward(ctx, &blk->conv_sc, x, mode, BG_SLOT(t, conv_sc));
        if (blk->downsample) bg_replace(ctx, &s, gan_avg_pool2d(ctx, s));
        return s;
    }
    gan_tensor *pooled = blk->downsample ? gan_avg_pool2d(ctx, x) : gan_scale(ctx, x, 1.0f);
    gan_tensor *s = bg_conv_forward(ctx, &blk->conv_sc, pooled, mode, BG_SLOT(t, conv_sc));
    bg_keep(ctx, BG_SLOT(t, x_pooled), pooled);
    return s;
}

/* A DBlock (and its attention): x consumed without a tape, borrowed with
 * one; the result is the tape's with one. */
static gan_tensor *dblock_forward(gan_ctx *ctx, const bg_dblock *blk, gan_tensor *x, bg_mode mode, bg_dblock_tape *t) {
    gan_tensor *pre = blk->preactivation ? bg_relu_inplace(ctx, gan_scale(ctx, x, 1.0f)) : NULL;
    gan_tensor *act1 = bg_relu_inplace(ctx, bg_conv_forward(ctx, &blk->conv1, pre ? pre : x, mode, BG_SLOT(t, conv1)));
    gan_tensor *h = bg_conv_forward(ctx, &blk->conv2, act1, mode, BG_SLOT(t, conv2));
    if (blk->downsample) bg_replace(ctx, &h, gan_avg_pool2d(ctx, h));
    gan_tensor *s = shortcut_forward(ctx, blk, x, mode, t);
    gan_tensor *y = gan_add(ctx, h, s);
    gan_tensor_free(ctx, h);
    gan_tensor_free(ctx, s);
    if (t) t->x = x;
    else gan_tensor_free(ctx, x);
    bg_keep(ctx, BG_SLOT(t, pre), pre);
    bg_keep(ctx, BG_SLOT(t, act1), act1);
    if (!blk->has_attention || !y) {
        if (t) t->out = y;
        return y;
    }
    gan_tensor *z = bg_attention_forward(ctx, &blk->attention, y, mode, BG_SLOT(t, attention));
    if (t) {
        t->out = y;
        t->attention_out = z;
    }
    return z;
}

/* linear(h) + sum_c embed(y)[c] h[c] for pooled features h [N, C]. */
static gan_tensor *head_forward(gan_ctx *ctx, const bg_discriminator *d, const gan_tensor *h,
                                const gan_tensor *labels, bg_mode mode, bgd_tape *t) {
    gan_tensor *out = bg_linear_forward(ctx, &d->linear, h, mode, BG_SLOT(t, linear));
    gan_tensor *table = gan_sn_weight(ctx, &d->embed.sn, mode != BG_EVAL, BG_SLOT(t, table_sn));
    gan_tensor *e = gan_matmul(ctx, labels, table, 0, 0);
    gan_tensor *prod = gan_mul(ctx, e, h);
    gan_tensor *proj = bg_row_sums(ctx, prod);
    gan_tensor *logits = gan_add(ctx, out, proj);
    gan_tensor_free(ctx, out);
    gan_tensor_free(ctx, prod);
    gan_tensor_free(ctx, proj);
    bg_keep(ctx, BG_SLOT(t, table), table);
    bg_keep(ctx, BG_SLOT(t, embedded), e);
    return logits;
}

gan_tensor *bgd_forward(gan_ctx *ctx, const bg_discriminator *d, const gan_tensor *images, const gan_tensor *labels,
                        bg_mode mode, bgd_tape *t) {
    const bgd_config *cfg = &d->cfg;
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    if (gan_ctx_failed(ctx) || !images || !labels) return NULL;
    int64_t n = images->shape[0];
    if (images->ndim != 4 || images->shape[1] != 3 || images->shape[2] != cfg->resolution ||
        images->shape[3] != cfg->resolution || labels->ndim != 2 || labels->shape[0] != n ||
        labels->shape[1] != cfg->n_classes)
        return gan_ctx_fail(ctx, "biggan D: expected images [N, 3, %d, %d] and labels [N, %d], got %s and %s",
                            cfg->resolution, cfg->resolution, cfg->n_classes,
                            gan_shape_str(images->ndim, images->shape, a, sizeof a),
                            gan_shape_str(labels->ndim, labels->shape, b, sizeof b));
    /* Without a tape each block consumes its input, so the first gets a copy. */
    gan_tensor *h = t ? (gan_tensor *)images : gan_scale(ctx, images, 1.0f);
    for (int i = 0; i < d->num_blocks && h; i++) h = dblock_forward(ctx, &d->blocks[i], h, mode, BG_SLOT(t, blocks[i]));
    gan_tensor *features = h ? bg_relu_inplace(ctx, gan_scale(ctx, h, 1.0f)) : NULL;
    if (!t) gan_tensor_free(ctx, h);
    if (!features) return NULL;
    int64_t c = features->shape[1], hw = features->shape[2] * features->shape[3];
    gan_tensor planes = gan_tensor_view(features, 2, (int64_t[]){n * c, hw});
    gan_tensor *pooled = bg_row_sums(ctx, &planes);
    bg_reshape_owned(pooled, 2, (int64_t[]){n, c});
    gan_tensor *logits = pooled ? head_forward(ctx, d, pooled, labels, mode, t) : NULL;
    if (t) t->labels = labels;
    bg_keep(ctx, BG_SLOT(t, features), features);
    bg_keep(ctx, BG_SLOT(t, pooled), pooled);
    return logits;
}

/* ---------------------------------------------------------------- backward */

static gan_tensor *shortcut_backward(gan_ctx *ctx, const bg_dblock *blk, const bg_dblock_tape *t,
                                     const gan_tensor *dy, const bg_grads *g) {
    if (!blk->has_shortcut) return gan_scale(ctx, dy, 1.0f);
    if (blk->preactivation) {
        gan_tensor *d = blk->downsample ? gan_avg_pool2d_backward(ctx, dy) : gan_scale(ctx, dy, 1.0f);
        gan_tensor *dx = bg_conv_backward(ctx, &blk->conv_sc, &t->conv_sc, d, g, 1);
        gan_tensor_free(ctx, d);
        return dx;
    }
    gan_tensor *dpooled = bg_conv_backward(ctx, &blk->conv_sc, &t->conv_sc, dy, g, 1);
    if (!blk->downsample) return dpooled;
    gan_tensor *dx = gan_avg_pool2d_backward(ctx, dpooled);
    gan_tensor_free(ctx, dpooled);
    return dx;
}

static gan_tensor *dblock_backward(gan_ctx *ctx, const bg_dblock *blk, const bg_dblock_tape *t, const gan_tensor *dy,
                                   const bg_grads *g) {
    gan_tensor *d_att = blk->has_attention ? bg_attention_backward(ctx, &blk->attention, &t->attention, dy, g) : NULL;
    const gan_tensor *d = blk->has_attention ? d_att : dy;
    gan_tensor *dconv2 = blk->downsample ? gan_avg_pool2d_backward(ctx, d) : gan_scale(ctx, d, 1.0f);
    gan_tensor *dact1 = bg_conv_backward(ctx, &blk->conv2, &t->conv2, dconv2, g, 1);
    gan_tensor_free(ctx, dconv2);
    gan_tensor *dconv1 = bg_relu_backward(ctx, dact1, t->act1);
    gan_tensor_free(ctx, dact1);
    gan_tensor *dx = bg_conv_backward(ctx, &blk->conv1, &t->conv1, dconv1, g, 1);
    gan_tensor_free(ctx, dconv1);
    if (blk->preactivation) bg_replace(ctx, &dx, bg_relu_backward(ctx, dx, t->pre));
    bg_accumulate_into(ctx, &dx, shortcut_backward(ctx, blk, t, d, g));
    gan_tensor_free(ctx, d_att);
    return dx;
}

/* The pooled features' gradient from the logits': through the linear layer
 * and the class projection. */
static gan_tensor *head_backward(gan_ctx *ctx, const bg_discriminator *d, const bgd_tape *t, const gan_tensor *dlogits,
                                 const bg_grads *g) {
    int64_t c = t->pooled->shape[1];
    gan_tensor *dh = bg_linear_backward(ctx, &d->linear, &t->linear, dlogits, g, 1);
    gan_tensor *dprod = bg_broadcast_cols(ctx, dlogits, c);
    bg_accumulate_into(ctx, &dh, gan_mul(ctx, dprod, t->embedded));
    if (g && g->grads) {
        gan_tensor *de = gan_mul(ctx, dprod, t->pooled);
        gan_tensor *dtable = gan_matmul(ctx, t->labels, de, 1, 0);
        gan_tensor *dweight = dtable ? gan_sn_backward(ctx, &d->embed.sn, &t->table_sn, dtable) : NULL;
        gan_params_add_grad(ctx, g->params, g->grads, d->embed.sn.weight, dweight);
        gan_tensor_free(ctx, de);
        gan_tensor_free(ctx, dtable);
    }
    gan_tensor_free(ctx, dprod);
    return dh;
}

int bgd_backward(gan_ctx *ctx, const bg_discriminator *d, const bgd_tape *t, const gan_tensor *dlogits,
                 gan_tensor **grads, gan_tensor **dimages) {
    if (dimages) *dimages = NULL;
    if (gan_ctx_failed(ctx)) return -1;
    const bg_grads sink = {&d->params, grads};
    gan_tensor *dpooled = head_backward(ctx, d, t, dlogits, &sink);
    const gan_tensor *f = t->features;
    gan_tensor *dplanes = NULL;
    if (dpooled) {
        gan_tensor column = gan_tensor_view(dpooled, 2, (int64_t[]){dpooled->numel, 1});
        dplanes = bg_broadcast_cols(ctx, &column, f->shape[2] * f->shape[3]);
    }
    gan_tensor_free(ctx, dpooled);
    bg_reshape_owned(dplanes, 4, f->shape);
    gan_tensor *dh = bg_relu_backward(ctx, dplanes, f);
    gan_tensor_free(ctx, dplanes);
    for (int i = d->num_blocks - 1; i >= 0 && dh; i--)
        bg_replace(ctx, &dh, dblock_backward(ctx, &d->blocks[i], &t->blocks[i], dh, &sink));
    if (dimages && !gan_ctx_failed(ctx)) *dimages = dh;
    else gan_tensor_free(ctx, dh);
    return gan_ctx_failed(ctx) ? -1 : 0;
}
