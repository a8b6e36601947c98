/* End to end: the dne program's generate and init commands.
 * - The PNGs `dne generate` writes equal the PyTorch reference's images
 *   (the *_out.safetensors fixtures) converted as generate.py does, within
 *   one level.
 * - Bad input (corrupt or mismatched network files, bad flags) gives one line
 *   naming the problem and exit status 2, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gan/io/file.h"
#include "gan/io/image.h"
#include "gan/io/safetensors.h"
#include "gan/io/tensor_image.h"
#include "tests/test.h"

static char tmpdir[256];

typedef struct run_result {
    int status;
    char output[8192];
} run_result;

/* Runs `dne <args>` and captures its stdout and stderr. */
static run_result run_dne(const char *args) {
    run_result r = {.status = -1};
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", DNE_EXE, args);
    FILE *p = popen(cmd, "r");
    if (!p) return r;
    size_t n = fread(r.output, 1, sizeof r.output - 1, p);
    r.output[n] = 0;
    int status = pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

static int count_lines(const char *s) {
    int lines = 0;
    for (; *s; s++) lines += *s == '\n';
    return lines;
}

/* A bad input must be refused with status 2 and one line containing `word`. */
static void expect_refusal(const char *args, const char *word) {
    run_result r = run_dne(args);
    CHECKF(r.status == 2, "dne %s: status %d, output: %s", args, r.status, r.output);
    CHECKF(count_lines(r.output) == 1, "dne %s: expected one line, got: %s", args, r.output);
    CHECKF(strstr(r.output, word) != NULL, "dne %s: message lacks '%s': %s", args, word, r.output);
}

/* ------------------------------------------------------------ image parity */

static float *read_fixture(const char *path, const char *name, int64_t *numel) {
    gan_st_file *f;
    gan_error err;
    if (gan_st_open(path, &f, &err) != 0) return NULL;
    const gan_st_tensor *t = gan_st_find(f, name);
    float *data = t ? malloc((size_t)t->numel * sizeof *data) : NULL;
    if (data && gan_st_read_f32(f, t, data, &err) != 0) {
        free(data);
        data = NULL;
    }
    if (t) *numel = t->numel;
    gan_st_close(f);
    return data;
}

/* Compares outdir/seedNNNN.png for seeds[i] with image i of the fixture. */
static void compare_pngs(const char *model, const char *key, const unsigned *seeds, int count, int res, int first) {
    char path[512];
    int64_t numel = 0;
    snprintf(path, sizeof path, "tests/fixtures/%s_out.safetensors", model);
    float *want = read_fixture(path, key, &numel);
    CHECKF(want != NULL, "%s: no %s", path, key);
    if (!want) return;
    size_t per_image = (size_t)3 * res * res;
    for (int i = 0; i < count; i++) {
        gan_image got, expected;
        gan_error err;
        snprintf(path, sizeof path, "%s/seed%04u.png", tmpdir, seeds[i]);
        if (gan_image_load(path, &got, &err) != 0) {
            CHECKF(0, "%s", err.msg);
            continue;
        }
        gan_image_from_chw(want + (first + i) * per_image, 3, res, res, &expected, &err);
        CHECK(got.width == res && got.height == res && got.channels == 3);
        int worst = 0;
        for (size_t j = 0; got.width == res && j < per_image; j++) {
            int d = abs((int)got.pixels[j] - (int)expected.pixels[j]);
            if (d > worst) worst = d;
        }
        CHECKF(worst <= 1, "%s %s seed %u: PNG differs by %d levels", model, key, seeds[i], worst);
        printf("  %s %s seed %u: max level difference %d\n", model, key, seeds[i], worst);
        gan_image_free(&got);
        gan_image_free(&expected);
    }
    free(want);
}

static void test_png_parity(void) {
    static const unsigned seeds[2] = {0, 42};
    char args[1024];
    run_result r;
    const char *models[2] = {"sg2_64", "sg2_128"};
    const int res[2] = {64, 128};
    for (int m = 0; m < 2; m++) {
        snprintf(args, sizeof args, "generate --network tests/fixtures/%s.safetensors --seeds 0,42 --outdir %s",
                 models[m], tmpdir);
        r = run_dne(args);
        CHECKF(r.status == 0, "%s", r.output);
        compare_pngs(models[m], "img_psi100", seeds, 2, res[m], 0);
        snprintf(args, sizeof args,
                 "generate --network tests/fixtures/%s.safetensors --seeds 0,42 --trunc 0.7 --batch 2 --outdir %s",
                 models[m], tmpdir);
        r = run_dne(args);
        CHECKF(r.status == 0, "%s", r.output);
        compare_pngs(models[m], "img_psi070", seeds, 2, res[m], 0);
    }
    snprintf(args, sizeof args,
             "generate --network tests/fixtures/sg2_64.safetensors --seeds 0 --trunc 0.7 --trunc-cutoff 4 --outdir %s",
             tmpdir);
    r = run_dne(args);
    CHECKF(r.status == 0, "%s", r.output);
    compare_pngs("sg2_64", "img_psi070_cutoff4", seeds, 1, 64, 0);
    /* The conditional fixture used class 1 for seed 0 and class 3 for seed 42. */
    snprintf(args, sizeof args, "generate --network tests/fixtures/sg2_32c.safetensors --seeds 42 --class 3 --outdir %s",
             tmpdir);
    r = run_dne(args);
    CHECKF(r.status == 0, "%s", r.output);
    compare_pngs("sg2_32c", "img_psi100", seeds + 1, 1, 32, 1);
}

static void test_webp_and_init(void) {
    char args[1024], path[512];
    snprintf(path, sizeof path, "%s/init.safetensors", tmpdir);
    snprintf(args, sizeof args, "init --preset small --res 16 --seed 3 --out %s", path);
    run_result r = run_dne(args);
    CHECKF(r.status == 0, "%s", r.output);
    snprintf(args, sizeof args, "generate --network %s --seeds 5 --format webp --noise-mode random --outdir %s/webp",
             path, tmpdir);
    r = run_dne(args);
    CHECKF(r.status == 0, "%s", r.output);
    gan_image img;
    gan_error err;
    snprintf(path, sizeof path, "%s/webp/seed0005.webp", tmpdir);
    CHECKF(gan_image_load(path, &img, &err) == 0, "%s", err.msg);
    CHECK(img.width == 16 && img.height == 16);
    gan_image_free(&img);
}

/* ---------------------------------------------------------------- bad input */

typedef struct edit {
    const char *drop;         /* tensor left out */
    const char *reshape;      /* tensor given one element fewer */
    const char *as_i32;       /* tensor stored with dtype I32 */
    const char *config;       /* replacement config JSON */
} edit;

/* Copies the sg2_32c fixture to path with one edit applied. */
static int write_edited(const char *path, edit e) {
    gan_st_file *src;
    gan_error err;
    if (gan_st_open("tests/fixtures/sg2_32c.safetensors", &src, &err) != 0) return -1;
    gan_st_writer *w = gan_st_writer_new();
    float **data = calloc((size_t)gan_st_count(src), sizeof *data);
    int rc = gan_st_writer_meta(w, "config", e.config ? e.config : gan_st_meta(src, "config"), &err);
    for (int i = 0; rc == 0 && i < gan_st_count(src); i++) {
        const gan_st_tensor *t = gan_st_at(src, i);
        if (e.drop && strcmp(t->name, e.drop) == 0) continue;
        data[i] = malloc((size_t)t->numel * sizeof(float) + 4);
        rc = gan_st_read_f32(src, t, data[i], &err);
        int64_t shape[GAN_ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        if (e.reshape && strcmp(t->name, e.reshape) == 0) shape[0] -= 1;
        gan_st_dtype dtype = e.as_i32 && strcmp(t->name, e.as_i32) == 0 ? GAN_ST_I32 : GAN_ST_F32;
        if (rc == 0) rc = gan_st_writer_add(w, t->name, dtype, t->ndim, shape, data[i], &err);
    }
    if (rc == 0) rc = gan_st_writer_save(w, path, &err);
    for (int i = 0; i < gan_st_count(src); i++) free(data[i]);
    free(data);
    gan_st_writer_free(w);
    gan_st_close(src);
    return rc;
}

/* Writes the first `size` bytes of the fixture, with optional byte patches. */
static void write_bytes(const char *path, size_t size, size_t patch_at, const void *patch, size_t patch_size) {
    uint8_t *data;
    size_t n;
    gan_error err;
    if (gan_read_file("tests/fixtures/sg2_32c.safetensors", 1 << 24, &data, &n, &err) != 0) return;
    if (patch) memcpy(data + patch_at, patch, patch_size);
    gan_write_file_atomic(path, data, size < n ? size : n, &err);
    free(data);
}

static void expect_bad_network(const char *file, const char *word) {
    char args[1024];
    snprintf(args, sizeof args, "generate --network %s/%s --seeds 0 --outdir %s/never", tmpdir, file, tmpdir);
    expect_refusal(args, word);
}

static void test_bad_networks(void) {
    char path[512];
    uint64_t huge = (uint64_t)1 << 40;
#define AT(name) (snprintf(path, sizeof path, "%s/%s", tmpdir, name), path)
    write_bytes(AT("truncated.safetensors"), 30000, 0, NULL, 0);
    expect_bad_network("truncated.safetensors", "truncated.safetensors");
    write_bytes(AT("header.safetensors"), SIZE_MAX, 0, &huge, sizeof huge);
    expect_bad_network("header.safetensors", "header");
    write_bytes(AT("json.safetensors"), SIZE_MAX, 8, "[", 1);
    expect_bad_network("json.safetensors", "JSON");
    write_bytes(AT("empty.safetensors"), 0, 0, NULL, 0);
    expect_bad_network("empty.safetensors", "empty.safetensors");
    expect_bad_network("does-not-exist.safetensors", "does-not-exist");

    write_edited(AT("missing.safetensors"), (edit){.drop = "mapping.w_avg"});
    expect_bad_network("missing.safetensors", "missing tensor 'mapping.w_avg'");
    write_edited(AT("shape.safetensors"), (edit){.reshape = "synthesis.b8.conv0.weight"});
    expect_bad_network("shape.safetensors", "synthesis.b8.conv0.weight");
    write_edited(AT("dtype.safetensors"), (edit){.as_i32 = "mapping.fc0.bias"});
    expect_bad_network("dtype.safetensors", "I32");
    write_edited(AT("arch.safetensors"), (edit){.config = "{\"arch\":\"stylegan3\",\"z_dim\":32}"});
    expect_bad_network("arch.safetensors", "unknown arch");
    write_edited(AT("config.safetensors"), (edit){.config = "{\"arch\":\"stylegan2\",\"z_dim\":"});
    expect_bad_network("config.safetensors", "JSON");
    write_edited(AT("res.safetensors"),
                 (edit){.config = "{\"arch\":\"stylegan2\",\"z_dim\":32,\"w_dim\":32,\"c_dim\":5,\"img_resolution\":"
                                  "48,\"img_channels\":3,\"mapping_layers\":2,\"channel_base\":512,\"channel_max\":"
                                  "32,\"conv_clamp\":256}"});
    expect_bad_network("res.safetensors", "img_resolution");
    write_edited(AT("other.safetensors"),
                 (edit){.config = "{\"arch\":\"stylegan2\",\"z_dim\":32,\"w_dim\":32,\"c_dim\":5,\"img_resolution\":"
                                  "16,\"img_channels\":3,\"mapping_layers\":2,\"channel_base\":512,\"channel_max\":"
                                  "32,\"conv_clamp\":256}"});
    expect_bad_network("other.safetensors", "unexpected tensor 'synthesis.b32");
#undef AT
}

static void test_bad_flags(void) {
    char args[1024];
    const char *bad_seeds[] = {"abc", "1-", "5-3", "4294967296", "1,,2", "-1", ""};
    for (size_t i = 0; i < sizeof bad_seeds / sizeof *bad_seeds; i++) {
        snprintf(args, sizeof args, "generate --network tests/fixtures/sg2_64.safetensors --seeds '%s' --outdir %s",
                 bad_seeds[i], tmpdir);
        expect_refusal(args, "--seeds");
    }
    snprintf(args, sizeof args, "generate --network tests/fixtures/sg2_64.safetensors --seeds 0 --trunc x --outdir %s",
             tmpdir);
    expect_refusal(args, "--trunc");
    snprintf(args, sizeof args, "generate --network tests/fixtures/sg2_64.safetensors --seeds 0 --noise-mode loud --outdir %s",
             tmpdir);
    expect_refusal(args, "noise mode");
    expect_refusal("generate --network tests/fixtures/sg2_64.safetensors --seeds 0 --outdir /tmp --bogus", "--bogus");
    snprintf(args, sizeof args, "generate --network tests/fixtures/sg2_32c.safetensors --seeds 0 --outdir %s", tmpdir);
    expect_refusal(args, "--class");
    snprintf(args, sizeof args, "generate --network tests/fixtures/sg2_32c.safetensors --seeds 0 --class 5 --outdir %s",
             tmpdir);
    expect_refusal(args, "--class");
    expect_refusal("init --preset nosuch --res 64 --out /tmp/x.safetensors", "unknown preset");
    expect_refusal("init --preset paper256 --res 100 --out /tmp/x.safetensors", "img_resolution");
    expect_refusal("frobnicate", "unknown command");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dne-test-cli-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_png_parity();
    test_webp_and_init();
    test_bad_networks();
    test_bad_flags();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    TEST_DONE();
}
