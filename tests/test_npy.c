/* NumPy arrays (gan/io/npy.c) and keyframe interpolation (gan/interp.c).
 * - Files written by NumPy itself (tests/fixtures/npy, made by
 *   tools/reference/make_video_fixtures.py) read back with the values NumPy
 *   wrote, whatever the float type, byte order or memory order.
 * - What dne writes reads back bit for bit, and the same arrays give the same
 *   bytes; bad files give an error naming the problem.
 * - Interpolated paths hit their keyframes exactly, have the asked number of
 *   frames, and loop back smoothly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gan/interp.h"
#include "gan/io/file.h"
#include "gan/io/npy.h"
#include "tests/test.h"

#define FIXTURES "tests/fixtures/npy/"

/* The fixture script's values: value(i) = (i % 97) * 0.25 - 12. */
static int has_fixture_values(const gan_array *a) {
    for (int64_t i = 0; i < a->numel; i++)
        if (a->data[i] != (float)(i % 97) * 0.25f - 12.0f) return 0;
    return 1;
}

static void expect_array(const char *file, const char *key, int ndim, const int64_t *shape) {
    gan_array a;
    gan_error err = {{0}};
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", file);
    CHECK_OK(gan_array_load(path, key, &a, &err), &err);
    CHECKF(a.ndim == ndim, "%s: ndim %d", file, a.ndim);
    for (int i = 0; i < ndim && i < a.ndim; i++) CHECKF(a.shape[i] == shape[i], "%s: dim %d is %lld", file, i, (long long)a.shape[i]);
    CHECKF(has_fixture_values(&a), "%s: values differ from what numpy wrote", file);
    gan_array_free(&a);
}

static void expect_load_error(const char *path, const char *key, const char *word) {
    gan_array a;
    gan_error err = {{0}};
    int rc = gan_array_load(path, key, &a, &err);
    CHECKF(rc != 0, "%s loaded", path);
    CHECKF(strstr(err.msg, word) != NULL, "%s: message lacks '%s': %s", path, word, err.msg);
    CHECK(a.data == NULL);
}

static void test_numpy_files(void) {
    expect_array("f4.npy", NULL, 3, (int64_t[]){2, 3, 5});
    expect_array("f8_fortran.npy", NULL, 3, (int64_t[]){2, 3, 5});
    expect_array("f4_big.npy", NULL, 2, (int64_t[]){4, 6});
    expect_array("f2.npy", NULL, 1, (int64_t[]){7});
    expect_array("scalar.npy", NULL, 0, NULL);
    expect_array("savez.npz", "w", 3, (int64_t[]){1, 10, 64});
    expect_array("savez.npz", "extra", 1, (int64_t[]){3});
    expect_array("compressed.npz", "w", 3, (int64_t[]){1, 10, 64});
    expect_array("compressed.npz", NULL, 3, (int64_t[]){1, 10, 64});
    expect_load_error(FIXTURES "int.npy", NULL, "<i4");
    expect_load_error(FIXTURES "savez.npz", NULL, "2 arrays");
    expect_load_error(FIXTURES "savez.npz", "nothere", "no array named 'nothere'");
    expect_load_error("tests/fixtures/sg2_4.safetensors", NULL, "not a NumPy");
    expect_load_error(FIXTURES "missing.npy", NULL, "missing.npy");
}

/* A file cut short, or with a corrupt header, is refused. */
static void test_damaged(const char *dir) {
    uint8_t *data;
    size_t size;
    gan_error err = {{0}};
    char path[512];
    snprintf(path, sizeof path, "%s/cut.npy", dir);
    CHECK_OK(gan_read_file(FIXTURES "f4.npy", 1 << 20, &data, &size, &err), &err);
    CHECK_OK(gan_write_file_atomic(path, data, size - 4, &err), &err);
    expect_load_error(path, NULL, "data bytes");
    memcpy(data + 10, "{'descr': [('a', '<f4')], ", 26);
    CHECK_OK(gan_write_file_atomic(path, data, size, &err), &err);
    expect_load_error(path, NULL, "structured");
    free(data);
    CHECK_OK(gan_read_file(FIXTURES "savez.npz", 1 << 20, &data, &size, &err), &err);
    snprintf(path, sizeof path, "%s/cut.npz", dir);
    CHECK_OK(gan_write_file_atomic(path, data, size / 2, &err), &err);
    expect_load_error(path, "w", "npz");
    free(data);
}

