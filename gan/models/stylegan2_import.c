/* stylegan2-ada-pytorch snapshots into dne networks: see stylegan2_import.h. */
#include "stylegan2_import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/torch_pickle.h"

int sg2_import_which_parse(const char *text, sg2_import_which *out, gan_error *err) {
    static const char *names[] = {"G_ema", "G", "D", "all"};
    for (int i = 0; i < 4; i++)
        if (strcmp(text, names[i]) == 0) return *out = (sg2_import_which)i, 0;
    return gan_fail(err, "--which '%s': expected G_ema, G, D or all", text);
}

int sg2_is_pickle(const char *path) {
    FILE *f = fopen(path, "rb");
    int c = f ? fgetc(f) : EOF;
    if (f) fclose(f);
    return c == 0x80;
}

/* ------------------------------------------------------------- configs */

/* The snapshot's network under key ("G_ema", "G", "D"), with its init kwargs. */
static const gan_pk_value *network_of(const gan_torch_file *f, const char *key, const gan_pk_value **kwargs,
                                      gan_error *err) {
    const gan_pk_value *net = gan_pk_get(gan_torch_root(f), key), *cls, *state;
    if (!net) return gan_fail(err, "the snapshot has no '%s' (not a stylegan2-ada-pytorch network pickle?)", key), NULL;
    if (!gan_torch_module_of(net, &cls, &state)) return gan_fail(err, "'%s' is not a persistent network", key), NULL;
    *kwargs = gan_pk_get(state, "_init_kwargs");
    if (!*kwargs || (*kwargs)->kind != GAN_PK_DICT) return gan_fail(err, "'%s' has no init kwargs", key), NULL;
    return net;
}

/* An int kwarg, or fallback when absent; -1 with err when of another kind. */
static int kwarg_int(const gan_pk_value *kw, const char *key, int fallback, const char *net, int *out, gan_error *err) {
    int64_t v;
    if (!gan_pk_get(kw, key)) return *out = fallback, 0;
    if (gan_torch_get_int(kw, key, &v) != 0 || v < 0 || v > 1 << 30)
        return gan_fail(err, "%s: init kwarg '%s' is not a valid integer", net, key);
    return *out = (int)v, 0;
}

/* conv_clamp: a number, None or absent (none). */
static int kwarg_clamp(const gan_pk_value *kw, const char *net, float *out, gan_error *err) {
    const gan_pk_value *v = gan_pk_get(kw, "conv_clamp");
    double d;
    if (!v || v->kind == GAN_PK_NONE) return *out = -1.0f, 0;
    if (gan_torch_get_float(kw, "conv_clamp", &d) != 0 || d <= 0)
        return gan_fail(err, "%s: init kwarg 'conv_clamp' is not a positive number or None", net);
    return *out = (float)d, 0;
}

/* What dne does with each init kwarg: reads it, ignores it (no effect on
 * fp32 inference or on the weights' meaning), or accepts it only at the one
 * value it implements. Keys not listed are refused, so a network dne would
 * compute differently is never imported silently. */
typedef enum kw_kind { KW_READ, KW_IGNORED, KW_STR, KW_NUMBER, KW_NONE, KW_FILTER_1331, KW_DICT } kw_kind;
typedef struct kw_rule {
    const char *key;
    kw_kind kind;
    const char *text;           /* KW_STR */
    double number;              /* KW_NUMBER */
    const struct kw_rule *sub;  /* KW_DICT */
} kw_rule;

#define READ(key) {key, KW_READ, NULL, 0, NULL}
#define IGNORED(key) {key, KW_IGNORED, NULL, 0, NULL}
#define ONLY_STR(key, text) {key, KW_STR, text, 0, NULL}
#define ONLY_NUMBER(key, number) {key, KW_NUMBER, NULL, number, NULL}
#define ONLY_NONE(key) {key, KW_NONE, NULL, 0, NULL}
#define ONLY_FILTER_1331(key) {key, KW_FILTER_1331, NULL, 0, NULL}
#define NESTED(key, rules) {key, KW_DICT, NULL, 0, rules}
#define END {NULL, KW_READ, NULL, 0, NULL}

