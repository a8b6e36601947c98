#include "adam.h"

#include <math.h>
#include <string.h>

#include "gan/ops.h"

int adam_init(gan_ctx *ctx, adam_state *s, const gan_params *params, float lr, float beta1, float beta2, float eps) {
    *s = (adam_state){params, gan_params_grads_new(ctx, params), gan_params_grads_new(ctx, params), 0, lr, beta1, beta2,
                      eps};
    if (!s->m || !s->v) {
        adam_free(ctx, s);
        return -1;
    }
    return 0;
}

int adam_step(gan_ctx *ctx, adam_state *s, gan_tensor **grads) {
    s->step++;
    /* Bias corrections in double, as torch computes them in Python. */
    double c1 = 1.0 - pow(s->beta1, (double)s->step), c2 = 1.0 - pow(s->beta2, (double)s->step);
    gan_adam_args a = {s->lr, s->beta1, s->beta2, s->eps, (float)c1, (float)c2};
    for (int i = 0; i < s->params->count && !ctx->failed; i++)
        if (s->m[i]) gan_adam_update(ctx, s->params->items[i].tensor, grads[i], s->m[i], s->v[i], a);
    return ctx->failed ? -1 : 0;
}

void adam_free(gan_ctx *ctx, adam_state *s) {
    if (s->params) {
        gan_params_grads_free(ctx, s->params, s->m);
        gan_params_grads_free(ctx, s->params, s->v);
    }
    memset(s, 0, sizeof *s);
}
