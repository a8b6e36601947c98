#include "stylegan2.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/config.h"
#include "../io/safetensors.h"
#include "../ops.h"
#include "stylegan2_import.h"

/* ------------------------------------------------------------------ config */

static int is_power_of_two(int v) { return v > 0 && (v & (v - 1)) == 0; }

int sg2_channels(const sg2_config *cfg, int res) {
    int c = cfg->channel_base / res;
    return c < cfg->channel_max ? c : cfg->channel_max;
}

int sg2_num_ws(const sg2_config *cfg) {
    int log2r = 0;
    while ((1 << log2r) < cfg->img_resolution) log2r++;
    return 2 * log2r - 2;
}

double sg2_flops_per_image(const sg2_config *cfg) {
    double macs = (double)cfg->mapping_layers * cfg->w_dim * cfg->w_dim;
    const double fir_taps = 16, img = cfg->img_channels;
    for (int r = 4; r <= cfg->img_resolution; r *= 2) {
        double out = sg2_channels(cfg, r), in = r == 4 ? 0 : sg2_channels(cfg, r / 2), area = (double)r * r;
        if (in > 0) /* conv0: transposed conv at the input resolution, FIR at the output */
            macs += out * in * 9 * area / 4 + out * area * fir_taps + 2 * out * in * 9 + cfg->w_dim * in;
        macs += out * out * 9 * area + 2 * out * out * 9 + cfg->w_dim * out;   /* conv1 */
        macs += img * out * area + img * out + cfg->w_dim * out;                 /* torgb */
        if (r > 4) macs += img * area * fir_taps;                                /* image upsample */
    }
    return 2 * macs;
}

static int check_config(const sg2_config *cfg, gan_error *err) {
    if (!is_power_of_two(cfg->img_resolution) || cfg->img_resolution < SG2_MIN_RESOLUTION ||
        cfg->img_resolution > SG2_MAX_RESOLUTION)
        return gan_fail(err, "config: \"img_resolution\" must be a power of two from %d to %d, got %d",
                        SG2_MIN_RESOLUTION, SG2_MAX_RESOLUTION, cfg->img_resolution);
    if (sg2_channels(cfg, cfg->img_resolution) < 1)
        return gan_fail(err, "config: channel_base %d gives no channels at %d px", cfg->channel_base,
                        cfg->img_resolution);
    if (cfg->conv_clamp == 0) return gan_fail(err, "config: \"conv_clamp\" must be positive or null");
    return 0;
}

int sg2_config_parse(const char *json, sg2_config *cfg, gan_error *err) {
    cJSON *root = gan_json_parse_object(json, "config", err);
    if (!root) return -1;
    const char *arch = NULL, *architecture = NULL;
    double clamp = -1;
    int no_clamp = 1;
    int rc = gan_json_string(root, "arch", &arch, err);
    if (rc == 0 && !arch) rc = gan_fail(err, "config: missing key \"arch\"");
    if (rc == 0 && strcmp(arch, "stylegan2") != 0)
        rc = gan_fail(err, "config: unknown arch \"%s\" (this file is not a StyleGAN2 generator)", arch);
    if (rc == 0) rc = gan_json_string(root, "architecture", &architecture, err);
    if (rc == 0 && architecture && strcmp(architecture, "skip") != 0)
        rc = gan_fail(err, "config: generator architecture \"%s\" is not supported (only \"skip\")", architecture);
    if (rc == 0) rc = gan_json_int(root, "z_dim", 1, 1 << 16, 0, 0, &cfg->z_dim, err);
    if (rc == 0) rc = gan_json_int(root, "w_dim", 1, 1 << 16, 0, 0, &cfg->w_dim, err);
    if (rc == 0) rc = gan_json_int(root, "c_dim", 0, 1 << 16, 1, 0, &cfg->c_dim, err);
    if (rc == 0) rc = gan_json_int(root, "img_resolution", 1, 1 << 16, 0, 0, &cfg->img_resolution, err);
    if (rc == 0) rc = gan_json_int(root, "img_channels", 1, 4, 1, 3, &cfg->img_channels, err);
    if (rc == 0) rc = gan_json_int(root, "mapping_layers", 1, 64, 0, 0, &cfg->mapping_layers, err);
    if (rc == 0) rc = gan_json_int(root, "channel_base", 1, 1 << 24, 0, 0, &cfg->channel_base, err);
    if (rc == 0) rc = gan_json_int(root, "channel_max", 1, 1 << 16, 0, 0, &cfg->channel_max, err);
    if (rc == 0) rc = gan_json_number_or_null(root, "conv_clamp", &clamp, &no_clamp, err);
    if (rc == 0 && !no_clamp && clamp <= 0) rc = gan_fail(err, "config: \"conv_clamp\" must be positive or null");
    cJSON_Delete(root);
    if (rc != 0) return rc;
    cfg->conv_clamp = no_clamp ? -1.0f : (float)clamp;
    return check_config(cfg, err);
}

