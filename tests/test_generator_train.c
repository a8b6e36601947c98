/* The generator's training passes against PyTorch autograd
 * (tests/fixtures/sg2_grad.safetensors, written by
 * tools/reference/make_grad_fixtures.py): the taped forward gives the
 * reference's images, and every synthesis and mapping parameter gradient, and
 * the gradient with respect to each w row, match. The fixture's network has
 * non-symmetric FIR filters and a clamp that fires, so flipped filters and
 * ungated clamps would show. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gan/models/stylegan2_train.h"
#include "gan/ops.h"
#include "tests/fixture_util.h"
#include "tests/test.h"
#include "tests/test_context.h"

#define FIXTURE "tests/fixtures/sg2_grad.safetensors"
#define TOLERANCE 2e-5 /* max abs error over the tensor's largest magnitude */

/* The reference's const noise mode: each noisy layer's noise_const, the
 * same for every sample. */
static gan_tensor **const_noise(gan_ctx *ctx, const sg2_generator *g, int64_t n) {
    gan_tensor **noise = calloc((size_t)sg2_noise_layers(g), sizeof *noise);
    int k = 0;
    for (int b = 0; b < g->num_blocks; b++) {
        const sg2_block *blk = &g->blocks[b];
        for (int c = blk->in_channels == 0 ? 1 : 0; c < 2; c++) {
            const gan_tensor *nc = (c == 0 ? &blk->conv0 : &blk->conv1)->noise_const;
            gan_tensor *t = gan_repeat(ctx, nc, n); /* [N, r, r] */
            if (t) t->ndim = 4, t->shape[3] = t->shape[2], t->shape[2] = t->shape[1], t->shape[1] = 1;
            noise[k++] = t;
        }
    }
    return noise;
}

static void test_synthesis(gan_ctx *ctx, const sg2_generator *g, gan_st_file *f) {
    gan_tensor *ws = fixture_tensor(ctx, f, "ws"), *want_img = fixture_tensor(ctx, f, "img");
    gan_tensor *r = fixture_tensor(ctx, f, "r_img"), *want_dws = fixture_tensor(ctx, f, "dws");
    if (!ws || !want_img || !r || !want_dws) return;
    int64_t n = ws->shape[0];
    gan_tensor **noise = const_noise(ctx, g, n);
    sg2_synthesis_tape tape;
    gan_tensor *img = sg2_synthesis_train(ctx, g, ws, (const gan_tensor *const *)noise, 0, &tape);
    printf("images: error %.2e\n", fixture_compare(ctx, img, want_img, "images", TOLERANCE));
    gan_tensor **grads = gan_params_grads_new(ctx, &g->params);
    gan_tensor *dws[2 * SG2_MAX_BLOCKS];
    CHECKF(sg2_synthesis_backward(ctx, g, &tape, r, grads, dws) == 0, "backward: %s", ctx->error.msg);
    double worst = fixture_compare_grads(ctx, f, &g->params, grads, "grad.", "synthesis.", TOLERANCE, 0);
    printf("synthesis parameter gradients: worst error %.2e\n", worst);
    worst = 0;
    for (int l = 0; l < g->num_ws && !ctx->failed; l++) {
        gan_tensor *row = gan_select_row(ctx, want_dws, l);
        char name[32];
        snprintf(name, sizeof name, "dws row %d", l);
        worst = fmax(worst, fixture_compare(ctx, dws[l], row, name, TOLERANCE));
        gan_tensor_free(ctx, row), gan_tensor_free(ctx, dws[l]);
    }
    printf("w gradients: worst error %.2e\n", worst);
    sg2_synthesis_tape_free(ctx, &tape);
    gan_params_grads_free(ctx, &g->params, grads);
    for (int i = 0; i < sg2_noise_layers(g); i++) gan_tensor_free(ctx, noise[i]);
    free(noise);
    gan_tensor *spent[] = {ws, want_img, r, want_dws, img};
    for (size_t i = 0; i < sizeof spent / sizeof *spent; i++) gan_tensor_free(ctx, spent[i]);
}

static void test_mapping(gan_ctx *ctx, const sg2_generator *g, gan_st_file *f) {
    gan_tensor *z = fixture_tensor(ctx, f, "z"), *want_w = fixture_tensor(ctx, f, "w");
    gan_tensor *r = fixture_tensor(ctx, f, "r_w");
    if (!z || !want_w || !r) return;
    sg2_mapping_tape tape;
    gan_tensor *w = sg2_mapping_train(ctx, g, z, &tape);
    printf("w: error %.2e\n", fixture_compare(ctx, w, want_w, "w", TOLERANCE));
    gan_tensor **grads = gan_params_grads_new(ctx, &g->params);
    CHECKF(sg2_mapping_backward(ctx, g, &tape, r, grads) == 0, "backward: %s", ctx->error.msg);
    double worst = fixture_compare_grads(ctx, f, &g->params, grads, "grad.", "mapping.", TOLERANCE, 0);
    printf("mapping parameter gradients: worst error %.2e\n", worst);
    sg2_mapping_tape_free(ctx, &tape);
    gan_params_grads_free(ctx, &g->params, grads);
    gan_tensor *spent[] = {z, want_w, r, w};
    for (size_t i = 0; i < sizeof spent / sizeof *spent; i++) gan_tensor_free(ctx, spent[i]);
}

int main(void) {
    gan_ctx *ctx = test_context();
    if (!ctx) return 1;
    gan_error err = {{0}};
    sg2_generator *g = sg2_load(ctx, FIXTURE, "G.", &err);
    gan_st_file *f = NULL;
    CHECKF(g != NULL, "%s", err.msg);
    CHECK_OK(gan_st_open(FIXTURE, &f, &err), &err);
    if (g && f) {
        test_synthesis(ctx, g, f);
        test_mapping(ctx, g, f);
        /* A backward pass without a taped forward pass is refused. */
        sg2_synthesis_tape empty = {0};
        gan_tensor *dws[2 * SG2_MAX_BLOCKS];
        gan_tensor *dimg = gan_tensor_4d(ctx, 1, 3, 16, 16);
        CHECK(sg2_synthesis_backward(ctx, g, &empty, dimg, NULL, dws) != 0);
        CHECKF(strstr(ctx->error.msg, "no taped forward") != NULL, "message: %s", ctx->error.msg);
        gan_error taken;
        gan_ctx_take_error(ctx, &taken);
        gan_tensor_free(ctx, dimg);
    }
    gan_st_close(f);
    sg2_free(ctx, g);
    return test_finish(ctx);
}
