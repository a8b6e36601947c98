/* PyTorch's pickled objects, understood without PyTorch: see torch_pickle.h. */
#include "torch_pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

/* Snapshots of the largest networks are a few hundred MB. */
#define MAX_PICKLE_BYTES ((size_t)4 << 30)
#define MAX_MODULE_DEPTH 32

/* Visits of modules in one state_dict walk: a hostile file can share one
 * child among many parents, which makes a tree exponentially large. */
#define MAX_MODULE_VISITS 100000
/* Tensors in one state_dict (the largest networks have a few thousand). */
#define MAX_ENTRIES (1 << 20)

/* What the hooks make: TAG_BUFFER only owns bytes that a BYTES value shows. */
enum { TAG_STORAGE = 1, TAG_TENSOR, TAG_MODULE, TAG_DTYPE, TAG_BUFFER };

typedef struct storage {
    gan_st_dtype dtype;
    int64_t numel;
    const uint8_t *data;
} storage;

struct gan_torch_file {
    uint8_t *owned; /* the file's bytes, when read from a path */
    gan_pk *pk;
    const gan_pk_value *root;
};

static const struct {
    const char *name;
    gan_st_dtype dtype;
} storage_types[] = {
    {"FloatStorage", GAN_ST_F32}, {"HalfStorage", GAN_ST_F16}, {"BFloat16Storage", GAN_ST_BF16},
    {"DoubleStorage", GAN_ST_F64}, {"LongStorage", GAN_ST_I64}, {"IntStorage", GAN_ST_I32},
    {"ByteStorage", GAN_ST_U8},    {"BoolStorage", GAN_ST_BOOL},
};

static int storage_dtype(const gan_pk_value *g, gan_st_dtype *out) {
    if (!g || g->kind != GAN_PK_GLOBAL || strcmp(g->data, "torch") != 0) return -1;
    for (size_t i = 0; i < sizeof storage_types / sizeof *storage_types; i++)
        if (strcmp(g->name, storage_types[i].name) == 0) return *out = storage_types[i].dtype, 0;
    return -1;
}

static int64_t int_or(const gan_pk_value *v, int64_t fallback) {
    return v && (v->kind == GAN_PK_INT || v->kind == GAN_PK_BOOL) && !v->len ? v->i : fallback;
}

static void free_object(void *user, int tag, void *object) {
    (void)user, (void)tag;
    free(object);
}

/* -------------------------------------------- legacy torch.save storage blobs */

typedef struct blob_state {
    int have;
    gan_st_dtype dtype;
    int64_t numel;
    const gan_pk_value *key;
} blob_state;

static int blob_allow(void *user, const char *module, const char *name) {
    (void)user;
    gan_pk_value g = {.kind = GAN_PK_GLOBAL, .data = module, .name = name};
    gan_st_dtype d;
    return storage_dtype(&g, &d) == 0;
}

/* ('storage', torch.<T>Storage, key, location, numel, view_metadata) */
static gan_pk_value *blob_persistent(void *user, gan_pk *pk, const gan_pk_value *pid, gan_error *err) {
    blob_state *b = user;
    const gan_pk_value *type = gan_pk_item(pid, 1), *key = gan_pk_item(pid, 2), *numel = gan_pk_item(pid, 4);
    if (!pid || pid->kind != GAN_PK_TUPLE || pid->count != 6 || !gan_pk_is_str(gan_pk_item(pid, 0), "storage"))
        return gan_fail(err, "a persistent id that is not a storage"), NULL;
    if (b->have) return gan_fail(err, "more than one storage in a storage blob"), NULL;
    if (storage_dtype(type, &b->dtype) != 0 || !key || key->kind != GAN_PK_STR || int_or(numel, -1) < 0)
        return gan_fail(err, "a malformed storage record"), NULL;
    if (gan_pk_item(pid, 5)->kind != GAN_PK_NONE) return gan_fail(err, "storage views are not supported"), NULL;
    b->have = 1, b->numel = numel->i, b->key = key;
    return gan_pk_make(pk, GAN_PK_NONE);
}

