#include "metric_log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gan_metric_results_add(gan_metric_results *r, const char *name, double value) {
    if (r->count >= GAN_METRIC_MAX_VALUES) return;
    snprintf(r->name[r->count], GAN_METRIC_NAME_LEN, "%s", name);
    r->value[r->count] = value;
    r->count++;
}

/* dnnlib.util.format_time, so the log reads like the reference's. */
static void format_time(double seconds, char *out, size_t size) {
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s < 60)
        snprintf(out, size, "%lds", s);
    else if (s < 60 * 60)
        snprintf(out, size, "%ldm %02lds", s / 60, s % 60);
    else if (s < 24 * 60 * 60)
        snprintf(out, size, "%ldh %02ldm %02lds", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, size, "%ldd %02ldh %02ldm", s / 86400, s / 3600 % 24, s / 60 % 60);
}

static cJSON *number_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

char *gan_metric_report_json(const gan_metric_report *report) {
    cJSON *root = cJSON_CreateObject(), *results = cJSON_CreateObject();
    if (!root || !results) {
        cJSON_Delete(root);
        cJSON_Delete(results);
        return NULL;
    }
    for (int i = 0; i < report->results->count; i++)
        cJSON_AddItemToObject(results, report->results->name[i], number_or_null(report->results->value[i]));
    char time_str[64];
    format_time(report->total_time, time_str, sizeof time_str);
    cJSON_AddItemToObject(root, "results", results);
    cJSON_AddStringToObject(root, "metric", report->metric);
    cJSON_AddItemToObject(root, "total_time", number_or_null(report->total_time));
    cJSON_AddStringToObject(root, "total_time_str", time_str);
    cJSON_AddNumberToObject(root, "num_images", report->num_images);
    if (report->snapshot)
        cJSON_AddStringToObject(root, "snapshot_pkl", report->snapshot);
    else
        cJSON_AddNullToObject(root, "snapshot_pkl");
    cJSON_AddItemToObject(root, "timestamp", number_or_null(report->timestamp));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

static int write_all(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

int gan_metric_report_append(const char *path, const gan_metric_report *report, gan_error *err) {
    char *json = gan_metric_report_json(report);
    if (!json) return gan_fail(err, "out of memory");
    size_t len = strlen(json);
    char *line = malloc(len + 2);
    if (!line) {
        free(json);
        return gan_fail(err, "out of memory");
    }
    memcpy(line, json, len);
    line[len] = '\n';
    free(json);
    int rc = 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        rc = gan_fail(err, "%s: %s", path, strerror(errno));
    else if (write_all(fd, line, len + 1) != 0 || fsync(fd) != 0)
        rc = gan_fail(err, "writing %s: %s", path, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && rc == 0) rc = gan_fail(err, "writing %s: %s", path, strerror(errno));
    free(line);
    return rc;
}
