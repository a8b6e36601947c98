/* 8-bit images: decoding PNG, JPEG, WebP and GIF by content (never by file
 * name), encoding PNG and WebP. Pixels are interleaved rows (HWC), 1 (grey),
 * 3 (RGB) or 4 (RGBA) channels, no row padding. Built on libpng, libjpeg(-turbo),
 * libwebp + libwebpdemux and giflib. */
#ifndef GAN_IO_IMAGE_H
#define GAN_IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../error.h"

typedef struct gan_image {
    int width, height, channels;
    uint8_t *pixels; /* width * height * channels bytes, malloc'd */
} gan_image;

typedef enum gan_image_format {
    GAN_IMAGE_UNKNOWN = 0,
    GAN_IMAGE_PNG,
    GAN_IMAGE_JPEG,
    GAN_IMAGE_WEBP,
    GAN_IMAGE_GIF,
} gan_image_format;

/* Limit on width * height accepted by the decoders (a hostile header must not
 * make us allocate gigabytes). */
#define GAN_IMAGE_MAX_PIXELS (16384LL * 16384LL)

/* Allocates a zeroed image; channels must be 1, 3 or 4, and a zero or
 * negative size or more than GAN_IMAGE_MAX_PIXELS is refused. gan_image_free
 * frees the pixels and zeroes *img (safe on a zeroed image or NULL). */
int gan_image_alloc(gan_image *img, int width, int height, int channels, gan_error *err);
void gan_image_free(gan_image *img);

/* Sniffs the format from the first bytes; GAN_IMAGE_UNKNOWN if none matches. */
gan_image_format gan_image_sniff(const uint8_t *data, size_t size);
const char *gan_image_format_name(gan_image_format fmt);
/* "png" / "webp" / "jpg" / "jpeg" / "gif" (case-insensitive, an optional
 * leading '.' so that file extensions work) -> format, else UNKNOWN. */
gan_image_format gan_image_format_from_name(const char *name);

/* Decodes PNG (8/16-bit, palette, grey, alpha, interlaced; 16-bit reduced to
 * 8 by keeping the high byte), JPEG (grey -> 1 channel, RGB/YCbCr/CMYK/YCCK ->
 * RGB), WebP (animated: the first frame composited on the canvas) or GIF (the
 * first frame on the logical screen; RGBA if it has a transparent colour,
 * else RGB). Channels as stored otherwise: grey stays 1, grey+alpha becomes
 * RGBA, palette becomes RGB or RGBA, WebP is RGBA when it has alpha.
 * Corrupt or truncated data (including libjpeg's "corrupt data" warnings) and
 * images of zero size or more than GAN_IMAGE_MAX_PIXELS give a one-line error
 * such as "PNG: truncated data", never a crash. *out is overwritten without
 * being freed; on failure it is zeroed. gan_image_load reads at most 512 MiB
 * and prefixes errors with the path. */
int gan_image_decode(const uint8_t *data, size_t size, gan_image *out, gan_error *err);
int gan_image_load(const char *path, gan_image *out, gan_error *err);

/* Converts in place to the given channel count (1, 3 or 4): grey -> RGB by
 * replication, RGB -> grey by ITU-R 601 luma (0.299, 0.587, 0.114, rounded),
 * alpha dropped as is (colour kept) or added as opaque 255. On failure the
 * image is unchanged. */
int gan_image_convert(gan_image *img, int channels, gan_error *err);

/* RGBA -> RGB composited over an opaque grey background (255 = white), as
 * image viewers show transparent pictures; other channel counts unchanged. */
int gan_image_flatten_alpha(gan_image *img, uint8_t background, gan_error *err);

/* Encoders return a malloc'd buffer (free()). quality for WebP: 0..100 lossy,
 * a negative value means lossless, which is bit-exact (colours under alpha 0
 * included). WebP stores grey as RGB, and is limited to 16383x16383. */
int gan_image_encode_png(const gan_image *img, uint8_t **data, size_t *size, gan_error *err);
int gan_image_encode_webp(const gan_image *img, float quality, uint8_t **data, size_t *size, gan_error *err);

/* Encodes (PNG or WebP only) and writes atomically (see io/file.h). */
int gan_image_save(const char *path, const gan_image *img, gan_image_format fmt, float quality, gan_error *err);

#endif
