/* libFuzzer target: the restricted pickle reader (gan/io/pickle.c), the torch
 * layer over it (storage blobs, tensors, persistent modules) and the walk
 * `dne import` makes: every module of a snapshot-like dict to its
 * state_dict, every tensor converted, the kwargs read. Run by
 * tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>

#include "gan/io/torch_pickle.h"

static void walk_network(const gan_pk_value *net) {
    const gan_pk_value *cls, *state;
    if (!gan_torch_module_of(net, &cls, &state)) return;
    int64_t i;
    double d;
    const gan_pk_value *kw = gan_pk_get(state, "_init_kwargs");
    (void)gan_torch_get_int(kw, "z_dim", &i);
    (void)gan_torch_get_float(kw, "conv_clamp", &d);
    gan_torch_entry *entries;
    int count;
    gan_error err;
    if (gan_torch_state_dict(net, &entries, &count, &err) != 0) return;
    for (int k = 0; k < count; k++) {
        float *host = malloc((size_t)(entries[k].tensor->numel + 1) * sizeof *host);
        if (host) gan_torch_tensor_to_f32(entries[k].tensor, host);
        free(host);
    }
    gan_torch_entries_free(entries, count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gan_torch_file *f;
    gan_error err;
    if (gan_torch_load_buffer(data, size, &f, &err) != 0) return 0;
    const gan_pk_value *root = gan_torch_root(f);
    for (size_t i = 0; root->kind == GAN_PK_DICT && i < root->count; i++) walk_network(root->items[2 * i + 1]);
    walk_network(root);
    gan_torch_free(f);
    return 0;
}
