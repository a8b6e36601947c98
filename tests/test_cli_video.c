/* End to end: dne video, dne mix and dne generate's --grid / --ws / --save-ws.
 * - Frame counts and durations are as asked (MP4 through ffprobe, WebP through
 *   libwebp's decoder, PNG folders by count); the MP4 decodes in ffmpeg and
 *   its frames look like the PNG frames.
 * - Keyframe frames equal `dne generate`'s images for those seeds (same
 *   truncation, const noise), in w and in z; a looping video's last frame is
 *   one ordinary step from its first; videos are byte-for-byte deterministic.
 * - Peak RSS does not grow with the length of a video (200 vs 2000 frames).
 * - dne mix's grid equals the reference's style mixing (fixture from
 *   tools/reference/make_video_fixtures.py) within one level.
 * - --save-ws / --ws round trip; the projector's .npz format is read.
 * - Broken arguments: one line naming the problem, exit status 2. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <webp/demux.h>

#include "gan/io/file.h"
#include "gan/io/image.h"
#include "tests/test.h"

static char tmp[256];
static char net[512];
static int have_ffmpeg;

typedef struct run_result {
    int status;
    char output[16384];
} run_result;

static run_result run_cmd(const char *cmd_line) {
    run_result r = {.status = -1};
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s 2>&1", cmd_line);
    FILE *p = popen(cmd, "r");
    if (!p) return r;
    size_t n = fread(r.output, 1, sizeof r.output - 1, p);
    r.output[n] = 0;
    int status = pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

/* Runs `dne <args>` (printf-style) and expects success. */
static run_result dne_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static run_result dne_ok(const char *fmt, ...) {
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s", DNE_EXE, args);
    run_result r = run_cmd(cmd);
    CHECKF(r.status == 0, "dne %s: status %d: %s", args, r.status, r.output);
    return r;
}

static int count_lines(const char *s) {
    int lines = 0;
    for (; *s; s++) lines += *s == '\n';
    return lines;
}

static void expect_refusal(int status, const char *args, const char *word) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s", DNE_EXE, args);
    run_result r = run_cmd(cmd);
    CHECKF(r.status == status, "dne %s: status %d, output: %s", args, r.status, r.output);
    CHECKF(count_lines(r.output) == 1, "dne %s: expected one line, got: %s", args, r.output);
    CHECKF(strstr(r.output, word) != NULL, "dne %s: message lacks '%s': %s", args, word, r.output);
}

static int load(const char *path, gan_image *img) {
    gan_error err = {{0}};
    int rc = gan_image_load(path, img, &err);
    CHECKF(rc == 0, "%s", err.msg);
    return rc;
}

/* Mean absolute level difference of two same-sized images (or -1). */
static double mean_diff(const gan_image *a, const gan_image *b) {
    if (a->width != b->width || a->height != b->height || a->channels != b->channels) return -1;
    size_t n = (size_t)a->width * a->height * a->channels;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += abs((int)a->pixels[i] - (int)b->pixels[i]);
    return sum / (double)n;
}

static double file_mean_diff(const char *pa, const char *pb) {
    gan_image a = {0}, b = {0};
    double d = load(pa, &a) == 0 && load(pb, &b) == 0 ? mean_diff(&a, &b) : -1;
    gan_image_free(&a);
    gan_image_free(&b);
    return d;
}

static int count_files(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | wc -l", dir);
    run_result r = run_cmd(cmd);
    return atoi(r.output);
}

static int same_bytes(const char *pa, const char *pb) {
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    gan_error err;
    int same = gan_read_file(pa, 1 << 28, &a, &na, &err) == 0 && gan_read_file(pb, 1 << 28, &b, &nb, &err) == 0 &&
               na == nb && memcmp(a, b, na) == 0;
    free(a);
    free(b);
    return same;
}

/* ------------------------------------------------------------ PNG frames, keyframes, loops */

