/* Header probes through each format's own library: libjpeg reads the JPEG
 * header, libwebp reports WebP features, giflib walks the GIF records; PNG's
 * first chunk is fixed by the standard (IHDR at byte 8), so it is read as is. */
#include "probe.h"

#include <gif_lib.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int probe_png(const uint8_t *data, size_t size, prep_probe_info *info, gan_error *err) {
    if (size < 33 || memcmp(data + 12, "IHDR", 4) != 0) return gan_fail(err, "PNG: no IHDR header");
    info->width = be32(data + 16);
    info->height = be32(data + 20);
    int depth = data[24], colour = data[25];
    if (depth == 16) info->traits |= PREP_TRAIT_16BIT;
    if (colour == 3) info->traits |= PREP_TRAIT_PALETTE;
    if (colour == 4 || colour == 6 || (colour != 0 && colour != 2 && memmem(data, size, "tRNS", 4)))
        info->traits |= PREP_TRAIT_ALPHA;
    if (colour == 0 || colour == 4) info->traits |= PREP_TRAIT_GREY;
    if (memmem(data, size < 4096 ? size : 4096, "acTL", 4)) info->traits |= PREP_TRAIT_ANIMATED;
    return 0;
}

typedef struct jpeg_probe {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr errmgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_probe;

static void jpeg_probe_error(j_common_ptr cinfo) {
    jpeg_probe *p = (jpeg_probe *)(void *)cinfo;
    cinfo->err->format_message(cinfo, p->msg);
    longjmp(p->jump, 1);
}

static void jpeg_probe_quiet(j_common_ptr cinfo, int level) {
    (void)cinfo;
    (void)level;
}

static int probe_jpeg(const uint8_t *data, size_t size, prep_probe_info *info, gan_error *err) {
    jpeg_probe p;
    memset(&p, 0, sizeof p);
    p.cinfo.err = jpeg_std_error(&p.errmgr);
    p.errmgr.error_exit = jpeg_probe_error;
    p.errmgr.emit_message = jpeg_probe_quiet;
    if (setjmp(p.jump)) {
        jpeg_destroy_decompress(&p.cinfo);
        return gan_fail(err, "JPEG: %s", p.msg);
    }
    jpeg_create_decompress(&p.cinfo);
    jpeg_mem_src(&p.cinfo, data, (unsigned long)size);
    jpeg_read_header(&p.cinfo, TRUE);
    info->width = p.cinfo.image_width;
    info->height = p.cinfo.image_height;
    if (p.cinfo.jpeg_color_space == JCS_CMYK || p.cinfo.jpeg_color_space == JCS_YCCK) info->traits |= PREP_TRAIT_CMYK;
    if (p.cinfo.jpeg_color_space == JCS_GRAYSCALE) info->traits |= PREP_TRAIT_GREY;
    jpeg_destroy_decompress(&p.cinfo);
    return 0;
}

static int probe_webp(const uint8_t *data, size_t size, prep_probe_info *info, gan_error *err) {
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(data, size, &f) != VP8_STATUS_OK) return gan_fail(err, "WebP: unreadable header");
    info->width = f.width;
    info->height = f.height;
    if (f.has_animation) {
        /* The canvas, not the first frame, is what the decoder allocates. */
        WebPData wd = {data, size};
        WebPDemuxState state;
        WebPDemuxer *demux = WebPDemuxPartial(&wd, &state);
        if (demux) {
            info->width = WebPDemuxGetI(demux, WEBP_FF_CANVAS_WIDTH);
            info->height = WebPDemuxGetI(demux, WEBP_FF_CANVAS_HEIGHT);
            WebPDemuxDelete(demux);
        }
        info->traits |= PREP_TRAIT_ANIMATED;
    }
    if (f.has_alpha) info->traits |= PREP_TRAIT_ALPHA;
    return 0;
}

typedef struct gif_source {
    const uint8_t *data;
    size_t size, pos;
} gif_source;

static int gif_read(GifFileType *gif, GifByteType *out, int n) {
    gif_source *s = gif->UserData;
    size_t left = s->size - s->pos, k = (size_t)n < left ? (size_t)n : left;
    memcpy(out, s->data + s->pos, k);
    s->pos += k;
    return (int)k;
}

/* Counts frames up to two without decompressing them (code blocks are skipped). */
static int gif_count_frames(GifFileType *gif) {
    int frames = 0;
    GifRecordType type;
    while (frames < 2 && DGifGetRecordType(gif, &type) == GIF_OK && type != TERMINATE_RECORD_TYPE) {
        GifByteType *block;
        int code;
        if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) != GIF_OK || DGifGetCode(gif, &code, &block) != GIF_OK) break;
            frames++;
            while (block && DGifGetCodeNext(gif, &block) == GIF_OK) {}
            if (block) break;
        } else if (type == EXTENSION_RECORD_TYPE) {
            if (DGifGetExtension(gif, &code, &block) != GIF_OK) break;
            while (block && DGifGetExtensionNext(gif, &block) == GIF_OK) {}
            if (block) break;
        } else {
            break;
        }
    }
    return frames;
}

static int probe_gif(const uint8_t *data, size_t size, prep_probe_info *info, gan_error *err) {
    gif_source s = {data, size, 0};
    int code = 0;
    GifFileType *gif = DGifOpen(&s, gif_read, &code);
    if (!gif) return gan_fail(err, "GIF: %s", GifErrorString(code));
    info->width = gif->SWidth;
    info->height = gif->SHeight;
    info->traits |= PREP_TRAIT_PALETTE;
    if (gif_count_frames(gif) > 1) info->traits |= PREP_TRAIT_ANIMATED;
    DGifCloseFile(gif, &code);
    return 0;
}

int prep_probe(const uint8_t *data, size_t size, prep_probe_info *info, gan_error *err) {
    *info = (prep_probe_info){gan_image_sniff(data, size), 0, 0, 0};
    switch (info->format) {
    case GAN_IMAGE_PNG: return probe_png(data, size, info, err);
    case GAN_IMAGE_JPEG: return probe_jpeg(data, size, info, err);
    case GAN_IMAGE_WEBP: return probe_webp(data, size, info, err);
    case GAN_IMAGE_GIF: return probe_gif(data, size, info, err);
    default: return gan_fail(err, "not a PNG, JPEG, WebP or GIF file");
    }
}

void prep_traits_text(unsigned traits, char *out, size_t n) {
    static const char *names[] = {"cmyk", "16-bit", "palette", "alpha", "animated", "grey"};
    out[0] = 0;
    for (int i = 0; i < 6; i++)
        if (traits & (1u << i)) {
            size_t len = strlen(out);
            snprintf(out + len, n - len, "%s%s", len ? "," : "", names[i]);
        }
}
