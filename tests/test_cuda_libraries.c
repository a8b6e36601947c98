/* cuBLAS is loaded when the first CUDA context starts, not with the program
 * (gan/cuda/cublas_library.cu): a process that never asks for a GPU must not
 * have it mapped, and opening it must work on a machine without a GPU, as
 * the CUDA backend will on one. A build without CUDA says so instead. */
#include <stdio.h>
#include <string.h>

#include "gan/backend.h"
#include "tests/test.h"

/* Whether a library whose file name contains `name` is mapped into this process. */
static int mapped(const char *name) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, name) != NULL;
    fclose(f);
    return found;
}

int main(void) {
    gan_error err = {{0}};
    CHECKF(mapped("libcublas") == 0, "libcublas is mapped before any CUDA context (%d)", mapped("libcublas"));
#ifdef DNE_HAVE_CUDA
    CHECKF(gan_cuda_libraries_open(&err) == 0, "cannot open the CUDA libraries: %s", err.msg);
    CHECK(mapped("libcublas") == 1);
    CHECKF(gan_cuda_libraries_open(&err) == 0, "second open: %s", err.msg); /* once per process, then cached */
#else
    CHECK(gan_cuda_libraries_open(&err) == -1 && strstr(err.msg, "without CUDA"));
#endif
    TEST_DONE();
}