char *sg2_config_to_json(const sg2_config *cfg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "arch", "stylegan2");
    cJSON_AddNumberToObject(o, "z_dim", cfg->z_dim);
    cJSON_AddNumberToObject(o, "w_dim", cfg->w_dim);
    cJSON_AddNumberToObject(o, "c_dim", cfg->c_dim);
    cJSON_AddNumberToObject(o, "img_resolution", cfg->img_resolution);
    cJSON_AddNumberToObject(o, "img_channels", cfg->img_channels);
    cJSON_AddNumberToObject(o, "mapping_layers", cfg->mapping_layers);
    cJSON_AddNumberToObject(o, "channel_base", cfg->channel_base);
    cJSON_AddNumberToObject(o, "channel_max", cfg->channel_max);
    if (cfg->conv_clamp > 0)
        cJSON_AddNumberToObject(o, "conv_clamp", cfg->conv_clamp);
    else
        cJSON_AddNullToObject(o, "conv_clamp");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* train.py's cfg_specs (stylegan2.md section 3.4); 'small' is dne's own
 * config for training on a CPU in hours rather than weeks, 'tiny' a network
 * of a few thousand parameters per layer for smoke tests of the training loop. */
typedef struct preset {
    const char *name;
    int z_dim, mapping_layers, channel_base_small, channel_base_large, channel_max;
} preset;

static const preset presets[] = {
    {"auto", 512, 2, 16384, 32768, 512},     {"stylegan2", 512, 8, 32768, 32768, 512},
    {"paper256", 512, 8, 16384, 16384, 512}, {"paper512", 512, 8, 32768, 32768, 512},
    {"paper1024", 512, 8, 32768, 32768, 512}, {"cifar", 512, 2, 32768, 32768, 512},
    {"small", 256, 2, 2048, 2048, 256},      {"tiny", 32, 2, 512, 512, 32},
};

const char *sg2_preset_names(void) { return "auto, stylegan2, paper256, paper512, paper1024, cifar, small, tiny"; }

int sg2_config_preset(const char *name, int resolution, sg2_config *cfg, gan_error *err) {
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
        const preset *p = &presets[i];
        if (strcmp(p->name, name) != 0) continue;
        *cfg = (sg2_config){
            .z_dim = p->z_dim,
            .w_dim = p->z_dim,
            .c_dim = 0,
            .img_resolution = resolution,
            .img_channels = 3,
            .mapping_layers = p->mapping_layers,
            .channel_base = resolution >= 512 ? p->channel_base_large : p->channel_base_small,
            .channel_max = p->channel_max,
            .conv_clamp = 256,
        };
        return check_config(cfg, err);
    }
    return gan_fail(err, "unknown preset '%s' (known: %s)", name, sg2_preset_names());
}

