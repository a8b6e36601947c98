/* Metric results and the metric-<name>.jsonl log, one JSON object per line
 * in the style of stylegan2-ada-pytorch's metric_main.report_metric:
 *   {"results": {"swd_64": 41.2, ..., "swd_avg": 30.1}, "metric": "swd",
 *    "total_time": 12.5, "total_time_str": "12s", "num_images": 1000,
 *    "snapshot_pkl": "network-snapshot-000400.safetensors", "timestamp": 1.7e9}
 * Shared by `dne metrics` and by training's periodic evaluation. */
#ifndef GAN_METRICS_METRIC_LOG_H
#define GAN_METRICS_METRIC_LOG_H

#include "../error.h"

#define GAN_METRIC_MAX_VALUES 16
#define GAN_METRIC_NAME_LEN 32

typedef struct gan_metric_results {
    int count;
    char name[GAN_METRIC_MAX_VALUES][GAN_METRIC_NAME_LEN];
    double value[GAN_METRIC_MAX_VALUES];
} gan_metric_results;

/* Adds one value; names longer than GAN_METRIC_NAME_LEN - 1 are cut, values
 * beyond GAN_METRIC_MAX_VALUES dropped (the metrics here have a few). */
void gan_metric_results_add(gan_metric_results *r, const char *name, double value);

typedef struct gan_metric_report {
    const char *metric;   /* "swd" */
    const gan_metric_results *results;
    double total_time;    /* seconds */
    int num_images;
    const char *snapshot; /* the network file measured; NULL: null */
    double timestamp;     /* seconds since the epoch */
} gan_metric_report;

/* The line, without a newline (malloc'd; NULL when out of memory). Values
 * that are not finite become null, as JSON has no NaN. */
char *gan_metric_report_json(const gan_metric_report *report);

/* Appends the line and a newline to path (created if missing) with one
 * write() on an O_APPEND descriptor, then fsync, so concurrent writers do not
 * interleave and a completed call survives a crash. */
int gan_metric_report_append(const char *path, const gan_metric_report *report, gan_error *err);

#endif
