/* The face pool: a folder of WebP files named by face id (serve/face.h),
 * mirrored in memory for serving. Files are written atomically (temporary
 * name, fsync, rename), so a killed daemon leaves either the whole face or a
 * temporary leftover, which the next start removes. Image bytes are kept in
 * memory up to a limit and read back from the folder beyond it. Thread-safe. */
#ifndef DNE_SERVE_POOL_H
#define DNE_SERVE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "face.h"
#include "gan/error.h"

typedef struct face_pool face_pool;

typedef struct face_info {
    char id[FACE_ID_LEN + 1];
    face_key key;
} face_info;

/* Opens (creating it if needed) the folder for the network with this
 * fingerprint: removes leftovers of killed writes, faces of other networks,
 * files that are not faces and faces that are not valid WebP, and lists the
 * rest, oldest first. At most `capacity` faces are kept. */
face_pool *face_pool_open(const char *dir, uint32_t fingerprint, int capacity, size_t memory_limit,
                          gan_error *err);
void face_pool_close(face_pool *p);

int face_pool_count(face_pool *p);
int face_pool_capacity(const face_pool *p);
uint32_t face_pool_fingerprint(const face_pool *p);
size_t face_pool_memory(face_pool *p);
int face_pool_contains(face_pool *p, face_key key);

/* Writes the face and adds it as the newest; beyond capacity the oldest face
 * is deleted. */
int face_pool_add(face_pool *p, face_key key, face_blob *image, gan_error *err);

/* The image of a face (a reference the caller releases with
 * face_blob_unref), or NULL if the pool does not have it. A face whose file
 * has disappeared is dropped from the pool. */
face_blob *face_pool_get(face_pool *p, face_key key);

/* A face chosen by `random` (any 64-bit number); -1 when the pool is empty. */
int face_pool_pick(face_pool *p, uint64_t random, face_info *out);

/* Drops faces whose files have been deleted from the folder; returns how many. */
int face_pool_sync(face_pool *p);

/* A copy of the listing, oldest first (free it). */
int face_pool_list(face_pool *p, face_info **faces, int *count);

/* Writes index.json into the folder: a face_json for every face, oldest first. */
int face_pool_write_index(face_pool *p, gan_error *err);

#endif
