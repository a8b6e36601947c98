/* Faces: what the daemon renders and serves. A face is fully described by
 * its seed and truncation psi (and the network), so its id spells them out:
 * "s0000012345-p+0700-1a2b3c4d" = seed 12345, psi 0.700, network fingerprint
 * 1a2b3c4d. The folder of WebP files named by id is therefore its own index,
 * and an id never names two different images (a new network changes the
 * fingerprint), which is what lets /faces/<id>.webp be cached forever. */
#ifndef DNE_SERVE_FACE_H
#define DNE_SERVE_FACE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gan/context.h"
#include "gan/models/stylegan2.h"

#define FACE_ID_LEN 27 /* without the terminating NUL */
#define FACE_PSI_LIMIT 2000 /* |psi| <= 2.000 */

typedef struct face_key {
    uint32_t seed;
    int psi_milli; /* psi * 1000, in [-FACE_PSI_LIMIT, FACE_PSI_LIMIT] */
} face_key;

/* id (FACE_ID_LEN + 1 bytes) of a face of the network with this fingerprint. */
void face_id(face_key key, uint32_t fingerprint, char *id);
/* Parses an id of this network; 0 on success, -1 if it is malformed or names
 * another network. Strict: exactly the format face_id writes. */
int face_id_parse(const char *id, uint32_t fingerprint, face_key *key);

/* {"id", "url": "faces/<id>.webp", "seed", "psi"}: how the API, the pool's
 * index.json and the static site's faces.json describe a face. */
struct cJSON;
struct cJSON *face_json(const char *id, face_key key);

/* Image bytes shared between the pool, the cache and HTTP responses in
 * flight: freed when the last holder lets go. */
typedef struct face_blob {
    atomic_int refs;
    size_t size;
    uint8_t data[];
} face_blob;

face_blob *face_blob_new(const void *data, size_t size);
face_blob *face_blob_ref(face_blob *b);
void face_blob_unref(face_blob *b);

/* Renders faces with one context (one per worker thread); the generator is
 * shared and read-only. */
typedef struct face_renderer {
    gan_ctx *ctx;
    const sg2_generator *g;
    float quality;   /* WebP quality, or negative for lossless */
    int class_index; /* for conditional networks */
} face_renderer;

/* The face as a WebP, rendered exactly as `dne generate --seeds SEED --trunc
 * PSI` renders it (z from NumPy's RandomState, constant noise). */
face_blob *face_render(face_renderer *r, face_key key, gan_error *err);

#endif
