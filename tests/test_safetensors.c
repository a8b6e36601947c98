/* Tests for gan/io/safetensors.c: round trips through the writer, dtype
 * conversions, files laid out byte for byte as the reference writers produce
 * them, and one test per kind of damaged file, each checking that the error
 * names what is wrong.
 *
 * The reference_* byte arrays are the expected outputs in the unit tests of
 * huggingface/safetensors (safetensors/src/tensor.rs: test_serialization,
 * test_serialization_forced_alignement, test_empty, and the doc example of
 * SafeTensors::deserialize), so they are what the reference Rust writer
 * emits. Set DNE_TEST_VERBOSE=1 to print every expected error message. */
#include "gan/io/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gan/io/file.h"
#include "tests/test.h"

static char tmp_dir[64];

static void tmp_path(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", tmp_dir, name);
}

static void write_bytes(const char *path, const void *data, size_t size) {
    gan_error err;
    CHECK_OK(gan_write_file_atomic(path, data, size, &err), &err);
}

/* A safetensors file with this exact header text (no padding) and data_len
 * bytes of data, as a damaged or hand-made file would have. */
static void write_st_raw(const char *path, const char *json, size_t json_len, const void *data, size_t data_len) {
    size_t size = 8 + json_len + data_len;
    uint8_t *buf = calloc(1, size);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)json_len >> (8 * i));
    memcpy(buf + 8, json, json_len);
    if (data) memcpy(buf + 8 + json_len, data, data_len);
    write_bytes(path, buf, size);
    free(buf);
}

static void write_st(const char *path, const char *json, size_t data_len) {
    write_st_raw(path, json, strlen(json), NULL, data_len);
}

