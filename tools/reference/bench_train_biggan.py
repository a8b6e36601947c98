#!/usr/bin/env -S /usr/bin/python3
"""Times one BigGAN training iteration of the PyTorch reference
(biggan.train_step: BigGAN-PyTorch's GAN_training_function re-stated on
modules identical to its own) at dne's small config (32 px, ch 16, attention
at 16 in G, 20 classes, one D step) and prints images/s as one JSON line.
Run by bench/train beside dne's bench_train_biggan.

    /usr/bin/python3 tools/reference/bench_train_biggan.py --batch 16 --threads 2 --reps 3 [--res 32 --ch 16 --device cpu]
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
    ap.add_argument("--res", type=int, default=32)
    ap.add_argument("--ch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if device.type != "cpu":
        torch.set_default_device(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    k, b, r = 20, args.batch, args.res
    if r == 32:  # dne's small config
        gcfg = dict(arch="biggan", resolution=32, G_ch=args.ch, dim_z=16, shared_dim=32, n_classes=k, G_attn="16")
        dcfg = dict(arch="biggan", resolution=32, D_ch=args.ch, D_attn="0", n_classes=k)
    else:  # the reference's network at that resolution, as bg_config_default
        gcfg = dict(arch="biggan", resolution=r, G_ch=args.ch, dim_z={256: 140, 512: 128}.get(r, 120), shared_dim=128,
                    n_classes=k, G_attn="128" if r == 256 else "64")
        dcfg = dict(arch="biggan", resolution=r, D_ch=args.ch, D_attn="64", n_classes=k)
    G, G_ema, D = biggan.Generator(gcfg), biggan.Generator(gcfg), biggan.Discriminator(dcfg)
    opts = dict(d_steps=1, d_accumulations=1, g_accumulations=1, g_ortho=0, d_ortho=0, ema_decay=0.9999, ema_start=1000)
    optG = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.999), eps=1e-6)
    optD = torch.optim.Adam(D.parameters(), lr=4e-4, betas=(0.0, 0.999), eps=1e-6)
    y, dz = torch.arange(b) % k, G.cfg["dim_z"]
    draws = dict(d_fakes=[(torch.randn(b, dz), y)], reals=[(torch.rand(b, 3, r, r) * 2 - 1, y)],
                 g_fakes=[(torch.randn(b, dz), y)])
    times = []
    for rep in range(args.reps + 1):  # the first run warms up
        start = time.perf_counter()
        biggan.train_step(G, D, G_ema, optG, optD, opts, draws, itr=rep + 1)
        sync()
        if rep > 0:
            times.append(time.perf_counter() - start)
    print(json.dumps({"arch": "biggan", "resolution": r, "ch": args.ch, "batch": b, "threads": args.threads,
                      "images_per_s": round(b / statistics.median(times), 3), "torch": torch.__version__,
                      "device": args.device}), flush=True)


if __name__ == "__main__":
    main()
