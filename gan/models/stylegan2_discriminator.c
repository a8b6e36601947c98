#include "stylegan2_discriminator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/config.h"

/* ------------------------------------------------------------------ config */

static int d_channels(const sg2d_config *cfg, int res) {
    int c = cfg->channel_base / res;
    return c < cfg->channel_max ? c : cfg->channel_max;
}

sg2d_config sg2d_config_for(const sg2_config *g, int mbstd_group_size) {
    return (sg2d_config){g->img_resolution, g->img_channels, g->channel_base, g->channel_max,
                         g->conv_clamp,     mbstd_group_size, 1};
}

static int check_config(const sg2d_config *cfg, gan_error *err) {
    int r = cfg->img_resolution;
    if (r < 4 || r > SG2_MAX_RESOLUTION || (r & (r - 1)) != 0)
        return gan_fail(err, "discriminator config: \"img_resolution\" must be a power of two from 4 to %d, got %d",
                        SG2_MAX_RESOLUTION, r);
    if (d_channels(cfg, r) < 1)
        return gan_fail(err, "discriminator config: channel_base %d gives no channels at %d px", cfg->channel_base, r);
    if (cfg->mbstd_group_size < 1 || cfg->mbstd_num_channels < 1 || d_channels(cfg, 4) % cfg->mbstd_num_channels)
        return gan_fail(err, "discriminator config: bad minibatch-stddev group %d or channels %d",
                        cfg->mbstd_group_size, cfg->mbstd_num_channels);
    return 0;
}

int sg2d_config_parse(const char *json, sg2d_config *cfg, gan_error *err) {
    cJSON *root = gan_json_parse_object(json, "discriminator config", err);
    if (!root) return -1;
    const char *architecture = NULL;
    double clamp = -1;
    int no_clamp = 1, c_dim = 0;
    int rc = gan_json_string(root, "architecture", &architecture, err);
    if (rc == 0 && architecture && strcmp(architecture, "resnet") != 0)
        rc = gan_fail(err, "discriminator architecture \"%s\" is not supported (only \"resnet\")", architecture);
    if (rc == 0) rc = gan_json_int(root, "c_dim", 0, 0, 1, 0, &c_dim, err);
    if (rc == 0) rc = gan_json_int(root, "img_resolution", 1, 1 << 16, 0, 0, &cfg->img_resolution, err);
    if (rc == 0) rc = gan_json_int(root, "img_channels", 1, 4, 1, 3, &cfg->img_channels, err);
    if (rc == 0) rc = gan_json_int(root, "channel_base", 1, 1 << 24, 0, 0, &cfg->channel_base, err);
    if (rc == 0) rc = gan_json_int(root, "channel_max", 1, 1 << 16, 0, 0, &cfg->channel_max, err);
    if (rc == 0) rc = gan_json_number_or_null(root, "conv_clamp", &clamp, &no_clamp, err);
    if (rc == 0) rc = gan_json_int(root, "mbstd_group_size", 1, 1 << 16, 1, 4, &cfg->mbstd_group_size, err);
    if (rc == 0) rc = gan_json_int(root, "mbstd_num_channels", 1, 1 << 16, 1, 1, &cfg->mbstd_num_channels, err);
    cJSON_Delete(root);
    if (rc != 0) return rc;
    cfg->conv_clamp = no_clamp ? -1.0f : (float)clamp;
    return check_config(cfg, err);
}

char *sg2d_config_to_json(const sg2d_config *cfg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "architecture", "resnet");
    cJSON_AddNumberToObject(o, "c_dim", 0);
    cJSON_AddNumberToObject(o, "img_resolution", cfg->img_resolution);
    cJSON_AddNumberToObject(o, "img_channels", cfg->img_channels);
    cJSON_AddNumberToObject(o, "channel_base", cfg->channel_base);
    cJSON_AddNumberToObject(o, "channel_max", cfg->channel_max);
    if (cfg->conv_clamp > 0)
        cJSON_AddNumberToObject(o, "conv_clamp", cfg->conv_clamp);
    else
        cJSON_AddNullToObject(o, "conv_clamp");
    cJSON_AddNumberToObject(o, "mbstd_group_size", cfg->mbstd_group_size);
    cJSON_AddNumberToObject(o, "mbstd_num_channels", cfg->mbstd_num_channels);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* ------------------------------------------------------------ construction */

