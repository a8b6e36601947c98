#!/usr/bin/env -S /usr/bin/python3
"""Times one BigGAN training iteration of the PyTorch reference
(biggan.train_step: BigGAN-PyTorch's GAN_training_function re-stated on
modules identical to its own) at dne's small config (32 px, ch 16, attention
at 16 in G, 20 classes, one D step) and prints images/s as one JSON line.
Run by bench/train beside dne's bench_train_biggan.

    /usr/bin/python3 tools/reference/bench_train_biggan.py --batch 16 --threads 2 --reps 3
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import biggan  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    k, b = 20, args.batch
    G = biggan.Generator(dict(arch="biggan", resolution=32, G_ch=16, dim_z=16, shared_dim=32, n_classes=k, G_attn="16"))
    G_ema = biggan.Generator(G.cfg)
    D = biggan.Discriminator(dict(arch="biggan", resolution=32, D_ch=16, D_attn="0", n_classes=k))
    opts = dict(d_steps=1, d_accumulations=1, g_accumulations=1, g_ortho=0, d_ortho=0, ema_decay=0.9999, ema_start=1000)
    optG = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.999), eps=1e-6)
    optD = torch.optim.Adam(D.parameters(), lr=4e-4, betas=(0.0, 0.999), eps=1e-6)
    y = torch.arange(b) % k
    draws = dict(d_fakes=[(torch.randn(b, 16), y)], reals=[(torch.rand(b, 3, 32, 32) * 2 - 1, y)],
                 g_fakes=[(torch.randn(b, 16), y)])
    times = []
    for rep in range(args.reps + 1):  # the first run warms up
        start = time.perf_counter()
        biggan.train_step(G, D, G_ema, optG, optD, opts, draws, itr=rep + 1)
        if rep > 0:
            times.append(time.perf_counter() - start)
    print(json.dumps({"arch": "biggan", "resolution": 32, "batch": b, "threads": args.threads,
                      "images_per_s": round(b / statistics.median(times), 3), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
