/* Minibatch standard deviation (the discriminator's epilogue) on the GPU,
 * with its backward pass and the forward-mode pair R1 needs, as
 * gan/cpu/mbstd.c. Sample n = g*M + m belongs to group m; each group gets,
 * per feature set f, the mean over its c = C/F channels and all pixels of
 * the standard deviation across the group's G samples.
 *
 * One block per (group m, feature f): its threads split the c*H*W offsets
 * between them, each computing the statistics across the group at its
 * offsets in double as the CPU does, and the block sums the partial results
 * (cuda_block_sum, in double). Every element of x belongs to exactly one
 * (m, f, offset), so the gradients are written without races. */
#include "cuda.h"

namespace {

struct mbstd_shape {
    int64_t n, c, plane;                      /* samples, channels, H*W */
    int group, features, per_feature, groups; /* G, F, c = C/F, M = N/G */
    int64_t in_sample, out_sample;            /* C*H*W and (C+F)*H*W */
    int64_t count;                            /* c*H*W: the offsets one statistic averages */
};

mbstd_shape shape_of(const gan_tensor *x, const gan_mbstd_args *a) {
    mbstd_shape s{};
    s.n = x->shape[0], s.c = x->shape[1], s.plane = x->shape[2] * x->shape[3];
    s.group = a->group_size < s.n ? a->group_size : (int)s.n;
    s.features = a->num_channels;
    s.per_feature = (int)(s.c / s.features);
    s.groups = (int)(s.n / s.group);
    s.in_sample = s.c * s.plane, s.out_sample = (s.c + s.features) * s.plane;
    s.count = (int64_t)s.per_feature * s.plane;
    return s;
}

/* Where x holds sample g of group m at offset `at` within a sample. */
__device__ inline int64_t member_index(const mbstd_shape &s, int g, int m, int64_t at) {
    return ((int64_t)g * s.groups + m) * s.in_sample + at;
}

/* The mean and standard deviation across group m at offset `at`. */
__device__ void group_stats(const float *x, const mbstd_shape &s, int m, int64_t at, double *mean, double *sigma) {
    double sum = 0, sq = 0;
    for (int g = 0; g < s.group; g++) sum += x[member_index(s, g, m, at)];
    *mean = sum / s.group;
    for (int g = 0; g < s.group; g++) {
        double d = x[member_index(s, g, m, at)] - *mean;
        sq += d * d;
    }
    *sigma = sqrt(sq / s.group + 1e-8);
}

/* Statistic channel f of every sample of group m set to v (the block's threads share the work). */
__device__ void fill_statistic(float *y, const mbstd_shape &s, int m, int f, float v) {
    for (int64_t e = threadIdx.x; e < s.group * s.plane; e += blockDim.x) {
        int64_t n = m + (e / s.plane) * s.groups, j = e % s.plane;
        y[n * s.out_sample + (s.c + f) * s.plane + j] = v;
    }
}

/* The gradient of statistic channel f summed over group m's samples and
 * pixels: the gradient of that group's statistic. Returned to every thread. */
__device__ double statistic_grad_sum(const float *dy, const mbstd_shape &s, int m, int f) {
    double sum = 0;
    for (int64_t e = threadIdx.x; e < s.group * s.plane; e += blockDim.x) {
        int64_t n = m + (e / s.plane) * s.groups, j = e % s.plane;
        sum += dy[n * s.out_sample + (s.c + f) * s.plane + j];
    }
    return cuda_block_sum(sum);
}

/* The item loops below run over blocks: every thread of a block takes the
 * same trips, as cuda_block_sum's barriers require. */

__global__ void mbstd_kernel(float *y, const float *x, mbstd_shape s) {
    for (int q = blockIdx.x; q < s.groups * s.features; q += gridDim.x) {
        int m = q / s.features, f = q % s.features;
        int64_t first = f * s.count;
        double total = 0;
        for (int64_t at = first + threadIdx.x; at < first + s.count; at += blockDim.x) {
            double mean, sigma;
            group_stats(x, s, m, at, &mean, &sigma);
            total += sigma;
        }
        total = cuda_block_sum(total);
        fill_statistic(y, s, m, f, (float)(total / (double)s.count));
    }
}

/* dx = dy[:, :C] + dv * (x_g - mean) / (G * sigma * count). */
__global__ void mbstd_backward_kernel(float *dx, const float *dy, const float *x, mbstd_shape s) {
    for (int q = blockIdx.x; q < s.groups * s.features; q += gridDim.x) {
        int m = q / s.features, f = q % s.features;
        double dv = statistic_grad_sum(dy, s, m, f);
        double scale = dv / ((double)s.group * (double)s.count);
        int64_t first = f * s.count;
        for (int64_t at = first + threadIdx.x; at < first + s.count; at += blockDim.x) {
            double mean, sigma;
            group_stats(x, s, m, at, &mean, &sigma);
            for (int g = 0; g < s.group; g++) {
                int64_t i = member_index(s, g, m, at), n = (int64_t)g * s.groups + m;
                dx[i] = dy[n * s.out_sample + at] + (float)(scale * (x[i] - mean) / sigma);
            }
        }
    }
}

/* The statistic's tangent: mean over the offsets of sum_g (x_g - mean) t_g / (G sigma). */
__global__ void mbstd_jvp_kernel(float *y, const float *x, const float *t, mbstd_shape s) {
    for (int q = blockIdx.x; q < s.groups * s.features; q += gridDim.x) {
        int m = q / s.features, f = q % s.features;
        int64_t first = f * s.count;
        double total = 0;
        for (int64_t at = first + threadIdx.x; at < first + s.count; at += blockDim.x) {
            double mean, sigma, dot = 0;
            group_stats(x, s, m, at, &mean, &sigma);
            for (int g = 0; g < s.group; g++) {
                int64_t i = member_index(s, g, m, at);
                dot += (x[i] - mean) * t[i];
            }
            total += dot / (s.group * sigma);
        }
        total = cuda_block_sum(total);
        fill_statistic(y, s, m, f, (float)(total / (double)s.count));
    }
}

/* dx_k = lambda / (count G) * ((t_k - mean(t)) / sigma - S a_k / (G sigma^3)),
 * a_k = x_k - mean, S = sum_g a_g t_g (see gan/cpu/mbstd.c). */
__global__ void mbstd_jvp_backward_x_kernel(float *dx, const float *dy, const float *x, const float *t,
                                            mbstd_shape s) {
    for (int q = blockIdx.x; q < s.groups * s.features; q += gridDim.x) {
        int m = q / s.features, f = q % s.features;
        double lambda = statistic_grad_sum(dy, s, m, f);
        double scale = lambda / ((double)s.count * s.group);
        int64_t first = f * s.count;
        for (int64_t at = first + threadIdx.x; at < first + s.count; at += blockDim.x) {
            double mean, sigma, t_mean = 0, dot = 0;
            group_stats(x, s, m, at, &mean, &sigma);
            for (int g = 0; g < s.group; g++) {
                int64_t i = member_index(s, g, m, at);
                t_mean += t[i];
                dot += (x[i] - mean) * t[i];
            }
            t_mean /= s.group;
            double s3 = s.group * sigma * sigma * sigma;
            for (int g = 0; g < s.group; g++) {
                int64_t i = member_index(s, g, m, at);
                dx[i] = (float)(scale * ((t[i] - t_mean) / sigma - dot * (x[i] - mean) / s3));
            }
        }
    }
}

/* One block per (m, f), capped: the kernels loop over the rest. */
unsigned item_blocks(const mbstd_shape &s) {
    int64_t items = (int64_t)s.groups * s.features;
    return (unsigned)(items < 1 ? 1 : items > (1 << 20) ? (1 << 20) : items);
}

/* dst [N, C + F, H, W] gets src [N, C, H, W] in its first C channels. */
int copy_channels(gan_ctx *ctx, float *dst, const float *src, const mbstd_shape &s) {
    if (s.in_sample == 0) return 0;
    size_t row = (size_t)s.in_sample * sizeof(float), pitch = (size_t)s.out_sample * sizeof(float);
    return cuda_check(ctx,
                      cudaMemcpy2DAsync(dst, pitch, src, row, row, (size_t)s.n, cudaMemcpyDeviceToDevice,
                                        cuda_stream(ctx)),
                      "mbstd copy");
}

}  // namespace

