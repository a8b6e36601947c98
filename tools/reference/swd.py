#!/usr/bin/env -S /usr/bin/python3
"""Sliced Wasserstein distance (Karras et al. 2018), a NumPy reference for
gan/metrics/swd.c, and the writer of its fixture tests/fixtures/swd.json.

Written from the Progressive GAN paper (appendix D) and the facts of
metrics/sliced_wasserstein.py in tkarras/progressive_growing_of_gans:
  * Laplacian pyramid of each image, full size down to 16 px, with the 5x5
    binomial kernel [1 4 6 4 1]^T [1 4 6 4 1] / 256 of cv2.pyrDown, borders
    mirrored as scipy.ndimage's mode='mirror' (numpy.pad's 'reflect');
    pyr_up inserts zeros and blurs with 4 times the kernel;
  * 128 neighbourhoods of 7x7 pixels per image and level, centres drawn with
    randint(3, size - 3), descriptor order [channel][dy][dx];
  * per level and per set, each channel normalised by the mean and the
    population standard deviation over all of the set's descriptors;
  * 4 repeats of 128 random unit directions (randn, columns normalised,
    rounded to float32); distance = mean |sort(A.d) - sort(B.d)| over
    descriptors and directions; reported x 1e3 per level, and the mean.
Everything here is computed in float64 (directions rounded to float32 first,
as both the original and dne do), so it is the exact value that dne's float32
arithmetic approximates.

Randomness follows dne's scheme, not the original's (which draws from NumPy's
global state in minibatch order): neighbourhood places from
RandomState(seed) for the reals and RandomState(seed + 1) for the fakes, per
image in order: for each level, finest first, all x then all y;
directions from RandomState(seed + 2), per level then per repeat:
randn(dim, dirs_per_repeat).

Usage:
  ./tools/reference/swd.py --fixture [--out tests/fixtures/swd.json]
  ./tools/reference/swd.py --reals DIR [--fakes DIR] [--num N] [--seed S]
    (images by sorted path, subfolders included; without --fakes the fakes are
    images N .. 2N-1 of --reals, as bench_swd takes them)
Run from the repository root; the images come from ../shared/data.
With SciPy installed (python3-scipy) --fixture also checks the pyramid
against scipy.ndimage.convolve(mode='mirror'), the original's operation.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from PIL import Image

KERNEL_1D = np.array([1, 4, 6, 4, 1], np.float64) / 16.0


class Params:
    def __init__(self, nhood_size=7, nhoods_per_image=128, dir_repeats=4, dirs_per_repeat=128,
                 min_resolution=16, seed=0):
        self.nhood_size = nhood_size
        self.nhoods_per_image = nhoods_per_image
        self.dir_repeats = dir_repeats
        self.dirs_per_repeat = dirs_per_repeat
        self.min_resolution = min_resolution
        self.seed = seed

    def as_dict(self):
        return dict(self.__dict__)


def blur(planes, kernel_1d):
    """2-D convolution of [..., H, W] planes with outer(k, k), mirrored borders."""
    kernel = np.outer(kernel_1d, kernel_1d)
    r = len(kernel_1d) // 2
    pad = [(0, 0)] * (planes.ndim - 2) + [(r, r), (r, r)]
    p = np.pad(planes, pad, mode='reflect')  # scipy.ndimage 'mirror'
    h, w = planes.shape[-2:]
    out = np.zeros_like(planes)
    for dy in range(len(kernel_1d)):
        for dx in range(len(kernel_1d)):
            out += kernel[dy, dx] * p[..., dy:dy + h, dx:dx + w]
    return out


def pyr_down(planes):
    return blur(planes, KERNEL_1D)[..., ::2, ::2]


def pyr_up(planes):
    h, w = planes.shape[-2:]
    z = np.zeros(planes.shape[:-2] + (2 * h, 2 * w), planes.dtype)
    z[..., ::2, ::2] = planes
    return blur(z, 2 * KERNEL_1D)  # 4 x the 2-D kernel


def laplacian_pyramid(images, levels):
    """images [N, C, R, R] -> list of float64 levels, finest first."""
    pyramid = [images.astype(np.float64)]
    for _ in range(1, levels):
        pyramid.append(pyr_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyr_up(pyramid[-1])
    return pyramid


def num_levels(resolution, p):
    levels, r = 0, resolution
    while r >= p.min_resolution:
        levels += 1
        r //= 2
    return levels


def draw_places(rs, count, sizes, p):
    """[count][levels] of (xs, ys), in dne's drawing order."""
    h = p.nhood_size // 2
    places = []
    for _ in range(count):
        per_level = []
        for size in sizes:
            xs = rs.randint(h, size - h, size=p.nhoods_per_image)
            ys = rs.randint(h, size - h, size=p.nhoods_per_image)
            per_level.append((xs, ys))
        places.append(per_level)
    return places


