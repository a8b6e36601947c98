#include "image.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gif_lib.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>

#include "file.h"

/* Image files larger than this are refused by gan_image_load before reading. */
#define MAX_IMAGE_FILE_BYTES ((size_t)512 << 20)

/* A legitimate progressive JPEG has about 10 scans; hostile ones with
 * thousands of tiny scans make decoding take minutes. */
#define MAX_JPEG_SCANS 500

/* ---------------------------------------------------------------- basics */

static bool valid_channels(int channels) {
    return channels == 1 || channels == 3 || channels == 4;
}

/* Called by every decoder with the header's size before anything is allocated. */
static int check_size(const char *format, long long width, long long height, gan_error *err) {
    if (width <= 0 || height <= 0) return gan_fail(err, "%s: image has zero size (%lldx%lld)", format, width, height);
    if (width > GAN_IMAGE_MAX_PIXELS / height)
        return gan_fail(err, "%s: image is too large (%lldx%lld pixels, the limit is %lld pixels)", format, width,
                        height, GAN_IMAGE_MAX_PIXELS);
    return 0;
}

int gan_image_alloc(gan_image *img, int width, int height, int channels, gan_error *err) {
    *img = (gan_image){0};
    if (!valid_channels(channels)) return gan_fail(err, "image: unsupported channel count %d", channels);
    if (check_size("image", width, height, err) != 0) return -1;
    uint8_t *pixels = calloc((size_t)width * (size_t)height, (size_t)channels);
    if (!pixels) return gan_fail(err, "image: out of memory for %dx%dx%d pixels", width, height, channels);
    *img = (gan_image){.width = width, .height = height, .channels = channels, .pixels = pixels};
    return 0;
}

void gan_image_free(gan_image *img) {
    if (!img) return;
    free(img->pixels);
    *img = (gan_image){0};
}

static size_t image_bytes(const gan_image *img) {
    return (size_t)img->width * (size_t)img->height * (size_t)img->channels;
}

static int check_image(const char *what, const gan_image *img, gan_error *err) {
    if (!img || !img->pixels) return gan_fail(err, "%s: no image", what);
    if (!valid_channels(img->channels)) return gan_fail(err, "%s: unsupported channel count %d", what, img->channels);
    return check_size(what, img->width, img->height, err);
}

gan_image_format gan_image_sniff(const uint8_t *data, size_t size) {
    if (!data) return GAN_IMAGE_UNKNOWN;
    if (size >= 4 && memcmp(data, "\x89PNG", 4) == 0) return GAN_IMAGE_PNG;
    if (size >= 3 && memcmp(data, "\xff\xd8\xff", 3) == 0) return GAN_IMAGE_JPEG;
    if (size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0) return GAN_IMAGE_WEBP;
    if (size >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0)) return GAN_IMAGE_GIF;
    return GAN_IMAGE_UNKNOWN;
}

const char *gan_image_format_name(gan_image_format fmt) {
    switch (fmt) {
    case GAN_IMAGE_PNG: return "PNG";
    case GAN_IMAGE_JPEG: return "JPEG";
    case GAN_IMAGE_WEBP: return "WebP";
    case GAN_IMAGE_GIF: return "GIF";
    default: return "unknown";
    }
}

gan_image_format gan_image_format_from_name(const char *name) {
    if (!name) return GAN_IMAGE_UNKNOWN;
    if (name[0] == '.') name++; /* so that a file extension can be passed as is */
    if (strcasecmp(name, "png") == 0) return GAN_IMAGE_PNG;
    if (strcasecmp(name, "webp") == 0) return GAN_IMAGE_WEBP;
    if (strcasecmp(name, "jpg") == 0 || strcasecmp(name, "jpeg") == 0) return GAN_IMAGE_JPEG;
    if (strcasecmp(name, "gif") == 0) return GAN_IMAGE_GIF;
    return GAN_IMAGE_UNKNOWN;
}

/* ---------------------------------------------------------------- PNG */

