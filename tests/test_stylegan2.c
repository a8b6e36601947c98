/* The StyleGAN2 generator against the PyTorch reference (tools/reference,
 * checked against stylegan2-ada-pytorch itself): three networks with every
 * bias, noise strength, w_avg and noise buffer non-zero (64 px with z_dim 128
 * and 4 mapping layers; 128 px with conv_clamp 256 actually clamping; a 32 px
 * conditional one), seeds 0 and 42, psi 1 and 0.7 (and a truncation cutoff).
 * z comes from dne's RandomState, so the seed -> z path is covered too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gan/context.h"
#include "gan/io/safetensors.h"
#include "gan/models/stylegan2.h"
#include "gan/ops.h"
#include "gan/rng.h"
#include "tests/test.h"

#define WS_TOL 1e-5
#define IMG_TOL 1e-4

static const uint32_t seeds[2] = {0, 42};
static const int classes[2] = {1, 3};

static float *read_tensor(gan_st_file *f, const char *name, int64_t *numel) {
    const gan_st_tensor *t = gan_st_find(f, name);
    if (!t) {
        fprintf(stderr, "fixture lacks %s\n", name);
        test_failures++;
        return NULL;
    }
    float *p = malloc((size_t)t->numel * sizeof *p);
    gan_error err;
    if (gan_st_read_f32(f, t, p, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
    }
    *numel = t->numel;
    return p;
}

/* z for the test seeds through dne's RandomState must equal NumPy's exactly. */
static float *seeds_to_z(int z_dim) {
    float *z = malloc(2 * (size_t)z_dim * sizeof *z);
    double *row = malloc((size_t)z_dim * sizeof *row);
    gan_randomstate rs;
    for (int i = 0; i < 2; i++) {
        gan_randomstate_seed(&rs, seeds[i]);
        gan_randomstate_randn(&rs, row, (size_t)z_dim);
        for (int j = 0; j < z_dim; j++) z[i * z_dim + j] = (float)row[j];
    }
    free(row);
    return z;
}

static void compare(const char *what, const float *got, const float *want, int64_t n, double tol) {
    double err = test_max_abs_diff(got, want, (size_t)n);
    CHECKF(err <= tol, "%s: max abs error %g (tolerance %g)", what, err, tol);
    printf("  %-36s max abs error %.3g\n", what, err);
}

/* Runs the images of `first`..`first+count-1` as one batch. */
static void check_case(gan_ctx *ctx, const sg2_generator *g, gan_st_file *out, const float *z, int first, int count,
                       float psi, int cutoff, const char *suffix, const char *name) {
    const sg2_config *cfg = &g->cfg;
    gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->z_dim}, z + first * cfg->z_dim);
    gan_tensor *c = NULL;
    if (cfg->c_dim > 0) {
        float *labels = calloc((size_t)count * cfg->c_dim, sizeof *labels);
        for (int i = 0; i < count; i++) labels[i * cfg->c_dim + classes[first + i]] = 1;
        c = gan_tensor_from_host(ctx, 2, (int64_t[]){count, cfg->c_dim}, labels);
        free(labels);
    }
    gan_tensor *ws = sg2_mapping(ctx, g, zt, c, psi, cutoff);
    gan_tensor *img = sg2_synthesis(ctx, g, ws, SG2_NOISE_CONST, NULL);
    CHECKF(img != NULL, "%s: %s", name, ctx->error.msg);
    char key[64], what[128];
    int64_t n;
    snprintf(key, sizeof key, "ws_%s", suffix);
    float *want = read_tensor(out, key, &n);
    if (ws && want) {
        snprintf(what, sizeof what, "%s %s [%d..%d]", name, key, first, first + count - 1);
        compare(what, ws->data, want + n / 2 * first, ws->numel, WS_TOL);
    }
    free(want);
    snprintf(key, sizeof key, "img_%s", suffix);
    want = read_tensor(out, key, &n);
    if (img && want) {
        snprintf(what, sizeof what, "%s %s [%d..%d]", name, key, first, first + count - 1);
        compare(what, img->data, want + n / 2 * first, img->numel, IMG_TOL);
    }
    free(want);
    gan_tensor *all[] = {zt, c, ws, img};
    for (int i = 0; i < 4; i++) gan_tensor_free(ctx, all[i]);
}

