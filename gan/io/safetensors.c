#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* The format's data is little-endian and is read straight into host memory;
 * a big-endian host would need byte swaps in every read and write. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gan/io/safetensors.c assumes a little-endian host"
#endif

/* Names come from untrusted files and can be long; cutting them keeps the
 * offending value visible in a GAN_ERROR_LEN message. */
#define NAME "%.200s"

/* cJSON stores numbers as doubles, which hold every integer up to 2^53
 * exactly: far beyond any real dimension or offset, and larger values could
 * not be told apart from their neighbours. */
#define MAX_JSON_INT 9007199254740992.0

/* ---------------------------------------------------------------- dtypes */

static const struct {
    const char *name;
    int size;
} dtype_info[] = {
    [GAN_ST_F32] = {"F32", 4}, [GAN_ST_F16] = {"F16", 2}, [GAN_ST_BF16] = {"BF16", 2}, [GAN_ST_F64] = {"F64", 8},
    [GAN_ST_I64] = {"I64", 8}, [GAN_ST_I32] = {"I32", 4}, [GAN_ST_U8] = {"U8", 1},     [GAN_ST_BOOL] = {"BOOL", 1},
};
enum { N_DTYPES = sizeof dtype_info / sizeof dtype_info[0] };

static bool dtype_valid(gan_st_dtype dtype) {
    return (unsigned)dtype < N_DTYPES;
}

const char *gan_st_dtype_name(gan_st_dtype dtype) {
    return dtype_valid(dtype) ? dtype_info[dtype].name : "invalid";
}

static bool dtype_from_name(const char *name, gan_st_dtype *out) {
    for (int i = 0; i < N_DTYPES; i++) {
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (gan_st_dtype)i;
            return true;
        }
    }
    return false;
}

/* Element count and byte size; false when either passes INT64_MAX, which a
 * corrupt header can claim with a few large dimensions. A zero dimension
 * makes the tensor empty whatever the others are. */
static bool tensor_size(const int64_t *shape, int ndim, int elem_size, int64_t *numel, int64_t *bytes) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) n = 0;
    for (int i = 0; i < ndim && n > 0; i++) {
        if (n > INT64_MAX / shape[i]) return false;
        n *= shape[i];
    }
    if (n > INT64_MAX / elem_size) return false;
    *numel = n;
    *bytes = n * elem_size;
    return true;
}

static const char *format_shape(const int64_t *shape, int ndim, char *buf, size_t size) {
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}

/* ---------------------------------------------------------------- text checks */

/* Offset of the first byte that is not valid UTF-8 (or len). Overlong forms,
 * surrogates and code points past U+10FFFF are refused, as the reference
 * reader (Rust's str::from_utf8) does. */
static size_t utf8_valid_prefix(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t extra;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1, cp = c & 0x1Fu, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, cp = c & 0x0Fu, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, cp = c & 0x07u, min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= extra) return i;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += extra + 1;
    }
    return len;
}

static bool is_utf8(const char *s) {
    size_t len = strlen(s);
    return utf8_valid_prefix((const uint8_t *)s, len) == len;
}

/* A short rendering of a JSON value for error messages ("-1", "\"2\"", "missing"). */
static const char *describe_json(const cJSON *item, char *buf, size_t size) {
    if (!item) {
        snprintf(buf, size, "missing");
        return buf;
    }
    char *text = cJSON_PrintUnformatted(item);
    if (!text) {
        snprintf(buf, size, "(unprintable)");
        return buf;
    }
    if (strlen(text) < size)
        snprintf(buf, size, "%s", text);
    else
        snprintf(buf, size, "%.*s...", (int)size - 4, text);
    cJSON_free(text);
    return buf;
}

static bool json_nonneg_int(const cJSON *item, int64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= MAX_JSON_INT)) return false; /* also NaN */
    int64_t i = (int64_t)v;
    if ((double)i != v) return false;
    *out = i;
    return true;
}

/* ---------------------------------------------------------------- reader state */

typedef struct meta_entry {
    char *key;
    char *value;
} meta_entry;

