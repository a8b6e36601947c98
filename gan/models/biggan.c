/* BigGAN's generator: config, construction in state_dict order, files, and
 * the forward pass in training and evaluation mode. */
#include "biggan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/config.h"
#include "../io/safetensors.h"
#include "../ops.h"
#include "biggan_tape.h"

/* ------------------------------------------------------------------ config */

/* G_arch of the reference: channel multipliers of each block's input and
 * output; block i works at 8 * 2^i px. */
typedef struct g_arch {
    int resolution, blocks;
    int in[BG_MAX_BLOCKS], out[BG_MAX_BLOCKS];
} g_arch;

static const g_arch g_archs[] = {
    {32, 3, {4, 4, 4}, {4, 4, 4}},
    {64, 4, {16, 16, 8, 4}, {16, 8, 4, 2}},
    {128, 5, {16, 16, 8, 4, 2}, {16, 8, 4, 2, 1}},
    {256, 6, {16, 16, 8, 8, 4, 2}, {16, 8, 8, 4, 2, 1}},
    {512, 7, {16, 16, 8, 8, 4, 2, 1}, {16, 8, 8, 4, 2, 1, 1}},
};

static const g_arch *find_g_arch(int resolution) {
    for (size_t i = 0; i < sizeof g_archs / sizeof *g_archs; i++)
        if (g_archs[i].resolution == resolution) return &g_archs[i];
    return NULL;
}

static int check_config(const bg_config *cfg, gan_error *err) {
    const g_arch *arch = find_g_arch(cfg->resolution);
    if (!arch) return gan_fail(err, "config: \"resolution\" must be 32, 64, 128, 256 or 512, got %d", cfg->resolution);
    if (cfg->bottom_width != 4) return gan_fail(err, "config: \"bottom_width\" must be 4, got %d", cfg->bottom_width);
    if (cfg->n_classes < 1 || cfg->ch < 1 || cfg->shared_dim < 1)
        return gan_fail(err, "config: \"n_classes\", \"G_ch\" and \"shared_dim\" must be at least 1");
    int slots = cfg->hier ? arch->blocks + 1 : 1;
    if (cfg->dim_z < slots)
        return gan_fail(err, "config: \"dim_z\" %d is too small for %d hierarchical slots", cfg->dim_z, slots);
    if (cfg->dim_z % slots != 0)
        return gan_fail(err, "config: \"dim_z\" %d is not a multiple of the %d hierarchical slots", cfg->dim_z, slots);
    return bg_check_attention(cfg->attn, "G_attn", err);
}

int bg_is_biggan_config(const char *json) {
    gan_error err;
    cJSON *root = json ? gan_json_parse_object(json, "config", &err) : NULL;
    const char *arch = NULL;
    int yes = root && gan_json_string(root, "arch", &arch, &err) == 0 && arch && strcmp(arch, "biggan") == 0;
    cJSON_Delete(root);
    return yes;
}

int bg_file_is_biggan(const char *path) {
    gan_st_file *file = NULL;
    gan_error err;
    if (gan_st_open(path, &file, &err) != 0) return 0;
    int yes = bg_is_biggan_config(gan_st_meta(file, "config"));
    gan_st_close(file);
    return yes;
}

int bg_config_parse(const char *json, bg_config *cfg, gan_error *err) {
    cJSON *root = gan_json_parse_object(json, "config", err);
    if (!root) return -1;
    const char *attn = NULL;
    double bn_eps = 1e-5, sn_eps = 1e-6;
    *cfg = (bg_config){0};
    int rc = bg_json_check_arch(root, err);
    if (rc == 0) rc = gan_json_int(root, "resolution", 1, 1 << 16, 0, 0, &cfg->resolution, err);
    if (rc == 0) rc = gan_json_int(root, "G_ch", 1, 4096, 0, 0, &cfg->ch, err);
    if (rc == 0) rc = gan_json_int(root, "dim_z", 1, 1 << 16, 0, 0, &cfg->dim_z, err);
    if (rc == 0) rc = gan_json_int(root, "shared_dim", 1, 1 << 16, 0, 0, &cfg->shared_dim, err);
    if (rc == 0) rc = gan_json_int(root, "n_classes", 1, 1 << 20, 0, 0, &cfg->n_classes, err);
    if (rc == 0) rc = gan_json_bool(root, "hier", 1, &cfg->hier, err);
    if (rc == 0) rc = gan_json_int(root, "bottom_width", 1, 64, 1, 4, &cfg->bottom_width, err);
    if (rc == 0) rc = gan_json_string(root, "G_attn", &attn, err);
    if (rc == 0) rc = bg_copy_attention(cfg->attn, attn ? attn : "64", "G_attn", err);
    if (rc == 0) rc = gan_json_number(root, "BN_eps", 0, 1, 1e-5, &bn_eps, err);
    if (rc == 0) rc = gan_json_number(root, "SN_eps", 0, 1, 1e-6, &sn_eps, err);
    cJSON_Delete(root);
    if (rc != 0) return rc;
    cfg->bn_eps = (float)bn_eps;
    cfg->sn_eps = (float)sn_eps;
    return check_config(cfg, err);
}

