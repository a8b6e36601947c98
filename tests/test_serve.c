/* dne serve end to end: a daemon on a free loopback port with a small random
 * network. Every endpoint, status and header; on-demand faces equal to
 * `dne generate`'s; the pool refilling after files are deleted; recovery after
 * kill -9 (leftovers removed, no partial image served); the queue turning
 * requests away with 503; SIGTERM; and --export. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <pthread.h>

#include "gan/io/file.h"
#include "gan/io/image.h"
#include "tests/serve_harness.h"
#include "tests/test.h"

static char dir[256];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int count_faces(const char *folder) {
    DIR *d = opendir(folder);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > 5 && strcmp(e->d_name + len - 5, ".webp") == 0;
    }
    if (d) closedir(d);
    return n;
}

static int count_leftovers(const char *folder) {
    DIR *d = opendir(folder);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += strstr(e->d_name, ".tmp-") != NULL;
    if (d) closedir(d);
    return n;
}

static cJSON *reply_json(const http_reply *r) { return r->body ? cJSON_Parse((const char *)r->body) : NULL; }

static int pool_size(int port) {
    http_reply r = http_get(port, "/healthz");
    cJSON *j = reply_json(&r);
    cJSON *pool = cJSON_GetObjectItem(j, "pool");
    int n = cJSON_IsNumber(pool) ? pool->valueint : -1;
    cJSON_Delete(j);
    reply_free(&r);
    return n;
}

static int wait_pool(int port, int n, double seconds) {
    double deadline = harness_now() + seconds;
    while (harness_now() < deadline) {
        if (pool_size(port) >= n) return 0;
        usleep(100000);
    }
    return -1;
}

/* A random face's id from /api/random (into id). */
static int random_id(int port, char *id, size_t size) {
    http_reply r = http_get(port, "/api/random");
    cJSON *j = reply_json(&r);
    cJSON *v = cJSON_GetObjectItem(j, "id");
    int ok = r.status == 200 && cJSON_IsString(v);
    if (ok) snprintf(id, size, "%s", v->valuestring);
    cJSON_Delete(j);
    reply_free(&r);
    return ok ? 0 : -1;
}

static void check_face_image(int port, const char *id, int res) {
    char target[128], value[256];
    snprintf(target, sizeof target, "/faces/%s.webp", id);
    http_reply r = http_get(port, target);
    CHECKF(r.status == 200, "GET %s: %d", target, r.status);
    CHECK(reply_header(&r, "Content-Type", value, sizeof value) == 0 && strcmp(value, "image/webp") == 0);
    CHECK(reply_header(&r, "Cache-Control", value, sizeof value) == 0 &&
          strcmp(value, "public, max-age=31536000, immutable") == 0);
    char etag[64];
    snprintf(etag, sizeof etag, "\"%s\"", id);
    CHECK(reply_header(&r, "ETag", value, sizeof value) == 0 && strcmp(value, etag) == 0);
    gan_image img;
    gan_error err;
    CHECKF(r.body && gan_image_decode(r.body, r.body_size, &img, &err) == 0, "%s does not decode", target);
    if (r.body && img.pixels) {
        CHECK(img.width == res && img.height == res);
        gan_image_free(&img);
    }
    size_t size = r.body_size;
    reply_free(&r);

    char header[128];
    snprintf(header, sizeof header, "If-None-Match: %s\r\n", etag);
    r = http_request(port, "GET", target, header);
    CHECKF(r.status == 304 && r.body_size == 0, "conditional GET: %d, %zu bytes", r.status, r.body_size);
    reply_free(&r);
    r = http_request(port, "HEAD", target, NULL);
    CHECK(r.status == 200 && r.body_size == 0);
    CHECK(reply_header(&r, "Content-Length", value, sizeof value) == 0 && (size_t)atol(value) == size);
    reply_free(&r);
}