struct gan_st_file {
    int fd;
    char *path;          /* for read errors */
    uint64_t data_start; /* 8 + header length */
    uint64_t data_size;
    gan_st_tensor *tensors; /* header order */
    int count;
    const gan_st_tensor **by_name; /* sorted, for gan_st_find */
    meta_entry *meta;              /* sorted by key */
    int meta_count;
};

void gan_st_close(gan_st_file *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    for (int i = 0; i < f->count; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f->path);
    free(f);
}

static int tensor_fail(gan_error *err, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int tensor_fail(gan_error *err, const char *name, const char *fmt, ...) {
    char detail[GAN_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return gan_fail(err, "tensor '" NAME "': %s", name, detail);
}

/* pread may return less than asked (signals, network file systems, the
 * 2 GiB cap per call on Linux); 0 means the file shrank since it was opened. */
static int pread_fully(int fd, void *buf, size_t size, uint64_t offset, gan_error *err) {
    uint8_t *p = buf;
    while (size > 0) {
        if (offset > (uint64_t)INT64_MAX) return gan_fail(err, "offset %" PRIu64 " is out of range", offset);
        ssize_t n = pread(fd, p, size, (off_t)offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return gan_fail(err, "reading at byte %" PRIu64 ": %s", offset, strerror(errno));
        if (n == 0)
            return gan_fail(err, "file truncated: reading %zu bytes at byte %" PRIu64 " hit the end of the file",
                            size, offset);
        p += n;
        size -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

/* ---------------------------------------------------------------- header: tensors */

static int parse_dtype(const cJSON *item, gan_st_tensor *t, gan_error *err) {
    char desc[64];
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dtype))
        return tensor_fail(err, t->name, "dtype is %s, expected a string such as \"F32\"",
                           describe_json(dtype, desc, sizeof desc));
    if (!dtype_from_name(dtype->valuestring, &t->dtype))
        return tensor_fail(err, t->name, "unknown dtype %s (known: F32, F16, BF16, F64, I64, I32, U8, BOOL)",
                           describe_json(dtype, desc, sizeof desc));
    return 0;
}

static int parse_shape(const cJSON *item, gan_st_tensor *t, gan_error *err) {
    char desc[64];
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape))
        return tensor_fail(err, t->name, "shape is %s, expected an array of non-negative integers",
                           describe_json(shape, desc, sizeof desc));
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > GAN_ST_MAX_DIMS)
        return tensor_fail(err, t->name, "shape %s has %d dims, more than the limit of %d",
                           describe_json(shape, desc, sizeof desc), ndim, GAN_ST_MAX_DIMS);
    int i = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, i++) {
        if (!json_nonneg_int(dim, &t->shape[i]))
            return tensor_fail(err, t->name, "shape element %d is %s, expected a non-negative integer", i,
                               describe_json(dim, desc, sizeof desc));
    }
    t->ndim = ndim;
    return 0;
}

static int parse_offsets(const cJSON *item, gan_st_tensor *t, gan_error *err) {
    char desc[64];
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    int64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 || !json_nonneg_int(offsets->child, &begin) ||
        !json_nonneg_int(offsets->child->next, &end))
        return tensor_fail(err, t->name, "data_offsets is %s, expected [begin, end] as two non-negative integers",
                           describe_json(offsets, desc, sizeof desc));
    if (begin > end)
        return tensor_fail(err, t->name, "data_offsets [%" PRId64 ", %" PRId64 "] begin after they end", begin,
                           end);
    t->begin = (uint64_t)begin;
    t->end = (uint64_t)end;
    return 0;
}

static int check_tensor_bytes(gan_st_tensor *t, uint64_t data_size, gan_error *err) {
    char shape[160];
    int64_t bytes;
    format_shape(t->shape, t->ndim, shape, sizeof shape);
    if (!tensor_size(t->shape, t->ndim, dtype_info[t->dtype].size, &t->numel, &bytes))
        return tensor_fail(err, t->name, "shape %s of %s is too large (over 2^63 bytes)", shape,
                           dtype_info[t->dtype].name);
    if (t->end - t->begin != (uint64_t)bytes)
        return tensor_fail(err, t->name,
                           "data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64 " bytes but shape %s of %s needs %" PRId64,
                           t->begin, t->end, t->end - t->begin, shape, dtype_info[t->dtype].name, bytes);
    if (t->end > data_size)
        return tensor_fail(err, t->name,
                           "data_offsets [%" PRIu64 ", %" PRIu64 "] end beyond the data section, which has %" PRIu64
                           " bytes",
                           t->begin, t->end, data_size);
    return 0;
}

