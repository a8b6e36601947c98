/* Debian 12's OpenBLAS (0.3.21) does not recognise recent Xeons (Sapphire and
 * Emerald Rapids) and falls back to its generic 'Prescott' kernels, which run
 * sgemm 5 to 8 times slower than its AVX-512 kernels on the same machine.
 * OpenBLAS reads OPENBLAS_CORETYPE once, when the library is loaded, so the
 * only remedy from inside a program is to set it and start the program again. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../blas.h"

char *openblas_get_corename(void);

static const char *better_kernels(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

const char *gan_blas_kernels(void) { return openblas_get_corename(); }

void gan_blas_select_kernels(char **argv) {
    if (getenv("OPENBLAS_CORETYPE")) return; /* chosen by the user, or already restarted */
    if (strcasecmp(openblas_get_corename(), "prescott") != 0) return;
    const char *kernels = better_kernels();
    if (!kernels) return;
    setenv("OPENBLAS_CORETYPE", kernels, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the slow kernels */
}