/* The five pickles of a legacy torch.save file, then the storage's count
 * (int64) and raw elements. */
static int parse_blob(const uint8_t *data, size_t size, storage *out, gan_error *err) {
    static const uint8_t magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    blob_state b = {0};
    gan_pk_hooks hooks = {&b, blob_allow, NULL, blob_persistent, free_object};
    gan_pk *pk = gan_pk_new(&hooks);
    if (!pk) return gan_fail(err, "out of memory");
    size_t pos = 0;
    const gan_pk_value *v = gan_pk_load(pk, data, size, &pos, err), *info = NULL, *keys = NULL;
    int rc = -1;
    if (!v) goto done;
    if (v->kind != GAN_PK_INT || v->len != sizeof magic || memcmp(v->data, magic, sizeof magic) != 0) {
        gan_fail(err, "not a torch.save blob (bad magic number)");
        goto done;
    }
    if (!(v = gan_pk_load(pk, data, size, &pos, err))) goto done;
    if (int_or(v, -1) != 1001) {
        gan_fail(err, "torch.save protocol %lld (1001 expected)", (long long)int_or(v, -1));
        goto done;
    }
    if (!(info = gan_pk_load(pk, data, size, &pos, err))) goto done;
    if (int_or(gan_pk_get(info, "little_endian"), 1) != 1) {
        gan_fail(err, "a big-endian torch.save blob");
        goto done;
    }
    if (!gan_pk_load(pk, data, size, &pos, err) || !(keys = gan_pk_load(pk, data, size, &pos, err))) goto done;
    const gan_pk_value *key = gan_pk_item(keys, 0);
    if (!b.have || keys->count != 1 || !key || key->kind != GAN_PK_STR || key->len != b.key->len ||
        memcmp(key->data, b.key->data, key->len) != 0) {
        gan_fail(err, "the blob does not hold exactly the one storage it names");
        goto done;
    }
    int64_t count;
    size_t elem = gan_st_dtype_size(b.dtype);
    if (size - pos < 8) {
        gan_fail(err, "storage blob truncated");
        goto done;
    }
    memcpy(&count, data + pos, 8);
    pos += 8;
    if (count != b.numel || (uint64_t)count > (size - pos) / elem || (size_t)count * elem != size - pos) {
        gan_fail(err, "storage of %lld elements in %zu bytes", (long long)count, size - pos);
        goto done;
    }
    *out = (storage){b.dtype, count, data + pos};
    rc = 0;
done:
    gan_pk_free(pk);
    return rc;
}

/* ------------------------------------------------------------ the globals */

typedef enum callable {
    CALL_NONE,
    CALL_PERSISTENT,
    CALL_ORDERED_DICT,
    CALL_SET,
    CALL_ENCODE,
    CALL_LOAD_FROM_BYTES,
    CALL_REBUILD_TENSOR,
    CALL_REBUILD_PARAMETER,
    CALL_NUMPY_DTYPE,
    CALL_NUMPY_SCALAR,
} callable;

