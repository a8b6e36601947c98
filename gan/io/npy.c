#include "npy.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "file.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* Header dictionaries longer than this are not something np.save writes. */
#define NPY_MAX_HEADER 65536
/* Largest .npy/.npz file read: the element limit in float64 plus headers. */
#define NPY_MAX_FILE ((size_t)GAN_ARRAY_MAX_ELEMENTS * 8 + (1 << 20))

int gan_array_alloc(gan_array *a, int ndim, const int64_t *shape, gan_error *err) {
    memset(a, 0, sizeof *a);
    if (ndim < 0 || ndim > GAN_ARRAY_MAX_DIMS) return gan_fail(err, "array: %d dimensions (at most %d)", ndim, GAN_ARRAY_MAX_DIMS);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && numel > GAN_ARRAY_MAX_ELEMENTS / shape[i]))
            return gan_fail(err, "array: shape too large (more than %lld elements)", (long long)GAN_ARRAY_MAX_ELEMENTS);
        numel *= shape[i];
        a->shape[i] = shape[i];
    }
    a->ndim = ndim;
    a->numel = numel;
    a->data = calloc(numel > 0 ? (size_t)numel : 1, sizeof(float));
    if (!a->data) {
        memset(a, 0, sizeof *a);
        return gan_fail(err, "array: out of memory");
    }
    return 0;
}

