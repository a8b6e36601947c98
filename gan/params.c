#include "params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "orthogonal.h"
#include "rng.h"

gan_tensor *gan_params_add(gan_ctx *ctx, gan_params *p, const char *name, int is_buffer, gan_init init, int ndim,
                           const int64_t *shape) {
    if (ctx->failed) return NULL;
    if (p->count == p->capacity) {
        int capacity = p->capacity ? p->capacity * 2 : 64;
        gan_param *grown = realloc(p->items, (size_t)capacity * sizeof *grown);
        if (!grown) return gan_ctx_fail(ctx, "out of memory registering %s", name);
        p->items = grown;
        p->capacity = capacity;
    }
    gan_tensor *t = gan_tensor_new(ctx, ndim, shape);
    char *copy = strdup(name);
    if (!t || !copy) {
        gan_tensor_free(ctx, t);
        free(copy);
        return ctx->failed ? NULL : gan_ctx_fail(ctx, "out of memory registering %s", name);
    }
    p->items[p->count++] = (gan_param){copy, t, is_buffer, init};
    return t;
}

const gan_param *gan_params_find(const gan_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->items[i].name, name) == 0) return &p->items[i];
    return NULL;
}

int64_t gan_params_numel(const gan_params *p, int include_buffers) {
    int64_t total = 0;
    for (int i = 0; i < p->count; i++)
        if (include_buffers || !p->items[i].is_buffer) total += p->items[i].tensor->numel;
    return total;
}

void gan_params_free(gan_ctx *ctx, gan_params *p) {
    for (int i = 0; i < p->count; i++) {
        gan_tensor_free(ctx, p->items[i].tensor);
        free(p->items[i].name);
    }
    free(p->items);
    *p = (gan_params){0};
}

static void fill_fir_1331(float *f) {
    static const float taps[4] = {1, 3, 3, 1};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) f[i * 4 + j] = taps[i] * taps[j] / 64.0f;
}

static int init_orthogonal(const gan_param *param, float *host, uint64_t seed, uint64_t offset, gan_error *err) {
    const gan_tensor *t = param->tensor;
    int64_t rows = t->ndim > 0 ? t->shape[0] : 1;
    float *normal = malloc((size_t)t->numel * sizeof *normal);
    if (!normal) return gan_fail(err, "out of memory");
    gan_philox_normal(seed, offset, normal, (size_t)t->numel);
    int rc = gan_orthogonal_from_normal(normal, rows, t->numel / rows, host, err);
    for (int64_t j = 0; rc == 0 && j < t->numel; j++) host[j] *= param->init.value;
    free(normal);
    return rc;
}

int gan_params_init(gan_ctx *ctx, gan_params *p, uint64_t seed, gan_error *err) {
    uint64_t offset = 0;
    for (int i = 0; i < p->count; i++) {
        gan_param *param = &p->items[i];
        gan_tensor *t = param->tensor;
        float *host = malloc((size_t)t->numel * sizeof *host);
        if (!host) return gan_fail(err, "out of memory initialising %s", param->name);
        switch (param->init.kind) {
        case GAN_INIT_NORMAL:
            gan_philox_normal(seed, offset, host, (size_t)t->numel);
            for (int64_t j = 0; j < t->numel; j++) host[j] *= param->init.value;
            offset += (uint64_t)t->numel;
            break;
        case GAN_INIT_CONSTANT:
            for (int64_t j = 0; j < t->numel; j++) host[j] = param->init.value;
            break;
        case GAN_INIT_UNIFORM:
            gan_philox_uniform(seed, offset, host, (size_t)t->numel);
            for (int64_t j = 0; j < t->numel; j++) host[j] = (2 * host[j] - 1) * param->init.value;
            offset += (uint64_t)t->numel;
            break;
        case GAN_INIT_ORTHOGONAL:
            if (init_orthogonal(param, host, seed, offset, err) != 0) {
                free(host);
                return gan_fail_context(err, "%s", param->name);
            }
            offset += (uint64_t)t->numel;
            break;
        case GAN_INIT_FIR_1331:
            if (t->numel != 16) {
                free(host);
                return gan_fail(err, "%s: the [1,3,3,1] filter needs a [4, 4] tensor", param->name);
            }
            fill_fir_1331(host);
            break;
        }
        int rc = gan_tensor_upload(ctx, t, host);
        free(host);
        if (rc != 0) return gan_ctx_take_error(ctx, err);
    }
    return 0;
}

