/* Sliced Wasserstein distance (SWD) between two sets of images, the metric
 * of Karras et al. 2018 (Progressive GAN, appendix D, and the
 * metrics/sliced_wasserstein.py of tkarras/progressive_growing_of_gans).
 *
 * Each image becomes a Laplacian pyramid (the 5x5 binomial kernel of
 * cv2.pyrDown, mirrored borders) from its full resolution down to 16 px; at
 * every level 128 neighbourhoods of 7x7 pixels are cut at random places, each
 * a descriptor of 7*7*channels values. Per level and per set, descriptors are
 * normalised per channel by the mean and standard deviation over all the
 * set's descriptors of that level. The distance of a level is the mean over
 * 4 x 128 random unit directions of the 1-D Wasserstein-1 distance between
 * the two sets' projections (mean absolute difference of the sorted
 * projections), times 1000 as the paper reports it; the average over levels
 * is the summary.
 *
 * Use: gan_swd_new, add reals (uint8 NCHW batches of any size), add fakes,
 * gan_swd_compute. The reals' descriptors are kept: gan_swd_clear_fakes then
 * new fakes and another compute measure another generator snapshot without
 * touching the real images again.
 *
 * Randomness (where dne differs from the original, which draws everything
 * from NumPy's global state in minibatch order): neighbourhood places come
 * from numpy.random.RandomState(seed) for the reals and RandomState(seed + 1)
 * for the fakes (restarted by gan_swd_clear_fakes), per image in the order
 * added: for each level, finest first, 128 x = randint(3, size - 3) then
 * 128 y likewise. So results do not depend on how the images are split into
 * batches. Directions come from RandomState(seed + 2), drawn afresh by every
 * compute, per level then per repeat: randn(7*7*channels, 128) as a
 * row-major matrix whose columns are normalised to unit length and rounded
 * to float. tools/reference/swd.py is the NumPy statement of all this. */
#ifndef GAN_METRICS_SWD_H
#define GAN_METRICS_SWD_H

#include <stdint.h>

#include "../error.h"
#include "metric_log.h"

#define GAN_SWD_MAX_LEVELS 8 /* 16 px .. 2048 px */

typedef struct gan_swd_params {
    int nhood_size;       /* 7: the side of a neighbourhood (odd) */
    int nhoods_per_image; /* 128 per image and level */
    int dir_repeats;      /* 4 ... */
    int dirs_per_repeat;  /* ... times 128 directions: 512 slices */
    int min_resolution;   /* 16: the coarsest level */
    uint32_t seed;        /* 0 */
    int threads;          /* OpenMP threads; <= 0: all cores */
} gan_swd_params;

/* The original's settings. */
#define GAN_SWD_DEFAULTS ((gan_swd_params){7, 128, 4, 128, 16, 0, 0})

typedef struct gan_swd_result {
    int levels;
    int resolution[GAN_SWD_MAX_LEVELS]; /* finest first: 64, 32, 16 */
    double distance[GAN_SWD_MAX_LEVELS]; /* SWD x 1e3 per level */
    double average;                      /* mean of the levels (x 1e3) */
} gan_swd_result;

typedef struct gan_swd gan_swd;

/* Images are square, resolution x resolution, a power of two at least
 * params->min_resolution; 1 to 4 channels. */
gan_swd *gan_swd_new(const gan_swd_params *params, int channels, int resolution, gan_error *err);
void gan_swd_free(gan_swd *swd);

/* count images, uint8, laid out [count][channels][resolution][resolution].
 * Memory: 4 * nhoods_per_image * nhood_size^2 * channels bytes per image and
 * level (75 KB for RGB with the defaults). Reals cannot be added after the
 * first compute (their descriptors are normalised in place by it), fakes
 * not after a compute until gan_swd_clear_fakes. */
int gan_swd_add_reals(gan_swd *swd, const uint8_t *images, int count, gan_error *err);
int gan_swd_add_fakes(gan_swd *swd, const uint8_t *images, int count, gan_error *err);
int gan_swd_num_reals(const gan_swd *swd);
int gan_swd_num_fakes(const gan_swd *swd);
int gan_swd_channels(const gan_swd *swd);
int gan_swd_resolution(const gan_swd *swd);
/* Forgets the fakes and restarts their random stream; the reals stay. */
void gan_swd_clear_fakes(gan_swd *swd);

/* The distance between the reals and the fakes, which must be as many as the
 * reals (as in the original, which compares equal-sized sets). A channel with
 * zero spread in a set (every pixel equal) is centred but not scaled, where
 * the original would divide by zero. */
int gan_swd_compute(gan_swd *swd, gan_swd_result *out, gan_error *err);

/* The result as named values for a metric-swd.jsonl line: swd_<res> per
 * level (swd_64, swd_32, swd_16) and swd_avg. */
void gan_swd_result_values(const gan_swd_result *result, gan_metric_results *out);

#endif
