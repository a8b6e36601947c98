/* PyTorch objects in a plain pickle, as stylegan2-ada-pytorch writes its
 * network snapshots (pickle.dump of a dict of modules), read with the
 * restricted machine of pickle.h. Understood, and nothing else:
 *   - torch_utils.persistence._reconstruct_persistent_obj(meta): a module
 *     whose class is given by source text (meta["module_src"]) that is kept
 *     as opaque text and never run; its state is meta["state"], the module's
 *     __dict__ (_parameters, _buffers, _modules, _init_kwargs, ...);
 *   - torch._utils._rebuild_tensor_v2 / _rebuild_parameter(_with_state): a
 *     tensor (dtype, shape, strides, offset) over a storage;
 *   - torch.storage._load_from_bytes(blob): a storage, the blob being a
 *     legacy torch.save file (magic, protocol 1001, system info, the storage
 *     as a persistent id, its key, then its raw little-endian elements);
 *   - collections.OrderedDict, dnnlib.util.EasyDict, builtins.set/frozenset, _codecs.encode (how
 *     protocol 2 writes bytes), numpy.dtype and numpy.core.multiarray.scalar
 *     (NumPy numbers in the init kwargs).
 * Any other global (os.system, builtins.eval, ...) is refused by name. */
#ifndef GAN_IO_TORCH_PICKLE_H
#define GAN_IO_TORCH_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "pickle.h"
#include "safetensors.h"

#define GAN_TORCH_MAX_DIMS 8

typedef struct gan_torch_tensor {
    gan_st_dtype dtype;
    int ndim;
    int64_t shape[GAN_TORCH_MAX_DIMS], stride[GAN_TORCH_MAX_DIMS], offset, numel;
    const uint8_t *storage; /* the storage's elements (unaligned, little-endian) */
    int64_t storage_numel;
} gan_torch_tensor;

typedef struct gan_torch_file gan_torch_file;

/* Reads a whole pickle file (errors are prefixed with the path). */
int gan_torch_load(const char *path, gan_torch_file **out, gan_error *err);
/* The same from memory; data must outlive the file. */
int gan_torch_load_buffer(const uint8_t *data, size_t size, gan_torch_file **out, gan_error *err);
void gan_torch_free(gan_torch_file *f);
const gan_pk_value *gan_torch_root(const gan_torch_file *f);

/* The tensor a value is, or NULL. */
const gan_torch_tensor *gan_torch_tensor_of(const gan_pk_value *v);
/* Copies the elements as float32 in C order (from F32, F16, BF16, F64, I64,
 * I32, U8, BOOL storages). */
void gan_torch_tensor_to_f32(const gan_torch_tensor *t, float *dst);

/* A persistent module: its class name (e.g. "Generator") and state dict,
 * or 0 if v is not one. */
int gan_torch_module_of(const gan_pk_value *v, const gan_pk_value **class_name, const gan_pk_value **state);

/* The module's state_dict, as nn.Module.state_dict() names it: parameters,
 * then persistent buffers, then each submodule's with "name." prefixes;
 * None entries skipped. Fails on a cycle or a tree deeper than 32. */
typedef struct gan_torch_entry {
    char *name;
    const gan_torch_tensor *tensor;
} gan_torch_entry;
int gan_torch_state_dict(const gan_pk_value *module, gan_torch_entry **entries, int *count, gan_error *err);
void gan_torch_entries_free(gan_torch_entry *entries, int count);

/* Numbers from kwargs dicts: int (or a whole float), float (or an int), and
 * whether a value is None. Each returns 0 if found and of the right kind. */
int gan_torch_get_int(const gan_pk_value *dict, const char *key, int64_t *out);
int gan_torch_get_float(const gan_pk_value *dict, const char *key, double *out);

#endif
