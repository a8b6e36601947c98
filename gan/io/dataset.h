/* Training datasets: square images of one size, optionally with class labels,
 * read by index from several threads at once. Three sources are accepted:
 *
 *  - a folder of images (searched recursively, decoded by content: PNG, JPEG,
 *    WebP, GIF), with an optional dataset.json beside them;
 *  - a stylegan2-ada-pytorch dataset zip (the images + an optional
 *    dataset.json), read through libzip;
 *  - dne's packed dataset, a .dset file (format below), memory-mapped.
 *
 * dataset.json is stylegan2-ada-pytorch's: {"labels": [["sub/img.png", 3], ...]}
 * (paths relative to the folder or zip root, "/" separated); "labels": null
 * or no file means unlabelled. dne also writes "class_names": ["name", ...],
 * which other tools ignore. The label dimension is the largest class + 1.
 *
 * ---- The .dset format (version 1), all integers little-endian ----
 *   offset 0   8 bytes  magic "DNEDSET\0"
 *          8   u32      version (1)
 *         12   u32      count       number of images (>= 1)
 *         16   u32      resolution  width = height
 *         20   u32      channels    1 (grey) or 3 (RGB)
 *         24   u32      label_dim   number of classes, 0 if unlabelled
 *         28   u32      reserved (0)
 *         32   u64      labels_offset  = 64
 *         40   u64      names_offset   class names: label_dim NUL-terminated
 *                                      UTF-8 strings (empty when unnamed)
 *         48   u64      images_offset  a multiple of 4096 (page aligned)
 *         56   u64      file_size      the whole file, checked on open
 *   labels_offset: count x i32, the class of each image in [0, label_dim)
 *                  (absent when label_dim is 0)
 *   images_offset: count images, each channels x resolution x resolution
 *                  bytes, uint8 CHW (planar), rows top to bottom.
 * A reader refuses a file whose size, offsets or labels disagree with the
 * header. Writers publish the file atomically (temporary name, fsync, rename).
 */
#ifndef GAN_IO_DATASET_H
#define GAN_IO_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "../error.h"

#define GAN_DSET_MAGIC "DNEDSET"
#define GAN_DSET_VERSION 1
#define GAN_DSET_HEADER_BYTES 64
#define GAN_DSET_ALIGN 4096

typedef struct gan_dataset gan_dataset;

/* Opens a folder, zip or .dset (told apart by content, not by name). A folder
 * or zip is checked whole on open: every image is decoded once, and the first
 * one whose size differs from the others (or that is not square, or does not
 * decode) is named in the error. Non-image files are ignored (by content);
 * images are RGB unless every image is grey. RGBA is composited on white. */
gan_dataset *gan_dataset_open(const char *path, gan_error *err);
int gan_dataset_count(const gan_dataset *d);
int gan_dataset_resolution(const gan_dataset *d);
int gan_dataset_channels(const gan_dataset *d);     /* 1 or 3 */
int gan_dataset_label_dim(const gan_dataset *d);    /* number of classes (one-hot), 0 if unlabelled */
const char *gan_dataset_name(const gan_dataset *d); /* base name without extension, for run folders */
/* Name of class k (may be ""), or NULL when k is out of range. */
const char *gan_dataset_class_name(const gan_dataset *d, int k);
/* The class of image i, or -1 when unlabelled. */
int gan_dataset_label_index(const gan_dataset *d, int index);
/* The path of image i inside the folder or zip ("" for a .dset). */
const char *gan_dataset_item_name(const gan_dataset *d, int index);
/* Image i as uint8 CHW (channels*res*res bytes) and its one-hot label
 * (label_dim floats; label may be NULL). Safe to call from several threads at
 * once. */
int gan_dataset_read(gan_dataset *d, int index, uint8_t *chw, float *label, gan_error *err);
void gan_dataset_close(gan_dataset *d);
/* Images first .. first + count - 1 into out, one after another (uint8 CHW). */
int gan_dataset_read_many(gan_dataset *d, int first, int count, uint8_t *out, gan_error *err);

/* Writing a .dset: open with the final shape and every image's label (labels
 * may be NULL when label_dim is 0; class_names may be NULL), then add exactly
 * count CHW images in order, then commit (which publishes the file
 * atomically) or abort. commit fails if fewer than count images were added. */
typedef struct gan_dset_writer gan_dset_writer;
gan_dset_writer *gan_dset_writer_open(const char *path, int count, int resolution, int channels, int label_dim,
                                      const int32_t *labels, const char *const *class_names, gan_error *err);
int gan_dset_writer_add(gan_dset_writer *w, const uint8_t *chw, gan_error *err);
int gan_dset_writer_commit(gan_dset_writer *w, gan_error *err);
void gan_dset_writer_abort(gan_dset_writer *w);

/* HWC interleaved <-> CHW planar, for channels 1 or 3. */
void gan_hwc_to_chw(const uint8_t *hwc, uint8_t *chw, int width, int height, int channels);
void gan_chw_to_hwc(const uint8_t *chw, uint8_t *hwc, int width, int height, int channels);

#endif
