/* Tests for gan/io/dataset.c: folders, stylegan2-ada zips and .dset files,
 * on the real getchu crops (../shared/data/anime_faces_getchu64) and on bad
 * inputs made here (a wrong-size file, truncated and damaged .dset files, a
 * corrupt zip). */
#include "gan/io/dataset.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "gan/io/file.h"
#include "gan/io/image.h"
#include "tests/test.h"

#define GETCHU "../shared/data/anime_faces_getchu64/heldout"

static char tmp_dir[64];

static void tmp_path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmp_dir, name); }

/* A res x res test image whose pixels depend on seed. */
static void make_image(gan_image *img, int res, int channels, int seed) {
    gan_error err;
    gan_image_alloc(img, res, res, channels, &err);
    for (size_t i = 0; i < (size_t)res * res * channels; i++) img->pixels[i] = (uint8_t)(i * 7 + seed * 31);
    if (channels == 4)
        for (size_t i = 0; i < (size_t)res * res; i++) img->pixels[4 * i + 3] = 255;
}

static void save_png(const char *path, int res, int channels, int seed) {
    gan_image img;
    gan_error err;
    make_image(&img, res, channels, seed);
    CHECK_OK(gan_image_save(path, &img, GAN_IMAGE_PNG, 0, &err), &err);
    gan_image_free(&img);
}

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* ---------------------------------------------------------------- folder of real crops */