static void check_network(gan_ctx *ctx, const char *name, int has_cutoff_case) {
    char path[256];
    gan_error err;
    snprintf(path, sizeof path, "tests/fixtures/%s.safetensors", name);
    sg2_generator *g = sg2_load(ctx, path, "", &err);
    CHECKF(g != NULL, "%s", err.msg);
    snprintf(path, sizeof path, "tests/fixtures/%s_out.safetensors", name);
    gan_st_file *out = NULL;
    CHECK_OK(gan_st_open(path, &out, &err), &err);
    if (!g || !out) {
        sg2_free(ctx, g);
        gan_st_close(out);
        return;
    }
    int64_t n;
    float *z = seeds_to_z(g->cfg.z_dim), *z_ref = read_tensor(out, "z", &n);
    if (z_ref) CHECKF(n == 2 * g->cfg.z_dim && memcmp(z, z_ref, (size_t)n * sizeof *z) == 0, "%s: z differs", name);
    for (int first = 0; first < 2; first++) {
        check_case(ctx, g, out, z, first, 1, 1.0f, 0, "psi100", name);
        check_case(ctx, g, out, z, first, 1, 0.7f, 0, "psi070", name);
        if (has_cutoff_case) check_case(ctx, g, out, z, first, 1, 0.7f, 4, "psi070_cutoff4", name);
    }
    check_case(ctx, g, out, z, 0, 2, 0.7f, 0, "psi070", name); /* both seeds in one batch */
    free(z);
    free(z_ref);
    gan_st_close(out);
    sg2_free(ctx, g);
}

/* 1024 px with 10 mapping layers runs end to end (thin channels keep it quick). */
static void check_large(gan_ctx *ctx) {
    gan_error err;
    sg2_config cfg = {.z_dim = 8, .w_dim = 8, .c_dim = 0, .img_resolution = 1024, .img_channels = 3,
                      .mapping_layers = 10, .channel_base = 1024, .channel_max = 4, .conv_clamp = 256};
    sg2_generator *g = sg2_create(ctx, &cfg, &err);
    CHECKF(g != NULL, "%s", err.msg);
    if (!g) return;
    CHECK(g->num_ws == 18 && g->num_blocks == 9);
    CHECK_OK(sg2_init_random(ctx, g, 1, &err), &err);
    float z[8] = {1, -1, 0.5f, 2, 0, -0.3f, 0.7f, 1.1f};
    gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){1, 8}, z);
    gan_tensor *ws = sg2_mapping(ctx, g, zt, NULL, 0.5f, 8);
    gan_tensor *img = sg2_synthesis(ctx, g, ws, SG2_NOISE_CONST, NULL);
    CHECKF(img && img->shape[2] == 1024 && img->shape[3] == 1024, "%s", ctx->error.msg);
    int finite = 1;
    for (int64_t i = 0; img && i < img->numel; i++) finite &= isfinite(img->data[i]);
    CHECK(finite);
    gan_tensor_free(ctx, zt);
    gan_tensor_free(ctx, ws);
    gan_tensor_free(ctx, img);
    sg2_free(ctx, g);
}

/* Random noise: deterministic per image seed, independent of the batch, and
 * actually random (differs from const noise). */