int sg2_noise_mode_parse(const char *text, sg2_noise_mode *mode, gan_error *err) {
    if (strcmp(text, "const") == 0) *mode = SG2_NOISE_CONST;
    else if (strcmp(text, "random") == 0) *mode = SG2_NOISE_RANDOM;
    else if (strcmp(text, "none") == 0) *mode = SG2_NOISE_NONE;
    else return gan_fail(err, "bad noise mode '%s': expected const, random or none", text);
    return 0;
}

/* ----------------------------------------------------------- construction */

static const gan_init init_normal = {GAN_INIT_NORMAL, 1.0f};
static const gan_init init_zero = {GAN_INIT_CONSTANT, 0.0f};
static const gan_init init_one = {GAN_INIT_CONSTANT, 1.0f};
static const gan_init init_filter = {GAN_INIT_FIR_1331, 0.0f};
/* Mapping weights are stored divided by their learning-rate multiplier. */
#define MAPPING_LR_MUL 0.01f

typedef struct builder {
    gan_ctx *ctx;
    gan_params *params;
    char prefix[64];
} builder;

/* Names are short and fixed by the config, so a truncated one is a bug. */
static void set_prefix(gan_ctx *ctx, char *dst, size_t size, const char *parent, const char *child) {
    if ((size_t)snprintf(dst, size, "%s%s.", parent, child) >= size) gan_ctx_fail(ctx, "name too long: %s%s", parent, child);
}

static gan_tensor *add(builder *b, const char *name, int is_buffer, gan_init init, int ndim, const int64_t *shape) {
    char full[160];
    if ((size_t)snprintf(full, sizeof full, "%s%s", b->prefix, name) >= sizeof full)
        return gan_ctx_fail(b->ctx, "name too long: %s%s", b->prefix, name);
    return gan_params_add(b->ctx, b->params, full, is_buffer, init, ndim, shape);
}

#define SHAPE1(a) 1, (int64_t[]){a}
#define SHAPE2(a, b) 2, (int64_t[]){a, b}
#define SHAPE4(a, b, c, d) 4, (int64_t[]){a, b, c, d}

/* Registration order follows the reference modules: parameters, then
 * buffers, then sub-modules (affine). */
static void build_layer(builder *b, sg2_layer *l, const char *name, int w_dim, int is_torgb) {
    builder sub = *b;
    set_prefix(b->ctx, sub.prefix, sizeof sub.prefix, b->prefix, name);
    int o = l->out_channels, i = l->in_channels, k = l->kernel, r = l->resolution;
    l->weight = add(&sub, "weight", 0, init_normal, SHAPE4(o, i, k, k));
    if (!is_torgb) l->noise_strength = add(&sub, "noise_strength", 0, init_zero, 0, NULL);
    l->bias = add(&sub, "bias", 0, init_zero, SHAPE1(o));
    if (!is_torgb) {
        l->resample_filter = add(&sub, "resample_filter", 1, init_filter, SHAPE2(4, 4));
        l->noise_const = add(&sub, "noise_const", 1, init_normal, SHAPE2(r, r));
    }
    l->affine_weight = add(&sub, "affine.weight", 0, init_normal, SHAPE2(i, w_dim));
    l->affine_bias = add(&sub, "affine.bias", 0, init_one, SHAPE1(i));
}

static void build_block(builder *b, sg2_block *blk, const sg2_config *cfg) {
    builder sub = *b;
    char name[16];
    snprintf(name, sizeof name, "b%d", blk->resolution);
    set_prefix(b->ctx, sub.prefix, sizeof sub.prefix, "synthesis.", name);
    int r = blk->resolution, in = blk->in_channels, out = blk->out_channels;
    if (in == 0) blk->const_input = add(&sub, "const", 0, init_normal, 3, (int64_t[]){out, r, r});
    blk->resample_filter = add(&sub, "resample_filter", 1, init_filter, SHAPE2(4, 4));
    if (in != 0) {
        blk->conv0 = (sg2_layer){.in_channels = in, .out_channels = out, .kernel = 3, .up = 2, .resolution = r};
        build_layer(&sub, &blk->conv0, "conv0", cfg->w_dim, 0);
    }
    blk->conv1 = (sg2_layer){.in_channels = out, .out_channels = out, .kernel = 3, .up = 1, .resolution = r};
    build_layer(&sub, &blk->conv1, "conv1", cfg->w_dim, 0);
    blk->torgb =
        (sg2_layer){.in_channels = out, .out_channels = cfg->img_channels, .kernel = 1, .up = 1, .resolution = r};
    build_layer(&sub, &blk->torgb, "torgb", cfg->w_dim, 1);
}

