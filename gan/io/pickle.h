/* A restricted reader of Python pickles (protocols 2 to 5), for network
 * snapshots written by PyTorch code. It never executes anything: the file's
 * opcodes build a tree of plain values (None, bool, int, float, str, bytes,
 * tuple, list, dict), and every global the file names is first checked by
 * the caller's policy and then, when called (REDUCE, NEWOBJ), handed to the
 * caller's hook, which builds a plain value or an opaque object of its own.
 * Opcodes of protocols 0 and 1 that these files never use, and anything the
 * policy refuses, stop the reader with an error naming the opcode or the
 * global and its byte offset.
 *
 * Values live until gan_pk_free; strings and bytes point into the caller's
 * buffer, which must outlive them. */
#ifndef GAN_IO_PICKLE_H
#define GAN_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../error.h"

typedef enum gan_pk_kind {
    GAN_PK_NONE,
    GAN_PK_BOOL,
    GAN_PK_INT,
    GAN_PK_FLOAT,
    GAN_PK_STR, /* UTF-8 as stored */
    GAN_PK_BYTES,
    GAN_PK_TUPLE,
    GAN_PK_LIST, /* also sets and frozensets */
    GAN_PK_DICT, /* items in insertion order, keys and values interleaved */
    GAN_PK_GLOBAL,
    GAN_PK_OBJECT, /* made by the caller's hook */
} gan_pk_kind;

typedef struct gan_pk_value gan_pk_value;
struct gan_pk_value {
    gan_pk_kind kind;
    int64_t i;  /* BOOL, INT */
    double f;   /* FLOAT */
    const char *data; /* STR, BYTES; GLOBAL: the module */
    size_t len;
    const char *name;     /* GLOBAL: the attribute name */
    gan_pk_value **items; /* TUPLE, LIST, DICT (2 * count entries) */
    size_t count, cap;
    void *object; /* OBJECT: the hook's */
    int tag;      /* OBJECT: the hook's kind of object */
    gan_pk_value *state; /* OBJECT: what BUILD set, or NULL */
};

typedef struct gan_pk gan_pk;

typedef struct gan_pk_hooks {
    void *user;
    /* May the file name module.name? (0: refused, with an error naming it.) */
    int (*allow_global)(void *user, const char *module, const char *name);
    /* Calls a global (REDUCE, or NEWOBJ with its class) with args (a tuple):
     * returns the result, or NULL with err set. */
    gan_pk_value *(*call)(void *user, gan_pk *pk, const gan_pk_value *global, const gan_pk_value *args,
                          gan_error *err);
    /* BINPERSID; NULL: persistent ids are refused. */
    gan_pk_value *(*persistent_load)(void *user, gan_pk *pk, const gan_pk_value *pid, gan_error *err);
    /* Frees an OBJECT's payload at gan_pk_free; may be NULL. */
    void (*free_object)(void *user, int tag, void *object);
} gan_pk_hooks;

gan_pk *gan_pk_new(const gan_pk_hooks *hooks);
void gan_pk_free(gan_pk *pk);

/* Runs one pickle from data[*pos] to its STOP; returns its value and moves
 * *pos past the STOP (a file can hold several pickles back to back, as
 * legacy torch.save blobs do). */
gan_pk_value *gan_pk_load(gan_pk *pk, const uint8_t *data, size_t size, size_t *pos, gan_error *err);

/* Values for the hooks to return. */
gan_pk_value *gan_pk_make(gan_pk *pk, gan_pk_kind kind);
gan_pk_value *gan_pk_make_object(gan_pk *pk, int tag, void *object);
gan_pk_value *gan_pk_make_bytes(gan_pk *pk, const char *data, size_t len);

/* Lookups: the value of a str key in a dict (NULL if absent or not a dict),
 * whether a str value equals s, the i-th item of a tuple or list (NULL when
 * out of range). */
const gan_pk_value *gan_pk_get(const gan_pk_value *dict, const char *key);
int gan_pk_is_str(const gan_pk_value *v, const char *s);
const gan_pk_value *gan_pk_item(const gan_pk_value *seq, size_t i);
const char *gan_pk_kind_name(gan_pk_kind kind);

#endif
