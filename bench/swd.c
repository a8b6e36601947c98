/* Times the SWD metric (gan/metrics/swd.c) on real images: descriptor
 * extraction of N reals and N fakes, then the distance; prints one JSON
 * object. bench/swd runs it at 64 and 256 px beside the NumPy reference.
 *   bench_swd --data DIR [--fakes DIR2] --num N [--threads T] [--seed S]
 * Reals are images 0 .. N-1 of DIR (sorted by path, subfolders included),
 * fakes images 0 .. N-1 of DIR2 or else N .. 2N-1 of DIR, as
 * tools/reference/swd.py takes them. */
#include <cblas.h>
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "gan/blas.h"
#include "gan/context.h"
#include "gan/io/image.h"
#include "gan/metrics/swd.h"

typedef struct name_list {
    char **names;
    int count, capacity;
} name_list;

static int is_image(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && gan_image_format_from_name(dot) != GAN_IMAGE_UNKNOWN;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every image below dir, as paths. */
static void list_images(const char *dir, name_list *out) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR) {
            list_images(path, out);
        } else if (is_image(e->d_name)) {
            if (out->count == out->capacity) {
                out->capacity = out->capacity ? 2 * out->capacity : 256;
                out->names = realloc(out->names, (size_t)out->capacity * sizeof *out->names);
            }
            out->names[out->count++] = strdup(path);
        }
    }
    closedir(d);
}

static uint8_t *load(char **paths, int count, int *res) {
    uint8_t *out = NULL;
    for (int i = 0; i < count; i++) {
        gan_image img;
        gan_error err;
        if (gan_image_load(paths[i], &img, &err) != 0 || gan_image_convert(&img, 3, &err) != 0) {
            fprintf(stderr, "bench_swd: %s\n", err.msg);
            exit(1);
        }
        if (i == 0) {
            *res = img.width;
            out = malloc((size_t)count * 3 * img.width * img.width);
        }
        if (img.width != *res || img.height != *res) {
            fprintf(stderr, "bench_swd: %s is not %d px\n", paths[i], *res);
            exit(1);
        }
        size_t plane = (size_t)*res * *res;
        for (int c = 0; c < 3; c++)
            for (size_t p = 0; p < plane; p++) out[(size_t)i * 3 * plane + c * plane + p] = img.pixels[p * 3 + c];
        gan_image_free(&img);
    }
    return out;
}

int main(int argc, char **argv) {
    gan_blas_select_kernels(argv);
    const char *data = NULL, *fakes_dir = NULL;
    int num = 1000, threads = 2, seed = 0;
    static const struct option longopts[] = {{"data", required_argument, 0, 'd'},
                                             {"num", required_argument, 0, 'n'},
                                             {"threads", required_argument, 0, 't'},
                                             {"seed", required_argument, 0, 's'},
                                             {"fakes", required_argument, 0, 'f'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd') data = optarg;
        else if (c == 'n') num = atoi(optarg);
        else if (c == 't') threads = atoi(optarg);
        else if (c == 's') seed = atoi(optarg);
        else if (c == 'f') fakes_dir = optarg;
        else return 2;
    }
    if (!data || num < 1) {
        fprintf(stderr, "usage: bench_swd --data DIR --num N [--threads T] [--seed S]\n");
        return 2;
    }
    name_list list = {0}, other = {0};
    list_images(data, &list);
    if (fakes_dir) list_images(fakes_dir, &other);
    if (list.count < (fakes_dir ? num : 2 * num) || (fakes_dir && other.count < num)) {
        fprintf(stderr, "bench_swd: not enough images for --num %d\n", num);
        return 1;
    }
    qsort(list.names, (size_t)list.count, sizeof *list.names, compare_names);
    if (other.count) qsort(other.names, (size_t)other.count, sizeof *other.names, compare_names);
    int res = 0, res_f = 0;
    uint8_t *reals = load(list.names, num, &res);
    uint8_t *fakes = load(fakes_dir ? other.names : list.names + num, num, &res_f);
    if (res != res_f) return 1;
    openblas_set_num_threads(threads);
    gan_swd_params p = GAN_SWD_DEFAULTS;
    p.threads = threads;
    p.seed = (uint32_t)seed;
    gan_error err;
    gan_swd *swd = gan_swd_new(&p, 3, res, &err);
    gan_swd_result r;
    double t0 = gan_seconds();
    int rc = swd ? gan_swd_add_reals(swd, reals, num, &err) : -1;
    if (rc == 0) rc = gan_swd_add_fakes(swd, fakes, num, &err);
    double t1 = gan_seconds();
    if (rc == 0) rc = gan_swd_compute(swd, &r, &err);
    double t2 = gan_seconds();
    if (rc != 0) {
        fprintf(stderr, "bench_swd: %s\n", err.msg);
        return 1;
    }
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    printf("{\"resolution\": %d, \"num\": %d, \"threads\": %d, \"descriptors_s\": %.3f, \"distance_s\": %.3f, "
           "\"images_per_s\": %.1f, \"swd_avg\": %.4f, \"peak_rss_mb\": %.0f}\n",
           res, num, threads, t1 - t0, t2 - t1, 2.0 * num / (t2 - t0), r.average, u.ru_maxrss / 1024.0);
    gan_swd_free(swd);
    free(reals);
    free(fakes);
    for (int i = 0; i < list.count; i++) free(list.names[i]);
    for (int i = 0; i < other.count; i++) free(other.names[i]);
    free(list.names);
    free(other.names);
    return 0;
}
