/* Philox4x32-10 and its normal and uniform floats, element by element: the
 * code behind gan_philox_normal/uniform (gan/rng.c) and the CUDA randn kernel
 * (gan/cuda/random.cu), so every backend draws the same numbers. Element idx
 * of stream seed is lane idx % 4 of block idx / 4 (see rng.h). */
#ifndef GAN_PHILOX_H
#define GAN_PHILOX_H

#include <stdint.h>

#include "kernel_math.h"

#define GAN_PHILOX_M0 0xD2511F53u
#define GAN_PHILOX_M1 0xCD9E8D57u
#define GAN_PHILOX_W0 0x9E3779B9u
#define GAN_PHILOX_W1 0xBB67AE85u

/* Encrypts counter x (4 words) in place with key k (2 words). */
GAN_HD void gan_philox_rounds(uint32_t x[4], uint32_t k0, uint32_t k1) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += GAN_PHILOX_W0;
            k1 += GAN_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)GAN_PHILOX_M0 * x[0];
        uint64_t p1 = (uint64_t)GAN_PHILOX_M1 * x[2];
        uint32_t y1 = x[1], y3 = x[3];
        x[0] = (uint32_t)(p1 >> 32) ^ y1 ^ k0;
        x[1] = (uint32_t)p1;
        x[2] = (uint32_t)(p0 >> 32) ^ y3 ^ k1;
        x[3] = (uint32_t)p0;
    }
}

/* The four words of block c of stream seed. */
GAN_HD void gan_philox_block(uint64_t seed, uint64_t c, uint32_t out[4]) {
    out[0] = (uint32_t)c;
    out[1] = (uint32_t)(c >> 32);
    out[2] = 0u;
    out[3] = 0u;
    gan_philox_rounds(out, (uint32_t)seed, (uint32_t)(seed >> 32));
}

#define GAN_TWO_POW_M32 2.3283064365386963e-10 /* 2^-32 */
#define GAN_TWO_PI 6.283185307179586476925286766559

/* Box-Muller on lanes (a, b) mapped to (0, 1], so that log never sees 0:
 * r = sqrt(-2 ln a), cos for the first lane of the pair, sin for the second. */
GAN_HD double gan_philox_box_muller(uint32_t ua, uint32_t ub, int second) {
    double r = sqrt(-2.0 * log(((double)ua + 1.0) * GAN_TWO_POW_M32));
    double theta = GAN_TWO_PI * (((double)ub + 1.0) * GAN_TWO_POW_M32);
    return r * (second ? sin(theta) : cos(theta));
}

/* Lane `lane` of a block of normals. */
GAN_HD double gan_philox_normal_lane(const uint32_t u[4], int lane) {
    int pair = lane & 2;
    return gan_philox_box_muller(u[pair], u[pair + 1], lane & 1);
}

/* Lane values of u * 2^-32 at or above 1 - 2^-25 would round to 1.0f; they
 * take the largest float below 1 instead so the range stays [0, 1). */
GAN_HD double gan_philox_uniform_lane(const uint32_t u[4], int lane) {
    double x = u[lane] * GAN_TWO_POW_M32;
    return (float)x < 1.0f ? x : 0.99999994039535522; /* 1 - 2^-24 */
}

GAN_HD float gan_philox_normal_at(uint64_t seed, uint64_t idx) {
    uint32_t u[4];
    gan_philox_block(seed, idx / 4, u);
    return (float)gan_philox_normal_lane(u, (int)(idx % 4));
}

#endif
