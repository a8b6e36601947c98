/* The sliced Wasserstein distance; swd.h states the method and its random
 * streams, tools/reference/swd.py is the NumPy statement it is tested
 * against (tests/test_swd.c). */
#include "swd.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../rng.h"

/* Descriptors of one set of images: per level, [images][nhoods][dim] floats. */
typedef struct descriptor_set {
    int images, capacity;
    float *desc[GAN_SWD_MAX_LEVELS];
    uint32_t seed;
    gan_randomstate places; /* where the next image's neighbourhoods go */
    int normalised;         /* set by compute; the descriptors were scaled in place */
} descriptor_set;

struct gan_swd {
    gan_swd_params p;
    int channels, resolution, levels;
    int size[GAN_SWD_MAX_LEVELS]; /* side of each level, finest first */
    int dim;                      /* nhood_size^2 * channels */
    int threads;
    descriptor_set reals, fakes;
};

/* ------------------------------------------------------------ the pyramid */

/* The 1-D factor of the 5x5 binomial kernel of cv2.pyrDown / the original's
 * gaussian_filter: outer([1 4 6 4 1], [1 4 6 4 1]) / 256. */
static const float binomial5[5] = {1.0f / 16, 4.0f / 16, 6.0f / 16, 4.0f / 16, 1.0f / 16};

/* scipy.ndimage's 'mirror' border (d c b | a b c d | c b a), valid for a
 * kernel radius of 2 on sides of at least 3. */
static inline int mirror(int i, int n) {
    if (i < 0) return -i;
    if (i >= n) return 2 * n - 2 - i;
    return i;
}

/* Blur with the binomial kernel and keep even rows and columns: one plane
 * of side n into one of side n / 2. tmp holds n * n / 2 floats. */
static void pyr_down_plane(const float *src, int n, float *dst, float *tmp) {
    int half = n / 2;
    for (int y = 0; y < n; y++)
        for (int j = 0; j < half; j++) {
            float s = 0;
            for (int t = 0; t < 5; t++) s += binomial5[t] * src[(size_t)y * n + mirror(2 * j + t - 2, n)];
            tmp[(size_t)y * half + j] = s;
        }
    for (int i = 0; i < half; i++)
        for (int j = 0; j < half; j++) {
            float s = 0;
            for (int t = 0; t < 5; t++) s += binomial5[t] * tmp[(size_t)mirror(2 * i + t - 2, n) * half + j];
            dst[(size_t)i * half + j] = s;
        }
}

/* cv2.pyrUp as the original states it: zeros inserted between the pixels
 * of a plane of side n, then a blur with 4 times the kernel (the factor is
 * 2 per axis) on the side 2n, mirrored. Only even rows and columns of the
 * zero-filled plane are nonzero, so only those taps are summed. Subtracts
 * the result from dst (side 2n): the Laplacian level. tmp: 2n * n floats. */
static void pyr_up_subtract_plane(const float *src, int n, float *dst, float *tmp) {
    int m = 2 * n;
    for (int i = 0; i < n; i++) /* even rows 2i of the horizontally blurred plane */
        for (int x = 0; x < m; x++) {
            float s = 0;
            for (int t = 0; t < 5; t++) {
                int xx = mirror(x + t - 2, m);
                if (!(xx & 1)) s += 2 * binomial5[t] * src[(size_t)i * n + xx / 2];
            }
            tmp[(size_t)i * m + x] = s;
        }
    for (int y = 0; y < m; y++)
        for (int x = 0; x < m; x++) {
            float s = 0;
            for (int t = 0; t < 5; t++) {
                int yy = mirror(y + t - 2, m);
                if (!(yy & 1)) s += 2 * binomial5[t] * tmp[(size_t)(yy / 2) * m + x];
            }
            dst[(size_t)y * m + x] -= s;
        }
}

/* levels[l] holds channels planes of side size[l]. On return levels[0 ..
 * L-2] are Laplacian (band-pass) levels and levels[L-1] the low-pass rest. */
