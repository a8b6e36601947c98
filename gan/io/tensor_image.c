#include "tensor_image.h"

int gan_image_from_chw(const float *chw, int channels, int height, int width, gan_image *out, gan_error *err) {
    if (gan_image_alloc(out, width, height, channels, err) != 0) return -1;
    size_t plane = (size_t)height * width;
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < plane; i++) {
            float v = chw[c * plane + i] * 127.5f + 128.0f;
            v = !(v >= 0.0f) ? 0.0f : (v > 255.0f ? 255.0f : v); /* NaN becomes 0 */
            out->pixels[i * channels + c] = (uint8_t)v;
        }
    return 0;
}
