/* A CPU context for a test program, and the check at its end that nothing
 * left an error behind. */
#ifndef DNE_TESTS_TEST_CONTEXT_H
#define DNE_TESTS_TEST_CONTEXT_H

#include <stdio.h>

#include "gan/context.h"
#include "tests/test.h"

/* Two threads, like the machines the tests run on; NULL (message printed) on failure. */
static inline gan_ctx *test_context(void) {
    gan_error err = {{0}};
    gan_ctx *ctx = gan_ctx_new((gan_device){GAN_DEVICE_CPU, 0}, 2, &err);
    if (!ctx) fprintf(stderr, "%s\n", err.msg);
    return ctx;
}

/* Fails the test if the context holds an error, frees it, and returns the
 * program's exit status. */
static inline int test_finish(gan_ctx *ctx) {
    CHECKF(!gan_ctx_failed(ctx), "context error: %s", ctx->error.msg);
    gan_ctx_free(ctx);
    if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
    return test_failures ? 1 : 0;
}

#endif
