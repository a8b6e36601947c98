#include "context.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

/* The pool keeps freed device buffers for reuse: a network runs the same
 * sequence of shapes on every batch, so after the first batch nearly every
 * request finds a cached buffer and nothing is allocated (or page-faulted)
 * again. A request takes the smallest cached buffer that fits within 25%
 * waste, so layers of similar size share buffers. The cache holds at most
 * max(cache_limit, the most bytes ever live at once), so memory stays within
 * twice the peak of live tensors, and in practice close to it. */
typedef struct pool_block {
    void *ptr;
    size_t bytes;
} pool_block;

typedef struct block_list {
    pool_block *items;
    int count, capacity;
} block_list;

struct gan_pool {
    block_list cached, live;
    size_t bytes_cached, bytes_live, peak_live, cache_limit;
    long reused, fresh; /* allocations served from the cache, and not */
};

static int list_push(block_list *l, pool_block b) {
    if (l->count == l->capacity) {
        int capacity = l->capacity ? l->capacity * 2 : 64;
        pool_block *grown = realloc(l->items, (size_t)capacity * sizeof *grown);
        if (!grown) return -1;
        l->items = grown;
        l->capacity = capacity;
    }
    l->items[l->count++] = b;
    return 0;
}

static pool_block list_take(block_list *l, int index) {
    pool_block b = l->items[index];
    l->items[index] = l->items[--l->count];
    return b;
}

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
    for (int i = 0; i < pool->cached.count; i++) ctx->backend->free(ctx, pool->cached.items[i].ptr);
    pool->cached.count = 0;
    pool->bytes_cached = 0;
}

void gan_ctx_free(gan_ctx *ctx) {
    if (!ctx) return;
    pool_drop_cache(ctx);
    if (ctx->backend->shutdown) ctx->backend->shutdown(ctx);
    free(ctx->pool->cached.items);
    free(ctx->pool->live.items);
    free(ctx->pool);
    free(ctx);
}

int gan_ctx_sync(gan_ctx *ctx) {
    if (ctx->failed) return -1;
    return ctx->backend->synchronize ? ctx->backend->synchronize(ctx) : 0;
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

static int best_cached_fit(const gan_pool *pool, size_t bytes) {
    int best = -1;
    for (int i = 0; i < pool->cached.count; i++) {
        size_t size = pool->cached.items[i].bytes;
        if (size >= bytes && size - bytes <= bytes / 4 && (best < 0 || size < pool->cached.items[best].bytes))
            best = i;
    }
    return best;
}

void *gan_ctx_alloc(gan_ctx *ctx, size_t bytes) {
    gan_pool *pool = ctx->pool;
    if (bytes == 0) bytes = 1;
    pool_block block = {NULL, bytes};
    int fit = best_cached_fit(pool, bytes);
    if (fit >= 0) {
        block = list_take(&pool->cached, fit);
        pool->bytes_cached -= block.bytes;
        pool->reused++;
    } else {
        block.ptr = ctx->backend->alloc(ctx, bytes);
        if (!block.ptr) {
            /* Cached buffers of other sizes may be what stands in the way. */
            pool_drop_cache(ctx);
            block.ptr = ctx->backend->alloc(ctx, bytes);
        }
        if (!block.ptr)
            return gan_ctx_fail(ctx, "out of %s memory allocating %zu bytes", ctx->backend->name, bytes);
        pool->fresh++;
    }
    if (list_push(&pool->live, block) != 0) {
        ctx->backend->free(ctx, block.ptr);
        return gan_ctx_fail(ctx, "out of memory");
    }
    pool->bytes_live += block.bytes;
    if (pool->bytes_live > pool->peak_live) pool->peak_live = pool->bytes_live;
    return block.ptr;
}

void gan_ctx_release(gan_ctx *ctx, void *ptr, size_t bytes) {
    (void)bytes; /* the pool knows the real size of the block */
    if (!ptr) return;
    gan_pool *pool = ctx->pool;
    int at = pool->live.count - 1;
    while (at >= 0 && pool->live.items[at].ptr != ptr) at--;
    if (at < 0) { /* not from this pool: a bug, but freeing it is the least harm */
        ctx->backend->free(ctx, ptr);
        return;
    }
    pool_block block = list_take(&pool->live, at);
    pool->bytes_live -= block.bytes;
    size_t limit = pool->cache_limit > 2 * pool->peak_live ? pool->cache_limit : 2 * pool->peak_live;
    if (pool->bytes_cached + block.bytes > limit || list_push(&pool->cached, block) != 0) {
        ctx->backend->free(ctx, block.ptr);
        return;
    }
    pool->bytes_cached += block.bytes;
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
    const gan_pool *pool = ctx->pool;
    fprintf(out, "memory: %ld allocations reused, %ld new; peak live %.1f MB, cached %.1f MB\n", pool->reused,
            pool->fresh, pool->peak_live / 1048576.0, pool->bytes_cached / 1048576.0);
    fprintf(out, "%-22s %8s %10s %6s\n", "op", "calls", "ms", "share");
    for (int i = 0; i < GAN_PROFILE_MAX_OPS && sorted[i].op; i++)
        fprintf(out, "%-22s %8ld %10.1f %5.1f%%\n", sorted[i].op, sorted[i].calls, sorted[i].seconds * 1e3,
                total > 0 ? 100 * sorted[i].seconds / total : 0);
}