static bool file_equals(const char *path, const uint8_t *expected, size_t size) {
    uint8_t *data;
    size_t got;
    gan_error err;
    if (gan_read_file(path, 1u << 30, &data, &got, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return false;
    }
    bool same = got == size && memcmp(data, expected, size) == 0;
    free(data);
    return same;
}

static bool has_words(const char *msg, const char *word1, const char *word2) {
    return strstr(msg, word1) && (!word2 || strstr(msg, word2));
}

static void report_error(const gan_error *err) {
    if (getenv("DNE_TEST_VERBOSE")) printf("  expected error: %s\n", err->msg);
}

/* Opening path must fail, with a message containing both words. */
static void expect_open_error_at(int line, const char *path, const char *word1, const char *word2) {
    gan_st_file *f = NULL;
    gan_error err = {{0}};
    if (gan_st_open(path, &f, &err) == 0) {
        fprintf(stderr, "line %d: opening %s succeeded, expected an error with '%s'\n", line, path, word1);
        test_failures++;
        gan_st_close(f);
        return;
    }
    report_error(&err);
    CHECK(f == NULL);
    if (!has_words(err.msg, word1, word2)) {
        fprintf(stderr, "line %d: error \"%s\" lacks '%s' or '%s'\n", line, err.msg, word1, word2 ? word2 : "");
        test_failures++;
    }
}
#define EXPECT_OPEN_ERROR(path, word1, word2) expect_open_error_at(__LINE__, path, word1, word2)

/* A call that must fail with both words in its message. */
#define EXPECT_ERROR(call, err, word1, word2)                                                   \
    do {                                                                                        \
        if ((call) == 0) {                                                                      \
            fprintf(stderr, "%s:%d: %s succeeded, expected an error\n", __FILE__, __LINE__, #call); \
            test_failures++;                                                                    \
        } else {                                                                                \
            report_error(&(err));                                                               \
            CHECKF(has_words((err).msg, word1, word2), "message: %s", (err).msg);               \
        }                                                                                       \
    } while (0)

static uint32_t float_bits(float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

/* Same value, or both NaN; -0 and +0 differ. */
static bool same_float(float a, float b) {
    return (isnan(a) && isnan(b)) || float_bits(a) == float_bits(b);
}

/* ---------------------------------------------------------------- round trips */

static const char config_text[] = "{\"arch\": \"stylegan2\",\n \"note\": \"a \\\"quoted\\\" word\\\\\"}\t\x01 na\xc3\xafve";

static void check_round_trip_file(const char *path, const float *weight, const float *bias) {
    gan_st_file *f = NULL;
    gan_error err;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    if (!f) return;
    CHECK(gan_st_count(f) == 6);
    const char *order[] = {"mapping.fc0.weight", "bias", "scalar", "step", "empty", "mask"};
    for (int i = 0; i < 6 && i < gan_st_count(f); i++) CHECKF(strcmp(gan_st_at(f, i)->name, order[i]) == 0, "%d", i);
    CHECK(gan_st_at(f, 6) == NULL && gan_st_at(f, -1) == NULL);
    CHECK(gan_st_find(f, "missing") == NULL);
    CHECK(strcmp(gan_st_meta(f, "config"), config_text) == 0);
    CHECK(strcmp(gan_st_meta(f, "format"), "pt") == 0);
    CHECK(gan_st_meta(f, "absent") == NULL);

    const gan_st_tensor *w = gan_st_find(f, "mapping.fc0.weight");
    CHECK(w && w->dtype == GAN_ST_F32 && w->ndim == 2 && w->shape[0] == 3 && w->shape[1] == 4 && w->numel == 12);
    CHECK(w && w->begin == 0 && w->end == 48);
    float got[12] = {0};
    if (w) CHECK_OK(gan_st_read_f32(f, w, got, &err), &err);
    CHECK(memcmp(got, weight, sizeof got) == 0);
    const gan_st_tensor *b = gan_st_find(f, "bias");
    if (b) CHECK_OK(gan_st_read_f32(f, b, got, &err), &err);
    CHECK(b && b->begin == 48 && memcmp(got, bias, 4 * sizeof *bias) == 0);

    const gan_st_tensor *s = gan_st_find(f, "scalar");
    CHECK(s && s->ndim == 0 && s->numel == 1 && s->end - s->begin == 4);
    if (s) CHECK_OK(gan_st_read_f32(f, s, got, &err), &err);
    CHECK(got[0] == 3.5f);

    const gan_st_tensor *step = gan_st_find(f, "step");
    int64_t step_value = 0;
    CHECK(step && step->dtype == GAN_ST_I64 && step->ndim == 0);
    if (step) CHECK_OK(gan_st_read_raw(f, step, &step_value, &err), &err);
    CHECK(step_value == 123456789012LL);

    const gan_st_tensor *e = gan_st_find(f, "empty");
    CHECK(e && e->numel == 0 && e->begin == e->end && e->ndim == 2 && e->shape[1] == 5);
    if (e) CHECK_OK(gan_st_read_f32(f, e, got, &err), &err);

    const gan_st_tensor *m = gan_st_find(f, "mask");
    uint8_t mask[3] = {0};
    CHECK(m && m->dtype == GAN_ST_U8);
    if (m) CHECK_OK(gan_st_read_raw(f, m, mask, &err), &err);
    CHECK(mask[0] == 0 && mask[1] == 1 && mask[2] == 255);
    gan_st_close(f);
}

/* What the format requires of the bytes themselves. */
static void check_round_trip_layout(const char *path) {
    uint8_t *data;
    size_t size;
    gan_error err;
    CHECK_OK(gan_read_file(path, 1u << 20, &data, &size, &err), &err);
    if (!data) return;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | data[i];
    CHECK((8 + n) % 8 == 0);
    CHECK(8 + n + 48 + 16 + 4 + 8 + 3 == size);
    CHECK(memcmp(data + 8, "{\"__metadata__\":{\"config\":", 26) == 0);
    CHECK(data[8 + n - 1] == ' ' || data[8 + n - 1] == '}');
    free(data);
}

static int count_files_in_tmp(void) {
    DIR *dir = opendir(tmp_dir);
    int n = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) n += e->d_name[0] != '.';
    if (dir) closedir(dir);
    return n;
}

static void test_round_trip(void) {
    char path[128];
    tmp_path(path, sizeof path, "round_trip.safetensors");
    float weight[12], bias[4] = {0.5f, -0.25f, 1e-30f, -INFINITY}, scalar = 3.5f;
    for (int i = 0; i < 12; i++) weight[i] = (float)i * 0.25f - 1.0f;
    int64_t step = 123456789012LL;
    uint8_t mask[3] = {0, 1, 255};
    gan_error err;
    gan_st_writer *w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_add_f32(w, "mapping.fc0.weight", 2, (int64_t[]){3, 4}, weight, &err), &err);
    CHECK_OK(gan_st_writer_add_f32(w, "bias", 1, (int64_t[]){4}, bias, &err), &err);
    CHECK_OK(gan_st_writer_add_f32(w, "scalar", 0, NULL, &scalar, &err), &err);
    CHECK_OK(gan_st_writer_add(w, "step", GAN_ST_I64, 0, NULL, &step, &err), &err);
    CHECK_OK(gan_st_writer_add_f32(w, "empty", 2, (int64_t[]){0, 5}, NULL, &err), &err);
    CHECK_OK(gan_st_writer_add(w, "mask", GAN_ST_U8, 1, (int64_t[]){3}, mask, &err), &err);
    CHECK_OK(gan_st_writer_meta(w, "config", config_text, &err), &err);
    CHECK_OK(gan_st_writer_meta(w, "format", "pt", &err), &err);
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);

    check_round_trip_file(path, weight, bias);
    check_round_trip_layout(path);

    /* Saving again replaces the file and leaves no temporary file behind. */
    int files_before = count_files_in_tmp();
    w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_add_f32(w, "only", 1, (int64_t[]){4}, bias, &err), &err);
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);
    CHECK(count_files_in_tmp() == files_before);
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    CHECK(f && gan_st_count(f) == 1 && gan_st_meta(f, "config") == NULL);
    gan_st_close(f);
    unlink(path);
}

