/* The tensors every training checkpoint holds, whatever the architecture:
 * the networks under "G.", "D.", "G_ema." (state_dict names) and both Adam
 * states ("adamG.m.", "adamG.v.", "adamD.m.", "adamD.v." + parameter name). */
#ifndef DNE_TRAIN_CHECKPOINT_TENSORS_H
#define DNE_TRAIN_CHECKPOINT_TENSORS_H

#include "adam.h"
#include "gan/io/safetensors.h"

int checkpoint_write_tensors(gan_ctx *ctx, const gan_params *G, const gan_params *D, const gan_params *G_ema,
                             const adam_state *adam_g, const adam_state *adam_d, gan_st_writer *w,
                             gan_host_copies *copies, gan_error *err);
/* The networks' tensors; then, once the optimizers exist, their moments. */
int checkpoint_read_networks(gan_ctx *ctx, gan_params *G, gan_params *D, gan_params *G_ema, gan_st_file *f,
                             gan_error *err);
int checkpoint_read_moments(gan_ctx *ctx, const gan_params *G, const gan_params *D, adam_state *adam_g,
                            adam_state *adam_d, gan_st_file *f, gan_error *err);

#endif
