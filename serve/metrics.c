#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const unsigned statuses[METRICS_STATUSES - 1] = {200, 304, 400, 404, 405, 413, 414, 431, 500, 503, 429};
static const double bucket_bounds[METRICS_BUCKETS] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

void metrics_init(serve_metrics *m) {
    for (int i = 0; i < METRICS_STATUSES; i++) atomic_init(&m->requests[i], 0);
    for (int i = 0; i <= METRICS_BUCKETS; i++) atomic_init(&m->render_bucket[i], 0);
    atomic_init(&m->renders[0], 0);
    atomic_init(&m->renders[1], 0);
    atomic_init(&m->render_failures, 0);
    atomic_init(&m->render_microseconds, 0);
    atomic_init(&m->bytes_sent, 0);
}

void metrics_request(serve_metrics *m, unsigned status, size_t bytes) {
    int slot = METRICS_STATUSES - 1;
    for (int i = 0; i < METRICS_STATUSES - 1; i++)
        if (statuses[i] == status) slot = i;
    atomic_fetch_add(&m->requests[slot], 1);
    atomic_fetch_add(&m->bytes_sent, (long)bytes);
}

void metrics_render(serve_metrics *m, double seconds, int on_demand, int ok) {
    if (!ok) {
        atomic_fetch_add(&m->render_failures, 1);
        return;
    }
    atomic_fetch_add(&m->renders[on_demand ? 1 : 0], 1);
    int bucket = 0;
    while (bucket < METRICS_BUCKETS && seconds > bucket_bounds[bucket]) bucket++;
    atomic_fetch_add(&m->render_bucket[bucket], 1);
    atomic_fetch_add(&m->render_microseconds, (long)(seconds * 1e6));
}

typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void append(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *grown = realloc(t->buf, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
}

static void gauge(text *t, const char *name, const char *help, double value) {
    append(t, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, value);
}

char *metrics_text(serve_metrics *m, const metrics_gauges *g) {
    text t = {malloc(4096), 0, 4096, 0};
    if (!t.buf) return NULL;
    gauge(&t, "dne_pool_faces", "Faces in the pool.", g->pool_faces);
    gauge(&t, "dne_pool_capacity", "Faces the pool holds when full.", g->pool_capacity);
    gauge(&t, "dne_cache_faces", "Faces rendered on demand and kept.", g->cache_faces);
    gauge(&t, "dne_render_queue_length", "On-demand renders waiting.", g->queue_length);
    gauge(&t, "dne_render_queue_capacity", "On-demand renders that may wait.", g->queue_capacity);
    gauge(&t, "dne_image_memory_bytes", "Image bytes held in memory.", (double)g->memory_bytes);
    gauge(&t, "dne_uptime_seconds", "Seconds since the daemon started.", g->uptime_seconds);
    append(&t, "# HELP dne_renders_total Faces rendered.\n# TYPE dne_renders_total counter\n");
    append(&t, "dne_renders_total{for=\"pool\"} %ld\n", atomic_load(&m->renders[0]));
    append(&t, "dne_renders_total{for=\"request\"} %ld\n", atomic_load(&m->renders[1]));
    append(&t, "# HELP dne_render_failures_total Renders that failed.\n# TYPE dne_render_failures_total counter\n");
    append(&t, "dne_render_failures_total %ld\n", atomic_load(&m->render_failures));
    append(&t, "# HELP dne_render_seconds Time to render one face.\n# TYPE dne_render_seconds histogram\n");
    long cumulative = 0;
    for (int i = 0; i <= METRICS_BUCKETS; i++) {
        cumulative += atomic_load(&m->render_bucket[i]);
        if (i < METRICS_BUCKETS)
            append(&t, "dne_render_seconds_bucket{le=\"%g\"} %ld\n", bucket_bounds[i], cumulative);
        else
            append(&t, "dne_render_seconds_bucket{le=\"+Inf\"} %ld\n", cumulative);
    }
    append(&t, "dne_render_seconds_sum %.6f\ndne_render_seconds_count %ld\n",
           (double)atomic_load(&m->render_microseconds) / 1e6, cumulative);
    append(&t, "# HELP dne_http_requests_total HTTP requests by status.\n# TYPE dne_http_requests_total counter\n");
    for (int i = 0; i < METRICS_STATUSES - 1; i++)
        append(&t, "dne_http_requests_total{code=\"%u\"} %ld\n", statuses[i], atomic_load(&m->requests[i]));
    append(&t, "dne_http_requests_total{code=\"other\"} %ld\n", atomic_load(&m->requests[METRICS_STATUSES - 1]));
    append(&t, "# HELP dne_http_sent_bytes_total Response body bytes.\n# TYPE dne_http_sent_bytes_total counter\n");
    append(&t, "dne_http_sent_bytes_total %ld\n", atomic_load(&m->bytes_sent));
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