static const gan_init init_normal = {GAN_INIT_NORMAL, 1.0f};
static const gan_init init_zero = {GAN_INIT_CONSTANT, 0.0f};
static const gan_init init_filter = {GAN_INIT_FIR_1331, 0.0f};

static gan_tensor *add(gan_ctx *ctx, gan_params *p, const char *prefix, const char *name, int is_buffer,
                       gan_init init, int ndim, const int64_t *shape) {
    char full[96];
    if ((size_t)snprintf(full, sizeof full, "%s%s", prefix, name) >= sizeof full)
        return gan_ctx_fail(ctx, "name too long: %s%s", prefix, name);
    return gan_params_add(ctx, p, full, is_buffer, init, ndim, shape);
}

/* A Conv2dLayer's activation: lrelu (or linear) with the reference's gain
 * times the layer's extra gain, and the clamp scaled the same way. */
static gan_bias_act_args layer_act(gan_act act, float layer_gain, float conv_clamp) {
    return (gan_bias_act_args){act, 0.2f, gan_act_default_gain(act) * layer_gain,
                               conv_clamp > 0 ? conv_clamp * layer_gain : -1.0f};
}

/* Registration order of a Conv2dLayer: weight, bias, resample_filter. */
static void build_conv(gan_ctx *ctx, gan_params *p, const char *block, const char *name, sg2d_conv *c) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s%s.", block, name);
    int o = c->out_channels, i = c->in_channels, k = c->kernel;
    c->weight = add(ctx, p, prefix, "weight", 0, init_normal, 4, (int64_t[]){o, i, k, k});
    if (c->act.act != GAN_ACT_LINEAR) c->bias = add(ctx, p, prefix, "bias", 0, init_zero, 1, (int64_t[]){o});
    c->resample_filter = add(ctx, p, prefix, "resample_filter", 1, init_filter, 2, (int64_t[]){4, 4});
}

static void build_block(gan_ctx *ctx, sg2_discriminator *d, sg2d_block *b) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "b%d.", b->resolution);
    float clamp = d->cfg.conv_clamp, half = sqrtf(0.5f);
    int tmp = b->tmp_channels, out = b->out_channels;
    b->resample_filter = add(ctx, &d->params, prefix, "resample_filter", 1, init_filter, 2, (int64_t[]){4, 4});
    if (b->first) {
        b->fromrgb = (sg2d_conv){d->cfg.img_channels, tmp, 1, 1, NULL, NULL, NULL, layer_act(GAN_ACT_LRELU, 1, clamp)};
        build_conv(ctx, &d->params, prefix, "fromrgb", &b->fromrgb);
    }
    b->conv0 = (sg2d_conv){tmp, tmp, 3, 1, NULL, NULL, NULL, layer_act(GAN_ACT_LRELU, 1, clamp)};
    build_conv(ctx, &d->params, prefix, "conv0", &b->conv0);
    b->conv1 = (sg2d_conv){tmp, out, 3, 2, NULL, NULL, NULL, layer_act(GAN_ACT_LRELU, half, clamp)};
    build_conv(ctx, &d->params, prefix, "conv1", &b->conv1);
    b->skip = (sg2d_conv){tmp, out, 1, 2, NULL, NULL, NULL, layer_act(GAN_ACT_LINEAR, half, -1)};
    build_conv(ctx, &d->params, prefix, "skip", &b->skip);
}