int gan_params_copy(gan_ctx *ctx, const gan_params *dst, const gan_params *src) {
    if (dst->count != src->count) return gan_ctx_fail(ctx, "params_copy: %d tensors into %d", src->count, dst->count), -1;
    for (int i = 0; i < src->count; i++) {
        /* As one row each, so that 0-d tensors copy too. */
        const gan_tensor *s = src->items[i].tensor, *d = dst->items[i].tensor;
        gan_tensor sv = gan_tensor_view(s, 1, (int64_t[]){s->numel}), dv = gan_tensor_view(d, 1, (int64_t[]){d->numel});
        if (gan_write_slice(ctx, &dv, &sv, 0) != 0) return -1;
    }
    return 0;
}

static int check_entry(const gan_param *param, const gan_st_tensor *entry, const char *full, gan_error *err) {
    char want[GAN_SHAPE_STR_LEN], got[GAN_SHAPE_STR_LEN];
    const gan_tensor *t = param->tensor;
    int same = entry->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = entry->shape[d] == t->shape[d];
    if (!same)
        return gan_fail(err, "tensor '%s' has shape %s but the config needs %s", full,
                        gan_shape_str(entry->ndim, entry->shape, got, sizeof got),
                        gan_shape_str(t->ndim, t->shape, want, sizeof want));
    return 0;
}

/* Reads "<prefix><name>" into tensors[i] (p's own tensors when tensors is
 * NULL; NULL entries skipped). */
static int load_tensors(gan_ctx *ctx, const gan_params *p, gan_tensor *const *tensors, gan_st_file *file,
                        const char *prefix, gan_error *err) {
    char full[512];
    float *host = NULL;
    int rc = 0;
    for (int i = 0; i < p->count && rc == 0; i++) {
        const gan_param *param = &p->items[i];
        gan_tensor *t = tensors ? tensors[i] : param->tensor;
        if (!t) continue;
        snprintf(full, sizeof full, "%s%s", prefix, param->name);
        const gan_st_tensor *entry = gan_st_find(file, full);
        if (!entry) {
            rc = gan_fail(err, "missing tensor '%s'", full);
            break;
        }
        if ((rc = check_entry(param, entry, full, err)) != 0) break;
        float *grown = realloc(host, (size_t)t->numel * sizeof *host + 1);
        if (!grown) {
            rc = gan_fail(err, "out of memory reading '%s'", full);
            break;
        }
        host = grown;
        if ((rc = gan_st_read_f32(file, entry, host, err)) != 0) break;
        if (gan_tensor_upload(ctx, t, host) != 0) rc = gan_ctx_take_error(ctx, err);
    }
    free(host);
    return rc;
}

int gan_params_load(gan_ctx *ctx, gan_params *p, gan_st_file *file, const char *prefix, gan_error *err) {
    size_t plen = strlen(prefix);
    for (int i = 0; i < gan_st_count(file); i++) {
        const gan_st_tensor *entry = gan_st_at(file, i);
        if (strncmp(entry->name, prefix, plen) == 0 && !gan_params_find(p, entry->name + plen))
            return gan_fail(err, "unexpected tensor '%s': not part of this network's config", entry->name);
    }
    return load_tensors(ctx, p, NULL, file, prefix, err);
}

int gan_params_load_aligned(gan_ctx *ctx, const gan_params *p, gan_tensor *const *tensors, gan_st_file *file,
                            const char *prefix, gan_error *err) {
    return load_tensors(ctx, p, tensors, file, prefix, err);
}

static int write_tensors(gan_ctx *ctx, const gan_params *p, gan_tensor *const *tensors, const char *prefix,
                         gan_st_writer *w, gan_host_copies *copies, gan_error *err) {
    char full[512];
    int on_host = ctx->device.type == GAN_DEVICE_CPU;
    for (int i = 0; i < p->count; i++) {
        const gan_tensor *t = tensors ? tensors[i] : p->items[i].tensor;
        if (!t) continue;
        const float *data = t->data;
        if (!on_host) {
            float **grown = realloc(copies->buffers, (size_t)(copies->count + 1) * sizeof *grown);
            float *host = malloc((size_t)t->numel * sizeof *host + 1);
            if (grown) copies->buffers = grown;
            if (!grown || !host) {
                free(host);
                return gan_fail(err, "out of memory saving %s", p->items[i].name);
            }
            copies->buffers[copies->count++] = host;
            if (gan_tensor_download(ctx, t, host) != 0) return gan_ctx_take_error(ctx, err);
            data = host;
        }
        snprintf(full, sizeof full, "%s%s", prefix, p->items[i].name);
        if (gan_st_writer_add_f32(w, full, t->ndim, t->shape, data, err) != 0) return -1;
    }
    return 0;
}

