#include "daemon.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Seconds between checks of the pool folder for faces deleted behind our back. */
#define SYNC_INTERVAL 2.0

/* An on-demand render. Requests for the same face share one job; it is freed
 * when the worker and every waiting request have let go of it. */
typedef enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED } job_state;

typedef struct job {
    face_key key;
    job_state state;
    int refs;
    gan_error err;
    struct job *next_queued, *next_active;
} job;

typedef struct worker {
    serve_daemon *d;
    face_renderer renderer;
    pthread_t thread;
    int started;
} worker;

struct serve_daemon {
    serve_config cfg;
    const sg2_generator *g;
    face_pool *pool, *cache;
    serve_metrics *metrics;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    job *queue_head, *queue_tail, *active;
    int queued, stopping, index_dirty;
    double started, next_refresh, last_sync, average_render;
    worker *workers;
};

static uint64_t random_u64(void) {
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) v = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
    return v;
}

/* A random face: any seed, psi from the configured range in steps of 0.01. */
static face_key random_key(const serve_config *cfg) {
    uint64_t r = random_u64();
    int steps = (cfg->psi_hi_milli - cfg->psi_lo_milli) / 10 + 1;
    return (face_key){(uint32_t)r, cfg->psi_lo_milli + 10 * (int)((r >> 32) % (uint64_t)steps)};
}

static face_blob *render(serve_daemon *d, worker *w, face_key key, int on_demand, gan_error *err) {
    double start = gan_seconds();
    face_blob *b = face_render(&w->renderer, key, err);
    double seconds = gan_seconds() - start;
    metrics_render(d->metrics, seconds, on_demand, b != NULL);
    pthread_mutex_lock(&d->lock);
    d->average_render = d->average_render > 0 ? 0.8 * d->average_render + 0.2 * seconds : seconds;
    pthread_mutex_unlock(&d->lock);
    return b;
}

/* ------------------------------------------------------------ jobs */

static job *find_active(serve_daemon *d, face_key key) {
    for (job *j = d->active; j; j = j->next_active)
        if (j->key.seed == key.seed && j->key.psi_milli == key.psi_milli) return j;
    return NULL;
}

static void release_job(serve_daemon *d, job *j) {
    if (--j->refs > 0) return;
    for (job **p = &d->active; *p; p = &(*p)->next_active)
        if (*p == j) {
            *p = j->next_active;
            break;
        }
    free(j);
}

static job *take_queued(serve_daemon *d) {
    job *j = d->queue_head;
    if (!j) return NULL;
    d->queue_head = j->next_queued;
    if (!d->queue_head) d->queue_tail = NULL;
    d->queued--;
    j->state = JOB_RUNNING;
    return j;
}

static void run_job(serve_daemon *d, worker *w, job *j) {
    gan_error err = {{0}};
    face_blob *b = render(d, w, j->key, 1, &err);
    int ok = b && face_pool_add(d->cache, j->key, b, &err) == 0;
    face_blob_unref(b);
    pthread_mutex_lock(&d->lock);
    j->state = ok ? JOB_DONE : JOB_FAILED;
    j->err = err;
    release_job(d, j);
    pthread_cond_broadcast(&d->done);
    pthread_mutex_unlock(&d->lock);
}

/* ------------------------------------------------------------ workers */

static void add_random_face(serve_daemon *d, worker *w) {
    face_key key = random_key(&d->cfg);
    if (face_pool_contains(d->pool, key)) return;
    gan_error err = {{0}};
    face_blob *b = render(d, w, key, 0, &err);
    if (b && face_pool_add(d->pool, key, b, &err) == 0) {
        pthread_mutex_lock(&d->lock);
        d->index_dirty = 1;
        pthread_mutex_unlock(&d->lock);
    } else {
        fprintf(stderr, "dne serve: rendering seed %u: %s\n", key.seed, err.msg);
    }
    face_blob_unref(b);
}

/* Notices faces deleted from the folder (so they are rendered again) and
 * keeps index.json current; called with the lock held, drops it meanwhile. */
static void maintain_pool(serve_daemon *d, double now) {
    d->last_sync = now;
    int dirty = d->index_dirty;
    d->index_dirty = 0;
    pthread_mutex_unlock(&d->lock);
    gan_error err;
    if (face_pool_sync(d->pool) > 0) dirty = 1;
    if (dirty && face_pool_write_index(d->pool, &err) != 0) fprintf(stderr, "dne serve: %s\n", err.msg);
    pthread_mutex_lock(&d->lock);
}

/* What a worker does next, in order: on-demand jobs, filling the pool,
 * the periodic refresh, else waiting. Called and returns with the lock held. */
static void work_once(serve_daemon *d, worker *w) {
    double now = gan_seconds();
    if (now - d->last_sync >= SYNC_INTERVAL) maintain_pool(d, now);
    job *j = take_queued(d);
    if (j) {
        pthread_mutex_unlock(&d->lock);
        run_job(d, w, j);
        pthread_mutex_lock(&d->lock);
        return;
    }
    int refresh_due = d->cfg.refresh_per_min > 0 && now >= d->next_refresh;
    if (face_pool_count(d->pool) < face_pool_capacity(d->pool) || refresh_due) {
        if (refresh_due) d->next_refresh = now + 60.0 / d->cfg.refresh_per_min;
        pthread_mutex_unlock(&d->lock);
        add_random_face(d, w);
        pthread_mutex_lock(&d->lock);
        return;
    }
    double until = d->last_sync + SYNC_INTERVAL;
    if (d->cfg.refresh_per_min > 0 && d->next_refresh < until) until = d->next_refresh;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    double wait = until - now > 0.001 ? until - now : 0.001;
    deadline.tv_sec += (time_t)wait;
    deadline.tv_nsec += (long)((wait - floor(wait)) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&d->work, &d->lock, &deadline);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    serve_daemon *d = w->d;
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) work_once(d, w);
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

