"""Prints the reference values embedded in tests/test_rng.c.

NumPy's legacy RandomState values (what gan_randomstate must reproduce), and
gan_philox_normal / gan_philox_uniform values from an independent pure-Python
Philox4x32-10 written from the recipe in gan/rng.h.

Run with a Python that has NumPy (Debian: /usr/bin/python3):
    /usr/bin/python3 tools/reference/rng_check.py
Every value is printed with 17 significant digits (%.17g), which round-trips
a double exactly, so the C test can compare with ==.
"""
import math

import numpy as np

SEEDS = [0, 1, 42, 85, 123, 4294967295]
SHORT_N = 8
LONG_SEED = 7
LONG_N = 2000  # crosses three 624-word refills (each normal takes >= 4 words)
LONG_PICKS = [0, 623, 624, 1247, 1999]


def fmt(x):
    return "%.17g" % x


def main():
    print("randn(%d):" % SHORT_N)
    for seed in SEEDS:
        vals = np.random.RandomState(seed).randn(SHORT_N)
        print("  seed %d: {%s}" % (seed, ", ".join(fmt(v) for v in vals)))

    print("random_sample(%d):" % SHORT_N)
    for seed in SEEDS:
        vals = np.random.RandomState(seed).random_sample(SHORT_N)
        print("  seed %d: {%s}" % (seed, ", ".join(fmt(v) for v in vals)))

    print("randint u32 (first 4 raw words):")
    for seed in SEEDS:
        vals = np.random.RandomState(seed).randint(0, 2**32, size=4, dtype=np.uint32)
        print("  seed %d: {%s}" % (seed, ", ".join("%du" % v for v in vals)))

    vals = np.random.RandomState(LONG_SEED).randn(LONG_N)
    print("randn(%d), seed %d:" % (LONG_N, LONG_SEED))
    for i in LONG_PICKS:
        print("  [%d] = %s" % (i, fmt(vals[i])))
    # Summed left to right in double, as the C test does (np.sum is pairwise).
    total = 0.0
    for v in vals.tolist():
        total += v
    print("  sum = %s" % fmt(total))

    # A mixed sequence: one normal caches the second of its pair, then
    # random_sample must not disturb that cache.
    rs = np.random.RandomState(LONG_SEED)
    mixed = [rs.standard_normal(), rs.random_sample(), rs.standard_normal(),
             rs.standard_normal()]
    print("mixed normal, sample, normal, normal, seed %d: {%s}"
          % (LONG_SEED, ", ".join(fmt(v) for v in mixed)))
    philox_main()


# ------------------------------------------------------------ Philox4x32-10

M32 = 0xFFFFFFFF
PHILOX_M = (0xD2511F53, 0xCD9E8D57)
PHILOX_W = (0x9E3779B9, 0xBB67AE85)
PHILOX_SEED = 20240607
PHILOX_OFFSET = 3  # starts mid-block, so the lane indexing is exercised


def philox4x32_10(ctr, key):
    x = list(ctr)
    k = list(key)
    for rnd in range(10):
        if rnd:
            k = [(k[0] + PHILOX_W[0]) & M32, (k[1] + PHILOX_W[1]) & M32]
        p0 = PHILOX_M[0] * x[0]
        p1 = PHILOX_M[1] * x[2]
        x = [(p1 >> 32) ^ x[1] ^ k[0], p1 & M32, (p0 >> 32) ^ x[3] ^ k[1], p0 & M32]
    return x


def philox_words(seed, idx):
    c = idx // 4
    return philox4x32_10([c & M32, c >> 32, 0, 0], [seed & M32, seed >> 32])


def philox_normal(seed, idx):
    u = [(w + 1) * 2.0**-32 for w in philox_words(seed, idx)]
    lane = idx % 4
    a, b = (u[0], u[1]) if lane < 2 else (u[2], u[3])
    r = math.sqrt(-2.0 * math.log(a))
    theta = 2.0 * math.pi * b
    z = r * math.cos(theta) if lane % 2 == 0 else r * math.sin(theta)
    return float(np.float32(z))


def philox_uniform(seed, idx):
    x = philox_words(seed, idx)[idx % 4] * 2.0**-32
    f = np.float32(x)
    return float(f) if f < 1 else float(np.nextafter(np.float32(1), np.float32(0)))


def philox_main():
    kat = philox4x32_10([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
                        [0xA4093822, 0x299F31D0])
    assert kat == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1], kat
    n = 10
    idx = range(PHILOX_OFFSET, PHILOX_OFFSET + n)
    print("philox_normal(seed %d, offset %d, n %d): {%s}" % (
        PHILOX_SEED, PHILOX_OFFSET, n,
        ", ".join("%.9gf" % philox_normal(PHILOX_SEED, i) for i in idx)))
    print("philox_uniform(seed %d, offset %d, n %d): {%s}" % (
        PHILOX_SEED, PHILOX_OFFSET, n,
        ", ".join("%.9gf" % philox_uniform(PHILOX_SEED, i) for i in idx)))
    big = (1 << 40) + 7  # a seed and counter that use both key/counter words
    print("philox_normal(seed %d, offset %d, n 4): {%s}" % (
        big, big * 4, ", ".join("%.9gf" % philox_normal(big, big * 4 + i) for i in range(4))))


if __name__ == "__main__":
    main()
