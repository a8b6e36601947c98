/* Tests for gan/io/image.c and gan/io/file.c.
 *
 * Small images of every layout are made here with the libraries' own encoders
 * (libpng, libjpeg, giflib) or by hand (animated WebP, hostile headers), so
 * that each decoder path is checked against known pixels. Real files come
 * from ../shared/data; their reference values (sums, sample pixels) were
 * printed by Pillow 9.4 (/usr/bin/python3 on Debian 12), whose PNG decoder is
 * its own, so the PNG values are an independent check. JPEG and WebP decoding
 * in Pillow uses the same libjpeg-turbo and libwebp, so those are compared
 * with a small tolerance rather than exactly. */
#include "gan/io/file.h"
#include "gan/io/image.h"

#include <dirent.h>
#include <errno.h>
#include <gif_lib.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <threads.h>
#include <unistd.h>

#include "tests/test.h"

#define DATA "../shared/data/"
#define ILLUSTRATIONS DATA "anime_illustrations/"

static char tmp_dir[64];

/* ---------------------------------------------------------------- helpers */

typedef struct buffer {
    uint8_t *data;
    size_t size, cap;
} buffer;

static void buffer_append(buffer *b, const void *data, size_t n) {
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2 + 256;
        b->data = realloc(b->data, b->cap);
        if (!b->data) abort();
    }
    memcpy(b->data + b->size, data, n);
    b->size += n;
}

static void buffer_put_le(buffer *b, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * i));
        buffer_append(b, &byte, 1);
    }
}

static void buffer_put_be32(buffer *b, uint32_t v) {
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buffer_append(b, be, 4);
}

static uint32_t rng_state = 12345;
static uint32_t next_random(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void tmp_path(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", tmp_dir, name);
}

static int count_entries_containing(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, needle)) n++;
    closedir(d);
    return n;
}

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        remove_tree(child);
    }
    closedir(d);
    rmdir(path);
}

static const uint8_t *pixel_at(const gan_image *img, int x, int y) {
    return img->pixels + ((size_t)y * (size_t)img->width + (size_t)x) * (size_t)img->channels;
}

/* Compares the first n channels of a pixel with expected values, within tol. */
static bool pixel_near(const gan_image *img, int x, int y, const int *expected, int n, int tol) {
    if (x >= img->width || y >= img->height) return false;
    const uint8_t *p = pixel_at(img, x, y);
    for (int c = 0; c < n; c++)
        if (abs(p[c] - expected[c]) > tol) return false;
    return true;
}

#define PIXEL_IS(img, x, y, ...) \
    pixel_near(img, x, y, (const int[]){__VA_ARGS__}, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), 0)

static uint64_t byte_sum(const gan_image *img) {
    uint64_t s = 0;
    size_t n = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
    for (size_t i = 0; i < n; i++) s += img->pixels[i];
    return s;
}

static double byte_mean(const gan_image *img) {
    return (double)byte_sum(img) / ((double)img->width * img->height * img->channels);
}

static bool same_image(const gan_image *a, const gan_image *b) {
    return a->width == b->width && a->height == b->height && a->channels == b->channels &&
           memcmp(a->pixels, b->pixels, (size_t)a->width * a->height * a->channels) == 0;
}

static double mean_abs_diff(const gan_image *a, const gan_image *b) {
    if (a->width != b->width || a->height != b->height || a->channels != b->channels) return 1e9;
    size_t n = (size_t)a->width * a->height * a->channels;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += abs(a->pixels[i] - b->pixels[i]);
    return s / (double)n;
}

/* Busy, non-repeating content: exact round trips then mean every byte counts. */
static gan_image make_pattern(int w, int h, int channels) {
    gan_image img;
    gan_error err;
    if (gan_image_alloc(&img, w, h, channels, &err) != 0) abort();
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++)
                img.pixels[((size_t)y * w + x) * channels + c] = (uint8_t)(x * 37 + y * 11 + c * 71 + x * y);
    return img;
}

/* Smooth content, what lossy codecs are made for. */
static gan_image make_gradient(int w, int h, int channels) {
    gan_image img;
    gan_error err;
    if (gan_image_alloc(&img, w, h, channels, &err) != 0) abort();
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.pixels + ((size_t)y * w + x) * channels;
            p[0] = (uint8_t)(x * 255 / (w - 1));
            if (channels >= 3) {
                p[1] = (uint8_t)(y * 255 / (h - 1));
                p[2] = (uint8_t)(128 + (x - y) / 4);
            }
            if (channels == 4) p[3] = (uint8_t)(255 - y);
        }
    return img;
}

/* Decoding must fail with a message and leave no image. */
static void expect_decode_error(const uint8_t *data, size_t size, const char *what) {
    gan_image img = {.width = -1};
    gan_error err = {{0}};
    int rc = gan_image_decode(data, size, &img, &err);
    CHECKF(rc == -1, "%s: decoding %zu bytes succeeded", what, size);
    CHECKF(err.msg[0] != 0, "%s: empty error message", what);
    CHECKF(strchr(err.msg, '\n') == NULL, "%s: message is not one line: %s", what, err.msg);
    CHECKF(img.pixels == NULL && img.width == 0, "%s: image left set after an error", what);
    if (rc == 0) gan_image_free(&img);
}

static void expect_refused(const buffer *b, const char *what, const char *needle);

