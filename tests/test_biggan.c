/* BigGAN against the PyTorch reference (tools/reference/biggan.py, itself
 * identical to BigGAN-PyTorch's classes: check_biggan_against_ref.py): the
 * generator in evaluation, training and standing-statistics mode with every
 * buffer it updates and every gradient, the discriminator likewise, the
 * spectral norm alone, and one whole training iteration. Fixtures from
 * tools/reference/make_biggan_fixtures.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/io/safetensors.h"
#include "gan/models/biggan.h"
#include "gan/ops.h"
#include "gan/rng.h"
#include "tests/fixture_util.h"
#include "tests/test.h"
#include "train/biggan_trainer.h"

#define FIXTURES "tests/fixtures/"
#define TOL 1e-5      /* forward passes, relative to the largest magnitude */
/* Gradients: the biases whose outputs reach a batch norm of the next block
 * sum thousands of terms that cancel exactly, so fp32 leaves them ~1e-4 off
 * (measured 9.3e-5); everything else is near 1e-6. */
#define TOL_GRAD 2.5e-4

static gan_st_file *open_fixture(const char *name) {
    gan_st_file *f = NULL;
    gan_error err = {{0}};
    CHECK_OK(gan_st_open(name, &f, &err), &err);
    return f;
}

/* Class ids stored as floats. */
static int *fixture_classes(gan_ctx *ctx, gan_st_file *f, const char *name, int *count) {
    gan_tensor *t = fixture_tensor(ctx, f, name);
    if (!t) return NULL;
    float *host = fixture_host(ctx, t);
    int *ids = malloc((size_t)t->numel * sizeof *ids);
    for (int64_t i = 0; i < t->numel; i++) ids[i] = (int)host[i];
    *count = (int)t->numel;
    free(host);
    gan_tensor_free(ctx, t);
    return ids;
}

static gan_tensor *labels_of(gan_ctx *ctx, gan_st_file *f, const char *name, int n_classes) {
    int count = 0;
    int *ids = fixture_classes(ctx, f, name, &count);
    gan_tensor *labels = ids ? bg_one_hot(ctx, ids, count, n_classes) : NULL;
    free(ids);
    return labels;
}

/* got against the fixture's tensor `name`; frees got. */
static double expect(gan_ctx *ctx, gan_st_file *f, gan_tensor *got, const char *name, double tol) {
    gan_tensor *want = fixture_tensor(ctx, f, name);
    CHECKF(got != NULL, "%s: %s", name, ctx->error.msg);
    double e = fixture_compare(ctx, got, want, name, tol);
    gan_tensor_free(ctx, got);
    gan_tensor_free(ctx, want);
    return e;
}

/* Every buffer (u0, sv0, stored statistics) against "<prefix><name>". */
static double expect_buffers(gan_ctx *ctx, gan_st_file *f, const gan_params *p, const char *prefix) {
    double worst = 0;
    for (int i = 0; i < p->count; i++) {
        if (!p->items[i].is_buffer) continue;
        char key[200];
        snprintf(key, sizeof key, "%s%s", prefix, p->items[i].name);
        gan_tensor *want = fixture_tensor(ctx, f, key);
        worst = fmax(worst, fixture_compare(ctx, p->items[i].tensor, want, key, TOL));
        gan_tensor_free(ctx, want);
    }
    return worst;
}

static double max_abs(gan_ctx *ctx, const gan_tensor *t) {
    float *h = fixture_host(ctx, t);
    double m = 0;
    for (int64_t i = 0; i < t->numel; i++) m = fmax(m, fabs(h[i]));
    free(h);
    return m;
}

/* Parameter gradients against "<prefix><name>", each error relative to the
 * larger of the tensor's largest magnitude and 1e-3 of the network's:
 * gradients that are zero in exact arithmetic (the bias of a convolution
 * followed by batch norm) hold only rounding noise, on both sides. */