static void test_empty_file_round_trip(void) {
    char path[128];
    tmp_path(path, sizeof path, "nothing.safetensors");
    gan_error err;
    gan_st_writer *w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);
    static const uint8_t expected[] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    CHECK(file_equals(path, expected, sizeof expected));
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    CHECK(f && gan_st_count(f) == 0 && gan_st_find(f, "x") == NULL && gan_st_meta(f, "x") == NULL);
    gan_st_close(f);
    unlink(path);
}

static void test_writer_rejects(void) {
    char path[128];
    tmp_path(path, sizeof path, "writer.safetensors");
    float data[4] = {1, 2, 3, 4};
    gan_error err;
    gan_st_writer *w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_add_f32(w, "a", 1, (int64_t[]){4}, data, &err), &err);
    EXPECT_ERROR(gan_st_writer_add_f32(w, "a", 1, (int64_t[]){4}, data, &err), err, "'a'", "duplicate");
    EXPECT_ERROR(gan_st_writer_add_f32(w, "__metadata__", 1, (int64_t[]){4}, data, &err), err, "__", "reserved");
    EXPECT_ERROR(gan_st_writer_add_f32(w, "__x", 1, (int64_t[]){4}, data, &err), err, "'__x'", "reserved");
    EXPECT_ERROR(gan_st_writer_add_f32(w, "neg", 2, (int64_t[]){2, -2}, data, &err), err, "'neg'", "-2");
    EXPECT_ERROR(gan_st_writer_add_f32(w, "deep", 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, data, &err), err,
                 "'deep'", "9 dims");
    EXPECT_ERROR(gan_st_writer_add_f32(w, "null", 1, (int64_t[]){4}, NULL, &err), err, "'null'", "NULL");
    EXPECT_ERROR(gan_st_writer_add(w, "bad", (gan_st_dtype)99, 1, (int64_t[]){4}, data, &err), err, "'bad'",
                 "dtype");
    EXPECT_ERROR(gan_st_writer_add_f32(w, "huge", 3, (int64_t[]){1LL << 30, 1LL << 30, 1LL << 30}, data, &err), err,
                 "'huge'", "too large");
    EXPECT_ERROR(gan_st_writer_add_f32(w, "bad\xff", 1, (int64_t[]){4}, data, &err), err, "UTF-8", NULL);
    CHECK_OK(gan_st_writer_meta(w, "k", "v", &err), &err);
    EXPECT_ERROR(gan_st_writer_meta(w, "k", "v2", &err), err, "'k'", "twice");
    EXPECT_ERROR(gan_st_writer_meta(w, "k2", "\xc3", &err), err, "'k2'", "UTF-8");

    /* The refused calls changed nothing. */
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    CHECK(f && gan_st_count(f) == 1 && strcmp(gan_st_meta(f, "k"), "v") == 0);
    gan_st_close(f);
    unlink(path);

    tmp_path(path, sizeof path, "no-such-folder/x.safetensors");
    w = gan_st_writer_new();
    EXPECT_ERROR(gan_st_writer_save(w, path, &err), err, "no-such-folder", NULL);
    gan_st_writer_free(w);
}

/* ---------------------------------------------------------------- conversions */

/* An IEEE binary format with the given field widths, decoded with plain
 * arithmetic: an implementation independent of the bit tricks under test. */
static float decode_minifloat(uint32_t bits, int exp_bits, int mant_bits) {
    int bias = (1 << (exp_bits - 1)) - 1;
    uint32_t mant = bits & ((1u << mant_bits) - 1), exp = (bits >> mant_bits) & ((1u << exp_bits) - 1);
    double sign = (bits >> (exp_bits + mant_bits)) & 1 ? -1.0 : 1.0;
    if (exp == (1u << exp_bits) - 1) return mant ? NAN : (float)(sign * INFINITY);
    if (exp == 0) return (float)(sign * ldexp(mant, 1 - bias - mant_bits));
    return (float)(sign * ldexp((1u << mant_bits) + mant, (int)exp - bias - mant_bits));
}