static const kw_rule g_mapping_rules[] = {
    READ("num_layers"), IGNORED("w_avg_beta"), ONLY_NONE("embed_features"), ONLY_NONE("layer_features"),
    ONLY_STR("activation", "lrelu"), ONLY_NUMBER("lr_multiplier", 0.01), END};
static const kw_rule g_synthesis_rules[] = {
    READ("channel_base"), READ("channel_max"), READ("conv_clamp"), READ("num_fp16_res"),
    IGNORED("fp16_channels_last"), IGNORED("channels_last"), ONLY_STR("architecture", "skip"),
    ONLY_FILTER_1331("resample_filter"), ONLY_NUMBER("use_noise", 1), ONLY_STR("activation", "lrelu"),
    ONLY_NUMBER("kernel_size", 3), END};
static const kw_rule g_rules[] = {
    READ("z_dim"), READ("w_dim"), READ("c_dim"), READ("img_resolution"), READ("img_channels"),
    NESTED("mapping_kwargs", g_mapping_rules), NESTED("synthesis_kwargs", g_synthesis_rules), END};
static const kw_rule d_block_rules[] = {ONLY_STR("activation", "lrelu"), ONLY_FILTER_1331("resample_filter"),
                                        IGNORED("fp16_channels_last"), IGNORED("freeze_layers"), END};
static const kw_rule d_epilogue_rules[] = {READ("mbstd_group_size"), READ("mbstd_num_channels"),
                                           ONLY_STR("activation", "lrelu"), END};
static const kw_rule d_rules[] = {
    READ("c_dim"), READ("img_resolution"), READ("img_channels"), READ("channel_base"), READ("channel_max"),
    READ("num_fp16_res"), READ("conv_clamp"), IGNORED("cmap_dim"), IGNORED("mapping_kwargs"), /* conditioning only */
    ONLY_STR("architecture", "resnet"), NESTED("block_kwargs", d_block_rules),
    NESTED("epilogue_kwargs", d_epilogue_rules), END};

static int number_is(const gan_pk_value *v, double want) {
    if (v->kind == GAN_PK_FLOAT) return v->f == want;
    return (v->kind == GAN_PK_INT || v->kind == GAN_PK_BOOL) && !v->len && (double)v->i == want;
}

static int is_filter_1331(const gan_pk_value *v) {
    static const double taps[4] = {1, 3, 3, 1};
    if ((v->kind != GAN_PK_LIST && v->kind != GAN_PK_TUPLE) || v->count != 4) return 0;
    for (int i = 0; i < 4; i++)
        if (!number_is(v->items[i], taps[i])) return 0;
    return 1;
}

static int check_kwargs(const gan_pk_value *kw, const kw_rule *rules, const char *what, gan_error *err) {
    if (!kw) return 0;
    if (kw->kind != GAN_PK_DICT) return gan_fail(err, "%s: init kwargs are not a dict", what);
    for (size_t i = 0; i < kw->count; i++) {
        const gan_pk_value *key = kw->items[2 * i], *v = kw->items[2 * i + 1];
        const kw_rule *r = rules;
        while (r->key && !gan_pk_is_str(key, r->key)) r++;
        int klen = key->kind == GAN_PK_STR ? (int)key->len : 1;
        const char *kname = key->kind == GAN_PK_STR ? key->data : "?";
        if (!r->key) return gan_fail(err, "%s: init kwarg '%.*s' is not supported", what, klen, kname);
        int ok = r->kind == KW_READ || r->kind == KW_IGNORED || (r->kind == KW_STR && gan_pk_is_str(v, r->text)) ||
                 (r->kind == KW_NUMBER && number_is(v, r->number)) || (r->kind == KW_NONE && v->kind == GAN_PK_NONE) ||
                 (r->kind == KW_FILTER_1331 && is_filter_1331(v)) || r->kind == KW_DICT;
        if (!ok) return gan_fail(err, "%s: init kwarg '%.*s' has a value dne does not implement", what, klen, kname);
        if (r->kind == KW_DICT && check_kwargs(v, r->sub, what, err) != 0) return -1;
    }
    return 0;
}

