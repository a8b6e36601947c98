/* Face detection of dne prep against OpenCV's own results and on known data:
 *  - anime_illustrations: dne's boxes agree with OpenCV 4.6's detectMultiScale
 *    (../shared/data/opencv_reference, same settings): >= 98% of OpenCV's boxes
 *    found with IoU >= 0.9, <= 2% extra boxes;
 *  - anime_patches_jonathonyan/negative_test: no face at all;
 *  - anime_faces_getchu64/heldout, upscaled x2 with a 25% white border: a face
 *    in >= 95% of them.
 * Pictures are decoded by dne (gan/io/image.c), as dne prep crop does. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "data-prep/detect.h"
#include "data-prep/pipeline.h"
#include "gan/io/file.h"
#include "gan/io/image.h"
#include "tests/test.h"

#define DATA "../shared/data/"
#define CASCADE DATA "lbpcascade_animeface/lbpcascade_animeface.xml"

static const prep_detect_params params = {1.1, 5, 24};

static double iou(const int *a, const prep_face *b) {
    double x0 = a[0] > b->x ? a[0] : b->x, y0 = a[1] > b->y ? a[1] : b->y;
    double x1 = a[0] + a[2] < b->x + b->w ? a[0] + a[2] : b->x + b->w;
    double y1 = a[1] + a[3] < b->y + b->h ? a[1] + a[3] : b->y + b->h;
    if (x1 <= x0 || y1 <= y0) return 0;
    double inter = (x1 - x0) * (y1 - y0);
    return inter / ((double)a[2] * a[3] + (double)b->w * b->h - inter);
}

/* Decodes a file the way dne prep does: alpha on white, then RGB. */
static int load_rgb(const char *path, gan_image *img, gan_error *err) {
    if (gan_image_load(path, img, err) != 0) return -1;
    if (gan_image_flatten_alpha(img, 255, err) != 0 || gan_image_convert(img, 3, err) != 0) {
        gan_image_free(img);
        return -1;
    }
    return 0;
}

typedef struct agreement {
    int reference, matched, extra, images;
    int keepable, pruned_same, pruned_other; /* faces >= KEEP_MIN; the pruned search's agreement */
} agreement;

/* dne prep crop --res 256 (margin 0.5, no --upscale) keeps faces of at least
 * 256 / 2 = 128 px and searches from prep_search_min_size = 85 px up. */
#define KEEP_MIN 128
#define PRUNED_MIN 85

/* Faces >= KEEP_MIN must come out of the pruned search with the same box and
 * neighbour count as out of the full one, and no others. */
static void compare_pruned(const prep_face *full, int n_full, const prep_face *pruned, int n_pruned, agreement *a,
                           const char *file) {
    for (int i = 0; i < n_full; i++) {
        if (full[i].w < KEEP_MIN) continue;
        a->keepable++;
        int same = 0;
        for (int j = 0; j < n_pruned; j++)
            same |= memcmp(&full[i], &pruned[j], sizeof full[i]) == 0;
        a->pruned_same += same;
        if (!same) fprintf(stderr, "  pruned search differs: %s face %d\n", file, i);
    }
    for (int j = 0; j < n_pruned; j++) {
        int found = 0;
        for (int i = 0; i < n_full; i++) found |= memcmp(&full[i], &pruned[j], sizeof full[i]) == 0;
        if (!found && pruned[j].w >= KEEP_MIN) {
            a->pruned_other++;
            fprintf(stderr, "  pruned search found another face: %s [%d %d %d %d] n=%d\n", file, pruned[j].x,
                    pruned[j].y, pruned[j].w, pruned[j].h, pruned[j].neighbors);
            for (int i = 0; i < n_full; i++)
                fprintf(stderr, "    full: [%d %d %d %d] n=%d\n", full[i].x, full[i].y, full[i].w, full[i].h,
                        full[i].neighbors);
        }
    }
}

/* Greedy one-to-one matching of reference boxes to detections at IoU >= 0.9. */
static void match(const cJSON *boxes, const prep_face *faces, int count, agreement *a, const char *file) {
    char used[1024] = {0};
    int n = cJSON_GetArraySize(boxes), matched = 0;
    for (int r = 0; r < n; r++) {
        const cJSON *b = cJSON_GetArrayItem(boxes, r);
        int box[4];
        for (int k = 0; k < 4; k++) box[k] = cJSON_GetArrayItem(b, k)->valueint;
        int best = -1;
        double best_iou = 0.9;
        for (int i = 0; i < count && i < 1024; i++) {
            double v = iou(box, &faces[i]);
            if (!used[i] && v >= best_iou) {
                best = i;
                best_iou = v;
            }
        }
        if (best >= 0) {
            used[best] = 1;
            matched++;
        } else {
            fprintf(stderr, "  missed: %s [%d %d %d %d]\n", file, box[0], box[1], box[2], box[3]);
        }
    }
    a->reference += n;
    a->matched += matched;
    a->extra += count - matched;
    if (count > matched) fprintf(stderr, "  %d extra box(es): %s\n", count - matched, file);
}

static prep_detector **load_detectors(int n) {
    prep_detector **d = calloc((size_t)n, sizeof *d);
    gan_error err;
    for (int i = 0; i < n; i++) {
        d[i] = prep_detector_load(CASCADE, &err);
        CHECKF(d[i] != NULL, "%s", err.msg);
        if (!d[i]) exit(1);
    }
    return d;
}

