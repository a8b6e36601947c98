/* Random numbers.
 *
 * gan_randomstate: NumPy's legacy numpy.random.RandomState, bit-exact:
 * MT19937 seeded by init_genrand(seed), doubles from two 32-bit draws
 * ((a >> 5) * 2^26 + (b >> 6)) / 2^53, normals by the Marsaglia polar method
 * with the second value of each pair cached (legacy_gauss). This is what
 * `--seeds 42` means in the reference generate.py, so z vectors match.
 *
 * gan_philox: a counter-based generator (Philox4x32-10) for noise, weight
 * initialisation and augmentation. Element i of stream (seed, offset) depends
 * only on (seed, offset + i), so any backend or thread split produces the same
 * numbers; the CUDA backend implements the same function. */
#ifndef GAN_RNG_H
#define GAN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct gan_randomstate {
    uint32_t mt[624];
    int index;
    int has_gauss;
    double gauss;
} gan_randomstate;

void gan_randomstate_seed(gan_randomstate *rs, uint32_t seed);
uint32_t gan_randomstate_u32(gan_randomstate *rs);
double gan_randomstate_double(gan_randomstate *rs); /* [0, 1) as random_sample() */
double gan_randomstate_gauss(gan_randomstate *rs);  /* as standard_normal() */
/* RandomState(seed).randn(n) */
void gan_randomstate_randn(gan_randomstate *rs, double *out, size_t n);
/* n normal draws, each redrawn from the stream while beyond +-threshold (the
 * truncated normal of BigGAN's truncation trick; threshold <= 0: none). */
void gan_randomstate_truncated_randn(gan_randomstate *rs, double *out, size_t n, double threshold);
/* RandomState(seed).randint(low, high) (high exclusive, 0 < high - low <= 2^32):
 * legacy masked rejection, each try one 32-bit draw & the
 * smallest all-ones mask covering high - 1 - low, rejected while above it. */
int64_t gan_randomstate_randint(gan_randomstate *rs, int64_t low, int64_t high);

/* Philox4x32-10: encrypts counter ctr (4 words) with key (2 words). */
void gan_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Standard normal number i of stream (seed, offset + i) for i in [0, n):
 * counter c = (offset + i) / 4 as words {c lo, c hi, 0, 0}, key {seed lo, seed hi};
 * its four outputs u0..u3 become uniforms in (0, 1] as (u + 1) * 2^-32 (in
 * double), and two Box-Muller pairs: r = sqrt(-2 ln a), lane 0 = r cos(2 pi b),
 * lane 1 = r sin(2 pi b) from (a, b) = (u0, u1); lanes 2, 3 likewise from (u2, u3).
 * Element i takes lane (offset + i) % 4. Computed in double, rounded to float. */
void gan_philox_normal(uint64_t seed, uint64_t offset, float *out, size_t n);
/* Uniform floats in [0, 1): lane value u * 2^-32 (in double), same indexing.
 * The few u (>= 2^32 - 128) whose value rounds to 1.0f give the largest float
 * below 1, 1 - 2^-24, instead, so that 1 is never returned. */
void gan_philox_uniform(uint64_t seed, uint64_t offset, float *out, size_t n);

#endif