static int parse_tensor(const cJSON *item, uint64_t data_size, gan_st_tensor *t, gan_error *err) {
    char desc[64];
    t->name = strdup(item->string);
    if (!t->name) return gan_fail(err, "out of memory");
    if (!cJSON_IsObject(item))
        return tensor_fail(err, t->name, "expected an object {dtype, shape, data_offsets}, found %s",
                           describe_json(item, desc, sizeof desc));
    if (parse_dtype(item, t, err) != 0 || parse_shape(item, t, err) != 0 || parse_offsets(item, t, err) != 0)
        return -1;
    return check_tensor_bytes(t, data_size, err);
}

/* ---------------------------------------------------------------- header: metadata */

static int compare_meta_keys(const void *a, const void *b) {
    return strcmp(((const meta_entry *)a)->key, ((const meta_entry *)b)->key);
}

static int parse_metadata(gan_st_file *f, const cJSON *item, gan_error *err) {
    char desc[64];
    if (!cJSON_IsObject(item))
        return gan_fail(err, "header: __metadata__ is %s, expected an object of strings",
                        describe_json(item, desc, sizeof desc));
    int n = cJSON_GetArraySize(item);
    f->meta = calloc(n ? (size_t)n : 1, sizeof *f->meta);
    if (!f->meta) return gan_fail(err, "out of memory");
    for (const cJSON *entry = item->child; entry; entry = entry->next) {
        if (!cJSON_IsString(entry))
            return gan_fail(err, "header: __metadata__ value of '" NAME "' is %s, expected a string", entry->string,
                            describe_json(entry, desc, sizeof desc));
        meta_entry *m = &f->meta[f->meta_count++];
        m->key = strdup(entry->string);
        m->value = strdup(entry->valuestring);
        if (!m->key || !m->value) return gan_fail(err, "out of memory");
    }
    qsort(f->meta, (size_t)f->meta_count, sizeof *f->meta, compare_meta_keys);
    for (int i = 1; i < f->meta_count; i++)
        if (strcmp(f->meta[i - 1].key, f->meta[i].key) == 0)
            return gan_fail(err, "header: __metadata__ key '" NAME "' is a duplicate", f->meta[i].key);
    return 0;
}

/* ---------------------------------------------------------------- header: whole-file checks */

static int compare_tensor_names(const void *a, const void *b) {
    const gan_st_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int index_by_name(gan_st_file *f, gan_error *err) {
    f->by_name = malloc((f->count ? (size_t)f->count : 1) * sizeof *f->by_name);
    if (!f->by_name) return gan_fail(err, "out of memory");
    for (int i = 0; i < f->count; i++) f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, (size_t)f->count, sizeof *f->by_name, compare_tensor_names);
    for (int i = 1; i < f->count; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0)
            return tensor_fail(err, f->by_name[i]->name, "duplicate name: it appears twice in the header");
    return 0;
}

/* Zero-byte tensors sort before a tensor starting at the same offset, so that
 * they do not count as overlapping it. */
