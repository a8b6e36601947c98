/* Running the crop pipeline over a folder. */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "gan/io/file.h"

/* ---------------------------------------------------------------- inputs */

typedef struct input_list {
    char **names;
    int count, cap;
} input_list;

static int push_input(input_list *l, const char *name) {
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 1024;
        char **n = realloc(l->names, (size_t)cap * sizeof *n);
        if (!n) return -1;
        l->names = n;
        l->cap = cap;
    }
    return (l->names[l->count] = strdup(name)) ? (l->count++, 0) : -1;
}

/* Text files beside the pictures (metadata, notes) are not inputs. */
static int is_text_file(const char *name) {
    static const char *ext[] = {".json", ".jsonl", ".txt", ".csv", ".md", ".xml"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t k = strlen(ext[i]);
        if (n >= k && strcasecmp(name + n - k, ext[i]) == 0) return 1;
    }
    return 0;
}

/* Every file under in/rel except dot files and the output folder. */
static int list_inputs(const char *in, const char *rel, const struct stat *out_st, input_list *l, gan_error *err) {
    char dir_path[PATH_MAX];
    snprintf(dir_path, sizeof dir_path, "%s%s%s", in, *rel ? "/" : "", rel);
    DIR *dir = opendir(dir_path);
    if (!dir) return gan_fail(err, "reading folder %s: %s", dir_path, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        char child_rel[PATH_MAX], child[PATH_MAX + 8];
        snprintf(child_rel, sizeof child_rel, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(child, sizeof child, "%s/%s", in, child_rel);
        struct stat st;
        if (stat(child, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (!(out_st && st.st_dev == out_st->st_dev && st.st_ino == out_st->st_ino))
                rc = list_inputs(in, child_rel, out_st, l, err);
        } else if (S_ISREG(st.st_mode) && !is_text_file(e->d_name) && push_input(l, child_rel) != 0) {
            rc = gan_fail(err, "out of memory");
        }
    }
    closedir(dir);
    return rc;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---------------------------------------------------------------- workers */

typedef struct worker_pool {
    prep_run *run;
    input_list *todo;
    atomic_int next;
    atomic_int failed;
    pthread_mutex_t err_lock;
    gan_error err;
} worker_pool;

static void *worker(void *arg) {
    worker_pool *pool = arg;
    gan_error err = {{0}};
    prep_detector *det = prep_detector_load(pool->run->o->cascade, &err);
    int rc = det ? 0 : -1;
    while (rc == 0 && !atomic_load(&pool->failed)) {
        int i = atomic_fetch_add(&pool->next, 1);
        if (i >= pool->todo->count) break;
        rc = prep_process_image(pool->run, det, pool->todo->names[i], &err);
    }
    if (rc != 0 && !atomic_exchange(&pool->failed, 1)) pool->err = err;
    prep_detector_free(det);
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* On a terminal the line redraws itself; in a log each report is a line. */
static void print_progress(prep_run *run, int total, double start, int final, int tty) {
    long done = atomic_load(&run->images_done), ok = atomic_load(&run->counts[PREP_OK]);
    double elapsed = now() - start, rate = elapsed > 0 ? (double)done / elapsed : 0;
    int width = 30, filled = total ? (int)((double)width * (double)done / total) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "%s[%s] %ld/%d images, %ld crops, %.1f images/s%s", tty ? "\r" : "", bar, done, total, ok, rate,
            final || !tty ? "\n" : "   ");
    fflush(stderr);
}

static int run_workers(prep_run *run, input_list *todo, gan_error *err) {
    int n = run->o->threads > 0 ? run->o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > todo->count && todo->count > 0) n = todo->count;
    /* Our workers split the images; OpenCV's own pool would only fight them. */
    prep_set_opencv_threads(1);
    worker_pool pool = {.run = run, .todo = todo};
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    if (!threads) return gan_fail(err, "out of memory");
    double start = now();
    for (int t = 0; t < n; t++) pthread_create(&threads[t], NULL, worker, &pool);
    int tty = isatty(2);
    double last = start;
    while (atomic_load(&run->images_done) < todo->count && !atomic_load(&pool.failed)) {
        usleep(100000);
        double t = now();
        if (!run->o->quiet && t - last >= (tty ? 0.25 : 10.0)) {
            print_progress(run, todo->count, start, 0, tty);
            last = t;
        }
    }
    for (int t = 0; t < n; t++) pthread_join(threads[t], NULL);
    free(threads);
    if (!run->o->quiet) print_progress(run, todo->count, start, 1, tty);
    if (atomic_load(&pool.failed)) {
        *err = pool.err;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- setup and results */

static int post_passes(const prep_post *post, const void *ctx) {
    const prep_options *o = ctx;
    const char *detail;
    prep_options without_classes = *o;
    without_classes.classes_top = 0;
    return prep_check_post(&without_classes, post, &detail) == PREP_OK;
}

static int load_metadata(prep_run *run, gan_error *err) {
    const prep_options *o = run->o;
    if (!o->metadata) {
        if (o->classes_top > 0) return gan_fail(err, "--classes needs --metadata");
        return 0;
    }
    if (prep_danbooru_load(o->metadata, &run->db, err) != 0) return -1;
    run->have_db = 1;
    if (o->classes_top > 0) return prep_danbooru_classes(&run->db, o->classes_top, post_passes, o, err);
    return 0;
}

/* stylegan2-ada-pytorch's dataset.json for the kept crops, plus the class names. */
static int write_dataset_json(prep_run *run, gan_error *err) {
    cJSON *root = cJSON_CreateObject(), *labels = cJSON_AddArrayToObject(root, "labels");
    for (int i = 0; i < run->manifest.kept_count; i++) {
        const prep_kept *k = &run->manifest.kept[i];
        if (k->label < 0) continue;
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(k->file));
        cJSON_AddItemToArray(pair, cJSON_CreateNumber(k->label));
        cJSON_AddItemToArray(labels, pair);
    }
    cJSON_AddItemToObject(root, "class_names",
                          cJSON_CreateStringArray((const char *const *)run->db.class_names, run->db.class_count));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/dataset.json", run->o->out);
    int rc = text ? gan_write_file_atomic(path, text, strlen(text), err) : gan_fail(err, "out of memory");
    free(text);
    return rc;
}

static void print_summary(const prep_run *run, int skipped) {
    fprintf(stderr, "dne prep crop: %ld images this run", atomic_load(&run->images_done));
    if (skipped) fprintf(stderr, " (%d already in the manifest)", skipped);
    fprintf(stderr, ", %d crops in %s\n", run->manifest.kept_count, run->o->out);
    for (int s = 0; s < PREP_STATUS_COUNT; s++) {
        long n = atomic_load(&run->counts[s]);
        if (n) fprintf(stderr, "  %-16s %ld\n", prep_status_name((prep_status)s), n);
    }
}

static int crop_all(prep_run *run, gan_error *err) {
    const prep_options *o = run->o;
    struct stat out_st;
    input_list all = {0}, todo = {0};
    int rc = stat(o->out, &out_st);
    rc = list_inputs(o->in, "", rc == 0 ? &out_st : NULL, &all, err);
    if (rc == 0) qsort(all.names, (size_t)all.count, sizeof *all.names, compare_strings);
    for (int i = 0; rc == 0 && i < all.count; i++) {
        char source[PATH_MAX * 2];
        snprintf(source, sizeof source, "%s/%s", o->in, all.names[i]);
        if (!prep_manifest_has(&run->manifest, source)) rc = push_input(&todo, all.names[i]);
    }
    if (rc == 0) rc = run_workers(run, &todo, err);
    if (rc == 0 && o->classes_top > 0) rc = write_dataset_json(run, err);
    if (rc == 0 && !o->quiet) print_summary(run, all.count - todo.count);
    for (int i = 0; i < all.count; i++) free(all.names[i]);
    for (int i = 0; i < todo.count; i++) free(todo.names[i]);
    free(all.names);
    free(todo.names);
    return rc;
}

int prep_crop_run(const prep_options *o, gan_error *err) {
    prep_run *run = calloc(1, sizeof *run);
    if (!run) return gan_fail(err, "out of memory");
    run->o = o;
    run->manifest.fd = -1;
    prep_dedup_init(&run->dedup, o->dup_distance);
    char manifest_path[PATH_MAX];
    snprintf(manifest_path, sizeof manifest_path, "%s/manifest.jsonl", o->out);
    /* The cascade is loaded once here so that a bad path fails before any work. */
    prep_detector *probe = prep_detector_load(o->cascade, err);
    int rc = probe ? 0 : -1;
    prep_detector_free(probe);
    if (rc == 0) rc = gan_mkdirs(o->out, err);
    if (rc == 0) rc = load_metadata(run, err);
    if (rc == 0) rc = prep_manifest_open(&run->manifest, manifest_path, err);
    /* Crops kept by earlier runs still count for duplicates. */
    for (int i = 0; rc == 0 && o->filter_dup && i < run->manifest.kept_count; i++)
        if (run->manifest.kept[i].phash) prep_dedup_check_add(&run->dedup, run->manifest.kept[i].phash);
    if (rc == 0) rc = crop_all(run, err);
    prep_manifest_close(&run->manifest);
    prep_dedup_free(&run->dedup);
    prep_danbooru_free(&run->db);
    free(run);
    return rc;
}
