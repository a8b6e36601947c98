#include "spectral_norm.h"

#include <math.h>

#include "../ops.h"

static gan_tensor as_matrix(const gan_tensor *t) {
    int64_t rows = t->shape[0];
    return gan_tensor_view(t, 2, (int64_t[]){rows, t->numel / rows});
}

/* Stores the iteration's results in the buffers, as a training forward does. */
static int store(gan_ctx *ctx, const gan_sn *sn, const gan_tensor *u, float sigma) {
    if (gan_write_slice(ctx, sn->u, u, 0) != 0) return -1;
    return gan_tensor_upload(ctx, sn->sv, &sigma);
}

gan_tensor *gan_sn_weight(gan_ctx *ctx, const gan_sn *sn, int update, gan_sn_state *state) {
    if (gan_ctx_failed(ctx)) return NULL;
    gan_tensor w = as_matrix(sn->weight);
    gan_tensor *uw = gan_matmul(ctx, sn->u, &w, 0, 0);
    gan_tensor *v = gan_normalize_rows(ctx, uw, sn->eps);
    gan_tensor *vw = gan_matmul(ctx, v, &w, 0, 1);
    gan_tensor *u = gan_normalize_rows(ctx, vw, sn->eps);
    gan_tensor *s = gan_matmul(ctx, vw, u, 0, 1);
    float sigma = gan_tensor_item(ctx, s);
    gan_tensor *out = NULL;
    if (!gan_ctx_failed(ctx) && !(sigma > 0 && isfinite(sigma)))
        gan_ctx_fail(ctx, "spectral norm: the singular value estimate is %g", sigma);
    else if (!gan_ctx_failed(ctx) && (!update || store(ctx, sn, u, sigma) == 0))
        out = gan_scale(ctx, sn->weight, 1.0f / sigma);
    gan_tensor_free(ctx, uw);
    gan_tensor_free(ctx, vw);
    gan_tensor_free(ctx, s);
    if (state && out) {
        *state = (gan_sn_state){u, v, sigma};
    } else {
        gan_tensor_free(ctx, u);
        gan_tensor_free(ctx, v);
    }
    return out;
}

gan_tensor *gan_sn_backward(gan_ctx *ctx, const gan_sn *sn, const gan_sn_state *state, const gan_tensor *dw_sn) {
    if (gan_ctx_failed(ctx)) return NULL;
    gan_tensor w = gan_tensor_view(sn->weight, 2, (int64_t[]){1, sn->weight->numel});
    gan_tensor d = gan_tensor_view(dw_sn, 2, (int64_t[]){1, dw_sn->numel});
    gan_tensor *dot = gan_matmul(ctx, &d, &w, 0, 1);
    float inner = gan_tensor_item(ctx, dot), sigma = state->sigma;
    gan_tensor_free(ctx, dot);
    gan_tensor *outer = gan_matmul(ctx, state->u, state->v, 1, 0);
    gan_tensor *dw = gan_scale(ctx, dw_sn, 1.0f / sigma);
    if (dw && outer && gan_accumulate(ctx, dw, outer, -inner / (sigma * sigma)) != 0) {
        gan_tensor_free(ctx, dw);
        dw = NULL;
    }
    gan_tensor_free(ctx, outer);
    return dw;
}

void gan_sn_state_free(gan_ctx *ctx, gan_sn_state *state) {
    gan_tensor_free(ctx, state->u);
    gan_tensor_free(ctx, state->v);
    *state = (gan_sn_state){0};
}