int gan_params_write(gan_ctx *ctx, const gan_params *p, const char *prefix, gan_st_writer *w,
                     gan_host_copies *copies, gan_error *err) {
    return write_tensors(ctx, p, NULL, prefix, w, copies, err);
}

int gan_params_write_aligned(gan_ctx *ctx, const gan_params *p, gan_tensor *const *tensors, const char *prefix,
                             gan_st_writer *w, gan_host_copies *copies, gan_error *err) {
    return write_tensors(ctx, p, tensors, prefix, w, copies, err);
}

void gan_params_free_copies(gan_host_copies *copies) {
    for (int i = 0; i < copies->count; i++) free(copies->buffers[i]);
    free(copies->buffers);
    *copies = (gan_host_copies){0};
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t size) {
    const uint8_t *bytes = data;
    for (size_t i = 0; i < size; i++) h = (h ^ bytes[i]) * 1099511628211ull;
    return h;
}

int gan_params_fingerprint(gan_ctx *ctx, const gan_params *p, uint64_t *fingerprint, gan_error *err) {
    uint64_t h = 14695981039346656037ull;
    float *host = NULL;
    for (int i = 0; i < p->count; i++) {
        const gan_tensor *t = p->items[i].tensor;
        float *grown = realloc(host, (size_t)t->numel * sizeof *host + 1);
        if (!grown) {
            free(host);
            return gan_fail(err, "out of memory");
        }
        host = grown;
        if (gan_tensor_download(ctx, t, host) != 0) {
            free(host);
            return gan_ctx_take_error(ctx, err);
        }
        h = fnv1a(h, p->items[i].name, strlen(p->items[i].name) + 1);
        h = fnv1a(h, t->shape, (size_t)t->ndim * sizeof *t->shape);
        h = fnv1a(h, host, (size_t)t->numel * sizeof *host);
    }
    free(host);
    *fingerprint = h;
    return 0;
}

/* ------------------------------------------------------------- gradients */

int gan_params_grads_zero(gan_ctx *ctx, const gan_params *p, gan_tensor **grads) {
    int64_t largest = 0;
    for (int i = 0; i < p->count; i++)
        if (grads[i] && grads[i]->numel > largest) largest = grads[i]->numel;
    float *zeros = calloc((size_t)largest + 1, sizeof *zeros);
    if (!zeros) return gan_ctx_fail(ctx, "out of memory"), -1;
    int rc = 0;
    for (int i = 0; i < p->count && rc == 0; i++)
        if (grads[i]) rc = gan_tensor_upload(ctx, grads[i], zeros);
    free(zeros);
    return rc;
}

gan_tensor **gan_params_grads_new(gan_ctx *ctx, const gan_params *p) {
    gan_tensor **grads = calloc((size_t)p->count + 1, sizeof *grads);
    if (!grads) return gan_ctx_fail(ctx, "out of memory");
    for (int i = 0; i < p->count; i++) {
        const gan_tensor *t = p->items[i].tensor;
        if (!p->items[i].is_buffer) grads[i] = gan_tensor_new(ctx, t->ndim, t->shape);
    }
    if (ctx->failed || gan_params_grads_zero(ctx, p, grads) != 0) {
        gan_params_grads_free(ctx, p, grads);
        return NULL;
    }
    return grads;
}

void gan_params_grads_free(gan_ctx *ctx, const gan_params *p, gan_tensor **grads) {
    if (!grads) return;
    for (int i = 0; i < p->count; i++) gan_tensor_free(ctx, grads[i]);
    free(grads);
}

void gan_params_add_grad(gan_ctx *ctx, const gan_params *p, gan_tensor **grads, const gan_tensor *param,
                         gan_tensor *g) {
    if (!g) return;
    int found = 0;
    for (int i = 0; grads && i < p->count && !found; i++)
        if (p->items[i].tensor == param) {
            found = 1;
            if (!grads[i]) gan_ctx_fail(ctx, "no gradient slot for %s", p->items[i].name);
            else gan_accumulate(ctx, grads[i], g, 1.0f);
        }
    if (grads && !found) gan_ctx_fail(ctx, "gradient for a tensor that is not a parameter");
    gan_tensor_free(ctx, g);
}
