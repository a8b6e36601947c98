#include "transfer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "gan/io/config.h"
#include "gan/io/safetensors.h"

/* The "data" of a checkpoint's training options, or "" when it has none. */
static void trained_on(const gan_st_file *f, char *out, size_t size) {
    out[0] = '\0';
    const char *opts = gan_st_meta(f, "training_options");
    gan_error ignored = {{0}};
    cJSON *j = opts ? gan_json_parse_object(opts, "training options", &ignored) : NULL;
    const cJSON *data = j ? cJSON_GetObjectItemCaseSensitive(j, "data") : NULL;
    if (cJSON_IsString(data)) snprintf(out, size, "%s", data->valuestring);
    cJSON_Delete(j);
}

static int same_file(const char *a, const char *b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

int transfer_continues_run(const char *path, const char *data, gan_error *err) {
    gan_st_file *f = NULL;
    if (gan_st_open(path, &f, err) != 0) return -1;
    const char *format = gan_st_meta(f, "format");
    int checkpoint = format && strcmp(format, "dne-checkpoint") == 0;
    char dataset[PATH_MAX];
    trained_on(f, dataset, sizeof dataset);
    gan_st_close(f);
    return checkpoint && (!data || same_file(data, dataset));
}

/* G and G_ema from a file that holds them under "G." and "G_ema." (a
 * checkpoint, dne import --which all) or as a bare generator file. */
static int load_generators(gan_ctx *ctx, gan_st_file *f, loaded_run *run, gan_error *err) {
    int prefixed = gan_st_find(f, "G.mapping.w_avg") != NULL;
    const char *g_prefix = prefixed ? "G." : "", *ema_prefix = "";
    if (prefixed) ema_prefix = gan_st_find(f, "G_ema.mapping.w_avg") ? "G_ema." : "G.";
    if (gan_params_load(ctx, &run->G->params, f, g_prefix, err) != 0) return -1;
    return gan_params_load(ctx, &run->G_ema->params, f, ema_prefix, err);
}

int transfer_load_networks(gan_ctx *ctx, const char *path, int mbstd_group, uint64_t seed, loaded_run *run,
                           int *d_from_file, gan_error *err) {
    gan_st_file *f = NULL;
    if (gan_st_open(path, &f, err) != 0) return -1;
    const char *g_json = gan_st_meta(f, "config"), *d_json = gan_st_meta(f, "D_config");
    int has_d = d_json && gan_st_find(f, "D.b4.out.weight");
    *d_from_file = has_d;
    sg2_config g;
    sg2d_config d;
    int rc = g_json ? sg2_config_parse(g_json, &g, err) : gan_fail(err, "no generator config in __metadata__");
    if (rc == 0) {
        if (has_d) rc = sg2d_config_parse(d_json, &d, err);
        else d = sg2d_config_for(&g, mbstd_group);
    }
    if (rc == 0) {
        d.mbstd_group_size = mbstd_group;
        if (!(run->G = sg2_create(ctx, &g, err)) || !(run->G_ema = sg2_create(ctx, &g, err)) ||
            !(run->D = sg2d_create(ctx, &d, err)))
            rc = -1;
    }
    if (rc == 0) rc = load_generators(ctx, f, run, err);
    if (rc == 0) rc = has_d ? gan_params_load(ctx, &run->D->params, f, "D.", err)
                            : sg2d_init_random(ctx, run->D, seed, err);
    gan_st_close(f);
    if (rc != 0) gan_fail_context(err, "%s", path);
    return rc;
}