static void laplacian_pyramid(const gan_swd *swd, const uint8_t *image, float **levels, float *tmp) {
    int c = swd->channels;
    size_t plane0 = (size_t)swd->resolution * swd->resolution;
    for (size_t i = 0; i < plane0 * c; i++) levels[0][i] = image[i];
    for (int l = 1; l < swd->levels; l++) {
        int n = swd->size[l - 1];
        size_t fine = (size_t)n * n, coarse = fine / 4;
        for (int ch = 0; ch < c; ch++) pyr_down_plane(levels[l - 1] + ch * fine, n, levels[l] + ch * coarse, tmp);
        for (int ch = 0; ch < c; ch++)
            pyr_up_subtract_plane(levels[l] + ch * coarse, n / 2, levels[l - 1] + ch * fine, tmp);
    }
}

/* ------------------------------------------------------------ descriptors */

/* One neighbourhood: [channel][dy][dx] around (x, y). */
static void cut_descriptor(const float *level, int channels, int size, int nhood, int x, int y, float *out) {
    int h = nhood / 2;
    for (int ch = 0; ch < channels; ch++)
        for (int dy = 0; dy < nhood; dy++) {
            const float *row = level + ((size_t)ch * size + (y - h + dy)) * size + (x - h);
            memcpy(out, row, (size_t)nhood * sizeof *out);
            out += nhood;
        }
}

/* Draws, for count images in order, each level's nhoods x then nhoods y in
 * [h, size - h) as RandomState.randint does: [count][levels][2][nhoods]. */
static void draw_places(gan_swd *swd, descriptor_set *set, int count, int16_t *places) {
    int nh = swd->p.nhoods_per_image, h = swd->p.nhood_size / 2;
    for (int i = 0; i < count; i++)
        for (int l = 0; l < swd->levels; l++)
            for (int axis = 0; axis < 2; axis++)
                for (int j = 0; j < nh; j++)
                    *places++ = (int16_t)gan_randomstate_randint(&set->places, h, swd->size[l] - h);
}

static int reserve(gan_swd *swd, descriptor_set *set, int images, gan_error *err) {
    if (images <= set->capacity) return 0;
    int capacity = set->capacity ? set->capacity : 64;
    while (capacity < images) capacity = capacity > (1 << 29) ? images : capacity * 2;
    size_t per_image = (size_t)swd->p.nhoods_per_image * swd->dim * sizeof(float);
    for (int l = 0; l < swd->levels; l++) {
        float *grown = realloc(set->desc[l], per_image * capacity);
        if (!grown) return gan_fail(err, "out of memory for the descriptors of %d images", images);
        set->desc[l] = grown;
    }
    set->capacity = capacity;
    return 0;
}

/* Scratch of one thread: every pyramid level plus a blur buffer. */
static size_t pyramid_floats(const gan_swd *swd) {
    size_t total = (size_t)swd->resolution * swd->resolution; /* tmp */
    for (int l = 0; l < swd->levels; l++) total += (size_t)swd->channels * swd->size[l] * swd->size[l];
    return total;
}

static void describe_image(const gan_swd *swd, const uint8_t *image, const int16_t *places, float *scratch,
                           float *const *out) {
    float *levels[GAN_SWD_MAX_LEVELS];
    float *next = scratch + (size_t)swd->resolution * swd->resolution;
    for (int l = 0; l < swd->levels; l++) {
        levels[l] = next;
        next += (size_t)swd->channels * swd->size[l] * swd->size[l];
    }
    laplacian_pyramid(swd, image, levels, scratch);
    int nh = swd->p.nhoods_per_image;
    for (int l = 0; l < swd->levels; l++) {
        const int16_t *xs = places + (size_t)l * 2 * nh, *ys = xs + nh;
        for (int j = 0; j < nh; j++)
            cut_descriptor(levels[l], swd->channels, swd->size[l], swd->p.nhood_size, xs[j], ys[j],
                           out[l] + (size_t)j * swd->dim);
    }
}