/* libpng reports errors through a callback that must not return; it jumps
 * back to the setjmp in the caller after saving the message here. */
typedef struct png_io {
    char msg[256];
    const uint8_t *src; /* reading */
    size_t src_size, src_pos;
    uint8_t *dst; /* writing */
    size_t dst_size, dst_cap;
} png_io;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_io *io = png_get_error_ptr(png);
    snprintf(io->msg, sizeof io->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings are about things libpng recovered from (bad CRC in an ancillary
 * chunk, unknown sRGB profile); the library must not print them. */
static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_read_from_memory(png_structp png, png_bytep out, size_t n) {
    png_io *io = png_get_io_ptr(png);
    if (n > io->src_size - io->src_pos) png_error(png, "truncated data");
    memcpy(out, io->src + io->src_pos, n);
    io->src_pos += n;
}

typedef struct png_decoder {
    png_io io;
    png_structp png;
    png_infop info;
    gan_image img;
    png_bytep *rows;
} png_decoder;

/* Asks libpng for 8-bit grey, RGB or RGBA whatever the stored layout. */
static void png_request_8bit_layout(png_structp png, png_infop info) {
    int depth = png_get_bit_depth(png, info);
    int color = png_get_color_type(png, info);
    bool has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (has_trns) png_set_tRNS_to_alpha(png);
    /* 2-channel grey+alpha is not one of our layouts. */
    if (color == PNG_COLOR_TYPE_GRAY_ALPHA || (color == PNG_COLOR_TYPE_GRAY && has_trns)) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

/* May longjmp out through png_on_error; everything it allocates is in d. */
static int png_decode_into(png_decoder *d, gan_error *err) {
    png_set_read_fn(d->png, &d->io, png_read_from_memory);
    png_read_info(d->png, d->info);
    png_uint_32 width = png_get_image_width(d->png, d->info);
    png_uint_32 height = png_get_image_height(d->png, d->info);
    if (check_size("PNG", width, height, err) != 0) return -1;
    png_request_8bit_layout(d->png, d->info);
    int channels = png_get_channels(d->png, d->info);
    if (!valid_channels(channels)) return gan_fail(err, "PNG: unsupported layout with %d channels", channels);
    if (png_get_rowbytes(d->png, d->info) != (size_t)width * (size_t)channels)
        return gan_fail(err, "PNG: unexpected row size");
    if (gan_image_alloc(&d->img, (int)width, (int)height, channels, err) != 0) return -1;
    d->rows = malloc(height * sizeof *d->rows);
    if (!d->rows) return gan_fail(err, "PNG: out of memory");
    for (png_uint_32 y = 0; y < height; y++) d->rows[y] = d->img.pixels + (size_t)y * width * (size_t)channels;
    png_read_image(d->png, d->rows);
    /* Reading to IEND checks the remaining CRCs: a cut file is an error. */
    png_read_end(d->png, NULL);
    return 0;
}

static int png_decode(const uint8_t *data, size_t size, gan_image *out, gan_error *err) {
    png_decoder *d = calloc(1, sizeof *d);
    if (!d) return gan_fail(err, "PNG: out of memory");
    d->io.src = data;
    d->io.src_size = size;
    int rc;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d->io, png_on_error, png_on_warning);
    d->info = d->png ? png_create_info_struct(d->png) : NULL;
    if (!d->info)
        rc = gan_fail(err, "PNG: out of memory");
    else if (setjmp(png_jmpbuf(d->png)))
        rc = gan_fail(err, "PNG: %s", d->io.msg);
    else
        rc = png_decode_into(d, err);
    png_destroy_read_struct(&d->png, &d->info, NULL);
    free(d->rows);
    if (rc == 0)
        *out = d->img;
    else
        gan_image_free(&d->img);
    free(d);
    return rc;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr errmgr;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    gan_image img;
    uint8_t *cmyk_row;
} jpeg_decoder;

/* cinfo is the first member, so libjpeg's pointer leads back to the decoder. */
static jpeg_decoder *jpeg_decoder_of(j_common_ptr cinfo) {
    return (jpeg_decoder *)(void *)cinfo;
}

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_decoder *d = jpeg_decoder_of(cinfo);
    cinfo->err->format_message(cinfo, d->msg);
    longjmp(d->jump, 1);
}

