/* `dne prep pack`: a folder of crops (or a dataset zip, or a .dset) into the
 * packed .dset that dne train memory-maps, or into stylegan2-ada-pytorch's
 * dataset zip (00000/img00000000.png ... + dataset.json). */
#ifndef DNE_PREP_PACK_H
#define DNE_PREP_PACK_H

#include "gan/error.h"

typedef struct prep_pack_options {
    const char *in, *out;
    int res;    /* 0: the input's resolution */
    int labels; /* keep class labels (the input must have them) */
    const char *classes; /* NULL, or "name[,name...]": keep only these classes' images (labels renumbered in this order) */
    int zip;    /* write a stylegan2-ada zip instead of a .dset */
    int quiet;
} prep_pack_options;

int prep_pack(const prep_pack_options *o, gan_error *err);

#endif
