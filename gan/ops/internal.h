/* Shared plumbing of the op front ends: input checks and dispatch to the
 * context's backend. */
#ifndef GAN_OPS_INTERNAL_H
#define GAN_OPS_INTERNAL_H

#include "../backend.h"
#include "../ops.h"

/* Fails the op (returns NULL from the calling function) unless cond holds. */
#define OP_REQUIRE(ctx, cond, ...)                 \
    do {                                           \
        if (!(cond)) return gan_ctx_fail((ctx), __VA_ARGS__); \
    } while (0)

/* Returns NULL from the calling op if the context already failed or if any
 * required input is missing (a failed op upstream). */
#define OP_BEGIN(ctx, ...)                                              \
    do {                                                                \
        const gan_tensor *op_inputs_[] = {__VA_ARGS__};                 \
        if ((ctx)->failed) return NULL;                                 \
        for (size_t i_ = 0; i_ < sizeof op_inputs_ / sizeof *op_inputs_; i_++) \
            if (!op_inputs_[i_]) return gan_ctx_fail((ctx), "%s: missing input", __func__); \
            else if (op_inputs_[i_]->numel < 0) return gan_ctx_fail((ctx), "%s: a view of the wrong size", __func__); \
    } while (0)

/* Runs backend entry `fn` to fill y; frees y and returns NULL if the backend
 * lacks the op or the kernel fails. */
#define OP_DISPATCH(ctx, y, fn, ...)                                                   \
    do {                                                                               \
        if (!(y)) return NULL;                                                         \
        if (!(ctx)->backend->fn) {                                                     \
            gan_tensor_free((ctx), (y));                                               \
            return gan_ctx_fail((ctx), "op %s is not implemented on the %s backend", #fn, \
                                (ctx)->backend->name);                                 \
        }                                                                              \
        double op_start_ = (ctx)->profiling ? (gan_ctx_sync(ctx), gan_seconds()) : 0;  \
        int op_rc_ = (ctx)->backend->fn((ctx), (y), __VA_ARGS__);                      \
        if ((ctx)->profiling && gan_ctx_sync(ctx) == 0)                                \
            gan_ctx_profile_add((ctx), #fn, gan_seconds() - op_start_);                \
        if (op_rc_ != 0) {                                                             \
            gan_tensor_free((ctx), (y));                                               \
            if (!(ctx)->failed) gan_ctx_fail((ctx), "op %s failed", #fn);              \
            return NULL;                                                               \
        }                                                                              \
        return (y);                                                                    \
    } while (0)

/* "[2, 3, 4, 4]" of a tensor, in a buffer the caller provides. */
#define SHAPE(t, buf) gan_shape_str((t)->ndim, (t)->shape, (buf), sizeof(buf))

#endif
