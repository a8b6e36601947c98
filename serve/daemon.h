/* The rendering side of `dne serve`: worker threads that fill the face pool,
 * refresh it at a steady rate, and render faces asked for by seed through a
 * bounded queue. The HTTP side (serve/http.c) only reads from here. */
#ifndef DNE_SERVE_DAEMON_H
#define DNE_SERVE_DAEMON_H

#include "face.h"
#include "gan/models/stylegan2.h"
#include "metrics.h"
#include "pool.h"

typedef struct serve_config {
    int workers;            /* rendering threads */
    int threads_per_worker; /* CPU threads of each worker's context */
    gan_device device;      /* where the workers render (the generator's device) */
    double refresh_per_min; /* pool faces replaced per minute once full */
    int psi_lo_milli, psi_hi_milli; /* random faces draw psi from this range */
    float quality;          /* WebP quality */
    int class_index;        /* for conditional networks */
    int queue_capacity;     /* on-demand renders that may wait at once */
    double request_timeout; /* seconds an on-demand request waits */
} serve_config;

typedef struct serve_daemon serve_daemon;

/* Starts the workers. The generator, pools and metrics must outlive the
 * daemon; the cache pool keeps faces rendered on demand. */
serve_daemon *serve_start(const serve_config *cfg, const sg2_generator *g, face_pool *pool, face_pool *cache,
                          serve_metrics *metrics, gan_error *err);
/* Shutting down takes two steps around stopping the HTTP server:
 * serve_request_stop turns new on-demand requests away and wakes the waiting
 * ones; serve_stop (once no request can reach the daemon any more) lets the
 * workers finish the render and write in flight, stops them and frees. */
void serve_request_stop(serve_daemon *d);
void serve_stop(serve_daemon *d);

typedef enum face_status { FACE_READY = 0, FACE_BUSY, FACE_FAILED } face_status;

/* Makes sure a face exists, rendering it on demand if neither the pool nor
 * the cache has it. FACE_BUSY: the queue is full or the wait timed out (try
 * again after *retry_after seconds). */
face_status serve_face(serve_daemon *d, face_key key, int *retry_after, gan_error *err);
/* The image of a face by key, from the pool or the cache (a reference). */
face_blob *serve_face_image(serve_daemon *d, face_key key);
/* A random face of the pool; -1 while the pool is empty. */
int serve_random_face(serve_daemon *d, face_info *out);
uint32_t serve_fingerprint(const serve_daemon *d);
void serve_gauges(serve_daemon *d, metrics_gauges *g);

#endif
