/* The context: which device ops run on, how many threads they use, where
 * their memory comes from, and the first error that occurred. There is no
 * global state: everything an op needs is reached through its context.
 *
 * Errors inside a chain of ops are sticky, in the manner of ggml: an op that
 * fails records its message in the context and returns NULL, and every op
 * given a NULL input returns NULL at once. Model code can therefore write a
 * whole forward pass and check once at the end (gan_ctx_failed). */
#ifndef GAN_CONTEXT_H
#define GAN_CONTEXT_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"
#include "tensor.h"

typedef struct gan_backend gan_backend;

typedef enum gan_device_type { GAN_DEVICE_CPU = 0, GAN_DEVICE_CUDA = 1 } gan_device_type;

typedef struct gan_device {
    gan_device_type type;
    int index;
} gan_device;

/* "cpu", "cuda", "cuda:1". */
int gan_device_parse(const char *text, gan_device *device, gan_error *err);

/* Freed buffers are kept for reuse up to this many bytes, or up to the peak
 * of live bytes if that is more (see context.c); beyond that they go back to
 * the system. */
#define GAN_POOL_DEFAULT_CACHE ((size_t)256 << 20)

typedef struct gan_pool gan_pool;

/* Per-op time, collected when profiling is on (gan_ctx_profile). */
#define GAN_PROFILE_MAX_OPS 32
typedef struct gan_profile_entry {
    const char *op;
    long calls;
    double seconds;
} gan_profile_entry;

struct gan_ctx {
    gan_device device;
    const gan_backend *backend;
    void *backend_state; /* owned by the backend (streams, library handles) */
    gan_pool *pool;
    int threads;
    int failed;
    gan_error error;
    int profiling;
    gan_profile_entry profile[GAN_PROFILE_MAX_OPS];
};

/* threads <= 0 means all cores. */
gan_ctx *gan_ctx_new(gan_device device, int threads, gan_error *err);
void gan_ctx_free(gan_ctx *ctx);

/* Records an error (the first one wins) and returns NULL for convenience. */
void *gan_ctx_fail(gan_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gan_ctx_failed(const gan_ctx *ctx);
/* Moves the context's error into err (returns -1) and clears it. */
int gan_ctx_take_error(gan_ctx *ctx, gan_error *err);

/* Waits until every op queued on the context's device has finished (ops on
 * an accelerator return before their kernels end): for timing, and to learn
 * of a kernel's failure. Returns 0, or -1 with the error in ctx. */
int gan_ctx_sync(gan_ctx *ctx);

/* Raw device memory from the context's pool (for scratch space in ops). */
void *gan_ctx_alloc(gan_ctx *ctx, size_t bytes);
void gan_ctx_release(gan_ctx *ctx, void *ptr, size_t bytes);
/* Bytes currently held by live allocations and by the reuse cache. */
size_t gan_ctx_bytes_live(const gan_ctx *ctx);
size_t gan_ctx_bytes_cached(const gan_ctx *ctx);
void gan_ctx_set_cache_limit(gan_ctx *ctx, size_t bytes);

/* Profiling: when on, every op's kernel time is summed per op name (the
 * backend is synchronised around each op, so keep it off for speed). */
void gan_ctx_profile(gan_ctx *ctx, int on);
void gan_ctx_profile_add(gan_ctx *ctx, const char *op, double seconds);
/* Prints the table, slowest op first. */
void gan_ctx_profile_print(const gan_ctx *ctx, FILE *out);
double gan_seconds(void);

#endif