char *bg_config_to_json(const bg_config *cfg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "arch", "biggan");
    cJSON_AddNumberToObject(o, "resolution", cfg->resolution);
    cJSON_AddNumberToObject(o, "G_ch", cfg->ch);
    cJSON_AddNumberToObject(o, "dim_z", cfg->dim_z);
    cJSON_AddNumberToObject(o, "shared_dim", cfg->shared_dim);
    cJSON_AddNumberToObject(o, "n_classes", cfg->n_classes);
    cJSON_AddBoolToObject(o, "hier", cfg->hier);
    cJSON_AddNumberToObject(o, "bottom_width", cfg->bottom_width);
    cJSON_AddStringToObject(o, "G_attn", cfg->attn);
    cJSON_AddNumberToObject(o, "BN_eps", cfg->bn_eps);
    cJSON_AddNumberToObject(o, "SN_eps", cfg->sn_eps);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

void bg_config_round_dim_z(bg_config *cfg) {
    const g_arch *arch = find_g_arch(cfg->resolution);
    int slots = arch && cfg->hier ? arch->blocks + 1 : 1;
    if (cfg->dim_z >= slots) cfg->dim_z = cfg->dim_z / slots * slots;
}

bg_config bg_config_default(int resolution, int ch, int n_classes) {
    int dim_z = resolution == 256 ? 140 : resolution == 512 ? 128 : 120;
    bg_config cfg = {.resolution = resolution, .ch = ch, .dim_z = dim_z, .shared_dim = 128, .n_classes = n_classes,
                     .hier = 1, .bottom_width = 4, .bn_eps = 1e-5f, .sn_eps = 1e-6f};
    snprintf(cfg.attn, sizeof cfg.attn, "%s", resolution == 256 ? "128" : resolution == 32 ? "0" : "64");
    bg_config_round_dim_z(&cfg);
    return cfg;
}

/* ----------------------------------------------------------- construction */

static void build_gblock(bg_builder *b, bg_gblock *blk, int cond_dim) {
    bg_builder sub = bg_builder_child(b, "0");
    int in = blk->in_channels, out = blk->out_channels;
    bg_build_layer(&sub, &blk->conv1, "conv1", out, in, 3, 1);
    bg_build_layer(&sub, &blk->conv2, "conv2", out, out, 3, 1);
    bg_build_layer(&sub, &blk->conv_sc, "conv_sc", out, in, 1, 1);
    bg_build_ccbn(&sub, &blk->bn1, "bn1", in, cond_dim);
    bg_build_ccbn(&sub, &blk->bn2, "bn2", out, cond_dim);
    if (blk->has_attention) {
        bg_builder att = bg_builder_child(b, "1");
        bg_build_attention(&att, &blk->attention, out);
    }
}