static int add_images(gan_swd *swd, descriptor_set *set, const char *what, const uint8_t *images, int count,
                      gan_error *err) {
    if (set->normalised)
        return gan_fail(err, "SWD: %s added after a compute (%s)", what,
                        set == &swd->reals ? "add every real first" : "clear the fakes first");
    if (count < 0 || (count > 0 && !images)) return gan_fail(err, "SWD: bad batch of %d %s", count, what);
    if (count == 0) return 0;
    if (count > 0x7fffffff - set->images) return gan_fail(err, "SWD: too many %s", what);
    if (reserve(swd, set, set->images + count, err) != 0) return -1;
    size_t per_place = (size_t)swd->levels * 2 * swd->p.nhoods_per_image;
    int16_t *places = malloc((size_t)count * per_place * sizeof *places);
    size_t scratch_floats = pyramid_floats(swd);
    float *scratch = malloc((size_t)swd->threads * scratch_floats * sizeof *scratch);
    if (!places || !scratch) {
        free(places);
        free(scratch);
        return gan_fail(err, "out of memory");
    }
    draw_places(swd, set, count, places);
    size_t image_bytes = (size_t)swd->channels * swd->resolution * swd->resolution;
    size_t desc_per_image = (size_t)swd->p.nhoods_per_image * swd->dim;
#pragma omp parallel for num_threads(swd->threads) schedule(dynamic, 1)
    for (int i = 0; i < count; i++) {
        float *out[GAN_SWD_MAX_LEVELS];
        for (int l = 0; l < swd->levels; l++) out[l] = set->desc[l] + (size_t)(set->images + i) * desc_per_image;
        describe_image(swd, images + i * image_bytes, places + i * per_place,
                       scratch + (size_t)omp_get_thread_num() * scratch_floats, out);
    }
    set->images += count;
    free(places);
    free(scratch);
    return 0;
}

/* finalize_descriptors of the original: per channel, subtract the mean and
 * divide by the (population) standard deviation over every descriptor of
 * the level. Sums go by fixed chunks in a fixed order, so the result does
 * not depend on the thread count. */
enum { NORM_CHUNK = 4096 };

/* Below this variance (in squared pixel levels) a channel counts as constant. */
#define CONSTANT_VARIANCE 1e-12

static int normalise_level(const gan_swd *swd, float *desc, size_t count, gan_error *err) {
    int channels = swd->channels, per_channel = swd->p.nhood_size * swd->p.nhood_size;
    size_t chunks = (count + NORM_CHUNK - 1) / NORM_CHUNK;
    double *partial = calloc(chunks * channels, sizeof *partial);
    if (!partial) return gan_fail(err, "out of memory");
    double mean[4] = {0}, scale[4] = {0};
    for (int pass = 0; pass < 2; pass++) { /* sums, then squared deviations */
#pragma omp parallel for num_threads(swd->threads) schedule(static)
        for (size_t k = 0; k < chunks; k++) {
            size_t end = (k + 1) * NORM_CHUNK < count ? (k + 1) * NORM_CHUNK : count;
            for (int ch = 0; ch < channels; ch++) {
                double s = 0;
                for (size_t i = k * NORM_CHUNK; i < end; i++) {
                    const float *v = desc + i * swd->dim + ch * per_channel;
                    for (int j = 0; j < per_channel; j++) {
                        double d = pass == 0 ? v[j] : v[j] - mean[ch];
                        s += pass == 0 ? d : d * d;
                    }
                }
                partial[k * channels + ch] = s;
            }
        }
        for (int ch = 0; ch < channels; ch++) {
            double s = 0;
            for (size_t k = 0; k < chunks; k++) s += partial[k * channels + ch];
            s /= (double)count * per_channel;
            if (pass == 0)
                mean[ch] = s;
            else
                scale[ch] = s > CONSTANT_VARIANCE ? 1 / sqrt(s) : 1; /* a constant channel: centred only */
        }
    }
    free(partial);
#pragma omp parallel for num_threads(swd->threads) schedule(static)
    for (size_t i = 0; i < count; i++)
        for (int ch = 0; ch < channels; ch++) {
            float *v = desc + i * swd->dim + ch * per_channel;
            for (int j = 0; j < per_channel; j++) v[j] = (float)((v[j] - mean[ch]) * scale[ch]);
        }
    return 0;
}

