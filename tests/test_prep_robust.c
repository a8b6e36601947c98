/* dne prep crop on every kind of bad input, made here from a real
 * illustration (Emilia_100.jpg, one face per OpenCV): zero-byte, truncated,
 * corrupt, CMYK JPEG, 16-bit PNG, paletted PNG, RGBA PNG, a header claiming a
 * huge picture, a picture over --max-pixels, an animated GIF, and a text file.
 * The run must finish, and the manifest must give each file its reason (or
 * its crop and what was converted). Then the resume: a re-run does nothing,
 * and a run killed mid-way (lines missing, a half line) completes the rest. */
#include <gif_lib.h>
#include <stdio.h> /* before jpeglib.h */
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "gan/io/file.h"
#include "gan/io/image.h"
#include "tests/test.h"

#define DATA "../shared/data/"
#define FACE DATA "anime_illustrations/ao7108/Emilia/Emilia_100.jpg"
#define CASCADE DATA "lbpcascade_animeface/lbpcascade_animeface.xml"

static char dir[64], in[128], out[128];

static void in_path(char *p, size_t n, const char *name) { snprintf(p, n, "%s/%s", in, name); }

static void write_bytes(const char *name, const void *data, size_t size) {
    char p[256];
    gan_error err;
    in_path(p, sizeof p, name);
    CHECK_OK(gan_write_file_atomic(p, data, size, &err), &err);
}

