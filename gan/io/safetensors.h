/* safetensors files: an 8-byte little-endian header length, a JSON header
 * mapping tensor names to {dtype, shape, data_offsets} (plus an optional
 * "__metadata__" object of string values), then the raw little-endian data.
 * https://github.com/huggingface/safetensors#format
 *
 * Reading trusts nothing: the header length must lie within the file, the
 * JSON must parse, every tensor's dtype must be known, its shape must match
 * its byte range, byte ranges must lie in the data section, must not overlap
 * and must cover it without holes. Errors name the tensor or byte offset. */
#ifndef GAN_IO_SAFETENSORS_H
#define GAN_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../error.h"

#define GAN_ST_MAX_DIMS 8
/* Headers larger than this are refused (the format's own limit is 100 MB). */
#define GAN_ST_MAX_HEADER (100u << 20)

typedef enum gan_st_dtype {
    GAN_ST_F32 = 0,
    GAN_ST_F16,
    GAN_ST_BF16,
    GAN_ST_F64,
    GAN_ST_I64,
    GAN_ST_I32,
    GAN_ST_U8,
    GAN_ST_BOOL,
} gan_st_dtype;

typedef struct gan_st_tensor {
    char *name;
    gan_st_dtype dtype;
    int ndim;
    int64_t shape[GAN_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end; /* byte range relative to the data section */
} gan_st_tensor;

typedef struct gan_st_file gan_st_file;

int gan_st_open(const char *path, gan_st_file **out, gan_error *err);
void gan_st_close(gan_st_file *f);

int gan_st_count(const gan_st_file *f);
const gan_st_tensor *gan_st_at(const gan_st_file *f, int index);     /* in header order */
const gan_st_tensor *gan_st_find(const gan_st_file *f, const char *name);
/* Value of a "__metadata__" key, or NULL. */
const char *gan_st_meta(const gan_st_file *f, const char *key);
const char *gan_st_dtype_name(gan_st_dtype dtype);

/* Reads the tensor's data converted to fp32 (from F32, F16, BF16 or F64);
 * other dtypes are refused with an error naming the tensor and dtype. */
int gan_st_read_f32(gan_st_file *f, const gan_st_tensor *t, float *dst, gan_error *err);
/* Converts n little-endian elements of any dtype to fp32 (src unaligned). */
void gan_st_elements_to_f32(gan_st_dtype dtype, const uint8_t *src, size_t n, float *dst);
size_t gan_st_dtype_size(gan_st_dtype dtype);
/* Reads the raw bytes (t->end - t->begin of them). */
int gan_st_read_raw(gan_st_file *f, const gan_st_tensor *t, void *dst, gan_error *err);

/* Writing. Tensors are written in the order added; their data pointers must
 * stay valid until gan_st_writer_save returns (nothing is copied). */
typedef struct gan_st_writer gan_st_writer;
gan_st_writer *gan_st_writer_new(void);
void gan_st_writer_free(gan_st_writer *w);
int gan_st_writer_add(gan_st_writer *w, const char *name, gan_st_dtype dtype, int ndim, const int64_t *shape,
                      const void *data, gan_error *err);
int gan_st_writer_add_f32(gan_st_writer *w, const char *name, int ndim, const int64_t *shape, const float *data,
                          gan_error *err);
int gan_st_writer_meta(gan_st_writer *w, const char *key, const char *value, gan_error *err);
/* Writes atomically (temporary name, fsync, rename). */
int gan_st_writer_save(gan_st_writer *w, const char *path, gan_error *err);

#endif