/* Writes all 65536 bit patterns of a 16-bit dtype (more than one read chunk)
 * and checks each converted value. */
static void check_all_16bit(const char *path, gan_st_dtype dtype, int exp_bits, int mant_bits) {
    enum { N = 65536 };
    uint16_t *bits = malloc(N * sizeof *bits);
    float *got = malloc(N * sizeof *got);
    for (int i = 0; i < N; i++) bits[i] = (uint16_t)i;
    gan_error err;
    gan_st_writer *w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_add(w, "all", dtype, 2, (int64_t[]){256, 256}, bits, &err), &err);
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    if (f) CHECK_OK(gan_st_read_f32(f, gan_st_find(f, "all"), got, &err), &err);
    int wrong = 0;
    for (int i = 0; i < N && f; i++) {
        float want = decode_minifloat((uint32_t)i, exp_bits, mant_bits);
        if (!same_float(got[i], want) && wrong++ < 5)
            fprintf(stderr, "%s 0x%04x: got %a, expected %a\n", gan_st_dtype_name(dtype), i, got[i], want);
    }
    CHECKF(wrong == 0, "%d wrong %s values", wrong, gan_st_dtype_name(dtype));
    gan_st_close(f);
    free(bits);
    free(got);
}

static void check_known_values(const char *path) {
    static const uint16_t f16[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8000, 0x7C00, 0xFC00, 0x3555};
    static const float f16_want[] = {1.0f,    -2.0f,   65504.0f, 0x1p-24f,  0x3FFp-24f,
                                     0x1p-14f, -0.0f,  INFINITY, -INFINITY, 0.333251953125f};
    static const uint16_t bf16[] = {0x3F80, 0xC049, 0x0001, 0x7F80, 0x8000};
    static const float bf16_want[] = {1.0f, -3.140625f, 0x1p-133f, INFINITY, -0.0f};
    static const double f64[] = {1.0, -0.1, 1e300, -1e300, 1e-50, 3.141592653589793, 65504.0};
    static const float f64_want[] = {1.0f, -0.1f, INFINITY, -INFINITY, 0.0f, 3.14159265f, 65504.0f};
    gan_error err;
    gan_st_writer *w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_add(w, "f16", GAN_ST_F16, 1, (int64_t[]){10}, f16, &err), &err);
    CHECK_OK(gan_st_writer_add(w, "bf16", GAN_ST_BF16, 1, (int64_t[]){5}, bf16, &err), &err);
    CHECK_OK(gan_st_writer_add(w, "f64", GAN_ST_F64, 1, (int64_t[]){7}, f64, &err), &err);
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);

    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    if (!f) return;
    float got[10];
    CHECK_OK(gan_st_read_f32(f, gan_st_find(f, "f16"), got, &err), &err);
    for (int i = 0; i < 10; i++) CHECKF(same_float(got[i], f16_want[i]), "f16[%d] = %a", i, got[i]);
    CHECK_OK(gan_st_read_f32(f, gan_st_find(f, "bf16"), got, &err), &err);
    for (int i = 0; i < 5; i++) CHECKF(same_float(got[i], bf16_want[i]), "bf16[%d] = %a", i, got[i]);
    CHECK_OK(gan_st_read_f32(f, gan_st_find(f, "f64"), got, &err), &err);
    for (int i = 0; i < 7; i++) CHECKF(same_float(got[i], f64_want[i]), "f64[%d] = %a", i, got[i]);
    gan_st_close(f);
}

static void test_conversions(void) {
    char path[128];
    tmp_path(path, sizeof path, "convert.safetensors");
    check_known_values(path);
    check_all_16bit(path, GAN_ST_F16, 5, 10);
    check_all_16bit(path, GAN_ST_BF16, 8, 7);
    unlink(path);
}

/* ---------------------------------------------------------------- reference files */

/* test_serialization_forced_alignement: "attn0" F32 [1, 1, 2, 3] = 0..5, header padded with 7 spaces. */
static const uint8_t reference_aligned[] = {
    72,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 48,  34,  58,  123, 34,  100, 116,
    121, 112, 101, 34,  58,  34,  70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58,  91,  49,
    44,  49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115,
    34,  58,  91,  48,  44,  50,  52,  93,  125, 125, 32,  32,  32,  32,  32,  32,  32,  0,   0,   0,   0,
    0,   0,   128, 63,  0,   0,   0,   64,  0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64};

