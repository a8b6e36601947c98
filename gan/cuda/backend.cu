/* The CUDA backend: device memory and copies, behind the same op table as the
 * CPU. Op kernels join this table as they are written (issue: the CUDA
 * backend); until then an op on a CUDA context fails with a message naming
 * it, rather than silently running somewhere else. */
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <new>

extern "C" {
#include "../backend.h"
}

namespace {

struct cuda_state {
    int device;
};

int cuda_select(gan_ctx *ctx) {
    cuda_state *state = static_cast<cuda_state *>(ctx->backend_state);
    return cudaSetDevice(state->device) == cudaSuccess ? 0 : -1;
}

int cuda_init(gan_ctx *ctx, gan_error *err) {
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess || count == 0)
        return gan_fail(err, "no CUDA GPU available (%s)", rc != cudaSuccess ? cudaGetErrorString(rc) : "none found");
    if (ctx->device.index >= count)
        return gan_fail(err, "no GPU cuda:%d (this machine has %d)", ctx->device.index, count);
    if ((rc = cudaSetDevice(ctx->device.index)) != cudaSuccess)
        return gan_fail(err, "cuda:%d: %s", ctx->device.index, cudaGetErrorString(rc));
    cuda_state *state = new (std::nothrow) cuda_state{ctx->device.index};
    if (!state) return gan_fail(err, "out of memory");
    ctx->backend_state = state;
    if (ctx->threads <= 0) ctx->threads = 1;
    return 0;
}

void cuda_shutdown(gan_ctx *ctx) {
    delete static_cast<cuda_state *>(ctx->backend_state);
    ctx->backend_state = nullptr;
}

void *cuda_alloc(gan_ctx *ctx, size_t bytes) {
    void *ptr = nullptr;
    if (cuda_select(ctx) != 0 || cudaMalloc(&ptr, bytes) != cudaSuccess) return nullptr;
    return ptr;
}

void cuda_free(gan_ctx *ctx, void *ptr) {
    cuda_select(ctx);
    cudaFree(ptr);
}

int cuda_copy(gan_ctx *ctx, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    cudaError_t rc = cudaMemcpy(dst, src, bytes, kind);
    if (rc == cudaSuccess) return 0;
    gan_ctx_fail(ctx, "CUDA copy of %zu bytes failed: %s", bytes, cudaGetErrorString(rc));
    return -1;
}

int cuda_upload(gan_ctx *ctx, void *dst, const void *host, size_t bytes) {
    return cuda_copy(ctx, dst, host, bytes, cudaMemcpyHostToDevice);
}

int cuda_download(gan_ctx *ctx, void *host, const void *src, size_t bytes) {
    return cuda_copy(ctx, host, src, bytes, cudaMemcpyDeviceToHost);
}

gan_backend make_table() {
    gan_backend t;
    std::memset(&t, 0, sizeof t);
    t.name = "cuda";
    t.init = cuda_init;
    t.shutdown = cuda_shutdown;
    t.alloc = cuda_alloc;
    t.free = cuda_free;
    t.upload = cuda_upload;
    t.download = cuda_download;
    return t;
}

const gan_backend cuda_table = make_table();

}  // namespace

extern "C" const gan_backend *gan_cuda_backend(int device_index, gan_error *err) {
    (void)device_index;
    (void)err;
    return &cuda_table;
}
