/* What each video container implements (io/video_*.c); io/video.c picks one. */
#ifndef GAN_IO_VIDEO_BACKEND_H
#define GAN_IO_VIDEO_BACKEND_H

#include "video.h"

struct gan_video_writer {
    int (*write)(gan_video_writer *v, const uint8_t *rgb, gan_error *err);
    int (*finish)(gan_video_writer *v, gan_error *err); /* publishes the file (discards it on failure); no free */
    void (*discard)(gan_video_writer *v);               /* drops the unfinished file; does not free */
    void (*destroy)(gan_video_writer *v);               /* frees */
    gan_video_options options;
    char *path;
    long frames;
};

gan_video_writer *gan_video_open_mp4(const char *path, const gan_video_options *options, gan_error *err);
gan_video_writer *gan_video_open_webp(const char *path, const gan_video_options *options, gan_error *err);
gan_video_writer *gan_video_open_png_folder(const char *path, const gan_video_options *options, gan_error *err);
/* Searches PATH for an executable program; returns 1 if found. */
int gan_video_find_program(const char *name);

#endif
