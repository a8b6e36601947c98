/* Tests for gan/metrics/swd.c, the sliced Wasserstein distance.
 * - Fixture (tests/fixtures/swd.json, from tools/reference/swd.py --fixture):
 *   three cases on real images from ../shared/data (64 px RGB, 256 px RGB
 *   with 5 levels and a seed whose +1, +2 wrap around, 64 px one channel with
 *   other settings). dne's float32 result must match the float64 NumPy
 *   reference within 1e-4 relative per level (measured: about 1e-6).
 * - NumPy's RandomState.randint stream, which places the neighbourhoods.
 * - Results do not depend on batch split or thread count, and the reals'
 *   descriptors are reused across computes (clear_fakes) unchanged.
 * - Properties: two disjoint halves of the same data are much closer than
 *   data and noise; swapping the two sets changes little.
 * - gan_swd_of_generator measures exactly the images `dne generate` would
 *   write for seeds first_seed .. first_seed + N - 1.
 * - Bad settings and misuse give clear errors. */
#include "gan/metrics/swd.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gan/io/file.h"
#include "gan/context.h"
#include "gan/io/image.h"
#include "gan/io/tensor_image.h"
#include "gan/metrics/swd_generator.h"
#include "gan/models/stylegan2.h"
#include "gan/rng.h"
#include "tests/test.h"

#define FIXTURE "tests/fixtures/swd.json"
#define GETCHU "../shared/data/anime_faces_getchu64"

/* Loads files root/names[i] as [count][channels][R][R] uint8 (the first
 * `channels` of RGB); NULL on failure (printed). */
static uint8_t *load_images(const char *root, char **names, int count, int channels, int *resolution) {
    uint8_t *out = NULL;
    for (int i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        gan_image img;
        gan_error err;
        if (gan_image_load(path, &img, &err) != 0 || gan_image_convert(&img, 3, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            free(out);
            return NULL;
        }
        if (i == 0) {
            *resolution = img.width;
            out = malloc((size_t)count * channels * img.width * img.width);
        }
        if (img.width != *resolution || img.height != *resolution) {
            fprintf(stderr, "%s: %dx%d, expected %d px\n", path, img.width, img.height, *resolution);
            gan_image_free(&img);
            free(out);
            return NULL;
        }
        size_t plane = (size_t)img.width * img.height;
        uint8_t *dst = out + (size_t)i * channels * plane;
        for (int c = 0; c < channels; c++)
            for (size_t p = 0; p < plane; p++) dst[c * plane + p] = img.pixels[p * 3 + c];
        gan_image_free(&img);
    }
    return out;
}

static long long pixel_sum(const uint8_t *p, size_t n) {
    long long s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s;
}

/* Adds count images in batches of `batch`. */
static int add_in_batches(gan_swd *swd, int fakes, const uint8_t *images, int count, int batch, gan_error *err) {
    size_t bytes = (size_t)gan_swd_channels(swd) * gan_swd_resolution(swd) * gan_swd_resolution(swd);
    for (int i = 0; i < count; i += batch) {
        int n = count - i < batch ? count - i : batch;
        int rc = fakes ? gan_swd_add_fakes(swd, images + i * bytes, n, err)
                       : gan_swd_add_reals(swd, images + i * bytes, n, err);
        if (rc != 0) return -1;
    }
    return 0;
}

static int run_swd(const gan_swd_params *p, int channels, int res, const uint8_t *reals, const uint8_t *fakes,
                   int count, int batch, gan_swd_result *out) {
    gan_error err;
    gan_swd *swd = gan_swd_new(p, channels, res, &err);
    int rc = swd ? 0 : -1;
    if (rc == 0) rc = add_in_batches(swd, 0, reals, count, batch, &err);
    if (rc == 0) rc = add_in_batches(swd, 1, fakes, count, batch + 2, &err);
    if (rc == 0) rc = gan_swd_compute(swd, out, &err);
    if (rc != 0) fprintf(stderr, "swd: %s\n", err.msg);
    gan_swd_free(swd);
    return rc;
}

static int same_result(const gan_swd_result *a, const gan_swd_result *b) {
    if (a->levels != b->levels || a->average != b->average) return 0;
    for (int l = 0; l < a->levels; l++)
        if (a->distance[l] != b->distance[l] || a->resolution[l] != b->resolution[l]) return 0;
    return 1;
}

/* ------------------------------------------------------------ randint */

static void test_randint(const cJSON *fixture) {
    const cJSON *r = cJSON_GetObjectItem(fixture, "randint");
    gan_randomstate rs;
    gan_randomstate_seed(&rs, (uint32_t)cJSON_GetObjectItem(r, "seed")->valuedouble);
    int64_t low = (int64_t)cJSON_GetObjectItem(r, "low")->valuedouble;
    int64_t high = (int64_t)cJSON_GetObjectItem(r, "high")->valuedouble;
    const cJSON *v;
    int i = 0, bad = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(r, "values")) {
        int64_t got = gan_randomstate_randint(&rs, low, high);
        if (got != (int64_t)v->valuedouble && bad++ == 0)
            fprintf(stderr, "randint #%d: %lld, NumPy %lld\n", i, (long long)got, (long long)v->valuedouble);
        i++;
    }
    CHECK(i == 300 && bad == 0);
    gan_randomstate_seed(&rs, 1);
    CHECK(gan_randomstate_randint(&rs, 4, 5) == 4); /* a single value draws nothing */
}

