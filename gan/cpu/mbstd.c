/* Minibatch standard deviation (the discriminator's epilogue) on the CPU.
 * Sample n = g*M + m belongs to group m (groups are strided); each group
 * gets, per feature set f, the mean over its c = C/F channels and all pixels
 * of the standard deviation across the group's G samples. */
#include <math.h>
#include <string.h>

#include "cpu.h"

typedef struct mbstd_shape {
    int64_t n, c, plane; /* samples, channels, H*W */
    int group, features, per_feature, groups; /* G, F, c = C/F, M = N/G */
} mbstd_shape;

static mbstd_shape shape_of(const gan_tensor *x, const gan_mbstd_args *a) {
    mbstd_shape s = {x->shape[0], x->shape[1], x->shape[2] * x->shape[3], 0, a->num_channels, 0, 0};
    s.group = a->group_size < s.n ? a->group_size : (int)s.n;
    s.per_feature = (int)(s.c / s.features);
    s.groups = (int)(s.n / s.group);
    return s;
}

/* The mean and standard deviation across the group at one (channel, pixel)
 * offset `at`, for group m. */
static void group_stats(const float *x, const mbstd_shape *s, int m, int64_t at, double *mean, double *sigma) {
    double sum = 0, sq = 0;
    for (int g = 0; g < s->group; g++) sum += x[((int64_t)g * s->groups + m) * s->c * s->plane + at];
    *mean = sum / s->group;
    for (int g = 0; g < s->group; g++) {
        double d = x[((int64_t)g * s->groups + m) * s->c * s->plane + at] - *mean;
        sq += d * d;
    }
    *sigma = sqrt(sq / s->group + 1e-8);
}

/* dst [N, C + F, H, W] gets src [N, C, H, W] in its first C channels. */
static void copy_channels(float *dst, const float *src, const mbstd_shape *s) {
    int64_t in_sample = s->c * s->plane, out_sample = (s->c + s->features) * s->plane;
    for (int64_t n = 0; n < s->n; n++)
        memcpy(dst + n * out_sample, src + n * in_sample, (size_t)in_sample * sizeof(float));
}

/* Statistic channel f of every sample of group m set to v. */
static void fill_statistic(float *y, const mbstd_shape *s, int m, int f, float v) {
    int64_t out_sample = (s->c + s->features) * s->plane;
    for (int64_t n = m; n < s->n; n += s->groups) {
        float *dst = y + n * out_sample + (s->c + f) * s->plane;
        for (int64_t j = 0; j < s->plane; j++) dst[j] = v;
    }
}

/* The gradient of statistic channel f summed over the samples of group m
 * and the pixels: the gradient of that group's statistic. */
static double statistic_grad_sum(const float *dy, const mbstd_shape *s, int m, int f) {
    int64_t out_sample = (s->c + s->features) * s->plane;
    double sum = 0;
    for (int64_t n = m; n < s->n; n += s->groups) {
        const float *g = dy + n * out_sample + (s->c + f) * s->plane;
        for (int64_t j = 0; j < s->plane; j++) sum += g[j];
    }
    return sum;
}

int cpu_mbstd(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_mbstd_args *a) {
    mbstd_shape s = shape_of(x, a);
    copy_channels(y->data, x->data, &s);
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) collapse(2) schedule(static)
    for (int m = 0; m < s.groups; m++)
        for (int f = 0; f < s.features; f++) {
            double total = 0, mean, sigma;
            int64_t first = (int64_t)f * s.per_feature * s.plane, count = (int64_t)s.per_feature * s.plane;
            for (int64_t at = first; at < first + count; at++) {
                group_stats(x->data, &s, m, at, &mean, &sigma);
                total += sigma;
            }
            fill_statistic(y->data, &s, m, f, (float)(total / (double)count));
        }
    return 0;
}

/* dx = dy[:, :C] + the statistic's share: with v = mean(sigma) over count
 * entries and sigma = sqrt(mean_g (x_g - mean)^2 + 1e-8),
 * d v / d x_g = (x_g - mean) / (G * sigma * count). */
