#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- reading */

/* Grows *buf so that it holds at least need bytes; capacity doubles to keep
 * reads of files with an unknown size (pipes, /proc) linear. */
static int reserve(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t new_cap = *cap ? *cap : 4096;
    while (new_cap < need) new_cap = new_cap > SIZE_MAX / 2 ? need : new_cap * 2;
    uint8_t *grown = realloc(*buf, new_cap);
    if (!grown) return -1;
    *buf = grown;
    *cap = new_cap;
    return 0;
}

/* Reads until EOF, refusing more than max_size bytes. The buffer keeps one
 * spare byte for the terminating NUL. */
static int read_all(int fd, const char *path, size_t max_size, size_t size_hint, uint8_t **data, size_t *size,
                    gan_error *err) {
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    /* +2: room for the NUL and for one byte past max_size, which is how a file
     * that grew after fstat, or has no size, is found to be too large. */
    size_t first = (size_hint < max_size ? size_hint : max_size) + 2;
    if (reserve(&buf, &cap, first) != 0) return gan_fail(err, "reading %s: out of memory", path);
    for (;;) {
        if (len + 1 >= cap && reserve(&buf, &cap, cap + 1) != 0) {
            free(buf);
            return gan_fail(err, "reading %s: out of memory", path);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            return gan_fail(err, "reading %s: %s", path, strerror(e));
        }
        if (n == 0) break;
        len += (size_t)n;
        if (len > max_size) {
            free(buf);
            return gan_fail(err, "reading %s: file is larger than the limit of %zu bytes", path, max_size);
        }
    }
    buf[len] = 0;
    *data = buf;
    *size = len;
    return 0;
}

int gan_read_file(const char *path, size_t max_size, uint8_t **data, size_t *size, gan_error *err) {
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return gan_fail(err, "opening %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return gan_fail(err, "reading %s: %s", path, strerror(e));
    }
    /* Refuse early, without allocating, when the size is already known. */
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > (uint64_t)max_size) {
        close(fd);
        return gan_fail(err, "reading %s: file is %lld bytes, larger than the limit of %zu bytes", path,
                        (long long)st.st_size, max_size);
    }
    size_t hint = S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    int rc = read_all(fd, path, max_size, hint, data, size, err);
    close(fd);
    return rc;
}

/* ---------------------------------------------------------------- atomic writes */

struct gan_atomic_file {
    int fd;
    bool failed; /* a write failed: commit must not publish a partial file */
    char *path;
    char *tmp_path;
};

/* Shared by all threads so that two threads writing the same target never
 * pick the same temporary name (the pid alone does not tell them apart). */
static atomic_uint_fast64_t temp_counter;

static char *temp_name_for(const char *path) {
    unsigned long long n = (unsigned long long)atomic_fetch_add(&temp_counter, 1);
    int len = snprintf(NULL, 0, "%s.tmp-%ld-%llu", path, (long)getpid(), n);
    char *name = malloc((size_t)len + 1);
    if (name) snprintf(name, (size_t)len + 1, "%s.tmp-%ld-%llu", path, (long)getpid(), n);
    return name;
}

static void free_atomic(gan_atomic_file *f) {
    free(f->path);
    free(f->tmp_path);
    free(f);
}

gan_atomic_file *gan_atomic_open(const char *path, gan_error *err) {
    gan_atomic_file *f = calloc(1, sizeof *f);
    if (!f) {
        gan_fail(err, "writing %s: out of memory", path);
        return NULL;
    }
    f->fd = -1;
    f->path = strdup(path);
    f->tmp_path = temp_name_for(path);
    if (!f->path || !f->tmp_path) {
        free_atomic(f);
        gan_fail(err, "writing %s: out of memory", path);
        return NULL;
    }
    /* O_EXCL: never truncate a file that someone else created under this name. */
    f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        gan_fail(err, "writing %s: creating %s: %s", path, f->tmp_path, strerror(errno));
        free_atomic(f);
        return NULL;
    }
    return f;
}