static double compare_grads(gan_ctx *ctx, gan_st_file *f, const gan_params *p, gan_tensor **grads, const char *prefix,
                            double tol) {
    double network = 0, worst = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < p->count; i++) {
            if (!grads[i]) continue;
            char key[200];
            snprintf(key, sizeof key, "%s%s", prefix, p->items[i].name);
            gan_tensor *want = fixture_tensor(ctx, f, key);
            if (!want) continue;
            double scale = max_abs(ctx, want);
            if (pass == 0) {
                network = fmax(network, scale);
            } else {
                float *a = fixture_host(ctx, grads[i]), *b = fixture_host(ctx, want);
                double e = test_max_abs_diff(a, b, (size_t)want->numel) / fmax(scale, 1e-3 * network);
                CHECKF(e <= tol, "%s: error %.3g (largest magnitude %.3g, network's %.3g)", key, e, scale, network);
                if (getenv("VERBOSE") && e > tol / 10) printf("  %s %.2e (scale %.2e)\n", key, e, scale);
                worst = fmax(worst, e);
                free(a), free(b);
            }
            gan_tensor_free(ctx, want);
        }
    return worst;
}

static void test_generator(gan_ctx *ctx, const char *name, int grads) {
    char path[256];
    gan_error err = {{0}};
    snprintf(path, sizeof path, FIXTURES "%s.safetensors", name);
    bg_generator *g = bg_load(ctx, path, "", &err);
    CHECKF(g != NULL, "%s", err.msg);
    snprintf(path, sizeof path, FIXTURES "%s_out.safetensors", name);
    gan_st_file *f = open_fixture(path);
    if (!g || !f) return;
    gan_tensor *z = fixture_tensor(ctx, f, "z"), *labels = labels_of(ctx, f, "classes", g->cfg.n_classes);
    gan_tensor *y_emb = bg_embed_classes(ctx, g, labels);
    double e_eval = expect(ctx, f, bg_forward(ctx, g, z, y_emb, BG_EVAL, NULL), "eval_images", TOL);
    bg_tape *tape = bg_tape_new();
    gan_tensor *images = bg_forward(ctx, g, z, y_emb, BG_TRAIN, tape);
    gan_tensor *want = fixture_tensor(ctx, f, "train_images");
    double e_train = fixture_compare(ctx, images, want, "train_images", TOL);
    gan_tensor_free(ctx, want);
    double e_buf = expect_buffers(ctx, f, &g->params, "after_train.");
    printf("%s: eval %.2e, train %.2e, buffers after training %.2e\n", name, e_eval, e_train, e_buf);
    if (grads) {
        gan_tensor *dy = fixture_tensor(ctx, f, "train_dy"), *dz = NULL, *demb = NULL;
        gan_tensor **gr = gan_params_grads_new(ctx, &g->params);
        CHECK(bg_backward(ctx, g, tape, images, dy, gr, &dz, &demb) == 0);
        CHECK(bg_embed_backward(ctx, g, labels, demb, gr) == 0);
        double e_params = compare_grads(ctx, f, &g->params, gr, "grad.", TOL_GRAD);
        double e_z = expect(ctx, f, dz, "grad_z", TOL_GRAD), e_emb = expect(ctx, f, demb, "grad_y_emb", TOL_GRAD);
        printf("%s: gradients: parameters %.2e, z %.2e, class embeddings %.2e\n", name, e_params, e_z, e_emb);
        gan_params_grads_free(ctx, &g->params, gr);
        gan_tensor_free(ctx, dy);
    }
    bg_tape_free(ctx, tape);
    gan_tensor_free(ctx, images);
    gan_tensor_free(ctx, z), gan_tensor_free(ctx, labels), gan_tensor_free(ctx, y_emb);
    gan_st_close(f);
    bg_free(ctx, g);
}

/* dne generate's BigGAN latents: NumPy's RandomState(seed) draws, redrawn
 * beyond +-0.5, for seeds 0, 1 and 42, bit for bit; and their images of
 * class 2. */