int cuda_mbstd(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_mbstd_args *a) {
    if (y->numel == 0) return 0;
    mbstd_shape s = shape_of(x, a);
    if (copy_channels(ctx, y->data, x->data, s) != 0) return -1;
    mbstd_kernel<<<item_blocks(s), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, s);
    return cuda_launched(ctx, "mbstd");
}

int cuda_mbstd_backward(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                        const gan_mbstd_args *a) {
    if (dx->numel == 0) return 0;
    mbstd_shape s = shape_of(x, a);
    mbstd_backward_kernel<<<item_blocks(s), CUDA_THREADS, 0, cuda_stream(ctx)>>>(dx->data, dy->data, x->data, s);
    return cuda_launched(ctx, "mbstd_backward");
}

int cuda_mbstd_jvp(gan_ctx *ctx, gan_tensor *y, const gan_tensor *x, const gan_tensor *t, const gan_mbstd_args *a) {
    if (y->numel == 0) return 0;
    mbstd_shape s = shape_of(x, a);
    if (copy_channels(ctx, y->data, t->data, s) != 0) return -1;
    mbstd_jvp_kernel<<<item_blocks(s), CUDA_THREADS, 0, cuda_stream(ctx)>>>(y->data, x->data, t->data, s);
    return cuda_launched(ctx, "mbstd_jvp");
}

int cuda_mbstd_jvp_backward_x(gan_ctx *ctx, gan_tensor *dx, const gan_tensor *dy, const gan_tensor *x,
                              const gan_tensor *t, const gan_mbstd_args *a) {
    if (dx->numel == 0) return 0;
    mbstd_shape s = shape_of(x, a);
    mbstd_jvp_backward_x_kernel<<<item_blocks(s), CUDA_THREADS, 0, cuda_stream(ctx)>>>(dx->data, dy->data, x->data,
                                                                                       t->data, s);
    return cuda_launched(ctx, "mbstd_jvp_backward_x");
}
