/* Video output, one frame at a time: nothing but the frame being written is
 * held in memory, so a video's length costs disk, not RAM. Three containers:
 *
 * - H.264 MP4: raw RGB frames go down a pipe to the `ffmpeg` program
 *   (libx264, yuv420p, CRF quality, +faststart), which writes a temporary
 *   file that is renamed into place when the video is complete.
 * - Animated WebP: libwebp's WebPAnimEncoder (libwebpmux). The encoder keeps
 *   the *encoded* frames until the end (the file is assembled in memory), so
 *   memory grows by the size of the output file, not by raw frames.
 * - A folder of numbered PNGs: frame000000.png, frame000001.png, ...
 *
 * Frames are RGB, 8 bits, interleaved rows, all of the size given at open.
 * Files are written atomically (io/file.h): a reader never sees half a video. */
#ifndef GAN_IO_VIDEO_H
#define GAN_IO_VIDEO_H

#include <stdint.h>

#include "../error.h"

typedef enum gan_video_format {
    GAN_VIDEO_UNKNOWN = 0,
    GAN_VIDEO_MP4,
    GAN_VIDEO_WEBP,
    GAN_VIDEO_PNG_FOLDER,
} gan_video_format;

typedef struct gan_video_options {
    int width, height;
    double fps;    /* frames per second, > 0 */
    float quality; /* WebP: 0-100 lossy, negative = lossless */
    int crf;       /* MP4: x264 constant rate factor, 0 (lossless) to 51 */
} gan_video_options;

typedef struct gan_video_writer gan_video_writer;

/* From the output name: "*.mp4", "*.webp" (case-insensitive), a name ending
 * in '/' or an existing folder -> PNG folder; anything else UNKNOWN. */
gan_video_format gan_video_format_for_path(const char *path);
/* "mp4", "webp", "png" (a folder of PNGs). */
gan_video_format gan_video_format_from_name(const char *name);
const char *gan_video_format_extension(gan_video_format fmt); /* "mp4", "webp", "" */

/* Whether the format can be written on this machine: MP4 needs the ffmpeg
 * program on PATH (the error says so, and what to install). */
int gan_video_check_available(gan_video_format fmt, gan_error *err);

gan_video_writer *gan_video_open(const char *path, gan_video_format fmt, const gan_video_options *options,
                                 gan_error *err);
/* Appends one frame of width * height * 3 bytes. */
int gan_video_write(gan_video_writer *v, const uint8_t *rgb, gan_error *err);
/* Finishes the video, publishes it under its name and frees v (also on failure). */
int gan_video_close(gan_video_writer *v, gan_error *err);
/* Drops an unfinished video (nothing is published) and frees v; NULL is ignored. */
void gan_video_abort(gan_video_writer *v);

#endif
