/* dne metrics: quality metrics of a generator against real images, printed
 * and appended to a metric-*.jsonl style log. Each metric is a row of the
 * table below; FID (Inception features) is meant to become another row. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "gan/io/dataset.h"
#include "gan/metrics/metric_log.h"
#include "gan/metrics/swd.h"
#include "gan/metrics/swd_biggan.h"
#include "gan/metrics/swd_generator.h"
#include "gan/models/biggan.h"
#include "gan/models/stylegan2.h"

#define DEFAULT_MAX_IMAGES 4096
#define MAX_IMAGES 1000000

typedef struct metrics_options {
    const char *network, *data, *metrics, *out, *device_text;
    long num, seed, batch, threads;
    float psi;
} metrics_options;

/* What a metric gets: the generator (StyleGAN2 or BigGAN) and the real
 * images (uint8, CHW). */
typedef struct metrics_job {
    const metrics_options *o;
    gan_ctx *ctx;
    const sg2_generator *g;
    const bg_generator *bg;
    const uint8_t *reals;
    int num;
} metrics_job;

typedef struct metric {
    const char *name;
    int (*run)(const metrics_job *job, gan_metric_results *out, gan_error *err);
    const char *summary;
} metric;

/* ------------------------------------------------------------ swd */

/* BigGAN's fakes cycle through the classes (fake i: class i % n_classes). */
static int run_swd(const metrics_job *job, gan_metric_results *out, gan_error *err) {
    int channels = job->bg ? 3 : job->g->cfg.img_channels;
    int resolution = job->bg ? job->bg->cfg.resolution : job->g->cfg.img_resolution;
    gan_swd_params p = GAN_SWD_DEFAULTS;
    p.seed = (uint32_t)job->o->seed;
    p.threads = job->ctx->threads;
    gan_swd *swd = gan_swd_new(&p, channels, resolution, err);
    if (!swd) return -1;
    gan_swd_sampling sampling = GAN_SWD_SAMPLING_DEFAULTS;
    sampling.psi = job->o->psi;
    sampling.batch = (int)job->o->batch;
    gan_swd_result result;
    int rc = gan_swd_add_reals(swd, job->reals, job->num, err);
    if (rc == 0)
        rc = job->bg ? gan_swd_of_biggan(job->ctx, job->bg, -1, 0, sampling.batch, swd, &result, err)
                     : gan_swd_of_generator(job->ctx, job->g, &sampling, swd, &result, err);
    if (rc == 0) gan_swd_result_values(&result, out);
    gan_swd_free(swd);
    return rc;
}

/* The metrics `--metrics` can name. FID needs Inception-v3 weights and
 * features; it will be a row here with the same signature. */
static const metric metric_table[] = {
    {"swd", run_swd, "sliced Wasserstein distance x1e3 per pyramid level and average (Karras et al. 2018)"},
};
#define NUM_METRICS (int)(sizeof metric_table / sizeof *metric_table)

static const metric *find_metric(const char *name, size_t len) {
    for (int i = 0; i < NUM_METRICS; i++)
        if (strlen(metric_table[i].name) == len && strncmp(metric_table[i].name, name, len) == 0)
            return &metric_table[i];
    return NULL;
}

/* "swd" or "swd,fid": each known, none twice. */
static int parse_metric_list(const char *text, const metric **list, int *count, gan_error *err) {
    *count = 0;
    for (const char *p = text;;) {
        size_t len = strcspn(p, ",");
        const metric *m = find_metric(p, len);
        if (!m) return gan_fail(err, "unknown metric '%.*s' in --metrics (known: swd)", (int)len, p);
        for (int i = 0; i < *count; i++)
            if (list[i] == m) return gan_fail(err, "metric '%s' named twice in --metrics", m->name);
        list[(*count)++] = m;
        if (!p[len]) return 0;
        p += len + 1;
    }
}

/* ------------------------------------------------------------ the reals */