static const gan_pk_value *sub_kwargs(const gan_pk_value *kw, const char *key) {
    const gan_pk_value *v = gan_pk_get(kw, key);
    return v && v->kind == GAN_PK_DICT ? v : NULL;
}

static int g_config_of(const gan_pk_value *kw, const char *net, sg2_config *cfg, int *fp16, gan_error *err) {
    const gan_pk_value *map = sub_kwargs(kw, "mapping_kwargs"), *syn = sub_kwargs(kw, "synthesis_kwargs");
    memset(cfg, 0, sizeof *cfg);
    if (kwarg_int(kw, "z_dim", -1, net, &cfg->z_dim, err) || kwarg_int(kw, "w_dim", -1, net, &cfg->w_dim, err) ||
        kwarg_int(kw, "c_dim", 0, net, &cfg->c_dim, err) ||
        kwarg_int(kw, "img_resolution", -1, net, &cfg->img_resolution, err) ||
        kwarg_int(kw, "img_channels", 3, net, &cfg->img_channels, err) ||
        kwarg_int(map, "num_layers", 8, net, &cfg->mapping_layers, err) ||
        kwarg_int(syn, "channel_base", 32768, net, &cfg->channel_base, err) ||
        kwarg_int(syn, "channel_max", 512, net, &cfg->channel_max, err) ||
        kwarg_int(syn, "num_fp16_res", 0, net, fp16, err) || kwarg_clamp(syn, net, &cfg->conv_clamp, err) ||
        check_kwargs(kw, g_rules, net, err))
        return -1;
    if (cfg->z_dim < 0 || cfg->w_dim < 0 || cfg->img_resolution < 0)
        return gan_fail(err, "%s: init kwargs lack z_dim, w_dim or img_resolution", net);
    return 0;
}

static int d_config_of(const gan_pk_value *kw, sg2d_config *cfg, int *fp16, gan_error *err) {
    const gan_pk_value *epi = sub_kwargs(kw, "epilogue_kwargs");
    int c_dim = 0;
    memset(cfg, 0, sizeof *cfg);
    if (kwarg_int(kw, "c_dim", 0, "D", &c_dim, err) ||
        kwarg_int(kw, "img_resolution", -1, "D", &cfg->img_resolution, err) ||
        kwarg_int(kw, "img_channels", 3, "D", &cfg->img_channels, err) ||
        kwarg_int(kw, "channel_base", 32768, "D", &cfg->channel_base, err) ||
        kwarg_int(kw, "channel_max", 512, "D", &cfg->channel_max, err) ||
        kwarg_int(kw, "num_fp16_res", 0, "D", fp16, err) || kwarg_clamp(kw, "D", &cfg->conv_clamp, err) ||
        kwarg_int(epi, "mbstd_group_size", 4, "D", &cfg->mbstd_group_size, err) ||
        kwarg_int(epi, "mbstd_num_channels", 1, "D", &cfg->mbstd_num_channels, err) ||
        check_kwargs(kw, d_rules, "D", err))
        return -1;
    if (c_dim != 0) return gan_fail(err, "D: a conditional discriminator (c_dim %d) is not supported yet", c_dim);
    if (cfg->img_resolution < 0) return gan_fail(err, "D: init kwargs lack img_resolution");
    return 0;
}

/* ------------------------------------------------------------- tensors */

static const gan_torch_entry *find_entry(const gan_torch_entry *e, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0) return &e[i];
    return NULL;
}

/* Every tensor of params from the network's state_dict, checked by name
 * and shape; tensors the pickle has beyond them are an error too. */
