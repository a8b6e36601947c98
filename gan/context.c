#include "context.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

/* The pool keeps freed device buffers, keyed by exact size, for reuse: a
 * network runs the same sequence of shapes on every batch, so after the first
 * batch nearly every request finds a cached buffer. The cache is bounded, so
 * memory stays close to what is live rather than the sum of every size seen. */
typedef struct pool_block {
    void *ptr;
    size_t bytes;
} pool_block;

struct gan_pool {
    pool_block *cached;
    int count, capacity;
    size_t bytes_cached, bytes_live, cache_limit;
};

int gan_device_parse(const char *text, gan_device *device, gan_error *err) {
    if (strcmp(text, "cpu") == 0) {
        *device = (gan_device){GAN_DEVICE_CPU, 0};
        return 0;
    }
    if (strncmp(text, "cuda", 4) == 0) {
        const char *rest = text + 4;
        int index = 0;
        if (*rest == ':') {
            char *end;
            long v = strtol(rest + 1, &end, 10);
            if (end == rest + 1 || *end || v < 0 || v > 63)
                return gan_fail(err, "bad device '%s': expected cuda:N with N a GPU index", text);
            index = (int)v;
        } else if (*rest) {
            return gan_fail(err, "bad device '%s': expected cpu, cuda or cuda:N", text);
        }
        *device = (gan_device){GAN_DEVICE_CUDA, index};
        return 0;
    }
    return gan_fail(err, "bad device '%s': expected cpu, cuda or cuda:N", text);
}

gan_ctx *gan_ctx_new(gan_device device, int threads, gan_error *err) {
    const gan_backend *backend =
        device.type == GAN_DEVICE_CPU ? gan_cpu_backend() : gan_cuda_backend(device.index, err);
    if (!backend) return NULL;
    gan_ctx *ctx = calloc(1, sizeof *ctx);
    gan_pool *pool = calloc(1, sizeof *pool);
    if (!ctx || !pool) {
        free(ctx);
        free(pool);
        gan_fail(err, "out of memory creating a context");
        return NULL;
    }
    pool->cache_limit = GAN_POOL_DEFAULT_CACHE;
    ctx->device = device;
    ctx->backend = backend;
    ctx->pool = pool;
    ctx->threads = threads;
    if (backend->init && backend->init(ctx, err) != 0) {
        free(pool);
        free(ctx);
        return NULL;
    }
    return ctx;
}

static void pool_drop_cache(gan_ctx *ctx) {
    gan_pool *pool = ctx->pool;
    for (int i = 0; i < pool->count; i++) ctx->backend->free(ctx, pool->cached[i].ptr);
    pool->count = 0;
    pool->bytes_cached = 0;
}

void gan_ctx_free(gan_ctx *ctx) {
    if (!ctx) return;
    pool_drop_cache(ctx);
    if (ctx->backend->shutdown) ctx->backend->shutdown(ctx);
    free(ctx->pool->cached);
    free(ctx->pool);
    free(ctx);
}

void *gan_ctx_fail(gan_ctx *ctx, const char *fmt, ...) {
    if (ctx->failed) return NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error.msg, sizeof ctx->error.msg, fmt, ap);
    va_end(ap);
    ctx->failed = 1;
    return NULL;
}

int gan_ctx_failed(const gan_ctx *ctx) { return ctx->failed; }

int gan_ctx_take_error(gan_ctx *ctx, gan_error *err) {
    if (err) *err = ctx->error;
    if (!ctx->failed && err) snprintf(err->msg, sizeof err->msg, "unknown error");
    ctx->failed = 0;
    ctx->error.msg[0] = 0;
    return -1;
}

void *gan_ctx_alloc(gan_ctx *ctx, size_t bytes) {
    gan_pool *pool = ctx->pool;
    if (bytes == 0) bytes = 1;
    for (int i = pool->count - 1; i >= 0; i--) {
        if (pool->cached[i].bytes != bytes) continue;
        void *ptr = pool->cached[i].ptr;
        pool->cached[i] = pool->cached[--pool->count];
        pool->bytes_cached -= bytes;
        pool->bytes_live += bytes;
        return ptr;
    }
    void *ptr = ctx->backend->alloc(ctx, bytes);
    if (!ptr) {
        /* Cached buffers of other sizes may be what stands in the way. */
        pool_drop_cache(ctx);
        ptr = ctx->backend->alloc(ctx, bytes);
    }
    if (!ptr) return gan_ctx_fail(ctx, "out of %s memory allocating %zu bytes", ctx->backend->name, bytes);
    pool->bytes_live += bytes;
    return ptr;
}

void gan_ctx_release(gan_ctx *ctx, void *ptr, size_t bytes) {
    if (!ptr) return;
    gan_pool *pool = ctx->pool;
    if (bytes == 0) bytes = 1;
    pool->bytes_live -= bytes;
    if (pool->bytes_cached + bytes > pool->cache_limit) {
        ctx->backend->free(ctx, ptr);
        return;
    }
    if (pool->count == pool->capacity) {
        int capacity = pool->capacity ? pool->capacity * 2 : 64;
        pool_block *grown = realloc(pool->cached, (size_t)capacity * sizeof *grown);
        if (!grown) {
            ctx->backend->free(ctx, ptr);
            return;
        }
        pool->cached = grown;
        pool->capacity = capacity;
    }
    pool->cached[pool->count++] = (pool_block){ptr, bytes};
    pool->bytes_cached += bytes;
}

size_t gan_ctx_bytes_live(const gan_ctx *ctx) { return ctx->pool->bytes_live; }
size_t gan_ctx_bytes_cached(const gan_ctx *ctx) { return ctx->pool->bytes_cached; }

void gan_ctx_set_cache_limit(gan_ctx *ctx, size_t bytes) {
    ctx->pool->cache_limit = bytes;
    if (ctx->pool->bytes_cached > bytes) pool_drop_cache(ctx);
}

double gan_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void gan_ctx_profile(gan_ctx *ctx, int on) {
    ctx->profiling = on;
    memset(ctx->profile, 0, sizeof ctx->profile);
}

void gan_ctx_profile_add(gan_ctx *ctx, const char *op, double seconds) {
    for (int i = 0; i < GAN_PROFILE_MAX_OPS; i++) {
        gan_profile_entry *e = &ctx->profile[i];
        if (e->op && strcmp(e->op, op) != 0) continue;
        e->op = op;
        e->calls++;
        e->seconds += seconds;
        return;
    }
}

static int by_time(const void *a, const void *b) {
    double x = ((const gan_profile_entry *)a)->seconds, y = ((const gan_profile_entry *)b)->seconds;
    return (x < y) - (x > y);
}

void gan_ctx_profile_print(const gan_ctx *ctx, FILE *out) {
    gan_profile_entry sorted[GAN_PROFILE_MAX_OPS];
    memcpy(sorted, ctx->profile, sizeof sorted);
    qsort(sorted, GAN_PROFILE_MAX_OPS, sizeof *sorted, by_time);
    double total = 0;
    for (int i = 0; i < GAN_PROFILE_MAX_OPS; i++) total += sorted[i].seconds;
    fprintf(out, "%-22s %8s %10s %6s\n", "op", "calls", "ms", "share");
    for (int i = 0; i < GAN_PROFILE_MAX_OPS && sorted[i].op; i++)
        fprintf(out, "%-22s %8ld %10.1f %5.1f%%\n", sorted[i].op, sorted[i].calls, sorted[i].seconds * 1e3,
                total > 0 ? 100 * sorted[i].seconds / total : 0);
}