static void check_truncated_samples(gan_ctx *ctx, const bg_generator *g, gan_st_file *f) {
    const uint32_t seeds[3] = {0, 1, 42};
    int dim = g->cfg.dim_z;
    float *z = malloc(3 * (size_t)dim * sizeof *z);
    double *row = malloc((size_t)dim * sizeof *row);
    for (int i = 0; i < 3; i++) {
        gan_randomstate rs;
        gan_randomstate_seed(&rs, seeds[i]);
        gan_randomstate_truncated_randn(&rs, row, (size_t)dim, 0.5);
        for (int j = 0; j < dim; j++) z[i * dim + j] = (float)row[j];
    }
    gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){3, dim}, z), *want = fixture_tensor(ctx, f, "trunc.z");
    float *w = want ? fixture_host(ctx, want) : NULL;
    CHECK(w && memcmp(w, z, 3 * (size_t)dim * sizeof *z) == 0);
    gan_tensor *labels = bg_one_hot(ctx, (int[]){2, 2, 2}, 3, g->cfg.n_classes), *y = bg_embed_classes(ctx, g, labels);
    double e = expect(ctx, f, bg_forward(ctx, g, zt, y, BG_EVAL, NULL), "trunc.images", TOL);
    printf("truncated latents identical to NumPy's; their images %.2e\n", e);
    free(z), free(row), free(w);
    gan_tensor_free(ctx, zt), gan_tensor_free(ctx, want), gan_tensor_free(ctx, labels), gan_tensor_free(ctx, y);
}

/* Standing statistics replayed from the fixture's passes, on a freshly
 * loaded generator that has also done the fixture's training pass. */
static void test_standing(gan_ctx *ctx) {
    gan_error err = {{0}};
    bg_generator *g = bg_load(ctx, FIXTURES "biggan_g32.safetensors", "", &err);
    gan_st_file *f = open_fixture(FIXTURES "biggan_g32_out.safetensors");
    if (!g || !f) return;
    gan_tensor *z = fixture_tensor(ctx, f, "z"), *labels = labels_of(ctx, f, "classes", g->cfg.n_classes);
    gan_tensor *y_emb = bg_embed_classes(ctx, g, labels);
    gan_tensor_free(ctx, bg_forward(ctx, g, z, y_emb, BG_TRAIN, NULL)); /* the fixture's order of events */
    gan_tensor *sz = fixture_tensor(ctx, f, "standing.z"), *sl = labels_of(ctx, f, "standing.classes", g->cfg.n_classes);
    enum { PASSES = 16 };
    gan_tensor *zs[PASSES] = {0}, *ls[PASSES] = {0};
    int64_t per = sz ? sz->shape[0] / PASSES : 0;
    for (int i = 0; i < PASSES && sz && sl; i++) zs[i] = gan_slice(ctx, sz, i * per, per), ls[i] = gan_slice(ctx, sl, i * per, per);
    CHECK_OK(bg_standing_stats(ctx, g, PASSES, zs, ls, &err), &err);
    double e_buf = expect_buffers(ctx, f, &g->params, "standing.");
    double e_img = expect(ctx, f, bg_forward(ctx, g, z, y_emb, BG_EVAL, NULL), "standing_images", TOL);
    printf("standing statistics: buffers %.2e, eval images %.2e\n", e_buf, e_img);
    check_truncated_samples(ctx, g, f);
    for (int i = 0; i < PASSES; i++) gan_tensor_free(ctx, zs[i]), gan_tensor_free(ctx, ls[i]);
    gan_tensor_free(ctx, sz), gan_tensor_free(ctx, sl);
    gan_tensor_free(ctx, z), gan_tensor_free(ctx, labels), gan_tensor_free(ctx, y_emb);
    gan_st_close(f);
    bg_free(ctx, g);
}

static bg_discriminator *load_discriminator(gan_ctx *ctx, const char *path) {
    gan_error err = {{0}};
    gan_st_file *file = NULL;
    bgd_config cfg;
    bg_discriminator *d = NULL;
    if (gan_st_open(path, &file, &err) == 0 && bgd_config_parse(gan_st_meta(file, "config"), &cfg, &err) == 0 &&
        (d = bgd_create(ctx, &cfg, &err)) != NULL && gan_params_load(ctx, &d->params, file, "", &err) != 0) {
        bgd_free(ctx, d);
        d = NULL;
    }
    CHECKF(d != NULL, "%s: %s", path, err.msg);
    gan_st_close(file);
    return d;
}

