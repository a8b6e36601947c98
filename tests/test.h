/* A minimal test harness: each tests/test_*.c is one program run by ctest
 * from the project root. CHECK records a failure and goes on; the program
 * exits 0 when every check passed, 1 when any failed, 77 when it skips. */
#ifndef DNE_TEST_H
#define DNE_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)

#define CHECKF(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            test_failures++;                                                   \
        }                                                                      \
    } while (0)

/* A call returning 0 on success with a gan_error: prints the message on failure. */
#define CHECK_OK(call, errp)                                                              \
    do {                                                                                  \
        if ((call) != 0) {                                                                \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, (errp)->msg); \
            test_failures++;                                                              \
        }                                                                                 \
    } while (0)

/* Largest |a[i] - b[i]| over n floats. */
static inline double test_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as failure */
    }
    return m;
}

/* Largest |a - b| / (|b| + floor), a relative error that tolerates zeros. */
static inline double test_max_rel_diff(const float *a, const float *b, size_t n, double floor) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (fabs((double)b[i]) + floor);
        if (!(d <= m)) m = d;
    }
    return m;
}

#define TEST_DONE()                                                       \
    do {                                                                  \
        if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures); \
        return test_failures ? 1 : 0;                                     \
    } while (0)

#define TEST_SKIP(...)                       \
    do {                                     \
        fprintf(stderr, "SKIP: " __VA_ARGS__); \
        fputc('\n', stderr);                 \
        return 77;                           \
    } while (0)

#endif
