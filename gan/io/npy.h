/* NumPy arrays on disk: .npy (np.save) and .npz (np.savez, np.savez_compressed:
 * a zip of .npy members, read and written with libzip). This is how latents
 * move between dne and the reference's tools: its projector writes
 * projected_w.npz with one array `w` of shape [1, num_ws, w_dim], float32.
 *
 * Arrays are read as float32 whatever their stored float type ('<f4', '>f4',
 * '<f8', '>f8', '<f2'), C or Fortran order; other dtypes (ints, objects,
 * structured) are refused with an error naming the dtype. Written arrays are
 * '<f4', C order, format version 1.0, as np.save writes them. */
#ifndef GAN_IO_NPY_H
#define GAN_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "../error.h"

#define GAN_ARRAY_MAX_DIMS 8
/* Largest array accepted when reading (a hostile header must not make us
 * allocate gigabytes): 2^28 elements, 1 GiB of float32. */
#define GAN_ARRAY_MAX_ELEMENTS ((int64_t)1 << 28)

typedef struct gan_array {
    int ndim; /* 0 for a scalar */
    int64_t shape[GAN_ARRAY_MAX_DIMS];
    int64_t numel;
    float *data; /* numel floats, C order, malloc'd */
} gan_array;

/* Allocates a zeroed array of the given shape. */
int gan_array_alloc(gan_array *a, int ndim, const int64_t *shape, gan_error *err);
/* Frees the data and zeroes *a (safe on a zeroed array). */
void gan_array_free(gan_array *a);

/* One .npy file image <-> array. Decoding checks the magic, version (1, 2 or
 * 3), header, dtype, shape and that the data is exactly as long as the shape
 * says. *out is overwritten; on failure it is zeroed. Encoding returns a
 * malloc'd buffer. */
int gan_npy_decode(const uint8_t *data, size_t size, gan_array *out, gan_error *err);
int gan_npy_encode(const gan_array *a, uint8_t **data, size_t *size, gan_error *err);

/* Reads a .npy or .npz file, told apart by content (zip or NumPy magic), not
 * by name. For .npz, `key` names the member (np.savez's keyword, without
 * ".npy"); NULL takes the file's only array and is an error if there are
 * several. Errors are prefixed with the path. */
int gan_array_load(const char *path, const char *key, gan_array *out, gan_error *err);

/* Writes atomically (io/file.h): one array as .npy, or `count` arrays as an
 * .npz whose members are "<names[i]>.npy", stored uncompressed like np.savez,
 * with a fixed timestamp so that the same arrays give the same bytes. */
int gan_npy_save(const char *path, const gan_array *a, gan_error *err);
int gan_npz_save(const char *path, const char *const *names, const gan_array *arrays, int count, gan_error *err);

/* Saves by file name: ".npz" gives an .npz with one member `name`, anything
 * else an .npy. */
int gan_array_save(const char *path, const char *name, const gan_array *a, gan_error *err);

#endif
