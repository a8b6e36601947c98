/* Built when the CUDA backend is off (DNE_CUDA=OFF or no nvcc): there is no
 * CUDA op table, and asking for a CUDA device says so. */
#include "../backend.h"

const gan_backend *gan_cuda_backend(int device_index, gan_error *err) {
    (void)device_index;
    gan_fail(err, "this dne was built without CUDA (configure with -DDNE_CUDA=ON on a machine with nvcc)");
    return NULL;
}