/* test_serialization: "attn.0" F32 [1, 2, 3], a 64-byte header needing no padding. */
static const uint8_t reference_unpadded[] = {
    64,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 46,  48,  34,  58,  123, 34,
    100, 116, 121, 112, 101, 34,  58,  34,  70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,
    58,  91,  49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111, 102, 102, 115, 101,
    116, 115, 34,  58,  91,  48,  44,  50,  52,  93,  125, 125, 0,   0,   0,   0,   0,   0,   128, 63,
    0,   0,   0,   64,  0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64};

/* test_empty with metadata {"framework": "pt"} and no tensors. */
static const uint8_t reference_metadata_only[] = {
    40,  0,   0,   0,  0,   0,   0,   0,   123, 34,  95,  95,  109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58,
    123, 34,  102, 114, 97, 109, 101, 119, 111, 114, 107, 34,  58,  34,  112, 116, 34, 125, 125, 32, 32, 32, 32, 32};

static void check_reference_attn(const char *path, const uint8_t *bytes, size_t size, const char *name, int ndim,
                                 const int64_t *shape) {
    static const float values[6] = {0, 1, 2, 3, 4, 5};
    gan_error err;
    write_bytes(path, bytes, size);
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    const gan_st_tensor *t = f ? gan_st_find(f, name) : NULL;
    CHECK(t && t->ndim == ndim && t->numel == 6 && t->begin == 0 && t->end == 24);
    float got[6] = {0};
    if (t) CHECK_OK(gan_st_read_f32(f, t, got, &err), &err);
    CHECK(memcmp(got, values, sizeof got) == 0);
    gan_st_close(f);

    /* Our writer must produce the very same bytes. */
    gan_st_writer *w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_add_f32(w, name, ndim, shape, values, &err), &err);
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);
    CHECKF(file_equals(path, bytes, size), "writer output differs from the reference for '%s'", name);
}

static void test_reference_files(void) {
    char path[128];
    tmp_path(path, sizeof path, "reference.safetensors");
    check_reference_attn(path, reference_aligned, sizeof reference_aligned, "attn0", 4, (int64_t[]){1, 1, 2, 3});
    check_reference_attn(path, reference_unpadded, sizeof reference_unpadded, "attn.0", 3, (int64_t[]){1, 2, 3});

    gan_error err;
    write_bytes(path, reference_metadata_only, sizeof reference_metadata_only);
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    CHECK(f && gan_st_count(f) == 0 && gan_st_meta(f, "framework") && !strcmp(gan_st_meta(f, "framework"), "pt"));
    gan_st_close(f);
    gan_st_writer *w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_meta(w, "framework", "pt", &err), &err);
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);
    CHECK(file_equals(path, reference_metadata_only, sizeof reference_metadata_only));

    /* The doc example: an I32 tensor, which read_f32 refuses but read_raw returns. */
    write_st(path, "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    const gan_st_tensor *t = f ? gan_st_find(f, "test") : NULL;
    int32_t ints[4] = {1, 1, 1, 1};
    float floats[4];
    CHECK(t && t->dtype == GAN_ST_I32 && t->numel == 4);
    if (t) CHECK_OK(gan_st_read_raw(f, t, ints, &err), &err);
    CHECK(ints[0] == 0 && ints[3] == 0);
    if (t) EXPECT_ERROR(gan_st_read_f32(f, t, floats, &err), err, "'test'", "I32");
    gan_st_close(f);
    unlink(path);
}

/* The layout of safetensors.torch.save_file({"w": f16 [2, 2], "bias": f32 [2],
 * "step": i64 scalar}, metadata={"format": "pt"}): tensors sorted by
 * descending dtype alignment then name, so I64, F32, F16. */