static void test_keyframes_equal_generate(void) {
    dne_ok("generate --network %s --seeds 3,8,5 --trunc 0.7 --outdir %s/gen", net, tmp);
    const char *spaces[] = {"--space w --interp cubic", "--space w --interp linear", "--space z --interp slerp",
                            "--space z --interp linear"};
    for (int s = 0; s < 4; s++) {
        dne_ok("video --network %s --seeds 3,8,5 --frames-per-seed 4 --trunc 0.7 %s --output %s/kf%d/", net,
               spaces[s], tmp, s);
        char dir[512], a[600], b[600];
        snprintf(dir, sizeof dir, "%s/kf%d", tmp, s);
        CHECKF(count_files(dir) == 9, "%s: %d frames, expected (3 - 1) * 4 + 1 = 9", spaces[s], count_files(dir));
        const int seeds[] = {3, 8, 5};
        for (int k = 0; k < 3; k++) {
            snprintf(a, sizeof a, "%s/frame%06d.png", dir, k * 4);
            snprintf(b, sizeof b, "%s/gen/seed%04d.png", tmp, seeds[k]);
            CHECKF(file_mean_diff(a, b) == 0, "%s: keyframe %d differs from dne generate's seed %d", spaces[s], k,
                   seeds[k]);
        }
        snprintf(a, sizeof a, "%s/frame000002.png", dir);
        snprintf(b, sizeof b, "%s/gen/seed0003.png", tmp);
        CHECKF(file_mean_diff(a, b) > 0.5, "%s: an in-between frame equals a keyframe", spaces[s]);
    }
}

/* A looping video's last frame is one step before its first: the seam is no
 * bigger than an ordinary step, while the open video's ends are far apart. */
static void test_loop_meets(void) {
    dne_ok("video --network %s --seeds 3,8,5 --frames-per-seed 12 --loop --output %s/loop/", net, tmp);
    char dir[512], a[600], b[600];
    snprintf(dir, sizeof dir, "%s/loop", tmp);
    CHECKF(count_files(dir) == 36, "looping: %d frames, expected 3 * 12", count_files(dir));
    double max_step = 0;
    for (int f = 0; f + 1 < 36; f++) {
        snprintf(a, sizeof a, "%s/frame%06d.png", dir, f);
        snprintf(b, sizeof b, "%s/frame%06d.png", dir, f + 1);
        double d = file_mean_diff(a, b);
        if (d > max_step) max_step = d;
    }
    snprintf(a, sizeof a, "%s/frame000035.png", dir);
    snprintf(b, sizeof b, "%s/frame000000.png", dir);
    double seam = file_mean_diff(a, b);
    CHECKF(seam > 0 && seam <= max_step, "loop seam %.2f levels, largest step %.2f", seam, max_step);
    snprintf(a, sizeof a, "%s/frame000018.png", dir);
    double across = file_mean_diff(a, b);
    CHECKF(across > 3 * seam, "mid-video frame only %.2f levels from the first (seam %.2f)", across, seam);
}

/* ------------------------------------------------------------ WebP */

typedef struct webp_info {
    int frames, last_timestamp, width, height;
    gan_image first; /* RGB */
} webp_info;

static webp_info read_webp(const char *path) {
    webp_info info = {0};
    uint8_t *data;
    size_t size;
    gan_error err;
    if (gan_read_file(path, 1 << 28, &data, &size, &err) != 0) return info;
    WebPAnimDecoderOptions opt;
    WebPAnimDecoderOptionsInit(&opt);
    opt.color_mode = MODE_RGBA;
    WebPData wd = {.bytes = data, .size = size};
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opt);
    WebPAnimInfo ai;
    if (dec && WebPAnimDecoderGetInfo(dec, &ai)) {
        info.width = (int)ai.canvas_width;
        info.height = (int)ai.canvas_height;
        uint8_t *canvas;
        int ts;
        while (WebPAnimDecoderHasMoreFrames(dec) && WebPAnimDecoderGetNext(dec, &canvas, &ts)) {
            if (info.frames == 0 && gan_image_alloc(&info.first, info.width, info.height, 3, &err) == 0)
                for (int i = 0; i < info.width * info.height; i++) memcpy(info.first.pixels + i * 3, canvas + i * 4, 3);
            info.frames++;
            info.last_timestamp = ts;
        }
    }
    WebPAnimDecoderDelete(dec);
    free(data);
    return info;
}

