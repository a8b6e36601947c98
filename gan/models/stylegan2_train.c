#include "stylegan2_train.h"

#include <math.h>
#include <string.h>

#include "../ops.h"

/* The mapping network's equalised learning rate (as in stylegan2.c). */
#define MAPPING_LR_MUL 0.01f

static const gan_bias_act_args mapping_act = {GAN_ACT_LRELU, 0.2f, 1.41421356f, -1};

/* ----------------------------------------------------------------- tapes */

static void layer_tape_free(gan_ctx *ctx, sg2_layer_tape *t) {
    gan_tensor_free(ctx, t->w);
    gan_tensor_free(ctx, t->styles);
    gan_tensor_free(ctx, t->output);
    gan_tensor_free(ctx, t->noise);
}

void sg2_synthesis_tape_free(gan_ctx *ctx, sg2_synthesis_tape *tape) {
    for (int b = 0; b < SG2_MAX_BLOCKS; b++) {
        sg2_block_tape *bt = &tape->blocks[b];
        gan_tensor_free(ctx, bt->const_input);
        layer_tape_free(ctx, &bt->conv0);
        layer_tape_free(ctx, &bt->conv1);
        layer_tape_free(ctx, &bt->torgb);
    }
    memset(tape, 0, sizeof *tape);
}

void sg2_mapping_tape_free(gan_ctx *ctx, sg2_mapping_tape *tape) {
    gan_tensor_free(ctx, tape->normalized);
    for (int i = 0; i < SG2_MAX_MAPPING_LAYERS; i++) gan_tensor_free(ctx, tape->outputs[i]);
    memset(tape, 0, sizeof *tape);
}

int sg2_noise_layers(const sg2_generator *g) { return 2 * g->num_blocks - 1; }

/* ------------------------------------------------------------- layer math */

static float affine_gain(const sg2_generator *g) { return 1.0f / sqrtf((float)g->cfg.w_dim); }
/* ToRGB folds 1/sqrt(in) into its styles (weight and bias of the affine). */
static float torgb_gain(const sg2_layer *l) { return 1.0f / sqrtf((float)l->in_channels); }

static gan_bias_act_args conv_act(const sg2_generator *g) {
    return (gan_bias_act_args){GAN_ACT_LRELU, 0.2f, gan_act_default_gain(GAN_ACT_LRELU), g->cfg.conv_clamp};
}

static gan_bias_act_args torgb_act(const sg2_generator *g) {
    return (gan_bias_act_args){GAN_ACT_LINEAR, 0, 1, g->cfg.conv_clamp};
}

/* SynthesisLayer or ToRGB forward with its tape entry; with mask_y, the
 * activation pattern of that earlier output instead of its own. */
static gan_tensor *layer_forward(gan_ctx *ctx, const sg2_generator *g, const sg2_layer *l, int is_torgb,
                                 const gan_tensor *x, gan_tensor *w, gan_tensor *noise, const gan_tensor *mask_y,
                                 sg2_layer_tape *t) {
    float gain = is_torgb ? torgb_gain(l) : 1.0f;
    gan_tensor *styles = gan_linear(ctx, w, l->affine_weight, l->affine_bias, affine_gain(g) * gain, gain);
    gan_modconv_args mod = {!is_torgb, l->up, l->resample_filter};
    gan_tensor *h = gan_modconv(ctx, x, l->weight, styles, mod), *y;
    gan_bias_act_args act = is_torgb ? torgb_act(g) : conv_act(g);
    const gan_tensor *strength = is_torgb ? NULL : l->noise_strength;
    if (mask_y) {
        y = gan_bias_act_frozen(ctx, h, l->bias, noise, strength, act, mask_y);
        gan_tensor_free(ctx, h);
    } else {
        y = gan_bias_act_inplace(ctx, h, l->bias, noise, strength, act);
    }
    *t = (sg2_layer_tape){x, w, styles, y, noise, mask_y ? mask_y : y};
    return y;
}

/* The gradient of one layer, given dy at its output: parameter gradients,
 * the gradient at its input (returned, when want_input), and its w row's
 * gradient added into dws[w_index]. */
