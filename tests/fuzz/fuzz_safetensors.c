/* libFuzzer target: the safetensors reader (gan/io/safetensors.c) on
 * arbitrary files: open, every tensor read as fp32 and raw, metadata looked
 * up. The reader takes a path, so each input goes through a temporary file
 * (in /dev/shm when there is one). Run by tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gan/io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[] = "/dev/shm/dne-fuzz-st-XXXXXX", fallback[] = "/tmp/dne-fuzz-st-XXXXXX";
    char *name = path;
    int fd = mkstemp(path);
    if (fd < 0) fd = mkstemp(name = fallback);
    if (fd < 0) return 0;
    int ok = write(fd, data, size) == (ssize_t)size;
    close(fd);
    gan_st_file *f = NULL;
    gan_error err;
    if (ok && gan_st_open(name, &f, &err) == 0) {
        (void)gan_st_meta(f, "config");
        for (int i = 0; i < gan_st_count(f); i++) {
            const gan_st_tensor *t = gan_st_at(f, i);
            (void)gan_st_find(f, t->name);
            void *buf = malloc((size_t)(t->end - t->begin) + (size_t)t->numel * sizeof(float) + 1);
            if (buf) {
                (void)gan_st_read_raw(f, t, buf, &err);
                (void)gan_st_read_f32(f, t, buf, &err);
            }
            free(buf);
        }
        gan_st_close(f);
    }
    unlink(name);
    return 0;
}
