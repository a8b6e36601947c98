/* For the tests of `dne serve`: start the daemon as a child process on a
 * free loopback port, and a small raw HTTP client (raw, so that requests can
 * be as malformed as a hostile client's). */
#ifndef DNE_TEST_SERVE_HARNESS_H
#define DNE_TEST_SERVE_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct daemon_proc {
    pid_t pid;
    int port;
    int log_fd; /* the daemon's stderr */
} daemon_proc;

static inline double harness_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Starts `dne serve <args>` (args split on spaces) and waits for its
 * "listening on http://127.0.0.1:PORT/" line. */
static inline int daemon_start(daemon_proc *d, const char *args) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return -1;
    char *copy = strdup(args), *argv[64] = {DNE_EXE, "serve"};
    int argc = 2;
    for (char *tok = strtok(copy, " "); tok && argc < 62; tok = strtok(NULL, " ")) argv[argc++] = tok;
    argv[argc] = NULL;
    d->pid = fork();
    if (d->pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        execv(DNE_EXE, argv);
        _exit(127);
    }
    free(copy);
    close(pipefd[1]);
    d->log_fd = pipefd[0];
    char buf[4096] = {0};
    size_t used = 0;
    double deadline = harness_now() + 120;
    while (harness_now() < deadline && used < sizeof buf - 1) {
        struct pollfd p = {d->log_fd, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0) continue;
        ssize_t n = read(d->log_fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0) break;
        used += (size_t)n;
        const char *at = strstr(buf, "listening on http://127.0.0.1:");
        if (at && strchr(at, '/') && strstr(at, "/ (")) {
            d->port = atoi(at + strlen("listening on http://127.0.0.1:"));
            return 0;
        }
    }
    fprintf(stderr, "daemon did not start: %s\n", buf);
    return -1;
}

/* Sends sig and waits up to `seconds` for the exit; returns the exit status,
 * 128 + signal if killed, or -1 on timeout (then it is killed). */
static inline int daemon_stop(daemon_proc *d, int sig, double seconds) {
    kill(d->pid, sig);
    double deadline = harness_now() + seconds;
    int status;
    while (harness_now() < deadline) {
        pid_t r = waitpid(d->pid, &status, WNOHANG);
        if (r == d->pid) {
            close(d->log_fd);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(20000);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    close(d->log_fd);
    return -1;
}

static inline int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

typedef struct http_reply {
    int status; /* 0: no answer */
    char headers[8192];
    unsigned char *body;
    size_t body_size;
} http_reply;

static inline void reply_free(http_reply *r) {
    free(r->body);
    r->body = NULL;
}

/* A header's value (case-insensitive name) copied into out; 0 if found. */
static inline int reply_header(const http_reply *r, const char *name, char *out, size_t size) {
    size_t len = strlen(name);
    for (const char *line = r->headers; line && *line; line = strstr(line, "\r\n") ? strstr(line, "\r\n") + 2 : NULL) {
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ') v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= size) n = size - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return 0;
        }
    }
    return -1;
}

/* Whether buf holds a whole response: headers and Content-Length bytes of
 * body (a response without Content-Length ends when the server closes). */
static inline int response_complete(const unsigned char *buf, size_t used, int head_only) {
    const unsigned char *end = used ? memmem(buf, used, "\r\n\r\n", 4) : NULL;
    if (!end) return 0;
    size_t head = (size_t)(end - buf) + 4;
    const char *cl = strcasestr((const char *)buf, "\r\nContent-Length:");
    if (!cl || (const unsigned char *)cl > end) return 0;
    return head_only || used - head >= (size_t)atol(cl + 17);
}

/* Sends raw bytes and reads the answer until it is complete or the server
 * closes, up to `seconds`, then closes. */
static inline http_reply http_raw(int port, const void *request, size_t size, double seconds) {
    http_reply r = {0};
    int fd = connect_to(port);
    if (fd < 0) return r;
    size_t sent = 0;
    while (sent < size) {
        ssize_t n = send(fd, (const char *)request + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    size_t cap = 1 << 16, used = 0;
    unsigned char *buf = malloc(cap);
    double deadline = harness_now() + seconds;
    int head_only = size >= 5 && memcmp(request, "HEAD ", 5) == 0;
    while (harness_now() < deadline && !response_complete(buf, used, head_only)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        if (used == cap) buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + used, cap - used, 0);
        if (n <= 0) break;
        used += (size_t)n;
    }
    close(fd);
    unsigned char *end = used ? memmem(buf, used, "\r\n\r\n", 4) : NULL;
    if (end && sscanf((char *)buf, "HTTP/1.%*d %d", &r.status) == 1) {
        size_t head = (size_t)(end - buf);
        if (head >= sizeof r.headers) head = sizeof r.headers - 1;
        memcpy(r.headers, buf, head);
        r.body_size = used - (size_t)(end + 4 - buf);
        r.body = malloc(r.body_size + 1);
        memcpy(r.body, end + 4, r.body_size);
        r.body[r.body_size] = 0;
    }
    free(buf);
    return r;
}

/* A well-formed request: method, target and extra header lines. */
static inline http_reply http_request(int port, const char *method, const char *target, const char *extra) {
    char request[16384];
    snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method,
             target, extra ? extra : "");
    return http_raw(port, request, strlen(request), 60);
}

static inline http_reply http_get(int port, const char *target) { return http_request(port, "GET", target, NULL); }

#endif
