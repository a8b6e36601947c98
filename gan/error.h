/* Errors in libgan: functions return 0 on success and -1 on failure, with a
 * one-line message in a caller-provided gan_error. Nothing in the library
 * prints or exits; the caller decides what to do with the message. */
#ifndef GAN_ERROR_H
#define GAN_ERROR_H

#define GAN_ERROR_LEN 512

typedef struct gan_error {
    char msg[GAN_ERROR_LEN];
} gan_error;

/* Formats the message into err (which may be NULL) and returns -1, so that
 * callers can write `return gan_fail(err, "...", ...);`. */
int gan_fail(gan_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends context to a message already in err: "reading x.png: <old message>".
 * Returns -1. */
int gan_fail_context(gan_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
