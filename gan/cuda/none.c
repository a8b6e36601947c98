/* Built when the CUDA backend is off (DNE_CUDA=OFF or no nvcc): there is no
 * CUDA op table, and asking for a CUDA device says so. */
#include "../backend.h"

#define NO_CUDA "this dne was built without CUDA (configure with -DDNE_CUDA=ON on a machine with nvcc)"

const gan_backend *gan_cuda_backend(int device_index, gan_error *err) {
    (void)device_index;
    gan_fail(err, NO_CUDA);
    return NULL;
}

int gan_cuda_libraries_open(gan_error *err) { return gan_fail(err, NO_CUDA); }
