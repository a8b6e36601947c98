/* dne video: interpolation videos through a generator's latent space.
 *
 * Keyframes come from seeds (z as generate.py draws it); frames between them
 * are interpolated in z (slerp or linear, then mapped) or in w (linear or
 * Catmull-Rom cubic through the truncated keyframe ws). Noise is constant by
 * default so that only the latent moves. A --grid WxH video shows W*H walks at
 * once; each cell takes its own run of consecutive seeds, as SG3's
 * gen_video.py does. Frames are rendered and handed to the writer one at a
 * time, so memory does not grow with the length of the video. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "gan/interp.h"
#include "gan/io/file.h"
#include "gan/io/tensor_image.h"
#include "gan/io/video.h"
#include "gan/models/stylegan2.h"
#include "gan/rng.h"
#include "latents.h"

#define MAX_SEEDS 1000000
#define MAX_FRAMES 10000000L

typedef enum latent_space { SPACE_W = 0, SPACE_Z } latent_space;

typedef struct video_options {
    const char *network, *seeds_text, *batch_seeds_text, *output, *device_text;
    long random_count, random_seed, per_video, frames_per_seed, cutoff, class_index, threads, crf;
    int grid_cols, grid_rows, loop, interp_given;
    float fps, psi, quality;
    gan_interp_kind interp;
    latent_space space;
    sg2_noise_mode noise_mode;
    gan_video_format format;
} video_options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne video --network G.safetensors (--seeds LIST | --random N | --batch-seeds LIST --per-video N)\n"
            "                 --output walk.mp4|walk.webp|frames/ [options]\n"
            "  --network FILE        generator (safetensors)\n"
            "  --seeds LIST          keyframe seeds in order: 1,7,42 or 0-9 (z = numpy RandomState(seed).randn)\n"
            "  --random N            N keyframes from random seeds (drawn from --random-seed, printed)\n"
            "  --random-seed S       seed of --random's seed draw (default 0)\n"
            "  --batch-seeds LIST    batch mode: one video per --per-video consecutive seeds\n"
            "  --per-video N         seeds per video in batch mode\n"
            "  --output PATH         .mp4 (H.264 via ffmpeg), .webp (animated) or a folder (numbered PNGs);\n"
            "                        in batch mode a folder that receives seeds<first>-<last>.<format>\n"
            "  --format FMT          mp4, webp or png: overrides the output name (batch mode default mp4)\n"
            "  --grid WxH            W*H walks side by side; cell i takes the i-th run of seeds (default 1x1)\n"
            "  --frames-per-seed F   frames from one keyframe to the next (default 60)\n"
            "  --fps R               frames per second (default 30)\n"
            "  --space z|w           where to interpolate (default w)\n"
            "  --interp KIND         z: slerp (default) or linear; w: cubic (default) or linear\n"
            "  --loop                return to the first keyframe (the video loops seamlessly)\n"
            "  --trunc PSI           truncation psi (default 1: none)\n"
            "  --trunc-cutoff N      truncate only the first N w layers (default: all)\n"
            "  --class N             class label for conditional networks\n"
            "  --noise-mode MODE     const (default), random (a new draw every frame: flickers) or none\n"
            "  --quality Q           WebP quality 0-100 (default 90; -1 = lossless)\n"
            "  --crf N               MP4 quality, x264 CRF 0 (lossless) to 51 (default 18)\n"
            "  --threads N           CPU threads (default: all cores)\n"
            "  --device DEV          cpu (default), cuda or cuda:N\n");
}

static int parse_space(const char *text, latent_space *space, gan_error *err) {
    if (strcmp(text, "w") == 0) *space = SPACE_W;
    else if (strcmp(text, "z") == 0) *space = SPACE_Z;
    else return gan_fail(err, "bad --space '%s': expected z or w", text);
    return 0;
}

static int parse_format(const char *text, gan_video_format *format, gan_error *err) {
    *format = gan_video_format_from_name(text);
    return *format == GAN_VIDEO_UNKNOWN ? gan_fail(err, "bad --format '%s': expected mp4, webp or png", text) : 0;
}

static int parse_flags(int argc, char **argv, video_options *o, gan_error *err) {
    static const struct option longopts[] = {
        {"network", required_argument, 0, 'n'},     {"seeds", required_argument, 0, 's'},
        {"random", required_argument, 0, 'r'},      {"random-seed", required_argument, 0, 'R'},
        {"batch-seeds", required_argument, 0, 'B'}, {"per-video", required_argument, 0, 'p'},
        {"output", required_argument, 0, 'o'},      {"format", required_argument, 0, 'F'},
        {"grid", required_argument, 0, 'g'},        {"frames-per-seed", required_argument, 0, 'f'},
        {"fps", required_argument, 0, 'x'},         {"space", required_argument, 0, 'S'},
        {"interp", required_argument, 0, 'i'},      {"loop", no_argument, 0, 'l'},
        {"trunc", required_argument, 0, 't'},       {"trunc-cutoff", required_argument, 0, 'c'},
        {"class", required_argument, 0, 'k'},       {"noise-mode", required_argument, 0, 'm'},
        {"quality", required_argument, 0, 'q'},     {"crf", required_argument, 0, 'C'},
        {"threads", required_argument, 0, 'j'},     {"device", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'n': o->network = optarg; break;
        case 's': o->seeds_text = optarg; break;
        case 'r': rc = dne_parse_long(optarg, "--random", 2, MAX_SEEDS, &o->random_count, err); break;
        case 'R': rc = dne_parse_long(optarg, "--random-seed", 0, 4294967295L, &o->random_seed, err); break;
        case 'B': o->batch_seeds_text = optarg; break;
        case 'p': rc = dne_parse_long(optarg, "--per-video", 1, MAX_SEEDS, &o->per_video, err); break;
        case 'o': o->output = optarg; break;
        case 'F': rc = parse_format(optarg, &o->format, err); break;
        case 'g': rc = dne_parse_grid(optarg, "--grid", &o->grid_cols, &o->grid_rows, err); break;
        case 'f': rc = dne_parse_long(optarg, "--frames-per-seed", 1, 100000, &o->frames_per_seed, err); break;
        case 'x': rc = dne_parse_float(optarg, "--fps", 0.01, 1000, &o->fps, err); break;
        case 'S': rc = parse_space(optarg, &o->space, err); break;
        case 'i': rc = gan_interp_parse(optarg, &o->interp, err), o->interp_given = 1; break;
        case 'l': o->loop = 1; break;
        case 't': rc = dne_parse_float(optarg, "--trunc", -100, 100, &o->psi, err); break;
        case 'c': rc = dne_parse_long(optarg, "--trunc-cutoff", 1, 1000, &o->cutoff, err); break;
        case 'k': rc = dne_parse_long(optarg, "--class", 0, 1 << 20, &o->class_index, err); break;
        case 'm': rc = sg2_noise_mode_parse(optarg, &o->noise_mode, err); break;
        case 'q': rc = dne_parse_float(optarg, "--quality", -1, 100, &o->quality, err); break;
        case 'C': rc = dne_parse_long(optarg, "--crf", 0, 51, &o->crf, err); break;
        case 'j': rc = dne_parse_long(optarg, "--threads", 0, 1024, &o->threads, err); break;
        case 'd': o->device_text = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: return gan_fail(err, "unknown or incomplete option '%s' (see dne video --help)", argv[optind - 1]);
        }
        if (rc != 0) return rc;
    }
    if (optind < argc) return gan_fail(err, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* The checks that need several flags together. */
