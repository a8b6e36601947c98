/* Training datasets from a folder, a stylegan2-ada-pytorch zip or a .dset
 * file (the format is described in dataset.h). */
#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "config.h"
#include "file.h"
#include "image.h"

/* Largest image file or zip entry read (a hostile zip must not make us allocate gigabytes). */
#define MAX_IMAGE_FILE (256u << 20)
#define MAX_JSON_FILE (256u << 20)
#define MAX_CLASSES (1 << 20)
#define MAX_ITEMS (1 << 28)

typedef enum source_kind { SOURCE_FOLDER, SOURCE_ZIP, SOURCE_DSET } source_kind;

struct gan_dataset {
    source_kind kind;
    int count, resolution, channels, label_dim;
    char name[256];
    char *root;              /* folder path (folder) */
    char **items;            /* relative names, sorted (folder, zip) */
    zip_uint64_t *zip_index; /* entry of each item (zip) */
    int32_t *labels;         /* count classes or NULL; points into the map for a .dset */
    char **class_names;      /* label_dim strings (never NULL when label_dim > 0) */
    zip_t *zip;
    pthread_mutex_t zip_lock; /* libzip archives are not safe for concurrent reads */
    uint8_t *map;
    size_t map_size;
};

/* ---------------------------------------------------------------- helpers */

void gan_hwc_to_chw(const uint8_t *hwc, uint8_t *chw, int width, int height, int channels) {
    size_t plane = (size_t)width * (size_t)height;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < channels; c++) chw[(size_t)c * plane + i] = hwc[i * (size_t)channels + (size_t)c];
}

void gan_chw_to_hwc(const uint8_t *chw, uint8_t *hwc, int width, int height, int channels) {
    size_t plane = (size_t)width * (size_t)height;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < channels; c++) hwc[i * (size_t)channels + (size_t)c] = chw[(size_t)c * plane + i];
}

static void set_name(gan_dataset *d, const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t n = len - start;
    if (n >= sizeof d->name) n = sizeof d->name - 1;
    memcpy(d->name, path + start, n);
    d->name[n] = 0;
    char *dot = strrchr(d->name, '.');
    if (dot && dot != d->name) *dot = 0;
}

static size_t image_bytes(const gan_dataset *d) {
    return (size_t)d->channels * (size_t)d->resolution * (size_t)d->resolution;
}

/* Brings a decoded image to the dataset's channel count: alpha composited on
 * white (what a viewer shows), then grey <-> RGB. */
static int to_channels(gan_image *img, int channels, gan_error *err) {
    if (gan_image_flatten_alpha(img, 255, err) != 0) return -1;
    return gan_image_convert(img, channels, err);
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---------------------------------------------------------------- folder listing */

typedef struct name_list {
    char **names;
    int count, cap;
} name_list;

static int list_push(name_list *l, const char *name, gan_error *err) {
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        if (cap > MAX_ITEMS) return gan_fail(err, "more than %d files", MAX_ITEMS);
        char **names = realloc(l->names, (size_t)cap * sizeof *names);
        if (!names) return gan_fail(err, "out of memory");
        l->names = names;
        l->cap = cap;
    }
    if (!(l->names[l->count] = strdup(name))) return gan_fail(err, "out of memory");
    l->count++;
    return 0;
}

static void free_names(char **names, int count) {
    if (!names) return;
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}