static void test_opencv_agreement(prep_detector **det) {
    uint8_t *text;
    size_t size;
    gan_error err;
    if (gan_read_file(DATA "opencv_reference/detections_opencv460.json", 1 << 26, &text, &size, &err) != 0) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    cJSON *root = cJSON_Parse((const char *)text);
    free(text);
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(root, "images");
    int n = cJSON_GetArraySize(images);
    const cJSON **items = calloc((size_t)n, sizeof *items);
    int count = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *im = cJSON_GetArrayItem(images, i);
        const char *file = cJSON_GetObjectItemCaseSensitive(im, "file")->valuestring;
        if (strncmp(file, "anime_illustrations/", 20) == 0 || strncmp(file, "lbpcascade_animeface/", 21) == 0)
            items[count++] = im;
    }
    agreement a = {0};
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < count; i++) {
        const char *file = cJSON_GetObjectItemCaseSensitive(items[i], "file")->valuestring;
        char path[512];
        snprintf(path, sizeof path, DATA "%s", file);
        gan_image img = {0};
        gan_error e;
        prep_face *faces = NULL, *pruned = NULL;
        int found = 0, n_pruned = 0;
        prep_detect_params pruned_params = params;
        pruned_params.min_size = PRUNED_MIN;
        int rc = load_rgb(path, &img, &e);
        if (rc == 0) rc = prep_detect(det[omp_get_thread_num()], img.pixels, img.width, img.height, 3, &params, &faces,
                                      &found, &e);
        if (rc == 0) rc = prep_detect(det[omp_get_thread_num()], img.pixels, img.width, img.height, 3, &pruned_params,
                                      &pruned, &n_pruned, &e);
#pragma omp critical
        {
            CHECKF(rc == 0, "%s: %s", file, e.msg);
            if (rc == 0) {
                match(cJSON_GetObjectItemCaseSensitive(items[i], "lbpcascade_animeface"), faces, found, &a, file);
                compare_pruned(faces, found, pruned, n_pruned, &a, file);
                a.images++;
            }
        }
        free(faces);
        free(pruned);
        gan_image_free(&img);
    }
    printf("pruned search (from %d px): %d of %d faces >= %d px identical, %d other\n", PRUNED_MIN, a.pruned_same,
           a.keepable, KEEP_MIN, a.pruned_other);
    CHECK(a.keepable > 20 && a.pruned_same == a.keepable && a.pruned_other == 0);
    double recall = a.reference ? (double)a.matched / a.reference : 0, extra = a.reference ? (double)a.extra / a.reference : 1;
    printf("opencv agreement: %d images, %d OpenCV boxes, %d matched at IoU >= 0.9 (%.1f%%), %d extra (%.1f%%)\n",
           a.images, a.reference, a.matched, 100 * recall, a.extra, 100 * extra);
    CHECK(a.images == count && count >= 236);
    CHECK(recall >= 0.98);
    CHECK(extra <= 0.02);
    free(items);
    cJSON_Delete(root);
}

/* Every file of a folder, detected in parallel; returns how many had a face. */
static int count_with_faces(prep_detector **det, const char *dir, int upscale_with_border, int *total) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s", dir);
    FILE *ls = popen(cmd, "r");
    char names[2000][64];
    int n = 0;
    while (n < 2000 && fgets(names[n], sizeof names[n], ls)) names[n][strcspn(names[n], "\n")] = 0, n++;
    pclose(ls);
    int with_face = 0;
#pragma omp parallel for schedule(dynamic, 8) reduction(+ : with_face)
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        gan_image img = {0}, big = {0};
        gan_error e;
        prep_face *faces = NULL;
        int found = 0;
        if (load_rgb(path, &img, &e) != 0) continue;
        if (upscale_with_border) {
            /* x2, then a white border of 25% of the enlarged size on each side. */
            int w2 = 2 * img.width, b = w2 / 4, side = w2 + 2 * b;
            uint8_t *up = malloc((size_t)w2 * w2 * 3);
            gan_image_alloc(&big, side, side, 3, &e);
            memset(big.pixels, 255, (size_t)side * side * 3);
            if (prep_resize(img.pixels, img.width, img.height, 3, up, w2, w2, &e) == 0)
                for (int y = 0; y < w2; y++) memcpy(big.pixels + ((size_t)(y + b) * side + b) * 3, up + (size_t)y * w2 * 3, (size_t)w2 * 3);
            free(up);
        }
        const gan_image *in = upscale_with_border ? &big : &img;
        if (prep_detect(det[omp_get_thread_num()], in->pixels, in->width, in->height, 3, &params, &faces, &found, &e) ==
                0 &&
            found > 0)
            with_face++;
        free(faces);
        gan_image_free(&img);
        gan_image_free(&big);
    }
    *total = n;
    return with_face;
}

int main(void) {
    if (access(CASCADE, R_OK) != 0) TEST_SKIP("%s is missing", CASCADE);
    prep_set_opencv_threads(1);
    prep_options crop_defaults = {.res = 256, .margin = 0.5f, .detect = params};
    CHECK(prep_search_min_size(&crop_defaults) == PRUNED_MIN);
    int threads = omp_get_max_threads();
    prep_detector **det = load_detectors(threads);

    int total = 0;
    int hits = count_with_faces(det, DATA "anime_patches_jonathonyan/negative_test", 0, &total);
    printf("negatives: %d of %d face-free patches with a detection\n", hits, total);
    CHECK(total == 218 && hits == 0);

    hits = count_with_faces(det, DATA "anime_faces_getchu64/heldout", 1, &total);
    printf("getchu64 heldout x2 + 25%% border: a face in %d of %d (%.1f%%)\n", hits, total, 100.0 * hits / total);
    CHECK(total == 1000 && hits >= 950);

    test_opencv_agreement(det);
    for (int i = 0; i < threads; i++) prep_detector_free(det[i]);
    free(det);
    TEST_DONE();
}
