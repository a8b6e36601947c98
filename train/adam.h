/* Adam with torch.optim.Adam's arithmetic, one state per network: first and
 * second moments for every trainable tensor and the step count. */
#ifndef DNE_TRAIN_ADAM_H
#define DNE_TRAIN_ADAM_H

#include "gan/params.h"

typedef struct adam_state {
    const gan_params *params;
    gan_tensor **m, **v; /* aligned with params->items, NULL for buffers */
    int64_t step;
    float lr, beta1, beta2, eps;
} adam_state;

/* Zero moments; lr, betas and eps as given (after the lazy-regularization
 * adjustment, which is the caller's). Returns 0 or -1 (error in ctx). */
int adam_init(gan_ctx *ctx, adam_state *s, const gan_params *params, float lr, float beta1, float beta2, float eps);
/* One update of every trainable tensor with grads (aligned with params). */
int adam_step(gan_ctx *ctx, adam_state *s, gan_tensor **grads);
void adam_free(gan_ctx *ctx, adam_state *s);

#endif