static void build_fc(gan_ctx *ctx, gan_params *p, const char *name, sg2d_fc *fc) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "b4.%s.", name);
    fc->weight = add(ctx, p, prefix, "weight", 0, init_normal, 2, (int64_t[]){fc->out_features, fc->in_features});
    fc->bias = add(ctx, p, prefix, "bias", 0, init_zero, 1, (int64_t[]){fc->out_features});
}

sg2_discriminator *sg2d_create(gan_ctx *ctx, const sg2d_config *cfg, gan_error *err) {
    if (check_config(cfg, err) != 0) return NULL;
    sg2_discriminator *d = calloc(1, sizeof *d);
    if (!d) {
        gan_fail(err, "out of memory creating a discriminator");
        return NULL;
    }
    d->cfg = *cfg;
    for (int r = cfg->img_resolution; r >= 8; r /= 2) {
        sg2d_block *b = &d->blocks[d->num_blocks++];
        *b = (sg2d_block){r, d_channels(cfg, r), d_channels(cfg, r / 2), r == cfg->img_resolution, NULL,
                          {0}, {0}, {0}, {0}};
        build_block(ctx, d, b);
    }
    int c4 = d_channels(cfg, 4);
    d->epilogue_conv = (sg2d_conv){c4 + cfg->mbstd_num_channels, c4, 3, 1, NULL, NULL, NULL,
                                   layer_act(GAN_ACT_LRELU, 1, cfg->conv_clamp)};
    if (cfg->img_resolution == 4) {
        gan_ctx_fail(ctx, "a 4 px discriminator has no blocks: the smallest supported resolution is 8");
    } else {
        build_conv(ctx, &d->params, "b4.", "conv", &d->epilogue_conv);
        d->fc = (sg2d_fc){c4 * 16, c4, NULL, NULL, layer_act(GAN_ACT_LRELU, 1, -1)};
        build_fc(ctx, &d->params, "fc", &d->fc);
        d->out = (sg2d_fc){c4, 1, NULL, NULL, layer_act(GAN_ACT_LINEAR, 1, -1)};
        build_fc(ctx, &d->params, "out", &d->out);
    }
    if (gan_ctx_failed(ctx)) {
        gan_ctx_take_error(ctx, err);
        sg2d_free(ctx, d);
        return NULL;
    }
    return d;
}

sg2_discriminator *sg2d_load(gan_ctx *ctx, gan_st_file *file, const char *config_key, const char *prefix,
                             gan_error *err) {
    sg2d_config cfg;
    const char *json = gan_st_meta(file, config_key);
    if (!json) {
        gan_fail(err, "no \"%s\" in the file's __metadata__", config_key);
        return NULL;
    }
    if (sg2d_config_parse(json, &cfg, err) != 0) return NULL;
    sg2_discriminator *d = sg2d_create(ctx, &cfg, err);
    if (d && gan_params_load(ctx, &d->params, file, prefix, err) != 0) {
        sg2d_free(ctx, d);
        return NULL;
    }
    return d;
}

void sg2d_free(gan_ctx *ctx, sg2_discriminator *d) {
    if (!d) return;
    gan_params_free(ctx, &d->params);
    free(d);
}

int sg2d_init_random(gan_ctx *ctx, sg2_discriminator *d, uint64_t seed, gan_error *err) {
    return gan_params_init(ctx, &d->params, seed, err);
}

void sg2d_tape_free(gan_ctx *ctx, sg2d_tape *t) {
    for (int i = 0; i < SG2_MAX_BLOCKS; i++) {
        sg2d_block_tape *b = &t->blocks[i];
        gan_tensor *owned[] = {b->input, b->conv0_out, b->conv1_in, b->conv1_out, b->skip_in};
        for (size_t j = 0; j < sizeof owned / sizeof *owned; j++) gan_tensor_free(ctx, owned[j]);
    }
    gan_tensor_free(ctx, t->epilogue_in);
    gan_tensor_free(ctx, t->mbstd_out);
    gan_tensor_free(ctx, t->conv_out);
    gan_tensor_free(ctx, t->fc_out);
    memset(t, 0, sizeof *t);
}