static bool load_file(const char *path, buffer *out) {
    gan_error err;
    out->cap = 0;
    if (gan_read_file(path, (size_t)64 << 20, &out->data, &out->size, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- PNG writer */

static void png_to_buffer(png_structp png, png_bytep data, size_t n) {
    buffer_append(png_get_io_ptr(png), data, n);
}

static void png_no_flush(png_structp png) {
    (void)png;
}

typedef struct png_spec {
    int width, height, depth, color_type, interlace;
    const uint8_t *rows; /* packed rows as PNG stores them */
    const png_color *palette;
    int palette_size;
    const uint8_t *trns; /* palette alpha */
    int trns_size;
    const png_color_16 *trns_color; /* grey/RGB colour key */
} png_spec;

static buffer write_png(const png_spec *s) {
    buffer out = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    int channels = s->color_type == PNG_COLOR_TYPE_RGB ? 3 : s->color_type == PNG_COLOR_TYPE_RGBA ? 4
                   : s->color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t stride = ((size_t)s->width * channels * s->depth + 7) / 8;
    png_bytep *rows = malloc(sizeof *rows * (size_t)s->height);
    for (int y = 0; y < s->height; y++) rows[y] = (png_bytep)s->rows + (size_t)y * stride;
    if (setjmp(png_jmpbuf(png))) {
        free(out.data);
        out = (buffer){0};
    } else {
        png_set_write_fn(png, &out, png_to_buffer, png_no_flush);
        png_set_IHDR(png, info, s->width, s->height, s->depth, s->color_type, s->interlace,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        if (s->palette) png_set_PLTE(png, info, s->palette, s->palette_size);
        if (s->trns || s->trns_color) png_set_tRNS(png, info, s->trns, s->trns_size, s->trns_color);
        png_write_info(png, info);
        png_write_image(png, rows);
        png_write_end(png, info);
    }
    png_destroy_write_struct(&png, &info);
    free(rows);
    return out;
}

static bool decode_buffer(const buffer *b, gan_image *img, const char *what) {
    gan_error err;
    if (!b->data || gan_image_decode(b->data, b->size, img, &err) != 0) {
        fprintf(stderr, "%s: %s\n", what, b->data ? err.msg : "could not be written");
        test_failures++;
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- basics */

static void test_sniff_and_names(void) {
    CHECK(gan_image_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n", 8) == GAN_IMAGE_PNG);
    CHECK(gan_image_sniff((const uint8_t *)"\xff\xd8\xff\xe0", 4) == GAN_IMAGE_JPEG);
    CHECK(gan_image_sniff((const uint8_t *)"RIFF\x10\0\0\0WEBPVP8 ", 16) == GAN_IMAGE_WEBP);
    CHECK(gan_image_sniff((const uint8_t *)"RIFF\x10\0\0\0WAVEfmt ", 16) == GAN_IMAGE_UNKNOWN);
    CHECK(gan_image_sniff((const uint8_t *)"GIF89a", 6) == GAN_IMAGE_GIF);
    CHECK(gan_image_sniff((const uint8_t *)"GIF87a", 6) == GAN_IMAGE_GIF);
    CHECK(gan_image_sniff((const uint8_t *)"GIF88a", 6) == GAN_IMAGE_UNKNOWN);
    CHECK(gan_image_sniff((const uint8_t *)"\xff\xd8", 2) == GAN_IMAGE_UNKNOWN);
    CHECK(gan_image_sniff((const uint8_t *)"BM", 2) == GAN_IMAGE_UNKNOWN);
    CHECK(gan_image_sniff(NULL, 0) == GAN_IMAGE_UNKNOWN);

    CHECK(gan_image_format_from_name("png") == GAN_IMAGE_PNG);
    CHECK(gan_image_format_from_name("PNG") == GAN_IMAGE_PNG);
    CHECK(gan_image_format_from_name("WebP") == GAN_IMAGE_WEBP);
    CHECK(gan_image_format_from_name("jpg") == GAN_IMAGE_JPEG);
    CHECK(gan_image_format_from_name("JPEG") == GAN_IMAGE_JPEG);
    CHECK(gan_image_format_from_name("gif") == GAN_IMAGE_GIF);
    CHECK(gan_image_format_from_name(".png") == GAN_IMAGE_PNG);
    CHECK(gan_image_format_from_name("bmp") == GAN_IMAGE_UNKNOWN);
    CHECK(gan_image_format_from_name("pngx") == GAN_IMAGE_UNKNOWN);
    CHECK(gan_image_format_from_name("") == GAN_IMAGE_UNKNOWN);
    CHECK(gan_image_format_from_name(NULL) == GAN_IMAGE_UNKNOWN);
    CHECK(!strcmp(gan_image_format_name(GAN_IMAGE_WEBP), "WebP"));
    CHECK(!strcmp(gan_image_format_name(GAN_IMAGE_JPEG), "JPEG"));
}

static void test_alloc(void) {
    gan_image img;
    gan_error err;
    CHECK_OK(gan_image_alloc(&img, 3, 2, 4, &err), &err);
    CHECK(img.width == 3 && img.height == 2 && img.channels == 4 && img.pixels && byte_sum(&img) == 0);
    gan_image_free(&img);
    CHECK(img.pixels == NULL);
    gan_image_free(&img); /* twice is harmless */
    CHECK(gan_image_alloc(&img, 0, 5, 3, &err) == -1 && strstr(err.msg, "zero size"));
    CHECK(gan_image_alloc(&img, 5, -1, 3, &err) == -1);
    CHECK(gan_image_alloc(&img, 5, 5, 2, &err) == -1 && strstr(err.msg, "channel"));
    CHECK(gan_image_alloc(&img, 100000, 100000, 3, &err) == -1 && strstr(err.msg, "too large"));
    CHECK(img.pixels == NULL);
}

/* ---------------------------------------------------------------- PNG */

static void png_round_trip(int w, int h, int channels) {
    gan_image src = make_pattern(w, h, channels), back = {0};
    gan_error err;
    buffer png = {0};
    CHECK_OK(gan_image_encode_png(&src, &png.data, &png.size, &err), &err);
    CHECK(gan_image_sniff(png.data, png.size) == GAN_IMAGE_PNG);
    if (decode_buffer(&png, &back, "PNG round trip"))
        CHECKF(same_image(&src, &back), "PNG %dx%dx%d round trip differs", w, h, channels);
    gan_image_free(&src);
    gan_image_free(&back);
    free(png.data);
}

static void test_png_round_trips(void) {
    png_round_trip(37, 23, 3);
    png_round_trip(37, 23, 1);
    png_round_trip(37, 23, 4);
    png_round_trip(1, 1, 3);
    gan_image bad = {.width = 2, .height = 2, .channels = 2, .pixels = (uint8_t[8]){0}};
    gan_error err;
    uint8_t *data;
    size_t size;
    CHECK(gan_image_encode_png(&bad, &data, &size, &err) == -1 && data == NULL);
}

static void test_png_16bit(void) {
    /* 2x1 RGB, 16 bits: big-endian samples; stripping keeps the high byte. */
    const uint8_t rows[] = {0x12, 0x34, 0xAB, 0xCD, 0xFF, 0xFF, 0x00, 0x01, 0x80, 0x00, 0x7F, 0xFF};
    buffer b = write_png(&(png_spec){.width = 2, .height = 1, .depth = 16, .color_type = PNG_COLOR_TYPE_RGB,
                                     .rows = rows});
    gan_image img;
    if (decode_buffer(&b, &img, "16-bit RGB PNG")) {
        CHECK(img.channels == 3 && img.width == 2);
        CHECK(PIXEL_IS(&img, 0, 0, 0x12, 0xAB, 0xFF));
        CHECK(PIXEL_IS(&img, 1, 0, 0x00, 0x80, 0x7F));
        gan_image_free(&img);
    }
    free(b.data);

    /* 16-bit grey + alpha becomes RGBA. */
    const uint8_t ga[] = {0x40, 0x00, 0xFF, 0x00, 0xC0, 0x11, 0x00, 0x22};
    b = write_png(&(png_spec){.width = 2, .height = 1, .depth = 16, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA,
                              .rows = ga});
    if (decode_buffer(&b, &img, "16-bit grey+alpha PNG")) {
        CHECK(img.channels == 4);
        CHECK(PIXEL_IS(&img, 0, 0, 0x40, 0x40, 0x40, 0xFF));
        CHECK(PIXEL_IS(&img, 1, 0, 0xC0, 0xC0, 0xC0, 0x00));
        gan_image_free(&img);
    }
    free(b.data);
}

static void test_png_palette(void) {
    const png_color palette[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    const uint8_t alpha[2] = {0, 128};
    /* 4x2 at 2 bits per index: indices 0 1 2 3 / 3 2 1 0. */
    const uint8_t rows[] = {0x1B, 0xE4};
    buffer b = write_png(&(png_spec){.width = 4, .height = 2, .depth = 2, .color_type = PNG_COLOR_TYPE_PALETTE,
                                     .rows = rows, .palette = palette, .palette_size = 4});
    gan_image img;
    if (decode_buffer(&b, &img, "palette PNG")) {
        CHECK(img.channels == 3 && img.width == 4 && img.height == 2);
        CHECK(PIXEL_IS(&img, 0, 0, 255, 0, 0));
        CHECK(PIXEL_IS(&img, 3, 0, 10, 20, 30));
        CHECK(PIXEL_IS(&img, 1, 1, 0, 0, 255));
        gan_image_free(&img);
    }
    free(b.data);

    b = write_png(&(png_spec){.width = 4, .height = 2, .depth = 2, .color_type = PNG_COLOR_TYPE_PALETTE, .rows = rows,
                              .palette = palette, .palette_size = 4, .trns = alpha, .trns_size = 2});
    if (decode_buffer(&b, &img, "palette PNG with tRNS")) {
        CHECK(img.channels == 4);
        CHECK(PIXEL_IS(&img, 0, 0, 255, 0, 0, 0));
        CHECK(PIXEL_IS(&img, 1, 0, 0, 255, 0, 128));
        CHECK(PIXEL_IS(&img, 2, 0, 0, 0, 255, 255));
        CHECK(PIXEL_IS(&img, 0, 1, 10, 20, 30, 255));
        gan_image_free(&img);
    }
    free(b.data);
}

static void test_png_grey(void) {
    /* 1-bit: 8 pixels 10110001 expand to 0/255. */
    const uint8_t one_bit[] = {0xB1};
    buffer b = write_png(&(png_spec){.width = 8, .height = 1, .depth = 1, .color_type = PNG_COLOR_TYPE_GRAY,
                                     .rows = one_bit});
    gan_image img;
    if (decode_buffer(&b, &img, "1-bit grey PNG")) {
        CHECK(img.channels == 1 && img.width == 8);
        const uint8_t expected[8] = {255, 0, 255, 255, 0, 0, 0, 255};
        CHECK(memcmp(img.pixels, expected, 8) == 0);
        gan_image_free(&img);
    }
    free(b.data);

    /* 4-bit: v becomes v * 17. */
    const uint8_t four_bit[] = {0x0F, 0x5A};
    b = write_png(&(png_spec){.width = 4, .height = 1, .depth = 4, .color_type = PNG_COLOR_TYPE_GRAY,
                              .rows = four_bit});
    if (decode_buffer(&b, &img, "4-bit grey PNG")) {
        const uint8_t expected[4] = {0, 255, 85, 170};
        CHECK(img.channels == 1 && memcmp(img.pixels, expected, 4) == 0);
        gan_image_free(&img);
    }
    free(b.data);

    /* 8-bit grey + alpha becomes RGBA. */
    const uint8_t ga[] = {7, 200, 99, 0};
    b = write_png(&(png_spec){.width = 2, .height = 1, .depth = 8, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA,
                              .rows = ga});
    if (decode_buffer(&b, &img, "grey+alpha PNG")) {
        CHECK(img.channels == 4);
        CHECK(PIXEL_IS(&img, 0, 0, 7, 7, 7, 200));
        CHECK(PIXEL_IS(&img, 1, 0, 99, 99, 99, 0));
        gan_image_free(&img);
    }
    free(b.data);

    /* Grey with a tRNS colour key: the key becomes transparent. */
    const uint8_t keyed[] = {50, 60, 50};
    png_color_16 key = {.gray = 50};
    b = write_png(&(png_spec){.width = 3, .height = 1, .depth = 8, .color_type = PNG_COLOR_TYPE_GRAY, .rows = keyed,
                              .trns_color = &key});
    if (decode_buffer(&b, &img, "grey PNG with tRNS")) {
        CHECK(img.channels == 4);
        CHECK(PIXEL_IS(&img, 0, 0, 50, 50, 50, 0));
        CHECK(PIXEL_IS(&img, 1, 0, 60, 60, 60, 255));
        gan_image_free(&img);
    }
    free(b.data);
}

static void test_png_interlaced(void) {
    gan_image src = make_pattern(13, 11, 3), img;
    buffer b = write_png(&(png_spec){.width = 13, .height = 11, .depth = 8, .color_type = PNG_COLOR_TYPE_RGB,
                                     .interlace = PNG_INTERLACE_ADAM7, .rows = src.pixels});
    if (decode_buffer(&b, &img, "interlaced PNG")) {
        CHECK(same_image(&src, &img));
        gan_image_free(&img);
    }
    free(b.data);
    gan_image_free(&src);
}

/* ---------------------------------------------------------------- JPEG */

typedef struct jpeg_spec {
    int width, height, components;
    J_COLOR_SPACE in_space, stored_space; /* stored_space JCS_UNKNOWN: library default */
    bool progressive;
    bool no_adobe_marker;
    const uint8_t *pixels;
    const jpeg_scan_info *scans; /* a custom progressive script */
    int scan_count;
} jpeg_spec;

static buffer write_jpeg(const jpeg_spec *s) {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    unsigned char *out = NULL;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &out, &size);
    cinfo.image_width = (JDIMENSION)s->width;
    cinfo.image_height = (JDIMENSION)s->height;
    cinfo.input_components = s->components;
    cinfo.in_color_space = s->in_space;
    jpeg_set_defaults(&cinfo);
    if (s->stored_space != JCS_UNKNOWN) jpeg_set_colorspace(&cinfo, s->stored_space);
    jpeg_set_quality(&cinfo, 95, TRUE);
    if (s->progressive) jpeg_simple_progression(&cinfo);
    if (s->no_adobe_marker) cinfo.write_Adobe_marker = FALSE;
    if (s->scans) {
        cinfo.scan_info = s->scans;
        cinfo.num_scans = s->scan_count;
    }
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)s->pixels + (size_t)cinfo.next_scanline * s->width * s->components;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    buffer b = {.data = out, .size = size};
    return b;
}

static void test_jpeg_rgb_and_grey(void) {
    gan_image rgb = make_gradient(64, 48, 3), grey = make_gradient(64, 48, 1), img;
    buffer b = write_jpeg(&(jpeg_spec){.width = 64, .height = 48, .components = 3, .in_space = JCS_RGB,
                                       .pixels = rgb.pixels});
    if (decode_buffer(&b, &img, "RGB JPEG")) {
        CHECK(img.channels == 3);
        double d = mean_abs_diff(&rgb, &img);
        CHECKF(d < 3, "RGB JPEG mean abs diff %.2f", d);
        gan_image_free(&img);
    }
    free(b.data);

    b = write_jpeg(&(jpeg_spec){.width = 64, .height = 48, .components = 3, .in_space = JCS_RGB, .progressive = true,
                                .pixels = rgb.pixels});
    if (decode_buffer(&b, &img, "progressive JPEG")) {
        double d = mean_abs_diff(&rgb, &img);
        CHECKF(d < 3, "progressive JPEG mean abs diff %.2f", d);
        gan_image_free(&img);
    }
    free(b.data);

    b = write_jpeg(&(jpeg_spec){.width = 64, .height = 48, .components = 1, .in_space = JCS_GRAYSCALE,
                                .pixels = grey.pixels});
    if (decode_buffer(&b, &img, "grey JPEG")) {
        CHECK(img.channels == 1);
        double d = mean_abs_diff(&grey, &img);
        CHECKF(d < 3, "grey JPEG mean abs diff %.2f", d);
        gan_image_free(&img);
    }
    free(b.data);
    gan_image_free(&rgb);
    gan_image_free(&grey);
}

/* libjpeg writes an Adobe marker for CMYK, and Adobe CMYK is stored inverted
 * (255 = no ink), so stored (200, 100, 50, K) means RGB (200, 100, 50) * K / 255.
 * Without the marker the values are ink amounts: (55, 155, 205, 255 - K). */
static void jpeg_cmyk_case(J_COLOR_SPACE stored, bool adobe, int k, const int expected[3]) {
    enum { W = 16, H = 16 };
    uint8_t cmyk[W * H * 4];
    const uint8_t inverted[4] = {200, 100, 50, (uint8_t)k}, ink[4] = {55, 155, 205, (uint8_t)(255 - k)};
    for (int i = 0; i < W * H; i++) memcpy(cmyk + 4 * i, adobe ? inverted : ink, 4);
    buffer b = write_jpeg(&(jpeg_spec){.width = W, .height = H, .components = 4, .in_space = JCS_CMYK,
                                       .stored_space = stored, .no_adobe_marker = !adobe, .pixels = cmyk});
    gan_image img;
    if (decode_buffer(&b, &img, stored == JCS_YCCK ? "YCCK JPEG" : "CMYK JPEG")) {
        CHECK(img.channels == 3 && img.width == W);
        const uint8_t *p = pixel_at(&img, 5, 7);
        CHECKF(pixel_near(&img, 5, 7, expected, 3, 3), "%s%s k=%d: got %d %d %d", stored == JCS_YCCK ? "YCCK" : "CMYK",
               adobe ? "" : " without Adobe marker", k, p[0], p[1], p[2]);
        gan_image_free(&img);
    }
    free(b.data);
}

/* A valid progressive JPEG that sends every AC coefficient of every component
 * in its own three successive-approximation scans: 569 scans. Decoders stop
 * such files (a cheap way to make a decoder spin) at 500 scans. */
static void test_jpeg_too_many_scans(void) {
    enum { MAX_SCANS = 2 + 3 * 63 * 3 };
    static jpeg_scan_info scans[MAX_SCANS];
    int n = 0;
    scans[n++] = (jpeg_scan_info){3, {0, 1, 2}, 0, 0, 0, 1};
    scans[n++] = (jpeg_scan_info){3, {0, 1, 2}, 0, 0, 1, 0};
    for (int c = 0; c < 3; c++)
        for (int k = 1; k < 64; k++) {
            scans[n++] = (jpeg_scan_info){1, {c}, k, k, 0, 2};
            scans[n++] = (jpeg_scan_info){1, {c}, k, k, 2, 1};
            scans[n++] = (jpeg_scan_info){1, {c}, k, k, 1, 0};
        }
    gan_image src = make_gradient(16, 16, 3);
    buffer b = write_jpeg(&(jpeg_spec){.width = 16, .height = 16, .components = 3, .in_space = JCS_RGB,
                                       .pixels = src.pixels, .scans = scans, .scan_count = n});
    expect_refused(&b, "JPEG with 569 scans", "too many progressive scans");
    free(b.data);
    /* The same with the first 300 scans is fine. */
    b = write_jpeg(&(jpeg_spec){.width = 16, .height = 16, .components = 3, .in_space = JCS_RGB,
                                .pixels = src.pixels, .scans = scans, .scan_count = 300});
    gan_image img;
    if (decode_buffer(&b, &img, "JPEG with 300 scans")) gan_image_free(&img);
    free(b.data);
    gan_image_free(&src);
}

static void test_jpeg_cmyk(void) {
    jpeg_cmyk_case(JCS_CMYK, true, 255, (const int[]){200, 100, 50});
    jpeg_cmyk_case(JCS_CMYK, true, 128, (const int[]){100, 50, 25});
    jpeg_cmyk_case(JCS_YCCK, true, 255, (const int[]){200, 100, 50});
    jpeg_cmyk_case(JCS_YCCK, true, 128, (const int[]){100, 50, 25});
    jpeg_cmyk_case(JCS_CMYK, false, 255, (const int[]){200, 100, 50});
    jpeg_cmyk_case(JCS_CMYK, false, 128, (const int[]){100, 50, 25});
}

/* ---------------------------------------------------------------- WebP */

static void webp_round_trip(int channels, bool lossless) {
    gan_image src = lossless ? make_pattern(41, 29, channels) : make_gradient(64, 48, channels), back = {0};
    if (lossless && channels == 4) /* colours under alpha 0 must survive too */
        for (int i = 0; i < 41 * 29; i += 3) src.pixels[i * 4 + 3] = 0;
    gan_error err;
    buffer b = {0};
    CHECK_OK(gan_image_encode_webp(&src, lossless ? -1.0f : 90.0f, &b.data, &b.size, &err), &err);
    CHECK(gan_image_sniff(b.data, b.size) == GAN_IMAGE_WEBP);
    if (decode_buffer(&b, &back, "WebP round trip")) {
        int want_channels = channels == 1 ? 3 : channels;
        CHECKF(back.channels == want_channels, "WebP %d channels decoded as %d", channels, back.channels);
        if (channels == 1) CHECK_OK(gan_image_convert(&back, 1, &err), &err);
        if (lossless)
            CHECKF(same_image(&src, &back), "lossless WebP with %d channels differs", channels);
        else {
            double d = mean_abs_diff(&src, &back);
            CHECKF(d < 8, "lossy WebP with %d channels: mean abs diff %.2f", channels, d);
        }
    }
    gan_image_free(&src);
    gan_image_free(&back);
    free(b.data);
}

static void test_webp_round_trips(void) {
    webp_round_trip(3, true);
    webp_round_trip(4, true);
    webp_round_trip(1, true);
    webp_round_trip(3, false);
    webp_round_trip(4, false);
    webp_round_trip(1, false);

    gan_image img = make_gradient(8, 8, 3);
    gan_error err;
    uint8_t *data;
    size_t size;
    CHECK(gan_image_encode_webp(&img, 101.0f, &data, &size, &err) == -1 && strstr(err.msg, "quality"));
    CHECK(gan_image_encode_webp(&img, NAN, &data, &size, &err) == -1);
    gan_image_free(&img);
    gan_image wide = {0};
    CHECK_OK(gan_image_alloc(&wide, 20000, 1, 3, &err), &err);
    CHECK(gan_image_encode_webp(&wide, 80.0f, &data, &size, &err) == -1 && strstr(err.msg, "16383"));
    gan_image_free(&wide);
}

/* The VP8L chunk of a simple lossless file (it starts after "RIFF....WEBP"). */
static buffer webp_frame_chunk(const gan_image *frame) {
    gan_error err;
    buffer file = {0}, chunk = {0};
    if (gan_image_encode_webp(frame, -1.0f, &file.data, &file.size, &err) != 0 || memcmp(file.data + 12, "VP8L", 4))
        abort();
    buffer_append(&chunk, file.data + 12, file.size - 12);
    free(file.data);
    return chunk;
}

static void webp_put_anmf(buffer *b, const gan_image *frame, int x, int y) {
    buffer chunk = webp_frame_chunk(frame);
    buffer_append(b, "ANMF", 4);
    buffer_put_le(b, (uint32_t)(16 + chunk.size), 4);
    buffer_put_le(b, (uint32_t)x / 2, 3);
    buffer_put_le(b, (uint32_t)y / 2, 3);
    buffer_put_le(b, (uint32_t)frame->width - 1, 3);
    buffer_put_le(b, (uint32_t)frame->height - 1, 3);
    buffer_put_le(b, 100, 3); /* duration */
    uint8_t no_blend = 0x02;
    buffer_append(b, &no_blend, 1);
    buffer_append(b, chunk.data, chunk.size);
    free(chunk.data);
}

/* An animated WebP built by hand (no libwebpmux needed): a canvas with a
 * small first frame at (2, 2) and a second frame covering everything. */
static buffer make_animated_webp(int canvas_w, int canvas_h, bool alpha_flag) {
    gan_image first = make_pattern(4, 2, 4), second;
    for (int i = 0; i < 8; i++) first.pixels[i * 4 + 3] = 255;
    gan_error err;
    gan_image_alloc(&second, 8, 6, 4, &err);
    memset(second.pixels, 0xEE, 8 * 6 * 4);
    buffer body = {0};
    buffer_append(&body, "WEBPVP8X", 8);
    buffer_put_le(&body, 10, 4);
    buffer_put_le(&body, 0x02u | (alpha_flag ? 0x10u : 0), 4); /* animation (+ alpha), 3 reserved bytes */
    buffer_put_le(&body, (uint32_t)canvas_w - 1, 3);
    buffer_put_le(&body, (uint32_t)canvas_h - 1, 3);
    buffer_append(&body, "ANIM", 4);
    buffer_put_le(&body, 6, 4);
    buffer_put_le(&body, 0xFFFFFFFFu, 4); /* background colour: a hint the decoder ignores */
    buffer_put_le(&body, 0, 2);
    webp_put_anmf(&body, &first, 2, 2);
    webp_put_anmf(&body, &second, 0, 0);
    buffer file = {0};
    buffer_append(&file, "RIFF", 4);
    buffer_put_le(&file, (uint32_t)body.size, 4);
    buffer_append(&file, body.data, body.size);
    free(body.data);
    gan_image_free(&first);
    gan_image_free(&second);
    return file;
}

static void test_webp_animated(void) {
    gan_image first = make_pattern(4, 2, 3), img;
    buffer b = make_animated_webp(8, 6, true);
    if (decode_buffer(&b, &img, "animated WebP")) {
        CHECK(img.width == 8 && img.height == 6 && img.channels == 4);
        CHECK(PIXEL_IS(&img, 0, 0, 0, 0, 0, 0)); /* outside the first frame: transparent */
        const uint8_t *p = pixel_at(&first, 0, 0), *q = pixel_at(&first, 3, 1);
        CHECK(PIXEL_IS(&img, 2, 2, p[0], p[1], p[2], 255));
        CHECK(PIXEL_IS(&img, 5, 3, q[0], q[1], q[2], 255));
        CHECK(PIXEL_IS(&img, 7, 5, 0, 0, 0, 0)); /* not the second frame's 0xEE */
        gan_image_free(&img);
    }
    free(b.data);
    b = make_animated_webp(8, 6, false);
    if (decode_buffer(&b, &img, "animated WebP without alpha")) {
        CHECK(img.channels == 3);
        const uint8_t *p = pixel_at(&first, 1, 1);
        CHECK(PIXEL_IS(&img, 3, 3, p[0], p[1], p[2]));
        gan_image_free(&img);
    }
    free(b.data);
    gan_image_free(&first);
}

/* ---------------------------------------------------------------- GIF */

static int gif_to_buffer(GifFileType *gif, const GifByteType *data, int n) {
    buffer_append(gif->UserData, data, (size_t)n);
    return n;
}

typedef struct gif_frame {
    int left, top, width, height;
    bool interlace;
    const uint8_t *indices; /* width * height, in display order */
    const ColorMapObject *local_map;
} gif_frame;

typedef struct gif_spec {
    int screen_w, screen_h, background, transparent; /* transparent < 0: no extension */
    gif_frame frames[2];
    int frame_count;
} gif_spec;

static const GifColorType gif_palette[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};

static bool gif_put_frame(GifFileType *gif, const gif_frame *f) {
    if (EGifPutImageDesc(gif, f->left, f->top, f->width, f->height, f->interlace, f->local_map) == GIF_ERROR)
        return false;
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    GifPixelType line[256]; /* EGifPutLine masks the line in place */
    bool ok = f->width <= 256;
    for (int pass = 0; ok && pass < (f->interlace ? 4 : 1); pass++)
        for (int y = f->interlace ? start[pass] : 0; ok && y < f->height; y += f->interlace ? step[pass] : 1) {
            memcpy(line, f->indices + (size_t)y * f->width, (size_t)f->width);
            ok = EGifPutLine(gif, line, f->width) != GIF_ERROR;
        }
    return ok;
}

static buffer write_gif(const gif_spec *s) {
    buffer out = {0};
    int error = 0;
    ColorMapObject *map = GifMakeMapObject(4, gif_palette);
    GifFileType *gif = EGifOpen(&out, gif_to_buffer, &error);
    bool ok = gif != NULL;
    if (ok) {
        EGifSetGifVersion(gif, true);
        ok = EGifPutScreenDesc(gif, s->screen_w, s->screen_h, 8, s->background, map) != GIF_ERROR;
    }
    if (ok && s->transparent >= 0) {
        GraphicsControlBlock gcb = {.DisposalMode = DISPOSAL_UNSPECIFIED, .TransparentColor = s->transparent};
        GifByteType ext[4];
        size_t n = EGifGCBToExtension(&gcb, ext);
        ok = EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, (int)n, ext) != GIF_ERROR;
    }
    for (int i = 0; ok && i < s->frame_count; i++) ok = gif_put_frame(gif, &s->frames[i]);
    if (gif && EGifCloseFile(gif, &error) == GIF_ERROR) ok = false;
    GifFreeMapObject(map);
    if (!ok) {
        fprintf(stderr, "write_gif: giflib error %d\n", error);
        free(out.data);
        out = (buffer){0};
    }
    return out;
}

static const uint8_t gif_small_frame[6] = {0, 1, 2, 2, 1, 0};
static const uint8_t gif_cover[64] = {1}; /* index 1 at (0,0), the rest 0 */

static void test_gif_basic(void) {
    gif_spec spec = {.screen_w = 6, .screen_h = 5, .background = 3, .transparent = -1, .frame_count = 2,
                     .frames = {{1, 2, 3, 2, false, gif_small_frame, NULL}, {0, 0, 6, 5, false, gif_cover, NULL}}};
    buffer b = write_gif(&spec);
    gan_image img;
    if (decode_buffer(&b, &img, "GIF")) {
        CHECK(img.width == 6 && img.height == 5 && img.channels == 3);
        CHECK(PIXEL_IS(&img, 0, 0, 255, 255, 255)); /* background colour, not the second frame */
        CHECK(PIXEL_IS(&img, 1, 2, 255, 0, 0));
        CHECK(PIXEL_IS(&img, 2, 2, 0, 255, 0));
        CHECK(PIXEL_IS(&img, 3, 2, 0, 0, 255));
        CHECK(PIXEL_IS(&img, 1, 3, 0, 0, 255));
        CHECK(PIXEL_IS(&img, 3, 3, 255, 0, 0));
        CHECK(PIXEL_IS(&img, 5, 4, 255, 255, 255));
        gan_image_free(&img);
    }
    free(b.data);

    spec.transparent = 0;
    b = write_gif(&spec);
    if (decode_buffer(&b, &img, "transparent GIF")) {
        CHECK(img.channels == 4);
        CHECK(PIXEL_IS(&img, 0, 0, 0, 0, 0, 0));
        CHECK(pixel_at(&img, 1, 2)[3] == 0); /* index 0 is the transparent one */
        CHECK(PIXEL_IS(&img, 2, 2, 0, 255, 0, 255));
        CHECK(PIXEL_IS(&img, 3, 2, 0, 0, 255, 255));
        gan_image_free(&img);
    }
    free(b.data);

    /* A local colour map replaces the global one for its frame. */
    const GifColorType local_colors[2] = {{1, 2, 3}, {4, 5, 6}};
    ColorMapObject *local = GifMakeMapObject(2, local_colors);
    const uint8_t indices[2] = {1, 0};
    spec = (gif_spec){.screen_w = 2, .screen_h = 1, .transparent = -1, .frame_count = 1,
                      .frames = {{0, 0, 2, 1, false, indices, local}}};
    b = write_gif(&spec);
    if (decode_buffer(&b, &img, "GIF with local colour map")) {
        CHECK(PIXEL_IS(&img, 0, 0, 4, 5, 6));
        CHECK(PIXEL_IS(&img, 1, 0, 1, 2, 3));
        gan_image_free(&img);
    }
    free(b.data);
    GifFreeMapObject(local);
}

static void test_gif_layouts(void) {
    /* Interlaced: rows are stored out of order, row y has index y % 4. */
    uint8_t rows[2 * 11];
    for (int y = 0; y < 11; y++) rows[2 * y] = rows[2 * y + 1] = (uint8_t)(y % 4);
    gif_spec spec = {.screen_w = 2, .screen_h = 11, .transparent = -1, .frame_count = 1,
                     .frames = {{0, 0, 2, 11, true, rows, NULL}}};
    buffer b = write_gif(&spec);
    gan_image img;
    if (decode_buffer(&b, &img, "interlaced GIF")) {
        bool ok = img.height == 11;
        for (int y = 0; ok && y < 11; y++) {
            GifColorType c = gif_palette[y % 4];
            ok = PIXEL_IS(&img, 1, y, c.Red, c.Green, c.Blue);
        }
        CHECKF(ok, "interlaced GIF rows out of order");
        gan_image_free(&img);
    }
    free(b.data);

    /* A frame sticking out of the screen is clipped to it. */
    uint8_t big[16];
    for (int i = 0; i < 16; i++) big[i] = (uint8_t)(i % 3);
    spec = (gif_spec){.screen_w = 4, .screen_h = 4, .background = 3, .transparent = -1, .frame_count = 1,
                      .frames = {{2, 2, 4, 4, false, big, NULL}}};
    b = write_gif(&spec);
    if (decode_buffer(&b, &img, "clipped GIF")) {
        CHECK(img.width == 4 && img.height == 4);
        CHECK(PIXEL_IS(&img, 1, 1, 255, 255, 255));
        CHECK(PIXEL_IS(&img, 2, 2, 255, 0, 0));   /* big[0] = 0 */
        CHECK(PIXEL_IS(&img, 3, 3, 0, 0, 255));   /* big[5] = 2 */
        gan_image_free(&img);
    }
    free(b.data);

    /* A logical screen of 0x0 takes the frame's extent. */
    spec.screen_w = spec.screen_h = 0;
    b = write_gif(&spec);
    if (decode_buffer(&b, &img, "GIF with a 0x0 screen")) {
        CHECK(img.width == 6 && img.height == 6);
        CHECK(PIXEL_IS(&img, 5, 5, 255, 0, 0)); /* big[15] = 0 */
        gan_image_free(&img);
    }
    free(b.data);
}

/* ---------------------------------------------------------------- real files */

static bool load_image(const char *path, gan_image *img) {
    gan_error err;
    if (gan_image_load(path, img, &err) != 0) {
        fprintf(stderr, "loading %s: %s\n", path, err.msg);
        test_failures++;
        return false;
    }
    return true;
}

typedef struct reference {
    const char *path;
    int width, height, channels;
    double mean;          /* of all bytes */
    int x, y, pixel[4];   /* one sample */
    int tolerance;        /* 0 for PNG: an independent decoder agrees exactly */
} reference;

static const reference references[] = {
    {DATA "lbpcascade_animeface/imas.png", 950, 380, 3, 164001947.0 / (950 * 380 * 3), 475, 126, {71, 46, 15}, 0},
    {ILLUSTRATIONS "waifu2x/miku_small.png", 228, 159, 4, 31083132.0 / (228 * 159 * 4), 114, 53,
     {130, 201, 199, 255}, 0},
    /* palette PNG */
    {ILLUSTRATIONS "ao7108/Gojo_Satoru/Gojo_Satoru_77.png", 992, 1407, 3, 662056361.0 / (992 * 1407 * 3), 496, 469,
     {198, 195, 212}, 0},
    /* RGBA with transparent areas */
    {ILLUSTRATIONS "ao7108/Gojo_Satoru/Gojo_Satoru_67.png", 350, 851, 4, 47588392.0 / (350 * 851 * 4), 175, 425,
     {26, 23, 31, 255}, 0},
    /* PNG data in a file named .jpg */
    {ILLUSTRATIONS "jonathonyan/detect_08.jpg", 1680, 1050, 3, 1114436504.0 / (1680 * 1050 * 3), 0, 0,
     {112, 181, 241}, 0},
    /* progressive JPEG */
    {ILLUSTRATIONS "jonathonyan/sample1.jpg", 480, 539, 3, 196.1313, 240, 179, {173, 139, 76}, 2},
    /* baseline JPEGs */
    {ILLUSTRATIONS "ao7108/Emilia/Emilia_100.jpg", 812, 454, 3, 187.6496, 406, 151, {230, 225, 206}, 2},
    {ILLUSTRATIONS "waifu2x/miku_CC_BY-NC.jpg", 600, 600, 3, 216.6262, 200, 300, {171, 142, 136}, 2},
    /* WebP data in files named .jpg */
    {ILLUSTRATIONS "ao7108/Emilia/Emilia_44.jpg", 1332, 850, 3, 209.5424, 666, 283, {129, 97, 155}, 2},
    {ILLUSTRATIONS "ao7108/Gojo_Satoru/Gojo_Satoru_93.jpg", 1280, 720, 3, 91.4817, 640, 240, {247, 231, 244}, 2},
};

static void test_real_files(void) {
    for (size_t i = 0; i < sizeof references / sizeof references[0]; i++) {
        const reference *r = &references[i];
        gan_image img;
        if (!load_image(r->path, &img)) continue;
        CHECKF(img.width == r->width && img.height == r->height && img.channels == r->channels,
               "%s: %dx%dx%d", r->path, img.width, img.height, img.channels);
        double mean = byte_mean(&img);
        CHECKF(fabs(mean - r->mean) <= (r->tolerance ? 0.25 : 1e-9), "%s: mean %.4f, expected %.4f", r->path, mean,
               r->mean);
        CHECKF(pixel_near(&img, r->x, r->y, r->pixel, r->channels, r->tolerance), "%s: pixel (%d, %d) differs",
               r->path, r->x, r->y);
        gan_image_free(&img);
    }
    /* Transparency in a real RGBA file: 170287 pixels with alpha 0 (Pillow). */
    gan_image img;
    if (load_image(ILLUSTRATIONS "ao7108/Gojo_Satoru/Gojo_Satoru_67.png", &img)) {
        int transparent = 0;
        for (size_t i = 0; i < (size_t)img.width * img.height; i++) transparent += img.pixels[i * 4 + 3] == 0;
        CHECKF(transparent == 170287, "transparent pixels: %d", transparent);
        CHECK(PIXEL_IS(&img, 0, 0, 0, 0, 0, 0));
        gan_image_free(&img);
    }
}

/* ---------------------------------------------------------------- damaged data */

static void expect_truncations_fail(const buffer *b, const char *what, const char *format_name, size_t keep_ok) {
    const size_t cuts[] = {0, 1, 3, 8, 12, 20, 30, 100, b->size / 4, b->size / 2, b->size * 3 / 4, b->size - keep_ok};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t n = cuts[i];
        if (n >= b->size) continue;
        /* A copy of exactly n bytes, so that ASan sees any read past the end. */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b->data, n);
        char label[128];
        snprintf(label, sizeof label, "%s cut to %zu of %zu bytes", what, n, b->size);
        expect_decode_error(copy, n, label);
        gan_image img;
        gan_error err;
        if (n >= 12 && gan_image_decode(copy, n, &img, &err) != 0)
            CHECKF(strncmp(err.msg, format_name, strlen(format_name)) == 0, "%s: message \"%s\" does not name %s",
                   label, err.msg, format_name);
        free(copy);
    }
}

static void test_truncated_real_files(void) {
    buffer b;
    if (load_file(DATA "lbpcascade_animeface/imas.png", &b)) {
        expect_truncations_fail(&b, "PNG", "PNG:", 1);
        gan_image img;
        gan_error err;
        CHECK(gan_image_decode(b.data, b.size / 2, &img, &err) == -1 && strstr(err.msg, "truncated"));
        free(b.data);
    }
    if (load_file(ILLUSTRATIONS "ao7108/Emilia/Emilia_100.jpg", &b)) {
        expect_truncations_fail(&b, "baseline JPEG", "JPEG:", 2);
        gan_image img;
        gan_error err;
        CHECK(gan_image_decode(b.data, b.size / 2, &img, &err) == -1 && strstr(err.msg, "Premature end"));
        free(b.data);
    }
    if (load_file(ILLUSTRATIONS "jonathonyan/sample1.jpg", &b)) {
        expect_truncations_fail(&b, "progressive JPEG", "JPEG:", 2);
        free(b.data);
    }
    if (load_file(ILLUSTRATIONS "ao7108/Emilia/Emilia_44.jpg", &b)) {
        expect_truncations_fail(&b, "lossy WebP", "WebP:", 1);
        free(b.data);
    }
}

static void test_truncated_generated(void) {
    buffer b;
    gan_image src = make_pattern(40, 30, 4);
    gan_error err;
    CHECK_OK(gan_image_encode_webp(&src, -1, &b.data, &b.size, &err), &err);
    expect_truncations_fail(&b, "lossless WebP", "WebP:", 1);
    free(b.data);
    gan_image_free(&src);
    b = make_animated_webp(8, 6, true);
    expect_truncations_fail(&b, "animated WebP", "WebP:", 1);
    free(b.data);

    /* GIF: decoding stops after the first frame, so only its data matters;
     * the last 2 bytes are the frame's end-of-data block and the trailer. */
    uint8_t pixels[20 * 20];
    for (int i = 0; i < 400; i++) pixels[i] = (uint8_t)(next_random() % 4);
    b = write_gif(&(gif_spec){.screen_w = 20, .screen_h = 20, .transparent = -1, .frame_count = 1,
                              .frames = {{0, 0, 20, 20, false, pixels, NULL}}});
    expect_truncations_fail(&b, "GIF", "GIF:", 2);
    gan_image img;
    if (b.data && gan_image_decode(b.data, b.size - 1, &img, &err) == 0) /* only the trailer missing: lenient */
        gan_image_free(&img);
    else
        CHECKF(0, "GIF without its trailer byte: %s", err.msg);
    free(b.data);
}

static void test_garbage(void) {
    static const char *const magics[] = {"", "\x89PNG\r\n\x1a\n", "\xff\xd8\xff", "RIFF\xff\xff\0\0WEBP", "GIF89a",
                                         "RIFF\x20\0\0\0WEBPVP8X", "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"};
    uint8_t data[2048];
    for (size_t m = 0; m < sizeof magics / sizeof magics[0]; m++) {
        size_t magic_len = m == 3 ? 12 : strlen(magics[m]);
        if (m == 5) magic_len = 16;
        if (m == 6) magic_len = 16;
        for (int trial = 0; trial < 60; trial++) {
            size_t n = magic_len + 1 + next_random() % (sizeof data - magic_len - 1);
            memcpy(data, magics[m], magic_len);
            for (size_t i = magic_len; i < n; i++) data[i] = (uint8_t)next_random();
            char label[64];
            snprintf(label, sizeof label, "garbage #%zu/%d", m, trial);
            expect_decode_error(data, n, label);
        }
    }
    gan_image img;
    gan_error err;
    CHECK(gan_image_decode((const uint8_t *)"hello world", 11, &img, &err) == -1 && strstr(err.msg, "unknown format"));
    CHECK(gan_image_decode((const uint8_t *)"", 0, &img, &err) == -1 && err.msg[0]);
}

/* Damaged bytes inside a real file may or may not be detected (an ancillary
 * chunk, a DCT coefficient), but must never crash or leak. */
static void test_bit_flips(void) {
    const char *paths[] = {DATA "lbpcascade_animeface/imas.png", ILLUSTRATIONS "waifu2x/miku_small.png",
                           ILLUSTRATIONS "jonathonyan/sample1.jpg", ILLUSTRATIONS "ao7108/Emilia/Emilia_100.jpg",
                           ILLUSTRATIONS "ao7108/Gojo_Satoru/Gojo_Satoru_93.jpg"};
    for (size_t f = 0; f < sizeof paths / sizeof paths[0]; f++) {
        buffer b;
        if (!load_file(paths[f], &b)) continue;
        int failures = 0;
        for (int trial = 0; trial < 24; trial++) {
            uint8_t *copy = malloc(b.size);
            memcpy(copy, b.data, b.size);
            for (int k = 0; k < 4; k++) {
                size_t at = 16 + next_random() % (b.size - 16);
                copy[at] ^= (uint8_t)(1u << (next_random() % 8));
            }
            gan_image img = {0};
            gan_error err = {{0}};
            if (gan_image_decode(copy, b.size, &img, &err) == 0) {
                CHECK(img.pixels != NULL && img.width > 0);
                gan_image_free(&img);
            } else {
                CHECK(img.pixels == NULL && err.msg[0]);
                failures++;
            }
            free(copy);
        }
        /* PNG has CRCs, so most damage must be caught. */
        if (strstr(paths[f], ".png")) CHECKF(failures >= 20, "%s: only %d of 24 damaged copies refused", paths[f],
                failures);
        free(b.data);
    }
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void png_put_chunk(buffer *b, const char *type, const uint8_t *data, uint32_t n) {
    buffer_put_be32(b, n);
    size_t start = b->size;
    buffer_append(b, type, 4);
    if (n) buffer_append(b, data, n);
    buffer_put_be32(b, crc32_of(b->data + start, n + 4));
}

static buffer png_with_header(uint32_t width, uint32_t height) {
    buffer b = {0};
    buffer_append(&b, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13] = {0};
    for (int i = 0; i < 4; i++) {
        ihdr[i] = (uint8_t)(width >> (24 - 8 * i));
        ihdr[4 + i] = (uint8_t)(height >> (24 - 8 * i));
    }
    ihdr[8] = 8; /* depth */
    ihdr[9] = 2; /* RGB */
    png_put_chunk(&b, "IHDR", ihdr, 13);
    png_put_chunk(&b, "IDAT", (const uint8_t *)"\x78\x9c\x03\x00\x00\x00\x00\x01", 8);
    png_put_chunk(&b, "IEND", NULL, 0);
    return b;
}

static void expect_refused(const buffer *b, const char *what, const char *needle) {
    gan_image img;
    gan_error err = {{0}};
    int rc = b->data ? gan_image_decode(b->data, b->size, &img, &err) : -1;
    CHECKF(rc == -1 && strstr(err.msg, needle), "%s: rc %d, message \"%s\"", what, rc, err.msg);
    if (rc == 0) gan_image_free(&img);
}

/* Patches the frame size in a JPEG's SOF0 marker. */
static void jpeg_patch_size(buffer *b, int width, int height) {
    for (size_t i = 2; i + 9 < b->size; i++)
        if (b->data[i] == 0xFF && b->data[i + 1] == 0xC0) {
            b->data[i + 5] = (uint8_t)(height >> 8);
            b->data[i + 6] = (uint8_t)height;
            b->data[i + 7] = (uint8_t)(width >> 8);
            b->data[i + 8] = (uint8_t)width;
            return;
        }
}

static void test_hostile_sizes(void) {
    buffer b = png_with_header(100000, 100000);
    expect_refused(&b, "PNG 100000x100000", "too large");
    free(b.data);
    b = png_with_header(0, 10);
    expect_refused(&b, "PNG 0x10", "PNG:");
    free(b.data);

    gan_image small = make_gradient(16, 16, 3);
    b = write_jpeg(&(jpeg_spec){.width = 16, .height = 16, .components = 3, .in_space = JCS_RGB,
                                .pixels = small.pixels});
    jpeg_patch_size(&b, 60000, 60000);
    expect_refused(&b, "JPEG 60000x60000", "too large");
    jpeg_patch_size(&b, 16, 0);
    expect_refused(&b, "JPEG 16x0", "JPEG:");
    free(b.data);
    gan_image_free(&small);

    b = make_animated_webp(20000, 20000, true);
    expect_refused(&b, "WebP canvas 20000x20000", "too large");
    free(b.data);

    b = write_gif(&(gif_spec){.screen_w = 65535, .screen_h = 65535, .transparent = -1, .frame_count = 1,
                              .frames = {{0, 0, 2, 1, false, gif_small_frame, NULL}}});
    expect_refused(&b, "GIF screen 65535x65535", "too large");
    free(b.data);
    b = write_gif(&(gif_spec){.screen_w = 4, .screen_h = 4, .transparent = -1, .frame_count = 1,
                              .frames = {{0, 0, 0, 0, false, gif_small_frame, NULL}}});
    if (b.data) expect_refused(&b, "GIF frame 0x0", "GIF:");
    free(b.data);
}

/* ---------------------------------------------------------------- conversion */

static void test_convert(void) {
    gan_error err;
    gan_image img;
    gan_image_alloc(&img, 5, 1, 3, &err);
    const uint8_t rgb[15] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 255, 255, 255};
    memcpy(img.pixels, rgb, 15);
    CHECK_OK(gan_image_convert(&img, 3, &err), &err); /* same count: unchanged */
    CHECK(img.channels == 3 && memcmp(img.pixels, rgb, 15) == 0);

    CHECK_OK(gan_image_convert(&img, 4, &err), &err);
    CHECK(img.channels == 4 && PIXEL_IS(&img, 3, 0, 10, 20, 30, 255));
    img.pixels[3 * 4 + 3] = 7; /* alpha is dropped as is, colour kept */
    CHECK_OK(gan_image_convert(&img, 3, &err), &err);
    CHECK(img.channels == 3 && memcmp(img.pixels, rgb, 15) == 0);

    /* 0.299 R + 0.587 G + 0.114 B, rounded: 76.2, 149.7, 29.1, 18.15, 255. */
    CHECK_OK(gan_image_convert(&img, 1, &err), &err);
    const uint8_t luma[5] = {76, 150, 29, 18, 255};
    CHECK(img.channels == 1 && memcmp(img.pixels, luma, 5) == 0);

    CHECK_OK(gan_image_convert(&img, 3, &err), &err);
    CHECK(img.channels == 3 && PIXEL_IS(&img, 1, 0, 150, 150, 150));
    CHECK_OK(gan_image_convert(&img, 1, &err), &err); /* grey -> RGB -> grey is lossless */
    CHECK(memcmp(img.pixels, luma, 5) == 0);
    CHECK_OK(gan_image_convert(&img, 4, &err), &err);
    CHECK(img.channels == 4 && PIXEL_IS(&img, 2, 0, 29, 29, 29, 255));
    img.pixels[4 * 4 + 3] = 0;
    CHECK_OK(gan_image_convert(&img, 1, &err), &err);
    CHECK(img.channels == 1 && memcmp(img.pixels, luma, 5) == 0);

    CHECK(gan_image_convert(&img, 2, &err) == -1 && strstr(err.msg, "channel"));
    CHECK(gan_image_convert(&img, 5, &err) == -1);
    CHECK(img.channels == 1 && memcmp(img.pixels, luma, 5) == 0); /* untouched by the failures */
    gan_image_free(&img);
    gan_image empty = {0};
    CHECK(gan_image_convert(&empty, 3, &err) == -1);
}

/* ---------------------------------------------------------------- saving and loading */

static void test_save_load(void) {
    gan_error err;
    char path[256];
    gan_image src = make_pattern(30, 20, 4), back;

    tmp_path(path, sizeof path, "saved.png");
    CHECK_OK(gan_image_save(path, &src, GAN_IMAGE_PNG, 0, &err), &err);
    if (load_image(path, &back)) {
        CHECK(same_image(&src, &back));
        gan_image_free(&back);
    }
    /* Named .jpg, holds WebP: loading goes by content. */
    tmp_path(path, sizeof path, "really_webp.jpg");
    CHECK_OK(gan_image_save(path, &src, GAN_IMAGE_WEBP, -1, &err), &err);
    if (load_image(path, &back)) {
        CHECK(same_image(&src, &back));
        gan_image_free(&back);
    }
    tmp_path(path, sizeof path, "lossy.webp");
    CHECK_OK(gan_image_save(path, &src, GAN_IMAGE_WEBP, 75, &err), &err);
    CHECK(file_exists(path));

    tmp_path(path, sizeof path, "no.jpg");
    CHECK(gan_image_save(path, &src, GAN_IMAGE_JPEG, 90, &err) == -1 && strstr(err.msg, path));
    CHECK(!file_exists(path));
    tmp_path(path, sizeof path, "missing/folder/x.png");
    CHECK(gan_image_save(path, &src, GAN_IMAGE_PNG, 0, &err) == -1 && strstr(err.msg, "No such file"));

    tmp_path(path, sizeof path, "does_not_exist.png");
    CHECK(gan_image_load(path, &back, &err) == -1 && strstr(err.msg, path) && strstr(err.msg, "No such file"));
    CHECK(back.pixels == NULL);
    tmp_path(path, sizeof path, "text.png");
    CHECK_OK(gan_write_file_atomic(path, "not an image\n", 13, &err), &err);
    CHECK(gan_image_load(path, &back, &err) == -1 && strncmp(err.msg, path, strlen(path)) == 0 &&
          strstr(err.msg, "unknown format"));
    CHECK(count_entries_containing(tmp_dir, ".tmp-") == 0);
    gan_image_free(&src);
}

/* ---------------------------------------------------------------- files */

static bool file_is(const char *path, const void *content, size_t size) {
    uint8_t *data;
    size_t n;
    gan_error err;
    if (gan_read_file(path, 1 << 20, &data, &n, &err) != 0) return false;
    bool same = n == size && memcmp(data, content, size) == 0 && data[n] == 0;
    free(data);
    return same;
}

static void test_read_file(void) {
    gan_error err;
    char path[256];
    uint8_t *data = (uint8_t *)"x";
    size_t size = 99;
    uint8_t content[100];
    for (int i = 0; i < 100; i++) content[i] = (uint8_t)(i * 7 + 1);
    tmp_path(path, sizeof path, "hundred.bin");
    CHECK_OK(gan_write_file_atomic(path, content, 100, &err), &err);

    CHECK(gan_read_file(path, 99, &data, &size, &err) == -1);
    CHECKF(strstr(err.msg, path) && strstr(err.msg, "limit"), "%s", err.msg);
    CHECK(data == NULL && size == 0);
    CHECK_OK(gan_read_file(path, 100, &data, &size, &err), &err);
    CHECK(size == 100 && data && memcmp(data, content, 100) == 0 && data[100] == 0);
    free(data);

    tmp_path(path, sizeof path, "empty.bin");
    CHECK_OK(gan_write_file_atomic(path, "", 0, &err), &err);
    CHECK_OK(gan_read_file(path, 10, &data, &size, &err), &err);
    CHECK(size == 0 && data && data[0] == 0);
    free(data);

    tmp_path(path, sizeof path, "nope.bin");
    CHECK(gan_read_file(path, 10, &data, &size, &err) == -1 && strstr(err.msg, path) &&
          strstr(err.msg, strerror(ENOENT)));
    CHECK(gan_read_file(tmp_dir, 1000, &data, &size, &err) == -1 && strstr(err.msg, strerror(EISDIR)));
    /* /proc files report size 0: the limit must still hold while reading. */
    CHECK(gan_read_file("/proc/self/maps", 16, &data, &size, &err) == -1 && strstr(err.msg, "limit"));
}

static void test_atomic_write(void) {
    gan_error err;
    char path[256], folder[256];
    tmp_path(path, sizeof path, "atomic.txt");
    CHECK_OK(gan_write_file_atomic(path, "first version", 13, &err), &err);
    CHECK(file_is(path, "first version", 13));
    CHECK_OK(gan_write_file_atomic(path, "v2", 2, &err), &err);
    CHECK(file_is(path, "v2", 2));

    /* Incremental: the target keeps its old content until commit. */
    gan_atomic_file *f = gan_atomic_open(path, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK(count_entries_containing(tmp_dir, "atomic.txt.tmp-") == 1);
        CHECK_OK(gan_atomic_write(f, "abc", 3, &err), &err);
        CHECK_OK(gan_atomic_write(f, "", 0, &err), &err);
        CHECK_OK(gan_atomic_write(f, "defg", 4, &err), &err);
        CHECK(file_is(path, "v2", 2));
        CHECK_OK(gan_atomic_commit(f, &err), &err);
        CHECK(file_is(path, "abcdefg", 7));
    }
    f = gan_atomic_open(path, &err);
    if (f) {
        CHECK_OK(gan_atomic_write(f, "discarded", 9, &err), &err);
        gan_atomic_abort(f);
    }
    gan_atomic_abort(NULL);
    CHECK(file_is(path, "abcdefg", 7));

    tmp_path(path, sizeof path, "missing/atomic.txt");
    CHECK(gan_write_file_atomic(path, "x", 1, &err) == -1 && strstr(err.msg, path));
    tmp_path(folder, sizeof folder, "missing");
    CHECK(!file_exists(folder));

    /* Renaming a file over a folder fails after the data was written. */
    tmp_path(folder, sizeof folder, "a_folder");
    CHECK(mkdir(folder, 0777) == 0);
    CHECK(gan_write_file_atomic(folder, "x", 1, &err) == -1 && strstr(err.msg, folder));
    CHECK(count_entries_containing(tmp_dir, ".tmp-") == 0);
}

/* A file size limit makes write() fail part way (EFBIG): the partial file
 * must not replace the target. */
static void test_atomic_write_failure(void) {
    gan_error err;
    char path[256];
    tmp_path(path, sizeof path, "limited.bin");
    CHECK_OK(gan_write_file_atomic(path, "old", 3, &err), &err);
    struct rlimit old_limit, limit;
    getrlimit(RLIMIT_FSIZE, &old_limit);
    limit = old_limit;
    limit.rlim_cur = 1000;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) {
        fprintf(stderr, "note: cannot set RLIMIT_FSIZE, skipping the failed-write test\n");
        signal(SIGXFSZ, old_handler);
        return;
    }
    static uint8_t big[5000];
    int rc = gan_write_file_atomic(path, big, sizeof big, &err);
    gan_atomic_file *f = gan_atomic_open(path, &err);
    int write_rc = f ? gan_atomic_write(f, big, sizeof big, &err) : 0;
    int again_rc = f ? gan_atomic_write(f, "x", 1, &err) : 0;
    int commit_rc = f ? gan_atomic_commit(f, &err) : 0;
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_handler);
    CHECK(rc == -1 && write_rc == -1 && again_rc == -1 && commit_rc == -1);
    CHECK(strstr(err.msg, "earlier write failed"));
    CHECK(file_is(path, "old", 3));
    CHECK(count_entries_containing(tmp_dir, ".tmp-") == 0);
}

enum { WRITERS = 8, WRITES_EACH = 20, WRITE_SIZE = 4096 };

static int writer_thread(void *arg) {
    int id = (int)(intptr_t)arg;
    uint8_t data[WRITE_SIZE];
    memset(data, 'A' + id, sizeof data);
    char path[256];
    tmp_path(path, sizeof path, "contended.bin");
    int failures = 0;
    gan_error err;
    for (int i = 0; i < WRITES_EACH; i++) failures += gan_write_file_atomic(path, data, sizeof data, &err) != 0;
    return failures;
}

/* Threads of one process share the pid, so only the counter keeps their
 * temporary names apart; a collision would fail O_EXCL or mix contents. */
static void test_atomic_threads(void) {
    thrd_t threads[WRITERS];
    for (int i = 0; i < WRITERS; i++) thrd_create(&threads[i], writer_thread, (void *)(intptr_t)i);
    int failures = 0;
    for (int i = 0; i < WRITERS; i++) {
        int r = 0;
        thrd_join(threads[i], &r);
        failures += r;
    }
    CHECKF(failures == 0, "%d concurrent writes failed", failures);
    char path[256];
    tmp_path(path, sizeof path, "contended.bin");
    uint8_t *data;
    size_t size;
    gan_error err;
    if (gan_read_file(path, 1 << 20, &data, &size, &err) == 0) {
        bool uniform = size == WRITE_SIZE && data[0] >= 'A' && data[0] < 'A' + WRITERS;
        for (size_t i = 1; uniform && i < size; i++) uniform = data[i] == data[0];
        CHECKF(uniform, "concurrent writes left a mixed file");
        free(data);
    }
    CHECK(count_entries_containing(tmp_dir, ".tmp-") == 0);
}

static void test_mkdirs(void) {
    gan_error err;
    char path[256];
    struct stat st;
    tmp_path(path, sizeof path, "a/b//c");
    CHECK_OK(gan_mkdirs(path, &err), &err);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_OK(gan_mkdirs(path, &err), &err); /* exists: fine */
    tmp_path(path, sizeof path, "a/d/");
    CHECK_OK(gan_mkdirs(path, &err), &err);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    tmp_path(path, sizeof path, "a/file");
    CHECK_OK(gan_write_file_atomic(path, "x", 1, &err), &err);
    CHECK(gan_mkdirs(path, &err) == -1 && strstr(err.msg, "not a folder"));
    tmp_path(path, sizeof path, "a/file/below");
    CHECK(gan_mkdirs(path, &err) == -1 && strstr(err.msg, path));
    CHECK(gan_mkdirs("", &err) == -1);
}

/* ---------------------------------------------------------------- main */

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/dne-test-image-XXXXXX");
    if (!mkdtemp(tmp_dir)) TEST_SKIP("cannot create a temporary folder: %s", strerror(errno));

    test_sniff_and_names();
    test_alloc();
    test_png_round_trips();
    test_png_16bit();
    test_png_palette();
    test_png_grey();
    test_png_interlaced();
    test_jpeg_rgb_and_grey();
    test_jpeg_cmyk();
    test_jpeg_too_many_scans();
    test_webp_round_trips();
    test_webp_animated();
    test_gif_basic();
    test_gif_layouts();
    test_truncated_generated();
    test_garbage();
    test_hostile_sizes();
    test_convert();
    test_save_load();
    test_read_file();
    test_atomic_write();
    test_atomic_write_failure();
    test_atomic_threads();
    test_mkdirs();
    if (file_exists(DATA "README.md")) {
        test_real_files();
        test_truncated_real_files();
        test_bit_flips();
    } else {
        fprintf(stderr, "note: %s not found (run from the project root); real-file tests skipped\n", DATA);
    }
    remove_tree(tmp_dir);
    TEST_DONE();
}