/* True if the file's first bytes are those of an image format we decode. */
static bool looks_like_image(const char *path) {
    uint8_t head[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = pread(fd, head, sizeof head, 0);
    close(fd);
    return n > 0 && gan_image_sniff(head, (size_t)n) != GAN_IMAGE_UNKNOWN;
}

/* Files below root/rel (recursive), relative names. Temporary files of
 * interrupted atomic writes (".tmp-") and dot files are not dataset items. */
static int list_folder(const char *root, const char *rel, name_list *out, gan_error *err) {
    char dir_path[PATH_MAX];
    snprintf(dir_path, sizeof dir_path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *dir = opendir(dir_path);
    if (!dir) return gan_fail(err, "reading folder %s: %s", dir_path, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp-")) continue;
        char child_rel[PATH_MAX], child[PATH_MAX];
        if (snprintf(child_rel, sizeof child_rel, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= (int)sizeof child_rel ||
            snprintf(child, sizeof child, "%s/%s", root, child_rel) >= (int)sizeof child) {
            rc = gan_fail(err, "path too long in %s", dir_path);
            break;
        }
        struct stat st;
        if (stat(child, &st) != 0) continue; /* vanished or a dangling link */
        if (S_ISDIR(st.st_mode))
            rc = list_folder(root, child_rel, out, err);
        else if (S_ISREG(st.st_mode) && looks_like_image(child))
            rc = list_push(out, child_rel, err);
    }
    closedir(dir);
    return rc;
}

/* ---------------------------------------------------------------- reading items */

static int read_zip_entry(gan_dataset *d, zip_uint64_t index, uint8_t **data, size_t *size, gan_error *err) {
    *data = NULL;
    *size = 0;
    pthread_mutex_lock(&d->zip_lock);
    int rc = 0;
    zip_stat_t st;
    zip_file_t *f = NULL;
    if (zip_stat_index(d->zip, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        rc = gan_fail(err, "%s", zip_strerror(d->zip));
    else if (st.size > MAX_IMAGE_FILE)
        rc = gan_fail(err, "entry larger than %u bytes", MAX_IMAGE_FILE);
    else if (!(*data = malloc(st.size + 1)))
        rc = gan_fail(err, "out of memory");
    else if (!(f = zip_fopen_index(d->zip, index, 0)))
        rc = gan_fail(err, "%s", zip_strerror(d->zip));
    else {
        zip_int64_t n = zip_fread(f, *data, st.size);
        if (n < 0 || (zip_uint64_t)n != st.size)
            rc = gan_fail(err, "%s", n < 0 ? zip_file_strerror(f) : "short read");
        /* zip_fclose reports a CRC mismatch: a corrupt entry. */
        int close_rc = zip_fclose(f);
        if (rc == 0 && close_rc != 0) rc = gan_fail(err, "%s", zip_error_strerror(zip_get_error(d->zip)));
        *size = (size_t)st.size;
    }
    pthread_mutex_unlock(&d->zip_lock);
    if (rc != 0) {
        free(*data);
        *data = NULL;
        *size = 0;
    }
    return rc;
}

/* Decodes item i of a folder or zip as stored (any channel count). */
static int decode_item(gan_dataset *d, int i, gan_image *img, gan_error *err) {
    if (d->kind == SOURCE_FOLDER) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", d->root, d->items[i]);
        return gan_image_load(path, img, err);
    }
    uint8_t *data;
    size_t size;
    int rc = read_zip_entry(d, d->zip_index[i], &data, &size, err);
    if (rc == 0) rc = gan_image_decode(data, size, img, err);
    free(data);
    if (rc != 0) gan_fail_context(err, "%s", d->items[i]);
    return rc;
}

/* Decodes every item once (in parallel) to learn the resolution and channel
 * count and to name the first file that does not fit. */
static int check_items(gan_dataset *d, gan_error *err) {
    int *width = calloc((size_t)d->count, sizeof *width), *height = calloc((size_t)d->count, sizeof *height);
    int *channels = calloc((size_t)d->count, sizeof *channels);
    gan_error *errors = calloc((size_t)d->count, sizeof *errors);
    int rc = 0;
    if (!width || !height || !channels || !errors) rc = gan_fail(err, "out of memory");
    if (rc == 0) {
#pragma omp parallel for schedule(dynamic, 16)
        for (int i = 0; i < d->count; i++) {
            gan_image img = {0};
            if (decode_item(d, i, &img, &errors[i]) == 0) {
                width[i] = img.width;
                height[i] = img.height;
                channels[i] = img.channels;
            }
            gan_image_free(&img);
        }
        d->channels = 1;
        for (int i = 0; i < d->count && rc == 0; i++) {
            if (!width[i])
                rc = gan_fail(err, "%s", errors[i].msg);
            else if (width[i] != height[i])
                rc = gan_fail(err, "%s: %dx%d is not square", d->items[i], width[i], height[i]);
            else if (i > 0 && width[i] != width[0])
                rc = gan_fail(err, "%s: %dx%d, but %s is %dx%d (all images must be the same size)", d->items[i],
                              width[i], height[i], d->items[0], width[0], height[0]);
            if (channels[i] != 1) d->channels = 3;
        }
        d->resolution = width[0];
    }
    free(width);
    free(height);
    free(channels);
    free(errors);
    return rc;
}

/* ---------------------------------------------------------------- dataset.json */

static int find_item(const gan_dataset *d, const char *name) {
    const char *key = name;
    char **hit = bsearch(&key, d->items, (size_t)d->count, sizeof *d->items, compare_strings);
    return hit ? (int)(hit - d->items) : -1;
}

static int parse_class_names(gan_dataset *d, const cJSON *names, gan_error *err) {
    d->class_names = calloc((size_t)d->label_dim, sizeof *d->class_names);
    if (!d->class_names) return gan_fail(err, "out of memory");
    for (int k = 0; k < d->label_dim; k++) {
        const cJSON *s = cJSON_IsArray(names) ? cJSON_GetArrayItem(names, k) : NULL;
        d->class_names[k] = strdup(cJSON_IsString(s) ? s->valuestring : "");
        if (!d->class_names[k]) return gan_fail(err, "out of memory");
    }
    return 0;
}

static int parse_labels(gan_dataset *d, const cJSON *root, gan_error *err) {
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
    if (!labels || cJSON_IsNull(labels)) return 0;
    if (!cJSON_IsArray(labels)) return gan_fail(err, "dataset.json: \"labels\" must be a list or null");
    if (!(d->labels = malloc((size_t)d->count * sizeof *d->labels))) return gan_fail(err, "out of memory");
    for (int i = 0; i < d->count; i++) d->labels[i] = -1;
    int max_class = -1;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, labels) {
        const cJSON *name = cJSON_GetArrayItem(entry, 0), *value = cJSON_GetArrayItem(entry, 1);
        if (!cJSON_IsArray(entry) || cJSON_GetArraySize(entry) != 2 || !cJSON_IsString(name) ||
            !cJSON_IsNumber(value))
            return gan_fail(err, "dataset.json: each label must be [\"file\", class]");
        double v = value->valuedouble;
        if (v != (int)v || v < 0 || v >= MAX_CLASSES)
            return gan_fail(err, "dataset.json: label of %s must be an integer class in [0, %d)", name->valuestring,
                            MAX_CLASSES);
        int i = find_item(d, name->valuestring);
        if (i < 0) continue; /* a listed file that is gone (e.g. removed by hand) */
        d->labels[i] = (int32_t)v;
        if ((int)v > max_class) max_class = (int)v;
    }
    for (int i = 0; i < d->count; i++)
        if (d->labels[i] < 0) return gan_fail(err, "dataset.json has no label for %s", d->items[i]);
    d->label_dim = max_class + 1;
    return parse_class_names(d, cJSON_GetObjectItemCaseSensitive(root, "class_names"), err);
}

static int parse_dataset_json(gan_dataset *d, const char *text, gan_error *err) {
    cJSON *root = gan_json_parse_object(text, "dataset.json", err);
    if (!root) return -1;
    int rc = parse_labels(d, root, err);
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------- folder and zip */

static int open_folder(gan_dataset *d, const char *path, gan_error *err) {
    d->kind = SOURCE_FOLDER;
    if (!(d->root = strdup(path))) return gan_fail(err, "out of memory");
    name_list list = {0};
    int rc = list_folder(path, "", &list, err);
    d->items = list.names;
    d->count = list.count;
    if (rc != 0) return rc;
    if (d->count == 0) return gan_fail(err, "%s: no images found", path);
    qsort(d->items, (size_t)d->count, sizeof *d->items, compare_strings);
    if (check_items(d, err) != 0) return -1;
    char json_path[PATH_MAX];
    snprintf(json_path, sizeof json_path, "%s/dataset.json", path);
    uint8_t *text;
    size_t size;
    if (access(json_path, F_OK) != 0) return 0;
    if (gan_read_file(json_path, MAX_JSON_FILE, &text, &size, err) != 0) return -1;
    rc = parse_dataset_json(d, (const char *)text, err);
    free(text);
    return rc;
}

static int zip_fail(int code, const char *path, gan_error *err) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    gan_fail(err, "%s: not a valid zip: %s", path, zip_error_strerror(&e));
    zip_error_fini(&e);
    return -1;
}

/* The zip's image entries (by content of their first bytes) and dataset.json. */
static int list_zip(gan_dataset *d, zip_int64_t *json_index, gan_error *err) {
    zip_int64_t n = zip_get_num_entries(d->zip, 0);
    if (n < 0 || n > MAX_ITEMS) return gan_fail(err, "bad number of zip entries");
    d->items = calloc((size_t)n + 1, sizeof *d->items);
    d->zip_index = calloc((size_t)n + 1, sizeof *d->zip_index);
    if (!d->items || !d->zip_index) return gan_fail(err, "out of memory");
    *json_index = -1;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(d->zip, (zip_uint64_t)i, 0);
        if (!name) return gan_fail(err, "entry %lld: %s", (long long)i, zip_strerror(d->zip));
        size_t len = strlen(name);
        if (len == 0 || name[len - 1] == '/') continue;
        if (strcmp(name, "dataset.json") == 0) {
            *json_index = i;
            continue;
        }
        uint8_t head[32];
        zip_file_t *f = zip_fopen_index(d->zip, (zip_uint64_t)i, 0);
        if (!f) return gan_fail(err, "%s: %s", name, zip_strerror(d->zip));
        zip_int64_t got = zip_fread(f, head, sizeof head);
        zip_fclose(f);
        if (got <= 0 || gan_image_sniff(head, (size_t)got) == GAN_IMAGE_UNKNOWN) continue;
        if (!(d->items[d->count] = strdup(name))) return gan_fail(err, "out of memory");
        d->zip_index[d->count++] = (zip_uint64_t)i;
    }
    return 0;
}

/* Sorts items and their entry indices together (by name). */
static int sort_zip_items(gan_dataset *d, gan_error *err) {
    typedef struct pair {
        char *name;
        zip_uint64_t index;
    } pair;
    pair *pairs = malloc((size_t)d->count * sizeof *pairs);
    if (!pairs) return gan_fail(err, "out of memory");
    for (int i = 0; i < d->count; i++) pairs[i] = (pair){d->items[i], d->zip_index[i]};
    qsort(pairs, (size_t)d->count, sizeof *pairs, compare_strings); /* name is the first member */
    for (int i = 0; i < d->count; i++) {
        d->items[i] = pairs[i].name;
        d->zip_index[i] = pairs[i].index;
    }
    free(pairs);
    return 0;
}

static int open_zip(gan_dataset *d, const char *path, gan_error *err) {
    d->kind = SOURCE_ZIP;
    int code = 0;
    d->zip = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!d->zip) return zip_fail(code, path, err);
    zip_int64_t json_index = -1;
    if (list_zip(d, &json_index, err) != 0) return gan_fail_context(err, "%s", path);
    if (d->count == 0) return gan_fail(err, "%s: no images in the zip", path);
    if (sort_zip_items(d, err) != 0 || check_items(d, err) != 0) return gan_fail_context(err, "%s", path);
    if (json_index < 0) return 0;
    uint8_t *text;
    size_t size;
    if (read_zip_entry(d, (zip_uint64_t)json_index, &text, &size, err) != 0)
        return gan_fail_context(err, "%s: dataset.json", path);
    text[size] = 0;
    int rc = parse_dataset_json(d, (const char *)text, err);
    free(text);
    return rc != 0 ? gan_fail_context(err, "%s", path) : 0;
}

/* ---------------------------------------------------------------- .dset */

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

typedef struct dset_header {
    uint32_t version, count, resolution, channels, label_dim;
    uint64_t labels_offset, names_offset, images_offset, file_size;
} dset_header;

static void parse_header(const uint8_t *b, dset_header *h) {
    *h = (dset_header){get_u32(b + 8),  get_u32(b + 12), get_u32(b + 16), get_u32(b + 20), get_u32(b + 24),
                       get_u64(b + 32), get_u64(b + 40), get_u64(b + 48), get_u64(b + 56)};
}

static int check_header(const dset_header *h, uint64_t actual_size, gan_error *err) {
    if (h->version != GAN_DSET_VERSION) return gan_fail(err, "unsupported .dset version %u", h->version);
    if (h->count < 1 || h->count > MAX_ITEMS) return gan_fail(err, "bad image count %u", h->count);
    if (h->resolution < 1 || h->resolution > 16384) return gan_fail(err, "bad resolution %u", h->resolution);
    if (h->channels != 1 && h->channels != 3) return gan_fail(err, "bad channel count %u", h->channels);
    if (h->label_dim > MAX_CLASSES) return gan_fail(err, "bad label_dim %u", h->label_dim);
    uint64_t labels_bytes = h->label_dim ? 4ull * h->count : 0;
    uint64_t image = (uint64_t)h->channels * h->resolution * h->resolution;
    if (h->labels_offset != GAN_DSET_HEADER_BYTES || h->names_offset != h->labels_offset + labels_bytes ||
        h->images_offset < h->names_offset || h->images_offset % GAN_DSET_ALIGN)
        return gan_fail(err, "inconsistent section offsets");
    if (h->file_size != h->images_offset + image * h->count)
        return gan_fail(err, "header says %llu bytes, but %u images of %llu bytes need %llu",
                        (unsigned long long)h->file_size, h->count, (unsigned long long)image,
                        (unsigned long long)(h->images_offset + image * h->count));
    if (actual_size != h->file_size)
        return gan_fail(err, "file is %llu bytes, header says %llu (truncated or damaged)",
                        (unsigned long long)actual_size, (unsigned long long)h->file_size);
    return 0;
}

static int load_dset_names(gan_dataset *d, const dset_header *h, gan_error *err) {
    d->class_names = calloc((size_t)d->label_dim + 1, sizeof *d->class_names);
    if (!d->class_names) return gan_fail(err, "out of memory");
    const char *p = (const char *)d->map + h->names_offset, *end = (const char *)d->map + h->images_offset;
    for (int k = 0; k < d->label_dim; k++) {
        const char *nul = memchr(p, 0, (size_t)(end - p));
        if (!nul) return gan_fail(err, "class name %d runs past its section", k);
        if (!(d->class_names[k] = strdup(p))) return gan_fail(err, "out of memory");
        p = nul + 1;
    }
    return 0;
}

static int open_dset(gan_dataset *d, int fd, const char *path, gan_error *err) {
    d->kind = SOURCE_DSET;
    struct stat st;
    uint8_t head[GAN_DSET_HEADER_BYTES];
    if (fstat(fd, &st) != 0) return gan_fail(err, "%s: %s", path, strerror(errno));
    if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head) return gan_fail(err, "%s: truncated header", path);
    dset_header h;
    parse_header(head, &h);
    if (check_header(&h, (uint64_t)st.st_size, err) != 0) return gan_fail_context(err, "%s", path);
    d->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (d->map == MAP_FAILED) {
        d->map = NULL;
        return gan_fail(err, "%s: mmap: %s", path, strerror(errno));
    }
    d->map_size = (size_t)st.st_size;
    d->count = (int)h.count;
    d->resolution = (int)h.resolution;
    d->channels = (int)h.channels;
    d->label_dim = (int)h.label_dim;
    if (d->label_dim) {
        d->labels = (int32_t *)(d->map + h.labels_offset); /* 64 is 4-aligned; the host is little-endian */
        for (int i = 0; i < d->count; i++)
            if (d->labels[i] < 0 || d->labels[i] >= d->label_dim)
                return gan_fail(err, "%s: label %d of image %d is outside [0, %d)", path, d->labels[i], i,
                                d->label_dim);
        if (load_dset_names(d, &h, err) != 0) return gan_fail_context(err, "%s", path);
    }
    return 0;
}

