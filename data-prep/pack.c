/* Packing a dataset into a .dset or a stylegan2-ada zip. */
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>
#include <cjson/cJSON.h>

#include "detect.h"
#include "gan/io/dataset.h"
#include "gan/io/image.h"

typedef struct packer {
    const prep_pack_options *o;
    gan_dataset *d;
    int res, channels, labels;
    int count, *pick;   /* the output's images: input indices */
    int class_count;    /* output classes (the input's, or those --class names) */
    int *class_of;      /* input class -> output class, or -1 (NULL: the same) */
    const char **class_names; /* output class -> name */
    uint8_t *src, *hwc, *resized; /* scratch for one image */
} packer;

/* Image i at the output resolution, CHW. */
static int pack_read(packer *p, int out_index, uint8_t *chw, gan_error *err) {
    int i = p->pick[out_index], in_res = gan_dataset_resolution(p->d);
    if (in_res == p->res) return gan_dataset_read(p->d, i, chw, NULL, err);
    if (gan_dataset_read(p->d, i, p->src, NULL, err) != 0) return -1;
    gan_chw_to_hwc(p->src, p->hwc, in_res, in_res, p->channels);
    if (prep_resize(p->hwc, in_res, in_res, p->channels, p->resized, p->res, p->res, err) != 0) return -1;
    gan_hwc_to_chw(p->resized, chw, p->res, p->res, p->channels);
    return 0;
}

/* ---------------------------------------------------------------- .dset */

/* The output class of output image i. */
static int out_label(const packer *p, int i) {
    int k = gan_dataset_label_index(p->d, p->pick[i]);
    return p->class_of ? p->class_of[k] : k;
}

static int pack_dset(packer *p, gan_error *err) {
    int n = p->count, k = p->labels ? p->class_count : 0;
    int32_t *labels = k ? malloc((size_t)n * sizeof *labels) : NULL;
    uint8_t *chw = malloc((size_t)p->channels * p->res * p->res);
    if ((k && !labels) || !chw) {
        free(labels);
        free(chw);
        return gan_fail(err, "out of memory");
    }
    for (int i = 0; i < n && k; i++) labels[i] = out_label(p, i);
    gan_dset_writer *w = gan_dset_writer_open(p->o->out, n, p->res, p->channels, k, labels, p->class_names, err);
    int rc = w ? 0 : -1;
    for (int i = 0; rc == 0 && i < n; i++)
        if (pack_read(p, i, chw, err) != 0 || gan_dset_writer_add(w, chw, err) != 0) rc = -1;
    if (w) rc = rc == 0 ? gan_dset_writer_commit(w, err) : (gan_dset_writer_abort(w), -1);
    free(labels);
    free(chw);
    return rc;
}

/* ---------------------------------------------------------------- zip */

/* Each image is encoded when libzip asks for it (at zip_close), so the whole
 * dataset never sits in memory at once. */
typedef struct lazy_png {
    packer *p;
    int index;
    uint8_t *data;
    size_t size, pos;
    zip_error_t error;
} lazy_png;

static zip_int64_t lazy_png_source(void *state, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
    lazy_png *s = state;
    switch (cmd) {
    case ZIP_SOURCE_OPEN: {
        gan_error err;
        gan_image img = {0};
        size_t bytes = (size_t)s->p->channels * s->p->res * s->p->res;
        uint8_t *chw = malloc(bytes);
        int rc = chw && gan_image_alloc(&img, s->p->res, s->p->res, s->p->channels, &err) == 0 ? 0 : -1;
        if (rc == 0) rc = pack_read(s->p, s->index, chw, &err);
        if (rc == 0) gan_chw_to_hwc(chw, img.pixels, img.width, img.height, img.channels);
        if (rc == 0) rc = gan_image_encode_png(&img, &s->data, &s->size, &err);
        free(chw);
        gan_image_free(&img);
        if (rc != 0) {
            zip_error_set(&s->error, ZIP_ER_READ, EIO);
            return -1;
        }
        s->pos = 0;
        return 0;
    }
    case ZIP_SOURCE_READ: {
        size_t n = s->size - s->pos < len ? s->size - s->pos : (size_t)len;
        memcpy(data, s->data + s->pos, n);
        s->pos += n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
        free(s->data);
        s->data = NULL;
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st);
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR: return zip_error_to_data(&s->error, data, len);
    case ZIP_SOURCE_FREE:
        free(s->data);
        free(s);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    default: zip_error_set(&s->error, ZIP_ER_OPNOTSUPP, 0); return -1;
    }
}

