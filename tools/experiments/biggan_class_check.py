#!/usr/bin/env -S /usr/bin/python3
"""Are a class-conditional generator's samples of class k closer to class k's
real images than to the other classes'? (docs/biggan.md)

    biggan_class_check.py --fakes DIR --reals DIR [--res 32]

--fakes holds `dne generate --grid classes` output (classCCC-seedNNNN.png);
--reals one folder per class, in class order (sorted names), as dataset.json
labels them. Each image is described by colour statistics (the mean and
standard deviation of each RGB channel and a 4x4x4 colour histogram, at
--res px); each class by the mean description of its images. Prints the
distance matrix summary: the mean distance from a class's samples to its own
reals against the mean to other classes' reals, and how many classes' samples
are nearest to their own class (chance: 1 in the number of classes).
"""

import argparse
import os
import re

import numpy as np
from PIL import Image


def describe(path, res):
    img = np.asarray(Image.open(path).convert("RGB").resize((res, res), Image.BOX), dtype=np.float64) / 255.0
    px = img.reshape(-1, 3)
    hist, _ = np.histogramdd(px, bins=(4, 4, 4), range=((0, 1), (0, 1), (0, 1)))
    return np.concatenate([px.mean(0), px.std(0), hist.ravel() / len(px)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fakes", required=True)
    ap.add_argument("--reals", required=True)
    ap.add_argument("--res", type=int, default=32)
    args = ap.parse_args()
    classes = sorted(d for d in os.listdir(args.reals) if os.path.isdir(os.path.join(args.reals, d)))
    real = np.stack([np.mean([describe(os.path.join(args.reals, c, f), args.res)
                              for f in sorted(os.listdir(os.path.join(args.reals, c)))], 0) for c in classes])
    fake_files = {}
    for f in os.listdir(args.fakes):
        m = re.match(r"class(\d+)-seed\d+\.png$", f)
        if m:
            fake_files.setdefault(int(m.group(1)), []).append(os.path.join(args.fakes, f))
    k = len(classes)
    if sorted(fake_files) != list(range(k)):
        raise SystemExit(f"expected samples of classes 0..{k - 1} in {args.fakes}")
    fake = np.stack([np.mean([describe(p, args.res) for p in sorted(fake_files[i])], 0) for i in range(k)])
    dist = np.linalg.norm(fake[:, None, :] - real[None, :, :], axis=2)
    own = np.diag(dist)
    other = (dist.sum(1) - own) / (k - 1)
    nearest_own = int(np.sum(dist.argmin(1) == np.arange(k)))
    print(f"classes: {k}; samples per class: {min(len(v) for v in fake_files.values())}")
    print(f"mean distance of a class's samples to its own reals: {own.mean():.4f}")
    print(f"mean distance to the other classes' reals:           {other.mean():.4f}")
    print(f"classes closer to their own reals than to the others' on average: {int(np.sum(own < other))} of {k}")
    print(f"classes whose nearest real class is their own: {nearest_own} of {k} (chance: 1)")
    for i, c in enumerate(classes):
        print(f"  {i:2d} {c:10s} own {own[i]:.4f} others {other[i]:.4f} nearest {classes[dist[i].argmin()]}")


if __name__ == "__main__":
    main()