static void write_cmyk_jpeg(const char *name, const gan_image *rgb) {
    char p[256];
    in_path(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)rgb->width;
    c.image_height = (JDIMENSION)rgb->height;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = malloc((size_t)rgb->width * 4);
    while (c.next_scanline < c.image_height) {
        const uint8_t *s = rgb->pixels + (size_t)c.next_scanline * rgb->width * 3;
        for (int x = 0; x < rgb->width; x++) { /* libjpeg writes an Adobe marker: stored = 255 - ink, K = 0 */
            for (int k = 0; k < 3; k++) row[4 * x + k] = s[3 * x + k];
            row[4 * x + 3] = 255;
        }
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    fclose(f);
}

/* 16-bit RGB (depth 16) or an 8-bit palette of the 6x6x6 colour cube. */
static void write_png(const char *name, const gan_image *rgb, int palette) {
    char p[256];
    in_path(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)rgb->width, (png_uint_32)rgb->height, palette ? 8 : 16,
                 palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_color cube[216];
    for (int i = 0; i < 216; i++) cube[i] = (png_color){(png_byte)(i / 36 * 51), (png_byte)(i / 6 % 6 * 51), (png_byte)(i % 6 * 51)};
    if (palette) png_set_PLTE(png, info, cube, 216);
    png_write_info(png, info);
    uint8_t *row = malloc((size_t)rgb->width * 6);
    for (int y = 0; y < rgb->height; y++) {
        const uint8_t *s = rgb->pixels + (size_t)y * rgb->width * 3;
        for (int x = 0; x < rgb->width; x++) {
            if (palette) {
                int q[3];
                for (int k = 0; k < 3; k++) q[k] = (s[3 * x + k] + 25) / 51;
                row[x] = (uint8_t)(q[0] * 36 + q[1] * 6 + q[2]);
            } else {
                for (int k = 0; k < 3; k++) row[6 * x + 2 * k] = row[6 * x + 2 * k + 1] = s[3 * x + k];
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
}

/* Two frames of grey levels on a 64-colour palette. */
static void write_animated_gif(const char *name, const gan_image *rgb) {
    char p[256];
    in_path(p, sizeof p, name);
    int code;
    GifFileType *g = EGifOpenFileName(p, false, &code);
    GifColorType colours[64];
    for (int i = 0; i < 64; i++) colours[i] = (GifColorType){(GifByteType)(i * 4), (GifByteType)(i * 4), (GifByteType)(i * 4)};
    ColorMapObject *map = GifMakeMapObject(64, colours);
    EGifPutScreenDesc(g, rgb->width, rgb->height, 6, 0, map);
    GifPixelType *line = malloc((size_t)rgb->width);
    for (int frame = 0; frame < 2; frame++) {
        EGifPutImageDesc(g, 0, 0, rgb->width, rgb->height, false, NULL);
        for (int y = 0; y < rgb->height; y++) {
            for (int x = 0; x < rgb->width; x++) line[x] = (GifPixelType)(rgb->pixels[((size_t)y * rgb->width + x) * 3 + 1] / 4);
            EGifPutLine(g, line, rgb->width);
        }
    }
    EGifCloseFile(g, &code);
    GifFreeMapObject(map);
    free(line);
}

static void make_inputs(void) {
    gan_error err;
    uint8_t *jpeg;
    size_t size;
    gan_image face = {0};
    if (gan_read_file(FACE, 1 << 26, &jpeg, &size, &err) != 0 || gan_image_decode(jpeg, size, &face, &err) != 0) {
        CHECKF(0, "%s", err.msg);
        exit(1);
    }
    write_bytes("a_original.jpg", jpeg, size);
    write_bytes("empty.jpg", "", 0);
    write_bytes("truncated.jpg", jpeg, size / 3);
    write_bytes("notes.dat", "just some text, not a picture\n", 30);
    write_cmyk_jpeg("cmyk.jpg", &face);
    write_png("deep16.png", &face, 0);
    write_png("palette.png", &face, 1);
    write_animated_gif("animated.gif", &face);
    /* RGBA: the face, with a transparent frame around it (composited on white). */
    gan_image rgba = face;
    rgba.pixels = malloc((size_t)face.width * face.height * 3);
    memcpy(rgba.pixels, face.pixels, (size_t)face.width * face.height * 3);
    gan_image_convert(&rgba, 4, &err);
    for (int y = 0; y < rgba.height; y++)
        for (int x = 0; x < rgba.width; x++)
            if (x < 20 || y < 20) rgba.pixels[((size_t)y * rgba.width + x) * 4 + 3] = 0;
    char p[256];
    in_path(p, sizeof p, "sub/rgba.png");
    gan_mkdirs(dir, &err);
    char sub[256];
    in_path(sub, sizeof sub, "sub");
    gan_mkdirs(sub, &err);
    CHECK_OK(gan_image_save(p, &rgba, GAN_IMAGE_PNG, 0, &err), &err);
    /* Corrupt: the RGBA PNG with bytes flipped in its compressed data. */
    uint8_t *png;
    size_t png_size;
    gan_read_file(p, 1 << 26, &png, &png_size, &err);
    for (size_t i = png_size / 2; i < png_size / 2 + 64; i++) png[i] ^= 0xA5;
    write_bytes("corrupt.png", png, png_size);
    /* Huge: a valid PNG header announcing 100000 x 100000 pixels (a decompression bomb's shape). */
    memcpy(png + 16, "\x00\x01\x86\xa0\x00\x01\x86\xa0", 8);
    write_bytes("huge.png", png, 64);
    free(png);
    /* Over --max-pixels (4,000,000 below): 2100 x 2100 white. */
    gan_image big;
    gan_image_alloc(&big, 2100, 2100, 3, &err);
    memset(big.pixels, 255, (size_t)2100 * 2100 * 3);
    in_path(p, sizeof p, "big.png");
    CHECK_OK(gan_image_save(p, &big, GAN_IMAGE_PNG, 0, &err), &err);
    gan_image_free(&big);
    gan_image_free(&rgba);
    gan_image_free(&face);
    free(jpeg);
}

static int run_dne(void) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s prep crop --in %s --out %s --cascade " CASCADE " --res 64 --max-pixels 4000000 --filter grey --threads 2 --quiet",
             DNE_EXE, in, out);
    return system(cmd);
}

/* The manifest's entries by source base name: status and "converted". */
static cJSON *read_manifest(int *lines) {
    char p[256];
    snprintf(p, sizeof p, "%s/manifest.jsonl", out);
    uint8_t *text;
    size_t size;
    gan_error err;
    cJSON *all = cJSON_CreateArray();
    *lines = 0;
    if (gan_read_file(p, 1 << 24, &text, &size, &err) != 0) return all;
    for (char *s = (char *)text, *nl; (nl = strchr(s, '\n')); s = nl + 1) {
        *nl = 0;
        cJSON *e = cJSON_Parse(s);
        CHECKF(e != NULL, "bad manifest line: %s", s);
        if (e) cJSON_AddItemToArray(all, e);
        (*lines)++;
    }
    free(text);
    return all;
}

static const cJSON *entry_of(const cJSON *all, const char *base) {
    const cJSON *e;
    cJSON_ArrayForEach(e, all) {
        const char *src = cJSON_GetObjectItemCaseSensitive(e, "source")->valuestring;
        size_t n = strlen(src), k = strlen(base);
        if (n >= k && strcmp(src + n - k, base) == 0 && src[n - k - 1] == '/') return e;
    }
    return NULL;
}

static void expect(const cJSON *all, const char *file, const char *status, const char *converted) {
    const cJSON *e = entry_of(all, file);
    CHECKF(e != NULL, "%s is not in the manifest", file);
    if (!e) return;
    const char *st = cJSON_GetObjectItemCaseSensitive(e, "status")->valuestring;
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(e, "converted");
    CHECKF(strcmp(st, status) == 0, "%s: status %s, expected %s", file, st, status);
    if (converted)
        CHECKF(cJSON_IsString(conv) && strstr(conv->valuestring, converted), "%s: converted is %s, expected %s", file,
               cJSON_IsString(conv) ? conv->valuestring : "(none)", converted);
    const cJSON *crop_file = cJSON_GetObjectItemCaseSensitive(e, "file");
    if (strcmp(status, "ok") == 0 && cJSON_IsString(crop_file)) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", out, crop_file->valuestring);
        gan_image crop = {0};
        gan_error err;
        CHECKF(gan_image_load(p, &crop, &err) == 0 && crop.width == 64 && crop.height == 64, "%s: crop %s", file, p);
        gan_image_free(&crop);
    }
}

static void check_reasons(const cJSON *all) {
    expect(all, "a_original.jpg", "ok", NULL);
    expect(all, "empty.jpg", "empty", NULL);
    expect(all, "truncated.jpg", "unreadable", NULL);
    expect(all, "notes.dat", "unreadable", NULL);
    expect(all, "corrupt.png", "unreadable", NULL);
    expect(all, "huge.png", "too_large", NULL);
    expect(all, "big.png", "too_large", NULL);
    expect(all, "cmyk.jpg", "ok", "cmyk");
    expect(all, "deep16.png", "ok", "16-bit");
    expect(all, "sub/rgba.png", "ok", "alpha");
    /* Quantised to 216 or 64 grey colours the face may not be found; the conversion is still reported. */
    const cJSON *pal = entry_of(all, "palette.png"), *gif = entry_of(all, "animated.gif");
    const cJSON *pal_conv = cJSON_GetObjectItemCaseSensitive(pal, "converted");
    const cJSON *gif_conv = cJSON_GetObjectItemCaseSensitive(gif, "converted");
    CHECK(cJSON_IsString(pal_conv) && strstr(pal_conv->valuestring, "palette"));
    CHECK(cJSON_IsString(gif_conv) && strstr(gif_conv->valuestring, "animated"));
    const cJSON *truncated = entry_of(all, "truncated.jpg");
    CHECK(truncated && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(truncated, "detail")));
}