static void build_mapping(builder *b, sg2_generator *g) {
    const sg2_config *cfg = &g->cfg;
    const gan_init init_fc = {GAN_INIT_NORMAL, 1.0f / MAPPING_LR_MUL};
    g->w_avg = add(b, "mapping.w_avg", 1, init_zero, SHAPE1(cfg->w_dim));
    if (cfg->c_dim > 0) {
        g->embed_weight = add(b, "mapping.embed.weight", 0, init_normal, SHAPE2(cfg->w_dim, cfg->c_dim));
        g->embed_bias = add(b, "mapping.embed.bias", 0, init_zero, SHAPE1(cfg->w_dim));
    }
    int in = cfg->z_dim + (cfg->c_dim > 0 ? cfg->w_dim : 0);
    for (int i = 0; i < cfg->mapping_layers; i++) {
        char name[64];
        snprintf(name, sizeof name, "mapping.fc%d.weight", i);
        g->fc_weight[i] = add(b, name, 0, init_fc, SHAPE2(cfg->w_dim, in));
        snprintf(name, sizeof name, "mapping.fc%d.bias", i);
        g->fc_bias[i] = add(b, name, 0, init_zero, SHAPE1(cfg->w_dim));
        in = cfg->w_dim;
    }
}

sg2_generator *sg2_create(gan_ctx *ctx, const sg2_config *cfg, gan_error *err) {
    if (check_config(cfg, err) != 0) return NULL;
    sg2_generator *g = calloc(1, sizeof *g);
    if (g) g->fc_weight = calloc((size_t)cfg->mapping_layers, sizeof *g->fc_weight);
    if (g) g->fc_bias = calloc((size_t)cfg->mapping_layers, sizeof *g->fc_bias);
    if (!g || !g->fc_weight || !g->fc_bias) {
        sg2_free(ctx, g);
        gan_fail(err, "out of memory creating a generator");
        return NULL;
    }
    g->cfg = *cfg;
    g->num_ws = sg2_num_ws(cfg);
    builder b = {ctx, &g->params, ""};
    for (int r = 4; r <= cfg->img_resolution; r *= 2) {
        sg2_block *blk = &g->blocks[g->num_blocks++];
        blk->resolution = r;
        blk->in_channels = r == 4 ? 0 : sg2_channels(cfg, r / 2);
        blk->out_channels = sg2_channels(cfg, r);
        build_block(&b, blk, cfg);
    }
    build_mapping(&b, g);
    if (gan_ctx_failed(ctx)) {
        gan_ctx_take_error(ctx, err);
        sg2_free(ctx, g);
        return NULL;
    }
    return g;
}

void sg2_free(gan_ctx *ctx, sg2_generator *g) {
    if (!g) return;
    gan_params_free(ctx, &g->params);
    free(g->fc_weight);
    free(g->fc_bias);
    free(g);
}

int sg2_init_random(gan_ctx *ctx, sg2_generator *g, uint64_t seed, gan_error *err) {
    return gan_params_init(ctx, &g->params, seed, err);
}

