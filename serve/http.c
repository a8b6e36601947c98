#include "http.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "gan/io/file.h"

struct http_server {
    struct MHD_Daemon *mhd;
    serve_daemon *daemon;
    serve_metrics *metrics;
    const char *web_dir;
    int port;
};

/* ---------------------------------------------------------------- replies */

/* Sends a response, with the headers every reply carries, and counts it. */
static enum MHD_Result reply(http_server *s, struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                            size_t body_size) {
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Server", "dne");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    metrics_request(s->metrics, status, status == MHD_HTTP_NOT_MODIFIED ? 0 : body_size);
    return ok;
}

/* A JSON body (consumes json); *size gets its length. */
static struct MHD_Response *json_response(cJSON *json, size_t *size) {
    char *body = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!body) return NULL;
    *size = strlen(body);
    struct MHD_Response *r = MHD_create_response_from_buffer(*size, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return r;
}

static struct MHD_Response *error_response(const char *message, size_t *size) {
    cJSON *json = cJSON_CreateObject();
    cJSON_AddStringToObject(json, "error", message);
    return json_response(json, size);
}

static enum MHD_Result send_json(http_server *s, struct MHD_Connection *c, unsigned status, cJSON *json) {
    size_t size = 0;
    struct MHD_Response *r = json_response(json, &size);
    return reply(s, c, status, r, size);
}

/* An error as {"error": "..."}, with one extra header when name is not NULL. */
static enum MHD_Result send_error_with(http_server *s, struct MHD_Connection *c, unsigned status, const char *name,
                                       const char *value, const char *message) {
    size_t size = 0;
    struct MHD_Response *r = error_response(message, &size);
    if (r && name) MHD_add_response_header(r, name, value);
    return reply(s, c, status, r, size);
}

static enum MHD_Result send_error(http_server *s, struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error(http_server *s, struct MHD_Connection *c, unsigned status, const char *fmt, ...) {
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return send_error_with(s, c, status, NULL, NULL, message);
}

/* ---------------------------------------------------------------- routes */

static void release_blob(void *blob) { face_blob_unref(blob); }

static enum MHD_Result serve_face_file(http_server *s, struct MHD_Connection *c, const char *name) {
    char id[FACE_ID_LEN + 1], etag[FACE_ID_LEN + 3];
    face_key key;
    size_t len = strlen(name);
    if (len != FACE_ID_LEN + 5 || strcmp(name + FACE_ID_LEN, ".webp") != 0)
        return send_error(s, c, MHD_HTTP_NOT_FOUND, "not found");
    memcpy(id, name, FACE_ID_LEN);
    id[FACE_ID_LEN] = 0;
    if (face_id_parse(id, serve_fingerprint(s->daemon), &key) != 0)
        return send_error(s, c, MHD_HTTP_NOT_FOUND, "not found");
    snprintf(etag, sizeof etag, "\"%s\"", id);
    const char *cached = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    face_blob *b = serve_face_image(s->daemon, key);
    if (!b) return send_error(s, c, MHD_HTTP_NOT_FOUND, "no face %s here", id);
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_OK;
    if (cached && (strcmp(cached, etag) == 0 || strcmp(cached, "*") == 0)) {
        face_blob_unref(b);
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_MODIFIED;
    } else {
        r = MHD_create_response_from_buffer_with_free_callback_cls(b->size, b->data, release_blob, b);
        if (r) MHD_add_response_header(r, "Content-Type", "image/webp");
        else face_blob_unref(b);
    }
    if (r) {
        MHD_add_response_header(r, "ETag", etag);
        MHD_add_response_header(r, "Cache-Control", "public, max-age=31536000, immutable");
    }
    return reply(s, c, status, r, status == MHD_HTTP_OK ? b->size : 0);
}

static enum MHD_Result serve_random(http_server *s, struct MHD_Connection *c, int redirect) {
    face_info face;
    if (serve_random_face(s->daemon, &face) != 0)
        return send_error_with(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "Retry-After", "1", "the pool has no faces yet");
    if (!redirect) return send_json(s, c, MHD_HTTP_OK, face_json(face.id, face.key));
    char location[64];
    snprintf(location, sizeof location, "faces/%s.webp", face.id);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r) {
        MHD_add_response_header(r, "Location", location);
        MHD_add_response_header(r, "Cache-Control", "no-store");
    }
    return reply(s, c, MHD_HTTP_FOUND, r, 0);
}

