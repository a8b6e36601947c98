/* Tests for gan/rng.c.
 *
 * The RandomState literals below are NumPy 1.24's own output, and the Philox
 * normal/uniform literals come from an independent pure-Python Philox; both
 * are printed by tools/reference/rng_check.py (run it with a Python that has
 * NumPy, e.g. /usr/bin/python3 on Debian) so they can be regenerated. The
 * doubles are written with 17 significant digits, which round-trips exactly,
 * so RandomState is compared with == : it must be bit-exact. */
#include "gan/rng.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

#include "tests/test.h"

enum { SHORT_N = 8, N_SEEDS = 6 };

static const uint32_t seeds[N_SEEDS] = {0u, 1u, 42u, 85u, 123u, 4294967295u};

static const double randn_ref[N_SEEDS][SHORT_N] = {
    {1.764052345967664, 0.40015720836722329, 0.9787379841057392, 2.2408931992014578,
     1.8675579901499675, -0.97727787987641102, 0.95008841752558937, -0.15135720829769789},
    {1.6243453636632417, -0.61175641365007538, -0.5281717522634557, -1.0729686221561705,
     0.86540762932467852, -2.3015386968802827, 1.74481176421648, -0.76120690089510279},
    {0.49671415301123267, -0.13826430117118466, 0.64768853810069249, 1.5230298564080254,
     -0.23415337472333597, -0.23413695694918055, 1.5792128155073915, 0.76743472915290878},
    {0.1768507210788626, 2.3777541249700573, 0.99873285705373405, -1.3101507969798436,
     0.18018992116935298, -1.7647540193678475, -1.443125868756967, -1.3992855573400653},
    {-1.0856306033005612, 0.99734544658358582, 0.28297849805199204, -1.506294713918092,
     -0.57860025196853637, 1.6514365370971511, -2.4266792433930742, -0.42891262885617726},
    {0.64840867423065274, 0.66932353063381611, -1.0805437227474493, 0.28450104479863092,
     0.11388773652167104, 0.86762189379293819, -0.044026015448043285, 0.24877161740907913},
};

static const double sample_ref[N_SEEDS][SHORT_N] = {
    {0.54881350392732475, 0.71518936637241948, 0.60276337607164387, 0.54488318299689686,
     0.42365479933890471, 0.64589411306665612, 0.43758721126269251, 0.89177300078207977},
    {0.417022004702574, 0.7203244934421581, 0.00011437481734488664, 0.30233257263183977,
     0.14675589081711304, 0.092338594768797799, 0.1862602113776709, 0.34556072704304774},
    {0.37454011884736249, 0.95071430640991617, 0.73199394181140509, 0.5986584841970366,
     0.15601864044243652, 0.15599452033620265, 0.058083612168199461, 0.86617614577493518},
    {0.62037381455325602, 0.50895306864540701, 0.29824484175872867, 0.65379871239259579,
     0.27350653435226657, 0.52312607835003422, 0.37324974209927675, 0.36927859357323656},
    {0.69646918559786164, 0.28613933495037946, 0.22685145356420311, 0.55131476908289123,
     0.71946896978556307, 0.42310646012446096, 0.98076419838461548, 0.68482973858486329},
    {0.097632028994013798, 0.91238284530262181, 0.78903530185163995, 0.78000359811346776,
     0.01793967398674523, 0.96950593221475245, 0.59317534935101091, 0.14611715599393837},
};

/* randint(0, 2**32, dtype=uint32): the raw tempered MT19937 words. */
static const uint32_t u32_ref[N_SEEDS][4] = {
    {2357136044u, 2546248239u, 3071714933u, 3626093760u},
    {1791095845u, 4282876139u, 3093770124u, 4005303368u},
    {1608637542u, 3421126067u, 4083286876u, 787846414u},
    {2664485226u, 3865605280u, 2185936781u, 2285844164u},
    {2991312382u, 3062119789u, 1228959102u, 1840268610u},
    {419326371u, 479346978u, 3918654476u, 2416749639u},
};