typedef struct backward_state {
    gan_ctx *ctx;
    const sg2_generator *g;
    gan_tensor **grads; /* NULL: no parameter gradients */
    gan_tensor **dws;   /* num_ws rows [N, w_dim], or NULL */
} backward_state;

static void add_grad(backward_state *s, const gan_tensor *p, gan_tensor *g) {
    gan_params_add_grad(s->ctx, &s->g->params, s->grads, p, g);
}

static void add_w_grad(backward_state *s, int w_index, gan_tensor *dw) {
    if (!dw) return;
    if (!s->dws[w_index]) s->dws[w_index] = dw;
    else {
        gan_accumulate(s->ctx, s->dws[w_index], dw, 1.0f);
        gan_tensor_free(s->ctx, dw);
    }
}

static gan_tensor *layer_backward(backward_state *s, const sg2_layer *l, int is_torgb, const sg2_layer_tape *t,
                                  const gan_tensor *dy, int w_index, int want_input) {
    gan_ctx *ctx = s->ctx;
    const sg2_generator *g = s->g;
    gan_tensor *dz = gan_bias_act_backward(ctx, dy, t->mask, is_torgb ? torgb_act(g) : conv_act(g));
    if (s->grads) {
        add_grad(s, l->bias, gan_sum_channels(ctx, dz, 1.0f));
        if (!is_torgb) add_grad(s, l->noise_strength, gan_noise_strength_grad(ctx, dz, t->noise));
    }
    gan_tensor *dx = NULL, *dweight = NULL, *dstyles = NULL;
    gan_modconv_args mod = {!is_torgb, l->up, l->resample_filter};
    gan_modconv_backward(ctx, dz, t->input, l->weight, t->styles, mod, want_input ? &dx : NULL,
                         s->grads ? &dweight : NULL, &dstyles);
    gan_tensor_free(ctx, dz);
    add_grad(s, l->weight, dweight);
    float gain = is_torgb ? torgb_gain(l) : 1.0f, wg = affine_gain(g) * gain;
    if (s->grads && dstyles) {
        add_grad(s, l->affine_weight, gan_linear_backward_weight(ctx, dstyles, t->w, wg));
        add_grad(s, l->affine_bias, gan_sum_channels(ctx, dstyles, gain));
    }
    if (s->dws && dstyles) add_w_grad(s, w_index, gan_linear_backward_input(ctx, dstyles, l->affine_weight, wg));
    gan_tensor_free(ctx, dstyles);
    return dx;
}

/* -------------------------------------------------------------- synthesis */

/* The k-th noisy layer's noise: a copy of the given one, or drawn. */
static gan_tensor *layer_noise(gan_ctx *ctx, const sg2_layer *l, int64_t n, const gan_tensor *const *noise, int k,
                               uint64_t seed) {
    int64_t shape[4] = {n, 1, l->resolution, l->resolution};
    if (!noise) return gan_randn(ctx, 4, shape, &seed, 1, (uint64_t)k << 40);
    const gan_tensor *given = noise[k];
    if (!given || given->ndim != 4 || memcmp(given->shape, shape, sizeof shape) != 0)
        return gan_ctx_fail(ctx, "synthesis: noise of layer %d must be [%lld, 1, %d, %d]", k, (long long)n,
                            l->resolution, l->resolution);
    return gan_slice(ctx, given, 0, n);
}

gan_tensor *sg2_synthesis_train(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *ws,
                                const gan_tensor *const *noise, uint64_t noise_seed, sg2_synthesis_tape *tape) {
    return sg2_synthesis_train_masked(ctx, g, ws, noise, noise_seed, NULL, tape);
}

/* The mask of a layer of `masks`, or NULL. */
#define MASK(masks, b, layer) ((masks) ? (masks)->blocks[b].layer.output : NULL)