def descriptors(images, place_seed, p):
    """images [N, C, R, R] uint8 -> per level [N * nhoods, C * nhood^2] float64, normalised."""
    n, c, res, _ = images.shape
    levels = num_levels(res, p)
    sizes = [res >> l for l in range(levels)]
    places = draw_places(np.random.RandomState(place_seed), n, sizes, p)
    pyramid = laplacian_pyramid(images, levels)
    h = p.nhood_size // 2
    off = np.arange(-h, h + 1)
    out = []
    for l in range(levels):
        level = pyramid[l]
        desc = []
        for i in range(n):
            xs, ys = places[i][l]
            # [nhoods, C, dy, dx]
            d = level[i][:, ys[:, None, None] + off[None, :, None], xs[:, None, None] + off[None, None, :]]
            desc.append(np.transpose(d, (1, 0, 2, 3)))
        desc = np.concatenate(desc, axis=0)
        mean = desc.mean(axis=(0, 2, 3), keepdims=True)
        var = ((desc - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
        scale = np.where(var > 1e-12, 1 / np.sqrt(var), 1.0)  # dne: a constant channel is only centred
        out.append(((desc - mean) * scale).reshape(desc.shape[0], -1))
    return out


def directions(rs, dim, count):
    d = rs.randn(dim, count)
    d /= np.sqrt(np.sum(d * d, axis=0, keepdims=True))
    return d.astype(np.float32).astype(np.float64)


def swd(reals, fakes, p):
    """Per-level SWD x 1e3 (finest first) and their mean; reals, fakes uint8 [N, C, R, R]."""
    assert reals.shape == fakes.shape, 'as many fakes as reals, of the same shape'
    da = descriptors(reals, p.seed, p)
    db = descriptors(fakes, (p.seed + 1) % 2**32, p)
    rs = np.random.RandomState((p.seed + 2) % 2**32)
    dists = []
    for a, b in zip(da, db):
        per_repeat = []
        for _ in range(p.dir_repeats):
            dirs = directions(rs, a.shape[1], p.dirs_per_repeat)
            pa = np.sort(a @ dirs, axis=0)
            pb = np.sort(b @ dirs, axis=0)
            per_repeat.append(np.mean(np.abs(pa - pb)))
        dists.append(1e3 * np.mean(per_repeat))
    return [float(d) for d in dists], float(np.mean(dists))


# ---------------------------------------------------------------- images

def load_chw(paths, channels=3):
    out = []
    for path in paths:
        img = np.asarray(Image.open(path).convert('RGB'))
        out.append(np.transpose(img, (2, 0, 1))[:channels])
    return np.stack(out)


def list_images(folder):
    names = []
    for root, _, files in os.walk(folder):
        for f in files:
            if f.lower().endswith(('.png', '.jpg', '.jpeg', '.webp')):
                names.append(os.path.relpath(os.path.join(root, f), folder))
    return sorted(names)


# ---------------------------------------------------------------- checks

def check_pyramid_against_scipy(images):
    """The original's pyr_down / pyr_up are scipy.ndimage.convolve(mode='mirror')."""
    try:
        import scipy.ndimage
    except ImportError:
        print('scipy not installed: pyramid not checked against scipy.ndimage', file=sys.stderr)
        return
    k = np.outer(KERNEL_1D, KERNEL_1D)[None, None]
    x = images.astype(np.float64)
    down = scipy.ndimage.convolve(x, k, mode='mirror')[:, :, ::2, ::2]
    z = np.zeros(x.shape, np.float64)
    z[:, :, ::2, ::2] = down
    up = scipy.ndimage.convolve(z, 4 * k, mode='mirror')
    assert np.allclose(down, pyr_down(x), rtol=0, atol=1e-9)
    assert np.allclose(up, pyr_up(down), rtol=0, atol=1e-9)
    print('pyramid matches scipy.ndimage.convolve(mode="mirror")', file=sys.stderr)


def check_randint_scheme():
    """gan_randomstate_randint's contract: masked rejection on raw 32-bit draws."""
    for seed, low, high in [(0, 3, 61), (5, 3, 13), (123, 3, 253), (9, 0, 1000)]:
        bg = np.random.MT19937()
        bg._legacy_seeding(seed)
        raw = bg.random_raw(400)
        rng = high - 1 - low
        mask = rng
        for s in (1, 2, 4, 8, 16):
            mask |= mask >> s
        ours, i = [], 0
        while len(ours) < 100:
            v = int(raw[i]) & mask
            i += 1
            if v <= rng:
                ours.append(low + v)
        assert ours == list(np.random.RandomState(seed).randint(low, high, size=100))


# ---------------------------------------------------------------- the fixture

DATA = '../shared/data'

CASES = [
    # name, data folder, reals slice, fakes slice, channels, params
    ('getchu64', 'anime_faces_getchu64', ('train', 0, 48), ('heldout', 0, 48), 3, Params(seed=7)),
    ('danbooru256', 'anime_faces_danbooru256', ('', 0, 12), ('', 300, 312), 3, Params(seed=4294967295)),
    # the red channel alone and non-default settings
    ('getchu64_red_small', 'anime_faces_getchu64', ('train', 100, 130), ('train', 200, 230), 1,
     Params(nhood_size=5, nhoods_per_image=40, dir_repeats=3, dirs_per_repeat=24, min_resolution=8, seed=11)),
]


def case_files(data, part, start, end):
    folder = os.path.join(DATA, data, part)
    return [os.path.join(part, f) if part else f for f in list_images(folder)[start:end]]


def make_fixture(out_path):
    check_randint_scheme()
    rs = np.random.RandomState(5)
    fixture = {
        'about': 'SWD fixture for tests/test_swd.c, written by tools/reference/swd.py --fixture; '
                 'image paths are relative to root (from the repository root)',
        'randint': {'seed': 5, 'low': 3, 'high': 61, 'values': [int(v) for v in rs.randint(3, 61, size=300)]},
        'cases': [],
    }
    for name, data, (rpart, r0, r1), (fpart, f0, f1), channels, p in CASES:
        root = os.path.join(DATA, data)
        reals_files = case_files(data, rpart, r0, r1)
        fakes_files = case_files(data, fpart, f0, f1)
        reals = load_chw([os.path.join(root, f) for f in reals_files], channels)
        fakes = load_chw([os.path.join(root, f) for f in fakes_files], channels)
        if name == 'getchu64':
            check_pyramid_against_scipy(reals[:4])
        dists, avg = swd(reals, fakes, p)
        print('%-20s %s avg %.6f' % (name, ' '.join('%.6f' % d for d in dists), avg), file=sys.stderr)
        fixture['cases'].append({
            'name': name, 'root': root, 'channels': channels, 'params': p.as_dict(),
            'reals': reals_files, 'fakes': fakes_files,
            'reals_pixel_sum': int(reals.astype(np.int64).sum()),
            'fakes_pixel_sum': int(fakes.astype(np.int64).sum()),
            'resolutions': [reals.shape[2] >> l for l in range(len(dists))],
            'swd': dists, 'swd_avg': avg,
        })
    # one line per item, so that a regenerated fixture diffs readably
    lines = ['{', ' "about": %s,' % json.dumps(fixture['about']),
             ' "randint": %s,' % json.dumps(fixture['randint']), ' "cases": [']
    lines += ['  %s%s' % (json.dumps(c), ',' if i + 1 < len(fixture['cases']) else '')
              for i, c in enumerate(fixture['cases'])]
    lines += [' ]', '}']
    with open(out_path + '.tmp', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.replace(out_path + '.tmp', out_path)
    print('wrote', out_path, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fixture', action='store_true', help='write the fixture')
    ap.add_argument('--out', default='tests/fixtures/swd.json')
    ap.add_argument('--reals', help='folder of real images')
    ap.add_argument('--fakes', help='folder of images to compare (default: the next N of --reals)')
    ap.add_argument('--num', type=int, default=1000)
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()
    if args.fixture:
        make_fixture(args.out)
        return
    if not args.reals:
        ap.error('give --fixture, or --reals')
    n = args.num
    names = list_images(args.reals)
    reals = load_chw([os.path.join(args.reals, f) for f in names[:n]])
    if args.fakes:
        fakes = load_chw([os.path.join(args.fakes, f) for f in list_images(args.fakes)[:n]])
    else:
        fakes = load_chw([os.path.join(args.reals, f) for f in names[n:2 * n]])
    start = time.time()
    dists, avg = swd(reals, fakes, Params(seed=args.seed))
    seconds = time.time() - start
    res = reals.shape[2]
    print(json.dumps({**{'swd_%d' % (res >> l): d for l, d in enumerate(dists)}, 'swd_avg': avg,
                      'seconds': seconds, 'images_per_s': 2 * n / seconds}))


if __name__ == '__main__':
    main()