/* Warnings that say nothing about the pixels we return. */
static bool jpeg_warning_is_harmless(int code) {
    return code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM || code == JWRN_BOGUS_ICC ||
           /* junk between segments (often padding before EOI): skipped whole */
           code == JWRN_EXTRANEOUS_DATA;
}

/* libjpeg "warns" about corrupt or missing entropy data and fills the gap
 * with grey; for training data a damaged image is an error. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level < 0 && !jpeg_warning_is_harmless(cinfo->err->msg_code)) jpeg_on_error(cinfo);
}

static void jpeg_print_nothing(j_common_ptr cinfo) {
    (void)cinfo;
}

static void jpeg_limit_scans(j_common_ptr cinfo) {
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    if (dinfo->input_scan_number <= MAX_JPEG_SCANS) return;
    jpeg_decoder *d = jpeg_decoder_of(cinfo);
    snprintf(d->msg, sizeof d->msg, "too many progressive scans (more than %d)", MAX_JPEG_SCANS);
    longjmp(d->jump, 1);
}

/* Adobe writes CMYK inverted (255 = no ink); other writers store ink amounts. */
static void jpeg_cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int width, bool inverted) {
    for (int x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        int k = inverted ? cmyk[3] : 255 - cmyk[3];
        for (int c = 0; c < 3; c++) {
            int v = inverted ? cmyk[c] : 255 - cmyk[c];
            rgb[c] = (uint8_t)((v * k + 127) / 255);
        }
    }
}

static void jpeg_choose_output(j_decompress_ptr cinfo) {
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; break; /* libjpeg turns YCCK into CMYK */
    default: cinfo->out_color_space = JCS_RGB; break;
    }
}

static void jpeg_read_rows(jpeg_decoder *d) {
    j_decompress_ptr cinfo = &d->cinfo;
    size_t stride = (size_t)d->img.width * (size_t)d->img.channels;
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *row = d->img.pixels + cinfo->output_scanline * stride;
        JSAMPROW target = d->cmyk_row ? d->cmyk_row : row;
        if (jpeg_read_scanlines(cinfo, &target, 1) != 1) break;
        if (d->cmyk_row) jpeg_cmyk_to_rgb(d->cmyk_row, row, d->img.width, cinfo->saw_Adobe_marker);
    }
}

/* May longjmp out through jpeg_on_error; everything it allocates is in d. */
static int jpeg_decode_into(jpeg_decoder *d, const uint8_t *data, size_t size, gan_error *err) {
    j_decompress_ptr cinfo = &d->cinfo;
    jpeg_create_decompress(cinfo);
    cinfo->progress = &d->progress;
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_read_header(cinfo, TRUE);
    if (check_size("JPEG", cinfo->image_width, cinfo->image_height, err) != 0) return -1;
    jpeg_choose_output(cinfo);
    jpeg_start_decompress(cinfo);
    bool cmyk = cinfo->out_color_space == JCS_CMYK;
    int channels = cinfo->out_color_space == JCS_GRAYSCALE ? 1 : 3;
    if (cinfo->output_components != (cmyk ? 4 : channels))
        return gan_fail(err, "JPEG: unexpected %d output components", cinfo->output_components);
    if (gan_image_alloc(&d->img, (int)cinfo->output_width, (int)cinfo->output_height, channels, err) != 0) return -1;
    if (cmyk && !(d->cmyk_row = malloc((size_t)cinfo->output_width * 4))) return gan_fail(err, "JPEG: out of memory");
    jpeg_read_rows(d);
    if (cinfo->output_scanline < cinfo->output_height) return gan_fail(err, "JPEG: truncated data");
    jpeg_finish_decompress(cinfo);
    return 0;
}