sg2_generator *sg2_load(gan_ctx *ctx, const char *path, const char *prefix, gan_error *err) {
    if (sg2_is_pickle(path)) /* a stylegan2-ada-pytorch snapshot */
        return sg2_load_pickle(ctx, path, strcmp(prefix, "G.") == 0 ? SG2_IMPORT_G : SG2_IMPORT_G_EMA, err);
    gan_st_file *file = NULL;
    if (gan_st_open(path, &file, err) != 0) return NULL;
    sg2_generator *g = NULL;
    sg2_config cfg;
    const char *json = gan_st_meta(file, "config"), *format = gan_st_meta(file, "format");
    /* A training checkpoint or a whole imported snapshot holds G, D and
     * G_ema: the generator is G_ema. */
    if (prefix[0] == 0 && format && (strcmp(format, "dne-checkpoint") == 0 || strcmp(format, "dne-import") == 0))
        prefix = "G_ema.";
    if (!json)
        gan_fail(err, "no \"config\" in the file's __metadata__ (not a dne/stylegan2 generator file?)");
    else if (sg2_config_parse(json, &cfg, err) == 0 && (g = sg2_create(ctx, &cfg, err)) != NULL &&
             gan_params_load(ctx, &g->params, file, prefix, err) != 0) {
        sg2_free(ctx, g);
        g = NULL;
    }
    gan_st_close(file);
    if (!g) gan_fail_context(err, "%s", path);
    return g;
}

int sg2_save(gan_ctx *ctx, const sg2_generator *g, const char *path, gan_error *err) {
    gan_st_writer *w = gan_st_writer_new();
    char *json = sg2_config_to_json(&g->cfg);
    gan_host_copies copies = {0};
    int rc = (!w || !json) ? gan_fail(err, "out of memory") : 0;
    if (rc == 0) rc = gan_st_writer_meta(w, "config", json, err);
    if (rc == 0) rc = gan_st_writer_meta(w, "format", "dne-generator", err);
    if (rc == 0) rc = gan_params_write(ctx, &g->params, "", w, &copies, err);
    if (rc == 0) rc = gan_st_writer_save(w, path, err);
    gan_params_free_copies(&copies);
    gan_st_writer_free(w);
    free(json);
    return rc;
}

/* ----------------------------------------------------------------- forward */

/* Replaces *slot by value, freeing what was there: forward passes keep only
 * the tensors they still need, so memory tracks the largest layer. */
static void replace(gan_ctx *ctx, gan_tensor **slot, gan_tensor *value) {
    gan_tensor_free(ctx, *slot);
    *slot = value;
}

static gan_tensor *fc_lrelu(gan_ctx *ctx, gan_tensor *x, const gan_tensor *weight, const gan_tensor *bias) {
    float in = (float)weight->shape[1];
    gan_tensor *y = gan_linear(ctx, x, weight, bias, MAPPING_LR_MUL / sqrtf(in), MAPPING_LR_MUL);
    return gan_bias_act_inplace(ctx, y, NULL, NULL, NULL,
                                (gan_bias_act_args){GAN_ACT_LRELU, 0.2f, gan_act_default_gain(GAN_ACT_LRELU), -1});
}

gan_tensor *sg2_mapping(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *z, const gan_tensor *c, float psi,
                        int cutoff) {
    const sg2_config *cfg = &g->cfg;
    if (cfg->c_dim > 0 && !c) return gan_ctx_fail(ctx, "this generator is conditional: it needs a class label");
    gan_tensor *x = gan_normalize_2nd_moment(ctx, z);
    if (cfg->c_dim > 0) {
        gan_tensor *embedded = gan_linear(ctx, c, g->embed_weight, g->embed_bias, 1.0f / sqrtf((float)cfg->c_dim), 1);
        gan_tensor *y = gan_normalize_2nd_moment(ctx, embedded);
        gan_tensor_free(ctx, embedded);
        replace(ctx, &x, gan_concat_cols(ctx, x, y));
        gan_tensor_free(ctx, y);
    }
    for (int i = 0; i < cfg->mapping_layers; i++) replace(ctx, &x, fc_lrelu(ctx, x, g->fc_weight[i], g->fc_bias[i]));
    gan_tensor *ws = gan_broadcast_rows(ctx, x, g->num_ws);
    gan_tensor_free(ctx, x);
    if (psi != 1.0f) replace(ctx, &ws, gan_truncate(ctx, ws, g->w_avg, psi, cutoff));
    return ws;
}

