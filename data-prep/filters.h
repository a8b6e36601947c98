/* Quality filters on crops: colourfulness (greyscale and monochrome pictures
 * have almost no chroma) and a perceptual hash for near-duplicates (the same
 * picture re-encoded, resized or lightly edited). */
#ifndef DNE_PREP_FILTERS_H
#define DNE_PREP_FILTERS_H

#include <pthread.h>
#include <stdint.h>

#include "gan/io/image.h"

/* Mean chroma (max - min of R, G, B) over the image, in [0, 1]. */
double prep_colourfulness(const gan_image *rgb);

/* 64-bit difference hash: the image shrunk to 9x8 grey, one bit per pair of
 * horizontal neighbours (left brighter than right). Near-identical pictures
 * differ in few bits. */
int prep_dhash(const gan_image *rgb, uint64_t *hash, gan_error *err);
int prep_hamming(uint64_t a, uint64_t b);

/* The hashes of the crops kept so far, shared by the workers. */
typedef struct prep_dedup {
    pthread_mutex_t lock;
    uint64_t *hashes;
    size_t count, cap;
    int max_distance; /* a crop within this many bits of a kept one is a duplicate; < 0 disables */
} prep_dedup;

void prep_dedup_init(prep_dedup *d, int max_distance);
void prep_dedup_free(prep_dedup *d);
/* 1 if hash is a near-duplicate of a kept hash; otherwise keeps it and returns 0
 * (-1 when out of memory). */
int prep_dedup_check_add(prep_dedup *d, uint64_t hash);

#endif