bg_generator *bg_create(gan_ctx *ctx, const bg_config *cfg, gan_error *err) {
    if (check_config(cfg, err) != 0) return NULL;
    bg_generator *g = calloc(1, sizeof *g);
    if (!g) {
        gan_fail(err, "out of memory creating a generator");
        return NULL;
    }
    const g_arch *arch = find_g_arch(cfg->resolution);
    g->cfg = *cfg;
    g->num_blocks = arch->blocks;
    g->num_slots = cfg->hier ? arch->blocks + 1 : 1;
    g->z_chunk = cfg->dim_z / g->num_slots;
    int bw = cfg->bottom_width, cond_dim = cfg->shared_dim + (cfg->hier ? g->z_chunk : 0);
    bg_builder b = bg_builder_root(ctx, &g->params, cfg->sn_eps);
    g->shared = bg_add(&b, "shared.weight", 0, bg_init_orthogonal, 2, (int64_t[]){cfg->n_classes, cfg->shared_dim});
    bg_build_layer(&b, &g->linear, "linear", arch->in[0] * cfg->ch * bw * bw, g->z_chunk, 0, 1);
    for (int i = 0; i < arch->blocks; i++) {
        bg_gblock *blk = &g->blocks[i];
        blk->in_channels = arch->in[i] * cfg->ch;
        blk->out_channels = arch->out[i] * cfg->ch;
        blk->resolution = 8 << i;
        blk->has_attention = bg_attention_at(cfg->attn, blk->resolution);
        char name[32];
        snprintf(name, sizeof name, "blocks.%d", i);
        bg_builder sub = bg_builder_child(&b, name);
        build_gblock(&sub, blk, cond_dim);
    }
    int last = arch->out[arch->blocks - 1] * cfg->ch;
    bg_builder out = bg_builder_child(&b, "output_layer");
    bg_build_plain_bn(&out, &g->out_bn, "0", last);
    bg_build_layer(&out, &g->out_conv, "2", 3, last, 3, 1);
    if (gan_ctx_failed(ctx)) {
        gan_ctx_take_error(ctx, err);
        bg_free(ctx, g);
        return NULL;
    }
    return g;
}

void bg_free(gan_ctx *ctx, bg_generator *g) {
    if (!g) return;
    gan_params_free(ctx, &g->params);
    free(g);
}

int bg_init_random(gan_ctx *ctx, bg_generator *g, uint64_t seed, gan_error *err) {
    return gan_params_init(ctx, &g->params, seed, err);
}

bg_generator *bg_load(gan_ctx *ctx, const char *path, const char *prefix, gan_error *err) {
    gan_st_file *file = NULL;
    if (gan_st_open(path, &file, err) != 0) return NULL;
    bg_generator *g = NULL;
    bg_config cfg;
    const char *json = gan_st_meta(file, "config"), *format = gan_st_meta(file, "format");
    if (prefix[0] == 0 && format && strcmp(format, "dne-checkpoint") == 0) prefix = "G_ema.";
    if (!json)
        gan_fail(err, "no \"config\" in the file's __metadata__ (not a dne generator file?)");
    else if (bg_config_parse(json, &cfg, err) == 0 && (g = bg_create(ctx, &cfg, err)) != NULL &&
             gan_params_load(ctx, &g->params, file, prefix, err) != 0) {
        bg_free(ctx, g);
        g = NULL;
    }
    gan_st_close(file);
    if (!g) gan_fail_context(err, "%s", path);
    return g;
}

int bg_save(gan_ctx *ctx, const bg_generator *g, const char *path, gan_error *err) {
    char *json = bg_config_to_json(&g->cfg);
    int rc = json ? bg_save_params(ctx, &g->params, json, "dne-generator", path, err) : gan_fail(err, "out of memory");
    free(json);
    return rc;
}

/* ----------------------------------------------------------------- forward */

/* The reference builds the output layer's batch norm without an eps, so it
 * keeps PyTorch's 1e-5 whatever BN_eps is (BN_eps reaches the class-
 * conditional norms only). */
#define OUTPUT_BN_EPS 1e-5f

gan_tensor *bg_embed_classes(gan_ctx *ctx, const bg_generator *g, const gan_tensor *labels) {
    return gan_matmul(ctx, labels, g->shared, 0, 0);
}

bg_tape *bg_tape_new(void) { return calloc(1, sizeof(bg_tape)); }

static void gblock_tape_free(gan_ctx *ctx, bg_gblock_tape *t) {
    bg_bn_tape_free(ctx, &t->bn1);
    bg_bn_tape_free(ctx, &t->bn2);
    bg_layer_tape_free(ctx, &t->conv1);
    bg_layer_tape_free(ctx, &t->conv2);
    bg_layer_tape_free(ctx, &t->conv_sc);
    gan_tensor *owned[] = {t->act1, t->up1, t->x_up, t->conv1_out, t->act2, t->out, t->attention_out};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) gan_tensor_free(ctx, owned[i]);
    bg_attention_tape_free(ctx, &t->attention);
    *t = (bg_gblock_tape){0};
}