serve_daemon *serve_start(const serve_config *cfg, const sg2_generator *g, face_pool *pool, face_pool *cache,
                          serve_metrics *metrics, gan_error *err) {
    serve_daemon *d = calloc(1, sizeof *d);
    if (d) d->workers = calloc((size_t)cfg->workers, sizeof *d->workers);
    if (!d || !d->workers) {
        free(d);
        gan_fail(err, "out of memory");
        return NULL;
    }
    *d = (serve_daemon){.cfg = *cfg, .g = g, .pool = pool, .cache = cache, .metrics = metrics, .workers = d->workers};
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->work, NULL);
    pthread_cond_init(&d->done, NULL);
    d->started = d->last_sync = gan_seconds();
    d->next_refresh = d->started;
    for (int i = 0; i < cfg->workers; i++) {
        worker *w = &d->workers[i];
        w->d = d;
        w->renderer = (face_renderer){.g = g, .quality = cfg->quality, .class_index = cfg->class_index};
        w->renderer.ctx = gan_ctx_new(cfg->device, cfg->threads_per_worker, err);
        if (!w->renderer.ctx || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            if (w->renderer.ctx) gan_fail(err, "cannot start a render thread");
            serve_stop(d);
            return NULL;
        }
        w->started = 1;
    }
    return d;
}

void serve_request_stop(serve_daemon *d) {
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_broadcast(&d->work);
    pthread_cond_broadcast(&d->done);
    pthread_mutex_unlock(&d->lock);
}

void serve_stop(serve_daemon *d) {
    if (!d) return;
    serve_request_stop(d);
    for (int i = 0; i < d->cfg.workers; i++) {
        if (d->workers[i].started) pthread_join(d->workers[i].thread, NULL);
        gan_ctx_free(d->workers[i].renderer.ctx);
    }
    gan_error err;
    face_pool_write_index(d->pool, &err);
    /* Jobs still queued are dropped: no request waits for them any more. */
    pthread_mutex_lock(&d->lock);
    while (d->active) {
        job *j = d->active;
        d->active = j->next_active;
        free(j);
    }
    pthread_mutex_unlock(&d->lock);
    pthread_cond_destroy(&d->work);
    pthread_cond_destroy(&d->done);
    pthread_mutex_destroy(&d->lock);
    free(d->workers);
    free(d);
}

/* ------------------------------------------------------------ queries */

static int retry_seconds(const serve_daemon *d) {
    double estimate = (d->queued + 1) * (d->average_render > 0 ? d->average_render : 1.0) / d->cfg.workers;
    return estimate < 1 ? 1 : (int)ceil(estimate);
}

static struct timespec deadline_after(double seconds) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += (time_t)seconds;
    t.tv_nsec += (long)((seconds - floor(seconds)) * 1e9);
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

face_status serve_face(serve_daemon *d, face_key key, int *retry_after, gan_error *err) {
    if (face_pool_contains(d->pool, key) || face_pool_contains(d->cache, key)) return FACE_READY;
    pthread_mutex_lock(&d->lock);
    *retry_after = retry_seconds(d);
    job *j = find_active(d, key);
    if (!j) {
        if (d->stopping || d->queued >= d->cfg.queue_capacity) {
            pthread_mutex_unlock(&d->lock);
            return FACE_BUSY;
        }
        j = calloc(1, sizeof *j);
        if (!j) {
            pthread_mutex_unlock(&d->lock);
            gan_fail(err, "out of memory");
            return FACE_FAILED;
        }
        *j = (job){.key = key, .state = JOB_QUEUED, .refs = 1, .next_active = d->active};
        d->active = j;
        if (d->queue_tail) d->queue_tail->next_queued = j;
        else d->queue_head = j;
        d->queue_tail = j;
        d->queued++;
        pthread_cond_signal(&d->work);
    }
    j->refs++;
    struct timespec deadline = deadline_after(d->cfg.request_timeout);
    int timed_out = 0;
    while (!timed_out && !d->stopping && (j->state == JOB_QUEUED || j->state == JOB_RUNNING))
        timed_out = pthread_cond_timedwait(&d->done, &d->lock, &deadline) != 0;
    face_status status = j->state == JOB_DONE ? FACE_READY : j->state == JOB_FAILED ? FACE_FAILED : FACE_BUSY;
    if (status == FACE_FAILED) *err = j->err;
    if (d->stopping && status == FACE_BUSY) gan_fail(err, "the daemon is shutting down");
    release_job(d, j);
    pthread_mutex_unlock(&d->lock);
    return status;
}

face_blob *serve_face_image(serve_daemon *d, face_key key) {
    face_blob *b = face_pool_get(d->pool, key);
    return b ? b : face_pool_get(d->cache, key);
}

int serve_random_face(serve_daemon *d, face_info *out) { return face_pool_pick(d->pool, random_u64(), out); }

uint32_t serve_fingerprint(const serve_daemon *d) { return face_pool_fingerprint(d->pool); }

void serve_gauges(serve_daemon *d, metrics_gauges *g) {
    g->pool_faces = face_pool_count(d->pool);
    g->pool_capacity = face_pool_capacity(d->pool);
    g->cache_faces = face_pool_count(d->cache);
    g->memory_bytes = face_pool_memory(d->pool) + face_pool_memory(d->cache);
    pthread_mutex_lock(&d->lock);
    g->queue_length = d->queued;
    g->queue_capacity = d->cfg.queue_capacity;
    g->uptime_seconds = gan_seconds() - d->started;
    pthread_mutex_unlock(&d->lock);
}