/* ------------------------------------------------------------ fixture */

static char **string_array(const cJSON *a, int *count) {
    *count = cJSON_GetArraySize(a);
    char **out = calloc((size_t)*count, sizeof *out);
    for (int i = 0; i < *count; i++) out[i] = cJSON_GetArrayItem(a, i)->valuestring;
    return out;
}

static int json_int(const cJSON *o, const char *key) { return (int)cJSON_GetObjectItem(o, key)->valuedouble; }

static gan_swd_params params_from(const cJSON *p) {
    gan_swd_params out = GAN_SWD_DEFAULTS;
    out.nhood_size = json_int(p, "nhood_size");
    out.nhoods_per_image = json_int(p, "nhoods_per_image");
    out.dir_repeats = json_int(p, "dir_repeats");
    out.dirs_per_repeat = json_int(p, "dirs_per_repeat");
    out.min_resolution = json_int(p, "min_resolution");
    out.seed = (uint32_t)cJSON_GetObjectItem(p, "seed")->valuedouble;
    return out;
}

static void test_fixture_case(const cJSON *c) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const char *root = cJSON_GetObjectItem(c, "root")->valuestring;
    int channels = json_int(c, "channels"), nr, nf, res = 0, res_f = 0;
    char **rn = string_array(cJSON_GetObjectItem(c, "reals"), &nr);
    char **fn = string_array(cJSON_GetObjectItem(c, "fakes"), &nf);
    uint8_t *reals = load_images(root, rn, nr, channels, &res);
    uint8_t *fakes = load_images(root, fn, nf, channels, &res_f);
    CHECKF(reals && fakes && nr == nf && res == res_f, "%s: images", name);
    if (reals && fakes && nr == nf && res == res_f) {
        size_t bytes = (size_t)nr * channels * res * res;
        /* The decoders must agree, or the comparison below means nothing. */
        CHECKF(pixel_sum(reals, bytes) == (long long)cJSON_GetObjectItem(c, "reals_pixel_sum")->valuedouble &&
                   pixel_sum(fakes, bytes) == (long long)cJSON_GetObjectItem(c, "fakes_pixel_sum")->valuedouble,
               "%s: decoded pixels differ from Pillow's", name);
        gan_swd_params p = params_from(cJSON_GetObjectItem(c, "params"));
        gan_swd_result r;
        CHECK(run_swd(&p, channels, res, reals, fakes, nr, 7, &r) == 0);
        const cJSON *expect = cJSON_GetObjectItem(c, "swd");
        CHECKF(r.levels == cJSON_GetArraySize(expect), "%s: %d levels", name, r.levels);
        double worst = 0;
        for (int l = 0; l < r.levels && l < cJSON_GetArraySize(expect); l++) {
            double e = cJSON_GetArrayItem(expect, l)->valuedouble;
            double rel = fabs(r.distance[l] - e) / e;
            if (!(rel <= worst)) worst = rel;
            CHECKF(r.resolution[l] == (int)cJSON_GetArrayItem(cJSON_GetObjectItem(c, "resolutions"), l)->valuedouble,
                   "%s: level %d resolution %d", name, l, r.resolution[l]);
        }
        double e_avg = cJSON_GetObjectItem(c, "swd_avg")->valuedouble;
        double rel_avg = fabs(r.average - e_avg) / e_avg;
        fprintf(stderr, "%-20s avg %.6f (reference %.6f), worst relative error %.2e per level, %.2e avg\n", name,
                r.average, e_avg, worst, rel_avg);
        CHECKF(worst <= 1e-4 && rel_avg <= 1e-4, "%s: relative error %.3e per level, %.3e avg", name, worst, rel_avg);
    }
    free(reals);
    free(fakes);
    free(rn);
    free(fn);
}