static int compare_tensor_offsets(const void *a, const void *b) {
    const gan_st_tensor *x = *(const gan_st_tensor *const *)a, *y = *(const gan_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int check_coverage(const gan_st_tensor **sorted, int count, uint64_t data_size, gan_error *err) {
    uint64_t covered = 0;
    const gan_st_tensor *prev = NULL;
    for (int i = 0; i < count; i++) {
        const gan_st_tensor *t = sorted[i];
        if (t->begin < covered)
            return tensor_fail(err, t->name,
                               "data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor '" NAME "' at [%" PRIu64
                               ", %" PRIu64 "]",
                               t->begin, t->end, prev->name, prev->begin, prev->end);
        if (t->begin > covered)
            return tensor_fail(err, t->name,
                               "data_offsets [%" PRIu64 ", %" PRIu64 "] leave a hole of %" PRIu64
                               " bytes in the data section after byte %" PRIu64,
                               t->begin, t->end, t->begin - covered, covered);
        covered = t->end;
        prev = t;
    }
    if (covered != data_size)
        return gan_fail(err,
                        "header: the tensors end at byte %" PRIu64 " of the %" PRIu64
                        "-byte data section, leaving a hole of %" PRIu64 " bytes at its end",
                        covered, data_size, data_size - covered);
    return 0;
}

/* The data section must be exactly the tensors' bytes: overlaps would alias
 * tensors and holes would hide unvalidated data. */
static int check_layout(const gan_st_file *f, gan_error *err) {
    const gan_st_tensor **sorted = malloc((f->count ? (size_t)f->count : 1) * sizeof *sorted);
    if (!sorted) return gan_fail(err, "out of memory");
    for (int i = 0; i < f->count; i++) sorted[i] = &f->tensors[i];
    qsort(sorted, (size_t)f->count, sizeof *sorted, compare_tensor_offsets);
    int rc = check_coverage(sorted, f->count, f->data_size, err);
    free(sorted);
    return rc;
}

/* ---------------------------------------------------------------- header: parsing */

static const char *json_kind(const cJSON *item) {
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNull(item)) return "null";
    return "not an object";
}

static int check_header_text(const char *text, size_t len, gan_error *err) {
    /* cJSON would cut strings at a NUL and let two distinct names collide. */
    const char *nul = memchr(text, 0, len);
    if (nul) return gan_fail(err, "header: NUL byte at header byte %zu", (size_t)(nul - text));
    size_t valid = utf8_valid_prefix((const uint8_t *)text, len);
    if (valid != len) return gan_fail(err, "header: invalid UTF-8 at header byte %zu", valid);
    return 0;
}

/* cJSON stops after the root value; anything but the format's padding
 * spaces (or other JSON whitespace) after it means a damaged header. */
static int check_trailing(const char *text, size_t len, const char *end, gan_error *err) {
    for (size_t i = (size_t)(end - text); i < len; i++)
        if (!strchr(" \t\r\n", text[i]))
            return gan_fail(err, "header: unexpected '%c' after the JSON object at header byte %zu", text[i], i);
    return 0;
}

static int parse_entries(gan_st_file *f, const cJSON *root, gan_error *err) {
    int n = cJSON_GetArraySize(root);
    f->tensors = calloc(n ? (size_t)n : 1, sizeof *f->tensors);
    if (!f->tensors) return gan_fail(err, "out of memory");
    bool have_meta = false;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (have_meta) return gan_fail(err, "header: __metadata__ appears twice");
            have_meta = true;
            if (parse_metadata(f, item, err) != 0) return -1;
        } else if (parse_tensor(item, f->data_size, &f->tensors[f->count++], err) != 0) {
            return -1;
        }
    }
    return 0;
}

static int parse_header(gan_st_file *f, const char *text, size_t len, gan_error *err) {
    if (check_header_text(text, len, err) != 0) return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root) {
        size_t at = end ? (size_t)(end - text) : 0;
        return gan_fail(err, "header: invalid JSON at header byte %zu near '%.20s'", at, text + at);
    }
    int rc = check_trailing(text, len, end, err);
    if (rc == 0 && !cJSON_IsObject(root))
        rc = gan_fail(err, "header: expected a JSON object, found %s", json_kind(root));
    if (rc == 0) rc = parse_entries(f, root, err);
    cJSON_Delete(root);
    if (rc == 0) rc = index_by_name(f, err);
    if (rc == 0) rc = check_layout(f, err);
    return rc;
}

/* ---------------------------------------------------------------- opening */

