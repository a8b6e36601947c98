/* What an image file is, from its header alone: size (to refuse decompression
 * bombs before decoding) and the traits that the decoder converts away (CMYK,
 * 16-bit, palette, alpha, animation), so the manifest can say what was done. */
#ifndef DNE_PREP_PROBE_H
#define DNE_PREP_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "gan/error.h"
#include "gan/io/image.h"

enum {
    PREP_TRAIT_CMYK = 1,
    PREP_TRAIT_16BIT = 2,
    PREP_TRAIT_PALETTE = 4,
    PREP_TRAIT_ALPHA = 8,
    PREP_TRAIT_ANIMATED = 16,
    PREP_TRAIT_GREY = 32,
};

typedef struct prep_probe_info {
    gan_image_format format;
    long long width, height;
    unsigned traits; /* PREP_TRAIT_* */
} prep_probe_info;

/* Fails with a message when the format is unknown or the header unreadable. */
int prep_probe(const uint8_t *data, size_t size, prep_probe_info *info, gan_error *err);

/* "cmyk,16-bit,..." for the manifest ("" when none); out holds 64 bytes. */
void prep_traits_text(unsigned traits, char *out, size_t n);

#endif