/* seed: 0 to 4294967295, digits only. */
static int parse_seed(const char *text, uint32_t *seed) {
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > 10) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return -1;
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    if (v > UINT32_MAX) return -1;
    *seed = (uint32_t)v;
    return 0;
}

/* psi: an optional sign, digits, optionally '.' and up to three more digits,
 * within +-FACE_PSI_LIMIT thousandths. */
static int parse_psi(const char *text, int *milli) {
    const char *p = text;
    int sign = 1, whole = 0, frac = 0, scale = 100, digits = 0;
    if (*p == '-' || *p == '+') sign = *p++ == '-' ? -1 : 1;
    for (; *p >= '0' && *p <= '9' && digits < 2; p++, digits++) whole = whole * 10 + (*p - '0');
    if (digits == 0) return -1;
    if (*p == '.') {
        p++;
        for (int n = 0; *p >= '0' && *p <= '9'; p++, n++) {
            if (n == 3) return -1;
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (*p) return -1;
    int value = sign * (whole * 1000 + frac);
    if (value < -FACE_PSI_LIMIT || value > FACE_PSI_LIMIT) return -1;
    *milli = value;
    return 0;
}

typedef struct query_check {
    const char *unknown;
    int count;
} query_check;

static enum MHD_Result note_argument(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind, (void)value;
    query_check *q = cls;
    q->count++;
    if (strcmp(key, "seed") != 0 && strcmp(key, "psi") != 0 && !q->unknown) q->unknown = key;
    return MHD_YES;
}

static enum MHD_Result serve_on_demand(http_server *s, struct MHD_Connection *c) {
    query_check q = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, note_argument, &q);
    if (q.unknown) return send_error(s, c, MHD_HTTP_BAD_REQUEST, "unknown parameter (only seed and psi)");
    const char *seed_text = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seed");
    const char *psi_text = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "psi");
    face_key key = {0, 1000};
    if (parse_seed(seed_text, &key.seed) != 0)
        return send_error(s, c, MHD_HTTP_BAD_REQUEST, "seed must be an integer from 0 to 4294967295");
    if (psi_text && parse_psi(psi_text, &key.psi_milli) != 0)
        return send_error(s, c, MHD_HTTP_BAD_REQUEST, "psi must be a number from -2 to 2 with at most 3 decimals");
    int retry_after = 1;
    gan_error err = {{0}};
    face_status status = serve_face(s->daemon, key, &retry_after, &err);
    if (status == FACE_READY) {
        char id[FACE_ID_LEN + 1];
        face_id(key, serve_fingerprint(s->daemon), id);
        return send_json(s, c, MHD_HTTP_OK, face_json(id, key));
    }
    if (status == FACE_FAILED) return send_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "render failed: %s", err.msg);
    char seconds[16];
    snprintf(seconds, sizeof seconds, "%d", retry_after);
    return send_error_with(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "Retry-After", seconds,
                           err.msg[0] ? err.msg : "busy rendering other faces, try again");
}

static enum MHD_Result serve_metrics_text(http_server *s, struct MHD_Connection *c) {
    metrics_gauges g;
    serve_gauges(s->daemon, &g);
    char *text = metrics_text(s->metrics, &g);
    if (!text) return send_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    size_t size = strlen(text);
    struct MHD_Response *r = MHD_create_response_from_buffer(size, text, MHD_RESPMEM_MUST_FREE);
    if (r) MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    else free(text);
    return reply(s, c, MHD_HTTP_OK, r, size);
}

static enum MHD_Result serve_health(http_server *s, struct MHD_Connection *c) {
    metrics_gauges g;
    serve_gauges(s->daemon, &g);
    cJSON *json = cJSON_CreateObject();
    cJSON_AddStringToObject(json, "status", "ok");
    cJSON_AddNumberToObject(json, "pool", g.pool_faces);
    cJSON_AddNumberToObject(json, "capacity", g.pool_capacity);
    return send_json(s, c, MHD_HTTP_OK, json);
}

