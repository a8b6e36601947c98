#include "orthogonal.h"

#include <limits.h>
#include <stdlib.h>

/* LAPACK's Fortran interface, as OpenBLAS exports it. */
void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau, float *work, const int *lwork,
             int *info);
void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda, const float *tau, float *work,
             const int *lwork, int *info);

/* Q (m x n, column-major in a) and the signs of R's diagonal, for a tall
 * matrix already in a; sgeqrf then sorgqr with a workspace query each. */
static int thin_q(float *a, int m, int n, float *signs, gan_error *err) {
    float *tau = malloc((size_t)n * sizeof *tau), query = 0;
    int info = 0, lwork = -1;
    if (!tau) return gan_fail(err, "out of memory in orthogonal init");
    sgeqrf_(&m, &n, a, &m, tau, &query, &lwork, &info);
    lwork = (int)query > n ? (int)query : n;
    float *work = malloc((size_t)lwork * sizeof *work);
    if (!work) {
        free(tau);
        return gan_fail(err, "out of memory in orthogonal init");
    }
    sgeqrf_(&m, &n, a, &m, tau, work, &lwork, &info);
    for (int j = 0; j < n && info == 0; j++) {
        float d = a[j + (int64_t)j * m];
        signs[j] = d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f; /* torch's sign(): 0 stays 0 */
    }
    if (info == 0) sorgqr_(&m, &n, &n, a, &m, tau, work, &lwork, &info);
    free(work);
    free(tau);
    return info == 0 ? 0 : gan_fail(err, "orthogonal init: LAPACK failed (info %d)", info);
}

int gan_orthogonal_from_normal(const float *normal, int64_t rows, int64_t cols, float *out, gan_error *err) {
    int wide = rows < cols;
    int64_t m = wide ? cols : rows, n = wide ? rows : cols;
    if (m > INT_MAX || n > INT_MAX || m * n > INT_MAX) return gan_fail(err, "orthogonal init: matrix too large");
    float *a = malloc((size_t)(m * n) * sizeof *a), *signs = malloc((size_t)n * sizeof *signs);
    int rc = (a && signs) ? 0 : gan_fail(err, "out of memory in orthogonal init");
    /* The tall matrix M (the draws, or their transpose), column-major. */
    for (int64_t i = 0; rc == 0 && i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            int64_t mi = wide ? j : i, mj = wide ? i : j;
            a[mi + mj * m] = normal[i * cols + j];
        }
    if (rc == 0) rc = thin_q(a, (int)m, (int)n, signs, err);
    for (int64_t i = 0; rc == 0 && i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            int64_t mi = wide ? j : i, mj = wide ? i : j;
            out[i * cols + j] = a[mi + mj * m] * signs[mj];
        }
    free(a);
    free(signs);
    return rc;
}