/* ----------------------------------------------------------------- forward */

static float weight_gain(const sg2d_conv *c) { return 1.0f / sqrtf((float)(c->in_channels * c->kernel * c->kernel)); }

/* The FIR step of a down-sampling layer (conv2d_resample): for 3x3, pad 2 so
 * that the stride-2 conv lands on the filtered grid; for 1x1, filter and
 * keep every other sample. */
static gan_upfirdn2d_args down_fir(const sg2d_conv *c) {
    if (c->kernel == 1) return (gan_upfirdn2d_args){1, 1, 2, 2, 1, 1, 1, 1, 1.0f, 0};
    return (gan_upfirdn2d_args){1, 1, 1, 1, 2, 2, 2, 2, 1.0f, 0};
}

static gan_conv2d_args conv_args(const sg2d_conv *c) {
    int stride = c->down == 2 && c->kernel > 1 ? 2 : 1;
    /* The skip's sqrt(0.5) is linear: folded into the weight gain. */
    float gain = c->act.act == GAN_ACT_LINEAR ? weight_gain(c) * c->act.gain : weight_gain(c);
    return (gan_conv2d_args){stride, c->down == 2 ? 0 : c->kernel / 2, gain};
}

/* The conv's input after its FIR step (x itself when it has none). */
static gan_tensor *conv_input(gan_ctx *ctx, const sg2d_conv *c, const gan_tensor *x) {
    return c->down == 2 ? gan_upfirdn2d(ctx, x, c->resample_filter, down_fir(c)) : (gan_tensor *)x;
}

/* conv + bias_act on an already filtered input. */
static gan_tensor *conv_apply(gan_ctx *ctx, const sg2d_conv *c, const gan_tensor *in) {
    gan_tensor *y = gan_conv2d(ctx, in, c->weight, conv_args(c));
    if (c->act.act == GAN_ACT_LINEAR) return y;
    gan_tensor *out = gan_bias_act_inplace(ctx, y, c->bias, NULL, NULL, c->act);
    return out;
}

static gan_tensor *fc_apply(gan_ctx *ctx, const sg2d_fc *fc, const gan_tensor *x) {
    float gain = 1.0f / sqrtf((float)fc->in_features);
    if (fc->act.act == GAN_ACT_LINEAR) return gan_linear(ctx, x, fc->weight, fc->bias, gain, 1.0f);
    gan_tensor *y = gan_linear(ctx, x, fc->weight, NULL, gain, 1.0f);
    return gan_bias_act_inplace(ctx, y, fc->bias, NULL, NULL, fc->act);
}

/* A view of t with another shape of the same size (no copy). */
static gan_tensor reshaped(const gan_tensor *t, int ndim, const int64_t *shape) {
    gan_tensor v = *t;
    v.ndim = ndim;
    memcpy(v.shape, shape, (size_t)ndim * sizeof *shape);
    return v;
}

/* One residual block; takes ownership of x. Keeps its activations in bt. */
static gan_tensor *block_forward(gan_ctx *ctx, const sg2d_block *b, gan_tensor *x, sg2d_block_tape *bt) {
    gan_tensor *skip_in = conv_input(ctx, &b->skip, x);
    gan_tensor *skip_out = conv_apply(ctx, &b->skip, skip_in);
    gan_tensor *conv0_out = conv_apply(ctx, &b->conv0, x);
    gan_tensor *conv1_in = conv_input(ctx, &b->conv1, conv0_out);
    gan_tensor *conv1_out = conv_apply(ctx, &b->conv1, conv1_in);
    gan_tensor *y = gan_add(ctx, skip_out, conv1_out);
    gan_tensor_free(ctx, skip_out);
    if (bt) {
        *bt = (sg2d_block_tape){x, conv0_out, conv1_in, conv1_out, skip_in};
    } else {
        gan_tensor *spent[] = {x, conv0_out, conv1_in, conv1_out, skip_in};
        for (size_t i = 0; i < sizeof spent / sizeof *spent; i++) gan_tensor_free(ctx, spent[i]);
    }
    return y;
}