static void test_round_trip(const char *dir) {
    gan_array a, b, back;
    gan_error err = {{0}};
    CHECK_OK(gan_array_alloc(&a, 3, (int64_t[]){2, 14, 512}, &err), &err);
    CHECK_OK(gan_array_alloc(&b, 1, (int64_t[]){5}, &err), &err);
    for (int64_t i = 0; i < a.numel; i++) a.data[i] = (float)sin((double)i) * 1e3f + (float)i * 1e-7f;
    a.data[7] = -0.0f;
    a.data[8] = INFINITY;
    for (int64_t i = 0; i < b.numel; i++) b.data[i] = (float)i;
    char npy[512], npz[512], npz2[512];
    snprintf(npy, sizeof npy, "%s/a.npy", dir);
    snprintf(npz, sizeof npz, "%s/ab.npz", dir);
    snprintf(npz2, sizeof npz2, "%s/ab2.npz", dir);
    CHECK_OK(gan_array_save(npy, "w", &a, &err), &err);
    CHECK_OK(gan_array_load(npy, NULL, &back, &err), &err);
    CHECK(back.ndim == 3 && back.shape[1] == 14 && back.numel == a.numel &&
          memcmp(back.data, a.data, (size_t)a.numel * 4) == 0);
    gan_array_free(&back);
    const char *names[] = {"w", "b"};
    gan_array arrays[] = {a, b};
    CHECK_OK(gan_npz_save(npz, names, arrays, 2, &err), &err);
    CHECK_OK(gan_npz_save(npz2, names, arrays, 2, &err), &err);
    CHECK_OK(gan_array_load(npz, "w", &back, &err), &err);
    CHECK(back.numel == a.numel && memcmp(back.data, a.data, (size_t)a.numel * 4) == 0);
    gan_array_free(&back);
    CHECK_OK(gan_array_load(npz, "b", &back, &err), &err);
    CHECK(back.ndim == 1 && back.numel == 5 && back.data[4] == 4.0f);
    gan_array_free(&back);
    uint8_t *x, *y;
    size_t nx, ny;
    CHECK_OK(gan_read_file(npz, 1 << 24, &x, &nx, &err), &err);
    CHECK_OK(gan_read_file(npz2, 1 << 24, &y, &ny, &err), &err);
    CHECKF(nx == ny && memcmp(x, y, nx) == 0, "the same arrays gave different .npz bytes");
    /* np.save's layout: the data starts on a 64-byte boundary. */
    free(x);
    CHECK_OK(gan_read_file(npy, 1 << 24, &x, &nx, &err), &err);
    CHECK(nx == (size_t)a.numel * 4 + 128 && x[127] == '\n');
    free(x);
    free(y);
    gan_array_free(&a);
    gan_array_free(&b);
}

/* ---------------------------------------------------------------- interpolation */

static void test_paths(void) {
    enum { K = 4, N = 6, F = 20 };
    float keys[K * N], out[N];
    for (int i = 0; i < K * N; i++) keys[i] = (float)sin(i * 1.7) * 3;
    for (int kind = 0; kind < 3; kind++)
        for (int loop = 0; loop < 2; loop++) {
            gan_keyframe_path p = {.keyframes = K, .frames_per_key = F, .loop = loop, .kind = (gan_interp_kind)kind};
            long frames = gan_path_frames(&p);
            CHECK(frames == (loop ? K * F : (K - 1) * F + 1));
            for (long f = 0; f < frames; f += F) {
                gan_path_point(&p, keys, N, f, out);
                CHECKF(memcmp(out, keys + (f / F) * N, sizeof out) == 0, "%s loop %d: frame %ld is not keyframe %ld",
                       gan_interp_name(p.kind), loop, f, f / F);
            }
            /* The step from the last frame back to frame 0 is like any other step when looping. */
            float first[N], last[N], second[N];
            gan_path_point(&p, keys, N, 0, first);
            gan_path_point(&p, keys, N, 1, second);
            gan_path_point(&p, keys, N, frames - 1, last);
            double seam = 0, step = 0;
            for (int i = 0; i < N; i++) {
                seam += fabs(last[i] - first[i]);
                step += fabs(second[i] - first[i]);
            }
            if (loop) CHECKF(seam < 3 * step, "%s: seam %g vs step %g", gan_interp_name(p.kind), seam, step);
            else CHECKF(seam > 3 * step, "%s open path: ends %g apart, step %g", gan_interp_name(p.kind), seam, step);
        }
    /* Catmull-Rom at the middle of a straight, evenly spaced line is the midpoint. */
    float p0[1] = {0}, p1[1] = {1}, p2[1] = {2}, p3[1] = {3}, mid[1];
    gan_catmull_rom(p0, p1, p2, p3, 1, 0.5f, mid);
    CHECK(fabsf(mid[0] - 1.5f) < 1e-6f);
    /* slerp keeps the norm between orthogonal unit vectors. */
    float a[2] = {1, 0}, b[2] = {0, 1}, s[2];
    gan_slerp(a, b, 2, 0.5f, s);
    CHECK(fabsf(s[0] * s[0] + s[1] * s[1] - 1) < 1e-6f && fabsf(s[0] - s[1]) < 1e-6f);
    gan_interp_kind kind;
    gan_error err = {{0}};
    CHECK(gan_interp_parse("bicubic", &kind, &err) != 0 && strstr(err.msg, "linear, slerp or cubic"));
}

int main(void) {
    char dir[] = "/tmp/dne-test-npy-XXXXXX";
    if (!mkdtemp(dir)) TEST_SKIP("cannot make a temporary folder");
    test_numpy_files();
    test_damaged(dir);
    test_round_trip(dir);
    test_paths();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    TEST_DONE();
}
