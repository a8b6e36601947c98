/* Animated WebP through libwebp's WebPAnimEncoder: each frame is encoded as it
 * arrives (lossy at the given quality, or lossless), the encoder keeps only the
 * encoded frames and its reference canvases, and the file is assembled and
 * written atomically at the end. Frame timestamps are rounded to whole
 * milliseconds from the exact frame times, so a 30 fps video alternates 33 and
 * 34 ms frames and its total duration is exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include "file.h"
#include "video_backend.h"

typedef struct webp_writer {
    gan_video_writer base;
    WebPAnimEncoder *encoder;
    WebPConfig config;
} webp_writer;

static int timestamp_ms(const gan_video_writer *v, long frame) { return (int)lround(frame * 1000.0 / v->options.fps); }

static int webp_write(gan_video_writer *v, const uint8_t *rgb, gan_error *err) {
    webp_writer *w = (webp_writer *)v;
    WebPPicture picture;
    if (!WebPPictureInit(&picture)) return gan_fail(err, "WebP: library version mismatch");
    picture.width = v->options.width;
    picture.height = v->options.height;
    picture.use_argb = 1; /* lossless and exact colours need ARGB; lossy converts it */
    int ok = WebPPictureImportRGB(&picture, rgb, v->options.width * 3);
    ok = ok && WebPAnimEncoderAdd(w->encoder, &picture, timestamp_ms(v, v->frames), &w->config);
    WebPPictureFree(&picture);
    if (!ok) return gan_fail(err, "%s: WebP encoder: %s", v->path, WebPAnimEncoderGetError(w->encoder));
    return 0;
}

static int webp_finish(gan_video_writer *v, gan_error *err) {
    webp_writer *w = (webp_writer *)v;
    WebPData data;
    WebPDataInit(&data);
    /* A NULL frame closes the animation and gives the last frame its duration. */
    int ok = WebPAnimEncoderAdd(w->encoder, NULL, timestamp_ms(v, v->frames), NULL) &&
             WebPAnimEncoderAssemble(w->encoder, &data);
    int rc = ok ? gan_write_file_atomic(v->path, data.bytes, data.size, err)
                : gan_fail(err, "%s: WebP encoder: %s", v->path, WebPAnimEncoderGetError(w->encoder));
    WebPDataClear(&data);
    return rc;
}

static void webp_discard(gan_video_writer *v) { (void)v; /* nothing is on disk before finish */ }

static void webp_destroy(gan_video_writer *v) {
    webp_writer *w = (webp_writer *)v;
    if (w->encoder) WebPAnimEncoderDelete(w->encoder);
    free(v->path);
    free(w);
}

static int init_config(WebPConfig *config, float quality, gan_error *err) {
    if (!WebPConfigInit(config)) return gan_fail(err, "WebP: library version mismatch");
    if (quality < 0) {
        config->lossless = 1;
        config->quality = 75;
        config->method = 4;
        config->exact = 1;
    } else {
        config->quality = quality > 100 ? 100 : quality;
        config->method = 4;
    }
    if (!WebPValidateConfig(config)) return gan_fail(err, "WebP: invalid encoder settings");
    return 0;
}

gan_video_writer *gan_video_open_webp(const char *path, const gan_video_options *options, gan_error *err) {
    webp_writer *w = calloc(1, sizeof *w);
    char *name = strdup(path);
    if (!w || !name) {
        free(w);
        free(name);
        gan_fail(err, "%s: out of memory", path);
        return NULL;
    }
    w->base = (gan_video_writer){.write = webp_write, .finish = webp_finish, .discard = webp_discard,
                                 .destroy = webp_destroy, .options = *options, .path = name};
    WebPAnimEncoderOptions anim;
    if (init_config(&w->config, options->quality, err) != 0) {
        webp_destroy(&w->base);
        return NULL;
    }
    if (!WebPAnimEncoderOptionsInit(&anim)) {
        gan_fail(err, "WebP: library version mismatch");
        webp_destroy(&w->base);
        return NULL;
    }
    anim.anim_params.loop_count = 0; /* repeat forever */
    anim.allow_mixed = 0;
    w->encoder = WebPAnimEncoderNew(options->width, options->height, &anim);
    if (!w->encoder) {
        gan_fail(err, "%s: cannot create the WebP animation encoder", path);
        webp_destroy(&w->base);
        return NULL;
    }
    return &w->base;
}