static void check_endpoints(int port) {
    char value[256];
    http_reply r = http_get(port, "/");
    CHECKF(r.status == 200, "GET /: %d", r.status);
    CHECK(reply_header(&r, "Content-Type", value, sizeof value) == 0 && strncmp(value, "text/html", 9) == 0);
    CHECK(r.body && strstr((char *)r.body, "<html") != NULL);
    reply_free(&r);
    r = http_get(port, "/app.js");
    CHECK(r.status == 200 && reply_header(&r, "Content-Type", value, sizeof value) == 0 &&
          strncmp(value, "text/javascript", 15) == 0);
    reply_free(&r);

    r = http_get(port, "/api/random");
    cJSON *j = reply_json(&r);
    CHECKF(r.status == 200 && j, "api/random: %d", r.status);
    CHECK(reply_header(&r, "Cache-Control", value, sizeof value) == 0 && strcmp(value, "no-store") == 0);
    cJSON *id = cJSON_GetObjectItem(j, "id"), *url = cJSON_GetObjectItem(j, "url");
    CHECK(cJSON_IsString(id) && cJSON_IsString(url) && cJSON_IsNumber(cJSON_GetObjectItem(j, "seed")) &&
          cJSON_IsNumber(cJSON_GetObjectItem(j, "psi")));
    if (cJSON_IsString(id) && cJSON_IsString(url)) {
        char expected[128];
        snprintf(expected, sizeof expected, "faces/%s.webp", id->valuestring);
        CHECK(strcmp(url->valuestring, expected) == 0);
        check_face_image(port, id->valuestring, 32);
    }
    cJSON_Delete(j);
    reply_free(&r);

    r = http_get(port, "/random.webp");
    CHECK(r.status == 302 && reply_header(&r, "Location", value, sizeof value) == 0 && strncmp(value, "faces/", 6) == 0);
    reply_free(&r);
    r = http_get(port, "/healthz");
    CHECK(r.status == 200);
    reply_free(&r);
    r = http_get(port, "/metrics");
    CHECK(r.status == 200 && r.body && strstr((char *)r.body, "dne_pool_faces 6") &&
          strstr((char *)r.body, "dne_render_seconds_bucket{le=\"+Inf\"}") &&
          strstr((char *)r.body, "dne_http_requests_total{code=\"304\"} 1"));
    reply_free(&r);
}

/* /api/face renders exactly what `dne generate` writes for the same seed and psi. */
static void check_on_demand(int port) {
    http_reply r = http_get(port, "/api/face?seed=42&psi=0.7");
    cJSON *j = reply_json(&r);
    cJSON *id = cJSON_GetObjectItem(j, "id");
    CHECKF(r.status == 200 && cJSON_IsString(id), "api/face: %d %s", r.status, r.body ? (char *)r.body : "");
    char target[128], png[512];
    snprintf(target, sizeof target, "/faces/%s.webp", cJSON_IsString(id) ? id->valuestring : "x");
    cJSON_Delete(j);
    reply_free(&r);
    r = http_get(port, target);
    CHECK(r.status == 200);
    CHECK(run("'%s' generate --network %s/G.safetensors --seeds 42 --trunc 0.7 --outdir %s/gen 2>/dev/null", DNE_EXE,
              dir, dir) == 0);
    snprintf(png, sizeof png, "%s/gen/seed0042.png", dir);
    gan_image served = {0}, generated = {0};
    gan_error err;
    if (r.body && gan_image_decode(r.body, r.body_size, &served, &err) == 0 &&
        gan_image_load(png, &generated, &err) == 0) {
        CHECK(served.width == generated.width && served.channels == generated.channels);
        size_t n = (size_t)served.width * served.height * served.channels;
        CHECKF(served.width == generated.width && memcmp(served.pixels, generated.pixels, n) == 0,
               "on-demand face differs from dne generate's");
    } else {
        CHECKF(0, "decoding: %s", err.msg);
    }
    gan_image_free(&served);
    gan_image_free(&generated);
    reply_free(&r);
}