static int fill_params(gan_ctx *ctx, const gan_params *params, const gan_pk_value *net, const char *what,
                       gan_error *err) {
    gan_torch_entry *e;
    int n, rc = 0;
    if (gan_torch_state_dict(net, &e, &n, err) != 0) return gan_fail_context(err, "%s", what);
    for (int i = 0; i < n && rc == 0; i++)
        if (!gan_params_find(params, e[i].name))
            rc = gan_fail(err, "%s: tensor '%s' is not part of the architecture dne builds from its kwargs", what,
                          e[i].name);
    for (int i = 0; i < params->count && rc == 0; i++) {
        const gan_param *p = &params->items[i];
        const gan_torch_entry *t = find_entry(e, n, p->name);
        char want[96], got[96];
        if (!t) {
            rc = gan_fail(err, "%s: the pickle lacks tensor '%s'", what, p->name);
            break;
        }
        if (t->tensor->ndim != p->tensor->ndim ||
            memcmp(t->tensor->shape, p->tensor->shape, (size_t)p->tensor->ndim * sizeof(int64_t)) != 0) {
            rc = gan_fail(err, "%s: tensor '%s' has shape %s, the architecture needs %s", what, p->name,
                          gan_shape_str(t->tensor->ndim, t->tensor->shape, got, sizeof got),
                          gan_shape_str(p->tensor->ndim, p->tensor->shape, want, sizeof want));
            break;
        }
        float *host = malloc((size_t)(t->tensor->numel ? t->tensor->numel : 1) * sizeof *host);
        if (!host) {
            rc = gan_fail(err, "out of memory");
            break;
        }
        gan_torch_tensor_to_f32(t->tensor, host);
        if (gan_tensor_upload(ctx, p->tensor, host) != 0) rc = gan_fail(err, "%s: %s", what, ctx->error.msg);
        free(host);
    }
    gan_torch_entries_free(e, n);
    return rc;
}

static sg2_generator *load_generator(gan_ctx *ctx, const gan_torch_file *f, const char *key, int *fp16,
                                     gan_error *err) {
    const gan_pk_value *kw, *net = network_of(f, key, &kw, err);
    sg2_config cfg;
    if (!net || g_config_of(kw, key, &cfg, fp16, err) != 0) return NULL;
    sg2_generator *g = sg2_create(ctx, &cfg, err);
    if (g && fill_params(ctx, &g->params, net, key, err) != 0) {
        sg2_free(ctx, g);
        return NULL;
    }
    return g;
}

static sg2_discriminator *load_discriminator(gan_ctx *ctx, const gan_torch_file *f, int *fp16, gan_error *err) {
    const gan_pk_value *kw, *net = network_of(f, "D", &kw, err);
    sg2d_config cfg;
    if (!net || d_config_of(kw, &cfg, fp16, err) != 0) return NULL;
    sg2_discriminator *d = sg2d_create(ctx, &cfg, err);
    if (d && fill_params(ctx, &d->params, net, "D", err) != 0) {
        sg2d_free(ctx, d);
        return NULL;
    }
    return d;
}

/* augment_pipe.p, the adaptive augmentation probability (0 without ADA). */
static int augment_p_of(const gan_torch_file *f, double *p, gan_error *err) {
    const gan_pk_value *pipe = gan_pk_get(gan_torch_root(f), "augment_pipe");
    *p = 0;
    if (!pipe || pipe->kind == GAN_PK_NONE) return 0;
    gan_torch_entry *e;
    int n;
    if (gan_torch_state_dict(pipe, &e, &n, err) != 0) return gan_fail_context(err, "augment_pipe");
    const gan_torch_entry *t = find_entry(e, n, "p");
    int rc = 0;
    if (!t || t->tensor->numel != 1) rc = gan_fail(err, "augment_pipe has no scalar 'p'");
    else {
        float v;
        gan_torch_tensor_to_f32(t->tensor, &v);
        *p = v;
    }
    gan_torch_entries_free(e, n);
    return rc;
}

/* --------------------------------------------------------------- files */

