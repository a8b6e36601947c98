/* dne serve against hostile clients: path traversal in every spelling,
 * over-long targets and headers, malformed requests by the thousand,
 * slowloris connections. The daemon must answer each with a 4xx (or close the
 * connection), never serve anything but its own files, and stay up. */
#include "tests/serve_harness.h"
#include "tests/test.h"

static char dir[256];

static int alive(int port) {
    http_reply r = http_get(port, "/healthz");
    int ok = r.status == 200;
    reply_free(&r);
    return ok;
}

static void expect_not_found(int port, const char *target) {
    http_reply r = http_get(port, target);
    CHECKF(r.status == 404 || r.status == 400, "GET %s: %d", target, r.status);
    CHECKF(!r.body || !strstr((char *)r.body, "root:"), "GET %s leaked a file", target);
    reply_free(&r);
}

static void check_traversal(int port) {
    const char *targets[] = {
        "/../../../../../../etc/passwd", "/faces/../../../../etc/passwd", "/faces/..%2f..%2f..%2fetc%2fpasswd",
        "/faces/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/faces/....//....//etc/passwd",
        "/faces/%252e%252e%252fetc%252fpasswd", "/faces/..\\..\\etc\\passwd", "/..%c0%af..%c0%afetc/passwd",
        "/faces/%00", "/index.html%00.webp", "//etc/passwd", "/./index.html/../../etc/passwd",
        "/faces/s0000000001-p+0700-00000000.webp/../../../etc/passwd", "/api/../../etc/passwd",
        "/G.safetensors", "/../G.safetensors", "/pool/index.json", "/index.json", "/faces/index.json",
        "/on-demand/", "/faces/on-demand/x.webp", "/CMakeLists.txt", "/proc/self/environ"};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) expect_not_found(port, targets[i]);
    /* Targets that are not paths at all. */
    const char *raw[] = {"GET ../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
                         "GET http://127.0.0.1/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
                         "GET * HTTP/1.1\r\nHost: x\r\n\r\n"};
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        http_reply r = http_raw(port, raw[i], strlen(raw[i]), 5);
        CHECKF(r.status == 0 || (r.status >= 400 && r.status < 500), "raw request %zu: %d", i, r.status);
        CHECK(!r.body || !strstr((char *)r.body, "root:"));
        reply_free(&r);
    }
}

static void check_oversized(int port) {
    char *target = malloc(100000);
    strcpy(target, "/");
    memset(target + 1, 'a', 99990);
    target[99991] = 0;
    http_reply r = http_get(port, target);
    CHECKF(r.status == 0 || r.status == 414 || r.status == 431 || r.status == 413, "100 kB target: %d", r.status);
    reply_free(&r);
    char *header = malloc(100000);
    strcpy(header, "X-Big: ");
    memset(header + 7, 'b', 60000);
    strcpy(header + 60007, "\r\n");
    r = http_request(port, "GET", "/healthz", header);
    CHECKF(r.status == 0 || r.status == 431 || r.status == 413 || r.status == 400, "60 kB header: %d", r.status);
    reply_free(&r);
    /* Many headers. */
    header[0] = 0;
    for (int i = 0; i < 3000; i++) strcat(header, "X-A: b\r\n");
    r = http_request(port, "GET", "/healthz", header);
    CHECKF(r.status == 0 || r.status == 431 || r.status == 413 || r.status == 400, "3000 headers: %d", r.status);
    reply_free(&r);
    free(header);
    free(target);
    CHECK(alive(port));
}

/* 1,000 malformed requests in a row, each answered with a 4xx/5xx or a closed
 * connection (a few are odd but valid, and may succeed); the daemon still
 * serves afterwards. */
typedef struct odd_request {
    const char *bytes;
    size_t size; /* 0: strlen */
    int may_succeed;
} odd_request;