/* The first *num images of the dataset at `path` (a folder, zip or .dset,
 * see gan/io/dataset.h), which must have the network's resolution and
 * channels, as [num][channels][res][res] uint8. *num <= 0 asks for every
 * image, at most DEFAULT_MAX_IMAGES; *num is set to the count loaded. */
static int load_reals(const char *path, int channels, int resolution, int *num, uint8_t **images, gan_error *err) {
    gan_dataset *ds = gan_dataset_open(path, err);
    if (!ds) return -1;
    int found = gan_dataset_count(ds), rc = 0;
    int want = *num > 0 ? *num : (found < DEFAULT_MAX_IMAGES ? found : DEFAULT_MAX_IMAGES);
    if (gan_dataset_resolution(ds) != resolution || gan_dataset_channels(ds) != channels)
        rc = gan_fail(err, "--data %s: %d px images with %d channels, the network makes %d px with %d", path,
                      gan_dataset_resolution(ds), gan_dataset_channels(ds), resolution, channels);
    else if (want > found)
        rc = gan_fail(err, "--num %d: --data %s has only %d images", want, path, found);
    *images = rc == 0 ? malloc((size_t)want * channels * resolution * resolution) : NULL;
    if (rc == 0 && !*images) rc = gan_fail(err, "out of memory for %d images", want);
    if (rc == 0) rc = gan_dataset_read_many(ds, 0, want, *images, err);
    gan_dataset_close(ds);
    if (rc != 0) {
        free(*images);
        *images = NULL;
        return -1;
    }
    *num = want;
    return 0;
}

/* ------------------------------------------------------------ the command */

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne metrics --network G.safetensors --data DIR --metrics swd [options]\n"
            "  --network FILE   generator (safetensors, as dne generate reads; StyleGAN2 or BigGAN, whose\n"
            "                   fakes then cycle through the classes)\n"
            "  --data PATH      real images at the network's resolution: a folder, a dataset zip or a .dset\n"
            "  --metrics LIST   comma-separated metrics:\n");
    for (int i = 0; i < NUM_METRICS; i++)
        fprintf(out, "                     %-5s %s\n", metric_table[i].name, metric_table[i].summary);
    fprintf(out,
            "  --num N          real images (the first N by file name) and as many generated ones\n"
            "                   (default: every image in DATA, at most %d)\n"
            "  --seed S         the metric's random seed (default 0); fake i uses z of seed i as dne generate\n"
            "  --trunc PSI      truncation psi of the fakes (default 1: none)\n"
            "  --batch N        images per forward pass (default 16)\n"
            "  --threads N      CPU threads (default: all cores)\n"
            "  --device DEV     cpu (default), cuda or cuda:N\n"
            "  --out FILE       also append each result as a JSON line (metric-<name>.jsonl style)\n",
            DEFAULT_MAX_IMAGES);
}

static int parse_options(int argc, char **argv, metrics_options *o, gan_error *err) {
    static const struct option longopts[] = {
        {"network", required_argument, 0, 'n'}, {"data", required_argument, 0, 'D'},
        {"metrics", required_argument, 0, 'm'}, {"num", required_argument, 0, 'N'},
        {"seed", required_argument, 0, 's'},    {"trunc", required_argument, 0, 't'},
        {"batch", required_argument, 0, 'b'},  {"threads", required_argument, 0, 'j'},
        {"device", required_argument, 0, 'd'},  {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    *o = (metrics_options){.psi = 1, .batch = 16, .device_text = "cpu"};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'n': o->network = optarg; break;
        case 'D': o->data = optarg; break;
        case 'm': o->metrics = optarg; break;
        case 'N': rc = dne_parse_long(optarg, "--num", 1, MAX_IMAGES, &o->num, err); break;
        case 's': rc = dne_parse_long(optarg, "--seed", 0, 0xffffffffL, &o->seed, err); break;
        case 't': rc = dne_parse_float(optarg, "--trunc", -100, 100, &o->psi, err); break;
        case 'b': rc = dne_parse_long(optarg, "--batch", 1, 1024, &o->batch, err); break;
        case 'j': rc = dne_parse_long(optarg, "--threads", 0, 1024, &o->threads, err); break;
        case 'd': o->device_text = optarg; break;
        case 'o': o->out = optarg; break;
        case 'h': usage(stdout); exit(0);
        default:
            return gan_fail(err, "unknown or incomplete option '%s' (see dne metrics --help)", argv[optind - 1]);
        }
        if (rc != 0) return rc;
    }
    if (optind < argc) return gan_fail(err, "unexpected argument '%s'", argv[optind]);
    if (!o->network) return gan_fail(err, "--network is required");
    if (!o->data) return gan_fail(err, "--data is required");
    if (!o->metrics) return gan_fail(err, "--metrics is required (e.g. --metrics swd)");
    return 0;
}

