/* A named set of tensors: a network's parameters and buffers, in the order
 * and with the names of the reference's state_dict(). Models register their
 * tensors here once; loading, saving, initialisation (and later optimizers
 * and EMA) walk the list instead of knowing each model. */
#ifndef GAN_PARAMS_H
#define GAN_PARAMS_H

#include "context.h"
#include "io/safetensors.h"
#include "tensor.h"

/* How a tensor is initialised for training from scratch. */
typedef enum gan_init_kind {
    GAN_INIT_NORMAL = 0, /* N(0, 1) * value */
    GAN_INIT_CONSTANT,   /* value */
    GAN_INIT_FIR_1331,   /* outer([1,3,3,1]) normalised to sum 1: the resampling filter */
    GAN_INIT_UNIFORM,    /* U(-value, value): PyTorch's default bias */
    GAN_INIT_ORTHOGONAL, /* torch's orthogonal_ over [shape[0], rest] from N(0, 1) draws, times value */
} gan_init_kind;

typedef struct gan_init {
    gan_init_kind kind;
    float value;
} gan_init;

typedef struct gan_param {
    char *name;
    gan_tensor *tensor;
    int is_buffer; /* not trained by the optimizer (w_avg, noise_const, filters) */
    gan_init init;
} gan_param;

typedef struct gan_params {
    gan_param *items;
    int count, capacity;
} gan_params;

/* Creates a tensor of the given shape and registers it; NULL on error (in ctx). */
gan_tensor *gan_params_add(gan_ctx *ctx, gan_params *p, const char *name, int is_buffer, gan_init init, int ndim,
                           const int64_t *shape);
const gan_param *gan_params_find(const gan_params *p, const char *name);
int64_t gan_params_numel(const gan_params *p, int include_buffers);
void gan_params_free(gan_ctx *ctx, gan_params *p);

/* Gradients: an array of tensors aligned with p->items, NULL for buffers.
 * gan_params_grads_new makes them zeroed; gan_params_add_grad adds g into the
 * slot of parameter `param` (nothing when grads is NULL) and frees g. */
gan_tensor **gan_params_grads_new(gan_ctx *ctx, const gan_params *p);
int gan_params_grads_zero(gan_ctx *ctx, const gan_params *p, gan_tensor **grads);
void gan_params_grads_free(gan_ctx *ctx, const gan_params *p, gan_tensor **grads);
void gan_params_add_grad(gan_ctx *ctx, const gan_params *p, gan_tensor **grads, const gan_tensor *param,
                         gan_tensor *g);

/* Fills every tensor by its init rule. Normal draws come from Philox stream
 * `seed`, each tensor taking the next range of the stream in registration
 * order, so the same seed and config always give the same network. */
int gan_params_init(gan_ctx *ctx, gan_params *p, uint64_t seed, gan_error *err);

/* dst's tensors become copies of src's (the same network: same names and
 * shapes, in order): G_ema's start as a copy of G. Returns 0 or -1 (error in
 * ctx). */
int gan_params_copy(gan_ctx *ctx, const gan_params *dst, const gan_params *src);

/* Reads every tensor "<prefix><name>" of the file. Each must be present with
 * exactly its registered shape; a tensor in the file whose name starts with
 * prefix but is not registered is an error too (the file describes another
 * network). */
int gan_params_load(gan_ctx *ctx, gan_params *p, gan_st_file *file, const char *prefix, gan_error *err);

/* Adds every tensor to a writer as "<prefix><name>". Host copies made for
 * device tensors are kept in *copies, to be released with
 * gan_params_free_copies after the writer has saved. */
typedef struct gan_host_copies {
    float **buffers;
    int count;
} gan_host_copies;
/* A 64-bit FNV-1a hash over every tensor's name, shape and values: two
 * networks with the same fingerprint produce the same images. */
int gan_params_fingerprint(gan_ctx *ctx, const gan_params *p, uint64_t *fingerprint, gan_error *err);

int gan_params_write(gan_ctx *ctx, const gan_params *p, const char *prefix, gan_st_writer *w,
                     gan_host_copies *copies, gan_error *err);
void gan_params_free_copies(gan_host_copies *copies);

/* Tensors aligned with p->items (optimizer moments, gradients), stored as
 * "<prefix><name>"; NULL entries are skipped. */
int gan_params_write_aligned(gan_ctx *ctx, const gan_params *p, gan_tensor *const *tensors, const char *prefix,
                             gan_st_writer *w, gan_host_copies *copies, gan_error *err);
int gan_params_load_aligned(gan_ctx *ctx, const gan_params *p, gan_tensor *const *tensors, gan_st_file *file,
                            const char *prefix, gan_error *err);

#endif