static int read_header_length(int fd, uint64_t file_size, uint64_t *header_len, gan_error *err) {
    if (file_size == 0) return gan_fail(err, "file is empty (a safetensors file starts with an 8-byte header length)");
    if (file_size < 8)
        return gan_fail(err, "file is only %" PRIu64 " bytes, too short for the 8-byte header length", file_size);
    uint8_t bytes[8];
    if (pread_fully(fd, bytes, sizeof bytes, 0, err) != 0) return -1;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | bytes[i];
    /* Checked first: it also keeps 8 + n from overflowing. */
    if (n > GAN_ST_MAX_HEADER)
        return gan_fail(err, "header length %" PRIu64 " exceeds the limit of %u bytes", n, GAN_ST_MAX_HEADER);
    if (8 + n > file_size)
        return gan_fail(err, "header length %" PRIu64 " goes beyond the end of the file (size %" PRIu64 ")", n,
                        file_size);
    *header_len = n;
    return 0;
}

static int load(gan_st_file *f, gan_error *err) {
    struct stat st;
    if (fstat(f->fd, &st) != 0) return gan_fail(err, "%s", strerror(errno));
    if (!S_ISREG(st.st_mode)) return gan_fail(err, "not a regular file");
    uint64_t file_size = (uint64_t)st.st_size, header_len = 0;
    if (read_header_length(f->fd, file_size, &header_len, err) != 0) return -1;
    f->data_start = 8 + header_len;
    f->data_size = file_size - f->data_start;
    /* One spare byte so that a text with no NUL still ends in one, whatever cJSON does. */
    char *header = malloc((size_t)header_len + 1);
    if (!header) return gan_fail(err, "out of memory for a %" PRIu64 "-byte header", header_len);
    int rc = pread_fully(f->fd, header, (size_t)header_len, 8, err);
    if (rc == 0) {
        header[header_len] = 0;
        rc = parse_header(f, header, (size_t)header_len, err);
    }
    free(header);
    return rc;
}

int gan_st_open(const char *path, gan_st_file **out, gan_error *err) {
    *out = NULL;
    gan_st_file *f = calloc(1, sizeof *f);
    if (!f) return gan_fail(err, "reading %s: out of memory", path);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        int e = errno;
        free(f);
        return gan_fail(err, "reading %s: %s", path, strerror(e));
    }
    f->path = strdup(path);
    int rc = f->path ? load(f, err) : gan_fail(err, "out of memory");
    if (rc != 0) {
        gan_st_close(f);
        return gan_fail_context(err, "reading %s", path);
    }
    *out = f;
    return 0;
}

/* ---------------------------------------------------------------- lookups */

int gan_st_count(const gan_st_file *f) {
    return f->count;
}

const gan_st_tensor *gan_st_at(const gan_st_file *f, int index) {
    return index >= 0 && index < f->count ? &f->tensors[index] : NULL;
}

static int compare_name_to_tensor(const void *key, const void *element) {
    return strcmp(key, (*(const gan_st_tensor *const *)element)->name);
}

const gan_st_tensor *gan_st_find(const gan_st_file *f, const char *name) {
    const gan_st_tensor **found =
        bsearch(name, f->by_name, (size_t)f->count, sizeof *f->by_name, compare_name_to_tensor);
    return found ? *found : NULL;
}

static int compare_key_to_meta(const void *key, const void *element) {
    return strcmp(key, ((const meta_entry *)element)->key);
}

const char *gan_st_meta(const gan_st_file *f, const char *key) {
    if (f->meta_count == 0) return NULL; /* f->meta may be NULL, which bsearch must not get */
    const meta_entry *found = bsearch(key, f->meta, (size_t)f->meta_count, sizeof *f->meta, compare_key_to_meta);
    return found ? found->value : NULL;
}

/* ---------------------------------------------------------------- reading data */

/* A tensor from another file would carry offsets that mean nothing here. */
static int check_tensor_of(const gan_st_file *f, const gan_st_tensor *t, gan_error *err) {
    uintptr_t p = (uintptr_t)t, first = (uintptr_t)f->tensors, last = (uintptr_t)(f->tensors + f->count);
    if (!t || p < first || p >= last) return gan_fail(err, "reading %s: the tensor is not one of this file's", f->path);
    return 0;
}