/* Cuts the manifest after its first `keep` lines and adds half a line, as a kill would. */
static void simulate_kill(int keep) {
    char p[256];
    snprintf(p, sizeof p, "%s/manifest.jsonl", out);
    uint8_t *text;
    size_t size;
    gan_error err;
    if (gan_read_file(p, 1 << 24, &text, &size, &err) != 0) return;
    char *s = (char *)text;
    for (int i = 0; i < keep; i++) s = strchr(s, '\n') + 1;
    size_t n = (size_t)(s - (char *)text);
    memcpy(s, "{\"source\":\"x", 12);
    CHECK_OK(gan_write_file_atomic(p, text, n + 12, &err), &err);
    free(text);
}

int main(void) {
    if (access(FACE, R_OK) != 0 || access(CASCADE, R_OK) != 0) TEST_SKIP("test data missing");
    snprintf(dir, sizeof dir, "/tmp/dne-test-prep-XXXXXX");
    if (!mkdtemp(dir)) TEST_SKIP("no temporary folder");
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    gan_error err;
    CHECK_OK(gan_mkdirs(in, &err), &err);
    make_inputs();

    CHECK(run_dne() == 0);
    int lines;
    cJSON *all = read_manifest(&lines);
    CHECK(lines == 12);
    check_reasons(all);
    cJSON_Delete(all);

    /* Nothing left to do: the manifest is unchanged. */
    CHECK(run_dne() == 0);
    int again;
    cJSON_Delete(read_manifest(&again));
    CHECK(again == lines);

    /* A killed run: 5 lines in place and half of the sixth. */
    simulate_kill(5);
    CHECK(run_dne() == 0);
    all = read_manifest(&again);
    CHECK(again == lines);
    check_reasons(all);
    cJSON_Delete(all);

    if (test_failures == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    TEST_DONE();
}