static void check_random_noise(gan_ctx *ctx) {
    gan_error err;
    sg2_generator *g = sg2_load(ctx, "tests/fixtures/sg2_64.safetensors", "", &err);
    if (!g) return;
    float *z = seeds_to_z(g->cfg.z_dim);
    gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){2, g->cfg.z_dim}, z);
    gan_tensor *ws = sg2_mapping(ctx, g, zt, NULL, 1.0f, 0);
    uint64_t noise_seeds[2] = {7, 8};
    gan_tensor *both = sg2_synthesis(ctx, g, ws, SG2_NOISE_RANDOM, noise_seeds);
    gan_tensor *w1 = gan_select_row(ctx, ws, 0), *ws1 = gan_broadcast_rows(ctx, w1, g->num_ws);
    gan_tensor *one = sg2_synthesis(ctx, g, ws1, SG2_NOISE_RANDOM, noise_seeds);
    gan_tensor *constant = sg2_synthesis(ctx, g, ws1, SG2_NOISE_CONST, NULL);
    gan_tensor *none = sg2_synthesis(ctx, g, ws1, SG2_NOISE_NONE, NULL);
    CHECK(both && one && constant && none);
    if (both && one && constant && none) {
        CHECK(test_max_abs_diff(both->data, one->data, (size_t)one->numel) < 1e-5);
        CHECK(test_max_abs_diff(one->data, constant->data, (size_t)one->numel) > 1e-3);
        CHECK(test_max_abs_diff(none->data, constant->data, (size_t)one->numel) > 1e-3);
    }
    gan_tensor *all[] = {zt, ws, both, w1, ws1, one, constant, none};
    for (int i = 0; i < 8; i++) gan_tensor_free(ctx, all[i]);
    free(z);
    sg2_free(ctx, g);
}

/* dne init: the reference's parameter count for paper256 (stylegan2.md 4.1),
 * and save -> load gives the same tensors. */
static void check_init_and_roundtrip(gan_ctx *ctx) {
    gan_error err;
    sg2_config cfg;
    CHECK_OK(sg2_config_preset("paper256", 256, &cfg, &err), &err);
    sg2_generator *g = sg2_create(ctx, &cfg, &err);
    CHECK(g != NULL);
    if (g) CHECKF(gan_params_numel(&g->params, 0) == 24767458, "paper256 has %lld parameters",
                  (long long)gan_params_numel(&g->params, 0));
    if (g) CHECK(g->params.count == 144);
    sg2_free(ctx, g);

    CHECK_OK(sg2_config_preset("small", 32, &cfg, &err), &err);
    g = sg2_create(ctx, &cfg, &err);
    if (!g) return;
    CHECK_OK(sg2_init_random(ctx, g, 5, &err), &err);
    char path[64];
    snprintf(path, sizeof path, "/tmp/dne-test-init-%d.safetensors", (int)getpid());
    CHECK_OK(sg2_save(ctx, g, path, &err), &err);
    sg2_generator *back = sg2_load(ctx, path, "", &err);
    CHECKF(back != NULL, "%s", err.msg);
    for (int i = 0; back && i < g->params.count; i++) {
        const gan_tensor *a = g->params.items[i].tensor, *b = back->params.items[i].tensor;
        CHECK(strcmp(g->params.items[i].name, back->params.items[i].name) == 0);
        CHECK(a->numel == b->numel && memcmp(a->data, b->data, (size_t)a->numel * sizeof(float)) == 0);
    }
    const gan_param *affine = gan_params_find(&g->params, "synthesis.b4.conv1.affine.bias");
    CHECK(affine && affine->tensor->data[0] == 1.0f);
    remove(path);
    sg2_free(ctx, back);
    sg2_free(ctx, g);
}

int main(void) {
    gan_error err;
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    if (!ctx) return 1;
    check_network(ctx, "sg2_64", 1);
    check_network(ctx, "sg2_128", 0);
    check_network(ctx, "sg2_32c", 0);
    check_network(ctx, "sg2_4", 0);
    check_large(ctx);
    check_random_noise(ctx);
    check_init_and_roundtrip(ctx);
    CHECKF(gan_ctx_bytes_live(ctx) == 0, "%zu bytes still live", gan_ctx_bytes_live(ctx));
    gan_ctx_free(ctx);
    TEST_DONE();
}