static void expect_status(int port, const char *method, const char *target, int status) {
    http_reply r = http_request(port, method, target, NULL);
    CHECKF(r.status == status, "%s %.60s: %d, expected %d", method, target, r.status, status);
    char value[64];
    if (status >= 400 && status != 414 && strcmp(method, "HEAD") != 0) {
        cJSON *j = reply_json(&r);
        CHECKF(cJSON_IsString(cJSON_GetObjectItem(j, "error")), "%s %.60s: no JSON error", method, target);
        cJSON_Delete(j);
    }
    if (status == 405) CHECK(reply_header(&r, "Allow", value, sizeof value) == 0 && strcmp(value, "GET, HEAD") == 0);
    reply_free(&r);
}

static void check_bad_requests(int port) {
    const char *bad_queries[] = {"/api/face", "/api/face?seed=-1", "/api/face?seed=4294967296", "/api/face?seed=1x",
                                 "/api/face?seed=1&psi=2.5", "/api/face?seed=1&psi=0.1234", "/api/face?seed=1&psi=abc",
                                 "/api/face?seed=1&extra=2", "/api/face?seed=&psi=1"};
    for (size_t i = 0; i < sizeof bad_queries / sizeof *bad_queries; i++) expect_status(port, "GET", bad_queries[i], 400);
    const char *missing[] = {"/faces/../../etc/passwd", "/faces/..%2F..%2Fetc%2Fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
                             "/../../../../etc/passwd", "/faces/s0000000001-p+0700-00000000.webp", "/faces/",
                             "/index.html/../CMakeLists.txt", "/web/index.html",
                             "/api/random/../../etc/passwd", "/nope"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) expect_status(port, "GET", missing[i], 404);
    expect_status(port, "GET", "/faces/x.webp%00.png", 400); /* an encoded NUL would cut the path short */
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) expect_status(port, methods[i], "/", 405);
    char long_target[3000] = "/api/random?x=";
    memset(long_target + 14, 'a', 2500);
    long_target[2514] = 0;
    expect_status(port, "GET", long_target, 414);
}

/* Deleting faces from the folder: the daemon notices and renders new ones. */
static void check_refill(int port) {
    char pool[512];
    snprintf(pool, sizeof pool, "%s/pool", dir);
    CHECK(count_faces(pool) == 6);
    CHECK(run("ls %s/*.webp | head -3 | xargs rm -f", pool) == 0);
    double deadline = harness_now() + 60;
    while (harness_now() < deadline && count_faces(pool) < 6) usleep(200000);
    CHECKF(count_faces(pool) == 6, "pool folder has %d faces after refill", count_faces(pool));
    CHECK(wait_pool(port, 6, 10) == 0);
}

typedef struct burst {
    int port, seed, status;
    pthread_barrier_t *start;
} burst;

static void *request_face(void *arg) {
    burst *b = arg;
    pthread_barrier_wait(b->start); /* all at once, so that they meet a busy worker */
    char target[128];
    snprintf(target, sizeof target, "/api/face?seed=%d&psi=0.5", b->seed);
    http_reply r = http_get(b->port, target);
    b->status = r.status;
    char value[32];
    if (r.status == 503 && reply_header(&r, "Retry-After", value, sizeof value) != 0) b->status = -503;
    reply_free(&r);
    return NULL;
}

/* More on-demand requests than the queue holds, released together: some
 * are turned away with 503 + Retry-After, the others are answered, nothing
 * else happens. */
static void check_queue_full(int port) {
    enum { N = 24 };
    burst b[N];
    pthread_t t[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        b[i] = (burst){port, 1000 + i, 0, &start};
        pthread_create(&t[i], NULL, request_face, &b[i]);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += b[i].status == 200;
        busy += b[i].status == 503;
    }
    pthread_barrier_destroy(&start);
    CHECKF(ok + busy == N && busy > 0 && ok > 0, "queue: %d answered, %d turned away of %d", ok, busy, N);
}

/* kill -9 in the middle of filling the pool, plus leftovers of a killed
 * write and a truncated face: the next start cleans up, and every face it
 * serves is whole. */