static void test_randomstate_u32(void) {
    for (int s = 0; s < N_SEEDS; s++) {
        gan_randomstate rs;
        gan_randomstate_seed(&rs, seeds[s]);
        for (int i = 0; i < 4; i++) {
            uint32_t got = gan_randomstate_u32(&rs);
            CHECKF(got == u32_ref[s][i], "seed %u word %d: %u, numpy %u", seeds[s], i, got,
                   u32_ref[s][i]);
        }
    }
}

static void test_randomstate_randn(void) {
    for (int s = 0; s < N_SEEDS; s++) {
        gan_randomstate rs;
        double got[SHORT_N];
        gan_randomstate_seed(&rs, seeds[s]);
        gan_randomstate_randn(&rs, got, SHORT_N);
        for (int i = 0; i < SHORT_N; i++)
            CHECKF(got[i] == randn_ref[s][i], "seed %u randn[%d]: %.17g, numpy %.17g", seeds[s],
                   i, got[i], randn_ref[s][i]);
    }
}

static void test_randomstate_sample(void) {
    for (int s = 0; s < N_SEEDS; s++) {
        gan_randomstate rs;
        gan_randomstate_seed(&rs, seeds[s]);
        for (int i = 0; i < SHORT_N; i++) {
            double got = gan_randomstate_double(&rs);
            CHECKF(got == sample_ref[s][i], "seed %u random_sample[%d]: %.17g, numpy %.17g",
                   seeds[s], i, got, sample_ref[s][i]);
        }
    }
}

/* 2000 normals use at least 4000 words, so the state is refilled several
 * times; the picks sit on either side of index 624 and 1248 of the output. */
static void test_randomstate_long_run(void) {
    enum { LONG_N = 2000 };
    static const struct { int index; double value; } picks[] = {
        {0, 1.690525703800356},       {623, -1.3850070531299699}, {624, 0.55894436574489725},
        {1247, -0.48069818567920042}, {1999, -0.21047892849167149},
    };
    const double sum_ref = -73.396822082591839; /* summed left to right */
    static double got[LONG_N];
    gan_randomstate rs;
    gan_randomstate_seed(&rs, 7u);
    gan_randomstate_randn(&rs, got, LONG_N);
    for (size_t k = 0; k < sizeof picks / sizeof picks[0]; k++)
        CHECKF(got[picks[k].index] == picks[k].value, "seed 7 randn[%d]: %.17g, numpy %.17g",
               picks[k].index, got[picks[k].index], picks[k].value);
    double sum = 0.0;
    for (int i = 0; i < LONG_N; i++) sum += got[i];
    CHECKF(sum == sum_ref, "seed 7 sum of 2000: %.17g, numpy %.17g", sum, sum_ref);
}

/* standard_normal, random_sample, standard_normal, standard_normal: the
 * cached second normal survives a random_sample in between, as in NumPy. */
static void test_randomstate_gauss_cache(void) {
    const double ref[4] = {1.690525703800356, 0.97798951199660267, -0.46593737054083278,
                           0.093166060979751747};
    gan_randomstate rs;
    gan_randomstate_seed(&rs, 7u);
    double got[4];
    got[0] = gan_randomstate_gauss(&rs);
    got[1] = gan_randomstate_double(&rs);
    got[2] = gan_randomstate_gauss(&rs);
    got[3] = gan_randomstate_gauss(&rs);
    for (int i = 0; i < 4; i++)
        CHECKF(got[i] == ref[i], "mixed[%d]: %.17g, numpy %.17g", i, got[i], ref[i]);

    /* Reseeding drops the cache: the stream restarts from its first value. */
    gan_randomstate_seed(&rs, 7u);
    CHECK(gan_randomstate_gauss(&rs) == ref[0]);
}

/* ------------------------------------------------------------ Philox */

