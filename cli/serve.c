/* dne serve: the daemon behind the page. Renders faces into a WebP pool and
 * serves the page, the faces and a small JSON API (serve/), or writes the
 * whole site as static files (--export). */
#include <getopt.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "gan/context.h"
#include "serve/daemon.h"
#include "serve/export.h"
#include "serve/http.h"

typedef struct serve_options {
    const char *network, *pool_dir, *listen, *web_dir, *export_dir, *trunc, *device_text;
    long pool_size, workers, threads, http_threads, cache_size, queue, memory_mb, class_index, timeout;
    float refresh_per_min, quality;
    char default_network[4096]; /* the bundled model, when --network is not given */
} serve_options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: dne serve [--network G.safetensors] [options]\n"
            "  --network FILE         the generator (safetensors, checkpoint or .pkl); default: the bundled model\n"
            "  --pool DIR             the face pool folder (default dne-pool); survives restarts\n"
            "  --pool-size N          faces in the pool (default 2000)\n"
            "  --refresh-per-min N    pool faces replaced per minute once full (default 6; 0: never)\n"
            "  --trunc PSI|LO-HI      truncation psi, or a range to draw from (default 0.6-0.9)\n"
            "  --quality Q            WebP quality 0-100 (default 90; -1: lossless)\n"
            "  --listen HOST:PORT     address to serve on (default 127.0.0.1:8080; port 0: any free port)\n"
            "  --workers N            rendering threads (default 1)\n"
            "  --threads N            CPU threads per rendering thread (default: all cores / workers)\n"
            "  --device DEV           cpu (default), cuda or cuda:N: where faces are rendered\n"
            "  --http-threads N       threads answering requests (default 4)\n"
            "  --cache-size N         faces kept from /api/face requests (default 500)\n"
            "  --queue N              /api/face renders that may wait at once (default 4)\n"
            "  --memory-mb N          image bytes held in memory per pool (default 256)\n"
            "  --timeout S            idle connections are closed after S seconds (default 10)\n"
            "  --class N              class of a conditional network\n"
            "  --web DIR              serve the page from DIR instead of the built-in copy\n"
            "  --export DIR           fill the pool, write the site as static files to DIR, and exit\n");
}

/* "0.7" or "0.5-0.9" (each -2 to 2) -> thousandths. */
static int parse_trunc(const char *text, int *lo, int *hi, gan_error *err) {
    char first[32], *dash = NULL;
    if (strlen(text) >= sizeof first) return gan_fail(err, "bad --trunc '%s'", text);
    strcpy(first, text);
    if (strlen(first) > 1) dash = strchr(first + 1, '-'); /* a leading '-' is a sign */
    if (dash) *dash = 0;
    float a, b;
    if (dne_parse_float(first, "--trunc", -2, 2, &a, err) != 0 ||
        dne_parse_float(dash ? dash + 1 : first, "--trunc", -2, 2, &b, err) != 0)
        return -1;
    *lo = (int)(a * 1000 + (a < 0 ? -0.5f : 0.5f));
    *hi = (int)(b * 1000 + (b < 0 ? -0.5f : 0.5f));
    return *lo <= *hi ? 0 : gan_fail(err, "bad --trunc '%s': the range must go up", text);
}

/* "host:port", "[v6]:port" or ":port". */
static int parse_listen(const char *text, char *host, size_t size, int *port, gan_error *err) {
    const char *colon = strrchr(text, ':');
    if (!colon) return gan_fail(err, "bad --listen '%s': expected HOST:PORT", text);
    const char *start = text, *end = colon;
    if (*start == '[' && end > start && end[-1] == ']') start++, end--;
    size_t len = (size_t)(end - start);
    if (len == 0) start = "127.0.0.1", len = strlen(start);
    if (len >= size) return gan_fail(err, "bad --listen '%s': host too long", text);
    memcpy(host, start, len);
    host[len] = 0;
    long p;
    if (dne_parse_long(colon + 1, "--listen port", 0, 65535, &p, err) != 0) return -1;
    *port = (int)p;
    return 0;
}