static void test_python_layout(void) {
    char path[128], json[512];
    tmp_path(path, sizeof path, "python.safetensors");
    snprintf(json, sizeof json, "%s",
             "{\"__metadata__\":{\"format\":\"pt\"},"
             "\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
             "\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
             "\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[16,24]}}");
    size_t len = strlen(json);
    while ((8 + len) % 8) json[len++] = ' ';
    json[len] = 0;
    uint8_t data[24];
    int64_t step = -7;
    float bias[2] = {0.5f, -1.5f};
    uint16_t w[4] = {0x3C00, 0x4000, 0xBC00, 0x0000}; /* 1, 2, -1, 0 */
    memcpy(data, &step, 8);
    memcpy(data + 8, bias, 8);
    memcpy(data + 16, w, 8);
    write_st_raw(path, json, len, data, sizeof data);

    gan_error err;
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    if (!f) return;
    CHECK(gan_st_count(f) == 3 && strcmp(gan_st_at(f, 0)->name, "step") == 0);
    CHECK(strcmp(gan_st_meta(f, "format"), "pt") == 0);
    int64_t got_step = 0;
    CHECK_OK(gan_st_read_raw(f, gan_st_find(f, "step"), &got_step, &err), &err);
    CHECK(got_step == -7);
    float got[4];
    CHECK_OK(gan_st_read_f32(f, gan_st_find(f, "bias"), got, &err), &err);
    CHECK(got[0] == 0.5f && got[1] == -1.5f);
    CHECK_OK(gan_st_read_f32(f, gan_st_find(f, "w"), got, &err), &err);
    CHECK(got[0] == 1 && got[1] == 2 && got[2] == -1 && got[3] == 0);
    gan_st_close(f);
    unlink(path);
}

/* A model written by tools/reference/safetensors_io.py (compact JSON, header
 * order kept, space padding): reading it and writing it back must give the
 * same bytes. */
static void test_python_fixture(void) {
    const char *fixture = "tests/fixtures/sg2_64.safetensors";
    if (access(fixture, R_OK) != 0) {
        fprintf(stderr, "note: %s not found (not run from the project root?); fixture check skipped\n", fixture);
        return;
    }
    gan_error err;
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(fixture, &f, &err), &err);
    if (!f) return;
    const char *config = gan_st_meta(f, "config");
    CHECK(config && config[0] == '{');
    int n = gan_st_count(f);
    float **data = calloc((size_t)n, sizeof *data);
    gan_st_writer *w = gan_st_writer_new();
    for (int i = 0; i < n; i++) {
        const gan_st_tensor *t = gan_st_at(f, i);
        CHECK(t->dtype == GAN_ST_F32);
        data[i] = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
        CHECK_OK(gan_st_read_f32(f, t, data[i], &err), &err);
        CHECK_OK(gan_st_writer_add_f32(w, t->name, t->ndim, t->shape, data[i], &err), &err);
    }
    if (config) CHECK_OK(gan_st_writer_meta(w, "config", config, &err), &err);
    char path[128];
    tmp_path(path, sizeof path, "fixture_copy.safetensors");
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);
    for (int i = 0; i < n; i++) free(data[i]);
    free(data);
    gan_st_close(f);

    uint8_t *original;
    size_t size;
    CHECK_OK(gan_read_file(fixture, 1u << 30, &original, &size, &err), &err);
    if (original) CHECK(file_equals(path, original, size));
    free(original);
    unlink(path);
}

/* ---------------------------------------------------------------- damaged files */

static void test_bad_lengths(void) {
    char path[128];
    tmp_path(path, sizeof path, "bad_length.safetensors");
    write_bytes(path, "", 0);
    EXPECT_OPEN_ERROR(path, "empty", NULL);
    write_bytes(path, "\x02\0\0\0\0", 5);
    EXPECT_OPEN_ERROR(path, "short", "5 bytes");

    uint8_t buf[16] = {100};
    memcpy(buf + 8, "{}      ", 8);
    write_bytes(path, buf, sizeof buf);
    EXPECT_OPEN_ERROR(path, "header length 100 goes beyond the end of the file", "size 16");
    buf[0] = 0, buf[7] = 0x80; /* 2^63 */
    write_bytes(path, buf, sizeof buf);
    EXPECT_OPEN_ERROR(path, "9223372036854775808", "limit");
    memset(buf, 0xFF, 8); /* 2^64 - 1: 8 + N would wrap around */
    write_bytes(path, buf, sizeof buf);
    EXPECT_OPEN_ERROR(path, "18446744073709551615", "limit");
    unlink(path);

    tmp_path(path, sizeof path, "does-not-exist.safetensors");
    EXPECT_OPEN_ERROR(path, "does-not-exist", "No such file");
    EXPECT_OPEN_ERROR(tmp_dir, "not a regular file", NULL);
}

