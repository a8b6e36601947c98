/* Conversions between network images (float, CHW, values in [-1, 1]) and
 * 8-bit images, with the reference's rounding so that files match. */
#ifndef GAN_IO_TENSOR_IMAGE_H
#define GAN_IO_TENSOR_IMAGE_H

#include "image.h"

/* generate.py's conversion: uint8 = clamp(x * 127.5 + 128, 0, 255), truncated
 * toward zero, computed in float32. chw holds channels x height x width. */
int gan_image_from_chw(const float *chw, int channels, int height, int width, gan_image *out, gan_error *err);

/* The same conversion of n values in place order (CHW stays CHW): what the
 * metrics compare. */
void gan_levels_from_float(const float *x, size_t n, uint8_t *out);

/* The same conversion into the rectangle at (x, y) of an existing image, for
 * contact sheets and video frames. A one-channel network image is replicated
 * into every channel of dst; otherwise channels must match dst's. The
 * rectangle must lie inside dst. */
int gan_image_paste_chw(gan_image *dst, int x, int y, const float *chw, int channels, int height, int width,
                        gan_error *err);

#endif