/* The page's files: built in, or read from --web DIR (by the same names only). */
static enum MHD_Result serve_page_file(http_server *s, struct MHD_Connection *c, const serve_asset *a) {
    struct MHD_Response *r;
    size_t size = a->size;
    if (s->web_dir) {
        char path[4096];
        uint8_t *data;
        gan_error err;
        snprintf(path, sizeof path, "%s/%s", s->web_dir, a->name);
        if (gan_read_file(path, 16u << 20, &data, &size, &err) != 0)
            return send_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err.msg);
        r = MHD_create_response_from_buffer(size, data, MHD_RESPMEM_MUST_FREE);
        if (!r) free(data);
    } else {
        r = MHD_create_response_from_buffer(a->size, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    }
    if (r) {
        MHD_add_response_header(r, "Content-Type", a->mime);
        MHD_add_response_header(r, "Cache-Control", strcmp(a->name, "index.html") == 0 ? "no-cache" : "public, max-age=3600");
        if (strcmp(a->name, "index.html") == 0)
            MHD_add_response_header(r, "Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                                    "base-uri 'none'; frame-ancestors 'none'");
    }
    return reply(s, c, MHD_HTTP_OK, r, size);
}

static enum MHD_Result route(http_server *s, struct MHD_Connection *c, const char *url) {
    if (strcmp(url, "/") == 0) url = "/index.html";
    if (strcmp(url, "/api/random") == 0) return serve_random(s, c, 0);
    if (strcmp(url, "/random.webp") == 0) return serve_random(s, c, 1);
    if (strcmp(url, "/api/face") == 0) return serve_on_demand(s, c);
    if (strncmp(url, "/faces/", 7) == 0) return serve_face_file(s, c, url + 7);
    if (strcmp(url, "/healthz") == 0) return serve_health(s, c);
    if (strcmp(url, "/metrics") == 0) return serve_metrics_text(s, c);
    const serve_asset *a = url[0] == '/' && !strchr(url + 1, '/') ? serve_asset_find(url + 1) : NULL;
    if (a) return serve_page_file(s, c, a);
    return send_error(s, c, MHD_HTTP_NOT_FOUND, "not found");
}

/* ---------------------------------------------------------------- daemon */

/* A request's state is one number, set by note_uri from the raw target
 * before anything is decoded: the target's length (so over-long targets get
 * 414 whatever their parts), a bit for an encoded NUL (%00, which decoding
 * would turn into the end of the path), and a bit telling whether the
 * handler has seen the request once already. */
#define SEEN_BIT ((uintptr_t)1)
#define NUL_BIT ((uintptr_t)2)
#define LENGTH_SHIFT 2

static void *note_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls, (void)c;
    uintptr_t state = (uintptr_t)strlen(uri) << LENGTH_SHIFT;
    if (strstr(uri, "%00")) state |= NUL_BIT;
    return (void *)state;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **state) {
    (void)version, (void)upload_data;
    http_server *s = cls;
    uintptr_t st = (uintptr_t)*state;
    size_t uri_length = (size_t)(st >> LENGTH_SHIFT);
    *upload_size = 0; /* bodies are never read */
    if (uri_length > HTTP_MAX_URI) return send_error(s, c, MHD_HTTP_URI_TOO_LONG, "request target too long");
    if (st & NUL_BIT) return send_error(s, c, MHD_HTTP_BAD_REQUEST, "NUL in the request target");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error_with(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "Allow", "GET, HEAD", "method not allowed");
    /* Answering on the first call, while libmicrohttpd has not yet taken in
     * the whole request, would make it close the connection after the reply:
     * answer on the second, and keep-alive works. */
    if (!(st & SEEN_BIT)) {
        *state = (void *)(st | SEEN_BIT);
        return MHD_YES;
    }
    return route(s, c, url);
}

/* libmicrohttpd's own complaints (malformed requests, timeouts) are answered
 * by it with 4xx; they are not worth a line each on stderr. */
static void quiet_log(void *cls, const char *fmt, va_list ap) { (void)cls, (void)fmt, (void)ap; }

static int make_address(const char *host, int port, struct sockaddr_storage *addr, gan_error *err) {
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return gan_fail(err, "bad listen address '%s': expected a numeric IPv4 or IPv6 address", host);
}

http_server *http_start(const http_config *cfg, serve_daemon *daemon, serve_metrics *metrics, gan_error *err) {
    struct sockaddr_storage addr;
    if (make_address(cfg->host, cfg->port, &addr, err) != 0) return NULL;
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        gan_fail(err, "out of memory");
        return NULL;
    }
    *s = (http_server){.daemon = daemon, .metrics = metrics, .web_dir = cfg->web_dir};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->connection_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_seconds, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(12 * 1024), MHD_OPTION_URI_LOG_CALLBACK, note_uri, NULL, MHD_OPTION_EXTERNAL_LOGGER, quiet_log, NULL,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!s->mhd) {
        free(s);
        gan_fail(err, "cannot listen on %s port %d (in use, or not an address of this machine?)", cfg->host, cfg->port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    return s;
}

int http_port(const http_server *s) { return s->port; }

void http_stop(http_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->mhd);
    free(s);
}