static int parse_options(int argc, char **argv, serve_options *o, gan_error *err) {
    static const struct option longopts[] = {
        {"network", required_argument, 0, 'n'},   {"pool", required_argument, 0, 'p'},
        {"pool-size", required_argument, 0, 's'}, {"refresh-per-min", required_argument, 0, 'r'},
        {"trunc", required_argument, 0, 't'},     {"quality", required_argument, 0, 'q'},
        {"listen", required_argument, 0, 'l'},    {"workers", required_argument, 0, 'w'},
        {"threads", required_argument, 0, 'j'},   {"http-threads", required_argument, 0, 'H'},
        {"cache-size", required_argument, 0, 'c'}, {"queue", required_argument, 0, 'Q'},
        {"memory-mb", required_argument, 0, 'm'}, {"timeout", required_argument, 0, 'T'},
        {"class", required_argument, 0, 'k'},     {"web", required_argument, 0, 'W'},
        {"export", required_argument, 0, 'e'},    {"device", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    *o = (serve_options){.pool_dir = "dne-pool", .listen = "127.0.0.1:8080", .trunc = "0.6-0.9", .pool_size = 2000,
                         .workers = 1, .http_threads = 4, .cache_size = 500, .queue = 4, .memory_mb = 256,
                         .class_index = 0, .timeout = 10, .refresh_per_min = 6, .quality = 90, .device_text = "cpu"};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'n': o->network = optarg; break;
        case 'p': o->pool_dir = optarg; break;
        case 's': rc = dne_parse_long(optarg, "--pool-size", 1, 10000000, &o->pool_size, err); break;
        case 'r': rc = dne_parse_float(optarg, "--refresh-per-min", 0, 60000, &o->refresh_per_min, err); break;
        case 't': o->trunc = optarg; break;
        case 'q': rc = dne_parse_float(optarg, "--quality", -1, 100, &o->quality, err); break;
        case 'l': o->listen = optarg; break;
        case 'w': rc = dne_parse_long(optarg, "--workers", 1, 256, &o->workers, err); break;
        case 'j': rc = dne_parse_long(optarg, "--threads", 0, 1024, &o->threads, err); break;
        case 'H': rc = dne_parse_long(optarg, "--http-threads", 1, 256, &o->http_threads, err); break;
        case 'c': rc = dne_parse_long(optarg, "--cache-size", 1, 1000000, &o->cache_size, err); break;
        case 'Q': rc = dne_parse_long(optarg, "--queue", 1, 10000, &o->queue, err); break;
        case 'm': rc = dne_parse_long(optarg, "--memory-mb", 1, 1 << 20, &o->memory_mb, err); break;
        case 'T': rc = dne_parse_long(optarg, "--timeout", 1, 3600, &o->timeout, err); break;
        case 'k': rc = dne_parse_long(optarg, "--class", 0, 1 << 20, &o->class_index, err); break;
        case 'W': o->web_dir = optarg; break;
        case 'e': o->export_dir = optarg; break;
        case 'D': o->device_text = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: return gan_fail(err, "unknown or incomplete option '%s' (see dne serve --help)", argv[optind - 1]);
        }
        if (rc != 0) return rc;
    }
    if (optind < argc) return gan_fail(err, "unexpected argument '%s'", argv[optind]);
    if (!o->network && dne_default_network(o->default_network, sizeof o->default_network, err) != 0) return -1;
    if (!o->network) o->network = o->default_network;
    return 0;
}

/* Everything a running daemon holds, torn down in reverse. */
typedef struct site {
    gan_ctx *ctx;
    sg2_generator *g;
    face_pool *pool, *cache;
    serve_metrics metrics;
    serve_daemon *daemon;
    http_server *http;
} site;

static void site_close(site *s) {
    if (s->daemon) serve_request_stop(s->daemon);
    http_stop(s->http);
    serve_stop(s->daemon);
    face_pool_close(s->pool);
    face_pool_close(s->cache);
    sg2_free(s->ctx, s->g);
    gan_ctx_free(s->ctx);
}

static int open_site(const serve_options *o, const serve_config *cfg, site *s, gan_error *err) {
    uint64_t fingerprint;
    char cache_dir[4096];
    snprintf(cache_dir, sizeof cache_dir, "%s/on-demand", o->pool_dir);
    s->ctx = gan_ctx_new(cfg->device, cfg->threads_per_worker, err);
    if (!s->ctx || !(s->g = sg2_load(s->ctx, o->network, "", err))) return -1;
    if (s->g->cfg.c_dim > 0 && o->class_index >= s->g->cfg.c_dim)
        return gan_fail(err, "--class %ld out of range: the network has %d classes", o->class_index, s->g->cfg.c_dim);
    if (gan_params_fingerprint(s->ctx, &s->g->params, &fingerprint, err) != 0) return -1;
    /* The class is part of what a face id stands for. */
    uint32_t fp = (uint32_t)(fingerprint ^ (fingerprint >> 32)) ^ (uint32_t)(o->class_index * 0x9e3779b9u);
    size_t memory = (size_t)o->memory_mb << 20;
    s->pool = face_pool_open(o->pool_dir, fp, (int)o->pool_size, memory, err);
    if (!s->pool) return -1;
    s->cache = face_pool_open(cache_dir, fp, (int)o->cache_size, memory, err);
    return s->cache ? 0 : -1;
}

