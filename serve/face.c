#include "face.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/io/image.h"
#include "gan/io/tensor_image.h"
#include "gan/ops.h"
#include "gan/rng.h"

void face_id(face_key key, uint32_t fingerprint, char *id) {
    int psi = key.psi_milli < 0 ? -key.psi_milli : key.psi_milli;
    char text[64];
    snprintf(text, sizeof text, "s%010u-p%c%04d-%08x", key.seed, key.psi_milli < 0 ? '-' : '+', psi % 10000,
             fingerprint);
    memcpy(id, text, FACE_ID_LEN);
    id[FACE_ID_LEN] = 0;
}

cJSON *face_json(const char *id, face_key key) {
    char url[64];
    snprintf(url, sizeof url, "faces/%s.webp", id);
    cJSON *json = cJSON_CreateObject();
    cJSON_AddStringToObject(json, "id", id);
    cJSON_AddStringToObject(json, "url", url);
    cJSON_AddNumberToObject(json, "seed", key.seed);
    cJSON_AddNumberToObject(json, "psi", key.psi_milli / 1000.0);
    return json;
}

static int digits(const char *s, int n, uint64_t *value) {
    *value = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        *value = *value * 10 + (uint64_t)(s[i] - '0');
    }
    return 0;
}

int face_id_parse(const char *id, uint32_t fingerprint, face_key *key) {
    uint64_t seed, psi;
    if (strlen(id) != FACE_ID_LEN || id[0] != 's' || id[11] != '-' || id[12] != 'p' ||
        (id[13] != '+' && id[13] != '-') || id[18] != '-')
        return -1;
    if (digits(id + 1, 10, &seed) != 0 || seed > UINT32_MAX || digits(id + 14, 4, &psi) != 0 ||
        psi > FACE_PSI_LIMIT)
        return -1;
    char expected[FACE_ID_LEN + 1];
    key->seed = (uint32_t)seed;
    key->psi_milli = id[13] == '-' ? -(int)psi : (int)psi;
    face_id(*key, fingerprint, expected);
    return strcmp(expected, id) == 0 ? 0 : -1;
}

face_blob *face_blob_new(const void *data, size_t size) {
    face_blob *b = malloc(sizeof *b + size);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->size = size;
    memcpy(b->data, data, size);
    return b;
}

face_blob *face_blob_ref(face_blob *b) {
    if (b) atomic_fetch_add(&b->refs, 1);
    return b;
}

void face_blob_unref(face_blob *b) {
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) free(b);
}

/* z = RandomState(seed).randn(z_dim), as generate.py. */
static void seed_to_z(uint32_t seed, int z_dim, float *z) {
    double *row = malloc((size_t)z_dim * sizeof *row);
    gan_randomstate rs;
    gan_randomstate_seed(&rs, seed);
    gan_randomstate_randn(&rs, row, (size_t)z_dim);
    for (int j = 0; j < z_dim; j++) z[j] = (float)row[j];
    free(row);
}

static int render_pixels(face_renderer *r, face_key key, float *pixels) {
    gan_ctx *ctx = r->ctx;
    const sg2_config *cfg = &r->g->cfg;
    float *z = malloc((size_t)cfg->z_dim * sizeof *z), *label = calloc((size_t)cfg->c_dim + 1, sizeof *label);
    if (!z || !label) {
        free(z);
        free(label);
        gan_ctx_fail(ctx, "out of memory");
        return -1;
    }
    seed_to_z(key.seed, cfg->z_dim, z);
    if (cfg->c_dim > 0) label[r->class_index] = 1;
    gan_tensor *zt = gan_tensor_from_host(ctx, 2, (int64_t[]){1, cfg->z_dim}, z);
    gan_tensor *c = cfg->c_dim > 0 ? gan_tensor_from_host(ctx, 2, (int64_t[]){1, cfg->c_dim}, label) : NULL;
    gan_tensor *ws = sg2_mapping(ctx, r->g, zt, c, (float)key.psi_milli / 1000.0f, 0);
    gan_tensor *img = sg2_synthesis(ctx, r->g, ws, SG2_NOISE_CONST, NULL);
    if (img) gan_tensor_download(ctx, img, pixels);
    gan_tensor *all[] = {zt, c, ws, img};
    for (int i = 0; i < 4; i++) gan_tensor_free(ctx, all[i]);
    free(z);
    free(label);
    return gan_ctx_failed(ctx) ? -1 : 0;
}

face_blob *face_render(face_renderer *r, face_key key, gan_error *err) {
    const sg2_config *cfg = &r->g->cfg;
    int res = cfg->img_resolution, ch = cfg->img_channels;
    float *pixels = malloc((size_t)ch * res * res * sizeof *pixels);
    if (!pixels) {
        gan_fail(err, "out of memory");
        return NULL;
    }
    face_blob *blob = NULL;
    gan_image img = {0};
    uint8_t *webp = NULL;
    size_t size = 0;
    if (render_pixels(r, key, pixels) != 0)
        gan_ctx_take_error(r->ctx, err);
    else if (gan_image_from_chw(pixels, ch, res, res, &img, err) == 0 &&
             gan_image_encode_webp(&img, r->quality, &webp, &size, err) == 0 && !(blob = face_blob_new(webp, size)))
        gan_fail(err, "out of memory");
    free(webp);
    gan_image_free(&img);
    free(pixels);
    return blob;
}