static void test_webp(void) {
    dne_ok("video --network %s --seeds 1,2 --frames-per-seed 15 --loop --fps 30 --quality -1 --grid 1x1 "
           "--output %s/a.webp",
           net, tmp);
    dne_ok("video --network %s --seeds 1,2 --frames-per-seed 15 --loop --fps 30 --quality -1 --output %s/b.webp", net,
           tmp);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a.webp", tmp);
    snprintf(b, sizeof b, "%s/b.webp", tmp);
    CHECKF(same_bytes(a, b), "two runs gave different WebP files");
    webp_info info = read_webp(a);
    CHECKF(info.frames == 30, "WebP: %d frames, expected 30", info.frames);
    /* The decoder's timestamp of the last frame is its end time: the duration. */
    CHECKF(info.last_timestamp == 1000, "WebP: lasts %d ms, expected 1000", info.last_timestamp);
    dne_ok("generate --network %s --seeds 1 --outdir %s/gen1", net, tmp);
    gan_image g = {0};
    snprintf(b, sizeof b, "%s/gen1/seed0001.png", tmp);
    if (load(b, &g) == 0 && info.first.pixels)
        CHECKF(mean_diff(&g, &info.first) == 0, "lossless WebP frame 0 differs from seed 1");
    gan_image_free(&g);
    gan_image_free(&info.first);
}

/* ------------------------------------------------------------ MP4 */

static void test_mp4(void) {
    if (!have_ffmpeg) {
        fprintf(stderr, "note: ffmpeg/ffprobe missing: MP4 checks skipped\n");
        return;
    }
    dne_ok("video --network %s --seeds 4,6,9 --frames-per-seed 20 --fps 24 --loop --output %s/v.mp4", net, tmp);
    dne_ok("video --network %s --seeds 4,6,9 --frames-per-seed 20 --fps 24 --loop --output %s/v2.mp4", net, tmp);
    char a[600], b[600], cmd[2048];
    snprintf(a, sizeof a, "%s/v.mp4", tmp);
    snprintf(b, sizeof b, "%s/v2.mp4", tmp);
    CHECKF(same_bytes(a, b), "two runs gave different MP4 files");
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
             "stream=codec_name,width,height,nb_read_frames,duration,pix_fmt -of default=nw=1 '%s'",
             a);
    run_result r = run_cmd(cmd);
    CHECKF(r.status == 0, "ffprobe: %s", r.output);
    CHECKF(strstr(r.output, "codec_name=h264") && strstr(r.output, "width=32") && strstr(r.output, "pix_fmt=yuv420p"),
           "ffprobe: %s", r.output);
    CHECKF(strstr(r.output, "nb_read_frames=60"), "expected 60 frames: %s", r.output);
    const char *d = strstr(r.output, "duration=");
    CHECKF(d && fabs(atof(d + 9) - 2.5) < 1e-3, "expected 2.5 s: %s", r.output);
    /* A standard decoder plays it without a complaint. */
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -i '%s' -f null -", a);
    r = run_cmd(cmd);
    CHECKF(r.status == 0 && r.output[0] == 0, "ffmpeg decode: status %d: %s", r.status, r.output);
    /* Its first frame looks like seed 4 (H.264 is lossy: a few levels off). */
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -i '%s' -frames:v 1 -y '%s/first.png'", a, tmp);
    r = run_cmd(cmd);
    dne_ok("generate --network %s --seeds 4,6 --outdir %s/gen4", net, tmp);
    snprintf(a, sizeof a, "%s/first.png", tmp);
    snprintf(b, sizeof b, "%s/gen4/seed0004.png", tmp);
    double near = file_mean_diff(a, b);
    snprintf(b, sizeof b, "%s/gen4/seed0006.png", tmp);
    double far = file_mean_diff(a, b);
    CHECKF(near >= 0 && near < 8 && far > 2 * near, "MP4 frame 0: %.2f levels from seed 4, %.2f from seed 6", near, far);
}