int gan_st_read_raw(gan_st_file *f, const gan_st_tensor *t, void *dst, gan_error *err) {
    if (check_tensor_of(f, t, err) != 0) return -1;
    uint64_t bytes = t->end - t->begin;
    if (bytes > SIZE_MAX) return gan_fail(err, "reading %s: tensor '" NAME "' is too large", f->path, t->name);
    if (pread_fully(f->fd, dst, (size_t)bytes, f->data_start + t->begin, err) != 0)
        return gan_fail_context(err, "reading %s: tensor '" NAME "'", f->path, t->name);
    return 0;
}

static float float_from_bits(uint32_t bits) {
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    if (exp == 0x1F) return float_from_bits(sign | 0x7F800000u | mant << 13); /* inf, NaN with its payload */
    if (exp != 0) return float_from_bits(sign | (exp + 127 - 15) << 23 | mant << 13);
    if (mant == 0) return float_from_bits(sign);
    /* Subnormal half = mant * 2^-24, a normal float: shift the leading 1 into
     * the implicit bit and lower the exponent by the shift. */
    uint32_t shift = 0;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        shift++;
    }
    return float_from_bits(sign | (127 - 14 - shift) << 23 | (mant & 0x3FFu) << 13);
}

void gan_st_elements_to_f32(gan_st_dtype dtype, const uint8_t *src, size_t n, float *dst) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        float f;
        double d;
        int64_t l;
        int32_t w;
        switch (dtype) {
        case GAN_ST_F32: memcpy(&f, src + 4 * i, 4), dst[i] = f; break;
        case GAN_ST_F16: memcpy(&h, src + 2 * i, 2), dst[i] = f16_to_f32(h); break;
        case GAN_ST_BF16: memcpy(&h, src + 2 * i, 2), dst[i] = float_from_bits((uint32_t)h << 16); break;
        case GAN_ST_F64: memcpy(&d, src + 8 * i, 8), dst[i] = (float)d; break; /* out of range: +-inf (Annex F) */
        case GAN_ST_I64: memcpy(&l, src + 8 * i, 8), dst[i] = (float)l; break;
        case GAN_ST_I32: memcpy(&w, src + 4 * i, 4), dst[i] = (float)w; break;
        case GAN_ST_U8: dst[i] = src[i]; break;
        case GAN_ST_BOOL: dst[i] = src[i] != 0; break;
        }
    }
}

size_t gan_st_dtype_size(gan_st_dtype dtype) { return (size_t)dtype_info[dtype].size; }

/* Converts through a small buffer so that no copy of the whole tensor in its
 * file dtype is ever held. */
static int read_converted(gan_st_file *f, const gan_st_tensor *t, float *dst, gan_error *err) {
    enum { CHUNK_BYTES = 16384 };
    uint8_t buf[CHUNK_BYTES];
    size_t elem = (size_t)dtype_info[t->dtype].size, per_chunk = CHUNK_BYTES / elem;
    uint64_t offset = f->data_start + t->begin;
    for (int64_t done = 0; done < t->numel;) {
        size_t n = (size_t)(t->numel - done) < per_chunk ? (size_t)(t->numel - done) : per_chunk;
        if (pread_fully(f->fd, buf, n * elem, offset + (uint64_t)done * elem, err) != 0)
            return gan_fail_context(err, "reading %s: tensor '" NAME "'", f->path, t->name);
        gan_st_elements_to_f32(t->dtype, buf, n, dst + done);
        done += (int64_t)n;
    }
    return 0;
}

int gan_st_read_f32(gan_st_file *f, const gan_st_tensor *t, float *dst, gan_error *err) {
    if (check_tensor_of(f, t, err) != 0) return -1;
    switch (t->dtype) {
    case GAN_ST_F32:
        return gan_st_read_raw(f, t, dst, err);
    case GAN_ST_F16:
    case GAN_ST_BF16:
    case GAN_ST_F64:
        return read_converted(f, t, dst, err);
    default:
        return gan_fail(err, "reading %s: tensor '" NAME "' has dtype %s, which cannot be read as F32", f->path,
                        t->name, gan_st_dtype_name(t->dtype));
    }
}

/* ---------------------------------------------------------------- writer */