static const struct {
    const char *module, *name;
    callable kind;
} allowed[] = {
    {"torch_utils.persistence", "_reconstruct_persistent_obj", CALL_PERSISTENT},
    {"collections", "OrderedDict", CALL_ORDERED_DICT},
    {"dnnlib.util", "EasyDict", CALL_ORDERED_DICT}, /* the reference's kwargs: a dict with attribute access */
    {"builtins", "set", CALL_SET},
    {"builtins", "frozenset", CALL_SET},
    {"__builtin__", "set", CALL_SET},
    {"__builtin__", "frozenset", CALL_SET},
    {"_codecs", "encode", CALL_ENCODE},
    {"torch.storage", "_load_from_bytes", CALL_LOAD_FROM_BYTES},
    {"torch._utils", "_rebuild_tensor_v2", CALL_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_parameter", CALL_REBUILD_PARAMETER},
    {"torch._utils", "_rebuild_parameter_with_state", CALL_REBUILD_PARAMETER},
    {"numpy", "dtype", CALL_NUMPY_DTYPE},
    {"numpy.core.multiarray", "scalar", CALL_NUMPY_SCALAR},
    {"numpy._core.multiarray", "scalar", CALL_NUMPY_SCALAR}, /* NumPy 2's spelling */
};

static callable callable_of(const char *module, const char *name) {
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (strcmp(module, allowed[i].module) == 0 && strcmp(name, allowed[i].name) == 0) return allowed[i].kind;
    return CALL_NONE;
}

static int allow_global(void *user, const char *module, const char *name) {
    (void)user;
    return callable_of(module, name) != CALL_NONE;
}

static gan_pk_value *object_of(const gan_pk_value *v, int tag) {
    return v && v->kind == GAN_PK_OBJECT && v->tag == tag ? (gan_pk_value *)v : NULL;
}

/* _reconstruct_persistent_obj(meta): kept as an object whose state is meta. */
static gan_pk_value *make_module(gan_pk *pk, const gan_pk_value *meta, gan_error *err) {
    if (!gan_pk_is_str(gan_pk_get(meta, "type"), "class"))
        return gan_fail(err, "a persistent object that is not a class instance"), NULL;
    const gan_pk_value *name = gan_pk_get(meta, "class_name"), *state = gan_pk_get(meta, "state");
    if (!name || name->kind != GAN_PK_STR || !state || state->kind != GAN_PK_DICT)
        return gan_fail(err, "a persistent object without class_name or state"), NULL;
    gan_pk_value *v = gan_pk_make_object(pk, TAG_MODULE, NULL);
    if (v) v->state = (gan_pk_value *)meta;
    return v;
}

/* OrderedDict(), OrderedDict([(k, v), ...]); set(), set([...]). */
static gan_pk_value *make_collection(gan_pk *pk, gan_pk_kind kind, const gan_pk_value *args, gan_error *err) {
    const gan_pk_value *items = gan_pk_item(args, 0);
    gan_pk_value *v = gan_pk_make(pk, kind);
    if (!v) return gan_fail(err, "out of memory"), NULL;
    if (args->count == 0) return v;
    if (args->count != 1 || (items->kind != GAN_PK_LIST && items->kind != GAN_PK_TUPLE))
        return gan_fail(err, "unexpected arguments"), NULL;
    size_t per = kind == GAN_PK_DICT ? 2 : 1;
    v->items = calloc(items->count * per + 1, sizeof *v->items);
    if (!v->items) return gan_fail(err, "out of memory"), NULL;
    for (size_t i = 0; i < items->count; i++) {
        const gan_pk_value *it = items->items[i];
        if (per == 1) {
            v->items[i] = (gan_pk_value *)it;
            continue;
        }
        if (!it || it->kind != GAN_PK_TUPLE || it->count != 2) return gan_fail(err, "a dict item is not a pair"), NULL;
        v->items[2 * i] = it->items[0], v->items[2 * i + 1] = it->items[1];
    }
    v->count = v->cap = items->count;
    return v;
}

/* _codecs.encode(str, 'latin1'): protocol 2's bytes, as code points < 256. */
static gan_pk_value *make_latin1(gan_pk *pk, const gan_pk_value *args, gan_error *err) {
    const gan_pk_value *s = gan_pk_item(args, 0), *enc = gan_pk_item(args, 1);
    if (args->count != 2 || !s || s->kind != GAN_PK_STR ||
        !(gan_pk_is_str(enc, "latin1") || gan_pk_is_str(enc, "latin-1")))
        return gan_fail(err, "only _codecs.encode(str, 'latin1') is understood"), NULL;
    char *out = malloc(s->len + 1);
    if (!out || !gan_pk_make_object(pk, TAG_BUFFER, out)) return free(out), gan_fail(err, "out of memory"), NULL;
    const uint8_t *p = (const uint8_t *)s->data;
    size_t n = 0;
    for (size_t i = 0; i < s->len; n++) {
        if (p[i] < 0x80) out[n] = (char)p[i++];
        else if (p[i] >= 0xC2 && p[i] <= 0xC3 && i + 1 < s->len && (p[i + 1] & 0xC0) == 0x80)
            out[n] = (char)((p[i] & 0x03) << 6 | (p[i + 1] & 0x3F)), i += 2;
        else
            return gan_fail(err, "_codecs.encode: a character outside latin-1"), NULL;
    }
    gan_pk_value *bytes = gan_pk_make_bytes(pk, out, n);
    return bytes ? bytes : (gan_fail(err, "out of memory"), NULL);
}

static gan_pk_value *load_from_bytes(gan_pk *pk, const gan_pk_value *args, gan_error *err) {
    const gan_pk_value *b = gan_pk_item(args, 0);
    if (args->count != 1 || !b || b->kind != GAN_PK_BYTES) return gan_fail(err, "expected one bytes argument"), NULL;
    storage *st = malloc(sizeof *st);
    if (!st) return gan_fail(err, "out of memory"), NULL;
    if (parse_blob((const uint8_t *)b->data, b->len, st, err) != 0) {
        free(st);
        return NULL;
    }
    gan_pk_value *v = gan_pk_make_object(pk, TAG_STORAGE, st);
    if (!v) free(st), gan_fail(err, "out of memory");
    return v;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static gan_pk_value *rebuild_tensor(gan_pk *pk, const gan_pk_value *args, gan_error *err) {
    const gan_pk_value *sv = object_of(gan_pk_item(args, 0), TAG_STORAGE), *size = gan_pk_item(args, 2),
                       *stride = gan_pk_item(args, 3);
    int64_t offset = int_or(gan_pk_item(args, 1), -1);
    if (args->count < 4 || !sv || offset < 0 || !size || size->kind != GAN_PK_TUPLE || !stride ||
        stride->kind != GAN_PK_TUPLE || size->count != stride->count || size->count > GAN_TORCH_MAX_DIMS)
        return gan_fail(err, "malformed tensor record"), NULL;
    const storage *st = sv->object;
    gan_torch_tensor t = {.dtype = st->dtype, .ndim = (int)size->count, .offset = offset, .numel = 1,
                          .storage = st->data, .storage_numel = st->numel};
    for (int d = 0; d < t.ndim; d++) {
        t.shape[d] = int_or(size->items[d], -1), t.stride[d] = int_or(stride->items[d], -1);
        if (t.shape[d] < 0 || t.stride[d] < 0) return gan_fail(err, "negative tensor size or stride"), NULL;
    }
    for (int d = 0; d < t.ndim && t.numel > 0; d++) {
        if (t.shape[d] > 0 && t.numel > st->numel / t.shape[d])
            return gan_fail(err, "tensor larger than its storage"), NULL;
        t.numel *= t.shape[d];
    }
    /* The last element the view reaches must lie in the storage. */
    int64_t last = offset;
    if (t.numel > 0 && offset >= st->numel) return gan_fail(err, "tensor offset beyond its storage"), NULL;
    for (int d = 0; d < t.ndim && t.numel > 0; d++) {
        if (t.stride[d] > 0 && t.shape[d] - 1 > (st->numel - 1 - last) / t.stride[d])
            return gan_fail(err, "tensor reaches beyond its storage of %lld elements", (long long)st->numel), NULL;
        last += (t.shape[d] - 1) * t.stride[d];
    }
    gan_torch_tensor *copy = malloc(sizeof *copy);
    gan_pk_value *v = copy ? gan_pk_make_object(pk, TAG_TENSOR, copy) : NULL;
    if (!v) return free(copy), gan_fail(err, "out of memory"), NULL;
    *copy = t;
    return v;
}

/* numpy.dtype('f8', False, True): the type code, checked for byte order at BUILD. */
static gan_pk_value *make_dtype(gan_pk *pk, const gan_pk_value *args, gan_error *err) {
    const gan_pk_value *code = gan_pk_item(args, 0);
    if (!code || code->kind != GAN_PK_STR || code->len > 8) return gan_fail(err, "malformed numpy dtype"), NULL;
    char *c = strndup(code->data, code->len);
    gan_pk_value *v = c ? gan_pk_make_object(pk, TAG_DTYPE, c) : NULL;
    if (!v) return free(c), gan_fail(err, "out of memory"), NULL;
    return v;
}

/* numpy.core.multiarray.scalar(dtype, bytes): a plain number. */
static gan_pk_value *make_scalar(gan_pk *pk, const gan_pk_value *args, gan_error *err) {
    const gan_pk_value *dt = object_of(gan_pk_item(args, 0), TAG_DTYPE), *raw = gan_pk_item(args, 1);
    if (!dt || !raw || (raw->kind != GAN_PK_BYTES && raw->kind != GAN_PK_STR))
        return gan_fail(err, "malformed numpy scalar"), NULL;
    const gan_pk_value *order = dt->state ? gan_pk_item(dt->state, 1) : NULL;
    if (order && order->kind == GAN_PK_STR && gan_pk_is_str(order, ">"))
        return gan_fail(err, "a big-endian numpy scalar"), NULL;
    const char *code = dt->object;
    static const struct {
        const char *code;
        size_t size;
        gan_pk_kind kind;
    } types[] = {{"f8", 8, GAN_PK_FLOAT}, {"f4", 4, GAN_PK_FLOAT}, {"i8", 8, GAN_PK_INT},
                 {"i4", 4, GAN_PK_INT},   {"u1", 1, GAN_PK_INT},   {"b1", 1, GAN_PK_BOOL}};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        if (strcmp(code, types[i].code) != 0) continue;
        if (raw->len != types[i].size) return gan_fail(err, "numpy scalar of the wrong size"), NULL;
        gan_pk_value *v = gan_pk_make(pk, types[i].kind);
        if (!v) return gan_fail(err, "out of memory"), NULL;
        double d;
        float f;
        int64_t l;
        int32_t w;
        if (types[i].kind == GAN_PK_FLOAT && types[i].size == 8) memcpy(&d, raw->data, 8), v->f = d;
        else if (types[i].kind == GAN_PK_FLOAT) memcpy(&f, raw->data, 4), v->f = f;
        else if (types[i].size == 8) memcpy(&l, raw->data, 8), v->i = l;
        else if (types[i].size == 4) memcpy(&w, raw->data, 4), v->i = w;
        else v->i = (uint8_t)raw->data[0];
        return v;
    }
    return gan_fail(err, "numpy scalar of dtype '%s' is not supported", code), NULL;
}

static gan_pk_value *call_global(void *user, gan_pk *pk, const gan_pk_value *g, const gan_pk_value *args,
                                 gan_error *err) {
    (void)user;
    switch (callable_of(g->data, g->name)) {
    case CALL_PERSISTENT: return make_module(pk, gan_pk_item(args, 0), err);
    case CALL_ORDERED_DICT: return make_collection(pk, GAN_PK_DICT, args, err);
    case CALL_SET: return make_collection(pk, GAN_PK_LIST, args, err);
    case CALL_ENCODE: return make_latin1(pk, args, err);
    case CALL_LOAD_FROM_BYTES: return load_from_bytes(pk, args, err);
    case CALL_REBUILD_TENSOR: return rebuild_tensor(pk, args, err);
    case CALL_REBUILD_PARAMETER: {
        gan_pk_value *t = object_of(gan_pk_item(args, 0), TAG_TENSOR);
        return t ? t : (gan_fail(err, "a parameter without a tensor"), NULL);
    }
    case CALL_NUMPY_DTYPE: return make_dtype(pk, args, err);
    case CALL_NUMPY_SCALAR: return make_scalar(pk, args, err);
    case CALL_NONE: break;
    }
    return gan_fail(err, "not callable"), NULL;
}

/* ------------------------------------------------------------------ files */

int gan_torch_load_buffer(const uint8_t *data, size_t size, gan_torch_file **out, gan_error *err) {
    *out = NULL;
    gan_torch_file *f = calloc(1, sizeof *f);
    gan_pk_hooks hooks = {NULL, allow_global, call_global, NULL, free_object};
    if (!f || !(f->pk = gan_pk_new(&hooks))) {
        free(f);
        return gan_fail(err, "out of memory");
    }
    size_t pos = 0;
    if (size < 2 || data[0] != 0x80) {
        gan_torch_free(f);
        return gan_fail(err, "not a pickle (protocol 2 or later)");
    }
    if (!(f->root = gan_pk_load(f->pk, data, size, &pos, err))) {
        gan_torch_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

int gan_torch_load(const char *path, gan_torch_file **out, gan_error *err) {
    uint8_t *data;
    size_t size;
    *out = NULL;
    if (gan_read_file(path, MAX_PICKLE_BYTES, &data, &size, err) != 0) return -1;
    if (gan_torch_load_buffer(data, size, out, err) != 0) {
        free(data);
        return gan_fail_context(err, "%s", path);
    }
    (*out)->owned = data;
    return 0;
}

void gan_torch_free(gan_torch_file *f) {
    if (!f) return;
    gan_pk_free(f->pk);
    free(f->owned);
    free(f);
}

const gan_pk_value *gan_torch_root(const gan_torch_file *f) { return f->root; }

/* ---------------------------------------------------------------- access */

const gan_torch_tensor *gan_torch_tensor_of(const gan_pk_value *v) {
    const gan_pk_value *t = object_of(v, TAG_TENSOR);
    return t ? t->object : NULL;
}

int gan_torch_module_of(const gan_pk_value *v, const gan_pk_value **class_name, const gan_pk_value **state) {
    const gan_pk_value *m = object_of(v, TAG_MODULE);
    if (!m || !m->state) return 0;
    *class_name = gan_pk_get(m->state, "class_name");
    *state = gan_pk_get(m->state, "state");
    return *class_name && *state && (*state)->kind == GAN_PK_DICT;
}

void gan_torch_tensor_to_f32(const gan_torch_tensor *t, float *dst) {
    size_t elem = gan_st_dtype_size(t->dtype);
    int64_t index[GAN_TORCH_MAX_DIMS] = {0};
    for (int64_t n = 0; n < t->numel; n++) {
        int64_t at = t->offset;
        for (int d = 0; d < t->ndim; d++) at += index[d] * t->stride[d];
        gan_st_elements_to_f32(t->dtype, t->storage + (size_t)at * elem, 1, dst + n);
        for (int d = t->ndim - 1; d >= 0 && ++index[d] == t->shape[d]; d--) index[d] = 0;
    }
}

static int is_non_persistent(const gan_pk_value *set, const gan_pk_value *name) {
    for (size_t i = 0; set && set->kind == GAN_PK_LIST && i < set->count; i++)
        if (set->items[i]->kind == GAN_PK_STR && set->items[i]->len == name->len &&
            memcmp(set->items[i]->data, name->data, name->len) == 0)
            return 1;
    return 0;
}

typedef struct walk {
    gan_torch_entry *entries;
    int count, cap;
    long visits;
    gan_error *err;
} walk;

static int add_entry(walk *w, const char *prefix, const gan_pk_value *name, const gan_torch_tensor *t) {
    if (w->count >= MAX_ENTRIES) return gan_fail(w->err, "more than %d tensors", MAX_ENTRIES);
    if (w->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        gan_torch_entry *e = realloc(w->entries, (size_t)cap * sizeof *e);
        if (!e) return gan_fail(w->err, "out of memory");
        w->entries = e, w->cap = cap;
    }
    size_t len = strlen(prefix) + name->len + 1;
    char *full = malloc(len);
    if (!full) return gan_fail(w->err, "out of memory");
    snprintf(full, len, "%s%.*s", prefix, (int)name->len, name->data);
    w->entries[w->count++] = (gan_torch_entry){full, t};
    return 0;
}

/* Tensors of one dict (_parameters or _buffers); None entries skipped. */
static int add_tensors(walk *w, const char *prefix, const gan_pk_value *dict, const gan_pk_value *skip) {
    if (!dict) return 0;
    if (dict->kind != GAN_PK_DICT) return gan_fail(w->err, "module %s: parameters are not a dict", prefix);
    for (size_t i = 0; i < dict->count; i++) {
        const gan_pk_value *name = dict->items[2 * i], *value = dict->items[2 * i + 1];
        if (value->kind == GAN_PK_NONE || is_non_persistent(skip, name)) continue;
        const gan_torch_tensor *t = gan_torch_tensor_of(value);
        if (name->kind != GAN_PK_STR || !t)
            return gan_fail(w->err, "module %s: an entry that is not a named tensor", prefix);
        if (add_entry(w, prefix, name, t) != 0) return -1;
    }
    return 0;
}

static int walk_module(walk *w, const gan_pk_value *module, const char *prefix, int depth) {
    const gan_pk_value *cls, *state;
    if (depth > MAX_MODULE_DEPTH) return gan_fail(w->err, "modules nested deeper than %d", MAX_MODULE_DEPTH);
    if (++w->visits > MAX_MODULE_VISITS) return gan_fail(w->err, "more than %d modules", MAX_MODULE_VISITS);
    if (!gan_torch_module_of(module, &cls, &state))
        return gan_fail(w->err, "'%s' is not a persistent module", prefix[0] ? prefix : "(root)");
    const gan_pk_value *skip = gan_pk_get(state, "_non_persistent_buffers_set");
    if (add_tensors(w, prefix, gan_pk_get(state, "_parameters"), NULL) != 0 ||
        add_tensors(w, prefix, gan_pk_get(state, "_buffers"), skip) != 0)
        return -1;
    const gan_pk_value *children = gan_pk_get(state, "_modules");
    if (!children) return 0;
    if (children->kind != GAN_PK_DICT) return gan_fail(w->err, "module %s: _modules is not a dict", prefix);
    for (size_t i = 0; i < children->count; i++) {
        const gan_pk_value *name = children->items[2 * i], *child = children->items[2 * i + 1];
        if (child->kind == GAN_PK_NONE) continue;
        if (name->kind != GAN_PK_STR || name->len > 200) return gan_fail(w->err, "module %s: a bad child name", prefix);
        size_t len = strlen(prefix) + name->len + 2;
        char *sub = malloc(len);
        if (!sub) return gan_fail(w->err, "out of memory");
        snprintf(sub, len, "%s%.*s.", prefix, (int)name->len, name->data);
        int rc = walk_module(w, child, sub, depth + 1);
        free(sub);
        if (rc != 0) return -1;
    }
    return 0;
}

int gan_torch_state_dict(const gan_pk_value *module, gan_torch_entry **entries, int *count, gan_error *err) {
    walk w = {NULL, 0, 0, 0, err};
    *entries = NULL, *count = 0;
    if (walk_module(&w, module, "", 0) != 0) {
        gan_torch_entries_free(w.entries, w.count);
        return -1;
    }
    *entries = w.entries, *count = w.count;
    return 0;
}

void gan_torch_entries_free(gan_torch_entry *entries, int count) {
    for (int i = 0; i < count; i++) free(entries[i].name);
    free(entries);
}

int gan_torch_get_int(const gan_pk_value *dict, const char *key, int64_t *out) {
    const gan_pk_value *v = gan_pk_get(dict, key);
    if (v && (v->kind == GAN_PK_INT || v->kind == GAN_PK_BOOL) && !v->len) return *out = v->i, 0;
    if (v && v->kind == GAN_PK_FLOAT && v->f == (double)(int64_t)v->f) return *out = (int64_t)v->f, 0;
    return -1;
}

int gan_torch_get_float(const gan_pk_value *dict, const char *key, double *out) {
    const gan_pk_value *v = gan_pk_get(dict, key);
    if (v && v->kind == GAN_PK_FLOAT) return *out = v->f, 0;
    if (v && v->kind == GAN_PK_INT && !v->len) return *out = (double)v->i, 0;
    return -1;
}
