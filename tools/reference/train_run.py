#!/usr/bin/env -S /usr/bin/python3
"""A full reference training run (train.Trainer) on a folder of images, for the
acceptance comparison with `dne train`.

    /usr/bin/python3 tools/reference/train_run.py --data ../shared/data/anime_faces_getchu64/train \
        --outdir /tmp/ref-run --cfg small --kimg 100 --snap 10 --threads 2 [--seed 0] [--mirror]

Writes into --outdir:
  network-snapshot-NNNNNN.safetensors  G_ema as a dne generator file (dne generate reads it),
                                       NNNNNN = kimg done; one before the first step, then every --snap kimg
                                       (with --snap < 1: nimgNNNNNNN, images done)
  fakes-NNNNNN.png                     4x4 grid of G_ema(fixed z, noise const, psi 1)
  stats.jsonl                          one line per snapshot: kimg, seconds, sec/kimg, losses
  training_options.json                the options used
Images: PNG/JPEG, all the same square power-of-two size, converted to RGB;
x (uint8) -> x / 127.5 - 1. Order: a fresh permutation per epoch from
numpy RandomState(seed); with --mirror the dataset is doubled by x-flips (as
the reference's --mirror). Random draws come from torch's RNG seeded with --seed.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stylegan2  # noqa: E402
import train  # noqa: E402


def load_images(folder):
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".png", ".jpg", ".jpeg", ".webp")))
    if not names:
        raise SystemExit("%s: no images" % folder)
    imgs = []
    for n in names:
        a = np.asarray(Image.open(os.path.join(folder, n)).convert("RGB"))
        if imgs and a.shape != imgs[0].shape:
            raise SystemExit("%s: size %s differs from %s" % (n, a.shape[:2], imgs[0].shape[:2]))
        imgs.append(a)
    x = np.stack(imgs).transpose(0, 3, 1, 2)      # [N, 3, R, R] uint8
    r = x.shape[2]
    if x.shape[3] != r or r & (r - 1):
        raise SystemExit("images must be square with a power-of-two size, not %s" % (x.shape[2:],))
    return x


class Batches:
    """Epoch-wise permutations of the dataset (doubled by x-flips with mirror)."""

    def __init__(self, images, batch, seed, mirror):
        self.images, self.batch, self.mirror = images, batch, mirror
        self.rng = np.random.RandomState(seed)
        self.order, self.pos = [], 0

    def next(self):
        idx = []
        while len(idx) < self.batch:
            if self.pos == len(self.order):
                self.order = self.rng.permutation(len(self.images) * (2 if self.mirror else 1))
                self.pos = 0
            idx.append(self.order[self.pos])
            self.pos += 1
        n = len(self.images)
        x = np.stack([self.images[i % n][:, :, ::-1] if i >= n else self.images[i] for i in idx])
        return torch.from_numpy(x.astype(np.float32)) / 127.5 - 1


def save_grid(G, z, path):
    with torch.no_grad():
        img = stylegan2.to_uint8(G(z, None, noise_mode="const")).numpy()     # [16, R, R, 3]
    n, r = img.shape[0], img.shape[1]
    k = int(np.sqrt(n))
    grid = img[:k * k].reshape(k, k, r, r, 3).transpose(0, 2, 1, 3, 4).reshape(k * r, k * r, 3)
    Image.fromarray(grid).save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cfg", default="small", choices=sorted(train.CFG_SPECS))
    ap.add_argument("--kimg", type=float, required=True)
    ap.add_argument("--snap", type=float, default=10, help="snapshot interval in kimg")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--gamma", type=float, default=None)
    ap.add_argument("--mirror", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    images = load_images(args.data)
    opts = train.training_config(args.cfg, images.shape[2], batch=args.batch, gamma=args.gamma)
    os.makedirs(args.outdir, exist_ok=True)
    with open(os.path.join(args.outdir, "training_options.json"), "w") as f:
        json.dump(dict(vars(args), num_images=len(images), torch=torch.__version__, opts=opts), f, indent=2)
    T = train.Trainer(opts, seed=args.seed)
    grid_z = torch.randn([16, T.G.z_dim], generator=torch.Generator().manual_seed(args.seed + 1))
    batches = Batches(images, opts["batch"], args.seed, args.mirror)
    stats_file = open(os.path.join(args.outdir, "stats.jsonl"), "a")
    train_sec, next_snap, stats = 0.0, 0.0, {}
    print("%d images of %d px, cfg %s: batch %d, gamma %g, %d threads" % (len(images), images.shape[2], args.cfg,
                                                                          opts["batch"], opts["gamma"], args.threads))
    while True:
        kimg = T.cur_nimg / 1000
        if kimg >= next_snap or kimg >= args.kimg:
            # NNNNNN = kimg as the reference names snapshots; below 1 kimg per snapshot, images instead.
            tag = "%06d" % int(round(kimg)) if args.snap >= 1 else "nimg%07d" % T.cur_nimg
            T.G_ema.save(os.path.join(args.outdir, "network-snapshot-%s.safetensors" % tag))
            save_grid(T.G_ema, grid_z, os.path.join(args.outdir, "fakes-%s.png" % tag))
            line = dict(kimg=kimg, train_sec=round(train_sec, 2),
                        sec_per_kimg=round(train_sec / kimg, 2) if kimg else None, **stats)
            stats_file.write(json.dumps(line) + "\n")
            stats_file.flush()
            print(json.dumps(line), flush=True)
            next_snap += args.snap
        if kimg >= args.kimg:
            break
        reals = batches.next()
        start = time.perf_counter()
        stats = T.step(reals, train.Draws())
        train_sec += time.perf_counter() - start
        for k, v in stats.items():
            if not np.isfinite(v):
                raise SystemExit("non-finite %s at kimg %.3f" % (k, kimg))


if __name__ == "__main__":
    main()