static void test_getchu_folder(void) {
    gan_error err = {{0}};
    gan_dataset *d = gan_dataset_open(GETCHU, &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (!d) return;
    CHECK(gan_dataset_count(d) == 1000);
    CHECK(gan_dataset_resolution(d) == 64);
    CHECK(gan_dataset_channels(d) == 3);
    CHECK(gan_dataset_label_dim(d) == 0);
    CHECK(strcmp(gan_dataset_name(d), "heldout") == 0);
    /* Items are sorted by name; image 0 is the alphabetically first file. */
    CHECK(strcmp(gan_dataset_item_name(d, 0), "10004_2004.jpg") == 0);
    uint8_t chw[3 * 64 * 64];
    CHECK_OK(gan_dataset_read(d, 0, chw, NULL, &err), &err);
    gan_image img = {0};
    CHECK_OK(gan_image_load(GETCHU "/10004_2004.jpg", &img, &err), &err);
    CHECK(img.channels == 3 && img.width == 64);
    int same = 1;
    for (int y = 0; y < 64 && img.pixels; y++)
        for (int x = 0; x < 64; x++)
            for (int c = 0; c < 3; c++) same &= chw[c * 4096 + y * 64 + x] == img.pixels[(y * 64 + x) * 3 + c];
    CHECK(same);
    gan_image_free(&img);
    CHECK(gan_dataset_read(d, 1000, chw, NULL, &err) != 0 && contains(err.msg, "out of range"));
    gan_dataset_close(d);
}

/* ---------------------------------------------------------------- .dset round trip */

typedef struct reader_job {
    gan_dataset *a, *b;
    int start, failures;
} reader_job;

/* Reads every image of a and b (same content) from one thread. */
static void *compare_all(void *arg) {
    reader_job *job = arg;
    int n = gan_dataset_count(job->a);
    size_t bytes = (size_t)gan_dataset_channels(job->a) * 64 * 64;
    uint8_t *x = malloc(bytes), *y = malloc(bytes);
    gan_error err;
    for (int k = 0; k < n; k++) {
        int i = (k + job->start) % n;
        if (gan_dataset_read(job->a, i, x, NULL, &err) != 0 || gan_dataset_read(job->b, i, y, NULL, &err) != 0 ||
            memcmp(x, y, bytes) != 0)
            job->failures++;
    }
    free(x);
    free(y);
    return NULL;
}

static void test_dset_round_trip(void) {
    gan_error err = {{0}};
    gan_dataset *folder = gan_dataset_open(GETCHU, &err);
    CHECKF(folder != NULL, "%s", err.msg);
    if (!folder) return;
    int n = gan_dataset_count(folder);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    for (int i = 0; i < n; i++) labels[i] = i % 5;
    const char *names[5] = {"a", "", "c c", "d", "e"};
    char path[256];
    tmp_path(path, sizeof path, "getchu.dset");
    gan_dset_writer *w = gan_dset_writer_open(path, n, 64, 3, 5, labels, names, &err);
    CHECKF(w != NULL, "%s", err.msg);
    uint8_t chw[3 * 64 * 64];
    for (int i = 0; w && i < n; i++) {
        CHECK_OK(gan_dataset_read(folder, i, chw, NULL, &err), &err);
        CHECK_OK(gan_dset_writer_add(w, chw, &err), &err);
    }
    if (w) CHECK_OK(gan_dset_writer_commit(w, &err), &err);

    gan_dataset *packed = gan_dataset_open(path, &err);
    CHECKF(packed != NULL, "%s", err.msg);
    if (packed) {
        CHECK(gan_dataset_count(packed) == n && gan_dataset_resolution(packed) == 64);
        CHECK(gan_dataset_channels(packed) == 3 && gan_dataset_label_dim(packed) == 5);
        CHECK(strcmp(gan_dataset_name(packed), "getchu") == 0);
        CHECK(strcmp(gan_dataset_class_name(packed, 2), "c c") == 0);
        CHECK(strcmp(gan_dataset_class_name(packed, 1), "") == 0 && gan_dataset_class_name(packed, 5) == NULL);
        float label[5];
        CHECK_OK(gan_dataset_read(packed, 7, chw, label, &err), &err);
        CHECK(label[2] == 1 && label[0] == 0 && label[1] == 0 && label[3] == 0 && label[4] == 0);
        CHECK(gan_dataset_label_index(packed, 7) == 2);
        /* Four threads at once, each reading both sources in a different order. */
        pthread_t threads[4];
        reader_job jobs[4];
        for (int t = 0; t < 4; t++) {
            jobs[t] = (reader_job){folder, packed, t * 250, 0};
            pthread_create(&threads[t], NULL, compare_all, &jobs[t]);
        }
        for (int t = 0; t < 4; t++) {
            pthread_join(threads[t], NULL);
            CHECKF(jobs[t].failures == 0, "thread %d: %d mismatches", t, jobs[t].failures);
        }
        gan_dataset_close(packed);
    }
    free(labels);
    gan_dataset_close(folder);

    /* A writer that is given fewer images than announced publishes nothing. */
    tmp_path(path, sizeof path, "short.dset");
    w = gan_dset_writer_open(path, 2, 64, 3, 0, NULL, NULL, &err);
    CHECK(w != NULL);
    if (w) {
        CHECK_OK(gan_dset_writer_add(w, chw, &err), &err);
        CHECK(gan_dset_writer_commit(w, &err) != 0 && contains(err.msg, "1 of 2"));
    }
    CHECK(access(path, F_OK) != 0);
}

/* ---------------------------------------------------------------- damaged .dset files */

static void write_variant(const char *name, const uint8_t *data, size_t size) {
    char path[256];
    tmp_path(path, sizeof path, name);
    gan_error err;
    CHECK_OK(gan_write_file_atomic(path, data, size, &err), &err);
}

static void expect_refused(const char *name, const char *message_part) {
    char path[256];
    tmp_path(path, sizeof path, name);
    gan_error err = {{0}};
    gan_dataset *d = gan_dataset_open(path, &err);
    CHECKF(d == NULL, "%s was accepted", name);
    CHECKF(contains(err.msg, message_part), "%s: message '%s' lacks '%s'", name, err.msg, message_part);
    CHECKF(contains(err.msg, name), "%s: message '%s' does not name the file", name, err.msg);
    gan_dataset_close(d);
}

static void test_damaged_dset(void) {
    char path[256];
    tmp_path(path, sizeof path, "getchu.dset");
    uint8_t *data;
    size_t size;
    gan_error err;
    if (gan_read_file(path, 1u << 30, &data, &size, &err) != 0) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    write_variant("truncated.dset", data, size - 1);
    expect_refused("truncated.dset", "truncated");
    write_variant("header_only.dset", data, 40);
    expect_refused("header_only.dset", "truncated header");
    data[8] = 9; /* version */
    write_variant("version.dset", data, size);
    expect_refused("version.dset", "version 9");
    data[8] = 1;
    data[20] = 4; /* channels */
    write_variant("channels.dset", data, size);
    expect_refused("channels.dset", "channel count 4");
    data[20] = 3;
    data[64 + 4 * 10] = 5; /* label of image 10 = 5, but label_dim is 5 */
    write_variant("label.dset", data, size);
    expect_refused("label.dset", "label 5 of image 10");
    free(data);
}

/* ---------------------------------------------------------------- folders with bad files */

static void make_folder(const char *name) {
    char path[256];
    tmp_path(path, sizeof path, name);
    gan_error err;
    CHECK_OK(gan_mkdirs(path, &err), &err);
}

static void test_bad_folders(void) {
    char path[256];
    gan_error err = {{0}};
    make_folder("mixed/sub");
    tmp_path(path, sizeof path, "mixed/a.png");
    save_png(path, 32, 3, 1);
    tmp_path(path, sizeof path, "mixed/sub/c_grey.png");
    save_png(path, 32, 1, 2);
    tmp_path(path, sizeof path, "mixed/sub/d_rgba.png");
    save_png(path, 32, 4, 3);
    tmp_path(path, sizeof path, "mixed/notes.txt");
    CHECK_OK(gan_write_file_atomic(path, "not an image", 12, &err), &err);
    tmp_path(path, sizeof path, "mixed");
    gan_dataset *d = gan_dataset_open(path, &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (d) {
        CHECK(gan_dataset_count(d) == 3 && gan_dataset_channels(d) == 3 && gan_dataset_resolution(d) == 32);
        CHECK(strcmp(gan_dataset_item_name(d, 1), "sub/c_grey.png") == 0);
        uint8_t chw[3 * 32 * 32];
        CHECK_OK(gan_dataset_read(d, 1, chw, NULL, &err), &err);
        CHECK(chw[5] == chw[1024 + 5] && chw[5] == chw[2048 + 5]); /* grey replicated */
        gan_dataset_close(d);
    }
    /* The first wrong file (in sorted order) is named. */
    tmp_path(path, sizeof path, "mixed/b_small.png");
    save_png(path, 16, 3, 4);
    tmp_path(path, sizeof path, "mixed");
    d = gan_dataset_open(path, &err);
    CHECK(d == NULL && contains(err.msg, "b_small.png") && contains(err.msg, "16x16"));
    gan_dataset_close(d);
    /* A corrupt image is named too. */
    tmp_path(path, sizeof path, "mixed/b_small.png");
    CHECK_OK(gan_write_file_atomic(path, "\x89PNG\r\n\x1a\n\0\0", 10, &err), &err);
    tmp_path(path, sizeof path, "mixed");
    d = gan_dataset_open(path, &err);
    CHECK(d == NULL && contains(err.msg, "b_small.png"));
    gan_dataset_close(d);
    /* All grey: one channel. */
    make_folder("grey");
    tmp_path(path, sizeof path, "grey/x.png");
    save_png(path, 8, 1, 5);
    tmp_path(path, sizeof path, "grey");
    d = gan_dataset_open(path, &err);
    CHECK(d && gan_dataset_channels(d) == 1);
    gan_dataset_close(d);
    /* Not square. */
    make_folder("wide");
    tmp_path(path, sizeof path, "wide/x.png");
    gan_image img;
    gan_image_alloc(&img, 8, 4, 3, &err);
    CHECK_OK(gan_image_save(path, &img, GAN_IMAGE_PNG, 0, &err), &err);
    gan_image_free(&img);
    tmp_path(path, sizeof path, "wide");
    d = gan_dataset_open(path, &err);
    CHECK(d == NULL && contains(err.msg, "not square") && contains(err.msg, "x.png"));
    gan_dataset_close(d);
    /* A file that is no dataset at all. */
    tmp_path(path, sizeof path, "mixed/notes.txt");
    d = gan_dataset_open(path, &err);
    CHECK(d == NULL && contains(err.msg, "not a folder, a dataset zip or a .dset"));
    gan_dataset_close(d);
}

/* ---------------------------------------------------------------- zips */

static void add_to_zip(zip_t *z, const char *name, const void *data, size_t size, int store) {
    void *copy = malloc(size);
    memcpy(copy, data, size);
    zip_source_t *s = zip_source_buffer(z, copy, size, 1);
    zip_int64_t i = zip_file_add(z, name, s, ZIP_FL_OVERWRITE);
    CHECK(i >= 0);
    if (store) zip_set_file_compression(z, (zip_uint64_t)i, ZIP_CM_STORE, 0);
}

static void make_zip(const char *path, int store) {
    int code;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    CHECK(z != NULL);
    if (!z) return;
    for (int i = 0; i < 6; i++) {
        gan_image img;
        gan_error err;
        make_image(&img, 16, 3, i);
        uint8_t *png;
        size_t size;
        CHECK_OK(gan_image_encode_png(&img, &png, &size, &err), &err);
        char name[64];
        snprintf(name, sizeof name, "00000/img%08d.png", i);
        add_to_zip(z, name, png, size, store);
        free(png);
        gan_image_free(&img);
    }
    const char *json = "{\"labels\": [[\"00000/img00000000.png\", 0], [\"00000/img00000001.png\", 3],"
                       " [\"00000/img00000002.png\", 1], [\"00000/img00000003.png\", 0],"
                       " [\"00000/img00000004.png\", 2], [\"00000/img00000005.png\", 1]]}";
    add_to_zip(z, "dataset.json", json, strlen(json), 0);
    CHECK(zip_close(z) == 0);
}

static void test_zip(void) {
    char path[256];
    gan_error err = {{0}};
    tmp_path(path, sizeof path, "faces.zip");
    make_zip(path, 0);
    gan_dataset *d = gan_dataset_open(path, &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (d) {
        CHECK(gan_dataset_count(d) == 6 && gan_dataset_resolution(d) == 16 && gan_dataset_label_dim(d) == 4);
        CHECK(strcmp(gan_dataset_name(d), "faces") == 0);
        uint8_t chw[3 * 16 * 16];
        float label[4];
        CHECK_OK(gan_dataset_read(d, 1, chw, label, &err), &err);
        CHECK(label[3] == 1 && label[0] == 0);
        gan_image img;
        make_image(&img, 16, 3, 1);
        CHECK(chw[0] == img.pixels[0] && chw[256] == img.pixels[1] && chw[257] == img.pixels[4]);
        gan_image_free(&img);
        gan_dataset_close(d);
    }
    /* Half a zip: no central directory. */
    uint8_t *data;
    size_t size;
    if (gan_read_file(path, 1 << 24, &data, &size, &err) == 0) {
        write_variant("half.zip", data, size / 2);
        expect_refused("half.zip", "not a valid zip");
        free(data);
    }
    /* Damaged entry data (stored, so the CRC check catches it on open). */
    tmp_path(path, sizeof path, "crc.zip");
    make_zip(path, 1);
    if (gan_read_file(path, 1 << 24, &data, &size, &err) == 0) {
        data[200] ^= 0x55;
        write_variant("crc.zip", data, size);
        expect_refused("crc.zip", "img0000000");
        free(data);
    }
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/dne-test-dataset-XXXXXX");
    if (!mkdtemp(tmp_dir)) TEST_SKIP("cannot make a temporary folder");
    if (access(GETCHU, R_OK) != 0) TEST_SKIP("%s is missing", GETCHU);
    test_getchu_folder();
    test_dset_round_trip();
    test_damaged_dset();
    test_bad_folders();
    test_zip();
    if (test_failures == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
    }
    TEST_DONE();
}
