#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int gan_fail(gan_error *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int gan_fail_context(gan_error *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[GAN_ERROR_LEN], old[GAN_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    int n = snprintf(err->msg, sizeof err->msg, "%s: ", prefix);
    if (n > 0 && (size_t)n < sizeof err->msg) {
        size_t room = sizeof err->msg - (size_t)n;
        snprintf(err->msg + n, room, "%.*s", (int)(room - 1), old);
    }
    return -1;
}
