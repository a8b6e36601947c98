/* The pickle machine (pickletools' opcode table, protocols 2 to 5): a value
 * stack with marks, a memo, and no calls of its own; see pickle.h. Every
 * read is bounds-checked against the buffer, every pop against the stack
 * and the last mark, so a hostile file can only produce an error. */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A memo index may run ahead of the memo by this much (picklers number
 * their entries consecutively; the margin only bounds a hostile index). */
#define MEMO_SLACK 65536

struct gan_pk {
    gan_pk_hooks hooks;
    gan_pk_value **values; /* everything allocated, for gan_pk_free */
    size_t nvalues, capvalues;
    /* the machine of the pickle being loaded */
    gan_pk_value **stack;
    size_t depth, capstack;
    size_t *marks;
    size_t nmarks, capmarks;
    gan_pk_value **memo;
    size_t nmemo, capmemo; /* nmemo: one past the largest index set */
};

static int grow(void **array, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    void *p = realloc(*array, n * elem);
    if (!p) return -1;
    *array = p, *cap = n;
    return 0;
}

gan_pk *gan_pk_new(const gan_pk_hooks *hooks) {
    gan_pk *pk = calloc(1, sizeof *pk);
    if (pk && hooks) pk->hooks = *hooks;
    return pk;
}

static void free_value(gan_pk *pk, gan_pk_value *v) {
    if (v->kind == GAN_PK_GLOBAL) free((char *)v->data), free((char *)v->name);
    if (v->kind == GAN_PK_OBJECT && pk->hooks.free_object) pk->hooks.free_object(pk->hooks.user, v->tag, v->object);
    free(v->items);
    free(v);
}

void gan_pk_free(gan_pk *pk) {
    if (!pk) return;
    for (size_t i = 0; i < pk->nvalues; i++) free_value(pk, pk->values[i]);
    free(pk->values), free(pk->stack), free(pk->marks), free(pk->memo);
    free(pk);
}

gan_pk_value *gan_pk_make(gan_pk *pk, gan_pk_kind kind) {
    if (grow((void **)&pk->values, &pk->capvalues, pk->nvalues + 1, sizeof *pk->values) != 0) return NULL;
    gan_pk_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = kind;
    pk->values[pk->nvalues++] = v;
    return v;
}

gan_pk_value *gan_pk_make_object(gan_pk *pk, int tag, void *object) {
    gan_pk_value *v = gan_pk_make(pk, GAN_PK_OBJECT);
    if (v) v->tag = tag, v->object = object;
    return v;
}

gan_pk_value *gan_pk_make_bytes(gan_pk *pk, const char *data, size_t len) {
    gan_pk_value *v = gan_pk_make(pk, GAN_PK_BYTES);
    if (v) v->data = data, v->len = len;
    return v;
}

static int append_item(gan_pk_value *seq, gan_pk_value *item) {
    if (grow((void **)&seq->items, &seq->cap, seq->count + 1, sizeof *seq->items) != 0) return -1;
    seq->items[seq->count++] = item;
    return 0;
}

/* ------------------------------------------------------------ lookups */

const gan_pk_value *gan_pk_get(const gan_pk_value *dict, const char *key) {
    if (!dict || dict->kind != GAN_PK_DICT) return NULL;
    for (size_t i = dict->count; i-- > 0;) /* the last setting of a key wins, as in Python */
        if (gan_pk_is_str(dict->items[2 * i], key)) return dict->items[2 * i + 1];
    return NULL;
}

int gan_pk_is_str(const gan_pk_value *v, const char *s) {
    return v && v->kind == GAN_PK_STR && v->len == strlen(s) && memcmp(v->data, s, v->len) == 0;
}

const gan_pk_value *gan_pk_item(const gan_pk_value *seq, size_t i) {
    if (!seq || (seq->kind != GAN_PK_TUPLE && seq->kind != GAN_PK_LIST) || i >= seq->count) return NULL;
    return seq->items[i];
}

