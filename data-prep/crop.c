/* Crop boxes and their pixels. */
#include "crop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

prep_box prep_crop_box(const prep_face *face, float margin) {
    int side = (int)lround(face->w * (1.0 + 2.0 * margin));
    if (side < 1) side = 1;
    /* Twice the centre, so odd sizes round the same way on both axes. */
    int cx2 = 2 * face->x + face->w, cy2 = 2 * face->y + face->h;
    return (prep_box){(cx2 - side) / 2, (cy2 - side) / 2, side, side};
}

int prep_box_inside(prep_box box, int width, int height) {
    return box.x >= 0 && box.y >= 0 && box.x + box.w <= width && box.y + box.h <= height;
}

static int clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Copies the box into a new image, replicating edge pixels outside the picture. */
static int copy_box(const gan_image *src, prep_box box, gan_image *out, gan_error *err) {
    if (gan_image_alloc(out, box.w, box.h, src->channels, err) != 0) return -1;
    size_t ch = (size_t)src->channels;
    int x0 = clamp(box.x, 0, src->width), x1 = clamp(box.x + box.w, 0, src->width);
    for (int y = 0; y < box.h; y++) {
        const uint8_t *row = src->pixels + (size_t)clamp(box.y + y, 0, src->height - 1) * src->width * ch;
        uint8_t *dst = out->pixels + (size_t)y * box.w * ch;
        for (int x = box.x; x < x0 && x < box.x + box.w; x++) memcpy(dst + (size_t)(x - box.x) * ch, row, ch);
        if (x1 > x0) memcpy(dst + (size_t)(x0 - box.x) * ch, row + (size_t)x0 * ch, (size_t)(x1 - x0) * ch);
        const uint8_t *last = row + (size_t)(src->width - 1) * ch;
        for (int x = x1 > box.x ? x1 : box.x; x < box.x + box.w; x++) memcpy(dst + (size_t)(x - box.x) * ch, last, ch);
    }
    return 0;
}

int prep_crop_extract(const gan_image *src, prep_box box, int res, gan_image *out, gan_error *err) {
    gan_image region = {0};
    *out = (gan_image){0};
    if (copy_box(src, box, &region, err) != 0) return -1;
    int rc = 0;
    if (box.w == res) {
        *out = region;
        return 0;
    }
    if (gan_image_alloc(out, res, res, region.channels, err) != 0 ||
        prep_resize(region.pixels, region.width, region.height, region.channels, out->pixels, res, res, err) != 0) {
        gan_image_free(out);
        rc = -1;
    }
    gan_image_free(&region);
    return rc;
}