static void test_discriminator(gan_ctx *ctx, const char *name, int grads) {
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s.safetensors", name);
    bg_discriminator *d = load_discriminator(ctx, path);
    snprintf(path, sizeof path, FIXTURES "%s_out.safetensors", name);
    gan_st_file *f = open_fixture(path);
    if (!d || !f) return;
    gan_tensor *x = fixture_tensor(ctx, f, "images"), *labels = labels_of(ctx, f, "classes", d->cfg.n_classes);
    bgd_tape *tape = bgd_tape_new();
    gan_tensor *logits = bgd_forward(ctx, d, x, labels, BG_TRAIN, tape);
    gan_tensor *want = fixture_tensor(ctx, f, "logits");
    double e_logits = fixture_compare(ctx, logits, want, "logits", TOL);
    double e_buf = expect_buffers(ctx, f, &d->params, "after_train.");
    printf("%s: logits %.2e, buffers after training %.2e\n", name, e_logits, e_buf);
    if (grads) {
        gan_tensor *dl = fixture_tensor(ctx, f, "dlogits"), *dx = NULL;
        gan_tensor **gr = gan_params_grads_new(ctx, &d->params);
        CHECK(bgd_backward(ctx, d, tape, dl, gr, &dx) == 0);
        double e_params = compare_grads(ctx, f, &d->params, gr, "grad.", TOL_GRAD);
        double e_x = expect(ctx, f, dx, "grad_images", TOL_GRAD);
        printf("%s: gradients: parameters %.2e, images %.2e\n", name, e_params, e_x);
        gan_params_grads_free(ctx, &d->params, gr);
        gan_tensor_free(ctx, dl);
    }
    bgd_tape_free(ctx, tape);
    gan_tensor_free(ctx, want), gan_tensor_free(ctx, logits), gan_tensor_free(ctx, x), gan_tensor_free(ctx, labels);
    gan_st_close(f);
    bgd_free(ctx, d);
}

static void test_spectral_norm(gan_ctx *ctx) {
    gan_st_file *f = open_fixture(FIXTURES "biggan_sn.safetensors");
    if (!f) return;
    gan_tensor *sv = gan_tensor_1d(ctx, 1);
    gan_sn sn = {fixture_tensor(ctx, f, "weight"), fixture_tensor(ctx, f, "u0"), sv, 1e-6f};
    gan_sn_state state = {0};
    gan_tensor *w_sn = gan_sn_weight(ctx, &sn, 1, &state);
    double e_w = expect(ctx, f, w_sn, "w_sn", TOL);
    gan_tensor *u = fixture_tensor(ctx, f, "u");
    double e_u = fixture_compare(ctx, sn.u, u, "u", TOL);
    gan_tensor_free(ctx, u);
    gan_tensor *sigma = fixture_tensor(ctx, f, "sigma");
    double e_s = fixture_compare(ctx, sv, sigma, "sigma", TOL);
    gan_tensor *dw_sn = fixture_tensor(ctx, f, "dw_sn");
    double e_d = expect(ctx, f, gan_sn_backward(ctx, &sn, &state, dw_sn), "dweight", TOL_GRAD);
    printf("spectral norm: W/sigma %.2e, u %.2e, sigma %.2e, weight gradient %.2e\n", e_w, e_u, e_s, e_d);
    gan_sn_state_free(ctx, &state);
    gan_tensor_free(ctx, sn.weight), gan_tensor_free(ctx, sn.u), gan_tensor_free(ctx, sv);
    gan_tensor_free(ctx, sigma), gan_tensor_free(ctx, dw_sn);
    gan_st_close(f);
}

/* Loads "<prefix><name>" of every tensor of p from the fixture. */
static int load_prefixed(gan_ctx *ctx, gan_params *p, gan_st_file *f, const char *prefix) {
    gan_error err = {{0}};
    for (int i = 0; i < p->count; i++) {
        char key[200];
        snprintf(key, sizeof key, "%s%s", prefix, p->items[i].name);
        const gan_st_tensor *t = gan_st_find(f, key);
        float *host = t ? malloc((size_t)t->numel * sizeof *host + 1) : NULL;
        int ok = t && t->numel == p->items[i].tensor->numel && gan_st_read_f32(f, t, host, &err) == 0 &&
                 gan_tensor_upload(ctx, p->items[i].tensor, host) == 0;
        free(host);
        CHECKF(ok, "fixture tensor %s", key);
        if (!ok) return -1;
    }
    return 0;
}