const char *gan_pk_kind_name(gan_pk_kind kind) {
    static const char *names[] = {"None", "bool", "int", "float", "str", "bytes",
                                  "tuple", "list", "dict", "global", "object"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "?";
}

/* ------------------------------------------------------------ the machine */

typedef struct reader {
    gan_pk *pk;
    const uint8_t *data;
    size_t size, pos, op_at; /* op_at: offset of the opcode being run */
    const char *op;          /* its name, for messages */
    gan_error *err;
} reader;

static int fail(reader *r, const char *what) {
    return gan_fail(r->err, "pickle: byte %zu (%s): %s", r->op_at, r->op, what);
}

static int take(reader *r, size_t n, const uint8_t **out) {
    if (n > r->size - r->pos) return fail(r, "truncated");
    *out = r->data + r->pos;
    r->pos += n;
    return 0;
}

static int take_uint(reader *r, int bytes, uint64_t *out) {
    const uint8_t *p = NULL;
    if (take(r, (size_t)bytes, &p) != 0) return -1;
    *out = 0;
    for (int i = bytes - 1; i >= 0; i--) *out = *out << 8 | p[i];
    return 0;
}

static int push(reader *r, gan_pk_value *v) {
    if (!v) return fail(r, "out of memory");
    gan_pk *pk = r->pk;
    if (grow((void **)&pk->stack, &pk->capstack, pk->depth + 1, sizeof *pk->stack) != 0)
        return fail(r, "out of memory");
    pk->stack[pk->depth++] = v;
    return 0;
}

/* The lowest stack position pops may reach: above the last mark. */
static size_t floor_of(const gan_pk *pk) { return pk->nmarks ? pk->marks[pk->nmarks - 1] : 0; }

static gan_pk_value *pop(reader *r) {
    if (r->pk->depth <= floor_of(r->pk)) return fail(r, "stack underflow"), NULL;
    return r->pk->stack[--r->pk->depth];
}

static gan_pk_value *top(reader *r) {
    if (r->pk->depth <= floor_of(r->pk)) return fail(r, "stack underflow"), NULL;
    return r->pk->stack[r->pk->depth - 1];
}

/* Pops everything above the last mark and the mark: items [*first, depth). */
static int pop_mark(reader *r, size_t *first) {
    gan_pk *pk = r->pk;
    if (!pk->nmarks) return fail(r, "no mark on the stack");
    *first = pk->marks[--pk->nmarks];
    return 0;
}

static gan_pk_value *make(reader *r, gan_pk_kind kind) {
    gan_pk_value *v = gan_pk_make(r->pk, kind);
    if (!v) fail(r, "out of memory");
    return v;
}

/* Moves stack items [first, depth) into a tuple, list or set. */
static int move_items(reader *r, gan_pk_value *seq, size_t first) {
    gan_pk *pk = r->pk;
    for (size_t i = first; i < pk->depth; i++)
        if (append_item(seq, pk->stack[i]) != 0) return fail(r, "out of memory");
    pk->depth = first;
    return 0;
}

static int push_tuple(reader *r, size_t first) {
    gan_pk_value *t = make(r, GAN_PK_TUPLE);
    return t && move_items(r, t, first) == 0 ? push(r, t) : -1;
}

static int append_pair(gan_pk_value *dict, gan_pk_value *key, gan_pk_value *value) {
    if (grow((void **)&dict->items, &dict->cap, 2 * dict->count + 2, sizeof *dict->items) != 0) return -1;
    dict->items[2 * dict->count] = key;
    dict->items[2 * dict->count + 1] = value;
    dict->count++;
    return 0;
}

/* Moves stack items [first, depth) into a dict as key/value pairs (count
 * counts pairs). */
static int add_pairs(reader *r, gan_pk_value *dict, size_t first) {
    gan_pk *pk = r->pk;
    if ((pk->depth - first) % 2 != 0) return fail(r, "odd number of items for a dict");
    for (size_t i = first; i < pk->depth; i += 2)
        if (append_pair(dict, pk->stack[i], pk->stack[i + 1]) != 0) return fail(r, "out of memory");
    pk->depth = first;
    return 0;
}

static int memo_put(reader *r, size_t index) {
    gan_pk *pk = r->pk;
    gan_pk_value *v = top(r);
    if (!v) return -1;
    if (index >= pk->nmemo + MEMO_SLACK) return fail(r, "memo index far beyond the memo");
    if (index >= pk->capmemo) {
        size_t old = pk->capmemo;
        if (grow((void **)&pk->memo, &pk->capmemo, index + 1, sizeof *pk->memo) != 0) return fail(r, "out of memory");
        memset(pk->memo + old, 0, (pk->capmemo - old) * sizeof *pk->memo);
    }
    pk->memo[index] = v;
    if (index >= pk->nmemo) pk->nmemo = index + 1;
    return 0;
}

static int memo_get(reader *r, size_t index) {
    gan_pk *pk = r->pk;
    if (index >= pk->nmemo || !pk->memo[index]) return fail(r, "memo entry not set");
    return push(r, pk->memo[index]);
}

/* A global, after the policy has allowed it. */
static int push_global(reader *r, const char *module, size_t mlen, const char *name, size_t nlen) {
    char *m = strndup(module, mlen), *n = strndup(name, nlen);
    gan_pk_value *g = m && n ? make(r, GAN_PK_GLOBAL) : NULL;
    if (!g) {
        free(m), free(n);
        return m && n ? -1 : fail(r, "out of memory");
    }
    g->data = m, g->name = n, g->len = mlen;
    if (strlen(m) != mlen || strlen(n) != nlen || !r->pk->hooks.allow_global ||
        !r->pk->hooks.allow_global(r->pk->hooks.user, m, n)) {
        char what[300];
        snprintf(what, sizeof what, "refusing global %.120s.%.120s (not part of a network snapshot)", m, n);
        return fail(r, what);
    }
    return push(r, g);
}

static int op_global(reader *r) { /* GLOBAL: "module\nname\n" */
    const uint8_t *start = r->data + r->pos, *end = r->data + r->size;
    const uint8_t *nl1 = memchr(start, '\n', (size_t)(end - start));
    const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
    if (!nl2) return fail(r, "truncated");
    r->pos = (size_t)(nl2 + 1 - r->data);
    return push_global(r, (const char *)start, (size_t)(nl1 - start), (const char *)nl1 + 1, (size_t)(nl2 - nl1 - 1));
}

static int op_stack_global(reader *r) {
    gan_pk_value *name = pop(r), *module = name ? pop(r) : NULL;
    if (!module) return -1;
    if (module->kind != GAN_PK_STR || name->kind != GAN_PK_STR) return fail(r, "module and name must be str");
    return push_global(r, module->data, module->len, name->data, name->len);
}

static int call(reader *r, const gan_pk_value *callable, const gan_pk_value *args) {
    if (callable->kind != GAN_PK_GLOBAL) return fail(r, "calling something that is not a global");
    if (args->kind != GAN_PK_TUPLE) return fail(r, "arguments are not a tuple");
    if (!r->pk->hooks.call) return fail(r, "calls are not allowed");
    gan_pk_value *v = r->pk->hooks.call(r->pk->hooks.user, r->pk, callable, args, r->err);
    if (!v) return gan_fail_context(r->err, "pickle: byte %zu (%s %s.%s)", r->op_at, r->op, callable->data,
                                    callable->name);
    return push(r, v);
}

static int op_reduce(reader *r) {
    gan_pk_value *args = pop(r), *callable = args ? pop(r) : NULL;
    return callable ? call(r, callable, args) : -1;
}

static int op_newobj_ex(reader *r) {
    gan_pk_value *kwargs = pop(r), *args = kwargs ? pop(r) : NULL, *cls = args ? pop(r) : NULL;
    if (!cls) return -1;
    if (kwargs->kind != GAN_PK_DICT || kwargs->count != 0) return fail(r, "keyword arguments are not supported");
    return call(r, cls, args);
}

static int op_build(reader *r) {
    gan_pk_value *state = pop(r), *obj = state ? top(r) : NULL;
    if (!obj) return -1;
    if (obj->kind == GAN_PK_OBJECT) {
        obj->state = state;
        return 0;
    }
    if (obj->kind == GAN_PK_DICT && state->kind == GAN_PK_DICT) {
        for (size_t i = 0; i < state->count; i++)
            if (append_pair(obj, state->items[2 * i], state->items[2 * i + 1]) != 0) return fail(r, "out of memory");
        return 0;
    }
    return fail(r, "BUILD on a value that takes no state");
}

static int op_persid(reader *r) {
    gan_pk_value *pid = pop(r);
    if (!pid) return -1;
    if (!r->pk->hooks.persistent_load) return fail(r, "persistent ids are not allowed here");
    gan_pk_value *v = r->pk->hooks.persistent_load(r->pk->hooks.user, r->pk, pid, r->err);
    if (!v) return gan_fail_context(r->err, "pickle: byte %zu (%s)", r->op_at, r->op);
    return push(r, v);
}

/* LONG1 / LONG4: little-endian two's complement. Values beyond 64 bits keep
 * their bytes (data, len) with i = 0. */
static int op_long(reader *r, int len_bytes) {
    uint64_t n;
    const uint8_t *p = NULL;
    if (take_uint(r, len_bytes, &n) != 0 || take(r, n, &p) != 0) return -1;
    gan_pk_value *v = make(r, GAN_PK_INT);
    if (!v) return -1;
    if (n > 8) {
        v->data = (const char *)p, v->len = n;
        return push(r, v);
    }
    uint64_t u = 0;
    for (size_t i = n; i-- > 0;) u = u << 8 | p[i];
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    v->i = (int64_t)u;
    return push(r, v);
}

static int op_int(reader *r, int bytes, int is_signed) {
    uint64_t u;
    if (take_uint(r, bytes, &u) != 0) return -1;
    gan_pk_value *v = make(r, GAN_PK_INT);
    if (!v) return -1;
    v->i = is_signed ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
    return push(r, v);
}

static int op_float(reader *r) { /* big-endian IEEE double */
    const uint8_t *p = NULL;
    if (take(r, 8, &p) != 0) return -1;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | p[i];
    gan_pk_value *v = make(r, GAN_PK_FLOAT);
    if (!v) return -1;
    memcpy(&v->f, &u, sizeof v->f);
    return push(r, v);
}

static int op_blob(reader *r, gan_pk_kind kind, int len_bytes) {
    uint64_t n;
    const uint8_t *p = NULL;
    if (take_uint(r, len_bytes, &n) != 0 || take(r, n, &p) != 0) return -1;
    gan_pk_value *v = make(r, kind);
    if (!v) return -1;
    v->data = (const char *)p, v->len = n;
    return push(r, v);
}

static int op_simple(reader *r, gan_pk_kind kind, int64_t i) {
    gan_pk_value *v = make(r, kind);
    if (!v) return -1;
    v->i = i;
    return push(r, v);
}

static int op_tuple_n(reader *r, size_t n) {
    gan_pk *pk = r->pk;
    if (pk->depth < floor_of(pk) + n) return fail(r, "stack underflow");
    return push_tuple(r, pk->depth - n);
}

static int op_mark(reader *r) {
    gan_pk *pk = r->pk;
    if (grow((void **)&pk->marks, &pk->capmarks, pk->nmarks + 1, sizeof *pk->marks) != 0)
        return fail(r, "out of memory");
    pk->marks[pk->nmarks++] = pk->depth;
    return 0;
}

/* The items an APPEND(S), ADDITEMS or SETITEM(S) adds: those above the last
 * mark when marked, else the top `group` values; [*first, depth). The
 * container they go into is the value just below them. */
static gan_pk_value *container_below(reader *r, int marked, size_t group, const char *noun, size_t *first) {
    gan_pk *pk = r->pk;
    if (marked) {
        if (pop_mark(r, first) != 0) return NULL;
    } else {
        if (pk->depth < floor_of(pk) + group) return fail(r, "stack underflow"), NULL;
        *first = pk->depth - group;
    }
    if (*first == 0 || *first <= floor_of(pk)) {
        char what[64];
        snprintf(what, sizeof what, "no %s below the items", noun);
        return fail(r, what), NULL;
    }
    return pk->stack[*first - 1];
}

/* APPEND, APPENDS, ADDITEMS: items into the list (or set) below them. */
static int op_appends(reader *r, int marked) {
    size_t first = 0;
    gan_pk_value *list = container_below(r, marked, 1, "list", &first);
    if (!list) return -1;
    if (list->kind != GAN_PK_LIST) return fail(r, "appending to something that is not a list or set");
    return move_items(r, list, first);
}

static int op_setitems(reader *r, int marked) {
    size_t first = 0;
    gan_pk_value *dict = container_below(r, marked, 2, "dict", &first);
    if (!dict) return -1;
    if (dict->kind != GAN_PK_DICT) return fail(r, "setting items of something that is not a dict");
    return add_pairs(r, dict, first);
}

/* TUPLE, LIST, DICT, FROZENSET: a new collection of the items above the mark. */
static int op_collection(reader *r, gan_pk_kind kind) {
    size_t first = 0;
    if (pop_mark(r, &first) != 0) return -1;
    gan_pk_value *v = make(r, kind);
    if (!v) return -1;
    int rc = kind == GAN_PK_DICT ? add_pairs(r, v, first) : move_items(r, v, first);
    return rc == 0 ? push(r, v) : -1;
}

static const char *op_name(uint8_t op) {
    switch (op) {
    case 0x80: return "PROTO";
    case 0x95: return "FRAME";
    case '.': return "STOP";
    case '(': return "MARK";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'N': return "NONE";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'M': return "BININT2";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'G': return "BINFLOAT";
    case 0x8c: return "SHORT_BINUNICODE";
    case 'X': return "BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 'U': return "SHORT_BINSTRING";
    case 'T': return "BINSTRING";
    case 'C': return "SHORT_BINBYTES";
    case 'B': return "BINBYTES";
    case 0x8e: return "BINBYTES8";
    case 0x96: return "BYTEARRAY8";
    case ')': return "EMPTY_TUPLE";
    case 't': return "TUPLE";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case ']': return "EMPTY_LIST";
    case 'l': return "LIST";
    case 'a': return "APPEND";
    case 'e': return "APPENDS";
    case '}': return "EMPTY_DICT";
    case 'd': return "DICT";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 'c': return "GLOBAL";
    case 0x93: return "STACK_GLOBAL";
    case 'R': return "REDUCE";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 'b': return "BUILD";
    case 'Q': return "BINPERSID";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 0x94: return "MEMOIZE";
    case 'h': return "BINGET";
    case 'j': return "LONG_BINGET";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'p': return "PUT";
    case 'g': return "GET";
    case 'P': return "PERSID";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown opcode";
    }
}

/* One opcode; 1 at STOP. */
static int step(reader *r, uint8_t op) {
    gan_pk *pk = r->pk;
    uint64_t u;
    size_t first = 0;
    gan_pk_value *v;
    switch (op) {
    case 0x80: return take_uint(r, 1, &u) != 0 ? -1 : u < 2 || u > 5 ? fail(r, "protocol outside 2 to 5") : 0;
    case 0x95: return take_uint(r, 8, &u); /* frames only group opcodes */
    case '.': return 1;
    case '(': return op_mark(r);
    case '0': return pop(r) ? 0 : -1;
    case '1': return pop_mark(r, &first) == 0 ? (pk->depth = first, 0) : -1;
    case '2': return (v = top(r)) ? push(r, v) : -1;
    case 'N': return op_simple(r, GAN_PK_NONE, 0);
    case 0x88: return op_simple(r, GAN_PK_BOOL, 1);
    case 0x89: return op_simple(r, GAN_PK_BOOL, 0);
    case 'J': return op_int(r, 4, 1);
    case 'K': return op_int(r, 1, 0);
    case 'M': return op_int(r, 2, 0);
    case 0x8a: return op_long(r, 1);
    case 0x8b: return op_long(r, 4);
    case 'G': return op_float(r);
    case 0x8c: return op_blob(r, GAN_PK_STR, 1);
    case 'X': return op_blob(r, GAN_PK_STR, 4);
    case 0x8d: return op_blob(r, GAN_PK_STR, 8);
    case 'U': return op_blob(r, GAN_PK_STR, 1);
    case 'T': return op_blob(r, GAN_PK_STR, 4);
    case 'C': return op_blob(r, GAN_PK_BYTES, 1);
    case 'B': return op_blob(r, GAN_PK_BYTES, 4);
    case 0x8e: return op_blob(r, GAN_PK_BYTES, 8);
    case 0x96: return op_blob(r, GAN_PK_BYTES, 8);
    case ')': return op_tuple_n(r, 0);
    case 't': return op_collection(r, GAN_PK_TUPLE);
    case 0x85: return op_tuple_n(r, 1);
    case 0x86: return op_tuple_n(r, 2);
    case 0x87: return op_tuple_n(r, 3);
    case ']': return (v = make(r, GAN_PK_LIST)) ? push(r, v) : -1;
    case 'l': return op_collection(r, GAN_PK_LIST);
    case 'a': return op_appends(r, 0);
    case 'e': return op_appends(r, 1);
    case '}': return (v = make(r, GAN_PK_DICT)) ? push(r, v) : -1;
    case 'd': return op_collection(r, GAN_PK_DICT);
    case 's': return op_setitems(r, 0);
    case 'u': return op_setitems(r, 1);
    case 0x8f: return (v = make(r, GAN_PK_LIST)) ? push(r, v) : -1;
    case 0x90: return op_appends(r, 1);
    case 0x91: return op_collection(r, GAN_PK_LIST);
    case 'c': return op_global(r);
    case 0x93: return op_stack_global(r);
    case 'R': return op_reduce(r);
    case 0x81: return op_reduce(r); /* NEWOBJ: cls, args -> the hook decides */
    case 0x92: return op_newobj_ex(r);
    case 'b': return op_build(r);
    case 'Q': return op_persid(r);
    case 'q': return take_uint(r, 1, &u) == 0 ? memo_put(r, u) : -1;
    case 'r': return take_uint(r, 4, &u) == 0 ? memo_put(r, u) : -1;
    case 0x94: return memo_put(r, pk->nmemo);
    case 'h': return take_uint(r, 1, &u) == 0 ? memo_get(r, u) : -1;
    case 'j': return take_uint(r, 4, &u) == 0 ? memo_get(r, u) : -1;
    default: return fail(r, "opcode not supported (a network snapshot does not use it)");
    }
}

gan_pk_value *gan_pk_load(gan_pk *pk, const uint8_t *data, size_t size, size_t *pos, gan_error *err) {
    reader r = {pk, data, size, *pos, *pos, "start", err};
    pk->depth = 0, pk->nmarks = 0, pk->nmemo = 0;
    if (pk->memo) memset(pk->memo, 0, pk->capmemo * sizeof *pk->memo);
    for (;;) {
        if (r.pos >= size) {
            r.op_at = r.pos, r.op = "end of data";
            fail(&r, "truncated: no STOP");
            return NULL;
        }
        r.op_at = r.pos;
        uint8_t op = data[r.pos++];
        r.op = op_name(op);
        int rc = step(&r, op);
        if (rc < 0) return NULL;
        if (rc == 1) break;
    }
    if (pk->depth != 1 || pk->nmarks != 0) {
        fail(&r, "STOP with other than one value on the stack");
        return NULL;
    }
    *pos = r.pos;
    return pk->stack[0];
}