void gan_array_free(gan_array *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- header */

typedef enum npy_kind { NPY_F2, NPY_F4, NPY_F8 } npy_kind;

typedef struct npy_header {
    npy_kind kind;
    int big_endian, fortran_order, ndim;
    int64_t shape[GAN_ARRAY_MAX_DIMS];
} npy_header;

static int item_size(npy_kind kind) { return kind == NPY_F2 ? 2 : kind == NPY_F4 ? 4 : 8; }

/* The value after `'key':` in the header dictionary, or NULL. */
static const char *dict_value(const char *dict, const char *key) {
    char quoted[32];
    for (int q = 0; q < 2; q++) {
        snprintf(quoted, sizeof quoted, q ? "\"%s\"" : "'%s'", key);
        const char *p = strstr(dict, quoted);
        if (!p) continue;
        p += strlen(quoted);
        while (isspace((unsigned char)*p)) p++;
        if (*p != ':') return NULL;
        for (p++; isspace((unsigned char)*p);) p++;
        return p;
    }
    return NULL;
}

static int parse_descr(const char *v, npy_header *h, gan_error *err) {
    if (!v) return gan_fail(err, "npy: header has no 'descr'");
    if (*v != '\'' && *v != '"') return gan_fail(err, "npy: structured arrays are not supported (float arrays only)");
    char quote = *v++;
    const char *end = strchr(v, quote);
    if (!end || end - v > 16) return gan_fail(err, "npy: bad 'descr' in header");
    char descr[20];
    snprintf(descr, sizeof descr, "%.*s", (int)(end - v), v);
    /* '=' is native order, which NumPy only writes on this (little-endian) kind of machine. */
    if (descr[0] != '<' && descr[0] != '>' && descr[0] != '=' && descr[0] != '|')
        return gan_fail(err, "npy: unsupported dtype '%s'", descr);
    h->big_endian = descr[0] == '>';
    const char *t = descr + 1;
    if (strcmp(t, "f2") == 0) h->kind = NPY_F2;
    else if (strcmp(t, "f4") == 0) h->kind = NPY_F4;
    else if (strcmp(t, "f8") == 0) h->kind = NPY_F8;
    else return gan_fail(err, "npy: unsupported dtype '%s' (expected float16, float32 or float64)", descr);
    return 0;
}

static int parse_shape(const char *v, npy_header *h, gan_error *err) {
    if (!v || *v != '(') return gan_fail(err, "npy: header has no 'shape' tuple");
    h->ndim = 0;
    for (v++;;) {
        while (isspace((unsigned char)*v)) v++;
        if (*v == ')') return 0;
        if (!isdigit((unsigned char)*v)) return gan_fail(err, "npy: bad 'shape' in header");
        if (h->ndim == GAN_ARRAY_MAX_DIMS) return gan_fail(err, "npy: more than %d dimensions", GAN_ARRAY_MAX_DIMS);
        char *end;
        long long n = strtoll(v, &end, 10);
        if (n < 0 || n > GAN_ARRAY_MAX_ELEMENTS) return gan_fail(err, "npy: dimension %lld too large", n);
        h->shape[h->ndim++] = n;
        v = end;
        if (*v == 'L') v++; /* Python 2 longs */
        while (isspace((unsigned char)*v)) v++;
        if (*v == ',') v++;
        else if (*v != ')') return gan_fail(err, "npy: bad 'shape' in header");
    }
}

static int parse_header(const char *dict, npy_header *h, gan_error *err) {
    memset(h, 0, sizeof *h);
    if (parse_descr(dict_value(dict, "descr"), h, err) != 0) return -1;
    const char *fortran = dict_value(dict, "fortran_order");
    if (!fortran) return gan_fail(err, "npy: header has no 'fortran_order'");
    if (strncmp(fortran, "True", 4) == 0) h->fortran_order = 1;
    else if (strncmp(fortran, "False", 5) != 0) return gan_fail(err, "npy: bad 'fortran_order' in header");
    return parse_shape(dict_value(dict, "shape"), h, err);
}

/* ---------------------------------------------------------------- decode */

static float half_to_float(uint16_t h) {
    int sign = h >> 15, exponent = (h >> 10) & 31, mantissa = h & 1023;
    float v;
    if (exponent == 0) v = ldexpf((float)mantissa, -24);
    else if (exponent == 31) v = mantissa ? NAN : INFINITY;
    else v = ldexpf((float)(mantissa | 1024), exponent - 25);
    return sign ? -v : v;
}

static float read_element(const uint8_t *p, npy_kind kind, int big_endian) {
    uint8_t b[8];
    int n = item_size(kind);
    for (int i = 0; i < n; i++) b[i] = big_endian ? p[n - 1 - i] : p[i]; /* to little-endian */
    if (kind == NPY_F2) return half_to_float((uint16_t)(b[0] | b[1] << 8));
    if (kind == NPY_F4) {
        float f;
        memcpy(&f, b, 4);
        return f;
    }
    double d;
    memcpy(&d, b, 8);
    return (float)d;
}

/* Offset in a Fortran-ordered buffer of the element at C-order index i. */
static int64_t fortran_offset(const gan_array *a, int64_t i) {
    int64_t offset = 0, stride = 1;
    int64_t index[GAN_ARRAY_MAX_DIMS];
    for (int d = a->ndim - 1; d >= 0; d--) {
        index[d] = i % a->shape[d];
        i /= a->shape[d];
    }
    for (int d = 0; d < a->ndim; d++) {
        offset += index[d] * stride;
        stride *= a->shape[d];
    }
    return offset;
}

static int read_preamble(const uint8_t *data, size_t size, size_t *header_len, size_t *data_offset, gan_error *err) {
    if (size < 10 || memcmp(data, NPY_MAGIC, NPY_MAGIC_LEN) != 0) return gan_fail(err, "npy: not a NumPy .npy file");
    int major = data[6];
    if (major == 1) {
        *header_len = (size_t)data[8] | (size_t)data[9] << 8;
        *data_offset = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return gan_fail(err, "npy: truncated header");
        *header_len = (size_t)data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 | (size_t)data[11] << 24;
        *data_offset = 12;
    } else {
        return gan_fail(err, "npy: unsupported format version %d", major);
    }
    if (*header_len > NPY_MAX_HEADER || *header_len > size - *data_offset) return gan_fail(err, "npy: truncated header");
    return 0;
}

int gan_npy_decode(const uint8_t *data, size_t size, gan_array *out, gan_error *err) {
    memset(out, 0, sizeof *out);
    size_t header_len = 0, offset = 0;
    if (read_preamble(data, size, &header_len, &offset, err) != 0) return -1;
    char *dict = malloc(header_len + 1);
    if (!dict) return gan_fail(err, "npy: out of memory");
    memcpy(dict, data + offset, header_len);
    dict[header_len] = 0;
    npy_header h;
    int rc = parse_header(dict, &h, err);
    free(dict);
    if (rc != 0 || gan_array_alloc(out, h.ndim, h.shape, err) != 0) return -1;
    offset += header_len;
    size_t bytes = (size_t)out->numel * (size_t)item_size(h.kind);
    if (size - offset != bytes) {
        gan_array_free(out);
        return gan_fail(err, "npy: %zu data bytes where the shape needs %zu", size - offset, bytes);
    }
    const uint8_t *body = data + offset;
    for (int64_t i = 0; i < out->numel; i++) {
        int64_t src = h.fortran_order ? fortran_offset(out, i) : i;
        out->data[i] = read_element(body + (size_t)src * item_size(h.kind), h.kind, h.big_endian);
    }
    return 0;
}

/* ---------------------------------------------------------------- encode */

int gan_npy_encode(const gan_array *a, uint8_t **data, size_t *size, gan_error *err) {
    *data = NULL;
    *size = 0;
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < a->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", a->ndim == 1 ? "," : "");
    /* np.save pads with spaces and a final newline so the data starts on a 64-byte boundary. */
    size_t header_len = ((10 + (size_t)n + 1 + 63) / 64) * 64 - 10;
    size_t total = 10 + header_len + (size_t)a->numel * 4;
    uint8_t *buf = malloc(total);
    if (!buf) return gan_fail(err, "npy: out of memory");
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (uint8_t)(header_len & 255);
    buf[9] = (uint8_t)(header_len >> 8);
    memset(buf + 10, ' ', header_len);
    memcpy(buf + 10, dict, (size_t)n);
    buf[10 + header_len - 1] = '\n';
    uint8_t *body = buf + 10 + header_len;
    for (int64_t i = 0; i < a->numel; i++) { /* little-endian whatever the host */
        uint32_t u;
        memcpy(&u, &a->data[i], 4);
        for (int b = 0; b < 4; b++) body[i * 4 + b] = (uint8_t)(u >> (8 * b));
    }
    *data = buf;
    *size = total;
    return 0;
}

int gan_npy_save(const char *path, const gan_array *a, gan_error *err) {
    uint8_t *data;
    size_t size;
    if (gan_npy_encode(a, &data, &size, err) != 0) return -1;
    int rc = gan_write_file_atomic(path, data, size, err);
    free(data);
    return rc;
}

/* ---------------------------------------------------------------- npz */

static int zip_fail(gan_error *err, const char *what, zip_error_t *ze) {
    int rc = gan_fail(err, "npz: %s: %s", what, zip_error_strerror(ze));
    zip_error_fini(ze);
    return rc;
}

/* Index of member `key`.npy, or the only member when key is NULL. */
static int find_member(zip_t *za, const char *key, zip_uint64_t *index, gan_error *err) {
    zip_int64_t entries = zip_get_num_entries(za, 0);
    if (key) {
        char name[256];
        snprintf(name, sizeof name, "%s.npy", key);
        zip_int64_t i = zip_name_locate(za, name, 0);
        if (i < 0) return gan_fail(err, "npz: no array named '%s' (the file has %lld)", key, (long long)entries);
        *index = (zip_uint64_t)i;
        return 0;
    }
    if (entries != 1) return gan_fail(err, "npz: %lld arrays in the file: say which one", (long long)entries);
    *index = 0;
    return 0;
}

static int read_member(zip_t *za, zip_uint64_t index, uint8_t **data, size_t *size, gan_error *err) {
    zip_stat_t st;
    if (zip_stat_index(za, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return gan_fail(err, "npz: cannot read member %llu", (unsigned long long)index);
    if (st.size > NPY_MAX_FILE) return gan_fail(err, "npz: member '%s' is too large", st.name);
    *size = (size_t)st.size;
    *data = malloc(*size ? *size : 1);
    if (!*data) return gan_fail(err, "npz: out of memory");
    zip_file_t *f = zip_fopen_index(za, index, 0);
    zip_int64_t got = f ? zip_fread(f, *data, st.size) : -1;
    int rc = (f && got == (zip_int64_t)st.size) ? 0 : gan_fail(err, "npz: reading '%s': %s", st.name, zip_strerror(za));
    if (f) zip_fclose(f);
    if (rc != 0) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

static int npz_decode(const uint8_t *data, size_t size, const char *key, gan_array *out, gan_error *err) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, size, 0, &ze);
    if (!src) return zip_fail(err, "cannot open the archive", &ze);
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!za) {
        zip_source_free(src);
        return zip_fail(err, "not a valid zip archive", &ze);
    }
    zip_error_fini(&ze);
    zip_uint64_t index = 0;
    uint8_t *member = NULL;
    size_t member_size = 0;
    int rc = find_member(za, key, &index, err);
    if (rc == 0) rc = read_member(za, index, &member, &member_size, err);
    if (rc == 0) rc = gan_npy_decode(member, member_size, out, err);
    free(member);
    zip_discard(za);
    return rc;
}

int gan_array_load(const char *path, const char *key, gan_array *out, gan_error *err) {
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t size;
    if (gan_read_file(path, NPY_MAX_FILE, &data, &size, err) != 0) return -1;
    int rc;
    if (size >= 4 && memcmp(data, "PK\x03\x04", 4) == 0) rc = npz_decode(data, size, key, out, err);
    else if (size >= NPY_MAGIC_LEN && memcmp(data, NPY_MAGIC, NPY_MAGIC_LEN) == 0) rc = gan_npy_decode(data, size, out, err);
    else if (size == 0) rc = gan_fail(err, "empty file");
    else rc = gan_fail(err, "not a NumPy .npy or .npz file");
    free(data);
    if (rc != 0) gan_fail_context(err, "%s", path);
    return rc;
}

/* Adds one array as a stored member; the buffer passes to libzip. */
static int npz_add(zip_t *za, const char *name, const gan_array *a, gan_error *err) {
    uint8_t *data;
    size_t size;
    if (gan_npy_encode(a, &data, &size, err) != 0) return -1;
    zip_source_t *s = zip_source_buffer(za, data, size, 1);
    if (!s) {
        free(data);
        return gan_fail(err, "npz: %s", zip_strerror(za));
    }
    char member[256];
    snprintf(member, sizeof member, "%s.npy", name);
    zip_int64_t index = zip_file_add(za, member, s, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (index < 0) {
        zip_source_free(s);
        return gan_fail(err, "npz: adding %s: %s", member, zip_strerror(za));
    }
    /* 1980-01-01, the zip epoch: the same arrays always give the same bytes. */
    if (zip_set_file_compression(za, (zip_uint64_t)index, ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_mtime(za, (zip_uint64_t)index, 315532800, 0) != 0)
        return gan_fail(err, "npz: %s", zip_strerror(za));
    return 0;
}

/* The bytes of an in-memory archive after zip_close. */
static int source_bytes(zip_source_t *src, uint8_t **data, size_t *size, gan_error *err) {
    zip_stat_t st;
    if (zip_source_stat(src, &st) != 0 || zip_source_open(src) != 0) return gan_fail(err, "npz: cannot read the archive back");
    *size = (size_t)st.size;
    *data = malloc(*size ? *size : 1);
    int rc = *data && zip_source_read(src, *data, st.size) == (zip_int64_t)st.size ? 0 : gan_fail(err, "npz: cannot read the archive back");
    zip_source_close(src);
    if (rc != 0) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

int gan_npz_save(const char *path, const char *const *names, const gan_array *arrays, int count, gan_error *err) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    if (!src) return zip_fail(err, "cannot create the archive", &ze);
    zip_source_keep(src); /* we read the bytes after zip_close */
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    if (!za) {
        zip_source_free(src);
        zip_source_free(src);
        return zip_fail(err, "cannot create the archive", &ze);
    }
    zip_error_fini(&ze);
    int rc = 0;
    for (int i = 0; rc == 0 && i < count; i++) rc = npz_add(za, names[i], &arrays[i], err);
    if (rc == 0 && zip_close(za) != 0) rc = gan_fail(err, "npz: %s", zip_strerror(za));
    if (rc != 0) zip_discard(za);
    uint8_t *data = NULL;
    size_t size = 0;
    if (rc == 0) rc = source_bytes(src, &data, &size, err);
    zip_source_free(src);
    if (rc == 0) rc = gan_write_file_atomic(path, data, size, err);
    free(data);
    return rc;
}

int gan_array_save(const char *path, const char *name, const gan_array *a, gan_error *err) {
    size_t n = strlen(path);
    if (n >= 4 && strcasecmp(path + n - 4, ".npz") == 0) return gan_npz_save(path, &name, a, 1, err);
    return gan_npy_save(path, a, err);
}