static int check_flags(video_options *o, gan_error *err) {
    if (!o->network) return gan_fail(err, "--network is required");
    if (!o->output) return gan_fail(err, "--output is required");
    int sources = !!o->seeds_text + (o->random_count > 0) + !!o->batch_seeds_text;
    if (sources != 1) return gan_fail(err, "give exactly one of --seeds, --random and --batch-seeds");
    if (o->batch_seeds_text && o->per_video == 0) return gan_fail(err, "--batch-seeds needs --per-video");
    if (!o->batch_seeds_text && o->per_video) return gan_fail(err, "--per-video only goes with --batch-seeds");
    if (!o->interp_given) o->interp = o->space == SPACE_Z ? GAN_INTERP_SLERP : GAN_INTERP_CUBIC;
    if (o->space == SPACE_Z && o->interp == GAN_INTERP_CUBIC)
        return gan_fail(err, "--interp cubic is for --space w; in z use slerp or linear");
    if (o->space == SPACE_W && o->interp == GAN_INTERP_SLERP)
        return gan_fail(err, "--interp slerp is for --space z (Gaussian latents); in w use linear or cubic");
    if (o->format == GAN_VIDEO_UNKNOWN) {
        o->format = o->batch_seeds_text ? GAN_VIDEO_MP4 : gan_video_format_for_path(o->output);
        if (o->format == GAN_VIDEO_UNKNOWN)
            return gan_fail(err, "cannot tell the video format of '%s': name it .mp4 or .webp, end a folder name "
                                 "with / for PNG frames, or give --format",
                            o->output);
    }
    return 0;
}