typedef struct writer_tensor {
    char *name;
    gan_st_dtype dtype;
    int ndim;
    int64_t shape[GAN_ST_MAX_DIMS];
    uint64_t bytes;
    const void *data;
} writer_tensor;

struct gan_st_writer {
    writer_tensor *tensors;
    int count, cap;
    meta_entry *meta;
    int meta_count, meta_cap;
    uint64_t total_bytes;
};

gan_st_writer *gan_st_writer_new(void) {
    return calloc(1, sizeof(gan_st_writer));
}

void gan_st_writer_free(gan_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->count; i++) free(w->tensors[i].name);
    for (int i = 0; i < w->meta_count; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->tensors);
    free(w->meta);
    free(w);
}

/* Doubles an array's capacity; NULL (with items still valid) when out of memory. */
static void *grow_array(void *items, int *cap, size_t item_size) {
    if (*cap > INT_MAX / 2) return NULL;
    int new_cap = *cap ? *cap * 2 : 16;
    void *grown = realloc(items, (size_t)new_cap * item_size);
    if (grown) *cap = new_cap;
    return grown;
}

static bool writer_has_tensor(const gan_st_writer *w, const char *name) {
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->tensors[i].name, name) == 0) return true;
    return false;
}

static int check_new_tensor(const gan_st_writer *w, const char *name, gan_st_dtype dtype, int ndim,
                            const int64_t *shape, gan_error *err) {
    if (!name) return gan_fail(err, "adding a tensor: the name is NULL");
    if (strncmp(name, "__", 2) == 0)
        return tensor_fail(err, name, "names starting with \"__\" are reserved (\"__metadata__\")");
    if (!is_utf8(name)) return tensor_fail(err, name, "the name is not valid UTF-8");
    if (writer_has_tensor(w, name)) return tensor_fail(err, name, "duplicate name: it was already added");
    if (!dtype_valid(dtype)) return tensor_fail(err, name, "invalid dtype %d", (int)dtype);
    if (ndim < 0 || ndim > GAN_ST_MAX_DIMS)
        return tensor_fail(err, name, "%d dims, expected 0 to %d", ndim, GAN_ST_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) return tensor_fail(err, name, "shape element %d is %" PRId64 ", negative", i, shape[i]);
    return 0;
}

int gan_st_writer_add(gan_st_writer *w, const char *name, gan_st_dtype dtype, int ndim, const int64_t *shape,
                      const void *data, gan_error *err) {
    if (check_new_tensor(w, name, dtype, ndim, shape, err) != 0) return -1;
    int64_t numel, bytes;
    if (!tensor_size(shape, ndim, dtype_info[dtype].size, &numel, &bytes) ||
        (uint64_t)bytes > (uint64_t)INT64_MAX - w->total_bytes)
        return tensor_fail(err, name, "too large: the file would pass 2^63 bytes");
    if (bytes > 0 && !data) return tensor_fail(err, name, "data is NULL");
    if (w->count == w->cap) {
        writer_tensor *grown = grow_array(w->tensors, &w->cap, sizeof *w->tensors);
        if (!grown) return gan_fail(err, "adding tensor '" NAME "': out of memory", name);
        w->tensors = grown;
    }
    writer_tensor *t = &w->tensors[w->count];
    *t = (writer_tensor){.name = strdup(name), .dtype = dtype, .ndim = ndim, .bytes = (uint64_t)bytes, .data = data};
    if (!t->name) return gan_fail(err, "adding tensor '" NAME "': out of memory", name);
    if (ndim > 0) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    w->count++;
    w->total_bytes += (uint64_t)bytes;
    return 0;
}

int gan_st_writer_add_f32(gan_st_writer *w, const char *name, int ndim, const int64_t *shape, const float *data,
                          gan_error *err) {
    return gan_st_writer_add(w, name, GAN_ST_F32, ndim, shape, data, err);
}