static gan_tensor *epilogue_forward(gan_ctx *ctx, const sg2_discriminator *d, gan_tensor *x, sg2d_tape *t) {
    gan_tensor *mb = gan_mbstd(ctx, x, (gan_mbstd_args){d->cfg.mbstd_group_size, d->cfg.mbstd_num_channels});
    gan_tensor *conv = conv_apply(ctx, &d->epilogue_conv, mb);
    gan_tensor *fc_out = NULL, *logits = NULL;
    if (conv) {
        gan_tensor flat = reshaped(conv, 2, (int64_t[]){conv->shape[0], conv->numel / conv->shape[0]});
        fc_out = fc_apply(ctx, &d->fc, &flat);
        logits = fc_apply(ctx, &d->out, fc_out);
    }
    if (t) {
        t->epilogue_in = x, t->mbstd_out = mb, t->conv_out = conv, t->fc_out = fc_out;
    } else {
        gan_tensor *spent[] = {x, mb, conv, fc_out};
        for (size_t i = 0; i < sizeof spent / sizeof *spent; i++) gan_tensor_free(ctx, spent[i]);
    }
    return logits;
}

gan_tensor *sg2d_forward(gan_ctx *ctx, const sg2_discriminator *d, const gan_tensor *images, sg2d_tape *tape) {
    if (!images || ctx->failed) return NULL;
    int r = d->cfg.img_resolution;
    if (images->ndim != 4 || images->shape[1] != d->cfg.img_channels || images->shape[2] != r || images->shape[3] != r) {
        char s[GAN_SHAPE_STR_LEN];
        return gan_ctx_fail(ctx, "discriminator: images %s, expected [N, %d, %d, %d]",
                            gan_shape_str(images->ndim, images->shape, s, sizeof s), d->cfg.img_channels, r, r);
    }
    if (tape) {
        memset(tape, 0, sizeof *tape);
        tape->images = images;
    }
    gan_tensor *x = conv_apply(ctx, &d->blocks[0].fromrgb, images);
    for (int i = 0; i < d->num_blocks; i++) x = block_forward(ctx, &d->blocks[i], x, tape ? &tape->blocks[i] : NULL);
    return epilogue_forward(ctx, d, x, tape);
}

/* ---------------------------------------------------------- tangent pass */

/* A layer's forward-mode derivative: the conv of the tangent (no bias),
 * then the activation's slope and clamp mask at the primal output. */
static gan_tensor *conv_tangent(gan_ctx *ctx, const sg2d_conv *c, const gan_tensor *t_in, const gan_tensor *primal_out) {
    gan_tensor *h = gan_conv2d(ctx, t_in, c->weight, conv_args(c));
    if (c->act.act == GAN_ACT_LINEAR) return h;
    gan_tensor *t = gan_bias_act_backward(ctx, h, primal_out, c->act);
    gan_tensor_free(ctx, h);
    return t;
}

static gan_tensor *fc_tangent(gan_ctx *ctx, const sg2d_fc *fc, const gan_tensor *t_in, const gan_tensor *primal_out) {
    gan_tensor *h = gan_linear(ctx, t_in, fc->weight, NULL, 1.0f / sqrtf((float)fc->in_features), 1.0f);
    if (fc->act.act == GAN_ACT_LINEAR) return h;
    gan_tensor *t = gan_bias_act_backward(ctx, h, primal_out, fc->act);
    gan_tensor_free(ctx, h);
    return t;
}