static const odd_request odd_requests[] = {
    {"GARBAGE\r\n\r\n", 0, 0},
    {"GET\r\n\r\n", 0, 0},
    {"GET / HTTP/9.9\r\n\r\n", 0, 0},
    {"GET /\r\n\r\n", 0, 0},
    {"\x16\x03\x01\x02\x00\x01\x00", 7, 0},
    {"GET / HTTP/1.1\r\nHost x\r\n\r\n", 0, 0},
    {"GET /api/face?seed=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
    {"GET /%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
    {"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 0, 0},
    {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\nabc", 0, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 0},
    {"GET /api/face?seed=99999999999999999999999 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
    {"GET /api/face?psi=nan&seed=1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
    {"GET /api/face?psi=1e3&seed=1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0},
    {"\r\n\r\n\r\n\r\n", 0, 0},
    {"GET /nope HTTP/1.1\r\n\tfolded: x\r\n\r\n", 0, 0},
    /* Valid, if unusual: repeated parameters (the first counts), HTTP/1.0. */
    {"GET /api/face?seed=1&seed=2&psi=0.5&psi=9 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 1},
    {"GET /healthz HTTP/1.0\r\n\r\n", 0, 1},
};

static void check_garbage(int port) {
    int n = (int)(sizeof odd_requests / sizeof *odd_requests), answered = 0;
    for (int i = 0; i < 1000; i++) {
        const odd_request *q = &odd_requests[i % n];
        /* Complete requests are answered at once; for broken ones the server
         * waits for more, so the client gives up and hangs up. */
        http_reply r = http_raw(port, q->bytes, q->size ? q->size : strlen(q->bytes), 0.1);
        int fine = r.status == 0 || r.status >= 400 || (q->may_succeed && r.status == 200);
        answered += r.status != 0;
        reply_free(&r);
        if (!fine) {
            CHECKF(0, "odd request %d got %d", i % n, r.status);
            break;
        }
    }
    printf("  1000 malformed requests: %d answered with a status, the rest left unfinished\n", answered);
    CHECK(alive(port));
}

/* Slow clients: idle ones are cut off after the timeout, trickling ones
 * cannot keep others from being served. */
static void check_slowloris(int port) {
    enum { SLOW = 40 };
    int fds[SLOW];
    for (int i = 0; i < SLOW; i++) {
        fds[i] = connect_to(port);
        const char *partial = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        if (fds[i] >= 0) send(fds[i], partial, strlen(partial), MSG_NOSIGNAL);
    }
    double start = harness_now();
    http_reply r = http_get(port, "/healthz");
    CHECKF(r.status == 200 && harness_now() - start < 2, "with %d slow clients /healthz took %.2f s", SLOW,
           harness_now() - start);
    reply_free(&r);
    /* --timeout 2: the idle connections are closed soon after. */
    usleep(4500000);
    int closed = 0;
    for (int i = 0; i < SLOW; i++) {
        if (fds[i] < 0) continue;
        char c;
        struct pollfd p = {fds[i], POLLIN, 0};
        if (poll(&p, 1, 1000) > 0 && recv(fds[i], &c, 1, 0) <= 0) closed++;
        close(fds[i]);
    }
    CHECKF(closed == SLOW, "%d of %d idle connections closed by the timeout", closed, SLOW);
    CHECK(alive(port));
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dne-test-hostile-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    char cmd[1024], args[1024];
    snprintf(cmd, sizeof cmd, "'%s' init --preset small --res 16 --seed 2 --out %s/G.safetensors 2>/dev/null", DNE_EXE, dir);
    if (system(cmd) != 0) return 1;
    snprintf(args, sizeof args,
             "--network %s/G.safetensors --pool %s/pool --pool-size 3 --refresh-per-min 0 --listen 127.0.0.1:0 "
             "--timeout 2 --threads 1",
             dir, dir);
    daemon_proc d;
    if (daemon_start(&d, args) != 0) return 1;
    check_traversal(d.port);
    check_oversized(d.port);
    check_garbage(d.port);
    check_slowloris(d.port);
    CHECKF(daemon_stop(&d, SIGTERM, 20) == 0, "the daemon did not stop cleanly");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    TEST_DONE();
}
