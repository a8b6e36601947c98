/* The HTTP side of `dne serve` (libmicrohttpd, a thread pool on epoll):
 * the page, the face images, a small JSON API, health and metrics. Nothing
 * outside the pool, the cache and the page's own assets is ever served. */
#ifndef DNE_SERVE_HTTP_H
#define DNE_SERVE_HTTP_H

#include "daemon.h"
#include "metrics.h"

#define HTTP_MAX_URI 2048 /* longer request targets get 414 */

typedef struct http_config {
    const char *host;        /* numeric IPv4 or IPv6 address to listen on */
    int port;                /* 0: any free port (see http_port) */
    int threads;             /* threads answering requests */
    int connection_limit;    /* open connections in all */
    int per_ip_limit;        /* open connections from one address */
    int timeout_seconds;     /* an idle connection is closed after this */
    const char *web_dir;     /* serve the page's files from here instead of the built-in ones */
} http_config;

typedef struct http_server http_server;

http_server *http_start(const http_config *cfg, serve_daemon *daemon, serve_metrics *metrics, gan_error *err);
int http_port(const http_server *s);
/* Stops accepting and waits for the requests being answered. */
void http_stop(http_server *s);

#endif