/* Where layer noise comes from in each mode; `offset` separates the layers'
 * ranges of each image's random stream. */
typedef struct noise_source {
    sg2_noise_mode mode;
    const uint64_t *seeds;
    uint64_t offset;
} noise_source;

static gan_tensor *layer_noise(gan_ctx *ctx, const sg2_layer *l, int64_t n, noise_source *src) {
    if (src->mode != SG2_NOISE_RANDOM) return NULL;
    int64_t r = l->resolution;
    gan_tensor *noise = gan_randn(ctx, 4, (int64_t[]){n, 1, r, r}, src->seeds, (int)n, src->offset);
    src->offset += (uint64_t)(r * r);
    return noise;
}

/* SynthesisLayer: affine -> modulated conv -> noise -> bias, lrelu, gain, clamp. */
static gan_tensor *synthesis_layer(gan_ctx *ctx, const sg2_generator *g, const sg2_layer *l, const gan_tensor *x,
                                   const gan_tensor *w, noise_source *noise) {
    float affine_gain = 1.0f / sqrtf((float)g->cfg.w_dim);
    gan_tensor *styles = gan_linear(ctx, w, l->affine_weight, l->affine_bias, affine_gain, 1.0f);
    gan_tensor *h = gan_modconv(ctx, x, l->weight, styles, (gan_modconv_args){1, l->up, l->resample_filter});
    gan_tensor_free(ctx, styles);
    gan_tensor *random = layer_noise(ctx, l, x ? x->shape[0] : 0, noise);
    const gan_tensor *n = noise->mode == SG2_NOISE_CONST ? l->noise_const : random;
    gan_bias_act_args act = {GAN_ACT_LRELU, 0.2f, gan_act_default_gain(GAN_ACT_LRELU), g->cfg.conv_clamp};
    gan_tensor *y = gan_bias_act_inplace(ctx, h, l->bias, n, n ? l->noise_strength : NULL, act);
    gan_tensor_free(ctx, random);
    return y;
}

/* ToRGBLayer: 1x1 modulated conv without demodulation, styles scaled by
 * 1/sqrt(I), then bias and clamp. */
static gan_tensor *torgb_layer(gan_ctx *ctx, const sg2_generator *g, const sg2_layer *l, const gan_tensor *x,
                               const gan_tensor *w) {
    float gain = 1.0f / sqrtf((float)l->in_channels);
    float affine_gain = 1.0f / sqrtf((float)g->cfg.w_dim);
    gan_tensor *styles = gan_linear(ctx, w, l->affine_weight, l->affine_bias, affine_gain * gain, gain);
    gan_tensor *h = gan_modconv(ctx, x, l->weight, styles, (gan_modconv_args){0, 1, NULL});
    gan_tensor_free(ctx, styles);
    return gan_bias_act_inplace(ctx, h, l->bias, NULL, NULL, (gan_bias_act_args){GAN_ACT_LINEAR, 0, 1, g->cfg.conv_clamp});
}

static gan_tensor *ws_row(gan_ctx *ctx, const gan_tensor *ws, int index) { return gan_select_row(ctx, ws, index); }

/* SynthesisBlock ('skip'): [const | conv0] -> conv1 -> torgb, image skip sum.
 * Block b reads ws[w_index ...]: conv0, conv1 and torgb in turn; torgb's w is
 * shared with the next block's conv0. */
