/* Random numbers: NumPy's legacy RandomState (bit-exact) and Philox4x32-10.
 * See rng.h for the contracts; tests/test_rng.c checks them against NumPy and
 * Random123's known-answer vectors. */
#include "gan/rng.h"

#include <math.h>

/* Bit-exactness with NumPy needs x1*x1 + x2*x2 rounded twice, as NumPy's
 * generic x86-64 build does; a fused multiply-add would round once and shift
 * the accept/reject boundary and every normal after it. GCC contracts by
 * default outside strict ISO mode (and -march=native offers FMA), clang
 * within expressions, so switch contraction off for this file either way. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* After the pragmas, so that they cover the shared Philox code too. */
#include "gan/philox.h"

/* ------------------------------------------------------------ MT19937 */

enum { MT_N = 624, MT_M = 397 };

#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER_MASK 0x80000000u
#define MT_LOWER_MASK 0x7fffffffu

/* init_genrand, which is what NumPy's _legacy_seeding (mt19937_seed) does for
 * an integer seed; it also drops any cached gaussian, as NumPy does. */
void gan_randomstate_seed(gan_randomstate *rs, uint32_t seed) {
    rs->mt[0] = seed;
    for (uint32_t i = 1; i < MT_N; i++) {
        uint32_t prev = rs->mt[i - 1];
        rs->mt[i] = 1812433253u * (prev ^ (prev >> 30)) + i;
    }
    rs->index = MT_N;
    rs->has_gauss = 0;
    rs->gauss = 0.0;
}

static uint32_t mt_twist(uint32_t upper, uint32_t lower, uint32_t far) {
    uint32_t y = (upper & MT_UPPER_MASK) | (lower & MT_LOWER_MASK);
    return far ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
}

/* Regenerates all 624 words at once, as the reference genrand_int32 does. */
static void mt_refill(uint32_t *mt) {
    int i = 0;
    for (; i < MT_N - MT_M; i++) mt[i] = mt_twist(mt[i], mt[i + 1], mt[i + MT_M]);
    for (; i < MT_N - 1; i++) mt[i] = mt_twist(mt[i], mt[i + 1], mt[i + MT_M - MT_N]);
    mt[MT_N - 1] = mt_twist(mt[MT_N - 1], mt[0], mt[MT_M - 1]);
}

uint32_t gan_randomstate_u32(gan_randomstate *rs) {
    if (rs->index >= MT_N) {
        mt_refill(rs->mt);
        rs->index = 0;
    }
    uint32_t y = rs->mt[rs->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* 53 random bits: 27 from the first draw, 26 from the second. */
double gan_randomstate_double(gan_randomstate *rs) {
    uint32_t a = gan_randomstate_u32(rs) >> 5;
    uint32_t b = gan_randomstate_u32(rs) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

/* legacy_gauss: the polar method yields two normals per accepted pair; the
 * second is returned by the next call, so the stream matches NumPy only if
 * the cache is kept exactly as NumPy keeps it. */
double gan_randomstate_gauss(gan_randomstate *rs) {
    if (rs->has_gauss) {
        rs->has_gauss = 0;
        double cached = rs->gauss;
        rs->gauss = 0.0;
        return cached;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * gan_randomstate_double(rs) - 1.0;
        x2 = 2.0 * gan_randomstate_double(rs) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    rs->gauss = f * x1;
    rs->has_gauss = 1;
    return f * x2;
}

void gan_randomstate_randn(gan_randomstate *rs, double *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = gan_randomstate_gauss(rs);
}

void gan_randomstate_truncated_randn(gan_randomstate *rs, double *out, size_t n, double threshold) {
    for (size_t i = 0; i < n; i++) {
        double v = gan_randomstate_gauss(rs);
        while (threshold > 0 && (v > threshold || v < -threshold)) v = gan_randomstate_gauss(rs);
        out[i] = v;
    }
}

/* NumPy's _rand_int64 with use_masked=True: a range that fits 32 bits takes
 * one 32-bit draw per try (a range of exactly 2^32 - 1 would take the draw as
 * is, which the mask also does). */
int64_t gan_randomstate_randint(gan_randomstate *rs, int64_t low, int64_t high) {
    uint32_t range = (uint32_t)(high - 1 - low);
    if (range == 0) return low;
    uint32_t mask = range;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    uint32_t v;
    do v = gan_randomstate_u32(rs) & mask;
    while (v > range);
    return low + v;
}

/* ------------------------------------------------------------ Philox4x32-10 */

void gan_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    for (int i = 0; i < 4; i++) out[i] = ctr[i];
    gan_philox_rounds(out, key[0], key[1]);
}

typedef double (*lane_fn)(const uint32_t u[4], int lane);

/* Element i is lane (offset + i) % 4 of block (offset + i) / 4; blocks are
 * computed once each, and a partial block at either end costs one block. */
static void philox_fill(lane_fn lane, uint64_t seed, uint64_t offset, float *out, size_t n) {
    uint32_t u[4];
    uint64_t have = UINT64_MAX; /* block in u; no block number reaches it */
    for (size_t i = 0; i < n; i++) {
        uint64_t idx = offset + i;
        uint64_t c = idx / 4;
        if (c != have) {
            gan_philox_block(seed, c, u);
            have = c;
        }
        out[i] = (float)lane(u, (int)(idx % 4));
    }
}

void gan_philox_normal(uint64_t seed, uint64_t offset, float *out, size_t n) {
    philox_fill(gan_philox_normal_lane, seed, offset, out, n);
}

void gan_philox_uniform(uint64_t seed, uint64_t offset, float *out, size_t n) {
    philox_fill(gan_philox_uniform_lane, seed, offset, out, n);
}
