/* Conversions between network images (float, CHW, values in [-1, 1]) and
 * 8-bit images, with the reference's rounding so that files match. */
#ifndef GAN_IO_TENSOR_IMAGE_H
#define GAN_IO_TENSOR_IMAGE_H

#include "image.h"

/* generate.py's conversion: uint8 = clamp(x * 127.5 + 128, 0, 255), truncated
 * toward zero, computed in float32. chw holds channels x height x width. */
int gan_image_from_chw(const float *chw, int channels, int height, int width, gan_image *out, gan_error *err);

#endif
