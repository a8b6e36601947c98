/* cuBLAS, opened when the first CUDA context starts rather than linked.
 *
 * Loading libcublas (and the cuBLASLt it pulls in) maps and relocates about
 * 200 MB, which every dne process would otherwise carry from its first
 * instruction, GPU or not: `dne --version` held 238 MB of resident memory
 * with cuBLAS linked and 21 MB without; the daemon and every CPU run paid
 * the same. Only the six entry points dne calls are looked up. */
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "cuda.h"

namespace {

#define CUBLAS_SONAME_(major) "libcublas.so." #major
#define CUBLAS_SONAME(major) CUBLAS_SONAME_(major)

struct opened {
    cublas_library api;
    std::string error; /* empty when every entry point was found */
};

/* The soname first (the executable's run path holds the CUDA libraries'
 * folder); failing that, the folder libcudart was loaded from. */
void *open_library(std::string *error) {
    const char *soname = CUBLAS_SONAME(CUBLAS_VER_MAJOR);
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (lib) return lib;
    const char *why = dlerror();
    *error = why ? why : soname;
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&cudaGetDeviceCount), &info) && info.dli_fname) {
        std::string path = info.dli_fname;
        path = path.substr(0, path.rfind('/') + 1) + soname;
        if ((lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL))) return lib;
    }
    return nullptr;
}

template <typename F> bool find(void *lib, const char *name, F *fn, std::string *error) {
    *fn = reinterpret_cast<F>(dlsym(lib, name));
    if (!*fn) *error = std::string("no ") + name + " in " + CUBLAS_SONAME(CUBLAS_VER_MAJOR);
    return *fn != nullptr;
}

opened open_cublas() {
    opened o{};
    void *lib = open_library(&o.error);
    if (!lib) return o;
    o.error.clear();
    cublas_library &a = o.api;
    bool ok = find(lib, "cublasCreate_v2", &a.create, &o.error) && find(lib, "cublasDestroy_v2", &a.destroy, &o.error) &&
              find(lib, "cublasSetStream_v2", &a.set_stream, &o.error) &&
              find(lib, "cublasSetMathMode", &a.set_math_mode, &o.error) &&
              find(lib, "cublasSgemm_v2", &a.sgemm, &o.error) &&
              find(lib, "cublasSgemmStridedBatched", &a.sgemm_strided_batched, &o.error);
    if (!ok) dlclose(lib); /* stays open otherwise: contexts come and go, the library is needed until exit */
    return o;
}

}  // namespace

const cublas_library *cublas_library_open(gan_error *err) {
    static const opened library = open_cublas(); /* once per process; C++ makes this thread-safe */
    if (library.error.empty()) return &library.api;
    gan_fail(err, "cannot load cuBLAS: %s", library.error.c_str());
    return nullptr;
}

extern "C" int gan_cuda_libraries_open(gan_error *err) { return cublas_library_open(err) ? 0 : -1; }
