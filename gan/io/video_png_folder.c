/* A video as a folder of numbered PNGs (frame000000.png, ...), each written
 * atomically as it is made: for editing tools, or to inspect single frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "image.h"
#include "video_backend.h"

static int png_write(gan_video_writer *v, const uint8_t *rgb, gan_error *err) {
    char path[4096];
    size_t n = strlen(v->path);
    snprintf(path, sizeof path, "%s%sframe%06ld.png", v->path, n && v->path[n - 1] == '/' ? "" : "/", v->frames);
    gan_image img = {.width = v->options.width, .height = v->options.height, .channels = 3, .pixels = (uint8_t *)rgb};
    return gan_image_save(path, &img, GAN_IMAGE_PNG, 0, err);
}

static int png_finish(gan_video_writer *v, gan_error *err) {
    (void)v;
    (void)err;
    return 0; /* every frame is already in place */
}

static void png_discard(gan_video_writer *v) { (void)v; /* frames written so far stay: each is complete */ }

static void png_destroy(gan_video_writer *v) {
    free(v->path);
    free(v);
}

gan_video_writer *gan_video_open_png_folder(const char *path, const gan_video_options *options, gan_error *err) {
    if (gan_mkdirs(path, err) != 0) return NULL;
    gan_video_writer *v = calloc(1, sizeof *v);
    char *name = strdup(path);
    if (!v || !name) {
        free(v);
        free(name);
        gan_fail(err, "%s: out of memory", path);
        return NULL;
    }
    *v = (gan_video_writer){.write = png_write, .finish = png_finish, .discard = png_discard,
                            .destroy = png_destroy, .options = *options, .path = name};
    return v;
}
