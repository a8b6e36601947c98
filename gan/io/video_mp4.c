/* H.264 MP4 through the ffmpeg program: frames go down a pipe as raw RGB, and
 * ffmpeg encodes them with libx264 into the temporary file of an atomic write
 * (MP4's index needs a seekable output, so not a pipe), which is published
 * once ffmpeg has exited cleanly. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "video_backend.h"

extern char **environ;

typedef struct mp4_writer {
    gan_video_writer base;
    gan_atomic_file *file;
    int pipe_fd;
    pid_t pid;
} mp4_writer;

/* Writes to the pipe without letting SIGPIPE kill the process when ffmpeg has
 * died: the signal is blocked in this thread for the write, and a pending one
 * is consumed, so the write reports EPIPE instead. Process-wide signal
 * handling is left as the program set it. */
static int pipe_write(int fd, const uint8_t *p, size_t size) {
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    int rc = 0, saved = 0;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            saved = n < 0 ? errno : EIO;
            rc = -1;
            break;
        }
        p += n;
        size -= (size_t)n;
    }
    if (saved == EPIPE) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return rc;
}

/* Closes the pipe and waits for ffmpeg; returns its exit status (or 128 + signal). */
static int wait_ffmpeg(mp4_writer *w) {
    if (w->pipe_fd >= 0) close(w->pipe_fd);
    w->pipe_fd = -1;
    if (w->pid <= 0) return -1;
    int status;
    pid_t r;
    do r = waitpid(w->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    w->pid = -1;
    if (r < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int mp4_write(gan_video_writer *v, const uint8_t *rgb, gan_error *err) {
    mp4_writer *w = (mp4_writer *)v;
    size_t bytes = (size_t)v->options.width * v->options.height * 3;
    if (pipe_write(w->pipe_fd, rgb, bytes) != 0)
        return gan_fail(err, "%s: ffmpeg stopped taking frames (%s; its message, if any, is above)", v->path,
                        strerror(errno));
    return 0;
}

static int mp4_finish(gan_video_writer *v, gan_error *err) {
    mp4_writer *w = (mp4_writer *)v;
    int status = wait_ffmpeg(w);
    gan_atomic_file *f = w->file;
    w->file = NULL;
    if (status != 0) {
        gan_atomic_abort(f);
        return gan_fail(err, "%s: ffmpeg failed (exit status %d; its message, if any, is above)", v->path, status);
    }
    return gan_atomic_commit(f, err);
}

static void mp4_discard(gan_video_writer *v) {
    mp4_writer *w = (mp4_writer *)v;
    wait_ffmpeg(w);
    gan_atomic_abort(w->file);
    w->file = NULL;
}

static void mp4_destroy(gan_video_writer *v) {
    free(v->path);
    free(v);
}

static pid_t spawn_ffmpeg(const gan_video_options *o, const char *out, int stdin_fd, gan_error *err) {
    char size[32], rate[32], crf[16];
    snprintf(size, sizeof size, "%dx%d", o->width, o->height);
    snprintf(rate, sizeof rate, "%.10g", o->fps);
    snprintf(crf, sizeof crf, "%d", o->crf);
    char *argv[] = {"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt",
                    "rgb24", "-video_size", size, "-framerate", rate, "-i", "pipe:0", "-c:v", "libx264", "-preset",
                    "medium", "-crf", crf, "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-fflags", "+bitexact",
                    "-f", "mp4", "-y", (char *)out, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "ffmpeg", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        gan_fail(err, "cannot start ffmpeg: %s (MP4 output needs the ffmpeg program, Debian package ffmpeg)",
                 strerror(rc));
        return -1;
    }
    return pid;
}

gan_video_writer *gan_video_open_mp4(const char *path, const gan_video_options *options, gan_error *err) {
    mp4_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->base.path = strdup(path))) {
        free(w);
        gan_fail(err, "%s: out of memory", path);
        return NULL;
    }
    w->base = (gan_video_writer){.write = mp4_write, .finish = mp4_finish, .discard = mp4_discard,
                                 .destroy = mp4_destroy, .options = *options, .path = w->base.path};
    w->pipe_fd = -1;
    w->pid = -1;
    int fds[2] = {-1, -1};
    w->file = gan_atomic_open(path, err);
    if (!w->file || pipe2(fds, O_CLOEXEC) != 0) {
        if (w->file) gan_fail(err, "%s: cannot make a pipe: %s", path, strerror(errno));
        gan_video_abort(&w->base);
        return NULL;
    }
    w->pipe_fd = fds[1];
    w->pid = spawn_ffmpeg(options, gan_atomic_temp_path(w->file), fds[0], err);
    close(fds[0]);
    if (w->pid < 0) {
        gan_video_abort(&w->base);
        return NULL;
    }
    return &w->base;
}