static void test_fixture(const cJSON *fixture) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(fixture, "cases")) test_fixture_case(c);
}

/* ------------------------------------------------------------ behaviour */

static int no_dots(const struct dirent *e) { return e->d_name[0] != '.'; }

/* Images start .. start + count - 1 of a getchu64 folder sorted by name. */
static uint8_t *load_folder(const char *part, int start, int count) {
    char folder[512];
    snprintf(folder, sizeof folder, "%s/%s", GETCHU, part);
    struct dirent **entries = NULL;
    int n = scandir(folder, &entries, no_dots, alphasort);
    uint8_t *images = NULL;
    int res = 0;
    if (n >= start + count) {
        char **names = calloc((size_t)count, sizeof *names);
        for (int i = 0; i < count; i++) names[i] = entries[start + i]->d_name;
        images = load_images(folder, names, count, 3, &res);
        free(names);
    }
    for (int i = 0; i < n; i++) free(entries[i]);
    free(entries);
    if (images && res != 64) {
        free(images);
        images = NULL;
    }
    return images;
}

static void test_determinism_and_reuse(const uint8_t *a, const uint8_t *b, int count) {
    gan_swd_params p = GAN_SWD_DEFAULTS;
    p.seed = 3;
    gan_swd_result whole, batched, one_thread, again;
    p.threads = 2;
    CHECK(run_swd(&p, 3, 64, a, b, count, count, &whole) == 0);
    CHECK(run_swd(&p, 3, 64, a, b, count, 3, &batched) == 0);
    p.threads = 1;
    CHECK(run_swd(&p, 3, 64, a, b, count, 16, &one_thread) == 0);
    CHECKF(same_result(&whole, &batched), "batch split changed the result: %.9f vs %.9f", whole.average,
           batched.average);
    CHECKF(same_result(&whole, &one_thread), "thread count changed the result: %.9f vs %.9f", whole.average,
           one_thread.average);

    /* Reuse of the reals: fakes cleared and added again give the same. */
    gan_error err;
    p.threads = 2;
    gan_swd *swd = gan_swd_new(&p, 3, 64, &err);
    CHECK(swd != NULL);
    if (!swd) return;
    size_t bytes = (size_t)3 * 64 * 64;
    CHECK_OK(gan_swd_add_reals(swd, a, count, &err), &err);
    CHECK_OK(gan_swd_add_fakes(swd, b, count - 1, &err), &err);
    CHECK(gan_swd_compute(swd, &again, &err) != 0 && strstr(err.msg, "as many fakes as reals"));
    CHECK_OK(gan_swd_add_fakes(swd, b + (count - 1) * bytes, 1, &err), &err);
    CHECK_OK(gan_swd_compute(swd, &again, &err), &err);
    CHECK(same_result(&whole, &again));
    CHECK(gan_swd_add_reals(swd, a, 1, &err) != 0 && strstr(err.msg, "add every real first"));
    CHECK(gan_swd_add_fakes(swd, b, 1, &err) != 0 && strstr(err.msg, "clear the fakes first"));
    for (int round = 0; round < 2; round++) {
        gan_swd_clear_fakes(swd);
        CHECK(gan_swd_num_fakes(swd) == 0 && gan_swd_num_reals(swd) == count);
        CHECK_OK(gan_swd_add_fakes(swd, b, count, &err), &err);
        CHECK_OK(gan_swd_compute(swd, &again, &err), &err);
        CHECKF(same_result(&whole, &again), "round %d after clear_fakes: %.9f vs %.9f", round, again.average,
               whole.average);
    }
    gan_swd_free(swd);
}