static double wall_clock(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}

static void print_results(const char *name, const gan_metric_results *r, int num, double seconds) {
    fprintf(stderr, "dne metrics: %s (%d reals, %d fakes, %.1f s):", name, num, num, seconds);
    for (int i = 0; i < r->count; i++) fprintf(stderr, " %s %.4f", r->name[i], r->value[i]);
    fputc('\n', stderr);
}

/* Runs each metric; prints its JSON line on stdout (and appends it to --out). */
static int run_metrics(const metrics_job *job, const metric *const *list, int count, gan_error *err) {
    for (int i = 0; i < count; i++) {
        gan_metric_results results;
        double start = gan_seconds();
        if (list[i]->run(job, &results, err) != 0) return gan_fail_context(err, "%s", list[i]->name);
        double seconds = gan_seconds() - start;
        gan_metric_report report = {.metric = list[i]->name, .results = &results, .total_time = seconds,
                                    .num_images = job->num, .snapshot = job->o->network, .timestamp = wall_clock()};
        char *line = gan_metric_report_json(&report);
        if (!line) return gan_fail(err, "out of memory");
        printf("%s\n", line);
        fflush(stdout);
        free(line);
        print_results(list[i]->name, &results, job->num, seconds);
        if (job->o->out && gan_metric_report_append(job->o->out, &report, err) != 0) return -1;
    }
    return 0;
}

int dne_metrics(int argc, char **argv) {
    metrics_options o;
    gan_error err = {{0}};
    gan_device device;
    const metric *list[NUM_METRICS];
    int count = 0;
    if (parse_options(argc, argv, &o, &err) != 0 || parse_metric_list(o.metrics, list, &count, &err) != 0 ||
        gan_device_parse(o.device_text, &device, &err) != 0)
        return dne_error("metrics", DNE_EXIT_USAGE, &err);
    int status = DNE_EXIT_USAGE; /* until the inputs are read: bad files are bad input */
    gan_ctx *ctx = gan_ctx_new(device, (int)o.threads, &err);
    int biggan = ctx && bg_file_is_biggan(o.network);
    if (biggan && o.psi != 1) gan_fail(&err, "--trunc is for StyleGAN2 networks; BigGAN's SWD samples untruncated");
    bg_generator *bg = biggan && o.psi == 1 ? bg_load(ctx, o.network, "", &err) : NULL;
    sg2_generator *g = ctx && !biggan ? sg2_load(ctx, o.network, "", &err) : NULL;
    uint8_t *reals = NULL;
    int num = (int)o.num;
    int channels = bg ? 3 : g ? g->cfg.img_channels : 0;
    int resolution = bg ? bg->cfg.resolution : g ? g->cfg.img_resolution : 0;
    if ((g || bg) && load_reals(o.data, channels, resolution, &num, &reals, &err) == 0) {
        metrics_job job = {.o = &o, .ctx = ctx, .g = g, .bg = bg, .reals = reals, .num = num};
        status = run_metrics(&job, list, count, &err) == 0 ? 0 : DNE_EXIT_FAILURE;
    }
    if (status != 0) dne_error("metrics", status, &err);
    free(reals);
    sg2_free(ctx, g);
    bg_free(ctx, bg);
    gan_ctx_free(ctx);
    return status;
}
