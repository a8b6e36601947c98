/* Crop geometry: a square box grown around a detected face, and the pixels
 * inside it (edge-replicated where the box leaves the picture), resized to
 * the output resolution. */
#ifndef DNE_PREP_CROP_H
#define DNE_PREP_CROP_H

#include "detect.h"
#include "gan/io/image.h"

typedef struct prep_box {
    int x, y, w, h;
} prep_box;

/* The square of side face.w * (1 + 2 * margin) with the face's centre: margin
 * 0.5 doubles the face box, which keeps the hair above the cascade's
 * eyes-to-chin box and the neck and shoulders below it. */
prep_box prep_crop_box(const prep_face *face, float margin);
/* 1 when the box lies wholly inside a width x height picture. */
int prep_box_inside(prep_box box, int width, int height);
/* The box's pixels (RGB; outside pixels copy the nearest edge pixel), resized
 * to res x res: area averaging when shrinking, Lanczos when enlarging. */
int prep_crop_extract(const gan_image *src, prep_box box, int res, gan_image *out, gan_error *err);

#endif