sg2_generator *sg2_load_pickle(gan_ctx *ctx, const char *pkl_path, sg2_import_which which, gan_error *err) {
    gan_torch_file *f;
    int fp16 = 0;
    if (gan_torch_load(pkl_path, &f, err) != 0) return NULL;
    sg2_generator *g = load_generator(ctx, f, which == SG2_IMPORT_G ? "G" : "G_ema", &fp16, err);
    gan_torch_free(f);
    if (!g) gan_fail_context(err, "%s", pkl_path);
    return g;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

typedef struct import_set {
    sg2_generator *G, *G_ema;
    sg2_discriminator *D;
    int fp16_G, fp16_D;
    double augment_p;
} import_set;

static int write_set(gan_ctx *ctx, const import_set *s, sg2_import_which which, const char *pkl_path,
                     const char *out_path, gan_error *err) {
    gan_st_writer *w = gan_st_writer_new();
    gan_host_copies copies = {0};
    const sg2_generator *g = s->G_ema ? s->G_ema : s->G;
    char *g_json = g ? sg2_config_to_json(&g->cfg) : NULL, *d_json = s->D ? sg2d_config_to_json(&s->D->cfg) : NULL;
    char info[512], p[64];
    snprintf(info, sizeof info, "{\"source\": \"%s\", \"num_fp16_res_G\": %d, \"num_fp16_res_D\": %d}",
             base_name(pkl_path), s->fp16_G, s->fp16_D);
    snprintf(p, sizeof p, "%.9g", s->augment_p);
    static const char *formats[] = {"dne-generator", "dne-generator", "dne-discriminator", "dne-import"};
    int rc = !w || (g && !g_json) || (s->D && !d_json) ? gan_fail(err, "out of memory") : 0;
    if (rc == 0) rc = gan_st_writer_meta(w, "format", formats[which], err);
    if (rc == 0) rc = gan_st_writer_meta(w, "import", info, err);
    if (rc == 0 && g_json) rc = gan_st_writer_meta(w, "config", g_json, err);
    if (rc == 0 && d_json) rc = gan_st_writer_meta(w, "D_config", d_json, err);
    if (rc == 0 && which == SG2_IMPORT_ALL) rc = gan_st_writer_meta(w, "augment_p", p, err);
    const char *g_prefix = which == SG2_IMPORT_ALL ? "G." : "", *ema_prefix = which == SG2_IMPORT_ALL ? "G_ema." : "";
    const char *d_prefix = which == SG2_IMPORT_ALL ? "D." : "";
    if (rc == 0 && s->G) rc = gan_params_write(ctx, &s->G->params, g_prefix, w, &copies, err);
    if (rc == 0 && s->G_ema) rc = gan_params_write(ctx, &s->G_ema->params, ema_prefix, w, &copies, err);
    if (rc == 0 && s->D) rc = gan_params_write(ctx, &s->D->params, d_prefix, w, &copies, err);
    if (rc == 0) rc = gan_st_writer_save(w, out_path, err);
    gan_params_free_copies(&copies);
    gan_st_writer_free(w);
    free(g_json), free(d_json);
    return rc;
}

int sg2_import_pickle(gan_ctx *ctx, const char *pkl_path, sg2_import_which which, const char *out_path,
                      gan_error *err) {
    gan_torch_file *f;
    if (gan_torch_load(pkl_path, &f, err) != 0) return -1;
    import_set s = {0};
    int rc = 0, fp16 = 0;
    if (which == SG2_IMPORT_G_EMA || which == SG2_IMPORT_ALL)
        rc = (s.G_ema = load_generator(ctx, f, "G_ema", &s.fp16_G, err)) ? 0 : -1;
    if (rc == 0 && (which == SG2_IMPORT_G || which == SG2_IMPORT_ALL))
        rc = (s.G = load_generator(ctx, f, "G", which == SG2_IMPORT_G ? &s.fp16_G : &fp16, err)) ? 0 : -1;
    if (rc == 0 && (which == SG2_IMPORT_D || which == SG2_IMPORT_ALL))
        rc = (s.D = load_discriminator(ctx, f, &s.fp16_D, err)) ? 0 : -1;
    if (rc == 0 && which == SG2_IMPORT_ALL) rc = augment_p_of(f, &s.augment_p, err);
    if (rc != 0) gan_fail_context(err, "%s", pkl_path);
    if (rc == 0) rc = write_set(ctx, &s, which, pkl_path, out_path, err);
    sg2_free(ctx, s.G), sg2_free(ctx, s.G_ema), sg2d_free(ctx, s.D);
    gan_torch_free(f);
    return rc;
}
