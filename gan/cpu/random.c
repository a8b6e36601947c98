#include "../rng.h"
#include "cpu.h"

int cpu_randn(gan_ctx *ctx, gan_tensor *y, const uint64_t *seeds, int count, uint64_t offset) {
    (void)ctx;
    size_t row = (size_t)y->numel / (size_t)count;
    for (int r = 0; r < count; r++) gan_philox_normal(seeds[r], offset, y->data + r * row, row);
    return 0;
}