static void synthesis_block(gan_ctx *ctx, const sg2_generator *g, const sg2_block *blk, const gan_tensor *ws,
                            int w_index, gan_tensor **x, gan_tensor **img, noise_source *noise) {
    int64_t n = ws->shape[0];
    gan_tensor *w;
    if (blk->in_channels == 0) {
        replace(ctx, x, gan_repeat(ctx, blk->const_input, n));
    } else {
        w = ws_row(ctx, ws, w_index++);
        replace(ctx, x, synthesis_layer(ctx, g, &blk->conv0, *x, w, noise));
        gan_tensor_free(ctx, w);
    }
    w = ws_row(ctx, ws, w_index++);
    replace(ctx, x, synthesis_layer(ctx, g, &blk->conv1, *x, w, noise));
    gan_tensor_free(ctx, w);

    w = ws_row(ctx, ws, w_index);
    gan_tensor *rgb = torgb_layer(ctx, g, &blk->torgb, *x, w);
    gan_tensor_free(ctx, w);
    if (!*img) {
        *img = rgb;
        return;
    }
    gan_tensor *up = gan_upsample2d(ctx, *img, blk->resample_filter);
    replace(ctx, img, gan_add(ctx, up, rgb));
    gan_tensor_free(ctx, up);
    gan_tensor_free(ctx, rgb);
}

/* The synthesis network for one chunk of images. */
static gan_tensor *synthesis_chunk(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *ws,
                                   sg2_noise_mode noise_mode, const uint64_t *noise_seeds) {
    noise_source noise = {noise_mode, noise_seeds, 0};
    gan_tensor *x = NULL, *img = NULL;
    int w_index = 0;
    for (int b = 0; b < g->num_blocks && !ctx->failed; b++) {
        synthesis_block(ctx, g, &g->blocks[b], ws, w_index, &x, &img, &noise);
        w_index += b == 0 ? 1 : 2;
    }
    gan_tensor_free(ctx, x);
    if (ctx->failed) {
        gan_tensor_free(ctx, img);
        return NULL;
    }
    return img;
}

/* On the CPU images go through the network one at a time: a layer's output
 * then is still in cache when the next layer reads it, which a batch of
 * large activations defeats, and peak memory stays that of one image. */
static int64_t chunk_size(const gan_ctx *ctx, int64_t n) { return ctx->device.type == GAN_DEVICE_CPU ? 1 : n; }

gan_tensor *sg2_synthesis(gan_ctx *ctx, const sg2_generator *g, const gan_tensor *ws, sg2_noise_mode noise_mode,
                          const uint64_t *noise_seeds) {
    if (!ws || ctx->failed) return NULL;
    char buf[GAN_SHAPE_STR_LEN];
    if (ws->ndim != 3 || ws->shape[1] != g->num_ws || ws->shape[2] != g->cfg.w_dim)
        return gan_ctx_fail(ctx, "synthesis: ws %s, expected [N, %d, %d]",
                            gan_shape_str(ws->ndim, ws->shape, buf, sizeof buf), g->num_ws, g->cfg.w_dim);
    if (noise_mode == SG2_NOISE_RANDOM && !noise_seeds)
        return gan_ctx_fail(ctx, "synthesis: random noise needs a seed per image");
    int64_t n = ws->shape[0], chunk = chunk_size(ctx, n);
    if (chunk >= n) return synthesis_chunk(ctx, g, ws, noise_mode, noise_seeds);
    int64_t r = g->cfg.img_resolution;
    gan_tensor *img = gan_tensor_4d(ctx, n, g->cfg.img_channels, r, r);
    for (int64_t start = 0; start < n && !ctx->failed; start += chunk) {
        int64_t count = n - start < chunk ? n - start : chunk;
        gan_tensor *part_ws = gan_slice(ctx, ws, start, count);
        gan_tensor *part = synthesis_chunk(ctx, g, part_ws, noise_mode, noise_seeds ? noise_seeds + start : NULL);
        gan_write_slice(ctx, img, part, start);
        gan_tensor_free(ctx, part_ws);
        gan_tensor_free(ctx, part);
    }
    if (ctx->failed) {
        gan_tensor_free(ctx, img);
        return NULL;
    }
    return img;
}