/* ------------------------------------------------------------ grid, batch, memory */

static void test_grid_and_batch(void) {
    dne_ok("video --network %s --seeds 1,2,3,4 --grid 2x1 --frames-per-seed 3 --output %s/grid/", net, tmp);
    char a[600];
    snprintf(a, sizeof a, "%s/grid/frame000000.png", tmp);
    gan_image g = {0};
    if (load(a, &g) == 0) CHECKF(g.width == 64 && g.height == 32, "grid frame %dx%d", g.width, g.height);
    gan_image_free(&g);
    run_result r = dne_ok("video --network %s --batch-seeds 0-5 --per-video 3 --frames-per-seed 2 --format webp "
                          "--output %s/batch",
                          net, tmp);
    CHECKF(strstr(r.output, "frames/s") && strstr(r.output, "video 2/2"), "no progress: %s", r.output);
    snprintf(a, sizeof a, "%s/batch", tmp);
    CHECKF(count_files(a) == 2, "batch: %d files", count_files(a));
    snprintf(a, sizeof a, "%s/batch/seeds0003-0005.webp", tmp);
    webp_info info = read_webp(a);
    CHECKF(info.frames == 5, "batch video: %d frames, expected 5", info.frames);
    gan_image_free(&info.first);
}

/* dne video's summary line: "... peak RSS 10.6 MB -> ...". (Unused under ASan.) */
static __attribute__((unused)) double peak_rss_mb(const char *output) {
    const char *p = strstr(output, "peak RSS ");
    return p ? atof(p + 9) : -1;
}

static void test_memory_flat(void) {
#if defined(__SANITIZE_ADDRESS__)
    fprintf(stderr, "note: RSS check skipped under AddressSanitizer (its quarantine holds freed memory)\n");
#else
    const char *out = have_ffmpeg ? "mp4" : "webp";
    run_result shortv = dne_ok("video --network %s --seeds 1,2 --frames-per-seed 100 --loop --output %s/short.%s", net,
                               tmp, out);
    run_result longv = dne_ok("video --network %s --seeds 1,2 --frames-per-seed 1000 --loop --output %s/long.%s", net,
                              tmp, out);
    double a = peak_rss_mb(shortv.output), b = peak_rss_mb(longv.output);
    fprintf(stderr, "peak RSS: 200 frames %.1f MB, 2000 frames %.1f MB (%s)\n", a, b, out);
    CHECKF(a > 0 && b > 0 && b - a < 2.0, "peak RSS grew from %.1f MB (200 frames) to %.1f MB (2000 frames)", a, b);
#endif
}

/* ------------------------------------------------------------ mix, ws files */

static void test_mix(void) {
    dne_ok("mix --network tests/fixtures/sg2_64.safetensors --rows 0,42 --cols 7,9,11 --styles 0-3 --trunc 0.7 "
           "--outdir %s/mix",
           tmp);
    char a[600];
    snprintf(a, sizeof a, "%s/mix/grid.png", tmp);
    gan_image got = {0}, want = {0};
    if (load(a, &got) == 0 && load("tests/fixtures/mix_64_grid.png", &want) == 0) {
        CHECKF(got.width == want.width && got.height == want.height, "mix grid %dx%d", got.width, got.height);
        int worst = 0;
        for (size_t i = 0; got.width == want.width && got.height == want.height && i < (size_t)got.width * got.height * 3; i++) {
            int d = abs((int)got.pixels[i] - (int)want.pixels[i]);
            if (d > worst) worst = d;
        }
        CHECKF(worst <= 1, "mix grid differs from the reference by %d levels", worst);
        /* Cell (row 42, col 9) is the file 42-9.png. */
        gan_image cell = {0};
        snprintf(a, sizeof a, "%s/mix/42-9.png", tmp);
        if (load(a, &cell) == 0) {
            int same = 1;
            for (int y = 0; y < 64; y++)
                same &= memcmp(cell.pixels + y * 64 * 3, got.pixels + ((2 * 64 + y) * got.width + 2 * 64) * 3, 64 * 3) == 0;
            CHECKF(same, "42-9.png is not grid cell (2, 2)");
        }
        gan_image_free(&cell);
    }
    gan_image_free(&got);
    gan_image_free(&want);
    snprintf(a, sizeof a, "%s/mix", tmp);
    CHECKF(count_files(a) == 2 * 3 + 5 + 1, "mix: %d files, expected 6 mixes + 5 plain + grid", count_files(a));
}