/* ---------------------------------------------------------------- rendering */

typedef struct video_run {
    const video_options *o;
    gan_ctx *ctx;
    const sg2_generator *g;
    int cells, keyframes;
    size_t dim;      /* floats per keyframe: z_dim, or num_ws * w_dim */
    float *keys;     /* [cells][keyframes][dim] */
    float *latent;   /* [dim] */
    float *ws;       /* [cells][num_ws * w_dim] */
    float *images;   /* [cells][C * R * R] */
    uint64_t *noise_seeds;
    gan_image frame; /* the whole grid, RGB */
} video_run;

typedef struct progress {
    double start, last_print;
    long frames_done, frames_total;
    int video, videos, tty;
} progress;

static int alloc_run(video_run *run, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    size_t ws_size = (size_t)run->g->num_ws * cfg->w_dim, r = (size_t)cfg->img_resolution;
    run->dim = run->o->space == SPACE_Z ? (size_t)cfg->z_dim : ws_size;
    run->keys = malloc((size_t)run->cells * run->keyframes * run->dim * sizeof(float));
    run->latent = malloc((run->dim > (size_t)cfg->z_dim ? run->dim : (size_t)cfg->z_dim) * sizeof(float));
    run->ws = malloc((size_t)run->cells * ws_size * sizeof(float));
    run->images = malloc((size_t)run->cells * cfg->img_channels * r * r * sizeof(float));
    run->noise_seeds = calloc((size_t)run->cells, sizeof(uint64_t));
    if (!run->keys || !run->latent || !run->ws || !run->images || !run->noise_seeds) return gan_fail(err, "out of memory");
    return gan_image_alloc(&run->frame, run->o->grid_cols * cfg->img_resolution,
                           run->o->grid_rows * cfg->img_resolution, 3, err);
}

static void free_run(video_run *run) {
    free(run->keys);
    free(run->latent);
    free(run->ws);
    free(run->images);
    free(run->noise_seeds);
    gan_image_free(&run->frame);
}

/* Keyframe k of cell c is seeds[c * keyframes + k]: its z, or its truncated ws
 * mapped on its own exactly as `dne generate` maps it. */
static int make_keys(video_run *run, const uint32_t *seeds, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    for (int i = 0; i < run->cells * run->keyframes; i++) {
        float *key = run->keys + (size_t)i * run->dim;
        if (run->o->space == SPACE_Z) {
            dne_seed_to_z(seeds[i], cfg->z_dim, key);
            continue;
        }
        dne_seed_to_z(seeds[i], cfg->z_dim, run->latent);
        if (dne_map(run->ctx, run->g, run->latent, 1, run->o->class_index, run->o->psi, (int)run->o->cutoff, key, err))
            return -1;
    }
    return 0;
}

static int render_frame(video_run *run, const gan_keyframe_path *path, long frame, gan_error *err) {
    const sg2_config *cfg = &run->g->cfg;
    size_t ws_size = (size_t)run->g->num_ws * cfg->w_dim;
    for (int c = 0; c < run->cells; c++) {
        float *ws = run->ws + (size_t)c * ws_size;
        const float *keys = run->keys + (size_t)c * run->keyframes * run->dim;
        run->noise_seeds[c] = (uint64_t)frame * run->cells + c;
        if (run->o->space == SPACE_W) {
            gan_path_point(path, keys, run->dim, frame, ws);
            continue;
        }
        gan_path_point(path, keys, run->dim, frame, run->latent);
        if (dne_map(run->ctx, run->g, run->latent, 1, run->o->class_index, run->o->psi, (int)run->o->cutoff, ws, err))
            return -1;
    }
    if (dne_synthesize(run->ctx, run->g, run->ws, run->cells, run->o->noise_mode, run->noise_seeds, run->images, err))
        return -1;
    int r = cfg->img_resolution;
    size_t per_image = (size_t)cfg->img_channels * r * r;
    for (int c = 0; c < run->cells; c++)
        if (gan_image_paste_chw(&run->frame, (c % run->o->grid_cols) * r, (c / run->o->grid_cols) * r,
                                run->images + c * per_image, cfg->img_channels, r, r, err) != 0)
            return -1;
    return 0;
}

