/* Spectral normalisation as BigGAN-PyTorch's SN layers compute it: the weight
 * [O, ...] is viewed as a matrix W [O, R], and one power iteration from the
 * stored left singular vector u [1, O] estimates its largest singular value:
 *   v = normalize(u W),  u' = normalize(v W^T),  sigma = (v W^T) . u'.
 * The layer then uses W / sigma. u and v are constants for the gradient (the
 * reference computes them without autograd); sigma is not. In training the
 * stored u becomes u' and the logging buffer sv holds sigma; in evaluation the
 * iteration still runs but nothing is stored. */
#ifndef GAN_MODELS_SPECTRAL_NORM_H
#define GAN_MODELS_SPECTRAL_NORM_H

#include "../context.h"
#include "../tensor.h"

typedef struct gan_sn {
    gan_tensor *weight; /* [O, ...] */
    gan_tensor *u;      /* buffer [1, O] */
    gan_tensor *sv;     /* buffer [1] */
    float eps;          /* F.normalize's floor on the norm */
} gan_sn;

/* What an iteration found, kept for the backward pass. */
typedef struct gan_sn_state {
    gan_tensor *u, *v; /* [1, O] and [1, R] */
    float sigma;
} gan_sn_state;

/* W / sigma, shaped as the weight. With update, u and sv are written. state
 * may be NULL (no backward pass to follow). NULL with the error in ctx. */
gan_tensor *gan_sn_weight(gan_ctx *ctx, const gan_sn *sn, int update, gan_sn_state *state);
/* The gradient with respect to the weight given dw_sn, that with respect to
 * W / sigma: dw_sn / sigma - (sum(dw_sn * W) / sigma^2) u'^T v. */
gan_tensor *gan_sn_backward(gan_ctx *ctx, const gan_sn *sn, const gan_sn_state *state, const gan_tensor *dw_sn);
void gan_sn_state_free(gan_ctx *ctx, gan_sn_state *state);

#endif