static void test_properties(const uint8_t *a, const uint8_t *b, int count) {
    size_t bytes = (size_t)count * 3 * 64 * 64;
    uint8_t *noise = malloc(bytes);
    float *u = malloc(bytes * sizeof *u);
    gan_philox_uniform(99, 0, u, bytes);
    for (size_t i = 0; i < bytes; i++) noise[i] = (uint8_t)(u[i] * 256);
    free(u);
    gan_swd_params p = GAN_SWD_DEFAULTS;
    gan_swd_result same, swapped, vs_noise;
    CHECK(run_swd(&p, 3, 64, a, b, count, 32, &same) == 0);
    CHECK(run_swd(&p, 3, 64, b, a, count, 32, &swapped) == 0);
    CHECK(run_swd(&p, 3, 64, a, noise, count, 32, &vs_noise) == 0);
    fprintf(stderr, "halves of heldout: %.3f %.3f %.3f avg %.3f; swapped avg %.3f; vs noise %.3f %.3f %.3f avg %.3f\n",
            same.distance[0], same.distance[1], same.distance[2], same.average, swapped.average,
            vs_noise.distance[0], vs_noise.distance[1], vs_noise.distance[2], vs_noise.average);
    for (int l = 0; l < 3; l++) {
        CHECKF(same.distance[l] > 0 && same.distance[l] * 5 < vs_noise.distance[l],
               "level %d: same data %.3f vs noise %.3f", l, same.distance[l], vs_noise.distance[l]);
        double asym = fabs(same.distance[l] - swapped.distance[l]) / same.distance[l];
        CHECKF(asym < 0.25, "level %d: d(A,B) %.3f, d(B,A) %.3f", l, same.distance[l], swapped.distance[l]);
    }
    /* A constant image set has zero spread: no NaN, and far from the data. */
    memset(noise, 200, bytes);
    gan_swd_result flat;
    CHECK(run_swd(&p, 3, 64, a, noise, count, 32, &flat) == 0);
    CHECKF(isfinite(flat.average) && flat.average > 10 * same.average, "constant fakes: avg %.3f", flat.average);
    free(noise);
}

/* The fakes gan_swd_of_generator draws, made by hand as cli/generate.c does:
 * z of seed first_seed + i, truncation, generate.py's uint8 conversion. */
static int add_fakes_by_hand(gan_ctx *ctx, const sg2_generator *g, const gan_swd_sampling *s, gan_swd *swd,
                             int count, gan_error *err) {
    const sg2_config *cfg = &g->cfg;
    int res = cfg->img_resolution;
    float *z = malloc(sizeof(float) * cfg->z_dim * s->batch);
    float *pixels = malloc(sizeof(float) * 3 * res * res * s->batch);
    double *row = malloc(sizeof(double) * cfg->z_dim);
    uint8_t *chw = malloc((size_t)3 * res * res);
    uint64_t noise_seeds[64];
    int rc = 0;
    for (int i0 = 0; rc == 0 && i0 < count; i0 += s->batch) {
        int n = count - i0 < s->batch ? count - i0 : s->batch;
        for (int i = 0; i < n; i++) {
            gan_randomstate rs;
            gan_randomstate_seed(&rs, s->first_seed + (uint32_t)(i0 + i));
            gan_randomstate_randn(&rs, row, (size_t)cfg->z_dim);
            for (int j = 0; j < cfg->z_dim; j++) z[i * cfg->z_dim + j] = (float)row[j];
            noise_seeds[i] = s->first_seed + (uint32_t)(i0 + i);
        }
        gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){n, cfg->z_dim}, z);
        gan_tensor *ws = sg2_mapping(ctx, g, zt, NULL, s->psi, 0);
        gan_tensor *img = sg2_synthesis(ctx, g, ws, SG2_NOISE_CONST, noise_seeds);
        if (img) gan_tensor_download(ctx, img, pixels);
        gan_tensor_free(ctx, zt);
        gan_tensor_free(ctx, ws);
        gan_tensor_free(ctx, img);
        if (gan_ctx_failed(ctx)) rc = gan_ctx_take_error(ctx, err);
        for (int i = 0; rc == 0 && i < n; i++) {
            gan_image im;
            rc = gan_image_from_chw(pixels + (size_t)i * 3 * res * res, 3, res, res, &im, err);
            for (int c = 0; rc == 0 && c < 3; c++)
                for (int p = 0; p < res * res; p++) chw[c * res * res + p] = im.pixels[p * 3 + c];
            if (rc == 0) rc = gan_swd_add_fakes(swd, chw, 1, err);
            gan_image_free(&im);
        }
    }
    free(z);
    free(pixels);
    free(row);
    free(chw);
    return rc;
}