static void print_progress(progress *p, int force) {
    double now = gan_seconds();
    if (!force && now - p->last_print < (p->tty ? 0.25 : 10.0)) return;
    p->last_print = now;
    double elapsed = now - p->start, rate = elapsed > 0 ? p->frames_done / elapsed : 0;
    double eta = rate > 0 ? (p->frames_total - p->frames_done) / rate : 0;
    fprintf(stderr, "%sdne video: video %d/%d, frame %ld/%ld, %.1f frames/s, %ld:%02ld left%s", p->tty ? "\r" : "",
            p->video, p->videos, p->frames_done, p->frames_total, rate, (long)eta / 60, (long)eta % 60,
            p->tty ? "\033[K" : "\n");
    fflush(stderr);
}

static int render_video(video_run *run, const uint32_t *seeds, const char *path, progress *p, gan_error *err) {
    gan_keyframe_path kp = {.keyframes = run->keyframes, .frames_per_key = (int)run->o->frames_per_seed,
                            .loop = run->o->loop, .kind = run->o->interp};
    gan_video_options vo = {.width = run->frame.width, .height = run->frame.height, .fps = run->o->fps,
                            .quality = run->o->quality, .crf = (int)run->o->crf};
    if (make_keys(run, seeds, err) != 0) return -1;
    gan_video_writer *v = gan_video_open(path, run->o->format, &vo, err);
    if (!v) return -1;
    long frames = gan_path_frames(&kp);
    for (long f = 0; f < frames; f++) {
        if (render_frame(run, &kp, f, err) != 0 || gan_video_write(v, run->frame.pixels, err) != 0) {
            gan_video_abort(v);
            return -1;
        }
        p->frames_done++;
        print_progress(p, 0);
    }
    return gan_video_close(v, err);
}

/* ---------------------------------------------------------------- command */

/* --random N: N seeds drawn as 32-bit numbers from RandomState(random_seed). */
static int random_seeds(const video_options *o, uint32_t **seeds, int *count, gan_error *err) {
    *seeds = malloc((size_t)o->random_count * sizeof **seeds);
    if (!*seeds) return gan_fail(err, "out of memory");
    gan_randomstate rs;
    gan_randomstate_seed(&rs, (uint32_t)o->random_seed);
    for (long i = 0; i < o->random_count; i++) (*seeds)[i] = gan_randomstate_u32(&rs);
    *count = (int)o->random_count;
    fprintf(stderr, "dne video: --random %ld gives --seeds ", o->random_count);
    for (int i = 0; i < *count; i++) fprintf(stderr, "%s%u", i ? "," : "", (*seeds)[i]);
    fputc('\n', stderr);
    return 0;
}

/* Seeds of one video -> keyframes per cell (at least 2). */
static int check_seed_count(const video_options *o, int per_video, int *keyframes, gan_error *err) {
    int cells = o->grid_cols * o->grid_rows;
    if (per_video % cells != 0)
        return gan_fail(err, "%d seeds per video do not fill a %dx%d grid evenly (need a multiple of %d)", per_video,
                        o->grid_cols, o->grid_rows, cells);
    *keyframes = per_video / cells;
    if (*keyframes < 2)
        return gan_fail(err, "each walk needs at least 2 keyframes: %d seeds per video for %d grid cells give %d",
                        per_video, cells, *keyframes);
    gan_keyframe_path kp = {.keyframes = *keyframes, .frames_per_key = (int)o->frames_per_seed, .loop = o->loop};
    if (gan_path_frames(&kp) > MAX_FRAMES) return gan_fail(err, "more than %ld frames per video", MAX_FRAMES);
    return 0;
}