static int jpeg_decode(const uint8_t *data, size_t size, gan_image *out, gan_error *err) {
    jpeg_decoder *d = calloc(1, sizeof *d);
    if (!d) return gan_fail(err, "JPEG: out of memory");
    d->cinfo.err = jpeg_std_error(&d->errmgr);
    d->errmgr.error_exit = jpeg_on_error;
    d->errmgr.emit_message = jpeg_on_message;
    d->errmgr.output_message = jpeg_print_nothing;
    d->progress.progress_monitor = jpeg_limit_scans;
    int rc;
    if (setjmp(d->jump))
        rc = gan_fail(err, "JPEG: %s", d->msg);
    else
        rc = jpeg_decode_into(d, data, size, err);
    jpeg_destroy_decompress(&d->cinfo);
    free(d->cmyk_row);
    if (rc == 0)
        *out = d->img;
    else
        gan_image_free(&d->img);
    free(d);
    return rc;
}

/* ---------------------------------------------------------------- WebP */

static const char *webp_status_text(VP8StatusCode status) {
    switch (status) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated data";
    default: return "decoding failed";
    }
}

/* The animation decoder composites frames onto the canvas (offsets,
 * blending), which decoding the first frame's bitstream alone would not. */
static int webp_decode_first_frame(const uint8_t *data, size_t size, int channels, gan_image *out, gan_error *err) {
    WebPAnimDecoderOptions options;
    if (!WebPAnimDecoderOptionsInit(&options)) return gan_fail(err, "WebP: library version mismatch");
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;
    WebPData webp = {.bytes = data, .size = size};
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&webp, &options);
    if (!dec) return gan_fail(err, "WebP: corrupt or truncated animation");
    WebPAnimInfo info;
    uint8_t *canvas = NULL;
    int timestamp = 0;
    int rc;
    if (!WebPAnimDecoderGetInfo(dec, &info))
        rc = gan_fail(err, "WebP: cannot read the animation header");
    else if (!WebPAnimDecoderGetNext(dec, &canvas, &timestamp))
        rc = gan_fail(err, "WebP: corrupt first animation frame");
    else
        rc = gan_image_alloc(out, (int)info.canvas_width, (int)info.canvas_height, channels, err);
    if (rc == 0) {
        size_t n = (size_t)out->width * (size_t)out->height;
        for (size_t i = 0; i < n; i++) memcpy(out->pixels + i * (size_t)channels, canvas + i * 4, (size_t)channels);
    }
    WebPAnimDecoderDelete(dec);
    return rc;
}

static int webp_decode(const uint8_t *data, size_t size, gan_image *out, gan_error *err) {
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return gan_fail(err, "WebP: library version mismatch");
    VP8StatusCode status = WebPGetFeatures(data, size, &config.input);
    if (status != VP8_STATUS_OK) return gan_fail(err, "WebP: %s", webp_status_text(status));
    if (check_size("WebP", config.input.width, config.input.height, err) != 0) return -1;
    int channels = config.input.has_alpha ? 4 : 3;
    if (config.input.has_animation) return webp_decode_first_frame(data, size, channels, out, err);
    gan_image img;
    if (gan_image_alloc(&img, config.input.width, config.input.height, channels, err) != 0) return -1;
    /* Decode straight into our buffer, so the caller can free() it. */
    config.output.colorspace = channels == 4 ? MODE_RGBA : MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = img.pixels;
    config.output.u.RGBA.stride = img.width * channels;
    config.output.u.RGBA.size = image_bytes(&img);
    status = WebPDecode(data, size, &config);
    WebPFreeDecBuffer(&config.output);
    if (status != VP8_STATUS_OK) {
        gan_image_free(&img);
        return gan_fail(err, "WebP: %s", webp_status_text(status));
    }
    *out = img;
    return 0;
}

/* ---------------------------------------------------------------- GIF */

typedef struct gif_source {
    const uint8_t *data;
    size_t size, pos;
} gif_source;

