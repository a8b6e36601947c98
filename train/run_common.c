#include "run_common.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "draws.h"
#include "gan/io/file.h"
#include "gan/io/tensor_image.h"
#include "gan/rng.h"

/* ----------------------------------------------------------- minibatches */

int sampler_init(sampler *s, gan_dataset *ds, int mirror, uint64_t seed, gan_error *err) {
    int r = gan_dataset_resolution(ds), c = gan_dataset_channels(ds);
    *s = (sampler){ds, gan_dataset_count(ds) * (mirror ? 2 : 1), seed, -1, NULL, NULL};
    s->perm = malloc((size_t)s->count * sizeof *s->perm);
    s->pixels = malloc((size_t)c * r * r);
    if (!s->perm || !s->pixels) {
        sampler_free(s);
        return gan_fail(err, "out of memory");
    }
    return 0;
}

void sampler_free(sampler *s) {
    free(s->perm);
    free(s->pixels);
    s->perm = NULL;
    s->pixels = NULL;
}

static void permute(sampler *s, int64_t epoch) {
    for (int i = 0; i < s->count; i++) s->perm[i] = i;
    float *u = malloc((size_t)s->count * sizeof *u);
    if (!u) return; /* identity order: still a valid order */
    gan_philox_uniform(draws_stream(s->seed, epoch, 100), 0, u, (size_t)s->count);
    for (int i = s->count - 1; i > 0; i--) {
        int j = (int)(u[i] * (float)(i + 1));
        if (j > i) j = i;
        int t = s->perm[i];
        s->perm[i] = s->perm[j], s->perm[j] = t;
    }
    free(u);
    s->epoch = epoch;
}

gan_tensor *sampler_batch(gan_ctx *ctx, sampler *s, int64_t pos, int n, int *classes, gan_error *err) {
    int c = gan_dataset_channels(s->ds), r = gan_dataset_resolution(s->ds), real = gan_dataset_count(s->ds);
    size_t per = (size_t)c * r * r;
    float *host = malloc((size_t)n * per * sizeof *host);
    if (!host) return gan_fail(err, "out of memory"), NULL;
    for (int i = 0; i < n; i++) {
        int64_t at = pos + i;
        if (at / s->count != s->epoch) permute(s, at / s->count);
        int k = s->perm[at % s->count], flip = k >= real, index = flip ? k - real : k;
        if (gan_dataset_read(s->ds, index, s->pixels, NULL, err) != 0) {
            free(host);
            return NULL;
        }
        if (classes) classes[i] = gan_dataset_label_index(s->ds, index);
        float *dst = host + (size_t)i * per;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < r; y++)
                for (int x = 0; x < r; x++) {
                    uint8_t v = s->pixels[((size_t)ch * r + y) * r + (flip ? r - 1 - x : x)];
                    dst[((size_t)ch * r + y) * r + x] = (float)v / 127.5f - 1.0f;
                }
    }
    gan_tensor *t = gan_tensor_from_host(ctx, 4, (int64_t[]){n, c, r, r}, host);
    free(host);
    if (!t) gan_ctx_take_error(ctx, err);
    return t;
}

/* ------------------------------------------------------------- run folder */

int run_make_dir(const char *outdir, const char *name, const char *cfg, char *path, size_t size, gan_error *err) {
    if (gan_mkdirs(outdir, err) != 0) return -1;
    DIR *d = opendir(outdir);
    if (!d) return gan_fail(err, "%s: %s", outdir, strerror(errno));
    int next = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (end != e->d_name && *end == '-' && v >= next) next = (int)v + 1;
    }
    closedir(d);
    if ((size_t)snprintf(path, size, "%s/%05d-%s-%s", outdir, next, name, cfg) >= size)
        return gan_fail(err, "run folder name too long");
    if (mkdir(path, 0777) != 0) return gan_fail(err, "%s: %s", path, strerror(errno));
    return 0;
}

int run_open_files(run_files *f, const char *options_json, gan_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/training_options.json", f->dir);
    int rc = options_json ? gan_write_file_atomic(path, options_json, strlen(options_json), err)
                          : gan_fail(err, "out of memory");
    snprintf(path, sizeof path, "%s/log.txt", f->dir);
    if (rc == 0 && !(f->log = fopen(path, "a"))) rc = gan_fail(err, "%s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/stats.jsonl", f->dir);
    if (rc == 0 && !(f->stats = fopen(path, "a"))) rc = gan_fail(err, "%s: %s", path, strerror(errno));
    return rc;
}

void run_close_files(run_files *f) {
    if (f->log) fclose(f->log);
    if (f->stats) fclose(f->stats);
    f->log = f->stats = NULL;
}

void run_say(run_files *f, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
    if (f->log) fprintf(f->log, "%s\n", line), fflush(f->log);
}

int run_save_grid(gan_ctx *ctx, const gan_tensor *images, int cols, int rows, const char *path, gan_error *err) {
    int c = (int)images->shape[1], r = (int)images->shape[2], n = (int)images->shape[0];
    float *host = malloc((size_t)images->numel * sizeof *host);
    gan_image sheet = {0};
    int rc = !host ? gan_fail(err, "out of memory") : gan_image_alloc(&sheet, cols * r, rows * r, c == 1 ? 1 : 3, err);
    if (rc == 0) rc = gan_tensor_download(ctx, images, host) == 0 ? 0 : gan_ctx_take_error(ctx, err);
    for (int i = 0; rc == 0 && i < n && i < cols * rows; i++)
        rc = gan_image_paste_chw(&sheet, i % cols * r, i / cols * r, host + (size_t)i * c * r * r, c, r, r, err);
    if (rc == 0) rc = gan_image_save(path, &sheet, GAN_IMAGE_PNG, 0, err);
    gan_image_free(&sheet);
    free(host);
    return rc;
}

/* ----------------------------------------------------------------- signals */

static volatile sig_atomic_t stop_requested = 0;
static struct sigaction old_int, old_term;

static void request_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}

void run_catch_stop_signals(void) {
    struct sigaction sa = {0};
    sa.sa_handler = request_stop;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

void run_restore_signals(void) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
}

int run_stop_requested(void) { return stop_requested; }