static void test_generator(const uint8_t *faces, int count) {
    enum { RES = 32 };
    gan_error err;
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    sg2_config cfg;
    sg2_generator *g = NULL;
    if (ctx && sg2_config_preset("small", RES, &cfg, &err) == 0) g = sg2_create(ctx, &cfg, &err);
    CHECK(g && sg2_init_random(ctx, g, 5, &err) == 0);
    uint8_t *crops = malloc((size_t)count * 3 * RES * RES); /* top-left quarters of the faces */
    for (int i = 0; i < count; i++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < RES; y++)
                memcpy(crops + (((size_t)i * 3 + c) * RES + y) * RES, faces + (((size_t)i * 3 + c) * 64 + y) * 64, RES);
    gan_swd_params p = GAN_SWD_DEFAULTS;
    gan_swd *swd = g ? gan_swd_new(&p, 3, RES, &err) : NULL;
    CHECK(swd && gan_swd_add_reals(swd, crops, count, &err) == 0);
    gan_swd_sampling s = GAN_SWD_SAMPLING_DEFAULTS;
    s.batch = 6;
    s.first_seed = 10;
    s.psi = 0.7f;
    gan_swd_result via_fn, by_hand, again;
    if (swd) {
        CHECK_OK(gan_swd_of_generator(ctx, g, &s, swd, &via_fn, &err), &err);
        gan_swd_clear_fakes(swd);
        CHECK_OK(add_fakes_by_hand(ctx, g, &s, swd, count, &err), &err);
        CHECK_OK(gan_swd_compute(swd, &by_hand, &err), &err);
        CHECKF(same_result(&via_fn, &by_hand), "gan_swd_of_generator %.9f, by hand %.9f", via_fn.average,
               by_hand.average);
        CHECK_OK(gan_swd_of_generator(ctx, g, &s, swd, &again, &err), &err); /* fakes replaced, reals kept */
        CHECK(same_result(&via_fn, &again) && gan_swd_num_fakes(swd) == count);
        fprintf(stderr, "random-init 32 px generator vs face crops: avg %.3f\n", via_fn.average);
        CHECK(isfinite(via_fn.average) && via_fn.average > 0);
    }
    gan_swd *wrong = gan_swd_new(&p, 3, 64, &err);
    gan_swd_result r;
    if (g && wrong) {
        CHECK(gan_swd_add_reals(wrong, faces, 2, &err) == 0);
        CHECK(gan_swd_of_generator(ctx, g, &s, wrong, &r, &err) != 0 && strstr(err.msg, "makes 32 px images"));
    }
    gan_swd_free(wrong);
    gan_swd_free(swd);
    free(crops);
    sg2_free(ctx, g);
    gan_ctx_free(ctx);
}

static void test_errors(void) {
    gan_error err;
    gan_swd_params p = GAN_SWD_DEFAULTS;
    CHECK(gan_swd_new(&p, 3, 48, &err) == NULL && strstr(err.msg, "power of two"));
    CHECK(gan_swd_new(&p, 3, 8, &err) == NULL && strstr(err.msg, "image size 8"));
    CHECK(gan_swd_new(&p, 5, 64, &err) == NULL && strstr(err.msg, "channels"));
    p.nhood_size = 6;
    CHECK(gan_swd_new(&p, 3, 64, &err) == NULL && strstr(err.msg, "odd"));
    p = GAN_SWD_DEFAULTS;
    p.min_resolution = 4; /* 4 px levels cannot hold 7 px neighbourhoods */
    CHECK(gan_swd_new(&p, 3, 64, &err) == NULL && strstr(err.msg, "coarsest level"));
    p = GAN_SWD_DEFAULTS;
    gan_swd *swd = gan_swd_new(&p, 3, 16, &err);
    CHECK(swd != NULL);
    gan_swd_result r;
    CHECK(gan_swd_compute(swd, &r, &err) != 0 && strstr(err.msg, "no real images"));
    CHECK(gan_swd_add_reals(swd, NULL, 2, &err) != 0);
    gan_swd_free(swd);
}

int main(void) {
    test_errors();
    uint8_t *text = NULL;
    size_t size;
    gan_error err;
    if (gan_read_file(FIXTURE, 1 << 20, &text, &size, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cJSON *fixture = cJSON_Parse((const char *)text);
    free(text);
    CHECK(fixture != NULL);
    if (fixture) test_randint(fixture);
    if (access(GETCHU, R_OK) != 0) {
        cJSON_Delete(fixture);
        TEST_SKIP("%s missing: the image tests need ../shared/data", GETCHU);
    }
    if (fixture) test_fixture(fixture);
    cJSON_Delete(fixture);

    enum { HALF = 200 };
    uint8_t *a = load_folder("heldout", 0, HALF), *b = load_folder("heldout", HALF, HALF);
    CHECK(a && b);
    if (a && b) {
        test_determinism_and_reuse(a, b, 40);
        test_generator(a, 20);
        test_properties(a, b, HALF);
    }
    free(a);
    free(b);
    TEST_DONE();
}