static char *dataset_json(packer *p, int n) {
    cJSON *root = cJSON_CreateObject();
    if (p->labels) {
        cJSON *labels = cJSON_AddArrayToObject(root, "labels");
        for (int i = 0; i < n; i++) {
            char name[64];
            snprintf(name, sizeof name, "%05d/img%08d.png", i / 1000, i);
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateString(name));
            cJSON_AddItemToArray(pair, cJSON_CreateNumber(out_label(p, i)));
            cJSON_AddItemToArray(labels, pair);
        }
        cJSON *names = cJSON_AddArrayToObject(root, "class_names");
        for (int k = 0; k < p->class_count; k++) cJSON_AddItemToArray(names, cJSON_CreateString(p->class_names[k]));
    } else {
        cJSON_AddNullToObject(root, "labels");
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

static int add_entries(packer *p, zip_t *z, gan_error *err) {
    int n = p->count;
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%05d/img%08d.png", i / 1000, i);
        lazy_png *s = calloc(1, sizeof *s);
        if (!s) return gan_fail(err, "out of memory");
        *s = (lazy_png){.p = p, .index = i};
        zip_error_init(&s->error);
        zip_source_t *src = zip_source_function(z, lazy_png_source, s);
        if (!src) {
            free(s);
            return gan_fail(err, "%s", zip_strerror(z));
        }
        zip_int64_t idx = zip_file_add(z, name, src, ZIP_FL_OVERWRITE);
        if (idx < 0) {
            zip_source_free(src);
            return gan_fail(err, "%s: %s", name, zip_strerror(z));
        }
        zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0); /* PNG is compressed already */
    }
    char *json = dataset_json(p, n);
    zip_source_t *src = json ? zip_source_buffer(z, json, strlen(json), 1) : NULL;
    if (!src || zip_file_add(z, "dataset.json", src, ZIP_FL_OVERWRITE) < 0) {
        if (src) zip_source_free(src);
        else free(json);
        return gan_fail(err, "dataset.json: %s", zip_strerror(z));
    }
    return 0;
}

/* libzip writes its own temporary file and renames it at zip_close; we write
 * to our temporary name and publish it with fsync + rename like every other
 * file that matters. */
static int pack_zip(packer *p, gan_error *err) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", p->o->out, (int)getpid());
    int code;
    zip_t *z = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!z) return gan_fail(err, "%s: cannot create a zip", tmp);
    if (add_entries(p, z, err) != 0) {
        zip_discard(z);
        unlink(tmp);
        return -1;
    }
    if (zip_close(z) != 0) {
        gan_fail(err, "writing %s: %s", p->o->out, zip_strerror(z));
        zip_discard(z);
        unlink(tmp);
        return -1;
    }
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    int rc = (fd >= 0 && fsync(fd) == 0) ? 0 : gan_fail(err, "syncing %s: %s", tmp, strerror(errno));
    if (fd >= 0) close(fd);
    if (rc == 0 && rename(tmp, p->o->out) != 0) rc = gan_fail(err, "renaming %s: %s", tmp, strerror(errno));
    if (rc != 0) unlink(tmp);
    return rc;
}

/* Resolves --class names against the input's classes: the class map and
 * the output's names. */