void bg_tape_free(gan_ctx *ctx, bg_tape *t) {
    if (!t) return;
    gan_tensor_free(ctx, t->z0);
    gan_tensor_free(ctx, t->h0);
    gan_tensor_free(ctx, t->out_act);
    for (int i = 0; i < BG_MAX_BLOCKS; i++) {
        gan_tensor_free(ctx, t->conds[i]);
        gblock_tape_free(ctx, &t->blocks[i]);
    }
    bg_layer_tape_free(ctx, &t->linear);
    bg_bn_tape_free(ctx, &t->out_bn);
    bg_layer_tape_free(ctx, &t->out_conv);
    free(t);
}

/* A GBlock (and its attention). x is consumed without a tape and borrowed
 * with one; the result is the caller's without a tape and the tape's with
 * one. */
static gan_tensor *gblock_forward(gan_ctx *ctx, const bg_gblock *blk, const bg_config *cfg, gan_tensor *x,
                                  const gan_tensor *cond, bg_mode mode, bg_gblock_tape *t) {
    gan_tensor *act1 = bg_relu_inplace(ctx, bg_bn_forward(ctx, &blk->bn1, x, cond, cfg->bn_eps, mode, BG_SLOT(t, bn1)));
    gan_tensor *up1 = gan_upsample_nearest2d(ctx, act1);
    gan_tensor *x_up = gan_upsample_nearest2d(ctx, x);
    bg_keep(ctx, BG_SLOT(t, act1), act1);
    if (!t) gan_tensor_free(ctx, x);
    gan_tensor *conv1_out = bg_conv_forward(ctx, &blk->conv1, up1, mode, BG_SLOT(t, conv1));
    gan_tensor *act2 =
        bg_relu_inplace(ctx, bg_bn_forward(ctx, &blk->bn2, conv1_out, cond, cfg->bn_eps, mode, BG_SLOT(t, bn2)));
    gan_tensor *h = bg_conv_forward(ctx, &blk->conv2, act2, mode, BG_SLOT(t, conv2));
    gan_tensor *shortcut = bg_conv_forward(ctx, &blk->conv_sc, x_up, mode, BG_SLOT(t, conv_sc));
    gan_tensor *y = gan_add(ctx, h, shortcut);
    gan_tensor_free(ctx, h);
    gan_tensor_free(ctx, shortcut);
    if (t) {
        t->x = x;
        t->cond = cond;
    }
    bg_keep(ctx, BG_SLOT(t, up1), up1);
    bg_keep(ctx, BG_SLOT(t, x_up), x_up);
    bg_keep(ctx, BG_SLOT(t, conv1_out), conv1_out);
    bg_keep(ctx, BG_SLOT(t, act2), act2);
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

/* The conditioning vector of block i: the class embedding, then the block's
 * slice of z when z is hierarchical. */
static gan_tensor *block_condition(gan_ctx *ctx, const bg_generator *g, const gan_tensor *zs, const gan_tensor *y_emb,
                                   int block) {
    if (!g->cfg.hier) return gan_scale(ctx, y_emb, 1.0f);
    gan_tensor *chunk = gan_select_row(ctx, zs, block + 1);
    gan_tensor *cond = gan_concat_cols(ctx, y_emb, chunk);
    gan_tensor_free(ctx, chunk);
    return cond;
}

static int check_inputs(gan_ctx *ctx, const bg_generator *g, const gan_tensor *z, const gan_tensor *y_emb) {
    char a[GAN_SHAPE_STR_LEN], b[GAN_SHAPE_STR_LEN];
    const bg_config *cfg = &g->cfg;
    if (z->ndim == 2 && z->shape[1] == cfg->dim_z && y_emb->ndim == 2 && y_emb->shape[0] == z->shape[0] &&
        y_emb->shape[1] == cfg->shared_dim)
        return 0;
    gan_ctx_fail(ctx, "biggan: expected z [N, %d] and class embeddings [N, %d], got %s and %s", cfg->dim_z,
                 cfg->shared_dim, gan_shape_str(z->ndim, z->shape, a, sizeof a),
                 gan_shape_str(y_emb->ndim, y_emb->shape, b, sizeof b));
    return -1;
}

/* The blocks, from the first linear layer's output h (consumed without a
 * tape, the tape's with one). */
static gan_tensor *blocks_forward(gan_ctx *ctx, const bg_generator *g, gan_tensor *h, const gan_tensor *zs,
                                  const gan_tensor *y_emb, bg_mode mode, bg_tape *t) {
    for (int i = 0; i < g->num_blocks && h; i++) {
        gan_tensor *cond = block_condition(ctx, g, zs, y_emb, i);
        h = gblock_forward(ctx, &g->blocks[i], &g->cfg, h, cond, mode, BG_SLOT(t, blocks[i]));
        bg_keep(ctx, BG_SLOT(t, conds[i]), cond);
    }
    return h;
}

gan_tensor *bg_forward(gan_ctx *ctx, const bg_generator *g, const gan_tensor *z, const gan_tensor *y_emb,
                       bg_mode mode, bg_tape *t) {
    const bg_config *cfg = &g->cfg;
    if (gan_ctx_failed(ctx) || !z || !y_emb || check_inputs(ctx, g, z, y_emb) != 0) return NULL;
    if (t && mode != BG_TRAIN) return gan_ctx_fail(ctx, "biggan: a tape needs a training-mode forward pass");
    int64_t n = z->shape[0];
    gan_tensor zs = gan_tensor_view(z, 3, (int64_t[]){n, g->num_slots, g->z_chunk});
    gan_tensor *z0 = gan_select_row(ctx, &zs, 0);
    gan_tensor *h = bg_linear_forward(ctx, &g->linear, z0, mode, BG_SLOT(t, linear));
    bg_keep(ctx, BG_SLOT(t, z0), z0);
    int bw = cfg->bottom_width;
    bg_reshape_owned(h, 4, (int64_t[]){n, g->blocks[0].in_channels, bw, bw});
    if (t) {
        t->z = z;
        t->y_emb = y_emb;
        t->h0 = h;
    }
    h = blocks_forward(ctx, g, h, &zs, y_emb, mode, t);
    gan_tensor *act =
        bg_relu_inplace(ctx, bg_bn_forward(ctx, &g->out_bn, h, NULL, OUTPUT_BN_EPS, mode, BG_SLOT(t, out_bn)));
    if (!t) gan_tensor_free(ctx, h);
    gan_tensor *y = bg_conv_forward(ctx, &g->out_conv, act, mode, BG_SLOT(t, out_conv));
    bg_keep(ctx, BG_SLOT(t, out_act), act);
    gan_tensor *images = gan_tanh(ctx, y);
    gan_tensor_free(ctx, y);
    return images;
}
/* ---------------------------------------------------------------- backward */

/* Splits x [N, A + B] into its first A columns and the rest, as products
 * with selection matrices (only the conditioning vectors' gradients, a few
 * hundred columns, go through here). */
static int split_columns(gan_ctx *ctx, const gan_tensor *x, int64_t a, gan_tensor **left, gan_tensor **right) {
    if (!x) return -1;
    int64_t width = x->shape[1], b = width - a;
    float *l = calloc((size_t)(width * a) + 1, sizeof *l), *r = calloc((size_t)(width * b) + 1, sizeof *r);
    if (!l || !r) {
        free(l);
        free(r);
        return gan_ctx_fail(ctx, "out of memory"), -1;
    }
    for (int64_t i = 0; i < a; i++) l[i * a + i] = 1.0f;
    for (int64_t i = 0; i < b; i++) r[(a + i) * b + i] = 1.0f;
    gan_tensor *lt = gan_tensor_from_host(ctx, 2, (int64_t[]){width, a}, l);
    gan_tensor *rt = gan_tensor_from_host(ctx, 2, (int64_t[]){width, b}, r);
    free(l);
    free(r);
    *left = gan_matmul(ctx, x, lt, 0, 0);
    *right = gan_matmul(ctx, x, rt, 0, 0);
    gan_tensor_free(ctx, lt);
    gan_tensor_free(ctx, rt);
    return gan_ctx_failed(ctx) ? -1 : 0;
}

/* One GBlock backwards: returns the block input's gradient and adds the
 * conditioning vector's to *dcond. */
static gan_tensor *gblock_backward(gan_ctx *ctx, const bg_gblock *blk, const bg_config *cfg, const bg_gblock_tape *t,
                                   const gan_tensor *dy, const bg_grads *g, gan_tensor **dcond) {
    gan_tensor *d_att = blk->has_attention ? bg_attention_backward(ctx, &blk->attention, &t->attention, dy, g) : NULL;
    const gan_tensor *d = blk->has_attention ? d_att : dy;
    gan_tensor *dx_up = bg_conv_backward(ctx, &blk->conv_sc, &t->conv_sc, d, g, 1);
    gan_tensor *dx = gan_upsample_nearest2d_backward(ctx, dx_up);
    gan_tensor_free(ctx, dx_up);
    gan_tensor *dact2 = bg_conv_backward(ctx, &blk->conv2, &t->conv2, d, g, 1);
    gan_tensor_free(ctx, d_att);
    gan_tensor *dbn2 = bg_relu_backward(ctx, dact2, t->act2);
    gan_tensor_free(ctx, dact2);
    gan_tensor *dc2 = NULL, *dc1 = NULL;
    gan_tensor *dconv1 = bg_bn_backward(ctx, &blk->bn2, &t->bn2, dbn2, cfg->bn_eps, g, &dc2);
    gan_tensor_free(ctx, dbn2);
    gan_tensor *dup1 = bg_conv_backward(ctx, &blk->conv1, &t->conv1, dconv1, g, 1);
    gan_tensor_free(ctx, dconv1);
    gan_tensor *dact1 = gan_upsample_nearest2d_backward(ctx, dup1);
    gan_tensor_free(ctx, dup1);
    gan_tensor *dbn1 = bg_relu_backward(ctx, dact1, t->act1);
    gan_tensor_free(ctx, dact1);
    bg_accumulate_into(ctx, &dx, bg_bn_backward(ctx, &blk->bn1, &t->bn1, dbn1, cfg->bn_eps, g, &dc1));
    gan_tensor_free(ctx, dbn1);
    bg_accumulate_into(ctx, dcond, dc1);
    bg_accumulate_into(ctx, dcond, dc2);
    return dx;
}

/* z's gradient from the first slot's and each block's share, and y_emb's
 * from the blocks' conditioning vectors. */
static int route_condition_grads(gan_ctx *ctx, const bg_generator *g, gan_tensor *dz0, gan_tensor **dconds,
                                 gan_tensor **dz, gan_tensor **dy_emb) {
    gan_tensor *dz_all = dz0, *demb = NULL;
    for (int i = 0; i < g->num_blocks && !gan_ctx_failed(ctx); i++) {
        if (!g->cfg.hier) {
            bg_accumulate_into(ctx, &demb, dconds[i]);
            dconds[i] = NULL;
            continue;
        }
        gan_tensor *de = NULL, *dchunk = NULL;
        if (split_columns(ctx, dconds[i], g->cfg.shared_dim, &de, &dchunk) == 0) {
            bg_accumulate_into(ctx, &demb, de);
            de = NULL;
            if (dz_all) bg_replace(ctx, &dz_all, gan_concat_cols(ctx, dz_all, dchunk));
        }
        gan_tensor_free(ctx, de);
        gan_tensor_free(ctx, dchunk);
    }
    if (dz) *dz = dz_all;
    else gan_tensor_free(ctx, dz_all);
    if (dy_emb) *dy_emb = demb;
    else gan_tensor_free(ctx, demb);
    return gan_ctx_failed(ctx) ? -1 : 0;
}

int bg_backward(gan_ctx *ctx, const bg_generator *g, const bg_tape *t, const gan_tensor *images,
                const gan_tensor *dimages, gan_tensor **grads, gan_tensor **dz, gan_tensor **dy_emb) {
    if (gan_ctx_failed(ctx)) return -1;
    const bg_grads sink = {&g->params, grads};
    const bg_config *cfg = &g->cfg;
    gan_tensor *d = gan_tanh_backward(ctx, dimages, images);
    bg_replace(ctx, &d, bg_conv_backward(ctx, &g->out_conv, &t->out_conv, d, &sink, 1));
    bg_replace(ctx, &d, bg_relu_backward(ctx, d, t->out_act));
    bg_replace(ctx, &d, bg_bn_backward(ctx, &g->out_bn, &t->out_bn, d, OUTPUT_BN_EPS, &sink, NULL));
    gan_tensor *dconds[BG_MAX_BLOCKS] = {0};
    for (int i = g->num_blocks - 1; i >= 0 && d; i--)
        bg_replace(ctx, &d, gblock_backward(ctx, &g->blocks[i], cfg, &t->blocks[i], d, &sink, &dconds[i]));
    gan_tensor *dz0 = NULL;
    if (d) {
        gan_tensor dh = gan_tensor_view(d, 2, (int64_t[]){d->shape[0], d->numel / d->shape[0]});
        dz0 = bg_linear_backward(ctx, &g->linear, &t->linear, &dh, &sink, dz != NULL);
    }
    gan_tensor_free(ctx, d);
    if (dz) *dz = NULL;
    if (dy_emb) *dy_emb = NULL;
    int rc = gan_ctx_failed(ctx) ? -1 : 0;
    if (rc == 0 && (dz || dy_emb)) rc = route_condition_grads(ctx, g, dz0, dconds, dz, dy_emb);
    else gan_tensor_free(ctx, dz0);
    for (int i = 0; i < BG_MAX_BLOCKS; i++) gan_tensor_free(ctx, dconds[i]);
    return rc;
}

int bg_embed_backward(gan_ctx *ctx, const bg_generator *g, const gan_tensor *labels, const gan_tensor *dy_emb,
                      gan_tensor **grads) {
    gan_tensor *dshared = gan_matmul(ctx, labels, dy_emb, 1, 0);
    gan_params_add_grad(ctx, &g->params, grads, g->shared, dshared);
    return gan_ctx_failed(ctx) ? -1 : 0;
}

/* Every batch norm's stored statistics, scaled (0 to reset, 1/N to average). */
static void scale_stored_stats(gan_ctx *ctx, const bg_generator *g, float factor) {
    const gan_params *p = &g->params;
    for (int i = 0; i < p->count; i++) {
        const char *name = p->items[i].name;
        size_t len = strlen(name);
        int is_stat = (len >= 11 && strcmp(name + len - 11, "stored_mean") == 0) ||
                      (len >= 10 && strcmp(name + len - 10, "stored_var") == 0);
        gan_tensor *t = p->items[i].tensor;
        if (is_stat && !gan_ctx_failed(ctx)) {
            gan_tensor *scaled = gan_scale(ctx, t, factor);
            if (scaled) gan_write_slice(ctx, t, scaled, 0);
            gan_tensor_free(ctx, scaled);
        }
    }
}

int bg_standing_stats(gan_ctx *ctx, bg_generator *g, int passes, gan_tensor *const *z, gan_tensor *const *labels,
                      gan_error *err) {
    if (passes < 1) return gan_fail(err, "standing statistics need at least one pass");
    scale_stored_stats(ctx, g, 0.0f);
    for (int i = 0; i < passes && !gan_ctx_failed(ctx); i++) {
        gan_tensor *y_emb = bg_embed_classes(ctx, g, labels[i]);
        gan_tensor *images = bg_forward(ctx, g, z[i], y_emb, BG_STANDING, NULL);
        gan_tensor_free(ctx, y_emb);
        gan_tensor_free(ctx, images);
    }
    scale_stored_stats(ctx, g, 1.0f / (float)passes);
    return gan_ctx_failed(ctx) ? gan_ctx_take_error(ctx, err) : 0;
}

gan_tensor *bg_one_hot(gan_ctx *ctx, const int *classes, int count, int n_classes) {
    float *host = calloc((size_t)count * (size_t)n_classes + 1, sizeof *host);
    if (!host) return gan_ctx_fail(ctx, "out of memory");
    for (int i = 0; i < count; i++) {
        if (classes[i] < 0 || classes[i] >= n_classes) {
            free(host);
            return gan_ctx_fail(ctx, "class %d is out of range: the network has classes 0 to %d", classes[i],
                                n_classes - 1);
        }
        host[(size_t)i * (size_t)n_classes + (size_t)classes[i]] = 1.0f;
    }
    gan_tensor *t = gan_tensor_from_host(ctx, 2, (int64_t[]){count, n_classes}, host);
    free(host);
    return t;
}
