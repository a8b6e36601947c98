/* torch.nn.init.orthogonal_ on host memory: the weight viewed as a matrix
 * [rows, cols], from a matrix of standard normal draws, becomes the Q of its
 * QR decomposition (of its transpose when it is wide) with each column's sign
 * set by R's diagonal, so that the result is uniformly distributed over the
 * orthogonal matrices. The decomposition is LAPACK's (OpenBLAS). */
#ifndef GAN_ORTHOGONAL_H
#define GAN_ORTHOGONAL_H

#include <stdint.h>

#include "error.h"

/* normal [rows * cols] (row-major) -> out [rows * cols] (row-major). */
int gan_orthogonal_from_normal(const float *normal, int64_t rows, int64_t cols, float *out, gan_error *err);

#endif