gan_tensor *sg2_synthesis_train_masked(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *ws,
                                       const gan_tensor *const *noise, uint64_t noise_seed,
                                       const sg2_synthesis_tape *masks, sg2_synthesis_tape *tape) {
    memset(tape, 0, sizeof *tape);
    if (masks && masks->num_blocks != g->num_blocks) return gan_ctx_fail(ctx, "synthesis: masks of another network");
    if (!ws || ctx->failed) return NULL;
    char buf[GAN_SHAPE_STR_LEN];
    if (ws->ndim != 3 || ws->shape[1] != g->num_ws || ws->shape[2] != g->cfg.w_dim)
        return gan_ctx_fail(ctx, "synthesis: ws %s, expected [N, %d, %d]",
                            gan_shape_str(ws->ndim, ws->shape, buf, sizeof buf), g->num_ws, g->cfg.w_dim);
    int64_t n = ws->shape[0];
    tape->num_blocks = g->num_blocks;
    const gan_tensor *x = NULL;
    gan_tensor *img = NULL;
    int w_index = 0, k = 0;
    for (int b = 0; b < g->num_blocks && !ctx->failed; b++) {
        const sg2_block *blk = &g->blocks[b];
        sg2_block_tape *bt = &tape->blocks[b];
        if (blk->in_channels == 0) {
            x = bt->const_input = gan_repeat(ctx, blk->const_input, n);
        } else {
            gan_tensor *nz = layer_noise(ctx, &blk->conv0, n, noise, k++, noise_seed);
            x = layer_forward(ctx, g, &blk->conv0, 0, x, gan_select_row(ctx, ws, w_index++), nz, MASK(masks, b, conv0),
                              &bt->conv0);
        }
        gan_tensor *nz = layer_noise(ctx, &blk->conv1, n, noise, k++, noise_seed);
        x = layer_forward(ctx, g, &blk->conv1, 0, x, gan_select_row(ctx, ws, w_index++), nz, MASK(masks, b, conv1),
                          &bt->conv1);
        /* ToRGB shares its w with the next block's conv0. */
        gan_tensor *rgb = layer_forward(ctx, g, &blk->torgb, 1, x, gan_select_row(ctx, ws, w_index), NULL,
                                        MASK(masks, b, torgb), &bt->torgb);
        if (!img) {
            img = gan_slice(ctx, rgb, 0, n);
        } else {
            gan_tensor *up = gan_upsample2d(ctx, img, blk->resample_filter);
            gan_tensor_free(ctx, img);
            img = gan_add(ctx, up, rgb);
            gan_tensor_free(ctx, up);
        }
    }
    if (ctx->failed) {
        gan_tensor_free(ctx, img);
        sg2_synthesis_tape_free(ctx, tape);
        return NULL;
    }
    return img;
}

int sg2_synthesis_backward(gan_ctx *ctx, const sg2_generator *g, const sg2_synthesis_tape *tape,
                           const gan_tensor *dimages, gan_tensor **grads, gan_tensor **dws) {
    if (ctx->failed) return -1;
    if (tape->num_blocks != g->num_blocks) return gan_ctx_fail(ctx, "synthesis backward: no taped forward pass"), -1;
    backward_state s = {ctx, g, grads, dws};
    if (dws)
        for (int i = 0; i < g->num_ws; i++) dws[i] = NULL;
    gan_tensor *dimg = NULL, *dx = NULL; /* at the current block's output image and features */
    for (int b = g->num_blocks - 1; b >= 0 && !ctx->failed; b--) {
        const sg2_block *blk = &g->blocks[b];
        const sg2_block_tape *bt = &tape->blocks[b];
        const gan_tensor *d_out = dimg ? dimg : dimages;
        /* Block b reads w[2b-1] (conv0), w[2b] (conv1) and w[2b+1] (torgb);
         * the first block has no conv0 and its conv1 reads w[0]. */
        int w_conv0 = 2 * b - 1, w_conv1 = b == 0 ? 0 : 2 * b, w_torgb = 2 * b + 1;
        gan_tensor *d_feat = layer_backward(&s, &blk->torgb, 1, &bt->torgb, d_out, w_torgb, 1);
        if (dx) {
            gan_accumulate(ctx, d_feat, dx, 1.0f);
            gan_tensor_free(ctx, dx);
        }
        dx = layer_backward(&s, &blk->conv1, 0, &bt->conv1, d_feat, w_conv1, 1);
        gan_tensor_free(ctx, d_feat);
        if (blk->in_channels == 0) {
            if (grads) add_grad(&s, blk->const_input, gan_sum_batch(ctx, dx));
        } else {
            gan_tensor *d_in = layer_backward(&s, &blk->conv0, 0, &bt->conv0, dx, w_conv0, 1);
            gan_tensor_free(ctx, dx);
            dx = d_in;
            int h = (int)d_out->shape[2] / 2;
            gan_upfirdn2d_args up = {2, 2, 1, 1, 2, 1, 2, 1, 4.0f, 0};
            gan_tensor *next = gan_upfirdn2d_backward(ctx, d_out, blk->resample_filter, up, h, h);
            gan_tensor_free(ctx, dimg);
            dimg = next;
        }
    }
    gan_tensor_free(ctx, dx);
    gan_tensor_free(ctx, dimg);
    if (ctx->failed && dws)
        for (int i = 0; i < g->num_ws; i++) gan_tensor_free(ctx, dws[i]), dws[i] = NULL;
    return ctx->failed ? -1 : 0;
}

