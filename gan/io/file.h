/* Whole-file reads and crash-safe writes. Files that matter (checkpoints,
 * images, datasets) are written to a temporary name in the same folder,
 * flushed with fsync and renamed over the target, so a reader never sees a
 * half-written file and a crash leaves the old file intact. */
#ifndef GAN_IO_FILE_H
#define GAN_IO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "../error.h"

/* Reads a whole file into a malloc'd buffer (*data, freed by the caller).
 * Files larger than max_size bytes are refused with an error. The buffer has
 * one extra NUL byte after the data (not counted in *size), so text files can
 * be parsed in place. On failure *data is NULL and *size 0. */
int gan_read_file(const char *path, size_t max_size, uint8_t **data, size_t *size, gan_error *err);

/* Writes size bytes atomically: "<path>.tmp-<pid>-<n>" + fsync + rename +
 * fsync of the folder. On failure the temporary file is removed and the
 * previous content of path, if any, is untouched. (One exception: if only the
 * final fsync of the folder fails, the new file is already in place but may
 * not survive a crash; the call still reports the error.) The new file gets
 * mode 0666 minus the umask, not the mode of the file it replaces. */
int gan_write_file_atomic(const char *path, const void *data, size_t size, gan_error *err);

/* Incremental form of the above for large files written in pieces. After a
 * failed gan_atomic_write, commit refuses to publish the partial file (it
 * removes the temporary file and frees f), so callers may either abort or
 * commit and check the result. Distinct threads may write the same path at
 * once: each gets its own temporary name and the last rename wins. */
typedef struct gan_atomic_file gan_atomic_file;
gan_atomic_file *gan_atomic_open(const char *path, gan_error *err);
int gan_atomic_write(gan_atomic_file *f, const void *data, size_t size, gan_error *err);
/* Flushes, renames into place and frees f, also on failure. */
int gan_atomic_commit(gan_atomic_file *f, gan_error *err);
/* Removes the temporary file and frees f (safe on NULL). */
void gan_atomic_abort(gan_atomic_file *f);
/* The temporary file's name, for files that another program writes (dne
 * video has ffmpeg write the MP4 there; commit then publishes it). */
const char *gan_atomic_temp_path(const gan_atomic_file *f);

/* Creates a folder and its parents (like mkdir -p); an existing folder is
 * success, an existing file of that name is an error. */
int gan_mkdirs(const char *path, gan_error *err);

#endif