static void check_crash_recovery(void) {
    char args[1024], pool[512], path[1024];
    snprintf(pool, sizeof pool, "%s/pool2", dir);
    snprintf(args, sizeof args,
             "--network %s/G.safetensors --pool %s --pool-size 400 --listen 127.0.0.1:0 --threads 1 --refresh-per-min 0",
             dir, pool);
    daemon_proc d;
    CHECK(daemon_start(&d, args) == 0);
    while (count_faces(pool) < 5) usleep(20000);
    CHECK(daemon_stop(&d, SIGKILL, 10) == 128 + SIGKILL);
    snprintf(path, sizeof path, "%s/s0000000007-p+0700-%08x.webp.tmp-99-1", pool, 0u);
    gan_error err;
    gan_write_file_atomic(path, "RIFF", 4, &err);
    int before = count_faces(pool);
    /* A face cut short (as a non-atomic writer would leave it). */
    CHECK(run("f=$(ls %s/*.webp | head -1); head -c 100 $f > $f.cut && mv $f.cut $f", pool) == 0);
    snprintf(args, sizeof args, "--network %s/G.safetensors --pool %s --pool-size 400 --listen 127.0.0.1:0 --threads 1 "
             "--refresh-per-min 0 --workers 1", dir, pool);
    CHECK(daemon_start(&d, args) == 0);
    CHECK(count_leftovers(pool) == 0);
    CHECKF(pool_size(d.port) >= before - 1, "after restart the pool has %d faces, %d before", pool_size(d.port), before);
    for (int i = 0; i < 20; i++) {
        char id[64];
        if (random_id(d.port, id, sizeof id) == 0) check_face_image(d.port, id, 32);
    }
    CHECK(daemon_stop(&d, SIGTERM, 20) == 0);
    CHECK(count_leftovers(pool) == 0);
}

static void check_export(void) {
    char out[512], path[1024];
    snprintf(out, sizeof out, "%s/site", dir);
    CHECK(run("'%s' serve --network %s/G.safetensors --pool %s/pool3 --pool-size 4 --export %s 2>/dev/null", DNE_EXE,
              dir, dir, out) == 0);
    snprintf(path, sizeof path, "%s/faces", out);
    CHECK(count_faces(path) == 4);
    uint8_t *data;
    size_t size;
    gan_error err;
    snprintf(path, sizeof path, "%s/faces.json", out);
    if (gan_read_file(path, 1 << 20, &data, &size, &err) == 0) {
        cJSON *list = cJSON_Parse((char *)data);
        CHECK(cJSON_GetArraySize(list) == 4);
        cJSON *first = cJSON_GetArrayItem(list, 0);
        CHECK(cJSON_IsString(cJSON_GetObjectItem(first, "url")));
        cJSON_Delete(list);
        free(data);
    } else {
        CHECKF(0, "%s", err.msg);
    }
    const char *files[] = {"index.html", "app.js", "style.css", "random.webp"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        CHECKF(access(path, R_OK) == 0, "export lacks %s", files[i]);
    }
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dne-test-serve-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    if (run("'%s' init --preset small --res 32 --seed 3 --out %s/G.safetensors 2>/dev/null", DNE_EXE, dir) != 0) return 1;
    char args[1024];
    snprintf(args, sizeof args,
             "--network %s/G.safetensors --pool %s/pool --pool-size 6 --refresh-per-min 0 --listen 127.0.0.1:0 "
             "--quality -1 --threads 1 --queue 2 --http-threads 8",
             dir, dir);
    daemon_proc d;
    if (daemon_start(&d, args) != 0) return 1;
    CHECKF(wait_pool(d.port, 6, 120) == 0, "the pool did not fill");
    check_endpoints(d.port);
    check_on_demand(d.port);
    check_bad_requests(d.port);
    check_refill(d.port);
    check_queue_full(d.port);
    CHECK(pool_size(d.port) == 6); /* still up */
    CHECKF(daemon_stop(&d, SIGTERM, 20) == 0, "SIGTERM did not end the daemon cleanly");
    char pool[512];
    snprintf(pool, sizeof pool, "%s/pool", dir);
    CHECK(count_leftovers(pool) == 0);
    check_crash_recovery();
    check_export();
    run("rm -rf '%s'", dir);
    TEST_DONE();
}