int gan_st_writer_meta(gan_st_writer *w, const char *key, const char *value, gan_error *err) {
    if (!key || !value) return gan_fail(err, "metadata: key or value is NULL");
    if (!is_utf8(key) || !is_utf8(value))
        return gan_fail(err, "metadata '" NAME "': key or value is not valid UTF-8", key);
    for (int i = 0; i < w->meta_count; i++)
        if (strcmp(w->meta[i].key, key) == 0) return gan_fail(err, "metadata '" NAME "': key set twice", key);
    if (w->meta_count == w->meta_cap) {
        meta_entry *grown = grow_array(w->meta, &w->meta_cap, sizeof *w->meta);
        if (!grown) return gan_fail(err, "metadata '" NAME "': out of memory", key);
        w->meta = grown;
    }
    meta_entry m = {strdup(key), strdup(value)};
    if (!m.key || !m.value) {
        free(m.key);
        free(m.value);
        return gan_fail(err, "metadata '" NAME "': out of memory", key);
    }
    w->meta[w->meta_count++] = m;
    return 0;
}

/* cJSON would print integers from doubles, in exponent form past 10^15,
 * which readers that parse integers (the reference's serde usize) refuse. */
static bool add_json_uint(cJSON *array, uint64_t value) {
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, value);
    cJSON *item = cJSON_CreateRaw(text);
    if (!item || !cJSON_AddItemToArray(array, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static bool add_json_tensor(cJSON *root, const writer_tensor *t, uint64_t begin) {
    cJSON *entry = cJSON_AddObjectToObject(root, t->name);
    if (!entry || !cJSON_AddStringToObject(entry, "dtype", dtype_info[t->dtype].name)) return false;
    cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
    if (!shape) return false;
    for (int i = 0; i < t->ndim; i++)
        if (!add_json_uint(shape, (uint64_t)t->shape[i])) return false;
    cJSON *offsets = cJSON_AddArrayToObject(entry, "data_offsets");
    return offsets && add_json_uint(offsets, begin) && add_json_uint(offsets, begin + t->bytes);
}

/* The compact header JSON: "__metadata__" first (as the reference writes
 * it), then the tensors in add order with contiguous offsets. */
static char *header_json(const gan_st_writer *w) {
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    if (ok && w->meta_count > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < w->meta_count; i++)
            ok = cJSON_AddStringToObject(meta, w->meta[i].key, w->meta[i].value) != NULL;
    }
    uint64_t offset = 0;
    for (int i = 0; ok && i < w->count; i++) {
        ok = add_json_tensor(root, &w->tensors[i], offset);
        offset += w->tensors[i].bytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* The 8-byte length and the header, padded with spaces so that the data
 * section starts 8-aligned (as the reference writer does). */
static int build_prefix(const gan_st_writer *w, uint8_t **prefix, size_t *size, gan_error *err) {
    char *json = header_json(w);
    if (!json) return gan_fail(err, "out of memory building the header");
    size_t json_len = strlen(json), padded = (json_len + 7) & ~(size_t)7;
    if (padded > GAN_ST_MAX_HEADER) {
        cJSON_free(json);
        return gan_fail(err, "header of %zu bytes exceeds the limit of %u bytes", padded, GAN_ST_MAX_HEADER);
    }
    uint8_t *buf = malloc(8 + padded);
    if (!buf) {
        cJSON_free(json);
        return gan_fail(err, "out of memory building the header");
    }
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, json, json_len);
    memset(buf + 8 + json_len, ' ', padded - json_len);
    cJSON_free(json);
    *prefix = buf;
    *size = 8 + padded;
    return 0;
}

int gan_st_writer_save(gan_st_writer *w, const char *path, gan_error *err) {
    uint8_t *prefix = NULL;
    size_t prefix_size = 0;
    if (build_prefix(w, &prefix, &prefix_size, err) != 0) return gan_fail_context(err, "writing %s", path);
    gan_atomic_file *out = gan_atomic_open(path, err);
    if (!out) {
        free(prefix);
        return -1;
    }
    int rc = gan_atomic_write(out, prefix, prefix_size, err);
    free(prefix);
    for (int i = 0; rc == 0 && i < w->count; i++)
        if (w->tensors[i].bytes > 0) rc = gan_atomic_write(out, w->tensors[i].data, (size_t)w->tensors[i].bytes, err);
    if (rc != 0) {
        gan_atomic_abort(out);
        return -1;
    }
    return gan_atomic_commit(out, err);
}
