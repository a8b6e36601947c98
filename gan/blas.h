/* Process-wide facts about the BLAS library (OpenBLAS) that the CPU backend
 * uses. */
#ifndef GAN_BLAS_H
#define GAN_BLAS_H

/* Call first thing in main(): when OpenBLAS picked its generic kernels on a
 * CPU that has AVX2 or AVX-512, restarts the program with the right kernels
 * (see gan/cpu/blas_kernels.c). Returns only when no restart was needed or
 * it failed. */
void gan_blas_select_kernels(char **argv);
/* The name of the kernel set OpenBLAS uses ("SkylakeX", "Haswell", ...). */
const char *gan_blas_kernels(void);

#endif