static void test_ws_files(void) {
    const char *f = "tests/fixtures/sg2_64.safetensors";
    dne_ok("generate --network %s --seeds 0,42,7 --trunc 0.7 --outdir %s/g1 --save-ws %s/g1/ws.npz --grid 2x2", f, tmp,
           tmp);
    dne_ok("generate --network %s --ws %s/g1/ws.npz --outdir %s/g2", f, tmp, tmp);
    dne_ok("generate --network %s --seeds 0,42,7 --trunc 0.7 --outdir %s/g3 --save-ws %s/g3/ws.npy", f, tmp, tmp);
    dne_ok("generate --network %s --ws %s/g3/ws.npy --outdir %s/g4", f, tmp, tmp);
    char a[600], b[600];
    const int seeds[] = {0, 42, 7};
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/g1/seed%04d.png", tmp, seeds[i]);
        snprintf(b, sizeof b, "%s/g2/proj%02d.png", tmp, i);
        CHECKF(file_mean_diff(a, b) == 0, "--ws from .npz: image %d differs from seed %d", i, seeds[i]);
        snprintf(b, sizeof b, "%s/g4/proj%02d.png", tmp, i);
        CHECKF(file_mean_diff(a, b) == 0, "--ws from .npy: image %d differs from seed %d", i, seeds[i]);
    }
    snprintf(a, sizeof a, "%s/g1/grid.png", tmp);
    gan_image g = {0};
    if (load(a, &g) == 0) CHECKF(g.width == 128 && g.height == 128, "grid %dx%d", g.width, g.height);
    gan_image_free(&g);
    /* The reference projector's file format, rendered by the reference. */
    dne_ok("generate --network %s --ws tests/fixtures/proj_64.npz --outdir %s/proj", f, tmp);
    snprintf(a, sizeof a, "%s/proj/proj00.png", tmp);
    double d = file_mean_diff(a, "tests/fixtures/proj_64.png");
    CHECKF(d >= 0 && d < 0.01, "projected w image differs from the reference by %.4f levels on average", d);
}

/* ------------------------------------------------------------ refusals */