/* giflib treats a short read as an error, which is how truncation shows up. */
static int gif_read_from_memory(GifFileType *gif, GifByteType *out, int n) {
    gif_source *src = gif->UserData;
    size_t want = n > 0 ? (size_t)n : 0;
    size_t left = src->size - src->pos;
    if (want > left) want = left;
    memcpy(out, src->data + src->pos, want);
    src->pos += want;
    return (int)want;
}

static int gif_fail(int code, gan_error *err) {
    if (code == D_GIF_ERR_READ_FAILED) return gan_fail(err, "GIF: truncated data");
    const char *text = GifErrorString(code);
    return gan_fail(err, "GIF: %s", text ? text : "decoding failed");
}

/* Reads extensions up to the first image; remembers the transparent index
 * from the graphics control extension that applies to that image. */
static int gif_skip_to_first_image(GifFileType *gif, int *transparent_index, gan_error *err) {
    *transparent_index = NO_TRANSPARENT_COLOR;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) return gif_fail(gif->Error, err);
        if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) == GIF_ERROR) return gif_fail(gif->Error, err);
            return 0;
        }
        if (type == TERMINATE_RECORD_TYPE) return gan_fail(err, "GIF: no image in file");
        if (type != EXTENSION_RECORD_TYPE) return gan_fail(err, "GIF: unexpected record type %d", (int)type);
        int code;
        GifByteType *block;
        if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) return gif_fail(gif->Error, err);
        GraphicsControlBlock gcb;
        if (code == GRAPHICS_EXT_FUNC_CODE && block && DGifExtensionToGCB(block[0], block + 1, &gcb) == GIF_OK)
            *transparent_index = gcb.TransparentColor;
        while (block)
            if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) return gif_fail(gif->Error, err);
    }
}

/* What the part of the screen outside the first frame shows. */
static void gif_fill_background(const GifFileType *gif, gan_image *img) {
    if (img->channels == 4) return; /* transparent: calloc already zeroed it */
    const ColorMapObject *map = gif->SColorMap;
    if (!map || gif->SBackGroundColor >= map->ColorCount) return; /* black */
    GifColorType c = map->Colors[gif->SBackGroundColor];
    size_t n = (size_t)img->width * (size_t)img->height;
    for (size_t i = 0; i < n; i++) {
        img->pixels[i * 3] = c.Red;
        img->pixels[i * 3 + 1] = c.Green;
        img->pixels[i * 3 + 2] = c.Blue;
    }
}

/* Writes one decoded frame row onto the screen, clipped to it. */
static void gif_put_row(gan_image *img, const GifImageDesc *desc, const ColorMapObject *map, int transparent,
                        const GifPixelType *line, int row) {
    int y = desc->Top + row;
    if (y >= img->height) return;
    for (int x = 0; x < desc->Width && desc->Left + x < img->width; x++) {
        if (line[x] == transparent) continue;
        uint8_t *p = img->pixels + ((size_t)y * (size_t)img->width + (size_t)(desc->Left + x)) * (size_t)img->channels;
        GifColorType c = line[x] < map->ColorCount ? map->Colors[line[x]] : (GifColorType){0, 0, 0};
        p[0] = c.Red;
        p[1] = c.Green;
        p[2] = c.Blue;
        if (img->channels == 4) p[3] = 255;
    }
}

/* Interlaced GIFs store rows in four passes: every 8th from 0, every 8th
 * from 4, every 4th from 2, every 2nd from 1. */
static int gif_read_rows(GifFileType *gif, gan_image *img, int transparent, GifPixelType *line, gan_error *err) {
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    const GifImageDesc *desc = &gif->Image;
    const ColorMapObject *map = desc->ColorMap ? desc->ColorMap : gif->SColorMap;
    int passes = desc->Interlace ? 4 : 1;
    for (int pass = 0; pass < passes; pass++) {
        int first = desc->Interlace ? start[pass] : 0, stride = desc->Interlace ? step[pass] : 1;
        for (int row = first; row < desc->Height; row += stride) {
            if (DGifGetLine(gif, line, desc->Width) == GIF_ERROR) return gif_fail(gif->Error, err);
            gif_put_row(img, desc, map, transparent, line, row);
        }
    }
    return 0;
}

