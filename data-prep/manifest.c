/* The manifest file: loading it for a resume, appending to it safely. */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "gan/io/file.h"

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int add_kept(prep_manifest *m, const char *file, int label, uint64_t phash) {
    if (m->kept_count == m->kept_cap) {
        int cap = m->kept_cap ? 2 * m->kept_cap : 256;
        prep_kept *k = realloc(m->kept, (size_t)cap * sizeof *k);
        if (!k) return -1;
        m->kept = k;
        m->kept_cap = cap;
    }
    char *copy = strdup(file);
    if (!copy) return -1;
    m->kept[m->kept_count++] = (prep_kept){copy, label, phash};
    return 0;
}

static int add_done(prep_manifest *m, int *cap, const char *source) {
    if (m->done_count && strcmp(m->done[m->done_count - 1], source) == 0) return 0; /* faces of one source */
    if (m->done_count == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        char **d = realloc(m->done, (size_t)*cap * sizeof *d);
        if (!d) return -1;
        m->done = d;
    }
    return (m->done[m->done_count] = strdup(source)) ? (m->done_count++, 0) : -1;
}

/* One line of an earlier run. */
static int load_line(prep_manifest *m, int *cap, char *line, long line_no, gan_error *err) {
    cJSON *obj = cJSON_Parse(line);
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(obj, "source");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
    int rc = 0;
    if (!cJSON_IsString(source) || !cJSON_IsString(status)) {
        rc = gan_fail(err, "line %ld is not a manifest entry", line_no);
    } else {
        rc = add_done(m, cap, source->valuestring);
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(obj, "file");
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(obj, "label");
        const cJSON *phash = cJSON_GetObjectItemCaseSensitive(obj, "phash");
        if (rc == 0 && strcmp(status->valuestring, "ok") == 0 && cJSON_IsString(file))
            rc = add_kept(m, file->valuestring, cJSON_IsNumber(label) ? label->valueint : -1,
                          cJSON_IsString(phash) ? strtoull(phash->valuestring, NULL, 16) : 0);
        if (rc != 0) gan_fail(err, "out of memory");
    }
    cJSON_Delete(obj);
    return rc;
}

/* Loads complete lines and cuts a partial last line (a kill mid-write) off the file. */
static int load_existing(prep_manifest *m, const char *path, gan_error *err) {
    uint8_t *data;
    size_t size;
    if (access(path, F_OK) != 0) return 0;
    if (gan_read_file(path, (size_t)1 << 34, &data, &size, err) != 0) return -1;
    char *text = (char *)data;
    size_t complete = 0;
    int rc = 0, cap = 0;
    long line_no = 0;
    for (char *p = text, *nl; rc == 0 && (nl = memchr(p, '\n', size - (size_t)(p - text))); p = nl + 1) {
        *nl = 0;
        line_no++;
        if (*p) rc = load_line(m, &cap, p, line_no, err);
        complete = (size_t)(nl + 1 - text);
    }
    free(data);
    if (rc == 0 && complete < size && truncate(path, (off_t)complete) != 0)
        rc = gan_fail(err, "cannot cut the partial last line: %s", strerror(errno));
    if (rc == 0 && m->done_count > 1) qsort(m->done, (size_t)m->done_count, sizeof *m->done, compare_strings);
    return rc != 0 ? gan_fail_context(err, "%s", path) : 0;
}

int prep_manifest_open(prep_manifest *m, const char *path, gan_error *err) {
    *m = (prep_manifest){.fd = -1};
    pthread_mutex_init(&m->lock, NULL);
    if (load_existing(m, path, err) != 0) return -1;
    m->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (m->fd < 0) return gan_fail(err, "%s: %s", path, strerror(errno));
    return 0;
}

int prep_manifest_has(const prep_manifest *m, const char *source) {
    return m->done_count &&
           bsearch(&source, m->done, (size_t)m->done_count, sizeof *m->done, compare_strings) != NULL;
}

int prep_manifest_append(prep_manifest *m, const char *lines, size_t n, const prep_kept *kept, int kept_count,
                         gan_error *err) {
    pthread_mutex_lock(&m->lock);
    int rc = 0;
    for (size_t done = 0; rc == 0 && done < n;) {
        ssize_t w = write(m->fd, lines + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            rc = gan_fail(err, "writing the manifest: %s", strerror(errno));
        else
            done += (size_t)w;
    }
    for (int i = 0; rc == 0 && i < kept_count; i++)
        if (add_kept(m, kept[i].file, kept[i].label, kept[i].phash) != 0) rc = gan_fail(err, "out of memory");
    pthread_mutex_unlock(&m->lock);
    return rc;
}

void prep_manifest_close(prep_manifest *m) {
    if (m->fd >= 0) {
        fsync(m->fd);
        close(m->fd);
    }
    for (int i = 0; i < m->done_count; i++) free(m->done[i]);
    free(m->done);
    for (int i = 0; i < m->kept_count; i++) free(m->kept[i].file);
    free(m->kept);
    pthread_mutex_destroy(&m->lock);
    *m = (prep_manifest){.fd = -1};
}
