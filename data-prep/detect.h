/* The OpenCV parts of data-prep behind a C interface (detect_shim.cpp): the
 * LBP cascade face detector (CascadeClassifier::detectMultiScale on the
 * equalized grey image, as lbpcascade_animeface's README does it) and
 * OpenCV's high-quality resampling. Nothing else in dne touches C++. */
#ifndef DNE_PREP_DETECT_H
#define DNE_PREP_DETECT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "gan/error.h"

/* One detector per thread: OpenCV's CascadeClassifier is not safe to share. */
typedef struct prep_detector prep_detector;

typedef struct prep_detect_params {
    double scale_factor; /* 1.1: each pyramid level is 1/1.1 of the one before */
    int min_neighbors;   /* 5: overlapping hits needed to keep a face */
    int min_size;        /* 24: smallest face searched for, pixels */
} prep_detect_params;

typedef struct prep_face {
    int x, y, w, h;
    int neighbors; /* raw hits merged into this box: a confidence */
} prep_face;

prep_detector *prep_detector_load(const char *cascade_path, gan_error *err);
void prep_detector_free(prep_detector *d);

/* Faces in an 8-bit image (channels 1 or 3, RGB, rows packed): grey through
 * OpenCV's RGB->grey, histogram equalization, detectMultiScale. *faces is
 * malloc'd (free()), *count may be 0. */
int prep_detect(prep_detector *d, const uint8_t *pixels, int width, int height, int channels,
                const prep_detect_params *p, prep_face **faces, int *count, gan_error *err);

/* Resizes packed 8-bit pixels (1, 3 or 4 channels): pixel-area averaging when
 * shrinking, Lanczos (8x8) when enlarging, as OpenCV's INTER_AREA and
 * INTER_LANCZOS4 do. */
int prep_resize(const uint8_t *src, int src_w, int src_h, int channels, uint8_t *dst, int dst_w, int dst_h,
                gan_error *err);

/* Threads OpenCV may use inside one call (1 when dne runs its own workers). */
void prep_set_opencv_threads(int n);

#ifdef __cplusplus
}
#endif

#endif