/* write() may write fewer bytes than asked (signals, quotas, pipes). */
static int write_fully(int fd, const uint8_t *p, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

int gan_atomic_write(gan_atomic_file *f, const void *data, size_t size, gan_error *err) {
    if (f->failed) return gan_fail(err, "writing %s: an earlier write failed", f->path);
    if (write_fully(f->fd, data, size) != 0) {
        f->failed = true;
        return gan_fail(err, "writing %s: %s", f->tmp_path, strerror(errno));
    }
    return 0;
}

static int fsync_retrying(int fd) {
    int rc;
    do rc = fsync(fd);
    while (rc != 0 && errno == EINTR);
    return rc;
}

/* The rename is only durable once the folder's entry is on disk too. */
static int fsync_parent_folder(const char *path, gan_error *err) {
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir) return gan_fail(err, "writing %s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    /* Some file systems cannot fsync a folder (EINVAL); nothing more can be done there. */
    if (fd < 0 || (fsync_retrying(fd) != 0 && errno != EINVAL))
        rc = gan_fail(err, "writing %s: syncing folder %s: %s", path, dir, strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return rc;
}

/* Removes the temporary file; the target is never touched before the rename. */
static int abort_with(gan_atomic_file *f, gan_error *err, const char *step, int errnum) {
    gan_fail(err, "writing %s: %s %s: %s", f->path, step, f->tmp_path, strerror(errnum));
    gan_atomic_abort(f);
    return -1;
}

int gan_atomic_commit(gan_atomic_file *f, gan_error *err) {
    if (f->failed) {
        gan_fail(err, "writing %s: not committed because an earlier write failed", f->path);
        gan_atomic_abort(f);
        return -1;
    }
    if (fsync_retrying(f->fd) != 0) return abort_with(f, err, "syncing", errno);
    int fd = f->fd;
    f->fd = -1;
    /* close() can report a deferred write error (NFS); never retried, the fd is gone either way. */
    if (close(fd) != 0) return abort_with(f, err, "closing", errno);
    if (rename(f->tmp_path, f->path) != 0) return abort_with(f, err, "renaming", errno);
    int rc = fsync_parent_folder(f->path, err);
    free_atomic(f);
    return rc;
}

void gan_atomic_abort(gan_atomic_file *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp_path);
    free_atomic(f);
}

const char *gan_atomic_temp_path(const gan_atomic_file *f) { return f->tmp_path; }

int gan_write_file_atomic(const char *path, const void *data, size_t size, gan_error *err) {
    gan_atomic_file *f = gan_atomic_open(path, err);
    if (!f) return -1;
    if (gan_atomic_write(f, data, size, err) != 0) {
        gan_atomic_abort(f);
        return -1;
    }
    return gan_atomic_commit(f, err);
}

/* ---------------------------------------------------------------- folders */

static int mkdir_one(const char *dir, const char *full, gan_error *err) {
    if (mkdir(dir, 0777) == 0) return 0;
    int e = errno;
    struct stat st;
    /* EEXIST covers files too; only an existing folder is success. Other
     * errors (EACCES on a parent that exists) are also fine if it is there. */
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return 0;
        return gan_fail(err, "creating folder %s: %s exists and is not a folder", full, dir);
    }
    return gan_fail(err, "creating folder %s: %s: %s", full, dir, strerror(e));
}

int gan_mkdirs(const char *path, gan_error *err) {
    if (!path || !*path) return gan_fail(err, "creating folder: empty path");
    char *dir = strdup(path);
    if (!dir) return gan_fail(err, "creating folder %s: out of memory", path);
    int rc = 0;
    /* Each '/' after a name ends one prefix: "a/b/c" makes "a", "a/b", "a/b/c". */
    for (char *p = dir + 1; *p && rc == 0; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = 0;
        rc = mkdir_one(dir, path, err);
        *p = '/';
    }
    if (rc == 0) rc = mkdir_one(dir, path, err);
    free(dir);
    return rc;
}