/* ---------------------------------------------------------------- open, read, close */

gan_dataset *gan_dataset_open(const char *path, gan_error *err) {
    struct stat st;
    if (!path || stat(path, &st) != 0) {
        gan_fail(err, "%s: %s", path ? path : "(null)", strerror(errno));
        return NULL;
    }
    gan_dataset *d = calloc(1, sizeof *d);
    if (!d) {
        gan_fail(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->zip_lock, NULL);
    set_name(d, path);
    int rc;
    if (S_ISDIR(st.st_mode)) {
        rc = open_folder(d, path, err);
    } else {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        uint8_t magic[8] = {0};
        if (fd < 0) {
            rc = gan_fail(err, "%s: %s", path, strerror(errno));
        } else if (pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
                   memcmp(magic, GAN_DSET_MAGIC, sizeof magic) == 0) {
            rc = open_dset(d, fd, path, err);
        } else if (memcmp(magic, "PK", 2) == 0) {
            rc = open_zip(d, path, err);
        } else {
            rc = gan_fail(err, "%s: not a folder, a dataset zip or a .dset file", path);
        }
        if (fd >= 0) close(fd);
    }
    if (rc != 0) {
        gan_dataset_close(d);
        return NULL;
    }
    return d;
}

int gan_dataset_count(const gan_dataset *d) { return d->count; }
int gan_dataset_resolution(const gan_dataset *d) { return d->resolution; }
int gan_dataset_channels(const gan_dataset *d) { return d->channels; }
int gan_dataset_label_dim(const gan_dataset *d) { return d->label_dim; }
const char *gan_dataset_name(const gan_dataset *d) { return d->name; }

const char *gan_dataset_class_name(const gan_dataset *d, int k) {
    return k >= 0 && k < d->label_dim ? d->class_names[k] : NULL;
}

int gan_dataset_label_index(const gan_dataset *d, int index) {
    return d->labels && index >= 0 && index < d->count ? d->labels[index] : -1;
}

const char *gan_dataset_item_name(const gan_dataset *d, int index) {
    return d->items && index >= 0 && index < d->count ? d->items[index] : "";
}

static int read_decoded(gan_dataset *d, int index, uint8_t *chw, gan_error *err) {
    gan_image img = {0};
    int rc = decode_item(d, index, &img, err);
    if (rc == 0 && (img.width != d->resolution || img.height != d->resolution))
        rc = gan_fail(err, "%s: now %dx%d, was %dx%d when the dataset was opened", d->items[index], img.width,
                      img.height, d->resolution, d->resolution);
    if (rc == 0) rc = to_channels(&img, d->channels, err);
    if (rc == 0) gan_hwc_to_chw(img.pixels, chw, img.width, img.height, d->channels);
    gan_image_free(&img);
    return rc;
}

int gan_dataset_read(gan_dataset *d, int index, uint8_t *chw, float *label, gan_error *err) {
    if (index < 0 || index >= d->count)
        return gan_fail(err, "image index %d out of range (the dataset has %d)", index, d->count);
    if (d->kind == SOURCE_DSET) {
        size_t offset = d->map_size - (size_t)(d->count - index) * image_bytes(d);
        memcpy(chw, d->map + offset, image_bytes(d));
    } else if (read_decoded(d, index, chw, err) != 0) {
        return -1;
    }
    if (label) {
        for (int k = 0; k < d->label_dim; k++) label[k] = 0;
        if (d->labels) label[d->labels[index]] = 1;
    }
    return 0;
}

void gan_dataset_close(gan_dataset *d) {
    if (!d) return;
    if (d->kind != SOURCE_DSET) free(d->labels);
    if (d->class_names)
        for (int k = 0; k < d->label_dim; k++) free(d->class_names[k]);
    free(d->class_names);
    free_names(d->items, d->count);
    free(d->zip_index);
    free(d->root);
    if (d->zip) zip_discard(d->zip);
    if (d->map) munmap(d->map, d->map_size);
    pthread_mutex_destroy(&d->zip_lock);
    free(d);
}

/* ---------------------------------------------------------------- writing a .dset */

struct gan_dset_writer {
    gan_atomic_file *file;
    int count, added;
    size_t image_bytes;
};

static int write_preamble(gan_dset_writer *w, const dset_header *h, const int32_t *labels,
                          const char *const *class_names, gan_error *err) {
    uint8_t head[GAN_DSET_HEADER_BYTES] = {0};
    memcpy(head, GAN_DSET_MAGIC, 8);
    put_u32(head + 8, h->version);
    put_u32(head + 12, h->count);
    put_u32(head + 16, h->resolution);
    put_u32(head + 20, h->channels);
    put_u32(head + 24, h->label_dim);
    put_u64(head + 32, h->labels_offset);
    put_u64(head + 40, h->names_offset);
    put_u64(head + 48, h->images_offset);
    put_u64(head + 56, h->file_size);
    if (gan_atomic_write(w->file, head, sizeof head, err) != 0) return -1;
    for (uint32_t i = 0; h->label_dim && i < h->count; i++) {
        uint8_t b[4];
        put_u32(b, (uint32_t)labels[i]);
        if (gan_atomic_write(w->file, b, 4, err) != 0) return -1;
    }
    uint64_t written = h->names_offset;
    for (uint32_t k = 0; k < h->label_dim; k++) {
        const char *name = class_names && class_names[k] ? class_names[k] : "";
        if (gan_atomic_write(w->file, name, strlen(name) + 1, err) != 0) return -1;
        written += strlen(name) + 1;
    }
    static const uint8_t zeros[GAN_DSET_ALIGN];
    return gan_atomic_write(w->file, zeros, (size_t)(h->images_offset - written), err);
}

static uint64_t names_bytes(int label_dim, const char *const *class_names) {
    uint64_t n = 0;
    for (int k = 0; k < label_dim; k++) n += (class_names && class_names[k] ? strlen(class_names[k]) : 0) + 1;
    return n;
}

gan_dset_writer *gan_dset_writer_open(const char *path, int count, int resolution, int channels, int label_dim,
                                      const int32_t *labels, const char *const *class_names, gan_error *err) {
    if (count < 1 || resolution < 1 || resolution > 16384 || (channels != 1 && channels != 3) || label_dim < 0 ||
        label_dim > MAX_CLASSES || (label_dim && !labels)) {
        gan_fail(err, "writing %s: bad dataset shape (%d images, %dx%d, %d channels, %d classes)", path, count,
                 resolution, resolution, channels, label_dim);
        return NULL;
    }
    for (int i = 0; label_dim && i < count; i++)
        if (labels[i] < 0 || labels[i] >= label_dim) {
            gan_fail(err, "writing %s: label %d of image %d outside [0, %d)", path, labels[i], i, label_dim);
            return NULL;
        }
    dset_header h = {GAN_DSET_VERSION, (uint32_t)count, (uint32_t)resolution, (uint32_t)channels, (uint32_t)label_dim,
                     GAN_DSET_HEADER_BYTES, 0, 0, 0};
    h.names_offset = h.labels_offset + (label_dim ? 4ull * (uint64_t)count : 0);
    uint64_t end = h.names_offset + names_bytes(label_dim, class_names);
    h.images_offset = (end + GAN_DSET_ALIGN - 1) / GAN_DSET_ALIGN * GAN_DSET_ALIGN;
    size_t image = (size_t)channels * (size_t)resolution * (size_t)resolution;
    h.file_size = h.images_offset + (uint64_t)image * (uint64_t)count;
    gan_dset_writer *w = calloc(1, sizeof *w);
    if (!w) {
        gan_fail(err, "out of memory");
        return NULL;
    }
    *w = (gan_dset_writer){.count = count, .image_bytes = image};
    if (!(w->file = gan_atomic_open(path, err)) || write_preamble(w, &h, labels, class_names, err) != 0) {
        gan_dset_writer_abort(w);
        return NULL;
    }
    return w;
}

int gan_dset_writer_add(gan_dset_writer *w, const uint8_t *chw, gan_error *err) {
    if (w->added >= w->count) return gan_fail(err, "writing dataset: more than the %d images announced", w->count);
    if (gan_atomic_write(w->file, chw, w->image_bytes, err) != 0) return -1;
    w->added++;
    return 0;
}

int gan_dset_writer_commit(gan_dset_writer *w, gan_error *err) {
    int rc;
    if (w->added != w->count) {
        rc = gan_fail(err, "writing dataset: %d of %d images added", w->added, w->count);
        gan_atomic_abort(w->file);
    } else {
        rc = gan_atomic_commit(w->file, err);
    }
    free(w);
    return rc;
}

void gan_dset_writer_abort(gan_dset_writer *w) {
    if (!w) return;
    gan_atomic_abort(w->file);
    free(w);
}

int gan_dataset_read_many(gan_dataset *d, int first, int count, uint8_t *out, gan_error *err) {
    if (first < 0 || count < 0 || first + count > gan_dataset_count(d))
        return gan_fail(err, "images %d..%d: the dataset has %d", first, first + count - 1, gan_dataset_count(d));
    size_t per = (size_t)gan_dataset_channels(d) * gan_dataset_resolution(d) * gan_dataset_resolution(d);
    for (int i = 0; i < count; i++)
        if (gan_dataset_read(d, first + i, out + (size_t)i * per, NULL, err) != 0) return -1;
    return 0;
}
