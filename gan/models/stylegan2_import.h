/* stylegan2-ada-pytorch network snapshots (network-snapshot-*.pkl, or a
 * TensorFlow model converted by its legacy.py) read without Python: the
 * pickle is parsed by gan/io/torch_pickle (nothing in it is executed), the
 * architecture comes from each network's pickled init kwargs, and every
 * tensor is checked by name and shape against the dne network of that
 * architecture before anything is used or written. */
#ifndef GAN_MODELS_STYLEGAN2_IMPORT_H
#define GAN_MODELS_STYLEGAN2_IMPORT_H

#include "stylegan2.h"
#include "stylegan2_discriminator.h"

typedef enum sg2_import_which {
    SG2_IMPORT_G_EMA = 0, /* a generator file, as dne generate reads */
    SG2_IMPORT_G,
    SG2_IMPORT_D, /* a discriminator file: D_config and the tensors */
    SG2_IMPORT_ALL, /* G., D., G_ema. tensors, both configs and the augmentation p */
} sg2_import_which;

int sg2_import_which_parse(const char *text, sg2_import_which *out, gan_error *err);

/* Whether the file starts like a pickle (protocol 2 or later). */
int sg2_is_pickle(const char *path);

/* Writes the chosen networks of a snapshot as safetensors (atomically). The
 * metadata records the source file, the fp16 settings (num_fp16_res; dne
 * computes in fp32) and, with ALL, the augmentation probability. */
int sg2_import_pickle(gan_ctx *ctx, const char *pkl_path, sg2_import_which which, const char *out_path,
                      gan_error *err);

/* The snapshot's G_ema (or G) as a generator in memory. */
sg2_generator *sg2_load_pickle(gan_ctx *ctx, const char *pkl_path, sg2_import_which which, gan_error *err);

#endif
