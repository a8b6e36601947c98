#include "tensor_image.h"

static uint8_t to_level(float x) {
    float v = x * 127.5f + 128.0f;
    v = !(v >= 0.0f) ? 0.0f : (v > 255.0f ? 255.0f : v); /* NaN becomes 0 */
    return (uint8_t)v;
}

void gan_levels_from_float(const float *x, size_t n, uint8_t *out) {
    for (size_t i = 0; i < n; i++) out[i] = to_level(x[i]);
}

int gan_image_paste_chw(gan_image *dst, int x, int y, const float *chw, int channels, int height, int width,
                        gan_error *err) {
    if (channels != 1 && channels != dst->channels)
        return gan_fail(err, "cannot paste a %d-channel image into a %d-channel one", channels, dst->channels);
    if (x < 0 || y < 0 || width > dst->width - x || height > dst->height - y)
        return gan_fail(err, "a %dx%d image at (%d, %d) does not fit in %dx%d", width, height, x, y, dst->width,
                        dst->height);
    size_t plane = (size_t)height * width;
    for (int r = 0; r < height; r++) {
        uint8_t *row = dst->pixels + ((size_t)(y + r) * dst->width + x) * dst->channels;
        for (int col = 0; col < width; col++)
            for (int c = 0; c < dst->channels; c++)
                row[col * dst->channels + c] = to_level(chw[(channels == 1 ? 0 : c) * plane + (size_t)r * width + col]);
    }
    return 0;
}

int gan_image_from_chw(const float *chw, int channels, int height, int width, gan_image *out, gan_error *err) {
    if (gan_image_alloc(out, width, height, channels, err) != 0) return -1;
    size_t plane = (size_t)height * width;
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < plane; i++) out->pixels[i * channels + c] = to_level(chw[c * plane + i]);
    return 0;
}