#define T(dtype, shape, offsets) "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static const struct bad_header {
    const char *json;
    size_t data_len;
    const char *word1, *word2;
} bad_headers[] = {
    {"{\"a\": ", 0, "invalid JSON", NULL},
    {"", 0, "invalid JSON", NULL},
    {"[1, 2]", 0, "object", "array"},
    {"{} x", 0, "'x' after the JSON object", NULL},
    {"{\"a\":" T("Q8", "[1]", "[0,1]") "}", 1, "'a'", "unknown dtype \"Q8\""},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'a'", "dtype is missing"},
    {"{\"a\":" T("F32", "[-1]", "[0,0]") "}", 0, "shape element 0 is -1", "'a'"},
    {"{\"a\":" T("F32", "[2, 1.5]", "[0,0]") "}", 0, "shape element 1 is 1.5", NULL},
    {"{\"a\":" T("F32", "[\"2\"]", "[0,8]") "}", 8, "shape element 0 is \"2\"", NULL},
    {"{\"a\":" T("F32", "3", "[0,12]") "}", 12, "shape is 3", NULL},
    {"{\"a\":" T("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, "9 dims", "limit of 8"},
    {"{\"a\":" T("F32", "[4294967296,4294967296,4294967296]", "[0,0]") "}", 0, "'a'", "too large"},
    {"{\"a\":" T("F32", "[1]", "[8,4]") "}", 8, "[8, 4] begin after they end", NULL},
    {"{\"a\":" T("F32", "[1]", "[-4,0]") "}", 4, "data_offsets is [-4,0]", NULL},
    {"{\"a\":" T("F32", "[1]", "[0]") "}", 4, "data_offsets is [0]", NULL},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets is missing", NULL},
    {"{\"mapping.fc0.weight\":" T("F32", "[512,512]", "[0,100]") "}", 100,
     "tensor 'mapping.fc0.weight': data_offsets [0, 100] hold 100 bytes but shape [512, 512] of F32 needs 1048576",
     NULL},
    {"{\"a\":" T("F32", "[1]", "[4,8]") "}", 4, "[4, 8] end beyond the data section", "4 bytes"},
    {"{\"a\":" T("F32", "[2]", "[0,8]") ",\"b\":" T("F32", "[2]", "[4,12]") "}", 12, "'b'", "overlap tensor 'a'"},
    {"{\"a\":" T("F32", "[2]", "[0,8]") ",\"z\":" T("F32", "[0]", "[4,4]") "}", 8, "'z'", "overlap"},
    {"{\"a\":" T("F32", "[1]", "[0,4]") ",\"b\":" T("F32", "[1]", "[8,12]") "}", 12, "'b'", "hole of 4 bytes"},
    {"{\"a\":" T("F32", "[1]", "[4,8]") "}", 8, "'a'", "hole of 4 bytes"},
    {"{\"a\":" T("F32", "[1]", "[0,4]") "}", 8, "hole of 4 bytes at its end", NULL},
    {"{\"a\":" T("F32", "[1]", "[0,4]") ",\"a\":" T("F32", "[1]", "[4,8]") "}", 8, "'a'", "duplicate"},
    {"{\"a\":5}", 0, "'a'", "expected an object"},
    {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of 'k' is 1", "string"},
    {"{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is [\"k\"]", "object"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice", NULL},
    {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "'k'", "duplicate"},
    {"{\"\xff\":" T("F32", "[0]", "[0,0]") "}", 0, "UTF-8", "header byte 2"},
    {"{\"\xed\xa0\x80\":" T("F32", "[0]", "[0,0]") "}", 0, "UTF-8", NULL}, /* a surrogate */
};

/* Legal but unusual: tensors listed out of offset order, empty tensors
 * sharing an offset with a non-empty one (listed after it), whitespace
 * padding other than spaces. */
static void test_unusual_valid_header(void) {
    char path[128];
    tmp_path(path, sizeof path, "unusual.safetensors");
    write_st(path,
             "{\"b\":" T("F32", "[2]", "[4,12]") ",\"z\":" T("F32", "[0]", "[4,4]") ",\"a\":" T("F32", "[1]", "[0,4]")
             ",\"e\":" T("F32", "[3,0]", "[12,12]") "}\n\t ",
             12);
    gan_error err;
    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    CHECK(f && gan_st_count(f) == 4 && strcmp(gan_st_at(f, 0)->name, "b") == 0 &&
          strcmp(gan_st_at(f, 3)->name, "e") == 0);
    const gan_st_tensor *z = f ? gan_st_find(f, "z") : NULL;
    CHECK(f && gan_st_find(f, "a") == gan_st_at(f, 2) && z && z->numel == 0);
    gan_st_close(f);
    unlink(path);
}

static void test_bad_headers(void) {
    char path[128];
    tmp_path(path, sizeof path, "bad_header.safetensors");
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        const struct bad_header *b = &bad_headers[i];
        write_st(path, b->json, b->data_len);
        gan_st_file *f = NULL;
        gan_error err = {{0}};
        if (gan_st_open(path, &f, &err) == 0) {
            fprintf(stderr, "bad header %zu (%s) was accepted\n", i, b->json);
            test_failures++;
            gan_st_close(f);
            continue;
        }
        report_error(&err);
        CHECKF(has_words(err.msg, b->word1, b->word2), "bad header %zu: \"%s\" lacks '%s' or '%s'", i, err.msg,
               b->word1, b->word2 ? b->word2 : "");
        CHECKF(strstr(err.msg, "bad_header.safetensors") != NULL, "bad header %zu: no path in \"%s\"", i, err.msg);
    }
    write_st_raw(path, "{\"a\0\":{}}", 9, NULL, 0);
    EXPECT_OPEN_ERROR(path, "NUL byte at header byte 3", NULL);
    unlink(path);
}

static void test_truncated_after_open(void) {
    char path[128];
    tmp_path(path, sizeof path, "truncated.safetensors");
    enum { N = 10000 };
    float *data = calloc(N, sizeof *data);
    gan_error err;
    gan_st_writer *w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_add_f32(w, "big", 1, (int64_t[]){N}, data, &err), &err);
    CHECK_OK(gan_st_writer_add(w, "half", GAN_ST_F16, 1, (int64_t[]){N}, data, &err), &err);
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    gan_st_writer_free(w);

    gan_st_file *f = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && ftruncate(fd, 1000) == 0);
    if (fd >= 0) close(fd);
    if (f) {
        EXPECT_ERROR(gan_st_read_f32(f, gan_st_find(f, "big"), data, &err), err, "'big'", "truncated");
        EXPECT_ERROR(gan_st_read_f32(f, gan_st_find(f, "half"), data, &err), err, "'half'", "truncated");
        EXPECT_ERROR(gan_st_read_raw(f, gan_st_find(f, "big"), data, &err), err, "truncated", "truncated.safetensors");
    }
    gan_st_close(f);
    free(data);
    unlink(path);
}

static void test_read_refusals(void) {
    char path[128], other_path[128];
    tmp_path(path, sizeof path, "ints.safetensors");
    tmp_path(other_path, sizeof other_path, "other.safetensors");
    int64_t ints[2] = {1, 2};
    uint8_t flags[2] = {1, 0};
    float out[2];
    gan_error err;
    gan_st_writer *w = gan_st_writer_new();
    CHECK_OK(gan_st_writer_add(w, "labels", GAN_ST_I64, 1, (int64_t[]){2}, ints, &err), &err);
    CHECK_OK(gan_st_writer_add(w, "flags", GAN_ST_BOOL, 1, (int64_t[]){2}, flags, &err), &err);
    CHECK_OK(gan_st_writer_save(w, path, &err), &err);
    CHECK_OK(gan_st_writer_save(w, other_path, &err), &err);
    gan_st_writer_free(w);

    gan_st_file *f = NULL, *other = NULL;
    CHECK_OK(gan_st_open(path, &f, &err), &err);
    CHECK_OK(gan_st_open(other_path, &other, &err), &err);
    if (f && other) {
        EXPECT_ERROR(gan_st_read_f32(f, gan_st_find(f, "labels"), out, &err), err, "'labels'", "I64");
        EXPECT_ERROR(gan_st_read_f32(f, gan_st_find(f, "flags"), out, &err), err, "'flags'", "BOOL");
        EXPECT_ERROR(gan_st_read_raw(f, gan_st_find(other, "labels"), ints, &err), err, "not one of this file", NULL);
        EXPECT_ERROR(gan_st_read_raw(f, NULL, ints, &err), err, "not one of this file", NULL);
    }
    gan_st_close(f);
    gan_st_close(other);
    CHECK(strcmp(gan_st_dtype_name(GAN_ST_BF16), "BF16") == 0);
    CHECK(strcmp(gan_st_dtype_name((gan_st_dtype)42), "invalid") == 0);
    unlink(path);
    unlink(other_path);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/dne-test-safetensors-XXXXXX");
    if (!mkdtemp(tmp_dir)) TEST_SKIP("cannot create a temporary folder: %s", strerror(errno));
    test_round_trip();
    test_empty_file_round_trip();
    test_writer_rejects();
    test_conversions();
    test_reference_files();
    test_python_layout();
    test_python_fixture();
    test_bad_lengths();
    test_unusual_valid_header();
    test_bad_headers();
    test_truncated_after_open();
    test_read_refusals();
    CHECKF(count_files_in_tmp() == 0, "files left in %s", tmp_dir);
    rmdir(tmp_dir);
    TEST_DONE();
}