gan_tensor *sg2d_tangent(gan_ctx *ctx, const sg2_discriminator *d, const sg2d_tape *p, const gan_tensor *t_images,
                         sg2d_tape *t) {
    memset(t, 0, sizeof *t);
    if (ctx->failed || !t_images) return NULL;
    if (!p->epilogue_in) return gan_ctx_fail(ctx, "discriminator tangent: no taped forward pass");
    t->images = t_images;
    gan_tensor *x = conv_tangent(ctx, &d->blocks[0].fromrgb, t_images, p->blocks[0].input);
    for (int i = 0; i < d->num_blocks && x; i++) {
        const sg2d_block *b = &d->blocks[i];
        const sg2d_block_tape *pb = &p->blocks[i];
        sg2d_block_tape *tb = &t->blocks[i];
        tb->input = x;
        tb->skip_in = conv_input(ctx, &b->skip, x);
        gan_tensor *skip = conv_tangent(ctx, &b->skip, tb->skip_in, NULL);
        tb->conv0_out = conv_tangent(ctx, &b->conv0, x, pb->conv0_out);
        tb->conv1_in = conv_input(ctx, &b->conv1, tb->conv0_out);
        tb->conv1_out = conv_tangent(ctx, &b->conv1, tb->conv1_in, pb->conv1_out);
        x = gan_add(ctx, skip, tb->conv1_out);
        gan_tensor_free(ctx, skip);
    }
    t->epilogue_in = x;
    t->mbstd_out = gan_mbstd_jvp(ctx, p->epilogue_in, x, (gan_mbstd_args){d->cfg.mbstd_group_size,
                                                                          d->cfg.mbstd_num_channels});
    t->conv_out = conv_tangent(ctx, &d->epilogue_conv, t->mbstd_out, p->conv_out);
    if (!t->conv_out) return NULL;
    gan_tensor flat = reshaped(t->conv_out, 2, (int64_t[]){t->conv_out->shape[0], t->conv_out->numel / t->conv_out->shape[0]});
    t->fc_out = fc_tangent(ctx, &d->fc, &flat, p->fc_out);
    return fc_tangent(ctx, &d->out, t->fc_out, NULL);
}

/* ---------------------------------------------------------------- backward */

/* Backward passes read layer inputs from `acts` and take the activation
 * masks from the outputs in `masks`: the same tape for an ordinary
 * backward pass; the tangent tape and the primal tape to back-propagate
 * through a tangent pass, whose layers have no bias. */
typedef struct backward_state {
    gan_ctx *ctx;
    const gan_params *params;
    gan_tensor **grads; /* NULL: no parameter gradients */
    int bias_grads;
} backward_state;

static void add_grad(backward_state *s, const gan_tensor *p, gan_tensor *g) {
    gan_params_add_grad(s->ctx, s->params, s->grads, p, g);
}

/* Through bias_act and the conv of layer c (whose filtered input was `in`
 * and output `out`): parameter gradients, and the gradient at the layer's
 * input before its FIR step (of size in_h x in_w) when want_input. */
static gan_tensor *conv_backward(backward_state *s, const sg2d_conv *c, const gan_tensor *in, const gan_tensor *out,
                                 const gan_tensor *dy, int in_h, int in_w, int want_input) {
    gan_ctx *ctx = s->ctx;
    gan_tensor *dz_owned = NULL;
    const gan_tensor *dz = dy;
    if (c->act.act != GAN_ACT_LINEAR) {
        dz = dz_owned = gan_bias_act_backward(ctx, dy, out, c->act);
        if (s->grads && s->bias_grads) add_grad(s, c->bias, gan_sum_channels(ctx, dz, 1.0f));
    }
    gan_conv2d_args a = conv_args(c);
    if (s->grads) add_grad(s, c->weight, gan_conv2d_backward_weight(ctx, dz, in, c->kernel, a));
    gan_tensor *din = NULL;
    if (want_input && dz) din = gan_conv2d_backward_input(ctx, dz, c->weight, a, (int)in->shape[2], (int)in->shape[3]);
    gan_tensor_free(ctx, dz_owned);
    if (!din || c->down != 2) return din;
    gan_tensor *dx = gan_upfirdn2d_backward(ctx, din, c->resample_filter, down_fir(c), in_h, in_w);
    gan_tensor_free(ctx, din);
    return dx;
}

