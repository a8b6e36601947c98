#include "checkpoint_tensors.h"

int checkpoint_write_tensors(gan_ctx *ctx, const gan_params *G, const gan_params *D, const gan_params *G_ema,
                             const adam_state *adam_g, const adam_state *adam_d, gan_st_writer *w,
                             gan_host_copies *copies, gan_error *err) {
    int rc = gan_params_write(ctx, G, "G.", w, copies, err);
    if (rc == 0) rc = gan_params_write(ctx, D, "D.", w, copies, err);
    if (rc == 0) rc = gan_params_write(ctx, G_ema, "G_ema.", w, copies, err);
    if (rc == 0) rc = gan_params_write_aligned(ctx, G, adam_g->m, "adamG.m.", w, copies, err);
    if (rc == 0) rc = gan_params_write_aligned(ctx, G, adam_g->v, "adamG.v.", w, copies, err);
    if (rc == 0) rc = gan_params_write_aligned(ctx, D, adam_d->m, "adamD.m.", w, copies, err);
    if (rc == 0) rc = gan_params_write_aligned(ctx, D, adam_d->v, "adamD.v.", w, copies, err);
    return rc;
}

int checkpoint_read_networks(gan_ctx *ctx, gan_params *G, gan_params *D, gan_params *G_ema, gan_st_file *f,
                             gan_error *err) {
    int rc = gan_params_load(ctx, G, f, "G.", err);
    if (rc == 0) rc = gan_params_load(ctx, D, f, "D.", err);
    if (rc == 0) rc = gan_params_load(ctx, G_ema, f, "G_ema.", err);
    return rc;
}

int checkpoint_read_moments(gan_ctx *ctx, const gan_params *G, const gan_params *D, adam_state *adam_g,
                            adam_state *adam_d, gan_st_file *f, gan_error *err) {
    int rc = gan_params_load_aligned(ctx, G, adam_g->m, f, "adamG.m.", err);
    if (rc == 0) rc = gan_params_load_aligned(ctx, G, adam_g->v, f, "adamG.v.", err);
    if (rc == 0) rc = gan_params_load_aligned(ctx, D, adam_d->m, f, "adamD.m.", err);
    if (rc == 0) rc = gan_params_load_aligned(ctx, D, adam_d->v, f, "adamD.v.", err);
    return rc;
}