static int resolve_seeds(const video_options *o, uint32_t **seeds, int *count, int *per_video, int *keyframes,
                         gan_error *err) {
    int rc;
    if (o->random_count) rc = random_seeds(o, seeds, count, err);
    else rc = dne_parse_seeds(o->seeds_text ? o->seeds_text : o->batch_seeds_text, seeds, count, MAX_SEEDS, err);
    if (rc != 0) return -1;
    *per_video = o->batch_seeds_text ? (int)o->per_video : *count;
    if (o->batch_seeds_text && *count % *per_video != 0)
        return gan_fail(err, "--batch-seeds gives %d seeds, not a multiple of --per-video %d", *count, *per_video);
    return check_seed_count(o, *per_video, keyframes, err);
}

static void video_path(const video_options *o, const uint32_t *seeds, int per_video, char *path, size_t size) {
    if (!o->batch_seeds_text) {
        snprintf(path, size, "%s", o->output);
        return;
    }
    size_t n = strlen(o->output);
    const char *ext = gan_video_format_extension(o->format);
    snprintf(path, size, "%s%sseeds%04u-%04u%s%s", o->output, n && o->output[n - 1] == '/' ? "" : "/", seeds[0],
             seeds[per_video - 1], *ext ? "." : "/", ext);
}

static long peak_rss_kb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static int render_all(video_run *run, const uint32_t *seeds, int count, int per_video, gan_error *err) {
    const video_options *o = run->o;
    gan_keyframe_path kp = {.keyframes = run->keyframes, .frames_per_key = (int)o->frames_per_seed, .loop = o->loop};
    progress p = {.start = gan_seconds(), .videos = count / per_video, .tty = isatty(2)};
    p.frames_total = gan_path_frames(&kp) * p.videos;
    p.last_print = p.start;
    if (o->batch_seeds_text && gan_mkdirs(o->output, err) != 0) return -1;
    for (int i = 0; i < count; i += per_video) {
        char path[4096];
        video_path(o, seeds + i, per_video, path, sizeof path);
        p.video = i / per_video + 1;
        if (render_video(run, seeds + i, path, &p, err) != 0) {
            if (p.tty) fputc('\n', stderr);
            return -1;
        }
        print_progress(&p, 1);
    }
    double elapsed = gan_seconds() - p.start;
    fprintf(stderr, "dne video: %ld frames (%d video%s) in %.2f s, %.1f frames/s, peak RSS %.1f MB -> %s\n",
            p.frames_done, p.videos, p.videos == 1 ? "" : "s", elapsed, elapsed > 0 ? p.frames_done / elapsed : 0,
            peak_rss_kb() / 1024.0, o->output);
    return 0;
}

int dne_video(int argc, char **argv) {
    video_options o = {.frames_per_seed = 60, .fps = 30, .psi = 1, .class_index = -1, .device_text = "cpu",
                       .quality = 90, .crf = 18, .grid_cols = 1, .grid_rows = 1};
    gan_error err = {{0}};
    uint32_t *seeds = NULL;
    int count = 0, per_video = 0, keyframes = 0;
    gan_device device;
    if (parse_flags(argc, argv, &o, &err) != 0 || check_flags(&o, &err) != 0 ||
        resolve_seeds(&o, &seeds, &count, &per_video, &keyframes, &err) != 0 ||
        gan_device_parse(o.device_text, &device, &err) != 0) {
        free(seeds);
        return dne_error("video", DNE_EXIT_USAGE, &err);
    }
    if (gan_video_check_available(o.format, &err) != 0) {
        free(seeds);
        return dne_error("video", DNE_EXIT_FAILURE, &err);
    }
    int status = DNE_EXIT_USAGE;
    gan_ctx *ctx = gan_ctx_new(device, (int)o.threads, &err);
    sg2_generator *g = ctx ? sg2_load(ctx, o.network, "", &err) : NULL;
    if (g && dne_check_class("video", o.class_index, &g->cfg, &err) == 0) {
        video_run run = {.o = &o, .ctx = ctx, .g = g, .cells = o.grid_cols * o.grid_rows, .keyframes = keyframes};
        status = alloc_run(&run, &err) == 0 && render_all(&run, seeds, count, per_video, &err) == 0 ? 0
                                                                                                   : DNE_EXIT_FAILURE;
        free_run(&run);
    }
    if (status != 0) dne_error("video", status, &err);
    sg2_free(ctx, g);
    gan_ctx_free(ctx);
    free(seeds);
    return status;
}