/* Waits for SIGTERM, SIGINT or SIGHUP, which every thread has blocked. */
static int wait_for_signal(void) {
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigwait(&set, &sig);
    return sig;
}

static void block_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill the daemon */
}

/* --export: fill the pool (rendering in the workers), then write the site. */
static int export_site(const serve_options *o, site *s, const serve_config *cfg, gan_error *err) {
    serve_config quiet = *cfg;
    quiet.refresh_per_min = 0;
    s->daemon = serve_start(&quiet, s->g, s->pool, s->cache, &s->metrics, err);
    if (!s->daemon) return -1;
    while (face_pool_count(s->pool) < face_pool_capacity(s->pool) &&
           atomic_load(&s->metrics.render_failures) < 3) {
        struct timespec t = {0, 200000000};
        nanosleep(&t, NULL);
    }
    serve_stop(s->daemon);
    s->daemon = NULL;
    if (atomic_load(&s->metrics.render_failures) >= 3) return gan_fail(err, "rendering faces fails (see above)");
    if (serve_export(s->pool, o->web_dir, o->export_dir, err) != 0) return -1;
    fprintf(stderr, "dne serve: exported %d faces to %s\n", face_pool_count(s->pool), o->export_dir);
    return 0;
}

static int run(const serve_options *o, const serve_config *cfg, site *s, gan_error *err) {
    char host[256];
    int port = 0;
    if (parse_listen(o->listen, host, sizeof host, &port, err) != 0) return DNE_EXIT_USAGE;
    block_signals();
    if (open_site(o, cfg, s, err) != 0) return DNE_EXIT_USAGE;
    metrics_init(&s->metrics);
    if (o->export_dir) return export_site(o, s, cfg, err) == 0 ? 0 : DNE_EXIT_FAILURE;
    if (!(s->daemon = serve_start(cfg, s->g, s->pool, s->cache, &s->metrics, err))) return DNE_EXIT_FAILURE;
    http_config http = {host, port, (int)o->http_threads, 1024, 64, (int)o->timeout, o->web_dir};
    if (!(s->http = http_start(&http, s->daemon, &s->metrics, err))) return DNE_EXIT_USAGE;
    int bracket = strchr(host, ':') != NULL;
    fprintf(stderr, "dne serve: listening on http://%s%s%s:%d/ (pool %s: %d of %d faces)\n", bracket ? "[" : "", host,
            bracket ? "]" : "", http_port(s->http), o->pool_dir, face_pool_count(s->pool), (int)o->pool_size);
    int sig = wait_for_signal();
    fprintf(stderr, "dne serve: %s: finishing renders in flight and stopping\n", strsignal(sig));
    return 0;
}

int dne_serve(int argc, char **argv) {
    serve_options o;
    gan_error err = {{0}};
    serve_config cfg = {0};
    if (parse_options(argc, argv, &o, &err) != 0 ||
        parse_trunc(o.trunc, &cfg.psi_lo_milli, &cfg.psi_hi_milli, &err) != 0 ||
        gan_device_parse(o.device_text, &cfg.device, &err) != 0)
        return dne_error("serve", DNE_EXIT_USAGE, &err);
    int cores = omp_get_num_procs();
    cfg.workers = (int)o.workers;
    cfg.threads_per_worker = o.threads > 0 ? (int)o.threads : (cores / cfg.workers > 0 ? cores / cfg.workers : 1);
    cfg.refresh_per_min = o.refresh_per_min;
    cfg.quality = o.quality;
    cfg.class_index = (int)o.class_index;
    cfg.queue_capacity = (int)o.queue;
    cfg.request_timeout = 30;
    site s = {0};
    int status = run(&o, &cfg, &s, &err);
    site_close(&s);
    return status == 0 ? 0 : dne_error("serve", status, &err);
}