static gan_tensor *fc_backward(backward_state *s, const sg2d_fc *fc, const gan_tensor *in, const gan_tensor *out,
                               const gan_tensor *dy) {
    gan_ctx *ctx = s->ctx;
    float gain = 1.0f / sqrtf((float)fc->in_features);
    gan_tensor *dz_owned = NULL;
    const gan_tensor *dz = dy;
    if (fc->act.act != GAN_ACT_LINEAR) dz = dz_owned = gan_bias_act_backward(ctx, dy, out, fc->act);
    if (s->grads) {
        if (s->bias_grads) add_grad(s, fc->bias, gan_sum_channels(ctx, dz, 1.0f));
        add_grad(s, fc->weight, gan_linear_backward_weight(ctx, dz, in, gain));
    }
    gan_tensor *dx = gan_linear_backward_input(ctx, dz, fc->weight, gain);
    gan_tensor_free(ctx, dz_owned);
    return dx;
}

/* dlogits -> the gradient at the epilogue's input; *d_mbstd_out (when not
 * NULL) gets the gradient at the minibatch-stddev output. */
static gan_tensor *epilogue_backward(backward_state *s, const sg2_discriminator *d, const sg2d_tape *acts,
                                     const sg2d_tape *masks, const gan_tensor *dlogits, gan_tensor **d_mbstd_out) {
    gan_ctx *ctx = s->ctx;
    const gan_tensor *conv = acts->conv_out;
    gan_tensor flat = reshaped(conv, 2, (int64_t[]){conv->shape[0], conv->numel / conv->shape[0]});
    gan_tensor *dfc = fc_backward(s, &d->out, acts->fc_out, NULL, dlogits);
    gan_tensor *dflat = dfc ? fc_backward(s, &d->fc, &flat, masks->fc_out, dfc) : NULL;
    gan_tensor_free(ctx, dfc);
    if (!dflat) return NULL;
    gan_tensor dconv = reshaped(dflat, 4, conv->shape);
    const gan_tensor *mb = acts->mbstd_out;
    gan_tensor *dmb = conv_backward(s, &d->epilogue_conv, mb, masks->conv_out, &dconv, (int)mb->shape[2],
                                    (int)mb->shape[3], 1);
    gan_tensor_free(ctx, dflat);
    /* mbstd's backward is the linear map at the primal input. */
    gan_tensor *dx = gan_mbstd_backward(ctx, dmb, masks->epilogue_in,
                                        (gan_mbstd_args){d->cfg.mbstd_group_size, d->cfg.mbstd_num_channels});
    if (d_mbstd_out) *d_mbstd_out = dmb;
    else gan_tensor_free(ctx, dmb);
    return dx;
}

/* dy at the block's output -> the gradient at its input. */
static gan_tensor *block_backward(backward_state *s, const sg2d_block *b, const sg2d_block_tape *acts,
                                  const sg2d_block_tape *masks, const gan_tensor *dy) {
    gan_ctx *ctx = s->ctx;
    int h = (int)acts->input->shape[2], w = (int)acts->input->shape[3];
    gan_tensor *dx = conv_backward(s, &b->skip, acts->skip_in, NULL, dy, h, w, 1);
    gan_tensor *dconv0 = conv_backward(s, &b->conv1, acts->conv1_in, masks->conv1_out, dy, h, w, 1);
    gan_tensor *dx0 = dconv0 ? conv_backward(s, &b->conv0, acts->input, masks->conv0_out, dconv0, h, w, 1) : NULL;
    gan_tensor_free(ctx, dconv0);
    if (dx && dx0) gan_accumulate(ctx, dx, dx0, 1.0f);
    gan_tensor_free(ctx, dx0);
    return dx;
}

