/* FreezeD (--freezed K): D's first K layers, counted from the input as the
 * reference's freeze_layers counts them (per block fromrgb, conv0, conv1,
 * skip), keep their values through a training step with every phase due,
 * the rest train; the setting survives a checkpoint. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gan/context.h"
#include "tests/fixture_util.h"
#include "tests/test.h"
#include "train/checkpoint.h"
#include "train/draws.h"
#include "train/run.h"

static void check_layer_numbers(const sg2_discriminator *d) {
    CHECK(sg2d_layer_index(d, "b32.fromrgb.weight") == 0 && sg2d_layer_index(d, "b32.fromrgb.bias") == 0);
    CHECK(sg2d_layer_index(d, "b32.conv0.weight") == 1 && sg2d_layer_index(d, "b32.conv1.bias") == 2);
    CHECK(sg2d_layer_index(d, "b32.skip.weight") == 3 && sg2d_layer_index(d, "b16.conv0.weight") == 4);
    CHECK(sg2d_layer_index(d, "b8.skip.weight") == 9 && sg2d_layer_index(d, "b4.fc.weight") == -1);
    CHECK(sg2d_layer_index(d, "b4.out.bias") == -1);
}

int main(void) {
    gan_error err = {{0}};
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    train_options o;
    sg2_config gcfg;
    int group;
    CHECK_OK(train_config_preset("small", 32, 4, -1, &o, &gcfg, &group, &err), &err);
    o.freeze_d = 4; /* the whole 32 px block */
    sg2d_config dcfg = sg2d_config_for(&gcfg, group);
    sg2_generator *G = sg2_create(ctx, &gcfg, &err), *G_ema = sg2_create(ctx, &gcfg, &err);
    sg2_discriminator *D = sg2d_create(ctx, &dcfg, &err);
    trainer t;
    if (!G || !G_ema || !D || sg2_init_random(ctx, G, 1, &err) || sg2_init_random(ctx, G_ema, 1, &err) ||
        sg2d_init_random(ctx, D, 2, &err) || trainer_init(ctx, &t, G, D, G_ema, &o)) {
        fprintf(stderr, "setup: %s%s\n", err.msg, ctx->error.msg);
        return 1;
    }
    check_layer_numbers(D);
    const gan_params *p = &D->params;
    float **before = calloc((size_t)p->count, sizeof *before);
    for (int i = 0; i < p->count; i++) before[i] = fixture_host(ctx, p->items[i].tensor);
    gan_tensor *reals = gan_randn(ctx, 4, (int64_t[]){o.batch, 3, 32, 32}, (uint64_t[]){5}, 1, 0);
    step_draws draws;
    draw_storage storage;
    step_stats st;
    CHECK(draws_make(ctx, G, &o, 3, 0, &draws, &storage) == 0);
    CHECKF(trainer_step(ctx, &t, reals, &draws, &st) == 0 && st.dreg, "step: %s", ctx->error.msg);
    draws_free(ctx, &storage);
    int frozen = 0, moved = 0;
    for (int i = 0; i < p->count; i++) {
        if (p->items[i].is_buffer) continue;
        float *after = fixture_host(ctx, p->items[i].tensor);
        int same = memcmp(after, before[i], (size_t)p->items[i].tensor->numel * sizeof *after) == 0;
        int layer = sg2d_layer_index(D, p->items[i].name);
        if (layer >= 0 && layer < 4) {
            CHECKF(same && !t.adam_d.m[i], "%s is frozen but changed or has optimizer state", p->items[i].name);
            frozen++;
        } else {
            moved += !same;
        }
        free(after);
    }
    printf("after one step with --freezed 4: %d frozen tensors unchanged, %d trained tensors moved\n", frozen, moved);
    CHECK(frozen == 7 && moved > 8); /* fromrgb, conv0, conv1: weight and bias; skip: weight */

    /* The checkpoint keeps the setting: a loaded run has the same frozen set. */
    char path[] = "/tmp/dne-test-freezed-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    run_meta meta = {.seed = 3, .total_kimg = 1};
    snprintf(meta.cfg, sizeof meta.cfg, "small");
    CHECK_OK(checkpoint_save(ctx, &t, &meta, path, &err), &err);
    loaded_run run;
    if (checkpoint_load(ctx, path, &run, &err) == 0) {
        CHECK(run.t.opt.freeze_d == 4);
        for (int i = 0; i < run.D->params.count; i++) {
            int layer = sg2d_layer_index(run.D, run.D->params.items[i].name);
            if (!run.D->params.items[i].is_buffer) CHECK((run.t.adam_d.m[i] == NULL) == (layer >= 0 && layer < 4));
        }
        checkpoint_free(ctx, &run);
    } else {
        CHECKF(0, "loading the checkpoint: %s", err.msg);
    }
    unlink(path);
    for (int i = 0; i < p->count; i++) free(before[i]);
    free(before);
    gan_tensor_free(ctx, reals);
    trainer_free(ctx, &t);
    sg2_free(ctx, G), sg2_free(ctx, G_ema), sg2d_free(ctx, D);
    CHECKF(!gan_ctx_failed(ctx), "%s", ctx->error.msg);
    gan_ctx_free(ctx);
    TEST_DONE();
}