typedef struct step_fixture {
    gan_tensor *z[6], *reals[4];
    int *classes[6], *real_classes[4];
    bg_fake_draws fakes[6];
} step_fixture;

static void load_draws(gan_ctx *ctx, gan_st_file *f, step_fixture *s) {
    char key[64];
    int n;
    for (int i = 0; i < 6; i++) {
        int is_d = i < 4, k = is_d ? i : i - 4;
        snprintf(key, sizeof key, "%c%d.z", is_d ? 'd' : 'g', k);
        s->z[i] = fixture_tensor(ctx, f, key);
        snprintf(key, sizeof key, "%c%d.classes", is_d ? 'd' : 'g', k);
        s->classes[i] = fixture_classes(ctx, f, key, &n);
        s->fakes[i] = (bg_fake_draws){s->z[i], s->classes[i]};
        if (!is_d) continue;
        snprintf(key, sizeof key, "d%d.reals", k);
        s->reals[k] = fixture_tensor(ctx, f, key);
        snprintf(key, sizeof key, "d%d.real_classes", k);
        s->real_classes[k] = fixture_classes(ctx, f, key, &n);
    }
}

static void free_draws(gan_ctx *ctx, step_fixture *s) {
    for (int i = 0; i < 6; i++) gan_tensor_free(ctx, s->z[i]), free(s->classes[i]);
    for (int i = 0; i < 4; i++) gan_tensor_free(ctx, s->reals[i]), free(s->real_classes[i]);
}

/* Every tensor of a network after the step against "<prefix><name>". */
static double compare_after(gan_ctx *ctx, gan_st_file *f, const gan_params *p, const char *prefix) {
    double worst = 0;
    for (int i = 0; i < p->count; i++) {
        char key[200];
        snprintf(key, sizeof key, "%s%s", prefix, p->items[i].name);
        gan_tensor *want = fixture_tensor(ctx, f, key);
        worst = fmax(worst, fixture_compare(ctx, p->items[i].tensor, want, key, 1e-4));
        gan_tensor_free(ctx, want);
    }
    return worst;
}

static void test_training_step(gan_ctx *ctx) {
    gan_st_file *f = open_fixture(FIXTURES "biggan_step.safetensors");
    gan_error err = {{0}};
    bg_config gcfg;
    bgd_config dcfg;
    if (!f || bg_config_parse(gan_st_meta(f, "G_config"), &gcfg, &err) != 0 ||
        bgd_config_parse(gan_st_meta(f, "D_config"), &dcfg, &err) != 0) {
        CHECKF(0, "step fixture: %s", err.msg);
        gan_st_close(f);
        return;
    }
    bg_generator *G = bg_create(ctx, &gcfg, &err), *G_ema = bg_create(ctx, &gcfg, &err);
    bg_discriminator *D = bgd_create(ctx, &dcfg, &err);
    if (!G || !G_ema || !D || load_prefixed(ctx, &G->params, f, "G.") != 0 ||
        load_prefixed(ctx, &G_ema->params, f, "G.") != 0 || load_prefixed(ctx, &D->params, f, "D.") != 0) {
        CHECKF(0, "step networks: %s", err.msg);
    } else {
        bg_train_options o = {.batch = 4, .d_steps = 2, .d_accumulations = 2, .g_accumulations = 2, .g_lr = 1e-4f,
                              .d_lr = 4e-4f, .beta1 = 0.0f, .beta2 = 0.999f, .adam_eps = 1e-6f, .g_ortho = 1e-3f,
                              .d_ortho = 1e-3f, .ema_decay = 0.9f, .ema_start = 0};
        bg_trainer t;
        step_fixture s = {0};
        load_draws(ctx, f, &s);
        bg_step_inputs in = {s.fakes, (const gan_tensor *const *)s.reals, (const int *const *)s.real_classes,
                             s.fakes + 4};
        bg_step_stats st;
        CHECK(bg_trainer_init(ctx, &t, G, D, G_ema, &o) == 0);
        CHECKF(bg_trainer_step(ctx, &t, &in, &st) == 0, "%s", ctx->error.msg);
        double e_gd = compare_grads(ctx, f, &D->params, t.grads_d, "gradD.", TOL_GRAD);
        double e_gg = compare_grads(ctx, f, &G->params, t.grads_g, "gradG.", TOL_GRAD);
        double e_d = compare_after(ctx, f, &D->params, "after.D.");
        double e_g = compare_after(ctx, f, &G->params, "after.G.");
        double e_ema = compare_after(ctx, f, &G_ema->params, "after.G_ema.");
        printf("training step: gradients D %.2e G %.2e; after the step D %.2e G %.2e G_ema %.2e\n", e_gd, e_gg, e_d,
               e_g, e_ema);
        bg_trainer_free(ctx, &t);
        free_draws(ctx, &s);
    }
    bg_free(ctx, G), bg_free(ctx, G_ema), bgd_free(ctx, D);
    gan_st_close(f);
}