/* From the gradient at the epilogue's input (consumed) back to the images. */
static int blocks_backward(backward_state *s, const sg2_discriminator *d, const sg2d_tape *acts,
                           const sg2d_tape *masks, gan_tensor *dx, gan_tensor **dimages) {
    gan_ctx *ctx = s->ctx;
    for (int i = d->num_blocks - 1; i >= 0 && dx; i--) {
        gan_tensor *next = block_backward(s, &d->blocks[i], &acts->blocks[i], &masks->blocks[i], dx);
        gan_tensor_free(ctx, dx);
        dx = next;
    }
    const gan_tensor *img = acts->images;
    gan_tensor *dimg = dx ? conv_backward(s, &d->blocks[0].fromrgb, img, masks->blocks[0].input, dx,
                                          (int)img->shape[2], (int)img->shape[3], dimages != NULL)
                          : NULL;
    gan_tensor_free(ctx, dx);
    if (ctx->failed) {
        gan_tensor_free(ctx, dimg);
        return -1;
    }
    if (dimages) *dimages = dimg;
    return 0;
}

static int check_tape(gan_ctx *ctx, const sg2d_tape *tape) {
    if (ctx->failed) return -1;
    if (!tape->epilogue_in || !tape->images) return gan_ctx_fail(ctx, "discriminator backward: no taped forward pass"), -1;
    return 0;
}

int sg2d_backward(gan_ctx *ctx, const sg2_discriminator *d, const sg2d_tape *tape, const gan_tensor *dlogits,
                  gan_tensor **grads, gan_tensor **dimages) {
    if (check_tape(ctx, tape) != 0) return -1;
    backward_state s = {ctx, &d->params, grads, 1};
    gan_tensor *dx = epilogue_backward(&s, d, tape, tape, dlogits, NULL);
    return blocks_backward(&s, d, tape, tape, dx, dimages);
}

int sg2d_tangent_backward(gan_ctx *ctx, const sg2_discriminator *d, const sg2d_tape *primal, const sg2d_tape *tangent,
                          const gan_tensor *dlogits, gan_tensor **grads) {
    if (check_tape(ctx, primal) != 0 || check_tape(ctx, tangent) != 0) return -1;
    /* Through the tangent layers: weight gradients (no biases there). */
    backward_state s = {ctx, &d->params, grads, 0};
    gan_tensor *d_mbstd_out = NULL;
    gan_tensor *dt = epilogue_backward(&s, d, tangent, primal, dlogits, &d_mbstd_out);
    if (blocks_backward(&s, d, tangent, primal, dt, NULL) != 0) {
        gan_tensor_free(ctx, d_mbstd_out);
        return -1;
    }
    /* The statistic's tangent also depends on the primal activations: that
     * gradient runs back through the primal blocks, biases included. */
    gan_tensor *dx = gan_mbstd_jvp_backward_x(ctx, d_mbstd_out, primal->epilogue_in, tangent->epilogue_in,
                                              (gan_mbstd_args){d->cfg.mbstd_group_size, d->cfg.mbstd_num_channels});
    gan_tensor_free(ctx, d_mbstd_out);
    backward_state p = {ctx, &d->params, grads, 1};
    return blocks_backward(&p, d, primal, primal, dx, NULL);
}

int sg2d_layer_index(const sg2_discriminator *d, const char *param_name) {
    static const char *const layers[] = {"fromrgb", "conv0", "conv1", "skip"};
    int index = 0;
    for (int i = 0; i < d->num_blocks; i++) {
        const sg2d_block *b = &d->blocks[i];
        for (int l = b->first ? 0 : 1; l < 4; l++, index++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "b%d.%s.", b->resolution, layers[l]);
            if (strncmp(param_name, prefix, strlen(prefix)) == 0) return index;
        }
    }
    return -1;
}