/* ---------------------------------------------------------------- mapping */

gan_tensor *sg2_mapping_train(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *z, sg2_mapping_tape *tape) {
    memset(tape, 0, sizeof *tape);
    if (g->cfg.c_dim > 0) return gan_ctx_fail(ctx, "training conditional generators is not supported yet");
    if (g->cfg.mapping_layers > SG2_MAX_MAPPING_LAYERS)
        return gan_ctx_fail(ctx, "training supports at most %d mapping layers", SG2_MAX_MAPPING_LAYERS);
    tape->layers = g->cfg.mapping_layers;
    const gan_tensor *x = tape->normalized = gan_normalize_2nd_moment(ctx, z);
    for (int i = 0; i < g->cfg.mapping_layers; i++) {
        float gain = MAPPING_LR_MUL / sqrtf((float)g->fc_weight[i]->shape[1]);
        gan_tensor *y = gan_linear(ctx, x, g->fc_weight[i], g->fc_bias[i], gain, MAPPING_LR_MUL);
        x = tape->outputs[i] = gan_bias_act_inplace(ctx, y, NULL, NULL, NULL, mapping_act);
    }
    return ctx->failed ? NULL : gan_slice(ctx, x, 0, x->shape[0]);
}

int sg2_mapping_backward(gan_ctx *ctx, const sg2_generator *g, const sg2_mapping_tape *tape, const gan_tensor *dw,
                         gan_tensor **grads) {
    if (ctx->failed) return -1;
    if (tape->layers != g->cfg.mapping_layers || !tape->normalized)
        return gan_ctx_fail(ctx, "mapping backward: no taped forward pass"), -1;
    gan_tensor *d = NULL;
    for (int i = g->cfg.mapping_layers - 1; i >= 0 && !ctx->failed; i--) {
        const gan_tensor *in = i ? tape->outputs[i - 1] : tape->normalized;
        float gain = MAPPING_LR_MUL / sqrtf((float)g->fc_weight[i]->shape[1]);
        gan_tensor *dz = gan_bias_act_backward(ctx, d ? d : dw, tape->outputs[i], mapping_act);
        gan_params_add_grad(ctx, &g->params, grads, g->fc_bias[i], gan_sum_channels(ctx, dz, MAPPING_LR_MUL));
        gan_params_add_grad(ctx, &g->params, grads, g->fc_weight[i], gan_linear_backward_weight(ctx, dz, in, gain));
        gan_tensor_free(ctx, d);
        d = i ? gan_linear_backward_input(ctx, dz, g->fc_weight[i], gain) : NULL;
        gan_tensor_free(ctx, dz);
    }
    gan_tensor_free(ctx, d);
    return ctx->failed ? -1 : 0;
}