static int gif_render_first_frame(GifFileType *gif, int transparent, gan_image *out, gan_error *err) {
    const GifImageDesc *desc = &gif->Image;
    if (check_size("GIF", desc->Width, desc->Height, err) != 0) return -1;
    if (!desc->ColorMap && !gif->SColorMap) return gan_fail(err, "GIF: no colour map");
    /* Some writers leave the logical screen at 0x0; the frame then defines it. */
    long long width = gif->SWidth, height = gif->SHeight;
    if (width <= 0 || height <= 0) {
        width = (long long)desc->Left + desc->Width;
        height = (long long)desc->Top + desc->Height;
    }
    if (check_size("GIF", width, height, err) != 0) return -1;
    int channels = transparent != NO_TRANSPARENT_COLOR ? 4 : 3;
    gan_image img;
    if (gan_image_alloc(&img, (int)width, (int)height, channels, err) != 0) return -1;
    gif_fill_background(gif, &img);
    GifPixelType *line = malloc((size_t)desc->Width);
    int rc = line ? gif_read_rows(gif, &img, transparent, line, err) : gan_fail(err, "GIF: out of memory");
    free(line);
    if (rc == 0)
        *out = img;
    else
        gan_image_free(&img);
    return rc;
}

static int gif_decode(const uint8_t *data, size_t size, gan_image *out, gan_error *err) {
    gif_source src = {.data = data, .size = size};
    int code = 0;
    GifFileType *gif = DGifOpen(&src, gif_read_from_memory, &code);
    if (!gif) return gif_fail(code, err);
    int transparent;
    int rc = gif_skip_to_first_image(gif, &transparent, err);
    if (rc == 0) rc = gif_render_first_frame(gif, transparent, out, err);
    DGifCloseFile(gif, &code);
    return rc;
}

/* ---------------------------------------------------------------- decoding */

int gan_image_decode(const uint8_t *data, size_t size, gan_image *out, gan_error *err) {
    *out = (gan_image){0};
    if (!data || size == 0) return gan_fail(err, "image: no data");
    switch (gan_image_sniff(data, size)) {
    case GAN_IMAGE_PNG: return png_decode(data, size, out, err);
    case GAN_IMAGE_JPEG: return jpeg_decode(data, size, out, err);
    case GAN_IMAGE_WEBP: return webp_decode(data, size, out, err);
    case GAN_IMAGE_GIF: return gif_decode(data, size, out, err);
    default: break;
    }
    uint8_t head[4] = {0};
    memcpy(head, data, size < 4 ? size : 4);
    return gan_fail(err, "image: unknown format (first bytes %02x %02x %02x %02x; expected PNG, JPEG, WebP or GIF)",
                    head[0], head[1], head[2], head[3]);
}

int gan_image_load(const char *path, gan_image *out, gan_error *err) {
    *out = (gan_image){0};
    uint8_t *data;
    size_t size;
    if (gan_read_file(path, MAX_IMAGE_FILE_BYTES, &data, &size, err) != 0) return -1;
    int rc = gan_image_decode(data, size, out, err);
    free(data);
    if (rc != 0) return gan_fail_context(err, "%s", path);
    return 0;
}

/* ---------------------------------------------------------------- conversion */

