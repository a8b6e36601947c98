/* ADA's augmentations (stylegan2-ada-pytorch's AugmentPipe), the parts
 * written so far: the colour transforms. Each enabled transform contributes
 * one 4x4 factor to the sample's colour matrix, in the reference's order
 * (brightness, contrast, luma flip, hue, saturation), whether or not it was
 * drawn for that sample (an undrawn one is its identity value); the matrix
 * goes to gan_color_transform. */
#ifndef DNE_TRAIN_AUGMENT_H
#define DNE_TRAIN_AUGMENT_H

typedef struct augment_color {
    int brightness_on, contrast_on, lumaflip_on, hue_on, saturation_on; /* in the pipeline */
    float brightness; /* added to r, g, b (identity 0) */
    float contrast;   /* r, g, b multiplied (identity 1) */
    float lumaflip;   /* 1: reflect colours through the plane orthogonal to the luma axis (identity 0) */
    float hue;        /* rotation about the luma axis, radians (identity 0) */
    float saturation; /* chroma scaled, luma kept (identity 1) */
} augment_color;

/* The sample's colour matrix, row-major 4x4, composed in float32 as the
 * reference's matrix products are. */
void augment_color_matrix(const augment_color *a, float m[16]);

#endif