int cpu_mbstd_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                       const gan_mbstd_args *a) {
    mbstd_shape s = shape_of(x, a);
    int64_t in_sample = s.c * s.plane, out_sample = (s.c + s.features) * s.plane;
    for (int64_t n = 0; n < s.n; n++)
        memcpy(dx->data + n * in_sample, dy->data + n * out_sample, (size_t)in_sample * sizeof(float));
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) collapse(2) schedule(static)
    for (int m = 0; m < s.groups; m++)
        for (int f = 0; f < s.features; f++) {
            double dv = statistic_grad_sum(dy->data, &s, m, f);
            int64_t first = (int64_t)f * s.per_feature * s.plane, count = (int64_t)s.per_feature * s.plane;
            double scale = dv / ((double)s.group * (double)count);
            for (int64_t at = first; at < first + count; at++) {
                double mean, sigma;
                group_stats(x->data, &s, m, at, &mean, &sigma);
                for (int g = 0; g < s.group; g++) {
                    int64_t i = ((int64_t)g * s.groups + m) * in_sample + at;
                    dx->data[i] += (float)(scale * (x->data[i] - mean) / sigma);
                }
            }
        }
    return 0;
}

/* The forward-mode derivative along t: y_t = (t, v_t) with
 * v_t = mean over the group's entries of sum_g (x_g - mean) t_g / (G sigma). */
int cpu_mbstd_jvp(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *t, const gan_mbstd_args *a) {
    mbstd_shape s = shape_of(x, a);
    int64_t in_sample = s.c * s.plane;
    copy_channels(y->data, t->data, &s);
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) collapse(2) schedule(static)
    for (int m = 0; m < s.groups; m++)
        for (int f = 0; f < s.features; f++) {
            int64_t first = (int64_t)f * s.per_feature * s.plane, count = (int64_t)s.per_feature * s.plane;
            double total = 0;
            for (int64_t at = first; at < first + count; at++) {
                double mean, sigma, dot = 0;
                group_stats(x->data, &s, m, at, &mean, &sigma);
                for (int g = 0; g < s.group; g++) {
                    int64_t i = ((int64_t)g * s.groups + m) * in_sample + at;
                    dot += (x->data[i] - mean) * t->data[i];
                }
                total += dot / (s.group * sigma);
            }
            fill_statistic(y->data, &s, m, f, (float)(total / (double)count));
        }
    return 0;
}

/* The gradient with respect to x of <dy, mbstd_jvp(x, t)> (t held fixed):
 * the statistic's tangent depends on x through (x_g - mean) and sigma. With
 * a_g = x_g - mean, S = sum_g a_g t_g and lambda the summed gradient of the
 * group's statistic channel,
 *   dx_k = lambda / (count G) * ((t_k - mean(t)) / sigma - S a_k / (G sigma^3)). */
int cpu_mbstd_jvp_backward_x(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                             const gan_tensor *t, const gan_mbstd_args *a) {
    mbstd_shape s = shape_of(x, a);
    int64_t in_sample = s.c * s.plane;
    memset(dx->data, 0, (size_t)dx->numel * sizeof(float));
#pragma omp parallel for num_threads(ctx->threads) if (x->numel > CPU_PARALLEL_MIN) collapse(2) schedule(static)
    for (int m = 0; m < s.groups; m++)
        for (int f = 0; f < s.features; f++) {
            double lambda = statistic_grad_sum(dy->data, &s, m, f);
            int64_t first = (int64_t)f * s.per_feature * s.plane, count = (int64_t)s.per_feature * s.plane;
            double scale = lambda / ((double)count * s.group);
            for (int64_t at = first; at < first + count; at++) {
                double mean, sigma, t_mean = 0, dot = 0;
                group_stats(x->data, &s, m, at, &mean, &sigma);
                for (int g = 0; g < s.group; g++) {
                    int64_t i = ((int64_t)g * s.groups + m) * in_sample + at;
                    t_mean += t->data[i];
                    dot += (x->data[i] - mean) * t->data[i];
                }
                t_mean /= s.group;
                double s3 = s.group * sigma * sigma * sigma;
                for (int g = 0; g < s.group; g++) {
                    int64_t i = ((int64_t)g * s.groups + m) * in_sample + at;
                    dx->data[i] += (float)(scale * ((t->data[i] - t_mean) / sigma - dot * (x->data[i] - mean) / s3));
                }
            }
        }
    return 0;
}