static void test_refusals(void) {
    char args[4096];
#define REFUSE(status, word, ...)                                \
    do {                                                         \
        snprintf(args, sizeof args, __VA_ARGS__);                \
        expect_refusal(status, args, word);                      \
    } while (0)
    REFUSE(2, "--output is required", "video --network %s --seeds 1,2", net);
    REFUSE(2, "cannot tell the video format", "video --network %s --seeds 1,2 --output %s/x.avi", net, tmp);
    REFUSE(2, "exactly one of", "video --network %s --seeds 1,2 --random 3 --output %s/x.webp", net, tmp);
    REFUSE(2, "exactly one of", "video --network %s --output %s/x.webp", net, tmp);
    REFUSE(2, "at least 2 keyframes", "video --network %s --seeds 1 --output %s/x.webp", net, tmp);
    REFUSE(2, "grid evenly", "video --network %s --seeds 1,2,3 --grid 2x1 --output %s/x.webp", net, tmp);
    REFUSE(2, "slerp is for --space z", "video --network %s --seeds 1,2 --interp slerp --output %s/x.webp", net, tmp);
    REFUSE(2, "cubic is for --space w", "video --network %s --seeds 1,2 --space z --interp cubic --output %s/x.webp",
           net, tmp);
    REFUSE(2, "bad --fps", "video --network %s --seeds 1,2 --fps 0 --output %s/x.webp", net, tmp);
    REFUSE(2, "bad --grid", "video --network %s --seeds 1,2 --grid 2by2 --output %s/x.webp", net, tmp);
    REFUSE(2, "bad --space", "video --network %s --seeds 1,2 --space q --output %s/x.webp", net, tmp);
    REFUSE(2, "--batch-seeds needs --per-video", "video --network %s --batch-seeds 0-9 --output %s/b", net, tmp);
    REFUSE(2, "only goes with --batch-seeds", "video --network %s --seeds 1,2 --per-video 2 --output %s/x.webp", net,
           tmp);
    REFUSE(2, "not a multiple of --per-video", "video --network %s --batch-seeds 0-9 --per-video 4 --output %s/b", net,
           tmp);
    REFUSE(2, "bad --format", "video --network %s --seeds 1,2 --format gif --output %s/x", net, tmp);
    REFUSE(2, "no-such.safetensors", "video --network %s/no-such.safetensors --seeds 1,2 --output %s/x.webp", tmp, tmp);
    REFUSE(2, "--rows is required", "mix --network %s --cols 1 --outdir %s/m", net, tmp);
    REFUSE(2, "--styles 30 out of range", "mix --network %s --rows 1 --cols 2 --styles 0,30 --outdir %s/m", net, tmp);
    REFUSE(2, "bad --cols", "mix --network %s --rows 1 --cols 2-x --outdir %s/m", net, tmp);
    REFUSE(2, "has 4 cells for 5 images", "generate --network %s --seeds 0-4 --grid 2x2 --outdir %s/g", net, tmp);
    REFUSE(2, "not both", "generate --network %s --seeds 0 --ws x.npz --outdir %s/g", net, tmp);
    REFUSE(2, "do not apply to --ws", "generate --network %s --ws x.npz --trunc 0.5 --outdir %s/g", net, tmp);
    REFUSE(2, "but this network takes [N, 8, 32]", "generate --network %s --ws tests/fixtures/npy/f4.npy --outdir %s/g",
           net, tmp);
    REFUSE(2, "unsupported dtype", "generate --network %s --ws tests/fixtures/npy/int.npy --outdir %s/g", net, tmp);
#undef REFUSE
}

/* Missing ffmpeg: a clear error before any work (PATH without it). */
static void test_no_ffmpeg(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "env PATH=%s/empty-path '%s' video --network %s --seeds 1,2 --output %s/y.mp4", tmp,
             DNE_EXE, net, tmp);
    run_result r = run_cmd(cmd);
    CHECKF(r.status == 1 && count_lines(r.output) == 1 && strstr(r.output, "needs the ffmpeg program"),
           "without ffmpeg: status %d: %s", r.status, r.output);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/dne-test-video-XXXXXX");
    if (!mkdtemp(tmp)) TEST_SKIP("cannot make a temporary folder");
    have_ffmpeg = run_cmd("ffmpeg -version && ffprobe -version").status == 0;
    /* A tiny 32 px network (4 blocks, 8-16 channels): fast enough for 2000 frames under the sanitizers. */
    snprintf(net, sizeof net, "%s/tiny.safetensors", tmp);
    dne_ok("init --config '{\"arch\":\"stylegan2\",\"z_dim\":32,\"w_dim\":32,\"c_dim\":0,\"img_resolution\":32,"
           "\"img_channels\":3,\"mapping_layers\":2,\"channel_base\":256,\"channel_max\":16,\"conv_clamp\":256}' "
           "--out %s --seed 1",
           net);
    test_keyframes_equal_generate();
    test_loop_meets();
    test_webp();
    test_mp4();
    test_grid_and_batch();
    test_memory_flat();
    test_mix();
    test_ws_files();
    test_refusals();
    test_no_ffmpeg();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (test_failures == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    TEST_DONE();
}
