/* cuBLAS, opened when the first CUDA context starts rather than linked.
 *
 * Loading libcublas (and the cuBLASLt it pulls in) maps and relocates about
 * 200 MB, which every dne process would otherwise carry from its first
 * instruction, GPU or not: `dne --version` held 238 MB of resident memory
 * with cuBLAS linked and 21 MB without; the daemon and every CPU run paid
 * the same. Only the six entry points dne calls are looked up. */
#include <dlfcn.h>

#include <string>

#include "cuda.h"

namespace {

#define CUBLAS_SONAME_(major) "libcublas.so." #major
#define CUBLAS_SONAME(major) CUBLAS_SONAME_(major)

struct opened {
    cublas_library api;
    std::string error; /* empty when every entry point was found */
};

std::string last_dl_error(const char *fallback) {
    const char *why = dlerror();
    return why ? why : fallback;
}

/* The soname first (the executable's run path holds the CUDA libraries'
 * folder); failing that, the folder of a shared libcudart, where the toolkit
 * keeps cuBLAS too. */
void *open_library(std::string *error) {
    const char *soname = CUBLAS_SONAME(CUBLAS_VER_MAJOR);
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (lib) return lib;
    *error = last_dl_error(soname);
    Dl_info info, self;
    bool shared_cudart = dladdr(reinterpret_cast<void *>(&cudaGetDeviceCount), &info) && info.dli_fname &&
                         info.dli_fname[0] == '/' && dladdr(reinterpret_cast<void *>(&open_library), &self) &&
                         info.dli_fbase != self.dli_fbase; /* a static cudart lives in this program */
    if (!shared_cudart) return nullptr;
    std::string dir = info.dli_fname;
    std::string path = dir.substr(0, dir.rfind('/') + 1) + soname;
    if ((lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL))) return lib;
    *error += "; " + last_dl_error(path.c_str());
    return nullptr;
}

template <typename F> bool find(void *lib, const char *name, F *fn, std::string *error) {
    *fn = reinterpret_cast<F>(dlsym(lib, name));
    if (!*fn) *error = std::string("no ") + name + " in the cuBLAS found (" + last_dl_error("?") + ")";
    return *fn != nullptr;
}

opened open_cublas() {
    opened o{};
    void *lib = open_library(&o.error);
    if (!lib) return o;
    o.error.clear();
    cublas_library &a = o.api;
    bool ok = find(lib, "cublasCreate_v2", &a.create, &o.error) &&
              find(lib, "cublasDestroy_v2", &a.destroy, &o.error) &&
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
