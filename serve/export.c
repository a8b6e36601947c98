#include "export.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "gan/io/file.h"

static int write_assets(const char *web_dir, const char *out_dir, gan_error *err) {
    char path[4096];
    for (const serve_asset *a = serve_assets; a->name; a++) {
        snprintf(path, sizeof path, "%s/%s", out_dir, a->name);
        if (!web_dir) {
            if (gan_write_file_atomic(path, a->data, a->size, err) != 0) return -1;
            continue;
        }
        char source[4096];
        uint8_t *data;
        size_t size;
        snprintf(source, sizeof source, "%s/%s", web_dir, a->name);
        if (gan_read_file(source, 16u << 20, &data, &size, err) != 0) return -1;
        int rc = gan_write_file_atomic(path, data, size, err);
        free(data);
        if (rc != 0) return -1;
    }
    return 0;
}

static int write_face(face_pool *pool, const face_info *f, const char *path, gan_error *err) {
    face_blob *b = face_pool_get(pool, f->key);
    if (!b) return gan_fail(err, "face %s vanished from the pool while exporting", f->id);
    int rc = gan_write_file_atomic(path, b->data, b->size, err);
    face_blob_unref(b);
    return rc;
}

static int write_index(const face_info *faces, int count, const char *out_dir, gan_error *err) {
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; list && i < count; i++) cJSON_AddItemToArray(list, face_json(faces[i].id, faces[i].key));
    char *text = list ? cJSON_PrintUnformatted(list) : NULL;
    cJSON_Delete(list);
    if (!text) return gan_fail(err, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/faces.json", out_dir);
    int rc = gan_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

int serve_export(face_pool *pool, const char *web_dir, const char *out_dir, gan_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/faces", out_dir);
    if (gan_mkdirs(path, err) != 0 || write_assets(web_dir, out_dir, err) != 0) return -1;
    face_info *faces;
    int count;
    if (face_pool_list(pool, &faces, &count) != 0) return gan_fail(err, "out of memory");
    int rc = count > 0 ? 0 : gan_fail(err, "the pool is empty: nothing to export");
    for (int i = 0; rc == 0 && i < count; i++) {
        snprintf(path, sizeof path, "%s/faces/%s.webp", out_dir, faces[i].id);
        rc = write_face(pool, &faces[i], path, err);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/random.webp", out_dir);
        rc = write_face(pool, &faces[count - 1], path, err);
    }
    if (rc == 0) rc = write_index(faces, count, out_dir, err);
    free(faces);
    return rc;
}