static int select_classes(packer *p, gan_error *err) {
    int k = gan_dataset_label_dim(p->d);
    if (k == 0) return gan_fail(err, "--class: %s has no labels (no dataset.json with labels)", p->o->in);
    p->class_of = malloc((size_t)k * sizeof *p->class_of);
    p->class_names = calloc((size_t)k, sizeof *p->class_names);
    char *list = strdup(p->o->classes);
    if (!p->class_of || !p->class_names || !list) return free(list), gan_fail(err, "out of memory");
    for (int c = 0; c < k; c++) p->class_of[c] = -1;
    int rc = 0;
    for (char *save, *name = strtok_r(list, ",", &save); name && rc == 0; name = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int c = 0; c < k && found < 0; c++)
            if (strcmp(gan_dataset_class_name(p->d, c), name) == 0) found = c;
        if (found < 0) rc = gan_fail(err, "--class: no class '%s' in %s", name, p->o->in);
        else if (p->class_of[found] < 0) {
            p->class_names[p->class_count] = gan_dataset_class_name(p->d, found);
            p->class_of[found] = p->class_count++;
        }
    }
    free(list);
    if (rc == 0 && p->class_count == 0) rc = gan_fail(err, "--class: no class named");
    return rc;
}

/* The images to write: all, or those of the selected classes. */
static int select_images(packer *p, gan_error *err) {
    int n = gan_dataset_count(p->d);
    if (!(p->pick = malloc((size_t)(n > 0 ? n : 1) * sizeof *p->pick))) return gan_fail(err, "out of memory");
    for (int i = 0; i < n; i++)
        if (!p->class_of || p->class_of[gan_dataset_label_index(p->d, i)] >= 0) p->pick[p->count++] = i;
    if (p->count == 0) return gan_fail(err, "--class: no images of those classes in %s", p->o->in);
    if (!p->class_of) {
        p->class_count = gan_dataset_label_dim(p->d);
        p->class_names = calloc((size_t)(p->class_count > 0 ? p->class_count : 1), sizeof *p->class_names);
        if (!p->class_names) return gan_fail(err, "out of memory");
        for (int c = 0; c < p->class_count; c++) p->class_names[c] = gan_dataset_class_name(p->d, c);
    }
    return 0;
}

int prep_pack(const prep_pack_options *o, gan_error *err) {
    packer p = {.o = o};
    if (!(p.d = gan_dataset_open(o->in, err))) return -1;
    p.res = o->res ? o->res : gan_dataset_resolution(p.d);
    p.channels = gan_dataset_channels(p.d);
    p.labels = o->labels;
    int rc = 0;
    if (o->labels && gan_dataset_label_dim(p.d) == 0)
        rc = gan_fail(err, "--labels: %s has no labels (no dataset.json with labels)", o->in);
    if (rc == 0 && o->classes) rc = select_classes(&p, err);
    if (rc == 0) rc = select_images(&p, err);
    int in_res = gan_dataset_resolution(p.d);
    p.src = malloc((size_t)p.channels * in_res * in_res);
    p.hwc = malloc((size_t)p.channels * in_res * in_res);
    p.resized = malloc((size_t)p.channels * p.res * p.res);
    if (rc == 0 && (!p.src || !p.hwc || !p.resized)) rc = gan_fail(err, "out of memory");
    if (rc == 0) rc = o->zip ? pack_zip(&p, err) : pack_dset(&p, err);
    if (rc == 0 && !o->quiet)
        fprintf(stderr, "dne prep pack: %d images, %dx%d, %d channel%s, %d classes -> %s\n", p.count, p.res, p.res,
                p.channels, p.channels > 1 ? "s" : "", o->labels ? p.class_count : 0, o->out);
    free(p.pick);
    free(p.class_of);
    free(p.class_names);
    free(p.src);
    free(p.hwc);
    free(p.resized);
    gan_dataset_close(p.d);
    return rc;
}
