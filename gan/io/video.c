#include "video.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "video_backend.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

gan_video_format gan_video_format_for_path(const char *path) {
    struct stat st;
    if (ends_with(path, ".mp4")) return GAN_VIDEO_MP4;
    if (ends_with(path, ".webp")) return GAN_VIDEO_WEBP;
    if (ends_with(path, "/") || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) return GAN_VIDEO_PNG_FOLDER;
    return GAN_VIDEO_UNKNOWN;
}

gan_video_format gan_video_format_from_name(const char *name) {
    if (strcasecmp(name, "mp4") == 0) return GAN_VIDEO_MP4;
    if (strcasecmp(name, "webp") == 0) return GAN_VIDEO_WEBP;
    if (strcasecmp(name, "png") == 0) return GAN_VIDEO_PNG_FOLDER;
    return GAN_VIDEO_UNKNOWN;
}

const char *gan_video_format_extension(gan_video_format fmt) {
    return fmt == GAN_VIDEO_MP4 ? "mp4" : fmt == GAN_VIDEO_WEBP ? "webp" : "";
}

int gan_video_find_program(const char *name) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char candidate[4096];
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, len ? p : ".", name);
        if (access(candidate, X_OK) == 0) return 1;
        if (!colon) return 0;
        p = colon + 1;
    }
}

int gan_video_check_available(gan_video_format fmt, gan_error *err) {
    if (fmt == GAN_VIDEO_MP4 && !gan_video_find_program("ffmpeg"))
        return gan_fail(err, "MP4 output needs the ffmpeg program, which is not on PATH (Debian package ffmpeg); "
                             "or write an animated .webp or a folder of PNGs instead");
    return fmt == GAN_VIDEO_UNKNOWN ? gan_fail(err, "unknown video format") : 0;
}

static int check_options(const gan_video_options *o, gan_video_format fmt, gan_error *err) {
    if (o->width <= 0 || o->height <= 0 || (int64_t)o->width * o->height > (int64_t)16384 * 16384)
        return gan_fail(err, "video: bad frame size %dx%d", o->width, o->height);
    if (!(o->fps > 0 && o->fps <= 1000)) return gan_fail(err, "video: bad frame rate %g", o->fps);
    if (fmt == GAN_VIDEO_MP4 && (o->width % 2 || o->height % 2))
        return gan_fail(err, "MP4 (yuv420p) needs an even frame size, not %dx%d", o->width, o->height);
    if (fmt == GAN_VIDEO_WEBP && (o->width > 16383 || o->height > 16383))
        return gan_fail(err, "WebP frames are limited to 16383x16383, not %dx%d", o->width, o->height);
    return 0;
}

gan_video_writer *gan_video_open(const char *path, gan_video_format fmt, const gan_video_options *options,
                                 gan_error *err) {
    if (check_options(options, fmt, err) != 0) return NULL;
    switch (fmt) {
    case GAN_VIDEO_MP4: return gan_video_open_mp4(path, options, err);
    case GAN_VIDEO_WEBP: return gan_video_open_webp(path, options, err);
    case GAN_VIDEO_PNG_FOLDER: return gan_video_open_png_folder(path, options, err);
    default: gan_fail(err, "%s: unknown video format (expected .mp4, .webp or a folder ending in /)", path); return NULL;
    }
}

int gan_video_write(gan_video_writer *v, const uint8_t *rgb, gan_error *err) {
    if (v->write(v, rgb, err) != 0) return -1;
    v->frames++;
    return 0;
}

int gan_video_close(gan_video_writer *v, gan_error *err) {
    int rc;
    if (v->frames == 0) {
        rc = gan_fail(err, "%s: a video needs at least one frame", v->path);
        v->discard(v);
    } else {
        rc = v->finish(v, err);
    }
    v->destroy(v);
    return rc;
}

void gan_video_abort(gan_video_writer *v) {
    if (!v) return;
    v->discard(v);
    v->destroy(v);
}