/* ITU-R BT.601 luma in integers, so results do not depend on float rounding. */
static uint8_t luma(int r, int g, int b) {
    return (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
}

static void convert_pixel(const uint8_t *src, int src_channels, uint8_t *dst, int dst_channels) {
    uint8_t r = src[0], g = src[0], b = src[0], a = 255;
    if (src_channels >= 3) {
        g = src[1];
        b = src[2];
    }
    if (src_channels == 4) a = src[3];
    if (dst_channels == 1) {
        dst[0] = src_channels == 1 ? r : luma(r, g, b);
        return;
    }
    dst[0] = r;
    dst[1] = g;
    dst[2] = b;
    if (dst_channels == 4) dst[3] = a;
}

int gan_image_convert(gan_image *img, int channels, gan_error *err) {
    if (check_image("converting image", img, err) != 0) return -1;
    if (!valid_channels(channels))
        return gan_fail(err, "converting image: unsupported channel count %d (use 1, 3 or 4)", channels);
    if (img->channels == channels) return 0;
    size_t n = (size_t)img->width * (size_t)img->height;
    uint8_t *pixels = malloc(n * (size_t)channels);
    if (!pixels) return gan_fail(err, "converting image: out of memory");
    for (size_t i = 0; i < n; i++)
        convert_pixel(img->pixels + i * (size_t)img->channels, img->channels, pixels + i * (size_t)channels, channels);
    free(img->pixels);
    img->pixels = pixels;
    img->channels = channels;
    return 0;
}

int gan_image_flatten_alpha(gan_image *img, uint8_t background, gan_error *err) {
    if (check_image("flattening image", img, err) != 0) return -1;
    if (img->channels != 4) return 0;
    size_t n = (size_t)img->width * (size_t)img->height;
    uint8_t *pixels = malloc(n * 3);
    if (!pixels) return gan_fail(err, "flattening image: out of memory");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = img->pixels + 4 * i;
        int a = s[3];
        for (int c = 0; c < 3; c++) pixels[3 * i + c] = (uint8_t)((s[c] * a + background * (255 - a) + 127) / 255);
    }
    free(img->pixels);
    img->pixels = pixels;
    img->channels = 3;
    return 0;
}

/* ---------------------------------------------------------------- PNG encoding */

static void png_write_to_memory(png_structp png, png_bytep data, size_t n) {
    png_io *io = png_get_io_ptr(png);
    if (n > io->dst_cap - io->dst_size) {
        size_t cap = io->dst_cap ? io->dst_cap : 65536;
        while (cap - io->dst_size < n) cap *= 2;
        uint8_t *grown = realloc(io->dst, cap);
        if (!grown) png_error(png, "out of memory");
        io->dst = grown;
        io->dst_cap = cap;
    }
    memcpy(io->dst + io->dst_size, data, n);
    io->dst_size += n;
}

static void png_flush_nothing(png_structp png) {
    (void)png;
}

static int png_color_type(int channels) {
    return channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
}