static void test_bad_input(gan_ctx *ctx) {
    gan_error err = {{0}};
    bg_config cfg;
    CHECK(bg_config_parse("{\"arch\":\"stylegan2\"}", &cfg, &err) != 0 && strstr(err.msg, "arch"));
    CHECK(bg_config_parse("{\"arch\":\"biggan\",\"resolution\":48,\"G_ch\":4,\"dim_z\":20,\"shared_dim\":8,"
                          "\"n_classes\":5}",
                          &cfg, &err) != 0 &&
          strstr(err.msg, "resolution"));
    CHECK(bg_config_parse("{\"arch\":\"biggan\",\"resolution\":32,\"G_ch\":4,\"dim_z\":20,\"shared_dim\":8,"
                          "\"n_classes\":5,\"G_attn\":\"16x\"}",
                          &cfg, &err) != 0 &&
          strstr(err.msg, "G_attn"));
    CHECK(bg_config_parse("{\"arch\":\"biggan\",\"resolution\":32,\"G_ch\":1,\"dim_z\":20,\"shared_dim\":8,"
                          "\"n_classes\":5,\"G_attn\":\"16\"}",
                          &cfg, &err) == 0);
    CHECK(bg_create(ctx, &cfg, &err) == NULL && strstr(err.msg, "attention needs at least 8 channels"));
    CHECK(bg_load(ctx, FIXTURES "biggan_d32.safetensors", "", &err) == NULL); /* a D is not a G */
    gan_tensor *z = gan_tensor_2d(ctx, 2, 7);
    bg_generator *g = bg_load(ctx, FIXTURES "biggan_g32.safetensors", "", &err);
    gan_tensor *labels = bg_one_hot(ctx, (int[]){0, 1}, 2, 5), *y = g ? bg_embed_classes(ctx, g, labels) : NULL;
    CHECK(g && bg_forward(ctx, g, z, y, BG_EVAL, NULL) == NULL && strstr(ctx->error.msg, "expected z [N, 20]"));
    gan_ctx_take_error(ctx, &err);
    CHECK(bg_one_hot(ctx, (int[]){5}, 1, 5) == NULL && strstr(ctx->error.msg, "out of range"));
    gan_ctx_take_error(ctx, &err);
    gan_tensor_free(ctx, z), gan_tensor_free(ctx, labels), gan_tensor_free(ctx, y);
    bg_free(ctx, g);
}

int main(void) {
    gan_error err = {{0}};
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    if (!ctx) TEST_SKIP("no context: %s", err.msg);
    test_generator(ctx, "biggan_g32", 1);
    test_generator(ctx, "biggan_g128", 0);
    test_standing(ctx);
    test_discriminator(ctx, "biggan_d32", 1);
    test_discriminator(ctx, "biggan_d128", 0);
    test_spectral_norm(ctx);
    test_training_step(ctx);
    test_bad_input(ctx);
    gan_ctx_free(ctx);
    TEST_DONE();
}
