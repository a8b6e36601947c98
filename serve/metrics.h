/* Counters of the daemon, exposed at /metrics in Prometheus' text format.
 * Updated from many threads with atomics; no locks. */
#ifndef DNE_SERVE_METRICS_H
#define DNE_SERVE_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#define METRICS_STATUSES 12 /* the statuses the daemon sends, and "other" */
#define METRICS_BUCKETS 10  /* render-time histogram bounds, plus +Inf */

typedef struct serve_metrics {
    atomic_long requests[METRICS_STATUSES];
    atomic_long renders[2]; /* for the pool, on demand */
    atomic_long render_failures;
    atomic_long render_bucket[METRICS_BUCKETS + 1];
    atomic_long render_microseconds;
    atomic_long bytes_sent;
} serve_metrics;

void metrics_init(serve_metrics *m);
void metrics_request(serve_metrics *m, unsigned status, size_t bytes);
void metrics_render(serve_metrics *m, double seconds, int on_demand, int ok);

/* Gauges sampled when /metrics is asked for. */
typedef struct metrics_gauges {
    int pool_faces, pool_capacity, cache_faces, queue_length, queue_capacity;
    size_t memory_bytes;
    double uptime_seconds;
} metrics_gauges;

/* The exposition text (malloc'd), or NULL when out of memory. */
char *metrics_text(serve_metrics *m, const metrics_gauges *g);

#endif
