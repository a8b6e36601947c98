/* Normal random numbers on the GPU: the CPU's Philox streams (gan/philox.h),
 * element for element, so a noise tensor does not depend on the device. */
#include "../philox.h"
#include "cuda.h"

namespace {

/* Seeds travel in the kernel's parameters (no copy to the device); larger
 * batches take several launches. */
constexpr int SEEDS_PER_LAUNCH = 32;
struct seed_list {
    uint64_t seed[SEEDS_PER_LAUNCH];
};

/* Rows [0, rows) of `row` elements each; row r is stream (seeds[r], offset). */
__global__ void randn_kernel(float *y, seed_list seeds, int rows, int64_t row, uint64_t offset) {
    CUDA_FOR(i, rows * row) {
        int r = static_cast<int>(i / row);
        y[i] = gan_philox_normal_at(seeds.seed[r], offset + static_cast<uint64_t>(i % row));
    }
}

}  // namespace

int cuda_randn(gan_ctx *ctx, gan_tensor *y, const uint64_t *seeds, int count, uint64_t offset) {
    int64_t row = y->numel / count;
    for (int first = 0; first < count; first += SEEDS_PER_LAUNCH) {
        int rows = count - first < SEEDS_PER_LAUNCH ? count - first : SEEDS_PER_LAUNCH;
        seed_list list = {};
        for (int r = 0; r < rows; r++) list.seed[r] = seeds[first + r];
        randn_kernel<<<cuda_blocks(rows * row), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data + first * row, list, rows,
                                                                                       row, offset);
        if (cuda_launched(ctx, "randn") != 0) return -1;
    }
    return 0;
}