static void check_philox_kat(const uint32_t ctr[4], const uint32_t key[2], const uint32_t ref[4]) {
    uint32_t got[4];
    gan_philox4x32(ctr, key, got);
    for (int i = 0; i < 4; i++)
        CHECKF(got[i] == ref[i], "philox word %d: 0x%08x, Random123 0x%08x", i, got[i], ref[i]);
}

/* Random123's kat_vectors for philox4x32_10. */
static void test_philox_kat(void) {
    const uint32_t zero_ctr[4] = {0, 0, 0, 0}, zero_key[2] = {0, 0};
    const uint32_t zero_ref[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
    check_philox_kat(zero_ctr, zero_key, zero_ref);

    const uint32_t ones_ctr[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    const uint32_t ones_key[2] = {0xffffffffu, 0xffffffffu};
    const uint32_t ones_ref[4] = {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu};
    check_philox_kat(ones_ctr, ones_key, ones_ref);

    const uint32_t pi_ctr[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    const uint32_t pi_key[2] = {0xa4093822u, 0x299f31d0u};
    const uint32_t pi_ref[4] = {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u};
    check_philox_kat(pi_ctr, pi_key, pi_ref);
}

/* Values from rng_check.py's own Philox; the offset starts mid-block. The
 * normals go through libm's log/cos/sin, so a different libm could move the
 * last bit: compare them within a few float ulps, the uniforms exactly. */
static void test_philox_reference_values(void) {
    enum { N = 10 };
    const uint64_t seed = 20240607u, offset = 3u;
    const float normal_ref[N] = {0.320018917f, -0.981414437f, -0.623676717f, 0.36517784f,
                                 0.140075922f, -1.8391118f,   0.61269778f,   1.06089509f,
                                 0.559662044f, -1.70666218f};
    const float uniform_ref[N] = {0.0338065661f, 0.508610129f, 0.5900985f,    0.926364005f,
                                  0.0582943149f, 0.152763322f, 0.448818237f,  0.487063915f,
                                  0.0772592574f, 0.0753544122f};
    float got[N];
    gan_philox_normal(seed, offset, got, N);
    double err = test_max_rel_diff(got, normal_ref, N, 1e-3);
    CHECKF(err <= 4 * FLT_EPSILON, "philox normal vs reference: rel err %g", err);
    gan_philox_uniform(seed, offset, got, N);
    for (int i = 0; i < N; i++)
        CHECKF(got[i] == uniform_ref[i], "philox uniform[%d]: %.9g, reference %.9g", i, got[i],
               uniform_ref[i]);

    /* A seed and counter above 2^32 exercise the high key and counter words. */
    const uint64_t big = (UINT64_C(1) << 40) + 7u;
    const float big_ref[4] = {-1.73513293f, -0.235904694f, 1.27037251f, 0.945995569f};
    gan_philox_normal(big, big * 4u, got, 4);
    err = test_max_rel_diff(got, big_ref, 4, 1e-3);
    CHECKF(err <= 4 * FLT_EPSILON, "philox normal, 40-bit seed: rel err %g", err);
}

/* Element i depends only on offset + i, whatever the split. */
static void test_philox_offset(void) {
    const uint64_t seed = 12345u;
    float whole[20], part[10];
    gan_philox_normal(seed, 0, whole, 20);
    gan_philox_normal(seed, 5, part, 10);
    CHECK(memcmp(part, whole + 5, sizeof part) == 0);

    gan_philox_uniform(seed, 0, whole, 20);
    gan_philox_uniform(seed, 5, part, 10);
    CHECK(memcmp(part, whole + 5, sizeof part) == 0);

    /* One element at a time, across block boundaries. */
    for (uint64_t i = 0; i < 20; i++) {
        float one;
        gan_philox_uniform(seed, i, &one, 1);
        CHECKF(one == whole[i], "uniform element %u alone differs", (unsigned)i);
    }
}

static void test_philox_seeds_differ(void) {
    enum { N = 64 };
    float a[N], b[N], c[N];
    gan_philox_normal(1u, 0, a, N);
    gan_philox_normal(2u, 0, b, N);
    gan_philox_normal(UINT64_C(1) | (UINT64_C(1) << 32), 0, c, N); /* high key word only */
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < N; i++) {
        same_ab += a[i] == b[i];
        same_ac += a[i] == c[i];
    }
    CHECKF(same_ab == 0, "seeds 1 and 2 share %d of %d values", same_ab, N);
    CHECKF(same_ac == 0, "seeds 1 and 1+2^32 share %d of %d values", same_ac, N);
}

static void test_philox_moments(void) {
    enum { N = 1000000 };
    float *x = malloc(N * sizeof *x);
    CHECK(x != NULL);
    if (!x) return;

    gan_philox_normal(2024u, 0, x, N);
    double sum = 0, sum_sq = 0;
    int finite = 1;
    for (int i = 0; i < N; i++) {
        finite &= isfinite(x[i]) != 0;
        sum += x[i];
        sum_sq += (double)x[i] * x[i];
    }
    double mean = sum / N, var = sum_sq / N - mean * mean;
    CHECK(finite);
    CHECKF(fabs(mean) < 0.005, "normal mean %g", mean);
    CHECKF(fabs(var - 1.0) < 0.01, "normal variance %g", var);

    gan_philox_uniform(2024u, 0, x, N);
    int in_range = 1;
    sum = 0;
    for (int i = 0; i < N; i++) {
        in_range &= x[i] >= 0.0f && x[i] < 1.0f;
        sum += x[i];
    }
    CHECK(in_range);
    CHECKF(fabs(sum / N - 0.5) < 0.005, "uniform mean %g", sum / N);
    free(x);
}

/* Raw word of element idx of stream seed, to confirm the edge cases below. */
static uint32_t philox_word(uint64_t seed, uint64_t idx) {
    const uint32_t ctr[4] = {(uint32_t)(idx / 4), (uint32_t)(idx / 4 >> 32), 0, 0};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    gan_philox4x32(ctr, key, out);
    return out[idx % 4];
}

/* Indices of seed 1 found by exhaustive search where a lane word is extreme. */
static void test_philox_edges(void) {
    const uint64_t seed = 1u;
    float v[2];

    /* Word 0 in the radius lane: log must see 2^-32, not 0. */
    const uint64_t zero_idx = 364375560u;
    CHECK(zero_idx % 4 == 0 && philox_word(seed, zero_idx) == 0u);
    gan_philox_normal(seed, zero_idx, v, 2);
    CHECKF(isfinite(v[0]) && isfinite(v[1]), "normal at word 0: %g %g", v[0], v[1]);
    CHECKF(hypot(v[0], v[1]) < 6.7, "normal radius at word 0: %g", hypot(v[0], v[1]));
    gan_philox_uniform(seed, zero_idx, v, 1);
    CHECK(v[0] == 0.0f);

    /* Word 0xffffffff in the radius lane: a = 1, so the pair is exactly 0. */
    const uint64_t max_idx = UINT64_C(6845800136);
    CHECK(max_idx % 4 == 0 && philox_word(seed, max_idx) == 0xffffffffu);
    gan_philox_normal(seed, max_idx, v, 2);
    CHECK(v[0] == 0.0f && v[1] == 0.0f);

    /* A word whose u * 2^-32 rounds to 1.0f: the uniform must stay below 1. */
    const uint64_t near_one_idx = 77404625u;
    CHECK(philox_word(seed, near_one_idx) >= 0xffffff80u);
    gan_philox_uniform(seed, near_one_idx, v, 1);
    CHECKF(v[0] < 1.0f && v[0] == 1.0f - FLT_EPSILON / 2, "uniform near 1: %.9g", v[0]);
}

int main(void) {
    test_randomstate_u32();
    test_randomstate_randn();
    test_randomstate_sample();
    test_randomstate_long_run();
    test_randomstate_gauss_cache();
    test_philox_kat();
    test_philox_reference_values();
    test_philox_offset();
    test_philox_seeds_differ();
    test_philox_moments();
    test_philox_edges();
    TEST_DONE();
}