/* May longjmp out through png_on_error. */
static void png_encode_into(png_structp png, png_infop info, png_io *io, const gan_image *img) {
    png_set_write_fn(png, io, png_write_to_memory, png_flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8, png_color_type(img->channels),
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    for (int y = 0; y < img->height; y++) png_write_row(png, img->pixels + (size_t)y * stride);
    png_write_end(png, info);
}

int gan_image_encode_png(const gan_image *img, uint8_t **data, size_t *size, gan_error *err) {
    *data = NULL;
    *size = 0;
    if (check_image("PNG", img, err) != 0) return -1;
    png_io *io = calloc(1, sizeof *io);
    if (!io) return gan_fail(err, "PNG: out of memory");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, io, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = -1;
    if (!info)
        gan_fail(err, "PNG: out of memory");
    else if (setjmp(png_jmpbuf(png)))
        gan_fail(err, "PNG: %s", io->msg);
    else {
        png_encode_into(png, info, io, img);
        rc = 0;
    }
    png_destroy_write_struct(&png, &info);
    if (rc == 0) {
        *data = io->dst;
        *size = io->dst_size;
    } else {
        free(io->dst);
    }
    free(io);
    return rc;
}

/* ---------------------------------------------------------------- WebP encoding */

static const char *webp_encoding_error_text(WebPEncodingError code) {
    switch (code) {
    case VP8_ENC_ERROR_OUT_OF_MEMORY:
    case VP8_ENC_ERROR_BITSTREAM_OUT_OF_MEMORY: return "out of memory";
    case VP8_ENC_ERROR_BAD_DIMENSION: return "image too large for WebP (at most 16383x16383)";
    case VP8_ENC_ERROR_PARTITION0_OVERFLOW:
    case VP8_ENC_ERROR_PARTITION_OVERFLOW: return "compressed partition too large, try a lower quality";
    case VP8_ENC_ERROR_FILE_TOO_BIG: return "file too large for WebP (4 GiB)";
    case VP8_ENC_ERROR_INVALID_CONFIGURATION: return "invalid encoder configuration";
    default: return "encoding failed";
    }
}

static int webp_setup(WebPConfig *config, WebPPicture *pic, float quality, gan_error *err) {
    bool lossless = quality < 0;
    if (!WebPConfigPreset(config, WEBP_PRESET_DEFAULT, lossless ? 75.0f : quality) || !WebPPictureInit(pic))
        return gan_fail(err, "WebP: library version mismatch");
    config->lossless = lossless;
    /* Lossless should mean bit-exact: by default colours under alpha 0 are
     * replaced to save space. */
    config->exact = lossless;
    pic->use_argb = lossless;
    return 0;
}

static int webp_import(WebPPicture *pic, const gan_image *img, gan_error *err) {
    pic->width = img->width;
    pic->height = img->height;
    gan_image rgb = *img;
    /* WebP has no grey layout. */
    if (img->channels == 1) {
        rgb.pixels = NULL;
        if (gan_image_alloc(&rgb, img->width, img->height, 3, err) != 0) return gan_fail_context(err, "WebP");
        size_t n = (size_t)img->width * (size_t)img->height;
        for (size_t i = 0; i < n; i++) memset(rgb.pixels + i * 3, img->pixels[i], 3);
    }
    int stride = rgb.width * rgb.channels;
    int ok = rgb.channels == 4 ? WebPPictureImportRGBA(pic, rgb.pixels, stride)
                               : WebPPictureImportRGB(pic, rgb.pixels, stride);
    if (rgb.pixels != img->pixels) gan_image_free(&rgb);
    if (!ok) return gan_fail(err, "WebP: %s", webp_encoding_error_text(pic->error_code));
    return 0;
}

int gan_image_encode_webp(const gan_image *img, float quality, uint8_t **data, size_t *size, gan_error *err) {
    *data = NULL;
    *size = 0;
    if (check_image("WebP", img, err) != 0) return -1;
    if (!(quality <= 100))
        return gan_fail(err, "WebP: quality %g is not in 0..100 (or negative for lossless)", quality);
    WebPConfig config;
    WebPPicture pic;
    if (webp_setup(&config, &pic, quality, err) != 0) return -1;
    if (webp_import(&pic, img, err) != 0) {
        WebPPictureFree(&pic);
        return -1;
    }
    WebPMemoryWriter writer;
    WebPMemoryWriterInit(&writer);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &writer;
    int rc = 0;
    if (!WebPEncode(&config, &pic))
        rc = gan_fail(err, "WebP: %s", webp_encoding_error_text(pic.error_code));
    else if (!(*data = malloc(writer.size ? writer.size : 1)))
        rc = gan_fail(err, "WebP: out of memory");
    else {
        /* Copied so that the caller frees with free(), not WebPFree(). */
        memcpy(*data, writer.mem, writer.size);
        *size = writer.size;
    }
    WebPMemoryWriterClear(&writer);
    WebPPictureFree(&pic);
    return rc;
}

/* ---------------------------------------------------------------- saving */

int gan_image_save(const char *path, const gan_image *img, gan_image_format fmt, float quality, gan_error *err) {
    uint8_t *data = NULL;
    size_t size = 0;
    int rc;
    if (fmt == GAN_IMAGE_PNG)
        rc = gan_image_encode_png(img, &data, &size, err);
    else if (fmt == GAN_IMAGE_WEBP)
        rc = gan_image_encode_webp(img, quality, &data, &size, err);
    else
        rc = gan_fail(err, "cannot encode %s images (use PNG or WebP)", gan_image_format_name(fmt));
    if (rc != 0) return gan_fail_context(err, "saving %s", path);
    rc = gan_write_file_atomic(path, data, size, err);
    free(data);
    return rc;
}