static int normalise_set(const gan_swd *swd, descriptor_set *set, gan_error *err) {
    if (set->normalised) return 0;
    for (int l = 0; l < swd->levels; l++)
        if (normalise_level(swd, set->desc[l], (size_t)set->images * swd->p.nhoods_per_image, err) != 0) return -1;
    set->normalised = 1;
    return 0;
}

/* ------------------------------------------------------------ sorting */

/* Floats ordered as unsigned integers: flip every bit of negatives, only the
 * sign bit of the rest. */
static inline uint32_t float_key(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u ^ ((u >> 31) ? 0xffffffffu : 0x80000000u);
}

static inline float key_float(uint32_t k) {
    uint32_t u = k ^ ((k >> 31) ? 0x80000000u : 0xffffffffu);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* LSD radix sort of n floats as keys into out, in three passes of 11, 11 and
 * 10 bits (tmp: n keys). Sorting dominates the metric: qsort is 5-10 times
 * slower on these sizes. */
static void sort_keys(const float *in, size_t n, uint32_t *out, uint32_t *tmp) {
    enum { BITS = 11, BUCKETS = 1 << BITS };
    static const int shift[3] = {0, 11, 22};
    size_t count[3][BUCKETS];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = float_key(in[i]);
        out[i] = k;
        for (int p = 0; p < 3; p++) count[p][(k >> shift[p]) & (BUCKETS - 1)]++;
    }
    for (int p = 0; p < 3; p++) {
        size_t sum = 0;
        for (int b = 0; b < BUCKETS; b++) {
            size_t c = count[p][b];
            count[p][b] = sum;
            sum += c;
        }
    }
    uint32_t *src = out, *dst = tmp; /* out -> tmp -> out -> tmp, then copy back */
    for (int p = 0; p < 3; p++) {
        for (size_t i = 0; i < n; i++) {
            uint32_t k = src[i];
            dst[count[p][(k >> shift[p]) & (BUCKETS - 1)]++] = k;
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    memcpy(out, src, n * sizeof *out); /* three passes end in tmp */
}

/* ------------------------------------------------------------ the distance */

/* randn(dim, k) as a row-major matrix, columns normalised to unit length in
 * double, then rounded to float; stored transposed, one direction per row. */
static void draw_directions(gan_randomstate *rs, int dim, int k, double *scratch, float *dirs_t) {
    gan_randomstate_randn(rs, scratch, (size_t)dim * k);
    for (int j = 0; j < k; j++) {
        double norm = 0;
        for (int d = 0; d < dim; d++) norm += scratch[(size_t)d * k + j] * scratch[(size_t)d * k + j];
        norm = sqrt(norm);
        for (int d = 0; d < dim; d++) dirs_t[(size_t)j * dim + d] = (float)(scratch[(size_t)d * k + j] / norm);
    }
}

typedef struct projection_work {
    size_t n;            /* descriptors per set */
    int block;           /* directions projected at once */
    float *proj_a, *proj_b; /* [block][n] */
    uint32_t *keys;      /* per thread: 3 * n */
    double *sums;        /* [block] */
} projection_work;

/* Sum over directions dirs_t[0 .. count) of sum_i |sort(a.dir)_i - sort(b.dir)_i|. */
static double project_and_compare(const gan_swd *swd, const float *a, const float *b, const float *dirs_t, int count,
                                  projection_work *w) {
    double total = 0;
    for (int k0 = 0; k0 < count; k0 += w->block) {
        int nb = count - k0 < w->block ? count - k0 : w->block;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, (int)w->n, swd->dim, 1.0f,
                    dirs_t + (size_t)k0 * swd->dim, swd->dim, a, swd->dim, 0.0f, w->proj_a, (int)w->n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, (int)w->n, swd->dim, 1.0f,
                    dirs_t + (size_t)k0 * swd->dim, swd->dim, b, swd->dim, 0.0f, w->proj_b, (int)w->n);
#pragma omp parallel for num_threads(swd->threads) schedule(dynamic, 1)
        for (int j = 0; j < nb; j++) {
            uint32_t *sa = w->keys + (size_t)omp_get_thread_num() * 3 * w->n, *sb = sa + w->n, *tmp = sb + w->n;
            sort_keys(w->proj_a + (size_t)j * w->n, w->n, sa, tmp);
            sort_keys(w->proj_b + (size_t)j * w->n, w->n, sb, tmp);
            double s = 0;
            for (size_t i = 0; i < w->n; i++) s += fabs((double)key_float(sa[i]) - (double)key_float(sb[i]));
            w->sums[j] = s;
        }
        for (int j = 0; j < nb; j++) total += w->sums[j]; /* fixed order: thread count does not matter */
    }
    return total;
}

/* Projections of up to this many floats per set are held at once. */
#define PROJECTION_BUDGET ((size_t)32 << 20)

static int alloc_work(const gan_swd *swd, size_t n, projection_work *w, gan_error *err) {
    int k = swd->p.dirs_per_repeat;
    size_t block = PROJECTION_BUDGET / n;
    if (block < (size_t)swd->threads) block = (size_t)swd->threads;
    if (block > (size_t)k) block = (size_t)k;
    w->n = n;
    w->block = (int)block;
    w->proj_a = malloc(block * n * sizeof(float));
    w->proj_b = malloc(block * n * sizeof(float));
    w->keys = malloc((size_t)swd->threads * 3 * n * sizeof(uint32_t));
    w->sums = malloc(block * sizeof(double));
    if (!w->proj_a || !w->proj_b || !w->keys || !w->sums) return gan_fail(err, "out of memory for SWD projections");
    return 0;
}

static void free_work(projection_work *w) {
    free(w->proj_a);
    free(w->proj_b);
    free(w->keys);
    free(w->sums);
}

int gan_swd_compute(gan_swd *swd, gan_swd_result *out, gan_error *err) {
    int n_img = swd->reals.images;
    if (n_img == 0) return gan_fail(err, "SWD: no real images");
    if (swd->fakes.images != n_img)
        return gan_fail(err, "SWD: needs as many fakes as reals (%d reals, %d fakes)", n_img, swd->fakes.images);
    size_t n = (size_t)n_img * swd->p.nhoods_per_image;
    if (n > 0x7fffffff) return gan_fail(err, "SWD: too many descriptors (%zu) for one projection", n);
    if (normalise_set(swd, &swd->reals, err) != 0 || normalise_set(swd, &swd->fakes, err) != 0) return -1;

    int dim = swd->dim, k = swd->p.dirs_per_repeat;
    projection_work w = {0};
    double *gauss = malloc((size_t)dim * k * sizeof *gauss);
    float *dirs_t = malloc((size_t)dim * k * sizeof *dirs_t);
    int rc = (!gauss || !dirs_t) ? gan_fail(err, "out of memory") : alloc_work(swd, n, &w, err);
    if (rc == 0) {
        gan_randomstate rs;
        gan_randomstate_seed(&rs, swd->p.seed + 2u);
        *out = (gan_swd_result){.levels = swd->levels};
        for (int l = 0; l < swd->levels; l++) {
            double total = 0;
            for (int r = 0; r < swd->p.dir_repeats; r++) {
                draw_directions(&rs, dim, k, gauss, dirs_t);
                total += project_and_compare(swd, swd->reals.desc[l], swd->fakes.desc[l], dirs_t, k, &w);
            }
            out->resolution[l] = swd->size[l];
            out->distance[l] = 1e3 * total / ((double)swd->p.dir_repeats * k * (double)n);
            out->average += out->distance[l] / swd->levels;
        }
    }
    free_work(&w);
    free(gauss);
    free(dirs_t);
    return rc;
}

/* ------------------------------------------------------------ the object */

static int is_power_of_two(long v) { return v > 0 && (v & (v - 1)) == 0; }

static int check_params(const gan_swd_params *p, int channels, int resolution, gan_error *err) {
    if (p->nhood_size < 1 || p->nhood_size % 2 == 0 || p->nhood_size > 63)
        return gan_fail(err, "SWD: neighbourhood size %d is not an odd number from 1 to 63", p->nhood_size);
    if (p->nhoods_per_image < 1 || p->nhoods_per_image > 65536)
        return gan_fail(err, "SWD: %d neighbourhoods per image (1 to 65536)", p->nhoods_per_image);
    if (p->dir_repeats < 1 || p->dirs_per_repeat < 1 || p->dirs_per_repeat > 65536 || p->dir_repeats > 65536)
        return gan_fail(err, "SWD: %d x %d directions (each 1 to 65536)", p->dir_repeats, p->dirs_per_repeat);
    if (!is_power_of_two(p->min_resolution) || p->min_resolution < 4 || p->min_resolution < p->nhood_size)
        return gan_fail(err, "SWD: coarsest level %d px is not a power of two of at least 4 and the neighbourhood",
                        p->min_resolution);
    if (channels < 1 || channels > 4) return gan_fail(err, "SWD: %d channels (1 to 4)", channels);
    if (!is_power_of_two(resolution) || resolution < p->min_resolution || resolution > 16384)
        return gan_fail(err, "SWD: image size %d is not a power of two from %d to 16384", resolution,
                        p->min_resolution);
    return 0;
}

gan_swd *gan_swd_new(const gan_swd_params *params, int channels, int resolution, gan_error *err) {
    if (check_params(params, channels, resolution, err) != 0) return NULL;
    int levels = 0;
    for (int r = resolution; r >= params->min_resolution; r /= 2) levels++;
    if (levels > GAN_SWD_MAX_LEVELS) {
        gan_fail(err, "SWD: %d pyramid levels from %d to %d px (at most %d)", levels, resolution,
                 params->min_resolution, GAN_SWD_MAX_LEVELS);
        return NULL;
    }
    gan_swd *swd = calloc(1, sizeof *swd);
    if (!swd) {
        gan_fail(err, "out of memory");
        return NULL;
    }
    swd->p = *params;
    swd->channels = channels;
    swd->resolution = resolution;
    swd->levels = levels;
    for (int l = 0; l < levels; l++) swd->size[l] = resolution >> l;
    swd->dim = params->nhood_size * params->nhood_size * channels;
    swd->threads = params->threads > 0 ? params->threads : omp_get_num_procs();
    swd->reals.seed = params->seed;
    swd->fakes.seed = params->seed + 1u;
    gan_randomstate_seed(&swd->reals.places, swd->reals.seed);
    gan_randomstate_seed(&swd->fakes.places, swd->fakes.seed);
    return swd;
}

static void free_set(descriptor_set *set) {
    for (int l = 0; l < GAN_SWD_MAX_LEVELS; l++) free(set->desc[l]);
}

void gan_swd_free(gan_swd *swd) {
    if (!swd) return;
    free_set(&swd->reals);
    free_set(&swd->fakes);
    free(swd);
}

int gan_swd_add_reals(gan_swd *swd, const uint8_t *images, int count, gan_error *err) {
    return add_images(swd, &swd->reals, "reals", images, count, err);
}

int gan_swd_add_fakes(gan_swd *swd, const uint8_t *images, int count, gan_error *err) {
    return add_images(swd, &swd->fakes, "fakes", images, count, err);
}

int gan_swd_num_reals(const gan_swd *swd) { return swd->reals.images; }
int gan_swd_num_fakes(const gan_swd *swd) { return swd->fakes.images; }
int gan_swd_channels(const gan_swd *swd) { return swd->channels; }
int gan_swd_resolution(const gan_swd *swd) { return swd->resolution; }

/* Keeps the memory for the next fakes, which are usually as many. */
void gan_swd_clear_fakes(gan_swd *swd) {
    swd->fakes.images = 0;
    swd->fakes.normalised = 0;
    gan_randomstate_seed(&swd->fakes.places, swd->fakes.seed);
}

void gan_swd_result_values(const gan_swd_result *result, gan_metric_results *out) {
    *out = (gan_metric_results){0};
    for (int l = 0; l < result->levels; l++) {
        char name[GAN_METRIC_NAME_LEN];
        snprintf(name, sizeof name, "swd_%d", result->resolution[l]);
        gan_metric_results_add(out, name, result->distance[l]);
    }
    gan_metric_results_add(out, "swd_avg", result->average);
}
